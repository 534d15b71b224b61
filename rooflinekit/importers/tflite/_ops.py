"""The op table (TFLite builtin -> canonical kind) and the handlers that normalize attributes and shapes."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rooflinekit.descriptors import DType
from rooflinekit.errors import ShapeError
from rooflinekit.importers.tflite._attrs import typed
from rooflinekit.importers.tflite._conv import conv, depthwise, pool, transpose_conv
from rooflinekit.importers.tflite._layout import nchw_axis, swap_last
from rooflinekit.importers.tflite._nodes import Mapped, Node
from rooflinekit.importers.tflite._records import Tensor

# TFLite builtin operator -> canonical op kind. Builtins not listed keep their TFLite name as kind (unsupported).
# RSQRT is a sqrt (one op per element, the unary convention); SQUARE a mul of x by itself (one op per element).
KINDS: dict[str, str] = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "TRANSPOSE_CONV": "conv_transpose",
    "FULLY_CONNECTED": "fully_connected", "BATCH_MATMUL": "matmul",
    "AVERAGE_POOL_2D": "avg_pool", "MAX_POOL_2D": "max_pool", "L2_POOL_2D": "lp_pool",
    "MEAN": "reduce_mean", "SUM": "reduce_sum", "REDUCE_MAX": "reduce_max", "REDUCE_MIN": "reduce_min",
    "REDUCE_PROD": "reduce_prod", "ARG_MAX": "arg_max", "ARG_MIN": "arg_min",
    "ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div", "MAXIMUM": "max", "MINIMUM": "min", "POW": "pow",
    "SQUARED_DIFFERENCE": "squared_difference", "FLOOR_MOD": "mod", "ADD_N": "sum", "EQUAL": "equal",
    "LESS": "less", "GREATER": "greater", "LOGICAL_AND": "and", "LOGICAL_OR": "or", "SELECT_V2": "where",
    "RELU": "relu", "RELU6": "relu6", "RELU_N1_TO_1": "clip", "RELU_0_TO_1": "clip", "LOGISTIC": "sigmoid",
    "TANH": "tanh", "LEAKY_RELU": "leaky_relu", "PRELU": "prelu", "HARD_SWISH": "hard_swish", "ELU": "elu",
    "GELU": "gelu", "EXP": "exp", "LOG": "log", "SQRT": "sqrt", "ABS": "abs", "NEG": "neg", "FLOOR": "floor",
    "CEIL": "ceil", "ROUND": "round", "SIN": "sin", "COS": "cos", "SIGN": "sign", "LOGICAL_NOT": "not",
    "SOFTMAX": "softmax", "LOG_SOFTMAX": "log_softmax", "LOCAL_RESPONSE_NORMALIZATION": "lrn",
    "QUANTIZE": "quantize", "DEQUANTIZE": "dequantize", "CAST": "cast",
    "RESHAPE": "reshape", "SQUEEZE": "squeeze", "EXPAND_DIMS": "unsqueeze",
    "PAD": "pad", "PADV2": "pad", "MIRROR_PAD": "pad", "CONCATENATION": "concat", "STRIDED_SLICE": "slice",
    "SLICE": "slice", "TRANSPOSE": "transpose", "GATHER": "gather", "GATHER_ND": "gather_nd", "SPLIT": "split",
    "SPLIT_V": "split", "PACK": "pack", "UNPACK": "unpack", "TILE": "tile", "BROADCAST_TO": "expand",
    "DEPTH_TO_SPACE": "depth_to_space", "SPACE_TO_DEPTH": "space_to_depth", "REVERSE_V2": "reverse",
    "RESIZE_BILINEAR": "resize", "RESIZE_NEAREST_NEIGHBOR": "resize", "TOPK_V2": "top_k",
    "RSQRT": "sqrt", "SQUARE": "mul", "SHAPE": "shape",
    "VAR_HANDLE": "constant", "CALL_ONCE": "constant", "READ_VARIABLE": "identity", "ASSIGN_VARIABLE": "identity",
    "ATAN2": "atan", "BITWISE_XOR": "bitwise_xor", "FLOOR_DIV": "div", "GREATER_EQUAL": "greater",
    "LESS_EQUAL": "less", "NOT_EQUAL": "equal", "RIGHT_SHIFT": "bit_shift", "SELECT": "where", "CUMSUM": "cumsum",
    "COMPLEX_ABS": "abs", "FAKE_QUANT": "quantize", "ZEROS_LIKE": "constant", "FILL": "constant", "RANGE": "range",
    "RANK": "shape", "BROADCAST_ARGS": "shape", "BITCAST": "identity", "ONE_HOT": "one_hot",
    "REVERSE_SEQUENCE": "reverse", "SCATTER_ND": "scatter", "DYNAMIC_UPDATE_SLICE": "scatter",
    "MATRIX_SET_DIAG": "scatter", "MATRIX_DIAG": "scatter", "SPARSE_TO_DENSE": "scatter", "WHERE": "non_zero",
    "EMBEDDING_LOOKUP": "gather", "REDUCE_ALL": "reduce_min", "REDUCE_ANY": "reduce_max",
    "UNSORTED_SEGMENT_SUM": "reduce_sum", "UNSORTED_SEGMENT_MAX": "reduce_max", "UNSORTED_SEGMENT_MIN": "reduce_min",
    "UNSORTED_SEGMENT_PROD": "reduce_prod", "SEGMENT_SUM": "reduce_sum", "DENSIFY": "identity",
    "BATCH_TO_SPACE_ND": "depth_to_space", "SPACE_TO_BATCH_ND": "space_to_depth",
}
"""Builtins mapped to canonical kinds (counted, or zero-cost movement and control kinds)."""

UNCOUNTED_BUILTINS: dict[str, str] = {
    **{name: "control flow: the body is another subgraph, counted only as subgraph 0 (warned about)"
       for name in ("WHILE", "IF", "CALL", "DELEGATE", "STABLEHLO_WHILE", "STABLEHLO_COMPOSITE",
                    "STABLEHLO_CUSTOM_CALL")},
    **{name: "recurrent and sequence kernels whose gates rooflinekit does not read from TFLite yet"
       for name in ("LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "RNN",
                    "UNIDIRECTIONAL_SEQUENCE_RNN", "BIDIRECTIONAL_SEQUENCE_RNN", "SVDF")},
    **{name: "3-D convolutions (a layout and attribute mapping still to write)" for name in ("CONV_3D",
                                                                                            "CONV_3D_TRANSPOSE")},
    **{name: "lookup tables, hashing, text and sampling ops (no dense arithmetic to count)"
       for name in ("HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_LOOKUP", "HASHTABLE_SIZE",
                    "LSH_PROJECTION", "SKIP_GRAM", "CONCAT_EMBEDDINGS", "EMBEDDING_LOOKUP_SPARSE", "BUCKETIZE",
                    "MULTINOMIAL", "RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "UNIQUE")},
    **{name: "signal, complex and window ops without a counter yet"
       for name in ("RFFT2D", "REAL", "IMAG", "REDUCE_WINDOW", "DILATE", "L2_NORMALIZATION",
                    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5")},
    "CUSTOM": "a custom op is reported by its custom code (common MediaPipe ones are counted)",
    "PLACEHOLDER_FOR_GREATER_OP_CODES": "not an operator (a schema placeholder)",
}
"""Builtins of the TFLite schema left uncounted on purpose, with the reason: they keep their name as kind and are
reported in ``unsupported_ops``. StableHLO builtins (``STABLEHLO_*``, emitted only by the StableHLO path of the
converter) are uncounted likewise."""


def _fully_connected(node: Node, kind: str) -> Mapped:
    """FULLY_CONNECTED: weight ``(out, in)`` as stored (``transpose_b``), ``bias`` (operand 2 present),
    ``keep_num_dims`` (the output has rank > 2; the option alone is moot for a rank-2 input)."""
    if len(node.operand(0, activation=True).shape) < 1 or len(node.operand(1).shape) != 2:
        raise ShapeError(f"{node.where}: needs an input of rank >= 1 and a (out, in) weight, got "
                         f"{list(node.operand(0).shape)} and {list(node.operand(1).shape)}")
    node.options("FullyConnectedOptions", required=False)  # checks the options' type
    attrs = {"transpose_b": True, "bias": len(node.inputs) > 2 and node.inputs[2] is not None,
             "keep_num_dims": len(node.output().shape) > 2}
    return Mapped(kind, typed(node, kind, attrs))


def _batch_matmul(node: Node, kind: str) -> Mapped:
    """BATCH_MATMUL: operands in TFLite order with adjoints undone, ``(..., M, K) x (..., K, N)``; with a constant
    operand a fully_connected whose weight ends in K."""
    a, b = node.operand(0), node.operand(1)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(f"{node.where}: operands {list(a.shape)} and {list(b.shape)} must have rank >= 2")
    if a.constant and b.constant:
        raise ShapeError(f"{node.where}: both operands are constants; fold them before importing")
    o = node.options("BatchMatMulOptions", required=False)
    a_shape = swap_last(a.shape) if o.get("AdjX") else a.shape  # (..., M, K)
    b_shape = swap_last(b.shape) if o.get("AdjY") else b.shape  # (..., K, N)
    attrs = {"transpose_a": bool(o.get("AdjX")), "transpose_b": bool(o.get("AdjY")), "bias": False,
             "keep_num_dims": len(node.output().shape) > 2}
    if b.constant:
        return Mapped("fully_connected", typed(node, "fully_connected", attrs), weight_shapes={1: swap_last(b_shape)},
                      input_shapes={0: a_shape}, nhwc=False)
    if a.constant:
        return Mapped("fully_connected", typed(node, "fully_connected", attrs), weight_shapes={0: a_shape},
                      input_shapes={1: b_shape}, nhwc=False)
    return Mapped(kind, typed(node, kind, attrs), input_shapes={0: a_shape, 1: b_shape}, nhwc=False)


def _axes(tensor: Tensor) -> list[int] | None:
    """The values of a constant int32/int64 axes (or paddings) operand, flattened, else None."""
    width = {DType.INT32: 4, DType.INT64: 8}.get(tensor.dtype) if tensor.dtype else None
    if not tensor.constant or width is None or tensor.nbytes % width:
        return None
    return [int(a) for a in tensor.data.view(np.int32 if width == 4 else np.int64)]


def _reduce(node: Node, kind: str) -> Mapped:
    """MEAN, SUM, REDUCE_*: ``keepdims``, and ``axes`` (NCHW) from the constant axes operand."""
    rank = len(node.operand(0).shape)
    o = node.options("ReducerOptions", required=False)
    attrs: dict[str, Any] = {"keepdims": bool(o.get("KeepDims", False))}
    axes = _axes(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] is not None else None
    if axes is not None:
        attrs["axes"] = sorted({nchw_axis(a, rank, node.where) for a in axes})
    return Mapped(kind, typed(node, kind, attrs))


def _concat(node: Node, kind: str) -> Mapped:
    o = node.options("ConcatenationOptions", required=False)
    axis = nchw_axis(o.get("Axis", 0), len(node.output().shape), node.where)
    return Mapped(kind, typed(node, kind, {"axis": axis}))


def _lrn(node: Node, kind: str) -> Mapped:
    """LOCAL_RESPONSE_NORMALIZATION: ``size = 2 * radius + 1``; bias, alpha and beta are not kept."""
    radius = node.options("LocalResponseNormalizationOptions")["Radius"]
    return Mapped(kind, typed(node, kind, {"size": 2 * radius + 1}))


def _resize(node: Node, kind: str) -> Mapped:
    """RESIZE_BILINEAR (``linear``), RESIZE_NEAREST_NEIGHBOR; align_corners and half_pixel_centers are not kept."""
    return Mapped(kind, typed(node, kind, {"mode": "linear" if node.op.name == "RESIZE_BILINEAR" else "nearest"}))


def _softmax(node: Node, kind: str) -> Mapped:
    """SOFTMAX (``beta``), LOG_SOFTMAX: over the last dim, given channels-first (dim 1 of a 4-D tensor)."""
    attrs: dict[str, Any] = {"axis": nchw_axis(-1, max(len(node.operand(0).shape), 1), node.where)}
    if node.op.name == "SOFTMAX":
        attrs["beta"] = node.options("SoftmaxOptions", required=False).get("Beta", 1.0)
    return Mapped(kind, typed(node, kind, attrs))


_MIRROR_MODES = {0: "reflect", 1: "symmetric"}  # tflite.MirrorPadMode REFLECT, SYMMETRIC


def _pad(node: Node, kind: str) -> Mapped:
    """PAD, PADV2 (``constant``; the pad value is not kept), MIRROR_PAD (``reflect`` or ``symmetric``): ``pads``
    from the constant (rank, 2) paddings operand as ONNX orders them, begins then ends, channels-first; left out
    when the operand is computed at run time."""
    rank = len(node.operand(0).shape)
    attrs: dict[str, Any] = {"mode": "constant"}
    if node.op.name == "MIRROR_PAD":
        mode = node.options("MirrorPadOptions", required=False).get("Mode", 0)
        attrs["mode"] = _MIRROR_MODES.get(mode, f"mirror mode {mode}")
    values = _axes(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] is not None else None
    if values is not None and len(values) == 2 * rank:
        begins, ends = [0] * rank, [0] * rank
        for axis in range(rank):  # TFLite (NHWC) axis -> channels-first axis
            begins[nchw_axis(axis, rank, node.where)] = values[2 * axis]
            ends[nchw_axis(axis, rank, node.where)] = values[2 * axis + 1]
        attrs["pads"] = (*begins, *ends)
    return Mapped(kind, typed(node, kind, attrs))


_Handler = Callable[[Node, str], Mapped]
_HANDLERS: dict[str, _Handler] = {
    "CONV_2D": conv, "DEPTHWISE_CONV_2D": depthwise, "TRANSPOSE_CONV": transpose_conv,
    "FULLY_CONNECTED": _fully_connected, "BATCH_MATMUL": _batch_matmul,
    "AVERAGE_POOL_2D": pool, "MAX_POOL_2D": pool, "L2_POOL_2D": pool,
    "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce, "REDUCE_PROD": _reduce,
    "CONCATENATION": _concat, "LOCAL_RESPONSE_NORMALIZATION": _lrn,
    "RESIZE_BILINEAR": _resize, "RESIZE_NEAREST_NEIGHBOR": _resize,
    "SOFTMAX": _softmax, "LOG_SOFTMAX": _softmax, "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad,
}


def _read_variable(node: Node, kind: str) -> Mapped:
    """READ_VARIABLE: reads the resource variable's value (the output) from state."""
    out = node.output()
    return Mapped(kind, state=((out.shape, out.dtype),))


def _assign_variable(node: Node, kind: str) -> Mapped:
    """ASSIGN_VARIABLE (resource, value): writes the value to the variable's state; the value is its input."""
    value = node.operand(1)
    return Mapped(kind, state=((value.shape, value.dtype),))


def _transpose_conv_bias(node: Node, kind: str) -> Mapped:
    """MediaPipe's custom ``Convolution2DTransposeBias`` (input, weights ``(C_out, KH, KW, C_in)``, bias): a
    transposed conv with bias. Its options are not read: the strides are the ratio of output to input size, which
    with the weights fixes the count (``N * C_in * H_in * W_in * C_out * KH * KW``)."""
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    y = node.output(rank=4)
    c_out, kh, kw, c_in = w.shape
    strides = tuple(max(o // i, 1) for o, i in zip(y.shape[1:3], x.shape[1:3]))
    totals = [(i - 1) * s + k - o for i, s, k, o in zip(x.shape[1:3], strides, (kh, kw), y.shape[1:3])]
    crop = [max(t, 0) for t in totals]
    attrs = {"kernel_shape": (kh, kw), "strides": strides, "dilations": (1, 1), "groups": 1,
             "pads": (*(t // 2 for t in crop), *(t - t // 2 for t in crop)),
             "output_padding": tuple(max(-t, 0) for t in totals), "bias": len(node.inputs) > 2}
    return Mapped("conv_transpose", typed(node, "conv_transpose", attrs), weight_shapes={1: (c_in, c_out, kh, kw)})


def _max_pool_argmax(node: Node, kind: str) -> Mapped:
    """MediaPipe's custom ``MaxPoolingWithArgmax2D`` (values and argmax indices): a max pool whose window is its
    stride (the ratio of input to output size; the options are not read), VALID padding."""
    x, y = node.operand(0, rank=4), node.output(rank=4)
    strides = tuple(max(i // o, 1) for i, o in zip(x.shape[1:3], y.shape[1:3]))
    attrs = {"kernel_shape": strides, "strides": strides, "dilations": (1, 1), "pads": (0, 0, 0, 0),
             "ceil_mode": False, "count_include_pad": False}
    return Mapped("max_pool", typed(node, "max_pool", attrs))


def _max_unpool(node: Node, kind: str) -> Mapped:
    """MediaPipe's custom ``MaxUnpooling2D`` (values, argmax indices): a scatter of the values into the larger
    output, no arithmetic."""
    return Mapped("scatter")


_CUSTOM_HANDLERS: dict[str, _Handler] = {
    "Convolution2DTransposeBias": _transpose_conv_bias, "MaxPoolingWithArgmax2D": _max_pool_argmax,
    "MaxUnpooling2D": _max_unpool,
}
"""Common custom ops (MediaPipe) counted as the builtins they compute."""
_HANDLERS.update({"READ_VARIABLE": _read_variable, "ASSIGN_VARIABLE": _assign_variable})


def map_node(node: Node) -> Mapped:
    """Kind, attributes and canonical shapes of one operator; a custom op's kind is its custom code unless it is
    one of :data:`_CUSTOM_HANDLERS`."""
    if node.op.custom:
        custom = _CUSTOM_HANDLERS.get(node.op.name)
        return custom(node, node.op.name) if custom else Mapped(node.op.name)
    kind = KINDS.get(node.op.name, node.op.name)
    handler = _HANDLERS.get(node.op.name)
    return handler(node, kind) if handler else Mapped(kind)
