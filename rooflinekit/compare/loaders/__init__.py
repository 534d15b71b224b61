"""Loaders of measured records: QuTiBench tables, MLPerf Tiny results trees and any CSV/Parquet table.

Each returns a :class:`~rooflinekit.compare.records.LoadResult`: ``records``, ``rejected`` rows with a ``reason`` and
the ``files`` inventory (read, unreadable with the error, skipped with why).
"""

from rooflinekit.compare.loaders.generic import load_table
from rooflinekit.compare.loaders.mlperf_tiny import (
    MODEL_FILE_NETWORKS, REFERENCE_MODELS, MLPerfRecord, ReferenceModel, load_mlperf_tiny,
)
from rooflinekit.compare.loaders.qutibench import load_qutibench

__all__ = ["MODEL_FILE_NETWORKS", "REFERENCE_MODELS", "MLPerfRecord", "ReferenceModel", "load_mlperf_tiny",
           "load_qutibench", "load_table"]
