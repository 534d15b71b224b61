"""Typed, frozen, validated descriptors of hardware and networks."""

from rooflinekit.descriptors.dtypes import DType, tensor_bytes
from rooflinekit.descriptors.hardware import HardwareKind, HardwareSpec, MemoryLevel
from rooflinekit.descriptors.network import (
    AggregateNetwork,
    Layer,
    LayerNetwork,
    NetworkSpec,
    Precision,
    TensorSpec,
)

__all__ = [
    "AggregateNetwork", "DType", "HardwareKind", "HardwareSpec", "Layer", "LayerNetwork", "MemoryLevel",
    "NetworkSpec", "Precision", "TensorSpec", "tensor_bytes",
]
