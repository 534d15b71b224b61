"""Roofline model: vectorized core, scalar reference, traffic assumptions and the predictor."""

from rooflinekit.roofline.core import COMPUTE_BOUND, RooflineTimes, batch_sweep_times, roofline_times, traffic_bytes
from rooflinekit.roofline.predictor import MODES, Prediction, predict, sweep
from rooflinekit.roofline.reference import roofline_time_scalar, traffic_bytes_scalar
from rooflinekit.roofline.traffic import MemoryLayout, Traffic

__all__ = [
    "COMPUTE_BOUND", "MODES", "batch_sweep_times", "MemoryLayout", "Prediction", "RooflineTimes", "Traffic", "predict",
    "roofline_time_scalar", "roofline_times", "sweep", "traffic_bytes", "traffic_bytes_scalar",
]
