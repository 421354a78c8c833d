"""Escaping helpers for strings that come from data (campaign names, ad names, segments).

Reports are exported as HTML, and nbconvert renders markdown with raw HTML switched **on**
(``IPythonRenderer(escape=False)``), and ``Styler`` tables do not escape cell text either. A
campaign called ``<script>alert(1)</script>`` would then run in the reader's browser. Every string
taken from a data file must therefore pass through one of these helpers before it is put into
markdown or HTML. ``pandas.DataFrame.to_html`` escapes by default; :func:`frame_html` pins that.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "display_markdown",
    "escape_html",
    "escape_markdown",
    "frame_html",
    "safe_markdown",
]

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


def frame_html(
    frame: pd.DataFrame,
    *,
    index: bool = False,
    float_format: str | None = "{:,.4g}",
    classes: str = "abtest-table",
    formatters: Mapping[str, Any] | None = None,
) -> str:
    """Render ``frame`` as an HTML table with every cell, header and index label escaped."""
    fmt = float_format.format if float_format else None
    return frame.to_html(
        index=index,
        escape=True,
        float_format=fmt,
        classes=classes,
        border=0,
        formatters=dict(formatters) if formatters else None,
        na_rep="",
    )
