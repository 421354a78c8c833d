"""Acceptance tests of the batch as a whole: atomic publication under interrupts, the run lock,
a killed worker, output limits and the report cache (issue 12 item 4, issue 15 item 6).

Interrupts are sent to a real ``abtest run`` process at seeded random moments; afterwards the
output folder must hold exactly one complete run, no process of the run may survive, and a
re-run recovers.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from abtest.cli import main
from abtest.report import run_plan

NOTEBOOKS = Path(__file__).parent / "notebooks"
pytestmark = [pytest.mark.slow, pytest.mark.notebooks, pytest.mark.timeout(240)]

SLOW_PLAN = """
title: slow batch
reports:
  - {name: slow-a, notebook: '{nb}/slow.ipynb', parameters: {step_s: 1.5, label: a}}
  - {name: slow-b, notebook: '{nb}/slow.ipynb', parameters: {step_s: 1.5, label: b}}
  - {name: quick, notebook: '{nb}/ok.ipynb', parameters: {n: 200}}
"""


def _store(out: Path) -> Path:
    return out.parent / f".{out.name}.abtest"


def assert_one_complete_run(out: Path, plan_names: set[str]) -> dict:
    """OUT links to one run whose index lists every report of the plan with its files."""
    assert out.is_symlink()
    store = _store(out)
    assert sorted(p.name for p in store.iterdir()) == ["cache", "lock", "runs"], "staging left behind"
    runs = list((store / "runs").iterdir())
    assert len(runs) == 1 and out.resolve() == runs[0].resolve()
    summary = json.loads((out / "index.json").read_text())
    assert {r["report"] for r in summary["reports"]} == plan_names
    page = (out / "index.html").read_text()
    assert summary["run_id"] in page
    for rec in summary["reports"]:
        side = json.loads((out / rec["sidecar"]).read_text())
        assert side["run_id"] == summary["run_id"] and side["status"] == rec["status"]
        if rec["status"] == "ok":
            assert (out / rec["html"]).stat().st_size > 1000
    return summary


def _cli(plan: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "abtest.cli", "run", str(plan), "--out", str(out), "--jobs", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A folder holding one complete, successful run of the slow plan."""
    base = tmp_path_factory.mktemp("published")
    plan = base / "plan.yml"
    plan.write_text(SLOW_PLAN.replace("{nb}", str(NOTEBOOKS)))
    result = run_plan(plan, base / "out", jobs=2, progress=lambda s: None)
    assert result.ok, result.failed
    return base, result.run_id


def _descendants(proc: psutil.Process, seen: dict[int, psutil.Process]) -> None:
    try:
        for child in proc.children(recursive=True):
            seen.setdefault(child.pid, child)
    except psutil.Error:
        pass


# a seeded random moment after the run took its lock, or the moment the first report finished
# (kernels of the other reports are running then)
CASES = [(sig, moment) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL) for moment in (1, 2)]
CASES += [(signal.SIGINT, "first-done"), (signal.SIGKILL, "first-done")]


@pytest.mark.parametrize(("sig", "moment"), CASES, ids=[f"{s.name}-{k}" for s, k in CASES])
def test_interrupt_at_a_random_moment_leaves_one_complete_run(published, tmp_path, sig, moment):
    base, first_id = published
    shutil.copytree(base, tmp_path / "case", symlinks=True)
    plan, out = tmp_path / "case" / "plan.yml", tmp_path / "case" / "out"
    names = {"slow-a", "slow-b", "quick"}
    delay = 120.0 if moment == "first-done" else float(np.random.default_rng(moment).uniform(0.0, 6.0))

    proc = _cli(plan, out, "--force")
    runner = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    lock = _store(out) / "lock"
    deadline = time.monotonic() + 60  # the random moment counts from when the run holds the lock
    while str(proc.pid) not in lock.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        _descendants(runner, seen)  # workers, zygote, launchers, kernels
        if moment == "first-done" and list(_store(out).glob("staging-*/*.json")):
            break
        time.sleep(0.05)
    _descendants(runner, seen)
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)  # EOF only once every holder of the pipes is gone
    except subprocess.TimeoutExpired:
        if proc.poll() is None:
            proc.send_signal(signal.SIGABRT)  # faulthandler: where did the runner hang?
        _, err = proc.communicate(timeout=30)
        living = [(p.pid, p.cmdline()[:4]) for p in seen.values() if p.is_running()]
        pytest.fail(f"the run did not end (runner rc {proc.returncode}); alive: {living}\n{err}")
    finally:
        _, alive = psutil.wait_procs(list(seen.values()), timeout=20)
        for leftover in alive:  # keep later tests clean, then fail
            leftover.kill()
    assert not alive, f"processes of the run survived: {alive}"

    finished = proc.returncode == 0
    summary = assert_one_complete_run(out, names)
    if finished:  # the signal came too late: the new run is published, complete
        assert summary["run_id"] != first_id
    else:
        assert summary["run_id"] == first_id  # the previous run, untouched
        if sig is signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == 128 + sig
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0] == (
                f"abtest: interrupted by {sig.name}; {out} still shows the previous run"), err

    again = _cli(plan, out)  # re-running recovers (finished reports come from the cache)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert assert_one_complete_run(out, names)["run_id"] not in (first_id, summary["run_id"])


def test_concurrent_run_is_refused_cleanly(published, tmp_path, capsys):
    base, _ = published
    shutil.copytree(base, tmp_path / "case", symlinks=True)
    plan, out = tmp_path / "case" / "plan.yml", tmp_path / "case" / "out"
    first = _cli(plan, out, "--force")
    lock = _store(out) / "lock"
    deadline = time.monotonic() + 30
    while not lock.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert main(["run", str(plan), "--out", str(out), "--force"]) == 75
    err = capsys.readouterr().err
    assert f"another abtest run (pid {first.pid}, started" in err and "wait for it" in err
    _, ferr = first.communicate(timeout=120)
    assert first.returncode == 0, ferr  # the first run was not disturbed
    summary = assert_one_complete_run(out, {"slow-a", "slow-b", "quick"})
    assert not any(r["cached"] for r in summary["reports"])  # --force re-ran the unchanged ones


def test_killed_worker_fails_only_its_report_and_output_is_bounded(tmp_path, write_plan):
    plan = write_plan(tmp_path / "p.yml", """
reports:
  - {name: before, notebook: '{nb}/ok.ipynb'}
  - {name: oom, notebook: '{nb}/killworker.ipynb', parameters: {pid_file: '{tmp}/kernel.pid'}}
  - {name: chatty, notebook: '{nb}/bigoutput.ipynb', parameters: {megabytes: 3}, max_output_mb: 1}
  - {name: after, notebook: '{nb}/ok.ipynb', parameters: {seed: 3}}
""".replace("{tmp}", str(tmp_path)))
    result = run_plan(plan, tmp_path / "out", jobs=1, progress=lambda s: None)
    assert {r["report"] for r in result.failed} == {"oom", "chatty"}
    kernel = int((tmp_path / "kernel.pid").read_text())  # the dead worker's kernel is gone too
    assert not psutil.pid_exists(kernel) or psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE
    oom = result.by_name("oom")
    assert oom["error"].startswith("the worker process running this report died (killed by SIGKILL)")
    chatty = result.by_name("chatty")
    assert chatty["error_kind"] == "too_large" and "more than 1 MB" in chatty["error"]
    assert chatty["notebook"] is None and chatty["html"] is None  # the huge page is not published
    for name in ("before", "after"):  # the same (rebuilt) worker slot ran the next reports
        assert result.by_name(name)["status"] == "ok"
    assert_one_complete_run(tmp_path / "out", {"before", "oom", "chatty", "after"})


def test_cache_reruns_exactly_the_reports_whose_inputs_changed(tmp_path, write_plan, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("a,1\n")
    (data / "b.csv").write_text("b,1\n")
    text = """
reports:
  - {name: uses-a, notebook: '{nb}/reads.ipynb', parameters: {data_file: '%(a)s'}}
  - {name: uses-b, notebook: '{nb}/reads.ipynb', parameters: {data_file: '%(b)s'}}
  - {name: plain, notebook: '{nb}/ok.ipynb', parameters: {n: %(n)d}}
"""
    plan = tmp_path / "p.yml"
    out = tmp_path / "out"

    def run(n: int = 300, **kw):
        write_plan(plan, text % {"a": data / "a.csv", "b": data / "b.csv", "n": n} if "%(a)s" in text
                   else text % {"b": data / "b.csv", "n": n})
        res = run_plan(plan, out, jobs=2, progress=lambda s: None, **kw)
        assert res.ok, res.failed
        return res, {r["report"] for r in res.reports if not r.get("cached")}

    first, ran = run()
    assert ran == {"uses-a", "uses-b", "plain"}
    (data / "b.csv").write_text("b,2\n")  # a changed input file
    second, ran = run()
    assert ran == {"uses-b"}
    assert second.by_name("uses-b")["headline"]["content"] == "b,2"
    reused = second.by_name("uses-a")
    assert reused["unchanged_since"] == first.by_name("uses-a")["finished_at"]
    assert reused["run_id"] == second.run_id and (out / reused["html"]).is_file()
    assert "unchanged since" in (out / "index.html").read_text()
    third, ran = run(n=301)  # a changed parameter
    assert ran == {"plain"}
    assert third.removed == ()
    assert third.by_name("uses-b")["unchanged_since"] == second.by_name("uses-b")["finished_at"]
    assert_one_complete_run(out, {"uses-a", "uses-b", "plain"})
    # a report dropped from the plan leaves the folder and is named once in the index
    text = "\n".join(line for line in text.splitlines() if "uses-a" not in line) + "\n"
    fourth, ran = run(n=301)
    assert ran == set() and fourth.removed == ("uses-a",)
    assert not (out / "uses-a.html").exists()
    assert "No longer in the plan (removed): uses-a" in (out / "index.html").read_text()
    assert_one_complete_run(out, {"uses-b", "plain"})
    capsys.readouterr()
    assert main(["run", str(plan), "--out", str(out), "--quiet"]) == 0  # scheduled runs: silent
    assert capsys.readouterr() == ("", "")
