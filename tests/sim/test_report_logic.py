"""Logic the simulator notebooks used to hold in cells: arm names, joins, worlds, planner grids."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from abtest.sim import available_cpus, whatif
from abtest.sim.calibration import SimWorld, simulated_world
from abtest.sim.params import DEFAULT_SEGMENT_MIX, SEGMENTS, default_params
from abtest.sim.planner import (
    look_fractions,
    mde_by_duration,
    planned_row,
    planner_lifts,
    power_curve_sizes,
)
from abtest.sim.power import gap_arm_name, gap_arm_policies, gap_test_arms


def test_default_mix_is_one_read_only_fact() -> None:
    assert dict(DEFAULT_SEGMENT_MIX) == {"warm": 0.4, "cold": 0.4, "lapsed": 0.2}
    assert set(DEFAULT_SEGMENT_MIX) == set(SEGMENTS)
    with pytest.raises(TypeError):
        DEFAULT_SEGMENT_MIX["warm"] = 1.0  # type: ignore[index]
    assert whatif.segment_mix(pd.DataFrame({"arm": ["a"]})) == dict(DEFAULT_SEGMENT_MIX)


def test_gap_arm_naming_convention() -> None:
    assert gap_arm_name(3) == "gap3d"
    assert [a.name for a in gap_test_arms([1, 7])] == ["holdout", "gap1d", "gap7d"]
    with pytest.raises(ValueError):
        gap_arm_name(-1)
    pols = gap_arm_policies(["holdout", "gap1d", "gap7d", "RT_x"], [1, 3, 7], weekly_frequency=3.0)
    assert list(pols) == ["gap1d", "gap7d"]  # gap3d not in the test, holdout and RT_x not gap arms
    assert pols["gap7d"].gap_days == 7 and pols["gap7d"].weekly_frequency == 3.0
    assert gap_arm_policies(["control", "treated"], [1, 3]) == {}


def test_observed_vs_simulated_join() -> None:
    rates = pd.DataFrame({"arm": ["holdout", "gap1d", "gap3d", "holdout"],
                          "segment": ["all", "all", "all", "warm"], "horizon_days": 28,
                          "conversion_rate": [0.02, 0.03, 0.028, 0.05]})
    users = pd.DataFrame({"arm": ["control"] * 400 + ["gap1d"] * 300,
                          "converted": np.r_[np.arange(400) < 10, np.arange(300) < 12]})
    out = whatif.observed_vs_simulated(rates, users, control="control").set_index("arm")
    assert list(out.index) == ["holdout", "gap1d", "gap3d"]
    assert out.loc["holdout", "leads"] == 400 and out.loc["holdout", "observed_rate"] == 10 / 400
    lo, hi = proportion_confint(12, 300, alpha=0.05, method="wilson")
    assert out.loc["gap1d", "observed_low"] == pytest.approx(lo)
    assert out.loc["gap1d", "observed_high"] == pytest.approx(hi)
    assert pd.isna(out.loc["gap3d", "observed_rate"]) and pd.isna(out.loc["gap3d", "leads"])
    assert out.loc["gap1d", "conversion_rate"] == 0.03
    with pytest.raises(ValueError, match="segment 'vip'"):
        whatif.observed_vs_simulated(rates, users, control="control", segment="vip")


def _small_test(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small two-arm test drawn with numpy: holdout 3% and gap1d 5% conversion in 28 days."""
    rng = np.random.default_rng(seed)
    n = 3000
    arm = np.where(np.arange(n) < n // 2, "holdout", "gap1d")
    entry = pd.Timestamp("2026-09-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 14, n), "D")
    p = np.where(arm == "holdout", 0.03, 0.05)
    conv = rng.random(n) < p
    days = rng.exponential(4.0, n).clip(0, 27.5)
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "arm": arm,
                          "segment": rng.choice(["warm", "cold"], n), "entry_time": entry,
                          "converted": conv})
    events = pd.DataFrame({"user_id": users["user_id"][conv].to_numpy(), "event": "Purchase",
                           "timestamp": entry[conv] + pd.to_timedelta(days[conv], "D")})
    return users.astype({"arm": "string", "segment": "string"}), events


def test_simulated_world_default_and_errors() -> None:
    world = simulated_world("default")
    assert world.params is None and world.fit is None and world.kind == "default"
    assert world.sidecar() == {"sim_world": "default", "sim_calibration": [], "sim_ad_effect": []}
    with pytest.raises(ValueError, match="'calibrated' or 'default'"):
        simulated_world("fitted")
    with pytest.raises(ValueError, match="needs a test's leads"):
        simulated_world("calibrated")


def test_simulated_world_calibrated_with_and_without_gap_arms() -> None:
    users, events = _small_test()
    pols = gap_arm_policies(users["arm"].unique(), [1, 3], weekly_frequency=3.0)
    world = simulated_world("calibrated", users, events, control="holdout", horizon_days=28,
                            source="my-test", ad_policies=pols, gaps=[1, 3])
    assert isinstance(world, SimWorld) and world.kind == "calibrated"
    assert world.holdout_leads == 1500
    assert world.note == "Simulated world calibrated to the 1,500 holdout leads of my-test"
    assert world.ad_fit is not None and world.ad_note == ""
    k = float(world.ad_fit["k"].iloc[0])
    assert world.params.warm.lift_multiplicative == pytest.approx(
        k * default_params().warm.lift_multiplicative, rel=1e-9)
    side = world.sidecar()
    assert len(side["sim_ad_effect"]) == 2 and side["sim_calibration"]
    renamed = users.assign(arm=users["arm"].replace({"gap1d": "RT_a"}))
    none = simulated_world("calibrated", renamed, events, control="holdout", horizon_days=28,
                           ad_policies=gap_arm_policies(renamed["arm"].unique(), [1, 3]),
                           gaps=[1, 3])
    assert none.ad_fit is None and "(gap1d, gap3d)" in none.ad_note


def test_planner_grids() -> None:
    from abtest.stats.planning import power

    assert planner_lifts([0.3, 0.1, 0.2], 0.2) == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError):
        planner_lifts([0.0], 0.2)
    sizes = power_curve_sizes(10_000, daily_leads=600, n_arms=2, max_days=56)
    assert len(sizes) == 40 and sizes[-1] == max(13_000, 600 // 2 * 56) and sizes[0] == 420
    mde = mde_by_duration(0.02, daily_leads=600, n_arms=2, max_days=56)
    assert list(mde["days"]) == [7, 14, 21, 28, 35, 42, 49, 56]
    assert (np.diff(mde["minimum_detectable_lift"]) < 0).all()
    # at the MDE the test has the planned power
    for r in mde.itertuples():
        got = power(r.leads_per_arm, 0.02, r.minimum_detectable_lift, relative=True, n_arms=2)
        assert float(got) == pytest.approx(0.8, abs=2e-3)
    assert list(mde_by_duration(0.02, daily_leads=600, n_arms=2, max_days=5)["days"]) == [5]
    plan = pd.DataFrame({"relative_lift": [0.1, 0.2 + 1e-12], "n_per_arm": [9, 3]})
    assert planned_row(plan, 0.2)["n_per_arm"] == 3
    with pytest.raises(ValueError, match="no row"):
        planned_row(plan, 0.5)
    assert look_fractions(4) == [0.25, 0.5, 0.75, 1.0]


def test_available_cpus() -> None:
    n = available_cpus()
    assert n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))
