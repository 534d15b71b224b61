"""Load NAS-Bench-201 latencies (``../shared/data/nb201/latency.csv.gz``, from HELP / HW-NAS-Bench) as records.

Each input row is one architecture with one latency per device column (``raspi4_ms``, ``pixel3_ms``,
``gold_6226_ms``, ``1080ti_{1,32,256}_ms``, ``titan_rtx_{1,32,256}_ms``); every ``*_ms`` cell gives one record or one
rejection with a reason, so ``records + rejected = input rows x latency columns``.

- A column ``<device>[_<batch>]_ms`` names the device and the batch (no batch: 1; a trailing number is a batch
  only when the whole stem is not a catalog name, so ``gold_6226_ms`` is the Xeon Gold 6226 at batch 1).
  ``<device>`` is resolved to a catalog spec through the specs' aliases (``raspi4`` -> ``Raspberry Pi 4 Model B``,
  ``pixel3`` -> ``Pixel 3``, ``gold_6226`` -> ``Xeon Gold 6226``, ``1080ti`` -> ``GeForce GTX 1080 Ti``,
  ``titan_rtx`` -> ``TITAN RTX``); cells of a device the catalog lacks are rejected.
- ``network`` = ``arch_str`` (the whole network: a NAS-Bench-201 cell string, CIFAR-10, C=16, N=5; build it from
  the string); ``nb201_index`` keeps the benchmark's index.
- ``latency_s`` = cell / 1000: wall time of one call on ``batch`` images (HELP's convention).
- ``precision`` = ``fp32``; ``framework``: ``TFLite`` for the Raspberry Pi 4 and Pixel 3 (HW-NAS-Bench's
  measurements), ``PyTorch`` for the Xeon and the GPUs (HELP's); versions are not in the table.
- ``source``: ``latency.csv.gz:<line> <column>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from rooflinekit.catalog import HardwareCatalog
from rooflinekit.compare.loaders._tables import catalog_name, line_source, locate_table, number, read_text_table
from rooflinekit.compare.records import LoadResult, Record, RequiredText, files_frame, records_frame
from rooflinekit.errors import RecordError

FILE = "latency.csv.gz"
REQUIRED = ("nb201_index", "arch_str")
FRAMEWORKS: dict[str, str] = {"raspi4": "TFLite", "pixel3": "TFLite"}
"""Device column prefix -> software stack; the others are ``PyTorch`` (HELP's own measurements)."""
_BATCH = re.compile(r"^(.+)_(\d+)$")


class NB201Record(Record):
    """A record plus ``nb201_index`` (the architecture's NAS-Bench-201 index), ``arch_str`` is the ``network`` and
    ``column`` (the latency column the value was read from)."""

    KEY_FIELDS: ClassVar[tuple[str, ...]] = Record.KEY_FIELDS + ("nb201_index",)

    nb201_index: int
    column: RequiredText


def latency_columns(columns: list[str], catalog: HardwareCatalog | None = None) -> dict[str, tuple[str, int]]:
    """``{column: (device, batch)}`` of the ``*_ms`` columns: ``'1080ti_32_ms'`` -> ``('1080ti', 32)``,
    ``'raspi4_ms'`` -> ``('raspi4', 1)``, ``'gold_6226_ms'`` -> ``('gold_6226', 1)``: a trailing number is a batch
    only when the whole stem is not a catalog name."""
    found = {}
    for column in columns:
        if not column.endswith("_ms") or len(column) <= 3:
            continue
        stem = column[:-3]
        split = _BATCH.match(stem)
        if split and catalog_name(stem, catalog)[0] is None:
            found[column] = (split.group(1), int(split.group(2)))
        else:
            found[column] = (stem, 1)
    return found


def load_nb201(path: str | Path, catalog: HardwareCatalog | None = None) -> LoadResult:
    """Records of ``latency.csv.gz`` (give the file or its folder), one per latency cell; see the module docstring.

    Parameters
    ----------
    path
        ``../shared/data/nb201`` or its ``latency.csv.gz`` (a plain ``.csv`` works too).
    catalog
        Hardware catalog the device names are resolved against; the bundled one by default.

    Returns
    -------
    LoadResult
        :class:`NB201Record` rows, rejected cells with a ``reason`` and the file inventory (which names the columns
        that were not read).

    Raises
    ------
    RecordError
        When the file is missing, unreadable, lacks ``nb201_index``/``arch_str`` or has no ``*_ms`` column.
    """
    file = locate_table(path, FILE, "NAS-Bench-201")
    table = read_text_table(file, REQUIRED)
    columns = latency_columns(list(table.columns), catalog)
    if not columns:
        raise RecordError(f"{file.name} has no latency column (<device>[_<batch>]_ms); it has {list(table.columns)}")
    devices: dict[str, tuple[str | None, str | None]] = {
        device: catalog_name(device, catalog) for device, _ in set(columns.values())}
    rows, refused = [], []
    for index, row in enumerate(table.to_dict("records")):
        source = line_source(file, index)
        for column, (device, batch) in columns.items():
            spec, reason = devices[device]
            text = row[column]
            value = number(text)
            record: dict[str, Any] = {
                "hardware": spec or device, "network": row["arch_str"], "nb201_index": row["nb201_index"],
                "column": column, "precision": "fp32", "batch": batch,
                "framework": FRAMEWORKS.get(device, "PyTorch"), "task": "cifar10",
                "latency_s": value / 1000 if value is not None else (text if text.strip() else None),
                "source": f"{source} {column}",
            }
            (refused if reason else rows).append({**record, "reason": reason} if reason else record)
    ignored = [c for c in table.columns if c not in columns and c not in REQUIRED]
    note = f"columns not read: {ignored}" if ignored else ""
    return records_frame(rows, model=NB201Record, files=files_frame([(str(file), "read", note)]), rejected=refused)
