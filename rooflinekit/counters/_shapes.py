"""Shape helpers shared by counters."""

from __future__ import annotations

import math

from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


def elements(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def first_input(layer: Layer) -> tuple[int, ...]:
    if not layer.inputs:
        raise ShapeError(f"layer {layer.name!r} ({layer.op}) has no input shape; the counter needs one")
    return layer.inputs[0]


def first_output(layer: Layer) -> tuple[int, ...]:
    if not layer.outputs:
        raise ShapeError(f"layer {layer.name!r} ({layer.op}) has no output shape; the counter needs one")
    return layer.outputs[0]


def output_elements(layer: Layer) -> int:
    return sum(elements(s) for s in layer.outputs) if layer.outputs else elements(first_input(layer))


def has_bias(layer: Layer) -> bool:
    """A layer has a bias when it carries a second constant tensor or says ``bias: true``."""
    return bool(layer.attrs.get("bias", len(layer.weights) >= 2))
