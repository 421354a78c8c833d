"""Ads Manager CSV/XLSX and Marketing API JSON loaders: totals, report, same table from all three."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from abtest.io import DataError, read_ads_manager, read_marketing_api
from abtest.schema import AD_STATS

# Totals computed by hand from the fixture rows (the export's own totals row agrees).
TOTALS = {"impressions": 43933, "clicks": 429, "cost": 1165.40, "conversions": 32,
          "video_views": 36699, "video_views_p100": 605, "likes": 134, "follows": 3}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["date", "ad_id"]).reset_index(drop=True)


def test_csv_reads_canonical_columns_and_totals(fixtures):
    frame, rep = read_ads_manager(fixtures / "ads_manager_ad_daily.csv", report=True)
    assert list(frame.columns) == AD_STATS.names
    assert frame.dtypes.astype(str).to_dict() == AD_STATS.dtypes
    assert len(frame) == 9
    for col, total in TOTALS.items():
        assert frame[col].sum() == pytest.approx(total), col
    # "<5" and "-" are missing, never zero
    assert frame["conversions"].isna().sum() == 1
    assert frame["video_views_p100"].isna().sum() == 1
    assert frame["follows"].isna().sum() == 4
    assert frame["ad_id"].iloc[0] == "1714125050000001"
    assert (frame["currency"] == "USD").all()
    # accounting: the totals row is set aside, with its spreadsheet row number
    assert (rep.rows_read, rep.rows_kept, rep.rows_set_aside) == (10, 9, 1)
    assert rep.set_aside[0].rows == (11,) and "total" in rep.set_aside[0].reason
    rep.check_balance()
    assert any("Frequency" in n and "CTR (destination)" in n for n in rep.notes)


def test_report_false_returns_frame_only(fixtures):
    assert isinstance(read_ads_manager(fixtures / "ads_manager_ad_daily.csv"), pd.DataFrame)


def test_xlsx_and_api_give_identical_tables(fixtures, ads_xlsx):
    csv_frame = read_ads_manager(fixtures / "ads_manager_ad_daily.csv")
    xlsx_frame, rep = read_ads_manager(ads_xlsx, report=True)
    api_frame = read_marketing_api(fixtures / "marketing_api_ad_daily_pages.json")
    jsonl_frame = read_marketing_api(fixtures / "marketing_api_ad_daily.jsonl")
    pd.testing.assert_frame_equal(_sorted(csv_frame), _sorted(xlsx_frame))
    pd.testing.assert_frame_equal(_sorted(csv_frame), _sorted(api_frame))
    pd.testing.assert_frame_equal(_sorted(csv_frame), _sorted(jsonl_frame))
    assert rep.rows_set_aside == 1


def test_legacy_labels_adgroup_level_and_currency_in_header(fixtures):
    frame, rep = read_ads_manager(fixtures / "ads_manager_adgroup_legacy_labels.csv", report=True)
    assert frame["ad_id"].tolist()[:2] == ["RT_ATC_10off_ShopNow", "RT_ATC_freeship_LearnMore"]
    assert frame["ad_group"].notna().all()
    assert (frame["currency"] == "USD").all()
    assert frame["impressions"].sum() == 7816 + 4012 + 8510 + 4400
    assert frame["clicks"].sum() == 91 + 33 + 99 + 36
    assert frame["cost"].sum() == pytest.approx(35.25 + 18.40 + 38.10 + 19.95)
    assert frame["conversions"].sum() == 16 and frame["conversions"].isna().sum() == 1
    assert frame["video_views_p25"].sum() == 2450 + 1100 + 2600 + 1210
    assert frame["follows"].sum() == 1
    assert any("ad_id filled from 'Ad group name'" in n for n in rep.notes)
    assert any("CPA" in n and "CTR" in n for n in rep.notes)


def test_currency_argument_fills_and_conflicts(fixtures, tmp_path):
    src = (fixtures / "ads_manager_adgroup_legacy_labels.csv").read_text()
    plain = tmp_path / "no_currency.csv"
    plain.write_text(src.replace("Cost (USD)", "Cost"))
    assert (read_ads_manager(plain, currency="eur")["currency"] == "EUR").all()
    _, rep = read_ads_manager(plain, report=True)
    assert any("no currency" in n for n in rep.notes)
    with pytest.raises(DataError, match="header says USD"):
        read_ads_manager(fixtures / "ads_manager_adgroup_legacy_labels.csv", currency="EUR")


def test_mixed_currency_allowed_when_asked(fixtures):
    path = fixtures / "broken" / "am_mixed_currency.csv"
    frame = read_ads_manager(path, allow_mixed_currency=True)
    assert sorted(frame["currency"]) == ["EUR", "USD"]


def test_conversions_may_exceed_clicks(tmp_path):
    path = tmp_path / "viewthrough.csv"
    path.write_text("Date,Ad ID,Cost,Impressions,Clicks,Conversions\n2024-06-01,1,5.00,1000,2,7\n")
    assert read_ads_manager(path)["conversions"].iloc[0] == 7


def test_lossless_id_repair(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("Date,Ad ID,Cost,Impressions,Clicks\n"
                    "2024-06-01,1714125050000001.0,5,100,2\n"
                    "2024-06-01,1.714125050000002E+15,5,100,2\n")
    assert read_ads_manager(path)["ad_id"].tolist() == ["1714125050000001", "1714125050000002"]


def test_marketing_api_object_airbyte_and_singer(fixtures):
    pages = json.loads((fixtures / "marketing_api_ad_daily_pages.json").read_text())
    expected = _sorted(read_marketing_api(pages))
    one_page = read_marketing_api(pages[0])
    assert len(one_page) == 5
    rows = [r for p in pages for r in p["data"]["list"]]
    # Airbyte: nested, ids copied to the top level as integers, wrapped as RECORD messages.
    airbyte = [{"type": "RECORD", "record": {"stream": "ads_reports_daily", "data": {
        **copy.deepcopy(r), "ad_id": int(r["dimensions"]["ad_id"]),
        "stat_time_day": r["dimensions"]["stat_time_day"]}}} for r in rows]
    pd.testing.assert_frame_equal(_sorted(read_marketing_api(airbyte)), expected)
    # Singer: flattened, "-" turned into null.
    singer = [{**r["dimensions"], **{k: (None if v == "-" else v) for k, v in r["metrics"].items()}}
              for r in rows]
    pd.testing.assert_frame_equal(_sorted(read_marketing_api(singer)), expected)


def test_marketing_api_levels_and_missing_pages(fixtures):
    pages = json.loads((fixtures / "marketing_api_ad_daily_pages.json").read_text())
    _, rep = read_marketing_api(pages[:1], report=True)
    assert any("total_number says 9" in n for n in rep.notes)
    adgroup_page = {"code": 0, "message": "OK", "data": {"list": [{
        "dimensions": {"adgroup_id": "1714125049901106", "stat_time_day": "2021-10-27 00:00:00"},
        "metrics": {"spend": "20.000", "impressions": "4696", "clicks": "51", "ctr": "1.09",
                    "reach": "3822", "conversion": "3", "secondary_goal_result": "-"}}]}}
    frame, rep = read_marketing_api(adgroup_page, report=True, currency="USD")
    assert rep.notes[0].startswith("data level: ad group")
    assert frame["ad_id"].iloc[0] == "1714125049901106"
    assert frame["date"].iloc[0] == pd.Timestamp("2021-10-27")
    assert frame["cost"].iloc[0] == 20.0 and frame["clicks"].iloc[0] == 51


def test_xlsx_reader_closes_the_workbook(tmp_path) -> None:
    """Reading an XLSX export leaves no file handle open (a ResourceWarning would say so)."""
    import gc
    import shutil
    import warnings
    from pathlib import Path

    from abtest.io import read_ads_manager

    demo = Path(__file__).resolve().parents[2] / "data" / "demo" / "gap" / "ads_manager.xlsx"
    copy = tmp_path / "export.xlsx"
    shutil.copy(demo, copy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        read_ads_manager(copy)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
