"""Policy-grid mode: every lead runs under every policy (CRN); tidy outputs with MC intervals.

``run_policies`` returns one row per replicate x policy x segment of raw totals;
``summarise`` turns replicates into means with normal-theory Monte Carlo intervals;
``best_policy`` picks, per segment, the best policy under an objective and an annoyance ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from abtest.sim.attribution import AttributionWindows, attribute
from abtest.sim.engine import draw_leads, run_block
from abtest.sim.params import SEGMENTS, SimParams
from abtest.sim.policy import RetargetingPolicy, holdout

__all__ = ["METRICS", "best_policy", "run_policies", "summarise"]

METRICS: tuple[str, ...] = (
    "leads", "impressions", "reach", "frequency", "clicks", "ctr", "conversions",
    "conversion_rate", "attributed_conversions", "incremental_conversions", "cost",
    "cost_per_conversion", "cost_per_incremental_conversion", "annoyance_rate",
)


def _ratio(num: np.ndarray, den: np.ndarray, *, empty: float) -> np.ndarray:
    """num / den, with ``empty`` where den <= 0 (documented finite or inf, never NaN)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), empty)


def run_policies(
    policies: Sequence[RetargetingPolicy],
    *,
    leads: int | Mapping[str, int],
    horizon_days: int,
    params: SimParams | None = None,
    seed: int,
    replicates: int = 1,
    segments: Sequence[str] = SEGMENTS,
) -> pd.DataFrame:
    """Simulate the same leads under every policy (plus the holdout), per segment and replicate.

    Returns one row per replicate x policy x segment with every metric in ``METRICS``.
    Incremental conversions are against the holdout on the *same* leads and luck (CRN), so they
    are exact potential-outcome differences. Undefined ratios: cost per (incremental) conversion is
    ``inf`` when there are none; frequency and CTR are 0 with no impressions / reach.
    """
    sim = params or SimParams()
    policies = list(policies)
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be unique, got {names}")
    base = next((p for p in policies if not p.retarget), None)
    if base is None:
        base = holdout("holdout" if "holdout" not in names else "_holdout")
        policies = [base, *policies]
    windows = AttributionWindows(sim.click_window_days, sim.view_window_days)
    rows = []
    for rep in range(replicates):
        for si, seg_name in enumerate(segments):
            n = leads[seg_name] if isinstance(leads, Mapping) else int(leads)
            seg = sim.segment(seg_name)
            key = (rep, si)
            draws = draw_leads(seg, sim, n, seed=seed, key=key)
            block = []
            for pol in policies:
                r = run_block(seg, pol, draws, horizon_days=horizon_days, sim=sim, seed=seed,
                              key=key)
                ci = np.flatnonzero(r.conv_day >= 0)
                att = attribute(r.conv_day[ci], r.click_at_conv[ci], r.imp_at_conv[ci], windows)
                block.append({
                    "replicate": rep, "policy": pol.name, "segment": seg_name, "leads": n,
                    "impressions": int(r.impressions.sum()), "reach": int((r.impressions > 0).sum()),
                    "clicks": int(r.clicks.sum()), "conversions": int(ci.size),
                    "attributed_conversions": int(att.attributed.sum()), "cost": r.cost,
                    "hidden": int(r.hidden.sum()),
                })
            base_conv = next(b["conversions"] for b in block if b["policy"] == base.name)
            for b in block:
                b["incremental_conversions"] = b["conversions"] - base_conv
            rows.extend(block)
    out = pd.DataFrame(rows)
    out["frequency"] = _ratio(out["impressions"], out["reach"], empty=0.0)
    out["ctr"] = _ratio(out["clicks"], out["impressions"], empty=0.0)
    out["conversion_rate"] = out["conversions"] / out["leads"]
    out["cost_per_conversion"] = _ratio(out["cost"], out["conversions"], empty=np.inf)
    cpi = _ratio(out["cost"], out["incremental_conversions"], empty=np.inf)
    out["cost_per_incremental_conversion"] = np.where(out["incremental_conversions"] > 0, cpi, np.inf)
    out["annoyance_rate"] = out.pop("hidden") / out["leads"]
    out = out.astype({"policy": "string", "segment": "string"})
    return out[["replicate", "policy", "segment", *METRICS]]


def summarise(runs: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Mean over replicates per policy x segment, with ``{metric}_lo`` / ``{metric}_hi``.

    Interval: mean +/- t_{R-1} * sd / sqrt(R) over R >= 2 replicates (raises otherwise). Ratios
    are recomputed from summed totals so that e.g. CTR is clicks / impressions over all replicates;
    their intervals come from the replicate ratios.
    """
    reps = runs["replicate"].nunique()
    if reps < 2:
        raise ValueError("Monte Carlo intervals need replicates >= 2 (run_policies(replicates=...))")
    g = runs.groupby(["policy", "segment"], sort=False)
    mean = g[list(METRICS)].mean()
    sd = g[list(METRICS)].std(ddof=1)
    half = stats.t.ppf(0.5 + level / 2, reps - 1) * sd / np.sqrt(reps)
    out = mean.copy()
    for m in METRICS:
        finite = np.isfinite(mean[m]) & np.isfinite(half[m])
        out[f"{m}_lo"] = np.where(finite, mean[m] - half[m].fillna(0), mean[m])
        out[f"{m}_hi"] = np.where(finite, mean[m] + half[m].fillna(0), mean[m])
    out["replicates"] = reps
    return out.reset_index()


def best_policy(
    results: pd.DataFrame,
    objective: Literal["cost_per_incremental_conversion", "incremental_conversions",
                       "cost_per_conversion", "conversions"] = "cost_per_incremental_conversion",
    *,
    annoyance_ceiling: float | None = None,
    min_incremental_conversions: float = 0.0,
) -> pd.DataFrame:
    """Best retargeting policy per segment (one row each), excluding the holdout.

    Cost objectives are minimised, counts maximised. Policies whose ``annoyance_rate`` exceeds the
    ceiling, or whose incremental conversions do not exceed ``min_incremental_conversions``, are
    not eligible; a segment with no eligible policy is left out.
    """
    minimise = objective.startswith("cost")
    keep = results["incremental_conversions"] > min_incremental_conversions
    keep &= results["impressions"] > 0
    if annoyance_ceiling is not None:
        keep &= results["annoyance_rate"] <= annoyance_ceiling
    ok = results[keep]
    if ok.empty:
        return results.iloc[0:0]
    order = ok.sort_values(["segment", objective], ascending=[True, minimise], kind="stable")
    return order.groupby("segment", sort=False).head(1).reset_index(drop=True)
