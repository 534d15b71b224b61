"""Shared test helpers: the optional ../shared data folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

# tests never fail on timing: no per-example deadline
settings.register_profile("rooflinekit", deadline=None)
settings.load_profile("rooflinekit")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def benchmark_module(relative: str, name: str) -> ModuleType:
    """The benchmark script ``benchmarks/<relative>`` imported as module ``name``."""
    path = REPO / "benchmarks" / relative
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
