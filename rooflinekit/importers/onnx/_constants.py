"""Constant folding: which tensors are constant, their stored types and (when small) their values.

A tensor is constant if it is an initializer, a ``Constant`` output, the ``Shape`` or ``Size`` of a tensor of
known shape, or an output of a node whose inputs are all constant (ConstantOfShape of a constant shape,
Identity/Cast/DequantizeLinear of a weight, shape arithmetic). Such nodes become no layer. A constant keeps its
stored type through DequantizeLinear and views, so an int8 initializer behind a DequantizeLinear is an int8
weight.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from rooflinekit.importers.onnx._reading import MALFORMED, OnnxNode, malformed_model
from rooflinekit.importers.onnx._shapes import UNKNOWN, Info

_SMALL_VALUE = 64
"""Constant tensors up to this many elements are read for attribute values (axes, pads, starts...)."""
_KEEPS_STORAGE = frozenset({"DequantizeLinear", "Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
                            "Flatten"})
"""Ops whose constant output keeps the stored type of their first input."""
_SHAPE_OPS = ("Shape", "Size")
"""Ops whose output is constant when their input's shape is known, whatever its values."""
_GRAPH_TYPES = frozenset({AttributeProto.GRAPH, AttributeProto.GRAPHS})
"""Attribute types that hold a graph (a control-flow body): a node holding one is never folded."""


class Constants:
    """The constant tensors of a graph: ``name in constants``, ``stored[name]`` (ONNX element type as stored)."""

    def __init__(self, path: Path, initializers: Mapping[str, onnx.TensorProto], nodes: list[OnnxNode],
                 infos: Mapping[str, Info], producer: Mapping[str, OnnxNode],
                 values: Mapping[str, np.ndarray] | None = None) -> None:
        self._path = path
        self._computed = dict(values or {})
        self._initializers = initializers  # the graph's initializers by name
        self._producer = producer
        self.stored: dict[str, int] = {name: t.data_type for name, t in self._initializers.items()}
        stored, computed = self.stored, self._computed
        for node in nodes:
            first = node.input[0] if node.input else ""
            if first and first not in stored and not computed and node.op_type not in _SHAPE_OPS:
                continue  # reads an activation (most nodes do): not folded, told without a call of _fold
            self._fold(node, infos)

    def __contains__(self, name: str) -> bool:
        return name in self.stored

    def _fold(self, node: OnnxNode, infos: Mapping[str, Info]) -> None:
        """Mark the outputs of ``node`` constant when it computes only from constants (see module doc)."""
        operands = node.input
        names = operands if "" not in operands else [n for n in operands if n]  # no copy when none is omitted
        if not (node.op_type in _SHAPE_OPS and names and infos.get(names[0], UNKNOWN).known
                or self._computed and node.output and all(n in self._computed for n in node.output if n)
                or self._from_constants(node, names)):  # the second: evaluated from small known values
            return
        keeps_storage = node.op_type in _KEEPS_STORAGE
        for name in node.output:
            if name:
                info = infos.get(name)
                self.stored[name] = self.stored[names[0]] if keeps_storage and names else (
                    info.elem_type if info else TensorProto.UNDEFINED)

    def _from_constants(self, node: OnnxNode, names: Sequence[str]) -> bool:
        """Whether every operand (``names``) of ``node`` is constant and it holds no graph; operands first, in a
        loop that stops at the first activation (most nodes read one), so the attribute scan is then skipped."""
        stored = self.stored
        for name in names:
            if name not in stored:
                return False
        for attribute in node.attribute:  # a loop, not a generator: most nodes hold no attribute or one
            if attribute.type in _GRAPH_TYPES:
                return False
        return True

    def value(self, name: str) -> np.ndarray | None:
        """Value of a small constant (initializer or Constant output, up to :data:`_SMALL_VALUE` elements);
        :class:`~rooflinekit.errors.ModelFileError` when its stored data cannot be decoded."""
        try:
            return self._value(name)
        except MALFORMED as exc:  # numpy_helper / helper on data that does not fit the tensor's type and dims
            raise malformed_model(self._path, exc) from exc

    def _value(self, name: str) -> np.ndarray | None:
        if name in self._computed and self._computed[name].size <= _SMALL_VALUE:
            return self._computed[name]
        tensor = self._initializers.get(name)
        node = self._producer.get(name)
        if tensor is None and node is not None and node.op_type == "Constant":
            attribute = node.attribute[0] if len(node.attribute) == 1 else None
            if attribute is not None and attribute.type == AttributeProto.TENSOR:
                tensor = attribute.t
            elif attribute is not None and attribute.type in (AttributeProto.INT, AttributeProto.INTS,
                                                               AttributeProto.FLOAT, AttributeProto.FLOATS):
                return np.asarray(helper.get_attribute_value(attribute))
        if tensor is None or tensor.data_location == TensorProto.EXTERNAL or math.prod(tensor.dims) > _SMALL_VALUE:
            return None
        return numpy_helper.to_array(tensor)

    def ints(self, name: str) -> tuple[int, ...] | None:
        """A small constant integer tensor as a tuple (axes, pads, starts), None when not readable."""
        value = self.value(name) if name else None
        if value is None:
            return None
        try:
            return tuple(int(v) for v in value.reshape(-1))
        except (TypeError, ValueError, OverflowError) as exc:  # strings, NaN, infinity
            raise malformed_model(self._path, exc) from exc

    def scalar(self, name: str) -> float | None:
        """A constant holding one number (Clip's min and max), None when it is not readable or not one value."""
        value = self.value(name) if name else None
        if value is None or value.size != 1:
            return None
        try:
            return float(value.reshape(-1)[0])
        except (TypeError, ValueError) as exc:  # a string tensor
            raise malformed_model(self._path, exc) from exc
