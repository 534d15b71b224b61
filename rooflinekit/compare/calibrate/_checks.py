"""Checks of a calibration read from JSON (:meth:`CalibratedPredictor.from_json`): a file nobody checked must not
give silently wrong predictions (``theta0: 1e308`` makes every factor overflow to an infinite latency, 0 fps) nor a
foreign exception later."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from rooflinekit._limits import shown
from rooflinekit.errors import CalibrationError, RooflineError

if TYPE_CHECKING:
    from rooflinekit.compare.calibrate.model import CalibratedPredictor

MAX_ABS_LOG_FACTOR = 50.0
"""Largest ``|log factor|`` a calibration may hold: exp(50) ~ 5e21, far beyond any real efficiency factor, and
sums of a few such terms stay finite."""


def _finite_log(value: Any, where: str, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)) or abs(float(value)) > MAX_ABS_LOG_FACTOR:
        raise CalibrationError(f"calibration JSON: {where} = {shown(value)} is not a finite log factor within "
                               f"+-{MAX_ABS_LOG_FACTOR:g}; {hint}")


def check_loaded(predictor: "CalibratedPredictor", hint: str) -> None:
    """Refuse a calibration whose parameters or learned values cannot give finite, positive predictions.

    Parameters
    ----------
    predictor : CalibratedPredictor
        As read by ``from_json``.
    hint : str
        What to do, appended to each message.

    Raises
    ------
    CalibrationError
        A parameter out of range, a non-finite or absurd ``theta0`` or coefficient, an empty or repeated class
        list, a count below zero.
    """
    try:
        predictor._check_params()
    except RooflineError as exc:
        raise CalibrationError(f"calibration JSON: {exc}; {hint}") from None
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"calibration JSON: params malformed ({type(exc).__name__}: {shown(str(exc), 120)}); "
                               f"{hint}") from None
    _finite_log(predictor.theta0_, "theta0", hint)
    centres = getattr(predictor, "class_theta0_", {})
    for hardware_class, value in centres.items():
        _finite_log(value, f"class_theta0.{shown(hardware_class, 40)}", hint)
    uncentred = sorted(set(predictor.hardware_classes_) - set(centres))
    if getattr(predictor, "class_scoped_", False) and uncentred:
        raise CalibrationError(f"calibration JSON: class_scoped is true but class_theta0 {shown(centres)} lacks a "
                               f"centre for hardware classes {uncentred}; {hint}")
    classes = predictor.classes_
    if not classes or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise CalibrationError(f"calibration JSON: classes {shown(classes)} must be distinct non-empty names; {hint}")
    for name in ("n_records_", "n_iter_"):
        if getattr(predictor, name) < 0:
            raise CalibrationError(f"calibration JSON: {name.rstrip('_')} = {getattr(predictor, name)} is negative; "
                                   f"{hint}")
    if not math.isfinite(predictor.objective_):
        raise CalibrationError(f"calibration JSON: objective = {predictor.objective_!r} is not finite; {hint}")
    for level, keys in predictor.coef_.items():
        for key, values in keys.items():
            for cls, value in zip(classes, values.tolist()):
                _finite_log(value, f"coefficients.{level}.{shown(key, 40)}.{cls}", hint)
    for depth, bounds in getattr(predictor, "residual_quantiles_", {}).items():
        if not all(math.isfinite(b) and abs(b) <= MAX_ABS_LOG_FACTOR for b in bounds) or bounds[0] > bounds[1]:
            raise CalibrationError(f"calibration JSON: residual_quantiles.{depth} = {shown(bounds)} must be two "
                                   f"finite log residuals, low <= high; {hint}")
    novel = getattr(predictor, "novel_device_", {})
    if novel and (set(novel) != {"low", "high", "scale", "df", "devices"}
                  or not all(math.isfinite(v) and abs(v) <= MAX_ABS_LOG_FACTOR for v in (novel["low"], novel["high"]))
                  or novel["low"] > novel["high"] or not novel["scale"] > 0 or not novel["df"] > 0):
        raise CalibrationError(f"calibration JSON: novel_device = {shown(novel)} must hold low <= high (finite log "
                               f"residuals), a positive scale and df, and devices; {hint}")
    network = getattr(predictor, "novel_network_", {})
    bounds = (("low", "high"), ("low_unseen_device", "high_unseen_device"))
    if network and (set(network) != {"low", "high", "low_unseen_device", "high_unseen_device", "scale", "df",
                                     "networks"}
                    or not all(math.isfinite(network[k]) and abs(network[k]) <= MAX_ABS_LOG_FACTOR
                               for pair in bounds for k in pair)
                    or any(network[lo] > network[hi] for lo, hi in bounds)
                    or not network["scale"] > 0 or not network["df"] > 0):
        raise CalibrationError(f"calibration JSON: novel_network = {shown(network)} must hold low <= high and "
                               f"low_unseen_device <= high_unseen_device (finite log residuals), a positive scale "
                               f"and df, and networks; {hint}")
