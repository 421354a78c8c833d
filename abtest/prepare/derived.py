"""Derived tables of the report stories: margin value, conversion curves, attributed vs true,
frequency levels and creative age, each a tidy frame ready to test or plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from abtest.metrics import OFFER_MARGIN_VALUE, Metric, resolve_metrics

__all__ = ["OFFER_MARGIN_VALUE", "add_margin_value", "attributed_vs_true", "conversion_curves",
           "creative_age_levels", "frequency_levels", "story_metrics"]


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


def story_metrics(names: Sequence[str]) -> list[Metric]:
    """Metric names of the notebooks -> metrics: built-ins plus ``offer_margin_value_per_lead``."""
    return resolve_metrics(list(names))
