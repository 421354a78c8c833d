"""The index says when two reports advise different caps for the same segment."""

from __future__ import annotations

from abtest.report.crosscheck import cap_disagreements
from abtest.report.index import render_index


def _record(title: str, advice: list[dict], status: str = "ok") -> dict:
    return {"status": status, "title": title, "report": title.lower().replace(" ", "_"),
            "extra": {"cap_advice": advice}}


def _cap(segment: str, label: str, gap: int | None, evidence: str) -> dict:
    return {"segment": segment, "cap_label": label, "retarget": True, "gap_days": gap,
            "evidence": evidence}


def test_different_caps_for_a_segment_are_listed_with_the_reason() -> None:
    freq = _record("Frequency and creative fatigue",
                   [_cap("cold", "no cap", 3, "flat"), _cap("warm", "no cap", 3, "flat")])
    sim = _record("Timing simulator",
                  [_cap("cold", "2 per 7 days", 1, "untested"), _cap("warm", "no cap", 1,
                                                                      "untested")])
    found = cap_disagreements([freq, sim])
    assert [d.segment for d in found] == ["cold"]  # warm agrees: not listed
    text = found[0].text
    assert "Frequency and creative fatigue says no cap (at a 3-day gap)" in text
    assert "Timing simulator says 2 per 7 days (at a 1-day gap)" in text
    assert "different gaps" in text
    page = render_index([freq, sim])
    assert 'id="disagreements"' in page and "Frequency cap for cold" in page


def test_failed_reports_and_single_reports_are_not_compared() -> None:
    one = _record("A", [_cap("cold", "no cap", 3, "flat")])
    failed = _record("B", [_cap("cold", "1 per 7 days", 3, "falls")], status="failed")
    assert cap_disagreements([one, failed]) == []
    assert 'id="disagreements"' not in render_index([one, failed])


def test_same_gap_data_backed_versus_simulated_says_which_wins() -> None:
    a = _record("Frequency", [_cap("lapsed", "no cap", 3, "flat")])
    b = _record("Simulator", [_cap("lapsed", "3 per 7 days", 3, "untested")])
    (d,) = cap_disagreements([a, b])
    assert "data-backed advice wins" in d.text
