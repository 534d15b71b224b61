"""Reading a model file without the bytes of its large weights.

A model whose weights are inside the .onnx file (a 340 MB BERT) would be read whole and parsed whole, holding its
weights twice (the file's bytes and the parsed message), though the importer needs only their dims and types.
:func:`lean_model_bytes` maps the file and copies the serialized model except the data of the main graph's
initializers over :data:`SMALL_VALUE` elements (dims, type, name and external-data entries kept), walking the
protobuf wire format of ``ModelProto.graph``, ``GraphProto.initializer`` and ``TensorProto`` only: the weight bytes
are skipped by their length, never read (their pages of the file are never touched).

Anything unexpected (a wire type that does not fit a field, a length past the end, a negative dim) gives None: the
caller then parses the whole file as before, and reports what is wrong with it.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Callable, Iterator

SMALL_VALUE = 4096
"""Initializers up to this many elements keep their data (their values may be shapes, axes, pads) and stay in the
shape-inference copy (:mod:`._shapes`); larger ones are read for their dims and type only, and become typed graph
inputs there. Computed tensors up to this size are evaluated by shape inference's fallback 2."""
MIN_FILE_BYTES = 1 << 20
"""Files below this size are parsed whole: the scan would cost more than the weight bytes it skips. (Above it, the
scan costs about a microsecond per graph field, against hundreds per node for the rest of the import.)"""

_GRAPH = 7
"""``ModelProto.graph``."""
_INITIALIZER = 5
"""``GraphProto.initializer``."""
_DIMS = 1
"""``TensorProto.dims``."""
_DATA = frozenset({4, 5, 6, 7, 9, 10, 11})
"""``TensorProto`` float_data, int32_data, string_data, int64_data, raw_data, double_data and uint64_data."""
_LENGTH_DELIMITED = 2


class _Unexpected(Exception):
    """The bytes are not what the scan expects: the file is parsed whole instead."""


def lean_model_bytes(path: Path, size: int | None = None) -> bytes | None:
    """The serialized model at ``path`` without the data of its large initializers (see the module docstring).

    Parameters
    ----------
    path : Path
        An existing, non-empty ``.onnx`` file.
    size : int or None, optional
        Its size in bytes, when the caller has it (None: read from the file system).

    Returns
    -------
    bytes or None
        A serialized ``ModelProto`` whose initializers over :data:`SMALL_VALUE` elements have no data; None when
        the file is below :data:`MIN_FILE_BYTES`, cannot be mapped, or its wire format is not as expected (parse
        it whole then).

    Raises
    ------
    OSError
        When the file cannot be opened.
    """
    size = path.stat().st_size if size is None else size
    if size < MIN_FILE_BYTES:  # before opening the file: most models are small
        return None
    with path.open("rb") as file:
        try:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file system without memory maps: parse the file whole
            return None
        with data:
            try:
                return b"".join(_lean_message(data, 0, size, _GRAPH, _lean_graph))
            except _Unexpected:
                return None


def _lean_message(data: mmap.mmap, start: int, end: int, field: int,
                  lean: Callable[[mmap.mmap, int, int], bytes | None]) -> Iterator[bytes]:
    """The fields of the message in ``data[start:end]``, each length-delimited ``field`` replaced by what ``lean``
    makes of its contents (None: kept as is); runs of other fields are copied in one piece."""
    run = start
    for number, wire, key, value, stop in _fields(data, start, end):
        if number != field:
            continue
        if wire != _LENGTH_DELIMITED:
            raise _Unexpected
        contents = lean(data, value, stop)
        if contents is None:
            continue
        yield data[run:key]
        yield _varint_bytes(field << 3 | _LENGTH_DELIMITED) + _varint_bytes(len(contents))
        yield contents
        run = stop
    yield data[run:end]


def _lean_graph(data: mmap.mmap, start: int, end: int) -> bytes:
    return b"".join(_lean_message(data, start, end, _INITIALIZER, _lean_tensor))


def _lean_tensor(data: mmap.mmap, start: int, end: int) -> bytes | None:
    """The tensor without its data fields when it holds over :data:`SMALL_VALUE` elements, else None (kept)."""
    elements, has_data = 1, False
    kept: list[tuple[int, int]] = []
    for number, wire, key, value, stop in _fields(data, start, end):
        if number in _DATA:
            has_data = True
            continue
        kept.append((key, stop))
        if number == _DIMS:
            if wire == _LENGTH_DELIMITED:  # packed
                position = value
                while position < stop:
                    dim, position = _varint(data, position, stop)
                    elements *= _dim(dim)
            elif wire == 0:
                elements *= _dim(_varint(data, value, stop)[0])
            else:
                raise _Unexpected
    if not has_data or elements <= SMALL_VALUE:
        return None
    return b"".join(data[key:stop] for key, stop in kept)


def _dim(value: int) -> int:
    if value >= 1 << 63:  # a negative int64: malformed, left to the full parse and its checks
        raise _Unexpected
    return value


def _fields(data: mmap.mmap, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """``(number, wire type, key offset, value offset, end offset)`` of each field in ``data[start:end]``."""
    position = start
    while position < end:
        key, value = _varint(data, position, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            stop = _varint(data, value, end)[1]
        elif wire == 1:
            stop = value + 8
        elif wire == _LENGTH_DELIMITED:
            length, value = _varint(data, value, end)
            stop = value + length
        elif wire == 5:
            stop = value + 4
        else:  # groups (3, 4) are not in the ONNX schema; 6 and 7 do not exist
            raise _Unexpected
        if number == 0 or stop > end:
            raise _Unexpected
        yield number, wire, position, value, stop
        position = stop


def _varint(data: mmap.mmap, position: int, end: int) -> tuple[int, int]:
    """The varint at ``position`` and the offset after it."""
    result = shift = 0
    while True:
        if position >= end or shift > 63:
            raise _Unexpected
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
