"""Several hardware classes in one calibration: op-class factors stay within their class, a software stack's
per-call and per-kernel overheads are one estimate across the classes it ran on.

Expected values are the parameters the synthetic records were generated with, never the fit's own output.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rooflinekit.compare.calibrate import CALL_OVERHEAD, KERNEL_OVERHEAD, CalibratedPredictor
from rooflinekit.compare.calibrate.model import _normal_equations

CONV = {"GPU": 5.0, "CPU": 2.0}
"""Generating conv factor (slowdown over the roofline) per hardware class."""
T0 = {"PyTorch": 40e-6, "TFLite": 2e-6}
"""Generating per-kernel overhead (s) per software stack, whatever the class."""
CALL = {"PyTorch": 1e-3, "TFLite": 1e-4}
"""Generating per-call overhead (s) per software stack."""
DEVICES = {"G1": ("GPU", "Pascal", "PyTorch"), "G2": ("GPU", "Turing", "PyTorch"),
           "C1": ("CPU", "Cortex-A72", "TFLite"), "C2": ("CPU", "Kryo", "TFLite"),
           "X": ("CPU", "Cascade Lake", "PyTorch")}


def records(devices: dict[str, tuple[str, str, str]] = DEVICES, n: int = 60, seed: int = 0) -> pd.DataFrame:
    """latency = t_call(stack) + kernels x t0(stack) + F_conv(class) x T_conv, exactly."""
    rng = np.random.default_rng(seed)
    rows = []
    for device, (hardware_class, family, stack) in devices.items():
        for i in range(n):
            kernels, conv = float(rng.integers(20, 400)), rng.uniform(1e-5, 2e-2)
            rows.append({"hardware": device, "catalog_hardware": device, "hardware_class": hardware_class,
                         "core_family": family, "framework": stack, "framework_version": None,
                         "network": f"N{i}", "kernels": kernels, "roofline_s:conv/fp32": conv,
                         "latency_s": CALL[stack] + kernels * T0[stack] + CONV[hardware_class] * conv})
    return pd.DataFrame(rows)


def predictor(**params: object) -> CalibratedPredictor:
    return CalibratedPredictor(**{"kernel_overhead_ref_s": 1e-5, "call_overhead_ref_s": 1e-3,
                                  "interval_coverage": None, **params})  # type: ignore[arg-type]


def test_a_cpu_under_a_stack_seen_only_on_gpus_takes_the_stacks_overheads_and_its_class_conv_factor():
    data = records()
    held = data["catalog_hardware"] == "X"
    fit = predictor().fit(data[~held])
    assert fit.class_scoped_ and fit.hardware_classes_ == ["CPU", "GPU"]
    factors = fit.class_factors(data[held].iloc[:1]).iloc[0]
    # its conv factor is what the CPUs alone say (a core family and a CPU stack it does not share: their class
    # level, shrunk toward the CPUs' median slowdown), whatever the GPUs' 5.0
    cpus_alone = predictor().fit(data[~held & (data["hardware_class"] == "CPU")])
    assert factors["conv/fp32"] == pytest.approx(cpus_alone.class_factors(data[held].iloc[:1])["conv/fp32"].iloc[0],
                                                 rel=1e-3)
    assert 1.0 < factors["conv/fp32"] <= CONV["CPU"]
    # its overheads are PyTorch's, known from the GPUs only; the CPUs alone would give TFLite's
    assert factors[KERNEL_OVERHEAD] * 1e-5 == pytest.approx(T0["PyTorch"], rel=0.03)
    assert factors[CALL_OVERHEAD] * 1e-3 == pytest.approx(CALL["PyTorch"], rel=0.03)
    levels = fit.explain(data[held].iloc[:1])["levels"].iloc[0]
    assert "framework: PyTorch for the overhead terms (calibrated on other hardware classes); its op-class " \
           "factors not calibrated on CPU (coarser levels used)" in levels


def test_the_gpu_factors_never_reach_a_cpu_and_the_cpu_stack_keeps_its_own_overheads():
    data = records()
    fit = predictor().fit(data)
    for device, (hardware_class, _, stack) in DEVICES.items():
        row = data[data["catalog_hardware"] == device].iloc[:1]
        factors = fit.class_factors(row).iloc[0]
        assert factors["conv/fp32"] == pytest.approx(CONV[hardware_class], rel=0.03), device
        assert factors[KERNEL_OVERHEAD] * 1e-5 == pytest.approx(T0[stack], rel=0.03), device


def test_one_class_fits_are_keyed_as_before_and_json_keeps_the_scope():
    data = records()
    gpus = data[data["hardware_class"] == "GPU"]
    single = predictor().fit(gpus)
    assert not single.class_scoped_ and sorted(single.coef_["framework"]) == ["PyTorch"]
    both = predictor().fit(data)
    assert sorted(both.coef_["framework"]) == ["CPU | PyTorch", "CPU | TFLite", "GPU | PyTorch", "PyTorch", "TFLite"]
    assert both.calibrated_keys("framework") == ["PyTorch", "TFLite"]
    text = both.to_json()
    loaded = CalibratedPredictor.from_json(text)
    assert loaded.class_scoped_ and loaded.predict(data) == pytest.approx(both.predict(data), rel=1e-12)
    older = json.loads(text)
    older["format"] = "rooflinekit.calibration/5"  # written before the scope: read unscoped, as fitted
    assert not CalibratedPredictor.from_json(json.dumps(older)).class_scoped_
    older = json.loads(text)
    older["class_scoped"] = "yes"
    with pytest.raises(Exception, match="class_scoped must be true or false"):
        CalibratedPredictor.from_json(json.dumps(older))
    uncentred = json.loads(text)
    del uncentred["class_theta0"]["CPU"]  # would silently centre the CPUs' factors at the all-class median
    with pytest.raises(Exception, match=r"class_theta0 .* lacks a centre for hardware classes \['CPU'\]"):
        CalibratedPredictor.from_json(json.dumps(uncentred))


def test_the_normal_equations_equal_those_of_the_full_jacobian():
    # J[r, positions[level][r, c]] = share[r, c] summed over levels; index `size` is the fixed zero
    rng = np.random.default_rng(1)
    rows, classes, levels, keys = 400, 4, 3, 5
    size = levels * keys * classes
    devices = rng.integers(0, 7, size=rows)
    positions = [level * keys * classes + (rng.integers(0, keys, size=7)[devices] if level else 0)[:, None] * classes
                 + np.arange(classes)[None, :] if level else np.broadcast_to(np.arange(classes), (rows, classes))
                 for level in range(levels)]
    positions[1] = np.where(np.arange(classes)[None, :] == 0, size, positions[1])  # class 0 takes no factor there
    share = rng.random((rows, classes))
    share /= share.sum(axis=1, keepdims=True)
    residual = rng.normal(size=rows)
    jacobian = np.zeros((rows, size + 1))
    for p in positions:
        jacobian[np.arange(rows)[:, None], p] = share
    jacobian = jacobian[:, :size]
    gram, moment = _normal_equations(positions, size)(share, residual)
    assert gram == pytest.approx(jacobian.T @ jacobian, abs=1e-12)
    assert moment == pytest.approx(jacobian.T @ residual, abs=1e-12)
