"""Reductions of a sweep computed chunk by chunk, in bounded memory: best per group, top-k, Pareto front,
histogram.

``sweep(..., reduce=r)`` never holds the whole table: it builds chunks of rows (DataFrames with the sweep's
columns, indexed by each row's position in the full sweep) and keeps only ``r.partial(chunk)`` combined with the
previous state by ``r.combine``; at the end it returns ``r.finalize(state)``. A reduction called on a whole table,
``r(table)``, gives the same result as the streaming run (ties go to the row that comes first in the sweep), which
is what the tests check. Partial states are small DataFrames, so the same reduction combines the partitions of a
distributed sweep (:mod:`rooflinekit.roofline.dask_engine`).

Only predicted rows (``status == "ok"``) take part; :class:`Best` and :class:`Pareto` also leave out, by default,
the rows whose network does not fit the memories (``fits`` False): a design point that cannot hold its network is
no candidate (``fitting_only=False`` keeps them, as :class:`Histogram` does). pandas is imported when a reduction runs, not with this module
(which :mod:`rooflinekit.api` imports for a prediction too).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from rooflinekit.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

Direction = str  # "min" or "max"


class Reduction(ABC):
    """A sweep reduction: ``partial`` of one chunk, ``combine`` of partial states, ``finalize`` of the last."""

    columns: tuple[str, ...] = ()

    @abstractmethod
    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The state of one chunk of sweep rows."""

    def combine(self, states: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """One state from several (in sweep order). The default reduces their concatenation again."""
        import pandas as pd

        frames = [s for s in states if len(s)]
        if not frames:
            return states[0] if states else pd.DataFrame()
        return self.partial(pd.concat(frames) if len(frames) > 1 else frames[0])

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        """The result from the last state (by default the state, in sweep order)."""
        return state.sort_index(kind="stable")

    def check(self, columns: Sequence[str]) -> None:
        """Refuse a table without the columns this reduction reads."""
        missing = [c for c in self.columns if c not in columns]
        if missing:
            raise SpecError(f"{type(self).__name__} reads column(s) {', '.join(missing)}, which the sweep does not "
                            f"have; use one of {', '.join(columns)}")

    def __call__(self, table: pd.DataFrame) -> pd.DataFrame:
        """The reduction of a whole (materialized) sweep table."""
        self.check(list(table.columns))
        return self.finalize(self.partial(table))


def _candidates(chunk: pd.DataFrame, fitting_only: bool = False) -> np.ndarray:
    """(N,) bool: the rows of ``chunk`` that were predicted (``status == "ok"``) and, with ``fitting_only``, whose
    network fits the memories (``fits`` not False; unknown counts as fitting)."""
    mask = (chunk["status"] == "ok").to_numpy(dtype=bool)
    if fitting_only:
        mask = mask & chunk["fits"].to_numpy(dtype=bool, na_value=True)
    return mask


def checked(reduce: object, columns: Sequence[str]) -> Reduction:
    """``reduce`` when it is a :class:`Reduction` whose columns the sweep has (``columns``); a :class:`SpecError`
    saying what to pass when it is anything else (a name such as ``"best"``, the class ``Best`` itself)."""
    if not isinstance(reduce, Reduction):
        raise SpecError(f"reduce must be a reduction such as Best(\"latency_s\") (rooflinekit.roofline.Best, "
                        f"Pareto, Histogram), got {type(reduce).__name__} {reduce!r}")
    reduce.check(columns)
    return reduce


def _numbers(chunk: pd.DataFrame, column: str, reader: str) -> np.ndarray:
    """(N,) float64 values of ``column`` of ``chunk`` (NaN where missing); a :class:`SpecError` naming the column
    when it does not hold numbers (``reader`` is the reduction, for the message)."""
    try:
        values: np.ndarray = chunk[column].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise SpecError(f"{reader} reads column {column!r}, which does not hold numbers "
                        f"({chunk[column].dtype}); use a numeric column such as latency_s, fps or ops") from None
    return values


def _unique(columns: str | Sequence[str]) -> list[str]:
    """``columns`` (one name or several) as a list without repeats, in order."""
    return list(dict.fromkeys([columns] if isinstance(columns, str) else columns))


def _check_direction(name: str, direction: str) -> None:
    if direction not in ("min", "max"):
        raise SpecError(f"{name}: direction {direction!r} must be 'min' or 'max'")


class Best(Reduction):
    """The best ``k`` rows (default 1) by ``metric`` within each group of ``by`` (no ``by``: over all rows).

    ``Best("latency_s", by="network")`` is the fastest configuration of each network; ``by="hardware"`` the
    network each hardware runs fastest (a grid's points share their base spec's name: ``by="grid_point"``
    ranks per point, and ``by=["hardware", "grid_point"]`` when the sweep holds several grids, whose points are
    all numbered from 0, or plain specs, all ``-1``); ``Best("fps", "max", k=10)`` the top ten overall. Rows whose
    network does not fit the memories (``fits`` False) are no candidates unless ``fitting_only=False``, nor are
    rows whose ``metric`` is NaN. A missing value in a ``by`` column (a grid axis on the rows of a plain spec)
    is a group of its own. Ties go to the row that comes first in the sweep. The result is sorted by the groups'
    values (missing last), then best first.
    """

    def __init__(self, metric: str = "latency_s", direction: Direction = "min", by: str | Sequence[str] = (),
                 k: int = 1, fitting_only: bool = True) -> None:
        _check_direction("Best", direction)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SpecError(f"Best: k must be a positive integer, got {k!r}")
        self.metric, self.direction, self.k, self.fitting_only = metric, direction, k, fitting_only
        self.by = _unique(by)
        self.columns = (metric, *self.by, "status", *(("fits",) if fitting_only else ()))

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        values = _numbers(chunk, self.metric, "Best")
        positions = np.flatnonzero(_candidates(chunk, self.fitting_only) & ~np.isnan(values))
        key = values[positions] if self.direction == "min" else -values[positions]
        ranked = positions[np.lexsort((chunk.index.to_numpy()[positions], key))]  # by value, ties by position
        if self.by:  # rank on the key columns only, then copy the few rows kept
            keys = chunk[self.by].iloc[ranked].reset_index(drop=True)
            kept = keys.groupby(self.by, sort=False, observed=True, dropna=False).head(self.k).index.to_numpy()
            ranked = ranked[kept]
        else:
            ranked = ranked[:self.k]
        best: pd.DataFrame = chunk.iloc[ranked]
        return best

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if state.empty:
            return _plain(state)
        values = state[self.metric].to_numpy(dtype=np.float64)
        order = pd.DataFrame({**{f"g{i}": state[c].astype(object).to_numpy() for i, c in enumerate(self.by)},
                              "key": values if self.direction == "min" else -values,
                              "pos": state.index.to_numpy()})
        ranked = order.sort_values([*order.columns], kind="stable").index.to_numpy()
        best = state.iloc[ranked]
        if self.by:
            best = best.groupby([best[c].astype(object) for c in self.by], sort=False, dropna=False).head(self.k)
        else:
            best = best.head(self.k)
        return _plain(best)


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with categorical and string columns as plain objects (chunks and partitions may order categories
    apart, and a state sent between processes may come back with inferred string columns)."""
    import pandas as pd

    categorical = [c for c in table.columns
                   if isinstance(table[c].dtype, (pd.CategoricalDtype, pd.StringDtype))]
    return table.astype({c: object for c in categorical}) if categorical else table


class Pareto(Reduction):
    """The rows no other row dominates over ``objectives`` (``{column: "min" | "max"}``), e.g.
    ``Pareto({"latency_s": "min", "peak_ops_per_s": "min"})``, one front per group of ``by`` (no ``by``: one front
    over all rows). A row is dominated when another of its group is at least as good in every objective and better
    in one; rows equal in every objective are all kept. Throughput or latency of different networks are not
    comparable: over a sweep of several networks, one front over all rows keeps mostly the lightest network's rows
    (ResNet-50 at thousands of samples/s dominates every BERT row at the same peak), so rank designs per network
    with ``by="network"``. A missing value in a ``by`` column is a group of its own. Rows whose network does not
    fit the memories (``fits`` False) are no candidates unless ``fitting_only=False``, nor are rows with NaN in an
    objective (neither better nor worse than any other). Sorted by the groups' values (missing last), then by the
    objectives in the order given, then by sweep position.
    """

    def __init__(self, objectives: Mapping[str, Direction], fitting_only: bool = True,
                 by: str | Sequence[str] = ()) -> None:
        if len(objectives) < 2:
            raise SpecError(f"Pareto needs at least two objectives, got {list(objectives)}")
        for column, direction in objectives.items():
            _check_direction(f"Pareto objective {column}", direction)
        self.objectives, self.fitting_only = dict(objectives), fitting_only
        self.by = _unique(by)
        self.columns = (*self.objectives, *self.by, "status", *(("fits",) if fitting_only else ()))

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        points = np.column_stack([_numbers(chunk, c, "Pareto") * (1.0 if d == "min" else -1.0)
                                  for c, d in self.objectives.items()])
        positions = np.flatnonzero(_candidates(chunk, self.fitting_only) & ~np.isnan(points).any(axis=1))
        if not self.by:
            return self.finalize(chunk.iloc[positions[nondominated(points[positions])]])
        groups = chunk[self.by].iloc[positions].groupby(self.by, sort=False, observed=True, dropna=False).ngroup()
        codes = groups.to_numpy()
        keep = np.zeros(len(positions), dtype=bool)
        for code in np.unique(codes):
            members = np.flatnonzero(codes == code)
            keep[members[nondominated(points[positions[members]])]] = True
        return self.finalize(chunk.iloc[positions[keep]])

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if state.empty:
            return _plain(state)
        keys = [state[c].to_numpy(dtype=np.float64) * (1.0 if d == "min" else -1.0)
                for c, d in self.objectives.items()]
        if not self.by:
            return _plain(state.iloc[np.lexsort((state.index.to_numpy(), *reversed(keys)))])
        order = pd.DataFrame({**{f"g{i}": state[c].astype(object).to_numpy() for i, c in enumerate(self.by)},
                              **{f"k{j}": key for j, key in enumerate(keys)}, "pos": state.index.to_numpy()})
        return _plain(state.iloc[order.sort_values([*order.columns], kind="stable").index.to_numpy()])


def nondominated(points: np.ndarray) -> np.ndarray:
    """(N,) bool: rows of ``points`` (N, M), all to minimize and none NaN, that no other row dominates.

    In lexicographic order a point's dominators all come before it. Two objectives: a point is dominated when an
    earlier one has a smaller second value, or the same one and a smaller first (the earliest point at the
    running minimum has the smallest first value), O(N log N). More: equal rows share their fate, so only
    distinct rows are compared; among those, in lexicographic order, a row is dominated exactly when an earlier
    one is at most as large in every objective but the first (:func:`_front_of_sorted`).
    """
    n, m = points.shape
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    order = np.lexsort(points.T[::-1])
    if m == 2:
        first, second = points[order, 0], points[order, 1]
        low = np.minimum.accumulate(second)  # low[j]: the least second value of points 0 .. j
        starts = np.flatnonzero(np.r_[True, low[1:] < low[:-1]])
        at_low = starts[np.searchsorted(starts, np.arange(n), side="right") - 1]  # earliest point reaching low[j]
        dominated = np.zeros(n, dtype=bool)
        dominated[1:] = (low[:-1] < second[1:]) | ((low[:-1] == second[1:]) & (first[at_low[:-1]] < first[1:]))
        keep[order[~dominated]] = True
        return keep
    ordered = points[order]
    new = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]  # the first of each run of equal rows
    on_front = _front_of_sorted(ordered[new])
    keep[order] = on_front[np.cumsum(new) - 1]
    return keep


FRONT_BLOCK = 1 << 14
"""Most points of a Pareto front search checked against the front found so far in one vectorized step (the
first block holds :data:`FRONT_SUB_BLOCK` points, each next one twice as many, while the front is small)."""

FRONT_SUB_BLOCK = 256
"""Most surviving points compared with each other in one step (their pairwise comparison is this squared)."""


def _front_of_sorted(points: np.ndarray) -> np.ndarray:
    """(N,) bool: the rows of ``points`` (N, M >= 3; distinct, in lexicographic order, none NaN) that no earlier
    row dominates, i.e. no earlier row is at most as large in each of the objectives 2 .. M.

    The rows are taken in blocks of up to :data:`FRONT_BLOCK`: each block is checked against the front found so
    far (:class:`_Staircase` for three objectives, :class:`_Pile` for more), and its survivors, in runs of
    :data:`FRONT_SUB_BLOCK`, against the front again (it grew with the previous run) and against each other.
    Exact: a row dominated by a row that is off the front is dominated by the front row that dominates that one.
    Three objectives: a block of B rows is checked in O(B log F) (F: the front's size so far) and each run of
    survivors re-sorts the staircase, O(F log F); more: O(B F) per block, less as the rows that a piece of the
    front dominates drop out of the comparisons with the next piece.
    """
    n, m = points.shape
    rest = points[:, 1:]  # in lexicographic order, earlier rows are never larger in the first objective
    front: _Staircase | _Pile = _Staircase() if m == 3 else _Pile(m - 1)
    on_front = np.zeros(n, dtype=bool)
    start, size = 0, FRONT_SUB_BLOCK
    while start < n:
        block = rest[start:start + size]
        alive = np.flatnonzero(~front.dominates(block))
        for run_start in range(0, len(alive), FRONT_SUB_BLOCK):
            run = alive[run_start:run_start + FRONT_SUB_BLOCK]
            if run_start:  # the front has grown since the whole block was checked
                run = run[~front.dominates(block[run])]
            below = _at_most(block[run], block[run])  # [i, j]: row j <= row i in every objective
            run = run[~np.tril(below, -1).any(axis=1)]  # only earlier rows can dominate
            on_front[start + run] = True
            front.add(block[run])
        start, size = start + len(block), min(2 * size, FRONT_BLOCK)
    return on_front


def _at_most(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(K, J) bool: whether ``others[j]`` (J, W) is at most ``points[k]`` (K, W) in every objective (one
    objective at a time: a comparison over a short last axis is several times slower)."""
    result = others[None, :, 0] <= points[:, 0, None]
    for column in range(1, points.shape[1]):
        result &= others[None, :, column] <= points[:, column, None]
    return result


class _Staircase:
    """The points of a front in two objectives (y, z) that no other dominates: y strictly increasing, z strictly
    decreasing, so the least z among the points with y <= v is the one at the largest such y."""

    def __init__(self) -> None:
        self.y, self.z = np.empty(0), np.empty(0)

    def dominates(self, points: np.ndarray) -> np.ndarray:
        """(K,) bool: whether some point of the staircase is at most ``points[k]`` (K, 2) in both objectives."""
        at = np.searchsorted(self.y, points[:, 0], side="right") - 1
        result: np.ndarray = (at >= 0) & (self.z[np.maximum(at, 0)] <= points[:, 1]) if len(self.y) else \
            np.zeros(len(points), dtype=bool)
        return result

    def add(self, points: np.ndarray) -> None:
        """Add ``points`` (K, 2), keeping only the points that no other is at most in both objectives."""
        if not len(points):
            return
        y, z = np.concatenate([self.y, points[:, 0]]), np.concatenate([self.z, points[:, 1]])
        order = np.lexsort((z, y))
        y, z = y[order], z[order]
        lowest = np.minimum.accumulate(z)
        kept = np.r_[True, z[1:] < lowest[:-1]]
        self.y, self.z = y[kept], z[kept]


class _Pile:
    """The points of a front found so far in three or more objectives (those after the first, for four or more
    objectives), checked against a block of points piece by piece."""

    PIECE_ELEMENTS = 1 << 22
    """Most (point, front point, objective) comparisons made at once."""

    def __init__(self, width: int) -> None:
        self.points = np.empty((0, width))

    def dominates(self, points: np.ndarray) -> np.ndarray:
        """(K,) bool: whether some front point is at most ``points[k]`` in every objective; the points already
        dominated are left out of the comparisons with the next piece of the front."""
        result = np.zeros(len(points), dtype=bool)
        left = np.arange(len(points))
        piece = max(1, self.PIECE_ELEMENTS // max(1, len(points) * points.shape[1]))
        for start in range(0, len(self.points), piece):
            if not len(left):
                break
            hit = _at_most(points[left], self.points[start:start + piece]).any(axis=1)
            result[left[hit]] = True
            left = left[~hit]
        return result

    def add(self, points: np.ndarray) -> None:
        """Add ``points`` (K, width), none dominated by the pile."""
        self.points = np.concatenate([self.points, points])


class Histogram(Reduction):
    """Counts of ``column`` in the bins ``edges`` (numpy's rule: half-open bins, the last closed), per group of
    ``by``. Exact in any number of chunks.
    The result has one row per group and non-empty bin: ``by`` columns, ``bin_low``, ``bin_high``, ``count``;
    values below or above the edges count in the bins ``(-inf, edges[0])`` and ``(edges[-1], inf)``, NaN values
    in a bin whose ``bin_low`` and ``bin_high`` are NaN (last in its group), so that the counts add up to the
    predicted rows. A missing value in a ``by`` column (a grid axis on the rows of a plain spec) is a group of
    its own.
    """

    def __init__(self, column: str, edges: Sequence[float] | np.ndarray, by: str | Sequence[str] = ()) -> None:
        try:
            self.edges = np.asarray(edges, dtype=np.float64)
        except (TypeError, ValueError):
            self.edges = np.empty(0)  # refused below
        if self.edges.ndim != 1 or len(self.edges) < 2 or not (np.diff(self.edges) > 0).all():
            raise SpecError(f"Histogram: edges must be at least two increasing numbers, got {list(edges)!r}")
        self.column, self.by = column, _unique(by)
        self.columns = (column, *self.by, "status")

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if "count" in chunk.columns and "bin_low" in chunk.columns:  # already a state: add counts up
            return chunk.groupby([*self.by, "bin_low", "bin_high"], sort=False, observed=True,
                                 dropna=False)["count"].sum().reset_index()
        ok = chunk[_candidates(chunk)]
        values = _numbers(ok, self.column, "Histogram")
        lows = np.concatenate([[-np.inf], self.edges, [np.nan]])
        highs = np.concatenate([self.edges, [np.inf, np.nan]])
        bins = np.searchsorted(self.edges, values, side="right")  # 0: below, len(edges): at or above the last
        bins[values == self.edges[-1]] = len(self.edges) - 1  # the last bin is closed
        bins[np.isnan(values)] = len(self.edges) + 1
        frame = pd.DataFrame({c: ok[c].astype(object).to_numpy() for c in self.by})
        frame["bin"] = bins
        frame["count"] = 1
        counts = frame.groupby([*self.by, "bin"], sort=False, dropna=False)["count"].sum().reset_index()
        counts["bin_low"], counts["bin_high"] = lows[counts["bin"]], highs[counts["bin"]]
        return counts[[*self.by, "bin_low", "bin_high", "count"]]

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        if state.empty:
            return state
        return state.sort_values([*self.by, "bin_low"], kind="stable").reset_index(drop=True)
