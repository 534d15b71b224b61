"""Hardware-grid axes that cannot change any predicted time under a traffic assumption.

The rule follows from where the roofline reads each number of a grid point (:mod:`~rooflinekit.roofline.capacity`,
:mod:`~rooflinekit.roofline.traffic`, :func:`~rooflinekit.roofline.predictor.evaluate_grid`), in either mode
(``network`` and ``layer`` add up the same bytes per level differently, never move them elsewhere):

- a level's **bandwidth** divides the bytes moved through that level, ``t_l = bytes_l / bandwidth_l``: it counts
  only at a level the traffic model moves bytes through;
- a level's **capacity** changes the bytes moved in two places only: the engine's weights level, when it spills
  (``spill_to``), keeps the weights that fit and streams the rest from its spill level, under every traffic
  model; and a traffic model with a per-row threshold reads the capacity of the largest on-chip level the engine
  reaches (``on_chip_if_fits``: a row whose working set fits moves it all there). Elsewhere it only decides
  ``fits`` (and the note of a level holding more than it can), when the level holds any of the network's tensors;
- peaks and ``clock_scale`` divide the ops (a peak axis of a type no row computes in is warned of per network by
  the sweep); ``tdp_w`` enters no time by design (it is carried for throughput per watt).

Where a traffic model moves bytes, and whether it reads the on-chip capacity, is asked of the model itself
(:func:`traffic_reach`), so that the rule holds for every model, built in or not. Every model moves the state
(KV cache, RNN state) of a network that keeps some; of the sweep's networks only whether any does is read
(:func:`keeps_state`), so that the bandwidth of the level holding the activations and state counts under
``weights_only`` exactly when some network keeps state.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.descriptors import AggregateNetwork, HardwareSpec, LayerNetwork
from rooflinekit.errors import RooflineWarning
from rooflinekit.roofline.engines import NO_LEVEL, EngineLevels
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.traffic import TRAFFIC_MODELS, RowTraffic, TrafficModel, traffic_model
from rooflinekit.roofline.workload import CountedNetwork

BANDWIDTH = "bandwidth_bytes_per_s"
CAPACITY = "capacity_bytes"


@dataclass(frozen=True)
class Roles:
    """The memory levels (indices into the template's ``memories``) of a single-engine template's engine:
    ``weights``, the level its weights spill to (``spill``, :data:`~rooflinekit.roofline.engines.NO_LEVEL` for
    none), ``activations``, ``state`` (with the activations when no level it reaches stores state: then
    ``own_state`` is False) and the largest on-chip level it reaches (``on_chip``, ``NO_LEVEL`` for none)."""

    weights: int
    spill: int
    activations: int
    state: int
    own_state: bool
    on_chip: int

    @classmethod
    def of(cls, template: HardwareSpec) -> "Roles":
        """The roles of ``template``'s (first) engine, as :func:`~rooflinekit.roofline.engines.place` places rows."""
        engine = template.compute_engines[0]
        levels = EngineLevels.of(template, engine)
        spill_to = template.memories[levels.weights].spill_to
        names = [m.name for m in template.memories]
        own_state = any("state" in m.stores for m in template.reachable_memories(engine))
        return cls(levels.weights, names.index(spill_to) if spill_to is not None else NO_LEVEL, levels.activations,
                   levels.state, own_state, levels.on_chip)

    def held(self, level: int) -> list[str]:
        """The tensors resident in ``level`` (``weights``, ``spilled weights``, ``activations``, ``state``)."""
        roles = [("weights", self.weights), ("spilled weights", self.spill), ("activations", self.activations),
                 ("state", self.state if self.own_state else NO_LEVEL)]
        return [name for name, at in roles if at == level]


@dataclass(frozen=True)
class TrafficReach:
    """What a traffic model does on a placement: the levels it can move bytes through, (L,) bool, and whether the
    capacity of the on-chip level changes what it moves."""

    moves: np.ndarray
    reads_on_chip_capacity: bool


def traffic_reach(model: TrafficModel, roles: Roles, n_levels: int, state: bool = True) -> TrafficReach:
    """Ask ``model`` what it moves for one row of one byte of weights (and one byte spilled, when the weights level
    spills), activations and state (none without ``state``) per frame, one frame per batch, placed at ``roles``:
    once with no room on chip and once with unlimited room.

    Parameters
    ----------
    model : the traffic model.
    roles : the levels of the engine's tensors.
    n_levels : L, the template's memory levels.
    state : whether the rows keep state.

    Returns
    -------
    TrafficReach
        ``moves[l]`` True where either run moves bytes through level ``l``; ``reads_on_chip_capacity`` True when the
        two runs differ (the model has a threshold on the on-chip capacity).
    """
    weights = np.zeros((1, 1, n_levels))
    weights[0, 0, roles.weights] = 1.0
    if roles.spill != NO_LEVEL:
        weights[0, 0, roles.spill] = 1.0

    def moved(capacity: float) -> np.ndarray:
        rows = RowTraffic(weights, np.ones(1), np.array([roles.activations]), np.full(1, float(state)),
                          np.array([roles.state]), np.array([roles.on_chip]), np.array([capacity]), np.ones(1))
        bytes_moved: np.ndarray = model.moved_bytes(rows)[0, 0]
        return bytes_moved

    none, unlimited = moved(0.0), moved(math.inf)
    return TrafficReach((none > 0) | (unlimited > 0), not np.array_equal(none, unlimited))


def live_levels(reach: TrafficReach, roles: Roles) -> dict[str, frozenset[int]]:
    """The levels whose bandwidth (:data:`BANDWIDTH`) and whose capacity (:data:`CAPACITY`) can change a predicted
    time under the traffic model of ``reach`` (see the module docstring)."""
    capacity = {roles.weights} if roles.spill != NO_LEVEL else set()
    if reach.reads_on_chip_capacity and roles.on_chip != NO_LEVEL:
        capacity.add(roles.on_chip)
    return {BANDWIDTH: frozenset(np.flatnonzero(reach.moves).tolist()), CAPACITY: frozenset(capacity)}


def keeps_state(network: object) -> bool:
    """Whether ``network`` (a :class:`~rooflinekit.roofline.CountedNetwork` or a network spec) keeps state across
    steps: counted state bytes, or a layer with ``state`` tensors. True for anything else (the state is not known:
    the state level's bandwidth then counts)."""
    if isinstance(network, CountedNetwork):
        return bool(network.state_bytes.any())
    if isinstance(network, AggregateNetwork):
        return False
    if isinstance(network, LayerNetwork):
        return any(layer.state for layer in network.layers)
    return True


def inert_axes(grid: HardwareGrid, traffic: TrafficModel | str, state: bool = True) -> dict[str, str]:
    """The bandwidth and capacity axes of ``grid`` that cannot change any predicted time or byte count under
    ``traffic`` (in either mode), each with why and what would make it count.

    Parameters
    ----------
    grid : the hardware grid.
    traffic : the sweep's traffic model or its name.
    state : whether any network swept keeps state (:func:`keeps_state`).

    Returns
    -------
    dict
        ``{axis name: reason}`` in grid order; empty when every axis can change a result. Along an axis listed,
        every row of a network is the same but for ``fits`` (and its capacity note), which a capacity axis of a
        level holding the network's tensors still decides.

    Raises :class:`~rooflinekit.errors.SpecError` for an unknown traffic name.
    """
    model = traffic_model(traffic)
    template = grid.template
    names = [m.name for m in template.memories]
    roles = Roles.of(template)
    models = {**TRAFFIC_MODELS, model.name: model}
    reach = {name: traffic_reach(m, roles, len(names), state) for name, m in models.items()}
    live = {name: live_levels(r, roles) for name, r in reach.items()}
    out: dict[str, str] = {}
    for axis in grid.axes:
        kind, _, level_name = axis.partition(".")
        level = names.index(level_name) if kind in (BANDWIDTH, CAPACITY) else NO_LEVEL
        if level == NO_LEVEL or level in live[model.name][kind]:
            continue
        others = " or ".join(repr(name) for name in models if level in live[name][kind])
        held = " and ".join(roles.held(level))
        if kind == BANDWIDTH:
            out[axis] = (f"no byte moves through {level_name} under traffic {model.name!r}"
                         + (f" (it holds the {held})" if held else "")
                         + (f"; traffic {others} moves bytes through it" if others else
                            "; no traffic assumption moves bytes through it, as none of the engine's tensors lives "
                            "there: give it a role (stores) or drop the axis"))
            continue
        on_chip = " or ".join(repr(name) for name, r in reach.items() if r.reads_on_chip_capacity)
        out[axis] = (f"{level_name}'s capacity changes no byte moved under traffic {model.name!r}"
                     + (f", only fits (whether the {held} fit)" if held else ", nor fits: nothing is stored there")
                     + (f"; under traffic {others} it decides which rows keep their bytes on chip" if others else
                        "; a capacity moves bytes only at a weights level that spills (spill_to)"
                        + (f" and, under traffic {on_chip}, at the largest on-chip level the engine reaches "
                           f"({names[roles.on_chip]})" if on_chip and roles.on_chip != NO_LEVEL else "")))
    return out


def warn_inert_axes(hardware: Iterable[object], traffic: TrafficModel | str, networks: Iterable[object]) -> None:
    """Warn once (:class:`~rooflinekit.errors.RooflineWarning`) naming every axis of the grids among ``hardware``
    that cannot change any predicted time of ``networks`` under ``traffic`` (:func:`inert_axes`), with the traffic
    assumption and what would make each axis count; silent when there is none.

    Parameters
    ----------
    hardware : a sweep's hardware (specs and grids; only the grids are read).
    traffic : the sweep's traffic model or its name.
    networks : the sweep's networks (specs or counted networks; only whether any keeps state is read).

    Raises :class:`~rooflinekit.errors.SpecError` for an unknown traffic name when ``hardware`` holds a grid.
    """
    grids = [h for h in hardware if isinstance(h, HardwareGrid)]
    if not grids:
        return
    name = traffic_model(traffic).name
    verdicts = [(grid, inert_axes(grid, traffic, False), inert_axes(grid, traffic, True)) for grid in grids]
    # the networks are read only when their state could matter (a sweep may hold many thousands)
    state = any(without != with_state for _, without, with_state in verdicts) and any(map(keeps_state, networks))
    parts = [f"grid on {grid.template.name}: " + "; ".join(f"{axis}: {why}" for axis, why in found.items())
             for grid, without, with_state in verdicts if (found := with_state if state else without)]
    if parts:
        warnings.warn(f"under traffic {name!r}, hardware grid axes that cannot change any predicted time (rows along "
                      f"them are equal, but for fits): {' | '.join(parts)}", RooflineWarning,
                      stacklevel=caller_stacklevel())
