"""Load measured records from any CSV or Parquet table through a column mapping.

    load_table("runs.csv", columns={"board": "hardware", "model": "network", "ms": "latency_s"},
               units={"latency_s": "ms"}, constants={"framework": "TFLite Micro 2.3.1", "batch": 1})

``columns`` renames the table's columns to record columns (:data:`~rooflinekit.compare.records.RECORD_COLUMNS`);
columns already named like record columns need no entry. ``units`` gives the unit a numeric column is written in;
its values are converted to SI: ``value_si = value * factor`` where ``factor`` is the unit's size in the base unit
(``ms`` -> 1e-3 s, ``uJ`` -> 1e-6 J, ``mW`` -> 1e-3 W, ``kfps`` -> 1e3 frames/s). ``constants`` fills columns the table
lacks. Other columns of the table are not read; ``files`` names them. Each record's ``source`` is ``file:line``
(CSV: the physical line the record starts on, as an editor numbers it, blank lines and newlines inside quoted
cells counted) or ``file row N`` (Parquet, 0-based). A CSV file is streamed: rows are read and validated a chunk
at a time, column by column (:mod:`rooflinekit.compare.record_columns`), so that memory stays within a few times the
file's size; cells that pandas would read as missing (``''``, ``NA``, ``nan``, ...) are missing, numeric record
columns are read as numbers where a cell is a plain number, and a row with more cells than the header is rejected
with its reason.
"""

from __future__ import annotations

import csv
import math
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pandas as pd

from rooflinekit._limits import shown
from rooflinekit.compare.record_columns import FieldCells, FrameworkCells, RecordColumns
from rooflinekit.compare.records import (MEASUREMENT_FIELDS, NO_MEASUREMENT, RECORD_COLUMNS, LoadResult, Record, _dtype,
                                         files_frame, records_frame)
from rooflinekit.errors import RecordError, RooflineError, UnitError
from rooflinekit.units import Dimension, parse_quantity

DIMENSIONS: dict[str, Dimension] = {"latency_s": "s", "energy_j": "j", "power_w": "w"}
THROUGHPUT_UNITS = {"fps": 1.0, "kfps": 1e3, "inf/s": 1.0, "frames/s": 1.0, "hz": 1.0, "khz": 1e3}


def unit_factor(column: str, unit: str) -> float:
    """Size of ``unit`` in the SI base unit of ``column`` (``latency_s``, ``'ms'`` -> 1e-3)."""
    if column == "throughput_fps":
        factor = THROUGHPUT_UNITS.get(unit.strip().casefold())
        if factor is None:
            raise UnitError(f"unknown unit {shown(unit)} for throughput_fps; use one of {', '.join(THROUGHPUT_UNITS)}")
        return factor
    if column not in DIMENSIONS:
        raise UnitError(f"column {shown(column)} takes no unit; units apply to "
                        f"{', '.join([*DIMENSIONS, 'throughput_fps'])}")
    try:
        return parse_quantity(f"1 {unit.strip()}", DIMENSIONS[column])
    except UnitError as exc:
        raise UnitError(f"unit {shown(unit)} for {column}: {exc}") from None


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path), "line"
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path), "row"
        except ImportError:
            raise RecordError(f"reading {path.name} needs a Parquet engine (pyarrow or fastparquet) and none is "
                              "installed; pip install pyarrow") from None
    raise RecordError(f"{path.name}: unsupported table format {shown(suffix)}; use .csv or .parquet")


_NA_TOKENS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
"""Cells read as missing: pandas' default ``na_values``, so that CSV and DataFrame input mean the same."""
_INTEGER = re.compile(r"[-+]?[0-9]+")


def _cell(text: str, numeric: bool) -> Any:
    """A CSV cell: None when missing; for a numeric record column an int or float when it is a plain number (text
    with a unit, ``'12 ms'``, is left to the record's validation); else the text as written."""
    if text.strip() in _NA_TOKENS:
        return None
    if not numeric:
        return text
    token = text.strip()
    if _INTEGER.fullmatch(token):
        return int(token)
    try:
        return float(token)
    except ValueError:
        return text


CHUNK_ROWS = 8192
"""Rows of a CSV file validated together: the most raw cells held at once."""


class _CsvChunks:
    """The records of a CSV file, read a chunk at a time (the file is never held whole), each with the physical line
    it starts on: blank lines and newlines inside quoted cells are counted, as an editor shows them.

    Iterating yields ``(lines, columns)`` per chunk: the line each row starts on and, per record column the header
    names (after renaming), the cell texts (``''`` where a row is short). A row with more cells than the header is
    not yielded: ``refuse(line, reason)`` is called for it. Once the header is read, ``header`` holds its names (a
    repeated name as ``NAME.1``, ...), ``columns`` the same renamed and ``fields`` the record columns it names;
    ``count`` is the number of data rows read.
    """

    def __init__(self, path: Path, rename: Mapping[str, str], refuse: Callable[[int, str], None]) -> None:
        self.path, self.rename, self.refuse = path, rename, refuse
        self.header: list[str] = []
        self.columns: list[str] = []
        self.fields: list[str] = []
        self.count = 0

    def __iter__(self) -> Iterator[tuple[list[int], dict[str, list[str]]]]:
        with self.path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            positions: dict[str, int] = {}
            lines: list[int] = []
            rows: list[list[str]] = []
            last = 0
            for fields in reader:
                start, last = last + 1, reader.line_num
                if not "".join(fields).strip():
                    continue  # a blank line, or only blank cells
                if not self.columns:
                    positions = self._header(fields)
                    continue
                self.count += 1
                if len(fields) > len(self.columns):
                    self.refuse(start, f"{len(fields) - len(self.columns)} more cells than the header has columns; "
                                       "quote cells that hold commas")
                    continue
                lines.append(start)
                rows.append(fields)
                if len(rows) == CHUNK_ROWS:
                    yield lines, _cells(rows, positions)
                    lines, rows = [], []
            if not self.columns:
                raise ValueError("No columns to parse from file (the file has no header line)")
            if rows:
                yield lines, _cells(rows, positions)

    def _header(self, fields: list[str]) -> dict[str, int]:
        """Read the header; return the position of each record column (the last one a repeated name has)."""
        names: list[str] = []
        for field in fields:
            name, n = field, 0
            while name in names:  # repeated names, as pandas spells them: 'a', 'a.1', ...
                n += 1
                name = f"{field}.{n}"
            names.append(name)
        self.header = names
        self.columns = [self.rename.get(name, name) for name in names]
        record = [c for c in self.columns if c in RECORD_COLUMNS and c != "source"]
        # a record column given twice (a repeated header name, or two columns renamed onto it) is ambiguous
        twice = {c for c in record if record.count(c) > 1} | {
            self.rename.get(field, field) for field, name in zip(fields, names)
            if name != field and name not in self.rename and self.rename.get(field, field) in record}
        if twice:
            raise RecordError(f"{self.path.name}: record column(s) {sorted(twice)} given twice in the header (after "
                              "the columns= / --columns renaming); keep one, or rename the copy (a repeated name's "
                              "copies read as NAME.1, NAME.2, ...)")
        positions = {name: position for position, name in enumerate(self.columns)
                     if name in RECORD_COLUMNS and name != "source"}
        self.fields = list(positions)
        return positions


def _cells(rows: list[list[str]], positions: Mapping[str, int]) -> dict[str, list[str]]:
    """The cell texts of each column of ``rows``, ``''`` for a cell a short row lacks."""
    return {name: [row[position] if position < len(row) else "" for row in rows]
            for name, position in positions.items()}


def _convert(value: Any, factor: float) -> Any:
    """Scale plain numbers; leave blanks, text and numbers beyond float range to the record's validation (which
    reports them)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return value * factor if math.isfinite(value) else value
        except OverflowError:  # an int no float holds: validation refuses it
            return value
    return value


def check_targets(columns: Mapping[str, str], constants: Mapping[str, Any]) -> None:
    """Refuse a ``columns`` target or ``constants`` key that is not a record column, with the close record columns.

    Raises
    ------
    RecordError
        Naming each such name, where it was given (``columns=`` / ``--columns``, ``constants=`` / ``--set``) and
        the record columns it may have meant.
    """
    import difflib

    given = {**{target: "a columns= / --columns target" for target in columns.values()},
             **{key: "a constants= / --set key" for key in constants}}
    wrong = sorted(name for name in given if name not in RECORD_COLUMNS)
    if not wrong:
        return
    said = []
    for name in wrong:
        close = difflib.get_close_matches(name, RECORD_COLUMNS, n=2, cutoff=0.6)
        mean = f", did you mean {' or '.join(map(repr, close))}?" if close else ""
        said.append(f"{name!r} is {given[name]}{mean}")
    raise RecordError(f"{wrong} are not record columns; map onto {', '.join(RECORD_COLUMNS)} ({'; '.join(said)})")


def load_table(path: str | Path, columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
               constants: Mapping[str, Any] | None = None) -> LoadResult:
    """Records from a CSV or Parquet file; see the module docstring. Raises :class:`RecordError` for a missing file,
    an unknown format or a mapping onto a non-record column, and :class:`UnitError` for an unknown unit."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path} does not exist; give the path of a .csv or .parquet table")
    columns, units, constants = dict(columns or {}), dict(units or {}), dict(constants or {})
    check_targets(columns, constants)
    factors = {column: unit_factor(column, unit) for column, unit in units.items()}
    if path.suffix.lower() == ".csv":
        return _load_csv(path, columns, factors, constants)
    try:
        table, numbering = _read(path)
    except RecordError:
        raise
    except (OSError, ValueError) as exc:  # malformed content: list the file as unreadable
        return records_frame([], files=files_frame([(path.name, "unreadable", f"cannot read the table: {exc}")]))
    header = [str(c) for c in table.columns]
    table = table.rename(columns=columns)
    missing_units = sorted(set(factors) - set(table.columns))
    if missing_units:
        raise RecordError(f"units given for {missing_units}, which {path.name} does not have after renaming; "
                          f"its columns are {list(table.columns)}")
    used = [c for c in table.columns if c in RECORD_COLUMNS and c != "source"]
    ignored = [c for c in table.columns if c not in used]
    rows = []
    for index, row in enumerate(table[used].to_dict("records")):
        row = {column: _convert(value, factors[column]) if column in factors else value
               for column, value in row.items()}
        where = f"{path.name}:{index + 2}" if numbering == "line" else f"{path.name} row {index}"
        rows.append({**constants, **row, "source": where})
    note = f"{len(table)} rows" + (f"; columns not read: {ignored}" if ignored else "")
    return _checked_mapping(records_frame(rows, files=files_frame([(path.name, "read", note)])), path.name, columns,
                            header)


def _numeric_columns() -> frozenset[str]:
    return frozenset(name for name, info in Record.model_fields.items()
                     if _dtype(info.annotation) in ("float64", "int64"))


def _preparer(name: str, factors: Mapping[str, float]) -> Callable[[str], Any]:
    """A cell's text -> the value as given to validation: :func:`_cell`, then the column's unit conversion."""
    numeric = name in _numeric_columns()
    if name not in factors:
        return lambda text: _cell(text, numeric)
    factor = factors[name]
    return lambda text: _convert(_cell(text, numeric), factor)


def _load_csv(path: Path, columns: Mapping[str, str], factors: Mapping[str, float],
              constants: Mapping[str, Any]) -> LoadResult:
    """:func:`load_table` on a CSV file, streamed: rows are read and validated a chunk at a time
    (:class:`~rooflinekit.compare.record_columns.RecordColumns`), each ``source`` the exact ``file:line`` the record
    starts on."""
    refused: list[tuple[int, str]] = []
    reader = _CsvChunks(path, columns, lambda line, reason: refused.append((line, reason)))
    gathered: RecordColumns | None = None
    try:
        for lines, cells in reader:
            gathered = gathered or _gatherer(path, reader, factors, constants)
            gathered.add(lines, cells)
    except (OSError, ValueError, csv.Error) as exc:
        if isinstance(exc, RooflineError):
            raise
        return records_frame([], files=files_frame([(path.name, "unreadable",
                                                     f"cannot read the table: {str(exc)[:200]}")]))
    if gathered is None:  # a header and no rows to validate
        gathered = _gatherer(path, reader, factors, constants)
    for line, reason in refused:
        gathered.refuse(line, reason)
    ignored = [c for c in reader.columns if c not in reader.fields]
    note = f"{reader.count} rows" + (f"; columns not read: {ignored}" if ignored else "")
    return _checked_mapping(gathered.result(files_frame([(path.name, "read", note)])), path.name, columns,
                            reader.header)


def _checked_mapping(result: LoadResult, name: str, columns: Mapping[str, str], header: list[str]) -> LoadResult:
    """``result``, unless a ``columns`` entry names a column the table ``name`` (header ``header``) lacks and every
    row was rejected for want of the record column it maps onto: then the mapping, not the rows, is wrong.

    A table that lacks a mapped column and whose rows do without it (an optional column, or the record column
    given by the table itself or a constant) is returned as it is: one mapping may serve several tables.

    Raises
    ------
    RecordError
        Naming the mapping entry, the table's columns and the fix.
    """
    if len(result.records) or not len(result.rejected):
        return result
    reasons = [str(reason) for reason in result.rejected["reason"]]
    for source, target in columns.items():
        lacking = f"record: {NO_MEASUREMENT}" if target in MEASUREMENT_FIELDS else f"{target}: Field required"
        if source not in header and all(lacking in reason for reason in reasons):
            raise RecordError(f"{name}: columns= / --columns maps {source!r} onto {target!r}, but the table has no "
                              f"column {source!r}, so every row lacks {target} ({len(reasons)} rejected); its "
                              f"columns are {header}; map the one that holds {target} (its_column={target}) or "
                              "correct the name")
    return result


def _gatherer(path: Path, reader: _CsvChunks, factors: Mapping[str, float],
              constants: Mapping[str, Any]) -> RecordColumns:
    """The validator of the table's rows, once its header is read; :class:`RecordError` when ``units`` name a
    column the header lacks. A column of the table overrides a constant of the same name."""
    missing_units = sorted(set(factors) - set(reader.columns))
    if missing_units:
        raise RecordError(f"units given for {missing_units}, which {path.name} does not have after renaming; its "
                          f"columns are {reader.columns}")
    validators = {name: (FrameworkCells if name == "framework" else partial(FieldCells, name))(_preparer(name, factors))
                  for name in reader.fields}
    return RecordColumns(validators, {k: v for k, v in constants.items() if k not in reader.fields}, path.name)
