"""Issue #10 items 2, 5, 6 and the degenerate-input points, through Experiment (numpy data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abtest import Experiment
from abtest.stats.frequentist import interval_excludes


def _leads(counts: dict[str, tuple[int, int]], **extra: np.ndarray) -> pd.DataFrame:
    parts = [pd.DataFrame({"arm": a, "converted": [1] * k + [0] * (n - k)})
             for a, (k, n) in counts.items()]
    df = pd.concat(parts, ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    return df


def _treated(res, metric: str = "conversion_rate", segment: str = "all") -> pd.Series:
    t = res.table
    return t[(t.metric == metric) & (t.segment == segment) & ~t.is_control].iloc[0]


def test_small_counts_switch_to_fisher_and_say_so() -> None:
    res = Experiment(_leads({"A": (0, 1000), "B": (5, 1000)}), control="A", days=7).analyze()
    row = _treated(res)
    fisher = stats.fisher_exact([[5, 0], [995, 1000]]).pvalue
    assert row.test == "fisher-exact (small counts)"
    assert row.p_value == pytest.approx(fisher, rel=1e-12) and fisher == pytest.approx(0.062, abs=1e-3)
    assert not bool(row.significant) and row.verdict == "inconclusive"
    assert res.recommendation != "ship B"
    # the displayed interval agrees with the exact test (includes 0)
    assert row.abs_ci_low < 0 < row.abs_ci_high
    # large counts keep the Wald z test
    big = Experiment(_leads({"A": (100, 2000), "B": (140, 2000)}), control="A", days=7).analyze()
    assert _treated(big).test == "wald-z"


def test_zero_variance_comparison_gets_an_exact_p_value() -> None:
    res = Experiment(_leads({"A": (0, 3), "B": (3, 3)}), control="A", days=2).analyze()
    row = _treated(res)
    assert row.p_value == pytest.approx(0.1, rel=1e-12)  # Fisher, not 0
    assert row.verdict == "inconclusive"
    assert interval_excludes(row.abs_ci_low, row.abs_ci_high) == bool(row.significant)


def _users(seed: int, n: int = 3000, lift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B", "C"], n)
    p = 0.08 * np.where(arm == "A", 1.0, 1.0 + lift)
    imps = rng.poisson(6, n) + 1
    return pd.DataFrame({
        "user_id": np.arange(n).astype(str), "arm": arm,
        "segment": rng.choice(["warm", "cold"], n),
        "converted": (rng.random(n) < p).astype(int),
        "revenue": rng.gamma(2.0, 20.0, n) * (rng.random(n) < 0.1),
        "impressions": imps, "clicks": rng.binomial(imps, 0.03 * (1 + lift * (arm != "A"))),
    })


@pytest.mark.parametrize("correction", ["holm", "bonferroni", "bh"])
def test_every_displayed_interval_excludes_zero_iff_the_verdict_is_better_or_worse(
        correction: str) -> None:
    seen_disagreement = False
    for seed in range(6):
        res = Experiment(_users(seed, lift=0.25 * (seed % 3)), control="A",
                         metrics=["conversion_rate", "revenue_per_lead", "ctr"],
                         segment="segment", correction=correction, days=10).analyze()
        t = res.table[~res.table.is_control]
        decided = t.verdict.isin(["better", "worse"]).to_numpy(bool)
        rel = interval_excludes(t.rel_ci_low.to_numpy(float), t.rel_ci_high.to_numpy(float),
                                t.rel_ci_shape.to_numpy(str))
        absx = interval_excludes(t.abs_ci_low.to_numpy(float), t.abs_ci_high.to_numpy(float))
        assert np.array_equal(rel, decided) and np.array_equal(absx, decided)
        # the unadjusted intervals are still there, at 1 - alpha, and can disagree
        raw = interval_excludes(t.rel_ci_low_unadjusted.to_numpy(float),
                                t.rel_ci_high_unadjusted.to_numpy(float),
                                t.rel_ci_shape_unadjusted.to_numpy(str))
        assert np.array_equal(raw, (t.p_value < 0.05).to_numpy(bool))
        seen_disagreement |= bool((raw != rel).any())
        assert set(t.family) <= {"primary", "secondary", "primary by segment",
                                 "secondary by segment"}
        assert set(t.correction) == {correction}
        assert (t.ci_level >= 0.95 - 1e-12).all()
    assert seen_disagreement  # the adjustment made a difference somewhere


def test_primary_metric_is_its_own_family() -> None:
    res = Experiment(_users(3, lift=0.2), control="A", metrics=["conversion_rate", "ctr",
                                                               "revenue_per_lead"],
                     days=10).analyze()
    t = res.table[~res.table.is_control]
    prim = t[t.metric == "conversion_rate"]
    assert set(prim.family) == {"primary"} and set(prim.family_size) == {2}
    sec = t[t.metric != "conversion_rate"]
    assert set(sec.family) == {"secondary"} and set(sec.family_size) == {4}
    assert res.options.primary_metric == "conversion_rate"


def test_missing_metric_values_are_reported() -> None:
    df = _users(5)
    df["revenue"] = df["revenue"].astype(float)
    df.loc[df.index[:40], "revenue"] = np.nan
    res = Experiment(df, control="A", metrics=["conversion_rate", "revenue_per_lead"],
                     days=5).analyze()
    note = [n for n in res.notes if n.startswith("revenue_per_lead:")]
    assert note and "40" in note[0] and "sample-ratio" in note[0]
    assert sum(res.srm["counts"].values()) == len(df)


def test_mde_and_more_days_are_planned_not_observed() -> None:
    df = _users(7, n=4000)
    a = Experiment(df, control="A", days=7, mde=0.10).analyze()
    b = Experiment(df, control="A", days=7, mde=0.20).analyze()
    ra, rb = _treated(a), _treated(b)
    # the requirement scales with 1/mde² and never uses the observed effect
    assert ra.days_needed == pytest.approx(4 * rb.days_needed, rel=1e-9)
    assert ra.more_days == max(0.0, np.ceil(ra.days_needed - 7))
    z = stats.norm.isf(0.05 / 2 / 2) + stats.norm.ppf(0.8)  # family of 2 comparisons
    se, ctl = ra.std_error, abs(df[df.arm == "A"].converted.mean())
    assert ra.days_needed == pytest.approx(7 * (z * se / (0.1 * ctl)) ** 2, rel=1e-9)
    assert a.options["mde"] == 0.10 and "B" in a.options["more_days"]
    with pytest.raises(ValueError, match="mde"):
        Experiment(df, mde=0)


def _aa_days(rng: np.random.Generator, sims: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    day = np.exp(rng.normal(0, 0.1, (sims, days)))
    imp = rng.poisson(20_000 * day[None], (2, sims, days))
    clk = rng.binomial(imp, np.minimum(0.01 * day[None], 1.0))
    return clk, imp


def _frame(clk: np.ndarray, imp: np.ndarray, upto: int, sims: np.ndarray) -> pd.DataFrame:
    c, i = clk[:, sims, :upto], imp[:, sims, :upto]
    k, s, d = c.shape
    arm = np.repeat(["A", "B"], s * d)
    sim = np.tile(np.repeat(sims, d), k)
    date = pd.Timestamp("2026-03-01") + pd.to_timedelta(np.tile(np.arange(d), k * s), unit="D")
    return pd.DataFrame({"arm": arm, "sim": [f"s{x:05d}" for x in sim], "date": date,
                         "impressions": i.ravel(), "clicks": c.ravel()})


@pytest.mark.slow
def test_following_keep_testing_keeps_the_aa_rate() -> None:
    """Look at day 7; if more_days > 0, test at least that many more days (the next weekly look,
    capped at 56) and decide there.

    The horizon depends only on the day-7 standard error (planned mde, not the observed effect),
    so the A/A rate stays at alpha.
    """
    rng = np.random.default_rng(606)
    sims, first, horizon = 4000, 7, 56
    clk, imp = _aa_days(rng, sims, horizon)
    everyone = np.arange(sims)

    def rows(upto: int, idx: np.ndarray) -> pd.DataFrame:
        res = Experiment(_frame(clk, imp, upto, idx), control="A", metrics=["ctr"],
                         segment="sim", correction="none", mde=0.05).analyze()
        t = res.table[(res.table.segment != "all") & ~res.table.is_control]
        return t.set_index(t.segment.str[1:].astype(int)).loc[idx]

    t0 = rows(first, everyone)
    more = t0.more_days.to_numpy(float)
    # N more days, rounded up to the next weekly look (still at least N more days)
    stop_day = np.minimum(horizon, 7 * np.ceil((first + more) / 7)).astype(int)
    positive = np.where(more <= 0, t0.significant.to_numpy(bool), False)
    for d in np.unique(stop_day[more > 0]):
        idx = np.flatnonzero((more > 0) & (stop_day == d))
        positive[idx] = rows(int(d), idx).significant.to_numpy(bool)
    rate = float(positive.mean())
    print(f"\nA/A rate when following 'keep testing N more days' (mde 5 %): {rate:.4f} "
          f"({sims} sims, stop day mean {stop_day.mean():.1f}, "
          f"{np.unique(stop_day).size} distinct stop days)")
    assert rate <= 0.055
