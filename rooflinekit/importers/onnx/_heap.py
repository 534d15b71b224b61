"""Handing the memory ONNX's C++ shape inference frees back to the operating system.

Shape inference parses its own copy of the model in C++, adds a type to every tensor and serializes the result: on
a 20,000-node graph it takes about 20 MB of C heap and frees it on return. glibc keeps freed heap pages for later
``malloc`` calls, but Python allocates its small objects (the layers built next) in separate memory maps, so those
pages would stay resident beside them until the process ends. :func:`release_free_heap` returns them with glibc's
``malloc_trim(0)`` after work on a large graph (a trim takes about 15 microseconds when there is little to
return); elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Callable


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (``int malloc_trim(size_t pad)``), None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no C library to load, or one without malloc_trim (musl)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


MIN_NODES = 200
"""Graphs below this many nodes are not worth a trim: their C++ copy takes a few hundred kilobytes at most. (From
about 200 nodes on it is: with the trims, the import's peak resident memory fell from 1.72 to 1.59 MB on the
237-node Inception v1 of the ONNX light zoo and from 2.84 to 2.39 MB on the 415-node ResNet-50; a trim takes about
4% of the shape inference's time there, over 5% on the 40-node AlexNet.)"""


def release_free_heap(nodes: int) -> None:
    """Return the C heap's free pages to the operating system after work on a graph of ``nodes`` nodes (glibc
    only; elsewhere, or below :data:`MIN_NODES` nodes, nothing is done).

    Resident memory drops by what the heap holds free (``pad`` 0: keep nothing spare); memory in use is not
    touched, and later allocations map pages again as they need them.
    """
    trim = _malloc_trim() if nodes >= MIN_NODES else None
    if trim is not None:
        trim(0)
