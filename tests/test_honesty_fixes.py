"""Four honesty fixes: one board one name in MLPerf Tiny records, versions of one release collide as duplicates,
nested grid axis values are refused, and a counted network on hardware without its type gets a PrecisionError.

Expected values come from the inputs written here and the hardware YAML files (``hardware_specs/``), not from the
code under test.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare import align, load_mlperf_tiny, load_table, records_frame
from rooflinekit.compare.records import release_keys
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.roofline import CountedNetwork, HardwareGrid
from rooflinekit.roofline.grid import axis_values

# --- 1. MLPerf Tiny records name a board as the catalog does, the submitted spelling kept ---------------------------

PERF = "00366.093 ulp-mlperf: Median throughput is {fps} inf./sec.\n"


def _system(board: str) -> str:
    return json.dumps({"Board Name": board, "Processor(s) Name": "Arm Cortex-M4", "Processor(s) Frequencies": "120 MHz",
                       "Inference Framework": "X-CUBE-AI v7.3.0", "Quantization Method": "int8"})


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def two_rounds(tmp_path: Path) -> Path:
    """One board spelled ``Nucleo-L4R5ZI`` in round v9.0 and ``NUCLEO-L4R5ZI`` in v9.1 (as MLPerf Tiny v0.5 and
    v1.0 spell it), and a board no catalog knows."""
    for round_, board, fps in (("v9.0", "Nucleo-L4R5ZI", 5.0), ("v9.1", "NUCLEO-L4R5ZI", 8.0),
                               ("v9.1", "Board Nobody Knows", 2.0)):
        folder = "l4" if "L4R5" in board else "other"
        base = tmp_path / f"results/{round_}/closed/acme"
        _write(base / f"systems/{folder}.json", _system(board))
        _write(base / f"results/{folder}/kws/performance/results.txt", PERF.format(fps=fps))
    return tmp_path


def test_mlperf_tiny_records_give_one_board_one_name_and_keep_the_submitted_one(two_rounds):
    records = load_mlperf_tiny(two_rounds).records.sort_values(["round", "hardware"]).reset_index(drop=True)
    # NUCLEO-L4R5ZI: the spec's name in hardware_specs/mlperf_tiny_stm32.yaml (Nucleo-L4R5ZI is an alias there)
    assert records.hardware.tolist() == ["NUCLEO-L4R5ZI", "Board Nobody Knows", "NUCLEO-L4R5ZI"]
    assert records.board.tolist() == ["Nucleo-L4R5ZI", "Board Nobody Knows", "NUCLEO-L4R5ZI"]  # as submitted
    assert records.groupby("hardware").size().to_dict() == {"Board Nobody Knows": 1, "NUCLEO-L4R5ZI": 2}


def test_mlperf_tiny_board_is_one_group_in_the_matched_rows(two_rounds):
    records = load_mlperf_tiny(two_rounds).records
    predictions = pd.DataFrame([{"hardware": "NUCLEO-L4R5ZI", "network": "kws_ref_model", "precision": "int8",
                                 "batch": 1, "fps": 10.0}])
    matched = align(predictions, records).matched
    assert matched.groupby("hardware").size().to_dict() == {"NUCLEO-L4R5ZI": 2}
    by_round = matched.set_index("round")
    assert by_round.efficiency_pct.to_dict() == pytest.approx({"v9.0": 50.0, "v9.1": 80.0})  # 100 * fps / 10
    assert by_round.board.to_dict() == {"v9.0": "Nucleo-L4R5ZI", "v9.1": "NUCLEO-L4R5ZI"}


def test_mlperf_tiny_shared_data_has_one_group_per_catalog_board(mlperf_dir):
    records = load_mlperf_tiny(mlperf_dir).records
    assert "Nucleo-L4R5ZI" not in set(records.hardware)  # v0.5's spelling of the board
    assert set(records[records.board == "Nucleo-L4R5ZI"].hardware) == {"NUCLEO-L4R5ZI"}
    assert set(records[records.board == "NUCLEO-H7A3ZI"].hardware) == {"NUCLEO-H7A3ZI-Q"}  # an alias in the YAML


# --- 2. versions of one release collide as duplicates ---------------------------------------------------------------

def test_release_keys_follow_the_release_rule():
    # the rule of releases.release_key: a leading v and trailing zero components drop, nothing else
    assert release_keys(["8.1", "8.1.0", "v8.1", "8.10", "commit a30942eb", None]) == [
        "8.1", "8.1", "8.1", "8.10", "commit a30942eb", None]


TABLE = """hardware,network,framework,framework_version,latency_s
L4,kws,X-CUBE-AI,8.1,0.01
L4,kws,X-CUBE-AI,8.1.0,0.01
L4,vww,X-CUBE-AI,8.1,0.02
L4,vww,X-CUBE-AI,v8.1.0,0.03
L4,ic,X-CUBE-AI,8.1,0.02
L4,ic,X-CUBE-AI,8.10,0.02
"""


def _check_release_duplicates(records: pd.DataFrame, rejected: pd.DataFrame, source: str) -> None:
    # kept: kws at 8.1 (the first of an exact pair), ic at 8.1 and at 8.10 (another release: only zero components
    # drop); vww's 8.1 and v8.1.0 conflict (0.02 s vs 0.03 s): both rejected
    assert sorted(zip(records.network, records.framework_version)) == [("ic", "8.1"), ("ic", "8.10"), ("kws", "8.1")]
    reasons = dict(zip(zip(rejected.network, rejected.framework_version), rejected.reason))
    assert set(reasons) == {("kws", "8.1.0"), ("vww", "8.1"), ("vww", "v8.1.0")}
    assert reasons[("kws", "8.1.0")] == (
        f"exact duplicate of {source.format(2)} (key hardware='L4', network='kws', pruning_pct=100.0, batch=1, "
        "framework='X-CUBE-AI', framework_version='8.1'); framework_version '8.1.0' is the release written '8.1' "
        "there")
    assert reasons[("vww", "8.1")] == reasons[("vww", "v8.1.0")]
    assert reasons[("vww", "8.1")].startswith("conflicting duplicates of key (hardware='L4', network='vww'")
    assert reasons[("vww", "8.1")].endswith(
        f"latency_s 0.02 vs 0.03 (sources {source.format(4)}, {source.format(5)}); framework_version '8.1', "
        "'v8.1.0' are one release")


def test_duplicates_compare_versions_as_releases_in_a_streamed_table(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text(TABLE, encoding="utf-8")
    result = load_table(path)
    _check_release_duplicates(result.records, result.rejected, "runs.csv:{}")


def test_duplicates_compare_versions_as_releases_in_records_frame():
    rows = pd.read_csv(io.StringIO(TABLE), dtype=str)
    rows["source"] = [f"row {line}" for line in range(2, 2 + len(rows))]  # the CSV's line numbers
    result = records_frame(rows.to_dict("records"))
    _check_release_duplicates(result.records, result.rejected, "row {}")


# --- 3. nested grid axis values are refused, not flattened -----------------------------------------------------------

@pytest.mark.parametrize("values", [[[1e12, 2e12], [3e12, 4e12]], np.array([[1e12, 2e12], [3e12, 4e12]])])
def test_nested_axis_values_are_a_spec_error_naming_the_axis_and_shape(values):
    with pytest.raises(SpecError, match=r"^grid axis peak_ops_per_s\.int8: values must be one flat list of "
                                        r"numbers, got nested values of shape \(2, 2\); write the values as one "
                                        r"list"):
        axis_values("peak_ops_per_s.int8", values)


def test_nested_axis_values_are_refused_by_the_grid_and_flat_ones_kept():
    nano = rk.get_hardware("Jetson Nano")
    with pytest.raises(SpecError, match=r"grid axis clock_scale: .* nested values of shape \(1, 3\)"):
        HardwareGrid.of(nano, clock_scale=[[0.5, 1.0, 2.0]])
    assert HardwareGrid.of(nano, clock_scale=[0.5, 1.0, 2.0]).shape == (3,)


# --- 4. a counted network on hardware without its type: the PrecisionError a spec would get -------------------------

def test_counted_network_on_hardware_without_its_type_is_a_precision_error_in_predict_and_sweep():
    counted = CountedNetwork.of(rk.get_network("CNV"))  # fp32 (network catalog)
    # hardware_specs/qualcomm.yaml: int8 and fp16 peaks, default_precision fp16
    with pytest.raises(PrecisionError) as info:
        rk.predict(counted, "Cloud AI 100 Pro")
    error = info.value
    assert (error.precision, error.hardware, error.supported) == ("fp32", "Cloud AI 100 Pro", ("int8", "fp16"))
    assert str(error) == ("Cloud AI 100 Pro has no native fp32 peak; it supports int8, fp16; CNV is already counted "
                          "at fp32: count it at a precision the hardware supports, e.g. CountedNetwork.of(spec, "
                          "'fp16'), or pass the network spec instead of the counted network")
    table = rk.sweep([counted], ["Cloud AI 100 Pro"])
    assert table.status.tolist() == [str(error)] and table.precision.tolist() == ["fp32"]
    assert table.fps.isna().all()
    # what the message says works: counted at fp16 it is predicted, as the spec falls back to
    again = rk.predict(CountedNetwork.of(rk.get_network("CNV"), "fp16"), "Cloud AI 100 Pro")
    assert again.fps == rk.predict("CNV", "Cloud AI 100 Pro").fps


def test_counted_network_on_hardware_without_a_default_names_a_type_to_count_at():
    counted = CountedNetwork.of(rk.get_network("CNV"))
    # hardware_specs/mlperf_tiny_stm32.yaml: NUCLEO-G0B1RE has int8 and int16 peaks and no default precision; the
    # widest native type is int16 (passing precision='int16' would be refused: the network is counted)
    with pytest.raises(PrecisionError) as info:
        rk.predict(counted, "NUCLEO-G0B1RE")
    assert (info.value.precision, info.value.hardware, info.value.supported) == (
        "fp32", "NUCLEO-G0B1RE", ("int8", "int16"))
    assert str(info.value).endswith("CNV is already counted at fp32: count it at a precision the hardware "
                                    "supports, e.g. CountedNetwork.of(spec, 'int16'), or pass the network spec "
                                    "instead of the counted network")


def test_counted_network_on_a_grid_without_its_type_fails_as_predict_does():
    nano = rk.get_hardware("Jetson Nano")  # fp16 and fp32 peaks, default fp16
    counted = CountedNetwork.of(rk.get_network("ResNet-50"))  # int8
    with pytest.raises(PrecisionError) as info:
        rk.predict(counted, nano)
    table = rk.sweep([counted], [HardwareGrid.of(nano, clock_scale=[0.5, 1.0])])
    assert table.status.tolist() == [str(info.value)] * 2
