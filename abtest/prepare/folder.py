"""The analyst's experiment folder -> analysis-ready tables, with every file's read report.

* :func:`resolve_data_dir` finds ``data/demo/<experiment>`` from JupyterLab (cwd ``notebooks/``),
  from the batch runner (cwd = the notebook's folder) or from the repository root, and builds the
  demo world when it is missing.
* :func:`load_ad_stats` reads an Ads Manager CSV/XLSX or Marketing API JSON and adds the arm and
  segment fields from the naming convention (or an explicit mapping).
* :func:`load_users` turns events + assignments into one row per lead at a fixed horizon from entry;
  leads whose window is not complete are set aside by :func:`abtest.aggregate.user_metrics`.

Loading keeps the :class:`~abtest.errors.ReadReport` of every file so reports can say how many rows
were used and set aside. Nothing here plots or prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from abtest.io.errors import DataError, ReadReport, SetAside

__all__ = ["REPO_ROOT", "AdSource", "LoadedData", "load_ad_stats", "load_users",
           "resolve_data_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]
AdSource = Literal["ads_manager_csv", "ads_manager_xlsx", "marketing_api"]
_AD_FILES: dict[str, str] = {
    "ads_manager_csv": "ads_manager.csv",
    "ads_manager_xlsx": "ads_manager.xlsx",
    "marketing_api": "marketing_api.json",
}


@dataclass
class LoadedData:
    """A loaded table with the read reports of every file that went into it."""

    frame: pd.DataFrame
    reports: list[ReadReport] = field(default_factory=list)
    events: pd.DataFrame | None = None  # the canonical events behind a lead table

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.reports)

    @property
    def rows_set_aside(self) -> int:
        return sum(r.rows_set_aside for r in self.reports)

    @property
    def rows_used(self) -> int:
        return self.rows_read - self.rows_set_aside

    @property
    def currency(self) -> str | None:
        """The one currency of the table's money columns (its ``currency`` column), else None.

        Raises :class:`DataError` when the table mixes currencies: sums would add them up.
        """
        if "currency" not in self.frame.columns:
            return None
        found = sorted(set(self.frame["currency"].dropna().astype(str).str.upper()))
        if len(found) > 1:
            raise DataError(f"the data mixes currencies ({', '.join(found)}); costs and values "
                            "cannot be added across currencies", column="currency",
                            expected="one currency per report (split the export by account)")
        return found[0] if found else None

    def set_aside_frame(self) -> pd.DataFrame:
        """One row per file × reason rows were set aside (empty when nothing was)."""
        rows = [{"file": Path(r.file).name, "reason": s.reason, "rows": len(s.rows)}
                for r in self.reports for s in r.set_aside]
        return pd.DataFrame(rows, columns=["file", "reason", "rows"])


def resolve_data_dir(path: str | Path, *, build_demo: bool = True) -> Path:
    """Find an experiment folder given as absolute, relative to cwd, or relative to the repo.

    Relative paths are tried against the current directory, the ``notebooks/`` folder and the
    repository root, so ``"../data/demo/offer"`` and ``"data/demo/offer"`` both work from
    JupyterLab, the batch runner and a shell. A missing folder under ``data/demo`` is built with
    :func:`abtest.sim.demo.build_demo_data` (deterministic, ~10 s) when ``build_demo`` is true.
    """
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [
        Path.cwd() / p, REPO_ROOT / "notebooks" / p, REPO_ROOT / p]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    demo = (REPO_ROOT / "data" / "demo").resolve()
    for c in candidates:
        target = c.resolve()
        if build_demo and target.parent == demo:
            from abtest.sim.demo import build_demo_data

            build_demo_data(demo)
            if target.is_dir():
                return target
    tried = ", ".join(str(c.resolve()) for c in candidates)
    raise DataError(f"data folder {str(path)!r} not found (looked in {tried})", file=path,
                    expected="a folder with the exports of one experiment")


def _arm_fields(frame: pd.DataFrame, *, naming: str | None, name_column: str,
                arm_mapping: str | Path | Mapping | None, mapping_on: str,
                arm_field: str) -> tuple[pd.DataFrame, ReadReport | None]:
    from abtest.prepare.arms import apply_mapping, parse_names

    if arm_mapping is not None:
        return apply_mapping(frame, arm_mapping, on=mapping_on), None
    if naming is None:
        if "arm" not in frame:
            raise DataError("no arm column and no naming pattern or mapping to derive it",
                            column="arm", expected="naming='RT_{segment}_{arm}' or arm_mapping")
        return frame, None
    parsed, rep = parse_names(frame, naming, column=name_column, unmatched="set_aside")
    if arm_field != "arm":
        if arm_field not in parsed:
            raise DataError(f"naming pattern {naming!r} has no {{{arm_field}}} field",
                            expected="the field that holds the arm")
        parsed = parsed.rename(columns={arm_field: "arm"})
    return parsed, rep


def load_ad_stats(
    data_dir: str | Path,
    *,
    source: AdSource = "ads_manager_csv",
    file: str | None = None,
    naming: str | None = "RT_{segment}_{arm}",
    name_column: str = "ad_group",
    arm_field: str = "arm",
    arm_mapping: str | Path | Mapping | None = None,
    mapping_on: str = "ad_id",
) -> LoadedData:
    """Read one ad-level daily export and add ``arm`` (and any other naming fields).

    ``source`` picks the loader and default file name; ``file`` overrides the name. Arms come from
    ``arm_mapping`` (ad_id -> arm; CSV/YAML/dict) when given, else from the ``naming`` pattern on
    ``name_column`` (rows whose name does not match are set aside and reported).
    """
    from abtest.io import read_ads_manager, read_marketing_api

    if source not in _AD_FILES:
        raise ValueError(f"source must be one of {sorted(_AD_FILES)}, got {source!r}")
    folder = resolve_data_dir(data_dir)
    path = folder / (file or _AD_FILES[source])
    reader = read_marketing_api if source == "marketing_api" else read_ads_manager
    frame, rep = reader(path, report=True)
    frame, name_rep = _arm_fields(frame, naming=naming, name_column=name_column,
                                  arm_mapping=arm_mapping, mapping_on=mapping_on,
                                  arm_field=arm_field)
    reports = [rep]
    if name_rep is not None and name_rep.rows_set_aside:
        # the naming report counts the loader's kept rows: only its set-aside rows are new
        reports.append(ReadReport(file=str(path), format="naming_convention",
                                  rows_read=name_rep.rows_set_aside, rows_kept=0,
                                  set_aside=list(name_rep.set_aside)))
    return LoadedData(frame, reports)


def load_users(
    data_dir: str | Path,
    *,
    horizon_days: int,
    conversion_events: str | Sequence[str] = ("Purchase",),
    events_file: str = "events.ndjson",
    assignments_file: str = "assignments.csv",
    data_end: str | None = None,
) -> LoadedData:
    """One row per lead: ``user_id, arm, segment, entry_time, conversions, converted, revenue ...``.

    Sums run over ``[entry_time, entry_time + horizon_days)`` (:func:`abtest.aggregate.user_metrics`,
    executed on DuckDB). Leads whose window ends after the data does (``data_end``, default the
    last event) are set aside: counting them would understate conversion in late arms.
    """
    from abtest.aggregate import user_metrics
    from abtest.io import read_events, read_table
    from abtest.schema import ASSIGNMENTS

    folder = resolve_data_dir(data_dir)
    events, ev_rep = read_events(folder / events_file, report=True)
    asg = read_table(folder / assignments_file, ASSIGNMENTS)
    asg_rep = ReadReport(file=str(folder / assignments_file), format="assignments",
                         rows_read=len(asg), rows_kept=len(asg))
    conv = [conversion_events] if isinstance(conversion_events, str) else list(conversion_events)
    # the complete-window rule lives in the aggregation (every engine applies it); flag here so
    # the read report can name the set-aside rows
    users, window = user_metrics(events, asg, horizon_days=horizon_days, conversion_event=conv,
                                 execute=True, data_end=data_end, incomplete="flag", report=True)
    late = ~users.pop("window_complete").astype(bool).to_numpy()
    if late.any():
        asg_rep.rows_kept -= int(late.sum())
        asg_rep.set_aside.append(SetAside(tuple(np.flatnonzero(late).tolist()), window.reason))
        users = users[~late]
    asg_rep.check_balance()
    users = users.sort_values(["arm", "user_id"], kind="stable").reset_index(drop=True)
    for col in ("arm", "segment", "user_id"):
        if col in users:
            users[col] = users[col].astype("string")
    return LoadedData(users, [ev_rep, asg_rep], events=events)
