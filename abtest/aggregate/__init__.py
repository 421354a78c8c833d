"""Aggregation layer: canonical tables -> sufficient statistics, run by the engine holding the data.

One Ibis expression executes on embedded DuckDB (default: pandas DataFrames, parquet/CSV files read
in place), on PySpark, or on any Ibis backend (BigQuery, Snowflake, ...). Only aggregates come
back to Python. See docs/backends.md.
"""

from abtest.aggregate.backends import backend_name, connect, resolve, resolve_many
from abtest.aggregate.sufficient import STAT_COLUMNS, sufficient_stats, sufficient_stats_expr
from abtest.aggregate.user_metrics import OUTCOME_COLUMNS, user_metrics

__all__ = [
    "OUTCOME_COLUMNS",
    "STAT_COLUMNS",
    "backend_name",
    "connect",
    "resolve",
    "resolve_many",
    "sufficient_stats",
    "sufficient_stats_expr",
    "user_metrics",
]
