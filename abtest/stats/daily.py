"""Ad-level daily exports: ratio metrics with the arms paired by day.

In a TikTok split test users are randomised to ad groups and the export sums them per day, so
each day gives one total per arm: ``x_jd`` (numerator: clicks, conversions, spend, likes +
comments + shares, 100 % video views) and ``y_jd`` (denominator: impressions, clicks,
conversions, video views). Delivery and seasonality move both arms together (a shared day
effect), so the arms of one day are *pairs*: treating the 2·D arm-days as independent units
(the unpaired delta method) puts the day-to-day variance into the standard error twice and makes
the test blind (A/A rate ≈ 0, power at +5 % CTR 0.06 where pairing gives ~0.40).

Method (paired delta method). Per comparison of arm t with the control c over the D days where
both arms have a positive denominator: R_j = Σ_d x_jd / Σ_d y_jd, and the linearisation
z_jd = (x_jd − R_j y_jd) / ȳ_j (ȳ_j = Σ_d y_jd / D) gives R̂_j − R_j ≈ mean_d z_jd (Deng et al.
2018, "Applying the delta method in metric analytics", with the day as the unit). Then
Var(R̂_t − R̂_c) = Σ_d (z_td − z_cd)² / (D(D − 1)), Var(R̂_j) and Cov(R̂_t, R̂_c) likewise, a t
reference on D − 1 degrees of freedom, and the relative lift by Fieller's set with the
covariance (:func:`~abtest.stats.fieller.fieller_interval_cov`), which excludes 0 iff p < alpha.

Assumptions, stated so a report can repeat them: (1) days are exchangeable replicates of the
arm contrast: the day effect is shared by the arms (any size, any shape) and the contrast
(x_td − R_t y_td) − (x_cd − R_c y_cd) is independent from day to day; (2) the audience of a day
is a fresh draw (or a small part) of each arm's audience — when the *same* people are shown the
ads every day, their persistent differences do not average out over days and this analysis
alone is too optimistic (not corrected here: daily totals cannot separate a persistent audience
difference from a treatment effect; it needs user-level data or a lifetime export with reach);
(3) each period has enough denominator events for the linearisation (see
:func:`events_block_size`: days are pooled into blocks of at least ``MIN_EVENTS`` events, and
with fewer than ``MIN_BLOCKS`` blocks the metric is not judged).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from abtest.stats._arrays import FloatArray, as_float, check_alpha
from abtest.stats.fieller import fieller_interval_cov
from abtest.stats.frequentist import ComparisonResult, _critical_value, _p_value

__all__ = ["MIN_BLOCKS", "MIN_EVENTS", "PairedResult", "block_sums", "events_block_size",
           "paired_ratio_arrays"]

#: Denominator events a period needs for the delta-method linearisation (Cochran's 5).
MIN_EVENTS = 5.0
#: Fewest paired periods for a t test on the day scale (4 degrees of freedom).
MIN_BLOCKS = 5


class PairedResult(NamedTuple):
    """A :class:`ComparisonResult` (``control_n``/``treatment_n`` = paired periods) plus
    ``covariance`` = Cov(R̂_t, R̂_c), shape ``(arms − 1, *batch)``."""

    result: ComparisonResult
    covariance: FloatArray


def paired_ratio_arrays(num: ArrayLike, den: ArrayLike, *, alpha: float = 0.05) -> PairedResult:
    """Paired-by-day comparison of each arm's ratio Σx/Σy with the control (arm 0).

    ``num`` and ``den`` have shape ``(arms, *batch, days)`` (the last axis is the period; a
    period with ``den == 0`` in an arm is left out of that arm's comparisons). Two-sided.
    """
    alpha = check_alpha(alpha)
    x = as_float(num, "num", nonnegative=False)
    y = as_float(den, "den")
    x, y = np.broadcast_arrays(x, y)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError("need arms on axis 0 (control first, >= 2 arms) and days on the last")
    present = y > 0
    mask = (present[1:] & present[:1]).astype(float)  # (k-1, *batch, D)
    days = mask.sum(axis=-1)
    if np.any(days < 2):
        raise ValueError("a paired-by-day comparison needs at least 2 days with data in both arms")
    xc, yc, xt, yt = x[:1] * mask, y[:1] * mask, x[1:] * mask, y[1:] * mask
    rc = xc.sum(-1) / yc.sum(-1)
    rt = xt.sum(-1) / yt.sum(-1)
    zc = (xc - rc[..., None] * yc) / (yc.sum(-1) / days)[..., None]
    zt = (xt - rt[..., None] * yt) / (yt.sum(-1) / days)[..., None]
    norm = days * (days - 1.0)
    vc = (zc * zc).sum(-1) / norm
    vt = (zt * zt).sum(-1) / norm
    cov = (zc * zt).sum(-1) / norm
    var = np.maximum(((zt - zc) ** 2).sum(-1) / norm, 0.0)
    se = np.sqrt(var)
    d = rt - rc
    dof = days - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, d / se, np.where(d == 0, 0.0, np.sign(d) * np.inf))
    p = np.where(se > 0, _p_value(stat, dof, "two-sided"), np.where(d == 0, 1.0, 0.0))
    q = _critical_value(alpha, "two-sided", dof)
    rlo, rhi, comp = fieller_interval_cov(rc, vc, rt, vt, cov, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(rc != 0, d / np.abs(rc), np.where(d == 0, 0.0, np.sign(d) * np.inf))
    res = ComparisonResult(
        control_mean=rc, treatment_mean=rt, control_var=vc, treatment_var=vt, control_n=days,
        treatment_n=days.copy(), abs_diff=d, std_error=se, statistic=stat, dof=dof, p_value=p,
        abs_ci_low=d - q * se, abs_ci_high=d + q * se, rel_lift=rel, rel_ci_low=rlo,
        rel_ci_high=rhi, rel_ci_complement=comp)
    return PairedResult(res, cov)


def events_block_size(den: ArrayLike, *, min_events: float = MIN_EVENTS) -> int:
    """Days per block so that every arm averages at least ``min_events`` denominator events.

    ``den``: (arms, *batch, days), every day of the test (days with 0 events included). Uses the
    arm with the fewest events per day; 1 when every arm already has ``min_events`` a day, 0 when
    an arm has no events at all.
    """
    y = as_float(den, "den")
    low = float((y.sum(axis=-1) / max(y.shape[-1], 1)).min())
    if low <= 0:
        return 0
    return max(1, math.ceil(min_events / low))


def block_sums(values: ArrayLike, size: int) -> FloatArray:
    """Sum consecutive periods (last axis) into blocks of ``size``; a partial last block is
    merged into the one before it (so no block has fewer than ``size`` days)."""
    v = np.asarray(values, dtype=float)
    if size <= 1:
        return v
    n = v.shape[-1]
    blocks = max(n // size, 1)
    edges = np.minimum(np.arange(n) // size, blocks - 1)
    out = np.zeros(v.shape[:-1] + (blocks,))
    for b in range(blocks):
        out[..., b] = v[..., edges == b].sum(axis=-1)
    return out
