"""Timing-window simulator: leads, intent decay, retargeting gaps, frequency, fatigue, attribution.

Monte Carlo engine (``engine``), expected-value engine (``expected``), policy-grid outputs
(``outputs``), the reports' policy what-if grids (``whatif``) and the advice they print
(``advice``), experiment worlds (``experiment``), the test planner's grids (``planner``), calibration from observed data (the
``calibration`` package), power by simulation (``power``) and the world writer (``world``; the demo
world is ``abtest.sim.demo``); model and sources in ``params``.
"""

from abtest.sim.advice import (
    CapRecommendation,
    PolicyObjective,
    cap_recommendation,
    cap_table,
    caps_from_parameter,
    decision_text,
    do_not_retarget_text,
    frequency_evidence,
)
from abtest.sim.attribution import AttributionWindows, attribute
from abtest.sim.calibration import (
    MIN_EVENTS_LEVEL,
    MIN_EVENTS_SHAPE,
    SimWorld,
    calibrate_ad_effect,
    calibrated_params,
    calibration_table,
    ctr_by_frequency,
    fatigue_stock,
    fit_frequency_response,
    fit_intent,
    fit_report_delay,
    intent_cumulative_hazard,
    simulated_world,
)
from abtest.sim.cpus import available_cpus
from abtest.sim.engine import draw_leads, run_block
from abtest.sim.expected import expected_curves, expected_outcomes
from abtest.sim.experiment import LeadPanel, simulate_experiment
from abtest.sim.outputs import METRICS, best_policy, run_policies, summarise
from abtest.sim.params import (
    DEFAULT_SEGMENT_MIX,
    SEGMENTS,
    SegmentParams,
    SimParams,
    default_params,
    describe_params,
)
from abtest.sim.policy import ArmSpec, RetargetingPolicy, arms_from_policies, holdout, policy_grid
from abtest.sim.power import (
    gap_arm_name,
    gap_arm_policies,
    gap_test_arms,
    simulate_power,
    true_rates,
)
from abtest.sim.whatif import (
    Objective,
    best_policies,
    cap_label,
    frequency_cap_advice,
    gap_design_view,
    observed_vs_simulated,
    policy_uncertainty,
    policy_whatif,
    segment_mix,
)
from abtest.sim.world import (
    ENGAGEMENT_RATES,
    WorldFiles,
    ad_table,
    hash_user,
    truth_table,
    write_world,
)

__all__ = [
    "DEFAULT_SEGMENT_MIX", "METRICS", "SEGMENTS", "ArmSpec", "AttributionWindows", "LeadPanel",
    "RetargetingPolicy", "SegmentParams", "SimParams", "arms_from_policies", "attribute",
    "best_policy", "default_params", "describe_params", "draw_leads", "expected_curves",
    "expected_outcomes", "holdout", "policy_grid", "run_block", "run_policies",
    "simulate_experiment", "summarise",
    # calibration, power, world writer
    "ENGAGEMENT_RATES", "MIN_EVENTS_LEVEL", "MIN_EVENTS_SHAPE", "WorldFiles", "ad_table",
    "SimWorld", "calibrate_ad_effect", "calibrated_params", "calibration_table",
    "ctr_by_frequency", "fatigue_stock", "fit_frequency_response", "fit_intent",
    "fit_report_delay", "gap_test_arms", "hash_user", "intent_cumulative_hazard", "simulate_power",
    "gap_arm_name", "gap_arm_policies", "simulated_world",
    "true_rates", "truth_table", "write_world", "available_cpus",
    # policy what-if grids and the advice the reports print
    "Objective", "best_policies", "cap_label", "frequency_cap_advice", "gap_design_view",
    "observed_vs_simulated", "policy_uncertainty", "policy_whatif", "segment_mix",
    "CapRecommendation", "PolicyObjective", "cap_recommendation", "cap_table",
    "caps_from_parameter", "decision_text", "do_not_retarget_text", "frequency_evidence",
]
