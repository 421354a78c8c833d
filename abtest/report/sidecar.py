"""JSON sidecars: the machine-readable headline of each report.

A notebook's last cell calls :func:`write_sidecar` with the ``results_path`` the runner injected;
the runner reads that file back (never the notebook outputs), adds status, timing and error, and
writes the final ``<stem>.json`` next to ``<stem>.html``. In JupyterLab, where ``results_path``
is empty, :func:`write_sidecar` only returns the record.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "SidecarError",
    "abtest_version",
    "atomic_write_text",
    "read_sidecar",
    "to_jsonable",
    "write_sidecar",
]

SCHEMA = "abtest.report.sidecar"
SCHEMA_VERSION = 1
Status = Literal["ok", "failed"]


class SidecarError(ValueError):
    """A sidecar that cannot be written or read (non-finite number, wrong schema, bad JSON)."""


def abtest_version() -> str:
    """Installed ``abtest`` version, or ``"unknown"`` when running from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("abtest")
    except PackageNotFoundError:
        return "unknown"


def to_jsonable(value: Any, where: str = "value") -> Any:
    """Convert numpy/pandas scalars, dates and containers to plain JSON types.

    Non-finite floats raise :class:`SidecarError` naming the key: a headline never carries a
    silent NaN (JSON has no NaN anyway).
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SidecarError(f"{where} is {value}; headline numbers must be finite")
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    item = getattr(value, "item", None)  # numpy scalar / 0-d array
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return to_jsonable(item(), where)
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    raise SidecarError(f"{where} has type {type(value).__name__}, which cannot go into JSON")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``.

    Readers see either the old file or the new one, never a partial write.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_sidecar(
    results_path: str | Path | None,
    headline: Mapping[str, Any],
    *,
    decision: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    report_name: str | None = None,
    run_id: str | None = None,
    status: Status = "ok",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the report's headline record (call it in a notebook's last cell).

    Args:
        results_path: the ``results_path`` parameter injected by the runner; when empty or None
            (interactive use) nothing is written and the record is only returned.
        headline: flat mapping of headline numbers and labels, in display order, e.g.
            ``{"effect": 0.012, "ci_low": 0.004, "ci_high": 0.02, "p_value": 0.003, "srm_ok": True}``.
        decision: one-line decision shown first in the index ("Ship free shipping").
        parameters: the notebook parameters used (optional; the runner also records the plan's).
        report_name, run_id: the runner-injected ``report_name`` and ``run_id``.
        status: "ok" normally; the runner sets "failed" for failed runs.
        extra: any further JSON-able details (tables as lists of dicts, notes).

    Returns:
        The record written.
    """
    if not isinstance(headline, Mapping):
        raise SidecarError(f"headline must be a mapping of name to value, got {type(headline).__name__}")
    if decision is not None and not isinstance(decision, str):
        raise SidecarError("decision must be text")
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "report": report_name or None,
        "run_id": run_id or None,
        "status": status,
        "abtest_version": abtest_version(),
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "decision": decision,
        "headline": to_jsonable(dict(headline), "headline"),
        "parameters": to_jsonable(dict(parameters or {}), "parameters"),
        "extra": to_jsonable(dict(extra or {}), "extra"),
    }
    if results_path:
        atomic_write_text(results_path, json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """Read and check a sidecar written by :func:`write_sidecar` (schema name and version)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SidecarError(f"sidecar {path} is not valid JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise SidecarError(f"sidecar {path} is not an {SCHEMA} record")
    version = record.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SidecarError(
            f"sidecar {path} has schema_version {version!r}; this abtest reads up to {SCHEMA_VERSION}"
        )
    if not isinstance(record.get("headline"), dict):
        raise SidecarError(f"sidecar {path} has no headline mapping")
    return record
