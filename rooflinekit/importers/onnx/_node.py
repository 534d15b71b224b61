"""What an op handler sees (:class:`Node`) and what it decides (:class:`Draft`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Sequence

from onnx import NodeProto

from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._reading import attr_value
from rooflinekit.importers.onnx._shapes import Dim, Shape


@dataclass
class Draft:
    """What a handler decides for one node; tensor names, resolved to shapes by the layer builder.

    ``weights`` pairs a constant's name with its normalized shape (None: as stored); ``input_shapes`` gives
    normalized shapes of ``inputs`` by position (Gemm's transposed operands). ``outputs`` lists the kept
    output indices (None: all). ``integer_input`` names the input whose type is the layer's activation
    precision (integer ops whose output is a 32-bit accumulator). ``kind`` overrides the table's kind.
    """

    inputs: list[str] = field(default_factory=list)
    input_shapes: dict[int, Shape] = field(default_factory=dict)
    weights: list[tuple[str, Shape | None]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[int, ...] | None = None
    integer_input: str | None = None
    kind: str | None = None


@dataclass
class Node:
    """A node seen by a handler: attributes and operand names, classified as constant or activation."""

    proto: NodeProto
    graph: Graph

    @cached_property
    def _decoded(self) -> dict[str, Any]:
        values = {a.name: attr_value(a) for a in self.proto.attribute}
        return {k: v for k, v in values.items() if v is not None}

    @property
    def attrs(self) -> dict[str, Any]:
        """Scalar and list attributes as Python values (a fresh dict for the handler to edit)."""
        return dict(self._decoded)

    def input(self, index: int) -> str:
        """Name of input ``index``, '' when absent."""
        return self.proto.input[index] if index < len(self.proto.input) else ""

    def split(self, indices: Sequence[int], attrs: dict[str, Any] | None = None, **extra: Any) -> Draft:
        """Data operands at ``indices``: constants become weights, the others inputs."""
        draft = Draft(attrs=self.attrs if attrs is None else attrs, **extra)
        for index in indices:
            name = self.input(index)
            if not name:
                continue
            if name in self.graph.constants:
                draft.weights.append((name, None))
            else:
                draft.inputs.append(name)
        return draft

    def dims(self, index: int) -> tuple[Dim, ...]:
        """Concrete dims of input ``index``."""
        return self.graph.shape(self.input(index), self.proto)


Handler = Callable[[Node], Draft]
"""Maps one node to a draft layer; the op table pairs each op_type with its handler."""
