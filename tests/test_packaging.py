"""Packaging promises: environment.yml mirrors pyproject.toml, notebooks are committed without outputs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells a few packages differently from PyPI.
CONDA_NAME = {"duckdb": "python-duckdb", "ibis-framework": "ibis-framework-core"}
CONDA_ONLY = {"python", "pip", "openjdk", "ibis-duckdb"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        names |= {_name(r) for r in extra}
    return names


def _environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip == [["-e ."]], "environment.yml must end with `pip: [-e .]`"
    return conda


def test_environment_yml_lists_every_pyproject_dependency() -> None:
    conda = _environment_names()
    missing = sorted(n for n in _pyproject_names() if CONDA_NAME.get(n, n) not in conda)
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"


def test_environment_yml_has_nothing_pyproject_lacks() -> None:
    expected = {CONDA_NAME.get(n, n) for n in _pyproject_names()} | CONDA_ONLY
    extra = sorted(_environment_names() - expected)
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"


def test_notebooks_are_committed_without_outputs() -> None:
    notebooks = sorted(ROOT.glob("notebooks/**/*.ipynb")) + sorted(ROOT.glob("tests/**/*.ipynb"))
    dirty = []
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(str(path.relative_to(ROOT)))
                break
    assert not dirty, f"strip outputs before committing: {dirty}"


def test_public_loader_names_import() -> None:
    import abtest
    from abtest.io import DataError, read_ads_manager, read_events, read_marketing_api

    assert issubclass(DataError, ValueError)
    assert callable(read_ads_manager) and callable(read_marketing_api) and callable(read_events)
    assert abtest.__version__
