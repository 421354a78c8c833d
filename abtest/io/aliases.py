"""The one header alias table: every spelling of an ad-stats column we know -> canonical name.

TikTok labels the same metric differently in the Ads Manager UI export (``Clicks (destination)``),
older exports (``Clicks (Destination)``, ``Clicks``), the Business API (``clicks``), and the
connectors (Fivetran ``video_views_p_25``, Singer/Airbyte flattened ``metrics.spend``). Headers are
matched after :func:`header_key` (case-folded, all punctuation and spaces removed), so the table
lists each spelling once in any case. Rate columns are recognised too, so that the loaders can
drop them *by name* (rates are recomputed from counts, never stored or summed) and say so.

Source: ``shared/reference/tiktok-formats.md`` section 1.2 (TikTok's own UI label <-> API field table)
and section 2.3 (connector variants).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "ALIASES",
    "CURRENCY_IN_HEADER",
    "EVENT_FIELDS",
    "RATES",
    "RATE_COLUMNS",
    "api_name",
    "canonical_name",
    "header_key",
    "resolve_headers",
    "ui_label",
]

_PREFIXES = ("metrics.", "dimensions.", "metrics_", "dimensions_")

#: canonical name -> spellings (any case / punctuation): the Marketing API name first, the Ads
#: Manager UI label second (what :mod:`abtest.io.writers` writes), then other spellings readers
#: accept. Canonical names are those of ``schema.AD_STATS`` plus the id-dimension helpers.
ALIASES: dict[str, tuple[str, ...]] = {
    # dimensions and attributes
    "date": ("stat_time_day", "By Day", "date", "Day", "Date (By Day)", "Time", "Report date",
             "date_start", "stat_date", "일별", "Ngày"),
    "campaign_id": ("campaign_id", "Campaign ID"),
    "campaign": ("campaign_name", "Campaign name", "Campaign"),
    "ad_group_id": ("adgroup_id", "Ad group ID", "ad_group_id", "Adgroup ID"),
    "ad_group": ("adgroup_name", "Ad group name", "ad_group_name", "Ad group", "Adgroup name"),
    "ad_id": ("ad_id", "Ad ID"),
    "ad": ("ad_name", "Ad name", "Ad"),
    "currency": ("currency", "Currency", "Account currency"),
    "advertiser_id": ("advertiser_id", "Advertiser ID", "Account ID"),
    # counts
    "impressions": ("impressions", "Impressions", "Impression", "노출수"),
    "reach": ("reach", "Reach"),
    "clicks": ("clicks", "Clicks (destination)", "Clicks (Destination)", "Clicks",
               "Destination clicks", "클릭수(목적지)"),
    "clicks_all": ("engagements", "Clicks (all)", "Clicks (All)", "clicks_all"),
    "conversions": ("conversion", "Conversions", "conversions", "Conversion"),
    "cost": ("spend", "Cost", "Total cost", "Spend", "Amount spent", "비용"),
    "real_time_conversions": ("real_time_conversion", "Real-time conversions",
                              "Conversions by conversion time", "real_time_conversions"),
    "results": ("result", "Results", "results"),
    "purchases": ("complete_payment", "Purchases (website)", "Payments completed (website)",
                  "Complete payment", "Purchases", "purchases"),
    "add_to_cart": ("web_event_add_to_cart", "Adds to cart (website)", "Add to cart",
                    "add_to_cart"),
    "checkouts": ("initiate_checkout", "Checkouts initiated (website)", "Initiate checkout",
                  "checkouts"),
    "landing_page_views": ("total_landing_page_view", "Landing page views (website)",
                           "Landing page views", "landing_page_views"),
    "form_submissions": ("form", "Form submissions (website)", "Form submissions",
                         "form_submissions"),
    "video_views": ("video_play_actions", "Video views", "Video plays", "video_views"),
    "video_watched_2s": ("video_watched_2s", "2-second video views", "video_watched_2_s",
                         "2-second views"),
    "video_watched_6s": ("video_watched_6s", "6-second video views", "video_watched_6_s",
                         "6-second views"),
    "video_views_p25": ("video_views_p25", "Video views at 25%", "video_views_p_25"),
    "video_views_p50": ("video_views_p50", "Video views at 50%", "video_views_p_50"),
    "video_views_p75": ("video_views_p75", "Video views at 75%", "video_views_p_75"),
    "video_views_p100": ("video_views_p100", "Video views at 100%", "video_views_p_100",
                         "Video completions"),
    "likes": ("likes", "Paid likes", "Likes"),
    "comments": ("comments", "Paid comments", "Comments"),
    "shares": ("shares", "Paid shares", "Shares"),
    "follows": ("follows", "Paid follows", "Paid Followers", "Follows", "Followers"),
    "profile_visits": ("profile_visits", "Paid profile visits", "Profile visits"),
    # money that is a value, not a rate (despite the API name)
    "conversion_value": ("total_complete_payment_rate", "Purchase value (website)",
                         "Total purchase value (website)", "Complete payment value",
                         "conversion_value"),
}

#: Rates and per-unit costs, same layout (API name, UI label, others): recomputable from counts,
#: so readers drop them by name (and note it); writers add them as exports do.
RATES: dict[str, tuple[str, ...]] = {
    "ctr": ("ctr", "CTR (destination)", "CTR", "CTR (all)", "engagement_rate"),
    "cpc": ("cpc", "CPC (destination)", "CPC"),
    "cpm": ("cpm", "CPM", "Cost per 1,000 impressions"),
    "frequency": ("frequency", "Frequency"),
    "cost_per_reach": ("cost_per_1000_reached", "Cost per 1,000 people reached"),
    "cost_per_conversion": ("cost_per_conversion", "Cost per conversion", "CPA"),
    "cvr": ("conversion_rate_v2", "Conversion rate (CVR)", "CVR", "CVR (%)"),
    "cvr_clicks": ("conversion_rate", "Conversion rate (CVR, clicks)"),
    "cost_per_result": ("cost_per_result", "Cost per result"),
    "result_rate": ("result_rate", "Result rate"),
    "cost_per_purchase": ("cost_per_complete_payment", "Cost per purchase (website)"),
    "roas": ("complete_payment_roas", "Purchase ROAS (website)", "ROAS"),
    "profile_visit_rate": ("profile_visits_rate", "Paid profile visit rate"),
    "average_play": ("average_video_play", "Average play time per video view"),
    "average_play_per_user": ("average_video_play_per_user", "Average play time per user"),
    "cost_per_real_time_conversion": ("cost_per_real_time_conversion",
                                      "Cost per real-time conversion"),
    "real_time_cvr": ("real_time_conversion_rate", "Real-time conversion rate"),
    "cost_per_secondary_goal_result": ("cost_per_secondary_goal_result",),
    "secondary_goal_result_rate": ("secondary_goal_result_rate",),
    "cost_per_add_to_cart": ("cost_per_web_event_add_to_cart", "Cost per add to cart (website)"),
}
RATE_COLUMNS: tuple[str, ...] = tuple(s for spells in RATES.values() for s in spells)

#: Events files (JSON paths flattened with ".", CSV headers): canonical field -> candidate
#: source columns, first wins. Matched after lower-casing and spaces/dashes -> "_".
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "event_raw": ("event", "event_name", "event_type"),
    "time_raw": ("event_time", "timestamp", "time", "event_timestamp", "datetime"),
    "event_id": ("event_id",),
    "external_id": ("user.external_id", "context.user.external_id", "external_id", "user_id",
                    "userid"),
    "email": ("user.email", "context.user.email", "email", "email_address", "e_mail"),
    "phone": ("user.phone", "user.phone_number", "context.user.phone_number",
              "context.user.phone", "phone", "phone_number"),
    "ttclid": ("user.ttclid", "context.ad.callback", "ttclid", "callback"),
    "value": ("properties.value", "value", "revenue"),
    "currency": ("properties.currency", "currency"),
    "order_id": ("properties.order_id", "order_id"),
    "campaign_id": ("campaign_id", "properties.campaign_id"),
    "ad_group_id": ("ad_group_id", "adgroup_id", "properties.adgroup_id"),
    "ad_id": ("ad_id", "properties.ad_id"),
    "url": ("page.url", "context.page.url", "url", "page_url"),
    "source": ("_source", "event_source", "source"),
    "source_id": ("_source_id", "event_source_id", "pixel_code", "source_id"),
}

#: "Cost (USD)" style headers: the account currency written into the label.
CURRENCY_IN_HEADER = re.compile(r"^(?P<label>.*?)\s*[\(\[]\s*(?P<cur>[A-Za-z]{3})\s*[\)\]]\s*$")

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def header_key(label: object) -> str:
    """Matching key of a header: BOM and connector prefixes removed, case-folded, no punctuation."""
    text = str(label).replace("\ufeff", "").strip().casefold()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    return _NON_WORD.sub("", text)


_LOOKUP: dict[str, str] = {header_key(s): canon for canon, spells in ALIASES.items() for s in spells}
_RATES: frozenset[str] = frozenset(header_key(s) for s in RATE_COLUMNS)
# A spelling must never mean two things.
assert not (set(_LOOKUP) & _RATES), set(_LOOKUP) & _RATES


def ui_label(canonical: str) -> str:
    """The Ads Manager UI export label of a canonical column or rate (what writers write)."""
    return (ALIASES.get(canonical) or RATES[canonical])[1]


def api_name(canonical: str) -> str:
    """The Marketing API field name of a canonical column or rate."""
    return (ALIASES.get(canonical) or RATES[canonical])[0]


def canonical_name(label: object) -> str | None:
    """Canonical column for one header, or None when the header is unknown (or a rate)."""
    return _LOOKUP.get(header_key(label))


def resolve_headers(headers: Iterable[object]) -> tuple[dict[str, str], list[str], list[str], str | None]:
    """Map raw headers to canonical names.

    Returns ``(mapping raw->canonical, rate headers, unknown headers, currency from a header)``.
    A header such as ``Cost (USD)`` yields currency ``USD``. When two raw headers map to the same
    canonical column the first one wins and the second is reported as unknown (duplicate).
    """
    mapping: dict[str, str] = {}
    rates: list[str] = []
    unknown: list[str] = []
    header_currency: str | None = None
    taken: set[str] = set()
    for raw in headers:
        raw_s = str(raw)
        canon = canonical_name(raw_s)
        if canon is None:
            m = CURRENCY_IN_HEADER.match(raw_s.replace("\ufeff", ""))
            if m and canonical_name(m["label"]) is not None:
                canon = canonical_name(m["label"])
                if canon in ("cost", "conversion_value"):
                    header_currency = m["cur"].upper()
            elif m and header_key(m["label"]) in _RATES:
                rates.append(raw_s)
                continue
        if canon is None:
            (rates if header_key(raw_s) in _RATES else unknown).append(raw_s)
        elif canon in taken:
            unknown.append(raw_s)
        else:
            mapping[raw_s] = canon
            taken.add(canon)
    return mapping, rates, unknown, header_currency
