"""The public entry points: :func:`predict` and :func:`sweep` by catalog name or by spec.

Name resolution lives here, not in :mod:`rooflinekit.roofline`: a string names a catalog network (``ResNet-50
80%``) or hardware (``ZCU104-DPU``, any alias), or a file: a model file (``.onnx``, ``.tflite``) or a hardware
YAML file (``.yaml``, ``.yml``) holding one spec. A spec or a :class:`~rooflinekit.roofline.CountedNetwork` is
used as it is. A prediction whose memories cannot hold what they must is made anyway and warned about
(:class:`CapacityWarning`), with both sizes in ``Prediction.notes``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from rooflinekit.catalog import get_hardware, get_network, load_hardware_file
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import PrecisionError, RooflineWarning, SpecError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.roofline import predictor
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.predictor import Mode, Prediction
from rooflinekit.roofline.reductions import Reduction
from rooflinekit.roofline.traffic import TrafficModel
from rooflinekit.roofline.workload import CountedNetwork

if TYPE_CHECKING:
    import pandas as pd

    from rooflinekit.compare.calibrate import CalibratedPredictor


class CapacityWarning(RooflineWarning):
    """A memory level cannot hold what the prediction places in it."""


HARDWARE_SUFFIXES = (".yaml", ".yml")


def resolve_network(network: NetworkSpec | CountedNetwork | str | Path) -> NetworkSpec | CountedNetwork:
    """A model file (by suffix), a catalog network by name (with an optional pruning suffix), or ``network``."""
    if isinstance(network, Path) or isinstance(network, str) and Path(network).suffix.lower() in MODEL_SUFFIXES:
        return load_model(network)
    return get_network(network) if isinstance(network, str) else network


def resolve_hardware(hardware: HardwareSpec | str | Path) -> HardwareSpec:
    """A hardware YAML file holding one spec (by suffix), a catalog hardware by name or alias, or ``hardware``."""
    if isinstance(hardware, Path) or isinstance(hardware, str) and Path(hardware).suffix.lower() in HARDWARE_SUFFIXES:
        specs = load_hardware_file(hardware)
        if len(specs) != 1:
            raise SpecError(f"{hardware}: holds {len(specs)} hardware specs; name one from the catalog or keep one "
                            "spec per file")
        return specs[0]
    return get_hardware(hardware) if isinstance(hardware, str) else hardware


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
    used (``Prediction.estimate == "calibrated"``). A level that was not calibrated or fell back warns
    :class:`~rooflinekit.compare.calibrate.CalibrationWarning` naming the fallback. The shipped calibration is
    chosen by the hardware's class (MCU: MLPerf Tiny; GPU, NPU: MLPerf Inference Offline; any other class is
    refused with a :class:`~rooflinekit.errors.CalibrationError`); one that carries a regime (GPU, NPU: large-batch
    throughput at 64 samples per accelerator, weights-only traffic) is costed in it, and a smaller ``batch`` warns
    once and gets that throughput scaled to its samples, said in ``notes``
    (:mod:`rooflinekit.compare.calibrate.regime`).

    ``network`` and ``hardware`` may be catalog names or files (see :func:`resolve_network`,
    :func:`resolve_hardware`). With ``precision=None`` and a network whose own data type has no peak on the
    hardware, the hardware's ``default_precision`` is used (when it has one) and ``notes`` says so. Warns :class:`CapacityWarning` when a memory level
    cannot hold the weights, activations or state placed in it.
    """
    network, hardware = resolve_network(network), resolve_hardware(hardware)
    model = _calibration(calibration, hardware) if calibrated or calibration is not None else None
    regime_notes: tuple[str, ...] = ()
    if model is not None:
        mode, traffic, fuse = "layer", model.traffic, False  # the roofline the factors were fitted on
        network, regime_notes = _regime_network(network, model)
    try:
        result = predictor.predict(network, hardware, precision, batch, mode, traffic, conventions, counters, fuse)
    except PrecisionError as exc:
        if precision is not None or hardware.default_precision is None:
            raise
        default = hardware.default_precision.value
        result = predictor.predict(network, hardware, default, batch, mode, traffic, conventions, counters, fuse)
        result = dataclasses.replace(result, notes=(*result.notes, f"precision {default}: {hardware.name}'s "
                                                    f"default, as the network's own type has no peak there ({exc})"))
    if not result.fits:
        warnings.warn(f"{result.network} on {result.hardware}: {'; '.join(result.notes)}", CapacityWarning,
                      stacklevel=2)
    if model is not None:
        result = _calibrated(result, network, hardware, model, framework, framework_version)
        result = dataclasses.replace(result, notes=(*regime_notes, *result.notes))
    return result


def _calibration(calibration: CalibratedPredictor | str | Path | None, hardware: HardwareSpec
                 ) -> CalibratedPredictor:
    """The shipped calibration of ``hardware``'s class (None), ``calibration`` itself, or the file it names."""
    from rooflinekit.compare.calibrate import CalibratedPredictor, default_calibration
    from rooflinekit.compare.calibrate.regime import load_regime_calibration

    if calibration is None:
        return default_calibration(hardware)
    return calibration if isinstance(calibration, CalibratedPredictor) else load_regime_calibration(calibration)


def _regime_network(network: NetworkSpec | CountedNetwork, model: CalibratedPredictor
                    ) -> tuple[NetworkSpec | CountedNetwork, tuple[str, ...]]:
    """The network the calibration's regime costs (a catalog aggregate it knows becomes its layer network)."""
    from rooflinekit.compare.calibrate.regime import regime_network

    if isinstance(network, CountedNetwork):
        return network, ()
    network, note = regime_network(network, model)
    return network, (() if note is None else (note,))


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
        latency_interval_s=estimate.interval_s, calibration_levels=estimate.levels, layers=estimate.layers,
        notes=(*bound.notes, *notes))


def sweep(networks: Iterable[NetworkSpec | CountedNetwork | str | Path],
          hardware: Iterable[HardwareSpec | HardwareGrid | str | Path],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
          mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
          conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
          fuse: bool = True, reduce: Reduction | None = None, chunk_rows: int = predictor.DEFAULT_CHUNK_ROWS,
          engine: str = "local", scheduler: str | None = None, partitions: int | None = None) -> pd.DataFrame:
    """Predict every combination as a DataFrame; see :func:`rooflinekit.roofline.sweep`.

    Names resolve through the catalogs; a :class:`~rooflinekit.roofline.HardwareGrid` is used as it is.
    ``reduce`` streams the sweep through a reduction (``Best``, ``Pareto``, ``Histogram``) in chunks of
    ``chunk_rows`` rows. ``engine="dask"`` runs it on a Dask cluster (``scheduler``: its address, None for a local
    one; ``partitions``: how many parts the networks are split into), see
    :func:`rooflinekit.roofline.dask_engine.sweep_dask`. Warns :class:`CapacityWarning` once with the number of
    rows that do not fit (their ``fits`` column is False).
    """
    import pandas as pd

    nets = [resolve_network(n) for n in networks]
    hws = [h if isinstance(h, HardwareGrid) else resolve_hardware(h) for h in hardware]
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
    if "fits" not in table.columns:
        return table
    misfits = int((table["fits"] == False).sum())  # noqa: E712 (missing where the row was not predicted)
    if misfits:
        warnings.warn(f"{misfits} of {len(table)} predictions do not fit their memories; see the 'fits' and "
                      "'notes' columns", CapacityWarning, stacklevel=2)
    return table
