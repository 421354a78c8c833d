"""Compiled Monte Carlo kernel (numba): the model of ``engine._run_group``, one lead at a time.

Leads never interact (delivery rates, caps, exclusion, hiding and hazards are all per lead), so
the kernel runs lead-major: ``prange`` over leads, and for each lead a loop over days whose state
(intent, adstock, fatigue, cumulative hazard, cap ring) lives in registers. Nothing of size
leads x days is allocated, so memory stays flat whatever the horizon. Every float operation is the
numpy engine's, in the same precision and order (float32 state, float64 samplers).

Random numbers: each lead-day's 64-bit word (low half: exposure uniform, high half: click uniform)
is ``splitmix64`` of a counter ``(lead << 12) + day`` offset by a key derived from ``(seed, *key)``
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"). It depends on the
lead and the day only, hence common random numbers across policies and results independent of
thread count. The numpy engine reads the same positions of per-chunk PCG64 streams instead; with
``words=`` (those streams, see ``numpy_words``) the kernel reproduces the numpy engine lead for
lead, up to last-bit differences of ``exp`` between libm and numpy's SIMD loops (tests).

Compiled on first use, cached on disk (``cache=True``); importing this module compiles nothing
until ``simulate`` is called, and ``abtest`` imports it only inside ``run_block``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["simulate", "stream_key"]

_TWO32 = 2.0**32
_UMAX = np.uint32(0xFFFFFFFF)
_GATES = 6
DAY_BITS = 12  # counter layout: (lead << DAY_BITS) + day; horizons up to 4096 days


def stream_key(seed: int, key: tuple[int, ...]) -> np.uint64:
    """64-bit offset of the splitmix64 counter stream of block ``(seed, *key)``."""
    ss = np.random.SeedSequence([seed, *key, 0x5EED])
    return ss.generate_state(1, np.uint64)[0]


@nb.njit(inline="always", cache=True)
def _splitmix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))



@nb.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _kernel(thr_in, activity, hide_in, lead0, n_weary, organic_intent, organic_cum,
            pc_day, low_tab, carry_day, uw, vw, key,
            first, start, stop, horizon, fixed, rate, cap, cap_days, lookback, lag,
            rho, theta, phi, h0, floor, hill_k, hill_n, hill_kn, lift_l, lift_a, delta,
            f_star, eta, carry, hide_c0, hide_c1, use_hide, resets,
            conv_out, click_out, imp_out, hidden_out, imps_out, clicks_out, rec_imp, rec_clk):
    n = thr_in.shape[0]
    f0 = np.float32(0.0)
    two32 = 2.0**32
    umax = np.uint32(0xFFFFFFFF)
    golden = np.uint64(0x9E3779B97F4A7C15)
    lo32 = np.uint64(0xFFFFFFFF)
    record = rec_imp.shape[0] > 0
    have_words = uw.shape[0] > 0
    fixed_x = np.int64(rate)
    use_cap = cap >= 0
    weary_hide = hide_c1 != hide_c0
    n_blocks = (n + 1023) // 1024
    for blk in nb.prange(n_blocks):
        ring = np.zeros(max(cap_days, 1), np.int64)
        for i in range(blk * 1024, min(n, (blk + 1) * 1024)):
            gi = lead0 + i
            thr = thr_in[i]
            weary = gi < n_weary
            conv = -1
            if first > 0:  # shared ad-free prefix: first day the organic path reaches thr
                a, b = 0, first
                while a < b:
                    mid = (a + b) // 2
                    if organic_cum[mid] < thr:
                        a = mid + 1
                    else:
                        b = mid
                if a < first:
                    conv = a
            click_at = -1
            imp_at = -1
            hid = False
            imps = 0
            clicks_tot = 0
            if first < horizon:
                m = np.float64(activity[i]) * rate
                g0 = g1 = g2 = g3 = g4 = g5 = umax
                if not fixed:  # Poisson gates floor(2**32 P(X <= k)), as engine._poisson_gates
                    pk = math.exp(-m)
                    cdf = pk
                    g0 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                    pk = pk * m / 1
                    cdf = cdf + pk
                    g1 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                    pk = pk * m / 2
                    cdf = cdf + pk
                    g2 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                    pk = pk * m / 3
                    cdf = cdf + pk
                    g3 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                    pk = pk * m / 4
                    cdf = cdf + pk
                    g4 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                    pk = pk * m / 5
                    cdf = cdf + pk
                    g5 = np.uint32(min(math.floor(cdf * two32), two32 - 1))
                intent = organic_intent[first - 1] if first > 0 else h0
                cum = organic_cum[first - 1] if first > 0 else f0
                adstock = f0
                fatigue = f0
                exposed = False
                excluded = False
                rem = hide_in[i] if use_hide else f0
                last_click = -1
                last_imp = -1
                week = 0
                if use_cap:
                    ring[:] = 0
                lead_base = (np.uint64(gi) << np.uint64(DAY_BITS)) + key
                for t in range(first, horizon):
                    if t > 0:
                        intent = intent * rho
                    if exposed:
                        adstock = adstock * theta
                        fatigue = fatigue * phi
                    if conv >= 0:
                        if t >= stop or excluded or t >= conv + lag:
                            break  # converted and no more ads: nothing left to change
                    if t < stop:
                        if carry_day[t] and t > start:
                            fatigue = fatigue * carry
                        x = 0
                        if not excluded:
                            if have_words:
                                u = uw[t - start, i]
                                v = vw[t - start, i]
                            else:
                                w = _splitmix((lead_base + np.uint64(t)) * golden)
                                u = np.uint32(w & lo32)
                                v = np.uint32(w >> np.uint64(32))
                            if fixed:
                                x = fixed_x
                            elif u > g0:
                                x = 1
                                if u > g1:
                                    x = 2 + (u > g2) + (u > g3) + (u > g4) + (u > g5)
                                    if x == _GATES:  # tail: as engine._poisson_tail
                                        uu = (np.float64(u) + 0.5) / two32
                                        k_max = int(m + 12.0 * math.sqrt(m) + 25.0)
                                        pk = math.exp(-m)
                                        cdf = pk
                                        x = 0
                                        for k in range(1, k_max + 2):
                                            if not uu > cdf:
                                                break
                                            x += 1
                                            if k <= k_max:
                                                pk = pk * (m / k)
                                                cdf = cdf + pk
                            if x > 0 and t >= lookback and t - max(last_click, 0) >= lookback:
                                excluded = True
                                x = 0
                        if use_cap:
                            slot = t % cap_days
                            week -= ring[slot]
                            ring[slot] = 0
                            if x > 0:
                                x = min(x, cap - week)
                                if x > 0:
                                    week += x
                                    ring[slot] = x
                                else:
                                    x = 0
                        if x > 0:
                            exposed = True
                            xf = np.float32(x)
                            xd = np.float64(x)
                            if delta != 0:
                                q = np.float32(math.exp(fatigue * -delta))
                                adstock = adstock + q * xf
                            else:
                                q = np.float32(1.0)
                                adstock = adstock + xf
                            fatigue = fatigue + xf
                            pc = pc_day[t]
                            k_clk = 0
                            if pc > 0:  # integer pre-filter, then exact (engine, same order)
                                if x < low_tab.shape[1]:
                                    low = low_tab[t, x]
                                else:
                                    low = np.uint32(max(math.floor(
                                        math.pow(1.0 - min(pc, 1.0), xd) * two32 - 1.0), 0.0))
                                if v > low:
                                    vs = (np.float64(v) + 0.5) / two32
                                    ps = min(pc * np.float64(q), 1.0)
                                    qq = 1.0 - ps
                                    if vs > math.pow(qq, xd):
                                        pkb = math.pow(qq, xd)
                                        cdfb = pkb
                                        ratio = ps / (qq if qq > 0 else 1.0)
                                        while True:
                                            k_clk += 1
                                            pkb = pkb * (x - k_clk + 1) / k_clk * ratio
                                            cdfb = cdfb + pkb
                                            if not (vs > cdfb and k_clk < x):
                                                break
                                        last_click = t
                                        clicks_tot += k_clk
                                        if resets:
                                            intent = h0
                            if use_hide:
                                if weary and weary_hide and fatigue > f_star:
                                    rem = rem - xf * hide_c1
                                else:
                                    rem = rem - xf * hide_c0
                                if rem <= 0:
                                    hid = True
                                    excluded = True
                            last_imp = t
                            imps += x
                            if record:
                                rec_imp[t - start, i] = x
                                rec_clk[t - start, i] = k_clk
                    if conv >= 0:
                        continue
                    # hazard h = org + S * (L * org + a), org = intent + floor; weariness penalty
                    h = intent + floor
                    if exposed:
                        if hill_n == 1:
                            s = adstock / (adstock + hill_k)
                        else:
                            an = adstock ** hill_n
                            s = an / (an + hill_kn)
                        g = h * lift_l
                        if lift_a != 0:
                            g = g + lift_a
                        s = s * g
                        h = h + s
                        if weary and eta > 0 and fatigue > f_star:
                            h = h * np.float32(math.exp(-eta * (fatigue - f_star)))
                    cum = cum + h
                    if cum >= thr:
                        conv = t
                        click_at = last_click
                        imp_at = last_imp
            conv_out[i] = conv
            click_out[i] = click_at
            imp_out[i] = imp_at
            hidden_out[i] = hid
            imps_out[i] = imps
            clicks_out[i] = clicks_tot


LOW_X = 64  # click pre-filter gates tabulated per day for 0..LOW_X-1 impressions
RECORD_LEADS = 1 << 16  # leads per kernel call when exposures are recorded (flat memory)


def numpy_words(n: int, start: int, stop: int, seed: int, key: tuple[int, ...],
                chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """The numpy engine's exposure / click uniforms ``(u, v)``, shape (stop - start, n): words
    ``day * chunk_size`` onwards of each chunk's PCG64 stream (for exact cross-engine tests)."""
    days = max(stop - start, 0)
    uw, vw = np.empty((days, n), np.uint32), np.empty((days, n), np.uint32)
    for ci in range(-(-n // chunk)):
        a, b = ci * chunk, min((ci + 1) * chunk, n)
        bg = np.random.PCG64(np.random.SeedSequence([seed, *key, ci, 1]))
        bg.advance(start * (b - a))
        for d in range(days):
            w = bg.random_raw(b - a).view(np.uint32)
            uw[d, a:b], vw[d, a:b] = w[:b - a], w[b - a:]
    return uw, vw


def simulate(seg, policy, leads, *, sim, arm, rate: float, start: int, stop: int, first: int,
             horizon: int, organic: tuple[np.ndarray, np.ndarray], hide_thresholds: np.ndarray,
             seed: int, key: tuple[int, ...], record: bool, threads: int,
             words: tuple[np.ndarray, np.ndarray] | None = None):
    """Run the compiled kernel for one block; returns the per-lead output arrays and, with
    ``record``, the exposure log ``(lead, day, impressions, clicks, creative)`` by day, lead."""
    n = leads.n
    f32 = np.float32
    hide_p = min(seg.hide_rate * arm.hide_multiplier, 1.0)
    hide_c0 = -math.log1p(-hide_p) if hide_p < 1 else math.inf
    hide_pw = min(hide_p * seg.weary_hide_multiplier, 1.0)
    hide_c1 = -math.log1p(-hide_pw) if hide_pw < 1 else math.inf
    ctr = seg.ctr * arm.ctr_multiplier
    pc_day = np.zeros(max(horizon, 1))
    carry_day = np.zeros(max(horizon, 1), np.bool_)
    creative_day = np.zeros(max(horizon, 1), np.int16)
    low_tab = np.zeros((max(horizon, 1), LOW_X), np.uint32)
    for t in range(start, min(stop, horizon)):
        creative, age, new = policy.creative_on(t, start)
        pc_day[t] = pc = ctr * math.exp(-age / seg.creative_tau_days)
        carry_day[t], creative_day[t] = new, creative
        if pc > 0:  # P(no click) >= (1 - pc)**x as 32-bit gates, exactly as the numpy engine
            low = (1.0 - min(pc, 1.0)) ** np.arange(LOW_X)
            low_tab[t] = np.maximum(np.floor(low * _TWO32 - 1.0), 0).astype(np.uint32)
    intent_s, cum_s = organic
    cap = -1 if policy.frequency_cap is None else int(policy.frequency_cap)
    outs = (np.empty(n, np.int16), np.empty(n, np.int16), np.empty(n, np.int16),
            np.empty(n, np.bool_), np.empty(n, np.int32), np.empty(n, np.int32))
    empty_w = np.zeros((0, 0), np.uint32)
    days_on = max(min(stop, horizon) - start, 0)
    step = RECORD_LEADS if record else max(n, 1)
    logs = []
    prev = nb.get_num_threads()
    nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))
    try:
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            rec = np.zeros((days_on, hi - lo) if record else (0, 0), np.int32)
            rec_c = np.zeros_like(rec)
            uw, vw = (empty_w, empty_w) if words is None else (words[0][:, lo:hi],
                                                               words[1][:, lo:hi])
            _kernel(leads.threshold[lo:hi], leads.activity[lo:hi], hide_thresholds[lo:hi], lo,
                    leads.n_weary, intent_s, cum_s, pc_day, low_tab, carry_day,
                    np.ascontiguousarray(uw), np.ascontiguousarray(vw),
                    stream_key(seed, key), first, start, stop, horizon,
                    policy.delivery == "fixed", float(rate), cap, int(policy.cap_days),
                    int(policy.lookback_days), max(sim.exclusion_lag_days, 1),
                    f32(seg.rho), f32(seg.adstock_theta), f32(seg.fatigue_phi), f32(seg.h0),
                    f32(seg.h_floor), f32(seg.hill_k), f32(seg.hill_n),
                    f32(seg.hill_k ** seg.hill_n),
                    f32(seg.lift_multiplicative * arm.lift_multiplier),
                    f32(seg.lift_additive * arm.lift_multiplier), f32(seg.fatigue_delta),
                    f32(seg.weary_threshold), f32(seg.weary_eta), f32(sim.creative_fatigue_carry),
                    f32(hide_c0), f32(hide_c1), hide_p > 0, bool(seg.click_resets_intent),
                    *(o[lo:hi] for o in outs), rec, rec_c)
            if record:
                d, j = np.nonzero(rec)
                logs.append((j.astype(np.int64) + lo, (d + start).astype(np.int16), rec[d, j],
                             rec_c[d, j], creative_day[d + start]))
    finally:
        nb.set_num_threads(prev)
    exposures = None
    if record:
        cols = [np.concatenate(c) for c in zip(*logs, strict=True)] if logs else [
            np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int32),
            np.empty(0, np.int32), np.empty(0, np.int16)]
        order = np.lexsort((cols[0], cols[1]))  # by day, then lead (as a daily log)
        exposures = tuple(c[order] for c in cols)
    return outs, exposures
