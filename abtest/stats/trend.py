"""Frequency response and creative fatigue: does the rate fall as exposures pile up?

Conversion rate by exposure count and CTR by creative age, tested with a binomial GLM (logit
link) on aggregated counts — (successes, trials) per level — so millions of impressions cost one
row per level. Because ad-level counts are overdispersed (people and days differ), the Wald
standard error is inflated by the Pearson dispersion max(1, X²/df) (quasi-binomial, McCullagh &
Nelder 1989 §4.5); with one row per lead level it is the plain binomial test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from abtest.stats._arrays import as_float

__all__ = ["TrendResult", "conversion_by_frequency", "ctr_by_creative_age", "rate_trend"]


@dataclass(frozen=True)
class TrendResult:
    """A fitted rate trend: slope on the log-odds scale per one step of ``level``."""

    slope: float
    std_error: float
    p_value: float
    odds_ratio_per_step: float
    direction: str  # "falls", "rises" or "flat"
    dispersion: float
    sentence: str
    table: pd.DataFrame  # level, successes, trials, rate, fitted_rate

    def to_dict(self) -> dict[str, object]:
        """JSON-safe summary (the per-level table as a list of records)."""
        return {
            "slope": self.slope,
            "std_error": self.std_error,
            "p_value": self.p_value,
            "odds_ratio_per_step": self.odds_ratio_per_step,
            "direction": self.direction,
            "dispersion": self.dispersion,
            "sentence": self.sentence,
            "table": self.table.astype(float).to_dict(orient="records"),
        }


def rate_trend(
    level: ArrayLike,
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    alpha: float = 0.05,
    rate_label: str = "rate",
    level_label: str = "level",
    falls_advice: str = "",
    overdispersion: bool = True,
) -> TrendResult:
    """Binomial-GLM trend test of successes/trials on a numeric level.

    Rows with zero trials are dropped (they carry no information). ``direction`` is "falls" or
    "rises" when the two-sided Wald p-value is below ``alpha``, else "flat"; ``sentence`` says it
    in words, ending with ``falls_advice`` when the rate falls.
    """
    x = as_float(level, "level", nonnegative=False).ravel()
    k = as_float(successes, "successes").ravel()
    n = as_float(trials, "trials").ravel()
    if not (x.size == k.size == n.size):
        raise ValueError("level, successes and trials need one value per level")
    if np.any(k > n):
        raise ValueError("successes cannot exceed trials")
    keep = n > 0
    x, k, n = x[keep], k[keep], n[keep]
    if np.unique(x).size < 2:
        raise ValueError(f"need at least two {level_label} values with traffic to fit a trend")
    if k.sum() == 0 or k.sum() == n.sum():
        raise ValueError(f"{rate_label} is {'0' if k.sum() == 0 else '1'} at every {level_label}: no trend to fit")
    endog = np.column_stack([k, n - k])
    exog = sm.add_constant(x, has_constant="add")
    with warnings.catch_warnings():
        # a level where every trial succeeds (or none does) separates the logit: the fit is still
        # the maximum-likelihood one and its huge standard error makes the test "flat", which is
        # the honest answer; statsmodels' warning would only leak into the report
        warnings.filterwarnings("ignore", category=PerfectSeparationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsmodels")
        fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
    df_resid = max(int(fit.df_resid), 0)
    phi = float(fit.pearson_chi2 / df_resid) if (overdispersion and df_resid > 0) else 1.0
    phi = max(phi, 1.0)
    slope = float(fit.params[1])
    se = float(fit.bse[1] * np.sqrt(phi))
    p = float(2.0 * stats.norm.sf(abs(slope / se))) if se > 0 else (0.0 if slope else 1.0)
    direction = "flat" if p >= alpha else ("falls" if slope < 0 else "rises")
    if direction == "falls":
        sentence = f"{rate_label} falls as {level_label} rises"
        sentence += f": {falls_advice}" if falls_advice else ""
    elif direction == "rises":
        sentence = f"{rate_label} rises as {level_label} rises"
    else:
        sentence = f"no clear trend in {rate_label} across {level_label} (p = {p:.2g})"
    table = pd.DataFrame(
        {"level": x, "successes": k, "trials": n, "rate": k / n, "fitted_rate": fit.fittedvalues}
    )
    return TrendResult(slope, se, p, float(np.exp(slope)), direction, phi, sentence, table)


def conversion_by_frequency(
    exposures: ArrayLike, conversions: ArrayLike, leads: ArrayLike, *, alpha: float = 0.05
) -> TrendResult:
    """Conversion rate by exposure count (leads who saw the ad 1, 2, 3, ... times)."""
    return rate_trend(
        exposures, conversions, leads, alpha=alpha, rate_label="conversion rate",
        level_label="frequency", falls_advice="refresh the creative or widen the gap",
    )


def ctr_by_creative_age(
    age_days: ArrayLike, clicks: ArrayLike, impressions: ArrayLike, *, alpha: float = 0.05
) -> TrendResult:
    """CTR by days since the creative launched (creative fatigue)."""
    return rate_trend(
        age_days, clicks, impressions, alpha=alpha, rate_label="CTR",
        level_label="creative age", falls_advice="the creative is wearing out: refresh it",
    )
