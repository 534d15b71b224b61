"""Data movement: no arithmetic.

- copies (concat, transpose, pad, slice, split, gather, tile, resize with nearest, expand, depth/space
  reordering): 0 ops; they read their inputs and write their outputs.
- views (reshape, flatten, squeeze, unsqueeze, identity, dropout at inference, shape): zero cost: 0 ops and
  no bytes moved.
- resize with linear interpolation (``mode: linear``): 4 ops per output element per spatial dim (two weights,
  two multiply-adds).
"""

from __future__ import annotations

from rooflinekit.counters._registry import OpCount, register
from rooflinekit.counters._shapes import output_elements
from rooflinekit.descriptors import Layer

COPY_KINDS = ("concat", "transpose", "pad", "slice", "split", "gather", "tile", "expand", "depth_to_space",
              "space_to_depth", "pack", "unpack", "gather_nd", "scatter", "one_hot", "mirror_pad", "reverse",
              "constant", "range", "non_zero", "top_k")
VIEW_KINDS = ("reshape", "flatten", "squeeze", "unsqueeze", "identity", "dropout", "shape", "size")


@register(*COPY_KINDS)
def count_copy(layer: Layer) -> OpCount:
    return OpCount()


@register(*VIEW_KINDS)
def count_view(layer: Layer) -> OpCount:
    return OpCount(moves_data=False)


@register("resize")
def count_resize(layer: Layer) -> OpCount:
    if str(layer.attrs.get("mode", "nearest")).lower() == "linear":
        spatial_dims = max(len(layer.outputs[0]) - 2, 1) if layer.outputs else 1
        return OpCount(other_ops=output_elements(layer) * 4 * spatial_dims)
    return OpCount()
