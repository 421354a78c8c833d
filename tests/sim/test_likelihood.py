"""The one observed-information helper of the calibration estimators, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.sim.calibration._likelihood import covariance, hessian, scalar_fit


def test_hessian_of_a_quadratic_is_exact() -> None:
    a = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, -0.4], [0.0, -0.4, 1.0]])

    def f(x: np.ndarray) -> float:
        return float(0.5 * x @ a @ x + x.sum())

    np.testing.assert_allclose(hessian(f, np.array([0.3, -1.0, 2.0]), step=1e-3), a, atol=1e-6)


def test_covariance_of_normal_mle_matches_closed_form() -> None:
    """Normal sample, parameters (mu, log sigma): information diag(n/sigma², 2n)."""
    rng = np.random.default_rng(3)
    y = rng.normal(5.0, 2.0, 4000)

    def nll(x: np.ndarray) -> float:
        mu, s = x[0], np.exp(x[1])
        return float(np.sum(np.log(s) + 0.5 * ((y - mu) / s) ** 2))

    mle = np.array([y.mean(), np.log(y.std())])
    cov = covariance(nll, mle, step=1e-3)
    n, s2 = y.size, y.var()
    np.testing.assert_allclose(np.diag(cov), [s2 / n, 1 / (2 * n)], rtol=1e-4)
    assert abs(cov[0, 1]) < 1e-9


def test_covariance_singular_gives_infinite_variance() -> None:
    cov = covariance(lambda x: float((x[0] + x[1]) ** 2), np.zeros(2), step=1e-3)
    assert np.isinf(np.diag(cov)).all()


def test_scalar_fit_binomial_log_odds() -> None:
    """Binomial log-odds: MLE logit(x/n), SE 1/sqrt(n p (1-p)) (Agresti 2013 §1.3)."""
    rng = np.random.default_rng(8)
    n = 5000
    x = int(rng.binomial(n, 0.03))

    def nll(t: float) -> float:
        p = 1 / (1 + np.exp(-t))
        return -float(x * np.log(p) + (n - x) * np.log1p(-p))

    t, se = scalar_fit(nll, (-10.0, 5.0), xatol=1e-8, step=1e-3)
    p = x / n
    assert t == pytest.approx(np.log(p / (1 - p)), abs=1e-5)
    assert se == pytest.approx(1 / np.sqrt(n * p * (1 - p)), rel=1e-3)
    # the same fit stated as a deviance (-2 log L) gives the same SE with scale 2
    _, se2 = scalar_fit(lambda z: 2 * nll(z), (-10.0, 5.0), xatol=1e-8, step=1e-3, scale=2.0)
    assert se2 == pytest.approx(se, rel=1e-6)


def test_scalar_fit_at_a_bound_stays_inside() -> None:
    seen = []

    def f(k: float) -> float:
        seen.append(k)
        return (k + 1.0) ** 2  # minimum outside [0, 3]: the fit sits at 0

    k, se = scalar_fit(f, (0.0, 3.0), xatol=1e-8, step=lambda x: 1e-3 * max(1.0, x))
    assert k == pytest.approx(0.0, abs=1e-6)
    assert min(seen) >= 0.0
    assert se == pytest.approx(np.sqrt(1 / 2), rel=1e-3)  # f'' = 2, scale 1
    _, flat = scalar_fit(lambda z: 1.0, (0.0, 1.0), xatol=1e-6, step=1e-3)
    assert flat == float("inf")
