"""Write and read canonical tables (parquet or CSV) with their dtypes intact.

Parquet keeps pandas dtypes through Arrow metadata; its timestamps are stored as microseconds
(``timestamp[us, tz=UTC]``), the precision Spark and the warehouses read — nanosecond parquet
timestamps are refused by Spark. A value with sub-microsecond digits raises a :class:`DataError`
instead of being truncated (see ``abtest.schema``). CSV has no types, so :func:`read_table`
re-applies the canonical schema: IDs stay strings (never floats), counts are ``Int64`` with NA,
money ``Float64`` (written with full ``repr`` precision so it reads back bit-exact), timestamps UTC
in ISO 8601 with nanoseconds. Missing values are empty cells, so an empty string in a text column
reads back as missing: canonical tables use NA, never "", for "no value".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from abtest.errors import DataError
from abtest.io.hashing import hash_personal_ids, mask_values
from abtest.schema import AD_STATS, ASSIGNMENTS, EVENTS, Table

__all__ = ["read_table", "write_table"]

_TABLES = (AD_STATS, EVENTS, ASSIGNMENTS)


def _guess(columns: list[str]) -> Table:
    for table in _TABLES:
        if set(table.required) <= set(columns):
            return table
    raise DataError("the columns match no canonical table", expected="ad_stats, events or "
                    "assignments columns", found=columns[:12])


def _check_microseconds(frame: pd.DataFrame, path: Path) -> None:
    """Raise a DataError naming the first value parquet's microsecond timestamps cannot hold."""
    for col in frame.columns:
        s = frame[col]
        if not pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        lost = (s.notna() & (s.dt.nanosecond != 0)).to_numpy(dtype=bool)
        if lost.any():
            first = int(lost.argmax())
            raise DataError(
                "parquet stores timestamps in microseconds; this value has nanoseconds",
                file=path,
                row=first + 2,
                column=str(col),
                expected="timestamps with at most microsecond precision (or write .csv)",
                found=str(s.iloc[first]),
            )


def _refuse_personal_ids(ids: pd.Series, path: Path) -> None:
    """Canonical tables hold hashed or opaque user ids: an e-mail or phone there is refused."""
    _, personal = hash_personal_ids(ids, column="user_id", notes=[], hash_pii=False)
    if personal.any():
        first = int(personal.to_numpy(dtype=bool).argmax())
        raise DataError("e-mail address or phone number (personal data) as a user id; canonical "
                        "tables hold hashed ids: read the source file with read_events, which "
                        "hashes them", file=path, row=first + 2, column="user_id",
                        expected="a SHA-256 hex digest or an opaque id",
                        found=str(mask_values(ids.iloc[[first]]).iloc[0]))


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a canonical table to ``.parquet`` or ``.csv`` (chosen by the suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        _check_microseconds(frame, path)
        # allow_truncated_timestamps=False: pyarrow raises rather than drop digits silently
        frame.to_parquet(path, index=False, coerce_timestamps="us",
                         allow_truncated_timestamps=False)
    elif suffix == ".csv":
        out = frame.copy()
        for col in out.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_convert("UTC")
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                # %f stops at microseconds: append the nanoseconds so the round trip is exact.
                ns = s.dt.nanosecond.astype("Int64").astype("string").str.zfill(3)
                zone = "Z" if isinstance(s.dtype, pd.DatetimeTZDtype) else ""
                out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").astype("string") + ns + zone
        out.to_csv(path, index=False, na_rep="")
    else:
        raise DataError(f"unsupported table format {suffix!r}", file=path,
                        expected=".parquet or .csv")
    return path


def read_table(path: str | Path, table: Table | None = None) -> pd.DataFrame:
    """Read a canonical table written by :func:`write_table`; ``table`` guessed when omitted.

    Columns beyond the canonical ones (e.g. arm fields) come back as strings from CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    else:
        raise DataError(f"unsupported table format {suffix!r}", file=path,
                        expected=".parquet or .csv")
    table = table or _guess(list(frame.columns))
    missing = [c for c in table.required if c not in frame.columns]
    if missing:
        raise DataError(f"not a canonical {table.name} table: missing {missing}", file=path,
                        column=missing[0])
    if suffix == ".csv":
        for col in table.columns:
            if col.name not in frame:
                continue
            text = frame[col.name]
            if col.dtype.startswith("datetime64"):
                utc = "UTC" in col.dtype
                parsed = pd.to_datetime(text, format="ISO8601", utc=utc, errors="coerce")
                expected = "an ISO 8601 time such as 2024-06-01T12:00:00Z"
            elif col.dtype in ("Int64", "Float64"):
                parsed = pd.to_numeric(text, errors="coerce")
                expected = "a number"
            else:
                continue
            bad = (text.notna() & parsed.isna()).to_numpy(dtype=bool)
            if bad.any():
                first = int(bad.argmax())
                raise DataError(f"not {expected.split(' such')[0]} ({int(bad.sum())} row(s))",
                                file=path, row=first + 2, column=col.name, expected=expected,
                                found=text.iloc[first])
            frame[col.name] = parsed
    if "user_id" in frame:
        _refuse_personal_ids(frame["user_id"], path)
    try:
        return table.conform(frame)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot restore the {table.name} column types: {exc}", file=path) from None
