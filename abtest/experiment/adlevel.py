"""Ad-level daily exports in :class:`~abtest.experiment.Experiment`: arms paired by day.

Turns the engine's arm × day totals (:func:`abtest.aggregate.daily_stats`) into the paired
comparisons of :func:`abtest.stats.daily.paired_ratio_arrays`, one segment at a time. Days with
too few denominator events are pooled into blocks (:func:`abtest.stats.daily.events_block_size`);
with fewer than :data:`~abtest.stats.daily.MIN_BLOCKS` blocks the metric is *not judged* and the
row says how many more days at the current rate would make it judgeable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from abtest.metrics import Metric
from abtest.stats.daily import (
    MIN_BLOCKS,
    MIN_EVENTS,
    PairedResult,
    block_sums,
    events_block_size,
    paired_ratio_arrays,
)

__all__ = ["daily_arrays", "paired_comparison"]


def daily_arrays(daily: pd.DataFrame, name: str, arms: list[str], segments: list[str]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(num, den) of one metric as (arms, segments, days) arrays (0 where a day is absent)."""
    sub = daily[daily["metric"] == name]
    dates = np.sort(sub["date"].dropna().unique())
    full = pd.MultiIndex.from_product([arms, segments, dates], names=["arm", "segment", "date"])
    sub = sub.set_index(["arm", "segment", "date"])[["num", "den"]].reindex(full).fillna(0.0)
    shape = (len(arms), len(segments), len(dates))
    return (sub["num"].to_numpy(float).reshape(shape), sub["den"].to_numpy(float).reshape(shape))


def _events_word(m: Metric) -> str:
    terms = m.denominator_terms or ()
    col = terms[0][0] if terms else "events"
    return col.replace("_", " ")


def paired_comparison(num: np.ndarray, den: np.ndarray, m: Metric, alpha: float
                      ) -> dict[str, Any]:
    """Paired-by-day arrays for every segment (axis 1) of one metric.

    Returns ``mc, vc, mt, vt, cov, d, se, stat, dof, p, days`` of shape (arms − 1, segments),
    ``judged`` (bool), ``note`` (str, "" when judged), ``block_days`` and ``events_days``
    (more days needed to be judgeable, 0 when judged).
    """
    k, s, n_days = num.shape
    keys = ("mc", "vc", "mt", "vt", "cov", "d", "se", "stat", "dof", "p", "days")
    out: dict[str, Any] = {key: np.full((k - 1, s), np.nan) for key in keys}
    out["judged"] = np.zeros((k - 1, s), bool)
    out["note"] = np.full((k - 1, s), "", dtype=object)
    out["block_days"] = np.ones((k - 1, s))
    out["events_days"] = np.zeros((k - 1, s))
    out["plan_var"] = _poisson_floor(num, den)
    word = _events_word(m)
    per_day = (den.sum(axis=-1) / max(n_days, 1)).min(axis=0)  # (segments,)
    simple = (per_day >= MIN_EVENTS) & (n_days >= MIN_BLOCKS)
    if simple.any():  # one block per day: all such segments in one vectorised call
        idx = np.flatnonzero(simple)
        pr = paired_ratio_arrays(num[:, idx, :], den[:, idx, :], alpha=alpha)
        _store(out, idx, pr, 1)
    for j in np.flatnonzero(~simple):
        x, y = num[:, j, :], den[:, j, :]
        b = events_block_size(y) if y.shape[-1] else 0
        blocks = y.shape[-1] // b if b else 0
        totals_c = x[0].sum() / y[0].sum() if y[0].sum() > 0 else np.nan
        totals_t = np.where(y[1:].sum(-1) > 0, x[1:].sum(-1) / np.maximum(y[1:].sum(-1), 1e-300),
                            np.nan)
        if blocks < MIN_BLOCKS:
            per_day = y.sum(-1) / max(y.shape[-1], 1)
            low = float(per_day.min()) if per_day.size else 0.0
            if low > 0:
                need = MIN_BLOCKS * b - y.shape[-1]
                extra = max(need, 1)
                note = (f"too few {word} per day to judge {m.label}: {extra} more day(s) at the "
                        f"current rate (about {low:.1f} {word} a day in the smallest arm; "
                        f"{MIN_BLOCKS} periods of {b} day(s) with at least 5 each are needed)")
            else:
                extra, note = np.inf, f"no {word} in an arm: {m.label} cannot be judged yet"
            out["note"][:, j] = note
            out["events_days"][:, j] = extra
            out["mc"][:, j], out["mt"][:, j] = totals_c, totals_t
            out["d"][:, j] = totals_t - totals_c
            out["p"][:, j], out["stat"][:, j] = 1.0, 0.0
            out["days"][:, j] = y.shape[-1]
            continue
        pr = paired_ratio_arrays(block_sums(x, b)[:, None, :], block_sums(y, b)[:, None, :],
                                 alpha=alpha)
        _store(out, np.array([j]), pr, b)
    return out


def _poisson_floor(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Variance floor of R̂_t − R̂_c for planning: R_j² / min(X_j, Y_j) per arm (Poisson noise
    of the rarer count; for cost per conversion the conversions), shape (arms − 1, segments).

    "Keep testing N more days" plans on max(SE², floor): a standard error that happens to be
    small with few paired days would otherwise end the test early exactly when its t statistic
    is inflated (measured: A/A rate 0.065 instead of 0.05 when planning on SE alone).
    """
    x, y = num.sum(axis=-1), den.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(y > 0, x / np.where(y > 0, y, 1.0), 0.0)
        events = np.minimum(np.abs(x), y)
        v = np.where(events > 0, r * r / np.where(events > 0, events, 1.0), 0.0)
    return v[1:] + v[:1]


def _store(out: dict[str, Any], idx: np.ndarray, pr: PairedResult, b: int) -> None:
    r = pr.result
    for key, val in (("mc", r.control_mean), ("vc", r.control_var), ("mt", r.treatment_mean),
                     ("vt", r.treatment_var), ("cov", pr.covariance), ("d", r.abs_diff),
                     ("se", r.std_error), ("stat", r.statistic), ("dof", r.dof),
                     ("p", r.p_value), ("days", r.control_n * b)):
        out[key][:, idx] = val
    out["judged"][:, idx] = True
    out["block_days"][:, idx] = b
