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
from typing import Iterable, Literal, Sequence, get_args

import numpy as np
import pandas as pd

from rooflinekit.catalog import NetworkCatalog, get_hardware, get_network
from rooflinekit.counters import CountingConventions, NetworkCost, count_network
from rooflinekit.descriptors import AggregateNetwork, DType, HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.roofline.core import COMPUTE_BOUND, batch_sweep_times, roofline_times, traffic_bytes
from rooflinekit.roofline.traffic import MemoryLayout, Traffic

Mode = Literal["network", "layer"]
MODES: tuple[str, ...] = get_args(Mode)


@dataclass(frozen=True)
class Prediction:
    """One prediction. Per-frame quantities: ``ops``, ``bytes``; per-batch: ``latency_s``.

    ``peak_ops_per_s`` is the compute ceiling the roofline used: the hardware's peak for the compute data type,
    or with mixed precisions the effective ``sum_i ops_i / sum_i (ops_i / peak_i)``.
    """

    network: str
    hardware: str
    precision: str
    pruning_pct: float
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
    cost = count_network(net, precision, batch=batch, conventions=conventions)  # layer rows for this batch
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
    compute_s = float(layer_t.compute_s.sum())
    effective_peak = ops_total / compute_s if compute_s > 0 else float(peak.max())
    if mode == "network":
        whole = roofline_times(np.array([ops_total]), moved.sum(axis=0)[None, :], np.array([effective_peak]),
                               bandwidth)
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
        network=NetworkCatalog.label(net), hardware=hw.name, precision=cost.precision.label,
        pruning_pct=net.pruning_pct, batch=int(batch),
        mode=mode, traffic=traffic.value, fps=batch / time_s, latency_s=time_s, bound=_bound_label(bound, layout),
        ops=ops_total / batch, bytes=bytes_total / batch,
        operational_intensity=ops_total / bytes_total if bytes_total > 0 else float("inf"),
        attainable_ops_per_s=ops_total / time_s, peak_ops_per_s=effective_peak,
        latency_optimistic_s=optimistic_s, latency_pessimistic_s=pessimistic_s, layers=layers,
    )


def _dominant_bound(time_s: np.ndarray, bound: np.ndarray) -> int:
    """The bound that accounts for most of the summed layer time."""
    labels = np.unique(bound)
    shares = [time_s[bound == b].sum() for b in labels]
    return int(labels[int(np.argmax(shares))])


SWEEP_COLUMNS = ["network", "hardware", "precision", "pruning_pct", "batch", "mode", "traffic", "fps", "latency_s", "bound",
                 "ops", "bytes", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s",
                 "latency_optimistic_s", "latency_pessimistic_s", "status"]


def sweep(networks: Iterable[NetworkSpec | str], hardware: Iterable[HardwareSpec | str],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int] = (1,),
          mode: Mode = "network", traffic: Traffic | str = Traffic.WEIGHTS_ONLY,
          conventions: CountingConventions = CountingConventions()) -> pd.DataFrame:
    """Predict every combination of networks x hardware x precisions x batches as a tidy DataFrame.

    Each network is counted once per precision; all hardware and batch sizes then go through the vectorized
    :func:`~rooflinekit.roofline.core.batch_sweep_times` at once (``on_chip_if_fits`` traffic, whose bytes are
    not linear in the batch, is evaluated one combination at a time). Results equal :func:`predict`'s.
    A combination that cannot be predicted (a data type the hardware lacks, an aggregate spec under activation
    traffic) is kept as a row with NaN numbers and the reason in ``status``; predicted rows have status ``ok``.
    """
    traffic = Traffic.parse(traffic)
    for batch in batches:
        _check_arguments(batch, mode)
    hws = [_resolve_hardware(h) for h in hardware]
    rows: list[dict] = []
    for net in (_resolve_network(n) for n in networks):
        for precision in precisions:
            cost = count_network(net, precision, conventions=conventions)
            base = {"network": NetworkCatalog.label(net), "precision": cost.precision.label,
                    "pruning_pct": net.pruning_pct, "mode": mode, "traffic": traffic.value}
            try:
                arrays = _cost_arrays(cost, net, traffic)
            except SpecError as exc:  # e.g. an aggregate spec under activation traffic
                rows += [{**base, "hardware": hw.name, "batch": b, "status": str(exc)} for hw in hws for b in batches]
                continue
            if traffic is Traffic.ON_CHIP_IF_FITS:
                rows += _rows_one_by_one(net, cost, arrays, hws, batches, mode, traffic, base)
            else:
                rows += _rows_vectorized(arrays, hws, batches, mode, traffic, base)
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def _rows_one_by_one(net: NetworkSpec, cost: NetworkCost, arrays: dict[str, np.ndarray],
                     hws: list[HardwareSpec], batches: Sequence[int], mode: str, traffic: Traffic,
                     base: dict) -> list[dict]:
    rows = []
    for hw in hws:
        for batch in batches:
            try:
                rows.append({**_evaluate(net, cost, arrays, hw, batch, mode, traffic, False).to_dict(),
                             "status": "ok"})
            except (PrecisionError, SpecError) as exc:
                rows.append({**base, "hardware": hw.name, "batch": batch, "status": str(exc)})
    return rows


def _rows_vectorized(arrays: dict[str, np.ndarray], hws: list[HardwareSpec], batches: Sequence[int], mode: str,
                     traffic: Traffic, base: dict) -> list[dict]:
    """Every hardware x batch of one counted network through the batch-sweep kernel.

    Per frame: ``c_h = sum_i ops_i / peak_hi``; the network-mode time is the kernel on the totals at the
    effective peak ``sum ops / c_h`` (which is also the layer mode's optimistic bound); the pessimistic bound is
    ``b c_h + W / bw_w + b A / bw_a``.
    """
    rows_of: list[list[dict]] = [[] for _ in hws]  # per hardware, to keep the input order
    usable, peaks = [], []
    for position, hw in enumerate(hws):
        try:
            peaks.append(_peaks(hw, arrays["compute_dtype"]))
            usable.append(position)
        except PrecisionError as exc:
            rows_of[position] = [{**base, "hardware": hw.name, "batch": b, "status": str(exc)} for b in batches]
    if not usable:
        return [row for rows in rows_of for row in rows]
    layouts = [MemoryLayout.of(hws[position]) for position in usable]
    peak = np.array(peaks)
    ops, weights = arrays["ops"], arrays["weight_bytes"]
    acts = arrays["activation_bytes"] if traffic is Traffic.WEIGHTS_AND_ACTIVATIONS else np.zeros_like(weights)
    bw_w = np.array([lay.bandwidth_bytes_per_s[lay.weights_level] for lay in layouts])
    bw_a = np.array([lay.bandwidth_bytes_per_s[lay.activations_level] for lay in layouts])
    shared = np.array([lay.weights_level == lay.activations_level for lay in layouts])
    b = np.asarray(batches, dtype=np.float64)
    ops_total, weights_total, acts_total = ops.sum(), weights.sum(), acts.sum()
    compute_frame_s = (ops / peak).sum(axis=1)
    effective_peak = np.where(compute_frame_s > 0, ops_total / np.where(compute_frame_s > 0, compute_frame_s, 1),
                              peak.max(axis=1))
    whole_s, whole_bound = (x[:, 0, :] for x in batch_sweep_times(
        np.array([ops_total]), np.array([weights_total]), np.array([acts_total]), effective_peak[:, None], bw_w,
        bw_a, shared, b))
    pessimistic_s = compute_frame_s[:, None] * b + (weights_total / bw_w)[:, None] + (acts_total / bw_a)[:, None] * b
    if mode == "network":
        time_s, bound = whole_s, whole_bound
    else:
        layer_s, layer_bound = batch_sweep_times(ops, weights, acts, peak, bw_w, bw_a, shared, b)
        time_s = layer_s.sum(axis=1)
        codes = np.array([COMPUTE_BOUND, 0, 1])
        shares = np.stack([(layer_s * (layer_bound == code)).sum(axis=1) for code in codes])
        bound = codes[shares.argmax(axis=0)]
    bytes_batch = weights_total + acts_total * b
    for h, (position, layout) in enumerate(zip(usable, layouts)):
        hw, rows = hws[position], rows_of[position]
        labels = {COMPUTE_BOUND: "compute", 0: f"memory:{layout.names[layout.weights_level]}",
                  1: f"memory:{layout.names[layout.activations_level]}"}
        for i, batch in enumerate(batches):
            t = float(time_s[h, i])
            if t <= 0:
                rows.append({**base, "hardware": hw.name, "batch": batch, "status": "no ops and no bytes moved"})
                continue
            rows.append({**base, "hardware": hw.name, "batch": int(batch), "fps": batch / t, "latency_s": t,
                         "bound": labels[int(bound[h, i])], "ops": float(ops_total),
                         "bytes": float(bytes_batch[i] / batch),
                         "operational_intensity": (float(ops_total * batch / bytes_batch[i]) if bytes_batch[i] > 0
                                                   else float("inf")),
                         "attainable_ops_per_s": float(ops_total * batch / t),
                         "peak_ops_per_s": float(effective_peak[h]), "latency_optimistic_s": float(whole_s[h, i]),
                         "latency_pessimistic_s": float(pessimistic_s[h, i]), "status": "ok"})
    return [row for rows in rows_of for row in rows]
