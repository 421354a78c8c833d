"""Batch plans: a YAML list of reports (name, notebook, parameters), validated up front.

Plan file format (paths are relative to the plan file)::

    title: Weekly retargeting tests        # optional
    defaults:                              # optional, merged under every report's parameters
      parameters: {alpha: 0.05}
      timeout: 600                         # optional per-cell limit in seconds
    reports:
      - name: offer_test
        notebook: ../offer_test.ipynb
        parameters: {segment: all}

A bare YAML list of reports is accepted too. Every problem is reported with the plan file and
the report's position, and report names are turned into safe file stems (:func:`sanitize_name`).

Bounds, so a plan cannot exhaust the machine: the file is at most 1 MB and is read with a safe
loader that refuses YAML alias expansion beyond :data:`MAX_YAML_NODES` nodes (the "billion
laughs" attack; a 461-byte bomb is refused in milliseconds), at most :data:`MAX_REPORTS`
reports, timeouts finite and at most :data:`MAX_TIMEOUT` seconds, ``max_output_mb`` (executed
notebook size per report) at most :data:`MAX_OUTPUT_MB`. The stem ``index`` is reserved for the
batch index page.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_OUTPUT_MB",
    "MAX_REPORTS",
    "MAX_TIMEOUT",
    "MAX_YAML_NODES",
    "RESERVED_PARAMETERS",
    "RESERVED_STEMS",
    "Plan",
    "PlanError",
    "ReportSpec",
    "load_plan",
    "safe_load_yaml",
    "sanitize_name",
]

#: Parameters the runner injects into every notebook; a plan may not set them.
RESERVED_PARAMETERS = frozenset({"results_path", "run_id", "report_name"})

#: File stems the runner writes itself (index.html, index.json); no report may use them.
RESERVED_STEMS = frozenset({"index"})
MAX_PLAN_BYTES = 1_000_000
MAX_YAML_NODES = 20_000
MAX_REPORTS = 500
MAX_TIMEOUT = 86_400.0  # one day per cell / notebook
MAX_OUTPUT_MB = 1_024.0

_REPORT_KEYS = {"name", "notebook", "parameters", "timeout", "title", "max_output_mb"}
_TOP_KEYS = {"title", "defaults", "reports"}
_DEFAULT_KEYS = {"parameters", "timeout", "max_output_mb"}
_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_MAX_STEM = 80


class PlanError(ValueError):
    """A plan file that cannot be run, with the file and the report it concerns."""

    def __init__(self, message: str, *, file: str | Path | None = None, report: str | None = None):
        where = ", ".join(p for p in (f"plan {file}" if file else "", report or "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = str(file) if file else None
        self.report = report


@dataclass(frozen=True)
class ReportSpec:
    """One report of a plan: display ``name``, safe file ``stem``, notebook and parameters."""

    name: str
    stem: str
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    title: str | None = None
    max_output_mb: float | None = None


@dataclass(frozen=True)
class Plan:
    """A validated plan: its source file, optional title and the reports in order."""

    path: Path
    reports: tuple[ReportSpec, ...]
    title: str | None = None


def sanitize_name(name: str) -> str:
    """Turn a report name from user data into a safe file stem.

    Accents are folded to ASCII, everything but ``a-z 0-9 _ -`` becomes ``-``; no dots, slashes
    or HTML survive, so the stem can neither traverse directories nor inject markup. Raises
    ``ValueError`` when nothing usable is left.
    """
    folded = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("-", folded.lower()).strip("-_")
    stem = re.sub(r"-{2,}", "-", stem)[:_MAX_STEM].strip("-_")
    if not stem:
        raise ValueError(f"report name {name!r} has no letters or digits to build a file name from")
    return stem


def _clean_value(value: Any, where: str, file: Path, report: str) -> Any:
    """Make a YAML value safe for papermill: dates to ISO strings, reject NaN and odd types."""
    if isinstance(value, dt.date):  # datetime is a subclass of date
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise PlanError(f"parameter {where} is {value}; use a finite number", file=file, report=report)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list):
        return [_clean_value(v, f"{where}[{i}]", file, report) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, val in value.items():
            if not isinstance(key, str):
                raise PlanError(f"parameter {where} has a non-text key {key!r}", file=file, report=report)
            out[key] = _clean_value(val, f"{where}.{key}", file, report)
        return out
    raise PlanError(
        f"parameter {where} has unsupported type {type(value).__name__}", file=file, report=report
    )


def _parameters(raw: Any, file: Path, report: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PlanError(
            f"'parameters' must be a mapping of name: value, got {type(raw).__name__}",
            file=file,
            report=report,
        )
    params: dict[str, Any] = {}
    for key, val in raw.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise PlanError(f"parameter name {key!r} is not a Python identifier", file=file, report=report)
        if key in RESERVED_PARAMETERS:
            raise PlanError(
                f"parameter {key!r} is set by the runner and may not appear in a plan",
                file=file,
                report=report,
            )
        params[key] = _clean_value(val, key, file, report)
    return params


def _bounded(raw: Any, key: str, unit: str, limit: float, file: Path, report: str | None) -> float | None:
    """A positive, finite number no larger than ``limit`` (``.inf`` and ``1e400`` are refused)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw > 0:
        raise PlanError(f"'{key}' must be a positive number of {unit}, got {raw!r}", file=file, report=report)
    if not math.isfinite(raw) or raw > limit:
        raise PlanError(
            f"'{key}' is {raw!r} {unit}; the limit is {limit:g} (a finite number is required)",
            file=file,
            report=report,
        )
    return float(raw)


def _timeout(raw: Any, file: Path, report: str | None) -> float | None:
    return _bounded(raw, "timeout", "seconds", MAX_TIMEOUT, file, report)


def _max_output(raw: Any, file: Path, report: str | None) -> float | None:
    return _bounded(raw, "max_output_mb", "MB", MAX_OUTPUT_MB, file, report)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents whose alias-expanded tree is too large.

    PyYAML shares aliased nodes while composing, but every consumer that walks the result (plan
    validation, JSON encoding of parameters) pays for the expanded tree: nine nested levels of
    nine aliases are 9**9 nodes from a few hundred bytes. The composed graph is measured with
    memoisation (linear in the document) before anything is constructed.
    """

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        sizes: dict[int, int] = {}
        visiting: set[int] = set()

        def size(n: yaml.Node) -> int:
            key = id(n)
            if key in sizes:
                return sizes[key]
            if key in visiting:
                raise yaml.YAMLError("the plan refers to itself through an alias (*name)")
            visiting.add(key)
            total = 1
            if isinstance(n, yaml.SequenceNode):
                total += sum(size(child) for child in n.value)
            elif isinstance(n, yaml.MappingNode):
                total += sum(size(k) + size(v) for k, v in n.value)
            visiting.discard(key)
            if total > MAX_YAML_NODES:
                raise yaml.YAMLError(
                    f"the plan expands to more than {MAX_YAML_NODES:,} values through aliases "
                    "(*name); refused as a possible alias bomb"
                )
            sizes[key] = total
            return total

        size(node)
        return node


def safe_load_yaml(text: str) -> Any:
    """Load YAML with safe types only and alias expansion bounded by :data:`MAX_YAML_NODES`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_plan(path: str | Path) -> Plan:
    """Read and validate a YAML plan; notebook paths are resolved against the plan's folder."""
    file = Path(path).resolve()
    try:
        if file.stat().st_size > MAX_PLAN_BYTES:
            raise PlanError(f"the plan is larger than {MAX_PLAN_BYTES // 1000} kB", file=path)
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read the plan: {exc.strerror or exc}", file=path) from exc
    except UnicodeDecodeError as exc:
        raise PlanError("the plan is not UTF-8 text", file=path) from exc
    try:
        doc = safe_load_yaml(text)
    except RecursionError as exc:
        raise PlanError("the plan is nested too deeply", file=path) from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"not valid YAML: {exc}", file=path) from exc

    title = None
    defaults: Mapping[str, Any] = {}
    if isinstance(doc, Mapping):
        unknown = set(doc) - _TOP_KEYS
        if unknown:
            raise PlanError(f"unknown top-level keys {sorted(map(str, unknown))}; expected {sorted(_TOP_KEYS)}", file=path)
        title = doc.get("title")
        if title is not None and not isinstance(title, str):
            raise PlanError("'title' must be text", file=path)
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, Mapping) or set(defaults) - _DEFAULT_KEYS:
            raise PlanError(f"'defaults' may only hold {sorted(_DEFAULT_KEYS)}", file=path)
        entries = doc.get("reports")
    else:
        entries = doc
    if not isinstance(entries, list) or not entries:
        raise PlanError("expected a non-empty list of reports (each with name and notebook)", file=path)
    if len(entries) > MAX_REPORTS:
        raise PlanError(f"{len(entries)} reports; a plan may hold at most {MAX_REPORTS}", file=path)

    base_params = _parameters(defaults.get("parameters"), file, "defaults")
    base_timeout = _timeout(defaults.get("timeout"), file, "defaults")
    base_output = _max_output(defaults.get("max_output_mb"), file, "defaults")
    reports: list[ReportSpec] = []
    seen: dict[str, str] = {}
    for pos, entry in enumerate(entries, start=1):
        where = f"report #{pos}"
        if not isinstance(entry, Mapping):
            raise PlanError("each report must be a mapping with name and notebook", file=path, report=where)
        unknown = set(entry) - _REPORT_KEYS
        if unknown:
            raise PlanError(
                f"unknown keys {sorted(map(str, unknown))}; allowed: {sorted(_REPORT_KEYS)}",
                file=path,
                report=where,
            )
        name = entry.get("name")
        if not isinstance(name, str | int) or not str(name).strip():
            raise PlanError("'name' is missing or empty", file=path, report=where)
        name = str(name).strip()
        where = f"{where} ({name!r})"
        try:
            stem = sanitize_name(name)
        except ValueError as exc:
            raise PlanError(str(exc), file=path, report=where) from exc
        if stem in RESERVED_STEMS:
            raise PlanError(
                f"the name {name!r} would be written as {stem}.html, which is the batch index page; "
                "choose another name",
                file=path,
                report=where,
            )
        if stem in seen:
            raise PlanError(
                f"file name {stem!r} is already used by report {seen[stem]!r}; names must differ",
                file=path,
                report=where,
            )
        seen[stem] = name
        nb = entry.get("notebook")
        if not isinstance(nb, str) or not nb.strip():
            raise PlanError("'notebook' (path to an .ipynb file) is missing", file=path, report=where)
        notebook = (file.parent / nb).resolve()
        if notebook.suffix != ".ipynb":
            raise PlanError(f"notebook {nb!r} is not an .ipynb file", file=path, report=where)
        if not notebook.is_file():
            raise PlanError(f"notebook {nb!r} not found (looked for {notebook})", file=path, report=where)
        params = {**base_params, **_parameters(entry.get("parameters"), file, where)}
        timeout = _timeout(entry.get("timeout"), file, where) or base_timeout
        max_output = _max_output(entry.get("max_output_mb"), file, where) or base_output
        rtitle = entry.get("title")
        reports.append(
            ReportSpec(name, stem, notebook, params, timeout,
                       str(rtitle) if rtitle is not None else None, max_output)
        )
    return Plan(path=file, reports=tuple(reports), title=title)
