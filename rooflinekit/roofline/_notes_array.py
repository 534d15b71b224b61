"""The ``notes`` column of a sweep table: :class:`~rooflinekit.roofline.notes.NoteRows` as a pandas extension array.

Kept apart from :mod:`rooflinekit.roofline.notes` because it needs pandas, which a prediction does not import:
``rooflinekit.roofline.notes.NotesArray`` imports this module on first use.
"""

from __future__ import annotations

from typing import Any, Sequence, Type

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray, ExtensionDtype, register_extension_dtype, take

from rooflinekit._limits import shown
from rooflinekit.roofline.notes import EMPTY, MISSING, NoteRows


@register_extension_dtype
class NotesDtype(ExtensionDtype):
    """The dtype of a :class:`NotesArray` (each value a tuple of ``str``, or None)."""

    name = "rooflinekit.notes"
    type = tuple
    kind = "O"
    na_value = None

    @classmethod
    def construct_array_type(cls) -> Type["NotesArray"]:
        return NotesArray


class NotesArray(NoteRows, ExtensionArray):
    """A sweep's ``notes`` column, formatted on demand (see :mod:`rooflinekit.roofline.notes`): reading a row,
    iterating, ``tolist()``, ``astype(object)`` or ``to_numpy()`` give tuples of ``str`` (None where missing)."""

    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False) -> "NotesArray":
        """Rows of ``scalars``, each a tuple (or list) of ``str`` or None; a TypeError for anything else (a ``str``
        is not read as its characters), so pandas keeps values that are not notes (``Series.map`` results) as
        objects."""
        values = list(scalars)
        for value in values:
            if value is not None and (isinstance(value, str) or not isinstance(value, (tuple, list))
                                      or not all(isinstance(line, str) for line in value)):
                raise TypeError(f"a notes row is a tuple of str or None, got {shown(value)}")
        return cls.from_values(values)

    @classmethod
    def _from_factorized(cls, values: Any, original: "NotesArray") -> "NotesArray":
        return cls.from_values(values)

    @property
    def dtype(self) -> NotesDtype:
        return NotesDtype()

    @property
    def nbytes(self) -> int:
        return int(self.source.nbytes + self.column.nbytes)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, tuple) and len(item) == 1:
            item = item[0]
        if not isinstance(item, (int, np.integer, slice)):
            item = pd.api.indexers.check_array_indexer(self, item)
        return super().__getitem__(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set rows to a tuple of notes (or None), or to one per row; the new notes become a source of their own."""
        rows = np.atleast_1d(np.arange(len(self))[pd.api.indexers.check_array_indexer(self, key)
                                                  if not isinstance(key, (int, np.integer, slice)) else key])
        one = value is None or isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        new = NoteRows.from_values([value] * len(rows) if one else list(value))
        if len(new) != len(rows):
            raise ValueError(f"cannot set {len(rows)} rows of notes from {len(new)} values")
        self.source, self.column = np.array(self.source), np.array(self.column)  # writable, this array's own
        self.source[rows] = np.where(new.source >= 0, new.source + len(self.sources), new.source)
        self.column[rows] = new.column
        self.sources = (*self.sources, *new.sources)

    def isna(self) -> np.ndarray:
        missing: np.ndarray = self.source == MISSING
        return missing

    def take(self, indices: Any, *, allow_fill: bool = False, fill_value: Any = None) -> "NotesArray":
        if allow_fill and fill_value not in (None, ()):
            raise ValueError("NotesArray.take fills with None or () only")
        fill = EMPTY if fill_value == () else MISSING
        source = np.asarray(take(self.source, indices, allow_fill=allow_fill, fill_value=fill))
        column = np.asarray(take(self.column, indices, allow_fill=allow_fill, fill_value=0))
        return NotesArray(self.sources, source, column)

    def copy(self) -> "NotesArray":
        return NotesArray(self.sources, self.source.copy(), self.column.copy())

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence["NotesArray"]) -> "NotesArray":
        return cls.concat(to_concat)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._objects()

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        if isinstance(dtype, NotesDtype) or dtype == NotesDtype.name:
            return self.copy() if copy else self
        if pd.api.types.is_object_dtype(dtype):
            return self._objects()
        return super().astype(dtype, copy=copy)

    def _values_for_factorize(self) -> tuple[np.ndarray, Any]:
        return self._objects(), None

    def __eq__(self, other: Any) -> Any:
        values = self._objects()
        other_values = other._objects() if isinstance(other, NoteRows) else other
        out = np.empty(len(values), dtype=bool)
        for i, (a, b) in enumerate(zip(values, other_values)):
            out[i] = a == b
        return out
