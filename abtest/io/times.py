"""Report days and event times, decided per column from the column's own values, or refused.

Days (Ads Manager ``By Day``, API ``stat_time_day``): ISO ``2024-06-01``, ``yyyymmdd``, Excel
serial numbers, and slash dates whose order (day-first or month-first) the column itself proves:
a value above 12, or which of the two parts varies across a daily report. A column that reads
both ways is refused with both readings; a month without a day is refused.

Event times: Unix time whose unit (s / ms / µs / ns) is inferred from the magnitudes of the
whole column, Excel serials, ``yyyymmdd``, or ISO 8601 text. Times before 2016 (TikTok's ads
began in 2019) or after the file's own date (+ 1 day) are reported in the notes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from abtest.io.checks import fail_where
from abtest.io.numbers import MISSING_PATTERN, to_text

__all__ = ["EARLIEST", "implausible_times", "parse_dates", "parse_timestamps"]

#: Nothing in a TikTok file predates this (TikTok for Business launched in 2020).
EARLIEST = pd.Timestamp("2016-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL = (20_000, 80_000)  # serials 1954 .. 2119
_SLASH = r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})"
_MONTH_ONLY = r"\d{4}[-/.]\d{1,2}|\d{1,2}[-/.]\d{4}|[A-Za-z]{3,9}\.?[ -]\d{4}"
#: Unix time units by magnitude (the value of an event between 1973 and 2286).
_UNITS = (("s", 1e8, 1e10), ("ms", 1e11, 1e13), ("us", 1e14, 1e16), ("ns", 1e17, 1e19))
_UNIT_NAME = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
              "excel": "Excel serial days", "yyyymmdd": "yyyymmdd dates"}


def _yyyymmdd(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.where(text.str.fullmatch(r"(?:19|20|21)\d{6}").fillna(False)),
                          format="%Y%m%d", errors="coerce")


def _excel(values: pd.Series) -> pd.Series:
    return _EXCEL_EPOCH + pd.to_timedelta(values.astype("float64"), unit="D")


def _slash_order(text: pd.Series, where: dict) -> str:
    """'%d/%m/%Y' or '%m/%d/%Y' from the column's own values, else DataError with both readings."""
    parts = text.str.extract(_SLASH)
    first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    if (first > 12).any() and (second > 12).any():
        fail_where(second > 12, "day-first and month-first dates mixed in one column",
                   expected="one date order", found=text, **where)
    if (first > 12).any():
        return "%d/%m/%Y"
    if (second > 12).any() or (first == second).all():
        return "%m/%d/%Y"
    # A daily report spans days within a month or two: the part that varies is the day.
    if first.nunique() == 1 and second.nunique() > 1:
        return "%m/%d/%Y"
    if second.nunique() == 1 and first.nunique() > 1:
        return "%d/%m/%Y"
    sample = text.dropna().iloc[0]
    a, b = pd.to_datetime(sample, format="%d/%m/%Y"), pd.to_datetime(sample, format="%m/%d/%Y")
    fail_where(text.notna(), f"ambiguous date order: {sample!r} reads as {a:%d %B %Y} (day first) "
               f"or {b:%d %B %Y} (month first), and no value decides", expected="ISO dates "
               "(2024-06-01) or a column with a day above 12", found=text, **where)
    return "%m/%d/%Y"


def parse_dates(
    text: pd.Series, *, file: str | Path | None, column: str | None, rows: pd.Series,
    row_kind: str = "row", notes: list[str] | None = None,
) -> pd.Series:
    """Report days -> naive ``datetime64[ns]``; see the module docstring for what is accepted."""
    where = {"file": file, "rows": rows, "row_kind": row_kind, "column": column}
    text = to_text(text)
    missing = text.isna() | text.str.fullmatch(MISSING_PATTERN, case=False).fillna(True)
    text = text.where(~missing)
    fail_where(text.str.fullmatch(_MONTH_ONLY).fillna(False), "a month, not a day (the report "
               "must be broken down by day)", expected="a date such as 2024-06-01", found=text,
               **where)
    out = pd.to_datetime(text.where(text.str.contains("-").fillna(False)), format="ISO8601",
                         errors="coerce", utc=False)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    out = out.fillna(_yyyymmdd(text))
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5}(?:\.\d+)?").fillna(False)),
                           errors="coerce")
    serial = serial.where((serial >= _EXCEL[0]) & (serial < _EXCEL[1]))
    if serial.notna().any():
        out = out.fillna(_excel(serial))
        if notes is not None:
            notes.append(f"{int(serial.notna().sum())} date(s) were Excel serial numbers "
                         "(days since 1899-12-30), converted")
    slash = out.isna() & text.str.fullmatch(_SLASH).fillna(False)
    if slash.any():
        slashed = text.where(slash).str.replace(".", "/", regex=False)
        fmt = _slash_order(slashed, {**where})
        out = out.fillna(pd.to_datetime(slashed, format=fmt, errors="coerce"))
    out = out.astype("datetime64[ns]")
    fail_where(out.isna() & ~missing, "not a date", expected="a date such as 2021-10-27",
               found=text, **where)
    fail_where(missing, "missing date", expected="a date such as 2021-10-27", found=text, **where)
    fail_where(out != out.dt.normalize(), "a time of day in a daily report (hourly rows are not "
               "supported)", expected="a whole day", found=text, **where)
    if notes is not None and file is not None:
        implausible_times(out, file=file, column=column, notes=notes)
    return out


def _units(values: pd.Series, text: pd.Series) -> pd.Series:
    """Per value: the unit its magnitude implies (NA when none does)."""
    unit = pd.Series(pd.NA, index=values.index, dtype="string")
    whole = text.str.fullmatch(r"\d+").fillna(False)
    unit = unit.mask(_yyyymmdd(text.where(whole)).notna(), "yyyymmdd")
    unit = unit.mask(unit.isna() & (values >= _EXCEL[0]) & (values < _EXCEL[1]), "excel")
    for name, lo, hi in _UNITS:
        unit = unit.mask(unit.isna() & (values >= lo) & (values < hi), name)
    return unit


def parse_timestamps(
    text: pd.Series, *, file: str | Path | None, column: str, rows: pd.Series,
    row_kind: str = "row", notes: list[str],
) -> pd.Series:
    """Event times -> ``datetime64[ns, UTC]``; one unit per column, or a DataError saying why."""
    where = {"file": file, "rows": rows, "row_kind": row_kind, "column": column}
    expected = "Unix seconds (Events API 2.0) or an ISO 8601 timestamp (1.0 / CSV)"
    fail_where(text.isna(), "missing event time", expected=expected, **where)
    numeric = text.str.fullmatch(r"\d+(?:\.\d+)?").fillna(False)
    values = pd.to_numeric(text.where(numeric), errors="coerce").astype("float64")
    unit = _units(values, text).where(numeric)
    fail_where(numeric & unit.isna(), "a number that is no time unit we know (not seconds, "
               "milliseconds, microseconds or nanoseconds since 1970, an Excel serial or "
               "yyyymmdd)", expected=expected, found=text, **where)
    kinds = unit.dropna().unique().tolist()
    if len(kinds) > 1:
        main = unit.value_counts().index[0]
        fail_where(unit.notna() & (unit != main), f"event times in more than one unit in one "
                   f"column ({', '.join(_UNIT_NAME[k] for k in sorted(kinds))}); most are "
                   f"{_UNIT_NAME[main]}", expected=f"{_UNIT_NAME[main]} like the other rows",
                   found=text, **where)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if kinds:
        kind = kinds[0]
        sel = numeric.to_numpy(dtype=bool)
        if kind == "yyyymmdd":
            conv = _yyyymmdd(text[sel]).dt.tz_localize("UTC")
        elif kind == "excel":
            conv = _excel(values[sel]).dt.tz_localize("UTC")
        elif text[sel].str.contains(".", regex=False).any():
            conv = pd.to_datetime(values[sel], unit=kind, utc=True)
        else:  # exact integer arithmetic: no float rounding of ns timestamps
            scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[kind]
            ints = text[sel].astype("int64") * scale
            conv = pd.to_datetime(ints, unit="ns", utc=True)
        out[sel] = conv.astype("datetime64[ns, UTC]")
        if kind != "s":
            notes.append(f"{int(sel.sum())} event time(s) in {_UNIT_NAME[kind]} (inferred from "
                         f"their size) converted")
        if kind in ("yyyymmdd", "excel"):
            notes.append("event times without a time zone read as UTC")
    naive = ~numeric & text.notna() & ~text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$",
                                                         regex=True).fillna(False)
    if naive.any():
        notes.append(f"{int(naive.sum())} timestamp(s) without a time zone read as UTC")
    iso = pd.to_datetime(text.where(~numeric), format="ISO8601", utc=True, errors="coerce")
    out = out.where(numeric, iso.astype("datetime64[ns, UTC]"))
    fail_where(out.isna(), "not a timestamp", found=text, expected=expected, **where)
    implausible_times(out.dt.tz_localize(None), file=file, column=column, notes=notes)
    return out


def implausible_times(
    times: pd.Series, *, file: str | Path | None, column: str | None, notes: list[str],
) -> None:
    """Note times before 2016 or after the file's own date + 1 day (clock, unit or zone trouble)."""
    early = times < EARLIEST
    if early.any():
        notes.append(f"{int(early.sum())} value(s) in column '{column}' before "
                     f"{EARLIEST:%Y-%m-%d} (earliest {times.min():%Y-%m-%d}): a unit or clock "
                     "problem?")
    written = None
    if file is not None and Path(str(file)).is_file():
        written = pd.Timestamp(Path(str(file)).stat().st_mtime, unit="s")
    if written is not None:
        late = times > written + pd.Timedelta(days=1)
        if late.any():
            notes.append(f"{int(late.sum())} value(s) in column '{column}' after the file was "
                         f"written ({written:%Y-%m-%d}; latest {times.max():%Y-%m-%d}): a unit "
                         "or clock problem?")

