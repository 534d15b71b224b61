"""Pareto fronts: the non-dominated rows of a DataFrame for two objectives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rooflinekit.compare.records import require_columns
from rooflinekit.errors import RecordError


def pareto_front(frame: pd.DataFrame, x: str, y: str, maximize: tuple[bool, bool] = (False, True)) -> pd.DataFrame:
    """The non-dominated rows of ``frame`` for the objectives ``x`` and ``y`` (in input order, original index).

    ``maximize`` says per objective whether larger is better (default: small ``x``, large ``y``, e.g. latency and
    accuracy). Row a dominates row b when a is at least as good in both objectives and better in one; identical
    points do not dominate each other. Rows with NaN in ``x`` or ``y`` are not compared and not returned.
    Sort-based, O(n log n).
    """
    require_columns(frame, [x, y], "rows")
    if len(maximize) != 2:
        raise RecordError(f"maximize needs one flag per objective ({x}, {y}), got {maximize!r}")
    values = frame[[x, y]].to_numpy(dtype="float64")
    positions = np.flatnonzero(~np.isnan(values).any(axis=1))
    a = values[positions, 0] * (-1 if maximize[0] else 1)  # both objectives: smaller is better
    b = values[positions, 1] * (-1 if maximize[1] else 1)
    order = np.lexsort((b, a))
    keep = np.zeros(len(a), dtype=bool)
    best_b = np.inf  # smallest b among points of strictly smaller a
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and a[order[stop]] == a[order[start]]:
            stop += 1
        group = order[start:stop]  # equal a, sorted by b
        group_min = b[group[0]]
        if group_min < best_b:
            keep[group[b[group] == group_min]] = True
        best_b = min(best_b, group_min)
        start = stop
    return frame.iloc[positions[keep]]
