"""World writer: a simulated experiment written in the real TikTok formats that ``abtest.io`` reads.

Turns a :class:`~abtest.sim.experiment.LeadPanel` into an Ads Manager daily custom-report export
(CSV and XLSX, UI labels with a "Total of N results" row), Marketing API ``report/integrated/get``
JSON pages (metric values as strings), Events API 2.0 NDJSON batches, an assignments file and the
ground truth (formats: ``shared/reference/tiktok-formats.md`` §1.2, §2.3, §5). Everything is
vectorised over rows (groupby / numpy) and seeded, so the same panel always gives the same bytes.

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
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any, Literal

import numpy as np
import pandas as pd

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

#: canonical column -> (Ads Manager UI label, Marketing API metric name)
_LABELS: dict[str, tuple[str, str]] = {
    "cost": ("Cost", "spend"),
    "impressions": ("Impressions", "impressions"),
    "reach": ("Reach", "reach"),
    "frequency": ("Frequency", "frequency"),
    "clicks": ("Clicks (destination)", "clicks"),
    "ctr": ("CTR (destination)", "ctr"),
    "cpc": ("CPC (destination)", "cpc"),
    "cpm": ("CPM", "cpm"),
    "clicks_all": ("Clicks (all)", "engagements"),
    "conversions": ("Conversions", "conversion"),
    "cost_per_conversion": ("Cost per conversion", "cost_per_conversion"),
    "cvr": ("Conversion rate (CVR)", "conversion_rate_v2"),
    "real_time_conversions": ("Real-time conversions", "real_time_conversion"),
    "purchases": ("Purchases (website)", "complete_payment"),
    "conversion_value": ("Purchase value (website)", "total_complete_payment_rate"),
    "add_to_cart": ("Adds to cart (website)", "web_event_add_to_cart"),
    "landing_page_views": ("Landing page views (website)", "total_landing_page_view"),
    "video_views": ("Video views", "video_play_actions"),
    "video_watched_2s": ("2-second video views", "video_watched_2s"),
    "video_watched_6s": ("6-second video views", "video_watched_6s"),
    "video_views_p25": ("Video views at 25%", "video_views_p25"),
    "video_views_p50": ("Video views at 50%", "video_views_p50"),
    "video_views_p75": ("Video views at 75%", "video_views_p75"),
    "video_views_p100": ("Video views at 100%", "video_views_p100"),
    "likes": ("Paid likes", "likes"),
    "comments": ("Paid comments", "comments"),
    "shares": ("Paid shares", "shares"),
    "follows": ("Paid follows", "follows"),
    "profile_visits": ("Paid profile visits", "profile_visits"),
}
_MONEY = ("cost", "conversion_value", "cpc", "cpm", "cost_per_conversion")
_RATES = ("ctr", "cvr", "frequency")

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
_BATCH = 1000  # Events API 2.0 limit per request


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
    ids = np.asarray(lead_id, dtype=np.int64)
    return np.array([hashlib.sha256(f"{salt}-{i:08d}".encode()).hexdigest() for i in ids.tolist()],
                    dtype=object)


def _tiktok_id(text: str, prefix: str) -> str:
    """Deterministic 19-digit TikTok-style ID (string: it does not survive float64)."""
    digits = int(hashlib.sha256(f"{prefix}:{text}".encode()).hexdigest()[:15], 16) % 10**17
    return f"17{digits:017d}"


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
    names = []
    for arm, seg in zip(pairs["arm"], pairs["segment"], strict=True):
        fields = {"arm": arm, "segment": seg, "experiment": experiment,
                  "format": ad_formats.get(arm, "in_feed"), **arm_fields.get(arm, {})}
        camp = _name(campaign_naming, fields)
        group = _name(naming, fields)
        names.append((camp, _tiktok_id(camp, "campaign"), group, _tiktok_id(group, "adgroup"),
                      group, _tiktok_id(group, "ad")))
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


def _with_rates(rows: pd.DataFrame) -> pd.DataFrame:
    """Derived rate columns as exports show them (NaN where the denominator is 0)."""
    out = rows.copy()
    imp = out["impressions"].to_numpy(dtype=float)
    clk = out["clicks"].to_numpy(dtype=float)
    conv = out["conversions"].to_numpy(dtype=float)
    cost = out["cost"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ctr"] = np.where(imp > 0, 100 * clk / imp, np.nan)
        out["cpc"] = np.where(clk > 0, cost / clk, np.nan)
        out["cpm"] = np.where(imp > 0, 1000 * cost / imp, np.nan)
        out["frequency"] = np.where(out["reach"] > 0, imp / out["reach"].to_numpy(float), np.nan)
        out["cost_per_conversion"] = np.where(conv > 0, cost / conv, np.nan)
        out["cvr"] = np.where(imp > 0, 100 * conv / imp, np.nan)
    return out


_METRIC_ORDER = ["cost", "impressions", "reach", "frequency", "clicks", "ctr", "cpc", "cpm",
                 "clicks_all", "conversions", "cost_per_conversion", "cvr",
                 "real_time_conversions", "purchases", "conversion_value", "add_to_cart",
                 "landing_page_views", "video_views", "video_watched_2s", "video_watched_6s",
                 "video_views_p25", "video_views_p50", "video_views_p75", "video_views_p100",
                 "likes", "comments", "shares", "follows", "profile_visits"]


def _fmt(values: pd.Series, col: str, *, api: bool) -> pd.Series:
    """Text of one metric column: money 2 dp (API 3 dp), rates 2 dp, counts integers, '-' for n/a."""
    arr = values.to_numpy(dtype=float)
    if col in _MONEY:
        decimals = 3 if api else 2
    elif col in _RATES:
        decimals = 2
    else:
        decimals = 0
    text = np.char.mod(f"%.{decimals}f", np.nan_to_num(arr))
    return pd.Series(np.where(np.isnan(arr), "-", text), index=values.index)


def _ads_manager_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The UI export as text cells, plus TikTok's trailing ``Total of N results`` row."""
    data = _with_rates(rows)
    out = pd.DataFrame({
        "Campaign name": data["campaign"], "Campaign ID": data["campaign_id"],
        "Ad group name": data["ad_group"], "Ad group ID": data["ad_group_id"],
        "Ad name": data["ad"], "Ad ID": data["ad_id"],
        "By Day": data["date"].dt.strftime("%Y-%m-%d"), "Currency": data["currency"],
    })
    for col in _METRIC_ORDER:
        out[_LABELS[col][0]] = _fmt(data[col], col, api=False)
    tot = {c: data[c].sum() for c in _METRIC_ORDER if c in rows.columns and c != "reach"}
    tot_row = pd.DataFrame([{**{c: np.nan for c in _METRIC_ORDER}, **tot}])
    tot_row = _with_rates(tot_row.assign(reach=np.nan))
    total = {k: "" for k in out.columns}
    total["Campaign name"] = f"Total of {len(rows)} results"
    for col in _METRIC_ORDER:
        val = tot_row[col] if col not in ("reach", "frequency") else pd.Series([np.nan])
        total[_LABELS[col][0]] = _fmt(val, col, api=False).iloc[0]
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # UTF-8 with BOM and CRLF line ends, like the Ads Manager download.
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """XLSX with numbers as numbers (IDs as text), normalised so reruns are byte-identical."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # streaming writer: several times faster for plain tables
    ws = wb.create_sheet("Custom report")
    ws.append(list(frame.columns))
    text_cols = {"Campaign name", "Campaign ID", "Ad group name", "Ad group ID", "Ad name", "Ad ID",
                 "By Day", "Currency"}
    cells = []
    for col in frame.columns:
        series = frame[col]
        if col in text_cols:
            cells.append(series.astype(object).tolist())
        else:
            num = pd.to_numeric(series, errors="coerce")
            cells.append([v if pd.isna(n) else (int(n) if float(n).is_integer() else float(n))
                          for v, n in zip(series.tolist(), num.tolist(), strict=True)])
    for row in zip(*cells, strict=True):
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    _normalise_zip(buf.getvalue(), path)


def _normalise_zip(data: bytes, path: Path) -> None:
    """Rewrite an OOXML zip with fixed entry times and document dates (deterministic bytes)."""
    fixed = "2026-01-01T00:00:00Z"
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re

                payload = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                 rb"\g<1>" + fixed.encode() + rb"\g<2>", payload)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, payload)
    path.write_bytes(out.getvalue())


def _api_pages(rows: pd.DataFrame, *, page_size: int) -> list[dict]:
    """Marketing API report/integrated/get responses (AUCTION_AD × stat_time_day), paged."""
    data = _with_rates(rows)
    metrics = pd.DataFrame({
        "campaign_name": data["campaign"], "campaign_id": data["campaign_id"],
        "adgroup_name": data["ad_group"], "adgroup_id": data["ad_group_id"],
        "ad_name": data["ad"], "currency": data["currency"],
    })
    for col in _METRIC_ORDER:
        metrics[_LABELS[col][1]] = _fmt(data[col], col, api=True)
    metrics["conversion_rate"] = _fmt(
        pd.Series(np.where(data["clicks"] > 0, 100 * data["conversions"] /
                           data["clicks"].where(data["clicks"] > 0, 1), np.nan)), "ctr", api=True)
    metrics["secondary_goal_result"] = "-"
    records = metrics.to_dict(orient="records")
    dims = [{"ad_id": a, "stat_time_day": d} for a, d in zip(
        data["ad_id"].tolist(), data["date"].dt.strftime("%Y-%m-%d 00:00:00").tolist(),
        strict=True)]
    total = len(records)
    n_pages = max(1, -(-total // page_size))
    pages = []
    for p in range(n_pages):
        chunk = slice(p * page_size, (p + 1) * page_size)
        pages.append({
            "code": 0, "message": "OK",
            "request_id": hashlib.sha256(f"page{p}:{total}".encode()).hexdigest()[:30].upper(),
            "data": {
                "page_info": {"page": p + 1, "page_size": page_size, "total_number": total,
                              "total_page": n_pages},
                "list": [{"dimensions": d, "metrics": m}
                         for d, m in zip(dims[chunk], records[chunk], strict=True)],
            },
        })
    return pages


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


def _ndjson(events: pd.DataFrame, *, currency: str, source: str, source_id: str) -> str:
    """Events API 2.0 request bodies, one per line, <= 1000 events each (strings built by column)."""
    if events.empty:
        return ""
    ev = events.reset_index(drop=True)
    has_value = ~np.isnan(ev["value"].to_numpy(dtype=float))
    props = np.where(
        has_value,
        '{"currency":"' + currency + '","value":'
        + pd.Series(np.char.mod("%.2f", np.nan_to_num(ev["value"].to_numpy(float)))) + ',"order_id":"'
        + ev["event_id"].str.replace("ev_", "order_") + '","content_type":"product"}',
        "",
    )
    user = ('{"external_id":"' + ev["user"].astype(str) + '"'
            + np.where(ev["ttclid"] != "", ',"ttclid":"' + ev["ttclid"].astype(str) + '"', "")
            + "}")
    page = ',"page":{"url":"https://shop.example.com/"}' if source == "web" else ""
    props = np.where(props == "", "", ',"properties":' + pd.Series(props))
    body = ('{"event":"' + ev["event"] + '","event_time":' + ev["time"].astype(str)
            + ',"event_id":"' + ev["event_id"] + '","user":' + user + page + props + "}")
    lines = []
    head = '{"event_source":"' + source + '","event_source_id":"' + source_id + '","data":['
    values = body.tolist()
    for i in range(0, len(values), _BATCH):
        lines.append(head + ",".join(values[i:i + _BATCH]) + "]}")
    return "\n".join(lines) + "\n"


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
        ui = _ads_manager_frame(rows)
        if "ads_manager_csv" in formats:
            written["ads_manager_csv"] = out / "ads_manager.csv"
            _write_csv(ui, written["ads_manager_csv"])
        if "ads_manager_xlsx" in formats:
            written["ads_manager_xlsx"] = out / "ads_manager.xlsx"
            _write_xlsx(ui, written["ads_manager_xlsx"])
    if "marketing_api_json" in formats:
        written["marketing_api_json"] = out / "marketing_api.json"
        text = json.dumps(_api_pages(rows, page_size=api_page_size), ensure_ascii=False,
                          separators=(",", ":"))
        written["marketing_api_json"].write_text(text + "\n", encoding="utf-8")
    web, ads, entry = _events_frames(panel, currency=currency, tz=account_timezone, seed=seed)
    if "events_ndjson" in formats:
        written["events_ndjson"] = out / "events.ndjson"
        # web pixel batches first, then the ad-side engagement log (an offline event set)
        written["events_ndjson"].write_text(
            _ndjson(web, currency=currency, source="web", source_id=pixel_code)
            + _ndjson(ads, currency=currency, source="offline", source_id=engagement_set_id),
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
