"""TikTok Business API ``report/integrated/get`` JSON (and connector copies) -> canonical ``ad_stats``.

Accepted shapes (all normalised to one row per ``list[]`` record):

* one response page ``{"code": 0, "data": {"list": [...], "page_info": {...}}}``;
* a list of pages, or a JSON-lines file with one page per line;
* Airbyte records (``dimensions`` / ``metrics`` nested, ids copied to the top level as numbers),
  bare or wrapped as ``{"type": "RECORD", "record": {"data": {...}}}``;
* Singer records (flattened, ``"-"`` already turned into ``null``).

Metric values are strings (``"20.000"``, ``"-"`` = not applicable). ``code != 0`` is an API error
and is raised with TikTok's message. Errors cite the *record* number (1-based, across pages) and
the page; records then go through the same builder as the Ads Manager export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from abtest.errors import DataError, ReadReport
from abtest.io._text import load_json_documents
from abtest.io.ads_manager import build_ad_stats
from abtest.io.airbyte import is_airbyte_message, unwrap_messages

__all__ = ["read_marketing_api"]

_LEVELS = (("ad_id", "ad"), ("adgroup_id", "ad group"), ("campaign_id", "campaign"),
           ("advertiser_id", "advertiser"))


def _is_page(doc: Any) -> bool:
    return isinstance(doc, dict) and "code" in doc and ("data" in doc or "message" in doc)


def _unwrap(doc: Any) -> Any:
    if isinstance(doc, dict) and doc.get("type") == "RECORD" and isinstance(doc.get("record"), dict):
        return doc["record"].get("data", doc["record"])
    return doc


def _records(docs: list[Any], path: str) -> tuple[list[dict], list[str]]:
    """Pages/records -> flat list of raw records, plus notes. Loops over pages only."""
    records: list[dict] = []
    notes: list[str] = []
    expected_total = 0
    pages = 0
    for idx, doc in enumerate(docs, start=1):
        doc = _unwrap(doc)
        if isinstance(doc, list):
            sub, sub_notes = _records(doc, path)
            records += sub
            notes += sub_notes
            continue
        if _is_page(doc):
            pages += 1
            if doc.get("code") != 0:
                raise DataError(
                    f"the API returned an error: code {doc.get('code')}, "
                    f"message {doc.get('message')!r} (request_id {doc.get('request_id')})",
                    file=path, row=idx, row_kind="page", expected="code 0 (OK)",
                )
            data = doc.get("data") or {}
            if not isinstance(data, dict):
                raise DataError("API page whose 'data' is not an object", file=path, row=idx,
                                row_kind="page", expected="data: {list: [...], page_info: {...}}",
                                found=type(data).__name__)
            rows = data.get("list")
            if not isinstance(rows, list):
                raise DataError("API page without data.list", file=path, row=idx,
                                row_kind="page", expected="data.list[] of report rows")
            info = data.get("page_info") or {}
            if not isinstance(info, dict):
                raise DataError("page_info is not an object", file=path, row=idx, row_kind="page",
                                column="page_info", expected="{page, page_size, total_number}",
                                found=type(info).__name__)
            total = str(info.get("total_number") or 0)
            if not total.isdigit():
                raise DataError("page_info.total_number is not a whole number", file=path,
                                row=idx, row_kind="page", column="page_info.total_number",
                                expected="a row count such as 9", found=total[:40])
            expected_total = max(expected_total, int(total))
            records += rows
            if data.get("total_metrics"):
                notes.append("data.total_metrics ignored (totals are recomputed from rows)")
        elif isinstance(doc, dict) and ("metrics" in doc or "dimensions" in doc
                                        or "stat_time_day" in doc):
            records.append(doc)
        else:
            keys = list(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
            raise DataError("unknown JSON structure: not a report/integrated/get page nor a "
                            "connector record", file=path, row=idx, row_kind="record",
                            expected="{'code': 0, 'data': {'list': [...]}} pages or records with "
                            "'dimensions'/'metrics'", found=keys)
    if pages and expected_total > len(records):
        notes.append(f"page_info.total_number says {expected_total} rows but only "
                     f"{len(records)} are present (missing pages?)")
    return records, notes


def _flatten(records: list[dict]) -> pd.DataFrame:
    """Nested dimensions/metrics -> one flat text frame; dimensions win over top-level copies."""
    flat = pd.json_normalize(records, max_level=1)
    cols: dict[str, pd.Series] = {}
    order = sorted(flat.columns, key=lambda c: (0 if c.startswith("dimensions.") else
                                                1 if c.startswith("metrics.") else 2))
    for col in order:
        name = col.split(".", 1)[1] if col.startswith(("dimensions.", "metrics.")) else col
        if name not in cols:
            cols[name] = flat[col]
    out = pd.DataFrame(cols)
    # Airbyte copies ids to the top level as JSON numbers: Python ints are exact, so str() is safe;
    # a float there would already be damaged and is left for the id parser to refuse.
    return out.astype(object).where(out.notna(), None).astype("string")


def read_marketing_api(
    path_or_obj: str | Path | dict | list,
    *,
    currency: str | None = None,
    allow_mixed_currency: bool = False,
    report: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, ReadReport]:
    """Read ``report/integrated/get`` JSON (file path, parsed dict, or list of pages/records).

    The data level is the finest id dimension present (ad_id, adgroup_id, campaign_id); it is
    written into the report notes. Error rows are 1-based record numbers across all pages.
    """
    if isinstance(path_or_obj, dict | list):
        file, docs = "<object>", [path_or_obj]
    else:
        path = Path(path_or_obj)
        if not path.is_file():
            raise DataError("file not found", file=path)
        file = str(path)
        lined = load_json_documents(path)[0]
        docs = [d for _, d in lined]
    airbyte_notes: list[str] = []
    if docs and is_airbyte_message(docs[0]) and file != "<object>":
        docs, airbyte_notes = unwrap_messages(lined, file)
    records, notes = _records(docs, file)
    notes += airbyte_notes
    if not records:
        raise DataError("no report rows in the JSON (empty data.list)", file=file,
                        expected="at least one row in data.list")
    bad = next((i for i, r in enumerate(records, 1) if not isinstance(r, dict)), None)
    if bad is not None:
        raise DataError("a report row is not a JSON object", file=file, row=bad,
                        row_kind="record", expected="{'dimensions': {...}, 'metrics': {...}}")
    raw = _flatten(records)
    level = next((lvl for col, lvl in _LEVELS if col in raw.columns), None)
    notes.insert(0, f"data level: {level or 'unknown'} (by the id dimension present)")
    if "ad_id" in raw.columns and "ad_name" not in raw.columns:
        notes.append("ad names not requested: only ad IDs present")
    rows = pd.Series(range(1, len(raw) + 1))
    frame, rep = build_ad_stats(raw, rows=rows, file=file, fmt="marketing_api_json",
                                currency=currency, allow_mixed_currency=allow_mixed_currency,
                                row_kind="record", notes=notes, decimal=".")
    return (frame, rep) if report else frame
