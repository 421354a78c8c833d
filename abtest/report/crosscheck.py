"""Reports of one batch that answer the same question differently, said on the index page.

Two reports may each advise a frequency cap for the same segment (the frequency report prices
caps at the gap you run; the timing simulator picks the gap and the cap together, and without
your frequency data). When their caps differ, a manager reading both must not have to notice it:
the index lists each disagreement, who says what, and why the two can differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Disagreement", "cap_disagreements"]


@dataclass(frozen=True)
class Disagreement:
    """Reports that advise different caps for one segment: ``advice`` is (report title, cap
    label, gap in days or None, whether the data backed the cap) per report."""

    segment: str
    advice: tuple[tuple[str, str, int | None, bool], ...]

    @property
    def text(self) -> str:
        """One sentence for the index."""
        said = "; ".join(
            f"{title} says {cap}" + (f" (at a {gap}-day gap)" if gap is not None else "")
            for title, cap, gap, _ in self.advice)
        gaps = {gap for _, _, gap, _ in self.advice}
        why = ("they priced the cap at different gaps: follow the one whose gap you will run"
               if len(gaps) > 1 else
               "one judged the cap on your frequency data, the other on the simulator alone: "
               "the data-backed advice wins until a cap test says otherwise"
               if len({backed for *_, backed in self.advice}) > 1 else
               "they priced different objectives or grids: read both reports' notes")
        return f"Frequency cap for {self.segment}: {said}. {why[:1].upper()}{why[1:]}."


def cap_disagreements(records: Iterable[Mapping[str, Any]]) -> list[Disagreement]:
    """Segments whose cap advice differs between the ok reports of one run.

    Reads each record's ``extra.cap_advice`` (a list of :class:`abtest.sim.advice.
    CapRecommendation` dicts); segments advised by one report only are not compared.
    """
    by_segment: dict[str, list[tuple[str, str, int | None, bool]]] = {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        title = str(rec.get("title") or rec.get("report") or "a report")
        for adv in (rec.get("extra") or {}).get("cap_advice") or ():
            if not isinstance(adv, Mapping) or not adv.get("segment"):
                continue
            label = str(adv.get("cap_label") if adv.get("retarget", True) else "do not retarget")
            gap = adv.get("gap_days")
            by_segment.setdefault(str(adv["segment"]), []).append(
                (title, label, int(gap) if isinstance(gap, int | float) else None,
                 adv.get("evidence") not in (None, "untested")))
    out = []
    for segment, advice in by_segment.items():
        if len({a[0] for a in advice}) > 1 and len({a[1] for a in advice}) > 1:
            out.append(Disagreement(segment, tuple(advice)))
    return out
