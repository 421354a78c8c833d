"""Seeded simulations: A/A false-positive rate and 95% interval coverage (20,000 experiments,
drawn as arrays and analysed in one vectorised call)."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.stats import interval_excludes, proportion_test_arrays, ratio_test_arrays

N_SIMS = 20_000
pytestmark = pytest.mark.slow


def _coverage(low, high, value, complement=None) -> float:
    comp = np.zeros(np.shape(low), dtype=bool) if complement is None else complement
    return float(np.mean(~interval_excludes(low, high, comp, value=value)))


def test_proportions_false_positive_rate_and_coverage() -> None:
    rng = np.random.default_rng(2024)
    n = 4000
    aa = rng.binomial(n, 0.05, size=(2, N_SIMS))
    fpr = np.mean(proportion_test_arrays(aa, n).p_value < 0.05)
    assert 0.04 <= fpr <= 0.06, fpr

    p_c, lift = 0.08, 0.15
    x = rng.binomial(n, np.array([[p_c], [p_c * (1 + lift)]]), size=(2, N_SIMS))
    res = proportion_test_arrays(x, n)
    abs_cov = _coverage(res.abs_ci_low[0], res.abs_ci_high[0], p_c * lift)
    rel_cov = _coverage(res.rel_ci_low[0], res.rel_ci_high[0], lift, res.rel_ci_complement[0])
    assert 0.94 <= abs_cov <= 0.96, abs_cov
    assert 0.94 <= rel_cov <= 0.96, rel_cov


def _ratio_sums(rng: np.random.Generator, n_users: int, ctr: np.ndarray) -> np.ndarray:
    """Per-arm sufficient statistics of clicks/impressions for N_SIMS experiments.

    Users have Poisson impressions and their own click-through propensity (gamma
    heterogeneity), so clicks and impressions are correlated within a user and the true
    ratio of arm j is ctr[j].
    """
    k = ctr.shape[0]
    impr = rng.poisson(12.0, size=(k, N_SIMS, n_users)) + 1
    propensity = ctr[:, None, None] * rng.gamma(2.0, 0.5, size=(k, N_SIMS, n_users))
    clicks = rng.binomial(impr, np.minimum(propensity, 1.0)).astype(float)
    impr = impr.astype(float)
    return np.stack([
        np.full((k, N_SIMS), float(n_users)), clicks.sum(-1), (clicks**2).sum(-1),
        impr.sum(-1), (impr**2).sum(-1), (clicks * impr).sum(-1),
    ])


def test_ratio_false_positive_rate_and_coverage() -> None:
    rng = np.random.default_rng(7)
    aa = _ratio_sums(rng, 300, np.array([0.04, 0.04]))
    fpr = np.mean(ratio_test_arrays(*aa).p_value < 0.05)
    assert 0.04 <= fpr <= 0.06, fpr

    lift = 0.2
    ab = _ratio_sums(rng, 300, np.array([0.04, 0.04 * (1 + lift)]))
    res = ratio_test_arrays(*ab)
    abs_cov = _coverage(res.abs_ci_low[0], res.abs_ci_high[0], 0.04 * lift)
    rel_cov = _coverage(res.rel_ci_low[0], res.rel_ci_high[0], lift, res.rel_ci_complement[0])
    assert 0.94 <= abs_cov <= 0.96, abs_cov
    assert 0.94 <= rel_cov <= 0.96, rel_cov
