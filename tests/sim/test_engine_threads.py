"""The Monte Carlo engine's results do not depend on threads or on how chunks are grouped."""

import dataclasses
import os

import numpy as np
import pytest

from abtest.sim import SimParams, draw_leads, engine, run_block
from abtest.sim.engine import CHUNK, default_threads
from abtest.sim.policy import ArmSpec, RetargetingPolicy

N = 2 * CHUNK + 1234  # two full chunks and a short one
POLICIES = [
    RetargetingPolicy(gap_days=1, active_window_days=25, weekly_frequency=3.0),
    # heavy delivery (Poisson tail, weary hiding), a binding cap, short lookback, rotation
    RetargetingPolicy(gap_days=0, active_window_days=15, weekly_frequency=21.0, frequency_cap=9,
                      lookback_days=6, n_creatives=2, creative_refresh_days=5),
    RetargetingPolicy(gap_days=2, active_window_days=20, impressions_per_day=1.0,
                      weekly_frequency=None, delivery="fixed"),
]


def _assert_same(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, tuple):
            assert len(x) == len(y)
            for xi, yi in zip(x, y, strict=True):
                assert xi.dtype == yi.dtype
                np.testing.assert_array_equal(xi, yi)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


@pytest.fixture(scope="module")
def world():
    sim = SimParams()
    seg = sim.warm
    return sim, seg, draw_leads(seg, sim, N, seed=8)


@pytest.mark.parametrize("engine_name", ["numpy", "numba"])
@pytest.mark.parametrize("pol", POLICIES, ids=["nbd", "capped", "fixed"])
def test_threads_give_bit_identical_results(world, pol, engine_name):
    sim, seg, leads = world
    arm = ArmSpec("a", pol, lift_multiplier=1.5, hide_multiplier=4.0)
    runs = [run_block(seg, pol, leads, horizon_days=16, sim=sim, seed=2, key=(7,), arm=arm,
                      record_exposures=True, threads=k, engine=engine_name) for k in (1, 2, 3)]
    assert runs[0].impressions.sum() > 0 and (runs[0].conv_day >= 0).any()
    for r in runs[1:]:
        _assert_same(runs[0], r)


def test_chunk_grouping_does_not_change_results(world, monkeypatch):
    """Group size 1 is the plain chunk-by-chunk layout; larger groups must reproduce it."""
    sim, seg, leads = world
    pol = POLICIES[1]
    runs = []
    for size in (1, 2, 4):
        monkeypatch.setattr(engine, "GROUP_CHUNKS", size)
        runs.append(run_block(seg, pol, leads, horizon_days=12, sim=sim, seed=4, threads=1,
                              record_exposures=True, engine="numpy"))
    for r in runs[1:]:
        _assert_same(runs[0], r)
    assert runs[0].hidden.any()


def test_thread_count_from_env_and_validation(world, monkeypatch):
    monkeypatch.delenv("ABTEST_THREADS", raising=False)
    if hasattr(os, "sched_getaffinity"):
        assert default_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("ABTEST_THREADS", "3")
    assert default_threads() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("ABTEST_THREADS", bad)
        with pytest.raises(ValueError, match="ABTEST_THREADS"):
            default_threads()
    sim, seg, leads = world
    with pytest.raises(ValueError, match="threads"):
        run_block(seg, POLICIES[0], leads, horizon_days=5, sim=sim, seed=1, threads=0)


def test_group_bounds_cover_chunks_once():
    for n_chunks in (1, 2, 3, 7, 16, 33):
        for workers in (1, 2, 3, 8):
            b = engine._group_bounds(n_chunks, workers)
            assert b[0][0] == 0 and b[-1][1] == n_chunks
            assert all(c1 == d0 for (_, c1), (d0, _) in zip(b, b[1:], strict=False))
            assert all(0 < c1 - c0 <= engine.GROUP_CHUNKS for c0, c1 in b)
            assert len(b) >= min(workers, n_chunks)
