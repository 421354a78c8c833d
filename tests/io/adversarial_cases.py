"""Adversarial loader fixtures (issue #12): small files that each hit one way a loader goes wrong.

Every case is written to a temporary folder by the test and read by the loader it names. A case
either loads, and then its ``check`` asserts the values that matter, or raises a ``DataError``
whose message names the file, the row / record / line and the column. ``rows`` is how many data
rows the file holds, for the row accounting (read = kept + set aside).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from abtest.io import read_ads_manager, read_events, read_marketing_api, read_table

AM, API, EV, TABLE = read_ads_manager, read_marketing_api, read_events, read_table


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Case:
    name: str  # file name, suffix included
    content: str | bytes | Callable[[Path], None]
    loader: Callable[..., Any]
    rows: int | None = None  # data rows in the file (None: the loader must fail)
    check: Callable[[pd.DataFrame, Any], None] | None = None
    error: list[str] = field(default_factory=list)  # substrings of the DataError message
    row: int | None = None  # the row / record / line the error must name
    column: str | None = None  # the column the error must name
    kwargs: dict = field(default_factory=dict)

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        if callable(self.content):
            self.content(path)
        elif isinstance(self.content, bytes):
            path.write_bytes(self.content)
        else:
            path.write_text(self.content, encoding="utf-8")
        return path


CASES: list[Case] = []


def ok(name: str, content: Any, loader: Callable, rows: int, check: Callable, **kw: Any) -> None:
    CASES.append(Case(name, content, loader, rows=rows, check=check, kwargs=kw))


def bad(name: str, content: Any, loader: Callable, error: list[str], row: int | None,
        column: str | None, **kw: Any) -> None:
    CASES.append(Case(name, content, loader, error=error, row=row, column=column, kwargs=kw))


# ---------------------------------------------------------------- Ads Manager CSV ------------
H = "By Day,Campaign name,Ad group name,Ad name,Ad ID,Currency,Cost,Impressions,Clicks (destination)"


def am(*rows: str, header: str = H, sep: str = ",") -> str:
    return "\n".join([header.replace(",", sep), *rows]) + "\n"


def r(day="2024-06-01", ad="1714125050000001", cost="20.00", imp="4696", clicks="51",
      camp="RT_Q4", group="RT_ATC", name="video_A", cur="USD", sep=",") -> str:
    return sep.join([day, camp, group, name, ad, cur, cost, imp, clicks])


def col(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist()


# Locale: the decimal mark is decided from the file's own cells, or refused with both readings.
ok("am_eu_semicolon.csv", am(r(cost="20,50", imp="15.850", sep=";"),
                             r(ad="2", cost="1.234,75", imp="3.120", sep=";"), sep=";"), AM, 2,
   lambda f, rep: (col(f, "impressions") == [15850, 3120]
                   and col(f, "cost") == [20.5, 1234.75]) or _fail(f))
ok("am_eu_semicolon_counts_only.csv", am(r(cost="20", imp="15.850", sep=";"), sep=";"), AM, 1,
   lambda f, rep: col(f, "impressions") == [15850] or _fail(f))
bad("am_dot_group_ambiguous.csv", am(r(cost="20", imp="15.850")), AM,
    ["ambiguous number", "15850", "15.85"], 2, "Impressions")
ok("am_eu_three_decimal_cost.csv", am(r(cost="12,345", imp="100", sep=";"), sep=";"), AM, 1,
   lambda f, rep: col(f, "cost") == [12.345] or _fail(f))
bad("am_dot_decimal_file_dotted_count.csv", am(r(cost='"1,234.50"', imp="15.850")), AM,
    ["whole number"], 2, "Impressions")
bad("am_decimal_marks_disagree.csv", am(r(cost='"1.234,50"', imp='"1,234,567"')), AM,
    ["decimal marks disagree"], 2, "Cost")
ok("am_arabic_indic_digits.csv", am(r(imp="٤٦٩٦", clicks="٥١")), AM, 1,
   lambda f, rep: col(f, "impressions") == [4696] and col(f, "clicks") == [51] or _fail(f))
ok("am_fullwidth_digits.csv", am(r(imp="１２３４", cost="２０．５０")), AM, 1,
   lambda f, rep: col(f, "impressions") == [1234] and col(f, "cost") == [20.5] or _fail(f))
ok("am_nbsp_thousands.csv", am(r(imp="15\u00a0850", cost="20.00")), AM, 1,
   lambda f, rep: col(f, "impressions") == [15850] or _fail(f))
ok("am_tab_separated.tsv", am(r(sep="\t"), sep="\t"), AM, 1,
   lambda f, rep: col(f, "impressions") == [4696] or _fail(f))
ok("am_pipe_separated.csv", am(r(sep="|"), sep="|"), AM, 1,
   lambda f, rep: col(f, "cost") == [20.0] or _fail(f))
ok("am_quoted_thousands.csv", am(r(imp='"1,234,567"', clicks='"1,000"', cost='"$1,021.30"')), AM,
   1, lambda f, rep: col(f, "impressions") == [1234567] and col(f, "cost") == [1021.3]
   or _fail(f))
ok("am_plus_sign.csv", am(r(imp="+12", clicks="+1")), AM, 1,
   lambda f, rep: col(f, "impressions") == [12] or _fail(f))

# Counts and money: range-checked, finite, no percent signs in counts.
bad("am_count_two_to_the_63.csv", am(r(imp="9223372036854775808")), AM, ["too large"], 2,
    "Impressions")
bad("am_count_1e20.csv", am(r(imp="100000000000000000000")), AM, ["too large"], 2, "Impressions")
bad("am_cost_inf.csv", am(r(cost="inf")), AM, ["finite"], 2, "Cost")
bad("am_cost_nan.csv", am(r(), r(ad="2", cost="NaN")), AM, ["finite"], 3, "Cost")
bad("am_cost_minus_infinity.csv", am(r(cost="-Infinity")), AM, ["finite"], 2, "Cost")
bad("am_cost_overflow.csv", am(r(cost="1e400")), AM, ["finite"], 2, "Cost")
bad("am_percent_in_count.csv", am(r(), r(ad="2", clicks="12%")), AM, ["percentage"], 3,
    "Clicks (destination)")
bad("am_accounting_negative_cost.csv", am(r(cost="(12.00)")), AM, ["negative money"], 2, "Cost")
bad("am_unicode_minus_count.csv", am(r(clicks="−5")), AM, ["negative count"], 2,
    "Clicks (destination)")

# Structure: short, long and truncated rows are refused with their row.
bad("am_short_row_middle.csv", am(r(), "2024-06-01,RT_Q4,RT_ATC,video_B,2,USD,15.25", r(ad="3")),
    AM, ["malformed CSV", "7 field(s)"], 3, "Impressions")
bad("am_truncated_last_row.csv", am(r(), r(ad="2"))[:-12], AM, ["malformed CSV"], 3,
    "Impressions")
bad("am_long_row.csv", am(r(), r(ad="2") + ",extra"), AM, ["malformed CSV"], 3, None)
ok("am_blank_rows_between.csv", am(r(), "", r(ad="2"), ""), AM, 4,
   lambda f, rep: len(f) == 2 and rep.rows_set_aside == 2 or _fail(f))
ok("am_bom_crlf.csv", ("\ufeff" + am(r(), r(ad="2"))).replace("\n", "\r\n").encode(), AM, 2,
   lambda f, rep: col(f, "ad_id") == ["1714125050000001", "2"] or _fail(f))

# Totals rows by shape (no date, no ids, sums that match), never by a name.
ok("am_campaign_named_total.csv", am(r(camp="Total"), r(ad="2", camp="Totals 2024")), AM, 2,
   lambda f, rep: col(f, "campaign") == ["Total", "Totals 2024"] and rep.rows_set_aside == 0
   or _fail(f))
ok("am_totals_row_matches.csv", am(r(), r(ad="2", imp="100", clicks="2", cost="5.00"),
                                   "Total of 2 results,,,,,USD,25.00,4796,53"), AM, 3,
   lambda f, rep: len(f) == 2 and "totals row" in rep.set_aside[0].reason or _fail(f))
ok("am_totals_row_unlabelled.csv", am(r(), r(ad="2", imp="100", clicks="2"), ",,,,,,40.00,4796,53"),
   AM, 3, lambda f, rep: len(f) == 2 and rep.rows_set_aside == 1 or _fail(f))
bad("am_totals_row_wrong_sums.csv", am(r(), r(ad="2", imp="100"), "Total of 3 results,,,,,USD,,9999,"),
    AM, ["totals row", "4796"], 4, "Impressions")
ok("am_ad_groups_named_none_null.csv", am(r(group="none"), r(ad="2", group="null"),
                                          r(ad="3", group="N/A")), AM, 3,
   lambda f, rep: col(f, "ad_group") == ["none", "null", "N/A"] or _fail(f))

# Currency: header, column and cells must agree; one currency per file unless asked.
bad("am_euro_symbol_in_usd_file.csv", am(r(), r(ad="2", cost="€20.00")), AM,
    ["€", "USD"], 3, "Cost")
bad("am_code_in_cell_contradicts_header.csv",
    am("2024-06-01,1,EUR 20.00,100,2", header="By Day,Ad ID,Cost (USD),Impressions,Clicks"), AM,
    ["EUR", "USD"], 2, "Cost (USD)")
ok("am_dollar_cell_usd_column.csv", am(r(cost="$20.00"), r(ad="2", cost="$1.50")), AM, 2,
   lambda f, rep: col(f, "currency") == ["USD", "USD"] and col(f, "cost") == [20.0, 1.5]
   or _fail(f))
ok("am_currency_from_cells.csv", am("2024-06-01,1,EUR 20.00,100,2", "2024-06-02,1,EUR 3.00,50,1",
                                    header="By Day,Ad ID,Cost,Impressions,Clicks"), AM, 2,
   lambda f, rep: col(f, "currency") == ["EUR", "EUR"] or _fail(f))
bad("am_column_contradicts_header.csv",
    am("2024-06-01,1,EUR,20.00,100,2", header="By Day,Ad ID,Currency,Cost (USD),Impressions,Clicks"),
    AM, ["USD"], 2, "Currency")
bad("am_not_a_currency_code.csv", am(r(cur="US Dollars")), AM, ["currency code"], 2, "Currency")
bad("am_mixed_currencies_refused.csv", am(r(), r(ad="2", cur="JPY")), AM,
    ["more than one currency", "JPY, USD"], 3, "Currency")
ok("am_mixed_currencies_when_asked.csv", am(r(), r(ad="2", cur="JPY", cost="2000")), AM, 2,
   lambda f, rep: sorted(col(f, "currency")) == ["JPY", "USD"] or _fail(f),
   allow_mixed_currency=True)

# Dates: order from the column's own values; months, serials and yyyymmdd handled or refused.
ok("am_day_first_dates.csv", am(r(day="13/06/2024"), r(day="14/06/2024")), AM, 2,
   lambda f, rep: col(f, "date") == [pd.Timestamp("2024-06-13"), pd.Timestamp("2024-06-14")]
   or _fail(f))
ok("am_month_first_dates.csv", am(r(day="06/13/2024"), r(day="06/14/2024")), AM, 2,
   lambda f, rep: col(f, "date")[0] == pd.Timestamp("2024-06-13") or _fail(f))
ok("am_daily_slash_dates_by_spread.csv", am(r(day="06/01/2024"), r(day="06/02/2024"),
                                            r(day="06/03/2024")), AM, 3,
   lambda f, rep: col(f, "date")[2] == pd.Timestamp("2024-06-03") or _fail(f))
ok("am_dot_dates_day_first.csv", am(r(day="03.06.2024"), r(day="04.06.2024")), AM, 2,
   lambda f, rep: col(f, "date")[0] == pd.Timestamp("2024-06-03") or _fail(f))
bad("am_ambiguous_slash_dates.csv", am(r(day="01/02/2024"), r(day="02/03/2024")), AM,
    ["ambiguous date order", "day first", "month first"], 2, "By Day")
bad("am_month_only_dates.csv", am(r(day="2024-06")), AM, ["a month, not a day"], 2, "By Day")
ok("am_yyyymmdd_dates.csv", am(r(day="20240601"), r(day="20240602")), AM, 2,
   lambda f, rep: col(f, "date")[1] == pd.Timestamp("2024-06-02") or _fail(f))
ok("am_excel_serial_dates.csv", am(r(day="45444"), r(day="45445")), AM, 2,
   lambda f, rep: col(f, "date")[0] == pd.Timestamp("2024-06-01")
   and any("Excel serial" in n for n in rep.notes) or _fail(f))
ok("am_date_before_2016.csv", am(r(day="2010-06-01")), AM, 1,
   lambda f, rep: any("before 2016" in n for n in rep.notes) or _fail(f))
ok("am_date_in_2100.csv", am(r(day="2100-06-01")), AM, 1,
   lambda f, rep: any("after the file was written" in n for n in rep.notes) or _fail(f))

# IDs: strings, damage refused; personal data in id columns hashed, in names masked.
ok("am_email_as_ad_id.csv", am(r(ad="Alice.Smith@Example.com")), AM, 1,
   lambda f, rep: col(f, "ad_id") == [sha("alice.smith@example.com")] or _fail(f))
ok("am_phone_as_campaign_id.csv",
   am("2024-06-01,+44 (0)20 7946 0958,1,20.00,100,2",
      header="By Day,Campaign ID,Ad ID,Cost,Impressions,Clicks"), AM, 1,
   lambda f, rep: col(f, "campaign_id") == [sha("+442079460958")] or _fail(f))
ok("am_email_in_campaign_name.csv", am(r(camp="RT john.doe@example.com list")), AM, 1,
   lambda f, rep: "***@example.com" in col(f, "campaign")[0] or _fail(f))
bad("am_id_float_beyond_2_53.csv", am(r(ad="7002238017842757632.0")), AM, ["damaged"], 2, "Ad ID")
ok("am_id_float_below_2_53.csv", am(r(ad="1714125050000001.0")), AM, 1,
   lambda f, rep: col(f, "ad_id") == ["1714125050000001"] or _fail(f))
bad("am_cp1252_bytes.csv", am(r(camp="Caf\u00e9")).encode("cp1252"), AM, ["not UTF-8"], 2, None)
bad("am_utf16_export.csv", am(r()).encode("utf-16"), AM, ["UTF-16"], None, None)


# ---------------------------------------------------------------- Ads Manager XLSX -----------
def _xlsx(rows: list[list[object]], header: list[str] | None = None) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(header or ["By Day", "Ad ID", "Cost", "Impressions", "Clicks (destination)"])
        for row in rows:
            ws.append(row)
        wb.save(path)
    return write


bad("xlsx_formula_without_value.xlsx", _xlsx([[datetime(2024, 6, 1), "1", 20.0, 100, 2],
                                             [datetime(2024, 6, 2), "1", "=C2*2", 100, 2]]),
    AM, ["formula", "C3"], 3, "Cost")
ok("xlsx_serial_number_dates.xlsx", _xlsx([[45444, "1", 20.0, 100, 2]]), AM, 1,
   lambda f, rep: col(f, "date") == [pd.Timestamp("2024-06-01")] or _fail(f))
ok("xlsx_small_float_ids.xlsx", _xlsx([[datetime(2024, 6, 1), 1714125050000001.0, 20.0, 100, 2]]),
   AM, 1, lambda f, rep: col(f, "ad_id") == ["1714125050000001"] or _fail(f))
bad("xlsx_big_float_ids.xlsx", _xlsx([[datetime(2024, 6, 1), 7002238017842757633.0, 20, 100, 2]]),
    AM, ["damaged"], 2, "Ad ID")
ok("xlsx_text_cells_decimal_comma.xlsx", _xlsx([[datetime(2024, 6, 1), "1", "1.234,50", 100, 2]]),
   AM, 1, lambda f, rep: col(f, "cost") == [1234.5] or _fail(f))
ok("xlsx_totals_row.xlsx", _xlsx([[datetime(2024, 6, 1), "1", 20.0, 100, 2],
                                  [datetime(2024, 6, 1), "2", 5.0, 50, 1],
                                  ["Total of 2 results", None, 25.0, 150, 3]]), AM, 3,
   lambda f, rep: len(f) == 2 and rep.rows_set_aside == 1 or _fail(f))
bad("xlsx_inf_cost.xlsx", _xlsx([[datetime(2024, 6, 1), "1", "inf", 100, 2]]), AM, ["finite"], 2,
    "Cost")


# ---------------------------------------------------------------- Marketing API JSON ---------
def page(*records: dict, info: Any = None, **extra: Any) -> str:
    data = {"list": list(records), "page_info": info if info is not None else
            {"page": 1, "page_size": 10, "total_number": len(records), "total_page": 1}}
    return json.dumps({"code": 0, "message": "OK", "data": data, **extra})


def rec(ad: Any = "1714125050000001", day="2024-06-01 00:00:00", **metrics: Any) -> dict:
    m = {"spend": "20.000", "impressions": "4696", "clicks": "51", "currency": "USD", **metrics}
    return {"dimensions": {"ad_id": ad, "stat_time_day": day}, "metrics": m}


bad("api_page_info_list.json", page(rec(), info=[1, 10, 1]), API, ["page_info"], 1, "page_info")
bad("api_total_number_many.json", page(rec(), info={"total_number": "many"}), API,
    ["total_number", "many"], 1, "page_info.total_number")
bad("api_data_is_list.json", json.dumps({"code": 0, "message": "OK", "data": [rec()]}), API,
    ["'data' is not an object"], 1, None)
bad("api_list_not_list.json", json.dumps({"code": 0, "message": "OK", "data": {"list": "x"}}),
    API, ["data.list"], 1, None)
bad("api_deep_nesting.json", "[" * 5000 + "]" * 5000, API, ["nested too deeply"], 1, None)
bad("api_moderate_nesting.json", json.dumps([rec(extra=json.loads("[" * 100 + "]" * 100))]), API,
    ["nested too deeply"], 1, None)
bad("api_5000_digit_id.json", page(rec()).replace('"1714125050000001"', "9" * 5000), API,
    ["5000 digits"], 1, None)
ok("api_19_digit_int_ids.json", page(rec()).replace('"1714125050000001"', "7002238017842757633"),
   API, 1, lambda f, rep: col(f, "ad_id") == ["7002238017842757633"] or _fail(f))
bad("api_float_id.json", page(rec()).replace('"1714125050000001"', "1723765002384534504.0"), API,
    ["damaged"], 1, "ad_id")
bad("api_nan_spend.json", page(rec()).replace('"20.000"', "NaN"), API, ["finite"], 1, "spend")
bad("api_infinity_spend.json", page(rec(), rec(ad="2")).replace('"20.000"', "Infinity", 1), API,
    ["finite"], 1, "spend")
ok("api_three_decimal_money.json", page(rec(spend="20.125"), rec(ad="2", spend="1.500")), API, 2,
   lambda f, rep: col(f, "cost") == [20.125, 1.5] or _fail(f))
bad("api_mixed_currencies.json", page(rec(), rec(ad="2", currency="JPY")), API,
    ["more than one currency"], 2, "currency")
ok("api_arabic_digits.json", page(rec(impressions="٤٦٩٦")), API, 1,
   lambda f, rep: col(f, "impressions") == [4696] or _fail(f))
bad("api_record_not_object.json", page(rec(), "oops"), API, ["not a JSON object"], 2, None)
ok("api_adgroup_named_null.json", page(rec(adgroup_name="null")), API, 1,
   lambda f, rep: col(f, "ad_group") == ["null"] or _fail(f))
ok("api_airbyte_int_ids.jsonl", "\n".join(json.dumps({**rec(ad=str(7002238017842757633 + i)),
                                                      "ad_id": 7002238017842757633 + i})
                                          for i in range(2)), API, 2,
   lambda f, rep: col(f, "ad_id") == ["7002238017842757633", "7002238017842757634"] or _fail(f))
ok("api_email_in_ad_id.json", page(rec(ad="bob@example.org")), API, 1,
   lambda f, rep: col(f, "ad_id") == [sha("bob@example.org")] or _fail(f))


# ---------------------------------------------------------------- Events ---------------------
def env(*events: dict) -> str:
    return json.dumps({"event_source": "web", "event_source_id": "CPIXEL", "data": list(events)})


def ev(t: Any = 1717340000, i: int = 0, **extra: Any) -> dict:
    return {"event": "Purchase", "event_time": t, "event_id": f"e{i}",
            "user": {"external_id": f"crm-{i}"}, **extra}


T0 = pd.Timestamp(1717340000, unit="s", tz="UTC")
ok("ev_19_digit_ad_ids_some_missing.ndjson",
   "\n".join([env(ev(i=0, ad_id=7002238017842757633)), env(ev(i=1)),
              env(ev(i=2, ad_id=1723765002384534504))]), EV, 3,
   lambda f, rep: col(f, "ad_id")[0] == "7002238017842757633" and pd.isna(col(f, "ad_id")[1])
   and col(f, "ad_id")[2] == "1723765002384534504" or _fail(f))
bad("ev_float_ad_id.ndjson", "\n".join([env(ev(i=0)), env(ev(i=1, ad_id=1723765002384534504.0))]),
    EV, ["damaged"], 2, "ad_id")
ok("ev_time_milliseconds.ndjson", env(ev(1717340000123), ev(1717340001000, 1)), EV, 2,
   lambda f, rep: col(f, "timestamp")[0] == T0 + pd.Timedelta(milliseconds=123)
   and any("milliseconds" in n for n in rep.notes) or _fail(f))
ok("ev_time_microseconds.ndjson", env(ev(1717340000000123), ev(1717340000000124, 1)), EV, 2,
   lambda f, rep: col(f, "timestamp")[0] == T0 + pd.Timedelta(microseconds=123) or _fail(f))
ok("ev_time_nanoseconds.ndjson", env(ev(1717340000000000123), ev(1717340000000000124, 1)), EV, 2,
   lambda f, rep: col(f, "timestamp")[0] == T0 + pd.Timedelta(nanoseconds=123) or _fail(f))
bad("ev_time_mixed_units.ndjson", env(ev(1717340000), ev(1717340000, 1), ev(1717340000123, 2)),
    EV, ["more than one unit", "seconds"], 3, "event_time")
ok("ev_time_yyyymmdd.csv", "user_id,event,timestamp\ncrm-1,Purchase,20240601\n"
   "crm-2,Purchase,20240602\n", EV, 2,
   lambda f, rep: col(f, "timestamp")[1] == pd.Timestamp("2024-06-02", tz="UTC") or _fail(f))
ok("ev_time_excel_serial.csv", "user_id,event,timestamp\ncrm-1,Purchase,45444.5\n", EV, 1,
   lambda f, rep: col(f, "timestamp")[0] == pd.Timestamp("2024-06-01 12:00", tz="UTC")
   or _fail(f))
bad("ev_time_no_known_unit.csv", "user_id,event,timestamp\ncrm-1,Purchase,1234567\n", EV,
    ["no time unit"], 2, "timestamp")
bad("ev_time_absurd_magnitude.ndjson", env(ev(12345678901234567890123)), EV, ["no time unit"], 1,
    "event_time")
ok("ev_time_2100.ndjson", env(ev(4116000000)), EV, 1,
   lambda f, rep: any("after the file was written" in n for n in rep.notes) or _fail(f))
ok("ev_time_1973.ndjson", env(ev(100000000)), EV, 1,
   lambda f, rep: any("before 2016" in n for n in rep.notes) or _fail(f))
bad("ev_bad_iso_time.csv", "user_id,event,timestamp\ncrm-1,Purchase,2024-06-01T12:00:00Z\n"
    "crm-2,Purchase,2024-13-45T99:00:00Z\n", EV, ["not a timestamp"], 3, "timestamp")
ok("ev_email_in_user_id.csv", "user_id,event,timestamp\n Erin@Example.com ,Purchase,"
   "2024-06-01T12:00:00Z\ncrm-2,Purchase,2024-06-01T12:00:00Z\n", EV, 2,
   lambda f, rep: col(f, "user_id") == [sha("erin@example.com"), sha("crm-2")] or _fail(f))
ok("ev_phone_in_user_id.csv", "user_id,event,timestamp\n+44 (0)20 7946 0958,Purchase,"
   "2024-06-01T12:00:00Z\n", EV, 1,
   lambda f, rep: col(f, "user_id") == [sha("+442079460958")] or _fail(f))
ok("ev_uk_trunk_zero_phone.csv", "phone,event,timestamp\n+44 (0)7700 900123,Purchase,"
   "2024-06-01T12:00:00Z\n0044 07700 900123,Purchase,2024-06-02T12:00:00Z\n", EV, 2,
   lambda f, rep: col(f, "user_id") == [sha("+447700900123")] * 2 or _fail(f))
ok("ev_email_in_external_id_ndjson.ndjson",
   env({**ev(), "user": {"external_id": "Carol@Example.net"}}), EV, 1,
   lambda f, rep: col(f, "user_id") == [sha("carol@example.net")] or _fail(f))
bad("ev_email_in_user_id_hash_pii_false.csv", "user_id,event,timestamp\ncrm-1,Purchase,"
    "2024-06-01T12:00:00Z\ndave@example.com,Purchase,2024-06-01T12:00:00Z\n", EV,
    ["personal data", "hash_pii=False"], 3, "user_id", hash_pii=False)
ok("ev_email_in_order_id.csv", "user_id,event,timestamp,order_id\ncrm-1,Purchase,"
   "2024-06-01T12:00:00Z,eve@example.com\n", EV, 1,
   lambda f, rep: col(f, "order_id") == [sha("eve@example.com")] or _fail(f))
ok("ev_email_in_url.ndjson", env({**ev(), "page": {"url": "https://s.example.com/?ttclid=E.C.P."
                                                          "x1&email=frank@example.com"}}), EV, 1,
   lambda f, rep: col(f, "ttclid") == ["E.C.P.x1"] or _fail(f))
ok("ev_email_in_ttclid.csv", "user_id,event,timestamp,ttclid\ncrm-1,Purchase,"
   "2024-06-01T12:00:00Z,gina@example.com\n", EV, 1,
   lambda f, rep: col(f, "ttclid") == [sha("gina@example.com")] or _fail(f))
bad("ev_value_symbol_contradicts_currency.csv", "user_id,event,timestamp,value,currency\n"
    "crm-1,Purchase,2024-06-01T12:00:00Z,€12.00,USD\n", EV, ["€", "USD"], 2, "value")
ok("ev_value_code_in_cell.csv", "user_id,event,timestamp,value,currency\n"
   "crm-1,Purchase,2024-06-01T12:00:00Z,USD 12.50,USD\n", EV, 1,
   lambda f, rep: col(f, "value") == [12.5] and col(f, "currency") == ["USD"] or _fail(f))
ok("ev_value_currency_from_cell.csv", "user_id,event,timestamp,value\n"
   "crm-1,Purchase,2024-06-01T12:00:00Z,EUR 12.50\n", EV, 1,
   lambda f, rep: col(f, "currency") == ["EUR"] or _fail(f))
bad("ev_value_inf.ndjson", env(ev(properties={"value": "inf", "currency": "USD"})), EV,
    ["finite"], 1, "properties.value")
bad("ev_value_nan_literal.ndjson", env(ev()).replace('"event_id"', '"properties": {"value": NaN},'
                                                     ' "event_id"'), EV, ["finite"], 1,
    "properties.value")
ok("ev_mixed_currencies_noted.ndjson",
   env(ev(properties={"value": 10, "currency": "USD"}),
       ev(i=1, properties={"value": 1500, "currency": "JPY"})), EV, 2,
   lambda f, rep: col(f, "currency") == ["USD", "JPY"]
   and any("per currency" in n for n in rep.notes) or _fail(f))
bad("ev_not_a_currency.csv", "user_id,event,timestamp,value,currency\n"
    "crm-1,Purchase,2024-06-01T12:00:00Z,12,dollars\n", EV, ["currency code"], 2, "currency")
bad("ev_deep_nesting.ndjson", env(ev()) + "\n" + "[" * 3000 + "]" * 3000, EV,
    ["nested too deeply"], 2, None)
bad("ev_huge_int.ndjson", env(ev()) + "\n" + env(ev(i=1)).replace("1717340000", "7" * 5000),
    EV, ["5000 digits"], 2, None)
bad("ev_short_csv_row.csv", "user_id,event,timestamp,value\ncrm-1,Purchase\n", EV,
    ["malformed CSV"], 2, "timestamp")
ok("ev_arabic_digit_value.csv", "user_id,event,timestamp,value,currency\n"
   "crm-1,Purchase,2024-06-01T12:00:00Z,١٢,USD\n", EV, 1,
   lambda f, rep: col(f, "value") == [12.0] or _fail(f))
ok("ev_events_named_null.csv", "user_id,event,timestamp\ncrm-1,NoneSuch,2024-06-01T12:00:00Z\n",
   EV, 1, lambda f, rep: col(f, "event") == ["NoneSuch"] or _fail(f))
bad("ev_data_not_a_list.json", json.dumps({"event_source": "web", "event_source_id": "C",
                                           "data": {"event": "Purchase"}}), EV,
    ["'data' is not a list"], 1, "data")
ok("ev_semicolon_csv.csv", "user_id;event;timestamp;value;currency\n"
   "crm-1;Purchase;2024-06-01T12:00:00Z;12,50;EUR\n", EV, 1,
   lambda f, rep: col(f, "value") == [12.5] or _fail(f))


# ---------------------------------------------------------------- canonical tables -----------
bad("assignments_bad_entry_time.csv", "user_id,arm,entry_time\n" + sha("a") +
    ",control,2024-06-01T00:00:00Z\n" + sha("b") + ",test,yesterday\n", TABLE,
    ["not an ISO 8601 time", "yesterday"], 3, "entry_time")
bad("assignments_email_user_id.csv", "user_id,arm,entry_time\nhank@example.com,control,"
    "2024-06-01T00:00:00Z\n", TABLE, ["personal data"], 2, "user_id")
ok("assignments_ok.csv", "user_id,arm,entry_time\n" + sha("a") + ",control,2024-06-01T00:00:00Z\n",
   TABLE, 1, lambda f, rep: col(f, "arm") == ["control"] or _fail(f))


def _fail(frame: pd.DataFrame) -> bool:
    raise AssertionError(f"unexpected values:\n{frame.to_string()}")
