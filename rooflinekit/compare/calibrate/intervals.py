"""Prediction intervals from cross-validated residuals (split-conformal, stratified by fallback depth).

At fit time the predictor is refitted on part of its records and predicts the rest, in the ways the future
arrives: K folds of whole networks (a new network on known systems), of whole boards and of whole software
releases, and, where records name their benchmark round, each round predicted from the earlier rounds alone
(:func:`inner_splits`). Each held-out record yields a log residual ``r = log(measured / predicted)`` and a **depth**: how many calibration levels its
prediction had to fall back on (an unseen system, board, release or stack each add one). The interval of a new
prediction with depth d is

    [predicted * exp(q_lo(d)), predicted * exp(q_hi(d))],   q = the (1 - coverage) / 2 and (1 + coverage) / 2
                                                              quantiles of the n residuals of depth d, moved
                                                              out by the split-conformal factor (n + 1) / n

(residuals of depth d or deeper where fewer than :data:`MIN_RESIDUALS` have depth exactly d, and all residuals
where even those are too few). Quantiles of held-out residuals give the stated coverage for records that resemble
the held-out ones (split-conformal prediction); stratifying by depth widens the interval of a prediction that
leans on coarser levels, as it should. Why not a parametric interval: the residuals are skewed and heavy-tailed
(a stack's release can be 2x off), and quantiles need no distribution.

Limit: a prediction deeper than any held-out residual takes the deepest depth's quantiles, which then understate
its error. This happens when the records cannot hold out what the prediction lacks, e.g. a new GPU predicted from
records of a single other GPU (no inner fold can hold a board out): on NAS-Bench-201's two GPUs the 80 % interval
held 0-63 % of the measurements (``benchmarks/fidelity/RESULTS.md``).
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd

INNER_FOLDS = 5
MIN_RESIDUALS = 10

Split = tuple[np.ndarray, np.ndarray]


def fold_labels(groups: pd.Series, folds: int = INNER_FOLDS) -> np.ndarray:
    """Fold index per row: the distinct group values dealt round-robin, in sorted order, over ``folds`` folds."""
    values = groups.fillna("<missing>").astype(str)
    order = {value: position % folds for position, value in enumerate(sorted(values.unique()))}
    return values.map(order).to_numpy()


def inner_splits(groupings: list[pd.Series], rounds: pd.Series | None) -> list[Split]:
    """(train, test) boolean masks: :data:`INNER_FOLDS` folds of each grouping's distinct values, then each round
    (sorted by its numbers) against the rounds before it."""
    splits: list[Split] = []
    for groups in groupings:
        labels = fold_labels(groups)
        splits += [(labels != fold, labels == fold) for fold in np.unique(labels)]
    if rounds is not None and rounds.notna().all():
        order = sorted(rounds.unique(), key=lambda r: tuple(int(n) for n in re.findall(r"\d+", str(r))))
        position = rounds.map({r: i for i, r in enumerate(order)}).to_numpy()
        splits += [(position < i, position == i) for i in range(1, len(order))]
    return [(train, test) for train, test in splits if train.any() and test.any()]


def held_out_residuals(features: pd.DataFrame, splits: list[Split],
                       fit_predict: Callable[[pd.DataFrame, pd.DataFrame], tuple[np.ndarray, np.ndarray]]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Log residuals ``log(measured / predicted)`` and depths of the test rows of every split.

    ``fit_predict(train, test)`` returns the predicted latency_s and the depth of each test row.
    """
    residuals, depths = [], []
    measured = features["latency_s"].to_numpy(dtype=float)
    for train, test in splits:
        predicted, depth = fit_predict(features[train], features[test])
        residuals.append(np.log(measured[test] / predicted))
        depths.append(depth)
    if not residuals:
        return np.array([]), np.array([], dtype=int)
    return np.concatenate(residuals), np.concatenate(depths).astype(int)


def residual_quantiles(residuals: np.ndarray, depths: np.ndarray, coverage: float) -> dict[int, tuple[float, float]]:
    """``{depth: (q_lo, q_hi)}`` for every depth 0..max seen (module docstring), in log space."""
    table: dict[int, tuple[float, float]] = {}
    top = int(depths.max()) if len(depths) else 0
    for depth in range(top + 1):
        pool = residuals[depths == depth]
        if len(pool) < MIN_RESIDUALS:
            pool = residuals[depths >= depth]
        if len(pool) < MIN_RESIDUALS:
            pool = residuals
        if len(pool):
            upper = min((1 + coverage) / 2 * (len(pool) + 1) / len(pool), 1.0)
            table[depth] = (float(np.quantile(pool, 1 - upper)), float(np.quantile(pool, upper)))
    return table


def interval(predicted: np.ndarray, depths: np.ndarray,
             quantiles: dict[int, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper interval bounds (s) per prediction; a depth deeper than any seen takes the deepest's."""
    top = max(quantiles)
    lo = np.array([quantiles[min(int(d), top)][0] for d in depths])
    hi = np.array([quantiles[min(int(d), top)][1] for d in depths])
    return predicted * np.exp(lo), predicted * np.exp(hi)
