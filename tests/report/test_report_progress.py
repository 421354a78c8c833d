"""The live display: report, section, cell and elapsed time per running report (no kernels)."""

from __future__ import annotations

import io

from abtest.report.progress import Progress


def test_live_lines_show_report_section_cell_and_elapsed(monkeypatch):
    stream = io.StringIO()
    lines: list[str] = []
    progress = Progress(3, emit=lines.append, live=True, stream=stream)
    progress.started("offer", "offer_test", cells=12)
    progress.cell("offer", 6, "Results by segment")
    progress.started("cta", "cta_test")
    progress.tick(force=True)
    screen = stream.getvalue()
    assert "offer_test · Results by segment · cell 7/12 · 0 s" in screen
    assert "cta_test · starting kernel" in screen
    assert "reports 0/3" in screen
    progress.finished("offer", "[1/3] OK     offer_test (4.2 s): ship it")
    assert "[1/3] OK     offer_test (4.2 s): ship it" in stream.getvalue()
    assert "reports 1/3" in stream.getvalue()
    progress.close()
    assert lines == []  # with a live display, lines go above the bars, not to emit


def test_without_live_display_only_lines_are_emitted():
    lines: list[str] = []
    progress = Progress(1, emit=lines.append, live=False)
    progress.started("a", "a")
    progress.cell("a", 1, "x")
    progress.tick(force=True)
    progress.finished("a", "[1/1] OK a")
    progress.close()
    assert lines == ["[1/1] OK a"]
