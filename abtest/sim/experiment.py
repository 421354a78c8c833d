"""Experiment mode: each lead is randomised to one arm; returns a lead-level panel with ground truth.

This is the "world" behind demo data, power simulations and end-to-end checks: ``leads``,
``exposures`` and ``conversions`` are what first-party data and the platform would show, ``truth``
is what the statistics should recover. Every lead is followed for ``horizon_days`` from its own
entry day (a fixed horizon from entry, Kohavi et al. 2020 ch. 6 of the notes); days in the tables
are absolute days since ``start_date``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from abtest.sim.attribution import AttributionWindows, attribute
from abtest.sim.engine import draw_leads, run_block
from abtest.sim.expected import expected_outcomes
from abtest.sim.params import SEGMENTS, SimParams
from abtest.sim.policy import ArmSpec

__all__ = ["LeadPanel", "allocate", "simulate_experiment"]


@dataclass(frozen=True)
class LeadPanel:
    """A simulated split test.

    Attributes:
        leads: one row per lead: lead_id, arm, segment, entry_day, first_touch, weary,
            converted_true, conversion_day (absolute, NA if none), order_value (NA if none).
        exposures: one row per lead x day with >= 1 impression: lead_id, day, impressions, clicks,
            cost, creative.
        conversions: one row per true conversion: lead_id, day, report_day, value, attributed,
            attribution ("click" / "view" / NA), attributed_day (credited touch day, NA if none).
        truth: per arm x segment: leads, expected_conversion_rate (expected-value engine at the
            horizon), realised conversions and rate, impressions, clicks, cost, margin_cost.
    """

    leads: pd.DataFrame
    exposures: pd.DataFrame
    conversions: pd.DataFrame
    truth: pd.DataFrame
    horizon_days: int
    start_date: dt.date
    arms: tuple[ArmSpec, ...]
    params: SimParams
    seed: int
    entry_days: int

    def day_to_date(self, day: pd.Series | np.ndarray | int) -> pd.Series | pd.Timestamp:
        """Absolute simulation day(s) to calendar date(s)."""
        base = pd.Timestamp(self.start_date)
        if isinstance(day, int | np.integer):
            return base + pd.Timedelta(days=int(day))
        return base + pd.to_timedelta(pd.Series(day, dtype="Int64").astype("float64"), unit="D")


def allocate(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` into integer counts proportional to ``shares`` (largest remainder)."""
    names = list(shares)
    w = np.array([shares[k] for k in names], float)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"shares must be >= 0 with a positive sum, got {dict(shares)}")
    exact = total * w / w.sum()
    base = np.floor(exact).astype(int)
    order = np.argsort(-(exact - base), kind="stable")
    base[order[: total - base.sum()]] += 1
    return dict(zip(names, base.tolist(), strict=True))


def simulate_experiment(
    arms: Sequence[ArmSpec],
    *,
    leads_per_arm: int | Mapping[str, int],
    segments_mix: Mapping[str, float] | None = None,
    horizon_days: int,
    params: SimParams | None = None,
    seed: int,
    start_date: str | dt.date = "2026-09-01",
    entry_days: int = 14,
    engine: str | None = None,
) -> LeadPanel:
    """Simulate a split test where each lead is assigned to exactly one arm.

    Leads enter uniformly over ``entry_days`` days; each is followed ``horizon_days`` days from
    entry. ``segments_mix`` gives segment shares within every arm (default warm/cold/lapsed
    0.4/0.4/0.2); counts are allocated by largest remainder so arms are balanced by segment.
    ``engine``: Monte Carlo engine of :func:`~abtest.sim.engine.run_block` (None: default).
    """
    sim = params or SimParams()
    arms = tuple(arms)
    if not arms:
        raise ValueError("simulate_experiment needs at least one arm")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"arm names must be unique, got {names}")
    if horizon_days < 1 or entry_days < 1:
        raise ValueError("horizon_days and entry_days must be >= 1")
    if horizon_days + entry_days > 30000:
        raise ValueError("horizon_days + entry_days too large for int16 day indices")
    mix = dict(segments_mix or {"warm": 0.4, "cold": 0.4, "lapsed": 0.2})
    unknown = set(mix) - set(SEGMENTS)
    if unknown:
        raise ValueError(f"unknown segments {sorted(unknown)}; expected {SEGMENTS}")
    if isinstance(leads_per_arm, Mapping):
        missing = set(names) - set(leads_per_arm)
        if missing:
            raise ValueError(f"leads_per_arm has no count for arms {sorted(missing)}")
        per_arm = {a: int(leads_per_arm[a]) for a in names}
    else:
        per_arm = {a: int(leads_per_arm) for a in names}
    start = dt.date.fromisoformat(start_date) if isinstance(start_date, str) else start_date
    windows = AttributionWindows(sim.click_window_days, sim.view_window_days)

    lead_parts, exp_parts, conv_parts, truth_rows = [], [], [], []
    offset = 0
    for ai, arm in enumerate(arms):
        counts = allocate(per_arm[arm.name], mix)
        for si, seg_name in enumerate(SEGMENTS):
            n = counts.get(seg_name, 0)
            if n == 0:
                continue
            seg = sim.segment(seg_name)
            key = (ai, si)
            draws = draw_leads(seg, sim, n, seed=seed, key=key)
            res = run_block(seg, arm.policy, draws, horizon_days=horizon_days, sim=sim,
                            seed=seed, key=key, arm=arm, record_exposures=True, engine=engine)
            entry = _rng_entry(seed, key, n, entry_days)
            idx = np.arange(offset, offset + n)
            offset += n
            conv = res.conv_day >= 0
            value = draws.order_value * np.float32(arm.order_value_multiplier)
            touches = np.array([t for t, _ in seg.first_touch_mix], dtype=object)
            weary = np.arange(n) < draws.n_weary
            conv_abs = np.where(conv, entry + res.conv_day, -1)
            lead_parts.append(pd.DataFrame({
                "_idx": idx, "arm": arm.name, "segment": seg_name, "entry_day": entry,
                "first_touch": touches[draws.first_touch], "weary": weary,
                "converted_true": conv, "_conv": conv_abs, "_value": value,
            }))
            lead_, day_, imp_, clk_, cre_ = res.exposures  # type: ignore[misc]
            cpm = seg.cpm * arm.cpm_multiplier
            exp_parts.append(pd.DataFrame({
                "_idx": idx[lead_], "day": entry[lead_] + day_.astype(np.int64),
                "impressions": imp_.astype(np.int64), "clicks": clk_.astype(np.int64),
                "cost": imp_ * (cpm / 1000.0), "creative": cre_.astype(np.int64),
            }))
            ci = np.flatnonzero(conv)
            att = attribute(res.conv_day[ci], res.click_at_conv[ci], res.imp_at_conv[ci], windows)
            touch_abs = np.where(att.touch_day >= 0, entry[ci] + att.touch_day, -1)
            conv_parts.append(pd.DataFrame({
                "_idx": idx[ci], "day": conv_abs[ci],
                "report_day": conv_abs[ci] + draws.report_delay[ci].astype(np.int64),
                "value": value[ci].astype(np.float64), "attributed": att.attributed,
                "attribution": att.labels(), "attributed_day": touch_abs,
            }))
            ev = expected_outcomes([arm.policy], seg, sim=sim, horizon_days=horizon_days,
                                   arm=arm).iloc[0]
            realised_value = float(value[ci].sum())
            truth_rows.append({
                "arm": arm.name, "segment": seg_name, "leads": n,
                "expected_conversion_rate": float(ev["conversion_rate"]),
                "conversions": int(conv.sum()), "conversion_rate": float(conv.mean()),
                "expected_impressions_per_lead": float(ev["impressions_per_lead"]),
                "impressions": int(res.impressions.sum()), "clicks": int(res.clicks.sum()),
                "cost": float(res.cost), "revenue": realised_value,
                "margin_cost": realised_value * arm.margin_cost_share,
                "attributed_conversions": int(att.attributed.sum()),
            })

    return _assemble(lead_parts, exp_parts, conv_parts, truth_rows, offset, seed, horizon_days,
                     start, arms, sim, entry_days)


def _rng_entry(seed: int, key: tuple[int, int], n: int, entry_days: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key, 0xE17])))
    return rng.integers(0, entry_days, n).astype(np.int64)


def _assemble(lead_parts, exp_parts, conv_parts, truth_rows, total, seed, horizon_days, start,
              arms, sim, entry_days) -> LeadPanel:
    # lead ids are a seeded permutation so arms and segments are not contiguous id ranges
    perm = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x1D]))).permutation(
        total).astype(np.int64) + 1
    leads = pd.concat(lead_parts, ignore_index=True)
    leads.insert(0, "lead_id", perm[leads["_idx"].to_numpy()])
    conv = leads["_conv"].to_numpy()
    leads["conversion_day"] = pd.array(np.where(conv >= 0, conv, 0), dtype="Int64")
    leads.loc[conv < 0, "conversion_day"] = pd.NA
    leads["order_value"] = pd.array(leads["_value"].to_numpy(np.float64), dtype="Float64")
    leads.loc[conv < 0, "order_value"] = pd.NA
    leads = leads.drop(columns=["_idx", "_conv", "_value"])
    leads = leads.astype({"arm": "string", "segment": "string", "first_touch": "string",
                          "entry_day": "int64", "weary": "bool", "converted_true": "bool"})
    leads = leads.sort_values("lead_id", ignore_index=True)

    exposures = pd.concat(exp_parts, ignore_index=True)
    exposures.insert(0, "lead_id", perm[exposures.pop("_idx").to_numpy()])
    exposures = exposures.sort_values(["lead_id", "day"], ignore_index=True)

    conversions = pd.concat(conv_parts, ignore_index=True)
    conversions.insert(0, "lead_id", perm[conversions.pop("_idx").to_numpy()])
    conversions["attribution"] = conversions["attribution"].astype("string")
    ad = conversions["attributed_day"].to_numpy()
    conversions["attributed_day"] = pd.array(np.where(ad >= 0, ad, 0), dtype="Int64")
    conversions.loc[ad < 0, "attributed_day"] = pd.NA
    conversions = conversions.sort_values(["day", "lead_id"], ignore_index=True)

    truth = pd.DataFrame(truth_rows).astype({"arm": "string", "segment": "string"})
    return LeadPanel(leads, exposures, conversions, truth, horizon_days, start, tuple(arms), sim,
                     seed, entry_days)
