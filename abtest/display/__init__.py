"""What a reader sees: one number / interval / money formatter, escaping, HTML tables, the plots.

``display.format`` (formatting and escaping) and ``display.tables`` are light; ``display.plots``
imports matplotlib and seaborn, so it is only loaded when asked for.
"""

from abtest.display.format import (
    MINUS,
    ValueFormat,
    display_markdown,
    escape_html,
    escape_markdown,
    format_interval,
    format_value,
    metric_format,
    safe_markdown,
)
from abtest.display.tables import frame_html, table_html

__all__ = [
    "MINUS",
    "ValueFormat",
    "display_markdown",
    "escape_html",
    "escape_markdown",
    "format_interval",
    "format_value",
    "frame_html",
    "metric_format",
    "safe_markdown",
    "table_html",
]
