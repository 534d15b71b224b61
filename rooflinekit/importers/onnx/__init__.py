"""ONNX importer: a ``.onnx`` file -> :class:`~rooflinekit.descriptors.LayerNetwork`.

The importer maps ONNX ops to canonical op kinds and normalizes their attributes; it never computes costs (an
Einsum keeps its equation, which the ``einsum`` counter reads). Pipeline, one module a step:

1. **read** (:mod:`._reading`) the protobuf without external data (whose files must exist and be long enough);
   check that every node input exists and put the nodes in topological order.
2. **bind** (:mod:`._binding`) symbolic or missing input dims from ``batch`` and ``input_shapes``.
3. **infer** (:mod:`._shapes`) shapes with ONNX shape inference, gap rules filling what it leaves unknown.
4. **fold constants** (:mod:`._constants`): nodes that compute only from constants become no layer.
5. **map** each remaining node through the op table (:mod:`._ops`; handlers in :mod:`._conv`, :mod:`._matmul`,
   :mod:`._einsum`, :mod:`._sequence`, :mod:`._quant`) to a draft, which :mod:`._layers` resolves into one
   Layer with shapes, per-tensor types and precision.

Precision: the network's is the type of its main input (the first float graph input, else the first one); a
layer carries its own where it differs (:mod:`._layers`). QDQ graphs run fused integer kernels (:mod:`._quant`).

Malformed files: what the protobuf and onnx calls raise (reading, external-data entries, shape inference, tensor
decoding) and what malformed node data makes Python raise (an attribute of the wrong type, an operand of the wrong
rank) is reported as :class:`ModelFileError` where it happens; any other exception is a bug and propagates as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

try:
    from onnx import NodeProto
except ImportError as missing:  # an optional dependency: say how to get it
    raise ImportError("the ONNX importer needs the onnx package: pip install 'rooflinekit[onnx]'") from missing

from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.onnx._binding import bind_inputs
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._layers import LayerBuilder
from rooflinekit.importers.onnx._node import Node
from rooflinekit.importers.onnx._ops import lookup
from rooflinekit.importers.onnx._reading import (check_external_data, main_input, opset, read_model, real_inputs,
                                                 topological_nodes)
from rooflinekit.importers.onnx._shapes import Info, infer

__all__ = ["load_onnx"]


def load_onnx(path: str | Path, batch: int = 1,
              input_shapes: Mapping[str, Sequence[int | str]] | None = None) -> LayerNetwork:
    """Import the ONNX model at ``path`` as a layer network of canonical op kinds.

    ``batch`` (>= 1) binds the first dim of every graph input whose first dim is symbolic or missing;
    ``input_shapes`` maps input names to full dims (ints, or dim names bound elsewhere), overriding the
    model's. Fixed dims stay as they are (scale a fixed batch with ``count_network(net, batch=...)``).
    ``LayerNetwork.batch`` is the first dim of the main input.

    Raises :class:`ModelFileError` (unreadable, malformed, dangling input, missing external data),
    :class:`ShapeError` (unbound symbolic dim, unknown shape of a costed tensor) or :class:`PrecisionError`.
    """
    path = Path(path)
    input_shapes = input_shapes or {}
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ShapeError(f"{path}: batch must be a positive integer, got {batch!r}")
    model = read_model(path)
    check_external_data(model, path)
    nodes = topological_nodes(model.graph, path)
    inputs = real_inputs(model.graph)
    bind_inputs(model.graph, inputs, batch, input_shapes, path)
    infos = infer(model, nodes, path)
    graph = Graph(path, opset(model), nodes, model.graph, infos)
    main = main_input(model.graph, inputs)
    builder = LayerBuilder(graph, Precision.parse(graph.dtype(main) or DType.FP32))
    layers = tuple(layer for node in nodes if (layer := _convert(node, graph, builder)) is not None)
    if not layers:
        raise ModelFileError(f"{path}: no operator depends on the graph inputs {inputs}; nothing to count")
    return LayerNetwork(name=model.graph.name or path.stem, precision=builder.network, source=str(path),
                        batch=_first_dim(infos.get(main)), layers=layers)


def _convert(node: NodeProto, graph: Graph, builder: LayerBuilder) -> Layer | None:
    """The Layer of ``node``, or None when it only computes constants."""
    if all(name in graph.constants for name in node.output if name):
        return None
    kind, handler, mapped = lookup(node)
    draft = handler(Node(node, graph))
    return builder.build(node, draft.kind or kind, draft, lenient=not mapped or draft.view)


def _first_dim(info: Info | None) -> int:
    return info.dims[0] if info and info.dims and isinstance(info.dims[0], int) and info.dims[0] > 0 else 1
