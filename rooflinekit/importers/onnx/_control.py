"""Control flow: ``If``, ``Loop`` and ``Scan`` bodies inlined into the main graph before shapes are inferred.

A network inside an ``If`` branch or a ``Loop`` body is counted, never a silent 0:

- ``If``: the branch the user selects (``branches={"node name": "then" | "else"}``), else the branch a constant
  condition takes, else the more expensive branch (more MAC-carrying nodes, then more nodes) with a
  :class:`ControlFlowWarning` naming the alternative. A condition is constant when it is computed from scalar
  constants and from static shapes: of the graph inputs (bound before inlining: declared, given by the user with
  ``input_shapes`` or a ``batch``) and initializers, or, when that is not enough, inferred on a weight-stripped copy
  of the graph (ONNX shape inference and the importer's fallbacks, :func:`~._shapes.infer`, whose evaluated small
  values count too). PyTorch's scripted modules branch on the rank and sizes of intermediate tensors this way
  (``if input.dim() == 3``); the more expensive branch there can be the one that does not apply (an unsqueeze that
  makes an LSTM input rank 4). The branch's nodes are inlined with their tensors renamed
  ``{node}/{then|else}/{tensor}``; Identity nodes write the If's outputs.
- ``Loop``: with a static trip count (a constant ``M``, or ``loop_counts={"node name": n}``) the body is inlined
  once per iteration (``{node}/{i}/{tensor}``): loop-carried values flow from one copy to the next, scan outputs
  are stacked with Unsqueeze + Concat. A Loop whose count is known only at run time stays one node (reported
  unsupported and warned about).

- ``Scan`` (opset 9+): with a static sequence length (the scan axis of its first scan input, declared or found by
  shape inference, or ``loop_counts={"node name": n}``) the body is inlined once per step like a Loop's: each step
  reads its slice of every scan input (a Gather at the step's index, from the end for a reverse direction), state
  flows from one copy to the next, and scan outputs are stacked along their axis (Unsqueeze + Concat, in reverse
  for a reverse direction). A Scan of run-time length stays one node (reported unsupported and warned about).
- ``Scan`` (opset 8): the same unrolling once per batch element (axis 0 of its scan inputs and initial states; the
  scan axis is 1), as its body runs once per batch element per step: each element's initial states and scan inputs
  are taken with a Gather at its index, and its final states and scan outputs are stacked along axis 0. Every batch
  element is counted at the maximum sequence length (a given ``sequence_lens`` input makes that an upper bound, and
  is warned about). A batch or sequence length known only at run time leaves it one node, as above.

Nodes inside nested sub-graphs keep their names; the values of the body they read from its scope (a nested
``If`` branch reading a tensor its enclosing branch computed, as exported voice-activity and decoder models do)
are renamed with the body's tensors, so they still resolve when the nested body is inlined in the next round.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence, cast

import numpy as np
import onnx
from onnx import AttributeProto, GraphProto, NodeProto, helper, numpy_helper, shape_inference

from rooflinekit.errors import ControlFlowWarning, ModelFileError, ShapeError
from rooflinekit.importers.onnx._reading import node_records
from rooflinekit.importers.onnx._shapes import infer, stripped_copy

_MAC_OPS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MatMul", "MatMulInteger",
                      "QLinearMatMul", "Gemm", "QGemm", "Einsum", "LSTM", "GRU", "RNN", "Attention", "If", "Loop",
                      "Scan"})
MAX_UNROLL = 4096
"""A Loop or Scan whose trip count (an opset-8 Scan's batch times its sequence length) is above this is not
unrolled (its body stays one unsupported node)."""
CONTROL_OPS = ("If", "Loop", "Scan")
"""The control-flow op types (default domain) whose bodies are inlined."""


class Inlined(NamedTuple):
    """What :func:`inline_control_flow` did: whether it inlined anything, and the ``(node, other branch)`` of each
    ``If`` whose branch it chose by cost (its condition known only at run time)."""

    changed: bool
    guessed: list[tuple[str, str]]


def inline_control_flow(model: onnx.ModelProto, branches: Mapping[str, str] | None = None,
                        loop_counts: Mapping[str, int] | None = None) -> Inlined:
    """Inline the top-level ``If`` and static ``Loop`` and ``Scan`` nodes of ``model`` in place (repeatedly, so
    nested ones too).

    Parameters
    ----------
    model : onnx.ModelProto
        Rewritten in place; its graph inputs bound (every dim a size) where conditions may follow from them.
    branches : Mapping of str to str, optional
        ``"then"`` or ``"else"`` by If node name.
    loop_counts : Mapping of str to int, optional
        Trip count by Loop node name, for loops whose ``M`` is computed at run time; sequence length by Scan node
        name, for scans whose length is not static.

    Returns
    -------
    Inlined
        Whether something was inlined, and the If nodes decided by cost.

    Raises
    ------
    ShapeError
        A branch that is neither ``then`` nor ``else``, a negative trip count or (opset-8 Scan) batch.
    """
    branches, loop_counts = dict(branches or {}), dict(loop_counts or {})
    guessed: list[tuple[str, str]] = []
    for name, branch in branches.items():
        if branch not in ("then", "else"):
            raise ShapeError(f"branches[{name!r}] = {branch!r}; choose 'then' or 'else'")
    changed = False
    for _ in range(16):  # nested control flow: each round inlines one level
        graph = model.graph
        if not any(node.op_type in CONTROL_OPS and node.domain in ("", "ai.onnx") for node in graph.node):
            break
        static = _static_shapes(graph)
        constants = _small_constants(graph, static)
        if _undecided(graph, constants, branches):
            constants = _small_constants(graph, *_inferred(model, static))
        dims = _ScanLengths(model)
        new_nodes, round_changed = _inline_round(model, constants, dims, branches, loop_counts, None)
        if not round_changed:  # only undecided Ifs are left: the more expensive branch of each
            new_nodes, round_changed = _inline_round(model, constants, dims, branches, loop_counts, guessed)
        if not round_changed:
            break
        changed = True
        del graph.node[:]
        graph.node.extend(new_nodes)
    return Inlined(changed, guessed)


def _inline_round(model: onnx.ModelProto, constants: Mapping[str, np.ndarray], dims: "_ScanLengths",
                  branches: Mapping[str, str], loop_counts: Mapping[str, int], guesses: list[tuple[str, str]] | None
                  ) -> tuple[list[NodeProto], bool]:
    """One round of :func:`inline_control_flow`: the main graph's nodes with the control-flow nodes that can be
    inlined replaced by their bodies, and whether any was. An ``If`` whose condition is not known yet is inlined
    only when ``guesses`` is given (its more expensive branch, warned about and added to ``guesses``): the others
    are inlined first, since what they inline can make its condition known in the next round."""
    graph, opset = model.graph, _opset(model)
    new_nodes: list[NodeProto] = []
    changed = False
    for index, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{index}"
        inlined = None
        if node.op_type == "If" and node.domain in ("", "ai.onnx"):
            inlined = _inline_if(graph, node, label, branches.get(node.name), constants, guesses)
        elif node.op_type == "Loop" and node.domain in ("", "ai.onnx"):
            inlined = _inline_loop(graph, node, label, loop_counts.get(node.name), constants, opset)
        elif node.op_type == "Scan" and node.domain in ("", "ai.onnx") and opset >= 9:
            inlined = _inline_scan(graph, node, label, loop_counts.get(node.name), dims, opset)
        elif node.op_type == "Scan" and node.domain in ("", "ai.onnx"):
            inlined = _inline_scan8(graph, node, label, loop_counts.get(node.name), dims)
        if inlined is None:
            new_nodes.append(node)
        else:
            new_nodes.extend(inlined)
            changed = True
    return new_nodes, changed


def _opset(model: onnx.ModelProto) -> int:
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else onnx.defs.onnx_opset_version()


def _small_constants(graph: GraphProto, static: Mapping[str, tuple[int, ...]],
                     known: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Values an ``If`` condition or a ``Loop`` count may be computed from: scalar initializers and Constants, the
    Size or Shape of a tensor whose shape ``static`` holds, the index, squeeze and cast ops that pick a dim out of
    such a shape (:func:`_picked`), and comparisons and logic (:data:`_CONDITION_OPS`) over such values (an expanded
    AffineGrid branches on ``Size(size) == 4``; a scripted PyTorch LSTM on ``Size(Shape(x)) == 3``), besides the
    values ``known`` already."""
    values = {t.name: t for t in graph.initializer if len(t.dims) <= 1 and sum(t.dims) <= 1}
    result: dict[str, np.ndarray] = dict(known or {})
    for name, tensor in values.items():
        try:
            result[name] = numpy_helper.to_array(tensor)
        except (ValueError, TypeError):
            continue
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].type == AttributeProto.TENSOR:
            try:
                result[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            except (ValueError, TypeError, IndexError):
                continue
        elif node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name in ("value_int",
                                                                                                 "value_ints"):
            attribute = node.attribute[0]
            result[node.output[0]] = np.asarray(attribute.i if attribute.name == "value_int" else list(attribute.ints),
                                                dtype=np.int64)
        elif node.op_type in ("Size", "Shape") and node.input and node.input[0] in static and node.output:
            dims = static[node.input[0]]
            start, end = _ints_attr_or(node, "start", 0), _ints_attr_or(node, "end", len(dims))
            result[node.output[0]] = (np.asarray(int(np.prod(dims)), dtype=np.int64) if node.op_type == "Size" else
                                      np.asarray(dims[start:end], dtype=np.int64))
        elif node.op_type in _PICK_OPS and node.output and node.input and node.input[0] in result:
            picked = _picked(node, result)
            if picked is not None:
                result[node.output[0]] = picked
        elif node.op_type in _CONDITION_OPS and node.output and node.input and all(
                name in result and result[name].size <= 1 for name in node.input):
            try:
                result[node.output[0]] = np.asarray(_CONDITION_OPS[node.op_type](*(result[n] for n in node.input)))
            except (ValueError, TypeError):
                continue
    return result


_CONDITION_OPS = {"Equal": np.equal, "Greater": np.greater, "Less": np.less, "GreaterOrEqual": np.greater_equal,
                  "LessOrEqual": np.less_equal, "Not": np.logical_not, "And": np.logical_and, "Or": np.logical_or,
                  "Xor": np.logical_xor, "Identity": np.asarray}
"""Ops over scalars evaluated for an ``If`` condition."""


_PICK_OPS = frozenset({"Gather", "Squeeze", "Unsqueeze", "Cast"})
"""Ops that pick a dim out of a shape on its way to a condition (``Gather(Shape(x), 2)``), evaluated on small values
(:func:`_picked`)."""


def _ints_attr_or(node: NodeProto, name: str, default: int) -> int:
    """The int attribute ``name`` of ``node``, ``default`` without one."""
    return next((int(a.i) for a in node.attribute if a.name == name), default)


def _picked(node: NodeProto, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The value of a :data:`_PICK_OPS` node over the small ``values`` (at most 64 elements), None when an operand
    is unknown or the op does not apply to it."""
    data = values[node.input[0]]
    if data.size > 64:
        return None
    operands = [values.get(name) for name in node.input[1:] if name]
    if any(operand is None for operand in operands):
        return None
    try:
        if node.op_type == "Gather":
            return np.take(data, operands[0].astype(np.int64), axis=_ints_attr_or(node, "axis", 0))
        if node.op_type == "Cast":
            to = _ints_attr_or(node, "to", 0)
            return data.astype(helper.tensor_dtype_to_np_dtype(to)) if to else None
        axes = (tuple(int(a) for a in operands[0].reshape(-1)) if operands else
                tuple(next((list(a.ints) for a in node.attribute if a.name == "axes"), [])))
        if node.op_type == "Squeeze":
            return np.squeeze(data, axis=axes or None)
        return np.expand_dims(data, axis=axes)
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def _static_shapes(graph: GraphProto) -> dict[str, tuple[int, ...]]:
    """Shapes of initializers, and of graph inputs whose every dim is a size."""
    shapes = {t.name: tuple(int(d) for d in t.dims) for t in graph.initializer}
    for value in graph.input:
        tensor = value.type.tensor_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            shapes.setdefault(value.name, tuple(int(d.dim_value) for d in tensor.shape.dim))
    return shapes


def _undecided(graph: GraphProto, constants: Mapping[str, np.ndarray], branches: Mapping[str, str]) -> bool:
    """Whether an ``If`` of ``graph`` has neither a branch chosen by the user nor a constant condition."""
    return any(node.op_type == "If" and node.input and node.name not in branches and node.input[0] not in constants
               for node in graph.node)


def _inferred(model: onnx.ModelProto, static: Mapping[str, tuple[int, ...]]
              ) -> tuple[dict[str, tuple[int, ...]], dict[str, np.ndarray]]:
    """``(shapes, values)``: the ``static`` shapes (:func:`_static_shapes` of its graph) and every other static
    shape :func:`~._shapes.infer` finds in the main graph of a weight-stripped copy of ``model``, and the small
    values its fallbacks evaluated. Nothing more when inference fails (the conditions then stay undecided)."""
    copy = stripped_copy(model)
    shapes = dict(static)
    try:
        infos, values = infer(copy, node_records(copy.graph), Path(model.graph.name or "model"))
    except (ModelFileError, ShapeError):  # decided as before
        return shapes, {}
    for name, info in infos.items():
        if info.known and name not in shapes:
            shapes[name] = tuple(int(d) for d in cast(tuple[int, ...], info.dims))
    return shapes, values


def _body(node: NodeProto, name: str) -> GraphProto | None:
    for attribute in node.attribute:
        if attribute.name == name and attribute.type == AttributeProto.GRAPH:
            return attribute.g
    return None


def _cost(graph: GraphProto) -> tuple[int, int]:
    """(MAC-carrying nodes, nodes) of a branch, nested sub-graphs included."""
    macs, total = 0, 0
    for node in graph.node:
        macs += node.op_type in _MAC_OPS
        total += 1
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                inner = _cost(attribute.g)
                macs, total = macs + inner[0], total + inner[1]
    return macs, total


def _copy_body(outer: GraphProto, body: GraphProto, prefix: str, bound: Mapping[str, str]) -> list[NodeProto]:
    """The body's nodes with every tensor it defines renamed ``prefix + name`` and its formal inputs replaced by
    ``bound``; its initializers are added to ``outer``."""
    defined = {name for node in body.node for name in node.output if name} | {t.name for t in body.initializer}
    rename = {name: prefix + name for name in defined}
    rename.update(bound)
    for tensor in body.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = rename[tensor.name]
        outer.initializer.append(copy)
    nodes = []
    for node in body.node:
        copy = NodeProto()
        copy.CopyFrom(node)
        copy.name = prefix + node.name if node.name else ""
        copy.input[:] = [rename.get(name, name) if name else "" for name in node.input]
        copy.output[:] = [rename.get(name, name) if name else "" for name in node.output]
        for attribute in copy.attribute:
            for graph in (attribute.g,) if attribute.type == AttributeProto.GRAPH else attribute.graphs:
                _rename_captured(graph, rename)
        nodes.append(copy)
    return nodes


def _rename_captured(graph: GraphProto, rename: Mapping[str, str]) -> None:
    """Rename, in place, the values ``graph`` (a nested body) and the bodies nested in it read from enclosing
    scopes by ``rename``; a name the body defines itself (input, initializer, node output) shadows an enclosing one
    and is kept."""
    local = ({value.name for value in graph.input} | {tensor.name for tensor in graph.initializer}
             | {name for node in graph.node for name in node.output})
    captured = {name: new for name, new in rename.items() if name not in local}
    if not captured:
        return
    for node in graph.node:
        node.input[:] = [captured.get(name, name) if name else "" for name in node.input]
        for attribute in node.attribute:
            for nested in (attribute.g,) if attribute.type == AttributeProto.GRAPH else attribute.graphs:
                _rename_captured(nested, captured)
    for value in graph.output:  # a body may return an enclosing value as it is
        value.name = captured.get(value.name, value.name)


def _inline_if(outer: GraphProto, node: NodeProto, label: str, selected: str | None,
               constants: Mapping[str, np.ndarray], guesses: list[tuple[str, str]] | None) -> list[NodeProto] | None:
    then_branch, else_branch = _body(node, "then_branch"), _body(node, "else_branch")
    if then_branch is None or else_branch is None or not node.input:
        return None
    condition = constants.get(node.input[0])
    if selected is None and condition is not None and condition.size == 1:
        selected = "then" if bool(condition.reshape(-1)[0]) else "else"
    if selected is None and guesses is None:
        return None
    if selected is None:
        then_cost, else_cost = _cost(then_branch), _cost(else_branch)
        selected = "then" if then_cost >= else_cost else "else"
        other = "else" if selected == "then" else "then"
        warnings.warn(f"If node {label!r}: its condition is known only at run time; counting the more expensive "
                      f"{selected!r} branch ({max(then_cost, else_cost)[1]} nodes), not the {other!r} branch "
                      f"({min(then_cost, else_cost)[1]} nodes); choose with branches={{{label!r}: {other!r}}}",
                      ControlFlowWarning, stacklevel=4)
        guesses.append((label, other))
    body = then_branch if selected == "then" else else_branch
    nodes = _copy_body(outer, body, f"{label}/{selected}/", {})
    renamed = {n for copy in nodes for n in copy.output}
    for output, result in zip(node.output, body.output):
        source = f"{label}/{selected}/{result.name}" if f"{label}/{selected}/{result.name}" in renamed or any(
            t.name == f"{label}/{selected}/{result.name}" for t in outer.initializer) else result.name
        if output:
            nodes.append(helper.make_node("Identity", [source], [output], name=f"{label}/{selected}/out/{output}"))
    return nodes


def _inline_loop(outer: GraphProto, node: NodeProto, label: str, count: int | None,
                 constants: Mapping[str, np.ndarray], opset: int) -> list[NodeProto] | None:
    body = _body(node, "body")
    if body is None:
        return None
    trip = node.input[0] if node.input else ""
    if count is None and trip in constants and constants[trip].size == 1:
        count = int(constants[trip].reshape(-1)[0])
    if count is None or count > MAX_UNROLL:
        why = "its trip count is known only at run time" if count is None else f"its trip count {count} is too large"
        warnings.warn(f"Loop node {label!r}: {why}; its body is not counted (reported unsupported); give it with "
                      f"loop_counts={{{label!r}: n}}", ControlFlowWarning, stacklevel=4)
        return None
    if count < 0:
        raise ShapeError(f"Loop node {label!r}: trip count {count} is negative")
    carried_in = [name for name in node.input[2:]]
    formal = [value.name for value in body.input]  # iteration number, condition, carried values
    n_carried = len(carried_in)
    results = [value.name for value in body.output]  # condition, carried values, scan outputs
    scans: list[list[str]] = [[] for _ in results[1 + n_carried:]]
    nodes: list[NodeProto] = []
    current = list(carried_in)
    condition = node.input[1] if len(node.input) > 1 else ""
    for step in range(count):
        prefix = f"{label}/{step}/"
        counter = f"{prefix}iteration"
        outer.initializer.append(numpy_helper.from_array(np.asarray(step, dtype=np.int64), counter))
        bound = {formal[0]: counter} if formal else {}
        if len(formal) > 1:
            if condition:
                bound[formal[1]] = condition
            else:
                name = f"{prefix}condition"
                outer.initializer.append(numpy_helper.from_array(np.asarray(True), name))
                bound[formal[1]] = name
        bound.update(zip(formal[2:], current))
        copies = _copy_body(outer, body, prefix, bound)
        nodes.extend(copies)
        rename = {name: prefix + name for copy in body.node for name in copy.output if name}
        rename.update(bound)
        current = [rename.get(name, name) for name in results[1:1 + n_carried]]
        for position, name in enumerate(results[1 + n_carried:]):
            nodes.append(_step_slice(outer, rename.get(name, name), prefix, position, 0, opset))
            scans[position].append(nodes[-1].output[0])
    return nodes + _final_outputs(node, label, current, scans, [0] * len(scans), [0] * len(scans))


def _step_slice(outer: GraphProto, value: str, prefix: str, position: int, axis: int, opset: int) -> NodeProto:
    """``Unsqueeze(value, axis)`` named ``prefix + "scan<position>"``: one iteration's scan output with the axis
    the iterations are stacked along (an attribute before opset 13, an initializer from 13 on)."""
    part, name = f"{prefix}scan{position}", f"{prefix}stack{position}"
    if opset < 13:
        return helper.make_node("Unsqueeze", [value], [part], axes=[axis], name=name)
    axes = f"{prefix}axes{position}"
    outer.initializer.append(numpy_helper.from_array(np.asarray([axis], dtype=np.int64), axes))
    return helper.make_node("Unsqueeze", [value, axes], [part], name=name)


def _final_outputs(node: NodeProto, label: str, carried: Sequence[str], stacked: Sequence[Sequence[str]],
                   axes: Sequence[int], reverse: Sequence[int]) -> list[NodeProto]:
    """The unrolled node's outputs: its carried values after the last iteration (``Identity``), then each scan
    output as the iterations' parts concatenated along its axis (in reverse order where ``reverse`` says so)."""
    outputs, nodes = list(node.output), []
    for output, value in zip(outputs[:len(carried)], carried):
        if output:
            nodes.append(helper.make_node("Identity", [value], [output], name=f"{label}/out/{output}"))
    for output, parts, axis, backwards in zip(outputs[len(carried):], stacked, axes, reverse):
        if output and parts:
            nodes.append(helper.make_node("Concat", list(parts)[::-1] if backwards else list(parts), [output],
                                          axis=axis, name=f"{label}/stack/{output}"))
    return nodes


class _ScanLengths:
    """Declared dims of the tensors of a model's main graph (inputs, initializers, value_info), completed on first
    need by ONNX shape inference on a weight-stripped copy (a scan input computed by other nodes)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self._model = model
        graph = model.graph
        self._dims: dict[str, tuple[int | None, ...]] = {t.name: tuple(int(d) for d in t.dims)
                                                         for t in graph.initializer}
        self._add(graph.input, graph.value_info)
        self._inferred = False

    def _add(self, *values: Sequence[onnx.ValueInfoProto]) -> None:
        for group in values:
            for value in group:
                tensor = value.type.tensor_type
                if tensor.HasField("shape") and value.name not in self._dims:
                    self._dims[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                                   for d in tensor.shape.dim)

    def of(self, name: str) -> tuple[int | None, ...] | None:
        """The dims of ``name`` (None for a symbolic or unknown dim), None when its rank is unknown."""
        if name not in self._dims and not self._inferred:
            self._inferred = True
            from rooflinekit.importers.onnx._shapes import stripped_copy

            try:
                inferred = shape_inference.infer_shapes(stripped_copy(self._model), check_type=False,
                                                        strict_mode=False, data_prop=True)
            except Exception:  # noqa: BLE001 - onnx's C++ errors have no common Python base class
                return None  # the importer's own inference reports the model's problems later
            self._add(inferred.graph.value_info, inferred.graph.output)
        return self._dims.get(name)


def _ints_attr(node: NodeProto, name: str, size: int) -> list[int]:
    """The INTS attribute ``name`` of ``node``, zeros when absent; ShapeError unless it has ``size`` entries."""
    for attribute in node.attribute:
        if attribute.name == name and attribute.type == AttributeProto.INTS:
            values = [int(v) for v in attribute.ints]
            if len(values) != size:
                raise ShapeError(f"Scan node {node.name!r}: {name} has {len(values)} entries for {size} tensors")
            return values
    return [0] * size


def _scan_count(label: str, count: int | None, first: tuple[int | None, ...] | None, axis: int) -> int | None:
    """The sequence length of a Scan: ``count`` (the user's), else the dim ``axis`` of its first scan input, whose
    dims are ``first``; None with a :class:`ControlFlowWarning` when it is known only at run time or too large."""
    if count is None and first is not None and first and -len(first) <= axis < len(first):
        count = first[axis]
    if count is None or count > MAX_UNROLL:
        why = "its sequence length is known only at run time" if count is None else \
            f"its sequence length {count} is too large"
        warnings.warn(f"Scan node {label!r}: {why}; its body is not counted (reported unsupported); give it with "
                      f"loop_counts={{{label!r}: n}}", ControlFlowWarning, stacklevel=5)
        return None
    if count < 0:
        raise ShapeError(f"Scan node {label!r}: sequence length {count} is negative")
    return count


def _scan_steps(outer: GraphProto, body: GraphProto, prefix: str, count: int, states: Sequence[str],
                sources: Sequence[str], in_axes: Sequence[int], in_reverse: Sequence[int], out_axes: Sequence[int],
                opset: int) -> tuple[list[NodeProto], list[str], list[list[str]]]:
    """One pass of a Scan body over ``count`` steps, copies named ``{prefix}{step}/``.

    Parameters
    ----------
    outer : onnx.GraphProto
        The graph the copies go to (it receives their initializers and step indices).
    body : onnx.GraphProto
        The Scan's body: state inputs, then one input per scan input; state outputs, then scan outputs.
    prefix : str
        Prefix of every tensor and node the pass defines.
    count : int
        The number of steps.
    states : Sequence of str
        The initial state values.
    sources : Sequence of str
        The scan inputs; step ``t`` reads index ``t`` of each along its axis (``count - 1 - t`` where reversed).
    in_axes, in_reverse : Sequence of int
        The scan axis and direction (1: reverse) of each scan input.
    out_axes : Sequence of int
        The axis each scan output's step slices are stacked along.
    opset : int
        The model's opset (the form of Unsqueeze).

    Returns
    -------
    tuple of (list of onnx.NodeProto, list of str, list of list of str)
        The nodes, the state values after the last step, and per scan output its steps' slices (each unsqueezed
        along its axis), in step order.
    """
    n_state = len(states)
    formal = [value.name for value in body.input]
    results = [value.name for value in body.output]
    nodes: list[NodeProto] = []
    current = list(states)
    stacked: list[list[str]] = [[] for _ in results[n_state:]]
    for step in range(count):
        step_prefix = f"{prefix}{step}/"
        bound = dict(zip(formal[:n_state], current))
        for position, (source, axis, reverse) in enumerate(zip(sources, in_axes, in_reverse)):
            index = f"{step_prefix}index{position}"
            outer.initializer.append(numpy_helper.from_array(
                np.asarray(count - 1 - step if reverse else step, dtype=np.int64), index))
            sliced = f"{step_prefix}slice{position}"
            nodes.append(helper.make_node("Gather", [source, index], [sliced], axis=axis, name=sliced))
            bound[formal[n_state + position]] = sliced
        nodes.extend(_copy_body(outer, body, step_prefix, bound))
        rename = {name: step_prefix + name for copy in body.node for name in copy.output if name}
        rename.update(bound)
        current = [rename.get(name, name) for name in results[:n_state]]
        for position, (name, axis) in enumerate(zip(results[n_state:], out_axes)):
            nodes.append(_step_slice(outer, rename.get(name, name), step_prefix, position, axis, opset))
            stacked[position].append(nodes[-1].output[0])
    return nodes, current, stacked


def _inline_scan(outer: GraphProto, node: NodeProto, label: str, count: int | None, dims: _ScanLengths,
                 opset: int) -> list[NodeProto] | None:
    """The nodes of a Scan (opset 9+) unrolled over its static sequence length (module doc); None when it is not
    static."""
    body = _body(node, "body")
    scans = next((int(a.i) for a in node.attribute if a.name == "num_scan_inputs" and a.type == AttributeProto.INT),
                 None)
    if body is None or scans is None or not 0 < scans <= len(node.input):
        return None
    n_state = len(node.input) - scans
    n_outputs = len(body.output) - n_state
    if len(body.input) != len(node.input) or n_outputs < 0:
        return None
    in_axes = _ints_attr(node, "scan_input_axes", scans)
    in_reverse = _ints_attr(node, "scan_input_directions", scans)
    out_axes = _ints_attr(node, "scan_output_axes", n_outputs)
    out_reverse = _ints_attr(node, "scan_output_directions", n_outputs)
    sources = list(node.input[n_state:])
    count = _scan_count(label, count, dims.of(sources[0]), in_axes[0])
    if not count:  # run-time length (warned about), or no step runs: nothing to count, and no slice to stack
        return None
    nodes, current, stacked = _scan_steps(outer, body, f"{label}/", count, node.input[:n_state], sources, in_axes,
                                          in_reverse, out_axes, opset)
    return nodes + _final_outputs(node, label, current, stacked, out_axes, out_reverse)


def _inline_scan8(outer: GraphProto, node: NodeProto, label: str, count: int | None, dims: _ScanLengths
                  ) -> list[NodeProto] | None:
    """The nodes of an opset-8 Scan unrolled once per batch element over its static sequence length (module doc);
    None when its batch or length is not static."""
    body = _body(node, "body")
    scans = next((int(a.i) for a in node.attribute if a.name == "num_scan_inputs" and a.type == AttributeProto.INT),
                 None)
    if body is None or scans is None or not 0 < scans < len(node.input):
        return None
    n_state = len(node.input) - 1 - scans  # input 0 is the optional sequence_lens
    n_outputs = len(body.output) - n_state
    if len(body.input) != len(node.input) - 1 or n_outputs < 0:
        return None
    in_reverse = _ints_attr(node, "directions", scans)
    states, sources = list(node.input[1:1 + n_state]), list(node.input[1 + n_state:])
    first = dims.of(sources[0])
    batch = first[0] if first else None
    if batch is None:
        warnings.warn(f"Scan node {label!r}: its batch (axis 0 of its scan inputs) is known only at run time; its "
                      f"body is not counted (reported unsupported); declare the batch dim of its input "
                      f"{sources[0]!r} in the model", ControlFlowWarning, stacklevel=4)
        return None
    if batch < 0:
        raise ShapeError(f"Scan node {label!r}: batch {batch} (axis 0 of its input {sources[0]!r}) is negative")
    count = _scan_count(label, count, first, 1)
    if count is not None and batch * count > MAX_UNROLL:
        warnings.warn(f"Scan node {label!r}: its batch {batch} x sequence length {count} is too large to unroll; "
                      f"its body is not counted (reported unsupported)", ControlFlowWarning, stacklevel=4)
        return None
    if not count or not batch:  # run-time length (warned about), or no step runs
        return None
    if node.input[0]:
        warnings.warn(f"Scan node {label!r}: its sequence_lens input is known only at run time; every batch element "
                      f"is counted at the maximum sequence length {count} (an upper bound)", ControlFlowWarning,
                      stacklevel=4)
    nodes: list[NodeProto] = []
    parts: list[list[str]] = [[] for _ in range(n_state + n_outputs)]  # per output, its batch elements' values
    for element in range(batch):
        prefix = f"{label}/{element}/"
        index = f"{prefix}batch"
        outer.initializer.append(numpy_helper.from_array(np.asarray(element, dtype=np.int64), index))
        taken = [f"{prefix}{kind}{position}" for kind, group in (("state", states), ("input", sources))
                 for position in range(len(group))]
        nodes.extend(helper.make_node("Gather", [value, index], [name], axis=0, name=name)
                     for value, name in zip(states + sources, taken))
        steps, current, stacked = _scan_steps(outer, body, prefix, count, taken[:n_state], taken[n_state:],
                                              [0] * scans, in_reverse, [0] * n_outputs, 8)
        nodes.extend(steps)
        for position, steps_out in enumerate(stacked):  # each scan output: its steps along the sequence axis
            name = f"{prefix}stacked{position}"
            nodes.append(helper.make_node("Concat", steps_out, [name], axis=0, name=name))
            current.append(name)
        for position, value in enumerate(current):  # each final state and scan output: one batch element of it
            nodes.append(_step_slice(outer, value, prefix, position, 0, 8))
            parts[position].append(nodes[-1].output[0])
    return nodes + _final_outputs(node, label, [], parts, [0] * len(parts), [0] * len(parts))
