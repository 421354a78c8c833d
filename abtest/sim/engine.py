"""Monte Carlo engine: one block of leads (same segment, same policy) simulated day by day.

State is a set of 1-D float32 / int16 arrays over leads; the Python loop runs over days only, per
cache-sized chunk of ``CHUNK`` leads (vectorised over the chunk). Common random numbers (CRN): lead
draws (frailty, activity, Exp(1) threshold, weary class) come from ``(seed, *key)``; the per
lead-day word (exposure and click uniforms) sits at a fixed position of the chunk's PCG64 stream
``(seed, *key, chunk, 1)`` whatever the policy, and hiding uses a per-lead Exp(1) threshold from
``(seed, *key, chunk, 2)``. Exposures and clicks are inverse-CDF draws from those uniforms, hence
monotone in the delivery rate: policy differences are low-variance and, with zero ad effect,
exactly zero. Conversion: a lead converts on the first day its cumulative hazard ``z * H`` reaches
its ``Exp(1)`` threshold (daily probability ``1 - exp(-z h)``); see §8 of
``shared/reference/simulation-models.md``. Days before the first possible impression share one
scalar hazard path (same float32 rounding), so the holdout costs O(leads), not O(lead-days).

Chunks are independent (own streams, own output slices), so ``run_block`` runs them on a small
thread pool: numpy ufuncs, fancy indexing and the PCG64 fills release the GIL on arrays of this
size. Up to ``GROUP_CHUNKS`` neighbouring chunks are simulated as one set of arrays (each chunk
still draws from its own streams; every per-lead step is elementwise), which cuts the number of
numpy calls and GIL hand-offs per lead-day. Each group writes only its own slice of the
preallocated outputs, so results are bit-identical whatever the thread count or grouping
(``threads=``, env ``ABTEST_THREADS``, default the CPUs this process may use).

Two engines run this model: ``"numba"`` (``abtest.sim.kernel``, compiled, lead-major, the default
when numba is importable) and ``"numpy"`` (this module, the reference). They share the lead draws
and hiding thresholds; the numba kernel's per lead-day words come from a counter-based stream, so
the two agree in distribution (and lead for lead when fed the numpy streams; tested).
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from abtest.sim.params import SegmentParams, SimParams
from abtest.sim.policy import ArmSpec, RetargetingPolicy

__all__ = ["BlockResult", "LeadDraws", "default_engine", "default_threads", "draw_leads",
           "run_block"]

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


CHUNK = 1 << 16  # leads per cache-resident chunk; also the layout of the per-day random streams
_TWO32 = 2.0**32
_UMAX = np.uint32(0xFFFFFFFF)


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


_GATES = 6  # Poisson CDF levels P(X <= k), k < _GATES, kept as 32-bit integer gates per lead


def _poisson_gates(m: np.ndarray) -> list[np.ndarray]:
    """``floor(2**32 P(X <= k))`` for ``X ~ Poisson(m)``, k = 0.._GATES-1 (uint32, clipped)."""
    pk = np.exp(-m)
    cdf = pk.copy()
    gates = []
    for k in range(_GATES):
        if k:
            pk = pk * m / k
            cdf = cdf + pk
        gates.append(np.minimum(np.floor(cdf * _TWO32), _TWO32 - 1).astype(np.uint32))
    return gates


def _poisson_tail(u: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Inverse-CDF Poisson draws for uniforms ``u > P(X < _GATES)`` (every result >= _GATES).

    The CDF is tabulated in one shot up to ``k_max`` (beyond any 32-bit uniform), laid out
    (k, draw) so the running products and sums are contiguous row operations."""
    mx = float(m.max())
    k_max = int(mx + 12.0 * math.sqrt(mx) + 25.0)
    pk = np.empty((k_max + 1, m.size))
    pk[0] = np.exp(-m)
    pk[1:] = m[None, :] / np.arange(1, k_max + 1, dtype=np.float64)[:, None]
    np.cumprod(pk, axis=0, out=pk)
    np.cumsum(pk, axis=0, out=pk)
    return (u[None, :] > pk).sum(axis=0, dtype=np.int32)


def _organic_path(seg: SegmentParams, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Intent ``h0 rho**t`` and cumulative hazard of a lead never exposed (float32, same rounding
    as the per-lead arrays, so ad-free days can be skipped without changing any result)."""
    rho, h0, floor = F32(seg.rho), F32(seg.h0), F32(seg.h_floor)
    intent = np.empty(horizon, F32)
    cum = np.empty(horizon, F32)
    i, c = h0, F32(0.0)
    for t in range(horizon):
        if t:
            i = F32(i * rho)
        c = F32(c + F32(i + floor))
        intent[t], cum[t] = i, c
    return intent, cum


THREADS_ENV = "ABTEST_THREADS"


def default_threads() -> int:
    """Worker threads for ``run_block``: ``$ABTEST_THREADS`` if set, else the CPUs this process
    may run on (``os.sched_getaffinity``, which respects taskset / cgroup cpusets)."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            k = int(env)
        except ValueError:
            k = 0
        if k < 1:
            raise ValueError(f"{THREADS_ENV}={env!r}: expected a whole number of threads >= 1")
        return k
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without affinity masks (macOS, Windows)
        return os.cpu_count() or 1


ENGINE_ENV = "ABTEST_SIM_ENGINE"
ENGINES = ("numba", "numpy")


def default_engine() -> str:
    """``$ABTEST_SIM_ENGINE`` if set, else ``"numba"`` when numba is importable, else ``"numpy"``
    (checked without importing numba, so ``import abtest`` stays light)."""
    env = os.environ.get(ENGINE_ENV, "").strip().lower()
    if env:
        if env not in ENGINES:
            raise ValueError(f"{ENGINE_ENV}={env!r}: expected one of {', '.join(ENGINES)}")
        return env
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


def hide_thresholds(n: int, seed: int, key: Sequence[int]) -> np.ndarray:
    """Per-lead Exp(1) hiding thresholds: chunk ``ci`` draws from stream ``(seed, *key, ci, 2)``."""
    out = np.empty(n, F32)
    for ci in range(-(-n // CHUNK)):
        a, b = ci * CHUNK, min((ci + 1) * CHUNK, n)
        out[a:b] = _rng(seed, (*key, ci), 2).standard_exponential(b - a, dtype=F32)
    return out


@dataclass
class _Out:
    conv_day: np.ndarray
    click_at_conv: np.ndarray
    imp_at_conv: np.ndarray
    hidden: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray


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
    threads: int | None = None,
    engine: str | None = None,
) -> BlockResult:
    """Simulate ``leads`` of segment ``seg`` under ``policy`` for ``horizon_days`` days each.

    Leads are processed in cache-sized chunks of ``CHUNK``; within a chunk the loop runs over days.
    Days before the first possible impression share one scalar hazard path (conversions there are
    a ``searchsorted``). Per lead-day randomness is one 64-bit word from the chunk's PCG64 stream
    at position ``day * chunk_size`` (32 bits for the exposure count, 32 for clicks), whatever the
    policy: common random numbers. Hiding uses a per-lead Exp(1) threshold on the cumulative hide
    hazard ``-x log(1 - p_hide)``, which gives the same daily probability ``1 - (1 - p)**x``.

    ``threads``: worker threads over groups of chunks (None: ``default_threads()``); a single
    chunk always runs in the calling thread. Results do not depend on it (tested bit for bit).

    ``engine``: ``"numba"`` (compiled kernel, ``prange`` over leads) or ``"numpy"`` (reference);
    None: ``default_engine()``. ``"numba-pcg"`` runs the kernel on the numpy engine's PCG64
    streams (memory O(leads x days); for exact cross-engine checks).
    """
    engine = default_engine() if engine is None else engine
    if engine not in (*ENGINES, "numba-pcg"):
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if threads is None:
        threads = default_threads()
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
    n = leads.n
    arm = arm or ArmSpec("arm", policy)
    cpm = seg.cpm * arm.cpm_multiplier
    rate = policy.daily_rate(cpm)
    start, stop = policy.start_day(sim.audience_lag_days), min(policy.end_day(), horizon_days)
    ads = policy.retarget and rate > 0 and start < stop
    out = _Out(np.full(n, -1, np.int16), np.full(n, -1, np.int16), np.full(n, -1, np.int16),
               np.zeros(n, bool), np.zeros(n, np.int32), np.zeros(n, np.int32))
    organic = _organic_path(seg, horizon_days)
    first = start if ads else horizon_days  # every day before `first` is ad-free for every lead
    if engine != "numpy":
        words = None
        if engine == "numba-pcg":
            from abtest.sim.kernel import numpy_words
            words = numpy_words(n, start, min(stop, horizon_days), seed, tuple(key), CHUNK)
        return _run_numba(seg, policy, leads, sim, arm, rate, start, stop, first, horizon_days,
                          organic, seed, tuple(key), record_exposures, threads, cpm, words)

    n_chunks = -(-n // CHUNK)
    workers = min(threads, n_chunks)
    bounds = _group_bounds(n_chunks, workers)

    def group(b: tuple[int, int]) -> list[tuple[np.ndarray, ...]]:
        return _run_group(seg, policy, leads, sim, arm, rate, start, stop, first, horizon_days,
                          organic, out, b[0], b[1], seed, tuple(key), record_exposures)

    if workers <= 1:
        recs = [group(b) for b in bounds]
    else:  # groups touch disjoint output slices only; map keeps group order
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="abtest-sim") as pool:
            recs = list(pool.map(group, bounds))

    exposures = None
    if record_exposures:
        rec = [r for chunk_rec in recs for r in chunk_rec]
        if rec:
            cols = [np.concatenate(c) for c in zip(*rec, strict=True)]
            order = np.lexsort((cols[0], cols[1]))  # by day, then lead (as a daily log)
            exposures = tuple(c[order] for c in cols)
        else:
            exposures = (np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int32),
                         np.empty(0, np.int32), np.empty(0, np.int16))
    cost = float(out.impressions.sum(dtype=np.int64)) * cpm / 1000.0
    return BlockResult(out.conv_day, out.click_at_conv, out.imp_at_conv, out.hidden,
                       out.impressions, out.clicks, cost, exposures)


def _run_numba(seg, policy, leads, sim, arm, rate, start, stop, first, horizon, organic, seed, key,
               record, threads, cpm, words=None) -> BlockResult:
    from abtest.sim import kernel  # compiles (or loads the on-disk cache) on first use only

    hide_p = min(seg.hide_rate * arm.hide_multiplier, 1.0)
    thresholds = hide_thresholds(leads.n, seed, key) if hide_p > 0 and first < horizon else \
        np.zeros(leads.n, F32)
    outs, exposures = kernel.simulate(
        seg, policy, leads, sim=sim, arm=arm, rate=rate, start=start, stop=stop, first=first,
        horizon=horizon, organic=organic, hide_thresholds=thresholds, seed=seed, key=key,
        record=record, threads=threads, words=words)
    conv, click, imp, hidden, imps, clicks = outs
    cost = float(imps.sum(dtype=np.int64)) * cpm / 1000.0
    return BlockResult(conv, click, imp, hidden, imps, clicks, cost, exposures)


GROUP_CHUNKS = 4  # chunks simulated together as one set of arrays (fewer, longer numpy calls)


def _group_bounds(n_chunks: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous chunk ranges ``[c0, c1)``: at most ``GROUP_CHUNKS`` each, at least one per
    worker when there are enough chunks (the grouping never changes any result)."""
    size = max(1, min(GROUP_CHUNKS, n_chunks // max(workers, 1)))
    return [(c0, min(c0 + size, n_chunks)) for c0 in range(0, n_chunks, size)]


def _run_group(seg, policy, leads, sim, arm, rate, start, stop, first, horizon, organic, out,
               c0, c1, seed, key, record) -> list[tuple[np.ndarray, ...]]:
    """Simulate the leads of chunks ``c0:c1`` as one set of arrays, writing only their slices of
    ``out``; returns exposure records. Every per-lead operation is elementwise, so a lead's
    result is the same whatever chunks share its arrays; each chunk keeps its own streams."""
    lo, hi = c0 * CHUNK, min(c1 * CHUNK, leads.n)
    nc = hi - lo
    parts = [(ci, ci * CHUNK - lo, min((ci + 1) * CHUNK, leads.n) - lo) for ci in range(c0, c1)]
    rec: list[tuple[np.ndarray, ...]] = []
    intent_s, cum_s = organic
    thr = leads.threshold[lo:hi].copy()  # convert when cum >= thr; +inf once converted
    conv = out.conv_day[lo:hi]
    if first > 0:  # shared ad-free prefix
        d = np.searchsorted(cum_s[:first], thr, side="left")
        pre = np.flatnonzero(d < first)
        conv[pre] = d[pre]
        thr[pre] = np.inf
    if first >= horizon:
        return rec

    rho, theta, phi = F32(seg.rho), F32(seg.adstock_theta), F32(seg.fatigue_phi)
    h0, floor, hill_k = F32(seg.h0), F32(seg.h_floor), F32(seg.hill_k)
    lift_l = F32(seg.lift_multiplicative * arm.lift_multiplier)
    lift_a = F32(seg.lift_additive * arm.lift_multiplier)
    hill_n, delta = seg.hill_n, F32(seg.fatigue_delta)
    f_star, eta = F32(seg.weary_threshold), F32(seg.weary_eta)
    nw = int(np.clip(leads.n_weary - lo, 0, nc))
    fixed = policy.delivery == "fixed"
    cap = policy.frequency_cap
    lookback = policy.lookback_days
    lag = max(sim.exclusion_lag_days, 1)
    hide_p = min(seg.hide_rate * arm.hide_multiplier, 1.0)
    hide_c0 = -math.log1p(-hide_p) if hide_p < 1 else math.inf
    hide_pw = min(hide_p * seg.weary_hide_multiplier, 1.0)
    hide_c1 = -math.log1p(-hide_pw) if hide_pw < 1 else math.inf
    ctr = seg.ctr * arm.ctr_multiplier

    intent = np.full(nc, intent_s[first - 1] if first else h0, F32)
    cum = np.full(nc, cum_s[first - 1] if first else 0.0, F32)
    adstock = np.zeros(nc, F32)
    fatigue = np.zeros(nc, F32)
    h = np.empty(nc, F32)
    s = np.empty(nc, F32)
    g = np.empty(nc, F32)
    hit = np.empty(nc, bool)
    last_click = np.full(nc, -1, np.int16)
    last_imp = np.full(nc, -1, np.int16)
    imps = out.impressions[lo:hi]
    clicks_tot = out.clicks[lo:hi]
    hidden, click_at_conv, imp_at_conv = out.hidden[lo:hi], out.click_at_conv[lo:hi], \
        out.imp_at_conv[lo:hi]
    if fixed:
        elig = np.ones(nc, bool)
    else:
        m = leads.activity[lo:hi].astype(np.float64) * rate
        gates = _poisson_gates(m)
        gate = gates[0].copy()  # x >= 1 iff u > gate; set to the maximum once ineligible
        upper1 = gates[1]  # x >= 2 iff u > upper1
        upper = gates[2:]  # x >= k + 3 iff u > upper[k]

    def exclude(idx: np.ndarray) -> None:
        if fixed:
            elig[idx] = False
        else:
            gate[idx] = _UMAX

    pending: dict[int, list[np.ndarray]] = {}
    if first > 0:
        eff = conv[pre].astype(np.int64) + lag
        exclude(pre[eff <= first])
        for day in np.unique(eff[eff > first]):
            pending.setdefault(int(day), []).append(pre[eff == day])
    if hide_p > 0:
        hide_rem = np.concatenate([_rng(seed, (*key, ci), 2).standard_exponential(b - a, dtype=F32)
                                   for ci, a, b in parts])
    if cap is not None:
        week = np.zeros(nc, np.int32)
        ring = np.zeros((policy.cap_days, nc), np.int32)
    bitgens = []
    for ci, a, b in parts:
        bg = np.random.PCG64(np.random.SeedSequence([seed, *key, ci, 1]))
        bg.advance(start * (b - a))
        bitgens.append(bg)
    if len(parts) > 1:
        u, v = np.empty(nc, np.uint32), np.empty(nc, np.uint32)
    ad_state = False

    for t in range(first, horizon):
        if t:
            intent *= rho
        if ad_state:
            adstock *= theta
            fatigue *= phi
        if t in pending:
            for idx in pending.pop(t):
                exclude(idx)
        if t < stop:
            creative, age, new_creative = policy.creative_on(t, start)
            if new_creative and t > start:
                fatigue *= F32(sim.creative_fatigue_carry)
            # chunk stream: day t's words; low 32-bit halves of the first half -> u, rest -> v
            if len(parts) == 1:
                w = bitgens[0].random_raw(nc).view(np.uint32)
                u, v = w[:nc], w[nc:]
            else:
                for bg, (_, a, b) in zip(bitgens, parts, strict=True):
                    w = bg.random_raw(b - a).view(np.uint32)
                    u[a:b], v[a:b] = w[:b - a], w[b - a:]
            if fixed:
                cand = np.flatnonzero(elig)
                x = np.full(cand.size, int(rate), np.int32)
            else:
                cand = np.flatnonzero(u > gate)
                uc = u[cand]
                x = np.ones(cand.size, np.int32)
                more = np.flatnonzero(uc > upper1[cand])  # x = 1 + #{k: u > P(X <= k)}
                if more.size:
                    um, cm = uc[more], cand[more]
                    xm = np.full(more.size, 2, np.int32)
                    for gk in upper:
                        xm += um > gk[cm]
                    tail = np.flatnonzero(xm == _GATES)
                    if tail.size:
                        xm[tail] = _poisson_tail((um[tail] + 0.5) / _TWO32, m[cm[tail]])
                    x[more] = xm
            if t >= lookback and cand.size:
                ok = (t - np.maximum(last_click[cand], 0)) < lookback
                if not ok.all():
                    exclude(cand[~ok])
                    keep = np.flatnonzero(ok)  # integer take: dense boolean masks are slow
                    cand, x = cand[keep], x[keep]
            if cap is not None:
                slot = t % policy.cap_days
                week -= ring[slot]
                ring[slot] = 0
                x = np.minimum(x, cap - week[cand])
                if x.size and x.min() <= 0:
                    keep = np.flatnonzero(x > 0)
                    cand, x = cand[keep], x[keep]
                week[cand] += x
                ring[slot, cand] = x
            if cand.size:
                ad_state = True
                xf = x.astype(F32)
                fc = fatigue[cand]
                q = np.exp(fc * -delta) if delta else None
                adstock[cand] += xf if q is None else q * xf
                fc += xf
                fatigue[cand] = fc
                pc = ctr * math.exp(-age / seg.creative_tau_days)
                clicks = None
                if pc > 0:
                    # P(no click) = (1 - p)**x >= (1 - pc)**x: integer pre-filter, then exact
                    low = (1.0 - min(pc, 1.0)) ** np.arange(int(x.max()) + 1)
                    low = np.maximum(np.floor(low * _TWO32 - 1.0), 0).astype(np.uint32)
                    sub = np.flatnonzero(v[cand] > low[x])
                    if sub.size:
                        vs = (v[cand[sub]] + 0.5) / _TWO32
                        qs = np.ones(sub.size) if q is None else q[sub].astype(np.float64)
                        ps = np.minimum(pc * qs, 1.0)
                        xs = x[sub]
                        hit_s = np.flatnonzero(vs > (1.0 - ps) ** xs)
                        if hit_s.size:
                            k = _binom_inv(vs[hit_s], xs[hit_s], ps[hit_s])
                            clicks = np.zeros(cand.size, np.int32)
                            clicks[sub[hit_s]] = k
                            clicked = cand[sub[hit_s]]
                            last_click[clicked] = t
                            clicks_tot[clicked] += k
                            if seg.click_resets_intent:
                                intent[clicked] = h0
                if hide_p > 0:
                    rem = hide_rem[cand]
                    # weary leads are a prefix of the (sorted) candidates
                    kw = int(np.searchsorted(cand, nw)) if nw and hide_c1 != hide_c0 else 0
                    if kw:
                        c = np.full(cand.size, F32(hide_c0))
                        np.copyto(c[:kw], F32(hide_c1), where=fc[:kw] > f_star)
                        rem -= xf * c
                    else:
                        rem -= xf * F32(hide_c0)
                    hide_rem[cand] = rem
                    gone = cand[rem <= 0]
                    if gone.size:
                        hidden[gone] = True
                        exclude(gone)
                last_imp[cand] = t
                imps[cand] += x
                if record:
                    rec.append((cand.astype(np.int64) + lo, np.full(cand.size, t, np.int16), x,
                                    np.zeros(cand.size, np.int32) if clicks is None else clicks,
                                    np.full(cand.size, creative, np.int16)))
        # hazard h = org + S * (L * org + a), org = intent + floor; times the weariness penalty
        np.add(intent, floor, out=h)
        if ad_state:
            if hill_n == 1:
                np.add(adstock, hill_k, out=s)
                np.divide(adstock, s, out=s)
            else:
                an = np.power(adstock, F32(hill_n))
                np.divide(an, an + F32(seg.hill_k ** hill_n), out=s)
            np.multiply(h, lift_l, out=g)
            if lift_a:
                g += lift_a
            s *= g
            h += s
            if nw and eta > 0:
                over = np.flatnonzero(fatigue[:nw] > f_star)
                if over.size:
                    h[over] *= np.exp(-eta * (fatigue[over] - f_star))
        cum += h
        np.greater_equal(cum, thr, out=hit)
        if hit.any():
            new = np.flatnonzero(hit)
            conv[new] = t
            click_at_conv[new] = last_click[new]
            imp_at_conv[new] = last_imp[new]
            thr[new] = np.inf
            if t + lag < stop:
                if lag == 1:
                    exclude(new)
                else:
                    pending.setdefault(t + lag, []).append(new)
    return rec
