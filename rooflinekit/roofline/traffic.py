"""Memory-traffic assumptions: what a layer or network moves, and where.

- ``weights_only`` (QuTiBench level 0): weights are read once per batch from the level that stores them;
  activations stay on chip.
- ``weights_and_activations``: as above, plus every layer reads its inputs and writes its outputs at the level
  that stores activations (MCUs: weights from flash, activations in SRAM).
- ``on_chip_if_fits``: a layer whose working set (weights + activations of the batch) fits the largest on-chip
  level moves it there and nothing off-chip; other layers as ``weights_and_activations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import SpecError


class Traffic(str, Enum):
    WEIGHTS_ONLY = "weights_only"
    WEIGHTS_AND_ACTIVATIONS = "weights_and_activations"
    ON_CHIP_IF_FITS = "on_chip_if_fits"

    @classmethod
    def parse(cls, value: "str | Traffic") -> "Traffic":
        try:
            return cls(value)
        except ValueError:
            raise SpecError(
                f"unknown traffic assumption {value!r}; use one of {', '.join(t.value for t in cls)}"
            ) from None


@dataclass(frozen=True)
class MemoryLayout:
    """Plain-number view of a hardware's memory levels for the numpy core."""

    names: tuple[str, ...]
    bandwidth_bytes_per_s: tuple[float, ...]
    weights_level: int
    activations_level: int
    on_chip_level: int  # -1: none
    on_chip_capacity_bytes: float

    @classmethod
    def of(cls, hardware: HardwareSpec) -> "MemoryLayout":
        levels = list(hardware.memories)
        on_chip = hardware.largest_on_chip
        return cls(
            names=tuple(m.name for m in levels),
            bandwidth_bytes_per_s=tuple(m.bandwidth_bytes_per_s for m in levels),
            weights_level=levels.index(hardware.memory_for("weights")),
            activations_level=levels.index(hardware.memory_for("activations")),
            on_chip_level=levels.index(on_chip) if on_chip is not None else -1,
            on_chip_capacity_bytes=on_chip.capacity_bytes if on_chip is not None else 0.0,
        )
