"""Vectorised parsing of the numbers TikTok files actually contain.

Exports and API pages carry numbers as text: ``"4696"``, ``"1,234"``, ``"20.000"``, ``"$20.00"``,
``"€ 1.234,00"`` is *not* accepted (ambiguous decimal comma), ``"1.09%"``, and markers for
"no number": ``"-"`` (not applicable), ``"N/A"``, ``"<5"`` (a small count TikTok hides). Markers
become missing (``NA``), never zero: a hidden count is unknown, and treating it as 0 would bias
every rate computed from it. Anything else that is not a number is an error naming the row.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from abtest.errors import DataError

__all__ = [
    "EMPTY_NAME",
    "MISSING_PATTERN",
    "cell_currency",
    "currency_agrees",
    "decimal_evidence",
    "parse_ids",
    "parse_numbers",
    "to_text",
]

#: Cells that mean "no number here" (case-insensitive, whole cell). ``NaN`` is not among them:
#: it is what a broken formula or script writes, and is refused as "not a finite number".
MISSING_PATTERN = r"^(?:|-|--|—|n/?a|na|null|none|<\s*\d+)$"
#: Cells that mean "no name": a campaign may well be called "none" or "null".
EMPTY_NAME = r"^(?:|-|--|—)$"
_SYMBOLS = r"[$€£¥₩₹₫฿\u00a0\u202f ]"
_CODE = r"(?:^[A-Z]{3}\s*|\s*[A-Z]{3}$)"
_FLOAT_SAFE = 2**53

#: Symbol -> the ISO 4217 codes it can stand for (``$`` is many dollars and pesos).
SYMBOL_CURRENCIES: dict[str, frozenset[str]] = {
    "€": frozenset({"EUR"}), "£": frozenset({"GBP"}), "₩": frozenset({"KRW"}),
    "₹": frozenset({"INR"}), "₫": frozenset({"VND"}), "฿": frozenset({"THB"}),
    "¥": frozenset({"JPY", "CNY"}),
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD", "CLP", "COP", "ARS"}),
}


def _digit_table() -> dict[int, str]:
    """Every Unicode decimal digit (Arabic-Indic, full-width, Devanagari, ...) -> ASCII."""
    table = {cp: str(unicodedata.decimal(chr(cp))) for cp in range(0x660, min(sys.maxunicode, 0x1FBFA))
             if unicodedata.category(chr(cp)) == "Nd"}
    # Arabic decimal / thousands separators and percent, full-width punctuation, minus sign.
    table.update({0x066B: ".", 0x066C: ",", 0x066A: "%", 0xFF0E: ".", 0xFF0C: ",", 0xFF05: "%",
                  0x2212: "-", 0xFF0D: "-", 0xFF04: "$", 0xFFE5: "¥", 0xFFE1: "£"})
    return table


_DIGITS = _digit_table()


def to_text(series: pd.Series, *, whole_floats: bool = True) -> pd.Series:
    """Cells as trimmed strings (NA stays NA); floats that are whole numbers lose their ``.0``.

    XLSX cells arrive as Python ints/floats/datetimes; CSV cells as text. Normalising both to text
    first lets one vectorised parser serve every format. Non-ASCII digits (Arabic-Indic ``١٢``,
    full-width ``１２``) become ASCII here, so they parse instead of reading as missing.
    ``whole_floats=False`` keeps ``.0`` (IDs: the ID parser decides whether dropping it is safe).
    """
    out = series.astype("string").str.strip().str.replace("\ufeff", "", regex=False)
    if out.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).any():
        out = out.str.translate(_DIGITS)
    if not whole_floats:
        return out
    # Excel's whole floats ("4696.0") are plain integers for us.
    return out.str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)


def _first_bad(mask: pd.Series, rows: pd.Series | None) -> tuple[int | None, int]:
    bad = mask.to_numpy(dtype=bool, na_value=False)
    n = int(bad.sum())
    if n == 0:
        return None, 0
    pos = int(np.flatnonzero(bad)[0])
    return (int(rows.iloc[pos]) if rows is not None else pos + 2), n


def _refuse(mask: pd.Series, message: str, *, text: pd.Series, expected: str, **where: object) -> None:
    rows = where.pop("rows")
    row, n = _first_bad(mask, rows)  # type: ignore[arg-type]
    if row is not None:
        found = text[mask.to_numpy(dtype=bool, na_value=False)].iloc[0]
        raise DataError(message + (f" ({n} such cells)" if n > 1 else ""), row=row,
                        expected=expected, found=found, **where)  # type: ignore[arg-type]


_STRIP = (r"[$€£¥₩₹₫฿\u00a0\u202f ]|%$|^[A-Z]{3}\s*|\s*[A-Z]{3}$")


def _body(text: pd.Series) -> pd.Series:
    """Number text without currency, percent, sign or accounting brackets (for evidence)."""
    clean = text.str.replace(_STRIP, "", regex=True)
    return clean.str.replace(r"^[+-]?\(?|\)$", "", regex=True)


_DOT_DECIMAL = (r"\d*\.\d{1,2}|\d*\.\d{4,}|\d{1,3}(?:,\d{3})+\.\d+|\d{4,}\.\d+|"
                r"\d{1,3}(?:,\d{3}){2,}|\d+(?:\.\d+)?[eE][+-]?\d+")
_COMMA_DECIMAL = (r"\d*,\d{1,2}|\d*,\d{4,}|\d{1,3}(?:\.\d{3})+,\d+|\d{4,},\d+|"
                  r"\d{1,3}(?:\.\d{3}){2,}")
_AMBIGUOUS = r"\d{1,3}[.,]\d{3}"


def decimal_evidence(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Cells that can only be read with a decimal point, and those only with a decimal comma.

    ``12.50``, ``1,234.56``, ``1,234,567`` prove a decimal point; ``12,5``, ``1.234,56``,
    ``1.234.567`` a decimal comma. ``15.850`` and ``1,234`` prove nothing (either reading works).
    """
    text = series if series.dtype == "string" else to_text(series)
    marked = text.str.contains(r"[.,]", regex=True).fillna(False).astype(bool)
    none = pd.Series(False, index=series.index)
    if not marked.any():  # plain integers prove nothing: skip the pattern work
        return none, none.copy()
    body = _body(text.where(marked))
    dot = body.str.fullmatch(_DOT_DECIMAL).fillna(False).astype(bool)
    comma = body.str.fullmatch(_COMMA_DECIMAL).fillna(False).astype(bool)
    return dot, comma


def cell_currency(series: pd.Series) -> pd.Series:
    """The currency a money cell states itself: an ISO code (``EUR 12``) or a symbol (``€12``)."""
    text = to_text(series)
    code = text.str.extract(r"(?:^([A-Z]{3})\s*[\d(+-]|[\d)]\s*([A-Z]{3})$)")
    symbol = text.str.extract(r"([$€£¥₩₹₫฿])")[0]
    return code[0].fillna(code[1]).fillna(symbol).astype("string")


def currency_agrees(stated: pd.Series, currency: pd.Series) -> pd.Series:
    """True where a cell's own currency (code or symbol) can be the row's currency code."""
    pairs = pd.DataFrame({"s": stated.astype("string"), "c": currency.astype("string")})
    ok = [s == c or c in SYMBOL_CURRENCIES.get(s, ()) for s, c in
          zip(pairs["s"].fillna("").tolist(), pairs["c"].fillna("").tolist(), strict=True)]
    return pd.Series(ok, index=stated.index) | pairs["s"].isna() | pairs["c"].isna()


def parse_numbers(
    series: pd.Series,
    *,
    kind: Literal["count", "money", "rate"] = "count",
    file: str | Path | None = None,
    column: str | None = None,
    rows: pd.Series | None = None,
    row_kind: str = "row",
    decimal: Literal[".", ","] | None = None,
    text_ready: bool = False,
) -> pd.Series:
    """Parse a column of number-like text into ``Int64`` (counts) or ``Float64`` (money, rates).

    ``decimal`` is the file's decimal mark when the caller has decided it from the file's own
    evidence (see :func:`decimal_evidence`); otherwise the column decides, and a cell such as
    ``15.850`` that reads two ways is refused with both readings (``1,234`` reads as 1234: the
    en-US grouping TikTok's exports use). ``rows`` gives the row number the user sees for each
    element. Rates keep their percent value (``"1.09%"`` -> 1.09), as TikTok's API does; a ``%``
    in a count column is refused. Counts are range-checked before the integer cast and
    money must be finite. ``text_ready``: ``series`` already went through :func:`to_text`.
    """
    where = {"file": file, "column": column, "rows": rows, "row_kind": row_kind}
    text = series if text_ready else to_text(series)
    missing = text.isna() | text.str.fullmatch(MISSING_PATTERN, case=False).fillna(True)
    clean = text.where(~missing)
    nonfinite = clean.str.fullmatch(r"[+-]?(?:inf(?:inity)?|nan)", case=False).fillna(False)
    _refuse(nonfinite, "not a finite number", text=text, **where,
            expected="a number (NaN and infinity are what a broken formula writes)")
    if kind == "count":
        _refuse(clean.str.contains("%", regex=False).fillna(False),
                "a percentage in a count column", text=text, **where,
                expected="a whole number without %")
    negative = clean.str.fullmatch(r"\(.*\)|[+-]?\(.*\)|-.*").fillna(False)
    body = _body(clean)
    if decimal is None:
        dot, comma = decimal_evidence(clean)
        if dot.any() and comma.any():
            first_dot = text[dot.to_numpy()].iloc[0]
            _refuse(comma, f"decimal marks disagree within the column ({first_dot!r} has a "
                    "decimal point, this cell a decimal comma)", text=text, **where,
                    expected="one decimal mark for the whole column")
        decimal = "," if comma.any() else "." if dot.any() else None
    if decimal is None:
        ambiguous = body.str.fullmatch(r"\d{1,3}\.\d{3}").fillna(False)
        if ambiguous.any():
            first = body[ambiguous.to_numpy()].iloc[0]
            reading = float(first)
            _refuse(ambiguous, f"ambiguous number: {first!r} reads as {first.replace('.', '')} "
                    f"(dot as thousands separator) or as {reading:g} (decimal point), and "
                    "nothing else in the file decides", text=text, **where,
                    expected="a number with a clear decimal mark, or pass decimal='.' or ','")
        decimal = "."
    if decimal == ".":
        valid = r"(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?"
        digits = body.str.replace(",", "", regex=False)
    else:
        valid = r"(?:\d{1,3}(?:\.\d{3})+|\d+)?(?:,\d+)?"
        digits = body.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    ok = body.str.fullmatch(valid).fillna(False) & body.str.contains(r"\d", regex=True).fillna(False)
    mark = "decimal point" if decimal == "." else "decimal comma"
    _refuse(~missing & ~ok, "not a number", text=text, **where,
            expected=f"a number such as 1234, 1,234, 20.00, $20.00 or 1.09% ({mark} in this "
            "file; -, N/A, <5 for missing)")
    if kind == "count":
        too_long = digits.str.replace(r"\.0*$", "", regex=True).str.len() > 15
        big = too_long.fillna(False) & ~missing
        _refuse(big, "a count too large to be real (over 15 digits; a column shifted or an id "
                "in a count column?)", text=text, **where, expected="a count below 10^15")
    values = pd.to_numeric(digits, errors="coerce")
    values = pd.Series(values, index=series.index, dtype="Float64")
    values = values.mask(negative.to_numpy(dtype=bool) & (values > 0), -values)
    _refuse(~missing & ~np.isfinite(values.fillna(0).to_numpy(dtype=float)), "not a finite number",
            text=text, **where, expected="a number of sensible size")
    if kind != "count":
        return values
    frac = ((values - values.round()).abs() > 1e-9).fillna(False)
    _refuse(frac, "a count must be a whole number", text=text, **where, expected="a whole number")
    return values.round().astype("Int64")


_SCI = r"^(?P<int>\d)(?:\.(?P<frac>\d+))?[eE]\+?(?P<exp>\d+)$"

def parse_ids(
    series: pd.Series,
    *,
    file: str | Path | None = None,
    column: str | None = None,
    rows: pd.Series | None = None,
    row_kind: str = "row",
) -> pd.Series:
    """IDs as strings, repairing what Excel did to them only when the repair is provably lossless.

    * ``"1714125049901106.0"`` -> ``"1714125049901106"`` when the number is below 2**53 (every
      integer there survives float64); above it, digits may already be lost -> DataError.
    * ``"1.714125049901106E+15"`` -> ``"1714125049901106"`` only when the mantissa spells every
      digit (16 digits for E+15). ``"1.71412504990111E+15"`` (Excel's 15-digit display) hides the
      last digit -> DataError: re-export with the ID column formatted as text.
    """
    text = series.astype("string").str.strip().str.replace("\ufeff", "", regex=False)
    text = text.mask(text.str.fullmatch(MISSING_PATTERN, case=False).fillna(True))
    # Whole floats.
    fl = text.str.extract(r"^(?P<int>\d+)\.0+$")["int"]
    big = fl.notna() & (pd.to_numeric(fl, errors="coerce") >= _FLOAT_SAFE)
    # Scientific notation.
    sci = text.str.extract(_SCI)
    digits = sci["int"].fillna("") + sci["frac"].fillna("")
    exp = pd.to_numeric(sci["exp"], errors="coerce")
    is_sci = sci["int"].notna()
    lossy_sci = is_sci & (digits.str.len() != exp + 1)
    bad = (big | lossy_sci).fillna(False)
    row, n = _first_bad(bad, rows)
    if row is not None:
        raise DataError(
            f"ID damaged by a spreadsheet (float or scientific notation){f', {n} such cells' if n > 1 else ''}"
            "; digits may be lost, so it cannot be repaired. Re-export with IDs formatted as text",
            file=file, row=row, column=column, row_kind=row_kind,
            expected="an ID written out in full as text", found=text[bad.to_numpy(dtype=bool)].iloc[0],
        )
    out = text.where(~fl.notna(), fl)
    out = out.where(~(is_sci & ~lossy_sci).fillna(False), digits)
    return out.astype("string")
