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

__all__ = ["RESERVED_PARAMETERS", "Plan", "PlanError", "ReportSpec", "load_plan", "sanitize_name"]

#: Parameters the runner injects into every notebook; a plan may not set them.
RESERVED_PARAMETERS = frozenset({"results_path", "run_id", "report_name"})

_REPORT_KEYS = {"name", "notebook", "parameters", "timeout", "title"}
_TOP_KEYS = {"title", "defaults", "reports"}
_DEFAULT_KEYS = {"parameters", "timeout"}
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


def _timeout(raw: Any, file: Path, report: str | None) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw > 0:
        raise PlanError(f"'timeout' must be a positive number of seconds, got {raw!r}", file=file, report=report)
    return float(raw)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a YAML plan; notebook paths are resolved against the plan's folder."""
    file = Path(path).resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read the plan: {exc.strerror or exc}", file=path) from exc
    try:
        doc = yaml.safe_load(text)
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

    base_params = _parameters(defaults.get("parameters"), file, "defaults")
    base_timeout = _timeout(defaults.get("timeout"), file, "defaults")
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
        rtitle = entry.get("title")
        reports.append(
            ReportSpec(name, stem, notebook, params, timeout, str(rtitle) if rtitle is not None else None)
        )
    return Plan(path=file, reports=tuple(reports), title=title)
