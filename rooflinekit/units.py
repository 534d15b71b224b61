"""Unit-suffixed quantities and parsing of human-written values such as ``"19.2 GB/s"``.

All internal values are SI base units: bytes, bytes/s, ops/s, Hz, W, s, J. Decimal prefixes (k = 1e3, M = 1e6,
G = 1e9, T = 1e12, P = 1e15) unless the binary form (KiB, MiB, GiB, TiB) is written.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from rooflinekit.errors import UnitError

Dimension = Literal["bytes", "bytes_per_s", "ops_per_s", "ops", "hz", "w", "s", "j"]

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3, "u": 1e-6, "µ": 1e-6,
            "n": 1e-9}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}

# unit body (after the prefix) -> dimension
_BODIES: dict[str, Dimension] = {
    "B": "bytes", "byte": "bytes", "bytes": "bytes",
    "B/s": "bytes_per_s", "Bps": "bytes_per_s", "byte/s": "bytes_per_s", "bytes/s": "bytes_per_s",
    "OPS": "ops_per_s", "OP/s": "ops_per_s", "ops/s": "ops_per_s", "Ops/s": "ops_per_s",
    "MAC/s": "ops_per_s", "MACS": "ops_per_s",
    "OP": "ops", "ops": "ops", "Ops": "ops", "MAC": "ops", "MACs": "ops",
    "Hz": "hz", "W": "w", "s": "s", "J": "j",
}
_MAC_BODIES = {"MAC/s", "MACS", "MAC", "MACs"}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ/]+)?\s*$")


def _split_prefix(unit: str) -> tuple[float, str]:
    if unit in _BODIES:
        return 1.0, unit
    for prefix, factor in _BINARY.items():
        if unit.startswith(prefix) and unit[len(prefix):] in _BODIES:
            return factor, unit[len(prefix):]
    prefix, body = unit[:1], unit[1:]
    if prefix in _DECIMAL and body in _BODIES:
        return _DECIMAL[prefix], body
    raise UnitError(f"unknown unit {unit!r}; write e.g. '19.2 GB/s', '4.6 TOPS', '512 KiB', '216 MHz', '2 W'")


def parse_quantity(value: str | float | int, dimension: Dimension) -> float:
    """Parse ``value`` into the SI base unit of ``dimension``.

    Numbers pass through unchanged (they are taken to be in the base unit already). Strings carry a unit:
    ``"19.2 GB/s"`` -> 19.2e9 bytes/s, ``"4 TOPS"`` -> 4e12 ops/s, ``"1 GMAC/s"`` -> 2e9 ops/s (1 MAC = 2 ops),
    ``"512 KiB"`` -> 524288 bytes. A unit of the wrong dimension is a :class:`UnitError`.
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a number or a string with a unit for {dimension}, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise UnitError(f"cannot parse {value!r} as a quantity of {dimension}; write e.g. '19.2 GB/s'")
        number = float(match.group(1))
        unit = match.group(2)
        if unit:
            factor, body = _split_prefix(unit)
            if _BODIES[body] != dimension:
                raise UnitError(f"{value!r} is in {_BODIES[body]}, expected {dimension}")
            number *= factor * (2.0 if body in _MAC_BODIES else 1.0)
    if not math.isfinite(number):
        raise UnitError(f"{value!r} is not a finite quantity of {dimension}")
    return number
