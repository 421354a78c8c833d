"""Sequential inference: always-valid intervals for daily peeking, and group-sequential designs.

Two tools for two ways of watching a test:

* **Always-valid** (``always_valid_interval``, ``sequential_proportion_test``): asymptotic
  confidence sequences (Waudby-Smith et al. 2023, "Time-uniform central limit theory"), with the
  normal-mixture boundary and tuning parameter N* exactly as GrowthBook's gbstats
  ``SequentialTwoSidedTTest``. Valid at *every* look, however often one peeks.
* **Group-sequential** (``group_sequential_bounds``, ``sequential_decision``): Lan-DeMets alpha
  spending (O'Brien-Fleming-type and Pocock-type) for K planned looks at arbitrary information
  fractions, with exact crossing probabilities by recursive numerical integration
  (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from abtest.stats._arrays import (
    as_float,
    broadcast_arms,
    check_alpha,
    check_positive,
)
from abtest.stats.frequentist import (
    ComparisonResult,
    difference_test,
    fieller_interval,
    proportion_test_arrays,
    result_frame,
)

__all__ = [
    "always_valid_arrays",
    "always_valid_frame",
    "always_valid_interval",
    "always_valid_p_value",
    "alpha_spending",
    "group_sequential_bounds",
    "sequential_decision",
    "sequential_proportion_test",
    "sequential_test",
]

Spending = Literal["obrien-fleming", "pocock"]


# --------------------------------------------------------------------------------------------
# Always-valid inference (asymptotic confidence sequences, gbstats parametrisation)
# --------------------------------------------------------------------------------------------
def _rho_squared(alpha: float, tuning: float) -> float:
    """Mixture variance rho² that makes the boundary tightest at N = N* (gbstats / Waudby-Smith)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not tuning > 0:
        raise ValueError(f"tuning (N*) must be positive, got {tuning}")
    two_log = -2.0 * np.log(alpha)
    return (two_log + np.log(two_log + 1.0)) / tuning


def _critical_multiplier(n_total: np.ndarray, alpha: float, tuning: float) -> np.ndarray:
    """Half-width divided by the standard error: sqrt(2(Nρ²+1)/(Nρ²) · ln(sqrt(Nρ²+1)/α))."""
    nr2 = n_total * _rho_squared(alpha, tuning)
    return np.sqrt(2.0 * (nr2 + 1.0) / nr2 * np.log(np.sqrt(nr2 + 1.0) / alpha))


def _check_n_total(n_total: ArrayLike) -> np.ndarray:
    n = np.asarray(n_total, dtype=float)
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError("n_total must be positive and finite (units in both compared arms)")
    return n


def always_valid_p_value(
    z: ArrayLike, n_total: ArrayLike, *, alpha: float = 0.05, tuning: float = 5000.0
) -> np.ndarray:
    """Always-valid p-value min(1, 1/E) for a z statistic seen after ``n_total`` units.

    E = exp(ρ²N z² / (2(Nρ²+1))) / sqrt(Nρ²+1) is the normal-mixture e-value (gbstats). The
    p-value is below ``alpha`` exactly when the always-valid interval excludes 0.
    """
    z = np.asarray(z, dtype=float)
    n = _check_n_total(n_total)
    nr2 = n * _rho_squared(alpha, tuning)
    log_e = nr2 * z**2 / (2.0 * (nr2 + 1.0)) - 0.5 * np.log(nr2 + 1.0)
    return np.minimum(1.0, np.exp(-log_e))


def always_valid_interval(
    estimate: ArrayLike,
    std_error: ArrayLike,
    n_total: ArrayLike,
    *,
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> pd.DataFrame:
    """Asymptotic confidence sequence for any effect with a CLT standard error.

    half-width = σ̂·sqrt(2(Nρ²+1)/(N²ρ²) · ln(sqrt(Nρ²+1)/α)) with σ̂² = SE²·N, N = units in the
    two compared arms and ρ² = (−2 ln α + ln(−2 ln α + 1))/N* (gbstats "Sequential"; Waudby-Smith
    et al. 2023, eq. for the asymptotic CS). ``tuning`` N* is the total sample size at which the
    interval is tightest; 5000 is gbstats' default. All inputs broadcast (looks along any axis).

    Returns columns ``estimate, std_error, ci_low, ci_high, z, p_value``.
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    n = _check_n_total(n_total)
    if np.any(~np.isfinite(est)) or np.any(~np.isfinite(se)) or np.any(se < 0):
        raise ValueError("estimate and std_error must be finite, std_error >= 0")
    est, se, n = np.broadcast_arrays(est, se, n)
    half = se * _critical_multiplier(n, alpha, tuning)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / np.where(se > 0, se, 1.0), 0.0)
    p = always_valid_p_value(z, n, alpha=alpha, tuning=tuning)
    return pd.DataFrame(
        {
            "estimate": est.ravel(),
            "std_error": se.ravel(),
            "ci_low": (est - half).ravel(),
            "ci_high": (est + half).ravel(),
            "z": z.ravel(),
            "p_value": p.ravel(),
        }
    )


def always_valid_arrays(
    res: ComparisonResult, *, alpha: float = 0.05, tuning: float = 5000.0
) -> ComparisonResult:
    """Turn a fixed-horizon :class:`ComparisonResult` into its always-valid counterpart.

    Keeps the arm means and the variances of the means of ``res`` (from
    :func:`~abtest.stats.frequentist.proportion_test_arrays`, ``mean_test_arrays``,
    ``ratio_test_arrays``, :func:`~abtest.stats.cuped.cuped_arrays` or ``difference_test``) and
    replaces the critical value by the confidence-sequence multiplier at N = units in the two
    compared arms. The statistic is the normal ``z = d / SE`` (``dof = inf``); the p-value is
    :func:`always_valid_p_value`; the absolute interval is ``d ± crit·SE`` and the relative one is
    Fieller's set (:func:`~abtest.stats.frequentist.fieller_interval`) at the same ``crit``, with
    the same ``rel_ci_complement`` convention as every other test in abtest. Since
    p < alpha exactly when |z| > crit, both intervals exclude 0 exactly when p < alpha.
    Two-sided only: the confidence sequence is symmetric.
    """
    alpha = check_alpha(alpha)
    n_total = res.control_n + res.treatment_n
    _check_n_total(n_total)
    d, se = res.abs_diff, res.std_error
    crit = _critical_multiplier(n_total, alpha, tuning)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, d / np.where(se > 0, se, 1.0), np.where(d == 0, 0.0, np.sign(d) * np.inf))
    pval = always_valid_p_value(z, n_total, alpha=alpha, tuning=tuning)
    half = np.where(se > 0, se * crit, 0.0)
    rlo, rhi, comp = fieller_interval(res.control_mean, res.control_var, res.treatment_mean,
                                      res.treatment_var, crit)
    return res._replace(statistic=z, dof=np.full(d.shape, np.inf), p_value=pval,
                        abs_ci_low=d - half, abs_ci_high=d + half, rel_ci_low=rlo,
                        rel_ci_high=rhi, rel_ci_complement=comp)


def always_valid_frame(
    res: ComparisonResult, *, alpha: float = 0.05, tuning: float = 5000.0,
    method: str = "always-valid",
) -> pd.DataFrame:
    """:func:`always_valid_arrays` as a tidy table: the columns of
    :func:`~abtest.stats.frequentist.proportion_test` (including ``rel_ci_shape``) plus
    ``n_total`` (units in the two compared arms, the N of the confidence sequence)."""
    av = always_valid_arrays(res, alpha=alpha, tuning=tuning)
    k, batch = av.p_value.shape[0] + 1, av.p_value.shape[1:]
    df = result_frame(av, method=method, alpha=alpha, alternative="two-sided", n_arms=k,
                      batch_shape=batch)
    n_total = np.asarray(av.control_n + av.treatment_n)
    df.insert(df.columns.get_loc("abs_diff"), "n_total",
              n_total.reshape(n_total.shape[0], -1).T.reshape(-1))
    return df


def sequential_test(
    means: ArrayLike,
    mean_vars: ArrayLike,
    n: ArrayLike,
    *,
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> pd.DataFrame:
    """Always-valid comparison of arm means (arms on axis 0, control first) for any metric.

    ``mean_vars`` are the squared standard errors of the arm means (Welch / delta-method /
    cluster), ``n`` the units per arm. Columns as :func:`sequential_proportion_test`.
    Built on :func:`~abtest.stats.frequentist.difference_test` and :func:`always_valid_arrays`.
    """
    alpha = check_alpha(alpha)
    arr = broadcast_arms(
        m=as_float(means, "means", nonnegative=False),
        v=as_float(mean_vars, "mean_vars"),
        n=as_float(n, "n"),
    )
    check_positive(arr["n"], "n", "units (zero traffic)")
    res = difference_test(arr["m"], arr["v"], n=arr["n"], alpha=alpha)
    return always_valid_frame(res, alpha=alpha, tuning=tuning)


def sequential_proportion_test(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> pd.DataFrame:
    """Always-valid comparison of each arm's rate with control (arms on axis 0, control first).

    Further axes hold looks (cumulative counts per day) or independent experiments, as everywhere
    in ``abtest.stats``. Variance per arm p(1−p)/n (unpooled, as gbstats), from
    :func:`~abtest.stats.frequentist.proportion_test_arrays`. The relative interval is Fieller's
    at the always-valid critical value, so it excludes 0 exactly when ``p_value < alpha``
    (test it with :func:`~abtest.stats.frequentist.interval_excludes` and ``rel_ci_shape``).
    Zero conversions follow :func:`~abtest.stats.frequentist.proportion_test`: a control rate of
    exactly 0 gives ``rel_lift = inf`` and an infinite or whole-line relative set, never NaN.

    Returns one row per (comparison = flattened look index, non-control arm) with the columns of
    :func:`~abtest.stats.frequentist.proportion_test` plus ``n_total``; ``method`` is
    ``"always-valid"``.
    """
    alpha = check_alpha(alpha)
    res = proportion_test_arrays(successes, trials, alpha=alpha)
    return always_valid_frame(res, alpha=alpha, tuning=tuning)


# --------------------------------------------------------------------------------------------
# Group-sequential designs (Lan-DeMets alpha spending)
# --------------------------------------------------------------------------------------------
def alpha_spending(
    information_fractions: ArrayLike, *, alpha: float = 0.05, spending: Spending = "obrien-fleming"
) -> np.ndarray:
    """Cumulative alpha spent by information fraction t, for a one-sided level ``alpha``.

    O'Brien-Fleming type: 2 − 2Φ(z_{1−α/2}/√t); Pocock type: α ln(1 + (e − 1)t) (Lan & DeMets
    1983). These are the gsDesign ``sfLDOF``/``sfLDPocock`` and rpact ``asOF``/``asP`` functions.
    """
    t = np.asarray(information_fractions, dtype=float)
    if spending == "obrien-fleming":
        with np.errstate(divide="ignore"):
            return 2.0 * special.ndtr(-special.ndtri(1.0 - alpha / 2.0) / np.sqrt(t))
    if spending == "pocock":
        return alpha * np.log1p((np.e - 1.0) * t)
    raise ValueError(f"spending must be 'obrien-fleming' or 'pocock', got {spending!r}")


def _grid(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Simpson nodes and weights on [lo, hi] with spacing <= step (odd node count)."""
    m = max(int(np.ceil((hi - lo) / step)), 2)
    m += m % 2
    z = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return z, w * (hi - lo) / (3.0 * m)


def _check_fractions(information_fractions: ArrayLike) -> np.ndarray:
    t = np.atleast_1d(np.asarray(information_fractions, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise ValueError("information_fractions must be a non-empty 1-D sequence")
    if np.any(~np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
        raise ValueError("information fractions must lie in (0, 1]")
    if np.any(np.diff(t) <= 0):
        raise ValueError("information fractions must be strictly increasing")
    return t


def _bounds_and_spend(
    t: np.ndarray, alpha: float, spending: Spending, sides: int
) -> tuple[np.ndarray, np.ndarray]:
    """Solve each look's boundary so the exact crossing probability equals the alpha increment."""
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    per_side = alpha / sides
    cum = sides * alpha_spending(t, alpha=per_side, spending=spending)
    inc = np.diff(np.concatenate([[0.0], cum]))
    bounds = np.empty(t.size)
    bounds[0] = special.ndtri(1.0 - inc[0] / sides) if inc[0] > 0 else np.inf
    lower_edge = -bounds[0] if sides == 2 else -12.0
    # density of Z_1 on the continuation region, carried forward look by look
    step = 0.01
    zg, wg = _grid(max(lower_edge, -12.0), min(bounds[0], 12.0), step)
    dens = stats.norm.pdf(zg)
    for k in range(1, t.size):
        sd = np.sqrt((t[k] - t[k - 1]) / t[k])  # sd of Z_k given Z_{k-1}
        shift = np.sqrt(t[k - 1] / t[k]) * zg  # mean of Z_k given Z_{k-1}
        mass = dens * wg

        def exit_prob(c: float, shift=shift, sd=sd, mass=mass) -> float:
            up = special.ndtr((shift - c) / sd)
            if sides == 2:
                up = up + special.ndtr((-c - shift) / sd)
            return float(mass @ up)

        target = inc[k]
        if target <= 0:
            bounds[k] = np.inf
        else:
            hi = 40.0
            if exit_prob(0.0 if sides == 2 else -12.0) < target:
                raise ValueError("alpha increment cannot be spent at this look")
            lo = 0.0 if sides == 2 else -12.0
            bounds[k] = optimize.brentq(
                lambda c, target=target: exit_prob(c) - target, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500
            )
        if k < t.size - 1:
            ck = min(bounds[k], 12.0)
            lo_k = -ck if sides == 2 else -12.0
            step = min(0.01, sd / 20.0)
            znew, wnew = _grid(lo_k, ck, step)
            kern = stats.norm.pdf((znew[:, None] - shift[None, :]) / sd) / sd
            dens, zg, wg = kern @ mass, znew, wnew
    return bounds, cum


def group_sequential_bounds(
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    spending: Spending = "obrien-fleming",
    sides: Literal[1, 2] = 2,
) -> pd.DataFrame:
    """Lan-DeMets boundaries for K looks at arbitrary information fractions.

    ``alpha`` is the total type I error: two-sided (symmetric, ±bound, alpha/2 spent per side with
    the spending function applied at level alpha/2, as ldbounds, gsDesign and rpact do) when
    ``sides=2``, one-sided upper when ``sides=1``. Crossing probabilities are computed exactly by
    recursive numerical integration of the canonical joint distribution (corr(Z_i, Z_j) =
    sqrt(t_i/t_j)) and each bound is solved with Brent's method. A last fraction below 1 spends
    only alpha(t_K) (the design stops before full information).

    Returns one row per look: ``look, information_fraction, z_bound, alpha_spent_cumulative,
    alpha_spent, nominal_p`` (two-sided nominal p threshold when sides=2).
    """
    t = _check_fractions(information_fractions)
    bounds, cum = _bounds_and_spend(t, alpha, spending, int(sides))
    nominal = sides * special.ndtr(-bounds)
    return pd.DataFrame(
        {
            "look": np.arange(1, t.size + 1),
            "information_fraction": t,
            "z_bound": bounds,
            "alpha_spent_cumulative": cum,
            "alpha_spent": np.diff(np.concatenate([[0.0], cum])),
            "nominal_p": nominal,
        }
    )


def sequential_decision(
    z_values: ArrayLike,
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    spending: Spending = "obrien-fleming",
    sides: Literal[1, 2] = 2,
) -> pd.DataFrame:
    """Decision at each look of a group-sequential test.

    ``z_values`` holds the observed z statistics at the looks so far (last axis = looks; leading
    axes = independent comparisons), ``information_fractions`` the information fraction actually
    reached at each look (Lan-DeMets: bounds follow the observed fractions). A comparison stops at
    the first look whose |z| (z for one-sided) reaches the bound; later looks say ``stopped``.

    Returns one row per comparison × look: ``comparison, look, information_fraction, z, z_bound,
    crossed, decision`` where decision is ``reject`` (stop: the arms differ), ``stopped`` (already
    stopped earlier), ``continue`` or, at a final look with fraction 1 and no crossing,
    ``accept`` (no difference at the planned size).
    """
    t = _check_fractions(information_fractions)
    z = np.asarray(z_values, dtype=float)
    if z.ndim == 0 or z.shape[-1] != t.size:
        raise ValueError("z_values must have one value per look on the last axis")
    if np.any(~np.isfinite(z)):
        raise ValueError("z_values must be finite (no NaN)")
    zz = z.reshape(-1, t.size)
    bounds, _ = _bounds_and_spend(t, alpha, spending, int(sides))
    stat = np.abs(zz) if sides == 2 else zz
    crossed = stat >= bounds[None, :]
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), t.size)
    look_idx = np.arange(t.size)[None, :]
    decision = np.full(zz.shape, "continue", dtype=object)
    decision[look_idx > first[:, None]] = "stopped"
    decision[look_idx == first[:, None]] = "reject"
    final_accept = (first == t.size) & (t[-1] >= 1.0)
    decision[final_accept, -1] = "accept"
    rows = zz.shape[0]
    return pd.DataFrame(
        {
            "comparison": np.repeat(np.arange(rows), t.size),
            "look": np.tile(np.arange(1, t.size + 1), rows),
            "information_fraction": np.tile(t, rows),
            "z": zz.ravel(),
            "z_bound": np.tile(bounds, rows),
            "crossed": crossed.ravel(),
            "decision": pd.array(decision.ravel().tolist(), dtype="string"),
        }
    )
