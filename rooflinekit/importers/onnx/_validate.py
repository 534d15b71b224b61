"""Checks of an ONNX model before anything that cannot be interrupted reads it.

ONNX shape inference is C++ and never returns on some malformed input (an Einsum equation with stray punctuation
or digits, ``'a.b'``, ``'ab>'``, ``'j0k'``). :func:`validate_model` runs first, on the parsed protobuf, and refuses:

- an Einsum equation outside the operator's grammar: terms of letters with at most one ``...`` each, separated by
  ``,``, an optional ``-> output`` whose letters appear in the inputs, each at most once;
- an attribute of an op the installed onnx knows (default domain) whose type is undefined or differs from the
  schema's (an ``INTS`` ``strides`` stored as ``FLOAT``), which the importer would otherwise drop while onnx reads it;

Attribute values out of range (a stride of 0) are refused by the typed attribute models
(:mod:`rooflinekit.descriptors.attrs`) when the layer is built.
Every error is a :class:`~rooflinekit.errors.ModelFileError` naming the file, the node and the value (truncated).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Sequence

import onnx
from onnx import AttributeProto, GraphProto

from rooflinekit._limits import shown
from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._reading import OnnxNode, node_records

_TERM = re.compile(r"[A-Za-z]*(?:\.\.\.)?[A-Za-z]*")
_HOLDS_GRAPHS = frozenset({AttributeProto.GRAPH, AttributeProto.GRAPHS})
"""Attribute types that hold graphs (If, Loop and Scan bodies), which are checked too."""


def einsum_equation_error(equation: str) -> str | None:
    """Why ``equation`` is not an ONNX Einsum equation, or None when it is one.

    Parameters
    ----------
    equation : str
        The ``equation`` attribute, decoded.

    Returns
    -------
    str or None
        A short reason.
    """
    if not equation.isascii():
        return "it has non-ASCII characters"
    text = equation.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    if "->" in output:
        return "it has more than one '->'"
    terms = inputs.split(",")
    for term in [*terms, *([output] if arrow else [])]:
        if not _TERM.fullmatch(term):
            return f"term {term!r} is not letters with at most one '...'"
    if arrow:
        letters = set("".join(terms).replace(".", ""))
        bare = output.replace("...", "")
        if len(set(bare)) != len(bare):
            return f"output {output!r} repeats a letter"
        if set(bare) - letters:
            return f"output letters {''.join(sorted(set(bare) - letters))!r} appear in no input"
        if "..." in output and not any("..." in t for t in terms):
            return "the output has '...' but no input does"
    return None


def _node_where(path: Path, node: OnnxNode) -> str:
    return f"{path}: node {shown(node.name)} ({shown(node.op_type, 40)})"


@functools.lru_cache(maxsize=1024)
def _attribute_types(op_type: str, domain: str, opset: int) -> dict[str, int] | None:
    """The attribute types of the op's schema by name (``AttributeProto`` type numbers); None for an op or domain
    onnx does not know. Cached: a schema is the same for every model of that opset."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # noqa: BLE001 - unknown op or domain: nothing to check it against
        return None
    return {name: int(attribute.type) for name, attribute in schema.attributes.items()}


def _type_error(path: Path, node: OnnxNode, attribute: AttributeProto, kind: int,
                types: dict[str, int] | None) -> ModelFileError | None:
    """The error for an attribute of type ``kind`` without a type, or of another type than the schema's
    (``types``: :func:`_attribute_types`, None for an op onnx does not know); None when it is fine."""
    if kind == AttributeProto.UNDEFINED:
        return ModelFileError(f"{_node_where(path, node)}: attribute {shown(attribute.name)} has no type "
                              "(UNDEFINED); the file is corrupt, export the model again", path=path)
    expected = types.get(attribute.name) if types is not None else None
    if expected is None or expected == kind:
        return None
    known = kind in AttributeProto.AttributeType.values()
    got = AttributeProto.AttributeType.Name(kind) if known else str(kind)
    return ModelFileError(
        f"{_node_where(path, node)}: attribute {shown(attribute.name)} is of type {got}, the operator defines it "
        f"as {onnx.defs.OpSchema.AttrType(expected).name}; the file is corrupt, export the model again", path=path)


def _check_dim_names(graph: GraphProto, path: Path) -> None:
    """Refuse a dim name of a graph input, output or value_info that is not valid UTF-8."""
    for value in (*graph.input, *graph.output, *graph.value_info):
        for dim in value.type.tensor_type.shape.dim[:]:  # a slice: one call, faster than iterating the container
            if not isinstance(dim.dim_param, str):  # invalid UTF-8 comes as bytes ('' when absent)
                raise ModelFileError(f"{path}: tensor {shown(value.name)} has a dim name that is not valid UTF-8 "
                                     f"({shown(dim.dim_param)}); the file is corrupt, export it again", path=path)


def _check_einsum(path: Path, node: OnnxNode) -> None:
    for attribute in node.attribute:
        if attribute.type == AttributeProto.STRING and attribute.name == "equation":
            if not attribute.s.isascii():  # shape inference would never return on it (_shapes)
                raise ModelFileError(f"{path}: Einsum node {shown(node.name)} has a non-ASCII equation "
                                     f"{shown(attribute.s)}; write it with letters a-z, A-Z, ',', '->' and '...'",
                                     path=path)
            equation = attribute.s.decode("ascii")
            reason = einsum_equation_error(equation)
            if reason is not None:
                raise ModelFileError(f"{_node_where(path, node)}: equation {shown(equation)} is not an Einsum "
                                     f"equation ({reason}); write terms of letters a-z, A-Z separated by ',', an "
                                     "optional '->' output and at most one '...' per term, e.g. 'bij,bjk->bik'",
                                     path=path)


def validate_model(model: onnx.ModelProto, nodes: Sequence[OnnxNode], path: Path) -> None:
    """Refuse what :mod:`this module's docstring <rooflinekit.importers.onnx._validate>` lists, in every graph.

    Parameters
    ----------
    model : onnx.ModelProto
        The parsed model (external data not loaded).
    nodes : sequence of OnnxNode
        The records of its main graph's nodes.
    path : Path
        The model file, for messages.

    Raises
    ------
    ModelFileError
        The first offending node, its attribute and value.
    """
    opsets = {entry.domain or "": int(entry.version) for entry in model.opset_import}
    default = opsets[""] if "" in opsets else (  # onnx's newest opset (a C++ call) only when the model has none
        opsets["ai.onnx"] if "ai.onnx" in opsets else onnx.defs.onnx_opset_version())
    # every graph depth first (If, Loop, Scan bodies after the graph that holds them), each attribute's type read
    # once: it both finds the bodies and is checked against the schema
    stack: list[tuple[GraphProto, Sequence[OnnxNode]]] = [(model.graph, nodes)]
    while stack:
        graph, records = stack.pop()
        _check_dim_names(graph, path)
        for node in records:
            if node.op_type == "Einsum":
                _check_einsum(path, node)
            if not node.attribute:  # nothing to check (a Relu, an Add): no schema looked up
                continue
            checked = node.domain in ("", "ai.onnx")
            types = _attribute_types(node.op_type, node.domain, default) if checked else None
            for attribute in node.attribute:
                kind = attribute.type
                if kind in _HOLDS_GRAPHS:
                    if kind == AttributeProto.GRAPH:
                        stack.append((attribute.g, node_records(attribute.g)))
                    else:
                        stack.extend((sub, node_records(sub)) for sub in attribute.graphs)
                if checked and (kind == AttributeProto.UNDEFINED or types is not None and types.get(
                        attribute.name, kind) != kind):  # the common case, a type the schema agrees with, skipped
                    error = _type_error(path, node, attribute, kind, types)
                    if error is not None:
                        raise error
