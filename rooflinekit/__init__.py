"""rooflinekit: predict how fast a neural network runs on a piece of hardware, and explain why."""

from rooflinekit.catalog import get_hardware, get_network, hardware_catalog, network_catalog
from rooflinekit.counters import CountingConventions, NetworkCost, count_network
from rooflinekit.descriptors import (
    AggregateNetwork,
    DType,
    HardwareSpec,
    Layer,
    LayerNetwork,
    MemoryLevel,
    Precision,
    TensorSpec,
)
from rooflinekit.errors import RooflineError
from rooflinekit.roofline import Prediction, Traffic, predict, sweep

__version__ = "0.1.0"

__all__ = [
    "AggregateNetwork", "CountingConventions", "DType", "HardwareSpec", "Layer", "LayerNetwork", "MemoryLevel",
    "NetworkCost", "Precision", "Prediction", "RooflineError", "TensorSpec", "Traffic", "count_network",
    "get_hardware", "get_network", "hardware_catalog", "network_catalog", "predict", "sweep",
]
