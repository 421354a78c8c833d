"""Glue for the report notebooks: load an experiment folder into the tables each story needs.

Notebooks stay thin: every step that is more than one package call lives here, with a test
(tests/test_stories.py). Loading keeps the :class:`~abtest.io.errors.ReadReport` of every file so
the headline can say how many rows were used and set aside. Nothing here plots or prints.

* :func:`resolve_data_dir` finds ``data/demo/<experiment>`` from JupyterLab (cwd ``notebooks/``),
  from the batch runner (cwd = the notebook's folder) or from the repository root, and builds the
  demo world when it is missing.
* :func:`load_ad_stats` reads an Ads Manager CSV/XLSX or Marketing API JSON and adds the arm and
  segment fields from the naming convention (or an explicit mapping).
* :func:`load_users` turns events + assignments into one row per lead at a fixed horizon from entry,
  setting aside leads whose window is not complete yet (they would look like non-converters).
* :func:`add_margin_value`, :func:`conversion_curves`, :func:`attributed_vs_true`,
  :func:`frequency_levels`, :func:`creative_age_levels` build the tidy tables of the stories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from abtest.io.errors import DataError, ReadReport, SetAside
from abtest.metrics import Metric

__all__ = [
    "OFFER_MARGIN_VALUE",
    "AdSource",
    "LoadedData",
    "REPO_ROOT",
    "add_margin_value",
    "attributed_vs_true",
    "conversion_curves",
    "creative_age_levels",
    "frequency_levels",
    "load_ad_stats",
    "load_users",
    "plan_table",
    "power_curves",
    "story_metrics",
    "resolve_data_dir",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
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
    from abtest.arms import apply_mapping, parse_names

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
    users = user_metrics(events, asg, horizon_days=horizon_days, conversion_event=conv,
                         execute=True)
    end = pd.Timestamp(data_end, tz="UTC") if data_end else events["timestamp"].max()
    window_end = pd.to_datetime(users["entry_time"], utc=True) + pd.Timedelta(days=horizon_days)
    late = (window_end > end + pd.Timedelta(seconds=1)).to_numpy()
    if late.any():
        asg_rep.rows_kept -= int(late.sum())
        asg_rep.set_aside.append(SetAside(
            tuple(np.flatnonzero(late).tolist()),
            f"lead's {horizon_days}-day window ends after the data ({end:%Y-%m-%d})"))
        users = users[~late]
    asg_rep.check_balance()
    users = users.sort_values(["arm", "user_id"], kind="stable").reset_index(drop=True)
    for col in ("arm", "segment", "user_id"):
        if col in users:
            users[col] = users[col].astype("string")
    return LoadedData(users, [ev_rep, asg_rep], events=events)


def add_margin_value(
    users: pd.DataFrame,
    *,
    gross_margin: float,
    discount_share: Mapping[str, float] | None = None,
    cost_per_order: Mapping[str, float] | None = None,
    arm: str = "arm",
) -> pd.DataFrame:
    """Add ``margin_value``: the profit a lead brought, net of what its arm's offer cost.

    ``gross_margin`` is the margin share of the *list* price. A discount ``d`` (``discount_share``
    per arm) means revenue is already the paid price ``(1 - d) * list``, so the margin left is
    ``revenue * (gross_margin - d) / (1 - d)``; an offer paid per order (free shipping:
    ``cost_per_order`` per arm, in account currency) subtracts ``cost * conversions``.
    Arms not listed cost nothing.
    """
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin}")
    disc = dict(discount_share or {})
    cpo = dict(cost_per_order or {})
    for name, d in disc.items():
        if not 0 <= d < 1:
            raise ValueError(f"discount_share for {name!r} must be in [0, 1), got {d}")
    for name, c in cpo.items():
        if c < 0:
            raise ValueError(f"cost_per_order for {name!r} must be >= 0, got {c}")
    arms = users[arm].astype("string")
    d = arms.map(disc).astype("Float64").fillna(0.0).to_numpy(dtype=float)
    c = arms.map(cpo).astype("Float64").fillna(0.0).to_numpy(dtype=float)
    revenue = users["revenue"].to_numpy(dtype=float)
    value = revenue * (gross_margin - d) / (1.0 - d) - c * users["conversions"].to_numpy(dtype=float)
    return users.assign(margin_value=value)


def _first_conversion_days(events: pd.DataFrame, users: pd.DataFrame,
                           conversion_events: Sequence[str]) -> np.ndarray:
    conv = events.loc[events["event"].isin(list(conversion_events)), ["user_id", "timestamp"]]
    joined = users[["user_id", "entry_time"]].merge(conv, on="user_id", how="left")
    entry = pd.to_datetime(joined["entry_time"], utc=True)
    days = (joined["timestamp"] - entry) / pd.Timedelta(days=1)
    days = days.where(days >= 0)
    first = days.groupby(joined["user_id"].to_numpy(), sort=False).min()
    return first.reindex(users["user_id"].to_numpy()).to_numpy(dtype=float)


def conversion_curves(
    users: pd.DataFrame,
    events: pd.DataFrame,
    *,
    horizon_days: int,
    conversion_events: Sequence[str] = ("Purchase",),
    by: Sequence[str] = ("arm",),
) -> pd.DataFrame:
    """Cumulative share of leads converted by day since entry, per group.

    Returns ``[by...], day, leads, converted, rate, rate_low, rate_high`` (95% normal interval,
    clipped to [0, 1]); ``day`` runs 1..horizon_days and counts conversions in ``[0, day)`` days.
    """
    first = _first_conversion_days(events, users, conversion_events)
    days = np.arange(1, horizon_days + 1)
    hit = first[:, None] < days[None, :]  # NaN compares False: never converted
    frame = pd.DataFrame(hit, columns=days)
    keys = [users[k].astype("string").to_numpy() for k in by]
    grouped = frame.groupby(keys, sort=True)
    counts = grouped.sum()
    leads = grouped.size()
    out = counts.stack().rename("converted").reset_index()
    out.columns = [*by, "day", "converted"]
    idx = pd.MultiIndex.from_frame(out[list(by)]) if len(by) > 1 else out[by[0]]
    out["leads"] = leads.reindex(idx).to_numpy()
    out["rate"] = out["converted"] / out["leads"]
    se = np.sqrt(out["rate"] * (1 - out["rate"]) / out["leads"])
    out["rate_low"] = (out["rate"] - 1.96 * se).clip(lower=0.0)
    out["rate_high"] = (out["rate"] + 1.96 * se).clip(upper=1.0)
    out["day"] = out["day"].astype(int)
    return out[[*by, "day", "leads", "converted", "rate", "rate_low", "rate_high"]]


def attributed_vs_true(
    users: pd.DataFrame,
    ads: pd.DataFrame,
    *,
    control: str,
    arm: str = "arm",
) -> pd.DataFrame:
    """Per arm: first-party conversions, platform-attributed conversions and incremental ones.

    ``incremental_conversions`` = (arm rate − control rate) × arm leads, the conversions the ads
    caused against the holdout, with its 95% interval from the two-proportion standard error.
    ``attributed_conversions`` sums the ad export's ``conversions`` (the platform's click/view
    windows). The control (holdout) sees no ads, so it has no attributed conversions.
    """
    g = users.groupby(users[arm].astype("string"))
    first_party = pd.DataFrame({"leads": g.size(), "converted": g["converted"].sum(),
                                "conversions": g["conversions"].sum()})
    if control not in first_party.index:
        raise ValueError(f"control arm {control!r} not in the lead table "
                         f"(arms: {', '.join(first_party.index)})")
    attributed = ads.groupby(ads[arm].astype("string"))["conversions"].sum().astype(float)
    out = first_party.assign(
        attributed_conversions=attributed.reindex(first_party.index).fillna(0.0).to_numpy())
    rate = out["converted"] / out["leads"]
    p0, n0 = float(rate[control]), float(out.loc[control, "leads"])
    se = np.sqrt(rate * (1 - rate) / out["leads"] + p0 * (1 - p0) / n0)
    diff = rate - p0
    out["conversion_rate"] = rate
    out["incremental_conversions"] = diff * out["leads"]
    out["incremental_low"] = (diff - 1.96 * se) * out["leads"]
    out["incremental_high"] = (diff + 1.96 * se) * out["leads"]
    ctl = out.index == control
    out.loc[ctl, ["incremental_conversions", "incremental_low", "incremental_high"]] = 0.0
    out = out.rename_axis("arm").reset_index()
    out["arm"] = out["arm"].astype("string")
    order = [control] + sorted(a for a in out["arm"] if a != control)
    return out.set_index("arm").loc[order].reset_index()


def frequency_levels(
    ads: pd.DataFrame, *, max_level: int = 6, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Conversions per person reached, by the day's frequency (impressions / reach) of each ad-day.

    Each ad-day gets ``level = round(impressions / reach)`` clipped to ``1..max_level`` (the last
    level means "max_level or more"); rows without reach are left out. Returns ``[by...], level,
    conversions, reach, impressions, clicks`` with conversions capped at reach per row, so the
    level table is a valid (successes, trials) input for
    :func:`abtest.stats.conversion_by_frequency`.
    """
    if max_level < 2:
        raise ValueError("max_level must be >= 2 to see a trend")
    cols = list(by) + ["impressions", "reach", "conversions", "clicks"]
    rows = ads[cols].dropna(subset=["impressions", "reach", "conversions"])
    rows = rows[rows["reach"] > 0]
    reach = rows["reach"].to_numpy(dtype=float)
    freq = rows["impressions"].to_numpy(dtype=float) / reach
    level = np.clip(np.rint(freq), 1, max_level).astype(int)
    conv = np.minimum(rows["conversions"].to_numpy(dtype=float), reach)
    tidy = pd.DataFrame({**{k: rows[k].astype("string").to_numpy() for k in by},
                         "level": level, "conversions": conv, "reach": reach,
                         "impressions": rows["impressions"].to_numpy(dtype=float),
                         "clicks": rows["clicks"].fillna(0).to_numpy(dtype=float)})
    out = tidy.groupby([*by, "level"], sort=True).sum().reset_index()
    out["conversion_rate"] = out["conversions"] / out["reach"]
    return out


def creative_age_levels(
    ads: pd.DataFrame, *, by: Sequence[str] = (), max_age: int | None = None
) -> pd.DataFrame:
    """Clicks and impressions by creative age (days since each ad's first delivery day).

    Returns ``[by...], creative_age_days, clicks, impressions, ctr``; ``max_age`` pools older days
    into the last level.
    """
    rows = ads.dropna(subset=["date", "ad_id", "impressions", "clicks"])
    rows = rows[rows["impressions"] > 0]
    first = rows.groupby("ad_id")["date"].transform("min")
    age = ((rows["date"] - first) / pd.Timedelta(days=1)).to_numpy(dtype=float).astype(int)
    if max_age is not None:
        age = np.minimum(age, max_age)
    tidy = pd.DataFrame({**{k: rows[k].astype("string").to_numpy() for k in by},
                         "creative_age_days": age,
                         "clicks": rows["clicks"].to_numpy(dtype=float),
                         "impressions": rows["impressions"].to_numpy(dtype=float)})
    out = tidy.groupby([*by, "creative_age_days"], sort=True).sum().reset_index()
    out["ctr"] = out["clicks"] / out["impressions"]
    return out


def _offer_metric() -> Metric:
    return Metric("offer_margin_value_per_lead", "Margin value per lead (after offer cost)",
                  "margin_value", None, "mean", True,
                  "Gross margin of purchases within the horizon minus what the offer cost, per "
                  "lead (abtest.stories.add_margin_value).")


#: Margin-adjusted value per lead after the offer's cost (column from :func:`add_margin_value`).
OFFER_MARGIN_VALUE = _offer_metric()


def story_metrics(names: Sequence[str]) -> list[Metric]:
    """Metric names of the notebooks -> metrics: built-ins plus ``offer_margin_value_per_lead``."""
    from abtest.metrics import resolve_metrics

    return resolve_metrics([OFFER_MARGIN_VALUE if n == OFFER_MARGIN_VALUE.name else n
                            for n in names])


def plan_table(
    baseline: float,
    lifts: Sequence[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    n_arms: int = 2,
    daily_leads: float,
) -> pd.DataFrame:
    """Sample size per arm, total leads and days for each relative lift of a conversion rate.

    ``daily_leads`` is the traffic entering the test per day over all arms (split equally).
    """
    from abtest.stats.planning import sample_size, test_duration_days

    if daily_leads <= 0:
        raise ValueError("daily_leads must be > 0")
    lift = np.asarray(list(lifts), dtype=float)
    n = np.atleast_1d(sample_size(baseline, lift, relative=True, alpha=alpha, power=power,
                                  n_arms=n_arms))
    days = np.atleast_1d(test_duration_days(n, daily_leads / n_arms))
    return pd.DataFrame({"relative_lift": lift, "baseline_rate": baseline,
                         "treated_rate": baseline * (1 + lift), "n_per_arm": n,
                         "total_leads": n * n_arms, "days": days})


def power_curves(
    baseline: float,
    lifts: Sequence[float],
    n_per_arm: Sequence[int] | np.ndarray,
    *,
    alpha: float = 0.05,
    n_arms: int = 2,
) -> pd.DataFrame:
    """Power of the two-proportion test by leads per arm for each relative lift (tidy)."""
    from abtest.stats.planning import power as power_fn

    n = np.asarray(n_per_arm, dtype=float)
    frames = []
    for lift in lifts:
        p = np.asarray(power_fn(n, baseline, float(lift), relative=True, alpha=alpha,
                                n_arms=n_arms), dtype=float)
        frames.append(pd.DataFrame({"effect": f"{lift:+.0%}", "relative_lift": float(lift),
                                    "n_per_arm": n, "power": p}))
    return pd.concat(frames, ignore_index=True)
