"""Bounds on untrusted input, shared by the importers, the counters, the catalog and the loaders.

rooflinekit reads files nobody checked. These limits keep every count exact in int64 (the dtype of the count
columns), keep libraries that cannot be interrupted (ONNX shape inference, YAML alias expansion) away from input
that makes them run forever, and keep error messages short.
"""

from __future__ import annotations

from typing import Any

INT64_MAX = 2**63 - 1
"""Largest count a cost column holds; a larger one is an overflow error, never a wrapped or rounded number."""

MAX_BATCH = 2**31 - 1
"""Largest batch (frames per batch) accepted anywhere."""

MAX_DIM = 2**31 - 1
"""Largest tensor dim accepted from a model file."""

MAX_YAML_DEPTH = 64
"""Deepest nesting of lists and mappings in a catalog YAML file."""

MAX_YAML_NODES = 1_000_000
"""Most YAML nodes (scalars, lists, mappings) one catalog file may build, aliases counted each time they are used."""

SHOWN_CHARS = 60
"""How much of an offending value an error message echoes."""


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (``...`` marks the cut), for error messages.

    Parameters
    ----------
    value : Any
        The offending value.
    limit : int, optional
        Most characters shown.

    Returns
    -------
    str
        The (possibly truncated) representation.
    """
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile object's __repr__ must not replace the error being reported
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:max(limit - 3, 0)] + "..."
