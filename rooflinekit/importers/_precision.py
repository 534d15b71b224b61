"""The network's precision label: the compute precision of its MAC-carrying layers.

Both importers label a network with the data types its multiply-accumulates run at, not with the type of its
first graph input: a float transformer fed int64 token ids is ``fp32``, a QDQ graph whose convolutions run int8
kernels between a float input and a float output is ``int8``. Each MAC-carrying layer (:data:`MAC_KINDS`) votes
for its weight type with the elements of its first weight, and for its activation type with the elements of its
activation inputs; the most voted types win. Importers never compute MACs (the counters do), so weights and
activation elements stand for a layer's share of the work.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from rooflinekit.descriptors import DType, OpClass, OpKind, Precision

MAC_CLASSES = frozenset({OpClass.CONV, OpClass.DEPTHWISE, OpClass.GEMM, OpClass.ATTENTION, OpClass.RECURRENT})
MAC_KINDS = frozenset(kind.value for kind in OpKind if kind.op_class in MAC_CLASSES)
"""Canonical op kinds whose arithmetic is multiply-accumulates (conv, gemm, attention and recurrent classes)."""


class PrecisionVotes:
    """Element counts by data type, for weights and activations; :meth:`winner` is the dominant precision."""

    def __init__(self) -> None:
        self.weights: Counter[DType] = Counter()
        self.activations: Counter[DType] = Counter()

    def add(self, weights: DType | None, weight_elements: int, activations: DType | None,
            activation_elements: int) -> None:
        """Count one layer's votes (a missing type casts none; an empty tensor casts one, so it is not lost).

        Parameters
        ----------
        weights : DType or None
            The type of the layer's first weight, None when it has none.
        weight_elements : int
            Elements of that weight.
        activations : DType or None
            The type the layer's activations run at.
        activation_elements : int
            Elements of its activation inputs.
        """
        if weights is not None:
            self.weights[weights] += max(weight_elements, 1)
        if activations is not None:
            self.activations[activations] += max(activation_elements, 1)

    def winner(self) -> Precision | None:
        """The most voted weight and activation types; a network without weights takes its activations' type.

        Returns
        -------
        Precision or None
            None when no layer voted.
        """
        weights = self.weights.most_common(1)[0][0] if self.weights else None
        activations = self.activations.most_common(1)[0][0] if self.activations else weights
        weights = weights if weights is not None else activations
        if weights is None or activations is None:
            return None
        return precision_of(weights, activations)


@lru_cache(maxsize=None)
def precision_of(weights: DType, activations: DType) -> Precision:
    """The :class:`Precision` of weights at ``weights`` and activations at ``activations``: one shared (frozen)
    instance per pair in the process, built (validated) once; there are at most ``len(DType) ** 2`` pairs.

    Parameters
    ----------
    weights, activations : DType
        The weight and activation types.

    Returns
    -------
    Precision
        ``Precision(weights=weights, activations=activations)``.
    """
    return Precision(weights=weights, activations=activations)
