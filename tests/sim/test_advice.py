"""The cap and policy advice the frequency report and the timing simulator share."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from abtest import stats
from abtest.sim import whatif
from abtest.sim.advice import (
    PolicyObjective,
    cap_recommendation,
    cap_table,
    caps_from_parameter,
    decision_text,
    do_not_retarget_text,
    frequency_evidence,
)


def _grid(rows: list[tuple]) -> pd.DataFrame:
    """A what-if grid by hand: (segment, gap, cap, window, cost per extra conv, extra conv rate)."""
    frame = pd.DataFrame(rows, columns=["segment", "gap_days", "frequency_cap",
                                        "active_window_days", "cost_per_incremental_conversion",
                                        "incremental_conversion_rate"])
    frame["frequency_cap"] = pd.array(frame["frequency_cap"], dtype="Int64")
    frame["cap"] = [whatif.cap_label(None if pd.isna(c) else int(c)) for c in frame["frequency_cap"]]
    frame["policy"] = [f"gap {g} d · {c} · window {w} d" for g, c, w in
                       zip(frame["gap_days"], frame["cap"], frame["active_window_days"], strict=True)]
    frame["annoyance_rate"] = 0.0
    return frame


# warm: the tightest cap (2) is cheapest; cold: 4 (inside the grid); lapsed: nothing adds much
GRID = _grid([
    ("warm", 1, None, 28, 30.0, 0.010), ("warm", 1, 6, 28, 20.0, 0.009),
    ("warm", 1, 4, 28, 15.0, 0.008), ("warm", 1, 2, 28, 9.0, 0.006),
    ("cold", 1, None, 28, 40.0, 0.004), ("cold", 1, 6, 28, 25.0, 0.0035),
    ("cold", 1, 4, 28, 18.0, 0.003), ("cold", 1, 2, 28, 22.0, 0.002),
    ("lapsed", 1, None, 28, math.inf, -0.001), ("lapsed", 1, 6, 28, 80.0, 0.0005),
    ("lapsed", 1, 4, 28, 70.0, 0.0004), ("lapsed", 1, 2, 28, 60.0, 0.0003),
])
CHEAPEST = PolicyObjective()


def test_caps_parameter_zero_is_no_cap() -> None:
    assert caps_from_parameter([0, 4, 2]) == [None, 4, 2]
    assert caps_from_parameter([None, 6.0]) == [None, 6]
    for bad in ([-1], [2.5], [0, None], []):
        with pytest.raises(ValueError):
            caps_from_parameter(bad)


def test_objective_from_notebook_parameters() -> None:
    assert PolicyObjective.from_parameters(max_cost_per_incremental=0.0) == CHEAPEST
    most = PolicyObjective.from_parameters(max_cost_per_incremental=10.0)
    assert most == PolicyObjective("incremental_conversion_rate", 10.0)
    assert most.describe("USD") == "most extra conversions at no more than 10 USD each"
    assert CHEAPEST.describe() == "lowest cost per extra conversion"
    explicit = PolicyObjective.from_parameters(max_cost_per_incremental=10.0,
                                               objective="cost_per_incremental_conversion")
    assert explicit.objective == "cost_per_incremental_conversion"
    with pytest.raises(ValueError, match="objective"):
        PolicyObjective("cheapest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ceiling"):
        PolicyObjective(max_cost_per_incremental_conversion=-1.0)


def test_cap_at_the_grid_edge_says_so() -> None:
    recs = {r.segment: r for r in cap_recommendation(GRID, objective=CHEAPEST,
                                                      frequency_trend=True)}
    warm, cold = recs["warm"], recs["cold"]
    assert warm.cap == 2 and warm.at_grid_edge and "tightest cap tested" in warm.text
    assert cold.cap == 4 and not cold.at_grid_edge and cold.text == "cold: 4 per 7 d"
    assert warm.supported and warm.evidence == "falls"
    assert warm.caps_tested == (None, 6, 4, 2)
    assert warm.saving_vs_no_cap == pytest.approx(1 - 9 / 30)
    assert warm.cost_per_incremental_conversion == 9.0
    # no "no cap" priced: the loosest cap is an edge too
    loose = _grid([("warm", 1, 6, 28, 5.0, 0.01), ("warm", 1, 3, 28, 8.0, 0.01)])
    (r,) = cap_recommendation(loose, objective=CHEAPEST, frequency_trend=True)
    assert r.cap == 6 and r.at_grid_edge and "loosest cap tested" in r.text


def test_no_frequency_effect_does_not_become_a_cap() -> None:
    recs = {r.segment: r for r in cap_recommendation(GRID, objective=CHEAPEST,
                                                      frequency_trend=False)}
    warm = recs["warm"]
    assert warm.cap is None and warm.simulated_cap == 2 and warm.retarget
    assert not warm.supported and warm.evidence == "flat"
    assert warm.policy == "gap 1 d · no cap · window 28 d"
    assert warm.cost_per_incremental_conversion == 30.0 and warm.saving_vs_no_cap == 0.0
    assert "would cap at 2 per 7 d" in warm.text and not warm.at_grid_edge
    # no uncapped policy adds conversions for lapsed: without a cap, leave it alone
    lapsed = recs["lapsed"]
    assert not lapsed.retarget and lapsed.cap is None and lapsed.simulated_cap == 2
    assert lapsed.text.startswith("lapsed: do not retarget")
    # a grid that never priced "no cap" cannot advise it
    capped_only = GRID[GRID["frequency_cap"].notna()]
    (w, *_) = cap_recommendation(capped_only, objective=CHEAPEST, frequency_trend=False)
    assert not w.retarget and "add 0 to the caps" in w.text


def test_untested_cap_is_flagged_as_simulator_only() -> None:
    (warm, *_) = cap_recommendation(GRID, objective=CHEAPEST)
    assert warm.cap == 2 and not warm.supported and warm.evidence == "untested"
    assert "simulator only" in warm.text


def test_cost_ceiling_and_do_not_retarget() -> None:
    obj = PolicyObjective.from_parameters(max_cost_per_incremental=20.0)
    recs = {r.segment: r for r in cap_recommendation(GRID, objective=obj, frequency_trend=True,
                                                      currency="USD")}
    # most extra conversions at <= 20 each: warm takes cap 6 (0.9%) over 4 and 2
    assert recs["warm"].cap == 6 and not recs["warm"].at_grid_edge
    assert recs["cold"].cap == 4
    assert not recs["lapsed"].retarget
    assert recs["lapsed"].text == do_not_retarget_text("lapsed", obj, "USD") == (
        "lapsed: do not retarget (no policy adds conversions at or under 20 USD each)")
    text = decision_text(list(recs.values()), kind="cap")
    assert text == ("Frequency cap per segment: warm: 6 per 7 d; cold: 4 per 7 d; lapsed: do not "
                    "retarget (no policy adds conversions at or under 20 USD each)")
    policy = decision_text(list(recs.values()), kind="policy")
    assert policy.startswith("Recommended policy: warm: gap 1 d · 6 per 7 d · window 28 d; cold:")
    table = cap_table(list(recs.values()))
    assert list(table.columns) == ["segment", "cap", "cost_per_incremental_conversion",
                                   "incremental_conversion_rate", "saving_vs_no_cap",
                                   "at_grid_edge", "supported", "advice"]
    json.dumps([r.to_dict() for r in recs.values()])  # sidecar-safe (NaN -> None)
    assert recs["lapsed"].to_dict()["cost_per_incremental_conversion"] is None


def test_frequency_report_and_timing_simulator_agree_on_the_engine() -> None:
    """The same grid, objective and evidence give the same cap whether the caller is the
    frequency report (frequency_cap_advice scan) or the timing simulator (policy_whatif grid)."""
    kw = dict(weekly_frequency=6.0, horizon_days=21, segments=("warm", "cold"))
    caps = caps_from_parameter([0, 10, 6, 4, 2])
    grid = whatif.policy_whatif(gaps=(1,), caps=caps, windows=(28,), **kw)
    for ceiling in (0.0, 40.0):
        obj = PolicyObjective.from_parameters(max_cost_per_incremental=ceiling)
        scan, advice = whatif.frequency_cap_advice(
            caps=caps, gap_days=1, window_days=28, **kw,
            max_cost_per_incremental_conversion=obj.max_cost_per_incremental_conversion)
        from_scan = cap_recommendation(scan, objective=obj, frequency_trend=True)
        from_grid = cap_recommendation(grid, objective=obj, frequency_trend=True)
        assert [r.to_dict() for r in from_scan] == [r.to_dict() for r in from_grid]
        # and the frequency report's own advice table names the same caps
        want = advice.set_index("segment")["frequency_cap"]
        for r in from_scan:
            if not r.retarget:
                assert r.segment not in want.index
                continue
            got = want.get(r.segment)
            assert (r.cap is None and pd.isna(got)) or r.cap == got


def test_evidence_from_a_trend_test() -> None:
    """frequency_evidence reads stats.conversion_by_frequency on plain numpy data."""
    rng = np.random.default_rng(5)
    level = np.arange(1, 6)
    reach = np.full(5, 20_000)
    falling = rng.binomial(reach, 0.03 * 0.8 ** (level - 1))
    flat = rng.binomial(reach, np.full(5, 0.03))
    assert frequency_evidence(stats.conversion_by_frequency(level, falling, reach)) == "falls"
    assert frequency_evidence(stats.conversion_by_frequency(level, flat, reach)) in ("flat",)
    assert frequency_evidence(None) == "untested"
    assert frequency_evidence(True) == "falls" and frequency_evidence(False) == "flat"
