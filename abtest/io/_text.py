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

import numpy as np
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
    """CSV text -> frame of strings (all cells text, blank rows kept so row numbers stay true).

    A row with more or fewer fields than the header (a shifted or truncated line) is refused with
    its row number: padding it with empty cells would silently move values between columns.
    """
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
    raw = raw.astype("string")
    # pandas pads a short line with empty cells: count the fields of every record to refuse it.
    widths = [len(rec) for rec in csv.reader(io.StringIO(text), delimiter=sep)]
    header = widths[0] if widths else 0
    short = [i for i, w in enumerate(widths[1:], start=2) if 0 < w < header]
    if short:
        fields = widths[short[0] - 1]
        raise DataError(
            f"malformed CSV: this row has {fields} field(s) but the header has {header} "
            f"({len(short)} such row(s); a truncated or shifted line)",
            file=path, row=short[0], column=str(raw.columns[fields]),
            expected="the same number of fields on every line")
    return raw


# Parse JSON numbers exactly: integers longer than this stay text (IDs), floats stay text
# (amounts and times are parsed by the loaders), and absurdly long numbers are refused.
_EXACT_INT_DIGITS = 15
_MAX_NUMBER_DIGITS = 40
_MAX_DEPTH = 64


class _HugeNumber(ValueError):
    pass


def _parse_int(text: str) -> int | str:
    digits = len(text.lstrip("-"))
    if digits > _MAX_NUMBER_DIGITS:
        raise _HugeNumber(text)
    return int(text) if digits <= _EXACT_INT_DIGITS else text


def _parse_float(text: str) -> str:
    if len(text) > _MAX_NUMBER_DIGITS + 10:
        raise _HugeNumber(text)
    return text


def _loads(text: str, path: Path, line: int | None, unit: str) -> Any:
    """``json.loads`` with exact numbers, mapping structural failures to a DataError."""
    where = {"file": path, "row": line, "row_kind": unit}
    _check_depth(text, path, line, unit)
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                         parse_constant=str)
    except _HugeNumber as exc:
        pos = text.find(str(exc)[:_MAX_NUMBER_DIGITS])
        row = line if line is not None else text.count("\n", 0, max(pos, 0)) + 1
        raise DataError(f"a number with {len(str(exc).lstrip('-'))} digits: no TikTok id, count "
                        "or amount is that long", **{**where, "row": row, "row_kind": "line"},
                        expected=f"at most {_MAX_NUMBER_DIGITS} digits",
                        found=str(exc)[:20] + "...") from None
    except RecursionError:
        raise DataError("the JSON is nested too deeply to be a TikTok file", **where,
                        expected=f"at most {_MAX_DEPTH} levels of nesting") from None
    return doc


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _check_depth(text: str, path: Path, line: int | None, unit: str) -> None:
    """Refuse JSON nested deeper than any TikTok payload, before parsing it (no recursion)."""
    if text.count("[") + text.count("{") <= _MAX_DEPTH:
        return
    bare = np.frombuffer(_STRING.sub('""', text).encode("utf-8", "replace"), dtype=np.uint8)
    step = (np.isin(bare, (ord("["), ord("{"))).astype(np.int32)
            - np.isin(bare, (ord("]"), ord("}"))).astype(np.int32))
    depth = np.cumsum(step)
    if depth.size and depth.max() > _MAX_DEPTH:
        at = int(np.argmax(depth > _MAX_DEPTH))
        row = line if line is not None else int(np.count_nonzero(bare[:at] == ord("\n"))) + 1
        raise DataError("the JSON is nested too deeply to be a TikTok file", file=path, row=row,
                        row_kind="line", expected=f"at most {_MAX_DEPTH} levels of nesting")


def load_json_documents(path: Path) -> tuple[list[tuple[int, Any]], str]:
    """Parse a .json file (one document) or a JSON-lines file (one document per line).

    Returns ``([(line, document), ...], unit)``; unit is ``"record"`` for one document (line 1)
    and ``"line"`` for JSON lines. Truncated or malformed JSON raises DataError with line and
    column. Integers longer than 15 digits (TikTok ids) and all decimals come back as their exact
    text, never as floats; NaN / Infinity come back as text for the loaders to refuse.
    """
    text = decode_text(path)
    try:
        return [(1, _loads(text, path, None, "record"))], "record"
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
            docs.append((number, _loads(line, path, number, "line")))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON lines (truncated or malformed): {exc.msg} at column "
                            f"{exc.colno}", file=path, row=number, row_kind="line",
                            expected="one complete JSON object per line") from None
    return docs, "line"
