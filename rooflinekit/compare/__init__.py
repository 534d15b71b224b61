"""Hold predictions against measured records: record schema, loaders, alignment, efficiency, energy and Pareto."""

from rooflinekit.compare.align import AlignResult, align, measured_fps, summarize_efficiency
from rooflinekit.compare.energy import energy_from_power, energy_latency_fit, pareto_front
from rooflinekit.compare.loaders import MLPerfRecord, load_mlperf_tiny, load_qutibench, load_table
from rooflinekit.compare.records import (
    RECORD_COLUMNS, LoadResult, Record, normalize_framework, records_frame,
)

__all__ = [
    "RECORD_COLUMNS", "AlignResult", "LoadResult", "MLPerfRecord", "Record", "align", "energy_from_power",
    "energy_latency_fit", "load_mlperf_tiny", "load_qutibench", "load_table", "measured_fps", "normalize_framework",
    "pareto_front", "records_frame", "summarize_efficiency",
]
