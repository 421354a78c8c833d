"""Escaping and number-formatting helpers for everything a report shows.

Escaping: strings that come from data (campaign names, ad names, segments).

Reports are exported as HTML, and nbconvert renders markdown with raw HTML switched **on**
(``IPythonRenderer(escape=False)``), and ``Styler`` tables do not escape cell text either. A
campaign called ``<script>alert(1)</script>`` would then run in the reader's browser. Every string
taken from a data file must therefore pass through one of these helpers before it is put into
markdown or HTML. ``pandas.DataFrame.to_html`` escapes by default; :func:`frame_html` pins that.

Formatting: :func:`format_value` and :func:`format_interval` turn raw numbers into what a
marketing manager reads (percentages for rates and relative lifts, percentage points for rate
differences, money with thousands separators, p-values without false precision, a true minus
sign), and :func:`metric_format` says which format a metric's values take. Relative-lift sets
that are Fieller *complements* (``rel_ci_shape == "complement"``: everything outside
``(low, high)``) are written "below X or above Y", never as "X to Y".
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, Literal

from abtest.metrics import METRICS, Display, Metric

__all__ = [
    "MINUS",
    "ValueFormat",
    "display_markdown",
    "escape_html",
    "as_number",
    "escape_markdown",
    "format_interval",
    "format_value",
    "metric_format",
    "safe_markdown",
]

#: How a number is shown. ``signed_*`` formats are for differences and lifts (always a sign);
#: ``points`` is a difference of two rates, in percentage points.
ValueFormat = Literal["percent", "signed_percent", "points", "signed_points", "number",
                      "signed_number", "money", "signed_money", "p_value", "count", "text"]

MINUS = "\u2212"  # a real minus sign: "-5%" is easy to misread as a dash

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# emphasis, links, code, headings, lists, tables or strikethrough. '&', '<', '>', '"' and "'" are
# handled by the HTML escape that follows, so entities stay intact.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|~$])")
_WHITESPACE = re.compile(r"\s+")


def escape_html(value: object) -> str:
    """Return ``str(value)`` with ``& < > " '`` replaced by HTML entities (safe in text and attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def escape_markdown(value: object) -> str:
    """Return ``value`` as inert markdown text: no HTML, no emphasis, links, headings or tables.

    Newlines and runs of whitespace collapse to one space so a value cannot break a table row or
    start a new block. The rendered text reads exactly like the original value.
    """
    text = _WHITESPACE.sub(" ", "" if value is None else str(value)).strip()
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)


def safe_markdown(template: str, /, **values: object) -> str:
    """Fill ``template`` (``str.format`` syntax, trusted) with ``values`` (untrusted, escaped).

    >>> safe_markdown("**Winner:** {arm}", arm="<b>x</b>")
    '**Winner:** &lt;b&gt;x&lt;/b&gt;'
    """
    return template.format(**{key: escape_markdown(val) for key, val in values.items()})


def display_markdown(template: str, /, **values: object) -> None:
    """Display :func:`safe_markdown` output in a notebook (IPython is imported lazily)."""
    from IPython.display import Markdown, display

    display(Markdown(safe_markdown(template, **values)))


def metric_format(metric: str | Metric) -> Display:
    """The display format of a metric's values, as the metric defines it (:attr:`Metric.display`).

    A name is looked up among the built-in metrics; an unknown name is shown as a plain number.

    >>> metric_format("ctr"), metric_format("cost_per_conversion"), metric_format("roas")
    ('percent', 'money', 'number')
    """
    if isinstance(metric, Metric):
        return metric.display  # type: ignore[return-value]
    known = METRICS.get(str(metric))
    return known.display if known is not None else "number"  # type: ignore[return-value]


def as_number(value: Any) -> float | None:
    """A float (±inf kept, also from "inf"/"-inf" text) or None for NA, NaN, bools and text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = {"inf": math.inf, "-inf": -math.inf}.get(value.strip().lower(), value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def plain_number(f: float) -> str:
    """3 significant digits, thousands separators from 1,000, no exponent for usual values."""
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    if f == 0:
        return "0"
    text = f"{f:.3g}"
    if "e" in text:  # very small values: fall back to fixed decimals
        text = f"{f:.6f}".rstrip("0").rstrip(".")
    return text


def _percent(f: float, *, signed: bool) -> str:
    a = abs(f) * 100
    if a >= 1000:
        body = f"{a:,.0f}"
    elif a >= 10:
        body = f"{a:.0f}" if signed else f"{a:.1f}"
    else:
        body = f"{a:.1f}" if signed else f"{a:.2f}"
    if float(body.replace(",", "")) == 0:
        return f"{body}%"
    sign = MINUS if f < 0 else ("+" if signed else "")
    return f"{sign}{body}%"


def format_value(value: Any, fmt: ValueFormat, *, currency: str = "") -> str:
    """Human text for one number in ``fmt``; ``None``/NaN (not available) read as an em dash.

    >>> format_value(1.334, "signed_percent"), format_value(-0.0657, "signed_percent")
    ('+133%', '−6.6%')
    >>> format_value(0.006, "percent"), format_value(0.2066, "p_value")
    ('0.60%', '0.21')
    """
    if fmt == "text":
        return "—" if value is None else str(value)
    f = as_number(value)
    if f is None:
        return "—"
    if math.isinf(f):
        return ("+∞" if f > 0 else f"{MINUS}∞") if fmt.startswith("signed") or f < 0 else "∞"
    signed = fmt.startswith("signed_")
    base = fmt.removeprefix("signed_")
    sign = "+" if signed and f > 0 else ""
    if base == "percent":
        return _percent(f, signed=signed)
    if base == "points":
        text = f"{abs(f) * 100:.2f} pp"
        return text if float(f"{abs(f) * 100:.2f}") == 0 else \
            (MINUS if f < 0 else sign) + text
    if base == "p_value":
        if f < 0.001:
            return "< 0.001"
        return f"{f:.3f}" if f < 0.1 else f"{f:.2f}"
    if base == "count":
        return _minus(f"{f:,.0f}")
    if base == "money":
        text = f"{sign}{f:,.2f} {currency}".strip()
        return _minus(text)
    return _minus(sign + plain_number(f))


def format_interval(low: Any, high: Any, fmt: ValueFormat, *, shape: str = "interval",
                    currency: str = "") -> str:
    """An interval in words: ``"−6.6% to +2,742%"``, ``"at least +4%"``, ``"unbounded"``.

    ``shape="complement"`` (a Fieller set that is everything outside ``(low, high)``, see
    :func:`abtest.stats.interval_excludes`) reads ``"below −240% or above −87%"``.
    """
    lo, hi = as_number(low), as_number(high)
    if lo is None and hi is None:
        return "—"
    lo_t = format_value(lo, fmt, currency=currency)
    hi_t = format_value(hi, fmt, currency=currency)
    if shape == "complement":
        return f"below {lo_t} or above {hi_t}"
    lo_open = lo is None or math.isinf(lo)
    hi_open = hi is None or math.isinf(hi)
    if lo_open and hi_open:
        return "unbounded"
    if lo_open:
        return f"at most {hi_t} (no lower bound)"
    if hi_open:
        return f"at least {lo_t} (no upper bound)"
    return f"{lo_t} to {hi_t}"
