"""user_metrics: hand-checked windows and agreement with a plain pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from agg_reference import user_window

from abtest.aggregate import sufficient_stats, user_metrics
from abtest.io.errors import DataError


def _tiny():
    ts = pd.to_datetime
    events = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u1", "u2", "u3", "u9"],
            "timestamp": ts(
                ["2024-01-01 00:00", "2024-01-03 00:00", "2024-01-08 00:00", "2023-12-20 00:00",
                 "2024-01-05 00:00", "2024-01-02 00:00", "2024-01-02 00:00"], utc=True,
            ).as_unit("ns"),
            "event": ["Impression", "Purchase", "Purchase", "Purchase", "AdClick", "Purchase",
                      "Purchase"],
            "value": pd.array([None, 10.0, 99.0, 7.0, None, None, 5.0], dtype="Float64"),
        }
    )
    assignments = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4"],
            "arm": ["A", "B", "A", "B"],
            "entry_time": pd.to_datetime(["2024-01-01"] * 4, utc=True).as_unit("ns"),
            "segment": ["warm", "cold", "warm", "cold"],
        }
    )
    return events, assignments


def test_windows_by_hand():
    events, assignments = _tiny()
    got = user_metrics(events, assignments, horizon_days=7, pre_period_days=14, execute=True)
    got = got.set_index("user_id").sort_index()
    assert list(got.index) == ["u1", "u2", "u3", "u4"]  # u9 has no assignment: ignored
    # u1: impression at entry (inside, start inclusive), purchase day 2 inside,
    # purchase exactly at entry + 7 days outside (end exclusive), one pre-period purchase
    assert got.loc["u1", ["impressions", "conversions", "converted"]].tolist() == [1, 1, 1]
    assert got.loc["u1", "revenue"] == 10.0
    assert got.loc["u1", ["pre_conversions", "pre_converted", "pre_revenue"]].tolist() == [1, 1, 7]
    assert got.loc["u2", "clicks"] == 1 and got.loc["u2", "converted"] == 0
    assert got.loc["u3", "conversions"] == 1 and got.loc["u3", "revenue"] == 0.0  # no value
    assert got.loc["u4"].drop(["arm", "segment", "entry_time"]).sum() == 0  # no events: zeros


def test_fractional_horizon_and_event_lists():
    events, assignments = _tiny()
    got = user_metrics(events, assignments, horizon_days=1.5, conversion_event=["Purchase"],
                       execute=True).set_index("user_id")
    assert got.loc["u1", "conversions"] == 0 and got.loc["u3", "conversions"] == 1
    assert "pre_revenue" not in got.columns


def test_matches_pandas_reference(synthetic_small):
    events = pd.read_parquet(synthetic_small.events_path)
    assignments = pd.read_parquet(synthetic_small.assignments_path)
    ref = user_window(events, assignments, horizon_days=7, pre_days=28)
    got = user_metrics(synthetic_small.events_path, synthetic_small.assignments_path,
                       horizon_days=7, pre_period_days=28, execute=True)
    merged = got.merge(ref, on="user_id", suffixes=("", "_ref"))
    assert len(merged) == len(assignments) == len(got)
    for col in ("impressions", "clicks", "conversions", "converted", "revenue",
                "pre_impressions", "pre_conversions", "pre_revenue"):
        np.testing.assert_allclose(merged[col].astype(float), merged[f"{col}_ref"], rtol=1e-12,
                                   err_msg=col)
    assert merged["conversions"].sum() > 100 and merged["pre_conversions"].sum() > 100


def test_lazy_result_feeds_sufficient_stats(synthetic_small):
    table = user_metrics(synthetic_small.events_path, synthetic_small.assignments_path,
                         horizon_days=7)
    assert not isinstance(table, pd.DataFrame)  # stays in the engine
    stats = sufficient_stats(table, metrics=["conversion_rate", "ctr"], segment="segment")
    assert stats["n"].sum() == 2 * synthetic_small.n_users * 1.0


def test_errors():
    events, assignments = _tiny()
    with pytest.raises(DataError, match="entry_time"):
        user_metrics(events, assignments.drop(columns="entry_time"), horizon_days=7)
    bad = assignments.copy()
    bad["entry_time"] = bad["entry_time"].where(bad.user_id != "u2")
    with pytest.raises(DataError, match="no entry_time"):
        user_metrics(events, bad, horizon_days=7)
    with pytest.raises(ValueError, match="horizon_days"):
        user_metrics(events, assignments, horizon_days=0)


def test_duplicate_leads_in_assignments_are_refused() -> None:
    import pandas as pd
    import pytest

    from abtest.aggregate import user_metrics
    from abtest.io.errors import DataError

    t0 = pd.Timestamp("2026-09-01", tz="UTC")
    events = pd.DataFrame({"user_id": ["a", "b"], "timestamp": [t0, t0], "event": ["Purchase"] * 2})
    assignments = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "arm": ["x", "y", "x"], "entry_time": [t0, t0, t0]}
    )
    with pytest.raises(DataError, match="more than once"):
        user_metrics(events, assignments, horizon_days=7, execute=True)


def _late_lead():
    """Events up to 2024-01-10; lead u5 enters on 2024-01-09, one day before the data ends."""
    events, assignments = _tiny()
    events = pd.concat([events, pd.DataFrame({
        "user_id": ["u5"], "timestamp": pd.to_datetime(["2024-01-10"], utc=True).as_unit("ns"),
        "event": ["Purchase"], "value": pd.array([3.0], dtype="Float64")})], ignore_index=True)
    assignments = pd.concat([assignments, pd.DataFrame({
        "user_id": ["u5"], "arm": ["A"],
        "entry_time": pd.to_datetime(["2024-01-09"], utc=True).as_unit("ns"),
        "segment": ["warm"]})], ignore_index=True)
    return events, assignments


def test_incomplete_window_set_aside_and_counted(backend=None):
    events, assignments = _late_lead()
    got, window = user_metrics(events, assignments, horizon_days=7, execute=True, report=True,
                               backend=backend)
    assert sorted(got["user_id"]) == ["u1", "u2", "u3", "u4"]  # u5's window ends 2024-01-16
    assert (window.leads, window.complete, window.incomplete) == (5, 4, 1)
    assert window.data_end == pd.Timestamp("2024-01-10", tz="UTC")
    assert "window ends after the data" in str(window)
    flagged = user_metrics(events, assignments, horizon_days=7, execute=True, incomplete="flag",
                           backend=backend).set_index("user_id")
    assert flagged["window_complete"].astype(bool).to_dict() == {
        "u1": True, "u2": True, "u3": True, "u4": True, "u5": False}
    # an explicit end later than every window keeps everyone
    _, later = user_metrics(events, assignments, horizon_days=7, data_end="2024-02-01",
                            report=True, backend=backend)
    assert later.incomplete == 0
    with pytest.raises(ValueError, match="incomplete"):
        user_metrics(events, assignments, horizon_days=7, incomplete="drop")
