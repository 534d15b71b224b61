"""Typed, frozen, validated descriptors of hardware and networks."""

from rooflinekit.descriptors.attrs import (
    ConcatAttrs, ConvAttrs, ConvTransposeAttrs, LpPoolAttrs, LrnAttrs, MatMulAttrs, OpAttrs, PadAttrs, PoolAttrs,
    ReduceAttrs, ResizeAttrs, SoftmaxAttrs, attrs_model, parse_attrs, validate_attrs,
)
from rooflinekit.descriptors.dtypes import DType, tensor_bytes
from rooflinekit.descriptors.hardware import (
    TENSOR_ROLES, ComputeEngine, EnginePolicy, HardwareKind, HardwareSpec, MemoryLevel, TensorRole,
)
from rooflinekit.descriptors.network import (
    AggregateNetwork,
    Layer,
    LayerNetwork,
    NetworkSpec,
    Precision,
    TensorSpec,
)
from rooflinekit.descriptors.ops import OpClass, OpKind, layer_op_class

__all__ = [
    "ConcatAttrs", "ConvAttrs", "ConvTransposeAttrs", "LpPoolAttrs", "LrnAttrs", "MatMulAttrs", "OpAttrs", "PadAttrs",
    "PoolAttrs", "ReduceAttrs", "ResizeAttrs", "SoftmaxAttrs", "attrs_model", "parse_attrs", "validate_attrs",
    "AggregateNetwork", "ComputeEngine", "DType", "EnginePolicy", "HardwareKind", "HardwareSpec", "Layer", "LayerNetwork", "MemoryLevel", "TENSOR_ROLES", "TensorRole",
    "NetworkSpec", "OpClass", "OpKind", "Precision", "TensorSpec", "layer_op_class", "tensor_bytes",
]
