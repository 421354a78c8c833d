"""Arm assignment: naming convention, explicit mapping, users."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from abtest.io import DataError, read_ads_manager, read_events
from abtest.prepare.arms import apply_mapping, assignments, parse_names, pattern_regex
from abtest.schema import ASSIGNMENTS

FIX = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def ads() -> pd.DataFrame:
    return read_ads_manager(FIX / "ads_manager_ad_daily.csv")


def test_pattern_regex():
    assert pattern_regex("RT_{segment}_{offer}") == r"^RT_(?P<segment>[^_]+)_(?P<offer>[^_]+)$"


def test_parse_names(ads):
    out = parse_names(ads)
    assert out["offer"].tolist()[:3] == ["10off", "10off", "freeship"]
    assert set(out["cta"]) == {"ShopNow", "LearnMore"} and (out["segment"] == "ATC").all()
    assert str(out["cta"].dtype) == "string"


def test_unmatched_names_raise_or_set_aside(ads):
    bad = ads.assign(ad_group=ads["ad_group"].where(ads.index != 4, "Broad_prospecting"))
    with pytest.raises(DataError, match="Broad_prospecting") as info:
        parse_names(bad)
    assert "row 6" in str(info.value)
    kept, rep = parse_names(bad, unmatched="set_aside")
    assert len(kept) == 8 and rep.set_aside[0].rows == (6,)
    rep.check_balance()


def test_apply_mapping_csv_yaml_dict(ads, tmp_path):
    csv = tmp_path / "arms.csv"
    csv.write_text("ad_id,arm\n1714125050000001,A\n1714125050000002,A\n1714125050000003,B\n")
    yml = tmp_path / "arms.yml"
    yml.write_text("A: ['1714125050000001', '1714125050000002']\nB: ['1714125050000003']\n")
    a = apply_mapping(ads, csv)
    pd.testing.assert_frame_equal(a, apply_mapping(ads, yml))
    assert a.groupby("arm")["impressions"].sum().to_dict() == {"A": 31621, "B": 12312}
    with pytest.raises(DataError, match="1714125050000003"):
        apply_mapping(ads, {"1714125050000001": "A", "1714125050000002": "B"})


def test_user_assignments():
    events = read_events(FIX / "events_flat.csv")
    out, rep = assignments(events, {"1714125050000001": "A", "1714125050000002": "B"})
    assert list(out.columns) == ASSIGNMENTS.names
    assert set(out["arm"]) == {"A", "B"} and len(out) == 3
    assert rep.rows_set_aside == 1  # the user whose only ad is unmapped
    rep.check_balance()
