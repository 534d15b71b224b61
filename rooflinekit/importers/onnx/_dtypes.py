"""ONNX element types -> :class:`~rooflinekit.descriptors.DType`."""

from __future__ import annotations

from pathlib import Path

from onnx import TensorProto

from rooflinekit.descriptors import DType
from rooflinekit.errors import PrecisionError

_TYPE_NAMES: dict[str, DType | None] = {
    "FLOAT": DType.FP32, "UINT8": DType.INT8, "INT8": DType.INT8, "UINT16": DType.INT16, "INT16": DType.INT16,
    "INT32": DType.INT32, "UINT32": DType.INT32, "INT64": DType.INT64, "UINT64": DType.INT64, "BOOL": DType.BOOL,
    "FLOAT16": DType.FP16, "BFLOAT16": DType.BF16, "DOUBLE": DType.FP64, "FLOAT8E4M3FN": DType.FP8,
    "FLOAT8E4M3FNUZ": DType.FP8, "FLOAT8E5M2": DType.FP8, "FLOAT8E5M2FNUZ": DType.FP8, "FLOAT8E8M0": DType.FP8,
    "UINT4": DType.INT4, "INT4": DType.INT4, "UINT2": DType.INT2, "INT2": DType.INT2, "UNDEFINED": None,
    "STRING": None,
}
DTYPES: dict[int, DType | None] = {
    getattr(TensorProto, name): dtype for name, dtype in _TYPE_NAMES.items() if hasattr(TensorProto, name)}
"""ONNX element type -> DType (the types this onnx version knows); None: no width (unknown, string). Others
(complex, fp4, fp6) are refused with a PrecisionError."""

FLOATS = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


def to_dtype(elem_type: int, name: str | None, path: Path) -> DType | None:
    """The DType of an ONNX element type; :class:`PrecisionError` naming the tensor for types without one."""
    if elem_type in DTYPES:
        return DTYPES[elem_type]
    type_name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else elem_type
    raise PrecisionError(f"{path}: tensor {name!r} has ONNX type {type_name}, which rooflinekit cannot represent; "
                         f"supported: {', '.join(sorted({d.value for d in DTYPES.values() if d}))}")
