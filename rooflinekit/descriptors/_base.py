"""Shared pydantic configuration and validators for descriptors."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from rooflinekit.descriptors.dtypes import DType
from rooflinekit.units import Dimension, parse_quantity


class Frozen(BaseModel):
    """Immutable descriptor that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _positive_finite(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive finite number, got {value!r}")
    return value


def _quantity(dimension: Dimension):
    def parse(value: Any) -> Any:
        return parse_quantity(value, dimension) if isinstance(value, str) else value

    return BeforeValidator(parse)


PositiveFinite = Annotated[float, AfterValidator(_positive_finite)]
Bytes = Annotated[float, _quantity("bytes"), AfterValidator(_positive_finite)]
BytesPerS = Annotated[float, _quantity("bytes_per_s"), AfterValidator(_positive_finite)]
OpsPerS = Annotated[float, _quantity("ops_per_s"), AfterValidator(_positive_finite)]
Ops = Annotated[float, _quantity("ops"), AfterValidator(_positive_finite)]
Hertz = Annotated[float, _quantity("hz"), AfterValidator(_positive_finite)]
Watts = Annotated[float, _quantity("w"), AfterValidator(_positive_finite)]


def _dtype_keys(value: Any) -> Any:
    """Parse the keys of a per-data-type mapping (``{"INT8": ...}`` -> ``{DType.INT8: ...}``)."""
    return {DType.parse(k): v for k, v in value.items()} if isinstance(value, dict) else value


PeakTable = Annotated[dict[DType, OpsPerS], BeforeValidator(_dtype_keys)]
AccuracyTable = Annotated[dict[DType, float], BeforeValidator(_dtype_keys)]
