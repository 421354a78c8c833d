"""Open index.html and every report of a batch in headless Chromium.

Each page must render (title and headline present), every <img> must be loaded, there must be
no console errors, no failed or off-machine requests, no code cells, and strings from data such
as ``<script>alert(1)</script>`` must show as text without ever opening a dialog.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

XSS = "<script>alert(1)</script>"


class PageWatch:
    """Collects console errors, failed/external requests and dialogs of one page."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.external: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: r.url.startswith(("file:", "data:")) or self.external.append(r.url))

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def assert_clean(self, where: str) -> None:
        assert not self.dialogs, f"{where}: a dialog opened (script from data ran): {self.dialogs}"
        assert not self.errors, f"{where}: console errors {self.errors}"
        assert not self.failed, f"{where}: failed requests {self.failed}"
        assert not self.external, f"{where}: requests leaving the machine {self.external}"


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = PageWatch(page)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)  # let late scripts (there should be none) fail visibly
    return page, watch


def _records(batch_dir: Path) -> list[dict]:
    index = json.loads((batch_dir / "index.json").read_text())
    return [json.loads((batch_dir / r["sidecar"]).read_text()) for r in index["reports"]]


def test_index_page(browser, batch_dir, artifacts_dir):
    page, watch = _open(browser, batch_dir / "index.html")
    try:
        assert page.title()
        assert page.locator("h1#title").inner_text().strip()
        records = _records(batch_dir)
        assert page.locator("tr.report").count() == len(records)
        for rec in records:
            row = page.locator(f'tr[data-report="{rec["stem"]}"]')
            assert row.count() == 1
            assert rec["report"] in row.inner_text()  # names from data show verbatim, as text
            if rec["status"] == "ok":
                assert row.locator(f'a[href="{rec["html"]}"]').count() == 1
                if rec.get("decision"):
                    assert row.locator(".decision").inner_text().strip() == rec["decision"].strip()
            else:
                assert "FAILED" in row.inner_text() and rec["error"] in row.inner_text()
        assert page.locator("script").count() == 0
        page.screenshot(path=str(artifacts_dir / "index.png"), full_page=True)
        watch.assert_clean("index.html")
    finally:
        page.close()
    assert (artifacts_dir / "index.png").stat().st_size > 1000


def test_every_report_page(browser, batch_dir):
    records = [r for r in _records(batch_dir) if r["status"] == "ok"]
    assert records, "no successful report to open"
    for rec in records:
        where = rec["html"]
        page, watch = _open(browser, batch_dir / where)
        try:
            assert page.title() == (rec.get("title") or rec["report"])
            assert page.locator("h1").count() >= 1, f"{where}: no headline heading"
            if rec.get("decision"):
                body = page.locator("body").inner_text()
                assert rec["decision"].split(":")[0] in body, f"{where}: decision not shown"
            # no code: no code-cell input areas, no editors, no In [ ] prompts
            assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0, f"{where}: code shown"
            assert page.locator(".jp-CodeMirrorEditor, .jp-InputArea-editor").count() == 0
            assert page.locator(".jp-InputPrompt:has-text('In')").count() == 0
            assert page.locator("script").count() == 0
            # figures: every <img> loaded; reports with figures in the notebook show one
            images = page.locator("img")
            for i in range(images.count()):
                width = images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
                assert width > 0, f"{where}: image {i} not loaded"
            nb = (batch_dir / rec["notebook"]).read_text()
            if '"image/png"' in nb:
                assert images.count() >= 1, f"{where}: the notebook has figures, the page none"
            watch.assert_clean(where)
        finally:
            page.close()


def test_strings_from_data_are_text(browser, batch_dir):
    pages = [r for r in _records(batch_dir) if r["status"] == "ok"]
    shown = 0
    for rec in pages:
        page, watch = _open(browser, batch_dir / rec["html"])
        try:
            text = page.locator("body").inner_text()
            if XSS in text:
                shown += 1
            watch.assert_clean(rec["html"])
        finally:
            page.close()
    if any(XSS in json.dumps(r["headline"]) for r in pages):
        assert shown >= 1, "the <script> campaign name should be shown as text"
