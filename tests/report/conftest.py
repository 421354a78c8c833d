"""Shared fixtures for the batch-runner tests: test notebooks and plans under tests/report/."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
NOTEBOOKS = HERE / "notebooks"
PLANS = HERE / "plans"


@pytest.fixture
def notebooks_dir() -> Path:
    return NOTEBOOKS


@pytest.fixture
def plans_dir() -> Path:
    return PLANS


@pytest.fixture
def write_plan():
    """Write a plan whose notebook paths may use {nb} for the test-notebook folder."""

    def write(path: Path, text: str) -> Path:
        path.write_text(text.replace("{nb}", str(NOTEBOOKS)), encoding="utf-8")
        return path

    return write
