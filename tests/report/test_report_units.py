"""Fast tests of the pieces: escaping helpers, sidecars, atomic writes, index page, HTML export."""

from __future__ import annotations

import json
import re
import threading

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from abtest.display import escape_html, escape_markdown, frame_html, safe_markdown
from abtest.report.export import export_html
from abtest.report.index import render_index
from abtest.report.sidecar import (
    SCHEMA_VERSION,
    SidecarError,
    atomic_write_text,
    read_sidecar,
    write_sidecar,
)

XSS = "<script>alert(1)</script>"


def test_escape_helpers():
    assert escape_html(XSS) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_html(None) == ""
    md = escape_markdown("**bold** [x](http://e) | a\n# b <i>")
    assert "<" not in md and "\n" not in md
    assert md.startswith("\\*\\*bold\\*\\*") and "\\|" in md and "\\[x\\]" in md
    assert safe_markdown("**Arm:** {a}", a=XSS) == "**Arm:** &lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    table = frame_html(pd.DataFrame({"campaign": [XSS], "ctr": [0.0123456]}))
    assert XSS not in table and "&lt;script&gt;" in table and "0.01235" in table


def test_markdown_escape_renders_as_the_original_text():
    """Through nbconvert's own markdown renderer, the escaped text reads like the input."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    raw = "RT_*EU*_[spark](x) | 10% off_ <b>now</b> #1 $5"
    out = markdown2html_mistune(safe_markdown("{v}", v=raw))
    text = out.removeprefix("<p>").removesuffix("</p>\n")
    import html

    assert html.unescape(text) == raw
    assert "<b>" not in out


def test_write_and_read_sidecar(tmp_path):
    path = tmp_path / "r.json"
    rec = write_sidecar(
        path,
        {"lift": np.float64(0.012), "n": np.int64(5), "ok": np.bool_(True), "when": pd.Timestamp("2024-01-02")},
        decision="ship B",
        parameters={"alpha": 0.05},
        report_name="offer",
        run_id="r1",
    )
    back = read_sidecar(path)
    assert back == rec
    assert back["headline"] == {"lift": 0.012, "n": 5, "ok": True, "when": "2024-01-02T00:00:00"}
    assert back["schema_version"] == SCHEMA_VERSION and back["decision"] == "ship B"


def test_sidecar_without_path_only_returns(tmp_path):
    rec = write_sidecar("", {"x": 1})
    assert rec["headline"] == {"x": 1}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float64("nan")])
def test_sidecar_rejects_non_finite(tmp_path, bad):
    with pytest.raises(SidecarError, match="headline.p_value"):
        write_sidecar(tmp_path / "x.json", {"p_value": bad})
    assert not (tmp_path / "x.json").exists()


def test_sidecar_rejects_objects_and_bad_files(tmp_path):
    with pytest.raises(SidecarError, match="cannot go into JSON"):
        write_sidecar(tmp_path / "x.json", {"frame": object()})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SidecarError, match="not valid JSON"):
        read_sidecar(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "x"}))
    with pytest.raises(SidecarError, match="not an abtest"):
        read_sidecar(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(
        json.dumps({"schema": "abtest.report.sidecar", "schema_version": 99, "headline": {}})
    )
    with pytest.raises(SidecarError, match="schema_version 99"):
        read_sidecar(tmp_path / "future.json")


def test_atomic_write_never_shows_partial_content(tmp_path):
    target = tmp_path / "index.html"
    big = ["A" * 2_000_000, "B" * 2_000_000]
    atomic_write_text(target, big[0])
    seen: set[int] = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            text = target.read_text()
            seen.add(len(text))
            assert text in big

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(30):
        atomic_write_text(target, big[i % 2])
    stop.set()
    thread.join()
    assert seen == {2_000_000}
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temp files left


def test_index_escapes_everything():
    page = render_index(
        [
            {"report": XSS, "stem": "x", "status": "ok", "html": "x.html", "decision": XSS,
             "headline": {XSS: XSS, "lift": 0.01234567, "n": 12000, "srm_ok": True,
                          "ci": {"low": 0.1, "high": 0.2}},
             "notebook": "x.ipynb", "sidecar": "x.json", "duration_s": 1.23},
            {"report": "bad", "stem": "bad", "status": "failed", "html": None,
             "error": f"ValueError: {XSS}", "notebook": "bad.ipynb", "headline": {}},
        ],
        title=XSS,
        run_id="r",
    )
    assert XSS not in page and "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 7  # title x2, name, decision, key, value, error
    assert "0.01235" in page and "12,000" in page and "ci.low" in page
    assert "1 of 2 reports ok" in page and "partial notebook" in page
    assert 'href="x.html"' in page


def _executed_notebook() -> nbformat.NotebookNode:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    cells = [
        new_markdown_cell("# Title"),
        new_code_cell("secret_param = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("results_path = 'x'", metadata={"tags": ["injected-parameters"]}),
        new_code_cell("import warnings  # setup", metadata={"tags": ["remove_cell"]}),
        new_code_cell(
            "visible_code_marker = 1",
            outputs=[
                new_output("stream", name="stderr", text="UserWarning: noisy /tmp/path\n"),
                new_output("stream", name="stdout", text="stdout kept\n"),
                new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                new_output("display_data", data={"application/javascript": "alert(2)"}),
                new_output("error", ename="E", evalue="v", traceback=["Traceback marker"]),
            ],
        ),
    ]
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "P"}})


def test_export_html_hides_code_noise_and_cdn():
    nb = _executed_notebook()
    page = export_html(nb, title="T <i>")
    assert "<title>T &lt;i&gt;</title>" in page
    for absent in ("visible_code_marker", "secret_param", "results_path", "import warnings",
                   "noisy", "Traceback marker", "alert(2)", "<script", "cdnjs", "mathjax"):
        assert absent.lower() not in page.lower(), absent
    assert "stdout kept" in page and "data:image/png;base64," in page
    assert nb.cells[4].outputs[0]["name"] == "stderr"  # caller's notebook untouched


def test_zygote_launcher_falls_back_to_a_normal_kernel(tmp_path):
    """If the zygote cannot serve, the launcher becomes `python -m ipykernel_launcher`."""
    import subprocess
    import sys

    from abtest.report.zygote import LAUNCHER

    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, str(tmp_path / "missing.sock"), "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", proc.stdout.strip())
