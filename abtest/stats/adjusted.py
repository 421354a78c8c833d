"""Intervals that agree with multiplicity-adjusted decisions.

A verdict uses the adjusted p-value (Holm, Benjamini-Hochberg, Bonferroni), so the interval
shown beside it must be at the same adjusted level. For a row with p-value ``p`` and adjusted
p-value ``p_adj`` the *decision level* is ``α' = α·p / p_adj``: ``p < α'`` exactly when
``p_adj < α``. Bonferroni gives ``α' = α/m`` (simultaneous intervals); Holm gives each row its
step-down level (``α/(m − j + 1)`` for the j-th smallest p before monotonisation), the
decision-compatible reading of Holm's procedure (Strassburger & Bretz 2008 discuss compatible
bounds); Benjamini-Hochberg gives ``α·rank/m``-type levels, the false-coverage-rate intervals of
Benjamini & Yekutieli (2005). Each interval is the row's own test inverted at ``α'`` — the
absolute ``d ± q(α')·SE`` and Fieller's relative set with the same ``q`` — so it excludes 0
exactly when the verdict is better / worse.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from abtest.stats._arrays import FloatArray
from abtest.stats.fieller import fieller_interval_cov

__all__ = ["contrast_intervals", "critical_values", "decision_alpha"]


def decision_alpha(p_value: ArrayLike, p_adjusted: ArrayLike, alpha: float) -> FloatArray:
    """``α·p/p_adj`` per row (``α`` where ``p_adj`` is 0 or equals ``p``)."""
    p = np.asarray(p_value, dtype=float)
    pa = np.asarray(p_adjusted, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((pa > 0) & (pa > p), alpha * p / np.where(pa > 0, pa, 1.0), alpha)
    return np.clip(out, 1e-300, alpha)


def critical_values(level: ArrayLike, dof: ArrayLike, *, sequential_nr2: ArrayLike | None = None
                    ) -> FloatArray:
    """Two-sided critical values at ``level`` per row: normal (``dof = inf``), Student t, or
    — with ``sequential_nr2 = Nρ²`` — the always-valid multiplier
    ``sqrt(2(Nρ²+1)/(Nρ²)·ln(sqrt(Nρ²+1)/level))`` with ρ fixed by the design level."""
    a = np.asarray(level, dtype=float)
    df = np.asarray(dof, dtype=float)
    a, df = np.broadcast_arrays(a, df)
    if sequential_nr2 is not None:
        nr2 = np.broadcast_to(np.asarray(sequential_nr2, dtype=float), a.shape)
        return np.sqrt(2.0 * (nr2 + 1.0) / nr2 * np.log(np.sqrt(nr2 + 1.0) / a))
    z = special.ndtri(1.0 - a / 2.0)
    with np.errstate(invalid="ignore"):
        t = stats.t.isf(a / 2.0, np.where(np.isfinite(df), df, 1.0))
    return np.where(np.isfinite(df), t, z)


def contrast_intervals(
    control_mean: ArrayLike, control_var: ArrayLike, treatment_mean: ArrayLike,
    treatment_var: ArrayLike, covariance: ArrayLike, critical_value: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray]:
    """``(abs_low, abs_high, rel_low, rel_high, rel_complement)`` at the given critical values.

    Standard error of the difference ``sqrt(v_t + v_c − 2c)``; a known difference (SE 0) gives
    ``[d, d]``. Relative set: :func:`~abtest.stats.fieller.fieller_interval_cov`.
    """
    mc, vc, mt, vt, c, q = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (control_mean, control_var, treatment_mean,
                                                treatment_var, covariance, critical_value)))
    d = mt - mc
    se = np.sqrt(np.maximum(vt + vc - 2.0 * c, 0.0))
    with np.errstate(invalid="ignore"):
        half = np.where(se > 0, q * se, 0.0)
    lo, hi, comp = fieller_interval_cov(mc, vc, mt, vt, c, q)
    return d - half, d + half, lo, hi, comp
