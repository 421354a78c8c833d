"""``index.html`` of a batch: one row per report with status, decision, headline and error.

A plain, script-free page with inline CSS. Each report row shows the decision in bold, then the
effect in one readable sentence built from the sidecar's own numbers and labels by
:func:`abtest.headline.headline_lines` (percentages, currency, complement-aware intervals, the
p-value or probability under its own label), then one data-health line (rows used / set aside,
sample-ratio check, attribution window). Free-form headlines of custom notebooks fall back to a
compact key/value list. Every string (names, decisions, headline keys and values, error
messages) comes from user data or notebooks and is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from abtest.report.crosscheck import cap_disagreements
from abtest.report.headline import headline_lines

__all__ = ["format_value", "render_index"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
.meta { color: #57606a; margin-bottom: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .55rem .7rem; border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; }
.status { font-weight: 600; border-radius: 1rem; padding: .1rem .6rem; white-space: nowrap; }
.status-ok { background: #dafbe1; color: #116329; }
.status-failed { background: #ffebe9; color: #a40e26; }
.decision { font-weight: 600; margin-bottom: .3rem; }
.effect { margin-bottom: .2rem; font-variant-numeric: tabular-nums; }
.health { color: #57606a; font-size: .88em; }
dl.headline { display: grid; grid-template-columns: max-content auto; gap: .1rem .8rem; margin: 0; }
dl.headline dt { color: #57606a; }
dl.headline dd { margin: 0; font-variant-numeric: tabular-nums; }
.error { color: #a40e26; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: .9em; }
.summary-failed { color: #a40e26; font-weight: 600; }
.disagree { background: #fff8c5; border-left: 4px solid #bf8700; padding: .5rem 1rem; margin: 1rem 0; }
.cached { color: #57606a; font-size: .88em; font-style: italic; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def format_value(value: Any) -> str:
    """Short human text for a headline value (floats to 4 significant digits)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return "" if value is None else str(value)


def _flatten(headline: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in headline.items():
        label = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, f"{label}."))
        else:
            rows.append((label, value))
    return rows


def _href(filename: str) -> str:
    return _e(quote(filename))


def _row(result: Mapping[str, Any]) -> str:
    status = "ok" if result.get("status") == "ok" else "failed"
    name = _e(result.get("title") or result.get("report"))
    html_file = result.get("html")
    title_cell = f'<a href="{_href(html_file)}">{name}</a>' if html_file else name
    if result.get("title") and result.get("title") != result.get("report"):
        title_cell += f'<br><small class="report-name">{_e(result.get("report"))}</small>'

    links = []
    if result.get("notebook"):
        label = "partial notebook" if status == "failed" else "notebook"
        links.append(f'<a href="{_href(result["notebook"])}">{label}</a>')
    if result.get("sidecar"):
        links.append(f'<a href="{_href(result["sidecar"])}">json</a>')
    parts = []
    if result.get("decision"):
        parts.append(f'<div class="decision">{_e(result["decision"])}</div>')
    headline = result.get("headline") or {}
    lines = headline_lines(headline) if headline else None
    if lines:
        effect, health = lines
        parts.append(f'<div class="effect">{_e(effect)}</div>')
        if health:
            parts.append(f'<div class="health">{_e(health)}</div>')
    elif headline:
        items = "".join(
            f"<dt>{_e(k)}</dt><dd>{_e(format_value(v))}</dd>" for k, v in _flatten(headline)
        )
        parts.append(f'<dl class="headline">{items}</dl>')
    if status == "failed":
        parts.append(f'<div class="error">{_e(result.get("error") or "failed")}</div>')
    if result.get("unchanged_since"):
        since = str(result["unchanged_since"]).replace("T", " ").replace("+00:00", " UTC")
        parts.append(f'<div class="cached">unchanged since {_e(since)} (inputs, notebook and '
                     "abtest unchanged; not re-run)</div>")
    duration = result.get("duration_s")
    took = f"{duration:.1f} s" if isinstance(duration, int | float) else ""
    return (
        f'<tr class="report report-{status}" data-report="{_e(result.get("stem"))}">'
        f'<td class="name">{title_cell}<br><small>{" · ".join(links)}</small></td>'
        f'<td><span class="status status-{status}">{status.upper()}</span></td>'
        f'<td class="headline-cell">{"".join(parts)}</td>'
        f"<td>{_e(took)}</td></tr>"
    )


def render_index(
    results: Iterable[Mapping[str, Any]],
    *,
    title: str = "abtest reports",
    run_id: str | None = None,
    generated_at: dt.datetime | None = None,
    removed: Iterable[str] = (),
) -> str:
    """Render the batch index page from the final sidecar records (see runner.py); ``removed``
    names reports of the previous run that are no longer in the plan (their files are gone)."""
    rows = list(results)
    failed = sum(1 for r in rows if r.get("status") != "ok")
    when = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    summary = f"{len(rows) - failed} of {len(rows)} reports ok"
    if failed:
        summary = f'<span class="summary-failed">{_e(summary)}, {failed} failed</span>'
    else:
        summary = _e(summary)
    body = "\n".join(_row(r) for r in rows)
    conflicts = "".join(f"<li>{_e(d.text)}</li>" for d in cap_disagreements(rows))
    conflicts = (f'\n<div class="disagree" id="disagreements"><strong>Reports disagree</strong>'
                 f"<ul>{conflicts}</ul></div>" if conflicts else "")
    dropped = ", ".join(_e(name) for name in removed)
    gone = f'\n<p class="meta removed">No longer in the plan (removed): {dropped}</p>' if dropped else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1 id="title">{_e(title)}</h1>
<p class="meta">{summary} · run {_e(run_id or "")} · generated {_e(when)}</p>{gone}{conflicts}
<table id="reports">
<thead><tr><th>Report</th><th>Status</th><th>Headline</th><th>Time</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
