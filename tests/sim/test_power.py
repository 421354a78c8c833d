"""Test design by simulation: power of retargeting split tests (issue 4 item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.sim.policy import ArmSpec, holdout
from abtest.sim.power import gap_test_arms, simulate_power, true_rates

COLUMNS = ["leads_per_arm", "horizon_days", "comparison", "treatment", "control", "power",
           "mc_se", "true_control_rate", "true_treatment_rate", "true_diff",
           "mean_observed_diff", "n_sims", "method"]


def test_power_increases_with_leads_and_is_tidy() -> None:
    arms = gap_test_arms((1, 7))
    res = simulate_power(arms, leads_per_arm=[5_000, 20_000, 80_000], horizons=[35],
                         n_sims=600, method="binomial", seed=3)
    assert list(res.columns) == COLUMNS
    assert len(res) == 3 * 2 and set(res["comparison"]) == {"gap1d vs holdout",
                                                            "gap7d vs holdout"}
    for _, grp in res.groupby("comparison"):
        p = grp.sort_values("leads_per_arm")["power"].to_numpy()
        assert np.all(np.diff(p) > 0), p
    big = res[(res["leads_per_arm"] == 80_000) & (res["treatment"] == "gap1d")].iloc[0]
    assert big["power"] > 0.5 and big["true_diff"] > 0
    # the simulated mean difference is centred on the expected-value truth
    sd = np.sqrt(2 * big["true_control_rate"] * (1 - big["true_control_rate"]) / 80_000 / 600)
    assert abs(big["mean_observed_diff"] - big["true_diff"]) < 4 * sd


def test_zero_difference_gives_alpha() -> None:
    arms = [ArmSpec("holdout", holdout()), ArmSpec("holdout_b", holdout())]
    res = simulate_power(arms, leads_per_arm=[4_000], horizons=[28], n_sims=6_000,
                         method="binomial", seed=5, alpha=0.05)
    row = res.iloc[0]
    assert row["true_diff"] == 0
    assert abs(row["power"] - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 6_000)


def test_longer_horizon_gives_more_power_for_a_long_gap() -> None:
    arms = gap_test_arms((7,))
    res = simulate_power(arms, leads_per_arm=[60_000], horizons=[14, 42], n_sims=800,
                         method="binomial", seed=8)
    short, long_ = res.sort_values("horizon_days")["power"].to_numpy()
    assert long_ > short


def test_true_rates_and_validation() -> None:
    arms = gap_test_arms((1,))
    rates = true_rates(arms, horizons=[7, 28])
    assert len(rates) == 2 * 3 * 2
    wide = rates.pivot_table(index=["arm", "segment"], columns="horizon_days",
                             values="conversion_rate")
    assert (wide[28] > wide[7]).all()
    with pytest.raises(ValueError, match="unknown arm"):
        simulate_power(arms, leads_per_arm=[100], horizons=[7], comparisons=[("x", "holdout")],
                       method="binomial")
    with pytest.raises(ValueError, match="method"):
        simulate_power(arms, leads_per_arm=[100], horizons=[7], method="exact")  # type: ignore[arg-type]


@pytest.mark.slow
def test_monte_carlo_engine_agrees_with_binomial_shortcut() -> None:
    """Lead-level replicates: zero difference gives ~alpha, and the mean difference matches the
    expected-value truth that the binomial shortcut uses."""
    arms = [ArmSpec("holdout", holdout()), ArmSpec("holdout_b", holdout()),
            *gap_test_arms((1,), include_holdout=False)]
    res = simulate_power(arms, leads_per_arm=[1_000, 3_000], horizons=[21, 35], n_sims=40,
                         method="monte_carlo", seed=2).set_index(
        ["comparison", "leads_per_arm", "horizon_days"])
    null = res.loc["holdout_b vs holdout"]
    assert (null["true_diff"] == 0).all()
    assert null["power"].mean() < 0.15
    for (n, h), row in res.loc["gap1d vs holdout"].iterrows():
        sd = np.sqrt(2 * row["true_control_rate"] * (1 - row["true_control_rate"]) / n / 40)
        assert abs(row["mean_observed_diff"] - row["true_diff"]) < 4 * sd, (n, h)
    # nested sizes: the prefix sub-samples are counted consistently
    assert (res["n_sims"] == 40).all() and set(res["method"]) == {"monte_carlo"}
