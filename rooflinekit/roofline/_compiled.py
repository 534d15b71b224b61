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
    network's kernels in order, each kernel's rows in order, all batch sizes at once. The bytes a row moves at
    level l are ``(moved[g, j, l] + state[g] * frames[j]) + activations[g] * frames[j]``, each term only at the
    row's level for it (-1: none): the built-in traffic models' arithmetic (``moved`` then holds the weights, and
    may be a broadcast view), so that their (G, B, L) array is never made."""
    n_rows, n_b, levels = moved.shape
    n_kernels = starts.shape[0]
    kernel_ops, kernel_compute = np.empty(n_b), np.empty(n_b)
    kernel_moved = np.empty((n_b, levels))
    by_code = np.empty((n_b, levels + 1))
    present = np.empty((n_b, levels + 1), dtype=np.bool_)
    for s in range(row_bounds.shape[0] - 1):
        ops_total[s, :] = 0.0
        compute_total[s, :] = 0.0
        moved_total[s, :, :] = 0.0
        time_s[s, :] = 0.0
        pessimistic_s[s, :] = 0.0
        by_code[:, :] = 0.0
        present[:, :] = False
        for k in range(kernel_bounds[s], kernel_bounds[s + 1]):  # a network's kernels cover its rows in order
            end = starts[k + 1] if k + 1 < n_kernels else n_rows
            kernel_ops[:] = 0.0
            kernel_compute[:] = 0.0
            kernel_moved[:, :] = 0.0
            for g in range(starts[k], end):
                row_ops, row_peak = ops[g], peak[g]
                for j in range(n_b):
                    o = row_ops * frames[j]
                    c = o / row_peak
                    ops_total[s, j] += o
                    compute_total[s, j] += c
                    kernel_ops[j] += o
                    kernel_compute[j] += c
                    for level in range(levels):
                        m = moved[g, j, level]
                        if level == state_level[g]:
                            m += state[g] * frames[j]
                        if level == activations_level[g]:
                            m += activations[g] * frames[j]
                        moved_total[s, j, level] += m
                        kernel_moved[j, level] += m
            for j in range(n_b):
                ops_k, compute_k = kernel_ops[j], kernel_compute[j]
                compute = ops_k / (ops_k / compute_k if compute_k > 0 else 1.0)
                slowest_s = kernel_moved[j, 0] / bandwidth[s, 0]
                slowest, memory_sum = 0, slowest_s
                for level in range(1, levels):
                    memory = kernel_moved[j, level] / bandwidth[s, level]
                    if memory > slowest_s:
                        slowest_s, slowest = memory, level
                    memory_sum += memory
                if compute >= slowest_s:
                    slowest, slowest_s = -1, compute
                kernel_s = slowest_s + overhead_s[k]
                time_s[s, j] += kernel_s
                pessimistic_s[s, j] += memory_sum + compute
                by_code[j, slowest + 1] += kernel_s
                present[j, slowest + 1] = True
        for j in range(n_b):
            best, best_s = -1, -np.inf
            for code in range(levels + 1):  # most time; ties to the lowest code
                if present[j, code] and by_code[j, code] > best_s:
                    best, best_s = code - 1, by_code[j, code]
            bound[s, j] = best


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
    rows: Callable[..., None] = numba.njit(nogil=True, cache=False)(_kernel_source)
    grid: Callable[..., None] = numba.njit(nogil=True, cache=False)(_grid_kernels_source)
    layer: Callable[..., None] = numba.njit(nogil=True, cache=False)(_layer_totals_source)
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
    none = np.full(len(ops), -1, dtype=np.int64)
    state, state_level, activations, activations_level = added or (np.zeros(len(ops)), none, np.zeros(len(ops)), none)
    kernels[2](ops, peak, moved, state, state_level.astype(np.int64), activations, activations_level.astype(np.int64),
               frames, row_bounds, starts, kernel_bounds, overhead_s, bandwidth, ops_total, compute_total,
               moved_total, time_s, pessimistic_s, bound)
    _compiled_kernels.add("layer")
    return ops_total, compute_total, moved_total, time_s, pessimistic_s, bound
