"""Nowcast of immature leads on data drawn with plain numpy: coverage of the final count.

Leads enter uniformly over 60 days; the data are cut 70 days after the first entry, so with a
28-day horizon 30% of the leads are immature. Each lead would convert at an exponential delay
(mean 10 days) with probability 12%; the final count is the conversions before the horizon.
"""

from __future__ import annotations

import numpy as np
import pytest

from abtest.stats.nowcast import nowcast_conversions

REPS, N, H, ENTRY_DAYS = 2000, 3000, 28, 60.0
CUT = H + 0.7 * ENTRY_DAYS  # 30% of leads immature


def _world(rng, reps, n, p=0.12, mean_delay=10.0):
    entry = rng.uniform(0, ENTRY_DAYS, (reps, n))
    age = CUT - entry
    would = rng.random((reps, n)) < p
    delay = np.where(would, rng.exponential(mean_delay, (reps, n)), np.inf)
    final = (delay < H).sum(axis=-1)
    observed = np.where(delay < np.minimum(age, H), delay, np.nan)
    return age, observed, final


def test_nowcast_interval_covers_final_conversions_94_to_96():
    age, observed, final = _world(np.random.default_rng(7), REPS, N)
    assert 0.29 < np.mean(age < H) < 0.31
    nc = nowcast_conversions(age, observed, H)
    cover = np.mean((nc.low <= final) & (final <= nc.high))
    naive = np.mean(nc.known)  # what counting only the observed conversions would say
    print(f"nowcast coverage {cover:.4f}; mean final {final.mean():.1f}, "
          f"mean nowcast {nc.expected.mean():.1f}, observed so far {naive:.1f}")
    assert 0.94 <= cover <= 0.96
    assert abs(np.mean(nc.expected - final)) < 3 * np.std(nc.expected - final) / np.sqrt(REPS)
    assert np.all(nc.estimation_variance > 0) and np.all(nc.process_variance > 0)


def test_all_mature_is_the_plain_count():
    rng = np.random.default_rng(1)
    age = np.full(500, 40.0)
    day = np.where(rng.random(500) < 0.1, rng.uniform(0, 27, 500), np.nan)
    nc = nowcast_conversions(age, day, 28)
    assert nc.expected == nc.known == np.sum(~np.isnan(day))
    assert nc.variance == 0


def test_hazards_match_kaplan_meier_by_hand():
    # five leads, horizon 3: exposures and events counted by hand
    age = np.array([3.0, 3.0, 1.5, 2.2, 0.5])
    day = np.array([0.4, np.nan, np.nan, 1.7, np.nan])
    nc = nowcast_conversions(age, day, 3)
    # day 0: at risk 4 (lead 5 has no full day), 1 event; day 1: at risk 2 (leads 2 and 4;
    # lead 3 has one full day), 1 event; day 2: at risk 1 (lead 2), 0 events
    np.testing.assert_allclose(nc.hazard, [1 / 4, 1 / 2, 0.0])
    # lead 3 (a = 1, half of day 1 seen): 1 - (1/2)^0.5 (1 - 0);
    # lead 5 (a = 0, half of day 0 seen): 1 - (3/4)^0.5 (1/2)(1)
    p3, p5 = 1 - (1 / 2) ** 0.5, 1 - (3 / 4) ** 0.5 * (1 / 2)
    np.testing.assert_allclose(nc.probability, [1, 0, p3, 1, p5])
    assert nc.expected == pytest.approx(2 + p3 + p5)
