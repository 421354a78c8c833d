"""Escaped HTML tables with readable number formats: every cell, header and label from data is
escaped (nbconvert renders raw HTML, so a campaign named ``<script>`` must stay text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from abtest.display.format import escape_html, format_value, plain_number

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["frame_html", "table_html"]


def frame_html(
    frame: pd.DataFrame,
    *,
    index: bool = False,
    float_format: str | None = "{:,.4g}",
    classes: str = "abtest-table",
    formatters: Mapping[str, Any] | None = None,
) -> str:
    """Render ``frame`` as an HTML table with every cell, header and index label escaped.

    Text columns are left-aligned and number columns right-aligned (tabular digits); integers get
    thousands separators, floats ``float_format``; missing values are empty cells, never
    ``<NA>``/``NaN``. ``formatters`` maps a column to a function returning the cell's text.
    """
    import pandas as pd

    shown = frame.reset_index() if index else frame
    fmts = dict(formatters or {})
    heads, columns = [], []
    for pos, col in enumerate(shown.columns):
        values = shown.iloc[:, pos]
        numeric = (pd.api.types.is_numeric_dtype(values)
                   and not pd.api.types.is_bool_dtype(values))
        fmt = fmts.get(col)
        texts = []
        for v in values.tolist():
            if fmt is not None:
                texts.append(str(fmt(v)))
            elif v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
                texts.append("")
            elif isinstance(v, bool):
                texts.append("yes" if v else "no")
            elif isinstance(v, int):
                texts.append(f"{v:,}")
            elif isinstance(v, float):
                texts.append(float_format.format(v) if float_format else plain_number(v))
            else:
                texts.append(str(v))
        align = ("text-align:right;font-variant-numeric:tabular-nums" if numeric
                 else "text-align:left")
        heads.append(f'<th style="{align}">{escape_html(col)}</th>')
        columns.append([f'<td style="{align}">{escape_html(t)}</td>' for t in texts])
    rows = "".join("<tr>" + "".join(cells) + "</tr>" for cells in zip(*columns, strict=True))
    return (f'<table border="0" class="dataframe {escape_html(classes)}">'
            f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{rows}</tbody></table>")


def _header(column: Any) -> str:
    """``"attributed_conversions"`` -> ``"Attributed conversions"`` (lower_snake_case only)."""
    text = str(column)
    if text and text == text.lower() and " " not in text:
        text = text.replace("_", " ")
        return text[:1].upper() + text[1:]
    return text


def table_html(
    frame: Any,
    *,
    percent: Iterable[str] = (),
    money: Iterable[str] = (),
    count: Iterable[str] = (),
    currency: str = "",
    rename: Mapping[str, str] | None = None,
) -> str:
    """An escaped HTML table with readable number formats (for tables built in the notebooks).

    ``percent``/``money``/``count`` name columns to format; ``rename`` gives headers, and other
    lower_snake_case column names are shown in words ("attributed_conversions" -> "Attributed
    conversions"). Missing values are empty cells or "—", never ``<NA>``.
    """
    fmt: dict[str, Any] = {}
    for col in percent:
        fmt[col] = lambda v: format_value(v, "percent")
    for col in money:
        fmt[col] = lambda v, c=currency: format_value(v, "money", currency=c)
    for col in count:
        fmt[col] = lambda v: format_value(v, "count")
    names = {c: (dict(rename or {}).get(c) or _header(c)) for c in frame.columns}
    shown = frame.rename(columns=names)
    return frame_html(shown, formatters={names.get(k, k): f for k, f in fmt.items()})
