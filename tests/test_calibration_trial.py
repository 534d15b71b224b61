"""Calibrating with one's own records: networks named as model files, model folders, hardware YAML files, version
spellings, too few records (an embedded engineer's trial of ``rooflinekit calibrate``)."""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_data
from rooflinekit.compare.calibrate import (
    CalibrationWarning, calibrate_from_paths, calibration_features, default_calibration, network_index,
    networks_from_files, predict_with_calibration,
)
from rooflinekit.compare.calibrate.releases import release_versions
from rooflinekit.compare.records import is_missing
from rooflinekit.errors import CalibrationError
from rooflinekit.importers import load_model

TABLE = {"columns": {"board": "hardware", "model": "network", "stack": "framework", "ms": "latency_s"},
         "units": {"latency_s": "ms"}}
BOARD_YAML = """hardware:
  - name: Trial-M7
    kind: MCU
    core_type: Cortex-M7
    clock_hz: 400 MHz
    source: test
    peak_ops_per_s: {int8: 1600 MOPS, fp32: 800 MOPS}
    memories:
      - {name: Flash, capacity_bytes: 2 MiB, bandwidth_bytes_per_s: 3200 MB/s, on_chip: true, stores: [weights],
         source: test}
      - {name: SRAM, capacity_bytes: 1 MiB, bandwidth_bytes_per_s: 1600 MB/s, on_chip: true, stores: [activations],
         source: test}
"""


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A models folder with the MLPerf Tiny reference files ad01_int8 and vww_96_int8 at its top and kws_ref_model
    two folders down."""
    reference = shared_data("mlperf_tiny") / "models"
    folder = tmp_path / "models"
    (folder / "kws" / "int8").mkdir(parents=True)
    for name in ("ad01_int8.tflite", "vww_96_int8.tflite"):
        shutil.copy(reference / name, folder / name)
    shutil.copy(reference / "kws_ref_model.tflite", folder / "kws" / "int8" / "kws_ref_model.tflite")
    return folder


def _table(path: Path, rows: list[str]) -> Path:
    path.write_text("board,model,stack,ms\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_network_index_holds_the_record_name_and_the_file_name(models: Path) -> None:
    spec = load_model(models / "ad01_int8.tflite")
    index = network_index([spec])
    assert list(index) == [("ad01", "int8"), ("ad01_int8", "int8")]  # the record name (MLPerf alias) first
    assert index[("ad01", "int8")] is spec and index[("ad01_int8", "int8")] is spec


def test_records_name_a_network_by_its_file_in_any_spelling(models: Path) -> None:
    networks = networks_from_files([models])
    spellings = ["ad01", "ad01_int8", "ad01_int8.tflite", str(models / "ad01_int8.tflite"), "./models/ad01_int8.tflite",
                 "models\\ad01_int8.tflite"]
    records = pd.DataFrame({"hardware": "NUCLEO-L4R5ZI", "network": spellings, "latency_s": 1e-3})
    features, skipped = calibration_features(records, networks)
    assert skipped.empty
    # one network: every spelling is featured as its record name, with the roofline of the record naming 'ad01'
    assert list(features["network"]) == ["ad01"] * len(spellings)
    assert features["roofline_latency_s"].nunique() == 1 and features["roofline_latency_s"].iloc[0] > 0


def test_a_folder_is_searched_with_its_sub_folders(models: Path) -> None:
    assert ("kws_ref_model", "int8") in networks_from_files([models])


def test_a_file_given_directly_and_through_its_folder_is_read_once(models: Path) -> None:
    index = networks_from_files([models, models / "ad01_int8.tflite"])
    assert sorted(index) == [("ad01", "int8"), ("ad01_int8", "int8"), ("kws_ref_model", "int8"),
                             ("vww_96", "int8"), ("vww_96_int8", "int8")]


def test_a_model_folder_without_model_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no model here", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"model folder '.*empty' holds no \.onnx/\.tflite file"):
        networks_from_files([tmp_path / "empty"])


def test_two_different_files_of_one_name_are_an_error_naming_both(models: Path, tmp_path: Path) -> None:
    for folder, source in (("board_a", "ad01_int8.tflite"), ("board_b", "vww_96_int8.tflite")):
        (tmp_path / folder).mkdir()
        shutil.copy(models / source, tmp_path / folder / "net.tflite")
    with pytest.raises(CalibrationError, match=r"'.*board_a/net\.tflite' and '.*board_b/net\.tflite' both answer "
                                               r"to network 'net' at precision int8; rename one"):
        networks_from_files([tmp_path / "board_a", tmp_path / "board_b"])


def test_a_record_without_precision_matching_two_precisions_says_so(models: Path) -> None:
    shutil.copy(shared_data("mlperf_tiny") / "models" / "ad01_fp32.tflite", models / "ad01_fp32.tflite")
    records = pd.DataFrame([{"hardware": "NUCLEO-L4R5ZI", "network": "ad01", "latency_s": 1e-3}])
    reason = calibration_features(records, networks_from_files([models])).skipped["reason"].iloc[0]
    assert reason.startswith("network 'ad01' at precision <unknown>: its model files at precisions fp32, int8 match "
                             "and the record names no precision; give the record's precision")


def test_calibrating_on_records_naming_files_uses_every_record_as_one_network_each(models: Path,
                                                                                 tmp_path: Path) -> None:
    table = _table(tmp_path / "runs.csv", [
        "NUCLEO-L4R5ZI,ad01_int8,X-CUBE-AI 8.1.0,1.5", "nucleo l4r5zi,vww_96_int8.tflite,X-CUBE-AI 8.1.0,120",
        "NUCLEO-H7A3ZI-Q,ad01_int8,TFLM,0.9", "NUCLEO-H7A3ZI-Q,vww_96_int8,TFLM,60",
        "NUCLEO-U575ZI-Q,kws_ref_model,X-CUBE-AI v8.1,50",
        f"NUCLEO-U575ZI-Q,{models / 'kws' / 'int8' / 'kws_ref_model.tflite'},X-CUBE-AI 8.1,55"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # no record left out
        fitted = calibrate_from_paths([table], [models], **TABLE)
    assert fitted.n_records_ == 6
    assert fitted.networks_ == ["MCU | ad01", "MCU | kws_ref_model", "MCU | vww_96"]


def test_a_record_naming_a_hardware_yaml_file_is_calibrated_on_that_board(models: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("trial_board.yaml").write_text(BOARD_YAML, encoding="utf-8")
    table = _table(tmp_path / "runs.csv", [
        "NUCLEO-L4R5ZI,ad01,X-CUBE-AI 8.1.0,1.5", "NUCLEO-L4R5ZI,vww_96,X-CUBE-AI 8.1.0,120",
        "trial_board.yaml,ad01,X-CUBE-AI 8.1.0,0.4", "trial_board.yaml,vww_96,X-CUBE-AI 8.1.0,30",
        "missing_board.yaml,ad01,X-CUBE-AI 8.1.0,0.4"])
    with pytest.warns(CalibrationWarning, match=r"1 record left out of the calibration \(4 used\): 1 x hardware file "
                                                r"'missing_board.yaml': missing_board.yaml: no such file"):
        fitted = calibrate_from_paths([table], [models], **TABLE)
    assert fitted.devices_ == ["NUCLEO-L4R5ZI", "Trial-M7"]
    assert list(fitted.features_["hardware"]) == ["NUCLEO-L4R5ZI"] * 2 + ["trial_board.yaml"] * 2


def test_v_prefixed_and_plain_versions_are_one_release() -> None:
    features = pd.DataFrame({"framework": "X-CUBE-AI",
                             "framework_version": ["v8.1", "8.1", " V8.1 ", "commit a30942eb03ef", None]})
    assert list(release_versions(features))[:4] == ["8.1", "8.1", "8.1", "commit a30942eb03ef"]
    assert is_missing(release_versions(features).iloc[4])


def test_a_v_prefixed_version_on_the_query_is_the_calibrated_release(models: Path) -> None:
    network = load_model(models / "vww_96_int8.tflite")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # no level falls back
        result = predict_with_calibration(network, "NUCLEO-H7A3ZI-Q", default_calibration(), "X-CUBE-AI",
                                          framework_version="v8.1.0")
    assert "framework_version: X-CUBE-AI | 8.1.0" in result.calibration_levels
    assert result.framework_version == "8.1.0"


def test_a_reference_model_file_is_the_network_the_calibration_knows(models: Path) -> None:
    """vww_96_int8.tflite is MLPerf Tiny's vww_96, on which the shipped calibration was fitted: its interval is a
    known network's, as for the spec queried under the record name (not the new-network interval)."""
    calibration = default_calibration()
    network = load_model(models / "vww_96_int8.tflite")
    result = predict_with_calibration(network, "NUCLEO-H7A3ZI-Q", calibration, "X-CUBE-AI 8.1.0")
    query = pd.DataFrame([{"hardware": "NUCLEO-H7A3ZI-Q", "network": "vww_96", "precision": "int8", "batch": 1,
                           "framework": "X-CUBE-AI", "framework_version": "8.1.0"}])
    known, _ = calibration_features(query, {("vww_96", "int8"): network}, traffic=calibration.traffic)
    low, high = calibration.predict_interval(known)
    assert result.latency_interval_s is not None
    assert math.isclose(result.latency_interval_s[0], low[0]) and math.isclose(result.latency_interval_s[1], high[0])
    new = known.assign(network="never-calibrated-net")
    new_low, new_high = calibration.predict_interval(new)
    assert (new_low[0], new_high[0]) != pytest.approx((low[0], high[0]))  # the new-network one, it got before


def test_one_record_fits_without_interval_and_says_so_when_fitted_and_used(models: Path, tmp_path: Path) -> None:
    table = _table(tmp_path / "one.csv", ["NUCLEO-L4R5ZI,ad01,X-CUBE-AI 8.1.0,1.5"])
    with pytest.warns(CalibrationWarning, match=r"1 record used: too few to cross-validate the 80 % interval"):
        fitted = calibrate_from_paths([table], [models], **TABLE)
    assert fitted.residual_quantiles_ == {}
    with pytest.warns(CalibrationWarning, match=r"ad01_int8 on NUCLEO-L4R5ZI: no interval, the calibration holds "
                                                r"none \(fitted on 1 record: too few"):
        result = predict_with_calibration(load_model(models / "ad01_int8.tflite"), "NUCLEO-L4R5ZI", fitted,
                                          "X-CUBE-AI 8.1.0")
    assert result.latency_interval_s is None
