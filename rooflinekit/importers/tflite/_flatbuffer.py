"""A bounds-checked reader of flatbuffer tables, for the fields the TFLite importer reads.

The ``tflite`` package's generated readers build several Python objects per field access and check no bounds;
reading a model's tensors and operators through them costs more than everything else the importer does. A
:class:`Table` reads a field with one ``struct.unpack_from`` at a position computed from the table's vtable, and
checks every position and vector length against the buffer first: a malformed file raises :class:`ValueError`
(the caller names the file), never reads out of bounds, and cannot drive a loop longer than the file.

Field slots are the schema's field order: slot ``i`` is at vtable offset ``4 + 2 * i`` (the ``Offset(4)``,
``Offset(6)``... of the generated readers).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any, Callable

import numpy as np

_U16 = struct.Struct("<H").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U32 = struct.Struct("<I").unpack_from
_SCALARS: dict[str, Callable[[bytes, int], tuple[int | float | bool]]] = {
    code: struct.Struct("<" + code).unpack_from for code in ("b", "B", "h", "H", "i", "I", "q", "Q", "?", "f", "d")}
_SIZES = {code: struct.calcsize(code) for code in _SCALARS}


@lru_cache(maxsize=None)
def _vtable_entries(count: int) -> Callable[[bytes, int], tuple[int, ...]]:
    """The reader of ``count`` vtable entries (uint16 field offsets)."""
    return struct.Struct(f"<{count}H").unpack_from


def _check(data: bytes, position: int, size: int) -> None:
    if position < 0 or position + size > len(data):
        raise ValueError(f"offset {position} (+{size} bytes) lies outside the {len(data)}-byte buffer")


class Table:
    """One flatbuffer table of ``data`` at ``position``.

    Parameters
    ----------
    data : bytes
        The whole flatbuffer.
    position : int
        The table's offset in ``data``.

    Raises
    ------
    ValueError
        When the table or its vtable lies outside ``data``.
    """

    __slots__ = ("data", "position", "_offsets")

    def __init__(self, data: bytes, position: int) -> None:
        end = len(data)
        if position < 0 or position + 4 > end:
            raise ValueError(f"table offset {position} lies outside the {end}-byte buffer")
        vtable = position - _I32(data, position)[0]
        if vtable < 0 or vtable + 4 > end:
            raise ValueError(f"vtable offset {vtable} lies outside the {end}-byte buffer")
        size = _U16(data, vtable)[0]
        if vtable + size > end:
            raise ValueError(f"a {size}-byte vtable at offset {vtable} runs past the {end}-byte buffer")
        self.data, self.position = data, position
        count = (size - 4) // 2 if size > 4 else 0
        self._offsets: tuple[int, ...] = _vtable_entries(count)(data, vtable + 4) if count else ()

    @classmethod
    def root(cls, data: bytes) -> Table:
        """The root table (its offset is the buffer's first 4 bytes)."""
        _check(data, 0, 4)
        return cls(data, _U32(data, 0)[0])

    def scalar(self, slot: int, code: str, default: Any = 0) -> Any:
        """The scalar field ``slot`` of ``struct`` type ``code`` (``b``, ``I``, ``Q``, ``?``, ``f``...): an int, a
        bool or a float; ``default`` when absent."""
        offsets = self._offsets  # _field and _check inlined: the importer reads hundreds of scalars per model
        offset = offsets[slot] if slot < len(offsets) else 0
        if not offset:
            return default
        data, position = self.data, self.position + offset  # >= 0: the table's position and the offset are
        if position + _SIZES[code] > len(data):
            _check(data, position, _SIZES[code])  # raises
        return _SCALARS[code](data, position)[0]

    def _indirect(self, slot: int) -> int:
        """Position that the offset stored in field ``slot`` points to, 0 when absent."""
        offsets = self._offsets  # _field and _check inlined, as in scalar
        offset = offsets[slot] if slot < len(offsets) else 0
        if not offset:
            return 0
        data, position = self.data, self.position + offset
        if position + 4 > len(data):
            _check(data, position, 4)  # raises
        return position + _U32(data, position)[0]

    def table(self, slot: int) -> Table | None:
        """The sub-table in field ``slot``, None when absent."""
        position = self._indirect(slot)
        return Table(self.data, position) if position else None

    def vector(self, slot: int, item_size: int) -> tuple[int, int]:
        """``(start, length)`` of the vector in field ``slot`` (``(0, 0)`` when absent), its items inside the
        buffer."""
        offsets = self._offsets
        offset = offsets[slot] if slot < len(offsets) else 0
        if not offset:
            return 0, 0
        data = self.data
        position = self.position + offset  # >= 0: the table's position and the offset are
        size = len(data)
        if position + 4 > size:
            raise ValueError(f"offset {position} (+4 bytes) lies outside the {size}-byte buffer")
        position += _U32(data, position)[0]
        if position + 4 > size:
            raise ValueError(f"offset {position} (+4 bytes) lies outside the {size}-byte buffer")
        length = _U32(data, position)[0]
        if position + 4 + length * item_size > size:
            raise ValueError(f"a vector of {length} items at offset {position} lies outside the {size}-byte buffer")
        return position + 4, length

    def length(self, slot: int) -> int:
        """The stored item count of the vector in field ``slot`` (0 when absent), its items not yet checked (the
        caller checks the count against the file first, to say which count is wrong)."""
        position = self._indirect(slot)
        if not position:
            return 0
        _check(self.data, position, 4)
        return int(_U32(self.data, position)[0])

    def tables(self, slot: int) -> list[Table]:
        """The tables of the vector of tables in field ``slot``."""
        start, length = self.vector(slot, 4)
        data = self.data
        return [Table(data, start + 4 * i + _U32(data, start + 4 * i)[0]) for i in range(length)]

    def ints(self, slot: int) -> tuple[int, ...]:
        """The int32 vector in field ``slot`` as Python ints (``()`` when absent)."""
        start, length = self.vector(slot, 4)
        return struct.unpack_from(f"<{length}i", self.data, start) if length else ()

    def bytes_vector(self, slot: int) -> np.ndarray:
        """The ubyte vector in field ``slot``, a read-only view of the buffer (empty when absent)."""
        start, length = self.vector(slot, 1)
        return np.frombuffer(self.data, np.uint8, count=length, offset=start) if length else np.empty(0, np.uint8)

    def string(self, slot: int) -> bytes:
        """The string in field ``slot`` as bytes (``b""`` when absent)."""
        start, length = self.vector(slot, 1)
        return bytes(self.data[start:start + length]) if length else b""
