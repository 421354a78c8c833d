"""Simulator glue for the timing reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abtest.sim import calibration, whatif
from abtest.sim.params import DEFAULT_SEGMENT_MIX, default_params


@pytest.fixture(scope="module")
def grid():
    return whatif.policy_whatif(gaps=(0, 7), caps=(None, 2), windows=(14,), segments=("warm",),
                                horizon_days=21)


def test_policy_whatif_grid(grid):
    assert len(grid) == 4
    assert set(grid["cap"]) == {"no cap", "2 per 7 d"}
    assert grid["frequency_cap"].isna().sum() == 2
    capped = grid.set_index(["gap_days", "cap"])
    # a tight cap buys fewer impressions
    assert capped.loc[(0, "2 per 7 d"), "impressions_per_lead"] < \
        capped.loc[(0, "no cap"), "impressions_per_lead"]


def test_best_policies_minimises_cost(grid):
    best = whatif.best_policies(grid)
    ok = grid[grid["incremental_conversion_rate"] > 0]
    assert best["cost_per_incremental_conversion"].iloc[0] == \
        ok["cost_per_incremental_conversion"].min()
    most = whatif.best_policies(grid, objective="incremental_conversion_rate")
    assert most["incremental_conversion_rate"].iloc[0] == ok["incremental_conversion_rate"].max()


def test_policy_uncertainty_shares_sum_to_one(grid):
    unc = whatif.policy_uncertainty(grid, per_segment=2, leads=300, replicates=3, seed=2,
                                    horizon_days=21)
    assert len(unc) == 2
    assert unc["share_best"].sum() == pytest.approx(1.0)
    assert (unc["incremental_rate_low"] <= unc["incremental_rate"]).all()
    with pytest.raises(ValueError):
        whatif.policy_uncertainty(grid, replicates=1)


def test_frequency_cap_advice():
    scan, advice = whatif.frequency_cap_advice(caps=(None, 2), segments=("cold",),
                                               horizon_days=21)
    assert len(scan) == 2 and len(advice) == 1
    assert advice["saving_vs_no_cap"].iloc[0] >= 0
    assert np.isfinite(advice["cost_per_incremental_conversion"].iloc[0])


@pytest.mark.slow
def test_gap_design_view():
    rates, pw = whatif.gap_design_view(gaps=(1, 7), leads_per_arm=[500], horizon_days=14,
                                       n_sims=20)
    assert set(rates["segment"]) >= {"all", "warm"}
    assert set(pw["comparison"]) == {"gap1d vs holdout", "gap7d vs holdout"}
    allrow = rates[rates["segment"] == "all"].set_index("arm")["conversion_rate"]
    assert allrow["gap1d"] > allrow["holdout"]


# ------------------------------------------------------------------------------------------
# calibrated_params: the simulator's intent fitted to the analyst's holdout
# ------------------------------------------------------------------------------------------

_T0 = pd.Timestamp("2026-09-01", tz="UTC")


def _as_analyst_tables(panel, *, extra_segment: str | None = None):
    """The engine's lead panel written as load_users/read_events style tables (entry at 06:00,
    conversion at 18:00 of its day, so whole elapsed days = the engine's day difference)."""
    leads = panel.leads
    day = pd.Timedelta(days=1)
    users = pd.DataFrame({
        "user_id": ("u" + leads["lead_id"].astype(str)).astype("string"),
        "arm": leads["arm"].astype("string"),
        "segment": leads["segment"].astype("string"),
        "entry_time": _T0 + leads["entry_day"].to_numpy() * day + pd.Timedelta(hours=6),
    })
    if extra_segment is not None:  # relabel a few leads with a segment the simulator lacks
        seg = users["segment"].to_numpy(dtype=object)
        seg[:50] = extra_segment
        users["segment"] = pd.array(seg, dtype="string")
    conv = leads["conversion_day"].notna().to_numpy()
    events = pd.DataFrame({
        "user_id": users["user_id"][conv].to_numpy(),
        "event": "Purchase",
        "timestamp": _T0 + leads["conversion_day"][conv].to_numpy(dtype=np.int64) * day
        + pd.Timedelta(hours=18),
    })
    # a non-conversion event and a purchase before entry must both be ignored
    noise = pd.DataFrame({"user_id": users["user_id"][:200].to_numpy(), "event": "ViewContent",
                          "timestamp": users["entry_time"][:200].to_numpy()})
    early = pd.DataFrame({"user_id": users["user_id"][:100].to_numpy(), "event": "Purchase",
                          "timestamp": users["entry_time"][:100].to_numpy()
                          - pd.Timedelta(hours=1)})
    return users, pd.concat([events, noise, early], ignore_index=True)


@pytest.fixture(scope="module")
def simulated_fit():
    from abtest.sim.demo import demo_params
    from abtest.sim.experiment import simulate_experiment
    from abtest.sim.policy import ArmSpec, holdout

    truth = demo_params()  # 3x the default intent: the level fit should find c = 3
    panel = simulate_experiment([ArmSpec("holdout", holdout()), ArmSpec("gap1d", holdout("x"))],
                                leads_per_arm={"holdout": 30_600, "gap1d": 100},
                                segments_mix={"warm": 0.49, "cold": 0.49, "lapsed": 0.02},
                                horizon_days=28, params=truth, seed=11)
    users, events = _as_analyst_tables(panel, extra_segment="vip")
    params, fit = calibration.calibrated_params(users, events, holdout_arm="holdout", horizon_days=28,
                                           data_end=_T0 + pd.Timedelta(days=14 + 28))
    return truth, params, fit.set_index("segment")


def test_calibration_recovers_known_intent(simulated_fit):
    truth, params, fit = simulated_fit
    warm = fit.loc["warm"]
    assert warm["fit"] == "shape" and warm["used"]
    assert abs(warm["half_life_days"] / truth.warm.half_life_days - 1) < 0.25
    for col, se, true in (("h0", "h0_se", truth.warm.h0),
                          ("half_life_days", "half_life_se", truth.warm.half_life_days),
                          ("floor", "floor_se", truth.warm.h_floor)):
        assert abs(warm[col] - true) < 3.5 * warm[se], (col, warm[col], true, warm[se])
    assert params.warm.h0 == warm["h0"] and params.warm.h_floor == warm["floor"]
    # everything the holdout cannot identify stays at the base (defaults)
    base = default_params()
    assert params.warm.lift_multiplicative == base.warm.lift_multiplicative
    assert params.cold.fatigue_delta == base.cold.fatigue_delta
    assert params.click_window_days == base.click_window_days


def test_calibration_level_fit_and_listing(simulated_fit):
    truth, params, fit = simulated_fit
    lapsed = fit.loc["lapsed"]  # ~600 leads, ~25 conversions: level only
    assert lapsed["fit"] == "level" and lapsed["used"]
    base = default_params().lapsed
    c = lapsed["h0"] / base.h0
    assert lapsed["half_life_days"] == base.half_life_days and lapsed["half_life_se"] == 0
    assert lapsed["floor"] / base.h_floor == pytest.approx(c)
    assert abs(c - 3.0) < 3 * lapsed["h0_se"] / base.h0, (c, lapsed["h0_se"] / base.h0)
    vip = fit.loc["vip"]
    assert not vip["used"] and vip["n_leads"] == 50 and "not a simulator segment" in vip["note"]
    # the noise (ViewContent, purchases before entry) and gap-arm leads were not counted
    assert fit.loc[["warm", "cold", "lapsed", "vip"], "n_leads"].sum() == 30_600
    # model_rate: the engine reproduces each fitted segment's holdout rate
    for seg in ("warm", "cold", "lapsed"):
        r = fit.loc[seg]
        se = np.sqrt(r["observed_rate"] * (1 - r["observed_rate"]) / r["n_leads"])
        assert abs(r["model_rate"] - r["observed_rate"]) < 3 * se


def test_calibration_errors_and_pooled():
    users = pd.DataFrame({"user_id": ["a", "b"], "arm": ["x", "y"], "segment": ["warm", "warm"],
                          "entry_time": pd.to_datetime(["2026-09-01", "2026-09-02"], utc=True)})
    events = pd.DataFrame({"user_id": ["a"], "event": ["Purchase"],
                           "timestamp": pd.to_datetime(["2026-09-03"], utc=True)})
    with pytest.raises(ValueError, match="no leads in holdout arm 'holdout'"):
        calibration.calibrated_params(users, events, holdout_arm="holdout", horizon_days=7)
    with pytest.raises(ValueError, match="lacks column 'event'"):
        calibration.calibrated_params(users, events.drop(columns="event"), holdout_arm="x",
                                 horizon_days=7)
    # one lead, no conversions worth fitting: base kept, listed with a reason
    params, fit = calibration.calibrated_params(users, events, holdout_arm="x", horizon_days=7,
                                           by_segment=False)
    assert params == default_params()
    assert list(fit["segment"]) == ["all"] and not fit["used"].iloc[0]
    assert "base parameters kept" in fit["note"].iloc[0]


@pytest.fixture(scope="module")
def demo_gap():
    from abtest import prepare as stories

    return stories.load_users("data/demo/gap", horizon_days=28)


def test_calibrated_demo_matches_observed_holdout(demo_gap):
    """On the committed demo world the calibrated engine reproduces the holdout's conversion at
    the horizon (inside the 99% Clopper-Pearson interval); the literature defaults do not."""
    from statsmodels.stats.proportion import proportion_confint

    from abtest.sim.params import SEGMENTS
    from abtest.sim.power import gap_test_arms, true_rates

    users = demo_gap.frame
    params, fit = calibration.calibrated_params(users, demo_gap.events, holdout_arm="holdout",
                                           horizon_days=28)
    assert fit["used"].all() and set(fit["segment"]) == set(SEGMENTS)
    hold = users[users["arm"] == "holdout"]
    k, n = int(hold["converted"].sum()), len(hold)
    low, high = proportion_confint(k, n, alpha=0.01, method="beta")
    weights = hold["segment"].value_counts(normalize=True)
    arms = gap_test_arms([], include_holdout=True)

    def pooled(p):
        r = true_rates(arms, horizons=[28], params=p).set_index("segment")["conversion_rate"]
        return float(sum(weights[s] * r[s] for s in SEGMENTS))

    assert low <= pooled(params) <= high, (pooled(params), low, high)
    assert not low <= pooled(default_params()) <= high
    # per segment too
    for seg, g in hold.groupby("segment"):
        lo, hi = proportion_confint(int(g["converted"].sum()), len(g), alpha=0.01, method="beta")
        assert lo <= fit.set_index("segment").loc[seg, "model_rate"] <= hi, seg


def test_best_policies_most_increment_under_a_cost_ceiling(grid):
    ceiling = float(grid["cost_per_incremental_conversion"].median())
    best = whatif.best_policies(grid, objective="incremental_conversion_rate",
                                max_cost_per_incremental_conversion=ceiling)
    for row in best.itertuples():
        seg = grid[(grid["segment"] == row.segment)
                   & (grid["cost_per_incremental_conversion"] <= ceiling)
                   & (grid["incremental_conversion_rate"] > 0)]
        assert row.cost_per_incremental_conversion <= ceiling
        assert row.incremental_conversion_rate == seg["incremental_conversion_rate"].max()
    nothing = whatif.best_policies(grid, max_cost_per_incremental_conversion=0.0)
    assert nothing.empty


# ------------------------------------------------------------------------------------------
# calibrate_ad_effect: one common multiplier on the ad effect, from the treated arms
# ------------------------------------------------------------------------------------------

def _organic_demo_world(k: float = 1.0):
    """Demo organic intent (3x the default) with the default ad effect scaled by ``k``."""
    from dataclasses import replace

    from abtest.sim.demo import demo_params
    from abtest.sim.params import SEGMENTS

    dm, d = demo_params(), default_params()
    return replace(dm, **{s: replace(dm.segment(s),
                                     lift_multiplicative=k * d.segment(s).lift_multiplicative,
                                     lift_additive=k * d.segment(s).lift_additive)
                          for s in SEGMENTS})


def _gap_users(truth, *, seed: int, leads: int = 10_000, horizon: int = 28):
    from abtest.sim.experiment import simulate_experiment
    from abtest.sim.power import gap_test_arms

    arms = gap_test_arms([1, 7], weekly_frequency=3.0)
    panel = simulate_experiment(arms, leads_per_arm=leads,
                                segments_mix=DEFAULT_SEGMENT_MIX,
                                horizon_days=horizon, params=truth, seed=seed)
    lead = panel.leads
    conv = ((lead["conversion_day"] - lead["entry_day"]) < horizon).fillna(False)
    users = pd.DataFrame({"arm": lead["arm"].astype("string"),
                          "segment": lead["segment"].astype("string"),
                          "converted": conv.to_numpy(dtype=bool)})
    return users, {a.name: a.policy for a in arms[1:]}


def test_ad_effect_recovers_known_multiplier():
    base, truth = _organic_demo_world(1.0), _organic_demo_world(3.0)
    users, pols = _gap_users(truth, seed=4)
    params, tab = calibration.calibrate_ad_effect(base, users, holdout_arm="holdout", policies=pols,
                                             horizon_days=28)
    k, se = float(tab["k"].iloc[0]), float(tab["k_se"].iloc[0])
    assert 0.3 < se < 1.5 and abs(k - 3.0) < 3 * se, (k, se)
    assert list(tab["arm"]) == ["holdout", "gap1d", "gap7d"]
    assert (tab["leads"] == 10_000).all()
    # the returned world carries k on L and a of every segment; nothing else moved
    for s in ("warm", "cold", "lapsed"):
        assert params.segment(s).lift_multiplicative == pytest.approx(
            k * base.segment(s).lift_multiplicative)
        assert params.segment(s).lift_additive == pytest.approx(k * base.segment(s).lift_additive)
        assert params.segment(s).h0 == base.segment(s).h0
    # holdout untouched by k
    assert tab["simulated_rate_after"].iloc[0] == tab["simulated_rate_before"].iloc[0]


@pytest.mark.slow
def test_ad_effect_standard_error_is_calibrated():
    """Over seeded replications (k_hat - k) / k_se is about standard normal."""
    base, truth = _organic_demo_world(1.0), _organic_demo_world(2.5)
    z = []
    for seed in range(12):
        users, pols = _gap_users(truth, seed=100 + seed, leads=6000)
        _, tab = calibration.calibrate_ad_effect(base, users, holdout_arm="holdout", policies=pols,
                                            horizon_days=28)
        z.append((tab["k"].iloc[0] - 2.5) / tab["k_se"].iloc[0])
    z = np.asarray(z)
    assert abs(z.mean()) < 0.9 and 0.5 < z.std(ddof=1) < 1.6, z


def test_ad_effect_exact_on_expected_counts():
    """Counts set to the engine's own expectations at k = 2 give k = 2, and k_se equals the
    delta-method (Jᵀ V⁻¹ J)^(-1/2) computed independently through power.true_rates."""
    from abtest.sim.policy import ArmSpec
    from abtest.sim.power import gap_test_arms, true_rates

    base = _organic_demo_world(1.0)
    arms = gap_test_arms([1, 7], weekly_frequency=3.0)
    pols = {a.name: a.policy for a in arms[1:]}
    n_seg = {"warm": 80_000, "cold": 80_000, "lapsed": 40_000}

    def rates(k):
        spec = [ArmSpec(a.name, a.policy, lift_multiplier=k) for a in arms]
        return true_rates(spec, horizons=[28], params=base).set_index(["arm", "segment"])[
            "conversion_rate"]

    r2 = rates(2.0)
    parts = []
    for (arm, seg), p in r2.items():
        n = n_seg[seg]
        x = int(round(p * n))
        parts.append(pd.DataFrame({"arm": arm, "segment": seg,
                                   "converted": np.arange(n) < x}))
    users = pd.concat(parts, ignore_index=True)
    _, tab = calibration.calibrate_ad_effect(base, users, holdout_arm="holdout", policies=pols,
                                        horizon_days=28)
    k, se = float(tab["k"].iloc[0]), float(tab["k_se"].iloc[0])
    assert k == pytest.approx(2.0, abs=0.01)
    # independent delta method: pooled increments, Jacobian by central differences
    w = {s: n / sum(n_seg.values()) for s, n in n_seg.items()}
    obs = users.groupby("arm")["converted"].mean()

    def pooled(r, arm):
        return sum(w[s] * r[(arm, s)] for s in w)

    hi, lo = rates(2.05), rates(1.95)
    jac = np.array([(pooled(hi, a) - pooled(hi, "holdout") - pooled(lo, a)
                     + pooled(lo, "holdout")) / 0.1 for a in ("gap1d", "gap7d")])
    var = {a: obs[a] * (1 - obs[a]) / sum(n_seg.values()) for a in obs.index}
    v = np.diag([var["gap1d"], var["gap7d"]]) + var["holdout"]
    se_delta = 1 / np.sqrt(jac @ np.linalg.solve(v, jac))
    assert se == pytest.approx(se_delta, rel=0.03)
    assert tab["simulated_rate_after"].to_numpy() == pytest.approx(
        tab["observed_rate"].to_numpy(), abs=2e-4)


def test_ad_effect_errors():
    users = pd.DataFrame({"arm": ["holdout", "gap1d"], "segment": ["warm", "warm"],
                          "converted": [False, True]})
    from abtest.sim.policy import RetargetingPolicy

    pol = {"gap1d": RetargetingPolicy(name="gap1d", gap_days=1)}
    with pytest.raises(ValueError, match="not in users"):
        calibration.calibrate_ad_effect(None, users, holdout_arm="control", policies=pol,
                                   horizon_days=28)
    with pytest.raises(ValueError, match="no treated arm"):
        calibration.calibrate_ad_effect(None, users, holdout_arm="holdout", policies={},
                                   horizon_days=28)
    with pytest.raises(ValueError, match="lacks column 'converted'"):
        calibration.calibrate_ad_effect(None, users.drop(columns="converted"), holdout_arm="holdout",
                                   policies=pol, horizon_days=28)
    with pytest.raises(ValueError, match="no leads in segment"):
        calibration.calibrate_ad_effect(None, users, holdout_arm="holdout", policies=pol,
                                   horizon_days=28, segments_mix={"cold": 1.0})


def test_ad_effect_on_demo_matches_treated_arms(demo_gap):
    """On the committed demo gap test the fitted world reproduces every treated arm (inside the
    99% Clopper-Pearson interval) and the pooled treated rate, which the unfitted ad effect
    misses."""
    from statsmodels.stats.proportion import proportion_confint

    from abtest.sim.power import gap_test_arms

    users = demo_gap.frame
    organic, _ = calibration.calibrated_params(users, demo_gap.events, holdout_arm="holdout",
                                          horizon_days=28)
    pols = {a.name: a.policy for a in gap_test_arms([1, 3, 7], weekly_frequency=3.0)[1:]}
    params, tab = calibration.calibrate_ad_effect(organic, users, holdout_arm="holdout",
                                             policies=pols, horizon_days=28)
    k, se = float(tab["k"].iloc[0]), float(tab["k_se"].iloc[0])
    assert k > 1 + se, (k, se)  # the demo's ad effect is stronger than the literature default
    assert params.warm.lift_multiplicative == pytest.approx(k * organic.warm.lift_multiplicative)
    treated = tab[tab["arm"] != "holdout"]
    for r in treated.itertuples():
        lo, hi = proportion_confint(r.conversions, r.leads, alpha=0.01, method="beta")
        assert lo <= r.simulated_rate_after <= hi, (r.arm, r.simulated_rate_after, lo, hi)
    lo, hi = proportion_confint(int(treated["conversions"].sum()), int(treated["leads"].sum()),
                                alpha=0.01, method="beta")
    share = treated["leads"] / treated["leads"].sum()
    assert lo <= float((share * treated["simulated_rate_after"]).sum()) <= hi
    assert not lo <= float((share * treated["simulated_rate_before"]).sum()) <= hi
    assert tab["k"].notna().all() and np.isfinite(tab["k_se"]).all()
