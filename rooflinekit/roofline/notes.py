"""Capacity notes formatted only when read: the numbers of each note are kept as arrays, the text is made on demand.

A prediction's ``notes`` say in words which weights were streamed from a spill level and which memory level
cannot hold what it must, with the sizes (:mod:`rooflinekit.roofline.capacity`). A sweep of small devices has
such a note on most rows, and formatting a few numbers per row costs far more than the roofline itself, so:

- :class:`CapacityNotes` holds the notes of the B columns (batch sizes or grid points) of one residency as
  numeric arrays, one entry per note, and formats the notes of the columns asked for (:meth:`~CapacityNotes.lines`);
- :class:`MisfitNotes` holds the misfits of a stacked evaluation (many networks x batch sizes) as the arrays its
  residency has (which levels are over, and each network's sizes per level) and makes the entries of the columns
  asked for only then; :class:`JoinedNotes` reads several sources' notes of the same columns one after the other;
- :class:`NoteRows` holds rows of notes: row ``i`` is ``sources[source[i]].lines([column[i]])[0]``, ``()`` where
  ``source[i] == EMPTY`` and missing (None) where ``source[i] == MISSING`` (a row that was not predicted). Reading a
  row, iterating or ``tolist()`` give tuples of ``str``, the same text an eager build gave; selecting, taking and
  concatenating keep it lazy. Predictions and the blocks of a sweep carry their notes so, without pandas;
- :class:`NotesArray` is the ``notes`` column of a sweep table: the same rows as a pandas extension array
  (``astype(object)`` and ``to_numpy()`` give the tuples too), defined in :mod:`rooflinekit.roofline._notes_array`
  and imported from there on first use, so that a prediction does not import pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol, Self, Sequence, overload

import numpy as np

if TYPE_CHECKING:  # the names __getattr__ (below) gives
    from rooflinekit.roofline._notes_array import NotesArray, NotesDtype

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
        if len(parts) == 1:  # one part: its arrays as they are, in column order
            part = parts[0]
            column = part["column"]
            if len(column) < 2 or bool((column[1:] >= column[:-1]).all()):
                return cls(names, **{f: part[f] for f in fields})
        joined = {f: np.concatenate([p[f] for p in parts]) if parts else np.zeros(0) for f in fields}
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


@dataclass(frozen=True, eq=False)
class MisfitNotes:
    """The misfit notes of S networks x B batch sizes, made only for the columns read: column ``s * B + i`` has a
    note for each level ``l`` where ``over[s, l, i]``, in level order, saying what :class:`CapacityNotes` says of a
    misfit (``level`` indexes ``names``): the level must hold ``weights + batch * per_frame`` (computed as
    residency computed it), of which activations and state are per frame, times the batch. A sweep whose devices
    are too small has such notes on most rows: kept as the arrays residency has anyway (one byte per network, level
    and batch size), nothing is made per note until the notes are read."""

    names: tuple[str, ...]
    over: np.ndarray  # (S, L, B) bool: the level cannot hold what it must
    capacity: np.ndarray  # (S, L) bytes
    weights: np.ndarray  # (S, L, B) bytes (a broadcast view when the same at every batch size)
    activations: np.ndarray  # (S, L) bytes per frame
    state: np.ndarray  # (S, L) bytes per frame
    per_frame: np.ndarray  # (S, L) bytes per frame besides weights (activations + state)
    level: np.ndarray  # (S, L) int: each level's index into ``names``
    batch: np.ndarray  # (B,) float64 frames per batch

    def any(self) -> bool:
        """True when some column has a note."""
        return bool(self.over.any())

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        wanted = np.unique(columns)
        s_of, i_of = np.divmod(wanted, self.over.shape[2])
        which, level = np.nonzero(self.over[s_of, :, i_of])  # (W, L): by column, then level
        s_of, i_of = s_of[which], i_of[which]
        frames, weights = self.batch[i_of], self.weights[s_of, level, i_of]
        notes = CapacityNotes(self.names, wanted[which], np.full(len(which), MISFIT, dtype=np.int8),
                              self.level[s_of, level], np.full(len(which), -1),  # no target: spill notes only
                              weights + frames * self.per_frame[s_of, level], self.capacity[s_of, level], weights,
                              frames * self.activations[s_of, level], frames * self.state[s_of, level],
                              frames.astype(np.int64))
        return notes.lines(columns)


@dataclass(frozen=True, eq=False)
class JoinedNotes:
    """The notes of the same columns from several sources: each column's from the first source, then the next."""

    sources: tuple[NoteSource, ...]

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        made = [source.lines(columns) for source in self.sources]
        return [tuple(line for lines in row for line in lines) for row in zip(*made)]


class NoteRows:
    """Rows of notes formatted when read (see the module docstring): the notes of predictions, without pandas."""

    def __init__(self, sources: Sequence[NoteSource], source: np.ndarray, column: np.ndarray) -> None:
        self.sources, self.source, self.column = tuple(sources), np.asarray(source, np.int32), np.asarray(column)

    @classmethod
    def of(cls, notes: CapacityNotes, columns: np.ndarray) -> Self:
        """Rows reading columns ``columns`` (N,) of ``notes``."""
        columns = np.asarray(columns, dtype=np.int64)
        if not notes.any():
            return cls((), np.full(len(columns), EMPTY, dtype=np.int32), np.zeros(len(columns), dtype=np.int64))
        return cls((notes,), np.zeros(len(columns), dtype=np.int32), columns)

    @classmethod
    def filled(cls, n: int, value: tuple[str, ...] | None) -> Self:
        """``n`` rows of one value (``()``, a tuple of notes, or None)."""
        if value is None or value == ():
            return cls((), np.full(n, MISSING if value is None else EMPTY, dtype=np.int32), np.zeros(n, np.int64))
        return cls((FixedNotes((value,)),), np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int64))

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> Self:
        """Rows holding ``values``, each a sequence of notes (``str``, kept as a tuple) or None (a missing row)."""
        notes = [None if v is None else tuple(v) for v in values]
        source = np.array([MISSING if v is None else (EMPTY if v == () else 0) for v in notes], dtype=np.int32)
        return cls((FixedNotes(tuple(() if v is None else v for v in notes)),), source, np.arange(len(notes)))

    @classmethod
    def concat(cls, parts: Sequence[NoteRows]) -> Self:
        """The rows of ``parts``, one after the other."""
        sources: list[NoteSource] = []
        codes, columns = [], []
        for part in parts:
            codes.append(np.where(part.source >= 0, part.source + len(sources), part.source))
            columns.append(part.column)
            sources.extend(part.sources)
        return cls(sources, np.concatenate(codes) if codes else np.zeros(0, np.int32),
                   np.concatenate(columns) if columns else np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.source)

    @overload
    def __getitem__(self, item: int | np.integer[Any]) -> tuple[str, ...] | None: ...

    @overload
    def __getitem__(self, item: slice | np.ndarray) -> Self: ...

    def __getitem__(self, item: int | np.integer[Any] | slice | np.ndarray) -> tuple[str, ...] | None | Self:
        """Row ``item`` (an int), or the rows a slice, an integer array or a boolean mask selects."""
        if isinstance(item, (int, np.integer)):
            row: tuple[str, ...] | None = self._objects(np.array([int(item)]))[0]
            return row
        return type(self)(self.sources, self.source[item], self.column[item])

    def __iter__(self) -> Iterator[tuple[str, ...] | None]:
        return iter(self._objects())

    def take(self, indices: Sequence[int] | np.ndarray) -> Self:
        """The rows at positions ``indices`` (negative ones counted from the end)."""
        return type(self)(self.sources, self.source[indices], self.column[indices])

    def tolist(self) -> list[Any]:
        """Every row: a tuple of ``str`` each, None where missing."""
        rows: list[Any] = self._objects().tolist()
        return rows

    def _objects(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(N,) object array of the rows ``rows`` (all by default): a tuple of str each, None where missing."""
        source = self.source if rows is None else self.source[rows]
        column = self.column if rows is None else self.column[rows]
        out = np.empty(len(source), dtype=object)
        out.fill(())
        out[source == MISSING] = None
        # codes present, ascending (``np.bincount``, not ``np.unique``, which imports numpy.ma: 25 ms of a CLI run)
        for code in np.flatnonzero(np.bincount(source[source >= 0])).tolist():
            where = np.flatnonzero(source == code)
            made = self.sources[code].lines(column[where])
            for i, lines in zip(where.tolist(), made):
                out[i] = lines
        return out


def __getattr__(name: str) -> Any:
    """:class:`NotesArray` and :class:`NotesDtype`, imported on first use (with pandas)."""
    if name in ("NotesArray", "NotesDtype"):
        from rooflinekit.roofline import _notes_array

        return getattr(_notes_array, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
