"""The embedded DuckDB is configured for the machine: CPUs, memory cap, no ordering overhead."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from abtest.aggregate import connect, resolve, sufficient_stats
from abtest.aggregate.backends import cpu_count, duckdb_config


def _setting(con, name: str):
    return con.con.sql(f"SELECT current_setting('{name}')").fetchall()[0][0]


def test_default_duckdb_settings():
    con = connect()
    assert _setting(con, "threads") == cpu_count()
    assert _setting(con, "preserve_insertion_order") is False
    assert "abtest-duckdb" in _setting(con, "temp_directory")
    limit = duckdb_config()["memory_limit"]
    assert limit.endswith("MB") and int(limit[:-2]) >= 256


def test_explicit_settings_and_reuse():
    con = connect(threads=1, memory_limit="512MB")
    assert _setting(con, "threads") == 1
    assert "488" in _setting(con, "memory_limit") or "512" in _setting(con, "memory_limit")
    frame = pd.DataFrame({"user_id": ["a", "b", "c"], "arm": ["A", "A", "B"],
                          "converted": [1, 0, 1]})
    table = resolve(frame, backend=con)
    assert table._find_backend() is con
    stats = sufficient_stats(table, metrics="conversion_rate")
    assert stats["n"].tolist() == [2.0, 1.0] and stats["num_sum"].tolist() == [1.0, 1.0]


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend"):
        connect("oracle-on-a-floppy")
    assert isinstance(connect(ibis.duckdb.connect()), type(connect()))
