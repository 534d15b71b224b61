"""Vectorized roofline core: numpy arrays in, numpy arrays out (no pydantic, no pandas).

For one row (a layer, or a whole network, under one configuration):

    compute_s  = ops / peak_ops_per_s
    memory_s_l = bytes_l / bandwidth_l                      for each memory level l
    time_s     = max(compute_s, max_l memory_s_l)           (optimistic: compute and transfers overlap)
    pessimistic_s = compute_s + sum_l memory_s_l            (no overlap at all)
    bound      = -1 if compute_s is the largest term, else the index l of the slowest memory level

Attainable performance is ``ops / time_s`` = min(peak, bandwidth x operational intensity) for one level.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

COMPUTE_BOUND = -1


class RooflineTimes(NamedTuple):
    compute_s: np.ndarray  # (N,)
    memory_s: np.ndarray  # (N, L)
    time_s: np.ndarray  # (N,)
    pessimistic_s: np.ndarray  # (N,)
    bound: np.ndarray  # (N,) int: COMPUTE_BOUND or memory level index


def roofline_times(ops: np.ndarray, bytes_per_level: np.ndarray, peak_ops_per_s: np.ndarray,
                   bandwidth_bytes_per_s: np.ndarray) -> RooflineTimes:
    """Roofline times of N rows over L memory levels.

    ops: (N,) ops; bytes_per_level: (N, L) bytes moved at each level; peak_ops_per_s: (N,);
    bandwidth_bytes_per_s: (N, L) or (L,). All positive except ops and bytes, which may be 0.
    """
    ops = np.asarray(ops, dtype=np.float64)
    moved = np.asarray(bytes_per_level, dtype=np.float64)
    compute_s = ops / np.asarray(peak_ops_per_s, dtype=np.float64)
    memory_s = moved / np.asarray(bandwidth_bytes_per_s, dtype=np.float64)
    slowest = memory_s.argmax(axis=1)
    memory_max_s = np.take_along_axis(memory_s, slowest[:, None], axis=1)[:, 0]
    time_s = np.maximum(compute_s, memory_max_s)
    bound = np.where(compute_s >= memory_max_s, COMPUTE_BOUND, slowest)
    return RooflineTimes(compute_s, memory_s, time_s, compute_s + memory_s.sum(axis=1), bound)


def traffic_bytes(weight_bytes: np.ndarray, activation_bytes: np.ndarray, batch: np.ndarray, n_levels: int,
                  weights_level: np.ndarray, activations_level: np.ndarray, include_activations: bool,
                  on_chip_level: np.ndarray | None = None,
                  on_chip_capacity_bytes: np.ndarray | None = None) -> np.ndarray:
    """Bytes each row moves per batch at each of ``n_levels`` memory levels, shape (N, n_levels).

    weights: ``weight_bytes`` once per batch at ``weights_level``; activations (when included):
    ``activation_bytes * batch`` at ``activations_level``. With ``on_chip_level`` given (index, -1 for none), a
    row whose working set ``weight_bytes + activation_bytes * batch`` fits ``on_chip_capacity_bytes`` moves all of
    it at the on-chip level and nothing elsewhere.
    """
    n = len(weight_bytes)
    rows = np.arange(n)
    weights = np.asarray(weight_bytes, dtype=np.float64)
    acts = np.asarray(activation_bytes, dtype=np.float64) * np.asarray(batch, dtype=np.float64)
    moved = np.zeros((n, n_levels))
    np.add.at(moved, (rows, np.broadcast_to(weights_level, n)), weights)
    if include_activations:
        np.add.at(moved, (rows, np.broadcast_to(activations_level, n)), acts)
    if on_chip_level is not None:
        level = np.broadcast_to(on_chip_level, n)
        working_set = weights + acts
        fits = (level >= 0) & (working_set <= np.broadcast_to(on_chip_capacity_bytes, n))
        moved[fits] = 0.0
        moved[rows[fits], level[fits]] = working_set[fits]
    return moved
