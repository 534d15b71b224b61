"""Calibration features: the layer-mode roofline time of a record's network on its hardware, per op class.

Features (:func:`calibration_features`) of a record r (network N on hardware H, batch B):

    T_c(r) = sum over N's layers of class c of t_layer,   t_layer = max(ops / peak, bytes / bandwidth)
             (rooflinekit.predict, mode="layer", traffic "weights_and_activations" by default)
    c      = "<op class>/<compute dtype>" (``conv/int8``), op class from :func:`op_class`

Two class schemes (:data:`OP_CLASS_SCHEMES`, argument ``op_classes``): ``coarse`` (conv, depthwise_conv,
fully_connected, other; what the MCU calibration was fitted with) and ``fine``, which splits ``other`` by the op's
:class:`~rooflinekit.descriptors.OpClass` (elementwise, norm, pool, reduce, movement, attention, ...): on GPUs and
CPUs a ReLU, a layer norm and an average pool reach different fractions of their (memory) roofs, and one factor
for all of them cannot rank networks that mix them in different proportions (NAS-Bench-201 at batch 256). In the
``fine`` scheme a batch norm is ``elementwise``: at inference it is a per-channel scale and shift with stored
statistics, one pass over its input like a ReLU or an add, while the rest of the norm class (layer, RMS, group and
instance norm, softmax) reduces over a row before it writes, two dependent passes. Fitted as one class, the
NAS-Bench-201 cells' batch norms (0.45x their roofline on the GPUs) and the NeuSight transformers' layer norms and
softmaxes (6x) set one factor between them; apart, the eager-latency calibration's NeuSight GPUs went from 35 % to
17.5 % median APE left out (NAS-Bench-201's from 20.5 to 20.7 %; ``benchmarks/fidelity/RESULTS.md``).

next to the catalog hardware, its core family (:func:`core_family`), the spec clock, the network's MACs, its
layer-mode roofline latency and its kernel count (:data:`FEATURE_COLUMNS`):

    kernels(r) = number of N's layers with t_layer > 0   (dimensionless)

i.e. one kernel launch per layer that computes or moves anything, as an eager framework (PyTorch, a TFLite
interpreter) runs them; views (``identity``, ``flatten``) launch none. The per-kernel overhead term of the model
(:mod:`.model`) multiplies it. Each (network, precision) is counted once and reused on every board and batch.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import get_hardware, get_network
from rooflinekit.compare.loaders import MODEL_FILE_NETWORKS
from rooflinekit.compare.records import is_missing
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork, NetworkSpec, OpClass, OpKind, layer_op_class
from rooflinekit.display import counted, si
from rooflinekit._warnings import caller_stacklevel
from rooflinekit.errors import CalibrationError, CalibrationWarning, RooflineError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.networks.nb201 import (
    SOURCE as NB201_SOURCE, nb201_arch_of, nb201_constant_output, nb201_execution, nb201_layer_union, nb201_network,
    parse_nb201_arch,
)
from rooflinekit.progress import progress
from rooflinekit.roofline import (
    MemoryLayout, Placement, RowTraffic, TrafficModel, evaluate, place, predict, residency, roofline_times,
    traffic_model,
)
from rooflinekit.roofline.engines import engines_running_all
from rooflinekit.roofline.predictor import check_arguments
from rooflinekit.roofline.workload import CountedNetwork, count_once

CONV_OPS = frozenset(kind.value for kind in OpKind if kind.op_class is OpClass.CONV)
"""The conv-class kinds (conv, conv_transpose): calibration class ``conv`` or ``depthwise_conv``."""
FULLY_CONNECTED_OPS = frozenset({OpKind.FULLY_CONNECTED.value, OpKind.MATMUL.value})
"""The kinds of calibration class ``fully_connected``: of the gemm class, einsum stays ``other``."""
_CONV_CLASSES = {OpClass.CONV: "conv", OpClass.DEPTHWISE: "depthwise_conv"}
ROOFLINE_PREFIX = "roofline_s:"
FEATURE_COLUMNS = ("catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs", "roofline_latency_s",
                   "kernels")
UNKNOWN = "<unknown>"
OP_CLASS_SCHEMES = ("coarse", "grouped", "fine")
"""Calibration class schemes of :func:`op_class` (module docstring)."""
"""A missing key value (precision, framework, ...) in keys and messages."""

NetworkIndex = Mapping[tuple[str, str], NetworkSpec]


def op_class(layer: Layer, scheme: str = "coarse") -> str:
    """The calibration class of ``layer`` from :func:`~rooflinekit.descriptors.layer_op_class`.

    ``depthwise_conv`` for a conv whose groups equal its input channels (> 1), ``conv`` for other (transposed)
    convs, ``fully_connected`` for fully_connected and matmul (:data:`FULLY_CONNECTED_OPS`; einsum is not one);
    the rest is ``other`` in the ``coarse`` scheme, and its :class:`~rooflinekit.descriptors.OpClass` value
    (``elementwise``, ``norm``, ``pool``, ...; ``other`` for unsupported ops) in the ``fine`` scheme, where a batch
    norm is ``elementwise`` (module docstring). The
    ``grouped`` scheme is ``coarse`` with ``grouped_conv`` for a conv with 1 < groups < input channels (ResNeXt's
    3x3 convs fill a tensor-core tile far less than a dense conv of the same MACs; the MLPerf Inference GPU
    calibration, :mod:`.inference_offline`).
    """
    kind = layer_op_class(layer)
    calibration_class = _CONV_CLASSES.get(kind)
    if calibration_class == "conv" and scheme == "grouped" and int(layer.attrs.get("groups", 1)) > 1:
        return "grouped_conv"
    if calibration_class is not None:
        return calibration_class
    if layer.op in FULLY_CONNECTED_OPS:
        return "fully_connected"
    if scheme == "fine" and layer.op == OpKind.BATCH_NORM.value:
        return OpClass.ELEMENTWISE.value  # a per-channel scale and shift at inference (module docstring)
    return kind.value if scheme == "fine" and kind is not None else "other"


def check_op_classes(scheme: str) -> str:
    """``scheme`` if it is one of :data:`OP_CLASS_SCHEMES`, else a :class:`CalibrationError` listing them."""
    if scheme not in OP_CLASS_SCHEMES:
        raise CalibrationError(f"op_classes {scheme!r} unknown; choose one of {list(OP_CLASS_SCHEMES)}")
    return scheme


def core_family(spec: HardwareSpec) -> str:
    """Core type without the FPU suffix (``Cortex-M4F`` -> ``Cortex-M4``); the kind (``GPU``) when no core is given."""
    if spec.core_type:
        return re.sub(r"^(Cortex-[AMR]\d+)F$", r"\1", spec.core_type.strip())
    return spec.kind.value


def network_index(networks: Iterable[NetworkSpec], aliases: Mapping[str, str] | None = None) -> dict:
    """``{(record network name, precision label): spec}``: each spec under its record name (``aliases`` maps spec
    names, i.e. file stems, to record names; default :data:`~rooflinekit.compare.loaders.MODEL_FILE_NETWORKS`, so
    ``ad01_int8`` is indexed as ``ad01``; a network :func:`~rooflinekit.networks.nb201_network` built, ``NB201
    <arch>``, as its architecture string) and under its own name, the record name first (the name features carry,
    :func:`calibration_features`). Two specs answering to the same name and precision raise a
    :class:`CalibrationError`."""
    return _index(((spec, f"network {spec.name!r}") for spec in networks), aliases)


def _index(entries: Iterable[tuple[NetworkSpec, str]], aliases: Mapping[str, str] | None) -> dict:
    """:func:`network_index` of ``(spec, where it came from)`` pairs; ``where`` names a clash's two sides."""
    aliases = MODEL_FILE_NETWORKS if aliases is None else aliases
    index: dict[tuple[str, str], NetworkSpec] = {}
    where: dict[tuple[str, str], str] = {}
    for spec, origin in entries:
        for name in dict.fromkeys((aliases.get(spec.name) or _nb201_record_name(spec) or spec.name, spec.name)):
            key = (name, spec.precision.label)
            if key in index:
                raise CalibrationError(f"{where[key]} and {origin} both answer to network {name!r} at precision "
                                       f"{key[1]}; rename one of them or give only one")
            index[key], where[key] = spec, origin
    return index


def _nb201_record_name(spec: NetworkSpec) -> str | None:
    """The record name of a network :func:`~rooflinekit.networks.nb201_network` built (``NB201 <arch>``): its
    architecture string, as NAS-Bench-201 tables and :func:`~rooflinekit.compare.loaders.load_nb201` name it; None
    for any other network."""
    return nb201_arch_of(spec.name) if spec.source == NB201_SOURCE else None


def networks_from_files(paths: Iterable[str | Path], aliases: Mapping[str, str] | None = None) -> dict:
    """:func:`network_index` of model files; a folder stands for every ``.onnx``/``.tflite`` file in it and in its
    sub-folders. A file given twice (directly and through its folder) is read once; a folder holding no model file
    raises a :class:`CalibrationError`."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES and p.is_file())
        if not found:
            raise CalibrationError(f"model folder {str(path)!r} holds no {'/'.join(MODEL_SUFFIXES)} file (its "
                                   "sub-folders searched too); give the folder or the files of the records' models")
        files += found
    unique = list({path.resolve(): path for path in files}.values())
    return _index(((load_model(path), repr(str(path))) for path in unique), aliases)


class FeatureResult(NamedTuple):
    """``features``: the featurized records (their columns, then :data:`FEATURE_COLUMNS` and ``roofline_s:<class>``
    columns); ``skipped``: records that could not be featurized, with a ``reason``."""

    features: pd.DataFrame
    skipped: pd.DataFrame


_FOLDERS = re.compile(r".*[/\\]")


def file_stem(name: str) -> str:
    """A record's network written as a model file (``./models/vww_96_int8.tflite``, ``vww_96_int8.tflite``) as the
    file's stem (``vww_96_int8``, the name :func:`~rooflinekit.importers.load_model` gives its network); any other
    name as given."""
    stem = _FOLDERS.sub("", name)
    suffix = Path(stem).suffix
    return stem[:-len(suffix)] if suffix.lower() in MODEL_SUFFIXES else name


def record_model_files(names: Iterable[Any]) -> list[Path]:
    """The model files records name by path: each distinct name with a model file's suffix (``.onnx``,
    ``.tflite``) that is a file, relative to the working folder. Give them to :func:`networks_from_files` (with
    any other model files) to resolve the records' networks; a name that is no file is left to be matched by its
    stem (:func:`indexed_network`)."""
    paths = (Path(name) for name in dict.fromkeys(n for n in names if isinstance(n, str)))
    return [path for path in paths if path.suffix.lower() in MODEL_SUFFIXES and path.is_file()]


def indexed_network(name: str, precision: str | None, networks: NetworkIndex
                    ) -> tuple[str, NetworkSpec, str | None] | None:
    """The index name a record's network matched in ``networks`` (:func:`network_index`), its spec and the
    precision to re-type it to (None: the spec's own); None when no index name matches. ``name`` matches an index
    name as given, else as a model file's stem (:func:`file_stem`); by name and ``precision``, else by name alone
    when one spec has it. Several specs of the name, none at ``precision`` (or ``precision`` None), raise a
    :class:`CalibrationError` naming their precisions."""
    for candidate in dict.fromkeys((name, file_stem(name)) if isinstance(name, str) else (name,)):
        if precision is not None and (candidate, precision) in networks:
            return candidate, networks[(candidate, precision)], None
        same_name = [(known_precision, spec) for (known, known_precision), spec in networks.items()
                     if known == candidate]
        if len(same_name) == 1:
            return candidate, same_name[0][1], precision
        if same_name:
            found = ", ".join(sorted(p for p, _ in same_name))
            if precision is None:
                raise CalibrationError(f"network {name!r} at precision {UNKNOWN}: its model files at precisions "
                                       f"{found} match and the record names no precision; give the record's "
                                       "precision (a precision column; on the command line --set precision=int8 "
                                       "for every record)")
            raise CalibrationError(f"network {name!r} at precision {precision}: its model files are at precisions "
                                   f"{found} only; give its model file at {precision}")
    return None


def _resolve_network(name: str, precision: str | None, networks: NetworkIndex, framework: object = None
                     ) -> tuple[str | None, NetworkSpec, str | None]:
    """The index name a record's network matched (None: built or found in the catalog), its spec and the precision
    to re-type it to (None: the spec's own): :func:`indexed_network`, else a NAS-Bench-201 architecture string
    (:func:`~rooflinekit.networks.nb201.nb201_arch_of`: its CIFAR-10 network as the record's ``framework`` runs it,
    :func:`~rooflinekit.networks.nb201.nb201_execution`; a malformed one is a :class:`~rooflinekit.errors.SpecError`
    naming the fault), else the network catalog."""
    found = indexed_network(name, precision, networks)
    if found is not None:
        return found
    arch = nb201_arch_of(name)
    if arch is not None:
        return None, nb201_network(arch, execution=nb201_execution(framework)), precision
    try:
        return None, get_network(name), precision
    except RooflineError as exc:  # keep the catalog's "did you mean" hint
        catalog = f"; the network catalog: {exc}"
    known = ", ".join(sorted(f"{n} ({p})" for n, p in networks)) or "none"
    raise CalibrationError(f"network {name!r} at precision {precision or UNKNOWN}: no model file matches (model files "
                           f"given: {known}){catalog}; pass its model file")


def aggregate_error(network: NetworkSpec) -> CalibrationError:
    """The error of a calibrated prediction of ``network``, held as totals only (an aggregate network), named with
    its pruning (``ResNet-50 80%``) when it has one."""
    pruning = getattr(network, "pruning_pct", 100)
    name = network.name if pruning == 100 else f"{network.name} {pruning:g}%"
    return CalibrationError(f"{name} is an aggregate network (totals only); calibration needs per-layer costs: give "
                            "a layer network or a model file, or ask for the roofline bound (not calibrated)")


def class_layers(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int,
                 traffic: str, counted: CountedNetwork | None = None, op_classes: str = "coarse") -> pd.DataFrame:
    """The layer-mode roofline rows (one kernel per layer, ``traffic``) of ``network`` on ``spec`` with each
    layer's ``calibration_class`` (``<op class>/<compute dtype>``, e.g. ``conv/int8``) and ``kernel`` (1 where the
    layer launches a kernel: ``time_s`` > 0, else 0). ``counted``: ``network`` already counted at ``precision``
    (:meth:`CountedNetwork.of`), to skip counting it again; ``op_classes``: the class scheme of :func:`op_class`."""
    if not isinstance(network, LayerNetwork):
        raise aggregate_error(network)
    layers = _layer_rows(network, spec, precision, batch, traffic, counted)
    check_op_classes(op_classes)
    classes = layers.name.map({layer.name: op_class(layer, op_classes) for layer in network.layers}) + "/" \
        + layers.compute_dtype
    return layers.assign(calibration_class=classes, kernel=(layers.time_s > 0).astype(int))


def _class_times(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int,
                 traffic: str, counted: CountedNetwork | None = None, op_classes: str = "coarse") -> dict[str, float]:
    """Feature values of one (network, hardware, precision, batch): roofline seconds per class, MACs, latency,
    kernels."""
    layers = class_layers(network, spec, precision, batch, traffic, counted, op_classes)
    times = layers.time_s.groupby(layers.calibration_class).sum()
    return {**hardware_features(spec), "macs": float(layers.macs.sum()),
            "roofline_latency_s": float(layers.time_s.sum()), "kernels": float(layers.kernel.sum()),
            **{ROOFLINE_PREFIX + name: float(time) for name, time in times.items()}}


def class_times_at(network: NetworkSpec, hardware: Sequence[tuple[HardwareSpec, Iterable[int]]],
                   precision: str | None, traffic: str, counted: CountedNetwork | None = None,
                   op_classes: str = "coarse") -> list[dict[int, dict[str, Any]]]:
    """The feature values of one network at one precision on each hardware at each of its batches, as
    :func:`calibration_features` computes them for a record of that hardware and batch (:data:`FEATURE_COLUMNS` and
    the ``roofline_s:<class>`` columns of the classes the network has); each layer's class is found once for all.

    Per hardware H and batch B, with the layer-mode roofline of :func:`class_layers` (one kernel per layer,
    ``traffic``)::

        T_c(H, B)     = sum over layers of class c of t_layer(H, B)   (s; the ``roofline_s:<c>`` column)
        latency(H, B) = sum over layers of t_layer(H, B)              (s; ``roofline_latency_s``)
        kernels(H, B) = count of layers with t_layer(H, B) > 0

    The layer times of all batches of a hardware come from one pass of the roofline's arrays
    (:func:`_layer_times`), the same numbers as one layer-mode prediction per batch; a combination that cannot
    be predicted is costed batch by batch (:func:`_class_times_each`), which raises the error the first failing
    prediction meets.

    Parameters
    ----------
    network, precision, traffic, counted, op_classes
        As :func:`class_layers` takes them.
    hardware : sequence of (HardwareSpec, iterable of int)
        Each hardware with the batches (samples per batch) to cost on it.

    Returns
    -------
    list of dict
        Per hardware, ``{batch: {column: value}}`` for each distinct batch: the columns of
        :func:`calibration_features`'s features after the records' own.

    Raises
    ------
    CalibrationError
        As :func:`class_layers` does (an aggregate network, no layer rows, an unknown class scheme); the roofline's
        errors (a precision without a peak, ...) as they are.
    """
    asked = [(spec, list(batches)) for spec, batches in hardware]  # each iterable read once, for either way
    found = _class_times_at_once(network, asked, precision, traffic, counted, op_classes)
    return found if found is not None else _class_times_each(network, asked, precision, traffic, counted, op_classes)


def _class_times_at_once(network: NetworkSpec, hardware: list[tuple[HardwareSpec, list[int]]],
                         precision: str | None, traffic: str, counted: CountedNetwork | None,
                         op_classes: str) -> list[dict[int, dict[str, Any]]] | None:
    """:func:`class_times_at` from :func:`_layer_times`, each hardware's batches at once; None when some
    combination cannot be predicted (an aggregate network, an unknown class scheme, a batch, precision or
    traffic the roofline refuses, a batch without time), which :func:`_class_times_each` then says."""
    if not isinstance(network, LayerNetwork) or op_classes not in OP_CLASS_SCHEMES:
        return None
    try:
        counted = count_once(network, precision) if counted is None else counted
        model = traffic_model(traffic)
        sizes = [list(dict.fromkeys(int(b) for b in batches)) for _, batches in hardware]
        for batch in (b for batch_sizes in sizes for b in batch_sizes):
            check_arguments(batch, "layer")
        if counted.is_aggregate:
            return None
        classes = {layer.name: op_class(layer, op_classes) for layer in network.layers}
        names, codes = np.unique([f"{classes[name]}/{dtype}" for name, dtype in
                                  zip(counted.layers["name"], counted.layers["compute_dtype"])], return_inverse=True)
        macs = counted.layers["macs"].to_numpy()
        out = []
        for (spec, _), batch_sizes in zip(hardware, sizes):
            rows: dict[int, dict[str, Any]] = {}
            if batch_sizes:
                times, frames = _layer_times(counted, spec, np.array(batch_sizes, dtype=np.int64), model)
                totals = [float(row.sum()) for row in times]
                if not all(0 < total < np.inf for total in totals):  # the prediction's "no time" or overflow
                    return None
                fixed = hardware_features(spec)
                for batch, row, total, size in zip(batch_sizes, times, totals, frames.tolist()):
                    per_class = np.bincount(codes, weights=row, minlength=len(names))
                    rows[batch] = {**fixed, "macs": _macs_at(macs, size / counted.cost.batch),
                                   "roofline_latency_s": total, "kernels": float((row > 0).sum()),
                                   **{ROOFLINE_PREFIX + str(name): float(t) for name, t in zip(names, per_class)}}
            out.append(rows)
    except RooflineError:
        return None
    return out


def hardware_features(spec: HardwareSpec) -> dict[str, Any]:
    """The feature columns of a hardware itself: ``catalog_hardware``, ``hardware_class``, ``core_family`` and
    ``spec_clock_hz`` (Hz, NaN without a clock)."""
    return {"catalog_hardware": spec.name, "hardware_class": spec.kind.value, "core_family": core_family(spec),
            "spec_clock_hz": float("nan") if spec.clock_hz is None else spec.clock_hz}


def _macs_at(macs: np.ndarray, scale: float) -> float:
    """The MACs of a layer table at ``scale`` times the counted batch: each layer's counted MACs x ``scale``
    rounded to an integer (as the prediction's layer table scales them), summed."""
    return float((macs if scale == 1 else np.round(macs * scale).astype(np.int64)).sum())


def _layer_times(counted: CountedNetwork, spec: HardwareSpec, batches: np.ndarray,
                 traffic: TrafficModel) -> tuple[np.ndarray, np.ndarray]:
    """Per batch of ``batches`` (B,), each layer's time in the layer table of ``predict(counted, spec, batch=B,
    mode="layer", traffic=traffic, fuse=False)`` (s, (B, R)) and the frames that table is costed at (B,).

    On a ``batch_split`` device with two or more engines that run the whole network the prediction's table is that
    of the engine given most of the batch (the first such), at its share of the frames: the shares come from one
    evaluation of all batches (:func:`~rooflinekit.roofline.evaluate`), the tables from :func:`_engine_layer_times`
    once per such engine. Elsewhere every layer is placed as the prediction places it and the frames are the
    batch.
    """
    capable = engines_running_all(counted, spec) if spec.engine_policy == "batch_split" else []
    if len(capable) < 2:
        return _engine_layer_times(counted, place(counted, spec), spec, batches, traffic), batches
    split = evaluate(counted, spec, batches, "layer", traffic, fuse=False)
    names = [engine.name for engine in spec.compute_engines]
    engine, frames = np.empty(len(batches), dtype=np.int64), np.empty(len(batches), dtype=np.int64)
    for i, (used, shares) in enumerate(zip(split.arrays["engines"], split.arrays["engine_batches"])):
        most = shares.index(max(shares))
        engine[i], frames[i] = names.index(used[most]), shares[most]
    times = np.empty((len(batches), len(counted.ops)))
    for e in np.unique(engine).tolist():
        mine = engine == e
        times[mine] = _engine_layer_times(counted, place(counted, spec, [e]), spec, frames[mine], traffic)
    return times, frames


def _engine_layer_times(counted: CountedNetwork, placement: Placement, spec: HardwareSpec, frames: np.ndarray,
                        traffic: TrafficModel) -> np.ndarray:
    """(B, R) s: each layer of ``counted`` as its own kernel on ``placement`` at each of ``frames`` (B,) frames
    per batch, the layer-mode roofline of the predictor (weights resident or spilled per batch, bytes moved by
    ``traffic`` at each level l)::

        t = max(ops x B / peak_k, max_l bytes_l / bandwidth_l) + kernel overhead,
        peak_k = ops x B / (ops x B / peak)   (1 for a layer without ops)

    element by element as the predictor computes a kernel of one layer, so the same numbers."""
    layout = MemoryLayout.of(spec)
    b = frames.astype(np.float64)
    resident = residency(counted, placement, layout, b)
    moved = traffic.moved_bytes(RowTraffic(
        resident.weights_by_level, counted.known_activation_bytes, placement.activations_level, counted.state_bytes,
        placement.state_level, placement.on_chip_level, placement.on_chip_capacity_bytes, b))  # (R, B, L)
    ops = counted.ops[:, None] * b[None, :]  # (R, B)
    compute = ops / placement.peak_ops_per_s[:, None]
    peak = np.where(compute > 0, ops / np.where(compute > 0, compute, 1.0), 1.0)
    rows, n = ops.shape
    times = roofline_times(ops.ravel(), moved.reshape(rows * n, -1), peak.ravel(), layout.bandwidth_bytes_per_s)
    return np.ascontiguousarray((times.time_s.reshape(rows, n) + placement.kernel_overhead_s[:, None]).T)


def _class_times_each(network: NetworkSpec, hardware: list[tuple[HardwareSpec, list[int]]], precision: str | None,
                      traffic: str, counted: CountedNetwork | None, op_classes: str) -> list[dict[int, dict[str, Any]]]:
    """:func:`class_times_at` from one layer-mode prediction per hardware and batch (:func:`class_layers`), which
    raises the error the first combination that cannot be predicted meets."""
    names: np.ndarray | None = None
    codes = np.empty(0, dtype=np.int64)
    out = []
    for spec, batches in hardware:
        fixed = hardware_features(spec)
        rows: dict[int, dict[str, Any]] = {}
        for batch in dict.fromkeys(int(b) for b in batches):
            if names is None:  # the layers' classes: the counted network's, the same on every hardware and batch
                layers = class_layers(network, spec, precision, batch, traffic, counted, op_classes)
                names, codes = np.unique(layers["calibration_class"].to_numpy(dtype=str), return_inverse=True)
            else:
                layers = _layer_rows(network, spec, precision, batch, traffic, counted)
            time_s = layers["time_s"].to_numpy(dtype=float)
            per_class = np.bincount(codes, weights=time_s, minlength=len(names))
            rows[batch] = {**fixed, "macs": float(layers["macs"].sum()), "roofline_latency_s": float(time_s.sum()),
                           "kernels": float((time_s > 0).sum()),
                           **{ROOFLINE_PREFIX + str(name): float(t) for name, t in zip(names, per_class)}}
        out.append(rows)
    return out


def _layer_rows(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int, traffic: str,
                counted: CountedNetwork | None) -> pd.DataFrame:
    """The layer-mode roofline rows :func:`class_layers` adds its columns to (one kernel per layer, ``traffic``)."""
    if counted is None:
        layers = predict(network, spec, precision, batch, mode="layer", traffic=traffic, fuse=False).layers
    else:
        layers = predict(counted, spec, None, batch, mode="layer", traffic=traffic, fuse=False).layers
    if layers is None:
        raise CalibrationError(f"{network.name} gave no layer rows in layer mode; calibration needs per-layer costs")
    return layers


def is_hardware_file(name: Any) -> bool:
    """Whether a record's ``hardware`` names a hardware YAML file: a str ending in ``.yaml`` or ``.yml``."""
    from rooflinekit.api import HARDWARE_SUFFIXES

    return isinstance(name, str) and Path(name).suffix.lower() in HARDWARE_SUFFIXES


def record_hardware(name: Any, files: dict[str, HardwareSpec]) -> HardwareSpec:
    """The spec a record's ``hardware`` names: a hardware YAML file (:func:`is_hardware_file`; one spec, read
    relative to the working folder and cached in ``files``, so each file is read once; a file that cannot be read
    is a :class:`CalibrationError` naming it) or a catalog name or alias."""
    from rooflinekit.api import resolve_hardware

    if is_hardware_file(name):
        if name not in files:
            try:
                files[name] = resolve_hardware(name)
            except RooflineError as exc:
                raise CalibrationError(f"hardware file {name!r}: {exc}") from None
        return files[name]
    return get_hardware(name)


def calibration_features(records: pd.DataFrame, networks: NetworkIndex,
                         hardware: Mapping[str, HardwareSpec] | None = None,
                         traffic: TrafficModel | str = "weights_and_activations",
                         op_classes: str = "coarse") -> FeatureResult:
    """Join each record (``hardware``, ``network``, optional ``precision`` and ``batch``) with its roofline costs.

    Hardware resolves through ``hardware`` (name -> spec), else as a hardware YAML file (a name ending in
    ``.yaml``/``.yml``: one spec, read relative to the working folder as ``--hardware`` reads it, each file once),
    else the catalog (aliases included); networks through
    ``networks`` (:func:`network_index`: by name and precision, else by name alone; a name written as a model file,
    ``vww_96_int8.tflite`` or a path to it, by the file's stem), else the network catalog. A network found in
    ``networks`` under another of its names is renamed to its record name (its first name in ``networks``:
    ``ad01_int8`` -> ``ad01``), so the calibration counts it as one network.
    A NAS-Bench-201 architecture string (``|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+...``, or ``NB201 <arch>``, the
    name :func:`~rooflinekit.networks.nb201_network` gives it) is its CIFAR-10 network as the record's ``framework``
    runs it (:func:`~rooflinekit.networks.nb201.nb201_execution`: ``pruned`` of its ``none`` edges on TFLite,
    ``eager`` otherwise), and its records are named by
    the architecture string (stripped), so that both spellings are one network, as a query of
    ``nb201_network(arch)`` is (an index of such networks answers to their architecture strings too); the
    architectures of one hardware, batch and precision are costed together through the union of their layers, the
    same sums at a fraction of the time (600 records of 300 architectures: 0.55 s against 10.5 s one by one).
    ``roofline_s:<class>`` is 0 where the network has no layer of that class. Records that cannot be resolved
    are returned in ``skipped`` with the reason, never dropped silently. ``op_classes``: the class scheme
    (:data:`OP_CLASS_SCHEMES`). Records with a ``latency_s`` measured faster than their roofline bound warn one
    :class:`~rooflinekit.errors.CalibrationWarning` per call (:func:`faster_than_bound`: a spec or unit error, or
    NAS-Bench-201 cells whose output is a constant), and the features are marked as checked
    (``attrs[BOUND_CHECKED]``), so that :func:`~.defaults.extend_default_calibration` does not warn of them again.
    """
    check_op_classes(op_classes)
    missing = [c for c in ("hardware", "network") if c not in records.columns]
    if missing:
        raise CalibrationError(f"records lack the columns {missing}; each record names its hardware and network")
    traffic = traffic_model(traffic).name
    hardware = hardware or {}
    cache: dict[tuple, dict[str, float]] = {}
    counted: dict[tuple[int, str | None], CountedNetwork] = {}
    files: dict[str, HardwareSpec] = {}  # hardware YAML files named by the records, read once each
    kept, values, skipped = [], [], []
    record_names: dict[int, str] = {}  # each indexed spec's first name: its record name (network_index)
    for (name, _), indexed in networks.items():
        record_names.setdefault(id(indexed), name)
    renamed: dict[int, str] = {}  # position in the kept records -> the record name of a network spelled otherwise
    cache.update(_nb201_class_times(records, networks, hardware, files, traffic, op_classes))
    rows = progress(records.iterrows(), "calibration features", total=len(records), unit="record")
    for position, (_, record) in enumerate(rows):
        precision = None if is_missing(record.get("precision")) else str(record["precision"])
        batch = 1 if is_missing(record.get("batch")) else int(record["batch"])
        try:
            spec = hardware.get(record["hardware"]) or record_hardware(record["hardware"], files)
            framework = record.get("framework")
            matched, network, retype = _resolve_network(record["network"], precision, networks, framework)
            key = (record["network"], precision, spec.name, batch, nb201_execution(framework))
            if key not in cache:
                if isinstance(network, LayerNetwork) and (id(network), retype) not in counted:
                    counted[(id(network), retype)] = CountedNetwork.of(network, retype)
                cache[key] = _class_times(network, spec, retype, batch, traffic, counted.get((id(network), retype)),
                                          op_classes)
        except RooflineError as exc:
            skipped.append({**record.to_dict(), "reason": " ".join(str(exc).split())})
            continue
        kept.append(position)
        values.append(cache[key])
        name = record_names[id(network)] if matched is not None else nb201_arch_of(record["network"])
        if name is not None and name != record["network"]:
            renamed[len(kept) - 1] = name
    base = records.iloc[kept]
    if renamed:
        base = base.copy()
        base.iloc[list(renamed), base.columns.get_loc("network")] = list(renamed.values())
    extra = pd.DataFrame(values, index=base.index)
    times = sorted(c for c in extra.columns if c.startswith(ROOFLINE_PREFIX))
    extra = extra.reindex(columns=[*FEATURE_COLUMNS, *times])
    extra[times] = extra[times].fillna(0.0)
    base = base.drop(columns=[c for c in extra.columns if c in records.columns])
    features = pd.concat([base, extra], axis=1)
    impossible = faster_than_bound(features)
    if impossible:
        warnings.warn(impossible, CalibrationWarning, stacklevel=caller_stacklevel())
    features.attrs[BOUND_CHECKED] = True
    return FeatureResult(features, pd.DataFrame(skipped, columns=[*records.columns, "reason"]))


def _nb201_class_times(records: pd.DataFrame, networks: NetworkIndex, hardware: Mapping[str, HardwareSpec],
                       files: dict[str, HardwareSpec], traffic: str, op_classes: str) -> dict[tuple, dict[str, float]]:
    """:func:`_class_times` of the records naming NAS-Bench-201 architectures that ``networks`` does not hold, keyed
    as :func:`calibration_features` keys them (record network, precision, hardware name, batch, execution: how the
    record's ``framework`` runs it, :func:`~rooflinekit.networks.nb201.nb201_execution`).

    The networks of one (hardware, batch, precision) are costed together: one layer-mode roofline of the union of
    their distinct layers (:func:`~rooflinekit.networks.nb201_layer_union`; a layer's time depends on that layer
    alone), each network's values the sums over its layers (``incidence @ column``), so thousands of architectures
    cost about as much as one. A record whose hardware or architecture cannot be read (a misspelt op) is left to
    the record loop, which says why.
    """
    groups: dict[tuple[str, int, str | None, str], tuple[HardwareSpec, dict[str, str]]] = {}
    absent = pd.Series(None, index=records.index, dtype=object)
    for name, device, precision, batch, framework in zip(
            records["network"], records["hardware"], records.get("precision", absent), records.get("batch", absent),
            records.get("framework", absent)):
        arch = nb201_arch_of(name)
        if arch is None:
            continue
        precision = None if is_missing(precision) else str(precision)
        batch = 1 if is_missing(batch) else int(batch)
        execution = nb201_execution(framework)
        try:
            if indexed_network(name, precision, networks) is not None:
                continue
            parse_nb201_arch(arch)
            spec = hardware.get(device) or record_hardware(device, files)
        except RooflineError:
            continue
        groups.setdefault((spec.name, batch, precision, execution), (spec, {}))[1][name] = arch
    cache: dict[tuple, dict[str, float]] = {}
    for (_, batch, precision, execution), (spec, archs) in groups.items():
        union, incidence = nb201_layer_union(list(dict.fromkeys(archs.values())), batch, execution=execution)
        layers = class_layers(union, spec, precision, batch, traffic, op_classes=op_classes)
        position = {arch: row for row, arch in enumerate(dict.fromkeys(archs.values()))}
        classes = sorted(layers["calibration_class"].unique())
        sums = incidence.astype(float) @ np.column_stack(
            [layers["macs"].to_numpy(dtype=float), layers["time_s"].to_numpy(dtype=float),
             layers["kernel"].to_numpy(dtype=float),
             *((layers["time_s"] * (layers["calibration_class"] == kind)).to_numpy(dtype=float) for kind in classes)])
        names = [ROOFLINE_PREFIX + kind for kind in classes]
        fixed = hardware_features(spec)
        for name, arch in archs.items():
            row = sums[position[arch]]
            cache[(name, precision, spec.name, batch, execution)] = {
                **fixed, "macs": row[0], "roofline_latency_s": row[1], "kernels": row[2], **dict(zip(names, row[3:]))}
    return cache


BOUND_CHECKED = "faster_than_bound_checked"
"""The ``DataFrame.attrs`` key set on the features :func:`calibration_features` returns: their records faster than
their roofline bound (:func:`faster_than_bound`) were warned of there. pandas keeps ``attrs`` through selections,
copies and added columns, so a later step warns only of features built otherwise."""


def faster_than_bound(features: pd.DataFrame) -> str | None:
    """Why featurized records measured faster than their roofline bound cannot be fitted as they are; None when
    there is none.

    A roofline is an upper bound on speed: a record with ``latency_s < roofline_latency_s`` (both in s, per batch)
    ran faster than its hardware spec allows, so the spec's peaks or bandwidths are below the board's (often the
    memory the weights are read from) or the latency's unit is wrong. Fitted as it is, it pulls its classes'
    factors below 1 and widens every interval of the calibration. The message counts such records, names the
    first (``source`` or row index, hardware, network, measured and bound latency) and says what to check; where
    some are NAS-Bench-201 networks whose cells' output is a constant
    (:func:`~rooflinekit.networks.nb201.nb201_constant_output`), which a compiler folds away, it counts those and
    says to leave them out instead.
    """
    if not {"latency_s", "roofline_latency_s"} <= set(features.columns):
        return None
    faster = features[features["latency_s"] < features["roofline_latency_s"]]
    if faster.empty:
        return None
    first = faster.iloc[0]
    where = first["source"] if "source" in faster.columns and not is_missing(first["source"]) else \
        f"row {faster.index[0]}"
    message = faster_than_bound_message(len(faster), f"{where}: {first.get('hardware')} / {first.get('network')}",
                                        first["latency_s"], first["roofline_latency_s"],
                                        "fitted as they are, they pull the factors below 1 and widen every interval")
    constant = sum(_constant_nb201(name) for name in faster.get("network", ()))
    if constant:
        message += (f"; {constant} of them {'is a' if constant == 1 else 'are'} NAS-Bench-201 "
                    f"network{'' if constant == 1 else 's'} whose cells' output does not depend on their input (no "
                    "path of edges other than none from node 0 to node 3), which a graph compiler such as TFLite "
                    "can fold to a constant: their spec and unit are not at fault; leave them out "
                    "(rooflinekit.networks.nb201.nb201_constant_output(arch) finds them)")
    return message


def _constant_nb201(name: Any) -> bool:
    """Whether a record's network is a NAS-Bench-201 architecture whose cells' output is a constant
    (:func:`~rooflinekit.networks.nb201.nb201_constant_output`); False for any other name or a malformed one."""
    arch = nb201_arch_of(name)
    try:
        return arch is not None and nb201_constant_output(arch)
    except RooflineError:
        return False


def faster_than_bound_message(count: int, first: str, measured_s: float, bound_s: float, consequence: str) -> str:
    """The warning of ``count`` records measured faster than their roofline bound (:func:`faster_than_bound`, and
    :func:`~rooflinekit.compare.align.align`'s efficiencies above 100 %): ``first`` names the first of them
    (``runs.csv:2: my_board.yaml / ad01``), ``measured_s`` and ``bound_s`` are its measured and bound latency (s,
    per batch; their ratio bound_s / measured_s > 1 is how much faster), ``consequence`` says what the records
    do where they are used. The message says what to check: the spec's peaks and the bandwidth of the memory its
    weights are read from, and the records' latency unit."""
    return (f"{counted(count, 'record')} measured faster than the roofline bound of its hardware spec, which no "
            f"board can beat (first: {first}: measured {si(measured_s, 's')} < bound {si(bound_s, 's')}, "
            f"{bound_s / measured_s:.3g}x faster); check the spec's peaks and the bandwidth of the memory its "
            "weights are read from (rooflinekit hardware show FILE), and the records' latency unit (--units "
            f"latency_s=ms / units=); {consequence}")


def class_columns(features: pd.DataFrame) -> list[str]:
    """The ``roofline_s:<class>`` columns of a feature frame."""
    return [c for c in features.columns if c.startswith(ROOFLINE_PREFIX)]
