"""Scalar reference of the roofline core: plain Python, one row at a time, written for clarity.

The vectorized :mod:`rooflinekit.roofline.core` is tested against it.
"""

from __future__ import annotations

from typing import Sequence

COMPUTE_BOUND = -1  # restated, not imported: the reference shares no code with the core it checks


def roofline_time_scalar(ops: float, bytes_per_level: Sequence[float], peak_ops_per_s: float,
                         bandwidth_bytes_per_s: Sequence[float]) -> tuple[float, int]:
    """(time_s, bound) with time_s = max(ops / peak, max_l bytes_l / bandwidth_l); bound -1 = compute."""
    time_s, bound = ops / peak_ops_per_s, COMPUTE_BOUND
    for level, (moved, bandwidth) in enumerate(zip(bytes_per_level, bandwidth_bytes_per_s)):
        memory_s = moved / bandwidth
        if memory_s > time_s:
            time_s, bound = memory_s, level
    return time_s, bound


def traffic_bytes_scalar(weight_bytes_by_level: Sequence[float], activation_bytes: float, state_bytes: float,
                         batch: int, activations_level: int, state_level: int, include_activations: bool,
                         on_chip_level: int = -1, on_chip_capacity_bytes: float = 0.0) -> list[float]:
    """Bytes per level for one row and one batch; see :mod:`rooflinekit.roofline.traffic`."""
    moved = [float(w) for w in weight_bytes_by_level]
    moved[state_level] += state_bytes * batch
    if include_activations:
        moved[activations_level] += activation_bytes * batch
        working_set = sum(moved)
        if on_chip_level >= 0 and working_set <= on_chip_capacity_bytes:
            moved = [0.0] * len(moved)
            moved[on_chip_level] = working_set
    return moved
