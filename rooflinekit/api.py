"""The public entry points: :func:`predict` and :func:`sweep` by catalog name or by spec.

Name resolution lives here, not in :mod:`rooflinekit.roofline`: a string names a catalog network (``ResNet-50
80%``) or hardware (``ZCU104-DPU``, any alias), or a file: a model file (``.onnx``, ``.tflite``) or a hardware
YAML file (``.yaml``, ``.yml``) holding one spec. A spec or a :class:`~rooflinekit.roofline.CountedNetwork` is
used as it is. A prediction whose memories cannot hold what they must is made anyway and warned about
(:class:`CapacityWarning`), with both sizes in ``Prediction.notes``.
"""

from __future__ import annotations

import dataclasses
import operator
import warnings
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from rooflinekit._limits import shown
from rooflinekit.catalog import get_hardware, get_network, load_hardware_file
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import AggregateNetwork, DType, HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import CalibrationError, PrecisionError, RooflineWarning, SpecError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.roofline import predictor
from rooflinekit.roofline.engines import computing
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.predictor import Mode, Prediction
from rooflinekit.roofline.reductions import Reduction
from rooflinekit.roofline.traffic import TrafficModel
from rooflinekit.roofline.workload import CountedNetwork, count_once

if TYPE_CHECKING:
    import pandas as pd

    from rooflinekit.compare.calibrate import CalibratedPredictor


class CapacityWarning(RooflineWarning):
    """A memory level cannot hold what the prediction places in it."""


HARDWARE_SUFFIXES = (".yaml", ".yml")


def is_model_path(network: object) -> bool:
    """Whether ``network`` names a model file: a :class:`~pathlib.Path`, or a str with a model file's suffix."""
    return isinstance(network, Path) or isinstance(network, str) and Path(network).suffix.lower() in MODEL_SUFFIXES


def named_network(name: str, framework: str | None = None) -> NetworkSpec:
    """The network a name spells: a NAS-Bench-201 architecture string, else a catalog network.

    Parameters
    ----------
    name : str
        A NAS-Bench-201 architecture string (``|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|...|``, or ``NB201
        <arch>``, :func:`~rooflinekit.networks.nb201.nb201_arch_of`) or a catalog name or alias, with an optional
        pruning suffix (``ResNet-50 80%``).
    framework : str, optional
        The software stack the network runs under: a NAS-Bench-201 network is built as that stack runs it
        (:func:`~rooflinekit.networks.nb201.nb201_execution`: without its ``none`` edges under TFLite; every edge,
        as PyTorch runs it, otherwise and by default).

    Returns
    -------
    NetworkSpec
        The architecture's CIFAR-10 network as :func:`~rooflinekit.networks.nb201_network` builds it (named
        ``NB201 <arch>``, batch 1, fp32), or the catalog spec.

    Raises
    ------
    SpecError
        An architecture string that does not parse, naming the fault (an unknown op with the five allowed ones).
    UnknownNameError
        A name that is neither, with the catalog's close names.
    """
    if "~" not in name:  # no op~source edge, so not an architecture string: the network builders stay unloaded
        return get_network(name)
    from rooflinekit.networks.nb201 import nb201_arch_of, nb201_execution, nb201_network

    arch = nb201_arch_of(name)
    return get_network(name) if arch is None else nb201_network(arch, execution=nb201_execution(framework))


def resolve_network(network: NetworkSpec | CountedNetwork | str | Path, batch: int | None = None,
                    framework: str | None = None) -> NetworkSpec | CountedNetwork:
    """A model file (by suffix) imported at ``batch`` (None: its own; a batch its shapes fix otherwise is a
    :class:`~rooflinekit.errors.ShapeError`, see :func:`~rooflinekit.importers.load_model`), a NAS-Bench-201
    architecture string (as ``framework`` runs it) or a catalog network by name (with an optional pruning suffix;
    :func:`named_network`), or ``network``."""
    if is_model_path(network):
        if hasattr(batch, "__index__") and not isinstance(batch, bool):  # numpy integers as Python ints
            batch = operator.index(batch)
        return load_model(network, batch=batch)
    return named_network(network, framework) if isinstance(network, str) else network


def check_model_batches(path: str | Path, network: NetworkSpec, batches: Iterable[int | None]) -> None:
    """Refuse a batch of ``batches`` that the model file ``path`` (imported as ``network``, at its own batch) cannot
    be imported at (a leading dim, Reshape target or other constant fixing another batch), as :func:`predict`
    refuses it: a sweep costs the file's network at each batch, which must be the network imported at that batch.

    Raises
    ------
    ShapeError
        From :func:`~rooflinekit.importers.load_model`, naming the input or node that fixes the batch and the
        ``input_shapes`` that would override it.
    """
    own = getattr(network, "batch", None)
    for batch in dict.fromkeys(b for b in batches if b is not None and b != own):
        load_model(path, batch=batch)


def resolve_hardware(hardware: HardwareSpec | str | Path) -> HardwareSpec:
    """A hardware YAML file holding one spec (by suffix), a catalog hardware by name or alias, or ``hardware``
    (a :class:`SpecError` when it is none of these)."""
    if isinstance(hardware, Path) or isinstance(hardware, str) and Path(hardware).suffix.lower() in HARDWARE_SUFFIXES:
        specs = load_hardware_file(hardware)
        if len(specs) != 1:
            raise SpecError(f"{hardware}: holds {len(specs)} hardware specs; name one from the catalog or keep one "
                            "spec per file")
        return specs[0]
    if isinstance(hardware, str):
        return get_hardware(hardware)
    predictor.check_hardware(hardware)
    return hardware


def predict(network: NetworkSpec | CountedNetwork | str | Path, hardware: HardwareSpec | str | Path,
            precision: Precision | str | None = None, batch: int | None = None, mode: Mode = "network",
            traffic: TrafficModel | str = "weights_only", conventions: CountingConventions = CountingConventions(),
            counters: CounterRegistry = DEFAULT_COUNTERS, fuse: bool = True, calibrated: bool = False,
            calibration: CalibratedPredictor | str | Path | None = None, framework: str | None = None,
            framework_version: str | None = None) -> Prediction:
    """Predict throughput and latency of ``network`` on ``hardware``; see :func:`rooflinekit.roofline.predict`.

    ``calibrated=True`` (or a ``calibration``: a fitted predictor or its JSON file; default the shipped one, see
    :mod:`rooflinekit.compare.calibrate.defaults`) turns the bound into an estimate for the software stack
    ``framework`` (and ``framework_version``): the layer-mode roofline of the calibration's traffic model, one
    kernel per layer, scaled per op class by the fitted factors, with an interval and the calibration levels
    used (``Prediction.estimate == "calibrated"``; ``calibration_levels`` holds the levels ``predict --calibrated``
    prints, and ``notes`` the notes it prints, among them the release of the stack whose factors were used when it
    is not the ``framework_version`` given). A level that was not calibrated or fell back warns
    :class:`~rooflinekit.compare.calibrate.CalibrationWarning` naming the fallback. The shipped calibration is
    chosen by the hardware's class, ``framework`` and ``batch`` (MCU: MLPerf Tiny; CPU, and GPU with ``framework="PyTorch"``:
    eager-framework latency, NAS-Bench-201 + NeuSight; other GPU, NPU: MLPerf Inference Offline, at ``batch`` 1
    MLPerf Inference SingleStream; FPGA, TPU, VPU: QuTiBench; a DSP is refused with a
    :class:`~rooflinekit.errors.CalibrationError`); a ``framework`` not given on a device every record of which
    ran one stack is that stack (said in ``calibration_levels``); one that carries a regime (GPU, NPU: large-batch
    throughput at 64 samples per accelerator, weights-only traffic) is costed in it, and a smaller ``batch`` (2 to
    63) warns once and gets that throughput scaled to its samples, said in ``notes``
    (:mod:`rooflinekit.compare.calibrate.regime`). A device whose peak at the compute data type or whose memory
    bandwidth lies outside the range of the calibration's devices gets an ``extrapolated: ...`` note naming the
    value and the range, and one ``CalibrationWarning`` (:mod:`rooflinekit.compare.calibrate.extrapolation`); so
    does a network whose work per kernel (MACs / kernels at the batch costed) lies outside that of the
    calibration's records of the hardware class.

    ``network`` and ``hardware`` may be catalog names or files (see :func:`resolve_network`,
    :func:`resolve_hardware`; a NAS-Bench-201 architecture string is built as the calibrated ``framework`` runs it,
    :func:`named_network`). With ``precision=None`` and a network whose own data type has no peak on the
    hardware, the hardware's ``default_precision`` is used (when it has one) and ``notes`` says so; a precision
    without a peak raises :class:`~rooflinekit.errors.PrecisionError` naming one to pass (a
    :class:`~rooflinekit.roofline.CountedNetwork` is not counted again: its error says to count it at a precision
    the hardware supports). A layer computing in int32 or int64 where the hardware has no peak for that type is
    costed at its fp32 peak (:func:`~rooflinekit.descriptors.hardware.bounding_dtype`) and ``notes`` names it.
    ``notes`` also says when layer mode meets a network without layers (it is then network mode) and when
    ``hardware`` is a system of several devices (costed as one of them; calibrated in a regime, keyed as the catalog
    device it is made of, with the system's data-parallel throughput,
    :func:`~rooflinekit.compare.calibrate.regime.system_notes`). Warns :class:`CapacityWarning` when a memory level
    cannot hold the weights, activations or state placed in it (an aggregate network without an activation count:
    the weights and state, see :class:`~rooflinekit.roofline.Prediction`), and
    :class:`~rooflinekit.errors.RooflineWarning` when ``framework`` is given without a calibration (it is ignored).
    A bound (no calibration) on a GPU or CPU too small to set the latency, its bound per kernel below the cost of
    launching one, says so in ``notes`` (the rule: :func:`rooflinekit.quick.overhead_note`).
    """
    calibrating = calibrated or calibration is not None
    network = resolve_network(network, batch, framework if calibrating else None)
    hardware = resolve_hardware(hardware)
    model = _calibration(calibration, hardware, framework, _samples(network, batch)) if calibrating else None
    regime_notes: tuple[str, ...] = ()
    if model is not None:
        mode, traffic, fuse = "layer", model.traffic, False  # the roofline the factors were fitted on
        network, regime_notes = _regime_network(network, model, conventions, counters)
        spec = network.spec if isinstance(network, CountedNetwork) else network
        if isinstance(spec, AggregateNetwork):  # said before its bound, which the calibration's traffic may not cost
            from rooflinekit.compare.calibrate.features import aggregate_error

            raise aggregate_error(spec)
    elif framework is not None or framework_version is not None:
        given = f"framework {framework!r}" if framework is not None else f"framework_version {framework_version!r}"
        warnings.warn(f"{given} is ignored: it selects the calibration factors of a software stack; pass "
                      "calibrated=True or a calibration (--calibrated or --calibration FILE) to use it",
                      RooflineWarning, stacklevel=2)
    result, _, note = _roofline(network, hardware, precision, batch, mode, traffic, conventions, counters, fuse)
    extra = [] if note is None else [note]
    if mode == "layer" and model is None and result.layers is None:
        extra.append(f"{result.network} has no layers (an aggregate network: totals only), so layer mode "
                     "is network mode; give its model file for a per-layer prediction")
    if model is None or getattr(model, "regime_", None) is None:  # a regime's own note says how devices combine
        extra.extend(_multi_device_notes(hardware))
    result = dataclasses.replace(result, notes=(*result.notes, *extra)) if extra else result
    if not result.fits:
        warnings.warn(f"{result.network} on {result.hardware}: {'; '.join(result.notes)}", CapacityWarning,
                      stacklevel=2)
    if model is None:
        overhead = _overhead_note(result, network, hardware)
        return result if overhead is None else dataclasses.replace(result, notes=(*result.notes, overhead))
    result = _calibrated(result, network, hardware, model, framework, framework_version)
    return dataclasses.replace(result, notes=(*regime_notes, *result.notes))


def resolve_precision(network: NetworkSpec | CountedNetwork | str | Path, hardware: HardwareSpec | str | Path,
                      precision: Precision | str | None = None, batch: int | None = None
                      ) -> tuple[str | None, str | None]:
    """The precision :func:`predict` costs ``network`` at on ``hardware``, and the note saying why when it differs.

    Parameters
    ----------
    network, hardware
        As :func:`predict` takes them.
    precision : Precision or str, optional
        The precision asked for; None: the network's own.
    batch : int, optional
        Samples per batch; None: the network's own.

    Returns
    -------
    tuple of (str or None, str or None)
        ``precision`` (its label, e.g. ``W-int8_A-fp32``) and None, or, when ``precision`` is None and the
        network's own type has no peak on the hardware, the hardware's ``default_precision`` and the note saying so.

    Raises
    ------
    PrecisionError
        When the precision asked for (or the network's own, on hardware without a default) has no peak there;
        the message names a type to pass instead.
    """
    _, resolved, note = _roofline(resolve_network(network), resolve_hardware(hardware), precision, batch, "network",
                                  "weights_only", CountingConventions(), DEFAULT_COUNTERS, True)
    return (resolved.label if isinstance(resolved, Precision) else resolved), note


def _roofline(network: NetworkSpec | CountedNetwork, hardware: HardwareSpec, precision: Precision | str | None,
              batch: int | None, mode: Mode, traffic: TrafficModel | str, conventions: CountingConventions,
              counters: CounterRegistry, fuse: bool) -> tuple[Prediction, Precision | str | None, str | None]:
    """The roofline prediction, the precision it was made at and the note of a fallback to the default precision.

    With ``precision`` None and a network whose own type has no peak on ``hardware``, the hardware's
    ``default_precision`` is used (noted). A precision error otherwise names a type the hardware supports.
    """
    if isinstance(precision, str):
        precision = Precision.parse(precision)  # an unknown precision says so before any hardware is consulted
    try:
        return (predictor.predict(network, hardware, precision, batch, mode, traffic, conventions, counters, fuse),
                precision, None)
    except PrecisionError as exc:
        if precision is None and isinstance(network, CountedNetwork):  # not counted again at another precision
            pick = _precision_pick(hardware)
            raise predictor.counted_precision_error(network, exc, pick and pick.value) from exc
        if precision is not None or hardware.default_precision is None:
            raise _extended(exc, _own_type_hint(network, precision, exc, hardware) or _precision_hint(hardware)
                            ) from exc
        default = hardware.default_precision.value
        try:
            result = predictor.predict(network, hardware, default, batch, mode, traffic, conventions, counters, fuse)
        except PrecisionError as again:  # a default equal to the network's own keeps every layer's type
            raise _extended(again, _own_type_hint(network, Precision.parse(default), again, hardware)
                            or _precision_hint(hardware)) from again
        return result, default, predictor.default_precision_note(hardware.name, default, exc)


def _extended(error: PrecisionError, hint: str) -> PrecisionError:
    """``error`` with ``hint`` added to its message, keeping its fields (``precision``, ``hardware``,
    ``supported``)."""
    return PrecisionError(f"{error}{hint}", precision=error.precision, hardware=error.hardware,
                          supported=error.supported)


def _precision_hint(hardware: HardwareSpec) -> str:
    """``"; choose one: pass precision='int4' (--precision int4)"`` naming :func:`_precision_pick`; empty without
    peaks."""
    pick = _precision_pick(hardware)
    return "" if pick is None else f"; choose one: pass precision='{pick.value}' (--precision {pick.value})"


def _own_type_hint(network: NetworkSpec | CountedNetwork, precision: Precision | None, error: PrecisionError,
                   hardware: HardwareSpec) -> str:
    """The hint of a type without a peak that is not the precision's but some layers' own (an ONNX graph's live
    int64 index arithmetic in an fp32 network): naming them, and that only a precision other than the network's
    own re-types them (one equal to it keeps every layer's type, :func:`~rooflinekit.counters.count_network`), with
    such a type the device has; empty when the type is the precision's (:func:`_precision_hint` applies)."""
    spec = network.spec if isinstance(network, CountedNetwork) else network
    own = spec.precision
    if error.precision is None or error.precision == (precision or own).compute.value:
        return ""
    counted = network if isinstance(network, CountedNetwork) else count_once(network, precision)
    names = counted.layers_computing_in({error.precision})
    if not names:
        return ""
    alternative = _widest([dtype for dtype in hardware.peak_ops_per_s if dtype != own.compute])
    one = len(names) == 1
    how = (f"; a precision other than {own.label} re-types every layer, {'this one' if one else 'these'} too "
           f"(--precision {alternative.value})" if alternative is not None else
           f"; {hardware.name} has no other type to re-type them to")
    return (f"; {computing(names)} in {error.precision}, {'its' if one else 'their'} own type, which the "
            f"network's own precision ({own.label}) keeps{how}")


def _precision_pick(hardware: HardwareSpec) -> DType | None:
    """The data type to suggest on ``hardware``: its default, else its widest native one of at most 32 bits (fp64
    only when nothing narrower is native); None without peaks."""
    default = hardware.default_precision
    return default if default in hardware.peak_ops_per_s else _widest(list(hardware.peak_ops_per_s))


def _widest(dtypes: list[DType]) -> DType | None:
    """The widest of ``dtypes`` of at most 32 bits (a wider one only when none is that narrow); None for none."""
    return max(dtypes, key=lambda dtype: (dtype.bits <= 32, dtype.bits)) if dtypes else None


def _multi_device_notes(hardware: HardwareSpec) -> list[str]:
    """The note that a system of several devices is costed as one of them (empty for a single device)."""
    link = hardware.interconnect
    if link is None:
        return []
    return [f"{hardware.name} holds {link.devices} devices joined by {link.name}; this prediction costs ONE of them "
            "(its peaks and memories), not the system; for a model split over several, see rooflinekit.llm "
            "('rooflinekit llm --tp N --pp M')"]


def _overhead_note(result: Prediction, network: NetworkSpec | CountedNetwork, hardware: HardwareSpec) -> str | None:
    """The note of a GPU or CPU bound too small to set the latency (:func:`rooflinekit.quick.overhead_note`, which
    states the rule): ``result``'s bound per kernel below the launch cost, its kernel count unknown (None) for a
    network known by totals only."""
    from rooflinekit.quick import overhead_note

    spec = network.spec if isinstance(network, CountedNetwork) else network
    kernels = None if isinstance(spec, AggregateNetwork) else result.kernels
    return overhead_note(hardware.kind.value, result.latency_s, kernels)


def _samples(network: NetworkSpec | CountedNetwork, batch: int | None) -> int:
    """The samples per batch a request costs: ``batch``, else the network's own (1 for one held as totals)."""
    if batch is not None:
        return int(batch)
    spec = network.spec if isinstance(network, CountedNetwork) else network
    return int(getattr(spec, "batch", None) or 1)


def _calibration(calibration: CalibratedPredictor | str | Path | None, hardware: HardwareSpec,
                 framework: str | None = None, batch: int | None = None) -> CalibratedPredictor:
    """The shipped calibration of ``hardware``'s class, the stack ``framework`` and ``batch`` samples (None,
    :func:`~rooflinekit.compare.calibrate.defaults.shipped_name`), ``calibration`` itself, or the file it names; a
    :class:`~rooflinekit.errors.CalibrationError` for anything else."""
    from rooflinekit.compare.calibrate import CalibratedPredictor, default_calibration
    from rooflinekit.compare.calibrate.regime import load_regime_calibration

    if calibration is None:
        return default_calibration(hardware, framework, batch)
    if isinstance(calibration, CalibratedPredictor):
        return calibration
    if not isinstance(calibration, (str, PathLike)):
        raise CalibrationError(f"calibration must be a fitted CalibratedPredictor or the path of its JSON file, got "
                               f"{type(calibration).__name__} {shown(calibration)}; write one with 'rooflinekit "
                               "calibrate RECORDS... --out FILE', or pass calibrated=True for the shipped one")
    return load_regime_calibration(calibration)


def _regime_network(network: NetworkSpec | CountedNetwork, model: CalibratedPredictor,
                    conventions: CountingConventions, counters: CounterRegistry
                    ) -> tuple[NetworkSpec | CountedNetwork, tuple[str, ...]]:
    """The network the calibration's regime costs (a catalog aggregate it knows becomes its layer network), so
    that the roofline bound and the calibrated estimate are of one network. A counted aggregate it replaces is
    counted again as that layer network, at the precision it was counted at (with ``conventions``, ``counters``)."""
    from rooflinekit.compare.calibrate.regime import regime_network

    spec = network.spec if isinstance(network, CountedNetwork) else network
    layered, note = regime_network(spec, model)
    if note is None:
        return network, ()
    if isinstance(network, CountedNetwork):
        return CountedNetwork.of(layered, network.precision, conventions, counters), (note,)
    return layered, (note,)


def _calibrated(bound: Prediction, network: NetworkSpec | CountedNetwork, hardware: HardwareSpec,
                model: CalibratedPredictor, framework: str | None, framework_version: str | None) -> Prediction:
    """``bound`` (the layer-mode roofline the calibration scales) turned into the calibrated estimate."""
    from rooflinekit.compare.calibrate.regime import predict_in_regime

    spec = network.spec if isinstance(network, CountedNetwork) else network
    estimate, notes = predict_in_regime(spec, hardware, model, framework, framework_version, bound.precision,
                                        bound.batch)
    return dataclasses.replace(
        bound, estimate="calibrated", latency_s=estimate.latency_s, fps=estimate.fps,
        attainable_ops_per_s=bound.ops * bound.batch / estimate.latency_s, bound_latency_s=bound.latency_s,
        latency_interval_s=estimate.latency_interval_s, calibration_levels=estimate.calibration_levels, layers=estimate.layers,
        notes=(*bound.notes, *notes, *estimate.notes))


def sweep(networks: Iterable[NetworkSpec | CountedNetwork | str | Path],
          hardware: Iterable[HardwareSpec | HardwareGrid | str | Path],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
          mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
          conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
          fuse: bool = True, reduce: Reduction | None = None, chunk_rows: int = predictor.DEFAULT_CHUNK_ROWS,
          engine: str = "local", scheduler: str | None = None, partitions: int | None = None,
          calibrated: bool = False, calibration: CalibratedPredictor | str | Path | None = None,
          framework: str | None = None, framework_version: str | None = None) -> pd.DataFrame:
    """Predict every combination as a DataFrame; see :func:`rooflinekit.roofline.sweep`.

    Names resolve through the catalogs; a :class:`~rooflinekit.roofline.HardwareGrid` is used as it is. Each row
    is :func:`predict`'s for its combination: with precision None and a network whose own type has no peak on the
    hardware, the hardware's ``default_precision`` (a grid's: its template's) is used, the row's ``precision``
    says which and its ``notes`` say why; a row that cannot be predicted keeps the reason in ``status``.
    ``reduce`` streams the sweep through a reduction (``Best``, ``Pareto``, ``Histogram``) in chunks of
    ``chunk_rows`` rows. ``engine="dask"`` runs it on a Dask cluster (``scheduler``: its address, None for a local
    one; ``partitions``: how many parts the networks are split into), see
    :func:`rooflinekit.roofline.dask_engine.sweep_dask`. Warns :class:`CapacityWarning` once with the number of
    rows that do not fit (their ``fits`` column is False); with ``reduce``, of the rows of the whole sweep,
    counted while streaming (also in the result's ``attrs["swept_misfits"]``, out of ``attrs["swept_rows"]``,
    whatever rows the reduction keeps). Warns :class:`~rooflinekit.errors.RooflineWarning` once naming the grid
    axes that cannot change any predicted time under ``traffic``, and what would make them count
    (:func:`rooflinekit.roofline.inert_axes.inert_axes`). Each of ``networks``, ``hardware``, ``precisions`` and
    ``batches`` is a collection: a single name, spec or number is a :class:`~rooflinekit.errors.SpecError` saying
    to wrap it in a list.

    ``calibrated=True`` (or a ``calibration``: a fitted predictor or its JSON file) makes every row the
    prediction :func:`predict` gives its combination with ``calibrated=True`` and the same ``framework`` and
    ``framework_version``, under the same names: ``latency_s`` (s per batch) and ``fps`` (samples/s) the estimate,
    ``latency_interval_low_s`` and ``latency_interval_high_s`` (s) its ``latency_interval_s``, ``bound_latency_s``
    (s) the layer-mode roofline it scales, whose ``bound``, ``ops``, ``bytes`` and other costing columns the row
    shows, ``calibration_levels`` (a tuple) and its ``notes`` (the numbers are ``predict``'s to rounding, the notes
    equal, see :func:`~rooflinekit.compare.calibrate.sweep.calibrated_columns`). ``estimate`` is ``calibrated``
    there, and
    ``bound`` on a predicted row that cannot be calibrated (a hardware class without a shipped calibration, DSP;
    a network known by totals only; ...): its new columns are NaN, the reason is in its
    ``notes`` and one :class:`~rooflinekit.compare.calibrate.CalibrationWarning` counts such rows. A point of a
    :class:`~rooflinekit.roofline.HardwareGrid` is calibrated as its explicit spec (``grid.spec(i)``): a device no
    record had, with the unseen-device interval. Cost: one layer-mode roofline with its layers per (network,
    hardware point, precision, costed batch) (GPU and NPU calibrations cost every batch up to 64 at 64), and one
    vectorized evaluation of the calibration per calibration; not ``predict`` per row. A calibrated sweep is
    local and whole: with ``reduce`` or ``engine="dask"`` it is a :class:`~rooflinekit.errors.SpecError` (sweep
    without them, filtering the networks and hardware first, then reduce the table). ``framework`` or
    ``framework_version`` without a calibration warns :class:`~rooflinekit.errors.RooflineWarning` (ignored).
    """
    import pandas as pd

    for value, what in ((networks, "networks"), (hardware, "hardware")):
        predictor.check_listed(value, what)  # before a name is resolved character by character
    calibrate = calibrated or calibration is not None
    if calibrate and (reduce is not None or engine != "local"):
        option = f"reduce={type(reduce).__name__}" if reduce is not None else f"engine={engine!r}"
        raise SpecError(f"{option} with calibrated=True: a calibrated sweep runs in this process and returns every "
                        f"row; sweep without {option.split('=')[0]} (filter the networks and hardware first to keep "
                        "it small), then reduce the table (e.g. Best('latency_s')(table[table.estimate == "
                        "'calibrated']))")
    if calibrate:  # read twice (the bound, then the calibration): a generator would be empty the second time
        for value, what in ((precisions, "precisions"), (batches, "batches")):
            predictor.check_listed(value, what)
        precisions, batches = tuple(precisions), tuple(batches)
    if not calibrate and (framework is not None or framework_version is not None):
        named = f"framework {framework!r}" if framework is not None else f"framework_version {framework_version!r}"
        warnings.warn(f"{named} is ignored: it selects the calibration factors of a software stack; pass "
                      "calibrated=True or a calibration to use it", RooflineWarning, stacklevel=2)
    given = list(networks)
    nets = [resolve_network(n, framework=framework if calibrate else None) for n in given]
    for path, net in zip(given, nets):  # a model file at each batch: as predict imports it, or refused
        if is_model_path(path):
            check_model_batches(path, net, batches)
    hws = [h if isinstance(h, HardwareGrid) else resolve_hardware(h) for h in hardware]
    from rooflinekit.roofline.inert_axes import warn_inert_axes

    warn_inert_axes(hws, traffic, nets)  # a grid axis no time depends on under this traffic: said once
    if engine == "dask":
        from rooflinekit.roofline.dask_engine import sweep_dask

        table = sweep_dask(nets, hws, precisions, batches, mode, traffic, conventions, counters, fuse, reduce,
                           chunk_rows, scheduler=scheduler, partitions=partitions)
        if not isinstance(table, pd.DataFrame):
            return table  # a lazy Dask DataFrame on the caller's client
    elif engine == "local":
        table = predictor.sweep(nets, hws, precisions, batches, mode, traffic, conventions, counters, fuse, reduce,
                                chunk_rows)
    else:
        raise SpecError(f"unknown sweep engine {engine!r}; use 'local' or 'dask'")
    if reduce is not None:  # the reduction may have dropped the misfits: count those of the whole sweep
        from rooflinekit.display import counted

        count, rows = table.attrs["swept_misfits"], table.attrs["swept_rows"]
        if count:
            warnings.warn(f"{count} of {rows} swept predictions do not fit their memories (counted over the whole "
                          f"sweep, not only the {counted(len(table), 'row')} {type(reduce).__name__} returned)",
                          CapacityWarning, stacklevel=2)
        return table
    count = misfits(table) if "fits" in table.columns else 0
    if count:
        warnings.warn(f"{count} of {len(table)} predictions do not fit their memories; see the 'fits' and "
                      "'notes' columns", CapacityWarning, stacklevel=2)
    if calibrate:
        from rooflinekit.compare.calibrate.sweep import calibrated_columns

        table = calibrated_columns(table, nets, hws, precisions, batches, calibration, framework, framework_version,
                                   conventions, counters)
    return table


def misfits(table: pd.DataFrame) -> int:
    """Rows of a sweep ``table`` whose network does not fit the memories (``fits`` False; a row not predicted,
    ``fits`` missing, is no misfit)."""
    return predictor.count_misfits(table)
