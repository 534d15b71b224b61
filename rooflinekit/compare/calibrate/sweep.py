"""Calibrated estimates for the rows of a sweep: :func:`calibrated_columns`, used by ``rooflinekit.sweep(...,
calibrated=True)``.

Each row of a sweep that can be calibrated becomes the prediction :func:`rooflinekit.predict` gives its combination
with ``calibrated=True`` (the same calibration, network, costing and keys; numbers equal to rounding), under the
names of :class:`~rooflinekit.roofline.Prediction`: ``latency_s`` and ``fps`` the estimate, the other result
columns the roofline it scales, plus :data:`CALIBRATED_COLUMNS`. It is computed by calibration instead of by row:

1. **bound**: the layer-mode roofline the calibration scales (one kernel per layer, the calibration's traffic, the
   network its regime costs: :func:`~.regime.regime_network`), for every row of a calibration at once through the
   vectorized sweep core (:func:`rooflinekit.roofline.sweep`); it fixes the precision used (a network's own type
   without a peak falls back to the hardware's default, as ``predict`` does) and gives ``bound_latency_s`` and the
   row's result columns (``mode`` ``layer``, the calibration's ``traffic``, ``bound``, ``ops``, ``kernels``, ...);
2. **features**: those :func:`~.features.calibration_features` gives a record of each (network, hardware,
   precision, costed batch) asked for, through :func:`~.features.class_times_at`, once per (network, precision)
   for all its hardware and batches (the network counted and its layers' op classes found once, the layers' times
   of all batches of a hardware in one pass of the roofline's arrays, as one layer-mode prediction per batch
   gives them in its layer table). A regime (GPU, NPU: :mod:`.regime`) costs a batch B at
   ``costed = max(B, regime.batch)``, so every B <= 64 of a device shares one;
3. **estimate**: :meth:`~.model.CalibratedPredictor.predict`, ``predict_interval`` and ``explain`` once on the
   features of all rows of a calibration (keyed as :func:`~.inference_offline.query_keys` keys a regime's query);
   below a regime's batch the estimate is scaled to B samples,

       latency_s = L(costed) x B / costed,   fps = costed / L(costed)   (s per batch, samples/s)

   and the interval (s) likewise, as :func:`~.regime.predict_in_regime` does; ``attainable_ops_per_s = ops x B /
   latency_s`` (ops per frame), as ``predict`` gives it.

A calibrated row's notes are ``predict``'s (:func:`_add_notes`), each note that repeats across rows built once.
Warnings are per sweep, not per row: one :class:`~.model.CalibrationWarning` each for the rows left at the bound
(with their count and reasons), the rows below a regime's batch, the rows whose device and the rows whose network
(work per kernel, from the row's features) lie outside the calibration's range (:mod:`.extrapolation`), and the
rows whose calibration levels fell back.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX, class_times_at, network_index
from rooflinekit.compare.calibrate.model import NO_RECORD_WARNING, CalibratedPredictor
from rooflinekit.compare.calibrate.extrapolation import device_range_notes, network_out_of_range, network_range_notes
from rooflinekit.compare.calibrate.regime import (
    ABOVE_ADVICE, batch_note, below_bound_note, conventions_module, interval_notes, no_bound_note, regime_of,
    stack_note, system_notes,
)
from rooflinekit.compare.calibrate.releases import normalize_version
from rooflinekit.compare.calibrate.workflow import CalibratedPrediction
from rooflinekit.compare.records import is_missing, normalize_framework
from rooflinekit.counters import CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, LayerNetwork, NetworkSpec, Precision
from rooflinekit.display import counted
from rooflinekit.errors import CalibrationWarning, RooflineError
from rooflinekit.output import INTERVAL, interval_columns
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.workload import CountedNetwork

CALIBRATED_COLUMNS = (*interval_columns(INTERVAL), "bound_latency_s", "calibration_levels")
"""Columns a calibrated sweep adds after ``latency_s``: ``Prediction.latency_interval_s`` split in two (s), its
``bound_latency_s`` (s) and ``calibration_levels`` (a tuple of phrases); :func:`calibrated_columns`."""
COSTING_COLUMNS = ("mode", "traffic", "bound", "ops", "bytes", "operational_intensity", "peak_ops_per_s",
                   "latency_optimistic_s", "latency_pessimistic_s", "engines", "engine_batches", "kernels", "fits")
"""A calibrated row's columns taken from the layer-mode roofline its estimate scales, as ``predict`` gives them."""
CALIBRATED, BOUND = "calibrated", "bound"


@dataclass
class _Estimates:
    """Per row of the sweep (arrays of its length): the calibrated numbers, their levels (a tuple each), the
    calibrated release (``(framework, framework_version)`` keys the estimate resolved to), a calibrated row's notes
    (all of them, ``predict``'s), the reason a row keeps the bound, and the :data:`COSTING_COLUMNS` of the
    layer-mode roofline the estimate scales."""

    latency: np.ndarray
    fps: np.ndarray
    low: np.ndarray
    high: np.ndarray
    bound: np.ndarray
    levels: np.ndarray
    releases: np.ndarray
    calibrated: np.ndarray
    notes: list[tuple[str, ...]]
    reasons: list[str | None]
    costing: dict[str, np.ndarray]

    @classmethod
    def empty(cls, n: int) -> "_Estimates":
        """``n`` rows without an estimate."""
        nan = np.full(n, np.nan)
        return cls(nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(), np.full(n, None, dtype=object),
                   np.full(n, None, dtype=object), np.zeros(n, dtype=bool), [()] * n, [None] * n,
                   {column: np.full(n, None, dtype=object) for column in COSTING_COLUMNS})

    def leave(self, row: int, reason: str) -> None:
        """Row ``row`` keeps the bound, for ``reason``."""
        self.reasons[row] = " ".join(reason.split())


def calibrated_columns(table: pd.DataFrame, networks: Sequence[NetworkSpec | CountedNetwork],
                       hardware: Sequence[HardwareSpec | HardwareGrid], precisions: Sequence[Precision | str | None],
                       batches: Sequence[int | None], calibration: Any, framework: str | None,
                       framework_version: str | None, conventions: CountingConventions,
                       counters: CounterRegistry) -> pd.DataFrame:
    """``table`` (a full sweep of ``networks`` x ``precisions`` x ``hardware`` x ``batches``, in that row order)
    with the calibrated estimate of every row.

    Parameters
    ----------
    table : DataFrame
        The rows of :func:`rooflinekit.roofline.sweep` for these arguments (not reduced).
    networks, hardware, precisions, batches
        The sweep's arguments, resolved (specs, counted networks and grids).
    calibration : CalibratedPredictor, str, Path or None
        As :func:`rooflinekit.predict` takes it; None: the calibration shipped for each row's hardware class,
        ``framework`` and batch (:func:`~.defaults.shipped_name`: batch 1 on a GPU or NPU is the SingleStream one).
    framework, framework_version : str, optional
        The software stack whose factors are used (None: the calibration's default keying); ``framework`` also
        chooses the shipped calibration of a GPU (PyTorch: the eager-latency one).
    conventions, counters
        The sweep's counting options (the bound is counted with them, the features with the defaults, as
        ``predict`` does).

    Returns
    -------
    DataFrame
        ``table`` with :data:`CALIBRATED_COLUMNS` inserted after ``latency_s``. A row with ``estimate``
        ``calibrated`` holds ``predict(..., calibrated=True)`` of its combination under the same names:
        ``latency_s`` (s per batch) and ``fps`` (samples/s) the estimate; ``latency_interval_low_s`` and
        ``latency_interval_high_s`` (s), its ``latency_interval_s`` (NaN when the calibration holds no interval);
        ``bound_latency_s`` (s), the layer-mode roofline the estimate scales, whose :data:`COSTING_COLUMNS`
        (``mode`` ``layer``, the calibration's ``traffic``, ``bound``, ``ops``, ``kernels``, ...) the row takes;
        ``attainable_ops_per_s`` = ops x batch / latency_s; ``calibration_levels``, its tuple of phrases. A
        predicted row that could not be calibrated (no calibration for the class, an aggregate network without
        layers, ...) keeps the sweep's roofline bound in every column, ``estimate`` ``bound``, NaN (None) in the
        new columns and the reason in ``notes``: filter on ``estimate`` before comparing ``latency_s`` across
        rows. A calibrated row's ``notes`` are ``predict(..., calibrated=True).notes`` of its combination
        (:func:`_add_notes`: the network a regime costs, the notes of the roofline it scales, the stack keyed, the
        regime or a batch below it, a wider interval, a device or a network outside the calibration's range, a
        scaled estimate below the bound of a lone batch, how a system's devices combine, the release used); a row
        kept at the bound keeps the sweep's notes and adds ``not calibrated: <reason>``.

    Warns
    -----
    CalibrationWarning
        Once for the rows left at the bound (count and reasons), once for the rows below a regime's batch, once
        for the rows whose device and once for the rows whose network extrapolates (:mod:`.extrapolation`), once
        for the rows whose calibration levels were not calibrated or fell back.
    """
    from rooflinekit.api import _calibration

    n = len(table)
    n_p, n_b = len(precisions), len(batches)
    configs = [(h, point) for h, hw in enumerate(hardware)  # (hardware index, grid point; -1: a plain spec)
               for point in (range(hw.size) if isinstance(hw, HardwareGrid) else (-1,))]
    rows = np.arange(n)
    net_of, prec_of = rows // (n_p * len(configs) * n_b), (rows // (len(configs) * n_b)) % n_p
    config_of, batch_of = (rows // n_b) % len(configs), rows % n_b
    out = _Estimates.empty(n)
    ok = (table["status"] == "ok").to_numpy()
    templates = [hw.template if isinstance(hw, HardwareGrid) else hw for hw in hardware]
    given = None if calibration is None or not templates else _calibration(calibration, templates[0])
    # id(model) -> the model, its hardware indices and its rows (a shipped one is chosen per hardware and batch)
    groups: dict[int, tuple[CalibratedPredictor, list[int], np.ndarray]] = {}
    shipped: dict[str, CalibratedPredictor] = {}  # shipped calibration's file stem -> it, read once
    sizes = table["batch"].to_numpy()  # each row's samples per batch
    for h, spec in enumerate(templates):
        on_h = ok & np.isin(config_of, [c for c, (e, _) in enumerate(configs) if e == h])
        for size in sorted({int(b) for b in sizes[on_h]}):
            at = on_h & (sizes == size)
            try:
                model = given or _shipped(spec, framework, size, shipped)
            except RooflineError as exc:
                for row in np.flatnonzero(at):
                    out.leave(int(row), str(exc))
                continue
            _, members, mask = groups.setdefault(id(model), (model, [], np.zeros(n, dtype=bool)))
            if h not in members:
                members.append(h)
            mask |= at
    for model, members, mask in groups.values():
        _calibrate_group(out, model, members, networks, hardware, precisions, batches, configs,
                         (net_of, prec_of, config_of, batch_of), mask, framework, framework_version, conventions,
                         counters)
    _warn_left(out, ok)
    return _with_columns(table, out, ok)


def _shipped(spec: HardwareSpec, framework: str | None, batch: int,
             cache: dict[str, CalibratedPredictor]) -> CalibratedPredictor:
    """The calibration shipped for ``spec``'s class, the stack ``framework`` and ``batch`` samples
    (:func:`~.defaults.shipped_name`), read once per calibration into ``cache`` (keyed by its file stem)."""
    from rooflinekit.compare.calibrate.defaults import default_calibration, shipped_name

    name = shipped_name(spec, framework, batch)
    if name not in cache:
        cache[name] = default_calibration(spec, framework, batch)
    return cache[name]


def _calibrate_group(out: _Estimates, model: CalibratedPredictor, members: list[int],
                     networks: Sequence[NetworkSpec | CountedNetwork], hardware: Sequence[HardwareSpec | HardwareGrid],
                     precisions: Sequence[Precision | str | None], batches: Sequence[int | None],
                     configs: list[tuple[int, int]], index: tuple[np.ndarray, ...], mask: np.ndarray,
                     framework: str | None, framework_version: str | None, conventions: CountingConventions,
                     counters: CounterRegistry) -> None:
    """Fill ``out`` for the rows of ``mask`` (predicted rows on the hardware ``members``, indices into ``hardware``,
    whose calibration is ``model``) with ``model``."""
    from rooflinekit.api import _regime_network
    from rooflinekit.roofline import predictor

    net_of, prec_of, config_of, batch_of = index
    regime = regime_of(model)
    conventions_of = None if regime is None else conventions_module(regime.conventions)
    chosen = [c for c, (h, _) in enumerate(configs) if h in members]
    position = {c: k for k, c in enumerate(chosen)}  # config -> position among the group's configs
    rows = np.flatnonzero(mask & np.isin(config_of, chosen))
    if not len(rows):
        return
    costed_networks, network_notes = [], []
    for network in networks:
        layered, notes = _regime_network(network, model, conventions, counters)
        costed_networks.append(layered)
        network_notes.append(notes)
    used = np.unique(batch_of[rows])  # the batches of the group's rows (another calibration may cost the others)
    with warnings.catch_warnings():  # the sweep itself warned of capacities and idle grid axes
        warnings.simplefilter("ignore")
        bound = predictor.sweep(costed_networks, [hardware[h] for h in members], precisions,
                                [batches[b] for b in used], "layer", model.traffic, conventions, counters, False)
    at = ((net_of[rows] * len(precisions) + prec_of[rows]) * len(chosen)
          + np.array([position[c] for c in config_of[rows]])) * len(used) + np.searchsorted(used, batch_of[rows])
    status = bound["status"].to_numpy(dtype=object)[at]
    bound_notes = dict(zip(rows.tolist(), bound["notes"].to_numpy(dtype=object)[at]))
    labels = bound["precision"].to_numpy(dtype=object)[at]
    sizes = bound["batch"].to_numpy()[at]
    out.bound[rows] = bound["latency_s"].to_numpy()[at]
    for column in COSTING_COLUMNS:
        out.costing[column][rows] = bound[column].to_numpy(dtype=object)[at]
    family, version = normalize_framework(framework)
    version = normalize_version(framework_version) or version
    specs: dict[int, HardwareSpec] = {}
    queries: list[dict[str, Any]] = []
    for row, state, label, size in zip(rows.tolist(), status, labels, sizes.tolist()):
        if state != "ok":
            out.leave(row, f"the calibration's roofline (layer mode, {model.traffic} traffic) cannot be made: {state}")
            continue
        config = int(config_of[row])
        if config not in specs:
            h, point = configs[config]
            hw = hardware[h]
            specs[config] = hw.spec(point) if isinstance(hw, HardwareGrid) else hw
        costed = size if regime is None else max(size, regime.batch)
        queries.append({"row": row, "config": config, "network_index": int(net_of[row]), "precision": str(label),
                        "asked": int(size), "costed": int(costed)})
    if not queries:
        return
    features = _features(queries, costed_networks, specs, model, family, version, out)
    if features.empty:
        return
    keyed = features
    devices: dict[int, str | None] = {}  # row -> the catalog device a system is keyed as (None: none)
    if conventions_of is not None:
        keys = [conventions_of.query_keys(specs[config], family, _spec(costed_networks[network]))
                for config, network in zip(features["config"], features["network_index"])]
        keyed = features.assign(**{str(k): v for k, v in pd.DataFrame(keys, index=features.index).items()})
        keyed = _keep_own(keyed, features, keys)
        devices = {int(row): k.get("catalog_hardware") for row, k in zip(features["row"], keys)}
    _estimate(out, model, keyed)
    done = keyed[out.calibrated[keyed["row"].to_numpy()]]
    if not len(done):
        return
    _scale(out, done, regime)
    _add_notes(out, done, model, _NoteInputs(regime, conventions_of, costed_networks, network_notes, specs,
                                             bound_notes, devices, family, version))


def _spec(network: NetworkSpec | CountedNetwork) -> NetworkSpec:
    """The spec of a network, counted or not."""
    return network.spec if isinstance(network, CountedNetwork) else network


def _features(queries: list[dict[str, Any]], networks: Sequence[NetworkSpec | CountedNetwork],
              specs: dict[int, HardwareSpec], model: CalibratedPredictor, family: str | None, version: Any,
              out: _Estimates) -> pd.DataFrame:
    """The calibration features of every query (one row per sweep row, with its ``row``, ``config``,
    ``network_index``, ``asked`` and ``costed`` batch; ``batch`` is the costed one), those
    :func:`~.features.calibration_features` gives a record of its network (under its record name,
    :func:`~.features.network_index`), hardware, precision and costed batch: :func:`~.features.class_times_at` once
    per (network, hardware, precision) for all its costed batches, each network counted once per precision. Rows
    it cannot cost keep the bound, with its reason."""
    groups: dict[tuple[int, str], dict[int, list[dict[str, Any]]]] = {}  # (network, precision) -> config -> rows
    for query in queries:
        groups.setdefault((query["network_index"], query["precision"]), {}).setdefault(query["config"], []).append(
            query)
    records: dict[int, str] = {}  # network -> its record name
    rows = []
    for (network, precision), configs in groups.items():
        spec = _spec(networks[network])
        if network not in records:
            records[network] = next(iter(network_index([spec])))[0]
        retype = None if precision == spec.precision.label else precision  # as calibration_features re-types it
        counted = CountedNetwork.of(spec, retype) if isinstance(spec, LayerNetwork) else None
        asked = {config: list(dict.fromkeys(query["costed"] for query in queries))
                 for config, queries in configs.items()}

        def cost(pairs: list[tuple[int, list[int]]]) -> list[dict[int, dict[str, Any]]]:
            return class_times_at(spec, [(specs[config], sizes) for config, sizes in pairs], retype, model.traffic,
                                  counted, model.op_classes)

        try:
            found = dict(zip(asked, cost(list(asked.items()))))
        except RooflineError:  # one by one: only the (hardware, batch) that fail keep the bound, with their reason
            found = {config: {} for config in asked}
            for config, sizes in asked.items():
                for size in sizes:
                    try:
                        found[config].update(cost([(config, [size])])[0])
                    except RooflineError as exc:
                        for query in configs[config]:
                            if query["costed"] == size:
                                out.leave(query["row"], str(exc))
        for config, queries in configs.items():
            named = {"hardware": specs[config].name, "network": records[network], "framework": family,
                     "framework_version": version}
            rows += [{**query, **named, **found[config][query["costed"]]} for query in queries
                     if query["costed"] in found[config]]
    if not rows:
        return pd.DataFrame()
    features = pd.DataFrame(rows)
    times = [c for c in features.columns if c.startswith(ROOFLINE_PREFIX)]
    features[times] = features[times].fillna(0.0)
    return features.assign(batch=features["costed"])


def _keep_own(keyed: pd.DataFrame, features: pd.DataFrame, keys: list[dict[str, Any]]) -> pd.DataFrame:
    """``keyed`` with each row's own value back where its keys lack a column others have (a system's
    ``catalog_hardware`` keys it as its device; any other row keeps its own)."""
    for column in {c for k in keys for c in k} & set(features.columns):
        absent = np.array([column not in k for k in keys])
        if absent.any():
            keyed.loc[absent, column] = features.loc[absent, column]
    return keyed


def _estimate(out: _Estimates, model: CalibratedPredictor, features: pd.DataFrame) -> None:
    """The estimate at the costed batch, its interval and levels, for the rows of ``features`` at once (by
    hardware class: a class the calibration lacks is refused for its rows only); rows the calibration refuses
    (a required level not calibrated) are retried one by one and keep the bound with its message."""
    for _, part in features.groupby(features["hardware_class"].astype(str), sort=False):
        try:
            _estimate_rows(out, model, part)
        except RooflineError:
            for i in range(len(part)):
                try:
                    _estimate_rows(out, model, part.iloc[i:i + 1])
                except RooflineError as exc:
                    out.leave(int(part["row"].iloc[i]), str(exc))


def _estimate_rows(out: _Estimates, model: CalibratedPredictor, features: pd.DataFrame) -> None:
    """:func:`_estimate` of rows that all share one outcome; raises the calibration's error."""
    resolved, levels, _ = model._resolve(features)  # explain()'s levels, and the release each row's factors are
    latency = model.predict(features)
    low = high = np.full(len(features), np.nan)
    if getattr(model, "residual_quantiles_", None):
        with warnings.catch_warnings():  # predict above warned of the classes without records: once
            warnings.filterwarnings("ignore", NO_RECORD_WARNING, CalibrationWarning)
            low, high = model.predict_interval(features)
    rows = features["row"].to_numpy()
    out.latency[rows], out.low[rows], out.high[rows] = latency, low, high
    for row, phrases in zip(rows.tolist(), levels):  # a tuple per element, as releases below
        out.levels[row] = tuple(phrases)
    absent = [None] * len(resolved)
    for row, release in zip(rows.tolist(), zip(resolved.get("framework", absent),
                                                resolved.get("framework_version", absent))):
        out.releases[row] = release  # a tuple per element: numpy would spread a list of them over two axes
    out.calibrated[rows] = True


def _scale(out: _Estimates, done: pd.DataFrame, regime: Any) -> None:
    """Per batch of B samples: ``fps = costed / L(costed)`` (samples/s), and below a regime's batch the latency
    and interval (s) x B / costed, as :func:`~.regime.predict_in_regime` scales them; one warning for such rows,
    and one for the rows above a regime's ``batch_max`` (costed as asked, not scaled)."""
    rows = done["row"].to_numpy()
    costed, asked = done["costed"].to_numpy(), done["asked"].to_numpy()
    out.fps[rows] = costed / out.latency[rows]
    scale = asked / costed
    below = asked < costed
    for values in (out.latency, out.low, out.high):
        values[rows] = np.where(below, values[rows] * scale, values[rows])
    above = asked > (np.inf if regime is None or regime.batch_max is None else regime.batch_max)
    if above.any():
        warnings.warn(f"{counted(int(above.sum()), 'calibrated row')} at a batch above the calibration regime's "
                      f"largest, {regime.summary()}, whose records held at most {regime.batch_max} sample(s) per "
                      "query: each batch is costed as one call with those records' factors, an extrapolation its "
                      f"interval does not cover; {ABOVE_ADVICE}", CalibrationWarning,
                      stacklevel=caller_stacklevel())
    if regime is not None and below.any():
        count = int(below.sum())
        warnings.warn(f"{counted(count, 'calibrated row')} at a batch below the calibration regime's, "
                      f"{regime.summary()}: latency_s is the batch's samples at the calibrated "
                      f"sustained throughput (costed at batch {regime.batch} and scaled), an optimistic figure for "
                      "the latency of a lone batch; their intervals cover throughput at batch >= "
                      f"{regime.batch}, not that latency (batch 1 gets the MLPerf Inference SingleStream "
                      "calibration of a lone sample's latency)", CalibrationWarning, stacklevel=caller_stacklevel())


@dataclass
class _NoteInputs:
    """What the notes of a group's calibrated rows are made of (:func:`_add_notes`): the calibration's regime and
    its conventions module (None without one), the costed networks and the note of each (the network a regime
    costs), the specs of the group's configs, each row's notes of the layer-mode bound (the calibration's roofline),
    the catalog device a regime keys each row's system as, and the stack family and release asked for."""

    regime: Any
    conventions: Any
    networks: Sequence[NetworkSpec | CountedNetwork]
    network_notes: list[tuple[str, ...]]
    specs: dict[int, HardwareSpec]
    bound_notes: dict[int, tuple[str, ...]]
    devices: dict[int, str | None]
    family: str | None
    version: Any


def _add_notes(out: _Estimates, done: pd.DataFrame, model: CalibratedPredictor, given: _NoteInputs) -> None:
    """Each calibrated row's notes, ``rooflinekit.predict(..., calibrated=True).notes`` of its combination in
    their order: the network a regime costs; the bound's (the layer-mode roofline's, without a sweep's overhead
    note, which a calibrated prediction does not give; without a regime, how a system's devices combine); in a
    regime the stack a query without ``framework`` is keyed as, the regime (or a batch below it), the
    conventions' workload note, a widened interval (:func:`~.regime.interval_notes`), a device beyond the
    calibration's devices (:func:`~.extrapolation.device_range_notes`), a network beyond its records' work per
    kernel (the row's ``macs`` / ``kernels`` at the costed batch, :func:`~.extrapolation.network_range_notes`), a
    scaled estimate below the bound of a lone batch or an estimate in its regime below the roofline it scales
    (:func:`~.regime.no_bound_note`) and a system's throughput (:func:`~.regime.system_notes`); the
    release whose factors were used when it is not the one asked for. Each note that repeats across rows is built
    once. One warning for the rows whose device extrapolates, one for the rows whose network does and one for the
    rows whose levels fell back."""
    from rooflinekit.api import _multi_device_notes
    from rooflinekit.compare.calibrate.workflow import _release_used
    from rooflinekit.quick import OVERHEAD_KINDS, overhead_text

    regime = given.regime
    overhead = {overhead_text(kind, aggregate) for kind in OVERHEAD_KINDS for aggregate in (False, True)}
    built: dict[tuple[Any, ...], tuple[str, ...]] = {}
    fell_back: Counter[str] = Counter()
    extrapolated = 0  # rows whose device lies outside the calibration's devices' ranges (one warning for all)
    unlike = 0  # rows whose network's work per kernel lies outside the calibration's records' range (likewise)
    for row, config, network, precision, costed, asked, record, stack, core, macs, kernels in zip(
            done["row"], done["config"], done["network_index"], done["precision"], done["costed"], done["asked"],
            done["network"], done["framework"], done["core_family"], done["macs"], done["kernels"]):
        spec = given.specs[config]
        notes = [*given.network_notes[network], *(n for n in given.bound_notes[row] if n not in overhead)]
        if regime is None:
            key: tuple[Any, ...] = ("system", config, record)
            if key not in built:
                built[key] = (*_multi_device_notes(spec),
                              *interval_notes(model, spec, None if is_missing(record) else record))
        else:
            key = ("regime", network, config, precision, stack, core, None if regime.contains(asked) else asked)
            if key not in built:
                built[key] = tuple(_regime_notes(model, given, spec, network, precision, record, stack, core,
                                                 given.devices.get(row), asked, costed))
        notes += built[key]
        if ("range", config, precision) not in built:
            built[("range", config, precision)] = tuple(device_range_notes(model, spec, precision))
        notes += built[("range", config, precision)]
        if built[("range", config, precision)]:
            extrapolated += 1
        work = network_range_notes(network_out_of_range(model, spec.kind.value, _spec(given.networks[network]).name,
                                                        costed, macs, kernels))
        notes += work
        unlike += bool(work)
        if regime is not None and out.latency[row] < out.bound[row]:
            notes.append(below_bound_note(float(out.latency[row]), float(out.bound[row]), asked) if asked < costed
                         else no_bound_note(float(out.latency[row]), float(out.bound[row]), model.traffic))
        if regime is not None and spec.interconnect is not None:
            notes += system_notes(spec, given.devices.get(row), _share(out, row, spec, precision, asked))
        release = out.releases[row]
        if ("release", release) not in built:
            resolved = pd.Series({"framework": release[0], "framework_version": release[1]})
            built[("release", release)] = tuple(_release_used(model, resolved, given.version)[1])
        notes += built[("release", release)]
        out.notes[row] = tuple(notes)
        fell_back.update(level for level in out.levels[row] if "not calibrated" in level)
    if extrapolated:
        warnings.warn(f"{counted(extrapolated, 'calibrated row')} extrapolate beyond the devices the calibration was "
                      "fitted on (a peak or bandwidth outside their range): each row's notes say which and by how "
                      "much; their intervals assume a device within them", CalibrationWarning,
                      stacklevel=caller_stacklevel())
    if unlike:
        warnings.warn(f"{counted(unlike, 'calibrated row')} extrapolate beyond the networks the calibration was "
                      "fitted on (a work per kernel, MACs / kernels, outside the range of its records of the row's "
                      "hardware class): each row's notes say by how much; their factors and intervals come from "
                      "networks unlike them", CalibrationWarning, stacklevel=caller_stacklevel())
    if fell_back:
        rows = sum(1 for levels in out.levels[done["row"].to_numpy()] if any("not calibrated" in level
                                                                             for level in levels))
        shown = "; ".join(f"{level} ({n} rows)" for level, n in fell_back.most_common(3))
        warnings.warn(f"{counted(rows, 'calibrated row')} used calibration levels that were not calibrated or fell "
                      f"back: {shown}{'; ...' if len(fell_back) > 3 else ''}; see the calibration_levels column "
                      "(rooflinekit.predict(..., calibrated=True) on one row says what would calibrate them)",
                      CalibrationWarning, stacklevel=caller_stacklevel())


def _regime_notes(model: CalibratedPredictor, given: _NoteInputs, spec: HardwareSpec, network: int, precision: str,
                  record: Any, stack: Any, core: Any, device: str | None, asked: int, costed: int) -> list[str]:
    """The notes :func:`~.regime.predict_in_regime` gives every batch of one (network, hardware, precision) on
    one side of the regime (within it, or outside it at the batch ``asked``), in its order: the stack keyed when no
    ``framework`` was given (``stack``, ``core``: the query's keys), the regime or the batch outside it, the
    conventions' workload note and the interval notes (``record``: the records' name of the network; ``device``:
    the catalog device a system is keyed as), built by the functions predict_in_regime uses."""
    regime, conventions = given.regime, given.conventions
    notes: list[str] = []
    if given.family is None and not is_missing(stack):
        notes.append(stack_note(model, stack, core, spec.kind.value))
    notes.append(batch_note(regime, asked))
    workload = conventions.workload_note(_spec(given.networks[network]), precision)
    if workload:
        notes.append(workload)
    names = {name_of_record: name for name, name_of_record in conventions.RECORD_NETWORKS.items()}
    return notes + interval_notes(model, spec, None if is_missing(record) else record, names, device=device)


def _share(out: _Estimates, row: int, spec: HardwareSpec, precision: str, asked: int) -> CalibratedPrediction:
    """Row ``row``'s estimate as the one device's prediction :func:`~.regime.system_notes` reads: its batch of
    ``asked`` samples, ``fps`` (samples/s) and interval (s; None when the calibration holds none)."""
    low, high = float(out.low[row]), float(out.high[row])
    latency = float(out.latency[row])
    return CalibratedPrediction(spec.name, spec.name, precision, asked, None, None, latency, float(out.fps[row]),
                                float(out.bound[row]), 100 * float(out.bound[row]) / latency, pd.DataFrame(),
                                pd.DataFrame(), None if np.isnan(low) else (low, high), (), 0)


def _warn_left(out: _Estimates, ok: np.ndarray) -> None:
    """One warning for the predicted rows that keep the bound, with their count and most common reasons."""
    reasons = Counter(reason for reason, good in zip(out.reasons, ok) if good and reason is not None)
    if not reasons:
        return
    count = sum(reasons.values())
    shown = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(3))
    warnings.warn(f"{count} of {int(ok.sum())} predicted rows keep the roofline bound (estimate 'bound'), no "
                  f"calibrated estimate: {shown}{'; ...' if len(reasons) > 3 else ''}; each row's reason is in its "
                  "notes", CalibrationWarning, stacklevel=caller_stacklevel())


def _with_columns(table: pd.DataFrame, out: _Estimates, ok: np.ndarray) -> pd.DataFrame:
    """``table`` with each calibrated row made its prediction (``latency_s``, ``fps``, ``attainable_ops_per_s``
    the estimate's, :data:`COSTING_COLUMNS` the roofline it scales), the calibrated columns after ``latency_s``,
    ``estimate`` and ``notes`` updated."""
    from rooflinekit.roofline._notes_array import NotesArray

    done = out.calibrated
    estimate = [CALIBRATED if calibrated else BOUND if good else None for calibrated, good in zip(done, ok)]
    table = table.copy()
    table["estimate"] = pd.Categorical(estimate, categories=[BOUND, CALIBRATED])
    notes = [own if calibrated else old if old is None or reason is None else (*old, f"not calibrated: {reason}")
             for old, own, calibrated, reason in zip(table["notes"].tolist(), out.notes, done, out.reasons)]
    table["notes"] = NotesArray.from_values(notes)
    for name in COSTING_COLUMNS:
        table[name] = _replaced(table[name], out.costing[name], done)
    table["latency_s"] = np.where(done, out.latency, table["latency_s"].to_numpy(dtype=float))
    table["fps"] = np.where(done, out.fps, table["fps"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):  # rows not calibrated keep their own
        attainable = table["ops"].to_numpy(dtype=float) * table["batch"].to_numpy(dtype=float) / out.latency
    table["attainable_ops_per_s"] = np.where(done, attainable, table["attainable_ops_per_s"].to_numpy(dtype=float))
    at = list(table.columns).index("latency_s") + 1
    low, high = interval_columns(INTERVAL)
    values = {low: out.low, high: out.high, "bound_latency_s": out.bound}
    for offset, name in enumerate(CALIBRATED_COLUMNS):
        column = out.levels if name == "calibration_levels" else np.where(done, values[name], np.nan)
        table.insert(at + offset, name, column)
    return table


def _replaced(column: pd.Series, values: np.ndarray, rows: np.ndarray) -> pd.Series:
    """``column`` with ``values`` where ``rows`` is True, in its own dtype (a categorical one gains the new
    categories after its own)."""
    merged = column.astype(object).to_numpy(copy=True)
    merged[rows] = values[rows]  # object array to object array: a tuple (engines) stays one element
    if isinstance(column.dtype, pd.CategoricalDtype):
        new = (v for v in merged[rows] if v is not None and v not in column.cat.categories)
        categories = list(dict.fromkeys([*column.cat.categories, *new]))
        return pd.Series(pd.Categorical(merged, categories=categories), index=column.index, name=column.name)
    return pd.Series(merged, index=column.index, name=column.name).astype(column.dtype)
