"""Losses and detection post-processing.

Ops follow :mod:`rooflinekit.counters.norm` and :mod:`rooflinekit.counters.elementwise`: a negation, multiply,
add, compare, min or max is one op. Every input is booked as read and every output as written.

- nll_loss (ONNX NegativeLogLikelihoodLoss): input ``(N, C, *d)``, S = ``N * prod(d)`` samples; attrs
  ``weighted`` (a class weight input is given) and ``reduction`` (none, sum, or mean, the default). Per sample:
  negate the picked log-probability (1), multiply by its class weight (1 when weighted), accumulate into the
  reduction (1 unless none) and, for a weighted mean, accumulate its weight (1):
  ``other_ops = S * (1 + weighted + (reduction != none) + (weighted and reduction == mean))``.
- softmax_cross_entropy_loss (ONNX SoftmaxCrossEntropyLoss): a log_softmax over the classes (3 ops per score, as
  in :mod:`rooflinekit.counters.norm`) then nll_loss: ``other_ops = 3 * prod(scores) + nll_loss``.
- non_max_suppression (ONNX NonMaxSuppression): boxes ``(N, B, 4)``, scores ``(N, C, B)``; the worst case, no box
  suppressed early: the area of every box (2 subtractions, 1 multiply: 3 ops per box and batch), the score
  threshold test (1 op per score), and for every pair of boxes of a class an intersection-over-union test: the
  overlap's sides (2 max, 2 min, 2 subtractions, 2 clamps at 0), its area (1), the union (2) and ``overlap >
  threshold * union`` (2), 13 ops: ``other_ops = 3 * N * B + N * C * B + 13 * N * C * B * (B - 1) / 2``.
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

LOG_SOFTMAX_OPS = 3
IOU_OPS = 13
BOX_AREA_OPS = 3


def _nll_ops(layer: Layer, scores: tuple[int, ...]) -> int:
    """The nll_loss ops of ``layer`` over input ``scores`` ``(N, C, *d)``."""
    samples = elements(scores) // scores[1] if scores[1] else 0
    weighted = bool(layer.attrs.get("weighted"))
    reduction = str(layer.attrs.get("reduction", "mean")).lower()
    if reduction not in ("none", "sum", "mean"):
        raise ShapeError(f"{layer.op} layer {layer.name!r}: unknown reduction {reduction!r}; use none, sum or mean")
    per_sample = 1 + weighted + (reduction != "none") + (weighted and reduction == "mean")
    return samples * per_sample


@DEFAULT_COUNTERS.register("nll_loss")
def count_nll_loss(layer: Layer) -> OpCount:
    return OpCount(other_ops=_nll_ops(layer, first_input(layer, 2)))


@DEFAULT_COUNTERS.register("softmax_cross_entropy_loss")
def count_softmax_cross_entropy_loss(layer: Layer) -> OpCount:
    scores = first_input(layer, 2)
    return OpCount(other_ops=LOG_SOFTMAX_OPS * elements(scores) + _nll_ops(layer, scores))


@DEFAULT_COUNTERS.register("non_max_suppression")
def count_non_max_suppression(layer: Layer) -> OpCount:
    if len(layer.inputs) < 2 or len(layer.inputs[0]) != 3 or len(layer.inputs[1]) != 3:
        raise ShapeError(f"non_max_suppression layer {layer.name!r} needs boxes (N, B, 4) and scores (N, C, B), got "
                         f"{[list(s) for s in layer.inputs]}")
    batch, classes, boxes = layer.inputs[1]
    return OpCount(other_ops=BOX_AREA_OPS * batch * boxes + batch * classes * boxes
                   + IOU_OPS * batch * classes * boxes * (boxes - 1) // 2)
