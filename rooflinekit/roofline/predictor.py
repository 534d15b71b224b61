"""Roofline predictions for a network on a hardware, and sweeps over design spaces.

Two granularities:

- ``network`` (QuTiBench level 0): the network's total ops and bytes go through one roofline:
  ``t = max(sum_i ops_i / peak_i, max_l sum_i bytes_il / bw_l)``.
- ``layer``: each layer through its own roofline, ``t = sum_i max(ops_i / peak_i, max_l bytes_il / bw_l)``;
  each layer reports its bound.

Per batch of B frames the weights are read once (see :mod:`rooflinekit.roofline.traffic`), so
``fps = B / t_batch`` and ``latency_s = t_batch``. ``bound`` is ``compute`` or ``memory:<level>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import NetworkCatalog, get_hardware, get_network
from rooflinekit.counters import CountingConventions, NetworkCost, count_network
from rooflinekit.descriptors import AggregateNetwork, DType, HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.roofline.core import COMPUTE_BOUND, roofline_times, traffic_bytes
from rooflinekit.roofline.traffic import MemoryLayout, Traffic

Mode = Literal["network", "layer"]
MODES = ("network", "layer")


@dataclass(frozen=True)
class Prediction:
    """One prediction. Per-frame quantities: ``ops``, ``bytes``; per-batch: ``latency_s``."""

    network: str
    hardware: str
    precision: str
    batch: int
    mode: str
    traffic: str
    fps: float
    latency_s: float
    bound: str
    ops: float
    bytes: float
    operational_intensity: float
    attainable_ops_per_s: float
    peak_ops_per_s: float
    latency_optimistic_s: float
    latency_pessimistic_s: float
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("layers")
        return out


def _resolve_network(network: NetworkSpec | str) -> NetworkSpec:
    return get_network(network) if isinstance(network, str) else network


def _resolve_hardware(hardware: HardwareSpec | str) -> HardwareSpec:
    return get_hardware(hardware) if isinstance(hardware, str) else hardware


def _bound_label(bound: int, layout: MemoryLayout) -> str:
    return "compute" if bound == COMPUTE_BOUND else f"memory:{layout.names[bound]}"


def _cost_arrays(cost: NetworkCost, network: NetworkSpec, traffic: Traffic) -> dict[str, np.ndarray]:
    """Per-row arrays for one frame: ops, weight bytes (per batch), activation bytes, compute dtype."""
    if isinstance(network, AggregateNetwork):
        if traffic is not Traffic.WEIGHTS_ONLY and cost.activation_bytes_total is None:
            raise SpecError(
                f"{network.name} is an aggregate spec without activation_elements_per_frame; "
                f"use traffic 'weights_only' or add the activation count to its spec"
            )
        return {
            "ops": np.array([cost.ops_total / cost.batch]),
            "weight_bytes": np.array([cost.weight_bytes_total]),
            "activation_bytes": np.array([(cost.activation_bytes_total or 0.0) / cost.batch]),
            "compute_dtype": np.array([cost.precision.compute.value]),
        }
    layers = cost.layers
    return {
        "ops": layers["ops"].to_numpy(np.float64) / cost.batch,
        "weight_bytes": layers["weight_bytes"].to_numpy(np.float64),
        "activation_bytes": (layers["input_bytes"] + layers["output_bytes"]).to_numpy(np.float64) / cost.batch,
        "compute_dtype": layers["compute_dtype"].to_numpy(),
    }


def _peaks(hardware: HardwareSpec, dtypes: np.ndarray) -> np.ndarray:
    peaks = {}
    for name in np.unique(dtypes):
        peaks[name] = hardware.peak(DType(name))
    return np.array([peaks[d] for d in dtypes], dtype=np.float64)


def _check_arguments(batch: int, mode: str) -> None:
    if mode not in MODES:
        raise SpecError(f"unknown mode {mode!r}; use 'network' or 'layer'")
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")


def predict(network: NetworkSpec | str, hardware: HardwareSpec | str, precision: Precision | str | None = None,
            batch: int = 1, mode: Mode = "network", traffic: Traffic | str = Traffic.WEIGHTS_ONLY,
            conventions: CountingConventions = CountingConventions()) -> Prediction:
    """Predict throughput and latency of ``network`` on ``hardware``.

    ``precision`` None keeps the network's own (per-layer) precision. Raises :class:`PrecisionError` when the
    hardware has no native peak for a layer's compute data type.
    """
    net, hw = _resolve_network(network), _resolve_hardware(hardware)
    traffic = Traffic.parse(traffic)
    _check_arguments(batch, mode)
    cost = count_network(net, precision, conventions=conventions)
    return _evaluate(net, cost, _cost_arrays(cost, net, traffic), hw, batch, mode, traffic, with_layers=True)


def _evaluate(net: NetworkSpec, cost: NetworkCost, arrays: dict[str, np.ndarray], hw: HardwareSpec, batch: int,
              mode: str, traffic: Traffic, with_layers: bool) -> Prediction:
    """The roofline of one counted network on one hardware at one batch size."""
    layout = MemoryLayout.of(hw)
    peak = _peaks(hw, arrays["compute_dtype"])
    moved = traffic_bytes(
        arrays["weight_bytes"], arrays["activation_bytes"], batch, len(layout.names), layout.weights_level,
        layout.activations_level, traffic is not Traffic.WEIGHTS_ONLY,
        np.int64(layout.on_chip_level) if traffic is Traffic.ON_CHIP_IF_FITS else None,
        layout.on_chip_capacity_bytes,
    )
    ops_batch = arrays["ops"] * batch
    bandwidth = np.array(layout.bandwidth_bytes_per_s)
    layer_t = roofline_times(ops_batch, moved, peak, bandwidth)
    ops_total = float(ops_batch.sum())
    bytes_total = float(moved.sum())
    if mode == "network":
        compute_s = float(layer_t.compute_s.sum())
        whole = roofline_times(np.array([ops_total]), moved.sum(axis=0)[None, :],
                               np.array([ops_total / compute_s if compute_s > 0 else 1.0]), bandwidth)
        time_s, bound = float(whole.time_s[0]), int(whole.bound[0])
        optimistic_s, pessimistic_s = time_s, float(whole.pessimistic_s[0])
    else:
        time_s = float(layer_t.time_s.sum())
        bound = _dominant_bound(layer_t.time_s, layer_t.bound)
        optimistic_s = float(max(layer_t.compute_s.sum(), layer_t.memory_s.sum(axis=0).max()))
        pessimistic_s = float(layer_t.pessimistic_s.sum())
    if time_s <= 0:
        raise SpecError(f"{net.name} has no ops and moves no bytes at {cost.precision.label}; nothing to predict")
    layers = None
    if with_layers and not isinstance(net, AggregateNetwork):
        layers = cost.layers.assign(
            time_s=layer_t.time_s, compute_s=layer_t.compute_s, memory_s=layer_t.memory_s.max(axis=1),
            bound=[_bound_label(b, layout) for b in layer_t.bound],
        )
    return Prediction(
        network=NetworkCatalog.label(net), hardware=hw.name, precision=cost.precision.label, batch=int(batch),
        mode=mode, traffic=traffic.value, fps=batch / time_s, latency_s=time_s, bound=_bound_label(bound, layout),
        ops=ops_total / batch, bytes=bytes_total / batch,
        operational_intensity=ops_total / bytes_total if bytes_total > 0 else float("inf"),
        attainable_ops_per_s=ops_total / time_s, peak_ops_per_s=float(peak.max()),
        latency_optimistic_s=optimistic_s, latency_pessimistic_s=pessimistic_s, layers=layers,
    )


def _dominant_bound(time_s: np.ndarray, bound: np.ndarray) -> int:
    """The bound that accounts for most of the summed layer time."""
    labels = np.unique(bound)
    shares = [time_s[bound == b].sum() for b in labels]
    return int(labels[int(np.argmax(shares))])


SWEEP_COLUMNS = ["network", "hardware", "precision", "batch", "mode", "traffic", "fps", "latency_s", "bound",
                 "ops", "bytes", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s",
                 "latency_optimistic_s", "latency_pessimistic_s", "status"]


def sweep(networks: Iterable[NetworkSpec | str], hardware: Iterable[HardwareSpec | str],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int] = (1,),
          mode: Mode = "network", traffic: Traffic | str = Traffic.WEIGHTS_ONLY) -> pd.DataFrame:
    """Predict every combination of networks x hardware x precisions x batches as a tidy DataFrame.

    A combination that cannot be predicted (a data type the hardware lacks, an aggregate spec under activation
    traffic) is kept as a row with NaN numbers and the reason in ``status``; predicted rows have status ``ok``.
    Each network is counted once per precision, then evaluated on every hardware and batch size.
    """
    rows = []
    traffic = Traffic.parse(traffic)
    for batch in batches:
        _check_arguments(batch, mode)
    hws = [_resolve_hardware(h) for h in hardware]
    for net in (_resolve_network(n) for n in networks):
        for precision in precisions:
            cost = count_network(net, precision)  # once per network and precision
            try:
                arrays: dict[str, np.ndarray] | None = _cost_arrays(cost, net, traffic)
                reason = ""
            except SpecError as exc:  # e.g. an aggregate spec under activation traffic
                arrays, reason = None, str(exc)
            for hw in hws:
                for batch in batches:
                    try:
                        if arrays is None:
                            raise SpecError(reason)
                        row = _evaluate(net, cost, arrays, hw, batch, mode, traffic, with_layers=False).to_dict()
                        row["status"] = "ok"
                    except (PrecisionError, SpecError) as exc:
                        row = {"network": NetworkCatalog.label(net), "hardware": hw.name,
                               "precision": cost.precision.label, "batch": batch, "mode": mode,
                               "traffic": traffic.value, "status": str(exc)}
                    rows.append(row)
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)
