"""Every command's ``--format json`` is strict JSON (null, never NaN/Infinity) with lists as lists; CSV joins
lists with ';'. Also the conversion itself, :func:`rooflinekit.output.to_json_value`."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import itertools
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rooflinekit.catalog import get_hardware, get_network, hardware_catalog, network_catalog
from rooflinekit.cli import main
from rooflinekit.descriptors import DType, HardwareKind
from rooflinekit.errors import RooflineWarning
from rooflinekit.output import dumps_json, flatten, table_cell, tabular, to_json_value

PREDICTION_KEYS = {"network", "hardware", "precision", "pruning_pct", "batch", "mode", "traffic", "fps", "latency_s",
                   "bound", "ops", "bytes", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s",
                   "latency_optimistic_s", "latency_pessimistic_s"}


def _raise(constant: str) -> Any:
    raise ValueError(f"non-strict JSON constant {constant}")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run the CLI with ``--format json``; its output parsed strictly (NaN, Infinity raise)."""
    code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out, parse_constant=_raise)


def run_csv(capsys: pytest.CaptureFixture[str], *argv: str) -> pd.DataFrame:
    code = main([*argv, "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return pd.read_csv(io.StringIO(out), keep_default_na=False)


def test_parse_constant_guard_rejects_nan():
    with pytest.raises(ValueError, match="non-strict JSON constant NaN"):
        json.loads('{"x": NaN}', parse_constant=_raise)


# --- count ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["LeNet-MNIST", "ResNet-50"])
def test_count(capsys, model):
    data = run_json(capsys, "count", model)
    assert {"network", "precision", "batch", "totals", "layers", "unsupported_ops"} <= set(data)
    assert isinstance(data["layers"], list) and isinstance(data["unsupported_ops"], dict)
    assert all(v is None or isinstance(v, (int, float)) for v in data["totals"].values())


def test_count_of_an_aggregate_network_has_null_macs(capsys):
    data = run_json(capsys, "count", "ResNet-50")
    assert data["totals"]["macs"] is None and data["layers"] == []


# --- predict -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "mode"), [("ResNet-50", "network"), ("ResNet-50", "layer"),
                                             ("LeNet-MNIST", "network"), ("LeNet-MNIST", "layer")])
def test_predict(capsys, model, mode):
    data = run_json(capsys, "predict", model, "--hardware", "ZCU104-DPU", "--precision", "int8", "--mode", mode)
    assert PREDICTION_KEYS <= set(data)
    assert data["mode"] == mode and data["fps"] > 0
    if model == "LeNet-MNIST" and mode == "layer":
        assert isinstance(data["layers"], list) and {"name", "op", "time_s", "bound"} <= set(data["layers"][0])
    if model == "ResNet-50" and mode == "layer":
        assert data["layers"] is None  # an aggregate network has no layers


def relu_only_onnx(path: Path) -> Path:
    """An ONNX model without weights: under weights-only traffic it moves no bytes (infinite intensity)."""
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize("mode", ["network", "layer"])
def test_predict_with_infinite_operational_intensity_is_null(capsys, tmp_path, mode):
    model = relu_only_onnx(tmp_path / "relu.onnx")
    data = run_json(capsys, "predict", str(model), "--hardware", "Jetson Nano", "--mode", mode)
    assert data["bytes"] == 0
    assert data["operational_intensity"] is None  # ops / 0 bytes = inf
    assert data["fps"] > 0


def test_count_of_a_model_file(capsys, tmp_path):
    model = relu_only_onnx(tmp_path / "relu.onnx")
    data = run_json(capsys, "count", str(model))
    assert data["totals"]["weight_bytes"] == 0 and data["layers"][0]["op"] == "relu"


# --- sweep ---------------------------------------------------------------------------------------------------------

def test_sweep_rows_that_cannot_be_predicted_have_null_numbers(capsys):
    rows = run_json(capsys, "sweep", "--models", "ResNet-50,LeNet-MNIST", "--hardware", "ZCU104-DPU,Jetson Nano",
                    "--precisions", "int8")
    assert len(rows) == 4
    nano = [r for r in rows if r["hardware"] == "Jetson Nano"]
    assert len(nano) == 2
    for row in nano:  # Jetson Nano has no int8 peak: NaN numbers before, null now
        assert row["fps"] is None and row["latency_s"] is None and row["bound"] is None
        assert "Jetson Nano has no native int8 peak" in row["status"]
    assert all(r["status"] == "ok" and r["fps"] > 0 for r in rows if r["hardware"] == "ZCU104-DPU")


def test_sweep_of_an_aggregate_network_in_layer_mode_under_activation_traffic(capsys):
    rows = run_json(capsys, "sweep", "--models", "ResNet-50,LeNet-MNIST", "--hardware", "ZCU104-DPU", "--precisions",
                    "int8", "--mode", "layer", "--traffic", "weights_and_activations")
    by_network = {r["network"]: r for r in rows}
    assert by_network["ResNet-50"]["fps"] is None and by_network["ResNet-50"]["ops"] is None
    assert "activation_elements_per_frame" in by_network["ResNet-50"]["status"]
    assert by_network["LeNet-MNIST"]["status"] == "ok"


def test_sweep_csv_leaves_missing_numbers_empty(capsys):
    table = run_csv(capsys, "sweep", "--models", "ResNet-50", "--hardware", "Jetson Nano", "--precisions", "int8")
    assert table.loc[0, "fps"] == "" and "NaN" not in table.to_csv()


# --- one vocabulary for a calibrated estimate ----------------------------------------------------------------------

CALIBRATION_KEYS = {"estimate", "latency_s", "fps", "bound_latency_s", "latency_interval_s", "calibration_levels"}
"""The fields of ``rk.Prediction`` that say a calibrated estimate: every JSON object says them so."""


def test_a_calibrated_estimate_has_the_prediction_names_in_json_and_two_interval_columns_in_csv(capsys):
    """predict --calibrated and sweep --calibrated: JSON has Prediction's keys (the interval as [low, high], the same
    numbers as rk.predict's), CSV the interval split in latency_interval_low_s / _high_s (low < latency_s < high)."""
    import rooflinekit as rk

    args = ("LeNet-MNIST", "--hardware", "NVIDIA L4", "--batch", "64", "--calibrated", "--framework", "TensorRT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = rk.predict("LeNet-MNIST", "NVIDIA L4", batch=64, calibrated=True, framework="TensorRT")
        one = run_json(capsys, "predict", *args)
        (row,) = run_json(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "NVIDIA L4", "--batches", "64",
                          "--calibrated", "--framework", "TensorRT")
        csv_one = run_csv(capsys, "predict", *args)
        csv_row = run_csv(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "NVIDIA L4", "--batches", "64",
                          "--calibrated", "--framework", "TensorRT")
    for data in (one, row):
        assert CALIBRATION_KEYS <= set(data) and data["estimate"] == "calibrated"
        assert not {"interval_s", "levels", "roofline_latency_s", "latency_interval_low_s"} & set(data)
        np.testing.assert_allclose(
            [data["latency_s"], data["fps"], data["bound_latency_s"], *data["latency_interval_s"]],
            [expected.latency_s, expected.fps, expected.bound_latency_s, *expected.latency_interval_s], rtol=1e-12)
        assert data["calibration_levels"] == list(expected.calibration_levels)
    for table in (csv_one, csv_row):
        assert "latency_interval_s" not in table.columns
        low, high, latency = (float(table.loc[0, c]) for c in ("latency_interval_low_s", "latency_interval_high_s",
                                                                 "latency_s"))
        assert low < latency < high
        np.testing.assert_allclose([low, high], expected.latency_interval_s, rtol=1e-12)


def test_a_bound_says_no_interval_as_null_in_json_and_empty_cells_in_csv(capsys):
    data = run_json(capsys, "predict", "LeNet-MNIST", "--hardware", "ZCU104-DPU", "--precision", "int8")
    assert data["estimate"] == "bound" and data["latency_interval_s"] is None and data["bound_latency_s"] is None
    assert data["calibration_levels"] == []
    table = run_csv(capsys, "predict", "LeNet-MNIST", "--hardware", "ZCU104-DPU", "--precision", "int8")
    assert table.loc[0, "latency_interval_low_s"] == "" and table.loc[0, "latency_interval_high_s"] == ""
    assert "latency_interval_s" not in table.columns


# --- calibrate and predict --calibration ---------------------------------------------------------------------------

@pytest.fixture
def records_csv(tmp_path: Path) -> Path:
    boards = ["NUCLEO-L4R5ZI", "NUCLEO-H7A3ZI-Q", "NUCLEO-U575ZI-Q"]
    nets = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "FINN-MLP"]
    stacks = ["X-CUBE-AI 7.3.0", "TFLite Micro 2.3.1"]
    rows = [{"hardware": b, "network": n, "precision": "int8", "framework": s, "latency_s": 1e-3 * (i + 1)}
            for i, (b, n, s) in enumerate(itertools.product(boards, nets, stacks))]
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_calibrate_and_predict_with_the_calibration(capsys, tmp_path, records_csv):
    out = tmp_path / "calib.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RooflineWarning)
        data = run_json(capsys, "calibrate", str(records_csv), "--out", str(out))
        assert data["out"] == str(out) and data["n_records"] == 18
        assert isinstance(data["classes"], list) and isinstance(data["theta0"], float)
        assert {"level", "key", "op_class", "log_factor", "multiplier"} <= set(data["factors"][0])
        # fp32 layers were never calibrated: they take the median factor (a CalibrationWarning)
        result = run_json(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-U575ZI-Q", "--calibration",
                          str(out), "--framework", "X-CUBE-AI 7.3.0")
        bare = run_json(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-U575ZI-Q", "--calibration", str(out))
    assert {"latency_s", "fps", "bound_latency_s", "efficiency_pct", "classes"} <= set(result)
    assert result["framework"] == "X-CUBE-AI" and result["framework_version"] == "7.3.0"
    assert isinstance(result["classes"], list) and {"op_class", "factor"} <= set(result["classes"][0])
    assert bare["framework"] is None and bare["framework_version"] is None  # no stack given: null, not NaN


# --- hardware and models -------------------------------------------------------------------------------------------

def test_hardware_list_and_show_give_aliases_as_lists(capsys):
    rows = run_json(capsys, "hardware", "list")
    assert [r["name"] for r in rows] == hardware_catalog().names()
    by_name = {r["name"]: r for r in rows}
    assert by_name["ZCU104-DPU"]["aliases"] == list(get_hardware("ZCU104-DPU").aliases)
    assert by_name["ZCU104-DPU"]["core_type"] is None
    assert by_name["Jetson Nano"]["peak_ops_per_s"] == {"fp16": 472e9, "fp32": 236e9}
    shown = run_json(capsys, "hardware", "show", "ZCU104-DPU")
    assert shown["aliases"] == by_name["ZCU104-DPU"]["aliases"]
    assert isinstance(shown["memories"], list) and shown["clock_hz"] is None


def test_hardware_csv_joins_lists_with_semicolons_and_flattens_objects(capsys):
    table = run_csv(capsys, "hardware", "list")
    row = table.set_index("name").loc["ZCU104-DPU"]
    assert row["aliases"].split(";") == list(get_hardware("ZCU104-DPU").aliases)
    assert float(row["peak_ops_per_s.int8"]) == 4.6e12
    shown = run_csv(capsys, "hardware", "show", "ZCU104-DPU")
    assert len(shown) == 1
    assert shown.loc[0, "memories.0.name"] == "DRAM" and shown.loc[0, "memories.0.stores"] == "weights;activations"
    assert shown.loc[0, "aliases"].split(";") == list(get_hardware("ZCU104-DPU").aliases)


def test_models_list_and_show(capsys):
    rows = run_json(capsys, "models", "list")
    assert [r["name"] for r in rows] == network_catalog().names()
    by_name = {r["name"]: r for r in rows}
    assert by_name["ResNet-50"]["aliases"] == list(get_network("ResNet-50").aliases)
    assert by_name["ResNet-50 80%"]["pruning_pct"] == 80
    shown = run_json(capsys, "models", "show", "ResNet-50")
    assert shown["aliases"] == by_name["ResNet-50"]["aliases"] and shown["kind"] == "aggregate"
    assert shown["activation_elements_per_frame"] is None
    layers = run_json(capsys, "models", "show", "LeNet-MNIST")
    assert isinstance(layers["layers"], list) and isinstance(layers["layers"][0]["inputs"][0], list)
    table = run_csv(capsys, "models", "list")
    assert table.set_index("name").loc["ResNet-50", "aliases"].split(";") == list(get_network("ResNet-50").aliases)


# --- plot ----------------------------------------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs the plot extra")
def test_plot_json(capsys, tmp_path):
    data = run_json(capsys, "plot", "roofline", "--hardware", "ZCU104-DPU,Jetson Nano", "--models", "ResNet-50",
                    "--precisions", "int8", "--out", str(tmp_path / "r.png"))
    assert data == {"chart": "roofline", "out": str(tmp_path / "r.png")}


# --- the conversion ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (float("nan"), None), (float("inf"), None), (-math.inf, None), (np.float64("nan"), None),
    (np.float32(1.5), 1.5), (np.int64(3), 3), (np.bool_(True), True), (pd.NA, None), (pd.NaT, None),
    (DType.INT8, "int8"), (HardwareKind.GPU, "GPU"), ((1, (2, 3)), [1, [2, 3]]), ({3, 1}, [1, 3]),
    (np.array([1.0, np.nan]), [1.0, None]), ({DType.FP16: np.float64(2.0)}, {"fp16": 2.0}),
    (dt.date(2024, 5, 1), "2024-05-01"), (Path("a/b.json"), "a/b.json"), ({1: "x"}, {"1": "x"}),
    (pd.Series({"a": np.nan}), {"a": None}), (pd.DataFrame({"a": [1.0, np.nan]}), [{"a": 1.0}, {"a": None}]),
])
def test_to_json_value(value, expected):
    converted = to_json_value(value)
    assert converted == expected
    assert type(converted) is type(expected)


def test_to_json_value_recurses_into_nested_containers():
    payload = {"rows": [{"x": np.float64("inf"), "y": (pd.NA, np.int32(2))}], "pydantic": get_hardware("ZCU104-DPU")}
    converted = to_json_value(payload)
    assert converted["rows"] == [{"x": None, "y": [None, 2]}]
    assert converted["pydantic"]["aliases"] == list(get_hardware("ZCU104-DPU").aliases)
    assert json.loads(dumps_json(payload), parse_constant=_raise) == converted


def test_to_json_value_refuses_unknown_types():
    with pytest.raises(TypeError, match=r"^cannot write a object value as JSON \(<object object at .*\); convert it "
                                        r"to numbers, text, lists or dicts first$"):
        to_json_value({"x": object()})


def test_an_interval_is_one_json_key_or_two_table_columns():
    from rooflinekit.output import interval_columns, joined_interval, split_interval

    assert interval_columns("latency_interval_s") == ("latency_interval_low_s", "latency_interval_high_s")
    row = {"a": 1, "latency_interval_s": (1e-3, 2e-3), "b": 2}
    split = split_interval(row)
    assert list(split) == ["a", "latency_interval_low_s", "latency_interval_high_s", "b"]
    assert (split["latency_interval_low_s"], split["latency_interval_high_s"]) == (1e-3, 2e-3)
    assert joined_interval(split) == {"a": 1, "latency_interval_s": [1e-3, 2e-3], "b": 2}
    assert split_interval({"latency_interval_s": None}) == {"latency_interval_low_s": None,
                                                            "latency_interval_high_s": None}
    missing = joined_interval({"latency_interval_low_s": float("nan"), "latency_interval_high_s": float("nan")})
    assert missing == {"latency_interval_s": None}
    assert split_interval({"x": 1}) == joined_interval({"x": 1}) == {"x": 1}


def test_flatten_and_cells():
    record = {"a": {"b": 1}, "m": [{"x": 1, "s": ["w", "a"]}], "l": [1, 2], "e": {}}
    flat = flatten(record)
    assert flat == {"a.b": 1, "m.0.x": 1, "m.0.s": ["w", "a"], "l": [1, 2], "e": {}}
    assert table_cell(["A", "B"]) == "A;B" and table_cell((1.0, None)) == "1.0;" and table_cell({}) is None
    assert table_cell({"k": float("nan")}) == '{"k": null}' and table_cell(3) == 3
    frame = tabular(pd.DataFrame([flat]))
    assert frame.loc[0, "m.0.s"] == "w;a" and frame.loc[0, "l"] == "1;2"
