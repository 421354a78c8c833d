"""Shape of the io layer (issue #9): what it may import, one header table, one hash helper."""

from __future__ import annotations

import ast
from pathlib import Path

import abtest
import abtest.io
from abtest.io import aliases

IO = Path(abtest.io.__file__).parent
ALLOWED = ("abtest.schema", "abtest.errors", "abtest.io")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module.startswith("abtest.io.") and node.module.split(".")[2] != "_text":
                # no private names imported across format modules
                names += [f"{node.module}:{a.name}" for a in node.names if a.name.startswith("_")]
    return names


def test_io_imports_only_schema_errors_and_itself() -> None:
    for path in sorted(IO.glob("*.py")):
        for name in _imports(path):
            if name.startswith("abtest"):
                assert ":" not in name, f"{path.name} imports a private name: {name}"
                assert name == "abtest" or name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_old_error_paths_still_import() -> None:
    from abtest.errors import DataError
    from abtest.io import DataError as IoDataError
    from abtest.io.errors import DataError as OldDataError

    assert DataError is IoDataError is OldDataError


def test_every_written_label_reads_back_as_its_column() -> None:
    for canon in aliases.ALIASES:
        assert aliases.canonical_name(aliases.ui_label(canon)) == canon
        assert aliases.canonical_name(aliases.api_name(canon)) == canon
    for canon in aliases.RATES:
        assert aliases.canonical_name(aliases.ui_label(canon) if len(aliases.RATES[canon]) > 1
                                      else aliases.api_name(canon)) is None
        _, rates, unknown, _ = aliases.resolve_headers([aliases.api_name(canon)])
        assert rates and not unknown


def test_world_writer_is_simulation_only() -> None:
    world = Path(abtest.__file__).parent / "sim" / "world.py"
    text = world.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 600
    assert "hashlib" not in text and "to_csv(path, index=False, encoding" not in text
