"""Frequency response and creative fatigue: does the rate fall as exposures pile up?

Conversion rate by exposure count and CTR by creative age, tested with a binomial GLM (logit
link) on aggregated counts — (successes, trials) per level — so millions of impressions cost one
row per level. Because ad-level counts are overdispersed (people and days differ), the Wald
standard error is inflated by the Pearson dispersion φ = max(1, X²/df) (quasi-binomial, McCullagh &
Nelder 1989 §4.5) and the slope is referred to a t distribution on the residual degrees of
freedom, since φ is estimated from only ``rows − 2`` of them (a normal reference with 3–4 levels
flags a null trend 19–23 % of the time; with t it stays at alpha). Pass *replicate rows* — one
per day (or ad) and level — whenever the export has them: the dispersion is then estimated
from the day-to-day variation, and even 2 levels can be tested. With one row per level and only
2 levels there is nothing to estimate φ from, so the result says the trend cannot be judged
(``testable = False``, p = NaN) instead of running a binomial test that ignores overdispersion.
With ``overdispersion=False`` it is the plain binomial test (one row per lead level).
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
    df_resid: int = 0
    testable: bool = True

    def to_dict(self) -> dict[str, object]:
        """JSON-safe summary (the per-level table as a list of records)."""
        return {
            "slope": self.slope,
            "std_error": self.std_error,
            "p_value": self.p_value if np.isfinite(self.p_value) else None,  # None: not judged
            "odds_ratio_per_step": self.odds_ratio_per_step,
            "direction": self.direction,
            "dispersion": self.dispersion,
            "sentence": self.sentence,
            "df_resid": self.df_resid,
            "testable": self.testable,
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
    """Binomial-GLM trend test of successes/trials on a numeric level (quasi-binomial with a t
    reference on the residual df when ``overdispersion``; see the module docstring).

    Several rows may share a level (replicates: days or ads). Rows with zero trials are dropped
    (they carry no information). ``direction`` is "falls" or "rises" when the two-sided p-value
    is below ``alpha``, else "flat"; ``sentence`` says it in words, ending with
    ``falls_advice`` when the rate falls.
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
    df_resid = max(int(round(fit.df_resid)), 0)
    phi = float(fit.pearson_chi2 / df_resid) if (overdispersion and df_resid > 0) else 1.0
    phi = max(phi, 1.0)
    slope = float(fit.params[1])
    se = float(fit.bse[1] * np.sqrt(phi))
    testable = not (overdispersion and df_resid == 0)
    if not testable:
        p = float("nan")
    elif se > 0:
        ref = stats.t(df_resid) if overdispersion else stats.norm
        p = float(2.0 * ref.sf(abs(slope / se)))
    else:
        p = 0.0 if slope else 1.0
    direction = "flat" if not p < alpha else ("falls" if slope < 0 else "rises")
    if not testable:
        sentence = (f"cannot judge a trend in {rate_label} from one row per {level_label} with "
                    f"only two {level_label} values: the day-to-day variation is unknown; pass "
                    f"one row per day (or ad) and {level_label}")
    elif direction == "falls":
        sentence = f"{rate_label} falls as {level_label} rises"
        sentence += f": {falls_advice}" if falls_advice else ""
    elif direction == "rises":
        sentence = f"{rate_label} rises as {level_label} rises"
    else:
        sentence = f"no clear trend in {rate_label} across {level_label} (p = {p:.2g})"
    table = pd.DataFrame(
        {"level": x, "successes": k, "trials": n, "rate": k / n, "fitted_rate": fit.fittedvalues}
    )
    return TrendResult(slope, se, p, float(np.exp(slope)), direction, phi, sentence, table,
                       df_resid, testable)


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
