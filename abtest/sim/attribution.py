"""Platform (TikTok) attribution of true conversions: last click, else last view, within windows.

TikTok offers 1/7/14/28-day click and off/1/7-day view windows, default 7-day click + 1-day view,
clicks taking precedence (TikTok for Business, "flexible attribution windows", 2022). In daily
steps a touch on day ``s`` credits a conversion on day ``c`` when ``0 <= c - s < window``: a 1-day
window credits same-day conversions only (a conservative reading of "within 24 hours").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "TIKTOK_CLICK_WINDOWS",
    "TIKTOK_VIEW_WINDOWS",
    "Attribution",
    "AttributionWindows",
    "attribute",
]

TIKTOK_CLICK_WINDOWS: tuple[int, ...] = (1, 7, 14, 28)
TIKTOK_VIEW_WINDOWS: tuple[int, ...] = (0, 1, 7)


@dataclass(frozen=True)
class AttributionWindows:
    """Click and view windows in days (0 = off). ``strict`` limits them to TikTok's options."""

    click_days: int = 7
    view_days: int = 1
    strict: bool = False

    def __post_init__(self) -> None:
        if self.click_days < 0 or self.view_days < 0:
            raise ValueError("attribution windows must be >= 0 days")
        if self.strict and (self.click_days not in TIKTOK_CLICK_WINDOWS
                            or self.view_days not in TIKTOK_VIEW_WINDOWS):
            raise ValueError(f"TikTok offers click windows {TIKTOK_CLICK_WINDOWS} and view windows "
                             f"{TIKTOK_VIEW_WINDOWS}; got {self.click_days}/{self.view_days}")


@dataclass(frozen=True)
class Attribution:
    """Per-conversion attribution: ``kind`` 0 = none, 1 = click, 2 = view; ``touch_day`` or -1."""

    kind: np.ndarray
    touch_day: np.ndarray

    @property
    def attributed(self) -> np.ndarray:
        return self.kind > 0

    def labels(self) -> np.ndarray:
        """"click" / "view" / None per conversion (object array)."""
        return np.array([None, "click", "view"], dtype=object)[self.kind]


def attribute(conv_day: np.ndarray, last_click: np.ndarray, last_imp: np.ndarray,
              windows: AttributionWindows | None = None) -> Attribution:
    """Attribute conversions on ``conv_day`` given the last click / impression day before them.

    All arrays are per converting lead, in the same day units; -1 means "no such touch".
    """
    w = windows or AttributionWindows()
    conv_day = np.asarray(conv_day, np.int64)
    last_click = np.asarray(last_click, np.int64)
    last_imp = np.asarray(last_imp, np.int64)
    dc = conv_day - last_click
    dv = conv_day - last_imp
    by_click = (last_click >= 0) & (dc >= 0) & (dc < w.click_days)
    by_view = ~by_click & (last_imp >= 0) & (dv >= 0) & (dv < w.view_days)
    kind = np.where(by_click, 1, np.where(by_view, 2, 0)).astype(np.int8)
    touch = np.where(by_click, last_click, np.where(by_view, last_imp, -1))
    return Attribution(kind, touch)
