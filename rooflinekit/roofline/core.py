"""Vectorized roofline core: numpy arrays in, numpy arrays out (no pydantic, no pandas).

For one row (a layer, or a whole network, under one configuration):

    compute_s  = ops / peak_ops_per_s
    memory_s_l = bytes_l / bandwidth_l                      for each memory level l
    time_s     = max(compute_s, max_l memory_s_l)           (optimistic: compute and transfers overlap)
    pessimistic_s = compute_s + sum_l memory_s_l            (no overlap at all)
    bound      = -1 if compute_s is the largest term, else the index l of the slowest memory level

Attainable performance is ``ops / time_s`` = min(peak, bandwidth x operational intensity) for one level.

The kernel runs one numpy pass per term over contiguous columns (level by level, never a reduction along the short
level axis, which numpy runs element by element), and writes into caller-owned outputs when given
(:meth:`RooflineTimes.empty`), so that a sweep reuses one set of buffers instead of faulting fresh pages in on
every chunk. Every value equals the plain formulas above bit for bit (the levels are summed in level order).
:func:`fold` and :func:`fold_runs` sum rows per network (or kernel) in row order, for the stacked evaluation of
many networks (:mod:`rooflinekit.roofline.stacked`).
With numba installed (the optional ``fast`` extra) a large call runs one compiled pass over the rows instead,
with the same operations in the same order (:mod:`rooflinekit.roofline._compiled`): the same bits, faster.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rooflinekit.roofline import _compiled

COMPUTE_BOUND = -1


class RooflineTimes(NamedTuple):
    """Roofline times of N rows over L memory levels, seconds (``bound`` an int code)."""

    compute_s: np.ndarray  # (N,)
    memory_s: np.ndarray  # (N, L), each level's column contiguous when made by :meth:`empty`
    time_s: np.ndarray  # (N,)
    pessimistic_s: np.ndarray  # (N,)
    bound: np.ndarray  # (N,) int64: COMPUTE_BOUND or memory level index

    @classmethod
    def empty(cls, n: int, levels: int) -> "RooflineTimes":
        """Uninitialized outputs for ``n`` rows and ``levels`` levels (``memory_s`` column-major), for ``out=``."""
        return cls(np.empty(n), np.empty((levels, n)).T, np.empty(n), np.empty(n), np.empty(n, dtype=np.int64))

    def head(self, n: int) -> "RooflineTimes":
        """The first ``n`` rows (views)."""
        return RooflineTimes(*(array[:n] for array in self))


def roofline_times(ops: np.ndarray, bytes_per_level: np.ndarray, peak_ops_per_s: np.ndarray,
                   bandwidth_bytes_per_s: np.ndarray, out: RooflineTimes | None = None) -> RooflineTimes:
    """Roofline times of N rows over L memory levels.

    Parameters
    ----------
    ops : (N,) ops of each row.
    bytes_per_level : (N, L) bytes each row moves at each level.
    peak_ops_per_s : (N,) compute ceiling of each row, ops/s.
    bandwidth_bytes_per_s : (N, L) or (L,) bandwidth of each level, bytes/s.
    out : outputs to write into (at least N rows, L levels: :meth:`RooflineTimes.empty`); None allocates them.

    All positive except ops and bytes, which may be 0. Returns :class:`RooflineTimes` in seconds (``out``'s first N
    rows when given).
    """
    ops = np.asarray(ops, dtype=np.float64)
    moved = np.asarray(bytes_per_level, dtype=np.float64)
    peak = np.asarray(peak_ops_per_s, dtype=np.float64)
    bandwidth = np.asarray(bandwidth_bytes_per_s, dtype=np.float64)
    n, levels = moved.shape
    times = (RooflineTimes.empty(n, levels) if out is None else out).head(n)
    compute_s, memory_s, time_s, pessimistic_s, bound = times
    if (ops.shape == peak.shape == (n,) and bandwidth.shape in ((levels,), (n, levels))
            and _compiled.available(n * levels)):
        _compiled.roofline_times_compiled(ops, moved, peak, bandwidth, *times)
        return times
    np.divide(ops, peak, out=compute_s)
    for level in range(levels):
        np.divide(moved[:, level], bandwidth[..., level], out=memory_s[:, level])
    # time_s holds the running max over levels, then the max with compute; bound the running argmax
    mask = np.empty(n, dtype=bool)
    if levels > 1:  # the first two levels in one pass each (the same values as starting from level 0 alone)
        np.maximum(memory_s[:, 0], memory_s[:, 1], out=time_s)
        np.add(memory_s[:, 0], memory_s[:, 1], out=pessimistic_s)
        np.greater(memory_s[:, 1], memory_s[:, 0], out=mask)  # strictly slower: ties keep the first level
        np.copyto(bound, mask)
    else:
        np.copyto(time_s, memory_s[:, 0])
        np.copyto(pessimistic_s, memory_s[:, 0])
        bound.fill(0)
    for level in range(2, levels):
        column = memory_s[:, level]
        np.greater(column, time_s, out=mask)  # strictly slower: ties keep the first level, as argmax
        np.copyto(bound, level, where=mask)
        np.maximum(time_s, column, out=time_s)
        np.add(pessimistic_s, column, out=pessimistic_s)
    np.greater_equal(compute_s, time_s, out=mask)
    np.copyto(bound, COMPUTE_BOUND, where=mask)
    np.maximum(compute_s, time_s, out=time_s)
    np.add(pessimistic_s, compute_s, out=pessimistic_s)
    return times


def fold(values: np.ndarray, segment: np.ndarray, n_segments: int) -> np.ndarray:
    """Sum of ``values`` (N, ...) over the rows of each segment, row by row in row order: (S, ...).

    ``segment`` (N,) int is each row's segment (in any order). ``numpy.bincount`` adds its weights in index order,
    so each sum is ``((0 + v_first) + v_second) + ...``: what ``values[rows].sum(axis=0)`` gives for a 2-D block of
    rows (numpy adds the rows of a 2-D block one after another; a 1-D array it sums pairwise).
    """
    tail = values.shape[1:]
    width = int(np.prod(tail, dtype=np.int64))
    index = segment if width == 1 else (segment[:, None] * width + np.arange(width)).ravel()
    total = np.bincount(index, weights=values.reshape(-1), minlength=n_segments * width)
    return total.reshape((n_segments, *tail))


def fold_runs(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (N, ...) over runs of consecutive rows, row by row in row order: (K, ...).

    Run k is rows ``starts[k]`` to ``starts[k + 1] - 1`` (the last to N - 1); ``starts`` (K,) nondecreasing. The
    sums equal :func:`fold`'s (the same additions in the same order), computed by whichever of three ways should
    take least time (estimated from the numpy calls and the elements each makes): per run (``ndarray.sum(axis=0)``,
    which adds the rows of a block of two or more columns in order), per position within the runs (the j-th rows
    of every run added at once), or :func:`fold`.
    """
    n, tail = len(values), values.shape[1:]
    width = int(np.prod(tail, dtype=np.int64))
    lengths = np.diff(np.append(starts, n))
    longest = int(lengths.max(initial=0))
    per_run = 4.0 * len(starts) + 0.001 * n * width if width > 1 else np.inf  # microseconds, roughly
    per_position = 12.0 * longest + 0.004 * n * width
    binned = 20.0 + 0.012 * n * width
    if per_run <= min(per_position, binned):
        out = np.empty((len(starts), *tail))
        for k, (a, b) in enumerate(zip(starts.tolist(), (starts + lengths).tolist())):
            np.sum(values[a:b], axis=0, out=out[k])
        return out
    if per_position <= binned:
        out = np.zeros((len(starts), *tail))
        for j in range(longest):
            longer = np.flatnonzero(lengths > j)
            if len(longer) == len(starts):
                out += values[starts + j]
            else:
                out[longer] += values[starts[longer] + j]
        return out
    return fold(values, np.repeat(np.arange(len(starts)), lengths), len(starts))


def dominant_bounds(time_k: np.ndarray, bound_k: np.ndarray, starts: np.ndarray, n_levels: int) -> np.ndarray:
    """(S, B) the bound code accounting for most of each network's summed kernel time; ties go to the lowest code
    (compute first). ``time_k`` (s) and ``bound_k`` (codes: :data:`COMPUTE_BOUND` or a level index) are (K, B) over
    the kernels of S networks laid end to end, network s's from kernel ``starts[s]`` (one network: ``starts`` [0]);
    each network's kernels of a code are summed in kernel order (:func:`fold_runs`)."""
    best = np.full((len(starts), time_k.shape[1]), COMPUTE_BOUND, dtype=np.int64)
    best_s = np.full(best.shape, -np.inf)
    for code in range(COMPUTE_BOUND, n_levels):
        mine = bound_k == code
        present = fold_runs(mine.astype(np.float64), starts) > 0
        total_s = np.where(present, fold_runs(np.where(mine, time_k, 0.0), starts), -np.inf)
        better = total_s > best_s
        best[better], best_s[better] = code, total_s[better]
    return best
