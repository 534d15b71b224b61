"""Optional compiled roofline kernels: numba, when installed (``pip install "rooflinekit[fast]"``), else nothing.

:func:`roofline_times_compiled` computes what :func:`rooflinekit.roofline.core.roofline_times` computes, and
:func:`grid_kernels` what :func:`rooflinekit.roofline.predictor._grid_kernels` computes (layer mode on a hardware
grid), in one pass (each input read once, each output written once) instead of one numpy pass per term. They
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

_compiled_kernels: set[str] = set()  # the kernels ("rows", "grid") that have run, so are compiled, here


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


@lru_cache(maxsize=1)
def _compiled() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """The compiled kernels (roofline rows, grid kernels), or None without numba (or with
    ``ROOFLINEKIT_NO_COMPILE=1``)."""
    if os.environ.get("ROOFLINEKIT_NO_COMPILE", "") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    rows: Callable[..., None] = numba.njit(nogil=True, cache=False)(_kernel_source)
    grid: Callable[..., None] = numba.njit(nogil=True, cache=False)(_grid_kernels_source)
    return rows, grid


def available(elements: int, kernel: str = "rows") -> bool:
    """True when a call of ``elements`` rows x levels (``kernel="rows"``: :func:`roofline_times_compiled`) or
    kernels x grid columns (``"grid"``: :func:`grid_kernels`) should use the compiled kernel, and numba is there:
    from :data:`MIN_ELEMENTS`, or from :data:`MIN_ELEMENTS_COMPILED` once that kernel has run in this process."""
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
