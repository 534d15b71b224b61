"""Validate :class:`~rooflinekit.compare.records.Record` rows column by column, chunk by chunk.

This is the memory-light path of :func:`~rooflinekit.compare.loaders.load_table`: a table of a million rows is
never held as a million dicts. A chunk gives the cells of a few thousand rows as one list per column. Each field's
validator (the pydantic annotation :class:`Record` declares) runs once per distinct cell text of its column (a
column naming a few boards costs a few validations, whatever the row count); the rules of the model as a whole
(framework family and version, at least one measurement) are applied per row from those results. Valid rows are kept
as typed column arrays; a text value is one ``str`` shared by the cells that spell it alike (for the
:data:`CACHE_LIMIT` texts a column remembers). A source is kept as its line number and rendered ``file:line``
only when the frame is built. Rejected rows keep their cells as given, with a reason.

The result is the :class:`~rooflinekit.compare.records.LoadResult` that
:func:`~rooflinekit.compare.records.records_frame` gives for the same rows: the same records, dtypes, reasons and
duplicate handling.
"""

from __future__ import annotations

import array
from typing import Annotated, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from rooflinekit.compare.records import (MEASUREMENT_FIELDS, NO_MEASUREMENT, RECORD_COLUMNS, REMEMBERED_CHARS,
                                         LoadResult, Record, _dtype, is_missing, normalize_framework, rejected_frame,
                                         release_keys, split_duplicates, validation_reason)

CACHE_LIMIT = 4096
"""Most distinct cell texts whose validation one column remembers (each of at most
:data:`~rooflinekit.compare.records.REMEMBERED_CHARS`); beyond it (ids, measurements) each new text is validated
afresh, so the memory a column's cache takes stays bounded."""

Checked = tuple[Any, Any, "str | None"]
"""A cell as given (read and unit-converted), its validated value, and the reason it is invalid (None when valid)."""

ABSENT = object()
"""The 'as given' value of a field the row does not have (neither a column nor a constant)."""

CHUNK = 8192
"""Rows rendered at once when the sources are written out."""

_FIELDS = [name for name in RECORD_COLUMNS if name != "source"]
_TYPECODES = {"float64": "d", "int64": "q"}
_DTYPES = {name: _dtype(Record.model_fields[name].annotation) for name in _FIELDS}


class FieldCells:
    """The validator of one :class:`Record` field, applied to a column of cell texts and remembered per distinct text.

    Parameters
    ----------
    name : str
        The field (a record column other than ``source``).
    prepare : Callable[[str], Any]
        Turns a cell's text into the value as given (missing cells to None, plain numbers to numbers, unit
        conversion).
    """

    def __init__(self, name: str, prepare: Callable[[str], Any]) -> None:
        info = Record.model_fields[name]
        self.name, self.prepare = name, prepare
        self._adapter: TypeAdapter[list[Any]] = TypeAdapter(list[Annotated[(info.annotation, *info.metadata)]])
        self._seen: dict[str, Checked] = {}

    def check(self, value: Any) -> Checked:
        """``value`` (as given) validated by the field's annotation, the reason prefixed with the field's name."""
        return self.check_all([value])[0]

    def check_all(self, values: list[Any]) -> list[Checked]:
        """Each of ``values`` (as given) validated: one call into pydantic for the list, and one more for the valid
        ones when some are invalid (pydantic returns no values when any fails)."""
        try:
            return list(zip(values, self._adapter.validate_python(values), [None] * len(values)))
        except ValidationError as exc:
            errors: dict[int, list[ErrorDetails]] = {}
            for error in exc.errors():
                errors.setdefault(int(error["loc"][0]), []).append(error)
        good = [index for index in range(len(values)) if index not in errors]
        validated = dict(zip(good, self._adapter.validate_python([values[index] for index in good])))
        return [(value, validated.get(index), validation_reason(errors[index], self.name) if index in errors else None)
                for index, value in enumerate(values)]

    def column(self, texts: Sequence[str]) -> list[Checked]:
        """The :data:`Checked` cell of each text; texts not seen before are prepared and validated together."""
        found = [self._seen.get(text) for text in texts]
        new = list(dict.fromkeys(text for text, cell in zip(texts, found) if cell is None))
        if not new:
            return found  # type: ignore[return-value]  # no None left
        fresh = dict(zip(new, self.check_all([self.prepare(text) for text in new])))
        for text in new[:max(CACHE_LIMIT - len(self._seen), 0)]:
            if len(text) <= REMEMBERED_CHARS:
                self._seen[text] = fresh[text]
        return [fresh[text] if cell is None else cell for text, cell in zip(texts, found)]


class FrameworkCells(FieldCells):
    """The ``framework`` field: the validated value is ``(family, version)`` from
    :func:`~rooflinekit.compare.records.normalize_framework`, as :class:`Record`'s model validator derives them; the
    version fills ``framework_version`` where a row leaves it missing."""

    def __init__(self, prepare: Callable[[str], Any]) -> None:
        super().__init__("framework", prepare)
        self._version = FieldCells("framework_version", prepare)

    def check_all(self, values: list[Any]) -> list[Checked]:
        return [self._family_version(value) for value in values]

    def _family_version(self, value: Any) -> Checked:
        if is_missing(value):
            return value, (None, None), None
        family, version = normalize_framework(str(value))
        _, family, error = super().check_all([family])[0]
        return value, (family, self._version.check(version)[1]), error


class RecordColumns:
    """Valid records and rejected rows of one table, gathered chunk by chunk.

    Parameters
    ----------
    cells : Mapping[str, FieldCells]
        The validator of each field the table has a column for (``framework`` a :class:`FrameworkCells`).
    constants : Mapping[str, Any]
        Values of the fields the table lacks, the same for every row (as ``load_table``'s ``constants``).
    file_name : str
        The table's name; a source is ``'file_name:line'``.
    """

    def __init__(self, cells: Mapping[str, FieldCells], constants: Mapping[str, Any], file_name: str) -> None:
        self.cells = dict(cells)
        self.file_name = " ".join(file_name.split())  # as the ``source`` field's validation writes it
        self._fixed = {name: self._constant(name, constants) for name in _FIELDS if name not in self.cells}
        self._valid = {name: _Column(_DTYPES[name]) for name in _FIELDS} | {"source": _Column("int64")}
        self._key_hashes = array.array("q")  # hash of each valid record's key: duplicates share one
        self._rejected: dict[str, list[Any]] = {name: [] for name in [*RECORD_COLUMNS, "reason"]}
        self._late: list[dict[str, Any]] = []

    def _constant(self, name: str, constants: Mapping[str, Any]) -> Checked:
        """The :data:`Checked` cell of a field the table has no column for: a constant, the default, or missing."""
        if name in constants:
            validator = FrameworkCells(str) if name == "framework" else FieldCells(name, str)
            return validator.check(constants[name])
        default = Record.model_fields[name].get_default()
        if Record.model_fields[name].is_required():
            return ABSENT, None, f"{name}: Field required"
        return ABSENT, (default, None) if name == "framework" else default, None

    def add(self, lines: Sequence[int], columns: Mapping[str, Sequence[str]]) -> None:
        """Validate one chunk: the rows starting on ``lines``, the cell texts of each field in ``columns``."""
        checked = {name: self.cells[name].column(columns[name]) for name in self.cells}
        values = {name: self._values(name, checked, len(lines)) for name in _FIELDS}
        reasons = self._reasons(len(lines), checked, values)
        keep = [row for row, reason in enumerate(reasons) if reason is None]
        kept = {name: [values[name][row] for row in keep] for name in _FIELDS}
        for name in _FIELDS:
            self._valid[name].extend(kept[name])
        self._valid["source"].extend([lines[row] for row in keep])
        keys = {**kept, "framework_version": release_keys(kept["framework_version"])}  # 8.1 = 8.1.0: one release
        self._key_hashes.extend(map(hash, zip(*(keys[name] for name in Record.KEY_FIELDS))))
        for row, reason in enumerate(reasons):
            if reason is not None:
                for name in _FIELDS:
                    given = (checked[name][row] if name in checked else self._fixed[name])[0]
                    self._rejected[name].append(None if given is ABSENT else given)
                self._rejected["source"].append(f"{self.file_name}:{lines[row]}")
                self._rejected["reason"].append(reason)

    def refuse(self, line: int, reason: str) -> None:
        """Reject the row starting on ``line`` before validation (e.g. more cells than the header has columns)."""
        self._late.append({"source": f"{self.file_name}:{line}", "reason": reason})

    def _values(self, name: str, checked: Mapping[str, list[Checked]], rows: int) -> list[Any]:
        """The validated values of a field over a chunk, as :class:`Record` stores them."""
        if name == "framework":
            return [family for family, _ in self._column(name, checked, rows, 1)]
        if name == "framework_version":  # the version the framework's name states, where the row gives none
            given, versions = self._column(name, checked, rows, 0), self._column(name, checked, rows, 1)
            derived = [version for _, version in self._column("framework", checked, rows, 1)]
            return [derived[row] if is_missing_given(given[row]) else versions[row] for row in range(rows)]
        return self._column(name, checked, rows, 1)

    def _column(self, name: str, checked: Mapping[str, list[Checked]], rows: int, part: int) -> list[Any]:
        """Part ``part`` of each row's :data:`Checked` cell of field ``name`` (0: as given, 1: validated)."""
        return [cell[part] for cell in checked[name]] if name in checked else [self._fixed[name][part]] * rows

    def _reasons(self, rows: int, checked: Mapping[str, list[Checked]],
                 values: Mapping[str, list[Any]]) -> list[str | None]:
        """Each row's reason to be rejected (None to keep it): the fields' errors in field order, else a missing
        measurement."""
        errors: list[list[str]] = [[] for _ in range(rows)]
        for name in _FIELDS:
            if name in checked:
                for row, (_, _, error) in enumerate(checked[name]):
                    if error:
                        errors[row].append(error)
            elif self._fixed[name][2]:
                for row_errors in errors:
                    row_errors.append(self._fixed[name][2])
        measured = [any(values[name][row] is not None for name in MEASUREMENT_FIELDS) for row in range(rows)]
        return [("; ".join(found) if found else None) if found or measured[row] else f"record: {NO_MEASUREMENT}"
                for row, found in enumerate(errors)]

    def result(self, files: pd.DataFrame) -> LoadResult:
        """The records (duplicates handled as :func:`~rooflinekit.compare.records.records_frame` does), the rejected
        rows (validation, then duplicates, then rows refused before validation) and ``files``. Called once, last:
        the chunks are released column by column as the frame is built."""
        columns = {name: self._valid.pop(name).array() for name in [*_FIELDS, "source"]}
        duplicates = self._duplicates(columns)
        records = pd.DataFrame({name: _series(columns.pop(name) if name != "source" else self._sources(columns),
                                              _DTYPES.get(name)) for name in RECORD_COLUMNS}, copy=False)
        rejected = pd.DataFrame(self._rejected, columns=[*RECORD_COLUMNS, "reason"], dtype=object)
        extra = rejected_frame(duplicates + self._late)
        if len(extra):
            rejected = pd.concat([rejected, extra], ignore_index=True) if len(rejected) else extra
        return LoadResult(records, rejected, files)

    def _sources(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The ``file:line`` sources, rendered from the line numbers (which leave ``columns``)."""
        lines = columns.pop("source")
        prefix = f"{self.file_name}:"
        sources = np.empty(len(lines), dtype=object)
        for start in range(0, len(lines), CHUNK):  # a chunk of lines as Python ints at a time
            sources[start:start + CHUNK] = [prefix + str(line) for line in lines[start:start + CHUNK].tolist()]
        return sources

    def _duplicates(self, columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """Drop duplicate records from ``columns`` (in place) and return them as rejected rows with their reason.

        Records whose key hashes alike are the candidates (the version hashed as its release,
        :func:`~rooflinekit.compare.records.release_keys`; equal keys hash alike, a collision only adds a candidate);
        :func:`~rooflinekit.compare.records.split_duplicates` compares their keys and values exactly."""
        candidates = _repeated(self._key_hashes)
        self._key_hashes = array.array("q")
        if not len(candidates):
            return []
        rows = self._rows(columns, candidates)
        kept, rejected = split_duplicates(rows, Record)
        drop = np.delete(candidates, kept)
        for name in list(columns):
            columns[name] = np.delete(columns[name], drop)
        return rejected

    def _rows(self, columns: Mapping[str, np.ndarray], indices: np.ndarray) -> list[dict[str, Any]]:
        """Records ``indices`` as the dicts :meth:`Record.model_dump` gives (a missing number None), for the
        duplicate check; read a column at a time (``tolist`` gives Python values, not one numpy scalar per cell)."""
        picked = {name: [None if value != value else value for value in columns[name][indices].tolist()]  # NaN
                  if _DTYPES[name] == "float64" else columns[name][indices].tolist() for name in _FIELDS}
        sources = [f"{self.file_name}:{line}" for line in columns["source"][indices].tolist()]
        return [{**{name: picked[name][row] for name in _FIELDS}, "source": source}
                for row, source in enumerate(sources)]


class _Column:
    """The valid values of one column, grown chunk by chunk without copying what is already kept: numbers in an
    :class:`array.array` (which grows in place and which numpy views at the end), text in a list.

    Parameters
    ----------
    dtype : str or None
        ``'float64'`` or ``'int64'``; None for text.
    """

    def __init__(self, dtype: str | None) -> None:
        self.dtype = dtype
        self._numbers = array.array(_TYPECODES[dtype]) if dtype else None
        self._texts: list[Any] = []

    def extend(self, values: list[Any]) -> None:
        """Append a chunk's values (a missing number is None, stored as NaN)."""
        if self._numbers is None:
            self._texts.extend(values)
        else:
            self._numbers.frombytes(np.asarray(values, dtype=self.dtype).tobytes())

    def array(self) -> np.ndarray:
        """The values as one array: a view of the numbers (no copy), or the text as object dtype."""
        if self._numbers is None:
            texts, self._texts = self._texts, []
            column = np.empty(len(texts), dtype=object)
            column[:] = texts
            return column
        return np.frombuffer(self._numbers, dtype=self.dtype) if len(self._numbers) else np.array([], self.dtype)


def _repeated(hashes: array.array) -> np.ndarray:
    """Positions of the values that occur more than once in ``hashes`` (sorted, in a few arrays of its length)."""
    values = np.frombuffer(hashes, dtype=np.int64) if len(hashes) else np.zeros(0, np.int64)
    order = np.argsort(values, kind="stable")
    same = values[order[1:]] == values[order[:-1]]
    repeated = np.zeros(len(values), dtype=bool)
    repeated[order[1:][same]] = True
    repeated[order[:-1][same]] = True
    return np.flatnonzero(repeated)


def is_missing_given(value: Any) -> bool:
    """Whether a value as given counts as missing (a field the row lacks does)."""
    return value is ABSENT or is_missing(value)


def _series(values: np.ndarray, dtype: str | None) -> pd.Series:
    """A column without copying; text (``dtype`` None) as object dtype, str or None (``text_column``'s contract)."""
    return pd.Series(values, dtype=dtype or object, copy=False)

