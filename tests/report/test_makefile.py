"""The Makefile's promises: a light `make demo`, full `make test`, `make lab` starting as root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(target: str) -> str:
    """Commands `make TARGET` would run on a fresh clone (-B: every stamp out of date)."""
    proc = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return proc.stdout


def test_demo_installs_runtime_only_and_shows_progress():
    cmds = _dry_run("demo")
    installs = [ln for ln in cmds.splitlines() if "pip install" in ln]
    assert installs[-1].endswith("-e .")  # no extras: no pyspark, playwright, pytest, jupyterlab
    assert "--quiet" not in cmds and " -q " not in cmds
    assert "abtest demo --out reports/demo" in cmds and "done in" in cmds


def test_test_installs_dev_and_spark_extras():
    cmds = _dry_run("test")
    assert '-e ".[dev,spark]"' in cmds and "--quiet" not in cmds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_make_lab_starts_on_loopback_and_stops():
    if not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("JupyterLab is not installed in .venv")
    port, token = _free_port(), "abtest-test-token"
    # -o: treat the install stamp as up to date (the test must not pip install)
    proc = subprocess.Popen(
        ["make", "-o", ".venv/.stamp-lab", "-o", ".venv/bin/python", "lab", f"LAB_PORT={port}",
         f"LAB_OPTS=--no-browser --ServerApp.token={token}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        status, deadline = None, time.monotonic() + 90
        while status is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/status?token={token}"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    status = json.loads(resp.read())
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read()  # it did not refuse to run (as root)
        assert status is not None and "started" in status
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with socket.socket() as s:  # stopped: the port is free again
        assert s.connect_ex(("127.0.0.1", port)) != 0
