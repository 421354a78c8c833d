"""The cells every report notebook repeats: setup, data health, parameters appendix, finish.

A report notebook starts with ``from abtest.report.kit import *`` and ``setup()``: that binds the
names the stories use (``abtest``, ``pd``, ``plt``, ``display``, ``HTML``, ``prepare``, ``plots``,
``stats``, ``whatif``, the headline builders, ``table_html``, ``display_markdown``) and applies the
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
from abtest import prepare, stats, whatif
from abtest.display import display_markdown, plots, table_html
from abtest.report.headline import (
    Headline,
    headline_from_results,
    planning_headline,
    simulation_headline,
    trend_headline,
)

if TYPE_CHECKING:
    from abtest.prepare import LoadedData

__all__ = [
    "HTML",
    "abtest",
    "data_health",
    "display",
    "display_markdown",
    "finish",
    "headline_from_results",
    "parameters_appendix",
    "pd",
    "planning_headline",
    "plots",
    "plt",
    "prepare",
    "setup",
    "simulation_headline",
    "stats",
    "table_html",
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
