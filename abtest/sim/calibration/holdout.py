"""Organic intent from the analyst's own holdout leads: the simulator world a what-if starts from.

:func:`calibrated_params` reads the holdout arm of a test (leads never retargeted), fits the intent
hazard per segment (:mod:`abtest.sim.calibration.intent`; the decay shape when the data identify
it, else one level factor) and returns simulator parameters plus a fit table;
:func:`calibration_table` formats that table for a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from abtest.sim.calibration._likelihood import scalar_fit
from abtest.sim.calibration.intent import fit_intent, intent_cumulative_hazard, log_survival
from abtest.sim.params import DEFAULT_SEGMENT_MIX, SEGMENTS, SimParams, default_params
from abtest.sim.policy import holdout as holdout_policy

__all__ = ["MIN_EVENTS_LEVEL", "MIN_EVENTS_SHAPE", "calibrated_params", "calibration_table"]

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
    """Full three-parameter fit with :func:`~abtest.sim.calibration.intent.fit_intent` (common data cut:
    each lead's entry is placed ``obs_days`` before ``as_of``)."""
    entry = horizon_days - frame["obs_days"].to_numpy(dtype=float)
    conv = entry + frame["dur"].to_numpy(dtype=float)
    leads = pd.DataFrame({"entry_day": entry, "conversion_day": pd.array(conv, dtype="Float64")})
    return fit_intent(leads, as_of=horizon_days, by=(), frailty_shape=kappa).iloc[0].to_dict()


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
                surv[p] += w * np.exp(log_survival(c * np.r_[0.0, cum], kappa))
        p_ev = np.maximum(surv[:, :-1] - surv[:, 1:], 1e-300)
        ll = np.sum(ev_n * np.log(p_ev)) + np.sum(ce_n * np.log(np.maximum(surv[:, :-1], 1e-300)))
        return -float(ll)

    log_c, se_log_c = scalar_fit(negll, (np.log(1e-3), np.log(1e3)), xatol=1e-7, step=1e-3)
    c = float(np.exp(log_c))
    return c, c * se_log_c  # delta method from the log scale


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
      and ``h_floor`` by maximum likelihood (:func:`~abtest.sim.calibration.intent.fit_intent`, with the
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
    from abtest.sim.expected import expected_outcomes

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
    default_mix = DEFAULT_SEGMENT_MIX

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
