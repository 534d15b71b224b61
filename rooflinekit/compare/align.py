"""Align roofline predictions with measured records and compute efficiency.

Both sides are keyed on (hardware, network, pruning_pct, precision, batch):

- ``normalize=True``: a name goes through the user's aliases, then the catalogs (every alias a spec lists, any
  case or punctuation; ``NCS2`` -> ``NCS``, ``ResNet50`` -> ``ResNet-50``); a name the catalog lacks is compared
  by :func:`~rooflinekit.catalog.normalize_name`.
- ``normalize=False``: names are compared after lower-casing only, as the QuTiBench web site does (so ``NCS`` never
  meets ``NCS2``).

Predictions may come from :func:`rooflinekit.sweep` or from :meth:`Prediction.to_dict` rows: their ``network`` is a
catalog label (``ResNet-50 80%``) unless a ``pruning_pct`` column is given. On either side a network written as
such a label with a ``pruning_pct`` of 100 (what a record without a pruning column gets) is the pruned network the
label names (``ResNet-50 80%`` -> ResNet-50 at 80 %). Precisions are compared as canonical
labels (``INT8`` = ``int8``). With ``best_over_batch=True`` the batch is left out of the key, every batch size of a
configuration is compared with the same prediction (QuTiBench's predictions do not depend on the batch), and the
column ``best_over_batch`` marks the record of highest ``measured_fps`` per configuration (QuTiBench's rule).

Efficiency (QuTiBench convention): ``efficiency_pct = 100 * measured_fps / predicted_fps``, where ``measured_fps``
is ``throughput_fps``, or ``batch / latency_s`` when only the latency is known. Above 100 % the roofline's
assumptions were pessimistic. A record whose ``measured_fps`` is not a positive finite number (a negative, zero or
infinite value given) is not compared: its reason names the value.

Nothing is dropped: every record is in ``matched`` (once) or ``unmatched_records``, every prediction is matched by
some record or in ``unmatched_predictions``, each unmatched row with a ``reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import HardwareCatalog, NetworkCatalog, hardware_catalog, network_catalog, normalize_name
from rooflinekit._limits import MAX_BATCH, shown
from rooflinekit.compare.records import is_missing, require_columns
from rooflinekit.descriptors import Precision
from rooflinekit.errors import PrecisionError, RecordError, UnknownNameError

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
    """Name -> comparison key, cached per distinct name."""

    def __init__(self, normalize: bool, hardware_aliases: Mapping[str, str], network_aliases: Mapping[str, str],
                 hardware: HardwareCatalog | None, networks: NetworkCatalog | None):
        self.normalize = normalize
        self.hardware_aliases = {normalize_name(k): v for k, v in hardware_aliases.items()}
        self.network_aliases = {normalize_name(k): v for k, v in network_aliases.items()}
        self.hardware = hardware if hardware is not None or not normalize else hardware_catalog()
        self.networks = networks if networks is not None or not normalize else network_catalog()
        self._cache: dict[tuple, Any] = {}

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def hardware_key(self, name: str) -> str:
        def compute() -> str:
            if not self.normalize:
                return name.strip().casefold()
            name_ = self.hardware_aliases.get(normalize_name(name), name)
            try:
                return normalize_name(self.hardware.get(name_).name)
            except UnknownNameError:
                return normalize_name(name_)
        return self._cached(("hw", name), compute)

    def network_key(self, name: str, pruning_pct: float) -> tuple[str, float]:
        def compute() -> tuple[str, float]:
            if not self.normalize:
                return name.strip().casefold(), round(pruning_pct, 6)
            name_ = self.network_aliases.get(normalize_name(name), name)
            base, labelled = _split_label(name_)
            pct = labelled if pruning_pct == 100 else pruning_pct  # 100: a record's default, the label says more
            try:
                spec = self.networks.get(name_, pct)
                return normalize_name(spec.name), round(spec.pruning_pct, 6)
            except UnknownNameError:
                return normalize_name(base if labelled == pct else name_), round(pct, 6)
        return self._cached(("net", name, pruning_pct), compute)


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
    nets = [names.network_key(str(n), float(p)) for n, p in zip(networks, pruning)]
    columns = {
        "_key_hardware": ([names.hardware_key(str(h)) for h in frame["hardware"]], object),
        "_key_network": ([n for n, _ in nets], object),
        "_key_pruning_pct": ([p for _, p in nets], "float64"),
        "_key_precision": (_precision_keys(frame["precision"]), object),
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
          networks: NetworkCatalog | None = None) -> AlignResult:
    """Match ``records`` to ``predictions`` and compute ``efficiency_pct``; see the module docstring.

    ``hardware_aliases``/``network_aliases`` map extra spellings to catalog names (``{"L4R5": "NUCLEO-L4R5ZI"}``);
    ``hardware``/``networks`` replace the bundled catalogs. A prediction row is usable when its ``fps`` is a positive
    number and its ``status`` (if any) is ``ok``. Raises :class:`RecordError` when a required column is missing.
    """
    _check_inputs(predictions, records, best_over_batch)
    names = _Names(normalize, hardware_aliases or {}, network_aliases or {}, hardware, networks)
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

    r_tuples = pd.Series(list(r_keys.itertuples(index=False, name=None)), index=records.index, dtype=object)
    unmatched_records = records.drop(index=matched["record_index"])
    left = unmatched_records.index
    unmatched_records = unmatched_records.assign(reason=[
        usable.record_reason(key) if ok else _unmeasured(records, i, fps)
        for i, key, ok, fps in zip(left, r_tuples[left], comparable[left], measured[left])])
    unmatched_predictions = predictions.drop(index=matched["prediction_index"].unique())
    unmatched_predictions = unmatched_predictions.assign(
        reason=[usable.prediction_reason(i) for i in unmatched_predictions.index])
    return AlignResult(matched, unmatched_records, unmatched_predictions)


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

