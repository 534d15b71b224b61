"""Leave-one-device-out cross-validation within a hardware class, shared by the NAS-Bench-201 and NeuSight schemes.

Each device's rows are predicted by predictors fitted on the rows of the **other devices of its hardware class**
(GPU from GPUs, CPU from CPUs; factors never cross classes); the held-out device is known only by its spec (the
features are its layer-mode roofline times and kernel counts) and its software stack. A device alone in its class
is not predicted (no row of its class to fit on) and is reported so.

Predictors side by side (:data:`PREDICTORS`):

- ``roofline``: the layer-mode bound ``roofline_latency_s``, nothing fitted;
- ``naive``: ``latency_s = e x roofline_latency_s`` with e the median of ``latency_s / roofline_latency_s`` over the
  training rows (one median efficiency for the hardware class, :class:`MedianEfficiency`);
- ``calibrated``: :class:`~rooflinekit.compare.calibrate.CalibratedPredictor` with the per-kernel and per-call
  overhead terms (t_ref :data:`OVERHEAD_REF_S` and :data:`CALL_REF_S`), on the ``fine`` op classes, and 80 %
  intervals from its own inner cross-validation; the held-out device is one it never saw, so its interval is the
  unseen-device one (:mod:`rooflinekit.compare.calibrate.intervals`), whose prior the data set modules take from
  the other data sets (``offset_prior(exclude=...)``).

Metrics per predictor (:func:`metrics`): those of :func:`rooflinekit.compare.evaluate.error_metrics` over all rows,
where ``spearman`` is the **median over groups** (e.g. device x batch) of the rank correlation inside each group
when ``rank_groups`` is given (how a NAS ranks networks on one device), and ``coverage_80_pct``, the share of
measurements inside the calibrated 80 % interval.
"""

from __future__ import annotations

import warnings
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.evaluate import error_metrics, spearman
from rooflinekit.errors import CalibrationError

PREDICTORS = ("roofline", "naive", "calibrated")
OVERHEAD_REF_S = 1e-5
"""t_ref of the per-kernel overhead term (s): the scale of an eager framework's per-op dispatch on a GPU or CPU."""
CALL_REF_S = 1e-3
"""t_ref of the per-call overhead term (s): the scale of one eager inference call's fixed cost."""
OP_CLASSES = "fine"
"""The class scheme of these schemes' features (elementwise, norm and pool apart)."""


class MedianEfficiency:
    """Naive baseline: ``latency_s = e * roofline_latency_s``, e = median over the training rows of
    ``latency_s / roofline_latency_s`` (dimensionless; 1 / e is the median efficiency). Learned: ``ratio_``."""

    def fit(self, features: pd.DataFrame) -> "MedianEfficiency":
        ratio = features["latency_s"] / features["roofline_latency_s"]
        if len(ratio) == 0 or not (np.isfinite(ratio) & (ratio > 0)).all():
            raise CalibrationError("the median-efficiency baseline needs rows with a positive latency_s and "
                                   "roofline_latency_s")
        self.ratio_ = float(ratio.median())
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "ratio_"):
            raise CalibrationError("this MedianEfficiency is not fitted yet; call fit(features) first")
        return self.ratio_ * features["roofline_latency_s"].to_numpy(dtype=float)


def calibrated_predictor(**params: object) -> CalibratedPredictor:
    """The calibrated predictor of these schemes: defaults plus the per-kernel and per-call overhead terms, on the
    ``fine`` op classes."""
    return CalibratedPredictor(**{"kernel_overhead_ref_s": OVERHEAD_REF_S, "call_overhead_ref_s": CALL_REF_S,
                                  "op_classes": OP_CLASSES, **params})  # type: ignore[arg-type]


class Baseline(Protocol):
    """A naive predictor: ``fit(features)`` returns it fitted, ``predict(features)`` latencies (s)."""

    def fit(self, features: pd.DataFrame) -> "Baseline": ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


def fold_predictions(train: pd.DataFrame, held: pd.DataFrame, calibrated: CalibratedPredictor,
                     naive: Baseline, own_class: np.ndarray | None = None,
                     baseline: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One fold: ``calibrated`` fitted on ``train`` and ``naive`` on the rows of ``train`` marked ``own_class``
    (the held-out rows' hardware class; default all), every predictor's latency (s) for ``held``. ``baseline``:
    the ``(train, held)`` rows the roofline and ``naive`` read instead, when the calibrated features are costed
    otherwise (another traffic, chosen per fold); the same rows, index included.

    Returns
    -------
    pandas.DataFrame
        Index of ``held``; columns :data:`PREDICTORS`, ``low`` and ``high`` (the calibrated 80 % interval, s) and
        ``depth`` (calibration levels that fell back). Calibration warnings of the fold are silenced: the schemes
        report fallbacks through ``depth``.
    """
    plain_train, plain_held = baseline if baseline is not None else (train, held)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        calibrated.fit(train)
        low, high = calibrated.predict_interval(held)
        return pd.DataFrame({
            "roofline": plain_held["roofline_latency_s"],
            "naive": naive.fit(plain_train if own_class is None else plain_train[own_class]).predict(plain_held),
            "calibrated": calibrated.predict(held), "low": low, "high": high,
            "depth": calibrated.explain(held)["depth"]}, index=held.index)


def leave_one_device_out(features: pd.DataFrame, device: str = "catalog_hardware",
                         make: Callable[[], CalibratedPredictor] = calibrated_predictor,
                         progress: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    """Out-of-device predictions (s) of every row whose class holds another device.

    Returns
    -------
    pandas.DataFrame
        Index: the predicted rows of ``features``; columns :data:`PREDICTORS`, ``low`` and ``high`` (the calibrated
        80 % interval, s) and ``depth`` (calibration levels that fell back).
    """
    parts = []
    devices = list(dict.fromkeys(features[device]))
    for number, held in enumerate(devices, start=1):
        test = (features[device] == held).to_numpy()
        hardware_class = features.loc[test, "hardware_class"].iloc[0]
        own = (features["hardware_class"] == hardware_class).to_numpy() & ~test
        if not own.any():
            progress(f"{held}: alone in hardware class {hardware_class}, not predicted")
            continue
        progress(f"leave {held} out ({number}/{len(devices)}): fit on {(~test).sum()} rows of "
                 f"{features.loc[~test, device].nunique()} other devices, {features.loc[own, device].nunique()} "
                 f"of them {hardware_class}")
        parts.append(fold_predictions(features[~test], features[test], make(), MedianEfficiency(), own[~test]))
    if not parts:
        raise CalibrationError("no device shares its hardware class with another; leave-one-device-out needs two")
    return pd.concat(parts)


def metrics(features: pd.DataFrame, predicted: pd.DataFrame, scheme: str,
            rank_groups: Sequence[str] = ()) -> list[dict[str, object]]:
    """One row per predictor (module docstring); ``rank_groups``: columns whose value groups the rows ranked."""
    measured = features.loc[predicted.index, "latency_s"]
    rows = []
    for name in PREDICTORS:
        row: dict[str, object] = {"scheme": scheme, "predictor": name, **error_metrics(measured, predicted[name])}
        if rank_groups:
            keys = features.loc[predicted.index, list(rank_groups)].astype(str).agg(" ".join, axis=1)
            row["spearman"] = float(np.median([spearman(measured[keys == k], predicted.loc[keys == k, name])
                                               for k in keys.unique() if (keys == k).sum() > 2]))
        inside = (measured >= predicted["low"]) & (measured <= predicted["high"])
        row["coverage_80_pct"] = float(100 * inside.mean()) if name == "calibrated" else float("nan")
        rows.append(row)
    return rows


def breakdown(features: pd.DataFrame, predicted: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Calibrated metrics per group of ``by`` (e.g. device and batch): n, median APE, Spearman, coverage, and the
    median of measured / roofline (how far the group is from its bound)."""
    frame = features.loc[predicted.index]
    rows = []
    for key, group in frame.groupby(list(by), sort=True):
        p = predicted.loc[group.index]
        m = group["latency_s"]
        scores = error_metrics(m, p["calibrated"])
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "n": scores["n"],
                     "measured_over_roofline": float((m / group["roofline_latency_s"]).median()),
                     "median_ape_pct": scores["median_ape_pct"], "spearman": scores["spearman"],
                     "coverage_80_pct": float(100 * ((m >= p["low"]) & (m <= p["high"])).mean()),
                     "depth": int(p["depth"].max())})
    return pd.DataFrame(rows)


def print_tables(*tables: pd.DataFrame) -> None:
    """Print a scheme's tables (metrics, per-device breakdown) to stdout, numbers to 3 decimals, 200 columns wide."""
    with pd.option_context("display.width", 200):
        for table in tables:
            print(table.round(3).to_string(index=False))
