"""Sequential inference: gbstats vectors, published Lan-DeMets boundaries, peeking simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abtest.stats.sequential import (
    alpha_spending,
    always_valid_interval,
    always_valid_p_value,
    group_sequential_bounds,
    sequential_decision,
    sequential_proportion_test,
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
    abs_ex = (out.abs_ci_low > 0) | (out.abs_ci_high < 0)
    rel_ex = (out.rel_ci_low > 0) | (out.rel_ci_high < 0)
    assert np.array_equal(sig.to_numpy(), abs_ex.to_numpy())
    assert np.array_equal(sig.to_numpy(), rel_ex.to_numpy())
    assert sig.any() and (~sig).any()


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
    with pytest.raises(ValueError, match="zero conversions"):
        sequential_proportion_test([0, 3], [100, 100])
    with pytest.raises(ValueError):
        always_valid_interval(1.0, 0.1, 0)
    # all zeros in the treated arm: finite interval once control is well measured
    out = sequential_proportion_test([50, 0], [1000, 1000])
    assert np.isfinite(out.drop(columns=["comparison", "arm"]).to_numpy()).all()
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
