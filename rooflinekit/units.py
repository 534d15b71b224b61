"""Unit-suffixed quantities and parsing of human-written values such as ``"19.2 GB/s"``.

All internal values are SI base units: bytes, bytes/s, ops/s, Hz, W, s, J. Decimal prefixes (k = 1e3, M = 1e6,
G = 1e9, T = 1e12, P = 1e15; m = 1e-3, u = µ = μ = 1e-6, n = 1e-9) unless the binary form (KiB, MiB, GiB, TiB)
is written. An op rate is written as
datasheets do, ``OPS``/``OP/s`` or ``FLOPS``/``FLOP/s`` (``26 TFLOPS`` = 26e12 ops/s; a floating-point op is an
op), or in ``MAC/s`` (1 MAC = 2 ops); ``FLOPs`` without ``/s`` is a count of ops, as ``OP`` is. A time is in
``s`` or, as logs and C code often write it, ``sec`` (``ms`` = ``msec``, ``us`` = ``usec``, ``ns`` = ``nsec``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal

from rooflinekit.errors import AmbiguousUnitError, UnitError

Dimension = Literal["bytes", "bytes_per_s", "ops_per_s", "ops", "hz", "w", "s", "j"]

# micro: 'u', the micro sign (U+00B5) and the Greek letter mu (U+03BC), which datasheets and keyboards mix
_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3, "u": 1e-6, "\u00b5": 1e-6,
            "\u03bc": 1e-6, "n": 1e-9}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}

# unit body (after the prefix) -> dimension
_BODIES: dict[str, Dimension] = {
    "B": "bytes", "byte": "bytes", "bytes": "bytes",
    "B/s": "bytes_per_s", "Bps": "bytes_per_s", "byte/s": "bytes_per_s", "bytes/s": "bytes_per_s",
    "OPS": "ops_per_s", "OP/s": "ops_per_s", "ops/s": "ops_per_s", "Ops/s": "ops_per_s",
    "FLOPS": "ops_per_s", "FLOP/s": "ops_per_s", "FLOPs/s": "ops_per_s",
    "MAC/s": "ops_per_s", "MACS": "ops_per_s",
    "OP": "ops", "ops": "ops", "Ops": "ops", "FLOP": "ops", "FLOPs": "ops", "MAC": "ops", "MACs": "ops",
    "Hz": "hz", "W": "w", "s": "s", "sec": "s", "J": "j",
}
_MAC_BODIES = {"MAC/s", "MACS", "MAC", "MACs"}
_EXAMPLES: dict[Dimension, str] = {
    "bytes": "'512 KiB', '4 GB'", "bytes_per_s": "'19.2 GB/s'", "ops_per_s": "'26 TOPS', '26 TOP/s', '13 TMAC/s'",
    "ops": "'4.1 GOP', '2 GMAC'", "hz": "'800 MHz'", "w": "'2.5 W'", "s": "'2 s', '1 ms', '5 us'", "j": "'3 mJ'",
}
_SHOWN_CHARS = 60


def _shown(value: object) -> str:
    """``repr(value)`` cut to a readable length for an error message (an int of 400 digits, a long string)."""
    if isinstance(value, int) and abs(value) >= 10**50:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 3] + "..."
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z\u00b5\u03bc/]+)?\s*$")


_FOLDED_BODIES: dict[str, list[str]] = {}
for _body in _BODIES:
    _FOLDED_BODIES.setdefault(_body.casefold(), []).append(_body)
_FOLDED_PREFIXES = {"k": 1e3, "g": 1e9, "t": 1e12, "p": 1e15, "ki": 2.0**10, "mi": 2.0**20, "gi": 2.0**30,
                    "ti": 2.0**40}


def _fold(unit: str, dimension: Dimension | None) -> tuple[float, str] | None:
    """A unit written in another case where that is unambiguous: ``tops``, ``gb/s``, ``ghz``, ``kib``, ``w``.

    ``M`` is mega, except before a time body in another case (``MS``, ``MSEC``: a latency written in capitals
    means milliseconds at least as often), which is refused as ambiguous, as is a lower-case ``m`` (milli) before
    a body in another case (``mhz``); a body ``b`` in lower case is read as bytes only after a
    prefix (``gb/s``) or spelled out (``bytes``); a bare ``b`` stays unknown. Where the folded body has two
    meanings (``ops``: ``OPS`` per second or ``ops``), the one of ``dimension`` is taken.
    """

    def body_of(text: str) -> str | None:
        bodies = _FOLDED_BODIES.get(text, [])
        return next((b for b in bodies if _BODIES[b] == dimension), bodies[0] if bodies else None)

    if re.search(r"b(/s|ps)?$", unit) and not unit.endswith(("bytes", "byte", "bytes/s", "byte/s")):
        raise AmbiguousUnitError(f"unit {unit!r} is ambiguous: a lower-case 'b' reads as bits; write 'B' for bytes, e.g. "
                        "'19.2 GB/s', '512 KiB'")
    key = unit.casefold()
    if body_of(key):
        return 1.0, body_of(key)  # type: ignore[return-value]
    for prefix in sorted(_FOLDED_PREFIXES, key=len, reverse=True):
        body = body_of(key[len(prefix):]) if key.startswith(prefix) else None
        if body:
            return _FOLDED_PREFIXES[prefix], body
    body = body_of(unit[1:].casefold()) if unit[:1] in ("m", "M") else None
    if body and unit[:1] == "M" and _BODIES[body] == "s":  # 'MS', 'MSEC': a latency in capitals means milli
        raise AmbiguousUnitError(f"unit {unit!r} is ambiguous: in capitals 'M' may be milli or mega; write 'ms' for "
                        "milliseconds ('Ms' for megaseconds)")
    if body and unit[:1] == "M":  # otherwise upper-case M is mega in every convention: 'MHZ', 'Mb/S'
        return _DECIMAL["M"], body
    if body:
        raise AmbiguousUnitError(f"unit {unit!r} is ambiguous: 'm' is milli and 'M' mega, but the rest is not in its usual "
                        f"case; write e.g. 'MHz', 'mW', 'MB/s'")
    return None


def _split_prefix(unit: str, dimension: Dimension) -> tuple[float, str]:
    """``unit`` as (prefix factor, body of ``_BODIES``); an unknown unit is a :class:`UnitError` whose examples
    are units of ``dimension``."""
    if unit in _BODIES:
        return 1.0, unit
    for prefix, factor in _BINARY.items():
        if unit.startswith(prefix) and unit[len(prefix):] in _BODIES:
            return factor, unit[len(prefix):]
    prefix, body = unit[:1], unit[1:]
    if prefix in _DECIMAL and body in _BODIES:
        return _DECIMAL[prefix], body
    folded = _fold(unit, dimension)
    if folded is not None:
        return folded
    raise UnitError(f"unknown unit {_shown(unit)}; write e.g. {_EXAMPLES[dimension]}")


_POWERS_OF_TEN = {float(f"1e{exponent}"): exponent for exponent in (-9, -6, -3, 3, 6, 9, 12, 15)}
"""The exponent of each decimal prefix's factor."""


def _scaled(number: str, factor: float) -> float:
    """The decimal ``number`` (as written) times a prefix's ``factor``, rounded once: a decimal prefix shifts the
    decimal exponent (``'5 us'`` is the float nearest 5e-6, as ``5e-6`` is, not ``5 * 1e-6`` =
    4.9999999999999996e-06, two roundings); a binary prefix, a power of two, multiplies exactly."""
    exponent = _POWERS_OF_TEN.get(factor)
    if exponent is None:
        return float(number) * factor
    return float(Decimal(number).scaleb(exponent))


def parse_quantity(value: str | float | int, dimension: Dimension) -> float:
    """Parse ``value`` into the SI base unit of ``dimension``.

    Numbers pass through unchanged (they are taken to be in the base unit already). Strings carry a unit:
    ``"19.2 GB/s"`` -> 19.2e9 bytes/s, ``"4 TOPS"`` or ``"4 TFLOP/s"`` -> 4e12 ops/s, ``"1 GMAC/s"`` -> 2e9 ops/s
    (1 MAC = 2 ops),
    ``"512 KiB"`` -> 524288 bytes. A unit of the wrong dimension is a :class:`UnitError`.
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a number or a string with a unit for {dimension}, got {_shown(value)}")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float64's range (10**400)
            raise UnitError(f"{_shown(value)} is too large for a quantity of {dimension} (the limit is about "
                            "1.8e308)") from None
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise UnitError(f"cannot parse {_shown(value)} as a quantity of {dimension}; write e.g. "
                            f"{_EXAMPLES[dimension]}")
        number = float(match.group(1))
        unit = match.group(2)
        if unit:
            factor, body = _split_prefix(unit, dimension)
            if _BODIES[body] != dimension:
                raise UnitError(f"{_shown(value)} is in {_BODIES[body]}, expected {dimension}; write e.g. "
                                f"{_EXAMPLES[dimension]}")
            number = _scaled(match.group(1), factor) * (2.0 if body in _MAC_BODIES else 1.0)
    if not math.isfinite(number):
        raise UnitError(f"{_shown(value)} is not a finite quantity of {dimension}")
    return number
