"""Plain records of a validated TFLite flatbuffer (subgraph 0 in full, every subgraph in summary)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rooflinekit.descriptors import DType

Shape = tuple[int, ...]


@dataclass(frozen=True)
class SubgraphSummary:
    """One subgraph of a TFLite model; only index 0 is ``counted`` by :func:`load_tflite`. ``initializer``: a
    ``CALL_ONCE`` of subgraph 0 names it as its init subgraph (it runs once, before the first inference, to set the
    resource variables: no per-inference work)."""

    index: int
    name: str
    operators: int
    tensors: int
    counted: bool
    initializer: bool = False


@dataclass(frozen=True)
class Tensor:
    """A validated tensor record of subgraph 0."""

    index: int
    name: str
    shape: Shape  # TFLite (NHWC) order
    signature: tuple[int, ...]  # shape_signature: -1 marks a dynamic dim; () when absent
    dtype: DType | None
    nbytes: int  # stored bytes of a constant, 0 for activations
    data: np.ndarray  # the constant's bytes (uint8), empty for activations
    quantization: str | None  # per_tensor, per_channel or None
    variable: bool

    @property
    def constant(self) -> bool:
        return self.nbytes > 0 and not self.variable

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Operator:
    """A validated operator record: indices checked, options read."""

    index: int
    name: str  # builtin name (CONV_2D), or the custom code of a custom op
    custom: bool
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional operand
    outputs: tuple[int, ...]
    options_type: str | None  # the builtin options' class name (Conv2DOptions, ...), None when absent
    options: dict[str, Any]  # the options' scalar fields, read eagerly (StrideW, Padding, ...)


@dataclass(frozen=True)
class Subgraph:
    """Subgraph 0, read into plain records."""

    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]


@dataclass(frozen=True)
class Model:
    """Subgraph 0 in full and a summary of every subgraph."""

    main: Subgraph
    subgraphs: tuple[SubgraphSummary, ...]
