"""Planning formulas against statsmodels and peers.md 4.5, plus seeded simulated power."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from abtest.stats import (
    minimum_detectable_effect,
    power,
    power_by_simulation,
    proportion_test_arrays,
    ratio_test_arrays,
    sample_size,
    test_duration_days,
    unit_variance_from_sums,
)


def test_sample_size_reference_numbers() -> None:
    """peers.md 4.5: unpooled 31,230.7 -> 31,231; Cohen's h (NormalIndPower) 31,217.4 -> 31,218."""
    assert sample_size(0.05, 0.10) == 31_231
    assert sample_size(0.05, 0.10, round_up=False) == pytest.approx(31_230.7, abs=0.05)
    assert sample_size(0.05, 0.005, relative=False) == 31_231
    assert sample_size(0.05, 0.10, method="cohen_h") == 31_218
    es = proportion_effectsize(0.055, 0.05)
    for alpha, pw in [(0.05, 0.8), (0.1, 0.9), (0.01, 0.5)]:
        ref = NormalIndPower().solve_power(es, alpha=alpha, power=pw)
        ours = sample_size(0.05, 0.10, method="cohen_h", alpha=alpha, power=pw, round_up=False)
        assert ours == pytest.approx(ref, rel=1e-6)


def test_continuous_sample_size_matches_statsmodels() -> None:
    sd, delta = 3.0, 0.25
    ref = NormalIndPower().solve_power(delta / sd, alpha=0.05, power=0.8,
                                       alternative="larger")
    ours = sample_size(10.0, delta, relative=False, unit_variance=sd**2,
                       alternative="greater", round_up=False)
    assert ours == pytest.approx(ref, rel=1e-6)


def test_many_arms_bonferroni_and_roundtrips() -> None:
    assert sample_size(0.05, 0.1, n_arms=4) == sample_size(0.05, 0.1, alpha=0.05 / 3)
    assert sample_size(0.05, 0.1, n_arms=4, correction="none") == 31_231
    n = sample_size(0.05, 0.1, round_up=False)
    assert minimum_detectable_effect(n, 0.05) == pytest.approx(0.1, rel=1e-9)
    assert power(n, 0.05, 0.1) == pytest.approx(0.8, abs=1e-5)  # far tail adds ~1e-6
    mde = minimum_detectable_effect(20_000, 2.0, unit_variance=4.0, relative=False)
    assert sample_size(2.0, mde, unit_variance=4.0, relative=False,
                       round_up=False) == pytest.approx(20_000, rel=1e-9)
    np.testing.assert_array_equal(sample_size(np.array([0.05, 0.1]), 0.1),
                                  [31_231, sample_size(0.1, 0.1)])


def test_duration_and_validation() -> None:
    assert test_duration_days(31_231, 2_000) == 16
    assert test_duration_days(30_000, 2_000) == 15
    with pytest.raises(ValueError, match="daily_units_per_arm"):
        test_duration_days(1000, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample_size(1.2, 0.1)
    with pytest.raises(ValueError, match="non-zero"):
        sample_size(0.05, 0.0)
    with pytest.raises(ValueError, match="power"):
        sample_size(0.05, 0.1, power=1.0)


def test_ratio_unit_variance_agrees_with_ratio_test() -> None:
    sums = (5000, 1500, 2500, 100_000, 2_600_000, 40_000)
    r, var = unit_variance_from_sums(*sums)
    res = ratio_test_arrays(*[[v, v] for v in sums])
    assert r == pytest.approx(0.015)
    assert var / 5000 == pytest.approx(res.control_var[0], rel=1e-12)
    n = sample_size(r, 0.1, unit_variance=var)
    assert 5000 < n < 100_000


def test_power_by_simulation_matches_formula() -> None:
    n, p1, p2 = 3000, 0.10, 0.12

    def simulate(rng, k):
        return rng.binomial(n, np.array([[p1], [p2]]), size=(2, k))

    def analyse(x):
        return proportion_test_arrays(x, n).p_value[0]

    res = power_by_simulation(simulate, analyse, 4000, seed=1)
    expected = power(n, p1, p2 - p1, relative=False)
    assert abs(res.power - expected) < 4 * res.std_error
    again = power_by_simulation(simulate, analyse, 4000, seed=1)
    assert again == res
    with pytest.raises(ValueError, match="4000 values"):
        power_by_simulation(simulate, lambda x: [0.5], 4000, seed=1)
