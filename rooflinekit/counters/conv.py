"""Convolutions: standard, grouped, depthwise, dilated, strided, padded, transposed; 1-D/2-D/3-D.

Shapes are channels-first: input ``(N, C_in, *S_in)``, output ``(N, C_out, *S_out)``; attrs ``kernel_shape``
(tuple, one entry per spatial dim) and ``groups`` (default 1). Stride, padding and dilation shape the output
and are already reflected in ``S_out``; they do not enter the formulas below.

- conv: ``macs = N * C_out * prod(S_out) * (C_in / groups) * prod(kernel)``; a depthwise conv is
  ``groups = C_in`` (with a channel multiplier ``C_out = m * C_in``).
- conv_transpose: every input element is multiplied into a ``kernel`` window of ``C_out / groups`` outputs:
  ``macs = N * C_in * prod(S_in) * (C_out / groups) * prod(kernel)``.
- bias (both): ``bias_ops = N * C_out * prod(S_out)``, one add per output element.
"""

from __future__ import annotations

import math

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output, has_bias
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


def _kernel_and_groups(layer: Layer, channels_in: int, channels_out: int) -> tuple[int, int]:
    kernel = layer.attrs.get("kernel_shape")
    if kernel is None:
        raise ShapeError(f"conv layer {layer.name!r} has no 'kernel_shape' attribute")
    groups = int(layer.attrs.get("groups", 1))
    if groups < 1 or channels_in % groups or channels_out % groups:
        raise ShapeError(
            f"conv layer {layer.name!r}: groups={groups} must divide C_in={channels_in} and C_out={channels_out}"
        )
    return math.prod(map(int, kernel)), groups


@DEFAULT_COUNTERS.register("conv")
def count_conv(layer: Layer) -> OpCount:
    x, y = first_input(layer, 3), first_output(layer, 3)
    kernel, groups = _kernel_and_groups(layer, x[1], y[1])
    outputs = elements(y)
    return OpCount(
        macs=outputs * (x[1] // groups) * kernel,
        bias_ops=outputs if has_bias(layer) else 0,
    )


@DEFAULT_COUNTERS.register("conv_transpose")
def count_conv_transpose(layer: Layer) -> OpCount:
    x, y = first_input(layer, 3), first_output(layer, 3)
    kernel, groups = _kernel_and_groups(layer, x[1], y[1])
    return OpCount(
        macs=elements(x) * (y[1] // groups) * kernel,
        bias_ops=elements(y) if has_bias(layer) else 0,
    )
