"""The MLPerf Inference forward-in-time benchmark (benchmarks/fidelity/mlperf_inference.py): row selection, the naive
baseline, the grouped-conv class, class separation and row conservation on the real table.

Expected values are derived by hand next to each assertion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import benchmark_module, shared_data
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import calibration_features
from rooflinekit.compare.calibrate.inference_offline import OFFLINE_BATCH, TRAFFIC, select
from rooflinekit.networks.mlperf import retinanet


bench = benchmark_module("fidelity/mlperf_inference.py", "mlperf_inference_fidelity")


def test_select_keeps_offline_rows_of_the_three_networks():
    records = pd.DataFrame({
        "network": ["resnet50", "3d-unet", "bert-large", "retinanet"],
        "scenario": ["Offline", "Offline", "SingleStream", "Offline"],
        "operating_mode": [None, None, None, "MaxQ"]})
    kept, left_out = select(records)
    assert list(kept.index) == [0]
    assert len(kept) + len(left_out) == len(records)
    reasons = left_out.set_index(left_out.index).reason
    assert reasons[1].startswith("3d-unet: a sample is a CT volume")
    assert reasons[2].startswith("SingleStream")
    assert reasons[3].startswith("MaxQ")


def test_median_efficiency_baseline():
    # GPU training efficiencies 1/2, 1/4, 1 -> median 1/2; NPU 1/10 alone
    train = pd.DataFrame({"hardware_class": ["GPU", "GPU", "GPU", "NPU"],
                          "roofline_latency_s": [1.0, 1.0, 2.0, 1.0], "latency_s": [2.0, 4.0, 2.0, 10.0]})
    test = pd.DataFrame({"hardware_class": ["GPU", "NPU"], "roofline_latency_s": [3.0, 0.5]})
    predicted = bench.MedianEfficiency().fit(train).predict(test)
    assert predicted == pytest.approx([3.0 / 0.5, 0.5 / 0.1])


def test_grouped_convs_get_their_own_class():
    # ResNeXt-50 32x4d at 800x800: each of the 16 bottlenecks has one grouped 3x3 conv of
    # H W 9 w (w / 32) MACs, w = 2 x planes: 200^2 x 9 x 128 x 4 = 100^2 x 9 x 256 x 8 = ... = 184,320,000,
    # so 16 x 184,320,000 = 2,949,120,000 MACs per image, plus one bias add per output element (folded batch norm):
    # H W w = 200^2 x 128 x 3 + 100^2 x 256 x 4 + 50^2 x 512 x 6 + 25^2 x 1024 x 3 = 35,200,000 ops. At batch 64 on
    # an A100 (624e12 int8 ops/s, compute bound with weights-only traffic): (2 x MACs + bias adds) x 64 / 624e12 s.
    net = retinanet()
    grouped_ops = 2 * 16 * 184_320_000 + 35_200_000
    records = pd.DataFrame({"hardware": ["A100-SXM4-80GB"], "network": ["retinanet"], "precision": ["int8"],
                            "batch": [OFFLINE_BATCH]})
    index = {("retinanet", "int8"): net}
    features, skipped = calibration_features(records, index, traffic=TRAFFIC)
    split, skipped_split = calibration_features(records, index, traffic=TRAFFIC, op_classes="grouped")
    assert skipped.empty and skipped_split.empty
    columns = [c for c in split.columns if c.startswith("roofline_s:")]
    expected = grouped_ops * OFFLINE_BATCH / get_hardware("A100-SXM4-80GB").peak("int8")
    assert split["roofline_s:grouped_conv/int8"].iloc[0] == pytest.approx(expected, rel=1e-9)
    # the split moves time between classes and keeps the total
    assert split[columns].sum(axis=1).iloc[0] == pytest.approx(features["roofline_latency_s"].iloc[0], rel=1e-12)
    assert split["roofline_s:conv/int8"].iloc[0] == pytest.approx(
        features["roofline_s:conv/int8"].iloc[0] - expected, rel=1e-9)


def _synthetic(factor: dict[str, float]) -> pd.DataFrame:
    """Rows whose measured time is the roofline time x a factor per hardware class, on 3 networks x 2 devices per
    class x 2 rounds (the NPU only in the later round)."""
    rows = []
    for round_name in ("v2.1", "v3.0"):
        for hardware_class, devices in (("GPU", ("G1", "G2")), ("NPU", ("N1",))):
            if hardware_class == "NPU" and round_name == "v2.1":
                continue
            for device in devices:
                for k, network in enumerate(("resnet50", "retinanet", "bert-large")):
                    roofline = 1e-3 * (k + 1) * (2 if device == "G2" else 1)
                    rows.append({"round": round_name, "hardware_class": hardware_class, "device": device,
                                 "catalog_hardware": device, "hardware": device, "core_family": hardware_class,
                                 "network": network, "framework": "TensorRT", "framework_version": None,
                                 "roofline_latency_s": roofline, "roofline_s:conv/int8": roofline,
                                 "latency_s": roofline * factor[hardware_class]})
    return pd.DataFrame(rows)


def test_forward_fits_each_class_on_its_own_rows():
    features = _synthetic({"GPU": 2.0, "NPU": 5.0})
    predicted = bench.forward(features)
    later = features[features["round"] == "v3.0"]
    assert set(predicted.index) == set(later.index)  # every later row is reported
    gpu = predicted.loc[later.index[later.hardware_class == "GPU"]]
    # a constant factor 2 on known devices: the calibrated prediction is the measurement, the naive one too
    assert (gpu.status == "calibrated").all() and gpu.seen.all()
    assert gpu.calibrated.to_numpy() == pytest.approx(features.loc[gpu.index, "latency_s"].to_numpy(), rel=1e-3)
    assert gpu.naive.to_numpy() == pytest.approx(features.loc[gpu.index, "latency_s"].to_numpy())
    # the NPU never appeared before v3.0: no GPU factor stands in for it
    npu = predicted.loc[later.index[later.hardware_class == "NPU"]]
    assert npu.calibrated.isna().all() and npu.status.str.startswith("no earlier NPU rows").all()
    assert not npu.seen.any()


def test_real_table_rows_are_conserved():
    folder = shared_data("mlperf_inference")
    features, left_out = bench.load_features(folder)
    with open(folder / "results.csv", encoding="utf-8") as handle:
        input_rows = sum(1 for _ in pd.read_csv(handle).itertuples())
    assert len(features) + len(left_out) == input_rows
    assert left_out["reason"].notna().all() and (left_out["reason"] != "").all()
    assert set(features["network"]) == {"resnet50", "retinanet", "bert-large"}
    assert (features["scenario"] == "Offline").all()
    # no kept row beats the compute bound at its stated precision; the fp32-labelled TensorRT rows do
    assert (features["roofline_latency_s"] <= features["latency_s"]).all()
    beyond = left_out[left_out.reason.str.startswith("measured throughput exceeds")]
    assert len(beyond) > 0 and set(beyond["precision"]) == {"fp32"}
    # batch time = OFFLINE_BATCH / per-accelerator throughput
    assert np.allclose(features["latency_s"] * features["throughput_fps"], OFFLINE_BATCH)
