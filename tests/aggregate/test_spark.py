"""The same expression on PySpark local mode gives the same statistics as DuckDB (to 1e-9)."""

from __future__ import annotations

import pandas as pd
import pytest

from abtest.aggregate import STAT_COLUMNS, backend_name, resolve, sufficient_stats, user_metrics

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, rtol=1e-9, check_exact=False)
    assert len(a) and (a[list(STAT_COLUMNS)] != 0).any().any()


def test_ad_stats_on_spark(spark, ad_stats):
    metrics = ["ctr", "cvr_click", "roas", "frequency", "engagement_rate"]
    duck = sufficient_stats(ad_stats, metrics=metrics, segment="segment")
    on_spark = sufficient_stats(ad_stats, metrics=metrics, segment="segment", backend=spark)
    _same(duck, on_spark)
    frame = spark.createDataFrame(ad_stats.astype({c: "float64" for c in ad_stats.columns[4:]}))
    assert backend_name(resolve(frame)) == "pyspark"
    _same(duck, sufficient_stats(frame, metrics=metrics, segment="segment"))


def test_events_pipeline_on_spark(spark, synthetic_small):
    metrics = ["conversion_rate", "revenue_per_lead", "ctr", "cvr_click"]
    kwargs = dict(horizon_days=7, pre_period_days=28)
    duck = sufficient_stats(
        user_metrics(synthetic_small.events_path, synthetic_small.assignments_path, **kwargs),
        metrics=metrics,
        segment="segment",
    )
    table = user_metrics(
        str(synthetic_small.events_path), str(synthetic_small.assignments_path),
        backend=spark, **kwargs,
    )
    assert backend_name(table) == "pyspark"
    _same(duck, sufficient_stats(table, metrics=metrics, segment="segment"))
    # pandas DataFrames in memory, shipped to Spark, and the covariate columns agree too
    events = pd.read_parquet(synthetic_small.events_path)
    assignments = pd.read_parquet(synthetic_small.assignments_path)
    cov = ["pre_conversions", "pre_revenue"]
    from abtest.metrics import Metric

    pre = [Metric(c, c, c, None, "mean") for c in cov]
    a = sufficient_stats(user_metrics(events, assignments, **kwargs), metrics=pre)
    b = sufficient_stats(user_metrics(events, assignments, backend=spark, **kwargs), metrics=pre)
    _same(a, b)


def test_spark_reads_parquet_abtest_writes(spark, tmp_path):
    """write_table stores microsecond timestamps, which Spark reads to the microsecond."""
    from abtest.io import write_table
    from abtest.schema import EVENTS

    stamps = pd.to_datetime(["2024-06-01 10:00:00.123456", "2024-06-02 23:59:59.999999"],
                            utc=True)
    frame = EVENTS.conform(pd.DataFrame({"user_id": ["a" * 64, "b" * 64], "timestamp": stamps,
                                         "event": ["Purchase", "AdClick"]}))
    path = write_table(frame, tmp_path / "events.parquet")
    rows = (spark.read.parquet(str(path)).selectExpr("user_id", "unix_micros(timestamp) AS us")
            .orderBy("user_id").collect())
    expected = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(1, "us")
    assert [r.us for r in rows] == list(expected)


def test_experiment_results_identical_on_duckdb_and_spark(spark, ad_stats, synthetic_small):
    """The analyst's results table does not depend on the engine that aggregated the data."""
    import abtest

    def table(data, **kw):
        return abtest.Experiment(data, arm="arm", control="A", **kw).analyze().table

    ads_kw = dict(metrics=["ctr", "cost_per_conversion", "roas"], segment="segment")
    pd.testing.assert_frame_equal(table(ad_stats, **ads_kw),
                                  table(ad_stats, backend=spark, **ads_kw),
                                  rtol=1e-9, check_exact=False)

    users_kw = dict(metrics=["conversion_rate", "revenue_per_lead"], segment="segment")
    um = dict(horizon_days=7)
    local = user_metrics(synthetic_small.events_path, synthetic_small.assignments_path, **um)
    remote = user_metrics(str(synthetic_small.events_path),
                          str(synthetic_small.assignments_path), backend=spark, **um)
    arms = sorted(sufficient_stats(local, metrics=["conversion_rate"])["arm"].unique())
    a = abtest.Experiment(local, arm="arm", control=arms[0], **users_kw).analyze().table
    b = abtest.Experiment(remote, arm="arm", control=arms[0], **users_kw).analyze().table
    pd.testing.assert_frame_equal(a, b, rtol=1e-9, check_exact=False)
    assert (a["p_value"].notna() | a["is_control"]).all()


def test_incomplete_windows_on_spark(spark):
    from test_user_metrics import test_incomplete_window_set_aside_and_counted

    test_incomplete_window_set_aside_and_counted(backend=spark)


def test_demo_gap_window_rule_agrees_with_notebook_path(spark):
    """The README's warehouse path (user_metrics on Spark / DuckDB) sets aside exactly the leads
    the notebooks' folder loader sets aside, and gives the same per-lead sums."""
    from abtest.io import read_events, read_table
    from abtest.prepare import load_users
    from abtest.schema import ASSIGNMENTS

    events = read_events("data/demo/gap/events.ndjson")
    asg = read_table("data/demo/gap/assignments.csv", ASSIGNMENTS)
    # cut the data 20 days after the last entry: the leads of the last 8 days are incomplete
    end = (asg["entry_time"].max() + pd.Timedelta(days=20)).isoformat()
    loaded = load_users("data/demo/gap", horizon_days=28, data_end=end)
    cols = ["user_id", "arm", "conversions", "converted", "revenue"]
    expect = loaded.frame[cols].sort_values("user_id").reset_index(drop=True)
    aside = loaded.rows_set_aside
    assert aside > 0
    for backend in (None, spark):
        got, window = user_metrics(events, asg, horizon_days=28, backend=backend, execute=True,
                                   report=True, data_end=end)
        assert window.incomplete == aside
        got = got[cols].sort_values("user_id").reset_index(drop=True)
        got["arm"] = got["arm"].astype("string")
        got["user_id"] = got["user_id"].astype("string")
        pd.testing.assert_frame_equal(got, expect, check_dtype=False)
