"""ONNX importer on hand-built graphs: every expected count is derived by hand in a comment.

Conventions (rooflinekit.counters): conv ``macs = N * C_out * prod(S_out) * C_in / groups * prod(k)``;
conv_transpose ``macs = N * C_in * prod(S_in) * C_out / groups * prod(k)``; fully_connected and matmul
``macs = prod(output) * K``; lstm ``macs = T * N * dirs * 4 * H * (I + H)``.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import UnsupportedOpWarning, count_network  # noqa: E402
from rooflinekit.descriptors import DType, LayerNetwork  # noqa: E402
from rooflinekit.errors import ModelFileError, RooflineError, ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402
from rooflinekit.importers.onnx import load_onnx  # noqa: E402

F32, I8, U8, I32 = TensorProto.FLOAT, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32
DATA = Path(onnx.__file__).parent / "backend/test/data"
PYTORCH_CONV = DATA / "pytorch-converted/test_Conv2d/model.onnx"
LIGHT_ALEXNET = DATA / "light/light_bvlc_alexnet.onnx"


# ------------------------------------------------------------------------------------------------ helpers


def tensor(name: str, dims: Sequence[int], dtype: int = F32) -> onnx.TensorProto:
    """An initializer of zeros (values never matter to the counts)."""
    array = np.zeros(dims, dtype=helper.tensor_dtype_to_np_dtype(dtype))
    return numpy_helper.from_array(array, name)


def save(tmp_path: Path, nodes: list[onnx.NodeProto], inputs: dict[str, Sequence[int | str]],
         outputs: Sequence[str], initializers: Sequence[onnx.TensorProto] = (), opset: int = 17,
         input_types: dict[str, int] | None = None, extra_opsets: Sequence[tuple[str, int]] = (),
         name: str = "model.onnx") -> Path:
    """Write a one-graph model; outputs are declared without shapes (the importer infers them)."""
    types = input_types or {}
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, types.get(n, F32), dims) for n, dims in inputs.items()],
        [helper.make_tensor_value_info(n, F32, None) for n in outputs],
        initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra_opsets)]
    model = helper.make_model(graph, opset_imports=opsets)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def count(net: LayerNetwork):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        return count_network(net)


def only(net: LayerNetwork, op: str):
    """The single layer of kind ``op``."""
    layers = [layer for layer in net.layers if layer.op == op]
    assert len(layers) == 1, [layer.op for layer in net.layers]
    return layers[0]


def macs_of(net: LayerNetwork, *ops: str) -> int:
    rows = count(net).layers
    return int(rows[rows.op.isin(ops)].macs.sum()) if ops else int(rows.macs.sum())


# ------------------------------------------------------------------------------------------ convolutions


def test_depthwise_conv_with_channel_multiplier(tmp_path: Path) -> None:
    # x (1, 4, 8, 8), W (8, 1, 3, 3), group 4 (multiplier 2), pad 1 -> y (1, 8, 8, 8)
    # macs = N * C_out * H * W * (C_in / groups) * k * k = 1 * 8 * 8 * 8 * 1 * 9 = 4608; bias adds 512
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=4, pads=[1, 1, 1, 1])],
                {"x": [1, 4, 8, 8]}, ["y"], [tensor("w", [8, 1, 3, 3]), tensor("b", [8])])
    net = load_onnx(path)
    conv = only(net, "conv")
    assert conv.attrs["groups"] == 4 and conv.attrs["kernel_shape"] == (3, 3) and conv.attrs["bias"] is True
    assert conv.outputs == ((1, 8, 8, 8),) and conv.inputs == ((1, 4, 8, 8),)
    assert [w.shape for w in conv.weights] == [(8, 1, 3, 3), (8,)]
    row = count(net).layers.iloc[0]
    assert row.macs == 4608 and row.ops == 2 * 4608 + 512 and row.source_op == "Conv"


def test_grouped_conv(tmp_path: Path) -> None:
    # x (2, 6, 10, 10), W (9, 2, 3, 3), group 3, no pad -> y (2, 9, 8, 8)
    # macs = 2 * 9 * 8 * 8 * (6 / 3) * 9 = 20736
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], group=3)],
                {"x": [2, 6, 10, 10]}, ["y"], [tensor("w", [9, 2, 3, 3])])
    assert macs_of(load_onnx(path), "conv") == 20736


def test_dilated_conv_with_padding(tmp_path: Path) -> None:
    # x (1, 3, 16, 16), W (4, 3, 3, 3), dilation 2 (effective kernel 5), pad 2 -> 16 + 4 - 5 + 1 = 16
    # macs = 4 * 16 * 16 * 3 * 9 = 27648
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], dilations=[2, 2], pads=[2, 2, 2, 2])],
                {"x": [1, 3, 16, 16]}, ["y"], [tensor("w", [4, 3, 3, 3])])
    net = load_onnx(path)
    conv = only(net, "conv")
    assert conv.outputs == ((1, 4, 16, 16),)
    assert conv.attrs["dilations"] == (2, 2) and conv.attrs["pads"] == (2, 2, 2, 2) and conv.attrs["strides"] == (1, 1)
    assert macs_of(net, "conv") == 27648


def test_same_upper_auto_pad_is_normalized_to_pads(tmp_path: Path) -> None:
    # in 7, k 3, s 2: total = (ceil(7 / 2) - 1) * 2 + 3 - 7 = 2 -> pads (1, 1, 1, 1), out 4
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
                {"x": [1, 1, 7, 7]}, ["y"], [tensor("w", [1, 1, 3, 3])])
    conv = only(load_onnx(path), "conv")
    assert conv.attrs["pads"] == (1, 1, 1, 1) and "auto_pad" not in conv.attrs and conv.outputs == ((1, 1, 4, 4),)


def test_transposed_conv_with_output_padding(tmp_path: Path) -> None:
    # x (1, 2, 5, 5), W (C_in=2, C_out=3, 3, 3), stride 2, pad 1, output_padding 1
    # out = (5 - 1) * 2 - 2 + 3 + 1 = 10 -> y (1, 3, 10, 10)
    # macs = N * C_in * 5 * 5 * C_out * k * k = 1 * 2 * 25 * 3 * 9 = 1350
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1])
    net = load_onnx(save(tmp_path, [node], {"x": [1, 2, 5, 5]}, ["y"], [tensor("w", [2, 3, 3, 3])]))
    layer = only(net, "conv_transpose")
    assert layer.outputs == ((1, 3, 10, 10),) and layer.attrs["output_padding"] == (1, 1)
    assert macs_of(net, "conv_transpose") == 1350


def test_conv1d_and_conv3d(tmp_path: Path) -> None:
    # Conv1d: x (2, 4, 10), W (5, 4, 3) -> y (2, 5, 8): macs = 2 * 5 * 8 * 4 * 3 = 960
    one = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [2, 4, 10]}, ["y"],
               [tensor("w", [5, 4, 3])], name="c1.onnx")
    net = load_onnx(one)
    assert only(net, "conv").attrs["kernel_shape"] == (3,) and macs_of(net, "conv") == 960
    # Conv3d: x (1, 2, 4, 5, 6), W (3, 2, 2, 2, 2) -> y (1, 3, 3, 4, 5): macs = 3 * 60 * 2 * 8 = 2880
    three = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 2, 4, 5, 6]}, ["y"],
                 [tensor("w", [3, 2, 2, 2, 2])], name="c3.onnx")
    net = load_onnx(three)
    assert only(net, "conv").outputs == ((1, 3, 3, 4, 5),) and macs_of(net, "conv") == 2880


# -------------------------------------------------------------------------------------------- products


def test_matmul_broadcasting_of_two_activations(tmp_path: Path) -> None:
    # A (2, 1, 4, 5) @ B (3, 5, 6) -> (2, 3, 4, 6); macs = 2 * 3 * 4 * 6 * 5 = 720
    path = save(tmp_path, [helper.make_node("MatMul", ["a", "b"], ["y"])],
                {"a": [2, 1, 4, 5], "b": [3, 5, 6]}, ["y"])
    net = load_onnx(path)
    layer = only(net, "matmul")
    assert layer.inputs == ((2, 1, 4, 5), (3, 5, 6)) and layer.outputs == ((2, 3, 4, 6),) and not layer.weights
    assert macs_of(net) == 720


def test_matmul_with_constant_is_fully_connected_with_out_in_weight(tmp_path: Path) -> None:
    # A (2, 3, 4) @ W (4, 7) -> (2, 3, 7); weight normalized to (out, in) = (7, 4); macs = 2 * 3 * 7 * 4 = 168
    path = save(tmp_path, [helper.make_node("MatMul", ["a", "w"], ["y"])], {"a": [2, 3, 4]}, ["y"],
                [tensor("w", [4, 7])])
    net = load_onnx(path)
    layer = only(net, "fully_connected")
    assert layer.weights[0].shape == (7, 4) and layer.inputs == ((2, 3, 4),) and macs_of(net) == 168


def test_gemm_opset6_broadcast_with_trans_b(tmp_path: Path) -> None:
    # Gemm-6: A (3, 8), B (5, 8) transB, C (5,) broadcast=1 -> (3, 5): weight (out, in) = (5, 8) as stored
    # macs = 3 * 5 * 8 = 120; bias adds 3 * 5 = 15
    node = helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1, broadcast=1)
    net = load_onnx(save(tmp_path, [node], {"a": [3, 8]}, ["y"], [tensor("w", [5, 8]), tensor("c", [5])], opset=6))
    layer = only(net, "fully_connected")
    assert layer.weights[0].shape == (5, 8) and layer.attrs["bias"] is True and "broadcast" not in layer.attrs
    row = count(net).layers.iloc[0]
    assert row.macs == 120 and row.ops == 2 * 120 + 15


def test_gemm_without_trans_b_transposes_weight_and_beta_zero_drops_bias(tmp_path: Path) -> None:
    # B stored (K, N) = (8, 5) -> weight (5, 8); beta 0 means C is not added
    node = helper.make_node("Gemm", ["a", "w", "c"], ["y"], beta=0.0)
    net = load_onnx(save(tmp_path, [node], {"a": [3, 8]}, ["y"], [tensor("w", [8, 5]), tensor("c", [5])]))
    layer = only(net, "fully_connected")
    assert [w.shape for w in layer.weights] == [(5, 8)] and layer.attrs["bias"] is False


def test_gemm_of_two_activations_with_trans_a(tmp_path: Path) -> None:
    # A stored (8, 3) with transA -> A' (3, 8); B (8, 5) -> (3, 5); macs = 3 * 5 * 8 = 120
    node = helper.make_node("Gemm", ["a", "b"], ["y"], transA=1)
    net = load_onnx(save(tmp_path, [node], {"a": [8, 3], "b": [8, 5]}, ["y"], opset=13))
    layer = only(net, "matmul")
    assert layer.inputs == ((3, 8), (8, 5)) and macs_of(net) == 120


def test_einsum_contraction_and_products(tmp_path: Path) -> None:
    # bij,bjk->bik on (2, 3, 4), (2, 4, 5): every index once: macs = 2 * 3 * 4 * 5 = 120 (the einsum counter's)
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")
    net = load_onnx(save(tmp_path, [node], {"a": [2, 3, 4], "b": [2, 4, 5]}, ["y"], opset=12))
    layer = only(net, "einsum")
    assert layer.attrs == {"equation": "bij,bjk->bik"}  # the importer computes no cost
    assert layer.outputs == ((2, 3, 5),) and macs_of(net) == 120
    # a Hadamard product sums nothing: it is an elementwise mul, not a contraction
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,ij->ij")
    net = load_onnx(save(tmp_path, [node], {"a": [3, 4], "b": [3, 4]}, ["y"], opset=12, name="h.onnx"))
    assert [layer.op for layer in net.layers] == ["mul"]


def test_einsum_equation_is_normalized(tmp_path: Path) -> None:
    # spaces dropped, implicit output '...ij, ...jk' -> '...ik' (letters once, alphabetically, after the broadcast
    # dims); (7, 2, 3) x (7, 3, 4): 7 * 2 * 3 * 4 = 168 MACs
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="...ij, ...jk")
    net = load_onnx(save(tmp_path, [node], {"a": [7, 2, 3], "b": [7, 3, 4]}, ["y"], opset=12))
    assert only(net, "einsum").attrs == {"equation": "...ij,...jk->...ik"} and macs_of(net) == 168
    # a constant first operand is a weight: the terms follow the layer's operands (inputs, then weights);
    # (5, 4) x (2, 3, 4) -> (2, 3, 5): 5 * 4 * 2 * 3 = 120 MACs
    node = helper.make_node("Einsum", ["w", "x"], ["y"], equation="kj,bij->bik")
    net = load_onnx(save(tmp_path, [node], {"x": [2, 3, 4]}, ["y"], [tensor("w", [5, 4])], opset=12, name="w.onnx"))
    layer = only(net, "einsum")
    assert layer.attrs == {"equation": "bij,kj->bik"} and layer.inputs == ((2, 3, 4),)
    assert [w.shape for w in layer.weights] == [(5, 4)] and macs_of(net) == 120
    # one operand: a sum (reduce_sum) or a permutation (transpose); broadcast dims the output drops are summed
    for equation, kind in (("ij->i", "reduce_sum"), ("ij->ji", "transpose"), ("...j->j", "reduce_sum")):
        node = helper.make_node("Einsum", ["x"], ["y"], equation=equation)
        net = load_onnx(save(tmp_path, [node], {"x": [3, 4]}, ["y"], opset=12, name="one.onnx"))
        assert [layer.op for layer in net.layers] == [kind], equation
    node = helper.make_node("Einsum", ["x"], ["y"], equation="...ij->ji")
    net = load_onnx(save(tmp_path, [node], {"x": [3, 4]}, ["y"], opset=12, name="rank0.onnx"))
    assert [layer.op for layer in net.layers] == ["transpose"]  # '...' covers no dim: nothing summed


def test_einsum_equation_that_does_not_fit_the_operands(tmp_path: Path) -> None:
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij->i", name="e")
    path = save(tmp_path, [node], {"a": [2, 3], "b": [3, 4]}, ["y"], opset=12)
    with pytest.raises(ModelFileError, match=r"model\.onnx: node 'e' \(Einsum\): equation 'ij->i' is not an Einsum "
                                             r"equation over 2 operands \(e\.g\. 'bij,bjk->bik'\); check the model$"):
        load_onnx(path)


# ------------------------------------------------------------------------------------------- quantized


def _qparams(prefix: str, zero_type: int = I8) -> list[onnx.TensorProto]:
    return [numpy_helper.from_array(np.array(0.1, np.float32), f"{prefix}_s"),
            numpy_helper.from_array(np.array(0, helper.tensor_dtype_to_np_dtype(zero_type)), f"{prefix}_z")]


def test_qdq_int8_conv_is_counted_as_int8(tmp_path: Path) -> None:
    # x -> Q -> DQ -> Conv(W = DQ(int8 W), B = DQ(int32 B)) -> Q -> DQ -> y
    # Conv: precision W-int8 A-int8; weights (4, 3, 3, 3) int8 = 108 bytes + bias (4,) int32 = 16 bytes
    # y (1, 4, 6, 6): macs = 4 * 36 * 3 * 9 = 3888
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="q_in"),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"], name="dq_in"),
        helper.make_node("DequantizeLinear", ["wq", "w_s", "w_z"], ["wd"], name="dq_w"),
        helper.make_node("DequantizeLinear", ["bq", "b_s", "b_z"], ["bd"], name="dq_b"),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv"),
        helper.make_node("QuantizeLinear", ["c", "x_s", "x_z"], ["cq"], name="q_out"),
        helper.make_node("DequantizeLinear", ["cq", "x_s", "x_z"], ["y"], name="dq_out"),
    ]
    inits = [*_qparams("x"), *_qparams("w"), *_qparams("b", I32), tensor("wq", [4, 3, 3, 3], I8),
             tensor("bq", [4], I32)]
    net = load_onnx(save(tmp_path, nodes, {"x": [1, 3, 8, 8]}, ["y"], inits))
    assert net.precision.label == "int8"  # the compute precision of its only MAC layer, not its float input's
    kinds = {layer.name: layer.op for layer in net.layers}
    # the graph-boundary Q and DQ are real conversions; the ones the int8 conv absorbs are zero-cost identities
    assert kinds == {"q_in": "quantize", "dq_in": "identity", "conv": "conv", "q_out": "identity",
                     "dq_out": "dequantize"}
    conv = only(net, "conv")
    assert conv.precision is None  # the network's int8
    assert [(w.shape, w.dtype) for w in conv.weights] == [((4, 3, 3, 3), None), ((4,), DType.INT32)]
    row = count(net).layers.set_index("name").loc["conv"]
    assert row.macs == 3888 and row.weight_bytes == 108 + 16 and row.compute_dtype == "int8"
    assert row.input_bytes == 3 * 8 * 8  # one byte per int8 activation
    assert row.output_bytes == 4 * 6 * 6  # the int8 its absorbed QuantizeLinear makes


def test_qdq_boundary_conversions_read_one_type_and_write_the_other(tmp_path: Path) -> None:
    # the graph of test_qdq_int8_conv_is_counted_as_int8; x (1, 3, 8, 8) = 192 elements, y (1, 4, 6, 6) = 144
    # q_in: fp32 in 192 * 4 = 768 bytes, int8 out 192; dq_out: int8 in 144, fp32 out 144 * 4 = 576
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="q_in"),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"], name="dq_in"),
        helper.make_node("DequantizeLinear", ["wq", "w_s", "w_z"], ["wd"], name="dq_w"),
        helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
        helper.make_node("QuantizeLinear", ["c", "x_s", "x_z"], ["cq"], name="q_out"),
        helper.make_node("DequantizeLinear", ["cq", "x_s", "x_z"], ["y"], name="dq_out"),
    ]
    inits = [*_qparams("x"), *_qparams("w"), tensor("wq", [4, 3, 3, 3], I8)]
    net = load_onnx(save(tmp_path, nodes, {"x": [1, 3, 8, 8]}, ["y"], inits))
    quantize, dequantize = only(net, "quantize"), only(net, "dequantize")
    assert net.precision.label == "int8"  # so both conversions run at the network's activation type
    assert quantize.precision is None and quantize.input_dtypes == (DType.FP32,)
    assert dequantize.precision is None and dequantize.output_dtypes == (DType.FP32,)
    rows = count(net).layers.set_index("name")
    assert (rows.loc["q_in"].input_bytes, rows.loc["q_in"].output_bytes) == (768, 192)
    assert (rows.loc["dq_out"].input_bytes, rows.loc["dq_out"].output_bytes) == (144, 576)
    assert rows.loc[["dq_in", "q_out"], ["input_bytes", "output_bytes"]].to_numpy().sum() == 0  # fused: views


def test_qdq_fused_op_without_quantize_after_writes_float(tmp_path: Path) -> None:
    # int8 x (2, 16) -> DQ -> MatMul with DQ(int8 W (16, 5)) -> float y (2, 5), no QuantizeLinear after: the int8
    # kernel (as onnxruntime's MatMulIntegerToFloat) reads 32 int8 bytes and writes 10 floats = 40 bytes
    nodes = [helper.make_node("DequantizeLinear", ["x", "x_s", "x_z"], ["xd"], name="dq_x"),
             helper.make_node("DequantizeLinear", ["wq", "w_s", "w_z"], ["w"]),
             helper.make_node("MatMul", ["xd", "w"], ["y"], name="fc")]
    inits = [*_qparams("x"), *_qparams("w"), tensor("wq", [16, 5], I8)]
    net = load_onnx(save(tmp_path, nodes, {"x": [2, 16]}, ["y"], inits, input_types={"x": I8}))
    assert net.precision.label == "int8"
    fc = only(net, "fully_connected")
    assert fc.precision is None and fc.input_dtypes == () and fc.output_dtypes == (DType.FP32,)
    rows = count(net).layers.set_index("name")
    assert rows.loc["dq_x"].op == "identity"
    assert (rows.loc["fc"].input_bytes, rows.loc["fc"].output_bytes, rows.loc["fc"].weight_bytes) == (32, 40, 80)


def test_qlinear_conv_and_matmul_are_int8(tmp_path: Path) -> None:
    # QLinearConv: x uint8 (1, 3, 8, 8), w int8 (4, 3, 3, 3), B int32 (4,) -> y (1, 4, 6, 6)
    #   macs = 4 * 36 * 27 = 3888, weight bytes = 108 + 4 * 4 = 124
    # QLinearMatMul on the flattened y (1, 144) x int8 (144, 10): macs = 10 * 144 = 1440, weight bytes 1440
    nodes = [
        helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z", "b"], ["c"]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("QLinearMatMul", ["f", "y_s", "y_z", "m", "w_s", "w_z", "y_s", "y_z"], ["y"]),
    ]
    inits = [*_qparams("x", U8), *_qparams("w"), *_qparams("y", U8), tensor("w", [4, 3, 3, 3], I8),
             tensor("b", [4], I32), tensor("m", [144, 10], I8)]
    net = load_onnx(save(tmp_path, nodes, {"x": [1, 3, 8, 8]}, ["y"], inits, input_types={"x": U8}))
    assert net.precision.label == "int8"
    rows = count(net).layers.set_index("op")
    assert rows.loc["conv"].macs == 3888 and rows.loc["conv"].weight_bytes == 124
    assert rows.loc["fully_connected"].macs == 1440 and rows.loc["fully_connected"].weight_bytes == 1440
    assert set(rows.compute_dtype) == {"int8"}
    assert only(net, "fully_connected").weights[0].shape == (10, 144)
    # network int8: the int8 weight needs no dtype, the int32 bias does
    assert [w.dtype for w in only(net, "conv").weights] == [None, DType.INT32]


def test_conv_integer_and_matmul_integer(tmp_path: Path) -> None:
    # ConvInteger: x uint8 (1, 2, 5, 5), w uint8 (3, 2, 3, 3) -> int32 (1, 3, 3, 3): macs = 27 * 18 = 486
    # MatMulInteger: x uint8 (4, 6) x w int8 (6, 2): macs = 4 * 2 * 6 = 48
    conv = save(tmp_path, [helper.make_node("ConvInteger", ["x", "w"], ["y"])], {"x": [1, 2, 5, 5]}, ["y"],
                [tensor("w", [3, 2, 3, 3], U8)], input_types={"x": U8}, name="ci.onnx")
    net = load_onnx(conv)
    assert only(net, "conv").precision is None and net.precision.label == "int8"  # int32 out, int8 compute
    assert only(net, "conv").output_dtypes == (DType.INT32,) and only(net, "conv").input_dtypes == ()
    assert macs_of(net) == 486
    # bytes: x 50 uint8 = 50 in; y 27 int32 = 108 out
    row = count(net).layers.iloc[0]
    assert (row.input_bytes, row.output_bytes) == (50, 108)
    matmul = save(tmp_path, [helper.make_node("MatMulInteger", ["x", "w"], ["y"])], {"x": [4, 6]}, ["y"],
                  [tensor("w", [6, 2], I8)], input_types={"x": U8}, name="mi.onnx")
    net = load_onnx(matmul)
    row = count(net).layers.iloc[0]
    assert row.op == "fully_connected" and row.macs == 48 and row.weight_bytes == 12 and row.compute_dtype == "int8"
    # bytes: x 24 uint8 = 24 in; y (4, 2) int32 = 32 out
    assert (row.input_bytes, row.output_bytes) == (24, 32)


def test_weight_only_int8_gives_hybrid_precision(tmp_path: Path) -> None:
    # float activations x int8 weights behind a DequantizeLinear: the seed's W-int8_A-float32
    nodes = [helper.make_node("DequantizeLinear", ["wq", "w_s", "w_z"], ["w"]),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    net = load_onnx(save(tmp_path, nodes, {"x": [2, 16]}, ["y"], [*_qparams("w"), tensor("wq", [16, 4], I8)]))
    assert [layer.op for layer in net.layers] == ["fully_connected"]
    assert net.precision.label == "W-int8_A-fp32" and net.layers[0].precision is None  # its only MAC layer's


def test_com_microsoft_qlinear_add_gets_shape_from_gap_rules(tmp_path: Path) -> None:
    # QLinearAdd is unknown to ONNX shape inference: the gap rule broadcasts A (1, 8) and B (8,) -> (1, 8),
    # and Relu downstream is inferred again from it
    nodes = [helper.make_node("QLinearAdd", ["x", "s", "z", "b", "s", "z", "s", "z"], ["a"], domain="com.microsoft"),
             helper.make_node("Relu", ["a"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.uint8), "z"), tensor("b", [8], U8)]
    net = load_onnx(save(tmp_path, nodes, {"x": [1, 8]}, ["y"], inits, input_types={"x": U8},
                         extra_opsets=[("com.microsoft", 1)]))
    add, relu = net.layers
    assert add.op == "add" and add.outputs == ((1, 8),) and relu.inputs == ((1, 8),)


def test_gap_rule_fills_an_output_shape_inference_leaves_open(tmp_path: Path) -> None:
    # ONNX infers no shape for GroupNormalization-21 (a function op); the gap rule copies X's (2, 4, 3, 3)
    node = helper.make_node("GroupNormalization", ["x", "g", "b"], ["y"], num_groups=2)
    net = load_onnx(save(tmp_path, [node], {"x": [2, 4, 3, 3]}, ["y"], [tensor("g", [4]), tensor("b", [4])],
                         opset=21))
    layer = only(net, "group_norm")
    assert layer.outputs == ((2, 4, 3, 3),) and [w.shape for w in layer.weights] == [(4,), (4,)]


# --------------------------------------------------------------------------------- transformers, sequences


def _attention(tmp_path: Path) -> Path:
    """Single-head attention on x (batch, seq_len, 64): Q, K, V projections, S = Q K^T, softmax, O = P V."""
    nodes = [helper.make_node("MatMul", ["x", f"w{n}"], [n]) for n in "qkv"] + [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
        helper.make_node("Softmax", ["s"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"], name="av"),
    ]
    return save(tmp_path, nodes, {"x": ["batch", "seq_len", 64]}, ["y"], [tensor(f"w{n}", [64, 64]) for n in "qkv"])


def test_attention_macs_grow_quadratically_with_seq_len(tmp_path: Path) -> None:
    # per batch item, D = 64: projections 3 * L * D * D, QK^T L * L * D, AV L * L * D
    # f(L) = 3 * L * 4096 + 2 * 64 * L^2; f(16) = 196608 + 32768 = 229376; f(32) = 393216 + 131072 = 524288
    path = _attention(tmp_path)
    small = load_onnx(path, input_shapes={"x": ["batch", 16, 64]})
    large = load_onnx(path, input_shapes={"x": [1, 32, 64]})
    assert macs_of(small) == 229376 and macs_of(large) == 524288
    assert macs_of(large) - 2 * macs_of(small) == 2 * 128 * 16 ** 2  # f(2L) - 2 f(L) = 2 b L^2, b = 2 D
    qk = next(layer for layer in large.layers if layer.name == "qk")
    assert qk.op == "matmul" and qk.inputs == ((1, 32, 64), (1, 64, 32)) and qk.outputs == ((1, 32, 32),)
    assert only(large, "softmax").attrs["axis"] == 2  # opset 13's default -1, the last of 3 dims, non-negative


def _fused_attention(tmp_path: Path) -> Path:
    """ONNX Attention (opset 23) on 4-D Q, K, V of shape (batch, 4 heads, seq_len, head_dim 16)."""
    dims = ["batch", 4, "seq_len", 16]
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"])
    return save(tmp_path, [node], {"q": dims, "k": dims, "v": dims}, ["y"], opset=23)


def test_fused_attention_macs_grow_quadratically_with_seq_len(tmp_path: Path) -> None:
    # macs = B * H * L * L * (D + Dv) = 1 * 4 * L^2 * 32 = 128 L^2: L = 16: 32768; L = 32: 131072 = 4 * 32768
    # softmax, 3 ops per score: other_ops = 3 * B * H * L^2 = 3 * 4 * 256 = 3072 at L = 16
    path = _fused_attention(tmp_path)
    small = load_onnx(path, input_shapes={"q": ["batch", 4, 16, 16]})  # seq_len bound in q binds k and v
    large = load_onnx(path, input_shapes={"q": [1, 4, 32, 16]})
    layer = only(small, "attention")
    assert {k: layer.attrs[k] for k in ("batch", "heads", "q_len", "kv_len", "head_dim", "v_head_dim")} == {
        "batch": 1, "heads": 4, "q_len": 16, "kv_len": 16, "head_dim": 16, "v_head_dim": 16}
    assert layer.inputs == ((1, 4, 16, 16),) * 3 and layer.outputs == ((1, 4, 16, 16),) and not layer.weights
    assert macs_of(small) == 32768 and macs_of(large) == 131072 == 4 * macs_of(small)
    assert count(small).layers.iloc[0].other_ops == 3072


def test_fused_attention_3d_grouped_query_with_kv_cache(tmp_path: Path) -> None:
    # Q (1, 8, 64), 4 query heads: head_dim 16; K (1, 8, 32) and V (1, 8, 48), 2 kv heads: v_head_dim 24;
    # past_key (1, 2, 24, 16) + 8 new keys: kv_len 32. macs = 1 * 4 * 8 * 32 * (16 + 24) = 40960
    # bytes (fp32): in 512 + 256 + 384 + 768 + 1152 = 3072 elements = 12288; out Y (1, 8, 4 * 24) 768,
    # present_key (1, 2, 32, 16) 1024, present_value (1, 2, 32, 24) 1536: 3328 elements = 13312
    node = helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y", "pk_out", "pv_out"], q_num_heads=4,
                            kv_num_heads=2)
    path = save(tmp_path, [node], {"q": [1, 8, 64], "k": [1, 8, 32], "v": [1, 8, 48], "pk": [1, 2, 24, 16],
                                   "pv": [1, 2, 24, 24]}, ["y", "pk_out", "pv_out"], opset=23)
    net = load_onnx(path)
    layer = only(net, "attention")
    assert (layer.attrs["heads"], layer.attrs["kv_len"], layer.attrs["head_dim"], layer.attrs["v_head_dim"]) == (
        4, 32, 16, 24)
    assert layer.outputs == ((1, 8, 96), (1, 2, 32, 16), (1, 2, 32, 24))
    row = count(net).layers.iloc[0]
    assert (row.macs, row.input_bytes, row.output_bytes) == (40960, 12288, 13312)


def test_com_microsoft_attention_stays_unmapped(tmp_path: Path) -> None:
    # com.microsoft Attention takes the input and packed QKV weights, not Q, K, V: it is not the ONNX op
    node = helper.make_node("Attention", ["x", "w", "b"], ["y"], num_heads=2, domain="com.microsoft")
    net = load_onnx(save(tmp_path, [node], {"x": [1, 8, 16]}, ["y"], [tensor("w", [16, 48]), tensor("b", [48])],
                         opset=23, extra_opsets=[("com.microsoft", 1)]))
    assert [layer.op for layer in net.layers] == ["Attention"] and count(net).unsupported_ops == {"Attention": 1}


def test_rms_normalization(tmp_path: Path) -> None:
    # x (2, 10, 64), scale (64,): rms_norm, 4 ops per element = 4 * 1280 = 5120; 64 params, no bias
    node = helper.make_node("RMSNormalization", ["x", "g"], ["y"], axis=-1)
    net = load_onnx(save(tmp_path, [node], {"x": [2, 10, 64]}, ["y"], [tensor("g", [64])], opset=23))
    layer = only(net, "rms_norm")
    assert layer.inputs == layer.outputs == ((2, 10, 64),) and [w.shape for w in layer.weights] == [(64,)]
    row = count(net).layers.iloc[0]
    assert (row.macs, row.ops, row.params, row.weight_bytes) == (0, 5120, 64, 256)


def test_newer_elementwise_ops_are_mapped(tmp_path: Path) -> None:
    # on (2, 3, 4) = 24 elements: 11 unary float ops 1 op each = 264; hardmax 2 per element = 48; cumsum 24;
    # trilu 0 (a copy); is_nan, is_inf 24 each; bitwise_not 24; bitwise and/or/xor and bit_shift 24 each = 96
    # total 264 + 48 + 24 + 0 + 48 + 24 + 96 = 504
    unary = ["Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "ThresholdedRelu", "Shrink"]
    names = ["x", *(f"f{i}" for i in range(len(unary)))]
    nodes = [helper.make_node(op, [a], [b]) for op, a, b in zip(unary, names, names[1:])] + [
        helper.make_node("Hardmax", [names[-1]], ["h"]), helper.make_node("CumSum", ["h", "axis"], ["c"]),
        helper.make_node("Trilu", ["c", "k"], ["t"]), helper.make_node("IsNaN", ["t"], ["nan"]),
        helper.make_node("IsInf", ["x"], ["inf"]),
        helper.make_node("BitwiseNot", ["u"], ["b0"]), helper.make_node("BitwiseAnd", ["b0", "u"], ["b1"]),
        helper.make_node("BitwiseOr", ["b1", "u"], ["b2"]), helper.make_node("BitwiseXor", ["b2", "u"], ["b3"]),
        helper.make_node("BitShift", ["b3", "u"], ["b4"], direction="LEFT")]
    control = [numpy_helper.from_array(np.array(1, np.int64), "axis"),
               numpy_helper.from_array(np.array(0, np.int64), "k")]
    net = load_onnx(save(tmp_path, nodes, {"x": [2, 3, 4], "u": [2, 3, 4]}, ["nan", "inf", "b4"], control, opset=23,
                         input_types={"u": TensorProto.UINT32}))
    assert [layer.op for layer in net.layers] == [
        "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "thresholded_relu", "shrink",
        "hardmax", "cumsum", "trilu", "is_nan", "is_inf", "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor",
        "bit_shift"]
    assert not any(layer.weights for layer in net.layers)  # CumSum's axis and Trilu's k are control
    cost = count(net)
    assert cost.unsupported_ops == {} and cost.totals["ops"] == 504
    # is_nan reads 24 floats (96 bytes) and writes 24 bools (24 bytes)
    is_nan = cost.layers.set_index("op").loc["is_nan"]
    assert (is_nan.input_bytes, is_nan.output_bytes) == (96, 24)


def test_unbound_symbolic_dim_names_input_and_dim(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"input 'x' dim 1 'seq_len' is symbolic and unbound"):
        load_onnx(_attention(tmp_path))


def test_batch_binding_scales_macs(tmp_path: Path) -> None:
    # x (N, 3, 8, 8), W (4, 3, 3, 3) -> (N, 4, 6, 6): macs = N * 3888
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": ["N", 3, 8, 8]}, ["y"],
                [tensor("w", [4, 3, 3, 3])])
    one, four = load_onnx(path), load_model(path, batch=4)
    assert (one.batch, four.batch) == (1, 4)
    assert macs_of(one) == 3888 and macs_of(four) == 4 * 3888


def test_dim_name_bound_in_one_input_binds_the_others(tmp_path: Path) -> None:
    # ids (batch, seq) bound to (2, 10) by input_shapes; mask (batch, seq) follows
    path = save(tmp_path, [helper.make_node("Add", ["x", "m"], ["y"])],
                {"x": ["batch", "seq"], "m": ["batch", "seq"]}, ["y"])
    net = load_onnx(path, input_shapes={"x": np.array([2, 10])})  # numpy ints are sizes too
    assert only(net, "add").inputs == ((2, 10), (2, 10))


def test_input_shapes_errors_name_the_problem(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 4]}, ["y"])
    with pytest.raises(ShapeError, match=r"\['nope'\], which are not graph inputs"):
        load_onnx(path, input_shapes={"nope": [1]})
    with pytest.raises(ShapeError, match="has 3 dims, the model's input has 2"):
        load_onnx(path, input_shapes={"x": [1, 2, 3]})
    with pytest.raises(ShapeError, match="batch must be a positive integer"):
        load_onnx(path, batch=0)


def test_lstm_over_all_time_steps(tmp_path: Path) -> None:
    # X (T=5, N=2, I=3), hidden 4, bidirectional: W (2, 16, 3), R (2, 16, 4), B (2, 32)
    # macs = T * N * dirs * 4 * H * (I + H) = 5 * 2 * 2 * 4 * 4 * 7 = 2240
    node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "yh"], hidden_size=4, direction="bidirectional")
    net = load_onnx(save(tmp_path, [node], {"x": [5, 2, 3]}, ["y", "yh"],
                         [tensor("w", [2, 16, 3]), tensor("r", [2, 16, 4]), tensor("b", [2, 32])]))
    lstm = only(net, "lstm")
    assert {k: lstm.attrs[k] for k in ("seq_len", "batch", "input_size", "hidden_size", "directions")} == {
        "seq_len": 5, "batch": 2, "input_size": 3, "hidden_size": 4, "directions": 2}
    assert lstm.outputs == ((5, 2, 2, 4), (2, 2, 4)) and macs_of(net) == 2240


def test_layer_norm_gelu_erf_and_unmapped_op(tmp_path: Path) -> None:
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], axis=-1),
             helper.make_node("Gelu", ["n"], ["e"]), helper.make_node("Erf", ["e"], ["f"]),
             helper.make_node("Frobnicate", ["f"], ["y"], domain="com.example")]
    net = load_onnx(save(tmp_path, nodes, {"x": [2, 8]}, ["y"], [tensor("g", [8]), tensor("b", [8])], opset=20,
                         extra_opsets=[("com.example", 1)]))
    assert [layer.op for layer in net.layers] == ["layer_norm", "gelu", "erf", "Frobnicate"]
    assert [w.shape for w in net.layers[0].weights] == [(8,), (8,)]
    assert count(net).unsupported_ops == {"Frobnicate": 1}


def test_opset_differences_reduce_pad_slice(tmp_path: Path) -> None:
    # opset 11: axes and pads as attributes; opset 18: as constant inputs: normalized alike
    old = [helper.make_node("ReduceMean", ["x"], ["r"], axes=[1], keepdims=1),
           helper.make_node("Pad", ["r"], ["p"], pads=[0, 1, 0, 1]),
           helper.make_node("Slice", ["p"], ["y"], starts=[0], ends=[2], axes=[1])]
    new = [helper.make_node("ReduceMean", ["x", "ax"], ["r"], keepdims=1),
           helper.make_node("Pad", ["r", "pads"], ["p"]),
           helper.make_node("Slice", ["p", "st", "en", "ax"], ["y"])]
    ints = [numpy_helper.from_array(np.array(v, np.int64), n)
            for n, v in (("ax", [1]), ("pads", [0, 1, 0, 1]), ("st", [0]), ("en", [2]))]
    nets = [load_onnx(save(tmp_path, old, {"x": [3, 4]}, ["y"], opset=9, name="old.onnx")),
            load_onnx(save(tmp_path, new, {"x": [3, 4]}, ["y"], ints, opset=18, name="new.onnx"))]
    for net in nets:
        reduce, pad, slice_ = net.layers
        assert reduce.attrs["axes"] == (1,) and reduce.outputs == ((3, 1),) and not reduce.weights
        assert pad.attrs["pads"] == (0, 1, 0, 1) and pad.outputs == ((3, 3),) and not pad.weights
        assert slice_.attrs["starts"] == (0,) and slice_.attrs["ends"] == (2,) and slice_.outputs == ((3, 2),)


def test_weights_from_constant_identity_and_constant_of_shape_are_folded(tmp_path: Path) -> None:
    # Constant -> Identity -> Conv weight; ConstantOfShape(constant shape) -> bias: no layer computes them
    nodes = [helper.make_node("Constant", [], ["w0"], value=tensor("v", [2, 3, 1, 1])),
             helper.make_node("Identity", ["w0"], ["w"]),
             helper.make_node("ConstantOfShape", ["bshape"], ["b"]),
             helper.make_node("Conv", ["x", "w", "b"], ["y"])]
    inits = [numpy_helper.from_array(np.array([2], np.int64), "bshape")]
    net = load_onnx(save(tmp_path, nodes, {"x": [1, 3, 4, 4]}, ["y"], inits))
    assert [layer.op for layer in net.layers] == ["conv"]
    assert [w.shape for w in net.layers[0].weights] == [(2, 3, 1, 1), (2,)]


def test_shape_arithmetic_of_static_tensors_is_folded(tmp_path: Path) -> None:
    # Shape(x) -> Gather -> Unsqueeze -> Concat -> Reshape target: only the Reshape remains
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    net = load_onnx(save(tmp_path, nodes, {"x": ["N", 3, 4]}, ["y"], inits), batch=2)
    assert [(layer.op, layer.outputs) for layer in net.layers] == [("reshape", ((2, 12),))]


def test_layers_carry_source_op_and_unique_names(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="same"), helper.make_node("Relu", ["a"], ["b"], name="same"),
             helper.make_node("Sigmoid", ["b"], ["y"])]
    net = load_onnx(save(tmp_path, nodes, {"x": [2, 2]}, ["y"]))
    assert [(layer.name, layer.source_op) for layer in net.layers] == [
        ("same", "Relu"), ("same_2", "Relu"), ("Sigmoid_2", "Sigmoid")]


# --------------------------------------------------------------------------------------- external data


def _external(tmp_path: Path) -> Path:
    # Conv W (16, 8, 3, 3) stored in weights.bin; x (1, 8, 10, 10) -> (1, 16, 8, 8): macs = 16 * 64 * 72 = 73728
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 8, 10, 10]}, ["y"],
                [tensor("w", [16, 8, 3, 3])])
    model = onnx.load(path)
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0)
    return path


def test_external_data_model_imports(tmp_path: Path) -> None:
    path = _external(tmp_path)
    assert (tmp_path / "weights.bin").is_file()
    net = load_onnx(path)
    assert only(net, "conv").weights[0].shape == (16, 8, 3, 3) and macs_of(net) == 73728


def test_missing_external_data_file_is_named(tmp_path: Path) -> None:
    path = _external(tmp_path)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ModelFileError, match=r"model\.onnx: external data file 'weights\.bin' of tensor 'w' not found"):
        load_onnx(path)


def test_truncated_external_data_file_is_named(tmp_path: Path) -> None:
    path = _external(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ModelFileError, match=r"'weights\.bin' is truncated"):
        load_onnx(path)


# -------------------------------------------------------------------------------------- malformed input


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"empty\.onnx: the file is empty"):
        load_onnx(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nothere\.onnx: no such model file"):
        load_onnx(tmp_path / "nothere.onnx")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.onnx"
    path.write_bytes(random.Random(0).randbytes(4096))
    with pytest.raises(ModelFileError, match=r"random\.onnx: not a readable ONNX protobuf"):
        load_onnx(path)


def test_truncated_protobuf(tmp_path: Path) -> None:
    data = PYTORCH_CONV.read_bytes()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"half\.onnx: not a readable ONNX protobuf \(truncated or corrupt"):
        load_onnx(path)


def test_dangling_input(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")], {"x": [2]}, ["y"],
                name="dangling.onnx")
    with pytest.raises(ModelFileError, match=r"dangling\.onnx: node 'add' \(Add\) reads 'ghost'.*dangling input"):
        load_onnx(path)


def test_cycle_and_double_producer(tmp_path: Path) -> None:
    cycle = [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])]
    with pytest.raises(ModelFileError, match=r"cycle\.onnx: the graph has a cycle"):
        load_onnx(save(tmp_path, cycle, {"x": [2]}, ["b"], name="cycle.onnx"))
    twice = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["x"], ["a"])]
    with pytest.raises(ModelFileError, match=r"twice\.onnx: tensor 'a' is produced by two nodes"):
        load_onnx(save(tmp_path, twice, {"x": [2]}, ["a"], name="twice.onnx"))


def test_unsorted_nodes_are_ordered(tmp_path: Path) -> None:
    nodes = [helper.make_node("Sigmoid", ["a"], ["y"]), helper.make_node("Relu", ["x"], ["a"])]
    net = load_onnx(save(tmp_path, nodes, {"x": [2]}, ["y"]))
    assert [layer.op for layer in net.layers] == ["relu", "sigmoid"]


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: 0 flips a byte, 1 inserts one, 2 deletes one."""
    buffer = bytearray(data)
    for kind, position, value in edits:
        index = position % max(len(buffer), 1)
        if kind == 0 and buffer:
            buffer[index] = value
        elif kind == 1:
            buffer.insert(index, value)
        elif buffer:
            del buffer[index]
    return bytes(buffer)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from([PYTORCH_CONV, LIGHT_ALEXNET]),
       edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10 ** 6), st.integers(0, 255)),
                      min_size=1, max_size=4))
def test_mutated_model_raises_only_rooflinekit_errors(tmp_path: Path, source: Path,
                                                      edits: list[tuple[int, int, int]]) -> None:
    path = tmp_path / "mutated.onnx"
    path.write_bytes(_mutate(source.read_bytes(), edits))
    try:
        count(load_onnx(path))
    except RooflineError:
        pass


def test_non_ascii_einsum_equation_is_refused_before_shape_inference(tmp_path: Path) -> None:
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->ik\xe9")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
                                            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "einsum.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ModelFileError, match=r"einsum.onnx: Einsum node '' has a non-ASCII equation"):
        load_onnx(path)
