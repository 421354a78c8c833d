"""The headline block every report opens with, and the same numbers for the JSON sidecar.

A :class:`Headline` holds the decision, the effect with its interval, the evidence (a p-value
*or* a probability, each under its own key and label: a p-value is never called "confidence",
a Bayesian probability never a p-value), and the data health: rows used and set aside by the
loaders, the sample-ratio check and the attribution window the conversions were counted in.

It renders as escaped HTML (``_repr_html_``: JupyterLab and the exported report show the same
block): the decision in bold, one sentence with the effect, its interval and the evidence, and
one data-health line. :meth:`Headline.to_sidecar` gives the flat mapping
:func:`abtest.report.write_sidecar` stores, and :func:`headline_lines` turns such a mapping back
into the same two lines (the batch index uses it). Every number in the HTML carries its sidecar
key and raw JSON value (``data-key`` / ``data-value``), so a test can check the page against the
JSON. Relative intervals that are Fieller complements (``ci_shape == "complement"``) read
"below X or above Y".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from abtest.display.format import (
    ValueFormat,
    as_number,
    escape_markdown,
    format_interval,
    format_value,
)
from abtest.display.templates import render

if TYPE_CHECKING:
    from abtest.experiment import ExperimentResults
    from abtest.prepare.folder import LoadedData

__all__ = [
    "Headline",
    "ValueFormat",
    "format_value",
    "headline_from_results",
    "headline_lines",
    "planning_headline",
    "simulation_headline",
    "srm_text",
    "trend_headline",
]

IntervalShape = Literal["interval", "complement"]

#: Banner colours (border, background) by decision action: good news green, wait amber, stop
#: grey, broken data red; headlines without a decision (plans, simulations) blue.
BANNER_COLOURS: dict[str, tuple[str, str]] = {
    "ship": ("#1a7f37", "#eefbf1"), "keep testing": ("#bf8700", "#fff8e5"),
    "no difference": ("#57606a", "#f6f8fa"), "keep control": ("#57606a", "#f6f8fa"),
    "fix the data": ("#cf222e", "#ffebe9"), "": ("#2f6f9f", "#f6f9fc"),
}

#: Sidecar keys of a structured headline (what :func:`headline_lines` needs).
HEADLINE_KEYS = ("metric", "comparison", "effect", "effect_label", "effect_format", "ci_low",
                 "ci_high", "ci_shape", "interval_label", "p_value", "p_value_note",
                 "probability", "probability_label", "rows_used", "rows_set_aside", "srm",
                 "attribution_window")


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _json_number(value: float | None) -> float | str | None:
    """Sidecar form of an interval end: JSON has no infinity, so ±inf -> "inf"/"-inf"."""
    if value is not None and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def srm_text(srm: Mapping[str, Any]) -> str:
    """``"ok (p = 0.42)"``, ``"MISMATCH: traffic split is off (p = 0.0002)"`` or "not checked"."""
    if not srm.get("checked"):
        return "not checked (ad-level data has no unit counts)"
    p = _finite(srm.get("p_value"))
    shown = "" if p is None else f" (p = {p:.2g})"
    return ("MISMATCH: traffic split is off" if srm.get("flag") else "ok") + shown


# --------------------------------------------------------------------------- sentence parts
Part = tuple[str | None, Any, str]  # (sidecar key or None for plain text, raw value, text)


def _effect_parts(h: Mapping[str, Any]) -> list[Part]:
    """The effect sentence as parts: metric, comparison, effect, interval, evidence."""
    fmt = h.get("effect_format") or "signed_percent"
    cur = h.get("currency") or ""
    parts: list[Part] = []
    if h.get("metric"):
        metric = str(h["metric"])
        parts += [("metric", h["metric"], metric[:1].upper() + metric[1:]), (None, None, ", ")]
    if h.get("comparison"):
        parts += [("comparison", h["comparison"], str(h["comparison"]))]
    parts.append((None, None, ": "))
    parts.append(("effect", h.get("effect"), format_value(h.get("effect"), fmt, currency=cur)))
    if h.get("effect_label"):
        parts += [(None, None, " "), ("effect_label", h["effect_label"], str(h["effect_label"]))]
    lo, hi = h.get("ci_low"), h.get("ci_high")
    if lo is not None or hi is not None:
        shape = h.get("ci_shape") or "interval"
        text = format_interval(lo, hi, fmt, shape=shape, currency=cur)
        parts += [(None, None, " ("),
                  ("interval_label", h.get("interval_label"), str(h.get("interval_label") or "")),
                  (None, None, ": "), ("ci_shape", shape, text), (None, None, ")")]
    p, prob = h.get("p_value"), h.get("probability")
    if p is not None:
        ptext = format_value(p, "p_value")
        parts += [(None, None, "; p " + ("" if ptext.startswith("<") else "= ")),
                  ("p_value", p, ptext)]
        if h.get("p_value_note"):
            parts += [(None, None, " ("), ("p_value_note", h["p_value_note"],
                                            str(h["p_value_note"])), (None, None, ")")]
    elif prob is not None:
        parts += [(None, None, "; "),
                  ("probability_label", h.get("probability_label"),
                   str(h.get("probability_label") or "probability")),
                  (None, None, ": "), ("probability", prob, format_value(prob, "percent"))]
    return parts


def _health_parts(h: Mapping[str, Any]) -> list[Part]:
    """Data health: rows used / set aside, the sample-ratio check, the attribution window."""
    parts: list[Part] = []
    used, aside = h.get("rows_used"), h.get("rows_set_aside")
    if used is not None:
        parts += [(None, None, "Rows used "), ("rows_used", used, format_value(used, "count"))]
        if aside is not None:
            parts += [(None, None, ", set aside "),
                      ("rows_set_aside", aside, format_value(aside, "count"))]
        parts.append((None, None, " · "))
    if h.get("srm") and not str(h["srm"]).startswith("not applicable"):
        parts += [(None, None, "Traffic split (SRM check): "), ("srm", h["srm"], str(h["srm"])),
                  (None, None, " · ")]
    if h.get("attribution_window"):
        parts += [(None, None, "Conversions: "),
                  ("attribution_window", h["attribution_window"], str(h["attribution_window"]))]
    while parts and parts[-1][0] is None and parts[-1][2] == " · ":
        parts.pop()
    return parts


def headline_lines(headline: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(effect sentence, data-health line)`` of a sidecar headline, as plain (unescaped) text.

    ``None`` when the mapping is not a structured :class:`Headline` (no ``effect`` or labels),
    e.g. a custom notebook's free-form headline.
    """
    if "effect" not in headline or not ({"p_value", "probability"} & set(headline)):
        return None
    return ("".join(t for _k, _v, t in _effect_parts(headline)),
            "".join(t for _k, _v, t in _health_parts(headline)))


@dataclass(frozen=True, kw_only=True)
class Headline:
    """The numbers a reader needs before the evidence.

    ``effect``/``ci_low``/``ci_high`` are in ``effect_format`` units (a relative lift by default;
    interval ends may be ±inf = unbounded); ``ci_shape`` is ``"complement"`` when the set is
    everything *outside* ``(ci_low, ci_high)`` (Fieller). The evidence is ``p_value`` (with
    ``p_value_note``, e.g. "Holm-adjusted") or ``probability`` (with ``probability_label``,
    e.g. "chance B is better than A") — never both. Missing values are ``None``, shown as "—".
    """

    title: str
    decision: str
    metric: str
    comparison: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    rows_used: int | None
    rows_set_aside: int | None
    srm: str
    attribution_window: str
    p_value: float | None = None
    p_value_note: str = ""
    probability: float | None = None
    probability_label: str = ""
    ci_shape: IntervalShape = "interval"
    effect_label: str = "relative lift"
    interval_label: str = "95% CI"
    effect_format: ValueFormat = "signed_percent"
    currency: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    action: str = ""  # the Decision's action ("ship", "keep testing", ...) colours the banner

    def __post_init__(self) -> None:
        if self.p_value is not None and self.probability is not None:
            raise ValueError("a headline shows a p-value or a probability, not both")
        if self.ci_shape not in ("interval", "complement"):
            raise ValueError(f"ci_shape must be 'interval' or 'complement', got {self.ci_shape!r}")

    # ------------------------------------------------------------------ data
    def to_sidecar(self) -> dict[str, Any]:
        """Flat, JSON-safe mapping for :func:`abtest.report.write_sidecar` (the decision is
        stored as the sidecar's own ``decision``; infinite interval ends as "inf"/"-inf")."""
        return {
            "title": self.title,
            "metric": self.metric,
            "comparison": self.comparison,
            "effect": self.effect,
            "effect_label": self.effect_label,
            "effect_format": self.effect_format,
            "currency": self.currency,
            "ci_low": _json_number(self.ci_low),
            "ci_high": _json_number(self.ci_high),
            "ci_shape": self.ci_shape,
            "interval_label": self.interval_label,
            "p_value": self.p_value,
            "p_value_note": self.p_value_note,
            "probability": self.probability,
            "probability_label": self.probability_label,
            "rows_used": self.rows_used,
            "rows_set_aside": self.rows_set_aside,
            "srm": self.srm,
            "attribution_window": self.attribution_window,
            "action": self.action,
        }

    def effect_sentence(self) -> str:
        """The effect in one line (plain text), as the index and the report show it."""
        return "".join(t for _k, _v, t in _effect_parts(self.to_sidecar()))

    def health_line(self) -> str:
        """Rows used / set aside, SRM check and attribution window in one line (plain text)."""
        return "".join(t for _k, _v, t in _health_parts(self.to_sidecar()))

    # ---------------------------------------------------------------- rendering
    def to_html(self) -> str:
        """The headline as an escaped HTML block: decision, effect sentence, data health, notes.

        Every number and label sits in a ``<span data-key data-value>`` holding the sidecar key
        and raw JSON value; the format and currency ride on the effect sentence's wrapper.
        """
        side = self.to_sidecar()
        effect, health = _effect_parts(side), _health_parts(side)
        shown = {k for k, _v, _t in effect + health if k is not None}
        # keys with nothing to show (format, currency, evidence that does not apply, no
        # interval): kept as empty hidden spans so the page still carries every sidecar value
        hidden = [(k, v) for k, v in side.items() if k != "title" and k not in shown]
        return render("headline.html.j2", title=self.title, decision=self.decision,
                      banner=BANNER_COLOURS.get(self.action, BANNER_COLOURS[""]),
                      effect=effect, health=health, hidden=hidden, notes=list(self.notes))

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_markdown(self) -> str:
        """The headline as escaped Markdown (for chat, e-mail or a markdown cell)."""
        lines = [f"## {escape_markdown(self.title)}", "",
                 f"**{escape_markdown(self.decision)}**", "",
                 escape_markdown(self.effect_sentence()), "",
                 escape_markdown(self.health_line())]
        if self.notes:
            lines.append("")
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
    treatment with the strongest evidence (smallest adjusted p-value, or highest chance to be
    better than control for Bayesian results). The effect is the relative lift with its interval
    (a Fieller complement keeps ``ci_shape="complement"``); when the control value is 0
    (relative lift undefined) it is the absolute difference instead. Frequentist intervals and
    p-values are both multiplicity-adjusted (the interval at the decision level), and the labels
    say so.
    """
    opts = results.options
    method = str(opts.method)
    control = str(opts.control)
    metric = metric or opts.primary_metric
    t = results.table
    pooled = t[(t["segment"] == "all") & (t["metric"] == metric)]
    if pooled.empty:
        raise ValueError(f"metric {metric!r} is not in the results (have {list(opts.metrics)})")
    treated = pooled[~pooled["is_control"]]
    decision = results.decision
    if arm is None and decision.action == "ship" and metric == decision.metric:
        arm = decision.arm
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
    bayes = method == "bayesian"
    lo_col, hi_col = ("rel_cred_low", "rel_cred_high") if bayes else ("rel_ci_low", "rel_ci_high")
    effect, lo, hi = _finite(r.get("rel_lift")), as_number(r.get(lo_col)), as_number(r.get(hi_col))
    shape = "interval" if bayes else str(r.get("rel_ci_shape") or "interval")
    effect_label, fmt = "relative lift", "signed_percent"
    if effect is None and not bayes:
        effect = _finite(r.get("abs_diff"))
        lo, hi = as_number(r.get("abs_ci_low")), as_number(r.get("abs_ci_high"))
        shape = "interval"
        effect_label = "difference (control is 0, so no relative lift)"
        fmt = {"percent": "signed_points", "money": "signed_money"}.get(
            str(r["display"]), "signed_number")
    level = f"{1 - opts.alpha:.0%}"
    corr = None if opts.correction == "none" else opts.correction_name
    p_value = probability = None
    p_note = prob_label = ""
    if bayes:
        probability = _finite(r.get("prob_beat_control"))
        prob_label = f"chance {arm} is better than {control}"
        interval = f"{level} credible interval"
    else:
        p_value = _finite(r.get("p_adjusted"))
        kind = "always-valid" if method == "sequential" else ""
        p_note = ", ".join(x for x in (kind, f"{corr}-adjusted" if corr else "") if x)
        interval = f"{level} {'always-valid ' if method == 'sequential' else ''}CI"
        if corr:  # the interval is at the decision level: it agrees with the adjusted p-value
            interval = f"{corr}-adjusted {'always-valid ' if method == 'sequential' else ''}CI"
    used, aside = _rows(data)
    first_word = decision.text.split(" ", 1)[0].rstrip(",;")
    decision_text = (decision.text if first_word in opts.arms  # an arm name keeps its spelling
                     else decision.text[:1].upper() + decision.text[1:])
    return Headline(
        title=title, decision=decision_text, metric=label, comparison=f"{arm} vs {control}",
        effect=effect, ci_low=lo, ci_high=hi, ci_shape=shape,  # type: ignore[arg-type]
        p_value=p_value, p_value_note=p_note, probability=probability,
        probability_label=prob_label, rows_used=used, rows_set_aside=aside,
        srm=srm_text(results.srm), attribution_window=attribution_window,
        effect_label=effect_label, interval_label=interval,
        effect_format=fmt, currency=currency,  # type: ignore[arg-type]
        action=decision.action,
        notes=tuple(notes) + tuple(results.notes),
    )


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
        ci_high=_finite(math.expm1(slope + z * se)), p_value=_finite(trend.p_value),
        p_value_note="trend test, quasi-binomial Wald",
        rows_used=_rows(data)[0], rows_set_aside=_rows(data)[1],
        srm="not applicable (no split compared)", attribution_window=attribution_window,
        effect_label="change in the odds", interval_label="95% CI", notes=tuple(notes),
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
        title=title, decision=decision, metric="Incremental conversions",
        comparison=f"{pol} vs no retargeting ({segment} leads)",
        effect=_finite(u["incremental_rate"]), ci_low=_finite(u["incremental_rate_low"]),
        ci_high=_finite(u["incremental_rate_high"]), probability=_finite(u["share_best"]),
        probability_label="share of simulated replays in which this policy was best",
        rows_used=None, rows_set_aside=None, srm="not applicable (simulation)",
        attribution_window=f"simulated true conversions within {horizon_days} days of entry "
                           "(no platform attribution)",
        effect_label="of leads convert because of the ads",
        interval_label="95% Monte Carlo interval", effect_format="percent", notes=tuple(notes),
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
        effect=lift, ci_low=None, ci_high=None, probability=float(power),
        probability_label=f"power (chance to detect that lift if it is real, two-sided "
                          f"alpha {alpha:g})",
        rows_used=None, rows_set_aside=None, srm="not applicable (planning)",
        attribution_window="as planned: first-party conversions per lead",
        effect_label="planned minimum detectable lift", interval_label="", notes=tuple(notes),
    )
