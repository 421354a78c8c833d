"""Heterogeneity across segments (Cochran's Q vs statsmodels) and the Simpson warning."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from abtest.stats.heterogeneity import heterogeneity_test, simpson_warning


def test_q_matches_statsmodels_meta_analysis():
    eff = np.array([0.012, -0.004, 0.020, 0.001])
    se = np.array([0.004, 0.005, 0.006, 0.003])
    out = heterogeneity_test(eff, se).iloc[0]
    ref = combine_effects(eff, se**2)
    assert out.q == pytest.approx(ref.q, rel=1e-10)
    assert out.i_squared == pytest.approx(ref.i2, rel=1e-10)
    assert out.pooled_estimate == pytest.approx(ref.mean_effect_fe, rel=1e-10)
    assert out.pooled_std_error == pytest.approx(ref.sd_eff_w_fe, rel=1e-10)
    assert out.df == 3


def test_two_segments_q_is_interaction_z_squared_and_vectorised():
    eff = np.array([[0.01, 0.0, 0.03], [-0.01, 0.0, 0.02]])
    se = np.array([[0.005, 0.01, 0.01], [0.004, 0.01, 0.01]])
    out = heterogeneity_test(eff, se)
    assert len(out) == 3
    np.testing.assert_allclose(out.q, out.interaction_z**2, rtol=1e-12)
    assert out.p_value.iloc[1] == 1.0 and out.i_squared.iloc[1] == 0.0


def test_aa_heterogeneity_false_positive_rate():
    rng = np.random.default_rng(5)
    se = np.array([0.01, 0.02, 0.015])[:, None]
    eff = rng.normal(0.003, 1.0, size=(3, 20_000)) * se
    rate = (heterogeneity_test(eff, se).p_value < 0.05).mean()
    assert 0.04 <= rate <= 0.06


def test_simpson_warning():
    assert simpson_warning(-0.01, [0.02, 0.01, 0.005])
    assert not simpson_warning(0.01, [0.02, 0.01, 0.005])
    assert not simpson_warning(-0.01, [0.02, -0.01, 0.005])  # segments disagree among themselves
    assert not simpson_warning(0.0, [0.02, 0.01])
    np.testing.assert_array_equal(
        simpson_warning([1.0, -1.0], [[-1.0, -1.0], [-2.0, -3.0]]), [True, False]
    )


def test_degenerate():
    with pytest.raises(ValueError, match="zero standard error"):
        heterogeneity_test([0.1, 0.2], [0.0, 0.1])
    with pytest.raises(ValueError, match="two segments"):
        heterogeneity_test([0.1], [0.1])
    with pytest.raises(ValueError, match="missing"):
        heterogeneity_test([0.1, np.nan], [0.1, 0.1])
