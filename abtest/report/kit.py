"""The cells every report notebook repeats: setup, data health, parameters appendix, finish.

A report notebook starts with ``from abtest.report.kit import *`` and ``setup()``: that binds the
names the stories use (``abtest``, ``pd``, ``plt``, ``display``, ``HTML``, ``prepare``, ``plots``,
``stats``, ``whatif``, ``advice``, ``calibration``, ``planner``, the headline builders, ``table_html``, ``display_markdown``) and applies the
report style. :func:`data_health`, :func:`parameters_appendix` and :func:`finish` are the closing
cells. Warnings are not silenced wholesale: only the known third-party deprecation noise is
filtered (:data:`THIRD_PARTY_NOISE`), and the HTML export drops stderr anyway.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, display

import abtest
from abtest import prepare, stats
from abtest.display import display_markdown, plots, table_html
from abtest.report.headline import (
    Headline,
    headline_from_results,
    planning_headline,
    simulation_headline,
    trend_headline,
)
from abtest.sim import advice, calibration, planner, whatif

if TYPE_CHECKING:
    from abtest.prepare import LoadedData

__all__ = [
    "GLOSSARY",
    "HTML",
    "abtest",
    "advice",
    "calibration",
    "data_currency",
    "data_health",
    "display",
    "display_markdown",
    "finish",
    "glossary",
    "headline_from_results",
    "parameters_appendix",
    "pd",
    "planning_headline",
    "planner",
    "plots",
    "plt",
    "prepare",
    "setup",
    "simulation_headline",
    "stats",
    "table_html",
    "test_strip",
    "trend_headline",
    "whatif",
]

#: (message regex, category, module regex) of third-party warnings we cannot fix here: Ibis on
#: DuckDB's deprecated Arrow call, PySpark and Ibis on pandas 3 (reported upstream).
THIRD_PARTY_NOISE: tuple[tuple[str, type[Warning], str], ...] = (
    (r"fetch_arrow_table\(\) is deprecated", DeprecationWarning, ""),
    (r"PySpark does not yet fully support pandas", FutureWarning, ""),
    (r"", getattr(pd.errors, "Pandas4Warning", FutureWarning), r"(ibis|pyspark)(\.|$)"),
)


def filter_third_party_noise() -> None:
    """Filter :data:`THIRD_PARTY_NOISE` (and nothing else)."""
    for message, category, module in THIRD_PARTY_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def setup() -> None:
    """First cell of every report: the report style and the third-party warning filters."""
    plots.set_style()
    filter_third_party_noise()


def data_health(loaded: Iterable[LoadedData]) -> None:
    """Rows read, used and set aside over every file, and one row per reason rows were set aside."""
    items = list(loaded)
    display_markdown("Rows read from the files: {read}; used: {used}; set aside: {aside}.",
                     read=f"{sum(d.rows_read for d in items):,}",
                     used=f"{sum(d.rows_used for d in items):,}",
                     aside=f"{sum(d.rows_set_aside for d in items):,}")
    frames = [d.set_aside_frame() for d in items]
    aside = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(aside):
        display(HTML(table_html(aside, count=["rows"])))


def data_currency(loaded: Iterable[LoadedData], parameter: str = "") -> str:
    """The currency of the report: taken from the data; a conflicting notebook parameter raises.

    ``parameter`` (the notebook's ``currency``) is only needed when the files carry none; when
    both are known and differ, the report would print wrong money labels, so it stops instead.
    """
    from abtest.io.errors import DataError

    found = {c for d in loaded if (c := d.currency)}
    if len(found) > 1:
        raise DataError(f"the files use different currencies ({', '.join(sorted(found))})",
                        column="currency", expected="one currency per report")
    wanted = (parameter or "").strip().upper()
    if found:
        data = found.pop()
        if wanted and wanted != data:
            raise DataError(f"the report parameter currency={parameter!r} contradicts the data, "
                            f"whose costs are in {data}", column="currency",
                            expected=f"currency: {data!r} or leave it empty")
        return data
    return wanted


def test_strip(ads: pd.DataFrame, *, currency: str = "", attribution: str = "",
               arm: str = "arm") -> None:
    """The test at a glance: dates run, days, and per arm spend, impressions, conversions, cost
    per conversion; the attribution window as read from the export (or "unknown")."""
    if ads is None or ads.empty or arm not in ads.columns:
        return
    dates = pd.to_datetime(ads["date"])
    window = attribution
    if not window and "attribution_window" in ads.columns:
        window = ", ".join(sorted(set(ads["attribution_window"].dropna().astype(str))))
    display_markdown("**The test:** {start} to {end} ({days} days) · attribution: {window}.",
                     start=f"{dates.min():%Y-%m-%d}", end=f"{dates.max():%Y-%m-%d}",
                     days=str(dates.dt.normalize().nunique()), window=window or "unknown")
    cols = [c for c in ("cost", "impressions", "clicks", "conversions") if c in ads.columns]
    per_arm = ads.groupby(ads[arm].astype("string"))[cols].sum(min_count=1)
    if "cost" in per_arm and "conversions" in per_arm:
        conv = per_arm["conversions"].astype("Float64")
        per_arm["cost_per_conversion"] = (per_arm["cost"].astype("Float64")
                                          / conv.where(conv > 0))
    shown = per_arm.reset_index().rename(columns={arm: "arm", "cost": "spend"})
    money = [c for c in ("spend", "cost_per_conversion") if c in shown]
    display(HTML(table_html(shown, money=money, count=[c for c in ("impressions", "clicks",
                                                                   "conversions") if c in shown],
                            currency=currency)))


#: Plain-words definitions of the KPIs the reports show (the glossary under the evidence).
GLOSSARY: dict[str, str] = {
    "CTR": "clicks per impression: how often people who saw the ad tapped through",
    "Conversion rate": "share of leads who bought within the report's window after entering "
                       "the test (first-party purchases)",
    "Cost per conversion": "spend divided by the conversions TikTok attributed (CPA); lower is "
                           "better",
    "Engagement rate": "likes, comments and shares per impression",
    "Video completion rate": "views to 100% per video start",
    "Lift": "the relative change against the control arm; the interval is the range the true "
            "change plausibly lies in",
    "Holdout": "leads kept away from the ads, to measure what the ads really caused",
}


def glossary(terms: Iterable[str] | None = None) -> None:
    """A short KPI glossary (all terms, or the ones named)."""
    chosen = list(GLOSSARY) if terms is None else [t for t in terms if t in GLOSSARY]
    frame = pd.DataFrame({"term": chosen, "meaning": [GLOSSARY[t] for t in chosen]})
    display(HTML(table_html(frame)))


def parameters_appendix(parameters: Mapping[str, Any]) -> None:
    """The parameters the report ran with, as a two-column table."""
    frame = pd.DataFrame({"parameter": list(parameters),
                          "value": [str(v) for v in parameters.values()]})
    display(HTML(table_html(frame)))


def finish(headline: Headline, results_path: str | None, *, parameters: Mapping[str, Any],
           report_name: str | None = None, run_id: str | None = None,
           extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Last cell: write the JSON sidecar the batch runner reads (no-op outside a batch)."""
    return headline.write(results_path, parameters=dict(parameters), report_name=report_name,
                          run_id=run_id, extra=extra)
