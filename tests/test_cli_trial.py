"""A command-line user's trial: each test is an invocation that printed a wrong or incomplete answer, dropped
something silently, or ended in a traceback (a few guard what a fix must keep). Expected values come from the
Python API called directly, the documented contract (README 'JSON output', the ``--help`` texts) or hand derivation
in the comments."""

from __future__ import annotations

import io
import json
import sys
import warnings
from typing import Any

import pandas as pd
import pytest

from conftest import one_error, run
from rooflinekit.cli import run as run_script
from rooflinekit.display import format_value

MCU = "NUCLEO-F767ZI"  # an MCU: the shipped MLPerf Tiny calibration applies to it
EFFICIENCY_COLUMNS = ["efficiency_median_pct", "efficiency_mean_pct", "efficiency_min_pct", "efficiency_max_pct"]


def strict_json(text: str) -> Any:
    """``text`` parsed as RFC 8259 JSON: NaN and Infinity are refused."""
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# --- predict --calibrated --------------------------------------------------------------------------------------------

def test_calibrated_layers_table_shows_the_summary_once_then_classes_then_layers(capsys):
    # the table printed the layer table twice (once in place of the summary) and never the latency, fps and interval
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rooflinekit.api import predict

        expected = predict("LeNet-MNIST", MCU, calibrated=True)  # the Python API's own calibrated path
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", MCU, "--calibrated", "--layers", "-q")
    lines = out.splitlines()
    assert code == 0
    assert f"latency_s           {format_value('latency_s', expected.latency_s)}" in lines
    assert f"fps                 {format_value('fps', expected.fps)}" in lines
    layer_headers = [i for i, line in enumerate(lines) if line.startswith("name ") and "calibration_class" in line]
    class_header = next(i for i, line in enumerate(lines) if line.startswith("op_class "))
    assert len(layer_headers) == 1 and class_header < layer_headers[0]  # README: 'prints them after the classes'
    # LeNet-MNIST has 13 layers (count's table): all of them, once, after the header
    assert len([line for line in lines[layer_headers[0] + 1:] if line.strip()]) == 13


def test_calibrated_layers_csv_is_still_the_layer_rows(capsys):
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", MCU, "--calibrated", "--layers",
                       "--format", "csv", "-q")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0 and len(frame) == 13
    assert list(frame.columns) == ["name", "op", "calibration_class", "ops", "time_s", "calibrated_time_s", "bound"]


def test_calibrated_warns_of_a_traffic_it_ignores(capsys):
    # --traffic was silently dropped: the calibrated estimate uses the traffic its factors were fitted on
    from rooflinekit.catalog import get_hardware
    from rooflinekit.compare.calibrate import default_calibration

    fitted = default_calibration(get_hardware(MCU)).traffic
    other = next(t for t in ("weights_only", "weights_and_activations") if t != fitted)
    base = ["predict", "LeNet-MNIST", "--hardware", MCU, "--calibrated", "--format", "json"]
    code, out, err = run(capsys, *base, "--traffic", other)
    said = [line for line in err if line.startswith(f"warning: --traffic {other} ignored")]
    assert code == 0 and len(said) == 1 and f"({fitted})" in said[0]
    _, plain, plain_err = run(capsys, *base)
    assert strict_json(out)["latency_s"] == strict_json(plain)["latency_s"]  # ignored, as the warning says
    assert not any("--traffic" in line for line in plain_err)
    _, _, same_err = run(capsys, *base, "--traffic", fitted)  # the calibration's own traffic: nothing to say
    assert not any("--traffic" in line for line in same_err)


def test_predict_without_traffic_still_uses_the_documented_default(capsys):
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", "A100-SXM4-40GB", "--format", "json")
    assert code == 0 and strict_json(out)["traffic"] == "weights_only"  # --help: 'default weights_only'


def test_framework_help_names_both_calibration_options(capsys):
    # --framework chooses the stack of --calibrated too (its note says 'pass ... --framework to choose'); the help
    # said 'for --calibration' only
    code, out, _ = run(capsys, "predict", "--help")
    text = " ".join(out.split())
    assert code == 0 and "software stack for --calibrated or --calibration" in text
    assert "stack version for --calibrated or --calibration" in text


# --- efficiency and align --------------------------------------------------------------------------------------------

def test_efficiency_without_a_match_keeps_its_summary_columns(capsys, tmp_path):
    # CSV printed align's record rows (other columns) and JSON had no 'summary' when no record matched
    records = tmp_path / "runs.csv"
    records.write_text("hardware,network,latency_s,batch\nNoSuchBoard,ResNet-50,0.01,1\n", encoding="utf-8")
    code, out, err = run(capsys, "efficiency", records, "--format", "csv")
    assert code == 0 and out.splitlines() == [",".join(["hardware", "n", *EFFICIENCY_COLUMNS])]
    assert [line for line in err if "not in the summary" in line] == [
        "warning: 1 of 1 records matched no prediction and are not in the summary, e.g. runs.csv:2: unknown "
        "hardware 'NoSuchBoard' (list them with 'rooflinekit hardware list'); 'rooflinekit align' lists them with "
        "their reasons"]
    code, out, _ = run(capsys, "efficiency", records, "--by", "network,batch", "--format", "csv")
    assert code == 0 and out.splitlines() == [",".join(["network", "batch", "n", *EFFICIENCY_COLUMNS])]
    code, out, _ = run(capsys, "efficiency", records, "--format", "json")
    assert code == 0 and strict_json(out)["summary"] == []  # README: 'efficiency adds summary array'
    code, _, err = run(capsys, "efficiency", records, "--by", "nocolumn")
    assert code == 2 and "nocolumn" in one_error(err)  # a --by typo is refused even when nothing matched


def test_efficiency_csv_says_which_records_it_left_out(capsys, tmp_path):
    records = tmp_path / "runs.csv"
    records.write_text("hardware,network,latency_s,batch\nZCU104-DPU,ResNet-50,0.002,1\nNoSuchBoard,ResNet-50,"
                       "0.01,1\n", encoding="utf-8")
    code, out, err = run(capsys, "efficiency", records, "--format", "csv")
    summary = pd.read_csv(io.StringIO(out))
    assert code == 0 and summary["hardware"].tolist() == ["ZCU104-DPU"] and summary["n"].tolist() == [1]
    # measured 1 / 0.002 s = 500 fps; predicted 595.85 fps (README, Quick start): 500 / 595.85 = 83.9 %
    assert summary["efficiency_median_pct"].iloc[0] == pytest.approx(83.9, abs=0.05)
    assert len([line for line in err if line.startswith("warning: 1 of 2 records matched no prediction")]) == 1


def test_align_csv_keeps_whole_numbers_whole(capsys, tmp_path):
    # an unmatched row (no record_index) turned every whole-number column into floats: '0.0', '1.0'
    records = tmp_path / "runs.csv"
    records.write_text("hardware,network,latency_s,batch\nZCU104-DPU,ResNet-50,0.002,1\nNoSuchBoard,ResNet-50,"
                       "0.01,1\n", encoding="utf-8")
    code, out, _ = run(capsys, "align", records, "--format", "csv")
    rows = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert code == 0 and rows["status"].tolist() == ["matched", "unmatched"]
    # the first record matched the first (and only) prediction: indices 0 and 0; the other has none
    assert rows["record_index"].tolist() == ["0", ""] and rows["prediction_index"].tolist() == ["0", ""]
    assert rows["batch"].tolist() == ["1", "1"] and rows["predicted_batch"].tolist() == ["1", ""]


def test_align_gives_every_spelling_of_a_failed_configuration_its_reason(capsys, tmp_path):
    # the second spelling of a configuration whose prediction failed was unmatched as 'no prediction with this
    # hardware (...)' instead of why the prediction failed
    from rooflinekit.api import predict
    from rooflinekit.display import one_line
    from rooflinekit.errors import RooflineError

    with pytest.raises(RooflineError) as failure:  # the Python API's own reason for this configuration
        predict("ResNet-50", "ZCU104-DPU", "int8", 1, traffic="weights_and_activations")
    records = tmp_path / "runs.csv"
    records.write_text("hardware,network,precision,latency_s,batch\nZCU104-DPU,ResNet-50,int8,0.002,1\n"
                       "ZCU104 DPU,resnet50,int8,0.002,1\n", encoding="utf-8")
    code, out, _ = run(capsys, "align", records, "--traffic", "weights_and_activations", "--format", "json")
    unmatched = strict_json(out)["unmatched_records"]
    assert code == 0 and [row["hardware"] for row in unmatched] == ["ZCU104-DPU", "ZCU104 DPU"]
    assert [row["reason"] for row in unmatched] == [one_line(str(failure.value))] * 2


# --- options -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["predict", "LeNet-MNIST", "--hardware", "NCS", "--hardware", "ZCU104-DPU"], "--hardware"),
    (["predict", "LeNet-MNIST", "--hardware", "NCS", "--format", "json", "--format", "csv"], "--format"),
    (["count", "LeNet-MNIST", "--batch", "2", "--batch", "8"], "--batch"),
])
def test_an_option_given_twice_with_different_values_is_refused(capsys, argv, option):
    # argparse kept the last value and dropped the first without a word
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert f"{option} is given twice" in one_error(err)


def test_an_option_repeated_with_the_same_value_is_accepted(capsys):
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", "NCS", "--hardware", "NCS", "--format",
                       "json")
    assert code == 0 and strict_json(out)["hardware"] == "NCS"


def test_a_folder_given_as_hardware_file_is_named_a_folder(capsys, tmp_path):
    (tmp_path / "npu.yaml").mkdir()
    code, _, err = run(capsys, "hardware", "show", tmp_path / "npu.yaml")
    assert code == 2 and "npu.yaml: a folder, not a file; give a hardware YAML file" in one_error(err)


# --- closed standard streams ---------------------------------------------------------------------------------------

def test_console_script_with_stdout_closed_says_so(capsys, monkeypatch):
    # 'rooflinekit hardware list >&-' (Python's sys.stdout is then None) ended in an AttributeError traceback
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr(sys, "argv", ["rooflinekit", "hardware", "list"])
    monkeypatch.setattr(sys, "stdout", None)
    code = run_script()
    assert code == 2
    assert capsys.readouterr().err == ("rooflinekit: error: standard output is closed; redirect it (> FILE or "
                                       "> /dev/null) instead of closing it\n")


def test_console_script_with_stderr_closed_keeps_stdout_clean(capsys, monkeypatch):
    # with '2>&-' (sys.stderr None) print(file=sys.stderr) wrote the warnings into stdout, ahead of the JSON
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr(sys, "argv", ["rooflinekit", "sweep", "--models", "ResNet-50", "--hardware", "ZCU104-DPU",
                                      "--precisions", "fp16", "--format", "json"])  # a failed row: a warning
    monkeypatch.setattr(sys, "stderr", None)
    code = run_script()
    sys.stderr.close()  # the /dev/null run() opened; monkeypatch puts the captured stream back
    rows = strict_json(capsys.readouterr().out)
    assert code == 0 and [row["status"] for row in rows] == [
        "ZCU104-DPU has no native fp16 peak; it supports int8"]  # the DPU's only peak is int8 (hardware show)


def test_align_reads_a_spreadsheet_export_the_loader_reads(capsys, tmp_path):
    """The command line's column check reads the header as the loader does (byte order mark, ';' with decimal
    commas, a title line, spaced and capitalised names): before, it refused these tables that load_table reads."""
    semi = tmp_path / "semi.csv"
    semi.write_bytes("\ufeffboard;model;prec;latency [ms]\nZCU104-DPU;ResNet-50;int8;2,5\n".encode("utf-8"))
    code, out, err = run(capsys, "align", semi, "--columns", "board=hardware,model=network,prec=precision,"
                         "latency [ms]=latency_s", "--units", "latency_s=ms", "--format", "json")
    assert code == 0, err
    row = strict_json(out)["matched"][0]
    assert row["measured_fps"] == pytest.approx(1 / 2.5e-3)  # 2,5 ms -> 400 fps
    titled = tmp_path / "titled.csv"
    titled.write_text("My runs 2024,,\nHardware , Network , latency_s\nZCU104-DPU,ResNet-50,0.0025\n")
    code, out, err = run(capsys, "align", titled, "--format", "json")
    assert code == 0, err
    assert [r["source"] for r in strict_json(out)["matched"]] == ["titled.csv:3"]


def test_align_lists_the_rows_it_could_not_read_as_unmatched_records(capsys, tmp_path):
    """Every row of the table is matched or listed unmatched with why, in every format (a row the loader rejects
    was only counted in a warning)."""
    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,latency_s\nZCU104-DPU,ResNet-50,0.0025\nZCU104-DPU,MobileNetv1,-\n")
    code, out, err = run(capsys, "align", table, "--format", "json")
    payload = strict_json(out)
    assert code == 0 and len(payload["matched"]) == 1
    [row] = payload["unmatched_records"]
    assert row["source"] == "runs.csv:3" and row["reason"].startswith("not read: latency_s: cannot read '-'")
    code, out, err = run(capsys, "align", table)
    assert "1 of 2 records matched" in out
    assert "runs.csv:3: ZCU104-DPU / MobileNetv1 / precision not stated / batch not stated: not read:" in out
    code, out, err = run(capsys, "align", table, "--format", "csv")
    assert pd.read_csv(io.StringIO(out))["status"].tolist() == ["matched", "unmatched"]


def test_layer_table_names_the_engine_of_each_layer_when_several_ran(capsys):
    """STM32N6570-DK: its NPU runs LeNet's convs and fully connected layers, the Cortex-M55 the softmax (the NPU's
    op classes leave it out); a one-engine device's table has no engine column."""
    code, out, err = run(capsys, "predict", "LeNet-MNIST", "--hardware", "STM32N6570-DK", "--mode", "layer",
                         "--precision", "int8", "--layers", "--format", "csv")
    rows = pd.read_csv(io.StringIO(out)).set_index("name")
    assert (rows.at["conv1", "engine"], rows.at["fc3", "engine"], rows.at["softmax_12", "engine"]) == (
        "Neural-ART NPU", "Neural-ART NPU", "Cortex-M55")
    code, out, err = run(capsys, "predict", "LeNet-MNIST", "--hardware", "STM32N6570-DK", "--mode", "layer",
                         "--precision", "int8", "--format", "json")
    assert {row["engine"] for row in strict_json(out)["layers"]} == {"Neural-ART NPU", "Cortex-M55"}
    code, out, err = run(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--mode", "layer",
                         "--precision", "int8", "--layers", "--format", "csv")
    assert "engine" not in pd.read_csv(io.StringIO(out)).columns


def test_llm_csv_is_its_json_object_flat(capsys):
    """As every command's CSV (README, JSON output): nested objects as dotted columns, lists joined by ';' (llm
    wrote memory_weights_bytes and joined notes with ' | ')."""
    code, out, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--format", "json")
    payload = strict_json(out)
    code, out, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--format", "csv")
    row = pd.read_csv(io.StringIO(out), keep_default_na=False).iloc[0]
    assert float(row["memory.weights_bytes"]) == payload["memory"]["weights_bytes"]
    assert int(row["memory.max_batch"]) == payload["memory"]["max_batch"]
    assert row["notes"] == ";".join(payload["notes"]) and float(row["ttft_s"]) == payload["ttft_s"]


def test_a_columns_entry_naming_an_absent_column_is_named_in_the_error(capsys, tmp_path):
    table = tmp_path / "runs2.csv"
    table.write_text("board,model,ms\nZCU104-DPU,ResNet-50,2.5\n")
    code, out, err = run(capsys, "align", table, "--columns", "board=hardware,model=network,millis=latency_s",
                         "--set", "batch=1")
    assert code == 2
    assert "(--columns millis=latency_s names a column the table does not have); its columns are board, model, ms" \
        in one_error(err)


def test_a_chart_says_in_its_own_terms_that_predictions_do_not_fit(capsys, tmp_path):
    """ResNet-50's 25.5 MB of int8 weights exceed the NUCLEO-F767ZI's 2 MB of flash; the chart draws the cell and
    says so once, pointing to the sweep (the sweep's own warning pointed to columns a chart does not have)."""
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, "plot", "heatmap", "--models", "ResNet-50,MobileNetv1", "--hardware",
                         "NUCLEO-F767ZI,ZCU104-DPU", "--precisions", "int8", "--out", tmp_path / "h.png")
    assert code == 0
    assert [line for line in err if "do not fit" in line] == [
        "warning: 2 of 4 predictions in the heatmap do not fit their memories (drawn as predicted); 'rooflinekit "
        "sweep' with the same options lists them with why (the 'fits' and 'notes' columns)"]


def test_messages_count_one_thing_in_the_singular():
    from rooflinekit.display import counted

    assert (counted(1, "layer"), counted(0, "layer"), counted(2, "entry", "entries")) == ("1 layer", "0 layers",
                                                                                          "2 entries")


def test_sweep_table_shows_the_status_column_its_warning_points_to(capsys, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    io_ = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    path = tmp_path / "ident.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", io_[:1],
                                                  io_[1:]), opset_imports=[helper.make_opsetid("", 17)]), path)
    code, out, err = run(capsys, "sweep", "--models", f"{path},ResNet-50", "--hardware", "NCS,A100-SXM4-40GB")
    assert code == 0 and any("the 'status' column" in line for line in err)
    assert out.splitlines()[0].split()[:5] == ["network", "hardware", "precision", "batch", "status"]


@pytest.mark.parametrize("argv, message", [
    (["count", "{d}/d.onnx"], "{d}/d.onnx: a folder, not a model file"),
    (["align", "{d}/d.csv"], "{d}/d.csv: a folder, not a file; give the path of a .csv or .parquet table"),
    (["predict", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--calibration", "{d}/c.json"],
     "{d}/c.json: a folder, not a calibration file; write one with"),
])
def test_a_folder_where_a_file_goes_is_called_a_folder(capsys, tmp_path, argv, message):
    for name in ("d.onnx", "d.csv", "c.json"):
        (tmp_path / name).mkdir()
    code, out, err = run(capsys, *(a.format(d=tmp_path) for a in argv))
    assert code == 2 and message.format(d=tmp_path) in one_error(err)
