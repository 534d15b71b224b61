"""Calibrated estimates for the rows of a sweep: :func:`calibrated_columns`, used by ``rooflinekit.sweep(...,
calibrated=True)``.

Each row of a sweep gets the estimate :func:`rooflinekit.predict` gives its combination with ``calibrated=True``
(the same calibration, network, costing and keys; numbers equal to rounding), computed by calibration instead of
by row:

1. **bound**: the layer-mode roofline the calibration scales (one kernel per layer, the calibration's traffic, the
   network its regime costs: :func:`~.regime.regime_network`), for every row of a calibration at once through the
   vectorized sweep core (:func:`rooflinekit.roofline.sweep`); it fixes the precision used (a network's own type
   without a peak falls back to the hardware's default, as ``predict`` does) and gives ``bound_latency_s``;
2. **features**: :func:`~.features.calibration_features` of one query frame per network and calibration, one row
   per (hardware, precision, costed batch) asked for; this is the part that stays per combination, one layer-mode
   roofline with its layers each (the op-class times need them), counted once per network. A regime (GPU, NPU:
   :mod:`.regime`) costs a batch B at ``costed = max(B, regime.batch)``, so every B <= 64 of a device shares one;
3. **estimate**: :meth:`~.model.CalibratedPredictor.predict`, ``predict_interval`` and ``explain`` once on the
   features of all rows of a calibration (keyed as :func:`~.inference_offline.query_keys` keys a regime's query);
   below a regime's batch the estimate is scaled to B samples,

       calibrated_latency_s = L(costed) x B / costed,   calibrated_fps = costed / L(costed)   (s per batch, samples/s)

   and the interval (s) likewise, as :func:`~.regime.predict_in_regime` does.

Warnings are per sweep, not per row: one :class:`~.model.CalibrationWarning` each for the rows left at the bound
(with their count and reasons), the rows below a regime's batch, and the rows whose calibration levels fell back.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.compare.calibrate.features import calibration_features, network_index
from rooflinekit.compare.calibrate.model import NO_RECORD_WARNING, CalibratedPredictor
from rooflinekit.compare.calibrate.regime import conventions_module, interval_notes, regime_of
from rooflinekit.compare.calibrate.releases import normalize_version
from rooflinekit.compare.records import normalize_framework
from rooflinekit.counters import CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.display import counted
from rooflinekit.errors import CalibrationWarning, RooflineError
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.workload import CountedNetwork

CALIBRATED_COLUMNS = ("calibrated_latency_s", "calibrated_fps", "latency_low_s", "latency_high_s", "bound_latency_s",
                      "calibration_levels")
"""Columns a calibrated sweep adds after ``latency_s`` (module docstring; :func:`calibrated_columns`)."""
LEVEL_SEPARATOR = "; "
"""How the phrases of ``Prediction.calibration_levels`` are joined in the ``calibration_levels`` column."""
CALIBRATED, BOUND = "calibrated", "bound"


@dataclass
class _Estimates:
    """Per row of the sweep (arrays of its length): the calibrated numbers, their levels and the notes to add."""

    latency: np.ndarray
    fps: np.ndarray
    low: np.ndarray
    high: np.ndarray
    bound: np.ndarray
    levels: np.ndarray
    calibrated: np.ndarray
    notes: list[list[str]]
    reasons: list[str | None]

    @classmethod
    def empty(cls, n: int) -> "_Estimates":
        """``n`` rows without an estimate."""
        nan = np.full(n, np.nan)
        return cls(nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(), np.full(n, None, dtype=object),
                   np.zeros(n, dtype=bool), [[] for _ in range(n)], [None] * n)

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
        As :func:`rooflinekit.predict` takes it; None: the calibration shipped for each row's hardware class.
    framework, framework_version : str, optional
        The software stack whose factors are used (None: the calibration's default keying).
    conventions, counters
        The sweep's counting options (the bound is counted with them, the features with the defaults, as
        ``predict`` does).

    Returns
    -------
    DataFrame
        ``table`` with :data:`CALIBRATED_COLUMNS` inserted after ``latency_s``: ``calibrated_latency_s`` (s per
        batch) and ``calibrated_fps`` (samples/s), ``Prediction.latency_s`` and ``fps`` of ``predict(...,
        calibrated=True)``; ``latency_low_s`` and ``latency_high_s`` (s), its ``latency_interval_s`` (NaN when the
        calibration holds no interval); ``bound_latency_s`` (s), its ``bound_latency_s``: the layer-mode roofline
        the estimate scales; ``calibration_levels``, its ``calibration_levels`` joined by ``"; "``. ``estimate``
        is ``calibrated`` on those rows and ``bound`` on predicted rows that could not be calibrated (no
        calibration for the class, an aggregate network without layers, ...; NaN in the new columns, the reason
        in ``notes``). ``latency_s``, ``fps`` and every other column keep the sweep's roofline bound. ``notes``
        gain the calibration's notes: the network a regime costs, the regime (or a batch outside it), a new
        network's or device's wider interval (:func:`~.regime.interval_notes`), a scaled estimate below the bound
        of a lone batch, and how a system of several devices combines.

    Warns
    -----
    CalibrationWarning
        Once for the rows left at the bound (count and reasons), once for the rows below a regime's batch, once
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
    groups: dict[int, tuple[CalibratedPredictor, list[int]]] = {}  # id(model) -> model and hardware indices
    shipped: dict[str, CalibratedPredictor] = {}
    for h, spec in enumerate(templates):
        try:
            model = given or shipped.get(spec.kind.value) or _shipped(spec, shipped)
        except RooflineError as exc:
            for row in np.flatnonzero(ok & np.isin(config_of, [c for c, (e, _) in enumerate(configs) if e == h])):
                out.leave(int(row), str(exc))
            continue
        groups.setdefault(id(model), (model, []))[1].append(h)
    for model, members in groups.values():
        _calibrate_group(out, model, members, networks, hardware, precisions, batches, configs,
                         (net_of, prec_of, config_of, batch_of), ok, framework, framework_version, conventions,
                         counters)
    _warn_left(out, ok)
    return _with_columns(table, out, ok)


def _shipped(spec: HardwareSpec, cache: dict[str, CalibratedPredictor]) -> CalibratedPredictor:
    """The calibration shipped for ``spec``'s class, read once per class into ``cache``."""
    from rooflinekit.compare.calibrate.defaults import default_calibration

    cache[spec.kind.value] = default_calibration(spec)
    return cache[spec.kind.value]


def _calibrate_group(out: _Estimates, model: CalibratedPredictor, members: list[int],
                     networks: Sequence[NetworkSpec | CountedNetwork], hardware: Sequence[HardwareSpec | HardwareGrid],
                     precisions: Sequence[Precision | str | None], batches: Sequence[int | None],
                     configs: list[tuple[int, int]], index: tuple[np.ndarray, ...], ok: np.ndarray,
                     framework: str | None, framework_version: str | None, conventions: CountingConventions,
                     counters: CounterRegistry) -> None:
    """Fill ``out`` for the rows on the hardware ``members`` (indices into ``hardware``) with ``model``."""
    from rooflinekit.api import _regime_network
    from rooflinekit.roofline import predictor

    net_of, prec_of, config_of, batch_of = index
    regime = regime_of(model)
    conventions_of = None if regime is None else conventions_module(regime.conventions)
    chosen = [c for c, (h, _) in enumerate(configs) if h in members]
    position = {c: k for k, c in enumerate(chosen)}  # config -> position among the group's configs
    rows = np.flatnonzero(ok & np.isin(config_of, chosen))
    if not len(rows):
        return
    costed_networks, network_notes = [], []
    for network in networks:
        layered, notes = _regime_network(network, model, conventions, counters)
        costed_networks.append(layered)
        network_notes.append(notes)
    with warnings.catch_warnings():  # the sweep itself warned of capacities and idle grid axes
        warnings.simplefilter("ignore")
        bound = predictor.sweep(costed_networks, [hardware[h] for h in members], precisions, batches, "layer",
                                model.traffic, conventions, counters, False)
    n_b = len(batches)
    at = ((net_of[rows] * len(precisions) + prec_of[rows]) * len(chosen)
          + np.array([position[c] for c in config_of[rows]])) * n_b + batch_of[rows]
    status = bound["status"].to_numpy(dtype=object)[at]
    labels = bound["precision"].to_numpy(dtype=object)[at]
    sizes = bound["batch"].to_numpy()[at]
    out.bound[rows] = bound["latency_s"].to_numpy()[at]
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
    if conventions_of is not None:
        keys = [conventions_of.query_keys(specs[config], family, _spec(costed_networks[network]))
                for config, network in zip(features["config"], features["network_index"])]
        keyed = features.assign(**{str(k): v for k, v in pd.DataFrame(keys, index=features.index).items()})
        keyed = _keep_own(keyed, features, keys)
    _estimate(out, model, keyed)
    done = keyed[out.calibrated[keyed["row"].to_numpy()]]
    if not len(done):
        return
    _scale(out, done, regime)
    _add_notes(out, done, model, regime, conventions_of, costed_networks, network_notes, specs)


def _spec(network: NetworkSpec | CountedNetwork) -> NetworkSpec:
    """The spec of a network, counted or not."""
    return network.spec if isinstance(network, CountedNetwork) else network


def _features(queries: list[dict[str, Any]], networks: Sequence[NetworkSpec | CountedNetwork],
              specs: dict[int, HardwareSpec], model: CalibratedPredictor, family: str | None, version: Any,
              out: _Estimates) -> pd.DataFrame:
    """The calibration features of every query (one row per sweep row, with its ``row``, ``config``,
    ``network_index``, ``asked`` and ``costed`` batch; ``batch`` is the costed one), built with one
    :func:`~.features.calibration_features` call per network (and per set of hardware whose names are unique: its
    cache is keyed by name). Rows it cannot cost keep the bound, with its reason."""
    frames = []
    frame = pd.DataFrame(queries)
    for _, asked in frame.groupby("network_index", sort=False):
        spec = _spec(networks[int(asked["network_index"].iloc[0])])
        rounds: dict[str, list[HardwareSpec]] = {}
        round_of = []
        for config in asked["config"]:
            same = rounds.setdefault(specs[config].name, [])
            if not any(s is specs[config] or s == specs[config] for s in same):
                same.append(specs[config])
            round_of.append(next(k for k, s in enumerate(same) if s is specs[config] or s == specs[config]))
        asked = asked.assign(name_round=round_of)  # not "round": the calibration keys releases by a round column
        for _, part in asked.groupby("name_round", sort=False):
            unique = part.drop_duplicates(["config", "precision", "costed"])
            records = pd.DataFrame({"hardware": [specs[c].name for c in unique["config"]], "network": spec.name,
                                    "batch": unique["costed"].to_numpy(), "precision": unique["precision"].to_numpy(),
                                    "framework": family, "framework_version": version}, index=unique.index)
            found, skipped = calibration_features(records, network_index([spec]),
                                                  {specs[c].name: specs[c] for c in unique["config"]},
                                                  model.traffic, model.op_classes)
            reasons = dict(zip(skipped["hardware"], skipped["reason"])) if len(skipped) else {}
            key = ["config", "precision", "costed"]
            merged = part.merge(unique[key].join(found.drop(columns=["batch", "precision"])), on=key, how="left")
            missing = merged["catalog_hardware"].isna().to_numpy()
            for row, config in zip(merged.loc[missing, "row"], merged.loc[missing, "config"]):
                out.leave(int(row), reasons.get(specs[config].name, "no calibration features"))
            frames.append(merged[~missing])
    if not frames:
        return pd.DataFrame()
    features = pd.concat(frames, ignore_index=True)
    times = [c for c in features.columns if c.startswith("roofline_s:")]
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
    explained = model.explain(features)
    latency = model.predict(features)
    low = high = np.full(len(features), np.nan)
    if getattr(model, "residual_quantiles_", None):
        with warnings.catch_warnings():  # predict above warned of the classes without records: once
            warnings.filterwarnings("ignore", NO_RECORD_WARNING, CalibrationWarning)
            low, high = model.predict_interval(features)
    rows = features["row"].to_numpy()
    out.latency[rows], out.low[rows], out.high[rows] = latency, low, high
    out.levels[rows] = [LEVEL_SEPARATOR.join(levels) for levels in explained["levels"]]
    out.calibrated[rows] = True


def _scale(out: _Estimates, done: pd.DataFrame, regime: Any) -> None:
    """Per batch of B samples: ``fps = costed / L(costed)`` (samples/s), and below a regime's batch the latency
    and interval (s) x B / costed, as :func:`~.regime.predict_in_regime` scales them; one warning for such rows."""
    rows = done["row"].to_numpy()
    costed, asked = done["costed"].to_numpy(), done["asked"].to_numpy()
    out.fps[rows] = costed / out.latency[rows]
    scale = asked / costed
    below = asked < costed
    for values in (out.latency, out.low, out.high):
        values[rows] = np.where(below, values[rows] * scale, values[rows])
    if regime is not None and below.any():
        count = int(below.sum())
        warnings.warn(f"{counted(count, 'calibrated row')} at a batch below the calibration regime's, "
                      f"{regime.summary()}: calibrated_latency_s is the batch's samples at the calibrated "
                      f"sustained throughput (costed at batch {regime.batch} and scaled), an optimistic figure for "
                      "the latency of a lone batch; their intervals cover throughput at batch >= "
                      f"{regime.batch}, not that latency", CalibrationWarning, stacklevel=caller_stacklevel())


def _add_notes(out: _Estimates, done: pd.DataFrame, model: CalibratedPredictor, regime: Any, conventions: Any,
               networks: Sequence[NetworkSpec | CountedNetwork], network_notes: list[tuple[str, ...]],
               specs: dict[int, HardwareSpec]) -> None:
    """The calibration's notes of each calibrated row (see :func:`calibrated_columns`), and one warning for the
    rows whose levels fell back."""
    names = None if conventions is None else {record: name for name, record in conventions.RECORD_NETWORKS.items()}
    interval: dict[tuple[int, int], list[str]] = {}
    fell_back: Counter[str] = Counter()
    for row, config, network, precision, costed, asked, record, device in zip(
            done["row"], done["config"], done["network_index"], done["precision"], done["costed"], done["asked"],
            done["network"], done["catalog_hardware"]):
        notes = out.notes[row]
        notes.extend(network_notes[network])
        spec = specs[config]
        if regime is not None:
            notes.append(f"outside the calibration regime (batch {asked} < {regime.batch}): calibrated_latency_s is "
                         f"{asked} sample(s) at the calibrated sustained throughput of batch {regime.batch}, an "
                         "optimistic figure for a lone batch's latency" if asked < costed
                         else f"within the calibration regime: {regime.summary()}")
            workload = conventions.workload_note(_spec(networks[network]), precision)
            if workload:
                notes.append(workload)
        if (network, config) not in interval:
            interval[(network, config)] = interval_notes(model, spec, record, names, device=device)
        notes.extend(interval[(network, config)])
        if asked < costed and out.latency[row] < out.bound[row]:
            notes.append(f"calibrated_latency_s is below bound_latency_s, the roofline of a lone batch of {asked} "
                         f"(weights read once per batch of {asked}): it is {asked} sample(s)' share of the sustained "
                         "stream, not a latency a lone batch reaches unless its weights stay on chip between batches")
        if spec.interconnect is not None:
            keyed = f"keyed as its device {device}" if regime is not None and device != spec.name else \
                "costed as one of them"
            notes.append(f"{spec.name} holds {spec.interconnect.devices} devices joined by {spec.interconnect.name}: "
                         f"the calibrated columns are ONE device's ({keyed}); data parallel, the system's throughput "
                         f"is {spec.interconnect.devices} x calibrated_fps")
        fell_back.update(level for level in str(out.levels[row]).split(LEVEL_SEPARATOR) if "not calibrated" in level)
    if fell_back:
        rows = sum(1 for levels in out.levels[done["row"].to_numpy()] if "not calibrated" in str(levels))
        shown = "; ".join(f"{level} ({n} rows)" for level, n in fell_back.most_common(3))
        warnings.warn(f"{counted(rows, 'calibrated row')} used calibration levels that were not calibrated or fell "
                      f"back: {shown}{'; ...' if len(fell_back) > 3 else ''}; see the calibration_levels column "
                      "(rooflinekit.predict(..., calibrated=True) on one row says what would calibrate them)",
                      CalibrationWarning, stacklevel=caller_stacklevel())


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
    """``table`` with the calibrated columns after ``latency_s``, ``estimate`` and ``notes`` updated."""
    from rooflinekit.roofline._notes_array import NotesArray

    estimate = [CALIBRATED if done else BOUND if good else None for done, good in zip(out.calibrated, ok)]
    table = table.copy()
    table["estimate"] = pd.Categorical(estimate, categories=[BOUND, CALIBRATED])
    extra = [f"not calibrated: {reason}" for reason in out.reasons]
    notes = [None if old is None else (*old, *new, *([] if reason is None else [text]))
             for old, new, reason, text in zip(table["notes"].tolist(), out.notes, out.reasons, extra)]
    table["notes"] = NotesArray.from_values(notes)
    at = list(table.columns).index("latency_s") + 1
    values = {"calibrated_latency_s": out.latency, "calibrated_fps": out.fps, "latency_low_s": out.low,
              "latency_high_s": out.high, "bound_latency_s": out.bound, "calibration_levels": out.levels}
    for offset, name in enumerate(CALIBRATED_COLUMNS):
        column = values[name]
        if name != "calibration_levels":
            column = np.where(out.calibrated, column, np.nan)
        table.insert(at + offset, name, column)
    return table
