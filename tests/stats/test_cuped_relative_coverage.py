"""CUPED relative-lift coverage (issue #10, item 3) on normal data sampled with numpy/scipy.

For bivariate normal users the per-arm sufficient statistics are exact draws: the means are
N(μ, Σ/n) and the centred cross-product matrix is Wishart(n − 1, Σ), independent of the means.
The outcome of the treatment arm is multiplied by (1 + lift), so the true relative lift of the
arm means is ``lift`` while the covariate keeps the same distribution in both arms.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abtest.stats.cuped import cuped_arrays

SIMS, N = 6000, 500


def _arm_stats(rng: np.random.Generator, rho: float, scale_y: float, n: int,
               sims: int) -> tuple[np.ndarray, ...]:
    """Σx, Σx², Σy, Σy², Σxy for ``sims`` arms of ``n`` users (x ~ N(5, 1), y ~ N(10s, (3s)²))."""
    sd_y = 3.0 * scale_y
    cov = np.array([[1.0, rho * sd_y], [rho * sd_y, sd_y**2]])
    mu = np.array([5.0, 10.0 * scale_y])
    means = rng.multivariate_normal(mu, cov / n, size=sims)
    w = stats.wishart.rvs(df=n - 1, scale=cov, size=sims, random_state=rng)
    mx, my = means[:, 0], means[:, 1]
    sx, sy = n * mx, n * my
    sxx = w[:, 0, 0] + n * mx * mx
    syy = w[:, 1, 1] + n * my * my
    sxy = w[:, 0, 1] + n * mx * my
    return sx, sxx, sy, syy, sxy


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.95])
@pytest.mark.parametrize("lift", [0.10, 0.50, 1.00])
def test_cuped_relative_interval_covers_the_true_lift(rho: float, lift: float) -> None:
    rng = np.random.default_rng(int(rho * 100) * 1000 + int(lift * 100))
    c = _arm_stats(rng, rho, 1.0, N, SIMS)
    t = _arm_stats(rng, rho, 1.0 + lift, N, SIMS)
    sx, sxx, sy, syy, sxy = (np.stack([a, b]) for a, b in zip(c, t, strict=True))
    res = cuped_arrays(np.full((2, SIMS), float(N)), sy, syy, sx, sxx, sxy).result
    covered = (res.rel_ci_low <= lift) & (lift <= res.rel_ci_high)
    assert not res.rel_ci_complement.any()
    rate = float(covered.mean())
    print(f"CUPED relative coverage rho={rho} lift=+{lift:.0%}: {rate:.4f} ({SIMS} sims)")
    assert 0.94 <= rate <= 0.96


def test_cuped_relative_interval_still_agrees_with_p() -> None:
    rng = np.random.default_rng(7)
    c = _arm_stats(rng, 0.9, 1.0, 200, 3000)
    t = _arm_stats(rng, 0.9, 1.02, 200, 3000)
    sx, sxx, sy, syy, sxy = (np.stack([a, b]) for a, b in zip(c, t, strict=True))
    res = cuped_arrays(np.full((2, 3000), 200.0), sy, syy, sx, sxx, sxy).result
    excludes = (res.rel_ci_low > 0) | (res.rel_ci_high < 0)
    assert np.array_equal(excludes, res.p_value < 0.05)
