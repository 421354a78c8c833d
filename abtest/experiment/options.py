"""Typed records that travel from the analysis to the reports: the options used and the decision.

:class:`AnalysisOptions` is what :meth:`abtest.Experiment.analyze` ran with (alpha travels one
way: from here to every display). :class:`Decision` is the one action a report leads with; the
headline, the summary and the batch index read its fields, never a sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = ["Action", "AnalysisOptions", "Correction", "Decision", "Method"]

Method = Literal["frequentist", "bayesian", "sequential"]
Correction = Literal["holm", "bh", "bonferroni", "none"]
#: What the reader should do: ship an arm, keep the test running, stop (no difference, or keep
#: the control), or fix the data before reading anything.
Action = Literal["ship", "keep testing", "no difference", "keep control", "fix the data"]

CORRECTION_NAMES: dict[str, str] = {"holm": "Holm", "bh": "Benjamini-Hochberg",
                                    "bonferroni": "Bonferroni", "none": "no correction"}


@dataclass(frozen=True)
class AnalysisOptions(Mapping[str, Any]):
    """The options an analysis ran with (read-only; also readable as a mapping, ``opts["alpha"]``).

    ``control`` is the resolved control arm and ``arms`` every arm with the control first;
    ``metrics`` are metric names, the first being the primary (decision) metric; ``unit`` is
    ``"user"`` or ``"day"``; ``days`` the days the test has run (None when unknown); ``mde`` the planned minimum
    detectable relative effect the keep-testing days are sized on (None: the observed effect is
    not used, see ``families.plan``); ``paired_by_day`` says ad-level rows were paired by calendar
    day; ``more_days`` maps each treated arm to the extra days its primary comparison needs.
    """

    arm: str
    control: str
    arms: tuple[str, ...]
    metrics: tuple[str, ...]
    segment: str | None
    alpha: float
    method: Method
    correction: Correction
    unit: str
    days: float | None
    power: float
    tuning: float
    covariate: Mapping[str, str] = field(default_factory=dict)
    mde: float | None = None
    paired_by_day: bool = False
    more_days: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def secondary_metrics(self) -> tuple[str, ...]:
        """Every metric after the primary one (judged as one family, see ``families``)."""
        return self.metrics[1:]

    @property
    def primary_metric(self) -> str:
        """The metric the decision is about (the first one listed)."""
        return self.metrics[0]

    @property
    def correction_name(self) -> str:
        """The multiple-comparison correction in words ("Holm", "no correction", ...)."""
        return CORRECTION_NAMES[self.correction]

    # Mapping protocol: notebooks written against the former options dict keep working.
    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists)."""
        out = asdict(self)
        out["arms"], out["metrics"] = list(self.arms), list(self.metrics)
        out["covariate"] = dict(self.covariate)
        out["more_days"] = dict(self.more_days)
        return out


@dataclass(frozen=True)
class Decision:
    """The one action a report leads with, and what it rests on.

    ``action`` is the verb; ``arm`` the arm it concerns (the arm to ship, or the control to keep;
    None for "keep testing" / "no difference" / "fix the data"); ``metric`` the primary metric;
    ``text`` the short recommendation shown to the reader ("ship gap3d"); ``days_more`` the extra
    days a "keep testing" needs; ``winners`` every arm that beat the control on the primary
    metric; ``secondary_wins`` / ``guardrail_losses`` name ``(metric, arm)`` pairs that moved.
    """

    action: Action
    text: str
    metric: str
    arm: str | None = None
    days_more: int | None = None
    winners: tuple[str, ...] = ()
    secondary_wins: tuple[tuple[str, str], ...] = ()
    guardrail_losses: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = asdict(self)
        out["winners"] = list(self.winners)
        out["secondary_wins"] = [list(p) for p in self.secondary_wins]
        out["guardrail_losses"] = [list(p) for p in self.guardrail_losses]
        return out
