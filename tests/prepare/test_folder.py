"""Notebook glue: loaders with row accounting, margin value, curves, attribution, levels, plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abtest import prepare as stories
from abtest.io.errors import DataError
from abtest.stats import planning
from abtest.stats.planning import power, sample_size


def test_add_margin_value_formula():
    users = pd.DataFrame({"arm": ["none", "10off", "ship"], "revenue": [100.0, 90.0, 100.0],
                          "conversions": [1, 1, 2]})
    out = stories.add_margin_value(users, gross_margin=0.4, discount_share={"10off": 0.1},
                                   cost_per_order={"ship": 5.0})
    # 10off: list price 100, paid 90, margin 40 - 10 = 30 = 90 * (0.4 - 0.1) / 0.9
    assert out["margin_value"].tolist() == pytest.approx([40.0, 30.0, 40.0 - 10.0])
    with pytest.raises(ValueError):
        stories.add_margin_value(users, gross_margin=0.0)


def test_conversion_curves_match_brute_force():
    rng = np.random.default_rng(1)
    n = 200
    entry = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 5, n), "D")
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)],
                          "arm": np.where(np.arange(n) % 2, "a", "b"), "entry_time": entry})
    buyers = rng.choice(n, 60, replace=False)
    delay = rng.uniform(0, 12, 60)
    events = pd.DataFrame({"user_id": [f"u{i}" for i in buyers], "event": "Purchase",
                           "timestamp": entry[buyers] + pd.to_timedelta(delay, "D")})
    # a second, later purchase must not count twice; a pre-entry one must not count
    events = pd.concat([events, events.assign(timestamp=events["timestamp"] + pd.Timedelta("1D")),
                        pd.DataFrame({"user_id": ["u0"], "event": ["Purchase"],
                                      "timestamp": [entry[0] - pd.Timedelta("1D")]})])
    curves = stories.conversion_curves(users, events, horizon_days=10)
    first = pd.Series(np.nan, index=range(n))
    first[buyers] = delay
    for arm, g in curves.groupby("arm"):
        idx = np.flatnonzero(users["arm"] == arm)
        for _, r in g.iterrows():
            assert r["converted"] == int((first[idx] < r["day"]).sum())
        assert g["leads"].iloc[0] == idx.size
    assert (curves["rate_low"] <= curves["rate"]).all()


def test_attributed_vs_true():
    users = pd.DataFrame({"arm": ["h"] * 100 + ["t"] * 100,
                          "converted": [1] * 10 + [0] * 90 + [1] * 20 + [0] * 80,
                          "conversions": [1] * 10 + [0] * 90 + [1] * 20 + [0] * 80})
    ads = pd.DataFrame({"arm": ["t", "t"], "conversions": pd.array([7, 8], dtype="Int64")})
    out = stories.attributed_vs_true(users, ads, control="h").set_index("arm")
    assert out.loc["t", "incremental_conversions"] == pytest.approx(10.0)
    assert out.loc["t", "attributed_conversions"] == 15
    assert out.loc["h", "attributed_conversions"] == 0
    se = np.sqrt(0.2 * 0.8 / 100 + 0.1 * 0.9 / 100)
    assert out.loc["t", "incremental_low"] == pytest.approx((0.1 - 1.96 * se) * 100)
    with pytest.raises(ValueError, match="control"):
        stories.attributed_vs_true(users, ads, control="zz")


def test_frequency_and_creative_age_levels():
    ads = pd.DataFrame({
        "date": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-01"]),
        "ad_id": ["x", "x", "x", "y"],
        "impressions": pd.array([10, 30, 90, 5], dtype="Int64"),
        "reach": pd.array([10, 10, 10, 0], dtype="Int64"),
        "conversions": pd.array([1, 2, 20, 0], dtype="Int64"),
        "clicks": pd.array([1, 1, 1, 1], dtype="Int64"),
    })
    lv = stories.frequency_levels(ads, max_level=4).set_index("level")
    assert lv.index.tolist() == [1, 3, 4]  # 9 per person is pooled into 4; no-reach row dropped
    assert lv.loc[4, "conversions"] == 10  # capped at reach
    ages = stories.creative_age_levels(ads).set_index("creative_age_days")
    assert ages.loc[0, "impressions"] == 15 and ages.loc[2, "ctr"] == pytest.approx(1 / 90)


def test_plan_table_and_power_curves_use_the_planning_formulas():
    plan = planning.plan_table(0.05, [0.1, 0.2], daily_leads=1000)
    assert plan["n_per_arm"].tolist() == [sample_size(0.05, 0.1), sample_size(0.05, 0.2)]
    assert plan["days"].iloc[0] == int(np.ceil(plan["n_per_arm"].iloc[0] / 500))
    curves = planning.power_curves(0.05, [0.1], [1000, 4000])
    assert curves["power"].tolist() == pytest.approx([power(1000, 0.05, 0.1), power(4000, 0.05, 0.1)])


def test_story_metrics_knows_the_offer_metric():
    ms = stories.story_metrics(["offer_margin_value_per_lead", "conversion_rate"])
    assert ms[0].columns == ("margin_value",) and ms[1].name == "conversion_rate"


def test_resolve_data_dir(tmp_path, monkeypatch):
    (tmp_path / "exp").mkdir()
    monkeypatch.chdir(tmp_path)
    assert stories.resolve_data_dir("exp") == (tmp_path / "exp").resolve()
    with pytest.raises(DataError, match="not found"):
        stories.resolve_data_dir("nope", build_demo=False)


@pytest.mark.slow
def test_load_users_sets_aside_incomplete_windows():
    full = stories.load_users("data/demo/offer", horizon_days=21)
    cut = stories.load_users("data/demo/offer", horizon_days=21, data_end="2026-10-30")
    assert full.rows_set_aside == 0
    assert 0 < cut.rows_set_aside < len(full.frame)
    assert len(cut.frame) == len(full.frame) - cut.rows_set_aside
    assert set(full.frame["arm"]) == {"nooffer", "10off", "freeship"}
    ads = stories.load_ad_stats("../data/demo/offer")
    assert ads.rows_set_aside >= 1  # the export's totals row
    assert ads.frame["arm"].notna().all()
