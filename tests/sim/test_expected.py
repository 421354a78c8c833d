"""Expected-value engine vs Monte Carlo means across a grid of >= 20 policies (issue 4)."""

import math

import numpy as np
import pytest

from abtest.sim import SimParams, draw_leads, expected_curves, expected_outcomes, run_block
from abtest.sim.policy import policy_grid


@pytest.mark.slow
@pytest.mark.parametrize("segment", ["warm", "lapsed"])
def test_expected_engine_within_3_se_of_monte_carlo_on_24_policies(segment):
    sim = SimParams()
    grid = policy_grid(gap_days=(0, 2, 5, 9), active_window_days=(14, 35),
                       weekly_frequency=(1.0, 3.0, 7.0))
    assert len(grid) >= 25
    n, horizon = 60_000, 42
    ev = expected_outcomes(grid, segment, sim=sim, horizon_days=horizon)
    leads = draw_leads(sim.segment(segment), sim, n, seed=31)
    z = []
    for i, pol in enumerate(grid):
        r = run_block(sim.segment(segment), pol, leads, horizon_days=horizon, sim=sim, seed=31)
        mc = (r.conv_day >= 0).mean()
        p = ev["conversion_rate"].iloc[i]
        z.append((mc - p) / math.sqrt(p * (1 - p) / n))
        imps = r.impressions.astype(float)
        se_i = imps.std() / math.sqrt(n) + 1e-12
        assert abs(imps.mean() - ev["impressions_per_lead"].iloc[i]) < 3 * se_i + 0.01 * imps.mean()
    assert np.max(np.abs(z)) < 3, z


def test_zero_frequency_and_holdout_agree_and_curves_are_monotone():
    sim = SimParams()
    grid = policy_grid(gap_days=(1,), active_window_days=(20,), weekly_frequency=(0.0, 2.0))
    ev = expected_outcomes(grid, "cold", sim=sim, horizon_days=30)
    assert ev["conversion_rate"].iloc[0] == pytest.approx(ev["conversion_rate"].iloc[1])
    assert ev["incremental_conversion_rate"].iloc[2] > 0
    assert np.isfinite(ev.select_dtypes("number").drop(
        columns="cost_per_incremental_conversion")).all().all()
    curves = expected_curves(grid, "cold", sim=sim, horizon_days=30)
    assert curves.shape == (3, 30) and (np.diff(curves, axis=1) >= 0).all()
    assert curves[:, -1] == pytest.approx(ev["conversion_rate"].to_numpy())


def test_holdout_expected_rate_is_exact_gamma_frailty_formula():
    sim = SimParams()
    seg = sim.lapsed
    ev = expected_outcomes(policy_grid(gap_days=(1,), active_window_days=(1,),
                                       weekly_frequency=(1.0,)), seg, sim=sim, horizon_days=56)
    h = sum(seg.h0 * seg.rho**t + seg.h_floor for t in range(56))
    k = seg.frailty_shape
    assert ev["conversion_rate"].iloc[0] == pytest.approx(1 - (1 + h / k) ** (-k), rel=1e-12)
