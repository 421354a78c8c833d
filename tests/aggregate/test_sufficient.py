"""sufficient_stats against an independent pandas computation, across input forms and units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from agg_reference import as_float, day_clustered, stats_by_unit

from abtest.aggregate import STAT_COLUMNS, sufficient_stats, sufficient_stats_expr
from abtest.io.errors import DataError
from abtest.metrics import Metric, get_metric, margin_value_per_lead

DAY_METRICS = ["ctr", "cvr_click", "cost_per_conversion", "roas", "engagement_rate",
               "frequency", "video_completion"]


def _assert_close(got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    merged = got.merge(want, on=keys, suffixes=("", "_ref"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for col in STAT_COLUMNS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-12, err_msg=col)


def test_day_clustered_matches_reference(ad_stats):
    got = sufficient_stats(ad_stats, metrics=DAY_METRICS, segment="segment")
    assert list(got.columns) == ["segment", "arm", "metric", "unit", *STAT_COLUMNS]
    assert (got["unit"] == "day").all()
    refs = []
    for name in DAY_METRICS:
        m = get_metric(name)
        ref = day_clustered(
            ad_stats,
            [c for c, _ in m.numerator_terms],
            [c for c, _ in m.denominator_terms],
            keys=["segment", "arm"],
        )
        ref["metric"] = name
        refs.append(ref)
    _assert_close(got, pd.concat(refs), ["segment", "arm", "metric"])
    # the missing cells really drop clusters' rows: B's ctr n is still 20 days (other ad covers)
    assert got[(got.metric == "ctr")]["n"].sum() == 60


def test_missing_cells_are_left_out_not_zero(ad_stats):
    got = sufficient_stats(ad_stats, metrics=["cvr_click"], unit="day")
    full = ad_stats.dropna(subset=["conversions", "clicks"])
    a = full[full.arm == "A"]
    assert got.loc[got.arm == "A", "num_sum"].item() == a["conversions"].sum()
    assert got.loc[got.arm == "A", "den_sum"].item() == a["clicks"].sum()


def test_sort_order_and_dtypes(ad_stats):
    got = sufficient_stats(ad_stats, metrics=["roas", "ctr"])
    assert got["arm"].tolist() == ["A", "A", "B", "B", "C", "C"]
    assert got["metric"].tolist() == ["roas", "ctr"] * 3
    assert all(got[c].dtype == np.float64 for c in STAT_COLUMNS)


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 5000
    imps = rng.poisson(6, n)
    clicks = rng.binomial(imps, 0.03)
    conversions = rng.poisson(0.1, n)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "arm": rng.choice(["control", "b"], n),
            "segment": pd.array(rng.choice(["warm", "cold", None], n), dtype="string"),
            "impressions": imps,
            "clicks": clicks,
            "conversions": conversions,
            "converted": (conversions > 0).astype("int64"),
            "revenue": np.round(conversions * rng.gamma(3, 20, n), 2),
        }
    )


def test_user_level_matches_reference(leads):
    margin = margin_value_per_lead(margin=0.4, discount_cost=5.0)
    metrics = ["conversion_rate", "revenue_per_lead", "ctr", margin]
    got = sufficient_stats(leads, metrics=metrics, segment="segment")
    assert (got["unit"] == "user").all()
    assert set(got["segment"]) == {"warm", "cold", "unknown"}
    seg = leads["segment"].fillna("unknown")
    for (s, a), part in leads.groupby([seg, "arm"]):
        row = got[(got.segment == s) & (got.arm == a)].set_index("metric")
        ones = np.ones(len(part))
        conv = stats_by_unit(part["converted"].to_numpy(float), ones)
        rev = stats_by_unit(part["revenue"].to_numpy(float), ones)
        ctr = stats_by_unit(as_float(part["clicks"]), as_float(part["impressions"]))
        net = 0.4 * part["revenue"].to_numpy(float) - 5.0 * part["conversions"].to_numpy(float)
        mar = stats_by_unit(net, ones)
        for name, ref in (("conversion_rate", conv), ("revenue_per_lead", rev), ("ctr", ctr),
                          ("margin_value_per_lead", mar)):
            for col in STAT_COLUMNS:
                assert row.loc[name, col] == pytest.approx(ref[col], rel=1e-12), (name, col)


def test_file_inputs_match_dataframe(leads, ad_stats, tmp_path):
    leads.to_parquet(tmp_path / "leads.parquet")
    leads.to_csv(tmp_path / "leads.csv", index=False)
    metrics = ["conversion_rate", "ctr"]
    base = sufficient_stats(leads, metrics=metrics, segment="segment")
    for path in (tmp_path / "leads.parquet", str(tmp_path / "leads.csv")):
        other = sufficient_stats(path, metrics=metrics, segment="segment")
        pd.testing.assert_frame_equal(base, other, rtol=1e-12)
    (tmp_path / "ads").mkdir()
    ad_stats.iloc[:100].to_parquet(tmp_path / "ads" / "part1.parquet")
    ad_stats.iloc[100:].to_parquet(tmp_path / "ads" / "part2.parquet")
    pd.testing.assert_frame_equal(
        sufficient_stats(ad_stats, metrics=["ctr"]),
        sufficient_stats(tmp_path / "ads", metrics=["ctr"]),
        rtol=1e-12,
    )


def test_ibis_table_input_runs_on_its_backend(leads, tmp_path):
    import ibis

    leads.to_parquet(tmp_path / "leads.parquet")
    con = ibis.duckdb.connect()
    table = con.read_parquet(tmp_path / "leads.parquet")
    got = sufficient_stats(table, metrics=["ctr"])
    pd.testing.assert_frame_equal(got, sufficient_stats(leads, metrics=["ctr"]), rtol=1e-12)
    sql = ibis.to_sql(
        sufficient_stats_expr(table, metrics=[get_metric("ctr")], unit="user")
    )
    assert "GROUP BY" in sql.upper()


def test_custom_metric_and_linear_numerator(leads):
    clicks_plus = Metric("clicks_plus", "Clicks + conversions", {"clicks": 1, "conversions": 2},
                         "impressions", "ratio")
    got = sufficient_stats(leads, metrics=[clicks_plus])
    a = leads[leads.arm == "b"]
    assert got.loc[got.arm == "b", "num_sum"].item() == (a.clicks + 2 * a.conversions).sum()


def test_errors(leads, ad_stats):
    with pytest.raises(ValueError, match="not found"):
        sufficient_stats(leads, metrics=["roas"])
    with pytest.raises(ValueError, match="per lead"):
        sufficient_stats(ad_stats, metrics=["conversion_rate"])
    with pytest.raises(DataError, match="0/1"):
        sufficient_stats(leads.assign(converted=leads.conversions), metrics=["conversion_rate"])
    bad = leads.astype({"arm": "string"}).copy()
    bad.loc[3, "arm"] = pd.NA
    with pytest.raises(DataError, match="no value in column 'arm'"):
        sufficient_stats(bad, metrics=["ctr"])
    with pytest.raises(DataError, match="numeric"):
        sufficient_stats(leads.assign(clicks=leads.clicks.astype(str)), metrics=["ctr"])
    with pytest.raises(ValueError, match="infer the unit"):
        sufficient_stats(leads.drop(columns="user_id"), metrics=["ctr"])
    with pytest.raises(ValueError, match="no rows"):
        sufficient_stats(leads.iloc[:0], metrics=["ctr"])
    with pytest.raises(FileNotFoundError):
        sufficient_stats("/nonexistent/x.parquet", metrics=["ctr"])
    with pytest.raises(ValueError, match="unknown metric"):
        sufficient_stats(leads, metrics=["nope"])
