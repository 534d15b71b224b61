"""Golden op cases through both importers: one layer built as ONNX and as TFLite must cost the same, equal a
hand-derived cost, and carry the same typed attributes (:mod:`rooflinekit.descriptors.attrs`).

Every tensor is fp32: ``weight_bytes = 4 * params``, ``input_bytes`` and ``output_bytes`` are 4 bytes per element of
the activation inputs and outputs (0 for a pure view). ONNX shapes are NCHW; the TFLite twin of a 4-D tensor is its
NHWC transpose, written out by hand in each case.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
pytest.importorskip("tflite")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.descriptors import Layer, LayerNetwork  # noqa: E402
from rooflinekit.descriptors.attrs import (  # noqa: E402
    ConvAttrs, MatMulAttrs, PoolAttrs, attrs_model, parse_attrs, same_pads, validate_attrs,
)
from rooflinekit.errors import ModelFileError, SpecError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402
from tflite_builder import I32, SAME, VALID, Graph, Op, T, build_tflite, const, ints  # noqa: E402

COLUMNS = ("macs", "other_ops", "ops", "params", "weight_bytes", "input_bytes", "output_bytes")
B = 4  # bytes per fp32 element


# ------------------------------------------------------------------------------------------------ builders


def onnx_model(nodes: list[Any], inputs: dict[str, tuple[int, ...]], outputs: dict[str, tuple[int, ...]],
               constants: dict[str, np.ndarray] | None = None, opset: int = 13) -> Any:
    """A float graph of ``nodes``; ``constants`` are initializers (weights, or int64 shapes, axes, pads)."""
    graph = helper.make_graph(
        nodes, "golden",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


def int64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def tflite_op(inputs: list[T], outputs: list[T], code: str, options: tuple[str, dict] | None = None) -> Graph:
    """A graph of one operator; the graph inputs are its non-constant operands."""
    tensors = inputs + outputs
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(tensors)))
    return Graph(tensors, [Op(code, ins, outs, options)], [i for i in ins if not inputs[i].data], outs)


def paddings(pairs: list[tuple[int, int]]) -> T:
    """A TFLite (rank, 2) int32 paddings operand."""
    return T((len(pairs), 2), I32, data=np.asarray(pairs, np.int32).tobytes())


def conv_options(padding: int, stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
                 name: str = "Conv2DOptions", **extra: Any) -> tuple[str, dict]:
    return (name, {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "DilationHFactor": dilation[0],
                   "DilationWFactor": dilation[1], **extra})


def pool_options(kernel: tuple[int, int], stride: tuple[int, int], padding: int) -> tuple[str, dict]:
    return ("Pool2DOptions", {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1],
                              "FilterHeight": kernel[0], "FilterWidth": kernel[1]})


def import_onnx(model: Any, folder: Path) -> LayerNetwork:
    path = folder / "model.onnx"
    onnx.save(model, path)
    return load_model(path)


def import_tflite(graph: Graph, folder: Path) -> LayerNetwork:
    path = folder / "model.tflite"
    path.write_bytes(build_tflite(graph))
    return load_model(path)


def cost_row(net: LayerNetwork) -> dict[str, int]:
    (row,) = count_network(net).layers.to_dict("records")
    return {column: int(row[column]) for column in COLUMNS}


def fp32_row(macs: int, other_ops: int, params: int, inputs: int, outputs: int, view: bool = False) -> dict[str, int]:
    """The expected row of an fp32 layer: ops = 2 * macs + other_ops, 4 bytes per weight and activation element."""
    return {"macs": macs, "other_ops": other_ops, "ops": 2 * macs + other_ops, "params": params,
            "weight_bytes": B * params, "input_bytes": 0 if view else B * inputs,
            "output_bytes": 0 if view else B * outputs}


# --------------------------------------------------------------------------------------------- golden cases


@dataclass
class Case:
    """One layer as ONNX and as TFLite, with its hand-derived cost row and normalized attributes."""

    onnx: Callable[[], Any]
    tflite: Callable[[], Graph]
    kind: str | tuple[str, str]  # (ONNX kind, TFLite kind) where the formats use different ops
    expected: dict[str, int]
    attrs: dict[str, Any] | None = None  # None: the kinds differ, there is no common model to compare


CONV = {"strides": (1, 1), "dilations": (1, 1), "groups": 1}

CASES: dict[str, Case] = {
    # conv 3x3 stride 1 SAME, 3 -> 8 channels on 8x8, with bias: pads (3 - 1) / 2 = 1 a side
    "conv3x3_s1_bias": Case(
        lambda: onnx_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                           {"x": (1, 3, 8, 8)}, {"y": (1, 8, 8, 8)}, {"w": zeros(8, 3, 3, 3), "b": zeros(8)}),
        lambda: tflite_op([T((1, 8, 8, 3)), const((8, 3, 3, 3)), const((8,))], [T((1, 8, 8, 8))], "CONV_2D",
                          conv_options(SAME)),
        "conv",
        fp32_row(macs=1 * 8 * 8 * 8 * 3 * 3 * 3,  # N * C_out * H_out * W_out * C_in * k * k
                 other_ops=1 * 8 * 8 * 8,  # one bias add per output element
                 params=8 * 3 * 3 * 3 + 8, inputs=1 * 3 * 8 * 8, outputs=1 * 8 * 8 * 8),
        {"kernel_shape": (3, 3), **CONV, "pads": (1, 1, 1, 1), "bias": True}),
    # conv 3x3 stride 2 SAME on 8x8 -> 4x4: total padding (4 - 1) * 2 + 3 - 8 = 1, the odd element at the end
    "conv3x3_s2_bias": Case(
        lambda: onnx_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                             pads=[0, 0, 1, 1])],
                           {"x": (1, 3, 8, 8)}, {"y": (1, 8, 4, 4)}, {"w": zeros(8, 3, 3, 3), "b": zeros(8)}),
        lambda: tflite_op([T((1, 8, 8, 3)), const((8, 3, 3, 3)), const((8,))], [T((1, 4, 4, 8))], "CONV_2D",
                          conv_options(SAME, (2, 2))),
        "conv",
        fp32_row(macs=1 * 8 * 4 * 4 * 3 * 3 * 3, other_ops=1 * 8 * 4 * 4, params=8 * 3 * 3 * 3 + 8,
                 inputs=1 * 3 * 8 * 8, outputs=1 * 8 * 4 * 4),
        {"kernel_shape": (3, 3), **CONV, "strides": (2, 2), "pads": (0, 0, 1, 1), "bias": True}),
    # depthwise 3x3 SAME on 4 channels of 6x6 with bias: ONNX group = C_in = 4, weight (4, 1, 3, 3)
    "depthwise_conv": Case(
        lambda: onnx_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                             group=4)],
                           {"x": (1, 4, 6, 6)}, {"y": (1, 4, 6, 6)}, {"w": zeros(4, 1, 3, 3), "b": zeros(4)}),
        lambda: tflite_op([T((1, 6, 6, 4)), const((1, 3, 3, 4)), const((4,))], [T((1, 6, 6, 4))],
                          "DEPTHWISE_CONV_2D", conv_options(SAME, name="DepthwiseConv2DOptions", DepthMultiplier=1)),
        "conv",
        fp32_row(macs=1 * 4 * 6 * 6 * 1 * 3 * 3,  # C_in / groups = 1 input channel per output
                 other_ops=1 * 4 * 6 * 6, params=4 * 1 * 3 * 3 + 4, inputs=1 * 4 * 6 * 6, outputs=1 * 4 * 6 * 6),
        {"kernel_shape": (3, 3), **CONV, "groups": 4, "pads": (1, 1, 1, 1), "bias": True}),
    # fully connected 16 -> 10 with bias: ONNX Gemm with transB stores the weight (out, in) as TFLite does
    "fully_connected_bias": Case(
        lambda: onnx_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"x": (1, 16)},
                           {"y": (1, 10)}, {"w": zeros(10, 16), "b": zeros(10)}),
        lambda: tflite_op([T((1, 16)), const((10, 16)), const((10,))], [T((1, 10))], "FULLY_CONNECTED"),
        "fully_connected",
        fp32_row(macs=1 * 10 * 16,  # rows * out * in
                 other_ops=1 * 10, params=10 * 16 + 10, inputs=16, outputs=10),
        {"transpose_a": False, "transpose_b": True, "bias": True, "keep_num_dims": False}),
    "fully_connected_no_bias": Case(
        lambda: onnx_model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"x": (1, 16)}, {"y": (1, 10)},
                           {"w": zeros(10, 16)}),
        lambda: tflite_op([T((1, 16)), const((10, 16))], [T((1, 10))], "FULLY_CONNECTED"),
        "fully_connected",
        fp32_row(macs=1 * 10 * 16, other_ops=0, params=10 * 16, inputs=16, outputs=10),
        {"transpose_a": False, "transpose_b": True, "bias": False, "keep_num_dims": False}),
    # average pool 2x2 stride 2 on 4 x 8x8: each output combines a 2x2 window
    "avg_pool": Case(
        lambda: onnx_model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                           {"x": (1, 4, 8, 8)}, {"y": (1, 4, 4, 4)}),
        lambda: tflite_op([T((1, 8, 8, 4))], [T((1, 4, 4, 4))], "AVERAGE_POOL_2D", pool_options((2, 2), (2, 2), VALID)),
        "avg_pool",
        fp32_row(macs=0, other_ops=1 * 4 * 4 * 4 * 2 * 2,  # outputs * window
                 params=0, inputs=1 * 4 * 8 * 8, outputs=1 * 4 * 4 * 4),
        {"kernel_shape": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0), "dilations": (1, 1), "ceil_mode": False,
         "count_include_pad": False}),
    # max pool 3x3 stride 2 SAME on 7x7 -> 4x4: total padding (4 - 1) * 2 + 3 - 7 = 2, one a side
    "max_pool": Case(
        lambda: onnx_model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                             pads=[1, 1, 1, 1])],
                           {"x": (1, 2, 7, 7)}, {"y": (1, 2, 4, 4)}),
        lambda: tflite_op([T((1, 7, 7, 2))], [T((1, 4, 4, 2))], "MAX_POOL_2D", pool_options((3, 3), (2, 2), SAME)),
        "max_pool",
        fp32_row(macs=0, other_ops=1 * 2 * 4 * 4 * 3 * 3, params=0, inputs=1 * 2 * 7 * 7, outputs=1 * 2 * 4 * 4),
        {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "dilations": (1, 1), "ceil_mode": False,
         "count_include_pad": False}),
    # TFLite has no global pooling op: converters write a MEAN over H and W, a reduce_mean that costs what the
    # global pool costs (one op per input element); the kinds differ, so there are no common attrs to compare
    "global_avg_pool": Case(
        lambda: onnx_model([helper.make_node("GlobalAveragePool", ["x"], ["y"])], {"x": (1, 8, 4, 4)},
                           {"y": (1, 8, 1, 1)}),
        lambda: tflite_op([T((1, 4, 4, 8)), ints([1, 2])], [T((1, 1, 1, 8))], "MEAN",
                          ("ReducerOptions", {"KeepDims": True})),
        ("global_avg_pool", "reduce_mean"),
        fp32_row(macs=0, other_ops=1 * 8 * 4 * 4, params=0, inputs=1 * 8 * 4 * 4, outputs=1 * 8)),
    # add with a per-channel operand broadcast over H and W: one add per output element
    "add_broadcast": Case(
        lambda: onnx_model([helper.make_node("Add", ["a", "b"], ["y"])], {"a": (1, 8, 4, 4), "b": (1, 8, 1, 1)},
                           {"y": (1, 8, 4, 4)}),
        lambda: tflite_op([T((1, 4, 4, 8)), T((1, 1, 1, 8))], [T((1, 4, 4, 8))], "ADD"),
        "add",
        fp32_row(macs=0, other_ops=1 * 8 * 4 * 4, params=0, inputs=1 * 8 * 4 * 4 + 1 * 8, outputs=1 * 8 * 4 * 4),
        {}),
    "mul": Case(
        lambda: onnx_model([helper.make_node("Mul", ["a", "b"], ["y"])], {"a": (1, 8, 4, 4), "b": (1, 8, 4, 4)},
                           {"y": (1, 8, 4, 4)}),
        lambda: tflite_op([T((1, 4, 4, 8)), T((1, 4, 4, 8))], [T((1, 4, 4, 8))], "MUL"),
        "mul",
        fp32_row(macs=0, other_ops=1 * 8 * 4 * 4, params=0, inputs=2 * 1 * 8 * 4 * 4, outputs=1 * 8 * 4 * 4),
        {}),
    "relu": Case(
        lambda: onnx_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)}),
        lambda: tflite_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "RELU"),
        "relu",
        fp32_row(macs=0, other_ops=1 * 2 * 4 * 4, params=0, inputs=1 * 2 * 4 * 4, outputs=1 * 2 * 4 * 4),
        {}),
    "sigmoid": Case(
        lambda: onnx_model([helper.make_node("Sigmoid", ["x"], ["y"])], {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)}),
        lambda: tflite_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "LOGISTIC"),
        "sigmoid",
        fp32_row(macs=0, other_ops=1 * 2 * 4 * 4, params=0, inputs=1 * 2 * 4 * 4, outputs=1 * 2 * 4 * 4),
        {}),
    # softmax over channels: TFLite's last NHWC dim is channels-first dim 1; exp, sum, divide: 3 ops per element
    "softmax_channels": Case(
        lambda: onnx_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": (1, 10, 2, 2)},
                           {"y": (1, 10, 2, 2)}),
        lambda: tflite_op([T((1, 2, 2, 10))], [T((1, 2, 2, 10))], "SOFTMAX", ("SoftmaxOptions", {"Beta": 1.0})),
        "softmax",
        fp32_row(macs=0, other_ops=3 * 1 * 10 * 2 * 2, params=0, inputs=1 * 10 * 2 * 2, outputs=1 * 10 * 2 * 2),
        {"axis": 1, "beta": 1.0}),
    # concat of 2 and 3 channels: a copy, no ops
    "concat_channels": Case(
        lambda: onnx_model([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)],
                           {"a": (1, 2, 4, 4), "b": (1, 3, 4, 4)}, {"y": (1, 5, 4, 4)}),
        lambda: tflite_op([T((1, 4, 4, 2)), T((1, 4, 4, 3))], [T((1, 4, 4, 5))], "CONCATENATION",
                          ("ConcatenationOptions", {"Axis": 3})),
        "concat",
        fp32_row(macs=0, other_ops=0, params=0, inputs=1 * 2 * 4 * 4 + 1 * 3 * 4 * 4, outputs=1 * 5 * 4 * 4),
        {"axis": 1}),
    # a pure view: no ops, no bytes; the target shape is an attribute (not a weight) in both formats
    "reshape": Case(
        lambda: onnx_model([helper.make_node("Reshape", ["x", "shape"], ["y"])], {"x": (1, 4, 2, 2)}, {"y": (1, 16)},
                           {"shape": int64(1, 16)}),
        lambda: tflite_op([T((1, 2, 2, 4)), ints([1, 16])], [T((1, 16))], "RESHAPE"),
        "reshape",
        fp32_row(macs=0, other_ops=0, params=0, inputs=16, outputs=16, view=True),
        {}),
    # zero padding of 1 on H and W: pads (N, C, H, W begins, then ends); TFLite pairs are NHWC (begin, end)
    "pad": Case(
        lambda: onnx_model([helper.make_node("Pad", ["x", "pads"], ["y"])], {"x": (1, 3, 4, 4)}, {"y": (1, 3, 6, 6)},
                           {"pads": int64(0, 0, 1, 1, 0, 0, 1, 1)}),
        lambda: tflite_op([T((1, 4, 4, 3)), paddings([(0, 0), (1, 1), (1, 1), (0, 0)])], [T((1, 6, 6, 3))], "PAD"),
        "pad",
        fp32_row(macs=0, other_ops=0, params=0, inputs=1 * 3 * 4 * 4, outputs=1 * 3 * 6 * 6),
        {"pads": (0, 0, 1, 1, 0, 0, 1, 1), "mode": "constant"}),
    # bilinear x2 on 4x4: per output element and spatial dim 4 ops (two weights, two multiply-adds)
    "resize_bilinear": Case(
        lambda: onnx_model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")],
                           {"x": (1, 2, 4, 4)}, {"y": (1, 2, 8, 8)}, {"scales": np.array([1, 1, 2, 2], np.float32)}),
        lambda: tflite_op([T((1, 4, 4, 2)), ints([8, 8])], [T((1, 8, 8, 2))], "RESIZE_BILINEAR"),
        "resize",
        fp32_row(macs=0, other_ops=1 * 2 * 8 * 8 * 4 * 2, params=0, inputs=1 * 2 * 4 * 4, outputs=1 * 2 * 8 * 8),
        {"mode": "linear"}),
    "resize_nearest": Case(
        lambda: onnx_model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")],
                           {"x": (1, 2, 4, 4)}, {"y": (1, 2, 8, 8)}, {"scales": np.array([1, 1, 2, 2], np.float32)}),
        lambda: tflite_op([T((1, 4, 4, 2)), ints([8, 8])], [T((1, 8, 8, 2))], "RESIZE_NEAREST_NEIGHBOR"),
        "resize",
        fp32_row(macs=0, other_ops=0, params=0, inputs=1 * 2 * 4 * 4, outputs=1 * 2 * 8 * 8),
        {"mode": "nearest"}),
    # mean over H and W without keepdims: one op per input element; NHWC axes 1, 2 are channels-first 2, 3
    "mean": Case(
        lambda: onnx_model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)],
                           {"x": (1, 8, 4, 4)}, {"y": (1, 8)}),
        lambda: tflite_op([T((1, 4, 4, 8)), ints([1, 2])], [T((1, 8))], "MEAN",
                          ("ReducerOptions", {"KeepDims": False})),
        "reduce_mean",
        fp32_row(macs=0, other_ops=1 * 8 * 4 * 4, params=0, inputs=1 * 8 * 4 * 4, outputs=1 * 8),
        {"axes": (2, 3), "keepdims": False}),
    # transposed conv 3x3 stride 2, 3 -> 2 channels, 4x4 -> 8x8 (TFLite SAME): total = (4 - 1) * 2 + 3 - 8 = 1,
    # cropped at the end; ONNX: out = 2 * (4 - 1) + 3 - 0 - 1 = 8. Every input element meets C_out * k * k weights.
    "transposed_conv": Case(
        lambda: onnx_model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[3, 3],
                                             strides=[2, 2], pads=[0, 0, 1, 1])],
                           {"x": (1, 3, 4, 4)}, {"y": (1, 2, 8, 8)}, {"w": zeros(3, 2, 3, 3), "b": zeros(2)}),
        lambda: tflite_op([ints([1, 8, 8, 2]), const((2, 3, 3, 3)), T((1, 4, 4, 3)), const((2,))], [T((1, 8, 8, 2))],
                          "TRANSPOSE_CONV", ("TransposeConvOptions", {"Padding": SAME, "StrideH": 2, "StrideW": 2})),
        "conv_transpose",
        fp32_row(macs=1 * 3 * 4 * 4 * 2 * 3 * 3,  # N * C_in * H_in * W_in * C_out * k * k
                 other_ops=1 * 2 * 8 * 8,  # bias
                 params=3 * 2 * 3 * 3 + 2, inputs=1 * 3 * 4 * 4, outputs=1 * 2 * 8 * 8),
        {"kernel_shape": (3, 3), "strides": (2, 2), "dilations": (1, 1), "groups": 1, "pads": (0, 0, 1, 1),
         "output_padding": (0, 0), "bias": True}),
    # batch matmul of two activations (1, 2, 3, 4) x (1, 2, 4, 5): every output sums K = 4 products
    "batch_matmul": Case(
        lambda: onnx_model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": (1, 2, 3, 4), "b": (1, 2, 4, 5)},
                           {"y": (1, 2, 3, 5)}),
        lambda: tflite_op([T((1, 2, 3, 4)), T((1, 2, 4, 5))], [T((1, 2, 3, 5))], "BATCH_MATMUL"),
        "matmul",
        fp32_row(macs=1 * 2 * 3 * 5 * 4, other_ops=0, params=0, inputs=1 * 2 * 3 * 4 + 1 * 2 * 4 * 5,
                 outputs=1 * 2 * 3 * 5),
        {"transpose_a": False, "transpose_b": False, "bias": False, "keep_num_dims": True}),
}


def _both(case: Case, folder: Path) -> tuple[Layer, Layer, dict[str, int], dict[str, int]]:
    (onnx_dir := folder / "onnx").mkdir()
    (tflite_dir := folder / "tflite").mkdir()
    from_onnx, from_tflite = import_onnx(case.onnx(), onnx_dir), import_tflite(case.tflite(), tflite_dir)
    (onnx_layer,), (tflite_layer,) = from_onnx.layers, from_tflite.layers
    return onnx_layer, tflite_layer, cost_row(from_onnx), cost_row(from_tflite)


@pytest.mark.parametrize("name", list(CASES))
def test_golden_op_costs_and_attrs_agree(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    onnx_layer, tflite_layer, onnx_row, tflite_row = _both(case, tmp_path)
    kinds = case.kind if isinstance(case.kind, tuple) else (case.kind, case.kind)
    assert (onnx_layer.op, tflite_layer.op) == kinds
    assert onnx_row == case.expected
    assert tflite_row == case.expected
    assert onnx_layer.inputs == tflite_layer.inputs and onnx_layer.outputs == tflite_layer.outputs
    assert [w.shape for w in onnx_layer.weights] == [w.shape for w in tflite_layer.weights]
    if case.attrs is not None:
        assert onnx_layer.attrs == case.attrs
        assert tflite_layer.attrs == case.attrs
        assert parse_attrs(onnx_layer.op, onnx_layer.attrs) == parse_attrs(tflite_layer.op, tflite_layer.attrs)


PAIRS: dict[str, tuple[Callable[[], Any], Callable[[], Graph], dict[str, Any]]] = {
    # ONNX auto_pad SAME_UPPER on a ConvTranspose: pads from the output shape, total (4 - 1) * 2 + 3 - 8 = 1
    "conv_transpose_auto_pad": (
        lambda: onnx_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                             auto_pad="SAME_UPPER")],
                           {"x": (1, 3, 4, 4)}, {"y": (1, 2, 8, 8)}, {"w": zeros(3, 2, 3, 3)}),
        lambda: tflite_op([ints([1, 8, 8, 2]), const((2, 3, 3, 3)), T((1, 4, 4, 3))], [T((1, 8, 8, 2))],
                          "TRANSPOSE_CONV", ("TransposeConvOptions", {"Padding": SAME, "StrideH": 2, "StrideW": 2})),
        {"kernel_shape": (3, 3), "strides": (2, 2), "dilations": (1, 1), "groups": 1, "pads": (0, 0, 1, 1),
         "output_padding": (0, 0), "bias": False}),
    # 1x1 stride 2 on 4x4 -> 8x8: the window reaches (4 - 1) * 2 + 1 = 7, the 8th element is output padding
    "conv_transpose_output_padding": (
        lambda: onnx_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[1, 1], strides=[2, 2],
                                             output_padding=[1, 1])],
                           {"x": (1, 3, 4, 4)}, {"y": (1, 2, 8, 8)}, {"w": zeros(3, 2, 1, 1)}),
        lambda: tflite_op([ints([1, 8, 8, 2]), const((2, 1, 1, 3)), T((1, 4, 4, 3))], [T((1, 8, 8, 2))],
                          "TRANSPOSE_CONV", ("TransposeConvOptions", {"Padding": SAME, "StrideH": 2, "StrideW": 2})),
        {"kernel_shape": (1, 1), "strides": (2, 2), "dilations": (1, 1), "groups": 1, "pads": (0, 0, 0, 0),
         "output_padding": (1, 1), "bias": False}),
    # TFLite VALID crops nothing: out = (4 - 1) * 1 + 3 = 6
    "conv_transpose_valid": (
        lambda: onnx_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3])],
                           {"x": (1, 1, 4, 4)}, {"y": (1, 1, 6, 6)}, {"w": zeros(1, 1, 3, 3)}),
        lambda: tflite_op([ints([1, 6, 6, 1]), const((1, 3, 3, 1)), T((1, 4, 4, 1))], [T((1, 6, 6, 1))],
                          "TRANSPOSE_CONV", ("TransposeConvOptions", {"Padding": VALID, "StrideH": 1, "StrideW": 1})),
        {"kernel_shape": (3, 3), "strides": (1, 1), "dilations": (1, 1), "groups": 1, "pads": (0, 0, 0, 0),
         "output_padding": (0, 0), "bias": False}),
    # a dilated conv: span (3 - 1) * 2 + 1 = 5 on 5x5 SAME needs 4 elements, 2 a side
    "conv_dilated": (
        lambda: onnx_model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], dilations=[2, 2],
                                             auto_pad="SAME_UPPER")],
                           {"x": (1, 1, 5, 5)}, {"y": (1, 1, 5, 5)}, {"w": zeros(1, 1, 3, 3)}),
        lambda: tflite_op([T((1, 5, 5, 1)), const((1, 3, 3, 1))], [T((1, 5, 5, 1))], "CONV_2D",
                          conv_options(SAME, dilation=(2, 2))),
        {"kernel_shape": (3, 3), "strides": (1, 1), "dilations": (2, 2), "groups": 1, "pads": (2, 2, 2, 2),
         "bias": False}),
    "reflect_pad": (
        lambda: onnx_model([helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")], {"x": (1, 3, 4, 4)},
                           {"y": (1, 3, 4, 6)}, {"pads": int64(0, 0, 0, 1, 0, 0, 0, 1)}),
        lambda: tflite_op([T((1, 4, 4, 3)), paddings([(0, 0), (0, 0), (1, 1), (0, 0)])], [T((1, 4, 6, 3))],
                          "MIRROR_PAD", ("MirrorPadOptions", {"Mode": 0})),
        {"pads": (0, 0, 0, 1, 0, 0, 0, 1), "mode": "reflect"}),
    # Pad-18 pads only the axes it names: W (axis 3, or -1) by 2 at the end
    "pad_axes_opset18": (
        lambda: onnx_model([helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"])], {"x": (1, 3, 4, 4)},
                           {"y": (1, 3, 4, 6)}, {"pads": int64(0, 2), "axes": int64(-1)}, opset=18),
        lambda: tflite_op([T((1, 4, 4, 3)), paddings([(0, 0), (0, 0), (0, 2), (0, 0)])], [T((1, 4, 6, 3))], "PAD"),
        {"pads": (0, 0, 0, 0, 0, 0, 0, 2), "mode": "constant"}),
    # TFLite's radius 2 is a window of 2 * 2 + 1 = 5 channels
    "lrn": (
        lambda: onnx_model([helper.make_node("LRN", ["x"], ["y"], size=5)], {"x": (1, 8, 2, 2)}, {"y": (1, 8, 2, 2)}),
        lambda: tflite_op([T((1, 2, 2, 8))], [T((1, 2, 2, 8))], "LOCAL_RESPONSE_NORMALIZATION",
                          ("LocalResponseNormalizationOptions", {"Radius": 2, "Bias": 1.0, "Alpha": 1.0, "Beta": 0.5})),
        {"size": 5}),
    "l2_pool": (
        lambda: onnx_model([helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], p=2)],
                           {"x": (1, 2, 4, 4)}, {"y": (1, 2, 2, 2)}),
        lambda: tflite_op([T((1, 4, 4, 2))], [T((1, 2, 2, 2))], "L2_POOL_2D", pool_options((2, 2), (2, 2), VALID)),
        {"kernel_shape": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0), "dilations": (1, 1), "ceil_mode": False,
         "count_include_pad": False, "p": 2}),
    # negative ONNX axes and the NHWC axes 1, 2 are both channels-first 2, 3
    "reduce_negative_axes": (
        lambda: onnx_model([helper.make_node("ReduceMax", ["x"], ["y"], axes=[-1, -2], keepdims=1)],
                           {"x": (1, 8, 4, 4)}, {"y": (1, 8, 1, 1)}),
        lambda: tflite_op([T((1, 4, 4, 8)), ints([2, 1])], [T((1, 1, 1, 8))], "REDUCE_MAX",
                          ("ReducerOptions", {"KeepDims": True})),
        {"axes": (2, 3), "keepdims": True}),
    # ONNX without axes reduces every dim
    "reduce_all_axes": (
        lambda: onnx_model([helper.make_node("ReduceSum", ["x"], ["y"])], {"x": (2, 3)}, {"y": (1, 1)}),
        lambda: tflite_op([T((2, 3)), ints([0, 1])], [T((1, 1))], "SUM", ("ReducerOptions", {"KeepDims": True})),
        {"axes": (0, 1), "keepdims": True}),
    "log_softmax": (
        lambda: onnx_model([helper.make_node("LogSoftmax", ["x"], ["y"])], {"x": (2, 10)}, {"y": (2, 10)}),
        lambda: tflite_op([T((2, 10))], [T((2, 10))], "LOG_SOFTMAX"),
        {"axis": 1, "beta": 1.0}),
    # a BATCH_MATMUL with adj_y and a constant (N, K) right operand is ONNX Gemm's transB
    "batch_matmul_constant_adjoint": (
        lambda: onnx_model([helper.make_node("Gemm", ["a", "w"], ["y"], transB=1)], {"a": (3, 4)}, {"y": (3, 5)},
                           {"w": zeros(5, 4)}),
        lambda: tflite_op([T((3, 4)), const((5, 4))], [T((3, 5))], "BATCH_MATMUL",
                          ("BatchMatMulOptions", {"AdjY": True})),
        {"transpose_a": False, "transpose_b": True, "bias": False, "keep_num_dims": False}),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_more_layer_pairs_agree(name: str, tmp_path: Path) -> None:
    build_onnx, build_tflite, attrs = PAIRS[name]
    onnx_layer, _ = _check_same_layer(build_onnx(), build_tflite(), tmp_path)
    assert onnx_layer.attrs == attrs


# --------------------------------------------------------------------------------- property: same cost rows


def _check_same_layer(onnx_model_: Any, graph: Graph, folder: Path) -> tuple[Layer, Layer]:
    from_onnx, from_tflite = import_onnx(onnx_model_, folder), import_tflite(graph, folder)
    (onnx_layer,), (tflite_layer,) = from_onnx.layers, from_tflite.layers
    assert onnx_layer.op == tflite_layer.op
    assert cost_row(from_onnx) == cost_row(from_tflite)
    assert onnx_layer.attrs == tflite_layer.attrs
    assert onnx_layer.inputs == tflite_layer.inputs and onnx_layer.outputs == tflite_layer.outputs
    assert [w.shape for w in onnx_layer.weights] == [w.shape for w in tflite_layer.weights]
    return onnx_layer, tflite_layer


def _window_out(size: int, kernel: int, stride: int, dilation: int, same: bool) -> tuple[int, int, int]:
    """(output size, pad begin, pad end) of TFLite padding: SAME gives ceil(size / stride) outputs and splits the
    padding they need with the odd element at the end; VALID gives floor((size - span) / stride) + 1, no pads."""
    span = (kernel - 1) * dilation + 1
    if not same:
        return (size - span) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + span - size)
    return out, total // 2, total - total // 2


@st.composite
def conv_params(draw: st.DrawFn) -> dict[str, Any]:
    depthwise = draw(st.booleans())
    c_in = draw(st.integers(1, 6))
    if depthwise:
        groups, c_out = c_in, c_in * draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([g for g in range(1, c_in + 1) if c_in % g == 0]))
        c_out = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    spatial = (draw(st.integers(spans[0], 9)), draw(st.integers(spans[1], 9)))
    return {"depthwise": depthwise, "c_in": c_in, "c_out": c_out, "groups": groups, "kernel": kernel,
            "dilation": dilation, "spatial": spatial, "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "same": draw(st.booleans()), "bias": draw(st.booleans())}


@settings(max_examples=25, deadline=None)
@given(p=conv_params())
def test_conv_imports_agree(p: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    (h, w), (kh, kw), (sh, sw), (dh, dw) = p["spatial"], p["kernel"], p["stride"], p["dilation"]
    c_in, c_out, groups = p["c_in"], p["c_out"], p["groups"]
    oh, top, bottom = _window_out(h, kh, sh, dh, p["same"])
    ow, left, right = _window_out(w, kw, sw, dw, p["same"])
    names = ["x", "w", "b"] if p["bias"] else ["x", "w"]
    constants = {"w": zeros(c_out, c_in // groups, kh, kw), **({"b": zeros(c_out)} if p["bias"] else {})}
    model = onnx_model([helper.make_node("Conv", names, ["y"], kernel_shape=[kh, kw], strides=[sh, sw],
                                         dilations=[dh, dw], pads=[top, left, bottom, right], group=groups)],
                       {"x": (1, c_in, h, w)}, {"y": (1, c_out, oh, ow)}, constants)
    bias = [const((c_out,))] if p["bias"] else []
    padding = SAME if p["same"] else VALID
    if p["depthwise"]:
        graph = tflite_op([T((1, h, w, c_in)), const((1, kh, kw, c_out)), *bias], [T((1, oh, ow, c_out))],
                          "DEPTHWISE_CONV_2D", conv_options(padding, (sh, sw), (dh, dw), "DepthwiseConv2DOptions",
                                                            DepthMultiplier=c_out // c_in))
    else:
        graph = tflite_op([T((1, h, w, c_in)), const((c_out, kh, kw, c_in // groups)), *bias],
                          [T((1, oh, ow, c_out))], "CONV_2D", conv_options(padding, (sh, sw), (dh, dw)))
    layer, _ = _check_same_layer(model, graph, tmp_path_factory.mktemp("conv"))
    assert layer.attrs == {"kernel_shape": (kh, kw), "strides": (sh, sw), "dilations": (dh, dw),
                           "pads": (top, left, bottom, right), "groups": groups, "bias": p["bias"]}


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 3), features_in=st.integers(1, 32), features_out=st.integers(1, 32), bias=st.booleans())
def test_fully_connected_imports_agree(rows: int, features_in: int, features_out: int, bias: bool,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    constants = {"w": zeros(features_out, features_in), **({"b": zeros(features_out)} if bias else {})}
    model = onnx_model([helper.make_node("Gemm", ["x", *constants], ["y"], transB=1)], {"x": (rows, features_in)},
                       {"y": (rows, features_out)}, constants)
    graph = tflite_op([T((rows, features_in)), const((features_out, features_in)),
                       *([const((features_out,))] if bias else [])], [T((rows, features_out))], "FULLY_CONNECTED")
    _check_same_layer(model, graph, tmp_path_factory.mktemp("fc"))


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from([("MaxPool", "MAX_POOL_2D"), ("AveragePool", "AVERAGE_POOL_2D")]),
       channels=st.integers(1, 4), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), same=st.booleans(), extra=st.tuples(
           st.integers(0, 6), st.integers(0, 6)))
def test_pool_imports_agree(op: tuple[str, str], channels: int, kernel: tuple[int, int], stride: tuple[int, int],
                            same: bool, extra: tuple[int, int], tmp_path_factory: pytest.TempPathFactory) -> None:
    h, w = kernel[0] + extra[0], kernel[1] + extra[1]
    oh, top, bottom = _window_out(h, kernel[0], stride[0], 1, same)
    ow, left, right = _window_out(w, kernel[1], stride[1], 1, same)
    model = onnx_model([helper.make_node(op[0], ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride),
                                         pads=[top, left, bottom, right])],
                       {"x": (1, channels, h, w)}, {"y": (1, channels, oh, ow)})
    graph = tflite_op([T((1, h, w, channels))], [T((1, oh, ow, channels))], op[1],
                      pool_options(kernel, stride, SAME if same else VALID))
    layer, _ = _check_same_layer(model, graph, tmp_path_factory.mktemp("pool"))
    assert layer.attrs["pads"] == (top, left, bottom, right)


@st.composite
def broadcast_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Channels-first shapes of a full operand and one broadcast against it (each dim its size or 1; batch 1)."""
    rank = draw(st.sampled_from([2, 4]))
    full = (1, *(draw(st.integers(1, 5)) for _ in range(rank - 1)))
    return full, tuple(d if draw(st.booleans()) else 1 for d in full)


def _nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else shape


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from([("Add", "ADD"), ("Mul", "MUL"), ("Sub", "SUB")]), shapes=broadcast_shapes())
def test_elementwise_imports_agree(op: tuple[str, str], shapes: tuple[tuple[int, ...], tuple[int, ...]],
                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    full, other = shapes
    model = onnx_model([helper.make_node(op[0], ["a", "b"], ["y"])], {"a": full, "b": other}, {"y": full})
    graph = tflite_op([T(_nhwc(full)), T(_nhwc(other))], [T(_nhwc(full))], op[1])
    _check_same_layer(model, graph, tmp_path_factory.mktemp("elementwise"))


# ------------------------------------------------------------------------------------- the attribute models


def test_attrs_model_table() -> None:
    assert attrs_model("conv") is ConvAttrs and attrs_model("fully_connected") is MatMulAttrs
    assert attrs_model("matmul") is MatMulAttrs and attrs_model("avg_pool") is PoolAttrs
    assert attrs_model("relu") is None and attrs_model("einsum") is None


def test_validate_attrs_normalizes_and_fills_defaults() -> None:
    # YAML lists become tuples; strides and dilations default to 1 per spatial dim of kernel_shape
    assert validate_attrs("conv", {"kernel_shape": [3, 3], "groups": 2.0}) == {
        "kernel_shape": (3, 3), "strides": (1, 1), "dilations": (1, 1), "groups": 2}
    assert validate_attrs("conv_transpose", {"kernel_shape": [2]}) == {
        "kernel_shape": (2,), "strides": (1,), "dilations": (1,), "groups": 1, "output_padding": (0,)}
    assert validate_attrs("resize", {"mode": "Linear"}) == {"mode": "linear"}
    assert validate_attrs("reduce_sum", {"axes": [0, 2], "keepdims": 0}) == {"axes": (0, 2), "keepdims": False}
    assert validate_attrs("lp_pool", {}) == {"ceil_mode": False, "count_include_pad": False, "p": 2}
    assert validate_attrs("relu", {"anything": [1]}) == {"anything": [1]}  # no model: kept as given


def test_layer_fills_bias_from_its_weights() -> None:
    # a second weight tensor is the bias unless the attrs say otherwise
    with_bias = Layer(name="c", op="conv", weights=[(4, 3, 1, 1), (4,)], attrs={"kernel_shape": [1, 1]})
    assert with_bias.attrs["bias"] is True
    assert Layer(name="f", op="fully_connected", weights=[(4, 3)]).attrs["bias"] is False
    assert Layer(name="f", op="fully_connected", weights=[(4, 3), (4,)], attrs={"bias": False}).attrs["bias"] is False


def test_same_pads_put_the_odd_element_at_the_end_or_beginning() -> None:
    # in 8, k 3, s 2: ceil(8 / 2) = 4 outputs need (4 - 1) * 2 + 3 - 8 = 1 element
    assert same_pads([8], [3], [2], [1]) == (0, 1)
    assert same_pads([8], [3], [2], [1], upper=False) == (1, 0)
    # in 5, k 3, dilation 2 (span 5), s 1: 5 outputs need 4 + 5 - 5 = 4 elements, 2 a side
    assert same_pads([5], [3], [1], [2]) == (2, 2)


@pytest.mark.parametrize(("kind", "attrs", "message"), [
    ("conv", {"kernel_shape": [3, 3], "padding": "same"},
     r"^conv attrs: unknown attribute 'padding' = 'same'; the conv attributes are fused_activation, "
     r"weight_quantization, kernel_shape, strides, pads, dilations, groups, bias: rename or remove the others$"),
    ("conv", {"kernel_shape": [3, 3], "strides": [1]},
     r"^conv attrs: strides: kernel_shape \[3, 3\] needs one entry per spatial dim \(2 in all\), got 1: \[1\]; "
     r"fix these values$"),
    ("max_pool", {"kernel_shape": [2, 2], "pads": [1, 1]},
     r"^max_pool attrs: pads: kernel_shape \[2, 2\] needs a begin and an end per spatial dim \(4 in all\), got 2: "
     r"\[1, 1\]; fix these values$"),
    ("conv", {"kernel_shape": [0, 3]},
     r"^conv attrs: kernel_shape\.0: must be greater than or equal to 1, got 0; fix these values$"),
    ("conv", {"kernel_shape": [True]},
     r"^conv attrs: kernel_shape\.0: must be an integer, got the boolean True; fix these values$"),
    ("resize", {"mode": "bilinear"},
     r"^resize attrs: mode: must be 'nearest', 'linear' or 'cubic', got 'bilinear'; fix these values$"),
    ("reduce_mean", {"axes": [1, 1]},
     r"^reduce_mean attrs: axes: must be distinct, got \[1, 1\]; list each reduced dim once; fix these values$"),
    ("pad", {"pads": [1, 2, 3]},
     r"^pad attrs: pads: must hold a begin and an end per dim \(an even count\), got 3 values \[1, 2, 3\]; "
     r"fix these values$"),
    ("softmax", [1], r"^softmax attrs must be a mapping of attribute names to values, got \[1\]$"),
])
def test_validate_attrs_errors(kind: str, attrs: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        validate_attrs(kind, attrs)


def test_layer_rejects_attrs_its_model_does_not_know() -> None:
    with pytest.raises(SpecError, match=r"^Layer 'c': attrs: conv attrs: unknown attribute 'padding' = 'same'; "):
        Layer(name="c", op="conv", attrs={"kernel_shape": [3, 3], "padding": "same"})


# ------------------------------------------------------------------------- malformed attribute values in files


@pytest.mark.parametrize(("node", "message"), [
    (helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="area"),
     r"\(Resize\) is malformed: resize attrs: mode: must be 'nearest', 'linear' or 'cubic', got 'area'; the file is "
     r"malformed$"),
    (helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 1]),
     r"\(Conv\) is malformed: conv attrs: strides\.0: must be greater than or equal to 1, got 0; the file is "
     r"malformed$"),
    (helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 1], auto_pad="SAME_UPPER"),
     r"\(Conv\) is malformed: strides \[0, 1\] and dilations \[1, 1\] must be positive$"),
])
def test_onnx_attribute_out_of_range_is_a_model_file_error(node: Any, message: str, tmp_path: Path) -> None:
    model = onnx_model([node], {"x": (1, 1, 2, 2)}, {"y": (1, 1, 4, 4)},
                       {"scales": np.array([1, 1, 2, 2], np.float32), "w": zeros(1, 1, 1, 1)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnx shape inference may warn about the odd values
        with pytest.raises(ModelFileError, match=r"model\.onnx: node '' " + message):
            import_onnx(model, tmp_path)


def test_tflite_zero_stride_is_a_model_file_error(tmp_path: Path) -> None:
    graph = tflite_op([T((1, 4, 4, 1)), const((1, 1, 1, 1))], [T((1, 4, 4, 1))], "CONV_2D",
                      conv_options(SAME, (0, 1)))
    with pytest.raises(ModelFileError, match=r"model\.tflite: operator 0 \(CONV_2D\): strides \[0, 1\] and dilations "
                                             r"\[1, 1\] must be positive; the file is malformed$"):
        import_tflite(graph, tmp_path)


def test_tflite_attribute_out_of_range_is_a_model_file_error(tmp_path: Path) -> None:
    # MIRROR_PAD modes are REFLECT (0) and SYMMETRIC (1)
    graph = tflite_op([T((1, 4)), paddings([(0, 0), (1, 1)])], [T((1, 6))], "MIRROR_PAD",
                      ("MirrorPadOptions", {"Mode": 2}))
    with pytest.raises(ModelFileError, match=r"model\.tflite: operator 0 \(MIRROR_PAD\): pad attrs: mode: must be "
                                             r"'constant', 'reflect', 'edge', 'wrap' or 'symmetric', got 'mirror mode "
                                             r"2'; the file is malformed$"):
        import_tflite(graph, tmp_path)
