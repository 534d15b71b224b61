"""Sweep tables assembled as columns: preallocated numpy arrays and categorical codes, no per-row Python objects.

A :class:`TableBuilder` receives blocks of rows (one network at one precision on one hardware, or on a chunk of a
hardware grid, for every batch size) and writes them into preallocated columns; :meth:`TableBuilder.frame` wraps
the filled part in a DataFrame without copying. Text columns (``network``, ``hardware``, ``precision``,
``mode``, ``traffic``, ``bound``, ``estimate``, ``status``) are categoricals whose categories are shared by every
builder of one sweep (:class:`Categories`), so the chunks of a streaming sweep concatenate into the same table.
``fits`` is a nullable boolean (missing where the row was not predicted); ``engines``, ``engine_batches`` and
``notes`` hold tuples (None where not predicted).
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

CATEGORICAL_COLUMNS = ("network", "hardware", "precision", "mode", "traffic", "bound", "estimate", "status")
OBJECT_COLUMNS = ("engines", "engine_batches", "notes")
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

    def categories(self, column: str) -> pd.Index:
        """The categories of ``column`` so far, as an Index in code order."""
        return pd.Index(list(self.codes[column]))


class TableBuilder:
    """Preallocated columns for up to ``capacity`` rows of the columns ``columns`` (see the module docstring)."""

    def __init__(self, capacity: int, columns: Sequence[str], categories: Categories) -> None:
        self.capacity, self.columns, self.categories, self.n = capacity, list(columns), categories, 0
        self.data: dict[str, np.ndarray] = {}
        for name in self.columns:
            if name in CATEGORICAL_COLUMNS:
                self.data[name] = np.empty(capacity, dtype=np.int32)
            elif name in OBJECT_COLUMNS:
                self.data[name] = np.empty(capacity, dtype=object)
            elif name in INT_COLUMNS or name == "grid_point":
                self.data[name] = np.empty(capacity, dtype=np.int64)
            elif name in BOOL_COLUMNS:
                self.data[name] = np.empty(capacity, dtype=bool)
                self.data[name + "/missing"] = np.empty(capacity, dtype=bool)
            else:
                self.data[name] = np.empty(capacity, dtype=np.float64)

    def room(self) -> int:
        """Rows still free."""
        return self.capacity - self.n

    def add(self, n: int, constants: Mapping[str, Hashable], arrays: Mapping[str, np.ndarray],
            coded: Mapping[str, tuple[np.ndarray, Sequence[Hashable]]] | None = None) -> None:
        """Append ``n`` rows: ``constants`` repeat one value, ``arrays`` give one per row, ``coded`` gives a
        categorical column as ``(codes, labels)`` (row i is ``labels[codes[i]]``); every column of the table must
        be in one of them, except ``fits``'s missing mask (set from whether ``fits`` is None)."""
        rows = slice(self.n, self.n + n)
        for name, (codes, labels) in (coded or {}).items():
            mapping = np.array([self.categories.code(name, label) for label in labels], dtype=np.int32)
            self.data[name][rows] = mapping[codes]
        for name, value in constants.items():
            column = self.data[name]
            if name in CATEGORICAL_COLUMNS:
                column[rows] = -1 if value is None else self.categories.code(name, value)
            elif name in BOOL_COLUMNS:
                column[rows] = bool(value) if value is not None else False
                self.data[name + "/missing"][rows] = value is None
            elif name in OBJECT_COLUMNS:
                cell = np.empty(1, dtype=object)
                cell[0] = value
                column[rows] = cell
            else:
                column[rows] = np.nan if value is None else value
        for name, values in arrays.items():
            column = self.data[name]
            if name in CATEGORICAL_COLUMNS:
                column[rows] = self.categories.encode(name, values)
            elif name in BOOL_COLUMNS:
                column[rows] = values
                self.data[name + "/missing"][rows] = False
            else:
                column[rows] = values
        self.n += n

    def frame(self, first_row: int = 0) -> pd.DataFrame:
        """The rows added so far as a DataFrame (index ``first_row ..``), sharing this builder's arrays."""
        n = self.n
        out: dict[str, object] = {}
        for name in self.columns:
            values = self.data[name][:n]
            if name in CATEGORICAL_COLUMNS:
                out[name] = pd.Categorical.from_codes(values, categories=self.categories.categories(name))
            elif name in BOOL_COLUMNS:
                out[name] = pd.arrays.BooleanArray(values, self.data[name + "/missing"][:n])
            else:
                out[name] = values
        return pd.DataFrame(out, index=pd.RangeIndex(first_row, first_row + n), copy=False)
