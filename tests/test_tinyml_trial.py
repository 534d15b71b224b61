"""A TinyML engineer's trial with a board the catalog lacks: its spec in a YAML file, calibrated predictions and
their warnings, and the engineer's own records added to the shipped MCU calibration."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from conftest import NoFit, StopFit
from rooflinekit.cli import main
from rooflinekit.compare.calibrate import (
    CalibrationWarning, calibrate_from_paths, calibration_features, default_calibration, default_features,
    predict_with_calibration, select_calibration_records,
)
from rooflinekit.compare.calibrate import defaults
from rooflinekit.compare.calibrate.features import faster_than_bound
from rooflinekit.compare.calibrate.intervals import inner_splits
from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import SpecError

# the cores and stacks of the CPU-only Cortex-M closed-division results of MLPerf Tiny v0.5-v1.1 (the boards of
# hardware_specs/mlperf_tiny_*.yaml and the frameworks of their system descriptions)
CORES = "Cortex-M0+, Cortex-M33, Cortex-M4, Cortex-M7"
STACKS = "Bosch HALE, ONNC, Plumerai, TFLite Micro, X-CUBE-AI, microTVM"


def _board_yaml(name: str, int8_peak: str, bandwidth: str, core_type: str | None = "Cortex-M7") -> str:
    core = f"    core_type: {core_type}\n" if core_type else ""
    return (f"hardware:\n  - name: {name}\n    kind: MCU\n{core}    source: test\n"
            f"    peak_ops_per_s: {{int8: {int8_peak}}}\n    memories:\n"
            f"      - {{name: Flash, capacity_bytes: 16 MiB, bandwidth_bytes_per_s: {bandwidth}, stores: [weights], "
            "source: test}\n"
            f"      - {{name: SRAM, capacity_bytes: 1 MiB, bandwidth_bytes_per_s: {bandwidth}, on_chip: true, "
            "stores: [activations], source: test}\n")


def _spec(core_type: str | None) -> HardwareSpec:
    return HardwareSpec.model_validate({
        "name": "Trial-RT", "kind": "MCU", "core_type": core_type, "peak_ops_per_s": {"int8": "4 GOPS"},
        "memories": [{"name": "SRAM", "capacity_bytes": "2 MiB", "bandwidth_bytes_per_s": "8 GB/s",
                      "stores": ["weights", "activations"], "source": "test"}],
        "source": "test"})


# -- records naming a hardware YAML file ---------------------------------------------------------------------------

def test_calibration_features_read_the_hardware_yaml_a_record_names(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python route to extending the shipped calibration takes the table `rooflinekit calibrate` takes: a
    record's hardware may be a YAML file (it was 'unknown hardware'). Bandwidth 1e18 B/s makes every layer
    compute-bound, so the board with half the peak takes exactly twice the roofline time."""
    monkeypatch.chdir(tmp_path)
    Path("fast.yaml").write_text(_board_yaml("Fast-M7", "2 GOPS", "1e18"), encoding="utf-8")
    Path("slow.yaml").write_text(_board_yaml("Slow-M7", "1 GOPS", "1e18"), encoding="utf-8")
    records = pd.DataFrame({"hardware": ["fast.yaml", "slow.yaml", "missing.yaml"],
                            "network": "LeNet-MNIST", "precision": "int8", "latency_s": 1.0})
    features, skipped = calibration_features(records, {})
    assert list(features["catalog_hardware"]) == ["Fast-M7", "Slow-M7"]
    assert list(features["core_family"]) == ["Cortex-M7", "Cortex-M7"]
    slow, fast = features["roofline_latency_s"].iloc[1], features["roofline_latency_s"].iloc[0]
    assert slow == pytest.approx(2 * fast, rel=1e-12)
    assert skipped["reason"].iloc[0].startswith("hardware file 'missing.yaml': missing.yaml: no such file")


# -- records faster than their roofline bound ----------------------------------------------------------------------

def test_faster_than_bound_names_the_first_record_and_what_to_check() -> None:
    features = pd.DataFrame({"source": ["runs.csv:2", "runs.csv:3", "runs.csv:4"], "hardware": "my.yaml",
                             "network": ["ad01", "vww_96", "kws"], "latency_s": [1e-3, 30e-3, 2e-3],
                             "roofline_latency_s": [4e-3, 5e-3, 3e-3]})
    message = faster_than_bound(features)
    assert message is not None
    assert message.startswith("2 records measured faster than the roofline bound of its hardware spec, which no "
                               "board can beat (first: runs.csv:2: my.yaml / ad01: measured 1 ms < bound 4 ms, 4x "
                               "faster); check the spec's peaks and the bandwidth of the memory its weights are read "
                               "from")
    assert "latency unit" in message
    assert faster_than_bound(features.iloc[[1]]) is None  # 30 ms measured against a 5 ms bound: possible
    assert faster_than_bound(features.drop(columns="roofline_latency_s")) is None


def test_calibrating_a_record_faster_than_its_bound_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LeNet-MNIST has 274,656 MACs (README), at least 549,312 ops: at 1 MOPS its bound is at least 0.549 s, so
    a record of 0.1 s beat it. ResNet-20 for CIFAR-10 has about 41 M MACs (He et al., 2016), a bound near 82 s at
    1 MOPS: a record of 30,000 s did not beat it."""
    monkeypatch.chdir(tmp_path)
    Path("tiny.yaml").write_text(_board_yaml("Tiny-M7", "1 MOPS", "1e18"), encoding="utf-8")
    Path("runs.csv").write_text("board,model,ms\ntiny.yaml,LeNet-MNIST,100\ntiny.yaml,ResNet-20-CIFAR-10,3e7\n",
                                encoding="utf-8")
    with pytest.warns(CalibrationWarning, match=r"1 record measured faster than the roofline bound of its hardware "
                                                r"spec, which no board can beat \(first: runs.csv:2: tiny.yaml / "
                                                r"LeNet-MNIST: measured 100 ms < bound"):
        calibrate_from_paths(["runs.csv"], columns={"board": "hardware", "model": "network", "ms": "latency_s"},
                             units={"latency_s": "ms"}, constants={"precision": "int8"})


def test_extending_the_shipped_calibration_with_a_record_faster_than_its_bound_warns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    features = default_features("MCU").iloc[[0]].copy()
    features["latency_s"] = features["roofline_latency_s"] / 3  # three times faster than the bound
    monkeypatch.setattr(defaults, "CalibratedPredictor", NoFit)
    with pytest.warns(CalibrationWarning, match=r"^1 record measured faster than the roofline bound .* 3x faster"):
        with pytest.raises(StopFit):
            defaults.extend_default_calibration(features)


# -- rounds ------------------------------------------------------------------------------------------------------

def _masks(splits: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[list[bool], list[bool]]]:
    return [(train.tolist(), test.tolist()) for train, test in splits]


def test_rows_without_a_round_take_part_in_no_round_split() -> None:
    """Rounds v0.5 < v0.7 < v1.0: v0.7 is predicted from v0.5, v1.0 from v0.5 and v0.7; the undated row (a user's
    own record) is in neither part of either split."""
    rounds = pd.Series(["v0.5", "v1.0", None, "v1.0", "v0.7"])
    assert _masks(inner_splits([], rounds)) == [
        ([True, False, False, False, False], [False, False, False, False, True]),
        ([True, False, False, False, True], [False, True, False, True, False]),
    ]
    assert inner_splits([], pd.Series([None, None], dtype=object)) == []


def test_records_without_a_round_leave_the_shipped_records_round_splits_as_they_were() -> None:
    """They used to remove every round split (the forward-in-time residuals behind the deeper fallback depths)."""
    rounds = default_features("MCU")["round"]
    extended = pd.concat([rounds, pd.Series([None] * 4, dtype=object)], ignore_index=True)
    shipped, added = inner_splits([], rounds), inner_splits([], extended)
    assert len(shipped) == len(added) == 3  # v0.7, v1.0 and v1.1 each from the rounds before
    for (train, test), (train_added, test_added) in zip(shipped, added):
        assert (train_added[:len(rounds)] == train).all() and (test_added[:len(rounds)] == test).all()
        assert not train_added[len(rounds):].any() and not test_added[len(rounds):].any()


# -- a table read next to an MLPerf Tiny folder --------------------------------------------------------------------

def test_records_without_the_cpu_only_flag_are_kept() -> None:
    """An MLPerf Tiny folder and one's own table read together: the table's rows have no cpu_only_cortex_m flag
    (NA in the combined frame; this raised 'cannot convert float NaN to bool')."""
    records = pd.DataFrame({"latency_s": [1e-3, 2e-3, 3e-3],
                            "cpu_only_cortex_m": pd.array([True, False, pd.NA], dtype="boolean")})
    kept, skipped = select_calibration_records(records)
    assert list(kept.index) == [0, 2]
    assert list(skipped.index) == [1]
    assert skipped["reason"].iloc[0].startswith("not a CPU-only Cortex-M system")


# -- what a fallback warning tells the user to do --------------------------------------------------------------------

def _warned(spec: HardwareSpec, framework: str | None) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict_with_calibration(rk.get_network("LeNet-MNIST"), spec, default_calibration(), framework,
                                 precision="int8")
    messages = [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]
    assert len(messages) == 1
    return messages[0]


def test_a_spec_without_core_type_and_a_query_without_stack_are_told_what_to_add() -> None:
    message = _warned(_spec(None), None)
    assert message.startswith("LeNet-MNIST on Trial-RT: core_family: MCU not calibrated (coarser levels used); ")
    assert (f"the spec gives no core_type, so its core family is its kind MCU; add core_type to the spec "
            f"(calibrated core families: {CORES})") in message
    assert (f"no software stack given; pass framework= (--framework on the command line), a calibrated one: "
            f"{STACKS}") in message


def test_a_core_and_a_stack_never_calibrated_are_named_with_the_calibrated_ones() -> None:
    message = _warned(_spec("Cortex-M55"), "Edge Impulse EON")
    assert f"calibrated core families: {CORES} (records of this core" in message
    assert f"calibrated stacks: {STACKS} (records of this stack" in message
    assert "add core_type" not in message and "no software stack given" not in message


def test_a_known_core_and_stack_add_no_advice() -> None:
    message = _warned(_spec("Cortex-M7"), "TFLite Micro 2.3.1")  # only the new board's own level falls back
    assert message == "LeNet-MNIST on Trial-RT: system: Trial-RT | TFLite Micro | 2.3.1 not calibrated (coarser " \
                      "levels used)"


def test_the_command_line_warning_says_to_add_core_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("board.yaml").write_text(_board_yaml("No-Core", "4 GOPS", "8 GB/s", core_type=None), encoding="utf-8")
    assert main(["predict", "LeNet-MNIST", "--hardware", "board.yaml", "--precision", "int8", "--calibrated",
                 "--framework", "TFLite Micro"]) == 0
    err = capsys.readouterr().err
    assert "core_family: MCU not calibrated" in err and "add core_type to the spec" in err


# -- a spec's stores written as a YAML scalar ----------------------------------------------------------------------

@pytest.mark.parametrize(("written", "example"), [("weights", "[weights]"),
                                                  ("weights, activations", "[weights, activations]"),
                                                  ("flash", "[weights, activations]")])
def test_stores_written_without_brackets_says_how_to_write_the_list(written: str, example: str) -> None:
    """`stores: weights` in YAML is a string, not a list; it was 'must be a valid tuple, got 'weights''."""
    memory = {"name": "SRAM", "capacity_bytes": "1 MiB", "bandwidth_bytes_per_s": "1 GB/s", "stores": written,
              "source": "test"}
    with pytest.raises(SpecError, match=re.escape(
            f"memories.0.stores: must be a list of tensor roles (weights, activations, state) in brackets, e.g. "
            f"{example}; got {written!r}")):
        HardwareSpec.model_validate({"name": "B", "kind": "MCU", "peak_ops_per_s": {"int8": "1 GOPS"},
                                     "memories": [memory], "source": "test"})
