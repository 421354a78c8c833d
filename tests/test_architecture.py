"""Gates that keep the shape of the package: import direction, module size, docs that match.

The layers and what each may import are in docs/architecture.md. Imports inside functions count
too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "abtest"

#: layer -> the abtest layers it may import (itself always allowed).
ALLOWED = {
    "stats": set(),
    "errors": set(),
    "schema": set(),
    "metrics": {"schema"},
    "io": {"schema", "errors"},
    "display": {"metrics"},
}
MAX_LINES = 600
MAX_TOP_LEVEL = 14


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Top-level abtest layers a module imports (absolute imports; relative ones stay inside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                     if node.module == "abtest" else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "abtest" and len(parts) > 1:
                out.add(parts[1])
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_import_direction(layer: str) -> None:
    bad = []
    for path in _modules():
        if _layer(path) != layer:
            continue
        extra = _imports(path) - ALLOWED[layer] - {layer}
        if extra:
            bad.append(f"{path.relative_to(ROOT)} imports abtest.{', abtest.'.join(sorted(extra))}")
    assert not bad, f"{layer} may import only {sorted(ALLOWED[layer]) or 'nothing of ours'}:\n" + \
        "\n".join(bad)


def test_module_sizes_and_top_level() -> None:
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    top = sorted(p.name for p in PACKAGE.iterdir()
                 if p.name != "__pycache__" and (p.suffix == ".py" or (p / "__init__.py").exists()))
    assert len(top) <= MAX_TOP_LEVEL, f"{len(top)} top-level modules/packages: {top}"


def test_architecture_doc_lists_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(ROOT)) for p in _modules()
               if p.name != "__init__.py" and f"`{p.relative_to(ROOT)}`" not in doc
               and f"`{p.relative_to(PACKAGE)}`" not in doc]
    assert not missing, f"docs/architecture.md does not list: {missing}"


@pytest.mark.parametrize("package", ["abtest.stats", "abtest.display"])
def test_doctests(package: str) -> None:
    pkg = importlib.import_module(package)
    failed = tried = 0
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        if path.name == "plots.py":  # matplotlib figures: covered by tests/display/test_plots.py
            continue
        mod = importlib.import_module(f"{package}.{path.stem}" if path.stem != "__init__"
                                      else package)
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failed, tried = failed + res.failed, tried + res.attempted
    assert failed == 0
    assert tried > 0, f"{package} has no doctest examples"


def test_py_typed_shipped() -> None:
    assert (PACKAGE / "py.typed").is_file()


def test_data_readme_matches_manifest() -> None:
    manifest = json.loads((ROOT / "data" / "demo" / "manifest.json").read_text(encoding="utf-8"))
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for exp in manifest["experiments"]:
        row = re.search(rf"^\| `{exp['name']}/` \|(.*)$", readme, flags=re.M)
        assert row, f"data/README.md has no row for {exp['name']}"
        cells = [c.strip() for c in row.group(1).split("|")]
        assert cells[1] == f"{exp['leads_per_arm']:,}", (exp["name"], cells[1])
        assert cells[2] == f"{exp['horizon_days']} d" and cells[3] == exp["start_date"]
        for arm in exp["arms"]:
            assert f"`{arm}`" in cells[0]
