"""Where the data lives: turn whatever the analyst holds into an Ibis table bound to an engine.

The aggregation is one Ibis expression (:mod:`abtest.aggregate.sufficient`); this module only
decides *which engine runs it*:

=================================  =============================================================
data                               engine
=================================  =============================================================
``pandas.DataFrame`` / Arrow table  embedded DuckDB (registered zero-copy, not copied row by row)
parquet / CSV path, dir or glob    embedded DuckDB reading the file in place (``read_parquet``)
``ibis.Table``                     its own backend (DuckDB, BigQuery, Snowflake, Postgres, ...)
PySpark ``DataFrame``              Spark, through ``ibis.pyspark.connect(df.sparkSession)``
=================================  =============================================================

``backend=`` overrides the engine for DataFrames and paths: ``"duckdb"``, ``"pyspark"`` (the
active SparkSession), a ``SparkSession`` or any connected Ibis backend. Only aggregates come back.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

__all__ = [
    "BackendLike",
    "DataLike",
    "backend_name",
    "connect",
    "cpu_count",
    "duckdb_config",
    "resolve",
    "resolve_many",
]

#: Anything :func:`connect` accepts.
BackendLike = BaseBackend | str | Any | None
#: Anything :func:`resolve` accepts.
DataLike = pd.DataFrame | pa.Table | ir.Table | str | Path | Any

_SPARK_BACKENDS: dict[int, BaseBackend] = {}
_PARQUET = (".parquet", ".pq", ".parq")
_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")


def _is_spark_session(obj: object) -> bool:
    return type(obj).__name__ == "SparkSession" and type(obj).__module__.startswith("pyspark")


def _is_spark_frame(obj: object) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pyspark.sql")


def _spark_backend(session: Any) -> BaseBackend:
    """One Ibis backend per SparkSession (connecting sets the session time zone to UTC)."""
    key = id(session)
    con = _SPARK_BACKENDS.get(key)
    if con is None or getattr(con, "_session", None) is not session:
        con = ibis.pyspark.connect(session)
        _SPARK_BACKENDS[key] = con
    return con


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the host's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _default_memory_limit() -> str:
    """Half the physical memory: room for DuckDB's hash tables, the Python process and the OS."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return "4GB"
    return f"{max(256, total // 2**20 // 2)}MB"


def duckdb_config(*, threads: int | None = None, memory_limit: str | None = None) -> dict[str, Any]:
    """Settings of the embedded DuckDB the aggregation opens (see :func:`connect`).

    * ``threads``: the CPUs this process may use (DuckDB's own default counts the host's cores,
      which oversubscribes a container or a CPU-pinned job);
    * ``memory_limit``: half the physical memory by default; beyond it DuckDB spills hash tables
      to ``temp_directory`` instead of failing or swapping;
    * ``preserve_insertion_order = false``: the aggregation never depends on row order, and
      keeping order costs memory in joins and scans;
    * ``temp_directory``: the system temp dir, not DuckDB's default ``.tmp`` in the current
      working directory.
    """
    return {
        "threads": int(threads) if threads else cpu_count(),
        "memory_limit": memory_limit or _default_memory_limit(),
        "preserve_insertion_order": False,
        "temp_directory": str(Path(tempfile.gettempdir()) / "abtest-duckdb"),
    }


def connect(
    backend: BackendLike = None, *, threads: int | None = None, memory_limit: str | None = None
) -> BaseBackend:
    """An Ibis backend: a new embedded DuckDB by default, or Spark, or the backend passed in.

    ``threads`` and ``memory_limit`` (e.g. ``"8GB"``) tune the embedded DuckDB
    (:func:`duckdb_config`); pass the returned backend as ``backend=`` to use it.
    """
    if backend is None or backend == "duckdb":
        return ibis.duckdb.connect(**duckdb_config(threads=threads, memory_limit=memory_limit))
    if isinstance(backend, BaseBackend):
        return backend
    if backend in ("pyspark", "spark"):
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is None:
            raise ValueError(
                "backend='pyspark' needs an active SparkSession; create one "
                "(SparkSession.builder.getOrCreate()) or pass the session as backend="
            )
        return _spark_backend(session)
    if _is_spark_session(backend):
        return _spark_backend(backend)
    raise ValueError(
        f"unknown backend {backend!r}: expected None/'duckdb', 'pyspark', a SparkSession "
        "or a connected Ibis backend (e.g. ibis.bigquery.connect(...))"
    )


def backend_name(table: ir.Table) -> str:
    """Name of the engine a table is bound to (``"duckdb"``, ``"pyspark"``, ...)."""
    return table._find_backend().name


def _temp_name() -> str:
    return f"abtest_{uuid.uuid4().hex[:16]}"


def _bind_arrow(con: BaseBackend, data: pa.Table) -> ir.Table:
    """Make an in-memory Arrow table visible to ``con`` without a row-by-row copy."""
    name = _temp_name()
    if con.name == "duckdb":
        con.con.register(name, data)  # a view over the Arrow buffers
        return con.table(name)
    if con.name == "pyspark":
        frame = con._session.createDataFrame(data)  # Spark >= 4 takes Arrow directly
        frame.createOrReplaceTempView(name)
        return con.table(name)
    try:
        return con.create_table(name, obj=data, temp=True)
    except NotImplementedError:
        return con.create_table(name, obj=data)


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    if not all(isinstance(c, str) for c in frame.columns):
        raise ValueError("DataFrame column names must be strings")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise ValueError(f"DataFrame has duplicate columns: {dup}")
    return pa.Table.from_pandas(frame, preserve_index=False)


def _read_path(con: BaseBackend, path: str | Path) -> ir.Table:
    text = str(path)
    lower = text.lower()
    local = Path(text)
    has_glob = any(ch in text for ch in "*?[")
    if "://" not in text and not has_glob and not local.exists():
        raise FileNotFoundError(f"no such file or directory: {text}")
    if local.is_dir():
        parquet = sorted(local.rglob("*.parquet"))
        csv = sorted(local.rglob("*.csv"))
        if parquet:
            return con.read_parquet(text if con.name == "pyspark" else f"{text}/**/*.parquet")
        if csv:
            return con.read_csv(text if con.name == "pyspark" else f"{text}/**/*.csv")
        raise ValueError(f"directory {text} holds no .parquet or .csv files")
    if lower.endswith(_PARQUET):
        return con.read_parquet(text)
    if lower.endswith(_CSV):
        return con.read_csv(text)
    raise ValueError(f"cannot tell the format of {text}: expected a .parquet or .csv path")


def _normalise(table: ir.Table) -> ir.Table:
    """Cast engine types Ibis does not model to ones it does.

    DuckDB >= 2 reads pandas/Arrow nanosecond timestamps as ``TIMESTAMP[TZ]_NS``, which Ibis 12
    reports as ``unknown``; they become microsecond timestamps (what Spark and most warehouses
    store), so windows and arithmetic work and every engine sees the same values.
    """
    casts = {}
    for name, dtype in table.schema().items():
        if dtype.is_unknown():
            raw = str(getattr(dtype, "raw_type", dtype)).upper()
            if "TIMESTAMPTZ" in raw or "TIMESTAMP_TZ" in raw or "WITH TIME ZONE" in raw:
                casts[name] = table[name].cast(dt.Timestamp(timezone="UTC"))
            elif "TIMESTAMP" in raw:
                casts[name] = table[name].cast(dt.Timestamp())
    return table.mutate(**casts) if casts else table


def resolve(data: DataLike, *, backend: BackendLike = None) -> ir.Table:
    """An Ibis table for ``data``, bound to the engine that will aggregate it (see module doc)."""
    return resolve_many([data], backend=backend)[0]


def resolve_many(items: Sequence[DataLike], *, backend: BackendLike = None) -> list[ir.Table]:
    """Several inputs bound to ONE engine, so they can be joined.

    The engine is, in order: ``backend=``; the backend of an ``ibis.Table`` among the inputs; the
    session of a PySpark DataFrame among them; else a new embedded DuckDB.
    """
    con: BaseBackend | None = None
    if backend is not None:
        con = connect(backend)
    for item in items:
        found: BaseBackend | None = None
        if isinstance(item, ir.Table):
            found = item._find_backend(use_default=False) if _has_backend(item) else None
        elif _is_spark_frame(item):
            found = _spark_backend(item.sparkSession)
        if found is not None:
            if con is None:
                con = found
            elif found is not con:
                raise ValueError(
                    "inputs live on different engines; pass tables of one backend "
                    f"(found {found.name} and {con.name})"
                )
    if con is None:
        con = connect(None)
    out = []
    for item in items:
        if isinstance(item, ir.Table):
            out.append(item if _has_backend(item) else _bind_arrow(con, item.to_pyarrow()))
        elif _is_spark_frame(item):
            name = _temp_name()
            item.createOrReplaceTempView(name)
            out.append(con.table(name))
        elif isinstance(item, pd.DataFrame):
            out.append(_bind_arrow(con, _to_arrow(item)))
        elif isinstance(item, pa.Table):
            out.append(_bind_arrow(con, item))
        elif isinstance(item, (str, Path)):
            out.append(_read_path(con, item))
        else:
            raise TypeError(
                "data must be a pandas DataFrame, a pyarrow Table, a parquet/CSV path, an "
                f"ibis Table or a PySpark DataFrame; got {type(item).__name__}"
            )
    return [_normalise(t) for t in out]


def _has_backend(table: ir.Table) -> bool:
    """True when the table reads from a connected backend (not only ibis.memtable data)."""
    try:
        table._find_backend(use_default=False)
    except Exception:  # ibis raises IbisError when only in-memory tables are involved
        return False
    return True
