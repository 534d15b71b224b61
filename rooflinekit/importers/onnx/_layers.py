"""Building a :class:`Layer` from a handler's draft: shapes, per-tensor types, weights and precision.

A layer gets its own :class:`Precision` when it differs from the network's: activations at the type of its first
output (of its integer input for QLinearConv, ConvInteger, MatMulInteger, ...; of its fused integer kernel in a
QDQ graph), weights at the stored type of its first weight. An input or output tensor of another type carries it
in ``input_dtypes`` / ``output_dtypes`` (the int32 output of ConvInteger, the float side of a quantize or
dequantize, int64 indices), so its bytes are exact. Each weight whose stored type differs from the network's
weight precision carries it in ``TensorSpec.dtype`` (int8 weights and int32 biases of a QDQ layer in a float
network).
"""

from __future__ import annotations

from typing import Callable, Sequence

from onnx import NodeProto

from rooflinekit.descriptors import DType, Layer, Precision, TensorSpec
from rooflinekit.importers.onnx._dtypes import to_dtype
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._node import Draft
from rooflinekit.importers.onnx._quant import dq_source, fused_output_dtype, quantized
from rooflinekit.importers.onnx._shapes import Shape


class LayerBuilder:
    """Drafts -> Layers of one graph: unique names, one shared Precision instance per (weights, activations)."""

    def __init__(self, graph: Graph, network: Precision) -> None:
        self.graph, self.network = graph, network
        self._names: set[str] = set()
        self._precisions: dict[tuple[DType, DType], Precision] = {}

    def build(self, node: NodeProto, kind: str, draft: Draft, lenient: bool) -> Layer:
        """Resolve a draft's tensor names to shapes and types. Unknown shapes are dropped only when ``lenient``
        (views and unmapped ops, which cost nothing or are reported unsupported); elsewhere they are a
        ShapeError. The precision is None when it is the network's."""
        graph = self.graph
        kept = draft.outputs if draft.outputs is not None else range(len(node.output))
        outputs = [node.output[i] for i in kept if i < len(node.output) and node.output[i]]
        outputs = [n for n in outputs if graph.needed(n) or graph.known(n)]
        weights = [(name, shape) for name, shape in draft.weights if name]
        fused = quantized(graph, node)
        act = (fused or graph.dtype(draft.integer_input) or graph.dtype(outputs[0] if outputs else None)
               or graph.dtype(draft.inputs[0] if draft.inputs else None) or self.network.activations)
        w_dtype = to_dtype(graph.constants.stored[weights[0][0]], weights[0][0], graph.path) if weights else None
        read: Callable[[str], DType | None] = (lambda name: dq_source(graph, name)) if fused else graph.dtype
        write: Callable[[str], DType | None] = (
            (lambda name: fused_output_dtype(graph, name, fused)) if fused else graph.dtype)
        input_shapes, input_dtypes = self._activations(draft.inputs, draft.input_shapes, read, act, node, lenient)
        output_shapes, output_dtypes = self._activations(outputs, {}, write, act, node, lenient)
        return Layer(
            name=self._unique_name(node), op=kind, source_op=node.op_type,
            inputs=input_shapes, outputs=output_shapes, input_dtypes=input_dtypes, output_dtypes=output_dtypes,
            weights=self._tensors(weights, node, lenient), attrs=draft.attrs,
            precision=self._precision(w_dtype or act, act),
        )

    def _activations(self, names: Sequence[str], normalized: dict[int, Shape], dtype_of: Callable[[str], DType | None],
                     act: DType, node: NodeProto, lenient: bool) -> tuple[tuple[Shape, ...], tuple[DType | None, ...]]:
        """Shapes of tensors ``names`` (``normalized`` overrides by position), and their types where they differ
        from ``act`` (``()`` when none does). Empty tensors (a zero dim) are left out: they hold no bytes."""
        shapes: list[Shape] = []
        dtypes: list[DType | None] = []
        for position, name in enumerate(names):
            shape = normalized.get(position)
            if shape is None:
                if lenient and not self.graph.known(name):
                    continue
                shape = self.graph.shape(name, node)
            if all(shape):
                dtype = dtype_of(name)
                shapes.append(shape)
                dtypes.append(None if dtype == act else dtype)
        return tuple(shapes), tuple(dtypes) if any(d is not None for d in dtypes) else ()

    def _tensors(self, weights: list[tuple[str, Shape | None]], node: NodeProto,
                 lenient: bool) -> tuple[TensorSpec, ...]:
        """TensorSpecs of constants, with their stored type when it is not the network's weight precision."""
        graph, network = self.graph, self.network.weights
        specs = []
        for name, normalized in weights:
            if lenient and normalized is None and not graph.known(name):
                continue
            shape = normalized if normalized is not None else graph.shape(name, node)
            stored = to_dtype(graph.constants.stored[name], name, graph.path)
            if all(shape):
                specs.append(TensorSpec(shape=shape, dtype=stored if stored not in (None, network) else None))
        return tuple(specs)

    def _precision(self, weights: DType, activations: DType) -> Precision | None:
        """The layer's Precision, None when it is the network's (one shared instance per pair)."""
        if (weights, activations) == (self.network.weights, self.network.activations):
            return None
        key = (weights, activations)
        if key not in self._precisions:
            self._precisions[key] = Precision(weights=weights, activations=activations)
        return self._precisions[key]

    def _unique_name(self, node: NodeProto) -> str:
        """The node's name, or ``{op_type}_{n}`` when it has none; ``_2``, ``_3``... appended to repeats."""
        name = node.name or f"{node.op_type}_{len(self._names)}"
        unique, suffix = name, 1
        while unique in self._names:
            suffix += 1
            unique = f"{name}_{suffix}"
        self._names.add(unique)
        return unique
