"""Frequentist comparisons of each treatment arm against the control (arm 0).

Proportions (unpooled Wald z), means (Welch t) and ratio metrics (delta method with the
numerator-denominator covariance, Welch t) from sufficient statistics, vectorised over any
number of comparisons. Every test reports the absolute difference and the relative lift with
intervals that agree exactly with its p-value (see :func:`fieller_interval`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

from abtest.stats._arrays import (
    Alternative,
    FloatArray,
    as_float,
    broadcast_arms,
    check_alpha,
    check_alternative,
    check_positive,
    comparison_frame,
    text_column,
)

__all__ = [
    "ComparisonResult",
    "difference_test",
    "fieller_interval",
    "interval_excludes",
    "mean_test",
    "mean_test_arrays",
    "proportion_test",
    "proportion_test_arrays",
    "ratio_test",
    "ratio_test_arrays",
    "result_frame",
]


class ComparisonResult(NamedTuple):
    """Arrays of shape ``(arms - 1, *batch)``: each treatment arm against the control.

    ``control_var``/``treatment_var`` are variances of the arm means (squared standard
    errors). ``dof`` is ``inf`` for z tests. ``rel_ci_complement`` is True where the relative
    confidence set is ``(-inf, rel_ci_low] U [rel_ci_high, inf)`` (Fieller's exclusive case).
    """

    control_mean: FloatArray
    treatment_mean: FloatArray
    control_var: FloatArray
    treatment_var: FloatArray
    control_n: FloatArray
    treatment_n: FloatArray
    abs_diff: FloatArray
    std_error: FloatArray
    statistic: FloatArray
    dof: FloatArray
    p_value: FloatArray
    abs_ci_low: FloatArray
    abs_ci_high: FloatArray
    rel_lift: FloatArray
    rel_ci_low: FloatArray
    rel_ci_high: FloatArray
    rel_ci_complement: np.ndarray


def _critical_value(alpha: float, alternative: str, dof: FloatArray) -> FloatArray:
    tail = alpha / 2 if alternative == "two-sided" else alpha
    z = special.ndtri(1.0 - tail)
    with np.errstate(invalid="ignore"):
        t = stats.t.isf(tail, np.where(np.isfinite(dof), dof, 1.0))
    return np.where(np.isfinite(dof), t, z)


def _p_value(statistic: FloatArray, dof: FloatArray, alternative: str) -> FloatArray:
    finite_dof = np.where(np.isfinite(dof), dof, 1.0)

    def sf(x: FloatArray) -> FloatArray:
        return np.where(np.isfinite(dof), stats.t.sf(x, finite_dof), special.ndtr(-x))

    if alternative == "two-sided":
        return np.minimum(1.0, 2.0 * sf(np.abs(statistic)))
    if alternative == "greater":
        return sf(statistic)
    return sf(-statistic)


def fieller_interval(
    control_mean: ArrayLike,
    control_var: ArrayLike,
    treatment_mean: ArrayLike,
    treatment_var: ArrayLike,
    critical_value: ArrayLike,
    *,
    alternative: Alternative = "two-sided",
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Fieller confidence set for the relative lift ``(mu_t - mu_c) / |mu_c|``.

    Inverts the same Wald/Welch statistic used for the p-value: theta is in the set when
    ``T(theta) = (m_t - m_c - theta |m_c|) / sqrt(v_t + (1 + s theta)^2 v_c)`` (s = sign m_c)
    is not rejected with the same critical value. At theta = 0 this is exactly the test of
    the difference, so the set excludes 0 if and only if p < alpha (Fieller 1954; Franz 2007,
    "Ratios: a short guide to confidence limits and proper use"). The log-ratio and delta
    method intervals used by other engines lack this guarantee.

    Returns ``(low, high, complement)``. When the control mean is distinguishable from zero
    (``m_c^2 > q^2 v_c``) the set is the interval ``[low, high]`` (one end infinite for
    one-sided alternatives). Otherwise it is unbounded: either the whole line
    (``-inf, inf``) or, where ``complement`` is True, ``(-inf, low] U [high, inf)``.
    A control mean of exactly 0 with no variance (e.g. zero control conversions) gives an
    infinite lift: ``[inf, inf]`` (or ``[-inf, -inf]``) when significant, else the whole line.
    """
    mc, vc, mt, vt, q = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in
          (control_mean, control_var, treatment_mean, treatment_var, critical_value))
    )
    # The set is scale-invariant: work in units of the largest input so that squares neither
    # underflow nor overflow (means ~1e-120 would otherwise lose the variance terms).
    with np.errstate(over="ignore"):
        scale = np.maximum.reduce([np.abs(mc), np.abs(mt), np.sqrt(vc), np.sqrt(vt)])
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    mc, mt = mc / scale, mt / scale
    vc, vt = (np.sqrt(vc) / scale) ** 2, (np.sqrt(vt) / scale) ** 2
    d = mt - mc
    c0 = np.abs(mc)
    s = np.where(mc < 0, -1.0, 1.0)
    q2 = q * q
    a = c0 * c0 - q2 * vc
    b = d * c0 + q2 * s * vc
    c = d * d - q2 * (vt + vc)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta_hat = np.where(c0 > 0, d / c0, np.where(d == 0, 0.0, np.sign(d) * np.inf))
        disc = np.maximum(b * b - a * c, 0.0)
        sq = np.sqrt(disc)
        sign_b = np.where(b >= 0, 1.0, -1.0)
        big = b + sign_b * sq  # no cancellation
        r_big = big / a
        r_small = np.where(big != 0, c / big, 0.0)
        lin = c / (2 * b)
    lo_root = np.minimum(r_big, r_small)
    hi_root = np.maximum(r_big, r_small)

    low = np.full(mc.shape, -np.inf)
    high = np.full(mc.shape, np.inf)
    comp = np.zeros(mc.shape, dtype=bool)
    pos = a > 0
    low = np.where(pos, lo_root, low)
    high = np.where(pos, hi_root, high)
    neg_two = (a < 0) & (b * b - a * c > 0)
    low = np.where(neg_two, lo_root, low)
    high = np.where(neg_two, hi_root, high)
    comp = comp | neg_two
    # a == 0: the quadratic degenerates to -2 b theta + c <= 0.
    zero = a == 0
    ray_up = zero & (b > 0)
    ray_down = zero & (b < 0)
    low = np.where(ray_up, lin, low)
    high = np.where(ray_down, lin, high)
    empty = zero & (b == 0) & (c > 0)  # control exactly 0 without variance, significant
    low = np.where(empty, theta_hat, low)
    high = np.where(empty, theta_hat, high)

    if alternative == "greater":  # union with [theta_hat, inf)
        swallow = comp & (theta_hat <= low)
        low = np.where(comp, np.where(swallow, -np.inf, low), np.minimum(low, theta_hat))
        high = np.where(comp & ~swallow, high, np.inf)
        comp = comp & ~swallow
    elif alternative == "less":  # union with (-inf, theta_hat]
        swallow = comp & (theta_hat >= high)
        high = np.where(comp, np.where(swallow, np.inf, high), np.maximum(high, theta_hat))
        low = np.where(comp & ~swallow, low, -np.inf)
        comp = comp & ~swallow
    return low, high, comp


def interval_excludes(
    low: ArrayLike, high: ArrayLike, complement: ArrayLike = False, value: float = 0.0
) -> np.ndarray:
    """True where the confidence set excludes ``value`` (handles ``rel_ci_shape`` complement).

    ``complement`` may be a boolean array or the ``rel_ci_shape`` strings of a results table.
    """
    lo = np.asarray(low, dtype=np.float64)
    hi = np.asarray(high, dtype=np.float64)
    comp = np.asarray(complement)
    if comp.dtype.kind in "UO":
        comp = comp == "complement"
    comp = comp.astype(bool)
    inside = np.where(comp, (lo < value) & (value < hi), (value < lo) | (value > hi))
    return inside


def difference_test(
    means: ArrayLike,
    mean_vars: ArrayLike,
    *,
    n: ArrayLike | None = None,
    use_t: bool = False,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Compare each arm mean with arm 0 given the variances of the means (squared SEs).

    The building block of every test here: ``T = (m_t - m_c) / sqrt(v_t + v_c)`` against a
    normal, or (``use_t``) a t distribution with Welch-Satterthwaite degrees of freedom
    ``(v_t + v_c)^2 / (v_t^2/(n_t-1) + v_c^2/(n_c-1))`` (needs ``n``). Absolute interval
    ``d +/- q SE``; relative lift interval by :func:`fieller_interval` with the same ``q``.
    With zero variance in both arms the limits are used: p = 1 and interval ``[0, 0]`` for
    equal means, p = 0 and ``[d, d]`` otherwise.
    """
    alpha = check_alpha(alpha)
    alternative = check_alternative(alternative)
    m = np.asarray(means, dtype=np.float64)
    v = np.asarray(mean_vars, dtype=np.float64)
    counts = np.ones_like(m) if n is None else np.asarray(n, dtype=np.float64)
    m, v, counts = np.broadcast_arrays(m, v, counts)
    if m.ndim == 0 or m.shape[0] < 2:
        raise ValueError("need at least two arms along axis 0 (control first)")
    mc, vc, nc = m[:1], v[:1], counts[:1]
    mt, vt, nt = m[1:], v[1:], counts[1:]
    mc, vc, nc = (np.broadcast_to(x, mt.shape) for x in (mc, vc, nc))
    d = mt - mc
    var = vt + vc
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, d / se, np.where(d == 0, 0.0, np.sign(d) * np.inf))
        if use_t:
            if n is None:
                raise ValueError("use_t=True needs the arm sizes n for the Welch dof")
            dof = var * var / (vt * vt / (nt - 1) + vc * vc / (nc - 1))
            dof = np.where(var > 0, dof, nt + nc - 2)
        else:
            dof = np.full(d.shape, np.inf)
    q = _critical_value(alpha, alternative, dof)
    p = _p_value(stat, dof, alternative)
    p = np.where(se > 0, p, np.where(stat == 0, 1.0, p))
    lo_abs = d - q * se if alternative != "less" else np.full(d.shape, -np.inf)
    hi_abs = d + q * se if alternative != "greater" else np.full(d.shape, np.inf)
    rel_lo, rel_hi, comp = fieller_interval(mc, vc, mt, vt, q, alternative=alternative)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(mc != 0, d / np.abs(mc), np.where(d == 0, 0.0, np.sign(d) * np.inf))
    return ComparisonResult(
        control_mean=np.array(mc), treatment_mean=mt, control_var=np.array(vc),
        treatment_var=vt, control_n=np.array(nc), treatment_n=nt, abs_diff=d,
        std_error=se, statistic=stat, dof=dof, p_value=p, abs_ci_low=lo_abs,
        abs_ci_high=hi_abs, rel_lift=rel, rel_ci_low=rel_lo, rel_ci_high=rel_hi,
        rel_ci_complement=comp,
    )


def proportion_test_arrays(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Unpooled Wald z test of two proportions, arms along axis 0 (arm 0 = control).

    Variance of each rate ``p (1 - p) / n``; the p-value and the Wald interval use the same
    standard error, so the interval excludes 0 exactly when p < alpha (statsmodels
    ``test_proportions_2indep(method='wald')``/``confint_proportions_2indep(method='wald')``).
    """
    x = as_float(successes, "successes")
    n = as_float(trials, "trials")
    arr = broadcast_arms(successes=x, trials=n)
    x, n = arr["successes"], arr["trials"]
    check_positive(n, "trials", "trials (zero traffic)")
    if np.any(x > n):
        idx = tuple(int(i) for i in np.argwhere(x > n)[0])
        raise ValueError(
            f"successes exceed trials at position {idx} ({x[idx]!r} > {n[idx]!r}); "
            "check that the conversion column and its denominator are not swapped"
        )
    rate = x / n
    return difference_test(rate, rate * (1.0 - rate) / n, n=n, use_t=False,
                           alpha=alpha, alternative=alternative)


def _sample_var(n: FloatArray, s: FloatArray, ss: FloatArray, name: str) -> FloatArray:
    """Sample variance (ddof 1) from count, sum and sum of squares."""
    var = (ss - s * s / n) / (n - 1)
    scale = np.maximum(ss / n, 1.0)
    if np.any(var < -1e-9 * scale):
        idx = tuple(int(i) for i in np.argwhere(var < -1e-9 * scale)[0])
        raise ValueError(
            f"{name}: sum of squares is smaller than sum^2/n at position {idx}; the "
            "sufficient statistics are inconsistent (sum of squares must be of the raw values)"
        )
    return np.maximum(var, 0.0)


def _check_units(n: FloatArray) -> None:
    check_positive(n, "n", "units (zero traffic)")
    if np.any(n < 2):
        idx = tuple(int(i) for i in np.argwhere(n < 2)[0])
        raise ValueError(f"n: arm {idx[0]} has a single unit; a variance needs at least 2")


def mean_test_arrays(
    n: ArrayLike,
    sums: ArrayLike,
    sums_sq: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Welch t test on sufficient statistics (count, sum, sum of squares) per arm."""
    arr = broadcast_arms(n=as_float(n, "n"), sums=as_float(sums, "sums", nonnegative=False),
                         sums_sq=as_float(sums_sq, "sums_sq"))
    n_, s, ss = arr["n"], arr["sums"], arr["sums_sq"]
    _check_units(n_)
    var = _sample_var(n_, s, ss, "sums_sq")
    return difference_test(s / n_, var / n_, n=n_, use_t=True, alpha=alpha,
                           alternative=alternative)


def ratio_test_arrays(
    n: ArrayLike,
    num_sum: ArrayLike,
    num_sum_sq: ArrayLike,
    den_sum: ArrayLike,
    den_sum_sq: ArrayLike,
    cross_sum: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Ratio metric ``sum(num) / sum(den)`` per arm, randomised by unit, via the delta method.

    Per-unit variance of the ratio ``(var_m - 2 r cov_md + r^2 var_d) / dbar^2`` with sample
    (ddof 1) moments, divided by n; Welch t with Welch-Satterthwaite dof, as gbstats and
    tea-tasting do (reproduces peers.md vector B). Deng et al. (2018), "Applying the delta
    method in metric analytics".
    """
    arr = broadcast_arms(
        n=as_float(n, "n"), num_sum=as_float(num_sum, "num_sum", nonnegative=False),
        num_sum_sq=as_float(num_sum_sq, "num_sum_sq"),
        den_sum=as_float(den_sum, "den_sum", nonnegative=False),
        den_sum_sq=as_float(den_sum_sq, "den_sum_sq"),
        cross_sum=as_float(cross_sum, "cross_sum", nonnegative=False),
    )
    n_ = arr["n"]
    _check_units(n_)
    if np.any(arr["den_sum"] <= 0):
        idx = tuple(int(i) for i in np.argwhere(arr["den_sum"] <= 0)[0])
        raise ValueError(
            f"den_sum: arm {idx[0]} has a denominator total of {arr['den_sum'][idx]!r}; "
            "a ratio metric needs a positive denominator (e.g. impressions > 0)"
        )
    var_m = _sample_var(n_, arr["num_sum"], arr["num_sum_sq"], "num_sum_sq")
    var_d = _sample_var(n_, arr["den_sum"], arr["den_sum_sq"], "den_sum_sq")
    cov = (arr["cross_sum"] - arr["num_sum"] * arr["den_sum"] / n_) / (n_ - 1)
    ratio = arr["num_sum"] / arr["den_sum"]
    dbar = arr["den_sum"] / n_
    unit_var = np.maximum((var_m - 2 * ratio * cov + ratio * ratio * var_d) / (dbar * dbar), 0.0)
    return difference_test(ratio, unit_var / n_, n=n_, use_t=True, alpha=alpha,
                           alternative=alternative)


def result_frame(
    res: ComparisonResult, *, method: str, alpha: float, alternative: str, n_arms: int,
    batch_shape: tuple[int, ...],
) -> pd.DataFrame:
    """Tidy table for a :class:`ComparisonResult` (one row per comparison x treatment arm)."""
    cols = {
        "control_n": res.control_n, "treatment_n": res.treatment_n,
        "control_mean": res.control_mean, "treatment_mean": res.treatment_mean,
        "abs_diff": res.abs_diff, "std_error": res.std_error, "statistic": res.statistic,
        "dof": res.dof, "p_value": res.p_value, "abs_ci_low": res.abs_ci_low,
        "abs_ci_high": res.abs_ci_high, "rel_lift": res.rel_lift,
        "rel_ci_low": res.rel_ci_low, "rel_ci_high": res.rel_ci_high,
        "rel_ci_shape": res.rel_ci_complement.astype(np.int8),  # codes, labelled below
    }
    df = comparison_frame(cols, n_arms=n_arms, batch_shape=batch_shape,
                          constants={"method": method, "alternative": alternative,
                                     "alpha": alpha})
    df["rel_ci_shape"] = text_column(df["rel_ci_shape"].to_numpy(), ("interval", "complement"))
    return df


def _shape(res: ComparisonResult) -> tuple[int, tuple[int, ...]]:
    return res.p_value.shape[0] + 1, res.p_value.shape[1:]


def proportion_test(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> pd.DataFrame:
    """Two-proportion test of every arm against arm 0 as a tidy DataFrame.

    Columns: ``comparison, arm, method, alternative, alpha, control_n, treatment_n,
    control_mean, treatment_mean, abs_diff, std_error, statistic, dof, p_value, abs_ci_low,
    abs_ci_high, rel_lift, rel_ci_low, rel_ci_high, rel_ci_shape``. Method: unpooled Wald z
    with Wald interval; relative lift ``(p_t - p_c)/p_c`` with Fieller's interval, which
    excludes 0 exactly when p < alpha. ``rel_ci_shape`` is ``"interval"`` (the set is
    ``[rel_ci_low, rel_ci_high]``, possibly with infinite ends) or ``"complement"`` (the set
    is everything outside ``(rel_ci_low, rel_ci_high)``; only when the control rate is not
    distinguishable from 0). Zero conversions in both arms: p = 1, intervals ``[0, 0]`` and
    ``(-inf, inf)``. Zero control conversions only: ``rel_lift = inf``. For small counts see
    :func:`abtest.stats.exact_test`.
    """
    res = proportion_test_arrays(successes, trials, alpha=alpha, alternative=alternative)
    k, batch = _shape(res)
    return result_frame(res, method="wald-z", alpha=alpha, alternative=alternative,
                        n_arms=k, batch_shape=batch)


def mean_test(
    n: ArrayLike,
    sums: ArrayLike,
    sums_sq: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> pd.DataFrame:
    """Welch t test of every arm's mean against arm 0; same columns as :func:`proportion_test`."""
    res = mean_test_arrays(n, sums, sums_sq, alpha=alpha, alternative=alternative)
    k, batch = _shape(res)
    return result_frame(res, method="welch-t", alpha=alpha, alternative=alternative,
                        n_arms=k, batch_shape=batch)


def ratio_test(
    n: ArrayLike,
    num_sum: ArrayLike,
    num_sum_sq: ArrayLike,
    den_sum: ArrayLike,
    den_sum_sq: ArrayLike,
    cross_sum: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> pd.DataFrame:
    """Delta-method ratio-metric test of every arm against arm 0 (see :func:`ratio_test_arrays`).

    Same columns as :func:`proportion_test`; ``control_mean``/``treatment_mean`` are the
    ratios ``sum(num)/sum(den)`` and ``control_n``/``treatment_n`` the unit counts.
    """
    res = ratio_test_arrays(n, num_sum, num_sum_sq, den_sum, den_sum_sq, cross_sum,
                            alpha=alpha, alternative=alternative)
    k, batch = _shape(res)
    return result_frame(res, method="delta-welch-t", alpha=alpha, alternative=alternative,
                        n_arms=k, batch_shape=batch)

