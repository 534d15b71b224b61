"""Numeric data types and their widths in bits."""

from __future__ import annotations

from enum import Enum

from rooflinekit._limits import shown
from rooflinekit.errors import PrecisionError


class DType(str, Enum):
    """A tensor element type. The value is the canonical lower-case name.

    ``tf32`` is NVIDIA's TensorFloat-32 Tensor Core mode (Ampere and later): fp32 tensors in memory (32 bits per
    element), multiplied at 19-bit precision at the Tensor Core rate. ``--precision tf32`` predicts an fp32 model
    run that way.
    """

    INT1 = "int1"
    INT2 = "int2"
    INT4 = "int4"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FP8 = "fp8"
    FP16 = "fp16"
    BF16 = "bf16"
    TF32 = "tf32"
    FP32 = "fp32"
    FP64 = "fp64"
    BOOL = "bool"

    @property
    def bits(self) -> int:
        """Width of one element in bits."""
        return _BITS[self]

    @property
    def is_float(self) -> bool:
        return self in (DType.FP8, DType.FP16, DType.BF16, DType.TF32, DType.FP32, DType.FP64)

    @classmethod
    def parse(cls, value: "str | DType") -> "DType":
        """Parse spellings such as ``INT8``, ``int8``, ``float32``, ``FP32``, ``uint8``, ``half``."""
        if isinstance(value, DType):
            return value
        key = str(value).strip().lower().replace("-", "").replace("_", "")
        if key.isdigit():  # 'w4a8' style: a bare width means an integer type
            key = f"int{key}"
        if key in _ALIASES:
            return _ALIASES[key]
        raise PrecisionError(
            f"unknown data type {shown(value)}; use one of {', '.join(d.value for d in DType)}"
        )


_BITS = {
    DType.INT1: 1, DType.INT2: 2, DType.INT4: 4, DType.INT8: 8, DType.INT16: 16, DType.INT32: 32,
    DType.INT64: 64, DType.FP8: 8, DType.FP16: 16, DType.BF16: 16, DType.TF32: 32, DType.FP32: 32, DType.FP64: 64,
    DType.BOOL: 8,
}

_ALIASES: dict[str, DType] = {d.value: d for d in DType}
_ALIASES.update({
    "bin": DType.INT1, "binary": DType.INT1, "uint1": DType.INT1,
    "uint2": DType.INT2, "uint4": DType.INT4, "uint8": DType.INT8, "uint16": DType.INT16,
    "uint32": DType.INT32, "uint64": DType.INT64,
    "float8": DType.FP8, "float16": DType.FP16, "half": DType.FP16, "bfloat16": DType.BF16,
    "tensorfloat32": DType.TF32,
    "float32": DType.FP32, "float": DType.FP32, "single": DType.FP32, "float64": DType.FP64,
    "double": DType.FP64,
})


def tensor_bytes(elements: int | float, dtype: DType) -> int:
    """Bytes of one tensor of ``elements`` elements: ceil(elements * bits / 8)."""
    return -(-int(elements) * dtype.bits // 8)

