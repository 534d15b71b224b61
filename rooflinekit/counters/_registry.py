"""Registry of per-op counting functions keyed by canonical op kind.

A counter sees only a :class:`~rooflinekit.descriptors.Layer` (never an ONNX or TFLite object) and returns an
:class:`OpCount`. Parameters and bytes are derived from the layer's tensors in :mod:`rooflinekit.counters.cost`,
and ``ops = 2 * macs + other_ops`` is computed only in :func:`total_ops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rooflinekit.descriptors import Layer


@dataclass(frozen=True)
class OpCount:
    """Arithmetic of one layer.

    ``macs``: multiply-accumulates; ``bias_ops``: bias additions; ``other_ops``: every other non-MAC operation
    (activation, pooling, softmax, elementwise, normalization). ``moves_data`` False marks pure views (reshape,
    flatten, squeeze) that read and write no bytes.
    """

    macs: int = 0
    bias_ops: int = 0
    other_ops: int = 0
    moves_data: bool = True


Counter = Callable[[Layer], OpCount]
_COUNTERS: dict[str, Counter] = {}


def register(*kinds: str) -> Callable[[Counter], Counter]:
    """Decorator registering ``fn`` as the counter of each canonical op kind in ``kinds``."""

    def decorate(fn: Counter) -> Counter:
        for kind in kinds:
            _COUNTERS[kind] = fn
        return fn

    return decorate


def get_counter(kind: str) -> Counter | None:
    """The counter registered for ``kind``, or None."""
    return _COUNTERS.get(kind)


def supported_kinds() -> list[str]:
    """Every canonical op kind that has a counter, sorted."""
    return sorted(_COUNTERS)


def total_ops(macs: int | np.ndarray, other_ops: int | np.ndarray) -> int | np.ndarray:
    """ops = 2 * macs + other_ops (1 MAC = 2 ops); works on ints and numpy arrays alike."""
    return 2 * macs + other_ops
