"""HTML templates (Jinja2, autoescaped): every value from data is escaped by the engine.

``render("headline.html.j2", ...)`` renders a template shipped in ``abtest/display/templates``.
JSON values in attributes use the ``|json`` filter (``json.dumps``, then escaped like any text).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from abtest.display.format import escape_html

__all__ = ["render"]


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("abtest.display", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["json"] = _json_attribute
    return env


def _json_attribute(value: Any) -> Any:
    """``json.dumps`` escaped for an attribute with the same entities as :func:`escape_html`."""
    from markupsafe import Markup

    return Markup(escape_html(json.dumps(value, allow_nan=False)))


def render(name: str, /, **context: Any) -> str:
    """Render the named template with ``context`` (all values escaped unless marked safe)."""
    return _environment().get_template(name).render(**context).strip()
