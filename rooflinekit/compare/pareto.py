"""Pareto fronts: the non-dominated rows of a DataFrame for two objectives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rooflinekit.compare.records import require_columns
from rooflinekit.errors import RecordError
from rooflinekit.roofline.reductions import nondominated


def pareto_front(frame: pd.DataFrame, x: str, y: str, maximize: tuple[bool, bool] = (False, True)) -> pd.DataFrame:
    """The non-dominated rows of ``frame`` for the objectives ``x`` and ``y`` (in input order, original index).

    ``maximize`` says per objective whether larger is better (default: small ``x``, large ``y``, e.g. latency and
    accuracy). Row a dominates row b when a is at least as good in both objectives and better in one; identical
    points do not dominate each other. Rows with NaN in ``x`` or ``y`` are not compared and not returned; infinite
    values compare as numbers (a row at ``-inf`` accuracy is still on the front when nothing is faster).
    Sort-based, O(n log n) (:func:`rooflinekit.roofline.reductions.nondominated`).
    """
    require_columns(frame, [x, y], "rows")
    if len(maximize) != 2:
        raise RecordError(f"maximize needs one flag per objective ({x}, {y}), got {maximize!r}")
    values = frame[[x, y]].to_numpy(dtype="float64")
    positions = np.flatnonzero(~np.isnan(values).any(axis=1))
    a = values[positions, 0] * (-1 if maximize[0] else 1)  # both objectives: smaller is better
    b = values[positions, 1] * (-1 if maximize[1] else 1)
    keep = nondominated(np.column_stack([a, b]))
    return frame.iloc[positions[keep]]
