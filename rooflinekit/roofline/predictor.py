"""Roofline predictions of counted networks on hardware specs: one evaluation path for one or many.

:func:`predict` is a :func:`sweep` of one: :func:`evaluate` puts one counted network
(:class:`~rooflinekit.roofline.workload.CountedNetwork`, per-frame arrays) on one hardware for B batch sizes, and a
sweep puts all its networks on each plain hardware spec at once (:func:`~rooflinekit.roofline.stacked.evaluate_devices`,
of which :func:`evaluate` is the case of one network and one spec, so the results are the same bits):

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
engines so that the batch finishes first: each engine runs its share as above, and the batch takes as long as the
slowest engine, or as the bytes all engines with frames move through a memory level they share divided by its
bandwidth, whichever is longer; of every split of the B frames (any subset of the engines busy) the one that takes
least is chosen (:func:`_fastest_shares`; exact up to 4,096 frames, in steps of B / 4,096 above). A faster engine
or memory therefore never predicts a slower batch, and an engine too slow to help is left idle.

Every prediction is a **bound** (``estimate == "bound"``): the datasheet roofline, which real stacks reach only in
part. ``bound`` is ``compute`` or ``memory:<level>``.

Sums over a network's rows and kernels run in row order (:func:`~rooflinekit.roofline.core.fold_runs`). Hardware
grids (:func:`evaluate_grid`) sum a kernel's rows with ``numpy.add.reduceat``, which groups the additions
differently: a grid point and its explicit spec agree to rounding (a few units in the last place) in layer mode.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import asdict, dataclass, field, replace
from os import PathLike
from typing import TYPE_CHECKING, Callable, Hashable, Iterable, Iterator, Literal, Sequence, cast, get_args

import numpy as np
from pydantic import BaseModel

from rooflinekit._limits import MAX_BATCH, shown
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import AggregateNetwork, DType, HardwareSpec, NetworkSpec, Precision
from rooflinekit.descriptors.hardware import bounding_dtype
from rooflinekit.errors import PrecisionError, RooflineWarning, SpecError
from rooflinekit.roofline import _compiled
from rooflinekit.roofline.capacity import activation_peaks, residency
from rooflinekit.roofline.core import COMPUTE_BOUND, dominant_bounds, roofline_times
from rooflinekit.roofline.engines import (
    NO_LEVEL, MemoryLayout, Placement, engines_running_all, integer_bound_note, place,
)
from rooflinekit.roofline.grid import GridColumns, HardwareGrid
from rooflinekit.roofline.notes import EMPTY, FixedNotes, NoteRows, NoteSource
from rooflinekit.roofline.stacked import (
    Device, Stack, StackedEvaluation, evaluate_devices, evaluate_stacked, out_of_range,
)
from rooflinekit.roofline.traffic import RowTraffic, TrafficModel, traffic_model
from rooflinekit.roofline.workload import CountedNetwork, count_once

if TYPE_CHECKING:  # pandas is imported where a table is built (a prediction of a layer network, a sweep)
    import pandas as pd

    from rooflinekit.roofline.columnar import Categories, TableBuilder
    from rooflinekit.roofline.reductions import Reduction

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
    says which weights were streamed from a spill level. For an aggregate network without an activation count
    (no ``activation_elements_per_frame``: the QuTiBench catalog entries) only the weights and state are checked:
    its activations are unknown, so ``fits`` True says that the weights and state fit, not that the activations
    do. ``layers`` has one row per layer in layer mode.

    ``estimate`` is ``bound`` for the plain roofline, ``calibrated`` for a calibrated estimate (see
    :func:`rooflinekit.api.predict`): then ``latency_s`` and ``fps`` are the estimate, ``bound_latency_s`` the
    roofline it scales, ``latency_interval_s`` the interval (s) covering the calibration's stated share of
    measurements, ``calibration_levels`` one phrase per calibration level used, fallen back on or missing, and
    ``layers`` has each layer's ``calibrated_time_s``.
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
    bound_latency_s: float | None = None
    latency_interval_s: tuple[float, float] | None = None
    calibration_levels: tuple[str, ...] = ()
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """The sequence fields as tuples whatever was passed (lists read back from JSON), so that a prediction
        rebuilt from its :meth:`to_dict` (``Prediction(**data)``) equals the original and hashes."""
        for name in ("engines", "engine_batches", "notes", "latency_interval_s", "calibration_levels"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict[str, object]:
        """Every field but ``layers``, as Python values (tuples for the sequences); ``Prediction(**data)`` rebuilds
        the prediction (without ``layers``), from JSON too. A number may be infinite (``operational_intensity`` of a
        network that moves no bytes), which ``json.dumps`` writes as the non-JSON ``Infinity``:
        ``rooflinekit.output.to_json_value(p.to_dict())`` gives strict JSON (null there)."""
        out = asdict(self)
        out.pop("layers")
        return out

    def __repr__(self) -> str:
        """One short line: what was predicted and the headline numbers (``to_dict()`` has every field)."""
        from rooflinekit.display import counted, format_value

        fits = "" if self.fits else ", does not fit"
        layers = "" if self.layers is None else f", {counted(len(self.layers), 'layer')}"
        latency = format_value("latency_s", self.latency_s)
        if self.estimate == BOUND_ESTIMATE:
            what = f"roofline bound, {self.bound}-bound"
        else:
            interval = ("" if self.latency_interval_s is None else " in [" + ", ".join(
                format_value("latency_s", t) for t in self.latency_interval_s) + "]")
            latency += interval
            roofline = format_value("latency_s", self.bound_latency_s)
            what = f"{self.estimate} estimate, roofline {roofline} {self.bound}-bound"
        return (f"Prediction({self.network} on {self.hardware}, {self.precision}, batch {self.batch}: "
                f"{format_value('fps', self.fps)} fps, {latency}, {what}, {self.mode} mode{layers}{fits})")

    def _repr_html_(self) -> str:
        """A two-column HTML table of the headline fields with SI prefixes, for notebooks."""
        from html import escape

        from rooflinekit.display import counted, format_value

        keys = ["network", "hardware", "precision", "batch", "estimate", "fps", "latency_s", "latency_interval_s",
                "bound_latency_s", "bound", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s", "ops",
                "bytes", "mode", "traffic", "fits", "notes"]
        data = self.to_dict()
        rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>"
                       f"{escape(format_value(k, data[k]))}</td></tr>" for k in keys if data[k] not in ((), None))
        layers = "" if self.layers is None else f"<p>{counted(len(self.layers), 'layer')} in <code>.layers</code></p>"
        return f"<table><caption>Prediction ({escape(self.estimate)})</caption>{rows}</table>{layers}"


RESULT_COLUMNS = ["fps", "latency_s", "bound", "ops", "bytes", "operational_intensity", "attainable_ops_per_s",
                  "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s", "estimate", "engines",
                  "engine_batches", "kernels", "fits", "notes"]
SWEEP_COLUMNS = ["network", "hardware", "precision", "pruning_pct", "batch", "mode", "traffic", *RESULT_COLUMNS,
                 "status"]


@dataclass(frozen=True, eq=False)
class _Run:
    """Results of one placement for B batch sizes (arrays of length B)."""

    time_s: np.ndarray
    bound: np.ndarray  # (B,) int code: COMPUTE_BOUND or a memory level index
    labels: tuple[str, ...]  # label of code c at c + 1: "compute", "memory:<level>", ...
    ops: np.ndarray  # per batch
    moved: np.ndarray  # (B, L) bytes per batch per level
    bandwidth: np.ndarray  # (L,)
    peak: np.ndarray  # effective ops/s
    optimistic_s: np.ndarray
    pessimistic_s: np.ndarray
    fits: np.ndarray
    notes: NoteRows  # (B,) formatted when read
    kernels: int
    engines: tuple[str, ...]
    layers: pd.DataFrame | None


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One counted network on one hardware for B batch sizes.

    ``arrays`` holds every column of :data:`RESULT_COLUMNS` as a numpy array of length B (float64 numbers,
    ``fits`` bool, ``kernels`` int64, object arrays of ``str`` for ``bound`` and ``estimate`` and of tuples for
    ``engines`` and ``engine_batches``, and ``notes`` a :class:`~rooflinekit.roofline.notes.NoteRows` of tuples
    made when read); :attr:`columns` gives them as lists of Python values.
    """

    batches: tuple[int, ...]
    arrays: dict[str, np.ndarray | NoteRows]
    layers: pd.DataFrame | None
    bound_codes: np.ndarray | None = None  # (B,) index into bound_labels: the ``bound`` column, coded
    bound_labels: tuple[str, ...] = ()

    @property
    def columns(self) -> dict[str, list[object]]:
        """Every column of :data:`RESULT_COLUMNS` as a list of Python values (length B)."""
        return {key: self.arrays[key].tolist() for key in RESULT_COLUMNS}


def check_arguments(batch: object, mode: str) -> None:
    """Refuse an unknown mode or a batch that is not a positive integer."""
    if mode not in MODES:
        raise SpecError(f"unknown mode {mode!r}; use 'network' or 'layer'")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or not 1 <= batch <= MAX_BATCH:
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool) and batch > MAX_BATCH:
            raise SpecError(f"batch {shown(batch, 30)} is larger than the largest batch, {MAX_BATCH}; use a "
                            "smaller one")
        raise SpecError(f"batch must be a positive integer, got {shown(batch)}")


def check_hardware(hardware: object) -> None:
    """Refuse a ``hardware`` that is not a :class:`HardwareSpec` (a name is resolved by :mod:`rooflinekit.api`)."""
    if not isinstance(hardware, HardwareSpec):
        raise SpecError(f"hardware must be a HardwareSpec, got {type(hardware).__name__} {shown(hardware)}; pass "
                        "a catalog spec (rooflinekit.get_hardware('ZCU104-DPU')) or build one "
                        "(HardwareSpec.model_validate({...}))")


def check_fuse(fuse: object) -> None:
    """Refuse a ``fuse`` that is not a bool (``'no'`` would fail inside numpy)."""
    if not isinstance(fuse, (bool, np.bool_)):
        raise SpecError(f"fuse must be True or False, got {type(fuse).__name__} {shown(fuse)}")


def check_listed(value: object, what: str) -> None:
    """Refuse a sweep argument that is a single value instead of a collection of them: a name or a path would be
    taken character by character (``'ResNet-50'`` as the networks ``R``, ``e``, ...), a number or a spec not at
    all.

    Raises
    ------
    SpecError
        Naming the argument (``what``) and how to wrap the value in a list.
    """
    if isinstance(value, (str, bytes, PathLike, BaseModel, CountedNetwork, HardwareGrid)) or not isinstance(
            value, Iterable):
        raise SpecError(f"{what} must be a list (or other collection), got the single value {shown(value)}; "
                        f"wrap it in a list: [{shown(value)}]")


def evaluate(counted: CountedNetwork, hardware: HardwareSpec, batches: Sequence[int] | np.ndarray, mode: str,
             traffic: TrafficModel, fuse: bool = True, with_layers: bool = False) -> Evaluation:
    """Predict ``counted`` on ``hardware`` at each batch size (see the module docstring).

    Raises :class:`~rooflinekit.errors.PrecisionError` or :class:`~rooflinekit.errors.SpecError` when the
    hardware cannot run the network, or when a batch has no ops and moves no bytes.
    """
    if traffic.moves_activations and counted.is_aggregate and np.isnan(counted.activation_bytes).any():
        raise SpecError(f"{counted.spec.name} is an aggregate spec without activation_elements_per_frame; use "
                        f"traffic 'weights_only' or add the activation count to its spec")
    b = np.asarray(batches, dtype=np.int64)
    capable = engines_running_all(counted, hardware) if hardware.engine_policy == "batch_split" else []
    if len(capable) > 1:
        layout = MemoryLayout.of(hardware)
        columns, layers = _split(counted, hardware, capable, layout, b, mode, traffic, fuse, with_layers)
        arrays = {key: NoteRows.from_values(values) if key == "notes" else
                  _object_array(values) if key in _OBJECT_COLUMNS else np.asarray(values)
                  for key, values in columns.items()}
        return Evaluation(tuple(b.tolist()), arrays, layers)
    result = evaluate_stacked(Stack.of([counted]), Device.remembered(hardware), b, mode, traffic, fuse, with_layers)
    error = result.errors[0]
    if error is not None:
        raise error
    return Evaluation(tuple(b.tolist()), _stacked_arrays(result, 0), result.layers, result.bound[0], result.labels)


def evaluate_grid(counted: CountedNetwork, grid: HardwareGrid, start: int, stop: int,
                  batches: Sequence[int] | np.ndarray,
                  mode: str, traffic: TrafficModel, fuse: bool = True, work: int = 0) -> Evaluation:
    """Predict ``counted`` on grid points ``start .. stop - 1`` of ``grid`` at each batch size: G x B columns,
    point by point and within a point batch by batch (the order of :func:`evaluate` on each point's explicit
    spec, :meth:`~rooflinekit.roofline.HardwareGrid.spec`, whose results these equal).

    ``work`` is the number of row x column elements the caller runs through layer mode on grids in all (a
    sweep's): from :data:`~rooflinekit.roofline._compiled.MIN_ELEMENTS` the optional compiled grid kernel is used
    (and compiled) even when this call alone is smaller.

    Raises as :func:`evaluate` does.
    """
    if traffic.moves_activations and counted.is_aggregate and np.isnan(counted.activation_bytes).any():
        raise SpecError(f"{counted.spec.name} is an aggregate spec without activation_elements_per_frame; use "
                        f"traffic 'weights_only' or add the activation count to its spec")
    sizes = np.asarray(batches, dtype=np.int64)
    chunk = grid.remembered(("evaluation", start, stop, tuple(sizes.tolist())),
                            lambda: _GridChunk.of(grid, start, stop, sizes))
    run = _run(counted, chunk.device.placement(counted), chunk.device.layout, chunk.batches, mode, traffic, fuse,
               False, chunk.columns, chunk.distinct, work)
    if (run.time_s <= 0).any():
        raise SpecError(f"{counted.spec.name} has no ops and moves no bytes at {counted.precision.label}; "
                        "nothing to predict")
    if not np.isfinite(run.time_s).all():
        raise out_of_range(counted, chunk.batches)
    return Evaluation(tuple(chunk.batches.tolist()), _arrays(run, chunk.batches), None, run.bound + 1, run.labels)


@dataclass(frozen=True, eq=False)
class _GridChunk:
    """What :func:`evaluate_grid` needs of points ``start .. stop - 1`` of a grid at B batch sizes, whatever the
    network (a sweep evaluates every network on the same chunk): the N = points x B columns, point by point then
    batch by batch; the template as a :class:`~.stacked.Device` (placement choices made once per pair); and the
    distinct (batch, capacities) columns of layer mode (:func:`_unique_rows`)."""

    batches: np.ndarray  # (N,) int
    columns: GridColumns  # (N,) columns
    device: Device
    distinct: tuple[np.ndarray, np.ndarray]  # (first, inverse)

    @classmethod
    def of(cls, grid: HardwareGrid, start: int, stop: int, sizes: np.ndarray) -> "_GridChunk":
        points = grid.columns(start, stop)
        n_batches = len(sizes)
        b = np.tile(sizes, stop - start)
        columns = GridColumns(points.dtypes, np.repeat(points.peak_ops_per_s, n_batches, axis=0),
                              np.repeat(points.bandwidth_bytes_per_s, n_batches, axis=0),
                              np.repeat(points.capacity_bytes, n_batches, axis=0), {})
        return cls(b, columns, Device.remembered(grid.template),
                   _unique_rows(np.column_stack([b.astype(np.float64), columns.capacity_bytes])))


_OBJECT_COLUMNS = frozenset({"bound", "estimate", "engines", "engine_batches"})
ONE_NETWORK = np.zeros(1, dtype=np.int64)
"""The kernel ``starts`` of :func:`~rooflinekit.roofline.core.dominant_bounds` for one network."""


def _stacked_arrays(result: StackedEvaluation, s: int) -> dict[str, np.ndarray | NoteRows]:
    """The columns of :data:`RESULT_COLUMNS` of network ``s`` of a stacked evaluation (see :class:`Evaluation`)."""
    n = result.bound.shape[1]
    return {**{name: result.numbers[name][s] for name in RESULT_COLUMNS if name in result.numbers},
            "bound": np.array(result.labels, dtype=object)[result.bound[s]], "estimate": _filled(n, BOUND_ESTIMATE),
            "engines": result.engines[s], "engine_batches": result.engine_batches[s],
            "kernels": result.kernels[s].astype(np.int64), "fits": result.fits[s],
            "notes": result.notes[s * n:(s + 1) * n]}


def _object_array(values: Sequence[object]) -> np.ndarray:
    """A 1-D object array holding ``values`` as they are (tuples stay elements, never become dimensions)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _filled(n: int, value: object) -> np.ndarray:
    """A 1-D object array of ``n`` references to ``value``."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _kernels(counted: CountedNetwork, placement: Placement, fuse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernels of one placement: per row the activation bytes per frame once the tensors between fused rows are
    dropped, (R,); the first row of each kernel, (K,); each kernel's overhead in s, (K,). A row fuses into the row
    before it when the network allows it, ``fuse`` is on and both run on the same engine."""
    engine = placement.engine
    link = counted.fuses_into_previous & fuse
    link[1:] &= engine[1:] == engine[:-1]
    link[0] = False
    link_in = np.where(link, counted.link_bytes, 0.0)
    activations = counted.known_activation_bytes - link_in - np.append(link_in[1:], 0.0)
    starts = np.flatnonzero(~link)
    return activations, starts, placement.kernel_overhead_s[starts]


def _run(counted: CountedNetwork, placement: Placement, layout: MemoryLayout, b: np.ndarray, mode: str,
         traffic: TrafficModel, fuse: bool, with_layers: bool, grid: GridColumns | None = None,
         distinct: tuple[np.ndarray, np.ndarray] | None = None, work: int = 0) -> _Run:
    """The roofline of one placement at each batch size in ``b`` (N,); with ``grid`` (N points, one per column),
    each column on its own peaks, bandwidths and capacities (a single-engine placement on the grid's template;
    ``distinct`` and ``work`` as :func:`_run_grid_layer` takes them)."""
    if grid is not None and mode == "layer" and len(b) > 1:
        return _run_grid_layer(counted, placement, layout, b, traffic, fuse, grid, distinct, work)
    single = len(b) == 1
    if single:  # numpy sums the rows of one column pairwise, of several in order: run two and keep one
        b = np.repeat(b, 2)
        if grid is not None:
            grid = GridColumns(grid.dtypes, np.repeat(grid.peak_ops_per_s, 2, axis=0),
                               np.repeat(grid.bandwidth_bytes_per_s, 2, axis=0),
                               np.repeat(grid.capacity_bytes, 2, axis=0), {})
    frames = b.astype(np.float64)
    activations, starts, overhead = _kernels(counted, placement, fuse)
    rows, rows_placement, act_peak = counted, placement, None
    if mode == "network" and traffic.row_separable and len(counted.ops) > 1:
        # network mode sums every row: rows placed alike are summed first (same totals, a few rows instead of R)
        act_peak = activation_peaks(counted, placement, len(layout.names))
        rows, rows_placement, activations = _merged(counted, placement, activations)
    if grid is None:
        row_peak, on_chip_capacity = rows_placement.peak_ops_per_s[:, None], rows_placement.on_chip_capacity_bytes
        bandwidth, capacity, peak_max = layout.bandwidth_bytes_per_s, None, placement.peak_ops_per_s.max()
    else:
        dtype_index = _dtype_index(rows, grid.dtypes)[0]
        # C order, as the (R, 1) arrays of a single spec: sums along rows then round alike
        row_peak = np.ascontiguousarray(grid.peak_ops_per_s[:, dtype_index].T)  # (R, N)
        on_chip_capacity = np.ascontiguousarray(np.where(
            rows_placement.on_chip_level[:, None] == NO_LEVEL, 0.0,
            grid.capacity_bytes[:, rows_placement.on_chip_level].T))  # (R, N)
        bandwidth, capacity = grid.bandwidth_bytes_per_s, grid.capacity_bytes
        peak_max = grid.peak_ops_per_s[:, np.unique(dtype_index)].max(axis=1)
    resident = residency(rows, rows_placement, layout, frames, act_peak, capacity)
    moved = traffic.moved_bytes(RowTraffic(
        resident.weights_by_level, activations, rows_placement.activations_level, rows.state_bytes,
        rows_placement.state_level, rows_placement.on_chip_level, on_chip_capacity, frames))
    ops = rows.ops[:, None] * frames[None, :]  # (R, B)
    compute = ops / row_peak
    ops_total, compute_total, moved_total = ops.sum(axis=0), compute.sum(axis=0), moved.sum(axis=0)
    uniform = (row_peak == row_peak[:1]).all(axis=0)  # one peak for every row: itself, not a rounded quotient
    peak = np.where((compute_total > 0) & ~uniform, ops_total / np.where(compute_total > 0, compute_total, 1.0),
                    np.where(uniform, row_peak[0], peak_max))
    labels = ("compute", *(f"memory:{name}" for name in layout.names))
    layers = None
    if mode == "network":
        whole = roofline_times(ops_total, moved_total, peak, bandwidth)
        time_s = whole.time_s + overhead.sum()
        bound = whole.bound
        optimistic_s, pessimistic_s = time_s, whole.pessimistic_s + overhead.sum()
        kernel_times = None
    else:
        memory_total = moved_total / bandwidth
        ops_k, compute_k = np.add.reduceat(ops, starts, axis=0), np.add.reduceat(compute, starts, axis=0)
        moved_k = np.add.reduceat(moved, starts, axis=0)  # (K, B, L)
        peak_k = np.where(compute_k > 0, ops_k / np.where(compute_k > 0, compute_k, 1.0), 1.0)
        k, n = ops_k.shape
        level_bandwidth = bandwidth if bandwidth.ndim == 1 else np.broadcast_to(
            bandwidth, (k, n, len(layout.names))).reshape(k * n, -1)
        times = roofline_times(ops_k.ravel(), moved_k.reshape(k * n, -1), peak_k.ravel(), level_bandwidth)
        kernel_times = (times.time_s.reshape(k, n) + overhead[:, None], times.bound.reshape(k, n),
                        times.compute_s.reshape(k, n), times.memory_s.max(axis=1).reshape(k, n))
        time_s = kernel_times[0].sum(axis=0)
        bound = dominant_bounds(kernel_times[0], kernel_times[1], ONE_NETWORK, len(layout.names))[0]
        optimistic_s = np.maximum(compute_total, memory_total.max(axis=1)) + overhead.sum()
        pessimistic_s = times.pessimistic_s.reshape(k, n).sum(axis=0) + overhead.sum()
    if with_layers and not counted.is_aggregate and single:
        layers = _layer_frame(counted, placement, starts, kernel_times, list(labels), int(b[0]), mode)
    used = _engines_in_order(placement)
    keep = slice(0, 1) if single else slice(None)
    return _Run(time_s[keep], bound[keep], labels, ops_total[keep], moved_total[keep], bandwidth, peak[keep],
                optimistic_s[keep], pessimistic_s[keep], resident.fits[keep],
                NoteRows.of(resident.capacity_notes, np.arange(len(b)))[keep], len(starts), used, layers)


def _run_grid_layer(counted: CountedNetwork, placement: Placement, layout: MemoryLayout, b: np.ndarray,
                    traffic: TrafficModel, fuse: bool, grid: GridColumns,
                    distinct: tuple[np.ndarray, np.ndarray] | None = None, work: int = 0) -> _Run:
    """Layer mode on N grid columns, factored: bytes moved depend only on a column's batch and capacities (U
    distinct pairs, usually a few), so residency and traffic run on those U columns; each column then divides its
    kernels' ops and bytes by its own peaks and bandwidths. Equal to :func:`_run` on each column's explicit spec
    up to rounding (sums of ops over a kernel's rows are divided by the peak once instead of row by row).
    ``distinct``: the columns' :func:`_unique_rows` of (batch, capacities) when known; ``work``: as
    :func:`evaluate_grid` takes it."""
    frames = b.astype(np.float64)
    activations, starts, overhead = _kernels(counted, placement, fuse)
    first, inverse = distinct or _unique_rows(np.column_stack([frames, grid.capacity_bytes]))
    frames_u, capacity_u = frames[first], grid.capacity_bytes[first]
    if len(first) == 1:  # two identical columns: numpy then sums rows in order, as for several
        frames_u, capacity_u = np.repeat(frames_u, 2), np.repeat(capacity_u, 2, axis=0)
    on_chip_capacity = np.ascontiguousarray(np.where(
        placement.on_chip_level[:, None] == NO_LEVEL, 0.0, capacity_u[:, placement.on_chip_level].T))
    resident = residency(counted, placement, layout, frames_u, None, capacity_u)
    moved_u = traffic.moved_bytes(RowTraffic(
        resident.weights_by_level, activations, placement.activations_level, counted.state_bytes,
        placement.state_level, placement.on_chip_level, on_chip_capacity, frames_u))  # (R, U, L)
    dtype_index, used_dtypes = _dtype_index(counted, grid.dtypes)
    ops_u = counted.ops[:, None] * frames_u[None, :]  # (R, U)
    ops_total = ops_u.sum(axis=0)[inverse]
    moved_total = moved_u.sum(axis=0)[inverse]  # (N, L)
    ops_kd = np.stack([np.add.reduceat(np.where((dtype_index == d)[:, None], ops_u, 0.0), starts, axis=0)
                       for d in used_dtypes])  # (D, K, U): each kernel's ops in each data type it uses
    moved_k = np.ascontiguousarray(np.add.reduceat(moved_u, starts, axis=0).transpose(2, 0, 1))  # (L, K, U)
    compiled = _compiled.available(max(len(starts) * len(b), work), "grid")
    kernel_terms = _compiled.grid_kernels if compiled else _grid_kernels
    time_s, compute_total, pessimistic_s, bound = kernel_terms(
        ops_kd, np.ascontiguousarray(grid.peak_ops_per_s[:, used_dtypes]), moved_k, grid.bandwidth_bytes_per_s,
        inverse, overhead)
    pessimistic_s += overhead.sum()
    peak = np.where(compute_total > 0, ops_total / np.where(compute_total > 0, compute_total, 1.0),
                    grid.peak_ops_per_s[:, used_dtypes].max(axis=1))
    memory_total = moved_total / grid.bandwidth_bytes_per_s
    optimistic_s = np.maximum(compute_total, memory_total.max(axis=1)) + overhead.sum()
    labels = ("compute", *(f"memory:{name}" for name in layout.names))
    return _Run(time_s, bound, labels, ops_total, moved_total,
                grid.bandwidth_bytes_per_s, peak, optimistic_s, pessimistic_s, resident.fits[inverse],
                NoteRows.of(resident.capacity_notes, inverse), len(starts), _engines_in_order(placement), None)


def _grid_kernels(ops_kd: np.ndarray, peak: np.ndarray, moved_k: np.ndarray, bandwidth: np.ndarray,
                  inverse: np.ndarray, overhead_s: np.ndarray) -> tuple[np.ndarray, ...]:
    """The roofline of K kernels on N grid columns, summed per column.

    Parameters
    ----------
    ops_kd : (D, K, U) ops of each kernel in each data type, per distinct (batch, capacities) column u.
    peak : (N, D) ops/s of each column for each data type.
    moved_k : (L, K, U) bytes each kernel moves at each level, per distinct column.
    bandwidth : (N, L) bytes/s of each column's levels.
    inverse : (N,) the distinct column of each column.
    overhead_s : (K,) s added to each kernel.

    Returns
    -------
    ``(time_s, compute_s, pessimistic_s, bound)``, each (N,): ``sum_k max(c_kj, max_l m_klj) + overhead_k`` with
    ``c_kj = sum_d ops_dk / peak_jd`` and ``m_klj = bytes_kl / bandwidth_jl``; ``sum_k c_kj``; ``sum_k (c_kj +
    sum_l m_klj)`` (without the overheads); and the bound code accounting for most of the time (see
    :func:`~rooflinekit.roofline.core.dominant_bounds`). Sums run in kernel order, levels in level order: the compiled twin
    (:func:`rooflinekit.roofline._compiled.grid_kernels`) gives the same bits.
    """
    compute_k = np.divide(np.take(ops_kd[0], inverse, axis=1), peak[None, :, 0])  # (K, N)
    for d in range(1, len(ops_kd)):
        compute_k = compute_k + np.divide(np.take(ops_kd[d], inverse, axis=1), peak[None, :, d])
    memory_max = np.divide(np.take(moved_k[0], inverse, axis=1), bandwidth[None, :, 0])
    slowest = np.zeros(memory_max.shape, dtype=np.int64)
    pessimistic_k = compute_k + memory_max
    memory, faster = np.empty_like(memory_max), np.empty(memory_max.shape, dtype=bool)
    for level in range(1, len(moved_k)):
        np.divide(np.take(moved_k[level], inverse, axis=1), bandwidth[None, :, level], out=memory)
        np.greater(memory, memory_max, out=faster)
        np.copyto(slowest, level, where=faster)
        np.maximum(memory_max, memory, out=memory_max)
        pessimistic_k += memory
    np.greater_equal(compute_k, memory_max, out=faster)
    np.copyto(slowest, COMPUTE_BOUND, where=faster)
    time_k = np.maximum(compute_k, memory_max, out=memory_max)
    time_k += overhead_s[:, None]
    return (time_k.sum(axis=0), compute_k.sum(axis=0), pessimistic_k.sum(axis=0),
            dominant_bounds(time_k, slowest, ONE_NETWORK, len(moved_k))[0])


def _engines_in_order(placement: Placement) -> tuple[str, ...]:
    """The names of the engines the rows of ``placement`` run on, in order of first use."""
    if len(placement.engine_names) == 1 and len(placement.engine):  # one engine runs every row
        return placement.engine_names
    _, first_row = np.unique(placement.engine, return_index=True)
    return tuple(placement.engine_names[e] for e in placement.engine[np.sort(first_row)])


def _dtype_index(counted: CountedNetwork, dtypes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(R,) int: the index in ``dtypes`` of the data type whose peak bounds each row's compute data type
    (:func:`~rooflinekit.descriptors.hardware.bounding_dtype`; looked up once per pair of rows), and the distinct
    indices, sorted."""
    native = [DType(d) for d in dtypes]
    per_pair = [dtypes.index(bound.value) if (bound := bounding_dtype(DType(d), native)) is not None else
                dtypes.index(d) for _, d in counted.class_dtype_pairs]
    index: np.ndarray = np.array(per_pair, dtype=np.int64)[counted.row_pair]
    return index, np.array(sorted(set(per_pair)), dtype=np.int64)


def _integer_noted(notes: NoteRows, counted: Sequence[CountedNetwork], hardware: Sequence[HardwareSpec],
                   n_b: int) -> NoteRows:
    """``notes`` of the rows of ``counted`` (S) on ``hardware`` (H) at ``n_b`` batch sizes, in (S, H, B) order,
    with :func:`~.engines.integer_bound_note` appended to the rows of each pair that has one (as
    :func:`predict` gives it)."""
    texts: list[str] = []
    rows, which = [], []
    for i, network in enumerate(counted):
        for j, spec in enumerate(hardware):
            text = integer_bound_note(network, spec)
            if text is not None:
                start = (i * len(hardware) + j) * n_b
                rows.append(np.arange(start, start + n_b))
                which.append(np.full(n_b, len(texts)))
                texts.append(text)
    if not texts:
        return notes
    picked = np.concatenate(rows)
    noted = SweepPlan._noted(notes.take(picked), texts, np.concatenate(which))
    order = np.arange(len(notes))
    order[picked] = len(notes) + np.arange(len(picked))
    return NoteRows.concat([notes, noted]).take(order)


def _unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` of the distinct rows of ``keys`` (N, C): the index of each distinct row's first
    occurrence, in lexicographic order of the rows (U,), and each row's distinct row (N,), as ``numpy.unique(keys,
    axis=0, return_index=True, return_inverse=True)`` gives them, by one stable lexsort of the columns."""
    order = np.lexsort(keys.T[::-1])
    ranked = keys[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _merged(counted: CountedNetwork, placement: Placement,
            activations: np.ndarray) -> tuple[CountedNetwork, Placement, np.ndarray]:
    """Rows placed alike (engine, peak, levels of each tensor role) summed into one row each, in order of first
    appearance: ``(counted, placement, activations)`` of the G <= R summed rows. Only for traffic models that are
    :attr:`~rooflinekit.roofline.TrafficModel.row_separable`."""
    _, peak_code = np.unique(placement.peak_ops_per_s, return_inverse=True)
    key = counted.row_pair.astype(np.int64)  # the data type is part of the pair
    for column in (placement.engine, placement.weights_level + 1, placement.activations_level + 1,
                   placement.state_level + 1, peak_code.ravel()):
        key = key * (int(column.max(initial=0)) + 1) + column
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse.ravel()]
    n = len(order)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n)

    head = first[order]
    merged = replace(counted, ops=total(counted.ops), weight_bytes=total(counted.weight_bytes),
                     activation_bytes=total(activations), state_bytes=total(counted.state_bytes),
                     compute_dtype=counted.compute_dtype[head], op_class=counted.op_class[head],
                     fuses_into_previous=np.zeros(n, dtype=bool), link_bytes=np.zeros(n))
    where = replace(placement, engine=placement.engine[head], peak_ops_per_s=placement.peak_ops_per_s[head],
                    kernel_overhead_s=placement.kernel_overhead_s[head], weights_level=placement.weights_level[head],
                    activations_level=placement.activations_level[head], state_level=placement.state_level[head],
                    on_chip_level=placement.on_chip_level[head],
                    on_chip_capacity_bytes=placement.on_chip_capacity_bytes[head])
    return merged, where, total(activations)


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


def _arrays(run: _Run, b: np.ndarray) -> dict[str, np.ndarray | NoteRows]:
    """The columns of :data:`RESULT_COLUMNS` for one run, as arrays of length B (see :class:`Evaluation`)."""
    bytes_batch = run.moved.sum(axis=1)
    n = len(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(bytes_batch > 0, run.ops / bytes_batch, np.inf)
    if n and (b == b[0]).all():  # one batch size (a grid chunk at one batch): one tuple
        engine_batches = _filled(n, (int(b[0]),) * len(run.engines))
    else:
        sizes, which = np.unique(b, return_inverse=True)
        engine_batches = _object_array([(size,) * len(run.engines) for size in sizes.tolist()])[which.ravel()]
    return {
        "fps": b / run.time_s, "latency_s": run.time_s, "bound": np.array(run.labels, dtype=object)[run.bound + 1],
        "ops": run.ops / b, "bytes": bytes_batch / b, "operational_intensity": intensity,
        "attainable_ops_per_s": run.ops / run.time_s, "peak_ops_per_s": run.peak,
        "latency_optimistic_s": run.optimistic_s, "latency_pessimistic_s": run.pessimistic_s,
        "estimate": _filled(n, BOUND_ESTIMATE), "engines": _filled(n, run.engines),
        "engine_batches": engine_batches, "kernels": np.full(n, run.kernels, dtype=np.int64),
        "fits": np.asarray(run.fits, dtype=bool), "notes": run.notes,
    }


def _split(counted: CountedNetwork, hardware: HardwareSpec, engines: list[int], layout: MemoryLayout,
           b: np.ndarray, mode: str, traffic: TrafficModel, fuse: bool,
           with_layers: bool) -> tuple[dict[str, list[object]], pd.DataFrame | None]:
    """Batch split across ``engines`` (indices of engines that each run the whole network)."""
    names = [hardware.compute_engines[e].name for e in engines]
    shares = np.zeros((len(engines), len(b)), dtype=np.int64)
    for i, batch in enumerate(b.tolist()):
        sizes = _split_sizes(batch)
        alone = [_run(counted, place(counted, hardware, [e]), layout, sizes, mode, traffic, fuse, False)
                 for e in engines]
        shares[:, i] = _fastest_shares(sizes, [run.time_s for run in alone], [run.moved for run in alone],
                                       layout.bandwidth_bytes_per_s)
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
        time_s, bound = float(slowest.time_s[0]), slowest.labels[int(slowest.bound[0]) + 1]
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
               "notes": tuple(f"{names[index]}: {note}" for index, r in active for note in r.notes[0] or ())}
        for key, value in row.items():
            columns[key].append(value)
        if with_layers and len(b) == 1:
            layers = max(active, key=lambda item: shares[item[0], i])[1].layers
    return columns, layers


SPLIT_SIZES = 4096
"""Batches up to this many frames are split exactly; a larger batch B among frame counts ``1 .. 4096`` and 4,096
more evenly spaced up to B (:func:`_split_sizes`)."""


def _split_sizes(batch: int) -> np.ndarray:
    """The frame counts an engine may take of a batch of ``batch`` frames, ascending: all of ``1 .. batch`` up to
    :data:`SPLIT_SIZES` frames, else those and :data:`SPLIT_SIZES` more evenly spaced up to ``batch``."""
    if batch <= SPLIT_SIZES:
        return np.arange(1, batch + 1, dtype=np.int64)
    spaced = np.linspace(SPLIT_SIZES, batch, SPLIT_SIZES + 1).round().astype(np.int64)
    return np.unique(np.concatenate([np.arange(1, SPLIT_SIZES + 1, dtype=np.int64), spaced]))


def _fastest_shares(sizes: np.ndarray, time_s: list[np.ndarray], moved: list[np.ndarray],
                    bandwidth: np.ndarray) -> np.ndarray:
    """Whole frames per engine for a batch of B = ``sizes[-1]`` frames: the split that finishes first.

    Parameters
    ----------
    sizes : (S,) ndarray of int
        Frame counts an engine may take, ascending, from 1 to B (:func:`_split_sizes`).
    time_s : list of E (S,) ndarrays
        Each engine's time on ``sizes`` frames alone, s.
    moved : list of E (S, L) ndarrays
        The bytes each engine moves through each memory level on ``sizes`` frames.
    bandwidth : (L,) ndarray
        Bandwidth of each level, bytes/s (shared by the engines).

    Returns
    -------
    (E,) ndarray of int
        Frames per engine, summing to B. For each non-empty subset A of the engines (all of A busy): the least
        makespan ``T_A = min max_{e in A} time_e(s_e)`` over frame counts ``s_e >= 1`` summing to B (the smallest
        of the engines' times ``T`` at which ``sum_e n_e(T) >= B``, ``n_e(T)`` the most frames of ``sizes``
        engine ``e`` finishes within ``T``; frames beyond B are taken back from the engines that finish last),
        then ``max(T_A, max_l sum_{e in A} moved_e,l(s_e) / bandwidth_l)`` (a count between two of ``sizes``
        moves the bytes of the next one up); the subset with the least time wins (ties: fewer engines, then the
        engines' order). Taking the least over splits that do not depend on the peaks or bandwidths, a faster
        engine or memory never gives a slower split; with every count of ``1 .. B`` in ``sizes`` the split is
        the fastest there is.
    """
    count, batch = len(time_s), int(sizes[-1])
    slowest = [np.maximum.accumulate(t) for t in time_s]  # guards rounding: more frames never take less time
    best: tuple[float, np.ndarray] | None = None
    for size in range(1, min(count, batch) + 1):
        for subset in itertools.combinations(range(count), size):
            candidates = np.unique(np.concatenate([slowest[e] for e in subset]))
            within = np.array([np.searchsorted(slowest[e], candidates, side="right") for e in subset])
            frames = np.where(within > 0, sizes[np.maximum(within - 1, 0)], 0)  # (A, candidates)
            feasible = (frames >= 1).all(axis=0) & (frames.sum(axis=0) >= batch)
            at = int(np.argmax(feasible))  # the least feasible makespan (all of B on each engine: feasible)
            split = np.minimum(frames[:, at], batch - size + 1)
            finish = [slowest[e][np.searchsorted(sizes, n)] for e, n in zip(subset, split.tolist())]
            for k in np.argsort([-f for f in finish], kind="stable"):
                split[k] -= min(int(split.sum()) - batch, int(split[k]) - 1)
            upper = [int(np.searchsorted(sizes, n)) for n in split.tolist()]  # the count of sizes at or above
            shared = sum(moved[e][u] for e, u in zip(subset, upper)) / bandwidth
            total = max(float(candidates[at]), float(shared.max()))
            if best is None or total < best[0]:
                shares = np.zeros(count, dtype=np.int64)
                shares[list(subset)] = split
                best = (total, shares)
    assert best is not None  # at least one engine and one frame
    return best[1]


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
    check_hardware(hardware)
    check_fuse(fuse)
    counted = _counted(network, precision, conventions, counters)
    batch = _default_batch(counted) if batch is None else batch
    check_arguments(batch, mode)
    model = traffic_model(traffic)
    result = evaluate(counted, hardware, [int(batch)], mode, model, fuse, with_layers=True)
    values = {key: column[0] for key, column in result.columns.items()}
    integer = integer_bound_note(counted, hardware)
    if integer is not None:
        values["notes"] = (*cast(tuple[str, ...], values["notes"]), integer)
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
    return count_once(network, precision, conventions, counters)


def counted_precision_error(network: CountedNetwork, error: PrecisionError, precision: str | None) -> PrecisionError:
    """The error of a network already counted whose own type has no peak on a hardware: it is not counted again
    (at the hardware's default precision, or at one passed), so it must be counted at a type the hardware supports.

    Parameters
    ----------
    network : the counted network (:class:`CountedNetwork`).
    error : the :class:`~rooflinekit.errors.PrecisionError` its own type met on the hardware.
    precision : the supported type to suggest (the hardware's default precision, ``fp16``); None: none to name.

    Returns
    -------
    PrecisionError
        ``error``'s message and fields (``precision``, ``hardware``, ``supported``), the message ending in
        ``; CNV is already counted at fp32: count it at a precision the hardware supports, e.g.
        CountedNetwork.of(spec, 'fp16'), or pass the network spec instead of the counted network``.
    """
    example = f", e.g. CountedNetwork.of(spec, {precision!r})" if precision is not None else ""
    return PrecisionError(f"{error}; {network.label} is already counted at {network.precision.label}: count it at a "
                          f"precision the hardware supports{example}, or pass the network spec instead of the "
                          "counted network", precision=error.precision, hardware=error.hardware,
                          supported=error.supported)


def _default_batch(counted: CountedNetwork) -> int:
    return int(getattr(counted.spec, "batch", 1))


Block = tuple[int, dict[str, Hashable], dict[str, np.ndarray | NoteRows],
              dict[str, tuple[np.ndarray, tuple[str, ...]]]]
"""Rows of a sweep as ``(n, constants, arrays, coded)`` (see :meth:`TableBuilder.add`)."""

DEFAULT_CHUNK_ROWS = 1 << 20
"""Rows per chunk of a streaming sweep (``reduce``): about 1 GB at its peak (a process at 83 MB peaked at
1.18 GB sweeping one network over a 2,000,000-point grid with ``Best``; 484 MB with 2**18 rows per chunk, see
``chunk_rows``)."""


def default_precision_note(hardware: str, precision: str, error: Exception) -> str:
    """The note of a prediction made at a hardware's default precision because the network's own type has no peak
    there (:func:`rooflinekit.api.predict`, and the rows of :func:`sweep`).

    Parameters
    ----------
    hardware : the hardware's name (a grid's template name).
    precision : the default precision used (``fp16``).
    error : the :class:`~rooflinekit.errors.PrecisionError` the network's own type met.

    Returns
    -------
    str
        ``precision fp16: Jetson Nano's default, as the network's own type has no peak there (<error>)``.
    """
    return f"precision {precision}: {hardware}'s default, as the network's own type has no peak there ({error})"


def sweep(networks: Iterable[NetworkSpec | CountedNetwork], hardware: Iterable[HardwareSpec | HardwareGrid],
          precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
          mode: Mode = "network", traffic: TrafficModel | str = "weights_only",
          conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
          fuse: bool = True, reduce: Reduction | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Predict every combination of networks x hardware x precisions x batches as a tidy DataFrame.

    Parameters
    ----------
    networks : network specs, or :class:`CountedNetwork` (counted once, reused for every hardware).
    hardware : hardware specs and/or :class:`~rooflinekit.roofline.HardwareGrid` (each grid point is one
        hardware, evaluated as columns without building a spec per point).
    precisions, batches : as in :func:`predict`; a batch None is each network's own batch (1 for catalog
        networks).
    mode, traffic, conventions, counters, fuse : as in :func:`predict`.
    reduce : a :class:`~rooflinekit.roofline.reductions.Reduction` (``Best``, ``Pareto``, ``Histogram``): the
        sweep runs in chunks of ``chunk_rows`` rows and returns only the reduction, never holding every row.
    chunk_rows : rows per chunk when reducing (and per grid chunk); a chunk's peak memory grows by several
        hundred bytes per row while it is built (600-900 measured on a grid sweep with ``Best``: a process at
        84 MB peaked at 259 MB with 2**16 rows per chunk, 333 MB with 2**18); lower it to bound memory.

    Returns
    -------
    DataFrame
        One row per combination in the order networks, precisions, hardware (grid points in grid order),
        batches; columns :data:`SWEEP_COLUMNS`, plus ``grid_point`` (-1 for a plain spec) and one column per grid
        axis (NaN elsewhere; ``Sparse[float64, nan]`` when NaN on most rows) when ``hardware`` holds a grid. Text columns are categoricals, ``fits`` a nullable
        boolean. Each network is counted once per precision and evaluated on each hardware for all batch sizes
        at once (:func:`evaluate`); results equal :func:`predict`'s. With precision None, a network whose own
        data type has no peak on a hardware (a grid: on its template) that gives a ``default_precision`` is
        predicted at that precision, as :func:`rooflinekit.api.predict` does: the row's ``precision`` is the one
        used and its ``notes`` end with the note saying so (:func:`default_precision_note`). A combination that
        cannot be predicted (a data type asked for that the hardware lacks, or the network's own without a
        default, an aggregate spec under activation traffic) is kept as a row with NaN numbers and the reason in
        ``status``; predicted rows have status ``ok``. With ``reduce``, the reduction's result instead, whose
        ``attrs`` say how many rows were swept (``attrs["swept_rows"]``) and how many of those do not fit their
        memories (``attrs["swept_misfits"]``, rows with ``fits`` False, counted while streaming).

    Raises :class:`~rooflinekit.errors.SpecError` for a bad mode, batch, traffic model, ``fuse`` or
    ``chunk_rows``, a hardware that is neither a spec nor a grid, a single value given where a collection goes
    (:func:`check_listed`), and when ``reduce`` reads a column the sweep does not have.
    """
    plan = SweepPlan.of(networks, hardware, precisions, batches, mode, traffic, conventions, counters, fuse)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise SpecError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    from rooflinekit.roofline.columnar import Categories

    if reduce is None:
        builder = plan.builder(plan.rows, Categories())
        for n, constants, arrays, coded in plan.blocks(range(len(plan.networks)), max(int(chunk_rows), 1)):
            builder.add(n, constants, arrays, coded)
        return builder.frame()
    from rooflinekit.roofline.reductions import checked

    reduce = checked(reduce, plan.columns)
    state, misfits = stream(plan, range(len(plan.networks)), reduce, int(chunk_rows))
    return reduced(reduce, state, plan.rows, misfits)


def reduced(reduce: Reduction, state: pd.DataFrame, rows: int, misfits: int) -> pd.DataFrame:
    """The result of a streamed sweep: the reduction's final state, with what it was reduced from.

    Parameters
    ----------
    reduce : the reduction.
    state : its last state (:meth:`~rooflinekit.roofline.reductions.Reduction.combine` of every chunk's).
    rows : rows of the whole sweep.
    misfits : rows of the whole sweep whose network does not fit its memories (:func:`count_misfits`).

    Returns
    -------
    DataFrame
        ``reduce.finalize(state)`` with ``attrs["swept_rows"] = rows`` and ``attrs["swept_misfits"] = misfits``.
    """
    result = reduce.finalize(state)
    result.attrs.update(swept_rows=int(rows), swept_misfits=int(misfits))
    return result


def count_misfits(table: pd.DataFrame) -> int:
    """Rows of a sweep table whose network does not fit the memories.

    Parameters
    ----------
    table : sweep rows with a ``fits`` column (nullable boolean).

    Returns
    -------
    int
        The rows whose ``fits`` is False; a row not predicted or whose fit is unknown (``fits`` missing) is no
        misfit.
    """
    fitting = table["fits"].array.to_numpy(dtype=bool, na_value=True)
    return len(table) - int(np.count_nonzero(fitting))


def stream(plan: "SweepPlan", network_indices: Iterable[int], reduce: Reduction, chunk_rows: int,
           first_row: int | None = None) -> tuple[pd.DataFrame, int]:
    """The partial state of ``reduce`` over the rows of the networks ``network_indices`` of ``plan``, built in
    chunks of at most ``chunk_rows`` rows (more only when one block is larger), and the number of those rows
    whose network does not fit its memories (:func:`count_misfits` of each chunk, before the reduction drops
    rows). Rows are indexed by their position in the whole sweep."""
    from rooflinekit.roofline.columnar import Categories

    indices = list(network_indices)
    categories = Categories()
    row = plan.first_row(indices[0]) if indices and first_row is None else (first_row or 0)
    states: list[pd.DataFrame] = []
    misfits = 0
    builder = plan.builder(chunk_rows, categories)
    start = row
    for n, constants, arrays, coded in plan.blocks(indices, chunk_rows):
        if n > builder.room():
            if builder.n:
                chunk = builder.frame(start)
                misfits += count_misfits(chunk)
                states = [reduce.combine([*states, reduce.partial(chunk)])]
                start += builder.n
            builder = plan.builder(max(chunk_rows, n), categories)
        builder.add(n, constants, arrays, coded)
    if builder.n:
        chunk = builder.frame(start)
        misfits += count_misfits(chunk)
        states = [reduce.combine([*states, reduce.partial(chunk)])]
    return (states[0] if states else reduce.partial(plan.builder(0, categories).frame(start))), misfits


STACK_ELEMENTS = 1 << 19
"""Layer rows x batch sizes of the networks evaluated together on a plain spec (their arrays are a few times
this many float64 per memory level)."""


def _stacked_results(stacks: dict[tuple[int, ...], tuple[np.ndarray, Stack]], devices: list[Device],
                     n_networks: int, mode: str, traffic: TrafficModel, fuse: bool,
                     work: int) -> list[StackedEvaluation]:
    """All ``n_networks`` counted networks on each of ``devices`` (:func:`~.stacked.evaluate_devices`): one
    evaluation per set of batch sizes (``stacks``: batch sizes -> (the networks' positions, their stack)), merged
    in network order; ``work`` as in :func:`~.stacked.evaluate_stacked`."""
    if len(stacks) == 1:
        ((key, (_, stack)),) = stacks.items()
        return evaluate_devices(stack, devices, np.array(key, dtype=np.int64), mode, traffic, fuse, work)
    parts = [(members, evaluate_devices(stack, devices, np.array(key, dtype=np.int64), mode, traffic, fuse, work))
             for key, (members, stack) in stacks.items()]
    return [_joined(n_networks, [(members, results[d]) for members, results in parts]) for d in range(len(devices))]


def _joined(n_networks: int, parts: list[tuple[np.ndarray, StackedEvaluation]]) -> StackedEvaluation:
    """One stacked evaluation of ``n_networks`` networks from ``parts`` (each the networks' positions and their
    evaluation on one device)."""
    first = parts[0][1]
    n_b = first.bound.shape[1]
    errors: list[Exception | None] = [None] * n_networks
    merged = {name: np.empty((n_networks, n_b), dtype=getattr(first, name).dtype)
              for name in ("batches", "bound", "fits", "kernels", "engines", "engine_batches")}
    numbers = {name: np.empty((n_networks, n_b)) for name in first.numbers}
    note_rows, note_parts = [], []
    for members, part in parts:
        for s, error in zip(members.tolist(), part.errors):
            errors[s] = error
        merged["batches"][members] = part.batches
        for name in ("bound", "fits", "kernels", "engines", "engine_batches"):
            merged[name][members] = getattr(part, name)
        for name, values in part.numbers.items():
            numbers[name][members] = values
        note_rows.append((members[:, None] * n_b + np.arange(n_b)).reshape(-1))
        note_parts.append(part.notes)
    order = np.empty(n_networks * n_b, dtype=np.int64)
    order[np.concatenate(note_rows)] = np.arange(n_networks * n_b)
    return StackedEvaluation(merged["batches"], tuple(errors), numbers, merged["bound"], first.labels,
                             merged["fits"], merged["kernels"], merged["engines"], merged["engine_batches"],
                             NoteRows.concat(note_parts).take(order))


def _warn_idle_peak_axes(grid: HardwareGrid, counted: CountedNetwork) -> None:
    """Warn when no peak axis of ``grid`` is of a data type ``counted`` computes in: its rows then all run at the
    template's peak, the same on every point of those axes (an int8 axis with an fp32 network). A type without a
    peak of its own uses that of its :func:`~rooflinekit.descriptors.hardware.bounding_dtype` (an fp32 axis moves
    int64 layers)."""
    axes = [name.split(".", 1)[1] for name in grid.axes if name.startswith("peak_ops_per_s.")]
    native = grid.template.peak_ops_per_s
    used = {dtype for _, dtype in counted.class_dtype_pairs}
    used |= {bound.value for dtype in used if (bound := bounding_dtype(DType(dtype), native)) is not None}
    if axes and not used & set(axes):
        warnings.warn(f"grid on {grid.template.name}: its peak axis for {', '.join(axes)} changes nothing for "
                      f"networks computing in {', '.join(sorted(used))}; sweep them at "
                      f"{axes[0]} (precisions=[{axes[0]!r}]) or add a peak axis for their type", RooflineWarning,
                      stacklevel=2)


_NOTE_CHUNK_ROWS = 1 << 18
"""Rows :func:`overhead_noted` tests at a time (its temporaries are a few arrays of this many rows)."""


def overhead_noted(notes: NoteRows, kinds: Sequence[str], kind_code: np.ndarray, aggregate: np.ndarray,
                   latency_s: np.ndarray, kernels: np.ndarray, fresh: bool = False) -> NoteRows:
    """``notes`` (N,) of sweep rows with :func:`rooflinekit.quick.overhead_note` appended to the rows it applies to,
    its rule on arrays, so that each row's notes are :func:`rooflinekit.api.predict`'s.

    Parameters
    ----------
    notes : NoteRows
        The rows' notes (N,).
    kinds : sequence of str
        Hardware kinds (``GPU``); row ``i`` ran on one of kind ``kinds[kind_code[i]]``.
    kind_code : numpy.ndarray
        (N,) int, index into ``kinds``.
    aggregate : numpy.ndarray
        (N,) bool, whether row ``i``'s network is known by totals only (its kernel count unknown).
    latency_s : numpy.ndarray
        (N,) the rows' bounds t (s); NaN on a row not predicted (never noted).
    kernels : numpy.ndarray
        (N,) the kernels K each row runs.
    fresh : bool, optional
        Whether ``notes``' row arrays were made for this call alone (a ``take``): then they are changed in place
        rather than copied (a sweep's millions of rows: 12 bytes a row saved at its peak).

    Returns
    -------
    NoteRows
        ``notes`` with the note appended where ``t / K < LAUNCH_OVERHEAD_S`` (layer networks, K >= 1) or
        ``t < AGGREGATE_KERNELS x LAUNCH_OVERHEAD_S`` (aggregate networks), on GPUs and CPUs.
    """
    from rooflinekit.quick import AGGREGATE_KERNELS, LAUNCH_OVERHEAD_S, OVERHEAD_KINDS, overhead_text

    if not set(kinds) & set(OVERHEAD_KINDS):
        return notes
    cases = [(k, kind, whole) for k, kind in enumerate(kinds) if kind in OVERHEAD_KINDS for whole in (True, False)]
    texts = [overhead_text(kind, whole) for _, kind, whole in cases]
    which = np.full(len(notes), -1, dtype=np.int8)  # index into texts; one byte a row (a sweep has millions)
    for start in range(0, len(notes), _NOTE_CHUNK_ROWS):  # chunks: temporaries of a chunk, not of the sweep
        part = slice(start, start + _NOTE_CHUNK_ROWS)
        latency = np.asarray(latency_s[part], dtype=np.float64)
        count = np.asarray(kernels[part], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rules = {True: (latency > 0) & (latency < AGGREGATE_KERNELS * LAUNCH_OVERHEAD_S) & aggregate[part],
                     False: (latency > 0) & (count >= 1) & (latency / count < LAUNCH_OVERHEAD_S) & ~aggregate[part]}
        codes = kind_code[part]
        for index, (k, _, whole) in enumerate(cases):
            which[part][(codes == k) & rules[whole]] = index
    noted = which >= 0  # masks, not index arrays: a sweep may note millions of rows
    if not noted.any():
        return notes
    # nothing is read now: rows without notes read the note from one fixed source, rows with notes of their own
    # read them with the note after them (_Suffixed), one source per source of theirs
    # one source per text, each row reading its column 0: a sweep's columns of notes stay compact (columnar)
    sources: list[NoteSource] = [*notes.sources, *(FixedNotes(((text,),)) for text in texts)]
    alone = noted & (notes.source == EMPTY)  # read before the rows are changed (in place when fresh)
    own = np.flatnonzero(noted & (notes.source >= 0))  # rows with capacity or precision notes: few
    groups = [(code, own[notes.source[own] == code]) for code in np.unique(notes.source[own]).tolist()]
    suffixed = [_Suffixed(notes.sources[code], notes.column[rows], which[rows], tuple(texts)) for code, rows in groups]
    source, column = (notes.source, notes.column) if fresh else (notes.source.copy(), notes.column.copy())
    np.add(which, np.int32(len(notes.sources)), out=source, where=alone, casting="unsafe")  # no (N,) temporaries
    np.copyto(column, 0, where=alone)
    for (_, rows), suffix in zip(groups, suffixed):
        source[rows], column[rows] = len(sources), np.arange(len(rows))
        sources.append(suffix)
    return NoteRows(sources, source, column)


@dataclass(frozen=True, eq=False)
class _Suffixed:
    """A note source whose column ``j`` is column ``columns[j]`` of ``base`` followed by the note
    ``texts[text[j]]`` (:func:`overhead_noted`: a row's own notes, then the overhead note)."""

    base: NoteSource
    columns: np.ndarray  # (M,) int
    text: np.ndarray  # (M,) int
    texts: tuple[str, ...]

    def lines(self, columns: np.ndarray) -> list[tuple[str, ...]]:
        return [(*lines, self.texts[t]) for lines, t in zip(self.base.lines(self.columns[columns]),
                                                            self.text[columns].tolist())]


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """What a sweep evaluates: networks (counted lazily, once per precision), hardware and grids, batches and
    options; :meth:`blocks` yields its rows as column blocks in sweep order (also per partition of networks)."""

    networks: tuple[NetworkSpec | CountedNetwork, ...]
    hardware: tuple[HardwareSpec | HardwareGrid, ...]
    precisions: tuple[Precision | str | None, ...]
    batches: tuple[int | None, ...]
    mode: str
    traffic: TrafficModel
    conventions: CountingConventions
    counters: CounterRegistry
    fuse: bool

    @classmethod
    def of(cls, networks: Iterable[NetworkSpec | CountedNetwork], hardware: Iterable[HardwareSpec | HardwareGrid],
           precisions: Sequence[Precision | str | None], batches: Sequence[int | None], mode: str,
           traffic: TrafficModel | str, conventions: CountingConventions, counters: CounterRegistry,
           fuse: bool) -> "SweepPlan":
        """Check the arguments and fix the sweep's order."""
        for value, what in ((networks, "networks"), (hardware, "hardware"), (precisions, "precisions"),
                            (batches, "batches")):
            check_listed(value, what)
        networks, hardware = tuple(networks), tuple(hardware)
        for hw in hardware:
            if not isinstance(hw, HardwareGrid):
                check_hardware(hw)
        check_fuse(fuse)
        model = traffic_model(traffic)
        for batch in batches:
            if not (type(batch) is int and 1 <= batch <= MAX_BATCH):  # plain ints in range pass as they are
                check_arguments(1 if batch is None else batch, mode)
        check_arguments(1, mode)
        return cls(tuple(networks), tuple(hardware), tuple(precisions), tuple(batches), mode, model, conventions,
                   counters, fuse)

    @property
    def points(self) -> int:
        """Hardware configurations: plain specs plus the points of every grid."""
        return sum(h.size if isinstance(h, HardwareGrid) else 1 for h in self.hardware)

    @property
    def rows_per_network(self) -> int:
        """Rows of one network: precisions x hardware configurations x batches."""
        return len(self.precisions) * self.points * len(self.batches)

    @property
    def rows(self) -> int:
        """Rows of the whole sweep."""
        return len(self.networks) * self.rows_per_network

    def first_row(self, network_index: int) -> int:
        """Position in the whole sweep of the first row of network ``network_index``."""
        return network_index * self.rows_per_network

    @property
    def grid_axes(self) -> list[str]:
        """Every grid axis name, in order of first appearance."""
        return list(dict.fromkeys(a for h in self.hardware if isinstance(h, HardwareGrid) for a in h.axes))

    @property
    def columns(self) -> list[str]:
        """The table's columns: :data:`SWEEP_COLUMNS`, plus ``grid_point`` and the grid axes with a grid."""
        if not any(isinstance(h, HardwareGrid) for h in self.hardware):
            return list(SWEEP_COLUMNS)
        return [*SWEEP_COLUMNS, "grid_point", *self.grid_axes]

    @property
    def sparse_axes(self) -> list[str]:
        """The grid axes that are NaN on most rows (their grids hold fewer than half the hardware
        configurations): kept as sparse columns, the others dense."""
        points = {a: sum(h.size for h in self.hardware if isinstance(h, HardwareGrid) and a in h.axes)
                  for a in self.grid_axes}
        return [a for a, n in points.items() if 2 * n < self.points]

    def builder(self, capacity: int, categories: Categories) -> TableBuilder:
        """An empty table of :attr:`columns` for ``capacity`` rows (see :attr:`sparse_axes`)."""
        from rooflinekit.roofline.columnar import TableBuilder

        return TableBuilder(capacity, self.columns, categories, sparse=self.sparse_axes)

    def blocks(self, network_indices: Iterable[int],
               chunk_rows: int) -> Iterator[Block]:
        """``(n, constants, arrays, coded)`` blocks of rows of the networks ``network_indices``, in sweep order.

        The networks are taken in groups of about ``chunk_rows`` rows (:meth:`groups`), counted once per
        precision, and evaluated on each plain hardware spec all at once (:func:`~.stacked.evaluate_stacked`);
        a group's rows on consecutive plain specs make one block per network and precision (one block for the
        whole group when there is no grid), and a grid one block per chunk of about ``chunk_rows`` rows. A
        network asked for at its own precision (None) whose type has no peak on a spec is predicted at the spec's
        ``default_precision`` instead, when it has one (:meth:`_with_defaults`, :meth:`_grid_blocks`). A sweep
        without rows (no precision, hardware or batch) yields no block."""
        if not self.rows_per_network:
            return
        grid_columns = self.columns[len(SWEEP_COLUMNS):]
        devices = {h: Device.remembered(hw) for h, hw in enumerate(self.hardware) if not isinstance(hw, HardwareGrid)}
        plain = list(devices)
        n_p = len(self.precisions)
        for group in self.groups(network_indices, chunk_rows):
            counted = [_counted(self.networks[index], precision, self.conventions, self.counters)
                       for index in group for precision in self.precisions]
            if None in self.batches:  # some batch is each network's own
                sizes = np.array([[_default_batch(c) if b is None else int(b) for b in self.batches]
                                  for c in counted], dtype=np.int64).reshape(len(counted), len(self.batches))
            else:
                sizes = np.tile(np.array(self.batches, dtype=np.int64), (len(counted), 1))
            stacks: dict[tuple[int, ...], tuple[np.ndarray, Stack]] = {}
            for key in dict.fromkeys(map(tuple, sizes.tolist())) if plain else ():  # networks with equal batches
                members = np.flatnonzero((sizes == key).all(axis=1))
                stacks[key] = (members, Stack.of([counted[i] for i in members.tolist()]))
            work = sum(len(stack.ops) * len(key) * len(devices[h].layout.names) for key, (_, stack) in stacks.items()
                       for h in plain) if self.mode == "layer" else 0
            results = dict(zip(plain, _stacked_results(stacks, [devices[h] for h in plain], len(counted), self.mode,
                                                       self.traffic, self.fuse, work))) if plain else {}
            results, defaults = self._with_defaults(group, counted, sizes, devices, results, work)
            if len(plain) == len(self.hardware):
                if plain:
                    yield self._plain_block(counted, sizes, results, np.arange(len(counted)), plain, grid_columns,
                                            defaults)
                continue
            for s, c in enumerate(counted):
                run: list[int] = []
                own = self.networks[group[s // n_p]] if self.precisions[s % n_p] is None else None
                for h, hw in enumerate([*self.hardware, None]):
                    if h in devices:
                        run.append(h)
                        continue
                    if run:
                        yield self._plain_block(counted, sizes, results, np.array([s]), run, grid_columns, defaults)
                        run = []
                    if isinstance(hw, HardwareGrid):
                        yield from self._grid_blocks(c, own, sizes[s], hw, grid_columns, chunk_rows)

    def groups(self, network_indices: Iterable[int], chunk_rows: int) -> Iterator[list[int]]:
        """Consecutive runs of ``network_indices`` evaluated together: at most ``chunk_rows`` rows (at least one
        network) and about :data:`STACK_ELEMENTS` layer rows x batch sizes."""
        group: list[int] = []
        rows = elements = 0
        for index in network_indices:
            network = self.networks[index]
            size = (len(network.ops) if isinstance(network, CountedNetwork) else len(getattr(network, "layers", ())) or 1)
            size *= len(self.precisions) * len(self.batches)
            if group and (rows + self.rows_per_network > chunk_rows or elements + size > STACK_ELEMENTS):
                yield group
                group, rows, elements = [], 0, 0
            group.append(index)
            rows, elements = rows + self.rows_per_network, elements + size
        if group:
            yield group

    def _with_defaults(self, group: list[int], counted: list[CountedNetwork], sizes: np.ndarray,
                       devices: dict[int, Device], results: dict[int, StackedEvaluation],
                       work: int) -> tuple[dict[int, StackedEvaluation], dict[int, dict[int, str]]]:
        """``results`` (the group's counted networks on each plain spec, by hardware index) with the networks asked
        for at their own precision (None) whose type has no peak on a spec (a
        :class:`~rooflinekit.errors.PrecisionError`) predicted at that spec's ``default_precision``, as
        :func:`rooflinekit.api.predict` does, and the precision used (or tried, where that failed too),
        ``{segment: {hardware index: label}}``.

        Only those networks are counted again (once per default precision, :func:`count_once`) and evaluated, on
        the specs they failed on (specs failing the same networks at the same default in one pass). A network
        already counted (:class:`CountedNetwork`) is not counted again: its rows fail with the
        :class:`~rooflinekit.errors.PrecisionError` :func:`rooflinekit.api.predict` raises for it
        (:func:`counted_precision_error`). Sweeps where nothing falls back get ``results`` as they are.
        """
        if None not in self.precisions:
            return results, {}
        n_p = len(self.precisions)
        own = [s for s in range(len(counted)) if self.precisions[s % n_p] is None]
        failing: dict[tuple[str, tuple[int, ...]], list[int]] = {}  # (default, segments) -> hardware indices
        for h, result in results.items():
            spec_default = devices[h].spec.default_precision
            if spec_default is not None:
                segments = tuple(s for s in own if isinstance(result.errors[s], PrecisionError))
                if segments:
                    failing.setdefault((spec_default.value, segments), []).append(h)
        if not failing:
            return results, {}
        results = dict(results)
        used: dict[int, dict[int, str]] = {}
        for (default, segments), hardware in failing.items():
            recounted: dict[int, CountedNetwork] = {}
            refused: dict[int, CountedNetwork] = {}  # not counted again: each spec's own error says what to do
            for s in segments:
                network = self.networks[group[s // n_p]]
                if isinstance(network, CountedNetwork):
                    refused[s] = network
                else:
                    recounted[s] = _counted(network, default, self.conventions, self.counters)
            members = np.array(list(recounted), dtype=np.int64)
            stacks: dict[tuple[int, ...], tuple[np.ndarray, Stack]] = {}
            for key in dict.fromkeys(map(tuple, sizes[members].tolist())):  # networks with equal batches
                positions = np.flatnonzero((sizes[members] == key).all(axis=1))
                stacks[key] = (positions, Stack.of([recounted[s] for s in members[positions].tolist()]))
            evaluated: list[StackedEvaluation | None] = (
                list(_stacked_results(stacks, [devices[h] for h in hardware], len(members), self.mode, self.traffic,
                                      self.fuse, work)) if stacks else [None] * len(hardware))
            for h, fallback in zip(hardware, evaluated):
                results[h] = self._spliced(results[h], members, fallback, refused, devices[h].spec.name, default)
                if fallback is not None:  # the precision a row ran at, or failed at (its status says so)
                    for s in members.tolist():
                        used.setdefault(s, {})[h] = recounted[s].precision.label
        return results, used

    @staticmethod
    def _spliced(result: StackedEvaluation, members: np.ndarray, fallback: StackedEvaluation | None,
                 refused: dict[int, CountedNetwork], hardware: str, default: str) -> StackedEvaluation:
        """``result`` with the rows of segments ``members`` (M,) taken from ``fallback`` (those networks on the same
        device at its default precision ``default``, so with the same bound labels), each predicted row's notes
        ending in :func:`default_precision_note`, and the segments ``refused`` (networks already counted) failing
        with :func:`counted_precision_error` of their own type's error instead."""
        errors = list(result.errors)
        for s, network in refused.items():
            errors[s] = counted_precision_error(network, cast(PrecisionError, errors[s]), default)
        if fallback is None:
            return replace(result, errors=tuple(errors))
        n_seg, n_b = result.bound.shape
        numbers = {name: values.copy() for name, values in result.numbers.items()}
        for name, values in numbers.items():
            values[members] = fallback.numbers[name]
        arrays = {name: getattr(result, name).copy() for name in ("bound", "fits", "kernels", "engines",
                                                                   "engine_batches")}
        for name, values in arrays.items():
            values[members] = getattr(fallback, name)
        texts = [default_precision_note(hardware, default, errors[s]) for s in members.tolist()]
        noted = SweepPlan._noted(fallback.notes, texts, np.repeat(np.arange(len(members)), n_b))
        for s, error in zip(members.tolist(), fallback.errors):
            errors[s] = error
        order = np.arange(n_seg * n_b)
        order[(members[:, None] * n_b + np.arange(n_b)).reshape(-1)] = n_seg * n_b + np.arange(len(members) * n_b)
        return replace(result, errors=tuple(errors), numbers=numbers,
                       notes=NoteRows.concat([result.notes, noted]).take(order), **arrays)

    @staticmethod
    def _noted(notes: NoteRows, texts: Sequence[str], which: np.ndarray) -> NoteRows:
        """``notes`` (N,) with the note ``texts[which[i]]`` appended to row ``i``: rows without notes read one
        fixed row per text, rows with notes of their own are read now, missing rows (not predicted) stay
        missing."""
        n = len(notes)
        alone = NoteRows((FixedNotes(tuple((text,) for text in texts)),), np.zeros(n, dtype=np.int32), which)
        kept = np.flatnonzero(notes.source != EMPTY)
        joined = NoteRows.from_values([None if lines is None else (*lines, texts[k])
                                       for lines, k in zip(notes.take(kept), which[kept].tolist())])
        order = np.arange(n)
        order[kept] = n + np.arange(len(kept))
        return NoteRows.concat([alone, joined]).take(order)

    def _grid_blocks(self, counted: CountedNetwork, own: NetworkSpec | CountedNetwork | None, sizes: np.ndarray,
                     grid: HardwareGrid, grid_columns: list[str], chunk_rows: int) -> Iterator[Block]:
        """The rows of ``counted`` on ``grid``, one block per chunk of about ``chunk_rows`` rows. ``own`` is its
        network when asked for at its own precision (None): when ``counted``'s type has no peak on the grid's
        template, it is counted at the template's ``default_precision`` (when it has one) and predicted so, as
        :func:`rooflinekit.api.predict` does (found on the first chunk, kept for the others)."""
        keys: dict[str, Hashable] = {
            "network": counted.label, "precision": counted.precision.label, "pruning_pct": counted.spec.pruning_pct,
            "mode": self.mode, "traffic": self.traffic.name, "hardware": grid.template.name}
        step, size = max(1, chunk_rows // len(sizes)), grid.size
        # every network of the sweep on the whole grid: what decides for the compiled grid kernel
        work = len(self.networks) * len(self.precisions) * len(counted.ops) * size * len(sizes)
        used, note = counted, None  # the counted network evaluated, and the note of a fallback
        default = grid.template.default_precision

        def run(start: int, stop: int) -> tuple[Evaluation, CountedNetwork, str | None]:
            nonlocal used, note

            def on_grid(c: CountedNetwork) -> Evaluation:
                return evaluate_grid(c, grid, start, stop, sizes, self.mode, self.traffic, self.fuse, work)

            try:
                evaluation = on_grid(used)
            except PrecisionError as exc:
                if note is not None or own is None or default is None:
                    raise
                if isinstance(own, CountedNetwork):  # not counted again at the default
                    raise counted_precision_error(own, exc, default.value) from exc
                used = _counted(own, default.value, self.conventions, self.counters)
                note = default_precision_note(grid.template.name, default.value, exc)
                evaluation = on_grid(used)
            if start == 0:
                _warn_idle_peak_axes(grid, used)
            return evaluation, used, note

        for start in range(0, size, step):
            stop = min(size, start + step)
            n = (stop - start) * len(sizes)
            extra: dict[str, np.ndarray] = {"grid_point": np.repeat(np.arange(start, stop, dtype=np.int64), len(sizes))}
            values = grid.values(start, stop)
            for axis in grid_columns[1:]:
                extra[axis] = np.repeat(values[axis], len(sizes)) if axis in values else np.full(n, np.nan)
            yield self._block(n, keys, {"batch": np.tile(sizes, stop - start), **extra},
                              lambda: run(start, stop), grid.template)

    def _plain_block(self, counted: list[CountedNetwork], sizes: np.ndarray, results: dict[int, StackedEvaluation],
                     segments: np.ndarray, hardware: list[int], grid_columns: list[str],
                     defaults: dict[int, dict[int, str]]) -> Block:
        """The rows of the counted networks ``segments`` (S,) on the plain specs ``hardware`` (H,) at every batch
        size (B), in that order, from their stacked evaluations ``results`` (by hardware index); ``defaults`` the
        precision of the rows predicted at a spec's default precision (see :meth:`_with_defaults`)."""
        n_s, n_h, n_b = len(segments), len(hardware), sizes.shape[1]
        picked = [results[h] for h in hardware]
        rows_of = slice(None) if n_s == len(counted) else segments  # every network: views, not copies

        def cube(values: Callable[[StackedEvaluation], np.ndarray]) -> np.ndarray:
            return np.stack([values(r)[rows_of] for r in picked], axis=1).reshape(-1)  # (S, H, B) raveled

        messages: dict[str, int] = {"ok": 0}
        status = np.array([[0 if r.errors[s] is None else messages.setdefault(str(r.errors[s]), len(messages))
                            for r in picked] for s in segments.tolist()], dtype=np.int64).reshape(n_s, n_h)
        failed = np.repeat(status.reshape(-1) > 0, n_b)
        labels: list[str] = []
        bound_parts = []
        for r in picked:
            codes = r.bound[segments]
            bound_parts.append(np.where(codes >= 0, codes + len(labels), -1))
            labels.extend(r.labels)
        rows = (segments[:, None] * n_b + np.arange(n_b)).reshape(-1)
        notes = NoteRows.concat([r.notes.take(rows) for r in picked])  # (H, S, B) order
        order = (np.arange(n_h)[None, :, None] * (n_s * n_b) + np.arange(n_s)[:, None, None] * n_b
                 + np.arange(n_b)[None, None, :]).reshape(-1)
        segment_code = np.repeat(np.arange(n_s), n_h * n_b)
        chosen = [counted[s] for s in segments.tolist()]
        precision: tuple[np.ndarray, tuple[str, ...]] = (segment_code, tuple(c.precision.label for c in chosen))
        if defaults:  # per (network, hardware): codes past the segments' own labels for the defaults used
            pair_code = np.repeat(np.arange(n_s), n_h).reshape(n_s, n_h)
            column = {h: j for j, h in enumerate(hardware)}
            used: dict[str, int] = {}
            for i, s in enumerate(segments.tolist()):
                for h, label in defaults.get(s, {}).items():
                    if h in column:
                        pair_code[i, column[h]] = n_s + used.setdefault(label, len(used))
            precision = (np.repeat(pair_code.reshape(-1), n_b), (*precision[1], *used))
        coded: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {
            "network": (segment_code, tuple(c.label for c in chosen)),
            "precision": precision,
            "hardware": (np.tile(np.repeat(np.arange(n_h), n_b), n_s),
                         tuple(hw.name for hw in (self.hardware[h] for h in hardware) if isinstance(hw, HardwareSpec))),
            "bound": (np.stack(bound_parts, axis=1).reshape(-1), tuple(labels)),
            "status": (np.repeat(status.reshape(-1), n_b), tuple(messages)),
            "estimate": (np.where(failed, -1, 0), (BOUND_ESTIMATE,)),
        }
        arrays: dict[str, np.ndarray | NoteRows] = {
            **{name: np.stack([r.numbers[name][rows_of] for r in picked], axis=1).reshape(-1)
               for name in RESULT_COLUMNS if name in picked[0].numbers},
            "pruning_pct": np.repeat(np.array([c.spec.pruning_pct for c in chosen], dtype=np.float64), n_h * n_b),
            "batch": np.repeat(sizes[segments][:, None, :], n_h, axis=1).reshape(-1),
            "kernels": cube(lambda r: r.kernels), "fits": cube(lambda r: r.fits), "fits/missing": failed,
            "engines": cube(lambda r: r.engines), "engine_batches": cube(lambda r: r.engine_batches)}
        arrays["notes"] = overhead_noted(
            _integer_noted(notes.take(order), chosen, [cast(HardwareSpec, self.hardware[h]) for h in hardware], n_b),
            [cast(HardwareSpec, self.hardware[h]).kind.value for h in hardware],
            coded["hardware"][0], np.repeat([isinstance(c.spec, AggregateNetwork) for c in chosen], n_h * n_b),
            cast(np.ndarray, arrays["latency_s"]), cast(np.ndarray, arrays["kernels"]), fresh=True)
        constants: dict[str, Hashable] = {"mode": self.mode, "traffic": self.traffic.name,
                                          **{c: (-1 if c == "grid_point" else None) for c in grid_columns}}
        return n_s * n_h * n_b, constants, arrays, coded

    @staticmethod
    def _block(n: int, constants: dict[str, Hashable], arrays: dict[str, np.ndarray | NoteRows],
               run: Callable[[], tuple[Evaluation, CountedNetwork, str | None]], template: HardwareSpec) -> Block:
        """The block of ``n`` grid rows ``run`` evaluates (with the network it evaluated and the note of a fallback
        to a default precision, which then sets the rows' ``precision`` and ends their notes) on points of
        ``template`` (its kind: the overhead note, :func:`overhead_noted`; its peaks: the note of integer layers
        costed at the fp32 peak, :func:`~.engines.integer_bound_note`); a failure's reason in ``status``."""
        try:
            evaluation, counted, note = run()
        except (PrecisionError, SpecError) as exc:
            return n, {**constants, **{c: None for c in RESULT_COLUMNS}, "status": str(exc)}, arrays, {}
        result, coded = evaluation.arrays, {}
        numbers = {key: value for key, value in result.items() if key not in ("kernels", "estimate", "engines")}
        if note is not None:
            constants = {**constants, "precision": counted.precision.label}
            notes = cast(NoteRows, result["notes"])  # an evaluation's notes are rows of notes
            numbers["notes"] = SweepPlan._noted(notes, (note,), np.zeros(n, dtype=np.int64))
        integer = integer_bound_note(counted, template)
        if integer is not None:
            numbers["notes"] = SweepPlan._noted(cast(NoteRows, numbers["notes"]), (integer,),
                                                np.zeros(n, dtype=np.int64))
        numbers["kernels"] = np.asarray(result["kernels"], dtype=np.float64)
        numbers["notes"] = overhead_noted(cast(NoteRows, numbers["notes"]), (template.kind.value,),  # broadcast
                                          np.broadcast_to(np.int64(0), (n,)),
                                          np.broadcast_to(isinstance(counted.spec, AggregateNetwork), (n,)),
                                          cast(np.ndarray, numbers["latency_s"]), cast(np.ndarray, numbers["kernels"]))
        if evaluation.bound_codes is not None:
            coded["bound"] = (evaluation.bound_codes, evaluation.bound_labels)
            del numbers["bound"]
        engines = result["engines"]
        if len(engines) and len(set(engines.tolist())) == 1:
            constants = {**constants, "engines": engines[0]}
        else:
            numbers["engines"] = engines
        return n, {**constants, "status": "ok", "estimate": BOUND_ESTIMATE}, {**arrays, **numbers}, coded
