"""The typed decision: tied winners are never crowned, a clear best is, secondary wins are said."""

from __future__ import annotations

import numpy as np
import pandas as pd

import abtest


def _users(rates: dict[str, float], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arms = np.repeat(list(rates), n)
    p = np.repeat(list(rates.values()), n)
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(len(arms))], "arm": arms,
                         "converted": (rng.random(len(arms)) < p).astype(int),
                         "revenue": rng.gamma(2.0, 20.0, len(arms))})


def test_tied_winners_are_not_crowned():
    users = _users({"holdout": 0.05, "gap1d": 0.08, "gap3d": 0.08, "gap7d": 0.08}, 6000, 1)
    res = abtest.Experiment(users, control="holdout").analyze()
    d = res.decision
    assert d.action == "ship" and d.arm is None
    assert set(d.winners) == {"gap1d", "gap3d", "gap7d"}
    assert "all beat holdout" in d.text and "choose on cost" in d.text
    assert "ship gap" not in res.recommendation


def test_tied_winners_name_the_cheapest_when_cost_is_known():
    rng = np.random.default_rng(7)
    days = pd.date_range("2026-01-01", periods=28, freq="D")
    rows = []
    for arm, ctr, cost in (("holdout", 0.010, 100.0), ("gap1d", 0.013, 90.0),
                           ("gap3d", 0.013, 60.0)):
        for d in days:
            imp = 50_000
            rows.append({"date": d, "ad_id": arm, "arm": arm, "impressions": imp,
                         "clicks": rng.binomial(imp, ctr), "cost": cost,
                         "conversions": rng.poisson(20)})
    res = abtest.Experiment(pd.DataFrame(rows), control="holdout", unit="day",
                            metrics=["ctr", "cost_per_conversion"]).analyze()
    d = res.decision
    assert d.action == "ship" and d.arm is None and set(d.winners) == {"gap1d", "gap3d"}
    assert "choose on cost (gap3d is the cheapest, cost per conversion" in d.text


def test_a_clear_best_winner_is_named():
    users = _users({"holdout": 0.05, "a": 0.065, "b": 0.11}, 6000, 2)
    d = abtest.Experiment(users, control="holdout").analyze().decision
    assert d.action == "ship" and d.arm == "b" and set(d.winners) == {"a", "b"}
    assert d.text == "ship b"


def test_secondary_win_under_a_null_primary_is_in_the_decision():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-01", periods=28, freq="D")
    rows = []
    for arm, eng in (("infeed", 0.01), ("spark", 0.04)):
        for d in days:
            imp = 20_000
            rows.append({"date": d, "ad_id": arm, "arm": arm, "impressions": imp,
                         "clicks": rng.binomial(imp, 0.01), "cost": 200.0,
                         "conversions": rng.poisson(8),
                         "likes": rng.binomial(imp, eng), "comments": 0, "shares": 0})
    ads = pd.DataFrame(rows)
    res = abtest.Experiment(ads, control="infeed", unit="day",
                            metrics=["cost_per_conversion", "engagement_rate"]).analyze()
    d = res.decision
    assert d.action in ("no difference", "keep testing")
    assert ("engagement_rate", "spark") in d.secondary_wins
    assert "spark lifts Engagement rate" in d.text


def test_cost_direction_lower_cost_is_better():
    rng = np.random.default_rng(4)
    rows = []
    for arm, cpa in (("a", 10.0), ("b", 6.0)):
        for d in pd.date_range("2026-01-01", periods=28, freq="D"):
            conv = rng.poisson(60)
            rows.append({"date": d, "ad_id": arm, "arm": arm, "cost": conv * cpa * rng.uniform(0.9, 1.1),
                         "conversions": conv, "impressions": 10_000, "clicks": 100})
    res = abtest.Experiment(pd.DataFrame(rows), control="a", unit="day",
                            metrics=["cost_per_conversion"]).analyze()
    row = res.table.query("arm == 'b'").iloc[0]
    assert row["rel_lift"] < 0 and row["verdict"] == "better"
    assert res.decision.action == "ship" and res.decision.arm == "b"
