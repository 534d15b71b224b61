"""rooflinekit: predict how fast a neural network runs on a piece of hardware, and explain why.

The public names below are loaded on first use (PEP 562), so that ``import rooflinekit`` and the command line
import only what they use: ``rooflinekit.predict`` imports the predictor, ``rooflinekit.get_hardware`` the catalog.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    **dict.fromkeys(("CapacityWarning", "predict", "sweep"), "rooflinekit.api"),
    **dict.fromkeys(("get_hardware", "get_network", "hardware_catalog", "network_catalog"), "rooflinekit.catalog"),
    **dict.fromkeys(("DEFAULT_COUNTERS", "CounterRegistry", "CountingConventions", "NetworkCost", "count_network"),
                    "rooflinekit.counters"),
    **dict.fromkeys(("AggregateNetwork", "ComputeEngine", "DType", "HardwareSpec", "Layer", "LayerNetwork",
                     "MemoryLevel", "OpClass", "OpKind", "Precision", "TensorSpec"), "rooflinekit.descriptors"),
    **dict.fromkeys(("CalibrationError", "CalibrationWarning", "ControlFlowWarning", "ModelFileError",
                     "PrecisionError", "RooflineError", "RooflineWarning", "ShapeError", "SpecError",
                     "UnknownNameError"), "rooflinekit.errors"),
    "UnsupportedOpWarning": "rooflinekit.counters",
    **dict.fromkeys(("TRAFFIC_MODELS", "CountedNetwork", "Prediction", "TrafficModel"), "rooflinekit.roofline"),
    **dict.fromkeys(("LLMResult", "predict_llm"), "rooflinekit.llm"),
}

__all__ = [
    "AggregateNetwork", "CalibrationError", "CalibrationWarning", "CapacityWarning", "ComputeEngine",
    "ControlFlowWarning", "CountedNetwork", "CounterRegistry", "CountingConventions", "DEFAULT_COUNTERS", "DType",
    "HardwareSpec", "Layer", "LayerNetwork", "MemoryLevel", "ModelFileError", "NetworkCost", "OpClass", "OpKind",
    "Precision", "PrecisionError", "Prediction", "RooflineError", "RooflineWarning", "ShapeError", "SpecError",
    "TRAFFIC_MODELS", "TensorSpec", "TrafficModel", "UnknownNameError",
    "UnsupportedOpWarning", "count_network", "get_hardware", "get_network", "hardware_catalog", "network_catalog",
    "predict", "sweep", "LLMResult", "predict_llm",
]

if TYPE_CHECKING:
    from rooflinekit.api import CapacityWarning, predict, sweep
    from rooflinekit.catalog import get_hardware, get_network, hardware_catalog, network_catalog
    from rooflinekit.counters import (
        DEFAULT_COUNTERS, CounterRegistry, CountingConventions, NetworkCost, UnsupportedOpWarning, count_network,
    )
    from rooflinekit.descriptors import (
        AggregateNetwork, ComputeEngine, DType, HardwareSpec, Layer, LayerNetwork, MemoryLevel, OpClass, OpKind,
        Precision, TensorSpec,
    )
    from rooflinekit.errors import (
        CalibrationError, CalibrationWarning, ControlFlowWarning, ModelFileError, PrecisionError, RooflineError,
        RooflineWarning, ShapeError, SpecError, UnknownNameError,
    )
    from rooflinekit.roofline import TRAFFIC_MODELS, CountedNetwork, Prediction, TrafficModel
    from rooflinekit.llm import LLMResult, predict_llm


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached in this module's namespace); a
    subpackage (``rooflinekit.catalog``), imported as ``import rooflinekit`` used to."""
    module = _LAZY.get(name)
    if module is None:
        try:
            return import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
