"""rooflinekit: predict how fast a neural network runs on a piece of hardware, and explain why."""

from rooflinekit.api import CapacityWarning, predict, sweep
from rooflinekit.catalog import get_hardware, get_network, hardware_catalog, network_catalog
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions, NetworkCost, count_network
from rooflinekit.descriptors import (
    AggregateNetwork,
    ComputeEngine,
    DType,
    HardwareSpec,
    Layer,
    LayerNetwork,
    MemoryLevel,
    OpClass,
    OpKind,
    Precision,
    TensorSpec,
)
from rooflinekit.errors import RooflineError, RooflineWarning
from rooflinekit.roofline import TRAFFIC_MODELS, CountedNetwork, Prediction, TrafficModel

__version__ = "0.1.0"

__all__ = [
    "AggregateNetwork", "CapacityWarning", "ComputeEngine", "CountedNetwork", "CounterRegistry", "CountingConventions",
    "DEFAULT_COUNTERS", "DType", "HardwareSpec", "Layer", "LayerNetwork", "MemoryLevel", "NetworkCost", "OpClass",
    "OpKind", "Precision", "Prediction", "RooflineError", "RooflineWarning", "TRAFFIC_MODELS", "TensorSpec",
    "TrafficModel", "count_network", "get_hardware", "get_network", "hardware_catalog", "network_catalog", "predict",
    "sweep",
]
