"""The calibration shipped with rooflinekit, and extending it with your own records.

The shipped calibration (``rooflinekit/calibrations/``, rebuilt by ``python tools/build_default_calibration.py``
from the public data in ``../shared/data``) holds a fitted :class:`~.model.CalibratedPredictor` as JSON and the
featurized records it was fitted on as CSV, so that :func:`extend_default_calibration` can refit it with a user's
records added. It covers: MLPerf Tiny v0.5-v1.1, closed division, CPU-only Arm Cortex-M boards (hardware class
MCU). Other hardware classes are refused by the predictor (factors never cross classes) until records of them are
added.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from io import StringIO
from typing import Any

import pandas as pd

from rooflinekit.compare.calibrate.model import CalibratedPredictor

DEFAULT_NAME = "mlperf_tiny_cortex_m"


def _packaged(suffix: str) -> str:
    return (resources.files("rooflinekit") / "calibrations" / f"{DEFAULT_NAME}{suffix}").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _default_json() -> str:
    return _packaged(".json")


def default_calibration() -> CalibratedPredictor:
    """A fresh copy of the shipped calibration (module docstring)."""
    return CalibratedPredictor.from_json(_default_json())


def default_features() -> pd.DataFrame:
    """The featurized records the shipped calibration was fitted on (one row per record)."""
    return pd.read_csv(StringIO(_packaged("_features.csv")))


def extend_default_calibration(features: pd.DataFrame, **params: Any) -> CalibratedPredictor:
    """The shipped calibration refitted with ``features`` (from
    :func:`~.features.calibration_features` on your records) added to its own; ``params`` go to
    :class:`~.model.CalibratedPredictor` (default: the shipped calibration's)."""
    shipped = default_calibration()
    combined = pd.concat([default_features(), features], ignore_index=True)
    times = [c for c in combined.columns if c.startswith("roofline_s:")]
    combined[times] = combined[times].fillna(0.0)
    return CalibratedPredictor(**{**shipped.get_params(), **params}).fit(combined)
