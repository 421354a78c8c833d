"""CUPED: variance reduction with a pre-period covariate, on per-arm sufficient statistics.

Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled experiments by
utilizing pre-experiment data". With one pre-period covariate x per user (e.g. conversions or
spend in the 28 days before the test) the adjusted outcome y − θ(x − x̄) has variance
σ²_y(1 − ρ²), so the same test needs ~ρ² fewer users.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import (
    Alternative,
    FloatArray,
    as_float,
    broadcast_arms,
    check_alpha,
    check_positive,
)
from abtest.stats.fieller import fieller_interval_cov
from abtest.stats.frequentist import ComparisonResult, difference_test, result_frame

__all__ = ["CupedResult", "cuped_arrays", "cuped_test"]


class CupedResult(NamedTuple):
    """CUPED comparison: the :class:`ComparisonResult` on adjusted means, plus the adjustment.

    ``theta`` has the batch shape broadcast to ``(arms - 1, *batch)``; ``variance_reduction`` is
    ``1 − Var(adjusted effect)/Var(unadjusted effect)`` per treatment arm.
    """

    result: ComparisonResult
    theta: FloatArray
    variance_reduction: FloatArray
    #: Full variances of the adjusted control / treatment means and their covariance, shape
    #: ``(arms - 1, *batch)`` (``v_t + v_c − 2c`` equals the residual variance of the difference).
    control_var_full: FloatArray | None = None
    treatment_var_full: FloatArray | None = None
    covariance: FloatArray | None = None


def cuped_arrays(
    n: ArrayLike,
    y_sum: ArrayLike,
    y_sum_sq: ArrayLike,
    x_sum: ArrayLike,
    x_sum_sq: ArrayLike,
    xy_sum: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> CupedResult:
    """Regression-adjusted (CUPED) comparison of each arm's mean with control, as arrays.

    Inputs are per-arm sufficient statistics over users (arms on axis 0, control first; further
    axes are independent comparisons): ``n``, Σy, Σy², Σx, Σx², Σxy with y the in-test outcome and
    x the pre-period covariate.

    Method: θ is pooled *within* arms over all arms, θ = Σ_arms S_xy / Σ_arms S_xx (centred sums),
    which makes the absolute effect identical to the arm coefficient of the OLS fit
    ``y ~ C(arm) + (x − x̄)`` (ANCOVA). Each arm's adjusted mean is ȳ − θ(x̄_arm − x̄_all) and its
    variance the residual variance (S_yy − 2θS_xy + θ²S_xx)/(n − 1) divided by n, so unequal
    variances and arm sizes are handled (Welch-type); the uncertainty of θ itself is O(1/n) and
    ignored, as in GrowthBook and tea-tasting. These adjusted means and variances go through
    :func:`~abtest.stats.frequentist.difference_test` (normal quantile), so the absolute interval,
    the p-value and the relative lift (adjusted arm mean vs adjusted control mean, Fieller's set
    with ``rel_ci_complement``) follow exactly the conventions of every other abtest test, and
    the relative set excludes 0 exactly when p < alpha.

    Relative lift: the adjusted means are correlated (both contain θ·x̄_all) and the adjusted
    control mean ȳ_c − θ(x̄_c − x̄_all) has variance Var(ȳ_c − θ(1 − w_c)x̄_c) + θ² Σ_{k≠c}
    w_k² Var(x̄_k) (w_k = n_k / N), much larger than its residual variance when ρ is high. The
    relative set is Fieller's set for the ratio of the adjusted means with these full variances
    and their covariance (:func:`~abtest.stats.fieller.fieller_interval_cov`; the delta method on
    the ratio of adjusted means is its large-sample form, as GrowthBook's fix of the same bug).
    At a lift of 0 it is the ANCOVA test of the difference, so it still excludes 0 iff p < alpha.
    """
    alpha = check_alpha(alpha)
    a = broadcast_arms(
        n=as_float(n, "n"),
        y=as_float(y_sum, "y_sum", nonnegative=False),
        yy=as_float(y_sum_sq, "y_sum_sq"),
        x=as_float(x_sum, "x_sum", nonnegative=False),
        xx=as_float(x_sum_sq, "x_sum_sq"),
        xy=as_float(xy_sum, "xy_sum", nonnegative=False),
    )
    nn = a["n"]
    check_positive(nn, "n", "users")
    if np.any(nn < 2):
        raise ValueError("n: every arm needs at least 2 users to estimate a variance")
    ybar, xbar = a["y"] / nn, a["x"] / nn
    s_yy = np.maximum(a["yy"] - nn * ybar**2, 0.0)
    s_xx = np.maximum(a["xx"] - nn * xbar**2, 0.0)
    s_xy = a["xy"] - nn * xbar * ybar
    sxx_pool = s_xx.sum(axis=0)
    theta = np.where(sxx_pool > 0, s_xy.sum(axis=0) / np.where(sxx_pool > 0, sxx_pool, 1.0), 0.0)
    resid_ss = np.maximum(s_yy - 2.0 * theta * s_xy + theta**2 * s_xx, 0.0)
    v_adj = resid_ss / (nn - 1.0) / nn  # variance of each arm's adjusted mean
    v_raw = s_yy / (nn - 1.0) / nn
    x_all = a["x"].sum(axis=0) / nn.sum(axis=0)
    m_adj = ybar - theta * (xbar - x_all)
    res = difference_test(m_adj, v_adj, n=nn, use_t=False, alpha=alpha, alternative=alternative)
    v_full, cov = _adjusted_mean_moments(nn, s_yy, s_xx, s_xy, theta)
    q = np.full(res.abs_diff.shape, _critical(alpha, alternative))
    rlo, rhi, comp = fieller_interval_cov(res.control_mean, v_full[:1], res.treatment_mean,
                                          v_full[1:], cov, q,
                                          alternative=alternative)
    exact = res.std_error == 0  # difference known exactly: keep the degenerate convention
    res = res._replace(rel_ci_low=np.where(exact, res.rel_ci_low, rlo),
                       rel_ci_high=np.where(exact, res.rel_ci_high, rhi),
                       rel_ci_complement=np.where(exact, res.rel_ci_complement, comp))
    var = v_adj[1:] + v_adj[:1]
    var_raw = v_raw[1:] + v_raw[:1]
    reduction = np.where(var_raw > 0, 1.0 - var / np.where(var_raw > 0, var_raw, 1.0), 0.0)
    return CupedResult(res, np.broadcast_to(theta, var.shape).copy(), reduction,
                       np.broadcast_to(v_full[:1], var.shape).copy(), v_full[1:].copy(), cov)


def _critical(alpha: float, alternative: str) -> float:
    tail = alpha / 2 if alternative == "two-sided" else alpha
    return float(special.ndtri(1.0 - tail))


def _adjusted_mean_moments(nn: FloatArray, s_yy: FloatArray, s_xx: FloatArray,
                           s_xy: FloatArray, theta: FloatArray
                           ) -> tuple[FloatArray, FloatArray]:
    """Var of each arm's adjusted mean and Cov(treatment, control), θ held fixed.

    m_j = ȳ_j − θ x̄_j + θ Σ_k w_k x̄_k with independent arms and per-arm moments
    V_yy = S_yy/((n−1)n), V_xy, V_xx alike; the coefficient of x̄_k in m_j is θ(w_k − δ_jk).
    """
    vyy, vxx, vxy = (s / (nn - 1.0) / nn for s in (s_yy, s_xx, s_xy))
    w = nn / nn.sum(axis=0)
    k = nn.shape[0]
    eye = np.eye(k).reshape((k, k) + (1,) * (nn.ndim - 1))
    b = theta * (w[None, ...] - eye)  # b[j, k]: coefficient of x̄_k in arm j's adjusted mean
    diag_b = np.einsum("jj...->j...", b)
    v_full = vyy + 2.0 * diag_b * vxy + (b * b * vxx[None, ...]).sum(axis=1)
    # Cov(m_t, m_c): ȳ_t with x̄_t in m_c (b[c, t]), x̄_c with ȳ_c (b[t, c]), Σ_k b_tk b_ck V_xx,k
    bt, bc = b[1:], b[:1]
    cov = b[0, 1:] * vxy[1:] + b[1:, 0] * vxy[:1] + (bt * bc * vxx[None, ...]).sum(axis=1)
    return v_full, cov


def cuped_test(
    n: ArrayLike,
    y_sum: ArrayLike,
    y_sum_sq: ArrayLike,
    x_sum: ArrayLike,
    x_sum_sq: ArrayLike,
    xy_sum: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> pd.DataFrame:
    """CUPED comparison of each arm's mean with control as a tidy table (see :func:`cuped_arrays`).

    Columns: those of :func:`~abtest.stats.frequentist.proportion_test` (``method`` is
    ``"cuped-z"``; ``control_mean``/``treatment_mean`` are the *adjusted* means; ``rel_ci_shape``
    says whether the relative set is an interval or the complement of one) plus ``theta`` and
    ``variance_reduction`` (≈ ρ² for equal arms). A constant covariate gives θ = 0 (no
    adjustment, variance_reduction 0). Zero variance in both arms gives std_error 0 and p = 1 when
    the difference is 0 (p = 0 otherwise). An adjusted control mean of exactly 0 gives the
    documented infinite relative values of :func:`~abtest.stats.frequentist.fieller_interval`,
    never NaN.
    """
    out = cuped_arrays(n, y_sum, y_sum_sq, x_sum, x_sum_sq, xy_sum, alpha=alpha,
                       alternative=alternative)
    shape = out.result.p_value.shape
    df = result_frame(out.result, method="cuped-z", alpha=alpha, alternative=alternative,
                      n_arms=shape[0] + 1, batch_shape=shape[1:])
    nb = int(np.prod(shape[1:], dtype=np.int64)) if shape[1:] else 1
    for name, arr in (("theta", out.theta), ("variance_reduction", out.variance_reduction)):
        df[name] = np.asarray(arr).reshape(shape[0], nb).T.reshape(-1)
    return df
