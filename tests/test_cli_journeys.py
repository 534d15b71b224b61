"""The user journeys of issue 13: your hardware, your model file, your measurements, readable output, tf32,
notebook reprs, progress bars. Expected numbers are derived by hand in the comments."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import termios
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.cli import cli_message, main
from rooflinekit.descriptors import DType, HardwareKind, HardwareSpec
from rooflinekit.display import format_value, render_table, si
from rooflinekit.errors import SpecError
from rooflinekit.units import parse_quantity

NPU_YAML = """\
hardware:
  - name: My-NPU
    kind: npu
    peak_ops_per_s:
      int8: 26 tops
      fp32: 1 tops
    memories:
      - name: DRAM
        capacity_bytes: 8 gB
        bandwidth_bytes_per_s: 1 GB/s
        stores: [weights, activations]
        source: assumed
    tdp_w: 2.5 W
    source: test spec
"""


@pytest.fixture
def npu(tmp_path: Path) -> Path:
    path = tmp_path / "my_npu.yaml"
    path.write_text(NPU_YAML, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. your own hardware --------------------------------------------------------------------------------------


def test_hardware_yaml_path_in_cli_and_python(capsys, npu):
    # ResNet-50 (QuTiBench, int8): 7.72e9 ops and 25.5e6 weight bytes per frame. On 26 TOPS and 1 GB/s:
    # compute 7.72e9 / 26e12 = 0.297 ms, memory 25.5e6 / 1e9 = 25.5 ms -> memory-bound, fps = 1e9 / bytes ~ 39.2
    code, out, err = run(capsys, "predict", "ResNet-50", "--hardware", npu, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["hardware"] == "My-NPU" and data["bound"] == "memory:DRAM"
    assert data["fps"] == pytest.approx(1e9 / data["bytes"])
    assert data["bytes"] == pytest.approx(25.5e6, rel=1e-3)
    assert data["fps_per_w"] == pytest.approx(data["fps"] / 2.5)
    python = rk.predict("ResNet-50", str(npu))
    assert python.fps == pytest.approx(data["fps"])


def test_model_file_and_hardware_file_in_python(tmp_path, npu):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    # one MatMul [1, 64] x [64, 32] in fp32: 2 * 64 * 32 = 4096 ops, weights 64 * 32 * 4 = 8192 bytes.
    # fp32 1 TOPS, 1 GB/s: compute 4.1 ns, memory 8.192 us -> fps = 1e9 / 8192 = 122070.3125
    weight = numpy_helper.from_array(np.ones((64, 32), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])], [weight])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    prediction = rk.predict(str(path), str(npu))
    assert prediction.ops == 4096
    assert prediction.fps == pytest.approx(1e9 / 8192)


def test_hardware_schema_command_and_show_file(capsys, npu):
    code, out, _ = run(capsys, "hardware", "schema")
    schema = json.loads(out)
    assert code == 0 and schema["required"] == ["hardware"]
    assert set(schema["$defs"]) >= {"HardwareSpec", "MemoryLevel", "ComputeEngine"}
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    jsonschema.validate(yaml.safe_load(NPU_YAML), schema)
    for path in sorted(Path(rk.catalog.HARDWARE_DIR).glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    code, out, _ = run(capsys, "hardware", "show", npu)
    assert code == 0 and "My-NPU" in out and "26T" in out


def test_hardware_schema_refuses_csv(capsys):
    code, out, err = run(capsys, "hardware", "schema", "--format", "csv")
    assert code != 0 and out == ""
    assert err.strip().count("\n") == 0 and "--format json" in err


def test_spec_errors_one_line_per_field(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        hardware:
          - name: Bad
            kind: gpu
            peak_ops_per_s: {int8: 26 parsecs}
            memory: [{name: x}]
            source: me
        """), encoding="utf-8")
    code, out, err = run(capsys, "predict", "ResNet-50", "--hardware", bad)
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 3 and all(line.startswith("rooflinekit: error: bad.yaml: Bad: ") for line in lines)
    assert any("peak_ops_per_s.int8: unknown unit 'parsecs'" in line for line in lines)
    assert any("memories: required field is missing" in line for line in lines)
    assert any(line.split(": ")[4] == "memory" and "unknown field" in line for line in lines)
    assert "pydantic" not in err and "http" not in err


def test_units_and_kind_case_insensitive():
    assert parse_quantity("26 tops", "ops_per_s") == 26e12
    assert parse_quantity("19.2 gB/S", "bytes_per_s") == 19.2e9
    with pytest.raises(rk.errors.UnitError, match="bits"):
        parse_quantity("19.2 Gb/s", "bytes_per_s")  # gigabits or gigabytes: refused
    assert parse_quantity("216 MHZ", "hz") == 216e6
    with pytest.raises(rk.errors.UnitError, match="ambiguous"):
        parse_quantity("216 mhz", "hz")  # milli or mega: refused, never silently 0.216 Hz
    assert parse_quantity("512 KIB", "bytes") == 512 * 1024
    assert parse_quantity("5 mW", "w") == 5e-3  # m stays milli
    with pytest.raises(rk.errors.UnitError, match="bits"):
        parse_quantity("2 b", "bytes")  # bits or bytes: refused
    assert HardwareKind("npu") is HardwareKind.NPU


@pytest.mark.parametrize("query, expected", [("A100", "A100-SXM4-40GB"), ("zcu104", "ZCU104-DPU")])
def test_did_you_mean_on_partial_names(capsys, query, expected):
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", query)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "did you mean" in err and expected in err


def test_missing_hardware_file(capsys):
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "nope.yaml")
    assert code == 2 and err.startswith("rooflinekit: error: --hardware nope.yaml: no such file")


# --- 2. missing extras, broken pipes, warnings, hints -------------------------------------------------------------


_IMPORTERS = ("rooflinekit.importers.onnx", "rooflinekit.importers.tflite")


@pytest.fixture
def hide(monkeypatch):
    """``hide("onnx")`` makes ``import onnx`` fail and drops the importer modules that cached it; afterwards the
    importer modules are put back as they were (none imported while hidden is left behind, broken)."""
    import rooflinekit.importers as importers

    before = {k: v for k, v in sys.modules.items() if k.startswith(_IMPORTERS)}
    attributes = {n: getattr(importers, n) for n in ("onnx", "tflite") if hasattr(importers, n)}

    def hide_(*modules: str) -> None:
        for name in modules:
            monkeypatch.setitem(sys.modules, name, None)
        for name in [k for k in sys.modules if k.startswith(_IMPORTERS)]:
            del sys.modules[name]

    yield hide_
    for name in [k for k in sys.modules if k.startswith(_IMPORTERS)]:
        del sys.modules[name]
    sys.modules.update(before)
    for name in ("onnx", "tflite"):
        if name in attributes:
            setattr(importers, name, attributes[name])
        elif hasattr(importers, name):
            delattr(importers, name)


@pytest.mark.parametrize("module, suffix, extra", [("onnx", ".onnx", "onnx"), ("tflite", ".tflite", "tflite")])
def test_missing_importer_extra_is_one_line(capsys, hide, tmp_path, module, suffix, extra):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"not read")
    hide(module)
    code, out, err = run(capsys, "predict", path, "--hardware", "ZCU104-DPU")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert f'pip install "rooflinekit[{extra}]"' in err or f"pip install 'rooflinekit[{extra}]'" in err


def test_importers_work_again_after_hiding():
    pytest.importorskip("tflite")
    from rooflinekit.importers.tflite import _reading

    assert getattr(_reading, "tflite", object()) is not None  # the real package, not the hidden one


def test_missing_plot_extra_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    code, _, err = run(capsys, "plot", "roofline", "--hardware", "ZCU104-DPU", "--out", tmp_path / "r.png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "rooflinekit[plot]" in err


def test_broken_pipe_exits_quietly():
    # a 4 KiB pipe and a reader that stops after one line: the writer's next write fails with EPIPE
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    process = subprocess.Popen([sys.executable, "-m", "rooflinekit.cli", "models", "show", "ResNet-20-CIFAR-10",
                                "--format", "json"], stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        first = pipe.readline()
    _, err = process.communicate(timeout=120)
    assert first.strip() == b"{"
    assert process.returncode == 0
    assert b"Traceback" not in err and b"BrokenPipeError" not in err


def test_shell_head_exits_zero():
    result = subprocess.run(f"set -o pipefail; {sys.executable} -m rooflinekit.cli hardware list | head -2",
                            shell=True, capture_output=True, text=True, executable="/bin/bash", timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr and len(result.stdout.splitlines()) == 2


def test_warnings_are_one_line(capsys):
    # ResNet-50's 25.5 MB of weights do not fit the 2 MB flash of a NUCLEO-F767ZI: a CapacityWarning
    code, out, err = run(capsys, "predict", "ResNet-50", "--hardware", "NUCLEO-F767ZI", "--format", "json")
    assert code == 0 and json.loads(out)["fits"] is False
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ResNet-50 on NUCLEO-F767ZI: ")
    code, _, err = run(capsys, "predict", "ResNet-50", "--hardware", "NUCLEO-F767ZI", "--quiet")
    assert code == 0 and err == ""


def test_hints_in_command_line_syntax():
    assert cli_message("input 'x' dim 'N' is unbound; pass input_shapes={'x': [...]}") == \
        "input 'x' dim 'N' is unbound; pass --input-shape x=..."
    assert cli_message("the batch is 1 (batch=1 in Python, --batch 1 on the command line)") == \
        "the batch is 1 (--batch 1 on the command line)"
    # a record's fields listed in a reason are data, not a hint: they stay as written
    listed = "2 records of one configuration (network=KWS, pruning_pct=100.0, batch=1, framework=TFLM)"
    assert cli_message(listed) == listed


# --- 3. your own measurements ---------------------------------------------------------------------------------

RUNS = """\
board,model,prec,ms
ZCU104-DPU,ResNet-50,int8,2.5
EdgeTPU fast,ResNet50,int8,4.0
Hailo-9000,ResNet-50,int8,1.0
"""


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs.csv"
    path.write_text(RUNS, encoding="utf-8")
    return path


MAPPING = ["--columns", "board=hardware,model=network,prec=precision,ms=latency_s", "--units", "latency_s=ms",
           "--set", "batch=1"]


def test_align_with_column_mapping(capsys, runs):
    # ZCU104-DPU: 4.6 TOPS / 7.72e9 ops = 595.85 fps predicted; 2.5 ms measured = 400 fps -> 67.13 %
    # EdgeTPU-fast: 4 TOPS / 7.72e9 = 518.13 fps; 4 ms = 250 fps -> 48.25 %
    code, out, err = run(capsys, "align", runs, *MAPPING, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    efficiency = {row["hardware"]: row["efficiency_pct"] for row in data["matched"]}
    assert efficiency["ZCU104-DPU"] == pytest.approx(100 * 400 / (4.6e12 / 7.72e9))
    assert efficiency["EdgeTPU fast"] == pytest.approx(100 * 250 / (4e12 / 7.72e9))
    [unmatched] = data["unmatched_records"]
    assert unmatched["hardware"] == "Hailo-9000" and "unknown hardware 'Hailo-9000'" in unmatched["reason"]
    code, out, _ = run(capsys, "align", runs, *MAPPING)
    assert "2 of 3 records matched" in out and "67.1 %" in out and "runs.csv:4: Hailo-9000" in out


def test_efficiency_summary(capsys, runs):
    code, out, _ = run(capsys, "efficiency", runs, *MAPPING, "--format", "json")
    summary = {row["hardware"]: row for row in json.loads(out)["summary"]}
    assert code == 0 and summary["ZCU104-DPU"]["n"] == 1
    assert summary["ZCU104-DPU"]["efficiency_median_pct"] == pytest.approx(100 * 400 / (4.6e12 / 7.72e9))


def test_bad_mapping_is_a_cli_error(capsys, runs):
    code, _, err = run(capsys, "align", runs, "--columns", "board")
    assert code == 2 and "--columns 'board': write NAME=VALUE pairs" in err


def test_calibrate_with_column_mapping(capsys, tmp_path):
    table = tmp_path / "tiny.csv"
    table.write_text(textwrap.dedent("""\
        board,model,prec,stack,ms
        NUCLEO-F767ZI,ResNet-20-CIFAR-10,int8,TFLite Micro,120
        NUCLEO-F767ZI,LeNet-MNIST,int8,TFLite Micro,4.1
        NUCLEO-L4R5ZI,ResNet-20-CIFAR-10,int8,TFLite Micro,410
        NUCLEO-L4R5ZI,LeNet-MNIST,int8,TFLite Micro,13.5
        """), encoding="utf-8")
    out_file = tmp_path / "cal.json"
    code, out, err = run(capsys, "calibrate", table, "--columns",
                         "board=hardware,model=network,prec=precision,stack=framework,ms=latency_s",
                         "--units", "latency_s=ms", "--set", "batch=1", "--out", out_file, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["n_records"] == 4 and out_file.is_file()
    assert data["in_sample"]["n"] == 4 and data["in_sample"]["median_ape_pct"] >= 0
    code, out, _ = run(capsys, "calibrate", table, "--columns",
                       "board=hardware,model=network,prec=precision,stack=framework,ms=latency_s",
                       "--units", "latency_s=ms", "--set", "batch=1", "--out", out_file)
    assert "in-sample error: median" in out
    assert out.splitlines()[4].split()[0] == "level" and out.splitlines()[5].split()[0] == "base"


# --- 4. human tables ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["hardware", "list"], ["models", "list"], ["count", "ResNet-20-CIFAR-10"],
    ["hardware", "show", "Jetson AGX Orin 64GB"], ["models", "show", "ResNet-50"],
    ["predict", "ResNet-50", "--hardware", "ZCU104-DPU"],
    ["predict", "ResNet-20-CIFAR-10", "--hardware", "NUCLEO-F767ZI", "--mode", "layer"],
    ["sweep", "--models", "ResNet-50 80%,MobileNetv1", "--hardware", "EdgeTPU-fast,A100-SXM4-40GB", "--batches",
     "1,8"],
])
def test_tables_at_most_120_wide(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 120


def test_hardware_list_columns(capsys):
    code, out, _ = run(capsys, "hardware", "list")
    header = out.splitlines()[1].split()
    assert header[:5] == ["name", "kind", "bandwidth_bytes_per_s", "memory_bytes", "tdp_w"]
    a100 = next(line for line in out.splitlines() if line.startswith("A100-SXM4-40GB "))
    assert "1.55 TB/s" in a100 and "40 GB" in a100 and "400 W" in a100 and "624T" in a100 and "156T" in a100
    code, out, _ = run(capsys, "hardware", "list", "--format", "json")
    row = next(r for r in json.loads(out) if r["name"] == "A100-SXM4-40GB")
    assert row["bandwidth_bytes_per_s"] == 1555e9 and row["tdp_w"] == 400 and row["peak_ops_per_s"]["int8"] == 624e12


def test_si_cells():
    assert si(624e12, "OPS") == "624 TOPS"
    assert si(2.039e12, "B/s") == "2.04 TB/s"
    assert format_value("latency_s", 1.25e-3) == "1.25 ms"
    assert format_value("fps_per_w", 259.07) == "259.1"
    assert si(999.7e9, "OPS") == "1 TOPS"
    wide = pd.DataFrame({f"column_{i}": [1.0] for i in range(30)})
    text = render_table(wide)
    assert max(len(line) for line in text.splitlines()) <= 120 and "--wide" in text
    assert max(len(line) for line in render_table(wide, wide=True).splitlines()) > 120


def test_predict_table_has_si_and_fps_per_w(capsys):
    code, out, _ = run(capsys, "predict", "ResNet-50", "--hardware", "A100-SXM4-40GB")
    fields = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    # int8 on A100: memory 25.5e6 B / 1.555e12 B/s = 16.4 us vs compute 7.72e9 / 624e12 = 12.4 us
    assert fields["latency_s"] == "16.4 µs" and fields["peak_ops_per_s"] == "624 TOPS"
    assert float(fields["fps_per_w"]) == pytest.approx(1.555e12 / 25.5e6 / 400, rel=2e-3)


# --- 5. tf32 and default precision ----------------------------------------------------------------------------


def test_tf32_on_a100(capsys):
    assert DType.parse("TF32") is DType.TF32 and DType.TF32.bits == 32
    code, out, _ = run(capsys, "predict", "ResNet-50", "--hardware", "A100-SXM4-40GB", "--precision", "tf32",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["precision"] == "tf32" and data["peak_ops_per_s"] == 156e12
    # fp32 tensors (4 bytes/weight = 102 MB): memory 102e6 / 1.555e12 = 65.6 us > compute 7.72e9 / 156e12 = 49.5 us
    assert data["bytes"] == pytest.approx(4 * 25.5e6, rel=1e-3)
    assert data["fps"] == pytest.approx(1.555e12 / data["bytes"])
    fp32 = rk.predict("ResNet-50", "A100-SXM4-40GB", precision="fp32")
    assert fp32.fps == pytest.approx(19.5e12 / 7.72e9)  # CUDA-core fp32, compute-bound


def test_default_precision_when_the_network_type_is_not_native():
    # ResNet-50 is int8; the Jetson Nano has fp16 and fp32 only, fp16 is its default
    prediction = rk.predict("ResNet-50", "Jetson Nano")
    assert prediction.precision == "fp16"
    assert any("Jetson Nano's default" in note for note in prediction.notes)
    with pytest.raises(rk.errors.PrecisionError):
        rk.predict("ResNet-50", "Jetson Nano", precision="int8")  # an explicit precision is never replaced
    with pytest.raises(SpecError, match="default_precision 'int8' has no peak"):
        HardwareSpec.model_validate({**__import__("yaml").safe_load(NPU_YAML)["hardware"][0],
                                     "peak_ops_per_s": {"fp32": 1e12}, "default_precision": "INT8"})


# --- 6. notebooks ---------------------------------------------------------------------------------------------


def test_prediction_repr_and_html():
    prediction = rk.predict("ResNet-50 80%", "ZCU102-DPU", precision="int8")
    text = repr(prediction)
    assert len(text) <= 150 and "\n" not in text
    assert text.startswith("Prediction(ResNet-50 80% on ZCU102-DPU, int8, batch 1: 797.5 fps, 1.25 ms")
    html = prediction._repr_html_()
    assert html.startswith("<table>") and "<td style='text-align:left'>797.5</td>" in html


# --- 7. progress bars -----------------------------------------------------------------------------------------


def _sweep_stderr(tty: bool) -> str:
    argv = [sys.executable, "-m", "rooflinekit.cli", "sweep", "--models", "LeNet-MNIST,ResNet-20-CIFAR-10,CNV",
            "--hardware", "ZCU104-DPU", "--precisions", "int8", "--format", "csv"]
    if not tty:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120).stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_tty_only():
    pytest.importorskip("tqdm")
    assert "sweep" in _sweep_stderr(tty=True) and "network" in _sweep_stderr(tty=True)
    assert _sweep_stderr(tty=False) == ""


@pytest.mark.parametrize("command", ["align", "calibrate"])
def test_unmapped_columns_named_in_cli_terms(capsys, runs, tmp_path, command):
    extra = ["--out", tmp_path / "c.json"] if command == "calibrate" else []
    code, _, err = run(capsys, command, runs, *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("rooflinekit: error: runs.csv: no hardware, network, ")
    assert "its columns are board, model, prec, ms; map them, e.g. --columns board=hardware" in err
    assert "calibration_features" not in err


def test_readme_hardware_example_is_valid(capsys, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Describe your own hardware")[1].split("```yaml\n")[1].split("```")[0]
    path = tmp_path / "my_npu.yaml"
    path.write_text(block, encoding="utf-8")
    # ResNet-50 int8: 25.5e6 weight bytes per frame at 12.8 GB/s -> 501.9 fps, memory-bound; 2.5 W -> 200.8 fps/W
    code, out, err = run(capsys, "predict", "ResNet-50", "--hardware", path, "--format", "json")
    data = json.loads(out)
    assert code == 0, err
    assert data["fps"] == pytest.approx(12.8e9 / 25.5e6, rel=1e-3) and data["bound"] == "memory:LPDDR4"
    assert data["fps_per_w"] == pytest.approx(data["fps"] / 2.5)


def test_calibrate_says_up_front_that_an_aggregate_network_cannot_be_calibrated(capsys, tmp_path):
    table = tmp_path / "agg.csv"
    table.write_text("board,model,prec,ms\nNUCLEO-F767ZI,ResNet-20-CIFAR-10,int8,120\n"
                     "NUCLEO-F767ZI,LeNet-MNIST,int8,4.1\nNUCLEO-L4R5ZI,ResNet-50,int8,9000\n", encoding="utf-8")
    code, _, err = run(capsys, "calibrate", table, "--columns",
                       "board=hardware,model=network,prec=precision,ms=latency_s", "--units", "latency_s=ms",
                       "--set", "batch=1", "--out", tmp_path / "c.json")
    first = err.splitlines()[0]
    assert code == 0 and first.startswith("warning: agg.csv: ResNet-50 is known only by totals")
    assert "--models PATH" in first
