"""The command line's quick ``predict``: the common simple case answered without numpy, pandas, pydantic or PyYAML.

``rooflinekit predict ResNet-50 --hardware ZCU104-DPU`` spends most of its time importing libraries (numpy alone
takes about three times the interpreter's own start-up). :func:`quick_prediction` answers the commands whose
prediction is a few scalar operations, before anything heavy is imported, and declines (returns None) every other
command, which then runs the full path (:func:`rooflinekit.cli.cmd_predict`) exactly as before.

**What it answers.** ``predict MODEL --hardware NAME [--precision P] [--batch N] [--format F] [--quiet] [--wide]``
(each option at most once) where

- MODEL is an aggregate catalog network (totals only, such as the QuTiBench entries), not a model file;
- NAME is a catalog hardware with one compute engine (no ``engines``), one device (no ``interconnect``) and no
  ``spill_to``;
- P, when given, is a data type's own name (``int8``, ``fp16``); without it, the network's own precision must have
  a peak on the hardware (the fallback to the hardware's default precision, with its note, is the full path's);
- the prediction fits the hardware's memories (a misfit warns, which is the full path's), with a margin of 1e-9
  so that rounding cannot decide it.

Anything else (layer-level and transformer networks, ``--mode``, ``--traffic``, calibrations, files, unknown names,
an option given twice or abbreviated, a value argparse would read otherwise) is declined, so that every error,
warning and suggestion is the full path's own. The one note such a prediction can carry, that a GPU or CPU bound
too small to set the latency is overhead-bound, is :func:`overhead_note`'s, the full path's own rule.

**The model.** An aggregate network of ``O`` ops per frame, ``W`` weight bytes per batch and ``A`` activation
bytes per frame (unknown: 0), at batch ``b`` on an engine of peak ``P`` (ops/s, for the compute data type) whose
levels ``l`` have bandwidth ``BW_l`` (bytes/s) and capacity ``C_l`` (bytes), weights in level ``w`` and activations
in level ``a``. Under the ``weights_only`` traffic model the batch moves ``M_l = W`` bytes at ``l = w`` and none
elsewhere (the state, 0 bytes, adds 0: :func:`~rooflinekit.roofline.reference.traffic_bytes_scalar`); network mode
puts the batch through one roofline (:func:`~rooflinekit.roofline.reference.roofline_time_scalar`)::

    t      = max(O b / P, max_l M_l / BW_l)          s per batch; bound "compute" or "memory:<level>"
    t_pess = sum_l M_l / BW_l + O b / P              s (no overlap); t_opt = t (one kernel)
    fps = b / t,   ops = O b / b,   bytes = sum_l M_l / b,   operational_intensity = O b / sum_l M_l
    attainable_ops_per_s = O b / t,   peak_ops_per_s = P,   fits: W [l = w] + b A [l = a] <= C_l for every l

with the operations in the order :mod:`rooflinekit.roofline.stacked` performs them, so that every number is the
full path's bit for bit (``tests/test_cli_quick.py`` compares the two on every catalog network, hardware,
precision, batch and format).

**Its data cannot go stale.** What it needs of the catalog (each accepted hardware's peaks, levels and the levels
holding each tensor role; each aggregate network's counted totals at its own precision and at each data type) is
computed by the full path's own code (the validated specs, :meth:`~rooflinekit.roofline.CountedNetwork.of`,
:meth:`~rooflinekit.descriptors.HardwareSpec.memory_for`) and kept as JSON in the user cache folder
(:mod:`rooflinekit.catalog_files`), keyed on the modification time and size of every catalog file and of the
package's modules that compute it. A changed file makes the next command rebuild it (with the heavy imports, once);
a build that fails or warns is not kept, and the command is declined.
"""

from __future__ import annotations

import math
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Sequence

from rooflinekit._limits import MAX_BATCH
from rooflinekit.catalog_files import (
    HARDWARE_DIR, MODEL_DIR, cache_file, catalog_files, named, network_key, normalize_name, read_cache, stamp,
    write_cache,
)
from rooflinekit.cli_common import FORMATS
from rooflinekit.display import si
from rooflinekit.errors import RooflineError

from rooflinekit.roofline import reference  # plain Python: the package imports numpy only for other names

if TYPE_CHECKING:
    from rooflinekit.descriptors import HardwareSpec, NetworkSpec
    from rooflinekit.roofline import CountedNetwork

TABLE_VERSION = 2
"""Format of the cached quick table; a table of another version is rebuilt (2: hardware records hold ``kind``)."""
FITS_MARGIN = 1e-9
"""Relative margin below each level's capacity that the resident bytes must stay within to be answered here (the
full path's misfit test is ``resident > capacity * (1 + 1e-12)``; a case this close to it is declined)."""
_PACKAGE = Path(__file__).resolve().parent
_CODE_FOLDERS = ("", "descriptors", "counters", "roofline")
"""The package folders whose modules compute the table (specs, counting, placement); with ``importers/__init__.py``
(the model-file suffixes) their modules' stamps key the table with the catalog files'."""
_VALUED = {"--hardware": "hardware", "--precision": "precision", "--batch": "batch", "--format": "format"}
_FLAGS = {"--quiet": "quiet", "-q": "quiet", "--wide": "wide"}


LAUNCH_OVERHEAD_S = 5e-6
"""Time a GPU spends launching one kernel, or a CPU framework dispatching one operator (s): the floor of the
per-kernel overhead :func:`overhead_note` compares the bound with. A few microseconds per launch is what NVIDIA
measures for back-to-back launches of short kernels (NVIDIA Technical Blog, "Getting Started with CUDA Graphs",
2019); the stacks measured in ``benchmarks/fidelity/RESULTS.md`` pay much more: on the NAS-Bench-201 networks at
batch 1 (``../shared/data/nb201``, every 250th architecture, costed in layer mode) the measured latency per fused
kernel is 55 us (TITAN RTX) and 83 us (GTX 1080 Ti) under PyTorch, 80 us on a Xeon Gold 6226 (PyTorch), 95 us and
221 us on a Pixel 3 and a Raspberry Pi 4 (TFLite), medians, against roofline bounds of 0.06-0.09 us per kernel on
the GPUs (the latency about 900x the bound) and 0.5 us on the Xeon (170x). The smaller figure makes the rule hold
for lean stacks too (TensorRT, CUDA graphs)."""
AGGREGATE_KERNELS = 100
"""Kernels at which the note is given for a network known by totals only (its kernel count unknown): its bound
below ``AGGREGATE_KERNELS x LAUNCH_OVERHEAD_S`` (0.5 ms). The catalog's aggregate networks are CNNs of tens of
layers (MobileNetV1 28, ResNet-50 54 conv and fully connected layers) and an MLP, each launching about one kernel
per layer or more; the note says the condition it rests on (more kernels than the bound pays for)."""
OVERHEAD_KINDS = ("GPU", "CPU")
"""Hardware kinds whose inference runs as kernels launched (GPU) or operators dispatched (CPU) by a host framework,
one per layer or fused group, each at a cost the roofline does not count."""


def overhead_note(kind: str, latency_s: float, kernels: int | None) -> str | None:
    """The note of a roofline bound too small to set the latency: on a GPU or CPU (:data:`OVERHEAD_KINDS`) whose bound
    per kernel is below the launch cost :data:`LAUNCH_OVERHEAD_S`, the launch and framework overhead (which no
    roofline counts) must exceed the bound; None otherwise.

    The rule, with t the bound of a batch (s), K the kernels the prediction runs, t_L = :data:`LAUNCH_OVERHEAD_S`::

        t / K < t_L                       (a layer network: K kernels, after fusion)
        t < AGGREGATE_KERNELS x t_L       (a network known by totals: K unknown; the note says it holds when the
                                           network runs more than t / t_L kernels)

    Shared by :func:`rooflinekit.api.predict` (``Prediction.notes``), a sweep's rows
    (:mod:`rooflinekit.roofline.predictor`, the same rule on arrays) and the quick path, so that all give it alike;
    its text is one per hardware kind and network form (:func:`overhead_text`), the numbers being the row's own.

    Parameters
    ----------
    kind : str
        The hardware's kind (``GPU``).
    latency_s : float
        The roofline bound of a batch, t (s).
    kernels : int or None
        Kernels the prediction runs, K; None for a network known by totals only.

    Returns
    -------
    str or None
        The note, or None when the rule does not apply.
    """
    if kind not in OVERHEAD_KINDS or not latency_s > 0:
        return None
    if kernels is None:
        return overhead_text(kind, True) if latency_s < AGGREGATE_KERNELS * LAUNCH_OVERHEAD_S else None
    return overhead_text(kind, False) if kernels >= 1 and latency_s / kernels < LAUNCH_OVERHEAD_S else None


def overhead_text(kind: str, aggregate: bool) -> str:
    """The text of :func:`overhead_note` on hardware of ``kind`` (one of :data:`OVERHEAD_KINDS`) for a network known
    by totals only (``aggregate``) or by its layers."""
    launch = "launch" if kind == "GPU" else "dispatch"
    floor = si(LAUNCH_OVERHEAD_S, "s")
    effect = (f"per-kernel {launch} and framework overhead, which no roofline counts, sets the real latency, and "
              "this bound is only its floor (small CNNs at batch 1 measured hundreds of times their bound on GPUs, "
              "NAS-Bench-201 in benchmarks/fidelity/RESULTS.md); a larger batch amortizes the overhead")
    if aggregate:
        return (f"overhead: the bound is below {si(AGGREGATE_KERNELS * LAUNCH_OVERHEAD_S, 's')}, what "
                f"{AGGREGATE_KERNELS} kernels take to {launch} at {floor} each, and the network is known by totals "
                f"only (its kernel count unknown): run as more kernels than latency_s / {floor} (about one per "
                f"layer), {effect}")
    return (f"overhead: the bound per kernel (latency_s / kernels) is below the {floor} a {kind} takes to {launch} "
            f"one: {effect}")


class QuickPrediction(NamedTuple):
    """A command answered by the quick path: ``prediction`` holds the fields of
    :meth:`rooflinekit.roofline.Prediction.to_dict`, in its order; ``tdp_w`` is the hardware's TDP (W, None when
    its spec gives none); ``format``, ``wide`` and ``quiet`` are the command line's options."""

    prediction: dict[str, Any]
    tdp_w: float | None
    format: str
    wide: bool
    quiet: bool


def quick_prediction(words: Sequence[str]) -> QuickPrediction | None:
    """The prediction of the command line ``words`` (without the program name) when the quick path answers it (see
    the module docstring), else None: the full path then runs the command.

    Parameters
    ----------
    words : sequence of str
        ``["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]``.

    Returns
    -------
    QuickPrediction or None
        The prediction and the output options, or None for a command declined.
    """
    given = _options(words)
    if given is None or "model" not in given or "hardware" not in given:
        return None
    model, hardware_name = str(given["model"]), str(given["hardware"])
    batch_text, output = str(given.get("batch", "1")), str(given.get("format", "table"))
    if (output not in FORMATS or not batch_text.isascii() or not batch_text.isdigit() or batch_text[0] == "0"
            or len(batch_text) > 10 or int(batch_text) > MAX_BATCH):
        return None
    table = quick_table()
    if (table is None or Path(model).suffix.lower() in table["model_suffixes"] or Path(model).is_file()
            or Path(hardware_name).suffix.lower() in table["hardware_suffixes"]):
        return None  # a model or hardware file, or no table
    hardware_at = table["hardware_keys"].get(normalize_name(hardware_name))
    family, pct = network_key(model, set(table["families"]))
    network_at = table["network_keys"].get(f"{family}|{pct!r}")
    if hardware_at is None or network_at is None:
        return None  # an unknown name, or a network or hardware the quick path does not take
    hardware, network = table["hardware"][hardware_at], table["networks"][network_at]
    counted = network["counted"].get(str(given.get("precision", "")))  # "": the network's own precision
    if counted is None:
        return None
    prediction = _predict(network, hardware, counted, int(batch_text))
    if prediction is None:
        return None
    return QuickPrediction(prediction, hardware["tdp_w"], output, bool(given.get("wide")), bool(given.get("quiet")))


def _options(words: Sequence[str]) -> dict[str, str | bool] | None:
    """``predict``'s arguments read from ``words`` when they are of the plain forms argparse reads the same way
    (``--option VALUE``, ``--option=VALUE``, the flags, one positional MODEL), each option once and no value
    starting with ``-``; None for anything else."""
    if not words or words[0] != "predict":
        return None
    given: dict[str, str | bool] = {}
    rest = iter(words[1:])
    for word in rest:
        if word in _FLAGS:
            given[_FLAGS[word]] = True
            continue
        option, equals, value = word.partition("=")
        if option in _VALUED:
            if not equals:
                value = next(rest, "")
            name = _VALUED[option]
            if name in given or not value or value.startswith("-"):
                return None
            given[name] = value
        elif word and not word.startswith("-") and "model" not in given:
            given["model"] = word
        else:
            return None
    return given


def _predict(network: Mapping[str, Any], hardware: Mapping[str, Any], counted: Sequence[Any],
             batch: int) -> dict[str, Any] | None:
    """The fields of the prediction of ``network`` counted as ``counted`` on ``hardware`` at ``batch`` (the formulas
    of the module docstring), or None when the full path would not give a plain fitting prediction (no peak for the
    compute data type, a misfit, a number that is not finite)."""
    precision, dtype, ops_per_frame, weight_bytes, activation_bytes = counted
    peak = hardware["peaks"].get(dtype)
    if peak is None:
        return None  # the full path falls back to the default precision (with a note) or says what to pass
    names = [name for name, _, _ in hardware["levels"]]
    bandwidth = [float(level[1]) for level in hardware["levels"]]
    capacity = [float(level[2]) for level in hardware["levels"]]
    weights_level, activations_level, state_level = hardware["roles"]
    frames = float(batch)
    activations = 0.0 if activation_bytes is None else float(activation_bytes)  # unknown: only the weights count
    for level, held in enumerate(capacity):
        resident = (weight_bytes if level == weights_level else 0.0) + (
            frames * activations if level == activations_level else 0.0)
        if resident > held * (1 - FITS_MARGIN):
            return None
    weights_by_level = [float(weight_bytes) if level == weights_level else 0.0 for level in range(len(names))]
    moved = reference.traffic_bytes_scalar(weights_by_level, activations, 0.0, batch, activations_level,
                                           state_level, False)
    ops = ops_per_frame * frames
    time_s, bound = reference.roofline_time_scalar(ops, moved, peak, bandwidth)
    # levels in level order, then compute: the additions of the core's pessimistic sum (0 + m_0 is m_0 exactly)
    pessimistic_s = sum(m / bw for m, bw in zip(moved, bandwidth)) + ops / peak
    bytes_batch = sum(moved)
    numbers = {"fps": batch / time_s, "latency_s": time_s, "ops": ops / batch, "bytes": bytes_batch / batch,
               "operational_intensity": ops / bytes_batch if bytes_batch > 0 else math.inf,
               "attainable_ops_per_s": ops / time_s, "peak_ops_per_s": peak, "latency_optimistic_s": time_s,
               "latency_pessimistic_s": pessimistic_s}
    if not time_s > 0 or not all(math.isfinite(v) for v in numbers.values()):
        return None  # the full path's error (nothing to predict, or out of float64's range)
    note = overhead_note(hardware["kind"], time_s, None)  # as rooflinekit.predict adds it
    return {
        "network": network["label"], "hardware": hardware["name"], "precision": precision,
        "pruning_pct": network["pruning_pct"], "batch": batch, "mode": "network", "traffic": "weights_only",
        "fps": numbers["fps"], "latency_s": time_s, "bound": "compute" if bound < 0 else f"memory:{names[bound]}",
        **{key: numbers[key] for key in ("ops", "bytes", "operational_intensity", "attainable_ops_per_s",
                                         "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s")},
        "estimate": "bound", "engines": (hardware["name"],), "engine_batches": (batch,), "kernels": 1, "fits": True,
        "notes": () if note is None else (note,), "bound_latency_s": None, "latency_interval_s": None,
        "calibration_levels": (),
    }


def csv_text(record: Mapping[str, Any]) -> str:
    """``record`` as the CSV pandas writes for a one-row table of it (``tabular(frame).to_csv(index=False)``): a
    header line and one row; lists joined with ``;``, None empty, floats as ``repr`` writes them, fields quoted only
    where they need it, lines ended with ``\\n``.

    Parameters
    ----------
    record : mapping
        Column -> a str, bool, int, finite float, None, or tuple of those.

    Returns
    -------
    str
        The two lines.
    """
    import csv
    import io

    from rooflinekit.output import LIST_SEPARATOR, table_cell

    cells = [table_cell(value, LIST_SEPARATOR) for value in record.values()]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(record))
    writer.writerow(["" if cell is None else repr(cell) if isinstance(cell, float) else str(cell) for cell in cells])
    return out.getvalue()


def quick_table() -> dict[str, Any] | None:
    """The quick path's data (see the module docstring): read from the user cache when it was made from the
    current catalog files and modules, else built and cached; None when it cannot be built.

    Returns
    -------
    dict or None
        ``hardware`` (records: ``name``, ``kind``, ``tdp_w``, ``peaks`` by data type in ops/s, ``levels`` as
        ``[name, bandwidth B/s, capacity B]``, ``roles``: the level of the weights, activations and state) and
        ``hardware_keys`` (normalized name or alias -> record); ``networks`` (``label``, ``pruning_pct``,
        ``counted``: precision text, ``""`` for the network's own -> ``[precision label, compute data type, ops
        per frame, weight bytes per batch, activation bytes per frame or None]``), ``network_keys``
        (``"family|pct"`` -> record) and ``families``; the suffixes that make a name a file.
    """
    try:
        files = stamp([*catalog_files(HARDWARE_DIR, "hardware"), *catalog_files(MODEL_DIR, "networks"),
                       *_code_files()])
    except OSError:
        return None
    path = cache_file(f"quick-predict-{zlib.crc32(str(_PACKAGE).encode()):08x}.json")  # one per installation
    cached = read_cache(path, files, TABLE_VERSION)
    if cached is not None:
        return cached
    table = _build_table()
    if table is not None:
        table = {"version": TABLE_VERSION, "files": files, **table}
        write_cache(path, table)
    return table


def _code_files() -> list[Path]:
    """The package's modules that compute the quick table (see :data:`_CODE_FOLDERS`), in name order."""
    return [*(p for folder in _CODE_FOLDERS for p in named(_PACKAGE / folder, ".py")),
            _PACKAGE / "importers" / "__init__.py"]


def _build_table() -> dict[str, Any] | None:
    """The quick table's data computed by the full path's code (specs validated, networks counted), or None when the
    catalog fails to load or warns (the full path then reports it)."""
    from rooflinekit.api import HARDWARE_SUFFIXES
    from rooflinekit.catalog import HardwareCatalog, NetworkCatalog
    from rooflinekit.importers import MODEL_SUFFIXES

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            # not the cached catalogs (hardware_catalog()): what the full path loads in this process stays as it was
            hardware = _hardware_part(HardwareCatalog.from_dir(HARDWARE_DIR).specs)
            networks = _network_part(NetworkCatalog.from_dir(MODEL_DIR).specs)
        except (RooflineError, OSError):
            return None
    if said:
        return None
    return {**hardware, **networks, "hardware_suffixes": list(HARDWARE_SUFFIXES),
            "model_suffixes": list(MODEL_SUFFIXES)}


def _hardware_part(specs: Sequence[HardwareSpec]) -> dict[str, Any]:
    """``hardware`` and ``hardware_keys`` of the quick table (see :func:`quick_table`): the specs of one engine,
    one device and no spilled weights."""
    records: list[dict[str, Any]] = []
    keys: dict[str, int] = {}
    for spec in specs:
        if not (spec.engines or spec.interconnect is not None or any(m.spill_to for m in spec.memories)):
            keys.update(dict.fromkeys((normalize_name(n) for n in (spec.name, *spec.aliases)), len(records)))
            records.append(_hardware_record(spec))
    return {"hardware": records, "hardware_keys": keys}


def _network_part(specs: Sequence[NetworkSpec]) -> dict[str, Any]:
    """``networks``, ``network_keys`` and ``families`` of the quick table (see :func:`quick_table`): the aggregate
    networks, counted at their own precision and at each data type's (those that fail to count are left out)."""
    from rooflinekit.descriptors import AggregateNetwork, DType, Precision
    from rooflinekit.roofline import CountedNetwork, network_label

    precisions: dict[str, Precision | None] = {"": None}
    for dtype in DType:
        try:
            precisions[dtype.value] = Precision.parse(dtype.value)
        except RooflineError:
            continue  # a data type no precision is made of: declined when asked for
    records: list[dict[str, Any]] = []
    keys: dict[str, int] = {}
    for spec in specs:
        if not isinstance(spec, AggregateNetwork):
            continue
        counted: dict[str, list[Any]] = {}
        for text, precision in precisions.items():
            try:
                counted[text] = _counted_record(CountedNetwork.of(spec, precision))
            except RooflineError:
                continue  # a precision this network cannot be counted at: declined when asked for
        if "" in counted:
            keys.update(dict.fromkeys((f"{normalize_name(n)}|{spec.pruning_pct!r}" for n in (spec.name, *spec.aliases)),
                                      len(records)))
            records.append({"label": network_label(spec), "pruning_pct": spec.pruning_pct, "counted": counted})
    families = sorted({normalize_name(n) for s in specs for n in (s.name, *s.aliases)})
    return {"networks": records, "network_keys": keys, "families": families}


def _hardware_record(spec: HardwareSpec) -> dict[str, Any]:
    """What the quick path needs of a one-engine hardware ``spec`` (see :func:`quick_table`)."""
    engine = spec.compute_engines[0]
    levels = list(spec.memories)
    return {"name": spec.name, "kind": spec.kind.value, "tdp_w": spec.tdp_w,
            "peaks": {d.value: p for d, p in spec.peak_ops_per_s.items()},
            "levels": [[m.name, m.bandwidth_bytes_per_s, m.capacity_bytes] for m in levels],
            "roles": [levels.index(spec.memory_for(role, engine)) for role in ("weights", "activations", "state")]}


def _counted_record(counted: CountedNetwork) -> list[Any]:
    """``[precision label, compute data type, ops per frame, weight bytes per batch, activation bytes per frame or
    None]`` of an aggregate network's one counted row."""
    activations = float(counted.activation_bytes[0])
    return [counted.precision.label, str(counted.compute_dtype[0]), float(counted.ops[0]),
            float(counted.weight_bytes[0]), None if math.isnan(activations) else activations]
