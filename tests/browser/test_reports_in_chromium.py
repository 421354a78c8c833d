"""Open index.html and every report of the demo batch in headless Chromium.

Each page must render (title and headline present), every <img> must be loaded, every report has
at least one figure, there must be no console errors, no failed or off-machine requests and no
code cells; the index screenshot is kept as an artifact. On a batch whose names and parameters
carry ``<script>alert(1)</script>`` (the demo data has none), that string must show as text in
the index and the report without ever opening a dialog.
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
            body = page.locator("body").inner_text()
            if rec.get("decision"):
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
            assert images.count() >= 1, f"{where}: no figure"
            # the headline block opens the report with the decision and the effect sentence
            assert page.locator(".abtest-headline .abtest-effect").count() == 1, where
            assert "<NA>" not in body and "NaN" not in body, f"{where}: raw missing values"
            watch.assert_clean(where)
        finally:
            page.close()


def test_demo_batch_is_complete(batch_dir):
    records = _records(batch_dir)
    assert len(records) >= 7 and all(r["status"] == "ok" for r in records), \
        [(r["report"], r.get("error")) for r in records if r["status"] != "ok"]


def test_strings_from_data_are_text(browser, xss_batch_dir):
    records = _records(xss_batch_dir)
    xss = [r for r in records if XSS in r["report"]]
    assert xss and xss[0]["status"] == "ok", "the xss test report must run"
    page, watch = _open(browser, xss_batch_dir / "index.html")
    try:
        assert XSS in page.locator("body").inner_text()  # the name, shown as text
        assert page.locator("script").count() == 0
        watch.assert_clean("index.html")
    finally:
        page.close()
    for rec in records:
        page, watch = _open(browser, xss_batch_dir / rec["html"])
        try:
            if rec is xss[0]:
                text = page.locator("body").inner_text()
                assert XSS in text, "the <script> campaign name should be shown as text"
            assert page.locator("script").count() == 0
            watch.assert_clean(rec["html"])
        finally:
            page.close()
