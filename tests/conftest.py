"""Shared test helpers: the optional ../shared data folder."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
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


def assert_build_gives_shipped_files(tool: str, name: str, out: Path, *arguments: object) -> Path:
    """Run ``tools/<tool>`` with ``arguments`` and ``--out out``; assert that ``<name>.json`` and
    ``<name>_features.csv`` it writes equal the committed ones byte for byte. Returns the shipped folder."""
    subprocess.run([sys.executable, str(REPO / "tools" / tool), *map(str, arguments), "--out", str(out)], check=True,
                   capture_output=True)
    shipped = REPO / "rooflinekit" / "calibrations"
    for file in (f"{name}.json", f"{name}_features.csv"):
        assert (out / file).read_bytes() == (shipped / file).read_bytes(), file
    return shipped


@pytest.fixture
def qutibench_dir() -> Path:
    return shared_data("qutibench")


@pytest.fixture
def mlperf_dir() -> Path:
    return shared_data("mlperf_tiny")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, list[str]]:
    """Exit status, stdout and the lines of stderr of ``rooflinekit argv``."""
    from rooflinekit.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def one_error(lines: list[str]) -> str:
    """The one ``rooflinekit: error:`` line of stderr (any other line is a ``warning:``)."""
    errors = [line for line in lines if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith("rooflinekit: error: "), lines
    return errors[0]


@pytest.fixture(scope="module")
def client():
    """A Dask client on a 2-worker LocalCluster of processes, one per test module (skipped without the extra)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def brute_front(points: np.ndarray) -> np.ndarray:
    """(N,) bool: the rows of ``points`` (N, M, all objectives minimized) that no other row dominates (at most as
    large everywhere and smaller somewhere), comparing every pair: the O(N^2) reference of the Pareto searches."""
    if not len(points):
        return np.zeros(0, dtype=bool)
    at_most = (points[None, :, :] <= points[:, None, :]).all(axis=2)  # [i, j]: row j <= row i everywhere
    better = (points[None, :, :] < points[:, None, :]).any(axis=2)  # [i, j]: row j < row i somewhere
    return ~(at_most & better).any(axis=1)


def loaded_after(code: str, cache: Path) -> tuple[set[str], str]:
    """The modules loaded after running ``code`` in a fresh interpreter (user cache folder ``cache``), and what it
    printed before the module list."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    *printed, modules = result.stdout.rstrip("\n").split("\n")
    return set(json.loads(modules)), "\n".join(printed)


class StopFit(Exception):
    """Raised by :class:`NoFit` instead of a refit: a test that needs only what happens before the fit."""


class NoFit:
    """A stand-in for ``CalibratedPredictor`` (monkeypatched where a calibration is refitted) whose fit raises
    :class:`StopFit`."""

    def __init__(self, **params: object) -> None:
        pass

    def fit(self, features: object) -> None:
        raise StopFit


def full_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of the command line with the quick path switched off (the full path)."""
    from rooflinekit import cli

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "_quick_predict", lambda words: None)
        code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err
