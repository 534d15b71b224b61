"""Helpers shared by the loaders of derived CSV tables (MLPerf Inference, NeuSight, Vidur, NAS-Bench-201).

Each of those folders holds one CSV (possibly gzipped) with a README; a loader reads every row as text, turns each
into a record or a rejection with a reason, and resolves hardware names against the catalog
(:func:`catalog_name`), so that every accepted record names a catalog spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from rooflinekit.catalog import HardwareCatalog, hardware_catalog
from rooflinekit.compare.records import LoadResult, Record, files_frame, records_frame
from rooflinekit.errors import RecordError, UnknownNameError


def locate_table(path: str | Path, default_name: str, what: str) -> Path:
    """The table file: ``path`` itself, or ``path/default_name`` when ``path`` is a folder.

    Raises :class:`RecordError` when neither exists.
    """
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    if not path.is_file():
        raise RecordError(f"{path} does not exist; point at the {what} folder or its {default_name}")
    return path


RowRecords = Callable[[dict[str, Any], str, "HardwareCatalog | None"], Iterable[tuple[dict[str, Any], "str | None"]]]
"""A row of a table (as text), its ``file:line`` source and the catalog -> (record, reason) pairs, reason None for
a record kept."""


def load_rows(path: str | Path, default_name: str, what: str, required: Iterable[str], records_of: RowRecords,
              model: type[Record], catalog: HardwareCatalog | None) -> LoadResult:
    """Read one table (:func:`locate_table`, :func:`read_text_table`) and turn every row into records or
    rejections with their reason (``records_of``), validated as ``model``; nothing is dropped."""
    file = locate_table(path, default_name, what)
    table = read_text_table(file, required)
    rows, refused = [], []
    for index, row in enumerate(table.to_dict("records")):
        for record, reason in records_of(row, line_source(file, index), catalog):
            (refused if reason else rows).append({**record, "reason": reason} if reason else record)
    return records_frame(rows, model=model, files=files_frame([(str(file), "read", "")]), rejected=refused)


def read_text_table(path: Path, required: Iterable[str]) -> pd.DataFrame:
    """Every cell of a CSV (``.csv`` or ``.csv.gz``) as text, blanks as ``''``; the first line is the header.

    Raises :class:`RecordError` when the file cannot be parsed or lacks a ``required`` column.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, pd.errors.ParserError, EOFError) as exc:
        raise RecordError(f"{path.name}: cannot read it as CSV ({exc}); give the table as published") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise RecordError(f"{path.name} lacks columns {missing}; it has {list(table.columns)}")
    return table


def line_source(path: Path, index: int) -> str:
    """``file:line`` of the 0-based data row ``index`` (the header is line 1, no quoted line breaks)."""
    return f"{path.name}:{index + 2}"


def number(text: str) -> float | None:
    """A float from a cell, or None when the cell is blank or not a number."""
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def catalog_name(name: str, catalog: HardwareCatalog | None = None) -> tuple[str | None, str | None]:
    """``(spec name, None)`` when ``name`` or one of its aliases is in the hardware catalog, else ``(None, reason)``."""
    try:
        return (catalog or hardware_catalog()).get(name).name, None
    except UnknownNameError as exc:
        close = f" (close: {', '.join(exc.suggestions)})" if exc.suggestions else ""
        return None, (f"hardware {name!r} is not in the hardware catalog{close}; add a spec under hardware_specs/ "
                      f"with {name!r} among its aliases")
