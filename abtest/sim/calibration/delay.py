"""Reporting delay: same-day mass plus a geometric tail, right truncated at the data cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from abtest.sim.calibration._likelihood import covariance

__all__ = ["fit_report_delay"]


def fit_report_delay(conversions: pd.DataFrame, *, as_of: int | None = None) -> pd.DataFrame:
    """Fit ``P(delay=0) = p0``, ``P(delay=k) = (1-p0)·q·(1-q)^(k-1)`` for ``k ≥ 1``.

    The daily form of Chapelle (2014)'s fast/slow reporting delay (simulation-models.md §3, §8
    step 7): ``p0`` is ``SimParams.report_same_day_share`` and the discrete daily hazard ``q`` is
    ``SimParams.report_hazard``. ``conversions`` needs ``day`` and ``report_day``. With ``as_of``
    the data are right truncated (a conversion on day ``t`` is seen only if reported before
    ``as_of``), so each delay's likelihood is divided by ``P(delay ≤ as_of - 1 - t)``.
    Returns one row: ``n, p_same_day, p_same_day_se, daily_hazard, daily_hazard_se,
    mean_delay_days``.
    """
    day = conversions["day"].to_numpy(dtype=float)
    rep = conversions["report_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(rep)
    if as_of is not None:
        keep &= rep < as_of
    delay = (rep - day)[keep]
    if delay.size < 10:
        raise ValueError("too few reported conversions to fit the reporting delay")
    if np.any(delay < 0):
        raise ValueError("report_day before conversion day")
    m = (as_of - 1 - day[keep]) if as_of is not None else np.full(delay.size, np.inf)

    def nll(x: np.ndarray) -> float:
        p0 = 1.0 / (1.0 + np.exp(-x[0]))
        q = 1.0 / (1.0 + np.exp(-x[1]))
        lp = np.where(delay == 0, np.log(p0),
                      np.log1p(-p0) + np.log(q) + (delay - 1) * np.log1p(-q))
        # P(delay <= m) = p0 + (1 - p0)(1 - (1 - q)^m)
        tail = np.where(np.isinf(m), 0.0, np.exp(np.minimum(m, 1e6) * np.log1p(-q)))
        return -float(np.sum(lp - np.log(p0 + (1 - p0) * (1 - tail))))

    share0 = float(np.clip(np.mean(delay == 0), 1e-3, 1 - 1e-3))
    tail_mean = float(np.mean(delay[delay > 0])) if np.any(delay > 0) else 1.5
    q0 = float(np.clip(1 / max(tail_mean, 1.0), 1e-3, 1 - 1e-3))
    x0 = np.array([np.log(share0 / (1 - share0)), np.log(q0 / (1 - q0))])
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 2000})
    cov = covariance(nll, res.x, step=1e-4)  # logit scale
    p0 = float(1.0 / (1.0 + np.exp(-res.x[0])))
    q = float(1.0 / (1.0 + np.exp(-res.x[1])))
    return pd.DataFrame([{
        "n": int(delay.size),
        "p_same_day": p0,
        "p_same_day_se": p0 * (1 - p0) * float(np.sqrt(max(cov[0, 0], 0.0))),
        "daily_hazard": q,
        "daily_hazard_se": q * (1 - q) * float(np.sqrt(max(cov[1, 1], 0.0))),
        "mean_delay_days": (1 - p0) / q,
    }])
