"""Sampling at computed positions: grid sampling, affine grids, RoI align, deformable convolution, column folding.

Interpolation follows ``resize`` (:mod:`rooflinekit.counters.movement`): per interpolated value and spatial dim, 4
ops for linear (two weights, two multiply-adds) and 8 for cubic (four taps); nearest costs nothing. Shapes are
channels-first, r is the number of spatial dims. Every input is booked as read and every output as written.

- grid_sample (ONNX GridSample): X ``(N, C, *S_in)``, grid ``(N, *S_out, r)``, Y ``(N, C, *S_out)``; attr ``mode``
  (linear or bilinear, the default; cubic or bicubic; nearest). Turning each of the ``prod(grid) = N * prod(S_out)
  * r`` normalized coordinates into a pixel position is a multiply-add (2 ops):
  ``other_ops = prod(Y) * ops_per_dim * r + 2 * prod(grid)``.
- affine_grid (ONNX AffineGrid): theta ``(N, r, r + 1)``, grid ``(N, *S, r)``: each grid value is a row of theta
  times the point's r coordinates plus the translation: ``macs = prod(grid) * r``, ``other_ops = prod(grid)``
  (generating the base coordinates is not counted).
- roi_align (ONNX RoiAlign): Y ``(R, C, out_h, out_w)``; attrs ``sampling_ratio`` s (samples per bin and dim) and
  ``mode`` (avg or max). Each sample is a 2-D linear interpolation (2 * 4 ops) combined into its bin (1 add or
  compare): ``other_ops = prod(Y) * s^2 * 9``. An adaptive ``sampling_ratio`` 0 (``ceil(roi size / output
  size)`` per dim, data-dependent) is counted as s = 1: a lower bound.
- deform_conv (ONNX DeformConv): the conv of :mod:`rooflinekit.counters.conv` (its ``macs`` and ``bias_ops``)
  over values sampled at offset positions: X ``(N, C_in, *S_in)``, Y ``(N, C_out, *S_out)``, attrs
  ``kernel_shape`` (K = prod) and ``offset_group`` G (default 1). ``samples = N * C_in * prod(S_out) * K`` values,
  each a linear interpolation (4 * r ops) and, with a ``mask`` (attr true), one multiply by its mask; each of the
  ``N * G * K * r * prod(S_out)`` offsets is added to its tap's position (1 op):
  ``other_ops = samples * (4 * r + mask) + N * G * K * r * prod(S_out)``.
- col2im (ONNX Col2Im): every element of the columns input ``(N, C * prod(block), L)`` is added into the image:
  ``other_ops = prod(input)``.
"""

from __future__ import annotations

import math

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output
from rooflinekit.counters.conv import count_conv
from rooflinekit.counters.movement import RESIZE_OPS_PER_DIM
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

_GRID_MODES = {"linear": "linear", "bilinear": "linear", "cubic": "cubic", "bicubic": "cubic", "nearest": "nearest"}
_ROI_OPS_PER_SAMPLE = 2 * RESIZE_OPS_PER_DIM["linear"] + 1


@DEFAULT_COUNTERS.register("grid_sample")
def count_grid_sample(layer: Layer) -> OpCount:
    y = first_output(layer, 3)
    spatial = len(y) - 2
    grid = y[0] * elements(y[2:]) * spatial
    mode = _GRID_MODES.get(str(layer.attrs.get("mode", "linear")).lower())
    if mode is None:
        raise ShapeError(f"grid_sample layer {layer.name!r}: unknown mode {layer.attrs.get('mode')!r}; use linear, "
                         "cubic or nearest")
    per_dim = RESIZE_OPS_PER_DIM.get(mode, 0)
    return OpCount(other_ops=elements(y) * per_dim * spatial + 2 * grid)


@DEFAULT_COUNTERS.register("affine_grid")
def count_affine_grid(layer: Layer) -> OpCount:
    grid = first_output(layer, 3)
    return OpCount(macs=elements(grid) * grid[-1], other_ops=elements(grid))


@DEFAULT_COUNTERS.register("roi_align")
def count_roi_align(layer: Layer) -> OpCount:
    samples = int(layer.attrs.get("sampling_ratio", 0)) or 1
    return OpCount(other_ops=elements(first_output(layer, 4)) * samples * samples * _ROI_OPS_PER_SAMPLE)


@DEFAULT_COUNTERS.register("deform_conv")
def count_deform_conv(layer: Layer) -> OpCount:
    conv = count_conv(layer)
    x, y = first_input(layer, 3), first_output(layer, 3)
    kernel = math.prod(int(k) for k in layer.attrs["kernel_shape"])  # present: count_conv refuses a layer without
    spatial = len(y) - 2
    positions = x[0] * elements(y[2:])
    samples = positions * x[1] * kernel
    offsets = positions * int(layer.attrs.get("offset_group", 1)) * kernel * spatial
    per_sample = RESIZE_OPS_PER_DIM["linear"] * spatial + (1 if layer.attrs.get("mask") else 0)
    return OpCount(macs=conv.macs, bias_ops=conv.bias_ops, other_ops=samples * per_sample + offsets)


@DEFAULT_COUNTERS.register("col2im")
def count_col2im(layer: Layer) -> OpCount:
    return OpCount(other_ops=elements(first_input(layer, 3)))
