"""Shape helpers shared by counters."""

from __future__ import annotations

import math

from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


def elements(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _first(layer: Layer, shapes: tuple[tuple[int, ...], ...], role: str, min_rank: int) -> tuple[int, ...]:
    if not shapes:
        raise ShapeError(f"layer {layer.name!r} ({layer.op}) has no {role} shape; the counter needs one")
    if len(shapes[0]) < min_rank:
        raise ShapeError(f"layer {layer.name!r} ({layer.op}): {role} shape {list(shapes[0])} has rank "
                         f"{len(shapes[0])}, the counter needs at least {min_rank}")
    return shapes[0]


def first_input(layer: Layer, min_rank: int = 0) -> tuple[int, ...]:
    return _first(layer, layer.inputs, "input", min_rank)


def first_output(layer: Layer, min_rank: int = 0) -> tuple[int, ...]:
    return _first(layer, layer.outputs, "output", min_rank)


def output_elements(layer: Layer) -> int:
    return sum(map(math.prod, layer.outputs)) if layer.outputs else elements(first_input(layer))


def has_bias(layer: Layer) -> bool:
    """A layer has a bias when it carries a second constant tensor or says ``bias: true``."""
    return bool(layer.attrs.get("bias", len(layer.weights) >= 2))
