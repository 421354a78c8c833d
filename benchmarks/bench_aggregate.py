"""Benchmark: events -> per-lead window sums -> sufficient statistics per segment × arm × metric.

Compares, on the same synthetic parquet data (10M events by default):
  * abtest: ``user_metrics`` + ``sufficient_stats`` (one Ibis expression on embedded DuckDB),
  * a plain pandas pipeline (read parquet, merge, masks, two groupbys),
  * a hand-written DuckDB SQL query of the same quantities,
each in its own child process so peak memory (ru_maxrss) is per measurement; then abtest at
1M / 3M / 10M events for scaling. Usage: ``python benchmarks/bench_aggregate.py [--events 10e6]``.
Goals (issue 6): >= 5x faster than pandas, within 1.5x of hand-written SQL, peak < 2 GB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

HORIZON, PRE = 7, 28
METRICS = ["conversion_rate", "revenue_per_lead", "ctr"]


def run_abtest(events: str, assignments: str) -> object:
    from abtest.aggregate import sufficient_stats, user_metrics

    table = user_metrics(events, assignments, horizon_days=HORIZON, pre_period_days=PRE)
    return sufficient_stats(table, metrics=METRICS, segment="segment")


def run_pandas(events: str, assignments: str) -> object:
    import numpy as np
    import pandas as pd

    ev = pd.read_parquet(events, columns=["user_id", "timestamp", "event", "value"])
    asg = pd.read_parquet(assignments, columns=["user_id", "arm", "segment", "entry_time"])
    m = asg.merge(ev, on="user_id", how="left")
    ts, start = m["timestamp"], m["entry_time"]
    post = ((ts >= start) & (ts < start + pd.Timedelta(days=HORIZON))).fillna(False)
    pre = ((ts >= start - pd.Timedelta(days=PRE)) & (ts < start)).fillna(False)
    ev_name = m["event"].astype("string")
    buy = (ev_name == "Purchase").fillna(False)
    value = m["value"].fillna(0.0).to_numpy()
    cols = pd.DataFrame(
        {
            "user_id": m["user_id"],
            "impressions": (post & (ev_name == "Impression").fillna(False)).astype("int64"),
            "clicks": (post & (ev_name == "AdClick").fillna(False)).astype("int64"),
            "conversions": (post & buy).astype("int64"),
            "revenue": np.where(post & buy, value, 0.0),
            "pre_conversions": (pre & buy).astype("int64"),
            "pre_revenue": np.where(pre & buy, value, 0.0),
        }
    )
    per_user = cols.groupby("user_id", sort=False).sum()
    users = asg.set_index("user_id").join(per_user)
    users["converted"] = (users["conversions"] > 0).astype("float64")
    for col in ("converted", "revenue", "clicks", "impressions"):
        users[f"{col}_sq"] = users[col].astype("float64") ** 2
    users["cross"] = users["clicks"] * users["impressions"]
    return users.groupby(["segment", "arm"], observed=True).agg(
        n=("converted", "size"),
        conv=("converted", "sum"),
        rev=("revenue", "sum"),
        rev_sq=("revenue_sq", "sum"),
        clicks=("clicks", "sum"),
        clicks_sq=("clicks_sq", "sum"),
        imps=("impressions", "sum"),
        imps_sq=("impressions_sq", "sum"),
        cross=("cross", "sum"),
    )


SQL = """
WITH per_user AS (
  SELECT a.user_id, a.arm, a.segment,
    count(*) FILTER (WHERE e.ts >= a.entry_time AND e.ts < a.entry_time + INTERVAL {h} DAY
                     AND e.event = 'Impression') AS impressions,
    count(*) FILTER (WHERE e.ts >= a.entry_time AND e.ts < a.entry_time + INTERVAL {h} DAY
                     AND e.event = 'AdClick') AS clicks,
    count(*) FILTER (WHERE e.ts >= a.entry_time AND e.ts < a.entry_time + INTERVAL {h} DAY
                     AND e.event = 'Purchase') AS conversions,
    coalesce(sum(e.value) FILTER (WHERE e.ts >= a.entry_time
        AND e.ts < a.entry_time + INTERVAL {h} DAY AND e.event = 'Purchase'), 0) AS revenue,
    count(*) FILTER (WHERE e.ts >= a.entry_time - INTERVAL {p} DAY AND e.ts < a.entry_time
                     AND e.event = 'Purchase') AS pre_conversions,
    coalesce(sum(e.value) FILTER (WHERE e.ts >= a.entry_time - INTERVAL {p} DAY
        AND e.ts < a.entry_time AND e.event = 'Purchase'), 0) AS pre_revenue
  FROM read_parquet('{a}') a
  LEFT JOIN (SELECT user_id, "timestamp" AS ts, event, value FROM read_parquet('{e}')
             WHERE event IN ('Impression', 'AdClick', 'Purchase')) e USING (user_id)
  GROUP BY ALL
)
SELECT segment, arm, count(*) AS n,
  sum((conversions > 0)::INT) AS conv,
  sum(revenue) AS rev, sum(revenue * revenue) AS rev_sq,
  sum(clicks) AS clicks, sum(clicks * clicks) AS clicks_sq,
  sum(impressions) AS imps, sum(impressions * impressions) AS imps_sq,
  sum(clicks * impressions) AS cross_sum
FROM per_user GROUP BY ALL ORDER BY ALL
"""


def run_sql(events: str, assignments: str) -> object:
    import duckdb

    con = duckdb.connect()
    return con.sql(SQL.format(h=HORIZON, p=PRE, a=assignments, e=events)).df()


RUNNERS = {"abtest": run_abtest, "pandas": run_pandas, "sql": run_sql}


def _child(name: str, events: str, assignments: str, queue: mp.Queue) -> None:
    import duckdb  # noqa: F401  (imports are not part of the timing)
    import pandas  # noqa: F401

    import abtest.aggregate  # noqa: F401

    start = time.perf_counter()
    result = RUNNERS[name](events, assignments)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((elapsed, peak_mb, len(result)))  # type: ignore[arg-type]


def measure(name: str, events: str, assignments: str) -> tuple[float, float]:
    """(seconds, peak resident MB) of one run in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, events, assignments, queue))
    proc.start()
    elapsed, peak, rows = queue.get()
    proc.join()
    if rows < 2:
        raise RuntimeError(f"{name} returned {rows} rows")
    return elapsed, peak


def dataset(root: Path, n_events: int) -> tuple[str, str, int]:
    from abtest.aggregate.synthetic import generate

    folder = root / f"events_{n_events}"
    if not (folder / "events.parquet").exists():
        t = time.perf_counter()
        data = generate(folder, n_events=n_events, seed=42)
        print(f"generated {data.n_events:,} events / {data.n_users:,} leads "
              f"in {time.perf_counter() - t:.1f} s -> {folder}")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(folder / "events.parquet").metadata.num_rows
    return str(folder / "events.parquet"), str(folder / "assignments.parquet"), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=10e6)
    parser.add_argument("--data", type=Path, default=Path("/tmp/abtest-bench"))
    args = parser.parse_args()
    n = int(args.events)
    events, assignments, rows = dataset(args.data, n)
    print(f"data: {rows:,} events")
    results = {name: measure(name, events, assignments) for name in ("abtest", "pandas", "sql")}
    for name, (sec, mb) in results.items():
        print(f"{name:>7}: {sec:7.2f} s   peak {mb:7.0f} MB")
    t_ab, t_pd, t_sql = results["abtest"][0], results["pandas"][0], results["sql"][0]
    print(f"abtest vs pandas: {t_pd / t_ab:.1f}x faster (goal >= 5x); "
          f"abtest / hand-written SQL: {t_ab / t_sql:.2f}x (goal <= 1.5x); "
          f"abtest peak {results['abtest'][1]:.0f} MB (goal < 2048 MB)")
    sizes = sorted({max(1, n // 10), max(1, (3 * n) // 10), n})
    timings = []
    for size in sizes:
        ev, asg, count = dataset(args.data, size)
        sec = results["abtest"][0] if size == n else measure("abtest", ev, asg)[0]
        timings.append((count, sec))
    line = ", ".join(f"{c / 1e6:.1f}M: {s:.2f} s ({s / c * 1e9:.0f} ns/event)" for c, s in timings)
    print(f"scaling (abtest on DuckDB): {line}")


if __name__ == "__main__":
    main()
