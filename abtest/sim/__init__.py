"""Timing-window simulator: leads, intent decay, retargeting gaps, frequency, fatigue, attribution.

Monte Carlo engine (``engine``), expected-value engine (``expected``), policy-grid outputs
(``outputs``) and experiment worlds (``experiment``); model and sources in ``params``.
"""

from abtest.sim.attribution import AttributionWindows, attribute
from abtest.sim.engine import draw_leads, run_block
from abtest.sim.expected import expected_curves, expected_outcomes
from abtest.sim.experiment import LeadPanel, simulate_experiment
from abtest.sim.outputs import METRICS, best_policy, run_policies, summarise
from abtest.sim.params import SEGMENTS, SegmentParams, SimParams, default_params, describe_params
from abtest.sim.policy import ArmSpec, RetargetingPolicy, arms_from_policies, holdout, policy_grid

__all__ = [
    "METRICS", "SEGMENTS", "ArmSpec", "AttributionWindows", "LeadPanel", "RetargetingPolicy",
    "SegmentParams", "SimParams", "arms_from_policies", "attribute", "best_policy",
    "default_params", "describe_params", "draw_leads", "expected_curves", "expected_outcomes",
    "holdout", "policy_grid", "run_block", "run_policies", "simulate_experiment", "summarise",
]
