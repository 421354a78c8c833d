"""The results in words, ending with one recommendation a marketer can act on.

Recommendations are about the *primary* metric (the first one listed), on the pooled rows:

* ``"ship B"``: B's ``verdict`` is "better": its relative confidence set excludes 0
  (``interval_excludes``, honouring ``rel_ci_shape``) with adjusted p < alpha, in the metric's
  direction (lower is better for costs); Bayesian: chance to be better >= 1 − alpha;
* ``"keep A"``: every other arm is significantly worse;
* ``"keep testing about N more days"``: the observed effect would become detectable (power
  ``power``, two-sided ``alpha``) after about N more days at the current daily traffic. With
  standard errors shrinking as 1/sqrt(n), the factor on the sample size is
  f = ((z_{1−α/2} + z_{power})·SE / |Δ|)², so N = days_run·(f − 1) (the usual sample-size formula,
  written with the observed per-unit variance);
* ``"no detectable difference; the test could detect X"``: reaching the observed effect would need
  more than three times the days run so far (or 90 days); X is the minimum detectable effect at the
  current sample size, (z_{1−α/2} + z_{power})·SE.

A sample-ratio mismatch overrides everything: the numbers are not trustworthy until the split is
fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from abtest.display import format_value
from abtest.experiment.options import CORRECTION_NAMES, AnalysisOptions, Decision
from abtest.metrics import Metric

__all__ = ["Recommendation", "recommend"]

MAX_EXTRA_FACTOR = 3.0
MAX_EXTRA_DAYS = 90.0


@dataclass(frozen=True)
class Recommendation:
    """The typed decision, its short text and the paragraph that explains it."""

    decision: Decision
    text: str

    @property
    def recommendation(self) -> str:
        """The short action in words ("ship B"), as :attr:`Decision.text`."""
        return self.decision.text


def _fmt(metric: Metric, v: float) -> str:
    """A value of ``metric`` as the reports show it (the one formatter, abtest.display)."""
    if not np.isfinite(v):
        return "unbounded" if v > 0 else "-unbounded"
    return format_value(v, metric.display)  # type: ignore[arg-type]


def _pct(v: float) -> str:
    return format_value(v, "signed_percent")


def _p(v: float) -> str:
    """``"= 0.012"`` or ``"< 0.001"``: p-values without false precision or exponents."""
    text = format_value(v, "p_value")
    return text if text.startswith("<") else f"= {text}"


def _better(row: pd.Series) -> tuple[bool, bool]:
    """(better, worse) for one treatment row, from the table's direction-aware ``verdict``."""
    verdict = str(row["verdict"])
    return verdict == "better", verdict == "worse"


def _adjusted(row: pd.Series) -> str:
    """``" CUPED-adjusted"`` when the row's estimate is regression-adjusted (differs from values)."""
    return " CUPED-adjusted" if bool(row.get("cuped", False)) else ""


def _rel_set(row: pd.Series) -> str:
    """The relative confidence set in words, honouring ``rel_ci_shape`` (Fieller)."""
    lo, hi = float(row["rel_ci_low"]), float(row["rel_ci_high"])
    if str(row.get("rel_ci_shape", "interval")) == "complement":
        return (f"below {_pct(lo)} or above {_pct(hi)} (the control value is too uncertain "
                "for a bounded interval)")
    if np.isinf(lo) and np.isinf(hi) and lo < 0 < hi:
        return "unbounded (the control value is too uncertain to bound the lift)"
    return f"{_pct(lo)} to {_pct(hi)}"


def _evidence(row: pd.Series, method: str, alpha: float, correction: str) -> str:
    level = f"{1 - alpha:.0%}"
    if method == "bayesian":
        return (f"chance to be better than control {float(row['prob_beat_control']):.1%}, "
                f"{level} credible interval for the lift {_pct(float(row['rel_cred_low']))} to "
                f"{_pct(float(row['rel_cred_high']))}")
    kind = "always-valid " if method == "sequential" else ""
    # the interval is at the decision level (families.intervals), so it carries the correction
    level = level if correction == "none" else f"{CORRECTION_NAMES.get(correction, correction)}-adjusted"
    return (f"{level} {kind}confidence interval for the lift {_rel_set(row)}, "
            f"p {_p(float(row['p_adjusted']))} after {_correction_words(correction)}")


def _correction_words(correction: str) -> str:
    name = CORRECTION_NAMES.get(correction, correction)
    return name if correction == "none" else f"{name} correction"


def _plan(row: pd.Series, alpha: float, power: float, planned: float | None
          ) -> tuple[float, float, float]:
    """(sample-size factor f, absolute MDE, relative MDE) for one treatment row.

    ``f`` is how many times the current sample the test needs to detect the *planned* relative
    effect ``planned`` (or, without one, the difference seen so far) with ``power``:
    f = (z·SE / effect)², z = z_{1-α/2} + z_{power} (Chow, Shao & Wang 2008, eq. 3.2.3).
    Sizing on the observed effect inflates the false-positive rate of a test that is extended
    whenever it is close (issue #10), so the planned effect is the default.
    """
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    se = float(row["std_error"])
    ctl = abs(float(row["control_value"]))
    effect = planned * ctl if planned else abs(float(row["abs_diff"]))
    mde = z * se
    f = (mde / effect) ** 2 if effect > 0 else np.inf
    return f, mde, (mde / ctl if ctl > 0 else np.inf)


def _planned_more_days(rows: pd.DataFrame) -> float | None:
    """Extra days the primary comparisons need (the slowest arm), from ``families.plan``."""
    if "more_days" not in rows.columns:
        return None
    more = rows["more_days"].astype("Float64").dropna()
    return float(more.max()) if len(more) else None


def recommend(
    table: pd.DataFrame,
    *,
    options: AnalysisOptions,
    srm: dict[str, Any],
    segment_tests: pd.DataFrame | None,
    metrics: Sequence[Metric],
) -> Recommendation:
    """Build the recommendation and its explanation from the tidy results table."""
    alpha, method = float(options["alpha"]), str(options["method"])
    control, days = str(options["control"]), options.get("days")
    power = float(options.get("power", 0.8))
    primary = metrics[0]
    sign = 1.0 if primary.higher_is_better else -1.0
    pooled = table[(table["segment"] == "all") & (table["metric"] == primary.name)]
    ctl_value = float(pooled.loc[pooled["is_control"], "value"].iloc[0])
    rows = pooled[~pooled["is_control"]].assign(control_value=ctl_value)
    lines: list[str] = []

    if srm.get("flag"):
        lines.append(
            f"Sample ratio mismatch (p {_p(srm['p_value'])}, below 0.001): the arms did not get the "
            "planned share of traffic, so the comparison is not trustworthy. Check targeting, "
            "budgets and delivery before reading the results."
        )
        dec = Decision("fix the data", "fix the traffic split before deciding", primary.name)
        return Recommendation(dec, " ".join(lines + [_others(table, metrics, method, alpha)]))

    better, worse = [], []
    for _, r in rows.iterrows():
        b, w = _better(r)
        if b:
            better.append(r)
        elif w:
            worse.append(r)
    direction = "higher" if primary.higher_is_better else "lower"
    if better:
        best = max(better, key=lambda r: sign * float(r["rel_lift"]))
        dec = Decision("ship", f"ship {best['arm']}", primary.name, arm=str(best["arm"]),
                       winners=tuple(str(r["arm"]) for r in better))
        lines.append(
            f"{best['arm']} beats {control} on {primary.label} ({direction} is better): "
            f"{_fmt(primary, float(best['value']))} vs {_fmt(primary, ctl_value)}, "
            f"a {_pct(float(best['rel_lift']))}{_adjusted(best)} change "
            f"({_evidence(best, method, alpha, str(options.correction))})."
        )
        runners_up = [r for r in better if r["arm"] != best["arm"]]
        if runners_up:
            beaten, unresolved = _winners_compared(best, runners_up, alpha, sign)
            names = [str(r["arm"]) for r in better]
            if unresolved:
                # several arms beat the control and the best does not beat the others: crowning
                # the largest observed lift would be a coin toss, so the decision says so
                tied = [str(best["arm"])] + unresolved
                lifts = [float(r["rel_lift"]) for r in better if str(r["arm"]) in tied]
                cheapest = _cheapest(table, metrics, tied)
                dec = Decision(
                    "ship", f"{_and(tied)} all beat {control}; no detectable difference between "
                    "them: choose on cost" + (f" ({cheapest[0]} is the cheapest, "
                                              f"{cheapest[1]})" if cheapest else ""),
                    primary.name, arm=None, winners=tuple(names))
                lines[-1] = (
                    f"{_and(tied)} all beat {control} on {primary.label} ({direction} is "
                    f"better), by {_pct(min(lifts))} to {_pct(max(lifts))}; the difference "
                    f"between {'them' if len(tied) > 2 else 'the two'} is not detectable "
                    f"(each compared with {best['arm']}, Holm-adjusted, alpha {alpha:g}), so "
                    "choose among them on cost or another metric, not on the largest observed "
                    f"lift. Best against {control}: {best['arm']} "
                    f"({_evidence(best, method, alpha, str(options.correction))})."
                )
                if beaten:
                    lines.append(f"{best['arm']} does beat {_and(beaten)}.")
            else:
                lines.append(f"{best['arm']} also beats the other arm(s) that beat {control} "
                             f"({_and(beaten)}; Holm-adjusted, alpha {alpha:g}).")
    elif len(worse) == len(rows):
        dec = Decision("keep control", f"keep {control}", primary.name, arm=control)
        names = ", ".join(str(r["arm"]) for r in worse)
        lines.append(f"{names} did worse than {control} on {primary.label} "
                     f"({direction} is better); keep {control}.")
    else:
        planned = options.mde
        plans = [(_plan(r, alpha, power, planned), r) for _, r in rows.iterrows()]
        (f, mde, mde_rel), r = max(plans, key=lambda x: x[0][0])
        what = (f"a {format_value(abs(mde_rel), 'percent')} relative change in {primary.label} "
                f"({_fmt(primary, mde)} absolute)")
        target = (f"the planned {format_value(planned, 'percent')} change" if planned
                  else f"the difference seen so far ({r['arm']}: {_pct(float(r['rel_lift']))})")
        more_days = _planned_more_days(rows)
        if more_days is None and days and np.isfinite(f):
            more_days = float(np.ceil(days * max(f - 1.0, 0.0)))
        if days and more_days is not None and 0 < more_days <= min(MAX_EXTRA_FACTOR * days,
                                                                   MAX_EXTRA_DAYS):
            n_days = max(int(np.ceil(more_days)), 1)
            dec = Decision("keep testing",
                           f"keep testing about {n_days} more day{'s' if n_days != 1 else ''}",
                           primary.name, days_more=n_days)
            lines.append(
                f"No arm is a clear winner on {primary.label} yet. To detect {target} with "
                f"{power:.0%} power the test needs about {n_days} more day(s) at the current "
                "daily traffic; the days are sized on the planned effect, not on the difference "
                "seen so far, so stopping then keeps the false-positive rate at alpha."
            )
        elif not days and np.isfinite(f) and 1 < f <= 1 + MAX_EXTRA_FACTOR:
            more = int(np.ceil(float(r["n"]) * (f - 1.0))) or 1
            dec = Decision("keep testing", f"keep testing: about {more:,} more units per arm",
                           primary.name)
            lines.append(
                f"No arm is a clear winner on {primary.label} yet. To detect {target} with "
                f"{power:.0%} power the test needs about {more:,} more units per arm."
            )
        else:
            dec = Decision("no difference",
                           f"no detectable difference; the test could detect {what}",
                           primary.name)
            enough = days and more_days == 0 or (not days and np.isfinite(f) and f <= 1)
            tail = (f"it already had {power:.0%} power for {target}, so a real effect that "
                    "large would most likely have shown." if enough else
                    "smaller effects would need a much longer test.")
            lines.append(
                f"No detectable difference on {primary.label}. At the current sample size the "
                f"test could detect {what} with {power:.0%} power; {tail}"
            )
        if method == "sequential":
            lines.append("(Durations use the fixed-horizon formula; always-valid intervals "
                         "need somewhat more data.)")
    lines.append(_cuped_line(rows, options))
    lines.append(_others(table, metrics, method, alpha))
    lines.extend(_segment_lines(segment_tests, alpha))
    moves = _secondary_moves(table, metrics)
    wins = tuple(w for w in moves if w[2] == "better")
    if wins and dec.action in ("no difference", "keep testing"):
        labels = {m.name: m.label for m in metrics}
        pooled_all = table[(table["segment"] == "all") & ~table["is_control"]]
        shown = []
        for m, a, _ in wins[:2]:
            r = pooled_all[(pooled_all["metric"] == m) & (pooled_all["arm"] == a)].iloc[0]
            shown.append(f"{a} {'lowers' if not bool(r['higher_is_better']) else 'lifts'} "
                         f"{labels[m]} {_pct(float(r['rel_lift']))}")
        head = ("no detectable difference in " if dec.action == "no difference"
                else f"{dec.text} on ")
        text = (f"{head}{primary.label}; " if dec.action == "no difference"
                else f"{head}{primary.label}; meanwhile ")
        dec = replace(dec, text=text + "; ".join(shown))
    losses = tuple(w for w in moves if w[2] == "worse")
    dec = replace(dec, secondary_wins=tuple((m, a) for m, a, _ in wins),
                  guardrail_losses=tuple((m, a) for m, a, _ in losses))
    return Recommendation(dec, " ".join(x for x in lines if x))


def _cheapest(table: pd.DataFrame, metrics: Sequence[Metric], arms: Sequence[str]
              ) -> tuple[str, str] | None:
    """(arm, "cost per conversion 4.10") for the lowest observed cost among tied winners.

    Only a money metric where lower is better counts as a cost; None when the results have none
    (user-level tables without spend) or the tied arms' costs are not all known.
    """
    for m in metrics:
        if m.display != "money" or m.higher_is_better:
            continue
        rows = table[(table["segment"] == "all") & (table["metric"] == m.name)
                     & table["arm"].astype(str).isin(list(arms))]
        values = pd.to_numeric(rows["value"], errors="coerce").astype(float)
        if len(rows) != len(arms) or not np.isfinite(values).all():
            continue
        i = int(np.argmin(values.to_numpy()))
        return str(rows["arm"].iloc[i]), f"{m.label.lower()} {_fmt(m, float(values.iloc[i]))}"
    return None


def _and(names: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _winners_compared(best: pd.Series, others: Sequence[pd.Series], alpha: float,
                      sign: float) -> tuple[list[str], list[str]]:
    """Does the best winner beat each other winner? ``(beaten, not_separable)`` arm names.

    Each arm's value has its own standard error (``value_se``); two arms are independent samples,
    so the difference has variance ``se_best² + se_other²`` (for ad-level arms sharing day
    effects the covariance is positive, so this is conservative). Two-sided z tests, Holm over
    the comparisons with ``best``.
    """
    from abtest.stats.checks import adjust_pvalues

    if "value_se" not in best or not others:
        return [], [str(r["arm"]) for r in others]
    diffs = np.array([sign * (float(best["value"]) - float(r["value"])) for r in others])
    se = np.sqrt(float(best["value_se"]) ** 2
                 + np.array([float(r["value_se"]) ** 2 for r in others]))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, special.erfc(np.abs(diffs / se) / np.sqrt(2)), 1.0)
    adj = np.asarray(adjust_pvalues(p, method="holm"), dtype=float)
    beaten = [str(r["arm"]) for r, d, q in zip(others, diffs, adj, strict=True)
              if d > 0 and q < alpha]
    return beaten, [str(r["arm"]) for r in others if str(r["arm"]) not in beaten]


def _secondary_moves(table: pd.DataFrame, metrics: Sequence[Metric]) -> list[tuple[str, str, str]]:
    """(metric, arm, verdict) of every secondary metric whose pooled row is better or worse."""
    out = []
    for m in metrics[1:]:
        rows = table[(table["segment"] == "all") & (table["metric"] == m.name)
                     & ~table["is_control"]]
        out += [(m.name, str(r["arm"]), str(r["verdict"])) for _, r in rows.iterrows()
                if str(r["verdict"]) in ("better", "worse")]
    return out


def _cuped_line(rows: pd.DataFrame, options: dict[str, Any]) -> str:
    """Say that the primary metric was CUPED-adjusted and by how much the variance fell."""
    if "cuped" not in rows.columns or rows.empty or not bool(rows["cuped"].iloc[0]):
        return ""
    col = options.get("covariate", {}).get(str(rows["metric"].iloc[0]), "the pre-period")
    vr = ", ".join(f"{r['arm']} {float(r['variance_reduction']):.0%}"
                   for _, r in rows.iterrows())
    return (f"Adjusted for the pre-period covariate {col!s} (CUPED): variance of the "
            f"comparison reduced by {vr}.")


def _others(table: pd.DataFrame, metrics: Sequence[Metric], method: str, alpha: float) -> str:
    """One clause per secondary metric with a significant pooled change."""
    parts = []
    for m in metrics[1:]:
        rows = table[(table["segment"] == "all") & (table["metric"] == m.name)
                     & ~table["is_control"]]
        for _, r in rows.iterrows():
            b, w = _better(r)
            if b or w:
                parts.append(f"{m.label}: {r['arm']} {'better' if b else 'worse'} "
                             f"({_pct(float(r['rel_lift']))})")
    return ("Other metrics: " + "; ".join(parts) + ".") if parts else ""


def _segment_lines(segment_tests: pd.DataFrame | None, alpha: float) -> list[str]:
    if segment_tests is None or segment_tests.empty:
        return []
    out = []
    for _, s in segment_tests.iterrows():
        if s["simpson"]:
            out.append(f"Warning ({s['metric']}, {s['arm']}): the pooled effect points the other "
                       "way from every segment (Simpson's paradox); the arms probably got "
                       "different segment mixes. Read the per-segment rows.")
        elif s["tested"] and s["p_value"] < alpha:
            out.append(f"The effect of {s['arm']} on {s['metric']} differs across segments "
                       f"(Cochran's Q p {_p(s['p_value'])}).")
    return out
