"""The ad effect from a test's treated arms: one common multiplier on the literature lift.

Run after :func:`abtest.sim.calibration.holdout.calibrated_params`, which fits organic intent to the
holdout and keeps the ad effect at the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from abtest.sim.calibration._likelihood import scalar_fit
from abtest.sim.params import DEFAULT_SEGMENT_MIX, SEGMENTS, SimParams, default_params
from abtest.sim.policy import ArmSpec, RetargetingPolicy, holdout

__all__ = ["calibrate_ad_effect"]

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
        w = dict(mix or DEFAULT_SEGMENT_MIX)
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
    approximation, so ``k_se = sqrt(2 / Q''(k̂))`` (observed information by central differences,
    :func:`abtest.sim.calibration._likelihood.scalar_fit`; equal to the delta-method ``(JᵀV⁻¹J)^(-1/2)`` of a model linear in ``k``). The holdout noise is
    thus in ``k_se``; the organic calibration's own uncertainty is not.

    Returns ``(params, table)``: ``params`` with ``L`` and ``a`` scaled by ``k̂`` in every segment,
    and one row per arm (holdout first): ``arm, leads, conversions, observed_rate,
    simulated_rate_before`` (``k = 1``), ``simulated_rate_after`` (``k̂``), ``k, k_se, note``.
    """
    from abtest.sim.expected import expected_outcomes

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

    # Q = -2 log L of the normal approximation, hence scale 2 in the standard error
    k, k_se = scalar_fit(q, (lo, hi), xatol=1e-6, step=lambda x: 1e-3 * max(1.0, x), scale=2.0)
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
