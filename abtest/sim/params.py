"""Typed, sourced parameters of the retargeting world model (daily units).

Every field carries ``metadata={"meaning": ..., "source": ...}``; "P" in a source marks a
placeholder to calibrate from the analyst's data (see ``shared/reference/simulation-models.md`` §8).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_SEGMENT_MIX",
    "SEGMENTS",
    "SegmentParams",
    "SimParams",
    "default_params",
    "describe_params",
]

SEGMENTS: tuple[str, ...] = ("warm", "cold", "lapsed")

DEFAULT_SEGMENT_MIX: Mapping[str, float] = MappingProxyType({"warm": 0.4, "cold": 0.4, "lapsed": 0.2})
"""Shares of warm / cold / lapsed leads when the data give none (read-only; ``dict(...)`` to edit).

A placeholder (P, simulation-models.md §8): site visitors and video engagers in equal parts, past
customers the smaller pool. Use :func:`abtest.sim.whatif.segment_mix` for the data's own shares.
"""


def _p(default: Any, meaning: str, source: str) -> Any:
    return field(default=default, metadata={"meaning": meaning, "source": source})


@dataclass(frozen=True)
class SegmentParams:
    """Parameters of one lead segment.

    Hazard of converting on day ``t`` (Sahni et al. 2019 intent decay; ads multiplicative ``L`` and
    additive ``a``, §4 of the notes)::

        h = z * [(h0 * rho**r + h_floor) * (1 + L * S(A)) + a * S(A)] * W
        S(A) = A**n / (A**n + K**n),  A_t = theta * A_{t-1} + exp(-delta * F_{t-1}) * x_t
        F_t = phi * F_{t-1} + x_t,    W = exp(-eta * max(0, F - F*)) for weary leads else 1
    """

    h0: float = _p(0.004, "baseline conversion hazard per day right after engagement", "P (§8 table)")
    half_life_days: float = _p(2.0, "half-life of organic intent in days", "Sahni et al. 2019")
    h_floor: float = _p(3e-4, "residual hazard per day that never decays", "P, BG/NBD-style alive rate")
    frailty_shape: float = _p(
        1.0, "gamma frailty shape kappa (mean 1; math.inf = no heterogeneity)", "P (§4)"
    )
    adstock_theta: float = _p(0.7, "daily adstock carry-over theta", "Robyn/lares: weekly 0.3 -> 0.84")
    hill_k: float = _p(1.0, "Hill half-saturation K in adstocked impressions", "P, Meridian Hill form")
    hill_n: float = _p(1.0, "Hill slope n (<= 1 concave)", "Meridian / Robyn Hill form")
    lift_multiplicative: float = _p(0.5, "L: ads scale existing intent by (1 + L*S)", "ghost ads 10-17%")
    lift_additive: float = _p(0.0, "a: ad-created hazard per day at full saturation", "P, gap arms (§4)")
    fatigue_delta: float = _p(
        math.log(2) / 8, "effectiveness halves after ln2/delta stacked exposures", "Schmidt & Eisend 2015"
    )
    fatigue_phi: float = _p(0.9, "daily retention of the fatigue stock (restoration)", "Naik et al. 1998")
    weary_share: float = _p(0.24, "share of leads for whom extra exposures hurt", "Chae et al. 2019")
    weary_threshold: float = _p(8.0, "F*: fatigue stock above which weariness bites", "P")
    weary_eta: float = _p(0.1, "eta: hazard penalty per unit of fatigue above F*", "P")
    exposure_shape: float = _p(
        0.7, "NBD shape k of per-lead activity (Gamma(k, 1/k); math.inf = Poisson)", "P, Danaher 2007"
    )
    creative_tau_days: float = _p(14.0, "creative age scale of CTR decay exp(-age/tau)", "weak: TikTok refresh")
    ctr: float = _p(0.01, "click-through rate per fresh impression", "P, practitioner 0.5-1.5%")
    click_resets_intent: bool = _p(True, "a click counts as engagement: intent clock restarts", "§4")
    hide_rate: float = _p(0.001, "probability an impression makes the lead hide the ads", "P")
    weary_hide_multiplier: float = _p(5.0, "hide rate multiplier for weary leads above F*", "P, Chae 2019")
    cpm: float = _p(8.0, "cost per 1000 impressions (account currency)", "P, TikTok retargeting CPMs")
    order_value_mean: float = _p(60.0, "mean order value", "P")
    order_value_sigma: float = _p(0.6, "log-normal sigma of order value", "P")
    first_touch_mix: tuple[tuple[str, float], ...] = _p(
        (("site_visit", 0.6), ("add_to_cart", 0.25), ("lead_form", 0.15)),
        "first-touch signals that put the lead in the audience, with shares (label only)",
        "TikTok audience types",
    )

    def __post_init__(self) -> None:
        positive = ("half_life_days", "frailty_shape", "hill_k", "hill_n", "exposure_shape",
                    "creative_tau_days", "cpm", "order_value_mean")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"SegmentParams.{name} must be > 0, got {getattr(self, name)!r}")
        unit = ("adstock_theta", "fatigue_phi", "weary_share", "ctr", "hide_rate")
        for name in unit:
            v = getattr(self, name)
            if not 0 <= v <= 1 or (name in ("adstock_theta", "fatigue_phi") and v >= 1):
                raise ValueError(f"SegmentParams.{name} must be in [0, 1), got {v!r}")
        for name in ("h0", "h_floor", "lift_multiplicative", "lift_additive", "fatigue_delta",
                     "weary_eta", "order_value_sigma", "weary_threshold"):
            if getattr(self, name) < 0:
                raise ValueError(f"SegmentParams.{name} must be >= 0, got {getattr(self, name)!r}")
        total = sum(p for _, p in self.first_touch_mix)
        if not self.first_touch_mix or abs(total - 1) > 1e-9:
            raise ValueError("SegmentParams.first_touch_mix shares must sum to 1")

    @property
    def rho(self) -> float:
        """Daily intent retention ``2**(-1/half_life)``."""
        return 2.0 ** (-1.0 / self.half_life_days)


WARM = SegmentParams()
COLD = SegmentParams(
    h0=0.0006, half_life_days=10.0, h_floor=1e-4, lift_multiplicative=0.35, lift_additive=1e-4,
    first_touch_mix=(("video_view_100", 0.6), ("like_follow", 0.3), ("profile_visit", 0.1)),
)
LAPSED = SegmentParams(
    h0=0.0004, half_life_days=30.0, h_floor=2e-4, lift_multiplicative=0.25, lift_additive=2e-4,
    first_touch_mix=(("past_purchase", 0.7), ("site_visit", 0.3)),
)


@dataclass(frozen=True)
class SimParams:
    """World parameters: one ``SegmentParams`` per segment plus platform mechanics."""

    warm: SegmentParams = _p(WARM, "site visitors / add-to-cart", "§8 table")
    cold: SegmentParams = _p(COLD, "video viewers / engagers", "§8 table")
    lapsed: SegmentParams = _p(LAPSED, "past customers inactive > 30 days", "§8 table")
    audience_lag_days: int = _p(1, "days before a new lead can be targeted", "TikTok: 24-48 h")
    exclusion_lag_days: int = _p(1, "days a converter keeps seeing ads before exclusion", "TikTok: 24-48 h")
    click_window_days: int = _p(7, "platform click-through attribution window", "TikTok default")
    view_window_days: int = _p(1, "platform view-through attribution window (0 = off)", "TikTok default")
    report_same_day_share: float = _p(0.5, "share of conversions reported the same day", "Chapelle 2014")
    report_hazard: float = _p(0.26, "daily reporting hazard of the slow component", "Chapelle 2014")
    creative_fatigue_carry: float = _p(
        0.5, "share of fatigue stock carried over to a new creative", "P, Braun & Moe 2013"
    )

    def __post_init__(self) -> None:
        for name in ("audience_lag_days", "exclusion_lag_days", "click_window_days", "view_window_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"SimParams.{name} must be >= 0")
        if not 0 <= self.report_same_day_share <= 1 or not 0 < self.report_hazard <= 1:
            raise ValueError("SimParams report delay: share in [0, 1], hazard in (0, 1]")
        if not 0 <= self.creative_fatigue_carry <= 1:
            raise ValueError("SimParams.creative_fatigue_carry must be in [0, 1]")

    def segment(self, name: str) -> SegmentParams:
        """Parameters of segment ``name`` (warm / cold / lapsed)."""
        if name not in SEGMENTS:
            raise ValueError(f"unknown segment {name!r}; expected one of {SEGMENTS}")
        return getattr(self, name)

    def with_segments(self, **changes: Any) -> SimParams:
        """The same world with ``changes`` applied to every segment."""
        return replace(self, **{s: replace(self.segment(s), **changes) for s in SEGMENTS})

    def without_ad_effect(self) -> SimParams:
        """Ads do nothing to conversion: no lift, no additive effect, no weariness penalty, and
        clicks do not restart intent (exposures, clicks, cost and hiding still happen)."""
        return self.with_segments(lift_multiplicative=0.0, lift_additive=0.0, weary_eta=0.0,
                                  click_resets_intent=False)

    def without_fatigue(self) -> SimParams:
        """No wear-out: no fatigue discount, no weariness, no creative ageing, no hiding."""
        return self.with_segments(
            fatigue_delta=0.0, weary_share=0.0, weary_eta=0.0, creative_tau_days=math.inf,
            hide_rate=0.0,
        )


def default_params() -> SimParams:
    """The sourced defaults of §8."""
    return SimParams()


def describe_params(params: SimParams | None = None) -> list[dict[str, Any]]:
    """One record per parameter (segment, name, value, meaning, source) for docs and reports."""
    params = params or SimParams()
    rows: list[dict[str, Any]] = []
    for seg in SEGMENTS:
        sp = params.segment(seg)
        for f in fields(sp):
            rows.append({"segment": seg, "name": f.name, "value": getattr(sp, f.name),
                         "meaning": f.metadata["meaning"], "source": f.metadata["source"]})
    for f in fields(params):
        if f.name not in SEGMENTS:
            rows.append({"segment": "all", "name": f.name, "value": getattr(params, f.name),
                         "meaning": f.metadata["meaning"], "source": f.metadata["source"]})
    return rows
