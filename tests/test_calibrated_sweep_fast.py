"""``class_times_at`` costs all batches of a hardware in one pass: its values are those of one layer-mode
prediction per (network, hardware, batch), the layer table of :func:`class_layers` summed per op class."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX, class_layers, class_times_at
from rooflinekit.errors import CalibrationError, PrecisionError
from rooflinekit.roofline.engines import engines_running_all
from rooflinekit.roofline.workload import CountedNetwork

# a multi-engine GPU that splits an int8 batch between its GPU and DLAs, an MCU, a board whose parameter cache
# spills weights at large batches, an NPU whose engines run by op class, a plain GPU
HARDWARE = ["Jetson AGX Orin 64GB", "NUCLEO-F767ZI", "Coral Dev Board", "STM32N6570-DK", "NVIDIA L4"]
BATCHES = [1, 5, 64, 256]
RTOL = 1e-12


def _per_batch(network: rk.NetworkSpec, spec: rk.HardwareSpec, precision: str | None, batch: int, traffic: str,
               op_classes: str) -> dict[str, float]:
    """The features of one (hardware, batch) from its own layer table: one prediction, summed per class."""
    layers = class_layers(network, spec, precision, batch, traffic, op_classes=op_classes)
    per_class = layers.groupby("calibration_class")["time_s"].sum()
    return {"macs": float(layers["macs"].sum()), "roofline_latency_s": float(layers["time_s"].sum()),
            "kernels": float(layers["kernel"].sum()),
            **{ROOFLINE_PREFIX + name: float(t) for name, t in per_class.items()}}


@pytest.mark.parametrize("name", ["ResNet-20-CIFAR-10", "LeNet-MNIST", "FINN-CNV"])
@pytest.mark.parametrize("traffic, op_classes", [("weights_and_activations", "coarse"), ("on_chip_if_fits", "fine")])
def test_class_times_at_are_each_batchs_own_layer_table(name, traffic, op_classes):
    network = rk.get_network(name)
    specs = [rk.get_hardware(h) for h in HARDWARE]
    counted = CountedNetwork.of(network, "int8")
    found = class_times_at(network, [(spec, BATCHES) for spec in specs], "int8", traffic, counted, op_classes)
    assert len(found) == len(specs)
    for spec, rows in zip(specs, found):
        assert list(rows) == BATCHES
        for batch in BATCHES:
            expected = _per_batch(network, spec, "int8", batch, traffic, op_classes)
            row = rows[batch]
            assert (row["catalog_hardware"], row["hardware_class"]) == (spec.name, spec.kind.value)
            assert sorted(k for k in row if k.startswith(ROOFLINE_PREFIX)) == sorted(
                k for k in expected if k.startswith(ROOFLINE_PREFIX))
            for key, value in expected.items():
                assert row[key] == pytest.approx(value, rel=RTOL, abs=0.0), (spec.name, batch, key)


def test_the_cases_the_one_pass_must_follow_are_exercised():
    """The split and the spill above change the layer table with the batch: on the Jetson the table is the GPU's
    share (its MACs those of fewer frames than the batch), on the Coral board weights leave the cache at 256."""
    counted = CountedNetwork.of(rk.get_network("ResNet-20-CIFAR-10"), "int8")
    jetson, coral = rk.get_hardware("Jetson AGX Orin 64GB"), rk.get_hardware("Coral Dev Board")
    assert len(engines_running_all(counted, jetson)) > 1
    split = rk.roofline.predict(counted, jetson, None, 256, mode="layer", traffic="weights_and_activations",
                                fuse=False)
    assert len(split.engines) > 1 and max(split.engine_batches) < 256
    found = class_times_at(counted.spec, [(jetson, [256])], "int8", "weights_and_activations", counted)[0][256]
    assert found["macs"] == pytest.approx(split.layers["macs"].sum(), rel=RTOL)
    assert found["macs"] < float(counted.layers["macs"].sum()) * 256
    spilled = rk.roofline.predict(counted, coral, None, 256, mode="layer", traffic="weights_and_activations",
                                  fuse=False)
    assert any("streamed" in note for note in spilled.notes)


def test_a_totals_only_network_and_a_missing_peak_raise_what_one_prediction_raises():
    aggregate = rk.get_network("ResNet-50")
    l4, mcu = rk.get_hardware("NVIDIA L4"), rk.get_hardware("NUCLEO-F767ZI")
    with pytest.raises(CalibrationError, match="aggregate network"):
        class_times_at(aggregate, [(l4, [1, 64])], None, "weights_and_activations")
    network = rk.get_network("LeNet-MNIST")
    with pytest.raises(PrecisionError) as expected:
        class_layers(network, mcu, "fp16", 4, "weights_and_activations")
    with pytest.raises(PrecisionError) as raised:  # the L4 costs fine: the first failing combination's error
        class_times_at(network, [(l4, [1]), (mcu, [4, 8])], "fp16", "weights_and_activations")
    assert str(raised.value) == str(expected.value)
    with pytest.raises(CalibrationError, match="op_classes 'finest' unknown"):
        class_times_at(network, [(l4, [1])], None, "weights_only", op_classes="finest")


def test_batches_repeated_or_absent():
    network, l4 = rk.get_network("LeNet-MNIST"), rk.get_hardware("NVIDIA L4")
    twice, none = class_times_at(network, [(l4, (b for b in [8, 8, 2])), (l4, [])], None, "weights_only")
    assert list(twice) == [8, 2] and none == {}
    assert twice[8]["roofline_latency_s"] == pytest.approx(
        _per_batch(network, l4, None, 8, "weights_only", "coarse")["roofline_latency_s"], rel=RTOL)


def test_a_calibrated_sweep_on_a_splitting_device_and_an_mcu_is_predicts():
    """ResNet-50 on the Jetson is MLPerf's int8 network, split between the GPU and a DLA at batch 256; on the MCU
    it is totals only and keeps the bound."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(["ResNet-20-CIFAR-10", "ResNet-50"], ["Jetson AGX Orin 64GB", "NUCLEO-F767ZI"], [None],
                         [1, 256], calibrated=True)
        expected = []
        for network, hardware, batch, estimate in zip(table.network, table.hardware, table.batch, table.estimate):
            if estimate == "calibrated":
                p = rk.predict(network, hardware, batch=int(batch), calibrated=True)
                expected.append((p.latency_s, p.bound_latency_s, p.calibration_levels, p.notes))
            else:
                expected.append((np.nan, np.nan, None, None))
    calibrated = table.estimate == "calibrated"
    assert calibrated.sum() == 6  # both networks on the Jetson, ResNet-20 on the MCU; ResNet-50 there is totals only
    assert table[~calibrated].network.eq("ResNet-50").all()
    latency, bound, levels, notes = zip(*expected)
    np.testing.assert_allclose(table.latency_s.where(calibrated), latency, rtol=RTOL)
    np.testing.assert_allclose(table.bound_latency_s, bound, rtol=RTOL)
    for row, want_levels, want_notes in zip(table[calibrated].itertuples(), pd.Series(levels)[calibrated.to_numpy()],
                                            pd.Series(notes)[calibrated.to_numpy()]):
        assert row.calibration_levels == want_levels
        assert tuple(row.notes) == want_notes
