"""Handlers of windowed ops: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and 2-D pooling.

Weights are given channels-first: conv ``(C_out, C_in / groups, KH, KW)`` from ``(C_out, KH, KW, C_in / groups)``;
depthwise ``(C_out, 1, KH, KW)`` from ``(1, KH, KW, C_out)`` with ``groups = C_in`` and
``C_out = depth_multiplier * C_in``; transpose conv ``(C_in, C_out, KH, KW)`` (ONNX ConvTranspose) from
``(C_out, KH, KW, C_in)``.
"""

from __future__ import annotations

from typing import Any

from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.tflite._nodes import Mapped, Node
from rooflinekit.importers.tflite._reading import tflite


def _window(o: dict[str, Any], dilated: bool = True) -> dict[str, Any]:
    """Strides, dilations and padding of a 2-D window op, in (H, W) order."""
    attrs: dict[str, Any] = {"strides": [o.get("StrideH", 1), o.get("StrideW", 1)],
                             "padding": "valid" if o.get("Padding") == tflite.Padding.VALID else "same"}
    if dilated:
        attrs["dilations"] = [o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)]
    return attrs


def conv(node: Node, kind: str) -> Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("Conv2DOptions")
    c_out, kh, kw, c_per_group = w.shape
    if x.shape[3] % c_per_group or c_out % (x.shape[3] // c_per_group):
        raise ShapeError(f"{node.where}: filter {list(w.shape)} does not divide the {x.shape[3]} input channels "
                         "into groups")
    return Mapped(kind, {"kernel_shape": [kh, kw], **_window(o), "groups": x.shape[3] // c_per_group},
                  weight_shapes={1: (c_out, c_per_group, kh, kw)})


def depthwise(node: Node, kind: str) -> Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("DepthwiseConv2DOptions")
    one, kh, kw, c_out = w.shape
    c_in = x.shape[3]
    if one != 1 or c_out % c_in:
        raise ShapeError(f"{node.where}: depthwise filter {list(w.shape)} must be (1, KH, KW, multiplier * "
                         f"{c_in})")
    return Mapped(kind, {"kernel_shape": [kh, kw], **_window(o), "groups": c_in, "depth_multiplier": c_out // c_in},
                  weight_shapes={1: (c_out, 1, kh, kw)})


def transpose_conv(node: Node, kind: str) -> Mapped:
    w, x = node.operand(1, rank=4), node.operand(2, rank=4, activation=True)
    node.output(rank=4)
    o = node.options("TransposeConvOptions")
    c_out, kh, kw, c_in = w.shape
    if c_in != x.shape[3]:
        raise ShapeError(f"{node.where}: filter {list(w.shape)} expects {c_in} input channels, input has "
                         f"{x.shape[3]}")
    return Mapped(kind, {"kernel_shape": [kh, kw], **_window(o, dilated=False), "groups": 1},
                  weight_shapes={1: (c_in, c_out, kh, kw)})


def pool(node: Node, kind: str) -> Mapped:
    node.operand(0, rank=4)
    o = node.options("Pool2DOptions")
    kernel = [o["FilterHeight"], o["FilterWidth"]]
    if min(kernel) < 1:
        raise ModelFileError(f"{node.where}: pooling window {kernel} must be positive; the file is malformed")
    return Mapped(kind, {"kernel_shape": kernel, **_window(o, dilated=False)})
