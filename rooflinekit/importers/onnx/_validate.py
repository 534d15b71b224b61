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

import re
from pathlib import Path
from typing import Iterator

import onnx
from onnx import AttributeProto, GraphProto, NodeProto

from rooflinekit._limits import shown
from rooflinekit.errors import ModelFileError

_TERM = re.compile(r"[A-Za-z]*(?:\.\.\.)?[A-Za-z]*")


def _graphs(graph: GraphProto) -> Iterator[GraphProto]:
    """``graph`` and every subgraph of its nodes (If, Loop, Scan bodies), depth first."""
    stack = [graph]
    while stack:
        current = stack.pop()
        yield current
        for node in current.node:
            for attribute in node.attribute:
                if attribute.type == AttributeProto.GRAPH:
                    stack.append(attribute.g)
                elif attribute.type == AttributeProto.GRAPHS:
                    stack.extend(attribute.graphs)


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


def _node_where(path: Path, node: NodeProto) -> str:
    return f"{path}: node {shown(node.name)} ({shown(node.op_type, 40)})"


def _attribute_types(op_type: str, domain: str, opset: int) -> dict[str, onnx.defs.OpSchema.AttrType] | None:
    """The attribute types of the op's schema by name; None for an op or domain onnx does not know."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # noqa: BLE001 - unknown op or domain: nothing to check it against
        return None
    return {name: attribute.type for name, attribute in schema.attributes.items()}


def _check_types(path: Path, node: NodeProto, opset: int,
                 schemas: dict[tuple[str, str], dict[str, onnx.defs.OpSchema.AttrType] | None]) -> None:
    """Refuse an attribute without a type, or of another type than the schema's; ``schemas`` caches the schema's
    attribute types by (op_type, domain)."""
    key = (node.op_type, node.domain)
    if key not in schemas:
        schemas[key] = _attribute_types(node.op_type, node.domain, opset)
    types = schemas[key]
    for attribute in node.attribute:
        if attribute.type == AttributeProto.UNDEFINED:
            raise ModelFileError(f"{_node_where(path, node)}: attribute {shown(attribute.name)} has no type "
                                 "(UNDEFINED); the file is corrupt, export the model again", path=path)
        if types is None or attribute.name not in types:
            continue
        expected = types[attribute.name]
        if int(expected) != int(attribute.type):
            got = AttributeProto.AttributeType.Name(attribute.type) if attribute.type in \
                AttributeProto.AttributeType.values() else str(attribute.type)
            raise ModelFileError(
                f"{_node_where(path, node)}: attribute {shown(attribute.name)} is of type {got}, the operator "
                f"defines it as {expected.name}; the file is corrupt, export the model again", path=path)


def _check_values(path: Path, node: NodeProto) -> None:
    for attribute in node.attribute:
        if attribute.type == AttributeProto.STRING and attribute.name == "equation" and node.op_type == "Einsum":
            if not attribute.s.isascii():  # the wording of the shape-inference guard in _shapes
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


def validate_model(model: onnx.ModelProto, path: Path) -> None:
    """Refuse what :mod:`this module's docstring <rooflinekit.importers.onnx._validate>` lists, in every graph.

    Parameters
    ----------
    model : onnx.ModelProto
        The parsed model (external data not loaded).
    path : Path
        The model file, for messages.

    Raises
    ------
    ModelFileError
        The first offending node, its attribute and value.
    """
    opsets = {entry.domain or "": int(entry.version) for entry in model.opset_import}
    default = opsets.get("", opsets.get("ai.onnx", onnx.defs.onnx_opset_version()))
    schemas: dict[tuple[str, str], dict[str, onnx.defs.OpSchema.AttrType] | None] = {}
    for graph in _graphs(model.graph):
        for value in (*graph.input, *graph.output, *graph.value_info):
            for dim in value.type.tensor_type.shape.dim:
                if dim.HasField("dim_param") and not isinstance(dim.dim_param, str):  # invalid UTF-8 comes as bytes
                    raise ModelFileError(f"{path}: tensor {shown(value.name)} has a dim name that is not valid UTF-8 "
                                         f"({shown(dim.dim_param)}); the file is corrupt, export it again", path=path)
        for node in graph.node:
            _check_values(path, node)
            if node.domain in ("", "ai.onnx"):
                _check_types(path, node, default, schemas)
