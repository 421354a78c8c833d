"""Atomic publication of a batch: the output folder is a symlink to one complete run.

Layout for ``abtest run PLAN --out reports/demo``::

    reports/demo -> .demo.abtest/runs/<run_id>    relative symlink, swapped with one rename(2)
    reports/.demo.abtest/lock                     flock: one run at a time into this folder
    reports/.demo.abtest/runs/<run_id>/           the published run: reports, sidecars, index
    reports/.demo.abtest/staging-<run_id>/        the run being built, never reachable via OUT
    reports/.demo.abtest/cache/<key>/             outputs of successful reports (cache.py)

Why a symlink swap rather than a manifest: a reader (browser, ``ls``, a sync job) resolves
``reports/demo/...`` at each open, and ``os.replace`` of the symlink is atomic, so every path
resolves to the previous run or the new one, never a mix, and the relative links inside
``index.html`` keep working without any change. The run folder is complete (all reports,
sidecars and the index) before the swap; older runs and left-over staging folders (from a
runner killed with SIGKILL) are removed while holding the lock. Reports dropped from the plan
disappear with the old run. POSIX only (symlinks, ``fcntl.flock``).

A folder written by an older abtest (a real directory with ``index.json``) or an empty folder is
moved into the store once; any other existing folder is refused rather than touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import signal
from pathlib import Path

__all__ = ["RunInterrupted", "RunLocked", "RunStore", "StoreError"]

_LOCK_NAME = "lock"


class StoreError(ValueError):
    """The output folder cannot be used (not ours, or not a folder)."""


class RunLocked(StoreError):
    """Another run is writing the same output folder."""


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal; the previous run is still the published one."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or signal.Signals(signum).name)
        self.signum = signum
        self.message = message

    @property
    def exit_code(self) -> int:
        """Shell convention: 128 + signal number (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.signum


class RunStore:
    """The hidden store next to ``out`` and the lock that guards it."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(os.path.abspath(out))
        if self.out.name in ("", ".", ".."):
            raise StoreError(f"--out {out} must name a folder, e.g. reports/weekly")
        self.root = self.out.parent / f".{self.out.name}.abtest"
        self.runs = self.root / "runs"
        self.cache = self.root / "cache"
        self._lock_fd: int | None = None

    # -- locking -------------------------------------------------------------------------
    def acquire(self, run_id: str) -> None:
        """Take the store's lock or raise :class:`RunLocked` naming the run that holds it.

        ``flock`` is released by the kernel when the holder dies, so a killed runner never
        leaves a stale lock behind; the file only carries who holds it for the message.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / _LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who: dict = {}
            with contextlib.suppress(OSError, ValueError, TypeError):
                who = dict(json.loads(os.pread(fd, 4096, 0) or b"{}"))
            os.close(fd)
            detail = f" (pid {who.get('pid')}, started {who.get('started_at')})" if who else ""
            raise RunLocked(
                f"another abtest run{detail} is writing {self.out}; wait for it to finish "
                "or choose another --out folder"
            ) from None
        info = {"pid": os.getpid(), "run_id": run_id,
                "started_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._lock_fd = fd

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases the flock)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- layout --------------------------------------------------------------------------
    def current(self) -> Path | None:
        """Folder of the published run, or None before the first run."""
        if self.out.is_symlink():
            target = (self.out.parent / os.readlink(self.out)).resolve()
            return target if target.is_dir() else None
        return None

    def staging(self, run_id: str) -> Path:
        """Fresh staging folder for ``run_id`` (inside the store, so publish is a rename)."""
        path = self.root / f"staging-{run_id}"
        path.mkdir(parents=True)
        return path

    def prepare(self) -> None:
        """Check ``out`` can be managed, adopt a legacy folder, and remove debris of killed runs.

        Call with the lock held.
        """
        self.runs.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        if self.out.is_symlink() or not self.out.exists():
            pass
        elif not self.out.is_dir():
            raise StoreError(f"--out {self.out} exists and is not a folder")
        elif not any(self.out.iterdir()):
            self.out.rmdir()
        elif (self.out / "index.json").is_file() and _is_batch_summary(self.out / "index.json"):
            legacy = self.runs / f"legacy-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            os.rename(self.out, legacy)  # one-time move of an older abtest's output folder
            self._swap_link(legacy)
        else:
            raise StoreError(
                f"--out {self.out} is a folder that abtest did not write; choose a new folder "
                "(abtest replaces the whole folder on each run)"
            )
        self.sweep()

    def sweep(self) -> None:
        """Remove staging folders, temporary links and every run except the published one."""
        keep = self.current()
        for child in self.root.iterdir():
            if child.name.startswith("staging-") or child.name.startswith(".link-"):
                _remove(child)
        for run in self.runs.iterdir():
            if keep is None or run.resolve() != keep:
                _remove(run)

    def publish(self, staging: Path, run_id: str) -> Path:
        """Make the complete ``staging`` folder the visible run, in one atomic rename."""
        final = self.runs / run_id
        os.rename(staging, final)
        self._swap_link(final)
        return final

    def _swap_link(self, target: Path) -> None:
        tmp = self.root / f".link-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.path.relpath(target, self.out.parent), tmp)
        os.replace(tmp, self.out)
        with contextlib.suppress(OSError):  # make the swap durable before removing old runs
            dfd = os.open(self.out.parent, os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)


def _is_batch_summary(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("schema") == "abtest.report.batch"
    except (OSError, ValueError, AttributeError):
        return False


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
