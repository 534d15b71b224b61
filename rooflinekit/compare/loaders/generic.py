"""Load measured records from any CSV or Parquet table through a column mapping.

    load_table("runs.csv", columns={"board": "hardware", "model": "network", "ms": "latency_s"},
               units={"latency_s": "ms"}, constants={"framework": "TFLite Micro 2.3.1", "batch": 1})

``columns`` renames the table's columns to record columns (:data:`~rooflinekit.compare.records.RECORD_COLUMNS`);
columns already named like record columns need no entry. ``units`` gives the unit a numeric column is written in;
its values are converted to SI: ``value_si = value * factor`` where ``factor`` is the unit's size in the base unit
(``ms`` -> 1e-3 s, ``uJ`` -> 1e-6 J, ``mW`` -> 1e-3 W, ``kfps`` -> 1e3 frames/s). ``constants`` fills columns the table
lacks. Other columns of the table are not read; ``files`` names them. Each record's ``source`` is ``file:line``
(CSV, header on line 1) or ``file row N`` (Parquet, 0-based).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rooflinekit.compare.records import RECORD_COLUMNS, LoadResult, files_frame, records_frame
from rooflinekit.errors import RecordError, UnitError
from rooflinekit.units import Dimension, parse_quantity

DIMENSIONS: dict[str, Dimension] = {"latency_s": "s", "energy_j": "j", "power_w": "w"}
THROUGHPUT_UNITS = {"fps": 1.0, "kfps": 1e3, "inf/s": 1.0, "frames/s": 1.0, "hz": 1.0, "khz": 1e3}


def unit_factor(column: str, unit: str) -> float:
    """Size of ``unit`` in the SI base unit of ``column`` (``latency_s``, ``'ms'`` -> 1e-3)."""
    if column == "throughput_fps":
        factor = THROUGHPUT_UNITS.get(unit.strip().casefold())
        if factor is None:
            raise UnitError(f"unknown unit {unit!r} for throughput_fps; use one of {', '.join(THROUGHPUT_UNITS)}")
        return factor
    if column not in DIMENSIONS:
        raise UnitError(f"column {column!r} takes no unit; units apply to {', '.join([*DIMENSIONS, 'throughput_fps'])}")
    try:
        return parse_quantity(f"1 {unit.strip()}", DIMENSIONS[column])
    except UnitError as exc:
        raise UnitError(f"unit {unit!r} for {column}: {exc}") from None


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
    raise RecordError(f"{path.name}: unsupported table format {suffix!r}; use .csv or .parquet")


def _convert(value: Any, factor: float) -> Any:
    """Scale plain numbers; leave blanks and text to the record's validation (which reports them)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value * factor
    return value


def load_table(path: str | Path, columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
               constants: Mapping[str, Any] | None = None) -> LoadResult:
    """Records from a CSV or Parquet file; see the module docstring. Raises :class:`RecordError` for a missing file,
    an unknown format or a mapping onto a non-record column, and :class:`UnitError` for an unknown unit."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path} does not exist; give the path of a .csv or .parquet table")
    columns, units, constants = dict(columns or {}), dict(units or {}), dict(constants or {})
    wrong = sorted(c for c in [*columns.values(), *constants] if c not in RECORD_COLUMNS)
    if wrong:
        raise RecordError(f"{wrong} are not record columns; map onto {', '.join(RECORD_COLUMNS)}")
    factors = {column: unit_factor(column, unit) for column, unit in units.items()}
    try:
        table, numbering = _read(path)
    except RecordError:
        raise
    except (OSError, ValueError) as exc:  # malformed content: list the file as unreadable
        return records_frame([], files=files_frame([(path.name, "unreadable", f"cannot read the table: {exc}")]))
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
    return records_frame(rows, files=files_frame([(path.name, "read", note)]))
