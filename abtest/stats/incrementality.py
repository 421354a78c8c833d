"""Incrementality against a holdout: what the ads caused, at what cost, on whom.

Pure math on per-arm moments of four per-lead values — conversions, revenue, reached, spend —
vectorised over any leading batch axes (replications, arms, segments). Every quantity is either
a linear combination of arm means (the intent-to-treat difference, incremental revenue) or a
ratio of two (effect on the reached, cost per incremental conversion, iROAS); ratios get
Fieller's confidence set, which inverts the same Wald statistic as the difference and so is
open-ended exactly when the denominator's own interval contains 0 (Fieller 1954; Franz 2007).

A per-lead value that is known rather than measured (a spend total per arm, a reach share from
the ad export) enters as a constant column: its variance is 0 and the formulas reduce to the
familiar ones (e.g. cost per incremental = spend / (n · [d_low, d_high])).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import FloatArray, check_alpha

__all__ = [
    "CONVERSIONS",
    "REACHED",
    "REVENUE",
    "SPEND",
    "VALUES",
    "FiellerSet",
    "IncrementalityArrays",
    "fieller_ratio",
    "incrementality_arrays",
    "incrementality_factor",
    "positive_part",
    "unit_moments",
]

#: Order of the per-lead values in the moment arrays.
VALUES: tuple[str, ...] = ("conversions", "revenue", "reached", "spend")
CONVERSIONS, REVENUE, REACHED, SPEND = range(4)


class FiellerSet(NamedTuple):
    """Confidence set for a ratio. ``kind``: 0 interval ``[low, high]``; 1 the complement
    ``(-inf, low] U [high, inf)``; 2 the whole line (``low = -inf``, ``high = inf``)."""

    estimate: FloatArray
    low: FloatArray
    high: FloatArray
    kind: np.ndarray


def fieller_ratio(
    num: ArrayLike, den: ArrayLike, var_num: ArrayLike, var_den: ArrayLike, cov: ArrayLike,
    critical: ArrayLike,
) -> FiellerSet:
    """Fieller set for ``theta = N / D`` from jointly normal estimates ``N``, ``D``.

    theta is in the set when ``(N - theta D)^2 <= q^2 (v_N - 2 theta c + theta^2 v_D)``, i.e.
    ``A theta^2 - 2 B theta + C <= 0`` with ``A = D^2 - q^2 v_D``, ``B = N D - q^2 c``,
    ``C = N^2 - q^2 v_N`` (Fieller 1954, eq. 5). ``A > 0`` (D's own interval excludes 0) gives
    a bounded interval; otherwise the set is unbounded: a complement of two rays or the line.

    >>> fs = fieller_ratio(10.0, 2.0, 1.0, 0.1, 0.0, 1.96)   # D = 2 is clearly away from 0
    >>> int(fs.kind), round(float(fs.low), 2), round(float(fs.high), 2)
    (0, 3.53, 7.53)
    >>> fs = fieller_ratio(10.0, 0.5, 1.0, 0.1, 0.0, 1.96)   # D's interval contains 0
    >>> int(fs.kind), round(float(fs.high), 2)   # everything outside (-83.16, 8.62)
    (1, 8.62)
    """
    n, d, vn, vd, c, q = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in
                                               (num, den, var_num, var_den, cov, critical)))
    q2 = q * q
    a = d * d - q2 * vd
    b = n * d - q2 * c
    cc = n * n - q2 * vn
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        est = np.where(d != 0, n / np.where(d != 0, d, 1.0), np.sign(n) * np.inf)
        disc = b * b - a * cc
        sq = np.sqrt(np.maximum(disc, 0.0))
        r1 = (b - sq) / a
        r2 = (b + sq) / a
    lo_root, hi_root = np.minimum(r1, r2), np.maximum(r1, r2)
    bounded = a > 0
    complement = (a < 0) & (disc > 0)
    kind = np.where(bounded, 0, np.where(complement, 1, 2))
    low = np.where(kind == 2, -np.inf, lo_root)
    high = np.where(kind == 2, np.inf, hi_root)
    # a == 0 (D exactly at its critical value): one ray towards the estimate's side.
    edge = a == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = cc / (2 * b)
    low = np.where(edge & (b > 0), lin, np.where(edge, -np.inf, low))
    high = np.where(edge & (b < 0), lin, np.where(edge, np.inf, high))
    kind = np.where(edge, 0, kind)
    return FiellerSet(est, low, high, kind)


def positive_part(fs: FiellerSet) -> tuple[FloatArray, FloatArray]:
    """The smallest interval holding the set's positive values: ``[low, high]`` with
    ``high = inf`` when the set is open-ended. Used for costs, which are only meaningful > 0."""
    low = np.where(fs.kind == 0, np.maximum(fs.low, 0.0),
                   np.where((fs.kind == 1) & (fs.low <= 0), np.maximum(fs.high, 0.0), 0.0))
    high = np.where(fs.kind == 0, np.maximum(fs.high, 0.0), np.inf)
    return low, high


def unit_moments(values: ArrayLike, *, axis: int = -2) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(n, mean, cov)`` of per-lead value vectors along ``axis`` (units), values on the last.

    ``cov`` is the sample covariance (ddof = 1) of one lead's values, shape ``(..., k, k)``.
    """
    x = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -2)
    n = x.shape[-2]
    if n < 2:
        raise ValueError("need at least two leads per arm to estimate a variance")
    mean = x.mean(axis=-2)
    dev = x - mean[..., None, :]
    cov = np.einsum("...ik,...il->...kl", dev, dev) / (n - 1)
    return np.full(mean.shape[:-1], float(n)), mean, cov


class IncrementalityArrays(NamedTuple):
    """Per treated arm (batch shape of the inputs). Totals are over the treated arm's leads.

    ``itt``: intent-to-treat difference in conversions per lead vs the holdout; ``cpi``: cost
    per incremental conversion (``inf`` when the increment is <= 0) with the positive part of its
    Fieller set (``cpi_high = inf`` exactly when the increment's interval contains 0).
    """

    critical: FloatArray
    itt: FloatArray
    itt_se: FloatArray
    incremental: FloatArray
    incremental_low: FloatArray
    incremental_high: FloatArray
    incremental_revenue: FloatArray
    revenue_low: FloatArray
    revenue_high: FloatArray
    reached_share: FloatArray
    effect_on_reached: FloatArray
    reached_low: FloatArray
    reached_high: FloatArray
    spend: FloatArray
    cpi: FloatArray
    cpi_low: FloatArray
    cpi_high: FloatArray
    cpi_open: np.ndarray
    iroas: FloatArray
    iroas_low: FloatArray
    iroas_high: FloatArray


def _quad(cov: FloatArray, u: FloatArray, v: FloatArray) -> FloatArray:
    return np.einsum("...k,...kl,...l->...", u, cov, v)


def incrementality_arrays(
    treated_n: ArrayLike,
    treated_mean: ArrayLike,
    treated_cov: ArrayLike,
    control_n: ArrayLike,
    control_mean: ArrayLike,
    control_cov: ArrayLike,
    *,
    alpha: float = 0.05,
    extra_var: ArrayLike = 0.0,
) -> IncrementalityArrays:
    """Incremental conversions, revenue, effect on the reached, cost per incremental, iROAS.

    Means have the :data:`VALUES` on the last axis (shape ``(..., 4)``), covariances are per-lead
    sample covariances ``(..., 4, 4)``; arms are independent, so the mean vector's covariance is
    ``cov_t / n_t`` and ``cov_c / n_c``. The control's reached and spend are not used: the holdout
    sees no ads and its would-be-reached share equals the treated arm's by randomisation, which
    makes ``itt / reached_share`` the effect of treatment on the treated (Bloom 1984). Two-sided
    normal intervals at level ``1 - alpha``. ``extra_var`` adds to the variance of the ITT
    difference (e.g. a nowcast's uncertainty about immature leads).
    """
    q = float(special.ndtri(1 - check_alpha(alpha) / 2))
    nt = np.asarray(treated_n, dtype=np.float64)
    nc = np.asarray(control_n, dtype=np.float64)
    if np.any(nt < 2) or np.any(nc < 2):
        raise ValueError("each arm and the holdout need at least two leads")
    mt = np.asarray(treated_mean, dtype=np.float64)
    mc = np.asarray(control_mean, dtype=np.float64)
    vt = np.asarray(treated_cov, dtype=np.float64) / nt[..., None, None]
    vc = np.asarray(control_cov, dtype=np.float64) / nc[..., None, None]
    eye = np.eye(len(VALUES))
    conv, rev, reach, spend = (np.broadcast_to(eye[i], mt.shape) for i in range(4))

    def var(u_t: FloatArray, u_c: FloatArray, w_t: FloatArray, w_c: FloatArray) -> FloatArray:
        return _quad(vt, u_t, w_t) + _quad(vc, u_c, w_c)

    zero = np.zeros_like(mt)
    extra = np.asarray(extra_var, dtype=np.float64)
    # ITT difference in conversions (t - c) and in revenue (t - c)
    itt = mt[..., CONVERSIONS] - mc[..., CONVERSIONS]
    v_itt = var(conv, conv, conv, conv) + extra
    itt_se = np.sqrt(v_itt)
    d_rev = mt[..., REVENUE] - mc[..., REVENUE]
    v_rev = var(rev, rev, rev, rev)
    share = mt[..., REACHED]
    s_lead = mt[..., SPEND]  # spend per treated lead

    tot = fieller_ratio(itt, share, v_itt, var(reach, zero, reach, zero),
                        var(conv, conv, reach, zero), q)
    # cost per incremental = (spend per lead) / itt; numerator only in the treated arm
    cpi_set = fieller_ratio(s_lead, itt, var(spend, zero, spend, zero), v_itt,
                            var(spend, zero, conv, conv), q)
    cpi_low, cpi_high = positive_part(cpi_set)
    cpi = np.where(itt > 0, cpi_set.estimate, np.inf)
    iroas_set = fieller_ratio(d_rev, s_lead, v_rev, var(spend, zero, spend, zero),
                              var(rev, rev, spend, zero), q)
    no_spend = s_lead <= 0
    nan = np.full(np.shape(itt), np.nan)
    return IncrementalityArrays(
        critical=np.full(np.shape(itt), q),
        itt=itt,
        itt_se=itt_se,
        incremental=itt * nt,
        incremental_low=(itt - q * itt_se) * nt,
        incremental_high=(itt + q * itt_se) * nt,
        incremental_revenue=d_rev * nt,
        revenue_low=(d_rev - q * np.sqrt(v_rev)) * nt,
        revenue_high=(d_rev + q * np.sqrt(v_rev)) * nt,
        reached_share=share,
        effect_on_reached=tot.estimate,
        reached_low=tot.low,
        reached_high=tot.high,
        spend=s_lead * nt,
        cpi=np.where(no_spend, nan, cpi),
        cpi_low=np.where(no_spend, nan, cpi_low),
        cpi_high=np.where(no_spend, nan, cpi_high),
        cpi_open=~no_spend & ~np.isfinite(cpi_high),
        iroas=np.where(no_spend, nan, iroas_set.estimate),
        iroas_low=np.where(no_spend, nan, iroas_set.low),
        iroas_high=np.where(no_spend, nan, iroas_set.high),
    )


def incrementality_factor(
    incremental: ArrayLike, low: ArrayLike, high: ArrayLike, attributed: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Incremental ÷ platform-attributed conversions, with the increment's interval scaled.

    The attributed count is what the platform reports for the same arm and window: a known
    number, not an estimate, so the factor's interval is the increment's divided by it. NaN where
    nothing was attributed.
    """
    a = np.asarray(attributed, dtype=np.float64)
    safe = np.where(a > 0, a, np.nan)
    return (np.asarray(incremental, dtype=np.float64) / safe,
            np.asarray(low, dtype=np.float64) / safe, np.asarray(high, dtype=np.float64) / safe)
