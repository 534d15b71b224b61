"""The GPU/CPU model terms of the calibration: per-kernel and per-call overheads, fine op classes, kernel counts,
the NAS-Bench-201 layer union, and intervals on synthetic data with known noise.

Expected values are the parameters the synthetic records were generated with (or hand counts), never the fit's
own output.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import (
    CALL_OVERHEAD, JSON_FORMAT, KERNEL_OVERHEAD, CalibratedPredictor, CalibrationWarning, calibration_features,
    default_calibration, network_index, predict_with_calibration,
)
from rooflinekit.compare.calibrate.features import class_layers, op_class
from rooflinekit.counters import count_network
from rooflinekit.descriptors import Layer
from rooflinekit.errors import CalibrationError
from rooflinekit.networks import nb201_layer_union, nb201_network
from rooflinekit.networks.nb201 import NB201_OPS

T0_S = 30e-6
"""Generating per-kernel overhead (s)."""
CALL_S = 2e-3
"""Generating per-call overhead (s)."""
FACTORS = {"conv/fp32": 1.5, "elementwise/fp32": 3.0}


def gpu_records(n: int = 120, seed: int = 0, noise: float = 0.0, systems: dict[str, float] | None = None,
                scale: float = 1.0) -> pd.DataFrame:
    """Records latency = t_call + kernels x t0(system) + sum_c F_c T_c, x lognormal noise of sigma ``noise``.

    ``systems``: board -> its t0 (default: one board ``G0`` with :data:`T0_S`). Kernel counts, class times and batch
    sizes vary independently so that every term is identifiable; ``scale`` multiplies the class times (small:
    overhead-dominated records, as on a GPU at batch 1).
    """
    rng = np.random.default_rng(seed)
    systems = systems or {"G0": T0_S}
    rows = []
    for board, t0 in systems.items():
        for i in range(n):
            kernels = float(rng.integers(20, 400))
            conv, elementwise = scale * rng.uniform(1e-5, 2e-2), scale * rng.uniform(1e-6, 5e-3)
            exact = CALL_S + kernels * t0 + FACTORS["conv/fp32"] * conv + FACTORS["elementwise/fp32"] * elementwise
            rows.append({"hardware": board, "catalog_hardware": board, "hardware_class": "GPU", "core_family": "GPU",
                         "framework": "PyTorch", "framework_version": None, "network": f"N{i}",
                         "kernels": kernels, "roofline_s:conv/fp32": conv, "roofline_s:elementwise/fp32": elementwise,
                         "latency_s": exact * float(np.exp(rng.normal(0.0, noise)))})
    return pd.DataFrame(rows)


def overhead_predictor(**params: object) -> CalibratedPredictor:
    return CalibratedPredictor(**{"kernel_overhead_ref_s": 1e-5, "call_overhead_ref_s": 1e-3,
                                  "interval_coverage": None, **params})  # type: ignore[arg-type]


def test_hockney_overheads_and_class_factors_are_recovered():
    records = gpu_records()
    fit = overhead_predictor().fit(records)
    factors = fit.class_factors(records.iloc[:1]).iloc[0]
    # t0 = F_kernel_overhead x t_ref, t_call = F_call_overhead x t_ref (the generating values)
    assert factors[KERNEL_OVERHEAD] * 1e-5 == pytest.approx(T0_S, rel=0.02)
    assert factors[CALL_OVERHEAD] * 1e-3 == pytest.approx(CALL_S, rel=0.02)
    for name, value in FACTORS.items():
        assert factors[name] == pytest.approx(value, rel=0.02)
    assert fit.predict(records) == pytest.approx(records.latency_s.to_numpy(), rel=0.02)


def test_without_the_overhead_terms_the_same_records_are_badly_fitted():
    # the overhead is what the records need: a factors-only model is far off on the small networks
    records = gpu_records(scale=0.1)
    plain = CalibratedPredictor(interval_coverage=None).fit(records)
    errors = np.abs(plain.predict(records) / records.latency_s - 1)
    assert np.median(errors) > 0.2


def test_the_overhead_is_shrunk_per_system_like_any_factor():
    # two boards with their own t0: the system level recovers each. A record counts toward a factor by the share
    # of its time in that factor's class, squared (the Gauss-Newton normal equations): 300 overhead-dominated
    # records (share ~0.5-0.8) outweigh the 3 pseudo-records of system_shrinkage, up to a shrinkage of ~10 %
    systems = {"fast": 10e-6, "slow": 40e-6}
    records = gpu_records(n=300, systems=systems, scale=0.05)
    fit = overhead_predictor().fit(records)
    for board, t0 in systems.items():
        row = records[records.catalog_hardware == board].iloc[:1]
        assert fit.class_factors(row)[KERNEL_OVERHEAD].iloc[0] * 1e-5 == pytest.approx(t0, rel=0.15)
    # an unseen board of the class rests on the shared levels: between the two
    unseen = records.iloc[:1].assign(catalog_hardware="new", hardware="new")
    shared = fit.class_factors(unseen)[KERNEL_OVERHEAD].iloc[0] * 1e-5
    assert systems["fast"] < shared < systems["slow"]
    assert fit.explain(unseen).depth.iloc[0] == 1


def test_overhead_terms_need_a_kernel_count_and_a_positive_reference():
    records = gpu_records(n=20)
    with pytest.raises(CalibrationError, match="kernels column"):
        overhead_predictor().fit(records.drop(columns="kernels"))
    with pytest.raises(CalibrationError, match="kernel_overhead_ref_s must be a positive time"):
        overhead_predictor(kernel_overhead_ref_s=0.0).fit(records)
    with pytest.raises(CalibrationError, match="call_overhead_ref_s must be a positive time"):
        overhead_predictor(call_overhead_ref_s=float("nan")).fit(records)
    with pytest.raises(CalibrationError, match="op_classes 'medium' unknown"):
        overhead_predictor(op_classes="medium").fit(records)


def test_json_round_trip_keeps_the_overhead_terms_and_versions_2_3_and_4_still_read():
    records = gpu_records(n=40)
    fit = overhead_predictor(op_classes="fine").fit(records)
    text = fit.to_json()
    assert json.loads(text)["format"] == JSON_FORMAT == "rooflinekit.calibration/6"
    back = CalibratedPredictor.from_json(text)
    assert back.kernel_overhead_ref_s == 1e-5 and back.call_overhead_ref_s == 1e-3 and back.op_classes == "fine"
    assert back.predict(records) == pytest.approx(fit.predict(records), rel=1e-12)
    # the shipped MCU calibration has no overhead terms
    shipped = default_calibration()
    assert shipped.kernel_overhead_ref_s is None and shipped.call_overhead_ref_s is None
    assert shipped.op_classes == "coarse"
    # a version-4 file has no networks nor new-network interval: read with the unseen-device interval alone
    data = json.loads(fit.to_json())
    data["format"] = "rooflinekit.calibration/4"
    del data["params"]["network_offset_prior"], data["networks"], data["novel_network"]
    four = CalibratedPredictor.from_json(json.dumps(data))
    assert four.network_offset_prior is None and four.novel_network_ == {} and four.networks_ == []
    assert four.device_offset_prior == pytest.approx(fit.device_offset_prior)
    assert four.novel_device_ == pytest.approx(fit.novel_device_)
    # a version-3 file has no devices nor unseen-device interval: read with the depth intervals alone
    data["format"] = "rooflinekit.calibration/3"
    del data["params"]["device_offset_prior"], data["devices"], data["novel_device"]
    three = CalibratedPredictor.from_json(json.dumps(data))
    assert three.device_offset_prior is None and three.novel_device_ == {} and three.devices_ == []
    # a version-2 file has no overhead terms either and keeps loading as it was fitted
    data["format"] = "rooflinekit.calibration/2"
    del data["params"]["kernel_overhead_ref_s"], data["params"]["call_overhead_ref_s"], data["params"]["op_classes"]
    data["classes"] = [c for c in data["classes"] if c not in (KERNEL_OVERHEAD, CALL_OVERHEAD)]
    old = CalibratedPredictor.from_json(json.dumps(data))
    assert old.kernel_overhead_ref_s is None and old.classes_ == ["conv/fp32", "elementwise/fp32"]


def test_interval_coverage_on_synthetic_records_with_known_noise():
    # lognormal noise of sigma 0.15 on 8 boards: the 80 % interval should hold about 80 % of fresh records of the
    # same boards and networks, and its half-width in log space should be near 1.2816 x 0.15 (the normal quantile)
    sigma = 0.15
    systems = {f"G{i}": T0_S * (1 + 0.05 * i) for i in range(8)}
    train = gpu_records(n=40, seed=1, noise=sigma, systems=systems)
    fresh = gpu_records(n=40, seed=2, noise=sigma, systems=systems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fit = overhead_predictor(interval_coverage=0.8).fit(train)
        low, high = fit.predict_interval(fresh)
    inside = float(np.mean((fresh.latency_s >= low) & (fresh.latency_s <= high)))
    assert 0.7 <= inside <= 0.9
    half_width = np.median(np.log(high / low)) / 2
    assert half_width == pytest.approx(1.2816 * sigma, rel=0.3)


def test_fine_op_classes_split_other_and_coarse_keeps_four():
    network = nb201_network("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|none~1|none~2|")
    by_op = {layer.op: layer for layer in network.layers}
    assert {op_class(by_op[op]) for op in ("relu", "batch_norm", "avg_pool", "add")} == {"other"}
    # an inference batch norm is a per-channel scale and shift (one pass, like a ReLU): elementwise in fine
    assert [op_class(by_op[op], "fine") for op in ("relu", "batch_norm", "avg_pool", "add", "conv",
                                                    "fully_connected")] == [
        "elementwise", "elementwise", "pool", "elementwise", "conv", "fully_connected"]
    # a layer norm and a softmax reduce over a row before they write: they stay norm
    row = ((8, 64),)
    for op in ("layer_norm", "softmax"):
        assert op_class(Layer(name=op, op=op, inputs=row, outputs=row), "fine") == "norm"
        assert op_class(Layer(name=op, op=op, inputs=row, outputs=row)) == "other"


def test_kernels_count_the_layers_that_compute_or_move_something():
    # one nor_conv_3x3 edge per node, every other edge 'none'. Eager (PyTorch): per cell 3 x (relu, conv, bn), three
    # x.mul(0.) and 1 + 2 + 3 adds = 18; pruned (TFLite): the none edges are gone, one term per node: 9, no adds
    arch = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"
    network = nb201_network(arch)
    records = pd.DataFrame([{"hardware": "TITAN RTX", "network": network.name, "precision": "fp32", "batch": 1}])
    features, skipped = calibration_features(records, network_index([network], {}), op_classes="fine")
    assert len(skipped) == 0
    # stem 2 + 15 cells + 2 reductions x (3 + 3 + pool + conv + add) + head (bn, relu, gap, fc; flatten is a view)
    assert features.kernels.iloc[0] == 2 + 15 * 18 + 2 * 9 + 4
    assert "roofline_s:elementwise/fp32" in features.columns and "roofline_s:other/fp32" not in features.columns
    assert "roofline_s:norm/fp32" not in features.columns  # its batch norms are elementwise in the fine scheme
    by_stack = pd.DataFrame([{"hardware": "Raspberry Pi 4", "network": arch, "precision": "fp32", "batch": 1,
                              "framework": framework} for framework in ("TFLite", "PyTorch")])
    features, skipped = calibration_features(by_stack, {}, op_classes="fine")
    assert len(skipped) == 0 and list(features.kernels) == [2 + 15 * 9 + 2 * 9 + 4, 2 + 15 * 18 + 2 * 9 + 4]


def test_per_layer_calibrated_times_with_overheads_sum_to_the_estimate():
    # records made from the overhead model on real networks: the prediction of a network not in them matches the
    # generating formula, and its per-layer times plus the per-call overhead sum to it
    spec = get_hardware("TITAN RTX")
    archs = [f"|{a}~0|+|{b}~0|{c}~1|+|{a}~0|{b}~1|{c}~2|" for a in NB201_OPS for b in NB201_OPS[2:] for c in NB201_OPS]
    networks = [nb201_network(arch) for arch in archs[:30]]
    rows = [{"hardware": spec.name, "network": n.name, "precision": "fp32", "batch": batch, "framework": "PyTorch"}
            for n in networks for batch in (1, 64)]
    features, _ = calibration_features(pd.DataFrame(rows), network_index(networks, {}), op_classes="fine")
    times = features.filter(like="roofline_s:").sum(axis=1)
    features["latency_s"] = CALL_S + features.kernels * T0_S + 2.0 * times
    fit = overhead_predictor(op_classes="fine").fit(features)
    query = nb201_network(archs[40])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = predict_with_calibration(query, spec, fit, framework="PyTorch", batch=8)
    layers = class_layers(query, spec, None, 8, "weights_and_activations")
    expected = CALL_S + (layers.time_s > 0).sum() * T0_S + 2.0 * layers.time_s.sum()
    assert result.latency_s == pytest.approx(expected, rel=0.03)
    assert result.layers.calibrated_time_s.sum() + result.call_overhead_s == pytest.approx(result.latency_s, rel=1e-9)
    # the split between the per-call and the per-kernel overhead rests on the spread of the kernel counts (eager:
    # 144-384 here, every network paying its nodes' 90 adds), so the shrinkage toward the reference overheads moves
    # it by several percent while the total stays within 3 %
    assert result.call_overhead_s == pytest.approx(CALL_S, rel=0.1)


@settings(max_examples=15)
@given(st.lists(st.tuples(*[st.sampled_from(NB201_OPS)] * 6), min_size=1, max_size=4), st.sampled_from([1, 3]))
def test_layer_union_rows_hold_exactly_each_networks_layers(cells, batch):
    archs = [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|" for a, b, c, d, e, f in cells]
    union, incidence = nb201_layer_union(archs, batch)
    union_macs = count_network(union).layers["macs"].to_numpy()
    assert incidence.shape == (len(archs), len(union.layers))
    for arch, row in zip(archs, incidence):
        network = nb201_network(arch, batch)
        assert row.sum() == len(network.layers)
        assert row @ union_macs == pytest.approx(count_network(network).layers["macs"].sum(), rel=1e-12)
