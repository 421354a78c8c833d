"""Policy what-if grids for the timing reports: gap × frequency cap × audience window.

Tidy frames the notebooks plot directly, from the simulator's two engines:

* :func:`policy_whatif` — the expected-value engine over gap × frequency cap × audience window,
  per segment (exact expectations, no noise, milliseconds per policy);
* :func:`best_policies` — the best policy per segment under an objective;
* :func:`policy_uncertainty` — Monte Carlo replays of a few policies (same leads under every
  policy, common random numbers) giving intervals and how often each policy comes out best;
* :func:`frequency_cap_advice` — expected outcomes by cap and the advised cap per segment;
* :func:`gap_design_view` — what the simulator expects a gap test to show, and its power;
* :func:`observed_vs_simulated` — the simulated rate per arm next to what a test observed;
* :func:`segment_mix` — the data's own warm / cold / lapsed shares for pooled views.

The recommendation texts and the cap advice shared by reports live in :mod:`abtest.sim.advice`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from abtest.sim.params import DEFAULT_SEGMENT_MIX, SEGMENTS, SimParams
from abtest.sim.policy import RetargetingPolicy, holdout

__all__ = [
    "Objective",
    "best_policies",
    "cap_label",
    "frequency_cap_advice",
    "gap_design_view",
    "observed_vs_simulated",
    "policy_uncertainty",
    "policy_whatif",
    "segment_mix",
]

Objective = Literal["cost_per_incremental_conversion", "incremental_conversion_rate"]


def cap_label(cap: int | None, cap_days: int = 7) -> str:
    """``None`` -> ``"no cap"``, 3 -> ``"3 per 7 d"``."""
    return "no cap" if cap is None else f"{int(cap)} per {cap_days} d"


def _policies(gaps: Iterable[int], caps: Iterable[int | None], windows: Iterable[int],
              weekly_frequency: float, cap_days: int) -> list[RetargetingPolicy]:
    out = []
    for g in gaps:
        for w in windows:
            for c in caps:
                name = f"gap {int(g)} d · {cap_label(c, cap_days)} · window {int(w)} d"
                out.append(RetargetingPolicy(name=name, gap_days=int(g), active_window_days=int(w),
                                             weekly_frequency=float(weekly_frequency),
                                             frequency_cap=None if c is None else int(c),
                                             cap_days=cap_days))
    if not out:
        raise ValueError("the grid is empty: give at least one gap, cap and window")
    return out


def policy_whatif(
    *,
    gaps: Sequence[int] = (0, 1, 3, 7),
    caps: Sequence[int | None] = (None, 6, 3),
    windows: Sequence[int] = (14, 28),
    weekly_frequency: float = 3.0,
    cap_days: int = 7,
    segments: Sequence[str] = SEGMENTS,
    horizon_days: int = 28,
    params: SimParams | None = None,
) -> pd.DataFrame:
    """Expected outcomes of every gap × cap × window policy, per segment (expected-value engine).

    Returns one row per segment × policy: ``segment, policy, gap_days, frequency_cap, cap,
    active_window_days`` and the engine's ``conversion_rate, incremental_conversion_rate,
    impressions_per_lead, cost_per_lead, annoyance_rate, cost_per_incremental_conversion``
    (``inf`` when a policy adds no conversions). ``cap`` is the readable label ("no cap").
    """
    from abtest.sim.expected import expected_outcomes

    policies = _policies(gaps, caps, windows, weekly_frequency, cap_days)
    frames = []
    for seg in segments:
        ev = expected_outcomes(policies, seg, sim=params, horizon_days=int(horizon_days))
        ev.insert(0, "segment", seg)
        frames.append(ev)
    out = pd.concat(frames, ignore_index=True)
    meta = pd.DataFrame({
        "policy": [p.name for p in policies],
        "gap_days": [p.gap_days for p in policies],
        "frequency_cap": pd.array([p.frequency_cap for p in policies], dtype="Int64"),
        "cap": [cap_label(p.frequency_cap, cap_days) for p in policies],
        "active_window_days": [p.active_window_days for p in policies],
    })
    out = out.merge(meta, on="policy", how="left")
    for col in ("segment", "policy", "cap"):
        out[col] = out[col].astype("string")
    first = ["segment", "policy", "gap_days", "frequency_cap", "cap", "active_window_days"]
    return out[first + [c for c in out.columns if c not in first]]


def _eligible(whatif: pd.DataFrame, annoyance_ceiling: float | None,
              max_cost_per_incremental_conversion: float | None) -> pd.DataFrame:
    ok = whatif[whatif["incremental_conversion_rate"] > 0]
    if annoyance_ceiling is not None:
        ok = ok[ok["annoyance_rate"] <= annoyance_ceiling]
    if max_cost_per_incremental_conversion is not None:
        ok = ok[ok["cost_per_incremental_conversion"] <= max_cost_per_incremental_conversion]
    return ok


def best_policies(whatif: pd.DataFrame, *, objective: Objective = "cost_per_incremental_conversion",
                  annoyance_ceiling: float | None = None,
                  max_cost_per_incremental_conversion: float | None = None) -> pd.DataFrame:
    """Best policy per segment: lowest cost per incremental conversion (or most increment).

    Only policies that add conversions (increment > 0) and, when given, stay under the annoyance
    ceiling and the cost ceiling per incremental conversion are eligible; a segment where none is
    eligible is left out. "Most increment under a cost ceiling" is the marketer's question (as
    many extra buyers as a target cost per extra buyer allows): lowest cost alone always favours
    the lightest policy, because extra impressions have diminishing returns.
    """
    ok = _eligible(whatif, annoyance_ceiling, max_cost_per_incremental_conversion)
    minimise = objective.startswith("cost")
    ordered = ok.sort_values(["segment", objective], ascending=[True, minimise], kind="stable")
    return ordered.groupby("segment", sort=False).head(1).reset_index(drop=True)


def policy_uncertainty(
    whatif: pd.DataFrame,
    *,
    per_segment: int = 3,
    leads: int = 2000,
    replicates: int = 8,
    seed: int = 1,
    objective: Objective = "cost_per_incremental_conversion",
    cap_days: int = 7,
    weekly_frequency: float = 3.0,
    horizon_days: int = 28,
    params: SimParams | None = None,
    annoyance_ceiling: float | None = None,
    max_cost_per_incremental_conversion: float | None = None,
) -> pd.DataFrame:
    """Monte Carlo replays of each segment's ``per_segment`` best policies from ``whatif``.

    The candidates are ranked as :func:`best_policies` ranks them (same objective and ceilings).

    Every replicate simulates ``leads`` leads per segment under each policy and the holdout
    (common random numbers). Returns per segment × policy: ``incremental_rate`` (mean over
    replicates) with a 95% interval (t over replicates), ``cost_per_incremental_conversion``
    pooled over replicates (``inf`` when the pooled increment is <= 0), and ``share_best``: the
    share of replicates in which the policy had the best objective among those replayed.
    """
    from scipy import stats

    from abtest.sim.outputs import run_policies

    if replicates < 2:
        raise ValueError("replicates must be >= 2 for an interval")
    minimise = objective.startswith("cost")
    rows = []
    eligible = _eligible(whatif, annoyance_ceiling, max_cost_per_incremental_conversion)
    for seg, g in eligible.groupby("segment", sort=True):
        ranked = g.sort_values(objective, ascending=minimise, kind="stable").head(per_segment)
        pols = [RetargetingPolicy(name=str(r.policy), gap_days=int(r.gap_days),
                                  active_window_days=int(r.active_window_days),
                                  weekly_frequency=weekly_frequency,
                                  frequency_cap=None if pd.isna(r.frequency_cap)
                                  else int(r.frequency_cap), cap_days=cap_days)
                for r in ranked.itertuples()]
        runs = run_policies([holdout("holdout"), *pols], leads={str(seg): leads},
                            horizon_days=horizon_days, params=params, seed=seed,
                            replicates=replicates, segments=[str(seg)])
        runs = runs[runs["policy"] != "holdout"].copy()
        runs["incremental_rate"] = runs["incremental_conversions"] / runs["leads"]
        score = runs["cost"] / runs["incremental_conversions"].where(
            runs["incremental_conversions"] > 0) if minimise else runs["incremental_rate"]
        runs["_score"] = score.fillna(np.inf) if minimise else score
        best = runs.loc[runs.groupby("replicate")["_score"].idxmin() if minimise
                        else runs.groupby("replicate")["_score"].idxmax(), "policy"]
        share = best.value_counts() / replicates
        t = stats.t.ppf(0.975, replicates - 1)
        for pol, r in runs.groupby("policy", sort=False):
            inc = r["incremental_rate"].to_numpy(dtype=float)
            half = t * inc.std(ddof=1) / np.sqrt(replicates)
            tot_inc = float(r["incremental_conversions"].sum())
            rows.append({
                "segment": str(seg), "policy": str(pol), "replicates": replicates,
                "leads_per_replicate": leads,
                "incremental_rate": float(inc.mean()),
                "incremental_rate_low": float(inc.mean() - half),
                "incremental_rate_high": float(inc.mean() + half),
                "cost_per_incremental_conversion": (float(r["cost"].sum()) / tot_inc
                                                    if tot_inc > 0 else float("inf")),
                "share_best": float(share.get(pol, 0.0)),
            })
    out = pd.DataFrame(rows)
    for col in ("segment", "policy"):
        out[col] = out[col].astype("string")
    return out


def frequency_cap_advice(
    *,
    caps: Sequence[int | None] = (None, 10, 6, 4, 2),
    gap_days: int = 1,
    window_days: int = 28,
    weekly_frequency: float = 3.0,
    cap_days: int = 7,
    segments: Sequence[str] = SEGMENTS,
    horizon_days: int = 28,
    params: SimParams | None = None,
    max_cost_per_incremental_conversion: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expected outcomes by frequency cap per segment, and the advised cap per segment.

    The advice is the cap with the lowest cost per incremental conversion (the cap that stops
    paying for impressions that only tire people) or, with ``max_cost_per_incremental_conversion``,
    the cap that brings the most extra conversions within that cost each. Returns ``(scan, advice)``; ``advice`` has
    ``segment, cap, cost_per_incremental_conversion, incremental_conversion_rate,
    saving_vs_no_cap`` (relative cost saving against no cap; 0 when no cap is best).
    """
    scan = policy_whatif(gaps=(gap_days,), caps=caps, windows=(window_days,),
                         weekly_frequency=weekly_frequency, cap_days=cap_days,
                         segments=segments, horizon_days=horizon_days, params=params)
    from abtest.sim.advice import PolicyObjective  # the one definition of "best"

    goal = PolicyObjective.from_parameters(
        max_cost_per_incremental=max_cost_per_incremental_conversion)
    advice = best_policies(scan, objective=goal.objective,
                           max_cost_per_incremental_conversion=goal.max_cost_per_incremental_conversion)
    nocap = scan[scan["frequency_cap"].isna()].set_index("segment")[
        "cost_per_incremental_conversion"]
    base = nocap.reindex(advice["segment"]).to_numpy(dtype=float)
    best = advice["cost_per_incremental_conversion"].to_numpy(dtype=float)
    saving = np.where(np.isfinite(base) & (base > 0), 1.0 - best / np.where(base > 0, base, 1.0),
                      0.0)
    advice = advice.assign(saving_vs_no_cap=saving)
    return scan, advice[["segment", "cap", "frequency_cap", "cost_per_incremental_conversion",
                         "incremental_conversion_rate", "saving_vs_no_cap"]]


def gap_design_view(
    *,
    gaps: Sequence[int] = (1, 3, 7),
    weekly_frequency: float = 3.0,
    window_days: int = 28,
    leads_per_arm: Sequence[int] = (1000,),
    horizon_days: int = 28,
    segments_mix: Mapping[str, float] | None = None,
    n_sims: int = 200,
    seed: int = 0,
    params: SimParams | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the simulator expects of a gap test: true rates per arm and power per design size.

    Returns ``(rates, power)``: ``rates`` has ``arm, segment, horizon_days, conversion_rate``
    (expected-value engine; segment "all" mixes by ``segments_mix``) and ``power`` the output of
    :func:`abtest.sim.power.simulate_power` (binomial draws around the exact rates).
    """
    from abtest.sim.power import gap_test_arms, simulate_power, true_rates

    mix = dict(segments_mix or DEFAULT_SEGMENT_MIX)
    arms = gap_test_arms(gaps, weekly_frequency=weekly_frequency,
                         active_window_days=window_days)
    rates = true_rates(arms, horizons=[horizon_days], params=params)
    w = rates["segment"].map(mix).fillna(0.0)
    pooled = (rates.assign(_w=w, _wr=w * rates["conversion_rate"])
              .groupby(["arm", "horizon_days"], sort=False)[["_w", "_wr"]].sum().reset_index())
    pooled = pooled.assign(segment="all", conversion_rate=pooled["_wr"] / pooled["_w"])
    rates = pd.concat([pooled[["arm", "segment", "horizon_days", "conversion_rate"]], rates],
                      ignore_index=True)
    power = simulate_power(arms, leads_per_arm=list(leads_per_arm), horizons=[horizon_days],
                           segments_mix=mix, n_sims=n_sims, seed=seed, params=params,
                           method="binomial")
    return rates, power


def segment_mix(users: pd.DataFrame, *, arm: str | None = None,
                column: str = "segment") -> dict[str, float]:
    """Shares of the simulator's segments among ``users`` (of one ``arm`` when given), so pooled
    simulated rates mix segments as the analyst's leads do. Labels the simulator does not know are
    left out; with none known (or no ``column``) the default mix warm 0.4 / cold 0.4 / lapsed 0.2.
    """
    default = dict(DEFAULT_SEGMENT_MIX)
    if column not in users.columns:
        return default
    seg = users[column] if arm is None else users.loc[(users["arm"] == arm).fillna(False), column]
    counts = seg.astype("string").value_counts()
    counts = counts[counts.index.isin(list(SEGMENTS))]
    if counts.sum() == 0:
        return default
    return {s: float(counts.get(s, 0) / counts.sum()) for s in SEGMENTS if counts.get(s, 0) > 0}


def observed_vs_simulated(
    rates: pd.DataFrame,
    users: pd.DataFrame,
    *,
    control: str,
    segment: str = "all",
    sim_control: str = "holdout",
    level: float = 0.95,
) -> pd.DataFrame:
    """The simulator's expected rate per arm next to the rate a test observed, arm by arm.

    ``rates`` is the ``rates`` frame of :func:`gap_design_view` (``arm, segment, horizon_days,
    conversion_rate``); ``users`` the test's leads (``arm, converted``). The test's ``control``
    arm is matched to the simulator's ``sim_control`` (its holdout); every other arm by name (the
    simulated gap arms are named by :func:`abtest.sim.power.gap_arm_name`). Returns one row per
    simulated arm of ``segment``: ``arm, horizon_days, conversion_rate`` (simulated),
    ``leads, conversions, observed_rate`` and its Wilson ``level`` interval ``observed_low,
    observed_high`` (missing where the test has no such arm).
    """
    from statsmodels.stats.proportion import proportion_confint

    for col in ("arm", "converted"):
        if col not in users.columns:
            raise ValueError(f"users frame lacks column {col!r}")
    sim = rates[rates["segment"] == segment]
    if sim.empty:
        raise ValueError(f"no simulated rates for segment {segment!r} "
                         f"(segments: {sorted(set(rates['segment']))})")
    arm = users["arm"].astype("string").replace({control: sim_control})
    conv = users["converted"].astype(float)
    counts = pd.DataFrame({"arm": arm, "x": conv}).groupby("arm")["x"].agg(["size", "sum"])
    n = sim["arm"].map(counts["size"]).astype("Float64")
    x = sim["arm"].map(counts["sum"]).astype("Float64")
    have = n.notna().to_numpy()
    lo = np.full(len(sim), np.nan)
    hi = np.full(len(sim), np.nan)
    if have.any():
        lo[have], hi[have] = proportion_confint(x[have].to_numpy(float), n[have].to_numpy(float),
                                                alpha=1 - level, method="wilson")
    out = pd.DataFrame({
        "arm": sim["arm"].astype("string").to_numpy(),
        "horizon_days": sim["horizon_days"].to_numpy(),
        "conversion_rate": sim["conversion_rate"].to_numpy(dtype=float),
        "leads": n.astype("Int64").to_numpy(), "conversions": x.astype("Int64").to_numpy(),
        "observed_rate": (x / n).to_numpy(),
        "observed_low": pd.array(lo, dtype="Float64"),
        "observed_high": pd.array(hi, dtype="Float64"),
    })
    return out
