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

    Parameters
    ----------
    ops : (N,) ops of each row.
    bytes_per_level : (N, L) bytes each row moves at each level.
    peak_ops_per_s : (N,) compute ceiling of each row, ops/s.
    bandwidth_bytes_per_s : (N, L) or (L,) bandwidth of each level, bytes/s.

    All positive except ops and bytes, which may be 0. Returns :class:`RooflineTimes` in seconds.
    """
    ops = np.asarray(ops, dtype=np.float64)
    moved = np.asarray(bytes_per_level, dtype=np.float64)
    compute_s = ops / np.asarray(peak_ops_per_s, dtype=np.float64)
    memory_s = moved / np.asarray(bandwidth_bytes_per_s, dtype=np.float64)
    slowest = memory_s.argmax(axis=1)
    memory_max_s = memory_s.max(axis=1)  # the value at ``slowest``, without a gather
    time_s = np.maximum(compute_s, memory_max_s)
    bound = np.where(compute_s >= memory_max_s, COMPUTE_BOUND, slowest)
    pessimistic_s = memory_s.sum(axis=1)
    pessimistic_s += compute_s
    return RooflineTimes(compute_s, memory_s, time_s, pessimistic_s, bound)
