"""Calibrated latency prediction: layer-mode roofline times per op class, scaled by fitted efficiency factors.

A roofline on datasheet peaks is an upper bound; MCU software stacks reach a fraction of it that depends on the
core, the stack and its version, the op kind and the precision. This package fits those fractions on measured
records, then predicts unseen networks on known hardware and unseen hardware from its spec:

- :mod:`.features`: the roofline time T_c of each record's network on its hardware per op class c
  (:func:`calibration_features`);
- :mod:`.model`: ``latency_s = sum_c F_c * T_c`` (plus ``kernels x t0``, a per-kernel overhead, where asked) with
  hierarchical log-factors F_c fitted by penalized least squares (:class:`CalibratedPredictor`), and its JSON form
  (:func:`load_calibration`);
- :mod:`.workflow`: records read from paths, selected and fitted (:func:`calibrate_from_paths`); a calibrated
  prediction for one network and board (:func:`predict_with_calibration`).
"""

from rooflinekit.compare.calibrate.features import (
    CONV_OPS, FEATURE_COLUMNS, FULLY_CONNECTED_OPS, OP_CLASS_SCHEMES, ROOFLINE_PREFIX, UNKNOWN, FeatureResult,
    NetworkIndex, calibration_features, class_columns, core_family, network_index, networks_from_files, op_class,
)
from rooflinekit.compare.calibrate.model import (
    CALL_OVERHEAD, DEFAULT_SYSTEM_COLUMNS, JSON_FORMAT, KERNEL_OVERHEAD, KEY_SEPARATOR, LEVELS, REQUIRABLE_LEVELS,
    CalibratedPredictor, CalibrationWarning, load_calibration,
)
from rooflinekit.compare.calibrate.defaults import (
    default_calibration, default_features, extend_default_calibration,
)
from rooflinekit.compare.calibrate.releases import FALLBACK_RULE
from rooflinekit.compare.calibrate.workflow import (
    CalibratedPrediction, calibrate_from_paths, predict_with_calibration, select_calibration_records,
)

__all__ = [
    "CALL_OVERHEAD", "CONV_OPS", "DEFAULT_SYSTEM_COLUMNS", "FALLBACK_RULE", "default_calibration", "default_features",
    "extend_default_calibration", "FEATURE_COLUMNS", "FULLY_CONNECTED_OPS", "JSON_FORMAT", "KERNEL_OVERHEAD",
    "KEY_SEPARATOR", "LEVELS", "OP_CLASS_SCHEMES", "REQUIRABLE_LEVELS", "ROOFLINE_PREFIX", "UNKNOWN",
    "CalibratedPrediction", "CalibratedPredictor",
    "CalibrationWarning", "FeatureResult", "NetworkIndex", "calibrate_from_paths", "calibration_features",
    "class_columns", "core_family", "load_calibration", "network_index", "networks_from_files", "op_class",
    "predict_with_calibration", "select_calibration_records",
]
