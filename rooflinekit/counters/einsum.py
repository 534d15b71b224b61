"""Einsum: an Einstein-summation equation over the layer's operands.

attrs ``equation`` (numpy/ONNX syntax: ``bij,bjk->bik``; ``...`` broadcasts as in numpy; without ``->`` the output
holds the letters that appear once, alphabetically, after the broadcast dims). The operands, in the order of the
equation's terms, are the layer's ``inputs`` followed by its ``weights`` (importers order the terms so).

- at least one letter contracted (summed, i.e. absent from the output): for two operands ``macs`` = the product of
  the sizes of all distinct letters (``bij,bjk->bik``: B*I*J*K). More operands are multiplied left to right,
  pairwise: each step multiplies the running result (letters I) into the next operand (letters J),
  ``macs += prod(size[l] for l in I | J)``, and sums the letters needed by neither the output nor a later operand.
  A single operand with a contraction is a sum: ``other_ops`` = its elements (as ``reduce_sum``).
- nothing contracted: an elementwise or outer product, ``other_ops = (operands - 1) * prod(output)`` (as ``mul``);
  a single operand is a permutation, 0 ops (as ``transpose``).

A letter of size 1 broadcasts against any size; two other sizes for one letter are a :class:`ShapeError`.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

Shape = tuple[int, ...]


@DEFAULT_COUNTERS.register("einsum")
def count_einsum(layer: Layer) -> OpCount:
    equation = layer.attrs.get("equation")
    if not isinstance(equation, str) or not equation.strip():
        raise ShapeError(f"einsum layer {layer.name!r} lacks the 'equation' attribute (e.g. 'bij,bjk->bik') its "
                         f"counter reads; got {equation!r}")
    shapes = [*layer.inputs, *(w.shape for w in layer.weights)]
    operands, output, sizes = parse_einsum(equation, shapes, f"einsum layer {layer.name!r}")
    if not _contracted(operands, output):
        products = len(operands) - 1
        return OpCount(other_ops=products * math.prod(sizes[letter] for letter in output) if products else 0)
    if len(operands) == 1:
        return OpCount(other_ops=math.prod(shapes[0]))
    return OpCount(macs=_pairwise_macs(operands, output, sizes))


def einsum_macs(equation: str, shapes: Sequence[Shape], where: str = "einsum") -> int:
    """MACs of contracting ``equation`` over operands of ``shapes`` left to right, pairwise (module docstring);
    0 when nothing is summed or there is a single operand."""
    operands, output, sizes = parse_einsum(equation, shapes, where)
    return _pairwise_macs(operands, output, sizes) if _contracted(operands, output) else 0


def parse_einsum(equation: str, shapes: Sequence[Shape], where: str = "einsum"
                 ) -> tuple[list[str], str, dict[str, int]]:
    """``(operand letters, output letters, size of each letter)``, with ``...`` expanded to one private letter per
    broadcast dim; :class:`ShapeError` (prefixed ``where``) when the equation does not fit the shapes."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if (len(terms) != len(shapes) or not re.fullmatch(r"[A-Za-z.,]*", inputs)
            or not re.fullmatch(r"[A-Za-z.]*", output)):
        raise ShapeError(f"{where}: equation {equation!r} does not fit {len(shapes)} operands; check the model")
    ellipsis_rank = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    broadcast = "".join(chr(0x3B1 + i) for i in range(ellipsis_rank))  # Greek letters: never equation letters
    operands = []
    for term, shape in zip(terms, shapes):
        rank = len(shape) - len(term.replace("...", ""))
        operands.append(term.replace("...", broadcast[ellipsis_rank - rank:] if rank > 0 else ""))
        if len(operands[-1]) != len(shape):
            raise ShapeError(f"{where}: term {term!r} of {equation!r} does not match operand shape {list(shape)}")
    if arrow:
        output = output.replace("...", broadcast)
    else:
        letters = "".join(operands)
        output = broadcast + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in broadcast))
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, shapes):
        for letter, size in zip(letters, shape):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                raise ShapeError(f"{where}: index {letter!r} of {equation!r} has sizes {sizes[letter]} and {size}")
            sizes[letter] = max(sizes[letter], size)
    unknown = sorted(set(output) - set(sizes))
    if unknown:
        raise ShapeError(f"{where}: output indices {unknown} of {equation!r} appear in no operand; check the model")
    return operands, output, sizes


def _contracted(operands: list[str], output: str) -> bool:
    """Whether some letter is summed: it appears in an operand and not in the output."""
    return bool(set("".join(operands)) - set(output))


def _pairwise_macs(operands: list[str], output: str, sizes: dict[str, int]) -> int:
    current = set(operands[0])
    macs = 0
    for position, letters in enumerate(operands[1:], start=1):
        needed = set(output).union(*operands[position + 1:])
        union = current | set(letters)
        macs += math.prod(sizes[letter] for letter in union)
        current = union & needed
    return macs
