"""Batch runner vs a plain CLI loop, and an unchanged re-run (report cache), same plan, one run.

    python benchmarks/bench_runner.py [PLAN.yml] [--jobs N]

abtest: ``run_plan`` (parallel worker processes, kernels forked from a preloaded zygote,
in-process HTML export) into a fresh folder, then again with nothing changed (every report
reused from the cache: notebook, parameters, input files and abtest unchanged). Baseline: for
each report, ``papermill NB OUT -k python3 -f params.yaml`` then ``jupyter nbconvert --to html
--no-input OUT``, one after the other. Prints the wall times and ratios beside their goals
(first run >= 4x the loop on 2 cores; unchanged re-run >= 10x faster than the first run).
Default plan: notebooks/plans/demo.yml when it exists, else tests/report/plans/bench.yml.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abtest.report.plan import load_plan  # noqa: E402
from abtest.report.runner import run_plan  # noqa: E402


def default_plan() -> Path:
    demo = ROOT / "notebooks" / "plans" / "demo.yml"
    return demo if demo.exists() else ROOT / "tests" / "report" / "plans" / "bench.yml"


def cli_loop(plan_path: Path, out: Path) -> tuple[float, int]:
    """The naive way: one papermill and one nbconvert process per report, sequentially."""
    bindir = Path(sys.executable).parent
    plan = load_plan(plan_path)
    failures = 0
    t0 = time.perf_counter()
    for spec in plan.reports:
        nb_out = out / f"{spec.stem}.ipynb"
        params = {**spec.parameters, "results_path": str(out / f"{spec.stem}.results.json"),
                  "run_id": "baseline", "report_name": spec.name}
        pfile = out / f"{spec.stem}.params.yaml"
        pfile.write_text(yaml.safe_dump(params))
        pm = subprocess.run(
            [str(bindir / "papermill"), str(spec.notebook), str(nb_out), "-k", "python3",
             "-f", str(pfile), "--cwd", str(spec.notebook.parent), "--no-progress-bar"],
            capture_output=True, text=True, check=False,
        )
        if pm.returncode != 0:
            failures += 1
            continue
        nbc = subprocess.run(
            [str(bindir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb_out)],
            capture_output=True, text=True, check=False,
        )
        failures += nbc.returncode != 0
    return time.perf_counter() - t0, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", nargs="?", type=Path, default=default_plan())
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    n = len(load_plan(args.plan).reports)
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        tmp = Path(tmp)
        (tmp / "cli").mkdir()
        t0 = time.perf_counter()
        result = run_plan(args.plan, tmp / "abtest", jobs=args.jobs, progress=lambda s: None)
        t_abtest = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_plan(args.plan, tmp / "abtest", jobs=args.jobs, progress=lambda s: None)
        t_again = time.perf_counter() - t0
        t_cli, cli_failed = cli_loop(args.plan, tmp / "cli")
    print(
        f"bench_runner: {n} reports from {args.plan.name}: abtest run_plan {t_abtest:.1f} s "
        f"({len(result.failed)} failed) vs papermill+nbconvert CLI loop {t_cli:.1f} s "
        f"({cli_failed} failed): {t_cli / t_abtest:.2f}x faster (goal >= 4x)"
    )
    print(
        f"bench_runner: unchanged re-run {t_again:.2f} s ({len(again.cached)}/{n} reports reused "
        f"from the cache) vs first run {t_abtest:.1f} s: {t_abtest / t_again:.1f}x faster "
        f"(goal >= 10x)"
    )


if __name__ == "__main__":
    main()
