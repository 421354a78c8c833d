"""Lead segments: warm / cold / lapsed rules at their boundaries, purchasers excluded."""

from __future__ import annotations

import pandas as pd

from abtest.prepare.segments import classify_leads

AS_OF = pd.Timestamp("2024-06-30", tz="UTC")


def _events(rows):
    return pd.DataFrame(rows, columns=["user_id", "days_ago", "event"]).assign(
        timestamp=lambda d: AS_OF - pd.to_timedelta(d["days_ago"], unit="D"))


def test_rules_and_boundaries():
    ev = _events([
        ("warm_click", 2, "AdClick"), ("warm_click", 20, "Like"),
        ("warm_edge", 7, "VideoView100"),
        ("cold_like", 3, "Like"), ("cold_like", 10, "VideoView"),
        ("cold_old_strong", 12, "AddToCart"), ("cold_old_strong", 1, "Like"),
        ("lapsed", 31, "AddToCart"), ("lapsed", 40, "Like"),
        ("buyer", 5, "ViewContent"), ("buyer", 4, "Purchase"),
        ("only_impressions", 1, "Impression"),
        ("future", -1, "AdClick"),
    ])
    out, info = classify_leads(ev, as_of=AS_OF, summary=True)
    seg = out.set_index("user_id")["segment"].to_dict()
    assert seg == {"warm_click": "warm", "warm_edge": "warm", "cold_like": "cold",
                   "cold_old_strong": "cold", "lapsed": "lapsed"}
    assert info.purchasers_excluded == 1 and info.without_signal == 1  # "future" not seen yet
    row = out.set_index("user_id").loc["warm_click"]
    assert row["last_signal"] == "AdClick" and row["n_signals"] == 2
    assert info.counts == {"warm": 2, "cold": 2, "lapsed": 1}


def test_thresholds_are_parameters():
    ev = _events([("u", 10, "AdClick")])
    assert classify_leads(ev, as_of=AS_OF)["segment"].iloc[0] == "cold"
    assert classify_leads(ev, as_of=AS_OF, warm_window_days=14)["segment"].iloc[0] == "warm"
    assert classify_leads(ev, as_of=AS_OF, lapsed_after_days=9,
                          warm_window_days=3)["segment"].iloc[0] == "lapsed"
    assert classify_leads(ev, as_of="2024-06-30")["segment"].iloc[0] == "cold"
