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
}


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


def map_node(node: Node) -> Mapped:
    """Kind, attributes and canonical shapes of one operator; a custom op's kind is its custom code."""
    if node.op.custom:
        return Mapped(node.op.name)
    kind = KINDS.get(node.op.name, node.op.name)
    handler = _HANDLERS.get(node.op.name)
    return handler(node, kind) if handler else Mapped(kind)
