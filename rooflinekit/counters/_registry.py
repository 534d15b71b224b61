"""Registry of per-op counting functions keyed by canonical op kind.

A counter sees only a :class:`~rooflinekit.descriptors.Layer` (never an ONNX or TFLite object) and returns an
:class:`OpCount`. Parameters and bytes are derived from the layer's tensors in :mod:`rooflinekit.counters.cost`,
and ``ops = 2 * macs + other_ops`` is computed only in :func:`total_ops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from rooflinekit.descriptors import Layer, OpKind
from rooflinekit.errors import SpecError


@dataclass(frozen=True)
class OpCount:
    """Arithmetic of one layer.

    ``macs``: multiply-accumulates; ``bias_ops``: bias additions; ``other_ops``: every other non-MAC operation
    (activation, pooling, softmax, elementwise, normalization). ``moves_data`` False marks pure views (reshape,
    flatten, squeeze) that read and write no bytes.
    """

    macs: int = 0
    bias_ops: int = 0
    other_ops: int = 0
    moves_data: bool = True

    def __init__(self, macs: int = 0, bias_ops: int = 0, other_ops: int = 0, moves_data: bool = True) -> None:
        # the generated __init__ of a frozen dataclass sets each field through object.__setattr__; one is built per
        # counted layer, and writing the instance dict directly takes half the time (still frozen to callers)
        values = self.__dict__
        values["macs"] = macs
        values["bias_ops"] = bias_ops
        values["other_ops"] = other_ops
        values["moves_data"] = moves_data


Counter = Callable[[Layer], OpCount]
"""A counting function: the arithmetic of one layer."""
CounterTable = Mapping[OpKind, "Counter | None"] | Mapping[str, "Counter | None"]
"""Counters (or None: zero on purpose) keyed by :class:`~rooflinekit.descriptors.OpKind` or its string."""


def zero_cost(layer: Layer) -> OpCount:
    """The counter of a kind that costs nothing on purpose (registered as ``None``): 0 ops; its tensors are still
    read and written."""
    return OpCount()


class CounterRegistry:
    """Counters keyed by :class:`~rooflinekit.descriptors.OpKind`: the formulas a cost computation uses.

    An entry is a :data:`Counter` or ``None``: the kind costs zero ops on purpose (supported, not reported as
    unsupported). A kind without an entry has no counter: its layers are reported in ``unsupported_ops``.
    :data:`DEFAULT_COUNTERS` holds the built-in formulas and is frozen; a study that changes some formulas passes
    ``DEFAULT_COUNTERS.with_overrides({...})`` to :func:`~rooflinekit.counters.count_network`.

    Parameters
    ----------
    counters : Mapping of OpKind or str to Counter or None, optional
        Initial entries; every key must be an :class:`~rooflinekit.descriptors.OpKind` (or its string).
    """

    def __init__(self, counters: CounterTable | None = None) -> None:
        self._counters: dict[OpKind, Counter | None] = {
            _kind(kind, "a counter registry entry"): counter for kind, counter in (counters or {}).items()}
        self._frozen = False

    def register(self, *kinds: OpKind | str) -> Callable[[Counter], Counter]:
        """Decorator registering a counter for each kind in ``kinds``.

        Parameters
        ----------
        *kinds : OpKind or str
            Canonical op kinds that do not have a counter yet.

        Returns
        -------
        Callable
            The decorator; it returns the counter unchanged.

        Raises
        ------
        SpecError
            If the registry is frozen, a kind is not an :class:`~rooflinekit.descriptors.OpKind`, or a kind already
            has a counter (use :meth:`with_overrides` to replace one).
        """
        if self._frozen:
            raise SpecError(f"cannot register counters for {[str(k) for k in kinds]}: the counter registry is frozen "
                            "(DEFAULT_COUNTERS always is); use .copy() or .with_overrides({...}) for one you can "
                            "change and pass it as counters=")
        parsed = [_kind(kind, "register") for kind in kinds]

        def decorate(fn: Counter) -> Counter:
            for kind in parsed:
                if kind in self._counters:
                    raise SpecError(f"op kind {kind.value!r} already has a counter "
                                    f"({getattr(self._counters[kind], '__name__', None)}); register each kind once, or "
                                    "use .with_overrides({kind: counter}) to replace it")
            for kind in parsed:
                self._counters[kind] = fn
            return fn

        return decorate

    def get(self, kind: str) -> Counter | None:
        """The counter of ``kind``; :func:`zero_cost` for a kind registered as zero (``None``); None when the kind
        has no counter (unknown ops included). Raises nothing."""
        parsed = OpKind.parse(kind)
        if parsed is None or parsed not in self._counters:
            return None
        return self._counters[parsed] or zero_cost

    def supported_kinds(self) -> list[OpKind]:
        """Every kind with a counter (zero-cost kinds included), sorted by name."""
        return sorted(self._counters, key=lambda kind: kind.value)

    def copy(self) -> CounterRegistry:
        """A registry with the same entries that is not frozen."""
        return CounterRegistry(self._counters)

    def with_overrides(self, overrides: CounterTable) -> CounterRegistry:
        """A new registry (not frozen) with the entries of ``overrides`` replacing or adding to this one's.

        Parameters
        ----------
        overrides : Mapping of OpKind or str to Counter or None
            Per kind the new counter, or None for "costs zero ops".

        Returns
        -------
        CounterRegistry
            The new registry; this one is unchanged.

        Raises
        ------
        SpecError
            If a key is not an :class:`~rooflinekit.descriptors.OpKind`.
        """
        registry = self.copy()
        registry._counters.update({_kind(kind, "with_overrides"): counter for kind, counter in overrides.items()})
        return registry

    def freeze(self) -> CounterRegistry:
        """Refuse further :meth:`register` calls; returns the registry itself."""
        self._frozen = True
        return self

    @property
    def frozen(self) -> bool:
        """True once :meth:`freeze` was called."""
        return self._frozen

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and OpKind.parse(kind) in self._counters

    def __len__(self) -> int:
        return len(self._counters)

    def __repr__(self) -> str:
        return f"CounterRegistry({len(self)} kinds{', frozen' if self._frozen else ''})"


def _kind(kind: OpKind | str, where: str) -> OpKind:
    """``kind`` as an :class:`OpKind`, else a :class:`SpecError` naming it."""
    parsed = OpKind.parse(kind)
    if parsed is None:
        raise SpecError(f"{where}: {kind!r} is not a canonical op kind; use one of the OpKind values "
                        "(rooflinekit.descriptors.OpKind), or add the kind and its op class there first")
    return parsed


DEFAULT_COUNTERS = CounterRegistry()
"""The built-in counters: each counter module registers on it at import; frozen in :mod:`rooflinekit.counters`."""


def total_ops(macs: int | np.ndarray, other_ops: int | np.ndarray) -> int | np.ndarray:
    """ops = 2 * macs + other_ops (1 MAC = 2 ops); works on ints and numpy arrays alike."""
    return 2 * macs + other_ops
