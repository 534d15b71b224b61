"""The command line: output contracts and one-line errors."""

import io
import json
import subprocess
import sys

import pytest

import pandas as pd

from rooflinekit import hardware_catalog, predict
from rooflinekit.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_count_json_contract(capsys):
    code, out, _ = run(capsys, "count", "LeNet-MNIST", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"network", "precision", "batch", "totals", "layers", "unsupported_ops"}
    assert set(data["totals"]) == {"macs", "ops", "params", "weight_bytes", "activation_bytes"}
    assert set(data["layers"][0]) == {"name", "op", "source_op", "macs", "ops", "params", "weight_bytes",
                                      "input_bytes", "output_bytes"}
    assert data["totals"]["macs"] == 274_656


def test_count_batch_scales(capsys):
    _, out, _ = run(capsys, "count", "LeNet-MNIST", "--batch", "4", "--format", "json")
    assert json.loads(out)["totals"]["macs"] == 4 * 274_656


def test_predict_json_contract(capsys):
    code, out, _ = run(capsys, "predict", "ResNet-50 80%", "--hardware", "ZCU102-DPU", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {"network", "hardware", "precision", "batch", "mode", "fps", "latency_s", "bound", "ops", "bytes",
            "operational_intensity", "attainable_ops_per_s"} <= set(data)
    assert data["fps"] == pytest.approx(797.5045872, rel=1e-6)
    assert data["bound"] == "memory:DRAM"  # OI 271.65 ops/B is below the ridge 6.71 TOP/s / 19.2 GB/s = 349.5


def test_predict_layer_mode_csv(capsys):
    code, out, _ = run(capsys, "predict", "ResNet-20-CIFAR-10", "--hardware", "NUCLEO-F767ZI", "--mode", "layer",
                       "--traffic", "weights_and_activations", "--format", "csv")
    assert code == 0
    row = pd.read_csv(io.StringIO(out)).iloc[0]
    expected = predict("ResNet-20-CIFAR-10", "NUCLEO-F767ZI", mode="layer", traffic="weights_and_activations")
    assert (row["network"], row["hardware"], row["mode"], row["batch"]) == ("ResNet-20-CIFAR-10", "NUCLEO-F767ZI",
                                                                         "layer", 1)
    assert row.latency_s == pytest.approx(expected.latency_s)


def test_sweep_table(capsys):
    code, out, _ = run(capsys, "sweep", "--models", "CNV,MLP", "--hardware", "ZCU104-FINN", "--precisions",
                       "int2,int4", "--format", "csv")
    assert code == 0
    assert len(out.strip().splitlines()) == 1 + 2 * 2


def test_sweep_kernels_are_counts_and_notes_are_text(capsys):
    # LeNet-MNIST: 13 layers, its four ReLUs and the softmax fused into the layer before them: 8 kernels; ResNet-50
    # (25.5 MB of int8 weights) cannot fit the 2 MB flash of the NUCLEO-F767ZI; the BISMO overlay has no int8
    argv = ["sweep", "--models", "LeNet-MNIST,ResNet-50", "--hardware", "ZCU104-DPU,NUCLEO-F767ZI,ZCU104-BISMO",
            "--precisions", "int8"]
    code, out, _ = run(capsys, *argv, "--format", "json")
    rows = {(r["network"], r["hardware"]): r for r in json.loads(out)}
    assert code == 0 and rows[("LeNet-MNIST", "ZCU104-DPU")]["kernels"] == 8
    assert isinstance(rows[("LeNet-MNIST", "ZCU104-DPU")]["kernels"], int)
    assert rows[("LeNet-MNIST", "ZCU104-BISMO")]["kernels"] is None
    code, out, _ = run(capsys, *argv, "--format", "csv")
    table = pd.read_csv(io.StringIO(out), keep_default_na=False).set_index(["network", "hardware"])
    assert table.loc[("LeNet-MNIST", "ZCU104-DPU"), "kernels"] == "8"
    assert table.loc[("LeNet-MNIST", "ZCU104-DPU"), "notes"] == ""  # no notes: an empty cell, not "()"
    assert table.loc[("ResNet-50", "NUCLEO-F767ZI"), "notes"].startswith("does not fit: Flash must hold 25.5 MB")


def test_hardware_and_models_listing(capsys):
    code, out, _ = run(capsys, "hardware", "list", "--format", "csv")
    assert code == 0
    assert len(pd.read_csv(io.StringIO(out))) == len(hardware_catalog().specs)
    code, out, _ = run(capsys, "hardware", "show", "tx2 - maxn", "--format", "json")
    assert json.loads(out)["name"] == "TX2-maxn"
    code, out, _ = run(capsys, "models", "show", "CNV_12.5", "--format", "json")
    assert json.loads(out)["pruning_pct"] == 12.5
    code, out, _ = run(capsys, "models", "list", "--format", "csv")
    assert "ResNet-50 80%" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "NoSuchNet", "--hardware", "ZCU104-DPU"], "unknown model 'NoSuchNet'"),
        (["predict", "ResNet-50", "--hardware", "Nope"], "unknown hardware 'Nope'"),
        (["predict", "ResNet-50", "--hardware", "ZCU104-DPU", "--precision", "int3"], "unknown precision 'int3'"),
        (["count", "missing.onnx"], "missing.onnx: no such model file"),
        (["count", "model.pb"], None),
        (["models", "show"], "'models show' needs a NAME"),
        (["count", "LeNet-MNIST", "--input-shape", "x"], "--input-shape 'x': write NAME=D1,D2"),
        (["sweep", "--models", "CNV", "--batches", "one"], "--batches 'one': write whole numbers"),
    ],
)
def test_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    if argv[-1] == "model.pb":
        (tmp_path / "model.pb").write_bytes(b"\x00")
        message = "model.pb: unknown model format '.pb'"
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("rooflinekit: error: ")
    assert message in err


def test_usage_error_is_one_line_without_traceback():
    result = subprocess.run([sys.executable, "-m", "rooflinekit.cli", "predict", "ResNet-50"], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "the following arguments are required: --hardware" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_warning_met_twice_in_one_command_is_printed_once(capsys):
    # LeNet is fp32 and the GPU (Offline) calibration has no fp32 records: the same "no calibration record had ..."
    # warning is raised by the estimate and by its interval; the command line says it once
    assert main(["predict", "LeNet-5", "--hardware", "A100-SXM4-80GB", "--batch", "2", "--calibrated"]) == 0
    err = capsys.readouterr().err
    assert err.count("no calibration record had") == 1


def test_sweep_says_on_stderr_how_many_rows_failed(capsys):
    # Jetson Nano has fp16 and fp32 peaks only: the int8 row fails, the ZCU104-DPU (int8) row does not
    code, out, err = run(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "Jetson Nano,ZCU104-DPU",
                         "--precisions", "int8", "--format", "csv")
    assert code == 0 and len(out.strip().splitlines()) == 3  # header + both rows, the failed one kept
    assert "warning: 1 of 2 predictions failed (the 'status' column), e.g. Jetson Nano has no native int8 peak" in err


def test_llm_on_a_binary_model_file_is_a_one_line_error(capsys, tmp_path):
    model = tmp_path / "kws_ref_model.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3\xff\xfe\x80\x81")  # a .tflite header: not UTF-8 text
    code, out, err = run(capsys, "llm", str(model), "--hardware", "H100-SXM5-80GB")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "kws_ref_model.tflite: not a config.json" in err
    assert "bundled config name" in err and "config.json" in err and ".onnx decoder export" in err
    text = tmp_path / "notes.txt"
    text.write_text("not json at all\n", encoding="utf-8")
    code, _, err = run(capsys, "llm", str(text), "--hardware", "H100-SXM5-80GB")
    assert code == 2 and err.count("\n") == 1 and "not valid JSON" in err and ".onnx decoder export" in err


def test_llm_traffic_offers_only_the_accepted_models(capsys):
    code, out, _ = run(capsys, "llm", "--help")
    assert code == 0 and "{weights_only,weights_and_activations}" in out and "on_chip_if_fits" not in out
    code, _, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--traffic", "on_chip_if_fits")
    assert code == 2 and "invalid choice: 'on_chip_if_fits'" in err


def test_version_is_the_package_version_without_heavy_imports():
    import tomllib
    from pathlib import Path

    expected = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
    probe = ("import sys; from rooflinekit.cli import main; code = main(['--version']); "
             "print(code, sorted(m for m in ('pandas', 'rooflinekit.llm', 'rooflinekit.catalog') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.splitlines() == [f"rooflinekit {expected}", "0 []"]


def test_table_lists_of_numbers_get_si_prefixes():
    from rooflinekit.display import format_value, render_fields

    # 0.024650658 s = 24.65 ms -> three digits 24.7 ms; 0.051140208 s -> 51.1 ms
    assert format_value("latency_interval_s", (0.024650658418725897, 0.051140208096698996)) == "24.7 ms, 51.1 ms"
    assert render_fields({"latency_interval_s": [0.0011604, 0.0018336]}) == "latency_interval_s  1.16 ms, 1.83 ms"
    assert format_value("calibration_levels", ["core_family: Ampere", "system: A100"]) == \
        "core_family: Ampere, system: A100"


def test_llm_uses_the_models_own_type(capsys):
    code, out, _ = run(capsys, "llm", "Llama-3.1-8B", "--hardware", "H100-SXM5-80GB", "--prompt", "64",
                       "--generate", "2")
    assert code == 0 and "; weights bf16, base bf16, KV bf16" in out
    code, out, _ = run(capsys, "llm", "Llama-3.1-8B", "--hardware", "H100-SXM5-80GB", "--prompt", "64",
                       "--generate", "2", "--weights", "fp16")
    assert code == 0 and "; weights fp16, base fp16, KV fp16" in out


def test_llm_warns_beyond_the_context_window(capsys):
    code, out, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--prompt", "100000")
    assert code == 0 and err.count("\n") == 1
    assert "warning: Llama-2-7B: prompt 100,000 + generate 128 = 100,128 tokens exceed its context window of 4,096 " \
           "tokens" in err
    assert "largest context 4,096 tokens at batch 1 (the model's context window)" in out


def test_input_shape_hints_are_one_shell_word():
    from rooflinekit.cli import cli_message

    text = ("batch 4 contradicts input 'x'; override the model's shape with input_shapes={'x': [4, 3, 224, 224]} "
            "(--input-shape x=4,3,224,224), or export the model with a dynamic batch dim")
    assert cli_message(text) == ("batch 4 contradicts input 'x'; override the model's shape with "
                                 "--input-shape x=4,3,224,224, or export the model with a dynamic batch dim")


def test_models_show_table_matches_json_and_takes_model_files(capsys, tmp_path):
    code, out, _ = run(capsys, "models", "show", "CNV 50%")
    assert code == 0 and out.splitlines()[0].split() == ["name", "CNV", "50%"]
    assert out.splitlines()[2].split() == ["task", "CIFAR-10", "classification"]
    code, out, _ = run(capsys, "models", "show", "CNV 50%", "--format", "json")
    data = json.loads(out)
    assert (data["name"], data["label"], data["pruning_pct"]) == ("CNV", "CNV 50%", 50.0)
    # a model file, as predict and count take it: one 1x8 @ 8x4 MatMul
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    weights = numpy_helper.from_array(np.ones((8, 4), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [weights])
    path = tmp_path / "tiny.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    code, out, _ = run(capsys, "models", "show", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["layers"][0]["op"] == "fully_connected"  # a MatMul by a weight


# --- predict --layers: per-layer rows in every format -----------------------------------------------------------

_SLOW_MEMORY_DEVICE = """hardware:
  - name: Slow-Mem
    kind: NPU
    peak_ops_per_s:
      fp32: 1 GOPS
    memories:
      - name: SRAM
        capacity_bytes: 1 MB
        bandwidth_bytes_per_s: 1 MB/s
        stores: [weights, activations]
        source: test
    source: test
"""


def _matmul_relu(tmp_path):
    """x (1x8) @ w (8x4), then Relu: 32 MACs = 64 ops and 128 weight bytes (fp32)."""
    from onnx import helper

    from tests.onnx_builder import save_onnx, zeros

    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"), helper.make_node("Relu", ["h"], ["y"],
                                                                                         name="act")]
    return save_onnx(tmp_path, nodes, {"x": [1, 8]}, ["y"], [zeros("w", 8, 4)])


def test_predict_layers_csv_prints_the_layer_rows_hand_checked(capsys, tmp_path):
    model = _matmul_relu(tmp_path)
    device = tmp_path / "slow.yaml"
    device.write_text(_SLOW_MEMORY_DEVICE, encoding="utf-8")
    code, out, _ = run(capsys, "predict", str(model), "--hardware", str(device), "--mode", "layer", "--layers",
                       "--format", "csv")
    assert code == 0
    rows = pd.read_csv(io.StringIO(out))
    assert rows.columns.tolist() == ["name", "op", "ops", "weight_bytes", "time_s", "bound"]
    fc = rows[rows.name == "fc"].iloc[0]
    # weights-only traffic: 128 B at 1e6 B/s = 128 us against 64 ops at 1e9 ops/s = 64 ns: memory-bound
    assert (fc.op, fc.ops, fc.weight_bytes, fc.bound) == ("fully_connected", 64, 128, "memory:SRAM")
    assert fc.time_s == pytest.approx(128 / 1e6, rel=1e-12)
    assert rows.name.tolist() == ["fc", "act"]  # every layer, the fused Relu included
    # without --layers the CSV is the one summary row, as before
    _, out, _ = run(capsys, "predict", str(model), "--hardware", str(device), "--mode", "layer", "--format", "csv")
    assert len(pd.read_csv(io.StringIO(out))) == 1


def test_predict_layers_needs_per_layer_times(capsys):
    code, _, err = run(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--layers")
    assert code == 2 and "--mode layer" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "ZCU104-DPU", "--mode", "layer", "--layers")
    assert code == 2 and "aggregate" in err and len(err.strip().splitlines()) == 1


@pytest.mark.filterwarnings("ignore::rooflinekit.errors.RooflineWarning")
def test_predict_calibrated_layers_sum_to_the_estimate(capsys):
    argv = ["predict", "ResNet-50", "--hardware", "A100-SXM4-80GB", "--calibrated", "--batch", "64"]
    code, out, _ = run(capsys, *argv, "--layers", "--format", "csv")
    assert code == 0
    layers = pd.read_csv(io.StringIO(out))
    assert {"name", "calibration_class", "time_s", "calibrated_time_s"} <= set(layers.columns)
    _, out, _ = run(capsys, *argv, "--format", "json")
    summary = json.loads(out)
    # the estimate is the sum of the per-layer calibrated times plus the per-call overhead (none on this calibration
    # unless given): compared with the summary's latency, computed separately from the per-class sums
    assert layers.calibrated_time_s.sum() + (summary.get("call_overhead_s") or 0.0) == pytest.approx(
        summary["latency_s"], rel=1e-9)
    _, out, _ = run(capsys, *argv, "--layers", "--format", "json")
    assert len(json.loads(out)["layers"]) == len(layers)


# --- align / efficiency: records spelled differently, pruned labels ---------------------------------------------


def test_efficiency_groups_spellings_of_one_device_and_predicts_each_configuration_once(capsys, tmp_path):
    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,precision,batch,latency_s\n"
                     "ZCU104-DPU,ResNet-50,int8,1,0.004\n"
                     "zcu104 dpu,ResNet-50,int8,1,0.005\n"     # the same configuration, spelled otherwise
                     "ZCU104 DPU,resnet50,int8,2,0.008\n", encoding="utf-8")
    code, out, _ = run(capsys, "efficiency", str(table), "--by", "hardware", "--format", "json")
    data = json.loads(out)
    assert code == 0 and len(data["matched"]) == 3 and not data["unmatched_records"]
    fps = predict("ResNet-50", "ZCU104-DPU").fps  # compute-bound: the same fps at batch 1 and 2
    assert [row["efficiency_pct"] for row in data["matched"]] == pytest.approx(
        [100 * 250 / fps, 100 * 200 / fps, 100 * 250 / fps], rel=1e-9)
    (group,) = data["summary"]
    assert (group["hardware"], group["n"]) == ("ZCU104-DPU", 3)


def test_align_predicts_the_pruned_network_a_record_label_names(capsys, tmp_path):
    # no pruning column: the record's 'ResNet-50 80%' is ResNet-50 at 80 %, not the unpruned network
    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,precision,batch,latency_s\nZCU104-DPU,ResNet-50 80%,int8,1,0.004\n",
                     encoding="utf-8")
    code, out, _ = run(capsys, "align", str(table), "--format", "json")
    (row,) = json.loads(out)["matched"]
    assert code == 0 and row["predicted_fps"] == pytest.approx(predict("ResNet-50 80%", "ZCU104-DPU").fps)
    assert row["predicted_fps"] != pytest.approx(predict("ResNet-50", "ZCU104-DPU").fps)
