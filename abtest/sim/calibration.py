"""Calibration: fit the simulator's intent, delay and fatigue parameters from observed data.

So a what-if starts from the analyst's own numbers (issue 4 item 6; simulation-models.md §3, §4, §8).

* :func:`fit_intent` — organic intent per segment from time-to-conversion with right censoring:
  the discrete-time hazard ``h(r) = h0·ρ^r + floor`` (``ρ = 2^(-1/T½)``, ``r`` = days since lead
  entry) fitted by maximum likelihood on daily-binned durations (interval censored by day).
* :func:`fit_report_delay` — the reporting delay mixture (same day with probability ``p0``, else a
  geometric tail with daily hazard ``q``), right-truncated at the data cut.
* :func:`fit_frequency_response` — CTR fatigue ``CTR = CTR0·exp(-δ·F_prev)`` from exposure logs
  with a statsmodels binomial GLM (log link), ``F`` the decayed impression stock with restoration
  ``φ``; :func:`ctr_by_frequency` tabulates CTR by prior impressions for plots.

Frailty and decay are confounded (simulation-models.md §4): with gamma frailty ``z ~ Gamma(κ, 1/κ)``
the *population* hazard falls over time even when each lead's hazard is constant, because the
most eager leads convert first. Single-event data cannot separate a short half-life from strong
heterogeneity (small ``κ``) well, so :func:`fit_intent` by default fixes ``κ`` (the gamma-frailty
marginal survival ``S = (1 + H/κ)^-κ`` with a known ``κ``) and only estimates ``κ`` when asked; use
randomised holdout leads (never retargeted) so the ad effect does not masquerade as intent.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize

__all__ = [
    "ctr_by_frequency",
    "fatigue_stock",
    "fit_frequency_response",
    "fit_intent",
    "fit_report_delay",
    "intent_cumulative_hazard",
]

_LOG2 = np.log(2.0)


# --------------------------------------------------------------------------------------------
# Intent: discrete-time hazard with floor, optional gamma frailty
# --------------------------------------------------------------------------------------------


def intent_cumulative_hazard(
    d: np.ndarray, *, h0: float, half_life: float, floor: float
) -> np.ndarray:
    """Cumulative hazard ``H(d) = Σ_{r=0..d} (h0·ρ^r + floor)``, with ``H(-1) = 0``.

    Closed form of the geometric sum: ``h0·(1 - ρ^(d+1))/(1 - ρ) + floor·(d + 1)``.
    """
    d = np.asarray(d, dtype=float)
    rho = 2.0 ** (-1.0 / half_life)
    return h0 * (-np.expm1((d + 1.0) * np.log(rho))) / (1.0 - rho) + floor * (d + 1.0)


def _log_survival(H: np.ndarray, kappa: float | None) -> np.ndarray:
    # Gamma-frailty marginal (Laplace transform of Gamma(κ, 1/κ)); κ = None means no frailty.
    if kappa is None:
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
    ls_hi = _log_survival(intent_cumulative_hazard(ev_d - 1, h0=h0, half_life=half_life,
                                                   floor=floor), kappa)
    ls_lo = _log_survival(intent_cumulative_hazard(ev_d, h0=h0, half_life=half_life,
                                                   floor=floor), kappa)
    p_event = np.maximum(-np.expm1(ls_lo - ls_hi), 1e-300)
    ll = np.sum(ev_n * (ls_hi + np.log(p_event)))
    ls_c = _log_survival(intent_cumulative_hazard(ce_c - 1, h0=h0, half_life=half_life,
                                                  floor=floor), kappa)
    ll += np.sum(ce_n * ls_c)
    return -float(ll)


def _numeric_hessian(f, x: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian (parameters are on the log scale, so a fixed step is fine)."""
    k = x.size
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = step
            ej[j] = step
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * step * step
            )
            hess[i, j] = hess[j, i] = val
    return hess


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
    hess = _numeric_hessian(lambda z: _intent_negloglik(z, *args), x)
    try:
        cov = np.linalg.inv(hess)
        var = np.clip(np.diag(cov), 0.0, None)
    except np.linalg.LinAlgError:
        var = np.full(x.size, np.inf)
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


# --------------------------------------------------------------------------------------------
# Reporting delay: same-day mass + geometric tail, right truncated at the data cut
# --------------------------------------------------------------------------------------------


def fit_report_delay(conversions: pd.DataFrame, *, as_of: int | None = None) -> pd.DataFrame:
    """Fit ``P(delay=0) = p0``, ``P(delay=k) = (1-p0)·q·(1-q)^(k-1)`` for ``k ≥ 1``.

    The daily form of Chapelle (2014)'s fast/slow reporting delay (simulation-models.md §3, §8
    step 7): ``p0`` is ``SimParams.report_same_day_share`` and the discrete daily hazard ``q`` is
    ``SimParams.report_hazard``. ``conversions`` needs ``day`` and ``report_day``. With ``as_of``
    the data are right truncated (a conversion on day ``t`` is seen only if reported before
    ``as_of``), so each delay's likelihood is divided by ``P(delay ≤ as_of - 1 - t)``.
    Returns one row: ``n, p_same_day, p_same_day_se, daily_hazard, daily_hazard_se,
    mean_delay_days``.
    """
    day = conversions["day"].to_numpy(dtype=float)
    rep = conversions["report_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(rep)
    if as_of is not None:
        keep &= rep < as_of
    delay = (rep - day)[keep]
    if delay.size < 10:
        raise ValueError("too few reported conversions to fit the reporting delay")
    if np.any(delay < 0):
        raise ValueError("report_day before conversion day")
    m = (as_of - 1 - day[keep]) if as_of is not None else np.full(delay.size, np.inf)

    def nll(x: np.ndarray) -> float:
        p0 = 1.0 / (1.0 + np.exp(-x[0]))
        q = 1.0 / (1.0 + np.exp(-x[1]))
        lp = np.where(delay == 0, np.log(p0),
                      np.log1p(-p0) + np.log(q) + (delay - 1) * np.log1p(-q))
        # P(delay <= m) = p0 + (1 - p0)(1 - (1 - q)^m)
        tail = np.where(np.isinf(m), 0.0, np.exp(np.minimum(m, 1e6) * np.log1p(-q)))
        return -float(np.sum(lp - np.log(p0 + (1 - p0) * (1 - tail))))

    share0 = float(np.clip(np.mean(delay == 0), 1e-3, 1 - 1e-3))
    tail_mean = float(np.mean(delay[delay > 0])) if np.any(delay > 0) else 1.5
    q0 = float(np.clip(1 / max(tail_mean, 1.0), 1e-3, 1 - 1e-3))
    x0 = np.array([np.log(share0 / (1 - share0)), np.log(q0 / (1 - q0))])
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 2000})
    cov = np.linalg.inv(_numeric_hessian(nll, res.x, step=1e-4))
    p0 = float(1.0 / (1.0 + np.exp(-res.x[0])))
    q = float(1.0 / (1.0 + np.exp(-res.x[1])))
    return pd.DataFrame([{
        "n": int(delay.size),
        "p_same_day": p0,
        "p_same_day_se": p0 * (1 - p0) * float(np.sqrt(max(cov[0, 0], 0.0))),
        "daily_hazard": q,
        "daily_hazard_se": q * (1 - q) * float(np.sqrt(max(cov[1, 1], 0.0))),
        "mean_delay_days": (1 - p0) / q,
    }])


# --------------------------------------------------------------------------------------------
# Frequency response: CTR fatigue from exposure logs
# --------------------------------------------------------------------------------------------


def fatigue_stock(exposures: pd.DataFrame, *, restoration: float) -> np.ndarray:
    """Decayed prior-impression stock ``F_prev = Σ_{s<t} x_s·φ^(t-s)`` for each exposure row.

    This is the stock a lead carries into day ``t`` after that day's restoration (the simulator
    applies ``F ← φ·F`` at the start of each day, then discounts the day's impressions by
    ``exp(-δ·F)`` before adding them).

    Vectorised per lead with a grouped cumulative sum of ``x_s·φ^-s`` (days without impressions
    still decay). Rows may come in any order; the result is aligned with ``exposures``.
    """
    lead = exposures["lead_id"].to_numpy()
    day = exposures["day"].to_numpy(dtype=float)
    x = exposures["impressions"].to_numpy(dtype=float)
    order = np.lexsort((day, lead))
    day_s, x_s, lead_s = day[order], x[order], lead[order]
    shift = day_s.min() if day_s.size else 0.0
    rel = day_s - shift
    if rel.size and rel.max() * -np.log(restoration) > 600:
        raise ValueError("exposure log spans too many days for the stable cumulative form")
    w = x_s * restoration ** (-rel)
    csum = np.cumsum(w)
    starts = np.r_[True, lead_s[1:] != lead_s[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(lead_s.size), 0))
    before = np.r_[0.0, csum][group_start]  # cumulative weight before this lead's first row
    prior = csum - w - before
    f_sorted = prior * restoration ** rel
    out = np.empty_like(f_sorted)
    out[order] = f_sorted
    return out


def _glm_fatigue(frame: pd.DataFrame, f_prev: np.ndarray, group_col: str | None,
                 age_col: str | None):
    import statsmodels.api as sm

    clicks = frame["clicks"].to_numpy(dtype=float)
    imps = frame["impressions"].to_numpy(dtype=float)
    cols = {"f_prev": f_prev}
    if age_col is not None:
        cols["age"] = frame[age_col].to_numpy(dtype=float)
    if group_col is not None:
        levels = sorted(frame[group_col].astype(str).unique())
        g = frame[group_col].astype(str).to_numpy()
        for lev in levels:
            cols[f"{group_col}={lev}"] = (g == lev).astype(float)
    else:
        levels = []
        cols["const"] = np.ones(len(frame))
    exog = pd.DataFrame(cols)
    endog = np.column_stack([clicks, imps - clicks])
    n_slopes = 2 if age_col is not None else 1
    start = np.r_[np.zeros(n_slopes),
                  np.full(exog.shape[1] - n_slopes, np.log(max(clicks.sum() / imps.sum(), 1e-6)))]
    with warnings.catch_warnings():
        # the log link is not bounded to (0, 1) (statsmodels DomainWarning); CTRs are far from 1
        warnings.simplefilter("ignore")
        model = sm.GLM(endog, exog, family=sm.families.Binomial(link=sm.families.links.Log()))
        res = model.fit(start_params=start, maxiter=200)
    return res, levels


def fit_frequency_response(
    exposures: pd.DataFrame,
    *,
    restoration: float | None = 0.9,
    by: str | None = "arm",
    creative_age: str | None = None,
    leads: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fit CTR fatigue ``CTR = CTR0_g·exp(-δ·F_prev - age/τ)`` with a binomial GLM (log link).

    ``exposures``: one row per lead × day with ``lead_id, day, impressions, clicks`` (the
    simulator's exposure log or a clean-room export). ``F_prev`` is the decayed stock of earlier
    impressions (:func:`fatigue_stock`), the discrete model of Naik et al. (1998) / Braun & Moe
    (2013) in simulation-models.md §2. ``by`` gives each group (arm / creative) its own ``CTR0``
    while sharing ``δ``; it is looked up in ``exposures`` or, failing that, in ``leads``.
    ``restoration`` is ``φ``; ``None`` profiles it over a grid (0.5…0.99) by GLM likelihood.
    ``creative_age`` names a column of creative age in days (its slope gives ``τ``); leave it out
    only when creatives do not age, since age and stacked frequency grow together.

    Returns one row per group: ``group, ctr0, ctr0_se, fatigue_delta, fatigue_delta_se,
    fatigue_half_impressions (ln2/δ), creative_tau_days (inf without an age column),
    creative_tau_se (0 without), restoration, impressions, clicks``.
    """
    frame = exposures
    if by is not None and by not in frame.columns:
        if leads is None or by not in leads.columns:
            raise ValueError(f"column {by!r} not in exposures (pass leads= to look it up)")
        frame = frame.merge(leads[["lead_id", by]], on="lead_id", how="left", validate="m:1")
    frame = frame[frame["impressions"].to_numpy() > 0]
    if frame.empty:
        raise ValueError("no exposure rows with impressions")
    grid = [restoration] if restoration is not None else list(np.r_[0.5:0.95:0.05, 0.97, 0.99])
    best = None
    for phi in grid:
        f_prev = fatigue_stock(frame, restoration=float(phi))
        res, levels = _glm_fatigue(frame, f_prev, by, creative_age)
        if best is None or res.llf > best[0].llf:
            best = (res, levels, float(phi))
    assert best is not None
    res, levels, phi = best
    params = np.asarray(res.params)
    bse = np.asarray(res.bse)
    delta, delta_se = -params[0], bse[0]
    if creative_age is not None:
        slope, slope_se = -params[1], bse[1]
        tau = float(1.0 / slope) if slope > 0 else np.inf
        tau_se = float(slope_se / slope**2) if slope > 0 else 0.0
    else:
        tau, tau_se = np.inf, 0.0
    first = 2 if creative_age is not None else 1
    rows = []
    names = levels if levels else ["all"]
    for k, name in enumerate(names, start=first):
        sub = frame if not levels else frame[frame[by].astype(str).to_numpy() == name]
        ctr0 = float(np.exp(params[k]))
        rows.append({
            "group": name,
            "ctr0": ctr0,
            "ctr0_se": ctr0 * float(bse[k]),
            "fatigue_delta": float(delta),
            "fatigue_delta_se": float(delta_se),
            "fatigue_half_impressions": float(_LOG2 / delta) if delta > 0 else np.inf,
            "creative_tau_days": tau,
            "creative_tau_se": tau_se,
            "restoration": phi,
            "impressions": int(sub["impressions"].sum()),
            "clicks": int(sub["clicks"].sum()),
        })
    return pd.DataFrame(rows)


def ctr_by_frequency(exposures: pd.DataFrame, *, max_index: int = 20) -> pd.DataFrame:
    """CTR by number of earlier impressions to the same lead (capped at ``max_index``), for plots.

    Each lead × day row is binned by its lead's cumulative impressions *before* that day; the
    table gives ``prior_impressions, impressions, clicks, ctr, ctr_se`` (binomial SE).
    """
    lead = exposures["lead_id"].to_numpy()
    day = exposures["day"].to_numpy()
    order = np.lexsort((day, lead))
    x = exposures["impressions"].to_numpy(dtype=np.int64)[order]
    c = exposures["clicks"].to_numpy(dtype=np.int64)[order]
    lead_s = lead[order]
    csum = np.cumsum(x)
    starts = np.r_[True, lead_s[1:] != lead_s[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(x.size), 0))
    prior = csum - x - np.r_[0, csum][first]
    idx = np.minimum(prior, max_index)
    imps = np.bincount(idx, weights=x, minlength=max_index + 1)
    clk = np.bincount(idx, weights=c, minlength=max_index + 1)
    keep = imps > 0
    ctr = np.divide(clk, imps, out=np.zeros_like(clk), where=keep)
    se = np.sqrt(np.divide(ctr * (1 - ctr), imps, out=np.zeros_like(clk), where=keep))
    out = pd.DataFrame({
        "prior_impressions": np.arange(max_index + 1),
        "impressions": imps.astype(np.int64),
        "clicks": clk.astype(np.int64),
        "ctr": ctr,
        "ctr_se": se,
    })
    return out[keep].reset_index(drop=True)
