"""Fast tests of the run store (publish.py) and the report cache keys (cache.py); no kernels."""

from __future__ import annotations

import json
import os

import pytest

from abtest.report import cache
from abtest.report.publish import RunLocked, RunStore, StoreError


def _publish(store: RunStore, run_id: str, files: dict[str, str]) -> None:
    staging = store.staging(run_id)
    for name, text in files.items():
        (staging / name).write_text(text)
    store.publish(staging, run_id)
    store.sweep()


def test_publish_swaps_the_whole_run_at_once(tmp_path):
    out = tmp_path / "reports"
    store = RunStore(out)
    store.acquire("r1")
    store.prepare()
    _publish(store, "r1", {"index.html": "one", "a.html": "A1", "gone.html": "old report"})
    assert out.is_symlink() and (out / "index.html").read_text() == "one"
    _publish(store, "r2", {"index.html": "two", "a.html": "A2"})
    assert sorted(p.name for p in out.iterdir()) == ["a.html", "index.html"]  # dropped report gone
    assert (out / "a.html").read_text() == "A2"
    assert [p.name for p in store.runs.iterdir()] == ["r2"]  # one complete run kept
    assert not os.path.isabs(os.readlink(out))  # relative: the reports folder can be moved
    store.release()


def test_second_run_is_refused_with_a_clear_message(tmp_path):
    first, second = RunStore(tmp_path / "out"), RunStore(tmp_path / "out")
    first.acquire("r1")
    with pytest.raises(RunLocked, match=rf"another abtest run \(pid {os.getpid()}, started .*UTC\) "
                       r"is writing .*out; wait for it"):
        second.acquire("r2")
    first.release()
    second.acquire("r2")  # free again once the first run let go
    second.release()


def test_debris_of_killed_runs_is_swept(tmp_path):
    store = RunStore(tmp_path / "out")
    store.acquire("r1")
    store.prepare()
    _publish(store, "r1", {"index.html": "one"})
    (store.root / "staging-r2").mkdir()  # a runner killed with SIGKILL left these
    (store.runs / "r3").mkdir()          # renamed, but killed before the swap
    store.prepare()
    assert sorted(p.name for p in store.root.iterdir()) == ["cache", "lock", "runs"]
    assert [p.name for p in store.runs.iterdir()] == ["r1"]
    store.release()


def test_foreign_folders_are_refused_and_old_abtest_folders_adopted(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own file")
    store = RunStore(mine)
    store.acquire("r")
    with pytest.raises(StoreError, match="did not write"):
        store.prepare()
    store.release()
    assert (mine / "notes.txt").exists()

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "index.json").write_text(json.dumps({"schema": "abtest.report.batch"}))
    (legacy / "a.html").write_text("A")
    store = RunStore(legacy)
    store.acquire("r")
    store.prepare()
    assert legacy.is_symlink() and (legacy / "a.html").read_text() == "A"
    store.release()
    with pytest.raises(StoreError, match="must name a folder"):
        RunStore("/")


def _key(nb, **params):
    return cache.cache_key(notebook=nb, name="r", title=None, parameters=params)[0]


def test_cache_key_follows_notebook_parameters_and_named_inputs(tmp_path):
    nb = tmp_path / "nbs" / "r.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "events.csv").write_text("a,b\n1,2\n")
    (data / ".hidden").write_text("editor swap file")
    base = _key(nb, data_dir="../data", alpha=0.05)
    assert _key(nb, data_dir="../data", alpha=0.05) == base
    assert _key(nb, data_dir="../data", alpha=0.1) != base  # a parameter
    (data / ".hidden").write_text("changed")                # hidden files are not inputs
    assert _key(nb, data_dir="../data", alpha=0.05) == base
    (data / "sub" / "events.csv").write_text("a,b\n1,3\n")  # content inside a named folder
    changed = _key(nb, data_dir="../data", alpha=0.05)
    assert changed != base
    (data / "sub" / "events.csv").rename(data / "sub" / "moved.csv")  # same bytes, new name
    assert _key(nb, data_dir="../data", alpha=0.05) != changed
    nb.write_text('{"cells": []}')                           # the notebook itself
    assert _key(nb, data_dir="../data", alpha=0.05) != changed
    # inputs are found in nested parameters, relative to the notebook's folder, or absolute
    found = cache.input_paths({"files": [str(data / "sub"), "missing.csv"], "x": {"y": "../data"}}, nb.parent)
    assert found == [(data / "sub").resolve(), data.resolve()]


def test_cache_entries_round_trip(tmp_path):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    record = {"status": "ok", "cache_key": "k1", "html": "a.html", "notebook": "a.ipynb"}
    for name, text in (("a.html", "<p>"), ("a.ipynb", "{}"), ("a.json", json.dumps(record))):
        (run / name).write_text(text)
    cache.save_entry(cache_dir, "k1", [run / "a.html", run / "a.ipynb", run / "a.json"], "t")
    assert cache.lookup(cache_dir, "k1", "a") == record
    assert cache.lookup(cache_dir, "k2", "a") is None
    (cache_dir / "k1" / "a.html").unlink()  # a damaged entry is a miss, not an error
    assert cache.lookup(cache_dir, "k1", "a") is None
    cache.prune(cache_dir, set())
    assert list(cache_dir.iterdir()) == []
