"""Multiplicity families, decision-level intervals and "keep testing N more days" for a table.

Families: the first metric is the *primary* (decision) metric, the others *secondary*; pooled
rows and segment rows are separate families, so there are up to four: ``primary``,
``secondary``, ``primary by segment``, ``secondary by segment``. Each is corrected on its own
(``correction`` column: ``holm`` / ``bh`` / ``bonferroni`` / ``none``; ``family_size`` tests).

Intervals: ``abs_ci_*`` / ``rel_ci_*`` are at the row's decision level ``1 − α·p/p_adj``
(:mod:`abtest.stats.adjusted`), so they exclude 0 exactly when ``significant``; the
``*_unadjusted`` columns keep the per-test ``1 − α`` intervals. ``ci_level`` states the level.

Planning: ``days_needed`` is the total test length that detects the planned relative effect
``mde`` (not the observed one) with the requested power at the family's Bonferroni level, from
the row's standard error (for ad-level rows at least the Poisson noise of the counts, so a
standard error that is small by chance cannot end a test early;
:func:`abtest.stats.planning.days_to_detect`; the always-valid
boundary for ``method="sequential"``); ``more_days`` = max(0, days_needed − days run), and at
least the days a not-yet-judgeable ad-level metric needs to collect enough events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from abtest.stats.adjusted import contrast_intervals, critical_values, decision_alpha
from abtest.stats.checks import adjust_pvalues
from abtest.stats.planning import days_to_detect

__all__ = ["adjust", "intervals", "more_days_summary", "plan"]

ALL = "all"


def _treated(table: pd.DataFrame) -> np.ndarray:
    return ~table["is_control"].to_numpy(dtype=bool)


def _col(table: pd.DataFrame, name: str, rows: np.ndarray, default: float = np.nan
         ) -> np.ndarray:
    if name not in table.columns:
        return np.full(int(rows.sum()), default)
    return table.loc[rows, name].astype("Float64").fillna(default).to_numpy(dtype=float)


def adjust(table: pd.DataFrame, *, primary: str, correction: str, method: str) -> pd.DataFrame:
    """Add ``family``, ``correction``, ``family_size`` and (not Bayesian) ``p_adjusted``."""
    table = table.copy()
    treated = _treated(table)
    is_primary = (table["metric"] == primary).to_numpy(dtype=bool)
    pooled = (table["segment"] == ALL).to_numpy(dtype=bool)
    fam = np.where(is_primary, "primary", "secondary").astype(object)
    fam = np.where(pooled, fam, fam + " by segment")
    fam = np.where(treated, fam, "control")
    table["family"] = pd.array(fam.astype(str), dtype="string")
    corr = "none" if method == "bayesian" else correction
    table["correction"] = pd.array(np.where(treated, corr, "control").astype(str),
                                   dtype="string")
    size = pd.Series(pd.NA, index=table.index, dtype="Int64")
    if method != "bayesian":
        table["p_adjusted"] = pd.Series(pd.NA, index=table.index, dtype="Float64")
    for name in ("primary", "secondary", "primary by segment", "secondary by segment"):
        mask = treated & (fam == name)
        if not mask.any():
            continue
        size[mask] = int(mask.sum())
        if method == "bayesian":
            continue
        p = table.loc[mask, "p_value"].to_numpy(dtype=float)
        adj = p if correction == "none" else np.asarray(adjust_pvalues(p, method=correction),
                                                         dtype=float)
        table.loc[mask, "p_adjusted"] = adj
    table["family_size"] = size
    return table


def intervals(table: pd.DataFrame, *, alpha: float) -> pd.DataFrame:
    """Decision-level and unadjusted intervals from the private contrast columns."""
    table = table.copy()
    rows = _treated(table)
    mc, vc, mt, vt = (_col(table, f"_{k}", rows) for k in ("mc", "vc", "mt", "vt"))
    cov = _col(table, "_cov", rows, 0.0)
    dof = _col(table, "_dof", rows, np.inf)
    nr2 = _col(table, "_nr2", rows) if "_nr2" in table.columns else None
    judged = _col(table, "_judged", rows, 1.0) > 0
    p = table.loc[rows, "p_value"].to_numpy(dtype=float)
    pa = table.loc[rows, "p_adjusted"].to_numpy(dtype=float)
    prop = (table.loc[rows, "analysis"] == "proportion").to_numpy(dtype=bool)
    level = decision_alpha(p, pa, alpha)
    out: dict[str, np.ndarray] = {}
    for suffix, a in (("", level), ("_unadjusted", np.full(p.shape, alpha))):
        q = critical_values(a, dof, sequential_nr2=nr2)
        with np.errstate(invalid="ignore", over="ignore"):
            alo, ahi, rlo, rhi, comp = contrast_intervals(mc, vc, mt, vt, cov, q)
        alo, ahi = np.where(prop, np.maximum(alo, -1.0), alo), np.where(prop, np.minimum(ahi, 1.0),
                                                                        ahi)
        bad = ~judged | ~np.isfinite(vc) | ~np.isfinite(vt)
        alo, ahi = np.where(bad, -np.inf, alo), np.where(bad, np.inf, ahi)
        rlo, rhi = np.where(bad, -np.inf, rlo), np.where(bad, np.inf, rhi)
        comp = comp & ~bad
        out[f"abs_ci_low{suffix}"], out[f"abs_ci_high{suffix}"] = alo, ahi
        out[f"rel_ci_low{suffix}"], out[f"rel_ci_high{suffix}"] = rlo, rhi
        out[f"rel_ci_shape{suffix}"] = np.where(comp, "complement", "interval")
    out["ci_level"] = 1.0 - level
    for name, v in out.items():
        if v.dtype.kind == "f":
            col = pd.Series(pd.NA, index=table.index, dtype="Float64")
        else:
            col = pd.Series(pd.NA, index=table.index, dtype="string")
        col.iloc[np.flatnonzero(rows)] = v
        table[name] = col
    return table


def plan(table: pd.DataFrame, *, days_run: float | None, mde: float, alpha: float,
         power: float, correction: str = "holm") -> pd.DataFrame:
    """Add ``days_needed`` and ``more_days`` (planned-MDE based) to the treatment rows.

    The level is the family's Bonferroni split ``alpha / family_size`` (never stricter than Holm
    needs for the smallest p-value), or ``alpha`` with ``correction="none"``.
    """
    table = table.copy()
    rows = _treated(table)
    need = np.full(int(rows.sum()), np.nan)
    if days_run is not None and days_run > 0:
        se = _col(table, "std_error", rows)
        floor = _col(table, "_plan_var", rows, 0.0)  # ad-level: Poisson floor (adlevel.py)
        se = np.where(np.isfinite(se), np.sqrt(np.maximum(se * se, floor)), se)
        mc = np.abs(_col(table, "_mc", rows))
        size = table.loc[rows, "family_size"].astype("Float64").fillna(1).to_numpy(dtype=float)
        if correction == "none":
            size = np.ones_like(size)
        nr2 = _col(table, "_nr2", rows) if "_nr2" in table.columns else None
        ok = np.isfinite(se) & (se > 0) & (mc > 0) & np.isfinite(mc)
        if ok.any():
            need[ok] = days_to_detect(se[ok], float(days_run), mde * mc[ok],
                                      alpha=alpha / size[ok], power=power,
                                      sequential_nr2=None if nr2 is None else nr2[ok])
        need[np.isfinite(se) & (se == 0)] = float(days_run)
    more = np.where(np.isnan(need), np.nan,
                    np.maximum(0.0, np.ceil(need - (days_run or 0.0) - 1e-9)))
    events = _col(table, "events_more_days", rows, 0.0)
    more = np.where(events > 0, np.fmax(more, events), more)
    for name, v in (("days_needed", need), ("more_days", more)):
        col = pd.Series(pd.NA, index=table.index, dtype="Float64")
        col.iloc[np.flatnonzero(rows)] = v
        table[name] = col.where(~col.isna(), pd.NA)
    return table


def more_days_summary(table: pd.DataFrame, primary: str) -> dict[str, Any]:
    """``{arm: more days}`` for the primary metric's pooled rows (None where unknown)."""
    if "more_days" not in table.columns:
        return {}
    rows = table[(table["metric"] == primary) & (table["segment"] == ALL) & ~table["is_control"]]
    return {str(a): (None if pd.isna(v) else float(v))
            for a, v in zip(rows["arm"], rows["more_days"], strict=True)}
