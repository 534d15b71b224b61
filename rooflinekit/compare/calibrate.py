"""Calibrated latency prediction: layer-mode roofline times per op class, scaled by fitted efficiency factors.

A roofline on datasheet peaks is an upper bound; MCU software stacks reach a fraction of it that depends on the
core, the stack and its version, the op kind and the precision. This module fits those fractions on measured
records, then predicts unseen networks on known hardware and unseen hardware from its spec.

Features (:func:`calibration_features`) of a record r (network N on hardware H, batch B):

    T_c(r) = sum over N's layers of class c of t_layer,   t_layer = max(ops / peak, bytes / bandwidth)
             (rooflinekit.predict, mode="layer", traffic "weights_and_activations" by default)
    c      = "<op class>/<compute dtype>" (``conv/int8``), op class from :func:`op_class`

Model (:class:`CalibratedPredictor`):

    latency_s(r) = sum_c F_c(r) * T_c(r)
    log F_c(r)   = theta0 + b[global][c] + b[core_family][c] + b[framework][c] + b[framework_version][c]
                   + b[system][c]

each b taken at r's key on that level: the core family of H (:func:`core_family`), the software-stack family
(:func:`~rooflinekit.compare.records.normalize_framework`), (family, version) and the system (``system_columns``). A
missing key value is the category ``<unknown>``. F_c is the slowdown over the roofline (efficiency = 1 / F_c); on a
compute-bound layer it equals cycles per op x the core's peak ops per cycle.

Fit: theta0 = median_r log(latency_r / sum_c T_c(r)); the b minimize

    sum_r (log predicted_r - log measured_r)^2 + sum_b lambda(level of b) * b^2

by Gauss-Newton. lambda weighs like pseudo-records: a factor backed by n records whose time lies in its class moves
n / (n + lambda) of the way from what the coarser levels say (theta0 for the global level) to what its records say.
lambda is ``shrinkage`` on the global, core-family, framework and framework-version levels and
``system_shrinkage`` on systems, whose few records mix network-specific quirks into their factor.

Fallback: a key not seen in fit adds b = 0, so the prediction rests on the coarser levels (system -> framework
version + framework + core family -> global); a class no record had gets exp(theta0), with a
:class:`CalibrationWarning`. There is no per-inference overhead term: on the MLPerf Tiny networks it cannot be told
apart from the fully-connected factor (AD is fully connected only).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import get_hardware, get_network
from rooflinekit.compare.loaders import MODEL_FILE_NETWORKS, load_mlperf_tiny, load_table
from rooflinekit.compare.records import LoadResult, is_missing, normalize_framework
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork, NetworkSpec
from rooflinekit.errors import CalibrationError, RooflineError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.roofline import Traffic, predict

CONV_OPS = frozenset({"conv", "conv_transpose"})
FULLY_CONNECTED_OPS = frozenset({"fully_connected", "matmul"})
ROOFLINE_PREFIX = "roofline_s:"
FEATURE_COLUMNS = ("catalog_hardware", "core_family", "spec_clock_hz", "macs", "roofline_latency_s")
LEVELS = ("global", "core_family", "framework", "framework_version", "system")
REQUIRABLE_LEVELS = LEVELS[1:]
DEFAULT_SYSTEM_COLUMNS = ("catalog_hardware", "framework", "framework_version")
UNKNOWN = "<unknown>"
KEY_SEPARATOR = " | "
JSON_FORMAT = "rooflinekit.calibration/1"

NetworkIndex = Mapping[tuple[str, str], NetworkSpec]


class CalibrationWarning(UserWarning):
    """A prediction leans on a fallback the user should know about."""


# --- features ------------------------------------------------------------------------------------------------------

def op_class(layer: Layer) -> str:
    """``depthwise_conv`` for a conv whose groups equal its input channels (> 1), ``conv`` for other (transposed)
    convs, ``fully_connected`` for fully_connected and matmul, ``other`` for the rest (pooling, elementwise, ...)."""
    if layer.op in CONV_OPS:
        groups = int(layer.attrs.get("groups", 1))
        channels = layer.inputs[0][1] if layer.inputs and len(layer.inputs[0]) > 1 else None
        return "depthwise_conv" if groups > 1 and groups == channels else "conv"
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
    if not same_name:
        try:
            return get_network(name), precision
        except RooflineError:
            pass
    known = ", ".join(sorted(f"{n} ({p})" for n, p in networks)) or "none"
    raise CalibrationError(f"network {name!r} at precision {precision or UNKNOWN}: no model file matches and the "
                           f"network catalog lacks it; pass its model file (model files given: {known})")


def _class_times(network: NetworkSpec, spec: HardwareSpec, precision: str | None, batch: int,
                 traffic: str) -> dict[str, float]:
    """Feature values of one (network, hardware, precision, batch): roofline seconds per class, MACs, latency."""
    if not isinstance(network, LayerNetwork):
        raise CalibrationError(f"{network.name} is an aggregate network (totals only); calibration needs per-layer "
                               "costs: give a layer network or a model file")
    prediction = predict(network, spec, precision, batch, mode="layer", traffic=traffic)
    layers = prediction.layers
    classes = layers.name.map({layer.name: op_class(layer) for layer in network.layers}) + "/" + layers.compute_dtype
    times = layers.time_s.groupby(classes).sum()
    return {"catalog_hardware": spec.name, "core_family": core_family(spec),
            "spec_clock_hz": float("nan") if spec.clock_hz is None else spec.clock_hz,
            "macs": float(layers.macs.sum()), "roofline_latency_s": prediction.latency_s,
            **{ROOFLINE_PREFIX + name: float(time) for name, time in times.items()}}


def calibration_features(records: pd.DataFrame, networks: NetworkIndex,
                         hardware: Mapping[str, HardwareSpec] | None = None,
                         traffic: Traffic | str = Traffic.WEIGHTS_AND_ACTIVATIONS) -> FeatureResult:
    """Join each record (``hardware``, ``network``, optional ``precision`` and ``batch``) with its roofline costs.

    Hardware resolves through ``hardware`` (name -> spec), else the catalog (aliases included); networks through
    ``networks`` (:func:`network_index`: by name and precision, else by name alone), else the network catalog.
    ``roofline_s:<class>`` is 0 where the network has no layer of that class. Records that cannot be resolved
    are returned in ``skipped`` with the reason, never dropped silently.
    """
    missing = [c for c in ("hardware", "network") if c not in records.columns]
    if missing:
        raise CalibrationError(f"records lack the columns {missing}; each record names its hardware and network")
    traffic = Traffic.parse(traffic).value
    hardware = hardware or {}
    cache: dict[tuple, dict[str, float]] = {}
    kept, values, skipped = [], [], []
    for position, (_, record) in enumerate(records.iterrows()):
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


# --- the predictor ---------------------------------------------------------------------------------------------------

def _key_strings(features: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One key per row: the columns' values joined by ' | ', a missing value (or absent column) as <unknown>."""
    if not columns:
        return np.full(len(features), "*", dtype=object)
    parts = [features[c].map(lambda v: UNKNOWN if is_missing(v) else str(v)) if c in features.columns
             else pd.Series(UNKNOWN, index=features.index) for c in columns]
    return parts[0].str.cat(parts[1:], sep=KEY_SEPARATOR).to_numpy(dtype=object) if len(parts) > 1 \
        else parts[0].to_numpy(dtype=object)


class CalibratedPredictor:
    """Efficiency factors per core family, software stack, stack version and system, per op class and precision.

    Parameters (stored only; the module docstring gives the model):

    - ``shrinkage``: lambda of the global, core-family, framework and framework-version levels, in pseudo-records
    - ``system_shrinkage``: lambda of the system level
    - ``system_columns``: record columns whose values identify a system (a board with one software build)
    - ``required_levels``: levels whose key must have been calibrated; predicting a row with an unseen key there
      raises instead of falling back (e.g. ``("core_family",)``)
    - ``traffic``: the memory-traffic assumption the features were built with (used by :func:`predict_with_calibration`)
    - ``max_iter``, ``tol``: Gauss-Newton stops after ``max_iter`` steps or once no log-factor moves by more than
      ``tol`` in a step

    Learned: ``theta0_``, ``classes_`` (class names fitted), ``coef_`` (level -> key -> log-factor per class, in the
    order of ``classes_``), ``n_records_``, ``n_iter_``, ``objective_``.
    """

    def __init__(self, shrinkage: float = 0.1, system_shrinkage: float = 3.0,
                 system_columns: Sequence[str] = DEFAULT_SYSTEM_COLUMNS, required_levels: Sequence[str] = (),
                 traffic: str = Traffic.WEIGHTS_AND_ACTIVATIONS.value, max_iter: int = 100, tol: float = 1e-6):
        self.shrinkage = shrinkage
        self.system_shrinkage = system_shrinkage
        self.system_columns = tuple(system_columns)
        self.required_levels = tuple(required_levels)
        self.traffic = traffic
        self.max_iter = max_iter
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        return {"shrinkage": self.shrinkage, "system_shrinkage": self.system_shrinkage,
                "system_columns": list(self.system_columns), "required_levels": list(self.required_levels),
                "traffic": self.traffic, "max_iter": self.max_iter, "tol": self.tol}

    # -- helpers -------------------------------------------------------------------------------------------------

    def _check_params(self) -> None:
        for name in ("shrinkage", "system_shrinkage"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise CalibrationError(f"{name} must be a positive number of pseudo-records, got {value!r}")
        unknown = set(self.required_levels) - set(REQUIRABLE_LEVELS)
        if unknown:
            raise CalibrationError(f"required_levels {sorted(unknown)} unknown; choose from {list(REQUIRABLE_LEVELS)}")
        Traffic.parse(self.traffic)

    def _level_columns(self, level: str) -> tuple[str, ...]:
        return {"global": (), "core_family": ("core_family",), "framework": ("framework",),
                "framework_version": ("framework", "framework_version"), "system": self.system_columns}[level]

    def _lambda(self, level: str) -> float:
        return self.system_shrinkage if level == "system" else self.shrinkage

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise CalibrationError("this CalibratedPredictor is not fitted yet; call fit(features) first "
                                   "or load a fitted one with CalibratedPredictor.from_json")

    # -- fit -------------------------------------------------------------------------------------------------------

    def fit(self, features: pd.DataFrame) -> "CalibratedPredictor":
        """Fit on :func:`calibration_features` output that carries the measured ``latency_s`` (s) of each row."""
        self._check_params()
        if len(features) == 0:
            raise CalibrationError("no records to fit; give featurized records with latency_s "
                                   "(see calibration_features)")
        columns = class_columns(features)
        if "latency_s" not in features.columns or not columns:
            raise CalibrationError("fit needs the columns latency_s and roofline_s:<class>; build them with "
                                   f"calibration_features (got {list(features.columns)})")
        latency = features["latency_s"].to_numpy(dtype=float)
        bad = ~(np.isfinite(latency) & (latency > 0))
        if bad.any():
            raise CalibrationError(f"{bad.sum()} records lack a positive latency_s (first at index "
                                   f"{features.index[bad][0]}); select records with a measured latency")
        times = features[columns].to_numpy(dtype=float)
        total = times.sum(axis=1)
        if (total <= 0).any():
            raise CalibrationError(f"records at index {list(features.index[total <= 0][:5])} have no roofline time "
                                   "(networks without ops?); leave them out")
        fitted = times.sum(axis=0) > 0
        times, self.classes_ = times[:, fitted], [c.removeprefix(ROOFLINE_PREFIX)
                                                  for c, f in zip(columns, fitted) if f]
        log_latency = np.log(latency)
        self.theta0_ = float(np.median(log_latency - np.log(total)))
        beta, blocks, self.n_iter_, self.objective_ = self._solve(features, times, log_latency)
        size = len(self.classes_)
        self.coef_ = {level: {key: beta[offset + i * size: offset + (i + 1) * size] for i, key in enumerate(keys)}
                      for level, (keys, offset) in blocks.items()}
        self.n_records_ = len(features)
        return self

    def _solve(self, features: pd.DataFrame, times: np.ndarray, log_latency: np.ndarray
               ) -> tuple[np.ndarray, dict[str, tuple[list[str], int]], int, float]:
        """Gauss-Newton on the penalized least squares of the module docstring, with step halving.

        Returns the coefficients, each level's (keys, offset of its block in the coefficients), the number of
        steps and the final objective. Block layout: coefficient ``offset + key_index * n_classes + class_index``.
        """
        n, n_classes = times.shape
        blocks, penalty, offset, positions = {}, [], 0, []
        for level in LEVELS:
            keys, inverse = np.unique(_key_strings(features, self._level_columns(level)), return_inverse=True)
            blocks[level] = (list(keys), offset)
            positions.append(offset + inverse[:, None] * n_classes + np.arange(n_classes)[None, :])
            penalty += [self._lambda(level)] * (len(keys) * n_classes)
            offset += len(keys) * n_classes
        penalty = np.array(penalty)
        rows = np.arange(n)[:, None]

        def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            parts = np.exp(self.theta0_ + sum(beta[p] for p in positions)) * times
            predicted = parts.sum(axis=1)
            residual = np.log(predicted) - log_latency
            return float(residual @ residual + penalty @ beta**2), residual, parts / predicted[:, None]

        beta = np.zeros(offset)
        objective, residual, share = evaluate(beta)
        for iteration in range(1, self.max_iter + 1):
            jacobian = np.zeros((n, offset))  # d log predicted_r / d beta_j = share of r's time in j's class
            for p in positions:
                jacobian[rows, p] = share
            step = np.linalg.solve(jacobian.T @ jacobian + np.diag(penalty), -(jacobian.T @ residual + penalty * beta))
            scale = 1.0
            while True:
                candidate = evaluate(beta + scale * step)
                if candidate[0] <= objective or scale < 1e-6:
                    break
                scale /= 2
            beta, (objective, residual, share) = beta + scale * step, candidate
            if np.abs(scale * step).max() <= self.tol:
                break
        return beta, blocks, iteration, objective

    # -- predict ---------------------------------------------------------------------------------------------------

    def class_factors(self, features: pd.DataFrame) -> pd.DataFrame:
        """F_c per row (index of ``features``) and class (columns named as ``roofline_s:<class>`` without prefix)."""
        self._check_fitted()
        names = [c.removeprefix(ROOFLINE_PREFIX) for c in class_columns(features)]
        if not names:
            raise CalibrationError("features have no roofline_s:<class> columns; build them with calibration_features")
        theta = np.full((len(features), len(self.classes_)), self.theta0_)
        for level in LEVELS:
            keys = _key_strings(features, self._level_columns(level))
            known = self.coef_[level]
            if level in self.required_levels:
                unseen = sorted({k for k in keys if k not in known})
                if unseen:
                    raise CalibrationError(
                        f"{level.replace('_', ' ')} {', '.join(map(repr, unseen))} was not calibrated and "
                        f"required_levels forbids a fallback; calibrated: {', '.join(sorted(known))}")
            zero = np.zeros(len(self.classes_))
            theta += np.array([known.get(k, zero) for k in keys]).reshape(theta.shape)
        factors = pd.DataFrame(np.exp(theta), index=features.index, columns=self.classes_)
        missing = [name for name in names if name not in self.classes_]
        if missing:
            warnings.warn(f"no calibration record had {', '.join(missing)} layers; their roofline time is scaled by "
                          f"the median factor exp(theta0) = {np.exp(self.theta0_):.3g}", CalibrationWarning,
                          stacklevel=2)
        return factors.reindex(columns=names, fill_value=float(np.exp(self.theta0_)))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Predicted latency_s per row: sum_c F_c * T_c."""
        factors = self.class_factors(features)
        return (factors.to_numpy() * features[class_columns(features)].to_numpy(dtype=float)).sum(axis=1)

    def factor_table(self) -> pd.DataFrame:
        """One row per (level, key, class): ``log_factor`` b and ``multiplier`` exp(b) it applies to F_c."""
        self._check_fitted()
        rows = [{"level": level, "key": key, "op_class": name, "log_factor": float(value),
                 "multiplier": float(np.exp(value))}
                for level in LEVELS for key, values in self.coef_[level].items()
                for name, value in zip(self.classes_, values)]
        return pd.DataFrame(rows, columns=["level", "key", "op_class", "log_factor", "multiplier"])

    # -- serialization ---------------------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The parameters and learned factors as JSON text (``format`` = :data:`JSON_FORMAT`)."""
        self._check_fitted()
        return json.dumps({
            "format": JSON_FORMAT, "params": self.get_params(), "theta0": self.theta0_, "classes": self.classes_,
            "n_records": self.n_records_, "n_iter": self.n_iter_, "objective": self.objective_,
            "coefficients": {level: {key: dict(zip(self.classes_, map(float, values)))
                                     for key, values in self.coef_[level].items()} for level in LEVELS},
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "CalibratedPredictor":
        """A fitted predictor from :meth:`to_json` output."""
        hint = "write it with CalibratedPredictor.to_json or 'rooflinekit calibrate'"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"cannot read calibration JSON: {exc}; {hint}") from None
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        if found != JSON_FORMAT:
            raise CalibrationError(f"not a rooflinekit calibration: format {found!r}, expected {JSON_FORMAT!r}; "
                                   f"{hint}")
        try:
            predictor = cls(**data["params"])
            predictor.theta0_, predictor.classes_ = float(data["theta0"]), list(data["classes"])
            predictor.n_records_, predictor.n_iter_ = int(data["n_records"]), int(data["n_iter"])
            predictor.objective_ = float(data["objective"])
            predictor.coef_ = {level: {key: np.array([values[c] for c in predictor.classes_], dtype=float)
                                       for key, values in data["coefficients"][level].items()} for level in LEVELS}
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"calibration JSON incomplete or malformed ({type(exc).__name__}: {exc}); "
                                   f"{hint}") from None
        return predictor


def load_calibration(path: str | Path) -> CalibratedPredictor:
    """A fitted predictor from a JSON file written by :meth:`CalibratedPredictor.to_json`."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: no such calibration file; write one with 'rooflinekit calibrate RECORDS... "
                               "--out FILE'")
    return CalibratedPredictor.from_json(path.read_text(encoding="utf-8"))


# --- paths in, predictions out (CLI helpers) -----------------------------------------------------------------------

def select_calibration_records(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, skipped)``: records with a positive ``latency_s``; where the columns exist, open-division rows
    (the network may differ from the named one) and rows not flagged ``cpu_only_cortex_m`` (accelerators, FPGAs,
    RISC-V, ...: a CPU factor must not be fitted on them) are skipped with a ``reason``."""
    if "latency_s" not in records.columns:
        raise CalibrationError(f"records have no latency_s column (columns: {list(records.columns)}); calibration "
                               "fits measured latencies")
    reasons = pd.Series("", index=records.index)
    reasons[~(records["latency_s"] > 0)] = "no measured latency_s"
    if "division" in records.columns:
        reasons[(reasons == "") & (records["division"] == "open")] = "open division: the network may differ"
    if "cpu_only_cortex_m" in records.columns:
        reasons[(reasons == "") & ~records["cpu_only_cortex_m"].astype(bool)] = (
            "not a CPU-only Cortex-M system (accelerator, FPGA, RISC-V or application processor)")
    skipped = records[reasons != ""].assign(reason=reasons[reasons != ""])
    return records[reasons == ""], skipped


def _load_records(path: Path) -> LoadResult:
    return load_mlperf_tiny(path) if path.is_dir() else load_table(path)


def _default_models(paths: Sequence[Path]) -> list[Path]:
    """``models/`` folders inside or beside record folders (the MLPerf Tiny data layout)."""
    candidates = [folder / "models" for path in paths if path.is_dir() for folder in (path, path.parent)]
    return [folder for folder in dict.fromkeys(candidates) if folder.is_dir()]


def calibrate_from_paths(paths: Sequence[str | Path], models: Sequence[str | Path] = (),
                         **params: Any) -> CalibratedPredictor:
    """Fit a :class:`CalibratedPredictor` (``params``: its constructor's) on records read from ``paths``.

    A folder is read as an MLPerf Tiny results tree, a ``.csv``/``.parquet`` file as a records table with record
    column names. Networks resolve through ``models`` (model files or folders; default: ``models/`` inside or beside
    the record folders), else the network catalog. Records left out (:func:`select_calibration_records`,
    unresolvable names) and rows the loaders rejected are summarized in a :class:`CalibrationWarning`.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise CalibrationError("no record paths given; pass MLPerf Tiny results folders or record tables")
    loaded = [_load_records(path) for path in paths]
    records = pd.concat([result.records for result in loaded], ignore_index=True)
    kept, skipped = select_calibration_records(records)
    predictor = CalibratedPredictor(**params)
    networks = networks_from_files(models or _default_models(paths))
    features, unresolved = calibration_features(kept, networks, traffic=predictor.traffic)
    left_out = pd.concat([*(result.rejected for result in loaded), skipped, unresolved], ignore_index=True)
    if len(left_out):
        counts = left_out["reason"].value_counts()
        warnings.warn(f"{len(left_out)} records left out of the calibration ({len(features)} used): "
                      + "; ".join(f"{n} x {reason}" for reason, n in counts.head(5).items())
                      + ("; ..." if len(counts) > 5 else ""), CalibrationWarning, stacklevel=2)
    return predictor.fit(features)


@dataclass(frozen=True)
class CalibratedPrediction:
    """A calibrated latency (s, per batch) next to the layer-mode roofline it scales; ``classes`` has one row per
    op class: ``op_class``, ``roofline_s``, ``factor`` and ``latency_s`` = factor x roofline_s."""

    network: str
    hardware: str
    precision: str
    batch: int
    framework: str | None
    framework_version: str | None
    latency_s: float
    fps: float
    roofline_latency_s: float
    efficiency_pct: float
    classes: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "network", "hardware", "precision", "batch", "framework", "framework_version", "latency_s", "fps",
            "roofline_latency_s", "efficiency_pct")}


def predict_with_calibration(network: NetworkSpec, hardware: HardwareSpec | str,
                             calibration: CalibratedPredictor | str | Path, framework: str | None = None,
                             framework_version: str | None = None, precision: str | None = None,
                             batch: int = 1) -> CalibratedPrediction:
    """Calibrated latency of ``network`` on ``hardware`` (a spec, possibly absent from the catalog, or a catalog
    name) under the software stack ``framework`` (any spelling; a version in it is used unless
    ``framework_version`` is given). ``calibration`` is a fitted predictor or the path of its JSON.
    ``efficiency_pct`` = 100 x roofline latency / calibrated latency."""
    if not isinstance(calibration, CalibratedPredictor):
        calibration = load_calibration(calibration)
    spec = hardware if isinstance(hardware, HardwareSpec) else get_hardware(hardware)
    family, version = normalize_framework(framework)
    query = pd.DataFrame([{"hardware": spec.name, "network": network.name, "batch": batch,
                           "precision": precision or network.precision.label, "framework": family,
                           "framework_version": framework_version or version}])
    features, skipped = calibration_features(query, network_index([network], {}), {spec.name: spec},
                                             calibration.traffic)
    if len(skipped):
        raise CalibrationError(skipped["reason"].iloc[0])
    factors = calibration.class_factors(features).iloc[0]
    roofline = features[class_columns(features)].iloc[0].to_numpy(dtype=float)
    classes = pd.DataFrame({"op_class": factors.index, "roofline_s": roofline, "factor": factors.to_numpy(),
                            "latency_s": roofline * factors.to_numpy()})
    latency = float(classes.latency_s.sum())
    roofline_latency = float(features["roofline_latency_s"].iloc[0])
    return CalibratedPrediction(network.name, spec.name, query.precision[0], batch, family,
                                query.framework_version[0], latency, batch / latency, roofline_latency,
                                100 * roofline_latency / latency, classes)
