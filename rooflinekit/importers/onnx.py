"""ONNX importer: a ``.onnx`` file -> :class:`~rooflinekit.descriptors.LayerNetwork`.

The importer maps ONNX ops to canonical op kinds and normalizes their attributes; it never computes costs,
except Einsum's MAC number, which only the equation can give (``attrs["macs"]``). Pipeline:

1. **read** ``onnx.load(path, load_external_data=False)``: external-data files must exist and be long enough,
   their bytes are never read (only shapes matter).
2. **check** every node input is a graph input, an initializer or a node output; nodes are put in
   topological order.
3. **bind** symbolic or missing input dims: the first dim of each graph input from ``batch``, any dim from
   ``input_shapes`` (input name -> dims, overriding); a dim name (``seq_len``) bound in one input is bound in
   all. Graph input shapes are rewritten, stale ``value_info`` and output types dropped, and ONNX shape
   inference (``data_prop=True``, non-strict) re-run; outputs it leaves unknown (custom-domain ops such as
   ``com.microsoft`` QLinearAdd) are filled by :data:`_GAP_RULES`, then inference runs again.
4. **fold constants**: a tensor is constant if it is an initializer, a ``Constant`` output, the ``Shape`` or
   ``Size`` of a tensor of known shape, or an output of a node whose inputs are all constant
   (ConstantOfShape of a constant shape, Identity/Cast/DequantizeLinear of a weight, shape arithmetic). Such
   nodes become no layer. A constant keeps its stored type through DequantizeLinear and views, so an int8
   initializer behind a DequantizeLinear is an int8 weight.
5. **map** each remaining node to one Layer through :data:`_OPS` (op_type -> kind, handler). Constant data
   operands become ``weights``, the others ``inputs``; control operands (target shapes, axes, pads, scales
   and zero points, sequence lengths) are neither. An op without an entry keeps its op_type as kind, so the
   counters report it in ``unsupported_ops``.

Precision: the network's is the type of its main input (the first float graph input, else the first one).
A layer gets its own :class:`Precision` when it differs: activations at the type of its first output (of its
integer input for QLinearConv, ConvInteger, MatMulInteger, ...), weights at the stored type of its first
weight. Each weight whose stored type differs from the network's weight precision carries it in
``TensorSpec.dtype`` (int8 weights and int32 biases of a QDQ layer in a float network).

QDQ graphs: an op whose activation inputs all come from ``DequantizeLinear`` of activations runs at the
integer type behind that DequantizeLinear (the integer kernel a QDQ runtime fuses); its DequantizeLinear
weights keep their integer type. Chosen convention: a Q/DQ node absorbed by such a fusion is kept as a
zero-cost ``identity`` layer (a QuantizeLinear whose producer is quantized, a DequantizeLinear whose
consumers all are), so it stays visible in per-layer rows; a Q/DQ at a float/integer boundary (a float graph
input, a float consumer) is a real ``quantize``/``dequantize``. Scales and zero points are not weights.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

try:
    import onnx
except ImportError as missing:  # an optional dependency: say how to get it
    raise ImportError("the ONNX importer needs the onnx package: pip install 'rooflinekit[onnx]'") from missing
from google.protobuf.message import DecodeError
from onnx import AttributeProto, NodeProto, TensorProto, helper, numpy_helper, shape_inference

from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision, TensorSpec
from rooflinekit.errors import ModelFileError, PrecisionError, RooflineError, ShapeError

Dim = int | str | None
"""A tensor dim: a size, a symbolic name (``batch_size``), or None when unknown."""
Shape = tuple[int, ...]

_MALFORMED = (ValueError, TypeError, IndexError, KeyError, ArithmeticError)
"""What a malformed protobuf can make onnx, numpy or pydantic raise; reported as :class:`ModelFileError`."""

_TYPE_NAMES: dict[str, DType | None] = {
    "FLOAT": DType.FP32, "UINT8": DType.INT8, "INT8": DType.INT8, "UINT16": DType.INT16, "INT16": DType.INT16,
    "INT32": DType.INT32, "UINT32": DType.INT32, "INT64": DType.INT64, "UINT64": DType.INT64, "BOOL": DType.BOOL,
    "FLOAT16": DType.FP16, "BFLOAT16": DType.BF16, "DOUBLE": DType.FP64, "FLOAT8E4M3FN": DType.FP8,
    "FLOAT8E4M3FNUZ": DType.FP8, "FLOAT8E5M2": DType.FP8, "FLOAT8E5M2FNUZ": DType.FP8, "FLOAT8E8M0": DType.FP8,
    "UINT4": DType.INT4, "INT4": DType.INT4, "UINT2": DType.INT2, "INT2": DType.INT2, "UNDEFINED": None,
    "STRING": None,
}
_DTYPES: dict[int, DType | None] = {
    getattr(TensorProto, name): dtype for name, dtype in _TYPE_NAMES.items() if hasattr(TensorProto, name)}
"""ONNX element type -> DType (the types this onnx version knows); None: no width (unknown, string). Others
(complex, fp4, fp6) are refused with a PrecisionError."""

_FLOATS = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
_SMALL_VALUE = 64
"""Constant tensors up to this many elements are read for attribute values (axes, pads, starts...)."""


# ----------------------------------------------------------------------------------------------- public API


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
    try:
        return _import(path, batch, input_shapes or {})
    except RooflineError:
        raise
    except _MALFORMED as exc:
        raise ModelFileError(f"{path}: malformed ONNX model ({type(exc).__name__}: {exc}); re-export it or "
                             "check it with onnx.checker.check_model") from exc


def _import(path: Path, batch: int, input_shapes: Mapping[str, Sequence[int | str]]) -> LayerNetwork:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ShapeError(f"{path}: batch must be a positive integer, got {batch!r}")
    model = _read_model(path)
    _check_external_data(model, path)
    nodes = _topological_nodes(model.graph, path)
    inputs = _real_inputs(model.graph)
    _bind_inputs(model.graph, inputs, batch, input_shapes, path)
    infos = _infer(model, nodes, path)
    graph = _Graph(path, _opset(model), nodes, model.graph, infos)
    layers = tuple(layer for node in nodes if (layer := graph.convert(node)) is not None)
    if not layers:
        raise ModelFileError(f"{path}: no operator depends on the graph inputs {inputs}; nothing to count")
    return LayerNetwork(
        name=model.graph.name or path.stem, precision=graph.network_precision, source=str(path),
        batch=_first_dim(infos.get(_main_input(model.graph, inputs))), layers=layers,
    )


# ------------------------------------------------------------------------------------------- reading, checks


def _read_model(path: Path) -> onnx.ModelProto:
    """Parse the protobuf without external data; every failure names the file."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty; export the model again")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, *_MALFORMED, OSError) as exc:
        raise ModelFileError(f"{path}: not a readable ONNX protobuf (truncated or corrupt?): {exc}") from exc
    if not model.graph.node:
        raise ModelFileError(f"{path}: the ONNX graph has no nodes (truncated or not an ONNX model?)")
    return model


def _check_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Every tensor stored outside the model file must have its file, long enough for offset + length."""
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        file = path.parent / location
        if not location or not file.is_file():
            raise ModelFileError(
                f"{path}: external data file {location!r} of tensor {tensor.name!r} not found in {path.parent}; "
                "keep the data file next to the model")
        end = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if end > file.stat().st_size:
            raise ModelFileError(f"{path}: external data file {location!r} is truncated: tensor {tensor.name!r} "
                                 f"ends at byte {end}, the file has {file.stat().st_size}")


def _all_tensors(graph: onnx.GraphProto) -> list[TensorProto]:
    tensors = list(graph.initializer)
    for node in graph.node:
        tensors.extend(a.t for a in node.attribute if a.type == AttributeProto.TENSOR)
    return tensors


def _topological_nodes(graph: onnx.GraphProto, path: Path) -> list[NodeProto]:
    """Nodes in a dependency order (the file's order when it is one, else the graph is re-stored sorted);
    dangling inputs and cycles are errors."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    producer: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        if not node.op_type:
            raise ModelFileError(f"{path}: node {index} ({node.name!r}) has no op_type")
        for name in node.output:
            if name and name in producer:
                raise ModelFileError(f"{path}: tensor {name!r} is produced by two nodes; ONNX graphs are SSA")
            if name:
                producer[name] = index
    waiting = [0] * len(graph.node)
    users: dict[int, list[int]] = defaultdict(list)
    for index, node in enumerate(graph.node):
        for name in node.input:
            if not name or name in available and name not in producer:
                continue
            if name not in producer:
                raise ModelFileError(
                    f"{path}: node {node.name or index!r} ({node.op_type}) reads {name!r}, which is neither a "
                    "graph input, an initializer nor a node output (dangling input)")
            waiting[index] += 1
            users[producer[name]].append(index)
    ready = [i for i, count in enumerate(waiting) if count == 0]  # a heap: the lowest ready index goes first,
    order: list[int] = []                                          # so a valid file order is kept as it is
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for user in users[index]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) != len(graph.node):
        raise ModelFileError(f"{path}: the graph has a cycle; ONNX graphs must be acyclic")
    if order != sorted(order):  # shape inference walks the nodes in file order: store them sorted
        nodes = [NodeProto.FromString(graph.node[i].SerializeToString()) for i in order]
        del graph.node[:]
        graph.node.extend(nodes)
    return list(graph.node)


def _opset(model: onnx.ModelProto) -> int:
    """The default-domain opset; the newest one onnx knows when the model uses other domains only."""
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else onnx.defs.onnx_opset_version()


def _real_inputs(graph: onnx.GraphProto) -> list[str]:
    """Graph inputs that are not initializers (before IR 4, every initializer was also listed as an input)."""
    initializers = {t.name for t in graph.initializer}
    return [i.name for i in graph.input if i.name not in initializers]


def _main_input(graph: onnx.GraphProto, inputs: list[str]) -> str | None:
    """The first float graph input, else the first input."""
    types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    floats = [name for name in inputs if types[name] in _FLOATS]
    return (floats or inputs or [None])[0]


def _first_dim(info: _Info | None) -> int:
    return info.dims[0] if info and info.dims and isinstance(info.dims[0], int) and info.dims[0] > 0 else 1


# ---------------------------------------------------------------------------------- binding, shape inference


def _declared_dims(value_info: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    """Dims of a tensor value: sizes, dim names, None for a dim with neither; None when the rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple([d.dim_value or (0 if d.HasField("dim_value") else d.dim_param or None) for d in tensor.shape.dim])


def _bind_inputs(graph: onnx.GraphProto, inputs: list[str], batch: int,
                 input_shapes: Mapping[str, Sequence[int | str]], path: Path) -> None:
    """Give every dim of every real graph input a size, rewriting the graph inputs in place.

    Order: ``input_shapes`` entries; dim names bound by them; a first dim still symbolic or missing gets
    ``batch``; then dim names bound by those. Any dim left unbound is a :class:`ShapeError` naming input and dim.
    """
    by_name = {i.name: i for i in graph.input if i.name in set(inputs)}
    unknown = sorted(set(input_shapes) - set(by_name))
    if unknown:
        raise ShapeError(f"{path}: input_shapes names {unknown}, which are not graph inputs; inputs are {inputs}")
    dims: dict[str, list[Dim]] = {}
    for name in inputs:
        if not by_name[name].type.HasField("tensor_type"):
            raise ModelFileError(f"{path}: graph input {name!r} is not a tensor; rooflinekit imports tensor graphs")
        dims[name] = _requested_dims(name, _declared_dims(by_name[name]), input_shapes.get(name), path)
    symbols: dict[str, int] = {}
    for name in inputs:
        _learn_symbols(name, _declared_dims(by_name[name]), dims[name], symbols, path)
    for name in inputs:
        first = dims[name][0] if dims[name] else 0
        if not isinstance(first, int):
            dims[name][0] = symbols.setdefault(first, batch) if first else batch
    for name in inputs:
        resolved = [_resolve_dim(name, i, d, symbols, path) for i, d in enumerate(dims[name])]
        _write_dims(by_name[name], resolved)


def _requested_dims(name: str, declared: tuple[Dim, ...] | None, given: Sequence[int | str] | None,
                    path: Path) -> list[Dim]:
    if given is None:
        if declared is None:
            raise ShapeError(f"{path}: graph input {name!r} has no shape; pass input_shapes={{{name!r}: [...]}}")
        return list(declared)
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ShapeError(f"{path}: input_shapes[{name!r}] must be a list of dims, got {given!r}")
    given = list(given)
    if declared is not None and len(given) != len(declared):
        raise ShapeError(f"{path}: input_shapes[{name!r}] = {list(given)} has {len(given)} dims, the model's "
                         f"input has {len(declared)}: {list(declared)}")
    return [_parse_dim(name, d, path) for d in given]


def _parse_dim(name: str, dim: int | str, path: Path) -> Dim:
    """An integer or decimal string is a size (> 0); any other string is a dim name bound elsewhere."""
    if isinstance(dim, str) and dim.strip().isdigit():
        dim = int(dim)
    elif isinstance(dim, Integral) and not isinstance(dim, bool):
        dim = int(dim)
    if not isinstance(dim, (int, str)) or isinstance(dim, bool) or isinstance(dim, int) and dim < 1:
        raise ShapeError(f"{path}: input_shapes[{name!r}] has dim {dim!r}; use positive ints or dim names")
    return dim


def _learn_symbols(name: str, declared: tuple[Dim, ...] | None, dims: list[Dim], symbols: dict[str, int],
                   path: Path) -> None:
    """Where the model declares a dim name and the request gives a size, the name is bound to that size."""
    for decl, dim in zip(declared or (), dims):
        if isinstance(decl, str) and isinstance(dim, int):
            if symbols.setdefault(decl, dim) != dim:
                raise ShapeError(f"{path}: dim {decl!r} of input {name!r} is bound to both {symbols[decl]} "
                                 f"and {dim}; give one size per dim name")


def _resolve_dim(name: str, index: int, dim: Dim, symbols: dict[str, int], path: Path) -> int:
    """A size (0 is an empty tensor, which ONNX allows), or the size bound to a dim name."""
    if isinstance(dim, int):
        if dim < 0:
            raise ShapeError(f"{path}: input {name!r} dim {index} is {dim}; sizes cannot be negative, "
                             f"pass input_shapes={{{name!r}: [...]}}")
        return dim
    if dim in symbols:
        return symbols[dim]
    label = f"{dim!r}" if dim else "(no name, size missing)"
    raise ShapeError(f"{path}: input {name!r} dim {index} {label} is symbolic and unbound; it changes the "
                     f"counts, so pass input_shapes={{{name!r}: [...]}} with a size for it")


def _write_dims(value_info: onnx.ValueInfoProto, dims: list[int]) -> None:
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for size in dims:
        shape.dim.add().dim_value = size


def _infer(model: onnx.ModelProto, nodes: list[NodeProto], path: Path) -> dict[str, _Info]:
    """ONNX shape inference on the bound model, with :data:`_GAP_RULES` filling what it cannot infer."""
    model.graph.ClearField("value_info")
    for output in model.graph.output:
        output.ClearField("type")
    done: set[str] = set()
    while True:
        infos = _run_inference(model, path)
        filled = _fill_gaps(nodes, infos, done)
        if not filled:
            return infos
        model.graph.value_info.extend(filled)


def _run_inference(model: onnx.ModelProto, path: Path) -> dict[str, _Info]:
    try:
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx's C++ errors have no common Python base class
        raise ModelFileError(f"{path}: ONNX shape inference rejected the model: {exc}") from exc
    graph = inferred.graph
    # non-tensors get type 0 and no dims; value_info last, so that a gap filled there beats an untyped output
    infos = {vi.name: _Info(vi.type.tensor_type.elem_type, _declared_dims(vi))
             for vi in (*graph.output, *graph.input, *graph.value_info)}
    infos.update({t.name: _Info(t.data_type, tuple(t.dims)) for t in graph.initializer})
    return infos


class _Info(NamedTuple):
    """What shape inference knows of one tensor (a NamedTuple: built for every tensor, it must be cheap)."""

    elem_type: int
    dims: tuple[Dim, ...] | None

    @property
    def known(self) -> bool:
        return self.dims is not None and all(isinstance(d, int) for d in self.dims)


_UNKNOWN = _Info(TensorProto.UNDEFINED, None)
_ABSENT = _Info(TensorProto.UNDEFINED, ())
"""An omitted optional input ('' in node.input): nothing to know."""


# ------------------------------------------------------------------------- gap rules (custom-domain shapes)


def _same_as(index: int) -> Callable[[NodeProto, list[_Info]], tuple[Dim, ...]]:
    """Output shape = shape of input ``index`` (unary ops)."""
    return lambda node, ins: ins[index].dims


def _broadcast_of(a: int, b: int) -> Callable[[NodeProto, list[_Info]], tuple[Dim, ...]]:
    """Output shape = numpy broadcast of inputs ``a`` and ``b`` (QLinearAdd: A at 0, B at 3)."""
    return lambda node, ins: tuple(np.broadcast_shapes(tuple(ins[a].dims), tuple(ins[b].dims)))


def _global_pool_shape(node: NodeProto, ins: list[_Info]) -> tuple[Dim, ...]:
    """(N, C, *S) -> (N, C, 1, ...); channels_last=1: (N, *S, C) -> (N, 1, ..., C)."""
    dims = ins[0].dims
    if _attr(node, "channels_last", 0):
        return (dims[0], *([1] * (len(dims) - 2)), dims[-1])
    return (dims[0], dims[1], *([1] * (len(dims) - 2)))


def _qgemm_shape(node: NodeProto, ins: list[_Info]) -> tuple[Dim, ...]:
    """QGemm (A at 0, B at 3): (M, N) after transA/transB."""
    a, b = ins[0].dims, ins[3].dims
    return (a[1] if _attr(node, "transA", 0) else a[0], b[0] if _attr(node, "transB", 0) else b[1])


def _qlinear_concat_shape(node: NodeProto, ins: list[_Info]) -> tuple[Dim, ...]:
    """QLinearConcat (y_scale, y_zero_point, then (X, scale, zero_point) triples): concat along ``axis``."""
    tensors = [ins[i].dims for i in range(2, len(ins), 3)]
    axis = _attr(node, "axis", 0) % len(tensors[0])
    return (*tensors[0][:axis], sum(t[axis] for t in tensors), *tensors[0][axis + 1:])


_GAP_RULES: dict[str, Callable[[NodeProto, list[_Info]], tuple[Dim, ...]]] = {
    **{op: _same_as(0) for op in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "Gelu", "FastGelu",
                                  "BiasGelu", "QuickGelu", "GroupNormalization")},
    "QLinearAdd": _broadcast_of(0, 3), "QLinearMul": _broadcast_of(0, 3),
    "QLinearGlobalAveragePool": _global_pool_shape, "QGemm": _qgemm_shape, "QLinearConcat": _qlinear_concat_shape,
}
"""Shape rules for ops ONNX shape inference does not know (``com.microsoft``) or leaves open (GroupNormalization,
a function op); output 0 only, of input 0's type."""


def _fill_gaps(nodes: list[NodeProto], infos: dict[str, _Info], done: set[str]) -> list[onnx.ValueInfoProto]:
    """value_info for outputs of :data:`_GAP_RULES` ops that inference left unknown while their inputs are known;
    each output is filled once (``done``), so the inference loop ends."""
    filled = []
    for node in nodes:
        rule = _GAP_RULES.get(node.op_type)
        if rule is None or not node.output or node.output[0] in done or infos.get(node.output[0], _UNKNOWN).known:
            continue
        ins = [infos.get(name, _UNKNOWN) if name else _ABSENT for name in node.input]
        if ins and all(info.known for info in ins):
            done.add(node.output[0])
            filled.append(helper.make_tensor_value_info(node.output[0], ins[0].elem_type, rule(node, ins)))
    return filled


def _attr(node: NodeProto, name: str, default: Any) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return _attr_value(attribute)
    return default


def _attr_value(attribute: AttributeProto) -> Any:
    """Python value of a scalar or list attribute (strings decoded); None for tensors and graphs."""
    if attribute.type in (AttributeProto.TENSOR, AttributeProto.GRAPH, AttributeProto.TENSORS,
                          AttributeProto.GRAPHS, AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS,
                          AttributeProto.TYPE_PROTO, AttributeProto.TYPE_PROTOS):
        return None
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return tuple(v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in value)
    return value


# ---------------------------------------------------------------------------------------------- graph state


@dataclass
class _Draft:
    """What a handler decides for one node; tensor names, resolved to shapes by :meth:`_Graph.layer`.

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


class _Graph:
    """The bound, shape-inferred graph: constants, producers and consumers, and node -> Layer conversion."""

    def __init__(self, path: Path, opset: int, nodes: list[NodeProto], graph: onnx.GraphProto,
                 infos: dict[str, _Info]) -> None:
        self.path, self.opset, self.infos = path, opset, infos
        self.initializers = {t.name: t for t in graph.initializer}
        self.graph_outputs = {o.name for o in graph.output}
        self.producer: dict[str, NodeProto] = {}
        self.consumers: dict[str, list[NodeProto]] = defaultdict(list)
        for node in nodes:
            self.producer.update((name, node) for name in node.output if name)
            for name in node.input:
                self.consumers[name].append(node)
        self.stored = {name: t.data_type for name, t in self.initializers.items()}
        for node in nodes:
            self._fold(node)
        main = _main_input(graph, _real_inputs(graph))
        self.network_precision = Precision.parse(self.dtype(main) or DType.FP32)
        self.names: set[str] = set()
        self.precisions: dict[tuple[DType, DType], Precision] = {}

    # -- constants

    def _fold(self, node: NodeProto) -> None:
        """Mark the outputs of ``node`` constant when it computes only from constants (see module doc)."""
        names = [n for n in node.input if n]
        has_graph = any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)
        if node.op_type in ("Shape", "Size") and names and self.infos.get(names[0], _UNKNOWN).known:
            constant = True
        else:
            constant = not has_graph and all(n in self.stored for n in names)
        if not constant:
            return
        keeps_storage = node.op_type in ("DequantizeLinear", "Identity", "Reshape", "Transpose", "Squeeze",
                                         "Unsqueeze", "Flatten")
        for name in node.output:
            if name:
                info = self.infos.get(name)
                self.stored[name] = self.stored[names[0]] if keeps_storage and names else (
                    info.elem_type if info else TensorProto.UNDEFINED)

    def is_const(self, name: str) -> bool:
        return name in self.stored

    def value(self, name: str) -> np.ndarray | None:
        """Value of a small constant (initializer or Constant output, up to :data:`_SMALL_VALUE` elements)."""
        tensor = self.initializers.get(name)
        node = self.producer.get(name)
        if tensor is None and node is not None and node.op_type == "Constant":
            attribute = node.attribute[0] if len(node.attribute) == 1 else None
            if attribute is not None and attribute.type == AttributeProto.TENSOR:
                tensor = attribute.t
            elif attribute is not None and attribute.type in (AttributeProto.INT, AttributeProto.INTS,
                                                               AttributeProto.FLOAT, AttributeProto.FLOATS):
                return np.asarray(helper.get_attribute_value(attribute))
        if tensor is None or tensor.data_location == TensorProto.EXTERNAL or math.prod(tensor.dims) > _SMALL_VALUE:
            return None
        return numpy_helper.to_array(tensor)

    def ints(self, name: str) -> tuple[int, ...] | None:
        """A small constant integer tensor as a tuple (axes, pads, starts), None when not readable."""
        value = self.value(name) if name else None
        return tuple(int(v) for v in value.reshape(-1)) if value is not None else None

    # -- types and shapes

    def dtype(self, name: str | None) -> DType | None:
        """Element type of an activation (None when unknown or without width)."""
        info = self.infos.get(name) if name else None
        return _to_dtype(info.elem_type, name, self.path) if info else None

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        info = self.infos.get(name)
        return info.dims if info else None

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

    # -- QDQ

    def dq_source(self, name: str) -> DType | None:
        """Integer type behind a DequantizeLinear of an activation, None if ``name`` is not such an output."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or self.is_const(node.input[0]):
            return None
        return self.dtype(node.input[0])

    def quantized(self, node: NodeProto) -> DType | None:
        """Integer type of a QDQ-fused op: every activation input comes through DequantizeLinear."""
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            return None
        sources = [self.dq_source(n) for n in node.input if n and not self.is_const(n)]
        return sources[0] if sources and all(sources) else None

    # -- conversion

    def convert(self, node: NodeProto) -> Layer | None:
        """The Layer of ``node``, or None when it only computes constants."""
        if all(self.is_const(name) for name in node.output if name):
            return None
        kind, handler = _OPS.get(node.op_type, (node.op_type, _all_data))
        try:
            return self.layer(node, kind, handler(_Node(node, self)), node.op_type in _OPS)
        except RooflineError:
            raise
        except _MALFORMED as exc:
            raise ModelFileError(f"{self.path}: node {node.name!r} ({node.op_type}) is malformed: "
                                 f"{type(exc).__name__}: {exc}") from exc

    def layer(self, node: NodeProto, kind: str, draft: _Draft, mapped: bool) -> Layer:
        """Resolve a draft's tensor names to shapes and types. Unknown shapes are dropped only for views and
        unmapped ops (which cost nothing or are reported unsupported); elsewhere they are a ShapeError.
        The precision is None when it is the network's."""
        kind = draft.kind or kind
        lenient = not mapped or kind in _VIEW_KINDS
        kept = draft.outputs if draft.outputs is not None else range(len(node.output))
        outputs = [node.output[i] for i in kept if i < len(node.output) and node.output[i]]
        outputs = [n for n in outputs if self._needed(n) or self.infos.get(n, _UNKNOWN).known]
        weights = [(name, shape) for name, shape in draft.weights if name]
        act = (self.quantized(node) or self.dtype(draft.integer_input) or self.dtype(outputs[0] if outputs else None)
               or self.dtype(draft.inputs[0] if draft.inputs else None) or self.network_precision.activations)
        w_dtype = _to_dtype(self.stored[weights[0][0]], weights[0][0], self.path) if weights else None
        precision = self._precision(w_dtype or act, act)
        inputs = [draft.input_shapes.get(i) or name for i, name in enumerate(draft.inputs)]
        return Layer(
            name=self._unique_name(node), op=kind, source_op=node.op_type,
            inputs=self._shapes(inputs, node, lenient), outputs=self._shapes(outputs, node, lenient),
            weights=self._tensors(weights, node, lenient),
            attrs=draft.attrs, precision=precision,
        )

    def _precision(self, weights: DType, activations: DType) -> Precision | None:
        """The layer's Precision, None when it is the network's (one shared instance per pair)."""
        network = self.network_precision
        if (weights, activations) == (network.weights, network.activations):
            return None
        key = (weights, activations)
        if key not in self.precisions:
            self.precisions[key] = Precision(weights=weights, activations=activations)
        return self.precisions[key]

    def _unique_name(self, node: NodeProto) -> str:
        """The node's name, or ``{op_type}_{n}`` when it has none; ``_2``, ``_3``... appended to repeats."""
        name = node.name or f"{node.op_type}_{len(self.names)}"
        unique, suffix = name, 1
        while unique in self.names:
            suffix += 1
            unique = f"{name}_{suffix}"
        self.names.add(unique)
        return unique

    def _needed(self, name: str) -> bool:
        return name in self.graph_outputs or bool(self.consumers.get(name))

    def _shapes(self, tensors: list[str | Shape], node: NodeProto, lenient: bool) -> tuple[Shape, ...]:
        """Shapes of ``tensors`` (names, or shapes already normalized); empty tensors (a zero dim) are left
        out: they hold no bytes."""
        shapes = []
        for tensor in tensors:
            if isinstance(tensor, str):
                if lenient and not self.infos.get(tensor, _UNKNOWN).known:
                    continue
                tensor = self.shape(tensor, node)
            if all(tensor):
                shapes.append(tensor)
        return tuple(shapes)

    def _tensors(self, weights: list[tuple[str, Shape | None]], node: NodeProto,
                 lenient: bool) -> tuple[TensorSpec, ...]:
        """TensorSpecs of constants, with their stored type when it is not the network's weight precision."""
        network = self.network_precision.weights
        specs = []
        for name, normalized in weights:
            if lenient and normalized is None and not self.infos.get(name, _UNKNOWN).known:
                continue
            shape = normalized if normalized is not None else self.shape(name, node)
            stored = _to_dtype(self.stored[name], name, self.path)
            if all(shape):
                specs.append(TensorSpec(shape=shape, dtype=stored if stored not in (None, network) else None))
        return tuple(specs)


def _to_dtype(elem_type: int, name: str | None, path: Path) -> DType | None:
    if elem_type in _DTYPES:
        return _DTYPES[elem_type]
    type_name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else elem_type
    raise PrecisionError(f"{path}: tensor {name!r} has ONNX type {type_name}, which rooflinekit cannot represent; "
                         f"supported: {', '.join(sorted({d.value for d in _DTYPES.values() if d}))}")


@dataclass
class _Node:
    """A node seen by a handler: attributes and operand names, classified as constant or activation."""

    proto: NodeProto
    graph: _Graph

    @cached_property
    def _decoded(self) -> dict[str, Any]:
        values = {a.name: _attr_value(a) for a in self.proto.attribute}
        return {k: v for k, v in values.items() if v is not None}

    @property
    def attrs(self) -> dict[str, Any]:
        """Scalar and list attributes as Python values (a fresh dict for the handler to edit)."""
        return dict(self._decoded)

    def input(self, index: int) -> str:
        """Name of input ``index``, '' when absent."""
        return self.proto.input[index] if index < len(self.proto.input) else ""

    def split(self, indices: Sequence[int], attrs: dict[str, Any] | None = None, **extra: Any) -> _Draft:
        """Data operands at ``indices``: constants become weights, the others inputs."""
        draft = _Draft(attrs=self.attrs if attrs is None else attrs, **extra)
        for index in indices:
            name = self.input(index)
            if not name:
                continue
            if self.graph.is_const(name):
                draft.weights.append((name, None))
            else:
                draft.inputs.append(name)
        return draft

    def dims(self, index: int) -> tuple[Dim, ...]:
        """Concrete dims of input ``index``."""
        return self.graph.shape(self.input(index), self.proto)


# ----------------------------------------------------------------------------------------------- handlers

Handler = Callable[[_Node], _Draft]


def _all_data(node: _Node) -> _Draft:
    """Every operand is data (elementwise ops, Concat, PRelu, Where...)."""
    return node.split(range(len(node.proto.input)))


def _first(node: _Node) -> _Draft:
    """Operand 0 is data; the rest are control (shapes, axes, repeats, k, scales...)."""
    return node.split([0])


def _no_data(node: _Node) -> _Draft:
    """Every operand is control (ConstantOfShape of a computed shape writes its output only)."""
    return node.split([])


def _only_first_output(node: _Node) -> _Draft:
    """Operand 0 and output 0 (Dropout's mask, DynamicQuantizeLinear's scale and zero point are left out)."""
    return node.split([0], outputs=(0,))


def _spatial_attrs(node: _Node, kernel: Sequence[int], x: int = 0) -> dict[str, Any]:
    """strides, dilations (default 1) and pads (explicit, or derived from auto_pad SAME_*/VALID)."""
    attrs = node.attrs
    rank = len(kernel)
    strides = tuple(attrs.get("strides") or (1,) * rank)
    dilations = tuple(attrs.get("dilations") or (1,) * rank)
    pads = tuple(attrs.get("pads") or (0,) * (2 * rank))
    auto_pad = str(attrs.pop("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(node.dims(x)[2:], kernel, strides, dilations, auto_pad == "SAME_UPPER")
    attrs.update(kernel_shape=tuple(int(k) for k in kernel), strides=strides, dilations=dilations, pads=pads)
    return attrs


def _same_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
               upper: bool) -> tuple[int, ...]:
    """ONNX SAME padding: total = max(0, (ceil(in / s) - 1) * s + (k - 1) * d + 1 - in), the odd pixel at the
    end (SAME_UPPER) or the beginning (SAME_LOWER); returned as (begin..., end...)."""
    totals = [max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
              for i, k, s, d in zip(spatial, kernel, strides, dilations)]
    small = [t // 2 for t in totals]
    large = [t - t // 2 for t in totals]
    return tuple(small + large) if upper else tuple(large + small)


def _conv(x: int, w: int, b: int | None, integer: bool = False) -> Handler:
    """Conv, ConvInteger, QLinearConv, ConvTranspose (data x, weight w, bias b).

    attrs: kernel_shape (attr, else weight dims[2:]), groups (ONNX ``group``), strides, pads, dilations,
    bias; ConvTranspose adds output_padding.
    """

    def handle(node: _Node) -> _Draft:
        kernel = node.attrs.get("kernel_shape") or node.dims(w)[2:]
        attrs = _spatial_attrs(node, kernel, x)
        attrs["groups"] = int(attrs.pop("group", 1))
        attrs["bias"] = bool(b is not None and node.input(b))
        if node.proto.op_type == "ConvTranspose":
            attrs["output_padding"] = tuple(attrs.get("output_padding") or (0,) * len(kernel))
        indices = [x, w] if b is None else [x, w, b]
        return node.split(indices, attrs, integer_input=node.input(x) if integer else None)

    return handle


def _pool(node: _Node) -> _Draft:
    """MaxPool, AveragePool, LpPool: kernel_shape, strides, pads, dilations; output 0 (not MaxPool's indices)."""
    kernel = node.attrs.get("kernel_shape")
    if not kernel:
        raise ModelFileError(f"{node.graph.path}: {node.proto.op_type} node {node.proto.name!r} has no "
                             "kernel_shape attribute, which ONNX requires")
    return node.split([0], _spatial_attrs(node, kernel), outputs=(0,))


def _weight_matrix(node: _Node, name: str, transposed: bool) -> tuple[str, Shape]:
    """A constant operand as a fully-connected weight ``(out, in)``: ``(..., K, N)`` -> ``(..., N, K)`` unless
    ``transposed`` says it is stored ``(N, K)`` already; a vector ``(K,)`` -> ``(1, K)``."""
    dims = node.graph.shape(name, node.proto)
    if len(dims) == 1:
        return name, (1, dims[0])
    return name, dims if transposed else _transposed(node, name)


def _transposed(node: _Node, name: str) -> Shape:
    """``(..., a, b)`` -> ``(..., b, a)``: the shape of the transposed matrix operand ``name``."""
    dims = node.graph.shape(name, node.proto)
    if len(dims) < 2:
        raise ShapeError(f"{node.graph.path}: node {node.proto.name!r} ({node.proto.op_type}) transposes "
                         f"{name!r} of shape {list(dims)}, which is not a matrix")
    return (*dims[:-2], dims[-1], dims[-2])


def _product(a: int, b: int, c: int | None = None, integer: bool = False) -> Handler:
    """MatMul-like products (MatMul, MatMulInteger, QLinearMatMul, Gemm, QGemm); A at ``a``, B at ``b``, C at ``c``.

    A constant operand makes a ``fully_connected`` layer with the weight normalized to ``(out, in)``: B
    ``(K, N)`` -> ``(N, K)`` (Gemm's transB: stored ``(N, K)``), a constant A ``(M, K)`` as is (A^T with transA).
    Otherwise ``matmul``: inputs ``A'`` and ``B'`` (transposes applied) so the contraction dim is ``A'[-1]``.
    Activation operands are given transposed shapes too (``A'`` of Gemm's transA).
    ``bias`` is whether Gemm's C is present with ``beta`` != 0; Gemm's opset < 7 ``broadcast`` attribute is dropped.
    """

    def handle(node: _Node) -> _Draft:
        attrs = node.attrs
        trans_a, trans_b = bool(attrs.pop("transA", 0)), bool(attrs.pop("transB", 0))
        attrs.pop("broadcast", None)
        name_a, name_b = node.input(a), node.input(b)
        const_a, const_b = node.graph.is_const(name_a), node.graph.is_const(name_b)
        integer_input = name_a if integer and not const_a else (name_b if integer else None)
        bias = [c] if c is not None and node.input(c) and attrs.get("beta", 1.0) != 0 else []
        attrs["bias"] = bool(bias)
        if const_b or const_a:
            weight = _weight_matrix(node, name_b, trans_b) if const_b else _weight_matrix(node, name_a, not trans_a)
            draft = node.split([a if const_b else b, *bias], attrs, kind="fully_connected",
                               integer_input=integer_input)
            draft.weights.insert(0, weight)
            if trans_a if const_b else trans_b:
                draft.input_shapes[0] = _transposed(node, draft.inputs[0])
            return draft
        draft = node.split(bias, attrs, kind="matmul", integer_input=integer_input)
        draft.inputs[:0] = [name_a, name_b]
        for position, (name, transposed) in enumerate(((name_a, trans_a), (name_b, trans_b))):
            if transposed:
                draft.input_shapes[position] = _transposed(node, name)
        return draft

    return handle


def _norm(node: _Node) -> _Draft:
    """BatchNormalization (its mean and var fold into scale and bias at inference), LayerNormalization,
    InstanceNormalization, GroupNormalization: data 0, weights scale (1) and bias (2); output 0 only (not
    the training statistics)."""
    return node.split([0, 1, 2], outputs=(0,))


def _softmax(node: _Node) -> _Draft:
    """Softmax, LogSoftmax: ``axis`` defaults to 1 before opset 13 (2-D coercion), -1 from 13 on."""
    attrs = node.attrs
    attrs.setdefault("axis", 1 if node.graph.opset < 13 else -1)
    return node.split([0], attrs)


def _reduce(node: _Node) -> _Draft:
    """Reduce*: ``axes`` from the attribute (old opsets) or the constant second input (ReduceSum 13+, others 18+);
    ``keepdims`` a bool, True by default."""
    attrs = node.attrs
    axes = attrs.get("axes") or node.graph.ints(node.input(1))
    if axes is not None:
        attrs["axes"] = tuple(axes)
    attrs["keepdims"] = bool(attrs.get("keepdims", 1))
    return node.split([0], attrs)


def _pad(node: _Node) -> _Draft:
    """Pad: ``pads`` from the attribute (``paddings`` in opset 1, ``pads`` to 10) or input 1 (11+); ``mode``."""
    attrs = node.attrs
    pads = attrs.pop("paddings", None) or attrs.get("pads") or node.graph.ints(node.input(1))
    if pads is not None:
        attrs["pads"] = tuple(pads)
    attrs.setdefault("mode", "constant")
    return node.split([0], attrs)


def _slice(node: _Node) -> _Draft:
    """Slice: ``starts``, ``ends``, ``axes``, ``steps`` from attributes (before opset 10) or inputs 1-4."""
    attrs = node.attrs
    for index, key in enumerate(("starts", "ends", "axes", "steps"), start=1):
        value = attrs.get(key) or node.graph.ints(node.input(index))
        if value is not None:
            attrs[key] = tuple(value)
    return node.split([0], attrs)


def _clip(node: _Node) -> _Draft:
    """Clip: ``min``/``max`` attributes (before opset 11) or scalar inputs 1 and 2 (control, not weights)."""
    attrs = node.attrs
    for index, key in ((1, "min"), (2, "max")):
        value = node.graph.value(node.input(index)) if node.input(index) else None
        if value is not None and value.size == 1:
            attrs[key] = float(value.reshape(-1)[0])
    return node.split([0], attrs)


def _resize(node: _Node) -> _Draft:
    """Resize, Upsample: ``mode`` nearest (default) or linear (Upsample-1's ``bilinear`` is linear)."""
    attrs = node.attrs
    mode = str(attrs.get("mode", "nearest")).lower()
    attrs["mode"] = "linear" if mode in ("bilinear", "trilinear") else mode
    return node.split([0], attrs)


def _gather(node: _Node) -> _Draft:
    """Gather*: the table (operand 0) is a weight when constant (an embedding); constant indices are control."""
    draft = node.split([0])
    if not node.graph.is_const(node.input(1)):
        draft.inputs.append(node.input(1))
    return draft


def _quantize(node: _Node) -> _Draft:
    """QuantizeLinear: ``identity`` when its producer runs quantized (QDQ fusion), else a real ``quantize``."""
    source = node.graph.producer.get(node.input(0))
    fused = source is not None and node.graph.quantized(source) is not None
    return node.split([0], kind="identity" if fused else "quantize")


def _dequantize(node: _Node) -> _Draft:
    """DequantizeLinear of an activation: ``identity`` when all its consumers run quantized (and it is no graph
    output), else a real ``dequantize``. (Of a constant it is folded into the weight.)"""
    graph, name = node.graph, node.proto.output[0]
    users = graph.consumers.get(name, [])
    fused = bool(users) and name not in graph.graph_outputs and all(graph.quantized(u) for u in users)
    return node.split([0], kind="identity" if fused else "dequantize", integer_input=node.input(0))


def _integer_unary(node: _Node) -> _Draft:
    """com.microsoft QLinear unary ops (X, X_scale, X_zp, Y_scale, Y_zp): data 0, integer."""
    return node.split([0], integer_input=node.input(0))


def _integer_binary(node: _Node) -> _Draft:
    """com.microsoft QLinearAdd / QLinearMul (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp): data 0 and 3."""
    return node.split([0, 3], integer_input=node.input(0))


def _qlinear_concat(node: _Node) -> _Draft:
    """com.microsoft QLinearConcat (Y_scale, Y_zp, then X, X_scale, X_zp triples): data 2, 5, 8, ..."""
    return node.split(range(2, len(node.proto.input), 3), integer_input=node.input(2))


def _rnn(has_cell: bool) -> Handler:
    """LSTM (4 gates), GRU (3), RNN (1): X (0), W (1), R (2), B (3), sequence_lens (4, control), initial_h (5),
    initial_c (6, LSTM), P (7, LSTM peepholes).

    attrs: seq_len and batch from X (``layout`` 0: (seq, batch, input); 1: (batch, seq, input)), input_size
    (X's last dim), hidden_size (attribute, else R's last dim), directions (2 for ``bidirectional``), bias.
    """

    def handle(node: _Node) -> _Draft:
        attrs = node.attrs
        x = node.dims(0)
        layout = int(attrs.get("layout", 0))
        seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
        hidden = int(attrs.get("hidden_size") or node.dims(2)[-1])
        directions = 2 if attrs.get("direction") == "bidirectional" else 1
        attrs.update(seq_len=seq, batch=batch, input_size=x[-1], hidden_size=hidden, directions=directions,
                     bias=bool(node.input(3)))
        indices = [0, 1, 2, 3, 5] + ([6, 7] if has_cell else [])
        return node.split(indices, attrs)

    return handle


def _einsum(node: _Node) -> _Draft:
    """Einsum: a contraction of two or more operands is ``einsum`` with ``attrs["macs"]`` (see :func:`einsum_macs`);
    products with nothing summed (Hadamard, outer) are ``mul``; one operand is ``transpose`` (a permutation)
    or ``reduce_sum``."""
    equation = str(node.attrs.get("equation", ""))
    shapes = [node.dims(i) for i in range(len(node.proto.input))]
    macs, contracted = einsum_macs(equation, shapes, f"{node.graph.path}: node {node.proto.name!r} (Einsum)")
    if len(shapes) == 1:
        kind = "reduce_sum" if contracted else "transpose"
    else:
        kind = "einsum" if contracted else "mul"
    return node.split(range(len(shapes)), {"equation": equation, "macs": macs}, kind=kind)


def einsum_macs(equation: str, shapes: Sequence[Shape], where: str = "einsum") -> tuple[int, bool]:
    """MACs of evaluating ``equation`` on operands of ``shapes`` left to right, pairwise, and whether any index
    is summed.

    Each step multiplies the running result (indices I) into the next operand (indices J) and sums the indices
    needed by neither the output nor a later operand: ``macs += prod(size[i] for i in I | J)``. For two
    operands that is ``prod`` of all index sizes (``bij,bjk->bik``: B*I*J*K). ``...`` broadcasts as in numpy;
    without ``->`` the output holds the indices that appear once, in alphabetical order.
    """
    operands, output = _parse_einsum(equation.replace(" ", ""), shapes, where)
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, shapes):
        for letter, size in zip(letters, shape):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                raise ShapeError(f"{where}: index {letter!r} of {equation!r} has sizes {sizes[letter]} and {size}")
            sizes[letter] = max(sizes[letter], size)
    current = set(operands[0])
    macs = 0
    contracted = len(current - set(output)) > 0 and len(operands) == 1
    for position, letters in enumerate(operands[1:], start=1):
        needed = set(output).union(*operands[position + 1:])
        union = current | set(letters)
        macs += math.prod(sizes[letter] for letter in union)
        current = union & needed
        contracted = contracted or bool(union - needed)
    return macs, contracted


def _parse_einsum(equation: str, shapes: Sequence[Shape], where: str) -> tuple[list[str], str]:
    """Operand index strings with ``...`` expanded to one private letter per broadcast dim, and the output."""
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes) or not re.fullmatch(r"[A-Za-z.,]*", inputs) or not re.fullmatch(r"[A-Za-z.]*", output):
        raise ShapeError(f"{where}: equation {equation!r} does not fit {len(shapes)} operands; check the model")
    ellipsis_rank = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    broadcast = "".join(chr(0x3B1 + i) for i in range(ellipsis_rank))  # Greek letters: never ONNX indices
    operands = []
    for term, shape in zip(terms, shapes):
        rank = len(shape) - len(term.replace("...", ""))
        operands.append(term.replace("...", broadcast[ellipsis_rank - rank:] if rank else ""))
        if len(operands[-1]) != len(shape):
            raise ShapeError(f"{where}: term {term!r} of {equation!r} does not match operand shape {list(shape)}")
    if not arrow:
        counts = "".join(operands)
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in broadcast))
    return operands, output.replace("...", broadcast)


# ---------------------------------------------------------------------------------------------- op table

_ELEMENTWISE = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min", "Pow": "pow", "Mod": "mod",
    "Sum": "sum", "Mean": "mean", "Where": "where", "Equal": "equal", "Less": "less", "LessOrEqual": "less",
    "Greater": "greater", "GreaterOrEqual": "greater", "And": "and", "Or": "or", "Xor": "xor", "PRelu": "prelu",
    "Relu": "relu", "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu", "Celu": "celu", "Sigmoid": "sigmoid",
    "HardSigmoid": "hard_sigmoid", "Tanh": "tanh", "Gelu": "gelu", "FastGelu": "gelu", "BiasGelu": "gelu",
    "QuickGelu": "gelu", "Erf": "erf", "HardSwish": "hard_swish", "Swish": "swish", "Mish": "mish",
    "Softplus": "softplus", "Softsign": "softsign", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
    "Reciprocal": "reciprocal", "Neg": "neg", "Abs": "abs", "Floor": "floor", "Ceil": "ceil", "Round": "round",
    "Sin": "sin", "Cos": "cos", "Not": "not", "Sign": "sign", "Concat": "concat", "Transpose": "transpose",
    "GatherND": "gather_nd", "ScatterND": "scatter", "ScatterElements": "scatter", "Scatter": "scatter",
    "Identity": "identity", "Cast": "cast",
}
_FIRST_ONLY = {
    "Reshape": "reshape", "Flatten": "flatten", "Squeeze": "squeeze", "Unsqueeze": "unsqueeze", "Shape": "shape",
    "Size": "size", "Expand": "expand", "Tile": "tile", "Split": "split", "DepthToSpace": "depth_to_space",
    "SpaceToDepth": "space_to_depth", "TopK": "top_k", "ArgMax": "arg_max", "ArgMin": "arg_min", "OneHot": "one_hot",
    "NonZero": "non_zero", "ReverseSequence": "reverse", "GlobalAveragePool": "global_avg_pool",
    "GlobalMaxPool": "global_max_pool", "LRN": "lrn", "Range": "range", "CastLike": "cast",
}
_REDUCE = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1", "ReduceL2": "reduce_l2",
           "ReduceLogSumExp": "reduce_log_sum_exp", "ReduceSumSquare": "reduce_sum_square"}

_OPS: dict[str, tuple[str, Handler]] = {
    **{op: (kind, _all_data) for op, kind in _ELEMENTWISE.items()},
    **{op: (kind, _first) for op, kind in _FIRST_ONLY.items()},
    **{op: (kind, _reduce) for op, kind in _REDUCE.items()},
    "Conv": ("conv", _conv(0, 1, 2)), "ConvInteger": ("conv", _conv(0, 1, None, integer=True)),
    "QLinearConv": ("conv", _conv(0, 3, 8, integer=True)), "ConvTranspose": ("conv_transpose", _conv(0, 1, 2)),
    "Gemm": ("fully_connected", _product(0, 1, 2)), "MatMul": ("matmul", _product(0, 1)),
    "MatMulInteger": ("matmul", _product(0, 1, integer=True)),
    "QLinearMatMul": ("matmul", _product(0, 3, integer=True)), "QGemm": ("fully_connected", _product(0, 3, 6, True)),
    "Einsum": ("einsum", _einsum),
    "LSTM": ("lstm", _rnn(True)), "GRU": ("gru", _rnn(False)), "RNN": ("rnn", _rnn(False)),
    "MaxPool": ("max_pool", _pool), "AveragePool": ("avg_pool", _pool), "LpPool": ("lp_pool", _pool),
    "BatchNormalization": ("batch_norm", _norm), "LayerNormalization": ("layer_norm", _norm),
    "InstanceNormalization": ("instance_norm", _norm), "GroupNormalization": ("group_norm", _norm),
    "Softmax": ("softmax", _softmax), "LogSoftmax": ("log_softmax", _softmax),
    "Dropout": ("dropout", _only_first_output), "ConstantOfShape": ("constant", _no_data),
    "Pad": ("pad", _pad), "Slice": ("slice", _slice),
    "Clip": ("clip", _clip), "Resize": ("resize", _resize), "Upsample": ("resize", _resize),
    "Gather": ("gather", _gather), "GatherElements": ("gather", _gather),
    "QuantizeLinear": ("quantize", _quantize), "DequantizeLinear": ("dequantize", _dequantize),
    "DynamicQuantizeLinear": ("quantize", _only_first_output),
    "QLinearSigmoid": ("sigmoid", _integer_unary), "QLinearLeakyRelu": ("leaky_relu", _integer_unary),
    "QLinearSoftmax": ("softmax", _integer_unary), "QLinearGlobalAveragePool": ("global_avg_pool", _integer_unary),
    "QLinearAdd": ("add", _integer_binary), "QLinearMul": ("mul", _integer_binary),
    "QLinearConcat": ("concat", _qlinear_concat),
}
"""ONNX op_type -> (canonical kind, handler). Keyed by op_type in any domain (com.microsoft ops included)."""

_VIEW_KINDS = frozenset({"reshape", "flatten", "squeeze", "unsqueeze", "identity", "dropout", "shape", "size"})
"""Zero-cost kinds: unknown shapes are tolerated, they move no bytes."""
