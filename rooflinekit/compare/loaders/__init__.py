"""Loaders of measured records: QuTiBench tables, MLPerf Tiny results trees, the MLPerf Inference, NeuSight, Vidur
and NAS-Bench-201 tables of ``../shared/data`` and any CSV/Parquet table.

Each returns a :class:`~rooflinekit.compare.records.LoadResult`: ``records``, ``rejected`` rows with a ``reason`` and
the ``files`` inventory (read, unreadable with the error, skipped with why).
"""

from rooflinekit.compare.loaders.generic import load_table
from rooflinekit.compare.loaders.mlperf_tiny import (
    MODEL_FILE_NETWORKS, REFERENCE_MODELS, MLPerfRecord, ReferenceModel, load_mlperf_tiny,
)
from rooflinekit.compare.loaders.mlperf_inference import MLPerfInferenceRecord, load_mlperf_inference
from rooflinekit.compare.loaders.nb201 import NB201Record, load_nb201
from rooflinekit.compare.loaders.neusight import NeuSightRecord, load_neusight
from rooflinekit.compare.loaders.qutibench import load_qutibench
from rooflinekit.compare.loaders.vidur import VidurRecord, load_vidur

__all__ = ["MODEL_FILE_NETWORKS", "REFERENCE_MODELS", "MLPerfRecord", "ReferenceModel", "load_mlperf_tiny",
           "load_qutibench", "load_table",
           "MLPerfInferenceRecord", "NB201Record", "NeuSightRecord", "VidurRecord", "load_mlperf_inference",
           "load_nb201", "load_neusight", "load_vidur"]
