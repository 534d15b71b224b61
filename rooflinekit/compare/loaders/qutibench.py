"""Load QuTiBench's measured results (RCL-lab/QutibenchWeb ``_notebooks/data``) as records.

``tables="experimental"`` (default) reads ``cleaned_csv/experimental_data_{imagenet,cifar,mnist}.csv``, the tables
behind QuTiBench's Pareto and efficiency plots; ``tables="backup"`` reads the master table ``cleaned_csv/backup.csv``
instead (same measurements, plus 1630 empty placeholder rows, which are rejected as such).

Column mapping (source -> record):

- ``HWType`` -> ``hardware``; in backup.csv the ``Op mode`` is appended (``TX2`` + ``maxn`` -> ``TX2-maxn``), as the
  experimental tables already do
- ``NN_Topology`` -> ``network`` (``ResNet-50v15`` and the EfficientNets are kept as named)
- ``Datatype`` -> ``precision`` (``INT2`` -> ``int2``); ``PruningFactor`` (``12.5``, ``'12.50%'``) -> ``pruning_pct``
- ``batch/thread/stream`` -> ``batch``; ``lat-comp`` [ms] -> ``latency_s`` = lat-comp / 1000 (one batch, compute only)
- ``fps-comp`` -> ``throughput_fps`` (QuTiBench's measured throughput); ``Full_Pwr_W`` -> ``power_w``
- ``top1`` / ``top1 [%]`` -> ``accuracy_top1_pct``; the table's data set (imagenet, cifar, mnist) -> ``task``
- ``notes``: why a record may run faster than a roofline bound of the catalog's specs although its spec and unit
  are right (:mod:`~rooflinekit.compare.loaders.qutibench_notes`): every ZCU104-FINN record (FINN holds its weights
  on chip, so the level-0 bound, weights from DRAM, does not bound it), every TX2 MLP record (at batch 64 and 128
  they imply more than the GPU's dense peak for the MLP the tables name), and a row whose ``fps-comp`` and
  ``batch / lat-comp`` disagree by more than 5 % (both values)

QuTiBench's predictions are batch-1 bounds (weights read once per frame) and its efficiency compares them with the
best fps over batch sizes. With weights-only traffic weights are read once per batch, so the bound of a memory-bound
network at batch b is up to b times its batch-1 bound: a record at batch b > 1 above a batch-1 prediction (the TX2
and FINN MLPs, up to 31x) has beaten nothing. Compare each record with a prediction at its own batch
(``rooflinekit.sweep(..., batches=[...])`` and :func:`~rooflinekit.compare.align` without ``best_over_batch``).

Not read: ``lat-sys``/``fps-system`` (system level, incl. I/O), ``tp-*`` and ``GOPS`` (derived with inconsistent op
counts), ``hw_*``/``nn_total_operations`` (copied specs; ``10000000`` is a "not found" sentinel) and the keys.
A row without ``fps-comp`` is rejected: QuTiBench's efficiency uses fps-comp, and its own tables leave such rows out.
Every file of the folder is listed in ``files``: read, unreadable (with the error) or skipped (with why).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from rooflinekit.compare.loaders.qutibench_notes import record_notes
from rooflinekit.compare.records import LoadResult, files_frame, is_missing, records_frame
from rooflinekit.display import counted
from rooflinekit.errors import RecordError

Tables = Literal["experimental", "backup"]
TABLES: dict[str, tuple[str, ...]] = {
    "experimental": ("cleaned_csv/experimental_data_imagenet.csv", "cleaned_csv/experimental_data_cifar.csv",
                     "cleaned_csv/experimental_data_mnist.csv"),
    "backup": ("cleaned_csv/backup.csv",),
}
REQUIRED = ("NN_Topology", "HWType", "Datatype", "PruningFactor", "batch/thread/stream", "lat-comp", "fps-comp")
MEASURED = ("lat-comp", "fps-comp", "Full_Pwr_W", "top1", "top1 [%]")
TASK_OF_NETWORK = {"CNV": "cifar", "MLP": "mnist"}

SKIPPED: list[tuple[str, str]] = [
    ("cleaned_csv/experimental_data.csv", "concatenation of experimental_data_{imagenet,cifar,mnist}.csv"),
    ("cleaned_csv/experimental_data_*.csv", "same measurements as backup.csv, which is read"),
    ("cleaned_csv/backup.csv", "master table of the same measurements plus 1630 empty placeholder rows; "
                               "read it with tables='backup'"),
    ("cleaned_csv/pareto_data_*.csv", "best-over-batch view derived from the measurements, with stale names (NCS) "
                                      "and corrupted keys"),
    ("cleaned_csv/l3_*.csv", "raw per-run CNV logs (separate runs; their maxima are in the measurement tables)"),
    ("cleaned_csv/performance_prediction*.csv", "theoretical predictions, not measurements"),
    ("performance_predictions_*.csv", "theoretical predictions, not measurements"),
    ("FAIR_data/experimental_data.csv", "older snapshot of the measurement table with old names (NCS, TX2 without "
                                        "op mode)"),
    ("power_measur_*.csv", "EdgeTPU power traces over time, not per-configuration records"),
    ("history/*", "deleted historical file (predictions, matchings or early measurements)"),
    ("*.md", "documentation"), ("*.txt", "documentation"), ("*.xml", "documentation"),
    ("*.csv", "specifications, accuracies or experiment overviews, not measurements"),
]


def _skip_reason(relative: str) -> str:
    return next((why for pattern, why in SKIPPED if fnmatch.fnmatch(relative, pattern)),
                "not a QuTiBench measurement table")


def _milliseconds(value: Any) -> Any:
    if is_missing(value):
        return None
    return value / 1000 if isinstance(value, (int, float)) else f"{value} ms"


def _hardware(row: pd.Series) -> Any:
    hardware, mode = row["HWType"], row.get("Op mode")
    if is_missing(hardware) or is_missing(mode) or str(hardware).casefold().endswith(f"-{mode}".casefold()):
        return hardware
    return f"{hardware}-{mode}"


def _task(path: Path, network: Any) -> str | None:
    match = re.fullmatch(r"experimental_data_(\w+)\.csv", path.name)
    if match:
        return match.group(1)
    return None if is_missing(network) else TASK_OF_NETWORK.get(str(network), "imagenet")


def _row(row: pd.Series, path: Path, relative: str, line: int) -> dict[str, Any]:
    top1 = row["top1"] if "top1" in row.index else row.get("top1 [%]")
    hardware, batch = _hardware(row), row["batch/thread/stream"]
    return {
        "hardware": hardware, "network": row["NN_Topology"], "precision": row["Datatype"],
        "pruning_pct": row["PruningFactor"], "batch": batch,
        "task": _task(path, row["NN_Topology"]), "latency_s": _milliseconds(row["lat-comp"]),
        "throughput_fps": row["fps-comp"], "power_w": row.get("Full_Pwr_W"), "accuracy_top1_pct": top1,
        "source": f"{relative}:{line}",
        "notes": record_notes(hardware, row["NN_Topology"], row["fps-comp"], batch, row["lat-comp"]),
    }


def _refusal(row: pd.Series) -> str | None:
    present = {column: row[column] for column in MEASURED if column in row.index and not is_missing(row[column])}
    if not present:
        return f"placeholder row: no measurement ({', '.join(c for c in MEASURED if c in row.index)} all empty)"
    if "fps-comp" not in present:
        given = ", ".join(f"{column}={value:g}" if isinstance(value, float) else f"{column}={value!r}"
                          for column, value in present.items())
        return (f"fps-comp is missing (given: {given}); QuTiBench's efficiency uses fps-comp and its own tables "
                "leave this row out")
    return None


def load_qutibench(folder: str | Path, tables: Tables = "experimental") -> LoadResult:
    """Measured QuTiBench records from ``folder`` (the ``_notebooks/data`` folder of QutibenchWeb).

    Returns records, rejected rows (reason: placeholder, missing fps-comp, invalid value, conflicting duplicate) and
    the inventory of every file in ``folder``. Raises :class:`RecordError` when ``folder`` has none of the tables.
    """
    folder = Path(folder)
    if tables not in TABLES:
        raise RecordError(f"unknown QuTiBench tables {tables!r}; use 'experimental' or 'backup'")
    wanted = [folder / name for name in TABLES[tables]]
    if not any(path.is_file() for path in wanted):
        raise RecordError(f"{folder} has none of {', '.join(TABLES[tables])}; point at QutibenchWeb's "
                          "_notebooks/data folder")
    rows, refused, inventory = [], [], []
    read = {path.relative_to(folder).as_posix() for path in wanted}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative not in read:
            inventory.append((relative, "skipped", _skip_reason(relative)))
            continue
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            inventory.append((relative, "unreadable", f"not a readable CSV: {exc}"))
            continue
        missing = [column for column in REQUIRED if column not in table.columns]
        if missing:
            inventory.append((relative, "unreadable", f"missing columns {missing}; found {list(table.columns)}"))
            continue
        inventory.append((relative, "read", counted(len(table), "row")))
        for index, row in table.iterrows():
            record = _row(row, path, relative, int(index) + 2)
            reason = _refusal(row)
            (refused if reason else rows).append({**record, "reason": reason} if reason else record)
    for path in wanted:
        if not path.is_file():
            inventory.append((path.relative_to(folder).as_posix(), "unreadable", "file not found"))
    return records_frame(rows, files=files_frame(inventory), rejected=refused)
