"""Load NeuSight's end-to-end transformer latencies on GPUs (``../shared/data/neusight/gpu_e2e.csv``) as records.

One input row gives one record or one rejection with a reason:

- ``hardware``: ``device`` resolved to a catalog spec through the specs' aliases (``NVIDIA_A100-PCIE-40GB`` ->
  ``A100-PCIe-40GB``, ``Tesla_T4`` -> ``Tesla T4``, ``AMD_Instinct_MI100`` -> ``AMD Instinct MI100``); a device the
  catalog lacks is rejected.
- ``network``: ``model_name`` as the artifact spells it (``bert_large``, ``gpt2_large``, ``gpt3_xl``, ``gpt3_27``,
  ``opt_13``, ``switchxl4``); its dimensions are in the folder's README (:data:`MODEL_DIMENSIONS`). Build it at
  ``seq_len`` tokens and ``batch`` sequences.
- ``batch`` = ``batch``; ``seq_len`` = ``seqlen``; ``latency_s`` = ``measured_ms`` / 1000 (one forward pass over the
  whole batch); ``roofline_pred_s`` = ``roofline_pred_ms`` / 1000 (the artifact's plain-roofline baseline).
- ``precision`` from the ``dtype`` text (``fp32 (PyTorch eager; ...)`` -> ``fp32``); ``framework`` = ``PyTorch``
  (eager; the version is not in the table). ``option`` (``fusion`` or empty) and ``mode`` (``inf``) are kept and
  are part of the record key; rows whose ``mode`` is not ``inf`` are rejected (not inference).
- The artifact's device description is kept in SI units: ``dev_fp32_peak_ops_per_s`` (GFLOP/s x 1e9),
  ``dev_mem_bw_bytes_per_s`` (GB/s x 1e9), ``dev_num_sm``, ``dev_freq_hz`` (MHz x 1e6), ``dev_l2_bytes`` (MB x 1e6).
- ``source``: ``gpu_e2e.csv:<line>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from rooflinekit.catalog import HardwareCatalog
from rooflinekit.compare.loaders._tables import catalog_name, load_rows, number
from rooflinekit.compare.records import LoadResult, OptionalText, Record, RequiredText, Seconds

FILE = "gpu_e2e.csv"
REQUIRED = ("model_name", "seqlen", "batch", "device", "mode", "option", "measured_ms", "roofline_pred_ms",
            "dev_fp32_peak_gflops", "dev_mem_bw_gbs", "dev_num_sm", "dev_freq_mhz", "dev_l2_mb", "dtype")
MODEL_DIMENSIONS: dict[str, tuple[int, int, int, int, int, str]] = {
    "bert_large": (24, 1024, 16, 4096, 30522, "gelu"),
    "gpt2_large": (36, 1280, 20, 5120, 50257, "gelu"),
    "gpt3_xl": (24, 3072, 24, 12288, 50257, "gelu"),
    "gpt3_27": (32, 2560, 32, 10240, 50257, "gelu"),
    "opt_13": (24, 2048, 32, 8192, 50272, "relu"),
}
"""NeuSight ``model_name`` -> (layers, hidden size, heads, FFN width, vocabulary, activation), from the folder's
README (the artifact's own model configs; gpt3_xl is 3072 wide, not the paper's 2048). ``switchxl4`` (Switch-XL
with 4 experts) is not described there."""


class NeuSightRecord(Record):
    """A record plus the NeuSight columns: ``seq_len`` (tokens per sequence), ``mode`` (``inf``), ``option``
    (``fusion`` or None), ``roofline_pred_s`` (the artifact's roofline prediction, s) and the artifact's device
    description ``dev_fp32_peak_ops_per_s``, ``dev_mem_bw_bytes_per_s``, ``dev_num_sm``, ``dev_freq_hz``,
    ``dev_l2_bytes``, and ``device`` (as written)."""

    KEY_FIELDS: ClassVar[tuple[str, ...]] = Record.KEY_FIELDS + ("seq_len", "mode", "option")

    seq_len: int
    mode: RequiredText
    option: OptionalText = None
    device: RequiredText
    roofline_pred_s: Seconds = None
    dev_fp32_peak_ops_per_s: float | None = None
    dev_mem_bw_bytes_per_s: float | None = None
    dev_num_sm: float | None = None
    dev_freq_hz: float | None = None
    dev_l2_bytes: float | None = None


def _scaled(text: str, factor: float) -> float | str | None:
    """A number times ``factor``; blank -> None; anything else is passed on for validation to report."""
    value = number(text)
    if value is not None:
        return value * factor
    return None if not text.strip() else text


def _row(row: dict[str, str], source: str, catalog: HardwareCatalog | None) -> tuple[dict[str, Any], str | None]:
    dtype = re.match(r"\s*([A-Za-z]+\d*)", row["dtype"])
    record: dict[str, Any] = {
        "hardware": row["device"], "device": row["device"], "network": row["model_name"], "batch": row["batch"],
        "seq_len": row["seqlen"], "mode": row["mode"], "option": row["option"],
        "precision": dtype.group(1) if dtype else None, "framework": "PyTorch", "task": "language modelling",
        "latency_s": _scaled(row["measured_ms"], 1e-3), "roofline_pred_s": _scaled(row["roofline_pred_ms"], 1e-3),
        "dev_fp32_peak_ops_per_s": _scaled(row["dev_fp32_peak_gflops"], 1e9),
        "dev_mem_bw_bytes_per_s": _scaled(row["dev_mem_bw_gbs"], 1e9), "dev_num_sm": _scaled(row["dev_num_sm"], 1),
        "dev_freq_hz": _scaled(row["dev_freq_mhz"], 1e6), "dev_l2_bytes": _scaled(row["dev_l2_mb"], 1e6),
        "source": source,
        "notes": "PyTorch eager; framework version not in the table",
    }
    if row["mode"].strip() != "inf":
        return record, f"mode {row['mode']!r} is not inference ('inf'); this loader keeps inference rows"
    spec, reason = catalog_name(row["device"], catalog)
    if reason:
        return record, reason
    record["hardware"] = spec
    return record, None


def load_neusight(path: str | Path, catalog: HardwareCatalog | None = None) -> LoadResult:
    """Records of ``gpu_e2e.csv`` (give the file or its folder); see the module docstring.

    Parameters
    ----------
    path
        ``../shared/data/neusight`` or its ``gpu_e2e.csv``.
    catalog
        Hardware catalog the device names are resolved against; the bundled one by default.

    Returns
    -------
    LoadResult
        :class:`NeuSightRecord` rows, rejected rows with a ``reason`` and the file inventory.

    Raises
    ------
    RecordError
        When the file is missing, unreadable or lacks a column of :data:`REQUIRED`.
    """
    return load_rows(path, FILE, "NeuSight", REQUIRED, lambda *row: [_row(*row)], NeuSightRecord, catalog)
