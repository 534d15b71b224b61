"""Shape inference on the bound model, and gap rules for outputs it leaves unknown.

Stale ``value_info`` and output types are dropped and ONNX shape inference (``data_prop=True``, non-strict)
re-run; outputs it leaves unknown (custom-domain ops such as ``com.microsoft`` QLinearAdd) are filled by
:data:`_GAP_RULES`, then inference runs again.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence, TypeVar, cast

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper, shape_inference

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._heap import release_free_heap
from rooflinekit.importers.onnx._lean import SMALL_VALUE
from rooflinekit.importers.onnx._reading import MALFORMED, OnnxNode, attr, malformed_node

Dim = int | str | None
"""A tensor dim: a size, a symbolic name (``batch_size``), or None when unknown."""
Shape = tuple[int, ...]


def declared_dims(value_info: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    """Dims of a graph input as declared: sizes, dim names, None for a dim with neither; None when the rank is
    unknown. A negative size is such an anonymous dim: older Paddle2ONNX exports write -1 as the size of a dynamic
    dim."""
    dims = _tensor_dims(value_info.type.tensor_type)
    return None if dims is None else tuple([None if isinstance(d, int) and d < 0 else d for d in dims])


def _tensor_dims(tensor: onnx.TypeProto.Tensor) -> tuple[Dim, ...] | None:
    """:func:`declared_dims` of a tensor type (each protobuf field read once: every read builds an object), negative
    sizes as they are (an inferred one is an error the layer builder names)."""
    dims = tensor.shape.dim[:]
    if not dims and not tensor.HasField("shape"):
        return None
    return tuple([d.dim_value or (0 if d.HasField("dim_value") else _named(d.dim_param)) for d in dims])


def _named(dim_param: str) -> str | None:
    """A dim name, or None for an anonymous one (``?``, ``-1``, ``''``: exporters write these for "any size", so
    two such dims need not be equal)."""
    return dim_param if any(c.isalpha() for c in dim_param) else None


_INT = itertools.repeat(int)


def all_sizes(dims: Iterable[Dim]) -> bool:
    """Whether every dim is a size (an int), none a name or unknown (``map`` over ``isinstance``: twice as fast as
    a generator, and the check runs for every tensor several times)."""
    return all(map(isinstance, dims, _INT))


class Info(NamedTuple):
    """What shape inference knows of one tensor (a NamedTuple: built for every tensor, it must be cheap)."""

    elem_type: int
    dims: tuple[Dim, ...] | None

    @property
    def known(self) -> bool:
        return self.dims is not None and all_sizes(self.dims)


UNKNOWN = Info(TensorProto.UNDEFINED, None)
_ABSENT = Info(TensorProto.UNDEFINED, ())
"""An omitted optional input ('' in node.input): nothing to know."""


def infer(model: onnx.ModelProto, nodes: list[OnnxNode], path: Path) -> tuple[dict[str, Info], dict[str, np.ndarray]]:
    """Shapes (and small computed values) of every tensor, with the fallbacks a user would try by hand.

    Inference runs on a weight-stripped copy (:func:`stripped_copy`: initializers over :data:`SMALL_VALUE` elements
    become typed graph inputs), so weights are never serialized again; a model without such initializers is
    prepared in place instead (:func:`_prepare_in_place`: no copy alive while ONNX holds its own). When it leaves a
    node output unresolved:

    1. :data:`_GAP_RULES` fill outputs of ops ONNX shape inference does not know (``com.microsoft``);
    2. small shape sub-graphs (Shape/Gather/Concat/Range/... chains whose operands are known and small) are
       evaluated with :mod:`onnx.reference` (:func:`_evaluate_small`) and their values fed back as constants;
    3. the copy is converted to the newest opset (:func:`_converted`): ONNX propagates shape data for new op
       versions only (an opset-11 ``Unsqueeze`` of a ``Shape``).

    Parameters
    ----------
    model : onnx.ModelProto
        The bound model; its value_info and output types are cleared and its IR version raised to 4 when it has no
        large initializer (nothing after this step reads them).
    nodes : list of OnnxNode
        The records of its main graph's nodes, in its order.
    path : Path
        The model file, for messages.

    Returns
    -------
    tuple of dict and dict
        ``Info`` by tensor name, and the values computed in step 2 by tensor name.
    """
    stored: dict[str, Info] = {}
    kept: list[bool] = []  # _kept of the graph, read in the same pass (each protobuf read builds an object)
    for tensor in model.graph.initializer:
        dims = tuple(tensor.dims[:])
        stored[tensor.name] = Info(tensor.data_type, dims)
        kept.append(_stays(tensor, dims))
    stripped = _prepare_in_place(model) if all(kept) else stripped_copy(model, kept)
    gaps = [node for node in nodes if node.op_type in _GAP_RULES]
    infos = _infer_with_gaps(stripped, stored, path, gaps, computed=False)
    values: dict[str, np.ndarray] = {}
    if not _unresolved(nodes, infos):
        return infos, values
    if stripped is model:  # the fallbacks edit the graph they infer on: a copy, never the model's own
        stripped = _with_graph_of(model)
    for _ in range(_MAX_ROUNDS):
        found = _evaluate_small(stripped, infos, values)
        if not found:
            break
        _inline_values(stripped, found)
        infos = _infer_with_gaps(stripped, stored, path, gaps)
        if not _unresolved(nodes, infos):
            break
    if _unresolved(nodes, infos):
        converted = _converted(stripped)
        if converted is not None:
            try:
                more = _infer_with_gaps(converted, stored, path,
                                        [node for node in converted.graph.node if node.op_type in _GAP_RULES])
            except ModelFileError:
                more = {}
            infos.update({name: info for name, info in more.items()
                          if info.known and not infos.get(name, UNKNOWN).known})
    for name, value in values.items():
        infos.setdefault(name, Info(helper.np_dtype_to_tensor_dtype(value.dtype), tuple(value.shape)))
    return infos, values


_MAX_ROUNDS = 8
_MADE_FROM_VALUES = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "OneHot",
                               "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                               "Multinomial", "Bernoulli", "Pad", "Col2Im", "CenterCropPad"})
"""Ops whose output size follows from operand values: evaluated only when the output stays small."""
_NOT_EVALUATED = frozenset({"If", "Loop", "Scan", "RandomNormal", "RandomUniform", "RandomNormalLike",
                            "RandomUniformLike", "Multinomial", "Bernoulli", "ImageDecoder"})


def stripped_copy(model: onnx.ModelProto, kept: list[bool] | None = None) -> onnx.ModelProto:
    """A copy of ``model`` for shape inference: nodes and graph inputs as they are (bound), initializers over
    :data:`SMALL_VALUE` elements (or stored outside the file) as typed graph inputs (dims kept, data dropped),
    outputs untyped and no stale value_info. Without such initializers the graph is copied whole (one protobuf
    copy, ten times faster than copying node by node), then its value_info and output types are cleared.
    ``kept``: :func:`_kept` of its graph, when already known."""
    kept = _kept(model.graph) if kept is None else kept
    if all(kept):
        copy = _with_graph_of(model)
        _undeclare(copy.graph)
        return copy
    copy = _with_graph_of(model, graph=False)
    graph, source = copy.graph, model.graph
    graph.name = source.name
    graph.node.extend(source.node)
    graph.input.extend(source.input)  # before IR 4, initializers are listed as inputs too, and must stay so
    listed = {i.name for i in source.input}
    for tensor, keep in zip(source.initializer, kept):
        if keep:
            graph.initializer.append(tensor)
        elif tensor.name not in listed:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    graph.sparse_initializer.extend(source.sparse_initializer)
    for output in source.output:
        graph.output.add().name = output.name
    return copy


def _kept(graph: onnx.GraphProto) -> list[bool]:
    """:func:`_stays` of each initializer of ``graph``."""
    return [_stays(tensor, tensor.dims) for tensor in graph.initializer]


def _stays(tensor: onnx.TensorProto, dims: Iterable[int]) -> bool:
    """Whether an initializer (of dims ``dims``) stays one for shape inference: at most :data:`SMALL_VALUE`
    elements and stored in the file (its values may be shapes, axes, pads)."""
    return tensor.data_location != TensorProto.EXTERNAL and _elements(dims) <= SMALL_VALUE


def _with_graph_of(model: onnx.ModelProto, graph: bool = True) -> onnx.ModelProto:
    """A model of what shape inference reads of ``model``: its IR version (at least 4: initializers need not be
    listed as inputs, so values computed by fallback 2 count as constants), opsets, local functions and (unless not
    ``graph``) a copy of its graph."""
    copy = onnx.ModelProto(ir_version=max(model.ir_version, 4))
    copy.opset_import.extend(model.opset_import)
    copy.functions.extend(model.functions)
    if graph:
        copy.graph.CopyFrom(model.graph)
    return copy


def _prepare_in_place(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` made ready for shape inference as :func:`stripped_copy` makes its copy (IR version at least 4, no
    value_info, untyped outputs), for a model without large initializers: no second copy of its graph is alive
    while ONNX's C++ inference holds its own. Its other fields (producer, metadata, training info) are not read
    by shape inference. Returns ``model``."""
    model.ir_version = max(model.ir_version, 4)
    _undeclare(model.graph)
    return model


def _undeclare(graph: onnx.GraphProto) -> None:
    """Drop what the file declares of computed tensors (value_info, output types): inference derives them again
    from the bound inputs, and a declared shape of another batch would stand."""
    graph.ClearField("value_info")
    for output in graph.output:
        output.ClearField("type")


def _elements(dims: Iterable[int]) -> int:
    """Elements of a tensor of ``dims`` (a negative dim, which a malformed file may hold, counts as 0)."""
    total = 1
    for d in dims:
        d = int(d)
        total *= d if d > 0 else 0  # max(d, 0) without a call per dim
    return total


def _infer_with_gaps(model: onnx.ModelProto, stored: dict[str, Info], path: Path,
                     gaps: Sequence[NodeProto | OnnxNode], computed: bool = True) -> dict[str, Info]:
    """Shape inference on ``model``, rerun while :data:`_GAP_RULES` fill outputs it leaves unknown; ``stored``
    gives the types and dims of the original model's initializers, ``gaps`` the nodes of ``model`` whose op has a
    gap rule (most models have none, and then the nodes are not read again), ``computed`` whether ``model`` may
    hold initializers that are not in ``stored`` (:func:`_run_inference`)."""
    done: set[str] = set()
    while True:
        infos = _run_inference(model, stored, path, computed)
        filled = _fill_gaps(gaps, infos, done, path) if gaps else []
        if not filled:
            return infos
        model.graph.value_info.extend(filled)


def _unresolved(nodes: list[OnnxNode], infos: dict[str, Info]) -> bool:
    """Whether some node output that is read (by a node, or as the last node's) has an unknown rank or a dim that
    is not a size; an unread output (a Dropout mask) does not matter."""
    read = {name for node in nodes for name in node.input}
    if nodes:
        read.update(nodes[-1].output)
    read.discard("")
    # the dims of the read outputs, judged in one look (a call per output took a quarter longer)
    dims = [infos.get(name, UNKNOWN).dims for node in nodes for name in node.output if name in read]
    return None in dims or not all_sizes(itertools.chain.from_iterable(cast(list[tuple[Dim, ...]], dims)))


def _evaluate_small(model: onnx.ModelProto, infos: dict[str, Info],
                    values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Values of node outputs computable from small known values (fallback 2), in one pass over the nodes.

    Known: small initializers, ``Constant`` outputs, the ``Shape``/``Size`` of a tensor of known shape, and what
    this pass computes. A node is evaluated with :class:`onnx.reference.ReferenceEvaluator` when every operand is
    known and at most :data:`SMALL_VALUE` elements and, for ops that make tensors from values (ConstantOfShape,
    Expand, Range...), its output stays as small; never for control flow or random ops. Nodes onnx.reference
    cannot run are left alone."""
    from onnx.reference import ReferenceEvaluator

    known: dict[str, np.ndarray] = dict(values)
    for tensor in model.graph.initializer:
        if _elements(tensor.dims) <= SMALL_VALUE:
            try:
                known[tensor.name] = numpy_helper.to_array(tensor)
            except MALFORMED:
                continue
    opsets = {entry.domain or "": entry.version for entry in model.opset_import}
    found: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        if node.op_type in _NOT_EVALUATED or node.domain not in ("", "ai.onnx") or not node.output:
            continue
        operands = [name for name in node.input if name]
        if node.op_type in ("Shape", "Size") and operands and infos.get(operands[0], UNKNOWN).known:
            dims = np.asarray(infos[operands[0]].dims, dtype=np.int64)
            if node.op_type == "Size":
                result = [np.asarray(np.prod(dims), dtype=np.int64)]
            else:
                start, end = attr(node, "start", 0), attr(node, "end", None)
                result = [dims[start:end]]
        elif all(name in known for name in operands):
            if any(known[name].size > SMALL_VALUE for name in operands) or _too_big(node, known):
                continue
            try:
                single = helper.make_graph([node], "node", [helper.make_empty_tensor_value_info(n) for n in operands],
                                           [helper.make_empty_tensor_value_info(n) for n in node.output if n])
                evaluator = ReferenceEvaluator(helper.make_model(
                    single, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()]))
                result = list(evaluator.run(None, {name: known[name] for name in operands}))
            except Exception:  # noqa: BLE001 - onnx.reference raises anything on ops it cannot run
                continue
        else:
            continue
        for name, value in zip(node.output, result):
            if name and isinstance(value, np.ndarray) and value.size <= SMALL_VALUE:
                known[name] = found[name] = np.asarray(value)
    values.update(found)
    return {name: value for name, value in found.items()
            if not any(name == t.name for t in model.graph.initializer)}


def _too_big(node: NodeProto, known: dict[str, np.ndarray]) -> bool:
    """Whether ``node`` (an op that makes its output from operand values) would write over :data:`SMALL_VALUE`
    elements; a bound that cannot be told is too big."""
    if node.op_type not in _MADE_FROM_VALUES:
        return False
    try:
        if node.op_type == "ConstantOfShape":
            return _elements(known[node.input[0]].reshape(-1)) > SMALL_VALUE
        if node.op_type in ("Expand", "Tile"):
            shape = known[node.input[1]].reshape(-1)
            data = known[node.input[0]]
            size = data.size * _elements(shape) if node.op_type == "Tile" else _elements(np.maximum(
                np.broadcast_shapes(data.shape, tuple(int(d) for d in shape)), 1))
            return size > SMALL_VALUE
        if node.op_type == "Range":
            start, limit, delta = (float(known[n].reshape(-1)[0]) for n in node.input[:3])
            return delta == 0 or (limit - start) / delta > SMALL_VALUE
    except (ValueError, IndexError, KeyError, TypeError, OverflowError):
        return True
    return True


def _inline_values(model: onnx.ModelProto, found: dict[str, np.ndarray]) -> None:
    """Replace the nodes whose every output was computed by initializers holding those values."""
    keep = [node for node in model.graph.node if not all(n in found for n in node.output if n)]
    computed = {n for node in model.graph.node for n in node.output if n in found}
    del model.graph.node[:]
    model.graph.node.extend(keep)
    existing = {t.name for t in model.graph.initializer}
    for name in computed - existing:
        model.graph.initializer.append(numpy_helper.from_array(found[name], name))
    model.graph.ClearField("value_info")


def _converted(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """``model`` converted to the newest default-domain opset (fallback 3), None when it is already there or
    onnx cannot convert it."""
    newest = onnx.defs.onnx_opset_version()
    current = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    if not current or current[0] >= newest:
        return None
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, newest)
    except Exception:  # noqa: BLE001 - the converter raises anything (RuntimeError, C++ errors) on ops it lacks
        return None


def _run_inference(model: onnx.ModelProto, stored: dict[str, Info], path: Path, computed: bool = True
                   ) -> dict[str, Info]:
    """``Info`` by tensor name after ONNX shape inference on ``model``; an initializer of the original model has
    its ``stored`` type and dims (the stripped ones came back as graph inputs), without reading it again. The
    other initializers, values fallback 2 computed, are read only when ``computed`` says there may be some
    (before fallback 2 every initializer is one of ``stored``: reading their names was 12 us of a 1.6 ms import
    of the light zoo's ZFNet). (An Einsum equation shape inference would never return on is refused before, by
    :mod:`._validate`.)"""
    try:
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx's C++ errors have no common Python base class
        raise ModelFileError(f"{path}: ONNX shape inference rejected the model: {exc}") from exc
    graph = inferred.graph
    # non-tensors get type 0 and no dims; value_info last, so that a gap filled there beats an untyped output
    # (slices: one call per field; a comprehension, whose variable does not outlive it: a loop's last value would
    # keep the inferred model's memory alive past the heap release below)
    infos: dict[str, Info] = {name: _type_info(value.type)
                              for value in graph.output[:] + graph.input[:] + graph.value_info[:]
                              if (name := value.name) not in stored}
    if computed:
        infos.update((name, Info(t.data_type, tuple(t.dims[:]))) for t in graph.initializer
                     if (name := t.name) not in stored)
    infos.update(stored)
    del graph, inferred
    release_free_heap(len(model.graph.node))  # the C++ copy and the inferred model are freed: give their pages back
    return infos


def _type_info(value_type: onnx.TypeProto) -> Info:
    """The ``Info`` of a value's type (non-tensors: type 0, no dims), remembered by the type's serialized bytes
    (:data:`_TYPE_INFOS`): serializing it is one call, reading its fields one per dim and more, and the tensors of
    a graph share few distinct types."""
    key = value_type.SerializeToString()
    info = _TYPE_INFOS.get(key)
    if info is None:
        if len(_TYPE_INFOS) >= _TYPE_INFOS_LIMIT:
            _TYPE_INFOS.clear()
        tensor = value_type.tensor_type
        info = _TYPE_INFOS[key] = Info(tensor.elem_type, _tensor_dims(tensor))
    return info


_TYPE_INFOS: dict[bytes, Info] = {}
_TYPE_INFOS_LIMIT = 4096
"""``Info`` by serialized ``TypeProto`` (cleared when full): equal bytes are equal types."""


# ------------------------------------------------------------------------- gap rules (custom-domain shapes)

_Rule = Callable[[NodeProto, list[Info]], tuple[Dim, ...] | None]
"""Output 0's dims from the node and its operands' infos; None when the rule does not cover the node's attributes
(the output stays unknown)."""


def _same_as(index: int) -> _Rule:
    """Output shape = shape of input ``index`` (unary ops)."""
    return lambda node, ins: ins[index].dims


def _broadcast_of(a: int, b: int) -> _Rule:
    """Output shape = numpy broadcast of inputs ``a`` and ``b`` (QLinearAdd: A at 0, B at 3)."""
    return lambda node, ins: tuple(np.broadcast_shapes(tuple(ins[a].dims), tuple(ins[b].dims)))


def _global_pool_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """(N, C, *S) -> (N, C, 1, ...); channels_last=1: (N, *S, C) -> (N, 1, ..., C)."""
    dims = ins[0].dims
    if attr(node, "channels_last", 0):
        return (dims[0], *([1] * (len(dims) - 2)), dims[-1])
    return (dims[0], dims[1], *([1] * (len(dims) - 2)))


def _gemm_of(a_index: int, b_index: int) -> _Rule:
    """Gemm-like ops with A at ``a_index`` and B at ``b_index`` (QGemm: 0 and 3; FusedGemm, a Gemm with a fused
    activation: 0 and 1): (M, N) after transA/transB."""

    def rule(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
        a, b = ins[a_index].dims, ins[b_index].dims
        return (a[1] if attr(node, "transA", 0) else a[0], b[0] if attr(node, "transB", 0) else b[1])

    return rule


_D = TypeVar("_D", int, Dim)
"""A dim: a size (an importer's concrete shape) or a :data:`Dim` (shape inference's)."""


def fused_operand(dims: Sequence[_D], transposed: bool, batch_moved: bool) -> tuple[_D, ...]:
    """An operand of com.microsoft FusedMatMul as it enters the product (onnxruntime's
    ``FusedMatMulShapeInference``, contrib_defs.cc): with ``transBatch`` (``batch_moved``) its leading dim moves to
    the row position, ``(d0, d1, ..., d_{r-2}, d_{r-1}) -> (d1, ..., d_{r-2}, d0, d_{r-1})``; then, with ``trans``
    (``transposed``), its last two dims swap. A vector is used as it is (neither applies); a matrix is unchanged by
    the batch move."""
    dims = tuple(dims)
    if len(dims) < 2:
        return dims
    if batch_moved:
        dims = (*dims[1:-1], dims[0], dims[-1])
    return (*dims[:-2], dims[-1], dims[-2]) if transposed else dims


def _fused_matmul_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """com.microsoft FusedMatMul, ``alpha * A' @ B'`` with ``A'``/``B'`` the operands as :func:`fused_operand`
    gives them (``transA``/``transB``, ``transBatchA``/``transBatchB``): numpy matmul shapes (a vector operand
    promoted, then its dim dropped)."""
    a = list(fused_operand(ins[0].dims or (), bool(attr(node, "transA", 0)), bool(attr(node, "transBatchA", 0))))
    b = list(fused_operand(ins[1].dims or (), bool(attr(node, "transB", 0)), bool(attr(node, "transBatchB", 0))))
    vector_a, vector_b = len(a) == 1, len(b) == 1
    a, b = [1, *a] if vector_a else a, [*b, 1] if vector_b else b
    if a[-1] != b[-2]:
        raise ValueError(f"A' {a} and B' {b} do not contract (last dim of A' against second-to-last of B')")
    out = [*np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])), a[-2], b[-1]]
    return tuple(out[:-2] + out[-2:][vector_a:2 - vector_b])


def _fused_conv_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """com.microsoft FusedConv (a Conv with a fused activation): X (N, C, *S) and W (M, C / group, *k) ->
    (N, M, *S_out) with ``S_out = floor((S + pad_begin + pad_end - dilation * (k - 1) - 1) / stride) + 1``
    (``auto_pad`` SAME_*: ``ceil(S / stride)``; VALID: no pads)."""
    x, w = ins[0].dims, ins[1].dims
    rank = len(x) - 2
    kernel = attr(node, "kernel_shape", None) or w[2:]
    strides = attr(node, "strides", None) or (1,) * rank
    dilations = attr(node, "dilations", None) or (1,) * rank
    auto_pad = attr(node, "auto_pad", "NOTSET")
    pads = (0,) * (2 * rank) if auto_pad == "VALID" else attr(node, "pads", None) or (0,) * (2 * rank)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return (x[0], w[0], *(-(-x[2 + i] // strides[i]) for i in range(rank)))
    return (x[0], w[0], *((x[2 + i] + pads[i] + pads[rank + i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i]
                          + 1 for i in range(rank)))


def _qlinear_concat_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """QLinearConcat (y_scale, y_zero_point, then (X, scale, zero_point) triples): concat along ``axis``."""
    tensors = [ins[i].dims for i in range(2, len(ins), 3)]
    axis = attr(node, "axis", 0) % len(tensors[0])
    return (*tensors[0][:axis], sum(t[axis] for t in tensors), *tensors[0][axis + 1:])


def _dynamic_quantize_lstm_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """com.microsoft DynamicQuantizeLSTM: Y (seq, directions, batch, hidden) from X (seq, batch, input) and W
    (directions, input, 4 * hidden)."""
    x, w = ins[0].dims, ins[1].dims
    hidden = attr(node, "hidden_size", 0) or w[2] // 4
    return (x[0], w[0], x[1], hidden)


_GAP_RULES: dict[str, _Rule] = {
    "DynamicQuantizeLSTM": _dynamic_quantize_lstm_shape,
    **{op: _same_as(0) for op in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "Gelu", "FastGelu",
                                  "BiasGelu", "QuickGelu", "GroupNormalization", "MeanVarianceNormalization",
                                  "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
                                  "SimplifiedLayerNormalization", "BiasAdd")},
    "QLinearAdd": _broadcast_of(0, 3), "QLinearMul": _broadcast_of(0, 3),
    "QLinearGlobalAveragePool": _global_pool_shape, "QGemm": _gemm_of(0, 3), "QLinearConcat": _qlinear_concat_shape,
    "FusedConv": _fused_conv_shape, "FusedGemm": _gemm_of(0, 1), "FusedMatMul": _fused_matmul_shape,
}
"""Shape rules for ops ONNX shape inference does not know (``com.microsoft``, and the ``SimplifiedLayerNormalization``
onnxruntime's optimizers write in the default domain) or leaves open (GroupNormalization, a function op, as is
MeanVarianceNormalization); output 0, of input 0's type, and the outputs of :data:`_SAME_AS_OUTPUT_0` and
:data:`_ROW_STATISTICS`."""
_SAME_AS_OUTPUT_0: dict[str, int] = {"SkipLayerNormalization": 3, "SkipSimplifiedLayerNormalization": 3}
"""Another output of the same shape as output 0, by op: the sum ``input + skip (+ bias)`` the residual path reads."""
_ROW_STATISTICS = frozenset({"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"})
"""Ops whose optional outputs 1 and 2 (``mean``, ``inv_std_var``: float, as onnxruntime's schemas type them) hold one
value per normalized row; onnxruntime's shape inference leaves them open, so they get the shape ONNX
LayerNormalization gives its Mean and InvStdDev over the last axis: output 0's dims with the last one 1."""


def _fill_gaps(nodes: Sequence[NodeProto | OnnxNode], infos: dict[str, Info], done: set[str],
               path: Path) -> list[onnx.ValueInfoProto]:
    """value_info for outputs of :data:`_GAP_RULES` ops that inference left unknown while their inputs are known;
    each output is filled once (``done``), so the inference loop ends. A rule that fails on the node's operands or
    attributes (too few inputs, shapes that do not broadcast) reports the node as malformed."""
    filled = []
    for node in nodes:
        rule = _GAP_RULES.get(node.op_type)
        if rule is None or not node.output or node.output[0] in done or infos.get(node.output[0], UNKNOWN).known:
            continue
        ins = [infos.get(name, UNKNOWN) if name else _ABSENT for name in node.input]
        if ins and all(info.known for info in ins):
            done.add(node.output[0])
            try:
                dims = rule(node, ins)
            except MALFORMED as exc:
                raise malformed_node(path, node, exc) from exc
            if dims is None:
                continue
            also = _SAME_AS_OUTPUT_0.get(node.op_type)
            for name in (node.output[0], *(node.output[also:also + 1] if also else ())):
                if name:
                    filled.append(helper.make_tensor_value_info(name, ins[0].elem_type, dims))
            if node.op_type in _ROW_STATISTICS and dims:
                filled.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, (*dims[:-1], 1))
                              for name in node.output[1:3] if name)
    return filled
