"""TFLite importer: op mapping, layouts, precision, subgraphs, batch and malformed files.

Every model here is built in memory with the ``tflite`` package's flatbuffer builder functions (see
:func:`build_tflite`), so these tests need no files outside the repository. Golden cases give hand-derived costs;
where the ONNX importer exists, the same layer built with ``onnx.helper`` must cost the same.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

tflite = pytest.importorskip("tflite")

from rooflinekit.counters import UnsupportedOpWarning, count_network  # noqa: E402
from rooflinekit.descriptors import DType, LayerNetwork  # noqa: E402
from rooflinekit.errors import ModelFileError, RooflineError, ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402
from rooflinekit.importers.tflite import TFLiteImportWarning, load_tflite, subgraph_summary  # noqa: E402
from tflite_builder import F16, I8, I32, SAME, VALID, Graph, Op, T, build_tflite, const, ints  # noqa: E402

def single_op(inputs: list[T], outputs: list[T], code: str, options: tuple[str, dict] | None = None) -> Graph:
    """A graph of one operator; graph inputs are its non-constant operands."""
    tensors = inputs + outputs
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(tensors)))
    return Graph(tensors, [Op(code, ins, outs, options)], [i for i in ins if not inputs[i].data], outs)


def write(tmp_path: Path, *graphs: Graph, name: str = "model.tflite", **kwargs: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(build_tflite(*graphs, **kwargs))
    return path


def conv_options(padding: int = SAME, stride: int = 1) -> tuple[str, dict]:
    return ("Conv2DOptions", {"Padding": padding, "StrideW": stride, "StrideH": stride, "DilationWFactor": 1,
                              "DilationHFactor": 1})


def pool_options(k: int, stride: int, padding: int = VALID) -> tuple[str, dict]:
    return ("Pool2DOptions", {"Padding": padding, "StrideW": stride, "StrideH": stride, "FilterWidth": k,
                              "FilterHeight": k})


# ------------------------------------------------------------------------------------- golden op cases


def _onnx_model(nodes: list, inputs: dict[str, tuple], outputs: dict[str, tuple],
                initializers: dict[str, np.ndarray] | None = None, opset: int = 13) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "golden",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(v, n) for n, v in (initializers or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


@dataclass
class Golden:
    """One layer in TFLite and (optionally) ONNX with its hand-derived costs."""

    kind: str
    graph: Callable[[], Graph]
    expected: dict[str, int]  # macs, ops, params, weight_bytes (fp32)
    onnx: Callable[[], Any] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def _node(op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> Any:
    from onnx import helper

    return helper.make_node(op, inputs, outputs, **attrs)


GOLDEN: dict[str, Golden] = {
    # conv 3x3 same, 3->4 channels on 8x8: macs = 8*8*4 * 3*9 = 6912, bias 256
    "conv_same": Golden(
        "conv", lambda: single_op([T((1, 8, 8, 3)), const((4, 3, 3, 3)), const((4,))], [T((1, 8, 8, 4))],
                                  "CONV_2D", conv_options()),
        {"macs": 6912, "ops": 14080, "params": 112, "weight_bytes": 448},
        lambda: _onnx_model([_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                            {"x": (1, 3, 8, 8)}, {"y": (1, 4, 8, 8)}, {"w": _zeros(4, 3, 3, 3), "b": _zeros(4)}),
        {"kernel_shape": (3, 3), "groups": 1, "pads": (1, 1, 1, 1), "strides": (1, 1)}),  # SAME: (3 - 1) / 2 a side
    # conv 3x3 stride 2 valid, no bias, 9x9x2 -> 4x4x3: macs = 4*4*3 * 2*9 = 864
    "conv_stride2": Golden(
        "conv", lambda: single_op([T((1, 9, 9, 2)), const((3, 3, 3, 2))], [T((1, 4, 4, 3))], "CONV_2D",
                                  conv_options(VALID, 2)),
        {"macs": 864, "ops": 1728, "params": 54, "weight_bytes": 216},
        lambda: _onnx_model([_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2])],
                            {"x": (1, 2, 9, 9)}, {"y": (1, 3, 4, 4)}, {"w": _zeros(3, 2, 3, 3)}),
        {"strides": (2, 2), "pads": (0, 0, 0, 0)}),
    # depthwise 3x3, 3 channels, multiplier 2: macs = 6*6*6 * 1*9 = 1944, bias 216
    "depthwise_x2": Golden(
        "conv", lambda: single_op([T((1, 6, 6, 3)), const((1, 3, 3, 6)), const((6,))], [T((1, 6, 6, 6))],
                                  "DEPTHWISE_CONV_2D",
                                  ("DepthwiseConv2DOptions", {"Padding": SAME, "StrideW": 1, "StrideH": 1,
                                                              "DepthMultiplier": 2, "DilationWFactor": 1,
                                                              "DilationHFactor": 1})),
        {"macs": 1944, "ops": 4104, "params": 60, "weight_bytes": 240},
        lambda: _onnx_model([_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   group=3)],
                            {"x": (1, 3, 6, 6)}, {"y": (1, 6, 6, 6)}, {"w": _zeros(6, 1, 3, 3), "b": _zeros(6)}),
        {"groups": 3, "pads": (1, 1, 1, 1)}),  # multiplier 2 = C_out / groups, in the weight shape
    # fully connected 16 -> 10 with bias: macs 160, bias 10
    "fully_connected": Golden(
        "fully_connected", lambda: single_op([T((1, 16)), const((10, 16)), const((10,))], [T((1, 10))],
                                             "FULLY_CONNECTED"),
        {"macs": 160, "ops": 330, "params": 170, "weight_bytes": 680},
        lambda: _onnx_model([_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"x": (1, 16)}, {"y": (1, 10)},
                            {"w": _zeros(10, 16), "b": _zeros(10)})),
    # keep_num_dims: (1, 5, 16) -> (1, 5, 10): macs = 50 * 16
    "fully_connected_keep_dims": Golden(
        "fully_connected",
        lambda: single_op([T((1, 5, 16)), const((10, 16))], [T((1, 5, 10))], "FULLY_CONNECTED",
                          ("FullyConnectedOptions", {"KeepNumDims": True})),
        {"macs": 800, "ops": 1600, "params": 160, "weight_bytes": 640}, attrs={"keep_num_dims": True}),
    # avg pool 2x2 stride 2 on 8x8x4: 64 outputs * 4 = 256
    "avg_pool": Golden(
        "avg_pool", lambda: single_op([T((1, 8, 8, 4))], [T((1, 4, 4, 4))], "AVERAGE_POOL_2D", pool_options(2, 2)),
        {"macs": 0, "ops": 256, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                            {"x": (1, 4, 8, 8)}, {"y": (1, 4, 4, 4)}),
        {"kernel_shape": (2, 2)}),
    # max pool 3x3 stride 1 on 5x5x2: 18 outputs * 9 = 162
    "max_pool": Golden(
        "max_pool", lambda: single_op([T((1, 5, 5, 2))], [T((1, 3, 3, 2))], "MAX_POOL_2D", pool_options(3, 1)),
        {"macs": 0, "ops": 162, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3])],
                            {"x": (1, 2, 5, 5)}, {"y": (1, 2, 3, 3)})),
    # mean over H, W of 4x4x8: one op per input element = 128; axes are attributes, not weights
    "mean": Golden(
        "reduce_mean", lambda: single_op([T((1, 4, 4, 8)), ints([1, 2])], [T((1, 1, 1, 8))], "MEAN",
                                         ("ReducerOptions", {"KeepDims": True})),
        {"macs": 0, "ops": 128, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)],
                            {"x": (1, 8, 4, 4)}, {"y": (1, 8, 1, 1)}),
        {"axes": (2, 3), "keepdims": True}),
    "add": Golden(
        "add", lambda: single_op([T((1, 4, 4, 8)), T((1, 4, 4, 8))], [T((1, 4, 4, 8))], "ADD"),
        {"macs": 0, "ops": 128, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Add", ["a", "b"], ["y"])], {"a": (1, 8, 4, 4), "b": (1, 8, 4, 4)},
                            {"y": (1, 8, 4, 4)})),
    "sub": Golden("sub", lambda: single_op([T((1, 6)), T((1, 6))], [T((1, 6))], "SUB"),
                  {"macs": 0, "ops": 6, "params": 0, "weight_bytes": 0}),
    # a constant operand is a weight: mul by a per-channel scale
    "mul_const": Golden("mul", lambda: single_op([T((1, 2, 2, 4)), const((4,))], [T((1, 2, 2, 4))], "MUL"),
                        {"macs": 0, "ops": 16, "params": 4, "weight_bytes": 16}),
    "softmax": Golden(
        "softmax", lambda: single_op([T((1, 10))], [T((1, 10))], "SOFTMAX", ("SoftmaxOptions", {"Beta": 1.0})),
        {"macs": 0, "ops": 30, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Softmax", ["x"], ["y"], axis=-1)], {"x": (1, 10)}, {"y": (1, 10)})),
    # transpose conv 3x3 stride 2, 4x4x3 -> 8x8x2: macs = 48 inputs * 2 * 9 = 864
    "transpose_conv": Golden(
        "conv_transpose",
        lambda: single_op([ints([1, 8, 8, 2]), const((2, 3, 3, 3)), T((1, 4, 4, 3))], [T((1, 8, 8, 2))],
                          "TRANSPOSE_CONV", ("TransposeConvOptions", {"Padding": SAME, "StrideW": 2, "StrideH": 2})),
        {"macs": 864, "ops": 1728, "params": 54, "weight_bytes": 216},
        lambda: _onnx_model([_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                   pads=[0, 0, 1, 1])],
                            {"x": (1, 3, 4, 4)}, {"y": (1, 2, 8, 8)}, {"w": _zeros(3, 2, 3, 3)})),
    # batch matmul of two activations (1,2,3,4) x (1,2,4,5): 30 outputs * K=4
    "batch_matmul": Golden(
        "matmul", lambda: single_op([T((1, 2, 3, 4)), T((1, 2, 4, 5))], [T((1, 2, 3, 5))], "BATCH_MATMUL"),
        {"macs": 120, "ops": 240, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("MatMul", ["a", "b"], ["y"])], {"a": (1, 2, 3, 4), "b": (1, 2, 4, 5)},
                            {"y": (1, 2, 3, 5)})),
    # constant right operand stored adjointed (5, 4): a fully connected 4 -> 5 on 3 rows: 15 * 4
    "batch_matmul_const": Golden(
        "fully_connected",
        lambda: single_op([T((1, 3, 4)), const((5, 4))], [T((1, 3, 5))], "BATCH_MATMUL",
                          ("BatchMatMulOptions", {"AdjY": True})),
        {"macs": 60, "ops": 120, "params": 20, "weight_bytes": 80},
        lambda: _onnx_model([_node("MatMul", ["a", "w"], ["y"])], {"a": (1, 3, 4)}, {"y": (1, 3, 5)},
                            {"w": _zeros(4, 5)})),
    "relu": Golden(
        "relu", lambda: single_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "RELU"),
        {"macs": 0, "ops": 32, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Relu", ["x"], ["y"])], {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)})),
    "relu6": Golden("relu6", lambda: single_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "RELU6"),
                    {"macs": 0, "ops": 32, "params": 0, "weight_bytes": 0}),
    "logistic": Golden(
        "sigmoid", lambda: single_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "LOGISTIC"),
        {"macs": 0, "ops": 32, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Sigmoid", ["x"], ["y"])], {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)})),
    "tanh": Golden(
        "tanh", lambda: single_op([T((1, 4, 4, 2))], [T((1, 4, 4, 2))], "TANH"),
        {"macs": 0, "ops": 32, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Tanh", ["x"], ["y"])], {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)})),
    # concatenation on the channel axis: NHWC axis 3 is NCHW axis 1
    "concat": Golden(
        "concat", lambda: single_op([T((1, 4, 4, 2)), T((1, 4, 4, 2))], [T((1, 4, 4, 4))], "CONCATENATION",
                                    ("ConcatenationOptions", {"Axis": 3})),
        {"macs": 0, "ops": 0, "params": 0, "weight_bytes": 0},
        lambda: _onnx_model([_node("Concat", ["a", "b"], ["y"], axis=1)], {"a": (1, 2, 4, 4), "b": (1, 2, 4, 4)},
                            {"y": (1, 4, 4, 4)}),
        {"axis": 1}),
    "pad": Golden("pad", lambda: single_op([T((1, 4, 4, 3)), ints([0, 0, 1, 1, 1, 1, 0, 0])], [T((1, 6, 6, 3))],
                                           "PAD"),
                  {"macs": 0, "ops": 0, "params": 0, "weight_bytes": 0}),
    "strided_slice": Golden(
        "slice", lambda: single_op([T((1, 4, 4, 3)), ints([0, 0, 0, 0]), ints([1, 2, 4, 3]), ints([1, 1, 1, 1])],
                                   [T((1, 2, 4, 3))], "STRIDED_SLICE"),
        {"macs": 0, "ops": 0, "params": 0, "weight_bytes": 0}),
    "reshape": Golden("reshape", lambda: single_op([T((1, 2, 2, 4)), ints([1, 16])], [T((1, 16))], "RESHAPE"),
                      {"macs": 0, "ops": 0, "params": 0, "weight_bytes": 0}),
    "squeeze": Golden("squeeze", lambda: single_op([T((1, 1, 1, 8))], [T((1, 8))], "SQUEEZE",
                                                   ("SqueezeOptions", {})),
                      {"macs": 0, "ops": 0, "params": 0, "weight_bytes": 0}),
    "quantize": Golden("quantize", lambda: single_op([T((1, 10))], [T((1, 10), I8, scales=1)], "QUANTIZE"),
                       {"macs": 0, "ops": 10, "params": 0, "weight_bytes": 0}),
    "dequantize": Golden("dequantize", lambda: single_op([T((1, 10), I8, scales=1)], [T((1, 10))], "DEQUANTIZE"),
                         {"macs": 0, "ops": 10, "params": 0, "weight_bytes": 0}),
}


def _totals(net: LayerNetwork) -> dict[str, int]:
    totals = count_network(net).totals
    return {key: totals[key] for key in ("macs", "ops", "params", "weight_bytes")}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_golden_op_costs(case: str, tmp_path: Path) -> None:
    golden = GOLDEN[case]
    net = load_tflite(write(tmp_path, golden.graph()))
    (layer,) = net.layers
    assert layer.op == golden.kind
    assert _totals(net) == golden.expected
    assert {k: layer.attrs[k] for k in golden.attrs} == golden.attrs


@pytest.mark.parametrize("case", [name for name, golden in GOLDEN.items() if golden.onnx is not None])
def test_golden_op_costs_match_onnx_importer(case: str, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    onnx_importer = pytest.importorskip("rooflinekit.importers.onnx")
    golden = GOLDEN[case]
    onnx_path = tmp_path / "golden.onnx"
    onnx.save(golden.onnx(), onnx_path)
    from_onnx = count_network(onnx_importer.load_onnx(onnx_path)).totals
    from_tflite = count_network(load_tflite(write(tmp_path, golden.graph()))).totals
    assert from_tflite == from_onnx


def test_pure_views_move_no_bytes(tmp_path: Path) -> None:
    for case in ("reshape", "squeeze"):
        cost = count_network(load_tflite(write(tmp_path, GOLDEN[case].graph())))
        assert cost.totals["activation_bytes"] == 0


# --------------------------------------------------------------------------------------- layout


def test_conv_is_normalized_to_channels_first(tmp_path: Path) -> None:
    (layer,) = load_tflite(write(tmp_path, GOLDEN["conv_same"].graph())).layers
    assert layer.inputs == ((1, 3, 8, 8),)
    assert layer.outputs == ((1, 4, 8, 8),)
    assert [w.shape for w in layer.weights] == [(4, 3, 3, 3), (4,)]
    assert layer.source_op == "CONV_2D"


def test_depthwise_weight_is_out_by_one(tmp_path: Path) -> None:
    (layer,) = load_tflite(write(tmp_path, GOLDEN["depthwise_x2"].graph())).layers
    assert [w.shape for w in layer.weights] == [(6, 1, 3, 3), (6,)]
    assert layer.inputs == ((1, 3, 6, 6),)


def test_grouped_conv_2d(tmp_path: Path) -> None:
    """A CONV_2D whose filter sees C_in / groups channels: 8 -> 4 channels in 2 groups of 4 inputs."""
    graph = single_op([T((1, 5, 5, 8)), const((4, 1, 1, 4))], [T((1, 5, 5, 4))], "CONV_2D", conv_options())
    net = load_tflite(write(tmp_path, graph))
    assert net.layers[0].attrs["groups"] == 2
    assert count_network(net).totals["macs"] == 25 * 4 * 4


def test_transpose_conv_weight_is_in_out(tmp_path: Path) -> None:
    (layer,) = load_tflite(write(tmp_path, GOLDEN["transpose_conv"].graph())).layers
    assert layer.weights[0].shape == (3, 2, 3, 3)
    assert layer.inputs == ((1, 3, 4, 4),)  # the output_shape operand is an attribute, not an input


def test_fused_activation_is_an_attribute(tmp_path: Path) -> None:
    options = ("Conv2DOptions", {**conv_options()[1], "FusedActivationFunction": 3})
    graph = single_op([T((1, 4, 4, 1)), const((1, 1, 1, 1))], [T((1, 4, 4, 1))], "CONV_2D", options)
    (layer,) = load_tflite(write(tmp_path, graph)).layers
    assert layer.attrs["fused_activation"] == "relu6"


# ------------------------------------------------------------------------------------ precision


def test_int8_model_counts_int8_weights_and_int32_bias(tmp_path: Path) -> None:
    graph = single_op([T((1, 8, 8, 3), I8, scales=1), const((4, 3, 3, 3), I8, scales=4), const((4,), I32, scales=4)],
                      [T((1, 8, 8, 4), I8, scales=1)], "CONV_2D", conv_options())
    net = load_tflite(write(tmp_path, graph))
    (layer,) = net.layers
    assert net.precision.label == "int8"
    assert layer.precision is None
    assert [(w.dtype, w.nbytes) for w in layer.weights] == [(DType.INT8, 108), (DType.INT32, 16)]
    assert layer.attrs["weight_quantization"] == "per_channel"
    assert count_network(net).totals["weight_bytes"] == 124


def _hybrid_graph() -> Graph:
    """int8 conv weights (432 elements) on fp32 activations, then a small fp32 dense layer (32 elements)."""
    tensors = [T((1, 8, 8, 3)), const((16, 3, 3, 3), I8, scales=1), const((16,)), T((1, 8, 8, 16)), ints([1, 2]),
               T((1, 16)), const((2, 16)), T((1, 2))]
    ops = [Op("CONV_2D", [0, 1, 2], [3], conv_options()), Op("MEAN", [3, 4], [5]),
           Op("FULLY_CONNECTED", [5, 6, -1], [7])]
    return Graph(tensors, ops, [0], [7])


def test_hybrid_model_is_w_int8_a_fp32(tmp_path: Path) -> None:
    net = load_tflite(write(tmp_path, _hybrid_graph()))
    assert net.precision.label == "W-int8_A-fp32"
    conv, mean, dense = net.layers
    assert conv.precision is None and mean.precision is None
    assert dense.precision is not None and dense.precision.label == "fp32"
    assert count_network(net).totals["weight_bytes"] == 432 + 64 + 128
    assert len(dense.weights) == 1  # the omitted optional bias (-1) is no operand


def test_dequantized_fp16_weights_are_folded(tmp_path: Path) -> None:
    tensors = [T((1, 8, 8, 3)), const((4, 3, 3, 3), F16), T((4, 3, 3, 3)), T((1, 8, 8, 4))]
    ops = [Op("DEQUANTIZE", [1], [2]), Op("CONV_2D", [0, 2, -1], [3], conv_options())]
    net = load_tflite(write(tmp_path, Graph(tensors, ops, [0], [3])))
    (layer,) = net.layers
    assert layer.op == "conv"
    assert (layer.weights[0].shape, layer.weights[0].dtype, layer.weights[0].nbytes) == ((4, 3, 3, 3), DType.FP16, 216)
    assert net.precision.label == "W-fp16_A-fp32"


def test_float_model_is_fp32(tmp_path: Path) -> None:
    assert load_tflite(write(tmp_path, GOLDEN["conv_same"].graph())).precision.label == "fp32"


def _bytes(net: LayerNetwork) -> tuple[int, int]:
    """(input_bytes, output_bytes) of a one-layer network."""
    row = count_network(net).layers.iloc[0]
    return int(row.input_bytes), int(row.output_bytes)


def test_quantize_and_dequantize_read_one_type_and_write_the_other(tmp_path: Path) -> None:
    # QUANTIZE (1, 10): fp32 in 10 * 4 = 40 bytes, int8 out 10; DEQUANTIZE: int8 in 10, fp32 out 40
    quantize = load_tflite(write(tmp_path, GOLDEN["quantize"].graph(), name="q.tflite"))
    (layer,) = quantize.layers
    assert layer.precision is None and quantize.precision.label == "fp32"
    assert layer.input_dtypes == () and layer.output_dtypes == (DType.INT8,)
    assert _bytes(quantize) == (40, 10)
    dequantize = load_tflite(write(tmp_path, GOLDEN["dequantize"].graph(), name="dq.tflite"))
    (layer,) = dequantize.layers
    assert layer.precision is None and dequantize.precision.label == "int8"
    assert layer.input_dtypes == () and layer.output_dtypes == (DType.FP32,)
    assert _bytes(dequantize) == (10, 40)


def test_input_of_another_type_than_the_activations_counts_at_its_own(tmp_path: Path) -> None:
    # int8 GATHER on axis 1: params (1, 5, 4) int8 = 20 bytes and indices (3,) int32 = 12 bytes in;
    # (1, 3, 4) int8 = 12 bytes out
    graph = single_op([T((1, 5, 4), I8, scales=1), T((3,), I32)], [T((1, 3, 4), I8, scales=1)], "GATHER",
                      ("GatherOptions", {"Axis": 1}))
    net = load_tflite(write(tmp_path, graph))
    (layer,) = net.layers
    assert net.precision.label == "int8" and layer.precision is None
    assert layer.input_dtypes == (None, DType.INT32) and layer.output_dtypes == ()
    assert _bytes(net) == (32, 12)


# ----------------------------------------------------------------------- custom ops, subgraphs, batch


def test_custom_op_is_reported_by_its_code(tmp_path: Path) -> None:
    net = load_tflite(write(tmp_path, single_op([T((1, 10))], [T((1, 10))], "CUSTOM:MyFancyOp")))
    (layer,) = net.layers
    assert (layer.op, layer.source_op) == ("MyFancyOp", "CUSTOM")
    with pytest.warns(UnsupportedOpWarning, match="MyFancyOp"):
        assert count_network(net).unsupported_ops == {"MyFancyOp": 1}


def test_unmapped_builtin_keeps_its_name(tmp_path: Path) -> None:
    net = load_tflite(write(tmp_path, single_op([T((1, 10))], [T((1, 10))], "RFFT2D")))
    assert net.layers[0].op == "RFFT2D"


def _while_model(tmp_path: Path) -> Path:
    main = Graph([T((1, 4)), T((1, 4))],
                 [Op("WHILE", [0], [1], ("WhileOptions", {"CondSubgraphIndex": 1, "BodySubgraphIndex": 2}))],
                 [0], [1])
    cond = Graph([T((1, 4)), T((1,), tflite.TensorType.BOOL)], [Op("REDUCE_ANY", [0], [1])], [0], [1], name="cond")
    body = Graph([T((1, 4)), T((1, 4))], [Op("ADD", [0, 0], [1])], [0], [1], name="body")
    return write(tmp_path, main, cond, body)


def test_control_flow_subgraphs_are_reported(tmp_path: Path) -> None:
    path = _while_model(tmp_path)
    with pytest.warns(TFLiteImportWarning, match=r"1 'cond' \(1 ops\), 2 'body' \(1 ops\)"):
        net = load_tflite(path)
    assert [s.counted for s in subgraph_summary(path)] == [True, False, False]
    assert [s.name for s in subgraph_summary(path)] == ["main", "cond", "body"]
    with pytest.warns(UnsupportedOpWarning):
        assert count_network(net).unsupported_ops == {"WHILE": 1}


def _dynamic_batch_conv() -> Graph:
    graph = GOLDEN["conv_same"].graph()
    graph.tensors[0].signature = (-1, 8, 8, 3)
    graph.tensors[3].signature = (-1, 8, 8, 4)
    return graph


def test_dynamic_batch_is_bound(tmp_path: Path) -> None:
    net = load_tflite(write(tmp_path, _dynamic_batch_conv()), batch=4)
    assert net.batch == 4
    assert net.layers[0].inputs == ((4, 3, 8, 8),)
    assert count_network(net).totals["macs"] == 4 * 6912


def test_fixed_batch_is_kept_and_another_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOLDEN["conv_same"].graph())
    net = load_tflite(path)
    assert net.batch == 1
    assert count_network(net, batch=4).totals["macs"] == 4 * 6912  # scaling per-frame costs, asked for explicitly
    with pytest.raises(ShapeError, match=r"model\.tflite: batch 4 contradicts the graph's fixed batch of 1 \(input "
                                         r"'tensor_0' is stored as \[1, 8, 8, 3\]"):
        load_tflite(path, batch=4)


def test_load_model_dispatches_tflite(tmp_path: Path) -> None:
    path = write(tmp_path, GOLDEN["conv_same"].graph())
    assert load_model(path) == load_tflite(path)


# ---------------------------------------------------------------------------------- malformed files


def _valid_bytes() -> bytes:
    return build_tflite(GOLDEN["conv_same"].graph())


def _bad_buffer() -> bytes:
    graph = GOLDEN["conv_same"].graph()
    graph.tensors[1].buffer = 99
    return build_tflite(graph)


def _bad_tensor_index() -> bytes:
    graph = GOLDEN["conv_same"].graph()
    graph.ops[0].inputs = [0, 1, 7]
    return build_tflite(graph)


MALFORMED: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "the file is empty"),
    "too_short": (lambda: b"\x08\x00\x00", "too short"),
    "random_bytes": (lambda: random.Random(7).randbytes(256), "file identifier is .*expected b'TFL3'"),
    "truncated": (lambda: _valid_bytes()[: len(_valid_bytes()) // 3], "truncated|corrupt|malformed"),
    "wrong_identifier": (lambda: _valid_bytes()[:4] + b"TFL2" + _valid_bytes()[8:], "file identifier is b'TFL2'"),
    "buffer_out_of_range": (_bad_buffer, "refers to buffer 99, but the file has 3 buffers"),
    "tensor_out_of_range": (_bad_tensor_index, r"refer to tensors \[7\], but the subgraph has 4 tensors"),
    "old_schema": (lambda: build_tflite(GOLDEN["conv_same"].graph(), version=2), "schema version 2"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_raises_model_file_error(case: str, tmp_path: Path) -> None:
    make, message = MALFORMED[case]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(make())
    with pytest.raises(ModelFileError, match=message) as error:
        load_tflite(path)
    assert str(path) in str(error.value)


def test_table_reader_refuses_positions_outside_the_buffer() -> None:
    """The flatbuffer reader checks every position and vector length against the buffer (the generated readers of
    the tflite package check none)."""
    from rooflinekit.importers.tflite._flatbuffer import Table

    data = _valid_bytes()
    root = Table.root(data)
    assert root.scalar(0, "I") == 3  # Model.version
    with pytest.raises(ValueError, match="outside"):
        Table(data, len(data) - 2)  # a table whose offset runs past the end
    with pytest.raises(ValueError, match="outside"):
        Table.root(data[:3])
    vector_start = root.vector(2, 4)[0] - 4  # Model.subgraphs: the length word, patched to a huge count
    patched = data[:vector_start] + (10 ** 9).to_bytes(4, "little") + data[vector_start + 4:]
    with pytest.raises(ValueError, match="outside"):
        Table.root(patched).tables(2)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read the model file"):
        load_tflite(tmp_path / "absent.tflite")


def test_negative_dim_is_a_shape_error(tmp_path: Path) -> None:
    """A zero dim is an empty tensor (tests/test_tflite_coverage.py); a negative one is malformed."""
    path = write(tmp_path, single_op([T((1, -2))], [T((1, 10))], "RELU"))
    with pytest.raises(ShapeError, match=r"has shape \[1, -2\]"):
        load_tflite(path)


def test_bad_batch(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match="batch must be a positive integer"):
        load_tflite(write(tmp_path, GOLDEN["conv_same"].graph()), batch=0)


def test_inconsistent_depthwise_filter(tmp_path: Path) -> None:
    graph = single_op([T((1, 6, 6, 4)), const((1, 3, 3, 6))], [T((1, 6, 6, 6))], "DEPTHWISE_CONV_2D",
                      ("DepthwiseConv2DOptions", {"Padding": SAME, "StrideW": 1, "StrideH": 1}))
    with pytest.raises(ShapeError, match=r"multiplier \* 4"):
        load_tflite(write(tmp_path, graph))


_FUZZ_BASE = build_tflite(_hybrid_graph())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255)), min_size=1,
                      max_size=8),
       keep=st.integers(1, len(_FUZZ_BASE)))
def test_fuzzed_bytes_raise_only_rooflinekit_errors(edits: list[tuple[int, int]], keep: int,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    data = bytearray(_FUZZ_BASE)
    for position, value in edits:
        data[position] = value
    path = tmp_path_factory.getbasetemp() / "fuzzed.tflite"
    path.write_bytes(bytes(data[:keep]) if keep < len(data) - 16 else bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            count_network(load_tflite(path))
        except RooflineError:
            pass
