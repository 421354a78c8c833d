"""Simulator glue for the timing reports: policy what-if grids, cap advice, design power.

Thin wrappers over :mod:`abtest.sim` that return tidy frames the notebooks plot directly:

* :func:`policy_whatif` — the expected-value engine over gap × frequency cap × audience window,
  per segment (exact expectations, no noise, milliseconds per policy);
* :func:`best_policies` — the best policy per segment under an objective;
* :func:`policy_uncertainty` — Monte Carlo replays of a few policies (same leads under every
  policy, common random numbers) giving intervals and how often each policy comes out best;
* :func:`frequency_cap_advice` — the cap with the lowest cost per incremental conversion;
* :func:`gap_design_view` — what the simulator expects a gap test to show, and its power;
* :func:`calibrated_params` — the simulator's organic intent (``h0``, half-life, floor) fitted to
  the analyst's own holdout leads, so every what-if above starts from their data;
  :func:`calibration_table` formats its fit table for a report and :func:`segment_mix` gives the
  data's own warm / cold / lapsed shares for pooled views;
* :func:`calibrate_ad_effect` — then the ad effect: one common multiplier on the literature lift,
  fitted to the treated arms' increments over the holdout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from abtest.sim.params import SEGMENTS, SimParams
from abtest.sim.policy import RetargetingPolicy, holdout

__all__ = [
    "MIN_EVENTS_LEVEL",
    "MIN_EVENTS_SHAPE",
    "Objective",
    "best_policies",
    "calibrate_ad_effect",
    "calibrated_params",
    "calibration_table",
    "cap_label",
    "frequency_cap_advice",
    "gap_design_view",
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
    if max_cost_per_incremental_conversion is None:
        advice = best_policies(scan)
    else:  # as many extra conversions as the target cost per extra conversion allows
        advice = best_policies(scan, objective="incremental_conversion_rate",
                               max_cost_per_incremental_conversion=max_cost_per_incremental_conversion)
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

    mix = dict(segments_mix or {"warm": 0.4, "cold": 0.4, "lapsed": 0.2})
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


# --------------------------------------------------------------------------------------------
# Calibration: the simulator's organic intent from the analyst's own holdout leads
# --------------------------------------------------------------------------------------------

MIN_EVENTS_SHAPE = 40
"""Holdout conversions a segment needs before its decay *shape* (h0, half-life, floor) is fitted.

Three parameters from one event per lead: below ~40 events the half-life's standard error is
typically as large as the estimate (the demo's 35-conversion cold holdout fits a 0.05-day
half-life with SE 1.7 days), so fewer events only rescale the base level (see ``MIN_EVENTS_LEVEL``).
"""

MIN_EVENTS_LEVEL = 10
"""Holdout conversions needed to rescale a segment's base intent level (one parameter, SE about
``1/sqrt(events)``: 10 events give ±30%); below it the base parameters are kept unchanged."""

_FIT_COLUMNS = ["segment", "n_leads", "n_events", "observed_rate", "model_rate", "fit", "h0",
                "h0_se", "half_life_days", "half_life_se", "floor", "floor_se", "used", "note"]


def _holdout_durations(users: pd.DataFrame, events: pd.DataFrame, *, holdout_arm: str,
                       horizon_days: int, conversion_events: Sequence[str],
                       data_end: str | pd.Timestamp | None) -> pd.DataFrame:
    """Holdout leads with ``obs_days`` (whole days observed, <= horizon) and ``dur`` (whole days
    from entry to first conversion when inside the observed days, else NaN)."""
    for col in ("user_id", "arm", "entry_time"):
        if col not in users.columns:
            raise ValueError(f"users frame lacks column {col!r} (use abtest.stories.load_users)")
    for col in ("user_id", "event", "timestamp"):
        if col not in events.columns:
            raise ValueError(f"events frame lacks column {col!r} (use abtest.io.read_events)")
    hold = users[(users["arm"].astype("string") == holdout_arm).fillna(False).to_numpy()]
    if hold.empty:
        arms = sorted(users["arm"].astype("string").dropna().unique().tolist())
        raise ValueError(f"no leads in holdout arm {holdout_arm!r} (arms: {arms}); calibration "
                         "needs never-retargeted leads so the ad effect is not taken for intent")
    entry = pd.to_datetime(hold["entry_time"], utc=True)
    if entry.isna().any():
        raise ValueError("some holdout leads have no entry_time")
    if data_end is None:
        end = pd.to_datetime(events["timestamp"], utc=True).max()
    else:
        end = pd.Timestamp(data_end)
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    day = pd.Timedelta(days=1)
    observed = np.floor(((end - entry) / day).to_numpy(dtype=float))
    obs_days = np.clip(observed, 0, horizon_days)
    conv = events.loc[events["event"].isin(list(conversion_events)).to_numpy(),
                      ["user_id", "timestamp"]]
    lead = pd.DataFrame({"user_id": hold["user_id"].to_numpy(), "_i": np.arange(len(hold)),
                         "_entry": entry.to_numpy()})
    joined = lead.merge(conv, on="user_id", how="inner")
    elapsed = ((pd.to_datetime(joined["timestamp"], utc=True) - joined["_entry"]) / day
               ).to_numpy(dtype=float)
    keep = elapsed >= 0  # a purchase before entry is not a conversion of this lead
    first = np.full(len(hold), np.inf)
    np.minimum.at(first, joined["_i"].to_numpy()[keep], elapsed[keep])
    dur = np.floor(first)
    dur = np.where(dur < obs_days, dur, np.nan)
    seg = (hold["segment"].astype("string").to_numpy(dtype=object, na_value="")
           if "segment" in hold.columns else np.full(len(hold), "", dtype=object))
    out = pd.DataFrame({"segment": seg, "obs_days": obs_days, "dur": dur})
    return out[out["obs_days"].to_numpy() > 0].reset_index(drop=True)


def _fit_shape(frame: pd.DataFrame, horizon_days: int, kappa: float | None) -> dict[str, float]:
    """Full three-parameter fit with :func:`abtest.sim.calibration.fit_intent` (common data cut:
    each lead's entry is placed ``obs_days`` before ``as_of``)."""
    from abtest.sim.calibration import fit_intent

    entry = horizon_days - frame["obs_days"].to_numpy(dtype=float)
    conv = entry + frame["dur"].to_numpy(dtype=float)
    leads = pd.DataFrame({"entry_day": entry, "conversion_day": pd.array(conv, dtype="Float64")})
    return fit_intent(leads, as_of=horizon_days, by=(), frailty_shape=kappa).iloc[0].to_dict()


def _log_surv(cum: np.ndarray, kappa: float) -> np.ndarray:
    return -cum if np.isinf(kappa) else -kappa * np.log1p(cum / kappa)


def _fit_level(frame: pd.DataFrame, profiles: np.ndarray, mixes: list[list[tuple]],
               horizon_days: int) -> tuple[float, float]:
    """MLE of one factor ``c`` scaling the base intent hazard (``h0`` and floor together; base
    half-life), returning ``(c, se_c)``.

    Lead ``i`` follows profile ``profiles[i]``, whose survival is the mixture
    ``Σ w·(1 + c·H_s(d)/κ_s)^(-κ_s)`` over ``mixes[p] = [(w, H_s, κ_s), ...]`` (one component for a
    known segment). Day-binned likelihood as in ``fit_intent``: an event on day ``d`` contributes
    ``S(d-1) - S(d)``, a lead observed ``k`` days without converting ``S(k-1)``.
    """
    obs = frame["obs_days"].to_numpy(dtype=np.int64)
    dur = frame["dur"].to_numpy(dtype=float)
    ev = ~np.isnan(dur)
    n_prof = len(mixes)
    width = horizon_days + 1
    ev_n = np.bincount(profiles[ev] * width + dur[ev].astype(np.int64),
                       minlength=n_prof * width).reshape(n_prof, width)[:, :horizon_days]
    ce_n = np.bincount(profiles[~ev] * width + obs[~ev],
                       minlength=n_prof * width).reshape(n_prof, width)[:, 1:]

    def negll(log_c: float) -> float:
        c = float(np.exp(log_c))
        surv = np.zeros((n_prof, horizon_days + 1))  # S(d) for d = -1 .. H-1
        for p, mix in enumerate(mixes):
            for w, cum, kappa in mix:
                surv[p] += w * np.exp(_log_surv(c * np.r_[0.0, cum], kappa))
        p_ev = np.maximum(surv[:, :-1] - surv[:, 1:], 1e-300)
        ll = np.sum(ev_n * np.log(p_ev)) + np.sum(ce_n * np.log(np.maximum(surv[:, :-1], 1e-300)))
        return -float(ll)

    from scipy import optimize

    res = optimize.minimize_scalar(negll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded",
                                   options={"xatol": 1e-7})
    x, step = float(res.x), 1e-3
    curv = (negll(x + step) - 2 * negll(x) + negll(x - step)) / step**2
    c = float(np.exp(x))
    return c, (c / np.sqrt(curv) if curv > 0 else float("inf"))


def calibrated_params(
    users: pd.DataFrame,
    events: pd.DataFrame,
    *,
    holdout_arm: str,
    horizon_days: int,
    conversion_events: Sequence[str] = ("Purchase",),
    base: SimParams | None = None,
    by_segment: bool = True,
    data_end: str | pd.Timestamp | None = None,
) -> tuple[SimParams, pd.DataFrame]:
    """Simulator parameters whose organic intent is fitted to the analyst's own holdout leads.

    ``users`` is the lead table of :func:`abtest.stories.load_users` (``user_id, arm, segment,
    entry_time``) and ``events`` its canonical events (``user_id, event, timestamp``). Only the
    ``holdout_arm`` leads are used: they never see retargeting, so their time to first
    ``conversion_events`` event measures organic intent alone (simulation-models.md §4). Each lead
    is observed for ``min(horizon_days, whole days from entry to data_end)`` days (``data_end``:
    default the last event) and right censored there; durations are whole elapsed days since entry,
    the bins of the simulator's daily hazard ``h(r) = z·(h0·2^(-r/T½) + floor)``.

    Per segment (warm / cold / lapsed; one pooled fit applied to all three when ``by_segment`` is
    false), by the number of holdout conversions ``n``:

    * ``n >= MIN_EVENTS_SHAPE`` and a half-life with SE below its estimate: ``h0``, ``half_life_days``
      and ``h_floor`` by maximum likelihood (:func:`abtest.sim.calibration.fit_intent`, with the
      base segment's gamma frailty shape held fixed) — ``fit = "shape"``;
    * ``n >= MIN_EVENTS_LEVEL`` otherwise: one factor scaling the base ``h0`` and ``h_floor``
      together, base half-life kept (the count identifies the level, not the decay) —
      ``fit = "level"``;
    * fewer, no holdout leads in the segment: the base parameters unchanged — ``fit = "none"``.

    Everything the holdout cannot identify is kept from ``base`` (default
    :func:`abtest.sim.params.default_params`): the ad effect (lift, Hill curve, adstock), fatigue
    and weariness, delivery, CTR, costs, frailty, attribution windows. Fit those from gap arms and
    exposure logs (:func:`abtest.sim.calibration.fit_frequency_response`) if needed.

    Returns ``(params, fit)``. ``fit`` has one row per simulator segment (plus any segment label
    the simulator does not know, listed unused): ``segment, n_leads, n_events, observed_rate``
    (``n_events / n_leads``), ``model_rate`` (holdout conversion rate at the horizon from the
    expected-value engine under the returned params), ``fit`` (shape / level / none), ``h0,
    half_life_days, floor`` (the values now in ``params``) with ``*_se`` standard errors (0 for a
    value kept from the base, not estimated), ``used`` (whether the data changed the segment) and
    ``note`` (why not, or how). ``observed_rate``/``model_rate`` are missing (``<NA>``) for a
    segment without leads or unknown to the simulator; a pooled (``by_segment=False``) level fit
    shows ``h0 .. floor_se`` missing, since each segment's own base was scaled (see ``note``).
    """
    from dataclasses import replace

    from abtest.sim.calibration import intent_cumulative_hazard
    from abtest.sim.expected import expected_outcomes
    from abtest.sim.params import default_params

    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    if isinstance(conversion_events, str):
        conversion_events = [conversion_events]
    base = base or default_params()
    frame = _holdout_durations(users, events, holdout_arm=holdout_arm,
                               horizon_days=int(horizon_days),
                               conversion_events=list(conversion_events),
                               data_end=data_end)
    if by_segment and "segment" not in users.columns:
        raise ValueError("users frame has no 'segment' column: pass by_segment=False for one "
                         "pooled fit applied to every simulator segment")
    seg_of = frame["segment"].to_numpy(dtype=object)
    known = np.isin(seg_of, list(SEGMENTS))
    h = int(horizon_days)
    cums = {s: intent_cumulative_hazard(np.arange(h), h0=base.segment(s).h0,
                                        half_life=base.segment(s).half_life_days,
                                        floor=base.segment(s).h_floor) for s in SEGMENTS}
    kappas = {s: base.segment(s).frailty_shape for s in SEGMENTS}
    default_mix = {"warm": 0.4, "cold": 0.4, "lapsed": 0.2}

    def one_fit(sub: pd.DataFrame, segs: list[str], profiles: np.ndarray,
                mixes: list[list[tuple]], kappa: float) -> dict:
        n_ev = int(sub["dur"].notna().sum())
        row = {"n_leads": len(sub), "n_events": n_ev,
               "observed_rate": n_ev / len(sub) if len(sub) else pd.NA}
        if n_ev >= MIN_EVENTS_SHAPE:
            fit = _fit_shape(sub, h, None if np.isinf(kappa) else float(kappa))
            hl, hl_se = float(fit["half_life_days"]), float(fit["half_life_se"])
            inside = 0.06 < hl < 1900.0  # fit_intent's search bounds are 0.05 .. 2000 days
            if fit["converged"] and inside and np.isfinite(hl_se) and hl_se < hl:
                vals = {s: (float(fit["h0"]), hl, float(fit["floor"])) for s in segs}
                return {**row, "fit": "shape", "vals": vals, "se": (
                    float(fit["h0_se"]), hl_se, float(fit["floor_se"])), "used": True,
                    "note": f"h0, half-life and floor fitted to {n_ev} holdout conversions"}
            why = (f"half-life not identified ({hl:.2g} ± {hl_se:.2g} d)")
        else:
            why = f"{n_ev} conversions < {MIN_EVENTS_SHAPE} for the decay shape"
        if n_ev >= MIN_EVENTS_LEVEL:
            c, c_se = _fit_level(sub, profiles, mixes, h)
            vals = {s: (base.segment(s).h0 * c, base.segment(s).half_life_days,
                        base.segment(s).h_floor * c) for s in segs}
            s0 = base.segment(segs[0])
            return {**row, "fit": "level", "vals": vals,
                    "se": (s0.h0 * c_se, 0.0, s0.h_floor * c_se), "used": True,
                    "note": f"{why}: base half-life kept, h0 and floor scaled ×{c:.2f} "
                            f"(± {c_se:.2f})"}
        vals = {s: (base.segment(s).h0, base.segment(s).half_life_days, base.segment(s).h_floor)
                for s in segs}
        return {**row, "fit": "none", "vals": vals, "se": (0.0, 0.0, 0.0), "used": False,
                "note": (f"{n_ev} holdout conversions < {MIN_EVENTS_LEVEL}: base parameters kept"
                         if len(sub) else "no holdout leads: base parameters kept")}

    results: list[tuple[str, dict]] = []
    if by_segment:
        for s in SEGMENTS:
            sub = frame[seg_of == s]
            prof = np.zeros(len(sub), np.int64)
            results.append((s, one_fit(sub, [s], prof, [[(1.0, cums[s], kappas[s])]], kappas[s])))
    else:
        seg_idx = {s: i for i, s in enumerate(SEGMENTS)}
        prof = np.array([seg_idx.get(x, len(SEGMENTS)) for x in seg_of], np.int64)
        mixes = [[(1.0, cums[s], kappas[s])] for s in SEGMENTS]
        mixes.append([(w, cums[s], kappas[s]) for s, w in default_mix.items()])
        kap = set(kappas.values())
        results.append(("all", one_fit(frame, list(SEGMENTS), prof, mixes,
                                       kap.pop() if len(kap) == 1 else 1.0)))

    changes = {}
    for _, r in results:
        for s, (h0, hl, fl) in r["vals"].items():
            changes[s] = replace(base.segment(s), h0=float(h0), half_life_days=float(hl),
                                 h_floor=float(fl))
    params = replace(base, **changes)

    from abtest.sim.policy import holdout as holdout_policy

    model = {s: float(expected_outcomes([holdout_policy()], s, sim=params,
                                        horizon_days=h)["conversion_rate"].iloc[0])
             for s in SEGMENTS}
    rows = []
    for name, r in results:
        if name == "all":
            n = np.array([(seg_of == s).sum() for s in SEGMENTS] + [(~known).sum()], float)
            w = np.array([model[s] for s in SEGMENTS]
                         + [sum(default_mix[s] * model[s] for s in SEGMENTS)])
            model_rate = float(n @ w / n.sum()) if n.sum() else pd.NA
            # a pooled level fit scales each segment's own base: no single value to show
            h0, hl, fl = r["vals"]["warm"] if r["fit"] != "level" else (pd.NA,) * 3
            if r["fit"] == "level":
                r["se"] = (pd.NA,) * 3
        else:
            model_rate = model[name] if r["n_leads"] else pd.NA
            h0, hl, fl = r["vals"][name]
        rows.append({"segment": name, "n_leads": r["n_leads"], "n_events": r["n_events"],
                     "observed_rate": r["observed_rate"], "model_rate": model_rate,
                     "fit": r["fit"], "h0": h0, "h0_se": r["se"][0], "half_life_days": hl,
                     "half_life_se": r["se"][1], "floor": fl, "floor_se": r["se"][2],
                     "used": r["used"], "note": r["note"]})
    if by_segment:
        for lab in sorted(set(seg_of[~known].tolist())):
            sub = frame[seg_of == lab]
            rows.append({"segment": lab or "(missing)", "n_leads": len(sub),
                         "n_events": int(sub["dur"].notna().sum()), "observed_rate": pd.NA,
                         "model_rate": pd.NA, "fit": "none", "h0": pd.NA, "h0_se": pd.NA,
                         "half_life_days": pd.NA, "half_life_se": pd.NA, "floor": pd.NA,
                         "floor_se": pd.NA, "used": False,
                         "note": f"not a simulator segment ({', '.join(SEGMENTS)}): leads unused"})
    fit_table = pd.DataFrame(rows, columns=_FIT_COLUMNS)
    for col in ("observed_rate", "model_rate", "h0", "h0_se", "half_life_days", "half_life_se",
                "floor", "floor_se"):
        fit_table[col] = fit_table[col].astype("Float64")
    for col in ("segment", "fit", "note"):
        fit_table[col] = fit_table[col].astype("string")
    fit_table["n_leads"] = fit_table["n_leads"].astype("int64")
    fit_table["n_events"] = fit_table["n_events"].astype("int64")
    fit_table["used"] = fit_table["used"].astype(bool)
    return params, fit_table


def segment_mix(users: pd.DataFrame, *, arm: str | None = None,
                column: str = "segment") -> dict[str, float]:
    """Shares of the simulator's segments among ``users`` (of one ``arm`` when given), so pooled
    simulated rates mix segments as the analyst's leads do. Labels the simulator does not know are
    left out; with none known (or no ``column``) the default mix warm 0.4 / cold 0.4 / lapsed 0.2.
    """
    default = {"warm": 0.4, "cold": 0.4, "lapsed": 0.2}
    if column not in users.columns:
        return default
    seg = users[column] if arm is None else users.loc[(users["arm"] == arm).fillna(False), column]
    counts = seg.astype("string").value_counts()
    counts = counts[counts.index.isin(list(SEGMENTS))]
    if counts.sum() == 0:
        return default
    return {s: float(counts.get(s, 0) / counts.sum()) for s in SEGMENTS if counts.get(s, 0) > 0}


def calibration_table(fit: pd.DataFrame) -> pd.DataFrame:
    """The fit table of :func:`calibrated_params` as readable text columns for a report:
    ``segment, holdout_leads, conversions, observed_rate, simulated_rate, fit`` and ``h0``,
    ``half_life``, ``floor`` with their standard errors ("1.56%/day ± 0.33"; "kept" when taken
    from the base), and ``note``. Numbers stay numbers where a table formatter can do it."""
    def pct_day(v: object, se: object, kept: bool) -> str:
        if pd.isna(v):
            return ""
        txt = f"{float(v) * 100:.3g}%/day"
        return txt + (" (kept)" if kept else ("" if pd.isna(se) else f" ± {float(se) * 100:.2g}"))

    rows = []
    for r in fit.itertuples(index=False):
        hl_kept = r.fit != "shape"
        lvl_kept = r.fit == "none"
        hl = ("" if pd.isna(r.half_life_days) else f"{float(r.half_life_days):.3g} days"
              + (" (kept)" if hl_kept else f" ± {float(r.half_life_se):.2g}"))
        rows.append({"segment": r.segment, "holdout_leads": r.n_leads, "conversions": r.n_events,
                     "observed_rate": r.observed_rate, "simulated_rate": r.model_rate,
                     "fit": {"shape": "h0, half-life, floor", "level": "level only",
                             "none": "none (base kept)"}.get(str(r.fit), str(r.fit)),
                     "h0": pct_day(r.h0, r.h0_se, lvl_kept), "half_life": hl,
                     "floor": pct_day(r.floor, r.floor_se, lvl_kept), "note": r.note})
    out = pd.DataFrame(rows)
    for col in ("segment", "fit", "h0", "half_life", "floor", "note"):
        out[col] = out[col].astype("string")
    return out


# --------------------------------------------------------------------------------------------
# Calibration of the ad effect: one common multiplier on the lift, from the treated arms
# --------------------------------------------------------------------------------------------

_AD_COLUMNS = ["arm", "leads", "conversions", "observed_rate", "simulated_rate_before",
               "simulated_rate_after", "k", "k_se", "note"]


def _arm_strata(users: pd.DataFrame, arm: str, mix: Mapping[str, float] | None,
                ) -> tuple[dict[str, float], float, float, int, int]:
    """Segment weights, pooled observed rate and its binomial variance for one arm.

    With ``mix`` the pooled rate is the stratified ``Σ w_s p_s`` (variance ``Σ w_s² p_s(1-p_s)/n_s``);
    without it the weights are the arm's own shares of known segments, which makes the pooled rate
    the plain arm rate. Returns ``(weights, rate, variance, leads, conversions)``.
    """
    rows = users[(users["arm"].astype("string") == arm).fillna(False).to_numpy()]
    conv = rows["converted"].astype(float).to_numpy()
    if "segment" in rows.columns:
        seg = rows["segment"].astype("string").to_numpy(dtype=object, na_value="")
    else:
        seg = np.full(len(rows), "", dtype=object)
    known = np.isin(seg, list(SEGMENTS))
    if not known.any():  # no simulator segment labels: the arm as one stratum
        w = dict(mix or {"warm": 0.4, "cold": 0.4, "lapsed": 0.2})
        n, x = len(rows), float(conv.sum())
        p = x / n
        q = min(max(p, 0.5 / n), 1 - 0.5 / n)
        return {s: v / sum(w.values()) for s, v in w.items()}, p, q * (1 - q) / n, n, int(x)
    seg, conv = seg[known], conv[known]
    n_s = {s: int((seg == s).sum()) for s in SEGMENTS}
    x_s = {s: float(conv[seg == s].sum()) for s in SEGMENTS}
    if mix is None:
        w = {s: n_s[s] / len(seg) for s in SEGMENTS if n_s[s]}
    else:
        w = {s: float(v) for s, v in mix.items() if v > 0}
        missing = [s for s in w if n_s.get(s, 0) == 0]
        if missing:
            raise ValueError(f"arm {arm!r} has no leads in segment(s) {missing} of segments_mix")
        total = sum(w.values())
        w = {s: v / total for s, v in w.items()}
    rate = sum(w[s] * x_s[s] / n_s[s] for s in w)
    var = 0.0
    for s in w:  # clip p away from 0 and 1 so an arm without conversions keeps a finite weight
        q = min(max(x_s[s] / n_s[s], 0.5 / n_s[s]), 1 - 0.5 / n_s[s])
        var += w[s] ** 2 * q * (1 - q) / n_s[s]
    return w, float(rate), float(var), len(seg), int(conv.sum())


def calibrate_ad_effect(
    params: SimParams | None,
    users: pd.DataFrame,
    *,
    holdout_arm: str,
    policies: Mapping[str, RetargetingPolicy],
    horizon_days: int,
    segments_mix: Mapping[str, float] | None = None,
    k_bounds: tuple[float, float] = (0.0, 20.0),
) -> tuple[SimParams, pd.DataFrame]:
    """Scale the simulator's ad effect so its increments match the treated arms of a test.

    Run after :func:`calibrated_params` (which fits organic intent to the holdout and keeps the ad
    effect at the literature defaults). One common factor ``k`` multiplies the ad effect of every
    segment, ``L`` (``lift_multiplicative``) and ``a`` (``lift_additive``) alike (as
    :class:`abtest.sim.policy.ArmSpec` ``lift_multiplier`` does); Hill curve, adstock, fatigue and
    weariness stay as in ``params``. A test of a few thousand leads per arm measures one pooled
    increment per arm to about ±0.5 points, so it identifies one number: it cannot separate ``L``
    from ``a`` (they differ only in how the lift follows the decaying intent) nor the segments'
    relative responses; those keep their base ratios.

    ``users`` is the lead table of :func:`abtest.stories.load_users` (``arm, segment, converted``
    with ``converted`` the first-party conversion within ``horizon_days`` of entry); ``policies``
    maps each treated arm to the policy it ran (e.g. from
    :func:`abtest.sim.power.gap_test_arms`). The fit is generalised least squares of the observed
    increments ``y_a = p̂_a - p̂_holdout`` on the expected-value engine's ``m_a(k) = r_a(k) -
    r_holdout`` (pooled over the segment mix: each arm's own shares, or ``segments_mix``), with
    binomial covariance ``V = diag(var_a) + var_holdout`` (the shared holdout correlates the
    increments), ``Q(k) = (y - m)ᵀ V⁻¹ (y - m)`` minimised by bounded Brent
    (:func:`scipy.optimize.minimize_scalar`) over ``k_bounds``. ``Q`` is ``-2 log L`` of the normal
    approximation, so ``k_se = sqrt(2 / Q''(k̂))`` (observed information by central differences;
    equal to the delta-method ``(JᵀV⁻¹J)^(-1/2)`` of a model linear in ``k``). The holdout noise is
    thus in ``k_se``; the organic calibration's own uncertainty is not.

    Returns ``(params, table)``: ``params`` with ``L`` and ``a`` scaled by ``k̂`` in every segment,
    and one row per arm (holdout first): ``arm, leads, conversions, observed_rate,
    simulated_rate_before`` (``k = 1``), ``simulated_rate_after`` (``k̂``), ``k, k_se, note``.
    """
    from dataclasses import replace

    from scipy import optimize

    from abtest.sim.expected import expected_outcomes
    from abtest.sim.params import default_params
    from abtest.sim.policy import ArmSpec, holdout

    for col in ("arm", "converted"):
        if col not in users.columns:
            raise ValueError(f"users frame lacks column {col!r} (use abtest.stories.load_users)")
    arms_present = set(users["arm"].astype("string").dropna().tolist())
    treated = [a for a in policies if a != holdout_arm]
    if not treated:
        raise ValueError("policies names no treated arm: give the policy each treated arm ran")
    missing = [a for a in [holdout_arm, *treated] if a not in arms_present]
    if missing:
        raise ValueError(f"arm(s) {missing} not in users (arms: {sorted(arms_present)})")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    lo, hi = (float(b) for b in k_bounds)
    if not 0 <= lo < hi:
        raise ValueError(f"k_bounds must satisfy 0 <= low < high, got {k_bounds}")
    params = params or default_params()
    h = int(horizon_days)
    strata = {a: _arm_strata(users, a, segments_mix) for a in [holdout_arm, *treated]}
    segs = sorted({s for a in strata for s in strata[a][0]}, key=SEGMENTS.index)
    pols = [policies[a] for a in treated]

    def pooled_rates(k: float) -> np.ndarray:
        """Expected pooled rate of holdout then each treated arm with the ad effect × k."""
        spec = ArmSpec("k", holdout(), lift_multiplier=float(k))
        by_seg = {}
        for s in segs:
            ev = expected_outcomes([holdout(), *pols], s, sim=params, horizon_days=h, arm=spec)
            by_seg[s] = ev["conversion_rate"].to_numpy(dtype=float)
        return np.array([sum(w * by_seg[s][i] for s, w in strata[a][0].items())
                         for i, a in enumerate([holdout_arm, *treated])])

    obs = np.array([strata[a][1] for a in [holdout_arm, *treated]])
    var = np.array([strata[a][2] for a in [holdout_arm, *treated]])
    y = obs[1:] - obs[0]
    v_inv = np.linalg.inv(np.diag(var[1:]) + var[0])

    def q(k: float) -> float:
        r = pooled_rates(k)
        res = y - (r[1:] - r[0])
        return float(res @ v_inv @ res)

    fit = optimize.minimize_scalar(q, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-6})
    k = float(fit.x)
    step = 1e-3 * max(1.0, k)
    a, b = max(lo, k - step), k + step  # one-sided at the lower bound
    mid = (a + b) / 2
    curv = (q(b) - 2 * q(mid) + q(a)) / ((b - a) / 2) ** 2
    k_se = float(np.sqrt(2.0 / curv)) if curv > 0 else float("inf")
    at_bound = k <= lo + 1e-4 or k >= hi - 1e-4
    before, after = pooled_rates(1.0), pooled_rates(k)
    note = (f"ad effect (L and a) ×{k:.2f} ± {k_se:.2f} in every segment, fitted to "
            f"{len(treated)} treated arm(s)")
    if at_bound:
        note += f"; at the search bound {k_bounds}: the data push k outside it"
    rows = []
    for i, arm in enumerate([holdout_arm, *treated]):
        rows.append({"arm": arm, "leads": strata[arm][3], "conversions": strata[arm][4],
                     "observed_rate": obs[i], "simulated_rate_before": float(before[i]),
                     "simulated_rate_after": float(after[i]), "k": k, "k_se": k_se,
                     "note": "holdout: organic intent only, unchanged by k" if i == 0 else note})
    table = pd.DataFrame(rows, columns=_AD_COLUMNS)
    for col in ("arm", "note"):
        table[col] = table[col].astype("string")
    fitted = replace(params, **{
        s: replace(sp, lift_multiplicative=sp.lift_multiplicative * k,
                   lift_additive=sp.lift_additive * k)
        for s in SEGMENTS for sp in [params.segment(s)]})
    return fitted, table
