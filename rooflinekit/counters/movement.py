"""Data movement: no arithmetic.

- copies (concat, transpose, pad, slice, split, gather, tile, resize with nearest, expand, depth/space
  reordering): 0 ops; they read their inputs and write their outputs.
- views (reshape, flatten, squeeze, unsqueeze, identity, dropout at inference, shape): zero cost: 0 ops and
  no bytes moved.
- resize with interpolation: per output element and spatial dim, 4 ops for ``mode: linear`` (two weights,
  two multiply-adds) and 8 for ``mode: cubic`` (four taps); nearest costs nothing.
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import output_elements
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

COPY_KINDS = ("concat", "transpose", "pad", "slice", "split", "gather", "tile", "expand", "depth_to_space",
              "space_to_depth", "pack", "unpack", "gather_nd", "scatter", "one_hot", "mirror_pad", "reverse",
              "constant", "range", "non_zero", "top_k", "trilu")
RESIZE_OPS_PER_DIM = {"linear": 4, "cubic": 8}
VIEW_KINDS = ("reshape", "flatten", "squeeze", "unsqueeze", "identity", "dropout", "shape", "size")


@DEFAULT_COUNTERS.register(*COPY_KINDS)
def count_copy(layer: Layer) -> OpCount:
    return OpCount()


@DEFAULT_COUNTERS.register(*VIEW_KINDS)
def count_view(layer: Layer) -> OpCount:
    return OpCount(moves_data=False)


@DEFAULT_COUNTERS.register("resize")
def count_resize(layer: Layer) -> OpCount:
    mode = str(layer.attrs.get("mode", "nearest")).lower()
    if mode == "nearest":
        return OpCount()
    if mode not in RESIZE_OPS_PER_DIM:
        raise ShapeError(f"resize layer {layer.name!r}: unknown mode {mode!r}; use nearest, linear or cubic")
    ops_per_dim = RESIZE_OPS_PER_DIM[mode]
    spatial_dims = max(len(layer.outputs[0]) - 2, 1) if layer.outputs else 1
    return OpCount(other_ops=output_elements(layer) * ops_per_dim * spatial_dims)
