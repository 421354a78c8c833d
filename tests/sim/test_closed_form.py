"""Closed-form case: no fatigue, exponential decay, one impression on day g (issue 4 acceptance)."""

import math

import numpy as np
import pytest

from abtest.sim import SimParams, draw_leads, expected_outcomes, run_block
from abtest.sim.policy import RetargetingPolicy

GAP, HORIZON = 3, 30


def _world(kappa: float) -> SimParams:
    sim = SimParams().without_fatigue().with_segments(
        h_floor=0.0, ctr=0.0, exposure_shape=math.inf, frailty_shape=kappa,
        h0=0.01, lift_multiplicative=2.0, lift_additive=0.004,
    )
    return sim


def _exact(seg, kappa: float, horizon: int = HORIZON) -> float:
    """P(convert by horizon) = 1 - E_z exp(-z H) with H summed in plain Python."""
    h = 0.0
    for s in range(horizon):
        a = seg.adstock_theta ** (s - GAP) if s >= GAP else 0.0
        sat = a / (a + seg.hill_k)
        h += seg.h0 * seg.rho**s * (1 + seg.lift_multiplicative * sat) + seg.lift_additive * sat
    return 1 - (math.exp(-h) if math.isinf(kappa) else (1 + h / kappa) ** (-kappa))


ONE_AD = RetargetingPolicy(name="one", gap_days=GAP, active_window_days=1, impressions_per_day=1,
                           weekly_frequency=None, delivery="fixed")


@pytest.mark.parametrize("kappa", [math.inf, 1.0, 0.5])
def test_expected_engine_equals_closed_form(kappa):
    sim = _world(kappa)
    ev = expected_outcomes([ONE_AD], "warm", sim=sim, horizon_days=HORIZON)
    assert ev["conversion_rate"].iloc[0] == pytest.approx(_exact(sim.warm, kappa), rel=1e-6)
    # the single impression reaches only leads not converted by day GAP - 1 (1-day exclusion lag)
    unconverted = 1 - _exact(sim.warm, kappa, horizon=GAP)
    assert ev["impressions_per_lead"].iloc[0] == pytest.approx(unconverted, rel=1e-9)


@pytest.mark.parametrize("kappa", [math.inf, 1.0])
def test_monte_carlo_matches_closed_form(kappa):
    sim = _world(kappa)
    n = 200_000
    leads = draw_leads(sim.warm, sim, n, seed=21)
    r = run_block(sim.warm, ONE_AD, leads, horizon_days=HORIZON, sim=sim, seed=21)
    assert set(np.unique(r.impressions)) == {0, 1}
    early = (r.conv_day >= 0) & (r.conv_day < GAP)
    np.testing.assert_array_equal(r.impressions == 0, early)
    p = _exact(sim.warm, kappa)
    mc = (r.conv_day >= 0).mean()
    assert abs(mc - p) < 3 * math.sqrt(p * (1 - p) / n)
    # the ad effect itself is visible: exact formula without the ad is far lower
    assert p > 0.04 and np.isfinite(mc)
