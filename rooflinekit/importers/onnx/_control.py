"""Control flow: ``If`` and ``Loop`` bodies inlined into the main graph before shapes are inferred.

A network inside an ``If`` branch or a ``Loop`` body is counted, never a silent 0:

- ``If``: the branch the user selects (``branches={"node name": "then" | "else"}``), else the branch a constant
  condition takes, else the more expensive branch (more MAC-carrying nodes, then more nodes) with a
  :class:`ControlFlowWarning` naming the alternative. The branch's nodes are inlined with their tensors renamed
  ``{node}/{then|else}/{tensor}``; Identity nodes write the If's outputs.
- ``Loop``: with a static trip count (a constant ``M``, or ``loop_counts={"node name": n}``) the body is inlined
  once per iteration (``{node}/{i}/{tensor}``): loop-carried values flow from one copy to the next, scan outputs
  are stacked with Unsqueeze + Concat. A Loop whose count is known only at run time stays one node (reported
  unsupported and warned about).

``Scan`` is not unrolled (reported unsupported). Nodes inside nested sub-graphs keep their names.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np
import onnx
from onnx import AttributeProto, GraphProto, NodeProto, helper, numpy_helper

from rooflinekit.errors import RooflineWarning, ShapeError

_MAC_OPS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MatMul", "MatMulInteger",
                      "QLinearMatMul", "Gemm", "QGemm", "Einsum", "LSTM", "GRU", "RNN", "Attention", "If", "Loop"})
MAX_UNROLL = 4096
"""A Loop whose trip count is above this is not unrolled (its body stays one unsupported node)."""


class ControlFlowWarning(RooflineWarning):
    """An ``If`` counted on one branch chosen by cost, or a ``Loop`` left uncounted."""


def inline_control_flow(model: onnx.ModelProto, branches: Mapping[str, str] | None = None,
                        loop_counts: Mapping[str, int] | None = None) -> bool:
    """Inline the top-level ``If`` and static ``Loop`` nodes of ``model`` in place (repeatedly, so nested ones
    too); True when something was inlined.

    Parameters
    ----------
    model : onnx.ModelProto
        Rewritten in place.
    branches : Mapping of str to str, optional
        ``"then"`` or ``"else"`` by If node name.
    loop_counts : Mapping of str to int, optional
        Trip count by Loop node name, for loops whose ``M`` is computed at run time.

    Raises
    ------
    ShapeError
        A branch that is neither ``then`` nor ``else``, a negative trip count.
    """
    branches, loop_counts = dict(branches or {}), dict(loop_counts or {})
    for name, branch in branches.items():
        if branch not in ("then", "else"):
            raise ShapeError(f"branches[{name!r}] = {branch!r}; choose 'then' or 'else'")
    changed = False
    for _ in range(16):  # nested control flow: each round inlines one level
        graph = model.graph
        if not any(node.op_type in ("If", "Loop") and node.domain in ("", "ai.onnx") for node in graph.node):
            break
        constants = _small_constants(graph)
        new_nodes: list[NodeProto] = []
        round_changed = False
        for index, node in enumerate(graph.node):
            label = node.name or f"{node.op_type}_{index}"
            inlined = None
            if node.op_type == "If" and node.domain in ("", "ai.onnx"):
                inlined = _inline_if(graph, node, label, branches.get(node.name), constants)
            elif node.op_type == "Loop" and node.domain in ("", "ai.onnx"):
                inlined = _inline_loop(graph, node, label, loop_counts.get(node.name), constants, _opset(model))
            if inlined is None:
                new_nodes.append(node)
            else:
                new_nodes.extend(inlined)
                round_changed = True
        if not round_changed:
            break
        changed = True
        del graph.node[:]
        graph.node.extend(new_nodes)
    return changed


def _opset(model: onnx.ModelProto) -> int:
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else onnx.defs.onnx_opset_version()


def _small_constants(graph: GraphProto) -> dict[str, np.ndarray]:
    values = {t.name: t for t in graph.initializer if len(t.dims) <= 1 and sum(t.dims) <= 1}
    result: dict[str, np.ndarray] = {}
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
    return result


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
        nodes.append(copy)
    return nodes


def _inline_if(outer: GraphProto, node: NodeProto, label: str, selected: str | None,
               constants: Mapping[str, np.ndarray]) -> list[NodeProto] | None:
    then_branch, else_branch = _body(node, "then_branch"), _body(node, "else_branch")
    if then_branch is None or else_branch is None or not node.input:
        return None
    condition = constants.get(node.input[0])
    if selected is None and condition is not None and condition.size == 1:
        selected = "then" if bool(condition.reshape(-1)[0]) else "else"
    if selected is None:
        then_cost, else_cost = _cost(then_branch), _cost(else_branch)
        selected = "then" if then_cost >= else_cost else "else"
        other = "else" if selected == "then" else "then"
        warnings.warn(f"If node {label!r}: its condition is known only at run time; counting the more expensive "
                      f"{selected!r} branch ({max(then_cost, else_cost)[1]} nodes), not the {other!r} branch "
                      f"({min(then_cost, else_cost)[1]} nodes); choose with branches={{{label!r}: {other!r}}}",
                      ControlFlowWarning, stacklevel=4)
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
            stacked = f"{prefix}scan{position}"
            if opset < 13:
                nodes.append(helper.make_node("Unsqueeze", [rename.get(name, name)], [stacked], axes=[0],
                                              name=f"{prefix}stack{position}"))
            else:
                axes = f"{prefix}axes0"
                if not any(t.name == axes for t in outer.initializer):
                    outer.initializer.append(numpy_helper.from_array(np.asarray([0], dtype=np.int64), axes))
                nodes.append(helper.make_node("Unsqueeze", [rename.get(name, name), axes], [stacked],
                                              name=f"{prefix}stack{position}"))
            scans[position].append(stacked)
    outputs = list(node.output)
    for output, value in zip(outputs[:n_carried], current):
        if output:
            nodes.append(helper.make_node("Identity", [value], [output], name=f"{label}/out/{output}"))
    for output, parts in zip(outputs[n_carried:], scans):
        if output and parts:
            nodes.append(helper.make_node("Concat", parts, [output], axis=0, name=f"{label}/stack/{output}"))
    return nodes
