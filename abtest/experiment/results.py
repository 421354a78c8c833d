"""``ExperimentResults``: the immutable outcome of :meth:`abtest.Experiment.analyze`.

A tidy table (one row per metric × segment × arm, control rows included), the SRM check, the
per-segment heterogeneity tests, the options used, and the summary in words. Renders itself in
JupyterLab (every string from the data escaped) and serialises to a JSON-safe dict for report
sidecars.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from abtest.html import escape_html, frame_html

__all__ = ["ExperimentResults"]

_DISPLAY = ["metric_label", "segment", "arm", "n", "value", "abs_diff", "rel_lift", "rel_ci_low",
            "rel_ci_high", "rel_ci_shape", "p_value", "p_adjusted", "rel_cred_low",
            "rel_cred_high", "prob_beat_control", "expected_loss", "variance_reduction",
            "verdict"]


def _json_value(v: Any) -> Any:
    """JSON-safe scalar: NA -> None, ±inf -> "inf"/"-inf", numpy -> Python."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_json_value(x) for x in v]
    return v if isinstance(v, (int, str)) else str(v)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    return [{k: _json_value(v) for k, v in rec.items()}
            for rec in frame.astype(object).to_dict(orient="records")]


class ExperimentResults:
    """Read-only results. ``table`` returns a copy, so the results cannot be changed by accident.

    Table columns (always): ``metric, metric_label, segment ("all" = pooled), arm, is_control,
    unit, analysis, higher_is_better, n`` (units in the test), ``value`` (the arm's metric value),
    ``test`` (the statistical test used, e.g. ``wald-z``, ``cuped-z``, ``always-valid
    (delta-welch-t)``, ``beta-binomial``), ``method``, ``family`` and ``verdict`` (``better`` /
    ``worse`` / ``inconclusive`` in the metric's direction: for ``higher_is_better=False`` metrics
    such as cost per conversion, better means lower).

    Frequentist and sequential: ``abs_diff, std_error, p_value, abs_ci_low, abs_ci_high,
    rel_lift, rel_ci_low, rel_ci_high, rel_ci_shape, p_adjusted, significant``. Every relative
    set is Fieller's (:func:`abtest.stats.fieller_interval`): ``rel_ci_shape`` is ``"interval"``
    (``[rel_ci_low, rel_ci_high]``, ends possibly infinite) or ``"complement"`` (everything
    outside ``(rel_ci_low, rel_ci_high)``); test exclusion with
    :func:`abtest.stats.interval_excludes`, never with ``low > 0``. Intervals are unadjusted;
    ``significant`` = the relative set excludes 0 and ``p_adjusted`` < alpha (the family and
    correction are named in ``family``).

    Bayesian: ``rel_lift, rel_cred_low, rel_cred_high, prob_beat_control, expected_loss,
    expected_loss_control`` (beta-binomial for proportions, normal approximation on the relative
    lift for means and ratios; expected losses in rate units for proportions and relative units
    otherwise). ``prob_beat_control`` is the posterior probability that the arm is *better* than
    control in the metric's direction, and ``expected_loss`` the expected loss of shipping the
    arm in that direction. The frequentist ``abs_diff, std_error`` are kept for planning and the
    heterogeneity test; there are no p-values.

    With ``covariate`` (CUPED): ``cuped`` (True on adjusted rows), ``cuped_theta`` and
    ``variance_reduction`` (1 − adjusted/unadjusted variance of the comparison; 0 on treatment
    rows that were not adjusted).

    Effect columns are missing (``<NA>``) on control rows by definition — a control is not
    compared with itself — and never NaN elsewhere; infinite relative values are documented
    limits (zero control conversions), serialised as ``"inf"``/``"-inf"``.
    """

    __slots__ = ("_notes", "_options", "_rec", "_seg", "_srm", "_table", "_text")

    def __init__(self, *, table: pd.DataFrame, srm: dict[str, Any],
                 segment_tests: pd.DataFrame | None, options: dict[str, Any],
                 notes: tuple[str, ...], recommendation: str, summary_text: str) -> None:
        object.__setattr__(self, "_table", table.copy())
        object.__setattr__(self, "_srm", dict(srm))
        object.__setattr__(self, "_seg", None if segment_tests is None else segment_tests.copy())
        object.__setattr__(self, "_options", dict(options))
        object.__setattr__(self, "_notes", tuple(notes))
        object.__setattr__(self, "_rec", recommendation)
        object.__setattr__(self, "_text", summary_text)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ExperimentResults is read-only")

    @property
    def table(self) -> pd.DataFrame:
        """The tidy results table (a copy)."""
        return self._table.copy()

    def to_frame(self) -> pd.DataFrame:
        """Same as :attr:`table`."""
        return self.table

    @property
    def srm(self) -> dict[str, Any]:
        """Sample-ratio check: ``checked, p_value, flag, counts, expected_shares``."""
        return dict(self._srm)

    @property
    def segment_tests(self) -> pd.DataFrame | None:
        """Per metric × arm: ``q, df, p_value, i_squared, simpson, tested`` (None without segment)."""
        return None if self._seg is None else self._seg.copy()

    @property
    def options(self) -> dict[str, Any]:
        return dict(self._options)

    @property
    def notes(self) -> tuple[str, ...]:
        return self._notes

    @property
    def recommendation(self) -> str:
        """One short action: "ship B", "keep testing about N more days", ..."""
        return self._rec

    def summary(self) -> str:
        """The results in plain words, ending with the recommendation."""
        parts = [self._text, f"Recommendation: {self._rec}."]
        parts += [f"Note: {n}" for n in self._notes]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict for report sidecars (NA -> null, ±inf -> "inf"/"-inf")."""
        return {
            "recommendation": self._rec,
            "summary": self._text,
            "options": _json_value(self._options),
            "srm": _json_value(self._srm),
            "notes": list(self._notes),
            "results": _records(self._table),
            "segment_tests": _records(self._seg),
        }

    def __repr__(self) -> str:
        return f"<ExperimentResults: {self._rec}>\n{self.summary()}"

    def _repr_html_(self) -> str:
        cols = [c for c in _DISPLAY if c in self._table.columns]
        shown = self._table[cols]
        if not self._options.get("segment"):
            shown = shown.drop(columns=["segment"])
        parts = [
            '<div class="abtest-results">',
            f"<h4>Recommendation: {escape_html(self._rec)}</h4>",
            f"<p>{escape_html(self._text)}</p>",
        ]
        if self._srm.get("checked"):
            flag = "MISMATCH" if self._srm.get("flag") else "ok"
            parts.append(f"<p>Sample ratio check: {flag} (p = {self._srm['p_value']:.3g})</p>")
        parts.append(frame_html(shown))
        if self._seg is not None and not self._seg.empty:
            parts.append("<p>Heterogeneity across segments (Cochran's Q):</p>")
            parts.append(frame_html(self._seg))
        parts += [f"<p><em>Note: {escape_html(n)}</em></p>" for n in self._notes]
        parts.append("</div>")
        return "\n".join(parts)
