"""In-process HTML export: no code, no warnings, no network.

``HTMLExporter`` with the ``lab`` template and ``exclude_input`` (what ``--no-input`` sets), a
``TagRemovePreprocessor`` for the parameter and setup cells, and a small preprocessor that drops
stderr streams, tracebacks and JavaScript outputs. The lab template's ``<head>`` also loads
require.js, MathJax and (on demand) Mermaid from a CDN; a tiny template extending ``lab`` removes
those blocks, so a report opened offline makes no network request and logs no console error.
Figures are base64 PNG outputs, so the page is one self-contained file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

__all__ = ["REMOVE_CELL_TAGS", "StripNoiseOutputs", "export_html"]

#: Cells with any of these tags are removed from reports.
REMOVE_CELL_TAGS = frozenset(
    {"parameters", "injected-parameters", "remove_cell", "remove-cell", "papermill-error-cell-tag"}
)
_DROP_MIMETYPES = ("application/javascript", "text/javascript", "application/vnd.jupyter.widget-view+json")

_TEMPLATE_NAME = "abtest_report.html.j2"
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- Offline, self-contained reports: nothing is fetched from a CDN. -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style type="text/css">
  body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem; }
  .jp-OutputArea-output img { max-width: 100%; height: auto; }
  table.abtest-table { border-collapse: collapse; }
</style>
{%- endblock extra_css -%}
"""


class StripNoiseOutputs(Preprocessor):
    """Drop stderr streams, error tracebacks and script outputs; reports show results only."""

    def preprocess_cell(self, cell: Any, resources: dict, index: int) -> tuple[Any, dict]:
        if cell.get("cell_type") != "code":
            return cell, resources
        kept = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream" and out.get("name") == "stderr":
                continue
            if kind == "error":
                continue
            data = out.get("data")
            if data is not None:
                for mime in _DROP_MIMETYPES:
                    data.pop(mime, None)
                if not data:
                    continue
            kept.append(out)
        cell.outputs = kept
        return cell, resources


def _exporter() -> HTMLExporter:
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    tags = TagRemovePreprocessor(remove_cell_tags=set(REMOVE_CELL_TAGS), enabled=True)
    exporter.register_preprocessor(tags, enabled=True)
    exporter.register_preprocessor(StripNoiseOutputs(), enabled=True)
    return exporter


def export_html(notebook: str | Path | nbformat.NotebookNode, *, title: str | None = None) -> str:
    """Return the self-contained HTML of an executed notebook, without code or warnings.

    ``title`` sets the page ``<title>`` (escaped by the template); default: the file name.
    """
    if isinstance(notebook, str | Path):
        nb = nbformat.read(str(notebook), as_version=4)
        name = Path(notebook).stem
    else:
        nb = nbformat.from_dict(notebook)  # a copy: the caller's notebook is not altered
        name = "report"
    if title:
        nb.metadata["title"] = title
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body
