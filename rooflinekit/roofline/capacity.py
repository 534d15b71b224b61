"""Memory capacity: what is resident in each memory level, weight spilling, and misfits.

For a batch of b frames, the bytes resident in level l are

    weights_l     = weights placed in l that fit (all of them, unless l spills)
    activations_l = b * max over rows whose activations live in l of (inputs + outputs per frame)
    state_l       = b * sum over rows whose state lives in l of (state bytes per frame)

(the activation term is the largest single layer's working set: a lower bound on any runtime's arena).
A level with ``spill_to`` keeps the weights that fit in ``capacity - activations_l - state_l``, filled in layer
order as an Edge TPU compiler caches parameters, and the rest stay in the spill level and are streamed from it
once per batch. Any level whose resident bytes exceed its capacity is a **misfit**: the prediction says so with
both sizes (``fits`` False, a note) and is otherwise made as if the memory were large enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rooflinekit.roofline.core import fold
from rooflinekit.roofline.engines import NO_LEVEL, MemoryLayout, Placement
from rooflinekit.roofline.notes import MISFIT, SPILL, CapacityNotes
from rooflinekit.roofline.workload import CountedNetwork


@dataclass(frozen=True, eq=False)
class Residency:
    """Weights per level after spilling, and the capacity verdict, for B batch sizes."""

    weights_by_level: np.ndarray  # (R, B, L) weight bytes read per batch from each level
    spilled_bytes: np.ndarray  # (B,) weight bytes streamed from a spill level
    fits: np.ndarray  # (B,) bool
    capacity_notes: CapacityNotes  # misfits and spills of each batch size, formatted when read

    @property
    def notes(self) -> tuple[tuple[str, ...], ...]:
        """Per batch size, the misfits and spills in words."""
        return tuple(self.capacity_notes.lines(np.arange(len(self.fits))))


def residency(counted: CountedNetwork, placement: Placement, layout: MemoryLayout,
              batches: np.ndarray, activation_peak_bytes: np.ndarray | None = None,
              capacity_bytes: np.ndarray | None = None) -> Residency:
    """Resident bytes per level for each batch size in ``batches`` (B,), with spills and misfits.

    ``activation_peak_bytes`` (L,), bytes per frame: the largest single layer's activations per level, when
    ``counted`` holds rows merged from several layers (their summed activations are no working set); None
    computes it from ``counted``'s rows. ``capacity_bytes`` (B, L), bytes: each column's own capacities (a
    hardware grid); None uses ``layout``'s.
    """
    n_rows, n_levels, b = len(counted.ops), len(layout.names), np.asarray(batches, dtype=np.float64)
    if activation_peak_bytes is None:
        act_peak = activation_peaks(counted, placement, n_levels)
    else:
        act_peak = np.asarray(activation_peak_bytes, dtype=np.float64)
    # sums over rows run in row order (as the stacked evaluation of many networks sums them, :mod:`.stacked`)
    state_sum = fold(counted.state_bytes, placement.state_level, n_levels)
    others = b[:, None] * (act_peak + state_sum)[None, :]  # (B, L)
    capacity = np.broadcast_to(layout.capacity_bytes if capacity_bytes is None else capacity_bytes,
                               (len(b), n_levels))
    weights = np.zeros((n_rows, len(b), n_levels))
    rows = np.arange(n_rows)
    weights[rows, :, placement.weights_level] = counted.weight_bytes[:, None]
    spilled = np.zeros(len(b))
    parts: list[dict[str, np.ndarray]] = []
    for level in [l for l, target in enumerate(layout.spill_to.tolist()) if target != NO_LEVEL]:
        target = layout.spill_to[level]
        mine = placement.weights_level == level
        before = np.cumsum(counted.weight_bytes * mine) - counted.weight_bytes * mine  # weights placed earlier
        budget = np.maximum(capacity[:, level] - others[:, level], 0.0)  # (B,)
        kept = np.clip(budget[None, :] - before[:, None], 0.0, counted.weight_bytes[:, None]) * mine[:, None]
        streamed = counted.weight_bytes[:, None] * mine[:, None] - kept
        weights[:, :, level] = np.where(mine[:, None], kept, weights[:, :, level])
        weights[:, :, target] += streamed
        total_streamed = streamed.sum(axis=0)
        held = fold(counted.weight_bytes[mine], np.zeros(int(mine.sum()), np.int64), 1)[0]
        spilled += total_streamed
        columns = np.flatnonzero(total_streamed > 0)
        parts.append(note_entries(SPILL, columns, np.full(len(columns), level), np.full(len(columns), target),
                              np.full(len(columns), held), budget[columns],
                              total_streamed[columns], np.zeros(len(columns)), np.zeros(len(columns)), b[columns]))
    weights_sum = weights.sum(axis=0)  # (B, L)
    resident = weights_sum + others
    over = resident > capacity * (1 + 1e-12)
    column, level_of = np.nonzero(over)
    if weights_sum.size > 1:  # numpy added the rows one after another (an outer axis): fold's sums
        misfit_weights = weights_sum[column, level_of]
    else:  # one column of one level, which numpy sums pairwise
        misfit_weights = fold(weights[:, column, level_of], np.zeros(n_rows, np.int64), 1)[0]
    parts.append(note_entries(MISFIT, column, level_of, np.full(len(column), NO_LEVEL), resident[column, level_of],
                          capacity[column, level_of], misfit_weights,
                          b[column] * act_peak[level_of], b[column] * state_sum[level_of], b[column]))
    return Residency(weights, spilled, ~over.any(axis=1), CapacityNotes.concat(layout.names, parts))


def note_entries(kind: int, column: np.ndarray, level: np.ndarray, target: np.ndarray, held: np.ndarray,
             capacity: np.ndarray, weights: np.ndarray, activations: np.ndarray, state: np.ndarray,
             batch: np.ndarray) -> dict[str, np.ndarray]:
    """One part of :class:`~rooflinekit.roofline.notes.CapacityNotes` (M notes of one kind), bytes as float64."""
    return {"column": column.astype(np.int64, copy=False), "kind": np.full(len(column), kind, dtype=np.int8),
            "level": level.astype(np.int64, copy=False), "target": target.astype(np.int64, copy=False),
            "held": held.astype(np.float64, copy=False), "capacity": capacity.astype(np.float64, copy=False),
            "weights": weights.astype(np.float64, copy=False),
            "activations": activations.astype(np.float64, copy=False), "state": state.astype(np.float64, copy=False),
            "batch": batch.astype(np.int64, copy=False)}


def activation_peaks(counted: CountedNetwork, placement: Placement, n_levels: int) -> np.ndarray:
    """(L,) bytes per frame: the largest single row's inputs plus outputs among the rows whose activations live
    in each level (0 where none do)."""
    activations = counted.known_activation_bytes  # an aggregate spec's activations are unknown
    return np.array([activations[placement.activations_level == l].max(initial=0.0) for l in range(n_levels)])
