"""Counters on hand-computed cases. Each expected value is derived in the comment beside it."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rooflinekit.catalog import get_network
from rooflinekit.counters import (DEFAULT_COUNTERS, CountingConventions, UnsupportedOpWarning, count_layer,
                                 count_network, total_ops)
from rooflinekit.counters._registry import OpCount
from rooflinekit.descriptors import Layer, LayerNetwork, TensorSpec
from rooflinekit.descriptors.builder import NetworkBuilder
from rooflinekit.errors import ShapeError, SpecError, UnsupportedOpError


def count(layer: Layer):
    return DEFAULT_COUNTERS.get(layer.op)(layer)


def conv(c_in, c_out, k, s_in, s_out, groups=1, bias=True, op="conv", dims=2):
    weights = [(c_out if op == "conv" else c_in, (c_in if op == "conv" else c_out) // groups, *[k] * dims)]
    if bias:
        weights.append((c_out,))
    return Layer(name="l", op=op, inputs=((1, c_in, *[s_in] * dims),), outputs=((1, c_out, *[s_out] * dims),),
                 weights=weights, attrs={"kernel_shape": [k] * dims, "groups": groups})


def test_conv_same_padding():
    # 3x3, 3 -> 16 channels, 32x32 -> 32x32: 16 * 1024 outputs * 3 * 9 = 442,368 MACs; bias: 16,384 adds
    c = count(conv(3, 16, 3, 32, 32))
    assert (c.macs, c.bias_ops) == (442_368, 16_384)


def test_conv_strided():
    # stride 2, 16 -> 32, 32x32 -> 16x16: 32 * 256 * 16 * 9 = 1,179,648
    assert count(conv(16, 32, 3, 32, 16)).macs == 1_179_648


def test_conv_dilated_with_padding():
    # 3x3 dilation 2 pad 2 on 10x10 keeps 10x10; 4 -> 8 channels: 8 * 100 * 4 * 9 = 28,800
    layer = conv(4, 8, 3, 10, 10).model_copy(update={"attrs": {"kernel_shape": [3, 3], "dilations": [2, 2],
                                                              "pads": [2, 2, 2, 2]}})
    assert count(layer).macs == 28_800


def test_grouped_conv():
    # groups 4: 8 -> 16 channels, 5x5 -> 3x3 valid: 16 * 9 outputs * (8 / 4) * 9 = 2,592
    assert count(conv(8, 16, 3, 5, 3, groups=4)).macs == 2_592


def test_depthwise_with_multiplier():
    # depthwise, 4 channels, multiplier 2 (8 outputs), 3x3, 6x6 -> 4x4: 8 * 16 * 1 * 9 = 1,152
    assert count(conv(4, 8, 3, 6, 4, groups=4)).macs == 1_152


def test_conv1d_and_conv3d():
    # 1-D: k 5, 2 -> 4 channels, 20 -> 16: 4 * 16 * 2 * 5 = 640
    assert count(conv(2, 4, 5, 20, 16, dims=1)).macs == 640
    # 3-D: k 3, 1 -> 2 channels, 4^3 -> 2^3: 2 * 8 * 1 * 27 = 432
    assert count(conv(1, 2, 3, 4, 2, dims=3)).macs == 432


def test_groups_must_divide_channels():
    with pytest.raises(ShapeError, match="groups=3 must divide C_in=4 and C_out=8"):
        count(conv(4, 8, 3, 6, 4, groups=3))


def test_conv_transpose_with_output_padding():
    # 2 -> 3 channels, 3x3 stride 2, 4x4 -> (4-1)*2 + 3 + output_padding 1 = 10x10
    # every input element (2 * 16) meets 3 * 9 weights: 864 MACs; bias adds 3 * 100 = 300
    c = count(conv(2, 3, 3, 4, 10, op="conv_transpose"))
    assert (c.macs, c.bias_ops) == (864, 300)


def test_fully_connected_uses_weight_in_features():
    # TFLite-style unflattened input (1, 5, 5, 16) = 400 features -> 120 outputs: 48,000 MACs + 120 bias adds
    layer = Layer(name="fc", op="fully_connected", inputs=((1, 5, 5, 16),), outputs=((1, 120),),
                  weights=[(120, 400), (120,)])
    c = count(layer)
    assert (c.macs, c.bias_ops, layer.params) == (48_000, 120, 48_120)


def test_matmul_broadcasting():
    # (2, 1, 4, 8) @ (3, 8, 5) -> (2, 3, 4, 5): 120 outputs * K 8 = 960 MACs
    layer = Layer(name="mm", op="matmul", inputs=((2, 1, 4, 8), (3, 8, 5)), outputs=((2, 3, 4, 5),))
    assert count(layer).macs == 960


def test_matmul_needs_two_inputs():
    with pytest.raises(ShapeError, match="matmul layer 'mm' needs two input shapes, got 1"):
        count(Layer(name="mm", op="matmul", inputs=((4, 8),), outputs=((4, 8),)))


def test_lstm_all_steps():
    # T 10, batch 1, 1 direction, input 8, hidden 16: 10 * 4 * 16 * (8 + 16) = 15,360 MACs;
    # gate math 10 * 16 * 8 = 1,280 ops; biases 10 * 4 * 16 = 640
    layer = Layer(name="lstm", op="lstm", weights=[(1, 64, 8), (1, 64, 16), (1, 128)],
                  attrs={"seq_len": 10, "batch": 1, "input_size": 8, "hidden_size": 16})
    c = count(layer)
    assert (c.macs, c.other_ops, c.bias_ops) == (15_360, 1_280, 640)


def test_pooling():
    # max 2x2 on (1, 6, 30, 30) -> (1, 6, 15, 15): 1,350 outputs * 4 = 5,400 ops
    layer = Layer(name="p", op="max_pool", inputs=((1, 6, 30, 30),), outputs=((1, 6, 15, 15),),
                  attrs={"kernel_shape": [2, 2]})
    assert count(layer).other_ops == 5_400
    # global average over (1, 64, 8, 8): 4,096 additions
    g = Layer(name="g", op="global_avg_pool", inputs=((1, 64, 8, 8),), outputs=((1, 64, 1, 1),))
    assert count(g).other_ops == 4_096


def test_norms_softmax_elementwise():
    x = ((1, 10),)
    assert count(Layer(name="s", op="softmax", inputs=x, outputs=x)).other_ops == 30  # 3 per element
    assert count(Layer(name="b", op="batch_norm", inputs=x, outputs=x)).other_ops == 20  # 2 per element
    assert count(Layer(name="n", op="layer_norm", inputs=x, outputs=x)).other_ops == 70  # 7 per element
    assert count(Layer(name="a", op="add", inputs=x * 2, outputs=x)).other_ops == 10
    assert count(Layer(name="r", op="relu", inputs=x, outputs=x)).other_ops == 10


def test_views_move_nothing_but_copies_do():
    net = LayerNetwork(name="n", source="s", precision="int8", layers=(
        Layer(name="r", op="reshape", inputs=((1, 4, 4),), outputs=((1, 16),)),
        Layer(name="t", op="transpose", inputs=((1, 4, 4),), outputs=((1, 4, 4),)),
    ))
    rows = count_network(net).layers.set_index("name")
    assert rows.loc["r", ["ops", "input_bytes", "output_bytes"]].tolist() == [0, 0, 0]
    assert rows.loc["t", ["ops", "input_bytes", "output_bytes"]].tolist() == [0, 16, 16]


def test_bytes_round_up_per_tensor():
    # int4: weight 16*3*3*3 = 432 elements -> 216 bytes; the bias of an integer layer is int32 (the bias type of
    # int4 weights and activations): 16 elements -> 64 bytes; 3 elements (not a bias) at 4 bits -> 2 bytes
    net = LayerNetwork(name="n", source="s", precision="int4", layers=(conv(3, 16, 3, 5, 3),))
    row = count_network(net).layers.iloc[0]
    assert row.weight_bytes == 216 + 64
    odd = LayerNetwork(name="n", source="s", precision="int4", layers=(
        Layer(name="b", op="add", inputs=((1, 3),), outputs=((1, 3),), weights=[(3,)]),))
    assert count_network(odd).layers.iloc[0].weight_bytes == 2
    assert count_network(odd).layers.iloc[0].input_bytes == 2


def test_real_buffer_size_and_tensor_dtype_win():
    layer = Layer(name="fc", op="fully_connected", inputs=((1, 4),), outputs=((1, 2),),
                  weights=[TensorSpec(shape=(2, 4), dtype="int8"), TensorSpec(shape=(2,), dtype="int32", nbytes=8)])
    net = LayerNetwork(name="n", source="s", precision="W-int8_A-fp32", layers=(layer,))
    row = count_network(net).layers.iloc[0]
    assert (row.weight_bytes, row.input_bytes, row.output_bytes) == (8 + 8, 16, 8)
    # a precision override re-types everything: 10 weights at fp16 = 20 bytes
    assert count_network(net, "fp16").layers.iloc[0].weight_bytes == 20


def test_ops_convention_choices():
    net = LayerNetwork(name="n", source="s", layers=(conv(3, 16, 3, 32, 32),
                                                      Layer(name="r", op="relu", inputs=((1, 16, 32, 32),),
                                                            outputs=((1, 16, 32, 32),))))
    full = count_network(net).totals["ops"]
    no_bias = count_network(net, conventions=CountingConventions(include_bias_ops=False)).totals["ops"]
    macs_only = count_network(net, conventions=CountingConventions(False, False)).totals["ops"]
    assert macs_only == 2 * 442_368
    assert no_bias == 2 * 442_368 + 16_384  # relu only
    assert full == 2 * 442_368 + 16_384 + 16_384  # bias + relu


def test_total_ops_formula():
    assert total_ops(3, 4) == 10


def test_batch_scales_arithmetic_not_weights():
    net = LayerNetwork(name="n", source="s", layers=(conv(3, 16, 3, 32, 32),))
    one, eight = count_network(net).totals, count_network(net, batch=8).totals
    assert eight["macs"] == 8 * one["macs"]
    assert eight["activation_bytes"] == 8 * one["activation_bytes"]
    assert eight["weight_bytes"] == one["weight_bytes"]


def unknown_net():
    return LayerNetwork(name="n", source="s", layers=(
        Layer(name="a", op="NonMaxSuppression", inputs=((1, 4),), outputs=((1, 4),)),
        Layer(name="b", op="NonMaxSuppression", inputs=((1, 4),), outputs=((1, 4),)),
        Layer(name="c", op="relu", inputs=((1, 4),), outputs=((1, 4),)),
    ))


def test_unknown_op_reported_and_warned_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cost = count_network(unknown_net())
    assert cost.unsupported_ops == {"NonMaxSuppression": 2}
    assert len([w for w in caught if issubclass(w.category, UnsupportedOpWarning)]) == 1
    assert "2 layers have op kinds without a counter" in str(caught[0].message)
    assert cost.layers.supported.tolist() == [False, False, True]


def test_strict_mode_lists_supported_kinds():
    with pytest.raises(UnsupportedOpError, match=r"no counter for op kinds \{'NonMaxSuppression': 2\}; "
                                                  r"supported kinds are: .*conv"):
        count_network(unknown_net(), strict=True)


@given(st.integers(1, 8), st.integers(1, 3), st.integers(1, 4), st.integers(3, 12))
def test_depthwise_equals_grouped_with_groups_equal_channels(channels, multiplier, k, size):
    size = max(size, k)
    out = size - k + 1
    depthwise = conv(channels, channels * multiplier, k, size, out, groups=channels)
    grouped = Layer(name="g", op="conv", inputs=depthwise.inputs, outputs=depthwise.outputs,
                    weights=depthwise.weights, attrs={"kernel_shape": [k, k], "groups": channels})
    assert count(depthwise) == count(grouped)
    # and equals `channels` independent single-channel convs of `multiplier` outputs each
    single = count(conv(1, multiplier, k, size, out))
    assert count(depthwise).macs == channels * single.macs


def test_seed_study_networks():
    # MAC totals published for the seed TinyML study
    assert count_network(get_network("LeNet-MNIST")).totals["macs"] == 274_656
    assert count_network(get_network("ResNet-20-CIFAR-10")).totals["macs"] == 40_813_184


def test_builder_rejects_oversized_kernel():
    builder = NetworkBuilder("n", (1, 4, 4))
    with pytest.raises(ShapeError, match="conv 5x5 stride 1 does not fit input"):
        builder.conv(4, 5)


def test_constant_operands_count_in_elementwise():
    # Sum(a, b, const) over 10 elements: 3 operands -> 2 adds per element = 20
    layer = Layer(name="s", op="add", inputs=((1, 10), (1, 10)), outputs=((1, 10),), weights=[(1, 10)])
    assert count(layer).other_ops == 20


@pytest.mark.parametrize(("mode", "expected"), [("nearest", 0), ("linear", 4 * 2 * 64), ("cubic", 8 * 2 * 64)])
def test_resize_interpolation_ops(mode, expected):
    # output (1, 1, 8, 8) = 64 elements, 2 spatial dims
    layer = Layer(name="r", op="resize", inputs=((1, 1, 4, 4),), outputs=((1, 1, 8, 8),), attrs={"mode": mode})
    assert count(layer).other_ops == expected


def test_low_rank_shapes_are_shape_errors():
    with pytest.raises(ShapeError, match=r"layer 'l' \(conv\): input shape \[4\] has rank 1, the counter needs at least 3"):
        count(Layer(name="l", op="conv", inputs=((4,),), outputs=((1, 4, 2, 2),), attrs={"kernel_shape": [1, 1]}))


def test_fused_activation_counts_one_op_per_output():
    # TFLite keeps a fused ReLU as an attribute: 16 * 32 * 32 outputs -> 16,384 ops, as a separate relu layer
    plain = conv(3, 16, 3, 32, 32)
    fused = plain.model_copy(update={"attrs": plain.attrs | {"fused_activation": "relu"}})
    ops = [count_network(LayerNetwork(name="n", source="s", layers=(layer,))).totals["ops"] for layer in (fused, plain)]
    assert ops[0] - ops[1] == 16_384


def test_per_tensor_activation_dtypes():
    # DEQUANTIZE of 10 int8 elements to fp32: reads 10 bytes, writes 40
    layer = Layer(name="dq", op="dequantize", inputs=((1, 10),), outputs=((1, 10),), input_dtypes=["int8"],
                  output_dtypes=["fp32"])
    net = LayerNetwork(name="n", source="s", precision="int8", layers=(layer,))
    row = count_network(net).layers.iloc[0]
    assert (row.input_bytes, row.output_bytes) == (10, 40)


def test_per_tensor_dtypes_must_match_tensors():
    with pytest.raises(ValueError, match=r"layer 'dq': 2 output_dtypes for 1 outputs"):
        Layer(name="dq", op="dequantize", inputs=((1, 10),), outputs=((1, 10),), output_dtypes=["fp32", None])


def test_fused_attention():
    # batch 2, 4 heads, 16 queries x 32 keys, head dim 8: scores 2*4*16*32 = 4,096;
    # QK^T and AV: 4,096 * (8 + 8) = 65,536 MACs; softmax 3 * 4,096 = 12,288 ops
    layer = Layer(name="att", op="attention",
                  attrs={"batch": 2, "heads": 4, "q_len": 16, "kv_len": 32, "head_dim": 8})
    c = count(layer)
    assert (c.macs, c.other_ops) == (65_536, 12_288)
    with pytest.raises(ShapeError, match="attention layer 'att' lacks attribute 'kv_len'"):
        count(layer.model_copy(update={"attrs": {"batch": 1, "heads": 1, "q_len": 1, "head_dim": 1}}))


def test_rms_norm_and_hardmax():
    x = ((1, 10),)
    assert count(Layer(name="r", op="rms_norm", inputs=x, outputs=x)).other_ops == 40  # 4 per element
    assert count(Layer(name="h", op="hardmax", inputs=x, outputs=x)).other_ops == 20  # 2 per element


def test_precision_override_retypes_per_tensor_dtypes():
    # the int32 output of an integer op: 10 elements -> 40 bytes; overridden to fp16 -> 20 bytes
    layer = Layer(name="mm", op="relu", inputs=((1, 10),), outputs=((1, 10),), output_dtypes=["int32"])
    net = LayerNetwork(name="n", source="s", precision="int8", layers=(layer,))
    assert count_network(net).layers.iloc[0].output_bytes == 40
    assert count_network(net, "fp16").layers.iloc[0].output_bytes == 20


@pytest.mark.parametrize("batch", [0, -2, 1.5])
def test_count_rejects_bad_batch(batch):
    net = LayerNetwork(name="n", source="s", layers=(conv(3, 16, 3, 32, 32),))
    with pytest.raises(SpecError, match=f"batch must be a positive integer, got {batch}"):
        count_network(net, batch=batch)


def test_unknown_resize_mode_and_lrn_without_size():
    with pytest.raises(SpecError, match=r"^Layer 'r': attrs: resize attrs: mode: must be 'nearest', 'linear' or "
                                        r"'cubic', got 'bilinear'; fix these values"):
        Layer(name="r", op="resize", inputs=((1, 1, 4, 4),), outputs=((1, 1, 8, 8),), attrs={"mode": "bilinear"})
    # a copy is not validated: the counter still refuses the mode
    resize = Layer(name="r", op="resize", inputs=((1, 1, 4, 4),), outputs=((1, 1, 8, 8),)).model_copy(
        update={"attrs": {"mode": "bilinear"}})
    with pytest.raises(ShapeError, match="resize layer 'r': unknown mode 'bilinear'; use nearest, linear or cubic"):
        count(resize)
    with pytest.raises(ShapeError, match="lrn layer 'n' has no 'size' attribute"):
        count(Layer(name="n", op="lrn", inputs=((1, 4, 2, 2),), outputs=((1, 4, 2, 2),)))


def test_builder_errors_name_the_tensor():
    builder = NetworkBuilder("n", (1, 4, 4))
    with pytest.raises(ShapeError, match=r"dense needs a \(batch, features\) input, got \(1, 1, 4, 4\); flatten first"):
        builder.dense(10)
    with pytest.raises(ShapeError, match="no tensor 'nope' in n; use a name a builder method returned"):
        builder.conv(4, 3, src="nope")


def test_network_rows_are_the_layer_rows():
    """count_network looks each op kind's counter up once: its rows are count_layer's, a kind without a counter
    and an overridden one included, in layer order."""
    x = ((1, 8),)
    layers = tuple(Layer(name=f"{op}{i}", op=op, inputs=x, outputs=x)
                   for i, op in enumerate(["relu", "tanh", "relu", "custom_op", "tanh", "custom_op"]))
    net = LayerNetwork(name="n", source="s", layers=layers)
    counters = DEFAULT_COUNTERS.with_overrides({"tanh": lambda layer: OpCount(other_ops=7)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        cost = count_network(net, counters=counters)
    expected = [count_layer(layer, net.precision, counters=counters) for layer in layers]
    assert cost.layers.to_dict("records") == expected
    assert cost.unsupported_ops == {"custom_op": 2}


@pytest.mark.parametrize(("value", "error"), [(np.int64(3), None), (True, "macs is True, not an integer count"),
                                              (2.0, "macs is 2.0, not an integer count"),
                                              (-1, "macs = -1 is negative")])
def test_counts_must_be_non_negative_integers(value, error):
    layer = Layer(name="r", op="relu", inputs=((1, 8),), outputs=((1, 8),))
    net = LayerNetwork(name="n", source="s", layers=(layer,))
    counters = DEFAULT_COUNTERS.with_overrides({"relu": lambda layer: OpCount(macs=value)})
    if error is None:  # a numpy integer is an integer count
        assert count_network(net, counters=counters).totals["macs"] == 3
        return
    with pytest.raises(SpecError, match=error):
        count_network(net, counters=counters)
