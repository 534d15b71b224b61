"""The roofline of one LLM phase on one device, per kernel, at many KV lengths at once.

A phase is a counted per-device network (:class:`~rooflinekit.roofline.CountedNetwork`) put through the pieces of
the ordinary predictor: rows placed on the device's engine and memory levels
(:func:`~rooflinekit.roofline.place`), bytes moved per batch by a traffic model
(:class:`~rooflinekit.roofline.TrafficModel`: weights once per batch, state -- the KV cache -- per sequence,
activations if the model moves them), and the roofline core (:func:`~rooflinekit.roofline.roofline_times`) per
kernel, as the predictor's layer mode does::

    t_phase = sum_k max(ops_k / peak_k, max_l bytes_kl / bandwidth_l) + kernel overheads

Kernels are the layers with the fusible ones folded into their producer (the predictor's rule); no kernel spans
two pipeline stages. On top of the counted state each attention row writes the new tokens' K (scores row) or V
(context row) into the cache: ``B x S x Hkv x D x bytes(kv)`` per block each (``min(S, W)`` tokens in a block
with a sliding window W, whose cache keeps the last W), at the level holding state.

**Decode at many contexts.** Every cost of a decode step is affine in the KV length ``t`` (attention MACs
``B Hq t D``, the cache read ``2 B t Hkv D bytes`` per block, the score tensors), so the network is counted at two
lengths ``t_a < t_b`` and each kernel's ops, compute time and bytes are ``x(t) = x(t_a) + (t - t_a) x'``, with the
slope from the two counts. This is exact for traffic models linear in the tensors they move (``row_separable``:
``weights_only``, ``weights_and_activations``); a model with a per-row threshold (``on_chip_if_fits``) is
refused. A block with a sliding window ``W`` reads ``min(t, W)`` keys: its kernels are evaluated at
``min(t, W)`` (``kv_window``), so a model alternating windowed and global blocks (Gemma-2) is costed per block
at any context ``t``.

**Sums over the steps of a generation** are closed-form (:meth:`KernelCosts.step_sums`): each kernel's time
``max(compute(t), memory_l(t)) + overhead`` is a maximum of affine functions of ``min(t, W)``, so it is affine
between its window and the lengths where two of them cross, and over a run of ``n`` consecutive steps without such
a point the sum is the arithmetic series ``n x t_step(middle)`` (:func:`series_points`). A generation of G tokens
costs a few hundred evaluations instead of G - 1 (16.8 M steps: 0.07 s instead of about 3 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import SpecError
from rooflinekit.roofline import COMPUTE_BOUND, CountedNetwork, MemoryLayout, RowTraffic, TrafficModel, place
from rooflinekit.roofline import roofline_times

_CHUNK_ELEMENTS = 1 << 21
"""Kernel x context cells evaluated at once (bounds the memory of long generations)."""


@dataclass(frozen=True, eq=False)
class PhaseTimes:
    """A phase's roofline at C KV lengths.

    Attributes
    ----------
    time_s : (C,) ndarray
        Time of one pass (a prefill, or one decode step), s, without communication.
    time_by_bound_s : (len(labels), C) ndarray
        That time split by the bound of each kernel: row 0 compute-bound kernels, row ``1 + l`` kernels bound by
        memory level ``l``.
    labels : tuple of str
        ``("compute", "memory:<level>", ...)``.
    """

    time_s: np.ndarray
    time_by_bound_s: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class KernelCosts:
    """Per-kernel costs of a phase on one device, affine in the KV length ``t``: ``x(t) = x0 + (t - t0) x1``.

    Attributes
    ----------
    t0 : float
        The KV length of the ``*0`` values (tokens).
    ops0, ops1 : (K,) ndarray
        Ops per batch and their slope per KV token.
    compute0, compute1 : (K,) ndarray
        ``sum_rows ops / peak`` (s) and its slope.
    moved0, moved1 : (K, L) ndarray
        Bytes per batch moved at each memory level, and their slope.
    overhead_s : (K,) ndarray
        Fixed time per kernel (the engine's ``kernel_overhead_s``).
    starts : (K,) ndarray
        First row of each kernel.
    bandwidth_bytes_per_s : (L,) ndarray
        Bandwidth of each level.
    labels : tuple of str
        Bound labels: ``compute`` then ``memory:<level>`` per level.
    rows : pandas.DataFrame
        The counted rows (name, op, ...) at ``t0``, for the per-layer table.
    row_ops0, row_ops1 : (R,) ndarray
        Ops per batch per row and slope.
    row_bytes0, row_bytes1 : (R,) ndarray
        Bytes per batch per row (all levels) and slope.
    row_window : (R,) ndarray
        KV window of each row (tokens; ``inf``: none): the row's costs follow ``min(t, window)``.
    window : (K,) ndarray
        KV window of each kernel: that of its rows whose costs grow with ``t`` (the attention rows of one block).
    """

    t0: float
    ops0: np.ndarray
    ops1: np.ndarray
    compute0: np.ndarray
    compute1: np.ndarray
    moved0: np.ndarray
    moved1: np.ndarray
    overhead_s: np.ndarray
    starts: np.ndarray
    bandwidth_bytes_per_s: np.ndarray
    labels: tuple[str, ...]
    rows: pd.DataFrame
    row_ops0: np.ndarray
    row_ops1: np.ndarray
    row_bytes0: np.ndarray
    row_bytes1: np.ndarray
    row_window: np.ndarray
    window: np.ndarray

    def _at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ops (K, C), compute s (K, C) and bytes (K, C, L) at KV lengths ``t`` (C,), each kernel at
        ``min(t, window)``."""
        dt = np.minimum(np.asarray(t, dtype=np.float64)[None, :], self.window[:, None]) - self.t0
        ops = self.ops0[:, None] + self.ops1[:, None] * dt
        compute = self.compute0[:, None] + self.compute1[:, None] * dt
        moved = self.moved0[:, None, :] + self.moved1[:, None, :] * dt[:, :, None]
        return ops, compute, moved

    def kernel_times(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each kernel's time (s) and bound code (``COMPUTE_BOUND`` or a level index), both (K, C), at ``t``."""
        ops, compute, moved = self._at(t)
        k, c = ops.shape
        peak = np.where(compute > 0, ops / np.where(compute > 0, compute, 1.0), 1.0)
        times = roofline_times(ops.ravel(), moved.reshape(k * c, -1), peak.ravel(), self.bandwidth_bytes_per_s)
        return times.time_s.reshape(k, c) + self.overhead_s[:, None], times.bound.reshape(k, c)

    def times(self, t: np.ndarray | list[float]) -> PhaseTimes:
        """The phase's time and its split by bound at each KV length in ``t`` (C,), in column chunks."""
        t = np.asarray(t, dtype=np.float64)
        n_labels = len(self.labels)
        total, by_bound = np.zeros(len(t)), np.zeros((n_labels, len(t)))
        step = max(1, _CHUNK_ELEMENTS // max(1, len(self.ops0) * len(self.bandwidth_bytes_per_s)))
        for start in range(0, len(t), step):
            part = slice(start, start + step)
            time_k, bound_k = self.kernel_times(t[part])
            total[part] = time_k.sum(axis=0)
            for code in range(n_labels):  # label 0 is compute, label 1 + l memory level l
                bound = COMPUTE_BOUND if code == 0 else code - 1
                by_bound[code, part] = np.where(bound_k == bound, time_k, 0.0).sum(axis=0)
        return PhaseTimes(total, by_bound, self.labels)

    def breakpoints(self) -> np.ndarray:
        """KV lengths (tokens, unsorted, possibly repeated) where a kernel's time may change slope: each kernel's
        window, and the lengths where two of its affine parts cross (its compute time and a level's memory time, or
        two levels' memory times). Between two consecutive ones every kernel time is affine in ``t``."""
        lines_a = np.concatenate((self.compute0[:, None], self.moved0 / self.bandwidth_bytes_per_s), axis=1)
        lines_b = np.concatenate((self.compute1[:, None], self.moved1 / self.bandwidth_bytes_per_s), axis=1)
        first, second = np.triu_indices(lines_a.shape[1], k=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossings = self.t0 + (lines_a[:, second] - lines_a[:, first]) / (lines_b[:, first] - lines_b[:, second])
        candidates: np.ndarray = np.concatenate((crossings.ravel(), self.window))
        finite: np.ndarray = candidates[np.isfinite(candidates)]
        return finite

    def step_sums(self, steps: range) -> PhaseTimes:
        """The phase's time and its split by bound summed over the KV lengths in ``steps`` (consecutive tokens:
        the decode steps of a generation), in closed form: one column holding the sums.

        Each kernel time is affine in ``t`` between :meth:`breakpoints`, so over a run of ``n`` whole lengths
        without a breakpoint inside it the sum is an arithmetic series, ``n`` times the time at the run's middle
        (:func:`series_points`): the cost is that of a few hundred evaluations, not one per step, and equals the
        step-by-step sum up to rounding."""
        points, weights = series_points(steps, self.breakpoints())
        at = self.times(points)
        return PhaseTimes(np.array([at.time_s @ weights]), (at.time_by_bound_s @ weights)[:, None], self.labels)

    def layer_table(self, t: float, phase: str, stage_of_row: np.ndarray) -> pd.DataFrame:
        """One row per layer at KV length ``t``: name, op, stage, ops and bytes per batch, the kernel's time on
        its first layer (0 on the layers fused into it) and its bound (``fused:<first layer>`` on those)."""
        time_k, bound_k = (x[:, 0] for x in self.kernel_times(np.array([t])))
        n = len(self.rows)
        kernel_of = np.repeat(np.arange(len(self.starts)), np.diff(np.append(self.starts, n)))
        names = self.rows["name"].to_numpy()
        first = np.zeros(n, dtype=bool)
        first[self.starts] = True
        dt = np.minimum(t, self.row_window) - self.t0
        return pd.DataFrame({
            "phase": phase, "name": names, "op": self.rows["op"].to_numpy(), "stage": stage_of_row,
            "ops": self.row_ops0 + self.row_ops1 * dt, "bytes": self.row_bytes0 + self.row_bytes1 * dt,
            "time_s": np.where(first, time_k[kernel_of], 0.0),
            "bound": [self.labels[int(bound_k[k]) + 1] if is_first else f"fused:{names[self.starts[k]]}"
                      for k, is_first in zip(kernel_of, first)],
        })


def series_points(steps: range, breakpoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights that sum a function piecewise affine between ``breakpoints`` over the whole numbers in
    ``steps`` (step 1): ``sum_{t in steps} f(t) = sum_j weights_j f(points_j)``.

    The points are the ends of ``steps`` and the whole numbers either side of each breakpoint inside it, with
    weight 1, and the middle of each run of ``n > 0`` whole numbers strictly between two consecutive such ends,
    with weight ``n``: no breakpoint lies inside such a run, so ``f`` is affine on it and its sum there is the
    arithmetic series ``n x f(middle)``. Empty ``steps``: no points.
    """
    if steps.step != 1:
        raise SpecError(f"series_points sums over consecutive whole numbers, got a range of step {steps.step}")
    if not steps:
        return np.zeros(0), np.zeros(0)
    first, last = float(steps.start), float(steps.stop - 1)
    inside = breakpoints[(breakpoints > first) & (breakpoints < last)]
    ends = np.unique(np.concatenate(([first, last], np.floor(inside), np.ceil(inside))))
    between = np.diff(ends) - 1.0
    runs = between > 0
    points = np.concatenate((ends, ((ends[:-1] + ends[1:]) / 2.0)[runs]))
    weights = np.concatenate((np.ones(len(ends)), between[runs]))
    return points, weights


def kernel_costs(counted: CountedNetwork, hardware: HardwareSpec, traffic: TrafficModel, batch: int,
                 kv_write_bytes: np.ndarray, stage_of_row: np.ndarray, t_a: float,
                 counted_b: CountedNetwork | None = None, kv_write_bytes_b: np.ndarray | None = None,
                 t_b: float | None = None, weight_read_fraction: np.ndarray | None = None,
                 kv_window: np.ndarray | None = None) -> KernelCosts:
    """The kernels of ``counted`` on ``hardware`` for a batch of ``batch`` sequences.

    Parameters
    ----------
    counted : CountedNetwork
        The per-device network at KV length ``t_a`` (R rows).
    hardware : HardwareSpec
        One device.
    traffic : TrafficModel
        What moves (``row_separable`` models only when ``counted_b`` is given).
    batch : int
        Sequences B.
    kv_write_bytes : (R,) ndarray
        Bytes per sequence each row writes into the KV cache (the new tokens' K or V).
    stage_of_row : (R,) ndarray
        Pipeline stage of each row; kernels never span two stages.
    t_a : float
        KV length of ``counted`` (tokens).
    counted_b, kv_write_bytes_b, t_b : optional
        The same network at a second KV length ``t_b``; without it the costs do not depend on ``t``.
    weight_read_fraction : (R,) ndarray, optional
        Share of each row's weights read per batch (MoE experts a step's tokens do not route to are not read);
        default all of them.
    kv_window : (R,) ndarray, optional
        Sliding window of each row's block (tokens; ``inf`` for none): its costs at KV length ``t`` are those at
        ``min(t, window)``. Default: no window (``t`` is then the KV length itself).

    Returns
    -------
    KernelCosts

    Raises
    ------
    SpecError
        A traffic model that is not linear in the tensors (with ``counted_b``).
    PrecisionError
        The device has no peak for a row's compute type.
    """
    if counted_b is not None and not traffic.row_separable:
        raise SpecError(f"traffic {traffic.name!r} decides per layer whether it fits on chip, so decode costs are "
                        "not linear in the context; use 'weights_only' or 'weights_and_activations'")
    placement = place(counted, hardware)
    layout = MemoryLayout.of(hardware)
    stage = np.asarray(stage_of_row)
    link = counted.fuses_into_previous & (placement.engine == np.roll(placement.engine, 1)) & (
        stage == np.roll(stage, 1))
    link[0] = False
    starts = np.flatnonzero(~link)
    read = np.ones(len(counted.ops)) if weight_read_fraction is None else np.asarray(weight_read_fraction)

    def per_row(c: CountedNetwork, kv_write: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        link_in = np.where(link, c.link_bytes, 0.0)
        activations = np.nan_to_num(c.activation_bytes) - link_in - np.append(link_in[1:], 0.0)
        weights = np.zeros((len(c.ops), 1, len(layout.names)))
        weights[np.arange(len(c.ops)), 0, placement.weights_level] = c.weight_bytes * read
        moved = traffic.moved_bytes(RowTraffic(
            weights, activations, placement.activations_level, c.state_bytes + kv_write, placement.state_level,
            placement.on_chip_level, placement.on_chip_capacity_bytes, np.array([float(batch)])))[:, 0, :]
        return c.ops * batch, moved

    ops_a, moved_a = per_row(counted, kv_write_bytes)
    if counted_b is None or t_b is None:
        ops_s, moved_s = np.zeros_like(ops_a), np.zeros_like(moved_a)
    else:
        ops_b, moved_b = per_row(counted_b, kv_write_bytes if kv_write_bytes_b is None else kv_write_bytes_b)
        ops_s, moved_s = (ops_b - ops_a) / (t_b - t_a), (moved_b - moved_a) / (t_b - t_a)
    peak = placement.peak_ops_per_s
    row_window = np.full(len(ops_a), np.inf) if kv_window is None else np.asarray(kv_window, dtype=np.float64)
    grows = (ops_s != 0) | (moved_s != 0).any(axis=1)

    def kernels(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts, axis=0)

    return KernelCosts(
        t0=float(t_a), ops0=kernels(ops_a), ops1=kernels(ops_s), compute0=kernels(ops_a / peak),
        compute1=kernels(ops_s / peak), moved0=kernels(moved_a), moved1=kernels(moved_s),
        overhead_s=placement.kernel_overhead_s[starts], starts=starts,
        bandwidth_bytes_per_s=layout.bandwidth_bytes_per_s,
        labels=("compute", *(f"memory:{name}" for name in layout.names)), rows=counted.layers,
        row_ops0=ops_a, row_ops1=ops_s, row_bytes0=moved_a.sum(axis=1), row_bytes1=moved_s.sum(axis=1),
        row_window=row_window, window=np.minimum.reduceat(np.where(grows, row_window, np.inf), starts),
    )

