"""The deterministic demo world shipped in ``data/demo`` (and the command that rebuilds it).

Four small retargeting split tests on warm / cold / lapsed leads, each simulated with
:func:`~abtest.sim.experiment.simulate_experiment` and written by
:func:`~abtest.sim.world.write_world` in the real TikTok formats with their ground truth:

* ``gap``    — retargeting gap: ``holdout`` (no ads, control), ``gap1d``, ``gap3d``, ``gap7d``;
* ``offer``  — ``nooffer`` (control), ``10off`` (10% discount), ``freeship`` (free shipping);
* ``cta``    — ``shopnow`` (control), ``learnmore``;
* ``format`` — ``infeed`` (non-Spark in-feed, control), ``spark`` (Spark Ads), ``collection``.

Arm effects are set through :class:`~abtest.sim.policy.ArmSpec` multipliers (values below, with
the reasoning in each comment); everything else is the sourced defaults of ``SimParams``.
Regenerate with ``python -m abtest.sim.demo`` (byte-identical on every run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from abtest.sim.params import SEGMENTS, SimParams, default_params
from abtest.sim.policy import ArmSpec, RetargetingPolicy, holdout
from abtest.sim.world import WorldFiles, write_world

__all__ = ["DEMO_SEED", "DemoExperiment", "build_demo_data", "demo_experiments", "demo_params", "main"]

DEMO_SEED = 1  # a representative world: the demo shows a winner, a null and a "keep testing"
_MIX = {"warm": 0.4, "cold": 0.4, "lapsed": 0.2}


@dataclass(frozen=True)
class DemoExperiment:
    """One demo split test: arms, size, timing and how its ads are named and formatted."""

    name: str
    description: str
    arms: tuple[ArmSpec, ...]
    leads_per_arm: int
    horizon_days: int
    start_date: str
    ad_formats: Mapping[str, str] = field(default_factory=dict)
    naming: str = "RT_{segment}_{arm}"
    segments_mix: Mapping[str, float] = field(default_factory=lambda: dict(_MIX))


def _policy(name: str, gap: int = 1) -> RetargetingPolicy:
    # 3 impressions per lead-week for 4 weeks: a typical implied frequency for conversion campaigns
    return RetargetingPolicy(name=name, gap_days=gap, active_window_days=28, weekly_frequency=3.0)


def demo_params() -> SimParams:
    """The demo world's parameters: the sourced defaults with 3x the organic intent and 3x the ad
    effect in every segment.

    A demo has a few thousand leads per arm, not the hundreds of thousands a real retargeting test
    needs (simulation-models.md §6), so at the literature defaults (about 2% conversion, ad lift
    10-17%) every demo report would say "no detectable difference". A warm, high-intent pool with a
    strong ad response keeps the demo small *and* shows each kind of verdict; the ground truth in
    ``truth.csv`` is computed from these same parameters.
    """
    base = default_params()
    return replace(base, **{
        s: replace(seg, h0=seg.h0 * 3, h_floor=seg.h_floor * 3,
                   lift_multiplicative=seg.lift_multiplicative * 3,
                   lift_additive=seg.lift_additive * 9)
        for s in SEGMENTS for seg in [base.segment(s)]
    })


def demo_experiments(*, small: bool = False) -> list[DemoExperiment]:
    """The demo world definition (``small``: a tenth of the leads, for fast tests)."""
    k = 10 if small else 1
    return [
        DemoExperiment(
            name="gap",
            description="Retargeting gap: how long to wait after a lead's visit before the "
                        "first ad (holdout = never retargeted).",
            arms=(ArmSpec("holdout", holdout()), ArmSpec("gap1d", _policy("gap1d", 1)),
                  ArmSpec("gap3d", _policy("gap3d", 3)), ArmSpec("gap7d", _policy("gap7d", 7))),
            leads_per_arm=2500 // k, horizon_days=35, start_date="2026-09-01",
        ),
        DemoExperiment(
            name="offer",
            description="Offer in the retargeting ad: none, 10% off, free shipping (all gap 1 day).",
            arms=(
                ArmSpec("nooffer", _policy("nooffer")),
                # a discount converts more of the leads it reaches but lowers the paid value
                ArmSpec("10off", _policy("10off"), ctr_multiplier=1.15, lift_multiplier=2.2,
                        order_value_multiplier=0.9),
                # free shipping: a smaller conversion push, paid for out of margin
                ArmSpec("freeship", _policy("freeship"), ctr_multiplier=1.1,
                        lift_multiplier=1.6, margin_cost_share=0.08),
            ),
            leads_per_arm=2500 // k, horizon_days=28, start_date="2026-10-05",
        ),
        DemoExperiment(
            name="cta",
            description="Call to action: 'Shop now' vs 'Learn more' (gap 1 day).",
            arms=(
                ArmSpec("shopnow", _policy("shopnow")),
                # softer CTA: more clicks, slightly weaker purchase push, fewer hides
                ArmSpec("learnmore", _policy("learnmore"), ctr_multiplier=1.25,
                        lift_multiplier=0.85, hide_multiplier=0.7),
            ),
            leads_per_arm=2000 // k, horizon_days=28, start_date="2026-10-19",
        ),
        DemoExperiment(
            name="format",
            description="Ad format: non-Spark in-feed vs Spark Ads vs Collection (gap 1 day).",
            arms=(
                ArmSpec("infeed", _policy("infeed")),
                # organic-looking Spark posts: higher CTR and effect, slightly dearer
                ArmSpec("spark", _policy("spark"), ctr_multiplier=1.35, lift_multiplier=1.6,
                        cpm_multiplier=1.1),
                # Collection: shoppable page, bigger baskets, pricier inventory
                ArmSpec("collection", _policy("collection"), ctr_multiplier=1.15,
                        lift_multiplier=1.2, order_value_multiplier=1.15, cpm_multiplier=1.2),
            ),
            ad_formats={"infeed": "in_feed", "spark": "spark", "collection": "collection"},
            leads_per_arm=2000 // k, horizon_days=28, start_date="2026-11-02",
        ),
    ]


def build_demo_data(
    out_dir: str | Path = "data/demo",
    *,
    seed: int = DEMO_SEED,
    small: bool = False,
    params: SimParams | None = None,
    experiments: Sequence[DemoExperiment] | None = None,
) -> dict[str, WorldFiles]:
    """Simulate every demo experiment and write it to ``out_dir/<experiment>/``.

    Also writes ``out_dir/manifest.json`` (experiments, arms, seed, files with sizes and SHA-256).
    Deterministic: the same arguments give byte-identical files.
    """
    from abtest.sim.experiment import simulate_experiment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, WorldFiles] = {}
    manifest: dict[str, object] = {"seed": seed, "small": small,
                                   "regenerate": "python -m abtest.sim.demo", "experiments": []}
    for i, exp in enumerate(experiments or demo_experiments(small=small)):
        panel = simulate_experiment(exp.arms, leads_per_arm=exp.leads_per_arm,
                                    segments_mix=exp.segments_mix, horizon_days=exp.horizon_days,
                                    params=params or demo_params(), seed=seed + 1000 * i,
                                    start_date=exp.start_date,
                                    engine="numpy")  # committed data: same bytes with or without numba
        files = write_world(panel, out / exp.name, experiment=f"{exp.name}_test",
                            naming=exp.naming, ad_formats=exp.ad_formats,
                            api_page_size=250)
        written[exp.name] = files
        manifest["experiments"].append({  # type: ignore[union-attr]
            "name": exp.name, "description": exp.description,
            "arms": [a.name for a in exp.arms], "control": exp.arms[0].name,
            "leads_per_arm": exp.leads_per_arm, "horizon_days": exp.horizon_days,
            "start_date": exp.start_date, "seed": seed + 1000 * i,
            "files": {p.name: {"bytes": p.stat().st_size,
                               "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                      for p in files.files},
        })
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m abtest.sim.demo [--out data/demo] [--seed N] [--small]``."""
    parser = argparse.ArgumentParser(prog="python -m abtest.sim.demo",
                                     description="Rebuild the deterministic demo world.")
    parser.add_argument("--out", default="data/demo", help="output directory (default data/demo)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--small", action="store_true", help="a tenth of the leads (tests)")
    args = parser.parse_args(argv)
    written = build_demo_data(args.out, seed=args.seed, small=args.small)
    total = sum(p.stat().st_size for w in written.values() for p in w.files)
    print(f"wrote {len(written)} experiments to {args.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
