"""Leads whose conversion window is not complete yet: how long each has been observed.

:func:`lead_windows` turns canonical events + assignments into one row per lead with the days it
has been observed (``age_days``), the day of its first conversion inside the window
(``conversion_day``) and what it did so far, so :func:`abtest.incrementality` can set immature
leads aside (the aggregation rule) or nowcast them (:mod:`abtest.stats.nowcast`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from abtest.io.errors import DataError

__all__ = ["lead_windows", "nowcast_leads"]

DAY = pd.Timedelta(days=1)


def lead_windows(
    events: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    horizon_days: int,
    conversion_events: str | Sequence[str] = ("Purchase",),
    data_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per assigned lead: ``user_id, arm, [segment,] entry_time, age_days,
    conversion_day, converted, conversions, revenue, mature``.

    Conversions count within ``[entry_time, entry_time + horizon_days)`` and up to ``data_end``
    (default: the last event); ``age_days`` = (data end − entry) in days, ``mature`` when it
    reaches the horizon. ``conversion_day`` is days from entry to the first conversion (NaN if
    none yet).
    """
    if not horizon_days > 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    for col in ("user_id", "arm", "entry_time"):
        if col not in assignments:
            raise DataError(f"the assignments have no {col!r} column", column=col,
                            expected="user_id, arm and entry_time for every lead")
    names = [conversion_events] if isinstance(conversion_events, str) else list(conversion_events)
    asg = assignments.copy()
    asg["entry_time"] = pd.to_datetime(asg["entry_time"], utc=True)
    ts = pd.to_datetime(events["timestamp"], utc=True)
    end = pd.Timestamp(data_end, tz="UTC") if data_end is not None else ts.max()
    conv = events.loc[events["event"].astype(str).isin(names), ["user_id"]].copy()
    conv["timestamp"] = ts[conv.index]
    conv["value"] = pd.to_numeric(events.loc[conv.index, "value"], errors="coerce").fillna(0.0) \
        if "value" in events else 0.0
    conv["user_id"] = conv["user_id"].astype(str)
    asg["user_id"] = asg["user_id"].astype(str)
    joined = conv.merge(asg[["user_id", "entry_time"]], on="user_id", how="inner")
    delay = (joined["timestamp"] - joined["entry_time"]) / DAY
    inside = (delay >= 0) & (delay < horizon_days) & (joined["timestamp"] <= end)
    joined = joined[inside].assign(delay=delay[inside])
    per = joined.groupby("user_id").agg(conversion_day=("delay", "min"),
                                        conversions=("delay", "size"),
                                        revenue=("value", "sum"))
    out = asg.merge(per, left_on="user_id", right_index=True, how="left")
    out["conversions"] = out["conversions"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["converted"] = (out["conversions"] > 0).astype("int64")
    out["conversion_day"] = out["conversion_day"].astype("float64")
    out["age_days"] = ((end - out["entry_time"]) / DAY).clip(lower=0).astype("float64")
    out["mature"] = out["age_days"] >= horizon_days
    return out.reset_index(drop=True)


def nowcast_leads(
    age_days: np.ndarray, conversion_day: np.ndarray, groups: np.ndarray, horizon_days: int
) -> tuple[np.ndarray, np.ndarray, dict[object, float]]:
    """Per lead: expected final conversion (0/1 or a probability) and its Bernoulli variance;
    per group: the estimation variance of the group's nowcast (hazards fitted per group)."""
    from abtest.stats.nowcast import nowcast_conversions

    prob = np.zeros(len(age_days))
    est: dict[object, float] = {}
    for g in pd.unique(groups):
        idx = groups == g
        nc = nowcast_conversions(age_days[idx], conversion_day[idx], horizon_days)
        prob[idx] = nc.probability
        est[g] = float(nc.estimation_variance)
    immature = (age_days < horizon_days) & (prob < 1)
    return prob, np.where(immature, prob * (1 - prob), 0.0), est
