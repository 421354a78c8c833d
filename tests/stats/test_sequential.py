"""Sequential inference: gbstats vectors, published Lan-DeMets boundaries, peeking simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from agreement import assert_intervals_agree_with_p
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from abtest.stats.frequentist import (
    fieller_interval,
    interval_excludes,
    mean_test_arrays,
    proportion_test,
    proportion_test_arrays,
)
from abtest.stats.sequential import (
    alpha_spending,
    always_valid_arrays,
    always_valid_interval,
    always_valid_p_value,
    group_sequential_bounds,
    sequential_decision,
    sequential_proportion_test,
    sequential_test,
)


def _gbstats_relative(xa, na, xb, nb):
    """gbstats relative effect and its delta-method SE (peers.md §4.1, variance p(1-p))."""
    pa, pb = xa / na, xb / nb
    va, vb = pa * (1 - pa), pb * (1 - pb)
    return (pb - pa) / pa, np.sqrt(vb / (nb * pa**2) + va * pb**2 / (na * pa**4))


def test_always_valid_matches_gbstats_vector_a():
    # peers.md §4.2: gbstats sequential, N*=5000 -> relative CI [-0.0897247, 0.3297247], p 1.0
    est, se = _gbstats_relative(500, 10_000, 560, 10_000)
    row = always_valid_interval(est, se, 20_000, tuning=5000).iloc[0]
    assert row.ci_low == pytest.approx(-0.0897247, abs=1e-7)
    assert row.ci_high == pytest.approx(0.3297247, abs=1e-7)
    assert row.p_value == 1.0


def test_always_valid_matches_gbstats_unit_test_proportions():
    # peers.md §4.4: 1396/3000 vs 2422/3461, default N* -> 0.50386, CI (0.40098, 0.60675), p 0.0
    est, se = _gbstats_relative(1396, 3000, 2422, 3461)
    row = always_valid_interval(est, se, 3000 + 3461).iloc[0]
    assert row.estimate == pytest.approx(0.50386, abs=5e-6)
    assert row.ci_low == pytest.approx(0.40098, abs=5e-6)
    assert row.ci_high == pytest.approx(0.60675, abs=5e-6)
    assert row.p_value < 1e-5


def test_always_valid_interval_excludes_zero_iff_p_below_alpha():
    rng = np.random.default_rng(1)
    est = rng.normal(0, 1, 5000)
    se = rng.uniform(0.05, 1.0, 5000)
    n = rng.integers(10, 100_000, 5000)
    for alpha in (0.05, 0.1):
        out = always_valid_interval(est, se, n, alpha=alpha)
        excludes = (out.ci_low > 0) | (out.ci_high < 0)
        assert np.array_equal(excludes.to_numpy(), (out.p_value < alpha).to_numpy())


def test_sequential_proportion_relative_interval_agrees_with_p():
    rng = np.random.default_rng(2)
    n = rng.integers(200, 20_000, size=(2, 4000))
    x = rng.binomial(n, np.array([[0.05], [0.058]]))
    out = sequential_proportion_test(x, n)
    sig = out.p_value < 0.05
    abs_ex = interval_excludes(out.abs_ci_low, out.abs_ci_high)
    rel_ex = interval_excludes(out.rel_ci_low, out.rel_ci_high, out.rel_ci_shape)
    assert np.array_equal(sig.to_numpy(), abs_ex)
    assert np.array_equal(sig.to_numpy(), rel_ex)
    assert sig.any() and (~sig).any()
    # small counts: the relative set is sometimes the complement of an interval (Fieller)
    n = rng.integers(20, 400, size=(2, 4000))
    x = rng.binomial(n, np.array([[0.01], [0.05]]))
    x[0] = np.maximum(x[0], 1)
    out = sequential_proportion_test(x, n)
    assert (out.rel_ci_shape == "complement").any()
    rel_ex = interval_excludes(out.rel_ci_low, out.rel_ci_high, out.rel_ci_shape)
    assert np.array_equal((out.p_value < 0.05).to_numpy(), rel_ex)


def test_sequential_uses_the_fixed_horizon_building_blocks():
    """Same means/variances as proportion_test; interval = Fieller at the always-valid crit."""
    x, n = np.array([120, 150, 90]), np.array([2000, 2100, 1900])
    seq = sequential_proportion_test(x, n)
    fixed = proportion_test(x, n)
    for col in ("control_mean", "treatment_mean", "abs_diff", "std_error", "rel_lift"):
        np.testing.assert_allclose(seq[col], fixed[col], rtol=1e-14)
    crit = (seq.abs_ci_high - seq.abs_diff) / seq.std_error
    res = proportion_test_arrays(x, n)
    lo, hi, comp = fieller_interval(res.control_mean, res.control_var, res.treatment_mean,
                                    res.treatment_var, crit.to_numpy())
    np.testing.assert_allclose(seq.rel_ci_low, lo, rtol=1e-14)
    np.testing.assert_allclose(seq.rel_ci_high, hi, rtol=1e-14)
    assert set(fixed.columns) <= set(seq.columns) and "n_total" in seq
    assert set(seq.method) == {"always-valid"} and "rel_ci_shape" in seq
    # the generic entry point gives the same numbers from means and variances of the means
    p = x / n
    gen = sequential_test(p, p * (1 - p) / n, n)
    np.testing.assert_allclose(gen.p_value, seq.p_value, rtol=1e-14)
    np.testing.assert_allclose(gen.rel_ci_low, seq.rel_ci_low, rtol=1e-14)
    # always_valid_arrays on a ratio result: same p as the primitive on z = d / se
    av = always_valid_arrays(res)
    np.testing.assert_allclose(
        av.p_value, always_valid_p_value(res.abs_diff / res.std_error, res.control_n
                                         + res.treatment_n), rtol=1e-14)


ALPHAS = st.sampled_from([0.01, 0.05, 0.1, 0.2])


@st.composite
def _proportions(draw):
    k = draw(st.integers(2, 4))
    n = draw(st.lists(st.integers(1, 200_000), min_size=k, max_size=k))
    x = [draw(st.integers(0, ni)) for ni in n]
    return np.array(x), np.array(n)


@settings(max_examples=300, deadline=None)
@given(_proportions(), ALPHAS, st.sampled_from([100.0, 5000.0, 1e6]))
def test_property_always_valid_proportion_excludes_zero_iff_p_below_alpha(data, alpha, tuning):
    x, n = data
    assert_intervals_agree_with_p(always_valid_arrays(proportion_test_arrays(x, n), alpha=alpha, tuning=tuning), alpha)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 500), st.floats(-50, 50), st.floats(0, 30)),
                min_size=2, max_size=4), ALPHAS)
def test_property_always_valid_means_excludes_zero_iff_p_below_alpha(arms, alpha):
    n = np.array([a[0] for a in arms], dtype=float)
    mean = np.array([a[1] for a in arms])
    sd = np.array([a[2] for a in arms])
    res = mean_test_arrays(n, mean * n, (sd**2 + mean**2) * n)
    assert_intervals_agree_with_p(always_valid_arrays(res, alpha=alpha), alpha)


def test_always_valid_interval_is_wider_than_fixed_horizon():
    out = always_valid_interval(0.0, 1.0, [100, 5000, 1e6])
    assert (out.ci_high > 1.959964).all()


def test_sequential_degenerate_inputs():
    with pytest.raises(ValueError, match="zero traffic"):
        sequential_proportion_test([1, 2], [0, 10])
    with pytest.raises(ValueError, match="missing"):
        sequential_proportion_test([1, np.nan], [10, 10])
    with pytest.raises(ValueError, match="two arms"):
        sequential_proportion_test([1], [10])
    # zero control conversions: the documented convention of proportion_test, never NaN
    out = sequential_proportion_test([0, 3], [100, 100])
    assert out.rel_lift.iloc[0] == np.inf and not out.isna().any().any()
    assert not interval_excludes(out.rel_ci_low, out.rel_ci_high, out.rel_ci_shape)[0]
    both = sequential_proportion_test([0, 0], [100, 100]).iloc[0]
    assert both.p_value == 1.0 and both.rel_lift == 0.0
    with pytest.raises(ValueError):
        always_valid_interval(1.0, 0.1, 0)
    # all zeros in the treated arm: finite interval once control is well measured
    out = sequential_proportion_test([50, 0], [1000, 1000])
    assert np.isfinite(out.select_dtypes("number").drop(columns="dof").to_numpy()).all()
    # a control rate not distinguishable from 0: documented infinite ends, never NaN
    out = sequential_proportion_test([5, 0], [100, 100])
    assert not out.isna().any().any()
    assert out.rel_ci_low.iloc[0] == -np.inf and out.rel_ci_high.iloc[0] == np.inf


def test_alpha_spending_functions():
    t = np.array([0.25, 0.5, 1.0])
    assert alpha_spending(1.0, alpha=0.025) == pytest.approx(0.025, abs=1e-15)
    assert alpha_spending(t, alpha=0.025, spending="pocock")[-1] == pytest.approx(0.025)
    # rpact test-f_design_group_sequential.R (x6a / x7a) alphaSpent at the first look
    assert alpha_spending(0.35, alpha=0.13, spending="pocock") == pytest.approx(0.061214062, abs=1e-9)
    assert alpha_spending(0.4, alpha=0.13) == pytest.approx(0.016665509, abs=1e-9)


@pytest.mark.parametrize(
    ("fractions", "alpha", "spending", "expected"),
    [
        # rpact tests/testthat/test-f_design_group_sequential.R, getDesignGroupSequential x7a
        # (asOF, one-sided alpha 0.13, non-binding futility so the efficacy bounds are pure).
        ([0.4, 0.75, 1], 0.13, "obrien-fleming", [2.1280732, 1.4368565, 1.2468994]),
        ([0.4, 0.75, 0.85, 1], 0.13, "obrien-fleming", [2.1280732, 1.4368565, 1.422873, 1.2970881]),
        # same file, x6a (asP, one-sided alpha 0.13, non-binding futility)
        ([0.35, 0.7, 1], 0.13, "pocock", [1.5446617, 1.4828682, 1.4620058]),
        # same file, x6b: asP, default alpha 0.025, information rates (0.4, 0.7): stops before t=1
        ([0.4, 0.7], 0.025, "pocock", [2.223875, 2.3050796]),
    ],
)
def test_one_sided_bounds_match_rpact(fractions, alpha, spending, expected):
    out = group_sequential_bounds(fractions, alpha=alpha, spending=spending, sides=1)
    np.testing.assert_allclose(out.z_bound, expected, atol=1e-6)


def test_one_sided_obf_k3_matches_rpact_and_gsdesign():
    # K=3 equally spaced, one-sided 0.025, asOF / sfLDOF: 3.7103, 2.5114, 1.9930 (4 dp, value
    # cross-checked against rpact::getDesignGroupSequential and gsDesign::gsDesign in a public
    # validation suite found via code search: vcr_case "N01").
    out = group_sequential_bounds([1 / 3, 2 / 3, 1], alpha=0.025, sides=1)
    np.testing.assert_allclose(out.z_bound, [3.7103, 2.5114, 1.9930], atol=5e-5)


def test_two_sided_obf_matches_ldbounds_unequal_spacing():
    # ldbounds::bounds(c(0.10, 0.33, 1), iuse=c(1,1), alpha=c(0.025, 0.025)), printed in the
    # r-help thread "output of bounds function ldbounds package" (2020-03): 6.9913, 3.7308,
    # 1.9605. ldbounds integrates on a coarse grid (h = 0.05), so agreement is to ~2e-4.
    out = group_sequential_bounds([0.10, 0.33, 1.0], alpha=0.05)
    np.testing.assert_allclose(out.z_bound, [6.9913, 3.7308, 1.9605], atol=2e-4)
    np.testing.assert_allclose(out.alpha_spent_cumulative.iloc[-1], 0.05)


def test_two_sided_bounds_spend_exactly_alpha_by_simulation():
    t = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    rng = np.random.default_rng(3)
    inc = rng.standard_normal((400_000, t.size)) * np.sqrt(np.diff(np.concatenate([[0], t])))
    z = np.cumsum(inc, axis=1) / np.sqrt(t)
    for spending in ("obrien-fleming", "pocock"):
        b = group_sequential_bounds(t, spending=spending).z_bound.to_numpy()
        rate = (np.abs(z) >= b).any(axis=1).mean()
        assert rate == pytest.approx(0.05, abs=0.0015)
    pocock = group_sequential_bounds(t, spending="pocock").z_bound
    assert pocock.max() - pocock.min() < 0.06  # nearly flat, as Pocock-type should be


def test_bounds_reject_bad_fractions():
    for bad in ([0.5, 0.5, 1], [0, 1], [0.5, 1.2], [np.nan, 1]):
        with pytest.raises(ValueError):
            group_sequential_bounds(bad)
    with pytest.raises(ValueError, match="spending"):
        group_sequential_bounds([0.5, 1], spending="haybittle")  # type: ignore[arg-type]


def test_sequential_decision():
    t = [0.2, 0.4, 0.6, 0.8, 1.0]
    z = np.array(
        [
            [1.0, 3.5, 0.0, 0.0, 0.0],  # crosses at look 2 (bound 3.357)
            [1.0, 1.5, 2.0, 2.1, 1.5],  # never crosses: accept at the end
            [-5.0, 0.0, 0.0, 0.0, 0.0],  # crosses downward at look 1 (bound 4.877)
        ]
    )
    out = sequential_decision(z, t)
    d = out.pivot(index="comparison", columns="look", values="decision")
    assert list(d.loc[0]) == ["continue", "reject", "stopped", "stopped", "stopped"]
    assert list(d.loc[1]) == ["continue"] * 4 + ["accept"]
    assert d.loc[2, 1] == "reject"
    partial = sequential_decision([1.0, 1.2], [0.3, 0.55])
    assert list(partial.decision) == ["continue", "continue"]
    assert isinstance(out, pd.DataFrame) and not out.isna().any().any()


@pytest.mark.slow
def test_daily_peeking_always_valid_controls_false_positives():
    """A/A test peeked daily for 30 days: naive p<0.05 at any look > 0.15, always-valid <= 0.05."""
    rng = np.random.default_rng(20240530)
    sims, days, daily, rate = 4000, 30, 500, 0.05
    conv = rng.binomial(daily, rate, size=(sims, days, 2)).cumsum(axis=1)
    trials = np.broadcast_to(daily * np.arange(1, days + 1)[None, :, None], conv.shape)
    p = conv / trials
    se = np.sqrt((p * (1 - p) / trials).sum(axis=2))
    z = (p[..., 1] - p[..., 0]) / se
    naive_p = 2 * stats.norm.sf(np.abs(z))
    naive_fpr = (naive_p < 0.05).any(axis=1).mean()
    av = always_valid_p_value(z, trials.sum(axis=2), tuning=5000)
    av_fpr = (av < 0.05).any(axis=1).mean()
    print(f"daily peeking, 30 looks: naive FPR {naive_fpr:.3f}, always-valid FPR {av_fpr:.3f}")
    assert naive_fpr > 0.15
    assert av_fpr <= 0.05
    # the vectorised test function gives the same p-values as the primitive
    flat = sequential_proportion_test(
        np.moveaxis(conv[:50], -1, 0), np.moveaxis(trials[:50], -1, 0)
    )
    np.testing.assert_allclose(flat.p_value, av[:50].ravel(), rtol=1e-12)


# Lan-DeMets spending, K equally spaced looks, two-sided alpha = 0.05 (alpha/2 per side): the
# three-decimal boundaries tabulated by DeMets & Lan (1994), "Interim analysis: the alpha spending
# function approach", Statistics in Medicine 13:1341-1352, and reproduced by gsDesign
# (sfLDOF / sfLDPocock) and ldbounds.
PUBLISHED_EQUAL_SPACING = {
    ("obrien-fleming", 3): [3.710, 2.511, 1.993],
    ("obrien-fleming", 4): [4.333, 2.963, 2.359, 2.014],
    ("obrien-fleming", 5): [4.877, 3.357, 2.680, 2.290, 2.031],
    ("pocock", 5): [2.438, 2.427, 2.410, 2.397, 2.386],
}


@pytest.mark.parametrize(("spending", "k"), sorted(PUBLISHED_EQUAL_SPACING))
def test_equally_spaced_bounds_match_published_tables(spending: str, k: int) -> None:
    from abtest.stats import group_sequential_bounds

    bounds = group_sequential_bounds(np.arange(1, k + 1) / k, alpha=0.05, spending=spending)
    np.testing.assert_allclose(
        bounds["z_bound"].to_numpy(), PUBLISHED_EQUAL_SPACING[(spending, k)], atol=5e-4
    )
