"""Trend tests under overdispersion (issue #10, item 4): a null trend is flagged <= 6 %.

Counts are generated with numpy: each row's rate is the common rate times a gamma day effect
(CV 20 %), so rows are overdispersed relative to the binomial; the level has no effect.
"""

from __future__ import annotations

import numpy as np
import pytest

from abtest.stats.trend import rate_trend

SIMS = 1500


def _flag_rate(levels: int, replicates: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    level = np.repeat(np.arange(1, levels + 1), replicates).astype(float)
    flagged = 0
    for _ in range(SIMS):
        trials = rng.integers(20_000, 40_000, level.size)
        rate = 0.01 * rng.gamma(25.0, 1 / 25.0, level.size)
        k = rng.binomial(trials, rate)
        res = rate_trend(level, k, trials)
        flagged += res.direction != "flat"
    return flagged / SIMS


@pytest.mark.slow
@pytest.mark.parametrize(("levels", "replicates"), [(2, 7), (3, 1), (4, 1), (14, 1)])
def test_null_trend_is_flagged_at_most_six_percent(levels: int, replicates: int) -> None:
    rate = _flag_rate(levels, replicates, seed=levels * 10 + replicates)
    print(f"\nnull trend flagged, {levels} levels x {replicates} row(s), overdispersed: "
          f"{rate:.4f} ({SIMS} sims)")
    assert rate <= 0.06


def test_two_levels_without_replicates_cannot_be_judged() -> None:
    res = rate_trend([1, 2], [120, 90], [10_000, 10_000])
    assert not res.testable and np.isnan(res.p_value) and res.direction == "flat"
    assert "cannot judge" in res.sentence
    plain = rate_trend([1, 2], [120, 90], [10_000, 10_000], overdispersion=False)
    assert plain.testable and plain.p_value < 0.05  # the binomial test, when asked for


def test_replicated_levels_still_detect_a_real_trend() -> None:
    rng = np.random.default_rng(4)
    level = np.repeat(np.arange(1, 5), 7).astype(float)
    trials = rng.integers(20_000, 40_000, level.size)
    k = rng.binomial(trials, 0.012 * 0.8 ** (level - 1))
    assert rate_trend(level, k, trials).direction == "falls"
