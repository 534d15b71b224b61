"""Load measured records from any CSV or Parquet table through a column mapping.

    load_table("runs.csv", columns={"board": "hardware", "model": "network", "ms": "latency_s"},
               units={"latency_s": "ms"}, constants={"framework": "TFLite Micro 2.3.1", "batch": 1})

``columns`` renames the table's columns to record columns (:data:`~rooflinekit.compare.records.RECORD_COLUMNS`);
columns already named like record columns, in any case (``Hardware``), need no entry. ``units`` gives the unit a
numeric column is written in; its values are converted to SI: ``value_si = value * factor`` (for ``m``, ``u``, ``n``,
``p``: ``value / 10^k``, exactly rounded) where ``factor`` is the
unit's size in the base unit (``ms`` -> 1e-3 s, ``uJ`` -> 1e-6 J, ``mW`` -> 1e-3 W, ``kfps`` -> 1e3 frames/s). A
column whose name states another unit than the base one (``latency [ms]``, ``time_us``, ``E (mJ)``) needs its
``units`` entry: without one it is a :class:`RecordError`, not values read in the wrong unit. ``constants`` fills
columns the table lacks. Other columns of the table are not read; ``files`` names them. Each record's ``source`` is
``file:line`` (CSV: the physical line the record starts on, as an editor numbers it, blank lines and newlines inside
quoted cells counted) or ``file row N`` (Parquet, 0-based). A CSV file is streamed: rows are read and validated a
chunk at a time, column by column (:mod:`rooflinekit.compare.record_columns`), so that memory stays within a few
times the file's size; cells that pandas would read as missing (``''``, ``NA``, ``nan``, ...) are missing, numeric
record columns are read as numbers where a cell is a plain number, and a row with more cells than the header is
rejected with its reason.

A CSV file as a spreadsheet exports it is read too: a byte order mark is skipped; cells may be separated by ``;``
or tabs instead of commas (the delimiter the first line that is not blank holds most of); in a ``;`` file a number
may have a decimal comma (``2,5``; thousands separators are not read: ``1.234,5`` is rejected); spaces around header
names are dropped; title lines above the header (one cell filled, then a wider line) are skipped. ``files`` says
which of these applied.
"""

from __future__ import annotations

import csv
import math
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TextIO

import pandas as pd

from rooflinekit._limits import shown
from rooflinekit.display import absent, counted
from rooflinekit.compare.record_columns import FieldCells, FrameworkCells, RecordColumns
from rooflinekit.compare.records import (MEASUREMENT_FIELDS, NO_MEASUREMENT, RECORD_COLUMNS, LoadResult, Record, _dtype,
                                         files_frame, records_frame)
from rooflinekit.errors import AmbiguousUnitError, RecordError, RooflineError, UnitError
from rooflinekit.units import Dimension, parse_quantity

DIMENSIONS: dict[str, Dimension] = {"latency_s": "s", "energy_j": "j", "power_w": "w"}
THROUGHPUT_UNITS = {"fps": 1.0, "kfps": 1e3, "inf/s": 1.0, "inferences/s": 1.0, "frames/s": 1.0, "1/s": 1.0,
                    "/s": 1.0, "hz": 1.0, "khz": 1e3}
"""Units ``units=`` takes for ``throughput_fps`` (compared case-folded): those a cell may also carry."""
BASE_UNITS = {"latency_s": "s", "energy_j": "J", "power_w": "W", "throughput_fps": "frames/s"}
_BRACKETED_UNIT = re.compile(r"[\[(]\s*([^\[\]()]+?)\s*[\])]$")
_LAST_WORD = re.compile(r"(?:^|[_\s])([^_\s]+)$")


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
    except UnitError as exc:  # the same class: an ambiguous unit stays an AmbiguousUnitError
        raise type(exc)(f"unit {shown(unit)} for {column}: {exc}") from None


def stated_unit(header: str, column: str) -> tuple[str, float] | None:
    """The unit a table's ``header`` name states for the record column ``column`` it is read as, and its factor
    (:func:`unit_factor`): in brackets at its end (``'latency [ms]'``, ``'fps (1/s)'``), else its last word
    (``'latency_ms'``, ``'time us'``, ``'ms'``); None when that is no unit of ``column``. A word that is a unit
    of ``column`` read two ways (``'LATENCY_MS'``: milli- or megaseconds) raises the
    :class:`~rooflinekit.errors.AmbiguousUnitError` of :func:`unit_factor`."""
    match = _BRACKETED_UNIT.search(header.strip()) or _LAST_WORD.search(header.strip())
    if column not in BASE_UNITS or match is None:
        return None
    unit = match.group(1)
    try:
        return unit, unit_factor(column, unit)
    except AmbiguousUnitError:
        raise
    except UnitError:
        return None


def check_stated_units(name: str, header: list[str], columns: list[str], factors: Mapping[str, float]) -> None:
    """Refuse a column whose header states a unit other than its record column's SI unit (``'latency [ms]'`` read
    as ``latency_s``) when ``units`` gives none for it: its numbers would be read as seconds (1000 times too long).

    ``header`` holds the table ``name``'s column names, ``columns`` the same after renaming.

    Raises
    ------
    RecordError
        Naming the column, the unit its header states and the ``units=`` / ``--units`` entry to give.
    """
    for source, column in zip(header, columns):
        try:
            stated = None if column in factors else stated_unit(source, column)
        except AmbiguousUnitError as exc:
            raise RecordError(f"{name}: column {source!r} is read as {column} (in {BASE_UNITS[column]}), and its "
                              f"name states a unit that reads two ways ({exc}); give the unit its values are in, "
                              f"e.g. units={{{column!r}: 'ms'}} (--units {column}=ms)") from None
        if stated is not None and stated[1] != 1.0:
            unit = stated[0]
            raise RecordError(f"{name}: column {source!r} is read as {column} (in {BASE_UNITS[column]}), but its "
                              f"name states the unit {unit!r} and no unit is given for {column}, so its values would "
                              f"be read as {BASE_UNITS[column]}; give units={{{column!r}: {unit!r}}} (--units "
                              f"{column}={unit})")


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
_DECIMAL_COMMA = re.compile(r"^([-+]?[0-9]*),([0-9]+)(?![0-9,])")


def _cell(text: str, numeric: bool, decimal_comma: bool = False) -> Any:
    """A CSV cell: None when missing; for a numeric record column an int or float when it is a plain number (text
    with a unit, ``'12 ms'``, is left to the record's validation); else the text as written. With
    ``decimal_comma`` (a ``;``-separated file) a numeric cell's leading number may have a decimal comma and no
    point: ``'2,5'`` -> 2.5, ``'2,5 ms'`` -> ``'2.5 ms'``; other commas are left to validation, which rejects them
    (``'1.234,5'``: no thousands separators are read)."""
    if text.strip() in _NA_TOKENS:
        return None
    if not numeric:
        return text
    token = text.strip()
    if decimal_comma and "." not in token:
        point = _DECIMAL_COMMA.sub(r"\1.\2", token, count=1)
        if point != token:
            text = token = point
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
    repeated name as ``NAME.1``, ...; spaces around a name dropped), ``columns`` the same renamed and ``fields`` the
    record columns it names; ``count`` is the number of data rows read. A byte order mark (Excel's "CSV UTF-8") is
    skipped; ``delimiter`` is the one :func:`_delimiter` finds in the first line that is not blank. Title lines above
    the header (a spreadsheet's merged title cell: one cell filled, naming no record column, then a line with more)
    are left out and kept in ``titles`` as ``(line, text)``.
    """

    def __init__(self, path: Path, rename: Mapping[str, str], refuse: Callable[[int, str], None]) -> None:
        self.path, self.refuse = path, refuse
        self.rename = {name.strip(): target for name, target in rename.items()}
        self.header: list[str] = []
        self.columns: list[str] = []
        self.fields: list[str] = []
        self.count = 0
        self.delimiter = ","
        self.titles: list[tuple[int, str]] = []

    def read_header(self) -> list[str]:
        """Read the header only and return ``header`` (a file without one gives ``[]``)."""
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            for _, fields in self._lines(handle):
                self._header(fields)
                break
        return self.header

    def _lines(self, handle: TextIO) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)`` of the lines of the open file that are not blank, title lines left out; sets
        ``delimiter``."""
        self.delimiter = _delimiter(handle)
        handle.seek(0)  # the byte order mark is skipped again
        return self._without_titles(_filled_lines(csv.reader(handle, delimiter=self.delimiter)))

    def __iter__(self) -> Iterator[tuple[list[int], dict[str, list[str]]]]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            positions: dict[str, int] = {}
            lines: list[int] = []
            rows: list[list[str]] = []
            for start, fields in self._lines(handle):
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

    def _without_titles(self, lines: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
        """``lines`` without the title lines before the header (see the class docstring), which go to ``titles``;
        single-cell lines not followed by a wider one (a one-column table) are all kept."""
        held: list[tuple[int, list[str]]] = []
        for start, fields in lines:
            if len(held) < MAX_TITLE_LINES and self._title_like(fields):
                held.append((start, fields))
                continue
            if held and sum(1 for field in fields if field.strip()) > 1:
                self.titles = [(line, next(field.strip() for field in cells if field.strip())) for line, cells in held]
                held = []
            yield from held
            yield start, fields
            break
        else:
            yield from held
            return
        yield from lines

    def _title_like(self, fields: list[str]) -> bool:
        """One cell filled, and it names no record column (after renaming)."""
        filled = [field.strip() for field in fields if field.strip()]
        return len(filled) == 1 and record_name(filled[0], self.rename) not in RECORD_COLUMNS

    def _header(self, fields: list[str]) -> dict[str, int]:
        """Read the header; return the position of each record column (the last one a repeated name has)."""
        names: list[str] = []
        fields = [field.strip() for field in fields]  # 'latency_s ' as typed beside a comma is 'latency_s'
        for field in fields:
            name, n = field, 0
            while name in names:  # repeated names, as pandas spells them: 'a', 'a.1', ...
                n += 1
                name = f"{field}.{n}"
            names.append(name)
        self.header = names
        self.columns = [record_name(name, self.rename) for name in names]
        record = [c for c in self.columns if c in RECORD_COLUMNS and c != "source"]
        # a record column given twice (a repeated header name, or two columns renamed onto it) is ambiguous
        twice = {c for c in record if record.count(c) > 1} | {
            record_name(field, self.rename) for field, name in zip(fields, names)
            if name != field and name not in self.rename and record_name(field, self.rename) in record}
        if twice:
            raise RecordError(f"{self.path.name}: record column(s) {sorted(twice)} given twice in the header (after "
                              "the columns= / --columns renaming); keep one, or rename the copy (a repeated name's "
                              "copies read as NAME.1, NAME.2, ...)")
        positions = {name: position for position, name in enumerate(self.columns)
                     if name in RECORD_COLUMNS and name != "source"}
        self.fields = list(positions)
        return positions


MAX_TITLE_LINES = 8
"""Most title lines left out above a header."""


_FOLDED = {name.casefold(): name for name in RECORD_COLUMNS}


def record_name(name: str, rename: Mapping[str, str]) -> str:
    """The column a table's column ``name`` is read as: its ``rename`` (``columns=``) entry, else the record column
    it spells in any case (``'Hardware'`` -> ``'hardware'``), else ``name`` itself (a column not read)."""
    return rename[name] if name in rename else _FOLDED.get(name.casefold(), name)


def _filled_lines(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each line of a ``csv.reader`` that has a filled cell, ``line`` the physical line it
    starts on (newlines inside quoted cells counted)."""
    last = 0
    for fields in reader:
        start, last = last + 1, reader.line_num  # type: ignore[attr-defined]  # a csv reader counts lines
        if "".join(fields).strip():  # not a blank line, nor one of blank cells only
            yield start, fields


SNIFFED_LINES, SNIFFED_CHARS = 64, 1 << 16
"""Most lines, and characters of each, read to find the first line that is not blank (the delimiter's sample)."""
DELIMITERS = (",", ";", "\t")


def _delimiter(handle: TextIO) -> str:
    """The cell delimiter of a CSV file from its first line that is not blank (read from ``handle``): ``;``
    (Excel's export where the decimal separator is a comma) or a tab when that line holds more of it than of any
    other of :data:`DELIMITERS`, else ``,``."""
    line = ""
    for _ in range(SNIFFED_LINES):
        line = handle.readline(SNIFFED_CHARS)
        if not line or line.strip():
            break
    counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])  # the first of equals: ','
    return best if counts[best] > counts[","] else ","


def _cells(rows: list[list[str]], positions: Mapping[str, int]) -> dict[str, list[str]]:
    """The cell texts of each column of ``rows``, ``''`` for a cell a short row lacks."""
    return {name: [row[position] if position < len(row) else "" for row in rows]
            for name, position in positions.items()}


_SUBMULTIPLES = {1e-3: 1e3, 1e-6: 1e6, 1e-9: 1e9, 1e-12: 1e12}
"""Each inexact decimal sub-multiple factor (milli, micro, ...: no float holds it exactly) and the exact power of
ten it divides by."""


def _convert(value: Any, factor: float) -> Any:
    """Scale plain numbers; leave blanks, text and numbers beyond float range to the record's validation (which
    reports them). A decimal sub-multiple divides by its exact power of ten, so the result is rounded once
    (181900 us -> 0.1819 s, not 181900 x 1e-6 = 0.18189999999999998)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            if not math.isfinite(value):
                return value
            divisor = _SUBMULTIPLES.get(factor)
            return value / divisor if divisor is not None else value * factor
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
    an unknown format, a mapping onto a non-record column or a column whose name states a unit ``units`` does not
    give, and :class:`UnitError` for an unknown unit."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: {absent(path)}; give the path of a .csv or .parquet table")
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
    table = table.set_axis([record_name(name, columns) for name in header], axis=1)
    missing_units = sorted(set(factors) - set(table.columns))
    if missing_units:
        raise RecordError(f"units given for {missing_units}, which {path.name} does not have after renaming; "
                          f"its columns are {list(table.columns)}")
    check_stated_units(path.name, header, [str(c) for c in table.columns], factors)
    used = [c for c in table.columns if c in RECORD_COLUMNS and c != "source"]
    ignored = [c for c in table.columns if c not in used]
    rows = []
    for index, row in enumerate(table[used].to_dict("records")):
        row = {column: _convert(value, factors[column]) if column in factors else value
               for column, value in row.items()}
        where = f"{path.name}:{index + 2}" if numbering == "line" else f"{path.name} row {index}"
        rows.append({**constants, **row, "source": where})
    note = counted(len(table), "row") + (f"; columns not read: {ignored}" if ignored else "")
    return _checked_mapping(records_frame(rows, files=files_frame([(path.name, "read", note)])), path.name, columns,
                            header)


def table_header(path: str | Path, columns: Mapping[str, str] | None = None) -> list[str]:
    """The column names of a CSV table as :func:`load_table` reads them: byte order mark, delimiter, spaces around
    names and title lines handled, a repeated name as ``NAME.1`` (the column a name is read as is
    ``record_name(name, columns)``). For checks made before loading (the command line's).

    Raises
    ------
    RecordError
        When the header, after renaming by ``columns``, gives a record column twice (as :func:`load_table`).
    OSError, UnicodeDecodeError, csv.Error
        When the file cannot be read as a UTF-8 CSV.
    """
    return _CsvChunks(Path(path), dict(columns or {}), lambda line, reason: None).read_header()


def _numeric_columns() -> frozenset[str]:
    return frozenset(name for name, info in Record.model_fields.items()
                     if _dtype(info.annotation) in ("float64", "int64"))


def _preparer(name: str, factors: Mapping[str, float], decimal_comma: bool = False) -> Callable[[str], Any]:
    """A cell's text -> the value as given to validation: :func:`_cell`, then the column's unit conversion."""
    numeric = name in _numeric_columns()
    if name not in factors:
        return lambda text: _cell(text, numeric, decimal_comma)
    factor = factors[name]
    return lambda text: _convert(_cell(text, numeric, decimal_comma), factor)


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
    note = counted(reader.count, "row") + (f"; columns not read: {ignored}" if ignored else "")
    separated = {";": "';' (decimal commas read)", "\t": "tabs"}.get(reader.delimiter)
    note += f"; cells separated by {separated}" if separated else ""
    if reader.titles:
        note += "; title lines skipped: " + ", ".join(f"{line} {shown(text, 60)}" for line, text in reader.titles)
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
        if source.strip() not in header and all(lacking in reason for reason in reasons):
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
    check_stated_units(path.name, reader.header, reader.columns, factors)
    decimal_comma = reader.delimiter == ";"
    validators = {name: (FrameworkCells if name == "framework" else partial(FieldCells, name))(
        _preparer(name, factors, decimal_comma)) for name in reader.fields}
    return RecordColumns(validators, {k: v for k, v in constants.items() if k not in reader.fields}, path.name)
