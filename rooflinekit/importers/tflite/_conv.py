"""Handlers of windowed ops: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and 2-D pooling.

Weights are given channels-first: conv ``(C_out, C_in / groups, KH, KW)`` from ``(C_out, KH, KW, C_in / groups)``;
depthwise ``(C_out, 1, KH, KW)`` from ``(1, KH, KW, C_out)`` with ``groups = C_in`` and
``C_out = depth_multiplier * C_in``; transpose conv ``(C_in, C_out, KH, KW)`` (ONNX ConvTranspose) from
``(C_out, KH, KW, C_in)``. Attributes are those of :mod:`rooflinekit.descriptors.attrs`, as the ONNX importer gives
them: channels-first spatial order, explicit ``pads`` (begin..., end...), every default filled.
"""

from __future__ import annotations

from typing import Any, Sequence

from rooflinekit.descriptors.attrs import same_pads
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.tflite._attrs import typed
from rooflinekit.importers.tflite._nodes import Mapped, Node
from rooflinekit.importers.tflite._reading import tflite


def _steps(node: Node, o: dict[str, Any], dilated: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Strides and dilations (1 for an op without them) in (H, W) order; :class:`ModelFileError` unless
    positive."""
    strides = (o.get("StrideH", 1), o.get("StrideW", 1))
    dilations = (o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)) if dilated else (1, 1)
    if min(strides + dilations) < 1:
        raise ModelFileError(f"{node.where}: strides {list(strides)} and dilations {list(dilations)} must be "
                             "positive; the file is malformed")
    return strides, dilations


def _window(node: Node, o: dict[str, Any], kernel: Sequence[int], spatial: Sequence[int],
            dilated: bool = True) -> dict[str, Any]:
    """kernel_shape, strides, dilations and pads of a 2-D window op in (H, W) order: SAME padding as the pads it
    implies (:func:`~rooflinekit.descriptors.attrs.same_pads`, the odd element at the end), VALID as zeros."""
    strides, dilations = _steps(node, o, dilated)
    valid = o.get("Padding") == tflite.Padding.VALID
    pads = (0, 0, 0, 0) if valid else same_pads(spatial, kernel, strides, dilations)
    return {"kernel_shape": tuple(kernel), "strides": strides, "dilations": dilations, "pads": pads}


def _has(node: Node, position: int) -> bool:
    """Whether the optional operand at ``position`` (a bias) is present."""
    return position < len(node.inputs) and node.inputs[position] is not None


def conv(node: Node, kind: str) -> Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("Conv2DOptions")
    c_out, kh, kw, c_per_group = w.shape
    if x.shape[3] % c_per_group or c_out % (x.shape[3] // c_per_group):
        raise ShapeError(f"{node.where}: filter {list(w.shape)} does not divide the {x.shape[3]} input channels "
                         "into groups")
    attrs = {**_window(node, o, (kh, kw), x.shape[1:3]), "groups": x.shape[3] // c_per_group, "bias": _has(node, 2)}
    return Mapped(kind, typed(node, kind, attrs), weight_shapes={1: (c_out, c_per_group, kh, kw)})


def depthwise(node: Node, kind: str) -> Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("DepthwiseConv2DOptions")
    one, kh, kw, c_out = w.shape
    c_in = x.shape[3]
    if one != 1 or c_out % c_in:
        raise ShapeError(f"{node.where}: depthwise filter {list(w.shape)} must be (1, KH, KW, multiplier * "
                         f"{c_in})")
    attrs = {**_window(node, o, (kh, kw), x.shape[1:3]), "groups": c_in, "bias": _has(node, 2)}
    return Mapped(kind, typed(node, kind, attrs), weight_shapes={1: (c_out, 1, kh, kw)})


def transpose_conv(node: Node, kind: str) -> Mapped:
    """TRANSPOSE_CONV: the pads and output padding that give its output shape, per spatial dim with
    ``total = (in - 1) * s + k - out``: SAME splits ``max(total, 0)`` as a forward SAME conv does (the odd
    element at the end), VALID crops it at the end; a negative total is output padding."""
    w, x = node.operand(1, rank=4), node.operand(2, rank=4, activation=True)
    y = node.output(rank=4)
    o = node.options("TransposeConvOptions")
    c_out, kh, kw, c_in = w.shape
    if c_in != x.shape[3]:
        raise ShapeError(f"{node.where}: filter {list(w.shape)} expects {c_in} input channels, input has "
                         f"{x.shape[3]}")
    strides, _ = _steps(node, o, dilated=False)
    totals = [(i - 1) * s + k - out for i, s, k, out in zip(x.shape[1:3], strides, (kh, kw), y.shape[1:3])]
    crop = [max(t, 0) for t in totals]
    valid = o.get("Padding") == tflite.Padding.VALID
    begins = [0, 0] if valid else [t // 2 for t in crop]
    attrs = {"kernel_shape": (kh, kw), "strides": strides, "dilations": (1, 1), "groups": 1,
             "pads": (*begins, *(t - b for t, b in zip(crop, begins))),
             "output_padding": tuple(max(-t, 0) for t in totals), "bias": _has(node, 3)}
    return Mapped(kind, typed(node, kind, attrs), weight_shapes={1: (c_in, c_out, kh, kw)})


def pool(node: Node, kind: str) -> Mapped:
    """AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D (``p`` = 2): never ceil mode, an average over real elements
    only."""
    x = node.operand(0, rank=4)
    o = node.options("Pool2DOptions")
    kernel = [o["FilterHeight"], o["FilterWidth"]]
    if min(kernel) < 1:
        raise ModelFileError(f"{node.where}: pooling window {kernel} must be positive; the file is malformed")
    attrs = {**_window(node, o, kernel, x.shape[1:3], dilated=False), "ceil_mode": False,
             "count_include_pad": False, **({"p": 2} if kind == "lp_pool" else {})}
    return Mapped(kind, typed(node, kind, attrs))
