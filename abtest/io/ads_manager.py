"""Ads Manager custom-report exports (CSV / XLSX) -> canonical ``ad_stats``.

The same builder (:func:`build_ad_stats`) also serves the Marketing API loader, so an export and
an API pull of the same data give identical tables. What it does, in order: map headers through
the one alias table, set aside blank rows and TikTok's trailing "Total of N results" row, drop
rate columns (recomputable; noted), parse IDs as strings (repairing Excel damage only when
lossless), dates, counts and money, fill the currency, fall back to the finest name as ``ad_id``
when there is no ad ID, then check the structural invariants. Every row read is either kept or
set aside with a reason in the :class:`~abtest.io.errors.ReadReport`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from abtest.errors import DataError, ReadReport, SetAside
from abtest.io._text import decode_text, read_csv_text
from abtest.io.aliases import ALIASES, resolve_headers
from abtest.io.checks import check_ad_stats, fail_where
from abtest.io.numbers import MISSING_PATTERN, parse_ids, parse_numbers, to_text
from abtest.schema import AD_STATS

__all__ = ["build_ad_stats", "parse_dates", "read_ads_manager"]

_ID_COLUMNS = ("campaign_id", "ad_group_id", "ad_id")
#: finest first: what ``ad_id`` falls back to when the export has no ad ID.
_FINEST = ("ad_id", "ad", "ad_group_id", "ad_group", "campaign_id", "campaign")
_DIMENSIONS = ("date", "campaign_id", "campaign", "ad_group_id", "ad_group", "ad_id", "ad")
_MONEY = ("cost", "conversion_value")
_REQUIRED = ("date", "impressions", "clicks", "cost")
_TOTAL = r"^\s*(?:grand\s+)?totals?\b.*$"
_SYMBOL = r"([$€£¥₩₹₫฿])"


def parse_dates(
    text: pd.Series, *, file: str | Path | None, column: str | None, rows: pd.Series,
    row_kind: str = "row",
) -> pd.Series:
    """Report days: ISO (``2021-10-27``, ``2021-10-27 00:00:00``) or ``10/27/2021`` -> naive ns."""
    text = to_text(text)
    missing = text.isna() | text.str.fullmatch(MISSING_PATTERN, case=False).fillna(True)
    out = pd.to_datetime(text.where(~missing), format="ISO8601", errors="coerce")
    slash = out.isna() & text.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").fillna(False)
    if slash.any():
        first = pd.to_numeric(text[slash].str.extract(r"^(\d+)/")[0])
        fmt = "%d/%m/%Y" if (first > 12).any() else "%m/%d/%Y"
        out = out.where(~slash, pd.to_datetime(text.where(slash), format=fmt, errors="coerce"))
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    fail_where(out.isna() & ~missing, "not a date", file=file, rows=rows, row_kind=row_kind,
               column=column, expected="a date such as 2021-10-27", found=text)
    fail_where(missing, "missing date", file=file, rows=rows, row_kind=row_kind, column=column,
               expected="a date such as 2021-10-27", found=text)
    fail_where(out != out.dt.normalize(), "a time of day in a daily report (hourly rows are not "
               "supported)", file=file, rows=rows, row_kind=row_kind, column=column,
               expected="a whole day", found=text)
    return out.astype("datetime64[ns]")


def build_ad_stats(
    raw: pd.DataFrame,
    *,
    rows: pd.Series,
    file: str | Path,
    fmt: str,
    currency: str | None = None,
    allow_mixed_currency: bool = False,
    row_kind: str = "row",
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, ReadReport]:
    """Text frame with original headers -> (canonical ad_stats, report). ``rows``: user-visible numbers."""
    rep = ReadReport(file=str(file), format=fmt, rows_read=len(raw), notes=list(notes or []))
    rows = pd.Series(rows, dtype="int64").reset_index(drop=True)
    raw = raw.reset_index(drop=True)
    if len(raw) == 0:
        raise DataError("no data rows (only a header)", file=file, expected="at least one data row")
    mapping, rates, unknown, header_currency = resolve_headers(raw.columns)
    header_of = {canon: hdr for hdr, canon in mapping.items()}
    missing = [c for c in _REQUIRED if c not in header_of]
    if not any(c in header_of for c in _FINEST):
        missing.append("ad_id")
    if missing:
        col = missing[0]
        raise DataError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)}",
            file=file, column=col, expected=f"a header such as {', '.join(ALIASES[col][:3])}",
            found=list(map(str, raw.columns)),
        )
    if rates:
        rep.notes.append(f"rate columns dropped (recomputed from counts): {', '.join(rates)}")
    if unknown:
        rep.notes.append(f"columns not used: {', '.join(unknown)}")

    text = pd.DataFrame({canon: to_text(raw[hdr]) for hdr, canon in mapping.items()})
    all_text = pd.DataFrame({i: to_text(raw[c]) for i, c in enumerate(raw.columns)})
    blank = all_text.isna().all(axis=1) | all_text.fillna("").eq("").all(axis=1)
    dims = [c for c in _DIMENSIONS if c in text] + [0]
    probe = pd.concat([text[[c for c in dims if c != 0]], all_text[[0]]], axis=1)
    total = probe.apply(lambda s: s.str.fullmatch(_TOTAL, case=False)).fillna(False).any(axis=1)
    total &= ~blank
    keep = ~(blank | total)
    if blank.any():
        rep.set_aside.append(SetAside(tuple(rows[blank].tolist()), "blank row"))
    if total.any():
        rep.set_aside.append(SetAside(tuple(rows[total].tolist()),
                                      "totals row (a sum over the report, not data)"))
    text, rows = text[keep].reset_index(drop=True), rows[keep].reset_index(drop=True)
    if len(text) == 0:
        raise DataError("no data rows (only a header and totals/blank rows)", file=file,
                        expected="at least one data row")

    kw = {"file": file, "rows": rows, "row_kind": row_kind}
    out = pd.DataFrame(index=text.index)
    out["date"] = parse_dates(text["date"], column=header_of["date"], **kw)
    for col in _DIMENSIONS[1:]:
        if col not in text:
            continue
        if col in _ID_COLUMNS:
            out[col] = parse_ids(text[col], column=header_of[col], **kw)
        else:
            out[col] = text[col].mask(text[col].str.fullmatch(MISSING_PATTERN).fillna(True))
    for col in AD_STATS.names:
        if col in text and col not in out and col != "currency":
            kind = "money" if col in _MONEY else "count"
            out[col] = parse_numbers(text[col], kind=kind, column=header_of[col], **kw)

    # Currency: column, else "Cost (USD)" header, else the caller's; symbols must agree.
    if "currency" in text:
        cur = text["currency"].str.upper().mask(text["currency"].str.fullmatch(MISSING_PATTERN)
                                                .fillna(True))
        if currency is not None:
            fail_where(cur.notna() & (cur != currency.upper()),
                       f"currency differs from the currency={currency!r} you passed",
                       column=header_of["currency"], expected=currency.upper(), found=cur, **kw)
        out["currency"] = cur.fillna(currency.upper() if currency else pd.NA)
    else:
        stated = header_currency or (currency.upper() if currency else None)
        if header_currency and currency and header_currency != currency.upper():
            raise DataError(f"the header says {header_currency} but currency={currency!r} was "
                            "passed", file=file, column=header_of["cost"],
                            expected=currency.upper(), found=header_currency)
        out["currency"] = pd.Series(stated, index=text.index, dtype="string")
        if stated is None:
            rep.notes.append("no currency in the file: pass currency='USD' (etc.) to record it")
    symbols = text["cost"].str.extract(_SYMBOL)[0]
    if symbols.dropna().nunique() > 1 and not allow_mixed_currency:
        fail_where(symbols.notna() & (symbols != symbols.dropna().iloc[0]),
                   "more than one currency symbol in the cost column", column=header_of["cost"],
                   expected=f"{symbols.dropna().iloc[0]} like the rows before", found=text["cost"],
                   **kw)

    if "ad_id" not in out:
        source = next(c for c in _FINEST if c in out)
        out["ad_id"] = out[source]
        rep.notes.append(f"no ad ID column: ad_id filled from {header_of[source]!r} "
                         f"(the finest level in the file)")
    frame = AD_STATS.conform(out)[AD_STATS.names]
    check_ad_stats(frame, allow_mixed_currency=allow_mixed_currency, labels=header_of, **kw)
    rep.rows_kept = len(frame)
    rep.check_balance()
    return frame, rep


def _read_xlsx(path: Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except (zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise DataError(f"not a readable XLSX workbook ({exc})", file=path,
                        expected="an .xlsx file saved by Excel or TikTok Ads Manager") from None
    with book:  # close the workbook's file handle whatever happens
        name = book.sheet_names[0] if sheet is None else sheet
        if isinstance(name, int):
            if not 0 <= name < len(book.sheet_names):
                raise DataError(f"no sheet number {name}", file=path,
                                expected=f"one of {book.sheet_names}")
            name = book.sheet_names[name]
        if name not in book.sheet_names:
            raise DataError(f"no sheet named {name!r}", file=path,
                            expected=f"one of {book.sheet_names}")
        try:
            raw = pd.read_excel(book, sheet_name=name, dtype=object, header=0)
        except ValueError as exc:
            raise DataError(f"cannot read sheet {name!r}: {exc}", file=path) from None
    if raw.columns.size == 0:
        raise DataError(f"sheet {name!r} is empty", file=path, expected="a header row and data rows")
    return pd.DataFrame({c: _xlsx_text(raw[c]) for c in raw.columns})


def _xlsx_text(col: pd.Series) -> pd.Series:
    """Cell values -> text. Excel stores every number as a double: a numeric cell at or above
    2**53 may have lost digits even when it reads back as an int, so it is written in scientific
    notation with all 17 significant digits, which the ID parser then refuses as damaged."""
    text = to_text(col)
    if pd.api.types.infer_dtype(col, skipna=True) in ("integer", "floating", "mixed-integer-float"):
        num = pd.to_numeric(col, errors="coerce").astype("float64")
        big = (num.abs() >= 2**53).to_numpy()
        if big.any():
            text = text.mask(big, pd.Series(num[big].map("{:.16e}".format), index=num.index[big]))
    return text


def read_ads_manager(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    currency: str | None = None,
    allow_mixed_currency: bool = False,
    report: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, ReadReport]:
    """Read a TikTok Ads Manager custom report (CSV or XLSX) into canonical ``ad_stats``.

    ``currency`` states the account currency when the file does not (it must agree when it does).
    With ``report=True`` returns ``(frame, ReadReport)``. Row numbers in errors are spreadsheet
    rows (header = row 1).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        raw, fmt = _read_xlsx(path, sheet), "ads_manager_xlsx"
    elif suffix in (".csv", ".tsv", ".txt"):
        raw, fmt = read_csv_text(decode_text(path), path), "ads_manager_csv"
    else:
        raise DataError(f"unsupported file type {suffix!r}", file=path,
                        expected="an Ads Manager export saved as .csv or .xlsx")
    rows = pd.Series(range(2, len(raw) + 2))
    frame, rep = build_ad_stats(raw, rows=rows, file=path, fmt=fmt, currency=currency,
                                allow_mixed_currency=allow_mixed_currency)
    return (frame, rep) if report else frame
