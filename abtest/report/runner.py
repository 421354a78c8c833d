"""Run a plan: parallel papermill executions, HTML export, sidecars, index, atomic publication.

Each worker slot is its own one-process ``ProcessPoolExecutor`` (spawned; as many slots as
cores by default), so a worker that dies (OOM killer, SIGKILL) fails exactly the report it was
running and only that slot's pool is rebuilt. Kernels are forked from a preloaded zygote
(zygote.py). The whole run is built in a staging folder of the output's store and published in
one atomic step (publish.py): readers of ``OUT`` see the previous run or the new one, never a
mix. Unchanged reports are reused from the cache (cache.py) unless ``force``.

Interrupts: SIGINT, SIGTERM and SIGHUP raise :class:`RunInterrupted` in the runner; workers are
stopped (they kill their kernels), the zygote is stopped, the staging folder removed and the
lock released; the previous run stays published. Reports finished before the interrupt are kept
in the cache, so the next run does not redo them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import queue as queue_mod
import shutil
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abtest.report import cache
from abtest.report.execute import ReportOutcome, ReportTask, execute_report, init_worker
from abtest.report.index import format_value, render_index
from abtest.report.plan import MAX_OUTPUT_MB, MAX_TIMEOUT, Plan, ReportSpec, load_plan
from abtest.report.progress import Progress
from abtest.report.publish import RunInterrupted, RunLocked, RunStore, StoreError
from abtest.report.sidecar import (
    SCHEMA,
    SCHEMA_VERSION,
    abtest_version,
    atomic_write_text,
    to_jsonable,
)
from abtest.report.zygote import DEFAULT_PRELOAD, Zygote

__all__ = [
    "DEFAULT_CELL_TIMEOUT",
    "DEFAULT_MAX_OUTPUT_MB",
    "BatchResult",
    "RunInterrupted",
    "RunLocked",
    "StoreError",
    "available_cores",
    "run_plan",
]

DEFAULT_CELL_TIMEOUT = 600.0
DEFAULT_MAX_OUTPUT_MB = 50.0
_GRACE = 120.0  # beyond a report's wall limit before the runner stops its worker itself
_STOP_GRACE = 3.0  # seconds a worker gets to kill its kernel after SIGTERM
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
    removed: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[dict[str, Any], ...]:
        """Records of the reports that failed."""
        return tuple(r for r in self.reports if r["status"] != "ok")

    @property
    def cached(self) -> tuple[dict[str, Any], ...]:
        """Records of the reports reused unchanged from an earlier run."""
        return tuple(r for r in self.reports if r.get("cached"))

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


def _check_limit(value: float | None, what: str, limit: float) -> None:
    if value is None:
        return
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= limit):
        raise ValueError(f"{what} must be a finite number between 0 and {limit:g}, got {value!r}")


@dataclass
class _Job:
    """One report to run: its task, cache key and covered input files."""

    spec: ReportSpec
    task: ReportTask
    key: str
    inputs: list[dict[str, str]]


@dataclass
class _Slot:
    """One worker process (a one-worker pool) and the report it is running."""

    pool: ProcessPoolExecutor | None = None
    job: _Job | None = None
    future: Future | None = None
    started: float = 0.0
    procs: list[Any] = field(default_factory=list)


def _base_record(job: _Job, run_id: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "report": job.spec.name,
        "stem": job.spec.stem,
        "title": job.spec.title,
        "run_id": run_id,
        "cache_key": job.key,
        "inputs": job.inputs,
        "sidecar": f"{job.spec.stem}.json",
    }


def _finalise(outcome: ReportOutcome, job: _Job, staging: Path, run_id: str) -> dict:
    """Move a report's staged files into the run folder and write its final sidecar."""
    stem = outcome.stem
    moved: dict[str, str | None] = {"notebook": None, "html": None, "kernel_log": None}
    for key, src, name in (
        ("notebook", outcome.notebook_path, f"{stem}.ipynb"),
        ("html", outcome.html_path if outcome.status == "ok" else None, f"{stem}.html"),
        ("kernel_log", outcome.kernel_log_path, f"{stem}.kernel.log"),
    ):
        if src and Path(src).exists():
            os.replace(src, staging / name)
            moved[key] = name
    shutil.rmtree(staging / stem, ignore_errors=True)
    nb_record = outcome.record or {}
    record = {
        **_base_record(job, run_id),
        "status": outcome.status,
        "cached": False,
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
        **moved,
    }
    atomic_write_text(staging / f"{stem}.json", json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record


def _reuse(cached: dict[str, Any], job: _Job, store: RunStore, staging: Path, run_id: str) -> dict:
    """Link a cached report's HTML and notebook into the run and write its sidecar anew."""
    cache.link_entry(store.cache, job.key, [cached["html"], cached["notebook"]], staging)
    record = {
        **cached,
        **_base_record(job, run_id),
        "cached": True,
        "unchanged_since": cached.get("unchanged_since") or cached.get("finished_at"),
        "kernel_log": None,
        "duration_s": 0.0,
    }
    atomic_write_text(staging / f"{job.spec.stem}.json", json.dumps(record, indent=2) + "\n")
    return record


def _progress_line(done: int, total: int, rec: dict) -> str:
    took = "unchanged, reused" if rec.get("cached") else f"{rec['duration_s']:.1f} s"
    head = f"[{done}/{total}] {rec['status'].upper():6} {rec['report']} ({took})"
    if rec["status"] != "ok":
        return f"{head}: {rec['error']}"
    if rec.get("decision"):
        return f"{head}: {rec['decision']}"
    first = next(iter(rec["headline"].items()), None)
    return f"{head}: {first[0]} = {format_value(first[1])}" if first else head


def _stop_pools(pools: Sequence[ProcessPoolExecutor]) -> None:
    """SIGTERM every worker (each kills its kernel and exits), SIGKILL stragglers, shut down."""
    procs = [p for pool in pools for p in list(getattr(pool, "_processes", {}).values())]
    for proc in procs:  # private attribute, stable since Python 3.2
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()
    deadline = time.monotonic() + _STOP_GRACE
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
    for pool in pools:
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False, cancel_futures=True)


_DEFER: dict[str, Any] = {"depth": 0, "pending": None}


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP raise RunInterrupted (main thread only); restored afterwards.

    Inside :func:`_deferred` sections the signal is held and raised when the section ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        for sig in _SIGNALS:  # a second Ctrl-C must not break the clean-up
            signal.signal(sig, signal.SIG_IGN)
        if _DEFER["depth"]:
            _DEFER["pending"] = signum
            return
        raise RunInterrupted(signum)

    _DEFER.update(depth=0, pending=None)
    old = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


@contextlib.contextmanager
def _deferred(*, raise_after: bool = True) -> Iterator[None]:
    """Hold signals during a step that must not be cut in half (spawning a worker mid-pickle,
    stopping workers, the publish swap); the signal takes effect when the step is done.

    A Python-level deferral, not a signal mask: a mask would be inherited by the workers and
    kernels started inside the step."""
    _DEFER["depth"] += 1
    try:
        yield
    finally:
        _DEFER["depth"] -= 1
        pending = _DEFER["pending"] if not _DEFER["depth"] else None
        if pending is not None and (not raise_after or sys.exc_info()[0] is None):
            _DEFER["pending"] = None
            if raise_after:
                raise RunInterrupted(pending)


def _previous_stems(store: RunStore) -> list[str]:
    current = store.current()
    try:
        summary = json.loads((current / "index.json").read_text(encoding="utf-8")) if current else {}
        return [r["stem"] for r in summary.get("reports", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []


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
    live: bool | None = None,
    force: bool = False,
    max_output_mb: float | None = DEFAULT_MAX_OUTPUT_MB,
) -> BatchResult:
    """Execute every report of a plan and publish the run atomically as ``out_dir``.

    Args:
        plan_path: YAML plan file (see plan.py) or an already loaded :class:`Plan`.
        out_dir: output path; becomes a symlink to the published run folder, which holds
            ``<stem>.html|.ipynb|.json`` and ``index.html`` (see publish.py).
        jobs: parallel worker processes; default: number of cores, capped at the report count.
        timeout: per-cell limit in seconds (a report's own ``timeout`` in the plan wins).
        wall_timeout: limit for a whole notebook; default ``3 * timeout + 60``.
        start_timeout: seconds to wait for a kernel to start (raised for loaded machines).
        preload: fork kernels from a process that has already imported the heavy stack
            (zygote.py); True uses ``DEFAULT_PRELOAD``, a list names the modules, False starts
            every kernel from scratch.
        progress: called with one line per finished report; default prints to stdout.
        live: draw the tqdm live display on stderr; default: when stderr is a terminal and no
            ``progress`` callback was given.
        force: re-run every report even when its cache entry is valid.
        max_output_mb: largest executed notebook per report (a plan's ``max_output_mb`` wins).

    Returns:
        A :class:`BatchResult`; ``result.exit_code`` is non-zero when any report failed.

    Raises:
        RunLocked: another run is writing ``out_dir``.
        StoreError: ``out_dir`` is an existing folder abtest did not write.
        RunInterrupted: SIGINT/SIGTERM/SIGHUP; nothing was published.
    """
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    for value, what, limit in ((timeout, "timeout", MAX_TIMEOUT), (wall_timeout, "wall_timeout", MAX_TIMEOUT),
                               (start_timeout, "start_timeout", MAX_TIMEOUT),
                               (max_output_mb, "max_output_mb", MAX_OUTPUT_MB)):
        _check_limit(value, what, limit)
    plan = plan_path if isinstance(plan_path, Plan) else load_plan(plan_path)
    emit = progress or (lambda line: print(line, flush=True))
    if live is None:
        live = progress is None and _stderr_is_terminal()
    run_id = _new_run_id()
    store = RunStore(out_dir)
    store.acquire(run_id)
    staging: Path | None = None
    try:
        store.prepare()
        staging = store.staging(run_id)
        previous = _previous_stems(store)
        with _signals_raise():
            records = _run_reports(plan, store, staging, run_id, emit=emit, live=live, force=force,
                                   jobs=jobs, timeout=timeout, wall_timeout=wall_timeout,
                                   start_timeout=start_timeout, preload=preload,
                                   max_output_mb=max_output_mb)
            stems = {r["stem"] for r in records}
            removed = tuple(s for s in previous if s not in stems)
            wall = round(time.monotonic() - t0, 3)
            _write_index(plan, staging, records, run_id, started, wall, removed)
            with _deferred(raise_after=False):  # once published, the run is complete: keep it
                store.publish(staging, run_id)
                staging = None
                store.sweep()
                cache.prune(store.cache, {r["cache_key"] for r in records if r["status"] == "ok"})
    except RunInterrupted as exc:
        current = store.current()
        shown = f"{store.out} still shows the previous run" if current else "nothing was published"
        exc.message = f"interrupted by {signal.Signals(exc.signum).name}; {shown}"
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        store.release()
    failed = sum(r["status"] != "ok" for r in records)
    reused = sum(bool(r.get("cached")) for r in records)
    index = store.out / "index.html"
    note = f", {reused} unchanged" if reused else ""
    emit(f"abtest: {len(records) - failed}/{len(records)} ok{note}, {failed} failed in {wall:.1f} s -> {index}")
    return BatchResult(run_id, store.out, index, tuple(records), wall, removed)


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _write_index(plan: Plan, staging: Path, records: list[dict], run_id: str,
                 started: dt.datetime, wall: float, removed: tuple[str, ...]) -> None:
    title = plan.title or f"abtest reports: {plan.path.stem}"
    atomic_write_text(staging / "index.html",
                      render_index(records, title=title, run_id=run_id, generated_at=started,
                                   removed=removed))
    keys = ("report", "stem", "status", "error", "html", "sidecar", "cached", "unchanged_since")
    summary = {
        "schema": "abtest.report.batch",
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "plan": str(plan.path),
        "started_at": started.isoformat(timespec="seconds"),
        "wall_time_s": wall,
        "removed": list(removed),
        "reports": [{k: r.get(k) for k in keys} for r in records],
    }
    atomic_write_text(staging / "index.json", json.dumps(summary, indent=2) + "\n")


def _jobs(plan: Plan, staging: Path, run_id: str, *, timeout: float | None,
          wall_timeout: float | None, start_timeout: float, max_output_mb: float | None) -> list[_Job]:
    out = []
    for spec in plan.reports:
        cell = spec.timeout or timeout
        wall = wall_timeout or (min(3 * cell + 60, MAX_TIMEOUT) if cell else None)
        key, inputs = cache.cache_key(notebook=spec.notebook, name=spec.name, title=spec.title,
                                      parameters=spec.parameters)
        task = ReportTask(
            name=spec.name, stem=spec.stem, notebook=str(spec.notebook),
            parameters=dict(spec.parameters), staging_dir=str(staging / spec.stem), run_id=run_id,
            cell_timeout=cell, wall_timeout=wall, start_timeout=start_timeout, title=spec.title,
            max_output_mb=spec.max_output_mb or max_output_mb,
        )
        out.append(_Job(spec, task, key, inputs))
    return out


def _run_reports(plan: Plan, store: RunStore, staging: Path, run_id: str, *,
                 emit: Callable[[str], None], live: bool, force: bool, jobs: int | None,
                 timeout: float | None, wall_timeout: float | None, start_timeout: float,
                 preload: bool | Sequence[str], max_output_mb: float | None) -> list[dict]:
    """Reuse cached reports, run the others on the worker slots; records in plan order."""
    all_jobs = _jobs(plan, staging, run_id, timeout=timeout, wall_timeout=wall_timeout,
                     start_timeout=start_timeout, max_output_mb=max_output_mb)
    n = len(all_jobs)
    display = Progress(n, emit=emit, live=live)
    records: dict[str, dict] = {}

    def done(rec: dict) -> None:
        records[rec["stem"]] = rec
        display.finished(rec["stem"], _progress_line(len(records), n, rec))

    todo: deque[_Job] = deque()
    for job in all_jobs:
        hit = None if force else cache.lookup(store.cache, job.key, job.spec.stem)
        if hit is not None:
            done(_reuse(hit, job, store, staging, run_id))
        else:
            todo.append(job)
    if not todo:
        display.close()
        return [records[j.spec.stem] for j in all_jobs]

    workers = max(1, min(jobs or available_cores(), len(todo)))
    display.message(f"abtest: running {len(todo)} of {n} report(s) from {plan.path.name} with "
                    f"{workers} worker(s) -> {store.out}")
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    modules = tuple(DEFAULT_PRELOAD if preload is True else (preload or ()))
    zygote = Zygote(modules) if modules and Zygote.available() else None
    initargs = (zygote.socket if zygote else None, events, os.getpid(), str(staging))

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=init_worker,
                                   initargs=initargs)

    slots = [_Slot() for _ in range(workers)]
    names = {j.spec.stem: j.spec.name for j in all_jobs}
    try:
        while todo or any(s.job for s in slots):
            for slot in slots:
                if slot.job is None and todo:
                    with _deferred():  # never interrupt a worker's spawn mid-pickle
                        slot.pool = slot.pool or new_pool()
                        slot.job = todo.popleft()
                        slot.future = slot.pool.submit(execute_report, slot.job.task)
                        slot.procs = list(getattr(slot.pool, "_processes", {}).values())
                    slot.started = time.monotonic()
                    display.started(slot.job.spec.stem, slot.job.spec.name)
            wait([s.future for s in slots if s.future], timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(events, display, names)
            for slot in slots:
                if slot.job is None:
                    continue
                outcome = _collect(slot)
                if outcome is None:
                    continue
                rec = _finalise(outcome, slot.job, staging, run_id)
                if rec["status"] == "ok":
                    files = [staging / rec["html"], staging / rec["notebook"], staging / rec["sidecar"]]
                    cache.save_entry(store.cache, slot.job.key, files, run_id)
                done(rec)
                slot.job = slot.future = None
            display.tick()
    finally:
        with _deferred():  # a signal now takes effect after the clean-up, not inside it
            display.close()
            _stop_pools([s.pool for s in slots if s.pool])
            if zygote is not None:
                zygote.stop()
            with contextlib.suppress(Exception):
                events.close()
                events.cancel_join_thread()
    return [records[j.spec.stem] for j in all_jobs]


def _drain(events: Any, display: Progress, names: dict[str, str]) -> None:
    while True:
        try:
            event = events.get_nowait()
        except queue_mod.Empty:
            return
        except Exception:  # a worker killed mid-message: skip the fragment
            return
        if event[0] == "start" and event[1] in names:
            display.started(event[1], names[event[1]], event[3])
        elif event[0] == "cell":
            display.cell(event[1], event[2], event[3])


def _collect(slot: _Slot) -> ReportOutcome | None:
    """The slot's outcome if its report finished, died with its worker, or overran its limit."""
    assert slot.job is not None and slot.future is not None
    task = slot.job.task
    if slot.future.done():
        try:
            return slot.future.result()
        except Exception as exc:  # the worker process died (OOM killer, SIGKILL, ...)
            how = _exit_description(slot)
            _stop_pools([slot.pool]) if slot.pool else None
            slot.pool = None  # rebuilt for the next report
            return ReportOutcome(
                task.name, task.stem, "failed", round(time.monotonic() - slot.started, 3),
                error_kind="error", parameters=task.parameters,
                error=f"the worker process running this report died{how} "
                f"({type(exc).__name__}); the other reports were not affected",
            )
    limit = (task.wall_timeout or 0) + _GRACE
    if task.wall_timeout and time.monotonic() - slot.started > limit:
        _stop_pools([slot.pool]) if slot.pool else None
        slot.pool = None
        return ReportOutcome(
            task.name, task.stem, "failed", round(time.monotonic() - slot.started, 3),
            error_kind="timeout", parameters=task.parameters,
            error=f"timed out: no answer {limit:g} s after the start; the worker was stopped",
        )
    return None


def _exit_description(slot: _Slot) -> str:
    for proc in slot.procs:
        with contextlib.suppress(Exception):
            proc.join(1.0)
            code, deadline = proc.exitcode, time.monotonic() + 3.0
            while code is None and time.monotonic() < deadline:  # the pool's manager thread
                time.sleep(0.05)                                  # may be reaping it right now
                code = proc.exitcode
            if code is not None and code < 0:
                return f" (killed by {signal.Signals(-code).name})"
            if code is not None:
                return f" (exit status {code})"
    return ""
