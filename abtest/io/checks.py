"""Structural invariants of canonical tables, checked vectorised, failing with file/row/column.

These are facts about the data TikTok produces, not judgement calls: a count is never negative,
destination clicks and reach never exceed impressions, spend is never negative, and a date x ad
pair appears once. Conversions may exceed clicks (view-through attribution credits conversions to
impressions), so that is deliberately *not* checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from abtest.errors import DataError
from abtest.schema import AD_STATS, EVENTS

__all__ = ["check_ad_stats", "check_events", "fail_where"]

_COUNTS = [c.name for c in AD_STATS.columns if c.dtype == "Int64"]


def fail_where(
    mask: pd.Series | np.ndarray,
    message: str,
    *,
    file: str | Path | None,
    rows: pd.Series | None,
    row_kind: str = "row",
    column: str | None = None,
    expected: str | None = None,
    found: pd.Series | None = None,
) -> None:
    """Raise a DataError at the first True of ``mask`` (NA counts as False), citing how many."""
    bad = np.asarray(pd.Series(mask).fillna(False), dtype=bool)
    if not bad.any():
        return
    pos = int(np.flatnonzero(bad)[0])
    n = int(bad.sum())
    row = int(rows.iloc[pos]) if rows is not None else pos + 2
    shown = None
    if found is not None:
        shown = found.iloc[pos]
        shown = shown.item() if hasattr(shown, "item") else shown
    more = f" ({n} rows in all)" if n > 1 else ""
    raise DataError(message + more, file=file, row=row, column=column, row_kind=row_kind,
                    expected=expected, found=shown)


def check_ad_stats(
    frame: pd.DataFrame,
    *,
    file: str | Path | None = None,
    rows: pd.Series | None = None,
    row_kind: str = "row",
    allow_mixed_currency: bool = False,
    labels: dict[str, str] | None = None,
) -> None:
    """Check a canonical ad_stats frame; ``rows`` are the user-visible row numbers (same order).

    ``labels`` maps canonical column names to the headers the user's file has, for messages.
    """
    kw = {"file": file, "rows": rows, "row_kind": row_kind}
    lab = dict(labels or {})
    if rows is not None:
        rows = rows.reset_index(drop=True)
        kw["rows"] = rows
    f = frame.reset_index(drop=True)
    fail_where(f["date"].isna(), "missing report date", column=lab.get("date", "date"), expected="a date", **kw)
    fail_where(f["ad_id"].isna(), "missing ad ID", column=lab.get("ad_id", "ad_id"),
               expected="an ad ID or ad name", **kw)
    for col in _COUNTS:
        if col in f:
            fail_where(f[col] < 0, "negative count", column=lab.get(col, col), expected="a count >= 0",
                       found=f[col], **kw)
    for col in ("cost", "conversion_value"):
        fail_where(f[col] < 0, "negative money amount", column=lab.get(col, col), expected="an amount >= 0",
                   found=f[col], **kw)
    fail_where(f["clicks"] > f["impressions"], "more destination clicks than impressions",
               column=lab.get("clicks", "clicks"), expected="clicks <= impressions", found=f["clicks"], **kw)
    fail_where(f["reach"] > f["impressions"], "reach larger than impressions",
               column=lab.get("reach", "reach"), expected="reach <= impressions", found=f["reach"], **kw)
    dup = f.duplicated(list(AD_STATS.key), keep="first")
    fail_where(dup, "duplicate date x ad row (the same ad appears twice on the same day)",
               column=lab.get("ad_id", "ad_id"), expected="one row per date and ad",
               found=f["date"].dt.strftime("%Y-%m-%d") + " / " + f["ad_id"], **kw)
    currencies = f["currency"].dropna().unique()
    if len(currencies) > 1 and not allow_mixed_currency:
        first = f["currency"].dropna().iloc[0]
        fail_where(f["currency"].notna() & (f["currency"] != first),
                   f"more than one currency in one file ({', '.join(sorted(map(str, currencies)))}); "
                   "costs in different currencies cannot be added. Split the file or pass "
                   "allow_mixed_currency=True",
                   column=lab.get("currency", "currency"), expected=f"{first} like the rows before",
                   found=f["currency"], **kw)


def check_events(
    frame: pd.DataFrame,
    *,
    file: str | Path | None = None,
    rows: pd.Series | None = None,
    row_kind: str = "row",
    require_hashed_ids: bool = True,
) -> None:
    """Check a canonical events frame (before deduplication is fine)."""
    f = frame.reset_index(drop=True)
    kw = {"file": file, "rows": None if rows is None else rows.reset_index(drop=True),
          "row_kind": row_kind}
    for col in EVENTS.required:
        fail_where(f[col].isna(), f"missing {col}", column=col, expected=f"a {col}", **kw)
    if require_hashed_ids:
        fail_where(~f["user_id"].str.fullmatch(r"[0-9a-f]{64}").fillna(True),
                   "user id is not a SHA-256 hex digest", column="user_id",
                   expected="64 hexadecimal characters", found=f["user_id"], **kw)
    fail_where(f["value"] < 0, "negative event value", column="value",
               expected="a value >= 0", found=f["value"], **kw)
