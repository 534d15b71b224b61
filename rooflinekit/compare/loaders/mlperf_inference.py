"""Load MLPerf Inference results (``../shared/data/mlperf_inference/results.csv``) as records of one accelerator.

The table has one row per (round, system, benchmark, scenario), closed division, ``VALID`` results only (see the
folder's README). One input row gives one record or one rejection with a reason:

- ``hardware``: the ``accelerator`` column resolved to a catalog spec name (aliases on the specs:
  ``NVIDIA A100-SXM-80GB`` -> ``A100-SXM4-80GB``, ``QUALCOMM Cloud AI 100 PCIe/HHHL Pro`` -> ``Cloud AI 100 Pro``).
  A trailing ``CTS`` (custom thermal solution, 500 W) and a parenthetical (``(Ada Lovelace)``) are dropped with a
  note; names without a memory size map through :data:`LOADER_HARDWARE` (``NVIDIA Orin`` and ``NVIDIA Jetson AGX
  Orin``, the developer kit -> ``Jetson AGX Orin 64GB``; ``NVIDIA Orin NX`` -> ``Jetson Orin NX 16GB``). Rejected:
  CPU-only systems (no accelerator), MIG slices (``1x1g.10gb MIG``: a fraction of a device), virtualized devices
  (vGPU profiles ``-80C``/``-24Q``, VMware vSphere systems: a share of a device) and accelerators the catalog lacks.
- ``network``: the reference model of the benchmark (:data:`NETWORKS`): ``resnet50`` (ResNet-50 v1.5, 224x224),
  ``retinanet`` (ResNeXt-50 FPN, 800x800), ``bert-large`` (SQuAD, max 384 tokens), ``3d-unet`` (KiTS19),
  ``gptj-6b``, ``llama2-70b``; ``benchmark`` keeps the accuracy target (``bert-99`` / ``bert-99.9``).
- ``Offline``: ``throughput_fps`` = system throughput / ``n_accelerators`` (per accelerator), checked against the
  table's ``throughput_per_accelerator`` (a relative difference above 0.5 % rejects the row);
  ``throughput_system_per_s`` keeps the system figure. LLM rows (``throughput_unit`` = ``tokens/s``) give tokens
  per second per accelerator in ``throughput_fps`` (a "frame" is one token there; see ``throughput_unit``).
  ``latency_s`` is left empty (Offline measures throughput only).
- ``SingleStream``: ``latency_s`` = ``latency_ms`` / 1000, the 90th-percentile latency of one sample.
- ``batch`` = 1: the harness's Offline batch size is not in the table (it is in the submission's config).
- ``precision``: the weight type of ``precision_if_stated`` (``weights=int8; inputs=int32`` -> ``int8``: BERT's
  int32 inputs are token ids); mixed (``int8,fp16``) or absent -> missing, with a note.
- ``framework`` / ``framework_version``: the stack named in ``software`` (``TensorRT 8.4.0, CUDA 11.6`` ->
  ``TensorRT`` / ``8.4.0``; ``cuda_version`` = ``11.6``); ``software`` keeps the text as submitted.
- ``engines_used``: for Jetson rows, ``GPU+DLA0+DLA1`` where ``hw_notes`` says the Offline run of this benchmark
  uses the GPU and both DLAs, else ``GPU``. ``operating_mode``: ``MaxQ`` for power-capped MaxQ systems.
- BERT rows carry a note: the harnesses drop padding, so the work per sample is the real SQuAD sequence
  (384 tokens is the maximum, not the work).
- ``source``: ``results.csv:<line>``; ``log_source`` is the MLCommons log path the row was read from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from rooflinekit.catalog import HardwareCatalog
from rooflinekit.compare.loaders._tables import catalog_name, load_rows, number
from rooflinekit.compare.records import NONE_WORDS, FramesPerS, LoadResult, OptionalText, Record, RequiredText

FILE = "results.csv"
REQUIRED = ("version", "division", "suite", "submitter", "system", "system_id", "accelerator", "n_accelerators",
            "nodes", "host_processor", "benchmark", "scenario", "precision_if_stated", "software", "throughput_per_s",
            "throughput_unit", "throughput_per_accelerator", "latency_ms", "latency_stat", "hw_notes", "source")
NETWORKS: dict[str, tuple[str, str]] = {
    "resnet50": ("resnet50", "image classification"),
    "retinanet": ("retinanet", "object detection"),
    "bert": ("bert-large", "question answering"),
    "3d-unet": ("3d-unet", "medical image segmentation"),
    "gptj": ("gptj-6b", "summarization"),
    "llama2-70b": ("llama2-70b", "question answering"),
}
"""Benchmark family (the benchmark name without its ``-99``/``-99.9`` accuracy target) -> (network, task)."""
LOADER_HARDWARE: dict[str, tuple[str, str]] = {
    "nvidia orin": ("Jetson AGX Orin 64GB", "MLPerf names the Jetson AGX Orin developer kit without its memory size; "
                                            "mapped to the 64 GB spec (both dev kits have the full 2048-core GPU, "
                                            "2 DLAs and 204.8 GB/s)"),
    "nvidia jetson agx orin": ("Jetson AGX Orin 64GB", "MLPerf names the Jetson AGX Orin developer kit without its "
                                                       "memory size; mapped to the 64 GB spec (both dev kits have "
                                                       "the full 2048-core GPU, 2 DLAs and 204.8 GB/s)"),
    "nvidia orin nx": ("Jetson Orin NX 16GB", "MLPerf names the Orin NX without its memory size; mapped to the 16 GB "
                                              "module, the one with two DLAs (hw_notes: GPU and both DLAs are used)"),
}
"""Accelerator spellings too ambiguous for a catalog alias (lower case) -> (catalog name, note)."""
CONSISTENCY = 5e-3
"""Largest relative difference allowed between system throughput / n_accelerators and the table's per-accelerator
figure (the table rounds the latter to 4 decimals)."""
_STACKS: list[tuple[str, str]] = [
    (r"TensorRT\s*v?(\d+(?:\.\d+)*)", "TensorRT"),
    (r"Cloud AI SDK\s*v?(\d+(?:\.\d+)*)", "Qualcomm Cloud AI SDK"),
    (r"ArmNN\s*v?(\d+(?:\.\d+)*)", "ArmNN"),
    (r"TFLite\s*v?(\d+(?:\.\d+)*)", "TFLite"),
    (r"Onnxruntime\s*v?(\d+(?:\.\d+)*)", "ONNX Runtime"),
    (r"Triton\s*v?(\d+(?:\.\d+)*)", "Triton"),
    (r"NGC MLPerf\s*v?(\d+(?:\.\d+)*)", "NGC MLPerf container"),
    (r"RBLN SDK\s*v?(\d+(?:\.\d+)*)", "RBLN SDK"),
    (r"SAPEON SDK\s*v?(\d+(?:\.\d+)*)", "SAPEON SDK"),
    (r"SiMa SDK(?:\s*Version)?\s*v?(\d+(?:\.\d+)*)", "SiMa SDK"),
    (r"suInfer()", "suInfer"),
    (r"PyTorch()", "PyTorch"),
    (r"^\s*CUDA\s*(\d+(?:\.\d+)*)", "CUDA"),
]
_CUDA = re.compile(r"CUDA\s*(\d+(?:\.\d+)*)")
_VIRTUAL = re.compile(r"-\d+[CQ]$")
_WEIGHTS = re.compile(r"weights\s*=\s*([^;]+)", re.I)


class MLPerfInferenceRecord(Record):
    """A record plus the MLPerf Inference columns.

    ``round`` (``v2.1``), ``division``, ``suite`` (datacenter/edge), ``submitter``, ``system``, ``system_id``,
    ``benchmark`` (``bert-99``), ``scenario`` (``Offline``/``SingleStream``), ``accelerator`` (as written),
    ``n_accelerators`` (total over nodes), ``nodes``, ``host_processor``, ``software`` (as submitted),
    ``cuda_version``, ``throughput_system_per_s`` (whole system, Offline), ``throughput_unit`` (``samples/s`` or
    ``tokens/s``), ``latency_stat``, ``engines_used`` (Jetson: ``GPU`` or ``GPU+DLA0+DLA1``), ``operating_mode``
    (``MaxQ``), ``hw_notes`` and ``log_source`` (the MLCommons log).
    """

    KEY_FIELDS: ClassVar[tuple[str, ...]] = Record.KEY_FIELDS + (
        "round", "submitter", "system", "system_id", "benchmark", "scenario")

    round: RequiredText
    division: RequiredText
    suite: OptionalText = None
    submitter: RequiredText
    system: RequiredText
    system_id: RequiredText
    benchmark: RequiredText
    scenario: RequiredText
    accelerator: OptionalText = None
    n_accelerators: int
    nodes: int = 1
    host_processor: OptionalText = None
    software: OptionalText = None
    cuda_version: OptionalText = None
    throughput_system_per_s: FramesPerS = None
    throughput_unit: OptionalText = None
    latency_stat: OptionalText = None
    engines_used: OptionalText = None
    operating_mode: OptionalText = None
    hw_notes: OptionalText = None
    log_source: OptionalText = None


def software_stack(text: str) -> tuple[str | None, str | None, str | None]:
    """``(framework, version, cuda_version)`` named in a ``software`` cell.

    ``'TensorRT 8.4.0, CUDA 11.6'`` -> ``('TensorRT', '8.4.0', '11.6')``; ``'22.08 Jetson CUDA-X AI Developer
    Preview, TensorRT 8.5.0, CUDA 11.4'`` -> ``('TensorRT', '8.5.0', '11.4')``; ``'QUALCOMM Cloud AI SDK v1.8.3'`` ->
    ``('Qualcomm Cloud AI SDK', '1.8.3', None)``; ``'CUDA 11.6'`` -> ``('CUDA', '11.6', '11.6')``; an unknown
    stack is kept as written, without a version; blank -> all None.
    """
    if text.strip().casefold() in NONE_WORDS:
        return None, None, None
    cuda = _CUDA.search(text)
    cuda_version = cuda.group(1) if cuda else None
    for pattern, family in _STACKS:
        match = re.search(pattern, text, re.I)
        if match:
            return family, match.group(1) or None, cuda_version
    return " ".join(text.split()), None, cuda_version


def _precision(stated: str) -> tuple[str | None, str | None]:
    """``(precision, note)`` from ``precision_if_stated``: the weights' type."""
    match = _WEIGHTS.search(stated)
    if not match:
        return None, "precision not stated"
    weights = match.group(1).strip().casefold()
    if "," in weights:
        return None, f"mixed weight types {weights!r}: precision left unset"
    return weights, None


def _hardware(row: dict[str, str], catalog: HardwareCatalog | None) -> tuple[str | None, str | None, list[str]]:
    """``(catalog name, rejection reason, notes)`` of a row's accelerator."""
    accelerator = " ".join(row["accelerator"].split())
    n_text = row["n_accelerators"].strip()
    if accelerator.casefold() in NONE_WORDS or n_text == "0":
        return None, (f"CPU-only system (accelerator {row['accelerator']!r}, n_accelerators {n_text!r}, host "
                      f"{row['host_processor']!r}): this loader keeps accelerator rows"), []
    if "mig" in accelerator.casefold().split() or re.search(r"\bMIG\b", accelerator):
        return None, (f"MIG slice {accelerator!r}: a fraction of one device, which the catalog does not describe"), []
    system = row["system"]
    if re.search(r"vmware|vsphere", system, re.I) or _VIRTUAL.search(accelerator):
        return None, (f"virtualized device {accelerator!r} (system {system!r}): a vGPU share of a device, which the "
                      "catalog does not describe"), []
    notes = []
    name = accelerator
    if re.search(r"\s+CTS$", name):
        name = re.sub(r"\s+CTS$", "", name)
        notes.append("CTS: custom thermal solution (500 W TDP per hw_notes) on the catalog's device")
    if re.search(r"\s*\([^)]*\)$", name):
        name = re.sub(r"\s*\([^)]*\)$", "", name)
    mapped = LOADER_HARDWARE.get(name.casefold())
    if mapped:
        return mapped[0], None, notes + [mapped[1]]
    spec, reason = catalog_name(name, catalog)
    return spec, reason, notes


def _engines(row: dict[str, str], spec: str, network_family: str) -> str | None:
    """``GPU+DLA0+DLA1`` when the notes say this Offline Jetson run uses both DLAs, ``GPU`` for other Jetson rows."""
    if not spec.startswith("Jetson"):
        return None
    notes = row["hw_notes"].casefold()
    if (row["scenario"] == "Offline" and "dla" in notes and network_family.replace("-", "") in
            notes.replace("-", "")):
        return "GPU+DLA0+DLA1"
    return "GPU"


def _row(row: dict[str, str], source: str, catalog: HardwareCatalog | None) -> tuple[dict[str, Any], str | None]:
    """One record dict and a rejection reason (None when the record can be validated)."""
    benchmark = row["benchmark"].strip()
    family = re.sub(r"-99(\.9)?$", "", benchmark)
    framework, version, cuda = software_stack(row["software"])
    precision, precision_note = _precision(row["precision_if_stated"])
    record: dict[str, Any] = {
        "network": NETWORKS.get(family, (benchmark, None))[0], "task": NETWORKS.get(family, (None, None))[1],
        "precision": precision, "batch": 1, "framework": framework, "framework_version": version,
        "round": row["version"], "division": row["division"], "suite": row["suite"], "submitter": row["submitter"],
        "system": row["system"], "system_id": row["system_id"], "benchmark": benchmark,
        "scenario": row["scenario"], "accelerator": row["accelerator"], "n_accelerators": row["n_accelerators"],
        "nodes": row["nodes"] or 1, "host_processor": row["host_processor"], "software": row["software"],
        "cuda_version": cuda, "throughput_unit": row["throughput_unit"], "latency_stat": row["latency_stat"],
        "hw_notes": row["hw_notes"], "log_source": row["source"], "source": source, "hardware": row["accelerator"],
    }
    notes = [precision_note] if precision_note else []
    if family not in NETWORKS:
        return record, f"unknown benchmark {benchmark!r}; expected one of {sorted(NETWORKS)} (with -99/-99.9)"
    spec, reason, hardware_notes = _hardware(row, catalog)
    if reason:
        return record, reason
    record["hardware"] = spec
    notes += hardware_notes
    n = number(row["n_accelerators"])
    if n is None or n < 1 or not float(n).is_integer():
        return record, f"n_accelerators must be a positive integer, got {row['n_accelerators']!r}"
    scenario = row["scenario"].strip()
    if scenario == "Offline":
        unit = row["throughput_unit"].strip()
        if unit not in ("samples/s", "tokens/s"):
            return record, f"Offline throughput_unit must be samples/s or tokens/s, got {unit!r}"
        system = number(row["throughput_per_s"])
        if system is None or system <= 0:
            return record, f"Offline row without a positive throughput_per_s (got {row['throughput_per_s']!r})"
        per_accelerator = system / n
        stated = number(row["throughput_per_accelerator"])
        if stated is not None and abs(stated - per_accelerator) > CONSISTENCY * per_accelerator:
            return record, (f"throughput_per_accelerator {stated:g} disagrees with throughput_per_s / "
                            f"n_accelerators = {system:g} / {n:g} = {per_accelerator:g}")
        record.update(throughput_fps=per_accelerator, throughput_system_per_s=system)
        if n > 1:
            notes.append(f"per-accelerator throughput = system {system:g} {unit} / {n:g} accelerators")
        if unit == "tokens/s":
            notes.append("throughput_fps holds tokens/s per accelerator (LLM benchmark)")
    elif scenario == "SingleStream":
        latency = number(row["latency_ms"])
        if latency is None or latency <= 0:
            return record, f"SingleStream row without a positive latency_ms (got {row['latency_ms']!r})"
        record["latency_s"] = latency / 1000
    else:
        return record, f"unknown scenario {scenario!r}; expected Offline or SingleStream"
    record["engines_used"] = _engines(row, spec, family)
    if re.search(r"\bMaxQ\b", row["system"], re.I):
        record["operating_mode"] = "MaxQ"
        notes.append("MaxQ submission: power-capped clocks, not the spec's default operating mode")
    if family == "bert":
        notes.append("harness drops padding: the work per sample is the real SQuAD sequence (384 tokens at most), "
                     "not 384 tokens")
    record["notes"] = "; ".join(notes) or None
    return record, None


def load_mlperf_inference(path: str | Path, catalog: HardwareCatalog | None = None) -> LoadResult:
    """Records of ``results.csv`` (give the file or its folder), one per accelerator; see the module docstring.

    Parameters
    ----------
    path
        ``../shared/data/mlperf_inference`` or its ``results.csv``.
    catalog
        Hardware catalog the accelerator names are resolved against; the bundled one by default.

    Returns
    -------
    LoadResult
        :class:`MLPerfInferenceRecord` rows, rejected rows with a ``reason`` (one per input row not kept) and the
        file inventory.

    Raises
    ------
    RecordError
        When the file is missing, unreadable or lacks a column of :data:`REQUIRED`.
    """
    return load_rows(path, FILE, "MLPerf Inference", REQUIRED, lambda *row: [_row(*row)], MLPerfInferenceRecord,
                     catalog)
