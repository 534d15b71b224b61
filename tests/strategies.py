"""Hypothesis strategies for descriptors."""

from __future__ import annotations

from hypothesis import strategies as st

from rooflinekit.descriptors import AggregateNetwork, DType, HardwareSpec, Layer, LayerNetwork, MemoryLevel

positive = st.floats(min_value=1e-3, max_value=1e15, allow_nan=False, allow_infinity=False)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=12)
compute_dtypes = st.sampled_from([DType.INT2, DType.INT4, DType.INT8, DType.FP16, DType.BF16, DType.FP32])


@st.composite
def hardware_specs(draw) -> HardwareSpec:
    n_levels = draw(st.integers(1, 3))
    levels = [
        MemoryLevel(name=f"L{i}", capacity_bytes=draw(positive), bandwidth_bytes_per_s=draw(positive),
                    on_chip=draw(st.booleans()), stores=("weights", "activations") if i == 0 else (), source="test")
        for i in range(n_levels)
    ]
    peaks = draw(st.dictionaries(compute_dtypes, positive, min_size=1, max_size=4))
    return HardwareSpec(name=draw(names), kind=draw(st.sampled_from(["GPU", "MCU", "FPGA"])), peak_ops_per_s=peaks,
                        memories=tuple(levels), clock_hz=draw(st.none() | positive), source="test",
                        aliases=tuple(draw(st.lists(names, max_size=2))))


@st.composite
def conv_layers(draw, name: str = "conv") -> Layer:
    c_in = draw(st.integers(1, 16))
    groups = draw(st.sampled_from([g for g in range(1, c_in + 1) if c_in % g == 0]))
    c_out = groups * draw(st.integers(1, 4))
    k = draw(st.integers(1, 5))
    h = draw(st.integers(k, 20))
    out = h - k + 1
    return Layer(name=name, op="conv", inputs=((1, c_in, h, h),), outputs=((1, c_out, out, out),),
                 weights=((c_out, c_in // groups, k, k), (c_out,)), attrs={"kernel_shape": [k, k], "groups": groups})


@st.composite
def layer_networks(draw) -> LayerNetwork:
    layers = [draw(conv_layers(name=f"conv{i}")) for i in range(draw(st.integers(1, 4)))]
    return LayerNetwork(name=draw(names), layers=tuple(layers), source="test",
                        precision=draw(compute_dtypes).value)


@st.composite
def aggregate_networks(draw) -> AggregateNetwork:
    return AggregateNetwork(name=draw(names), ops_per_frame=draw(positive), params=draw(positive), source="test",
                            pruning_pct=draw(st.sampled_from([100.0, 50.0, 12.5])))
