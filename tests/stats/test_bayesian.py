"""Bayesian summaries against exact sums, scipy quadrature and gbstats vectors (peers.md)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from abtest.stats import (
    bayes_mean,
    bayes_normal,
    bayes_proportion,
    bayes_ratio,
    beta_binomial_arrays,
    beta_prob_greater,
)


def exact_prob_greater(at: int, bt: int, ac: int, bc: int) -> float:
    """Closed form for integer a_t (Evan Miller): P(X_t > X_c) as a finite sum."""
    i = np.arange(at)
    log_terms = (special.betaln(ac + i, bc + bt) - np.log(bt + i) - special.betaln(1 + i, bt)
                 - special.betaln(ac, bc))
    return float(np.exp(log_terms).sum())


def quad_prob_greater(at, bt, ac, bc) -> float:
    def f(x):
        return stats.beta.pdf(x, ac, bc) * stats.beta.sf(x, at, bt)
    return integrate.quad(f, 0, 1, epsabs=1e-14, epsrel=1e-12, limit=500,
                          points=[ac / (ac + bc), at / (at + bt)])[0]


def test_vector_a_exact_prob_beat_control() -> None:
    """peers.md 4.2: exact P(B>A) 0.970838 (Beta(1,1)) and 0.970894 (Beta(1/2,1/2))."""
    df = bayes_proportion([500, 560], [10_000, 10_000])
    assert round(df["prob_beat_control"].item(), 6) == 0.970838
    assert df["prob_beat_control"].item() == pytest.approx(
        exact_prob_greater(561, 9441, 501, 9501), abs=1e-9)
    jeff = bayes_proportion([500, 560], [10_000, 10_000], prior=(0.5, 0.5))
    assert round(jeff["prob_beat_control"].item(), 6) == 0.970894


@pytest.mark.parametrize(("at", "bt", "ac", "bc"),
                         [(3, 5, 2, 7), (1, 1, 1, 1), (12, 400, 20, 380), (1, 5000, 4, 3000),
                          (200, 30, 180, 40)])
def test_prob_greater_exact_sum(at, bt, ac, bc) -> None:
    p, _ = beta_prob_greater(at, bt, ac, bc)
    assert p == pytest.approx(exact_prob_greater(at, bt, ac, bc), abs=1e-9)


def test_prob_and_loss_match_quad_random() -> None:
    rng = np.random.default_rng(7)
    for _ in range(12):
        n = rng.integers(2, 20_000, 2)
        x = rng.binomial(n, rng.uniform(0.001, 0.5))
        pa = rng.choice([0.5, 1.0, 2.0])
        at, bt, ac, bc = x[1] + pa, n[1] - x[1] + pa, x[0] + pa, n[0] - x[0] + pa
        p, loss = beta_prob_greater(at, bt, ac, bc)
        assert p == pytest.approx(quad_prob_greater(at, bt, ac, bc), abs=1e-8)
        # E[max(X_c - X_t, 0)] = int f_c(x) (x F_t(x) - mu_t F_{Beta(a_t+1, b_t)}(x)) dx
        mu_t = at / (at + bt)

        def integrand(x, at=at, bt=bt, ac=ac, bc=bc, mu_t=mu_t):
            return stats.beta.pdf(x, ac, bc) * (x * stats.beta.cdf(x, at, bt)
                                                - mu_t * stats.beta.cdf(x, at + 1, bt))
        ref = integrate.quad(integrand, 0, 1, epsabs=1e-14, limit=300,
                             points=[ac / (ac + bc), mu_t])[0]
        assert loss == pytest.approx(ref, abs=1e-9)


def test_prob_best_three_arms_matches_quad() -> None:
    x, n = np.array([40, 48, 45]), np.array([1000, 1000, 1000])
    s = beta_binomial_arrays(x, n)
    a, b = x + 1.0, n - x + 1.0
    for j in range(3):
        others = [i for i in range(3) if i != j]

        def f(t, j=j, others=others):
            return stats.beta.pdf(t, a[j], b[j]) * np.prod(
                [stats.beta.cdf(t, a[i], b[i]) for i in others])
        ref = integrate.quad(f, 0, 1, epsabs=1e-13, limit=300, points=[0.04, 0.05])[0]
        assert s.prob_best[j] == pytest.approx(ref, abs=1e-8)
    assert s.prob_best.sum() == pytest.approx(1.0, abs=1e-12)
    e_max = integrate.quad(
        lambda t: 1 - np.prod([stats.beta.cdf(t, a[i], b[i]) for i in range(3)]), 0, 1,
        epsabs=1e-13, limit=300, points=[0.04, 0.05])[0]
    assert s.expected_loss_vs_best == pytest.approx(e_max - a / (a + b), abs=1e-9)


def test_two_arm_consistency_and_credible_intervals() -> None:
    df = bayes_proportion([30, 45], [1000, 1000], ci_level=0.9)
    row = df.iloc[0]
    assert row["prob_best"] == pytest.approx(row["prob_beat_control"], abs=1e-10)
    assert row["control_prob_best"] == pytest.approx(1 - row["prob_beat_control"], abs=1e-10)
    assert row["treatment_cred_low"] == pytest.approx(stats.beta.ppf(0.05, 46, 956), rel=1e-10)
    assert row["control_cred_high"] == pytest.approx(stats.beta.ppf(0.95, 31, 971), rel=1e-10)
    # E[(X_t - X_c)+] - E[(X_c - X_t)+] = E[X_t] - E[X_c]
    assert row["expected_loss_control"] - row["expected_loss"] == pytest.approx(
        row["treatment_mean"] - row["control_mean"], abs=1e-12)


def test_relative_lift_interval_tails() -> None:
    s = beta_binomial_arrays([30, 45], [1000, 1000], ci_level=0.95)
    at, bt, ac, bc = 46, 956, 31, 971
    for r, tail in [(s.rel_cred_low[0], 0.025), (s.rel_cred_high[0], 0.975)]:
        cdf = integrate.quad(lambda x, r=r: stats.beta.pdf(x, ac, bc)
                             * stats.beta.cdf((1 + r) * x, at, bt), 0, 1,
                             epsabs=1e-13, limit=300, points=[0.03])[0]
        assert cdf == pytest.approx(tail, abs=1e-7)


def test_per_arm_priors_and_batches() -> None:
    x = np.array([[10, 20], [14, 25]])
    n = np.full((2, 2), 300)
    df = bayes_proportion(x, n, prior=([1.0, 2.0], [1.0, 3.0]))
    assert list(df["prior_alpha"]) == [2.0, 2.0]
    assert list(df["prior_beta"]) == [3.0, 3.0]
    ref = exact_prob_greater(14 + 2, 286 + 3, 11, 291)
    assert df["prob_beat_control"].iloc[0] == pytest.approx(ref, abs=1e-9)


def test_labels_are_not_p_values_and_output_is_deterministic() -> None:
    a = bayes_proportion([500, 560, 540], [10_000, 10_000, 10_000])
    b = bayes_proportion([500, 560, 540], [10_000, 10_000, 10_000])
    assert a.equals(b)
    banned = {"p", "p_value", "pvalue", "confidence", "significance", "significant"}
    assert not banned & set(a.columns)
    assert not a.select_dtypes("number").isna().any().any()


def test_degenerate_bayes_input() -> None:
    df = bayes_proportion([0, 0], [100, 100])  # zero conversions: finite thanks to the prior
    assert df["prob_beat_control"].item() == pytest.approx(0.5, abs=1e-10)
    assert not df.select_dtypes("number").isna().any().any()
    with pytest.raises(ValueError, match="no trials"):
        bayes_proportion([0, 0], [100, 0])
    with pytest.raises(ValueError, match="prior"):
        bayes_proportion([1, 2], [100, 100], prior=(0, 1))
    with pytest.raises(ValueError, match="exceed"):
        bayes_proportion([1, 200], [100, 100])


def test_gbstats_normal_vectors() -> None:
    # peers.md 4.2 gbstats flat prior on vector A (relative): CrI, chance to win, risk
    v = [0.05 * 0.95 / 1e4, 0.056 * 0.944 / 1e4]
    row = bayes_normal([0.05, 0.056], v).iloc[0]
    assert round(row["effect_sd"], 7) == 0.0670665
    assert round(row["cred_low"], 7) == -0.011448
    assert round(row["cred_high"], 7) == 0.251448
    assert round(row["prob_beat_control"], 7) == 0.9632142
    assert round(row["expected_loss_control"], 7) == 0.1209836
    assert round(row["expected_loss"], 7) == 0.0009836
    # prior N(0, 0.3^2) on the relative lift
    row = bayes_normal([0.05, 0.056], v, prior_sd=0.3).iloc[0]
    assert round(row["effect"], 7) == 0.1142882
    assert round(row["effect_sd"], 7) == 0.065451
    assert round(row["prob_beat_control"], 7) == 0.9596089
    # peers.md 4.3 ratio, flat: chance to win 0.9796488, CI [0.0037596, 0.1744582]
    row = bayes_ratio([5000, 5000], [1500, 1650], [2500, 2800], [100000, 101000],
                      [2_600_000, 2_650_000], [40_000, 44_000]).iloc[0]
    assert round(row["prob_beat_control"], 7) == 0.9796488
    # peers.md 4.4 Bayesian normal: flat and prior N(0.1, var 0.1)
    row = bayes_mean([10, 10], [100, 105], [1002.25, 1111.5]).iloc[0]
    assert round(row["prob_beat_control"], 5) == 0.91923
    assert (round(row["cred_low"], 2), round(row["cred_high"], 2)) == (-0.02, 0.12)
    row = bayes_mean([10, 10], [100, 105], [1002.25, 1111.5], prior_mean=0.1,
                     prior_sd=0.1**0.5).iloc[0]
    assert round(row["effect"], 5) == 0.05063
    assert round(row["prob_beat_control"], 5) == 0.92315
    # peers.md 4.4 Bayesian binomial (gbstats uses the normal model): 49/100 vs 51/100
    row = bayes_normal([0.49, 0.51], [0.49 * 0.51 / 100, 0.51 * 0.49 / 100]).iloc[0]
    assert round(row["effect"], 5) == 0.04082
    assert (round(row["cred_low"], 5), round(row["cred_high"], 5)) == (-0.24779, 0.32943)
    assert round(row["prob_beat_control"], 5) == 0.60918
    assert round(row["expected_loss_control"], 4) == 0.0814
    assert round(row["expected_loss"], 5) == 0.04058


def test_normal_absolute_and_errors() -> None:
    row = bayes_normal([1.0, 1.2], [0.01, 0.01], relative=False).iloc[0]
    assert row["effect"] == pytest.approx(0.2)
    assert row["prob_beat_control"] == pytest.approx(stats.norm.cdf(0.2 / np.sqrt(0.02)))
    with pytest.raises(ValueError, match="non-zero control"):
        bayes_normal([0.0, 1.0], [0.01, 0.01])
    with pytest.raises(ValueError, match="prior_sd"):
        bayes_normal([1.0, 1.2], [0.01, 0.01], prior_sd=0.0)
