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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', timeout: .inf}]", "finite"),
        ("defaults: {timeout: .inf}\nreports: [{name: a, notebook: '{nb}/ok.ipynb'}]", "finite"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', timeout: 1.0e+400}]", "finite"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', timeout: 100000}]", "limit is 86400"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', max_output_mb: 0}]", "positive"),
        ("reports: [{name: a, notebook: '{nb}/ok.ipynb', max_output_mb: 5000}]", "limit is 1024"),
        ("reports: [{name: index, notebook: '{nb}/ok.ipynb'}]", "batch index page"),
        ("reports: [{name: ' Index! ', notebook: '{nb}/ok.ipynb'}]", "batch index page"),
        ("a: &a [*a]\nreports: [{name: a, notebook: '{nb}/ok.ipynb'}]", "refers to itself"),
    ],
)
def test_limits_and_reserved_names(tmp_path, write_plan, text, message):
    with pytest.raises(PlanError, match=message):
        load_plan(write_plan(tmp_path / "bad.yml", text))


def test_alias_bomb_is_refused_fast(tmp_path):
    """Nine levels of nine aliases: 9**9 values from ~430 bytes (the "billion laughs")."""
    import time

    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\nreports: *a8\n")
    assert path.stat().st_size < 500
    t0 = time.perf_counter()
    with pytest.raises(PlanError, match="alias bomb"):
        load_plan(path)
    assert time.perf_counter() - t0 < 1.0


def test_anchors_and_merge_keys_still_work(tmp_path, write_plan):
    path = write_plan(tmp_path / "p.yml", """
- {name: a, notebook: '{nb}/ok.ipynb', parameters: &common {n: 100, seed: 1}}
- {name: b, notebook: '{nb}/ok.ipynb', parameters: {<<: *common, label: x}}
""")
    reports = load_plan(path).reports
    assert reports[0].parameters == {"n": 100, "seed": 1}
    assert reports[1].parameters == {"n": 100, "seed": 1, "label": "x"}


def test_plan_size_is_bounded(tmp_path, write_plan):
    too_many = "\n".join(f"- {{name: r{i}, notebook: '{{nb}}/ok.ipynb'}}" for i in range(501))
    with pytest.raises(PlanError, match="at most 500"):
        load_plan(write_plan(tmp_path / "many.yml", too_many))
    big = tmp_path / "big.yml"
    big.write_text("# " + "x" * 1_100_000 + "\n- {name: a, notebook: ok.ipynb}\n")
    with pytest.raises(PlanError, match="larger than"):
        load_plan(big)
