"""The fast Bayesian paths (issue 15) against scipy quadrature on the cases they changed:
two-arm P(best) when one posterior is far narrower than the other, and the lift credible
interval's Newton search on small, skewed and tied counts (batched, so pairs that converge at
different iterations do not disturb each other)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from abtest.stats import beta_binomial_arrays, proportion_test


def _quad_prob_greater(at, bt, ac, bc) -> float:
    c = stats.beta(ac, bc)
    lo, hi = c.ppf(1e-14), c.isf(1e-14)
    return integrate.quad(lambda x: c.pdf(x) * stats.beta.sf(x, at, bt), lo, hi,
                          epsabs=1e-13, limit=300)[0]


def _ratio_cdf(r, at, bt, ac, bc) -> float:
    """P(X_t / X_c <= r) by adaptive quadrature over the control posterior."""
    c = stats.beta(ac, bc)
    lo, hi = c.ppf(1e-15), c.isf(1e-15)
    return integrate.quad(lambda x: c.pdf(x) * stats.beta.cdf(r * x, at, bt), lo, hi,
                          epsabs=1e-13, limit=400)[0]


def test_two_arm_prob_best_matches_quad_when_widths_differ() -> None:
    # 1.5M control leads vs 11k treatment leads: the control posterior is 10x narrower
    s = beta_binomial_arrays([17187, 123], [1522222, 11418])
    ref = _quad_prob_greater(124, 11296, 17188, 1505036)
    assert s.prob_best[1, ...] == pytest.approx(ref, abs=1e-8)
    assert s.prob_best[0, ...] == pytest.approx(1 - ref, abs=1e-8)
    mean = s.post_mean
    # E[max] - E[X_j]: the treatment's loss vs best is its expected loss vs control
    assert s.expected_loss_vs_best[1, ...] == pytest.approx(s.expected_loss[0], abs=1e-12)
    assert s.expected_loss_vs_best[0, ...] == pytest.approx(
        s.expected_loss[0] + mean[1] - mean[0], abs=1e-12)


def test_batched_lift_intervals_match_quad_on_small_and_skewed_counts() -> None:
    x = np.array([[2, 3, 0, 153, 40, 5], [4, 2, 0, 45880, 52, 0]])
    n = np.array([[15, 97, 167, 6125, 1000, 60], [14, 7, 5, 45880, 1000, 9]])
    s = beta_binomial_arrays(x, n, ci_level=0.95)
    a, b = 1.0 + x, 1.0 + n - x
    for j in range(x.shape[1]):
        for r, tail in [(s.rel_cred_low[0, j], 0.025), (s.rel_cred_high[0, j], 0.975)]:
            cdf = _ratio_cdf(1.0 + r, a[1, j], b[1, j], a[0, j], b[0, j])
            assert cdf == pytest.approx(tail, abs=2e-7), (j, r)
    # one pair alone gives the same interval as inside the batch
    one = beta_binomial_arrays(x[:, :1], n[:, :1], ci_level=0.95)
    assert one.rel_cred_low[0, 0] == pytest.approx(s.rel_cred_low[0, 0], abs=1e-12)


def test_frame_text_columns_are_pandas_strings() -> None:
    df = proportion_test([[0, 30, 10], [0, 45, 12]], [[100, 1000, 1000], [100, 1000, 1000]])
    assert str(df["method"].dtype) == "str" and set(df["method"]) == {"wald-z"}
    assert str(df["rel_ci_shape"].dtype) == "str"
    assert set(df["rel_ci_shape"]) <= {"interval", "complement"}
    assert df["alpha"].dtype == np.float64 and (df["alpha"] == 0.05).all()
    assert list(df["comparison"]) == [0, 1, 2]
