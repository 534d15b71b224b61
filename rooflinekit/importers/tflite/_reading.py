"""Reading and validating a TFLite flatbuffer into plain records.

The file is read with the ``tflite`` package's schema readers and validated defensively (identifier, schema
version, vector bounds, every tensor, buffer and opcode index), because the generated readers do not check
bounds: any malformation becomes a :class:`~rooflinekit.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rooflinekit.descriptors import DType
from rooflinekit.errors import ModelFileError, RooflineError, ShapeError
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
        return _read_model(tflite.Model.GetRootAs(data, 0), data, path)
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


def _ints(values: Any) -> tuple[int, ...]:
    """An int vector from a ``...AsNumpy()`` reader (which returns 0 for an absent vector)."""
    return tuple(int(v) for v in values) if isinstance(values, np.ndarray) else ()


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


def _read_model(model: Any, data: bytes, path: Path) -> Model:
    version = model.Version()
    if version != SCHEMA_VERSION:
        raise ModelFileError(f"{path}: TFLite schema version {version}; rooflinekit reads version "
                             f"{SCHEMA_VERSION}, re-convert the model with a current TFLite converter", path=path)
    n_subgraphs = _count(model.SubgraphsLength(), 4, data, path, "subgraph")
    if n_subgraphs == 0:
        raise ModelFileError(f"{path}: the model has no subgraph; there is nothing to count", path=path)
    codes = _read_opcodes(model, data, path)
    buffers = _read_buffers(model, data, path)
    main = _read_subgraph(model.Subgraphs(0), codes, buffers, data, path)
    summaries = [SubgraphSummary(0, main.name, len(main.operators), len(main.tensors), True)]
    for index in range(1, n_subgraphs):
        sub = model.Subgraphs(index)
        summaries.append(SubgraphSummary(index, _text(sub.Name()), sub.OperatorsLength(), sub.TensorsLength(),
                                         False))
    return Model(main=main, subgraphs=tuple(summaries))


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
                                     f"{len(data)}-byte file; the file is truncated", path=path)
            buffers.append(np.frombuffer(data, np.uint8, count=size, offset=offset))
        else:
            inline = buffer.DataAsNumpy()
            buffers.append(inline if isinstance(inline, np.ndarray) else np.empty(0, np.uint8))
    return buffers


def _read_subgraph(sub: Any, codes: list[tuple[str, bool]], buffers: list[np.ndarray], data: bytes,
                   path: Path) -> Subgraph:
    tensors = tuple(_read_tensor(sub.Tensors(i), i, buffers, path)
                    for i in range(_count(sub.TensorsLength(), 4, data, path, "tensor")))
    operators = tuple(_read_operator(sub.Operators(i), i, codes, len(tensors), path)
                      for i in range(_count(sub.OperatorsLength(), 4, data, path, "operator")))
    inputs = _ints(sub.InputsAsNumpy())
    _check_indices(inputs, len(tensors), f"{path}: subgraph 0 inputs")
    return Subgraph(name=_text(sub.Name()), tensors=tensors, operators=operators, inputs=inputs)


def _read_tensor(tensor: Any, index: int, buffers: list[np.ndarray], path: Path) -> Tensor:
    name = _text(tensor.Name())
    shape = _ints(tensor.ShapeAsNumpy())
    if any(d < 0 for d in shape):  # 0 is an empty tensor (a streaming model's empty initial state): it holds no bytes
        raise ShapeError(f"{path}: tensor {index} '{name}' has shape {list(shape)}; rooflinekit needs non-negative "
                         "static dims (a dynamic dim is stored as 1 with -1 in shape_signature)")
    buffer = tensor.Buffer()
    if not 0 <= buffer < len(buffers):
        raise ModelFileError(f"{path}: tensor {index} '{name}' refers to buffer {buffer}, but the file has "
                             f"{len(buffers)} buffers; the file is corrupt", path=path)
    quant = tensor.Quantization()
    scales = quant.ScaleLength() if quant is not None else 0
    return Tensor(index=index, name=name, shape=shape, signature=_ints(tensor.ShapeSignatureAsNumpy()),
                   dtype=_DTYPES.get(tensor.Type()), nbytes=int(buffers[buffer].nbytes), data=buffers[buffer],
                   quantization=None if scales == 0 else "per_tensor" if scales == 1 else "per_channel",
                   variable=bool(tensor.IsVariable()))


def _read_operator(op: Any, index: int, codes: list[tuple[str, bool]], n_tensors: int, path: Path) -> Operator:
    code = op.OpcodeIndex()
    if not 0 <= code < len(codes):
        raise ModelFileError(f"{path}: operator {index} uses opcode {code}, but the file defines {len(codes)} "
                             "operator codes; the file is corrupt", path=path)
    name, custom = codes[code]
    inputs, outputs = _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy())
    where = f"{path}: operator {index} ({name})"
    _check_indices(inputs, n_tensors, f"{where} inputs", optional=True)
    _check_indices(outputs, n_tensors, f"{where} outputs")
    options_type, options = _read_options(op)
    return Operator(index=index, name=name, custom=custom, inputs=inputs, outputs=outputs,
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
