"""Comparison builders for :class:`~abtest.experiment.Experiment` (kept apart for size).

``exact_where_small``: Fisher's exact test where a proportion's expected cell is below 5, with
test-based variances so every interval agrees with it; ``paired``: the ad-level paired-by-day
comparison as a ``ComparisonResult`` plus its contrast; ``missing_report``: notes on rows a
metric leaves out because a value is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from abtest.aggregate import resolve
from abtest.experiment.adlevel import paired_comparison
from abtest.metrics import Metric
from abtest.stats.exact import exact_p_arrays, exact_variance_scale, small_expected_counts
from abtest.stats.frequentist import ComparisonResult

__all__ = ["EXACT_TEST", "exact_where_small", "missing_report", "paired", "value_se"]

EXACT_TEST = "fisher-exact (small counts)"


def exact_where_small(a: dict[str, np.ndarray], res: ComparisonResult,
                       test: np.ndarray) -> tuple[ComparisonResult, np.ndarray]:
    """Fisher's exact p-value where an expected cell is below 5 (Cochran's rule).

    The variances of those rows are scaled (:func:`~abtest.stats.exact.exact_variance_scale`,
    a test-based interval) so every interval drawn from them excludes 0 exactly when the
    exact test rejects; ``test`` says ``fisher-exact (small counts)``.
    """
    x, n = a["num_sum"], a["n"]
    small = small_expected_counts(x, n)
    if not small.any():
        return res, test
    p_exact = exact_p_arrays(x, n, small)
    vc0, vt0 = res.control_var, res.treatment_var
    pooled = (x[:1] + x[1:]) / (n[:1] + n[1:])
    none = (vc0 + vt0) == 0  # e.g. 3/3 vs 0/3: use the pooled variance as the shape
    vc0 = np.where(none, pooled * (1 - pooled) / n[:1], vc0)
    vt0 = np.where(none, pooled * (1 - pooled) / n[1:], vt0)
    k = np.minimum(exact_variance_scale(res.abs_diff, np.sqrt(vc0 + vt0), p_exact), 1e12)
    k = np.where(small & np.isfinite(k), k, 1.0)
    vc, vt = np.where(small, vc0 * k, res.control_var), np.where(small, vt0 * k,
                                                                  res.treatment_var)
    p = np.where(small, p_exact, res.p_value)
    se = np.sqrt(vc + vt)

    stat = np.where(small, np.sign(res.abs_diff) * special.ndtri(1 - np.clip(p, 1e-300, 1) / 2),
                    res.statistic)
    res = res._replace(p_value=p, control_var=vc, treatment_var=vt, std_error=se,
                       statistic=stat)
    return res, np.where(small, EXACT_TEST, test)


def paired(pairs: tuple[np.ndarray, np.ndarray], m: Metric, alpha: float
            ) -> tuple[ComparisonResult, np.ndarray, dict[str, np.ndarray],
                       dict[str, np.ndarray]]:
    """Ad-level daily data: arms paired by day (:mod:`abtest.experiment.adlevel`)."""
    num, den = pairs
    o = paired_comparison(num, den, m, alpha)
    judged = o["judged"]
    inf = np.where(judged, 0.0, np.inf)
    res = ComparisonResult(
        control_mean=o["mc"], treatment_mean=o["mt"], control_var=o["vc"] + inf,
        treatment_var=o["vt"] + inf, control_n=o["days"], treatment_n=o["days"],
        abs_diff=o["d"], std_error=np.where(judged, o["se"], np.inf), statistic=o["stat"],
        dof=np.where(judged, o["dof"], np.inf), p_value=o["p"], abs_ci_low=-inf,
        abs_ci_high=inf, rel_lift=np.where(o["mc"] != 0, o["d"] / np.abs(o["mc"]), 0.0),
        rel_ci_low=-inf, rel_ci_high=inf, rel_ci_complement=np.zeros(judged.shape, bool))
    test = np.where(judged, np.where(o["block_days"] > 1, "paired-by-day delta-t "
                                     "(days pooled into blocks)", "paired-by-day delta-t"),
                    "not judged (too few events per day)")
    contrast = {"mc": o["mc"], "mt": o["mt"], "vc": o["vc"], "vt": o["vt"], "cov": o["cov"],
                "dof": o["dof"], "judged": judged.astype(float), "plan_var": o["plan_var"]}
    extra = {"note": o["note"], "events_more_days": o["events_days"]}
    return res, test.astype(object), extra, contrast


def missing_report(data: Any, metrics: list[Metric], arm: str, backend: Any, unit: str,
                   notes: list[str]) -> None:
    """Say how many rows each metric leaves out because a value is missing (the sample-ratio
    check counts every row, so a silent drop would hide a lopsided loss)."""
    try:
        table = resolve(data, backend=backend)
        aggs = {}
        for i, m in enumerate(metrics):
            cols = [c for c in m.columns if c in table.columns]
            if not cols:
                continue
            miss = table[cols[0]].isnull()
            for col in cols[1:]:
                miss = miss | table[col].isnull()
            aggs[f"m{i}"] = miss.cast("int64").sum()
        if not aggs:
            return
        counts = table.group_by(_arm=table[arm].cast("string")).aggregate(
            **aggs).execute()
    except Exception:  # the analysis itself reports unreadable columns
        return
    what = "lead(s)" if unit == "user" else "ad-day row(s)"
    for i, m in enumerate(metrics):
        col = f"m{i}"
        if col not in counts.columns:
            continue
        per = {str(a): int(v) for a, v in zip(counts["_arm"], pd.to_numeric(counts[col])
                                               .fillna(0), strict=True) if int(v) > 0}
        if per:
            detail = ", ".join(f"{a}: {v}" for a, v in sorted(per.items()))
            notes.append(f"{m.name}: {sum(per.values())} {what} with a missing value left "
                         f"out of this metric ({detail}); the sample-ratio check counts them")


def value_se(a: dict[str, np.ndarray], analysis: str) -> np.ndarray:
    """Standard error of each arm's own (unadjusted) value, from its sufficient statistics.

    Proportion: sqrt(p(1-p)/n); mean: sqrt(s²/n); ratio Σx/Σy: the delta method over units,
    sqrt((s_x² − 2R s_xy + R² s_y²) / (n ȳ²)) (Deng, Knoblich & Lu 2018). Used to compare arms
    that each beat the control with one another.
    """
    n, sx, sxx = a["n"], a["num_sum"], a["num_sum_sq"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if analysis == "proportion":
            p = sx / n
            return np.sqrt(p * (1 - p) / n)
        var_x = (sxx - sx * sx / n) / (n - 1)
        if analysis == "mean":
            return np.sqrt(np.maximum(var_x, 0.0) / n)
        sy, syy, sxy = a["den_sum"], a["den_sum_sq"], a["cross_sum"]
        ratio, ybar = sx / sy, sy / n
        var_y = (syy - sy * sy / n) / (n - 1)
        cov = (sxy - sx * sy / n) / (n - 1)
        var = (var_x - 2 * ratio * cov + ratio**2 * var_y) / (n * ybar**2)
        return np.sqrt(np.maximum(var, 0.0))
