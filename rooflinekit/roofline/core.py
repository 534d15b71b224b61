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
    moved[rows, np.broadcast_to(weights_level, n)] += weights  # each row once per index: no np.add.at needed
    if include_activations:
        moved[rows, np.broadcast_to(activations_level, n)] += acts
    if on_chip_level is not None:
        level = np.broadcast_to(on_chip_level, n)
        working_set = weights + acts
        fits = (level >= 0) & (working_set <= np.broadcast_to(on_chip_capacity_bytes, n))
        moved[fits] = 0.0
        moved[rows[fits], level[fits]] = working_set[fits]
    return moved


def batch_sweep_times(ops: np.ndarray, weight_bytes: np.ndarray, activation_bytes: np.ndarray,
                      peak_ops_per_s: np.ndarray, weights_bandwidth: np.ndarray, activations_bandwidth: np.ndarray,
                      shared_level: np.ndarray, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-batch roofline times of R rows x H hardware x B batch sizes, weights-and-activations traffic.

    ops, weight_bytes, activation_bytes: (R,) per frame (weights per batch); peak_ops_per_s: (H, R);
    weights_bandwidth, activations_bandwidth, shared_level: (H,) (shared: one level holds both); batches: (B,).
    With per-frame seconds ``c = ops / peak``, ``m_w = weights / bw_w``, ``m_a = activations / bw_a``, a batch b
    takes ``max(b c, m_w, b m_a)`` on separate levels and ``max(b c, m_w + b m_a)`` on a shared one: linear in b,
    so the (H, R) terms are formed once and only a few passes run over the (H, R, B) result.
    Returns time_s (H, R, B) and bound (H, R, B) int8: -1 compute, 0 weights level, 1 activations level
    (ties go to compute, then to the activations level).
    """
    compute = ops / peak_ops_per_s
    weights_s = weight_bytes / weights_bandwidth[:, None]
    activations_s = activation_bytes / activations_bandwidth[:, None]
    b = np.asarray(batches, dtype=np.float64)
    time_s = np.empty((*compute.shape, len(b)))
    bound = np.empty(time_s.shape, dtype=np.int8)
    linear_bound = np.where(compute >= activations_s, COMPUTE_BOUND, 1).astype(np.int8)
    scratch = np.empty(time_s.shape[1:])
    wins = np.empty(time_s.shape[1:], dtype=bool)
    for h, shared in enumerate(np.asarray(shared_level, dtype=bool)):  # one cache-sized (R, B) block per hardware
        out, weights_h = time_s[h], weights_s[h][:, None]
        if shared:  # max(b c, m_w + b m_a)
            np.multiply(compute[h][:, None], b, out=out)
            np.multiply(activations_s[h][:, None], b, out=scratch)
            scratch += weights_h
            np.greater_equal(out, scratch, out=wins)
            np.maximum(out, scratch, out=out)
            np.multiply(wins, np.int8(COMPUTE_BOUND), out=bound[h], casting="unsafe")
        else:  # max(b max(c, m_a), m_w)
            np.multiply(np.maximum(compute[h], activations_s[h])[:, None], b, out=out)
            np.greater_equal(out, weights_h, out=wins)
            np.maximum(out, weights_h, out=out)
            np.multiply(wins, linear_bound[h][:, None], out=bound[h], casting="unsafe")
    return time_s, bound
