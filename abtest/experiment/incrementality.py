"""``abtest.incrementality``: what retargeting really caused against a holdout, and at what cost.

One row per lead (arm, converted, optional revenue / reached / impressions / spend / attributed)
-> one row per treated arm (× segment): incremental conversions and revenue vs the holdout, the
effect on the leads actually reached, cost per incremental conversion and iROAS, and the
incrementality factor (caused ÷ platform-attributed). The math is
:mod:`abtest.stats.incrementality`; this module shapes data, applies the family's level
(Bonferroni over the treated arms, and separately over arms × segments) and words the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from abtest.io.errors import DataError
from abtest.stats.incrementality import (
    IncrementalityArrays,
    incrementality_arrays,
    incrementality_factor,
    unit_moments,
)

if TYPE_CHECKING:
    from abtest.experiment.incrementality_results import IncrementalityResults

__all__ = ["incrementality"]

ALL = "all"
Source = str | Mapping[Any, float] | None

COLUMNS: tuple[str, ...] = (
    "arm", "segment", "leads", "holdout_leads", "conversions", "holdout_conversions",
    "conversion_rate", "holdout_rate", "incremental_per_lead",
    "incremental_conversions", "incremental_ci_low", "incremental_ci_high", "p_value",
    "incremental_revenue", "revenue_ci_low", "revenue_ci_high",
    "spend", "cost_per_incremental", "cpi_ci_low", "cpi_ci_high", "cpi_open_ended",
    "iroas", "iroas_ci_low", "iroas_ci_high",
    "reached_share", "effect_on_reached", "reached_ci_low", "reached_ci_high",
    "attributed_conversions", "incrementality_factor", "factor_ci_low", "factor_ci_high",
    "ci_level", "family",
)


def _read(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise DataError(f"lead table {str(path)!r} not found", file=path,
                            expected="a CSV or parquet file with one row per lead")
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    frame = getattr(data, "frame", None)  # abtest's LoadedData
    if isinstance(frame, pd.DataFrame):
        return frame
    raise ValueError(f"data must be a DataFrame or a CSV/parquet path, got {type(data).__name__}")


def _read_folder(folder: Path, horizon_days: int | None,
                 conversion_events: str | tuple[str, ...]) -> pd.DataFrame:
    """An experiment folder (``events.ndjson`` + ``assignments.csv``) -> one row per lead."""
    from abtest.experiment.immature import lead_windows
    from abtest.io import read_events, read_table
    from abtest.schema import ASSIGNMENTS

    if horizon_days is None:
        raise ValueError("reading events + assignments needs horizon_days (the conversion "
                         "window after each lead's entry)")
    for name in ("events.ndjson", "assignments.csv"):
        if not (folder / name).is_file():
            raise DataError(f"{name} not found in {folder}", file=folder / name,
                            expected="an experiment folder with events.ndjson and assignments.csv")
    return lead_windows(read_events(folder / "events.ndjson"),
                        read_table(folder / "assignments.csv", ASSIGNMENTS),
                        horizon_days=horizon_days, conversion_events=conversion_events)


def _numeric(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame:
        raise DataError(f"the lead table has no {what} column {column!r} "
                        f"(columns: {', '.join(map(str, frame.columns))})", column=column,
                        expected=what)
    values = pd.to_numeric(frame[column].astype("float64", errors="ignore"), errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        raise DataError(f"{what} column {column!r} has {int(bad.sum())} empty or non-numeric "
                        f"value(s), first at row {int(np.flatnonzero(bad)[0])}", column=column,
                        expected="a number on every lead (0 when nothing happened)")
    out = values.to_numpy(dtype=np.float64)
    if (out < 0).any():
        raise DataError(f"{what} column {column!r} has negative values", column=column,
                        expected="counts and amounts >= 0")
    return out


def _mapped(mapping: Mapping[Any, float], arm: str, seg: str | None) -> float | None:
    """Value for (arm, segment) from a mapping keyed by arm or by (arm, segment)."""
    if seg is None:
        v = mapping.get(arm)
        if v is None:
            subtotal = [float(x) for k, x in mapping.items() if isinstance(k, tuple) and k[0] == arm]
            return sum(subtotal) if subtotal else None
        return float(v)
    v = mapping.get((arm, seg))
    return None if v is None else float(v)


@dataclass
class _Prepared:
    values: np.ndarray  # per lead: conversions, revenue, reached, spend
    arms: np.ndarray
    segments: np.ndarray | None
    has: dict[str, bool]
    attributed: dict[tuple[str, str], float]
    notes: list[str] = field(default_factory=list)
    process_var: np.ndarray | None = None  # nowcast: per-lead Bernoulli variance
    estimation_var: dict[tuple[str, str | None], float] = field(default_factory=dict)

    def extra_var(self, a: str, s: str | None, idx: np.ndarray) -> float:
        """Nowcast variance of the conversions total of the leads ``idx`` of arm ``a``."""
        if self.process_var is None:
            return 0.0
        est = sum(v for (ga, gs), v in self.estimation_var.items()
                  if ga == a and (s is None or gs == s))
        return float(self.process_var[idx].sum() + est)


def _ads_totals(ads: pd.DataFrame, column: str, arm: str, segment: str | None
                ) -> dict[Any, float]:
    if column not in ads or arm not in ads:
        raise DataError(f"the ad export has no {column!r} or {arm!r} column", column=column,
                        expected="an ad_stats table with the arm from the naming convention")
    out: dict[Any, float] = {}
    by_arm = ads.groupby(ads[arm].astype(str))[column].sum()
    out.update({a: float(v) for a, v in by_arm.items()})
    if segment and segment in ads:
        by = ads.groupby([ads[arm].astype(str), ads[segment].astype(str)])[column].sum()
        out.update({(a, s): float(v) for (a, s), v in by.items()})
    return out


def _prepare(frame: pd.DataFrame, *, arm: str, holdout: str, conversions: str,
             revenue: str | None, spend: Source, reached: Source, impressions: str | None,
             attributed: Source, segment: str | None, ads: pd.DataFrame | None) -> _Prepared:
    if arm not in frame:
        raise DataError(f"the lead table has no arm column {arm!r}", column=arm,
                        expected="the arm of each lead")
    arms = frame[arm].astype("string").fillna("").to_numpy(dtype=object).astype(str)
    if holdout not in set(arms):
        raise DataError(f"no leads in the holdout arm {holdout!r} (arms: "
                        f"{', '.join(sorted(set(arms)))})", column=arm,
                        expected="a holdout arm that saw no retargeting ads")
    segs = None
    if segment is not None:
        if segment not in frame:
            raise DataError(f"the lead table has no segment column {segment!r}", column=segment,
                            expected="warm / cold / lapsed or another lead segment")
        segs = frame[segment].astype("string").fillna("(none)").to_numpy(dtype=object).astype(str)
    n = len(frame)
    values = np.zeros((n, 4))
    values[:, 0] = _numeric(frame, conversions, "conversions")
    has = {"revenue": revenue is not None, "reached": True, "spend": True}
    notes: list[str] = []
    if revenue is not None:
        values[:, 1] = _numeric(frame, revenue, "revenue")
    if ads is not None and spend is None and "cost" in ads:
        spend = _ads_totals(ads, "cost", arm, segment)
        notes.append("spend per arm from the ad export's cost")
    if ads is not None and attributed is None and "conversions" in ads:
        attributed = _ads_totals(ads, "conversions", arm, segment)
    treated = arms != holdout
    groups = _groups(arms, segs, holdout)
    # spend: a per-lead column, or a total per arm spread evenly over the arm's leads
    if isinstance(spend, str):
        values[:, 3] = _numeric(frame, spend, "spend")
    elif isinstance(spend, Mapping):
        values[:, 3] = np.nan
        for a, s, idx in groups:
            total = _mapped(spend, a, s)
            if total is not None:
                values[idx, 3] = total / idx.sum()
        values[~treated, 3] = 0.0
    else:
        has["spend"] = False
    # reached: a per-lead flag, impressions > 0, or a share / count per arm
    if isinstance(reached, str):
        values[:, 2] = (_numeric(frame, reached, "reached") > 0).astype(float)
    elif impressions is not None and reached is None:
        values[:, 2] = (_numeric(frame, impressions, "impressions") > 0).astype(float)
    elif isinstance(reached, Mapping):
        values[:, 2] = np.nan
        for a, s, idx in groups:
            r = _mapped(reached, a, s)
            if r is not None:
                values[idx, 2] = r if r <= 1 else r / idx.sum()
        if np.nanmax(values[treated, 2], initial=0) > 1:
            raise DataError("a reached count is larger than the arm's leads", column="reached",
                            expected="a share in [0, 1] or a count of leads reached")
    else:
        has["reached"] = False
    if has["reached"] or has["spend"]:
        values[~treated, 2:] = 0.0  # the holdout sees no ads: no reach, no spend
    att: dict[tuple[str, str], float] = {}
    for a, s, idx in groups:
        key = (a, s or ALL)
        if isinstance(attributed, str):
            att[key] = float(_numeric(frame, attributed, "attributed conversions")[idx].sum())
        elif isinstance(attributed, Mapping):
            v = _mapped(attributed, a, s)
            if v is not None:
                att[key] = v
    if segs is not None:
        for name, src in (("spend", spend), ("reached share", reached)):
            if isinstance(src, Mapping) and not any(isinstance(k, tuple) for k in src):
                notes.append(f"{name} per segment: the arm's total split over its segments by "
                             "leads (give (arm, segment) keys to set it per segment)")
    if has["reached"]:
        notes.append("the holdout's would-be-reached share is taken equal to its arm's "
                     "(randomisation makes them equal in expectation)")
    return _Prepared(values, arms, segs, has, att, notes)


def _groups(arms: np.ndarray, segs: np.ndarray | None, holdout: str
            ) -> list[tuple[str, str | None, np.ndarray]]:
    names = sorted(set(arms) - {holdout})
    out: list[tuple[str, str | None, np.ndarray]] = [(a, None, arms == a) for a in names]
    if segs is not None:
        for s in sorted(set(segs)):
            out += [(a, s, (arms == a) & (segs == s)) for a in names]
    return out


def _estimate(prep: _Prepared, holdout: str, alpha: float, correction: str) -> pd.DataFrame:
    rows = []
    for pooled in (True, False):
        groups = [g for g in _groups(prep.arms, prep.segments, holdout) if (g[1] is None) == pooled]
        if not groups:
            continue
        level_alpha = alpha / len(groups) if correction == "bonferroni" else alpha
        moments_t, moments_c, keep, extra = [], [], [], []
        for a, s, idx in groups:
            ctl = (prep.arms == holdout) if s is None else \
                (prep.arms == holdout) & (prep.segments == s)
            if idx.sum() < 2 or ctl.sum() < 2:
                continue
            moments_t.append(unit_moments(prep.values[idx]))
            moments_c.append(unit_moments(prep.values[ctl]))
            keep.append((a, s, idx, ctl))
            extra.append(prep.extra_var(a, s, idx) / idx.sum() ** 2
                         + prep.extra_var(holdout, s, ctl) / ctl.sum() ** 2)
        if not keep:
            continue
        stack = [np.stack([m[j] for m in ms]) for ms in (moments_t, moments_c) for j in range(3)]
        res = incrementality_arrays(*stack, alpha=level_alpha, extra_var=np.asarray(extra))
        family = (f"{'arms' if pooled else 'arms × segments'} ({len(groups)} comparisons, "
                  f"{'Bonferroni' if correction == 'bonferroni' else 'no correction'})")
        rows.append(_frame(res, keep, prep, level_alpha, family))
    if not rows:
        raise DataError("no treated arm has at least two leads next to the holdout",
                        expected="leads in the holdout and in at least one retargeted arm")
    return pd.concat(rows, ignore_index=True)


def _frame(res: IncrementalityArrays, keep: list, prep: _Prepared, level_alpha: float,
           family: str) -> pd.DataFrame:
    conv = prep.values[:, 0]
    out = pd.DataFrame({
        "arm": [k[0] for k in keep],
        "segment": [k[1] or ALL for k in keep],
        "leads": [int(k[2].sum()) for k in keep],
        "holdout_leads": [int(k[3].sum()) for k in keep],
        "conversions": [float(conv[k[2]].sum()) for k in keep],
        "holdout_conversions": [float(conv[k[3]].sum()) for k in keep],
    })
    out["conversion_rate"] = out["conversions"] / out["leads"]
    out["holdout_rate"] = out["holdout_conversions"] / out["holdout_leads"]
    out["incremental_per_lead"] = res.itt
    out["incremental_conversions"] = res.incremental
    out["incremental_ci_low"] = res.incremental_low
    out["incremental_ci_high"] = res.incremental_high
    with np.errstate(divide="ignore", invalid="ignore"):
        out["p_value"] = np.where(res.itt_se > 0, 2 * special.ndtr(-np.abs(res.itt / res.itt_se)),
                                  np.nan)
    nan = np.full(len(out), np.nan)
    rev = prep.has["revenue"]
    out["incremental_revenue"] = res.incremental_revenue if rev else nan
    out["revenue_ci_low"] = res.revenue_low if rev else nan
    out["revenue_ci_high"] = res.revenue_high if rev else nan
    spend_known = np.isfinite(res.spend) & prep.has["spend"]
    out["spend"] = np.where(spend_known, res.spend, np.nan)
    for col, src in (("cost_per_incremental", res.cpi), ("cpi_ci_low", res.cpi_low),
                     ("cpi_ci_high", res.cpi_high)):
        out[col] = np.where(spend_known, src, np.nan)
    out["cpi_open_ended"] = spend_known & res.cpi_open
    both = spend_known & rev
    for col, src in (("iroas", res.iroas), ("iroas_ci_low", res.iroas_low),
                     ("iroas_ci_high", res.iroas_high)):
        out[col] = np.where(both, src, np.nan)
    reach_known = np.isfinite(res.reached_share) & prep.has["reached"]
    for col, src in (("reached_share", res.reached_share), ("effect_on_reached",
                     res.effect_on_reached), ("reached_ci_low", res.reached_low),
                     ("reached_ci_high", res.reached_high)):
        out[col] = np.where(reach_known, src, np.nan)
    att = np.array([prep.attributed.get((k[0], k[1] or ALL), np.nan) for k in keep])
    out["attributed_conversions"] = att
    f, lo, hi = incrementality_factor(res.incremental, res.incremental_low,
                                      res.incremental_high, att)
    out["incrementality_factor"], out["factor_ci_low"], out["factor_ci_high"] = f, lo, hi
    out["ci_level"] = 1 - level_alpha
    out["family"] = family
    return out[list(COLUMNS)]


def _nowcast(frame: pd.DataFrame, age: np.ndarray, *, arm: str, segment: str | None,
             conversions: str, conversion_day: str, horizon_days: int
             ) -> tuple[np.ndarray, np.ndarray, dict]:
    from abtest.experiment.immature import nowcast_leads

    conv = _numeric(frame, conversions, "conversions")
    if np.any((conv != 0) & (conv != 1)):
        raise DataError(f"nowcasting needs a 0/1 conversion column, {conversions!r} has counts",
                        column=conversions, expected="converted (0/1) per lead")
    if conversion_day not in frame:
        raise DataError(f"nowcasting needs the day of each lead's first conversion "
                        f"({conversion_day!r})", column=conversion_day,
                        expected="days from entry to the first conversion, empty if none")
    day = pd.to_numeric(frame[conversion_day], errors="coerce").to_numpy(dtype=float)
    day = np.where(conv > 0, day, np.nan)
    if np.any((conv > 0) & np.isnan(day)):
        raise DataError(f"converted leads without a {conversion_day!r}", column=conversion_day,
                        expected="the conversion day of every converted lead")
    a = frame[arm].astype(str).to_numpy()
    keys = a if segment is None else np.array(
        [f"{x}\x1f{y}" for x, y in zip(a, frame[segment].astype(str), strict=True)])
    prob, pvar, est = nowcast_leads(age, day, keys, horizon_days)
    est_keyed = {(tuple(k.split("\x1f")) if segment else (k, None)): v for k, v in est.items()}
    return prob, pvar, est_keyed


def incrementality(
    data: Any,
    *,
    arm: str = "arm",
    holdout: str = "holdout",
    conversions: str = "converted",
    revenue: str | None = None,
    spend: Source = None,
    reached: Source = None,
    impressions: str | None = None,
    attributed: Source = None,
    segment: str | None = None,
    ads: pd.DataFrame | None = None,
    horizon_days: int | None = None,
    immature: Literal["set_aside", "nowcast"] = "set_aside",
    age_days: str = "age_days",
    conversion_day: str = "conversion_day",
    conversion_events: str | tuple[str, ...] = ("Purchase",),
    alpha: float = 0.05,
    correction: Literal["bonferroni", "none"] = "bonferroni",
    channel: str = "tiktok_retargeting",
    start: str | None = None,
    end: str | None = None,
    currency: str = "",
) -> IncrementalityResults:
    """What each retargeted arm caused against the holdout, on one row per lead.

    ``data``: a lead table (DataFrame, CSV/parquet path) or an experiment folder holding
    ``events.ndjson`` + ``assignments.csv`` (read with
    :func:`abtest.experiment.immature.lead_windows` at ``horizon_days``, conversions =
    ``conversion_events``).

    ``spend`` / ``reached`` / ``attributed`` are each a column of the lead table, or a mapping
    arm -> value (keys ``(arm, segment)`` for segment rows); with ``ads`` (an ``ad_stats`` table
    with the arm from the naming convention) spend is the export's ``cost`` and attributed its
    ``conversions`` per arm (× segment when the export has the segment column). ``reached`` as a
    mapping is a share of the arm's leads (<= 1) or a count; without it, ``impressions > 0`` marks
    a reached lead. The ad export's daily reach is not summed: people reached on two days would
    count twice. Intervals are at the family's level: ``1 - alpha / m`` over the ``m`` treated
    arms (pooled rows) and over arms × segments (segment rows) with ``correction="bonferroni"``.
    ``channel``, ``start``, ``end`` label :meth:`IncrementalityResults.to_lift_calibration` rows
    (``start`` / ``end`` default to the first and last ``entry_time`` in the lead table).

    Immature leads (``horizon_days`` given; the table has ``age_days``, e.g. from
    :func:`abtest.experiment.immature.lead_windows`): leads observed for less than the horizon
    would look like non-converters. ``immature="set_aside"`` drops them (with a note);
    ``"nowcast"`` keeps them with their expected final conversion from the delay distribution
    fitted per arm (× segment) on all leads (Kaplan–Meier, :mod:`abtest.stats.nowcast`); the
    interval then includes the nowcast's own uncertainty. ``conversions`` must be 0/1 then;
    revenue of immature leads is what they spent so far.
    """
    if correction not in ("bonferroni", "none"):
        raise ValueError(f"correction must be 'bonferroni' or 'none', got {correction!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if immature not in ("set_aside", "nowcast"):
        raise ValueError(f"immature must be 'set_aside' or 'nowcast', got {immature!r}")
    if isinstance(data, (str, Path)) and Path(data).is_dir():
        frame = _read_folder(Path(data), horizon_days, conversion_events)
    else:
        frame = _read(data)
    notes: list[str] = []
    nowcast = None
    if horizon_days is not None:
        age = _numeric(frame, age_days, "days observed")
        late = age < horizon_days
        if immature == "set_aside" and late.any():
            frame = frame[~late]
            notes.append(f"{int(late.sum()):,} leads set aside: their {horizon_days}-day window "
                         "is not complete yet")
        elif immature == "nowcast":
            nowcast = _nowcast(frame, age, arm=arm, segment=segment, conversions=conversions,
                               conversion_day=conversion_day, horizon_days=horizon_days)
            frame = frame.assign(**{conversions: nowcast[0]})
            if late.any():
                notes.append(f"{int(late.sum()):,} leads still inside their {horizon_days}-day "
                             "window: their conversions are nowcast from the delay "
                             "distribution of all leads (Kaplan–Meier), uncertainty included")
    prep = _prepare(frame, arm=arm, holdout=holdout, conversions=conversions, revenue=revenue,
                    spend=spend, reached=reached, impressions=impressions, attributed=attributed,
                    segment=segment, ads=ads)
    if immature == "set_aside" and any("set aside" in n for n in notes) and prep.attributed:
        notes.append("the platform's attributed conversions cover every lead of the arm, the "
                     "increment only the mature ones: the factor reads low (use "
                     "immature='nowcast')")
    prep.notes[:0] = notes
    if nowcast is not None:
        prep.process_var, prep.estimation_var = nowcast[1], nowcast[2]
    table = _estimate(prep, holdout, alpha, correction)
    if start is None and "entry_time" in frame:
        start = str(pd.to_datetime(frame["entry_time"], utc=True).min().date())
    if end is None and "entry_time" in frame:
        end = str(pd.to_datetime(frame["entry_time"], utc=True).max().date())
    from abtest.experiment.incrementality_results import IncrementalityResults

    return IncrementalityResults(table=table, alpha=alpha, correction=correction,
                                 holdout=holdout, notes=tuple(prep.notes), channel=channel,
                                 start=start, end=end, currency=currency)
