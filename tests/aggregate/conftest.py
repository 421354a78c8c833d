"""Fixtures for the aggregation tests: small canonical tables and one local SparkSession."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abtest.aggregate.synthetic import generate


@pytest.fixture(scope="session")
def spark():
    """One PySpark local[2] session for the whole test session (UI off, 2 shuffle partitions)."""
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    del pyspark
    session = (
        SparkSession.builder.master("local[2]")
        .appName("abtest-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ad_stats() -> pd.DataFrame:
    """An ad-level daily export in canonical form: 3 arms × 2 ads × 20 days, some cells missing."""
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-05-01", periods=20, freq="D")
    rows = []
    for arm, ctr in (("A", 0.010), ("B", 0.012), ("C", 0.011)):
        for ad in (1, 2):
            imps = rng.poisson(5000, size=days.size)
            clicks = rng.binomial(imps, ctr)
            convs = rng.binomial(clicks, 0.08)
            rows.append(
                pd.DataFrame(
                    {
                        "date": days,
                        "ad_id": f"{arm}{ad}",
                        "arm": arm,
                        "segment": np.where(np.arange(days.size) % 3 == 0, "warm", "cold"),
                        "impressions": imps,
                        "reach": (imps * rng.uniform(0.5, 0.8, days.size)).astype(int),
                        "clicks": clicks,
                        "conversions": convs,
                        "cost": np.round(imps * rng.uniform(0.004, 0.006, days.size), 2),
                        "conversion_value": np.round(convs * rng.gamma(4, 12, days.size), 2),
                        "likes": rng.poisson(30, days.size),
                        "comments": rng.poisson(3, days.size),
                        "shares": rng.poisson(2, days.size),
                        "video_views": rng.poisson(2500, days.size),
                        "video_views_p100": rng.poisson(400, days.size),
                    }
                )
            )
    df = pd.concat(rows, ignore_index=True)
    for col in df.columns[4:]:
        dtype = "Float64" if col in ("cost", "conversion_value") else "Int64"
        df[col] = df[col].astype(dtype)
    for col in ("ad_id", "arm", "segment"):
        df[col] = df[col].astype("string")
    # "-" cells from an export: missing, never zero
    df.loc[[3, 50, 77], "conversions"] = pd.NA
    df.loc[[10, 90], "impressions"] = pd.NA
    return df


@pytest.fixture(scope="session")
def synthetic_small(tmp_path_factory):
    """A 60k-event synthetic data set on disk (parquet)."""
    return generate(tmp_path_factory.mktemp("syn"), n_events=60_000, seed=3)
