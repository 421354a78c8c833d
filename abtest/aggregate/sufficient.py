"""Canonical table -> sufficient statistics per [segment ×] arm × metric, as ONE Ibis expression.

For every metric with per-unit numerator ``x`` and denominator ``y`` (:mod:`abtest.metrics`) the
statistics need only, per arm: ``n, Σx, Σx², Σy, Σy², Σxy`` over units. Means, variances and the
delta-method ratio variance follow exactly from these six numbers (Deng et al. 2018), so this is
the only step that touches raw rows, and it runs wherever the data is (:mod:`.backends`).

Units
-----
``unit="user"``: every row is one unit (one lead, as :func:`~abtest.aggregate.user_metrics`
returns). ``unit="day"``: rows (ads of an ad-level daily export) are first summed into clusters
``[segment ×] arm × date``; the clusters are the units, because impressions in a daily export are
not independent trials.

Missing values
--------------
A unit whose numerator or denominator is missing (an export's ``-`` / ``<5``) is left out *of that
metric only*, so ``n`` can differ between metrics of the same arm; nothing is read as zero. At
``unit="day"`` a cluster counts when at least one of its rows has both values. A missing segment is
reported as ``"unknown"``; a missing arm or date raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from abtest.aggregate.backends import BackendLike, DataLike, resolve
from abtest.io.errors import DataError
from abtest.metrics import Metric, resolve_metrics

__all__ = ["STAT_COLUMNS", "daily_stats", "daily_stats_expr", "sufficient_stats",
           "sufficient_stats_expr"]

#: The six sufficient statistics, in output order.
STAT_COLUMNS = ("n", "num_sum", "num_sum_sq", "den_sum", "den_sum_sq", "cross_sum")

UnitArg = Literal["user", "day", "auto"]
_STATS = ("n", "sx", "sxx", "sy", "syy", "sxy")


def _infer_unit(columns: Sequence[str], date: str) -> Literal["user", "day"]:
    if "user_id" in columns:
        return "user"
    if date in columns:
        return "day"
    raise ValueError(
        "cannot infer the unit of analysis: the table has neither 'user_id' (one row per lead) "
        f"nor {date!r} (ad-level daily rows); pass unit='user' or unit='day'"
    )


def _check_columns(table: ir.Table, metrics: list[Metric], needed: Iterable[str]) -> None:
    schema = table.schema()
    missing = [c for c in needed if c not in schema]
    for m in metrics:
        missing += [c for c in m.columns if c not in schema and c not in missing]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found; the table has: {list(schema.names)}"
        )
    for m in metrics:
        for col in m.columns:
            dtype = schema[col]
            if not (dtype.is_numeric() or dtype.is_boolean()):
                raise DataError(
                    f"metric {m.name!r} needs a numeric column",
                    column=col,
                    expected="numbers",
                    found=str(dtype),
                )


def _linear(table: ir.Table, terms: tuple[tuple[str, float], ...]) -> ir.FloatingValue:
    out = None
    for col, weight in terms:
        value = table[col].cast("float64")
        if weight != 1.0:
            value = value * weight
        out = value if out is None else out + value
    return out  # type: ignore[return-value]


def _per_row(table: ir.Table, m: Metric) -> tuple[ir.BooleanValue, ir.FloatingValue, ir.Value]:
    """(valid, x, y) for one metric, with x and y set to 0 where the unit is left out."""
    num = _linear(table, m.numerator_terms)
    valid = num.notnull()
    den = None
    if m.denominator is not None:
        den = _linear(table, m.denominator_terms)
        valid = valid & den.notnull()
    x = valid.ifelse(num, 0.0)
    y = valid.ifelse(den, 0.0) if den is not None else None
    return valid, x, y


def _clusters(table: ir.Table, keys: dict[str, ir.Value], per_metric: list, metrics: Sequence[Metric],
              date: str) -> ir.Table:
    """Rows summed into [segment ×] arm × date clusters: valid rows, Σx and Σy per metric."""
    keys = {**keys, "_date": table[date]}
    first: dict[str, ir.Value] = {"_arm_null": keys["arm"].isnull().cast("int64").sum()}
    for i, (valid, x, y) in enumerate(per_metric):
        if y is None:  # per-lead metrics have no meaning per day (Metric.analysis raises first)
            raise ValueError(f"metric {metrics[i].name!r} cannot be clustered by day")
        first[f"c{i}"] = valid.cast("int64").sum()
        first[f"x{i}"] = x.sum()
        first[f"y{i}"] = y.sum()
    return table.group_by(**keys).aggregate(**first)


def daily_stats_expr(
    table: ir.Table,
    *,
    metrics: Sequence[Metric],
    arm: str = "arm",
    segment: str | None = None,
    date: str = "date",
) -> ir.Table:
    """Ad-level rows summed per [segment ×] arm × date: ``_date``, ``c{i}`` (rows with both
    values of metric ``i``), ``x{i}`` (Σ numerator) and ``y{i}`` (Σ denominator)."""
    keys: dict[str, ir.Value] = {}
    if segment is not None:
        keys["segment"] = table[segment].cast("string").fill_null("unknown")
    keys["arm"] = table[arm].cast("string")
    return _clusters(table, keys, [_per_row(table, m) for m in metrics], metrics, date)


def daily_stats(
    data: DataLike,
    *,
    metrics: str | Metric | Iterable[str | Metric],
    arm: str = "arm",
    segment: str | None = None,
    date: str = "date",
    backend: BackendLike = None,
) -> pd.DataFrame:
    """Arm × day totals of each metric's numerator and denominator, computed by the engine.

    The input of the paired-by-day analysis (:mod:`abtest.stats.daily`): one tidy row per
    [segment ×] arm × date × metric with columns ``[segment,] arm, date, metric, rows, num, den``
    (``rows``: ad rows with both values; a day where they are all missing has ``rows = 0`` and
    ``num = den = 0``). Sorted by segment, arm, date, then the order of ``metrics``.
    """
    metric_list = resolve_metrics(metrics)
    table = resolve(data, backend=backend)
    for m in metric_list:
        m.analysis("day")
    _check_columns(table, metric_list, [arm, date] + ([segment] if segment else []))
    wide = daily_stats_expr(table, metrics=metric_list, arm=arm, segment=segment,
                            date=date).execute()
    if wide.empty:
        raise ValueError("the table has no rows to aggregate")
    bad = int(pd.to_numeric(wide["_arm_null"]).fillna(0).sum()) + int(wide["_date"].isna().sum())
    if bad or wide["arm"].isna().any():
        raise DataError(f"{bad} row(s) have no value in column {arm!r} or {date!r}", column=arm,
                        expected="an arm")
    keys = (["segment"] if segment else []) + ["arm"]
    frames = []
    for i, m in enumerate(metric_list):
        part = wide[keys].astype("string").copy()
        part["date"] = wide["_date"].to_numpy()
        part["metric"] = m.name
        part["_order"] = i
        part["rows"] = _col(wide, f"c{i}")
        part["num"] = _col(wide, f"x{i}")
        part["den"] = _col(wide, f"y{i}")
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values([*keys, "date", "_order"], kind="stable").drop(columns="_order")
    out["metric"] = out["metric"].astype("string")
    return out.reset_index(drop=True)


def sufficient_stats_expr(
    table: ir.Table,
    *,
    metrics: Sequence[Metric],
    arm: str = "arm",
    segment: str | None = None,
    unit: Literal["user", "day"] = "user",
    date: str = "date",
) -> ir.Table:
    """The aggregation as an Ibis expression: one wide row per [segment ×] arm.

    Columns: ``segment`` (when given), ``arm``, ``_bad`` (rows with a missing arm or date), and for
    metric ``i`` the statistics ``m{i}_n, m{i}_sx, m{i}_sxx`` plus ``m{i}_sy, m{i}_syy, m{i}_sxy``
    when it has a denominator. ``ibis.to_sql(expr)`` shows the SQL an engine will run.
    """
    keys: dict[str, ir.Value] = {}
    if segment is not None:
        keys["segment"] = table[segment].cast("string").fill_null("unknown")
    keys["arm"] = table[arm].cast("string")
    per_metric = [_per_row(table, m) for m in metrics]
    if unit == "user":
        aggs: dict[str, ir.Value] = {"_bad": table[arm].isnull().cast("int64").sum()}
        for i, (valid, x, y) in enumerate(per_metric):
            aggs[f"m{i}_n"] = valid.cast("int64").sum()
            aggs[f"m{i}_sx"] = x.sum()
            aggs[f"m{i}_sxx"] = (x * x).sum()
            if y is not None:
                aggs[f"m{i}_sy"] = y.sum()
                aggs[f"m{i}_syy"] = (y * y).sum()
                aggs[f"m{i}_sxy"] = (x * y).sum()
        return table.group_by(**keys).aggregate(**aggs)
    if unit != "day":
        raise ValueError(f"unit must be 'user' or 'day', got {unit!r}")
    clusters = _clusters(table, keys, per_metric, metrics, date)
    keys = {**keys, "_date": table[date]}
    outer = [k for k in keys if k != "_date"]
    aggs = {
        "_bad": clusters["_arm_null"].sum() + clusters["_date"].isnull().cast("int64").sum()
    }
    for i in range(len(per_metric)):
        cx, cy = clusters[f"x{i}"], clusters[f"y{i}"]
        aggs[f"m{i}_n"] = (clusters[f"c{i}"] > 0).cast("int64").sum()
        aggs[f"m{i}_sx"] = cx.sum()
        aggs[f"m{i}_sxx"] = (cx * cx).sum()
        aggs[f"m{i}_sy"] = cy.sum()
        aggs[f"m{i}_syy"] = (cy * cy).sum()
        aggs[f"m{i}_sxy"] = (cx * cy).sum()
    return clusters.group_by(*outer).aggregate(**aggs)


def sufficient_stats(
    data: DataLike,
    *,
    metrics: str | Metric | Iterable[str | Metric],
    arm: str = "arm",
    segment: str | None = None,
    unit: UnitArg = "auto",
    date: str = "date",
    backend: BackendLike = None,
) -> pd.DataFrame:
    """Sufficient statistics per [segment ×] arm × metric, computed by the engine holding the data.

    ``data``: a canonical table as a pandas DataFrame, a parquet/CSV path, an ``ibis.Table`` of
    any backend or a PySpark DataFrame (see :mod:`abtest.aggregate.backends`). ``unit="auto"``
    picks ``"user"`` when there is a ``user_id`` column, else ``"day"`` when there is ``date``.

    Returns a tidy DataFrame with columns ``[segment,] arm, metric, unit, n, num_sum, num_sum_sq,
    den_sum, den_sum_sq, cross_sum`` (statistics as float64), one row per [segment ×] arm × metric,
    sorted by segment, arm, then the order of ``metrics``. For per-unit metrics (proportions and
    means) the denominator is 1 per unit: ``den_sum = den_sum_sq = n`` and ``cross_sum = num_sum``.
    ``Metric.analysis(unit)`` says which test applies to each row.
    """
    metric_list = resolve_metrics(metrics)
    table = resolve(data, backend=backend)
    chosen: Literal["user", "day"] = (
        _infer_unit(table.columns, date) if unit == "auto" else unit  # type: ignore[assignment]
    )
    if chosen not in ("user", "day"):
        raise ValueError(f"unit must be 'user', 'day' or 'auto', got {unit!r}")
    for m in metric_list:
        m.analysis(chosen)  # raises for per-lead metrics on daily data
    needed = [arm] + ([segment] if segment else []) + ([date] if chosen == "day" else [])
    _check_columns(table, metric_list, needed)

    expr = sufficient_stats_expr(
        table, metrics=metric_list, arm=arm, segment=segment, unit=chosen, date=date
    )
    wide = expr.execute()
    return _to_long(wide, metric_list, chosen, segment is not None, arm=arm, date=date)


def _to_long(
    wide: pd.DataFrame,
    metrics: list[Metric],
    unit: str,
    has_segment: bool,
    *,
    arm: str,
    date: str,
) -> pd.DataFrame:
    """Reshape the engine's wide row per arm to one tidy row per arm × metric (small frames)."""
    if wide.empty:
        raise ValueError("the table has no rows to aggregate")
    bad = int(pd.to_numeric(wide["_bad"]).fillna(0).sum())
    if bad or wide["arm"].isna().any():
        what = f"column {arm!r}" + (f" or {date!r}" if unit == "day" else "")
        raise DataError(f"{bad} row(s) have no value in {what}", column=arm, expected="an arm")
    keys = (["segment"] if has_segment else []) + ["arm"]
    wide = wide.sort_values(keys, kind="stable").reset_index(drop=True)
    frames = []
    for i, m in enumerate(metrics):
        n = _col(wide, f"m{i}_n")
        sx = _col(wide, f"m{i}_sx")
        sxx = _col(wide, f"m{i}_sxx")
        if m.denominator is None:
            sy, syy, sxy = n, n, sx
            if m.kind == "proportion":
                _check_binary(m, sx, sxx)
        else:
            sy, syy, sxy = (_col(wide, f"m{i}_{s}") for s in ("sy", "syy", "sxy"))
        part = wide[keys].astype("string").copy()
        part["metric"] = m.name
        part["unit"] = unit
        part["_order"] = i
        for name, values in zip(STAT_COLUMNS, (n, sx, sxx, sy, syy, sxy), strict=True):
            part[name] = values
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values([*keys, "_order"], kind="stable").drop(columns="_order")
    out["metric"] = out["metric"].astype("string")
    out["unit"] = out["unit"].astype("string")
    return out.reset_index(drop=True)


def _col(wide: pd.DataFrame, name: str) -> np.ndarray:
    """A statistic as float64; SUM over zero valid rows comes back as NULL and means 0 here."""
    values = pd.to_numeric(wide[name]).astype("Float64").fillna(0.0)
    return values.to_numpy(dtype="float64")


def _check_binary(m: Metric, sx: np.ndarray, sxx: np.ndarray) -> None:
    """A 0/1 column has Σx² = Σx; anything else is not a proportion."""
    if not np.allclose(sx, sxx, rtol=1e-12, atol=1e-9):
        col = m.numerator_terms[0][0]
        raise DataError(
            f"metric {m.name!r} is a proportion, so its numerator must be 0/1 per unit",
            column=col,
            expected="0 or 1 per row (e.g. the 'converted' flag)",
        )
