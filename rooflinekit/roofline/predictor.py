"""Roofline predictions of counted networks on hardware specs: one evaluation path for one or many.

:func:`predict` is a :func:`sweep` of one; both run :func:`evaluate`, which puts one counted network
(:class:`~rooflinekit.roofline.workload.CountedNetwork`, per-frame arrays) on one hardware for B batch sizes:

1. **place** each row on an engine (:mod:`~rooflinekit.roofline.engines`) and its tensors in memory levels;
2. **resident bytes** per level, weight spilling and misfits (:mod:`~rooflinekit.roofline.capacity`);
3. **bytes moved** per batch by the traffic model (:mod:`~rooflinekit.roofline.traffic`), with fused
   intermediate tensors removed (:mod:`~rooflinekit.roofline.workload`);
4. the **roofline** (:func:`~rooflinekit.roofline.core.roofline_times`) at the granularity of ``mode``:

   - ``network`` (QuTiBench level 0): the totals through one roofline at the effective peak
     ``sum_i ops_i / sum_i (ops_i / peak_i)``: ``t = max(ops / peak_eff, max_l bytes_l / bw_l)``;
   - ``layer``: each kernel (a layer, or a producer with the layers fused into it) through its own roofline,
     ``t = sum_k max(ops_k / peak_k, max_l bytes_kl / bw_l)``; each layer reports its bound.

   Each kernel adds its engine's ``kernel_overhead_s`` (0 unless the spec gives one). A batch of B frames reads
   the weights once: ``fps = B / t_batch`` and ``latency_s = t_batch``. The optimistic bound is
   ``max(sum compute, max_l sum bytes_l / bw_l)``, the pessimistic one ``sum_k (compute_k + sum_l memory_kl)``.

**Engines.** Under the ``op_class`` policy rows run on the engine chosen per row, one after another. Under
``batch_split`` (with two or more engines that each run the whole network) the B frames are divided among those
engines in proportion to their throughput on the whole batch (largest remainder); each runs its share as above,
and the batch takes as long as the slowest engine, or as the bytes all engines move through a memory level they
share divided by its bandwidth, whichever is longer.

Every prediction is a **bound** (``estimate == "bound"``): the datasheet roofline, which real stacks reach only in
part. ``bound`` is ``compute`` or ``memory:<level>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Literal, Sequence, get_args

import numpy as np
import pandas as pd

from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.roofline.capacity import residency
from rooflinekit.roofline.core import COMPUTE_BOUND, roofline_times
from rooflinekit.roofline.engines import MemoryLayout, Placement, engines_running_all, place
from rooflinekit.roofline.traffic import RowTraffic, TrafficModel, traffic_model
from rooflinekit.roofline.workload import CountedNetwork

Mode = Literal["network", "layer"]
MODES: tuple[str, ...] = get_args(Mode)
BOUND_ESTIMATE = "bound"


@dataclass(frozen=True)
class Prediction:
    """One prediction. Per-frame quantities: ``ops``, ``bytes``; per batch: ``latency_s``.

    ``peak_ops_per_s`` is the compute ceiling the roofline used: the engine's peak for the compute data type,
    or with mixed precisions or engines the effective ``sum_i ops_i / sum_i (ops_i / peak_i)`` (the sum over the
    engines a batch is split across). ``engines`` names the engines used and ``engine_batches`` the frames each
    ran. ``fits`` is False when a memory level cannot hold what it must; ``notes`` says so with both sizes, and
    says which weights were streamed from a spill level. ``layers`` has one row per layer in layer mode.
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
    estimate: str = BOUND_ESTIMATE
    engines: tuple[str, ...] = ()
    engine_batches: tuple[int, ...] = ()
    kernels: int = 0
    fits: bool = True
    notes: tuple[str, ...] = ()
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        """Every field but ``layers``."""
        out = asdict(self)
        out.pop("layers")
        return out


RESULT_COLUMNS = ["fps", "latency_s", "bound", "ops", "bytes", "operational_intensity", "attainable_ops_per_s",
                  "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s", "estimate", "engines",
                  "engine_batches", "kernels", "fits", "notes"]
SWEEP_COLUMNS = ["network", "hardware", "precision", "pruning_pct", "batch", "mode", "traffic", *RESULT_COLUMNS,
                 "status"]


@dataclass(frozen=True, eq=False)
class _Run:
    """Results of one placement for B batch sizes (arrays of length B)."""

    time_s: np.ndarray
    bound: list[str]
    ops: np.ndarray  # per batch
    moved: np.ndarray  # (B, L) bytes per batch per level
    bandwidth: np.ndarray  # (L,)
    peak: np.ndarray  # effective ops/s
    optimistic_s: np.ndarray
    pessimistic_s: np.ndarray
    fits: np.ndarray
    notes: tuple[tuple[str, ...], ...]
    kernels: int
    engines: tuple[str, ...]
    layers: pd.DataFrame | None


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One counted network on one hardware for B batch sizes: columns of :data:`RESULT_COLUMNS` as lists."""

    batches: tuple[int, ...]
    columns: dict[str, list[object]]
    layers: pd.DataFrame | None


def check_arguments(batch: object, mode: str) -> None:
    """Refuse an unknown mode or a batch that is not a positive integer."""
    if mode not in MODES:
        raise SpecError(f"unknown mode {mode!r}; use 'network' or 'layer'")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")


def evaluate(counted: CountedNetwork, hardware: HardwareSpec, batches: Sequence[int], mode: str,
             traffic: TrafficModel, fuse: bool = True, with_layers: bool = False) -> Evaluation:
    """Predict ``counted`` on ``hardware`` at each batch size (see the module docstring).

    Raises :class:`~rooflinekit.errors.PrecisionError` or :class:`~rooflinekit.errors.SpecError` when the
    hardware cannot run the network, or when a batch has no ops and moves no bytes.
    """
    if traffic.moves_activations and counted.is_aggregate and np.isnan(counted.activation_bytes).any():
        raise SpecError(f"{counted.spec.name} is an aggregate spec without activation_elements_per_frame; use "
                        f"traffic 'weights_only' or add the activation count to its spec")
    b = np.asarray(batches, dtype=np.int64)
    layout = MemoryLayout.of(hardware)
    capable = engines_running_all(counted, hardware)
    if hardware.engine_policy == "batch_split" and len(capable) > 1:
        runs = {e: _run(counted, place(counted, hardware, [e]), layout, b, mode, traffic, fuse, with_layers)
                for e in capable}
        columns, layers = _split(counted, hardware, runs, layout, b, mode, traffic, fuse, with_layers)
    else:
        run = _run(counted, place(counted, hardware), layout, b, mode, traffic, fuse, with_layers)
        if (run.time_s <= 0).any():
            raise SpecError(f"{counted.spec.name} has no ops and moves no bytes at {counted.precision.label}; "
                            "nothing to predict")
        columns, layers = _columns(run, b), run.layers
    return Evaluation(tuple(int(x) for x in b), columns, layers)


def _run(counted: CountedNetwork, placement: Placement, layout: MemoryLayout, b: np.ndarray, mode: str,
         traffic: TrafficModel, fuse: bool, with_layers: bool) -> _Run:
    """The roofline of one placement at each batch size in ``b``."""
    frames = b.astype(np.float64)
    resident = residency(counted, placement, layout, frames)
    link = counted.fuses_into_previous & fuse & (placement.engine == np.roll(placement.engine, 1))
    link[0] = False
    link_in = np.where(link, counted.link_bytes, 0.0)
    activations = np.nan_to_num(counted.activation_bytes) - link_in - np.append(link_in[1:], 0.0)
    moved = traffic.moved_bytes(RowTraffic(
        resident.weights_by_level, activations, placement.activations_level, counted.state_bytes,
        placement.state_level, placement.on_chip_level, placement.on_chip_capacity_bytes, frames))
    ops = counted.ops[:, None] * frames[None, :]  # (R, B)
    compute = ops / placement.peak_ops_per_s[:, None]
    starts = np.flatnonzero(~link)
    overhead = placement.kernel_overhead_s[starts]  # (K,)
    ops_total, compute_total, moved_total = ops.sum(axis=0), compute.sum(axis=0), moved.sum(axis=0)
    peak = np.where(compute_total > 0, ops_total / np.where(compute_total > 0, compute_total, 1.0),
                    placement.peak_ops_per_s.max())
    bandwidth = layout.bandwidth_bytes_per_s
    memory_total = moved_total / bandwidth[None, :]
    labels = ["compute" if code == COMPUTE_BOUND else f"memory:{name}"
              for code, name in [(COMPUTE_BOUND, ""), *enumerate(layout.names)]]
    layers = None
    if mode == "network":
        whole = roofline_times(ops_total, moved_total, peak, bandwidth)
        time_s = whole.time_s + overhead.sum()
        bound = [labels[int(code) + 1] for code in whole.bound]
        optimistic_s, pessimistic_s = time_s, whole.pessimistic_s + overhead.sum()
        kernel_times = None
    else:
        ops_k, compute_k = np.add.reduceat(ops, starts, axis=0), np.add.reduceat(compute, starts, axis=0)
        moved_k = np.add.reduceat(moved, starts, axis=0)  # (K, B, L)
        peak_k = np.where(compute_k > 0, ops_k / np.where(compute_k > 0, compute_k, 1.0), 1.0)
        k, n = ops_k.shape
        times = roofline_times(ops_k.ravel(), moved_k.reshape(k * n, -1), peak_k.ravel(), bandwidth)
        kernel_times = (times.time_s.reshape(k, n) + overhead[:, None], times.bound.reshape(k, n),
                        times.compute_s.reshape(k, n), times.memory_s.max(axis=1).reshape(k, n))
        time_s = kernel_times[0].sum(axis=0)
        bound = [labels[_dominant(kernel_times[0][:, i], kernel_times[1][:, i]) + 1] for i in range(n)]
        optimistic_s = np.maximum(compute_total, memory_total.max(axis=1)) + overhead.sum()
        pessimistic_s = times.pessimistic_s.reshape(k, n).sum(axis=0) + overhead.sum()
    if with_layers and not counted.is_aggregate and len(b) == 1:
        layers = _layer_frame(counted, placement, starts, kernel_times, labels, int(b[0]), mode)
    used = tuple(dict.fromkeys(placement.engine_names[e] for e in placement.engine))
    return _Run(time_s, bound, ops_total, moved_total, bandwidth, peak, optimistic_s, pessimistic_s, resident.fits,
                resident.notes, len(starts), used, layers)


def _dominant(time_s: np.ndarray, bound: np.ndarray) -> int:
    """The bound that accounts for most of the summed kernel time."""
    codes = np.unique(bound)
    return int(codes[int(np.argmax([time_s[bound == c].sum() for c in codes]))])


def _layer_frame(counted: CountedNetwork, placement: Placement, starts: np.ndarray,
                 kernel_times: tuple[np.ndarray, ...] | None, labels: list[str], batch: int,
                 mode: str) -> pd.DataFrame:
    """The counted layer rows at ``batch`` with engine and kernel; in layer mode each kernel's time on its first
    layer and ``fused:<first layer>`` as the bound of the layers fused into it."""
    layers = counted.layers.copy()
    scale = batch / counted.cost.batch
    if scale != 1:
        for column in ("macs", "other_ops", "ops", "input_bytes", "output_bytes", "state_bytes"):
            layers[column] = (layers[column] * scale).round().astype("int64")
    kernel_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(layers))))
    names = layers["name"].to_numpy()
    layers["engine"] = [placement.engine_names[e] for e in placement.engine]
    layers["kernel"] = names[starts][kernel_of]
    if mode == "layer" and kernel_times is not None:
        time_k, bound_k, compute_k, memory_k = (x[:, 0] for x in kernel_times)
        first = np.zeros(len(layers), dtype=bool)
        first[starts] = True
        layers["time_s"] = np.where(first, time_k[kernel_of], 0.0)
        layers["compute_s"] = np.where(first, compute_k[kernel_of], 0.0)
        layers["memory_s"] = np.where(first, memory_k[kernel_of], 0.0)
        layers["bound"] = [labels[int(bound_k[k]) + 1] if is_first else f"fused:{names[starts[k]]}"
                           for k, is_first in zip(kernel_of, first)]
    return layers


def _columns(run: _Run, b: np.ndarray) -> dict[str, list[object]]:
    bytes_batch = run.moved.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(bytes_batch > 0, run.ops / bytes_batch, np.inf)
    return {
        "fps": (b / run.time_s).tolist(), "latency_s": run.time_s.tolist(), "bound": list(run.bound),
        "ops": (run.ops / b).tolist(), "bytes": (bytes_batch / b).tolist(), "operational_intensity": intensity.tolist(),
        "attainable_ops_per_s": (run.ops / run.time_s).tolist(), "peak_ops_per_s": run.peak.tolist(),
        "latency_optimistic_s": run.optimistic_s.tolist(), "latency_pessimistic_s": run.pessimistic_s.tolist(),
        "estimate": [BOUND_ESTIMATE] * len(b), "engines": [run.engines] * len(b),
        "engine_batches": [(int(batch),) * len(run.engines) for batch in b],
        "kernels": [run.kernels] * len(b), "fits": run.fits.tolist(), "notes": list(run.notes),
    }


def _split(counted: CountedNetwork, hardware: HardwareSpec, runs: dict[int, _Run], layout: MemoryLayout,
           b: np.ndarray, mode: str, traffic: TrafficModel, fuse: bool,
           with_layers: bool) -> tuple[dict[str, list[object]], pd.DataFrame | None]:
    """Batch split across the engines in ``runs`` (each already run on the whole batches ``b``)."""
    engines = list(runs)
    names = [hardware.compute_engines[e].name for e in engines]
    throughput = np.array([b / runs[e].time_s for e in engines])  # (E, B) frames/s on the whole batch
    shares = _largest_remainder(b, throughput)  # (E, B) ints
    at_share: dict[tuple[int, int], _Run] = {}
    for index, e in enumerate(engines):
        for frames in sorted({int(s) for s in shares[index] if s > 0}):
            at_share[(e, frames)] = _run(counted, place(counted, hardware, [e]), layout, np.array([frames]), mode,
                                         traffic, fuse, with_layers)
    columns: dict[str, list[object]] = {c: [] for c in RESULT_COLUMNS}
    layers = None
    for i, batch in enumerate(b):
        active = [(index, at_share[(e, int(shares[index, i]))]) for index, e in enumerate(engines)
                  if shares[index, i] > 0]
        moved = sum(run.moved[0] for _, run in active)
        slowest = max((run for _, run in active), key=lambda run: run.time_s[0])
        time_s, bound = float(slowest.time_s[0]), slowest.bound[0]
        shared_s = moved / layout.bandwidth_bytes_per_s
        if shared_s.max() > time_s:
            time_s, bound = float(shared_s.max()), f"memory:{layout.names[int(shared_s.argmax())]}"
        ops = counted.ops.sum() * batch
        bytes_batch = float(moved.sum())
        row = {"fps": batch / time_s, "latency_s": time_s, "bound": bound, "ops": ops / batch,
               "bytes": bytes_batch / batch,
               "operational_intensity": ops / bytes_batch if bytes_batch > 0 else float("inf"),
               "attainable_ops_per_s": ops / time_s, "peak_ops_per_s": float(sum(r.peak[0] for _, r in active)),
               "latency_optimistic_s": time_s,
               "latency_pessimistic_s": max(time_s, max(float(r.pessimistic_s[0]) for _, r in active)),
               "estimate": BOUND_ESTIMATE, "engines": tuple(names[index] for index, _ in active),
               "engine_batches": tuple(int(shares[index, i]) for index, _ in active),
               "kernels": int(sum(r.kernels for _, r in active)), "fits": all(bool(r.fits[0]) for _, r in active),
               "notes": tuple(f"{names[index]}: {note}" for index, r in active for note in r.notes[0])}
        for key, value in row.items():
            columns[key].append(value)
        if with_layers and len(b) == 1:
            layers = max(active, key=lambda item: shares[item[0], i])[1].layers
    return columns, layers


def _largest_remainder(b: np.ndarray, throughput: np.ndarray) -> np.ndarray:
    """(E, B) whole frames per engine, proportional to ``throughput`` (E, B), summing to each batch size."""
    quota = throughput / throughput.sum(axis=0, keepdims=True) * b[None, :]
    shares: np.ndarray = np.floor(quota).astype(np.int64)
    for i in range(len(b)):
        missing = int(b[i] - shares[:, i].sum())
        order = np.argsort(-(quota[:, i] - shares[:, i]), kind="stable")
        shares[order[:missing], i] += 1
    return shares


def predict(network: NetworkSpec | CountedNetwork, hardware: HardwareSpec, precision: Precision | str | None = None,
            batch: int | None = None, mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
            conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
            fuse: bool = True) -> Prediction:
    """Predict throughput and latency of ``network`` on ``hardware`` (a sweep of one).

    Parameters
    ----------
    network : a network spec, or a :class:`CountedNetwork` (then ``precision``, ``conventions`` and ``counters``
        must be left at their defaults: it was counted with its own).
    hardware : the hardware spec.
    precision : re-type every tensor (``int8``, ``W-int8_A-fp32``); None keeps the network's own.
    batch : frames per batch; None means the batch the network's shapes describe (1 for catalog networks).
    mode : ``network`` (totals through one roofline) or ``layer`` (per kernel).
    traffic : a traffic model or its name (``weights_only``, ``weights_and_activations``, ``on_chip_if_fits``).
    fuse : fold elementwise, norm and activation layers into their producer's kernel.

    Raises :class:`~rooflinekit.errors.PrecisionError` when the hardware has no native peak for a layer's compute
    data type, :class:`~rooflinekit.errors.SpecError` for bad arguments.
    """
    counted = _counted(network, precision, conventions, counters)
    batch = _default_batch(counted) if batch is None else batch
    check_arguments(batch, mode)
    model = traffic_model(traffic)
    result = evaluate(counted, hardware, [int(batch)], mode, model, fuse, with_layers=True)
    values = {key: column[0] for key, column in result.columns.items()}
    return Prediction(network=counted.label, hardware=hardware.name, precision=counted.precision.label,
                      pruning_pct=counted.spec.pruning_pct, batch=int(batch), mode=mode, traffic=model.name,
                      layers=result.layers, **values)  # type: ignore[arg-type]


def _counted(network: NetworkSpec | CountedNetwork, precision: Precision | str | None,
             conventions: CountingConventions, counters: CounterRegistry) -> CountedNetwork:
    if isinstance(network, CountedNetwork):
        if precision is not None or conventions != CountingConventions() or counters is not DEFAULT_COUNTERS:
            raise SpecError(f"{network.label} is already counted at {network.precision.label}; pass the network "
                            "spec to count it with another precision, conventions or counters")
        return network
    return CountedNetwork.of(network, precision, conventions, counters)


def _default_batch(counted: CountedNetwork) -> int:
    return int(getattr(counted.spec, "batch", 1))


def sweep(networks: Iterable[NetworkSpec | CountedNetwork], hardware: Iterable[HardwareSpec],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
          mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
          conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
          fuse: bool = True) -> pd.DataFrame:
    """Predict every combination of networks x hardware x precisions x batches as a tidy DataFrame.

    Each network is counted once per precision and evaluated on each hardware for all batch sizes at once
    (:func:`evaluate`); results equal :func:`predict`'s. A batch size None is each network's own batch (1 for
    catalog networks). A combination that cannot be predicted (a data type
    the hardware lacks, an aggregate spec under activation traffic) is kept as a row with NaN numbers and the
    reason in ``status``; predicted rows have status ``ok``. Columns: :data:`SWEEP_COLUMNS`.
    """
    model = traffic_model(traffic)
    for batch in batches:
        check_arguments(1 if batch is None else batch, mode)
    hws = list(hardware)
    columns: dict[str, list[object]] = {c: [] for c in SWEEP_COLUMNS}
    for network in networks:
        for precision in precisions:
            counted = _counted(network, precision, conventions, counters)
            sizes = [_default_batch(counted) if batch is None else int(batch) for batch in batches]
            keys = {"network": counted.label, "precision": counted.precision.label,
                    "pruning_pct": counted.spec.pruning_pct, "mode": mode, "traffic": model.name}
            for hw in hws:
                try:
                    result = evaluate(counted, hw, sizes, mode, model, fuse).columns
                    status = ["ok"] * len(batches)
                except (PrecisionError, SpecError) as exc:
                    result = {c: [None] * len(batches) for c in RESULT_COLUMNS}
                    status = [str(exc)] * len(batches)
                for key, value in keys.items():
                    columns[key] += [value] * len(batches)
                columns["hardware"] += [hw.name] * len(batches)
                columns["batch"] += sizes
                for key in RESULT_COLUMNS:
                    columns[key] += result[key]
                columns["status"] += status
    table = pd.DataFrame(columns, columns=SWEEP_COLUMNS)
    numeric = [c for c in RESULT_COLUMNS if c not in ("bound", "estimate", "engines", "engine_batches", "notes",
                                                      "fits")]
    table[numeric] = table[numeric].astype(np.float64)
    return table
