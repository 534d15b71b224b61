"""Paths in, predictions out (the CLI's helpers): records read from folders and tables, selected, featurized and
fitted (:func:`calibrate_from_paths`); a calibrated latency for one network on one board
(:func:`predict_with_calibration`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from rooflinekit._limits import shown
from rooflinekit._warnings import caller_stacklevel
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate.defaults import (
    LATENCY_FRAMEWORKS, SINGLE_SAMPLE, common_stack, default_calibration, extend_default_calibration, shipped_class,
    shipped_name,
)
from rooflinekit.compare.calibrate.features import (
    calibration_features, class_layers, network_index, networks_from_files, record_hardware, record_model_files,
)
from rooflinekit.compare.calibrate.model import (
    CALL_OVERHEAD, KERNEL_OVERHEAD, KEY_SEPARATOR, NO_RECORD_WARNING, CalibratedPredictor, CalibrationWarning,
    load_calibration,
)
from rooflinekit.compare.calibrate.releases import normalize_version, release_key
from rooflinekit.compare.loaders import load_mlperf_tiny, load_table
from rooflinekit.compare.records import CONFLICTING, LoadResult, combine_repeats, is_missing, normalize_framework
from rooflinekit.descriptors import HardwareSpec, NetworkSpec
from rooflinekit.display import counted
from rooflinekit.errors import CalibrationError, RooflineError
from rooflinekit.importers import MODEL_SUFFIXES


def select_calibration_records(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, skipped)``: records with a positive ``latency_s``; where the columns exist, open-division rows
    (the network may differ from the named one) and rows flagged ``cpu_only_cortex_m`` false (accelerators, FPGAs,
    RISC-V, ...: a CPU factor must not be fitted on them) are skipped with a ``reason``. A row without the flag
    (a table of one's own read next to an MLPerf Tiny folder) is kept: its hardware spec says what it is."""
    if "latency_s" not in records.columns:
        raise CalibrationError(f"records have no latency_s column (columns: {list(records.columns)}); calibration "
                               "fits measured latencies")
    reasons = pd.Series("", index=records.index)
    reasons[~(records["latency_s"] > 0)] = "no measured latency_s"
    if "division" in records.columns:
        reasons[(reasons == "") & (records["division"] == "open")] = "open division: the network may differ"
    if "cpu_only_cortex_m" in records.columns:
        flagged_not_cpu = records["cpu_only_cortex_m"].map(lambda flag: not is_missing(flag) and not flag)
        reasons[(reasons == "") & flagged_not_cpu.astype(bool)] = (
            "not a CPU-only Cortex-M system (accelerator, FPGA, RISC-V or application processor)")
    skipped = records[reasons != ""].assign(reason=reasons[reasons != ""])
    return records[reasons == ""], skipped


def _load_records(path: Path, columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
                  constants: Mapping[str, Any] | None = None) -> LoadResult:
    return load_mlperf_tiny(path) if path.is_dir() else load_table(path, columns, units, constants)


def _about_a_network(reason: str) -> bool:
    """Whether a left-out ``reason`` is one that model files resolve: a network that no model file or catalog entry
    matches (``network 'x' at precision ...``) or an aggregate catalog network (messages of :mod:`.features`)."""
    return reason.startswith("network ") and " at precision " in reason or " is an aggregate network " in reason


def _nothing_to_fit(paths: Sequence[Path], loaded: Sequence[LoadResult], left_out: pd.DataFrame) -> str:
    """Why no record of ``paths`` can be fitted, and what to do: a table that cannot be read, every record left
    out (the rows of ``left_out``, their reasons already warned; model files are suggested only when a reason is
    about a network), or tables without rows."""
    for result in loaded:
        for row in result.unreadable_files.to_dict("records"):
            return f"{row['path']}: {row['reason']}; give a UTF-8 CSV table with a header line, or a .parquet table"
    names = ", ".join(path.name for path in paths)
    if len(left_out):
        models = any(_about_a_network(str(reason)) for reason in left_out["reason"])
        repeats = any(str(reason).startswith(CONFLICTING) for reason in left_out["reason"])
        return (f"{names}: no record to fit, all {len(left_out)} were left out (reasons in the warning); fix those "
                "rows" + (", or give the networks' model files (--models PATH on the command line, models= in "
                          "Python)" if models else "")
                + (", or, where rows of one configuration are repeated runs, fit their median with repeats='median'"
                   if repeats else ""))
    return f"{names}: no record to fit, the tables have no rows; give one measured record (hardware, network, " \
           "latency_s) per row"


def _default_models(paths: Sequence[Path]) -> list[Path]:
    """``models/`` folders inside or beside record folders (the MLPerf Tiny data layout) that hold a model file."""
    candidates = [folder / "models" for path in paths if path.is_dir() for folder in (path, path.parent)]
    return [folder for folder in dict.fromkeys(candidates) if folder.is_dir()
            and any(file.suffix.lower() in MODEL_SUFFIXES for file in folder.rglob("*"))]


def calibrate_from_paths(paths: Sequence[str | Path], models: Sequence[str | Path] = (),
                         columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
                         constants: Mapping[str, Any] | None = None, extend_shipped: bool = False,
                         repeats: str = "reject", **params: Any) -> CalibratedPredictor:
    """Fit a :class:`CalibratedPredictor` (``params``: its constructor's) on records read from ``paths``.

    A folder is read as an MLPerf Tiny results tree, a ``.csv``/``.parquet`` file as a records table with record
    column names. Networks resolve through ``models`` (model files or folders, searched with their sub-folders;
    default: ``models/`` inside or beside the record folders), by the name their records give them (``ad01``) or
    their file's (``ad01_int8``, ``ad01_int8.tflite``, a path to it: :func:`~.features.networks_from_files`), else
    the network catalog; a record naming a model file that exists (a path relative to the working folder) reads
    that file (:func:`~.features.record_model_files`), each file once. Hardware is a catalog name or alias, or a
    hardware YAML file (one spec, read relative to the working folder). ``columns``, ``units`` and ``constants``
    map a table's own column names, units and missing columns (see :func:`~rooflinekit.compare.loaders.load_table`).
    ``repeats``: ``"reject"`` (default) leaves every row of a group of conflicting duplicates out (the records
    schema's rule); ``"median"`` reads such a group as repeated runs of one configuration and fits the median of
    its values (:func:`~rooflinekit.compare.records.combine_repeats`; the other runs are left out, each saying so).
    The records the predictor was fitted on are kept as ``features_`` (to score the fit in sample). Records left
    out (:func:`select_calibration_records`, unresolvable names, unreadable hardware files) and rows the loaders
    rejected are counted, with their reasons, in a :class:`CalibrationWarning`, and kept as ``left_out_``: every
    one of them, one row each with its columns as read, its ``source`` (``file:line``) and ``reason`` (so
    ``n_records_ + len(left_out_)`` counts every row read); too few records to cross-validate the interval warn
    too (the calibration then has none), and so do records measured faster than their roofline bound, once, from
    :func:`~.features.calibration_features` (:func:`~.features.faster_than_bound`: the spec or the latency unit is
    wrong; they are fitted all the same).
    A single path given as ``paths`` or ``models`` (not in a list) is a :class:`CalibrationError`. When every
    record is left out, the error suggests model files (``--models``, ``models=``) only if a reason is about a
    network.

    ``extend_shipped``: refit the calibration shipped for the records' hardware class, stack and batch on its own
    records plus these (:func:`~.defaults.extend_default_calibration`) instead of fitting these alone; the records
    are featurized with its settings (traffic, op classes), so ``params`` are refused (call
    ``extend_default_calibration(features, **params)`` to change them). The calibration is chosen before
    featurizing, from the hardware the kept records name and their batches (:func:`_shipped_to_extend`: GPU or NPU
    records of one sample each extend the MLPerf Inference SingleStream calibration, of 64 samples or more the
    Offline one); ``features_`` then holds the shipped records followed by these, and ``shipped_name_`` /
    ``n_shipped_`` name the calibration extended and count its records. A calibration with a regime takes the
    records inside it, keyed and costed by its conventions (:func:`~.inference_offline.featurize_records`: the
    latency of a batch scaled to the regime's); the others are left out, each saying why.
    """
    from rooflinekit.compare.calibrate.regime import conventions_module, regime_of

    if extend_shipped and params:
        raise CalibrationError(f"{', '.join(sorted(params))} given with extend_shipped: the shipped calibration is "
                               "refitted with the settings its records were fitted with; drop them, or call "
                               "extend_default_calibration(features, **params) to change them")
    for given, what in ((paths, "paths"), (models, "models")):
        if isinstance(given, (str, PathLike)):  # not its characters: '/' first would read the whole disk
            raise CalibrationError(f"{what} must be a list of paths, got the single path {shown(given)}; wrap it "
                                   f"in a list: [{shown(given)}]")
    if repeats not in ("reject", "median"):
        raise CalibrationError(f"repeats must be 'reject' or 'median', got {shown(repeats)}")
    paths = [Path(p) for p in paths]
    if not paths:
        raise CalibrationError("no record paths given; pass MLPerf Tiny results folders or record tables")
    loaded = [_load_records(path, columns, units, constants) for path in paths]
    if repeats == "median":
        loaded = [combine_repeats(result) for result in loaded]
    records = pd.concat([result.records for result in loaded], ignore_index=True)
    kept, skipped = select_calibration_records(records)
    files: dict[str, HardwareSpec] = {}  # hardware YAML files named by the records, read once each
    target, outside = None, skipped.iloc[:0]
    if extend_shipped:
        target, kept, outside = _shipped_to_extend(kept, files)
    predictor = CalibratedPredictor(**params) if target is None else default_calibration(*target)
    # the records' model files named by path, with the ones given (each file read once)
    networks = networks_from_files([*(models or _default_models(paths)), *record_model_files(kept["network"])])
    regime = regime_of(predictor)
    if regime is None:
        if target is not None:  # a catalog network the shipped records ran per layer, as its predictions cost it
            networks = {**_records_layer_networks(kept["network"], predictor, networks), **networks}
        features, unresolved = calibration_features(kept, networks, files, traffic=predictor.traffic,
                                                    op_classes=predictor.op_classes)
    else:  # keyed and costed as the regime's records
        features, unresolved = conventions_module(regime.conventions).featurize_records(
            kept, regime.batch, predictor.traffic, predictor.op_classes, files, networks)
    left_out = pd.concat([*(result.rejected for result in loaded), skipped, outside, unresolved],
                         ignore_index=True)
    if len(left_out):
        counts = left_out["reason"].value_counts()
        warnings.warn(f"{counted(len(left_out), 'record')} left out of the calibration ({len(features)} used): "
                      + "; ".join(f"{n} x {reason}" for reason, n in counts.head(5).items())
                      + ("; ..." if len(counts) > 5 else ""), CalibrationWarning, stacklevel=2)
    if features.empty:
        raise CalibrationError(_nothing_to_fit(paths, loaded, left_out))
    if target is None:
        fitted = predictor.fit(features)
        fitted.features_ = features
    else:
        fitted = extend_default_calibration(features, *target)  # its features_: the shipped records, then these
        fitted.shipped_name_ = shipped_name(*target)
        fitted.n_shipped_ = len(fitted.features_) - len(features)
    fitted.left_out_ = left_out
    if fitted.interval_coverage and not fitted.residual_quantiles_:
        warnings.warn(f"{len(features)} record{'s' if len(features) > 1 else ''} used: too few to cross-validate "
                      f"the {100 * fitted.interval_coverage:g} % interval (each record held out needs others to "
                      "predict it from), so predictions with this calibration carry none; add records of other "
                      "networks or boards", CalibrationWarning, stacklevel=2)
    return fitted


def _records_layer_networks(names: pd.Series, calibration: CalibratedPredictor,
                            networks: Mapping[tuple[str, str], NetworkSpec]) -> dict[tuple[str, str], NetworkSpec]:
    """Index entries (:func:`~.features.network_index` keys) for the catalog networks among ``names`` that are held
    as totals only and whose layer network ``calibration``'s records ran (:func:`~.regime.records_layer_network`:
    QuTiBench's ``MobileNetv1`` is ``MobileNet-v1-1.0-224``): each under the layer network's name, then the name
    the records give, so that records of either name join the shipped records of that network and a prediction of
    the catalog name is the known network it costs. Names ``networks`` already holds (a model file given) are
    left to it."""
    from rooflinekit.catalog import get_network
    from rooflinekit.compare.calibrate.regime import records_layer_network

    given = {name for name, _ in networks}
    index: dict[tuple[str, str], NetworkSpec] = {}
    for name in names.dropna().astype(str).unique():
        if name in given:
            continue
        try:
            layered, note = records_layer_network(get_network(name), calibration)
        except RooflineError:
            continue
        if note is not None:
            for alias in (layered.name, name):
                index.setdefault((alias, layered.precision.label), layered)
    return index


Target = tuple[str | None, str | None, int | None]
"""``(hardware class, stack, batch)`` of a shipped calibration (:func:`~.defaults.shipped_name`'s arguments)."""


def _shipped_to_extend(records: pd.DataFrame, files: dict[str, HardwareSpec]
                       ) -> tuple[Target, pd.DataFrame, pd.DataFrame]:
    """``(target, inside, outside)``: the shipped calibration that ``records`` extend, as
    :func:`~.defaults.extend_default_calibration` chooses it from their features (:func:`~.defaults.shipped_class`
    of their classes, :func:`~.defaults.common_stack`, and batch 1 when every record holds one sample, which on a
    GPU or NPU is the SingleStream calibration's), learnt before featurizing by resolving the hardware each names
    (:func:`~.features.record_hardware`, hardware files cached in ``files``; a name that does not resolve is left
    out later with its reason): the records are featurized with the settings of the calibration chosen, so it
    must be known first, and resolving a few names is cheaper than costing every record twice. For a calibration
    with a regime, ``outside`` holds the records whose batch lies outside it (:meth:`~.regime.CalibrationRegime.
    contains`), each with a ``reason``; when that is every record, :class:`CalibrationError` names the regime and
    what to do."""
    from rooflinekit.compare.calibrate.regime import regime_of

    classes = []
    for name in records.get("hardware", pd.Series(dtype=object)).dropna().unique():  # none: refused when featurized
        try:
            classes.append(record_hardware(name, files).kind.value)
        except RooflineError:
            continue
    framework = common_stack(records)
    kind = shipped_class(classes, framework)
    batches = (records["batch"] if "batch" in records.columns else pd.Series(1, index=records.index)).fillna(1)
    target = (kind, framework, 1 if len(batches) and (batches == 1).all() else None)
    name = shipped_name(*target)
    regime = regime_of(default_calibration(*target))
    if regime is None:
        return target, records, records.iloc[:0].assign(reason=pd.Series(dtype=object))
    inside = batches.map(lambda batch: regime.contains(int(batch)))
    held = (f"{regime.batch}" if regime.batch_max == regime.batch else f"{regime.batch} to {regime.batch_max}"
            if regime.batch_max is not None else f"{regime.batch} or more")
    single = SINGLE_SAMPLE.get(str(kind))
    apart = (f"; records of one sample extend {single}: calibrate them apart"
             if single is not None and single != name and (batches == 1).any() else "")
    outside = records[~inside].assign(reason=[
        f"batch {int(batch)} lies outside the regime of the shipped calibration {name} ({regime.name}: batch {held} "
        f"per accelerator){apart}" for batch in batches[~inside]])
    if not inside.any():
        eager = LATENCY_FRAMEWORKS.get(str(kind), ())
        alternative = (f"; latencies measured under {' or '.join(eager)} extend the eager-latency calibration at any "
                       f"batch: give their framework ({eager[0]}: --set framework={eager[0]} on the command line, "
                       "constants= in Python)" if eager else "")
        raise CalibrationError(
            f"no record lies in the regime of the calibration shipped for {kind} records"
            f"{'' if framework is None else f' under {framework}'}, {name}: {regime.summary()}, records of batch "
            f"{held} per accelerator (given: {', '.join(str(int(b)) for b in sorted(batches.unique()))}); give "
            "records of those batches, or fit yours alone (without --extend-shipped / extend_shipped)"
            + alternative)
    return target, records[inside], outside


@dataclass(frozen=True)
class CalibratedPrediction:
    """A calibrated latency (s, per batch) next to the layer-mode roofline it scales; ``classes`` has one row per
    op class: ``op_class``, ``roofline_s``, ``factor`` and ``latency_s`` = factor x roofline_s (with a per-kernel
    overhead term, a last row ``kernel_overhead`` whose ``roofline_s`` is kernels x t_ref); ``layers`` one row
    per layer with its roofline ``time_s``, ``calibration_class``, ``kernel`` (1 if it launches one) and
    ``calibrated_time_s`` = factor x time_s + kernel x t0 (they sum to ``latency_s`` less ``call_overhead_s``,
    the per-call overhead of the model, 0 without that term). ``bound_latency_s`` is that roofline's latency (s,
    per batch); ``latency_interval_s`` covers the calibration's ``interval_coverage`` of measurements (None when
    it has no intervals); ``calibration_levels`` and ``depth`` say which
    calibration levels were used, fell back or were missing (:meth:`~.model.CalibratedPredictor.explain`).
    ``framework_version`` is the release asked for (None: none given), ``release_used`` the calibrated
    release of ``framework`` whose factors were used (the one asked for, however spelled, or the newest calibrated
    release it fell back to; None when no release of the stack was used), and ``notes`` says so when it is not the
    one asked for, as :func:`rooflinekit.predict` adds to ``Prediction.notes``."""

    network: str
    hardware: str
    precision: str
    batch: int
    framework: str | None
    framework_version: str | None
    latency_s: float
    fps: float
    bound_latency_s: float
    efficiency_pct: float
    classes: pd.DataFrame
    layers: pd.DataFrame
    latency_interval_s: tuple[float, float] | None
    calibration_levels: tuple[str, ...]
    depth: int
    call_overhead_s: float = 0.0
    release_used: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "network", "hardware", "precision", "batch", "framework", "framework_version", "release_used",
            "latency_s", "fps", "bound_latency_s", "efficiency_pct", "latency_interval_s", "calibration_levels", "depth",
            "call_overhead_s", "notes")}


def _release_used(calibration: CalibratedPredictor, resolved: pd.Series, asked: Any) -> tuple[str | None, list[str]]:
    """The calibrated release of the query's stack whose factors were used, and the note saying so when it is not
    the release ``asked`` for (None: none given). ``resolved``: the query row with its release resolved
    (:meth:`~.model.CalibratedPredictor._resolve`: an unseen release replaced by the newest calibrated one)."""
    framework, version = resolved.get("framework"), resolved.get("framework_version")
    if is_missing(framework) or is_missing(version) or \
            f"{framework}{KEY_SEPARATOR}{version}" not in calibration.calibrated_keys("framework_version"):
        return None, []
    if not is_missing(asked) and release_key(asked) == release_key(version):
        return str(version), []
    given = "none given" if is_missing(asked) else f"{asked} not calibrated"
    return str(version), [f"framework_version: {given}; the factors of {framework} release {version} were used, the "
                          "newest it was calibrated on (framework_version= / --framework-version picks another)"]


def _fallback_advice(fallbacks: Sequence[str], query: pd.Series, spec: HardwareSpec,
                     calibration: CalibratedPredictor) -> list[str]:
    """What the user can change about the uncalibrated levels of ``fallbacks`` that a query chooses: a core family
    (the spec's ``core_type``; without one it is the spec's kind, which no record has) and a software stack
    (``framework``), each with the keys the calibration knows. ``query``: the featurized query row."""
    def uncalibrated(level: str) -> bool:
        return any(text.startswith(f"{level}: ") and "not calibrated" in text for text in fallbacks)

    advice = []
    if uncalibrated("core_family"):
        known = ", ".join(calibration.calibrated_keys("core_family"))
        if spec.core_type is None and query["core_family"] == spec.kind.value:
            advice.append(f"the spec gives no core_type, so its core family is its kind {spec.kind.value}; add "
                          f"core_type to the spec (calibrated core families: {known})")
        else:
            advice.append(f"calibrated core families: {known} (records of this core, added with "
                          "extend_default_calibration or 'rooflinekit calibrate', would calibrate it)")
    if uncalibrated("framework"):
        known = ", ".join(calibration.calibrated_keys("framework"))
        if is_missing(query["framework"]):
            advice.append(f"no software stack given; pass framework= (--framework on the command line), a "
                          f"calibrated one: {known}")
        else:
            advice.append(f"calibrated stacks: {known} (records of this stack, added with "
                          "extend_default_calibration or 'rooflinekit calibrate', would calibrate it)")
    return advice


def predict_with_calibration(network: NetworkSpec, hardware: HardwareSpec | str,
                             calibration: CalibratedPredictor | str | Path, framework: str | None = None,
                             framework_version: str | None = None, precision: str | None = None,
                             batch: int = 1, keys: Mapping[str, Any] | None = None) -> CalibratedPrediction:
    """Calibrated latency of ``network`` on ``hardware`` (a spec, possibly absent from the catalog, or a catalog
    name) under the software stack ``framework`` (any spelling; a version in it is used unless
    ``framework_version`` is given; ``v8.1`` is release ``8.1``). ``calibration`` is a fitted predictor or the path
    of its JSON. A network read from an MLPerf Tiny reference file (``vww_96_int8``) is queried as the network its
    records name (``vww_96``), so a calibration fitted on it gives a known network's interval. Warns
    :class:`CalibrationWarning` naming every level that was not calibrated or fell back, with what would calibrate
    the core family and the stack (a ``core_type`` the spec lacks, a ``framework`` not given, the calibrated keys),
    and when the calibration holds no interval.
    ``efficiency_pct`` = 100 x roofline latency / calibrated latency. ``keys``: feature columns set as given on the
    query (e.g. the ``core_family`` and ``framework`` of a calibration keyed its own way, see
    :func:`~.inference_offline.query_keys`)."""
    if not isinstance(calibration, CalibratedPredictor):
        calibration = load_calibration(calibration)
    spec = hardware if isinstance(hardware, HardwareSpec) else get_hardware(hardware)
    family, version = normalize_framework(framework)
    query = pd.DataFrame([{"hardware": spec.name, "network": network.name, "batch": batch,
                           "precision": precision or network.precision.label, "framework": family,
                           "framework_version": normalize_version(framework_version) or version}])
    # a reference model file (vww_96_int8) is the network its records name (vww_96): one the calibration knows
    features, skipped = calibration_features(query, network_index([network]), {spec.name: spec},
                                             calibration.traffic, calibration.op_classes)
    if len(skipped):
        raise CalibrationError(skipped["reason"].iloc[0])
    if keys:
        features = features.assign(**keys)
    factors = calibration.class_factors(features).iloc[0]
    roofline = calibration._design(features)[1][0]
    classes = pd.DataFrame({"op_class": factors.index, "roofline_s": roofline, "factor": factors.to_numpy(),
                            "latency_s": roofline * factors.to_numpy()})
    latency = float(classes.latency_s.sum())
    roofline_latency = float(features["roofline_latency_s"].iloc[0])
    layers = class_layers(network, spec, precision, batch, calibration.traffic, op_classes=calibration.op_classes)
    overhead_s = 0.0 if calibration.kernel_overhead_ref_s is None else \
        float(factors[KERNEL_OVERHEAD]) * calibration.kernel_overhead_ref_s  # t0, s per kernel
    call_s = 0.0 if calibration.call_overhead_ref_s is None else \
        float(factors[CALL_OVERHEAD]) * calibration.call_overhead_ref_s  # s per inference call
    layers["calibrated_time_s"] = (layers["time_s"] * layers["calibration_class"].map(factors).fillna(0.0)
                                   + layers["kernel"] * overhead_s)
    resolved, level_notes, depths = calibration._resolve(features)  # what explain() reports, and the release used
    levels = tuple(level_notes[0])
    release, notes = _release_used(calibration, resolved.iloc[0], query.framework_version[0])
    fallbacks = [level for level in levels if "not calibrated" in level]
    if fallbacks:
        advice = "".join(f"; {text}" for text in _fallback_advice(fallbacks, features.iloc[0], spec, calibration))
        warnings.warn(f"{network.name} on {spec.name}: {'; '.join(fallbacks)}{advice}", CalibrationWarning,
                      stacklevel=caller_stacklevel())
    interval = None
    if getattr(calibration, "residual_quantiles_", None):
        with warnings.catch_warnings():  # class_factors above warned of the classes without records: once
            warnings.filterwarnings("ignore", NO_RECORD_WARNING, CalibrationWarning)
            low, high = calibration.predict_interval(features)
        interval = (float(low[0]), float(high[0]))
    elif calibration.interval_coverage:
        count = calibration.n_records_
        warnings.warn(f"{network.name} on {spec.name}: no interval, the calibration holds none (fitted on {count} "
                      f"record{'s' if count != 1 else ''}: too few to cross-validate one, or saved without one); "
                      "refit it on more records for an interval", CalibrationWarning,
                      stacklevel=caller_stacklevel())
    return CalibratedPrediction(network.name, spec.name, query.precision[0], batch, family,
                                query.framework_version[0], latency, batch / latency, roofline_latency,
                                100 * roofline_latency / latency, classes, layers, interval, levels,
                                int(depths[0]), call_s, release, tuple(notes))
