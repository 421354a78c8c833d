"""Headline block: numbers taken from the results, labels that say what they are, escaping."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

import abtest
from abtest.display import table_html
from abtest.report.headline import (
    Headline,
    format_value,
    headline_from_results,
    headline_lines,
    planning_headline,
    srm_text,
    trend_headline,
)
from abtest.stats import conversion_by_frequency


def _users(arms=("ctrl", "<script>alert(1)</script>"), rates=(0.10, 0.16), n=3000, seed=3):
    rng = np.random.default_rng(seed)
    arm = np.repeat(arms, n)
    conv = (rng.random(len(arm)) < np.repeat(rates, n)).astype(int)
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(len(arm))], "arm": arm,
                         "converted": conv,
                         "segment": np.tile(["warm", "cold", "lapsed"], len(arm) // 3)})


def test_format_value_kinds():
    assert format_value(0.1234, "percent") == "12.3%"
    assert format_value(0.006, "percent") == "0.60%"
    assert format_value(-0.05, "signed_percent") == "\u22125.0%"  # a real minus sign
    assert format_value(1.334, "signed_percent") == "+133%"
    assert format_value(27.417, "signed_percent") == "+2,742%"
    assert format_value(0.0004, "p_value") == "< 0.001"
    assert format_value(0.0421, "p_value") == "0.042"
    assert format_value(12345, "count") == "12,345"
    assert format_value(3.5, "money", currency="USD") == "3.50 USD"
    assert format_value(None, "percent") == "—"
    assert format_value(float("nan"), "number") == "—"


def test_headline_takes_numbers_from_the_results_row():
    res = abtest.Experiment(_users(arms=("ctrl", "b")), control="ctrl").analyze()
    h = headline_from_results(res, title="T", attribution_window="7 days")
    row = res.table.query("segment == 'all' and arm == 'b'").iloc[0]
    assert h.comparison == "b vs ctrl"
    assert h.effect == pytest.approx(float(row["rel_lift"]))
    assert (h.ci_low, h.ci_high) == pytest.approx((float(row["rel_ci_low"]),
                                                   float(row["rel_ci_high"])))
    assert h.p_value == pytest.approx(float(row["p_adjusted"]))
    assert h.probability is None and h.p_value_note == "Holm-adjusted"
    assert h.interval_label == "Holm-adjusted CI"  # the interval agrees with the adjusted p
    side = h.to_sidecar()
    assert "confidence" not in json.dumps(list(side))  # no key calls a p-value "confidence"
    assert side["p_value"] == h.p_value and side["probability"] is None
    assert "; p < 0.001 (Holm-adjusted)" in h.effect_sentence()
    assert h.decision.lower() == res.recommendation.lower()
    assert h.srm.startswith("ok")


def test_bayesian_headline_labels_a_probability_not_a_p_value():
    res = abtest.Experiment(_users(arms=("ctrl", "b")), control="ctrl",
                            method="bayesian").analyze()
    h = headline_from_results(res, title="T", attribution_window="7 days")
    row = res.table.query("segment == 'all' and arm == 'b'").iloc[0]
    assert h.probability == pytest.approx(float(row["prob_beat_control"]))
    assert h.p_value is None
    # the Experiment summary's wording: "chance to be better than control"
    assert h.probability_label == "chance b is better than ctrl"
    assert "credible" in h.interval_label
    side = h.to_sidecar()
    assert side["probability_label"] == h.probability_label and side["p_value"] is None
    sentence = h.effect_sentence()
    assert "p =" not in sentence and "p-value" not in sentence and "confidence" not in sentence
    assert "chance b is better than ctrl: " in sentence


def test_html_escapes_data_and_carries_the_sidecar_values():
    res = abtest.Experiment(_users(), control="ctrl", segment="segment").analyze()
    h = headline_from_results(res, title="<b>Offer</b>", attribution_window="<i>7</i> days")
    html = h.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Offer</b>" not in html
    side = h.to_sidecar()
    json.dumps(side, allow_nan=False)  # JSON-safe
    cells = dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', html))
    import html as html_mod

    assert set(side) - {"title"} <= set(cells)  # every sidecar value is on the page
    for key, raw in cells.items():
        if key != "decision":
            assert json.loads(html_mod.unescape(raw)) == side[key], key
    assert "&lt;script&gt;" in h.to_markdown()


def test_zero_control_rate_falls_back_to_absolute_difference():
    users = _users(arms=("ctrl", "b"), rates=(0.0, 0.05))
    res = abtest.Experiment(users, control="ctrl").analyze()
    h = headline_from_results(res, title="T", attribution_window="x")
    if h.effect_label.startswith("difference"):
        assert h.effect == pytest.approx(0.05, abs=0.02)
        assert h.effect_format == "signed_points" and " pp " in h.effect_sentence()
    assert h.effect is None or math.isfinite(h.effect)


def test_srm_text():
    assert srm_text({"checked": False}).startswith("not checked")
    assert srm_text({"checked": True, "flag": True, "p_value": 1e-5}).startswith("MISMATCH")


def test_trend_headline_effect_is_odds_change_per_step():
    levels = np.arange(1, 7)
    trials = np.full(6, 20000)
    succ = np.rint(trials * 0.02 * 0.85 ** (levels - 1))
    tr = conversion_by_frequency(levels, succ, trials)
    h = trend_headline(tr, title="F", decision="cap", metric="conversion", level_label="step",
                       data=None, attribution_window="x")
    assert h.effect == pytest.approx(math.expm1(tr.slope))
    assert h.ci_low < h.effect < h.ci_high < 0
    assert h.p_value == pytest.approx(tr.p_value) and h.probability is None
    assert "trend test" in h.p_value_note


def test_planning_headline_warns_when_too_long():
    row = {"n_per_arm": 1000, "days": 90, "relative_lift": 0.1}
    h = planning_headline(row, title="P", power=0.8, alpha=0.05, n_arms=2, max_days=56)
    assert "longer than the 56 days" in h.decision
    assert h.probability == 0.8 and h.p_value is None and h.ci_low is None
    assert "power" in h.probability_label
    assert "80.0%" in h.effect_sentence() and "CI" not in h.effect_sentence()


def test_write_returns_record_without_path(tmp_path):
    h = Headline(title="t", decision="ship b", metric="m", comparison="b vs a", effect=0.1,
                 ci_low=0.0, ci_high=0.2, p_value=0.01, p_value_note="unadjusted",
                 rows_used=10, rows_set_aside=0, srm="ok", attribution_window="7 d")
    rec = h.write("")
    assert rec["decision"] == "ship b" and rec["headline"]["effect"] == 0.1
    path = tmp_path / "x.json"
    h.write(str(path))
    assert json.loads(path.read_text())["headline"]["rows_used"] == 10


def test_table_html_formats_and_escapes():
    html = table_html(pd.DataFrame({"arm": ["<x>"], "rate": [0.1234], "n": [12345]}),
                      percent=["rate"], count=["n"])
    assert "12.3%" in html and "12,345" in html and "&lt;x&gt;" in html


def _headline(**kw):
    base = dict(title="t", decision="keep testing", metric="Margin value per lead",
                comparison="freeship vs nooffer", effect=1.334, ci_low=-0.0657, ci_high=27.42,
                p_value=0.2066, p_value_note="Holm-adjusted", rows_used=6367, rows_set_aside=1,
                srm="ok (p = 1)", attribution_window="21 days after entry")
    return Headline(**{**base, **kw})


def test_effect_sentence_and_health_line_read_like_a_report():
    h = _headline()
    assert h.effect_sentence() == (
        "Margin value per lead, freeship vs nooffer: +133% relative lift "
        "(95% CI: \u22126.6% to +2,742%); p = 0.21 (Holm-adjusted)")
    assert h.health_line() == ("Rows used 6,367, set aside 1 · Traffic split (SRM check): "
                               "ok (p = 1) · Conversions: 21 days after entry")
    assert headline_lines(h.to_sidecar()) == (h.effect_sentence(), h.health_line())
    assert headline_lines({"lift": 0.1, "n": 3}) is None  # free-form headlines: no sentence
    assert "p < 0.001" in _headline(p_value=0.0001).effect_sentence()


def test_complement_interval_is_described_not_printed_as_a_range():
    # Fieller complement: everything outside (-2.4, -0.87)
    h = _headline(effect=0.81, ci_low=-2.4, ci_high=-0.87, ci_shape="complement")
    assert "below \u2212240% or above \u221287%" in h.effect_sentence()
    assert "\u2212240% to" not in h.effect_sentence()
    assert h.to_sidecar()["ci_shape"] == "complement"
    assert 'data-key="ci_shape" data-value="&quot;complement&quot;"' in h.to_html()


def test_complement_from_results_keeps_its_shape():
    # control: 1 conversion in 150 leads, B: 30 in 150 -> Fieller complement
    rows = [("A", 1, 150), ("B", 30, 150)]
    df = pd.concat([pd.DataFrame({"arm": a, "converted": [1] * k + [0] * (n - k)})
                    for a, k, n in rows], ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    res = abtest.Experiment(df, control="A", days=5).analyze()
    row = res.table.query("arm == 'B'").iloc[0]
    assert row.rel_ci_shape == "complement"
    h = headline_from_results(res, title="T", attribution_window="x")
    assert h.ci_shape == "complement"
    assert (h.ci_low, h.ci_high) == pytest.approx((row.rel_ci_low, row.rel_ci_high))
    assert "below " in h.effect_sentence() and " or above " in h.effect_sentence()


def test_unbounded_interval_ends_survive_the_sidecar():
    h = _headline(ci_low=-0.5, ci_high=math.inf)
    side = h.to_sidecar()
    assert side["ci_high"] == "inf"
    json.dumps(side, allow_nan=False)
    assert "at least \u221250% (no upper bound)" in h.effect_sentence()
    assert headline_lines(side)[0] == h.effect_sentence()


def test_headline_is_either_p_value_or_probability():
    with pytest.raises(ValueError, match="not both"):
        _headline(probability=0.9)
    with pytest.raises(ValueError, match="ci_shape"):
        _headline(ci_shape="ring")


def test_table_html_headers_in_words_and_no_na():
    frame = pd.DataFrame({"attributed_conversions": pd.array([3, None], dtype="Int64"),
                          "share": [0.5, None], "CamelKept": ["x", "y"]})
    html = table_html(frame, percent=["share"], rename={"share": "Share of leads"})
    assert "Attributed conversions" in html and "Share of leads" in html
    assert "CamelKept" in html and "NA" not in html and "50.0%" in html and "—" in html
