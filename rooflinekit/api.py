"""The public entry points: :func:`predict` and :func:`sweep` by catalog name or by spec.

Name resolution lives here, not in :mod:`rooflinekit.roofline`: a string names a catalog network (``ResNet-50
80%``) or hardware (``ZCU104-DPU``, any alias), or a file: a model file (``.onnx``, ``.tflite``) or a hardware
YAML file (``.yaml``, ``.yml``) holding one spec. A spec or a :class:`~rooflinekit.roofline.CountedNetwork` is
used as it is. A prediction whose memories cannot hold what they must is made anyway and warned about
(:class:`CapacityWarning`), with both sizes in ``Prediction.notes``.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import pandas as pd

from pathlib import Path

from rooflinekit.catalog import get_hardware, get_network, load_hardware_file
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import RooflineWarning, SpecError
from rooflinekit.importers import MODEL_SUFFIXES, load_model
from rooflinekit.roofline import predictor
from rooflinekit.roofline.predictor import Mode, Prediction
from rooflinekit.roofline.traffic import TrafficModel
from rooflinekit.roofline.workload import CountedNetwork


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
            counters: CounterRegistry = DEFAULT_COUNTERS, fuse: bool = True) -> Prediction:
    """Predict throughput and latency of ``network`` on ``hardware``; see :func:`rooflinekit.roofline.predict`.

    ``network`` and ``hardware`` may be catalog names or files (see :func:`resolve_network`,
    :func:`resolve_hardware`). Warns :class:`CapacityWarning` when a memory level
    cannot hold the weights, activations or state placed in it.
    """
    result = predictor.predict(resolve_network(network), resolve_hardware(hardware), precision, batch, mode,
                               traffic, conventions, counters, fuse)
    if not result.fits:
        warnings.warn(f"{result.network} on {result.hardware}: {'; '.join(result.notes)}", CapacityWarning,
                      stacklevel=2)
    return result


def sweep(networks: Iterable[NetworkSpec | CountedNetwork | str | Path], hardware: Iterable[HardwareSpec | str | Path],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
          mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
          conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
          fuse: bool = True) -> pd.DataFrame:
    """Predict every combination as a DataFrame; see :func:`rooflinekit.roofline.sweep`.

    Names resolve through the catalogs. Warns :class:`CapacityWarning` once with the number of rows that do not
    fit (their ``fits`` column is False).
    """
    table = predictor.sweep([resolve_network(n) for n in networks], [resolve_hardware(h) for h in hardware],
                            precisions, batches, mode, traffic, conventions, counters, fuse)
    misfits = int((table["fits"] == False).sum())  # noqa: E712 (None where the row was not predicted)
    if misfits:
        warnings.warn(f"{misfits} of {len(table)} predictions do not fit their memories; see the 'fits' and "
                      "'notes' columns", CapacityWarning, stacklevel=2)
    return table
