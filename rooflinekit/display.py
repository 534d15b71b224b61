"""Human-readable numbers and tables: SI prefixes in the cells, at most ~120 characters wide.

The unit of a column is read from its name, as everywhere in rooflinekit (``latency_s``, ``peak_ops_per_s``,
``bandwidth_bytes_per_s``, ``capacity_bytes``, ``tdp_w``, ``clock_hz``, ``energy_j``, ``efficiency_pct``):

>>> si(624e12, "OPS")
'624 TOPS'
>>> format_value("latency_s", 1.25e-3)
'1.25 ms'
>>> format_value("bandwidth_bytes_per_s", 2.039e12)
'2.04 TB/s'

Only the text output of the command line uses this module; ``--format json`` and ``csv`` keep every digit.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_WIDTH = 120
"""Widest text table the command line prints unless ``--wide`` is given."""
MAX_CELL = 48
"""Longest text cell before it is cut with ``...`` (unless ``--wide``)."""

_PREFIXES = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
             (1e-9, "n")]
# column-name suffix -> unit symbol (longest suffix first)
_UNITS: list[tuple[str, str]] = [
    ("_ops_per_s", "OPS"), ("_bytes_per_s", "B/s"), ("_bytes", "B"), ("_hz", "Hz"), ("_w", "W"), ("_j", "J"),
    ("_s", "s"),
]
_COUNTS = {"macs", "ops", "params", "other_ops"}


def _mantissa(value: float) -> str:
    """Three significant digits without a trailing ``.0`` run: 624, 19.5, 1.25, 2."""
    text = f"{value:.3g}"
    if "e" in text:  # 1e+03 after rounding 999.6: write it out
        text = f"{float(text):.0f}"
    return text


def si(value: float, unit: str = "", *, small: bool = True) -> str:
    """``value`` with an SI prefix and ``unit``: ``si(624e12, "OPS")`` -> ``'624 TOPS'``.

    Parameters
    ----------
    value : float
        The number in the base unit.
    unit : str, optional
        Symbol put after the prefix (``"OPS"``, ``"B/s"``, ``"s"``); empty for a plain count (``'4.1 G'``).
    small : bool, optional
        Allow the prefixes below 1 (m, µ, n); False for counts, which are whole.

    Returns
    -------
    str
        Three significant digits, a space, the prefix and the unit; ``'-'`` for a missing or non-finite value
        and ``'0'`` plus the unit for zero. A value beyond the prefixes (1000 P and up; below 0.001 n, or below
        0.001 without ``small``) is written in scientific notation in the base unit, as ``format_value`` writes
        other numbers: ``'1e+280 s'``.

    Examples
    --------
    >>> si(2.039e12, "B/s"), si(3.5e-6, "s"), si(274656), si(0.0, "s")
    ('2.04 TB/s', '3.5 µs', '275 k', '0 s')
    >>> si(1e280, "s"), si(2.5e-14, "s"), si(999.7e15, "OPS")
    ('1e+280 s', '2.5e-14 s', '1e+18 OPS')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    if value == 0:
        return f"0 {unit}".rstrip()
    magnitude = abs(value)
    prefixes = _PREFIXES if small else [(f, p) for f, p in _PREFIXES if f >= 1]
    for index, (factor, prefix) in enumerate(prefixes):
        if magnitude >= factor or index == len(prefixes) - 1:
            exponent = f"{value / factor:.3g}".partition("e")[2][:1]  # '+' or '-' when .3g needs an exponent
            if (exponent, index) in (("+", 0), ("-", len(prefixes) - 1)):  # beyond the largest / smallest prefix
                return f"{value:.3g} {unit}".rstrip()
            text = _mantissa(value / factor)
            if abs(float(text)) >= 1000 and index > 0:  # 999.7e9 rounds to 1000 G: one prefix up
                factor, prefix = prefixes[index - 1]
                text = _mantissa(value / factor)
            return f"{text} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()  # pragma: no cover - the loop always returns


def grouped(value: float | None, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits with thousands separators, never in exponent form.

    Parameters
    ----------
    value : float or None
        A count or rate without a unit (tokens, tokens/s).
    digits : int, optional
        Significant digits kept; whole numbers keep every digit of their integer part.

    Returns
    -------
    str
        Trailing zeros of the decimals dropped; ``'n/a'`` for a missing or non-finite value.

    Examples
    --------
    >>> grouped(19868.4), grouped(126624), grouped(46.13), grouped(45.40), grouped(0.012345)
    ('19,870', '126,624', '46.13', '45.4', '0.01235')
    """
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    if value == 0 or float(value).is_integer():
        return f"{value:,.0f}"
    exponent = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - exponent
    text = f"{round(value, decimals):,.{max(decimals, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def unit_of(column: str) -> str | None:
    """The unit symbol a column name states by its suffix (``latency_s`` -> ``'s'``), None when it states none.

    A ratio (``fps_per_w``, ``ops_per_byte``) states none.
    """
    if column == "bytes":
        return "B"
    if "_per_" in column and not column.endswith(("_ops_per_s", "_bytes_per_s")):
        return None
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return unit
    return None


def format_value(column: str, value: Any) -> str:
    """One table cell of ``column``: SI-prefixed by the column's unit, percentages with one decimal, counts with a
    prefix, ``fps`` with four significant digits, text as is, missing values as ``-``.

    Parameters
    ----------
    column : str
        The column's name, whose suffix gives the unit.
    value : Any
        The cell's value.

    Returns
    -------
    str
        The text of the cell.

    Examples
    --------
    >>> format_value("fps", 595.8537), format_value("efficiency_pct", 38.14), format_value("ops", 7.7e9)
    ('595.9', '38.1 %', '7.7 G')
    """
    if _missing(value):
        return "-"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(format_value(column, v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(column, v)}" for k, v in value.items())
    if isinstance(value, bool) or not isinstance(value, (int, float)) or hasattr(value, "dtype") and \
            not _is_number(value):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return "-"
    unit = unit_of(column)
    if column.endswith("_pct"):
        return f"{number:.1f} %"
    if unit is not None:
        return si(number, unit)
    if column in _COUNTS or column.endswith(("_macs", "_params", "_count")):
        return si(number, small=False)
    if column in ("batch", "kernels", "n", "n_records") or float(number).is_integer() and abs(number) < 1e4:
        return f"{number:.0f}" if float(number).is_integer() else f"{number:.4g}"
    if column.startswith("fps") or column.endswith("_fps"):  # written out up to the largest prefix, P = 1e15
        return f"{number:,.1f}" if 1000 <= abs(number) < 1e15 else f"{number:.4g}"
    return f"{number:.4g}"


def _missing(value: Any) -> bool:
    """None, or pandas' ``NA`` or ``NaT`` (looked up only when pandas is loaded: no value can be them before)."""
    pd = sys.modules.get("pandas")
    return value is None or pd is not None and (value is pd.NA or value is pd.NaT)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def render_table(frame: pd.DataFrame, *, wide: bool = False, width: int = DEFAULT_WIDTH,
                 columns: Sequence[str] | None = None) -> str:
    """``frame`` as an aligned text table with SI-prefixed cells, at most ``width`` characters wide.

    Columns are kept left to right (put the key columns first) while they fit; the rest are left out and a last
    line names how many. Long text cells are cut at :data:`MAX_CELL` characters. Numbers are right-aligned.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to show, raw values (SI base units named by the column suffixes).
    wide : bool, optional
        Show every column and every cell in full, whatever the width.
    width : int, optional
        Widest line, in characters.
    columns : sequence of str, optional
        Columns to show, in order (default: all of ``frame``'s).

    Returns
    -------
    str
        The table, lines joined with newlines (no trailing newline).

    Examples
    --------
    >>> import pandas as pd
    >>> print(render_table(pd.DataFrame({"hardware": ["A100-SXM4-40GB"], "latency_s": [1.25e-3]})))
    hardware        latency_s
    A100-SXM4-40GB    1.25 ms
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    names = [c for c in (columns if columns is not None else frame.columns) if c in frame.columns]
    cells: dict[str, list[str]] = {}
    right: dict[str, bool] = {}
    for name in names:
        values = frame[name].tolist()
        text = [format_value(name, v) for v in values]
        cells[name] = text if wide else [_cut(t, MAX_CELL) for t in text]
        right[name] = is_numeric_dtype(frame[name]) and not is_bool_dtype(frame[name])
    shown: list[str] = []
    used = 0
    for name in names:
        col_width = max([len(name), *(len(t) for t in cells[name])])
        extra = col_width + (2 if shown else 0)
        if not wide and shown and used + extra > width:
            continue
        shown.append(name)
        used += extra
    widths = {n: max([len(n), *(len(t) for t in cells[n])]) for n in shown}

    def line(items: Iterable[tuple[str, str]]) -> str:
        return "  ".join(t.rjust(widths[n]) if right[n] else t.ljust(widths[n]) for n, t in items).rstrip()

    lines = [line((n, n) for n in shown)]
    lines += [line((n, cells[n][i]) for n in shown) for i in range(len(frame))]
    hidden = len(names) - len(shown)
    if hidden:
        lines.append(_cut(f"({hidden} more column{'s' if hidden > 1 else ''} with --wide or --format csv|json: "
                          f"{', '.join(n for n in names if n not in shown)})", width))
    return "\n".join(lines)


def render_fields(record: Mapping[str, Any], *, wide: bool = False, width: int = DEFAULT_WIDTH,
                  wrap: bool = False) -> str:
    """One record as ``field  value`` lines (for one prediction or one spec), values as in :func:`render_table`.

    A value longer than the line is cut with ``...`` (``wide``: kept whole), or with ``wrap`` continued on
    indented lines within ``width``.

    Examples
    --------
    >>> print(render_fields({"fps": 797.5, "latency_s": 1.254e-3, "bound": "memory:DRAM"}))
    fps        797.5
    latency_s  1.25 ms
    bound      memory:DRAM
    """
    keys = list(record)
    pad = max((len(k) for k in keys), default=0)
    lines = []
    for key in keys:
        text = format_value(key, record[key])
        if wrap and not wide:
            lines.extend(textwrap.wrap(" ".join(text.split()), width, initial_indent=f"{key.ljust(pad)}  ",
                                       subsequent_indent=" " * (pad + 2)) or [key])
            continue
        if not wide:
            text = _cut(text, max(20, width - pad - 2))
        lines.append(f"{key.ljust(pad)}  {text}".rstrip())
    return "\n".join(lines)


def peaks_text(peaks: Mapping[Any, float]) -> str:
    """Peaks per data type in ops/s, compact: ``int8 624T, fp16 312T`` (keys may be :class:`DType` or text).

    Examples
    --------
    >>> peaks_text({"int8": 624e12, "fp16": 312e12})
    'int8 624T, fp16 312T'
    """
    return ", ".join(f"{getattr(k, 'value', k)} {si(v).replace(' ', '')}" for k, v in peaks.items())


_WS = re.compile(r"\s+")


def one_line(text: str) -> str:
    """``text`` with every run of white space (newlines included) made one space."""
    return _WS.sub(" ", str(text)).strip()


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun`` in agreement, for messages: ``1 layer``, ``2 layers`` (``plural`` when it is not
    ``noun + 's'``).

    >>> counted(1, "row"), counted(3, "row"), counted(2, "entry", "entries")
    ('1 row', '3 rows', '2 entries')
    """
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def listed(names: Sequence[str], limit: int) -> str:
    """The first ``limit`` of ``names`` joined by commas, and how many more there are, for messages.

    >>> listed(["a", "b"], 3), listed(["a", "b", "c", "d", "e"], 3)
    ('a, b', 'a, b, c and 2 more')
    """
    shown_names = ", ".join(names[:limit])
    return shown_names if len(names) <= limit else f"{shown_names} and {len(names) - limit} more"


def absent(path: Path, kind: str = "file") -> str:
    """Why ``path`` cannot be read as a ``kind``: ``'a folder, not a model file'`` or ``'no such model file'``."""
    return f"a folder, not a {kind}" if path.is_dir() else f"no such {kind}"
