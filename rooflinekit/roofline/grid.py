"""Parametric hardware grids: one spec template and value ranges, expanded lazily inside the roofline kernel.

A :class:`HardwareGrid` is a single-engine :class:`~rooflinekit.descriptors.HardwareSpec` (the template: a
top-level ``peak_ops_per_s``, or exactly one engine under ``engines``, whose op classes, reachable memories and
``kernel_overhead_s`` every point keeps) and up to five kinds of axes, each a list of values or a range
``(start, stop, "log" | "lin", n)`` (``n`` points, both ends included; ``log`` spaces them evenly in log10):

- ``peak_ops_per_s``: ``{dtype: values}``, ops/s: the peak of that data type (the type must be a template peak);
- ``bandwidth_bytes_per_s``: ``{level: values}``, bytes/s: the bandwidth of that memory level;
- ``capacity_bytes``: ``{level: values}``, bytes: the capacity of that memory level;
- ``clock_scale``: values, dimensionless: every peak (given by an axis or the template's) times this factor
  (``clock_hz`` too, when the template has one); the per-kernel overhead does not scale;
- ``tdp_w``: values, W: the thermal design power of the point (``clock_scale`` does not scale it). No roofline
  number reads it: it is the point's ``tdp_w`` and the sweep's ``tdp_w`` column, so that throughput per watt,
  ``fps / tdp_w`` (frames/s/W), can be explored across power budgets. Every value must be at least the
  template's ``idle_power_w`` (when it has one).

The grid is the Cartesian product of the axes in that order (peaks by data type in the order given, then
bandwidths, capacities, clock, TDP), the last axis varying fastest: point ``i`` is ``numpy.unravel_index(i,
shape)``. Nothing is built per point: :func:`~rooflinekit.roofline.sweep` places a network once on the template
and evaluates a chunk of points as columns of arrays. :meth:`HardwareGrid.spec` builds the explicit spec of one
point (named ``<template>[i]``), which predicts exactly what the grid does at ``i``. A network swept at its own
precision whose type has no peak on the template is predicted at the template's ``default_precision`` (when it
has one), as :func:`rooflinekit.api.predict` does on a spec; the note saying so names the template.

Placement depends only on which data types an engine has and which levels store which roles, which no axis
changes; the on-chip level a row may use (``on_chip_if_fits``) is the largest one its engine reaches, so
capacity axes must keep the template's largest on-chip level the largest at every point (else a
:class:`~rooflinekit.errors.SpecError`). Under some traffic assumptions an axis cannot change any predicted time
(a bandwidth no byte moves through, a capacity that only decides ``fits``):
:mod:`~rooflinekit.roofline.inert_axes` finds them and :func:`rooflinekit.api.sweep` warns of them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Hashable, Mapping, Sequence, TypeVar, Union

import numpy as np

from rooflinekit._limits import shown
from rooflinekit.descriptors import DType, HardwareSpec
from rooflinekit.errors import SpecError

Made = TypeVar("Made")

AxisValues = Union[Sequence[float], np.ndarray, tuple[float, float, str, int]]
"""A list of values, or a range ``(start, stop, "log" | "lin", n)``."""

MAX_AXIS_POINTS = 10**7
"""Most points a range ``(start, stop, "log" | "lin", n)`` expands to (its values are held as one float64 array:
80 MB at this limit). A larger design space spreads its points over several axes (a grid has the product of
their sizes) and is streamed with ``sweep(..., reduce=...)``."""


def axis_values(name: str, spec: AxisValues) -> np.ndarray:
    """The values of one axis (a list, or a range ``(start, stop, "log" | "lin", n)``) as a float64 array.

    Raises :class:`~rooflinekit.errors.SpecError` for an empty axis, a malformed range, a range of more than
    :data:`MAX_AXIS_POINTS` points, nested values (a list of lists or a 2-D array: not flattened, which would hide
    the mistake) or a value that is not a finite positive number.
    """
    if isinstance(spec, (tuple, list)) and len(spec) == 4 and isinstance(spec[2], str):
        start, stop, scale, n = spec
        if scale not in ("log", "lin") or isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SpecError(f"grid axis {name}: range {list(spec)!r} must be [start, stop, 'log' or 'lin', n] with "
                            "n a positive integer")
        if n > MAX_AXIS_POINTS:
            raise SpecError(f"grid axis {name}: a range of {int(n):,} points is more than one axis may hold "
                            f"({MAX_AXIS_POINTS:,}, MAX_AXIS_POINTS); use fewer points, spread them over several "
                            "axes (a grid has the product of their sizes) and stream a large grid with "
                            "sweep(..., reduce=...)")
        try:
            low, high = float(start), float(stop)
        except (TypeError, ValueError):
            raise SpecError(f"grid axis {name}: range ends must be plain numbers in SI units (ops/s, bytes/s, bytes, "
                            f"W), got {start!r} and {stop!r}") from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SpecError(f"grid axis {name}: range ends must be finite, got {start!r} and {stop!r}")
        if scale == "log":
            if not (low > 0 and high > 0):
                raise SpecError(f"grid axis {name}: a log range needs positive ends, got {start!r} and {stop!r}")
            values = np.geomspace(low, high, int(n))  # evenly in log10, both ends exactly the ones given
        else:
            values = np.linspace(low, high, int(n))
    else:
        try:
            given = np.asarray(spec, dtype=np.float64)
        except (TypeError, ValueError):
            raise SpecError(f"grid axis {name}: values must be numbers or [start, stop, 'log' or 'lin', n], "
                            f"got {spec!r}") from None
        if given.ndim > 1:  # a nested list is no list of values: flattening it would hide the mistake
            raise SpecError(f"grid axis {name}: values must be one flat list of numbers, got nested values of shape "
                            f"{given.shape}; write the values as one list ([1e12, 2e12, 4e12]) or as a range "
                            "[start, stop, 'log' or 'lin', n], and give each further quantity an axis of its own")
        values = given.ravel()
    if values.size == 0:
        raise SpecError(f"grid axis {name} has no values; give at least one")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise SpecError(f"grid axis {name}: values must be finite and positive, got {values[~(values > 0)][:3]!r}"
                        if not (values > 0).all() else f"grid axis {name}: values must be finite, got "
                        f"{values[~np.isfinite(values)][:3]!r}")
    return values


@dataclass(frozen=True, eq=False)
class HardwareGrid:
    """A hardware template and value axes (see the module docstring); build it with :meth:`of`.

    ``axes`` maps each axis name (``peak_ops_per_s.int8``, ``bandwidth_bytes_per_s.DDR``,
    ``capacity_bytes.SRAM``, ``clock_scale``, ``tdp_w``) to its values (float64, shape (n,)), in grid order.
    """

    template: HardwareSpec
    axes: dict[str, np.ndarray]
    _recent: dict[tuple[Hashable, ...], object] = dataclasses.field(default_factory=dict, init=False, repr=False)
    """The last result of each kind :meth:`remembered` keeps (values, columns, a sweep's chunk of columns)."""

    @classmethod
    def of(cls, template: HardwareSpec, peak_ops_per_s: Mapping[str, AxisValues] | None = None,
           bandwidth_bytes_per_s: Mapping[str, AxisValues] | None = None,
           capacity_bytes: Mapping[str, AxisValues] | None = None,
           clock_scale: AxisValues | None = None, tdp_w: AxisValues | None = None) -> "HardwareGrid":
        """A grid over ``template`` (a single-engine spec).

        Parameters
        ----------
        template : HardwareSpec
            The spec every point starts from: ``rooflinekit.get_hardware(name)`` for a catalog device,
            ``rooflinekit.catalog.load_hardware_file(path)[0]`` for a hardware YAML file.
        peak_ops_per_s : mapping, optional
            ``{dtype: values}``, ops/s; each data type must be one of the template's peaks.
        bandwidth_bytes_per_s : mapping, optional
            ``{memory level name: values}``, bytes/s.
        capacity_bytes : mapping, optional
            ``{memory level name: values}``, bytes.
        clock_scale : values, optional
            Factors on every peak (dimensionless).
        tdp_w : values, optional
            Thermal design powers, W (each at least the template's ``idle_power_w``).

        Raises
        ------
        SpecError
            For a template with two or more engines, an unknown data type or level, a capacity axis that could
            reorder the on-chip levels, a TDP below the template's idle power, bad values (empty, zero, negative,
            missing or not finite; the error names the axis), a ``peak_ops_per_s``, ``bandwidth_bytes_per_s`` or
            ``capacity_bytes`` that is not a mapping, and a ``template`` that is not a spec.
        """
        if not isinstance(template, HardwareSpec):
            raise SpecError(f"a hardware grid's template must be a HardwareSpec, got {type(template).__name__} "
                            f"{shown(template)}; pass rooflinekit.get_hardware(name) for a catalog device, or "
                            "rooflinekit.catalog.load_hardware_file(path)[0] for a hardware YAML file")
        if len(template.engines) > 1:
            raise SpecError(f"{template.name}: a hardware grid needs a single-engine template (top-level "
                            "peak_ops_per_s, or one engine under engines); sweep multi-engine specs one by one")
        for field, given in (("peak_ops_per_s", peak_ops_per_s), ("bandwidth_bytes_per_s", bandwidth_bytes_per_s),
                             ("capacity_bytes", capacity_bytes)):
            if given is not None and not isinstance(given, Mapping):
                key, name = (("a data type", next(iter(template.peak_ops_per_s)).value) if field == "peak_ops_per_s"
                             else ("a memory level", template.memories[0].name))
                raise SpecError(f"{template.name}: grid axis {field} must map {key} to its values, e.g. "
                                f"{field}={{{name!r}: [start, stop, 'log', n]}}, got {type(given).__name__} "
                                f"{shown(given)}")
        axes: dict[str, np.ndarray] = {}
        for dtype_name, values in (peak_ops_per_s or {}).items():
            dtype = DType.parse(dtype_name)
            if dtype not in template.peak_ops_per_s:
                native = ", ".join(d.value for d in template.peak_ops_per_s)
                raise SpecError(f"{template.name}: grid axis peak_ops_per_s.{dtype.value} is not a peak of the "
                                f"template ({native}); add the type to the template first")
            axes[f"peak_ops_per_s.{dtype.value}"] = axis_values(f"peak_ops_per_s.{dtype.value}", values)
        names = [m.name for m in template.memories]
        for field, given in (("bandwidth_bytes_per_s", bandwidth_bytes_per_s), ("capacity_bytes", capacity_bytes)):
            for level, values in (given or {}).items():
                if level not in names:
                    raise SpecError(f"{template.name}: grid axis {field}.{level} names no memory level; levels are "
                                    f"{', '.join(names)}")
                axes[f"{field}.{level}"] = axis_values(f"{field}.{level}", values)
        largest = template.largest_on_chip(template.compute_engines[0])
        if largest is not None:
            reach = [m for m in template.reachable_memories(template.compute_engines[0]) if m.on_chip]
            span = {m.name: axes.get(f"capacity_bytes.{m.name}", np.array([m.capacity_bytes])) for m in reach}
            low = span[largest.name].min()
            for position, m in enumerate(reach):
                ahead = position < [r.name for r in reach].index(largest.name)
                if m.name != largest.name and (span[m.name].max() > low or ahead and span[m.name].max() == low):
                    raise SpecError(
                        f"{template.name}: grid axis capacity_bytes could change which on-chip level is the largest "
                        f"({largest.name} down to {low:g} bytes, {m.name} up to {span[m.name].max():g}); keep "
                        f"{largest.name} the largest on-chip level at every point")
        if clock_scale is not None:
            axes["clock_scale"] = axis_values("clock_scale", clock_scale)
        if tdp_w is not None:
            axes["tdp_w"] = axis_values("tdp_w", tdp_w)
            idle = template.idle_power_w
            if idle is not None and axes["tdp_w"].min() < idle:
                raise SpecError(f"{template.name}: grid axis tdp_w goes down to {axes['tdp_w'].min():g} W, below the "
                                f"template's idle_power_w of {idle:g} W; start the axis at {idle:g} W or more, or "
                                "lower the template's idle_power_w")
        return cls(template, axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values of each axis, in grid order."""
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        """Number of grid points (the product of :attr:`shape`, 1 with no axes)."""
        return math.prod(self.shape)

    def values(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The value of every axis at points ``start .. stop - 1``: arrays of shape (stop - start,) (shared with
        later calls for the same points: read them, do not write them)."""
        def made() -> dict[str, np.ndarray]:
            index = np.arange(start, stop, dtype=np.int64)
            coords = np.unravel_index(index, self.shape) if self.axes else ()
            return {name: values[c] for (name, values), c in zip(self.axes.items(), coords)}

        return self.remembered(("values", start, stop), made)

    def remembered(self, key: tuple[Hashable, ...], make: Callable[[], Made]) -> Made:
        """``make()``, or what it returned for ``key`` last time: the last result of each kind ``key[0]`` is kept
        (a sweep asks for the same chunk of points for every network, so its work on them is done once)."""
        if key not in self._recent:
            made = make()
            for old in [k for k in self._recent if k[0] == key[0]]:
                del self._recent[old]
            self._recent[key] = made
        kept: Made = self._recent[key]  # type: ignore[assignment]
        return kept

    def columns(self, start: int, stop: int) -> "GridColumns":
        """Peaks, bandwidths and capacities of points ``start .. stop - 1`` as arrays (see :class:`GridColumns`;
        shared with later calls for the same points: read them, do not write them)."""
        return self.remembered(("columns", start, stop), lambda: self._columns(start, stop))

    def _columns(self, start: int, stop: int) -> "GridColumns":
        values = self.values(start, stop)
        n = stop - start
        clock = values.get("clock_scale", np.ones(n))
        dtypes = tuple(d.value for d in self.template.peak_ops_per_s)
        peaks = np.empty((n, len(dtypes)))
        for j, (dtype, peak) in enumerate(self.template.peak_ops_per_s.items()):
            peaks[:, j] = values.get(f"peak_ops_per_s.{dtype.value}", np.full(n, peak)) * clock
        memories = self.template.memories
        bandwidth = np.empty((n, len(memories)))
        capacity = np.empty((n, len(memories)))
        for l, memory in enumerate(memories):
            bandwidth[:, l] = values.get(f"bandwidth_bytes_per_s.{memory.name}", np.full(n, memory.bandwidth_bytes_per_s))
            capacity[:, l] = values.get(f"capacity_bytes.{memory.name}", np.full(n, memory.capacity_bytes))
        return GridColumns(dtypes, peaks, bandwidth, capacity, values)

    def spec(self, index: int) -> HardwareSpec:
        """The explicit spec of point ``index`` (named ``<template>[index]``).

        Raises :class:`~rooflinekit.errors.SpecError` for an index outside ``0 .. size - 1``.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.size:
            raise SpecError(f"grid point {index!r} is outside the grid of {self.size} points; use 0 .. {self.size - 1}")
        point = self.columns(int(index), int(index) + 1)
        peaks = {DType(d): float(point.peak_ops_per_s[0, j]) for j, d in enumerate(point.dtypes)}
        memories = tuple(m.model_copy(update={"bandwidth_bytes_per_s": float(point.bandwidth_bytes_per_s[0, l]),
                                              "capacity_bytes": float(point.capacity_bytes[0, l])})
                         for l, m in enumerate(self.template.memories))
        update: dict[str, object] = {"name": f"{self.template.name}[{int(index)}]", "peak_ops_per_s": peaks,
                                     "memories": memories}
        if self.template.engines:  # the one engine's peaks are the device's
            update["engines"] = (self.template.engines[0].model_copy(update={"peak_ops_per_s": peaks}),)
        if "clock_scale" in point.axes and self.template.clock_hz is not None:
            update["clock_hz"] = self.template.clock_hz * float(point.axes["clock_scale"][0])
        if "tdp_w" in point.axes:
            update["tdp_w"] = float(point.axes["tdp_w"][0])
        return self.template.model_copy(update=update)


@dataclass(frozen=True, eq=False)
class GridColumns:
    """Numbers of G grid points: ``peak_ops_per_s`` (G, D) ops/s by data type ``dtypes`` (D,),
    ``bandwidth_bytes_per_s`` and ``capacity_bytes`` (G, L) by the template's memory levels, and ``axes`` the
    value of each axis (G,)."""

    dtypes: tuple[str, ...]
    peak_ops_per_s: np.ndarray
    bandwidth_bytes_per_s: np.ndarray
    capacity_bytes: np.ndarray
    axes: dict[str, np.ndarray]
