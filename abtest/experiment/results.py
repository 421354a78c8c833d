"""``ExperimentResults``: the immutable outcome of :meth:`abtest.Experiment.analyze`.

A tidy table (one row per metric × segment × arm, control rows included), the SRM check, the
per-segment heterogeneity tests, the options used, and the summary in words. Renders itself in
JupyterLab (every string from the data escaped) and serialises to a JSON-safe dict for report
sidecars.

Display (``_repr_html_``, what JupyterLab and the exported reports show): a compact, formatted,
escaped table grouped by metric — segment, arm, units, value (percent or money as the metric
says), lift with its interval (Fieller complements read "below X or above Y"), the adjusted
p-value (the multiplicity family stated once in the caption) or, for Bayesian results, the
chance to be better than control and the expected loss, and the verdict. Control rows are the
baseline. :attr:`ExperimentResults.table` stays the full tidy DataFrame for programs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from abtest.display import (
    as_number,
    escape_html,
    format_interval,
    format_value,
    frame_html,
)
from abtest.display.templates import render
from abtest.experiment.options import CORRECTION_NAMES, AnalysisOptions, Decision

__all__ = ["ExperimentResults"]

_ALL = "all"
_VERDICT_STYLE = {"better": "color:#116329;font-weight:600",
                  "worse": "color:#a40e26;font-weight:600",
                  "inconclusive": "color:#57606a"}


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
    :func:`abtest.stats.interval_excludes`, never with ``low > 0``. Intervals are at the decision level (see ``ci_level``);
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

    __slots__ = ("_decision", "_notes", "_options", "_seg", "_srm", "_table", "_text")

    def __init__(self, *, table: pd.DataFrame, srm: dict[str, Any],
                 segment_tests: pd.DataFrame | None, options: AnalysisOptions,
                 notes: tuple[str, ...], decision: Decision, summary_text: str) -> None:
        object.__setattr__(self, "_table", table.copy())
        object.__setattr__(self, "_srm", dict(srm))
        object.__setattr__(self, "_seg", None if segment_tests is None else segment_tests.copy())
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_notes", tuple(notes))
        object.__setattr__(self, "_decision", decision)
        object.__setattr__(self, "_text", summary_text)

    @property
    def _rec(self) -> str:
        return self._decision.text

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
    def options(self) -> AnalysisOptions:
        """The options the analysis ran with (frozen; also readable as a mapping)."""
        return self._options

    @property
    def decision(self) -> Decision:
        """The typed decision on the primary metric (what the headline and the index read)."""
        return self._decision

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
            "options": _json_value(self._options.to_dict()),
            "srm": _json_value(self._srm),
            "notes": list(self._notes),
            "results": _records(self._table),
            "segment_tests": _records(self._seg),
        }

    def __repr__(self) -> str:
        return f"<ExperimentResults: {self._rec}>\n{self.summary()}"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, *, currency: str = "") -> str:
        """The results as an escaped HTML block: recommendation, summary, SRM check, the
        formatted results table, the heterogeneity tests and the notes (see module docstring).

        ``currency`` is appended to money values (cost per conversion, revenue, margin value).
        """
        parts = [
            '<div class="abtest-results">',
            f"<h4>Recommendation: {escape_html(self._rec)}</h4>",
            f"<p>{escape_html(self._text)}</p>",
        ]
        if self._srm.get("checked"):
            flag = "MISMATCH: traffic split is off" if self._srm.get("flag") else "ok"
            p = format_value(self._srm.get("p_value"), "p_value")
            p = p if p.startswith("<") else f"= {p}"
            parts.append(f"<p>Traffic split (sample ratio check): {escape_html(flag)} "
                         f"(p {escape_html(p)})</p>")
        parts.append(_results_table(self._table, self._options, currency=currency))
        if self._seg is not None and not self._seg.empty:
            parts.append(_segment_table(self._seg, self._table))
        parts += [f"<p><em>Note: {escape_html(n)}</em></p>" for n in self._notes]
        parts.append("</div>")
        return "\n".join(parts)


def _lift_cell(r: pd.Series, *, bayes: bool, value_fmt: str, currency: str) -> str:
    """Relative lift with its interval; the absolute difference when the lift is undefined."""
    lift = as_number(r.get("rel_lift"))
    if lift is not None and math.isfinite(lift):
        lo, hi = ("rel_cred_low", "rel_cred_high") if bayes else ("rel_ci_low", "rel_ci_high")
        shape = "interval" if bayes else str(r.get("rel_ci_shape") or "interval")
        ci = format_interval(as_number(r.get(lo)), as_number(r.get(hi)), "signed_percent", shape=shape)
        return f"{format_value(lift, 'signed_percent')} ({ci})"
    diff = as_number(r.get("abs_diff"))
    if diff is None:
        return "—"
    fmt = {"percent": "signed_points", "money": "signed_money"}.get(value_fmt, "signed_number")
    text = format_value(diff, fmt, currency=currency)  # type: ignore[arg-type]
    if as_number(r.get("abs_ci_low")) is not None and not bayes:
        text += " (" + format_interval(as_number(r.get("abs_ci_low")), as_number(r.get("abs_ci_high")),
                                       fmt, currency=currency) + ")"  # type: ignore[arg-type]
    return f"{text} difference (control is 0)"


def _families(table: pd.DataFrame) -> str:
    """The multiplicity families of the p-values, each named once."""
    fams = table.loc[~table["is_control"].astype(bool), ["family", "segment"]]
    out = []
    for fam, rows in fams.groupby("family", sort=False):
        where = "all-leads rows" if (rows["segment"] == _ALL).all() else (
            "segment rows" if (rows["segment"] != _ALL).all() else "rows")
        size = rows.shape[0]
        out.append(f"“{fam}” ({size} test{'s' if size != 1 else ''}, the {where})")
    return "; ".join(out)


def _results_table(table: pd.DataFrame, options: AnalysisOptions, *, currency: str) -> str:
    """The formatted results table, grouped by metric, with a caption saying what is shown."""
    method = str(options.get("method", "frequentist"))
    bayes = method == "bayesian"
    segmented = bool(options.get("segment")) and (table["segment"] != _ALL).any()
    control = str(options.get("control", ""))
    alpha = float(options.get("alpha", 0.05))
    level = f"{1 - alpha:.0%}"
    unit = {"user": "Leads", "day": "Days"}.get(str(options.get("unit", "")), "Units")
    cuped = "variance_reduction" in table.columns and \
        bool((table["variance_reduction"].astype("Float64").fillna(0) > 0).any())
    adjusted = not bayes and str(options.get("correction", "holm")) != "none"
    heads = (["Segment"] if segmented else []) + [
        "Arm", unit, "Value",
        f"Lift vs {control} ({'adjusted' if adjusted else level} interval)"]
    heads += (["Chance better than control", "Expected loss"] if bayes
              else ["p-value (adjusted)"])
    heads += (["Variance cut (CUPED)"] if cuped else []) + ["Verdict"]
    groups = []
    for _metric, rows in table.groupby("metric", sort=False):
        first = rows.iloc[0]
        vfmt = str(first["display"])
        body = []
        for _, r in rows.iterrows():
            is_control = bool(r["is_control"])
            cells: list[tuple[str, str]] = []  # (kind, text): text | num | em | empty | verdict
            if segmented:
                cells.append(("text", "All leads" if r["segment"] == _ALL else str(r["segment"])))
            cells += [("text", str(r["arm"])), ("num", format_value(r["n"], "count")),
                      ("num", format_value(as_number(r["value"]), vfmt,  # type: ignore[arg-type]
                                           currency=currency))]
            if is_control:
                cells.append(("em", "baseline (control)"))
                cells += [("empty", "")] * (len(heads) - len(cells))
            else:
                cells.append(("num", _lift_cell(r, bayes=bayes, value_fmt=vfmt,
                                                currency=currency)))
                if bayes:
                    loss_fmt = "points" if str(r.get("analysis")) == "proportion" else "percent"
                    cells += [("num", format_value(as_number(r.get("prob_beat_control")), "percent")),
                              ("num", format_value(as_number(r.get("expected_loss")),
                                                   loss_fmt))]  # type: ignore[arg-type]
                else:
                    cells.append(("num", format_value(as_number(r.get("p_adjusted")), "p_value")))
                if cuped:
                    cells.append(("num", format_value(as_number(r.get("variance_reduction")),
                                                      "percent")))
                cells.append(("verdict", "" if pd.isna(r.get("verdict")) else str(r["verdict"])))
            body.append({"control": is_control, "cells": cells})
        groups.append({"label": str(first["metric_label"]), "rows": body,
                       "direction": ("higher is better" if bool(first["higher_is_better"])
                                     else "lower is better")})
    if bayes:
        caption = (f"Lift: relative change against {control} with its {level} credible "
                   "interval. Chance better than control: posterior probability that the arm "
                   f"beats {control} in the metric's direction. Expected loss: what shipping the "
                   "arm gives up on average if it is in fact worse (percentage points for "
                   "rates, relative otherwise).")
    else:
        kind = "always-valid " if method == "sequential" else ""
        corr = str(options.get("correction", "holm"))
        adjusted = corr != "none"
        caption = (f"Lift: relative change against {control} with its {kind}confidence "
                   + (f"interval widened for multiple comparisons ({CORRECTION_NAMES[corr]}, "
                      f"{level} for the family as a whole), so it excludes 0 exactly when the "
                      f"adjusted p-value is below {alpha:g}. Families: {_families(table)}."
                      if adjusted else f"{level} interval (no multiple-comparison correction)."
                      ) + " Verdict: better/worse only when the interval excludes 0 and the "
                   "adjusted p-value is below " + f"{alpha:g}.")
    return render("results_table.html.j2", heads=heads, groups=groups, caption=caption,
                  verdict_style=_VERDICT_STYLE, text_heads=("Segment", "Arm", "Verdict"))


def _segment_table(seg: pd.DataFrame, table: pd.DataFrame) -> str:
    """Cochran's Q heterogeneity tests across segments, formatted."""
    labels = dict(zip(table["metric"], table["metric_label"], strict=False))
    tested = seg["tested"].astype(bool).to_numpy()

    def when_tested(col: str) -> np.ndarray:
        return np.where(tested, pd.to_numeric(seg[col], errors="coerce").astype(float), np.nan)

    q, p, i2 = "Cochran's Q", "p-value", "I² (share of variation from real differences)"
    shown = pd.DataFrame({
        "Metric": [str(labels.get(m, m)) for m in seg["metric"]],
        "Arm": seg["arm"].astype(str).to_numpy(),
        "Segments": pd.to_numeric(seg["segments"]).astype(int).to_numpy(),
        q: when_tested("q"), p: when_tested("p_value"), i2: when_tested("i_squared"),
        "Simpson's reversal": ["yes" if bool(v) else "no" for v in seg["simpson"]],
    })
    formatters = {q: lambda v: format_value(v, "number"), p: lambda v: format_value(v, "p_value"),
                  i2: lambda v: format_value(v, "percent")}
    return ("<p>Does the lift differ between segments? (Cochran's Q test; Simpson's reversal = "
            "the pooled lift points the other way from every segment's)</p>"
            + frame_html(shown, formatters=formatters))
