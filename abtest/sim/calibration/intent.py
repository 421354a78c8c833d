"""Organic intent from time to conversion: the discrete hazard ``h(r) = h0·ρ^r + floor``.

:func:`fit_intent` fits it per segment by maximum likelihood on daily-binned durations (interval
censored by day, right censored at the data cut), ``ρ = 2^(-1/T½)`` and ``r`` the days since lead
entry (simulation-models.md §4, §8).

Frailty and decay are confounded (simulation-models.md §4): with gamma frailty ``z ~ Gamma(κ, 1/κ)``
the *population* hazard falls over time even when each lead's hazard is constant, because the
most eager leads convert first. Single-event data cannot separate a short half-life from strong
heterogeneity (small ``κ``) well, so :func:`fit_intent` by default fixes ``κ`` (the gamma-frailty
marginal survival ``S = (1 + H/κ)^-κ`` with a known ``κ``) and only estimates ``κ`` when asked; use
randomised holdout leads (never retargeted) so the ad effect does not masquerade as intent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize

from abtest.sim.calibration._likelihood import covariance

__all__ = ["fit_intent", "intent_cumulative_hazard", "log_survival"]


def intent_cumulative_hazard(
    d: np.ndarray, *, h0: float, half_life: float, floor: float
) -> np.ndarray:
    """Cumulative hazard ``H(d) = Σ_{r=0..d} (h0·ρ^r + floor)``, with ``H(-1) = 0``.

    Closed form of the geometric sum: ``h0·(1 - ρ^(d+1))/(1 - ρ) + floor·(d + 1)``.
    """
    d = np.asarray(d, dtype=float)
    rho = 2.0 ** (-1.0 / half_life)
    return h0 * (-np.expm1((d + 1.0) * np.log(rho))) / (1.0 - rho) + floor * (d + 1.0)


def log_survival(H: np.ndarray, kappa: float | None) -> np.ndarray:
    """``log S`` of cumulative hazard ``H`` under gamma frailty ``κ``: ``-κ·log(1 + H/κ)``.

    The Laplace transform of ``Gamma(κ, 1/κ)`` (mean-one frailty); ``κ`` None or infinite means no
    frailty (``log S = -H``).
    """
    if kappa is None or np.isinf(kappa):
        return -H
    return -kappa * np.log1p(H / kappa)


def _intent_negloglik(
    x: np.ndarray,
    ev_d: np.ndarray,
    ev_n: np.ndarray,
    ce_c: np.ndarray,
    ce_n: np.ndarray,
    kappa_fixed: float | None,
    estimate_kappa: bool,
) -> float:
    h0, half_life, floor = np.exp(x[:3])
    kappa = float(np.exp(x[3])) if estimate_kappa else kappa_fixed
    # event on day d: S(d-1) - S(d); censored after c observed days: S(c-1).
    ls_hi = log_survival(intent_cumulative_hazard(ev_d - 1, h0=h0, half_life=half_life,
                                                   floor=floor), kappa)
    ls_lo = log_survival(intent_cumulative_hazard(ev_d, h0=h0, half_life=half_life,
                                                   floor=floor), kappa)
    p_event = np.maximum(-np.expm1(ls_lo - ls_hi), 1e-300)
    ll = np.sum(ev_n * (ls_hi + np.log(p_event)))
    ls_c = log_survival(intent_cumulative_hazard(ce_c - 1, h0=h0, half_life=half_life,
                                                  floor=floor), kappa)
    ll += np.sum(ce_n * ls_c)
    return -float(ll)


def _binned_durations(
    entry: np.ndarray, conv: np.ndarray, as_of: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily-binned event durations and censoring lengths as (values, counts) pairs."""
    observed = as_of - entry  # number of observed days (entry day .. as_of - 1)
    is_event = ~np.isnan(conv) & (conv < as_of)
    dur = (conv[is_event] - entry[is_event]).astype(np.int64)
    if np.any(dur < 0):
        raise ValueError("conversion_day before entry_day for some leads")
    ev_n = np.bincount(dur)
    ce_n = np.bincount(observed[~is_event].astype(np.int64))
    ev_d = np.flatnonzero(ev_n)
    ce_c = np.flatnonzero(ce_n)
    return ev_d.astype(float), ev_n[ev_d].astype(float), ce_c.astype(float), ce_n[ce_c].astype(float)


def _fit_one(
    entry: np.ndarray,
    conv: np.ndarray,
    as_of: int,
    kappa: float | None,
    estimate_kappa: bool,
) -> dict[str, float]:
    ev_d, ev_n, ce_c, ce_n = _binned_durations(entry, conv, as_of)
    n_events = float(ev_n.sum())
    n_leads = n_events + float(ce_n.sum())
    if n_events < 5:
        raise ValueError(f"too few conversions ({int(n_events)}) to fit the intent hazard")
    args = (ev_d, ev_n, ce_c, ce_n, kappa, estimate_kappa)
    total_days = float(np.sum(ev_n * (ev_d + 1)) + np.sum(ce_n * ce_c))
    crude = n_events / max(total_days, 1.0)
    bounds = [(np.log(1e-7), 0.0), (np.log(0.05), np.log(2000.0)), (np.log(1e-9), np.log(0.2))]
    if estimate_kappa:
        bounds.append((np.log(0.05), np.log(200.0)))
    best = None
    for t_start in (1.0, 5.0, 25.0):
        x0 = [np.log(crude * 5), np.log(t_start), np.log(crude / 3)]
        if estimate_kappa:
            x0.append(0.0)
        res = optimize.minimize(_intent_negloglik, np.array(x0), args=args, method="L-BFGS-B",
                                bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x = best.x
    cov = covariance(lambda z: _intent_negloglik(z, *args), x, step=1e-3)  # log scale
    var = np.clip(np.diag(cov), 0.0, None)
    est = np.exp(x)
    se = est * np.sqrt(var)  # delta method from the log scale
    out = {
        "n_leads": n_leads,
        "n_events": n_events,
        "h0": est[0],
        "h0_se": se[0],
        "half_life_days": est[1],
        "half_life_se": se[1],
        "floor": est[2],
        "floor_se": se[2],
        "frailty_shape": est[3] if estimate_kappa else (np.inf if kappa is None else kappa),
        "frailty_shape_se": se[3] if estimate_kappa else 0.0,
        "loglik": -best.fun,
        "converged": bool(best.success),
    }
    return out


def fit_intent(
    leads: pd.DataFrame,
    *,
    as_of: int,
    by: Sequence[str] = ("segment",),
    arms: Sequence[str] | None = None,
    frailty_shape: float | Literal["estimate"] | None = 1.0,
) -> pd.DataFrame:
    """Fit organic intent ``h(r) = h0·ρ^r + floor`` per segment by maximum likelihood.

    ``leads`` needs ``entry_day`` and ``conversion_day`` (days since the study start; missing =
    not converted) plus the ``by`` columns. ``as_of`` is the data cut: days ``< as_of`` are observed,
    leads entering at or after it are dropped, later conversions are right censored. Durations are
    whole days since entry, so each event is interval censored on its day: its likelihood is
    ``S(d-1) - S(d)`` with ``S`` the (frailty-marginal) survival of the discrete hazard.

    ``arms``: which arms to use. Default: the ``holdout`` arm when the frame has an ``arm`` column
    with one (never retargeted, so no ad effect), else every lead. ``frailty_shape``: the gamma
    frailty ``κ`` (fixed; default 1 as in the simulator defaults), ``None`` for no frailty, or
    ``"estimate"`` to fit it jointly (weakly identified against the half-life; see module notes).

    Returns one row per group: ``n_leads, n_events, h0, h0_se, half_life_days, half_life_se, floor,
    floor_se, frailty_shape, frailty_shape_se (0 when fixed), loglik, converged``. Standard errors
    come from the inverse numerical Hessian on the log scale and the delta method.
    """
    needed = {"entry_day", "conversion_day", *by}
    missing = needed - set(leads.columns)
    if missing:
        raise ValueError(f"leads frame lacks column(s) {sorted(missing)}")
    frame = leads
    if arms is None and "arm" in frame.columns and (frame["arm"] == "holdout").any():
        arms = ["holdout"]
    if arms is not None:
        frame = frame[frame["arm"].isin(list(arms))]
    frame = frame[frame["entry_day"].to_numpy() < as_of]
    if frame.empty:
        raise ValueError(f"no leads entered before as_of={as_of}")
    estimate = frailty_shape == "estimate"
    kappa = None if frailty_shape is None or estimate else float(frailty_shape)
    rows = []
    groups = frame.groupby(list(by), sort=True, observed=True) if by else [((), frame)]
    for key, grp in groups:
        entry = grp["entry_day"].to_numpy(dtype=float)
        conv = grp["conversion_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        fit = _fit_one(entry, conv, int(as_of), kappa, estimate)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), **fit})
    return pd.DataFrame(rows)
