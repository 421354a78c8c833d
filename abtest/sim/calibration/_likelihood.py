"""The one numeric-likelihood helper every calibration estimator uses.

Observed information is the Hessian of the negative log-likelihood at the maximum; its inverse is
the asymptotic covariance of the estimate (Pawitan 2001, *In All Likelihood*, §8.2). The Hessian
comes from :func:`statsmodels.tools.numdiff.approx_hess3` (central differences) rather than
hand-written differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize
from statsmodels.tools.numdiff import approx_hess3

__all__ = ["covariance", "hessian", "scalar_fit"]


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, *, step: float) -> np.ndarray:
    """Hessian of ``f`` at ``x`` by central differences with one fixed ``step`` per parameter.

    :func:`approx_hess3` evaluates ``f(x ± step·eᵢ ± step·eⱼ)``, so the diagonal uses a spacing of
    ``2·step``. A fixed step suits parameters on a log or logit scale.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    return np.atleast_2d(approx_hess3(x, f, epsilon=float(step)))


def covariance(negloglik: Callable[[np.ndarray], float], x: np.ndarray, *,
               step: float) -> np.ndarray:
    """Inverse observed information of ``negloglik`` at ``x``: the asymptotic covariance.

    A singular Hessian (a parameter the data cannot identify) gives infinite variances.
    """
    hess = hessian(negloglik, x, step=step)
    try:
        return np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.diag(np.full(hess.shape[0], np.inf))


def scalar_fit(
    objective: Callable[[float], float],
    bounds: tuple[float, float],
    *,
    xatol: float,
    step: float | Callable[[float], float],
    scale: float = 1.0,
) -> tuple[float, float]:
    """Minimise a one-parameter ``objective`` by bounded Brent and return ``(x̂, se)``.

    ``objective`` is ``scale × (−log L)``: ``scale = 1`` for a negative log-likelihood, ``2`` for a
    GLS criterion ``Q = −2 log L``; so ``se = sqrt(scale / objective''(x̂))`` (``inf`` when the
    curvature is not positive). ``step`` is the finite-difference spacing, or a function of ``x̂``
    giving it. Near a bound the curvature is taken at the midpoint of the in-bounds stencil
    ``[max(low, x̂ − step), x̂ + step]``, so no evaluation leaves the search interval.
    """
    lo, hi = (float(b) for b in bounds)
    res = optimize.minimize_scalar(objective, bounds=(lo, hi), method="bounded",
                                   options={"xatol": xatol})
    x = float(res.x)
    h = float(step(x)) if callable(step) else float(step)
    a, b = max(lo, x - h), x + h
    curv = float(hessian(lambda z: float(objective(float(z[0]))), np.array([(a + b) / 2]),
                         step=(b - a) / 4)[0, 0])
    return x, (float(np.sqrt(scale / curv)) if curv > 0 else float("inf"))
