"""Acceptance simulations for ad-level daily exports (issue #10, item 1), through Experiment.

Frames are built here with plain numpy: two ad groups (arms) × D days, impressions Poisson around
a daily volume, clicks binomial at a CTR; a shared day effect (log-normal, CV 10 %) moves the
volume and the CTR of both arms together. Many simulated tests go through ONE Experiment call as
segments (``segment="sim"``, ``correction="none"``): every segment row is computed by the same
code as the pooled row, so the segment rows are independent replicate tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abtest import Experiment

SIMS, DAYS = 3000, 14


def _frame(rng: np.random.Generator, lift: float, sims: int = SIMS, days: int = DAYS,
           volume: float = 20_000.0, ctr: float = 0.01, cv: float = 0.10
           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    sd = np.sqrt(np.log1p(cv**2))
    day = np.exp(rng.normal(-sd**2 / 2, sd, (sims, days)))
    imp = rng.poisson(volume * day[None], (2, sims, days))
    rate = ctr * day[None] * np.array([1.0, 1.0 + lift])[:, None, None]
    clk = rng.binomial(imp, np.minimum(rate, 1.0))
    arm = np.repeat(np.array(["A", "B"]), sims * days)
    sim = np.tile(np.repeat(np.arange(sims), days), 2)
    date = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.tile(np.arange(days), 2 * sims),
                                                        unit="D")
    df = pd.DataFrame({"arm": arm, "sim": [f"s{i:05d}" for i in sim], "date": date,
                       "impressions": imp.ravel(), "clicks": clk.ravel()})
    return df, clk.astype(float), imp.astype(float)


def _rows(df: pd.DataFrame) -> pd.DataFrame:
    res = Experiment(df, control="A", metrics=["ctr"], segment="sim",
                     correction="none").analyze()
    t = res.table
    return t[(~t.is_control) & (t.segment != "all")].sort_values("segment")


@pytest.mark.slow
def test_aa_false_positive_rate_with_a_shared_day_effect() -> None:
    df, _, _ = _frame(np.random.default_rng(101), 0.0)
    rows = _rows(df)
    assert set(rows.test) == {"paired-by-day delta-t"}
    fpr = float(rows.significant.astype(bool).mean())
    print(f"\nA/A false-positive rate, shared day effect CV 10 %, {DAYS} days: {fpr:.4f} "
          f"({SIMS} sims)")
    assert 0.04 <= fpr <= 0.06


@pytest.mark.slow
def test_power_and_coverage_at_plus_five_percent_ctr() -> None:
    lift = 0.05
    df, clk, imp = _frame(np.random.default_rng(202), lift)
    rows = _rows(df)
    power = float(rows.significant.astype(bool).mean())
    # reference: paired t test on the daily log CTR ratio (scipy)
    log_ratio = np.log(clk[1] / imp[1]) - np.log(clk[0] / imp[0])
    ref = float(np.mean(stats.ttest_1samp(log_ratio, 0.0, axis=-1).pvalue < 0.05))
    lo = rows.rel_ci_low_unadjusted.to_numpy(float)
    hi = rows.rel_ci_high_unadjusted.to_numpy(float)
    cover = float(np.mean((lo <= lift) & (lift <= hi)))
    print(f"\npower at +5 % CTR: Experiment {power:.3f}, paired-by-day t reference {ref:.3f}; "
          f"coverage of the relative interval {cover:.4f} ({SIMS} sims)")
    assert abs(power - ref) <= 0.10
    assert 0.94 <= cover <= 0.96
