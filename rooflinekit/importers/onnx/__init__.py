"""ONNX importer: a ``.onnx`` file -> :class:`~rooflinekit.descriptors.LayerNetwork`.

The importer maps ONNX ops to canonical op kinds and normalizes their attributes; it never computes costs (an
Einsum keeps its equation, which the ``einsum`` counter reads). Pipeline, one module a step:

1. **read** (:mod:`._reading`) the protobuf without external data (whose files must exist and be long enough; the
   bytes of small external tensors are read in), and a large file without the bytes of its large weights
   (:mod:`._lean`), each node's fields once
   (:class:`._reading.OnnxNode`); check that every node input exists and put the nodes in topological order.
   ``If`` bodies and static ``Loop`` and ``Scan`` bodies are inlined into the main graph (:mod:`._control`).
2. **bind** (:mod:`._binding`) symbolic or missing input dims from ``batch`` and ``input_shapes`` (anonymous dims
   such as ``?`` are bound one by one, never shared).
3. **infer** (:mod:`._shapes`) shapes with ONNX shape inference on a weight-stripped copy, then the fallbacks: gap
   rules for ops it does not know, evaluation of small shape sub-graphs with ``onnx.reference``, conversion to the
   newest opset; a shape still unknown is a ShapeError that says whether it is data-dependent (:mod:`._graph`).
   Refuse shapes fixed by constants that contradict the batch (:mod:`._fixed_shapes`).
4. **fold constants** (:mod:`._constants`): nodes that compute only from constants become no layer.
5. **map** each remaining node through the op table (:mod:`._ops`; handlers in :mod:`._conv`, :mod:`._matmul`,
   :mod:`._einsum`, :mod:`._sequence`, :mod:`._quant`) to a draft, which :mod:`._layers` resolves into one
   Layer with shapes, per-tensor types and precision.

Memory: the C heap that shape inference frees (its C++ copy of the model), and the protobuf once step 5 is done,
are returned to the operating system (:mod:`._heap`) before the next step allocates.

Batch: the leading input dimension (:mod:`._binding`); ``LayerNetwork.batch`` is the batch the shapes describe.

Precision: the network's is the compute precision of its MAC-carrying layers (:mod:`rooflinekit.importers._precision`;
the type of its main input, the first float graph input else the first one, when it has none); a layer carries its
own where it differs (:mod:`._layers`). QDQ graphs run fused integer kernels (:mod:`._quant`).

Malformed files: what the protobuf and onnx calls raise (reading, external-data entries, shape inference, tensor
decoding) and what malformed node data makes Python raise (an attribute of the wrong type, an operand of the wrong
rank) is reported as :class:`ModelFileError` where it happens; any other exception is a bug and propagates as is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

try:
    import onnx  # the optional dependency, checked before the modules that use it
except ImportError as missing:  # an optional dependency: say how to get it
    raise ImportError("the ONNX importer needs the onnx package: pip install 'rooflinekit[onnx]'") from missing

from rooflinekit.descriptors import DType, LayerNetwork, Precision
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.onnx._binding import bind_inputs
from rooflinekit.importers.onnx._control import CONTROL_OPS, inline_control_flow
from rooflinekit.importers.onnx._fixed_shapes import check_fixed_shapes
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._heap import release_free_heap
from rooflinekit.importers.onnx._layers import LayerBuilder, Resolved, finish
from rooflinekit.importers.onnx._node import Node
from rooflinekit.importers.onnx._ops import lookup
from rooflinekit.importers.onnx._reading import (OnnxNode, main_input, node_records, opset, read_model, real_inputs,
                                                 resolve_external_data, topological_nodes)
from rooflinekit.importers.onnx._shapes import infer
from rooflinekit.importers._precision import precision_of
from rooflinekit.importers._semantic import check_layers
from rooflinekit.importers.onnx._validate import validate_model

__all__ = ["load_onnx"]


def load_onnx(path: str | Path, batch: int | None = None,
              input_shapes: Mapping[str, Sequence[int | str]] | None = None,
              branches: Mapping[str, str] | None = None,
              loop_counts: Mapping[str, int] | None = None) -> LayerNetwork:
    """Import the ONNX model at ``path`` as a layer network of canonical op kinds.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    batch : int or None, optional
        The batch, i.e. the leading dim of the graph inputs: it binds every leading dim the model leaves symbolic
        or missing. None (default): the leading dim ``input_shapes`` gives, else the model's own (1 when
        symbolic). A given batch must agree with both: a leading dim of ``input_shapes`` or a fixed leading dim of
        the main input that differs is a :class:`ShapeError`.
    input_shapes : Mapping of str to sequence of int or str, optional
        Full dims by input name (ints, or dim names bound elsewhere), overriding the model's; a leading dim sets
        the batch.
    branches : Mapping of str to str, optional
        The branch (``"then"`` or ``"else"``) to count by ``If`` node name; by default the branch a constant
        condition takes, else the more expensive one with a warning (:mod:`._control`).
    loop_counts : Mapping of str to int, optional
        Trip counts by ``Loop`` node name for loops whose count is computed at run time, and sequence lengths by
        ``Scan`` node name for scans whose length is not static; a constant count or a declared length needs none.
        The body is counted once per iteration.

    Returns
    -------
    LayerNetwork
        Its ``batch`` is the batch the layer shapes describe (costs are never rescaled behind the user's back) and
        its ``precision`` the compute precision of its MAC-carrying layers.

    Raises
    ------
    ModelFileError
        Unreadable or malformed file, dangling input, missing external data.
    ShapeError
        Unbound symbolic dim, a batch that contradicts ``input_shapes`` or the model, a constant shape that
        contradicts the batch (a Reshape target of another element count), unknown shape of a costed tensor.
    PrecisionError
        A tensor type rooflinekit cannot represent.
    """
    path = path if isinstance(path, Path) else Path(path)  # a Path is used as it is (no second parse)
    input_shapes = input_shapes or {}
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ShapeError(f"{path}: batch must be a positive integer or None (the model's own), got {batch!r}")
    name, batch, fallback, resolved = _resolve(path, batch, input_shapes, branches, loop_counts)
    release_free_heap(len(resolved))  # the protobuf and the graph are freed by now: their pages go back first
    precision, layers = finish(resolved, fallback)
    check_layers(layers, path)
    return LayerNetwork.from_layers(name=name, precision=precision, source=str(path), batch=batch, layers=layers)


def _resolve(path: Path, batch: int | None, input_shapes: Mapping[str, Sequence[int | str]],
             branches: Mapping[str, str] | None, loop_counts: Mapping[str, int] | None
             ) -> tuple[str, int, Precision, list[Resolved]]:
    """Steps 1 to 5 of the pipeline (module docstring): the network's name, its batch, the fallback precision (of
    the main input) and every node resolved to its layer's fields. Parameters and errors as :func:`load_onnx`."""
    model, nodes = read_model(path)
    validate_model(model, nodes, path)
    resolve_external_data(model, nodes, path)
    # the names of the graph inputs and initializers, read once (each protobuf read builds an object)
    declared_inputs = model.graph.input[:]
    input_names = [value.name for value in declared_inputs]
    declared = dict(zip(input_names, declared_inputs))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    inputs = real_inputs(input_names, initializers)
    main = main_input(declared, inputs)
    # bound before control flow is inlined: a condition computed from an input's shape sees the bound shape, and an
    # unbound dim is reported before any branch is chosen
    batch = bind_inputs(declared, inputs, main, batch, input_shapes, path)
    guessed: list[tuple[str, str]] = []
    if any(node.op_type in CONTROL_OPS for node in nodes):
        inlined = inline_control_flow(model, branches, loop_counts)
        guessed = inlined.guessed
        if inlined.changed:
            nodes = node_records(model.graph)
            initializers = {tensor.name: tensor for tensor in model.graph.initializer}  # the bodies' ones added
    try:
        return _resolve_inlined(path, model, nodes, declared, initializers, inputs, main, batch)
    except (ShapeError, ModelFileError) as exc:
        if guessed and exc.args:  # a branch chosen by cost may not apply to these inputs: say how to choose
            node, other = guessed[0]
            named = ", ".join(repr(label) for label, _ in guessed)
            exc.args = (f"{exc.args[0]}; the graph was costed with the more expensive branch of If {named}, whose "
                        "condition is known only at run time (warned): if a counted branch does not apply to these "
                        f"inputs, choose the other, e.g. branches={{{node!r}: {other!r}}}", *exc.args[1:])
        raise


def _resolve_inlined(path: Path, model: onnx.ModelProto, nodes: list[OnnxNode],
                     declared: Mapping[str, onnx.ValueInfoProto], initializers: Mapping[str, onnx.TensorProto],
                     inputs: list[str], main: str | None, batch: int) -> tuple[str, int, Precision, list[Resolved]]:
    """Steps 3 to 5 of the pipeline on the bound, inlined ``model``: shapes inferred, every live node resolved."""
    nodes = topological_nodes(model.graph, nodes, path, declared.keys() | initializers.keys())
    infos, values = infer(model, nodes, path)
    graph = Graph(path, opset(model), nodes, model.graph, initializers, inputs, infos, values)
    # step 4: a node that computes only from constants becomes no layer, and no data flows into it
    live = _live(nodes, graph.constants.stored)
    check_fixed_shapes(graph, live, batch)
    main_dtype = graph.dtype(main) or DType.FP32
    fallback = precision_of(main_dtype, main_dtype)
    builder = LayerBuilder(graph, fallback)
    resolved = [layer for node in live if (layer := _convert(node, graph, builder)) is not None]
    if not resolved:  # the graph computes constants only (a Shape of a fixed-shape input), or on empty tensors only
        resolved = [layer for node in nodes if (layer := _convert(node, graph, builder, everything=True))]
    if not resolved:
        raise ModelFileError(f"{path}: no operator depends on the graph inputs {inputs}; nothing to count")
    return network_name(model.graph.name, path), batch, fallback, resolved


def _live(nodes: list[OnnxNode], constant: Mapping[str, int]) -> list[OnnxNode]:
    """The ``nodes`` some output of which (a non-empty name) is not a ``constant`` tensor: those data flows
    through. A node writing one named output, the common case, is judged with one lookup (three times faster than
    the general test on a light-zoo model)."""
    live = []
    for node in nodes:
        written = node.output
        if len(written) == 1 and written[0]:
            if written[0] not in constant:
                live.append(node)
        elif not all(map(constant.__contains__, filter(None, written))):
            live.append(node)
    return live


_GENERIC_NAMES = frozenset({"", "torch_jit", "torch-jit-export", "tf2onnx", "main_graph", "main", "graph", "model",
                            "onnx_graph", "test_graph", "g", "paddle-onnx", "mxnet_converted_model", "sclbl-onnx-node1",
                            "tf2onnx_graph", "keras2onnx", "onnxruntime", "default", "network", "spox_graph",
                            "model from paddlepaddle.", "paddlepaddle graph in pir mode"})
"""Graph names exporters write whatever the model (``torch_jit`` from PyTorch, ``tf2onnx`` from TensorFlow,
``Model from PaddlePaddle.`` and ``PaddlePaddle Graph in PIR mode`` from Paddle2ONNX, ``spox_graph`` from spox)."""


_GENERIC_PATTERN = re.compile(r"(model|sequential|functional)(_\d+)?|[0-9a-f]{32}")
"""Generic names by pattern: Keras's numbered model names (``model_2``), skl2onnx's uuid hex."""


def network_name(graph_name: str, path: Path) -> str:
    """The network's name: the graph's when it is meaningful, else the file's stem (``resnet50.onnx`` ->
    ``resnet50``); a graph name is generic when exporters write it for every model (:data:`_GENERIC_NAMES`,
    :data:`_GENERIC_PATTERN`, any case)."""
    name = graph_name.strip()
    lowered = name.lower()
    if lowered in _GENERIC_NAMES or lowered.startswith(("torch_jit", "tf2onnx")) or _GENERIC_PATTERN.fullmatch(lowered):
        return path.stem
    return name


def _convert(node: OnnxNode, graph: Graph, builder: LayerBuilder, everything: bool = False) -> Resolved | None:
    """The resolved layer of ``node`` (callers pass only nodes that do not compute constants alone, unless
    ``everything``), or None when it moves no data (unless ``everything``: a graph with nothing else counts what
    a run does)."""
    kind, handler, mapped = lookup(node)
    draft = handler(Node(node, graph))
    resolved = builder.build(node, draft.kind or kind, draft, lenient=not mapped or draft.view or draft.lenient)
    fields = resolved.fields  # _empty's first look inlined: most layers keep a tensor
    if not everything and not (fields["inputs"] or fields["outputs"] or resolved.weights) and _empty(
            node, graph, resolved):
        builder.discard(resolved)
        return None
    return resolved


def _empty(node: OnnxNode, graph: Graph, resolved: Resolved) -> bool:
    """Whether ``node`` moves no data at all: every tensor it reads or writes is empty (a zero dim, as the empty
    initial state of a streaming model), so the layer kept none of them and there is nothing to count."""
    fields = resolved.fields
    if fields["inputs"] or fields["outputs"] or resolved.weights:
        return False
    outputs = [name for name in node.output if name]
    return bool(outputs) and all(graph.known(name) and 0 in (graph.dims(name) or ()) for name in outputs)

