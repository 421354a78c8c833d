"""World writer: a simulated experiment written in the real TikTok formats that ``abtest.io`` reads.

Turns a :class:`~abtest.sim.experiment.LeadPanel` into an Ads Manager daily custom-report export
(CSV and XLSX, UI labels with a "Total of N results" row), Marketing API ``report/integrated/get``
JSON pages (metric values as strings), Events API 2.0 NDJSON batches, an assignments file and the
ground truth. This module simulates the rows (canonical tables); :mod:`abtest.io.writers` turns
them into the file formats. Everything is vectorised over rows (groupby / numpy) and seeded, so
the same panel always gives the same bytes.

Ad rows aggregate the exposure log per day × arm × segment; one campaign per experiment, one ad
group and one ad per arm × segment, named by ``naming`` (default ``RT_{segment}_{arm}``) so that
the naming-convention parser recovers arm and segment. Engagement counts (video views, 2 s / 6 s,
quartiles, likes, comments, shares, follows for Spark Ads only, profile visits) are seeded
binomial thinnings of impressions with the format-specific rates in :data:`ENGAGEMENT_RATES`;
conversions are the panel's platform-attributed ones (credited to the day of the credited touch)
and real-time conversions are credited to the conversion day.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any, Literal

import numpy as np
import pandas as pd

from abtest.io import writers
from abtest.io.hashing import sha256_hex

__all__ = [
    "ENGAGEMENT_RATES",
    "WorldFiles",
    "ad_table",
    "hash_user",
    "truth_table",
    "write_world",
]

Format = Literal["ads_manager_csv", "ads_manager_xlsx", "marketing_api_json", "events_ndjson"]
ALL_FORMATS: tuple[Format, ...] = (
    "ads_manager_csv", "ads_manager_xlsx", "marketing_api_json", "events_ndjson",
)

#: Conditional engagement rates by ad format; each count is a binomial thinning of its parent
#: (``parent`` names the count it thins). In-feed rates are the ratios of the real Airbyte record in
#: tiktok-formats.md §2.3 (e.g. 2 s views / video views = 493 / 4179); Spark Ads (organic posts)
#: get more social actions and the only follows; Collection ads watch a little less.
ENGAGEMENT_RATES: dict[str, dict[str, float]] = {
    "in_feed": {"video_views": 0.89, "video_watched_2s": 0.118, "video_watched_6s": 0.27,
                "video_views_p25": 0.085, "video_views_p50": 0.46, "video_views_p75": 0.66,
                "video_views_p100": 0.70, "likes": 0.0038, "comments": 0.0002,
                "shares": 0.0002, "follows": 0.0, "profile_visits": 0.0006},
    "spark": {"video_views": 0.92, "video_watched_2s": 0.30, "video_watched_6s": 0.40,
              "video_views_p25": 0.22, "video_views_p50": 0.55, "video_views_p75": 0.70,
              "video_views_p100": 0.75, "likes": 0.012, "comments": 0.0012,
              "shares": 0.0015, "follows": 0.0015, "profile_visits": 0.004},
    "collection": {"video_views": 0.85, "video_watched_2s": 0.10, "video_watched_6s": 0.25,
                   "video_views_p25": 0.07, "video_views_p50": 0.45, "video_views_p75": 0.60,
                   "video_views_p100": 0.65, "likes": 0.002, "comments": 0.0001,
                   "shares": 0.0001, "follows": 0.0, "profile_visits": 0.0003},
}
_PARENT = {"video_views": "impressions", "video_watched_2s": "video_views",
           "video_watched_6s": "video_watched_2s", "video_views_p25": "video_views",
           "video_views_p50": "video_views_p25", "video_views_p75": "video_views_p50",
           "video_views_p100": "video_views_p75", "likes": "impressions",
           "comments": "impressions", "shares": "impressions", "follows": "impressions",
           "profile_visits": "impressions"}
#: landing page views per destination click, extra adds to cart per landing page view.
_LPV_PER_CLICK = 0.82
_ATC_PER_LPV = 0.06

_COUNTS = ("impressions", "reach", "clicks", "clicks_all", "conversions", "real_time_conversions",
           "purchases", "add_to_cart", "landing_page_views", *_PARENT)

#: first-touch signal -> (event name, where it is logged). Web signals go to the Events API file,
#: ad-side signals to the engagement file (TikTok engagement audiences / clean-room log).
_FIRST_TOUCH_EVENTS: dict[str, tuple[str, str]] = {
    "site_visit": ("ViewContent", "web"), "add_to_cart": ("AddToCart", "web"),
    "lead_form": ("LeadForm", "ads"), "video_view_100": ("VideoView100", "ads"),
    "video_100": ("VideoView100", "ads"), "video_view": ("VideoView", "ads"),
    "like_follow": ("Like", "ads"), "like": ("Like", "ads"), "follow": ("Follow", "ads"),
    "profile_visit": ("ProfileVisit", "ads"),
    # a past purchase happened before the study window: nothing to log inside it
    "past_purchase": ("", "none"),
}
_PURCHASE_LEGACY_SHARE = 0.35  # share of purchases still sent as the old name CompletePayment


@dataclass(frozen=True)
class WorldFiles:
    """Paths of everything :func:`write_world` wrote (``None`` when a format was not asked for)."""

    out_dir: Path
    ads_manager_csv: Path | None = None
    ads_manager_xlsx: Path | None = None
    marketing_api_json: Path | None = None
    events_ndjson: Path | None = None
    assignments_csv: Path | None = None
    truth_json: Path | None = None
    truth_csv: Path | None = None
    files: tuple[Path, ...] = field(default_factory=tuple)


def hash_user(lead_id: np.ndarray, *, salt: str = "lead") -> np.ndarray:
    """SHA-256 hex of ``"{salt}-{lead_id:08d}"``: the external id as TikTok wants it (hashed)."""
    ids = pd.Series(np.asarray(lead_id, dtype=np.int64))
    text = salt + "-" + ids.astype(str).str.zfill(8)
    return sha256_hex(text).to_numpy(dtype=object)


def _tiktok_ids(texts: Sequence[str], prefix: str) -> list[str]:
    """Deterministic 19-digit TikTok-style IDs (strings: they do not survive float64)."""
    digests = sha256_hex(pd.Series([f"{prefix}:{t}" for t in texts], dtype="string"))
    return [f"17{int(h[:15], 16) % 10**17:017d}" for h in digests]


def _name(template: str, fields: Mapping[str, str]) -> str:
    names = {f for _, f, _, _ in Formatter().parse(template) if f}
    missing = names - set(fields)
    if missing:
        raise ValueError(f"naming template {template!r} uses unknown field(s) {sorted(missing)}; "
                         f"available: {sorted(fields)}")
    return template.format(**fields)


def _arm_names(panel: Any) -> list[str]:
    return [a.name for a in panel.arms]


def _lead_lookup(panel: Any, lead_ids: np.ndarray, column: str) -> np.ndarray:
    leads = panel.leads
    idx = pd.Index(leads["lead_id"].to_numpy()).get_indexer(lead_ids)
    if np.any(idx < 0):
        raise ValueError("exposures or conversions reference lead_ids not in panel.leads")
    return leads[column].to_numpy()[idx]


def ad_table(
    panel: Any,
    *,
    naming: str = "RT_{segment}_{arm}",
    campaign_naming: str = "RT_{experiment}",
    experiment: str = "test",
    ad_formats: Mapping[str, str] | None = None,
    arm_fields: Mapping[str, Mapping[str, str]] | None = None,
    currency: str = "USD",
    seed: int | None = None,
) -> pd.DataFrame:
    """Daily ad rows (canonical column names, counts as int64, money rounded to cents).

    One row per day × arm × segment with at least one impression. ``ad_formats`` maps an arm to
    ``in_feed`` (default) / ``spark`` / ``collection``; ``arm_fields`` adds naming fields per arm
    (e.g. ``{"offer10": {"offer": "10off", "cta": "shopnow"}}``).
    """
    ad_formats = dict(ad_formats or {})
    arm_fields = dict(arm_fields or {})
    exp = panel.exposures
    lead_ids = exp["lead_id"].to_numpy()
    frame = pd.DataFrame({
        "day": exp["day"].to_numpy(dtype=np.int64),
        "arm": _lead_lookup(panel, lead_ids, "arm").astype(str),
        "segment": _lead_lookup(panel, lead_ids, "segment").astype(str),
        "impressions": exp["impressions"].to_numpy(dtype=np.int64),
        "clicks": exp["clicks"].to_numpy(dtype=np.int64),
        "cost": exp["cost"].to_numpy(dtype=float),
    })
    frame = frame[frame["impressions"].to_numpy() > 0]
    keys = ["day", "arm", "segment"]
    rows = frame.groupby(keys, sort=True).agg(
        impressions=("impressions", "sum"), clicks=("clicks", "sum"), cost=("cost", "sum"),
        reach=("impressions", "size"),
    ).reset_index()

    conv = panel.conversions
    conv = conv[conv["attributed"].fillna(False).to_numpy(dtype=bool)]
    c_ids = conv["lead_id"].to_numpy()
    att = pd.DataFrame({
        "day": conv["attributed_day"].to_numpy(dtype=np.int64),
        "real_day": conv["day"].to_numpy(dtype=np.int64),
        "arm": _lead_lookup(panel, c_ids, "arm").astype(str),
        "segment": _lead_lookup(panel, c_ids, "segment").astype(str),
        "value": conv["value"].to_numpy(dtype=float),
    })
    by_touch = att.groupby(keys, sort=True).agg(conversions=("value", "size"),
                                                 conversion_value=("value", "sum")).reset_index()
    by_real = (att.drop(columns="day").rename(columns={"real_day": "day"})
               .groupby(keys, sort=True).size().rename("real_time_conversions").reset_index())
    rows = rows.merge(by_touch, on=keys, how="left").merge(by_real, on=keys, how="left")
    # A conversion credited to a day without an ad row cannot happen (the touch was an impression);
    # a real-time conversion on a day the ad did not deliver would be lost, so count them.
    lost = len(att) - int(rows["conversions"].fillna(0).sum())
    if lost:
        raise ValueError(f"{lost} attributed conversions credited to days without impressions")
    rows["conversions"] = rows["conversions"].fillna(0).astype(np.int64)
    rows["real_time_conversions"] = rows["real_time_conversions"].fillna(0).astype(np.int64)
    rows["conversion_value"] = rows["conversion_value"].fillna(0.0).round(2)
    rows["cost"] = rows["cost"].round(2)
    rows["purchases"] = rows["conversions"]

    rng = np.random.default_rng([0 if seed is None else int(seed), 0xAD])
    unknown = set(ad_formats.values()) - set(ENGAGEMENT_RATES)
    if unknown:
        raise ValueError(f"unknown ad format(s) {sorted(unknown)}; use {sorted(ENGAGEMENT_RATES)}")
    fmt = rows["arm"].map({a: ad_formats.get(a, "in_feed") for a in rows["arm"].unique()})
    for col, parent in _PARENT.items():
        p = fmt.map({f: r[col] for f, r in ENGAGEMENT_RATES.items()}).to_numpy(dtype=float)
        rows[col] = rng.binomial(rows[parent].to_numpy(dtype=np.int64), p).astype(np.int64)
    rows["landing_page_views"] = rng.binomial(rows["clicks"].to_numpy(), _LPV_PER_CLICK)
    rows["add_to_cart"] = rows["purchases"] + rng.binomial(rows["landing_page_views"], _ATC_PER_LPV)
    rows["clicks_all"] = rows[["clicks", "likes", "comments", "shares", "follows",
                               "profile_visits"]].sum(axis=1)

    # names and IDs: one table of the (arm, segment) pairs, then a merge.
    pairs = rows[["arm", "segment"]].drop_duplicates().reset_index(drop=True)
    camps, groups = [], []
    for arm, seg in zip(pairs["arm"], pairs["segment"], strict=True):
        fields = {"arm": arm, "segment": seg, "experiment": experiment,
                  "format": ad_formats.get(arm, "in_feed"), **arm_fields.get(arm, {})}
        camps.append(_name(campaign_naming, fields))
        groups.append(_name(naming, fields))
    names = list(zip(camps, _tiktok_ids(camps, "campaign"), groups,
                     _tiktok_ids(groups, "adgroup"), groups, _tiktok_ids(groups, "ad"),
                     strict=True))
    pairs[["campaign", "campaign_id", "ad_group", "ad_group_id", "ad", "ad_id"]] = names
    if pairs["ad"].duplicated().any():
        raise ValueError(f"naming template {naming!r} gives the same ad name to several arms")
    rows = rows.merge(pairs, on=["arm", "segment"], how="left")
    start = pd.Timestamp(panel.start_date)
    rows["date"] = start + pd.to_timedelta(rows["day"], unit="D")
    rows["currency"] = currency
    rows = rows.sort_values(["date", "campaign", "ad_group"], kind="stable").reset_index(drop=True)
    cols = ["date", "campaign_id", "campaign", "ad_group_id", "ad_group", "ad_id", "ad",
            "currency", "arm", "segment", "cost", *_COUNTS, "conversion_value"]
    return rows[cols]


def _event_times(panel: Any, day: np.ndarray, seconds: np.ndarray, tz: str) -> np.ndarray:
    """Unix seconds (UTC) of a simulator day + seconds after local midnight in the account zone."""
    start = pd.Timestamp(panel.start_date).tz_localize(None).normalize()
    naive = pd.DatetimeIndex(start + pd.to_timedelta(np.asarray(day, dtype=np.int64), unit="D")
                             + pd.to_timedelta(np.asarray(seconds, dtype=np.int64), unit="s"))
    local = naive.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    utc = local.tz_convert("UTC").tz_localize(None)
    return np.asarray((utc - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1), dtype=np.int64)


def _events_frames(panel: Any, *, currency: str, tz: str, seed: int) -> tuple[pd.DataFrame, ...]:
    """Event rows (web and ad-side), vectorised, with deterministic times and ids."""
    rng = np.random.default_rng([seed, 0xE7])
    leads = panel.leads
    lead_id = leads["lead_id"].to_numpy(dtype=np.int64)
    user = hash_user(lead_id)
    entry_day = leads["entry_day"].to_numpy(dtype=np.int64)
    entry_sec = rng.integers(6 * 3600, 23 * 3600, size=lead_id.size)
    touch = leads["first_touch"].astype(str).to_numpy() if "first_touch" in leads else \
        np.full(lead_id.size, "site_visit")
    touch_s = pd.Series(touch)
    ev_name = touch_s.map({k: v[0] for k, v in _FIRST_TOUCH_EVENTS.items()}).fillna("ViewContent")
    ev_src = touch_s.map({k: v[1] for k, v in _FIRST_TOUCH_EVENTS.items()}).fillna("web")
    entry = pd.DataFrame({"lead_id": lead_id, "user": user, "day": entry_day, "sec": entry_sec,
                          "event": ev_name.to_numpy(), "source": ev_src.to_numpy(), "value": np.nan, "kind": "entry"})

    conv = panel.conversions
    c_lead = conv["lead_id"].to_numpy(dtype=np.int64)
    c_user = user[pd.Index(lead_id).get_indexer(c_lead)]
    c_day = conv["day"].to_numpy(dtype=np.int64)
    c_sec = rng.integers(3 * 3600, 24 * 3600 - 1, size=c_lead.size)
    same_day_entry = c_day == entry_day[pd.Index(lead_id).get_indexer(c_lead)]
    c_entry_sec = entry_sec[pd.Index(lead_id).get_indexer(c_lead)]
    c_sec = np.where(same_day_entry, np.maximum(c_sec, c_entry_sec + 600), c_sec)
    c_sec = np.minimum(c_sec, 24 * 3600 - 1)
    legacy = rng.random(c_lead.size) < _PURCHASE_LEGACY_SHARE
    buy = pd.DataFrame({"lead_id": c_lead, "user": c_user, "day": c_day, "sec": c_sec,
                        "event": np.where(legacy, "CompletePayment", "Purchase"),
                        "source": "web", "value": conv["value"].to_numpy(dtype=float).round(2),
                        "kind": "purchase"})
    click = (conv["attribution"].astype("string").fillna("") == "click").to_numpy(dtype=bool)
    buy["ttclid"] = np.where(click, "E.C.P." + pd.Series(c_user).str.slice(0, 24), "")
    # the funnel before a purchase: a content view and (mostly) an add to cart the same day
    view = buy[["lead_id", "user", "day"]].assign(
        sec=np.maximum(c_sec - rng.integers(300, 1800, c_lead.size), 0), event="ViewContent",
        source="web", value=np.nan, kind="funnel")
    atc_mask = rng.random(c_lead.size) < 0.8
    atc = buy.loc[atc_mask, ["lead_id", "user", "day"]].assign(
        sec=np.maximum(c_sec[atc_mask] - rng.integers(60, 300, int(atc_mask.sum())), 0),
        event="AddToCart", source="web", value=np.nan, kind="funnel")
    # browsing noise: some leads look again later without buying
    horizon = int(panel.horizon_days)
    browse_mask = rng.random(lead_id.size) < 0.08
    b_day = np.minimum(entry_day[browse_mask] + rng.integers(0, 28, int(browse_mask.sum())),
                       horizon - 1)
    browse = pd.DataFrame({"lead_id": lead_id[browse_mask], "user": user[browse_mask],
                           "day": b_day, "sec": rng.integers(0, 24 * 3600, b_day.size),
                           "event": np.where(rng.random(b_day.size) < 0.25, "AddToCart",
                                             "ViewContent"),
                           "source": "web", "value": np.nan, "kind": "browse"})
    events = pd.concat([entry, view, atc, buy, browse], ignore_index=True)
    events["ttclid"] = events["ttclid"].fillna("") if "ttclid" in events else ""
    events["time"] = _event_times(panel, events["day"].to_numpy(), events["sec"].to_numpy(), tz)
    events = events.sort_values(["time", "lead_id", "kind", "event"], kind="stable")
    events = events.reset_index(drop=True)
    events["event_id"] = "ev_" + pd.Series(np.arange(len(events))).astype(str).str.zfill(7)
    return events[events["source"] == "web"], events[events["source"] == "ads"], entry


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else str(f)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, pd.DataFrame):
        return [_jsonable(r) for r in obj.to_dict(orient="records")]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if obj is pd.NA:
        return None
    return str(obj)


def truth_table(panel: Any, *, control: str | None = None) -> pd.DataFrame:
    """Per arm × segment (and ``all``): leads, realised conversions, true rates and true effects.

    The true rate is the panel's expected conversion rate at the horizon (``panel.truth``) when it
    has one, weighted by leads for ``all``; effects are differences to the control arm.
    """
    leads = panel.leads
    names = _arm_names(panel)
    control = control or ("holdout" if "holdout" in names else names[0])
    realised = leads.groupby(["arm", "segment"], sort=True).agg(
        leads=("lead_id", "size"), converted=("converted_true", "sum")).reset_index()
    truth = panel.truth
    rate_col = next((c for c in ("true_rate", "expected_rate", "p_true", "true_conversion_rate",
                                 "expected_conversion_rate") if c in truth.columns), None)
    if rate_col is None:
        raise ValueError(f"panel.truth has no expected-rate column: {list(truth.columns)}")
    realised = realised.merge(truth[["arm", "segment", rate_col]], on=["arm", "segment"],
                              how="left").rename(columns={rate_col: "true_rate"})
    allseg = realised.assign(w=realised["true_rate"] * realised["leads"]).groupby(
        "arm", sort=True).agg(leads=("leads", "sum"), converted=("converted", "sum"),
                              w=("w", "sum")).reset_index()
    allseg["true_rate"] = allseg["w"] / allseg["leads"]
    allseg["segment"] = "all"
    table = pd.concat([realised, allseg.drop(columns="w")], ignore_index=True)
    ctrl = table[table["arm"] == control].set_index("segment")["true_rate"]
    table["control"] = control
    table["true_diff"] = table["true_rate"] - table["segment"].map(ctrl).to_numpy(dtype=float)
    table["true_rel_lift"] = table["true_diff"] / table["segment"].map(ctrl).to_numpy(dtype=float)
    table["observed_rate"] = table["converted"] / table["leads"]
    table["arm"] = pd.Categorical(table["arm"], categories=names)
    table = table.sort_values(["segment", "arm"]).reset_index(drop=True)
    table["arm"] = table["arm"].astype(str)
    return table[["arm", "segment", "control", "leads", "converted", "observed_rate", "true_rate",
                  "true_diff", "true_rel_lift"]]


def write_world(
    panel: Any,
    out_dir: str | Path,
    *,
    formats: Sequence[Format] = ALL_FORMATS,
    naming: str = "RT_{segment}_{arm}",
    campaign_naming: str = "RT_{experiment}",
    experiment: str = "test",
    currency: str = "USD",
    account_timezone: str = "UTC",
    ad_formats: Mapping[str, str] | None = None,
    arm_fields: Mapping[str, Mapping[str, str]] | None = None,
    control: str | None = None,
    api_page_size: int = 1000,
    pixel_code: str = "CSIMPIXEL0000000000AB",
    engagement_set_id: str = "OSIMENGAGEMENT000001",
) -> WorldFiles:
    """Write a simulated experiment as real-format files plus assignments and ground truth.

    Files (in ``out_dir``): ``ads_manager.csv`` / ``ads_manager.xlsx`` (UI labels, ``By Day``,
    trailing "Total of N results"), ``marketing_api.json`` (a list of report pages, metric values
    as strings, ``"-"`` for n/a), ``events.ndjson`` (Events API 2.0 bodies, ≤ 1000 events each;
    ``Purchase`` and legacy ``CompletePayment`` mixed, ``ViewContent`` / ``AddToCart`` from the
    Pixel, then ad-side first-touch signals ``VideoView100``, ``Like``, ``ProfileVisit``,
    ``LeadForm`` as an ``offline`` event set),
    ``assignments.csv`` (hashed user id → arm, segment, entry time), ``truth.csv``
    (:func:`truth_table`) and ``truth.json`` (arms, parameters, seed, naming, truth).
    """
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; choose from {ALL_FORMATS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = int(panel.seed) if panel.seed is not None else 0
    written: dict[str, Path] = {}
    rows = ad_table(panel, naming=naming, campaign_naming=campaign_naming, experiment=experiment,
                    ad_formats=ad_formats, arm_fields=arm_fields, currency=currency, seed=seed)
    if "ads_manager_csv" in formats or "ads_manager_xlsx" in formats:
        ui = writers.ads_manager_frame(rows)
        if "ads_manager_csv" in formats:
            written["ads_manager_csv"] = out / "ads_manager.csv"
            writers.write_ads_manager_csv(ui, written["ads_manager_csv"])
        if "ads_manager_xlsx" in formats:
            written["ads_manager_xlsx"] = out / "ads_manager.xlsx"
            writers.write_ads_manager_xlsx(ui, written["ads_manager_xlsx"])
    if "marketing_api_json" in formats:
        written["marketing_api_json"] = out / "marketing_api.json"
        text = json.dumps(writers.marketing_api_pages(rows, page_size=api_page_size), ensure_ascii=False,
                          separators=(",", ":"))
        written["marketing_api_json"].write_text(text + "\n", encoding="utf-8")
    web, ads, entry = _events_frames(panel, currency=currency, tz=account_timezone, seed=seed)
    if "events_ndjson" in formats:
        written["events_ndjson"] = out / "events.ndjson"
        # web pixel batches first, then the ad-side engagement log (an offline event set)
        written["events_ndjson"].write_text(
            writers.events_ndjson(web, currency=currency, source="web", source_id=pixel_code)
            + writers.events_ndjson(ads, currency=currency, source="offline", source_id=engagement_set_id),
            encoding="utf-8")

    # assignments: hashed user -> arm, segment, entry time (UTC ISO 8601)
    leads = panel.leads
    lookup = pd.Index(entry["lead_id"].to_numpy())
    idx = lookup.get_indexer(leads["lead_id"].to_numpy())
    entry_t = _event_times(panel, entry["day"].to_numpy()[idx], entry["sec"].to_numpy()[idx],
                           account_timezone)
    assign = pd.DataFrame({
        "user_id": entry["user"].to_numpy()[idx],
        "arm": leads["arm"].astype(str).to_numpy(),
        "segment": leads["segment"].astype(str).to_numpy(),
        "entry_time": pd.to_datetime(entry_t, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    written["assignments_csv"] = out / "assignments.csv"
    assign.to_csv(written["assignments_csv"], index=False, lineterminator="\n")

    truth = truth_table(panel, control=control)
    written["truth_csv"] = out / "truth.csv"
    truth.to_csv(written["truth_csv"], index=False, lineterminator="\n", float_format="%.10g")
    meta = {
        "seed": panel.seed, "start_date": str(pd.Timestamp(panel.start_date).date()),
        "horizon_days": int(panel.horizon_days), "currency": currency,
        "account_timezone": account_timezone, "experiment": experiment, "naming": naming,
        "campaign_naming": campaign_naming, "control": truth["control"].iloc[0],
        "ad_formats": dict(ad_formats or {}), "arm_fields": _jsonable(arm_fields or {}),
        "user_id": "sha256 of 'lead-{lead_id:08d}' (external_id)",
        "arms": _jsonable(list(panel.arms)), "params": _jsonable(panel.params),
        "truth": _jsonable(truth), "panel_truth": _jsonable(panel.truth),
    }
    written["truth_json"] = out / "truth.json"
    written["truth_json"].write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n",
                                     encoding="utf-8")
    return WorldFiles(out_dir=out, files=tuple(written.values()), **written)
