"""Loaders for real TikTok files -> canonical tables (see ``abtest.schema``), with row accounting.

``read_ads_manager`` (Ads Manager CSV/XLSX exports), ``read_marketing_api`` (Business API report
JSON and connector copies, Airbyte message files via ``abtest.io.airbyte``), ``read_events`` (Events API 2.0 / 1.0 payloads, flat CSV),
``read_any`` (sniffs the format), ``write_table`` / ``read_table`` (canonical parquet/CSV).
Every bad file raises :class:`DataError` naming file, row and column.
"""

from abtest.errors import DataError, ReadReport, SetAside
from abtest.io.ads_manager import read_ads_manager
from abtest.io.canonical import read_table, write_table
from abtest.io.detect import read_any, sniff
from abtest.io.events import read_events
from abtest.io.marketing_api import read_marketing_api

__all__ = [
    "DataError",
    "ReadReport",
    "SetAside",
    "read_ads_manager",
    "read_any",
    "read_events",
    "read_marketing_api",
    "read_table",
    "sniff",
    "write_table",
]
