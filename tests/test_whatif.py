"""Simulator glue for the timing reports."""

from __future__ import annotations

import numpy as np
import pytest

from abtest import whatif


@pytest.fixture(scope="module")
def grid():
    return whatif.policy_whatif(gaps=(0, 7), caps=(None, 2), windows=(14,), segments=("warm",),
                                horizon_days=21)


def test_policy_whatif_grid(grid):
    assert len(grid) == 4
    assert set(grid["cap"]) == {"no cap", "2 per 7 d"}
    assert grid["frequency_cap"].isna().sum() == 2
    capped = grid.set_index(["gap_days", "cap"])
    # a tight cap buys fewer impressions
    assert capped.loc[(0, "2 per 7 d"), "impressions_per_lead"] < \
        capped.loc[(0, "no cap"), "impressions_per_lead"]


def test_best_policies_minimises_cost(grid):
    best = whatif.best_policies(grid)
    ok = grid[grid["incremental_conversion_rate"] > 0]
    assert best["cost_per_incremental_conversion"].iloc[0] == \
        ok["cost_per_incremental_conversion"].min()
    most = whatif.best_policies(grid, objective="incremental_conversion_rate")
    assert most["incremental_conversion_rate"].iloc[0] == ok["incremental_conversion_rate"].max()


def test_policy_uncertainty_shares_sum_to_one(grid):
    unc = whatif.policy_uncertainty(grid, per_segment=2, leads=300, replicates=3, seed=2,
                                    horizon_days=21)
    assert len(unc) == 2
    assert unc["share_best"].sum() == pytest.approx(1.0)
    assert (unc["incremental_rate_low"] <= unc["incremental_rate"]).all()
    with pytest.raises(ValueError):
        whatif.policy_uncertainty(grid, replicates=1)


def test_frequency_cap_advice():
    scan, advice = whatif.frequency_cap_advice(caps=(None, 2), segments=("cold",),
                                               horizon_days=21)
    assert len(scan) == 2 and len(advice) == 1
    assert advice["saving_vs_no_cap"].iloc[0] >= 0
    assert np.isfinite(advice["cost_per_incremental_conversion"].iloc[0])


@pytest.mark.slow
def test_gap_design_view():
    rates, pw = whatif.gap_design_view(gaps=(1, 7), leads_per_arm=[500], horizon_days=14,
                                       n_sims=20)
    assert set(rates["segment"]) >= {"all", "warm"}
    assert set(pw["comparison"]) == {"gap1d vs holdout", "gap7d vs holdout"}
    allrow = rates[rates["segment"] == "all"].set_index("arm")["conversion_rate"]
    assert allrow["gap1d"] > allrow["holdout"]
