"""Bayesian summaries: beta-binomial for proportions, normal approximation for means and ratios.

Everything is deterministic. Beta-binomial quantities are one-dimensional integrals over one
arm's posterior, computed with vectorised Gauss-Legendre quadrature on that posterior's
``1e-15``-quantile window (with a cosine change of variable that removes the integrable
endpoint singularities of Beta densities with a parameter below 1). Labels are chosen so they
cannot be read as p-values: ``prob_beat_control``, ``prob_best``, ``expected_loss``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import (
    FloatArray,
    as_float,
    broadcast_arms,
    check_level,
    check_positive,
    comparison_frame,
)
from abtest.stats.frequentist import ComparisonResult, mean_test_arrays, ratio_test_arrays

__all__ = [
    "BetaSummary",
    "NormalSummary",
    "bayes_mean",
    "bayes_normal",
    "bayes_normal_arrays",
    "bayes_proportion",
    "bayes_ratio",
    "beta_binomial_arrays",
    "beta_prob_greater",
]

_TAIL = 1e-15
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)
_T = (_NODES + 1.0) / 2.0
# x = lo + (hi - lo) * (1 - cos(pi t)) / 2 ; dx = (hi - lo) * pi/2 * sin(pi t) dt
_MAP = (1.0 - np.cos(np.pi * _T)) / 2.0
_JAC = (np.pi / 2.0) * np.sin(np.pi * _T) * (_WEIGHTS / 2.0)


class _Grid(NamedTuple):
    x: FloatArray  # nodes, shape (*batch, nodes)
    w: FloatArray  # weights including the density of the integrating arm


def _beta_logpdf(x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)


def _grid(a: FloatArray, b: FloatArray) -> _Grid:
    """Quadrature nodes and density-weighted weights for Beta(a, b), broadcast over a, b."""
    # Near-normal posteriors: +/- 11 sd holds all but ~1e-15 of the mass (cheap); skewed
    # ones (a small parameter) get exact 1e-15 quantiles (betaincinv is ~10x slower).
    mu = a / (a + b)
    sd = _beta_sd(a, b)
    lo = np.maximum(mu - 11.0 * sd, 0.0)
    hi = np.minimum(mu + 11.0 * sd, 1.0)
    skew = np.minimum(a, b) < 100
    if np.any(skew):
        lo = np.where(skew, 0.0, lo)
        hi = np.where(skew, 1.0, hi)
        lo[skew] = special.betaincinv(a[skew], b[skew], _TAIL)
        hi[skew] = special.betainccinv(a[skew], b[skew], _TAIL)
    span = (hi - lo)[..., None]
    x = lo[..., None] + span * _MAP
    w = span * _JAC * np.exp(_beta_logpdf(x, a[..., None], b[..., None]))
    return _Grid(x, w)


def _cdf(x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    return special.betainc(a[..., None], b[..., None], x)


def _sf(x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    return special.betaincc(a[..., None], b[..., None], x)


def _beta_sd(a: FloatArray, b: FloatArray) -> FloatArray:
    s = a + b
    return np.sqrt(a * b / (s * s * (s + 1)))


def beta_prob_greater(
    a_t: ArrayLike, b_t: ArrayLike, a_c: ArrayLike, b_c: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """``P(X_t > X_c)`` and ``E[max(X_c - X_t, 0)]`` for independent Beta variables.

    Integrates over the narrower of the two posteriors, so the other arm's CDF is smooth on
    the window: ``P = int f_c(x) S_t(x) dx`` and ``E[(x - X_t)+] = x F_t(x) - mu_t F'_t(x)``
    with ``F'_t`` the CDF of Beta(a_t + 1, b_t) (or the mirror formulas over the treatment).
    """
    a_t, b_t, a_c, b_c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                               for v in (a_t, b_t, a_c, b_c)))
    over_c = _beta_sd(a_c, b_c) <= _beta_sd(a_t, b_t)
    mu_t = a_t / (a_t + b_t)
    mu_c = a_c / (a_c + b_c)
    # integrate over the control posterior
    a_i = np.where(over_c, a_c, a_t)
    b_i = np.where(over_c, b_c, b_t)
    a_o = np.where(over_c, a_t, a_c)
    b_o = np.where(over_c, b_t, b_c)
    g = _grid(a_i, b_i)
    x = g.x
    oc = over_c[..., None]
    mu_o = np.where(over_c, mu_t, mu_c)[..., None]
    # over control: P = E_c[S_t(x)],  loss = E_c[x F_t(x) - mu_t F_{t+}(x)]
    # over treatment: P = E_t[F_c(x)], loss = E_t[mu_c S_{c+}(x) - x S_c(x)]
    f_o = _cdf(x, a_o, b_o)
    prob_integrand = np.where(oc, 1.0 - f_o, f_o)
    # I_x(a+1, b) = I_x(a, b) - x^a (1-x)^b / (a B(a, b)): saves a second betainc call
    a_e, b_e = a_o[..., None], b_o[..., None]
    with np.errstate(divide="ignore"):
        log_term = (special.xlogy(a_e, x) + special.xlog1py(b_e, -x) - np.log(a_e)
                    - special.betaln(a_e, b_e))
    f_plus = np.clip(f_o - np.exp(log_term), 0.0, 1.0)
    loss_integrand = np.where(oc, x * f_o - mu_o * f_plus, mu_o * (1.0 - f_plus) - x * (1.0 - f_o))
    prob = np.clip(np.sum(g.w * prob_integrand, axis=-1), 0.0, 1.0)
    loss = np.maximum(np.sum(g.w * loss_integrand, axis=-1), 0.0)
    return prob, loss


def _prob_best(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """P(arm j has the highest rate) and E[max_i X_i], arms along axis 0."""
    k = a.shape[0]
    probs = []
    e_max = np.zeros(a.shape[1:])
    for j in range(k):  # loop over arms only (a handful); batch is vectorised
        g = _grid(a[j], b[j])
        prod = np.ones(g.x.shape)
        for i in range(k):
            if i != j:
                prod = prod * _cdf(g.x, a[i], b[i])
        probs.append(np.sum(g.w * prod, axis=-1))
        e_max = e_max + np.sum(g.w * g.x * prod, axis=-1)
    p = np.clip(np.stack(probs), 0.0, 1.0)
    return p / np.sum(p, axis=0, keepdims=True), e_max


def _ratio_parts(a_t, b_t, a_c, b_c, over_c):
    """Integrating arm (the narrower posterior) and the other arm, as in the ratio CDF."""
    a_i = np.where(over_c, a_c, a_t)
    b_i = np.where(over_c, b_c, b_t)
    a_o = np.where(over_c, a_t, a_c)
    b_o = np.where(over_c, b_t, b_c)
    return a_i, b_i, a_o, b_o


def _ratio_cdf_pdf(u: FloatArray, a_o, b_o, over_c, grid: _Grid
                   ) -> tuple[FloatArray, FloatArray]:
    """``P(log(X_t / X_c) <= u)`` and its derivative in ``u``, by quadrature over the
    integrating arm: over control ``P = int f_c(x) F_t(x e^u) dx``, over treatment
    ``P = int f_t(y) S_c(y e^-u) dy``; the derivative differentiates under the integral."""
    r = np.exp(u)[..., None]
    oc = over_c[..., None]
    arg = np.where(oc, grid.x * r, grid.x / r)
    inside = (arg > 0.0) & (arg < 1.0)
    arg = np.clip(arg, 0.0, 1.0)
    a_e, b_e = a_o[..., None], b_o[..., None]
    f_o = special.betainc(a_e, b_e, arg)
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.where(inside, np.exp(_beta_logpdf(np.where(inside, arg, 0.5), a_e, b_e)), 0.0)
    cdf = np.where(oc, f_o, 1.0 - f_o)
    pdf = dens * arg  # d arg / du = +-arg; both branches give + density * arg
    return (np.clip(np.sum(grid.w * cdf, axis=-1), 0.0, 1.0),
            np.maximum(np.sum(grid.w * pdf, axis=-1), 0.0))


def _ratio_quantile(prob: float, a_t, b_t, a_c, b_c) -> FloatArray:
    """Quantile of X_t/X_c - 1: safeguarded Newton on ``u = log(1 + lift)`` (the density comes
    with the CDF from the same quadrature), started at the log-normal approximation and kept
    inside a bracket that bisection (or geometric expansion of an open end) takes over whenever
    a Newton step would leave it. Only unconverged pairs are re-evaluated."""
    over_c = _beta_sd(a_c, b_c) <= _beta_sd(a_t, b_t)
    mu_t, mu_c = a_t / (a_t + b_t), a_c / (a_c + b_c)
    s = np.sqrt((_beta_sd(a_t, b_t) / mu_t) ** 2 + (_beta_sd(a_c, b_c) / mu_c) ** 2)
    centre = np.log(mu_t / mu_c)
    shape = centre.shape
    a_i, b_i, a_o, b_o = (v.reshape(-1) for v in _ratio_parts(a_t, b_t, a_c, b_c, over_c))
    oc = over_c.reshape(-1)
    g = _grid(a_i, b_i)
    u = (centre + special.ndtri(prob) * s).reshape(-1)
    width = np.maximum(s, 0.05).reshape(-1)
    lo = np.full(u.shape, -np.inf)
    hi = np.full(u.shape, np.inf)
    f_prev = np.full(u.shape, np.inf)
    idx = np.arange(u.size)
    for _ in range(200):
        if not idx.size:
            break
        ui, loi, hii, wi = u[idx], lo[idx], hi[idx], width[idx]
        cdf, pdf = _ratio_cdf_pdf(ui, a_o[idx], b_o[idx], oc[idx], _Grid(g.x[idx], g.w[idx]))
        f = cdf - prob
        loi = np.where(f < 0, ui, loi)
        hii = np.where(f >= 0, ui, hii)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = ui - f / pdf
        slow = np.abs(f) > 0.5 * f_prev[idx]  # Newton not converging here: bisect instead
        f_prev[idx] = np.abs(f)
        bad = ~np.isfinite(new) | (new <= loi) | (new >= hii) | slow
        open_end = ~(np.isfinite(loi) & np.isfinite(hii))
        wi = np.where(bad & open_end, 2 * wi, wi)  # expand an open bracket geometrically
        mid = np.where(open_end, np.where(np.isfinite(loi), ui + wi, ui - wi), (loi + hii) / 2)
        converged = np.abs(f) < 1e-15  # keep this point (a Newton step would not move it)
        new = np.where(converged, ui, np.where(bad, mid, new))
        scale = 1e-12 * np.maximum(1.0, np.abs(ui))
        done = (converged | (hii - loi < scale)
                | ((np.abs(new - ui) < scale) & (np.abs(f) < 1e-11)))
        u[idx], lo[idx], hi[idx], width[idx] = new, loi, hii, wi
        idx = idx[~done]
    return np.expm1(u).reshape(shape)


class BetaSummary(NamedTuple):
    """Beta-binomial posterior summaries; per-arm arrays have shape ``(arms, *batch)``,
    per-comparison arrays ``(arms - 1, *batch)``."""

    post_alpha: FloatArray
    post_beta: FloatArray
    post_mean: FloatArray
    cred_low: FloatArray
    cred_high: FloatArray
    prob_best: FloatArray
    expected_loss_vs_best: FloatArray
    prob_beat_control: FloatArray
    expected_loss: FloatArray
    expected_loss_control: FloatArray
    rel_lift: FloatArray
    rel_cred_low: FloatArray
    rel_cred_high: FloatArray


def _priors(prior: tuple[ArrayLike, ArrayLike], ndim: int) -> tuple[FloatArray, FloatArray]:
    if len(prior) != 2:
        raise ValueError("prior must be (alpha, beta) of the Beta prior")
    out = []
    for name, v in zip(("prior alpha", "prior beta"), prior, strict=True):
        arr = as_float(v, name)
        if np.any(arr <= 0):
            raise ValueError(f"{name} must be > 0 (Beta(1, 1) is uniform, Beta(0.5, 0.5) Jeffreys)")
        if arr.ndim == 1 and ndim > 1:  # one value per arm
            arr = arr.reshape(arr.shape + (1,) * (ndim - 1))
        out.append(arr)
    return out[0], out[1]


def beta_binomial_arrays(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    prior: tuple[ArrayLike, ArrayLike] = (1.0, 1.0),
    ci_level: float = 0.95,
    lift_interval: bool = True,
) -> BetaSummary:
    """Posterior Beta(prior_a + x, prior_b + n - x) per arm and comparisons with arm 0.

    ``prior`` is ``(alpha, beta)``: scalars, or arrays with one value per arm (axis 0).
    ``expected_loss`` of a treatment is ``E[max(p_c - p_t, 0)]`` (rate lost by shipping it),
    ``expected_loss_control`` is ``E[max(p_t - p_c, 0)]``; ``expected_loss_vs_best`` is
    ``E[max_i p_i] - E[p_j]`` for every arm. ``rel_lift`` is the ratio of posterior means
    minus 1; its credible interval is the equal-tailed interval of ``p_t / p_c - 1``.
    """
    ci_level = check_level(ci_level)
    x = as_float(successes, "successes")
    n = as_float(trials, "trials")
    pa, pb = _priors(prior, max(x.ndim, n.ndim))
    arr = broadcast_arms(successes=x, trials=n, prior_alpha=pa, prior_beta=pb)
    x, n = arr["successes"], arr["trials"]
    check_positive(n, "trials", "trials (zero traffic)")
    if np.any(x > n):
        raise ValueError("successes exceed trials; check the conversion and trial columns")
    a = arr["prior_alpha"] + x
    b = arr["prior_beta"] + n - x
    tail = (1.0 - ci_level) / 2
    at, bt = a[1:], b[1:]
    ac, bc = (np.broadcast_to(v[:1], at.shape) for v in (a, b))
    prob, loss = beta_prob_greater(at, bt, ac, bc)
    mean = a / (a + b)
    if a.shape[0] == 2:  # two arms: P(best) and E[max] follow from the pair quantities
        best = np.concatenate([1.0 - prob, prob])
        e_max = mean[1] + loss[0]  # E[max(X_c, X_t)] = E[X_t] + E[max(X_c - X_t, 0)]
    else:
        best, e_max = _prob_best(a, b)
    if lift_interval:
        r_lo = _ratio_quantile(tail, at, bt, ac, bc)
        r_hi = _ratio_quantile(1.0 - tail, at, bt, ac, bc)
    else:
        r_lo = np.full(at.shape, -1.0)
        r_hi = np.full(at.shape, np.inf)
    return BetaSummary(
        post_alpha=a, post_beta=b, post_mean=mean,
        cred_low=special.betaincinv(a, b, tail), cred_high=special.betainccinv(a, b, tail),
        prob_best=best, expected_loss_vs_best=np.maximum(e_max - mean, 0.0),
        prob_beat_control=prob, expected_loss=loss,
        expected_loss_control=np.maximum(loss + mean[1:] - mean[:1], 0.0),
        rel_lift=mean[1:] / mean[:1] - 1.0, rel_cred_low=r_lo, rel_cred_high=r_hi,
    )


def bayes_proportion(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    prior: tuple[ArrayLike, ArrayLike] = (1.0, 1.0),
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Beta-binomial comparison of every arm with arm 0, one row per treatment arm.

    Columns: ``comparison, arm, method, ci_level, prior_alpha, prior_beta, control_mean,
    treatment_mean, control_cred_low, control_cred_high, treatment_cred_low,
    treatment_cred_high, rel_lift, rel_cred_low, rel_cred_high, prob_beat_control,
    expected_loss, expected_loss_control, prob_best, control_prob_best,
    expected_loss_vs_best, control_expected_loss_vs_best``. Means are posterior means of the
    rates. See :func:`beta_binomial_arrays` for definitions. Deterministic (quadrature).
    """
    s = beta_binomial_arrays(successes, trials, prior=prior, ci_level=ci_level)
    k = s.post_mean.shape[0]
    prior_a = s.post_alpha - np.asarray(successes, dtype=np.float64)
    prior_b = s.post_beta - (np.asarray(trials, dtype=np.float64)
                             - np.asarray(successes, dtype=np.float64))

    def ctl(v: FloatArray) -> FloatArray:
        return np.broadcast_to(v[:1], v[1:].shape)

    cols = {
        "prior_alpha": prior_a[1:], "prior_beta": prior_b[1:],
        "control_mean": ctl(s.post_mean), "treatment_mean": s.post_mean[1:],
        "control_cred_low": ctl(s.cred_low), "control_cred_high": ctl(s.cred_high),
        "treatment_cred_low": s.cred_low[1:], "treatment_cred_high": s.cred_high[1:],
        "rel_lift": s.rel_lift, "rel_cred_low": s.rel_cred_low,
        "rel_cred_high": s.rel_cred_high, "prob_beat_control": s.prob_beat_control,
        "expected_loss": s.expected_loss, "expected_loss_control": s.expected_loss_control,
        "prob_best": s.prob_best[1:], "control_prob_best": ctl(s.prob_best),
        "expected_loss_vs_best": s.expected_loss_vs_best[1:],
        "control_expected_loss_vs_best": ctl(s.expected_loss_vs_best),
    }
    return comparison_frame(cols, n_arms=k, batch_shape=s.post_mean.shape[1:],
                            constants={"method": "beta-binomial", "ci_level": ci_level})


class NormalSummary(NamedTuple):
    """Gaussian posterior of the effect of each treatment arm, shape ``(arms - 1, *batch)``."""

    effect: FloatArray
    effect_sd: FloatArray
    cred_low: FloatArray
    cred_high: FloatArray
    prob_beat_control: FloatArray
    expected_loss: FloatArray
    expected_loss_control: FloatArray


def bayes_normal_arrays(
    res: ComparisonResult,
    *,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    ci_level: float = 0.95,
) -> NormalSummary:
    """Normal-approximation posterior of the effect from a :class:`ComparisonResult`.

    Likelihood ``N(effect_hat, se^2)``; for the relative effect ``(m_t - m_c)/|m_c|`` with the
    delta-method variance ``v_t/m_c^2 + v_c m_t^2/m_c^4`` (gbstats' parametrisation, which
    reproduces its published vectors). Flat prior when ``prior_sd`` is None, otherwise
    ``N(prior_mean, prior_sd^2)`` on the effect (conjugate update). ``expected_loss`` is
    ``E[max(-effect, 0)]`` (loss of shipping the treatment) and ``expected_loss_control``
    ``E[max(effect, 0)]``, in the units of the effect.
    """
    ci_level = check_level(ci_level)
    mc, mt, vc, vt = res.control_mean, res.treatment_mean, res.control_var, res.treatment_var
    if relative:
        if np.any(mc == 0):
            raise ValueError("relative effect needs a non-zero control mean; use relative=False")
        est = (mt - mc) / np.abs(mc)
        var = vt / mc**2 + vc * mt**2 / mc**4
    else:
        est = mt - mc
        var = vt + vc
    if prior_sd is not None:
        if prior_sd <= 0:
            raise ValueError("prior_sd must be > 0 (or None for a flat prior)")
        prec = 1.0 / var + 1.0 / prior_sd**2
        est = (est / var + prior_mean / prior_sd**2) / prec
        var = 1.0 / prec
    sd = np.sqrt(var)
    if np.any(sd == 0):
        raise ValueError("the effect has zero variance (no variation in either arm)")
    z = special.ndtri(1.0 - (1.0 - ci_level) / 2)
    u = est / sd
    gain = sd * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi) + est * special.ndtr(u)
    return NormalSummary(
        effect=est, effect_sd=sd, cred_low=est - z * sd, cred_high=est + z * sd,
        prob_beat_control=special.ndtr(u), expected_loss=np.maximum(gain - est, 0.0),
        expected_loss_control=np.maximum(gain, 0.0),
    )


def _normal_frame(res: ComparisonResult, summary: NormalSummary, *, method: str,
                  relative: bool, ci_level: float) -> pd.DataFrame:
    cols = {"control_mean": res.control_mean, "treatment_mean": res.treatment_mean,
            "effect": summary.effect, "effect_sd": summary.effect_sd,
            "cred_low": summary.cred_low, "cred_high": summary.cred_high,
            "prob_beat_control": summary.prob_beat_control,
            "expected_loss": summary.expected_loss,
            "expected_loss_control": summary.expected_loss_control}
    shape = res.p_value.shape
    return comparison_frame(cols, n_arms=shape[0] + 1, batch_shape=shape[1:],
                            constants={"method": method,
                                       "effect_type": "relative" if relative else "absolute",
                                       "ci_level": ci_level})


def bayes_normal(
    means: ArrayLike,
    mean_vars: ArrayLike,
    *,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Normal-approximation Bayesian comparison from arm means and variances of the means.

    Columns: ``comparison, arm, method, effect_type, ci_level, control_mean, treatment_mean,
    effect, effect_sd, cred_low, cred_high, prob_beat_control, expected_loss,
    expected_loss_control``.
    """
    from abtest.stats.frequentist import difference_test

    res = difference_test(as_float(means, "means", nonnegative=False),
                          as_float(mean_vars, "mean_vars"))
    s = bayes_normal_arrays(res, relative=relative, prior_mean=prior_mean,
                            prior_sd=prior_sd, ci_level=ci_level)
    return _normal_frame(res, s, method="normal", relative=relative, ci_level=ci_level)


def bayes_mean(
    n: ArrayLike,
    sums: ArrayLike,
    sums_sq: ArrayLike,
    *,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Normal-approximation Bayesian comparison of means (columns as :func:`bayes_normal`)."""
    res = mean_test_arrays(n, sums, sums_sq)
    s = bayes_normal_arrays(res, relative=relative, prior_mean=prior_mean,
                            prior_sd=prior_sd, ci_level=ci_level)
    return _normal_frame(res, s, method="normal-mean", relative=relative, ci_level=ci_level)


def bayes_ratio(
    n: ArrayLike,
    num_sum: ArrayLike,
    num_sum_sq: ArrayLike,
    den_sum: ArrayLike,
    den_sum_sq: ArrayLike,
    cross_sum: ArrayLike,
    *,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Normal-approximation Bayesian comparison of delta-method ratio metrics."""
    res = ratio_test_arrays(n, num_sum, num_sum_sq, den_sum, den_sum_sq, cross_sum)
    s = bayes_normal_arrays(res, relative=relative, prior_mean=prior_mean,
                            prior_sd=prior_sd, ci_level=ci_level)
    return _normal_frame(res, s, method="normal-ratio", relative=relative, ci_level=ci_level)
