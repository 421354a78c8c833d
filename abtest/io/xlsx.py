"""XLSX workbooks -> frames of text cells, refusing what Excel's storage has already damaged.

Two kinds of damage are detected, not repaired by guessing: numeric cells at or above 2**53
(IDs whose last digits Excel may have rounded; written out in full scientific notation so the ID
parser refuses them), and formula cells without a cached value (a workbook saved by a script,
never opened in Excel: the number the formula would show is not in the file).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from abtest.errors import DataError
from abtest.io.numbers import to_text

__all__ = ["read_xlsx"]


def _sheet_name(book: pd.ExcelFile, sheet: str | int | None, path: Path) -> str:
    name = book.sheet_names[0] if sheet is None else sheet
    if isinstance(name, int):
        if not 0 <= name < len(book.sheet_names):
            raise DataError(f"no sheet number {name}", file=path,
                            expected=f"one of {book.sheet_names}")
        name = book.sheet_names[name]
    if name not in book.sheet_names:
        raise DataError(f"no sheet named {name!r}", file=path, expected=f"one of {book.sheet_names}")
    return str(name)


def _formulas_without_values(path: Path, sheet: str) -> list[str]:
    """Cells of ``sheet`` holding a formula whose cached value is missing (e.g. ``['H3', 'H4']``)."""
    with zipfile.ZipFile(path) as zf:
        if not any(b"<f" in zf.read(n) for n in zf.namelist()
                   if n.startswith("xl/worksheets/") and n.endswith(".xml")):
            return []  # fast path: no formulas anywhere (every TikTok export)
    from openpyxl import load_workbook

    formulas = load_workbook(path, read_only=True, data_only=False)
    cached = load_workbook(path, read_only=True, data_only=True)
    try:
        bad = []
        for frow, crow in zip(formulas[sheet].iter_rows(), cached[sheet].iter_rows(), strict=False):
            for fcell, ccell in zip(frow, crow, strict=False):
                if (getattr(fcell, "data_type", None) == "f" and ccell.value is None
                        and hasattr(fcell, "coordinate")):
                    bad.append(fcell.coordinate)
        return bad
    finally:
        formulas.close()
        cached.close()


def read_xlsx(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """One sheet of a workbook as text cells (header = first row)."""
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except (zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise DataError(f"not a readable XLSX workbook ({exc})", file=path,
                        expected="an .xlsx file saved by Excel or TikTok Ads Manager") from None
    with book:  # close the workbook's file handle whatever happens
        name = _sheet_name(book, sheet, path)
        try:
            raw = pd.read_excel(book, sheet_name=name, dtype=object, header=0)
        except ValueError as exc:
            raise DataError(f"cannot read sheet {name!r}: {exc}", file=path) from None
    if raw.columns.size == 0:
        raise DataError(f"sheet {name!r} is empty", file=path, expected="a header row and data rows")
    bad = _formulas_without_values(path, name)
    if bad:
        first = bad[0]
        col_letters = re.match(r"[A-Z]+", first)
        col_idx = 0
        for ch in col_letters.group(0) if col_letters else "A":
            col_idx = col_idx * 26 + ord(ch) - 64
        column = str(raw.columns[col_idx - 1]) if col_idx - 1 < raw.columns.size else None
        raise DataError(
            f"formula cell(s) without a saved value: {', '.join(bad[:8])}"
            f"{' ...' if len(bad) > 8 else ''}. The workbook was written by a program and never "
            "calculated; open it in Excel and save it, or export the report again",
            file=path, row=int(re.sub(r"\D", "", first)), column=column,
            expected="numbers, not formulas without results")
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
