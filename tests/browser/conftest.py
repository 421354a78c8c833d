"""Headless Chromium (Debian ``/usr/bin/chromium``) over the demo batch and a data-XSS batch.

``batch_dir`` is the demo batch (the session's ``demo_batch`` from ``tests/conftest.py``: the
README's ``notebooks/plans/demo.yml``, run once per session and shared with the notebook tests,
or reused from ``ABTEST_DEMO_BATCH``). ``ABTEST_BROWSER_BATCH`` (an existing output folder) or
``ABTEST_BROWSER_PLAN`` (another plan) override it. ``xss_batch_dir`` runs
``tests/report/plans/good.yml``, whose report name and campaign parameter are
``<script>alert(1)</script>``: the demo data has no such string, so that batch is where
"strings from data are shown as text, never executed" is checked. The index screenshot goes to
``ABTEST_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored). Chromium is installed by
``scripts/install-chromium.sh``; Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
XSS_PLAN = ROOT / "tests" / "report" / "plans" / "good.yml"
CHROMIUM = os.environ.get("ABTEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ABTEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if path == ROOT / "tests" / "artifacts" and not ignore.exists():
        ignore.write_text("*\n")
    return path


def _run(plan: Path, out: Path) -> Path:
    from abtest.report import run_plan

    result = run_plan(plan, out, progress=lambda line: None)
    assert result.reports, f"{plan} produced no reports"
    return out


@pytest.fixture(scope="session")
def batch_dir(request, tmp_path_factory) -> Path:
    """The demo batch (default), or ``ABTEST_BROWSER_BATCH`` / ``ABTEST_BROWSER_PLAN``."""
    if os.environ.get("ABTEST_BROWSER_BATCH"):
        return Path(os.environ["ABTEST_BROWSER_BATCH"]).resolve()
    if os.environ.get("ABTEST_BROWSER_PLAN"):
        plan = Path(os.environ["ABTEST_BROWSER_PLAN"]).resolve()
        return _run(plan, tmp_path_factory.mktemp("browser-batch"))
    return request.getfixturevalue("demo_batch_dir")


@pytest.fixture(scope="session")
def xss_batch_dir(tmp_path_factory) -> Path:
    """A small batch whose report name and campaign come from data as ``<script>`` strings."""
    return _run(XSS_PLAN, tmp_path_factory.mktemp("xss-batch"))


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install-chromium.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
