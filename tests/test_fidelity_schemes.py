"""The fidelity schemes' own pieces (benchmarks/fidelity): the NAS-Bench-201 featurizer through the layer union
equals calibration_features network by network, the median-efficiency baseline, and leave-one-device-out never
fitting on the held-out device nor across hardware classes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "fidelity"))
import lodo  # noqa: E402
import nb201  # noqa: E402

from rooflinekit.compare.calibrate import calibration_features, network_index  # noqa: E402
from rooflinekit.networks import nb201_network  # noqa: E402

ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
         "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
         "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"]


def test_nb201_union_features_equal_calibration_features():
    # each network as its stack runs it (eager under PyTorch, pruned under TFLite), built there by architecture
    records = pd.DataFrame([{"hardware": hardware, "network": arch, "precision": "fp32", "batch": batch,
                             "framework": framework, "latency_s": 1.0}  # slower than any bound here
                            for arch in ARCHS for hardware in ("TITAN RTX", "Raspberry Pi 4 Model B")
                            for batch in (1, 32) for framework in ("PyTorch", "TFLite")])
    fast = nb201.nb201_features(records, op_classes="fine")
    reference, skipped = calibration_features(records, {}, op_classes="fine")
    assert len(skipped) == 0
    assert (fast.kernels[records.framework == "PyTorch"] > fast.kernels[records.framework == "TFLite"].values).all()
    # and an index of eager networks (the builder's default) is what the PyTorch records get
    networks = network_index([nb201_network(arch, name=arch) for arch in ARCHS], {})
    indexed, _ = calibration_features(records[records.framework == "PyTorch"], networks, op_classes="fine")
    np.testing.assert_array_equal(indexed.kernels, fast.kernels[records.framework == "PyTorch"])
    assert list(fast.columns) == list(reference.columns)
    numeric = [c for c in reference.columns if c.startswith("roofline_s:")] + ["kernels", "macs",
                                                                                "roofline_latency_s"]
    np.testing.assert_allclose(fast[numeric].to_numpy(), reference[numeric].to_numpy(), rtol=1e-12)


def test_median_efficiency_is_the_median_ratio():
    train = pd.DataFrame({"latency_s": [2.0, 3.0, 10.0], "roofline_latency_s": [1.0, 1.0, 1.0]})
    # ratios 2, 3, 10: median 3
    assert lodo.MedianEfficiency().fit(train).predict(pd.DataFrame({"roofline_latency_s": [0.5]}))[0] == 1.5


def test_leave_one_device_out_stays_in_the_class_and_skips_a_lone_device():
    rng = np.random.default_rng(0)
    rows = []
    for device, hardware_class, factor in (("A", "GPU", 2.0), ("B", "GPU", 2.0), ("C", "CPU", 5.0)):
        for i in range(30):
            conv = rng.uniform(1e-4, 1e-2)
            rows.append({"catalog_hardware": device, "hardware": device, "hardware_class": hardware_class,
                         "core_family": hardware_class, "framework": "PyTorch", "framework_version": None,
                         "network": f"N{i}", "kernels": 0.0, "roofline_s:conv/fp32": conv,
                         "roofline_latency_s": conv, "latency_s": factor * conv})
    features = pd.DataFrame(rows)
    predicted = lodo.leave_one_device_out(features, make=lambda: lodo.calibrated_predictor(
        kernel_overhead_ref_s=None, call_overhead_ref_s=None))
    # the CPU is alone in its class: not predicted; each GPU comes from the other GPU's factor 2, never the CPU's 5
    assert set(features.loc[predicted.index, "catalog_hardware"]) == {"A", "B"}
    measured = features.loc[predicted.index, "latency_s"]
    assert predicted["calibrated"].to_numpy() == pytest.approx(measured.to_numpy(), rel=0.01)
