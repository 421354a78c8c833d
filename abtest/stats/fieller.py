"""Fieller's confidence set for a relative lift when the two means are correlated.

CUPED-adjusted means share the pooled covariate mean, and arms paired by day share the day
effect, so ``Cov(m_t, m_c) != 0``. Fieller's general set (Fieller 1954; Franz 2007, eq. 3) is
``{r : (m_t − r m_c)² ≤ q² (v_t − 2 r c + r² v_c)}`` for the ratio ``r = m_t / m_c``. Writing
``m_t' = m_t − β m_c`` with ``β = c / v_c`` makes ``m_t'`` and ``m_c`` uncorrelated and
``r = β + m_t'/m_c`` exactly, so the set is the uncorrelated Fieller set
(:func:`abtest.stats.frequentist.fieller_interval`) shifted by ``β``. At ``r = 1`` the condition
is the test of ``m_t − m_c`` with variance ``v_t + v_c − 2c``, so the set excludes a lift of 0
exactly when that test rejects.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from abtest.stats._arrays import Alternative, FloatArray
from abtest.stats.frequentist import fieller_interval

__all__ = ["fieller_interval_cov"]


def fieller_interval_cov(
    control_mean: ArrayLike,
    control_var: ArrayLike,
    treatment_mean: ArrayLike,
    treatment_var: ArrayLike,
    covariance: ArrayLike,
    critical_value: ArrayLike,
    *,
    alternative: Alternative = "two-sided",
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Relative-lift set ``(m_t − m_c)/|m_c|`` with ``Cov(m_t, m_c)`` taken into account.

    Same return convention as :func:`~abtest.stats.frequentist.fieller_interval`
    (``low, high, complement``); with ``covariance = 0`` it is that function.
    """
    mc, vc, mt, vt, c = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in
          (control_mean, control_var, treatment_mean, treatment_var, covariance)))
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(vc > 0, c / np.where(vc > 0, vc, 1.0), 0.0)
    mt2 = mt - beta * mc
    vt2 = np.maximum(vt - beta * c, 0.0)
    low, high, comp = fieller_interval(mc, vc, mt2, vt2, critical_value, alternative=alternative)
    shift = np.where(mc < 0, -1.0, 1.0) * beta
    return low + shift, high + shift, comp
