"""TFLite importer: a ``.tflite`` flatbuffer -> :class:`~rooflinekit.descriptors.LayerNetwork`.

The file is read with the ``tflite`` package's schema readers and validated defensively (identifier, schema
version, vector bounds, every tensor, buffer and opcode index), because the generated readers do not check
bounds: any malformation becomes a :class:`~rooflinekit.errors.ModelFileError` naming the file.

Conventions (the canonical forms of :mod:`rooflinekit.counters`):

- Graph: only subgraph 0 (the entry point, usually ``main``) is imported. Further subgraphs are bodies of control
  flow (WHILE, IF, CALL_ONCE) whose cost depends on run-time decisions: loading warns with
  :class:`TFLiteImportWarning` naming them and :func:`subgraph_summary` lists all subgraphs. The control-flow op
  keeps its TFLite name as kind, so the counters report it in ``unsupported_ops``, as they do custom ops (kind =
  the custom code, ``source_op`` = ``CUSTOM``) and builtins missing from :data:`KINDS`.
- Layout: TFLite feature maps are NHWC. Every rank-4 activation shape is given channels-first ``(N, C, H, W)``
  and axis attributes (``axis``, ``axes``) are renumbered to match; BATCH_MATMUL operands keep TFLite's order with
  adjoints undone, ``(..., M, K) x (..., K, N)``.
- Batch: a leading dim marked dynamic (-1 in ``shape_signature``) is bound to ``batch``. A graph with a fixed
  batch keeps it (``LayerNetwork.batch`` says which) and warns if asked for another; ``count_network(batch=...)``
  and ``predict(batch=...)`` scale per-frame costs. Other dynamic dims keep their stored size, with a warning.
- Weights: the constant operands (non-empty buffer) of a layer, except parameter operands that other formats
  hold as attributes (RESHAPE's shape, MEAN's axes, PAD's paddings, ...: :data:`PARAMETER_OPERANDS`), which are
  dropped. conv ``(C_out, C_in / groups, KH, KW)`` from ``(C_out, KH, KW, C_in / groups)``; depthwise
  ``(C_out, 1, KH, KW)`` from ``(1, KH, KW, C_out)`` with ``groups = C_in`` and ``C_out = depth_multiplier * C_in``;
  transpose conv ``(C_in, C_out, KH, KW)`` (ONNX ConvTranspose) from ``(C_out, KH, KW, C_in)``; fully connected
  ``(out, in)`` as stored; a BATCH_MATMUL with a constant operand is a fully_connected whose weight ends in K.
  ``TensorSpec.nbytes`` is the buffer's byte length and ``dtype`` the tensor type (int8 weights, int32 biases,
  fp32 tensors of a hybrid model each at their stored size); a buffer shared by tensors counts once per tensor.
  A DEQUANTIZE of a constant (fp16 or int8 weight storage) is folded into its consumer, whose weight then has the
  dequantized shape and the stored dtype and bytes.
- Precision: a layer's weight type is that of its first weight, its activation type that of its first activation
  input (else its first output). The network's precision takes the dominant weight type (by elements of the
  layers' first weights) and the dominant activation type (by elements of activation inputs): ``int8``,
  ``fp32``, or hybrid ``W-int8_A-fp32`` when int8 weights feed float activations. ``Layer.precision`` is set only
  where a layer differs; a layer without weights takes the network's weight type.
- Fused activations are kept as the attribute ``fused_activation``, not as separate layers; layers with a
  quantized first weight carry ``weight_quantization`` = ``per_tensor`` or ``per_channel``. TFLite operators have
  no names: a layer is named ``<builtin or custom code, lower case>_<operator index>`` (``conv_2d_0``).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision, TensorSpec
from rooflinekit.errors import ModelFileError, RooflineError, ShapeError

try:
    import tflite
    from tflite.utils import BUILTIN_OPCODE2NAME
except ImportError:  # optional dependency, reported when a file is loaded
    tflite = None
    BUILTIN_OPCODE2NAME = {}

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
Shape = tuple[int, ...]

# TFLite builtin operator -> canonical op kind. Builtins not listed keep their TFLite name as kind (unsupported).
KINDS: dict[str, str] = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "TRANSPOSE_CONV": "conv_transpose",
    "FULLY_CONNECTED": "fully_connected", "BATCH_MATMUL": "matmul",
    "AVERAGE_POOL_2D": "avg_pool", "MAX_POOL_2D": "max_pool", "L2_POOL_2D": "lp_pool",
    "MEAN": "reduce_mean", "SUM": "reduce_sum", "REDUCE_MAX": "reduce_max", "REDUCE_MIN": "reduce_min",
    "REDUCE_PROD": "reduce_prod", "ARG_MAX": "arg_max", "ARG_MIN": "arg_min",
    "ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div", "MAXIMUM": "max", "MINIMUM": "min", "POW": "pow",
    "SQUARED_DIFFERENCE": "squared_difference", "FLOOR_MOD": "mod", "ADD_N": "sum", "EQUAL": "equal",
    "LESS": "less", "GREATER": "greater", "LOGICAL_AND": "and", "LOGICAL_OR": "or", "SELECT_V2": "where",
    "RELU": "relu", "RELU6": "relu6", "RELU_N1_TO_1": "clip", "RELU_0_TO_1": "clip", "LOGISTIC": "sigmoid",
    "TANH": "tanh", "LEAKY_RELU": "leaky_relu", "PRELU": "prelu", "HARD_SWISH": "hard_swish", "ELU": "elu",
    "GELU": "gelu", "EXP": "exp", "LOG": "log", "SQRT": "sqrt", "ABS": "abs", "NEG": "neg", "FLOOR": "floor",
    "CEIL": "ceil", "ROUND": "round", "SIN": "sin", "COS": "cos", "SIGN": "sign", "LOGICAL_NOT": "not",
    "SOFTMAX": "softmax", "LOG_SOFTMAX": "log_softmax", "LOCAL_RESPONSE_NORMALIZATION": "lrn",
    "QUANTIZE": "quantize", "DEQUANTIZE": "dequantize", "CAST": "cast",
    "RESHAPE": "reshape", "SQUEEZE": "squeeze", "EXPAND_DIMS": "unsqueeze",
    "PAD": "pad", "PADV2": "pad", "MIRROR_PAD": "mirror_pad", "CONCATENATION": "concat", "STRIDED_SLICE": "slice",
    "SLICE": "slice", "TRANSPOSE": "transpose", "GATHER": "gather", "GATHER_ND": "gather_nd", "SPLIT": "split",
    "SPLIT_V": "split", "PACK": "pack", "UNPACK": "unpack", "TILE": "tile", "BROADCAST_TO": "expand",
    "DEPTH_TO_SPACE": "depth_to_space", "SPACE_TO_DEPTH": "space_to_depth", "REVERSE_V2": "reverse",
    "RESIZE_BILINEAR": "resize", "RESIZE_NEAREST_NEIGHBOR": "resize", "TOPK_V2": "top_k",
}

# Input positions that are attributes (shapes, axes, paddings, slice bounds), neither activations nor weights.
PARAMETER_OPERANDS: dict[str, tuple[int, ...]] = {
    "RESHAPE": (1,), "EXPAND_DIMS": (1,), "SQUEEZE": (1,), "PAD": (1,), "PADV2": (1, 2), "MIRROR_PAD": (1,),
    "MEAN": (1,), "SUM": (1,), "REDUCE_MAX": (1,), "REDUCE_MIN": (1,), "REDUCE_PROD": (1,), "ARG_MAX": (1,),
    "ARG_MIN": (1,), "STRIDED_SLICE": (1, 2, 3), "SLICE": (1, 2), "TRANSPOSE": (1,), "TRANSPOSE_CONV": (0,),
    "SPLIT": (0,), "SPLIT_V": (1, 2), "TILE": (1,), "BROADCAST_TO": (1,), "RESIZE_BILINEAR": (1,),
    "RESIZE_NEAREST_NEIGHBOR": (1,), "TOPK_V2": (1,),
}

# TensorType -> DType. Unsigned types take the signed type of their width; STRING, COMPLEX*, RESOURCE and VARIANT
# have none (their bytes still count, through TensorSpec.nbytes).
_DTYPES: dict[int, DType] = {
    0: DType.FP32, 1: DType.FP16, 2: DType.INT32, 3: DType.INT8, 4: DType.INT64, 6: DType.BOOL, 7: DType.INT16,
    9: DType.INT8, 10: DType.FP64, 12: DType.INT64, 15: DType.INT32, 16: DType.INT16, 17: DType.INT4,
    18: DType.BF16,
}
_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # NHWC axis a is NCHW axis _NHWC_TO_NCHW_AXIS[a]
# BuiltinOptions union tag -> options class name; ActivationFunctionType -> lower-case name (relu6, ...)
_OPTION_CLASSES: dict[int, str] = (
    {v: k for k, v in vars(tflite.BuiltinOptions).items() if isinstance(v, int) and k != "NONE"} if tflite else {}
)
_ACTIVATIONS: dict[int, str] = (
    {v: k.lower() for k, v in vars(tflite.ActivationFunctionType).items() if isinstance(v, int)} if tflite else {}
)


class TFLiteImportWarning(UserWarning):
    """Part of a TFLite graph is not costed as stored: other subgraphs, a fixed batch, dynamic dims."""


@dataclass(frozen=True)
class SubgraphSummary:
    """One subgraph of a TFLite model; only index 0 is ``counted`` by :func:`load_tflite`."""

    index: int
    name: str
    operators: int
    tensors: int
    counted: bool


@dataclass(frozen=True)
class _Tensor:
    """A validated tensor record of subgraph 0."""

    index: int
    name: str
    shape: Shape  # TFLite (NHWC) order
    signature: tuple[int, ...]  # shape_signature: -1 marks a dynamic dim; () when absent
    dtype: DType | None
    nbytes: int  # stored bytes of a constant, 0 for activations
    data: np.ndarray  # the constant's bytes (uint8), empty for activations
    quantization: str | None  # per_tensor, per_channel or None
    variable: bool

    @property
    def constant(self) -> bool:
        return self.nbytes > 0 and not self.variable

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class _Operator:
    """A validated operator record: indices checked, options read."""

    index: int
    name: str  # builtin name (CONV_2D), or the custom code of a custom op
    custom: bool
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional operand
    outputs: tuple[int, ...]
    options_type: str | None  # the builtin options' class name (Conv2DOptions, ...), None when absent
    options: dict[str, Any]  # the options' scalar fields, read eagerly (StrideW, Padding, ...)


@dataclass(frozen=True)
class _Subgraph:
    """Subgraph 0, read into plain records."""

    name: str
    tensors: tuple[_Tensor, ...]
    operators: tuple[_Operator, ...]
    inputs: tuple[int, ...]


@dataclass(frozen=True)
class _Model:
    """Subgraph 0 in full and a summary of every subgraph."""

    main: _Subgraph
    subgraphs: tuple[SubgraphSummary, ...]


# ----------------------------------------------------------------------------------------------- public API


def load_tflite(path: str | Path, batch: int = 1) -> LayerNetwork:
    """Import subgraph 0 of the TFLite model at ``path``; ``batch`` binds a dynamic batch dim (see module doc).

    Raises :class:`ModelFileError` for a missing, empty, truncated or malformed file and :class:`ShapeError`
    for shapes rooflinekit cannot cost (zero dims, inconsistent conv operands).
    """
    path = Path(path)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ShapeError(f"{path}: batch must be a positive integer, got {batch!r}")
    model = _parse(_read_bytes(path), path)
    _warn_other_subgraphs(model.subgraphs, path)
    graph, network_batch = _bind_batch(model.main, batch, path)
    nodes = _nodes(graph, path)
    if not nodes:
        raise ModelFileError(f"{path}: subgraph 0 has no operators; there is nothing to count")
    precision = _network_precision(nodes)
    layers = tuple(_layer(node, precision) for node in nodes)
    return LayerNetwork(name=path.stem, batch=network_batch, precision=precision, layers=layers,
                        source=f"{path.name} (TFLite, subgraph 0 '{graph.name}')")


def subgraph_summary(path: str | Path) -> list[SubgraphSummary]:
    """Every subgraph of the model at ``path``: index, name, operator and tensor counts, whether it is counted."""
    path = Path(path)
    model = _parse(_read_bytes(path), path)
    return list(model.subgraphs)


# ------------------------------------------------------------------------------- reading and validation


def _read_bytes(path: Path) -> bytes:
    if tflite is None:
        raise ModelFileError(f"{path}: reading .tflite files needs the 'tflite' package; "
                             "install it with: pip install 'rooflinekit[tflite]'")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror or exc}); check the path") from None
    if not data:
        raise ModelFileError(f"{path}: the file is empty; expected a TFLite flatbuffer")
    return data


def _check_header(data: bytes, path: Path) -> None:
    if len(data) < 8:
        raise ModelFileError(f"{path}: {len(data)} bytes is too short for a TFLite flatbuffer (header is 8 bytes); "
                             "the file is truncated")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelFileError(f"{path}: file identifier is {bytes(data[4:8])!r}, expected {FILE_IDENTIFIER!r}; "
                             "this is not a TFLite model (or is size-prefixed); re-export it with the TFLite converter")
    root = int.from_bytes(data[0:4], "little")
    if root < 8 or root + 4 > len(data):
        raise ModelFileError(f"{path}: root table offset {root} lies outside the {len(data)}-byte file; "
                             "the file is truncated or corrupt")


def _parse(data: bytes, path: Path) -> _Model:
    """Validate and read the flatbuffer into plain records; any reader failure is a ModelFileError."""
    _check_header(data, path)
    try:
        return _read_model(tflite.Model.GetRootAs(data, 0), data, path)
    except RooflineError:
        raise
    except Exception as exc:  # the generated readers do not bounds-check: any error means a malformed file
        raise ModelFileError(f"{path}: malformed TFLite flatbuffer ({type(exc).__name__}: {exc}); "
                             "the file is truncated or corrupt, re-export it") from exc


def _count(n: int, item_bytes: int, data: bytes, path: Path, what: str) -> int:
    """A vector length, checked against the file size so that garbage cannot drive huge loops."""
    if n < 0 or n * item_bytes > len(data):
        raise ModelFileError(f"{path}: {what} count {n} cannot fit in a {len(data)}-byte file; "
                             "the file is truncated or corrupt")
    return n


def _ints(values: Any) -> tuple[int, ...]:
    """An int vector from a ``...AsNumpy()`` reader (which returns 0 for an absent vector)."""
    return tuple(int(v) for v in values) if isinstance(values, np.ndarray) else ()


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


def _read_model(model: Any, data: bytes, path: Path) -> _Model:
    version = model.Version()
    if version != SCHEMA_VERSION:
        raise ModelFileError(f"{path}: TFLite schema version {version}; rooflinekit reads version "
                             f"{SCHEMA_VERSION}, re-convert the model with a current TFLite converter")
    n_subgraphs = _count(model.SubgraphsLength(), 4, data, path, "subgraph")
    if n_subgraphs == 0:
        raise ModelFileError(f"{path}: the model has no subgraph; there is nothing to count")
    codes = _read_opcodes(model, data, path)
    buffers = _read_buffers(model, data, path)
    main = _read_subgraph(model.Subgraphs(0), codes, buffers, data, path)
    summaries = [SubgraphSummary(0, main.name, len(main.operators), len(main.tensors), True)]
    for index in range(1, n_subgraphs):
        sub = model.Subgraphs(index)
        summaries.append(SubgraphSummary(index, _text(sub.Name()), sub.OperatorsLength(), sub.TensorsLength(),
                                         False))
    return _Model(main=main, subgraphs=tuple(summaries))


def _read_opcodes(model: Any, data: bytes, path: Path) -> list[tuple[str, bool]]:
    """(name, is_custom) per operator code; a builtin's code is the larger of the two code fields."""
    codes = []
    for index in range(_count(model.OperatorCodesLength(), 4, data, path, "operator code")):
        code = model.OperatorCodes(index)
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = BUILTIN_OPCODE2NAME.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            codes.append((_text(code.CustomCode()) or "CUSTOM", True))
        else:
            codes.append((name, False))
    return codes


def _read_buffers(model: Any, data: bytes, path: Path) -> list[np.ndarray]:
    """Each buffer's bytes: inline data, or (files over 2 GB) ``size`` bytes at file ``offset``."""
    buffers = []
    for index in range(_count(model.BuffersLength(), 4, data, path, "buffer")):
        buffer = model.Buffers(index)
        offset, size = buffer.Offset(), buffer.Size()
        if offset > 1:
            if offset + size > len(data):
                raise ModelFileError(f"{path}: buffer {index} spans bytes {offset}..{offset + size} of a "
                                     f"{len(data)}-byte file; the file is truncated")
            buffers.append(np.frombuffer(data, np.uint8, count=size, offset=offset))
        else:
            inline = buffer.DataAsNumpy()
            buffers.append(inline if isinstance(inline, np.ndarray) else np.empty(0, np.uint8))
    return buffers


def _read_subgraph(sub: Any, codes: list[tuple[str, bool]], buffers: list[np.ndarray], data: bytes,
                   path: Path) -> _Subgraph:
    tensors = tuple(_read_tensor(sub.Tensors(i), i, buffers, path)
                    for i in range(_count(sub.TensorsLength(), 4, data, path, "tensor")))
    operators = tuple(_read_operator(sub.Operators(i), i, codes, len(tensors), path)
                      for i in range(_count(sub.OperatorsLength(), 4, data, path, "operator")))
    inputs = _ints(sub.InputsAsNumpy())
    _check_indices(inputs, len(tensors), f"{path}: subgraph 0 inputs")
    return _Subgraph(name=_text(sub.Name()), tensors=tensors, operators=operators, inputs=inputs)


def _read_tensor(tensor: Any, index: int, buffers: list[np.ndarray], path: Path) -> _Tensor:
    name = _text(tensor.Name())
    shape = _ints(tensor.ShapeAsNumpy())
    if any(d <= 0 for d in shape):
        raise ShapeError(f"{path}: tensor {index} '{name}' has shape {list(shape)}; rooflinekit needs positive "
                         "static dims (a dynamic dim is stored as 1 with -1 in shape_signature)")
    buffer = tensor.Buffer()
    if not 0 <= buffer < len(buffers):
        raise ModelFileError(f"{path}: tensor {index} '{name}' refers to buffer {buffer}, but the file has "
                             f"{len(buffers)} buffers; the file is corrupt")
    quant = tensor.Quantization()
    scales = quant.ScaleLength() if quant is not None else 0
    return _Tensor(index=index, name=name, shape=shape, signature=_ints(tensor.ShapeSignatureAsNumpy()),
                   dtype=_DTYPES.get(tensor.Type()), nbytes=int(buffers[buffer].nbytes), data=buffers[buffer],
                   quantization=None if scales == 0 else "per_tensor" if scales == 1 else "per_channel",
                   variable=bool(tensor.IsVariable()))


def _read_operator(op: Any, index: int, codes: list[tuple[str, bool]], n_tensors: int, path: Path) -> _Operator:
    code = op.OpcodeIndex()
    if not 0 <= code < len(codes):
        raise ModelFileError(f"{path}: operator {index} uses opcode {code}, but the file defines {len(codes)} "
                             "operator codes; the file is corrupt")
    name, custom = codes[code]
    inputs, outputs = _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy())
    where = f"{path}: operator {index} ({name})"
    _check_indices(inputs, n_tensors, f"{where} inputs", optional=True)
    _check_indices(outputs, n_tensors, f"{where} outputs")
    options_type, options = _read_options(op)
    return _Operator(index=index, name=name, custom=custom, inputs=inputs, outputs=outputs,
                     options_type=options_type, options=options)


def _check_indices(indices: Iterable[int], n_tensors: int, where: str, optional: bool = False) -> None:
    low = -1 if optional else 0
    bad = [i for i in indices if not low <= i < n_tensors]
    if bad:
        raise ModelFileError(f"{where} refer to tensors {bad}, but the subgraph has {n_tensors} tensors; "
                             "the file is corrupt")


def _read_options(op: Any) -> tuple[str | None, dict[str, Any]]:
    """The builtin options' class name (the union type names it) and scalar fields, read now so that a malformed
    table fails inside :func:`_parse`."""
    name = _OPTION_CLASSES.get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    cls = getattr(tflite, name, None) if name else None
    if cls is None or table is None:
        return None, {}
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return name, {field_name: getattr(options, field_name)() for field_name in _scalar_fields(cls)}


@lru_cache(maxsize=None)
def _scalar_fields(cls: type) -> tuple[str, ...]:
    """Getters of an options class that take no argument (vector elements and helpers excluded)."""
    return tuple(name for name, member in vars(cls).items()
                 if inspect.isfunction(member) and name[0].isupper() and name != "Init"
                 and not name.endswith(("IsNone", "Length", "AsNumpy"))
                 and len(inspect.signature(member).parameters) == 1)



# ------------------------------------------------------------------------------------ batch and nodes


def _bind_batch(graph: _Subgraph, batch: int, path: Path) -> tuple[_Subgraph, int]:
    """Bind dynamic leading dims to ``batch``; return the graph and the batch its shapes describe."""
    def dynamic_batch(t: _Tensor) -> bool:
        return len(t.signature) == len(t.shape) > 0 and t.signature[0] == -1

    dynamic_other = sum(1 for t in graph.tensors if -1 in t.signature[1:])
    if dynamic_other:
        warnings.warn(f"{path}: {dynamic_other} tensors have dynamic dims besides the batch; they are costed at "
                      "their stored size (usually 1); re-export the model with static shapes",
                      TFLiteImportWarning, stacklevel=3)
    if any(dynamic_batch(t) for t in graph.tensors):
        tensors = tuple(replace(t, shape=(batch, *t.shape[1:])) if dynamic_batch(t) else t for t in graph.tensors)
        return replace(graph, tensors=tensors), batch
    first = graph.tensors[graph.inputs[0]].shape if graph.inputs else ()
    fixed = first[0] if first else 1
    if batch != fixed:
        warnings.warn(f"{path}: the graph has a fixed batch of {fixed}, so its shapes are kept (LayerNetwork.batch = "
                      f"{fixed}); count batch {batch} with count_network(..., batch={batch}) or predict(..., "
                      f"batch={batch})", TFLiteImportWarning, stacklevel=3)
    return graph, fixed


def _warn_other_subgraphs(subgraphs: tuple[SubgraphSummary, ...], path: Path) -> None:
    others = [s for s in subgraphs if not s.counted]
    if others:
        listed = ", ".join(f"{s.index} '{s.name}' ({s.operators} ops)" for s in others)
        warnings.warn(f"{path}: only subgraph 0 is counted; subgraphs {listed} are control-flow bodies whose cost "
                      "depends on run-time iterations (see rooflinekit.importers.tflite.subgraph_summary)",
                      TFLiteImportWarning, stacklevel=3)


@dataclass(frozen=True)
class _Node:
    """One operator with its operands resolved: ``inputs`` by position (None: omitted optional operand)."""

    where: str  # "<file>: operator <i> (<name>)", the prefix of error messages
    op: _Operator
    inputs: tuple[_Tensor | None, ...]
    outputs: tuple[_Tensor, ...]

    def _operands(self, constant: bool) -> list[tuple[int, _Tensor]]:
        params = PARAMETER_OPERANDS.get(self.op.name, ()) if not self.op.custom else ()
        return [(p, t) for p, t in enumerate(self.inputs) if t is not None and p not in params
                and t.constant == constant]

    def data(self) -> list[tuple[int, _Tensor]]:
        """Activation operands (position, tensor)."""
        return self._operands(constant=False)

    def weights(self) -> list[tuple[int, _Tensor]]:
        """Constant operands that are weights (position, tensor)."""
        return self._operands(constant=True)

    def operand(self, position: int, rank: int | None = None, activation: bool = False) -> _Tensor:
        """The operand at ``position``, checked to have ``rank`` dims and, if ``activation``, not be a constant."""
        tensor = self.inputs[position] if position < len(self.inputs) else None
        if tensor is None:
            raise ModelFileError(f"{self.where}: operand {position} is missing; the file is malformed")
        if activation and tensor.constant:
            raise ShapeError(f"{self.where}: operand {position} '{tensor.name}' is a constant; rooflinekit costs "
                             f"{self.op.name} on activations only, fold the constant before importing")
        if rank is not None and len(tensor.shape) != rank:
            raise ModelFileError(f"{self.where}: operand {position} '{tensor.name}' has shape {list(tensor.shape)}, "
                                 f"expected rank {rank}; the file is malformed")
        return tensor

    def output(self, rank: int | None = None) -> _Tensor:
        """The first output, checked to have ``rank`` dims."""
        if not self.outputs:
            raise ModelFileError(f"{self.where}: has no output; the file is malformed")
        if rank is not None and len(self.outputs[0].shape) != rank:
            raise ModelFileError(f"{self.where}: output '{self.outputs[0].name}' has shape "
                                 f"{list(self.outputs[0].shape)}, expected rank {rank}; the file is malformed")
        return self.outputs[0]

    def options(self, name: str, required: bool = True) -> dict[str, Any]:
        """The scalar fields of the options called ``name``; {} when absent and not ``required``."""
        if self.op.options_type == name:
            return self.op.options
        if self.op.options_type is None and not required:
            return {}
        raise ModelFileError(f"{self.where}: carries {self.op.options_type or 'no options'}, expected {name}; "
                             "the file is malformed")


def _nodes(graph: _Subgraph, path: Path) -> list[_Node]:
    """Operators of ``graph`` with operands resolved; DEQUANTIZE of a constant is folded into its consumers."""
    folded: dict[int, _Tensor] = {}
    for op in graph.operators:
        if op.name == "DEQUANTIZE" and len(op.inputs) == len(op.outputs) == 1 and op.inputs[0] >= 0:
            stored = graph.tensors[op.inputs[0]]
            if stored.constant:
                out = graph.tensors[op.outputs[0]]
                folded[out.index] = replace(out, dtype=stored.dtype, nbytes=stored.nbytes, data=stored.data,
                                            quantization=stored.quantization)

    def tensor(index: int) -> _Tensor | None:
        return None if index < 0 else folded.get(index, graph.tensors[index])

    return [_Node(where=f"{path}: operator {op.index} ({op.name})", op=op,
                  inputs=tuple(tensor(i) for i in op.inputs), outputs=tuple(graph.tensors[i] for i in op.outputs))
            for op in graph.operators if not (op.outputs and op.outputs[0] in folded)]


# ------------------------------------------------------------------------------------------- op handlers


@dataclass(frozen=True)
class _Mapped:
    """What a handler decides: kind, attributes, canonical weight shapes and input shapes by operand position."""

    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    weight_shapes: dict[int, Shape] = field(default_factory=dict)
    input_shapes: dict[int, Shape] = field(default_factory=dict)
    nhwc: bool = True  # False: keep every shape in TFLite order (matmul operands)


def _window(o: dict[str, Any], dilated: bool = True) -> dict[str, Any]:
    """Strides, dilations and padding of a 2-D window op, in (H, W) order."""
    attrs: dict[str, Any] = {"strides": [o.get("StrideH", 1), o.get("StrideW", 1)],
                             "padding": "valid" if o.get("Padding") == tflite.Padding.VALID else "same"}
    if dilated:
        attrs["dilations"] = [o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)]
    return attrs


def _conv(node: _Node, kind: str) -> _Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("Conv2DOptions")
    c_out, kh, kw, c_per_group = w.shape
    if x.shape[3] % c_per_group or c_out % (x.shape[3] // c_per_group):
        raise ShapeError(f"{node.where}: filter {list(w.shape)} does not divide the {x.shape[3]} input channels "
                         "into groups")
    return _Mapped(kind, {"kernel_shape": [kh, kw], **_window(o), "groups": x.shape[3] // c_per_group},
                   weight_shapes={1: (c_out, c_per_group, kh, kw)})


def _depthwise(node: _Node, kind: str) -> _Mapped:
    x, w = node.operand(0, rank=4, activation=True), node.operand(1, rank=4)
    node.output(rank=4)
    o = node.options("DepthwiseConv2DOptions")
    one, kh, kw, c_out = w.shape
    c_in = x.shape[3]
    if one != 1 or c_out % c_in:
        raise ShapeError(f"{node.where}: depthwise filter {list(w.shape)} must be (1, KH, KW, multiplier * "
                         f"{c_in})")
    return _Mapped(kind, {"kernel_shape": [kh, kw], **_window(o), "groups": c_in, "depth_multiplier": c_out // c_in},
                   weight_shapes={1: (c_out, 1, kh, kw)})


def _transpose_conv(node: _Node, kind: str) -> _Mapped:
    w, x = node.operand(1, rank=4), node.operand(2, rank=4, activation=True)
    node.output(rank=4)
    o = node.options("TransposeConvOptions")
    c_out, kh, kw, c_in = w.shape
    if c_in != x.shape[3]:
        raise ShapeError(f"{node.where}: filter {list(w.shape)} expects {c_in} input channels, input has "
                         f"{x.shape[3]}")
    return _Mapped(kind, {"kernel_shape": [kh, kw], **_window(o, dilated=False), "groups": 1},
                   weight_shapes={1: (c_in, c_out, kh, kw)})


def _fully_connected(node: _Node, kind: str) -> _Mapped:
    if len(node.operand(0, activation=True).shape) < 1 or len(node.operand(1).shape) != 2:
        raise ShapeError(f"{node.where}: needs an input of rank >= 1 and a (out, in) weight, got "
                         f"{list(node.operand(0).shape)} and {list(node.operand(1).shape)}")
    o = node.options("FullyConnectedOptions", required=False)
    return _Mapped(kind, {"keep_num_dims": bool(o.get("KeepNumDims", False))})


def _swap_last(shape: Shape) -> Shape:
    return (*shape[:-2], shape[-1], shape[-2])


def _batch_matmul(node: _Node, kind: str) -> _Mapped:
    a, b = node.operand(0), node.operand(1)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(f"{node.where}: operands {list(a.shape)} and {list(b.shape)} must have rank >= 2")
    if a.constant and b.constant:
        raise ShapeError(f"{node.where}: both operands are constants; fold them before importing")
    o = node.options("BatchMatMulOptions", required=False)
    a_shape = _swap_last(a.shape) if o.get("AdjX") else a.shape  # (..., M, K)
    b_shape = _swap_last(b.shape) if o.get("AdjY") else b.shape  # (..., K, N)
    if b.constant:
        return _Mapped("fully_connected", weight_shapes={1: _swap_last(b_shape)}, input_shapes={0: a_shape},
                       nhwc=False)
    if a.constant:
        return _Mapped("fully_connected", weight_shapes={0: a_shape}, input_shapes={1: b_shape}, nhwc=False)
    return _Mapped(kind, input_shapes={0: a_shape, 1: b_shape}, nhwc=False)


def _pool(node: _Node, kind: str) -> _Mapped:
    node.operand(0, rank=4)
    o = node.options("Pool2DOptions")
    kernel = [o["FilterHeight"], o["FilterWidth"]]
    if min(kernel) < 1:
        raise ModelFileError(f"{node.where}: pooling window {kernel} must be positive; the file is malformed")
    return _Mapped(kind, {"kernel_shape": kernel, **_window(o, dilated=False)})


def _nchw_axis(axis: int, rank: int, node: _Node) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ModelFileError(f"{node.where}: axis {axis} is out of range for rank {rank}; the file is malformed")
    axis %= max(rank, 1)
    return _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis


def _axes(tensor: _Tensor) -> list[int] | None:
    """The values of a constant int32/int64 axes operand, else None."""
    width = {DType.INT32: 4, DType.INT64: 8}.get(tensor.dtype) if tensor.dtype else None
    if not tensor.constant or width is None or tensor.nbytes % width:
        return None
    return [int(a) for a in tensor.data.view(np.int32 if width == 4 else np.int64)]


def _reduce(node: _Node, kind: str) -> _Mapped:
    rank = len(node.operand(0).shape)
    o = node.options("ReducerOptions", required=False)
    attrs: dict[str, Any] = {"keepdims": bool(o.get("KeepDims", False))}
    axes = _axes(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] is not None else None
    if axes is not None:
        attrs["axes"] = sorted(_nchw_axis(a, rank, node) for a in axes)
    return _Mapped(kind, attrs)


def _concat(node: _Node, kind: str) -> _Mapped:
    o = node.options("ConcatenationOptions", required=False)
    return _Mapped(kind, {"axis": _nchw_axis(o.get("Axis", 0), len(node.output().shape), node)})


def _lrn(node: _Node, kind: str) -> _Mapped:
    return _Mapped(kind, {"size": 2 * node.options("LocalResponseNormalizationOptions")["Radius"] + 1})


def _resize(node: _Node, kind: str) -> _Mapped:
    return _Mapped(kind, {"mode": "linear" if node.op.name == "RESIZE_BILINEAR" else "nearest"})


Handler = Callable[[_Node, str], _Mapped]
_HANDLERS: dict[str, Handler] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "TRANSPOSE_CONV": _transpose_conv,
    "FULLY_CONNECTED": _fully_connected, "BATCH_MATMUL": _batch_matmul,
    "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool, "L2_POOL_2D": _pool,
    "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce, "REDUCE_PROD": _reduce,
    "CONCATENATION": _concat, "LOCAL_RESPONSE_NORMALIZATION": _lrn,
    "RESIZE_BILINEAR": _resize, "RESIZE_NEAREST_NEIGHBOR": _resize,
}


# ---------------------------------------------------------------------------------- layers and precision


def _nchw(shape: Shape) -> Shape:
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def _map(node: _Node) -> _Mapped:
    if node.op.custom:
        return _Mapped(node.op.name)
    kind = KINDS.get(node.op.name, node.op.name)
    handler = _HANDLERS.get(node.op.name)
    return handler(node, kind) if handler else _Mapped(kind)


def _extra_attrs(node: _Node) -> dict[str, Any]:
    """``fused_activation`` and ``weight_quantization`` where they apply."""
    attrs: dict[str, Any] = {}
    fused = node.op.options.get("FusedActivationFunction", 0)
    if fused:
        attrs["fused_activation"] = _ACTIVATIONS.get(fused, f"activation_{fused}")
    weights = node.weights()
    if weights and weights[0][1].quantization:
        attrs["weight_quantization"] = weights[0][1].quantization
    return attrs


def _layer(node: _Node, network: Precision) -> Layer:
    """The layer of one operator, named ``<op>_<operator index>`` (``conv_2d_0``; TFLite operators are unnamed)."""
    mapped = _map(node)
    layout = _nchw if mapped.nhwc else (lambda shape: shape)
    return Layer(
        name=f"{node.op.name.lower()}_{node.op.index}", op=mapped.kind, source_op="CUSTOM" if node.op.custom else node.op.name,
        inputs=tuple(mapped.input_shapes.get(p, layout(t.shape)) for p, t in node.data()),
        outputs=tuple(layout(t.shape) for t in node.outputs),
        weights=tuple(TensorSpec(shape=mapped.weight_shapes.get(p, t.shape), dtype=t.dtype, nbytes=t.nbytes)
                      for p, t in node.weights()),
        attrs={**_extra_attrs(node), **mapped.attrs},
        precision=_layer_precision(node, network),
    )


def _first_weight(node: _Node) -> _Tensor | None:
    weights = node.weights()
    return weights[0][1] if weights else None


def _dominant(elements: Counter[DType]) -> DType | None:
    return elements.most_common(1)[0][0] if elements else None


def _network_precision(nodes: list[_Node]) -> Precision:
    """Dominant weight type (elements of first weights) and activation type (elements of activation inputs)."""
    weights: Counter[DType] = Counter()
    activations: Counter[DType] = Counter()
    for node in nodes:
        first = _first_weight(node)
        if first is not None and first.dtype is not None:
            weights[first.dtype] += first.elements
        for _, tensor in node.data():
            if tensor.dtype is not None:
                activations[tensor.dtype] += tensor.elements
    act = _dominant(activations) or _dominant(weights) or DType.FP32
    return Precision(weights=_dominant(weights) or act, activations=act)


def _layer_precision(node: _Node, network: Precision) -> Precision | None:
    """The layer's own precision when it differs from the network's, else None."""
    first = _first_weight(node)
    data = node.data()
    activation = data[0][1] if data else (node.outputs[0] if node.outputs else None)
    own = Precision(weights=first.dtype if first is not None and first.dtype else network.weights,
                    activations=activation.dtype if activation is not None and activation.dtype
                    else network.activations)
    return None if own == network else own
