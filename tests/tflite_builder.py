"""A minimal TFLite flatbuffer writer for tests, built on the ``tflite`` package's builder functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

F32, F16, I8, I32 = (tflite.TensorType.FLOAT32, tflite.TensorType.FLOAT16, tflite.TensorType.INT8,
                     tflite.TensorType.INT32)
SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
_OPCODES = {name: code for code, name in BUILTIN_OPCODE2NAME.items()}
_ITEM_BYTES = {F32: 4, F16: 2, I8: 1, I32: 4}


@dataclass
class T:
    """A tensor: ``data`` non-empty makes it a constant; ``buffer`` overrides its buffer index."""

    shape: tuple[int, ...]
    type: int = F32
    data: bytes = b""
    name: str = ""
    signature: tuple[int, ...] | None = None
    scales: int = 0  # quantization scales: 0 none, 1 per tensor, >1 per channel
    buffer: int | None = None


@dataclass
class Op:
    """An operator: ``code`` is a builtin name or ``CUSTOM:<code>``; options as (class name, {field: value})."""

    code: str
    inputs: list[int]
    outputs: list[int]
    options: tuple[str, dict[str, Any]] | None = None
    opcode: int | None = None  # override of the operator-code index (to write a corrupt file)


@dataclass
class Graph:
    tensors: list[T]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    name: str = "main"


def const(shape: tuple[int, ...], type_: int = F32, **kwargs: Any) -> T:
    """A constant tensor of zeros."""
    return T(shape, type_, data=bytes(math.prod(shape) * _ITEM_BYTES[type_]), **kwargs)


def ints(values: list[int]) -> T:
    """An int32 constant vector (shapes, axes, paddings)."""
    return T((len(values),), I32, data=np.asarray(values, np.int32).tobytes())


def _table_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _call(name: str, *args: Any) -> Any:
    return getattr(tflite, name)(*args)


def _quantization(b: flatbuffers.Builder, scales: int) -> int:
    scale = b.CreateNumpyVector(np.full(scales, 0.05, np.float32))
    zero = b.CreateNumpyVector(np.zeros(scales, np.int64))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zero)
    return tflite.QuantizationParametersEnd(b)


def _tensor(b: flatbuffers.Builder, t: T, buffer: int) -> int:
    name = b.CreateString(t.name)
    shape = b.CreateNumpyVector(np.asarray(t.shape, np.int32))
    signature = b.CreateNumpyVector(np.asarray(t.signature, np.int32)) if t.signature else None
    quant = _quantization(b, t.scales) if t.scales else None
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, t.type)
    tflite.TensorAddBuffer(b, buffer)
    tflite.TensorAddName(b, name)
    if signature is not None:
        tflite.TensorAddShapeSignature(b, signature)
    if quant is not None:
        tflite.TensorAddQuantization(b, quant)
    return tflite.TensorEnd(b)


def _operator(b: flatbuffers.Builder, op: Op, opcode: int) -> int:
    inputs = b.CreateNumpyVector(np.asarray(op.inputs, np.int32))
    outputs = b.CreateNumpyVector(np.asarray(op.outputs, np.int32))
    options = None
    if op.options:
        cls, fields = op.options
        _call(f"{cls}Start", b)
        for key, value in fields.items():
            _call(f"{cls}Add{key}", b, value)
        options = _call(f"{cls}End", b)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, opcode)
    tflite.OperatorAddInputs(b, inputs)
    tflite.OperatorAddOutputs(b, outputs)
    if options is not None:
        tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, op.options[0]))
        tflite.OperatorAddBuiltinOptions(b, options)
    return tflite.OperatorEnd(b)


def _opcode(b: flatbuffers.Builder, code: str) -> int:
    custom = b.CreateString(code.split(":", 1)[1]) if code.startswith("CUSTOM:") else None
    number = _OPCODES["CUSTOM"] if custom is not None else _OPCODES[code]
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(number, 127))
    tflite.OperatorCodeAddBuiltinCode(b, number)
    if custom is not None:
        tflite.OperatorCodeAddCustomCode(b, custom)
    return tflite.OperatorCodeEnd(b)


def build_tflite(*graphs: Graph, version: int = 3, external_buffers: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Serialize ``graphs`` (the first is subgraph 0) as a TFLite flatbuffer with identifier TFL3.

    ``external_buffers`` appends buffers stored outside the tables, as (offset, size) pairs.
    """
    b = flatbuffers.Builder(1024)
    codes = sorted({op.code for g in graphs for op in g.ops})
    payloads = [t.data for g in graphs for t in g.tensors if t.data]
    buffers = [b""] + payloads
    buffer_offsets = []
    for data in buffers:
        vector = b.CreateByteVector(data) if data else None
        tflite.BufferStart(b)
        if vector is not None:
            tflite.BufferAddData(b, vector)
        buffer_offsets.append(tflite.BufferEnd(b))
    for offset, size in external_buffers:
        tflite.BufferStart(b)
        tflite.BufferAddOffset(b, offset)
        tflite.BufferAddSize(b, size)
        buffer_offsets.append(tflite.BufferEnd(b))
    next_buffer = 1
    subgraphs = []
    for g in graphs:
        tensors = []
        for t in g.tensors:
            index = t.buffer if t.buffer is not None else (next_buffer if t.data else 0)
            next_buffer += bool(t.data)
            tensors.append(_tensor(b, t, index))
        ops = [_operator(b, op, codes.index(op.code) if op.opcode is None else op.opcode) for op in g.ops]
        name = b.CreateString(g.name)
        tensor_vec, op_vec = _table_vector(b, tensors), _table_vector(b, ops)
        in_vec = b.CreateNumpyVector(np.asarray(g.inputs, np.int32))
        out_vec = b.CreateNumpyVector(np.asarray(g.outputs, np.int32))
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensor_vec)
        tflite.SubGraphAddOperators(b, op_vec)
        tflite.SubGraphAddInputs(b, in_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        tflite.SubGraphAddName(b, name)
        subgraphs.append(tflite.SubGraphEnd(b))
    code_vec = _table_vector(b, [_opcode(b, c) for c in codes])
    subgraph_vec, buffer_vec = _table_vector(b, subgraphs), _table_vector(b, buffer_offsets)
    description = b.CreateString("rooflinekit test model")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, version)
    tflite.ModelAddOperatorCodes(b, code_vec)
    tflite.ModelAddSubgraphs(b, subgraph_vec)
    tflite.ModelAddBuffers(b, buffer_vec)
    tflite.ModelAddDescription(b, description)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
