"""Policy-grid outputs, best policy, policies and parameters."""

import numpy as np
import pytest

from abtest.sim import (
    METRICS,
    ArmSpec,
    RetargetingPolicy,
    SimParams,
    best_policy,
    describe_params,
    holdout,
    policy_grid,
    run_policies,
    summarise,
)


@pytest.fixture(scope="module")
def summary():
    grid = policy_grid(gap_days=(0, 7), active_window_days=(21,), weekly_frequency=(1.0, 6.0))
    runs = run_policies(grid, leads={"warm": 8000, "cold": 8000, "lapsed": 8000},
                        horizon_days=35, seed=3, replicates=3)
    return runs, summarise(runs)


def test_run_policies_table(summary):
    runs, s = summary
    assert len(runs) == 3 * 3 * 5 and set(METRICS) <= set(runs.columns)
    assert not runs[list(METRICS)].isna().any().any()
    hold = runs[runs["policy"] == "holdout"]
    assert (hold["incremental_conversions"] == 0).all() and (hold["impressions"] == 0).all()
    assert np.isinf(hold["cost_per_incremental_conversion"]).all()
    ads = runs[runs["policy"] != "holdout"]
    assert (ads["frequency"] >= 1).all() and (ads["reach"] <= ads["leads"]).all()
    assert (ads["attributed_conversions"] <= ads["conversions"]).all()
    assert ((s["conversions_lo"] <= s["conversions"]) & (s["conversions"] <= s["conversions_hi"])).all()


def test_best_policy_respects_annoyance_ceiling(summary):
    _, s = summary
    best = best_policy(s)
    assert set(best["segment"]) <= {"warm", "cold", "lapsed"} and "holdout" not in set(best["policy"])
    for _, row in best.iterrows():
        seg = s[(s["segment"] == row["segment"]) & (s["incremental_conversions"] > 0)]
        assert row["cost_per_incremental_conversion"] == seg["cost_per_incremental_conversion"].min()
    ceiling = s.loc[s["policy"] != "holdout", "annoyance_rate"].min() * 1.01
    capped = best_policy(s, annoyance_ceiling=ceiling)
    assert (capped["annoyance_rate"] <= ceiling).all()
    more = best_policy(s, "incremental_conversions")
    assert (more["incremental_conversions"].to_numpy() >= 0).all()


def test_summarise_needs_replicates():
    runs = run_policies([holdout()], leads=100, horizon_days=5, seed=1, segments=("warm",))
    with pytest.raises(ValueError, match="replicates"):
        summarise(runs)


def test_policy_and_params_validation():
    assert RetargetingPolicy().daily_rate(8.0) == pytest.approx(2 / 7)
    pol = RetargetingPolicy(daily_budget=80.0, audience_size=20_000)
    assert pol.daily_rate(8.0) == pytest.approx(1000 * 80 / (8 * 20_000))
    with pytest.raises(ValueError, match="at most one"):
        RetargetingPolicy(weekly_frequency=2, impressions_per_day=1)
    with pytest.raises(ValueError, match="audience_size"):
        RetargetingPolicy(daily_budget=10.0)
    with pytest.raises(ValueError, match="whole"):
        RetargetingPolicy(impressions_per_day=0.5, delivery="fixed")
    with pytest.raises(ValueError, match="margin"):
        ArmSpec("x", holdout(), margin_cost_share=1.5)
    with pytest.raises(ValueError, match="adstock_theta"):
        SimParams().with_segments(adstock_theta=1.0)
    assert holdout().daily_rate(8.0) == 0.0
    c = RetargetingPolicy(n_creatives=3, creative_refresh_days=5)
    assert [c.creative_on(d, 1)[0] for d in (1, 6, 11, 16)] == [0, 1, 2, 0]
    rows = describe_params()
    assert len(rows) > 60 and all(r["meaning"] and r["source"] for r in rows)
    assert len(policy_grid()) == 1 + 4 * 2 * 3
