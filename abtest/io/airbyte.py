"""Airbyte ``source-tiktok-marketing`` message files -> Marketing API report rows.

Each JSON line is an Airbyte message: a record bare (``{"stream", "data", "emitted_at"}``) or
wrapped (``{"type": "RECORD", "record": {...}}``). Other message types (STATE, LOG, TRACE, ...)
carry no report rows: they are skipped and counted in the read notes. Only the daily report
streams are accepted; their ``data`` has the same ``dimensions`` / ``metrics`` shape as a
``report/integrated/get`` row and is handed to :mod:`abtest.io.marketing_api` unchanged.
Airbyte protocol: https://docs.airbyte.com/understanding-airbyte/airbyte-protocol
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from abtest.errors import DataError

__all__ = ["REPORT_STREAMS", "is_airbyte_message", "unwrap_messages"]

REPORT_STREAMS = ("ads_reports_daily", "ad_groups_reports_daily", "campaigns_reports_daily",
                  "advertisers_reports_daily")
_TYPES = frozenset({"RECORD", "STATE", "LOG", "TRACE", "SPEC", "CATALOG", "CONNECTION_STATUS",
                    "CONTROL"})


def _is_bare_record(doc: Any) -> bool:
    return isinstance(doc, dict) and {"stream", "data", "emitted_at"} <= doc.keys()


def is_airbyte_message(doc: Any) -> bool:
    """True for a bare Airbyte record or a typed Airbyte message (RECORD, STATE, LOG, ...)."""
    if _is_bare_record(doc):
        return True
    return isinstance(doc, dict) and doc.get("type") in _TYPES and "code" not in doc


def unwrap_messages(docs: list[tuple[int, Any]], file: str) -> tuple[list[dict], list[str]]:
    """``[(line, message), ...]`` -> (report rows, notes counting the skipped messages).

    A record of a stream that is not a daily report (e.g. ``ads``, ``campaigns``) is refused
    with a DataError naming file, line and stream: it has no metrics to load.
    """
    rows: list[dict] = []
    skipped: Counter[str] = Counter()
    for line, doc in docs:
        if _is_bare_record(doc):
            record = doc
        elif is_airbyte_message(doc) and doc["type"] == "RECORD":
            record = doc.get("record")
            if not _is_bare_record(record):
                raise DataError("Airbyte RECORD message without a record (stream, data, "
                                "emitted_at)", file=file, row=line, row_kind="line",
                                column="record", expected="record: {stream, data, emitted_at}")
        elif is_airbyte_message(doc):
            skipped[doc["type"]] += 1
            continue
        else:
            keys = list(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
            raise DataError("not an Airbyte message", file=file, row=line, row_kind="line",
                            expected="{'stream', 'data', 'emitted_at'} or {'type': ...}",
                            found=keys)
        stream = record["stream"]
        if stream not in REPORT_STREAMS:
            raise DataError(f"Airbyte stream {stream!r} is not a daily report stream: it has no "
                            "ad metrics to load", file=file, row=line, row_kind="line",
                            column="stream", expected=", ".join(REPORT_STREAMS), found=stream)
        data = record["data"]
        if not isinstance(data, dict):
            raise DataError("Airbyte record whose data is not an object", file=file, row=line,
                            row_kind="line", column="data", expected="{dimensions, metrics}",
                            found=type(data).__name__)
        rows.append(data)
    notes = ["Airbyte messages skipped (no report rows): "
             + ", ".join(f"{n} {t}" for t, n in sorted(skipped.items()))] if skipped else []
    return rows, notes
