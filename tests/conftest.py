"""Shared test helpers: the optional ../shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# tests never fail on timing: no per-example deadline
settings.register_profile("rooflinekit", deadline=None)
settings.load_profile("rooflinekit")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_data(name: str) -> Path:
    """``../shared/data/<name>``, or skip the test when it is absent."""
    folder = SHARED / "data" / name
    if not folder.is_dir():
        pytest.skip(f"../shared/data/{name} is absent")
    return folder


@pytest.fixture
def qutibench_dir() -> Path:
    return shared_data("qutibench")


@pytest.fixture
def mlperf_dir() -> Path:
    return shared_data("mlperf_tiny")
