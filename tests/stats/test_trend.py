"""Frequency / creative-age trend: binomial GLM on counts equals a logit on individual rows."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from abtest.stats.trend import conversion_by_frequency, ctr_by_creative_age, rate_trend


def test_aggregated_glm_equals_individual_logit():
    rng = np.random.default_rng(0)
    freq = rng.integers(1, 8, 6000)
    y = rng.random(6000) < 0.08 * np.exp(-0.08 * (freq - 1))
    levels = np.arange(1, 8)
    k = np.array([y[freq == f].sum() for f in levels])
    n = np.array([(freq == f).sum() for f in levels])
    res = rate_trend(levels, k, n, overdispersion=False)
    ref = sm.Logit(y.astype(float), sm.add_constant(freq.astype(float))).fit(disp=0)
    assert res.slope == pytest.approx(ref.params[1], rel=1e-6)
    assert res.std_error == pytest.approx(ref.bse[1], rel=1e-6)
    assert res.p_value == pytest.approx(ref.pvalues[1], rel=1e-5)


def test_falling_conversion_rate_gives_the_advice():
    levels = np.arange(1, 11)
    leads = np.full(10, 20_000)
    rng = np.random.default_rng(1)
    conv = rng.binomial(leads, 0.06 * 0.93 ** (levels - 1))
    res = conversion_by_frequency(levels, conv, leads)
    assert res.direction == "falls"
    assert res.sentence == (
        "conversion rate falls as frequency rises: refresh the creative or widen the gap"
    )
    assert res.odds_ratio_per_step < 1
    assert res.to_dict()["direction"] == "falls"


def test_flat_ctr_is_flat_most_of_the_time():
    rng = np.random.default_rng(2)
    age = np.arange(0, 14)
    flats = 0
    for _ in range(200):
        imps = rng.integers(5_000, 20_000, age.size)
        clicks = rng.binomial(imps, 0.012)
        flats += ctr_by_creative_age(age, clicks, imps).direction == "flat"
    assert flats / 200 >= 0.9


def test_overdispersion_widens_the_standard_error():
    rng = np.random.default_rng(3)
    age = np.repeat(np.arange(10), 5)
    imps = np.full(age.size, 50_000)
    rate = 0.01 * np.exp(rng.normal(0, 0.2, age.size))  # day-to-day noise beyond binomial
    clicks = rng.binomial(imps, rate)
    wide = ctr_by_creative_age(age, clicks, imps)
    narrow = rate_trend(age, clicks, imps, overdispersion=False)
    assert wide.dispersion > 2 and wide.std_error > narrow.std_error


def test_degenerate():
    with pytest.raises(ValueError, match="two"):
        rate_trend([1, 1], [1, 2], [10, 10])
    with pytest.raises(ValueError, match="0 at every"):
        rate_trend([1, 2], [0, 0], [10, 10])
    with pytest.raises(ValueError, match="exceed"):
        rate_trend([1, 2], [11, 0], [10, 10])
    with pytest.raises(ValueError, match="missing"):
        rate_trend([1, 2], [np.nan, 0], [10, 10])
    res = rate_trend([1, 2, 3], [5, 4, 0], [100, 100, 0])  # zero-traffic level dropped
    # two levels, one row each: no residual df to estimate the overdispersion from
    assert len(res.table) == 2 and not res.testable and np.isnan(res.p_value)
    res = rate_trend([1, 2, 3], [5, 4, 0], [100, 100, 0], overdispersion=False)
    assert len(res.table) == 2 and np.isfinite(res.p_value)
