"""Parquet written by abtest stores microsecond UTC timestamps (what Spark reads), exactly."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abtest.io import DataError, read_table, write_table
from abtest.schema import EVENTS


def _events() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user_id": ["a" * 64, "b" * 64, "c" * 64],
            "timestamp": pd.to_datetime(
                ["2024-06-01 10:00:00.123456", "2024-06-02 00:00:00.000000", None], utc=True
            ),
            "event": ["Purchase", "AdClick", "Purchase"],
            "value": [12.5, None, 3.0],
            "event_id": ["e1", "e2", "e3"],
        }
    )
    return EVENTS.conform(frame)


def test_parquet_timestamps_are_microseconds_and_round_trip(tmp_path):
    frame = _events()
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    path = write_table(frame, tmp_path / "events.parquet")
    stored = pq.read_schema(path).field("timestamp").type
    assert stored == pa.timestamp("us", tz="UTC")
    back = read_table(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back["timestamp"].iloc[0].microsecond == 123456 and pd.isna(back["timestamp"].iloc[2])


def test_parquet_refuses_to_truncate_nanoseconds(tmp_path):
    frame = _events()
    frame.loc[1, "timestamp"] += pd.Timedelta(1, "ns")
    with pytest.raises(DataError, match="microseconds") as info:
        write_table(frame, tmp_path / "events.parquet")
    assert info.value.column == "timestamp" and info.value.row == 3
    path = write_table(frame, tmp_path / "events.csv")  # CSV keeps the nanosecond
    pd.testing.assert_frame_equal(read_table(path), frame, check_exact=True)
