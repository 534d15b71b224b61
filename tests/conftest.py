"""Shared test helpers: the optional ../shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def qutibench_dir() -> Path:
    folder = SHARED / "data" / "qutibench"
    if not folder.is_dir():
        pytest.skip("../shared/data/qutibench is absent")
    return folder
