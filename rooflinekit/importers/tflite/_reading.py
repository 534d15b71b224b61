"""Reading and validating a TFLite flatbuffer into plain records.

Models, subgraphs, tensors, operators and buffers are read with the bounds-checked table reader of
:mod:`._flatbuffer` (the ``tflite`` package's generated readers check no bounds and cost more than the rest of the
import); builtin options with the ``tflite`` package's option classes, on a table the reader located. Everything is
validated defensively (identifier, schema version, vector bounds, every tensor, buffer and opcode index): any
malformation becomes a :class:`~rooflinekit.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rooflinekit.descriptors import DType
from rooflinekit.errors import ModelFileError, RooflineError, ShapeError
from rooflinekit.importers.tflite._flatbuffer import Table
from rooflinekit.importers.tflite._records import Model, Operator, Subgraph, SubgraphSummary, Tensor

try:
    import tflite
    from tflite.utils import BUILTIN_OPCODE2NAME
except ImportError:  # optional dependency, reported when a file is loaded
    tflite = None
    BUILTIN_OPCODE2NAME = {}

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# TensorType -> DType. Unsigned types take the signed type of their width; STRING, COMPLEX*, RESOURCE and VARIANT
# have none (their bytes still count, through TensorSpec.nbytes).
_DTYPES: dict[int, DType] = {
    0: DType.FP32, 1: DType.FP16, 2: DType.INT32, 3: DType.INT8, 4: DType.INT64, 6: DType.BOOL, 7: DType.INT16,
    9: DType.INT8, 10: DType.FP64, 12: DType.INT64, 15: DType.INT32, 16: DType.INT16, 17: DType.INT4,
    18: DType.BF16,
}
# BuiltinOptions union tag -> options class name
_OPTION_CLASSES: dict[int, str] = (
    {v: k for k, v in vars(tflite.BuiltinOptions).items() if isinstance(v, int) and k != "NONE"} if tflite else {}
)


def read(path: Path) -> Model:
    """The validated records of the model at ``path``."""
    return _parse(_read_bytes(path), path)


def _read_bytes(path: Path) -> bytes:
    if tflite is None:
        raise ModelFileError(f"{path}: reading .tflite files needs the 'tflite' package; "
                             "install it with: pip install 'rooflinekit[tflite]'", path=path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror or exc}); check the path",
                             path=path) from None
    if not data:
        raise ModelFileError(f"{path}: the file is empty; expected a TFLite flatbuffer", path=path)
    return data


def _check_header(data: bytes, path: Path) -> None:
    if len(data) < 8:
        raise ModelFileError(f"{path}: {len(data)} bytes is too short for a TFLite flatbuffer (header is 8 bytes); "
                             "the file is truncated", path=path)
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelFileError(f"{path}: file identifier is {bytes(data[4:8])!r}, expected {FILE_IDENTIFIER!r}; "
                             "this is not a TFLite model (or is size-prefixed); re-export it with the TFLite converter",
                             path=path)
    root = int.from_bytes(data[0:4], "little")
    if root < 8 or root + 4 > len(data):
        raise ModelFileError(f"{path}: root table offset {root} lies outside the {len(data)}-byte file; "
                             "the file is truncated or corrupt", path=path)


def _parse(data: bytes, path: Path) -> Model:
    """Validate and read the flatbuffer into plain records; any reader failure is a ModelFileError."""
    _check_header(data, path)
    try:
        return _read_model(Table.root(data), data, path)
    except RooflineError:
        raise
    except Exception as exc:  # the generated readers do not bounds-check: any error means a malformed file
        raise ModelFileError(f"{path}: malformed TFLite flatbuffer ({type(exc).__name__}: {exc}); "
                             "the file is truncated or corrupt, re-export it", path=path) from exc


def _count(n: int, item_bytes: int, data: bytes, path: Path, what: str) -> int:
    """A vector length, checked against the file size so that garbage cannot drive huge loops."""
    if n < 0 or n * item_bytes > len(data):
        raise ModelFileError(f"{path}: {what} count {n} cannot fit in a {len(data)}-byte file; "
                             "the file is truncated or corrupt", path=path)
    return n


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


# field slots of the TFLite schema (tflite/schema.fbs), in declaration order
_MODEL_VERSION, _MODEL_OPCODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 0, 1, 2, 4
_SUB_TENSORS, _SUB_INPUTS, _SUB_OPERATORS, _SUB_NAME = 0, 1, 3, 4
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_BUFFER, _TENSOR_NAME, _TENSOR_QUANT, _TENSOR_VARIABLE = 0, 1, 2, 3, 4, 5
_TENSOR_SIGNATURE = 7
_QUANT_SCALE = 2
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPTIONS_TYPE, _OP_OPTIONS = 0, 1, 2, 3, 4
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_CODE_DEPRECATED, _CODE_CUSTOM, _CODE_BUILTIN = 0, 1, 3


def _read_model(model: Table, data: bytes, path: Path) -> Model:
    version = model.scalar(_MODEL_VERSION, "I")
    if version != SCHEMA_VERSION:
        raise ModelFileError(f"{path}: TFLite schema version {version}; rooflinekit reads version "
                             f"{SCHEMA_VERSION}, re-convert the model with a current TFLite converter", path=path)
    n_subgraphs = _count(model.length(_MODEL_SUBGRAPHS), 4, data, path, "subgraph")
    if n_subgraphs == 0:
        raise ModelFileError(f"{path}: the model has no subgraph; there is nothing to count", path=path)
    codes = _read_opcodes(model, data, path)
    buffers = _read_buffers(model, data, path)
    subgraphs = model.tables(_MODEL_SUBGRAPHS)
    main = _read_subgraph(subgraphs[0], codes, buffers, data, path)
    summaries = [SubgraphSummary(0, main.name, len(main.operators), len(main.tensors), True)]
    initializers = {op.options.get("InitSubgraphIndex") for op in main.operators if op.name == "CALL_ONCE"}
    for index in range(1, n_subgraphs):
        sub = subgraphs[index]
        summaries.append(SubgraphSummary(index, _text(sub.string(_SUB_NAME)), sub.length(_SUB_OPERATORS),
                                         sub.length(_SUB_TENSORS), False, index in initializers))
    return Model(main=main, subgraphs=tuple(summaries))


def _read_opcodes(model: Table, data: bytes, path: Path) -> list[tuple[str, bool]]:
    """(name, is_custom) per operator code; a builtin's code is the larger of the two code fields."""
    _count(model.length(_MODEL_OPCODES), 4, data, path, "operator code")
    codes = []
    for code in model.tables(_MODEL_OPCODES):
        number = max(code.scalar(_CODE_BUILTIN, "i"), code.scalar(_CODE_DEPRECATED, "b"))
        name = BUILTIN_OPCODE2NAME.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            codes.append((_text(code.string(_CODE_CUSTOM)) or "CUSTOM", True))
        else:
            codes.append((name, False))
    return codes


def _read_buffers(model: Table, data: bytes, path: Path) -> list[np.ndarray]:
    """Each buffer's bytes: inline data, or (files over 2 GB) ``size`` bytes at file ``offset``."""
    _count(model.length(_MODEL_BUFFERS), 4, data, path, "buffer")
    buffers = []
    for index, buffer in enumerate(model.tables(_MODEL_BUFFERS)):
        offset, size = buffer.scalar(_BUFFER_OFFSET, "Q"), buffer.scalar(_BUFFER_SIZE, "Q")
        if offset > 1:
            if offset + size > len(data):
                raise ModelFileError(f"{path}: buffer {index} spans bytes {offset}..{offset + size} of a "
                                     f"{len(data)}-byte file; the file is truncated", path=path)
            buffers.append(np.frombuffer(data, np.uint8, count=size, offset=offset))
        else:
            buffers.append(buffer.bytes_vector(_BUFFER_DATA))
    return buffers


def _read_subgraph(sub: Table, codes: list[tuple[str, bool]], buffers: list[np.ndarray], data: bytes,
                   path: Path) -> Subgraph:
    _count(sub.length(_SUB_TENSORS), 4, data, path, "tensor")
    tensors = tuple(_read_tensor(tensor, i, buffers, path) for i, tensor in enumerate(sub.tables(_SUB_TENSORS)))
    _count(sub.length(_SUB_OPERATORS), 4, data, path, "operator")
    operators = tuple(_read_operator(op, i, codes, len(tensors), path)
                      for i, op in enumerate(sub.tables(_SUB_OPERATORS)))
    inputs = sub.ints(_SUB_INPUTS)
    _check_indices(inputs, len(tensors), f"{path}: subgraph 0 inputs")
    return Subgraph(name=_text(sub.string(_SUB_NAME)), tensors=tensors, operators=operators, inputs=inputs)


def _read_tensor(tensor: Table, index: int, buffers: list[np.ndarray], path: Path) -> Tensor:
    name = _text(tensor.string(_TENSOR_NAME))
    shape = tensor.ints(_TENSOR_SHAPE)
    if any(d < 0 for d in shape):  # 0 is an empty tensor (a streaming model's empty initial state): it holds no bytes
        raise ShapeError(f"{path}: tensor {index} '{name}' has shape {list(shape)}; rooflinekit needs non-negative "
                         "static dims (a dynamic dim is stored as 1 with -1 in shape_signature)")
    buffer = tensor.scalar(_TENSOR_BUFFER, "I")
    if not 0 <= buffer < len(buffers):
        raise ModelFileError(f"{path}: tensor {index} '{name}' refers to buffer {buffer}, but the file has "
                             f"{len(buffers)} buffers; the file is corrupt", path=path)
    quant = tensor.table(_TENSOR_QUANT)
    scales = quant.vector(_QUANT_SCALE, 4)[1] if quant is not None else 0
    # the fields by position, in Tensor's order (index, name, shape, signature, dtype, nbytes, data, quantization,
    # variable): matching nine keywords costs more than the rest of the record
    return Tensor(index, name, shape, tensor.ints(_TENSOR_SIGNATURE), _DTYPES.get(tensor.scalar(_TENSOR_TYPE, "b")),
                  int(buffers[buffer].nbytes), buffers[buffer],
                  None if scales == 0 else "per_tensor" if scales == 1 else "per_channel",
                  bool(tensor.scalar(_TENSOR_VARIABLE, "?")))


def _read_operator(op: Table, index: int, codes: list[tuple[str, bool]], n_tensors: int, path: Path) -> Operator:
    code = op.scalar(_OP_OPCODE, "I")
    if not 0 <= code < len(codes):
        raise ModelFileError(f"{path}: operator {index} uses opcode {code}, but the file defines {len(codes)} "
                             "operator codes; the file is corrupt", path=path)
    name, custom = codes[code]
    inputs, outputs = op.ints(_OP_INPUTS), op.ints(_OP_OUTPUTS)
    if (inputs and (min(inputs) < -1 or max(inputs) >= n_tensors)
            or outputs and (min(outputs) < 0 or max(outputs) >= n_tensors)):  # the messages built only then
        where = f"{path}: operator {index} ({name})"
        _check_indices(inputs, n_tensors, f"{where} inputs", optional=True)
        _check_indices(outputs, n_tensors, f"{where} outputs")
    options_type, options = _read_options(op)
    # by position, in Operator's order (index, name, custom, inputs, outputs, options_type, options): faster than
    # matching seven keywords, once per operator
    return Operator(index, name, custom, inputs, outputs, options_type, options)


def _check_indices(indices: Iterable[int], n_tensors: int, where: str, optional: bool = False) -> None:
    low = -1 if optional else 0
    bad = [i for i in indices if not low <= i < n_tensors]
    if bad:
        raise ModelFileError(f"{where} refer to tensors {bad}, but the subgraph has {n_tensors} tensors; "
                             "the file is corrupt")


def _read_options(op: Table) -> tuple[str | None, dict[str, Any]]:
    """The builtin options' class name (the union type names it) and scalar fields, read now so that a malformed
    table fails inside :func:`_parse`."""
    name = _OPTION_CLASSES.get(op.scalar(_OP_OPTIONS_TYPE, "B"))
    cls = getattr(tflite, name, None) if name else None
    table = op.table(_OP_OPTIONS) if cls is not None else None
    if cls is None or table is None:
        return None, {}
    values: dict[str, Any] = {}
    options = None
    for field_name, slot, code, default in _scalar_fields(cls):
        if slot is not None:
            values[field_name] = table.scalar(slot, code, default)
            continue
        if options is None:
            options = cls()
            options.Init(table.data, table.position)
        values[field_name] = getattr(options, field_name)()
    return name, values


_GETTER = re.compile(
    r"o = flatbuffers\.number_types\.UOffsetTFlags\.py_type\(self\._tab\.Offset\((\d+)\)\)\s+"
    r"if o != 0:\s+return (bool\()?self\._tab\.Get\(flatbuffers\.number_types\.(\w+)Flags, o \+ self\._tab\.Pos\)\)?"
    r"\s+return (\S+)\s*$")
_FLAG_CODES = {"Bool": "?", "Int8": "b", "Uint8": "B", "Int16": "h", "Uint16": "H", "Int32": "i", "Uint32": "I",
               "Int64": "q", "Uint64": "Q", "Float32": "f", "Float64": "d"}


@lru_cache(maxsize=None)
def _scalar_fields(cls: type) -> tuple[tuple[str, int | None, str, Any], ...]:
    """Getters of an options class that take no argument (vector elements and helpers excluded), each as
    ``(name, slot, struct code, default)``: a plain scalar getter of the generated code is read with
    :meth:`Table.scalar` at its slot (the same value), any other (``slot`` None) through the getter."""
    fields = []
    for name, member in vars(cls).items():
        if not (inspect.isfunction(member) and name[0].isupper() and name != "Init"
                and not name.endswith(("IsNone", "Length", "AsNumpy"))
                and len(inspect.signature(member).parameters) == 1):
            continue
        try:
            match = _GETTER.search(inspect.getsource(member))
        except (OSError, TypeError):  # no source: read through the getter
            match = None
        code = _FLAG_CODES.get(match.group(3)) if match else None
        if match is None or code is None or bool(match.group(2)) != (code == "?"):
            fields.append((name, None, "", None))
            continue
        try:
            default = ast.literal_eval(match.group(4))
        except (ValueError, SyntaxError):
            fields.append((name, None, "", None))
            continue
        fields.append((name, (int(match.group(1)) - 4) // 2, code, default))
    return tuple(fields)
