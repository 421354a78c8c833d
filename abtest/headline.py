"""The headline block every report opens with, and the same numbers for the JSON sidecar.

A :class:`Headline` holds the decision, the effect with its interval, the confidence (a p-value
or a probability, labelled as what it is), and the data health: rows used and set aside by the
loaders, the sample-ratio check and the attribution window the conversions were counted in.
It renders as escaped HTML (``_repr_html_``: JupyterLab and the exported report show the same
block) and as escaped Markdown, and :meth:`Headline.to_sidecar` gives the flat mapping
:func:`abtest.report.write_sidecar` stores. Every HTML row carries its sidecar key and raw value
(``data-key`` / ``data-value``), so a test can check the page against the JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from abtest.html import escape_html, escape_markdown

if TYPE_CHECKING:
    from abtest.experiment import ExperimentResults
    from abtest.stories import LoadedData

__all__ = ["Headline", "ValueFormat", "format_value", "headline_from_results", "srm_text"]

ValueFormat = Literal["percent", "signed_percent", "number", "money", "p_value", "count", "text"]

_CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni"}
_PERCENT_METRICS = {"ctr", "cvr_click", "cvr_impression", "conversion_rate", "engagement_rate",
                    "video_completion"}


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def format_value(value: Any, fmt: ValueFormat, *, currency: str = "") -> str:
    """Human text for one headline value; ``None`` (not available) reads as an em dash."""
    if value is None:
        return "—"
    if fmt == "text":
        return str(value)
    f = _finite(value)
    if f is None:
        return "—"
    if fmt == "percent":
        return f"{f:.2%}"
    if fmt == "signed_percent":
        return f"{f:+.1%}"
    if fmt == "p_value":
        return "< 0.001" if f < 0.001 else f"{f:.3f}"
    if fmt == "count":
        return f"{f:,.0f}"
    if fmt == "money":
        return f"{f:,.2f} {currency}".strip()
    return f"{f:,.4g}"


def srm_text(srm: Mapping[str, Any]) -> str:
    """``"ok (p = 0.42)"``, ``"MISMATCH (p = 0.0002)"`` or ``"not checked"``."""
    if not srm.get("checked"):
        return "not checked (ad-level data has no unit counts)"
    p = _finite(srm.get("p_value"))
    shown = "" if p is None else f" (p = {p:.2g})"
    return ("MISMATCH: traffic split is off" if srm.get("flag") else "ok") + shown


@dataclass(frozen=True)
class Headline:
    """The numbers a reader needs before the evidence.

    ``effect``/``ci_low``/``ci_high`` are in ``effect_format`` units (a relative lift by default);
    ``confidence`` is what ``confidence_label`` says (an adjusted p-value, or a probability to beat
    control — never both under one label). Missing values are ``None``, shown as "—".
    """

    title: str
    decision: str
    metric: str
    comparison: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float | None
    confidence_label: str
    rows_used: int | None
    rows_set_aside: int | None
    srm: str
    attribution_window: str
    effect_label: str = "Relative lift"
    interval_label: str = "95% confidence interval"
    effect_format: ValueFormat = "signed_percent"
    confidence_format: ValueFormat = "p_value"
    currency: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ fields
    def fields(self) -> list[tuple[str, str, Any, str]]:
        """``(key, label, raw value, display text)`` in display order (decision first)."""
        eff = self.effect_format
        rows = [
            ("decision", "Decision", self.decision, self.decision),
            ("metric", "Primary metric", self.metric, self.metric),
            ("comparison", "Comparison", self.comparison, self.comparison),
            ("effect", self.effect_label, self.effect,
             format_value(self.effect, eff, currency=self.currency)),
            ("ci_low", f"{self.interval_label}, low", self.ci_low,
             format_value(self.ci_low, eff, currency=self.currency)),
            ("ci_high", f"{self.interval_label}, high", self.ci_high,
             format_value(self.ci_high, eff, currency=self.currency)),
            ("confidence", self.confidence_label, self.confidence,
             format_value(self.confidence, self.confidence_format)),
            ("rows_used", "Rows used", self.rows_used, format_value(self.rows_used, "count")),
            ("rows_set_aside", "Rows set aside", self.rows_set_aside,
             format_value(self.rows_set_aside, "count")),
            ("srm", "Sample ratio check", self.srm, self.srm),
            ("attribution_window", "Conversions counted", self.attribution_window,
             self.attribution_window),
        ]
        return rows

    def to_sidecar(self) -> dict[str, Any]:
        """Flat, JSON-safe mapping for :func:`abtest.report.write_sidecar` (display order)."""
        out: dict[str, Any] = {"title": self.title}
        for key, _label, value, _text in self.fields():
            if key == "decision":
                continue  # stored as the sidecar's own ``decision``
            out[key] = value
        out["confidence_label"] = self.confidence_label
        out["effect_label"] = self.effect_label
        return out

    # ---------------------------------------------------------------- rendering
    def _interval(self) -> str:
        eff, cur = self.effect_format, self.currency
        if self.ci_low is None or self.ci_high is None:
            return "—"
        return f"{format_value(self.ci_low, eff, currency=cur)} to " \
               f"{format_value(self.ci_high, eff, currency=cur)}"

    def to_html(self) -> str:
        """The headline as an escaped HTML block (decision, table of numbers, notes)."""
        rows = []
        for key, label, value, text in self.fields():
            if key == "decision":
                continue
            raw = escape_html(json.dumps(value, allow_nan=False))
            rows.append(f'<tr data-key="{escape_html(key)}"><th style="text-align:left">'
                        f'{escape_html(label)}</th><td data-value="{raw}">{escape_html(text)}</td>'
                        "</tr>")
        notes = "".join(f"<li>{escape_html(n)}</li>" for n in self.notes)
        decision_raw = escape_html(json.dumps(self.decision))
        return (
            '<div class="abtest-headline" style="border-left:4px solid #2f6f9f;'
            'padding:0.6rem 1rem;margin:0.5rem 0 1rem 0;background:#f6f9fc">'
            f'<h2 style="margin-top:0">{escape_html(self.title)}</h2>'
            f'<p class="abtest-decision" data-key="decision" data-value="{decision_raw}" '
            f'style="font-size:1.25em;font-weight:600">{escape_html(self.decision)}</p>'
            f'<p class="abtest-effect">{escape_html(self.effect_label)} '
            f'{escape_html(format_value(self.effect, self.effect_format, currency=self.currency))}'
            f' ({escape_html(self.interval_label)}: {escape_html(self._interval())}); '
            f'{escape_html(self.confidence_label)}: '
            f'{escape_html(format_value(self.confidence, self.confidence_format))}</p>'
            f'<table class="abtest-headline-table">{"".join(rows)}</table>'
            + (f'<ul class="abtest-notes">{notes}</ul>' if notes else "")
            + "</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_markdown(self) -> str:
        """The headline as escaped Markdown (for chat, e-mail or a markdown cell)."""
        lines = [f"## {escape_markdown(self.title)}", "",
                 f"**{escape_markdown(self.decision)}**", "", "| | |", "|---|---|"]
        for key, label, _value, text in self.fields():
            if key != "decision":
                lines.append(f"| {escape_markdown(label)} | {escape_markdown(text)} |")
        lines += [f"- {escape_markdown(n)}" for n in self.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def write(self, results_path: str | None, *, parameters: Mapping[str, Any] | None = None,
              report_name: str | None = None, run_id: str | None = None,
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write the JSON sidecar (a no-op write when ``results_path`` is empty) and return it."""
        from abtest.report.sidecar import write_sidecar

        return write_sidecar(results_path, self.to_sidecar(), decision=self.decision,
                             parameters=parameters, report_name=report_name, run_id=run_id,
                             extra=extra)


def _rows(data: LoadedData | Iterable[LoadedData] | None) -> tuple[int | None, int | None]:
    if data is None:
        return None, None
    items = [data] if hasattr(data, "reports") else list(data)  # type: ignore[arg-type]
    return (sum(d.rows_used for d in items), sum(d.rows_set_aside for d in items))


def headline_from_results(
    results: ExperimentResults,
    *,
    title: str,
    data: LoadedData | Iterable[LoadedData] | None = None,
    attribution_window: str,
    metric: str | None = None,
    arm: str | None = None,
    currency: str = "",
    notes: Iterable[str] = (),
) -> Headline:
    """Headline of an :class:`~abtest.experiment.ExperimentResults` for one metric and arm.

    ``metric`` defaults to the primary metric; ``arm`` to the recommended arm ("ship X"), else the
    treatment with the strongest evidence (smallest adjusted p-value, or highest probability to
    beat control for Bayesian results). The effect is the relative lift with its interval; when
    the control value is 0 (relative lift undefined) it is the absolute difference instead.
    """
    opts = results.options
    method = str(opts["method"])
    control = str(opts["control"])
    metric = metric or str(opts["metrics"][0])
    t = results.table
    pooled = t[(t["segment"] == "all") & (t["metric"] == metric)]
    if pooled.empty:
        raise ValueError(f"metric {metric!r} is not in the results (have {opts['metrics']})")
    treated = pooled[~pooled["is_control"]]
    rec = results.recommendation
    if arm is None and rec.startswith("ship ") and metric == opts["metrics"][0]:
        arm = rec[len("ship "):]
    if arm is None:
        key = "prob_beat_control" if method == "bayesian" else "p_adjusted"
        score = treated[key].astype("Float64").fillna(-1.0 if method == "bayesian" else 2.0)
        pick = score.to_numpy(dtype=float).argmax() if method == "bayesian" else \
            score.to_numpy(dtype=float).argmin()
        arm = str(treated["arm"].iloc[int(pick)])
    row = treated[treated["arm"] == arm]
    if row.empty:
        raise ValueError(f"arm {arm!r} is not a treatment arm of the results")
    r = row.iloc[0]
    label = str(r["metric_label"])
    lo_col, hi_col = (("rel_cred_low", "rel_cred_high") if method == "bayesian"
                      else ("rel_ci_low", "rel_ci_high"))
    effect, lo, hi = _finite(r.get("rel_lift")), _finite(r.get(lo_col)), _finite(r.get(hi_col))
    effect_label, fmt = f"Relative lift in {label}", "signed_percent"
    if effect is None and method != "bayesian":
        effect = _finite(r.get("abs_diff"))
        lo, hi = _finite(r.get("abs_ci_low")), _finite(r.get("abs_ci_high"))
        effect_label = f"Difference in {label}"
        fmt = "percent" if metric in _PERCENT_METRICS else "number"
    level = f"{1 - float(opts['alpha']):.0%}"
    if method == "bayesian":
        conf_label = f"Probability {arm} beats {control} (not a p-value)"
        confidence, conf_fmt = _finite(r.get("prob_beat_control")), "percent"
        interval = f"{level} credible interval"
    else:
        kind = "always-valid p-value" if method == "sequential" else "p-value"
        corr = _CORRECTIONS.get(str(opts.get("correction", "none")))
        conf_label = f"{kind} ({corr}-adjusted)" if corr else kind
        confidence, conf_fmt = _finite(r.get("p_adjusted")), "p_value"
        interval = f"{level} {'always-valid ' if method == 'sequential' else ''}confidence interval"
    used, aside = _rows(data)
    decision = rec[:1].upper() + rec[1:]
    return Headline(
        title=title, decision=decision, metric=label, comparison=f"{arm} vs {control}",
        effect=effect, ci_low=lo, ci_high=hi, confidence=confidence, confidence_label=conf_label,
        rows_used=used, rows_set_aside=aside, srm=srm_text(results.srm),
        attribution_window=attribution_window, effect_label=effect_label, interval_label=interval,
        effect_format=fmt, confidence_format=conf_fmt, currency=currency,  # type: ignore[arg-type]
        notes=tuple(notes) + tuple(results.notes),
    )


def table_html(
    frame: Any,
    *,
    percent: Iterable[str] = (),
    money: Iterable[str] = (),
    count: Iterable[str] = (),
    currency: str = "",
    rename: Mapping[str, str] | None = None,
) -> str:
    """An escaped HTML table with readable number formats (for tables built in the notebooks)."""
    from abtest.html import frame_html

    fmt: dict[str, Any] = {}
    for col in percent:
        fmt[col] = lambda v: format_value(v, "percent")
    for col in money:
        fmt[col] = lambda v, c=currency: format_value(v, "money", currency=c)
    for col in count:
        fmt[col] = lambda v: format_value(v, "count")
    shown = frame.rename(columns=dict(rename or {}))
    fmt = {dict(rename or {}).get(k, k): f for k, f in fmt.items()}
    return frame_html(shown, formatters=fmt)


def trend_headline(
    trend: Any,
    *,
    title: str,
    decision: str,
    metric: str,
    level_label: str,
    data: LoadedData | Iterable[LoadedData] | None,
    attribution_window: str,
    notes: Iterable[str] = (),
) -> Headline:
    """Headline of a fatigue trend (:class:`abtest.stats.TrendResult`): the change in the odds of
    the rate per step of the level, with its 95% interval (quasi-binomial Wald) and p-value."""
    z = 1.959963984540054
    slope, se = float(trend.slope), float(trend.std_error)
    return Headline(
        title=title, decision=decision, metric=metric, comparison=f"per extra {level_label}",
        effect=_finite(math.expm1(slope)), ci_low=_finite(math.expm1(slope - z * se)),
        ci_high=_finite(math.expm1(slope + z * se)), confidence=_finite(trend.p_value),
        confidence_label="p-value of the trend (quasi-binomial Wald test)",
        rows_used=_rows(data)[0], rows_set_aside=_rows(data)[1],
        srm="not applicable (no split compared)", attribution_window=attribution_window,
        effect_label=f"Change in the odds of {metric} per extra {level_label}",
        notes=tuple(notes),
    )


def simulation_headline(
    best: Any,
    uncertainty: Any,
    *,
    title: str,
    decision: str,
    segment: str,
    horizon_days: int,
    notes: Iterable[str] = (),
) -> Headline:
    """Headline of a simulator what-if: the best policy of ``segment`` with its Monte Carlo
    interval, and how often it came out best in the replays (a share, not a p-value)."""
    row = best[best["segment"] == segment]
    if row.empty:
        raise ValueError(f"no eligible policy for segment {segment!r}")
    pol = str(row["policy"].iloc[0])
    unc = uncertainty[(uncertainty["segment"] == segment) & (uncertainty["policy"] == pol)]
    if unc.empty:
        raise ValueError(f"policy {pol!r} was not replayed for segment {segment!r}")
    u = unc.iloc[0]
    return Headline(
        title=title, decision=decision, metric="Extra conversions per lead (incremental rate)",
        comparison=f"{pol} vs no retargeting ({segment} leads)",
        effect=_finite(u["incremental_rate"]), ci_low=_finite(u["incremental_rate_low"]),
        ci_high=_finite(u["incremental_rate_high"]), confidence=_finite(u["share_best"]),
        confidence_label="Share of simulated replays in which this policy was best "
                         "(not a p-value)",
        rows_used=None, rows_set_aside=None, srm="not applicable (simulation)",
        attribution_window=f"simulated true conversions within {horizon_days} days of entry "
                           "(no platform attribution)",
        effect_label="Incremental conversion rate",
        interval_label="95% Monte Carlo interval", effect_format="percent",
        confidence_format="percent", notes=tuple(notes),
    )


def planning_headline(
    plan_row: Mapping[str, Any],
    *,
    title: str,
    power: float,
    alpha: float,
    n_arms: int,
    max_days: int | None = None,
    notes: Iterable[str] = (),
) -> Headline:
    """Headline of a test plan: leads per arm and days to detect the planned lift.

    With ``max_days``, a plan that needs longer says so in the decision.
    """
    n, days = int(plan_row["n_per_arm"]), int(plan_row["days"])
    lift = float(plan_row["relative_lift"])
    decision = (f"Plan {n:,} leads per arm ({n * n_arms:,} in total): about {days} days at the "
                f"expected traffic, to detect a {lift:+.0%} lift")
    if max_days is not None and days > max_days:
        decision += (f" (longer than the {max_days} days available: plan for a larger lift or "
                     "more traffic)")
    return Headline(
        title=title, decision=decision, metric="Conversion rate (per lead)",
        comparison=f"{n_arms - 1} treatment arm(s) vs control",
        effect=lift, ci_low=None, ci_high=None, confidence=float(power),
        confidence_label=f"Power: chance to detect the lift if it is real (two-sided alpha "
                         f"{alpha:g})",
        rows_used=None, rows_set_aside=None, srm="not applicable (planning)",
        attribution_window="as planned: first-party conversions per lead",
        effect_label="Planned minimum detectable lift", interval_label="interval",
        confidence_format="percent", notes=tuple(notes),
    )
