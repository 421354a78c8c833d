"""World writer: simulated experiments written in real TikTok formats read back by abtest.io."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abtest.io import read_ads_manager, read_events, read_marketing_api
from abtest.sim.demo import build_demo_data, demo_experiments
from abtest.sim.experiment import simulate_experiment
from abtest.sim.power import gap_test_arms
from abtest.sim.world import ENGAGEMENT_RATES, hash_user, write_world
from abtest.stats.frequentist import proportion_test

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def panel():
    return simulate_experiment(gap_test_arms((1, 7)), leads_per_arm=3000, horizon_days=35,
                               seed=11)


@pytest.fixture(scope="module")
def world(panel, tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    files = write_world(panel, out, api_page_size=100,
                        ad_formats={"gap1d": "spark", "gap7d": "in_feed"})
    return panel, files


def _digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_csv_xlsx_and_api_give_identical_canonical_tables(world) -> None:
    panel, files = world
    csv = read_ads_manager(files.ads_manager_csv)
    xlsx = read_ads_manager(files.ads_manager_xlsx)
    api = read_marketing_api(files.marketing_api_json)
    pd.testing.assert_frame_equal(csv, xlsx)
    pd.testing.assert_frame_equal(csv, api)
    pages = json.loads(files.marketing_api_json.read_text())
    assert len(pages) > 1 and all(len(p["data"]["list"]) <= 100 for p in pages)
    assert pages[0]["data"]["list"][0]["dimensions"]["stat_time_day"].endswith(" 00:00:00")
    # totals agree with the simulated exposure log and attribution
    exp = panel.exposures
    assert csv["impressions"].sum() == exp["impressions"].sum()
    assert csv["clicks"].sum() == exp["clicks"].sum()
    assert abs(csv["cost"].sum() - exp["cost"].sum()) < 0.01 * len(csv)
    attributed = panel.conversions["attributed"].sum()
    assert csv["conversions"].sum() == attributed == csv["real_time_conversions"].sum()
    assert csv["reach"].sum() == len(exp)  # one exposure row per lead-day = reach per ad-day
    # one ad per arm x segment, named by the convention; the holdout has no ads
    names = set(csv["ad"])
    assert names == {f"RT_{s}_{a}" for s in ("warm", "cold", "lapsed") for a in ("gap1d", "gap7d")}
    assert csv["ad_id"].str.fullmatch(r"\d{19}").all()


def test_engagement_counts_are_nested_and_format_specific(world) -> None:
    _, files = world
    ads = read_ads_manager(files.ads_manager_csv)
    chain = ["impressions", "video_views", "video_views_p25", "video_views_p50",
             "video_views_p75", "video_views_p100"]
    for hi, lo in zip(chain, chain[1:], strict=False):
        assert (ads[lo] <= ads[hi]).all(), (lo, hi)
    assert (ads["video_watched_6s"] <= ads["video_watched_2s"]).all()
    assert (ads["clicks_all"] >= ads["clicks"]).all()
    spark = ads["ad"].str.endswith("gap1d")
    assert ads.loc[~spark, "follows"].sum() == 0 and ads.loc[spark, "follows"].sum() > 0
    rate = ads.loc[spark, "likes"].sum() / ads.loc[spark, "impressions"].sum()
    assert abs(rate - ENGAGEMENT_RATES["spark"]["likes"]) < 4 * np.sqrt(
        ENGAGEMENT_RATES["spark"]["likes"] / ads.loc[spark, "impressions"].sum())


def test_csv_has_real_headers_and_totals_row(world) -> None:
    _, files = world
    raw = files.ads_manager_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig").splitlines()
    header = text[0].split(",")
    for label in ("By Day", "Cost", "Clicks (destination)", "CTR (destination)",
                  "Video views at 25%", "Paid follows", "Ad name", "Ad ID"):
        assert label in header
    assert text[-1].startswith(f"Total of {len(text) - 2} results")


def test_events_and_assignments_match_the_panel(world) -> None:
    panel, files = world
    events = read_events(files.events_ndjson)
    buys = events[events["event"] == "Purchase"]
    assert len(buys) == len(panel.conversions)
    assert set(buys["event_raw"]) == {"Purchase", "CompletePayment"}
    assert {"ViewContent", "AddToCart"} <= set(events["event"])
    assert set(events["event"]) & {"VideoView100", "Like", "ProfileVisit", "LeadForm"}
    assert abs(buys["value"].sum() - panel.conversions["value"].round(2).sum()) < 1e-6
    lines = files.events_ndjson.read_text().splitlines()
    assert all(len(json.loads(line)["data"]) <= 1000 for line in lines)
    assign = pd.read_csv(files.assignments_csv, dtype=str)
    assert len(assign) == len(panel.leads) and assign["user_id"].is_unique
    assert set(buys["user_id"]) <= set(assign["user_id"])
    # hashed ids: SHA-256 of the external id, never the raw id
    assert assign["user_id"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert hash_user(np.array([7]))[0] == hashlib.sha256(b"lead-00000007").hexdigest()
    # entry time falls on the lead's entry day; purchases happen within the horizon from entry
    entry = pd.to_datetime(assign["entry_time"], utc=True)
    day = (entry.dt.tz_localize(None).dt.normalize() - pd.Timestamp(panel.start_date)).dt.days
    lead_day = panel.leads.set_index(hash_user(panel.leads["lead_id"].to_numpy()))["entry_day"]
    assert (day.to_numpy() == lead_day.loc[assign["user_id"]].to_numpy()).all()


def test_statistics_recover_true_arm_effects(world) -> None:
    """Acceptance: proportion_test on assignments + events covers the true effects (truth.csv)."""
    panel, files = world
    assign = pd.read_csv(files.assignments_csv, dtype=str)
    events = read_events(files.events_ndjson)
    converted = set(events.loc[events["event"] == "Purchase", "user_id"])
    assign["converted"] = assign["user_id"].isin(converted)
    arms = [a.name for a in panel.arms]
    counts = assign.groupby("arm")["converted"].agg(["sum", "size"]).loc[arms]
    truth = pd.read_csv(files.truth_csv)
    overall = truth[truth["segment"] == "all"].set_index("arm").loc[arms]
    assert (counts["sum"].to_numpy() == overall["converted"].to_numpy()).all()
    res = proportion_test(counts["sum"].to_numpy(), counts["size"].to_numpy())
    for (_, row), arm in zip(res.iterrows(), arms[1:], strict=True):
        true = overall.loc[arm, "true_diff"]
        assert row["abs_ci_low"] <= true <= row["abs_ci_high"], (arm, true, row.to_dict())
    meta = json.loads(files.truth_json.read_text())
    assert meta["seed"] == 11 and meta["control"] == "holdout"
    assert {a["name"] for a in meta["arms"]} == set(arms)


def test_write_world_is_deterministic_and_respects_time_zone(panel, tmp_path) -> None:
    a = write_world(panel, tmp_path / "a", account_timezone="America/New_York")
    b = write_world(panel, tmp_path / "b", account_timezone="America/New_York")
    assert _digest(a.files) == _digest(b.files)
    events = read_events(a.events_ndjson)
    local = events["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    days = (local.dt.normalize() - pd.Timestamp(panel.start_date)).dt.days
    assert days.min() >= 0 and days.max() < panel.horizon_days + panel.entry_days
    with pytest.raises(ValueError, match="unknown field"):
        write_world(panel, tmp_path / "c", naming="RT_{audience}_{arm}")
    with pytest.raises(ValueError, match="unknown format"):
        write_world(panel, tmp_path / "d", formats=("ads_manager_pdf",))  # type: ignore[arg-type]


@pytest.mark.slow
def test_small_demo_is_byte_identical_on_rerun(tmp_path) -> None:
    a = build_demo_data(tmp_path / "a", small=True)
    b = build_demo_data(tmp_path / "b", small=True)
    for name in a:
        assert _digest(a[name].files) == _digest(b[name].files)
    assert {e.name for e in demo_experiments()} == set(a) == {"gap", "offer", "cta", "format"}


@pytest.mark.slow
def test_committed_demo_matches_generator(tmp_path) -> None:
    """data/demo is exactly what `python -m abtest.sim.demo` writes (regenerate if this fails)."""
    manifest = json.loads((REPO / "data" / "demo" / "manifest.json").read_text())
    build_demo_data(tmp_path)
    rebuilt = json.loads((tmp_path / "manifest.json").read_text())
    assert rebuilt == manifest
    total = sum(f["bytes"] for e in manifest["experiments"] for f in e["files"].values())
    assert total < 12e6  # a few thousand leads per arm: small enough to ship in git
    for exp in manifest["experiments"]:
        folder = REPO / "data" / "demo" / exp["name"]
        ads = read_ads_manager(folder / "ads_manager.csv")
        pd.testing.assert_frame_equal(ads, read_ads_manager(folder / "ads_manager.xlsx"))
        pd.testing.assert_frame_equal(ads, read_marketing_api(folder / "marketing_api.json"))
        events = read_events(folder / "events.ndjson")
        truth = pd.read_csv(folder / "truth.csv")
        converted = truth.loc[truth["segment"] == "all", "converted"].sum()
        assert (events["event"] == "Purchase").sum() == converted
