"""The grids of the test planner: which lifts, sizes, durations and looks it tabulates.

The planner's numbers come from :mod:`abtest.stats.planning` (closed-form two-proportion sample
size, power and minimum detectable effect); this module only decides where to evaluate them, so
the notebook, the batch and the tests use the same grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "look_fractions",
    "mde_by_duration",
    "planned_row",
    "planner_lifts",
    "power_curve_sizes",
]


def planner_lifts(lifts: Sequence[float], planned_lift: float) -> list[float]:
    """The relative lifts to tabulate: ``lifts`` and the planned one, sorted, each once."""
    out = sorted({float(x) for x in lifts} | {float(planned_lift)})
    if any(not np.isfinite(x) or x <= -1 or x == 0 for x in out):
        raise ValueError(f"relative lifts must be finite, non-zero and > -100%, got {out}")
    return out


def planned_row(plan: pd.DataFrame, planned_lift: float) -> pd.Series:
    """The row of ``plan`` (from ``plan_table``) for the planned lift."""
    hit = plan[np.isclose(plan["relative_lift"].to_numpy(dtype=float), float(planned_lift))]
    if hit.empty:
        raise ValueError(f"the plan has no row for the planned lift {planned_lift:+.0%}")
    return hit.iloc[0]


def power_curve_sizes(largest_n_per_arm: float, *, daily_leads: float, n_arms: int,
                      max_days: int, points: int = 40) -> list[int]:
    """Leads per arm at which to draw the power curves: ``points`` even steps up to the larger of
    1.3 × the largest planned size and what ``max_days`` of traffic gives each arm."""
    if daily_leads <= 0 or n_arms < 2 or max_days < 1 or points < 2:
        raise ValueError("daily_leads must be > 0, n_arms >= 2, max_days >= 1 and points >= 2")
    n_max = max(int(largest_n_per_arm * 1.3), int(daily_leads / n_arms * max_days))
    return [int(x) for x in pd.Series(range(1, points + 1)).mul(n_max / points).round()]


def mde_by_duration(baseline_rate: float, *, daily_leads: float, n_arms: int, max_days: int,
                    alpha: float = 0.05, power: float = 0.8, step_days: int = 7) -> pd.DataFrame:
    """The smallest relative lift a test could detect if it stopped after each week.

    Durations ``step_days, 2·step_days, … ≤ max_days`` (``max_days`` itself when shorter than a
    step); leads per arm = days × ``daily_leads`` / ``n_arms``. Returns ``days, leads_per_arm,
    minimum_detectable_lift`` (:func:`abtest.stats.planning.minimum_detectable_effect`).
    """
    from abtest.stats.planning import minimum_detectable_effect

    if daily_leads <= 0 or n_arms < 2 or max_days < 1 or step_days < 1:
        raise ValueError("daily_leads must be > 0, n_arms >= 2, max_days and step_days >= 1")
    days = pd.Series(list(range(step_days, max_days + 1, step_days)) or [max_days])
    leads = days * daily_leads / n_arms
    mde = minimum_detectable_effect(leads.to_numpy(), baseline_rate, alpha=alpha, power=power,
                                    n_arms=n_arms)
    return pd.DataFrame({"days": days, "leads_per_arm": leads, "minimum_detectable_lift": mde})


def look_fractions(looks: int) -> list[float]:
    """Information fractions of ``looks`` equally spaced interim looks: ``1/k, 2/k, …, 1``."""
    if looks < 1:
        raise ValueError(f"looks must be >= 1, got {looks}")
    return [(i + 1) / looks for i in range(looks)]
