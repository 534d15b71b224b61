"""The bound, shape-inferred graph: producers, consumers, constants, and the types and shapes of tensors."""

from __future__ import annotations

import itertools
from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import Mapping, Sequence, cast

import numpy as np

import onnx

from rooflinekit.descriptors import DType
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.onnx._constants import Constants
from rooflinekit.importers.onnx._dtypes import DTYPES, to_dtype
from rooflinekit.importers.onnx._reading import OnnxNode
from rooflinekit.importers.onnx._shapes import UNKNOWN, Dim, Info, Shape, all_sizes


class Graph:
    """What the importer knows of the graph once shapes are inferred; read by handlers and the layer builder.

    ``initializers`` are the graph's initializers by name and ``inputs`` its real inputs (not initializers), as
    the importer read them before shape inference."""

    def __init__(self, path: Path, opset: int, nodes: list[OnnxNode], graph: onnx.GraphProto,
                 initializers: Mapping[str, onnx.TensorProto], inputs: Sequence[str], infos: dict[str, Info],
                 values: Mapping[str, np.ndarray] | None = None) -> None:
        self.path, self.opset, self.infos = path, opset, infos
        self.graph_outputs = {o.name for o in graph.output}
        self.graph_inputs = set(inputs)
        self.producer: dict[str, OnnxNode] = {}
        producer = self.producer
        self.dequantizes = False
        """Whether a DequantizeLinear node exists: without one, no op runs QDQ-fused (:mod:`._quant`)."""
        for node in nodes:  # one walk: producers and whether the graph dequantizes
            for name in node.output:
                if name:
                    producer[name] = node
            if node.op_type == "DequantizeLinear":
                self.dequantizes = True
        self.read: set[str] = set().union(*[node.input for node in nodes])
        """The names of the tensors some node reads ('' among them when a node omits an optional input)."""
        self._nodes = nodes
        self.constants = Constants(path, initializers, nodes, infos, self.producer, values)
        self.concrete: dict[str, Shape] = self._concrete(infos)
        """The concrete shapes (sizes, none negative) by tensor name (each tensor is read by several layers): what
        :meth:`shape` returns, read directly by the layer builder."""

    @staticmethod
    def _concrete(infos: dict[str, Info]) -> dict[str, Shape]:
        """The tensors of ``infos`` whose dims are all sizes, none negative, with their dims: all dims judged in
        one look first (in most models every tensor is concrete: 11 us less on the light zoo's 38-node ZFNet than
        judging each), else each distinct Info once (tensors share few types)."""
        every = [info.dims for info in infos.values()]
        if None not in every:
            flat = list(itertools.chain.from_iterable(cast(list[Shape], every)))
            if all_sizes(flat) and min(flat, default=0) >= 0:
                return dict(zip(infos, cast(list[Shape], every)))
        sized = {info: (dims := info.dims) is not None and all_sizes(dims) and (not dims or min(dims) >= 0)
                 for info in set(infos.values())}
        return {name: info.dims for name, info in infos.items() if sized[info]}

    def dtype(self, name: str | None) -> DType | None:
        """Element type of a tensor (None when unknown or without width)."""
        info = self.infos.get(name) if name else None
        if info is None:
            return None
        dtype = DTYPES.get(info.elem_type, _UNREPRESENTABLE)  # the common case without a call
        return dtype if dtype is not _UNREPRESENTABLE else to_dtype(info.elem_type, name, self.path)

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        info = self.infos.get(name)
        return info.dims if info else None

    def known(self, name: str) -> bool:
        """Whether every dim of ``name`` is a size (a concrete shape, the common case, without a look at its
        dims)."""
        return name in self.concrete or self.infos.get(name, UNKNOWN).known

    def needed(self, name: str) -> bool:
        """Whether ``name`` is read by a node or is a graph output."""
        return name in self.graph_outputs or name in self.read

    @cached_property
    def consumers(self) -> dict[str, list[OnnxNode]]:
        """The nodes that read each tensor, by tensor name, in graph order; built when first read (only a graph
        that dequantizes reads it, :mod:`._quant`), since the set :attr:`read` answers :meth:`needed`."""
        consumers: dict[str, list[OnnxNode]] = defaultdict(list)
        for node in self._nodes:
            for name in node.input:
                consumers[name].append(node)
        return consumers

    def shape(self, name: str, node: OnnxNode) -> Shape:
        """Concrete shape of ``name`` (zero dims allowed); :class:`ShapeError` when unknown or symbolic."""
        known = self.concrete.get(name)
        if known is not None:
            return known
        dims = self.dims(name)
        source = self.producer.get(name)
        if dims is not None and all_sizes(dims):  # sizes left out of concrete: a negative one
            if source is None:  # an initializer or a graph input declared so
                raise ModelFileError(f"{self.path}: tensor {name!r} has a negative dim: {list(dims)}")
            inputs = [list(d) if (d := self.dims(n)) is not None else None for n in source.input if n]
            raise ShapeError(
                f"{self.path}: node {source.name!r} ({source.op_type}) computes tensor {name!r} of shape "
                f"{list(dims)}, a negative size, from inputs {inputs}: they are too small for it (a window or crop "
                "larger than the input); import the model at a larger input size, in the model's layout "
                "(input_shapes, --input-shape)",
                layer=source.name or None, shape=dims)
        origin = f", produced by node {source.name!r} ({source.op_type})" if source is not None else ""
        missing = ("unknown rank" if dims is None else
                   ", ".join(f"dim {i} ({d!r})" if d else f"dim {i}" for i, d in enumerate(dims)
                             if not isinstance(d, int)))
        what = "is unknown" if dims is None else f"has unresolved dims {list(dims)}"
        sources = self.value_sources(name)
        if sources:
            raise ShapeError(
                f"{self.path}: node {node.name!r} ({node.op_type}) reads or writes tensor {name!r}{origin}, whose "
                f"shape {what}: {missing} is data-dependent, it depends on the values of {', '.join(sources)}; "
                "rooflinekit knows shapes, not values: make those values constants in the model (onnxsim with "
                "fixed inputs) or cut the graph before the node", layer=node.name or None)
        inputs = ", ".join(f"{i}=..." for i in sorted(self.graph_inputs))
        raise ShapeError(
            f"{self.path}: node {node.name!r} ({node.op_type}) reads or writes tensor {name!r}{origin}, whose shape "
            f"{what} ({missing}; an op ONNX shape inference does not know); bind the inputs it comes from with "
            f"input_shapes (--input-shape {inputs or 'name=d0,d1,...'}) or simplify the model (onnxsim)",
            layer=node.name or None)

    def value_sources(self, name: str) -> list[str]:
        """What the shape of ``name`` depends on by value rather than by shape, when it is unresolved: graph
        inputs read as values by the op that first loses the shape (a Reshape's target, a Resize's scales, a
        ReduceMean's axes, a TopK's k) and ops whose output size depends on data (NonZero, Unique, a Loop of
        run-time trip count...). Empty when no such source is found, or when that op has no ONNX schema (then it
        is a gap in shape inference)."""
        root, seen = name, set()
        while True:  # walk up to the first node whose operands are resolved but whose output is not
            node = self.producer.get(root)
            if node is None or root in seen:
                break
            seen.add(root)
            unresolved = [n for n in node.input if n and not self.known(n) and n in self.producer]
            if not unresolved:
                break
            root = unresolved[0]
        node = self.producer.get(root)
        if node is None:
            return []
        if node.op_type in DATA_DEPENDENT_OPS:
            return [f"the data of node {node.name!r} ({node.op_type}), whose output size depends on it"]
        if not onnx.defs.has(node.op_type, "" if node.domain == "ai.onnx" else node.domain):
            return []  # an op ONNX has no schema for (a custom domain's): inference skipped it, whatever it reads
        value_operands = [n for i, n in enumerate(node.input) if n and (i > 0 or node.op_type in _VALUE_FIRST)]
        found: list[str] = []
        stack, visited = list(value_operands), set()
        while stack:
            tensor = stack.pop()
            if tensor in visited or (tensor in self.constants and tensor not in self.graph_inputs):
                continue
            visited.add(tensor)
            if tensor in self.graph_inputs:
                found.append(f"graph input {tensor!r}")
                continue
            maker = self.producer.get(tensor)
            if maker is None or maker.op_type in ("Shape", "Size"):
                continue
            if maker.op_type in DATA_DEPENDENT_OPS:
                found.append(f"the data of node {maker.name!r} ({maker.op_type})")
                continue
            stack.extend(n for n in maker.input if n)
        return sorted(set(found))


_UNREPRESENTABLE = object()
"""What :data:`DTYPES` answers for an element type without a DType (:func:`to_dtype` raises its error)."""

DATA_DEPENDENT_OPS = frozenset({"NonZero", "Unique", "Compress", "NonMaxSuppression", "StringSplit", "Loop",
                                "TfIdfVectorizer", "SplitToSequence", "SequenceAt", "ConcatFromSequence",
                                "OptionalGetElement", "RegexFullMatch"})
"""Ops whose output shape depends on the values of their operands (or, for Loop, on a run-time condition)."""
_VALUE_FIRST = frozenset({"ConstantOfShape", "Range", "EyeLike", "MelWeightMatrix", "BlackmanWindow",
                          "HannWindow", "HammingWindow", "RandomNormal", "RandomUniform"})
"""Ops whose first operand is read as a value (a shape, a bound, a size)."""
