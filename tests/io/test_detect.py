"""read_any sniffs the format of every good fixture and balances its report."""

from __future__ import annotations

import pytest

from abtest.io import read_any, write_table


@pytest.mark.parametrize(("name", "kind", "rows"), [
    ("ads_manager_ad_daily.csv", "ads_manager", 9),
    ("ads_manager_adgroup_legacy_labels.csv", "ads_manager", 4),
    ("marketing_api_ad_daily_pages.json", "marketing_api", 9),
    ("marketing_api_ad_daily.jsonl", "marketing_api", 9),
    ("events_api_v2.ndjson", "events", 6),
    ("events_pixel_v1.json", "events", 3),
    ("events_flat.csv", "events", 6),
])
def test_read_any(fixtures, name, kind, rows):
    frame, rep, found = read_any(fixtures / name)
    assert found == kind and len(frame) == rows
    rep.check_balance()


def test_read_any_xlsx_and_parquet(ads_xlsx, tmp_path):
    frame, _, kind = read_any(ads_xlsx)
    assert kind == "ads_manager" and len(frame) == 9
    back, _, kind = read_any(write_table(frame, tmp_path / "ads.parquet"))
    assert kind == "canonical" and back.equals(frame)
