"""What an op handler sees (:class:`Node`) and what it decides (:class:`Draft`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._reading import MALFORMED, OnnxNode, attr_value, malformed_node
from rooflinekit.importers.onnx._shapes import Dim, Shape


@dataclass
class Draft:
    """What a handler decides for one node; tensor names, resolved to shapes by the layer builder.

    ``weights`` pairs a constant's name with its normalized shape (None: as stored); ``input_shapes`` gives
    normalized shapes of ``inputs`` by position (Gemm's transposed operands). ``outputs`` lists the kept
    output indices (None: all). ``integer_input`` names the input whose type is the layer's activation
    precision (integer ops whose output is a 32-bit accumulator). ``kind`` overrides the table's kind. ``view``
    marks a node that only relabels its data (reshape, identity, a fused Q/DQ): no arithmetic and no bytes, so
    its tensors of unknown shape are left out instead of being an error. ``lenient`` marks a node whose output
    size depends on its input values (NonMaxSuppression, Compress, Unique) or whose operands may be sequences
    without a tensor shape, and whose counter does not read those tensors: its tensors of unknown shape are left
    out too (their bytes are not counted).
    """

    inputs: list[str] = field(default_factory=list)
    input_shapes: dict[int, Shape] = field(default_factory=dict)
    weights: list[tuple[str, Shape | None]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[int, ...] | None = None
    integer_input: str | None = None
    kind: str | None = None
    view: bool = False
    lenient: bool = False


@dataclass
class Node:
    """A node seen by a handler: attributes and operand names, classified as constant or activation."""

    proto: OnnxNode
    graph: Graph
    _values: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def _decoded(self) -> dict[str, Any]:
        """The attributes decoded once (a plain attribute: ``cached_property`` takes a lock on every first read)."""
        if self._values is None:
            values: dict[str, Any] = {}
            try:
                for attribute in self.proto.attribute:
                    values[attribute.name] = attr_value(attribute)
            except MALFORMED as exc:  # onnx cannot decode an attribute (an unknown attribute type)
                raise self.malformed(exc) from exc
            # a second dict only when some attribute has no value (a tensor, a graph)
            self._values = {k: v for k, v in values.items() if v is not None} if None in values.values() else values
        return self._values

    @property
    def attrs(self) -> dict[str, Any]:
        """Scalar and list attributes as Python values (a fresh dict for the handler to edit)."""
        return dict(self._decoded)

    def attr(self, name: str, default: Any) -> Any:
        """The Python value of attribute ``name`` (``default`` when absent), without copying :attr:`attrs`."""
        return self._decoded.get(name, default)

    def malformed(self, exc: BaseException | str) -> ModelFileError:
        """The error reporting malformed data of this node: ``exc`` is what reading it raised, or a description."""
        return malformed_node(self.graph.path, self.proto, exc)

    def int_attr(self, name: str, default: int) -> int:
        """Attribute ``name`` as an int (``default`` when absent); :meth:`malformed` when it is not one."""
        value = self._decoded.get(name, default)
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError) as exc:  # 'abc', a list, NaN, infinity
            raise self.malformed(exc) from exc

    def ints_attr(self, name: str) -> tuple[int, ...] | None:
        """Attribute ``name`` as a tuple of ints (None when absent or empty); :meth:`malformed` when it is not
        a list of integers."""
        value = self._decoded.get(name)
        if value is None or value == ():
            return None
        if type(value) is tuple and _INT.issuperset(map(type, value)):  # the common case, decoded INTS: as it is
            return value
        if not isinstance(value, (tuple, list)):
            raise self.malformed(f"attribute {name!r} is {value!r}, not a list of integers")
        try:
            return tuple(map(int, value))
        except (TypeError, ValueError, OverflowError) as exc:  # 'abc', a list, NaN, infinity
            raise self.malformed(exc) from exc

    def input(self, index: int) -> str:
        """Name of input ``index``, '' when absent."""
        return self.proto.input[index] if index < len(self.proto.input) else ""

    def split(self, indices: Sequence[int], attrs: dict[str, Any] | None = None, **extra: Any) -> Draft:
        """Data operands at ``indices``: constants become weights, the others inputs."""
        draft = Draft(attrs=self.attrs if attrs is None else attrs, **extra)
        operands, constant = self.proto.input, self.graph.constants.stored
        for index in indices:
            name = operands[index] if index < len(operands) else ""  # as :meth:`input`, without a call per operand
            if not name:
                continue
            if name in constant:
                draft.weights.append((name, None))
            else:
                draft.inputs.append(name)
        return draft

    def dims(self, index: int, rank: int | None = None) -> tuple[Dim, ...]:
        """Concrete dims of input ``index``; with ``rank``, :meth:`malformed` unless it has that many."""
        dims = self.graph.shape(self.input(index), self.proto)
        if rank is not None and len(dims) != rank:
            raise self.malformed(f"operand {index} ({self.input(index)!r}) has shape {list(dims)}, expected rank "
                                 f"{rank}")
        return dims


_INT = frozenset({int})
"""The item type of a decoded ``INTS`` attribute (:meth:`Node.ints_attr` returns such a tuple as it is)."""

Handler = Callable[[Node], Draft]
"""Maps one node to a draft layer; the op table pairs each op_type with its handler."""
