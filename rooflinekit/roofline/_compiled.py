"""Optional compiled roofline kernels: numba, when installed (``pip install "rooflinekit[fast]"``), else nothing.

:func:`roofline_times_compiled` computes what :func:`rooflinekit.roofline.core.roofline_times` computes,
:func:`grid_kernels` what :func:`rooflinekit.roofline.predictor._grid_kernels` computes (layer mode on a hardware
grid) and :func:`layer_totals` what :func:`rooflinekit.roofline.stacked.layer_totals` computes (layer mode of many
networks), in one pass (each input read once, each output written once) instead of one numpy pass per term. They
perform the same IEEE operations in the same order (no fast-math, no reassociation): ``ops / peak``, each
``bytes_l / bandwidth_l``, the levels summed in level order, sums over kernels in kernel order, the first slowest
level on ties, compute on a tie with memory, so their results equal numpy's bit for bit (the tests check it).

Numba is imported, and the kernels compiled (a few seconds, once per process, nothing written to disk), only
when a call is large enough to pay for it (:data:`MIN_ELEMENTS`); after that, smaller calls use them too
(:data:`MIN_ELEMENTS_COMPILED`). ``ROOFLINEKIT_NO_COMPILE=1`` turns them off.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable

import numpy as np

MIN_ELEMENTS = 1 << 16
"""Rows x levels (or kernels x grid columns) from which the compiled kernels are used (and compiled)."""
MIN_ELEMENTS_COMPILED = 1 << 10
"""The same, once a kernel has been compiled in this process (the compile time is then spent)."""

_compiled_kernels: set[str] = set()  # the kernels ("rows", "grid", "layer") that have run, so are compiled, here


def _kernel_source(ops: Any, moved: Any, peak: Any, bandwidth: Any, per_row: bool, compute_s: Any,
                   memory_by_level: Any, time_s: Any, pessimistic_s: Any, bound: Any) -> None:
    """The kernel, in plain Python (numba compiles it). ``bandwidth`` is (N, L) when ``per_row``, else (1, L);
    ``memory_by_level`` is (L, N)."""
    n, levels = moved.shape
    for i in range(n):
        row = i if per_row else 0
        compute = ops[i] / peak[i]
        compute_s[i] = compute
        slowest_s = moved[i, 0] / bandwidth[row, 0]
        memory_by_level[0, i] = slowest_s
        slowest, total_s = 0, slowest_s
        for level in range(1, levels):
            memory = moved[i, level] / bandwidth[row, level]
            memory_by_level[level, i] = memory
            if memory > slowest_s:
                slowest_s, slowest = memory, level
            total_s += memory
        if compute >= slowest_s:
            time_s[i], bound[i] = compute, -1
        else:
            time_s[i], bound[i] = slowest_s, slowest
        pessimistic_s[i] = total_s + compute


COLUMN_TILE = 256
"""Batch sizes the compiled layer kernel carries through a kernel at a time: its innermost loops run over them,
so that they compile to vector instructions, and their running sums stay in L1 cache."""


def _grid_kernels_source(ops_kd: Any, peak: Any, moved_k: Any, bandwidth: Any, inverse: Any, overhead_s: Any,
                         time_s: Any, compute_s: Any, pessimistic_s: Any, bound: Any, by_code: Any) -> None:
    """:func:`rooflinekit.roofline.predictor._grid_kernels` as one loop per column (numba compiles it);
    ``by_code`` (L + 1,) is scratch for the time per bound code."""
    kinds, kernels, _ = ops_kd.shape
    levels = moved_k.shape[0]
    for j in range(inverse.shape[0]):
        u = inverse[j]
        time_sum, compute_sum, pessimistic_sum = 0.0, 0.0, 0.0
        by_code[:] = 0.0
        present = np.zeros(levels + 1, dtype=np.bool_)
        for k in range(kernels):
            compute = ops_kd[0, k, u] / peak[j, 0]
            for d in range(1, kinds):
                compute = compute + ops_kd[d, k, u] / peak[j, d]
            slowest_s = moved_k[0, k, u] / bandwidth[j, 0]
            slowest, pessimistic = 0, compute + slowest_s
            for level in range(1, levels):
                memory = moved_k[level, k, u] / bandwidth[j, level]
                if memory > slowest_s:
                    slowest_s, slowest = memory, level
                pessimistic += memory
            if compute >= slowest_s:
                slowest, slowest_s = -1, compute
            kernel_s = slowest_s + overhead_s[k]
            time_sum += kernel_s
            compute_sum += compute
            pessimistic_sum += pessimistic
            by_code[slowest + 1] += kernel_s
            present[slowest + 1] = True
        time_s[j], compute_s[j], pessimistic_s[j] = time_sum, compute_sum, pessimistic_sum
        best, best_s = -1, -np.inf
        for code in range(levels + 1):  # most time; ties to the lowest code
            if present[code] and by_code[code] > best_s:
                best, best_s = code - 1, by_code[code]
        bound[j] = best


def _layer_totals_source(ops: Any, peak: Any, moved: Any, state: Any, state_level: Any, activations: Any,
                         activations_level: Any, frames: Any, row_bounds: Any, starts: Any, kernel_bounds: Any,
                         overhead_s: Any, bandwidth: Any, ops_total: Any, compute_total: Any, moved_total: Any,
                         time_s: Any, pessimistic_s: Any, bound: Any) -> None:
    """:func:`rooflinekit.roofline.stacked.layer_totals` in one pass over the rows (numba compiles it): each
    network's kernels in order, each kernel's rows in order, for a tile of :data:`COLUMN_TILE` batch sizes at a
    time, each term one loop over the tile.

    The bytes a row moves at level l are ``(moved[g, j, l] + state[g] * frames[j]) + activations[g] * frames[j]``,
    each term ``+0.0`` off the row's level for it (-1: none): the built-in traffic models' arithmetic (``moved``
    then holds the weights, and may be a view with stride 0 over batch sizes), so that their (G, B, L) array is
    never made. Adding ``+0.0`` changes at most the sign of a zero, and these bytes only enter sums that start at
    ``+0.0``, whose bits the sign of an added zero never changes; the loop then has no branch, and vectorizes.
    """
    n_rows, n_b, levels = moved.shape
    n_kernels = starts.shape[0]
    tile = max(1, min(n_b, COLUMN_TILE))
    same_weights = n_b == 1 or moved.strides[1] == 0
    slowest_s, memory_sum, kernel_s = np.empty(tile), np.empty(tile), np.empty(tile)
    kernel_ops, kernel_compute, kernel_moved = np.empty(tile), np.empty(tile), np.empty((levels, tile))
    slowest = np.empty(tile, dtype=np.int64)
    seg_moved = np.empty((levels, tile))
    by_code = np.empty((levels + 1, tile))
    present = np.empty((levels + 1, tile), dtype=np.bool_)
    for s in range(row_bounds.shape[0] - 1):
        for first in range(0, n_b, tile):
            # views of the tile's batch sizes, indexed by j alone: numba then knows no index is negative (no
            # wraparound to compute), and the loops over j vectorize
            width = min(tile, n_b - first)
            tile_frames, tile_moved = frames[first:first + width], moved[:, first:first + width, :]
            seg_ops, seg_compute = ops_total[s, first:first + width], compute_total[s, first:first + width]
            seg_time, seg_pessimistic = time_s[s, first:first + width], pessimistic_s[s, first:first + width]
            seg_ops[:], seg_compute[:], seg_time[:], seg_pessimistic[:] = 0.0, 0.0, 0.0, 0.0
            seg_moved[:, :], by_code[:, :], present[:, :] = 0.0, 0.0, False
            for k in range(kernel_bounds[s], kernel_bounds[s + 1]):  # a network's kernels cover its rows in order
                end = starts[k + 1] if k + 1 < n_kernels else n_rows
                kernel_ops[:], kernel_compute[:], kernel_moved[:, :] = 0.0, 0.0, 0.0
                for g in range(starts[k], end):
                    row_ops, row_peak = ops[g], peak[g]
                    for j in range(width):
                        o = row_ops * tile_frames[j]
                        c = o / row_peak
                        seg_ops[j] += o
                        seg_compute[j] += c
                        kernel_ops[j] += o
                        kernel_compute[j] += c
                    for level in range(levels):
                        per_frame_state = state[g] if level == state_level[g] else 0.0
                        per_frame_activations = activations[g] if level == activations_level[g] else 0.0
                        if same_weights:
                            weights = moved[g, 0, level]
                            for j in range(width):
                                f = tile_frames[j]
                                m = (weights + per_frame_state * f) + per_frame_activations * f
                                seg_moved[level, j] += m
                                kernel_moved[level, j] += m
                        else:
                            for j in range(width):
                                f = tile_frames[j]
                                m = (tile_moved[g, j, level] + per_frame_state * f) + per_frame_activations * f
                                seg_moved[level, j] += m
                                kernel_moved[level, j] += m
                for level in range(levels):
                    bandwidth_l = bandwidth[s, level]
                    if level == 0:
                        for j in range(width):
                            memory = kernel_moved[level, j] / bandwidth_l
                            slowest_s[j], slowest[j], memory_sum[j] = memory, 0, memory
                    else:
                        for j in range(width):
                            memory = kernel_moved[level, j] / bandwidth_l
                            slower = memory > slowest_s[j]  # selects, not branches: the loop vectorizes
                            slowest_s[j] = memory if slower else slowest_s[j]
                            slowest[j] = level if slower else slowest[j]
                            memory_sum[j] += memory
                overhead = overhead_s[k]
                for j in range(width):  # the kernel's compute time (through its peak, as numpy) taken here
                    ops_k, compute_k = kernel_ops[j], kernel_compute[j]
                    compute = ops_k / (ops_k / compute_k if compute_k > 0 else 1.0)
                    compute_bound = compute >= slowest_s[j]
                    slowest[j] = -1 if compute_bound else slowest[j]
                    kernel_s[j] = (compute if compute_bound else slowest_s[j]) + overhead
                    seg_time[j] += kernel_s[j]
                    seg_pessimistic[j] += memory_sum[j] + compute
                for j in range(width):
                    by_code[slowest[j] + 1, j] += kernel_s[j]
                    present[slowest[j] + 1, j] = True
            for j in range(width):
                for level in range(levels):
                    moved_total[s, first + j, level] = seg_moved[level, j]
                best, best_s = -1, -np.inf
                for code in range(levels + 1):  # most time; ties to the lowest code
                    if present[code, j] and by_code[code, j] > best_s:
                        best, best_s = code - 1, by_code[code, j]
                bound[s, first + j] = best


@lru_cache(maxsize=1)
def _compiled() -> tuple[Callable[..., None], Callable[..., None], Callable[..., None]] | None:
    """The compiled kernels (roofline rows, grid kernels, layer totals), or None without numba (or with
    ``ROOFLINEKIT_NO_COMPILE=1``)."""
    if os.environ.get("ROOFLINEKIT_NO_COMPILE", "") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    # IEEE division (inf, nan) as numpy's, not Python's ZeroDivisionError: no check per division, loops vectorize
    jit = numba.njit(nogil=True, cache=False, error_model="numpy")
    rows: Callable[..., None] = jit(_kernel_source)
    grid: Callable[..., None] = jit(_grid_kernels_source)
    layer: Callable[..., None] = jit(_layer_totals_source)
    return rows, grid, layer


def available(elements: int, kernel: str = "rows") -> bool:
    """True when a call of ``elements`` rows x levels (``kernel="rows"``: :func:`roofline_times_compiled`),
    kernels x grid columns (``"grid"``: :func:`grid_kernels`) or rows x batch sizes x levels (``"layer"``:
    :func:`layer_totals`) should use the compiled kernel, and numba is there: from :data:`MIN_ELEMENTS`, or from
    :data:`MIN_ELEMENTS_COMPILED` once that kernel has run in this process."""
    least = MIN_ELEMENTS_COMPILED if kernel in _compiled_kernels else MIN_ELEMENTS
    return elements >= least and _compiled() is not None


def roofline_times_compiled(ops: np.ndarray, moved: np.ndarray, peak: np.ndarray, bandwidth: np.ndarray,
                            compute_s: np.ndarray, memory_s: np.ndarray, time_s: np.ndarray,
                            pessimistic_s: np.ndarray, bound: np.ndarray) -> None:
    """Fill the outputs (N,) and ``memory_s`` (N, L) from ``ops``, ``peak`` (N,), ``moved`` (N, L) and
    ``bandwidth`` (L,) or (N, L), float64 (see the module docstring). Call only when :func:`available`."""
    kernels = _compiled()
    assert kernels is not None, "roofline_times_compiled called without numba"
    per_row = bandwidth.ndim == 2
    kernels[0](ops, moved, peak, bandwidth if per_row else bandwidth[None, :], per_row, compute_s, memory_s.T,
               time_s, pessimistic_s, bound)
    _compiled_kernels.add("rows")


def grid_kernels(ops_kd: np.ndarray, peak: np.ndarray, moved_k: np.ndarray, bandwidth: np.ndarray,
                 inverse: np.ndarray, overhead_s: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`rooflinekit.roofline.predictor._grid_kernels` in one compiled pass (same arguments, same bits).
    Call only when :func:`available`."""
    kernels = _compiled()
    assert kernels is not None, "grid_kernels called without numba"
    n = len(inverse)
    time_s, compute_s, pessimistic_s = np.empty(n), np.empty(n), np.empty(n)
    bound = np.empty(n, dtype=np.int64)
    kernels[1](ops_kd, peak, moved_k, bandwidth, inverse, overhead_s, time_s, compute_s, pessimistic_s, bound,
               np.empty(len(moved_k) + 1))
    _compiled_kernels.add("grid")
    return time_s, compute_s, pessimistic_s, bound


def layer_totals(ops: np.ndarray, peak: np.ndarray, moved: np.ndarray, frames: np.ndarray, row_bounds: np.ndarray,
                 starts: np.ndarray, kernel_bounds: np.ndarray, overhead_s: np.ndarray, bandwidth: np.ndarray,
                 added: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """:func:`rooflinekit.roofline.stacked.layer_totals` in one compiled pass (same arguments, same bits), the
    first six results. ``added`` = (state bytes, state level, activation bytes, activation level), each (G,), adds
    per-frame bytes to ``moved`` as :class:`~rooflinekit.roofline.WeightsAndActivations` does (a level -1 adds
    nothing; see the kernel). Call only when :func:`available`."""
    kernels = _compiled()
    assert kernels is not None, "layer_totals called without numba"
    n_seg, n_b, levels = len(row_bounds) - 1, len(frames), moved.shape[2]
    ops_total, compute_total = np.empty((n_seg, n_b)), np.empty((n_seg, n_b))
    moved_total = np.empty((n_seg, n_b, levels))
    time_s, pessimistic_s = np.empty((n_seg, n_b)), np.empty((n_seg, n_b))
    bound = np.empty((n_seg, n_b), dtype=np.int64)
    if added is None:
        none = np.full(len(ops), -1, dtype=np.int64)
        added = (np.zeros(len(ops)), none, np.zeros(len(ops)), none)
    state, state_level, activations, activations_level = added
    kernels[2](ops, peak, moved, state, state_level.astype(np.int64, copy=False), activations,
               activations_level.astype(np.int64, copy=False), frames, row_bounds, starts, kernel_bounds, overhead_s,
               bandwidth, ops_total, compute_total, moved_total, time_s, pessimistic_s, bound)
    _compiled_kernels.add("layer")
    return ops_total, compute_total, moved_total, time_s, pessimistic_s, bound
