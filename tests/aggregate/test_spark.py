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
