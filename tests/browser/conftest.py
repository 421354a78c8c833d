"""Headless Chromium (Debian ``/usr/bin/chromium``) over a batch built once per session.

The batch comes from the plan in ``ABTEST_BROWSER_PLAN`` (default: the repository's demo plan
when ``ABTEST_BROWSER_DEMO=1``, else ``tests/report/plans/good.yml``); the index screenshot goes
to ``ABTEST_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored). Chromium is installed by
``scripts/install-chromium.sh``; Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def _plan_path() -> Path:
    if os.environ.get("ABTEST_BROWSER_PLAN"):
        return Path(os.environ["ABTEST_BROWSER_PLAN"]).resolve()
    demo = ROOT / "notebooks" / "plans" / "demo.yml"
    if os.environ.get("ABTEST_BROWSER_DEMO") == "1" and demo.exists():
        return demo
    return ROOT / "tests" / "report" / "plans" / "good.yml"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ABTEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if path == ROOT / "tests" / "artifacts" and not ignore.exists():
        ignore.write_text("*\n")
    return path


@pytest.fixture(scope="session")
def batch_dir(tmp_path_factory) -> Path:
    """Run the plan once per session (or reuse ``ABTEST_BROWSER_BATCH``, an existing out dir)."""
    if os.environ.get("ABTEST_BROWSER_BATCH"):
        return Path(os.environ["ABTEST_BROWSER_BATCH"]).resolve()
    from abtest.report import run_plan

    out = tmp_path_factory.mktemp("browser-batch")
    result = run_plan(_plan_path(), out, progress=lambda line: None)
    assert result.reports, "the plan produced no reports"
    return out


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
