"""Acceptance: a batch with raising, hanging and kernel-killing notebooks.

The good reports finish; the three bad ones are failed with their reasons in the result, the
sidecars and index.html; partial notebooks are kept; the exit status is non-zero.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from abtest.cli import main
from abtest.report import run_plan

pytestmark = [pytest.mark.slow, pytest.mark.notebooks, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def fault_batch(tmp_path_factory, request):
    plans = request.path.parent / "plans"
    out = tmp_path_factory.mktemp("faults") / "out"
    lines: list[str] = []
    result = run_plan(plans / "faults.yml", out, jobs=2, progress=lines.append)
    return result, out, lines


def test_good_reports_finish(fault_batch):
    result, out, _ = fault_batch
    for name, n, label in (("ok one", 300, "first"), ("ok two", 500, "second")):
        rec = result.by_name(name)
        assert rec["status"] == "ok", rec["error"]
        side = json.loads((out / rec["sidecar"]).read_text())
        assert side["headline"]["n_per_arm"] == n and side["headline"]["label"] == label
        assert side["parameters"]["label"] == label and side["decision"] == "keep testing"
        assert side["run_id"] == result.run_id
        html = (out / rec["html"]).read_text()
        assert "data:image/png;base64," in html and "keep testing" in html
    xss = result.by_name("<b>xss</b> <script>alert(1)</script>")
    assert xss["status"] == "ok" and xss["stem"] == "b-xss-b-script-alert-1-script"


def test_three_failures_with_reasons(fault_batch):
    result, out, lines = fault_batch
    assert result.exit_code == 1 and not result.ok
    assert {r["report"] for r in result.failed} == {"raises", "hangs", "dies"}
    raises, hangs, dies = (result.by_name(n) for n in ("raises", "hangs", "dies"))
    assert raises["error_kind"] == "exception"
    assert raises["error"].startswith("ValueError: planned failure <b>here</b>")
    assert hangs["error_kind"] == "timeout" and "timed out after 3 s" in hangs["error"]
    assert dies["error_kind"] == "dead_kernel" and dies["error"].startswith("kernel died")
    for rec in (raises, hangs, dies):
        assert rec["html"] is None and not (out / f"{rec['stem']}.html").exists()
        side = json.loads((out / rec["sidecar"]).read_text())
        assert side["status"] == "failed" and side["error"] == rec["error"]
        partial = nbformat.read(out / rec["notebook"], as_version=4)  # partial notebook kept
        assert any(c.get("outputs") is not None for c in partial.cells)
    # the raising notebook ran its first cell and stopped before the sidecar cell
    partial = nbformat.read(out / raises["notebook"], as_version=4)
    assert partial.metadata["papermill"]["exception"] is True
    assert len(lines) == 8 and sum("FAILED" in ln for ln in lines) == 3


def test_index_lists_everything_escaped(fault_batch):
    result, out, _ = fault_batch
    page = (out / "index.html").read_text()
    assert "<script" not in page
    assert page.count('class="report report-failed"') == 3
    assert page.count('class="report report-ok"') == 3
    assert "ValueError: planned failure &lt;b&gt;here&lt;/b&gt;" in page
    assert "timed out after 3 s" in page and "kernel died" in page
    assert "3 of 6 reports ok, 3 failed" in page
    for rec in result.reports:
        assert f'data-report="{rec["stem"]}"' in page


def test_output_dir_is_clean(fault_batch):
    result, out, _ = fault_batch
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".")]  # no temp files in the published run
    assert "index.json" in names and "index.html" in names
    store = out.parent / ".out.abtest"  # the published run, its cache and the lock; no staging
    assert sorted(p.name for p in store.iterdir()) == ["cache", "lock", "runs"]
    assert [p.name for p in (store / "runs").iterdir()] == [result.run_id]
    assert out.resolve() == (store / "runs" / result.run_id).resolve()


def test_cli_exit_status(tmp_path, write_plan, capsys):
    plan = write_plan(tmp_path / "p.yml", """
reports:
  - {name: fine, notebook: '{nb}/nosidecar.ipynb'}
  - {name: boom, notebook: '{nb}/raises.ipynb'}
""")
    code = main(["run", str(plan), "--out", str(tmp_path / "out"), "--jobs", "2", "--timeout", "30"])
    captured = capsys.readouterr()
    assert code == 1
    assert "boom: ValueError: planned failure" in captured.err
    # a notebook that never calls write_sidecar is a failed report, not a silent success
    assert "fine: the notebook did not call abtest.report.write_sidecar" in captured.err
    assert captured.out.strip().endswith("index.html")


def test_cli_bad_plan_exit_2(tmp_path, capsys):
    (tmp_path / "p.yml").write_text("reports: []")
    assert main(["run", str(tmp_path / "p.yml"), "--out", str(tmp_path / "o")]) == 2
    assert "non-empty list" in capsys.readouterr().err


def test_wall_clock_limit_kills_the_kernel(tmp_path, write_plan):
    plan = write_plan(tmp_path / "p.yml", "- {name: slow, notebook: '{nb}/hangs.ipynb'}\n")
    result = run_plan(plan, tmp_path / "out", timeout=120, wall_timeout=4, progress=lambda s: None)
    rec = result.by_name("slow")
    assert rec["error_kind"] == "timeout"
    assert rec["error"] == "timed out after 4 s (whole notebook)"
    assert rec["duration_s"] < 60


@pytest.mark.parametrize("preload", [True, False], ids=["zygote", "fresh-kernels"])
def test_kernels_are_independent_and_see_their_environment(tmp_path, write_plan, monkeypatch, preload):
    """Forked (zygote) and freshly started kernels behave the same: own RNG stream, cwd = the
    notebook's folder, the runner's environment, the inline matplotlib backend."""
    monkeypatch.setenv("ABTEST_PROBE", "seen")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # must not leak into kernels (figures would vanish)
    plan = write_plan(tmp_path / "p.yml", """
- {name: a, notebook: '{nb}/probe.ipynb'}
- {name: b, notebook: '{nb}/probe.ipynb'}
- {name: c, notebook: '{nb}/dies.ipynb'}
""")
    result = run_plan(plan, tmp_path / "out", jobs=1, preload=preload, progress=lambda s: None)
    a, b = (result.by_name(n)["headline"] for n in ("a", "b"))
    assert a["draw"] != b["draw"] and a["pid"] != b["pid"]
    for head in (a, b):
        assert head["probe_env"] == "seen"
        assert head["cwd"].endswith("tests/report/notebooks")
        # same sys.path as `python -m ipykernel_launcher` (which drops its cwd entry)
        assert head["path0"].endswith(f"python{sys.version_info[0]}{sys.version_info[1]}.zip")
        assert "inline" in head["backend"]
    assert result.by_name("c")["error_kind"] == "dead_kernel"
