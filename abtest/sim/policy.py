"""Retargeting policies (when and how often a lead sees ads) and experiment arms.

A policy is timing + delivery: gap before the first ad, active window, delivery rate (impressions per
day, implied weekly frequency, or budget / CPM / audience size), a hard cap per 7 days, the audience
look-back window and creative rotation. An ``ArmSpec`` adds what an offer, CTA or format changes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["ArmSpec", "RetargetingPolicy", "holdout", "policy_grid"]


@dataclass(frozen=True)
class RetargetingPolicy:
    """How one ad group retargets a lead, in days since the lead's entry.

    Delivery rate (mean impressions per eligible lead-day) comes from exactly one of
    ``impressions_per_day``, ``weekly_frequency`` (``/7``) or ``daily_budget`` with ``audience_size``
    (``1000 * budget / (CPM * audience)``, TikTok's implied frequency for conversion objectives);
    none given means a weekly frequency of 2 (about 16 impressions over 8 weeks, §8).

    Attributes:
        name: label used in results.
        gap_days: days from entry to the first possible impression (never earlier than the
            audience lag of ``SimParams``).
        active_window_days: days the lead stays targetable after the gap.
        frequency_cap: hard cap of impressions per ``cap_days`` (None = no cap; TikTok Reach/R&F).
        lookback_days: audience look-back: a lead is targetable only while its last engagement
            (entry or click) is fewer than this many days ago.
        n_creatives: creatives in rotation; ``creative_refresh_days``: days between switches.
        delivery: ``"nbd"`` Poisson draws around gamma activity (Danaher 2007) or ``"fixed"``
            exactly ``impressions_per_day`` impressions per eligible day (integer; a scheduled buy).
        retarget: False for the no-retargeting holdout.
    """

    name: str = "policy"
    gap_days: int = 1
    active_window_days: int = 28
    impressions_per_day: float | None = None
    weekly_frequency: float | None = None
    daily_budget: float | None = None
    audience_size: int | None = None
    frequency_cap: int | None = None
    cap_days: int = 7
    lookback_days: int = 180
    n_creatives: int = 1
    creative_refresh_days: int | None = None
    delivery: Literal["nbd", "fixed"] = "nbd"
    retarget: bool = True

    def __post_init__(self) -> None:
        if self.gap_days < 0 or self.active_window_days < 0 or self.lookback_days < 1:
            raise ValueError(f"policy {self.name!r}: gap/window must be >= 0 and lookback >= 1")
        if not self.retarget:
            return
        modes = [self.impressions_per_day is not None, self.weekly_frequency is not None,
                 self.daily_budget is not None]
        if sum(modes) > 1:
            raise ValueError(
                f"policy {self.name!r}: give at most one of impressions_per_day, weekly_frequency, "
                "daily_budget (+ audience_size)")
        if self.daily_budget is not None and not (self.audience_size and self.audience_size > 0):
            raise ValueError(f"policy {self.name!r}: daily_budget needs audience_size > 0")
        if self.frequency_cap is not None and (self.frequency_cap < 0 or not 1 <= self.cap_days <= 28):
            raise ValueError(f"policy {self.name!r}: frequency_cap >= 0 and cap_days in 1..28")
        if self.n_creatives < 1 or (self.creative_refresh_days is not None
                                    and self.creative_refresh_days < 1):
            raise ValueError(f"policy {self.name!r}: n_creatives >= 1, creative_refresh_days >= 1")
        if self.delivery == "fixed":
            rate = self.daily_rate(1.0)
            if rate != int(rate):
                raise ValueError(f"policy {self.name!r}: fixed delivery needs whole impressions/day")

    def daily_rate(self, cpm: float) -> float:
        """Mean impressions per eligible lead-day at this ``cpm`` (0 for the holdout)."""
        if not self.retarget:
            return 0.0
        if self.impressions_per_day is not None:
            rate = self.impressions_per_day
        elif self.daily_budget is None:
            rate = (2.0 if self.weekly_frequency is None else self.weekly_frequency) / 7.0
        else:
            rate = 1000.0 * self.daily_budget / (cpm * self.audience_size)  # type: ignore[operator]
        if rate < 0 or not math.isfinite(rate):
            raise ValueError(f"policy {self.name!r}: delivery rate must be finite and >= 0")
        return rate

    def start_day(self, audience_lag_days: int) -> int:
        """First day (since entry) the lead can be shown an ad."""
        return max(self.gap_days, audience_lag_days)

    def end_day(self) -> int:
        """First day (since entry) after the active window."""
        return self.gap_days + self.active_window_days

    def creative_on(self, day: int, start: int) -> tuple[int, int, bool]:
        """(creative index, creative age in days, first time this creative is shown) on ``day``."""
        k = day - start
        if self.creative_refresh_days is None or self.n_creatives == 1:
            return 0, k, k == 0
        slot = k // self.creative_refresh_days
        c = slot % self.n_creatives
        first_shown = c * self.creative_refresh_days
        return c, k - first_shown, slot < self.n_creatives and k % self.creative_refresh_days == 0


def holdout(name: str = "holdout") -> RetargetingPolicy:
    """The no-retargeting holdout (ghost-ads logic, Johnson et al. 2017)."""
    return RetargetingPolicy(name=name, retarget=False, weekly_frequency=None, active_window_days=0)


def policy_grid(
    *,
    gap_days: Iterable[int] = (0, 1, 3, 7),
    active_window_days: Iterable[int] = (14, 28),
    weekly_frequency: Iterable[float] = (1.0, 2.0, 4.0),
    frequency_cap: Iterable[int | None] = (None,),
    lookback_days: Iterable[int] = (180,),
    n_creatives: Iterable[int] = (1,),
    creative_refresh_days: Iterable[int | None] = (None,),
    include_holdout: bool = True,
) -> list[RetargetingPolicy]:
    """Every combination of the given settings, named ``gap{g}_win{w}_f{f}[_cap{c}]...``."""
    out: list[RetargetingPolicy] = [holdout()] if include_holdout else []
    for g, w, f, c, lb, nc, rf in itertools.product(
        gap_days, active_window_days, weekly_frequency, frequency_cap, lookback_days, n_creatives,
        creative_refresh_days,
    ):
        name = f"gap{g}_win{w}_f{f:g}"
        name += f"_cap{c}" if c is not None else ""
        name += f"_lb{lb}" if lb != 180 else ""
        name += f"_cr{nc}x{rf}" if nc > 1 and rf else ""
        out.append(RetargetingPolicy(name=name, gap_days=g, active_window_days=w, weekly_frequency=f,
                                     frequency_cap=c, lookback_days=lb, n_creatives=nc,
                                     creative_refresh_days=rf))
    return out


@dataclass(frozen=True)
class ArmSpec:
    """One experiment arm: a timing policy plus what its offer, CTA or format changes.

    Attributes:
        name: arm label.
        policy: the retargeting policy (``holdout()`` for the control that sees no ads).
        ctr_multiplier: scales CTR (e.g. Spark Ads or a stronger CTA raise CTR ~1.2-1.5x).
        lift_multiplier: scales the ad effect on conversion, both ``L`` and ``a`` (a 10% discount
            or better creative converts more of the people it reaches).
        order_value_multiplier: scales order value (bundles raise it; a discount lowers the paid
            value: 0.9 for 10% off).
        cpm_multiplier: scales CPM (formats and placements price differently).
        margin_cost_share: share of the paid order value that the offer costs the advertiser
            (e.g. free-shipping cost); reported in ``truth`` as margin cost, not in ad cost.
        hide_multiplier: scales the hide / unfollow rate (aggressive CTAs annoy more).
    """

    name: str
    policy: RetargetingPolicy
    ctr_multiplier: float = 1.0
    lift_multiplier: float = 1.0
    order_value_multiplier: float = 1.0
    cpm_multiplier: float = 1.0
    margin_cost_share: float = 0.0
    hide_multiplier: float = 1.0

    def __post_init__(self) -> None:
        for attr in ("ctr_multiplier", "lift_multiplier", "order_value_multiplier",
                     "cpm_multiplier", "hide_multiplier"):
            if not getattr(self, attr) >= 0:
                raise ValueError(f"arm {self.name!r}: {attr} must be >= 0")
        if not 0 <= self.margin_cost_share <= 1:
            raise ValueError(f"arm {self.name!r}: margin_cost_share must be in [0, 1]")


def arms_from_policies(policies: Sequence[RetargetingPolicy]) -> list[ArmSpec]:
    """Plain timing arms: one ``ArmSpec`` per policy, named after it."""
    return [ArmSpec(p.name, p) for p in policies]


__all__ += ["arms_from_policies"]
