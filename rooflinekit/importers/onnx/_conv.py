"""Handlers of windowed ops: Conv, ConvInteger, QLinearConv, ConvTranspose and pooling."""

from __future__ import annotations

from typing import Any, Sequence

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._node import Draft, Handler, Node


def _spatial_attrs(node: Node, kernel: Sequence[int], x: int = 0) -> dict[str, Any]:
    """strides, dilations (default 1) and pads (explicit, or derived from auto_pad SAME_*/VALID)."""
    attrs = node.attrs
    rank = len(kernel)
    strides = node.ints_attr("strides") or (1,) * rank
    dilations = node.ints_attr("dilations") or (1,) * rank
    pads = node.ints_attr("pads") or (0,) * (2 * rank)
    auto_pad = str(attrs.pop("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if min(strides, default=1) < 1 or min(dilations, default=1) < 1:
            raise node.malformed(f"strides {list(strides)} and dilations {list(dilations)} must be positive")
        pads = _same_pads(node.dims(x)[2:], kernel, strides, dilations, auto_pad == "SAME_UPPER")
    attrs.update(kernel_shape=tuple(kernel), strides=strides, dilations=dilations, pads=pads)
    return attrs


def _same_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
               upper: bool) -> tuple[int, ...]:
    """ONNX SAME padding: total = max(0, (ceil(in / s) - 1) * s + (k - 1) * d + 1 - in), the odd pixel at the
    end (SAME_UPPER) or the beginning (SAME_LOWER); returned as (begin..., end...)."""
    totals = [max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
              for i, k, s, d in zip(spatial, kernel, strides, dilations)]
    small = [t // 2 for t in totals]
    large = [t - t // 2 for t in totals]
    return tuple(small + large) if upper else tuple(large + small)


def conv(x: int, w: int, b: int | None, integer: bool = False) -> Handler:
    """Conv, ConvInteger, QLinearConv, ConvTranspose (data x, weight w, bias b).

    attrs: kernel_shape (attr, else weight dims[2:]), groups (ONNX ``group``), strides, pads, dilations,
    bias; ConvTranspose adds output_padding.
    """

    def handle(node: Node) -> Draft:
        kernel = node.ints_attr("kernel_shape") or node.dims(w)[2:]
        attrs = _spatial_attrs(node, kernel, x)
        attrs.pop("group", None)
        attrs["groups"] = node.int_attr("group", 1)
        attrs["bias"] = bool(b is not None and node.input(b))
        if node.proto.op_type == "ConvTranspose":
            attrs["output_padding"] = node.ints_attr("output_padding") or (0,) * len(kernel)
        indices = [x, w] if b is None else [x, w, b]
        return node.split(indices, attrs, integer_input=node.input(x) if integer else None)

    return handle


def pool(node: Node) -> Draft:
    """MaxPool, AveragePool, LpPool: kernel_shape, strides, pads, dilations; output 0 (not MaxPool's indices)."""
    kernel = node.ints_attr("kernel_shape")
    if not kernel:
        raise ModelFileError(f"{node.graph.path}: {node.proto.op_type} node {node.proto.name!r} has no "
                             "kernel_shape attribute, which ONNX requires")
    return node.split([0], _spatial_attrs(node, kernel), outputs=(0,))
