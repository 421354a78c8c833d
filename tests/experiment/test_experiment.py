"""Experiment end to end: numbers equal the direct stats calls; display, JSON and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import abtest
from abtest import Experiment
from abtest.stats import (
    bayes_proportion,
    heterogeneity_test,
    proportion_test,
    ratio_test,
    sequential_proportion_test,
)
from abtest.stats.daily import paired_ratio_arrays


def _users(n: int = 6000, seed: int = 0, lift: float = 0.12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    seg = rng.choice(["warm", "cold"], n)
    p = np.where(arm == "B", 0.10 * (1 + lift), 0.10)
    imps = rng.poisson(5, n) + 1
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)], "arm": arm, "segment": seg,
        "converted": (rng.random(n) < p).astype(int), "impressions": imps,
        "clicks": rng.binomial(imps, 0.03),
    })


def _ad_stats(days: int = 14, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(days):
        for arm, ctr in (("<script>alert(1)</script>", 0.010), ("offer_b", 0.013)):
            for ad in range(2):
                imps = int(rng.integers(8000, 12000))
                clicks = int(rng.binomial(imps, ctr * np.exp(rng.normal(0, 0.05))))
                rows.append({"date": pd.Timestamp("2025-03-01") + pd.Timedelta(days=d),
                             "ad_id": f"{arm}-{ad}", "arm": arm, "impressions": imps,
                             "clicks": clicks, "conversions": int(rng.binomial(clicks, 0.1)),
                             "cost": float(imps) * 0.005})
    return pd.DataFrame(rows)


def _pooled(res, metric):
    t = res.table
    return t[(t.metric == metric) & (t.segment == "all")]


def test_user_level_matches_direct_stats_calls():
    df = _users()
    res = Experiment(df, arm="arm", control="A", metrics=["conversion_rate", "ctr"],
                     segment="segment", days=10).analyze()
    g = df.groupby("arm")
    direct = proportion_test(g.converted.sum().loc[["A", "B"]], g.size().loc[["A", "B"]]).iloc[0]
    row = _pooled(res, "conversion_rate").query("arm == 'B'").iloc[0]
    for col in ("p_value", "abs_diff", "abs_ci_low", "abs_ci_high", "rel_lift", "rel_ci_low",
                "rel_ci_high"):
        assert row[col] == pytest.approx(direct[col], rel=1e-12, abs=1e-15)
    # ratio metric at user level: delta method on per-user sums
    s = df.assign(cc=df.clicks**2, ii=df.impressions**2, ci=df.clicks * df.impressions)
    s = s.groupby("arm").agg(n=("clicks", "size"), c=("clicks", "sum"), cc=("cc", "sum"),
                             i=("impressions", "sum"), ii=("ii", "sum"), ci=("ci", "sum"))
    d2 = ratio_test(s.n, s.c, s.cc, s.i, s.ii, s.ci).iloc[0]
    r2 = _pooled(res, "ctr").query("arm == 'B'").iloc[0]
    assert r2.p_value == pytest.approx(d2.p_value, rel=1e-10)
    assert r2.rel_ci_low_unadjusted == pytest.approx(d2.rel_ci_low, rel=1e-10)
    # primary and secondary metrics are separate families (one test each: nothing to adjust)
    first = _pooled(res, "conversion_rate").query("arm == 'B'").iloc[0]
    assert (first.family, first.correction, first.family_size) == ("primary", "holm", 1)
    second = _pooled(res, "ctr").query("arm == 'B'").iloc[0]
    assert (second.family, second.family_size) == ("secondary", 1)
    assert first.p_adjusted == pytest.approx(direct.p_value, rel=1e-12)
    # per-segment rows and heterogeneity equal the direct calls
    seg = res.table.query("segment != 'all' and metric == 'conversion_rate' and not is_control")
    h = heterogeneity_test(seg.abs_diff.to_numpy(float), seg.std_error.to_numpy(float)).iloc[0]
    st = res.segment_tests.query("metric == 'conversion_rate'").iloc[0]
    assert st.q == pytest.approx(h.q, rel=1e-12)
    # no missing values outside control rows' effect columns
    treated = res.table[~res.table.is_control]
    assert not treated.isna().any().any()
    assert res.srm["checked"] and not res.srm["flag"]


def test_recommendations():
    strong = Experiment(_users(20_000, seed=2, lift=0.25), control="A", days=14).analyze()
    assert strong.recommendation == "ship B"
    # the extra days are sized on the planned effect (mde), never on the difference seen so far
    weak = Experiment(_users(6000, seed=0), control="A", days=10, mde=0.2).analyze()
    assert weak.recommendation.startswith("keep testing about ")
    assert weak.recommendation.endswith("more days")
    row = weak.table.query("arm == 'B' and segment == 'all'").iloc[0]
    assert weak.decision.days_more == int(row.more_days) > 0
    flat = Experiment(_users(6000, seed=0, lift=0.0), control="A", days=10, mde=0.2).analyze()
    flat_row = flat.table.query("arm == 'B' and segment == 'all'").iloc[0]
    assert abs(flat_row.more_days - row.more_days) <= 1  # same plan whatever the observed lift
    # a 10 % planned effect is out of reach within 3x the days run: no "keep testing" promise
    assert Experiment(_users(6000, seed=0), control="A", days=10).analyze().recommendation \
        .startswith("no detectable difference")
    null = Experiment(_users(6000, seed=4, lift=0.0), control="A", days=10).analyze()
    assert null.recommendation.startswith("no detectable difference; the test could detect")
    assert "Recommendation:" in null.summary()


def test_bayesian_and_sequential_methods_match_direct_calls():
    df = _users()
    g = df.groupby("arm")
    x, n = g.converted.sum().loc[["A", "B"]], g.size().loc[["A", "B"]]
    b = Experiment(df, control="A", method="bayesian", days=10).analyze()
    row = _pooled(b, "conversion_rate").query("arm == 'B'").iloc[0]
    direct = bayes_proportion(x, n).iloc[0]
    assert row.prob_beat_control == pytest.approx(direct.prob_beat_control, rel=1e-12)
    assert "p_value" not in b.table.columns
    s = Experiment(df, control="A", method="sequential", days=10).analyze()
    row = _pooled(s, "conversion_rate").query("arm == 'B'").iloc[0]
    direct = sequential_proportion_test(x, n).iloc[0]
    assert row.p_value == pytest.approx(direct.p_value, rel=1e-12)
    assert row.rel_ci_low == pytest.approx(direct.rel_ci_low, rel=1e-12)
    assert row.rel_ci_low_unadjusted == pytest.approx(direct.rel_ci_low, rel=1e-12)


def test_ad_stats_day_clusters_html_and_json():
    ads = _ad_stats()
    res = Experiment(ads, arm="arm", control="<script>alert(1)</script>",
                     metrics=["ctr", "cost_per_conversion"]).analyze()
    assert res.options["unit"] == "day" and res.options["days"] == 14
    daily = ads.groupby(["arm", "date"])[["clicks", "impressions"]].sum()
    arms = ["<script>alert(1)</script>", "offer_b"]
    clicks = np.stack([daily.loc[a].clicks.to_numpy(float) for a in arms])
    imps = np.stack([daily.loc[a].impressions.to_numpy(float) for a in arms])
    direct = paired_ratio_arrays(clicks, imps).result  # arms paired by day
    row = _pooled(res, "ctr").query("arm == 'offer_b'").iloc[0]
    assert row.test == "paired-by-day delta-t"
    assert row.p_value == pytest.approx(float(direct.p_value[0]), rel=1e-10)
    assert row.abs_ci_high_unadjusted == pytest.approx(float(direct.abs_ci_high[0]), rel=1e-10)
    assert not res.srm["checked"] and any("sample-ratio" in n for n in res.notes)
    html = res._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    json.dumps(res.to_dict())  # JSON-safe
    assert res.to_dict()["options"]["control"] == "<script>alert(1)</script>"


def test_srm_flag_overrides_recommendation():
    df = _users(20_000, seed=2, lift=0.25)
    df = pd.concat([df, df[df.arm == "B"].head(1500).assign(
        user_id=lambda d: d.user_id + "x")], ignore_index=True)
    res = Experiment(df, control="A", days=14).analyze()
    assert res.srm["flag"]
    assert res.recommendation.startswith("fix the traffic split")
    ok = Experiment(df, control="A", days=14,
                    planned_shares={"A": 10_000, "B": 11_500}).analyze()
    assert not ok.srm["flag"]


def test_simpson_warning_end_to_end():
    # B wins within each segment but got mostly the low-converting segment
    rows = []
    for arm, seg, n, rate in (("A", "warm", 3000, 0.30), ("A", "cold", 300, 0.05),
                              ("B", "warm", 300, 0.36), ("B", "cold", 3000, 0.07)):
        k = int(round(n * rate))
        rows.append(pd.DataFrame({"arm": arm, "segment": seg,
                                  "converted": [1] * k + [0] * (n - k)}))
    df = pd.concat(rows, ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    res = Experiment(df, control="A", segment="segment", days=7,
                     planned_shares=[1, 1]).analyze()
    assert bool(res.segment_tests.simpson.iloc[0])
    assert "Simpson" in res.summary()


def test_results_are_immutable_and_top_level_import():
    res = Experiment(_users(2000), control="A", days=5).analyze()
    with pytest.raises(AttributeError):
        res.recommendation = "ship A"  # type: ignore[misc]
    t = res.table
    t.loc[0, "n"] = -1
    assert res.table.loc[0, "n"] != -1
    assert abtest.ExperimentResults is type(res)


def test_bad_inputs_raise_clearly():
    df = _users(2000)
    with pytest.raises(ValueError, match="only one arm"):
        Experiment(df[df.arm == "A"], control="A").analyze()
    with pytest.raises(ValueError, match="control arm 'Z'"):
        Experiment(df, control="Z").analyze()
    with pytest.raises(ValueError, match="method"):
        Experiment(df, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown metric"):
        Experiment(df, metrics=["nope"])
    zero = df.assign(converted=0)
    res = Experiment(zero, control="A", days=5).analyze()  # all zeros: documented finite result
    row = res.table.query("not is_control").iloc[0]
    assert row.p_value == 1.0 and np.isfinite(row.abs_diff)


def test_summary_says_when_several_arms_beat_control() -> None:
    import numpy as np
    import pandas as pd

    import abtest

    rng = np.random.default_rng(3)
    n = 4000
    rates = {"holdout": 0.04, "a": 0.07, "b": 0.075}
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(3 * n)],
            "arm": np.repeat(list(rates), n),
            "converted": np.concatenate([rng.random(n) < p for p in rates.values()]).astype(int),
        }
    )
    res = abtest.Experiment(users, control="holdout", metrics=["conversion_rate"]).analyze()
    # issue 10: two arms beat the control and neither beats the other -> no arm is crowned
    assert res.decision.action == "ship" and res.decision.arm is None
    assert set(res.decision.winners) == {"a", "b"}
    assert "all beat holdout" in res.recommendation
    assert "choose among them on cost" in res.summary()
