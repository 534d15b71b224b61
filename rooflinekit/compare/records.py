"""Measured benchmark records: the typed row model, the DataFrame contract, validation and load reports.

One record is one measurement. The record DataFrame (``RECORD_COLUMNS``, in this order; a loader may append
columns of its own after them, see its ``*Record`` model) is the contract between loaders, the comparator
(:mod:`rooflinekit.compare.align`) and calibration:

=====================  ========  =================================================================================
column                 dtype     meaning and unit
=====================  ========  =================================================================================
``hardware``           str       device as the source spells it; an operating mode is part of the name
                                 (``TX2-maxn``, ``EdgeTPU-fast``). Resolved against the catalog when aligning;
                                 :func:`~rooflinekit.compare.loaders.load_mlperf_tiny` gives the catalog's name
                                 (its ``board`` column keeps the submitted spelling)
``network``            str       network as the source spells it, without pruning suffix
``precision``          str       canonical :class:`~rooflinekit.descriptors.Precision` label (``int8``, ``fp16``,
                                 ``W-int8_A-fp32``); missing = not stated by the source
``pruning_pct``        float     share of channels kept, percent, in (0, 100]; 100 = unpruned
``batch``              int       frames per inference call (DPU threads, streams), >= 1
``framework``          str       software-stack family from :func:`normalize_framework` (``TFLite Micro``,
                                 ``X-CUBE-AI``, ``Plumerai``, ``microTVM``, ``ONNC``, ``Bosch HALE``, ...);
                                 missing = unknown
``framework_version``  str       version of the stack (``7.3.0``, ``2023.05``, ``commit a30942eb03ef``); missing =
                                 unknown
``task``               str       data set or benchmark task (``imagenet``, ``keyword spotting``, ...)
``latency_s``          float     s, wall time of one inference call on ``batch`` frames
``throughput_fps``     float     frames per second
``energy_j``           float     J per frame
``power_w``            float     W, average power drawn while inferring
``accuracy_top1_pct``  float     top-1 accuracy, percent
``source``             str       where the values were read: ``file:line`` or ``file row N``
``notes``              str       assumptions the loader made for this row (e.g. an assumed precision)
=====================  ========  =================================================================================

A ``str`` column has object dtype: ``str`` values, None where missing (``isna`` is True there on pandas 2 and 3).
Every record has at least one of ``latency_s``, ``throughput_fps``, ``energy_j``. Numbers may be given as strings
with a unit (``"12 ms"``, ``"7.4 mJ"``, ``"40 mW"``, ``"5.5 fps"``); they are stored in SI base units.

A record that fails validation is not dropped: :func:`records_frame` returns it in ``rejected`` (the fields as given,
object dtype) with a ``reason``. Two records with the same key (:attr:`Record.KEY_FIELDS`, ``framework_version``
compared as a release: ``8.1``, ``8.1.0`` and ``v8.1`` are one, see :func:`release_keys`) are duplicates: identical
measured values keep the first and reject the rest as exact duplicates; different values reject all of them as
conflicting (repeated runs of one configuration: give one row per configuration, e.g. their median, or pass the
result through :func:`combine_repeats`), the reason listing the first :data:`LISTED_DUPLICATES` values and sources
and the group's size; a reason names the versions as the rows wrote them where they differ.
"""

from __future__ import annotations

import functools
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Iterable, Mapping

import pandas as pd
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails

from rooflinekit._limits import MAX_BATCH, shown
from rooflinekit.display import counted
from rooflinekit.descriptors import Precision
from rooflinekit.errors import PrecisionError, RecordError, UnitError
from rooflinekit.units import Dimension, parse_quantity

FILE_COLUMNS = ["path", "status", "reason"]
FILE_STATUSES = ("read", "unreadable", "skipped")


def is_missing(value: Any) -> bool:
    """True for None, NaN, pandas NA and blank strings."""
    if value is None or isinstance(value, str):
        return value is None or not value.strip()
    if type(value) is float:  # the common cases first: this runs for every cell of every record
        return math.isnan(value)
    if type(value) is int:
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts: present
        return False


# --- framework names ------------------------------------------------------------------------------------------

_FRAMEWORKS: list[tuple[str, str]] = [
    (r"tensorflow\s*lite\s*(for\s*)?micro|tf\s*lite\s*micro|tflite[-_\s]*micro|\btflm\b", "TFLite Micro"),
    (r"x[-_\s]*cube[-_\s]*ai", "X-CUBE-AI"),
    (r"plumerai", "Plumerai"),
    (r"micro\s*tvm|\btvm\b", "microTVM"),
    (r"\bonnc\b", "ONNC"),
    (r"\bhale\b|hardware[-\s]aware\s+lowering\s+engine", "Bosch HALE"),
    (r"\bleip\b", "Latent AI LEIP"),
    (r"hls4ml", "hls4ml"),
    (r"fpga\s*conv\s*net", "fpgaConvNet"),
    (r"\bfinn\b", "FINN"),
    (r"csi[-_\s]*nn", "CSI-NN2"),
    (r"syntiant", "Syntiant"),
    (r"gap\s*flow|gap\s*sdk|nntool", "GAPflow"),
    (r"qualcomm\s+ai", "Qualcomm AI Stack"),
    (r"tensor\s*rt", "TensorRT"),
    (r"open\s*vino", "OpenVINO"),
    (r"vitis[-_\s]*ai|dnndk", "Vitis AI"),
    (r"tensorflow\s*lite|\btflite\b|\btfl\b", "TFLite"),
    (r"py\s*torch|\btorch\b", "PyTorch"),
]
NONE_WORDS = frozenset({"", "n/a", "na", "none", "-", "unknown"})
"""Text that states no value (compared case-folded and stripped): a framework, a system field."""
_COMMIT = re.compile(r"(?:commit[_\s-]*(?:id)?\s*[:=]?\s*|/tree/|/commit/)([0-9a-f]{7,40})\b", re.I)
_URL = re.compile(r"https?://\S+|'[^']*'|\"[^\"]*\"")
_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+){1,3})(?![\w.])", re.I)
_VERSION_WORD = re.compile(r"[\s,;:_-]*(?:version|ver\.?|rel(?:ease)?)?[\s,;:_-]*$", re.I)
"""What precedes a trailing version in an unrecognized stack's name (``FooStack version 2.3``, ``FooStack-1.0``)."""


def normalize_framework(raw: str | None) -> tuple[str | None, str | None]:
    """``(family, version)`` of a raw software-stack name.

    ``'TensorFlow Lite for Microcontrollers v2.3.1'`` -> ``('TFLite Micro', '2.3.1')``,
    ``'X-CUBE-AI v7.3.0'`` -> ``('X-CUBE-AI', '7.3.0')``, ``'Bosch Hardware-Aware Lowering Engine (HALE) version 1.0'``
    -> ``('Bosch HALE', '1.0')``, ``'tflite-micro, https://..., commit_id:a30942eb...'`` -> ``('TFLite Micro',
    'commit a30942eb03ef')``. An unrecognized name is its own family, less a version it ends with (``'FooStack
    v1.0'`` -> ``('FooStack', '1.0')``, so that its releases are one stack); ``''``/``'N/A'`` give ``(None, None)``.
    """
    if raw is None:
        return None, None
    text = str(raw)
    return _normalize_remembered(text) if len(text) <= REMEMBERED_CHARS else _normalize_text(text)


REMEMBERED_CHARS = 256
"""Longest text whose reading (framework, precision) is remembered: a table names a few stacks and precisions in
many rows, and hostile cells of up to the CSV field limit must not stay in memory."""


def _normalize_text(raw: str) -> tuple[str | None, str | None]:
    """:func:`normalize_framework` of a string."""
    if raw.strip().casefold() in NONE_WORDS:
        return None, None
    text = " ".join(raw.split())
    family = next((name for pattern, name in _FRAMEWORKS if re.search(pattern, text, re.I)), None)
    commit = _COMMIT.search(text)
    version = _VERSION.search(_URL.sub(" ", text))
    if family is None:  # unrecognized: the name without its version, so that its releases are one stack
        own = _VERSION.search(text)
        family = (_VERSION_WORD.sub("", text[:own.start()]).strip() or text) if own and own.end() == len(text) \
            else text
    if version:
        return family, version.group(1)
    return family, f"commit {commit.group(1)[:12]}" if commit else None


_normalize_remembered = functools.lru_cache(maxsize=4096)(_normalize_text)
"""The eighteen framework patterns cost more than the rest of a row's validation: each short name is read once."""


# --- field validators -------------------------------------------------------------------------------------------

def _required_text(value: Any) -> str:
    if is_missing(value):
        raise ValueError(f"is required, got {shown(value)}")
    return " ".join(str(value).split())


def _optional_text(value: Any) -> str | None:
    return None if is_missing(value) else " ".join(str(value).split())


def _precision_label(value: Any) -> str | None:
    if is_missing(value):
        return None
    text = str(value)
    label, error = _precision_remembered(text) if len(text) <= REMEMBERED_CHARS else _precision_of(text)
    if error is not None:
        raise ValueError(error)
    return label


def _precision_of(text: str) -> tuple[str | None, str | None]:
    """``(label, None)`` of a precision name, or ``(None, why not)``."""
    try:
        return Precision.parse(text).label, None
    except PrecisionError as exc:
        return None, str(exc)


_precision_remembered = functools.lru_cache(maxsize=4096)(_precision_of)


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {shown(value)}")
    return value


_EXAMPLES: dict[Dimension, str] = {"s": "'12 ms' or 0.012", "j": "'7.4 mJ' or 0.0074", "w": "'40 mW' or 0.04",
                                   "hz": "'120 MHz' or 1.2e8"}


_PLACEHOLDER = re.compile(r"[-\u2013\u2014?x/.]+|n\s*[/.]?\s*a\.?|tbd|unknown|none", re.I)
"""Cells a spreadsheet fills where nothing was measured (``-``, ``--``, ``?``, ``n.a.``, ...): not missing values
(pandas does not read them as missing), so a rejection says what to write instead."""


def _placeholder_hint(value: str) -> str:
    """``'; leave the cell empty ...'`` when ``value`` is a placeholder (:data:`_PLACEHOLDER`), else ``''``."""
    return ("; leave the cell empty (or NA) where nothing was measured" if _PLACEHOLDER.fullmatch(value.strip())
            else "")


def _quantity(dimension: Dimension):
    def parse(value: Any) -> Any:
        if is_missing(value):
            return None
        if isinstance(value, str):
            try:
                return parse_quantity(value, dimension)
            except UnitError:
                raise ValueError(f"cannot read {shown(value)}: unknown number or unit; write e.g. "
                                 f"{_EXAMPLES[dimension]}{_placeholder_hint(value)}") from None
        return _number(value)

    return BeforeValidator(parse)


_FPS = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kM]?)"
                  r"(fps|inf\.?/s(?:ec\.?)?|inferences/s|frames/s|/s|1/s|hz)?\s*$", re.I)


def _throughput(value: Any) -> Any:
    """Frames per second from a number or a string such as ``'5.5 fps'``, ``'5.5 inf./sec.'``, ``'2 kfps'``."""
    if is_missing(value):
        return None
    if not isinstance(value, str):
        return _number(value)
    match = _FPS.match(value)
    if not match or (match.group(2) and not match.group(3)):
        raise ValueError(f"unknown throughput unit in {shown(value)}; write e.g. '5.5 fps', '5.5 inf./sec.' or "
                         f"'2 kfps'{_placeholder_hint(value)}")
    return float(match.group(1)) * {"": 1.0, "k": 1e3, "M": 1e6}[match.group(2)]


def _positive(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"must be a positive finite number, got {shown(value)}")
    return value


def _percent_number(value: Any) -> Any:
    """A percentage from a number or its text (``'71.2'``, ``'71.2%'``); other text is refused in one plain line
    naming the value (pydantic's own float error is not)."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%").strip())
        except ValueError:
            raise ValueError(f"cannot read {shown(value)} as a percentage such as 71.2 or '71.2%'"
                             f"{_placeholder_hint(value)}") from None
    return _number(value)


def _percent(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or not 0 <= value <= 100):
        raise ValueError(f"must be a percentage in [0, 100], got {shown(value)}")
    return value


def _pruning(value: Any) -> Any:
    if is_missing(value):
        raise ValueError(f"is required (share of channels kept, percent; 100 = unpruned), got {shown(value)}")
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"cannot read {shown(value)} as a percentage such as '80%' or 12.5") from None
    return _number(value)


def _pruning_range(value: float) -> float:
    if not math.isfinite(value) or not 0 < value <= 100:
        raise ValueError(f"must be in (0, 100] percent of channels kept, got {shown(value)}")
    return value


def _batch(value: Any) -> Any:
    """A whole number of frames per inference call from a number or its text (``'8'``, ``'8.0'``); anything else
    is refused in one plain line naming the value (pydantic's own int errors are not)."""
    if is_missing(value):
        raise ValueError(f"is required (frames per inference call, 1 if unbatched), got {shown(value)}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"cannot read {shown(value)} as a number; give the frames per inference call, a whole "
                             "number such as 1 or 8") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"must be a whole number of frames per inference call (such as 1 or 8), got "
                             f"{shown(value)}")
        return int(value)
    return _number(value)


def _at_least_one(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be a positive integer, got {shown(value)}")
    if value > MAX_BATCH:  # beyond int64 the whole column could not be built: refuse the row, keep the table
        raise ValueError(f"must be at most {MAX_BATCH}, got {shown(value, 30)}")
    return value


RequiredText = Annotated[str, BeforeValidator(_required_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Seconds = Annotated[float | None, _quantity("s"), AfterValidator(_positive)]
Joules = Annotated[float | None, _quantity("j"), AfterValidator(_positive)]
Watts = Annotated[float | None, _quantity("w"), AfterValidator(_positive)]
Hertz = Annotated[float | None, _quantity("hz"), AfterValidator(_positive)]
FramesPerS = Annotated[float | None, BeforeValidator(_throughput), AfterValidator(_positive)]
Percent = Annotated[float | None, BeforeValidator(_percent_number), AfterValidator(_percent)]
PruningPct = Annotated[float, BeforeValidator(_pruning), AfterValidator(_pruning_range)]
Batch = Annotated[int, BeforeValidator(_batch), AfterValidator(_at_least_one)]
PrecisionLabel = Annotated[str | None, BeforeValidator(_precision_label)]


MEASUREMENT_FIELDS = ("latency_s", "throughput_fps", "energy_j")
"""Fields of which every record gives at least one."""
NO_MEASUREMENT = f"no measurement: give at least one of {', '.join(MEASUREMENT_FIELDS)}"
"""Why a record without any of :data:`MEASUREMENT_FIELDS` is rejected."""


class Record(BaseModel):
    """One measured record; the columns are documented in the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "hardware", "network", "precision", "pruning_pct", "batch", "framework", "framework_version")
    VALUE_FIELDS: ClassVar[tuple[str, ...]] = (
        "latency_s", "throughput_fps", "energy_j", "power_w", "accuracy_top1_pct")

    hardware: RequiredText
    network: RequiredText
    precision: PrecisionLabel = None
    pruning_pct: PruningPct = 100.0
    batch: Batch = 1
    framework: OptionalText = None
    framework_version: OptionalText = None
    task: OptionalText = None
    latency_s: Seconds = None
    throughput_fps: FramesPerS = None
    energy_j: Joules = None
    power_w: Watts = None
    accuracy_top1_pct: Percent = None
    source: RequiredText
    notes: OptionalText = None

    @model_validator(mode="before")
    @classmethod
    def _normalize_framework(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or is_missing(data.get("framework")):
            return data
        family, version = normalize_framework(str(data["framework"]))
        data = {**data, "framework": family}
        if is_missing(data.get("framework_version")):
            data["framework_version"] = version
        return data

    @model_validator(mode="after")
    def _has_measurement(self) -> "Record":
        if all(getattr(self, name) is None for name in MEASUREMENT_FIELDS):
            raise ValueError(NO_MEASUREMENT)
        return self


RECORD_COLUMNS: list[str] = list(Record.model_fields)


# --- frames and reports -----------------------------------------------------------------------------------------

def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """:class:`RecordError` naming the ``columns`` that ``frame`` lacks; ``what`` is a plural noun for its rows
    (``"records"``, ``"predictions"``)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RecordError(f"{what} lack columns {missing}; they have {list(frame.columns)}")


def validation_reason(errors: Iterable[ErrorDetails], field_name: str | None = None) -> str:
    """The ``reason`` of a rejected row from pydantic's ``errors``: ``'field: message'`` per error, joined by
    ``'; '``. ``field_name`` replaces the location of errors raised by one field's validator applied to a list of
    values (whose location is the index in the list)."""
    parts = []
    for error in errors:
        loc = (field_name, *error["loc"][1:]) if field_name else error["loc"]
        where = ".".join(str(part) for part in loc) or "record"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] not in ("value_error", "extra_forbidden", "missing"):
            message = f"{message} (got {shown(error['input'])})"
        if error["type"] == "extra_forbidden":
            message = "unknown column; map it to a record column or leave it out"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _same(a: Any, b: Any) -> bool:
    return (is_missing(a) and is_missing(b)) or a == b


def _describe_key(row: Mapping[str, Any], key_fields: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={shown(row[name])}" for name in key_fields if not is_missing(row[name]))


def release_keys(versions: Iterable[Any]) -> list[Any]:
    """The release of each ``framework_version``, by the rule of
    :func:`~rooflinekit.compare.calibrate.releases.release_key`; each distinct version is read once (a table of many
    rows names a few versions).

    Parameters
    ----------
    versions : Iterable[Any]
        Versions as the records give them (``str``, None where missing).

    Returns
    -------
    list
        One key per version: ``'8.1'``, ``'8.1.0'`` and ``'v8.1'`` give ``'8.1'``; ``'8.10'`` and
        ``'commit a30942eb'`` stay as written; None stays None.
    """
    from rooflinekit.compare.calibrate.releases import release_key  # the one place the rule lives (it imports us)

    versions = list(versions)
    keys = {version: release_key(version) for version in set(versions)}
    return [keys[version] for version in versions]


def split_duplicates(rows: list[dict[str, Any]], model: type[Record]) -> tuple[list[int], list[dict]]:
    """Indices of the ``rows`` kept (in order) and the rows rejected as duplicates, each with its ``reason``.

    Rows are duplicates when their key fields are equal, ``framework_version`` compared as releases
    (:func:`release_keys`: ``8.1`` and ``8.1.0`` collide). Unique keys are kept; the first of exact duplicates is
    kept; every member of a conflicting group is rejected. A reason names the versions as each row wrote them
    where they differ.
    """
    releases = release_keys(row["framework_version"] for row in rows)
    version_at = model.KEY_FIELDS.index("framework_version")
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        key = [row[name] for name in model.KEY_FIELDS]
        key[version_at] = releases[index]
        groups.setdefault(tuple(key), []).append(index)
    kept, rejected = [], []
    for members in groups.values():
        if len(members) == 1:
            kept.append(members[0])
            continue
        first = rows[members[0]]
        differing = [name for name in model.VALUE_FIELDS
                     if not all(_same(rows[i][name], first[name]) for i in members)]
        key = _describe_key(first, model.KEY_FIELDS)
        if not differing:
            kept.append(members[0])
            rejected += [{**rows[i], "reason": f"exact duplicate of {first['source']} (key {key})"
                          + _spelled(rows[i]["framework_version"], first["framework_version"])}
                         for i in members[1:]]
            continue
        detail = "; ".join(f"{name} " + _listed([repr(rows[i][name]) for i in members[:LISTED_DUPLICATES]],
                                                len(members), " vs ") for name in differing)
        sources = _listed([rows[i]["source"] for i in members[:LISTED_DUPLICATES]], len(members), ", ")
        spellings = list(dict.fromkeys(rows[i]["framework_version"] for i in members))
        written = _listed([shown(v) for v in spellings[:LISTED_DUPLICATES]], len(spellings), ", ")
        versions = f"; framework_version {written} are one release" if len(spellings) > 1 else ""
        reason = f"{CONFLICTING} of key ({key}): {detail} (sources {sources}){versions}"  # one per group
        rejected += [{**rows[i], "reason": reason} for i in members]
    return sorted(kept), rejected


def _spelled(version: Any, first: Any) -> str:
    """``"; framework_version '8.1.0' is the release written '8.1' there"`` when a duplicate wrote the version of the
    row it duplicates otherwise, else ``''``."""
    return "" if version == first else \
        f"; framework_version {shown(version)} is the release written {shown(first)} there"


CONFLICTING = "conflicting duplicates"
"""How the reason of every member of a conflicting duplicate group begins (:func:`split_duplicates`)."""


def combine_repeats(loaded: LoadResult, model: type[Record] = Record) -> LoadResult:
    """``loaded`` with each group of conflicting duplicates read as repeated runs of one configuration: the group's
    first row (in ``loaded.rejected``'s order) becomes a record whose differing measured values are the medians of
    the group's, and the other rows stay rejected, each with the reason ``repeated run: combined into the median
    of N runs of <first source>``. Every row is still a record or a rejected row with its reason.

    Parameters
    ----------
    loaded : LoadResult
        What a loader returned.
    model : type of Record
        The record model its rows were validated against.

    Returns
    -------
    LoadResult
        The records of ``loaded`` followed by one per group, its rejected rows less those records, its files.

    Notes
    -----
    For each value field (:attr:`Record.VALUE_FIELDS`) that differs within a group, the median of the members'
    values that are given (missing ones are left out; none given stays missing). Why the median: a run disturbed by
    something else (a cold cache, a background job) moves it less than a mean.
    """
    rejected = loaded.rejected
    conflicting = rejected["reason"].astype(str).str.startswith(CONFLICTING) if len(rejected) else \
        pd.Series([], dtype=bool)
    if not conflicting.any():
        return loaded
    rows = rejected[conflicting].drop(columns="reason").to_dict("records")
    rows = [{name: None if isinstance(value, float) and math.isnan(value) else value for name, value in row.items()}
            for row in rows]
    releases = release_keys(row.get("framework_version") for row in rows)
    version_at = model.KEY_FIELDS.index("framework_version")
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        key = [row.get(name) for name in model.KEY_FIELDS]
        key[version_at] = releases[index]
        groups.setdefault(tuple(None if is_missing(k) else k for k in key), []).append(index)
    combined, repeats = [], []
    for members in groups.values():
        first = dict(rows[members[0]])
        for name in model.VALUE_FIELDS:
            given = [rows[i][name] for i in members if not is_missing(rows[i].get(name))]
            first[name] = float(pd.Series(given, dtype=float).median()) if given else None
        note = f"median of {len(members)} repeated runs"
        first["notes"] = f"{first['notes']}; {note}" if not is_missing(first.get("notes")) else note
        combined.append(first)
        reason = f"repeated run: combined into the median of {len(members)} runs of {first['source']}"
        repeats += [{**rows[i], "reason": reason} for i in members[1:]]
    records = pd.concat([loaded.records, typed_frame(combined, model)], ignore_index=True)
    others = rejected[~conflicting.to_numpy()]
    kept_rejected = pd.concat([others, rejected_frame(repeats, model)], ignore_index=True) if len(others) else \
        rejected_frame(repeats, model)
    return LoadResult(records, kept_rejected, loaded.files)


LISTED_DUPLICATES = 5
"""Most members of a conflicting group whose values and sources its reason lists: a table of repeated runs (thousands
of rows with one key) must not give each row a reason that lists them all (memory quadratic in the group's size)."""


def _listed(items: list[str], count: int, separator: str) -> str:
    """The first ``items`` of ``count`` joined by ``separator``, ``'... (count in all)'`` when some are left out."""
    return separator.join(items) + (f"{separator}... ({count} in all)" if count > len(items) else "")


def _dtype(annotation: Any) -> str | None:
    """The column dtype of a field: float64, int64, boolean, or None for text."""
    if typing.get_origin(annotation) is typing.Literal:
        return None
    args = {a for a in typing.get_args(annotation) if a is not type(None)} or {annotation}
    base = args.pop() if len(args) == 1 else str
    return {float: "float64", int: "int64", bool: "boolean"}.get(base)


TEXT_COLUMNS: frozenset[str] = frozenset(name for name, info in Record.model_fields.items()
                                         if _dtype(info.annotation) is None)
"""Record columns that hold text: a value given as text (``framework_version=2.10``) is kept as written."""


def text_column(values: Iterable[Any], index: pd.Index | None = None) -> pd.Series:
    """A text column as object dtype: each value as ``str``, a missing one (None, NaN, pandas NA) as None.

    The same on pandas 2 and 3; ``astype(str)`` would write ``'None'`` and ``'nan'`` on pandas 2, and the nullable
    ``string`` dtype compares NA to NA, which a boolean mask cannot hold."""
    return pd.Series([None if _absent(value) else str(value) for value in values], index=index, dtype=object)


def _absent(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def typed_frame(rows: list[dict[str, Any]], model: type[Record]) -> pd.DataFrame:
    """Valid records as a DataFrame with the model's columns and dtypes: float64, int64, boolean, and object for
    text (``str`` values, None where missing, see :func:`text_column`)."""
    frame = pd.DataFrame(rows, columns=list(model.model_fields), dtype=object)
    dtypes = {name: _dtype(info.annotation) for name, info in model.model_fields.items()}
    frame = frame.astype({name: dtype for name, dtype in dtypes.items() if dtype is not None})
    for name, dtype in dtypes.items():
        if dtype is None:
            frame[name] = text_column(frame[name], frame.index)
    return frame


def rejected_frame(rows: list[dict[str, Any]], model: type[Record] = Record) -> pd.DataFrame:
    """Rejected rows (object dtype): the model's columns, any other columns given, then ``reason``."""
    fields = list(model.model_fields)  # read once: the class attribute is slow to look up per cell
    known = {*fields, "reason"}
    extra = dict.fromkeys(name for row in rows for name in row if name not in known)
    columns = fields + list(extra) + ["reason"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def files_frame(entries: Iterable[tuple[str, str, str]]) -> pd.DataFrame:
    """Inventory of the files a loader looked at: ``path``, ``status`` (read, unreadable, skipped), ``reason``."""
    frame = pd.DataFrame(list(entries), columns=FILE_COLUMNS)
    unknown = set(frame.status) - set(FILE_STATUSES)
    if unknown:
        raise RecordError(f"file status must be one of {FILE_STATUSES}, got {sorted(unknown)}")
    return frame.assign(**{name: text_column(frame[name], frame.index) for name in FILE_COLUMNS})


@dataclass(frozen=True)
class LoadResult:
    """What a loader produced: valid ``records``, ``rejected`` rows with a ``reason`` and the ``files`` inventory."""

    records: pd.DataFrame
    rejected: pd.DataFrame
    files: pd.DataFrame = field(default_factory=lambda: files_frame([]))

    @property
    def unreadable_files(self) -> pd.DataFrame:
        """Files that could not be read, with the reason."""
        return self.files[self.files.status == "unreadable"]

    def summary(self) -> str:
        counts = self.files.status.value_counts()
        return (f"{counted(len(self.records), 'record')}, {len(self.rejected)} rejected; files: "
                + ", ".join(f"{int(counts.get(s, 0))} {s}" for s in FILE_STATUSES))


def records_frame(rows: Iterable[Mapping[str, Any]], model: type[Record] = Record,
                  files: pd.DataFrame | None = None, rejected: Iterable[Mapping[str, Any]] = ()) -> LoadResult:
    """Validate ``rows`` against ``model``; invalid and duplicate rows go to ``rejected`` with a ``reason``.

    ``rejected`` takes rows a loader already refused (each with its ``reason``), so that one report holds them all.
    """
    valid: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = [dict(row) for row in rejected]
    for number, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RecordError(f"records_frame: row {number} is a {type(row).__name__} ({shown(row)}), not a mapping "
                              "of column to value; pass dicts (e.g. frame.to_dict('records'))")
        try:
            valid.append(model.model_validate(dict(row)).model_dump())
        except ValidationError as exc:
            refused.append({**row, "reason": validation_reason(exc.errors())})
    kept, duplicates = split_duplicates(valid, model)
    return LoadResult(typed_frame([valid[i] for i in kept], model), rejected_frame(refused + duplicates, model),
                      files if files is not None else files_frame([]))

