"""Judge latency predictors: error metrics, leave-one-group-out cross-validation and a naive baseline.

For measured latencies m_i > 0 and predictions p_i:

    ape_pct_i      = 100 * |p_i / m_i - 1|                      absolute percentage error
    median_ape_pct = median_i ape_pct_i
    within_10_pct  = 100 * share of rows with ape_pct_i <= 10   (within_25_pct likewise with 25)
    spearman       = Pearson correlation of the ranks of m and of p (tied values share their average rank);
                     NaN when either side is constant

Cross-validation (:func:`cross_val_predict`) predicts every row with a predictor fitted on the rows outside its
group: groups of one row per (system, network) give leave-one-model-out per system, groups by board give
leave-one-board-out.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import pandas as pd

from rooflinekit.errors import CalibrationError

METRICS = ("n", "median_ape_pct", "within_10_pct", "within_25_pct", "spearman")


class LatencyPredictor(Protocol):
    """What cross-validation needs: ``fit(features)`` returning the predictor, ``predict(features)`` in s."""

    def fit(self, features: pd.DataFrame) -> "LatencyPredictor": ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


def _pair(measured: Sequence[float], predicted: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    m, p = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    if m.shape != p.shape or m.ndim != 1:
        raise CalibrationError(f"measured and predicted must be 1-D of equal length, got shapes {m.shape} and "
                               f"{p.shape}")
    if len(m) == 0:
        raise CalibrationError("no rows to score; give at least one measured/predicted pair")
    bad = ~(np.isfinite(m) & (m > 0) & np.isfinite(p))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(f"row {i}: measured must be positive and both finite, got measured "
                               f"{float(m[i])!r}, predicted {float(p[i])!r}")
    return m, p


def ape_pct(measured: Sequence[float], predicted: Sequence[float]) -> np.ndarray:
    """Absolute percentage error per row, 100 * |p / m - 1|."""
    m, p = _pair(measured, predicted)
    return 100 * np.abs(p / m - 1)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation: Pearson correlation of average ranks (pandas ``rank`` + ``corr``)."""
    ranks_a = pd.Series(np.asarray(a, dtype=float)).rank()
    return float(ranks_a.corr(pd.Series(np.asarray(b, dtype=float)).rank()))


def error_metrics(measured: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """:data:`METRICS` of predictions against measurements (formulas in the module docstring)."""
    m, p = _pair(measured, predicted)
    errors = ape_pct(m, p)
    return {"n": len(errors), "median_ape_pct": float(np.median(errors)),
            "within_10_pct": float(100 * np.mean(errors <= 10)), "within_25_pct": float(100 * np.mean(errors <= 25)),
            "spearman": spearman(m, p)}


def leave_one_group_out(groups: Sequence) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` positions for each distinct group (in order of first appearance): test = its rows."""
    labels = pd.Series(list(groups), dtype=object)
    if labels.isna().any():
        raise CalibrationError(f"group labels must not be missing (row {int(labels.isna().to_numpy().argmax())})")
    codes, uniques = pd.factorize(labels)
    for code in range(len(uniques)):
        yield np.flatnonzero(codes != code), np.flatnonzero(codes == code)


def cross_val_predict(features: pd.DataFrame, make_predictor: Callable[[], LatencyPredictor],
                      groups: Sequence) -> np.ndarray:
    """Out-of-group prediction (s) for every row of ``features``, by a fresh ``make_predictor()`` per group (a
    progress bar per fold on stderr when it is a terminal, see :mod:`rooflinekit.progress`)."""
    if len(groups) != len(features):
        raise CalibrationError(f"{len(groups)} group labels for {len(features)} rows; give one label per row")
    predicted = np.full(len(features), np.nan)
    from rooflinekit.progress import progress  # a bar on stderr when it is a terminal

    folds = list(leave_one_group_out(groups))
    for train, test in progress(folds, "cross-validation", unit="fold"):
        if len(train) == 0:
            raise CalibrationError("a single group holds every row; cross-validation needs at least two groups")
        predicted[test] = make_predictor().fit(features.iloc[train]).predict(features.iloc[test])
    return predicted


class MedianCyclesPerMac:
    """Naive baseline: latency_s = c(core family) * macs / spec_clock_hz, where c is the median of
    latency_s * spec_clock_hz / macs over the training rows of that core family (all rows for an unseen family).

    Reads the columns ``core_family``, ``macs``, ``spec_clock_hz`` (and ``latency_s`` to fit) of
    :func:`~rooflinekit.compare.calibrate.calibration_features`. Learned: ``cycles_per_mac_`` (per family),
    ``global_cycles_per_mac_``.
    """

    def fit(self, features: pd.DataFrame) -> "MedianCyclesPerMac":
        if len(features) == 0:
            raise CalibrationError("no records to fit the cycles-per-MAC baseline")
        cycles = features["latency_s"] * features["spec_clock_hz"] / features["macs"]
        if not (np.isfinite(cycles) & (cycles > 0)).all():
            raise CalibrationError("the baseline needs a positive latency_s, spec_clock_hz and macs on every row")
        self.cycles_per_mac_ = cycles.groupby(features["core_family"]).median().to_dict()
        self.global_cycles_per_mac_ = float(cycles.median())
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "cycles_per_mac_"):
            raise CalibrationError("this MedianCyclesPerMac is not fitted yet; call fit(features) first")
        cycles = features["core_family"].map(self.cycles_per_mac_).fillna(self.global_cycles_per_mac_)
        return (cycles * features["macs"] / features["spec_clock_hz"]).to_numpy(dtype=float)
