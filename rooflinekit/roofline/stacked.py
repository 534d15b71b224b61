"""Many counted networks on many hardware specs in one vectorized pass.

A sweep puts every network (at every precision) on each hardware spec. Evaluated one pair at a time, each pair
costs a few hundred numpy calls on arrays of a handful of rows, whatever its size. :func:`evaluate_stacked`
instead lays the rows of S networks end to end (a :class:`Stack`: segment ``s`` holds network ``s``'s rows) and
runs placement, residency, traffic and the roofline once over all of them (:mod:`rooflinekit.roofline.predictor`
describes the model), with per-segment sums; :func:`evaluate_devices` does the same for several devices at once,
each network once per device. :func:`~rooflinekit.roofline.predictor.evaluate` is the case of one network on one
device, so a sweep's rows equal :func:`~rooflinekit.roofline.predict`'s bit for bit:

- every sum over a network's rows (or kernels) runs in row order (:func:`~rooflinekit.roofline.core.fold_runs`:
  ``numpy.bincount`` adds in index order, ``ndarray.sum(axis=0)`` adds the rows of a 2-D block in order), so a
  segment's results do not depend on the segments stacked with it;
- placement is decided once per distinct (op class, data type) pair per device (:class:`Device`), and a network
  whose pairs a device cannot run gets the error :func:`~rooflinekit.roofline.place` raises;
- devices with fewer memory levels than others in the pass get padded levels of infinite bandwidth and capacity,
  which add exact zeros; devices that spill weights, and networks a ``batch_split`` device divides between
  engines, are evaluated on their own.

All segments of one call share the batch sizes ``b`` (B,). In layer mode with numba installed, the sums over
kernels run in one compiled pass (:func:`rooflinekit.roofline._compiled.layer_totals`), with the same bits.

What a run works out before any batch size (placements, kernels, levels, per-network sums: a :class:`_Layout`) is
remembered per stack and devices, and :meth:`Stack.of` per sequence of counted networks, so that a sweep run again
on the same networks and hardware (or :func:`~rooflinekit.roofline.predict` called again) only does the work that
depends on the batch sizes. Counted networks and hardware specs are not changed once made; the remembered arrays
are read-only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from rooflinekit.descriptors import ComputeEngine, DType, HardwareSpec
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.roofline import _compiled
from rooflinekit.roofline._remembered import IdentityMemo
from rooflinekit.roofline.capacity import note_entries
from rooflinekit.roofline.core import dominant_bounds, fold_runs, roofline_times
from rooflinekit.roofline.engines import NO_LEVEL, EngineLevels, MemoryLayout, Placement, choose_engine
from rooflinekit.roofline.notes import EMPTY, SPILL, CapacityNotes, JoinedNotes, MisfitNotes, NoteRows
from rooflinekit.roofline.traffic import RowTraffic, TrafficModel, WeightsAndActivations, WeightsOnly
from rooflinekit.roofline.workload import CountedNetwork

if TYPE_CHECKING:
    import pandas as pd

NUMBER_COLUMNS = ("fps", "latency_s", "ops", "bytes", "operational_intensity", "attainable_ops_per_s",
                  "peak_ops_per_s", "latency_optimistic_s", "latency_pessimistic_s")
"""The float64 result columns of a :class:`StackedEvaluation`."""


@dataclass(frozen=True, eq=False)
class Stack:
    """The rows of S counted networks end to end (N rows in all), independent of any hardware.

    ``bounds`` (S + 1,) are the segments' first rows (and N); ``pairs`` the distinct (op class, data type) pairs of
    all rows, ``pair`` (N,) each row's index into them, and segment ``s``'s pairs, in the order
    :attr:`~rooflinekit.roofline.CountedNetwork.class_dtype_pairs` lists them, are
    ``pair_list[pair_bounds[s]:pair_bounds[s + 1]]``. ``unknown_activations`` (S,) marks aggregate specs without
    an activation count. The row arrays are those of :class:`~rooflinekit.roofline.CountedNetwork` (activations
    with unknown counts as 0), per frame.
    """

    networks: tuple[CountedNetwork, ...]
    bounds: np.ndarray
    segment: np.ndarray  # (N,) int64
    pairs: tuple[tuple[str, str], ...]
    pair: np.ndarray  # (N,) int64
    pair_bounds: np.ndarray  # (S + 1,) int64
    pair_list: np.ndarray  # (P,) int64
    unknown_activations: np.ndarray  # (S,) bool
    ops: np.ndarray
    weight_bytes: np.ndarray
    activation_bytes: np.ndarray
    state_bytes: np.ndarray
    fuses_into_previous: np.ndarray
    link_bytes: np.ndarray

    @classmethod
    def of(cls, networks: Sequence[CountedNetwork]) -> "Stack":
        """The rows of ``networks`` in order, remembered per sequence of network objects (counted networks are
        not changed once made, so the same objects stack to the same rows): a sweep that runs again on the same
        networks gets the same stack, and with it the layouts remembered for it (:func:`_layout`). At most
        :data:`LAYOUT_CACHE_ROWS` rows are kept, the least recently used dropped first."""
        nets = tuple(networks)
        if not nets:
            return cls._made(nets)
        key = tuple(map(id, nets[1:]))  # the stack holds these networks: while it is kept, no other has their ids
        hit = _stacks.get(nets[0], key)
        return hit if hit is not None else _stacks.put(nets[0], key, cls._made(nets))

    @classmethod
    def _made(cls, nets: tuple[CountedNetwork, ...]) -> "Stack":
        """The rows of ``nets`` in order (:meth:`of` without remembering)."""
        lengths = np.array([len(n.ops) for n in nets], dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        index: dict[tuple[str, str], int] = {}
        segment_pairs = tuple(tuple(index.setdefault(p, len(index)) for p in n.class_dtype_pairs) for n in nets)
        local = np.concatenate([n.row_pair for n in nets]) if nets else np.zeros(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in segment_pairs])]).astype(np.int64)
        flat = np.array([i for pairs in segment_pairs for i in pairs], dtype=np.int64)
        segment = np.repeat(np.arange(len(nets), dtype=np.int64), lengths)

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(n, name) for n in nets]) if nets else np.zeros(0)

        unknown = np.array([n.is_aggregate and bool(np.isnan(n.activation_bytes).any()) for n in nets], dtype=bool)
        made = cls(nets, bounds, segment, tuple(index), flat[offsets[:-1][segment] + local] if nets else local,
                   offsets, flat, unknown, joined("ops"), joined("weight_bytes"), np.nan_to_num(joined("activation_bytes")),
                   joined("state_bytes"), joined("fuses_into_previous").astype(bool), joined("link_bytes"))
        _read_only([getattr(made, f.name) for f in dataclasses.fields(made)])  # shared by every sweep that uses it
        return made

    def take(self, keep: np.ndarray) -> "Stack":
        """The segments where ``keep`` (S,) bool is True, in order."""
        kept = np.flatnonzero(keep)
        rows = keep[self.segment]
        lengths, counts = np.diff(self.bounds)[kept], np.diff(self.pair_bounds)
        return Stack(tuple(self.networks[s] for s in kept.tolist()), np.concatenate([[0], np.cumsum(lengths)]),
                     np.repeat(np.arange(len(kept), dtype=np.int64), lengths), self.pairs, self.pair[rows],
                     np.concatenate([[0], np.cumsum(counts[kept])]), self.pair_list[np.repeat(keep, counts)],
                     self.unknown_activations[kept], self.ops[rows], self.weight_bytes[rows],
                     self.activation_bytes[rows], self.state_bytes[rows], self.fuses_into_previous[rows],
                     self.link_bytes[rows])


    @classmethod
    def concat(cls, stacks: Sequence["Stack"]) -> "Stack":
        """The segments of ``stacks`` (taken from one stack: the same ``pairs``) end to end."""
        lengths = np.concatenate([np.diff(x.bounds) for x in stacks])
        counts = np.concatenate([np.diff(x.pair_bounds) for x in stacks])

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(x, name) for x in stacks])

        return cls(tuple(n for x in stacks for n in x.networks), np.concatenate([[0], np.cumsum(lengths)]),
                   np.repeat(np.arange(len(lengths), dtype=np.int64), lengths), stacks[0].pairs, joined("pair"),
                   np.concatenate([[0], np.cumsum(counts)]), joined("pair_list"), joined("unknown_activations"),
                   joined("ops"), joined("weight_bytes"), joined("activation_bytes"), joined("state_bytes"),
                   joined("fuses_into_previous"), joined("link_bytes"))


@dataclass(eq=False)
class Device:
    """A hardware spec as plain numbers, with the engine each (op class, data type) pair runs on decided once
    (see :func:`~rooflinekit.roofline.place`); one per hardware per sweep."""

    spec: HardwareSpec
    layout: MemoryLayout
    engines: tuple[ComputeEngine, ...]
    engine_names: tuple[str, ...]
    levels: dict[str, np.ndarray]  # per engine (E,): weights, activations, state, on_chip, on_chip_capacity
    overhead_s: np.ndarray  # (E,) s per kernel
    _choices: dict[tuple[str, str], tuple[int, float] | Exception] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: HardwareSpec) -> "Device":
        engines = spec.compute_engines
        per_engine = [EngineLevels.of(spec, e) for e in engines]
        levels = {name: np.array([getattr(e, name) for e in per_engine])
                  for name in ("weights", "activations", "state", "on_chip")}
        levels["on_chip_capacity"] = np.array([e.on_chip_capacity for e in per_engine], dtype=np.float64)
        return cls(spec, MemoryLayout.of(spec), engines, tuple(e.name for e in engines), levels,
                   np.array([e.kernel_overhead_s for e in engines], dtype=np.float64))

    @classmethod
    def remembered(cls, spec: HardwareSpec) -> "Device":
        """:meth:`of`, remembered per spec object: specs are immutable, so a spec is its own key (kept alive with
        its device), and a device's choices, made once per pair, serve every sweep that uses the spec. At most
        :data:`DEVICE_CACHE_SIZE` are kept, the least recently used dropped first."""
        hit = _devices.get(spec)
        return hit if hit is not None else _devices.put(spec, (), cls.of(spec))

    @property
    def labels(self) -> tuple[str, ...]:
        """Bound labels by code: ``compute``, then ``memory:<level>`` per level."""
        return ("compute", *(f"memory:{name}" for name in self.layout.names))

    def choice(self, pair: tuple[str, str]) -> tuple[int, float] | Exception:
        """(engine index, its peak in ops/s) for rows of ``pair``, or the error placing them raises."""
        made = self._choices.get(pair)
        if made is None:
            engines = self.engines
            try:
                engine = choose_engine(self.spec, engines, list(range(len(engines))), *pair)
                made = (engine, engines[engine].peak_for(DType(pair[1])))
            except (PrecisionError, SpecError) as exc:
                made = exc
            self._choices[pair] = made
        return made

    def placement(self, counted: CountedNetwork) -> Placement:
        """:func:`~rooflinekit.roofline.place` of ``counted`` on every engine of this device, from the choices
        made once per (op class, data type) pair. Raises what ``place`` raises: the error of the first pair, in
        the network's order, that no engine runs."""
        made = [self.choice(pair) for pair in counted.class_dtype_pairs]
        for choice in made:
            if isinstance(choice, Exception):
                raise choice.with_traceback(None)
        chosen = [c for c in made if isinstance(c, tuple)]
        engine = np.array([e for e, _ in chosen], dtype=np.int64)[counted.row_pair]
        levels = self.levels
        return Placement(self.engine_names, engine, np.array([p for _, p in chosen])[counted.row_pair],
                         self.overhead_s[engine], levels["weights"][engine], levels["activations"][engine],
                         levels["state"][engine], levels["on_chip"][engine], levels["on_chip_capacity"][engine])

    @cached_property
    def combinable(self) -> bool:
        """True when this device can be evaluated in one pass with others (:func:`evaluate_devices`): no level
        spills weights, no batch split between engines, fewer than 8 levels (their sums then run in order).
        Worked out once (the spec does not change)."""
        return (not (self.layout.spill_to != NO_LEVEL).any() and len(self.layout.names) < 8
                and not (self.spec.engine_policy == "batch_split" and len(self.engines) > 1))

    def splits(self, pairs: Sequence[tuple[str, str]]) -> bool:
        """True when this is a ``batch_split`` device with two or more engines that run all of ``pairs``."""
        if self.spec.engine_policy != "batch_split" or len(self.engines) < 2:
            return False
        return sum(all(e.runs(c or None, DType(d)) for c, d in pairs) for e in self.engines) > 1


DEVICE_CACHE_SIZE = 256
"""Hardware specs whose :class:`Device` is remembered (:meth:`Device.remembered`)."""
_devices: IdentityMemo[Device] = IdentityMemo(DEVICE_CACHE_SIZE)


@dataclass(frozen=True, eq=False)
class StackedEvaluation:
    """S networks on one hardware for B batch sizes: arrays (S, B), segment by segment.

    ``errors[s]`` is the :class:`~rooflinekit.errors.PrecisionError` or :class:`~rooflinekit.errors.SpecError`
    that predicting network ``s`` raises (its rows then hold NaN, code -1, False, None and missing notes), else
    None. ``bound`` indexes ``labels``; ``engines`` and ``engine_batches`` are object arrays of tuples; ``notes``
    (S * B,) is lazy (see :class:`~rooflinekit.roofline.notes.NoteRows`); ``layers`` the per-layer table of a
    single network when asked for.
    """

    batches: np.ndarray  # (B,), or (S, B) when merged from networks with different batch sizes
    errors: tuple[Exception | None, ...]
    numbers: dict[str, np.ndarray]
    bound: np.ndarray
    labels: tuple[str, ...]
    fits: np.ndarray
    kernels: np.ndarray
    engines: np.ndarray
    engine_batches: np.ndarray
    notes: NoteRows
    layers: "pd.DataFrame | None" = None


def evaluate_stacked(stack: Stack, device: Device, batches: np.ndarray, mode: str, traffic: TrafficModel,
                     fuse: bool = True, with_layers: bool = False, work: int = 0) -> StackedEvaluation:
    """Predict every network of ``stack`` on ``device`` at each batch size of ``batches`` (B,) int.

    ``with_layers`` (for a stack of one network) keeps its per-layer table. ``work`` is the number of row x batch
    x level elements the caller runs through layer mode in all (a sweep's, over every hardware): from
    :data:`~rooflinekit.roofline._compiled.MIN_ELEMENTS` the optional compiled layer kernel is used (and compiled)
    even when this call alone is smaller. Errors are returned per network, not raised (see
    :class:`StackedEvaluation`).
    """
    from rooflinekit.roofline.predictor import evaluate

    b = np.asarray(batches, dtype=np.int64)
    n_seg, n_b, labels = len(stack.networks), len(b), device.labels
    errors, split = _placement_errors(stack, device, traffic)
    stacked = np.array([e is None for e in errors], dtype=bool) & ~split
    out = _Outputs.empty(n_seg, b)
    if stacked.any():
        part = stack.take(stacked) if not stacked.all() else stack
        layout = _layout(part, (device,), np.zeros(len(part.networks), dtype=np.int64), fuse,
                         mode == "network" and traffic.row_separable, remember=part is stack)
        run = _run_stacked(layout, b, mode, traffic, with_layers, work)
        if stacked.all() and all(e is None for e in run.errors):  # every network predicted here: as they are
            return StackedEvaluation(b, run.errors, run.numbers, run.bound, labels, run.fits, run.kernels,
                                     run.engines, run.engine_batches, run.notes, run.layers)
        where = np.flatnonzero(stacked)
        for s, error in zip(where.tolist(), run.errors):
            errors[s] = error
        out.put(where, run, n_b)
        layers = run.layers
    else:
        layers = None
    for s in np.flatnonzero(split).tolist():
        try:
            single = evaluate(stack.networks[s], device.spec, b, mode, traffic, fuse, with_layers)
        except (PrecisionError, SpecError) as exc:
            errors[s] = exc
            continue
        out.put_evaluation(s, single, labels, n_b)
        layers = single.layers
    failed = np.flatnonzero(np.array([e is not None for e in errors]))
    out.bound.reshape(n_seg, n_b)[failed] = -1
    return StackedEvaluation(b, tuple(errors), out.numbers, out.bound.reshape(n_seg, n_b), labels,
                             out.fits.reshape(n_seg, n_b), out.kernels.reshape(n_seg, n_b),
                             out.engines.reshape(n_seg, n_b), out.engine_batches.reshape(n_seg, n_b),
                             out.notes(n_seg * n_b), layers)


def _placement_errors(stack: Stack, device: Device,
                      traffic: TrafficModel) -> tuple[list[Exception | None], np.ndarray]:
    """Per network of ``stack``, the error predicting it on ``device`` raises before any arithmetic (an aggregate
    spec without activations under activation traffic, a data type or op class no engine runs) or None, and (S,)
    whether the device splits its batches between engines (evaluated alone)."""
    n_seg = len(stack.networks)
    errors: list[Exception | None] = [None] * n_seg
    unknown = stack.unknown_activations & traffic.moves_activations
    for s in np.flatnonzero(unknown).tolist():
        errors[s] = SpecError(f"{stack.networks[s].spec.name} is an aggregate spec without "
                              "activation_elements_per_frame; use traffic 'weights_only' or add the activation count "
                              "to its spec")
    split = ~unknown & np.array([device.splits(n.class_dtype_pairs) for n in stack.networks], dtype=bool) if (
        device.spec.engine_policy == "batch_split" and len(device.engines) > 1) else np.zeros(n_seg, dtype=bool)
    # placement: a network's error is that of its first pair (in its own order) no engine runs
    choices = [device.choice(p) for p in stack.pairs]
    bad = np.array([isinstance(c, Exception) for c in choices], dtype=bool)[stack.pair_list]
    if bad.any():
        first = np.minimum.reduceat(np.where(bad, np.arange(len(bad)), len(bad)), stack.pair_bounds[:-1])
        for s in np.flatnonzero((first < stack.pair_bounds[1:]) & ~unknown & ~split).tolist():
            errors[s] = choices[stack.pair_list[first[s]]]
    return errors, split


def evaluate_devices(stack: Stack, devices: Sequence[Device], batches: np.ndarray, mode: str,
                     traffic: TrafficModel, fuse: bool = True, work: int = 0) -> list[StackedEvaluation]:
    """:func:`evaluate_stacked` on each of ``devices``, in order: the :attr:`~Device.combinable` ones in a single
    pass (each network once per device, end to end; levels padded to the most any of them has, a padded level
    holding and moving nothing), which gives each device's results bit for bit."""
    b = np.asarray(batches, dtype=np.int64)
    together = [i for i, d in enumerate(devices) if d.combinable]
    if len(together) < 2:
        return [evaluate_stacked(stack, d, b, mode, traffic, fuse, work=work) for d in devices]
    results: list[StackedEvaluation | None] = [None] * len(devices)
    for i, device in enumerate(devices):
        if i not in together:
            results[i] = evaluate_stacked(stack, device, b, mode, traffic, fuse, work=work)
    combined = _combined(stack, tuple(devices[i] for i in together), traffic, fuse,
                         mode == "network" and traffic.row_separable)
    checked = [list(errors) for errors in combined.errors]  # this call's own: run errors are written in
    masks, counts = combined.masks, combined.counts
    if combined.layout is not None:
        run = _run_stacked(combined.layout, b, mode, traffic, False, work)
    n_seg, n_b = len(stack.networks), len(b)
    start = 0
    for i, errors, mask, count in zip(together, checked, masks, counts):
        where = np.flatnonzero(mask)
        labels = devices[i].labels
        if count:
            part = run.rows(start, start + count, n_b)
            start += count
            if count == n_seg and all(e is None for e in part.errors):  # every network predicted: as they are
                results[i] = StackedEvaluation(b, part.errors, part.numbers, part.bound, labels, part.fits,
                                               part.kernels, part.engines, part.engine_batches, part.notes)
                continue
        out = _Outputs.empty(n_seg, b)
        if count:
            for s, error in zip(where.tolist(), part.errors):
                errors[s] = error
            out.put(where, part, n_b)
        failed = np.flatnonzero(np.array([e is not None for e in errors]))
        out.bound.reshape(n_seg, n_b)[failed] = -1
        results[i] = StackedEvaluation(b, tuple(errors), out.numbers, out.bound.reshape(n_seg, n_b), labels,
                                       out.fits.reshape(n_seg, n_b), out.kernels.reshape(n_seg, n_b),
                                       out.engines.reshape(n_seg, n_b), out.engine_batches.reshape(n_seg, n_b),
                                       out.notes(n_seg * n_b))
    return [r for r in results if r is not None]


@dataclass(eq=False)
class _Outputs:
    """Result columns of S segments x B batch sizes (flat, segment-major), filled segment group by group."""

    numbers: dict[str, np.ndarray]
    bound: np.ndarray
    fits: np.ndarray
    kernels: np.ndarray
    engines: np.ndarray
    engine_batches: np.ndarray
    note_parts: list[tuple[np.ndarray, NoteRows]]

    @classmethod
    def empty(cls, n_seg: int, b: np.ndarray) -> "_Outputs":
        n = n_seg * len(b)
        return cls({c: np.full((n_seg, len(b)), np.nan) for c in NUMBER_COLUMNS}, np.zeros(n, dtype=np.int64),
                   np.zeros(n, dtype=bool), np.full(n, np.nan), np.full(n, None, dtype=object),
                   np.full(n, None, dtype=object), [])

    def put(self, where: np.ndarray, run: "_Run", n_b: int) -> None:
        """Write the stacked run of segments ``where`` (S',)."""
        ok = np.array([e is None for e in run.errors])
        where, rows = where[ok], (where[ok][:, None] * n_b + np.arange(n_b)).ravel()
        for name, values in run.numbers.items():
            self.numbers[name][where] = values[ok]
        for name in ("bound", "fits", "kernels", "engines", "engine_batches"):
            getattr(self, name)[rows] = getattr(run, name)[ok].ravel()
        picked = (np.flatnonzero(ok)[:, None] * n_b + np.arange(n_b)).ravel()
        self.note_parts.append((rows, run.notes.take(picked)))

    def put_evaluation(self, s: int, single: "object", labels: tuple[str, ...], n_b: int) -> None:
        """Write segment ``s`` from an :class:`~rooflinekit.roofline.predictor.Evaluation`."""
        arrays = single.arrays  # type: ignore[attr-defined]
        rows = np.arange(s * n_b, (s + 1) * n_b)
        for name in NUMBER_COLUMNS:
            self.numbers[name][s] = arrays[name]
        self.bound[rows] = [labels.index(label) for label in arrays["bound"].tolist()]
        for name in ("fits", "kernels", "engines", "engine_batches"):
            getattr(self, name)[rows] = arrays[name]
        notes = arrays["notes"]
        self.note_parts.append((rows, notes if isinstance(notes, NoteRows) else NoteRows.from_values(notes)))

    def notes(self, n: int) -> NoteRows:
        """The notes of all rows: those written, missing elsewhere."""
        covered = np.zeros(n, dtype=bool)
        for rows, _ in self.note_parts:
            covered[rows] = True
        missing = np.flatnonzero(~covered)
        parts = [*self.note_parts, (missing, NoteRows.filled(len(missing), None))]
        joined = NoteRows.concat([notes for _, notes in parts])
        order = np.empty(n, dtype=np.int64)
        order[np.concatenate([rows for rows, _ in parts])] = np.arange(n)
        return joined.take(order)


@dataclass(frozen=True, eq=False)
class _Run:
    """Results of the stacked segments (S', B)."""

    errors: tuple[Exception | None, ...]
    numbers: dict[str, np.ndarray]
    bound: np.ndarray
    fits: np.ndarray
    kernels: np.ndarray
    engines: np.ndarray
    engine_batches: np.ndarray
    notes: NoteRows
    layers: "pd.DataFrame | None"

    def rows(self, start: int, stop: int, n_b: int) -> "_Run":
        """Segments ``start .. stop - 1`` (B batch sizes each)."""
        part = slice(start, stop)
        return _Run(self.errors[part], {k: v[part] for k, v in self.numbers.items()}, self.bound[part],
                    self.fits[part], self.kernels[part], self.engines[part], self.engine_batches[part],
                    self.notes[start * n_b:stop * n_b], None)


@dataclass(frozen=True, eq=False)
class _Fleet:
    """The devices of one stacked run as tables: engines numbered across the devices, levels padded to the most any
    device has (a padded level has infinite bandwidth and capacity: it holds and moves nothing)."""

    engine_names: tuple[str, ...]  # (E,) every device's engines, device by device
    levels: dict[str, np.ndarray]  # (E,) each: weights, activations, state, on_chip, on_chip_capacity
    overhead_s: np.ndarray  # (E,)
    pair_engine: np.ndarray  # (D, P) engine running each (op class, data type) pair on each device
    pair_peak: np.ndarray  # (D, P) its peak, ops/s
    bandwidth: np.ndarray  # (D, L) bytes/s
    capacity: np.ndarray  # (D, L) bytes

    @classmethod
    def of(cls, devices: Sequence[Device], pairs: Sequence[tuple[str, str]]) -> "_Fleet":
        """The tables of ``devices`` for the pairs ``pairs`` (each placeable on every device it is used on)."""
        offsets = np.concatenate([[0], np.cumsum([len(d.engines) for d in devices])]).astype(np.int64)
        n_levels = max(len(d.layout.names) for d in devices)
        pair_engine = np.zeros((len(devices), len(pairs)), dtype=np.int64)
        pair_peak = np.full((len(devices), len(pairs)), np.nan)
        bandwidth = np.full((len(devices), n_levels), np.inf)
        capacity = np.full((len(devices), n_levels), np.inf)
        for d, device in enumerate(devices):
            for p, pair in enumerate(pairs):
                made = device.choice(pair)
                if isinstance(made, tuple):
                    pair_engine[d, p], pair_peak[d, p] = offsets[d] + made[0], made[1]
            bandwidth[d, :len(device.layout.names)] = device.layout.bandwidth_bytes_per_s
            capacity[d, :len(device.layout.names)] = device.layout.capacity_bytes
        levels = {name: np.concatenate([d.levels[name] for d in devices]) for name in devices[0].levels}
        return cls(tuple(n for d in devices for n in d.engine_names), levels,
                   np.concatenate([d.overhead_s for d in devices]), pair_engine, pair_peak, bandwidth, capacity)


LAYOUT_CACHE_ROWS = 1 << 17
"""Rows of the stacks (:meth:`Stack.of`), and of the layouts (:func:`_layout`, :func:`_combined`), remembered: each
table keeps at most this many, the least recently used dropped first."""


@dataclass(frozen=True, eq=False)
class _Layout:
    """What a stacked run works out before any batch size: the segments of ``stack`` on their devices
    (``devices[seg_device[s]]``) as rows with their engine, peak and memory levels, split into kernels, and the
    per-segment sums residency starts from. The roofline runs over G rows: the stack's N rows, or, when
    ``grouped`` (network mode with a row-separable traffic model), each network's rows of one (op class, data
    type) pair summed into one (rows of one pair are placed alike). Made by :meth:`of`; arrays read-only."""

    stack: Stack
    devices: tuple[Device, ...]
    fleet: _Fleet
    seg_device: np.ndarray  # (S,)
    engine: np.ndarray  # (N,) each row's engine, numbered across the devices (:class:`_Fleet`)
    peak_row: np.ndarray  # (N,) its peak, ops/s
    act_level: np.ndarray  # (N,) the level its activations live in
    peak_max: np.ndarray  # (S,) each segment's largest row peak, ops/s
    peak_min: np.ndarray  # (S,) and its smallest
    starts: np.ndarray  # (K,) first row of each kernel (a run of fused rows)
    kernel_bounds: np.ndarray  # (S + 1,) first kernel of each segment, and K
    overhead: np.ndarray  # (K,) s per kernel
    overhead_sum: np.ndarray  # (S,) s per segment
    rows_peak: np.ndarray  # (G,) ops/s
    ops: np.ndarray  # (G,) per frame
    weight_bytes: np.ndarray  # (G,) per batch
    state_bytes: np.ndarray  # (G,) per frame
    activations: np.ndarray  # (G,) per frame, without the tensors between fused rows
    levels: dict[str, np.ndarray]  # (G,) each: weights, activations, state, on_chip, on_chip_capacity
    row_bounds: np.ndarray  # (S + 1,) first of the G rows of each segment, and G
    bandwidth: np.ndarray  # (S, L) bytes/s
    capacity: np.ndarray  # (S, L) bytes
    spill_to: np.ndarray  # (L,) as :class:`MemoryLayout`'s (no spills when several devices run together)
    weights_by_level: np.ndarray  # (G, L) weight bytes per batch each row reads from each level, before spills
    segment_weights: np.ndarray  # (S, L) their sums per segment
    act_peak: np.ndarray  # (S, L) bytes per frame: the largest row's activations in each level
    state_sum: np.ndarray  # (S, L) state bytes per frame in each level
    per_frame: np.ndarray  # (S, L) ``act_peak + state_sum``: what a level holds per frame besides weights
    kernels: np.ndarray  # (S,) kernels per segment
    note_names: tuple[str, ...]  # every device's level names, device after device
    note_level: np.ndarray  # (S, L) the index into ``note_names`` of each segment's levels
    used: list[tuple[str, ...]]  # per segment, the names of the engines its rows run on, in order of first use
    engines: np.ndarray  # (S,) object: ``used``'s tuples

    @classmethod
    def of(cls, stack: Stack, devices: tuple[Device, ...], seg_device: np.ndarray, fuse: bool,
           grouped: bool) -> "_Layout":
        """The layout of every segment of ``stack`` on its device (each network placeable there; several devices
        only when all are :attr:`~Device.combinable`)."""
        n_seg = len(stack.networks)
        fleet = _Fleet.of(devices, stack.pairs)
        n_levels = fleet.bandwidth.shape[1]
        seg = stack.segment
        engine = fleet.pair_engine[seg_device[seg], stack.pair]
        peak_row = fleet.pair_peak[seg_device[seg], stack.pair]
        act_level = fleet.levels["activations"][engine]
        # kernels: a row fuses into the row before it in its own network (a segment's first row never does)
        first = stack.bounds[:-1]
        previous = np.empty_like(engine)
        previous[1:], previous[:1] = engine[:-1], engine[-1:]
        link = stack.fuses_into_previous & fuse & (engine == previous)
        link[first] = False
        link_in = np.where(link, stack.link_bytes, 0.0)
        activations = stack.activation_bytes - link_in - np.append(link_in[1:], 0.0)
        starts = np.flatnonzero(~link)
        overhead = fleet.overhead_s[engine[starts]]
        kernel_bounds = np.searchsorted(seg[starts], np.arange(n_seg + 1))
        if overhead.any():  # each network's overheads summed as numpy sums one network's
            overhead_sum = np.array([overhead[k0:k1].sum() for k0, k1 in zip(kernel_bounds[:-1], kernel_bounds[1:])])
        else:
            overhead_sum = np.zeros(n_seg)
        act_peak = np.zeros((n_seg, n_levels))
        np.maximum.at(act_peak, (seg, act_level), stack.activation_bytes)
        if grouped:
            # network mode sums every row: rows of one (network, pair) are placed alike, so summed first
            key = seg * len(stack.pairs) + stack.pair
            _, head, group = np.unique(key, return_index=True, return_inverse=True)
            order = np.argsort(head, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            group, head = rank[group.ravel()], head[order]

            def total(values: np.ndarray) -> np.ndarray:
                return np.bincount(group, weights=values, minlength=len(head))

            rows_seg, rows_engine, rows_peak = seg[head], engine[head], peak_row[head]
            ops, weight_bytes, state_bytes = total(stack.ops), total(stack.weight_bytes), total(stack.state_bytes)
            activations = total(activations)
        else:
            rows_seg, rows_engine, rows_peak = seg, engine, peak_row
            ops, weight_bytes, state_bytes = stack.ops, stack.weight_bytes, stack.state_bytes
        levels = {name: values[rows_engine] for name, values in fleet.levels.items()}
        row_starts = np.searchsorted(rows_seg, np.arange(n_seg))  # each segment's first row (rows by segment)
        # state (G, L) and weights (G, L) by level side by side: both folded in one pass (each column on its own)
        level_index = np.arange(n_levels)
        by_kind = np.concatenate([np.where(levels["state"][:, None] == level_index, state_bytes[:, None], 0.0),
                                  np.where(levels["weights"][:, None] == level_index, weight_bytes[:, None], 0.0)],
                                 axis=1)
        folded = fold_runs(by_kind, row_starts)  # (S, 2L)
        state_sum = folded[:, :n_levels]
        used = _engines_used(seg, engine, fleet.engine_names, n_seg)
        first_name = np.cumsum([0] + [len(d.layout.names) for d in devices[:-1]])  # each device's in note_names
        engines = np.empty(n_seg, dtype=object)
        engines[:] = used
        made = cls(stack, devices, fleet, seg_device, engine, peak_row, act_level,
                   np.maximum.reduceat(peak_row, first), np.minimum.reduceat(peak_row, first), starts, kernel_bounds,
                   overhead, overhead_sum, rows_peak, ops, weight_bytes, state_bytes, activations, levels, np.append(row_starts, len(ops)),
                   fleet.bandwidth[seg_device], fleet.capacity[seg_device],
                   devices[0].layout.spill_to if len(devices) == 1 else np.full(n_levels, NO_LEVEL),
                   by_kind[:, n_levels:], folded[:, n_levels:], act_peak, state_sum, act_peak + state_sum,
                   np.diff(kernel_bounds), tuple(name for d in devices for name in d.layout.names),
                   first_name[seg_device][:, None] + level_index, used, engines)
        # shared by every run of this layout (and by its stack): none may change them
        _read_only([getattr(made, f.name) for f in dataclasses.fields(made)] + list(levels.values()))
        return made


def _read_only(values: Sequence[object]) -> None:
    """Make the numpy arrays among ``values`` read-only (others are left as they are)."""
    for value in values:
        if isinstance(value, np.ndarray):
            value.setflags(write=False)


def _layout(stack: Stack, devices: tuple[Device, ...], seg_device: np.ndarray, fuse: bool, grouped: bool,
            remember: bool = True) -> _Layout:
    """:meth:`_Layout.of`, remembered (when ``remember``) per stack object and devices (:meth:`Stack.of` gives a
    sweep that runs again on the same networks the same stack; devices come from :meth:`Device.remembered`)."""
    if not remember:
        return _Layout.of(stack, devices, seg_device, fuse, grouped)
    key = (tuple(map(id, devices)), seg_device.tobytes(), fuse, grouped)  # the layout holds the devices
    hit = _layouts.get(stack, key)
    return hit if hit is not None else _layouts.put(stack, key, _Layout.of(stack, devices, seg_device, fuse, grouped))


@dataclass(frozen=True, eq=False)
class _Combined:
    """The part of :func:`evaluate_devices` before any batch size, for its combinable ``devices``: per device the
    placement errors of each network (:func:`_placement_errors`), which networks it runs (``masks`` (S,) bool, and
    their ``counts``), and the layout of those on every device, end to end (None when no device runs any)."""

    devices: tuple[Device, ...]
    errors: tuple[tuple[Exception | None, ...], ...]
    masks: tuple[np.ndarray, ...]
    counts: tuple[int, ...]
    layout: _Layout | None

    @property
    def rows(self) -> int:
        """Rows of its layout."""
        return 0 if self.layout is None else len(self.layout.engine)


def _combined(stack: Stack, devices: tuple[Device, ...], traffic: TrafficModel, fuse: bool,
              grouped: bool) -> _Combined:
    """:class:`_Combined` for ``stack`` on ``devices``, remembered per stack object and devices (as
    :func:`_layout`)."""
    key = (tuple(map(id, devices)), traffic.moves_activations, fuse, grouped)  # what the errors and layout depend on
    hit = _combinations.get(stack, key)
    if hit is not None:
        return hit
    errors = tuple(tuple(_placement_errors(stack, device, traffic)[0]) for device in devices)
    masks = tuple(np.array([e is None for e in errs], dtype=bool) for errs in errors)
    counts = tuple(int(m.sum()) for m in masks)
    layout = None
    if sum(counts):
        joined = Stack.concat([stack if m.all() else stack.take(m) for m in masks])
        layout = _Layout.of(joined, devices, np.repeat(np.arange(len(devices), dtype=np.int64), counts), fuse, grouped)
    return _combinations.put(stack, key, _Combined(devices, errors, masks, counts, layout))


_stacks: IdentityMemo[Stack] = IdentityMemo(LAYOUT_CACHE_ROWS, weight=lambda stack: len(stack.ops))
_layouts: IdentityMemo[_Layout] = IdentityMemo(LAYOUT_CACHE_ROWS, weight=lambda layout: len(layout.engine))
_combinations: IdentityMemo[_Combined] = IdentityMemo(LAYOUT_CACHE_ROWS, weight=lambda combined: combined.rows)


def _run_stacked(layout: _Layout, b: np.ndarray, mode: str, traffic: TrafficModel, with_layers: bool,
                 work: int) -> _Run:
    """The roofline of every segment of ``layout`` on its device at each batch size of ``b`` (B,)."""
    stack, devices = layout.stack, layout.devices
    n_seg, n_levels = len(stack.networks), layout.bandwidth.shape[1]
    single = len(b) == 1
    sizes = np.repeat(b, 2) if single else b  # as evaluating one network: rows summed in order (kept: column 0)
    frames = sizes.astype(np.float64)
    ops, rows_peak, levels = layout.ops, layout.rows_peak, layout.levels
    state_bytes, activations, bandwidth, overhead_sum = (layout.state_bytes, layout.activations, layout.bandwidth,
                                                         layout.overhead_sum)
    resident = _residency(layout, frames)
    compiled = mode == "layer" and not with_layers and _compiled.available(
        max(len(ops) * len(frames) * n_levels, work), "layer")
    if compiled and type(traffic) in (WeightsOnly, WeightsAndActivations):
        # the compiled kernel adds state and activations itself: the same sums without a (G, B, L) array
        moved = resident.weights
        added = (state_bytes, levels["state"], activations,
                 levels["activations"] if traffic.moves_activations else np.full(len(ops), -1))
    else:
        row_traffic = RowTraffic(resident.weights, activations, levels["activations"], state_bytes, levels["state"],
                                 levels["on_chip"], levels["on_chip_capacity"], frames)
        moved, added = traffic.moved_bytes(row_traffic), None  # (G, B, L)
    row_bounds, starts, kernel_bounds = layout.row_bounds, layout.starts, layout.kernel_bounds
    row_starts = row_bounds[:-1]
    kernel_times = None
    if mode == "network":
        ops_rows = ops[:, None] * frames[None, :]  # (G, B)
        compute = ops_rows / rows_peak[:, None]
        ops_total, compute_total = fold_runs(ops_rows, row_starts), fold_runs(compute, row_starts)
        moved_total = fold_runs(moved, row_starts)  # (S, B, L)
        peak = _effective_peak(ops_total, compute_total, layout.peak_max, layout.peak_min)
        whole = roofline_times(ops_total.reshape(-1), moved_total.reshape(-1, n_levels), peak.reshape(-1),
                               bandwidth[0] if len(devices) == 1 else np.repeat(bandwidth, len(frames), axis=0))
        time_s = whole.time_s.reshape(n_seg, -1) + overhead_sum[:, None]
        bound = whole.bound.reshape(n_seg, -1)
        optimistic_s = time_s
        pessimistic_s = whole.pessimistic_s.reshape(n_seg, -1) + overhead_sum[:, None]
    else:
        arguments = (ops, rows_peak, moved, frames, row_bounds, starts, kernel_bounds, layout.overhead, bandwidth)
        if compiled:
            ops_total, compute_total, moved_total, time_s, pessimistic_s, bound = _compiled.layer_totals(
                *arguments, added=added)
        else:
            totals = layer_totals(*arguments, with_kernels=with_layers)
            ops_total, compute_total, moved_total, time_s, pessimistic_s, bound, kernel_times = totals
        peak = _effective_peak(ops_total, compute_total, layout.peak_max, layout.peak_min)
        slowest_s = moved_total[:, :, 0] / bandwidth[:, None, 0]  # the slowest level, level by level
        for level in range(1, n_levels):
            np.maximum(slowest_s, moved_total[:, :, level] / bandwidth[:, None, level], out=slowest_s)
        optimistic_s = np.maximum(compute_total, slowest_s) + overhead_sum[:, None]
        pessimistic_s = pessimistic_s + overhead_sum[:, None]
    keep = slice(0, 1) if single else slice(None)
    time_s, bound, ops_total, moved_total = time_s[:, keep], bound[:, keep], ops_total[:, keep], moved_total[:, keep]
    peak, optimistic_s, pessimistic_s = peak[:, keep], optimistic_s[:, keep], pessimistic_s[:, keep]
    fits = resident.fits[:, keep]
    n_b = len(b)
    empty, beyond = (time_s <= 0).any(axis=1).tolist(), (~np.isfinite(time_s)).any(axis=1).tolist()
    errors = tuple(SpecError(f"{counted.spec.name} has no ops and moves no bytes at {counted.precision.label}; "
                             "nothing to predict") if no_time else out_of_range(counted, b) if overflow else None
                   for counted, no_time, overflow in zip(stack.networks, empty, beyond))
    # the levels summed in level order: what ndarray.sum over this axis gives for fewer than 9 levels, at a fraction
    # of its time (its inner loop runs over only L elements)
    bytes_batch = moved_total[:, :, 0].copy()
    for level in range(1, n_levels):
        bytes_batch += moved_total[:, :, level]
    with np.errstate(divide="ignore", invalid="ignore"):  # only where a network has no time (an error, above)
        intensity = np.where(bytes_batch > 0, ops_total / bytes_batch, np.inf)
        numbers = {"fps": b / time_s, "latency_s": time_s, "ops": ops_total / b, "bytes": bytes_batch / b,
                   "operational_intensity": intensity, "attainable_ops_per_s": ops_total / time_s,
                   "peak_ops_per_s": peak, "latency_optimistic_s": optimistic_s,
                   "latency_pessimistic_s": pessimistic_s}
    layers = None
    if with_layers and n_seg == 1 and not stack.networks[0].is_aggregate and single:
        from rooflinekit.roofline.predictor import _layer_frame

        device, engine = devices[0], layout.engine
        placement = Placement(device.engine_names, engine, layout.peak_row, device.overhead_s[engine],
                              device.levels["weights"][engine], layout.act_level, device.levels["state"][engine],
                              device.levels["on_chip"][engine], device.levels["on_chip_capacity"][engine])
        layers = _layer_frame(stack.networks[0], placement, starts, kernel_times, list(device.labels), int(b[0]),
                              mode)
    # per segment, the same at every batch size: read-only views
    return _Run(errors, numbers, bound + 1, fits, np.broadcast_to(layout.kernels[:, None], (n_seg, n_b)),
                np.broadcast_to(layout.engines[:, None], (n_seg, n_b)), _engine_batches(b, layout.used),
                _notes(resident, n_seg, len(sizes), n_b), layers)


def out_of_range(counted: CountedNetwork, batches: np.ndarray) -> SpecError:
    """The error of a network whose time at some batch size is not a finite number: its ops or bytes per batch
    (per-frame counts x ``batches``) pass float64's range (about 1.8e308), so every figure would be NaN or inf."""
    return SpecError(f"{counted.spec.name} at {counted.precision.label}, batch up to {int(batches.max())}: its ops "
                     f"({counted.ops.sum():.3g} per frame) or bytes per batch pass the float64 range (about 1.8e308), "
                     "so the prediction would be NaN; check the spec's counts or use a smaller batch")


def _notes(resident: _Residency, n_seg: int, width: int, n_b: int) -> NoteRows:
    """The notes of S segments x ``n_b`` batch sizes from residency's (S segments x ``width`` batch sizes: the
    duplicate of a single batch size left out): spills, then misfits, of each."""
    n = n_seg * n_b
    sources = [notes for notes in (resident.spills, resident.misfits) if notes is not None and notes.any()]
    if not sources:
        return NoteRows((), np.full(n, EMPTY, dtype=np.int32), np.zeros(n, dtype=np.int64))
    columns = (np.arange(n_seg)[:, None] * width + np.arange(n_b)).reshape(-1)
    return NoteRows((sources[0] if len(sources) == 1 else JoinedNotes(tuple(sources)),), np.zeros(n, dtype=np.int32),
                    columns)


def _effective_peak(ops_total: np.ndarray, compute_total: np.ndarray, peak_max: np.ndarray,
                    peak_min: np.ndarray) -> np.ndarray:
    """(S, B) ops/s: ``sum ops / sum (ops / peak)``, or the segment's largest row peak ``peak_max`` (S,) where it
    has no ops or where every row has that peak (``peak_min`` (S,) equal to it: the quotient would round it, 26e12
    to 25999999999999.996)."""
    computes = compute_total > 0
    effective = ops_total / np.where(computes, compute_total, 1.0)
    return np.where(computes & (peak_min != peak_max)[:, None], effective, peak_max[:, None])


class LayerTotals(NamedTuple):
    """Layer mode's sums over each network's rows and kernels, (S, B) (``moved_total`` (S, B, L)); with
    ``kernel_times`` (each (K, B): time with overhead, bound code, compute s, slowest memory s) when asked for."""

    ops_total: np.ndarray
    compute_total: np.ndarray
    moved_total: np.ndarray
    time_s: np.ndarray  # sum over kernels of max(compute, memory) + overhead
    pessimistic_s: np.ndarray  # sum over kernels of compute + every level's memory time, without overheads
    bound: np.ndarray  # int: the code accounting for most of the time
    kernel_times: tuple[np.ndarray, ...] | None = None


def layer_totals(ops: np.ndarray, peak: np.ndarray, moved: np.ndarray, frames: np.ndarray, row_bounds: np.ndarray,
                 starts: np.ndarray, kernel_bounds: np.ndarray, overhead_s: np.ndarray, bandwidth: np.ndarray,
                 with_kernels: bool = False) -> LayerTotals:
    """The roofline of each kernel (a run of rows) and the sums per network, for layer mode.

    Parameters
    ----------
    ops, peak : (G,) ops per frame and ops/s of each row.
    moved : (G, B, L) bytes each row moves at each level for each batch size.
    frames : (B,) frames per batch.
    row_bounds : (S + 1,) first row of each network (and G).
    starts : (K,) first row of each kernel; ``kernel_bounds`` (S + 1,) first kernel of each network (and K).
    overhead_s : (K,) s added to each kernel; ``bandwidth`` (S, L) bytes/s of each network's levels.

    Each kernel's ops and ops / peak are summed over its rows, its peak is their ratio and it goes through
    :func:`~rooflinekit.roofline.roofline_times`. Every sum runs in row (kernel) order
    (:func:`~rooflinekit.roofline.core.fold_runs`); the compiled twin
    (:func:`rooflinekit.roofline._compiled.layer_totals`) performs the same operations in the same order.
    """
    ops_rows = ops[:, None] * frames[None, :]  # (G, B)
    compute = ops_rows / peak[:, None]
    row_starts = row_bounds[:-1]
    ops_total, compute_total = fold_runs(ops_rows, row_starts), fold_runs(compute, row_starts)
    moved_total = fold_runs(moved, row_starts)
    ops_k, compute_k = fold_runs(ops_rows, starts), fold_runs(compute, starts)
    moved_k = fold_runs(moved, starts)  # (K, B, L)
    peak_k = np.where(compute_k > 0, ops_k / np.where(compute_k > 0, compute_k, 1.0), 1.0)
    k, n = ops_k.shape
    shared = bool((bandwidth == bandwidth[:1]).all())
    rows_bandwidth = bandwidth[0] if shared else np.repeat(
        bandwidth[np.repeat(np.arange(len(bandwidth)), np.diff(kernel_bounds))], n, axis=0)
    times = roofline_times(ops_k.reshape(-1), moved_k.reshape(k * n, -1), peak_k.reshape(-1), rows_bandwidth)
    time_k = times.time_s.reshape(k, n) + overhead_s[:, None]
    bound_k = times.bound.reshape(k, n)
    segment_kernels = kernel_bounds[:-1]
    kernel_times = None
    if with_kernels:
        kernel_times = (time_k, bound_k, times.compute_s.reshape(k, n), times.memory_s.max(axis=1).reshape(k, n))
    return LayerTotals(ops_total, compute_total, moved_total, fold_runs(time_k, segment_kernels),
                       fold_runs(times.pessimistic_s.reshape(k, n), segment_kernels),
                       dominant_bounds(time_k, bound_k, segment_kernels, moved.shape[2]), kernel_times)


def _engines_used(seg: np.ndarray, engine: np.ndarray, names: tuple[str, ...],
                  n_seg: int) -> list[tuple[str, ...]]:
    """Per segment, the names of the engines its rows run on, in order of first use."""
    if len(names) == 1:
        return [names] * n_seg
    heads = np.searchsorted(seg, np.arange(n_seg))  # each segment's first row (rows by segment)
    if len(seg) and (seg[np.minimum(heads, len(seg) - 1)] == np.arange(n_seg)).all():  # no segment without rows
        head_engine = engine[heads]
        if (engine == head_engine[seg]).all():  # each network on one engine (single-engine devices)
            return [(names[e],) for e in head_engine.tolist()]
    _, first = np.unique(seg * len(names) + engine, return_index=True)
    first = np.sort(first)
    used: list[list[str]] = [[] for _ in range(n_seg)]
    for s, e in zip(seg[first].tolist(), engine[first].tolist()):
        used[s].append(names[e])
    return [tuple(u) for u in used]


def _engine_batches(b: np.ndarray, used: list[tuple[str, ...]]) -> np.ndarray:
    """(S, B) object: ``(size,) * engines`` for each segment's engines and each batch size (a read-only view of
    one row when every segment runs on as many engines)."""
    counts = [len(u) for u in used]
    sizes = b.tolist()
    distinct = sorted(set(counts))
    table = np.fromiter(((size,) * c for c in distinct for size in sizes), dtype=object,
                        count=len(distinct) * len(sizes)).reshape(len(distinct), len(sizes))
    if len(distinct) == 1:
        return np.broadcast_to(table, (len(counts), len(sizes)))
    out: np.ndarray = table[np.searchsorted(np.array(distinct), counts)]
    return out


@dataclass(frozen=True, eq=False)
class _Residency:
    weights: np.ndarray  # (G, B, L) weight bytes read per batch from each level (a read-only view without spills)
    fits: np.ndarray  # (S, B)
    spills: CapacityNotes | None  # column = segment * B + batch index; None without spill levels
    misfits: MisfitNotes  # the same columns


def _residency(layout: _Layout, b: np.ndarray) -> _Residency:
    """:func:`~rooflinekit.roofline.capacity.residency` of the G rows of ``layout``'s S segments at the frames
    ``b`` (B,), each segment its own network with its own level capacities: spills fill each network's levels in
    its layer order, misfits are per network and batch size. The notes name levels by their index into
    ``layout.note_names`` (spills happen on a device run alone, whose own level indices those are)."""
    starts, weight_bytes, capacity, spill_to = (layout.row_bounds[:-1], layout.weight_bytes, layout.capacity,
                                                layout.spill_to)
    act_peak, state_sum, by_level = layout.act_peak, layout.state_sum, layout.weights_by_level
    n_rows, n_levels, n_b, n_seg = len(weight_bytes), capacity.shape[1], len(b), len(starts)
    weights_level = layout.levels["weights"]
    spills = [level for level, target in enumerate(spill_to.tolist()) if target != NO_LEVEL]
    # level-major (S, L, B): elementwise steps over the B batch sizes in one run each, not L at a time
    others_by_level = b[None, None, :] * layout.per_frame[:, :, None]  # (S, L, B)
    parts: list[dict[str, np.ndarray]] = []
    if not spills:  # the same weights at every batch size: one view, their sums taken once (the same additions)
        weights = np.broadcast_to(by_level[:, None, :], (n_rows, n_b, n_levels))
        segment_weights = layout.segment_weights  # (S, L)
        weights_total = np.broadcast_to(segment_weights[:, None, :], (n_seg, n_b, n_levels))
    else:
        weights = np.repeat(by_level[:, None, :], n_b, axis=1)
        seg = np.repeat(np.arange(n_seg), np.diff(layout.row_bounds))  # each row's segment
        position = np.arange(n_rows) - starts[seg]  # row index within its segment
    for level in spills:
        target = spill_to[level]
        mine = weights_level == level
        placed = weight_bytes * mine
        padded = np.zeros((n_seg, int(position.max(initial=-1)) + 1))
        padded[seg, position] = placed
        before = np.cumsum(padded, axis=1)[seg, position] - placed  # weights placed earlier in its network
        budget = np.maximum(capacity[:, level, None] - others_by_level[:, level, :], 0.0)  # (S, B)
        kept = np.clip(budget[seg] - before[:, None], 0.0, weight_bytes[:, None]) * mine[:, None]
        streamed = weight_bytes[:, None] * mine[:, None] - kept
        weights[:, :, level] = np.where(mine[:, None], kept, weights[:, :, level])
        weights[:, :, target] += streamed
        total_streamed = fold_runs(streamed, starts).reshape(-1)  # (S * B,)
        held = fold_runs(np.where(mine, weight_bytes, 0.0), starts)
        columns = np.flatnonzero(total_streamed > 0)
        parts.append(note_entries(SPILL, columns, np.full(len(columns), level), np.full(len(columns), target),
                              held[columns // n_b], budget.reshape(-1)[columns], total_streamed[columns],
                              np.zeros(len(columns)), np.zeros(len(columns)), b[columns % n_b]))
    if spills:
        weights_total = fold_runs(weights, starts)  # (S, B, L)
    resident = weights_total.transpose(0, 2, 1) + others_by_level  # (S, L, B)
    over = resident > capacity[:, :, None] * (1 + 1e-12)
    # without spills the weights are the same at every batch size: a view (no (S, L, B) copy)
    weights_read = (weights_total.transpose(0, 2, 1) if spills
                    else np.broadcast_to(segment_weights[:, :, None], (n_seg, n_levels, n_b)))
    misfits = MisfitNotes(layout.note_names, over, capacity, weights_read, act_peak, state_sum, layout.per_frame,
                          layout.note_level, b)
    return _Residency(weights, ~over.any(axis=1), CapacityNotes.concat(layout.note_names, parts) if parts else None,
                      misfits)

