"""Every malformed input gives a DataError naming the file and, where it applies, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from abtest.io import DataError, read_ads_manager, read_any, read_events, read_marketing_api

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken"

AM, API, EV, ANY = read_ads_manager, read_marketing_api, read_events, read_any

# (file, loader, keyword arguments, substrings the message must contain)
CASES = [
    ("am_empty.csv", AM, {}, ["empty"]),
    ("am_header_only.csv", AM, {}, ["no data rows"]),
    ("am_missing_clicks.csv", AM, {}, ["column 'clicks'", "missing required"]),
    ("am_text_in_count.csv", AM, {}, ["row 3", "column 'Impressions'", "not a number", "lots"]),
    ("am_negative_count.csv", AM, {}, ["row 2", "column 'Clicks (destination)'", "negative"]),
    ("am_clicks_gt_impressions.csv", AM, {}, ["row 3", "column 'Clicks (destination)'",
                                               "more destination clicks than impressions"]),
    ("am_reach_gt_impressions.csv", AM, {}, ["row 3", "column 'Reach'", "reach larger"]),
    ("am_negative_cost.csv", AM, {}, ["row 3", "column 'Cost'", "negative"]),
    ("am_duplicate_keys.csv", AM, {}, ["row 4", "column 'Ad ID'", "duplicate"]),
    ("am_mixed_currency.csv", AM, {}, ["row 3", "column 'Currency'", "EUR, USD"]),
    ("am_bad_date.csv", AM, {}, ["row 3", "column 'By Day'", "not a date", "2024-13-45"]),
    ("am_missing_date.csv", AM, {}, ["row 3", "column 'By Day'", "missing date"]),
    ("am_utf16.csv", AM, {}, ["UTF-16"]),
    ("am_latin1.csv", AM, {}, ["row 3", "not UTF-8"]),
    ("am_id_scientific.csv", AM, {}, ["row 3", "column 'Ad ID'", "1.71412505E+15"]),
    ("am_fractional_count.csv", AM, {}, ["row 3", "column 'Clicks (destination)'",
                                          "whole number"]),
    ("am_hourly.csv", AM, {}, ["row 2", "column 'By Day'", "time of day"]),
    ("am_mixed_symbols.csv", AM, {}, ["row 3", "column 'Cost'", "currency symbol"]),
    ("am_ragged.csv", AM, {}, ["row 3", "malformed CSV"]),
    ("am_not_a_workbook.xlsx", AM, {}, ["not a readable XLSX"]),
    ("am_currency_conflict", AM, {"currency": "EUR"}, ["row 2", "column 'Currency'", "EUR"]),
    ("api_truncated.json", API, {}, ["line", "truncated"]),
    ("api_code_error.json", API, {}, ["code 40001", "Access token is incorrect"]),
    ("api_unknown_structure.json", API, {}, ["unknown JSON structure"]),
    ("api_empty_list.json", API, {}, ["no report rows"]),
    ("api_text_metric.json", API, {}, ["record 3", "column 'impressions'", "many"]),
    ("api_negative_spend.json", API, {}, ["record 4", "column 'spend'", "negative"]),
    ("api_missing_date.json", API, {}, ["record 2", "column 'stat_time_day'", "missing date"]),
    ("events_truncated.ndjson", EV, {}, ["line 2", "truncated"]),
    ("events_raw_email.ndjson", EV, {"hash_pii": False},
     ["line 2", "column 'user.email'", "raw e-mail", "hash_pii"]),
    ("events_raw_phone.csv", EV, {"hash_pii": False}, ["row 3", "column 'phone'",
                                                       "raw phone number"]),
    ("events_phone_no_country.csv", EV, {}, ["row 3", "column 'phone'", "E.164"]),
    ("events_missing_time.ndjson", EV, {}, ["line 2", "column 'event_time'", "missing event time"]),
    ("events_unknown_structure.json", EV, {}, ["unknown JSON structure"]),
    ("events_empty_batch.json", EV, {}, ["no events"]),
    ("events_bad_timestamp.csv", EV, {}, ["row 3", "column 'timestamp'", "yesterday"]),
    ("events_no_user_column.csv", EV, {}, ["no user identifier column"]),
    ("events_missing_event_name.csv", EV, {}, ["row 3", "column 'event'", "missing event name"]),
    ("events_bad_email.csv", EV, {}, ["row 2", "column 'email'", "not an e-mail"]),
    ("am_unknown_headers.csv", ANY, {}, ["unknown CSV structure"]),
    ("does_not_exist.csv", AM, {}, ["file not found"]),
]


@pytest.mark.parametrize(("name", "loader", "kwargs", "needles"), CASES,
                         ids=[c[0] for c in CASES])
def test_broken_file_gives_clear_data_error(name, loader, kwargs, needles):
    path = BROKEN / ("am_mixed_currency.csv" if name == "am_currency_conflict" else name)
    with pytest.raises(DataError) as info:
        loader(path, **kwargs)
    message = str(info.value)
    assert str(path.name) in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("key", "needles"), [
    ("xlsx_header_only", ["no data rows"]),
    ("xlsx_empty_sheet", ["empty"]),
    ("xlsx_damaged_ids", ["row 2", "column 'Ad ID'", "damaged", "2 such cells"]),
])
def test_broken_xlsx(broken_xlsx, key, needles):
    path = broken_xlsx[key]
    with pytest.raises(DataError) as info:
        read_ads_manager(path)
    message = str(info.value)
    assert path.name in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_at_least_25_broken_inputs():
    assert len(CASES) + 3 >= 25
    assert len(list(BROKEN.iterdir())) >= 25
