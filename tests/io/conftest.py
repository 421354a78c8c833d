"""Shared fixtures for the loader tests: paths, and XLSX workbooks built from the CSV fixtures.

XLSX files are generated at test time (no binaries in git) the way Excel stores an export: plain
numbers become numeric cells (IDs included, as floats: the damage Excel does), dates become date
cells, and TikTok's text markers ("$20.00", "1.09%", "-", "<5", the totals row) stay text.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BROKEN = FIXTURES / "broken"


def _cell(text: str) -> object:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.strptime(text, "%Y-%m-%d")
    plain = text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text) else text
    if re.fullmatch(r"-?\d+\.\d+", plain) or re.fullmatch(r"\d{16,}", plain):
        return float(plain)
    if re.fullmatch(r"-?\d+", plain):
        return int(plain)
    return text


def csv_to_xlsx(src: Path, dest: Path, *, sheet: str = "Report") -> Path:
    """Write the CSV's cells into an XLSX sheet as Excel would type them."""
    with src.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r, row in enumerate(rows):
        ws.append(row if r == 0 else [_cell(c) for c in row])
    wb.save(dest)
    return dest


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def ads_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("xlsx") / "ads_manager_ad_daily.xlsx"
    return csv_to_xlsx(FIXTURES / "ads_manager_ad_daily.csv", dest)


@pytest.fixture(scope="session")
def broken_xlsx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Broken workbooks: header only, empty sheet, 19-digit IDs Excel stored as floats."""
    base = tmp_path_factory.mktemp("broken_xlsx")
    out = {}
    wb = Workbook()
    wb.active.append(["By Day", "Ad ID", "Cost", "Impressions", "Clicks (destination)"])
    out["xlsx_header_only"] = base / "xlsx_header_only.xlsx"
    wb.save(out["xlsx_header_only"])
    wb = Workbook()
    out["xlsx_empty_sheet"] = base / "xlsx_empty_sheet.xlsx"
    wb.save(out["xlsx_empty_sheet"])
    wb = Workbook()
    ws = wb.active
    ws.append(["By Day", "Ad ID", "Cost", "Impressions", "Clicks (destination)"])
    ws.append([datetime(2024, 6, 1), 7002238017842757633.0, 20.0, 4696, 51])
    ws.append([datetime(2024, 6, 1), 7002238017842757634.0, 15.0, 3120, 40])
    out["xlsx_damaged_ids"] = base / "xlsx_damaged_ids.xlsx"
    wb.save(out["xlsx_damaged_ids"])
    return out
