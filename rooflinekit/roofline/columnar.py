"""Sweep tables assembled as columns: preallocated numpy arrays and categorical codes, no per-row Python objects.

A :class:`TableBuilder` receives blocks of rows (one network at one precision on one hardware, or on a chunk of a
hardware grid, for every batch size) and writes them into preallocated columns; :meth:`TableBuilder.frame` wraps
the filled part in a DataFrame without copying. Text columns (``network``, ``hardware``, ``precision``,
``mode``, ``traffic``, ``bound``, ``estimate``, ``status``) are categoricals whose categories are shared by every
builder of one sweep (:class:`Categories`), so the chunks of a streaming sweep concatenate into the same table.
``fits`` is a nullable boolean (missing where the row was not predicted); ``engines`` and ``engine_batches``
hold tuples (None where not predicted); ``notes`` is a :class:`~rooflinekit.roofline.notes.NotesArray`, two int32
codes per row (which note source, which of its columns), whose tuples are formatted only when read (the blocks
give theirs as :class:`~rooflinekit.roofline.notes.NoteRows`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from rooflinekit.roofline._notes_array import NotesArray
from rooflinekit.roofline.notes import EMPTY, NoteRows, NoteSource

try:  # pandas 3.0 on (not in pandas-stubs)
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks  # type: ignore[import-not-found]
except ImportError:  # pandas before 3.0
    _from_blocks = None

CATEGORICAL_COLUMNS = ("network", "hardware", "precision", "mode", "traffic", "bound", "estimate", "status")
OBJECT_COLUMNS = ("engines", "engine_batches")
INT_COLUMNS = ("batch",)
BOOL_COLUMNS = ("fits",)


class Categories:
    """The categories of each categorical column of one sweep, in order of first appearance."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[Hashable, int]] = {c: {} for c in CATEGORICAL_COLUMNS}

    def code(self, column: str, value: Hashable) -> int:
        """The code of ``value`` in ``column`` (a new category gets the next code)."""
        table = self.codes[column]
        code = table.get(value)
        if code is None:
            code = table[value] = len(table)
        return code

    def encode(self, column: str, values: np.ndarray) -> np.ndarray:
        """(N,) int32 codes of ``values`` (N,) in ``column``; -1 for None."""
        inverse, uniques = pd.factorize(values, use_na_sentinel=True)
        mapping = np.array([self.code(column, u) for u in uniques] + [-1], dtype=np.int32)
        out: np.ndarray = mapping[inverse]
        return out

    def dtype(self, column: str) -> pd.CategoricalDtype:
        """The categorical dtype of ``column``'s categories so far, in code order; remembered while they are few
        (:data:`REMEMBERED_CATEGORIES`: the names, labels and messages of most columns, and the networks of a
        small sweep), since building one (an Index of strings, its uniqueness checked) costs more than wrapping a
        column's codes in it."""
        labels = tuple(self.codes[column])
        return _categorical_dtype(labels) if len(labels) <= REMEMBERED_CATEGORIES else _made_dtype(labels)


REMEMBERED_CATEGORIES = 256
"""The most categories a remembered categorical dtype holds (at most 256 such dtypes are kept)."""


def _made_dtype(labels: tuple[Hashable, ...]) -> pd.CategoricalDtype:
    """The unordered categorical dtype of the categories ``labels``, in that order."""
    return pd.CategoricalDtype(pd.Index(list(labels)))


_categorical_dtype = lru_cache(maxsize=256)(_made_dtype)


@lru_cache(maxsize=64)
def _column_index(columns: tuple[str, ...]) -> pd.Index:
    """The column labels ``columns`` as an Index (a sweep's are few: made once, each table given a copy)."""
    return pd.Index(list(columns))


class TableBuilder:
    """Preallocated columns for up to ``capacity`` rows of the columns ``columns`` (see the module docstring).

    Memory per row: categorical codes take the narrowest integer their categories need (widened as categories
    appear, as pandas stores them, so :meth:`frame` copies none); the ``sparse`` columns (grid axes: NaN outside
    their grid's rows) keep only their non-NaN values, and become pandas ``Sparse[float64, nan]`` columns; the
    notes' codes are allocated only once a row has a note or is missing (else ``notes`` is a view of one code).
    The numeric and object columns of one numpy type are the rows of one 2-D array (``typed``), so that
    :meth:`frame` gives pandas one block per type rather than one per column.
    """

    def __init__(self, capacity: int, columns: Sequence[str], categories: Categories,
                 sparse: Sequence[str] = ()) -> None:
        self.capacity, self.columns, self.categories, self.n = capacity, list(columns), categories, 0
        self.data: dict[str, np.ndarray] = {}
        self.note_sources: list[NoteSource] = []
        # sparse column -> (rows, values) segments not yet in ``built``; rows a slice or an index array
        self.sparse: dict[str, list[tuple[slice | np.ndarray, np.ndarray]]] = {name: [] for name in sparse}
        self.built: dict[str, pd.arrays.SparseArray] = {}
        by_type: dict[str, list[str]] = {}  # numpy type name -> its columns
        for name in self.columns:
            if name in self.sparse or name == "notes":
                continue
            if name in CATEGORICAL_COLUMNS:
                self.data[name] = np.empty(capacity, dtype=_code_dtype(len(categories.codes[name])))
            elif name in BOOL_COLUMNS:
                self.data[name] = np.empty(capacity, dtype=bool)
                self.data[name + "/missing"] = np.empty(capacity, dtype=bool)
            else:
                kind = ("object" if name in OBJECT_COLUMNS
                        else "int64" if name in INT_COLUMNS or name == "grid_point" else "float64")
                by_type.setdefault(kind, []).append(name)
        # numpy type -> (its columns, their values as the rows of one array)
        self.typed: list[tuple[list[str], np.ndarray]] = []
        for kind, names in by_type.items():
            values = np.empty((len(names), capacity), dtype=kind)
            self.typed.append((names, values))
            self.data.update(zip(names, values))

    def room(self) -> int:
        """Rows still free."""
        return self.capacity - self.n

    def add(self, n: int, constants: Mapping[str, Hashable], arrays: Mapping[str, np.ndarray | NoteRows],
            coded: Mapping[str, tuple[np.ndarray, Sequence[Hashable]]] | None = None) -> None:
        """Append ``n`` rows: ``constants`` repeat one value, ``arrays`` give one per row, ``coded`` gives a
        categorical column as ``(codes, labels)`` (row i is ``labels[codes[i]]``, missing where ``codes[i]`` is
        -1); every column of the table must be in one of them, except ``fits``'s missing mask (set from whether
        ``fits`` is None, or given per row as the array ``fits/missing``)."""
        rows = slice(self.n, self.n + n)
        for name, (codes, labels) in (coded or {}).items():
            mapping = np.array([*(self.categories.code(name, label) for label in labels), -1], dtype=np.int32)
            self._codes(name)[rows] = mapping[codes]
        for name, value in constants.items():
            if name == "notes":
                self._add_notes(rows, NoteRows.filled(n, value))  # type: ignore[arg-type]
                continue
            if name in self.sparse:
                if value is not None and value == value:
                    self.sparse[name].append((rows, np.full(n, value, np.float64)))
                continue
            if name in CATEGORICAL_COLUMNS:
                code = -1 if value is None else self.categories.code(name, value)
                self._codes(name)[rows] = code
                continue
            column = self.data[name]
            if name in BOOL_COLUMNS:
                column[rows] = bool(value) if value is not None else False
                self.data[name + "/missing"][rows] = value is None
            elif name in OBJECT_COLUMNS:
                cell = np.empty(1, dtype=object)
                cell[0] = value
                column[rows] = cell
            else:
                column[rows] = np.nan if value is None else value
        for name, values in arrays.items():
            if name == "notes":
                self._add_notes(rows, values if isinstance(values, NoteRows) else NoteRows.from_values(values))
                continue
            if name in self.sparse:
                values = np.asarray(values, dtype=np.float64)
                present = ~np.isnan(values)
                if present.all():
                    self.sparse[name].append((rows, values))
                elif present.any():
                    self.sparse[name].append((np.flatnonzero(present) + rows.start, values[present]))
                continue
            if name in CATEGORICAL_COLUMNS:
                codes = self.categories.encode(name, np.asarray(values))
                self._codes(name)[rows] = codes
                continue
            if name.endswith("/missing"):
                continue
            column = self.data[name]
            if name in BOOL_COLUMNS:
                column[rows] = values
                self.data[name + "/missing"][rows] = arrays.get(name + "/missing", False)
            else:
                column[rows] = values
        self.n += n

    def _codes(self, name: str) -> np.ndarray:
        """The code array of categorical ``name``, widened first when its categories outgrew its integer type."""
        column = self.data[name]
        wanted = _code_dtype(len(self.categories.codes[name]))
        if np.dtype(wanted).itemsize > column.dtype.itemsize:
            column = self.data[name] = column.astype(wanted)
        return column

    def _add_notes(self, rows: slice, notes: NoteRows) -> None:
        """Write ``notes`` into ``rows``, its sources appended to this builder's. The rows' columns are stored only
        once a row reads another column than 0 (a sweep whose rows carry fixed notes needs only their sources:
        four bytes a row, not eight)."""
        if "notes/source" not in self.data:
            if (notes.source == EMPTY).all():
                return
            self.data["notes/source"] = np.full(self.capacity, EMPTY, dtype=np.int32)
        self.data["notes/source"][rows] = np.where(notes.source >= 0, notes.source + len(self.note_sources),
                                                   notes.source)
        if "notes/column" not in self.data and np.any(notes.column):
            self.data["notes/column"] = np.zeros(self.capacity, dtype=np.int32)
        if "notes/column" in self.data:
            self.data["notes/column"][rows] = notes.column
        self.note_sources.extend(notes.sources)

    def frame(self, first_row: int = 0) -> pd.DataFrame:
        """The rows added so far as a DataFrame (index ``first_row ..``), sharing this builder's arrays."""
        n = self.n
        out: dict[str, object] = {}
        for name in self.columns:
            if name == "notes":
                if "notes/source" in self.data:
                    column = self.data["notes/column"][:n] if "notes/column" in self.data else \
                        np.broadcast_to(np.int32(0), (n,))  # every row reads its source's column 0
                    out[name] = NotesArray(self.note_sources, self.data["notes/source"][:n], column)
                else:  # no row has a note: one code viewed n times
                    out[name] = NotesArray((), np.broadcast_to(np.int32(EMPTY), (n,)),
                                           np.broadcast_to(np.int32(0), (n,)))
                continue
            if name in self.sparse:
                out[name] = self._sparse(name, n)
                continue
            values = self.data[name][:n]
            if name in CATEGORICAL_COLUMNS:
                # codes made here are valid (-1 or a category's): not checked again
                out[name] = pd.Categorical.from_codes(values, dtype=self.categories.dtype(name), validate=False)
            elif name in BOOL_COLUMNS:
                out[name] = pd.arrays.BooleanArray(values, self.data[name + "/missing"][:n])
            else:
                out[name] = values
        index = pd.RangeIndex(first_row, first_row + n)
        if _from_blocks is None:  # pandas before 3.0
            return pd.DataFrame(out, index=index, copy=False)
        # the blocks as they are (the columns are of their final types already): without the DataFrame
        # constructor's checks and inference, the numeric and object columns one block per type
        position = {name: i for i, name in enumerate(self.columns)}
        blocks: list[tuple[Any, np.ndarray]] = [
            (values[:, :n], np.array([position[name] for name in names])) for names, values in self.typed]
        blocks.extend((values, np.array([position[name]])) for name, values in out.items()
                      if not isinstance(values, np.ndarray))
        frame: pd.DataFrame = _from_blocks(blocks, index=index, columns=_column_index(tuple(self.columns)).copy())
        return frame

    def _sparse(self, name: str, n: int) -> pd.arrays.SparseArray:
        """Sparse column ``name`` over the first ``n`` rows (NaN where no value was given), built from its
        segments (then dropped) without a dense copy where pandas has ``SparseArray.from_indices`` (3.0 on)."""
        built = self.built.get(name)
        if built is not None and len(built) == n and not self.sparse[name]:
            return built
        segments = self.sparse[name]
        if built is not None:
            segments = [(np.flatnonzero(~np.isnan(built.to_numpy(dtype=np.float64))), built.sp_values), *segments]
        self.sparse[name] = []
        from_indices = getattr(pd.arrays.SparseArray, "from_indices", None)
        if from_indices is None:  # pandas before 3.0: through one dense column
            dense = np.full(n, np.nan)
            for where, values in segments:
                dense[where] = values
            array = pd.arrays.SparseArray(dense, fill_value=np.nan)
        else:
            indices = [np.arange(r.start, r.stop, dtype=np.int32) if isinstance(r, slice) else r for r, _ in segments]
            array = from_indices(np.concatenate([v for _, v in segments]) if segments else np.zeros(0),
                                 np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32), n,
                                 fill_value=np.nan)
        self.built[name] = array
        return array


CODE_DTYPES: tuple[tuple[type[np.signedinteger[Any]], int], ...] = tuple(
    (dtype, int(np.iinfo(dtype).max)) for dtype in (np.int8, np.int16, np.int32))
"""The integer types pandas stores categorical codes in, narrowest first, with their largest value."""


def _code_dtype(n_categories: int) -> type[np.signedinteger[Any]]:
    """The integer type pandas stores the codes of ``n_categories`` categories in (-1 for missing)."""
    for dtype, largest in CODE_DTYPES:
        if n_categories < largest:
            return dtype
    return np.int64
