"""Test planning: sample size per arm, minimum detectable effect, power and duration.

Normal-approximation formulas for proportions and for mean/ratio metrics (from a per-unit
variance, e.g. the delta-method variance of a ratio), with a Bonferroni split of alpha over
the ``arms - 1`` comparisons with control, power by simulation for anything else, and the
precision of a holdout's cost per incremental conversion by holdout share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import Alternative, FloatArray, as_float, check_alpha, check_alternative

__all__ = [
    "HoldoutPrecision",
    "SimulatedPower",
    "days_to_detect",
    "holdout_for_precision",
    "holdout_precision",
    "minimum_detectable_effect",
    "plan_table",
    "power",
    "power_by_simulation",
    "power_curves",
    "sample_size",
    "test_duration_days",
    "unit_variance_from_sums",
]

SizeMethod = Literal["unpooled", "cohen_h"]
Correction = Literal["bonferroni", "none"]


def _z_values(alpha: float, power_: float, alternative: str, n_arms: int,
              correction: str) -> tuple[float, float]:
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    if not 0.0 < power_ < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, got {power_}")
    if n_arms < 2:
        raise ValueError("n_arms counts the control too and must be >= 2")
    if correction not in ("bonferroni", "none"):
        raise ValueError(f"correction must be 'bonferroni' or 'none', got {correction!r}")
    if correction == "bonferroni":
        alpha = alpha / (n_arms - 1)  # each treatment vs control; Holm is never stricter
    tail = alpha / 2 if alternative == "two-sided" else alpha
    return float(special.ndtri(1 - tail)), float(special.ndtri(power_))


def _effect(baseline: FloatArray, mde: FloatArray, relative: bool) -> FloatArray:
    delta = baseline * mde if relative else mde
    if np.any(delta == 0):
        raise ValueError("mde must be non-zero")
    return delta


def _proportions(baseline: ArrayLike, mde: ArrayLike, relative: bool
                 ) -> tuple[FloatArray, FloatArray]:
    p1 = as_float(baseline, "baseline")
    p2 = p1 + _effect(p1, as_float(mde, "mde", nonnegative=False), relative)
    if np.any((p1 <= 0) | (p1 >= 1)):
        raise ValueError("baseline conversion rate must be strictly between 0 and 1")
    if np.any((p2 <= 0) | (p2 >= 1)):
        raise ValueError("baseline + mde must stay strictly between 0 and 1")
    return p1, p2


def sample_size(
    baseline: ArrayLike,
    mde: ArrayLike,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    unit_variance: ArrayLike | None = None,
    method: SizeMethod = "unpooled",
    n_arms: int = 2,
    correction: Correction = "bonferroni",
    round_up: bool = True,
) -> Any:
    """Units per arm needed to detect ``mde`` with the given power (equal arms).

    Proportions (``unit_variance`` None), default ``method="unpooled"``:
    ``n = (z_{1-a/2} + z_{power})^2 (p1 q1 + p2 q2) / (p2 - p1)^2`` -- the variance the Wald
    test actually uses (5% -> 5.5%: 31,231). ``method="cohen_h"`` uses the arcsine effect size
    and solves the power equation with both tails, as statsmodels ``NormalIndPower`` (31,218).
    Means/ratios: pass ``unit_variance`` (per-unit variance, e.g. from
    :func:`unit_variance_from_sums`) and ``baseline`` = control mean:
    ``n = (z_a + z_b)^2 2 sigma^2 / delta^2``. ``mde`` is relative to ``baseline`` unless
    ``relative=False``. With ``n_arms > 2`` alpha is split over the ``n_arms - 1``
    comparisons (Bonferroni, conservative for Holm). Returns ints (rounded up) or floats.
    """
    za, zb = _z_values(alpha, power, alternative, n_arms, correction)
    if unit_variance is not None:
        base = as_float(baseline, "baseline", nonnegative=False)
        delta = _effect(base, as_float(mde, "mde", nonnegative=False), relative)
        var = as_float(unit_variance, "unit_variance")
        if np.any(var <= 0):
            raise ValueError("unit_variance must be > 0: a metric that never varies needs no "
                             "test (and no sample size can be computed for it)")
        n = (za + zb) ** 2 * 2 * var / delta**2
    elif method == "unpooled":
        p1, p2 = _proportions(baseline, mde, relative)
        n = (za + zb) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2
    elif method == "cohen_h":
        p1, p2 = _proportions(baseline, mde, relative)
        h = np.abs(2 * np.arcsin(np.sqrt(p2)) - 2 * np.arcsin(np.sqrt(p1)))
        n = 2 * ((za + zb) / h) ** 2
        if alternative == "two-sided":  # Newton on the exact two-tail power
            for _ in range(20):
                r = h * np.sqrt(n / 2)
                f = special.ndtr(r - za) + special.ndtr(-r - za) - power
                df = (np.exp(-0.5 * (r - za) ** 2) - np.exp(-0.5 * (r + za) ** 2)) / np.sqrt(
                    2 * np.pi) * h / (2 * np.sqrt(2 * n))
                n = n - f / df
    else:
        raise ValueError(f"method must be 'unpooled' or 'cohen_h', got {method!r}")
    if round_up:
        out = np.ceil(n - 1e-9).astype(np.int64)
        return int(out) if out.ndim == 0 else out
    return float(n) if np.ndim(n) == 0 else n


def power(
    n_per_arm: ArrayLike,
    baseline: ArrayLike,
    mde: ArrayLike,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    unit_variance: ArrayLike | None = None,
    n_arms: int = 2,
    correction: Correction = "bonferroni",
) -> Any:
    """Power of the Wald test (unpooled variances) with ``n_per_arm`` units in every arm."""
    za, _ = _z_values(alpha, 0.5, alternative, n_arms, correction)
    n = as_float(n_per_arm, "n_per_arm")
    if np.any(n <= 0):
        raise ValueError("n_per_arm must be > 0: power needs at least one unit in every arm")
    if unit_variance is not None:
        base = as_float(baseline, "baseline", nonnegative=False)
        delta = _effect(base, as_float(mde, "mde", nonnegative=False), relative)
        se = np.sqrt(2 * as_float(unit_variance, "unit_variance") / n)
    else:
        p1, p2 = _proportions(baseline, mde, relative)
        delta = p2 - p1
        se = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    r = np.abs(delta) / se
    out = special.ndtr(r - za)
    if alternative == "two-sided":
        out = out + special.ndtr(-r - za)
    return float(out) if np.ndim(out) == 0 else out


def minimum_detectable_effect(
    n_per_arm: ArrayLike,
    baseline: ArrayLike,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    unit_variance: ArrayLike | None = None,
    n_arms: int = 2,
    correction: Correction = "bonferroni",
) -> Any:
    """Smallest upward effect detectable with ``power`` given ``n_per_arm`` (inverse of
    :func:`sample_size`, same formula). Relative to ``baseline`` unless ``relative=False``.

    For proportions the treatment variance depends on the effect, so the equation
    ``delta = (z_a + z_b) sqrt((p1 q1 + p2 q2)/n)`` with ``p2 = p1 + delta`` is solved by
    fixed-point iteration (a contraction for any n where the effect is < 1 - p1).
    """
    za, zb = _z_values(alpha, power, alternative, n_arms, correction)
    n = as_float(n_per_arm, "n_per_arm")
    if np.any(n <= 0):
        raise ValueError("n_per_arm must be > 0")
    base = as_float(baseline, "baseline", nonnegative=unit_variance is None)
    k = za + zb
    if unit_variance is not None:
        delta = k * np.sqrt(2 * as_float(unit_variance, "unit_variance") / n)
    else:
        if np.any((base <= 0) | (base >= 1)):
            raise ValueError("baseline conversion rate must be strictly between 0 and 1")
        delta = k * np.sqrt(2 * base * (1 - base) / n)
        for _ in range(200):
            p2 = np.minimum(base + delta, 1.0)
            delta = k * np.sqrt((base * (1 - base) + p2 * (1 - p2)) / n)
        if np.any(base + delta >= 1):
            raise ValueError("no effect below a 100% rate is detectable with this sample")
    out = delta / np.abs(base) if relative else delta
    return float(out) if np.ndim(out) == 0 else out


def test_duration_days(n_per_arm: ArrayLike, daily_units_per_arm: ArrayLike) -> Any:
    """Whole days needed to reach ``n_per_arm`` given the daily leads/impressions per arm."""
    n = as_float(n_per_arm, "n_per_arm")
    daily = as_float(daily_units_per_arm, "daily_units_per_arm")
    if np.any(daily <= 0):
        raise ValueError("daily_units_per_arm must be > 0 (no traffic means no end date)")
    out = np.ceil(n / daily - 1e-9).astype(np.int64)
    return int(out) if out.ndim == 0 else out


test_duration_days.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def days_to_detect(
    std_error: ArrayLike,
    days_run: float,
    mde_abs: ArrayLike,
    *,
    alpha: ArrayLike = 0.05,
    power: float = 0.8,
    sequential_nr2: ArrayLike | None = None,
    max_days: float = 3650.0,
) -> Any:
    """Total days a test needs to detect a *planned* absolute effect ``mde_abs`` with ``power``.

    The standard error after ``days_run`` days is assumed to shrink as 1/sqrt(days) (traffic
    per day steady), so ``SE(D) = SE·sqrt(days_run / D)`` and the fixed-horizon requirement
    ``(z_{1−α/2} + z_power)·SE(D) ≤ mde_abs`` gives
    ``D = days_run·((z_{1−α/2} + z_power)·SE / mde_abs)²`` (the usual sample-size formula with
    the per-day variance SE²·days_run measured in the test). Only the *variance* comes from the
    data, never the observed effect, so acting on it ("keep testing N more days") does not
    inflate the false-positive rate the way sizing on the observed effect does.

    ``sequential_nr2`` (Nρ² of the always-valid test *now*, growing in proportion to the days):
    the requirement uses the confidence-sequence multiplier at D instead of ``z_{1−α/2}``,
    solved on a day grid. ``alpha`` may be per row (e.g. Bonferroni-split within a family).
    Returns float days (``inf`` beyond ``max_days``).
    """
    se = as_float(std_error, "std_error")
    mde = np.abs(as_float(mde_abs, "mde_abs", nonnegative=False))
    if not np.isfinite(days_run) or days_run <= 0:
        raise ValueError(f"days_run must be a positive number of days, got {days_run}")
    if np.any(mde == 0):
        raise ValueError("mde_abs must be non-zero")
    a = as_float(alpha, "alpha")
    if np.any((a <= 0) | (a >= 1)):
        raise ValueError("alpha must be between 0 and 1")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, got {power}")
    zb = float(special.ndtri(power))
    se, mde, a = np.broadcast_arrays(se, mde, a)
    if sequential_nr2 is None:
        need = days_run * ((special.ndtri(1 - a / 2) + zb) * se / mde) ** 2
    else:
        nr2 = np.broadcast_to(as_float(sequential_nr2, "sequential_nr2"), se.shape)
        grid = np.unique(np.concatenate([np.arange(1.0, 366.0), np.geomspace(366.0, max_days,
                                                                             200)]))
        g = grid.reshape((-1,) + (1,) * se.ndim)
        nr2_d = nr2 * g / days_run
        crit = np.sqrt(2 * (nr2_d + 1) / nr2_d * np.log(np.sqrt(nr2_d + 1) / a))
        ok = (crit + zb) * se * np.sqrt(days_run / g) <= mde
        first = np.argmax(ok, axis=0)
        need = np.where(ok.any(axis=0), grid[first], np.inf)
    need = np.where(need > max_days, np.inf, need)
    return float(need) if np.ndim(need) == 0 else need


def unit_variance_from_sums(
    n: float,
    num_sum: float,
    num_sum_sq: float,
    den_sum: float | None = None,
    den_sum_sq: float | None = None,
    cross_sum: float | None = None,
) -> tuple[float, float]:
    """``(baseline, per-unit variance)`` of a mean or ratio metric from historical sums.

    Without a denominator: the sample mean and variance. With one: the ratio
    ``sum(num)/sum(den)`` and its delta-method per-unit variance
    ``(var_m - 2 r cov + r^2 var_d) / dbar^2`` -- the inputs :func:`sample_size` needs.
    """
    if n < 2:
        raise ValueError("need at least 2 units to estimate a variance")
    var_m = (num_sum_sq - num_sum**2 / n) / (n - 1)
    if den_sum is None:
        return num_sum / n, max(var_m, 0.0)
    if den_sum_sq is None or cross_sum is None:
        raise ValueError("a ratio metric needs den_sum, den_sum_sq and cross_sum")
    if den_sum <= 0:
        raise ValueError("den_sum must be > 0")
    var_d = (den_sum_sq - den_sum**2 / n) / (n - 1)
    cov = (cross_sum - num_sum * den_sum / n) / (n - 1)
    r = num_sum / den_sum
    dbar = den_sum / n
    return r, max((var_m - 2 * r * cov + r * r * var_d) / dbar**2, 0.0)


class SimulatedPower(NamedTuple):
    """Rejection rate over ``n_sims`` simulated experiments with its binomial 95% interval."""

    power: float
    std_error: float
    ci_low: float
    ci_high: float
    n_sims: int


def power_by_simulation(
    simulate_fn: Callable[[np.random.Generator, int], Any],
    analyse_fn: Callable[[Any], ArrayLike],
    n_sims: int,
    seed: int,
    *,
    alpha: float = 0.05,
) -> SimulatedPower:
    """Power (or false-positive rate) of any design by seeded simulation.

    ``simulate_fn(rng, n_sims)`` draws all experiments at once (e.g. arrays with the
    simulations along the last axis); ``analyse_fn(data)`` returns one p-value (float) or
    one rejection (bool) per simulated experiment. p-values are rejected at ``p < alpha``.
    """
    if n_sims < 1:
        raise ValueError("n_sims must be >= 1")
    check_alpha(alpha)
    rng = np.random.default_rng(seed)
    out = np.asarray(analyse_fn(simulate_fn(rng, n_sims)))
    if out.shape != (n_sims,):
        raise ValueError(f"analyse_fn must return {n_sims} values, got shape {out.shape}")
    if out.dtype == bool:
        reject = out
    else:
        pv = out.astype(np.float64)
        if np.any(~np.isfinite(pv)) or np.any((pv < 0) | (pv > 1)):
            raise ValueError("analyse_fn returned values that are neither booleans nor p-values")
        reject = pv < alpha
    rate = float(np.mean(reject))
    se = float(np.sqrt(rate * (1 - rate) / n_sims))
    return SimulatedPower(rate, se, max(rate - 1.96 * se, 0.0), min(rate + 1.96 * se, 1.0), n_sims)


def plan_table(
    baseline: float,
    lifts: Sequence[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    n_arms: int = 2,
    daily_leads: float,
) -> pd.DataFrame:
    """Sample size per arm, total leads and days for each relative lift of a conversion rate.

    ``daily_leads`` is the traffic entering the test per day over all arms (split equally).
    """
    if daily_leads <= 0:
        raise ValueError("daily_leads must be > 0")
    lift = np.asarray(list(lifts), dtype=float)
    n = np.atleast_1d(sample_size(baseline, lift, relative=True, alpha=alpha, power=power,
                                  n_arms=n_arms))
    days = np.atleast_1d(test_duration_days(n, daily_leads / n_arms))
    return pd.DataFrame({"relative_lift": lift, "baseline_rate": baseline,
                         "treated_rate": baseline * (1 + lift), "n_per_arm": n,
                         "total_leads": n * n_arms, "days": days})


def power_curves(
    baseline: float,
    lifts: Sequence[float],
    n_per_arm: Sequence[int] | np.ndarray,
    *,
    alpha: float = 0.05,
    n_arms: int = 2,
) -> pd.DataFrame:
    """Power of the two-proportion test by leads per arm for each relative lift (tidy)."""
    n = np.asarray(n_per_arm, dtype=float)
    frames = []
    for lift in lifts:
        p = np.asarray(power(n, baseline, float(lift), relative=True, alpha=alpha,
                                n_arms=n_arms), dtype=float)
        frames.append(pd.DataFrame({"effect": f"{lift:+.0%}", "relative_lift": float(lift),
                                    "n_per_arm": n, "power": p}))
    return pd.concat(frames, ignore_index=True)


class HoldoutPrecision(NamedTuple):
    """Precision of a holdout read-out per holdout share (arrays broadcast over the inputs).

    ``cpi_precision`` is the relative half-width of the cost-per-incremental interval by the
    delta method, ``z · se(d) / d`` ("±30%"); ``cpi_low`` / ``cpi_high`` are Fieller's relative
    bounds ``d / (d + z se) - 1`` and ``d / (d - z se) - 1`` (``inf`` when the increment's
    interval would reach 0: no upper bound).
    """

    holdout_share: FloatArray
    holdout_leads: FloatArray
    treated_leads: FloatArray
    increment_per_lead: FloatArray
    std_error: FloatArray
    incremental_conversions: FloatArray
    cpi_precision: FloatArray
    cpi_low: FloatArray
    cpi_high: FloatArray


def _holdout_se(audience: FloatArray, p0: FloatArray, p1: FloatArray, h: FloatArray) -> FloatArray:
    return np.sqrt(p1 * (1 - p1) / (audience * (1 - h)) + p0 * (1 - p0) / (audience * h))


def holdout_precision(
    audience: ArrayLike,
    baseline: ArrayLike,
    lift: ArrayLike,
    holdout_share: ArrayLike,
    *,
    reached_share: ArrayLike = 1.0,
    alpha: float = 0.05,
) -> HoldoutPrecision:
    """How precisely a holdout of each share measures the cost per incremental conversion.

    ``audience`` leads split into a holdout (``holdout_share``) and a retargeted arm;
    ``baseline`` is the conversion rate without ads; ``lift`` the relative lift on the leads
    the ads reach and ``reached_share`` the share reached, so the arm's rate is
    ``p1 = p0 (1 + reached_share · lift)``. The spend is fixed by the budget, so the cost per
    incremental conversion ``spend / (n_t d)`` is as precise as the increment ``d = p1 - p0``,
    whose standard error is the unpooled two-proportion one (Fleiss et al. 2003, §4).
    """
    n = as_float(audience, "audience")
    p0 = as_float(baseline, "baseline")
    h = as_float(holdout_share, "holdout_share")
    share = as_float(reached_share, "reached_share")
    if np.any((h <= 0) | (h >= 1)):
        raise ValueError("holdout_share must be strictly between 0 and 1")
    if np.any((p0 <= 0) | (p0 >= 1)):
        raise ValueError("baseline must be a conversion rate strictly between 0 and 1")
    p1 = p0 * (1 + share * as_float(lift, "lift", nonnegative=False))
    if np.any((p1 <= 0) | (p1 >= 1)) or np.any(p1 == p0):
        raise ValueError("baseline × (1 + reached_share × lift) must be a rate in (0, 1) other "
                         "than the baseline")
    z = float(special.ndtri(1 - check_alpha(alpha) / 2))
    se = _holdout_se(n, p0, p1, h)
    d = p1 - p0
    with np.errstate(divide="ignore"):
        high = np.where(d - z * se > 0, d / (d - z * se) - 1, np.inf)
    n_h = n * h
    return HoldoutPrecision(h * np.ones_like(se), n_h * np.ones_like(se), (n - n_h) * np.ones_like(se),
                            d * np.ones_like(se), se, d * (n - n_h), z * se / np.abs(d),
                            d / (d + z * se) - 1, high)


def holdout_for_precision(
    target: float,
    audience: float,
    baseline: float,
    lift: float,
    *,
    reached_share: float = 1.0,
    alpha: float = 0.05,
) -> float:
    """The smallest holdout share whose cost-per-incremental precision (±, relative) is
    ``target``; ``nan`` when even the best split (the one minimising the error) cannot reach it.
    """
    from scipy import optimize

    if not target > 0:
        raise ValueError(f"target precision must be > 0, got {target}")

    def precision(h: float) -> float:
        return float(holdout_precision(audience, baseline, lift, h, reached_share=reached_share,
                                       alpha=alpha).cpi_precision)

    p0 = baseline
    p1 = p0 * (1 + reached_share * lift)
    # the error is smallest at h / (1 - h) = sqrt(v0 / v1) (Neyman allocation)
    ratio = np.sqrt(p0 * (1 - p0) / (p1 * (1 - p1)))
    best = float(ratio / (1 + ratio))
    if precision(best) > target:
        return float("nan")
    lo = 1e-6
    if precision(lo) <= target:
        return lo
    return float(optimize.brentq(lambda h: precision(h) - target, lo, best, xtol=1e-6))
