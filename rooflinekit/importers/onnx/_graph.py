"""The bound, shape-inferred graph: producers, consumers, constants, and the types and shapes of tensors."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import onnx
from onnx import NodeProto

from rooflinekit.descriptors import DType
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.onnx._constants import Constants
from rooflinekit.importers.onnx._dtypes import to_dtype
from rooflinekit.importers.onnx._shapes import UNKNOWN, Dim, Info, Shape


class Graph:
    """What the importer knows of the graph once shapes are inferred; read by handlers and the layer builder."""

    def __init__(self, path: Path, opset: int, nodes: list[NodeProto], graph: onnx.GraphProto,
                 infos: dict[str, Info]) -> None:
        self.path, self.opset, self.infos = path, opset, infos
        self.graph_outputs = {o.name for o in graph.output}
        self.producer: dict[str, NodeProto] = {}
        self.consumers: dict[str, list[NodeProto]] = defaultdict(list)
        for node in nodes:
            self.producer.update((name, node) for name in node.output if name)
            for name in node.input:
                self.consumers[name].append(node)
        self.constants = Constants(path, graph, nodes, infos, self.producer)

    def dtype(self, name: str | None) -> DType | None:
        """Element type of a tensor (None when unknown or without width)."""
        info = self.infos.get(name) if name else None
        return to_dtype(info.elem_type, name, self.path) if info else None

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        info = self.infos.get(name)
        return info.dims if info else None

    def known(self, name: str) -> bool:
        """Whether every dim of ``name`` is a size."""
        return self.infos.get(name, UNKNOWN).known

    def needed(self, name: str) -> bool:
        """Whether ``name`` is read by a node or is a graph output."""
        return name in self.graph_outputs or bool(self.consumers.get(name))

    def shape(self, name: str, node: NodeProto) -> Shape:
        """Concrete shape of ``name`` (zero dims allowed); :class:`ShapeError` when unknown or symbolic."""
        dims = self.dims(name)
        if dims is not None and all(isinstance(d, int) for d in dims):
            if any(d < 0 for d in dims):
                raise ModelFileError(f"{self.path}: tensor {name!r} has a negative dim: {list(dims)}")
            return dims
        source = self.producer.get(name)
        origin = f", produced by node {source.name!r} ({source.op_type})" if source is not None else ""
        what = "is unknown" if dims is None else f"has unresolved dims {list(dims)}"
        raise ShapeError(
            f"{self.path}: node {node.name!r} ({node.op_type}) reads or writes tensor {name!r}{origin}, whose shape "
            f"{what} (data-dependent, or an op ONNX shape inference does not know); fix the input shapes with "
            "input_shapes or simplify the model (onnxsim)")
