from __future__ import annotations

import pytest

from abtest.report.plan import PlanError, load_plan, sanitize_name


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("offer_test", "offer_test"),
        ("Offer test: EU / Spark", "offer-test-eu-spark"),
        ("../../etc/passwd", "etc-passwd"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("Café Été", "cafe-ete"),
        ("..hidden", "hidden"),
        ("a" * 200, "a" * 80),
    ],
)
def test_sanitize_name_is_a_safe_stem(name, stem):
    out = sanitize_name(name)
    assert out == stem
    assert "/" not in out and "." not in out and "<" not in out


@pytest.mark.parametrize("name", ["", "...", "<>", "日本"])
def test_sanitize_name_rejects_empty(name):
    with pytest.raises(ValueError, match="file name"):
        sanitize_name(name)


def test_load_fault_plan(plans_dir):
    plan = load_plan(plans_dir / "faults.yml")
    assert [r.stem for r in plan.reports] == [
        "ok-one", "raises", "hangs", "dies", "b-xss-b-script-alert-1-script", "ok-two"
    ]
    assert plan.reports[0].parameters == {"n": 300, "label": "first"}
    assert plan.reports[2].timeout == 3.0 and plan.reports[0].timeout == 60.0
    assert all(r.notebook.is_absolute() and r.notebook.exists() for r in plan.reports)


def test_bare_list_defaults_and_dates(tmp_path, write_plan):
    plan = load_plan(write_plan(tmp_path / "p.yml", """
- name: a
  notebook: {nb}/ok.ipynb
  parameters: {start: 2024-05-01, arms: [a, b], opts: {x: 1}}
"""))
    assert plan.reports[0].parameters == {"start": "2024-05-01", "arms": ["a", "b"], "opts": {"x": 1}}
    assert plan.title is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "non-empty list"),
        ("reports: [{notebook: '{nb}/ok.ipynb'}]", "'name' is missing"),
        ("reports: [{name: a}]", "'notebook'"),
        ("reports: [{name: a, notebook: missing.ipynb}]", "not found"),
        ("reports: [{name: a, notebook: '{nb}/../conftest.py'}]", "not an .ipynb"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', colour: red}]", "unknown keys"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', parameters: [1]}]", "mapping"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', parameters: {run_id: x}}]", "set by the runner"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', parameters: {1x: 2}}]", "identifier"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', parameters: {x: .nan}}]", "finite"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', timeout: -1}]", "positive"),
        ("reports: [{name: A b, notebook: '{nb}/ok.ipynb'}, {name: a-b, notebook: '{nb}/ok.ipynb'}]",
         "already used"),
        ("reports: [{name: '<>', notebook: '{nb}/ok.ipynb'}]", "no letters"),
        ("wat: 1\nreports: []", "unknown top-level"),
        ("reports: [a: b: c", "not valid YAML"),
    ],
)
def test_bad_plans_raise_clear_errors(tmp_path, write_plan, text, message):
    path = write_plan(tmp_path / "bad.yml", text)
    with pytest.raises(PlanError, match=message) as info:
        load_plan(path)
    assert "bad.yml" in str(info.value)


def test_missing_plan_file(tmp_path):
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "nope.yml")
