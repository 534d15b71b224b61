"""Calibration features: the layer-mode roofline time of a record's network on its hardware, per op class.

Features (:func:`calibration_features`) of a record r (network N on hardware H, batch B):

    T_c(r) = sum over N's layers of class c of t_layer,   t_layer = max(ops / peak, bytes / bandwidth)
             (rooflinekit.predict, mode="layer", traffic "weights_and_activations" by default)
    c      = "<op class>/<compute dtype>" (``conv/int8``), op class from :func:`op_class`

next to the catalog hardware, its core family (:func:`core_family`), the spec clock, the network's MACs and its
layer-mode roofline latency (:data:`FEATURE_COLUMNS`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

import pandas as pd

from rooflinekit.catalog import get_hardware, get_network
from rooflinekit.compare.loaders import MODEL_FILE_NETWORKS
from rooflinekit.compare.records import is_missing
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork, NetworkSpec, OpClass, OpKind, layer_op_class
from rooflinekit.errors import CalibrationError, RooflineError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.progress import progress
from rooflinekit.roofline import TrafficModel, predict, traffic_model

CONV_OPS = frozenset(kind.value for kind in OpKind if kind.op_class is OpClass.CONV)
"""The conv-class kinds (conv, conv_transpose): calibration class ``conv`` or ``depthwise_conv``."""
FULLY_CONNECTED_OPS = frozenset({OpKind.FULLY_CONNECTED.value, OpKind.MATMUL.value})
"""The kinds of calibration class ``fully_connected``: of the gemm class, einsum stays ``other``."""
_CONV_CLASSES = {OpClass.CONV: "conv", OpClass.DEPTHWISE: "depthwise_conv"}
ROOFLINE_PREFIX = "roofline_s:"
FEATURE_COLUMNS = ("catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs", "roofline_latency_s")
UNKNOWN = "<unknown>"
"""A missing key value (precision, framework, ...) in keys and messages."""

NetworkIndex = Mapping[tuple[str, str], NetworkSpec]


def op_class(layer: Layer) -> str:
    """The calibration class of ``layer``, one of four, from :func:`~rooflinekit.descriptors.layer_op_class`.

    ``depthwise_conv`` for a conv whose groups equal its input channels (> 1), ``conv`` for other (transposed)
    convs, ``fully_connected`` for fully_connected and matmul (:data:`FULLY_CONNECTED_OPS`; einsum is not one),
    ``other`` for the rest (pooling, elementwise, unsupported ops, ...).
    """
    calibration_class = _CONV_CLASSES.get(layer_op_class(layer))
    if calibration_class is not None:
        return calibration_class
    return "fully_connected" if layer.op in FULLY_CONNECTED_OPS else "other"


def core_family(spec: HardwareSpec) -> str:
    """Core type without the FPU suffix (``Cortex-M4F`` -> ``Cortex-M4``); the kind (``GPU``) when no core is given."""
    if spec.core_type:
        return re.sub(r"^(Cortex-[AMR]\d+)F$", r"\1", spec.core_type.strip())
    return spec.kind.value


def network_index(networks: Iterable[NetworkSpec], aliases: Mapping[str, str] | None = None) -> dict:
    """``{(record network name, precision label): spec}``; ``aliases`` maps spec names (file stems) to record names."""
    aliases = MODEL_FILE_NETWORKS if aliases is None else aliases
    return {(aliases.get(spec.name, spec.name), spec.precision.label): spec for spec in networks}


def networks_from_files(paths: Iterable[str | Path], aliases: Mapping[str, str] | None = None) -> dict:
    """:func:`network_index` of model files; a folder stands for every ``.onnx``/``.tflite`` file in it."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.iterdir() if p.suffix.lower() in MODEL_SUFFIXES) if path.is_dir() else [path]
    return network_index((load_model(path) for path in files), aliases)


class FeatureResult(NamedTuple):
    """``features``: the featurized records (their columns, then :data:`FEATURE_COLUMNS` and ``roofline_s:<class>``
    columns); ``skipped``: records that could not be featurized, with a ``reason``."""

    features: pd.DataFrame
    skipped: pd.DataFrame


def _resolve_network(name: str, precision: str | None, networks: NetworkIndex) -> tuple[NetworkSpec, str | None]:
    """The spec of a record's network and the precision to re-type it to (None: the spec's own)."""
    if precision is not None and (name, precision) in networks:
        return networks[(name, precision)], None
    same_name = [spec for (known, _), spec in networks.items() if known == name]
    if len(same_name) == 1:
        return same_name[0], precision
    catalog = ""
    if not same_name:
        try:
            return get_network(name), precision
        except RooflineError as exc:  # keep the catalog's "did you mean" hint
            catalog = f"; the network catalog: {exc}"
    known = ", ".join(sorted(f"{n} ({p})" for n, p in networks)) or "none"
    raise CalibrationError(f"network {name!r} at precision {precision or UNKNOWN}: no model file matches (model files "
                           f"given: {known}){catalog}; pass its model file")


def class_layers(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int,
                 traffic: str) -> pd.DataFrame:
    """The layer-mode roofline rows (one kernel per layer, ``traffic``) of ``network`` on ``spec`` with each
    layer's ``calibration_class`` (``<op class>/<compute dtype>``, e.g. ``conv/int8``)."""
    if not isinstance(network, LayerNetwork):
        raise CalibrationError(f"{network.name} is an aggregate network (totals only); calibration needs per-layer "
                               "costs: give a layer network or a model file")
    layers = predict(network, spec, precision, batch, mode="layer", traffic=traffic, fuse=False).layers
    if layers is None:
        raise CalibrationError(f"{network.name} gave no layer rows in layer mode; calibration needs per-layer costs")
    classes = layers.name.map({layer.name: op_class(layer) for layer in network.layers}) + "/" + layers.compute_dtype
    return layers.assign(calibration_class=classes)


def _class_times(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int,
                 traffic: str) -> dict[str, float]:
    """Feature values of one (network, hardware, precision, batch): roofline seconds per class, MACs, latency."""
    layers = class_layers(network, spec, precision, batch, traffic)
    times = layers.time_s.groupby(layers.calibration_class).sum()
    return {"catalog_hardware": spec.name, "hardware_class": spec.kind.value, "core_family": core_family(spec),
            "spec_clock_hz": float("nan") if spec.clock_hz is None else spec.clock_hz,
            "macs": float(layers.macs.sum()), "roofline_latency_s": float(layers.time_s.sum()),
            **{ROOFLINE_PREFIX + name: float(time) for name, time in times.items()}}


def calibration_features(records: pd.DataFrame, networks: NetworkIndex,
                         hardware: Mapping[str, HardwareSpec] | None = None,
                         traffic: TrafficModel | str = "weights_and_activations") -> FeatureResult:
    """Join each record (``hardware``, ``network``, optional ``precision`` and ``batch``) with its roofline costs.

    Hardware resolves through ``hardware`` (name -> spec), else the catalog (aliases included); networks through
    ``networks`` (:func:`network_index`: by name and precision, else by name alone), else the network catalog.
    ``roofline_s:<class>`` is 0 where the network has no layer of that class. Records that cannot be resolved
    are returned in ``skipped`` with the reason, never dropped silently.
    """
    missing = [c for c in ("hardware", "network") if c not in records.columns]
    if missing:
        raise CalibrationError(f"records lack the columns {missing}; each record names its hardware and network")
    traffic = traffic_model(traffic).name
    hardware = hardware or {}
    cache: dict[tuple, dict[str, float]] = {}
    kept, values, skipped = [], [], []
    rows = progress(records.iterrows(), "calibration features", total=len(records), unit="record")
    for position, (_, record) in enumerate(rows):
        precision = None if is_missing(record.get("precision")) else str(record["precision"])
        batch = 1 if is_missing(record.get("batch")) else int(record["batch"])
        try:
            spec = hardware.get(record["hardware"]) or get_hardware(record["hardware"])
            network, retype = _resolve_network(record["network"], precision, networks)
            key = (record["network"], precision, spec.name, batch)
            if key not in cache:
                cache[key] = _class_times(network, spec, retype, batch, traffic)
        except RooflineError as exc:
            skipped.append({**record.to_dict(), "reason": " ".join(str(exc).split())})
            continue
        kept.append(position)
        values.append(cache[key])
    base = records.iloc[kept]
    extra = pd.DataFrame(values, index=base.index)
    times = sorted(c for c in extra.columns if c.startswith(ROOFLINE_PREFIX))
    extra = extra.reindex(columns=[*FEATURE_COLUMNS, *times])
    extra[times] = extra[times].fillna(0.0)
    base = base.drop(columns=[c for c in extra.columns if c in records.columns])
    return FeatureResult(pd.concat([base, extra], axis=1),
                         pd.DataFrame(skipped, columns=[*records.columns, "reason"]))


def class_columns(features: pd.DataFrame) -> list[str]:
    """The ``roofline_s:<class>`` columns of a feature frame."""
    return [c for c in features.columns if c.startswith(ROOFLINE_PREFIX)]
