"""Holdout planning against a simulation of the same design (plain numpy binomials)."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.stats.planning import holdout_for_precision, holdout_precision

AUDIENCE, P0, LIFT, REACHED = 40_000, 0.05, 0.4, 0.6
SIMS = 20_000
Z = 1.959963984540054


def _simulate(h: float, rng: np.random.Generator):
    n_c = round(AUDIENCE * h)
    n_t = AUDIENCE - n_c
    p1 = P0 * (1 + REACHED * LIFT)
    d_hat = rng.binomial(n_t, p1, SIMS) / n_t - rng.binomial(n_c, P0, SIMS) / n_c
    return d_hat, p1 - P0


@pytest.mark.parametrize("h", [0.05, 0.1, 0.2, 0.3])
def test_precision_matches_simulation_within_10_percent(h):
    planned = holdout_precision(AUDIENCE, P0, LIFT, h, reached_share=REACHED)
    d_hat, d = _simulate(h, np.random.default_rng(int(h * 100)))
    simulated = Z * d_hat.std() / d
    print(f"holdout {h:.0%}: planned ±{float(planned.cpi_precision):.1%}, "
          f"simulated ±{simulated:.1%}")
    assert simulated == pytest.approx(float(planned.cpi_precision), rel=0.10)
    # the planned relative bounds of the cost per incremental hold 95% of simulated read-outs
    with np.errstate(divide="ignore"):
        rel_cpi = d / d_hat - 1  # cost per incremental ∝ 1 / d
    inside = np.where(d_hat > 0, (rel_cpi >= planned.cpi_low) & (rel_cpi <= planned.cpi_high),
                      np.isinf(planned.cpi_high))
    assert inside.mean() == pytest.approx(0.95, rel=0.10)


def test_holdout_for_target_precision_reaches_it_in_simulation():
    target = 0.6
    h = holdout_for_precision(target, AUDIENCE, P0, LIFT, reached_share=REACHED)
    assert 0 < h < 0.5
    d_hat, d = _simulate(h, np.random.default_rng(9))
    assert Z * d_hat.std() / d == pytest.approx(target, rel=0.10)
    # more holdout, more precision (up to the best split); impossible targets say so
    shares = np.array([0.05, 0.1, 0.2, 0.3])
    assert np.all(np.diff(holdout_precision(AUDIENCE, P0, LIFT, shares,
                                            reached_share=REACHED).cpi_precision) < 0)
    assert np.isnan(holdout_for_precision(0.01, AUDIENCE, P0, LIFT, reached_share=REACHED))


def test_bad_planning_input():
    with pytest.raises(ValueError, match="holdout_share"):
        holdout_precision(1000, 0.05, 0.3, 1.2)
    with pytest.raises(ValueError, match="baseline"):
        holdout_precision(1000, 1.5, 0.3, 0.2)


def test_cli_plan_prints_holdout_precision(capsys):
    from abtest.cli import main

    assert main(["plan", "--baseline", "0.05", "--mde", "0.4", "--audience", "40000",
                 "--reached-share", "0.6", "--target-precision", "0.5"]) == 0
    out = capsys.readouterr().out
    planned = holdout_precision(AUDIENCE, P0, LIFT, 0.2, reached_share=REACHED).cpi_precision
    assert f"20% holdout (8,000 leads): ±{float(planned):.0%}" in out
    h = holdout_for_precision(0.5, AUDIENCE, P0, LIFT, reached_share=REACHED)
    assert f"holdout for ±50%: {h:.1%} of the audience" in out
