"""Ad-level daily data: metrics with too few events a day, and the sequential method (issue #10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abtest import Experiment


def _ads(rng: np.random.Generator, days: int, conv_per_day: float, sims: int = 1,
         lift: float = 0.0) -> pd.DataFrame:
    day = np.exp(rng.normal(0, 0.1, (sims, days)))
    imp = rng.poisson(20_000 * day[None], (2, sims, days))
    clk = rng.binomial(imp, 0.01)
    conv = rng.poisson(conv_per_day * day[None] * np.array([1.0, 1 + lift])[:, None, None],
                       (2, sims, days))
    cost = 0.01 * imp * rng.gamma(50, 1 / 50, imp.shape)
    arm = np.repeat(["A", "B"], sims * days)
    sim = np.tile(np.repeat(np.arange(sims), days), 2)
    date = pd.Timestamp("2026-02-01") + pd.to_timedelta(np.tile(np.arange(days), 2 * sims),
                                                        unit="D")
    return pd.DataFrame({"arm": arm, "sim": [f"s{i:04d}" for i in sim], "date": date,
                         "impressions": imp.ravel(), "clicks": clk.ravel(),
                         "conversions": conv.ravel(), "cost": cost.ravel()})


def test_too_few_conversions_a_day_is_said_not_tested() -> None:
    df = _ads(np.random.default_rng(3), 14, 0.5)
    res = Experiment(df, control="A", metrics=["ctr", "cost_per_conversion"]).analyze()
    t = res.table[~res.table.is_control].set_index("metric")
    cpa = t.loc["cost_per_conversion"]
    assert cpa.test.startswith("not judged")
    assert cpa.verdict == "inconclusive" and not bool(cpa.significant)
    assert "too few conversions per day to judge Cost per conversion" in cpa.note
    # blocks of ceil(5 / events a day) days, 5 of them: the note gives the days still missing
    per_day = df.groupby("arm").conversions.sum().min() / 14
    block = int(np.ceil(5 / per_day))
    assert cpa.more_days == 5 * block - 14 and f"{5 * block - 14} more day(s)" in cpa.note
    assert any("too few conversions" in n for n in res.notes)
    assert t.loc["ctr"].test == "paired-by-day delta-t" and t.loc["ctr"].note == ""


@pytest.mark.slow
def test_pooled_blocks_keep_cost_per_conversion_calibrated() -> None:
    """2 conversions a day over 60 days: blocks of 3 days, A/A rate near 5 %, not 0.0001."""
    df = _ads(np.random.default_rng(8), 60, 2.0, sims=1500)
    res = Experiment(df, control="A", metrics=["cost_per_conversion"], segment="sim",
                     correction="none").analyze()
    t = res.table[(res.table.segment != "all") & ~res.table.is_control]
    assert t.test.str.contains("blocks").mean() > 0.9
    rate = float(t.significant.astype(bool).mean())
    print(f"\ncost per conversion A/A rate, ~2 conversions a day, 60 days in blocks: {rate:.4f}")
    assert 0.03 <= rate <= 0.07


def test_sequential_on_ad_level_data_is_tuned_in_days() -> None:
    df = _ads(np.random.default_rng(5), 14, 20.0)
    seq = Experiment(df, control="A", metrics=["ctr"], method="sequential").analyze()
    fix = Experiment(df, control="A", metrics=["ctr"]).analyze()
    assert seq.options["tuning"] == 56.0  # two arms × 28 days, not 5,000 users
    s = seq.table[~seq.table.is_control].iloc[0]
    f = fix.table[~fix.table.is_control].iloc[0]
    assert s.test == "always-valid (paired-by-day delta-t)"
    ratio = (s.abs_ci_high - s.abs_ci_low) / (f.abs_ci_high - f.abs_ci_low)
    # the always-valid interval costs a bounded factor at 14 days (was ±7.4 SE when tuned for
    # 5,000 users)
    assert 1.0 < ratio < 1.8
    assert any("tuned for 28 days per arm" in n for n in seq.notes)
