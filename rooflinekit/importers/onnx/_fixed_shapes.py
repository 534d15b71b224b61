"""Shapes fixed by constants that contradict the batch flowing in.

A model exported at one batch may pin it in a constant: a Reshape to ``[1, 2048]``, an Expand to ``[1, 12, 64]``, a
ConstantOfShape ``[1, 128]`` added to an activation. Imported at another batch, ONNX shape inference takes the
Reshape's target as its output shape without checking that it holds as many elements as the input (so the layers
after it would be counted at the constant's batch), and leaves the outputs of shapes that do not broadcast unknown.
:func:`check_fixed_shapes` refuses such a node after shape inference, naming it, the input shape and the constant.
Tile is not checked: it multiplies its input's dims, which therefore cannot contradict its constant repeats.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from rooflinekit.errors import ShapeError
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._reading import OnnxNode, attr

_BROADCASTING = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "PRelu"})
"""Ops whose operands broadcast together (numpy rules): checked for an operand made by a ConstantOfShape."""

_ADVICE = ("the model fixes its batch in this constant: export it with a dynamic shape (e.g. -1 for the leading "
           "dim) or import it at its own batch")
_SHAPE_ADVICE = ("no batch makes them agree: the model fixes this shape for the input shapes it was exported with; "
                 "import it at those or export it with a dynamic shape")


def check_fixed_shapes(graph: Graph, nodes: Sequence[OnnxNode], batch: int) -> None:
    """Refuse a node whose constant target shape contradicts the shape of the data flowing in.

    Parameters
    ----------
    graph : Graph
        The bound, shape-inferred graph.
    nodes : sequence of OnnxNode
        Its nodes that data flows through (a node computing only from constants has no data flowing in).
    batch : int
        The batch the graph inputs are bound to, named in messages.

    Raises
    ------
    ShapeError
        A Reshape whose constant target does not hold as many elements as its input (``prod(input) !=
        prod(target)``, which ONNX shape inference does not check); an Expand whose input does not broadcast to its
        constant target; an op whose operands do not broadcast because one is a ConstantOfShape of a constant
        shape. The message names the node, the input shape and the constant, and says to export the model with a
        dynamic shape or to import it at its own batch.
    """
    for node in nodes:
        if node.op_type == "Reshape":
            _check_reshape(graph, node, batch)
        elif node.op_type == "Expand":
            _check_expand(graph, node, batch)
        elif node.op_type in _BROADCASTING:
            _check_constant_of_shape_operands(graph, node, batch)


def _label(node: OnnxNode) -> str:
    """``node 'name' (Op)``, or the output it writes when the node has no name."""
    if node.name:
        return f"node {node.name!r} ({node.op_type})"
    return f"the {node.op_type} node writing {node.output[0]!r}" if node.output else f"a {node.op_type} node"


def _known(graph: Graph, name: str) -> tuple[int, ...] | None:
    """The concrete dims of ``name``, None when unknown, symbolic or negative."""
    dims = graph.dims(name) if name else None
    sizes = [d for d in dims or () if isinstance(d, int) and d >= 0]
    return tuple(sizes) if dims is not None and len(sizes) == len(dims) else None


def _check_reshape(graph: Graph, node: OnnxNode, batch: int) -> None:
    data = node.input[0] if node.input else ""
    dims = _known(graph, data)
    target = graph.constants.ints(node.input[1]) if len(node.input) > 1 else attr(node, "shape", None)
    if dims is None or not target:
        return
    elements = math.prod(dims)
    copy_zeros = not attr(node, "allowzero", 0)
    resolved = [dims[i] if d == 0 and copy_zeros and i < len(dims) else d for i, d in enumerate(target)]
    if -1 in resolved:
        known = math.prod(d for d in resolved if d != -1)
        if known == 0 or elements % known == 0:
            return
        held, own = f"a multiple of {known} elements", None
    else:
        if math.prod(resolved) == elements:
            return
        held = f"{math.prod(resolved)} elements"
        own = batch * math.prod(resolved) // elements if batch * math.prod(resolved) % elements == 0 else None
    advice = f"{_ADVICE} {own} (batch={own} in Python, --batch {own} on the command line)" if own else (
        _ADVICE if -1 in resolved else _SHAPE_ADVICE)
    raise ShapeError(f"{graph.path}: {_label(node)} reshapes {data!r} of shape {list(dims)} ({elements} elements) to "
                     f"the constant {list(target)} ({held}) at batch {batch}; {advice}")


def _broadcasts(*shapes: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


def _check_expand(graph: Graph, node: OnnxNode, batch: int) -> None:
    data = node.input[0] if node.input else ""
    dims = _known(graph, data)
    target = graph.constants.ints(node.input[1]) if len(node.input) > 1 else None
    if dims is None or target is None or any(d < 0 for d in target) or _broadcasts(dims, tuple(target)):
        return
    raise ShapeError(f"{graph.path}: {_label(node)} expands {data!r} of shape {list(dims)} to the constant "
                     f"{list(target)}, which do not broadcast, at batch {batch}; {_ADVICE}")


def _check_constant_of_shape_operands(graph: Graph, node: OnnxNode, batch: int) -> None:
    names = [name for name in node.input if name]
    shapes = [_known(graph, name) for name in names]
    operands = [(name, dims) for name, dims in zip(names, shapes) if dims is not None]
    if len(operands) < len(names) or _broadcasts(*(dims for _, dims in operands)):
        return
    for name, dims in operands:
        maker = graph.producer.get(name)
        if maker is None or maker.op_type != "ConstantOfShape" or name not in graph.constants:
            continue
        other, other_dims = next(((n, d) for n, d in operands if n != name), (name, dims))
        raise ShapeError(f"{graph.path}: {_label(node)} combines {other!r} of shape {list(other_dims)} with {name!r} "
                         f"of the constant shape {list(dims)} made by {_label(maker)}, which do not broadcast, at "
                         f"batch {batch}; {_ADVICE}")
