"""Independent plain-pandas computations of the quantities the aggregation layer returns.

Written without abtest.aggregate, so the tests comparing the two can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stats_by_unit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """n, Σx, Σx², Σy, Σy², Σxy over units (NaN in x or y drops the unit)."""
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    return {
        "n": float(keep.sum()),
        "num_sum": float(x.sum()),
        "num_sum_sq": float((x * x).sum()),
        "den_sum": float(y.sum()),
        "den_sum_sq": float((y * y).sum()),
        "cross_sum": float((x * y).sum()),
    }


def as_float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)


def day_clustered(
    df: pd.DataFrame, num: list[str], den: list[str], *, keys: list[str]
) -> pd.DataFrame:
    """Cluster rows by keys + date (summing complete rows), then unit statistics per keys."""
    x = sum(as_float(df[c]) for c in num)
    y = sum(as_float(df[c]) for c in den)
    ok = ~(np.isnan(x) | np.isnan(y))
    frame = df[keys + ["date"]].copy()
    frame["x"] = np.where(ok, x, 0.0)
    frame["y"] = np.where(ok, y, 0.0)
    frame["c"] = ok.astype(int)
    clusters = frame.groupby(keys + ["date"], as_index=False)[["x", "y", "c"]].sum()
    clusters = clusters[clusters["c"] > 0]
    out = []
    for key, part in clusters.groupby(keys):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(stats_by_unit(part["x"].to_numpy(float), part["y"].to_numpy(float)))
        out.append(row)
    return pd.DataFrame(out)


def user_window(
    events: pd.DataFrame, assignments: pd.DataFrame, *, horizon_days: float, pre_days: float
) -> pd.DataFrame:
    """Per-lead window sums with a plain merge + boolean masks + groupby."""
    merged = assignments[["user_id", "arm", "segment", "entry_time"]].merge(
        events[["user_id", "timestamp", "event", "value"]], on="user_id", how="left"
    )
    ts, start = merged["timestamp"], merged["entry_time"]
    post = (ts >= start) & (ts < start + pd.Timedelta(days=horizon_days))
    pre = (ts >= start - pd.Timedelta(days=pre_days)) & (ts < start)
    cols = {}
    for prefix, mask in (("", post), ("pre_", pre)):
        mask = mask.fillna(False).astype(bool)
        buy = mask & (merged["event"] == "Purchase").fillna(False)
        cols[f"{prefix}impressions"] = mask & (merged["event"] == "Impression").fillna(False)
        cols[f"{prefix}clicks"] = mask & (merged["event"] == "AdClick").fillna(False)
        cols[f"{prefix}conversions"] = buy
        cols[f"{prefix}revenue"] = np.where(buy, merged["value"].fillna(0.0), 0.0)
    flags = pd.DataFrame(cols).astype(float)
    flags["user_id"] = merged["user_id"].to_numpy()
    per_user = flags.groupby("user_id", as_index=False).sum()
    out = assignments[["user_id", "arm", "segment"]].merge(per_user, on="user_id", how="left")
    for prefix in ("", "pre_"):
        out[f"{prefix}converted"] = (out[f"{prefix}conversions"] > 0).astype(float)
    return out
