"""Frequency response: CTR fatigue from exposure logs (binomial GLM with a log link).

``CTR = CTR0·exp(-δ·F_prev)`` with ``F`` the decayed impression stock with restoration ``φ``
(Naik et al. 1998; Braun & Moe 2013; simulation-models.md §2); :func:`ctr_by_frequency` tabulates
CTR by prior impressions for plots.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["ctr_by_frequency", "fatigue_stock", "fit_frequency_response"]

_LOG2 = np.log(2.0)


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
    from statsmodels.tools.sm_exceptions import DomainWarning

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
        warnings.simplefilter("ignore", DomainWarning)
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
