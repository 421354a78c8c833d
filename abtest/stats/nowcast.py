"""Nowcast of immature leads: their expected conversions by the horizon, with the uncertainty.

A lead observed for ``a`` full days of an ``H``-day window who has not converted yet converts by
the horizon with probability ``1 - S(H) / S(a)``; the discrete-time Kaplan–Meier estimate of the
conditional survival ``S(H) / S(a) = prod_{j=a}^{H-1} (1 - lambda_j)`` comes from the daily
hazards ``lambda_j = d_j / n_j`` of all leads at risk on day ``j`` (mature and immature alike, so
censoring is handled as in Kaplan & Meier 1958). The interval adds the Bernoulli variance of the
immature leads' outcomes to the delta-method (Greenwood-type) variance of the estimated hazards.
Vectorised over any leading axes (replications, arms); leads run along the last axis.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from abtest.stats._arrays import FloatArray, check_alpha

__all__ = ["Nowcast", "nowcast_conversions"]


class Nowcast(NamedTuple):
    """Per batch element (leading axes): final conversions expected by the horizon.

    ``probability`` is per lead (same shape as the input): 1 for a lead already converted within
    the window, 0 for a mature lead that did not, ``1 - S(H)/S(a)`` for an immature one.
    ``variance`` = ``process_variance`` (the immature leads' own Bernoulli outcomes) +
    ``estimation_variance`` (from the fitted hazards).
    """

    expected: FloatArray
    known: FloatArray
    immature: FloatArray
    variance: FloatArray
    process_variance: FloatArray
    estimation_variance: FloatArray
    low: FloatArray
    high: FloatArray
    hazard: FloatArray
    probability: FloatArray


def _counts(index: np.ndarray, length: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per leading-axes row, bincount of ``index`` (last axis) into ``length`` bins."""
    lead = index.shape[:-1]
    rows = int(np.prod(lead, dtype=np.int64)) if lead else 1
    flat = (np.arange(rows).reshape(*lead, 1) * length + index).reshape(-1) if lead else \
        index.reshape(-1)
    w = None if weights is None else np.broadcast_to(weights, index.shape).reshape(-1)
    return np.bincount(flat, weights=w, minlength=rows * length).reshape(*lead, length)


def nowcast_conversions(
    age_days: ArrayLike,
    conversion_day: ArrayLike,
    horizon_days: int,
    *,
    alpha: float = 0.05,
) -> Nowcast:
    """Expected conversions by ``horizon_days`` for all leads, immature ones nowcast.

    ``age_days``: days each lead has been observed (data end − entry; values >= the horizon are
    mature). ``conversion_day``: days from entry to the lead's first conversion, NaN (or inf) if
    none observed yet. Only full days of observation enter the hazards: a lead at age 10.4 is at
    risk on days 0–9. Returns :class:`Nowcast` with a normal ``1 - alpha`` prediction interval.
    """
    h = int(horizon_days)
    if h < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    q = float(special.ndtri(1 - check_alpha(alpha) / 2))
    age = np.asarray(age_days, dtype=np.float64)
    t = np.asarray(conversion_day, dtype=np.float64)
    age, t = np.broadcast_arrays(age, t)
    if np.any(np.isnan(age)) or np.any(age < 0):
        raise ValueError("age_days must be >= 0 for every lead")
    t = np.where(np.isnan(t), np.inf, t)
    if np.any(t < 0):
        raise ValueError("conversion_day must be >= 0 (days after the lead's entry)")
    a = np.minimum(np.floor(age), h).astype(np.int64)  # full days observed, capped
    seen = t < np.minimum(age, h)  # converted within the window and already observed
    conv_day = np.where(seen, np.floor(t), h).astype(np.int64)
    conv_day = np.minimum(conv_day, h)
    # at risk on day j while j < exposure = min(a, conversion day + 1)
    exposure = np.minimum(a, np.where(seen, conv_day + 1, h))
    event_day = np.where(seen & (conv_day < a), conv_day, h)  # events inside full days only
    exits = _counts(exposure, h + 1)
    at_risk = exits[..., ::-1].cumsum(axis=-1)[..., ::-1][..., 1:]  # n_j = #{exposure > j}
    events = _counts(event_day, h + 1)[..., :h]
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(at_risk > 0, events / np.where(at_risk > 0, at_risk, 1), 0.0)
    surv = np.concatenate([np.cumprod((1 - lam)[..., ::-1], axis=-1)[..., ::-1],
                           np.ones((*lam.shape[:-1], 1))], axis=-1)  # tail[j] = prod_{k>=j}
    immature = (age < h) & ~seen
    # survive the rest of the partly observed day a at the same daily hazard, then days > a
    frac = np.clip(age - a, 0.0, 1.0)
    a_in = np.minimum(a, h - 1)
    lam_a = np.take_along_axis(lam, a_in, axis=-1)
    rest = np.where(immature, 1 - frac, 0.0)
    r = np.take_along_axis(surv, np.minimum(a + 1, h), axis=-1) * (1 - lam_a) ** rest
    prob = np.where(seen, 1.0, np.where(immature, 1 - r, 0.0))
    known = seen.sum(axis=-1).astype(np.float64)
    expected = prob.sum(axis=-1)
    process = np.where(immature, prob * (1 - prob), 0.0).sum(axis=-1)
    # d(sum R_i)/d lambda_j = -G_j / (1 - lambda_j) with G_j = sum of R_i over immature leads
    # with a_i < j, plus (1 - f_i) R_i for those with a_i = j (the partly observed day)
    w = np.where(immature, r, 0.0)
    g = np.cumsum(_counts(np.where(immature, np.minimum(a + 1, h), h), h + 1, w)[..., :h],
                  axis=-1)
    g = g + _counts(np.where(immature, a_in, h), h + 1, w * rest)[..., :h]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where((at_risk > 0) & (lam < 1),
                        g * g * lam / ((1 - lam) * np.where(at_risk > 0, at_risk, 1)), 0.0)
    estimation = term.sum(axis=-1)
    var = process + estimation
    sd = np.sqrt(var)
    return Nowcast(expected, known, immature.sum(axis=-1).astype(np.float64), var, process,
                   estimation, expected - q * sd, expected + q * sd, lam, prob)
