"""Align roofline predictions with measured records and compute efficiency.

Both sides are keyed on (hardware, network, pruning_pct, precision, batch):

- ``normalize=True``: a name goes through the user's aliases, then the catalogs (every alias a spec lists, any
  case or punctuation; ``NCS2`` -> ``NCS``, ``ResNet50`` -> ``ResNet-50``); a name the catalog lacks is compared
  by :func:`~rooflinekit.catalog.normalize_name`.
- ``normalize=False``: names are compared after lower-casing only, as the QuTiBench web site does (so ``NCS`` never
  meets ``NCS2``).

In either mode a hardware written as a hardware YAML file (``my_board.yaml``: one spec, read relative to the working
folder, each file once) is the spec it holds, compared by the spec's name, so a record naming the file meets a
prediction made for that spec; a file that cannot be read is the record's unmatched reason. A network found in
``models`` (model files: by the name a record gives it, ``ad01``, or its file's, ``ad01_int8``,
``ad01_int8.tflite`` or a path to it, as :func:`~rooflinekit.compare.calibrate.calibrate_from_paths` resolves them)
is compared by its spec's name; any other network written as a model file (``models/ad01_int8.tflite``) by the
file's stem (``ad01_int8``), the name :func:`rooflinekit.predict` gives a network read from that file.

Predictions may come from :func:`rooflinekit.sweep` or from :meth:`Prediction.to_dict` rows: their ``network`` is a
catalog label (``ResNet-50 80%``) unless a ``pruning_pct`` column is given. On either side a network written as
such a label with a ``pruning_pct`` of 100 (what a record without a pruning column gets) is the pruned network the
label names (``ResNet-50 80%`` -> ResNet-50 at 80 %). Precisions are compared as canonical
labels (``INT8`` = ``int8``). With ``best_over_batch=True`` the batch is left out of the key, every batch size of a
configuration is compared with the same prediction (QuTiBench's predictions do not depend on the batch), and the
column ``best_over_batch`` marks the record of highest ``measured_fps`` per configuration (QuTiBench's rule).

Efficiency (QuTiBench convention): ``efficiency_pct = 100 * measured_fps / predicted_fps``, where ``measured_fps``
is ``throughput_fps``, or ``batch / latency_s`` when only the latency is known. A roofline prediction is an upper
bound on speed: above 100 % a record ran faster than its bound, which no board can, so the hardware spec (its peaks,
the bandwidth of the memory its weights are read from) or the record (its latency unit) is wrong; such rows warn
(:class:`~rooflinekit.errors.CalibrationWarning`, worded as the calibration's check,
:func:`~rooflinekit.compare.calibrate.features.faster_than_bound`) and are kept. Rows matched to a calibrated
prediction (``estimate`` ``calibrated``: an estimate, no bound) are not checked. A record whose ``measured_fps`` is
not a positive finite number (a negative, zero or infinite value given) is not compared: its reason names the value.

Nothing is dropped: every record is in ``matched`` (once) or ``unmatched_records``, every prediction is matched by
some record or in ``unmatched_predictions``, each unmatched row with a ``reason``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from os import PathLike
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import HardwareCatalog, NetworkCatalog, hardware_catalog, network_catalog, normalize_name
from rooflinekit._limits import MAX_BATCH, shown
from rooflinekit._warnings import caller_stacklevel
from rooflinekit.compare.calibrate.features import (
    NetworkIndex, faster_than_bound_message, file_stem, indexed_network, is_hardware_file, networks_from_files,
    record_hardware,
)
from rooflinekit.compare.records import is_missing, require_columns
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.display import counted
from rooflinekit.errors import CalibrationWarning, PrecisionError, RecordError, RooflineError, UnknownNameError

KEY = ("hardware", "network", "pruning_pct", "precision", "batch")
"""The columns both sides are keyed on (records must have them all), in the order of a key tuple."""
PREDICTION_COLUMNS = ("hardware", "network", "precision", "fps")
_LABEL = re.compile(r"^(.*\S)\s+(\d+(?:\.\d+)?)\s*%$")
_KEYS = [f"_key_{name}" for name in KEY]


@dataclass(frozen=True)
class AlignResult:
    """``matched``: one row per matched record: the record's columns, then every prediction column ``c`` as
    ``predicted_c``, then ``measured_fps``, ``efficiency_pct``, ``record_index``, ``prediction_index`` (index labels
    of the inputs) and, with best_over_batch, ``best_over_batch``. ``unmatched_records`` and
    ``unmatched_predictions`` are the unmatched input rows (original index) plus ``reason``."""

    matched: pd.DataFrame
    unmatched_records: pd.DataFrame
    unmatched_predictions: pd.DataFrame


class _Names:
    """Name -> comparison key, cached per distinct name; ``problems`` says why a hardware file or a network of
    ``models`` named so could not be resolved (keyed ``("hw", name)`` or ``("net", name, precision key)``)."""

    def __init__(self, normalize: bool, hardware_aliases: Mapping[str, str], network_aliases: Mapping[str, str],
                 hardware: HardwareCatalog | None, networks: NetworkCatalog | None, models: NetworkIndex):
        self.normalize = normalize
        self.hardware_aliases = {normalize_name(k): v for k, v in hardware_aliases.items()}
        self.network_aliases = {normalize_name(k): v for k, v in network_aliases.items()}
        self.hardware = hardware if hardware is not None or not normalize else hardware_catalog()
        self.networks = networks if networks is not None or not normalize else network_catalog()
        self.models = models
        self.files: dict[str, HardwareSpec] = {}  # hardware YAML files named, read once each
        self.problems: dict[tuple, str] = {}
        self._cache: dict[tuple, Any] = {}

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _spec_name(self, name: str) -> str:
        """The name of the spec the hardware YAML file ``name`` holds; ``name`` (its problem noted) when the file
        cannot be read."""
        try:
            return record_hardware(name, self.files).name
        except RooflineError as exc:
            self.problems[("hw", name)] = " ".join(str(exc).split())
            return name

    def _model(self, name: str, precision: str) -> NetworkSpec | None:
        """The spec of ``models`` that network ``name`` at ``precision`` (a precision key, ``""``: not stated)
        names, None when none does (or several do: the problem noted)."""
        try:
            found = indexed_network(name, precision or None, self.models)
        except RooflineError as exc:
            self.problems[("net", name, precision)] = " ".join(str(exc).split())
            return None
        return None if found is None else found[1]

    def problem(self, hardware: str, network: str, precision: str) -> str | None:
        """Why a record's hardware file or network (as :func:`_keys` passed them) could not be resolved, if so."""
        return self.problems.get(("hw", hardware)) or self.problems.get(("net", network, precision))

    def hardware_key(self, name: str) -> str:
        def compute() -> str:
            name_ = self._spec_name(name) if is_hardware_file(name) else name
            if not self.normalize:
                return name_.strip().casefold()
            name_ = self.hardware_aliases.get(normalize_name(name_), name_)
            try:
                return normalize_name(self.hardware.get(name_).name)
            except UnknownNameError:
                return normalize_name(name_)
        return self._cached(("hw", name), compute)

    def network_key(self, name: str, pruning_pct: float, precision: str) -> tuple[str, float]:
        def compute() -> tuple[str, float]:
            spec = self._model(name, precision) if self.models else None
            if spec is not None:
                return (normalize_name(spec.name) if self.normalize else spec.name.strip().casefold(),
                        round(pruning_pct, 6))
            stem = file_stem(name)  # a model file not in models: the name a network read from it has
            if not self.normalize:
                return stem.strip().casefold(), round(pruning_pct, 6)
            name_ = self.network_aliases.get(normalize_name(stem), stem)
            base, labelled = _split_label(name_)
            pct = labelled if pruning_pct == 100 else pruning_pct  # 100: a record's default, the label says more
            try:
                spec = self.networks.get(name_, pct)
                return normalize_name(spec.name), round(spec.pruning_pct, 6)
            except UnknownNameError:
                return normalize_name(base if labelled == pct else name_), round(pct, 6)
        return self._cached(("net", name, pruning_pct, precision), compute)


def _precision_key(value: Any) -> str:
    if is_missing(value):
        return ""
    try:
        return Precision.parse(str(value)).label
    except PrecisionError:
        return str(value).strip().casefold()


def _precision_keys(values: Iterable[Any]) -> list[str]:
    """:func:`_precision_key` of each value, each distinct (hashable) value parsed once: a table of many rows names
    a few precisions."""
    seen: dict[Any, str] = {}
    keys = []
    for value in values:
        try:
            key = seen.get(value)
        except TypeError:  # unhashable: parsed on its own
            key = _precision_key(value)
        else:
            if key is None:
                key = seen[value] = _precision_key(value)
        keys.append(key)
    return keys


def _split_label(label: str) -> tuple[str, float]:
    """``'ResNet-50 80%'`` -> ``('ResNet-50', 80.0)``; a label without ``P%`` is unpruned."""
    match = _LABEL.match(label)
    return (match.group(1), float(match.group(2))) if match else (label, 100.0)


def _keys(frame: pd.DataFrame, names: _Names, pruning: pd.Series, networks: pd.Series,
          best_over_batch: bool) -> pd.DataFrame:
    precisions = _precision_keys(frame["precision"])
    nets = [names.network_key(str(n), float(p), c) for n, p, c in zip(networks, pruning, precisions)]
    columns = {
        "_key_hardware": ([names.hardware_key(str(h)) for h in frame["hardware"]], object),
        "_key_network": ([n for n, _ in nets], object),
        "_key_pruning_pct": ([p for _, p in nets], "float64"),
        "_key_precision": (precisions, object),
        "_key_batch": ([0] * len(frame) if best_over_batch else frame["batch"], "int64"),
    }
    return pd.DataFrame({name: pd.Series(list(values), index=frame.index, dtype=dtype)
                         for name, (values, dtype) in columns.items()}, index=frame.index)


def measured_fps(records: pd.DataFrame) -> pd.Series:
    """``throughput_fps``, or ``batch / latency_s`` where the throughput is missing (frames per second)."""
    from_latency = records["batch"] / records["latency_s"] if "latency_s" in records else np.nan
    if "throughput_fps" not in records:
        return pd.Series(from_latency, index=records.index, dtype="float64")
    return records["throughput_fps"].astype("float64").fillna(from_latency)


def _unmeasured(records: pd.DataFrame, index: Any, fps: float) -> str:
    """Why record ``index``, whose :func:`measured_fps` ``fps`` is no positive finite number, cannot be compared:
    the value it gives that is not a positive finite number, or that it gives none."""
    for column in ("throughput_fps", "latency_s"):  # the order measured_fps reads them in
        value = pd.to_numeric(records.at[index, column], errors="coerce") if column in records else np.nan
        if not pd.isna(value):
            problem = "not finite" if not np.isfinite(value) else "negative" if value < 0 else \
                "zero" if value == 0 else None
            if problem:
                return (f"{column} is {_plain(value)!r} ({problem}): it must be a positive finite number; nothing "
                        "to compare")
            break
    if not pd.isna(fps):
        return f"measured fps {_plain(fps)!r} (batch / latency_s) is not a positive finite number; nothing to compare"
    return "no throughput_fps or latency_s: nothing to compare"


def _describe(key: tuple) -> str:
    hardware, network, pruning, precision, batch = key
    text = f"hardware {hardware!r}, network {network!r} {pruning:g}%, precision {precision or 'not stated'!r}"
    return text + (f", batch {batch}" if batch else "")


@dataclass(frozen=True)
class _PredictionKeys:
    """Which predictions can be matched: ``keys`` (a key tuple per row), ``usable`` (positive fps, status ok),
    ``ambiguous`` (keys shared by several usable rows), ``unique`` (usable and not ambiguous), ``failure`` (why an
    unusable row cannot be used), ``failed`` (the same per key) and ``prefixes`` (key prefixes of unique rows)."""

    keys: pd.Series
    usable: pd.Series
    ambiguous: set[tuple]
    unique: pd.Series
    failure: dict[Any, str]
    failed: dict[tuple, str]
    prefixes: set[tuple]

    @classmethod
    def of(cls, predictions: pd.DataFrame, keys: pd.DataFrame, fps: pd.Series) -> "_PredictionKeys":
        tuples = pd.Series(list(keys.itertuples(index=False, name=None)), index=predictions.index, dtype=object)
        ok = predictions["status"].eq("ok") if "status" in predictions else pd.Series(True, index=predictions.index)
        usable = ok & fps.gt(0) & np.isfinite(fps)
        counts = tuples[usable].value_counts()
        ambiguous = set(counts[counts > 1].index)
        failure = {i: str(predictions.at[i, "status"]) if not ok.at[i] else f"fps is {predictions.at[i, 'fps']!r}"
                   for i in predictions.index[~usable]}
        unique = usable & ~tuples.isin(ambiguous)
        prefixes = {key[:depth] for key in tuples[unique] for depth in range(1, len(KEY) + 1)}
        return cls(tuples, usable, ambiguous, unique, failure, {tuples.at[i]: why for i, why in failure.items()},
                   prefixes)

    def record_reason(self, key: tuple) -> str:
        """Why a record with ``key`` found no prediction: the first key part no usable prediction has."""
        if key in self.ambiguous:
            return f"ambiguous: several predictions share the key ({_describe(key)}); keep one of them"
        if key in self.failed:
            return f"prediction for this key failed: {self.failed[key]}"
        for depth, what in ((1, "hardware"), (3, "network and pruning on this hardware"), (4, "precision"),
                            (5, "batch size")):
            if key[:depth] not in self.prefixes:
                return f"no prediction with this {what} ({_describe(key)})"
        return f"no prediction for ({_describe(key)})"

    def prediction_reason(self, index: Any) -> str:
        """Why prediction ``index`` matched no record."""
        key = self.keys.at[index]
        if not self.usable.at[index]:
            return f"not predicted: {self.failure[index]}"
        if key in self.ambiguous:
            return f"ambiguous: several predictions share the key ({_describe(key)})"
        return f"no measured record for ({_describe(key)})"


def _prediction_names(predictions: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Network names and pruning: the ``pruning_pct`` column, else split from catalog labels (``ResNet-50 80%``)."""
    if "pruning_pct" in predictions:
        return predictions["network"].astype(str), predictions["pruning_pct"]
    split = [_split_label(str(label)) for label in predictions["network"]]
    return (pd.Series([n for n, _ in split], index=predictions.index),
            pd.Series([p for _, p in split], index=predictions.index))


def _check_inputs(predictions: pd.DataFrame, records: pd.DataFrame, best_over_batch: bool) -> None:
    for frame, what, how in ((predictions, "predictions", "rooflinekit.sweep(...), or "
                              "pd.DataFrame([p.to_dict() for p in predictions])"),
                             (records, "records", "a loader's .records, or pd.DataFrame(rows)")):
        if not isinstance(frame, pd.DataFrame):
            raise RecordError(f"{what} must be a pandas DataFrame, got {type(frame).__name__} {shown(frame, 60)}; "
                              f"pass {how}")
    require_columns(predictions, PREDICTION_COLUMNS + (() if best_over_batch else ("batch",)), "predictions")
    require_columns(records, KEY, "records")
    for frame, what in ((predictions, "predictions"), (records, "records")):
        if not frame.index.is_unique:
            raise RecordError(f"{what} have a repeated index label; call .reset_index(drop=True) first")
    if "throughput_fps" not in records and "latency_s" not in records:
        raise RecordError("records need a throughput_fps or a latency_s column to compute efficiency")
    for frame, what in ((predictions, "predictions"), (records, "records")):
        _check_values(frame, what, best_over_batch)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``nan``, not ``np.float64(nan)``), for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _bad_rows(frame: pd.DataFrame, bad: pd.Series, column: str, what: str, expected: str) -> RecordError:
    rows = list(frame.index[bad.to_numpy(dtype=bool)])
    examples = ", ".join(f"row {shown(i, 20)}: {shown(_plain(frame.at[i, column]), 30)}" for i in rows[:3])
    return RecordError(f"{what}: column {column!r} must hold {expected}; {len(rows)} rows do not ({examples}"
                       f"{', ...' if len(rows) > 3 else ''}); fix them or build the frame with a loader")


def _check_values(frame: pd.DataFrame, what: str, best_over_batch: bool) -> None:
    """The key and measurement columns of a frame that did not come from a loader: names present, pruning a
    percentage in (0, 100], batch a whole number from 1 to MAX_BATCH, fps / latency numbers (missing allowed)."""
    for column in ("hardware", "network"):
        if column in frame:
            bad = frame[column].astype(object).map(lambda v: is_missing(v) or not str(v).strip()).astype(bool)
            if bad.any():
                raise _bad_rows(frame, bad, column, what, "a name in every row")
    if "pruning_pct" in frame:
        values = pd.to_numeric(frame["pruning_pct"], errors="coerce")
        bad = ~values.between(0, 100, inclusive="right") | values.isna()
        if bad.any():
            raise _bad_rows(frame, bad, "pruning_pct", what, "the percentage of channels kept, in (0, 100]")
    if "batch" in frame and not best_over_batch:
        values = pd.to_numeric(frame["batch"], errors="coerce").astype("float64")
        bad = values.isna() | (values < 1) | (values > MAX_BATCH) | (values % 1 != 0)
        if bad.any():
            raise _bad_rows(frame, bad, "batch", what, f"a whole number of frames from 1 to {MAX_BATCH}")
    for column in ("throughput_fps", "latency_s", "fps"):
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = values.isna() & ~frame[column].astype(object).map(is_missing).astype(bool)
            if bad.any():
                raise _bad_rows(frame, bad, column, what, "numbers (missing allowed)")


def align(predictions: pd.DataFrame, records: pd.DataFrame, *, normalize: bool = True,
          hardware_aliases: Mapping[str, str] | None = None, network_aliases: Mapping[str, str] | None = None,
          best_over_batch: bool = False, hardware: HardwareCatalog | None = None,
          networks: NetworkCatalog | None = None,
          models: Iterable[str | PathLike[str]] | NetworkIndex = (),
          hardware_files: Mapping[str, HardwareSpec] | None = None) -> AlignResult:
    """Match ``records`` to ``predictions`` and compute ``efficiency_pct``; see the module docstring.

    ``efficiency_pct = 100 * measured_fps / predicted_fps`` (percent; both in frames per second).

    Parameters
    ----------
    predictions : pandas.DataFrame
        :func:`rooflinekit.sweep` rows or :meth:`Prediction.to_dict` rows. A row is usable when its ``fps`` is a
        positive number and its ``status`` (if any) is ``ok``.
    records : pandas.DataFrame
        Measured records (a loader's ``.records``): the key columns and ``throughput_fps`` or ``latency_s`` (s).
        A ``hardware`` may be a hardware YAML file, a ``network`` a model file (module docstring).
    normalize : bool, optional
        Compare names through aliases and the catalogs (True), or lower-cased only (False).
    hardware_aliases, network_aliases : mapping of str to str, optional
        Extra spellings of catalog names (``{"L4R5": "NUCLEO-L4R5ZI"}``).
    best_over_batch : bool, optional
        Leave the batch out of the key and mark each configuration's fastest record (QuTiBench's rule).
    hardware, networks : HardwareCatalog or NetworkCatalog, optional
        Catalogs replacing the bundled ones.
    models : list of str or path, or NetworkIndex, optional
        Model files or folders (each folder with its sub-folders) whose networks records and predictions may name,
        as ``models=`` of :func:`~rooflinekit.compare.calibrate.calibrate_from_paths` (``ad01`` or ``ad01_int8``
        for ``ad01_int8.tflite``), or the index :func:`~rooflinekit.compare.calibrate.networks_from_files` made of
        them. A network whose model files are at several precisions needs the record's precision.
    hardware_files : mapping of str to HardwareSpec, optional
        Hardware YAML files already read, by the name the records and predictions give them (``my_board.yaml``;
        as :func:`~rooflinekit.compare.calibrate.features.record_hardware` caches them): not read again.

    Returns
    -------
    AlignResult
        Matched rows with ``efficiency_pct``, and every unmatched record and prediction with a ``reason``.

    Raises
    ------
    RecordError
        A required column is missing, a key or measurement value is invalid, or ``models`` is a single path.

    Warns
    -----
    CalibrationWarning
        When records matched to a roofline bound measured faster than it (``efficiency_pct`` above 100): how many,
        the first and what to check (the spec's peaks and memory bandwidths, the latency unit).
    """
    _check_inputs(predictions, records, best_over_batch)
    if isinstance(models, (str, PathLike)):  # not its characters
        raise RecordError(f"models must be a list of model files or folders, got the single path {shown(models)}; "
                          f"wrap it in a list: [{shown(models)}]")
    index = models if isinstance(models, Mapping) else networks_from_files(models)
    names = _Names(normalize, hardware_aliases or {}, network_aliases or {}, hardware, networks, index)
    names.files.update(hardware_files or {})
    p_networks, p_pruning = _prediction_names(predictions)
    p_keys = _keys(predictions, names, p_pruning, p_networks, best_over_batch)
    r_keys = _keys(records, names, records["pruning_pct"], records["network"], best_over_batch)
    fps = pd.to_numeric(predictions["fps"], errors="coerce")
    usable = _PredictionKeys.of(predictions, p_keys, fps)

    measured = measured_fps(records).astype("float64")
    lookup = pd.concat([p_keys[usable.unique], predictions[usable.unique].add_prefix("predicted_")], axis=1)
    lookup["predicted_fps"] = fps[usable.unique].astype("float64")
    lookup["prediction_index"] = predictions.index[usable.unique]
    candidates = pd.concat([records, r_keys], axis=1).assign(measured_fps=measured, record_index=records.index)
    comparable = measured.gt(0) & np.isfinite(measured)
    matched = candidates[comparable].merge(lookup, on=_KEYS, how="inner")
    matched["efficiency_pct"] = (100 * matched["measured_fps"] / matched["predicted_fps"]).astype("float64")
    columns = [*records.columns, *lookup.columns.drop([*_KEYS, "prediction_index"]), "measured_fps",
               "efficiency_pct", "record_index", "prediction_index"]
    matched = matched[columns + _KEYS].reset_index(drop=True)
    if best_over_batch:
        best = matched.groupby(_KEYS, sort=False)["measured_fps"].idxmax()
        matched["best_over_batch"] = matched.index.isin(best.values)
    matched = matched.drop(columns=_KEYS)
    impossible = _faster_than_bound(matched)
    if impossible:
        warnings.warn(impossible, CalibrationWarning, stacklevel=caller_stacklevel())

    r_tuples = pd.Series(list(r_keys.itertuples(index=False, name=None)), index=records.index, dtype=object)
    unmatched_records = records.drop(index=matched["record_index"])
    left = unmatched_records.index
    unmatched_records = unmatched_records.assign(reason=[
        (names.problem(str(records.at[i, "hardware"]), str(records.at[i, "network"]), key[3])
         or usable.record_reason(key)) if ok else _unmeasured(records, i, fps)
        for i, key, ok, fps in zip(left, r_tuples[left], comparable[left], measured[left])])
    unmatched_predictions = predictions.drop(index=matched["prediction_index"].unique())
    unmatched_predictions = unmatched_predictions.assign(
        reason=[usable.prediction_reason(i) for i in unmatched_predictions.index])
    return AlignResult(matched, unmatched_records, unmatched_predictions)


def _faster_than_bound(matched: pd.DataFrame) -> str | None:
    """The warning of matched rows faster than their roofline bound (``efficiency_pct`` > 100, the prediction no
    calibrated estimate), worded by :func:`~rooflinekit.compare.calibrate.features.faster_than_bound_message`; None
    when there is none. The first row's latencies are per batch: ``batch / measured_fps`` measured,
    ``batch / predicted_fps`` the bound (s; a batch not stated counts as 1).

    A record at a larger batch than its prediction's (``best_over_batch`` matches every batch to one prediction)
    beats no bound: with weights read once per batch, the bound of a memory-bound network at batch b is up to b
    times that at batch 1. Such rows are counted apart, with what to do to check them; and where the faster rows
    carry ``notes`` (a loader's word on why, e.g. QuTiBench's FINN records hold their weights on chip), the warning
    says how many do and quotes the first."""
    faster = matched["efficiency_pct"] > 100
    if "predicted_estimate" in matched:
        faster &= matched["predicted_estimate"].ne("calibrated")
    if not faster.any():
        return None
    record_batch = pd.to_numeric(matched["batch"], errors="coerce").fillna(1.0) if "batch" in matched else 1.0
    predicted_batch = pd.to_numeric(matched["predicted_batch"], errors="coerce").fillna(1.0) \
        if "predicted_batch" in matched else pd.Series(1.0, index=matched.index)
    larger = faster & (record_batch > predicted_batch)
    own = faster & ~larger
    parts = []
    if own.any():
        first = matched[own].iloc[0]
        where = first["source"] if "source" in matched and not is_missing(first["source"]) else \
            f"record {shown(_plain(first['record_index']), 20)}"
        batch = 1.0 if is_missing(first["batch"]) else float(first["batch"])
        parts.append(faster_than_bound_message(
            int(own.sum()), f"{where}: {first['hardware']} / {first['network']}", batch / first["measured_fps"],
            batch / first["predicted_fps"], f"their efficiency_pct is above 100 % (the first's: "
            f"{first['efficiency_pct']:.0f} %) because the spec or the record is wrong, not because the board beat "
            "it"))
        if "notes" in matched:
            noted = matched.loc[own, "notes"].map(lambda v: not is_missing(v) and bool(str(v).strip()))
            if noted.any():
                parts.append(f"with notes on why: {int(noted.sum())} of {int(own.sum())} (the first's: "
                             f"{shown(str(matched.loc[own, 'notes'][noted].iloc[0]), 160)})")
    if larger.any():
        parts.append(f"{counted(int(larger.sum()), 'record')} beat a prediction made at a smaller batch, which "
                     "bounds only its own batch (weights are read once per batch, so a memory-bound network's bound "
                     "grows with the batch): predict at each record's batch (sweep batches=...) and align without "
                     "best_over_batch to check them")
    return "; ".join(parts)


MATCHED_NAMES = ("hardware", "network", "pruning_pct", "precision")
"""Key columns :func:`align` matches by name; :func:`summarize_efficiency` groups them on the prediction's value."""


def summarize_efficiency(matched: pd.DataFrame, by: Sequence[str] = ("hardware",)) -> pd.DataFrame:
    """Per group of ``by``: ``n`` matched rows and the median, mean, min and max of ``efficiency_pct`` (percent).

    A ``by`` column of :data:`MATCHED_NAMES` is grouped on the value of the prediction each row matched
    (``predicted_<column>``, when ``matched`` has it, as :func:`align`'s rows do), and the summary's column of that
    name holds it: records that spell one device or network differently (``zcu104 dpu``, ``ZCU104-DPU``) were
    matched to the same catalog name and form one group, labelled as the predictions name it (``ZCU104-DPU``;
    a pruned catalog network as its label, ``ResNet-50 80%``). Other columns (``batch``, ``framework``, ...) are
    grouped as the records give them.
    """
    require_columns(matched, [*by, "efficiency_pct"], "matched rows")
    keys = [matched[f"predicted_{c}"].rename(c) if c in MATCHED_NAMES and f"predicted_{c}" in matched
            else matched[c] for c in by]
    grouped = matched["efficiency_pct"].groupby(keys, dropna=False)
    return pd.DataFrame({
        "n": grouped.count(), "efficiency_median_pct": grouped.median(), "efficiency_mean_pct": grouped.mean(),
        "efficiency_min_pct": grouped.min(), "efficiency_max_pct": grouped.max(),
    }).reset_index()

