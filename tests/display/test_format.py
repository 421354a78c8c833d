"""What readers see: formatted results tables (JupyterLab and reports) and the batch index."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import abtest
from abtest.display import (
    MINUS,
    escape_html,
    format_interval,
    format_value,
    frame_html,
    metric_format,
)
from abtest.report.headline import Headline
from abtest.report.index import render_index

XSS = "<script>alert(1)</script>"


def _users(arms=("ctrl", XSS), rates=(0.10, 0.16), n=3000, seed=3):
    rng = np.random.default_rng(seed)
    arm = np.repeat(arms, n)
    conv = (rng.random(len(arm)) < np.repeat(rates, n)).astype(int)
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(len(arm))], "arm": arm,
                         "converted": conv, "revenue": conv * 40.0,
                         "segment": np.tile(["warm", "cold", "lapsed"], len(arm) // 3)})


def test_formats():
    assert format_interval(-0.0657, 27.42, "signed_percent") == f"{MINUS}6.6% to +2,742%"
    assert format_interval(-2.4, -0.87, "signed_percent", shape="complement") == \
        f"below {MINUS}240% or above {MINUS}87%"
    assert format_interval(-np.inf, np.inf, "signed_percent") == "unbounded"
    assert format_interval("-inf", 0.2, "signed_percent") == "at most +20% (no lower bound)"
    assert format_value(0.0225, "signed_points") == "+2.25 pp"
    assert format_value(-1234.5, "signed_money", currency="EUR") == f"{MINUS}1,234.50 EUR"
    assert format_value(0.07, "p_value") == "0.070" and format_value(0.5, "p_value") == "0.50"
    assert [metric_format(m) for m in ("ctr", "cost_per_conversion", "roas",
                                       "offer_margin_value_per_lead")] == \
        ["percent", "money", "number", "money"]


def test_frame_html_escapes_aligns_and_has_no_na():
    page = frame_html(pd.DataFrame({"campaign": [XSS, None], "ctr": [0.0123456, np.nan],
                                    "n": pd.array([12345, None], dtype="Int64")}))
    assert XSS not in page and "&lt;script&gt;" in page
    assert "0.01235" in page and "12,345" in page
    assert "NA" not in page and "nan" not in page.lower()
    assert '<th style="text-align:left">campaign</th>' in page


@pytest.fixture(scope="module")
def segmented():
    return abtest.Experiment(_users(), control="ctrl", segment="segment",
                             metrics=["conversion_rate", "revenue_per_lead"]).analyze()


def test_results_html_is_compact_formatted_and_escaped(segmented):
    page = segmented._repr_html_()
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<NA>" not in page and "&lt;NA&gt;" not in page and "nan" not in page.lower()
    header = re.search(r"<thead>(.*?)</thead>", page).group(1)
    heads = re.findall(r"<th[^>]*>(.*?)</th>", header)
    assert heads == ["Segment", "Arm", "Leads", "Value", "Lift vs ctrl (adjusted interval)",
                     "p-value (adjusted)", "Verdict"]
    t = segmented.table
    pooled = t.query("segment == 'all' and metric == 'conversion_rate' and not is_control")
    r = pooled.iloc[0]
    lift = format_value(r.rel_lift, "signed_percent")
    ci = format_interval(r.rel_ci_low, r.rel_ci_high, "signed_percent", shape=r.rel_ci_shape)
    assert f"{lift} ({ci})" in page
    assert escape_html(format_value(r.p_adjusted, "p_value")) in page
    assert format_value(r.value, "percent") in page  # a rate as a percentage
    assert page.count("baseline (control)") == 2 * 4  # 2 metrics x (all + 3 segments)
    # the multiplicity family is stated once, in the caption
    fams = set(t.loc[~t.is_control, "family"])
    caption = re.search(r"<caption[^>]*>(.*?)</caption>", page).group(1)
    for fam in fams:
        assert caption.count(f"“{fam}”") == 1
        assert page.count(f"“{fam}”") == 1
    assert "Cochran" in page
    assert len(segmented.table.columns) > 15  # .table stays the full tidy frame


def test_results_html_bayesian_shows_chance_and_loss_not_p_values():
    res = abtest.Experiment(_users(arms=("a", "b")), control="a", method="bayesian").analyze()
    page = res._repr_html_().lower()
    assert "chance better than control" in page and "expected loss" in page
    assert "p-value" not in page and "confidence" not in page


def test_results_html_money_with_currency_and_complement():
    rows = [("A", 1, 150), ("B", 30, 150)]
    df = pd.concat([pd.DataFrame({"arm": a, "converted": [1] * k + [0] * (n - k)})
                    for a, k, n in rows], ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    df["revenue"] = df["converted"] * 25.0
    res = abtest.Experiment(df, control="A", days=5,
                            metrics=["conversion_rate", "revenue_per_lead"]).analyze()
    page = res.to_html(currency="USD")
    assert "USD" in page and "below " in page and " or above " in page


def _record(headline: Headline, **kw):
    return {"report": "offer_test", "stem": "offer_test", "status": "ok",
            "html": "offer_test.html", "decision": headline.decision,
            "headline": headline.to_sidecar(), **kw}


def test_index_row_reads_like_a_sentence():
    h = Headline(title="Offer", decision="Keep testing about 19 more days",
                 metric="Margin value per lead", comparison=f"{XSS} vs nooffer", effect=1.334,
                 ci_low=-0.0657, ci_high=27.42, p_value=0.2066, p_value_note="Holm-adjusted",
                 rows_used=6367, rows_set_aside=1, srm="ok (p = 1)",
                 attribution_window="21 days")
    page = render_index([_record(h)], title="demo", run_id="r")
    assert XSS not in page and "&lt;script&gt;" in page
    assert '<div class="decision">Keep testing about 19 more days</div>' in page
    assert (f"+133% relative lift (95% CI: {MINUS}6.6% to +2,742%); p = 0.21 (Holm-adjusted)"
            in page)
    assert "Rows used 6,367, set aside 1 · Traffic split (SRM check): ok (p = 1)" in page
    assert "confidence" not in page.lower() and "ci_low" not in page and "1.334" not in page


def test_index_labels_probabilities_as_probabilities():
    h = Headline(title="T", decision="Ship b", metric="CVR", comparison="b vs a", effect=0.3,
                 ci_low=0.1, ci_high=0.5, probability=0.987,
                 probability_label="chance b is better than a", rows_used=10,
                 rows_set_aside=0, srm="ok (p = 0.5)", attribution_window="7 days",
                 interval_label="95% credible interval")
    page = render_index([_record(h)], title="demo", run_id="r")
    effect = re.search(r'<div class="effect">(.*?)</div>', page).group(1)
    assert effect.endswith("; chance b is better than a: 98.7%")
    assert "p =" not in effect and "p-value" not in effect
