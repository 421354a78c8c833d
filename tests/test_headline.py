"""Headline block: numbers taken from the results, labels that say what they are, escaping."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

import abtest
from abtest.headline import (
    Headline,
    format_value,
    headline_from_results,
    planning_headline,
    srm_text,
    table_html,
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
    assert format_value(0.1234, "percent") == "12.34%"
    assert format_value(-0.05, "signed_percent") == "-5.0%"
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
    assert h.confidence == pytest.approx(float(row["p_adjusted"]))
    assert "p-value" in h.confidence_label and "Holm" in h.confidence_label
    assert h.decision.lower() == res.recommendation.lower()
    assert h.srm.startswith("ok")


def test_bayesian_headline_labels_a_probability_not_a_p_value():
    res = abtest.Experiment(_users(arms=("ctrl", "b")), control="ctrl",
                            method="bayesian").analyze()
    h = headline_from_results(res, title="T", attribution_window="7 days")
    row = res.table.query("segment == 'all' and arm == 'b'").iloc[0]
    assert h.confidence == pytest.approx(float(row["prob_beat_control"]))
    assert "Probability" in h.confidence_label and "not a p-value" in h.confidence_label
    assert "credible" in h.interval_label
    assert h.to_sidecar()["confidence_label"] == h.confidence_label


def test_html_escapes_data_and_carries_the_sidecar_values():
    res = abtest.Experiment(_users(), control="ctrl", segment="segment").analyze()
    h = headline_from_results(res, title="<b>Offer</b>", attribution_window="<i>7</i> days")
    html = h.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Offer</b>" not in html
    side = h.to_sidecar()
    json.dumps(side, allow_nan=False)  # JSON-safe
    cells = dict(re.findall(r'<tr data-key="([^"]+)">.*?data-value="([^"]*)"', html))
    import html as html_mod

    for key, raw in cells.items():
        assert json.loads(html_mod.unescape(raw)) == side[key], key
    assert "&lt;script&gt;" in h.to_markdown()


def test_zero_control_rate_falls_back_to_absolute_difference():
    users = _users(arms=("ctrl", "b"), rates=(0.0, 0.05))
    res = abtest.Experiment(users, control="ctrl").analyze()
    h = headline_from_results(res, title="T", attribution_window="x")
    if h.effect_label.startswith("Difference"):
        assert h.effect == pytest.approx(0.05, abs=0.02)
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
    assert h.confidence == pytest.approx(tr.p_value)


def test_planning_headline_warns_when_too_long():
    row = {"n_per_arm": 1000, "days": 90, "relative_lift": 0.1}
    h = planning_headline(row, title="P", power=0.8, alpha=0.05, n_arms=2, max_days=56)
    assert "longer than the 56 days" in h.decision
    assert h.confidence == 0.8 and h.ci_low is None


def test_write_returns_record_without_path(tmp_path):
    h = Headline(title="t", decision="ship b", metric="m", comparison="b vs a", effect=0.1,
                 ci_low=0.0, ci_high=0.2, confidence=0.01, confidence_label="p-value",
                 rows_used=10, rows_set_aside=0, srm="ok", attribution_window="7 d")
    rec = h.write("")
    assert rec["decision"] == "ship b" and rec["headline"]["effect"] == 0.1
    path = tmp_path / "x.json"
    h.write(str(path))
    assert json.loads(path.read_text())["headline"]["rows_used"] == 10


def test_table_html_formats_and_escapes():
    html = table_html(pd.DataFrame({"arm": ["<x>"], "rate": [0.1234], "n": [12345]}),
                      percent=["rate"], count=["n"])
    assert "12.34%" in html and "12,345" in html and "&lt;x&gt;" in html
