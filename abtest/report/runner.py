"""Run a plan: parallel papermill executions, HTML export, sidecars and the index page.

Reports run in a ``ProcessPoolExecutor`` (spawned workers, as many as cores by default), each
worker executing notebooks in fresh kernels and exporting HTML in-process (execute.py). Outputs
are staged in ``OUT/.abtest-staging-<run_id>/`` and moved into place with ``os.replace`` as each
report finishes, so a reader of ``OUT`` never sees a half-written file. The index is rewritten
(atomically) at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import multiprocessing as mp
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abtest.report.execute import ReportOutcome, ReportTask, execute_report, init_worker
from abtest.report.index import format_value, render_index
from abtest.report.plan import Plan, load_plan
from abtest.report.sidecar import (
    SCHEMA,
    SCHEMA_VERSION,
    abtest_version,
    atomic_write_text,
    to_jsonable,
)
from abtest.report.zygote import DEFAULT_PRELOAD, Zygote

__all__ = ["DEFAULT_CELL_TIMEOUT", "BatchResult", "available_cores", "run_plan"]

DEFAULT_CELL_TIMEOUT = 600.0
_GRACE = 120.0


def available_cores() -> int:
    """CPU cores this process may use (affinity-aware on Linux)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BatchResult:
    """Outcome of a batch: final sidecar records in plan order, plus where the index is."""

    run_id: str
    out_dir: Path
    index_path: Path
    reports: tuple[dict[str, Any], ...]
    wall_time_s: float

    @property
    def failed(self) -> tuple[dict[str, Any], ...]:
        """Records of the reports that failed."""
        return tuple(r for r in self.reports if r["status"] != "ok")

    @property
    def ok(self) -> bool:
        """True when every report succeeded."""
        return not self.failed

    @property
    def exit_code(self) -> int:
        """Process exit status for the CLI: 0 when all reports succeeded, else 1."""
        return 0 if self.ok else 1

    def by_name(self, name: str) -> dict[str, Any]:
        """Final record of the report called ``name`` (display name or file stem)."""
        for rec in self.reports:
            if name in (rec["report"], rec["stem"]):
                return rec
        raise KeyError(name)


def _new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _finalise(outcome: ReportOutcome, out_dir: Path, run_id: str, title: str | None) -> dict:
    """Move staged files into ``out_dir`` atomically and write the final sidecar."""
    stem = outcome.stem
    notebook = html = None
    if outcome.notebook_path and Path(outcome.notebook_path).exists():
        os.replace(outcome.notebook_path, out_dir / f"{stem}.ipynb")
        notebook = f"{stem}.ipynb"
    if outcome.status == "ok" and outcome.html_path:
        os.replace(outcome.html_path, out_dir / f"{stem}.html")
        html = f"{stem}.html"
    else:  # never leave last run's report looking current
        (out_dir / f"{stem}.html").unlink(missing_ok=True)
    kernel_log = None
    if outcome.kernel_log_path and Path(outcome.kernel_log_path).exists():
        os.replace(outcome.kernel_log_path, out_dir / f"{stem}.kernel.log")
        kernel_log = f"{stem}.kernel.log"
    else:
        (out_dir / f"{stem}.kernel.log").unlink(missing_ok=True)
    nb_record = outcome.record or {}
    record = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "report": outcome.name,
        "stem": stem,
        "title": title,
        "run_id": run_id,
        "status": outcome.status,
        "abtest_version": nb_record.get("abtest_version") or abtest_version(),
        "decision": nb_record.get("decision"),
        "headline": nb_record.get("headline") or {},
        "parameters": to_jsonable(outcome.parameters, "parameters"),
        "notebook_parameters": nb_record.get("parameters") or {},
        "extra": nb_record.get("extra") or {},
        "error": outcome.error,
        "error_kind": outcome.error_kind,
        "duration_s": outcome.duration_s,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "html": html,
        "notebook": notebook,
        "sidecar": f"{stem}.json",
        "kernel_log": kernel_log,
    }
    atomic_write_text(out_dir / f"{stem}.json", json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record


def _progress_line(done: int, total: int, rec: dict) -> str:
    head = f"[{done}/{total}] {rec['status'].upper():6} {rec['report']} ({rec['duration_s']:.1f} s)"
    if rec["status"] != "ok":
        return f"{head}: {rec['error']}"
    if rec.get("decision"):
        return f"{head}: {rec['decision']}"
    first = next(iter(rec["headline"].items()), None)
    return f"{head}: {first[0]} = {format_value(first[1])}" if first else head


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Last resort when a worker stopped answering: terminate the pool's processes."""
    for proc in list(getattr(pool, "_processes", {}).values()):  # private, stable since 3.2
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_plan(
    plan_path: str | Path | Plan,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    timeout: float | None = DEFAULT_CELL_TIMEOUT,
    wall_timeout: float | None = None,
    start_timeout: float = 120.0,
    preload: bool | Sequence[str] = True,
    progress: Callable[[str], None] | None = None,
) -> BatchResult:
    """Execute every report of a plan into ``out_dir`` and write ``out_dir/index.html``.

    Args:
        plan_path: YAML plan file (see plan.py) or an already loaded :class:`Plan`.
        out_dir: output folder (created); holds ``<stem>.html|.ipynb|.json`` and ``index.html``.
        jobs: parallel worker processes; default: number of cores, capped at the report count.
        timeout: per-cell limit in seconds (a report's own ``timeout`` in the plan wins).
        wall_timeout: limit for a whole notebook; default ``3 * timeout + 60``.
        start_timeout: seconds to wait for a kernel to start (raised for loaded machines).
        preload: fork kernels from a per-worker process that has already imported the heavy
            stack (zygote.py); True uses ``DEFAULT_PRELOAD``, a list names the modules, False
            starts every kernel from scratch.
        progress: called with one line per finished report; default prints to stdout.

    Returns:
        A :class:`BatchResult`; ``result.exit_code`` is non-zero when any report failed.
    """
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    plan = plan_path if isinstance(plan_path, Plan) else load_plan(plan_path)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    emit = progress or (lambda line: print(line, flush=True))
    run_id = _new_run_id()
    staging = out / f".abtest-staging-{run_id}"
    staging.mkdir()
    n = len(plan.reports)
    workers = max(1, min(jobs or available_cores(), n))

    tasks: list[ReportTask] = []
    for spec in plan.reports:
        cell = spec.timeout or timeout
        wall = wall_timeout or (3 * cell + 60 if cell else None)
        tasks.append(
            ReportTask(
                name=spec.name,
                stem=spec.stem,
                notebook=str(spec.notebook),
                parameters=dict(spec.parameters),
                staging_dir=str(staging / spec.stem),
                run_id=run_id,
                cell_timeout=cell,
                wall_timeout=wall,
                start_timeout=start_timeout,
                title=spec.title,
            )
        )
    walls = [t.wall_timeout for t in tasks]
    deadline = (
        t0 + max(w for w in walls if w) * math.ceil(n / workers) + _GRACE if all(walls) else None
    )
    emit(f"abtest: running {n} report(s) from {plan.path.name} with {workers} worker(s) -> {out}")

    records: dict[str, dict] = {}
    modules = tuple(DEFAULT_PRELOAD if preload is True else (preload or ()))
    zygote = Zygote(modules) if modules and Zygote.available() else None
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=init_worker,
        initargs=(zygote.socket if zygote else None,),
    )
    futures: dict[Future, ReportTask] = {}
    try:
        futures = {pool.submit(execute_report, task): task for task in tasks}
        pending = set(futures)
        while pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            if not done:  # batch deadline passed: workers are stuck beyond every limit
                break
            for fut in done:
                task = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # worker process crashed (e.g. OOM-killed)
                    outcome = ReportOutcome(
                        task.name, task.stem, "failed", 0.0, error_kind="error",
                        error=f"worker crashed: {type(exc).__name__}: {exc}",
                        parameters=task.parameters,
                    )
                rec = _finalise(outcome, out, run_id, task.title)
                records[task.stem] = rec
                emit(_progress_line(len(records), n, rec))
        for fut in pending:
            task = futures[fut]
            outcome = ReportOutcome(
                task.name, task.stem, "failed", round(time.monotonic() - t0, 3), error_kind="timeout",
                error="timed out: the batch deadline passed and the worker was stopped",
                parameters=task.parameters,
            )
            records[task.stem] = _finalise(outcome, out, run_id, task.title)
            emit(_progress_line(len(records), n, records[task.stem]))
        if pending:
            _kill_pool(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if zygote is not None:
            zygote.stop()
        shutil.rmtree(staging, ignore_errors=True)

    ordered = tuple(records[t.stem] for t in tasks)
    title = plan.title or f"abtest reports: {plan.path.stem}"
    index = out / "index.html"
    atomic_write_text(index, render_index(ordered, title=title, run_id=run_id, generated_at=started))
    summary = {
        "schema": "abtest.report.batch",
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "plan": str(plan.path),
        "started_at": started.isoformat(timespec="seconds"),
        "wall_time_s": round(time.monotonic() - t0, 3),
        "reports": [{k: r[k] for k in ("report", "stem", "status", "error", "html", "sidecar")} for r in ordered],
    }
    atomic_write_text(out / "index.json", json.dumps(summary, indent=2) + "\n")
    failed = sum(r["status"] != "ok" for r in ordered)
    emit(f"abtest: {n - failed}/{n} ok, {failed} failed in {summary['wall_time_s']:.1f} s -> {index}")
    return BatchResult(run_id, out, index, ordered, summary["wall_time_s"])
