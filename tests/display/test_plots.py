"""Report figures: each function returns Axes/Figure with titles, labels and percent axes."""

from __future__ import annotations

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

import abtest
from abtest.display import plots
from abtest.prepare import conversion_curves
from abtest.stats import ctr_by_creative_age
from abtest.stats.planning import power_curves


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(0)
    arm = np.repeat(["a", "b", "c"], 2000)
    conv = (rng.random(arm.size) < np.repeat([0.1, 0.13, 0.1], 2000)).astype(int)
    users = pd.DataFrame({"user_id": np.arange(arm.size).astype(str), "arm": arm,
                          "converted": conv, "segment": np.tile(["warm", "cold"], 3000)})
    return abtest.Experiment(users, control="a", segment="segment").analyze()


def test_lift_plot(results):
    ax = plots.lift_plot(results.table, "conversion_rate")
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c"]  # top to bottom
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert "lift against a" in ax.get_title()
    ax2 = plots.lift_plot(results.table, "conversion_rate", by_segment=True)
    assert len(ax2.get_yticklabels()) == 6
    with pytest.raises(ValueError, match="not in the results"):
        plots.lift_plot(results.table, "ctr")


def test_metric_by_arm_plot(results):
    ax = plots.metric_by_arm_plot(results.table, "conversion_rate")
    assert ax.get_ylabel() == "Conversion rate (per lead)"
    heights = sorted(p.get_height() for p in ax.patches if p.get_height() > 0)
    vals = sorted(results.table.query("segment == 'all'")["value"].astype(float))
    assert heights == pytest.approx(vals)
    ax = plots.metric_by_arm_plot(results.table, "conversion_rate", by_segment=True)
    assert ax.get_xlabel() == "Lead segment"


def test_conversion_curves_plot():
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "arm": ["a", "a", "b", "b"],
                          "entry_time": pd.to_datetime(["2026-01-01"] * 4, utc=True)})
    events = pd.DataFrame({"user_id": ["u1", "u3"], "event": ["Purchase", "Purchase"],
                           "timestamp": pd.to_datetime(["2026-01-03", "2026-01-02"], utc=True)})
    curves = conversion_curves(users, events, horizon_days=5)
    ax = plots.conversion_curves_plot(curves)
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel().startswith("Days since")


def test_attributed_vs_true_plot():
    frame = pd.DataFrame({"arm": ["holdout", "gap1d"], "conversions": [10, 20],
                          "attributed_conversions": [0, 15], "incremental_conversions": [0, 10],
                          "incremental_low": [0, 2], "incremental_high": [0, 18]})
    ax = plots.attributed_vs_true_plot(frame)
    assert len(ax.patches) >= 6
    assert ax.get_ylabel() == "Conversions"


def test_trend_plot_and_daily_rate_plot():
    ages = np.arange(10)
    tr = ctr_by_creative_age(ages, np.rint(1000 * 0.02 * 0.95 ** ages), np.full(10, 1000))
    ax = plots.trend_plot(tr.table, xlabel="age", ylabel="CTR", title="t")
    assert ax.get_title() == "t" and len(ax.get_lines()) == 1
    ads = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02"]),
                        "arm": ["a", "b", "a"], "clicks": [1, 2, 3],
                        "impressions": [100, 100, 100]})
    ax = plots.daily_rate_plot(ads, "clicks", "impressions", label="CTR")
    assert ax.get_ylabel() == "CTR"


def test_policy_plots():
    whatif = pd.DataFrame({
        "segment": ["warm"] * 4, "policy": list("pqrs"), "gap_days": [0, 1, 0, 1],
        "cap": ["no cap", "no cap", "3 per 7 d", "3 per 7 d"],
        "frequency_cap": pd.array([None, None, 3, 3], dtype="Int64"),
        "active_window_days": [28] * 4,
        "cost_per_incremental_conversion": [10.0, np.inf, 8.0, 9.0],
        "incremental_conversion_rate": [0.01, 0.0, 0.02, 0.015],
    })
    fig = plots.policy_heatmaps(whatif)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    unc = pd.DataFrame({"segment": ["warm", "warm"], "policy": ["p", "q"],
                        "incremental_rate": [0.01, 0.02], "incremental_rate_low": [0.0, 0.01],
                        "incremental_rate_high": [0.02, 0.03], "share_best": [0.25, 0.75]})
    fig = plots.policy_intervals_plot(unc)
    assert "75%" in " ".join(t.get_text() for t in fig.axes[0].get_yticklabels())
    ax = plots.cap_plot(whatif)
    assert ax.get_xlabel().startswith("Frequency cap")


def test_power_curves_plot():
    curves = power_curves(0.05, [0.1, 0.2], [1000, 5000, 20000])
    ax = plots.power_curves_plot(curves)
    assert ax.get_ylim()[1] == pytest.approx(1.02)
    assert len(ax.get_lines()) >= 3  # two curves and the target line


def _complement_results():
    # control: 1 conversion in 150 leads, B: 30 in 150 -> Fieller complement; C clearly better
    rows = [("A", 1, 150), ("B", 30, 150)]
    df = pd.concat([pd.DataFrame({"arm": a, "converted": [1] * k + [0] * (n - k)})
                    for a, k, n in rows], ignore_index=True)
    df["user_id"] = [f"u{i}" for i in range(len(df))]
    return abtest.Experiment(df, control="A", days=5).analyze()


def test_lift_plot_draws_a_complement_as_two_outward_rays():
    res = _complement_results()
    row = res.table.query("arm == 'B'").iloc[0]
    assert row.rel_ci_shape == "complement"
    ax = plots.lift_plot(res.table, "conversion_rate")
    left, right = ax.get_xlim()
    lines = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    dashed = [c for c in lines if c.get_segments() and c.get_linestyle()[0][1] is not None]
    ends = sorted(float(x) for c in dashed for s in c.get_segments() for x in (s[0][0], s[1][0]))
    assert ends == pytest.approx([left, row.rel_ci_low, row.rel_ci_high, right])
    assert "outside the gap" in ax.get_xlabel()


def test_lift_plot_colours_follow_the_direction_aware_verdict():
    rng = np.random.default_rng(1)
    days = 40
    frame = pd.DataFrame({
        "date": np.tile(pd.date_range("2024-01-01", periods=days), 2),
        "arm": np.repeat(["a", "b"], days),
        "cost": np.repeat([100.0, 100.0], days),
        "conversions": np.concatenate([rng.poisson(10, days), rng.poisson(20, days)]),
        "impressions": 10_000, "clicks": 100,
    })
    res = abtest.Experiment(frame, control="a", metrics=["cost_per_conversion"],
                            unit="day").analyze()
    row = res.table.query("arm == 'b'").iloc[0]
    assert row.verdict == "better" and row.rel_lift < 0  # lower cost per conversion is better
    ax = plots.lift_plot(res.table, "cost_per_conversion")
    dot = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)
           and len(c.get_offsets()) and c.get_sizes()[0] == 60][0]
    assert matplotlib.colors.to_hex(dot.get_facecolor()[0]) == "#2a9d8f"  # green, not red
