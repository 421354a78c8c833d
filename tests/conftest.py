"""Session fixtures shared by the notebook and browser tests.

``demo_batch`` runs the README's demo plan (``notebooks/plans/demo.yml``, every report notebook
on the embedded demo world) through :func:`abtest.report.run_plan` once per pytest session into
a temporary folder and returns the :class:`abtest.report.BatchResult`; ``demo_batch_dir`` is its
output folder. Set ``ABTEST_DEMO_BATCH`` to an existing output folder of that plan (e.g. from
``abtest demo --out DIR``) to reuse it instead of running it again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_PLAN = ROOT / "notebooks" / "plans" / "demo.yml"


@pytest.fixture(scope="session")
def demo_data() -> Path:
    """The demo world (built once if it is missing)."""
    from abtest.prepare import resolve_data_dir

    return resolve_data_dir(ROOT / "data" / "demo" / "offer").parent


@pytest.fixture(scope="session")
def demo_batch(tmp_path_factory, demo_data):
    """The demo plan run once per session (or the batch in ``ABTEST_DEMO_BATCH``)."""
    reuse = os.environ.get("ABTEST_DEMO_BATCH")
    if reuse:
        out = Path(reuse).resolve()
        index = json.loads((out / "index.json").read_text(encoding="utf-8"))
        reports = index["reports"] if isinstance(index, dict) else index
        return SimpleNamespace(out_dir=out, reports=tuple(reports), index_path=out / "index.html")
    from abtest.report import run_plan

    out = tmp_path_factory.mktemp("demo-batch")
    result = run_plan(DEMO_PLAN, out, progress=lambda line: None)
    assert result.reports, "the demo plan produced no reports"
    return result


@pytest.fixture(scope="session")
def demo_batch_dir(demo_batch) -> Path:
    return Path(demo_batch.out_dir)
