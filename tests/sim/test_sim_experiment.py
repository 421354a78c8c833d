"""Contract of simulate_experiment (used by the world writer, power and calibration helpers)."""

import numpy as np
import pandas as pd
import pytest

from abtest.sim import ArmSpec, RetargetingPolicy, holdout, simulate_experiment
from abtest.sim.experiment import allocate

ARMS = [
    ArmSpec("holdout", holdout()),
    ArmSpec("gap1", RetargetingPolicy(name="gap1", gap_days=1)),
    ArmSpec("gap7_spark", RetargetingPolicy(name="gap7", gap_days=7, n_creatives=2,
                                            creative_refresh_days=7),
            ctr_multiplier=1.4, order_value_multiplier=0.9, margin_cost_share=0.1),
]


@pytest.fixture(scope="module")
def panel():
    return simulate_experiment(ARMS, leads_per_arm={"holdout": 3000, "gap1": 4000,
                                                    "gap7_spark": 4000},
                               horizon_days=35, seed=4, entry_days=10)


def test_leads_table_contract(panel):
    leads = panel.leads
    assert list(leads.columns) == ["lead_id", "arm", "segment", "entry_day", "first_touch",
                                   "weary", "converted_true", "conversion_day", "order_value"]
    assert str(leads["lead_id"].dtype) == "int64" and leads["lead_id"].is_unique
    assert str(leads["arm"].dtype) == "string" and str(leads["conversion_day"].dtype) == "Int64"
    assert str(leads["order_value"].dtype) == "Float64"
    assert leads.groupby("arm").size().to_dict() == {"gap1": 4000, "gap7_spark": 4000,
                                                     "holdout": 3000}
    assert leads["entry_day"].between(0, 9).all()
    conv = leads["converted_true"]
    assert leads["conversion_day"].isna().eq(~conv).all()
    assert leads["order_value"].isna().eq(~conv).all()
    d = leads.loc[conv, "conversion_day"].astype("int64") - leads.loc[conv, "entry_day"]
    assert d.between(0, 34).all()


def test_exposures_and_conversions_contract(panel):
    leads = panel.leads.set_index("lead_id")
    exp = panel.exposures
    assert list(exp.columns) == ["lead_id", "day", "impressions", "clicks", "cost", "creative"]
    assert (exp["impressions"] >= 1).all() and (exp["clicks"] <= exp["impressions"]).all()
    arm = leads.loc[exp["lead_id"], "arm"].to_numpy()
    assert "holdout" not in set(arm)
    rel = exp["day"].to_numpy() - leads.loc[exp["lead_id"], "entry_day"].to_numpy()
    gap = np.where(arm == "gap1", 1, 7)
    assert (rel >= gap).all() and (rel < 35).all()
    assert set(exp.loc[arm == "gap7_spark", "creative"]) == {0, 1}
    conv = panel.conversions
    assert list(conv.columns) == ["lead_id", "day", "report_day", "value", "attributed",
                                  "attribution", "attributed_day"]
    assert len(conv) == leads["converted_true"].sum() and conv["lead_id"].is_unique
    assert (conv["report_day"] >= conv["day"]).all()
    att = conv["attributed"]
    assert conv.loc[att, "attribution"].isin(["click", "view"]).all()
    assert conv.loc[~att, "attribution"].isna().all()
    assert (conv.loc[att, "attributed_day"] <= conv.loc[att, "day"]).all()
    assert not conv.loc[leads.loc[conv["lead_id"], "arm"].to_numpy() == "holdout", "attributed"].any()


def test_truth_and_determinism(panel):
    t = panel.truth
    assert len(t) == 9 and t["expected_conversion_rate"].between(0, 1).all()
    assert t["conversions"].sum() == panel.leads["converted_true"].sum()
    assert t.groupby("arm")["cost"].sum()["holdout"] == 0
    assert t["cost"].sum() == pytest.approx(panel.exposures["cost"].sum())
    # realised rates scatter around the expected ones
    z = (t["conversion_rate"] - t["expected_conversion_rate"]) / np.sqrt(
        t["expected_conversion_rate"] * (1 - t["expected_conversion_rate"]) / t["leads"])
    assert z.abs().max() < 4
    again = simulate_experiment(ARMS, leads_per_arm={"holdout": 3000, "gap1": 4000,
                                                     "gap7_spark": 4000},
                                horizon_days=35, seed=4, entry_days=10)
    pd.testing.assert_frame_equal(again.leads, panel.leads)
    pd.testing.assert_frame_equal(again.conversions, panel.conversions)


def test_bad_input_and_allocation():
    assert allocate(10, {"a": 0.5, "b": 0.3, "c": 0.2}) == {"a": 5, "b": 3, "c": 2}
    assert sum(allocate(7, {"a": 1, "b": 1, "c": 1}).values()) == 7
    with pytest.raises(ValueError, match="unique"):
        simulate_experiment([ARMS[0], ARMS[0]], leads_per_arm=10, horizon_days=5, seed=1)
    with pytest.raises(ValueError, match="unknown segments"):
        simulate_experiment(ARMS, leads_per_arm=10, horizon_days=5, seed=1,
                            segments_mix={"hot": 1.0})
