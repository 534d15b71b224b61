"""Loaders: QuTiBench tables, MLPerf Tiny results trees and generic tables (synthetic data; ../shared if present)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooflinekit.compare import MLPerfRecord, load_mlperf_tiny, load_qutibench, load_table
from rooflinekit.compare.loaders.mlperf_tiny import clock_hz, core_type, system_class
from rooflinekit.errors import RecordError, UnitError

HEADER = ("NN_Topology,HWType,Datatype,Op mode,batch/thread/stream,lat-sys,lat-comp,fps-system,fps-comp,top1,"
          "Full_Pwr_W,PruningFactor")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- QuTiBench ------------------------------------------------------------------------------------------------------

@pytest.fixture
def qutibench_tmp(tmp_path: Path) -> Path:
    write(tmp_path / "cleaned_csv/experimental_data_imagenet.csv", "\n".join([
        HEADER,
        'ResNet-50,TX2-maxn,FP16,maxn,8,"1,234.82",60.0,6.5,130.9,75.1,10.0,100.0',
        "ResNet-50,Ultra96-DPU,INT8,,1,40,37.6,26.5,26.56,73.29,8.0,80.0",
        "GoogLeNetv1,Ultra96-DPU,INT8,,3,50.7,47.3482,59.7,,69.41,8.3,100.0",
        "ResNet-50v15,EdgeTPU-fast,INT8,fast,1,,40.44,10.5,24.727,,1.19,100.0",
        "ResNet-50v15,EdgeTPU-fast,INT8,fast,1,,40.59,10.6,24.64,,1.49,100.0",
    ]))
    write(tmp_path / "cleaned_csv/experimental_data_cifar.csv", "\n".join([
        HEADER, "CNV,ZCU104-Bismo,INT2,,4,1.0,2.0,100,2000.5,80.1,,12.5"]))
    write(tmp_path / "cleaned_csv/backup.csv", "\n".join([
        HEADER.replace("top1", "top1 [%]"),
        "ResNet-50,TX2,FP16,maxn,8,,60.0,6.5,130.9,75.1,10.0,100%",
        "CNV,ZCU104-Bismo,INT2,,4,1.0,2.0,100,2000.5,80.1,,12.50%",
        "GoogLeNetv1,TX2,FP16,maxq,2,,,,,,,12.50%",
    ]))
    write(tmp_path / "hardware_platforms.csv", "Hardware Platforms,INT8\n")
    write(tmp_path / "history/no_match_3_cifar.csv", "a\n")
    return tmp_path


def test_qutibench_quirks(qutibench_tmp):
    result = load_qutibench(qutibench_tmp)
    records = result.records.set_index("source")
    first = records.loc["cleaned_csv/experimental_data_imagenet.csv:2"]
    assert (first.hardware, first.precision, first.batch, first.task) == ("TX2-maxn", "fp16", 8, "imagenet")
    assert first.latency_s == pytest.approx(0.060) and first.throughput_fps == 130.9 and first.power_w == 10.0
    assert records.loc["cleaned_csv/experimental_data_imagenet.csv:3"].pruning_pct == 80.0
    assert records.loc["cleaned_csv/experimental_data_cifar.csv:2"].pruning_pct == 12.5
    reasons = result.rejected.set_index("source").reason
    assert reasons["cleaned_csv/experimental_data_imagenet.csv:4"] == (
        "fps-comp is missing (given: lat-comp=47.3482, Full_Pwr_W=8.3, top1=69.41); QuTiBench's efficiency uses "
        "fps-comp and its own tables leave this row out")
    assert reasons["cleaned_csv/experimental_data_imagenet.csv:5"].startswith(
        "conflicting duplicates of key (hardware='EdgeTPU-fast', network='ResNet-50v15'")
    assert len(result.records) + len(result.rejected) == 6


def test_qutibench_lists_every_file(qutibench_tmp):
    files = load_qutibench(qutibench_tmp).files.set_index("path")
    present = {p.relative_to(qutibench_tmp).as_posix() for p in qutibench_tmp.rglob("*") if p.is_file()}
    assert set(files.index) == present | {"cleaned_csv/experimental_data_mnist.csv"}
    assert files.loc["cleaned_csv/experimental_data_imagenet.csv"].status == "read"
    assert files.loc["cleaned_csv/backup.csv"].reason.endswith("read it with tables='backup'")
    assert files.loc["history/no_match_3_cifar.csv"].status == "skipped"
    assert (files.loc["cleaned_csv/experimental_data_mnist.csv"] == ["unreadable", "file not found"]).all()


def test_qutibench_backup_merges_op_mode_and_rejects_placeholders(qutibench_tmp):
    result = load_qutibench(qutibench_tmp, tables="backup")
    assert list(result.records.hardware) == ["TX2-maxn", "ZCU104-Bismo"]
    assert list(result.records.task) == ["imagenet", "cifar"]
    assert result.rejected.reason.iloc[0] == (
        "placeholder row: no measurement (lat-comp, fps-comp, Full_Pwr_W, top1 [%] all empty)")


def test_qutibench_unreadable_table_is_listed(qutibench_tmp):
    write(qutibench_tmp / "cleaned_csv/experimental_data_mnist.csv", "just,two\n1,2\n")
    files = load_qutibench(qutibench_tmp).files.set_index("path")
    assert files.loc["cleaned_csv/experimental_data_mnist.csv"].status == "unreadable"
    assert files.loc["cleaned_csv/experimental_data_mnist.csv"].reason.startswith(
        "missing columns ['NN_Topology', 'HWType'")


def test_qutibench_errors(tmp_path):
    with pytest.raises(RecordError, match=r"has none of cleaned_csv/experimental_data_imagenet\.csv, .*point at "
                                          r"QutibenchWeb's _notebooks/data folder"):
        load_qutibench(tmp_path)
    with pytest.raises(RecordError, match=r"unknown QuTiBench tables 'pareto'; use 'experimental' or 'backup'"):
        load_qutibench(tmp_path, tables="pareto")


def test_qutibench_shared_data(qutibench_dir):
    result = load_qutibench(qutibench_dir)
    assert (len(result.records), len(result.rejected)) == (965, 9)
    read = result.files[result.files.status == "read"]
    assert sorted(read.path) == [f"cleaned_csv/experimental_data_{t}.csv" for t in ("cifar", "imagenet", "mnist")]
    assert set(result.files.path) == {p.relative_to(qutibench_dir).as_posix() for p in qutibench_dir.rglob("*")
                                      if p.is_file()}
    assert (result.files.reason != "").all()
    # every row of the three tables is a record or rejected: 190 + 378 + 406
    assert len(result.records) + len(result.rejected) == 974
    assert set(result.records.hardware) >= {"TX2-maxn", "EdgeTPU-slow", "ZCU104-Bismo", "NCS2", "U96-Quadcore-A53"}
    assert result.rejected.reason.str.startswith("fps-comp is missing").sum() == 5
    assert set(result.rejected[result.rejected.reason.str.startswith("conflicting")].network) == {"ResNet-50v15"}


def test_qutibench_shared_backup(qutibench_dir):
    result = load_qutibench(qutibench_dir, tables="backup")
    assert len(result.records) == 965 and len(result.records) + len(result.rejected) == 2614


# --- MLPerf Tiny ----------------------------------------------------------------------------------------------------

SYSTEM = {"Submitter": "Acme", "Division": "Closed", "Board Name": "NUCLEO-L4R5ZI", "SoC Name": "STM32L4R5ZIT6U",
          "Processor(s) Name": "32-bit Arm® Cortex®-M4 (DSP + FPU)", "Processor(s) Frequencies": "@120 MHz",
          "Accelerator": "", "Inference Framework": "X-CUBE-AI v7.3.0",
          "Quantization Method": "TensorFlow Int8 Quantization"}
PERF = "00366.093 ulp-mlperf: Median throughput is 5.497 inf./sec.\n"
ENERGY = "00319.916 ulp-ml: Median energy cost is 7373.704 uJ/inf.\n"


@pytest.fixture
def mlperf_tmp(tmp_path: Path) -> Path:
    base = tmp_path / "results/v9.9/closed/acme"
    repeated = '"Inference Framework": "",\n "Inference Framework"'  # a repeated field keeps its first non-empty value
    text = json.dumps(SYSTEM, indent=1).replace('"Inference Framework"', repeated)
    write(base / "systems/board_a/Board_A_system_description.json", text)
    broken = json.dumps({**SYSTEM, "Accelerator": "NPU-1", "processor(s) name": "Cortex-M33"}, indent=1)
    write(base / "systems/Board_B.json", broken.replace('"Board Name": "NUCLEO-L4R5ZI",', '"Board Name": "Board B"'))
    write(base / "results/board_a/kws/performance/results.txt", "log\n" + PERF + PERF)
    write(base / "results/board_a/kws/enegy/results.txt", ENERGY)
    write(base / "results/board_a/vww/performance/results.txt", "no median here\n")
    write(base / "results/board_a/ic/performance/results.txt", PERF + PERF.replace("5.497", "6.0"))
    write(base / "results/board_a/ad/energy/energy_results.txt", ENERGY.replace("uJ", "uX"))
    write(base / "results/Board_B/kws/performance/performance_results.txt", PERF)
    write(base / "results/board_c/kws/performance/results.txt", PERF)
    write(base / "results/board_a/kws/accuracy/results.txt", "accuracy\n")
    write(tmp_path / "README.md", "doc\n")
    return tmp_path


def test_mlperf_records_and_system_columns(mlperf_tmp):
    result = load_mlperf_tiny(mlperf_tmp)
    assert list(result.records.columns[:15]) == list(MLPerfRecord.model_fields)[:15]
    kws = result.records.set_index(["system", "benchmark"]).loc[("board_a", "kws")]
    assert (kws.hardware, kws.network, kws.precision, kws.framework, kws.framework_version) == (
        "NUCLEO-L4R5ZI", "kws_ref_model", "int8", "X-CUBE-AI", "7.3.0")
    assert kws.throughput_fps == 5.497 and kws.latency_s == pytest.approx(1 / 5.497)
    assert kws.energy_j == pytest.approx(7373.704e-6)
    assert (kws.core_type, kws.clock_hz, kws.system_class, kws.cpu_only_cortex_m) == (
        "Cortex-M4", 120e6, "cortex-m", True)
    assert (kws["round"], kws.division, kws.submitter, kws.task) == ("v9.9", "closed", "acme", "keyword spotting")
    board_b = result.records.set_index("system").loc["Board_B"]
    assert (board_b.hardware, board_b.accelerator, board_b.system_class, board_b.cpu_only_cortex_m) == (
        "Board B", "NPU-1", "accelerator", False)


def test_mlperf_reports_what_it_cannot_use(mlperf_tmp):
    result = load_mlperf_tiny(mlperf_tmp)
    files = result.files.set_index("path")
    root = "results/v9.9/closed/acme/"
    assert set(files.index) == {p.relative_to(mlperf_tmp).as_posix() for p in mlperf_tmp.rglob("*") if p.is_file()}
    assert files.loc[root + "results/board_a/vww/performance/results.txt"].reason == (
        "no 'Median throughput is X inf./sec.' line in this performance log")
    assert files.loc[root + "results/board_a/ic/performance/results.txt"].reason == (
        "conflicting median lines: 5.497, 6.0")
    assert files.loc[root + "results/board_a/kws/accuracy/results.txt"].reason == (
        "unknown mode folder 'accuracy'; expected one of ['enegy', 'energy', 'performance', 'power']")
    assert files.loc["README.md"].status == "skipped"
    reasons = result.rejected.set_index("system").reason
    assert reasons["board_c"] == ("no system description matches results/board_c (descriptions of acme: "
                                  "results/v9.9/closed/acme/systems/Board_B.json, "
                                  "results/v9.9/closed/acme/systems/board_a/Board_A_system_description.json)")
    ad = result.rejected[result.rejected.benchmark == "ad"].reason.iloc[0]
    assert ad.startswith("energy_j: cannot read '7373.704 uX': unknown number or unit")


def test_mlperf_several_matching_system_descriptions_reject_the_record(mlperf_tmp):
    # board_c/ matches both board_c.json and Board-C.json exactly (case and punctuation aside): neither is taken
    systems = mlperf_tmp / "results/v9.9/closed/acme/systems"
    write(systems / "board_c.json", json.dumps(SYSTEM))
    write(systems / "extra/Board-C.json", json.dumps({**SYSTEM, "Board Name": "Board C"}))
    result = load_mlperf_tiny(mlperf_tmp)
    assert "board_c" not in set(result.records.system)
    assert result.rejected.set_index("system").reason["board_c"] == (
        "2 system descriptions match results/board_c: results/v9.9/closed/acme/systems/board_c.json, "
        "results/v9.9/closed/acme/systems/extra/Board-C.json; keep one or rename the others")
    # loose matches (a stem that starts the folder name) that tie are named too
    write(systems / "board_d_x.json", json.dumps(SYSTEM))
    write(systems / "board_d_y.json", json.dumps(SYSTEM))
    write(mlperf_tmp / "results/v9.9/closed/acme/results/board_d/kws/performance/results.txt", PERF)
    reasons = load_mlperf_tiny(mlperf_tmp).rejected.set_index("system").reason
    assert reasons["board_d"] == (
        "2 system descriptions match loosely results/board_d: results/v9.9/closed/acme/systems/board_d_x.json, "
        "results/v9.9/closed/acme/systems/board_d_y.json; keep one or rename the others")


def test_mlperf_repairs_a_missing_comma(mlperf_tmp):
    path = mlperf_tmp / "results/v9.9/closed/acme/systems/Board_B.json"
    path.write_text(path.read_text().replace('"Board B",', '"Board B"'))
    files = load_mlperf_tiny(mlperf_tmp).files.set_index("path")
    assert files.loc["results/v9.9/closed/acme/systems/Board_B.json"].reason.startswith(
        "repaired: inserted a missing ',' at line")


def test_mlperf_unreadable_json_rejects_its_results(mlperf_tmp):
    path = mlperf_tmp / "results/v9.9/closed/acme/systems/Board_B.json"
    path.write_text("{ this is not json")
    result = load_mlperf_tiny(mlperf_tmp)
    assert result.files.set_index("path").loc["results/v9.9/closed/acme/systems/Board_B.json"].reason.startswith(
        "invalid JSON: Expecting property name")
    assert "Board_B" in set(result.rejected.system)


def test_mlperf_errors(tmp_path):
    with pytest.raises(RecordError, match=r"is not a folder; point at an MLPerf Tiny results tree"):
        load_mlperf_tiny(tmp_path / "nowhere")
    write(tmp_path / "README.md", "doc\n")
    with pytest.raises(RecordError, match=r"holds no MLPerf Tiny result logs"):
        load_mlperf_tiny(tmp_path)


@pytest.mark.parametrize("processor, soc, expected", [
    ("ARM®32-bit Cortex®-M4 CPU with FPU", None, "Cortex-M4"), ("32-bit Arm® Cortex®-M0+", None, "Cortex-M0+"),
    ("Arm® Cortex®-M4F", None, "Cortex-M4"), ("ARM Cortex-M33 CPU with FPU, DSP and TrustZone", None, "Cortex-M33"),
    ("Broadcom BCM2711", "Quad core Cortex-A72 (ARM v8) 64-bit SoC", "Cortex-A72"),
    ("AndesCore™ D25F, 5-stage, single-issue, RV32 IMACP", None, "RISC-V"), ("GAP9 Risc-v", None, "RISC-V"),
    ("Renesas RXv2", None, "RXv2"), ("HiFi3 + M0", None, None),
])
def test_core_type(processor, soc, expected):
    assert core_type(processor, soc) == expected


@pytest.mark.parametrize("text, hz", [("120 MHz", 120e6), ("120MHz", 120e6), ("@120 MHz", 120e6),
                                      ("336 MHZ", 336e6), ("1.5Ghz", 1.5e9), ("20M", 20e6), ("", None)])
def test_clock_hz(text, hz):
    assert clock_hz(text) == hz


def test_system_class():
    assert system_class("Cortex-M33", "Silicon Labs MVP", "TFLite Micro") == "accelerator"
    assert system_class("Cortex-A9", "Xilinx Z-7020, XC7Z020", "hls4ml") == "fpga"
    assert system_class("RISC-V", None, "TFLite Micro") == "risc-v"
    assert system_class("Cortex-A72", None, "Latent AI LEIP") == "application-processor"
    assert system_class("RXv2", None, "TFLite Micro") == "other"


def test_mlperf_shared_data(mlperf_dir):
    result = load_mlperf_tiny(mlperf_dir)
    files = result.files
    assert set(files.path) == {p.relative_to(mlperf_dir).as_posix() for p in mlperf_dir.rglob("*") if p.is_file()}
    assert (files[files.status != "read"].reason != "").all()
    assert list(result.unreadable_files.path) == [
        "results/v1.0/closed/qualcomm/results/Next_Generation_Snapdragon_Mobile_Platform_HDK/ad/performance/"
        "performance_results.txt"]
    assert (len(result.records), len(result.rejected)) == (234, 0)
    # every result log that was read feeds exactly one record or rejected row
    logs = files[(files.status == "read") & files.path.str.endswith(".txt")].path
    sources = [s.rsplit(":", 1)[0] for frame in (result.records, result.rejected) for cell in frame.source
               for s in cell.split("; ")]
    assert sorted(sources) == sorted(logs)
    # one row per key (the division is part of it: pandas 2 returns a frame for a repeated label)
    by = result.records[result.records.division == "closed"].set_index(["round", "submitter", "system", "benchmark"])
    assert by.index.is_unique
    # the README's example rows (latency in ms = 1000 / median throughput)
    assert by.loc[("v0.5", "reference", "Nucleo-L4R5ZI", "kws")].latency_s * 1e3 == pytest.approx(181.92, abs=0.01)
    st_l4 = by.loc[("v0.7", "STMicroelectronics", "NUCLEO_L4R5ZI", "kws")]
    assert (st_l4.framework, st_l4.framework_version, st_l4.core_type) == ("X-CUBE-AI", "7.1.0", "Cortex-M4")
    assert st_l4.latency_s * 1e3 == pytest.approx(97.65, abs=0.01)
    krai = by.loc[("v1.1", "Krai", "NUCLEO-H7A3ZI-Q_X-CUBE-AI-8.0", "kws")]
    assert (krai.core_type, krai.clock_hz, krai.latency_s * 1e3) == ("Cortex-M7", 280e6, pytest.approx(16.40, abs=0.01))
    assert set(result.records.framework) >= {"TFLite Micro", "X-CUBE-AI", "Plumerai", "microTVM", "ONNC", "Bosch HALE"}
    assert set(result.records.core_type.dropna()) >= {"Cortex-M4", "Cortex-M7", "Cortex-M33", "Cortex-M0+"}
    flagged = result.records[~result.records.cpu_only_cortex_m]
    assert {"xG24-DK2601B", "NDP9120", "GAP9 EVK", "Nezha"} <= set(flagged.hardware)
    closed = result.records[result.records.division == "closed"]
    assert set(closed[closed.cpu_only_cortex_m].network) == {"ad01", "pretrainedResnet", "kws_ref_model", "vww_96"}


# --- generic tables -------------------------------------------------------------------------------------------------

def test_load_table_maps_columns_and_converts_units(tmp_path):
    path = write(tmp_path / "runs.csv", "board,model,ms,uj,extra\nL4,kws,181.9,7373.7,x\nL4,vww,-3,1,y\n")
    result = load_table(path, columns={"board": "hardware", "model": "network", "ms": "latency_s", "uj": "energy_j"},
                        units={"latency_s": "ms", "energy_j": "uJ"}, constants={"framework": "TFLite Micro 2.3.1"})
    row = result.records.iloc[0]
    assert (row.hardware, row.network, row.source, row.framework, row.framework_version) == (
        "L4", "kws", "runs.csv:2", "TFLite Micro", "2.3.1")
    assert row.latency_s == pytest.approx(0.1819) and row.energy_j == pytest.approx(7.3737e-3)
    assert result.rejected.reason.iloc[0] == "latency_s: must be a positive finite number, got -0.003"
    assert result.files.reason.iloc[0] == "2 rows; columns not read: ['extra']"


def test_load_table_throughput_units(tmp_path):
    path = write(tmp_path / "t.csv", "hardware,network,throughput_fps\nA,N,2\n")
    assert load_table(path, units={"throughput_fps": "kfps"}).records.throughput_fps.iloc[0] == 2000.0


def test_load_table_errors(tmp_path):
    path = write(tmp_path / "t.csv", "hardware,network,latency_s\nA,N,2\n")
    with pytest.raises(RecordError, match=r": no such file; give the path of a \.csv or \.parquet table"):
        load_table(tmp_path / "missing.csv")
    with pytest.raises(RecordError, match=r"\['speed'\] are not record columns; map onto hardware, network"):
        load_table(path, columns={"latency_s": "speed"})
    with pytest.raises(UnitError, match=r"unit 'parsec' for latency_s: unknown unit 'parsec'"):
        load_table(path, units={"latency_s": "parsec"})
    with pytest.raises(UnitError, match=r"unknown unit 'rpm' for throughput_fps; use one of fps, kfps"):
        load_table(path, units={"throughput_fps": "rpm"})
    with pytest.raises(UnitError, match=r"column 'network' takes no unit; units apply to latency_s"):
        load_table(path, units={"network": "m"})
    with pytest.raises(RecordError, match=r"units given for \['energy_j'\], which t\.csv does not have"):
        load_table(path, units={"energy_j": "mJ"})
    with pytest.raises(RecordError, match=r"t\.xlsx: unsupported table format '\.xlsx'; use \.csv or \.parquet"):
        load_table(write(tmp_path / "t.xlsx", "x"))


def test_load_table_parquet(tmp_path):
    frame = pd.DataFrame({"hardware": ["A"], "network": ["N"], "latency_s": [0.5]})
    try:
        frame.to_parquet(tmp_path / "t.parquet")
    except ImportError:
        write(tmp_path / "t.parquet", "not parquet")
        with pytest.raises(RecordError, match=r"reading t\.parquet needs a Parquet engine \(pyarrow or fastparquet\) "
                                              r"and none is installed; pip install pyarrow"):
            load_table(tmp_path / "t.parquet")
        return
    assert load_table(tmp_path / "t.parquet").records.source.iloc[0] == "t.parquet row 0"


def test_load_table_unreadable_file_is_listed(tmp_path):
    path = write(tmp_path / "t.csv", "")
    result = load_table(path)
    assert result.records.empty
    assert result.unreadable_files.reason.iloc[0].startswith("cannot read the table: No columns to parse")


# --- generic tables: the chunked, column-wise validation against the per-row model ---------------------------------

CELLS = {
    "hardware": ["A", "B", "", "NA", " A ", "x" * 80],
    "network": ["N", "M", ""],
    "precision": ["int8", "INT8", "fp16", "", "int99"],
    "batch": ["1", "2", "0", "1.0", "1.5", str(2**70), "x", ""],
    "latency_s": ["0.5", "12 ms", "-1", "inf", "nan", "", "abc", "7", "1e400"],
    "throughput_fps": ["100", "5 kfps", "", "-3"],
    "pruning_pct": ["100", "80%", "0", "", "eighty"],
    "framework": ["TFLite Micro 2.3", "X-CUBE-AI v7.3.0", "", "N/A", "tvm", "TFLite\nMicro"],
    "framework_version": ["", "9.9", "  spaced   out "],
    "accuracy_top1_pct": ["", "70", "101"],
    "notes": ["", "x", "a,b"],
    "other": ["", "1"],
}
NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
      "NULL", "NaN", "None", "n/a", "nan", "null"}
NUMERIC = {"batch", "latency_s", "throughput_fps", "pruning_pct", "accuracy_top1_pct"}


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _given(column: str, text: str, factor: float | None):
    """A cell as the module docstring of load_table defines it: missing, a plain number, or the text."""
    if text.strip() in NA:
        return None
    if column not in NUMERIC:
        return text
    try:
        value = int(text) if text.strip().lstrip("+-").isdigit() else float(text)
    except ValueError:
        return text
    return value * factor if factor and pd.notna(value) and abs(value) != float("inf") else value


def _expected(header: list[str], rows: list[tuple[int, list[str]]], name: str, units: dict[str, float],
              constants: dict):
    """records_frame (the per-row pydantic model) on the rows written: the oracle of the column-wise path."""
    from rooflinekit.compare.records import RECORD_COLUMNS, records_frame

    dicts, refused = [], []
    for line, cells in rows:
        if len(cells) > len(header):
            refused.append({"source": f"{name}:{line}", "reason": f"{len(cells) - len(header)} more cells than the "
                                                                   "header has columns; quote cells that hold commas"})
            continue
        row = {column: _given(column, text, units.get(column)) for column, text in zip(header, cells)
               if column in RECORD_COLUMNS}
        row.update({column: None for column in header[len(cells):] if column in RECORD_COLUMNS})
        dicts.append({**constants, **row, "source": f"{name}:{line}"})
    result = records_frame(dicts)
    late = pd.DataFrame(refused, columns=list(result.rejected.columns), dtype=object)
    return result.records, pd.concat([result.rejected, late], ignore_index=True) if refused else result.rejected



@st.composite
def tables(draw):
    """A header (mostly with the required columns) and rows of cell choices (mostly the first, valid one)."""
    required = ["hardware", "network", "latency_s"] if draw(st.integers(0, 4)) else []
    extra = draw(st.lists(st.sampled_from(sorted(set(CELLS) - set(required))), max_size=6, unique=True))
    header = draw(st.permutations(required + extra)) or ["hardware"]
    choice = st.sampled_from([0] * 8 + list(range(1, 9)))
    rows = draw(st.lists(st.tuples(st.lists(choice, min_size=len(header), max_size=len(header)),
                                   st.sampled_from(["full", "full", "full", "short", "extra", "blank"])),
                         max_size=14))
    return header, rows


@pytest.mark.parametrize("chunk, cache", [(3, 2), (8192, 4096)])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), units=st.sampled_from([{}, {"latency_s": "ms"}]),
       constants=st.sampled_from([{}, {"hardware": "C", "framework": "TFLite Micro 2.3.1"}, {"batch": 4}]))
def test_load_table_column_wise_equals_the_per_row_model(tmp_path, monkeypatch, chunk, cache, table, units,
                                                          constants):
    from rooflinekit.compare import record_columns
    from rooflinekit.compare.loaders import generic

    monkeypatch.setattr(generic, "CHUNK_ROWS", chunk)
    monkeypatch.setattr(record_columns, "CACHE_LIMIT", cache)
    header, picks = table
    units = units if set(units) <= set(header) else {}  # units for a column the table lacks: a RecordError
    lines, rows, line = [",".join(header)], [], 1
    for choices, shape in picks:
        if shape == "blank":
            lines.append("")
            line += 1
            continue
        cells = [CELLS[column][choice % len(CELLS[column])] for column, choice in zip(header, choices)]
        cells = cells[:-1] if shape == "short" and len(cells) > 1 else cells + ["x"] if shape == "extra" else cells
        text = ",".join(_quoted(cell) for cell in cells)
        if not text.replace(",", "").replace('"', "").strip():
            continue  # an all-blank row is a blank line
        lines.append(text)
        rows.append((line + 1, cells))
        line += 1 + text.count("\n")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_table(path, units=units, constants=constants)
    records, rejected = _expected(header, rows, "t.csv", {k: 1e-3 for k in units}, constants)
    pd.testing.assert_frame_equal(result.records, records)
    assert len(result.records) + len(result.rejected) == len(rows)
    assert list(result.rejected.columns) == list(rejected.columns)
    assert list(result.rejected.source) == list(rejected.source)
    assert list(result.rejected.reason) == list(rejected.reason)


def test_load_table_duplicates_across_chunks_and_a_missing_required_column(tmp_path, monkeypatch):
    from rooflinekit.compare.loaders import generic

    monkeypatch.setattr(generic, "CHUNK_ROWS", 2)
    path = write(tmp_path / "t.csv", "hardware,network,batch,latency_s,framework\n"
                                     "A,N,1,0.5,X-CUBE-AI v7.3.0\n"   # line 2: kept, an exact duplicate at 5
                                     "A,N,2,0.5,\n"                   # line 3: conflicts with line 6
                                     "A,N,3,,\n"                      # line 4: no measurement
                                     "A,N,1,0.5,X-CUBE-AI 7.3.0\n"
                                     "A,N,2,0.6,\n"
                                     "A,N,4,0.1,TFLite Micro\n")
    result = load_table(path)
    assert list(result.records.source) == ["t.csv:2", "t.csv:7"]
    assert list(result.records.framework_version) == ["7.3.0", None]
    assert list(result.rejected.source) == ["t.csv:4", "t.csv:5", "t.csv:3", "t.csv:6"]
    assert list(result.rejected.reason) == [
        "record: no measurement: give at least one of latency_s, throughput_fps, energy_j",
        "exact duplicate of t.csv:2 (key hardware='A', network='N', pruning_pct=100.0, batch=1, "
        "framework='X-CUBE-AI', framework_version='7.3.0')",
        *["conflicting duplicates of key (hardware='A', network='N', pruning_pct=100.0, batch=2): latency_s 0.5 vs "
          "0.6 (sources t.csv:3, t.csv:6)"] * 2]
    no_network = load_table(write(tmp_path / "u.csv", "hardware,latency_s\nA,0.5\n"), constants={"batch": 2})
    assert list(no_network.rejected.reason) == ["network: Field required"]
    assert no_network.rejected.batch.iloc[0] == 2 and no_network.rejected.hardware.iloc[0] == "A"


def test_load_table_duplicate_check_is_exact_when_every_key_hash_collides(tmp_path, monkeypatch):
    import numpy as np

    from rooflinekit.compare import record_columns

    path = write(tmp_path / "t.csv", "hardware,network,batch,latency_s\nA,N,1,0.5\nA,N,2,0.5\nA,N,1,0.5\nB,N,1,0.7\n")
    expected = load_table(path)
    monkeypatch.setattr(record_columns, "_repeated", lambda hashes: np.arange(len(hashes)))  # all candidates
    result = load_table(path)
    pd.testing.assert_frame_equal(result.records, expected.records)
    pd.testing.assert_frame_equal(result.rejected, expected.rejected)
    assert list(result.records.source) == ["t.csv:2", "t.csv:3", "t.csv:5"]
    assert list(result.rejected.reason) == ["exact duplicate of t.csv:2 (key hardware='A', network='N', "
                                            "pruning_pct=100.0, batch=1)"]
