"""The ``abtest`` command line: help, plan, simulate, validate (run is in test_report_faults)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from scipy.stats import norm

from abtest.cli import build_parser, main


def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "demo", "plan", "simulate", "validate"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    sub = build_parser()._subparsers._group_actions[0].choices
    run_help = sub["run"].format_help()
    for option in ("--out", "--jobs", "--timeout", "--wall-timeout", "--no-preload", "--force",
                   "--quiet", "--max-output-mb"):
        assert option in run_help


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "abtest.cli", "run", "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "PLAN.yml" in proc.stdout


def test_plan_matches_the_two_proportion_formula(capsys):
    assert main(["plan", "--baseline", "0.04", "--mde", "0.1", "--daily-leads", "2000"]) == 0
    out = capsys.readouterr().out
    n = int(re.search(r"sample size: ([\d,]+) leads per arm", out).group(1).replace(",", ""))
    p1, p2 = 0.04, 0.044
    z = norm.ppf(0.975) + norm.ppf(0.8)
    expected = z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2  # unpooled normal approx.
    assert abs(n - expected) <= 1
    days = float(re.search(r"duration: ([\d.]+) days", out).group(1))
    assert days == pytest.approx(n / 1000, abs=1)


def test_validate_rejects_unknown_file(tmp_path, capsys):
    bad = tmp_path / "x.toml"
    bad.write_text("a = 1")
    assert main(["validate", str(bad)]) == 1
    assert "x.toml" in capsys.readouterr().err


@pytest.mark.slow
def test_simulate_then_validate(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "w"), "--small", "--seed", "5"]) == 0
    csv = next((tmp_path / "w").glob("*/ads_manager.csv"))
    capsys.readouterr()
    assert main(["validate", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "ads_manager" in out and re.search(r"read \d+ rows, kept \d+", out)


def test_demo_without_plan_exits_2(tmp_path, capsys):
    code = main(["demo", "--plan", str(tmp_path / "none.yml"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "100000", "-1"])
def test_run_refuses_unbounded_timeouts(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["run", "plan.yml", "--out", str(tmp_path / "o"), "--timeout", value])
    assert info.value.code == 2
    assert "--timeout: expected a" in capsys.readouterr().err


def test_run_into_a_foreign_folder_is_refused(tmp_path, capsys, write_plan):
    plan = write_plan(tmp_path / "p.yml", "- {name: a, notebook: '{nb}/ok.ipynb'}\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    assert main(["run", str(plan), "--out", str(mine)]) == 2
    assert "abtest did not write" in capsys.readouterr().err
    assert (mine / "thesis.docx").read_text() == "precious"


def test_run_plan_rejects_infinite_timeout_from_python(tmp_path, write_plan):
    from abtest.report import run_plan

    plan = write_plan(tmp_path / "p.yml", "- {name: a, notebook: '{nb}/ok.ipynb'}\n")
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        run_plan(plan, tmp_path / "o", timeout=float("inf"))
