"""Placing a counted network's rows on a device's compute engines, and its tensor roles in memory levels.

The result is plain numbers for the numpy core (no pydantic past this module):

- :class:`MemoryLayout`: per memory level its bandwidth, capacity, whether it is on chip and the level it spills
  weights to.
- :class:`Placement`: per row the engine that runs it, that engine's peak for the row's data type and its
  overhead per kernel, and the levels holding the row's weights, activations and state (for the engine that runs
  it, see :meth:`~rooflinekit.descriptors.HardwareSpec.memory_for`), and the largest on-chip level it reaches.

Engine choice (the ``op_class`` policy, also used for one engine of a ``batch_split`` device): the first engine
in the spec's order that runs the row's op class and has a peak for its compute data type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rooflinekit.descriptors import ComputeEngine, DType, HardwareSpec
from rooflinekit.descriptors.hardware import bounding_dtype
from rooflinekit.display import listed
from rooflinekit.errors import SpecError
from rooflinekit.roofline.workload import CountedNetwork

NO_LEVEL = -1


@dataclass(frozen=True, eq=False)
class MemoryLayout:
    """Plain-number view of a hardware's L memory levels."""

    names: tuple[str, ...]
    bandwidth_bytes_per_s: np.ndarray  # (L,)
    capacity_bytes: np.ndarray  # (L,)
    on_chip: np.ndarray  # (L,) bool
    spill_to: np.ndarray  # (L,) int level index, NO_LEVEL for none

    @classmethod
    def of(cls, hardware: HardwareSpec) -> "MemoryLayout":
        """The memory levels of ``hardware`` in its spec's order."""
        names = tuple(m.name for m in hardware.memories)
        return cls(
            names=names,
            bandwidth_bytes_per_s=np.array([m.bandwidth_bytes_per_s for m in hardware.memories]),
            capacity_bytes=np.array([m.capacity_bytes for m in hardware.memories]),
            on_chip=np.array([m.on_chip for m in hardware.memories], dtype=bool),
            spill_to=np.array([names.index(m.spill_to) if m.spill_to else NO_LEVEL for m in hardware.memories]),
        )


@dataclass(frozen=True, eq=False)
class Placement:
    """Where each of R rows runs and where its tensors live, on one hardware."""

    engine_names: tuple[str, ...]  # the device's engines
    engine: np.ndarray  # (R,) index into engine_names
    peak_ops_per_s: np.ndarray  # (R,)
    kernel_overhead_s: np.ndarray  # (R,) seconds per kernel of the row's engine
    weights_level: np.ndarray  # (R,) level index
    activations_level: np.ndarray  # (R,)
    state_level: np.ndarray  # (R,)
    on_chip_level: np.ndarray  # (R,) the largest on-chip level the engine reaches, NO_LEVEL for none
    on_chip_capacity_bytes: np.ndarray  # (R,) 0 where there is none


def engines_running_all(counted: CountedNetwork, hardware: HardwareSpec) -> list[int]:
    """Indices of the engines of ``hardware`` that can run every row of ``counted`` on their own."""
    pairs = counted.class_dtype_pairs
    return [i for i, engine in enumerate(hardware.compute_engines)
            if all(engine.runs(c or None, DType(d)) for c, d in pairs)]



def place(counted: CountedNetwork, hardware: HardwareSpec, allowed: Sequence[int] | None = None) -> Placement:
    """Place every row of ``counted`` on an engine of ``hardware`` (``allowed``: engine indices, None for all).

    Raises :class:`~rooflinekit.errors.PrecisionError` when no engine of the device has a peak for a row's data
    type, and :class:`~rooflinekit.errors.SpecError` when the engines with that type do not run its op class.
    """
    engines = hardware.compute_engines
    candidates = list(range(len(engines))) if allowed is None else list(allowed)
    pairs = counted.class_dtype_pairs  # few; rows take theirs by index
    choice = np.array([choose_engine(hardware, engines, candidates, *key) for key in pairs], dtype=np.int64)
    pair_peak = np.array([engines[e].peak_for(DType(d)) for e, (_, d) in zip(choice, pairs)],
                         dtype=np.float64)
    row_pair = counted.row_pair
    engine = choice[row_pair]
    per_engine = [EngineLevels.of(hardware, e) for e in engines]

    def column(field: str) -> np.ndarray:
        values: np.ndarray = np.array([getattr(levels, field) for levels in per_engine])[engine]
        return values

    return Placement(
        engine_names=tuple(e.name for e in engines), engine=engine, peak_ops_per_s=pair_peak[row_pair],
        kernel_overhead_s=np.array([e.kernel_overhead_s for e in engines], dtype=np.float64)[engine],
        weights_level=column("weights"), activations_level=column("activations"), state_level=column("state"),
        on_chip_level=column("on_chip"), on_chip_capacity_bytes=column("on_chip_capacity").astype(np.float64),
    )


SHOWN_LAYERS = 3
"""Layers a note or hint names before it counts the rest (:func:`computing`)."""


def computing(names: Sequence[str]) -> str:
    """``layer Equal_0 computes`` or ``layers a, b, c and 2 more compute``: the subject of a note or hint about the
    layers ``names`` (at least one)."""
    one = len(names) == 1
    return f"{'layer' if one else 'layers'} {listed(names, SHOWN_LAYERS)} compute{'s' if one else ''}"


def integer_bound_note(counted: CountedNetwork, hardware: HardwareSpec) -> str | None:
    """The note of a prediction whose layers compute in an integer type ``hardware`` has no peak for, costed at
    its fp32 peak (:func:`~rooflinekit.descriptors.hardware.bounding_dtype`), naming the layers; None when there
    are none.

    ``layer Equal_0 computes in int64, which the device has no peak for: costed at its fp32 peak, which bounds
    32- and 64-bit integer arithmetic (the same lanes, no faster)`` (the device unnamed: a grid point's note
    is its template's).
    """
    native = hardware.peak_ops_per_s
    bounded = {dtype for _, dtype in counted.class_dtype_pairs
               if DType(dtype) not in native and bounding_dtype(DType(dtype), native) is not None}
    if not bounded:
        return None
    types = " and ".join(sorted(bounded))
    layers = counted.layers_computing_in(bounded)
    who = computing(layers) if layers else f"{counted.label} computes"  # none: totals only, the network's own type
    return (f"{who} in {types}, which the device has no peak for: costed at its fp32 peak, which bounds 32- and "
            "64-bit integer arithmetic (the same lanes, no faster)")


def choose_engine(hardware: HardwareSpec, engines: tuple[ComputeEngine, ...], candidates: list[int], op_class: str,
                  dtype_name: str) -> int:
    """The first of ``candidates`` (indices into ``engines``) that runs ``op_class`` layers in ``dtype_name``.

    Raises :class:`~rooflinekit.errors.PrecisionError` when no candidate has a peak for the data type, and
    :class:`~rooflinekit.errors.SpecError` when those that have one do not run the op class.
    """
    dtype = DType(dtype_name)
    for index in candidates:
        if engines[index].runs(op_class or None, dtype):
            return index
    if not any(bounding_dtype(dtype, engines[i].peak_ops_per_s) is not None for i in candidates):
        hardware.peak(dtype)  # raises PrecisionError naming the types the device supports
        names = ", ".join(engines[i].name for i in candidates)
        raise SpecError(f"{hardware.name}: engines {names} have no native {dtype.value} peak")
    offers = "; ".join(f"{engines[i].name} runs {', '.join(engines[i].op_classes) or 'every class'}"
                       for i in candidates)
    raise SpecError(f"{hardware.name}: no engine runs {op_class or 'unclassified'} layers in {dtype.value} "
                    f"({offers}); add the class to an engine's op_classes")


@dataclass(frozen=True)
class EngineLevels:
    """The memory levels (indices into the spec's ``memories``) holding one engine's weights, activations and
    state, the largest on-chip level it reaches (:data:`NO_LEVEL` for none) and that level's capacity in bytes."""

    weights: int
    activations: int
    state: int
    on_chip: int
    on_chip_capacity: float

    @classmethod
    def of(cls, hardware: HardwareSpec, engine: ComputeEngine) -> "EngineLevels":
        levels = list(hardware.memories)
        on_chip = hardware.largest_on_chip(engine)
        return cls(
            weights=levels.index(hardware.memory_for("weights", engine)),
            activations=levels.index(hardware.memory_for("activations", engine)),
            state=levels.index(hardware.memory_for("state", engine)),
            on_chip=levels.index(on_chip) if on_chip is not None else NO_LEVEL,
            on_chip_capacity=on_chip.capacity_bytes if on_chip is not None else 0.0,
        )
