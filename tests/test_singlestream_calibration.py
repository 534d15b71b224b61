"""The MLPerf Inference SingleStream fidelity benchmark and the batch-1 latency calibration built from its rows."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare.calibrate import default_calibration
from rooflinekit.compare.calibrate.defaults import shipped_name
from rooflinekit.compare.loaders import load_mlperf_inference
from rooflinekit.networks.mlperf import mlperf_network

from conftest import REPO, assert_build_gives_shipped_files, benchmark_module, shared_data

NAME = "mlperf_singlestream"


@pytest.fixture(scope="module")
def singlestream() -> ModuleType:
    return benchmark_module("fidelity/mlperf_singlestream.py", "mlperf_singlestream_fidelity")


@pytest.fixture(scope="module")
def loaded(singlestream: ModuleType) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return singlestream.load_features(shared_data("mlperf_inference"))


def test_every_table_row_is_costed_or_left_out_with_a_reason(loaded):
    features, left_out = loaded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_mlperf_inference(shared_data("mlperf_inference"))
    for frame in features.values():
        assert len(frame) + len(left_out) == len(table.records) + len(table.rejected)
    assert left_out["reason"].str.len().gt(0).all()
    reasons = left_out["reason"]
    assert reasons.str.startswith("MIG slice").any() and reasons.str.startswith("MaxQ").any()
    assert reasons.str.contains("not in the hardware catalog").any()


def test_the_traffics_cost_the_same_rows(loaded):
    features, _ = loaded
    first, second = features.values()
    assert first["source"].tolist() == second["source"].tolist()
    assert (second["roofline_latency_s"] < first["roofline_latency_s"]).all()  # weights only moves less


def test_every_costed_row_is_one_singlestream_sample(loaded):
    features, _ = loaded
    for frame in features.values():
        assert (frame["batch"] == 1).all()
        assert (frame["scenario"] == "SingleStream").all()
        assert frame["operating_mode"].isna().all()  # no MaxQ
        assert set(frame["hardware_class"]) == {"GPU", "NPU"}
        assert set(frame["network"]) == {"resnet50", "retinanet", "bert-large"}


def test_the_measured_latency_is_the_tables_p90_in_seconds(loaded):
    """latency_s of each row = latency_ms / 1000 of the CSV line it came from, read here without the loader."""
    features, _ = loaded
    path = shared_data("mlperf_inference") / "results.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        lines = {reader.line_num: row for reader in [csv.DictReader(handle)] for row in reader}
    frame = next(iter(features.values()))
    for source, latency_s in zip(frame["source"], frame["latency_s"]):
        row = lines[int(source.rsplit(":", 1)[1])]
        assert row["scenario"] == "SingleStream"
        assert latency_s == pytest.approx(float(row["latency_ms"]) / 1000, rel=1e-12)


def test_a_resnet50_row_is_costed_as_predict_at_batch_1(loaded, singlestream):
    """The roofline of an A30 ResNet-50 row is the layer-mode bound of one sample with weights and activations
    moving, as rk.predict gives it, and not the 64-sample Offline cost scaled to one."""
    features, _ = loaded
    frame = features[singlestream.BASELINE_TRAFFIC]
    row = frame[(frame["device"] == "NVIDIA A30") & (frame["network"] == "resnet50")].iloc[0]
    network = mlperf_network("resnet50", precision="int8")
    one = rk.predict(network, "NVIDIA A30", "int8", batch=1, mode="layer", traffic="weights_and_activations",
                     fuse=False)
    assert row["roofline_latency_s"] == pytest.approx(one.latency_s, rel=1e-9)
    sixty_four = rk.predict(network, "NVIDIA A30", "int8", batch=64, mode="layer", traffic="weights_only",
                            fuse=False)
    assert row["roofline_latency_s"] > 1.05 * sixty_four.latency_s / 64


def test_rows_faster_than_the_weight_bound_are_left_out_and_the_rest_kept(loaded, singlestream):
    """A row measured faster than its weights-only bound cannot have run the stated precision (left out); one
    faster than its weights-and-activations bound only kept its activations on chip (kept)."""
    features, left_out = loaded
    weights_only = features["weights_only"]
    assert (weights_only["latency_s"] >= weights_only["roofline_latency_s"]).all()
    both = features[singlestream.BASELINE_TRAFFIC]
    npu_resnet = both[(both["device"] == "Cloud AI 100 Pro") & (both["network"] == "resnet50")]
    assert len(npu_resnet) and (npu_resnet["latency_s"] < npu_resnet["roofline_latency_s"]).all()
    faster = left_out[left_out["reason"].str.startswith("measured faster than the compute and weight-traffic")]
    assert len(faster) and (faster["precision"] == "fp32").all()


def test_a_jetson_singlestream_row_runs_on_its_gpu_alone(loaded):
    features, _ = loaded
    frame = next(iter(features.values()))
    jetson = frame[frame["device"].str.startswith("Jetson")]
    assert len(jetson) and jetson["catalog_hardware"].str.endswith("[GPU only]").all()
    assert (jetson["framework"] == "TensorRT (Jetson)").all()


# ------------------------------------------------------------------------------------------- the build

def test_the_build_gives_the_shipped_files_byte_for_byte(tmp_path: Path):
    """One build from ../shared/data equals the committed files: the build is deterministic and the shipped files
    are what it makes."""
    assert_build_gives_shipped_files("build_singlestream_calibration.py", NAME, tmp_path,
                                     "--data", shared_data("mlperf_inference"))


# ------------------------------------------------------------------------------------------- selection

@pytest.mark.parametrize(("hardware", "framework", "batch", "expected"), [
    ("GPU", None, 1, NAME), ("GPU", "TensorRT 8.6", 1, NAME), ("NPU", None, 1, NAME),
    ("GPU", None, 2, "mlperf_inference_gpu"), ("GPU", None, None, "mlperf_inference_gpu"),
    ("NPU", None, 64, "mlperf_inference_npu"), ("GPU", "PyTorch", 1, "eager_latency"),
    ("CPU", None, 1, "eager_latency"), ("MCU", None, 1, "mlperf_tiny_cortex_m"),
])
def test_one_sample_on_a_gpu_or_npu_selects_the_singlestream_calibration(hardware, framework, batch, expected):
    # a lone sample (batch 1) on a GPU or NPU, unless its stack is PyTorch (the eager-latency one); any other
    # batch keeps the Offline throughput calibration; other classes are unaffected
    assert shipped_name(hardware, framework, batch) == expected


def test_one_sample_on_a_gpu_is_the_singlestream_estimate_slower_than_the_scaled_offline_figure():
    """``predict(batch=1, calibrated=True)`` on an A30 under TensorRT is the SingleStream calibration's estimate (as
    read from its file), in its regime, slower than its bound (a lone sample pays overheads) and than the Offline
    calibration's throughput scaled to one sample (what batch 1 got before)."""
    network = mlperf_network("resnet50", precision="int8")
    path = REPO / "rooflinekit" / "calibrations" / f"{NAME}.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        latency = rk.predict(network, "NVIDIA A30", "int8", batch=1, calibrated=True, framework="TensorRT")
        from_file = rk.predict(network, "NVIDIA A30", "int8", batch=1, calibration=path, framework="TensorRT")
        scaled = rk.predict(network, "NVIDIA A30", "int8", batch=1, calibration=default_calibration("GPU", batch=64),
                            framework="TensorRT")
    bound = rk.predict(network, "NVIDIA A30", "int8", batch=1, mode="layer", traffic="weights_and_activations",
                       fuse=False)
    assert latency.estimate == "calibrated" and latency.latency_s == from_file.latency_s
    assert any(note.startswith("within the calibration regime: MLPerf Inference SingleStream")
               for note in latency.notes)
    assert any(note.startswith("outside the calibration regime (batch 1 < 64)") for note in scaled.notes)
    assert latency.latency_s > bound.latency_s and latency.latency_s > scaled.latency_s


def test_the_offline_scaled_baseline_is_the_offline_calibrations_64_sample_figure_over_64(singlestream):
    """The benchmark's ``offline_scaled`` baseline is what batch 1 got before the SingleStream calibration: the
    Offline calibration's in-regime estimate of 64 samples divided by 64, never the batch-1 calibration (which is
    fitted on the rows it is compared with)."""
    network = mlperf_network("resnet50", precision="int8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sixty_four = rk.predict(network, "NVIDIA A30", "int8", batch=64, calibrated=True)
        one = rk.predict(network, "NVIDIA A30", "int8", batch=1, calibrated=True)
    baseline = singlestream.offline_scaled(pd.DataFrame(
        {"network": ["resnet50"], "precision": ["int8"], "catalog_hardware": ["NVIDIA A30"]}))
    assert baseline[0] == pytest.approx(sixty_four.latency_s / 64, rel=1e-9)
    assert baseline[0] < one.latency_s / 2  # the batch-1 calibration: 2-5x slower


def test_a_batch_of_8_given_the_batch_1_calibration_by_name_warns_that_it_is_outside_its_regime():
    """Named explicitly, the SingleStream calibration still answers a batch of 8, costed as one call of 8 samples,
    but warns once and says in the notes that its records held one sample per query."""
    network = mlperf_network("resnet50", precision="int8")
    path = REPO / "rooflinekit" / "calibrations" / f"{NAME}.json"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eight = rk.predict(network, "NVIDIA A30", "int8", batch=8, calibration=path, framework="TensorRT")
    outside = [str(w.message) for w in caught if "outside the calibration's regime" in str(w.message)]
    assert len(outside) == 1 and "at most 1 sample(s) per query" in outside[0]
    assert eight.estimate == "calibrated"
    assert any(note.startswith("outside the calibration regime (batch 8 > 1)") for note in eight.notes)
    assert not any(note.startswith("within the calibration regime") for note in eight.notes)


def test_the_one_fit_scheme_holds_both_classes_and_predicts_each_round_from_earlier_ones(loaded, singlestream):
    """``forward one fit`` (the shipped calibration's form): each fold trains on every earlier round of both
    classes and tests on one later round of both; per class, ``forward`` trains on that class alone."""
    features, _ = loaded
    base = features[singlestream.BASELINE_TRAFFIC]
    order = {"v2.1": 0, "v3.0": 1, "v4.1": 2}
    for name, train, test in singlestream.splits(base, singlestream.JOINT):
        later = name.split()[-1]
        assert set(base.loc[test, "round"]) == {later}
        assert set(base.loc[train, "round"].map(order)) == set(range(order[later]))
        assert set(base.loc[train, "hardware_class"]) == {"GPU", "NPU"}
        assert (test == (base["round"] == later).to_numpy()).all()  # every row of the round, of either class
    for name, train, test in singlestream.splits(base, "forward"):
        assert set(base.loc[train | test, "hardware_class"]) == {name.split()[0]}
