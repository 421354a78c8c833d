"""Every report notebook runs with its defaults through papermill; the demo plan runs through
the batch runner and each HTML headline matches its JSON sidecar."""

from __future__ import annotations

import html as html_mod
import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DEMO_PLAN = NOTEBOOKS / "plans" / "demo.yml"

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

NAMES = ["offer_test", "cta_test", "ad_format_test", "retargeting_gap_test",
         "frequency_fatigue", "timing_simulator", "test_planner", "incrementality"]
HEADLINE_KEYS = {"metric", "comparison", "effect", "effect_label", "effect_format", "ci_low",
                 "ci_high", "ci_shape", "interval_label", "p_value", "p_value_note",
                 "probability", "probability_label", "rows_used", "rows_set_aside", "srm",
                 "attribution_window"}


def _kernel_config():
    from abtest.report.execute import kernel_config

    return kernel_config()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.timeout(240)
def test_notebook_runs_with_defaults(name, tmp_path, demo_data, monkeypatch):
    import papermill as pm

    monkeypatch.delenv("MPLBACKEND", raising=False)  # let the kernel's inline backend capture
    results = tmp_path / f"{name}.json"
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out),
                        parameters={"results_path": str(results), "run_id": "test",
                                    "report_name": name},
                        kernel_name="python3", progress_bar=False, execution_timeout=180,
                        cwd=str(NOTEBOOKS), config=_kernel_config())
    nb = nbformat.read(str(out), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"], \
        "warnings or logs leaked into the report"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"
    record = json.loads(results.read_text())
    assert record["report"] == name and record["run_id"] == "test"
    assert record["decision"]
    assert HEADLINE_KEYS <= set(record["headline"])
    assert not any("confidence" in k for k in record["headline"])  # a p-value is a p-value
    head = record["headline"]
    assert (head["p_value"] is None) != (head["probability"] is None)  # exactly one
    # the headline is the first output of the report
    first = next(o for o in outputs if o.get("data"))
    assert "abtest-headline" in first["data"].get("text/html", "")


def test_notebooks_are_committed_clean():
    for name in NAMES:
        nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tags = [set(c.metadata.get("tags", [])) for c in code]
        assert "parameters" in tags[0], f"{name}: first code cell must be the parameters cell"
        assert "remove_cell" in tags[1], f"{name}: setup cell (warnings) must be removed"
        assert "remove_cell" in tags[-1] and "finish(headline, results_path" in code[-1].source
        src = code[0].source
        for p in ("results_path: str", "run_id: str", "report_name: str"):
            assert p in src, f"{name}: missing typed parameter {p}"


class _HeadlineParser(HTMLParser):
    """Collects the headline block's ``data-key`` / ``data-value`` pairs (any quoting style)."""

    def __init__(self) -> None:
        super().__init__()
        self.found_block = False
        self.values: dict[str, object] = {}
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "abtest-headline" in (a.get("class") or "").split():
            self.found_block = True
        if "data-key" in a:
            self._key = a["data-key"]
        if "data-value" in a and self._key is not None and self._key not in self.values:
            self.values[self._key] = json.loads(a["data-value"])


def _headline_cells(page: str) -> tuple[object, dict[str, object]]:
    parser = _HeadlineParser()
    parser.feed(page)
    assert parser.found_block, "no headline block in the HTML"
    values = dict(parser.values)
    return values.pop("decision", None), values


@pytest.mark.timeout(600)
def test_demo_plan_headlines_match_sidecars(demo_batch):
    import yaml

    from abtest.report.headline import headline_lines

    plan = yaml.safe_load(DEMO_PLAN.read_text())
    notebooks = {Path(r["notebook"]).stem for r in plan["reports"]}
    assert notebooks == set(NAMES), "the demo plan must cover every notebook"
    assert any((r.get("parameters") or {}).get("segment") for r in plan["reports"])
    failed = [(r["report"], r.get("error")) for r in demo_batch.reports if r["status"] != "ok"]
    assert not failed
    out = Path(demo_batch.out_dir)
    index_page = (out / "index.html").read_text(encoding="utf-8")
    for rec in demo_batch.reports:
        page = (out / rec["html"]).read_text(encoding="utf-8")
        sidecar = json.loads((out / rec["sidecar"]).read_text(encoding="utf-8"))
        decision, values = _headline_cells(page)
        assert decision == sidecar["decision"], rec["report"]
        for key, value in sidecar["headline"].items():
            if key == "title":
                assert html_mod.escape(str(value), quote=False) in page, (rec["report"], key)
                continue
            assert key in values, (rec["report"], key)
            assert values[key] == value, (rec["report"], key)
        # the index shows the same sentence, built from the sidecar
        effect, _health = headline_lines(sidecar["headline"])
        assert html_mod.escape(effect, quote=True) in index_page, rec["report"]
        # headline before any evidence, and no code in the page
        assert page.index("abtest-headline") < page.find("<img") or "<img" not in page
        assert "finish(headline" not in page and "import abtest" not in page
