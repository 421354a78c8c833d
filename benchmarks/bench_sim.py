"""Simulator benchmarks (issue 4): MC lead-days/s, EV policy x segment evaluations/s, peak memory.

Run: ``python benchmarks/bench_sim.py`` (a few seconds on 2 cores). Prints one line per figure.
Threads for the MC engine: all CPUs this process may use, or ``ABTEST_THREADS``.
"""

from __future__ import annotations

import resource
import time

import numpy as np

from abtest.sim import SimParams, draw_leads, expected_outcomes, run_block
from abtest.sim.engine import default_threads
from abtest.sim.policy import RetargetingPolicy, policy_grid


def main() -> None:
    sim = SimParams()
    seg = sim.warm
    n, days = 1_000_000, 90
    leads = draw_leads(seg, sim, n, seed=1)
    pol = RetargetingPolicy(gap_days=1, active_window_days=89, weekly_frequency=2.0)
    threads = default_threads()
    t0, c0 = time.perf_counter(), time.process_time()
    par = run_block(seg, pol, leads, horizon_days=days, sim=sim, seed=1, threads=threads)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"MC engine: {n * days / dt / 1e6:.1f} M lead-days/s "
          f"(1M leads x 90 days, ads every day, {threads} threads, in {dt:.2f} s wall / "
          f"{dc:.2f} s CPU; goal >= 100 M/s, < 1 s)")
    t0, c0 = time.perf_counter(), time.process_time()
    seq = run_block(seg, pol, leads, horizon_days=days, sim=sim, seed=1, threads=1)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    same = all(np.array_equal(getattr(par, f), getattr(seq, f))
               for f in ("conv_day", "click_at_conv", "imp_at_conv", "hidden", "impressions",
                         "clicks"))
    print(f"MC engine, 1 thread: {n * days / dt / 1e6:.1f} M lead-days/s "
          f"({dt:.2f} s wall / {dc:.2f} s CPU; results identical to {threads} threads: {same})")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {rss_mb:.0f} MB resident for 1M leads incl. interpreter and imports "
          f"(goal < 1024 MB)")

    grid = policy_grid(gap_days=range(0, 25), active_window_days=range(5, 85, 4),
                       weekly_frequency=(0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 21,
                                         25, 30, 35, 42, 50), include_holdout=False)
    grid = grid[:10_000]
    t0, c0 = time.perf_counter(), time.process_time()
    expected_outcomes(grid, "warm", sim=sim, horizon_days=days)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"EV engine: {len(grid) / dt:,.0f} policy x segment evaluations/s "
          f"({len(grid)} policies x 90 days in {dt:.2f} s wall / {dc:.2f} s CPU; "
          f"goal 10,000 in < 1 s)")

    # worst case for work sharing: every policy its own delivery rate, gap and window
    rng = np.random.default_rng(0)
    loose = [RetargetingPolicy(name=f"p{i}", gap_days=int(rng.integers(0, 25)),
                               active_window_days=int(rng.integers(5, 85)),
                               weekly_frequency=float(rng.uniform(0.5, 50.0)))
             for i in range(1000)]
    t0 = time.perf_counter()
    expected_outcomes(loose, "warm", sim=sim, horizon_days=days)
    dt = time.perf_counter() - t0
    print(f"EV engine, no shared delivery: {len(loose) / dt:,.0f} evaluations/s "
          f"({len(loose)} random policies x 90 days in {dt:.2f} s; informational)")


if __name__ == "__main__":
    main()
