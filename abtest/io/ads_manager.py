"""Ads Manager custom-report exports (CSV / XLSX) -> canonical ``ad_stats``.

The same builder (:func:`build_ad_stats`) also serves the Marketing API loader, so an export and
an API pull of the same data give identical tables. What it does, in order: map headers through
the one alias table, decide the file's decimal mark from its own cells, set aside blank rows and
totals rows (recognised by their shape: no date or ids, and sums that match the rows), drop
rate columns (recomputable; noted), parse IDs as strings (repairing Excel damage only when
lossless; e-mails or phones in an id column are hashed), dates, counts and money, take the
currency from the file (column, header or cells, which must agree), fall back to the finest name
as ``ad_id`` when there is no ad ID, then check the structural invariants. Every row read is
either kept or set aside with a reason in the :class:`~abtest.errors.ReadReport`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from abtest.errors import DataError, ReadReport, SetAside, mask_personal
from abtest.io._text import decode_text, read_csv_text, sniff_delimiter
from abtest.io.aliases import ALIASES, resolve_headers
from abtest.io.checks import check_ad_stats, fail_where
from abtest.io.hashing import hash_personal_ids
from abtest.io.numbers import (
    EMPTY_NAME,
    MISSING_PATTERN,
    cell_currency,
    currency_agrees,
    decimal_evidence,
    parse_ids,
    parse_numbers,
    to_text,
)
from abtest.io.times import parse_dates
from abtest.io.xlsx import read_xlsx
from abtest.schema import AD_STATS

__all__ = ["build_ad_stats", "parse_dates", "read_ads_manager"]

_ID_COLUMNS = ("campaign_id", "ad_group_id", "ad_id")
#: finest first: what ``ad_id`` falls back to when the export has no ad ID.
_FINEST = ("ad_id", "ad", "ad_group_id", "ad_group", "campaign_id", "campaign")
_DIMENSIONS = ("date", "campaign_id", "campaign", "ad_group_id", "ad_group", "ad_id", "ad")
_MONEY = ("cost", "conversion_value")
_REQUIRED = ("date", "impressions", "clicks", "cost")
_NAMES = ("campaign", "ad_group", "ad")
_TOTAL_LABEL = r"\s*(?:grand\s+)?(?:sub)?totals?\b.*"
#: counts a totals row must reproduce (sums of the rows) to be recognised as one.
_SUMMED = ("impressions", "clicks", "conversions")
_DATE_LIKE = r".*(?:\d{4}|\d{1,2}[/.\-]\d{1,2}).*"
_PERSONAL = r"[^@\s]+@[^@\s]+\.\w+|(?:\+|(?<!\d)00)\d[\d\s().\-]{6,}\d"


def _decimal_mark(text: pd.DataFrame, header_of: dict[str, str], hint: str | None, *,
                  rows: pd.Series, file: str | Path, row_kind: str,
                  notes: list[str]) -> Literal[".", ","] | None:
    """The file's decimal mark from its own number cells (all columns), else ``hint``."""
    numeric = [c for c in AD_STATS.names if c in text and c not in _DIMENSIONS and c != "currency"]
    evidence = {c: decimal_evidence(text[c]) for c in numeric}
    dot = {c: e[0] for c, e in evidence.items()}
    comma = {c: e[1] for c, e in evidence.items()}
    dot_col = next((c for c in numeric if dot[c].any()), None)
    comma_col = next((c for c in numeric if comma[c].any()), None)
    if dot_col and comma_col:
        example = text[dot_col][dot[dot_col].to_numpy()].iloc[0]
        fail_where(comma[comma_col], f"decimal marks disagree: {example!r} in column "
                   f"'{header_of[dot_col]}' has a decimal point, this cell a decimal comma",
                   file=file, rows=rows, row_kind=row_kind, column=header_of[comma_col],
                   expected="one decimal mark for the whole file", found=text[comma_col])
    if comma_col or dot_col:
        col = comma_col or dot_col
        mark = "," if comma_col else "."
        ev = (comma if comma_col else dot)[col]
        if mark != (hint or "."):
            notes.append(f"decimal mark: {'comma' if mark == ',' else 'point'} (from "
                         f"{text[col][ev.to_numpy()].iloc[0]!r} in column '{header_of[col]}')")
        return mark  # type: ignore[return-value]
    if hint == ",":
        notes.append("decimal mark: comma (the file is ';'-separated, as European exports are)")
    return hint  # type: ignore[return-value]


def _totals(text: pd.DataFrame, numbers: dict[str, pd.Series], blank: pd.Series,
            header_of: dict[str, str], *, rows: pd.Series, file: str | Path,
            row_kind: str) -> pd.Series:
    """Totals rows by shape: no date and no ids or names (one label at most), sums that match."""
    dims = [c for c in _DIMENSIONS if c in text]
    empty = pd.DataFrame({c: text[c].fillna("").str.fullmatch(EMPTY_NAME) for c in dims})
    filled = (~empty).sum(axis=1)
    date_like = text["date"].str.fullmatch(_DATE_LIKE).fillna(False)
    shape = ~blank & (filled <= 1) & ~date_like
    if not shape.any():
        return shape
    data = ~blank & ~shape
    summed = [c for c in _SUMMED if c in numbers]
    agree = pd.Series(True, index=text.index)
    checked = pd.Series(False, index=text.index)
    for col in summed:
        total = int(numbers[col][data].fillna(0).sum())
        value = numbers[col]
        agree &= value.isna() | (value == total)
        checked |= value.notna()
    agree = agree.fillna(False) & checked
    label = pd.DataFrame({c: text[c].fillna("").str.fullmatch(_TOTAL_LABEL, case=False)
                          for c in dims}).any(axis=1)
    first = summed[0] if summed else "impressions"
    fail_where(shape & label & ~agree, "a totals row whose sums do not match the rows (rows "
               "missing, or an export filtered after the totals were computed)",
               file=file, rows=rows, row_kind=row_kind, column=header_of.get(first),
               expected=f"{int(numbers[first][data].fillna(0).sum()) if summed else '?'} "
               "(the sum of the rows)", found=numbers[first] if summed else None)
    return shape & agree


def _currency(text: pd.DataFrame, header_of: dict[str, str],
              header_currency: str | None, currency: str | None, allow_mixed: bool,
              rep: ReadReport, kw: dict) -> pd.Series:
    """One currency per row, from the column, the header, the caller or the cells; all agree."""
    passed = currency.upper() if currency else None
    if "currency" in text:
        cur = text["currency"].str.upper().mask(text["currency"].str.fullmatch(MISSING_PATTERN,
                                                                              case=False)
                                                .fillna(True))
        fail_where(cur.notna() & ~cur.str.fullmatch(r"[A-Z]{3}").fillna(False),
                   "not a currency code", column=header_of["currency"],
                   expected="an ISO 4217 code such as USD or EUR", found=cur, **kw)
        if passed is not None:
            fail_where(cur.notna() & (cur != passed),
                       f"currency differs from the currency={currency!r} you passed",
                       column=header_of["currency"], expected=passed, found=cur, **kw)
        if header_currency is not None:
            fail_where(cur.notna() & (cur != header_currency),
                       f"currency differs from the header's {header_currency}",
                       column=header_of["currency"], expected=header_currency, found=cur, **kw)
        cur = cur.fillna(header_currency or passed or pd.NA)
    else:
        if header_currency and passed and header_currency != passed:
            raise DataError(f"the header says {header_currency} but currency={currency!r} was "
                            "passed", file=kw["file"], column=header_of["cost"],
                            expected=passed, found=header_currency)
        stated = header_currency or passed
        cur = pd.Series(stated, index=text.index, dtype="string")
    for col in ("cost", "conversion_value"):
        if col not in text:
            continue
        cells = cell_currency(text[col])
        symbols = cells.dropna()
        if symbols.nunique() > 1 and not allow_mixed:
            fail_where(cells.notna() & (cells != symbols.iloc[0]),
                       "more than one currency symbol in the cost column"
                       if col == "cost" else "more than one currency in the value column",
                       column=header_of[col], expected=f"{symbols.iloc[0]} like the rows before",
                       found=text[col], **kw)
        clash = ~currency_agrees(cells, cur)
        if clash.any():
            fail_where(clash, f"the amount says {cells[clash].iloc[0]} but the file's currency is "
                       f"{cur[clash].iloc[0]}", column=header_of[col],
                       expected=f"an amount in {cur[clash].iloc[0]}", found=text[col], **kw)
        if cur.isna().all() and symbols.size:
            named = symbols.iloc[0]
            if len(named) == 3:
                cur = cur.fillna(named)
                rep.notes.append(f"currency {named} taken from the amounts in '{header_of[col]}'")
    if cur.isna().all():
        rep.notes.append("no currency in the file: pass currency='USD' (etc.) to record it")
    return cur.astype("string")


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
    decimal: Literal[".", ","] | None = None,
) -> tuple[pd.DataFrame, ReadReport]:
    """Text frame with original headers -> (canonical ad_stats, report).

    ``rows``: user-visible row numbers. ``decimal``: the format's own decimal mark when it has one
    (API JSON, XLSX numbers: ``.``; a ``;``-separated CSV: ``,``), used only when no cell decides.
    """
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

    cells = [to_text(raw[c]) for c in raw.columns]
    position = {str(c): i for i, c in enumerate(raw.columns)}
    text = pd.DataFrame({canon: cells[position[hdr]] for hdr, canon in mapping.items()})
    all_text = pd.DataFrame(dict(enumerate(cells)))
    blank = all_text.isna().all(axis=1) | all_text.fillna("").eq("").all(axis=1)
    kw_all = {"file": file, "rows": rows, "row_kind": row_kind}
    mark = _decimal_mark(text[~blank], header_of, decimal, rows=rows[~blank], file=file,
                         row_kind=row_kind, notes=rep.notes)
    numbers: dict[str, pd.Series] = {}
    for col in AD_STATS.names:
        if col in text and col not in _DIMENSIONS and col != "currency":
            kind = "money" if col in _MONEY else "count"
            numbers[col] = parse_numbers(text[col].where(~blank), kind=kind, text_ready=True,
                                         column=header_of[col], decimal=mark, **kw_all)
    total = _totals(text, numbers, blank, header_of, **kw_all)
    keep = ~(blank | total)
    if blank.any():
        rep.set_aside.append(SetAside(tuple(rows[blank].tolist()), "blank row"))
    if total.any():
        rep.set_aside.append(SetAside(tuple(rows[total].tolist()),
                                      "totals row (no date or ids, and its counts are the sums "
                                      "of the rows: a sum over the report, not data)"))
    text, rows = text[keep].reset_index(drop=True), rows[keep].reset_index(drop=True)
    if len(text) == 0:
        raise DataError("no data rows (only a header and totals/blank rows)", file=file,
                        expected="at least one data row")

    kw = {"file": file, "rows": rows, "row_kind": row_kind}
    out = pd.DataFrame(index=text.index)
    out["date"] = parse_dates(text["date"], column=header_of["date"], notes=rep.notes, **kw)
    for col in _DIMENSIONS[1:]:
        if col not in text:
            continue
        if col in _ID_COLUMNS:
            # from the raw cells: "1723765002384534504.0" must reach the ID parser as written
            raw_ids = to_text(raw[header_of[col]], whole_floats=False)[keep].reset_index(drop=True)
            ids, _ = hash_personal_ids(raw_ids, column=header_of[col], notes=rep.notes)
            out[col] = parse_ids(ids, column=header_of[col], **kw)
        else:
            names = text[col].mask(text[col].str.fullmatch(EMPTY_NAME).fillna(True))
            personal = names.str.contains(_PERSONAL, regex=True).fillna(False)
            if personal.any():
                names = names.where(~personal, names[personal].map(mask_personal))
                rep.notes.append(f"{int(personal.sum())} name(s) in '{header_of[col]}' held an "
                                 "e-mail or phone number: masked")
            out[col] = names
    for col, values in numbers.items():
        out[col] = values[keep].reset_index(drop=True)
    out["currency"] = _currency(text, header_of, header_currency, currency,
                                allow_mixed_currency, rep, kw)

    if "ad_id" not in out:
        source = next(c for c in _FINEST if c in out)
        out["ad_id"] = out[source]
        rep.notes.append(f"no ad ID column: ad_id filled from {header_of[source]!r} "
                         f"(the finest level in the file)")
    frame = AD_STATS.conform(out)[AD_STATS.names]
    check_ad_stats(frame, allow_mixed_currency=allow_mixed_currency, labels=header_of, **kw)
    rep.rows_kept = len(frame)
    rep.check_balance()
    rep.mask_notes()
    return frame, rep


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
        raw, fmt, mark = read_xlsx(path, sheet), "ads_manager_xlsx", "."
    elif suffix in (".csv", ".tsv", ".txt"):
        text = decode_text(path)
        raw, fmt = read_csv_text(text, path), "ads_manager_csv"
        mark = "," if sniff_delimiter(text) == ";" else None
    else:
        raise DataError(f"unsupported file type {suffix!r}", file=path,
                        expected="an Ads Manager export saved as .csv or .xlsx")
    rows = pd.Series(range(2, len(raw) + 2))
    frame, rep = build_ad_stats(raw, rows=rows, file=path, fmt=fmt, currency=currency,
                                allow_mixed_currency=allow_mixed_currency, decimal=mark)
    return (frame, rep) if report else frame
