"""Building a :class:`Layer` from a handler's draft: shapes, per-tensor types, tensor names, weights and precision.

The network's precision is the compute precision of its MAC-carrying layers (:mod:`rooflinekit.importers._precision`),
known once every layer is built: :meth:`LayerBuilder.build` gives each layer its full precision and each weight its
stored type, and :meth:`LayerBuilder.finish` picks the network's and keeps only what differs from it.

A layer gets its own :class:`Precision` when it differs from the network's: activations at the type of its first
output (of its integer input for QLinearConv, ConvInteger, MatMulInteger, ...; of its fused integer kernel in a
QDQ graph), weights at the stored type of its first weight. An input or output tensor of another type carries it
in ``input_dtypes`` / ``output_dtypes`` (the int32 output of ConvInteger, the float side of a quantize or
dequantize, int64 indices), so its bytes are exact. Each weight whose stored type differs from the network's
weight precision carries it in ``TensorSpec.dtype`` (int8 weights and int32 biases of a QDQ layer in a float
network). ``input_names`` / ``output_names`` are the graph's names of the activation tensors in ``inputs`` /
``outputs``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from onnx import NodeProto

from rooflinekit.descriptors import DType, Layer, Precision, TensorSpec
from rooflinekit.importers._precision import MAC_KINDS, PrecisionVotes
from rooflinekit.importers.onnx._dtypes import to_dtype
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._node import Draft
from rooflinekit.importers.onnx._quant import dq_source, fused_output_dtype, quantized
from rooflinekit.importers.onnx._shapes import Shape


class LayerBuilder:
    """Drafts -> Layers of one graph: unique names, one shared Precision instance per (weights, activations).

    ``network`` is the fallback precision (of the main input): the activation type of a layer whose tensors have
    none, and the network's when no layer carries MACs; :meth:`finish` replaces it by the MAC layers' precision.
    """

    def __init__(self, graph: Graph, network: Precision) -> None:
        self.graph, self.network = graph, network
        self._names: set[str] = set()
        self._precisions: dict[tuple[DType, DType], Precision] = {}

    def build(self, node: NodeProto, kind: str, draft: Draft, lenient: bool) -> Layer:
        """Resolve a draft's tensor names to shapes and types. Unknown shapes are dropped only when ``lenient``
        (views and unmapped ops, which cost nothing or are reported unsupported); elsewhere they are a
        ShapeError. The layer carries its full precision and its weights their stored types until :meth:`finish`."""
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
        input_shapes, input_dtypes, input_names = self._activations(draft.inputs, draft.input_shapes, read, act, node,
                                                                    lenient)
        output_shapes, output_dtypes, output_names = self._activations(outputs, {}, write, act, node, lenient)
        return Layer(
            name=self._unique_name(node), op=kind, source_op=node.op_type,
            inputs=input_shapes, outputs=output_shapes, input_dtypes=input_dtypes, output_dtypes=output_dtypes,
            input_names=input_names, output_names=output_names,
            weights=self._tensors(weights, node, lenient), attrs=draft.attrs,
            precision=self._pair(w_dtype or act, act),
        )

    def finish(self, layers: Sequence[Layer]) -> tuple[Precision, tuple[Layer, ...]]:
        """The network's precision, and the layers with their precision and weight types relative to it.

        Parameters
        ----------
        layers : sequence of Layer
            Every layer :meth:`build` made, each with its full precision and stored weight types.

        Returns
        -------
        tuple of Precision and tuple of Layer
            The compute precision of the MAC-carrying layers (the fallback ``network`` when there is none), and
            the layers with ``precision`` None where it is the network's and a weight's ``dtype`` None where it is
            the network's weight type.
        """
        votes = PrecisionVotes()
        for layer in layers:
            if getattr(layer.op, "value", layer.op) in MAC_KINDS and layer.precision is not None:
                votes.add(layer.precision.weights if layer.weights else None,
                          layer.weights[0].elements if layer.weights else 0, layer.precision.activations,
                          sum(math.prod(shape) for shape in layer.inputs))
        self.network = votes.winner() or self.network
        return self.network, tuple(self._relative(layer) for layer in layers)

    def _relative(self, layer: Layer) -> Layer:
        """``layer`` with its precision None where it is the network's, and so the weight types."""
        network = self.network
        weights = tuple(spec.model_copy(update={"dtype": None}) if spec.dtype == network.weights else spec
                        for spec in layer.weights)
        if layer.precision != network and all(a is b for a, b in zip(weights, layer.weights)):
            return layer
        return layer.model_copy(update={"precision": None if layer.precision == network else layer.precision,
                                        "weights": weights})

    def _activations(self, names: Sequence[str], normalized: dict[int, Shape], dtype_of: Callable[[str], DType | None],
                     act: DType, node: NodeProto, lenient: bool
                     ) -> tuple[tuple[Shape, ...], tuple[DType | None, ...], tuple[str, ...]]:
        """Shapes of tensors ``names`` (``normalized`` overrides by position), their types where they differ
        from ``act`` (``()`` when none does) and the names kept. Empty tensors (a zero dim) are left out: they hold
        no bytes."""
        shapes: list[Shape] = []
        dtypes: list[DType | None] = []
        kept: list[str] = []
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
                kept.append(name)
        return tuple(shapes), tuple(dtypes) if any(d is not None for d in dtypes) else (), tuple(kept)

    def _tensors(self, weights: list[tuple[str, Shape | None]], node: NodeProto,
                 lenient: bool) -> tuple[TensorSpec, ...]:
        """TensorSpecs of constants, with their stored type (:meth:`finish` drops the network's weight type)."""
        graph = self.graph
        specs = []
        for name, normalized in weights:
            if lenient and normalized is None and not graph.known(name):
                continue
            shape = normalized if normalized is not None else graph.shape(name, node)
            stored = to_dtype(graph.constants.stored[name], name, graph.path)
            if all(shape):
                specs.append(TensorSpec(shape=shape, dtype=stored))
        return tuple(specs)

    def _pair(self, weights: DType, activations: DType) -> Precision:
        """The layer's Precision (one shared instance per pair)."""
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
