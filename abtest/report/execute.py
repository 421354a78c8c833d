"""Execute one report notebook with papermill, inside a worker process.

Each report runs in its own Jupyter kernel (``kernel_name="python3"``) started by a worker of the
runner's ``ProcessPoolExecutor``; workers import papermill and nbconvert once and serve many
reports. Three limits guard a batch: papermill's per-cell ``execution_timeout``, a wall-clock
watchdog that kills the kernel when the whole notebook takes too long, and the runner's own
deadline (runner.py). Every failure becomes a :class:`ReportOutcome` with a short reason:

- a cell raises -> ``PapermillExecutionError`` -> ``"ValueError: bad data (cell 4)"``;
- a cell hangs -> nbclient ``CellTimeoutError`` (papermill does not wrap it) -> ``"timed out after 5 s"``;
- the kernel dies -> ``DeadKernelError`` -> ``"kernel died"``.

The partial notebook stays on disk in every case (papermill saves after each cell). A report
whose executed notebook grows beyond its ``max_output_mb`` is stopped after the cell that crossed
the limit and failed (a 100 MB page is no report).

Workers live in their own session (terminal Ctrl-C reaches only the runner, which stops them in
order); SIGTERM from the runner kills the worker's kernel and exits; a watcher thread does the
same when the runner disappears (SIGKILL), removing the run's staging folder, so no kernel
outlives its runner. Progress (report started, cell and section reached) is sent to the runner
over a queue.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jupyter_client.manager import AsyncKernelManager

__all__ = [
    "OutputTooLarge",
    "ReportOutcome",
    "ReportTask",
    "execute_report",
    "init_worker",
    "kernel_config",
    "sections",
]

ErrorKind = Literal["exception", "timeout", "dead_kernel", "sidecar", "export", "error", "too_large"]
_EVENTS: list[Any] = [None]  # the runner's progress queue (multiprocessing.Queue) in workers

_LIVE_KERNELS: weakref.WeakSet[AsyncKernelManager] = weakref.WeakSet()
_KERNEL_LOG: list[Any] = [None]  # open file for the current report's kernel stderr
# One thread per kernel for BLAS and for the simulator (ABTEST_THREADS): reports already run in
# parallel processes, one per core.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "ABTEST_THREADS")


class WatchedKernelManager(AsyncKernelManager):
    """Kernel manager that registers itself so the wall-clock watchdog can kill its kernel."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _LIVE_KERNELS.add(self)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # The kernel's own stderr (ZMQ tracebacks when it is killed, shutdown chatter) goes to a
        # per-report log instead of the user's terminal; cell output is unaffected.
        if _KERNEL_LOG[0] is not None:
            kw.setdefault("stderr", _KERNEL_LOG[0])
        await super()._async_launch_kernel(_ZYGOTE.wrap(kernel_cmd), **kw)


class _ZygoteClient:
    """Where this worker's kernels are forked from (zygote.py), when the runner started one."""

    def __init__(self) -> None:
        self.socket: str | None = None
        self.ready: bool | None = None

    def wait_ready(self, timeout: float = 180.0) -> bool:
        """Wait for the zygote's socket (it appears once the preload is done)."""
        if self.ready is None and self.socket:
            folder = os.path.dirname(self.socket)
            deadline = time.monotonic() + timeout
            while not os.path.exists(self.socket) and time.monotonic() < deadline:
                if os.path.exists(os.path.join(folder, "failed")) or not os.path.isdir(folder):
                    break
                time.sleep(0.05)
            self.ready = os.path.exists(self.socket)
        return bool(self.ready)

    def wrap(self, cmd: list[str]) -> list[str]:
        """Route a standard ipykernel command through the zygote when it is usable."""
        standard = len(cmd) > 3 and cmd[0] == sys.executable and cmd[1:3] == ["-m", "ipykernel_launcher"]
        if not standard or not self.wait_ready():
            return cmd
        from abtest.report.zygote import LAUNCHER

        return [sys.executable, "-I", "-S", "-c", LAUNCHER, str(self.socket), *cmd[3:]]


_ZYGOTE = _ZygoteClient()


@dataclass(frozen=True)
class ReportTask:
    """Everything a worker needs to run one report (picklable; all paths absolute)."""

    name: str
    stem: str
    notebook: str
    parameters: dict[str, Any]
    staging_dir: str
    run_id: str
    cell_timeout: float | None
    wall_timeout: float | None
    start_timeout: float = 120.0
    title: str | None = None
    max_output_mb: float | None = None


class OutputTooLarge(RuntimeError):
    """The executed notebook grew beyond the report's output limit."""


@dataclass
class ReportOutcome:
    """What happened to one report; files are in the staging folder until the runner moves them."""

    name: str
    stem: str
    status: Literal["ok", "failed"]
    duration_s: float
    notebook_path: str | None = None
    html_path: str | None = None
    record: dict[str, Any] | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel_log_path: str | None = None


def kernel_config() -> Any:
    """Traitlets config for kernels: encrypted (CurveZMQ) transport, which also silences
    ipykernel >= 7.3's "running over TCP without encryption" warning on every start."""
    import zmq
    from traitlets.config import Config

    cfg = Config()
    if zmq.has("curve"):
        cfg.KernelManager.transport_encryption = "auto"
    else:  # pragma: no cover - depends on the pyzmq build
        cfg.KernelManager.transport = "ipc"
    return cfg


def init_worker(
    zygote_socket: str | None = None,
    events: Any = None,
    runner_pid: int | None = None,
    cleanup_dir: str | None = None,
) -> None:
    """Process-pool initializer: quiet loggers, one BLAS thread per kernel, no MPLBACKEND, and
    the socket of the runner's kernel zygote (zygote.py), if any.

    MPLBACKEND is removed rather than set: kernels inherit the worker's environment, and an
    exported ``MPLBACKEND=Agg`` stops ipykernel's inline backend from capturing any figure.
    ``events`` is the runner's progress queue; ``runner_pid`` the process to outlive never
    (``cleanup_dir``, the run's staging folder, is removed if the runner dies first).
    """
    with contextlib.suppress(OSError):
        os.setsid()  # Ctrl-C in the terminal goes to the runner only; it stops workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _EVENTS[0] = events
    if runner_pid:
        threading.Thread(target=_watch_runner, args=(runner_pid, cleanup_dir), daemon=True,
                         name="abtest-watch-runner").start()
    os.environ.pop("MPLBACKEND", None)
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # nbclient logs timeouts and dead kernels through papermill's logger; the runner reports
    # them itself, in one line per report.
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    _ZYGOTE.socket = zygote_socket
    # At worker exit, skip the interpreter's slow teardown (module finalisers, lingering zmq
    # contexts: ~2 s per worker); results have been sent by then.
    atexit.register(_fast_exit)
    import nbconvert  # noqa: F401  (warm the import once per worker)
    import papermill  # noqa: F401


def _on_sigterm(signum: int, frame: Any) -> None:
    _kill_kernels()
    os._exit(128 + signum)


def _watch_runner(runner_pid: int, cleanup_dir: str | None) -> None:
    """Kill this worker's kernel and exit as soon as the runner is gone (e.g. SIGKILL)."""
    while os.getppid() == runner_pid:
        time.sleep(0.25)
    _kill_kernels()
    if cleanup_dir:
        shutil.rmtree(cleanup_dir, ignore_errors=True)
    os._exit(1)


def _emit(*event: Any) -> None:
    queue = _EVENTS[0]
    if queue is not None:
        with contextlib.suppress(Exception):
            queue.put_nowait(event)


def sections(notebook_path: str | Path) -> tuple[dict[str, str], int]:
    """Map each code cell (by id, else by source) to the last markdown heading above it; also
    the cell count as papermill will run it (plus its injected-parameters cell)."""
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    tagged = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    current, out = "", {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    current = line.lstrip("# ").strip()
                    break
        elif cell.cell_type == "code":
            out[cell.get("id") or cell.source] = current
    return out, len(nb.cells) + int(tagged)


def _hooks(task: ReportTask, output: Path) -> dict[str, Any]:
    """nbclient hooks: report the cell and section reached; stop a notebook whose outputs grow
    past the limit (measured on the cell outputs, cheaply, after each cell)."""
    try:
        where, cells = sections(task.notebook)
    except Exception:
        where, cells = {}, None
    _emit("start", task.stem, os.getpid(), cells)
    limit = (task.max_output_mb or 0) * 1e6
    used = [0]

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        _emit("cell", task.stem, cell_index, where.get(cell.get("id") or cell.source, ""))

    def on_cell_executed(cell: Any, cell_index: int, **_: Any) -> None:
        if not limit:
            return
        used[0] += len(json.dumps(cell.get("outputs", []), default=str))
        if used[0] > limit:
            raise OutputTooLarge(
                f"output too large: the notebook printed more than {task.max_output_mb:g} MB "
                f"(by cell {cell_index}); print less or save big tables to files"
            )

    return {"on_cell_start": on_cell_start, "on_cell_executed": on_cell_executed}


def _fast_exit() -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


def _kill_kernels() -> None:
    for km in list(_LIVE_KERNELS):
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def _run_papermill(task: ReportTask, output: Path, injected: dict[str, Any]) -> None:
    import papermill as pm

    pm.execute_notebook(
        task.notebook,
        str(output),
        parameters=injected,
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        start_timeout=task.start_timeout,
        execution_timeout=task.cell_timeout,
        cwd=str(Path(task.notebook).parent),
        kernel_manager_class=WatchedKernelManager,
        config=kernel_config(),
        **_hooks(task, output),
    )


def execute_report(task: ReportTask) -> ReportOutcome:
    """Execute, read the sidecar and export HTML for one report; never raises for report errors."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from abtest.report.export import export_html
    from abtest.report.sidecar import SidecarError, read_sidecar

    staging = Path(task.staging_dir)
    staging.mkdir(parents=True, exist_ok=True)
    out_nb = staging / f"{task.stem}.ipynb"
    results = staging / f"{task.stem}.results.json"
    results.unlink(missing_ok=True)
    injected = {
        **task.parameters,
        "results_path": str(results),
        "run_id": task.run_id,
        "report_name": task.name,
    }
    outcome = ReportOutcome(task.name, task.stem, "failed", 0.0, parameters=dict(task.parameters))
    fired, finished = threading.Event(), threading.Event()

    def on_deadline() -> None:
        fired.set()
        # keep killing until papermill returns: on a loaded machine the kernel may still be
        # starting when the deadline passes, and a single kill would find nothing to stop
        while not finished.is_set():
            _kill_kernels()
            finished.wait(0.5)

    kernel_log = staging / f"{task.stem}.kernel.log"
    _KERNEL_LOG[0] = kernel_log.open("wb")
    watchdog = threading.Timer(task.wall_timeout, on_deadline) if task.wall_timeout else None
    start = time.perf_counter()
    try:
        if watchdog:
            watchdog.daemon = True
            watchdog.start()
        _run_papermill(task, out_nb, injected)
    except PapermillExecutionError as exc:
        outcome.error_kind = "exception"
        where = f" (cell {exc.exec_count})" if exc.exec_count else ""
        outcome.error = f"{exc.ename}: {exc.evalue}{where}"
    except CellTimeoutError:
        outcome.error_kind = "timeout"
        outcome.error = f"timed out after {_fmt_seconds(task.cell_timeout or 0)} s (one cell ran too long)"
    except OutputTooLarge as exc:
        outcome.error_kind, outcome.error = "too_large", str(exc)
    except DeadKernelError as exc:
        if fired.is_set():
            outcome.error_kind = "timeout"
            outcome.error = f"timed out after {_fmt_seconds(task.wall_timeout or 0)} s (whole notebook)"
        else:
            outcome.error_kind = "dead_kernel"
            detail = str(exc).strip()
            outcome.error = "kernel died" + (f" ({detail})" if detail and detail != "Kernel died" else "")
    except Exception as exc:  # bad notebook JSON, missing kernel, kernel start timeout ...
        outcome.error_kind = "timeout" if fired.is_set() else "error"
        outcome.error = (
            f"timed out after {_fmt_seconds(task.wall_timeout or 0)} s (whole notebook)"
            if fired.is_set()
            else f"{type(exc).__name__}: {exc}"
        )
    else:
        outcome.status = "ok"
    finally:
        finished.set()
        if watchdog:
            watchdog.cancel()
        _kill_kernels()  # normally a no-op: nbclient shut the kernel down already
        _LIVE_KERNELS.clear()
        _KERNEL_LOG[0].close()
        _KERNEL_LOG[0] = None
    outcome.notebook_path = str(out_nb) if out_nb.exists() else None
    if outcome.error_kind == "too_large":  # do not publish the oversized partial notebook
        out_nb.unlink(missing_ok=True)
        outcome.notebook_path = None
    if outcome.status != "ok" and kernel_log.stat().st_size:
        outcome.kernel_log_path = str(kernel_log)

    if outcome.status == "ok":
        try:
            if not results.exists():
                raise SidecarError(
                    "the notebook did not call abtest.report.write_sidecar(results_path, ...)"
                )
            outcome.record = read_sidecar(results)
        except SidecarError as exc:
            outcome.status, outcome.error_kind, outcome.error = "failed", "sidecar", str(exc)
    elif results.exists():
        try:
            outcome.record = read_sidecar(results)
        except SidecarError:
            outcome.record = None

    limit = (task.max_output_mb or 0) * 1e6
    if outcome.status == "ok" and limit and out_nb.stat().st_size > limit:
        outcome.status, outcome.error_kind = "failed", "too_large"
        outcome.error = (f"output too large: {out_nb.stat().st_size / 1e6:.0f} MB of notebook "
                         f"output (limit {task.max_output_mb:g} MB)")
    if outcome.status == "ok":
        try:
            html = export_html(out_nb, title=task.title or task.name)
            html_path = staging / f"{task.stem}.html"
            html_path.write_text(html, encoding="utf-8")
            outcome.html_path = str(html_path)
        except Exception as exc:
            outcome.status, outcome.error_kind = "failed", "export"
            outcome.error = f"HTML export failed: {type(exc).__name__}: {exc}"
    outcome.duration_s = round(time.perf_counter() - start, 3)
    return outcome
