"""Re-pulled overlapping ad exports merge to the latest values; recent days are provisional."""

from __future__ import annotations

import pandas as pd
import pytest

from abtest.io import DataError
from abtest.io.repull import flag_provisional, merge_repulls


def _export(days, ads, conversions):
    rows = [{"date": pd.Timestamp(d), "ad_id": a, "cost": 10.0, "conversions": c}
            for d in days for a, c in zip(ads, conversions, strict=True)]
    return pd.DataFrame(rows)


def test_overlapping_days_keep_the_latest_pull():
    first = _export(pd.date_range("2026-09-01", "2026-09-10"), ["1", "2"], [1, 2])
    second = _export(pd.date_range("2026-09-08", "2026-09-14"), ["1", "2"], [5, 6])
    merged, report = merge_repulls([first, second], names=["week1.csv", "week2.csv"])
    assert len(merged) == 14 * 2
    assert not merged.duplicated(["date", "ad_id"]).any()
    late = merged[merged["date"] >= "2026-09-08"]
    assert set(late["conversions"]) == {5, 6}
    early = merged[merged["date"] < "2026-09-08"]
    assert set(early["conversions"]) == {1, 2}
    assert report.rows_read == 34 and report.rows_kept == 28 and report.rows_set_aside == 6
    assert "6 day × ad rows of week1.csv (2026-09-08 to 2026-09-10) were re-pulled in week2.csv" \
        in report.notes[0]


def test_pull_times_decide_not_the_order():
    first = _export(["2026-09-01"], ["1"], [1])
    second = _export(["2026-09-01"], ["1"], [3])
    merged, _ = merge_repulls([second, first], pulled_at=["2026-09-05", "2026-09-02"])
    assert merged["conversions"].tolist() == [3]


def test_exports_must_identify_ads_the_same_way():
    a = _export(["2026-09-01"], ["1"], [1])
    b = a.rename(columns={"ad_id": "ad"})
    with pytest.raises(DataError, match="identify ads differently"):
        merge_repulls([a, b])


def test_provisional_days_are_the_attribution_window_at_the_end():
    ads = _export(pd.date_range("2026-09-01", "2026-09-20"), ["1"], [1])
    flagged = flag_provisional(ads, window_days=7)
    assert flagged.loc[flagged["provisional"], "date"].min() == pd.Timestamp("2026-09-14")
    assert flagged["provisional"].sum() == 7
    assert flag_provisional(ads, window_days=0)["provisional"].sum() == 0


def test_provisional_note_counts_the_recent_attributed_conversions():
    from abtest.io.repull import provisional_note

    ads = _export(pd.date_range("2026-09-01", "2026-09-20"), ["1", "2"], [1, 2])
    note = provisional_note(ads, window_days=7)
    assert note.startswith("Provisional: 2026-09-14 to 2026-09-20")
    assert "21 of the 60 attributed conversions" in note
    assert provisional_note(ads, window_days=0) == ""


def test_read_repulls_of_the_same_export_keeps_one_copy(demo_data):
    from abtest.io import ReadReport, read_ads_manager
    from abtest.io.repull import read_repulls

    src = demo_data / "gap" / "ads_manager.csv"
    single = read_ads_manager(src)
    merged, report = read_repulls([src, src])
    assert len(merged) == len(single)
    assert report.rows_set_aside == len(single)
    assert merged["conversions"].sum() == single["conversions"].sum()
    rep = ReadReport(file=str(src), format="ads_manager")
    flag_provisional(single, window_days=7, report=rep)
    assert rep.notes and rep.notes[0].startswith("Provisional:")
