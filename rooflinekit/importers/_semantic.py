"""Semantic checks of imported layers, shared by the ONNX and TFLite importers.

A malformed file can hold shapes that contradict the op's own attributes and weights (a conv stride of 127 with an
output as large as the input, a weight whose input channels are not the input's, a fully-connected whose input no
longer holds its features). Counting such a layer gives a number for a network that does not exist; these checks
refuse it, after the importer has built the layers (channels-first, typed attributes) and before anything is
counted:

- conv (not transposed) and windowed pooling: ``out = floor((in + pad_begin + pad_end - dilation * (k - 1) - 1) /
  stride) + 1`` per spatial dim (``ceil`` with ``ceil_mode``, less a last window that would start in the end
  padding); for conv also ``weight = (C_out, C_in / groups,
  *kernel)`` with ``C_out`` the output's channels and ``groups`` dividing both channel counts; an output left
  empty (a spatial ``out`` below 1) from a non-empty input is an input smaller than the window (input shapes given
  too small, or in another layout);
- fully_connected with a weight ``(out, in)``: ``elements(input) * out == elements(output) * in`` (the input
  flattened to rows of ``in`` features);
- every dim of every tensor at most :data:`~rooflinekit._limits.MAX_DIM`.

Each failure is a :class:`~rooflinekit.errors.ShapeError` naming the file, the layer and the values.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from rooflinekit._limits import MAX_DIM, shown
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

_POOLS = frozenset({"max_pool", "avg_pool", "lp_pool"})


def _fail(path: Path | str, layer: Layer, what: str, shape: Sequence[int] | None = None) -> ShapeError:
    return ShapeError(f"{path}: layer {shown(layer.name)} ({layer.source_op or layer.op}): {what}; the file is "
                      "malformed or was edited (export the model again), or the input shapes given do not fit it "
                      "(input_shapes, --input-shape: full dims in the model's layout)", layer=layer.name,
                      shape=tuple(shape) if shape is not None else None)


def _window_out(size: int, k: int, stride: int, dilation: int, begin: int, end: int, ceil: bool) -> int:
    span = size + begin + end - dilation * (k - 1) - 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + begin:  # ONNX and PyTorch drop a last window that starts in the padding
        out -= 1
    return out


def _check_window(path: Path | str, layer: Layer, attrs: Any) -> None:
    kernel = attrs.get("kernel_shape")
    if not kernel or not layer.inputs:
        return
    x, y = layer.inputs[0], layer.outputs[0] if layer.outputs else None  # None: an empty output, not kept
    rank = len(kernel)
    if len(x) != rank + 2 or y is not None and len(y) != rank + 2:
        raise _fail(path, layer, f"input {list(x)} and output {list(y or ())} must have {rank + 2} dims for a "
                                 f"{rank}-D kernel {list(kernel)}", y)
    strides = attrs.get("strides") or (1,) * rank
    dilations = attrs.get("dilations") or (1,) * rank
    pads = attrs.get("pads") or None
    if pads is None:  # a hand-written spec whose output shape already reflects its padding
        return
    ceil = bool(attrs.get("ceil_mode", False))
    expected = tuple(_window_out(x[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[rank + i], ceil)
                     for i in range(rank))
    if y is None:
        if min(expected) < 1 and min(x) > 0:
            raise ShapeError(f"{path}: layer {shown(layer.name)} ({layer.source_op or layer.op}): input {list(x)} "
                             f"is smaller than its window: kernel {list(kernel)}, strides {list(strides)}, dilations "
                             f"{list(dilations)} and pads {list(pads)} give spatial dims {list(expected)}; import the "
                             "model at a larger input size, in the model's layout (input_shapes, --input-shape)",
                             layer=layer.name, shape=x)
        return
    if tuple(y[2:]) != expected:
        raise _fail(path, layer, f"output {list(y)} contradicts input {list(x)}, kernel {list(kernel)}, strides "
                                 f"{list(strides)}, dilations {list(dilations)} and pads {list(pads)}, which give "
                                 f"spatial dims {list(expected)}", y)


def _check_conv_weight(path: Path | str, layer: Layer, attrs: Any) -> None:
    if not layer.weights or not layer.inputs or not layer.outputs:
        return
    w, x, y = layer.weights[0].shape, layer.inputs[0], layer.outputs[0]
    groups = int(attrs.get("groups", 1) or 1)
    kernel = attrs.get("kernel_shape")
    if len(w) < 2 or len(x) < 2 or len(y) < 2:
        return
    if w[0] != y[1] or w[1] * groups != x[1] or x[1] % groups or y[1] % groups or (
            kernel and tuple(w[2:]) != tuple(kernel)):
        raise _fail(path, layer, f"weight {list(w)} contradicts input {list(x)}, output {list(y)} and groups "
                                 f"{groups}: it must be (C_out={y[1]}, C_in/groups={x[1] // max(groups, 1)}, "
                                 f"*kernel {list(kernel or ())})", w)


def _check_fully_connected(path: Path | str, layer: Layer) -> None:
    if not layer.weights or not layer.inputs or not layer.outputs or len(layer.weights[0].shape) != 2:
        return
    out_features, in_features = layer.weights[0].shape
    x, y = layer.inputs[0], layer.outputs[0]
    if math.prod(x) * out_features != math.prod(y) * in_features or (y and y[-1] != out_features):
        raise _fail(path, layer, f"input {list(x)} and output {list(y)} contradict the weight "
                                 f"({out_features} outputs x {in_features} inputs)", y)


def _check_dims(path: Path | str, layer: Layer) -> None:
    shapes: Iterable[Sequence[int]] = (*layer.inputs, *layer.outputs, *(t.shape for t in layer.weights))
    for shape in shapes:
        if max(shape, default=0) > MAX_DIM:
            raise _fail(path, layer, f"shape {shown(list(shape))} has a dim above {MAX_DIM}", shape)


def _largest_dim(layers: Sequence[Layer]) -> int:
    """The largest dim of any tensor of ``layers`` (0 when they have none), in one pass over them all."""
    shapes = [shape for layer in layers for shape in (*layer.inputs, *layer.outputs)]
    shapes += [tensor.shape for layer in layers for tensor in layer.weights]
    return max(itertools.chain.from_iterable(shapes), default=0)


def check_layers(layers: Iterable[Layer], path: Path | str) -> None:
    """Refuse a layer whose shapes contradict its attributes or weights (see the module docstring).

    Parameters
    ----------
    layers : iterable of Layer
        The imported layers.
    path : Path or str
        The model file, for messages.

    Raises
    ------
    ShapeError
        The first contradicting layer, with its shapes and attributes.
    """
    layers = layers if isinstance(layers, (list, tuple)) else list(layers)
    dims_in_range = _largest_dim(layers) <= MAX_DIM  # the common case: no layer's dims need a look of their own
    for layer in layers:
        if not dims_in_range:
            _check_dims(path, layer)
        attrs = layer.attrs
        if layer.op == "conv":
            _check_window(path, layer, attrs)
            _check_conv_weight(path, layer, attrs)
        elif layer.op in _POOLS:
            _check_window(path, layer, attrs)
        elif layer.op == "fully_connected":
            _check_fully_connected(path, layer)
