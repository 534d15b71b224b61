"""Engines, tensor roles, capacity, spilling, fusion and traffic models, on hand-derived cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork
from rooflinekit.errors import SpecError
from rooflinekit.roofline import CountedNetwork, RowTraffic, WeightsOnly

RESNET50_WEIGHT_BYTES = 7.72e9 / 302.71  # QuTiBench's int8 weights: ops per frame / published OI


def quiet_predict(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rk.CapacityWarning)
        return rk.predict(*args, **kwargs)


# ------------------------------------------------------------------------------------------------ engines

def test_orin_gpu_plus_two_dlas_beats_the_gpu_alone():
    orin = rk.get_hardware("Jetson AGX Orin 64GB")
    gpu_only = orin.model_copy(update={"engines": orin.engines[:1], "peak_ops_per_s": orin.engines[0].peak_ops_per_s})
    # GPU alone, batch 8: compute 8 * 7.72e9 / 85e12 = 0.7266 ms > weights 25.5 MB / 204.8 GB/s = 0.125 ms
    alone = rk.predict("ResNet-50", gpu_only, batch=8)
    assert alone.latency_s == pytest.approx(8 * 7.72e9 / 85e12)
    # a frame takes 7.72e9 / 85e12 = 90.8 us on the GPU, 7.72e9 / 26.25e12 = 294.1 us on a DLA (each reads the
    # weights once, 124.5 us, and 3 x 124.5 us through the shared LPDDR5 stays below what follows). Fastest
    # split of 8 frames: GPU 6 (545 us) + 1 + 1 (294 us each) = 8 in 545 us; 5 + 2 + 1 takes 588 us (a DLA with
    # 2), 5 + 1 + 1 leaves a frame over, and GPU + one DLA needs 7 + 1 (636 us).
    split = rk.predict("ResNet-50", orin, batch=8)
    assert split.engines == ("GPU", "DLA0", "DLA1")
    assert split.engine_batches == (6, 1, 1)
    assert split.latency_s == pytest.approx(6 * 7.72e9 / 85e12)
    assert split.fps > alone.fps * 1.3
    # one frame runs on the fastest engine alone, where reading the weights (0.125 ms) outlasts compute (0.091 ms)
    single = rk.predict("ResNet-50", orin, batch=1)
    assert single.engines == ("GPU",)
    assert single.latency_s == pytest.approx(RESNET50_WEIGHT_BYTES / 204.8e9)


def test_split_leaves_an_engine_idle_when_it_would_slow_the_batch():
    orin = rk.get_hardware("Jetson AGX Orin 64GB")
    # 2 frames: both on the GPU take 2 x 90.8 = 181.6 us; one of them on a DLA would take 294.1 us
    two = rk.predict("ResNet-50", orin, batch=2)
    assert (two.engines, two.engine_batches) == (("GPU",), (2,))
    assert two.latency_s == pytest.approx(2 * 7.72e9 / 85e12)


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 40), scaled=st.sampled_from([(0,), (1,), (1, 2)]), low=st.floats(0.05, 1.0),
       gain=st.floats(1.0, 20.0))
@example(batch=2, scaled=(1, 2), low=5 / 26.25, gain=26.25 / 5)
def test_a_faster_engine_never_slows_a_batch_split(batch, scaled, low, gain):
    """The trial's counterexample (the explicit example): raising both DLAs' peak from 5 to 26.25 TOPS slowed
    batch 2 from 11,010 to 6,801 fps when frames were split in proportion to each engine's throughput."""
    orin = rk.get_hardware("Jetson AGX Orin 64GB")

    def scaled_by(factor: float) -> HardwareSpec:
        engines = list(orin.engines)
        for e in scaled:
            peaks = {dtype: peak * factor for dtype, peak in engines[e].peak_ops_per_s.items()}
            engines[e] = engines[e].model_copy(update={"peak_ops_per_s": peaks})
        return orin.model_copy(update={"engines": tuple(engines)})

    before = quiet_predict("ResNet-50", scaled_by(low), batch=batch)
    after = quiet_predict("ResNet-50", scaled_by(low * gain), batch=batch)
    assert after.latency_s <= before.latency_s * (1 + 1e-12)
    assert after.attainable_ops_per_s <= after.peak_ops_per_s * (1 + 1e-12)


def test_split_is_bounded_by_the_shared_memory():
    orin = rk.get_hardware("Jetson AGX Orin 64GB")
    def at(bandwidth: float) -> HardwareSpec:
        level = orin.memories[0].model_copy(update={"bandwidth_bytes_per_s": bandwidth})
        return orin.model_copy(update={"memories": (level,)})

    # 20 GB/s, 64 frames: each busy engine reads the weights (25.5 MB, 1.275 ms) once per batch. GPU alone:
    # 64 x 90.8 us = 5.81 ms; GPU + DLA: 44 + 20 frames, 4.0 and 5.9 ms at best (4.44 ms as a continuum); all
    # three: 40 + 12 + 12 in 3.63 ms of compute but 3 x 1.275 = 3.83 ms of reading weights: memory-bound, fastest
    p = rk.predict("ResNet-50", at(20e9), batch=64)
    assert p.engines == ("GPU", "DLA0", "DLA1")
    assert p.latency_s == pytest.approx(3 * RESNET50_WEIGHT_BYTES / 20e9)
    assert p.bound == "memory:LPDDR5"
    # 1 GB/s, 8 frames: three engines would read 3 x 25.5 MB = 76.5 ms; the GPU alone reads it once, 25.5 ms
    alone = rk.predict("ResNet-50", at(1e9), batch=8)
    assert (alone.engines, alone.engine_batches) == (("GPU",), (8,))
    assert alone.latency_s == pytest.approx(RESNET50_WEIGHT_BYTES / 1e9)
    assert alone.bound == "memory:LPDDR5"


def _mcu_net() -> LayerNetwork:
    conv = Layer(name="conv", op="conv", inputs=((1, 8, 16, 16),), outputs=((1, 16, 16, 16),),
                 weights=[(16, 8, 3, 3)], attrs={"kernel_shape": (3, 3)})
    softmax = Layer(name="softmax", op="softmax", inputs=((1, 16, 16, 16),), outputs=((1, 16, 16, 16),))
    return LayerNetwork(name="tiny", source="test", precision="int8", layers=(conv, softmax))


def test_mcu_with_npu_places_layers_by_op_class():
    p = rk.predict(_mcu_net(), "STM32N6570-DK", mode="layer", fuse=False)
    assert p.layers.engine.tolist() == ["Neural-ART NPU", "Cortex-M55"]
    # conv: 16*16*16 * 8*9 = 294,912 MACs -> 589,824 ops / 600e9 = 0.983 us; weights 1,152 B / 400 MB/s = 2.88 us
    # softmax: 3 ops per element * 4,096 = 12,288 ops / 12.8e9 = 0.96 us; no weights
    conv_s, softmax_s = max(589_824 / 600e9, 1_152 / 400e6), 12_288 / 12.8e9
    assert p.layers.time_s.tolist() == pytest.approx([conv_s, softmax_s])
    assert p.latency_s == pytest.approx(conv_s + softmax_s)
    assert p.engines == ("Neural-ART NPU", "Cortex-M55")


def test_float_layers_fall_back_to_the_engine_with_the_type():
    p = rk.predict(_mcu_net(), "STM32N6570-DK", precision="fp32", mode="layer")
    assert set(p.layers.engine) == {"Cortex-M55"}


def test_no_engine_runs_the_class():
    npu_only = rk.get_hardware("STM32N6570-DK")
    npu_only = npu_only.model_copy(update={"engines": npu_only.engines[:1], "peak_ops_per_s": {"int8": 600e9}})
    with pytest.raises(SpecError, match="no engine runs norm layers in int8 .*add the class to an engine"):
        rk.predict(_mcu_net(), npu_only)


def test_engine_spec_validation():
    base = rk.get_hardware("STM32N6570-DK").model_dump()
    with pytest.raises(SpecError, match="reaches unknown memory levels \\['DRAM'\\]"):
        HardwareSpec.model_validate({**base, "peak_ops_per_s": {}, "engines": [
            {**base["engines"][0], "memories": ["DRAM"]}]})
    with pytest.raises(SpecError, match="peak_ops_per_s is the sum of the engines' peaks"):
        HardwareSpec.model_validate({**base, "peak_ops_per_s": {"int8": 1e9}})
    with pytest.raises(SpecError, match="spill_to 'nowhere' must name another level"):
        HardwareSpec.model_validate({**base, "memories": [
            {**base["memories"][0], "spill_to": "nowhere"}, base["memories"][1]]})


# ------------------------------------------------------------------------------------- spill and capacity

def test_edge_tpu_streams_weights_beyond_its_cache():
    # 25.5 MB of int8 weights, 8 MiB cached (an aggregate spec has no activation count to share the cache with),
    # the rest over PCIe at 500 MB/s: (25.503e6 - 8,388,608) / 5e8 = 34.2 ms, far above the 1.9 ms of compute.
    p = rk.predict("ResNet-50", "Coral Dev Board")
    streamed = RESNET50_WEIGHT_BYTES - 8 * 2**20
    assert p.latency_s == pytest.approx(streamed / 500e6)
    assert p.bound == "memory:PCIe link"
    assert p.fits
    assert any("streamed from PCIe link" in note for note in p.notes)
    # Coral publishes 56 ms for ResNet-50 V1 at 299x299 on this board (1.78x our 224x224 ops, same weights):
    # the bound is in the same tens of milliseconds, not the 1.9 ms a compute roofline gives
    assert 20e-3 < p.latency_s < 56e-3


def test_weights_that_fit_stay_in_the_cache():
    p = rk.predict("MobileNetv1", "Coral Dev Board")
    assert p.bound != "memory:PCIe link"
    assert not p.notes


def test_misfit_is_reported_with_both_sizes():
    with pytest.warns(rk.CapacityWarning, match="Flash must hold 25.5 MB .* but has 2.1 MB"):
        p = rk.predict("ResNet-50", "NUCLEO-L4R5ZI", precision="int8")
    assert not p.fits
    assert p.latency_s > 0  # predicted as if the memory were large enough, and said so


def test_huge_batch_does_not_fit_a_gpu():
    big = Layer(name="conv", op="conv", inputs=((1, 64, 112, 112),), outputs=((1, 64, 112, 112),),
                weights=[(64, 64, 3, 3)], attrs={"kernel_shape": (3, 3)})
    net = LayerNetwork(name="big", source="test", precision="fp16", layers=(big,))
    # activations per frame: 2 * 64 * 112 * 112 * 2 B = 3.21 MB; at batch 100,000: 321 GB > 80 GB of HBM
    p = quiet_predict(net, "A100-SXM4-80GB", batch=100_000)
    assert not p.fits
    assert "activations 321 GB at batch 100000" in p.notes[0] and "but has 80 GB" in p.notes[0]
    assert quiet_predict(net, "A100-SXM4-80GB", batch=1000).fits


# -------------------------------------------------------------------------------------------------- fusion

def _conv_bn_relu() -> LayerNetwork:
    shape = (1, 4, 8, 8)
    return LayerNetwork(name="cbr", source="test", precision="int8", layers=(
        Layer(name="conv", op="conv", inputs=(shape,), outputs=(shape,), weights=[(4, 4, 1, 1)],
              attrs={"kernel_shape": (1, 1)}),
        Layer(name="bn", op="batch_norm", inputs=(shape,), outputs=(shape,), weights=[(4,), (4,)]),
        Layer(name="relu", op="relu", inputs=(shape,), outputs=(shape,)),
    ))


def _one_level(bandwidth: float = 1e6, overhead: float = 0.0) -> HardwareSpec:
    return HardwareSpec(name="one", kind="CPU", source="test",
                        engines=[{"name": "cpu", "peak_ops_per_s": {"int8": 1e12}, "kernel_overhead_s": overhead,
                                  "source": "test"}],
                        memories=[{"name": "RAM", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": bandwidth,
                                   "source": "test"}])


def test_fusion_moves_no_intermediate_tensors():
    # 256-element int8 tensors; weights 16 + 8 B. Unfused, each layer reads and writes 256 + 256 B:
    # (16 + 512) + (8 + 512) + 512 = 1,560 B. Fused into one kernel: reads the input, writes the output once:
    # 16 + 8 + 256 + 256 = 536 B. At 1 MB/s (memory-bound): 1.560 ms and 0.536 ms.
    net, hw = _conv_bn_relu(), _one_level()
    unfused = rk.predict(net, hw, mode="layer", traffic="weights_and_activations", fuse=False)
    fused = rk.predict(net, hw, mode="layer", traffic="weights_and_activations")
    assert unfused.latency_s == pytest.approx(1_560 / 1e6)
    assert fused.latency_s == pytest.approx(536 / 1e6)
    assert (unfused.kernels, fused.kernels) == (3, 1)
    assert fused.layers.bound.tolist() == ["memory:RAM", "fused:conv", "fused:conv"]
    assert fused.layers.time_s.sum() == pytest.approx(fused.latency_s)
    assert fused.ops == unfused.ops  # arithmetic kept


def test_kernel_overhead_per_kernel():
    # 1 us per kernel: 3 kernels unfused, 1 fused
    net = _conv_bn_relu()
    hw, bare = _one_level(overhead=1e-6), _one_level()
    for fuse, kernels in ((False, 3), (True, 1)):
        with_overhead = rk.predict(net, hw, mode="layer", fuse=fuse)
        assert with_overhead.latency_s == pytest.approx(rk.predict(net, bare, mode="layer", fuse=fuse).latency_s
                                                        + kernels * 1e-6)


def test_fusion_by_tensor_name_needs_a_single_reader():
    shape = (1, 4, 8, 8)
    conv = Layer(name="conv", op="conv", inputs=(shape,), outputs=(shape,), weights=[(4, 4, 1, 1)],
                 attrs={"kernel_shape": (1, 1)}, input_names=("x",), output_names=("c",))
    relu = Layer(name="relu", op="relu", inputs=(shape,), outputs=(shape,), input_names=("c",), output_names=("r",))
    other = Layer(name="add", op="add", inputs=(shape, shape), outputs=(shape,), input_names=("c", "r"),
                  output_names=("y",))
    net = LayerNetwork(name="branch", source="test", precision="int8", layers=(conv, relu, other))
    # 'c' is read by relu and add: the conv must write it, so relu does not fuse; add follows relu, which is
    # neither a producer nor fused into one, so add does not fuse either
    assert CountedNetwork.of(net).fuses_into_previous.tolist() == [False, False, False]


# ------------------------------------------------------------------------------------------ roles, models

def test_state_is_moved_per_frame_at_its_level():
    cell = Layer(name="cell", op="fully_connected", inputs=((1, 16),), outputs=((1, 16),), weights=[(16, 16)],
                 state=[(1, 64)])
    net = LayerNetwork(name="rnn", source="test", precision="int8", layers=(cell,))
    hw = HardwareSpec(name="mcu", kind="MCU", source="test", peak_ops_per_s={"int8": 1e12}, memories=[
        {"name": "flash", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e6, "stores": ["weights"],
         "source": "test"},
        {"name": "retention RAM", "capacity_bytes": 1e3, "bandwidth_bytes_per_s": 1e5, "stores": ["state"],
         "source": "test"},
        {"name": "SRAM", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e9, "on_chip": True,
         "stores": ["activations"], "source": "test"}])
    # weights 256 B once per batch at 1 MB/s = 256 us; state 64 B per frame at 100 kB/s = 640 us per frame
    assert rk.predict(net, hw).latency_s == pytest.approx(640e-6)
    assert rk.predict(net, hw, batch=4).latency_s == pytest.approx(4 * 640e-6)
    # at batch 16 the state needs 1,024 B of a 1,000 B level
    assert not quiet_predict(net, hw, batch=16).fits


class HalfWeights(WeightsOnly):
    """A study's own assumption: weights compressed 2:1 on the way in."""

    name = "half_weights"

    def moved_bytes(self, rows: RowTraffic) -> np.ndarray:
        return super().moved_bytes(rows) / 2


def test_a_new_traffic_model_is_one_class():
    p = rk.predict("ResNet-50", "ZCU102-DPU", traffic=HalfWeights())
    assert p.traffic == "half_weights"
    assert p.bytes == pytest.approx(RESNET50_WEIGHT_BYTES / 2)


def test_a_counted_network_is_reused_across_hardware():
    counted = CountedNetwork.of(rk.get_network("ResNet-20-CIFAR-10"), "int8")
    for hw in ("NUCLEO-F767ZI", "ZCU104-DPU"):
        assert rk.predict(counted, hw, mode="layer").latency_s == rk.predict(
            "ResNet-20-CIFAR-10", hw, "int8", mode="layer").latency_s
    with pytest.raises(SpecError, match="already counted at int8; pass the network spec"):
        rk.predict(counted, "ZCU104-DPU", precision="fp16")


# --------------------------------------------------------------------------------------------- properties

HARDWARE = ["NUCLEO-F767ZI", "ZCU104-DPU", "Jetson AGX Orin 64GB", "STM32N6570-DK", "Coral Dev Board",
            "A100-SXM4-40GB"]


@settings(max_examples=40)
@given(st.sampled_from(HARDWARE), st.sampled_from(["LeNet-MNIST", "ResNet-20-CIFAR-10"]),
       st.sampled_from(["network", "layer"]), st.sampled_from(sorted(rk.TRAFFIC_MODELS)),
       st.sampled_from([1, 3, 16]), st.booleans(), st.floats(1.0, 100.0))
def test_more_bandwidth_never_slower_and_never_above_peak(hw_name, net, mode, traffic, batch, fuse, factor):
    hw = rk.get_hardware(hw_name)
    faster = hw.model_copy(update={"memories": tuple(
        m.model_copy(update={"bandwidth_bytes_per_s": m.bandwidth_bytes_per_s * factor}) for m in hw.memories)})
    base = quiet_predict(net, hw, "int8", batch, mode, traffic, fuse=fuse)
    quicker = quiet_predict(net, faster, "int8", batch, mode, traffic, fuse=fuse)
    assert quicker.latency_s <= base.latency_s * (1 + 1e-12)
    assert base.attainable_ops_per_s <= hw.peak("int8") * (1 + 1e-12)
    assert base.latency_optimistic_s <= base.latency_s * (1 + 1e-12) <= base.latency_pessimistic_s * (1 + 1e-9)


def test_sweep_warns_once_with_the_rows_that_do_not_fit():
    # ResNet-50's 25.5 MB of int8 weights: not on the MCU's 2 MB flash, on the ZCU104's DRAM they fit; the FPGA
    # overlay without int8 is a failed row (fits missing), which is no misfit
    with pytest.warns(rk.CapacityWarning, match=r"^1 of 3 predictions do not fit their memories"):
        table = rk.sweep(["ResNet-50"], ["NUCLEO-F767ZI", "ZCU104-DPU", "ZCU104-BISMO"], ["int8"])
    assert table["fits"].tolist() == [False, True, pd.NA]
