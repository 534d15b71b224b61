"""Data movement: no arithmetic.

- copies (concat, transpose, pad, slice, split, gather, tile, resize with nearest, expand, depth/space
  reordering; center_crop_pad, compress, max_unpool, tensor_scatter): 0 ops; they read their inputs and write
  their outputs (a max_unpool writes its whole zero-filled output, a tensor_scatter its whole cache).
- data movement without arithmetic on numbers, also 0 ops with their tensors read and written: sequences
  (sequence_insert, split_to_sequence), unique (a sort, like top_k) and string processing (string_concat,
  string_normalizer, string_split, regex_full_match); a string element is booked at the activation precision
  whatever its length, and a sequence or a tensor sized by the data has no shape and moves no counted bytes.
- views (reshape, flatten, squeeze, unsqueeze, identity, dropout at inference, shape; bitcast, which
  reinterprets the bits; optional_get_element; the metadata queries size, sequence_length and
  optional_has_element): zero cost: 0 ops and no bytes moved.
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
              "constant", "range", "non_zero", "top_k", "trilu", "center_crop_pad", "compress", "max_unpool",
              "tensor_scatter", "sequence_insert", "split_to_sequence", "unique", "string_concat",
              "string_normalizer", "string_split", "regex_full_match")
RESIZE_OPS_PER_DIM = {"linear": 4, "cubic": 8}
VIEW_KINDS = ("reshape", "flatten", "squeeze", "unsqueeze", "identity", "dropout", "shape", "size", "bitcast",
              "optional_get_element", "optional_has_element", "sequence_length")


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
