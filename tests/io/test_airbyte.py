"""Airbyte source-tiktok-marketing message files load into canonical ad_stats."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from abtest.io import DataError, read_any, sniff

AD_A, AD_B = "1781234567890123", "1789876543210987"


def _data(ad: str, day: str, spend, imps, clicks, conv) -> dict:
    return {"ad_id": int(ad),
            "dimensions": {"ad_id": ad, "stat_time_day": f"{day} 00:00:00"},
            "metrics": {"spend": spend, "impressions": imps, "clicks": clicks,
                        "conversion": conv, "reach": "900"}}


ROWS = [_data(AD_A, "2026-10-01", "12.50", "1500", "31", "4"),
        _data(AD_B, "2026-10-01", 7.25, 980, 12, 1),
        _data(AD_A, "2026-10-02", "10.05", "1320", "27", "3"),
        _data(AD_B, "2026-10-02", "8.40", "1044", "15", "2")]


def _write(tmp_path, lines: list[dict]):
    path = tmp_path / "tiktok_airbyte.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _messages(rows: list[dict], stream: str = "ads_reports_daily") -> list[dict]:
    out: list[dict] = []
    for i, data in enumerate(rows):
        rec = {"stream": stream, "data": data, "emitted_at": 1700000000000 + i}
        out.append(rec if i % 2 == 0 else {"type": "RECORD", "record": rec})
    out.insert(2, {"type": "STATE", "state": {"data": {"ads_reports_daily": {"cursor": "x"}}}})
    return out


def test_airbyte_messages_load_with_exact_totals(tmp_path):
    path = _write(tmp_path, _messages(ROWS))
    assert sniff(path) == "marketing_api"
    frame, rep, kind = read_any(path)
    assert kind == "marketing_api" and len(frame) == 4 and rep.rows_kept == 4

    def total(key):
        return sum(Decimal(str(r["metrics"][key])) for r in ROWS)

    assert frame["impressions"].sum() == total("impressions")
    assert frame["clicks"].sum() == total("clicks")
    assert frame["conversions"].sum() == total("conversion")
    assert Decimal(str(round(float(frame["cost"].sum()), 2))) == total("spend")
    assert set(frame["ad_id"].astype(str)) == {AD_A, AD_B}
    assert all(isinstance(v, str) for v in frame["ad_id"])
    assert any("1 STATE" in n for n in rep.notes)


def test_non_report_stream_is_refused_by_name_and_line(tmp_path):
    lines = _messages(ROWS[:1])
    lines.append({"type": "RECORD", "record": {"stream": "ads", "data": {"ad_id": AD_A},
                                               "emitted_at": 1700000000009}})
    path = _write(tmp_path, lines)
    with pytest.raises(DataError) as err:
        read_any(path)
    assert err.value.row == len(lines) and "'ads'" in str(err.value)
    assert str(path) in str(err.value)
