"""Events + arm assignments -> one row per lead with sums over an analysis window, in the engine.

Each lead's window starts at its ``entry_time`` (when it entered the test) and lasts
``horizon_days``: an event counts when ``entry_time <= timestamp < entry_time + horizon_days``.
Fixing the window per lead, rather than "until the report date", gives every lead the same chance
to convert, so arms entered at different times stay comparable. With ``pre_period_days`` the same
sums over ``[entry_time - pre_period_days, entry_time)`` are returned as ``pre_*`` columns: the
covariate CUPED regresses out (Deng, Xu, Kohavi & Walker 2013).

The whole step is one join + one GROUP BY written in Ibis and executed by the engine holding the
data (DuckDB by default, Spark, a warehouse); the result is a lazy Ibis table that
:func:`~abtest.aggregate.sufficient_stats` aggregates further, so raw events never reach pandas.
Leads without any event get zeros (a lead that was assigned but never converted is a real 0);
events of users without an assignment are ignored; a purchase without a value adds 0 revenue.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from abtest.aggregate.backends import BackendLike, DataLike, resolve_many
from abtest.io.errors import DataError

__all__ = ["OUTCOME_COLUMNS", "user_metrics"]

#: Per-lead outcome columns produced for the analysis window (pre-period adds ``pre_`` versions).
OUTCOME_COLUMNS = ("impressions", "clicks", "conversions", "converted", "revenue")


def _names(value: str | Iterable[str], what: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(v, str) and v for v in names):
        raise ValueError(f"{what} must be an event name or a list of event names")
    return names


def _require(table: ir.Table, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"the {what} table has no column(s) {missing}",
            column=missing[0],
            expected=f"the canonical {what} columns (abtest.schema)",
        )


def user_metrics(
    events: DataLike,
    assignments: DataLike,
    *,
    horizon_days: float,
    conversion_event: str | Iterable[str] = "Purchase",
    impression_event: str | Iterable[str] = "Impression",
    click_event: str | Iterable[str] = "AdClick",
    pre_period_days: float | None = None,
    backend: BackendLike = None,
    execute: bool = False,
) -> ir.Table:
    """Per-lead sums over each lead's analysis window, pushed down to the engine.

    ``events`` and ``assignments`` are canonical tables (:data:`abtest.schema.EVENTS`,
    :data:`abtest.schema.ASSIGNMENTS`; ``assignments`` needs ``entry_time``) in any form
    :func:`~abtest.aggregate.backends.resolve` accepts; both end up on one engine.

    Returns a lazy ``ibis.Table`` (or, with ``execute=True``, a pandas DataFrame — only for small
    data) with one row per assigned lead and columns ``user_id, arm, [segment,] entry_time,
    impressions, clicks, conversions, converted, revenue`` (``converted`` is 0/1) and, when
    ``pre_period_days`` is set, ``pre_impressions, pre_clicks, pre_conversions, pre_converted,
    pre_revenue``. Counts are int64, ``revenue`` float64.
    """
    if not horizon_days > 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    if pre_period_days is not None and not pre_period_days > 0:
        raise ValueError(f"pre_period_days must be > 0 or None, got {pre_period_days}")
    conv = _names(conversion_event, "conversion_event")
    imp = _names(impression_event, "impression_event")
    clk = _names(click_event, "click_event")

    ev, asg = resolve_many([events, assignments], backend=backend)
    _require(ev, ["user_id", "timestamp", "event"], "events")
    _require(asg, ["user_id", "arm", "entry_time"], "assignments")
    has_segment = "segment" in asg.columns
    has_value = "value" in ev.columns

    null_entry = int(asg.entry_time.isnull().sum().execute())
    if null_entry:
        raise DataError(
            f"{null_entry} assigned lead(s) have no entry_time, so their window is unknown",
            column="entry_time",
            expected="the time each lead entered the test",
        )

    keep = ["user_id", "arm", "entry_time"] + (["segment"] if has_segment else [])
    a = asg.select(*keep)
    wanted = sorted(set(conv) | set(imp) | set(clk))
    e = ev.filter(ev.event.isin(wanted)).select(
        _uid=ev.user_id,
        _ts=ev.timestamp,
        _event=ev.event,
        _value=(ev.value.cast("float64") if has_value else ibis.literal(0.0)),
    )
    joined = a.left_join(e, a.user_id == e._uid)

    start = joined.entry_time
    post = (joined._ts >= start) & (joined._ts < start + _interval(horizon_days))
    windows = {"": post}
    if pre_period_days is not None:
        windows["pre_"] = (joined._ts >= start - _interval(pre_period_days)) & (joined._ts < start)

    aggs: dict[str, ir.Value] = {}
    for prefix, inside in windows.items():
        is_conv = inside & joined._event.isin(conv)
        aggs[f"{prefix}impressions"] = _count(inside & joined._event.isin(imp))
        aggs[f"{prefix}clicks"] = _count(inside & joined._event.isin(clk))
        aggs[f"{prefix}conversions"] = _count(is_conv)
        aggs[f"{prefix}revenue"] = (
            is_conv.fill_null(False).ifelse(joined._value.fill_null(0.0), 0.0).sum()
        )
    per_user = joined.group_by([joined[c] for c in keep]).aggregate(**aggs)

    out_cols: list[ir.Value] = [per_user[c] for c in keep]
    for prefix in windows:
        conversions = per_user[f"{prefix}conversions"]
        out_cols += [
            per_user[f"{prefix}impressions"],
            per_user[f"{prefix}clicks"],
            conversions,
            (conversions > 0).cast("int64").name(f"{prefix}converted"),
            per_user[f"{prefix}revenue"].fill_null(0.0).name(f"{prefix}revenue"),
        ]
    result = per_user.select(*out_cols)
    return result.execute() if execute else result


def _count(condition: ir.BooleanValue) -> ir.IntegerValue:
    """Rows where the condition holds; NULL (no matching event) counts as 0."""
    return condition.fill_null(False).cast("int64").sum().fill_null(0)


def _interval(days: float) -> ir.IntervalScalar:
    """``days`` as an interval; whole days stay days, fractions are converted to seconds."""
    if float(days).is_integer():
        return ibis.interval(days=int(days))
    return ibis.interval(seconds=round(float(days) * 86400))
