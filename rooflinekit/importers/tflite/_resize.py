"""Input resizing: ``input_shapes`` set full input dims and shapes are propagated operator by operator, as
TFLite's ``Interpreter::ResizeInputTensor`` followed by ``AllocateTensors`` (each kernel's Prepare) does.

Shapes are TFLite's (NHWC). Each rule below recomputes an operator's output shapes from its input shapes and
constant operands; an operator whose inputs changed and that has no rule is a :class:`ShapeError` naming it (its
output would be counted at the stored size), as is one whose rule cannot take the new shapes (conv channels that do
not fit the weight, a fully-connected input that is not whole rows, a Reshape target of another size) or whose
output the resize empties (a window larger than the new input). Operators whose inputs keep their stored shapes keep
theirs.

A batch bound to a dynamic leading dim (:func:`rebind_batch`) is propagated the same way from the graph inputs, so
that a file whose ``shape_signature`` marks the batch dynamic on some tensors only (its input, not its conv output)
is counted at the batch throughout. There the signature is the fallback: an operator without a rule, or whose rule
cannot take the shapes (a Reshape whose target is computed at run time), takes the signature's batch on its outputs
that mark it dynamic; one whose outputs the signature leaves at the stored batch is a :class:`ShapeError` naming it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from rooflinekit.descriptors import DType
from rooflinekit.errors import ShapeError
from rooflinekit.importers.tflite._records import Operator, Shape, Subgraph, Tensor

_Rule = Callable[[Operator, list[Shape], list[Tensor | None]], list[Shape]]
_Fallback = Callable[[Operator, str, list[Shape], str | None], list[Shape]]
"""The output shapes of an operator whose inputs changed when no rule gives them: from the operator, its
description for messages (``where``), its input shapes and why its rule did not apply (None: it has no rule);
raises the :class:`ShapeError` when they cannot be told."""


def resize_inputs(graph: Subgraph, input_shapes: Mapping[str, Sequence[int]], path: Path) -> Subgraph:
    """``graph`` with its inputs set to ``input_shapes`` (NHWC, full dims) and every shape propagated.

    Parameters
    ----------
    graph : Subgraph
        Subgraph 0, its batch already bound.
    input_shapes : Mapping of str to sequence of int
        Full dims by graph input name (checked positive integers of the stored rank).
    path : Path
        The model file, named in errors.

    Returns
    -------
    Subgraph
        The same graph when no dim changes, else one whose tensors carry the propagated shapes.

    Raises
    ------
    ShapeError
        An operator whose input shapes changed but which has no shape rule, or whose rule cannot hold the new
        shapes (a Reshape to a constant shape of another element count), naming the operator and both shapes.
    """
    shapes = {t.index: t.shape for t in graph.tensors}
    changed: set[int] = set()
    for index in graph.inputs:
        tensor = graph.tensors[index]
        given = tuple(int(d) for d in input_shapes.get(tensor.name, tensor.shape))
        if given != tensor.shape:
            shapes[index] = given
            changed.add(index)
    if not changed:
        return graph

    def refuse(op: Operator, where: str, in_shapes: list[Shape], reason: str | None) -> list[Shape]:
        if reason is None:
            raise ShapeError(f"{where}: its inputs were resized to {[list(s) for s in in_shapes]} but rooflinekit has "
                             f"no shape rule for {op.name}; import the model at its stored input shapes or re-export "
                             "it at the wanted size")
        raise _not_propagated(where, in_shapes, reason)

    return _propagated(graph, shapes, changed, path, refuse)


def rebind_batch(graph: Subgraph, bound: Mapping[int, Shape], batch: int, path: Path) -> Subgraph:
    """``graph`` at ``batch``: its inputs whose leading dim the ``shape_signature`` marks dynamic take it, and every
    shape is propagated by the rules (see the module doc), the signature being the fallback.

    Parameters
    ----------
    graph : Subgraph
        Subgraph 0 as stored.
    bound : Mapping of int to Shape
        By tensor index, the shape at ``batch`` of each tensor whose signature marks a dynamic leading dim stored
        at another size.
    batch : int
        The batch bound, named in errors.
    path : Path
        The model file, named in errors.

    Returns
    -------
    Subgraph
        The graph with the propagated shapes (the same graph when no input is in ``bound``).

    Raises
    ------
    ShapeError
        An operator whose inputs took the batch, which has no rule or whose rule cannot take the shapes, and whose
        output the signature leaves at the stored batch (for an operator without a rule: an output whose leading
        dim is the stored batch of its inputs), naming the operator and the output.
    """
    shapes = {t.index: t.shape for t in graph.tensors}
    changed = {index for index in graph.inputs if index in bound}
    if not changed:
        return graph
    for index in changed:
        shapes[index] = bound[index]

    def from_signature(op: Operator, where: str, in_shapes: list[Shape], reason: str | None) -> list[Shape]:
        stored = {graph.tensors[i].shape[0] for i in op.inputs if i in changed and graph.tensors[i].shape}
        for index in op.outputs:
            shape = graph.tensors[index].shape
            if index not in bound and (reason is not None or shape[:1] and shape[0] in stored):
                tensor = graph.tensors[index]
                why = (f"its rule cannot take them ({reason})" if reason is not None
                       else f"rooflinekit has no shape rule for {op.name}")
                signature = (f"shape_signature {list(tensor.signature)}, which marks no dynamic batch"
                             if tensor.signature else "no shape_signature")
                raise ShapeError(
                    f"{where}: its inputs took batch {batch} (the dynamic leading dim of their shape_signature), "
                    f"giving {[list(s) for s in in_shapes]}, but {why} and its output "
                    f"'{tensor.name or f'tensor_{index}'}' {list(shape)} has {signature}, so its shape at batch "
                    f"{batch} is unknown (counted at the stored batch, it would be undercounted); import the model at "
                    "its stored batch (leave batch unset) or re-export it with a dynamic batch in every tensor's "
                    "shape_signature")
        return [bound.get(index, graph.tensors[index].shape) for index in op.outputs]

    return _propagated(graph, shapes, changed, path, from_signature)


def _propagated(graph: Subgraph, shapes: dict[int, Shape], changed: set[int], path: Path,
                fallback: _Fallback) -> Subgraph:
    """``graph`` with ``shapes`` (by tensor index; ``changed`` lists those that differ from the stored ones)
    propagated through every operator that reads a changed tensor: by its rule, else by ``fallback``."""
    for op in graph.operators:
        if not any(i in changed for i in op.inputs if i >= 0):
            continue
        rule = _RULES.get(op.name) if not op.custom else None
        where = f"{path}: operator {op.index} ({op.name})"
        in_shapes = [shapes[i] if i >= 0 else () for i in op.inputs]
        if rule is None:
            outs = fallback(op, where, in_shapes, None)
        else:
            operands = [graph.tensors[i] if i >= 0 else None for i in op.inputs]
            try:
                outs = rule(op, in_shapes, operands)
            except (ValueError, IndexError, ZeroDivisionError, KeyError) as exc:
                outs = fallback(op, where, in_shapes, str(exc))
            else:
                # an output emptied by the resize (not one stored empty): a window or crop larger than the new input
                empty = [list(shape) for index, shape in zip(op.outputs, outs)
                         if min(shape, default=1) < 1 <= min(shapes[index], default=1)]
                if empty:
                    raise _not_propagated(where, in_shapes, f"it would output {empty[0]}, a dim below 1: the input is "
                                                            "too small for it")
        for index, shape in zip(op.outputs, outs):
            if tuple(shape) != shapes[index]:
                shapes[index] = tuple(int(d) for d in shape)
                changed.add(index)
    return replace(graph, tensors=tuple(replace(t, shape=shapes[t.index]) if t.index in changed else t
                                        for t in graph.tensors))


def _not_propagated(where: str, in_shapes: list[Shape], reason: str) -> ShapeError:
    """The error of an operator (``where``) whose rule cannot take its resized ``in_shapes``, for ``reason``."""
    return ShapeError(f"{where}: cannot propagate the resized input shapes {[list(s) for s in in_shapes]} "
                      f"({reason}); give input_shapes as full dims in the file's NHWC order, import the model at its "
                      "stored input shapes or re-export it at the wanted size")


def _values(tensor: Tensor | None) -> list[int]:
    """A constant int32/int64 operand's values; ValueError when it is not one."""
    width = {DType.INT32: 4, DType.INT64: 8}.get(tensor.dtype) if tensor is not None and tensor.dtype else None
    if tensor is None or not tensor.constant or width is None:
        raise ValueError("a shape operand is computed at run time")
    return [int(v) for v in tensor.data.view(np.int32 if width == 4 else np.int64)]


def _same(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    return [ins[0]] * len(op.outputs)


def _broadcast(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    return [tuple(np.broadcast_shapes(*[s for s in ins if s is not None]))]


def _window(size: int, kernel: int, stride: int, dilation: int, same: bool) -> int:
    if same:
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def _spatial(op: Operator, x: Shape, kernel: tuple[int, int]) -> tuple[int, int]:
    o = op.options
    same = o.get("Padding", 0) == 0  # tflite.Padding.SAME
    return (_window(x[1], kernel[0], o.get("StrideH", 1), o.get("DilationHFactor", 1), same),
            _window(x[2], kernel[1], o.get("StrideW", 1), o.get("DilationWFactor", 1), same))


def _conv(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    """NHWC input and OHWI weight (depthwise: 1, H, W, C_in * multiplier); the channels must fit as in TFLite's
    Prepare: a conv's input channels a multiple of the weight's (``groups`` of them, dividing its filters), a
    depthwise weight's a multiple of the input's."""
    w = ins[1]
    c_in = ins[0][3]
    if op.name == "CONV_2D" and (c_in % w[3] or w[0] % (c_in // w[3])):
        raise ValueError(f"the input has {c_in} channels, the weight {list(w)} (OHWI) takes {w[3]} (or a multiple "
                         f"dividing its {w[0]} filters into groups)")
    if op.name == "DEPTHWISE_CONV_2D" and w[3] % c_in:
        raise ValueError(f"the depthwise weight {list(w)} has {w[3]} channels, not a multiple of the input's {c_in}")
    h, wd = _spatial(op, ins[0], (w[1], w[2]))
    c_out = w[3] if op.name == "DEPTHWISE_CONV_2D" else w[0]
    return [(ins[0][0], h, wd, c_out)]


def _pool(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    h, w = _spatial(op, ins[0], (op.options["FilterHeight"], op.options["FilterWidth"]))
    return [(ins[0][0], h, w, ins[0][3])]


def _transpose_conv(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    x, w = ins[2], ins[1]
    o = op.options
    same = o.get("Padding", 0) == 0
    sizes = [size * s if same else (size - 1) * s + k
             for size, s, k in zip(x[1:3], (o.get("StrideH", 1), o.get("StrideW", 1)), w[1:3])]
    return [(x[0], *sizes, w[0])]


def _fully_connected(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    """Rows of ``w[1]`` features: the input must hold whole rows (its last dim, with ``keep_num_dims``)."""
    x, w = ins[0], ins[1]
    if op.options.get("KeepNumDims") and x[-1] != w[1] or math.prod(x) % w[1]:
        raise ValueError(f"the input {list(x)} does not hold whole rows of the weight's {w[1]} features")
    if op.options.get("KeepNumDims"):
        return [(*x[:-1], w[0])]
    return [(math.prod(x) // w[1], w[0])]


def _batch_matmul(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    a, b = ins[0], ins[1]
    m = a[-1] if op.options.get("AdjX") else a[-2]
    n = b[-2] if op.options.get("AdjY") else b[-1]
    return [(*np.broadcast_shapes(a[:-2], b[:-2]), m, n)]


def _reshape(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    target = _values(operands[1]) if len(operands) > 1 else None
    if target is None:
        raise ValueError("no constant target shape")
    total = math.prod(ins[0])
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        target = [total // known if d == -1 else d for d in target]
    if math.prod(target) != total:
        raise ValueError(f"the constant target {target} does not hold {total} elements")
    return [tuple(target)]


def _concat(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    parts = [s for s in ins if s and all(s)] or [ins[0]]
    axis = op.options.get("Axis", 0) % len(parts[0])
    return [(*parts[0][:axis], sum(s[axis] for s in parts), *parts[0][axis + 1:])]


def _reduce(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    x = ins[0]
    axes = {a % len(x) for a in _values(operands[1])}
    if op.options.get("KeepDims"):
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _pad(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    pads = _values(operands[1])
    return [tuple(d + pads[2 * i] + pads[2 * i + 1] for i, d in enumerate(ins[0]))]


def _resize_image(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    size = _values(operands[1])
    return [(ins[0][0], size[0], size[1], ins[0][3])]


def _transpose(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    return [tuple(ins[0][p] for p in _values(operands[1]))]


def _expand_dims(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    axis = _values(operands[1])[0] % (len(ins[0]) + 1)
    return [(*ins[0][:axis], 1, *ins[0][axis:])]


def _gather(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    axis = op.options.get("Axis", 0) % len(ins[0])
    return [(*ins[0][:axis], *ins[1], *ins[0][axis + 1:])]


def _split(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    axis = _values(operands[0])[0] % len(ins[1])
    x = ins[1]
    part = x[axis] // len(op.outputs)
    return [(*x[:axis], part, *x[axis + 1:])] * len(op.outputs)


def _pack(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    axis = op.options.get("Axis", 0) % (len(ins[0]) + 1)
    return [(*ins[0][:axis], len(ins), *ins[0][axis:])]


def _tile(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    return [tuple(d * m for d, m in zip(ins[0], _values(operands[1])))]


def _shape(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    return [(len(ins[0]),)]


def _slice(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    begin, size = _values(operands[1]), _values(operands[2])
    return [tuple(d - b if s == -1 else s for d, b, s in zip(ins[0], begin, size))]


def _strided_slice(op: Operator, ins: list[Shape], operands: list[Tensor | None]) -> list[Shape]:
    o = op.options
    if o.get("EllipsisMask") or o.get("NewAxisMask"):
        raise ValueError("ellipsis and new-axis masks are not supported")
    begin, end, strides = (_values(operands[i]) for i in (1, 2, 3))
    shape = []
    for i, d in enumerate(ins[0]):
        if o.get("ShrinkAxisMask", 0) >> i & 1:
            continue
        s = strides[i]
        lo = 0 if o.get("BeginMask", 0) >> i & 1 else begin[i]
        hi = (d if s > 0 else -d - 1) if o.get("EndMask", 0) >> i & 1 else end[i]
        shape.append(len(range(d)[slice(lo, hi, s)]))
    return [tuple(shape)]


_UNARY = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "LEAKY_RELU", "HARD_SWISH", "ELU",
          "GELU", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "ABS", "NEG", "FLOOR", "CEIL", "ROUND", "SIN", "COS",
          "SIGN", "LOGICAL_NOT", "SOFTMAX", "LOG_SOFTMAX", "LOCAL_RESPONSE_NORMALIZATION", "L2_NORMALIZATION",
          "QUANTIZE", "DEQUANTIZE", "CAST", "ZEROS_LIKE", "ONES_LIKE", "READ_VARIABLE", "CUMSUM", "REVERSE_V2")
_BINARY = ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "POW", "SQUARED_DIFFERENCE", "FLOOR_MOD", "FLOOR_DIV",
           "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR",
           "SELECT_V2", "PRELU", "ADD_N")
_RULES: dict[str, _Rule] = {
    **{name: _same for name in _UNARY}, **{name: _broadcast for name in _BINARY},
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "TRANSPOSE_CONV": _transpose_conv,
    "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool, "L2_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "BATCH_MATMUL": _batch_matmul, "RESHAPE": _reshape,
    "CONCATENATION": _concat, "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce,
    "REDUCE_PROD": _reduce, "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad, "RESIZE_BILINEAR": _resize_image,
    "RESIZE_NEAREST_NEIGHBOR": _resize_image, "TRANSPOSE": _transpose, "EXPAND_DIMS": _expand_dims,
    "GATHER": _gather, "SPLIT": _split, "PACK": _pack, "TILE": _tile, "SHAPE": _shape, "SLICE": _slice,
    "STRIDED_SLICE": _strided_slice, "ASSIGN_VARIABLE": lambda op, ins, operands: [],
}
"""Shape rules by builtin name (TFLite semantics, NHWC)."""
