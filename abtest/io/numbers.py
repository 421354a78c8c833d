"""Vectorised parsing of the numbers TikTok files actually contain.

Exports and API pages carry numbers as text: ``"4696"``, ``"1,234"``, ``"20.000"``, ``"$20.00"``,
``"€ 1.234,00"`` is *not* accepted (ambiguous decimal comma), ``"1.09%"``, and markers for
"no number": ``"-"`` (not applicable), ``"N/A"``, ``"<5"`` (a small count TikTok hides). Markers
become missing (``NA``), never zero: a hidden count is unknown, and treating it as 0 would bias
every rate computed from it. Anything else that is not a number is an error naming the row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from abtest.errors import DataError

__all__ = ["MISSING_PATTERN", "parse_ids", "parse_numbers", "to_text"]

#: Cells that mean "no number here" (case-insensitive, whole cell).
MISSING_PATTERN = r"^(?:|-|--|—|n/?a|na|nan|null|none|<\s*\d+)$"
_SYMBOLS = r"[$€£¥₩₹₫฿\u00a0\u202f ]"
_CODE = r"(?:^[A-Z]{3}\s*|\s*[A-Z]{3}$)"
_NUMBER = r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?$"


def to_text(series: pd.Series) -> pd.Series:
    """Cells as trimmed strings (NA stays NA); floats that are whole numbers lose their ``.0``.

    XLSX cells arrive as Python ints/floats/datetimes; CSV cells as text. Normalising both to text
    first lets one vectorised parser serve every format.
    """
    out = series.astype("string").str.strip().str.replace("\ufeff", "", regex=False)
    # Excel's whole floats ("4696.0") are plain integers for us.
    return out.str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)


def _first_bad(mask: pd.Series, rows: pd.Series | None) -> tuple[int | None, int]:
    bad = mask.to_numpy(dtype=bool, na_value=False)
    n = int(bad.sum())
    if n == 0:
        return None, 0
    pos = int(np.flatnonzero(bad)[0])
    return (int(rows.iloc[pos]) if rows is not None else pos + 2), n


def parse_numbers(
    series: pd.Series,
    *,
    kind: Literal["count", "money", "rate"] = "count",
    file: str | Path | None = None,
    column: str | None = None,
    rows: pd.Series | None = None,
    row_kind: str = "row",
) -> pd.Series:
    """Parse a column of number-like text into ``Int64`` (counts) or ``Float64`` (money, rates).

    ``rows`` gives the row number the user sees for each element (for error messages). Rates keep
    their percent value (``"1.09%"`` -> 1.09), as TikTok's API does. Raises :class:`DataError` on
    the first cell that is not a number, a missing marker, or (for counts) not a whole number.
    """
    text = to_text(series)
    missing = text.isna() | text.str.fullmatch(MISSING_PATTERN, case=False).fillna(True)
    clean = text.where(~missing)
    clean = clean.str.replace(_SYMBOLS, "", regex=True).str.replace(r"%$", "", regex=True)
    clean = clean.str.replace(_CODE, "", regex=True)
    # Accounting negatives: "(12.00)" -> "-12.00".
    clean = clean.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    ok = clean.str.fullmatch(_NUMBER) & clean.str.contains(r"\d", regex=True)
    bad_mask = ~missing & ~ok.fillna(False)
    row, n = _first_bad(bad_mask, rows)
    if row is not None:
        found = text[bad_mask.to_numpy(dtype=bool)].iloc[0]
        raise DataError(
            f"not a number{f' ({n} such cells)' if n > 1 else ''}",
            file=file, row=row, column=column, row_kind=row_kind,
            expected="a number such as 1234, 1,234, 20.00, $20.00 or 1.09% "
            "(or -, N/A, <5 for missing)",
            found=found,
        )
    values = pd.to_numeric(clean.str.replace(",", "", regex=False), errors="coerce")
    values = pd.Series(values, index=series.index, dtype="Float64")
    if kind != "count":
        return values
    frac = (values - values.round()).abs() > 1e-9
    row, n = _first_bad(frac.fillna(False), rows)
    if row is not None:
        raise DataError(
            "a count must be a whole number",
            file=file, row=row, column=column, row_kind=row_kind,
            expected="a whole number", found=text[frac.fillna(False).to_numpy(dtype=bool)].iloc[0],
        )
    return values.round().astype("Int64")


_SCI = r"^(?P<int>\d)(?:\.(?P<frac>\d+))?[eE]\+?(?P<exp>\d+)$"
_FLOAT_SAFE = 2**53


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
