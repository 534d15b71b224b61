"""Read-only containers for the mappings that descriptors hold.

Descriptors are frozen pydantic models, but a frozen model still hands out its ``dict`` fields as they are:
``get_hardware("ZCU104-DPU").peak_ops_per_s["int8"] /= 1000`` would change the cached catalog spec, and so every
later prediction in the process. Mapping fields (``HardwareSpec.peak_ops_per_s``, ``Layer.attrs``, ...) therefore
hold a :class:`FrozenDict`: a ``dict`` (so pydantic serializes it, ``==`` and ``json`` work, and ``isinstance(x,
dict)`` holds) whose mutating methods raise ``TypeError``; lists inside become tuples (:func:`deep_freeze`).

A copy on every lookup would also protect the catalog, but not a spec that a caller built and shares between
threads, and it would cost a deep copy per lookup; freezing once at validation costs nothing afterwards.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A ``dict`` that refuses changes (``TypeError``); copy it with ``dict(d)`` to get a mutable one."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this mapping belongs to a frozen rooflinekit descriptor and cannot be changed; "
                        "copy it with dict(...) or build a new descriptor with model_copy(update=...)")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy.deepcopy rebuild it whole, never item by item
        return (type(self), (dict(self),))

    def __copy__(self) -> "FrozenDict[K, V]":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "FrozenDict[K, V]":
        return self


def deep_freeze(value: Any) -> Any:
    """``value`` with every ``dict`` (at any depth) a :class:`FrozenDict` and every ``list`` or ``set`` a
    ``tuple`` (sets sorted by ``repr`` for a stable order); other values unchanged.

    Parameters
    ----------
    value : Any
        A value read from a spec (numbers, strings, lists, mappings).

    Returns
    -------
    Any
        The read-only equivalent.
    """
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict({key: deep_freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(deep_freeze(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((deep_freeze(item) for item in value), key=repr))
    return value
