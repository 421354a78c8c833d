"""On the simulated demo gap world the estimates recover the simulator's truth.

The truth file gives the true expected conversion-rate difference of each arm × segment vs the
holdout (``true_diff``); the true incremental conversions of the analysed leads are
``true_diff × leads``, summed over segments for the pooled rows. Immature leads are nowcast, so
every assigned lead counts, as in the platform's attributed conversions.
"""

from __future__ import annotations

import pandas as pd
import pytest

import abtest
from abtest.experiment.immature import lead_windows


@pytest.fixture(scope="module")
def demo(demo_data):
    from abtest.io import read_events, read_table
    from abtest.prepare import load_ad_stats
    from abtest.schema import ASSIGNMENTS

    folder = demo_data / "gap"
    leads = lead_windows(read_events(folder / "events.ndjson"),
                         read_table(folder / "assignments.csv", ASSIGNMENTS), horizon_days=35)
    ads = load_ad_stats(folder).frame
    res = abtest.incrementality(leads, revenue="revenue", ads=ads, segment="segment",
                                horizon_days=35, immature="nowcast")
    truth = pd.read_csv(folder / "truth.csv")
    seg = leads.groupby(["arm", "segment"]).size().rename("n").reset_index()
    seg = seg.merge(truth[["arm", "segment", "true_diff"]], on=["arm", "segment"])
    seg["true_incremental"] = seg["true_diff"] * seg["n"]
    pooled = seg.groupby("arm", as_index=False)["true_incremental"].sum().assign(segment="all")
    table = res.table.merge(pd.concat([pooled, seg[["arm", "segment", "true_incremental"]]]),
                            on=["arm", "segment"], how="left")
    return res, table, (~leads["mature"]).mean()


def test_some_leads_are_immature(demo):
    assert 0.1 < demo[2] < 0.4


def test_intervals_contain_the_true_incremental_conversions(demo):
    _, t, _ = demo
    assert t["true_incremental"].notna().all()
    inside = (t["incremental_ci_low"] <= t["true_incremental"]) & \
        (t["true_incremental"] <= t["incremental_ci_high"])
    print(t[["arm", "segment", "incremental_conversions", "incremental_ci_low",
             "incremental_ci_high", "true_incremental"]].round(1).to_string())
    assert inside[t["segment"] == "all"].all()
    assert inside.mean() >= 0.9  # family level 95%: at most one of the 9 segment rows may miss


def test_factor_matches_truth_over_attributed(demo):
    _, t, _ = demo
    pooled = t[t["segment"] == "all"]
    true_factor = pooled["true_incremental"] / pooled["attributed_conversions"]
    assert ((pooled["factor_ci_low"] <= true_factor) & (true_factor <= pooled["factor_ci_high"])).all()
    assert (pooled["attributed_conversions"] > 0).all()
    assert pooled["incrementality_factor"].to_numpy() == pytest.approx(
        (pooled["incremental_conversions"] / pooled["attributed_conversions"]).to_numpy())


def test_headline_agrees_with_the_table(demo):
    res, t, _ = demo
    fields = res.headline_fields()
    best = res.best_row()
    assert fields["comparison"] == f"{best['arm']} vs holdout"
    assert fields["effect"] == pytest.approx(best["incremental_conversions"])
    assert (fields["ci_low"], fields["ci_high"]) == pytest.approx(
        (best["incremental_ci_low"], best["incremental_ci_high"]))
    pooled = t[t["segment"] == "all"]
    caused = pooled["incremental_conversions"].sum()
    credited = pooled["attributed_conversions"].sum()
    assert fields["decision"].startswith(
        f"Retargeting caused about {caused:,.0f} of the {credited:,.0f} conversions TikTok credits")
    assert f"{best['cost_per_incremental']:,.2f}" in fields["decision"]
    # segments with no arm whose increment excludes 0 are told to stop or test longer
    dec = res.decision()
    for seg in ("warm", "cold", "lapsed"):
        rows = dec[dec["segment"] == seg]
        if (rows["verdict"] != "caused").all():
            assert seg in fields["decision"].split("stop or test longer for")[1]


@pytest.mark.notebooks
@pytest.mark.slow
def test_report_headline_matches_its_table(demo_batch):
    import json

    rec = next(r for r in demo_batch.reports if r["report"] == "incrementality")
    side = json.loads((demo_batch.out_dir / rec["sidecar"]).read_text(encoding="utf-8"))
    table = pd.DataFrame(side["extra"]["incrementality"]["table"])
    arm = side["headline"]["comparison"].split(" vs ")[0]
    best = table[(table["segment"] == "all") & (table["arm"] == arm)].iloc[0]
    assert side["headline"]["effect"] == pytest.approx(best["incremental_conversions"])
    assert side["headline"]["ci_low"] == pytest.approx(best["incremental_ci_low"])
    assert side["decision"].startswith(side["extra"]["incrementality"]["headline"])


def test_folder_of_events_and_assignments_gives_the_same_table(demo, demo_data):
    res, _, _ = demo
    from abtest.prepare import load_ad_stats

    folder = demo_data / "gap"
    again = abtest.incrementality(folder, revenue="revenue", ads=load_ad_stats(folder).frame,
                                  segment="segment", horizon_days=35, immature="nowcast")
    pd.testing.assert_frame_equal(again.table, res.table)
    with pytest.raises(ValueError, match="horizon_days"):
        abtest.incrementality(folder)
