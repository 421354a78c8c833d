"""A fast, seeded generator of large canonical event logs with known arm effects.

It writes ``events.parquet`` and ``assignments.parquet`` (canonical :data:`abtest.schema.EVENTS`
and :data:`abtest.schema.ASSIGNMENTS` columns) for benchmarks and scale tests: 10 million events
in a few seconds, vectorised with numpy and written by pyarrow in row groups, so memory stays
bounded by the chunk size. Timestamps are stored with microsecond precision (as Spark and most
warehouses store them: Spark refuses nanosecond parquet timestamps). It is not the simulator (:mod:`abtest.sim` models intent decay, fatigue
and policies); it is a world simple enough that its expectations are closed-form.

World, per lead ``i`` in arm ``a`` and segment ``s``:

* frailty ``u_i ~ Gamma(k, 1/k)`` (mean 1) shared by its pre-period and post-entry buying;
* impressions ``~ Poisson(impressions[s])`` at ``entry + U(0, exposure_days)``; each is clicked
  with probability ``ctr[a]`` (click one second after the impression);
* purchases after entry ``~ Poisson(rate[s] × lift[a] × u_i)`` at ``entry + Exp(delay_days)``,
  value ``~ LogNormal`` with mean ``value × value_lift[a]``;
* pre-period purchases ``~ Poisson(pre_rate[s] × u_i)`` at ``entry − U(0, pre_days)``.

Within a horizon ``H`` a lead's expected purchases are ``μ = rate × lift × (1 − e^{−H/delay})``
and, integrating the gamma frailty, ``P(converted) = 1 − (1 + μ/k)^{−k}``; :func:`truth` returns
these per arm × segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["SyntheticData", "SyntheticSpec", "generate", "truth"]

_START = np.datetime64("2024-03-01T00:00:00", "ns")
_NS_PER_DAY = 86_400 * 10**9
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic world (defaults: two arms, treatment +10% purchases)."""

    arms: tuple[str, ...] = ("control", "treatment")
    arm_shares: tuple[float, ...] = (0.5, 0.5)
    ctr: tuple[float, ...] = (0.020, 0.022)
    lift: tuple[float, ...] = (1.0, 1.10)
    value_lift: tuple[float, ...] = (1.0, 1.0)
    segments: tuple[str, ...] = ("warm", "cold", "lapsed")
    segment_shares: tuple[float, ...] = (0.3, 0.5, 0.2)
    impressions: tuple[float, ...] = (8.0, 6.0, 7.0)
    rate: tuple[float, ...] = (0.12, 0.04, 0.07)
    pre_rate: tuple[float, ...] = (0.20, 0.02, 0.10)
    frailty_shape: float = 0.5
    value: float = 60.0
    value_sigma: float = 0.6
    delay_days: float = 5.0
    exposure_days: float = 14.0
    pre_days: float = 28.0
    entry_days: float = 28.0

    def __post_init__(self) -> None:
        per_arm = (self.arm_shares, self.ctr, self.lift, self.value_lift)
        per_seg = (self.segment_shares, self.impressions, self.rate, self.pre_rate)
        if any(len(v) != len(self.arms) for v in per_arm):
            raise ValueError("arm_shares, ctr, lift and value_lift need one value per arm")
        if any(len(v) != len(self.segments) for v in per_seg):
            raise ValueError("segment_shares, impressions, rate, pre_rate need one value per segment")
        for name in ("arm_shares", "segment_shares"):
            if not np.isclose(sum(getattr(self, name)), 1.0):
                raise ValueError(f"{name} must sum to 1")

    @property
    def events_per_user(self) -> float:
        """Expected events per lead (impressions + clicks + purchases, all periods)."""
        seg = np.asarray(self.segment_shares)
        arm = np.asarray(self.arm_shares)
        imp = float(seg @ np.asarray(self.impressions))
        ctr = float(arm @ np.asarray(self.ctr))
        buys = float(seg @ np.asarray(self.rate)) * float(arm @ np.asarray(self.lift))
        return imp * (1 + ctr) + buys + float(seg @ np.asarray(self.pre_rate))


@dataclass(frozen=True)
class SyntheticData:
    """Where a generated data set lives and what it holds."""

    events_path: Path
    assignments_path: Path
    n_events: int
    n_users: int
    seed: int
    spec: SyntheticSpec = field(repr=False)

    def truth(self, horizon_days: float) -> pd.DataFrame:
        """Expected per-lead outcomes by arm × segment for this world (see :func:`truth`)."""
        return truth(self.spec, horizon_days=horizon_days)


def truth(spec: SyntheticSpec, *, horizon_days: float) -> pd.DataFrame:
    """Closed-form expectations per arm × segment within ``horizon_days`` of entry.

    Columns: ``arm, segment, conversion_rate`` (P(≥1 purchase)), ``conversions_per_lead``,
    ``revenue_per_lead`` and ``ctr``.
    """
    k = spec.frailty_shape
    reach = 1.0 - np.exp(-horizon_days / spec.delay_days)
    rows = []
    for a, arm in enumerate(spec.arms):
        for s, seg in enumerate(spec.segments):
            mu = spec.rate[s] * spec.lift[a] * reach
            rows.append(
                {
                    "arm": arm,
                    "segment": seg,
                    "conversion_rate": 1.0 - (1.0 + mu / k) ** (-k),
                    "conversions_per_lead": mu,
                    "revenue_per_lead": mu * spec.value * spec.value_lift[a],
                    "ctr": spec.ctr[a],
                }
            )
    return pd.DataFrame(rows).astype({"arm": "string", "segment": "string"})


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 64-character hex strings (the shape of SHA-256 lead ids), vectorised."""
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    return np.ascontiguousarray(_HEX[raw]).view("S64").ravel()


def _chunk(
    rng: np.random.Generator, spec: SyntheticSpec, n: int, first_id: int
) -> tuple[pa.Table, pa.Table]:
    arm = rng.choice(len(spec.arms), size=n, p=spec.arm_shares)
    seg = rng.choice(len(spec.segments), size=n, p=spec.segment_shares)
    ids = _hex_ids(rng, n)
    entry = _START + (rng.random(n) * spec.entry_days * _NS_PER_DAY).astype("timedelta64[ns]")
    frailty = rng.gamma(spec.frailty_shape, 1.0 / spec.frailty_shape, size=n)

    n_imp = rng.poisson(np.asarray(spec.impressions)[seg])
    imp_user = np.repeat(np.arange(n), n_imp)
    imp_off = rng.random(imp_user.size) * spec.exposure_days
    clicked = rng.random(imp_user.size) < np.asarray(spec.ctr)[arm[imp_user]]
    clk_user = imp_user[clicked]
    clk_off = imp_off[clicked] + 1.0 / 86_400

    n_buy = rng.poisson(np.asarray(spec.rate)[seg] * np.asarray(spec.lift)[arm] * frailty)
    buy_user = np.repeat(np.arange(n), n_buy)
    buy_off = rng.exponential(spec.delay_days, size=buy_user.size)
    n_pre = rng.poisson(np.asarray(spec.pre_rate)[seg] * frailty)
    pre_user = np.repeat(np.arange(n), n_pre)
    pre_off = -rng.random(pre_user.size) * spec.pre_days
    all_buy_user = np.concatenate([buy_user, pre_user])
    sigma = spec.value_sigma
    mean_value = spec.value * np.asarray(spec.value_lift)[arm[all_buy_user]]
    values = np.round(
        mean_value * rng.lognormal(-0.5 * sigma**2, sigma, size=all_buy_user.size), 2
    )

    user = np.concatenate([imp_user, clk_user, all_buy_user])
    offset = np.concatenate([imp_off, clk_off, buy_off, pre_off])
    kind = np.concatenate(
        [
            np.zeros(imp_user.size, np.int8),
            np.ones(clk_user.size, np.int8),
            np.full(all_buy_user.size, 2, np.int8),
        ]
    )
    value = np.concatenate([np.full(imp_user.size + clk_user.size, np.nan), values])
    stamp = entry[user] + (offset * _NS_PER_DAY).astype("timedelta64[ns]")
    names = pa.array(["Impression", "AdClick", "Purchase"], pa.string())
    events = pa.table(
        {
            "user_id": pa.array(ids[user], pa.binary()).cast(pa.string()),
            "timestamp": pa.array(stamp.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
            "event": pa.DictionaryArray.from_arrays(pa.array(kind), names),
            "value": pa.array(value, pa.float64(), from_pandas=True),
            "event_id": pa.array(
                np.char.add(b"e", (first_id * 64 + np.arange(user.size)).astype("S20")),
                pa.binary(),
            ).cast(pa.string()),
        }
    )
    assignments = pa.table(
        {
            "user_id": pa.array(ids, pa.binary()).cast(pa.string()),
            "arm": pa.DictionaryArray.from_arrays(pa.array(arm.astype(np.int32)),
                                                  pa.array(list(spec.arms))),
            "entry_time": pa.array(entry.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
            "segment": pa.DictionaryArray.from_arrays(pa.array(seg.astype(np.int32)),
                                                      pa.array(list(spec.segments))),
        }
    )
    return events, assignments


def generate(
    directory: str | Path,
    *,
    n_events: int = 10_000_000,
    seed: int = 0,
    spec: SyntheticSpec | None = None,
    users_per_chunk: int = 200_000,
) -> SyntheticData:
    """Write ``events.parquet`` and ``assignments.parquet`` under ``directory``.

    The number of leads is ``round(n_events / spec.events_per_user)``, so the event count is
    ``n_events`` in expectation (within a fraction of a percent at scale); the exact count is in
    the returned :class:`SyntheticData`. The same ``seed`` and arguments give identical files.
    """
    spec = spec or SyntheticSpec()
    if n_events < 1:
        raise ValueError("n_events must be >= 1")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    n_users = max(1, round(n_events / spec.events_per_user))
    rng = np.random.default_rng(seed)
    ev_path, as_path = out / "events.parquet", out / "assignments.parquet"
    total = 0
    ev_writer = as_writer = None
    try:
        for start in range(0, n_users, users_per_chunk):
            size = min(users_per_chunk, n_users - start)
            ev, asg = _chunk(rng, spec, size, start)
            if ev_writer is None:
                ev_writer = pq.ParquetWriter(ev_path, ev.schema)
                as_writer = pq.ParquetWriter(as_path, asg.schema)
            ev_writer.write_table(ev)
            as_writer.write_table(asg)  # type: ignore[union-attr]
            total += ev.num_rows
    finally:
        if ev_writer is not None:
            ev_writer.close()
        if as_writer is not None:
            as_writer.close()
    return SyntheticData(ev_path, as_path, total, n_users, seed, spec)
