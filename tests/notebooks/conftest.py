"""Fixtures for the notebook tests.

``demo_batch`` (session scope) runs ``notebooks/plans/demo.yml`` through the batch runner once
and returns the :class:`abtest.report.BatchResult`; ``demo_batch_dir`` is its output folder.
Set ``ABTEST_DEMO_BATCH`` to an existing output folder of that plan to reuse it instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DEMO_PLAN = NOTEBOOKS / "plans" / "demo.yml"


@pytest.fixture(scope="session")
def demo_data() -> Path:
    """The demo world (built once if it is missing)."""
    from abtest.stories import resolve_data_dir

    return resolve_data_dir(ROOT / "data" / "demo" / "offer").parent


@pytest.fixture(scope="session")
def demo_batch(tmp_path_factory, demo_data):
    """The demo plan run once per session through ``abtest.report.run_plan``."""
    reuse = os.environ.get("ABTEST_DEMO_BATCH")
    if reuse:
        import json

        out = Path(reuse).resolve()
        index = json.loads((out / "index.json").read_text())
        reports = index["reports"] if isinstance(index, dict) else index
        return SimpleNamespace(out_dir=out, reports=tuple(reports), index_path=out / "index.html")
    from abtest.report import run_plan

    out = tmp_path_factory.mktemp("demo-batch")
    return run_plan(DEMO_PLAN, out, progress=lambda line: None)


@pytest.fixture(scope="session")
def demo_batch_dir(demo_batch) -> Path:
    return Path(demo_batch.out_dir)
