"""What a process works out once per immutable object and keeps: a least-recently-used table keyed by identity.

Specs are immutable, so an object is its own key: an entry holds the object (kept alive with what was made of it)
and is found again only for that very object, never for another one that happens to reuse its ``id``. A table is
shared by every thread of the process (predictions run in a thread pool or on Dask's threaded scheduler), so each
lookup and insertion holds its lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

Value = TypeVar("Value")


class IdentityMemo(Generic[Value]):
    """Values per (object, key), the least recently used dropped first once their total weight exceeds
    ``capacity`` (the last one made is always kept).

    Parameters
    ----------
    capacity : int
        Largest total weight kept.
    weight : callable, optional
        Weight of one value (default 1: ``capacity`` counts entries).
    """

    def __init__(self, capacity: int, weight: Callable[[Value], int] = lambda value: 1) -> None:
        self.capacity, self.weight = capacity, weight
        self._entries: OrderedDict[tuple[int, Hashable], tuple[object, Value]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, owner: object, key: Hashable = ()) -> Value | None:
        """The value made for ``owner`` (that object) and ``key``, None when none is kept."""
        entry = (id(owner), key)
        with self._lock:
            hit = self._entries.get(entry)
            if hit is None or hit[0] is not owner:
                return None
            self._entries.move_to_end(entry)
            return hit[1]

    def put(self, owner: object, key: Hashable, value: Value) -> Value:
        """Keep ``value`` for ``owner`` and ``key`` (dropping the least recently used beyond ``capacity``);
        returns ``value``."""
        entry = (id(owner), key)
        with self._lock:
            replaced = self._entries.pop(entry, None)
            if replaced is not None:
                self._total -= self.weight(replaced[1])
            self._entries[entry] = (owner, value)
            self._total += self.weight(value)
            while self._total > self.capacity and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total -= self.weight(dropped)
        return value
