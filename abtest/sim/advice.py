"""What the timing reports recommend, as typed records with their sentences.

One home for the rules the frequency report and the timing simulator share, so they cannot
disagree about a segment's cap when they ask the same question (same what-if grid, objective and
frequency evidence):

* :class:`PolicyObjective` — what "best" means: the lowest cost per extra conversion, or the most
  extra conversions under a cost ceiling (notebook parameter ``0`` = no ceiling);
* :func:`caps_from_parameter` — the notebooks' cap list, where ``0`` means "no cap";
* :func:`cap_recommendation` — one :class:`CapRecommendation` per segment: the cap, whether it
  sits at the edge of the tested caps, and whether the data support capping at all;
* :func:`decision_text` / :func:`do_not_retarget_text` — the sentences the headlines print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

import pandas as pd

from abtest.sim.whatif import Objective, best_policies, cap_label

__all__ = [
    "CapRecommendation",
    "Evidence",
    "PolicyObjective",
    "cap_recommendation",
    "cap_table",
    "caps_from_parameter",
    "decision_text",
    "do_not_retarget_text",
    "frequency_evidence",
]

Evidence = Literal["falls", "flat", "rises", "untested"]
"""What the data say about conversions as frequency rises (a trend test), or ``"untested"``."""


class _Trend(Protocol):
    direction: str
    p_value: float


def caps_from_parameter(caps: Sequence[int | float | None]) -> list[int | None]:
    """Frequency caps from a notebook parameter, where ``0`` (or ``None``) means "no cap".

    ``[0, 4, 2]`` -> ``[None, 4, 2]``. A negative or fractional cap raises ``ValueError``; so does
    the same cap listed twice (it would price one policy twice).
    """
    out: list[int | None] = []
    for c in caps:
        if c is None or c == 0:
            out.append(None)
            continue
        if isinstance(c, bool) or not float(c).is_integer() or c < 0:
            raise ValueError(f"a frequency cap is a whole number of impressions >= 0 (0 = no cap), "
                             f"got {c!r}")
        out.append(int(c))
    if len(set(out)) != len(out):
        raise ValueError(f"caps {list(caps)} list the same cap twice (0 and None both mean no cap)")
    if not out:
        raise ValueError("give at least one frequency cap (0 = no cap)")
    return out


@dataclass(frozen=True)
class PolicyObjective:
    """What the best policy or cap is: one definition for every report of a batch.

    ``objective`` is ``"cost_per_incremental_conversion"`` (lowest cost per extra conversion) or
    ``"incremental_conversion_rate"`` (most extra conversions); ``max_cost_per_incremental_conversion``
    leaves out policies whose extra conversions cost more each (``None``: no ceiling).
    """

    objective: Objective = "cost_per_incremental_conversion"
    max_cost_per_incremental_conversion: float | None = None

    def __post_init__(self) -> None:
        if self.objective not in ("cost_per_incremental_conversion", "incremental_conversion_rate"):
            raise ValueError(f"objective must be cost_per_incremental_conversion or "
                             f"incremental_conversion_rate, got {self.objective!r}")
        c = self.max_cost_per_incremental_conversion
        if c is not None and not (c > 0 and math.isfinite(c)):
            raise ValueError(f"the cost ceiling per extra conversion must be > 0, got {c!r}")

    @classmethod
    def from_parameters(cls, *, max_cost_per_incremental: float | None = 0.0,
                        objective: str | None = None) -> PolicyObjective:
        """From notebook parameters: a ceiling of ``0`` means none. Without ``objective`` a ceiling
        means "most extra conversions within it" and no ceiling "lowest cost per extra conversion"
        (with no ceiling, "most extra conversions" buys every impression however dear)."""
        ceiling = float(max_cost_per_incremental) if max_cost_per_incremental else None
        if objective is None:
            objective = ("incremental_conversion_rate" if ceiling is not None
                         else "cost_per_incremental_conversion")
        return cls(objective, ceiling)  # type: ignore[arg-type]

    def describe(self, currency: str = "") -> str:
        """The objective in words, e.g. "most extra conversions at no more than 10 USD each"."""
        ceiling = self.max_cost_per_incremental_conversion
        money = "" if ceiling is None else f"{ceiling:g}{' ' + currency if currency else ''}"
        if self.objective == "incremental_conversion_rate":
            return ("most extra conversions" if ceiling is None
                    else f"most extra conversions at no more than {money} each")
        return ("lowest cost per extra conversion" if ceiling is None
                else f"lowest cost per extra conversion (at most {money} each)")


def do_not_retarget_text(segment: str, objective: PolicyObjective, currency: str = "") -> str:
    """The sentence for a segment where no policy meets the objective: leave it alone."""
    ceiling = objective.max_cost_per_incremental_conversion
    if ceiling is None:
        why = "no policy adds conversions"
    else:
        why = f"no policy adds conversions at or under {ceiling:g}{' ' + currency if currency else ''} each"
    return f"{segment}: do not retarget ({why})"


def frequency_evidence(trend: _Trend | bool | None) -> Evidence:
    """What a frequency trend test says: ``"falls"`` (conversion per person falls as frequency
    rises, significant), ``"flat"``, ``"rises"``, or ``"untested"`` (``None``).

    Takes the :class:`abtest.stats.trend.TrendResult` of ``stats.conversion_by_frequency`` (its
    ``direction`` is "falls" / "rises" only when the Wald p-value is below alpha), or a bool
    (``True`` = falls, ``False`` = no effect).
    """
    if trend is None:
        return "untested"
    if isinstance(trend, bool):
        return "falls" if trend else "flat"
    direction = str(trend.direction)
    if direction not in ("falls", "flat", "rises"):
        raise ValueError(f"trend direction must be falls, flat or rises, got {direction!r}")
    return direction  # type: ignore[return-value]


@dataclass(frozen=True)
class CapRecommendation:
    """The frequency cap advised for one segment, and why.

    ``cap`` is impressions per ``cap_days`` (``None``: no cap); ``retarget`` is false when no
    policy meets the objective (then ``cap`` and ``policy`` are ``None``). ``simulated_cap`` is the
    simulator's own pick; ``cap`` differs from it only when the data show no frequency effect
    (``evidence`` "flat" / "rises"): then no cap is advised. ``supported`` is true when the data
    show conversion falling with frequency. ``at_grid_edge``: the cap is the tightest tested (a
    tighter one was not priced) or the loosest tested without "no cap" in the grid. ``note`` is
    the parenthesis that says so (or ""), ``text`` the segment's sentence with it.
    """

    segment: str
    cap: int | None
    cap_label: str
    retarget: bool
    policy: str | None
    simulated_cap: int | None
    gap_days: int | None
    window_days: int | None
    caps_tested: tuple[int | None, ...]
    at_grid_edge: bool
    supported: bool
    evidence: Evidence
    objective: Objective
    max_cost_per_incremental_conversion: float | None
    cost_per_incremental_conversion: float
    incremental_conversion_rate: float
    saving_vs_no_cap: float
    note: str
    text: str

    def to_dict(self) -> dict[str, object]:
        """JSON-safe record for a sidecar (NaN -> None, tuples -> lists)."""
        out = asdict(self)
        out["caps_tested"] = list(self.caps_tested)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def _edge(cap: int | None, caps: Sequence[int | None]) -> bool:
    finite = sorted(c for c in caps if c is not None)
    if cap is None or not finite:
        return False
    return cap == finite[0] or (cap == finite[-1] and None not in caps)


def _cap_note(cap: int | None, cap_days: int, caps: Sequence[int | None], at_edge: bool,
              evidence: Evidence, simulated_cap: int | None) -> str:
    """Why the cap reads as it does: " (...)" or ""."""
    finite = sorted(c for c in caps if c is not None)
    notes = []
    if evidence in ("flat", "rises") and simulated_cap is not None:
        seen = "no fall" if evidence == "flat" else "a rise"
        notes.append(f"the simulator would cap at {cap_label(simulated_cap, cap_days)}, but your "
                     f"data show {seen} in conversions as frequency rises: no cap until a test "
                     "shows one pays")
    elif at_edge and cap == finite[0]:
        notes.append(f"the tightest cap tested: a tighter one may do better, price caps below {cap}")
    elif at_edge:
        notes.append("the loosest cap tested: price looser caps and no cap too")
    if cap is not None and evidence == "untested":
        notes.append("simulator only: fatigue is the literature's, not tested on your data")
    return f" ({'; '.join(notes)})" if notes else ""


def cap_recommendation(
    grid: pd.DataFrame,
    *,
    objective: PolicyObjective,
    frequency_trend: _Trend | bool | None = None,
    segments: Sequence[str] | None = None,
    cap_days: int = 7,
    currency: str = "",
) -> list[CapRecommendation]:
    """The advised frequency cap per segment from a what-if grid (:func:`policy_whatif`).

    The best policy per segment under ``objective`` (:func:`best_policies`: the same ranking as
    the timing simulator's "recommended policy") gives the simulator's cap. The data then decide
    whether a cap stands: a frequency trend showing no fall in conversion per person
    (``frequency_trend`` "flat" or "rises") leaves the cap's saving resting only on the
    simulator's assumed fatigue, so the cap dimension is dropped and the best *uncapped* policy is
    advised (or "do not retarget" when none meets the objective). A segment where no policy meets
    the objective gets ``retarget = False`` and the "do not retarget" sentence.
    ``saving_vs_no_cap`` is the relative saving in cost per extra conversion against no cap at
    the same gap and window (0 when no cap is advised or no cap was not priced).
    """
    evidence = frequency_evidence(frequency_trend)
    ceiling = objective.max_cost_per_incremental_conversion
    no_cap_only = evidence in ("flat", "rises")

    def ranked(frame: pd.DataFrame) -> pd.DataFrame:
        return best_policies(frame, objective=objective.objective,
                             max_cost_per_incremental_conversion=ceiling).set_index("segment")

    sim_best = ranked(grid)
    best = ranked(grid[grid["frequency_cap"].isna()]) if no_cap_only else sim_best
    segs = list(segments) if segments is not None else list(dict.fromkeys(grid["segment"]))
    common = dict(supported=evidence == "falls", evidence=evidence, objective=objective.objective,
                  max_cost_per_incremental_conversion=ceiling)
    out = []
    for seg in segs:
        rows = grid[grid["segment"] == seg]
        sim_cap = (None if seg not in sim_best.index or pd.isna(sim_best.loc[seg, "frequency_cap"])
                   else int(sim_best.loc[seg, "frequency_cap"]))
        if seg not in best.index:
            note = ""
            if no_cap_only and seg in sim_best.index:
                note = (" (your data show no frequency effect, so no cap is advised, and without "
                        "a cap" + (" no policy was priced: add 0 to the caps)"
                                   if rows["frequency_cap"].notna().all()
                                   else " no policy meets the objective)"))
            out.append(CapRecommendation(
                segment=seg, cap=None, cap_label="do not retarget", retarget=False, policy=None,
                simulated_cap=sim_cap, gap_days=None, window_days=None, caps_tested=_caps(rows),
                at_grid_edge=False, cost_per_incremental_conversion=math.nan,
                incremental_conversion_rate=math.nan, saving_vs_no_cap=0.0, note=note,
                text=do_not_retarget_text(seg, objective, currency) + note, **common))
            continue
        b = best.loc[seg]
        gap, window = int(b["gap_days"]), int(b["active_window_days"])
        cap = None if pd.isna(b["frequency_cap"]) else int(b["frequency_cap"])
        same = rows[(rows["gap_days"] == gap) & (rows["active_window_days"] == window)]
        caps = _caps(same)
        cost = float(b["cost_per_incremental_conversion"])
        nocap = same[same["frequency_cap"].isna()]
        base = float(nocap["cost_per_incremental_conversion"].iloc[0]) if len(nocap) else math.nan
        saving = (1.0 - cost / base if cap is not None and math.isfinite(base) and base > 0
                  else 0.0)
        edge = _edge(cap, caps)
        note = _cap_note(cap, cap_days, caps, edge, evidence, sim_cap)
        out.append(CapRecommendation(
            segment=seg, cap=cap, cap_label=cap_label(cap, cap_days), retarget=True,
            policy=str(b["policy"]), simulated_cap=sim_cap, gap_days=gap, window_days=window,
            caps_tested=caps, at_grid_edge=edge, cost_per_incremental_conversion=cost,
            incremental_conversion_rate=float(b["incremental_conversion_rate"]),
            saving_vs_no_cap=float(saving), note=note,
            text=f"{seg}: {cap_label(cap, cap_days)}{note}", **common))
    return out


def _caps(rows: pd.DataFrame) -> tuple[int | None, ...]:
    vals = rows["frequency_cap"].drop_duplicates()
    caps: list[int | None] = [None if pd.isna(v) else int(v) for v in vals]
    return tuple(sorted(caps, key=lambda c: math.inf if c is None else c, reverse=True))


def cap_table(recs: Sequence[CapRecommendation]) -> pd.DataFrame:
    """The records as a table for a report: ``segment, cap, cost_per_incremental_conversion,
    incremental_conversion_rate, saving_vs_no_cap, at_grid_edge, supported, advice``."""
    cols = ["segment", "cap_label", "cost_per_incremental_conversion",
            "incremental_conversion_rate", "saving_vs_no_cap", "at_grid_edge", "supported", "text"]
    frame = pd.DataFrame([asdict(r) for r in recs], columns=[*cols, "cap"])[cols]
    frame = frame.rename(columns={"cap_label": "cap", "text": "advice"})
    for col in ("segment", "cap", "advice"):
        frame[col] = frame[col].astype("string")
    return frame


def decision_text(recs: Sequence[CapRecommendation], *, kind: Literal["policy", "cap"]) -> str:
    """The headline decision: "Recommended policy: warm: gap 1 d · 4 per 7 d · window 28 d; ..."
    (``kind="policy"``) or "Frequency cap per segment: warm: 4 per 7 d; ..." (``kind="cap"``)."""
    if kind == "policy":
        parts = [f"{r.segment}: {r.policy}{r.note}" if r.retarget and r.policy else r.text
                 for r in recs]
        return "Recommended policy: " + "; ".join(parts)
    return "Frequency cap per segment: " + "; ".join(r.text for r in recs)
