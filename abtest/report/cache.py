"""Report cache: skip a report whose inputs are unchanged since its last successful run.

A report's key is the SHA-256 of everything that can change its output:

- the notebook file's bytes (code and default parameters; notebooks are kept without outputs);
- the report's name, title and plan parameters (JSON, sorted keys);
- the content of every file or folder named by a text parameter (``data_dir: ../data/demo/gap``
  is resolved against the notebook's folder, as the kernel sees it; folders are walked in sorted
  order, hidden entries and ``__pycache__`` skipped), so editing a data file re-runs exactly the
  reports whose parameters name it;
- abtest itself: its version and a hash of its installed source files (an edit to the library
  without a version bump still invalidates), plus the Python version.

Files a notebook opens without naming them in a parameter are not tracked; ``--force`` re-runs
everything. Entries live in the store (publish.py) under ``cache/<key>/`` and are written only
for successful reports, so an interrupted run keeps the reports it finished for the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["abtest_fingerprint", "cache_key", "input_paths", "link_entry", "lookup", "save_entry"]

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}
_MAX_PATH_TEXT = 4096


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def hash_path(path: Path) -> str:
    """Content hash of a file, or of a folder's files and their relative names."""
    if path.is_file():
        return _sha256_file(path)
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            full = Path(root) / name
            digest.update(full.relative_to(path).as_posix().encode() + b"\0")
            digest.update(_sha256_file(full).encode() + b"\n")
    return digest.hexdigest()


@cache
def abtest_fingerprint() -> str:
    """abtest's version and a hash of its package files (computed once per process)."""
    from abtest.report.sidecar import abtest_version

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{abtest_version()}|{sys.version}".encode())
    for file in sorted(package.rglob("*")):
        if file.is_file() and file.suffix in {".py", ".json", ".yml", ".css", ".html", ".tpl"}:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
    return f"{abtest_version()}+{digest.hexdigest()[:16]}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def input_paths(parameters: Mapping[str, Any], base_dir: Path) -> list[Path]:
    """Existing files and folders named by text parameters (relative to ``base_dir``)."""
    found: dict[Path, None] = {}
    for text in _strings(parameters):
        if not text.strip() or len(text) > _MAX_PATH_TEXT or "\n" in text or "\0" in text:
            continue
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base_dir / path
        with contextlib.suppress(OSError):
            if path.exists():
                found[path.resolve()] = None
    return list(found)


def cache_key(
    *, notebook: Path, name: str, title: str | None, parameters: Mapping[str, Any]
) -> tuple[str, list[dict[str, str]]]:
    """The report's cache key and the input files it covers (path and content hash)."""
    inputs = [
        {"path": str(p), "sha256": hash_path(p)}
        for p in input_paths(parameters, notebook.parent)
    ]
    doc = {
        "notebook": _sha256_file(notebook),
        "name": name,
        "title": title,
        "parameters": parameters,
        "inputs": inputs,
        "abtest": abtest_fingerprint(),
    }
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest(), inputs


def lookup(cache_dir: Path, key: str, stem: str) -> dict[str, Any] | None:
    """The cached final sidecar record for ``key``, or None (missing, damaged or not ok)."""
    entry = cache_dir / key
    try:
        record = json.loads((entry / f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") != "ok" or record.get("cache_key") != key:
        return None
    if not all((entry / str(record.get(k))).is_file() for k in ("html", "notebook")):
        return None
    return record


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # files are never modified in place, so sharing the inode is safe
    except OSError:
        shutil.copy2(src, dst)


def save_entry(cache_dir: Path, key: str, files: list[Path], token: str) -> None:
    """Store ``files`` (final outputs of a successful report) under ``cache/<key>/`` atomically."""
    entry = cache_dir / key
    if entry.exists():
        return
    tmp = cache_dir / f".tmp-{key}-{token}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file in files:
        _link_or_copy(file, tmp / file.name)
    try:
        os.rename(tmp, entry)
    except OSError:  # another entry won the race
        shutil.rmtree(tmp, ignore_errors=True)


def link_entry(cache_dir: Path, key: str, names: list[str], dest: Path) -> None:
    """Hard-link (or copy) a cache entry's files into the staging folder ``dest``."""
    for name in names:
        _link_or_copy(cache_dir / key / name, dest / name)


def prune(cache_dir: Path, keep: set[str]) -> None:
    """Remove cache entries (and temporary folders) not in ``keep``."""
    for child in cache_dir.iterdir():
        if child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
