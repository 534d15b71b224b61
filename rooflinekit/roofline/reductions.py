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


def _ok(chunk: pd.DataFrame, fitting_only: bool = False) -> pd.DataFrame:
    return chunk[_candidates(chunk, fitting_only)]


def _check_direction(name: str, direction: str) -> None:
    if direction not in ("min", "max"):
        raise SpecError(f"{name}: direction {direction!r} must be 'min' or 'max'")


class Best(Reduction):
    """The best ``k`` rows (default 1) by ``metric`` within each group of ``by`` (no ``by``: over all rows).

    ``Best("latency_s", by="network")`` is the fastest configuration of each network; ``by="hardware"`` the
    network each hardware runs fastest (a grid's points share their base spec's name: ``by="grid_point"``
    ranks per point); ``Best("fps", "max", k=10)`` the top ten overall. Rows whose network does not fit the
    memories (``fits`` False) are no candidates unless ``fitting_only=False``. Ties go to the row that comes first
    in the sweep. The result is sorted by the groups' values, then best first.
    """

    def __init__(self, metric: str = "latency_s", direction: Direction = "min", by: str | Sequence[str] = (),
                 k: int = 1, fitting_only: bool = True) -> None:
        _check_direction("Best", direction)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SpecError(f"Best: k must be a positive integer, got {k!r}")
        self.metric, self.direction, self.k, self.fitting_only = metric, direction, k, fitting_only
        self.by = [by] if isinstance(by, str) else list(by)
        self.columns = (metric, *self.by, "status", *(("fits",) if fitting_only else ()))

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        positions = np.flatnonzero(_candidates(chunk, self.fitting_only))
        values = chunk[self.metric].to_numpy(dtype=np.float64)[positions]
        key = values if self.direction == "min" else -values
        ranked = positions[np.lexsort((chunk.index.to_numpy()[positions], key))]  # by value, ties by position
        if self.by:  # rank on the key columns only, then copy the few rows kept
            keys = chunk[self.by].iloc[ranked].reset_index(drop=True)
            kept = keys.groupby(self.by, sort=False, observed=True).head(self.k).index.to_numpy()
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
            best = best.groupby([best[c].astype(object) for c in self.by], sort=False).head(self.k)
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
    ``Pareto({"latency_s": "min", "peak_ops_per_s": "min"})``. A row is dominated when another is at least as
    good in every objective and better in one; rows equal in every objective are all kept. Rows whose network
    does not fit the memories (``fits`` False) are no candidates unless ``fitting_only=False``. Sorted by the
    objectives in the order given, then by sweep position.
    """

    def __init__(self, objectives: Mapping[str, Direction], fitting_only: bool = True) -> None:
        if len(objectives) < 2:
            raise SpecError(f"Pareto needs at least two objectives, got {list(objectives)}")
        for column, direction in objectives.items():
            _check_direction(f"Pareto objective {column}", direction)
        self.objectives, self.fitting_only = dict(objectives), fitting_only
        self.columns = (*self.objectives, "status", *(("fits",) if fitting_only else ()))

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        ok = _ok(chunk, self.fitting_only)
        points = np.column_stack([ok[c].to_numpy(dtype=np.float64) * (1.0 if d == "min" else -1.0)
                                  for c, d in self.objectives.items()])
        keep = _nondominated(points)
        return self.finalize(ok[keep])

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        if state.empty:
            return _plain(state)
        keys = [state[c].to_numpy(dtype=np.float64) * (1.0 if d == "min" else -1.0)
                for c, d in self.objectives.items()]
        order = np.lexsort((state.index.to_numpy(), *reversed(keys)))
        return _plain(state.iloc[order])


def _nondominated(points: np.ndarray) -> np.ndarray:
    """(N,) bool: rows of ``points`` (N, M), all to minimize, that no other row dominates."""
    n = len(points)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    order = np.lexsort(points.T[::-1])  # lexicographic: a dominating point comes before what it dominates
    front = np.empty((0, points.shape[1]))
    for i in order:
        p = points[i]
        if len(front) and ((front <= p).all(axis=1) & (front < p).any(axis=1)).any():
            continue
        keep[i] = True
        front = np.vstack([front, p])
    return keep


class Histogram(Reduction):
    """Counts of ``column`` in the bins ``edges`` (numpy's rule: half-open bins, the last closed), per group of
    ``by``. Exact in any number of chunks.
    The result has one row per group and non-empty bin: ``by`` columns, ``bin_low``, ``bin_high``, ``count``;
    values below or above the edges count in the bins ``(-inf, edges[0])`` and ``(edges[-1], inf)``.
    """

    def __init__(self, column: str, edges: Sequence[float] | np.ndarray, by: str | Sequence[str] = ()) -> None:
        self.column, self.edges = column, np.asarray(edges, dtype=np.float64)
        if self.edges.ndim != 1 or len(self.edges) < 2 or not (np.diff(self.edges) > 0).all():
            raise SpecError(f"Histogram: edges must be at least two increasing numbers, got {list(edges)!r}")
        self.by = [by] if isinstance(by, str) else list(by)
        self.columns = (column, *self.by, "status")

    def partial(self, chunk: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if "count" in chunk.columns and "bin_low" in chunk.columns:  # already a state: add counts up
            return chunk.groupby([*self.by, "bin_low", "bin_high"], sort=False, observed=True,
                                 dropna=False)["count"].sum().reset_index()
        ok = _ok(chunk)
        values = ok[self.column].to_numpy(dtype=np.float64)
        lows = np.concatenate([[-np.inf], self.edges])
        highs = np.concatenate([self.edges, [np.inf]])
        bins = np.searchsorted(self.edges, values, side="right")  # 0: below, len(edges): at or above the last
        bins[values == self.edges[-1]] = len(self.edges) - 1  # the last bin is closed
        frame = pd.DataFrame({c: ok[c].astype(object).to_numpy() for c in self.by})
        frame["bin"] = bins
        frame["count"] = 1
        counts = frame.groupby([*self.by, "bin"], sort=False)["count"].sum().reset_index()
        counts["bin_low"], counts["bin_high"] = lows[counts["bin"]], highs[counts["bin"]]
        return counts[[*self.by, "bin_low", "bin_high", "count"]]

    def finalize(self, state: pd.DataFrame) -> pd.DataFrame:
        if state.empty:
            return state
        return state.sort_values([*self.by, "bin_low"], kind="stable").reset_index(drop=True)
