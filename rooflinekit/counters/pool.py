"""Pooling.

Input ``(N, C, *S_in)``, output ``(N, C, *S_out)``. Each output element combines one window:
``other_ops = prod(output) * prod(kernel)`` (k - 1 comparisons or additions plus one final compare or divide).
Global pooling uses the whole input plane as the window: ``other_ops = prod(input)``. No MACs.
"""

from __future__ import annotations

import math

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


@DEFAULT_COUNTERS.register("max_pool", "avg_pool", "lp_pool")
def count_pool(layer: Layer) -> OpCount:
    kernel = layer.attrs.get("kernel_shape")
    if kernel is None:
        raise ShapeError(f"pooling layer {layer.name!r} has no 'kernel_shape' attribute")
    return OpCount(other_ops=elements(first_output(layer)) * math.prod(map(int, kernel)))


@DEFAULT_COUNTERS.register("global_max_pool", "global_avg_pool")
def count_global_pool(layer: Layer) -> OpCount:
    return OpCount(other_ops=elements(first_input(layer)))
