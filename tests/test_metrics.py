"""abtest.metrics: the registry, user metrics and which test each unit implies."""

from __future__ import annotations

import pytest

from abtest.metrics import (
    METRICS,
    Metric,
    get_metric,
    margin_value_per_lead,
    resolve_metrics,
)


def test_registry_has_the_marketing_kpis():
    expected = {"ctr", "cvr_click", "cvr_impression", "conversion_rate", "cost_per_conversion",
                "roas", "engagement_rate", "frequency", "video_completion", "revenue_per_lead",
                "cost_per_lead", "margin_value_per_lead"}
    assert expected <= set(METRICS)
    for name, m in METRICS.items():
        assert m.name == name and m.label and m.description
    assert get_metric("ctr").numerator_terms == (("clicks", 1.0),)
    assert get_metric("ctr").denominator_terms == (("impressions", 1.0),)
    assert not get_metric("cost_per_conversion").higher_is_better
    assert get_metric("engagement_rate").columns == ("likes", "comments", "shares", "impressions")


def test_analysis_depends_on_unit():
    assert get_metric("conversion_rate").analysis("user") == "proportion"
    assert get_metric("ctr").analysis("user") == "ratio"
    assert get_metric("revenue_per_lead").analysis("user") == "mean"
    assert get_metric("ctr").analysis("day") == "ratio"
    with pytest.raises(ValueError, match="per lead"):
        get_metric("conversion_rate").analysis("day")
    with pytest.raises(ValueError, match="unit"):
        get_metric("ctr").analysis("impression")  # type: ignore[arg-type]


def test_user_defined_metrics_and_validation():
    m = Metric("engagement_rate_all", "Engagement (all)", "clicks_all", "impressions", "ratio")
    assert get_metric(m) is m and hash(m) == hash(
        Metric("engagement_rate_all", "Engagement (all)", ["clicks_all"], "impressions", "ratio")
    )
    with pytest.raises(ValueError, match="denominator"):
        Metric("x", "X", "a", None, "ratio")
    with pytest.raises(ValueError, match="per unit"):
        Metric("x", "X", "a", "b", "proportion")
    with pytest.raises(ValueError, match="snake_case"):
        Metric("Bad Name", "X", "a", None, "mean")
    with pytest.raises(ValueError, match="kind"):
        Metric("x", "X", "a", None, "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="column name"):
        Metric("x", "X", "a; drop table", None, "mean")
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("ctr_typo")


def test_margin_value_is_parameterised():
    m = margin_value_per_lead(margin=0.35, discount_cost=8)
    assert m.numerator_terms == (("revenue", 0.35), ("conversions", -8.0))
    assert m.analysis("user") == "mean"
    with pytest.raises(ValueError):
        margin_value_per_lead(margin=0)
    with pytest.raises(ValueError):
        margin_value_per_lead(discount_cost=-1)


def test_resolve_metrics():
    assert [m.name for m in resolve_metrics("ctr")] == ["ctr"]
    assert [m.name for m in resolve_metrics(["roas", get_metric("ctr")])] == ["roas", "ctr"]
    with pytest.raises(ValueError, match="twice"):
        resolve_metrics(["ctr", "ctr"])
    with pytest.raises(ValueError, match="at least one"):
        resolve_metrics([])
