"""Predictions on hand-checked configurations and their invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooflinekit import HardwareSpec, predict, sweep
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.errors import PrecisionError, SpecError

# the batch sweeps below run MCU boards past their SRAM on purpose; capacity has its own tests
pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")

HW = HardwareSpec(
    name="toy", kind="MCU", source="test", peak_ops_per_s={"int8": 1e9, "fp32": 2.5e8},
    memories=[
        {"name": "flash", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e8, "on_chip": True,
         "stores": ["weights"], "source": "test"},
        {"name": "SRAM", "capacity_bytes": 1e5, "bandwidth_bytes_per_s": 4e8, "on_chip": True,
         "stores": ["activations"], "source": "test"},
    ],
)


def fc(name, n_in, n_out):
    return Layer(name=name, op="fully_connected", inputs=((1, n_in),), outputs=((1, n_out),),
                 weights=[(n_out, n_in)])


NET = LayerNetwork(name="mlp", source="test", precision="int8", layers=(fc("a", 100, 1000), fc("b", 1000, 10)))


def test_network_mode_hand_computed():
    # int8: weights 100,000 + 10,000 bytes; MACs the same -> 220,000 ops.
    # compute 220,000 / 1e9 = 0.22 ms; flash 110,000 / 1e8 = 1.1 ms -> memory-bound on flash, 909.09 fps
    p = predict(NET, HW)
    assert p.latency_s == pytest.approx(1.1e-3)
    assert p.fps == pytest.approx(1 / 1.1e-3)
    assert p.bound == "memory:flash"
    assert p.operational_intensity == pytest.approx(2.0)


def test_layer_mode_hand_computed():
    # weights and activations: layer a reads 100 B, writes 1,000 B from SRAM -> 2.75 us (flash: 1 ms)
    # layer b: flash 10,000 / 1e8 = 0.1 ms. Sum 1.1 ms, every layer flash-bound.
    p = predict(NET, HW, mode="layer", traffic="weights_and_activations")
    assert p.latency_s == pytest.approx(1.1e-3)
    assert p.layers.bound.tolist() == ["memory:flash", "memory:flash"]


def test_batch_amortizes_weight_traffic():
    # batch 10: flash still 110,000 B per batch (1.1 ms), compute 2.2 ms -> compute-bound, 10 / 2.2 ms
    p = predict(NET, HW, batch=10)
    assert p.fps == pytest.approx(10 / 2.2e-3)
    assert p.bound == "compute"
    assert p.bytes == pytest.approx(11_000)


def test_on_chip_if_fits():
    big = HW.model_copy(update={"memories": HW.memories + (
        HW.memories[1].model_copy(update={"name": "TCM", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": 1e12,
                                          "stores": ()}),)})
    p = predict(NET, big, mode="layer", traffic="on_chip_if_fits")
    assert p.bound == "compute"
    assert p.latency_s == pytest.approx(0.22e-3)


def test_precision_override_and_missing_type():
    # fp32: 4x the bytes: 440,000 / 1e8 = 4.4 ms
    assert predict(NET, HW, "fp32").latency_s == pytest.approx(4.4e-3)
    with pytest.raises(PrecisionError, match="toy has no native fp16 peak"):
        predict(NET, HW, "fp16")


def test_bad_arguments():
    with pytest.raises(SpecError, match="unknown mode 'fast'"):
        predict(NET, HW, mode="fast")
    with pytest.raises(SpecError, match="batch must be a positive integer, got 0"):
        predict(NET, HW, batch=0)
    with pytest.raises(SpecError, match="unknown traffic assumption 'all'"):
        predict(NET, HW, traffic="all")


def test_aggregate_network_needs_activations_for_activation_traffic():
    with pytest.raises(SpecError, match="aggregate spec without activation_elements_per_frame"):
        predict("ResNet-50", "ZCU104-DPU", traffic="weights_and_activations")


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 2, 4, 16, 64]), st.sampled_from(["weights_only", "weights_and_activations"]))
def test_layer_mode_never_faster_than_network_mode(batch, traffic):
    layer = predict("ResNet-20-CIFAR-10", "NUCLEO-F767ZI", batch=batch, mode="layer", traffic=traffic)
    whole = predict("ResNet-20-CIFAR-10", "NUCLEO-F767ZI", batch=batch, mode="network", traffic=traffic)
    assert layer.latency_s >= whole.latency_s * (1 - 1e-12)
    assert layer.attainable_ops_per_s <= layer.peak_ops_per_s * (1 + 1e-12)


def test_larger_batch_never_lowers_fps_weights_only():
    fps = [predict("ResNet-50", "ZCU102-DPU", batch=b).fps for b in (1, 2, 8, 64)]
    assert fps == sorted(fps)


def test_sweep_keeps_every_combination():
    table = sweep(["ResNet-50", "CNV"], ["ZCU104-DPU", "TX2-maxn"], ["int8", "fp16"], [1, 4])
    assert len(table) == 2 * 2 * 2 * 2
    ok = table[table.status == "ok"]
    assert set(zip(ok.hardware, ok.precision)) == {("ZCU104-DPU", "int8"), ("TX2-maxn", "fp16")}
    missing = table[table.status != "ok"]
    assert missing.fps.isna().all()
    assert missing.status.str.contains("no native").all()


def test_sweep_matches_single_predictions():
    table = sweep(["ResNet-50 80%"], ["ZCU102-DPU"], ["int8"], [1])
    assert table.fps.iloc[0] == predict("ResNet-50 80%", "ZCU102-DPU", "int8").fps
    assert math.isclose(table.fps.iloc[0], 797.5045872, rel_tol=1e-6)  # QuTiBench's published cell
    assert np.isfinite(table.operational_intensity).all()


def test_sweep_reports_aggregate_specs_under_activation_traffic():
    table = sweep(["ResNet-50", "LeNet-MNIST"], ["NUCLEO-F767ZI"], ["int8"], [1], traffic="weights_and_activations")
    assert table.set_index("network").loc["ResNet-50", "status"].startswith(
        "ResNet-50 is an aggregate spec without activation_elements_per_frame")
    assert table.set_index("network").loc["LeNet-MNIST", "status"] == "ok"


def test_sweep_rejects_bad_batch():
    with pytest.raises(SpecError, match="batch must be a positive integer, got -1"):
        sweep(["CNV"], ["ZCU104-FINN"], ["int2"], [-1])


@pytest.mark.parametrize("mode", ["network", "layer"])
@pytest.mark.parametrize("traffic", ["weights_only", "weights_and_activations", "on_chip_if_fits"])
def test_vectorized_sweep_equals_predict(mode, traffic):
    nets = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "FINN-CNV 50%"]
    hws = ["NUCLEO-F767ZI", "ZCU104-DPU", "TX2-maxn", "EdgeTPU-fast"]
    table = sweep(nets, hws, [None, "int8", "fp16"], [1, 3, 16], mode, traffic)
    checked = 0
    for row in table[table.status == "ok"].itertuples():
        p = predict(row.network, row.hardware, row.precision, row.batch, mode, traffic)
        for field in ("fps", "latency_s", "ops", "bytes", "operational_intensity", "attainable_ops_per_s",
                      "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s"):
            assert getattr(row, field) == pytest.approx(getattr(p, field), rel=1e-9), field
        assert row.bound == p.bound
        checked += 1
    # 3 networks x 3 precisions x 4 hardware x 3 batches = 108 rows. No native type: int8 on TX2 (3 x 3 = 9),
    # fp16 everywhere but TX2 (3 x 3 x 3 = 27): 36 rows say why. The fp32 networks at their own type (None) on the
    # int8-only ZCU104-DPU and EdgeTPU fall back to the devices' default int8 (3 x 2 x 3 = 18, predicted at int8):
    # 72 are predicted.
    assert checked == 72
    assert table[table.status != "ok"].status.str.contains("has no native").sum() == 36
    fallen = table[table.notes.map(lambda notes: notes is not None and any("'s default" in n for n in notes))]
    assert len(fallen) == 18 and (fallen.precision == "int8").all()
    assert set(fallen.hardware) == {"ZCU104-DPU", "EdgeTPU-fast"} and fallen.network.nunique() == 3
