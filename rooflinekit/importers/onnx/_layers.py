"""Building a :class:`Layer` from a handler's draft: shapes, per-tensor types, tensor names, weights and precision.

The network's precision is the compute precision of its MAC-carrying layers (:mod:`rooflinekit.importers._precision`),
known once every node is resolved: :meth:`LayerBuilder.build` resolves each node to its fields with its full
precision and each weight's stored type (:class:`Resolved`), and :meth:`LayerBuilder.finish` picks the network's and
builds every Layer once, keeping only what differs from it.

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
from typing import Any, Callable, NamedTuple, Sequence

from rooflinekit.descriptors import DType, Layer, Precision, TensorSpec
from rooflinekit.importers._precision import MAC_KINDS, PrecisionVotes, precision_of
from rooflinekit.importers.onnx._dtypes import to_dtype
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._node import Draft
from rooflinekit.importers.onnx._quant import dq_source, fused_output_dtype, quantized
from rooflinekit.importers.onnx._reading import OnnxNode
from rooflinekit.importers.onnx._shapes import Shape


class Resolved(NamedTuple):
    """A node resolved to its layer's fields, before the network's precision is known."""

    fields: dict[str, Any]
    """Every :class:`Layer` field but ``precision`` and ``weights``."""
    weights: tuple[tuple[Shape, DType | None], ...]
    """Shape and stored type (None: not representable) of each weight."""
    precision: Precision
    """The layer's full precision."""


class LayerBuilder:
    """Drafts -> Layers of one graph: unique names, one shared Precision instance per (weights, activations)
    (:func:`~rooflinekit.importers._precision.precision_of`).

    ``network`` is the fallback precision (of the main input): the activation type of a layer whose tensors have
    none, and the network's when no layer carries MACs (:func:`finish` replaces it by the MAC layers' precision).
    """

    def __init__(self, graph: Graph, network: Precision) -> None:
        self.graph, self.network = graph, network
        self._names: set[str] = set()

    def build(self, node: OnnxNode, kind: str, draft: Draft, lenient: bool) -> Resolved:
        """Resolve a draft's tensor names to shapes and types. Unknown shapes are dropped only when ``lenient``
        (views and unmapped ops, which cost nothing or are reported unsupported); elsewhere they are a
        ShapeError. The layer's full precision and its weights' stored types are kept for :func:`finish`."""
        graph = self.graph
        written = node.output
        picked = written if draft.outputs is None else [written[i] for i in draft.outputs if i < len(written)]
        outputs = []
        graph_outputs, read = graph.graph_outputs, graph.read
        for name in picked:  # the outputs written, read or of known shape (a loop: most nodes write one)
            # Graph.needed (a graph output, or read by a node) or Graph.known, without a call for a read output
            if name and (name in graph_outputs or name in read or graph.known(name)):
                outputs.append(name)
        weights = [(name, shape) for name, shape in draft.weights if name] if draft.weights else []
        fused = quantized(graph, node) if graph.dequantizes else None
        act = (fused or (draft.integer_input and graph.dtype(draft.integer_input))  # no call without one
               or graph.dtype(outputs[0] if outputs else None)
               or graph.dtype(draft.inputs[0] if draft.inputs else None) or self.network.activations)
        w_dtype = to_dtype(graph.constants.stored[weights[0][0]], weights[0][0], graph.path) if weights else None
        read: Callable[[str], DType | None] = (lambda name: dq_source(graph, name)) if fused else graph.dtype
        write: Callable[[str], DType | None] = (
            (lambda name: fused_output_dtype(graph, name, fused)) if fused else graph.dtype)
        input_shapes, input_dtypes, input_names = self._activations(draft.inputs, draft.input_shapes, read, act, node,
                                                                    lenient)
        output_shapes, output_dtypes, output_names = self._activations(outputs, {}, write, act, node, lenient)
        fields = {"name": self._unique_name(node), "op": kind, "source_op": node.op_type, "inputs": input_shapes,
                  "outputs": output_shapes, "input_dtypes": input_dtypes, "output_dtypes": output_dtypes,
                  "input_names": input_names, "output_names": output_names, "attrs": draft.attrs}
        return Resolved(fields, self._tensors(weights, node, lenient) if weights else (),
                        precision_of(w_dtype or act, act))

    def discard(self, resolved: Resolved) -> None:
        """Forget the node :meth:`build` just resolved (it becomes no layer): its name is free again, so the
        names of the layers that follow are as if it had never been built."""
        self._names.discard(resolved.fields["name"])

    def _activations(self, names: Sequence[str], normalized: dict[int, Shape], dtype_of: Callable[[str], DType | None],
                     act: DType, node: OnnxNode, lenient: bool
                     ) -> tuple[tuple[Shape, ...], tuple[DType | None, ...], tuple[str, ...]]:
        """Shapes of tensors ``names`` (``normalized`` overrides by position), their types where they differ
        from ``act`` (``()`` when none does) and the names kept. Empty tensors (a zero dim) are left out: they hold
        no bytes."""
        graph = self.graph
        concrete = graph.concrete  # Graph.shape's common case, without a call per tensor
        if len(names) == 1 and not normalized and (shape := concrete.get(names[0])) is not None:
            # the common case, one tensor of concrete shape: no lists built (its type is kept where it differs)
            if not all(shape):
                return (), (), ()
            dtype = dtype_of(names[0])
            return (shape,), () if dtype is None or dtype == act else (dtype,), (names[0],)
        shapes: list[Shape] = []
        dtypes: list[DType | None] = []
        kept: list[str] = []
        for position, name in enumerate(names):
            shape = normalized.get(position) if normalized else None
            if shape is None:
                shape = concrete.get(name)
            if shape is None:
                if lenient and not graph.known(name):
                    continue
                shape = graph.shape(name, node)
            if all(shape):
                dtype = dtype_of(name)
                shapes.append(shape)
                dtypes.append(None if dtype == act else dtype)
                kept.append(name)
        return tuple(shapes), tuple(dtypes) if dtypes.count(None) < len(dtypes) else (), tuple(kept)

    def _tensors(self, weights: list[tuple[str, Shape | None]], node: OnnxNode,
                 lenient: bool) -> tuple[tuple[Shape, DType | None], ...]:
        """Shapes and stored types of constants (:meth:`finish` drops the network's weight type)."""
        graph = self.graph
        concrete = graph.concrete
        specs = []
        for name, normalized in weights:
            shape = normalized if normalized is not None else concrete.get(name)
            if shape is None:
                if lenient and not graph.known(name):
                    continue
                shape = graph.shape(name, node)
            stored = to_dtype(graph.constants.stored[name], name, graph.path)
            if all(shape):
                specs.append((shape, stored))
        return tuple(specs)

    def _unique_name(self, node: OnnxNode) -> str:
        """The node's name, or ``{op_type}_{n}`` when it has none; ``_2``, ``_3``... appended to repeats."""
        name = node.name or f"{node.op_type}_{len(self._names)}"
        unique, suffix = name, 1
        while unique in self._names:
            suffix += 1
            unique = f"{name}_{suffix}"
        self._names.add(unique)
        return unique


def finish(resolved: list[Resolved], fallback: Precision) -> tuple[Precision, tuple[Layer, ...]]:
    """The network's precision, and the layers with their precision and weight types relative to it.

    Parameters
    ----------
    resolved : list of Resolved
        Every node :meth:`LayerBuilder.build` resolved, with its full precision and stored weight types; emptied
        as its layers are built, so that each draft is freed once its layer exists (peak memory of large graphs).
    fallback : Precision
        The network's precision when no layer carries MACs (the builder's ``network``).

    Returns
    -------
    tuple of Precision and tuple of Layer
        The compute precision of the MAC-carrying layers (``fallback`` when there is none), and the layers with
        ``precision`` None where it is the network's and a weight's ``dtype`` None where it is the network's
        weight type.
    """
    votes = PrecisionVotes()
    for item in resolved:
        if item.fields["op"] in MAC_KINDS:  # a kind name (build's ``kind``, a str)
            first = item.weights[0] if item.weights else None
            votes.add(item.precision.weights if first else None, math.prod(first[0]) if first else 0,
                      item.precision.activations, sum(map(math.prod, item.fields["inputs"])))
    network = votes.winner() or fallback
    pair = (network.weights, network.activations)  # compared as a tuple: pydantic's __eq__ is slower
    layers: list[Layer] = []
    resolved.reverse()
    while resolved:
        item = resolved.pop()
        same = item.precision is network or (item.precision.weights, item.precision.activations) == pair
        weights = []
        for shape, dtype in item.weights:
            weights.append(_spec(shape, None if dtype == network.weights else dtype))
        # the builder's values have their fields' exact types (graph dims and names, DTypes, the handlers' typed
        # attrs): stored without validating them again
        fields = item.fields  # the draft's own dict, completed in place (the item is dropped here)
        fields["precision"] = None if same else item.precision
        fields["weights"] = tuple(weights)
        layers.append(Layer.from_typed(fields))
    return network, tuple(layers)


_SPECS: dict[tuple[Shape, DType | None], TensorSpec] = {}
_SPECS_LIMIT = 4096
"""Weight specs by (shape, dtype), shared by the layers of every network imported in the process (frozen; cleared
when full)."""


def _spec(shape: Shape, dtype: DType | None) -> TensorSpec:
    """The weight spec of ``shape`` (positive graph dims) at ``dtype`` (None: the network's weight type): built once
    per distinct pair (:data:`_SPECS`), as networks share most weight shapes (every 3x3 conv of 64 channels), and
    without validation (:meth:`TensorSpec.from_typed`: the values have its types)."""
    key = (shape, dtype)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= _SPECS_LIMIT:
            _SPECS.clear()
        spec = _SPECS[key] = TensorSpec.from_typed({"shape": shape, "dtype": dtype})
    return spec
