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

from rooflinekit.roofline.engines import NO_LEVEL, MemoryLayout, Placement
from rooflinekit.roofline.workload import CountedNetwork


@dataclass(frozen=True, eq=False)
class Residency:
    """Weights per level after spilling, and the capacity verdict, for B batch sizes."""

    weights_by_level: np.ndarray  # (R, B, L) weight bytes read per batch from each level
    spilled_bytes: np.ndarray  # (B,) weight bytes streamed from a spill level
    fits: np.ndarray  # (B,) bool
    notes: tuple[tuple[str, ...], ...]  # per batch size: misfits and spills, in words


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
    levels = np.arange(n_levels)
    if activation_peak_bytes is None:
        act_peak = activation_peaks(counted, placement, n_levels)
    else:
        act_peak = np.asarray(activation_peak_bytes, dtype=np.float64)
    state_sum = np.array([counted.state_bytes[placement.state_level == l].sum() for l in levels])
    others = b[:, None] * (act_peak + state_sum)[None, :]  # (B, L)
    capacity = np.broadcast_to(layout.capacity_bytes if capacity_bytes is None else capacity_bytes,
                               (len(b), n_levels))
    weights = np.zeros((n_rows, len(b), n_levels))
    rows = np.arange(n_rows)
    weights[rows, :, placement.weights_level] = counted.weight_bytes[:, None]
    spilled = np.zeros(len(b))
    notes: dict[int, list[str]] = {}
    for level in np.flatnonzero(layout.spill_to != NO_LEVEL):
        target = layout.spill_to[level]
        mine = placement.weights_level == level
        before = np.cumsum(counted.weight_bytes * mine) - counted.weight_bytes * mine  # weights placed earlier
        budget = np.maximum(capacity[:, level] - others[:, level], 0.0)  # (B,)
        kept = np.clip(budget[None, :] - before[:, None], 0.0, counted.weight_bytes[:, None]) * mine[:, None]
        streamed = counted.weight_bytes[:, None] * mine[:, None] - kept
        weights[:, :, level] = np.where(mine[:, None], kept, weights[:, :, level])
        weights[:, :, target] += streamed
        total_streamed = streamed.sum(axis=0)
        spilled += total_streamed
        for i in np.flatnonzero(total_streamed > 0):
            notes.setdefault(int(i), []).append(
                f"weights {_size(counted.weight_bytes[mine].sum())} exceed the {_size(budget[i])} of "
                f"{layout.names[level]} left for them: {_size(total_streamed[i])} streamed from "
                f"{layout.names[target]} every batch")
    resident = weights.sum(axis=0) + others  # (B, L)
    over = resident > capacity * (1 + 1e-12)
    for i, level in zip(*(axis.tolist() for axis in np.nonzero(over))):
        parts = [f"{role} {_size(amount)}" for role, amount in (
            ("weights", weights[:, i, level].sum()), ("activations", b[i] * act_peak[level]),
            ("state", b[i] * state_sum[level])) if amount > 0]
        notes.setdefault(int(i), []).append(
            f"does not fit: {layout.names[level]} must hold {_size(resident[i, level])} "
            f"({' + '.join(parts)} at batch {int(b[i])}) but has {_size(capacity[i, level])}")
    per_batch: list[tuple[str, ...]] = [()] * len(b)
    for column, lines in notes.items():
        per_batch[column] = tuple(lines)
    return Residency(weights, spilled, ~over.any(axis=1), tuple(per_batch))


def activation_peaks(counted: CountedNetwork, placement: Placement, n_levels: int) -> np.ndarray:
    """(L,) bytes per frame: the largest single row's inputs plus outputs among the rows whose activations live
    in each level (0 where none do)."""
    activations = np.nan_to_num(counted.activation_bytes)  # an aggregate spec's activations are unknown
    return np.array([activations[placement.activations_level == l].max(initial=0.0) for l in range(n_levels)])


def _size(nbytes: float) -> str:
    """Bytes with a decimal prefix: ``25.6 MB``."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {prefix}B"
    return f"{nbytes:.3g} B"
