"""Sniff a file's format and read it with the right loader (used by ``abtest validate FILE``).

Decisions are made on structure, not on the file name alone: the suffix picks text vs workbook
vs parquet, then the header row (CSV) or the shape of the first JSON document decides between an
Ads Manager export, a Marketing API report, an events log, or a canonical table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from abtest.errors import DataError, ReadReport
from abtest.io._text import decode_text, load_json_documents, read_csv_text
from abtest.io.ads_manager import read_ads_manager
from abtest.io.airbyte import is_airbyte_message
from abtest.io.aliases import EVENT_FIELDS, resolve_headers
from abtest.io.canonical import read_table
from abtest.io.events import read_events
from abtest.io.marketing_api import read_marketing_api

__all__ = ["Kind", "read_any", "sniff"]

Kind = Literal["ads_manager", "marketing_api", "events", "canonical"]


def _json_kind(doc: object) -> Kind | None:
    if isinstance(doc, list):
        return _json_kind(doc[0]) if doc else None
    if not isinstance(doc, dict):
        return None
    if doc.get("type") == "RECORD" or is_airbyte_message(doc):
        return "marketing_api"
    if "pixel_code" in doc or "event_source_id" in doc or "event_source" in doc or "event" in doc:
        return "events"
    if "code" in doc:
        data = doc.get("data")
        if isinstance(data, dict) and ("list" in data or "page_info" in data) or doc["code"] != 0:
            return "marketing_api"
    if "metrics" in doc or "dimensions" in doc or "stat_time_day" in doc:
        return "marketing_api"
    return None


def sniff(path: str | Path) -> Kind:
    """Which loader a file needs; DataError when the structure is not recognised."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "canonical"
    if suffix in (".xlsx", ".xlsm"):
        return "ads_manager"
    if suffix in (".json", ".jsonl", ".ndjson"):
        docs, _ = load_json_documents(path)
        kind = _json_kind(docs[0][1]) if docs else None
        if kind is None:
            raise DataError("unknown JSON structure", file=path,
                            expected="a Marketing API report page or an Events API payload")
        return kind
    if suffix in (".csv", ".tsv", ".txt"):
        raw = read_csv_text(decode_text(path), path)
        headers = [str(c) for c in raw.columns]
        mapping, rates, _, _ = resolve_headers(headers)
        if {"impressions", "clicks", "cost"} & set(mapping.values()) or rates:
            return "ads_manager"
        lower = {h.strip().casefold().replace(" ", "_") for h in headers}
        if lower & set(EVENT_FIELDS["event_raw"]):
            return "events"
        if {"user_id", "arm"} <= lower:
            return "canonical"
        raise DataError("unknown CSV structure: neither an Ads Manager export nor an events log",
                        file=path, row=1, expected="headers such as Impressions, Clicks, Cost "
                        "or event, timestamp, email", found=headers[:12])
    raise DataError(f"unsupported file type {suffix!r}", file=path,
                    expected=".csv, .xlsx, .json, .ndjson or .parquet")


def read_any(path: str | Path, **options: object) -> tuple[pd.DataFrame, ReadReport, Kind]:
    """Read any supported file: ``(canonical frame, ReadReport, kind)``."""
    path = Path(path)
    kind = sniff(path)
    if kind == "ads_manager":
        frame, rep = read_ads_manager(path, report=True, **options)
    elif kind == "marketing_api":
        frame, rep = read_marketing_api(path, report=True, **options)
    elif kind == "events":
        frame, rep = read_events(path, report=True, **options)
    else:
        frame = read_table(path)
        rep = ReadReport(file=str(path), format="canonical", rows_read=len(frame),
                         rows_kept=len(frame))
    rep.check_balance()
    return frame, rep, kind
