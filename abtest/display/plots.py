"""Every report figure: a function taking tidy data and returning the matplotlib Axes or Figure.

Figures are meant to be read without the code: a title that states what is shown, axis labels
in marketer language, percentages formatted as percentages, zero lines where an effect is
compared with "no change". Each function accepts ``ax=`` (or returns a new Figure for faceted
plots) so users can restyle the result, as lifelines' ``plot()`` does. Strings from data (arm
and segment names) are only drawn as text by matplotlib, never interpreted as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from abtest.display.format import metric_format

__all__ = [
    "attributed_vs_true_plot",
    "cap_plot",
    "conversion_curves_plot",
    "daily_rate_plot",
    "lift_plot",
    "metric_by_arm_plot",
    "policy_heatmaps",
    "policy_intervals_plot",
    "power_curves_plot",
    "set_style",
    "trend_plot",
]

def set_style() -> None:
    """Seaborn styling for reports: white grid, readable fonts, colour-blind palette."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind",
                  rc={"figure.figsize": (8, 4.2), "figure.dpi": 96, "axes.titleweight": "bold",
                      "axes.titlesize": 13, "axes.spines.top": False,
                      "axes.spines.right": False})


def _ax(ax: Axes | None, size: tuple[float, float] = (8, 4.2)) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _percent_axis(axis: Any, decimals: int | None = None) -> None:
    axis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))


def _money_axis(axis: Any, currency: str = "") -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f} {currency}".strip()))


def _metric_rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = table[table["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} is not in the results table")
    return rows


def _lift_colors(rows: pd.DataFrame) -> np.ndarray:
    """Green for "better", red for "worse", grey otherwise, from the table's direction-aware
    ``verdict`` (so a lower cost per conversion is green). The statistics decide; the plot only
    shows their verdict (a table without one is all grey)."""
    verdict = (rows["verdict"].astype("string").fillna("").to_numpy(dtype=str)
               if "verdict" in rows else np.full(len(rows), ""))
    return np.where(verdict == "better", "#2a9d8f",
                    np.where(verdict == "worse", "#e76f51", "#6c757d"))


def lift_plot(
    table: pd.DataFrame,
    metric: str,
    *,
    by_segment: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Relative lift of each arm against control with its interval (a forest plot).

    ``table`` is :attr:`ExperimentResults.table`; Bayesian credible intervals are used when the
    table has them. Pooled rows only unless ``by_segment`` (then one row per segment × arm).
    Colours follow the table's ``verdict`` (green better, red worse, grey inconclusive, in the
    metric's direction). Unbounded ends are drawn to the plot edge with an arrow; a Fieller
    *complement* (``rel_ci_shape == "complement"``: the set is everything outside
    ``(rel_ci_low, rel_ci_high)``) is drawn as two dashed rays going outwards.
    """
    rows = _metric_rows(table, metric)
    rows = rows[~rows["is_control"]]
    if not by_segment:
        rows = rows[rows["segment"] == "all"]
    lo, hi = (("rel_cred_low", "rel_cred_high") if "rel_cred_low" in rows
              else ("rel_ci_low", "rel_ci_high"))
    complement = (rows["rel_ci_shape"].astype("string").fillna("interval") == "complement"
                  ).to_numpy(dtype=bool) if lo == "rel_ci_low" and "rel_ci_shape" in rows \
        else np.zeros(len(rows), dtype=bool)
    data = pd.DataFrame({
        "label": (rows["segment"].astype(str).replace({"all": "all leads"}) + " · "
                  + rows["arm"].astype(str)) if by_segment
        else rows["arm"].astype(str),
        "lift": rows["rel_lift"].astype(float).to_numpy(),
        "lo": rows[lo].astype(float).to_numpy(), "hi": rows[hi].astype(float).to_numpy(),
        "complement": complement, "color": _lift_colors(rows),
    })
    ax = _ax(ax, (8, 0.5 * len(data) + 1.8))
    y = np.arange(len(data))[::-1]
    finite = np.concatenate([data[c].to_numpy() for c in ("lift", "lo", "hi")] + [[0.0]])
    finite = finite[np.isfinite(finite)]
    span = max(float(finite.max() - finite.min()), 0.1)
    left, right = float(finite.min()) - 0.12 * span, float(finite.max()) + 0.12 * span
    ax.set_xlim(left, right)
    lo_c = np.clip(data["lo"].to_numpy(), left, right)
    hi_c = np.clip(data["hi"].to_numpy(), left, right)
    plain, comp = ~data["complement"].to_numpy(), data["complement"].to_numpy()
    color = data["color"].to_numpy()
    ax.hlines(y[plain], lo_c[plain], hi_c[plain], colors=color[plain], linewidth=3, alpha=0.8)
    # complement: (-inf, lo] and [hi, inf), dashed, to the plot edges
    ax.hlines(y[comp], np.full(comp.sum(), left), lo_c[comp], colors=color[comp], linewidth=3,
              alpha=0.8, linestyles="dashed")
    ax.hlines(y[comp], hi_c[comp], np.full(comp.sum(), right), colors=color[comp], linewidth=3,
              alpha=0.8, linestyles="dashed")
    open_left = comp | (plain & ~np.isfinite(data["lo"].to_numpy()))
    open_right = comp | (plain & ~np.isfinite(data["hi"].to_numpy()))
    ax.scatter(np.full(open_left.sum(), left), y[open_left], marker="<", s=70,
               color=color[open_left], zorder=3, clip_on=False)
    ax.scatter(np.full(open_right.sum(), right), y[open_right], marker=">", s=70,
               color=color[open_right], zorder=3, clip_on=False)
    has_lift = np.isfinite(data["lift"].to_numpy())
    ax.scatter(data["lift"].to_numpy()[has_lift], y[has_lift], color=color[has_lift], s=60,
               zorder=4)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(y, data["label"])
    _percent_axis(ax.xaxis, 0)
    label = str(rows["metric_label"].iloc[0]) if len(rows) else metric
    control = str(_metric_rows(table, metric).loc[lambda d: d["is_control"], "arm"].iloc[0])
    adjusted = lo != "rel_cred_low" and "correction" in rows.columns and \
        bool((rows["correction"].astype("string").fillna("none") != "none").any())
    what = ("95% credible interval" if lo == "rel_cred_low" else
            "interval adjusted for multiple comparisons, as in the table" if adjusted else
            "95% interval")
    xlabel = f"Change in {label} vs {control} (dot = estimate, bar = {what}"
    if comp.any():
        xlabel += ";\ndashed = the interval is everything outside the gap: the control value is " \
                  "too uncertain for a bounded interval"
    ax.set_xlabel(xlabel + ")")
    ax.set_title(title or f"{label}: lift against {control}")
    ax.grid(axis="y", visible=False)
    return ax


def metric_by_arm_plot(
    table: pd.DataFrame,
    metric: str,
    *,
    by_segment: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
    currency: str = "",
) -> Axes:
    """The metric's value per arm (bars), optionally split by segment."""
    rows = _metric_rows(table, metric)
    if not by_segment:
        rows = rows[rows["segment"] == "all"]
    else:
        rows = rows[rows["segment"] != "all"]
    data = rows.assign(value=rows["value"].astype(float), arm=rows["arm"].astype(str),
                       segment=rows["segment"].astype(str))
    ax = _ax(ax)
    sns.barplot(data=data, x="segment" if by_segment else "arm", y="value",
                hue="arm", ax=ax, legend=by_segment, errorbar=None)
    label = str(rows["metric_label"].iloc[0])
    shown = str(rows["display"].iloc[0]) if "display" in rows else metric_format(metric)
    if shown == "percent":
        _percent_axis(ax.yaxis)
    elif currency and shown == "money":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.2f} {currency}"))
    ax.set_ylabel(label)
    ax.set_xlabel("Lead segment" if by_segment else "Arm")
    ax.set_title(title or (f"{label} by segment and arm" if by_segment else f"{label} by arm"))
    if by_segment:
        ax.legend(title="Arm", frameon=False)
    return ax


def conversion_curves_plot(
    curves: pd.DataFrame, *, hue: str = "arm", ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Cumulative conversion rate by day since entry, one line (with 95% band) per ``hue``."""
    ax = _ax(ax)
    for i, (name, g) in enumerate(curves.groupby(hue, sort=True)):
        color = sns.color_palette()[i % 10]
        ax.plot(g["day"], g["rate"], label=str(name), color=color, linewidth=2)
        ax.fill_between(g["day"], g["rate_low"], g["rate_high"], color=color, alpha=0.15)
    _percent_axis(ax.yaxis, 1)
    ax.set_xlabel("Days since the lead entered the test")
    ax.set_ylabel("Leads who bought (cumulative)")
    ax.set_title(title or "How fast leads convert in each arm")
    ax.legend(title=hue.replace("_", " ").capitalize(), frameon=False)
    return ax


def attributed_vs_true_plot(frame: pd.DataFrame, *, ax: Axes | None = None,
                            title: str | None = None) -> Axes:
    """Per arm: all first-party conversions, TikTok-attributed ones and incremental ones."""
    long = pd.DataFrame({
        "arm": np.tile(frame["arm"].astype(str).to_numpy(), 3),
        "what": np.repeat(["All conversions (first-party)", "Attributed by TikTok",
                           "Caused by the ads (incremental)"], len(frame)),
        "conversions": np.concatenate([frame["conversions"].to_numpy(float),
                                       frame["attributed_conversions"].to_numpy(float),
                                       frame["incremental_conversions"].to_numpy(float)]),
    })
    ax = _ax(ax)
    sns.barplot(data=long, x="arm", y="conversions", hue="what", ax=ax, errorbar=None)
    # error bars for the incremental bars (third hue level)
    inc_bars = ax.containers[2] if len(ax.containers) >= 3 else []
    for bar, lo, hi in zip(inc_bars, frame["incremental_low"], frame["incremental_high"],
                           strict=False):
        x = bar.get_x() + bar.get_width() / 2
        ax.vlines(x, float(lo), float(hi), color="black", linewidth=1.5)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Arm")
    ax.set_ylabel("Conversions")
    ax.set_title(title or "Attributed vs true vs incremental conversions")
    ax.legend(frameon=False, fontsize="small")
    return ax


def trend_plot(
    table: pd.DataFrame,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    percent: bool = True,
) -> Axes:
    """Observed rate per level (dot size = traffic) and the fitted trend line.

    ``table`` is :attr:`abtest.stats.TrendResult.table` (``level, successes, trials, rate,
    fitted_rate``); replicate rows of a level (one per day, say) are pooled into one dot.
    """
    ax = _ax(ax)
    t = (table.groupby("level", sort=True)
         .agg(successes=("successes", "sum"), trials=("trials", "sum"),
              fitted_rate=("fitted_rate", "mean")).reset_index())
    t["rate"] = t["successes"] / t["trials"]
    sizes = 30 + 300 * t["trials"] / max(float(t["trials"].max()), 1.0)
    ax.scatter(t["level"], t["rate"], s=sizes, alpha=0.7, label="observed (size = traffic)")
    ax.plot(t["level"], t["fitted_rate"], color="#e76f51", linewidth=2, label="fitted trend")
    if percent:
        _percent_axis(ax.yaxis, 2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def daily_rate_plot(
    ads: pd.DataFrame,
    numerator: str | Sequence[str],
    denominator: str,
    *,
    label: str,
    hue: str = "arm",
    ax: Axes | None = None,
    percent: bool = True,
    title: str | None = None,
) -> Axes:
    """A ratio metric per day and arm, computed from summed counts (e.g. CTR per day)."""
    nums = [numerator] if isinstance(numerator, str) else list(numerator)
    num = ads[nums].astype(float).sum(axis=1)
    data = pd.DataFrame({"date": ads["date"], hue: ads[hue].astype(str), "num": num,
                         "den": ads[denominator].astype(float)})
    daily = data.groupby(["date", hue], sort=True)[["num", "den"]].sum().reset_index()
    daily = daily[daily["den"] > 0].assign(rate=lambda d: d["num"] / d["den"])
    ax = _ax(ax)
    sns.lineplot(data=daily, x="date", y="rate", hue=hue, ax=ax, marker="o", markersize=4)
    if percent:
        _percent_axis(ax.yaxis, 2)
    ax.set_xlabel("Day")
    ax.set_ylabel(label)
    ax.set_title(title or f"{label} per day")
    ax.legend(title=hue.capitalize(), frameon=False)
    ax.tick_params(axis="x", rotation=30)
    return ax


def policy_heatmaps(
    whatif: pd.DataFrame,
    value: str = "cost_per_incremental_conversion",
    *,
    label: str = "Cost per incremental conversion",
    window_days: int | None = None,
    currency: str = "",
    scale: float = 1.0,
    higher_is_better: bool = False,
) -> Figure:
    """One heatmap per segment: gap (columns) × frequency cap (rows), coloured by ``value``.

    Non-finite values (a policy that adds no conversions) are shown blank. ``window_days``
    picks one audience window (default: the longest in the grid); ``scale`` multiplies the
    values shown (100 for "per 100 leads"); the best cells are the brightest.
    """
    window = window_days or int(whatif["active_window_days"].max())
    data = whatif[whatif["active_window_days"] == window]
    segments = sorted(data["segment"].astype(str).unique())
    fig, axes = plt.subplots(1, len(segments), figsize=(4.2 * len(segments), 3.6),
                             layout="constrained", squeeze=False)
    for ax, seg in zip(axes[0], segments, strict=True):
        sub = data[data["segment"] == seg]
        grid = sub.pivot_table(index="cap", columns="gap_days", values=value, aggfunc="first",
                               sort=False)
        grid = grid.replace([np.inf, -np.inf], np.nan).astype(float) * scale
        sns.heatmap(grid, annot=True, fmt=",.2f", ax=ax, cbar=False,
                    cmap="viridis" if higher_is_better else "viridis_r",
                    linewidths=0.5)
        ax.set_title(f"{seg} leads")
        ax.set_xlabel("Gap before first ad (days)")
        ax.set_ylabel("Frequency cap")
    unit = f" ({currency})" if currency else ""
    fig.suptitle(f"{label}{unit} by gap and frequency cap, {window}-day audience window",
                 fontweight="bold")
    return fig


def policy_intervals_plot(uncertainty: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Incremental conversion rate of the top policies per segment, with Monte Carlo intervals."""
    segments = sorted(uncertainty["segment"].astype(str).unique())
    fig, axes = plt.subplots(len(segments), 1, figsize=(8, 1.4 + 1.1 * len(uncertainty)
                                                         / max(len(segments), 1) * len(segments)),
                             layout="constrained", squeeze=False)
    for ax, seg in zip(axes[:, 0], segments, strict=True):
        sub = uncertainty[uncertainty["segment"] == seg].reset_index(drop=True)
        y = np.arange(len(sub))[::-1]
        ax.hlines(y, sub["incremental_rate_low"], sub["incremental_rate_high"], linewidth=3,
                  color="#2f6f9f", alpha=0.8)
        ax.scatter(sub["incremental_rate"], y, s=50, color="#2f6f9f", zorder=3)
        labels = [f"{p}  (best in {s:.0%} of replays)"
                  for p, s in zip(sub["policy"].astype(str), sub["share_best"], strict=True)]
        ax.set_yticks(y, labels)
        ax.axvline(0, color="black", linewidth=0.8)
        _percent_axis(ax.xaxis, 2)
        ax.set_title(f"{seg} leads", loc="left", fontsize=11)
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel("Extra conversions per lead caused by the ads (95% Monte Carlo interval)")
    fig.suptitle(title or "How sure is the simulator about the best policies?", fontweight="bold")
    return fig


def cap_plot(scan: pd.DataFrame, *, currency: str = "", ax: Axes | None = None) -> Axes:
    """Cost per incremental conversion by frequency cap, one line per segment."""
    data = scan.replace([np.inf, -np.inf], np.nan).copy()
    order = list(dict.fromkeys(data.sort_values("frequency_cap", na_position="first")["cap"]))
    data["cap"] = pd.Categorical(data["cap"].astype(str), categories=order, ordered=True)
    ax = _ax(ax)
    sns.pointplot(data=data, x="cap", y="cost_per_incremental_conversion", hue="segment", ax=ax)
    ax.set_xlabel("Frequency cap (impressions per lead)")
    ax.set_ylabel(f"Cost per incremental conversion {currency}".strip())
    ax.set_title("What each frequency cap costs per extra conversion")
    ax.legend(title="Segment", frameon=False)
    return ax


def power_curves_plot(
    curves: pd.DataFrame,
    *,
    target_power: float = 0.8,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Power by leads per arm, one line per effect size (``curves``: n_per_arm, power, effect)."""
    ax = _ax(ax)
    sns.lineplot(data=curves.assign(effect=curves["effect"].astype(str)), x="n_per_arm",
                 y="power", hue="effect", ax=ax, linewidth=2)
    ax.axhline(target_power, color="black", linestyle="--", linewidth=1)
    ax.text(float(curves["n_per_arm"].min()), target_power + 0.02, f"target {target_power:.0%}",
            fontsize="small")
    _percent_axis(ax.yaxis, 0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Leads per arm")
    ax.set_ylabel("Chance to detect the effect (power)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title(title or "How many leads the test needs")
    ax.legend(title="True lift", frameon=False)
    return ax
