"""Calibration: fit the simulator's intent, delay, fatigue and ad-effect parameters from data.

So a what-if starts from the analyst's own numbers (issue 4 item 6; simulation-models.md §3, §4,
§8). One module per estimator, all sharing one likelihood / observed-information helper
(:mod:`abtest.sim.calibration._likelihood`, Hessians from ``statsmodels.tools.numdiff``):

* :mod:`~abtest.sim.calibration.intent` — organic intent ``h(r) = h0·ρ^r + floor`` from
  time to conversion with right censoring (:func:`fit_intent`);
* :mod:`~abtest.sim.calibration.delay` — the reporting-delay mixture (:func:`fit_report_delay`);
* :mod:`~abtest.sim.calibration.frequency` — CTR fatigue from exposure logs
  (:func:`fit_frequency_response`, :func:`fatigue_stock`, :func:`ctr_by_frequency`);
* :mod:`~abtest.sim.calibration.holdout` — simulator parameters fitted to a test's holdout leads
  (:func:`calibrated_params`, :func:`calibration_table`);
* :mod:`~abtest.sim.calibration.ad_effect` — one multiplier on the ad effect from the treated arms
  (:func:`calibrate_ad_effect`);
* :mod:`~abtest.sim.calibration.sim_world` — the world a report starts from, defaults or both
  fits above, with the sentence saying which (:func:`simulated_world`).
"""

from abtest.sim.calibration.ad_effect import calibrate_ad_effect
from abtest.sim.calibration.delay import fit_report_delay
from abtest.sim.calibration.frequency import ctr_by_frequency, fatigue_stock, fit_frequency_response
from abtest.sim.calibration.holdout import (
    MIN_EVENTS_LEVEL,
    MIN_EVENTS_SHAPE,
    calibrated_params,
    calibration_table,
)
from abtest.sim.calibration.intent import fit_intent, intent_cumulative_hazard
from abtest.sim.calibration.sim_world import SimWorld, simulated_world

__all__ = [
    "MIN_EVENTS_LEVEL",
    "MIN_EVENTS_SHAPE",
    "SimWorld",
    "calibrate_ad_effect",
    "calibrated_params",
    "calibration_table",
    "ctr_by_frequency",
    "fatigue_stock",
    "fit_frequency_response",
    "fit_intent",
    "fit_report_delay",
    "intent_cumulative_hazard",
    "simulated_world",
]
