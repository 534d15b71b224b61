"""Einsum: the handler, which normalizes the equation and maps products that sum nothing to simpler kinds.

The MAC number is the ``einsum`` counter's (:mod:`rooflinekit.counters.einsum`); the importer stores only
``attrs["equation"]``.
"""

from __future__ import annotations

import re

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._node import Draft, Node

_TERM = re.compile(r"[A-Za-z]*(\.\.\.)?[A-Za-z]*")


def einsum(node: Node) -> Draft:
    """Einsum: a product of two or more operands that sums some index is ``einsum``; one that sums nothing
    (Hadamard, outer, broadcast product) is ``mul``; one operand is ``transpose`` (a permutation) or ``reduce_sum``.

    ``attrs`` = ``{"equation": ...}`` normalized by :func:`normalize_equation` so that its terms follow the layer's
    operands: activation inputs first, then constant operands (weights), each group in node order. A
    ``reduce_sum`` takes typed attrs instead (:class:`~rooflinekit.descriptors.attrs.ReduceAttrs`): the summed
    dims as ``axes``, ``keepdims`` False.
    """
    where = f"{node.graph.path}: node {node.proto.name!r} (Einsum)"
    count = len(node.proto.input)
    terms, output = normalize_equation(node.attr("equation", None), count, where)
    sums = _sums(terms, output, [len(node.dims(i)) for i in range(count)])
    kind = ("reduce_sum" if sums else "transpose") if count == 1 else ("einsum" if sums else "mul")
    constant = [node.input(i) in node.graph.constants for i in range(count)]
    order = [i for i in range(count) if not constant[i]] + [i for i in range(count) if constant[i]]
    equation = ",".join(terms[i] for i in order) + "->" + output
    if kind == "reduce_sum":
        return node.split(range(count), {"axes": _summed_axes(terms[0], output, len(node.dims(0))),
                                         "keepdims": False}, kind=kind)
    return node.split(range(count), {"equation": equation}, kind=kind)


def _summed_axes(term: str, output: str, rank: int) -> tuple[int, ...]:
    """The dims of a single operand ``term`` that the output drops: letters it lacks, and the ``...`` dims when it
    has no ``...``."""
    before, _, after = term.partition("...")
    broadcast = rank - len(before) - len(after)
    dims = [c in output for c in before] + ["..." in output] * broadcast + [c in output for c in after]
    return tuple(axis for axis, kept in enumerate(dims) if not kept)


def normalize_equation(equation: object, operands: int, where: str) -> tuple[list[str], str]:
    """The terms and the explicit output of an ONNX Einsum equation, spaces removed; without ``->`` the output
    is ``...`` (when a term broadcasts) followed by the letters that appear once, alphabetically (ONNX's rule).
    :class:`ModelFileError` when it is not an equation over ``operands`` operands."""
    text = equation.replace(" ", "") if isinstance(equation, str) else ""
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if not text or len(terms) != operands or not all(_TERM.fullmatch(t) for t in [*terms, output]):
        raise ModelFileError(f"{where}: equation {equation!r} is not an Einsum equation over {operands} operands "
                             "(e.g. 'bij,bjk->bik'); check the model")
    if not arrow:
        letters = "".join(terms).replace(".", "")
        output = ("..." if any("..." in t for t in terms) else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output


def _sums(terms: list[str], output: str, ranks: list[int]) -> bool:
    """Whether evaluating the equation sums over some dim: a letter absent from the output, or broadcast (``...``)
    dims the output drops."""
    letters = set("".join(terms).replace(".", ""))
    if letters - set(output):
        return True
    broadcast = max((rank - len(t.replace("...", "")) for t, rank in zip(terms, ranks) if "..." in t), default=0)
    return broadcast > 0 and "..." not in output
