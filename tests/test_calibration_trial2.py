"""A calibration user's second trial: spellings of one software release, every record left out of a calibration
listed, and the bound of a calibrated GPU prediction below its regime's batch."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from conftest import shared_data
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import (
    CalibratedPredictor, CalibrationWarning, calibrate_from_paths, default_calibration, predict_with_calibration,
)
from rooflinekit.compare.calibrate.regime import predict_in_regime
from rooflinekit.compare.calibrate.releases import release_key, release_versions
from rooflinekit.importers import load_model

TABLE = {"columns": {"board": "hardware", "model": "network", "stack": "framework", "ms": "latency_s"},
         "units": {"latency_s": "ms"}}
# 8 records: 4 usable (two spellings each of X-CUBE-AI 8.1.0), then 4 left out: an unknown board (line 6), an unknown
# network (line 7), no latency (line 8) and an exact duplicate of line 2 (line 9)
ROWS = ["NUCLEO-L4R5ZI,ad01_int8,X-CUBE-AI 8.1.0,1.5", "NUCLEO-L4R5ZI,vww_96_int8,X-CUBE-AI 8.1.0,120",
        "NUCLEO-H7A3ZI-Q,ad01_int8,X-CUBE-AI 8.1,0.9", "NUCLEO-H7A3ZI-Q,vww_96_int8,X-CUBE-AI v8.1,60",
        "NoSuchBoard-9,ad01_int8,X-CUBE-AI 8.1.0,1.0", "NUCLEO-L4R5ZI,no_such_net,X-CUBE-AI 8.1.0,2.0",
        "NUCLEO-L4R5ZI,ad01_int8,X-CUBE-AI 8.1.0,", "NUCLEO-L4R5ZI,ad01_int8,X-CUBE-AI 8.1.0,1.5"]
LEFT_OUT_LINES = [6, 7, 8, 9]


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("ad01_int8.tflite", "vww_96_int8.tflite"):
        shutil.copy(shared_data("mlperf_tiny") / "models" / name, folder / name)
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs.csv"
    path.write_text("board,model,stack,ms\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    return path


def _line(source: str) -> int:
    return int(str(source).rsplit(":", 1)[1])


# -- one release, several spellings -----------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "key"), [
    ("8.1.0", "8.1"), ("8.1", "8.1"), ("v8.1", "8.1"), (" V8.1.0 ", "8.1"), ("8.0.0", "8"), ("0.0", "0"),
    ("8.10", "8.10"), ("2023.05", "2023.05"), ("8.1.0-rc1", "8.1.0-rc1"), ("commit a30942eb", "commit a30942eb"),
])
def test_release_key_drops_a_v_and_trailing_zero_components_only(written: str, key: str) -> None:
    assert release_key(written) == key


def test_spellings_of_one_release_are_keyed_by_the_most_common_then_the_longer() -> None:
    features = pd.DataFrame({"framework": ["S", "S", "S", "S", "T", "T", "S"],
                             "framework_version": ["2.0", "2.0", "v2.0.0", "2", "8.1", "8.1.0", "2.1"]})
    # S: 2.0 written twice, 2.0.0 and 2 once each -> 2.0; T: 8.1 and 8.1.0 once each -> the longer; 2.1 is another
    assert release_versions(features).tolist() == ["2.0", "2.0", "2.0", "2.0", "8.1.0", "8.1.0", "2.1"]


def _records(spellings: list[str]) -> pd.DataFrame:
    """Records of stack S on two boards: three of release 1.0 at 4x the roofline, then one per ``spellings`` of
    release 2.0 at 2x, with 5 % noise."""
    rng = np.random.default_rng(7)
    rows = []
    for index, (version, factor) in enumerate([("1.0", 4.0)] * 3 + [(s, 2.0) for s in spellings]):
        conv = 1e-3 * (1 + index)
        rows.append({"hardware": f"B{index % 2}", "catalog_hardware": f"B{index % 2}", "hardware_class": "MCU",
                     "core_family": "Cortex-M4", "framework": "S", "framework_version": version, "network": f"n{index}",
                     "roofline_s:conv/int8": conv,
                     "latency_s": factor * conv * float(np.exp(rng.normal(0, 0.05)))})
    return pd.DataFrame(rows)


def test_a_fit_on_mixed_spellings_of_a_release_is_the_fit_on_one_spelling() -> None:
    # 2.0 written twice, 2.0.0 and 2 once each: the key is 2.0
    mixed = CalibratedPredictor(interval_coverage=None).fit(_records(["2.0", "v2.0.0", "2.0", "2"]))
    uniform = CalibratedPredictor(interval_coverage=None).fit(_records(["2.0"] * 4))
    assert sorted(mixed.coef_["framework_version"]) == ["S | 1.0", "S | 2.0"]
    assert mixed.newest_releases_ == {"S": "2.0"}
    query = _records(["2.0.0"]).iloc[[3]]
    assert mixed.predict(query)[0] == pytest.approx(uniform.predict(query)[0], rel=1e-12)


def test_a_query_spelling_a_calibrated_release_otherwise_uses_it_without_falling_back(models: Path) -> None:
    """The shipped MCU calibration knows X-CUBE-AI 8.0.0 and 8.1.0 (newest): '8.0' is 8.0.0, not an unseen release
    falling back to 8.1.0."""
    network = load_model(models / "vww_96_int8.tflite")
    calibration = default_calibration()
    written = predict_with_calibration(network, "NUCLEO-H7A3ZI-Q", calibration, "X-CUBE-AI 8.0.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # no level falls back
        short = predict_with_calibration(network, "NUCLEO-H7A3ZI-Q", calibration, "X-CUBE-AI v8.0")
    assert short.latency_s == pytest.approx(written.latency_s, rel=1e-12)
    assert short.latency_interval_s == pytest.approx(written.latency_interval_s, rel=1e-12)
    assert short.depth == written.depth == 0
    assert "framework_version: X-CUBE-AI | 8.0.0 (given as 8.0: the same release)" in short.calibration_levels
    assert "system: NUCLEO-H7A3ZI-Q | X-CUBE-AI | 8.0.0" in short.calibration_levels
    assert short.framework_version == "8.0"  # as the query wrote it


def test_records_spelling_one_release_three_ways_calibrate_one_release(models: Path, runs: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fitted = calibrate_from_paths([runs], [models], **TABLE)
    # 8.1.0 written on two used records, 8.1 (one of them as v8.1) on two: a tie, keyed by the longer
    assert list(fitted.coef_["framework_version"]) == ["X-CUBE-AI | 8.1.0"]


# -- every record left out, listed --------------------------------------------------------------------------------

def test_calibrate_from_paths_keeps_every_left_out_record_with_its_source_and_reason(models: Path,
                                                                                    runs: Path) -> None:
    with pytest.warns(CalibrationWarning, match=r"4 records left out of the calibration \(4 used\)"):
        fitted = calibrate_from_paths([runs], [models], **TABLE)
    left_out = fitted.left_out_
    assert fitted.n_records_ + len(left_out) == len(ROWS)  # every row read: used or left out
    reasons = dict(zip(map(_line, left_out["source"]), left_out["reason"]))
    assert sorted(reasons) == LEFT_OUT_LINES
    assert reasons[6].startswith("unknown hardware 'NoSuchBoard-9'")
    assert reasons[7].startswith("network 'no_such_net' at precision")
    assert reasons[8].startswith("record: no measurement")
    assert reasons[9].startswith("exact duplicate of") and reasons[9].split(" (key")[0].endswith(":2")


def test_cli_calibrate_lists_every_left_out_record(models: Path, runs: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from rooflinekit.cli import main

    base = [str(runs), "--columns", "board=hardware,model=network,stack=framework,ms=latency_s", "--units",
            "latency_s=ms", "--models", str(models), "--out", str(tmp_path / "c.json"), "-q"]
    assert main(["calibrate", *base, "--left-out", str(tmp_path / "left.csv")]) == 0
    table = capsys.readouterr().out
    assert "4 records left out of the calibration for 4 reasons; wrote each one's source and reason to" in table
    written = pd.read_csv(tmp_path / "left.csv")
    assert list(written.columns)[:3] == ["source", "hardware", "network"] and written.columns[-1] == "reason"
    assert sorted(map(_line, written["source"])) == LEFT_OUT_LINES
    assert written.loc[written["source"].map(_line) == 6, "hardware"].tolist() == ["NoSuchBoard-9"]

    assert main(["calibrate", *base, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_records"] == 4 and data["n_left_out"] == 4
    assert sorted(_line(row["source"]) for row in data["left_out"]) == LEFT_OUT_LINES
    assert all(row["reason"] for row in data["left_out"])

    assert main(["calibrate", *base]) == 0  # without the option: says how to get the list
    assert "--left-out FILE (CSV) or --format json" in capsys.readouterr().out


def test_cli_calibrate_left_out_file_in_a_missing_folder_is_refused(models: Path, runs: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from rooflinekit.cli import main

    assert main(["calibrate", str(runs), "--columns", "board=hardware,model=network,stack=framework,ms=latency_s",
                 "--out", str(tmp_path / "c.json"), "--left-out", str(tmp_path / "nowhere" / "left.csv")]) == 2
    err = capsys.readouterr().err
    assert "argument --left-out: --left-out" in err and "does not exist; create it or write elsewhere" in err


# -- the bound of a calibrated GPU prediction below the regime's batch -------------------------------------------

@pytest.mark.parametrize("batch", [2, 4])
def test_below_the_regime_batch_the_roofline_is_the_bound_of_the_batch_asked_for(batch: int) -> None:
    """LeNet-MNIST on an A100 at batch 2 and 4 (GPU calibration regime: batch 64, weights-only traffic): the
    estimate is the batch-64 throughput scaled, but its roofline is that of a batch of ``batch`` (weights read once
    per batch), as the plain layer-mode roofline computes it and as rk.predict reports it (bound_latency_s)."""
    network, a100 = rk.get_network("LeNet-MNIST"), get_hardware("A100-SXM4-80GB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        estimate, _ = predict_in_regime(network, a100, default_calibration("GPU"), precision="int8", batch=batch)
        python = rk.predict(network, a100, "int8", batch=batch, calibrated=True)
    plain = rk.predict(network, a100, "int8", batch=batch, mode="layer", traffic="weights_only", fuse=False)
    assert estimate.bound_latency_s == pytest.approx(plain.latency_s, rel=1e-9)
    assert python.bound_latency_s == pytest.approx(plain.latency_s, rel=1e-9)
    assert estimate.efficiency_pct == pytest.approx(100 * plain.latency_s / estimate.latency_s, rel=1e-9)
    # the classes keep the regime's roofline scaled to the batch: factor x roofline_s is still the latency
    assert (estimate.classes.factor * estimate.classes.roofline_s).sum() == pytest.approx(estimate.latency_s,
                                                                                          rel=1e-9)
