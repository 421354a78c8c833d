"""Frequentist tests against statsmodels/scipy, peers.md vectors and an independent Fieller."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.stats import proportion as sm_prop

from abtest.stats import (
    exact_test,
    fieller_interval,
    interval_excludes,
    mean_test,
    proportion_test,
    proportion_test_arrays,
    ratio_test,
    ratio_test_arrays,
)

REQUIRED = ["comparison", "arm", "control_mean", "treatment_mean", "p_value", "abs_diff",
            "abs_ci_low", "abs_ci_high", "rel_lift", "rel_ci_low", "rel_ci_high", "method",
            "alpha", "rel_ci_shape"]

VECTOR_B = dict(
    n=[5000, 5000], num_sum=[1500, 1650], num_sum_sq=[2500, 2800], den_sum=[100000, 101000],
    den_sum_sq=[2_600_000, 2_650_000], cross_sum=[40_000, 44_000],
)


def test_vector_a_matches_spotify_ztest() -> None:
    """peers.md 4.2: spotify ZTest abs CI [-0.000209, 0.012209], p 0.058235 (printed dp)."""
    df = proportion_test([500, 560], [10_000, 10_000])
    assert set(REQUIRED) <= set(df.columns)
    row = df.iloc[0]
    assert row["arm"] == 1 and row["comparison"] == 0
    assert round(row["abs_ci_low"], 6) == -0.000209
    assert round(row["abs_ci_high"], 6) == 0.012209
    assert round(row["p_value"], 6) == 0.058235
    assert row["rel_lift"] == pytest.approx(0.12, abs=1e-12)


def test_proportions_match_statsmodels_wald_batch() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(50, 50_000, size=(2, 40))
    x = rng.binomial(n, rng.uniform(0.02, 0.6, size=(1, 40)))
    for alt, sm_alt in [("two-sided", "two-sided"), ("greater", "larger"), ("less", "smaller")]:
        res = proportion_test_arrays(x, n, alpha=0.1, alternative=alt)
        for j in range(40):
            sm = sm_prop.test_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j], method="wald",
                                         alternative=sm_alt)
            assert res.p_value[0, j] == pytest.approx(sm.pvalue, rel=1e-9, abs=1e-14)
            assert res.statistic[0, j] == pytest.approx(sm.statistic, rel=1e-9)
            if alt == "two-sided":
                lo, hi = sm_prop.confint_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j],
                                                    method="wald", alpha=0.1)
                assert res.abs_ci_low[0, j] == pytest.approx(lo, rel=1e-9)
                assert res.abs_ci_high[0, j] == pytest.approx(hi, rel=1e-9)


def test_vector_b_ratio_matches_gbstats() -> None:
    """peers.md 4.3: abs effect 0.00133663, CI [0.00011019, 0.00256307], p 0.0326772."""
    row = ratio_test(**VECTOR_B).iloc[0]
    assert row["control_mean"] == pytest.approx(0.015)
    assert round(row["abs_diff"], 8) == 0.00133663
    assert round(row["abs_ci_low"], 8) == 0.00011019
    assert round(row["abs_ci_high"], 8) == 0.00256307
    assert round(row["p_value"], 7) == 0.0326772
    assert round(row["rel_lift"], 7) == 0.0891089
    res = ratio_test_arrays(**VECTOR_B)
    # per-user delta-method variances (gbstats): A 0.00094269, B 0.00101462
    assert round(res.control_var[0] * 5000, 8) == 0.00094269
    assert round(res.treatment_var[0] * 5000, 8) == 0.00101462


def test_ratio_matches_raw_data_delta_method() -> None:
    rng = np.random.default_rng(11)
    sums = {k: [] for k in VECTOR_B}
    raw = []
    for n, p in [(800, 0.05), (900, 0.06), (700, 0.04)]:
        den = rng.poisson(20, n) + 1.0
        num = rng.binomial(den.astype(int), p).astype(float)
        raw.append((num, den))
        for k, v in zip(VECTOR_B, [n, num.sum(), (num**2).sum(), den.sum(), (den**2).sum(),
                                   (num * den).sum()], strict=True):
            sums[k].append(v)
    res = ratio_test_arrays(**sums)
    num_c, den_c = raw[0]
    for j, (num, den) in enumerate(raw[1:]):
        def var_of_ratio(nu, de):
            c = np.cov(nu, de)  # ddof 1
            r = nu.sum() / de.sum()
            return (c[0, 0] - 2 * r * c[0, 1] + r * r * c[1, 1]) / de.mean() ** 2 / len(nu)
        vt, vc = var_of_ratio(num, den), var_of_ratio(num_c, den_c)
        d = num.sum() / den.sum() - num_c.sum() / den_c.sum()
        dof = (vt + vc) ** 2 / (vt**2 / (len(num) - 1) + vc**2 / (len(num_c) - 1))
        assert res.abs_diff[j] == pytest.approx(d, rel=1e-10)
        assert res.p_value[j] == pytest.approx(2 * stats.t.sf(abs(d) / np.sqrt(vt + vc), dof),
                                               rel=1e-8)


def test_mean_test_matches_scipy_welch_and_gbstats() -> None:
    df = mean_test([3407, 3461], [1396.87, 2422.7], [52377.9767, 134698.29])
    row = df.iloc[0]
    # peers.md 4.4 absolute: 0.29, CI (0.04538, 0.53462), p 0.02016
    assert round(row["abs_diff"], 5) == 0.29
    assert round(row["abs_ci_low"], 5) == 0.04538
    assert round(row["abs_ci_high"], 5) == 0.53462
    assert round(row["p_value"], 5) == 0.02016
    m = np.array([1396.87 / 3407, 2422.7 / 3461])
    sd = np.sqrt((np.array([52377.9767, 134698.29]) - np.array([3407, 3461]) * m**2)
                 / np.array([3406, 3460]))
    ref = stats.ttest_ind_from_stats(m[1], sd[1], 3461, m[0], sd[0], 3407, equal_var=False)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-9)


def _invert_numerically(mc, vc, mt, vt, q):
    """Independent Fieller: roots of |T(theta)| = q found with brentq around the estimate."""
    c0 = abs(mc)
    s = np.sign(mc)

    def g(theta):
        return (mt - mc - theta * c0) / np.sqrt(vt + (1 + s * theta) ** 2 * vc)

    est = (mt - mc) / c0
    # T decreases in theta: T = q below the estimate, T = -q above it
    lo = optimize.brentq(lambda t: g(t) - q, est - 1e3, est, xtol=1e-14)
    hi = optimize.brentq(lambda t: g(t) + q, est, est + 1e3, xtol=1e-14)
    return lo, hi


@pytest.mark.parametrize("seed", range(5))
def test_fieller_matches_numerical_inversion(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mc, mt = rng.uniform(-3, 3), rng.uniform(-3, 3)
    mc = mc if abs(mc) > 0.5 else 1.0
    vc, vt = rng.uniform(0.001, 0.05, size=2)
    q = stats.norm.ppf(0.975)
    lo, hi, comp = fieller_interval(mc, vc, mt, vt, q)
    assert not comp
    ref = _invert_numerically(mc, vc, mt, vt, q)
    assert lo == pytest.approx(ref[0], abs=1e-9)
    assert hi == pytest.approx(ref[1], abs=1e-9)
    # one-sided: the "greater" set is [lower root of T = q1, inf)
    q1 = stats.norm.ppf(0.95)
    lo1, hi1, _ = fieller_interval(mc, vc, mt, vt, q1, alternative="greater")
    assert hi1 == np.inf
    assert lo1 == pytest.approx(_invert_numerically(mc, vc, mt, vt, q1)[0], abs=1e-9)
    lo2, hi2, _ = fieller_interval(mc, vc, mt, vt, q1, alternative="less")
    assert lo2 == -np.inf
    assert hi2 == pytest.approx(_invert_numerically(mc, vc, mt, vt, q1)[1], abs=1e-9)


def test_fieller_unbounded_cases() -> None:
    q = 1.96
    # control mean indistinguishable from 0, treatment clearly positive: two rays
    lo, hi, comp = fieller_interval(0.1, 0.01, 2.0, 0.01, q)
    assert comp and lo < 0 < hi
    assert interval_excludes(lo, hi, comp)  # consistent with a significant difference
    # nothing distinguishable from anything: whole line
    lo, hi, comp = fieller_interval(0.01, 1.0, 0.02, 1.0, q)
    assert (lo, hi, bool(comp)) == (-np.inf, np.inf, False)


def test_relative_interval_agrees_with_p_value_batch() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(100, 5000, size=(3, 500))
    x = rng.binomial(n, 0.1)
    for alt in ["two-sided", "greater", "less"]:
        df = proportion_test(x, n, alpha=0.05, alternative=alt)
        sig = df["p_value"].to_numpy() < 0.05
        assert np.array_equal(interval_excludes(df["abs_ci_low"], df["abs_ci_high"]), sig)
        assert np.array_equal(
            interval_excludes(df["rel_ci_low"], df["rel_ci_high"], df["rel_ci_shape"]), sig)


def test_many_arms_and_batches_flatten_in_order() -> None:
    x = np.array([[10, 20], [12, 25], [15, 18]])
    n = np.full((3, 2), 200)
    df = proportion_test(x, n)
    assert list(df["comparison"]) == [0, 0, 1, 1]
    assert list(df["arm"]) == [1, 2, 1, 2]
    assert df.loc[(df.comparison == 1) & (df.arm == 2), "treatment_mean"].item() == 18 / 200
    assert df.loc[(df.comparison == 1) & (df.arm == 2), "control_mean"].item() == 20 / 200
    assert df["method"].eq("wald-z").all()


def _assert_no_nan(df: pd.DataFrame) -> None:
    num = df.select_dtypes("number")
    assert not num.isna().any().any(), num.columns[num.isna().any()].tolist()


def test_zero_conversions_in_both_arms_is_documented_finite() -> None:
    df = proportion_test([0, 0], [1000, 1200])
    _assert_no_nan(df)
    row = df.iloc[0]
    assert row["p_value"] == 1.0
    assert (row["abs_ci_low"], row["abs_ci_high"]) == (0.0, 0.0)
    assert row["rel_lift"] == 0.0
    assert (row["rel_ci_low"], row["rel_ci_high"]) == (-np.inf, np.inf)


def test_zero_control_conversions_gives_infinite_lift() -> None:
    df = proportion_test([0, 30], [1000, 1000])
    _assert_no_nan(df)
    row = df.iloc[0]
    assert row["rel_lift"] == np.inf
    assert row["p_value"] < 0.05
    assert row["rel_ci_low"] == np.inf  # the lift from a zero baseline is infinite


@pytest.mark.parametrize(
    ("successes", "trials", "match"),
    [
        ([5, 6], [100, 0], "no trials"),
        ([5], [100], "at least two arms"),
        ([5, np.nan], [100, 100], "missing"),
        ([-1, 5], [100, 100], "negative"),
        ([5, 150], [100, 100], "exceed"),
        ([[5, 6], [7, 8]], [[100, 100, 100]], "compatible shapes"),
    ],
)
def test_bad_proportion_input_raises(successes, trials, match) -> None:
    with pytest.raises(ValueError, match=match):
        proportion_test(successes, trials)


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="alpha"):
        proportion_test([5, 6], [100, 100], alpha=1.5)
    with pytest.raises(ValueError, match="alternative"):
        proportion_test([5, 6], [100, 100], alternative="bigger")  # type: ignore[arg-type]


def test_bad_mean_and_ratio_input_raises() -> None:
    with pytest.raises(ValueError, match="single unit"):
        mean_test([1, 10], [1.0, 5.0], [1.0, 10.0])
    with pytest.raises(ValueError, match="inconsistent"):
        mean_test([10, 10], [10.0, 5.0], [1.0, 10.0])
    bad = dict(VECTOR_B, den_sum=[0, 101000])
    with pytest.raises(ValueError, match="denominator"):
        ratio_test(**bad)


def test_constant_means_are_finite() -> None:
    df = mean_test([10, 10], [50.0, 50.0], [250.0, 250.0])  # both arms constant 5.0
    _assert_no_nan(df)
    assert df["p_value"].item() == 1.0


def test_exact_tests_match_scipy_and_auto_rule() -> None:
    x, n = [3, 9], [40, 38]
    table = [[9, 3], [29, 37]]
    assert exact_test(x, n, method="fisher")["p_value"].item() == pytest.approx(
        stats.fisher_exact(table).pvalue, rel=1e-12)
    assert exact_test(x, n, method="boschloo")["p_value"].item() == pytest.approx(
        stats.boschloo_exact(table).pvalue, rel=1e-12)
    auto = exact_test(x, n)
    assert auto["method"].item() == "barnard"
    assert auto["p_value"].item() == pytest.approx(stats.barnard_exact(table).pvalue, rel=1e-12)
    # greater = treatment rate higher
    assert exact_test(x, n, method="fisher", alternative="greater")["p_value"].item() < 0.05
    big = exact_test([[1, 500], [3, 560]], [[20_000, 10_000], [20_000, 10_000]])
    assert list(big["method"]) == ["fisher", "wald"]
    wald_p = proportion_test([500, 560], [10_000, 10_000])["p_value"].item()
    assert big["p_value"].iloc[1] == pytest.approx(wald_p)
    _assert_no_nan(exact_test([0, 0], [30, 30]))
