"""Loaders of the MLPerf Inference, NeuSight, Vidur and NAS-Bench-201 tables and the hardware specs they need.

Real-data tests skip when ``../shared/data/<name>`` is absent. Expected values are read from the CSVs by eye and
converted by hand (the arithmetic is written out next to each value); the reject paths use small in-memory CSVs.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_data
from rooflinekit.catalog import HardwareCatalog, get_hardware
from rooflinekit.compare.loaders import load_mlperf_inference, load_nb201, load_neusight, load_vidur
from rooflinekit.compare.loaders.mlperf_inference import REQUIRED as MLPERF_COLUMNS
from rooflinekit.compare.loaders.mlperf_inference import software_stack
from rooflinekit.compare.loaders.neusight import REQUIRED as NEUSIGHT_COLUMNS
from rooflinekit.compare.loaders.vidur import OPERATORS
from rooflinekit.compare.loaders.vidur import REQUIRED as VIDUR_COLUMNS
from rooflinekit.errors import RecordError

# --- real data ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlperf():
    folder = shared_data("mlperf_inference")
    return folder, load_mlperf_inference(folder)


@pytest.fixture(scope="module")
def neusight():
    folder = shared_data("neusight")
    return folder, load_neusight(folder)


@pytest.fixture(scope="module")
def vidur():
    folder = shared_data("vidur")
    return folder, load_vidur(folder)


@pytest.fixture(scope="module")
def nb201():
    folder = shared_data("nb201")
    return folder, load_nb201(folder)


def _input_rows(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def _one(records: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=records.index)
    for column, value in where.items():
        mask &= records[column] == value
    found = records[mask]
    assert len(found) == 1, f"{len(found)} rows match {where}"
    return found.iloc[0]


def _all_resolve(records: pd.DataFrame) -> None:
    for name in records.hardware.unique():
        assert get_hardware(name).name == name


def test_mlperf_inference_conserves_rows(mlperf):
    folder, result = mlperf
    assert len(result.records) + len(result.rejected) == _input_rows(folder / "results.csv") == 1354
    assert result.rejected.reason.notna().all()
    assert list(result.files.status) == ["read"]
    reasons = result.rejected.reason
    # 81 rows have no accelerator (n_accelerators 0); 25 + 3 rows are 1x1g.10gb MIG slices; 5 + 5 + 3 vGPU rows
    assert reasons.str.startswith("CPU-only system").sum() == 81
    assert reasons.str.startswith("MIG slice").sum() == 28
    assert reasons.str.startswith("virtualized device").sum() == 13


def test_mlperf_inference_hardware_resolves(mlperf):
    _, result = mlperf
    _all_resolve(result.records)
    assert {"A100-SXM4-80GB", "A100-PCIe-80GB", "H100-SXM5-80GB", "H100-PCIe-80GB", "NVIDIA A2", "NVIDIA A10",
            "NVIDIA A30", "NVIDIA A40", "NVIDIA L4", "NVIDIA L40", "Tesla T4", "GeForce RTX 4090",
            "Jetson AGX Orin 64GB", "Jetson Orin NX 16GB", "Cloud AI 100 Pro",
            "Cloud AI 100 Standard"} <= set(result.records.hardware)


def test_mlperf_inference_offline_per_accelerator(mlperf):
    _, result = mlperf
    # results.csv:302  ASUS ESC8000A-E11, 8x A100-PCIe-80GB, resnet50 Offline 283838 samples/s
    row = _one(result.records, source="results.csv:302")
    assert row.hardware == "A100-PCIe-80GB" and row.network == "resnet50" and row.scenario == "Offline"
    assert row.throughput_fps == pytest.approx(283838 / 8)  # 35479.75
    assert row.throughput_system_per_s == pytest.approx(283838)
    assert (row.precision, row.framework, row.framework_version, row.cuda_version) == (
        "int8", "TensorRT", "8.4.0", "11.6")
    assert row.n_accelerators == 8 and row["round"] == "v2.1" and pd.isna(row.latency_s)
    # results.csv:8  Dell XE8545 4x 'NVIDIA A100-SXM-80GB CTS', 3d-unet-99 Offline 12.8431 -> 3.210775 per GPU
    row = _one(result.records, source="results.csv:8")
    assert row.hardware == "A100-SXM4-80GB" and row.network == "3d-unet" and row.benchmark == "3d-unet-99"
    assert row.throughput_fps == pytest.approx(3.210775)
    assert "custom thermal solution" in row.notes


def test_mlperf_inference_llm_bert_and_singlestream(mlperf):
    _, result = mlperf
    # results.csv:1274  8x H100-PCIe-80GB llama2-70b-99 Offline 9281.5 tokens/s -> 1160.1875 tokens/s per GPU
    row = _one(result.records, source="results.csv:1274")
    assert (row.hardware, row.network, row.throughput_unit) == ("H100-PCIe-80GB", "llama2-70b", "tokens/s")
    assert row.throughput_fps == pytest.approx(1160.1875)
    assert (row.precision, row.framework_version) == ("fp16", "10.2.0")
    # results.csv:131  Dell R7515 4x Cloud AI 100 Pro, bert-99 Offline 2913 samples/s -> 728.25; weights int8,fp16
    row = _one(result.records, source="results.csv:131")
    assert (row.hardware, row.network, row.framework, row.framework_version) == (
        "Cloud AI 100 Pro", "bert-large", "Qualcomm Cloud AI SDK", "1.7.1")
    assert row.throughput_fps == pytest.approx(728.25)
    assert row.precision is None and "mixed weight types" in row.notes and "drops padding" in row.notes
    # results.csv:60  NVIDIA Orin (v2.1), 3d-unet-99 SingleStream p90 3809.2146 ms -> 3.8092146 s, on the GPU
    row = _one(result.records, source="results.csv:60")
    assert (row.hardware, row.scenario, row.engines_used) == ("Jetson AGX Orin 64GB", "SingleStream", "GPU")
    assert row.latency_s == pytest.approx(3.8092146)
    assert (row.framework, row.framework_version, row.cuda_version) == ("TensorRT", "8.5.0", "11.4")


def test_mlperf_inference_orin_offline_uses_dlas(mlperf):
    _, result = mlperf
    orin = result.records[(result.records.hardware == "Jetson AGX Orin 64GB")
                          & (result.records.scenario == "Offline")]
    v21 = orin[orin["round"] == "v2.1"].set_index(["system", "network"]).engines_used
    # v2.1 note: "GPU and both DLAs are used in resnet50, in Offline scenario" (not retinanet)
    assert v21[("NVIDIA Orin (TensorRT)", "resnet50")] == "GPU+DLA0+DLA1"
    assert v21[("NVIDIA Orin (TensorRT)", "retinanet")] == "GPU"
    assert v21[("NVIDIA Orin (MaxQ, TensorRT)", "resnet50")] == "GPU+DLA0+DLA1"
    assert set(orin[orin.system.str.contains("MaxQ")].operating_mode) == {"MaxQ"}


def test_neusight_conserves_rows_and_resolves(neusight):
    folder, result = neusight
    assert len(result.records) + len(result.rejected) == _input_rows(folder / "gpu_e2e.csv") == 47
    _all_resolve(result.records)
    assert set(result.records.hardware) == {"A100-PCIe-40GB", "Tesla V100-PCIe-32GB", "AMD Instinct MI100",
                                            "Tesla P100-PCIe-16GB", "Tesla T4", "Tesla P4"}
    # gpu_e2e.csv:12  bert_large, seqlen 512, batch 16, NVIDIA_A100-PCIE-40GB, fusion, 345.1722 ms
    row = _one(result.records, source="gpu_e2e.csv:12")
    assert (row.hardware, row.network, row.batch, row.seq_len, row.option) == (
        "A100-PCIe-40GB", "bert_large", 16, 512, "fusion")
    assert row.latency_s == pytest.approx(0.3451722)
    assert row.precision == "fp32" and row.framework == "PyTorch"
    assert row.dev_fp32_peak_ops_per_s == pytest.approx(19492e9) and row.dev_l2_bytes == pytest.approx(40e6)
    # gpu_e2e.csv:11, the same configuration without fusion: 205.5055 ms, roofline 155.1677 ms
    row = _one(result.records, source="gpu_e2e.csv:11")
    assert row.option is None and row.latency_s == pytest.approx(0.2055055)
    assert row.roofline_pred_s == pytest.approx(0.1551677)


def test_vidur_conserves_rows_and_resolves(vidur):
    folder, result = vidur
    rows = _input_rows(folder / "llm_op_profiles.csv.gz")
    assert rows == 6264
    assert len(result.records) + len(result.rejected) == len(OPERATORS) * rows
    assert result.rejected.reason.str.contains("duplicate").all()
    _all_resolve(result.records)
    assert set(result.records.hardware) == {"A100-SXM4-80GB", "NVIDIA A40"}
    # llm_op_profiles.csv.gz:5743  a40, Llama-2-7b-hf, num_tokens 1, tp 2: attn_pre_proj 0.091 ms, mlp_up_proj 0.168
    row = _one(result.records, source="llm_op_profiles.csv.gz:5743 attn_pre_proj")
    assert (row.hardware, row.network, row.num_tokens, row.tp, row.operator) == (
        "NVIDIA A40", "Llama-2-7b-hf/attn_pre_proj", 1, 2, "attn_pre_proj")
    assert row.latency_s == pytest.approx(0.091e-3)
    assert (row.n_head, row.n_kv_head, row.n_embd, row.n_expanded_embd, row.use_gated_mlp) == (
        32, 32, 4096, 11008, True)
    assert _one(result.records, source="llm_op_profiles.csv.gz:5743 mlp_up_proj").latency_s == pytest.approx(
        0.168e-3)


def test_nb201_conserves_rows_and_resolves(nb201):
    folder, result = nb201
    rows = _input_rows(folder / "latency.csv.gz")
    assert rows == 12500
    assert len(result.records) + len(result.rejected) == 9 * rows
    _all_resolve(result.records)
    assert set(result.records.hardware) == {"Raspberry Pi 4 Model B", "Pixel 3", "Xeon Gold 6226",
                                            "GeForce GTX 1080 Ti", "TITAN RTX"}
    # latency.csv.gz:3  index 2: gold_6226 11.381 ms, 1080ti_32 8.918 ms, titan_rtx_256 23.739 ms, raspi4 50.409
    arch = "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"
    row = _one(result.records, source="latency.csv.gz:3 gold_6226_ms")
    assert (row.hardware, row.batch, row.network, row.nb201_index) == ("Xeon Gold 6226", 1, arch, 2)
    assert row.latency_s == pytest.approx(0.011381)
    row = _one(result.records, source="latency.csv.gz:3 1080ti_32_ms")
    assert (row.hardware, row.batch, row.framework) == ("GeForce GTX 1080 Ti", 32, "PyTorch")
    assert row.latency_s == pytest.approx(0.008918)
    assert _one(result.records, source="latency.csv.gz:3 titan_rtx_256_ms").latency_s == pytest.approx(0.023739)
    row = _one(result.records, source="latency.csv.gz:3 raspi4_ms")
    assert (row.hardware, row.framework) == ("Raspberry Pi 4 Model B", "TFLite")
    assert row.latency_s == pytest.approx(0.050409)


# --- hardware specs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alias, name", [
    ("NVIDIA A100-SXM-80GB", "A100-SXM4-80GB"), ("NVIDIA A100-SXM-40GB", "A100-SXM4-40GB"),
    ("NVIDIA H100-SXM-80GB", "H100-SXM5-80GB"), ("NVIDIA H100-PCIe-80GB", "H100-PCIe-80GB"),
    ("NVIDIA A100-PCIe-80GB", "A100-PCIe-80GB"), ("NVIDIA_A100-PCIE-40GB", "A100-PCIe-40GB"),
    ("QUALCOMM Cloud AI 100 PCIe/HHHL Pro", "Cloud AI 100 Pro"),
    ("QUALCOMM Cloud AI 100 PCIe/HHHL Standard", "Cloud AI 100 Standard"),
    ("NVIDIA Jetson Orin NX 16GB", "Jetson Orin NX 16GB"),
    ("Tesla_P4", "Tesla P4"), ("Tesla_P100-PCIE-16GB", "Tesla P100-PCIe-16GB"),
    ("Tesla_V100-PCIE-32GB", "Tesla V100-PCIe-32GB"), ("AMD_Instinct_MI100", "AMD Instinct MI100"),
    ("a40", "NVIDIA A40"), ("raspi4", "Raspberry Pi 4 Model B"), ("pixel3", "Pixel 3"),
    ("gold_6226", "Xeon Gold 6226"), ("1080ti", "GeForce GTX 1080 Ti"), ("titan_rtx", "TITAN RTX"),
    # existing names keep working
    ("Tesla_T4", "Tesla T4"), ("NVIDIA L4", "NVIDIA L4"), ("A100 80GB", "A100-SXM4-80GB"),
    ("RPi4", "Raspberry Pi 4 Model B"),
])
def test_data_spellings_resolve(alias: str, name: str):
    assert get_hardware(alias).name == name


def test_catalog_loads_without_claimed_twice():
    catalog = HardwareCatalog.from_dir()  # raises SpecError when a name is claimed by two specs
    assert len(catalog.names()) == len(set(catalog.names()))


@pytest.mark.parametrize("name, dtype, ops_per_s", [
    ("H100-PCIe-80GB", "int8", 3026e12 / 2),  # datasheet 3,026 sparse -> dense half
    ("NVIDIA L40", "fp16", 362.1e12 / 2),     # 362.1 sparse -> 181.05 dense (181 in the spec)
    # matrix FP32 = 2 x the vector rate (CUs x 64 lanes x 2 x clock) through MFMA: the datasheet's 46.1 TFLOP/s
    ("AMD Instinct MI100", "fp32", 2 * 120 * 64 * 2 * 1.502e9),
    ("GeForce GTX 1080 Ti", "fp32", 3584 * 2 * 1.582e9),
    ("Jetson Orin NX 16GB", "int8", 32 * 512 * 2 * 0.918e9 + 2 * 10e12),  # GPU + 2 DLAs
    ("Xeon Gold 6226", "fp32", 12 * 64 * 2.7e9),
])
def test_new_peaks_follow_their_formulas(name: str, dtype: str, ops_per_s: float):
    spec = get_hardware(name)
    assert spec.peak(dtype) == pytest.approx(ops_per_s, rel=0.01)


# --- reject paths on small in-memory tables --------------------------------------------------------------------------

def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


_MLPERF_OK = {"version": "v3.0", "division": "closed", "suite": "datacenter", "submitter": "X", "system": "S (8x A30)",
              "system_id": "s", "accelerator": "NVIDIA A30", "n_accelerators": "8", "nodes": "1",
              "host_processor": "CPU", "benchmark": "resnet50", "scenario": "Offline",
              "precision_if_stated": "weights=int8; inputs=int8", "software": "TensorRT 8.6.0, CUDA 12.0",
              "throughput_per_s": "800", "throughput_unit": "samples/s", "throughput_per_accelerator": "100",
              "source": "log"}


@pytest.mark.parametrize("change, reason", [
    ({"accelerator": "", "n_accelerators": "0"}, r"^CPU-only system"),
    ({"accelerator": "NVIDIA A30 (1x1g.6gb MIG)"}, r"^MIG slice 'NVIDIA A30 \(1x1g.6gb MIG\)'"),
    ({"accelerator": "NVIDIA A100-SXM-80C"}, r"^virtualized device 'NVIDIA A100-SXM-80C'"),
    ({"system": "Host, VMware vSphere 8 (8x A30)"}, r"^virtualized device"),
    ({"accelerator": "Acme NPU 9000"}, r"^hardware 'Acme NPU 9000' is not in the hardware catalog"),
    ({"throughput_per_accelerator": "120"}, r"disagrees with throughput_per_s / n_accelerators = 800 / 8 = 100"),
    ({"throughput_per_s": ""}, r"^Offline row without a positive throughput_per_s"),
    ({"throughput_unit": "queries/s"}, r"throughput_unit must be samples/s or tokens/s, got 'queries/s'"),
    ({"scenario": "Server"}, r"^unknown scenario 'Server'"),
    ({"scenario": "SingleStream", "latency_ms": "-1"}, r"^SingleStream row without a positive latency_ms"),
    ({"benchmark": "dlrm-99"}, r"^unknown benchmark 'dlrm-99'"),
    ({"n_accelerators": "2.5"}, r"n_accelerators must be a positive integer, got '2.5'"),
])
def test_mlperf_inference_rejects(tmp_path: Path, change: dict[str, str], reason: str):
    _write(tmp_path / "results.csv", MLPERF_COLUMNS, [_MLPERF_OK, {**_MLPERF_OK, **change, "system_id": "t"}])
    result = load_mlperf_inference(tmp_path)
    assert len(result.records) == 1 and result.records.throughput_fps.iloc[0] == pytest.approx(100.0)
    assert len(result.rejected) == 1
    assert pd.Series(result.rejected.reason).str.contains(reason, regex=True).all(), result.rejected.reason.iloc[0]
    assert result.rejected.source.iloc[0] == "results.csv:3"


def test_mlperf_inference_table_errors(tmp_path: Path):
    with pytest.raises(RecordError, match="does not exist; point at the MLPerf Inference folder"):
        load_mlperf_inference(tmp_path)
    _write(tmp_path / "results.csv", ("version", "system"), [{"version": "v3.0", "system": "S"}])
    with pytest.raises(RecordError, match=r"results.csv lacks columns \['division'"):
        load_mlperf_inference(tmp_path / "results.csv")


@pytest.mark.parametrize("text, expected", [
    ("TensorRT 8.4.0, CUDA 11.6", ("TensorRT", "8.4.0", "11.6")),
    ("22.08 Jetson CUDA-X AI Developer Preview, TensorRT 8.5.0, CUDA 11.4", ("TensorRT", "8.5.0", "11.4")),
    ("QUALCOMM Cloud AI SDK v1.8.3", ("Qualcomm Cloud AI SDK", "1.8.3", None)),
    ("CUDA 11.6", ("CUDA", "11.6", "11.6")),
    ("suInfer", ("suInfer", None, None)),
    ("", (None, None, None)),
])
def test_software_stack(text: str, expected: tuple):
    assert software_stack(text) == expected


_NEUSIGHT_OK = {"model_name": "gpt2_large", "seqlen": "1024", "batch": "4", "device": "Tesla_T4", "mode": "inf",
                "measured_ms": "2505.2", "dtype": "fp32 (PyTorch eager)"}


@pytest.mark.parametrize("change, reason", [
    ({"mode": "train"}, r"^mode 'train' is not inference"),
    ({"device": "NVIDIA_B200"}, r"^hardware 'NVIDIA_B200' is not in the hardware catalog"),
    ({"measured_ms": "fast"}, r"latency_s: cannot read 'fast'"),
    ({"measured_ms": ""}, r"no measurement"),
])
def test_neusight_rejects(tmp_path: Path, change: dict[str, str], reason: str):
    _write(tmp_path / "gpu_e2e.csv", NEUSIGHT_COLUMNS, [_NEUSIGHT_OK, {**_NEUSIGHT_OK, **change, "batch": "8"}])
    result = load_neusight(tmp_path)
    assert len(result.records) == 1 and result.records.latency_s.iloc[0] == pytest.approx(2.5052)
    assert len(result.rejected) == 1
    assert pd.Series(result.rejected.reason).str.contains(reason, regex=True).all(), result.rejected.reason.iloc[0]
    assert result.rejected.source.iloc[0] == "gpu_e2e.csv:3"


_VIDUR_OK = {"gpu": "a40", "model": "meta-llama/Llama-2-7b-hf", "n_head": "32", "n_kv_head": "32", "n_embd": "4096",
             "n_expanded_embd": "11008", "vocab_size": "32768", "use_gated_mlp": "True", "num_tokens": "8",
             "tp": "1", **{f"{op}_median_ms": "0.5" for op in OPERATORS}}


def test_vidur_rejects(tmp_path: Path):
    rows = [_VIDUR_OK,
            {**_VIDUR_OK, "gpu": "h100"},                                  # 10 rejected: not in the catalog
            {**_VIDUR_OK, "num_tokens": "16", "mlp_act_median_ms": ""},   # 1 rejected: no measurement
            {**_VIDUR_OK, "num_tokens": "32"},
            {**_VIDUR_OK, "num_tokens": "32", "add_median_ms": "0.7"}]    # add: 2 conflicting; 9 exact duplicates
    path = tmp_path / "ops.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(VIDUR_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    result = load_vidur(path)
    assert len(result.records) + len(result.rejected) == 5 * 10
    reasons = result.rejected.reason
    assert reasons.str.contains(r"^hardware 'h100' is not in the hardware catalog").sum() == 10
    assert reasons.str.contains(r"no measurement").sum() == 1
    assert reasons.str.contains(r"^conflicting duplicates of key .*latency_s 0.0005 vs 0.0007").sum() == 2
    assert reasons.str.contains(r"^exact duplicate of ops.csv.gz:5").sum() == 9
    assert len(result.records) == 10 + 9 + 9  # row 1; row 3 without mlp_act; row 4 without add (row 5 repeats it)
    kept = result.records
    assert set(kept[kept.num_tokens == 32].operator) == set(OPERATORS) - {"add"}


def test_nb201_rejects_and_columns(tmp_path: Path):
    path = _write(tmp_path / "latency.csv", ("nb201_index", "arch_str", "raspi4_ms", "gold_6226_ms", "tpu9_64_ms",
                                             "notes"),
                  [{"nb201_index": "1", "arch_str": "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                    "raspi4_ms": "3.5", "gold_6226_ms": "abc", "tpu9_64_ms": "1", "notes": "x"}])
    result = load_nb201(path)
    assert len(result.records) + len(result.rejected) == 3
    assert _one(result.records, column="raspi4_ms").latency_s == pytest.approx(0.0035)
    reasons = result.rejected.set_index("column").reason
    assert reasons["gold_6226_ms"].startswith("latency_s: cannot read 'abc'")
    assert reasons["tpu9_64_ms"].startswith("hardware 'tpu9' is not in the hardware catalog")
    assert "columns not read: ['notes']" in result.files.reason.iloc[0]
    _write(tmp_path / "empty.csv", ("nb201_index", "arch_str"), [])
    with pytest.raises(RecordError, match=r"has no latency column"):
        load_nb201(tmp_path / "empty.csv")
