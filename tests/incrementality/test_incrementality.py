"""``abtest.incrementality`` on lead tables drawn with plain numpy: shape, agreement with the
stats layer, inputs as columns or mappings, words, JSON and MMM lift rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import abtest
from abtest.io import DataError
from abtest.stats.incrementality import incrementality_arrays, unit_moments

NAMED = ["incremental_conversions", "incremental_ci_low", "incremental_ci_high",
         "incremental_revenue", "cost_per_incremental", "cpi_ci_low", "cpi_ci_high", "iroas",
         "iroas_ci_low", "iroas_ci_high", "effect_on_reached", "reached_ci_low",
         "reached_ci_high", "reached_share", "attributed_conversions", "incrementality_factor",
         "factor_ci_low", "factor_ci_high"]


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 12000
    arm = rng.choice(["holdout", "cold_rt", "warm_rt"], n, p=[0.2, 0.4, 0.4])
    seg = rng.choice(["warm", "cold"], n)
    reachable = rng.random(n) < np.where(arm == "cold_rt", 0.5, 0.7)
    reached = reachable & (arm != "holdout")
    p = 0.05 + 0.03 * reachable + 0.03 * reached
    conv = (rng.random(n) < p).astype(int)
    imps = np.where(reached, 1 + rng.poisson(6, n), 0)
    return pd.DataFrame({"arm": arm, "segment": seg, "converted": conv,
                         "revenue": conv * rng.lognormal(3.5, 0.5, n), "impressions": imps,
                         "spend": imps * 0.009, "reached": reached,
                         "entry_time": pd.Timestamp("2026-09-01", tz="UTC")
                         + pd.to_timedelta(rng.uniform(0, 14, n), unit="D")})


def test_lazy_export_and_column_names(leads):
    res = abtest.incrementality(leads, revenue="revenue", spend="spend", reached="reached",
                                attributed={"cold_rt": 80, "warm_rt": 120})
    t = res.table
    assert set(NAMED) <= set(t.columns)
    assert list(t["arm"]) == ["cold_rt", "warm_rt"] and set(t["segment"]) == {"all"}
    assert t[NAMED].notna().all().all()
    assert (t["ci_level"] == 0.975).all()  # Bonferroni over two treated arms


def test_agrees_with_the_stats_layer(leads):
    res = abtest.incrementality(leads, revenue="revenue", spend="spend", reached="reached",
                                correction="none")
    row = res.table.set_index("arm").loc["warm_rt"]
    vals = leads[["converted", "revenue", "reached", "spend"]].astype(float).to_numpy()
    t = unit_moments(vals[leads["arm"] == "warm_rt"])
    c_vals = vals[leads["arm"] == "holdout"].copy()
    c_vals[:, 2:] = 0
    ref = incrementality_arrays(*t, *unit_moments(c_vals), alpha=0.05)
    assert row["incremental_conversions"] == pytest.approx(float(ref.incremental))
    assert row["cpi_ci_high"] == pytest.approx(float(ref.cpi_high))
    assert row["reached_ci_low"] == pytest.approx(float(ref.reached_low))
    assert row["iroas"] == pytest.approx(float(ref.iroas))
    assert row["effect_on_reached"] == pytest.approx(row["incremental_per_lead"]
                                                     / row["reached_share"])


def test_mappings_equal_columns_for_known_totals(leads):
    totals = leads.groupby("arm")["spend"].sum().to_dict()
    share = leads.groupby("arm")["reached"].mean().to_dict()
    by_col = abtest.incrementality(leads, spend="spend", reached="reached").table
    by_map = abtest.incrementality(leads, spend=totals, reached=share).table
    pd.testing.assert_series_equal(by_col["spend"], by_map["spend"])
    pd.testing.assert_series_equal(by_col["cost_per_incremental"], by_map["cost_per_incremental"])
    pd.testing.assert_series_equal(by_col["effect_on_reached"], by_map["effect_on_reached"])
    # a fixed spend has no variance: the cost interval is spend / the increment's interval
    r = by_map.iloc[0]
    assert r["cpi_ci_low"] == pytest.approx(r["spend"] / r["incremental_ci_high"])
    # reached as impressions > 0, and as a count of leads
    counts = leads.groupby("arm")["reached"].sum().to_dict()
    by_imp = abtest.incrementality(leads, impressions="impressions").table
    by_cnt = abtest.incrementality(leads, reached=counts).table
    np.testing.assert_allclose(by_imp["reached_share"], by_col["reached_share"])
    np.testing.assert_allclose(by_cnt["effect_on_reached"], by_col["effect_on_reached"])


def test_segments_and_families(leads):
    res = abtest.incrementality(leads, spend="spend", segment="segment")
    t = res.table
    assert len(t) == 2 + 4
    seg = t[t["segment"] != "all"]
    assert (seg["ci_level"] == 1 - 0.05 / 4).all()
    assert seg["family"].str.contains("arms × segments").all()
    assert seg.groupby("arm")["leads"].sum().to_dict() == \
        t[t["segment"] == "all"].set_index("arm")["leads"].to_dict()


def test_open_ended_cost_exactly_when_increment_contains_zero(leads):
    small = leads.sample(5000, random_state=3)
    t = abtest.incrementality(small, spend="spend", segment="segment").table
    contains = (t["incremental_ci_low"] <= 0) & (t["incremental_ci_high"] >= 0)
    assert contains.any() and (~contains).any()
    assert (t["cpi_open_ended"] == contains).all()
    assert (np.isinf(t["cpi_ci_high"]) == contains).all()


def test_words_json_and_html(leads):
    res = abtest.incrementality(leads, revenue="revenue", spend="spend",
                                attributed={"cold_rt": 80, "warm_rt": 120}, currency="EUR")
    text = res.summary()
    assert "TikTok credits 80 conversions; the ads caused about" in text
    row = res.table.iloc[0]
    assert f"about {row['incremental_conversions']:,.0f} ({row['incrementality_factor']:.0%}" in text
    head = res.headline()
    total = res.table["incremental_conversions"].sum()
    assert head.startswith(f"Retargeting caused about {total:,.0f} of the 200 conversions")
    d = json.loads(json.dumps(res.to_dict()))
    assert d["table"][0]["arm"] == "cold_rt" and d["headline"] == head
    html = res._repr_html_()
    assert "caused ÷ credited" in html and "<script" not in html
    evil = leads.assign(arm=leads["arm"].replace({"cold_rt": "<script>x</script>"}))
    assert "<script>" not in abtest.incrementality(evil, spend="spend")._repr_html_()
    assert set(res.decision()["verdict"]) <= {"caused", "fewer", "no detectable increment"}


def test_lift_calibration_rows(leads):
    res = abtest.incrementality(leads, revenue="revenue", spend="spend", correction="none",
                                channel="tiktok_rt")
    tidy = res.to_lift_calibration()
    t = res.table
    se = (t["incremental_ci_high"] - t["incremental_ci_low"]) / (2 * 1.959963984540054)
    np.testing.assert_allclose(tidy["sigma"], se)
    np.testing.assert_allclose(tidy["delta_x"], t["spend"])
    assert (tidy["x"] == 0).all() and (tidy["channel"] == "tiktok_rt").all()
    assert tidy["date_start"].iloc[0] == "2026-09-01"
    pymc = res.to_lift_calibration(style="pymc", periods=2)
    assert list(pymc.columns) == ["channel", "x", "delta_x", "delta_y", "sigma"]
    np.testing.assert_allclose(pymc["delta_y"], t["incremental_conversions"] / 2)
    robyn = res.to_lift_calibration(style="robyn", metric="revenue")
    assert list(robyn.columns) == ["channel", "liftStartDate", "liftEndDate", "liftAbs", "spend",
                                   "confidence", "metric", "calibration_scope"]
    np.testing.assert_allclose(robyn["liftAbs"], t["incremental_revenue"])
    assert robyn["confidence"].between(0, 1).all()
    with pytest.raises(ValueError, match="spend"):
        abtest.incrementality(leads).to_lift_calibration()


def test_bad_input_in_words(leads):
    with pytest.raises(DataError, match="holdout"):
        abtest.incrementality(leads, holdout="control")
    with pytest.raises(DataError, match="no conversions column"):
        abtest.incrementality(leads, conversions="purchases")
    bad = leads.assign(converted=leads["converted"].astype(float))
    bad.loc[bad.index[5], "converted"] = np.nan
    with pytest.raises(DataError, match="empty or non-numeric"):
        abtest.incrementality(bad)
    with pytest.raises(ValueError, match="correction"):
        abtest.incrementality(leads, correction="holm")


def _immature_leads(seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads entering over 60 days, cut at day 70 (30% inside their 28-day window)."""
    rng = np.random.default_rng(seed)
    n = 20000
    arm = rng.choice(["holdout", "rt"], n, p=[0.3, 0.7])
    p = np.where(arm == "rt", 0.15, 0.10)
    delay = np.where(rng.random(n) < p, rng.exponential(10, n), np.inf)
    age = 70 - rng.uniform(0, 60, n)
    final = pd.DataFrame({"arm": arm, "converted": (delay < 28).astype(int)})
    seen = delay < np.minimum(age, 28)
    now = pd.DataFrame({"arm": arm, "converted": seen.astype(int), "age_days": age,
                        "conversion_day": np.where(seen, delay, np.nan)})
    return now, final


def test_nowcast_recovers_the_final_increment():
    now, final = _immature_leads()
    full = abtest.incrementality(final).table.iloc[0]
    cast = abtest.incrementality(now, horizon_days=28, immature="nowcast")
    row = cast.table.iloc[0]
    naive = abtest.incrementality(now).table.iloc[0]  # immature leads counted as non-converters
    half = (row["incremental_ci_high"] - row["incremental_ci_low"]) / 2
    assert abs(row["incremental_conversions"] - full["incremental_conversions"]) < half / 3
    assert abs(naive["incremental_conversions"] - full["incremental_conversions"]) > \
        abs(row["incremental_conversions"] - full["incremental_conversions"])
    assert half > (full["incremental_ci_high"] - full["incremental_ci_low"]) / 2
    assert any("nowcast" in n for n in cast.notes)
    aside = abtest.incrementality(now, horizon_days=28)
    assert aside.table.iloc[0]["leads"] == int(((now["arm"] == "rt") & (now["age_days"] >= 28)).sum())
    assert any("set aside" in n for n in aside.notes)
    with pytest.raises(DataError, match="first conversion"):
        abtest.incrementality(now.drop(columns="conversion_day"), horizon_days=28,
                              immature="nowcast")
