"""Test design by simulation: power of a retargeting split test (gap / frequency / offer arms).

Issue 4 item 7. The outcome is the true (first-party) conversion of each lead within a fixed horizon
from its own entry day, not platform-attributed conversions (a longer gap pushes natural
conversions out of the attribution window; simulation-models.md §3 and §6). Each replicate is a
full split test analysed with :func:`abtest.stats.frequentist.proportion_test_arrays` (the same
unpooled Wald z test an analyst gets from ``proportion_test``), batched over replicates × sizes ×
horizons so thousands of tests cost one vectorised call.

Two ways to draw a replicate:

* ``"monte_carlo"`` — the lead-level engine (:func:`~abtest.sim.experiment.simulate_experiment`),
  once per replicate at the largest size and horizon; smaller sizes are the first ``n`` leads of
  each arm × segment (leads are exchangeable within a block, so a prefix is a random subsample)
  and shorter horizons read ``conversion_day - entry_day < H``. Full fidelity, slower.
* ``"binomial"`` — exact per-segment conversion probabilities from the expected-value engine
  (:func:`~abtest.sim.expected.expected_outcomes`) and binomial counts. Valid because in an
  experiment every lead is independent given its arm and segment (delivery per lead does not
  depend on other leads: implied frequency, a fixed budget ÷ audience rate, or a hard cap), and
  segment counts per arm are fixed by allocation, so an arm's conversions are exactly a sum of
  independent binomials. Fast enough for fine grids; a test in tests/sim checks it against Monte
  Carlo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from abtest.sim.params import DEFAULT_SEGMENT_MIX, SEGMENTS, SimParams
from abtest.sim.policy import ArmSpec, RetargetingPolicy, holdout

__all__ = ["gap_arm_name", "gap_arm_policies", "gap_test_arms", "simulate_power", "true_rates"]

def gap_arm_name(gap_days: int) -> str:
    """The simulator's name for the arm that waits ``gap_days`` before the first ad: ``gap{g}d``.

    The one naming convention between a test's arms and the simulated gap arms (``gap1d``,
    ``gap7d``): a test whose arms are named so can be matched to the simulated design.
    """
    if int(gap_days) != gap_days or gap_days < 0:
        raise ValueError(f"a retargeting gap is a whole number of days >= 0, got {gap_days!r}")
    return f"gap{int(gap_days)}d"


def gap_test_arms(
    gaps: Sequence[int] = (1, 3, 7),
    *,
    weekly_frequency: float = 2.0,
    active_window_days: int = 28,
    include_holdout: bool = True,
) -> list[ArmSpec]:
    """Arms of a retargeting-gap test: ``holdout`` (control, no ads) then ``gap{g}d`` per gap."""
    arms = [ArmSpec("holdout", holdout())] if include_holdout else []
    for g in gaps:
        name = gap_arm_name(g)
        pol = RetargetingPolicy(name=name, gap_days=int(g),
                                active_window_days=active_window_days,
                                weekly_frequency=weekly_frequency)
        arms.append(ArmSpec(name, pol))
    return arms


def gap_arm_policies(
    arms: Iterable[str],
    gaps: Sequence[int],
    *,
    weekly_frequency: float = 2.0,
    active_window_days: int = 28,
) -> dict[str, RetargetingPolicy]:
    """The policy each of a test's arms ran, for the arms named like the simulated gap arms.

    ``arms`` are the test's arm names; an arm named :func:`gap_arm_name` of one of ``gaps`` (e.g.
    ``gap3d``) maps to the gap policy at ``weekly_frequency``; other arms (the holdout, arms named
    otherwise) are left out, so an empty result means the test cannot be matched to the design.
    """
    present = {str(a) for a in arms}
    return {a.name: a.policy for a in gap_test_arms(gaps, weekly_frequency=weekly_frequency,
                                                      active_window_days=active_window_days,
                                                      include_holdout=False)
            if a.name in present}


def _allocate(n: int, mix: Mapping[str, float]) -> dict[str, int]:
    from abtest.sim.experiment import allocate

    return allocate(n, mix)


def true_rates(
    arms: Sequence[ArmSpec],
    *,
    horizons: Sequence[int],
    params: SimParams | None = None,
) -> pd.DataFrame:
    """Expected conversion rate by arm × segment × horizon (expected-value engine, no noise)."""
    from abtest.sim.expected import expected_outcomes

    sim = params or SimParams()
    rows = []
    for arm in arms:
        for seg_name in SEGMENTS:
            seg = sim.segment(seg_name)
            for h in horizons:
                ev = expected_outcomes([arm.policy], seg, sim=sim, horizon_days=int(h), arm=arm)
                rows.append({"arm": arm.name, "segment": seg_name, "horizon_days": int(h),
                             "conversion_rate": float(ev["conversion_rate"].iloc[0])})
    return pd.DataFrame(rows)


def _pvalues(succ: np.ndarray, trials: np.ndarray, c: int, t: int, alpha: float) -> np.ndarray:
    """Two-sided p-values of arm t vs arm c, batched over all leading axes (arms on the last)."""
    from abtest.stats.frequentist import proportion_test_arrays

    x = np.stack([succ[..., c], succ[..., t]])
    n = np.stack([trials[..., c], trials[..., t]]).astype(float)
    return proportion_test_arrays(x.astype(float), n, alpha=alpha).p_value[0]


def _mc_successes(
    arms: Sequence[ArmSpec], ns: np.ndarray, hs: np.ndarray, mix: Mapping[str, float],
    params: SimParams | None, seeds: np.ndarray, entry_days: int,
) -> np.ndarray:
    """Conversions[rep, n, h, arm] from the lead-level engine (nested sizes and horizons)."""
    from abtest.sim.experiment import simulate_experiment

    names = [a.name for a in arms]
    segs = [s for s in SEGMENTS if mix.get(s, 0) > 0]
    alloc = np.array([[_allocate(int(n), mix).get(s, 0) for s in segs] for n in ns])  # (N, S)
    out = np.zeros((seeds.size, ns.size, hs.size, len(arms)), np.int64)
    for r, sd in enumerate(seeds):
        panel = simulate_experiment(arms, leads_per_arm=int(ns.max()), segments_mix=mix,
                                    horizon_days=int(hs.max()), params=params, seed=int(sd),
                                    entry_days=entry_days)
        leads = panel.leads
        arm_i = pd.Categorical(leads["arm"], categories=names).codes
        seg_i = pd.Categorical(leads["segment"], categories=segs).codes
        dur = (leads["conversion_day"].astype("Float64").to_numpy(dtype=float, na_value=np.inf)
               - leads["entry_day"].to_numpy(dtype=float))
        order = np.lexsort((leads["lead_id"].to_numpy(), seg_i, arm_i))
        block = arm_i[order] * len(segs) + seg_i[order]
        conv_by_h = dur[order][None, :] < hs[:, None]  # (H, leads)
        # count converters with rank < allocation, per block, for every n: cumulative counts
        for b in np.unique(block):
            sel = block == b
            cum = np.concatenate([np.zeros((hs.size, 1), np.int64),
                                  np.cumsum(conv_by_h[:, sel], axis=1)], axis=1)
            a, s = divmod(int(b), len(segs))
            k = np.minimum(alloc[:, s], int(sel.sum()))  # (N,)
            out[r, :, :, a] += cum[:, k].T
    return out


def _binomial_successes(
    arms: Sequence[ArmSpec], ns: np.ndarray, hs: np.ndarray, mix: Mapping[str, float],
    params: SimParams | None, n_sims: int, seed: int,
) -> np.ndarray:
    rates = true_rates(arms, horizons=hs.tolist(), params=params)
    segs = [s for s in SEGMENTS if mix.get(s, 0) > 0]
    names = [a.name for a in arms]
    p = (rates.set_index(["arm", "segment", "horizon_days"])["conversion_rate"]
         .reindex(pd.MultiIndex.from_product([names, segs, hs.tolist()])).to_numpy()
         .reshape(len(names), len(segs), hs.size))
    alloc = np.array([[_allocate(int(n), mix).get(s, 0) for s in segs] for n in ns])  # (N, S)
    rng = np.random.default_rng([seed, 0x90E])
    # shape (rep, N, H, arm, seg)
    n_b = alloc[None, :, None, None, :]
    p_b = np.transpose(p, (2, 0, 1))[None, None, :, :, :]
    draws = rng.binomial(np.broadcast_to(n_b, (n_sims, ns.size, hs.size, len(arms), len(segs))),
                         np.broadcast_to(p_b, (n_sims, ns.size, hs.size, len(arms), len(segs))))
    return draws.sum(axis=-1)


def simulate_power(
    arms: Sequence[ArmSpec],
    *,
    leads_per_arm: Sequence[int],
    horizons: Sequence[int],
    segments_mix: Mapping[str, float] | None = None,
    comparisons: Sequence[tuple[str, str]] | None = None,
    n_sims: int = 200,
    alpha: float = 0.05,
    params: SimParams | None = None,
    seed: int = 0,
    entry_days: int = 14,
    method: Literal["monte_carlo", "binomial"] = "monte_carlo",
) -> pd.DataFrame:
    """Power of each comparison by leads per arm and horizon (days from each lead's entry).

    ``comparisons`` are ``(treatment, control)`` arm-name pairs; default: every arm against the
    first (the holdout in :func:`gap_test_arms`). Each replicate runs the two-sided unpooled Wald
    test at ``alpha`` on true conversions within the horizon.

    Returns a tidy frame, one row per leads_per_arm × horizon_days × comparison: ``leads_per_arm,
    horizon_days, comparison, treatment, control, power, mc_se`` (binomial Monte Carlo SE of the
    power), ``true_control_rate, true_treatment_rate, true_diff`` (expected-value engine, mixed by
    the allocated segment counts), ``mean_observed_diff, n_sims, method``.
    """
    arms = list(arms)
    names = [a.name for a in arms]
    if len(arms) < 2:
        raise ValueError("a power simulation needs at least two arms")
    if n_sims < 1:
        raise ValueError("n_sims must be >= 1")
    mix = dict(segments_mix or DEFAULT_SEGMENT_MIX)
    ns = np.array(sorted({int(n) for n in leads_per_arm}), dtype=np.int64)
    hs = np.array(sorted({int(h) for h in horizons}), dtype=np.int64)
    if ns.size == 0 or ns.min() < 2 or hs.size == 0 or hs.min() < 1:
        raise ValueError("leads_per_arm must be >= 2 and horizons >= 1 (non-empty)")
    pairs = list(comparisons) if comparisons is not None else [(a, names[0]) for a in names[1:]]
    for t, c in pairs:
        if t not in names or c not in names:
            raise ValueError(f"comparison ({t!r}, {c!r}) names an unknown arm; arms: {names}")
    if method == "monte_carlo":
        seeds = np.random.SeedSequence(seed).generate_state(n_sims, dtype=np.uint32)
        succ = _mc_successes(arms, ns, hs, mix, params, seeds, entry_days)
    elif method == "binomial":
        succ = _binomial_successes(arms, ns, hs, mix, params, n_sims, seed)
    else:
        raise ValueError(f"method must be 'monte_carlo' or 'binomial', got {method!r}")
    trials = np.broadcast_to(ns[None, :, None, None], succ.shape)

    rates = true_rates(arms, horizons=hs.tolist(), params=params)
    segs = [s for s in SEGMENTS if mix.get(s, 0) > 0]
    rows = []
    for t, c in pairs:
        ti, ci = names.index(t), names.index(c)
        pv = _pvalues(succ, trials, ci, ti, alpha)  # (rep, N, H)
        reject = pv < alpha
        power = reject.mean(axis=0)
        obs = (succ[..., ti] - succ[..., ci]) / trials[..., ti]
        for i, n in enumerate(ns):
            w = np.array([_allocate(int(n), mix).get(s, 0) for s in segs], float) / n
            for j, h in enumerate(hs):
                sub = rates[rates["horizon_days"] == h].set_index(["arm", "segment"])
                p_c = float(sum(w[k] * sub.loc[(c, s), "conversion_rate"]
                                for k, s in enumerate(segs)))
                p_t = float(sum(w[k] * sub.loc[(t, s), "conversion_rate"]
                                for k, s in enumerate(segs)))
                pw = float(power[i, j])
                rows.append({
                    "leads_per_arm": int(n), "horizon_days": int(h), "comparison": f"{t} vs {c}",
                    "treatment": t, "control": c, "power": pw,
                    "mc_se": float(np.sqrt(pw * (1 - pw) / n_sims)),
                    "true_control_rate": p_c, "true_treatment_rate": p_t,
                    "true_diff": p_t - p_c, "mean_observed_diff": float(obs[:, i, j].mean()),
                    "n_sims": int(n_sims), "method": method,
                })
    return pd.DataFrame(rows)
