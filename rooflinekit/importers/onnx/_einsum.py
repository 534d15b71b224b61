"""Einsum: the handler and its MAC number, which only the equation can give (``attrs["macs"]``)."""

from __future__ import annotations

import math
import re
from typing import Sequence

from rooflinekit.errors import ShapeError
from rooflinekit.importers.onnx._node import Draft, Node
from rooflinekit.importers.onnx._shapes import Shape


def einsum(node: Node) -> Draft:
    """Einsum: a contraction of two or more operands is ``einsum`` with ``attrs["macs"]`` (see :func:`einsum_macs`);
    products with nothing summed (Hadamard, outer) are ``mul``; one operand is ``transpose`` (a permutation)
    or ``reduce_sum``."""
    equation = str(node.attrs.get("equation", ""))
    shapes = [node.dims(i) for i in range(len(node.proto.input))]
    macs, contracted = einsum_macs(equation, shapes, f"{node.graph.path}: node {node.proto.name!r} (Einsum)")
    if len(shapes) == 1:
        kind = "reduce_sum" if contracted else "transpose"
    else:
        kind = "einsum" if contracted else "mul"
    return node.split(range(len(shapes)), {"equation": equation, "macs": macs}, kind=kind)


def einsum_macs(equation: str, shapes: Sequence[Shape], where: str = "einsum") -> tuple[int, bool]:
    """MACs of evaluating ``equation`` on operands of ``shapes`` left to right, pairwise, and whether any index
    is summed.

    Each step multiplies the running result (indices I) into the next operand (indices J) and sums the indices
    needed by neither the output nor a later operand: ``macs += prod(size[i] for i in I | J)``. For two
    operands that is ``prod`` of all index sizes (``bij,bjk->bik``: B*I*J*K). ``...`` broadcasts as in numpy;
    without ``->`` the output holds the indices that appear once, in alphabetical order.
    """
    operands, output = _parse_einsum(equation.replace(" ", ""), shapes, where)
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, shapes):
        for letter, size in zip(letters, shape):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                raise ShapeError(f"{where}: index {letter!r} of {equation!r} has sizes {sizes[letter]} and {size}")
            sizes[letter] = max(sizes[letter], size)
    current = set(operands[0])
    macs = 0
    contracted = len(current - set(output)) > 0 and len(operands) == 1
    for position, letters in enumerate(operands[1:], start=1):
        needed = set(output).union(*operands[position + 1:])
        union = current | set(letters)
        macs += math.prod(sizes[letter] for letter in union)
        current = union & needed
        contracted = contracted or bool(union - needed)
    return macs, contracted


def _parse_einsum(equation: str, shapes: Sequence[Shape], where: str) -> tuple[list[str], str]:
    """Operand index strings with ``...`` expanded to one private letter per broadcast dim, and the output."""
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes) or not re.fullmatch(r"[A-Za-z.,]*", inputs) or not re.fullmatch(r"[A-Za-z.]*", output):
        raise ShapeError(f"{where}: equation {equation!r} does not fit {len(shapes)} operands; check the model")
    ellipsis_rank = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    broadcast = "".join(chr(0x3B1 + i) for i in range(ellipsis_rank))  # Greek letters: never ONNX indices
    operands = []
    for term, shape in zip(terms, shapes):
        rank = len(shape) - len(term.replace("...", ""))
        operands.append(term.replace("...", broadcast[ellipsis_rank - rank:] if rank else ""))
        if len(operands[-1]) != len(shape):
            raise ShapeError(f"{where}: term {term!r} of {equation!r} does not match operand shape {list(shape)}")
    if not arrow:
        counts = "".join(operands)
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in broadcast))
    return operands, output.replace("...", broadcast)
