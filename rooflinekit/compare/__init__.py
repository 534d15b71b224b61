"""Hold predictions against measured records: record schema, loaders, alignment, efficiency, energy and Pareto,
calibration and its cross-validated evaluation."""

from rooflinekit.compare.align import AlignResult, align, measured_fps, summarize_efficiency
from rooflinekit.compare.calibrate import (
    CalibratedPredictor, calibrate_from_paths, calibration_features, load_calibration, predict_with_calibration,
)
from rooflinekit.compare.energy import energy_from_power, energy_latency_fit
from rooflinekit.compare.loaders import MLPerfRecord, load_mlperf_tiny, load_qutibench, load_table
from rooflinekit.compare.evaluate import cross_val_predict, error_metrics
from rooflinekit.compare.pareto import pareto_front
from rooflinekit.compare.records import (
    RECORD_COLUMNS, LoadResult, Record, combine_repeats, normalize_framework, records_frame,
)

__all__ = [
    "RECORD_COLUMNS", "AlignResult", "CalibratedPredictor", "LoadResult", "MLPerfRecord", "Record", "align",
    "calibrate_from_paths", "calibration_features", "combine_repeats", "cross_val_predict", "energy_from_power",
    "error_metrics", "load_calibration", "predict_with_calibration", "energy_latency_fit", "load_mlperf_tiny",
    "load_qutibench", "load_table", "measured_fps", "normalize_framework", "pareto_front", "records_frame",
    "summarize_efficiency",
]
