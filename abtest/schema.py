"""Canonical tables: the one place that says what every loader produces and every analysis reads.

Loaders in ``abtest.io`` turn real TikTok files into these tables; the simulator writes worlds that
read back into them; the aggregation layer and the statistics only ever see these columns.

Conventions
-----------
* IDs are strings (19-digit TikTok IDs do not survive float64).
* Counts are nullable integers (``Int64``): ``-`` / ``N/A`` / ``<5`` in an export become missing,
  never zero. Money is ``Float64`` in the account currency named in ``currency``.
* Rates (CTR, CVR, CPC, CPM, frequency, ...) are *not* stored: they are recomputed from counts in
  ``abtest.metrics``. Reach is per row and is never summed across rows.
* Timestamps are timezone-aware UTC; ``date`` in ``ad_stats`` is the report day in the account time
  zone as the export states it (a naive ``datetime64`` at midnight).
* In memory timestamps are nanosecond pandas dtypes; in parquet files abtest writes they are
  microseconds (``timestamp[us, tz=UTC]``), because Spark and the warehouses read microseconds
  and refuse nanosecond parquet, and real event times (pixel, Events API, CRM) carry at most
  milliseconds. Writing a sub-microsecond value to parquet raises ``DataError`` (never a silent
  truncation); CSV keeps nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "AD_STATS",
    "ASSIGNMENTS",
    "EVENTS",
    "Column",
    "Table",
    "ENGAGEMENT_EVENTS",
    "PIXEL_EVENTS",
]


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, pandas dtype, whether a loader must fill it, and meaning."""

    name: str
    dtype: str
    required: bool
    meaning: str


@dataclass(frozen=True)
class Table:
    """A canonical table: ordered columns plus the key that must be unique."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def empty(self) -> pd.DataFrame:
        """An empty frame with the canonical columns and dtypes."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Order columns canonically, add missing optional ones as NA, cast dtypes.

        Extra columns (e.g. arm fields parsed from names) are kept after the canonical ones.
        """
        out = frame.copy()
        for col in self.columns:
            if col.name not in out.columns:
                out[col.name] = pd.Series(pd.NA, index=out.index, dtype=col.dtype)
            else:
                out[col.name] = out[col.name].astype(col.dtype)
        extra = [c for c in out.columns if c not in self.names]
        return out[self.names + extra]


def _counts(*specs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, "Int64", False, meaning) for name, meaning in specs)


AD_STATS = Table(
    name="ad_stats",
    key=("date", "ad_id"),
    columns=(
        Column("date", "datetime64[ns]", True, "report day (account time zone)"),
        Column("campaign_id", "string", False, "campaign ID"),
        Column("campaign", "string", False, "campaign name"),
        Column("ad_group_id", "string", False, "ad group ID"),
        Column("ad_group", "string", False, "ad group name"),
        Column("ad_id", "string", True, "ad ID (falls back to the ad name when the export has no ID)"),
        Column("ad", "string", False, "ad name"),
        Column("currency", "string", False, "ISO 4217 account currency of cost and value"),
        Column("impressions", "Int64", True, "impressions"),
        Column("reach", "Int64", False, "estimated unique users reached that day (never summed)"),
        Column("clicks", "Int64", True, "destination clicks"),
        Column("conversions", "Int64", False, "conversions credited to the impression date"),
        Column("cost", "Float64", True, "spend in account currency"),
        *_counts(
            ("clicks_all", "clicks (all), incl. social clicks = engagements"),
            ("real_time_conversions", "conversions credited to the conversion date"),
            ("results", "objective results"),
            ("purchases", "website purchases (Pixel CompletePayment / Purchase)"),
            ("add_to_cart", "website adds to cart"),
            ("checkouts", "website checkouts initiated"),
            ("landing_page_views", "website landing page views"),
            ("form_submissions", "website form submissions"),
            ("video_views", "video starts"),
            ("video_watched_2s", "2-second video views"),
            ("video_watched_6s", "6-second video views"),
            ("video_views_p25", "video views at 25%"),
            ("video_views_p50", "video views at 50%"),
            ("video_views_p75", "video views at 75%"),
            ("video_views_p100", "video views at 100% (completions)"),
            ("likes", "paid likes"),
            ("comments", "paid comments"),
            ("shares", "paid shares"),
            ("follows", "paid follows (Spark Ads only)"),
            ("profile_visits", "paid profile visits"),
        ),
        Column("conversion_value", "Float64", False, "purchase value (website) in account currency"),
    ),
)

EVENTS = Table(
    name="events",
    key=("event_id",),
    columns=(
        Column("user_id", "string", True, "SHA-256 hex of the normalised e-mail / phone / external id"),
        Column("timestamp", "datetime64[ns, UTC]", True, "event time, UTC"),
        Column("event", "string", True, "canonical event name (see PIXEL_EVENTS / ENGAGEMENT_EVENTS)"),
        Column("event_raw", "string", False, "event name exactly as the file had it"),
        Column("value", "Float64", False, "monetary value of the event"),
        Column("currency", "string", False, "ISO 4217 currency of value"),
        Column("event_id", "string", False, "deduplication id"),
        Column("order_id", "string", False, "order id"),
        Column("campaign_id", "string", False, "campaign ID when known"),
        Column("ad_group_id", "string", False, "ad group ID when known"),
        Column("ad_id", "string", False, "ad ID when known"),
        Column("ttclid", "string", False, "TikTok click id, when present"),
        Column("source", "string", False, "web / app / offline / crm / ads"),
    ),
)

ASSIGNMENTS = Table(
    name="assignments",
    key=("user_id",),
    columns=(
        Column("user_id", "string", True, "hashed lead id, as in events"),
        Column("arm", "string", True, "experiment arm"),
        Column("entry_time", "datetime64[ns, UTC]", False, "when the lead entered the test"),
        Column("segment", "string", False, "lead segment (warm / cold / lapsed) when known"),
    ),
)

#: Pixel / Events API standard events, canonical (new) names. Old names map onto these in io.
PIXEL_EVENTS = (
    "PageView", "ViewContent", "ClickButton", "Search", "AddToWishlist", "AddToCart",
    "InitiateCheckout", "AddPaymentInfo", "PlaceAnOrder", "Purchase", "CompleteRegistration",
    "SubmitForm", "Contact", "Download", "Subscribe", "Lead", "Schedule", "FindLocation",
    "CustomizeProduct", "ApplicationApproval", "StartTrial", "SubmitApplication",
)

#: Ad-side engagement signals (from TikTok engagement audiences or a clean-room log).
ENGAGEMENT_EVENTS = (
    "Impression", "AdClick", "VideoView", "VideoView2s", "VideoView6s", "VideoView100",
    "Like", "Comment", "Share", "Follow", "ProfileVisit", "LeadForm",
)
