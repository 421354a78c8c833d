"""Monte Carlo engine: one block of leads (same segment, same policy) simulated day by day.

State is a set of 1-D float32 / int16 arrays over leads; the Python loop runs over days only.
Common random numbers (CRN): lead draws (frailty, activity, Exp(1) threshold, weary class) and each
day's uniforms come from generators keyed by ``(seed, *key, day)``, never by the policy, so every
policy sees the same leads and the same luck. Exposures and clicks are inverse-CDF draws from those
uniforms, hence monotone in the delivery rate: policy differences are low-variance and, with zero
ad effect, exactly zero. Conversion: a lead converts on the first day its cumulative hazard
``z * H`` reaches its ``Exp(1)`` threshold (daily probability ``1 - exp(-z h)``); see §8 of
``shared/reference/simulation-models.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from abtest.sim.params import SegmentParams, SimParams
from abtest.sim.policy import ArmSpec, RetargetingPolicy

__all__ = ["BlockResult", "LeadDraws", "draw_leads", "run_block"]

F32 = np.float32


@dataclass(frozen=True)
class LeadDraws:
    """Per-lead random draws shared by every policy (CRN). Weary leads come first."""

    threshold: np.ndarray  # float32, Exp(1) / z: convert when H >= threshold
    frailty: np.ndarray  # float32 z
    activity: np.ndarray  # float32 exposure propensity, mean 1
    n_weary: int
    order_value: np.ndarray  # float32 value if the lead buys (before arm multiplier)
    report_delay: np.ndarray  # int16 days from conversion to platform report
    first_touch: np.ndarray  # int8 index into SegmentParams.first_touch_mix

    @property
    def n(self) -> int:
        return self.threshold.shape[0]


def _rng(seed: int, key: Sequence[int], *tail: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key, *tail])))


def draw_leads(seg: SegmentParams, sim: SimParams, n: int, *, seed: int,
               key: Sequence[int] = ()) -> LeadDraws:
    """Draw the policy-independent randomness of ``n`` leads of one segment."""
    rng = _rng(seed, key, 0xA11CE)
    n_weary = int(rng.binomial(n, seg.weary_share)) if seg.weary_share > 0 else 0
    e = rng.standard_exponential(n)
    if math.isinf(seg.frailty_shape):
        z = np.ones(n)
    else:
        z = rng.gamma(seg.frailty_shape, 1.0 / seg.frailty_shape, n)
    with np.errstate(divide="ignore"):
        threshold = (e / z).astype(F32)
    if math.isinf(seg.exposure_shape):
        act = np.ones(n, F32)
    else:
        act = rng.gamma(seg.exposure_shape, 1.0 / seg.exposure_shape, n).astype(F32)
    mu = math.log(seg.order_value_mean) - 0.5 * seg.order_value_sigma**2
    value = rng.lognormal(mu, seg.order_value_sigma, n).astype(F32)
    same = rng.random(n) < sim.report_same_day_share
    slow = rng.geometric(sim.report_hazard, n)  # days >= 1 with the given daily hazard
    delay = np.where(same, 0, np.minimum(slow, 365)).astype(np.int16)
    shares = np.array([p for _, p in seg.first_touch_mix])
    touch = rng.choice(len(shares), size=n, p=shares).astype(np.int8)
    return LeadDraws(threshold, z.astype(F32), act, n_weary, value, delay, touch)


@dataclass(frozen=True)
class BlockResult:
    """Outcome of one block. Days are since each lead's entry; -1 means never."""

    conv_day: np.ndarray  # int16
    click_at_conv: np.ndarray  # int16 last click day at/before conversion
    imp_at_conv: np.ndarray  # int16 last impression day at/before conversion
    hidden: np.ndarray  # bool: hid / unfollowed the ads
    impressions: np.ndarray  # int32 per lead
    clicks: np.ndarray  # int32 per lead
    cost: float
    exposures: tuple[np.ndarray, ...] | None  # (lead, day, impressions, clicks, creative)

    @property
    def n(self) -> int:
        return self.conv_day.shape[0]


def _poisson_inv(u: np.ndarray, m: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Inverse-CDF Poisson draws for ``u > p0 = exp(-m)`` (so every result is >= 1)."""
    x = np.ones(u.shape[0], np.int32)
    pk = p0 * m  # P(X = 1)
    cdf = p0 + pk
    k = 1
    todo = np.flatnonzero(u > cdf)
    while todo.size:
        k += 1
        pk = pk * m / k
        cdf = cdf + pk
        x[todo] += 1
        todo = todo[u[todo] > cdf[todo]]
        if k > 1000:  # float round-off in the far tail: u above the representable CDF
            break
    return x


def _binom_inv(v: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inverse-CDF Binomial(n, p) draws from uniforms ``v`` (monotone in n for fixed v, p)."""
    q = 1.0 - p
    pk = q**n
    cdf = pk.copy()
    out = np.zeros(n.shape[0], np.int32)
    todo = np.flatnonzero(v > cdf)
    k = 0
    ratio = p / np.where(q > 0, q, 1.0)
    while todo.size:
        k += 1
        pk = pk * (n - k + 1) / k * ratio
        cdf = cdf + pk
        out[todo] += 1
        todo = todo[(v[todo] > cdf[todo]) & (out[todo] < n[todo])]
    return out


def run_block(
    seg: SegmentParams,
    policy: RetargetingPolicy,
    leads: LeadDraws,
    *,
    horizon_days: int,
    sim: SimParams,
    seed: int,
    key: Sequence[int] = (),
    arm: ArmSpec | None = None,
    record_exposures: bool = False,
) -> BlockResult:
    """Simulate ``leads`` of segment ``seg`` under ``policy`` for ``horizon_days`` days each."""
    n = leads.n
    arm = arm or ArmSpec("arm", policy)
    lift_l = F32(seg.lift_multiplicative * arm.lift_multiplier)
    lift_a = F32(seg.lift_additive * arm.lift_multiplier)
    cpm = seg.cpm * arm.cpm_multiplier
    rate = policy.daily_rate(cpm)
    start, end = policy.start_day(sim.audience_lag_days), policy.end_day()
    ads = policy.retarget and rate > 0 and start < min(end, horizon_days)
    rho, theta, phi = F32(seg.rho), F32(seg.adstock_theta), F32(seg.fatigue_phi)
    h0, floor, hill_k = F32(seg.h0), F32(seg.h_floor), F32(seg.hill_k)

    remaining = leads.threshold.copy()  # E/z - H; +inf once converted
    intent = np.full(n, h0, F32)  # h0 * rho**r
    adstock = np.zeros(n, F32)
    fatigue = np.zeros(n, F32)
    tmp1 = np.empty(n, F32)
    tmp2 = np.empty(n, F32)
    conv_day = np.full(n, -1, np.int16)
    click_at_conv = np.full(n, -1, np.int16)
    imp_at_conv = np.full(n, -1, np.int16)
    last_click = np.full(n, -1, np.int16)
    last_imp = np.full(n, -1, np.int16)
    hidden = np.zeros(n, bool)
    imps_total = np.zeros(n, np.int32)
    clicks_total = np.zeros(n, np.int32)
    nw = leads.n_weary
    cap = policy.frequency_cap if ads else None
    if cap is not None:
        week = np.zeros(n, np.int16)
        ring = np.zeros((policy.cap_days, n), np.int8)
    if ads:
        m = (leads.activity * F32(rate)).astype(F32)
        p0 = np.exp(-m)
    ad_state = False
    cost = 0.0
    rec: list[tuple[np.ndarray, ...]] = []
    hide_p = seg.hide_rate * arm.hide_multiplier

    for t in range(horizon_days):
        if t:
            intent *= rho
        active = ads and start <= t < end
        if ad_state:
            adstock *= theta
            fatigue *= phi
        if cap is not None:
            week -= ring[t % policy.cap_days]
            ring[t % policy.cap_days] = 0
        if active:
            creative, age, new_creative = policy.creative_on(t, start)
            if new_creative and t > start:
                fatigue *= F32(sim.creative_fatigue_carry)
            day_rng = _rng(seed, key, 1, t)
            u = day_rng.random(n, dtype=F32)
            v_click = day_rng.random(n, dtype=F32)
            v_hide = day_rng.random(n, dtype=F32)
            if policy.delivery == "fixed":
                cand = np.arange(n) if rate >= 1 else np.empty(0, np.intp)
            else:
                cand = np.flatnonzero(u > p0)
            ok = ~hidden[cand] & ((t - np.maximum(last_click[cand], 0)) < policy.lookback_days)
            cd = conv_day[cand]
            ok &= (cd < 0) | (t - cd < sim.exclusion_lag_days)
            cand = cand[ok]
            if policy.delivery == "fixed":
                x = np.full(cand.size, int(rate), np.int32)
            else:
                x = _poisson_inv(u[cand], m[cand], p0[cand])
            if cap is not None:
                x = np.minimum(x, cap - week[cand])
                keep = x > 0
                cand, x = cand[keep], x[keep]
                week[cand] += x.astype(np.int16)
                ring[t % policy.cap_days, cand] = np.minimum(x, 127)
            if cand.size:
                ad_state = True
                xf = x.astype(F32)
                q = np.exp(-F32(seg.fatigue_delta) * fatigue[cand])
                adstock[cand] += q * xf
                fatigue[cand] += xf
                p_click = seg.ctr * arm.ctr_multiplier * q * math.exp(-age / seg.creative_tau_days)
                clicks = _binom_inv(v_click[cand], x, np.minimum(p_click, 1.0))
                if hide_p > 0:
                    ph = np.full(cand.size, hide_p, F32)
                    if nw:
                        tired = (cand < nw) & (fatigue[cand] > seg.weary_threshold)
                        ph[tired] *= seg.weary_hide_multiplier
                    hide_day = 1.0 - (1.0 - np.minimum(ph, 1.0)) ** xf
                    hidden[cand[v_hide[cand] < hide_day]] = True
                clicked = cand[clicks > 0]
                last_click[clicked] = t
                if seg.click_resets_intent:
                    intent[clicked] = h0
                last_imp[cand] = t
                imps_total[cand] += x
                clicks_total[cand] += clicks
                cost += float(x.sum()) * cpm / 1000.0
                if record_exposures:
                    rec.append((cand.astype(np.int64), np.full(cand.size, t, np.int16), x,
                                clicks, np.full(cand.size, creative, np.int16)))
        # hazard: (intent + floor) * (1 + L S) + a S, times weariness penalty
        np.add(intent, floor, out=tmp1)
        if ad_state:
            if seg.hill_n == 1:
                np.add(adstock, hill_k, out=tmp2)
                np.divide(adstock, tmp2, out=tmp2)
            else:
                an = np.power(adstock, F32(seg.hill_n))
                np.divide(an, an + F32(hill_k ** seg.hill_n), out=tmp2)
            if lift_a:
                s_add = tmp2 * lift_a
            tmp2 *= lift_l
            tmp2 += F32(1.0)
            tmp1 *= tmp2
            if lift_a:
                tmp1 += s_add
            if nw and seg.weary_eta > 0:
                over = np.flatnonzero(fatigue[:nw] > seg.weary_threshold)
                if over.size:
                    pen = np.exp(-F32(seg.weary_eta) * (fatigue[over] - F32(seg.weary_threshold)))
                    tmp1[over] *= pen
        remaining -= tmp1
        new = np.flatnonzero(remaining <= 0)
        if new.size:
            conv_day[new] = t
            click_at_conv[new] = last_click[new]
            imp_at_conv[new] = last_imp[new]
            remaining[new] = np.inf

    exposures = None
    if record_exposures:
        if rec:
            exposures = tuple(np.concatenate(cols) for cols in zip(*rec, strict=True))
        else:
            exposures = (np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int32),
                         np.empty(0, np.int32), np.empty(0, np.int16))
    return BlockResult(conv_day, click_at_conv, imp_at_conv, hidden, imps_total, clicks_total,
                       cost, exposures)
