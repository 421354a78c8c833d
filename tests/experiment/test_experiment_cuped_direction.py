"""Experiment: CUPED rows, direction of "better", wording, families, SRM and degenerate data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abtest import Experiment
from abtest.io.errors import DataError
from abtest.stats import (
    adjust_pvalues,
    always_valid_arrays,
    bayes_ratio,
    cuped_arrays,
    cuped_test,
    interval_excludes,
    proportion_test,
)


def _users_pre(n: int = 8000, seed: int = 0, lift: float = 0.08) -> pd.DataFrame:
    """Leads whose in-test outcome is strongly correlated with the pre-period one."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    propensity = rng.gamma(0.6, 0.25, n)  # per-lead habit: drives both periods
    pre_conv = rng.poisson(propensity * 3)
    p = np.clip(propensity * np.where(arm == "B", 1 + lift, 1.0), 0, 1)
    converted = (rng.random(n) < p).astype(int)
    revenue = converted * rng.gamma(20.0, 2.0, n)
    pre_revenue = pre_conv * rng.gamma(20.0, 2.0, n)
    imps = rng.poisson(6, n) + 1
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)], "arm": arm,
        "segment": rng.choice(["warm", "cold", "lapsed"], n),
        "converted": converted, "revenue": revenue, "impressions": imps,
        "clicks": rng.binomial(imps, 0.04), "pre_conversions": pre_conv,
        "pre_converted": (pre_conv > 0).astype(int), "pre_revenue": pre_revenue,
    })


def _sums(df: pd.DataFrame, y: str, x: str) -> pd.DataFrame:
    d = df.assign(yy=df[y] ** 2, xx=df[x] ** 2, xy=df[x] * df[y])
    return d.groupby("arm").agg(n=(y, "size"), y=(y, "sum"), yy=("yy", "sum"), x=(x, "sum"),
                                xx=("xx", "sum"), xy=("xy", "sum")).loc[["A", "B"]]


def _row(res, metric: str, arm: str = "B", segment: str = "all") -> pd.Series:
    t = res.table
    return t[(t.metric == metric) & (t.segment == segment) & (t.arm == arm)].iloc[0]


# ------------------------------------------------------------------------------------------------
# CUPED
# ------------------------------------------------------------------------------------------------
def test_cuped_rows_equal_direct_cuped_test_and_narrow_the_interval():
    df = _users_pre()
    cov = {"conversion_rate": "pre_conversions", "revenue_per_lead": "pre_revenue"}
    metrics = ["conversion_rate", "revenue_per_lead", "ctr"]
    res = Experiment(df, control="A", metrics=metrics, covariate=cov, days=10).analyze()
    plain = Experiment(df, control="A", metrics=metrics, days=10).analyze()
    for metric, y, x in (("conversion_rate", "converted", "pre_conversions"),
                         ("revenue_per_lead", "revenue", "pre_revenue")):
        s = _sums(df, y, x)
        direct = cuped_test(s.n, s.y, s.yy, s.x, s.xx, s.xy).iloc[0]
        row = _row(res, metric)
        assert bool(row.cuped) and row.test == "cuped-z"
        for col in ("p_value", "abs_diff", "abs_ci_low_unadjusted", "abs_ci_high_unadjusted",
                    "rel_lift", "rel_ci_low_unadjusted", "rel_ci_high_unadjusted", "std_error",
                    "variance_reduction"):
            want = direct[col.removesuffix("_unadjusted")]
            assert row[col] == pytest.approx(want, rel=1e-9, abs=1e-15), col
        assert row.cuped_theta == pytest.approx(direct.theta, rel=1e-9)
        assert row.rel_ci_shape == direct.rel_ci_shape
        # correlated covariate: a real variance reduction and a narrower interval
        before = _row(plain, metric)
        assert row.variance_reduction > 0.05
        assert (row.abs_ci_high - row.abs_ci_low) < (before.abs_ci_high - before.abs_ci_low)
        assert (row.rel_ci_high - row.rel_ci_low) < (before.rel_ci_high - before.rel_ci_low)
    ctr = _row(res, "ctr")  # ratio metrics are not adjusted: documented 0, not NaN
    assert not bool(ctr.cuped) and ctr.variance_reduction == 0.0 and ctr.cuped_theta == 0.0
    assert ctr.p_value == pytest.approx(_row(plain, "ctr").p_value, rel=1e-12)
    assert "CUPED" in res.summary() and "pre_conversions" in res.summary()
    assert not res.table[~res.table.is_control].isna().any().any()
    assert "cuped" not in plain.table.columns


def test_cuped_string_covariate_segments_and_sequential():
    df = _users_pre(6000, seed=3)
    res = Experiment(df, control="A", metrics=["conversion_rate", "ctr"], segment="segment",
                     covariate="pre_conversions", method="sequential", days=7).analyze()
    assert res.options["covariate"] == {"conversion_rate": "pre_conversions"}
    for seg in ("all", "warm", "cold", "lapsed"):
        part = df if seg == "all" else df[df.segment == seg]
        s = _sums(part, "converted", "pre_conversions")
        direct = cuped_arrays(s.n, s.y, s.yy, s.x, s.xx, s.xy)
        av = always_valid_arrays(direct.result)
        row = _row(res, "conversion_rate", segment=seg)
        assert row.p_value == pytest.approx(float(av.p_value[0]), rel=1e-9)
        assert row.abs_ci_low_unadjusted == pytest.approx(float(av.abs_ci_low[0]), rel=1e-9)
        assert row.test == "always-valid (cuped-z)"
    # Bayesian: proportions keep the beta-binomial posterior, said in a note
    b = Experiment(df, control="A", covariate="pre_conversions", method="bayesian",
                   days=7).analyze()
    assert _row(b, "conversion_rate").test == "beta-binomial"
    assert any("beta-binomial" in n for n in b.notes)


def test_cuped_bad_covariate():
    df = _users_pre(500)
    with pytest.raises(ValueError, match="not found"):
        Experiment(df, control="A", covariate="pre_nothing").analyze()
    with pytest.raises(ValueError, match="ratio"):
        Experiment(df, control="A", metrics=["ctr"], covariate={"ctr": "pre_conversions"})
    with pytest.raises(ValueError, match="not among the metrics"):
        Experiment(df, control="A", covariate={"revenue_per_lead": "pre_revenue"})
    # leads without a covariate value are left out of the adjusted comparison, with a note
    gap = df.assign(pre_conversions=df.pre_conversions.astype(float).where(df.index >= 20))
    res = Experiment(gap, control="A", covariate="pre_conversions", days=5).analyze()
    assert any("20 lead(s) without 'pre_conversions'" in n for n in res.notes)
    assert res.table.query("segment == 'all'").n.sum() == len(df) - 20


# ------------------------------------------------------------------------------------------------
# Direction, wording, families
# ------------------------------------------------------------------------------------------------
def _ad_costs(b_cost_factor: float, days: int = 21, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(days):
        for arm, factor in (("A", 1.0), ("B", b_cost_factor)):
            imps = int(rng.integers(40_000, 60_000))
            conv = int(rng.poisson(imps * 0.002))
            rows.append({"date": pd.Timestamp("2025-01-01") + pd.Timedelta(days=d), "arm": arm,
                         "impressions": imps, "clicks": int(imps * 0.01), "conversions": conv,
                         "cost": conv * 12.0 * factor * float(np.exp(rng.normal(0, 0.05)))})
    return pd.DataFrame(rows)


def test_lower_is_better_metric_direction():
    cheaper = Experiment(_ad_costs(0.8), control="A", metrics=["cost_per_conversion"]).analyze()
    row = _row(cheaper, "cost_per_conversion")
    assert row.rel_lift < 0 and row.verdict == "better" and bool(row.significant)
    assert cheaper.recommendation == "ship B" and "lower is better" in cheaper.summary()
    dearer = Experiment(_ad_costs(1.25), control="A", metrics=["cost_per_conversion"]).analyze()
    assert _row(dearer, "cost_per_conversion").verdict == "worse"
    assert dearer.recommendation == "keep A"
    # Bayesian: "chance to beat control" means a lower cost; losses follow the direction
    data = _ad_costs(0.8)
    bay = Experiment(data, control="A", metrics=["cost_per_conversion"],
                     method="bayesian").analyze()
    brow = _row(bay, "cost_per_conversion")
    daily = data.groupby(["arm", "date"])[["cost", "conversions"]].sum().reset_index()
    daily = daily.assign(cc=daily.cost**2, vv=daily.conversions**2,
                         cv=daily.cost * daily.conversions)
    s = daily.groupby("arm").agg(n=("cost", "size"), c=("cost", "sum"), cc=("cc", "sum"),
                                 v=("conversions", "sum"), vv=("vv", "sum"), cv=("cv", "sum"))
    direct = bayes_ratio(s.n, s.c, s.cc, s.v, s.vv, s.cv).iloc[0]
    assert brow.prob_beat_control == pytest.approx(1 - direct.prob_beat_control, rel=1e-12)
    assert brow.expected_loss == pytest.approx(direct.expected_loss_control, rel=1e-12)
    assert brow.prob_beat_control > 0.95 and bay.recommendation == "ship B"


def test_bayesian_wording_has_no_p_values_or_confidence():
    df = _users_pre(20_000, seed=2, lift=0.3)
    res = Experiment(df, control="A", metrics=["conversion_rate", "revenue_per_lead"],
                     method="bayesian", days=14).analyze()
    text = res.summary().lower()
    assert res.recommendation == "ship B"
    for banned in ("p-value", "p =", "p-values", "confidence", "significan"):
        assert banned not in text, banned
    fam = set(res.table.family)
    assert not any("p-value" in f for f in fam)
    assert {"p_value", "p_adjusted", "significant"}.isdisjoint(res.table.columns)
    assert _row(res, "revenue_per_lead").test == "normal (welch-t)"


def test_complement_relative_set_is_described_not_printed_as_an_interval():
    # control: 1 conversion in 150 leads (rate not distinguishable from 0), B: 30 in 150
    rows = [("A", 1, 150), ("B", 30, 150)]
    df = pd.concat([pd.DataFrame({"arm": a, "converted": [1] * k + [0] * (n - k)})
                    for a, k, n in rows], ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    res = Experiment(df, control="A", days=5).analyze()
    row = _row(res, "conversion_rate")
    direct = proportion_test([1, 30], [150, 150]).iloc[0]
    assert row.rel_ci_shape == direct.rel_ci_shape == "complement"
    assert interval_excludes(row.rel_ci_low, row.rel_ci_high, row.rel_ci_shape)
    assert res.recommendation == "ship B" and "below " in res.summary()


def test_holm_families_and_significance_agree_with_intervals():
    df = _users_pre(6000, seed=9, lift=0.15)
    res = Experiment(df, control="A", metrics=["conversion_rate", "ctr"], segment="segment",
                     days=7).analyze()
    t = res.table[~res.table.is_control]
    pooled, seg = t[t.segment == "all"], t[t.segment != "all"]
    assert set(pooled.family) == {"primary", "secondary"}
    assert set(seg.family) == {"primary by segment", "secondary by segment"}
    assert set(t.correction) == {"holm"} and set(seg.family_size) == {3}
    for fam in ("primary by segment", "secondary by segment"):
        part = seg[seg.family == fam]
        np.testing.assert_allclose(part.p_adjusted.to_numpy(float),
                                   adjust_pvalues(part.p_value.to_numpy(float), method="holm"))
    # without correction, "significant" is exactly "the relative set excludes 0" is p < alpha
    for seed in range(3):
        r = Experiment(_users_pre(3000, seed=seed, lift=0.1), control="A", correction="none",
                       metrics=["conversion_rate", "revenue_per_lead", "ctr"],
                       segment="segment", days=5).analyze().table
        r = r[~r.is_control]
        excl = interval_excludes(r.rel_ci_low.to_numpy(float), r.rel_ci_high.to_numpy(float),
                                 r.rel_ci_shape.to_numpy(str))
        assert np.array_equal(excl, (r.p_value < 0.05).to_numpy(bool))
        assert np.array_equal(r.significant.to_numpy(bool), excl)


def test_srm_counts_leads_not_metric_units():
    df = _users_pre(4000, seed=1)
    # 300 B leads have a missing outcome: they are still assigned leads for the SRM check
    miss = df.index[(df.arm == "B")][:300]
    df = df.assign(converted=df.converted.astype(float))
    df.loc[miss, "converted"] = np.nan
    res = Experiment(df, control="A", days=5).analyze()
    counts = df.arm.value_counts()
    assert res.srm["counts"] == {"A": float(counts["A"]), "B": float(counts["B"])}
    assert not res.srm["flag"]
    assert _row(res, "conversion_rate").n == counts["B"] - 300


# ------------------------------------------------------------------------------------------------
# Degenerate inputs: a clear error or a documented, non-NaN value
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["frequentist", "sequential", "bayesian"])
def test_zero_conversions_give_documented_values(method):
    df = _users_pre(2000, seed=4).assign(converted=0, revenue=0.0)
    if method == "bayesian":  # a mean with no variation has no normal posterior: clear error
        with pytest.raises(ValueError, match="revenue_per_lead"):
            Experiment(df, control="A", metrics=["revenue_per_lead"], method=method).analyze()
    res = Experiment(df, control="A", method=method, segment="segment", days=5).analyze()
    treated = res.table[~res.table.is_control]
    # planning columns are NA where the control value is 0 (no relative effect to plan for)
    assert not treated.drop(columns=["days_needed", "more_days"], errors="ignore"
                            ).isna().any().any()
    if method != "bayesian":
        assert (treated.p_value == 1.0).all() and (treated.verdict == "inconclusive").all()
    # zero conversions in the control only
    one = df.assign(converted=np.where((df.arm == "B") & (df.index % 7 == 0), 1, 0))
    res = Experiment(one, control="A", method=method, days=5).analyze()
    treated = res.table[~res.table.is_control]
    # planning columns are NA where the control value is 0 (no relative effect to plan for)
    assert not treated.drop(columns=["days_needed", "more_days"], errors="ignore"
                            ).isna().any().any()


def test_zero_traffic_segment_nan_and_one_arm():
    df = _users_pre(3000, seed=6)
    df = df[~((df.arm == "B") & (df.segment == "lapsed"))]  # B has no lapsed leads
    res = Experiment(df, control="A", segment="segment", metrics=["conversion_rate", "ctr"],
                     days=5).analyze()
    assert "lapsed" not in set(res.table.segment)
    assert any("lapsed" in n and "left out" in n for n in res.notes)
    assert not res.table[~res.table.is_control].isna().any().any()
    with pytest.raises(ValueError, match="only one arm"):
        Experiment(df[df.arm == "B"]).analyze()
    with pytest.raises(DataError):
        Experiment(df.assign(arm=df.arm.where(df.index > 5))).analyze()
    # NaN outcomes: those leads are left out of that metric only; never a NaN in the table
    nan = df.assign(clicks=df.clicks.astype(float).where(df.index % 10 > 0))
    res = Experiment(nan, control="A", metrics=["conversion_rate", "ctr"], days=5).analyze()
    assert not res.table[~res.table.is_control].isna().any().any()
    # a ratio with a zero denominator total in an arm: clear error naming the metric
    ads = _ad_costs(1.0)
    ads.loc[ads.arm == "B", "conversions"] = 0
    with pytest.raises(ValueError, match="cost_per_conversion.*denominator total of 0"):
        Experiment(ads, control="A", metrics=["cost_per_conversion"]).analyze()
