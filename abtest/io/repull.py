"""Re-pulled ad exports and the days that are still filling in.

Connectors and analysts re-pull the recent days of an ad report because the platform keeps
updating them (late conversions inside the attribution window, the report's own latency). Two
files then hold the same day × ad: :func:`merge_repulls` keeps the latest pull, with a note,
instead of refusing or double counting. :func:`flag_provisional` marks the days still inside the
attribution window at the export's end: their conversions are not final yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from abtest.io.errors import DataError, ReadReport, SetAside

__all__ = ["flag_provisional", "merge_repulls", "provisional_note", "read_repulls"]


def _key(frame: pd.DataFrame, label: str) -> list[str]:
    if "date" not in frame:
        raise DataError(f"{label} has no date column", column="date",
                        expected="a daily ad report (By Day)")
    for ad in ("ad_id", "ad", "ad_group_id", "ad_group"):
        if ad in frame:
            return ["date", ad]
    raise DataError(f"{label} has no ad column", column="ad_id",
                    expected="ad ID or ad name next to each day")


def merge_repulls(
    frames: Sequence[pd.DataFrame],
    *,
    pulled_at: Sequence[Any] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, ReadReport]:
    """Stack ad exports; where the same day × ad is in several, keep the latest pull.

    ``frames`` are canonical ``ad_stats`` tables (e.g. from :func:`abtest.io.read_ads_manager`),
    in the order they were pulled unless ``pulled_at`` gives each one's pull time; ``names``
    label them in the note (file names). Rows replaced by a later pull are listed in the report
    as set aside ("replaced by the later pull of ..."), so every input row is accounted for.
    """
    if not frames:
        raise ValueError("merge_repulls needs at least one export")
    labels = list(names) if names is not None else [f"export {i + 1}" for i in range(len(frames))]
    if len(labels) != len(frames):
        raise ValueError("names must have one entry per export")
    order = list(range(len(frames)))
    if pulled_at is not None:
        if len(pulled_at) != len(frames):
            raise ValueError("pulled_at must have one entry per export")
        times = [pd.Timestamp(t) for t in pulled_at]
        order = sorted(order, key=lambda i: times[i])
    keys = [_key(f, labels[i]) for i, f in enumerate(frames)]
    if len({tuple(k) for k in keys}) > 1:
        raise DataError("the exports identify ads differently (" + ", ".join(
            f"{labels[i]}: {k[1]}" for i, k in enumerate(keys)) + ")", column=keys[0][1],
            expected="the same ad column in every re-pulled export")
    key = keys[0]
    stacked = pd.concat([frames[i].assign(_pull=rank, _row=range(len(frames[i])))
                         for rank, i in enumerate(order)], ignore_index=True)
    # within one pull, duplicated day × ad rows are the loader's business: keep them all
    latest = stacked.groupby(key, sort=False)["_pull"].transform("max")
    replaced = stacked["_pull"] < latest
    report = ReadReport(file=", ".join(labels), format="ad_stats re-pulls",
                        rows_read=len(stacked), rows_kept=int((~replaced).sum()))
    for rank, i in enumerate(order):
        mine = replaced & (stacked["_pull"] == rank)
        if not mine.any():
            continue
        winners = stacked.loc[mine, key].merge(stacked.loc[~replaced, [*key, "_pull"]], on=key)
        later = ", ".join(labels[order[r]] for r in sorted(set(winners["_pull"])))
        days = pd.to_datetime(stacked.loc[mine, "date"])
        report.set_aside.append(SetAside(
            tuple(int(r) for r in stacked.loc[mine, "_row"]),
            f"{labels[i]}: day × ad rows replaced by the later pull of {later}"))
        report.notes.append(f"{int(mine.sum())} day × ad rows of {labels[i]} "
                            f"({days.min():%Y-%m-%d} to {days.max():%Y-%m-%d}) were re-pulled "
                            f"in {later}: kept the latest values")
    report.check_balance()
    out = stacked.loc[~replaced].drop(columns=["_pull", "_row"])
    return out.sort_values(key, kind="stable").reset_index(drop=True), report


def flag_provisional(
    ads: pd.DataFrame,
    *,
    window_days: int = 7,
    data_end: str | pd.Timestamp | None = None,
    report: ReadReport | None = None,
) -> pd.DataFrame:
    """Add ``provisional``: the day is within ``window_days`` of the export's last day.

    The platform credits a conversion to the day of the click or view for up to the attribution
    window (TikTok's default 7-day click), so the last ``window_days`` days still gain
    conversions after the export; treat their attributed conversions and cost per conversion as
    provisional. ``data_end`` defaults to the export's last date. With ``report`` (the
    loader's read report) the provisional days are added to its notes.
    """
    if "date" not in ads:
        raise DataError("the ad export has no date column", column="date",
                        expected="a daily ad report (By Day)")
    if window_days < 0:
        raise ValueError(f"window_days must be >= 0, got {window_days}")
    dates = pd.to_datetime(ads["date"])
    end = pd.Timestamp(data_end) if data_end is not None else dates.max()
    if end.tzinfo is not None and dates.dt.tz is None:
        end = end.tz_localize(None)
    out = ads.assign(provisional=(end - dates).dt.days < window_days)
    if report is not None:
        note = provisional_note(out, window_days=window_days)
        if note:
            report.notes.append(note)
    return out


def read_repulls(paths: Sequence[str | Path], **options: Any) -> tuple[pd.DataFrame, ReadReport]:
    """Read several Ads Manager exports (pull order = the order given) and merge them."""
    from abtest.io.ads_manager import read_ads_manager

    frames = [read_ads_manager(p, **options) for p in paths]
    return merge_repulls(frames, names=[Path(p).name for p in paths])


def provisional_note(ads: pd.DataFrame, *, window_days: int = 7) -> str:
    """One sentence on the provisional days of an export (empty when there are none)."""
    flagged = ads if "provisional" in ads else flag_provisional(ads, window_days=window_days)
    recent = flagged[flagged["provisional"]]
    if recent.empty:
        return ""
    dates = pd.to_datetime(recent["date"])
    share = ""
    if "conversions" in flagged:
        total = float(flagged["conversions"].sum())
        part = float(recent["conversions"].sum())
        share = (f"; {part:,.0f} of the {total:,.0f} attributed conversions are on those days"
                 if total > 0 else "")
    return (f"Provisional: {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d} are inside the "
            f"{window_days}-day attribution window at the export's end, so their attributed "
            f"conversions may still grow{share}.")
