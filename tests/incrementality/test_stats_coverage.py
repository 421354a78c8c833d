"""Coverage of the incrementality intervals on lead-level data drawn with plain numpy.

Each replication: 5,000 leads, 20% holdout; a latent "reachable" type (share 40–80%, drawn per
replication) that converts more often anyway, as retargeted leads do; the ads add a known
``TAU`` to the conversion probability of the reached leads only; revenue per conversion is
lognormal; spend per reached lead follows its impressions. Known truths per replication:
incremental conversions ``n_t · share · TAU``, effect on the reached ``TAU``, cost per
incremental ``E[spend | reached] / TAU``, iROAS ``TAU · E[value] / E[spend | reached]``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abtest.stats.incrementality import (
    fieller_ratio,
    incrementality_arrays,
    incrementality_factor,
    positive_part,
    unit_moments,
)

REPS = 2000
N = 5000
HOLDOUT = 0.2
TAU = 0.03
P_UNREACHABLE, P_REACHABLE = 0.04, 0.07
VALUE_MU, VALUE_SIGMA = np.log(50.0), 0.6
IMPRESSIONS_MEAN, CPM = 9.0, 8.0  # impressions per reached lead: 1 + Poisson(8)
MEAN_VALUE = float(np.exp(VALUE_MU + VALUE_SIGMA**2 / 2))
MEAN_SPEND_REACHED = IMPRESSIONS_MEAN * CPM / 1000
BUDGET = 250.0  # the fixed-budget variant: spend per treated arm


def _draw(rng: np.random.Generator, reps: int, share: np.ndarray):
    """Per-lead values (conversions, revenue, reached, spend) for both arms: (reps, n, 4)."""
    n_c = int(N * HOLDOUT)
    n_t = N - n_c
    out = []
    for n, treated in ((n_t, True), (n_c, False)):
        reachable = rng.random((reps, n)) < share[:, None]
        p = np.where(reachable, P_REACHABLE, P_UNREACHABLE) + (TAU * reachable if treated else 0)
        conv = (rng.random((reps, n)) < p).astype(np.float64)
        rev = conv * rng.lognormal(VALUE_MU, VALUE_SIGMA, (reps, n))
        reached = reachable.astype(np.float64) if treated else np.zeros((reps, n))
        spend = reached * (1 + rng.poisson(IMPRESSIONS_MEAN - 1, (reps, n))) * CPM / 1000
        out.append(np.stack([conv, rev, reached, spend], axis=-1))
    return out


@pytest.fixture(scope="module")
def replications():
    rng = np.random.default_rng(20261202)
    share = rng.uniform(0.4, 0.8, REPS)
    parts = []
    for chunk in np.array_split(np.arange(REPS), 10):
        treated, control = _draw(rng, chunk.size, share[chunk])
        parts.append((unit_moments(treated), unit_moments(control)))
    cat = [np.concatenate([p[i][j] for p in parts]) for i in range(2) for j in range(3)]
    res = incrementality_arrays(*cat, alpha=0.05)
    # the same leads with a fixed budget per arm (a mapping arm -> spend): a constant column
    n_t = N - int(N * HOLDOUT)
    mean_t, cov_t = cat[1].copy(), cat[2].copy()
    mean_t[:, 3] = BUDGET / n_t
    cov_t[:, 3, :] = cov_t[:, :, 3] = 0.0
    fixed = incrementality_arrays(cat[0], mean_t, cov_t, *cat[3:], alpha=0.05)
    return res, share, n_t, fixed


def _coverage(low, high, truth) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


def test_interval_coverage_94_to_96(replications):
    res, share, n_t, fixed = replications
    cover = {
        "incremental_conversions": _coverage(res.incremental_low, res.incremental_high,
                                             n_t * share * TAU),
        "effect_on_reached": _coverage(res.reached_low, res.reached_high, TAU),
        "cost_per_incremental": _coverage(res.cpi_low, res.cpi_high, MEAN_SPEND_REACHED / TAU),
        "iroas": _coverage(res.iroas_low, res.iroas_high, TAU * MEAN_VALUE / MEAN_SPEND_REACHED),
        "cost_per_incremental (fixed budget)": _coverage(fixed.cpi_low, fixed.cpi_high,
                                                         BUDGET / (n_t * share * TAU)),
        "iroas (fixed budget)": _coverage(fixed.iroas_low, fixed.iroas_high,
                                          n_t * share * TAU * MEAN_VALUE / BUDGET),
    }
    print({k: round(v, 4) for k, v in cover.items()})
    for name, c in cover.items():
        assert 0.94 <= c <= 0.96, (name, c)


def test_cost_interval_open_exactly_when_increment_interval_contains_zero(replications):
    res, _, _, fixed = replications
    np.testing.assert_array_equal(fixed.cpi_open, res.cpi_open)
    contains_zero = (res.incremental_low <= 0) & (res.incremental_high >= 0)
    assert 0.05 < contains_zero.mean() < 0.5  # both cases occur in this design
    np.testing.assert_array_equal(res.cpi_open, contains_zero)
    np.testing.assert_array_equal(np.isinf(res.cpi_high), contains_zero)
    assert np.all(np.isfinite(res.cpi_low)) and np.all(res.cpi_low > 0)


def test_point_estimates_unbiased(replications):
    res, share, n_t, _ = replications
    se = res.incremental.std() / np.sqrt(REPS)
    assert abs(np.mean(res.incremental - n_t * share * TAU)) < 4 * se
    assert abs(np.mean(res.effect_on_reached) - TAU) < 4 * res.effect_on_reached.std() / np.sqrt(REPS)


def test_fieller_ratio_against_direct_inversion():
    """The set equals {theta : |N - theta D| / sd(theta) <= q} checked on a fine grid."""
    rng = np.random.default_rng(3)
    q = stats.norm.ppf(0.975)
    for _ in range(30):
        num, den = rng.normal(0, 2, 2)
        vn, vd = rng.uniform(0.1, 2, 2)
        c = rng.uniform(-0.9, 0.9) * np.sqrt(vn * vd)
        fs = fieller_ratio(num, den, vn, vd, c, q)
        grid = np.linspace(-60, 60, 240001)
        inside = (num - grid * den) ** 2 <= q * q * (vn - 2 * grid * c + grid**2 * vd)
        if fs.kind == 0:
            expect = (grid >= fs.low) & (grid <= fs.high)
        elif fs.kind == 1:
            expect = (grid <= fs.low) | (grid >= fs.high)
        else:
            expect = np.ones_like(grid, dtype=bool)
        mismatch = inside != expect
        assert mismatch.sum() <= 2, (num, den, vn, vd, c, fs)  # grid points at the roots
        assert fs.kind == 0 or den**2 <= q * q * vd


def test_fixed_spend_reduces_to_inverted_increment_interval():
    # constant spend column: cost per incremental = spend / (n [d_high, d_low])
    rng = np.random.default_rng(5)
    conv_t = (rng.random(4000) < 0.09).astype(float)
    conv_c = (rng.random(1000) < 0.05).astype(float)
    spend_total = 900.0

    def values(conv, spend):
        return np.stack([conv, conv * 40, np.full_like(conv, 0.5), np.full_like(conv, spend)], -1)

    t = unit_moments(values(conv_t, spend_total / 4000))
    c = unit_moments(values(conv_c, 0.0))
    res = incrementality_arrays(*t, *c)
    assert res.spend == pytest.approx(spend_total)
    assert res.cpi == pytest.approx(spend_total / res.incremental)
    assert res.cpi_low == pytest.approx(spend_total / res.incremental_high)
    assert res.cpi_high == pytest.approx(spend_total / res.incremental_low)
    assert res.effect_on_reached == pytest.approx(res.itt / 0.5)
    assert res.reached_low == pytest.approx(2 * res.incremental_low / 4000)
    f, lo, hi = incrementality_factor(res.incremental, res.incremental_low, res.incremental_high,
                                      120.0)
    assert (f, lo, hi) == pytest.approx((res.incremental / 120, res.incremental_low / 120,
                                         res.incremental_high / 120))


def test_positive_part_of_complement():
    from abtest.stats.incrementality import FiellerSet

    fs = FiellerSet(np.array([5.0]), np.array([-3.0]), np.array([2.0]), np.array([1]))
    low, high = positive_part(fs)
    assert low[0] == 2.0 and np.isinf(high[0])


def test_unit_moments_match_numpy():
    x = np.random.default_rng(1).normal(size=(3, 50, 4))
    n, m, cov = unit_moments(x)
    assert np.all(n == 50)
    np.testing.assert_allclose(cov[1], np.cov(x[1], rowvar=False))
    np.testing.assert_allclose(m[2], x[2].mean(axis=0))
