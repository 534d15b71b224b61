"""Memory-traffic models: what each row moves per batch, and from which memory level.

A traffic model is an object with one method, :meth:`TrafficModel.moved_bytes`, from a row's per-frame costs
and placement to the bytes it moves at each level for each batch size. Every model moves

- the **weights** once per batch, from the levels that hold them (spilled weights from their spill level, see
  :mod:`rooflinekit.roofline.capacity`);
- the **state** (KV cache, RNN state) of every frame, ``b * state_bytes``, at the level that holds state;

and they differ in the activations:

- ``weights_only`` (QuTiBench level 0): activations stay on chip and move nothing.
- ``weights_and_activations``: every row reads its inputs and writes its outputs, ``b * activation_bytes``, at
  the level holding its activations (MCUs: weights from flash, activations in SRAM).
- ``on_chip_if_fits``: as ``weights_and_activations``, except that a row whose working set
  ``weights + b * (activations + state)`` fits the largest on-chip level its engine reaches moves all of it
  there and nothing elsewhere.

A new assumption is one subclass registered in :data:`TRAFFIC_MODELS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from rooflinekit.errors import SpecError
from rooflinekit.roofline.engines import NO_LEVEL


@dataclass(frozen=True, eq=False)
class RowTraffic:
    """What R rows can move, for B batch sizes over L levels (arrays only)."""

    weights_by_level: np.ndarray  # (R, B, L) weight bytes per batch (may be a read-only view: copy to change it)
    activation_bytes: np.ndarray  # (R,) per frame
    activations_level: np.ndarray  # (R,)
    state_bytes: np.ndarray  # (R,) per frame
    state_level: np.ndarray  # (R,)
    on_chip_level: np.ndarray  # (R,) NO_LEVEL for none
    on_chip_capacity_bytes: np.ndarray  # (R,), or (R, B) when each column has its own (a hardware grid)
    batches: np.ndarray  # (B,) frames per batch


class TrafficModel(ABC):
    """A memory-traffic assumption: bytes moved per batch by each row at each memory level."""

    name: str = ""
    moves_activations: bool = False
    row_separable: bool = False
    """True when a row's bytes are a fixed function of its own weights, activations and state per level (no
    per-row threshold), so that rows placed alike can be summed into one before the model runs: network mode then
    runs on a handful of rows instead of every layer. Leave False for a model with a per-row decision."""

    @abstractmethod
    def moved_bytes(self, rows: RowTraffic) -> np.ndarray:
        """Bytes moved per batch, shape (R, B, L)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @staticmethod
    def _weights_and_state(rows: RowTraffic) -> np.ndarray:
        moved = rows.weights_by_level.copy()
        r = np.arange(len(rows.state_bytes))
        moved[r, :, rows.state_level] += rows.state_bytes[:, None] * rows.batches[None, :]
        return moved


class WeightsOnly(TrafficModel):
    """Weights once per batch and state per frame; activations stay on chip (QuTiBench level 0)."""

    name = "weights_only"
    row_separable = True

    def moved_bytes(self, rows: RowTraffic) -> np.ndarray:
        return self._weights_and_state(rows)


class WeightsAndActivations(TrafficModel):
    """Also every row's inputs and outputs, per frame, at its activation level."""

    name = "weights_and_activations"
    moves_activations = True
    row_separable = True

    def moved_bytes(self, rows: RowTraffic) -> np.ndarray:
        moved = self._weights_and_state(rows)
        r = np.arange(len(rows.activation_bytes))
        moved[r, :, rows.activations_level] += rows.activation_bytes[:, None] * rows.batches[None, :]
        return moved


class OnChipIfFits(WeightsAndActivations):
    """As weights_and_activations, but a row whose working set fits on chip moves it all there."""

    name = "on_chip_if_fits"
    row_separable = False

    def moved_bytes(self, rows: RowTraffic) -> np.ndarray:
        moved = super().moved_bytes(rows)
        working_set = moved.sum(axis=2)  # (R, B)
        capacity = rows.on_chip_capacity_bytes
        capacity = capacity[:, None] if capacity.ndim == 1 else capacity
        fits = (rows.on_chip_level[:, None] != NO_LEVEL) & (working_set <= capacity)
        r, b = np.nonzero(fits)
        moved[r, b, :] = 0.0
        moved[r, b, rows.on_chip_level[r]] = working_set[r, b]
        return moved


TRAFFIC_MODELS: dict[str, TrafficModel] = {m.name: m for m in (WeightsOnly(), WeightsAndActivations(),
                                                                 OnChipIfFits())}
"""The built-in traffic models by name."""


def traffic_model(value: "str | TrafficModel") -> TrafficModel:
    """The traffic model called ``value`` (or ``value`` itself when it is a model)."""
    if isinstance(value, TrafficModel):
        return value
    model = TRAFFIC_MODELS.get(str(value))
    if model is None:
        raise SpecError(f"unknown traffic assumption {value!r}; use one of {', '.join(TRAFFIC_MODELS)}")
    return model
