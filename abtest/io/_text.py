"""Private text and JSON helpers shared by the format modules: bytes -> text -> cells / documents.

One home for decoding (UTF-8 with or without BOM, clear refusals for UTF-16 and Latin-1), CSV
splitting (delimiter chosen by :class:`csv.Sniffer` from the file's own first lines) and JSON /
JSON-lines parsing, so that every loader reports the same problems in the same words.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from abtest.errors import DataError

__all__ = ["decode_text", "load_json_documents", "read_csv_text", "sniff_delimiter"]

_DELIMITERS = ",;\t|"
_SAMPLE_LINES = 20


def decode_text(path: Path) -> str:
    """File bytes -> text: UTF-8 with or without BOM; anything else is a clear DataError."""
    data = path.read_bytes()
    if not data.strip():
        raise DataError("the file is empty", file=path, expected="a header row and data rows")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:200]:
        raise DataError(
            "the file is UTF-16 encoded (Excel 'Unicode Text'); save it as 'CSV UTF-8'",
            file=path, expected="UTF-8 text",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}; "
            "probably Latin-1/Windows-1252). Re-save it as 'CSV UTF-8'",
            file=path, row=line, expected="UTF-8 text",
        ) from None


def sniff_delimiter(text: str) -> str:
    """The field delimiter of CSV text, by :class:`csv.Sniffer` over the first lines.

    A one-column file has no delimiter to find; it reads as comma-separated.
    """
    sample = "\n".join(text.splitlines()[:_SAMPLE_LINES])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_csv_text(text: str, path: Path) -> pd.DataFrame:
    """CSV text -> frame of strings (all cells text, blank rows kept so row numbers stay true)."""
    sep = sniff_delimiter(text)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                          skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=path, expected="a header row") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise DataError(f"malformed CSV: {exc}".rstrip(), file=path,
                        row=int(m.group(1)) if m else None,
                        expected="the same number of fields on every line") from None
    return raw.astype("string")


def load_json_documents(path: Path) -> tuple[list[tuple[int, Any]], str]:
    """Parse a .json file (one document) or a JSON-lines file (one document per line).

    Returns ``([(line, document), ...], unit)``; unit is ``"record"`` for one document (line 1)
    and ``"line"`` for JSON lines. Truncated or malformed JSON raises DataError with line and column.
    """
    text = decode_text(path)
    try:
        return [(1, json.loads(text))], "record"
    except json.JSONDecodeError as first:
        lines = text.splitlines()
        if len([ln for ln in lines if ln.strip()]) < 2:
            raise DataError(f"not valid JSON (truncated or malformed): {first.msg} at column "
                            f"{first.colno}", file=path, row=first.lineno, row_kind="line",
                            expected="a complete JSON document") from None
    docs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            docs.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON lines (truncated or malformed): {exc.msg} at column "
                            f"{exc.colno}", file=path, row=number, row_kind="line",
                            expected="one complete JSON object per line") from None
    return docs, "line"
