"""Normalizations and softmax, in ops per element of the input ``x``.

- batch_norm (inference, not folded): ``y = x * scale' + shift'``: 2 ops per element.
- layer_norm, instance_norm, group_norm: mean (1 add), subtract (1), square and accumulate (2), normalize
  (1 multiply by the reciprocal std), scale and shift (2): 7 ops per element.
- rms_norm: square and accumulate (2), scale by the reciprocal root (1), multiply by the weight (1): 4.
- a layer_norm or rms_norm that first sums a residual (onnxruntime's SkipLayerNormalization and
  SkipSimplifiedLayerNormalization: ``input + skip (+ bias)``, attr ``residual_adds`` a, 1 or 2) adds a ops per
  element, as the elementwise counter counts an Add: 7 + a and 4 + a.
- lp_norm (ONNX LpNormalization, ``p`` 1 or 2): absolute value or square, and accumulate (2), divide by the norm
  (1): 3 ops per element (the root per normalized row is not counted, as for rms_norm).
- mean_variance_norm (ONNX MeanVarianceNormalization): layer_norm without its scale and shift: mean (1),
  subtract (1), square and accumulate (2), normalize (1): 5 ops per element.
- softmax, log_softmax: exp (1), sum (1), divide (1): 3 ops per element (the max subtraction is not counted).
- hardmax: compare (1) and write the one-hot value (1): 2 ops per element.
- lrn: ``size`` multiply-adds per element for the window sum plus 3 for the scaling: ``size + 3``.
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

OPS_PER_ELEMENT = {"batch_norm": 2, "layer_norm": 7, "instance_norm": 7, "group_norm": 7, "rms_norm": 4,
                   "lp_norm": 3, "mean_variance_norm": 5, "softmax": 3, "log_softmax": 3, "hardmax": 2}


@DEFAULT_COUNTERS.register(*OPS_PER_ELEMENT)
def count_norm(layer: Layer) -> OpCount:
    per_element = OPS_PER_ELEMENT[layer.op] + int(layer.attrs.get("residual_adds", 0))
    return OpCount(other_ops=elements(first_input(layer)) * per_element)


@DEFAULT_COUNTERS.register("lrn")
def count_lrn(layer: Layer) -> OpCount:
    if "size" not in layer.attrs:
        raise ShapeError(f"lrn layer {layer.name!r} has no 'size' attribute (the window length)")
    return OpCount(other_ops=elements(first_input(layer)) * (int(layer.attrs["size"]) + 3))
