"""Exactness of the Monte Carlo engine's samplers against closed forms (given each lead's draws)."""

import math

import numpy as np

from abtest.sim import SimParams, draw_leads, run_block
from abtest.sim.engine import CHUNK
from abtest.sim.policy import RetargetingPolicy, holdout

DAYS = 20


def _quiet_world(hide_rate: float = 0.0) -> SimParams:
    """No conversions (so nobody is excluded), no weary class: exposures and hiding only."""
    return SimParams().with_segments(h0=0.0, h_floor=0.0, weary_share=0.0, hide_rate=hide_rate)


def test_poisson_exposures_match_activity_given_rates():
    sim = _quiet_world()
    seg = sim.warm
    n = CHUNK + 20_000  # two chunks
    leads = draw_leads(seg, sim, n, seed=3)
    pol = RetargetingPolicy(gap_days=1, active_window_days=DAYS, weekly_frequency=10.0)
    r = run_block(seg, pol, leads, horizon_days=DAYS + 1, sim=sim, seed=3)
    lam = DAYS * leads.activity.astype(float) * 10.0 / 7.0  # Poisson total given activity
    z = (r.impressions.sum() - lam.sum()) / math.sqrt(lam.sum())
    assert abs(z) < 4
    p_reach = 1 - np.exp(-lam)
    z = ((r.impressions > 0).sum() - p_reach.sum()) / math.sqrt((p_reach * (1 - p_reach)).sum())
    assert abs(z) < 4
    # high-activity leads exercise the Poisson tail (>= 6 impressions a day)
    one_day = RetargetingPolicy(gap_days=1, active_window_days=1, impressions_per_day=8.0,
                                weekly_frequency=None)
    r1 = run_block(seg, one_day, leads, horizon_days=2, sim=sim, seed=3)
    m = 8.0 * leads.activity.astype(float)
    z = (r1.impressions.sum() - m.sum()) / math.sqrt(m.sum())
    assert abs(z) < 4 and r1.impressions.max() > 20
    var = ((r1.impressions - m) ** 2).sum()
    assert abs(var / m.sum() - 1) < 0.05  # Poisson: variance equals mean given the rate


def test_hiding_matches_geometric_law_and_stops_delivery():
    sim = _quiet_world(hide_rate=0.02)
    seg = sim.warm
    n = 100_000
    leads = draw_leads(seg, sim, n, seed=4)
    pol = RetargetingPolicy(gap_days=1, active_window_days=DAYS, impressions_per_day=1,
                            weekly_frequency=None, delivery="fixed")
    r = run_block(seg, pol, leads, horizon_days=DAYS + 1, sim=sim, seed=4)
    p = 1 - 0.98**DAYS
    assert abs(r.hidden.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    # a lead that hides on its k-th impression sees no more: impressions = k
    k = r.impressions[r.hidden]
    assert k.min() >= 1 and k.max() <= DAYS
    assert (r.impressions[~r.hidden] == DAYS).all()
    pk = 0.98 ** (np.arange(1, DAYS + 1) - 1) * 0.02  # P(hide on impression k)
    assert abs(k.mean() - (np.arange(1, DAYS + 1) * pk).sum() / pk.sum()) < 0.1


def test_clicks_binomial_given_impressions_and_holdout_is_ad_free():
    sim = SimParams().without_fatigue().with_segments(ctr=0.05, h0=0.0, h_floor=0.0)
    seg = sim.warm
    leads = draw_leads(seg, sim, 60_000, seed=5)
    pol = RetargetingPolicy(gap_days=0, active_window_days=DAYS, impressions_per_day=3.0,
                            weekly_frequency=None)
    r = run_block(seg, pol, leads, horizon_days=DAYS, sim=sim, seed=5, record_exposures=True)
    imps = r.impressions.sum()
    z = (r.clicks.sum() - 0.05 * imps) / math.sqrt(imps * 0.05 * 0.95)
    assert abs(z) < 4
    lead, day, x, c, _ = r.exposures
    assert (c <= x).all() and (np.diff(day) >= 0).all()
    np.testing.assert_array_equal(np.bincount(lead, weights=x, minlength=leads.n), r.impressions)
    h = run_block(seg, holdout(), leads, horizon_days=DAYS, sim=sim, seed=5)
    assert h.impressions.sum() == 0 and h.cost == 0 and not h.hidden.any()
