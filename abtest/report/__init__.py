"""Batch reports: run parameterised notebooks with papermill and publish HTML plus JSON sidecars.

Notebooks call :func:`write_sidecar` in their last cell; everything else (plans, parallel
execution, HTML export, index page) is driven by :func:`run_plan` or ``abtest run``.
Heavy modules (papermill, nbconvert) are imported lazily so ``write_sidecar`` stays cheap inside
kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from abtest.report.sidecar import SCHEMA_VERSION, SidecarError, read_sidecar, write_sidecar

if TYPE_CHECKING:
    from abtest.report.plan import Plan, PlanError, ReportSpec, load_plan, sanitize_name
    from abtest.report.runner import BatchResult, run_plan

__all__ = [
    "SCHEMA_VERSION",
    "BatchResult",
    "Plan",
    "PlanError",
    "ReportSpec",
    "SidecarError",
    "export_html",
    "load_plan",
    "read_sidecar",
    "run_plan",
    "sanitize_name",
    "write_sidecar",
]

_LAZY = {
    "BatchResult": "abtest.report.runner",
    "run_plan": "abtest.report.runner",
    "Plan": "abtest.report.plan",
    "PlanError": "abtest.report.plan",
    "ReportSpec": "abtest.report.plan",
    "load_plan": "abtest.report.plan",
    "sanitize_name": "abtest.report.plan",
    "export_html": "abtest.report.export",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'abtest.report' has no attribute {name!r}")
