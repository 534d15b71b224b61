"""Capacity notes formatted only when read: the numbers of each note are kept as arrays, the text is made on demand.

A prediction's ``notes`` say in words which weights were streamed from a spill level and which memory level
cannot hold what it must, with the sizes (:mod:`rooflinekit.roofline.capacity`). A sweep of small devices has
such a note on most rows, and formatting a few numbers per row costs far more than the roofline itself, so:

- :class:`CapacityNotes` holds the notes of the B columns (batch sizes or grid points) of one residency as
  numeric arrays, one entry per note, and formats the notes of the columns asked for (:meth:`~CapacityNotes.lines`);
- :class:`NotesArray` is the ``notes`` column of a sweep table: a pandas extension array whose row ``i`` is
  ``sources[source[i]].lines([column[i]])[0]``, ``()`` where ``source[i] == EMPTY`` and missing (None) where
  ``source[i] == MISSING`` (a row that was not predicted). Reading a row, iterating, ``tolist()``,
  ``astype(object)`` or ``to_numpy()`` give tuples of ``str``, the same text an eager build gave; selecting,
  taking and concatenating keep it lazy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, Type

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray, ExtensionDtype, register_extension_dtype, take

EMPTY = -1
"""Source code of a row without notes."""
MISSING = -2
"""Source code of a row that was not predicted (its notes are missing)."""

_PREFIXES = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
SPILL, MISFIT = 0, 1


def size_texts(nbytes: np.ndarray) -> list[str]:
    """Each of ``nbytes`` (N,) in bytes with a decimal prefix, ``25.6 MB``: divided by the largest prefix (T, G, M,
    k) its magnitude reaches, to three significant digits (the prefixes chosen with numpy, one format per value)."""
    magnitude = np.abs(nbytes)
    conditions = [magnitude >= scale for _, scale in _PREFIXES]
    scale = np.select(conditions, [s for _, s in _PREFIXES], 1.0)
    prefix = np.select(conditions, [p for p, _ in _PREFIXES], "").tolist()
    return [f"{value:.3g} {p}B" for value, p in zip((nbytes / scale).tolist(), prefix)]


class NoteSource(Protocol):
    """Something that gives the notes of some of its columns."""

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        """The notes of each of ``columns`` (N,) int, in that order."""


@dataclass(frozen=True, eq=False)
class FixedNotes:
    """Notes already made: ``notes[c]`` is column ``c``'s (a tuple of str)."""

    notes: tuple[tuple[str, ...], ...]

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        return [self.notes[c] for c in columns.tolist()]


@dataclass(frozen=True, eq=False)
class CapacityNotes:
    """The capacity notes of B columns, one entry per note (M,), in the order they read within a column.

    ``kind`` is :data:`SPILL` (``weights {held} exceed the {capacity} of {level} left for them: {weights}
    streamed from {target} every batch``, with ``held`` the weights placed in the level) or :data:`MISFIT`
    (``does not fit: {level} must hold {held} ({weights} + {activations} + {state}, each only when > 0, at batch
    {batch}) but has {capacity}``); numbers in bytes, ``level`` and ``target`` index ``names``.
    """

    names: tuple[str, ...]
    column: np.ndarray  # (M,) int64, nondecreasing
    kind: np.ndarray  # (M,) int8
    level: np.ndarray  # (M,) int64
    target: np.ndarray  # (M,) int64, spill notes only
    held: np.ndarray  # (M,) float64
    capacity: np.ndarray  # (M,)
    weights: np.ndarray  # (M,)
    activations: np.ndarray  # (M,)
    state: np.ndarray  # (M,)
    batch: np.ndarray  # (M,) int64

    @classmethod
    def concat(cls, names: tuple[str, ...], parts: Sequence[dict[str, np.ndarray]]) -> "CapacityNotes":
        """Notes from ``parts`` (each a dict of the fields' arrays), ordered by column, then part, then entry."""
        fields = ("column", "kind", "level", "target", "held", "capacity", "weights", "activations", "state", "batch")
        joined = {f: np.concatenate([p[f] for p in parts]) if parts else np.zeros(0) for f in fields}
        if len(parts) == 1 and bool((np.diff(joined["column"]) >= 0).all()):  # in order already
            return cls(names, **joined)
        order = np.argsort(joined["column"], kind="stable")
        return cls(names, **{f: joined[f][order] for f in fields})

    def any(self) -> bool:
        """True when some column has a note."""
        return len(self.column) > 0

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        wanted = np.unique(columns)
        pick = np.flatnonzero(np.isin(self.column, wanted))
        texts = self._texts(pick)
        per_column: dict[int, list[str]] = {}
        for c, text in zip(self.column[pick].tolist(), texts):
            per_column.setdefault(c, []).append(text)
        made = {c: tuple(lines) for c, lines in per_column.items()}
        return [made.get(c, ()) for c in columns.tolist()]

    def _texts(self, pick: np.ndarray) -> list[str]:
        """The text of the notes ``pick`` (indices of entries), numbers formatted in one pass per field."""
        shown = {f: size_texts(getattr(self, f)[pick]) for f in ("held", "capacity", "weights", "activations",
                                                                   "state")}
        present = {f: (getattr(self, f)[pick] > 0).tolist() for f in ("weights", "activations", "state")}
        names, out = self.names, []
        for k, (kind, level, target, batch) in enumerate(zip(
                self.kind[pick].tolist(), self.level[pick].tolist(), self.target[pick].tolist(),
                self.batch[pick].tolist())):
            if kind == SPILL:
                out.append(f"weights {shown['held'][k]} exceed the {shown['capacity'][k]} of {names[level]} left for "
                           f"them: {shown['weights'][k]} streamed from {names[target]} every batch")
            else:
                parts = " + ".join(f"{role} {shown[role][k]}" for role in ("weights", "activations", "state")
                                   if present[role][k])
                out.append(f"does not fit: {names[level]} must hold {shown['held'][k]} ({parts} at batch {batch}) "
                           f"but has {shown['capacity'][k]}")
        return out


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


class NotesArray(ExtensionArray):
    """A sweep's ``notes`` column, formatted on demand (see the module docstring)."""

    def __init__(self, sources: Sequence[NoteSource], source: np.ndarray, column: np.ndarray) -> None:
        self.sources, self.source, self.column = tuple(sources), np.asarray(source, np.int32), np.asarray(column)

    @classmethod
    def of(cls, notes: CapacityNotes, columns: np.ndarray) -> "NotesArray":
        """Rows reading columns ``columns`` (N,) of ``notes``."""
        columns = np.asarray(columns, dtype=np.int64)
        if not notes.any():
            return cls((), np.full(len(columns), EMPTY, dtype=np.int32), np.zeros(len(columns), dtype=np.int64))
        return cls((notes,), np.zeros(len(columns), dtype=np.int32), columns)

    @classmethod
    def filled(cls, n: int, value: tuple[str, ...] | None) -> "NotesArray":
        """``n`` rows of one value (``()``, a tuple of notes, or None)."""
        if value is None or value == ():
            return cls((), np.full(n, MISSING if value is None else EMPTY, dtype=np.int32), np.zeros(n, np.int64))
        return cls((FixedNotes((value,)),), np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int64))

    # -- the ExtensionArray interface
    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False) -> "NotesArray":
        values = [None if v is None else tuple(v) for v in scalars]
        source = np.array([MISSING if v is None else (EMPTY if v == () else 0) for v in values], dtype=np.int32)
        return cls((FixedNotes(tuple(() if v is None else v for v in values)),), source, np.arange(len(values)))

    @classmethod
    def _from_factorized(cls, values: Any, original: "NotesArray") -> "NotesArray":
        return cls._from_sequence(values)

    @property
    def dtype(self) -> NotesDtype:
        return NotesDtype()

    @property
    def nbytes(self) -> int:
        return int(self.source.nbytes + self.column.nbytes)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, (int, np.integer)):
            return self._objects(np.array([int(item)]))[0]
        if isinstance(item, tuple) and len(item) == 1:
            item = item[0]
        if not isinstance(item, slice):
            item = pd.api.indexers.check_array_indexer(self, item)
        return NotesArray(self.sources, self.source[item], self.column[item])

    def __iter__(self) -> Any:
        return iter(self._objects())

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set rows to a tuple of notes (or None), or to one per row; the new notes become a source of their own."""
        rows = np.atleast_1d(np.arange(len(self))[pd.api.indexers.check_array_indexer(self, key)
                                                  if not isinstance(key, (int, np.integer, slice)) else key])
        one = value is None or isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        new = NotesArray._from_sequence([value] * len(rows) if one else list(value))
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
        sources: list[NoteSource] = []
        codes, columns = [], []
        for part in to_concat:
            codes.append(np.where(part.source >= 0, part.source + len(sources), part.source))
            columns.append(part.column)
            sources.extend(part.sources)
        return cls(sources, np.concatenate(codes) if codes else np.zeros(0, np.int32),
                   np.concatenate(columns) if columns else np.zeros(0, np.int64))

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
        other_values = other._objects() if isinstance(other, NotesArray) else other
        out = np.empty(len(values), dtype=bool)
        for i, (a, b) in enumerate(zip(values, other_values)):
            out[i] = a == b
        return out

    def _objects(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(N,) object array of the rows ``rows`` (all by default): a tuple of str each, None where missing."""
        source = self.source if rows is None else self.source[rows]
        column = self.column if rows is None else self.column[rows]
        out = np.empty(len(source), dtype=object)
        out.fill(())
        out[source == MISSING] = None
        for code in np.unique(source[source >= 0]).tolist():
            where = np.flatnonzero(source == code)
            made = self.sources[code].lines(column[where])
            for i, lines in zip(where.tolist(), made):
                out[i] = lines
        return out
