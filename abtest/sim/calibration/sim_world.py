"""The simulated world a report starts from: literature defaults, or fitted to a test's own leads.

:func:`simulated_world` is the one setup step of the simulator reports: validate the ``sim_world``
choice, fit organic intent to the holdout (:func:`calibrated_params`), optionally scale the ad
effect to the treated gap arms (:func:`calibrate_ad_effect`), and say in words what was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from abtest.sim.calibration.ad_effect import calibrate_ad_effect
from abtest.sim.calibration.holdout import calibrated_params
from abtest.sim.params import SimParams
from abtest.sim.policy import RetargetingPolicy
from abtest.sim.power import gap_arm_name

__all__ = ["SimWorld", "simulated_world"]

WorldKind = Literal["calibrated", "default"]


def _records(frame: pd.DataFrame | None) -> list[dict[str, object]]:
    if frame is None:
        return []
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


@dataclass(frozen=True)
class SimWorld:
    """The simulator parameters a report uses and how they were obtained.

    ``params`` is ``None`` for the literature defaults (every simulator function reads ``None`` as
    :func:`abtest.sim.params.default_params`). ``fit`` is the holdout fit table of
    :func:`calibrated_params` and ``ad_fit`` the table of :func:`calibrate_ad_effect` (``None``
    when not done). ``note`` says which world this is; ``ad_note`` why the ad effect was not
    fitted ("" when it was, or was not asked for).
    """

    kind: WorldKind
    params: SimParams | None
    fit: pd.DataFrame | None
    ad_fit: pd.DataFrame | None
    note: str
    ad_note: str

    @property
    def holdout_leads(self) -> int:
        """Holdout leads the organic intent was fitted to (0 for the defaults)."""
        return 0 if self.fit is None else int(self.fit["n_leads"].sum())

    def sidecar(self) -> dict[str, object]:
        """JSON-safe extras for a report sidecar: ``sim_world, sim_calibration, sim_ad_effect``."""
        return {"sim_world": self.kind, "sim_calibration": _records(self.fit),
                "sim_ad_effect": _records(self.ad_fit)}


def simulated_world(
    sim_world: str,
    users: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    control: str = "holdout",
    horizon_days: int = 28,
    conversion_events: Sequence[str] = ("Purchase",),
    source: str = "",
    ad_policies: Mapping[str, RetargetingPolicy] | None = None,
    fit_ad_effect: bool = True,
    gaps: Sequence[int] = (),
) -> SimWorld:
    """The world of a simulator report: ``"default"`` (literature) or ``"calibrated"``.

    ``"calibrated"`` needs the test's ``users`` (``load_users`` frame) and ``events``: organic
    intent is fitted to the ``control`` (holdout) leads; with ``fit_ad_effect`` and
    ``ad_policies`` (the policy each treated arm ran, e.g.
    :func:`abtest.sim.power.gap_arm_policies`) the ad effect is then scaled to those arms. An
    empty ``ad_policies`` (no arm named like the simulated gap arms) keeps the literature lift and
    says so in ``ad_note`` (naming the simulated arms of ``gaps``). ``source`` names the data in
    ``note`` (e.g. the folder).
    """
    if sim_world not in ("calibrated", "default"):
        raise ValueError(f"sim_world must be 'calibrated' or 'default', got {sim_world!r}")
    if sim_world == "default":
        return SimWorld("default", None, None, None,
                        "Simulated world: literature default parameters", "")
    if users is None or events is None:
        raise ValueError("sim_world='calibrated' needs a test's leads and events (data_dir: an "
                         "experiment with a holdout arm)")
    params, fit = calibrated_params(users, events, holdout_arm=control,
                                    horizon_days=horizon_days,
                                    conversion_events=list(conversion_events))
    ad_fit, ad_note = None, ""
    if fit_ad_effect and ad_policies:
        params, ad_fit = calibrate_ad_effect(params, users, holdout_arm=control,
                                             policies=ad_policies, horizon_days=horizon_days)
    elif fit_ad_effect:
        names = ", ".join(gap_arm_name(g) for g in gaps) or "gap1d, gap3d, …"
        ad_note = (f"Ad effect not fitted: none of this test's arms is named like the simulated "
                   f"gap arms ({names}), so the literature lift is kept and the simulated "
                   "treated arms may understate what the ads do.")
    where = f" of {source}" if source else ""
    note = f"Simulated world calibrated to the {int(fit['n_leads'].sum()):,} holdout leads{where}"
    return SimWorld("calibrated", params, fit, ad_fit, note, ad_note)
