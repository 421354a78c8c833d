"""Expected-value engine: the Monte Carlo model without sampling noise, O(days) per policy.

Vectorised over a policy grid (arrays ``policy x activity node x weary class``). What is exact and
what is approximated:

* Gamma frailty is integrated exactly: survival ``E[exp(-zH)] = (1 + H/kappa)**(-kappa)``.
* Gamma exposure activity (NBD) is integrated by generalized Gauss-Laguerre quadrature.
* Poisson day-to-day exposure noise is integrated exactly inside the Hill curve for ``n = 1``:
  ``E[A/(A+K)] = 1 - K * int_0^inf exp(-K t) E[exp(-t A)] dt`` and, for Poisson exposures,
  ``log E[exp(-t A_d)] = G_d(t) = m_d (exp(-t q_d) - 1) + G_{d-1}(theta t)``: on a geometric grid
  ``t_j = t_0 / theta**j`` the recursion is a shift, so each day costs O(grid). The integral is a
  trapezoid rule in ``log t`` (spectrally accurate for this analytic integrand).
* Approximations (mean field, documented and tested where they are exact): the hazard enters the
  survival through its expectation given activity (the per-lead variance of ad-driven hazard is
  second order: ~1e-4 of the conversion rate at the defaults); fatigue ``q = exp(-delta E[F])``;
  weariness ``exp(-eta max(0, E[F] - F*))``; clicks restart intent with probability
  ``1 - exp(-m p)`` independently of adstock; hiding and look-back eligibility thin the delivery
  rate; a frequency cap replaces the rate by ``E[min(Poisson(c r), cap)] / c`` (stationary).
  With ``fatigue_delta = weary_eta = hide_rate = 0``, no cap, no clicks, the only approximation left
  is the first one; with fixed delivery and no frailty-hazard interaction it is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from abtest.sim.params import SegmentParams, SimParams
from abtest.sim.policy import ArmSpec, RetargetingPolicy

__all__ = ["expected_curves", "expected_outcomes"]

_T_MIN, _T_MAX = 1e-3, 30.0  # Laplace grid range in units of K * t


def _activity_nodes(shape: float, q: int) -> tuple[np.ndarray, np.ndarray]:
    if math.isinf(shape) or q <= 1:
        return np.ones(1), np.ones(1)
    x, w = special.roots_genlaguerre(q, shape - 1.0)
    return x / shape, w / math.gamma(shape)


def _laplace_grid(theta: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Geometric t-grid with ratio theta and weights so that sum(w) = int K e^{-Kt} dt = 1."""
    step = -math.log(theta)
    j = int(math.ceil(math.log(_T_MAX / _T_MIN) / step)) + 1
    t = (_T_MIN / k) * np.exp(step * np.arange(j))
    w = step * k * t * np.exp(-k * t)
    return t, w / w.sum()


def _capped_rate(rate: np.ndarray, cap: int, days: int) -> np.ndarray:
    """Stationary mean delivery under a cap of ``cap`` per ``days``: E[min(Poisson(days r), cap)]/days."""
    if cap <= 0:
        return np.zeros_like(rate)
    lam = rate * days
    k = np.arange(cap)
    return stats.poisson.sf(k[None, :], lam.reshape(-1, 1)).sum(axis=1).reshape(rate.shape) / days


def _evaluate(policies: Sequence[RetargetingPolicy], seg: SegmentParams, sim: SimParams,
              horizon: int, arm: ArmSpec, act_nodes: int, keep_curves: bool) -> dict[str, np.ndarray]:
    p = len(policies)
    cpm = seg.cpm * arm.cpm_multiplier
    fixed = policies[0].delivery == "fixed"
    act, wq = _activity_nodes(np.inf if fixed else seg.exposure_shape, act_nodes)
    weary = seg.weary_share > 0 and (seg.weary_eta > 0 or seg.weary_hide_multiplier != 1)
    wc = np.array([1 - seg.weary_share, seg.weary_share]) if weary else np.ones(1)
    is_weary = np.array([False, True]) if weary else np.array([False])
    shape = (p, act.size, wc.size)

    rate = np.array([pol.daily_rate(cpm) for pol in policies])
    r_eff = rate[:, None] * act[None, :]
    for i, pol in enumerate(policies):
        if pol.retarget and pol.frequency_cap is not None and not fixed:
            r_eff[i] = _capped_rate(r_eff[i], pol.frequency_cap, pol.cap_days)
        elif pol.retarget and pol.frequency_cap is not None:
            r_eff[i] = min(rate[i], pol.frequency_cap)
    starts = np.array([pol.start_day(sim.audience_lag_days) for pol in policies])
    ends = np.array([pol.end_day() for pol in policies])
    retarget = np.array([pol.retarget for pol in policies])
    lookback = np.array([pol.lookback_days for pol in policies])
    use_lb = bool((lookback < horizon).any())

    lift_l = seg.lift_multiplicative * arm.lift_multiplier
    lift_a = seg.lift_additive * arm.lift_multiplier
    ctr = seg.ctr * arm.ctr_multiplier
    hide = seg.hide_rate * arm.hide_multiplier
    laplace = (not fixed) and seg.hill_n == 1
    if laplace:
        tgrid, tw = _laplace_grid(seg.adstock_theta, seg.hill_k)
        G = np.zeros((p, act.size, tgrid.size))
    e_b = np.full(shape, seg.h0)
    e_f = np.zeros((p, act.size))
    e_a = np.zeros((p, act.size))
    cum_h = np.zeros(shape)
    nothid = np.ones(shape)
    surv_hist = [np.ones(shape)]
    cumlam = [np.zeros(shape)]
    imps = np.zeros(shape)
    clicks = np.zeros(shape)
    reach_lam = np.zeros(shape)
    lag = max(sim.exclusion_lag_days, 1)
    curve = []

    for t in range(horizon):
        if t:
            e_b *= seg.rho
        e_f *= seg.fatigue_phi
        e_a *= seg.adstock_theta
        active = retarget & (starts <= t) & (t < np.minimum(ends, horizon))
        carry = np.ones(p)
        gage = np.zeros(p)
        for i in np.flatnonzero(active):
            _, age, new = policies[i].creative_on(t, int(starts[i]))
            gage[i] = math.exp(-age / seg.creative_tau_days)
            if new and t > starts[i]:
                carry[i] = sim.creative_fatigue_carry
        e_f *= carry[:, None]
        elig = nothid
        if use_lb:
            far = t >= lookback
            if far.any():
                lo = np.maximum(t - lookback + 1, 0)
                recent = cumlam[t] - np.stack([cumlam[int(j)][i] for i, j in enumerate(lo)])
                elig = elig * np.where(far[:, None, None], 1 - np.exp(-recent), 1.0)
        m = r_eff[:, :, None] * active[:, None, None] * elig  # (P, Q, C)
        m_pq = (m * wc).sum(axis=2)  # class-averaged delivery for the adstock law
        q = np.exp(-seg.fatigue_delta * e_f)
        if laplace:
            G[:, :, 1:] = G[:, :, :-1]
            G[:, :, 0] *= seg.adstock_theta
            G += m_pq[:, :, None] * np.expm1(-tgrid[None, None, :] * q[:, :, None])
            e_s = (tw * -np.expm1(G)).sum(axis=2)
        e_a += q * m_pq
        e_f += m_pq
        if not laplace:
            an = e_a ** seg.hill_n
            e_s = an / (an + seg.hill_k ** seg.hill_n)
        lam_click = m * (ctr * gage)[:, None, None] * q[:, :, None]
        p_click = 1 - np.exp(-lam_click) if not fixed else 1 - (1 - np.minimum(
            ctr * gage[:, None, None] * q[:, :, None], 1)) ** m
        if seg.click_resets_intent:
            e_b += p_click * (seg.h0 - e_b)
        cumlam.append(cumlam[-1] + lam_click)
        tired = is_weary[None, None, :] & (e_f[:, :, None] > seg.weary_threshold)
        if hide > 0:
            ph = np.minimum(hide * np.where(tired, seg.weary_hide_multiplier, 1.0), 1.0)
            nothid = nothid * np.exp(m * np.log1p(-ph))
        s_ex = surv_hist[max(t - lag + 1, 0)]  # not converted by day t - lag
        imps += m * s_ex
        clicks += lam_click * s_ex if not fixed else p_click * s_ex
        reach_lam += m * s_ex
        org = e_b + seg.h_floor
        h = org * (1 + lift_l * e_s[:, :, None]) + lift_a * e_s[:, :, None]
        if weary and seg.weary_eta > 0:
            over = np.maximum(e_f[:, :, None] - seg.weary_threshold, 0) * is_weary[None, None, :]
            h = h * np.exp(-seg.weary_eta * over)
        cum_h += h
        surv = (np.exp(-cum_h) if math.isinf(seg.frailty_shape)
                else (1 + cum_h / seg.frailty_shape) ** (-seg.frailty_shape))
        surv_hist.append(surv)
        if keep_curves:
            curve.append(1 - np.einsum("pqc,q,c->p", surv, wq, wc))

    def avg(x: np.ndarray) -> np.ndarray:
        return np.einsum("pqc,q,c->p", x, wq, wc)

    reach = (avg(1 - np.exp(-reach_lam)) if not fixed
             else avg((reach_lam > 0).astype(float)))
    out = {
        "conversion_rate": 1 - avg(surv_hist[-1]),
        "impressions_per_lead": avg(imps),
        "clicks_per_lead": avg(clicks),
        "reach_rate": reach,
        "cost_per_lead": avg(imps) * cpm / 1000.0,
        "annoyance_rate": 1 - avg(nothid),
    }
    if keep_curves:
        out["curve"] = np.stack(curve, axis=1) if curve else np.zeros((p, 0))
    return out


def _run(policies, segment, sim, horizon_days, arm, act_nodes, chunk, keep_curves):
    sim = sim or SimParams()
    seg = sim.segment(segment) if isinstance(segment, str) else segment
    policies = list(policies)
    if not policies:
        raise ValueError("expected_outcomes needs at least one policy")
    if horizon_days < 1:
        raise ValueError("horizon_days must be >= 1")
    arm = arm or ArmSpec("arm", policies[0])
    results: dict[int, dict[str, np.ndarray]] = {}
    for kind in ("nbd", "fixed"):
        idx = [i for i, pol in enumerate(policies) if pol.delivery == kind]
        for lo in range(0, len(idx), chunk):
            part = idx[lo: lo + chunk]
            res = _evaluate([policies[i] for i in part], seg, sim, horizon_days, arm, act_nodes,
                            keep_curves)
            for j, i in enumerate(part):
                results[i] = {k: v[j] for k, v in res.items()}
    return policies, seg, results


def expected_outcomes(
    policies: Sequence[RetargetingPolicy],
    segment: str | SegmentParams,
    *,
    sim: SimParams | None = None,
    horizon_days: int,
    arm: ArmSpec | None = None,
    act_nodes: int = 12,
    chunk: int = 512,
) -> pd.DataFrame:
    """Expected per-lead outcomes at the horizon for each policy (one row per policy).

    Columns: policy, conversion_rate, incremental_conversion_rate (vs a no-retargeting holdout in
    the same world), impressions_per_lead, clicks_per_lead, reach_rate, cost_per_lead,
    annoyance_rate, cost_per_incremental_conversion (inf when the increment is <= 0).
    """
    policies, seg, res = _run(policies, segment, sim, horizon_days, arm, act_nodes, chunk, False)
    from abtest.sim.policy import holdout

    base = _run([holdout()], seg, sim, horizon_days, arm, 1, 1, False)[2][0]["conversion_rate"]
    frame = pd.DataFrame([res[i] for i in range(len(policies))])
    frame.insert(0, "policy", pd.array([pol.name for pol in policies], dtype="string"))
    inc = frame["conversion_rate"] - base
    frame.insert(2, "incremental_conversion_rate", inc)
    frame["cost_per_incremental_conversion"] = np.where(
        inc > 0, frame["cost_per_lead"] / inc.where(inc > 0, 1.0), np.inf)
    return frame


def expected_curves(
    policies: Sequence[RetargetingPolicy],
    segment: str | SegmentParams,
    *,
    sim: SimParams | None = None,
    horizon_days: int,
    arm: ArmSpec | None = None,
    act_nodes: int = 12,
) -> np.ndarray:
    """Cumulative expected conversion rate by day since entry, shape (policies, horizon_days)."""
    policies, _, res = _run(policies, segment, sim, horizon_days, arm, act_nodes, 512, True)
    return np.stack([res[i]["curve"] for i in range(len(policies))])
