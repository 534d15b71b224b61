"""Load MLPerf Tiny results trees (``results/vX.Y/<division>/<submitter>/...``) as records.

Layout: ``systems/<system>.json`` (possibly in a sub-folder) describes a system under test;
``results/<system>/<benchmark>/[<model>/]<mode>/*.txt`` holds EEMBC EnergyRunner logs. The system folder may have two
levels (``microtvm_cmsis_nn/NUCLEO_L4R5ZI``); ``<model>`` appears in the open division (``RN07``, ``KWS-W3A3``).

One record per (round, division, submitter, system, benchmark, model), single stream, batch 1:

- performance log, ``Median throughput is X inf./sec.`` -> ``throughput_fps`` = X and ``latency_s`` = 1 / X
- energy log (folder ``energy``, ``enegy`` or ``power``), ``Median energy cost is Y uJ/inf.`` -> ``energy_j`` = Y * 1e-6

Benchmarks ``ad``/``ic``/``kws``/``vww`` (or ``anomaly_detection``, ...) name their reference network
(:data:`REFERENCE_MODELS`: ``ad01``, ``pretrainedResnet``, ``kws_ref_model``, ``vww_96``); an open-division
``<model>`` folder names the network. :data:`MODEL_FILE_NETWORKS` maps the reference model files' stems
(``vww_96_int8``) onto these names for alignment.
The system JSON gives ``hardware`` (Board Name), the software stack and the columns of :class:`MLPerfRecord`.
``hardware`` is the hardware catalog's name of the board where the catalog knows it (rounds spell one board
``Nucleo-L4R5ZI`` and ``NUCLEO-L4R5ZI``: one name, so that grouping by ``hardware`` gives one group per board), else
the name as submitted; the submitted spelling stays in ``board`` (the Board Name) and ``system`` (the folder, which
names the hardware when the description gives no Board Name). Field
names are matched ignoring case, spaces and punctuation; a repeated field keeps its first non-empty value; a missing
``,`` between fields is repaired (and said so in ``files``). Every file under the folder is listed in ``files``.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from rooflinekit.catalog import get_hardware, normalize_name
from rooflinekit.compare.records import (
    NONE_WORDS, Hertz, LoadResult, OptionalText, Record, RequiredText, files_frame, normalize_framework, records_frame,
)
from rooflinekit.errors import RecordError, UnknownNameError

BENCHMARKS = {"ad": "ad", "anomaly_detection": "ad", "ic": "ic", "image_classification": "ic", "kws": "kws",
              "keyword_spotting": "kws", "vww": "vww", "visual_wake_words": "vww"}


@dataclass(frozen=True)
class ReferenceModel:
    """A benchmark's reference network: ``task`` (the record's), ``network`` (the record's network name) and the
    stems of its reference model files (``models/<stem>.tflite``): ``int8_file`` (the quantized model the closed
    division runs) and ``float_file`` (fp32 activations)."""

    task: str
    network: str
    int8_file: str
    float_file: str


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    "ad": ReferenceModel("anomaly detection", "ad01", int8_file="ad01_int8", float_file="ad01_fp32"),
    "ic": ReferenceModel("image classification", "pretrainedResnet", int8_file="pretrainedResnet_quant",
                         float_file="pretrainedResnet"),
    "kws": ReferenceModel("keyword spotting", "kws_ref_model", int8_file="kws_ref_model",
                          float_file="kws_ref_model_float32"),
    "vww": ReferenceModel("visual wake words", "vww_96", int8_file="vww_96_int8", float_file="vww_96_float"),
}
"""Benchmark (``ad``, ``ic``, ``kws``, ``vww``) -> its reference network and model files: the one place that says
which network and files a benchmark means."""
MODEL_FILE_NETWORKS = {stem: model.network for model in REFERENCE_MODELS.values()
                       for stem in (model.int8_file, model.float_file)}
"""Model file stem -> record network: pass as ``align(..., network_aliases=MODEL_FILE_NETWORKS)`` when predicting
from the reference .tflite files (each file's precision stays a separate key)."""
MODES = {"performance": "performance", "energy": "energy", "enegy": "energy", "power": "energy"}
SystemClass = Literal["cortex-m", "accelerator", "fpga", "risc-v", "application-processor", "other"]
TFLITE_MODEL_STACKS = {"TFLite Micro", "X-CUBE-AI", "Plumerai", "microTVM", "ONNC", "Bosch HALE"}
_ROUND = re.compile(r"^v\d+(\.\d+)+$")
_THROUGHPUT = re.compile(r"Median throughput is\s+(\S+)\s+inf\./sec\.")
_ENERGY = re.compile(r"Median energy cost is\s+(\S+)\s+(\S+)/inf\.")
_FPGA = re.compile(r"xilinx|zynq|\bxc\d|artix|kintex|virtex|z-7\d{3}|fpga", re.I)


class MLPerfRecord(Record):
    """A record plus the MLPerf Tiny system columns.

    ``round`` (``v1.1``), ``division`` (closed/open, from the folder), ``submitter`` and ``system`` (folder names),
    ``benchmark`` (ad, ic, kws, vww), ``board`` (the Board Name as submitted; ``hardware`` is the catalog's name
    of it, see the module docstring), ``soc``, ``processor`` (as written), ``core_type`` (``Cortex-M4``,
    ``Cortex-M33``, ``Cortex-M0+``, ``RISC-V``, ...), ``clock_hz`` (processor clock, Hz), ``accelerator`` (as written),
    ``system_class`` (``cortex-m`` = Arm Cortex-M CPU alone; ``accelerator``, ``fpga``, ``risc-v``,
    ``application-processor``, ``other``), ``cpu_only_cortex_m`` (system_class == cortex-m: the rows a CPU-only model
    may be fitted on) and ``kernel_library`` (``CMSIS-NN``, ``CMSIS``, ``native`` for microTVM without CMSIS-NN, ...).
    """

    KEY_FIELDS: ClassVar[tuple[str, ...]] = Record.KEY_FIELDS + ("round", "division", "submitter", "system")

    round: RequiredText
    division: RequiredText
    submitter: RequiredText
    system: RequiredText
    benchmark: RequiredText
    board: OptionalText = None
    soc: OptionalText = None
    processor: OptionalText = None
    core_type: OptionalText = None
    clock_hz: Hertz = None
    accelerator: OptionalText = None
    system_class: SystemClass = "other"
    cpu_only_cortex_m: bool = False
    kernel_library: OptionalText = None


class _Unreadable(Exception):
    """A file that cannot be used, with the reason."""


# --- system descriptions ------------------------------------------------------------------------------------------

def _key(name: str) -> str:
    """A field or file name compared ignoring case, spaces and punctuation (the catalog's key, without dots)."""
    return normalize_name(name).replace(".", "")


def _text(value: Any) -> str:
    """A field value as text; nested objects (``{"TVM": {"SHA": ...}}``) are flattened to ``'TVM SHA ...'``."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}".strip() for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return "" if value is None else " ".join(str(value).replace("®", "").replace("™", "").split())


def _first_non_empty(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        key = _key(name)
        if key not in fields or (not _text(fields[key]) and _text(value)):
            fields[key] = value
    return fields


def read_system_json(path: Path) -> tuple[dict[str, Any], str]:
    """Fields of one system description (keys: lower-case alphanumerics) and a note on any repair made.

    Three slips are repaired: a missing ``,`` between fields, a trailing ``,`` before ``}`` and a missing final
    ``}``. Anything else, or more than ten repairs, makes the file unreadable.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    repairs = []
    for _ in range(10):
        try:
            return json.loads(text, strict=False, object_pairs_hook=_first_non_empty), "; ".join(repairs)
        except json.JSONDecodeError as exc:
            end = len(text[:exc.pos].rstrip())
            if end == len(text.rstrip()) and not text.rstrip().endswith("}"):
                text = text.rstrip().rstrip(",") + "\n}"
                repairs.append("added the missing closing '}' at the end")
            elif exc.msg.startswith("Expecting ',' delimiter"):
                text = f"{text[:end]},{text[end:]}"
                repairs.append(f"inserted a missing ',' at line {exc.lineno}")
            elif exc.msg.startswith("Expecting property name") and text[end - 1:end] == ",":
                text = f"{text[:end - 1]}{text[end:]}"
                repairs.append(f"removed a trailing ',' before line {exc.lineno}")
            else:
                raise _Unreadable(f"invalid JSON: {exc}") from None
    raise _Unreadable("invalid JSON: more than ten syntax slips")


def _field(fields: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = _text(fields.get(_key(name)))
        if value.strip().casefold() not in NONE_WORDS:
            return value
    return None


def core_type(processor: str | None, soc: str | None = None) -> str | None:
    """Normalized core: ``'32-bit Arm Cortex-M4 (DSP + FPU)'`` -> ``'Cortex-M4'``; RISC-V cores -> ``'RISC-V'``."""
    for text in (re.sub(r"[®™]", "", processor or ""), re.sub(r"[®™]", "", soc or "")):
        cortex = re.search(r"cortex\s*-?\s*([amr])\s*-?\s*(\d+)\s*(\+|plus)?", text, re.I)
        if cortex:
            return f"Cortex-{cortex.group(1).upper()}{cortex.group(2)}{'+' if cortex.group(3) else ''}"
        if re.search(r"risc[-\s]?v|\brv(32|64)|andescore|xuantie", text, re.I):
            return "RISC-V"
        rx = re.search(r"\bRXv(\d)\b", text)
        if rx:
            return f"RXv{rx.group(1)}"
        for word in ("MicroBlaze", "Kryo"):
            if word.casefold() in text.casefold():
                return word
    return None


def clock_hz(text: str | None) -> float | None:
    """Processor clock in Hz from ``'120 MHz'``, ``'@120 MHz'``, ``'336 MHZ'``, ``'1.5Ghz'``, ``'20M'``; else None."""
    match = re.search(r"(\d+(?:\.\d+)?)\s*([kmg])(?:hz)?\b", text or "", re.I)
    return float(match.group(1)) * {"k": 1e3, "m": 1e6, "g": 1e9}[match.group(2).lower()] if match else None


def system_class(core: str | None, accelerator: str | None, framework: str | None) -> str:
    """``fpga`` > ``accelerator`` > ``risc-v`` > ``application-processor`` > ``cortex-m`` > ``other``."""
    if _FPGA.search(accelerator or "") or framework in ("hls4ml", "fpgaConvNet", "FINN"):
        return "fpga"
    if accelerator:
        return "accelerator"
    if core == "RISC-V":
        return "risc-v"
    if core and (core.startswith("Cortex-A") or core == "Kryo"):
        return "application-processor"
    if core and core.startswith("Cortex-M"):
        return "cortex-m"
    return "other"


def _kernel_library(text: str, framework: str | None) -> str | None:
    if re.search(r"cmsis[-_\s]?nn", text, re.I):
        return "CMSIS-NN"
    if re.search(r"cmsis", text, re.I):
        return "CMSIS"
    if re.search(r"andes\s+nn", text, re.I):
        return "Andes NN Library"
    return "native" if framework == "microTVM" else None


def _precision(fields: dict[str, Any], model: str | None, division: str, framework: str | None
               ) -> tuple[str | None, str | None]:
    """``(precision, note)`` from the quantization method, an open-division model name or the closed-division rule."""
    method = _field(fields, "Quantization Method") or ""
    for pattern, label in ((r"int\s*8", "int8"), (r"fp\s*16|float\s*16", "fp16"), (r"fp\s*32|float\s*32", "fp32")):
        if re.search(pattern, method, re.I):
            return label, None
    bits = re.search(r"W(\d+)A(\d+)", model or "")
    if bits:
        weights, activations = int(bits.group(1)), int(bits.group(2))
        if {weights, activations} <= {1, 2, 4, 8, 16}:
            label = f"int{weights}" if weights == activations else f"W-int{weights}_A-int{activations}"
            return label, f"precision from the model name {model}"
        return None, f"model {model}: W{weights}A{activations} is not a catalog data type"
    if division == "closed" and framework in TFLITE_MODEL_STACKS:
        return "int8", f"precision assumed int8: closed division runs the int8 reference model with {framework}"
    return None, f"precision not stated (quantization method {method!r})"


@dataclass
class _System:
    path: str
    fields: dict[str, Any]
    used: bool = False

    def columns(self, model: str | None, division: str, system: str) -> tuple[dict[str, Any], list[str]]:
        fields = self.fields
        raw = (_field(fields, "Inference Framework") or _field(fields, "ML Model Compiler(s)")
               or _field(fields, "Software Libraries"))
        family, version = normalize_framework(raw)
        processor, soc = _field(fields, "Processor(s) Name", "Processor"), _field(fields, "SoC Name")
        core, accelerator = core_type(processor, soc), _field(fields, "Accelerator", "Accelerator(s)")
        clock_text = _field(fields, "Processor(s) Frequencies", "Processor Frequency", "Clock")
        precision, precision_note = _precision(fields, model, division, family)
        notes = [precision_note] if precision_note else []
        if clock_text and clock_hz(clock_text) is None:
            notes.append(f"processor clock {clock_text!r} not understood")
        stated = (_field(fields, "Division") or "").casefold()
        if stated and stated != division:
            notes.append(f"system description says division {stated!r}; the folder says {division!r}")
        kind = system_class(core, accelerator, family)
        libraries = " ".join(filter(None, [_field(fields, "Software Libraries"), raw, system]))
        return {
            "hardware": _field(fields, "Board Name") or system, "precision": precision,
            "framework": family, "framework_version": version, "board": _field(fields, "Board Name"), "soc": soc,
            "processor": processor, "core_type": core, "clock_hz": clock_hz(clock_text), "accelerator": accelerator,
            "system_class": kind, "cpu_only_cortex_m": kind == "cortex-m",
            "kernel_library": _kernel_library(libraries, family),
        }, notes


def _match_system(parts: tuple[str, ...], systems: dict[str, _System],
                  submitter: str) -> tuple[_System | None, str | None]:
    """``(system, None)``: the system whose file stem (without 'system_description') equals the folder names in some
    order, else the one whose stem starts the folder name or is started by it (``arty`` ~ ``arty-a7-100t``);
    ``(None, reason)`` when none matches, or several match equally well (the reason names them all)."""
    def stem(path: str) -> str:
        return _key(Path(path).stem).replace("systemdescription", "")

    joined = {"".join(_key(p) for p in order) for order in itertools.permutations(parts)}
    stems = {path: stem(path) for path in systems if stem(path)}
    exact = [p for p, s in stems.items() if s in joined]
    loose = [p for p, s in stems.items() if any(j.startswith(s) or s.startswith(j) for j in joined)]
    where = f"results/{'/'.join(parts)}"
    for found, how in ((exact, "match"), (loose, "match loosely")):
        if len(found) == 1:
            return systems[found[0]], None
        if found:
            return None, (f"{len(found)} system descriptions {how} {where}: {', '.join(sorted(found))}; keep one or "
                          "rename the others")
    known = ", ".join(sorted(systems)) or "none"
    return None, f"no system description matches {where} (descriptions of {submitter}: {known})"


# --- result logs ---------------------------------------------------------------------------------------------------

def _median(path: Path, mode: str) -> tuple[str, int]:
    """The median value (with its unit for energy) and its line number; raises _Unreadable."""
    pattern, expected = (_THROUGHPUT, "Median throughput is X inf./sec.") if mode == "performance" else (
        _ENERGY, "Median energy cost is Y uJ/inf.")
    found: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        match = pattern.search(line)
        if match:
            value = match.group(1) if mode == "performance" else f"{match.group(1)} {match.group(2)}"
            found.setdefault(value, number)
    if not found:
        raise _Unreadable(f"no '{expected}' line in this {mode} log")
    if len(found) > 1:
        raise _Unreadable(f"conflicting median lines: {', '.join(found)}")
    return next(iter(found.items()))


Logs = dict[str, list[tuple[str, str]]]  # mode -> [(median value, 'path:line')] of one system and benchmark


def _locate(parts: tuple[str, ...]) -> tuple[str, str, str, str, tuple[str, ...]] | None:
    """``(round, division, submitter, kind, rest)`` of a path, ``kind`` being 'systems' or 'results'."""
    rounds = [i for i, part in enumerate(parts) if _ROUND.match(part)]
    if not rounds or len(parts) < rounds[-1] + 5 or parts[rounds[-1] + 3] not in ("systems", "results"):
        return None
    i = rounds[-1]
    return parts[i], parts[i + 1].casefold(), parts[i + 2], parts[i + 3], parts[i + 4:]


def _skip_reason(relative: str) -> str:
    if relative.endswith(".tflite"):
        return "reference model file, not a result"
    if relative.endswith((".md", ".txt", ".pdf")):
        return "documentation, not under results/vX.Y/<division>/<submitter>/"
    return "not a system description or result log"


def load_mlperf_tiny(folder: str | Path) -> LoadResult:
    """Records of every MLPerf Tiny result log under ``folder`` (the data folder, ``results/`` or one round).

    Returns :class:`MLPerfRecord` rows, rejected rows (no system description, invalid value, ...) and the inventory
    of every file under ``folder``. Raises :class:`RecordError` when ``folder`` holds no result logs at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordError(f"{folder} is not a folder; point at an MLPerf Tiny results tree (results/vX.Y/...)")
    inventory: dict[str, tuple[str, str]] = {}
    systems: dict[tuple[str, str, str], dict[str, _System]] = {}
    groups: dict[tuple, Logs] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        where = _locate(path.resolve().parts)
        if where is None:
            inventory[relative] = ("skipped", _skip_reason(relative))
            continue
        round_, division, submitter, kind, rest = where
        try:
            if kind == "systems":
                if path.suffix.lower() != ".json":
                    raise _Unreadable("not a .json system description")
                fields, repair = read_system_json(path)
                systems.setdefault((round_, division, submitter), {})[relative] = _System(relative, fields)
                inventory[relative] = ("read", f"repaired: {repair}" if repair else "")
                continue
            bench = next((i for i, part in enumerate(rest) if part.casefold() in BENCHMARKS), None)
            if bench is None or bench == 0 or len(rest) - bench not in (3, 4) or path.suffix != ".txt":
                raise _Unreadable("expected results/<system>/<benchmark>/[<model>/]<mode>/<log>.txt")
            mode = MODES.get(rest[-2].casefold())
            if mode is None:
                raise _Unreadable(f"unknown mode folder {rest[-2]!r}; expected one of {sorted(MODES)}")
            value, line = _median(path, mode)
        except (_Unreadable, OSError) as exc:
            inventory[relative] = ("unreadable", str(exc))
            continue
        model = rest[bench + 1] if len(rest) - bench == 4 else None
        key = (round_, division, submitter, rest[:bench], BENCHMARKS[rest[bench].casefold()], model)
        groups.setdefault(key, {}).setdefault(mode, []).append((value, f"{relative}:{line}"))
        inventory[relative] = ("read", "")
    if not groups and not any(status == "unreadable" for status, _ in inventory.values()):
        raise RecordError(f"{folder} holds no MLPerf Tiny result logs (results/vX.Y/<division>/<submitter>/results/"
                          "<system>/<benchmark>/<mode>/*.txt)")
    rows, refused = [], []
    names: dict[str, str] = {}  # hardware as submitted -> as the catalog names it, looked up once each
    for (round_, division, submitter, parts, benchmark, model), logs in groups.items():
        row, reason = _record(round_, division, submitter, parts, benchmark, model, logs,
                              systems.get((round_, division, submitter), {}))
        if reason:
            refused.append({**row, "reason": reason})
            continue
        if row["hardware"] not in names:
            names[row["hardware"]] = _catalog_name(row["hardware"])
        rows.append({**row, "hardware": names[row["hardware"]]})
    for found in systems.values():
        for system in found.values():
            if not system.used:
                status, note = inventory[system.path]
                unused = "no readable result log for this system"
                inventory[system.path] = (status, f"{note}; {unused}" if note else unused)
    entries = [(path, status, reason) for path, (status, reason) in inventory.items()]
    return records_frame(rows, model=MLPerfRecord, files=files_frame(entries), rejected=refused)


def _catalog_name(hardware: str) -> str:
    """``hardware`` as the hardware catalog names it (any alias, case or punctuation: ``Nucleo-L4R5ZI`` ->
    ``NUCLEO-L4R5ZI``), or as given when the catalog has no such hardware."""
    try:
        return get_hardware(hardware).name
    except UnknownNameError:
        return hardware


def _record(round_: str, division: str, submitter: str, parts: tuple[str, ...], benchmark: str, model: str | None,
            logs: Logs, systems: dict[str, _System]) -> tuple[dict[str, Any], str | None]:
    """One record dict and a refusal reason (None when the record can be validated)."""
    system_name = "/".join(parts)
    row: dict[str, Any] = {
        "network": model or REFERENCE_MODELS[benchmark].network, "batch": 1,
        "task": REFERENCE_MODELS[benchmark].task,
        "round": round_, "division": division, "submitter": submitter, "system": system_name,
        "benchmark": benchmark, "hardware": system_name,
        "source": "; ".join(source for mode_logs in logs.values() for _, source in mode_logs),
    }
    notes = []
    if model is None and division == "open":
        notes.append("open division: the network may differ from the reference model")
    for mode, mode_logs in logs.items():
        if len({value for value, _ in mode_logs}) > 1:
            return row, f"{len(mode_logs)} {mode} logs disagree: " + ", ".join(f"{v} ({s})" for v, s in mode_logs)
    if "performance" in logs:
        throughput = logs["performance"][0][0]
        row["throughput_fps"] = throughput
        try:
            row["latency_s"] = 1 / float(throughput) if float(throughput) > 0 else None
        except ValueError:
            pass  # the record's validation reports the unreadable throughput
    if "energy" in logs:
        row["energy_j"] = logs["energy"][0][0]
    system, reason = _match_system(parts, systems, submitter)
    if system is None:
        return row, reason
    system.used = True
    columns, system_notes = system.columns(model, division, system_name)
    row.update(columns)
    row["notes"] = "; ".join(notes + system_notes) or None
    return row, None

