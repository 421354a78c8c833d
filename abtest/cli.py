"""``abtest`` command line: run report plans, plan a test, simulate data, validate files.

    abtest run PLAN.yml --out DIR [--jobs N] [--timeout S] [--wall-timeout S] [--no-preload]
               [--force] [--quiet] [--max-output-mb MB]
    abtest demo [--out reports/demo] [--jobs N] [--force] [--quiet]
    abtest plan --baseline 0.04 --mde 0.1 [--absolute] [--alpha 0.05] [--power 0.8] ...
    abtest simulate --out DIR [--seed N] [--small]
    abtest validate FILE

Heavy modules are imported inside each command, so ``abtest --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

DEMO_PLAN = Path("notebooks/plans/demo.yml")
DEMO_OUT = Path("reports/demo")
DEMO_DATA = Path("data/demo")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _seconds(text: str) -> float:
    """A positive, finite number of seconds up to one day (``inf`` is refused, not crashed on)."""
    value = _positive_float(text)
    if not value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds up to 86400, got {text}")
    return value


def _megabytes(text: str) -> float:
    value = _positive_float(text)
    if not value <= 1024:
        raise argparse.ArgumentTypeError(f"expected a finite size in MB up to 1024, got {text}")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", "-j", type=_positive_int, default=None,
                   help="parallel notebooks (default: number of CPU cores)")
    p.add_argument("--timeout", type=_seconds, default=600.0,
                   help="per-cell time limit in seconds (default: 600)")
    p.add_argument("--wall-timeout", type=_seconds, default=None,
                   help="limit for a whole notebook in seconds (default: 3 x timeout + 60)")
    p.add_argument("--max-output-mb", type=_megabytes, default=50.0,
                   help="fail a report whose executed notebook is larger (default: 50 MB)")
    p.add_argument("--force", action="store_true",
                   help="re-run every report, even those whose notebook, parameters, input "
                   "files and abtest version are unchanged since their last successful run")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress output (for scheduled runs): only failures, on stderr")
    p.add_argument("--no-preload", action="store_true",
                   help="start every kernel from scratch instead of forking it from a worker "
                   "process that has numpy/pandas/scipy/seaborn imported already")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for ``abtest`` (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="abtest",
        description="Experimentation workbench for TikTok retargeting split tests.",
        epilog="Run 'abtest COMMAND --help' for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="execute a YAML plan of notebooks into HTML reports + index.html",
        description="Execute every report of PLAN in parallel with papermill, export HTML without "
        "code, write a JSON sidecar per report and DIR/index.html. The run is built aside and "
        "published in one step (DIR becomes a link to the new run); reports whose inputs are "
        "unchanged are reused. Exit status 1 if any report failed (raised, timed out or its "
        "kernel died); 2 for a bad plan or output folder; 75 if another run holds DIR; "
        "130/143 when interrupted (the previous run stays in place).",
    )
    run.add_argument("plan", type=Path, metavar="PLAN.yml", help="plan file: list of {name, notebook, parameters}")
    run.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="output folder")
    _add_run_options(run)

    demo = sub.add_parser(
        "demo", help="build the demo data if missing and run the demo plan",
        description=f"Build the embedded demo data if it is missing, run {DEMO_PLAN} and print "
        "the path of the resulting index.html.",
    )
    demo.add_argument("--plan", type=Path, default=DEMO_PLAN, help=f"plan to run (default: {DEMO_PLAN})")
    demo.add_argument("--out", "-o", type=Path, default=DEMO_OUT, help=f"output folder (default: {DEMO_OUT})")
    _add_run_options(demo)

    plan = sub.add_parser(
        "plan", help="sample size, MDE and duration for a planned split test",
        description="Sample size per arm for a conversion-rate test, and the duration at a given "
        "daily traffic (abtest.stats.planning).",
    )
    plan.add_argument("--baseline", type=float, required=True, help="control conversion rate, e.g. 0.04")
    plan.add_argument("--mde", type=float, required=True,
                      help="minimum detectable effect as a relative lift (0.1 = +10%%), or an "
                      "absolute difference in rate with --absolute")
    plan.add_argument("--absolute", action="store_true", help="read --mde as an absolute difference")
    plan.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    plan.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    plan.add_argument("--arms", type=_positive_int, default=2, help="number of arms incl. control (default 2)")
    plan.add_argument("--daily-leads", type=_positive_float, default=None,
                      help="leads entering the test per day (all arms) to compute a duration")
    plan.add_argument("--audience", type=_positive_int, default=None,
                      help="leads in a holdout test: print the precision of the cost per "
                      "incremental conversion by holdout share (--mde = lift on the reached)")
    plan.add_argument("--reached-share", type=float, default=1.0,
                      help="share of retargeted leads the ads reach (default 1)")
    plan.add_argument("--holdout-shares", default="0.05,0.1,0.2,0.3",
                      help="holdout shares to compare (default 0.05,0.1,0.2,0.3)")
    plan.add_argument("--target-precision", type=_positive_float, default=None,
                      help="relative precision wanted for the cost per incremental, e.g. 0.3")

    sim = sub.add_parser(
        "simulate", help="write a simulated world (exports, events, assignments, truth)",
        description="Simulate a retargeting experiment and write it in the real TikTok file formats.",
    )
    sim.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="output folder")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default: the demo seed)")
    sim.add_argument("--small", action="store_true", help="a small world (fast; for tests)")

    val = sub.add_parser(
        "validate", help="load a data file and print what was read and set aside",
        description="Detect the kind of FILE (Ads Manager CSV/XLSX, Marketing API JSON, events "
        "NDJSON, assignments), load it and report rows read, kept and set aside with reasons.",
    )
    val.add_argument("file", type=Path, metavar="FILE")
    return parser


def _cmd_run(plan: Path, out: Path, args: argparse.Namespace) -> int:
    import signal

    from abtest.report.publish import RunInterrupted

    def early(signum: int, frame: object) -> None:  # until run_plan installs its own handler
        raise RunInterrupted(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, early)
    try:
        return _run(plan, out, args)
    except RunInterrupted as exc:
        name = signal.Signals(exc.signum).name
        print(f"abtest: {exc.message or f'interrupted by {name}; nothing was changed in {out}'}",
              file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C before the runner started
        print(f"abtest: interrupted by SIGINT; nothing was changed in {out}", file=sys.stderr)
        return 130


def _run(plan: Path, out: Path, args: argparse.Namespace) -> int:
    from abtest.report.plan import PlanError
    from abtest.report.runner import RunLocked, StoreError, run_plan

    try:
        result = run_plan(plan, out, jobs=args.jobs, timeout=args.timeout,
                          wall_timeout=args.wall_timeout, preload=not args.no_preload,
                          force=args.force, max_output_mb=args.max_output_mb,
                          progress=(lambda line: None) if args.quiet else None,
                          live=False if args.quiet else None)
    except RunLocked as exc:
        print(f"abtest: error: {exc}", file=sys.stderr)
        return 75
    except (PlanError, StoreError) as exc:
        print(f"abtest: error: {exc}", file=sys.stderr)
        return 2
    for rec in result.failed:
        print(f"  failed: {rec['report']}: {rec['error']}", file=sys.stderr)
    if not args.quiet:
        print(result.index_path)
    return result.exit_code


def _cmd_demo(args: argparse.Namespace) -> int:
    if not args.plan.exists():
        print(f"abtest: error: demo plan {args.plan} not found (run from the repository root)",
              file=sys.stderr)
        return 2
    if not (DEMO_DATA / "manifest.json").exists():
        from abtest.sim.demo import build_demo_data

        print(f"abtest: building the demo data in {DEMO_DATA} ...", flush=True)
        build_demo_data(DEMO_DATA)
    return _cmd_run(args.plan, args.out, args)


def _cmd_plan(args: argparse.Namespace) -> int:
    from abtest.stats import planning

    relative = not args.absolute
    n = int(planning.sample_size(args.baseline, args.mde, relative=relative, alpha=args.alpha,
                                 power=args.power, n_arms=args.arms))
    effect = f"{args.mde:+.1%} relative" if relative else f"{args.mde:+.4g} absolute"
    print(f"baseline {args.baseline:.4g}, detect {effect}, alpha {args.alpha:g}, power {args.power:g}, "
          f"{args.arms} arms")
    print(f"sample size: {n:,} leads per arm, {n * args.arms:,} in total")
    if args.daily_leads:
        days = float(planning.test_duration_days(n, args.daily_leads / args.arms))
        print(f"duration: {days:.1f} days at {args.daily_leads:,.0f} leads per day")
    if args.audience:
        _print_holdout_plan(args)
    return 0


def _print_holdout_plan(args: argparse.Namespace) -> None:
    import math

    from abtest.stats import planning

    try:
        shares = [float(x) for x in args.holdout_shares.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"abtest: error: --holdout-shares must be numbers, got "
                         f"{args.holdout_shares!r}") from None
    lift = args.mde if not args.absolute else args.mde / args.baseline
    kw = {"reached_share": args.reached_share, "alpha": args.alpha}
    print(f"holdout test on {args.audience:,} leads, {args.reached_share:.0%} reached, "
          f"lift {lift:+.0%} on the reached: cost per incremental conversion")
    for h in shares:
        r = planning.holdout_precision(args.audience, args.baseline, lift, h, **kw)
        high = "no upper bound" if not math.isfinite(float(r.cpi_high)) else f"{float(r.cpi_high):+.0%}"
        print(f"  {h:.0%} holdout ({float(r.holdout_leads):,.0f} leads): "
              f"±{float(r.cpi_precision):.0%} (Fieller {float(r.cpi_low):+.0%} / {high})")
    if args.target_precision:
        h = planning.holdout_for_precision(args.target_precision, args.audience, args.baseline,
                                           lift, **kw)
        if math.isnan(h):
            print(f"no holdout reaches ±{args.target_precision:.0%} with this audience")
        else:
            print(f"holdout for ±{args.target_precision:.0%}: {h:.1%} of the audience")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from abtest.sim.demo import build_demo_data

    kwargs = {} if args.seed is None else {"seed": args.seed}
    worlds = build_demo_data(args.out, small=args.small, **kwargs)
    for name, files in worlds.items():
        print(f"{name}: {getattr(files, 'out_dir', args.out / name)}")
    print(args.out / "manifest.json")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from abtest.io.detect import read_any
    from abtest.io.errors import DataError

    try:
        frame, report, kind = read_any(args.file)
    except DataError as exc:
        print(f"abtest: invalid file: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: {kind}")
    print(report)
    print(f"{len(frame)} rows x {frame.shape[1]} columns kept")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abtest`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {
        "run": lambda: _cmd_run(args.plan, args.out, args),
        "demo": lambda: _cmd_demo(args),
        "plan": lambda: _cmd_plan(args),
        "simulate": lambda: _cmd_simulate(args),
        "validate": lambda: _cmd_validate(args),
    }
    try:
        code = handlers[args.command]()
        if argv is None and args.command in ("run", "demo"):
            # From the command line, end without the interpreter's exit-time joins: the run has
            # stopped its workers, kernels and zygote and released its lock already, and
            # CPython 3.11's ProcessPoolExecutor can block forever at exit after a worker was
            # killed. A scheduled run must never hang.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except KeyboardInterrupt:
        print("abtest: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("abtest"):
            raise
        # a command whose abtest module is missing from this install (lazy imports)
        print(f"abtest {args.command}: not available: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
