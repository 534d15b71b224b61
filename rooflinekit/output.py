"""Machine-readable output of the command line: strict JSON and flat CSV cells.

JSON is strict (RFC 8259): a missing or non-finite number is ``null``, never ``NaN`` or ``Infinity``; numpy and
pandas scalars become Python numbers; enums become their values; tuples and sets become lists.
:func:`dumps_json` writes with ``allow_nan=False``, so a value that slips past :func:`to_json_value` fails loudly
instead of writing invalid JSON.

In CSV and table output a list is one cell, its items joined with ``;`` (``A100 40GB;A100-40GB``); a nested
object becomes dotted columns (``peak_ops_per_s.int8``, ``memories.0.name``) where the command flattens it with
:func:`flatten`, else one cell holding its JSON.

An interval is one JSON key, the name ``Prediction`` gives it, holding ``[low, high]`` (``null`` when there is
none): ``latency_interval_s``. A table row splits it into two columns named by :func:`interval_columns`,
``latency_interval_low_s`` and ``latency_interval_high_s`` (:func:`split_interval`, :func:`joined_interval`).

numpy, pandas and pydantic (and the standard ``dataclasses``, ``datetime`` and ``decimal``) are not imported here:
a value can only be of their types once they are loaded, so their types are looked up in ``sys.modules`` (a
command whose output has none of them imports none of them).
"""

from __future__ import annotations

import enum
import json
import math
import sys
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas as pd

LIST_SEPARATOR = ";"
"""Joins the items of a list in one CSV cell."""
INTERVAL = "latency_interval_s"
"""The interval of a calibrated estimate: ``Prediction.latency_interval_s``, s per batch."""


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON data: dict (str keys), list, str, int, float (finite), bool or None.

    Parameters
    ----------
    value
        Any mix of dicts, lists, tuples, sets, scalars (Python, numpy, pandas), enums, dates, paths, pydantic
        models, dataclasses, DataFrames (a list of row dicts) and Series (a dict).

    Returns
    -------
    Any
        The converted value: ``None`` for ``None``, NaN, +-inf, ``pd.NA`` and ``pd.NaT``; enums as their value;
        dates as ISO 8601 text; paths as text.

    Raises
    ------
    TypeError
        For a type that has no JSON form, naming it; convert the value before it reaches the output.
    """
    if value is None or isinstance(value, str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return to_json_value(value.value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    decimal = sys.modules.get("decimal")
    if isinstance(value, float) or decimal is not None and isinstance(value, decimal.Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {_json_key(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_json_value(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.bool_):
        return bool(value)
    if np is not None and isinstance(value, np.integer):
        return int(value)
    if np is not None and isinstance(value, np.floating):  # float64 is a float, caught above
        return to_json_value(float(value))
    if np is not None and isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if np is not None and isinstance(value, np.generic):  # numpy scalars not caught above: datetime64, str_, ...
        return to_json_value(value.item())
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NA or value is pd.NaT):  # before dates: NaT is a datetime
        return None
    if pd is not None and isinstance(value, pd.DataFrame):
        return [to_json_value(row) for row in value.to_dict("records")]
    if pd is not None and isinstance(value, pd.Series):
        return to_json_value(value.to_dict())
    dt = sys.modules.get("datetime")
    if dt is not None and isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if dt is not None and isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return to_json_value(value.model_dump(mode="json"))
    dataclasses = sys.modules.get("dataclasses")
    if dataclasses is not None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot write a {type(value).__name__} value as JSON ({value!r:.80}); convert it to numbers, "
                    "text, lists or dicts first")


def _json_key(key: Any) -> str:
    converted = to_json_value(key)
    return converted if isinstance(converted, str) else json.dumps(converted)


def dumps_json(payload: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``payload`` (through :func:`to_json_value`, written with ``allow_nan=False``).

    Parameters
    ----------
    payload
        What to write.
    indent
        Indentation of nested levels; None writes one line.

    Returns
    -------
    str
        JSON without ``NaN``/``Infinity``.
    """
    return json.dumps(to_json_value(payload), indent=indent, allow_nan=False)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys, for one CSV row.

    ``{"a": {"b": 1}, "m": [{"x": 1}], "l": [1, 2]}`` -> ``{"a.b": 1, "m.0.x": 1, "l": [1, 2]}``: a dict's keys and
    a list of dicts' indices join with ``.``; other lists stay lists (one cell, see :func:`table_cell`).

    Parameters
    ----------
    record
        One JSON object.
    prefix
        Put before every key (used by the recursion).

    Returns
    -------
    dict
        Flat keys to leaf values, in the record's order.
    """
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                flat.update(flatten(item, f"{name}.{index}."))
        else:
            flat[name] = value
    return flat


def table_cell(value: Any, separator: str = LIST_SEPARATOR) -> Any:
    """One CSV or table cell: a list joined with ``separator``, an object as JSON (empty: no value), else as is.

    Parameters
    ----------
    value
        The cell's value.
    separator
        Joins the items of a list (``;`` in CSV).

    Returns
    -------
    Any
        ``value`` unchanged unless it is a list, tuple, set, array or dict.
    """
    if isinstance(value, (list, tuple, set, frozenset)) or _is_array(value):
        items = to_json_value(value if _is_array(value) else list(value))
        return separator.join("" if item is None else item if isinstance(item, str) else json.dumps(item)
                              for item in items)
    if isinstance(value, Mapping):
        return dumps_json(value, indent=None) if value else None
    return value


def _is_array(value: Any) -> bool:
    """Whether ``value`` is a numpy array (looked up only when numpy is loaded: no value can be one before)."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def tabular(frame: pd.DataFrame, separator: str = LIST_SEPARATOR) -> pd.DataFrame:
    """``frame`` with every list or dict cell made one :func:`table_cell` (numeric columns are left alone; a sweep's
    ``notes``, of the ``rooflinekit.notes`` dtype, are tuples of lines like an object column's)."""
    frame = frame.copy()
    for column in frame.columns[(frame.dtypes == object) | (frame.dtypes.astype(str) == "rooflinekit.notes")]:
        frame[column] = frame[column].astype(object).map(lambda v: table_cell(v, separator))
    return frame


def interval_columns(name: str) -> tuple[str, str]:
    """The two table columns of the interval ``name``: ``_low`` and ``_high`` before its unit suffix.

    Parameters
    ----------
    name : str
        The interval's name, ``<quantity>_interval_<unit>`` (``latency_interval_s``) or, for a quantity whose unit
        its name already carries, ``<quantity>_interval`` (``output_tokens_per_s_interval``).

    Returns
    -------
    tuple of (str, str)
        ``(<quantity>_interval_low_<unit>, <quantity>_interval_high_<unit>)``: ``latency_interval_low_s``,
        ``latency_interval_high_s``; ``output_tokens_per_s_interval_low``, ``output_tokens_per_s_interval_high``.
    """
    if name.endswith("_interval"):
        return f"{name}_low", f"{name}_high"
    quantity, _, unit = name.rpartition("_")
    return f"{quantity}_low_{unit}", f"{quantity}_high_{unit}"


def split_interval(record: Mapping[str, Any], name: str = INTERVAL) -> dict[str, Any]:
    """``record`` with its interval ``name`` (``[low, high]`` or None) as the two columns of
    :func:`interval_columns`, in its place (None in both without an interval); a record without ``name`` as is."""
    if name not in record:
        return dict(record)
    low, high = interval_columns(name)
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == name:
            out[low], out[high] = (None, None) if value is None else tuple(value)
        else:
            out[key] = value
    return out


def joined_interval(record: Mapping[str, Any], name: str = INTERVAL) -> dict[str, Any]:
    """``record`` (a table row) with the two columns of the interval ``name`` as the one key ``name``, in the low
    column's place: ``[low, high]``, or None when either end is missing (NaN, None); a row without them as is."""
    low, high = interval_columns(name)
    if low not in record or high not in record:
        return dict(record)
    ends = to_json_value([record[low], record[high]])
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == low:
            out[name] = None if None in ends else ends
        elif key != high:
            out[key] = value
    return out
