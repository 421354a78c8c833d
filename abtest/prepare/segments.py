"""Lead segments from event histories: warm, cold, lapsed, as of a date.

Rule (thresholds are parameters; defaults in brackets), evaluated on events at or before ``as_of``
and only on signal events (``warm_signals`` + ``cold_signals``; impressions are not engagement):

1. Purchasers are not leads: any user with a purchase event (``purchase_signals``) at or before
   ``as_of`` is excluded and counted in :class:`SegmentSummary`.
2. **lapsed**: the last signal is older than ``lapsed_after_days`` [30] days.
3. **warm**: otherwise, a strong step (VideoView100, AdClick, site visit, lead form, add to cart,
   ...) happened within ``warm_window_days`` [7] days of ``as_of``.
4. **cold**: otherwise: engaged (viewed, liked, commented, shared, followed, visited the profile)
   without a recent strong step; a strong step older than the warm window but with activity
   inside the lapsed threshold also counts as cold (intent has cooled, the lead is still active).

Ages are measured as ``as_of - time`` in days (fractional), inclusive of the boundary (an event
exactly 7 days old is still warm with the default window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "COLD_SIGNALS",
    "PURCHASE_SIGNALS",
    "WARM_SIGNALS",
    "SegmentSummary",
    "classify_leads",
]

WARM_SIGNALS: tuple[str, ...] = (
    "VideoView100", "AdClick", "ClickButton", "PageView", "ViewContent", "SubmitForm", "LeadForm",
    "Lead", "Contact", "AddToCart", "AddToWishlist", "InitiateCheckout", "AddPaymentInfo",
    "CompleteRegistration", "Search",
)
COLD_SIGNALS: tuple[str, ...] = (
    "VideoView", "VideoView2s", "VideoView6s", "Like", "Comment", "Share", "Follow",
    "ProfileVisit",
)
PURCHASE_SIGNALS: tuple[str, ...] = ("Purchase", "PlaceAnOrder")


@dataclass(frozen=True)
class SegmentSummary:
    """How many users were classified, excluded as purchasers, or had no signal at all."""

    leads: int
    purchasers_excluded: int
    without_signal: int
    counts: dict[str, int]


def _as_utc(ts: object) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def classify_leads(
    events: pd.DataFrame,
    *,
    as_of: object,
    warm_window_days: float = 7,
    lapsed_after_days: float = 30,
    warm_signals: tuple[str, ...] = WARM_SIGNALS,
    cold_signals: tuple[str, ...] = COLD_SIGNALS,
    purchase_signals: tuple[str, ...] = PURCHASE_SIGNALS,
    summary: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, SegmentSummary]:
    """One row per lead: ``user_id, segment, last_signal_time, last_signal, n_signals``.

    ``events`` is canonical (user_id, timestamp, event). Vectorised groupby; no loop over users.
    With ``summary=True`` also returns a :class:`SegmentSummary` (purchasers excluded, etc.).
    """
    if warm_window_days < 0 or lapsed_after_days < warm_window_days:
        raise ValueError("need 0 <= warm_window_days <= lapsed_after_days")
    as_of_ts = _as_utc(as_of)
    ev = events.loc[events["timestamp"] <= as_of_ts, ["user_id", "timestamp", "event"]]
    ev = ev[ev["user_id"].notna()]
    purchasers = pd.Index(ev.loc[ev["event"].isin(purchase_signals), "user_id"].unique())
    ev = ev[~ev["user_id"].isin(purchasers)]
    all_users = pd.Index(ev["user_id"].unique())
    sig = ev[ev["event"].isin(warm_signals + cold_signals)].sort_values(
        ["user_id", "timestamp"], kind="stable")
    grouped = sig.groupby("user_id", sort=True)
    last = grouped.tail(1).set_index("user_id")
    strong = sig[sig["event"].isin(warm_signals)].groupby("user_id")["timestamp"].max()
    out = pd.DataFrame({
        "last_signal_time": last["timestamp"],
        "last_signal": last["event"].astype("string"),
        "n_signals": grouped.size().astype("Int64"),
    })
    day = pd.Timedelta(days=1)
    age = (as_of_ts - out["last_signal_time"]) / day
    strong_age = (as_of_ts - strong.reindex(out.index)) / day
    segment = np.select(
        [age > lapsed_after_days, (strong_age <= warm_window_days).fillna(False).to_numpy()],
        ["lapsed", "warm"], default="cold",
    )
    out.insert(0, "segment", pd.Series(segment, index=out.index, dtype="string"))
    out = out.rename_axis("user_id").reset_index()
    out["user_id"] = out["user_id"].astype("string")
    if not summary:
        return out
    counts = out["segment"].value_counts().reindex(["warm", "cold", "lapsed"], fill_value=0)
    info = SegmentSummary(leads=len(out), purchasers_excluded=len(purchasers),
                          without_signal=len(all_users) - len(out),
                          counts={k: int(v) for k, v in counts.items()})
    return out, info
