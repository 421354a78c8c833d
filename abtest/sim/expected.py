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

Work sharing (``_evaluate``; same arithmetic, reordered): the exposure side (transform, fatigue,
clicks, hiding) runs once per delivery configuration in days since its start; intent and hazard
run once per (start, configuration) group, and each policy is snapshot on its last active day;
the days after a window closes are closed form (matrix products on the shifted Laplace grid).
A grid of gaps x windows x frequencies therefore costs about (configs + groups) x days, not
policies x days; a grid with no shared delivery falls back to roughly the per-policy cost.
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


def _post_tables(g_end: np.ndarray | None, ea_end: np.ndarray | None, ef_end: np.ndarray,
                 seg: SegmentParams, lift_l: float, lift_a: float, is_weary: np.ndarray,
                 tgrid_w: np.ndarray | None, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative hazard coefficients after a delivery window closes (no more exposures).

    For state snapshots (u, q) taken on the last active day, with ``s = 1..days`` days later:
    ``e_b = e_b_snap rho**s``, ``E[F] = F_snap phi**s`` and, for the Laplace form, the exposure
    transform just shifts along the geometric grid (``G_s[j] = G[j - s]``, and ``G[0] theta**k``
    below the grid), so ``E[S]`` for every s is two small matrix products. The hazard is
    ``e_b * A(s) + B(s)``; returns cumulative sums ``CA, CB`` of shape (U, Q, C, days + 1), with
    ``CA[..., 0] = 0``, so that ``cum_h = cum_h_snap + e_b_snap * CA[..., d] + CB[..., d]``.
    """
    s = np.arange(1, days + 1, dtype=np.float64)
    if g_end is not None:
        tw = tgrid_w
        j = tw.size
        e = -np.expm1(g_end)  # (U, Q, J)
        i = np.arange(j)[:, None] + np.arange(1, days + 1)[None, :]
        m1 = np.where(i < j, tw[np.minimum(i, j - 1)], 0.0)  # (J, D): tw[i + s]
        v = -np.expm1(g_end[:, :, :1] * seg.adstock_theta ** s[None, None, :])  # (U, Q, D)
        k = np.arange(1, days + 1)[:, None]
        lag = np.arange(1, days + 1)[None, :] - k  # s - k
        m2 = np.where((lag >= 0) & (lag < j), tw[np.clip(lag, 0, j - 1)], 0.0)  # (D, D)
        e_s = e @ m1 + v @ m2
    else:
        an = (ea_end[:, :, None] * seg.adstock_theta ** s[None, None, :]) ** seg.hill_n
        e_s = an / (an + seg.hill_k ** seg.hill_n)
    sat = 1.0 + lift_l * e_s
    a_s = (seg.rho ** s) * sat  # (U, Q, D)
    b_s = seg.h_floor * sat + lift_a * e_s
    a_s = np.repeat(a_s[:, :, None, :], is_weary.size, axis=2)
    b_s = np.repeat(b_s[:, :, None, :], is_weary.size, axis=2)
    if is_weary.any() and seg.weary_eta > 0:
        ef = ef_end[:, :, None] * seg.fatigue_phi ** s[None, None, :]
        pen = np.exp(-seg.weary_eta * np.maximum(ef - seg.weary_threshold, 0.0))
        a_s[:, :, is_weary] *= pen[:, :, None]
        b_s[:, :, is_weary] *= pen[:, :, None]
    zero = np.zeros((*a_s.shape[:3], 1))
    return (np.concatenate([zero, np.cumsum(a_s, axis=3)], axis=3),
            np.concatenate([zero, np.cumsum(b_s, axis=3)], axis=3))


def _evaluate(policies: Sequence[RetargetingPolicy], seg: SegmentParams, sim: SimParams,
              horizon: int, arm: ArmSpec, act_nodes: int, keep_curves: bool) -> dict[str, np.ndarray]:
    """Evaluate policies of one delivery kind in three exact stages that share work:

    A. delivery configurations (rate, cap, creatives; plus start when a look-back binds) run once
       in days since their start: exposure transform, fatigue, clicks and hiding do not depend on
       the calendar day otherwise;
    B. (start, configuration) groups run on calendar days for intent, hazard and survival, and
       snapshot each policy on its last active day (policies differing only in window end share
       the prefix);
    C. the rest of the horizon after a window closes is closed form (``_post_tables``).
    The arithmetic is the day-by-day recursion documented above, reordered.
    """
    p = len(policies)
    cpm = seg.cpm * arm.cpm_multiplier
    fixed = policies[0].delivery == "fixed"
    act, wq = _activity_nodes(np.inf if fixed else seg.exposure_shape, act_nodes)
    weary = seg.weary_share > 0 and (seg.weary_eta > 0 or seg.weary_hide_multiplier != 1)
    wc = np.array([1 - seg.weary_share, seg.weary_share]) if weary else np.ones(1)
    is_weary = np.array([False, True]) if weary else np.array([False])
    nq, ncl = act.size, wc.size

    rate = np.array([pol.daily_rate(cpm) for pol in policies])
    r_eff = rate[:, None] * act[None, :]
    for i, pol in enumerate(policies):
        if pol.retarget and pol.frequency_cap is not None and not fixed:
            r_eff[i] = _capped_rate(r_eff[i], pol.frequency_cap, pol.cap_days)
        elif pol.retarget and pol.frequency_cap is not None:
            r_eff[i] = min(rate[i], pol.frequency_cap)
    starts = np.array([pol.start_day(sim.audience_lag_days) for pol in policies])
    stops = np.minimum([pol.end_day() for pol in policies], horizon)
    retarget = np.array([pol.retarget for pol in policies])
    lookback = np.array([pol.lookback_days for pol in policies])
    n_cr = np.array([pol.n_creatives for pol in policies])
    refresh = np.array([pol.creative_refresh_days or 0 for pol in policies])
    inert = ~retarget | (starts >= stops) | ~(r_eff > 0).any(axis=1)
    binds = lookback < horizon
    live = np.flatnonzero(~inert)

    lift_l = seg.lift_multiplicative * arm.lift_multiplier
    lift_a = seg.lift_additive * arm.lift_multiplier
    ctr = seg.ctr * arm.ctr_multiplier
    hide = seg.hide_rate * arm.hide_multiplier
    laplace = (not fixed) and seg.hill_n == 1
    tgrid, tw = _laplace_grid(seg.adstock_theta, seg.hill_k) if laplace else (None, None)
    lag = max(sim.exclusion_lag_days, 1)

    # ---- A: delivery configurations in days since their start (or calendar days if look-back binds)
    key = np.column_stack([r_eff, n_cr, refresh, np.where(binds, lookback, 0),
                           np.where(binds, starts, -1)])[live]
    cfg_rows, cfg_of = np.unique(key, axis=0, return_inverse=True)
    cfg_of = cfg_of.ravel()
    ncf = cfg_rows.shape[0]
    if live.size:  # order configs by last needed day (descending): live ones are a prefix
        end_tau = np.zeros(ncf, int)
        np.maximum.at(end_tau, cfg_of, stops[live] - starts[live]
                      + np.maximum(cfg_rows[cfg_of, -1], 0).astype(int))
        order = np.argsort(-end_tau, kind="stable")
        cfg_rows = cfg_rows[order]
        cfg_of = np.argsort(order)[cfg_of]
        n_alive = np.sort(-end_tau)  # -end_tau ascending; alive at tau: end_tau > tau
    rep = [policies[live[np.flatnonzero(cfg_of == c)[0]]] for c in range(ncf)]
    off = np.maximum(cfg_rows[:, -1], 0).astype(int)  # day index where the config starts
    cfg_lb = cfg_rows[:, -2].astype(int)
    r_cf = cfg_rows[:, :nq]
    span = np.zeros(ncf, int)
    if live.size:
        np.maximum.at(span, cfg_of, stops[live] - starts[live])
    n_tau = int((off + span).max()) if live.size else 0
    e_f = np.zeros((ncf, nq))
    e_a = np.zeros((ncf, nq))
    nothid = np.ones((ncf, nq, ncl))
    cumlam = [np.zeros((ncf, nq, ncl))]
    if laplace:
        G = np.zeros((ncf, nq, tgrid.size))
    rec_es = np.zeros((n_tau, ncf, nq))
    rec_m = np.zeros((n_tau, ncf, nq, ncl))
    rec_pc = np.zeros((n_tau, ncf, nq, ncl))
    rec_cl = np.zeros((n_tau, ncf, nq, ncl))
    rec_ef = np.zeros((n_tau, ncf, nq))
    rec_nh = np.ones((n_tau, ncf, nq, ncl))
    # Laplace-grid snapshots are kept only at (config, day) pairs where some window closes
    last = stops[live] - 1
    tau_end_live = last - starts[live] + off[cfg_of]
    need: dict[int, np.ndarray] = {}
    if laplace:
        for tau in np.unique(tau_end_live):
            need[int(tau)] = np.unique(cfg_of[tau_end_live == tau])
    g_snap: dict[tuple[int, int], np.ndarray] = {}
    rec_ea = np.zeros((n_tau, ncf, nq))
    for tau in range(n_tau):
        e_f *= seg.fatigue_phi
        e_a *= seg.adstock_theta
        active = tau >= off
        carry = np.ones(ncf)
        gage = np.zeros(ncf)
        for c in np.flatnonzero(active):
            _, age, new = rep[c].creative_on(int(tau - off[c]), 0)
            gage[c] = math.exp(-age / seg.creative_tau_days)
            if new and tau > off[c]:
                carry[c] = sim.creative_fatigue_carry
        e_f *= carry[:, None]
        elig = nothid
        far = (cfg_lb > 0) & (tau >= cfg_lb)
        if far.any():
            lo = np.where(far, np.maximum(tau - cfg_lb + 1, 0), tau)
            recent = cumlam[tau] - np.stack([cumlam[int(j)][c] for c, j in enumerate(lo)])
            elig = elig * np.where(far[:, None, None], 1 - np.exp(-recent), 1.0)
        m = r_cf[:, :, None] * active[:, None, None] * elig
        m_pq = (m * wc).sum(axis=2)
        q = np.exp(-seg.fatigue_delta * e_f)
        if laplace:
            na = int(np.searchsorted(n_alive, -tau))  # configs with end_tau > tau
            gs = G[:na]
            gs[:, :, 1:] = gs[:, :, :-1]
            gs[:, :, 0] *= seg.adstock_theta
            gs += m_pq[:na, :, None] * np.expm1(-tgrid[None, None, :] * q[:na, :, None])
            rec_es[tau, :na] = (tw * -np.expm1(gs)).sum(axis=2)
            for c in need.get(tau, ()):
                g_snap[(int(c), tau)] = G[c].copy()
        e_a += q * m_pq
        e_f += m_pq
        if not laplace:
            an = e_a ** seg.hill_n
            rec_es[tau] = an / (an + seg.hill_k ** seg.hill_n)
        lam_click = m * (ctr * gage)[:, None, None] * q[:, :, None]
        p_click = 1 - np.exp(-lam_click) if not fixed else 1 - (1 - np.minimum(
            ctr * gage[:, None, None] * q[:, :, None], 1)) ** m
        cumlam.append(cumlam[-1] + lam_click)
        tired = is_weary[None, None, :] & (e_f[:, :, None] > seg.weary_threshold)
        if hide > 0:
            ph = np.minimum(hide * np.where(tired, seg.weary_hide_multiplier, 1.0), 1.0)
            nothid = nothid * np.exp(m * np.log1p(-ph))
        rec_m[tau], rec_pc[tau], rec_ef[tau], rec_nh[tau], rec_ea[tau] = m, p_click, e_f, nothid, e_a
        rec_cl[tau] = lam_click if not fixed else p_click

    # ---- B: (start, configuration) groups on calendar days, snapshot at each policy's last day
    shape = (p, nq, ncl)
    snap_eb = np.full(shape, seg.h0 / seg.rho)  # inert: "day -1" state, decays to h0 on day 0
    snap_h = np.zeros(shape)
    imps = np.zeros(shape)
    clicks = np.zeros(shape)
    reach_lam = np.zeros(shape)
    grp_rows, grp_of = np.unique(np.column_stack([starts[live], cfg_of]), axis=0,
                                 return_inverse=True)
    grp_of = grp_of.ravel()
    ng = grp_rows.shape[0]
    g_start, g_cfg = grp_rows[:, 0], grp_rows[:, 1]
    g_off = off[g_cfg] if ng else np.zeros(0, int)
    by_day: dict[int, np.ndarray] = {}
    for d in np.unique(last):
        by_day[int(d)] = np.flatnonzero(last == d)
    n_days = int(stops[live].max()) if live.size else 0
    e_b = np.full((ng, nq, ncl), seg.h0)
    cum_h = np.zeros((ng, nq, ncl))
    g_imps = np.zeros((ng, nq, ncl))
    g_clicks = np.zeros((ng, nq, ncl))
    g_reach = np.zeros((ng, nq, ncl))
    surv_hist = [np.ones((ng, nq, ncl))]
    g_curve = []
    gidx = np.arange(ng)
    for t in range(n_days):
        if t:
            e_b *= seg.rho
        tau = t - g_start + g_off
        on = (t >= g_start) & (tau < n_tau)
        tc = np.clip(tau, 0, max(n_tau - 1, 0))
        w = on.astype(float)
        e_s = rec_es[tc, g_cfg] * w[:, None]
        m = rec_m[tc, g_cfg] * w[:, None, None]
        ef = rec_ef[tc, g_cfg] * w[:, None]
        if seg.click_resets_intent:
            e_b += rec_pc[tc, g_cfg] * w[:, None, None] * (seg.h0 - e_b)
        s_ex = surv_hist[max(t - lag + 1, 0)]
        g_imps += m * s_ex
        g_clicks += rec_cl[tc, g_cfg] * w[:, None, None] * s_ex
        g_reach += m * s_ex
        h = (e_b + seg.h_floor) * (1 + lift_l * e_s[:, :, None]) + lift_a * e_s[:, :, None]
        if weary and seg.weary_eta > 0:
            over = np.maximum(ef[:, :, None] - seg.weary_threshold, 0) * is_weary[None, None, :]
            h = h * np.exp(-seg.weary_eta * over)
        cum_h += h
        surv = (np.exp(-cum_h) if math.isinf(seg.frailty_shape)
                else (1 + cum_h / seg.frailty_shape) ** (-seg.frailty_shape))
        surv_hist.append(surv)
        if keep_curves:
            g_curve.append(1 - np.einsum("gqc,q,c->g", surv, wq, wc))
        if t in by_day:
            mem = by_day[t]
            pol, g = live[mem], gidx[grp_of[mem]]
            snap_eb[pol], snap_h[pol] = e_b[g], cum_h[g]
            imps[pol], clicks[pol], reach_lam[pol] = g_imps[g], g_clicks[g], g_reach[g]

    # ---- C: after the window, closed form from (configuration, last active day) snapshots
    tau_end = np.full(p, -1)
    cfg_p = np.zeros(p, int)
    tau_end[live] = tau_end_live
    cfg_p[live] = cfg_of
    pair_rows, pair_of = np.unique(np.column_stack([cfg_p, tau_end]), axis=0, return_inverse=True)
    pair_of = pair_of.ravel()
    u_cfg, u_tau = pair_rows[:, 0], pair_rows[:, 1]
    real = u_tau >= 0
    ut = np.maximum(u_tau, 0)
    ef_end = np.where(real[:, None], rec_ef[ut, u_cfg], 0.0) if n_tau else np.zeros((len(ut), nq))
    nh_end = (np.where(real[:, None, None], rec_nh[ut, u_cfg], 1.0) if n_tau
              else np.ones((len(ut), nq, ncl)))
    g_end = ea_end = None
    if laplace:
        g_end = np.zeros((len(ut), nq, tgrid.size))
        for i in np.flatnonzero(real):
            g_end[i] = g_snap[(int(u_cfg[i]), int(u_tau[i]))]
    else:
        ea_end = np.where(real[:, None], rec_ea[ut, u_cfg], 0.0) if n_tau else np.zeros((len(ut), nq))
    post = horizon - np.where(inert, 0, stops)
    ca, cb = _post_tables(g_end, ea_end, ef_end, seg, lift_l, lift_a, is_weary, tw,
                          int(post.max()))
    cum_final = snap_h + snap_eb * ca[pair_of, :, :, post] + cb[pair_of, :, :, post]

    def surv_of(h: np.ndarray) -> np.ndarray:
        return (np.exp(-h) if math.isinf(seg.frailty_shape)
                else (1 + h / seg.frailty_shape) ** (-seg.frailty_shape))

    def avg(x: np.ndarray) -> np.ndarray:
        return np.einsum("pqc,q,c->p", x, wq, wc)

    reach = (avg(1 - np.exp(-reach_lam)) if not fixed
             else avg((reach_lam > 0).astype(float)))
    out = {
        "conversion_rate": 1 - avg(surv_of(cum_final)),
        "impressions_per_lead": avg(imps),
        "clicks_per_lead": avg(clicks),
        "reach_rate": reach,
        "cost_per_lead": avg(imps) * cpm / 1000.0,
        "annoyance_rate": 1 - avg(nh_end[pair_of]),
    }
    if keep_curves:
        curve = np.zeros((p, horizon))
        g_curve_arr = np.stack(g_curve, axis=1) if g_curve else np.zeros((ng, 0))
        b = np.where(inert, 0, stops)
        for i in range(p):
            if b[i]:
                curve[i, : b[i]] = g_curve_arr[gidx[grp_of[np.searchsorted(live, i)]], : b[i]]
            d = np.arange(1, post[i] + 1)
            cum = snap_h[i][..., None] + snap_eb[i][..., None] * ca[pair_of[i]][..., d] \
                + cb[pair_of[i]][..., d]
            curve[i, b[i]:] = 1 - np.einsum("qcd,q,c->d", surv_of(cum), wq, wc)
        out["curve"] = curve
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
    chunk: int = 20_000,
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
