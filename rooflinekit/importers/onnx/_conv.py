"""Handlers of windowed ops: Conv, ConvInteger, QLinearConv, ConvTranspose, DeformConv and pooling."""

from __future__ import annotations

from typing import Any, Sequence

from rooflinekit.descriptors.attrs import same_pads
from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._attrs import typed
from rooflinekit.importers.onnx._node import Draft, Handler, Node

_POOL_KINDS = {"MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "lp_pool"}


def _window(node: Node, kernel: Sequence[int], x: int = 0) -> dict[str, Any]:
    """kernel_shape, strides and dilations (default 1), pads (explicit, or derived from auto_pad SAME_*/VALID):
    the window fields of :class:`~rooflinekit.descriptors.attrs.ConvAttrs` and ``PoolAttrs``."""
    rank = len(kernel)
    strides = node.ints_attr("strides") or (1,) * rank
    dilations = node.ints_attr("dilations") or (1,) * rank
    pads = node.ints_attr("pads") or (0,) * (2 * rank)
    auto_pad = str(node.attr("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if min(strides, default=1) < 1 or min(dilations, default=1) < 1:
            raise node.malformed(f"strides {list(strides)} and dilations {list(dilations)} must be positive")
        pads = same_pads(node.dims(x)[2:], kernel, strides, dilations, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        pads = (0,) * (2 * rank)
    return {"kernel_shape": tuple(kernel), "strides": strides, "dilations": dilations, "pads": pads}


def _transposed_padding(node: Node, attrs: dict[str, Any], x: int) -> None:
    """ConvTranspose: ``output_padding`` (default 0), and the pads that give the output shape when ``output_shape``
    or ``auto_pad`` SAME_* sets it: per dim ``total = s * (in - 1) + output_padding + (k - 1) * d + 1 - out``,
    split as ONNX does (SAME_UPPER: the odd element at the end; otherwise at the beginning). A negative total
    (an output larger than the window reaches) is output padding."""
    kernel, strides, dilations = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    output_padding = node.ints_attr("output_padding") or (0,) * len(kernel)
    auto_pad = str(node.attr("auto_pad", "NOTSET"))
    if node.ints_attr("output_shape") or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        spatial_in = node.dims(x)[2:]
        spatial_out = node.graph.shape(node.proto.output[0], node.proto)[2:]
        totals = [s * (i - 1) + p + (k - 1) * d + 1 - o for i, o, k, s, d, p in
                  zip(spatial_in, spatial_out, kernel, strides, dilations, output_padding)]
        output_padding = tuple(p - min(t, 0) for p, t in zip(output_padding, totals))
        totals = [max(t, 0) for t in totals]
        small, large = [t // 2 for t in totals], [t - t // 2 for t in totals]
        attrs["pads"] = tuple(small + large) if auto_pad == "SAME_UPPER" else tuple(large + small)
    attrs["output_padding"] = tuple(output_padding)


def conv(x: int, w: int, b: int | None, integer: bool = False) -> Handler:
    """Conv, ConvInteger, QLinearConv, ConvTranspose (data x, weight w, bias b).

    attrs (:class:`~rooflinekit.descriptors.attrs.ConvAttrs`): kernel_shape (attr, else weight dims[2:]), groups
    (ONNX ``group``), strides, pads, dilations, bias; ConvTranspose adds output_padding
    (:class:`~rooflinekit.descriptors.attrs.ConvTransposeAttrs`), its ``output_shape`` turned into pads.
    """

    def handle(node: Node) -> Draft:
        kernel = node.ints_attr("kernel_shape") or node.dims(w)[2:]
        attrs = _window(node, kernel, x)
        attrs["groups"] = node.int_attr("group", 1)
        attrs["bias"] = bool(b is not None and node.input(b))
        transposed = node.proto.op_type == "ConvTranspose"
        if transposed:
            _transposed_padding(node, attrs, x)
        attrs = typed(node, "conv_transpose" if transposed else "conv", attrs)
        indices = [x, w] if b is None else [x, w, b]
        return node.split(indices, attrs, integer_input=node.input(x) if integer else None)

    return handle


def deform_conv(node: Node) -> Draft:
    """DeformConv (data X 0, weight W 1, offset 2, bias B 3, mask 4): the window attrs of :func:`conv` (kernel_shape
    from the attribute, else W's dims[2:]), ``groups`` (ONNX ``group``), ``offset_group`` (default 1), and whether
    a ``bias`` and a ``mask`` are given. Offset and mask are data."""
    kernel = node.ints_attr("kernel_shape") or node.dims(1)[2:]
    attrs = _window(node, kernel)
    attrs.update(groups=node.int_attr("group", 1), offset_group=node.int_attr("offset_group", 1),
                 bias=bool(node.input(3)), mask=bool(node.input(4)))
    return node.split([0, 1, 2, 3, 4], attrs)


def pool(node: Node) -> Draft:
    """MaxPool, AveragePool, LpPool: kernel_shape, strides, pads, dilations, ceil_mode, count_include_pad
    (AveragePool), p (LpPool) as in :class:`~rooflinekit.descriptors.attrs.PoolAttrs`; MaxPool's storage_order
    (of its indices output) is dropped. Output 0 only (not MaxPool's indices)."""
    kernel = node.ints_attr("kernel_shape")
    if not kernel:
        raise ModelFileError(f"{node.graph.path}: {node.proto.op_type} node {node.proto.name!r} has no "
                             "kernel_shape attribute, which ONNX requires")
    attrs = _window(node, kernel)
    attrs["ceil_mode"] = bool(node.int_attr("ceil_mode", 0))
    if node.proto.op_type == "AveragePool":
        attrs["count_include_pad"] = bool(node.int_attr("count_include_pad", 0))
    if node.proto.op_type == "LpPool":
        attrs["p"] = node.int_attr("p", 2)
    return node.split([0], typed(node, _POOL_KINDS.get(node.proto.op_type, "max_pool"), attrs), outputs=(0,))
