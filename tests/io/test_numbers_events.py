"""Number parsing, hashing and the events loader (totals, hashing vs hashlib, dedupe, formats)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from abtest.io import DataError, read_events, read_table, write_table
from abtest.io.aliases import canonical_name, resolve_headers
from abtest.io.hashing import normalise, sha256_hex
from abtest.io.numbers import parse_ids, parse_numbers
from abtest.schema import EVENTS


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_parse_numbers_quirks():
    s = pd.Series(["1,234", "1.09%", "$20.00", "€5", "-", "N/A", "<5", "", "USD 7", "(3.50)"])
    money = parse_numbers(s, kind="money")
    assert money.tolist()[:4] == [1234.0, 1.09, 20.0, 5.0]
    assert money.iloc[4:8].isna().all()
    assert money.iloc[8] == 7.0 and money.iloc[9] == -3.5
    counts = parse_numbers(pd.Series(["4,696", "<5", "12"]))
    assert str(counts.dtype) == "Int64" and counts.tolist()[0] == 4696 and counts.isna().sum() == 1
    with pytest.raises(DataError, match="row 4"):
        parse_numbers(pd.Series(["1", "2", "1,5"]))  # decimal comma is ambiguous: refused


def test_parse_ids_lossless_only():
    ok = parse_ids(pd.Series(["1714125049901106.0", "1.714125049901106E+15", "7002238017842757633"]))
    assert ok.tolist() == ["1714125049901106", "1714125049901106", "7002238017842757633"]
    with pytest.raises(DataError, match="damaged"):
        parse_ids(pd.Series(["7002238017842757632.0"]))


def test_aliases_case_and_punctuation():
    assert canonical_name("CLICKS (DESTINATION)") == "clicks"
    assert canonical_name("video_views_p_25") == "video_views_p25"
    assert canonical_name("VIDEO_WATCHED_2_S") == "video_watched_2s"
    assert canonical_name("metrics.spend") == "cost"
    mapping, rates, unknown, cur = resolve_headers(["Cost (EUR)", "CPC (Destination)", "Foo"])
    assert mapping == {"Cost (EUR)": "cost"} and rates == ["CPC (Destination)"]
    assert unknown == ["Foo"] and cur == "EUR"


def test_hashing_matches_hashlib_and_tiktok_normalisation():
    emails = normalise(pd.Series(["  Alice.Smith@Example.com "]), "email")
    assert sha256_hex(emails).iloc[0] == sha("alice.smith@example.com")
    phones = normalise(pd.Series(["+1 (415) 555-0123", "0044 7700 900123", "4155550123"]), "phone")
    assert phones.tolist()[:2] == ["+14155550123", "+447700900123"] and phones.isna().iloc[2]


def test_events_api_v2_ndjson(fixtures):
    frame, rep = read_events(fixtures / "events_api_v2.ndjson", report=True)
    assert list(frame.columns) == EVENTS.names
    assert frame.dtypes.astype(str).to_dict() == EVENTS.dtypes
    assert len(frame) == 6 and frame["value"].sum() == pytest.approx(59.9 + 59.9 + 120.0)
    assert frame["event"].tolist() == ["ViewContent", "AddToCart", "Purchase", "PageView",
                                       "SubmitForm", "Purchase"]
    assert frame["event_raw"].iloc[2] == "CompletePayment"
    alice = sha("alice.smith@example.com")
    assert (frame["user_id"].iloc[:3] == alice).all()
    assert frame["user_id"].iloc[3] == sha("+14155550199")
    assert frame["user_id"].iloc[4] == sha("crm-000042")  # external_id wins over e-mail
    assert frame["user_id"].iloc[5] == "80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b"
    assert frame["timestamp"].iloc[0] == pd.Timestamp(1717340000, unit="s", tz="UTC")
    assert frame["ttclid"].iloc[0] == "E.C.P.aaaa1111"
    assert not frame.astype(str).apply(lambda s: s.str.contains("@")).any().any()
    reasons = {s.reason.split(" (")[0]: s.rows for s in rep.set_aside}
    assert reasons == {"no user identifier": (5,), "duplicate event": (2,)}
    rep.check_balance()


def test_legacy_pixel_payload(fixtures):
    frame, rep = read_events(fixtures / "events_pixel_v1.json", report=True)
    assert rep.format == "events_api_1.0" and len(frame) == 3
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-06-02 08:15:00", tz="UTC")
    assert frame["user_id"].tolist() == [sha("cust-7781"), sha("+447700900123"),
                                         sha("dave@example.co.uk")]
    assert frame["ttclid"].iloc[0] == "E.C.P.bbbb2222"
    assert frame["value"].sum() == pytest.approx(47.5) and set(frame["currency"].dropna()) == {"GBP"}


def test_flat_csv(fixtures):
    frame, rep = read_events(fixtures / "events_flat.csv", report=True)
    assert len(frame) == 6 and rep.rows_read == 8 and rep.rows_set_aside == 2
    assert frame["value"].sum() == pytest.approx(1049.0 * 2 + 25.0)
    assert (frame["event"] == "Purchase").sum() == 2
    assert frame["ad_id"].iloc[0] == "1714125050000001"
    assert frame["timestamp"].iloc[4] == pd.Timestamp("2024-06-02 07:00", tz="UTC")


def test_hash_pii_false_accepts_hashed_file(tmp_path):
    path = tmp_path / "hashed.ndjson"
    path.write_text('{"event_source_id": "C1", "event": "Purchase", "event_time": 1717340000, '
                    '"user": {"email": "' + "A" * 64 + '"}, "properties": {"value": 5}}\n')
    frame = read_events(path, hash_pii=False)
    assert frame["user_id"].iloc[0] == "a" * 64


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_canonical_round_trip_exact(fixtures, tmp_path, suffix):
    from abtest.io import read_ads_manager

    ads = read_ads_manager(fixtures / "ads_manager_ad_daily.csv")
    ads.loc[0, "cost"] = 0.1 + 0.2  # not representable in short decimal form
    events = read_events(fixtures / "events_pixel_v1.json")
    # CSV keeps nanoseconds; parquet stores microseconds for Spark (abtest.schema), so 1 µs there
    events.loc[1, "timestamp"] += pd.Timedelta(1, "ns" if suffix == ".csv" else "us")
    for frame in (ads, events):
        path = write_table(frame, tmp_path / f"t{suffix}")
        pd.testing.assert_frame_equal(read_table(path), frame, check_exact=True)
