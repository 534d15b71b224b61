"""Problems a new user met: unreadable calibration files, names where specs were expected, multi-GPU systems,
tf32 peaks, the calibrated path's precision, errors that say what to do, datasheet units, ignored options."""

import json
import warnings
from pathlib import Path

import pytest

import rooflinekit as rk
from rooflinekit.api import resolve_precision
from rooflinekit.catalog import load_hardware_file
from rooflinekit.cli import main
from rooflinekit.compare.calibrate.model import load_calibration
from rooflinekit.compare.loaders import load_table
from rooflinekit.errors import CalibrationError, PlotError, PrecisionError, RecordError, RooflineWarning, SpecError
from rooflinekit.plots_cli import _read_records


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. a binary calibration file ---------------------------------------------------------------------------


@pytest.fixture
def binary_file(tmp_path: Path) -> Path:
    path = tmp_path / "rand.json"
    path.write_bytes(bytes([0x89, 0x50, 0x4E, 0x47, 0xFF, 0xFE, 0x00, 0xB0]) * 64)  # not UTF-8 from byte 0
    return path


def test_binary_calibration_file_is_a_calibration_error(binary_file):
    with pytest.raises(CalibrationError, match=r"cannot read calibration JSON .*rand\.json: not UTF-8 text"):
        load_calibration(binary_file)


def test_binary_calibration_file_is_one_line_on_the_command_line(capsys, binary_file):
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "ZCU104-DPU", "--calibration", str(binary_file))
    assert code == 2
    assert err.startswith("rooflinekit: error: cannot read calibration JSON") and err.count("\n") == 1
    assert "Traceback" not in err


# --- 2. count_network takes what predict takes ------------------------------------------------------------


def test_count_network_takes_a_catalog_name():
    # 274,656 MACs: the catalog spec's count (tests/test_cli.py::test_count_json_contract)
    by_name = rk.count_network("LeNet-MNIST")
    assert by_name.totals["macs"] == rk.count_network(rk.get_network("LeNet-MNIST")).totals["macs"] == 274_656


def test_count_network_takes_a_pruned_catalog_name():
    cost = rk.count_network("ResNet-50 80%")
    assert cost.totals["ops"] == rk.count_network(rk.get_network("ResNet-50 80%")).totals["ops"]


def test_count_network_takes_a_model_file(tmp_path):
    pytest.importorskip("onnx")
    from onnx import helper

    from tests.onnx_builder import save_onnx, zeros

    path = save_onnx(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [1, 8]}, ["y"],
                     initializers=[zeros("w", 8, 4)])
    # (1 x 8) @ (8 x 4): 1 * 8 * 4 = 32 multiply-accumulates, 32 weights
    for given in (path, str(path)):
        cost = rk.count_network(given)
        assert cost.totals["macs"] == 32 and cost.totals["params"] == 32


def test_count_network_refuses_what_is_not_a_network():
    with pytest.raises(SpecError, match=r"cannot count a int; pass a network spec, a catalog network name"):
        rk.count_network(42)  # type: ignore[arg-type]


# --- 3. multi-GPU systems are costed as one GPU, and say so ---------------------------------------------------


def test_multi_gpu_system_says_it_is_costed_as_one_device():
    system = rk.predict("ResNet-50", "DGX H100", batch=64)
    one = rk.predict("ResNet-50", "H100-SXM5-80GB", batch=64)
    assert system.fps == one.fps
    said = [n for n in system.notes if "8 devices" in n]
    assert len(said) == 1 and "ONE of them" in said[0] and "--tp N --pp M" in said[0]
    assert not any("devices joined" in n for n in one.notes)


def test_multi_gpu_note_on_the_command_line(capsys):
    code, out, _ = run(capsys, "predict", "ResNet-50", "--hardware", "DGX H100", "--batch", "64")
    assert code == 0 and "note: DGX H100 holds 8 devices joined by NVLink 4" in out


# --- 4. tf32 peaks: dense TF32 Tensor Core figures of NVIDIA's datasheets ---------------------------------------


@pytest.mark.parametrize(("name", "tflops"), [
    ("A100-PCIe-40GB", 156),  # A100 datasheet: TF32 156 | 312 with sparsity
    ("A100-PCIe-80GB", 156),
    ("H100-PCIe-80GB", 378),  # H100 datasheet, PCIe: TF32 756 with sparsity
    ("NVIDIA A10", 62.5),  # A10 datasheet: 62.5 | 125
    ("NVIDIA A30", 82),  # A30 datasheet: 82 | 165
    ("NVIDIA A40", 74.8),  # A40 datasheet: 74.8 | 149.6
    ("NVIDIA L40", 90.5),  # L40 datasheet: 90.5 | 181
    ("NVIDIA A2", 9),  # A2 datasheet: 9 | 18
])
def test_tf32_peaks(name, tflops):
    assert rk.get_hardware(name).peak("tf32") == pytest.approx(tflops * 1e12)
    assert rk.predict("ResNet-50", name, precision="tf32").peak_ops_per_s == pytest.approx(tflops * 1e12)


def test_no_entry_says_tf32_is_not_representable():
    assert not [s.name for s in rk.hardware_catalog().specs if "not representable" in (s.notes or "")]


# --- 5. the calibrated path resolves the precision as plain predict does -------------------------------------


def test_calibrated_command_falls_back_to_the_default_precision(capsys):
    code, out, err = run(capsys, "predict", "ResNet-50", "--hardware", "Jetson Nano", "--calibrated",
                         "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["precision"] == "fp16"
    assert any(n.startswith("precision fp16: Jetson Nano's default") for n in data["notes"])


def test_resolve_precision():
    resolved, note = resolve_precision("ResNet-50", "Jetson Nano")  # int8 network; Jetson Nano: fp16, fp32
    assert resolved == "fp16" and note is not None and "Jetson Nano's default" in note
    assert resolve_precision("ResNet-50", "ZCU104-DPU") == (None, None)
    assert resolve_precision("ResNet-50", "Jetson Nano", "W-fp16_A-fp16") == ("fp16", None)


# --- 6. precision errors say what to do ----------------------------------------------------------------------


def test_precision_error_names_a_precision_to_pass():
    with pytest.raises(PrecisionError, match=r"ZCU104-FINN has no native fp32 peak; it supports int2, int4; "
                                             r"choose one: pass precision='int4' \(--precision int4\)$"):
        rk.predict("CNV", "ZCU104-FINN")


def _vad_graph(path, float_type: str = "fp32"):
    """An ONNX graph in ``float_type`` whose Equal compares a live int64 input (silero-vad's sample-rate check):
    MatMul_0 (1x8 @ 8x8) and Equal_1 (one int64 element)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem, numpy_type = {"fp32": (TensorProto.FLOAT, np.float32), "fp16": (TensorProto.FLOAT16, np.float16)}[float_type]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Equal", ["sr", "rate"], ["is_16k"])],
        "vad", [helper.make_tensor_value_info("x", elem, [1, 8]),
                helper.make_tensor_value_info("sr", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", elem, [1, 8]),
         helper.make_tensor_value_info("is_16k", TensorProto.BOOL, [1])],
        [numpy_helper.from_array(np.ones((8, 8), numpy_type), "w"),
         numpy_helper.from_array(np.array([16000], np.int64), "rate")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_a_layers_own_integer_type_names_the_layer_and_the_precision_that_retypes_it(tmp_path):
    # an fp16 graph with a live int64 Equal on a device with int8 and fp16 peaks only: no fp32 peak bounds the
    # int64 layer, and the hint used to say --precision fp16 (the default), which keeps every layer's type
    path = _vad_graph(tmp_path / "vad.onnx", "fp16")
    expected = (r"Cloud AI 100 Pro has no native int64 peak; it supports int8, fp16; layer Equal_1 computes in int64, "
                r"its own type, which the network's own precision \(fp16\) keeps; a precision other than fp16 "
                r"re-types every layer, this one too \(--precision int8\)$")
    for precision in (None, "fp16"):  # None: the default, fp16, is the network's own
        with pytest.raises(PrecisionError, match=expected):
            rk.predict(path, "Cloud AI 100 Pro", precision=precision)
    assert rk.predict(path, "Cloud AI 100 Pro", precision="int8").precision == "int8"


INTEGER_NOTE = ("layer Equal_1 computes in int64, which the device has no peak for: costed at its fp32 peak, which "
                "bounds 32- and 64-bit integer arithmetic (the same lanes, no faster)")


def test_a_live_int64_layer_of_an_fp32_graph_is_bounded_by_the_fp32_peak(tmp_path):
    # the Raspberry Pi 4 has no int64 peak; its fp32 peak is 48 GOPS (hardware/*.yaml): the Equal's one op takes
    # 1 / 48e9 s of compute, and the network stays at fp32 (it used to be refused, and a GPU re-typed it to fp16)
    path = _vad_graph(tmp_path / "vad.onnx")
    prediction = rk.predict(path, "Raspberry Pi 4 Model B", mode="layer")
    assert prediction.precision == "fp32"
    assert INTEGER_NOTE in prediction.notes
    equal = prediction.layers.set_index("name").loc["Equal_1"]
    assert equal["compute_dtype"] == "int64" and equal["ops"] == 1
    assert equal["compute_s"] == pytest.approx(1 / 48e9, rel=1e-12)
    on_gpu = rk.predict(path, "A100-SXM4-80GB")
    assert on_gpu.precision == "fp32" and INTEGER_NOTE in on_gpu.notes
    plain = rk.predict(_vad_graph(tmp_path / "plain.onnx"), "A100-SXM4-80GB", precision="int8")  # all re-typed
    assert not any("no peak for" in note for note in plain.notes)


def test_an_fp32_peak_axis_is_not_idle_for_layers_it_bounds(tmp_path):
    from rooflinekit.roofline import HardwareGrid

    int_only = tmp_path / "index.onnx"  # one int64 Add: its only layer, bounded by the fp32 peak
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("Add", ["i", "one"], ["j"])], "index",
                              [helper.make_tensor_value_info("i", TensorProto.INT64, [1, 1024])],
                              [helper.make_tensor_value_info("j", TensorProto.INT64, [1, 1024])],
                              [numpy_helper.from_array(np.ones((1, 1024), np.int64), "one")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(int_only))
    grid = HardwareGrid.of(rk.get_hardware("Raspberry Pi 4 Model B"), peak_ops_per_s={"fp32": [1e6, 48e9]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", rk.errors.RooflineWarning)
        table = rk.sweep([rk.importers.load_model(int_only)], [grid])
    assert table["bound"].tolist() == ["compute", "memory:LPDDR4"]  # 1,024 ops at 1 MOPS: 1 ms, compute-bound


def test_a_sweeps_rows_carry_the_integer_bound_note_as_predict_does(tmp_path):
    from rooflinekit.roofline import HardwareGrid

    path = _vad_graph(tmp_path / "vad.onnx")
    network = rk.importers.load_model(path)
    grid = HardwareGrid.of(rk.get_hardware("Raspberry Pi 4 Model B"), bandwidth_bytes_per_s={"LPDDR4": [6.4e9, 12.8e9]})
    table = rk.sweep([network, "ResNet-50"], ["A100-SXM4-80GB", "Raspberry Pi 4 Model B", grid], batches=[1, 4])
    for row in table.itertuples():
        if row.network == "ResNet-50":
            assert not any("no peak for" in note for note in row.notes)
            continue
        assert row.precision == "fp32" and INTEGER_NOTE in row.notes
        spec = rk.get_hardware(row.hardware) if row.grid_point < 0 else grid.spec(int(row.grid_point))
        assert row.notes == rk.predict(network, spec, batch=row.batch).notes
        assert row.latency_s == pytest.approx(rk.predict(network, spec, batch=row.batch).latency_s, rel=1e-12)


def test_precision_error_on_the_command_line(capsys):
    code, _, err = run(capsys, "predict", "CNV", "--hardware", "ZCU104-FINN")
    assert code == 2 and err.rstrip().endswith("choose one: pass precision='int4' (--precision int4)")


def test_precision_error_suggests_the_default_precision():
    # Jetson Nano's default_precision is fp16; int4 has no peak there
    with pytest.raises(PrecisionError, match=r"pass precision='fp16' \(--precision fp16\)"):
        rk.predict("ResNet-50", "Jetson Nano", precision="int4")


def test_precision_error_suggests_a_32_bit_type_over_fp64():
    # a device without default_precision whose peaks run from int4 to fp64: fp32, not fp64, is suggested
    a100 = rk.get_hardware("A100-PCIe-40GB").model_copy(update={"default_precision": None})
    with pytest.raises(PrecisionError, match=r"pass precision='fp32' \(--precision fp32\)"):
        rk.predict("ResNet-50", a100, precision="int2")


def test_unknown_precision_gets_no_hardware_hint():
    with pytest.raises(PrecisionError, match=r"unknown precision") as info:
        rk.predict("CNV", "ZCU104-FINN", precision="int3x")
    assert "choose one" not in str(info.value)


# --- 7. errors name the option the user gave -----------------------------------------------------------------


def test_hardware_show_missing_file_names_the_command(capsys):
    code, _, err = run(capsys, "hardware", "show", "nonexist.yaml")
    assert code == 2 and "hardware show nonexist.yaml: no such file" in err and "--hardware" not in err


def test_plot_layers_measured_names_its_option(tmp_path):
    path = tmp_path / "rand.csv"
    path.write_bytes(bytes([0xFF, 0xFE, 0xB0, 0x00]) * 32)
    with pytest.raises(PlotError, match=r"^--measured '.*rand\.csv' is not a readable CSV"):
        _read_records(path, "--measured")


def test_plot_layers_measured_on_the_command_line(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, err = run(capsys, "plot", "layers", "LeNet-MNIST", "--hardware", "ZCU104-DPU", "--precision", "int8",
                       "--measured", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x.png"))
    assert code == 2 and "--measured '" in err and "--records" not in err


def test_align_names_a_columns_target_that_is_not_a_record_column(capsys, tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("board,model,prec,ms\nZCU104-DPU,ResNet-50,int8,3.2\n")
    code, _, err = run(capsys, "align", str(path), "--columns",
                       "board=hardware,model=network,prec=precision,ms=latncy_s")
    assert code == 2
    assert "'latncy_s' is a columns= / --columns target, did you mean 'latency_s'?" in err


def test_load_table_names_a_set_key_that_is_not_a_record_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("hardware,network,latency_s\nA,N,2\n")
    with pytest.raises(RecordError, match=r"'framwork' is a constants= / --set key, did you mean 'framework' or "
                                         r"'framework_version'\?"):
        load_table(path, constants={"framwork": "TFLite"})


# --- 8. op rates written as datasheets write them ------------------------------------------------------------


def test_hardware_yaml_takes_tflops(tmp_path):
    path = tmp_path / "npu.yaml"
    path.write_text("hardware:\n  - name: My NPU\n    kind: NPU\n    peak_ops_per_s: {int8: 26 TFLOPS, "
                    "fp16: 13 TFLOP/s}\n    memories:\n      - name: DRAM\n        capacity_bytes: 1 GB\n"
                    "        bandwidth_bytes_per_s: 10 GB/s\n        stores: [weights, activations]\n"
                    "        source: a test\n"
                    "    source: a test\n")
    (spec,) = load_hardware_file(path)
    assert spec.peak("int8") == 26e12 and spec.peak("fp16") == 13e12


# --- 9. options that were silently ignored -------------------------------------------------------------------


def test_framework_without_calibration_warns():
    with pytest.warns(RooflineWarning, match=r"framework 'TensorRT' is ignored"):
        rk.predict("ResNet-50", "ZCU104-DPU", framework="TensorRT")
    with pytest.warns(RooflineWarning, match=r"^framework_version '1\.0' is ignored"):  # the option given is named
        rk.predict("ResNet-50", "ZCU104-DPU", framework_version="1.0")


def test_framework_without_calibration_warns_on_the_command_line(capsys):
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "ZCU104-DPU", "--framework", "TensorRT")
    assert code == 0 and "warning: framework 'TensorRT' is ignored" in err


def test_no_framework_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)
        rk.predict("ResNet-50", "ZCU104-DPU")


def test_calibration_and_calibrated_together_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "Jetson Nano", "--calibrated",
                       "--calibration", str(tmp_path / "c.json"))
    assert code == 2 and "--calibration FILE and --calibrated both given; pick one" in err


def test_layer_mode_on_an_aggregate_network_says_it_is_network_mode():
    assert rk.get_network("CNV").kind == "aggregate"
    layer = rk.predict("CNV", "ZCU104-FINN", precision="int4", mode="layer")
    network = rk.predict("CNV", "ZCU104-FINN", precision="int4", mode="network")
    assert layer.fps == network.fps
    assert any("CNV has no layers" in n and "layer mode is network mode" in n for n in layer.notes)
    assert not any("has no layers" in n for n in network.notes)
    assert not any("has no layers" in n for n in rk.predict("LeNet-MNIST", "ZCU104-DPU", precision="int8",
                                                               mode="layer").notes)
