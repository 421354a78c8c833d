"""CUPED: variance reduction with a pre-period covariate, on per-arm sufficient statistics.

Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled experiments by
utilizing pre-experiment data". With one pre-period covariate x per user (e.g. conversions or
spend in the 28 days before the test) the adjusted outcome y − θ(x − x̄) has variance
σ²_y(1 − ρ²), so the same test needs ~ρ² fewer users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import (
    as_float,
    broadcast_arms,
    check_alpha,
    check_positive,
    comparison_frame,
)
from abtest.stats.sequential import _fieller_ratio_ci

__all__ = ["cuped_test"]


def cuped_test(
    n: ArrayLike,
    y_sum: ArrayLike,
    y_sum_sq: ArrayLike,
    x_sum: ArrayLike,
    x_sum_sq: ArrayLike,
    xy_sum: ArrayLike,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Regression-adjusted (CUPED) comparison of each arm's mean with control.

    Inputs are per-arm sufficient statistics over users (arms on axis 0, control first; further
    axes are independent comparisons): ``n``, Σy, Σy², Σx, Σx², Σxy with y the in-test outcome and
    x the pre-period covariate.

    Method: θ is pooled *within* arms over all arms, θ = Σ_arms S_xy / Σ_arms S_xx (centred sums),
    which makes the absolute effect identical to the arm coefficient of the OLS fit
    ``y ~ C(arm) + (x − x̄)`` (ANCOVA). Its standard error is Welch-type, from each arm's residual
    variance (S_yy − 2θS_xy + θ²S_xx)/(n − 1), so unequal variances and unequal arm sizes are
    handled; the uncertainty of θ itself is O(1/n) and ignored, as in GrowthBook and tea-tasting.
    Intervals use the normal quantile. The relative lift is (adjusted mean of arm)/(adjusted mean
    of control) − 1, adjusted means being ȳ − θ(x̄_arm − x̄_all), with Fieller's interval at the
    same critical value, so it excludes 0 exactly when p < alpha.

    ``variance_reduction`` = 1 − Var(adjusted effect)/Var(unadjusted effect) (≈ ρ² for equal
    arms). A constant covariate gives θ = 0 (no adjustment, variance_reduction 0). Zero variance in
    both arms gives std_error 0 and p = 1 when the difference is 0 (p = 0 otherwise).

    Returns one row per non-control arm: ``comparison, arm, p_value, abs_diff, abs_ci_low,
    abs_ci_high, rel_lift, rel_ci_low, rel_ci_high, std_error, control_mean, treatment_mean,
    theta, variance_reduction``.
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

    diff = m_adj[1:] - m_adj[:1]
    var = v_adj[1:] + v_adj[:1]
    se = np.sqrt(var)
    z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    p = 2.0 * special.ndtr(-np.abs(z))
    crit = special.ndtri(1.0 - alpha / 2.0)
    if np.any(m_adj[:1] == 0):
        raise ValueError("control adjusted mean is 0: relative lift is undefined")
    rlo, rhi = _fieller_ratio_ci(
        m_adj[:1], v_adj[:1], m_adj[1:], v_adj[1:], np.full(diff.shape, crit)
    )
    var_raw = v_raw[1:] + v_raw[:1]
    reduction = np.where(var_raw > 0, 1.0 - var / np.where(var_raw > 0, var_raw, 1.0), 0.0)
    cols = {
        "p_value": p,
        "abs_diff": diff,
        "abs_ci_low": diff - crit * se,
        "abs_ci_high": diff + crit * se,
        "rel_lift": m_adj[1:] / m_adj[:1] - 1.0,
        "rel_ci_low": rlo,
        "rel_ci_high": rhi,
        "std_error": se,
        "control_mean": np.broadcast_to(m_adj[:1], diff.shape),
        "treatment_mean": m_adj[1:],
        "theta": np.broadcast_to(theta, diff.shape),
        "variance_reduction": reduction,
    }
    return comparison_frame(cols, n_arms=nn.shape[0], batch_shape=nn.shape[1:])
