"""Bad input on the command line: each case is one invocation that printed a traceback, a multi-line error, a silent
wrong answer or an error that did not say what to do, and now gives one line (an error with exit status 2, or a
warning where the user can continue). Expected values are derived by hand in the comments."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import one_error, run
from rooflinekit.cli import main
from rooflinekit.compare.calibrate import calibrate_from_paths
from rooflinekit.compare.loaders import load_table
from rooflinekit.errors import CalibrationError, RecordError

HEADER = "hardware,network,precision,batch,latency_s\n"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- hardware and calibration files ---------------------------------------------------------------------------------

def test_yaml_syntax_error_is_one_line(capsys, tmp_path):
    # PyYAML's message spans three lines; it was printed as three 'error:' lines
    spec = write(tmp_path / "broken.yaml", "::: [unclosed\n  - {")
    for argv in (["predict", "LeNet-MNIST", "--hardware", spec], ["hardware", "show", spec]):
        code, _, err = run(capsys, *argv)
        line = one_error(err)
        assert code == 2 and line.startswith("rooflinekit: error: broken.yaml: not valid YAML (")
        assert line.endswith("; fix the file's syntax")


def test_calibration_file_that_is_not_json_names_the_file(capsys, tmp_path):
    not_json = write(tmp_path / "spec.yaml", "hardware: []\n")
    code, _, err = run(capsys, "predict", "LeNet-MNIST", "--hardware", "A100-SXM4-80GB", "--calibration", not_json)
    assert code == 2
    assert one_error(err).startswith(f"rooflinekit: error: {not_json}: cannot read calibration JSON: ")


def test_hardware_list_refuses_a_name(capsys):
    # 'list' took the name and ignored it
    code, out, err = run(capsys, "hardware", "list", "A100")
    assert code == 2 and out == ""
    assert one_error(err) == ("rooflinekit: error: 'hardware list' takes no NAME, got 'A100'; to see one, use "
                              "'rooflinekit hardware show A100'")
    code, _, err = run(capsys, "models", "list", "LeNet-MNIST")
    assert code == 2 and "'models list' takes no NAME" in one_error(err)


# --- numbers and options ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batches, batch", [("1,-2", -2), ("0", 0), ("8,2147483648", 2**31)])
def test_sweep_batches_out_of_range_name_the_option(capsys, batches, batch):
    # was 'batch must be a positive integer, got -2': no option, nothing to do
    code, _, err = run(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "A100-SXM4-80GB",
                       "--batches", batches)
    assert code == 2
    assert one_error(err) == (f"rooflinekit: error: --batches '{batches}': batch {batch} is out of range; give whole "
                              "numbers from 1 to 2147483647, e.g. 1,8,64")


def test_scheduler_without_dask_is_refused(capsys):
    # --scheduler was silently ignored by the local engine
    code, _, err = run(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "A100-SXM4-80GB",
                       "--scheduler", "tcp://host:8786")
    assert code == 2 and "--scheduler 'tcp://host:8786' applies to --engine dask" in one_error(err)


@pytest.mark.parametrize("option", ["--shrinkage", "--system-shrinkage"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e309", "abc"])
def test_shrinkage_is_checked_before_any_work(capsys, tmp_path, option, value):
    # the records file does not exist: the option is refused first, by name (it was refused after reading the
    # records, as 'shrinkage must be a positive number', or as "invalid float value" for 'abc')
    code, _, err = run(capsys, "calibrate", tmp_path / "none.csv", "--out", tmp_path / "c.json", option, value)
    assert code == 2
    assert one_error(err) == (f"rooflinekit: error: argument {option}: {option} '{value}': give a positive number, "
                              "e.g. 0.5 (see 'rooflinekit --help')")


def test_input_shape_given_twice_is_refused(capsys, tmp_path):
    # the last of two --input-shape x=... silently won
    code, _, err = run(capsys, "count", tmp_path / "m.onnx", "--input-shape", "x=1,3,8,8",
                       "--input-shape", "x=2,3,8,8")
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: --input-shape 'x=2,3,8,8': input 'x' is given twice; give each "
                              "input once")


@pytest.mark.parametrize("option, value", [("--columns", "ms=latency_s,ms=energy_j"),
                                           ("--units", "latency_s=ms,latency_s=s"),
                                           ("--set", "batch=1,batch=2")])
def test_mapping_option_with_a_name_twice_is_refused(capsys, tmp_path, option, value):
    # the last entry silently won; the message keeps the value as typed ('batch=1' was rewritten to '--batch 1')
    records = write(tmp_path / "r.csv", HEADER + "ZCU104-DPU,ResNet-50,int8,1,0.0025\n")
    code, _, err = run(capsys, "align", records, option, value)
    assert code == 2
    assert one_error(err).startswith(f"rooflinekit: error: {option} '{value}': ")
    assert "is given twice; give each NAME once" in err[-1]


def test_set_of_a_column_the_table_has_is_a_warning(capsys, tmp_path):
    # --set batch=8 was silently ignored: the table's own batch column (1) is read
    records = write(tmp_path / "r.csv", HEADER + "ZCU104-DPU,ResNet-50,int8,1,0.0025\n")
    code, out, err = run(capsys, "align", records, "--set", "batch=8", "--format", "json")
    assert code == 0 and json.loads(out)["matched"][0]["batch"] == 1
    assert err == ["warning: r.csv: --set batch ignored: the table's own column is read (--set fills only the "
                   "columns a table lacks; drop it from --set or the column from the table)"]


def test_set_keeps_text_columns_as_written(capsys, tmp_path):
    # '--set framework_version=2.10' was read as the number 2.1 and recorded as '2.1' (and '007' as '7')
    records = write(tmp_path / "r.csv", HEADER + "ZCU104-DPU,ResNet-50,int8,1,0.0025\n")
    code, out, _ = run(capsys, "align", records, "--set", "framework=TFLite Micro,framework_version=2.10,task=007",
                       "--format", "json")
    [row] = json.loads(out)["matched"]
    assert code == 0 and (row["framework_version"], row["task"]) == ("2.10", "007")


# --- record tables ------------------------------------------------------------------------------------------------

def test_align_with_every_row_rejected_says_so(capsys, tmp_path):
    # the error said the columns were wrong ('columns after mapping must include hardware, network ...')
    records = write(tmp_path / "r.csv", HEADER + "ZCU104-DPU,ResNet-50,int8,1,-0.0025\n")
    code, _, err = run(capsys, "align", records)
    assert code == 2 and err[0].startswith("warning: 1 record rejected: 1 x latency_s: must be a positive")
    # a negative latency is not a unit problem: no --units advice (it was offered for every rejection)
    assert one_error(err) == (f"rooflinekit: error: {records}: no usable record, the one row was rejected (reasons "
                              "in the warning); fix those rows")


def test_align_of_an_unreadable_or_empty_table_says_why(capsys, tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = run(capsys, "align", binary)
    assert code == 2 and one_error(err).startswith(f"rooflinekit: error: {binary}: cannot read the table: ")
    assert err[-1].endswith("; give a UTF-8 CSV table with a header line, or a .parquet table")
    header_only = write(tmp_path / "h.csv", HEADER)
    code, _, err = run(capsys, "align", header_only)
    assert code == 2
    assert one_error(err) == (f"rooflinekit: error: {header_only}: the table has a header but no rows; give one "
                              "measured record per row")


@pytest.mark.parametrize("header, argv", [("hardware,network,batch,latency_s,latency_s", []),
                                          ("hardware,network,batch,ms,latency_s", ["--columns", "ms=latency_s"])])
def test_a_record_column_given_twice_is_refused(capsys, tmp_path, header, argv):
    # the first of the two latency columns was read and the second dropped with a warning, or silently
    records = write(tmp_path / "r.csv", header + "\nZCU104-DPU,ResNet-50,1,0.0025,0.004\n")
    code, _, err = run(capsys, "align", records, *argv)
    assert code == 2
    assert one_error(err).startswith("rooflinekit: error: r.csv: record column(s) ['latency_s'] given twice in the "
                                     "header")
    with pytest.raises(RecordError, match=r"record column\(s\) \['latency_s'\] given twice"):
        load_table(records, columns=dict(a.split("=") for a in argv[1:]))


def test_calibrate_with_every_record_left_out_says_what_to_do(capsys, tmp_path):
    # was 'no records to fit; give featurized records with latency_s (see calibration_features)': Python advice.
    # A negative latency is no network problem: model files (--models) would not help, so they are not offered
    # (they were, for every left-out row); test_own_measurements.py checks a network reason still offers them
    records = write(tmp_path / "r.csv", HEADER + "NUCLEO-F767ZI,LeNet-MNIST,int8,1,-4\n")
    message = "r.csv: no record to fit, all 1 were left out (reasons in the warning); fix those rows"
    code, _, err = run(capsys, "calibrate", records, "--out", tmp_path / "c.json")
    assert code == 2 and one_error(err) == f"rooflinekit: error: {message}"
    assert not (tmp_path / "c.json").exists()
    with pytest.warns(Warning), pytest.raises(CalibrationError, match=r"^r\.csv: no record to fit, all 1 were left"):
        calibrate_from_paths([records])
    header_only = write(tmp_path / "h.csv", HEADER)
    with pytest.raises(CalibrationError, match=r"^h\.csv: no record to fit, the tables have no rows; "):
        calibrate_from_paths([header_only])


def test_efficiency_csv_is_the_summary(capsys, tmp_path):
    # the CSV was align's rows: the per-hardware summary, efficiency's own result, was left out.
    # ZCU104-DPU: 4.6 TOPS / 7.72e9 ops = 595.85 fps predicted; 2.5 ms = 400 fps measured -> 67.13 %
    records = write(tmp_path / "r.csv", HEADER + "ZCU104-DPU,ResNet-50,int8,1,0.0025\n")
    code, out, _ = run(capsys, "efficiency", records, "--format", "csv")
    summary = pd.read_csv(io.StringIO(out))
    assert code == 0 and summary["hardware"].tolist() == ["ZCU104-DPU"] and summary["n"].tolist() == [1]
    assert summary["efficiency_median_pct"].iloc[0] == pytest.approx(100 * 400 / (4.6e12 / 7.72e9))


# --- llm ----------------------------------------------------------------------------------------------------------

def test_llm_on_a_device_without_the_default_type_says_which_option(capsys):
    # NUCLEO-F767ZI has int8, int16, fp32 and fp64 peaks: of the base types fp16, bf16, fp32 only fp32
    code, _, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "NUCLEO-F767ZI")
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: NUCLEO-F767ZI has no native fp16 peak; it supports int8, int16, "
                              "fp32, fp64; run it at a type NUCLEO-F767ZI has, e.g. --base fp32 (base='fp32' in "
                              "Python), and --weights to match")


def test_llm_base_that_is_not_a_float_type_is_named_as_base(capsys):
    # '--base fp64' was refused as "unknown weight format 'fp64'"
    code, _, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--base", "fp64")
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: base precision 'fp64' is not a float type of a model; use one of "
                              "fp16, bf16, fp32")


def test_llm_plot_refuses_the_options_of_one_prediction(capsys, tmp_path):
    # --plot sweeps the batch: '--batch 4' (and --context, --layers, --calibrated) were silently ignored
    out = tmp_path / "l.png"
    code, _, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--batch", "4", "--plot", out)
    assert code == 2 and not out.exists()
    assert one_error(err) == ("rooflinekit: error: --plot sweeps the batch and charts the roofline bound; --batch does "
                              "not apply to it: drop it, or leave out --plot")
    code, _, err = run(capsys, "llm", "Llama-2-7B", "--hardware", "H100-SXM5-80GB", "--context", "64", "--layers",
                       "--plot", out)
    assert code == 2 and "; --context, --layers do not apply to it: drop them, or leave out --plot" in one_error(err)


# --- plot ---------------------------------------------------------------------------------------------------------

EFFICIENCY = "hardware,network,precision,predicted_fps,measured_fps\n"


def test_plot_efficiency_with_text_in_a_number_column(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    # a TypeError traceback (100 * measured / 'fast')
    records = write(tmp_path / "e.csv", EFFICIENCY + "A,N,int8,fast,50\n")
    code, _, err = run(capsys, "plot", "efficiency", "--records", records, "--out", tmp_path / "e.png")
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: plot_efficiency: column 'predicted_fps' has 'fast' in row 0, which "
                              "is not a number; write a plain number there or leave the cell empty")


def test_plot_efficiency_warns_of_bars_it_cannot_draw(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    # a negative fps has no bar on the log axis: it was dropped silently
    records = write(tmp_path / "e.csv", EFFICIENCY + "A,N,int8,-100,50\nB,N,int8,100,50\n")
    code, out, err = run(capsys, "plot", "efficiency", "--records", records, "--out", tmp_path / "e.png")
    assert code == 0 and out.startswith("wrote ")
    assert err == ["warning: plot_efficiency: 1 throughput(s) not positive and finite draw no bar, e.g. "
                   "predicted_fps = -100 in row 0; fix or drop them"]


def test_plot_pareto_refuses_text_and_non_positive_log_values(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    text = write(tmp_path / "t.csv", "x,y\n1,two\n2,1\n")  # the 'two' row was dropped silently
    code, _, err = run(capsys, "plot", "pareto", "--records", text, "--x", "x", "--y", "y", "--out", out)
    assert code == 2 and "column 'y' has 'two' in row 0, which is not a number" in one_error(err)
    negative = write(tmp_path / "n.csv", "x,y\n-1,2\n2,1\n")  # -1 vanished from the log axis
    code, _, err = run(capsys, "plot", "pareto", "--records", negative, "--x", "x", "--y", "y", "--log", "x",
                       "--out", out)
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: plot_pareto: a log x axis (log_x=True, --log x) needs positive "
                              "values, but 'x' has -1; use a linear axis or drop those rows")
    code, _, err = run(capsys, "plot", "pareto", "--records", negative, "--x", "x", "--y", "y", "--out", out)
    assert code == 0 and err == []  # a linear axis draws it


def test_plot_pareto_front_per_hue_needs_hue(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    records = write(tmp_path / "p.csv", "x,y\n1,2\n2,1\n")
    code, _, err = run(capsys, "plot", "pareto", "--records", records, "--x", "x", "--y", "y", "--front-per-hue",
                       "--out", tmp_path / "p.png")
    assert code == 2
    assert one_error(err) == ("rooflinekit: error: --front-per-hue draws one front per --hue group; give --hue "
                              "COLUMN too")


@pytest.mark.parametrize("cells, message", [
    ("conv1,1e-6\nrelu_1,abc\n",  # a ValueError traceback (could not convert string to float: 'abc')
     "plot_layers: column 'latency_s' has 'abc' in row 1, which is not a number; write a plain number there or "
     "leave the cell empty"),
    ("conv1,-1\n",  # drawn below zero, or left off a log axis, silently
     "plot_layers: measured latency of layer 'conv1' is -1 s; a latency is a finite number of seconds, 0 or more: "
     "fix it or leave the cell empty")])
def test_plot_layers_measured_latency_must_be_a_number_from_zero(capsys, tmp_path, cells, message):
    pytest.importorskip("matplotlib")
    measured = write(tmp_path / "m.csv", "name,latency_s\n" + cells)
    code, _, err = run(capsys, "plot", "layers", "LeNet-MNIST", "--hardware", "A100-SXM4-80GB", "--measured",
                       measured, "--out", tmp_path / "l.png")
    assert code == 2 and one_error(err) == f"rooflinekit: error: {message}"


def test_plot_roofline_warns_of_points_it_could_not_predict(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    # ZCU104-FINN runs int2/int4 only, LeNet-MNIST is fp32: the point was left out of the chart silently
    code, out, err = run(capsys, "plot", "roofline", "--hardware", "ZCU104-FINN", "--models", "LeNet-MNIST",
                         "--out", tmp_path / "r.png")
    assert code == 0 and out.startswith("wrote ")
    assert err == ["warning: 1 of 1 predictions failed (not drawn), e.g. ZCU104-FINN has no native fp32 peak; it "
                   "supports int2, int4"]


@pytest.mark.parametrize("chart", ["roofline", "heatmap"])
def test_plot_no_fusion_reaches_the_sweep(capsys, tmp_path, monkeypatch, chart):
    pytest.importorskip("matplotlib")
    import rooflinekit.plots_cli as plots_cli

    # --no-fusion was accepted and then not passed on: the charts were drawn with fusion
    seen = []

    def sweep(*args, **kwargs):
        seen.append(kwargs.get("fuse"))
        return real(*args, **kwargs)

    real = plots_cli.sweep
    monkeypatch.setattr(plots_cli, "sweep", sweep)
    for flags, fuse in (([], True), (["--no-fusion"], False)):
        code, _, _ = run(capsys, "plot", chart, "--hardware", "A100-SXM4-80GB", "--models", "LeNet-MNIST",
                         "--mode", "layer", *flags, "--out", tmp_path / "c.png")
        assert code == 0 and seen[-1] is fuse


# --- files the system refuses -------------------------------------------------------------------------------------

def test_an_output_the_file_system_refuses_is_one_line(capsys, tmp_path):
    # /proc takes no new files: both were an OSError traceback
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, "plot", "roofline", "--hardware", "A100-SXM4-80GB", "--out", "/proc/roofline.png")
    assert code == 2 and out == ""
    assert one_error(err) == ("rooflinekit: error: cannot write '/proc/roofline.png': No such file or directory; "
                              "write it to a folder that exists, is writable and has space")


def test_a_write_error_on_stdout_is_one_line(capsys, monkeypatch):
    # a full disk under a redirected stdout ('> /dev/full') was an OSError traceback
    import sys

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    code = main(["hardware", "list"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err == ["rooflinekit: error: writing the output: No space left on device; check the path, its permissions "
                   "and the free space"]


def _if_model(path: Path) -> Path:
    """If(c): then x [1, 4] @ w [4, 8] (32 MACs), else Concat(x, x) (none); c a run-time input."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    import numpy as np

    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 8])])
    else_graph = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=1)], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 8])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], name="gate", then_branch=then_graph, else_branch=else_graph)], "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros((4, 8), dtype=np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_an_if_warning_says_the_cli_option_and_the_option_chooses_the_branch(capsys, tmp_path):
    # the warning named the API argument branches={...}, which a command line cannot pass
    path = _if_model(tmp_path / "gate.onnx")
    code, out, err = run(capsys, "count", path, "--format", "json")
    assert code == 0 and len(err) == 1 and err[0].endswith("choose with --branch gate=else")
    assert json.loads(out)["totals"]["macs"] == 32  # then: MatMul [1, 4] x [4, 8] = 32 MACs
    code, out, err = run(capsys, "count", path, "--branch", "gate=else", "--format", "json")
    assert code == 0 and not err and json.loads(out)["totals"]["macs"] == 0  # else: a Concat


@pytest.mark.parametrize("argv, message", [
    (["--branch", "gate"], "--branch 'gate': write NODE=VALUE with the node's name in the model, e.g. --branch "
                           "If_0=else"),
    (["--branch", "gate=both"], "branches['gate'] = 'both'; choose 'then' or 'else'"),
    (["--branch", "gate=then", "--branch", "gate=else"], "--branch 'gate=else': node 'gate' is given twice; give "
                                                         "each node once"),
    (["--loop-count", "steps=-1"], "--loop-count 'steps'='-1': a count is a whole number from 0 to 2147483647"),
])
def test_a_malformed_branch_or_loop_count_is_one_line(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "count", _if_model(tmp_path / "gate.onnx"), *argv)
    assert code == 2 and one_error(err) == f"rooflinekit: error: {message}"


def test_branch_on_a_catalog_network_is_refused(capsys):
    code, _, err = run(capsys, "count", "LeNet-MNIST", "--branch", "gate=then")
    assert code == 2 and one_error(err) == ("rooflinekit: error: --branch and --loop-count apply to ONNX model files; "
                                            "'LeNet-MNIST' is a catalog network")


def test_repeated_runs_are_refused_with_the_option_and_fitted_with_it(capsys, tmp_path):
    # two runs of one configuration (0.45 and 0.46 s) were both left out, and the error said only "fix those rows"
    table = write(tmp_path / "runs.csv", """\
        hardware,network,precision,batch,latency_s,framework
        NUCLEO-F767ZI,LeNet-MNIST,int8,1,0.45,X-CUBE-AI 8.0
        NUCLEO-F767ZI,LeNet-MNIST,int8,1,0.46,X-CUBE-AI 8.0
        """)
    code, _, err = run(capsys, "calibrate", table, "--out", tmp_path / "c.json")
    assert code == 2 and one_error(err).endswith("fix those rows, or, where rows of one configuration are repeated "
                                                 "runs, fit their median with --repeats median")
    code, _, err = run(capsys, "calibrate", table, "--out", tmp_path / "c.json", "--repeats", "median",
                       "--extend-shipped", "--format", "json")
    assert code == 0
    assert "1 x repeated run: combined into the median of 2 runs of runs.csv:2" in " ".join(err)
    shipped = json.loads((tmp_path / "c.json").read_text())
    assert shipped["n_records"] == json.loads(
        (Path(__file__).parents[1] / "rooflinekit/calibrations/mlperf_tiny_cortex_m.json").read_text())["n_records"] + 1
