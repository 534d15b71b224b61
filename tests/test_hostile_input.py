"""Reproducers of issue 15 (safe under hostile input), one or more per bullet of its "Why", each built in memory
(or in ``tmp_path``): hangs, silent wrong numbers, file-system probing, shared mutable state, foreign exceptions and
record provenance. Each failed on the code before the issue and passes after."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from onnx_builder import save_onnx, zeros
from rooflinekit.catalog import load_hardware_file, load_network_file
from rooflinekit.cli import main
from rooflinekit.cli_common import parse_input_shapes
from rooflinekit.compare import align
from rooflinekit.compare.calibrate.model import CalibratedPredictor
from rooflinekit.compare.loaders.generic import load_table
from rooflinekit.compare.records import records_frame
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork
from rooflinekit.errors import (CalibrationError, CountOverflowError, ModelFileError, PrecisionError, RecordError,
                                ShapeError, SpecError, UnitError)
from rooflinekit.units import parse_quantity

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

ROOT = Path(__file__).resolve().parent


def _quiet_count(network, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rk.count_network(network, **kwargs)


# ------------------------------------------------------------------------------------------------------- hangs


def test_einsum_equations_outside_the_grammar_are_refused_before_shape_inference(tmp_path: Path) -> None:
    """onnx shape inference never returns on these: the check must come first (run in a child process so that a
    regression times out instead of hanging the suite)."""
    script = textwrap.dedent(f"""
        import onnx
        from onnx import TensorProto, helper
        from pathlib import Path
        from rooflinekit.importers.onnx import load_onnx
        from rooflinekit.errors import ModelFileError
        for i, eq in enumerate(["a.b", "ab>", "j0k", "ij,jk->ik,", "ij->ii"]):
            node = helper.make_node("Einsum", ["a"], ["y"], equation=eq)
            graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3])],
                                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
            path = Path({str(tmp_path)!r}) / f"e{{i}}.onnx"
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
            try:
                load_onnx(path)
            except ModelFileError as exc:
                print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert len(lines) == 5, done.stderr[-2000:]
    assert "equation 'a.b' is not an Einsum equation (term 'a.b' is not letters" in lines[0]
    assert "equation 'ab>'" in lines[1] and "equation 'j0k'" in lines[2]
    assert "output 'ii' repeats a letter" in lines[4]


def _laughs(levels: int = 12) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nhardware: [*a{levels - 1}]\n"


def test_billion_laughs_yaml_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs())
    with pytest.raises(SpecError, match=r"laughs\.yaml: YAML expands to more than 1,000,000 values through its "
                                        r"aliases"):
        load_hardware_file(path)


def test_deeply_nested_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("networks: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(SpecError, match=r"deep\.yaml: YAML nested (deeper than 64 levels|too deeply)"):
        load_network_file(path)


def test_small_aliases_still_load(tmp_path: Path) -> None:
    spec = rk.get_hardware("ZCU104-DPU").model_dump(mode="json", exclude_none=True)
    path = tmp_path / "alias.yaml"
    path.write_text("common: &mem " + json.dumps(spec["memories"]) + "\nhardware:\n  - " +
                    json.dumps({**spec, "memories": "MEM"}).replace('"MEM"', "*mem") + "\n")
    assert load_hardware_file(path)[0].memories == rk.get_hardware("ZCU104-DPU").memories


# --------------------------------------------------------------------------------------- silent wrong numbers


@pytest.mark.parametrize("batch", [2**62, 2**31])
def test_huge_batch_is_refused_not_wrapped(batch: int) -> None:
    with pytest.raises(SpecError, match=rf"batch {batch} is larger than the largest batch, 2147483647"):
        rk.count_network(rk.get_network("LeNet-MNIST"), batch=batch)
    with pytest.raises(SpecError, match=rf"batch {batch} is larger than the largest batch"):
        rk.predict("ResNet-50", "ZCU104-DPU", batch=batch)


def test_bool_batch_is_refused() -> None:
    with pytest.raises(SpecError, match="batch must be a positive integer, got True"):
        rk.count_network(rk.get_network("LeNet-MNIST"), batch=True)


def _relu_net(shape: tuple[int, ...], batch: int = 1) -> LayerNetwork:
    return LayerNetwork(name="big", batch=batch, precision="int8", source="test",
                        layers=[Layer(name="r", op="relu", inputs=[shape], outputs=[shape])])


def test_counts_above_2_53_are_exact() -> None:
    shape = (1, 2**31 - 1, 2**31 - 1)
    exact = (2**31 - 1) ** 2
    cost = _quiet_count(_relu_net(shape), batch=1)
    assert cost.layers.other_ops.dtype == np.int64 and int(cost.layers.other_ops.iloc[0]) == exact
    assert cost.totals["ops"] == exact and isinstance(cost.totals["ops"], int)
    doubled = _quiet_count(_relu_net(shape), batch=2)
    assert doubled.totals["ops"] == 2 * exact  # no float64 in between: 2 * exact is not a float64 value


def test_count_overflow_names_layer_and_batch() -> None:
    with pytest.raises(CountOverflowError, match=r"layer 'r' \(relu\): other_ops = .* at batch 4 exceeds the "
                                                 r"int64 range") as info:
        _quiet_count(_relu_net((4, 2**31 - 1, 2**31 - 1), batch=4), batch=1)
    assert info.value.layer == "r" and info.value.batch == 4
    with pytest.raises(CountOverflowError, match=r"layer 'r' \(relu\): other_ops = .* at batch 3 exceeds") as info:
        _quiet_count(_relu_net((1, 2**31 - 1, 2**31 - 1)), batch=3)
    assert info.value.batch == 3


def test_negative_count_from_a_custom_counter_is_refused() -> None:
    counters = rk.DEFAULT_COUNTERS.with_overrides({"relu": lambda layer: rk.counters.OpCount(other_ops=-5)})
    with pytest.raises(SpecError, match=r"layer 'r' \(relu\): other_ops = -5 is negative"):
        _quiet_count(_relu_net((1, 4)), counters=counters)


def test_bool_peak_is_refused() -> None:
    data = rk.get_hardware("ZCU104-DPU").model_dump(mode="json")
    with pytest.raises(SpecError, match=r"peak_ops_per_s\.int8: must be a number, not a boolean"):
        HardwareSpec.model_validate({**data, "peak_ops_per_s": {"int8": True}})


def _calibration_json(**changes) -> str:
    data = {"format": "rooflinekit.calibration/1", "params": {}, "theta0": 0.0, "classes": ["conv"],
            "n_records": 3, "n_iter": 1, "objective": 0.0,
            "coefficients": {level: {} for level in ("global", "core_family", "framework", "framework_version",
                                                     "system")}}
    data.update(changes)
    return json.dumps(data)


def test_calibration_theta0_out_of_range_is_refused() -> None:
    CalibratedPredictor.from_json(_calibration_json())  # the base document is valid
    with pytest.raises(CalibrationError, match=r"theta0 = 1e\+308 is not a finite log factor within \+-50"):
        CalibratedPredictor.from_json(_calibration_json(theta0=1e308))


def test_calibration_json_bad_params_and_shapes_are_calibration_errors() -> None:
    with pytest.raises(CalibrationError, match="shrinkage must be a positive number of pseudo-records, got 0"):
        CalibratedPredictor.from_json(_calibration_json(params={"shrinkage": 0}))
    with pytest.raises(CalibrationError, match=r"incomplete or malformed \(AttributeError"):
        CalibratedPredictor.from_json(_calibration_json(coefficients={"global": []}))
    with pytest.raises(CalibrationError, match=r"classes \[\] must be distinct non-empty names"):
        CalibratedPredictor.from_json(_calibration_json(classes=[]))


def test_onnx_attribute_of_wrong_type_is_refused(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    node.attribute.append(helper.make_attribute("strides", [1.0, 1.0]))  # FLOATS where the schema says INTS
    path = save_onnx(tmp_path, [node], {"x": [1, 3, 8, 8]}, ["y"], [zeros("w", 4, 3, 3, 3)], name="model.onnx")
    with pytest.raises(ModelFileError, match=r"model\.onnx: node '' \('Conv'\): attribute 'strides' is of type "
                                             r"FLOATS, the operator defines it as INTS"):
        rk.importers.load_model(path)


def test_onnx_attribute_of_undefined_type_is_refused(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    attribute = node.attribute.add()
    attribute.name, attribute.type = "group", onnx.AttributeProto.UNDEFINED
    path = save_onnx(tmp_path, [node], {"x": [1, 3, 8, 8]}, ["y"], [zeros("w", 4, 3, 3, 3)], name="model.onnx")
    with pytest.raises(ModelFileError, match=r"attribute 'group' has no type \(UNDEFINED\)"):
        rk.importers.load_model(path)


def test_onnx_conv_weight_contradicting_channels_is_refused(tmp_path: Path) -> None:
    path = save_onnx(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 3, 8, 8]}, ["y"],
                     [zeros("w", 4, 5, 3, 3)], name="model.onnx")
    with pytest.raises((ShapeError, ModelFileError), match=r"model\.onnx: .*(weight \[4, 5, 3, 3\] contradicts input "
                                                           r"\[1, 3, 8, 8\]|shape inference rejected)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rk.importers.load_model(path)


tflite = pytest.importorskip("tflite")
sys.path.insert(0, str(ROOT))
from tflite_builder import SAME, Graph, Op, T, build_tflite, const  # noqa: E402


def _tflite(tmp_path: Path, inputs, outputs, code, options=None) -> Path:
    tensors = inputs + outputs
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(tensors)))
    graph = Graph(tensors, [Op(code, ins, outs, options)], [i for i in ins if not inputs[i].data], outs)
    path = tmp_path / "model.tflite"
    path.write_bytes(build_tflite(graph))
    return path


def _conv_options(stride: int) -> tuple[str, dict]:
    return ("Conv2DOptions", {"Padding": SAME, "StrideW": stride, "StrideH": stride, "DilationWFactor": 1,
                              "DilationHFactor": 1})


def test_tflite_conv_stride_contradicting_output_is_refused(tmp_path: Path) -> None:
    path = _tflite(tmp_path, [T((1, 8, 8, 3)), const((4, 3, 3, 3))], [T((1, 8, 8, 4))], "CONV_2D",
                   _conv_options(127))
    with pytest.raises(ShapeError, match=r"model\.tflite: layer .* \(CONV_2D\): output \[1, 4, 8, 8\] contradicts "
                                         r"input \[1, 3, 8, 8\], kernel \[3, 3\], strides \[127, 127\]"):
        rk.importers.load_model(path)


def test_tflite_fully_connected_with_rank_1_input_is_refused(tmp_path: Path) -> None:
    path = _tflite(tmp_path, [T((7,)), const((10, 16))], [T((1, 10))], "FULLY_CONNECTED")
    with pytest.raises((ShapeError, ModelFileError), match=r"model\.tflite: .*(contradict the weight|rank)"):
        rk.importers.load_model(path)


# ------------------------------------------------------------------------------------------ file-system probing


def _external(tmp_path: Path, location: str) -> Path:
    path = save_onnx(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 3, 8, 8]}, ["y"],
                     [zeros("w", 4, 3, 3, 3)], name="model.onnx")
    model = onnx.load(path)
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "432")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("location, reason", [
    ("/etc/passwd", "is an absolute path"),
    ("../../etc/passwd", "climbs out of the model's folder"),
    ("a/../../x.bin", "climbs out of the model's folder"),
    ("x" * 300, "is longer than the file system allows"),
])
def test_external_data_outside_the_folder_is_refused_before_any_stat(tmp_path: Path, location: str,
                                                                     reason: str) -> None:
    path = _external(tmp_path, location)
    with pytest.raises(ModelFileError, match=rf"model\.onnx: external data location .* {reason}") as info:
        rk.importers.load_model(path)
    assert "the file has" not in str(info.value) and "truncated" not in str(info.value)


def test_external_data_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 10)
    (folder / "w.bin").symlink_to(tmp_path / "secret.bin")
    path = _external(folder, "w.bin")
    with pytest.raises(ModelFileError, match=r"leads out of the model's folder") as info:
        rk.importers.load_model(path)
    assert "10" not in str(info.value).split("leads out")[1]


# ------------------------------------------------------------------------------------------ shared mutable state


def test_catalog_objects_cannot_be_mutated() -> None:
    hardware = rk.get_hardware("ZCU104-DPU")
    before = rk.predict("ResNet-50", "ZCU104-DPU").fps
    with pytest.raises(TypeError, match="belongs to a frozen rooflinekit descriptor"):
        hardware.peak_ops_per_s["int8"] /= 1000
    with pytest.raises(TypeError):
        hardware.peak_ops_per_s.update({"int8": 1.0})
    network = rk.get_network("LeNet-MNIST")
    macs = _quiet_count(network).totals["macs"]
    layer = next(layer for layer in network.layers if layer.attrs)
    with pytest.raises(TypeError, match="belongs to a frozen rooflinekit descriptor"):
        layer.attrs["groups"] = 7
    with pytest.raises(TypeError):
        layer.attrs.pop(next(iter(layer.attrs)))
    assert rk.predict("ResNet-50", "ZCU104-DPU").fps == before
    assert _quiet_count(rk.get_network("LeNet-MNIST")).totals["macs"] == macs
    assert isinstance(dict(layer.attrs), dict) and json.loads(network.model_dump_json())["layers"]


def test_mutating_returned_results_does_not_change_later_results() -> None:
    first = _quiet_count(rk.get_network("LeNet-MNIST"))
    first.layers["macs"] = 0
    first.unsupported_ops["x"] = 1
    prediction = rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", mode="layer")
    prediction.layers["ops"] = -1
    again = _quiet_count(rk.get_network("LeNet-MNIST"))
    assert again.totals["macs"] > 0 and "x" not in again.unsupported_ops
    assert rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", mode="layer").fps == prediction.fps


def test_eight_threads_on_fifteen_models_give_the_single_thread_results() -> None:
    names = [n for n in rk.network_catalog().names()][:15]
    hardware = "ZCU104-DPU"

    def one(name: str) -> float | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return rk.predict(name, hardware, precision="int8").fps
        except rk.RooflineError:
            return None

    expected = {name: one(name) for name in names}
    results: dict[tuple[int, str], float | None] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for name in names[k % 3:] + names[:k % 3]:
                results[(k, name)] = one(name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and len(results) == 8 * len(names)
    assert all(results[(k, name)] == expected[name] for k in range(8) for name in names)


# ----------------------------------------------------------------------------------------- foreign exceptions


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    predictions = rk.sweep(["ResNet-50"], ["ZCU104-DPU"], ["int8"], [1])
    records = pd.DataFrame([{"hardware": "ZCU104-DPU", "network": "ResNet-50", "precision": "int8",
                             "pruning_pct": 100.0, "batch": 1, "throughput_fps": 300.0}])
    return predictions, records


def test_align_refuses_text_pruning_and_nan_batch() -> None:
    predictions, records = _frames()
    assert len(align(predictions, records).matched) == 1
    with pytest.raises(RecordError, match=r"records: column 'pruning_pct' must hold the percentage of channels "
                                          r"kept, in \(0, 100\]; 1 rows do not \(row 0: 'eighty'\)"):
        align(predictions, records.assign(pruning_pct="eighty"))
    with pytest.raises(RecordError, match=r"records: column 'batch' must hold a whole number of frames from 1 to "
                                          r"2147483647; 1 rows do not \(row 0: nan\)"):
        align(predictions, records.assign(batch=np.nan))
    with pytest.raises(RecordError, match=r"column 'throughput_fps' must hold numbers \(missing allowed\)"):
        align(predictions, records.assign(throughput_fps="fast"))


def test_records_frame_refuses_rows_that_are_not_mappings() -> None:
    with pytest.raises(RecordError, match=r"records_frame: row 0 is a list \(\[1, 2\]\), not a mapping"):
        records_frame([[1, 2]])


def test_load_table_keeps_the_table_when_a_batch_is_beyond_int64(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("hardware,network,precision,batch,latency_s\nZCU104-DPU,ResNet-50,int8,1,0.01\n"
                    f"ZCU104-DPU,ResNet-50,int8,{2**70},0.01\n")
    result = load_table(path)
    assert len(result.records) == 1 and len(result.rejected) == 1
    assert result.rejected.reason.iloc[0] == f"batch: must be at most 2147483647, got {2**70}"


def test_catalog_yaml_with_invalid_utf8_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"hardware:\n  - name: \xff\xfe\n")
    with pytest.raises(SpecError, match=r"bad\.yaml: not UTF-8 text \(byte 20: b'\\xff\\xfe\\n'\); save the spec "
                                        r"file as UTF-8"):
        load_hardware_file(path)


def test_parse_quantity_of_a_huge_int_is_a_unit_error() -> None:
    with pytest.raises(UnitError, match=r"an integer of 401 digits is too large for a quantity of bytes"):
        parse_quantity(10**400, "bytes")


@pytest.mark.parametrize("value, message", [
    ("x=²,3", r"dim '²' is neither a positive whole number \(ASCII digits\) nor a dim name"),
    ("x=2**70", r"dim '2\*\*70' is neither"),
    ("x=-1,3", r"dim '-1' is neither"),
    (f"x={2**70}", r"dim '1180591620717411303424' is out of range; a dim is a whole number from 1 to 2147483647"),
    ("x=1,,3", r"dim '' is neither"),
])
def test_input_shape_values_are_checked(value: str, message: str) -> None:
    with pytest.raises(SpecError, match=rf"--input-shape '.*': {message}"):
        parse_input_shapes([value])
    assert parse_input_shapes(["x=N,3,224x224"]) == {"x": ["N", 3, 224, 224]}


@pytest.mark.parametrize("argv, message", [
    (["count", "LeNet-MNIST", "--batch", str(2**62)], r"--batch '4611686018427387904': give a whole number from 1"),
    (["plot", "layers", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--out", "a.png", "--dpi", "-5"],
     r"--dpi '-5': give a whole number from 1 to 2400"),
    (["calibrate", "records.csv", "--out", "/no/such/folder/c.json"],
     r"--out '/no/such/folder/c\.json': the folder '/no/such/folder' does not exist"),
])
def test_cli_usage_errors_are_one_line(capsys, argv: list[str], message: str) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # older main() let argparse exit
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(message, err), err


def test_cli_bad_input_shape_exits_2_without_traceback(capsys, tmp_path: Path) -> None:
    path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 3]}, ["y"], name="model.onnx")
    assert main(["count", str(path), "--input-shape", "x=²,3"]) == 2
    assert "dim '²' is neither" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ record provenance


def test_load_table_provenance_is_exact_after_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("hardware,network,precision,batch,latency_s\n"
                    "ZCU104-DPU,ResNet-50,int8,1,0.01\n"
                    "\n"
                    'ZCU104-DPU,"ResNet-50",int8,2,"0.02"\n'
                    'ZCU104-DPU,"Mobile\nNet",int8,3,0.03\n'
                    "ZCU104-DPU,ResNet-50,int8,4,0.04\n")
    result = load_table(path)
    assert list(result.records.source) == ["t.csv:2", "t.csv:4", "t.csv:5", "t.csv:7"]
    assert list(result.records.batch) == [1, 2, 3, 4]
    assert math.isclose(result.records.latency_s.iloc[1], 0.02)


# --------------------------------------------------------------------------------- found by the long fuzz run


def test_tflite_conv_weight_with_a_zero_dim_is_a_model_file_error(tmp_path: Path) -> None:
    weight = const((4, 3, 3, 3))
    weight.shape = (4, 3, 3, 0)  # the declared shape contradicts the data; the handler divided by it
    path = _tflite(tmp_path, [T((1, 8, 8, 3)), weight], [T((1, 8, 8, 4))], "CONV_2D", _conv_options(1))
    with pytest.raises(ModelFileError, match=r"model\.tflite: operator 0 \(CONV_2D\): operand 1 '.*' has shape "
                                             r"\[4, 3, 3, 0\], with a dim below 1"):
        rk.importers.load_model(path)


def test_onnx_dim_name_of_invalid_utf8_is_a_model_file_error(tmp_path: Path) -> None:
    path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 3]}, ["y"], name="model.onnx")
    data = path.read_bytes().replace(b"\x12\x01N", b"\x12\x01\xff")  # dim_param 'N' -> invalid UTF-8 byte
    assert data != path.read_bytes()
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=r"model\.onnx: tensor 'x' has a dim name that is not valid UTF-8 "
                                             r"\(b'\\xff'\)"):
        rk.importers.load_model(path)


def test_external_data_location_of_invalid_utf8_is_truncated_in_the_message(tmp_path: Path) -> None:
    path = _external(tmp_path, "x" * 5000)
    path.write_bytes(path.read_bytes().replace(b"x" * 5000, b"\xff" + b"x" * 4999))
    with pytest.raises(ModelFileError, match=r"is not valid UTF-8 \(b'\\xffxxx.*\.\.\.\)") as info:
        rk.importers.load_model(path)
    assert len(str(info.value)) < 400


LONG = "d" * 5000


@pytest.mark.parametrize("inputs, kwargs, message", [
    ({"x": ["N", LONG]}, {}, r"input 'x' dim 1 'ddd.*\.\.\. is symbolic and unbound"),
    ({LONG: [3, 4]}, {"batch": 8}, r"batch 8 contradicts input 'ddd.*\.\.\., whose leading dim is fixed to 3 .*"
                                   r"\(--input-shape d+\.\.\.\)"),
    ({"x": ["N", 4]}, {"input_shapes": {"x": [2, LONG]}, "batch": 8},
     r"batch 8 and input_shapes\['x'\] = \[2, 'ddd.*\.\.\. disagree"),
    ({"x": [LONG, 4]}, {"input_shapes": {"x": [2, 4]}, "batch": 8},
     r"batch 8 and input_shapes\['x'\] = \[2, 4\] disagree"),
    ({"x": [2, 4]}, {"input_shapes": {LONG: [2, 4]}}, r"input_shapes names \['ddd.*\.\.\., which are not graph "
                                                      r"inputs; inputs are \['x'\]"),
    ({"x": ["N", 4]}, {"input_shapes": {"x": [1, 2, LONG]}}, r"input_shapes\['x'\] = \[1, 2, 'ddd.*\.\.\. has 3 dims"),
], ids=["unbound dim", "fixed batch", "input_shapes batch", "dim name batch", "unknown input", "rank"])
def test_onnx_long_dim_and_input_names_are_truncated_in_messages(tmp_path: Path, inputs: dict, kwargs: dict,
                                                                  message: str) -> None:
    (name, dims), = inputs.items()
    path = save_onnx(tmp_path, [helper.make_node("Relu", [name], ["y"])], inputs, ["y"], name="model.onnx")
    with pytest.raises(ShapeError, match=message) as info:
        rk.importers.load_model(path, **kwargs)
    assert LONG not in str(info.value) and len(str(info.value)) < 600


def test_load_table_with_units_refuses_an_integer_beyond_float_range(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"hardware,network,latency_s\nZCU104-DPU,ResNet-50,{10**400}\nZCU104-DPU,ResNet-50,12\n")
    result = load_table(path, units={"latency_s": "ms"})
    assert list(result.records.latency_s) == [0.012]
    assert result.rejected.reason.iloc[0] == "latency_s: Input should be a valid number (got 1" + "0" * 56 + "...)"


@pytest.mark.parametrize("parse", [lambda text: rk.descriptors.DType.parse(text),
                                   lambda text: rk.descriptors.Precision.parse(text)])
def test_unknown_precision_text_is_truncated_in_the_message(parse) -> None:
    text = "q" * 5000
    with pytest.raises(PrecisionError) as info:
        parse(text)
    # the message names the value (its start) but not all of it: 60 characters of repr at most, then '...'
    assert "qqqq" in str(info.value) and "q" * 61 not in str(info.value) and len(str(info.value)) < 300
