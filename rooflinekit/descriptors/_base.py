"""Shared pydantic configuration and validators for descriptors.

Validation failures surface as :class:`~rooflinekit.errors.SpecError` (a ``ValueError``), never as pydantic's
``ValidationError``: one line per failed field, ``memories.0.bandwidth_bytes_per_s: must be a positive finite
number, got -1``, the failures kept as ``SpecError.errors`` (see :func:`validation_entries`).
"""

from __future__ import annotations

import math
import re
import typing
from typing import TYPE_CHECKING, Annotated, Any, Mapping, Self, Sequence

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from rooflinekit.descriptors._frozen import deep_freeze
from rooflinekit.descriptors.dtypes import DType
from rooflinekit.errors import SpecError
from rooflinekit.units import Dimension, parse_quantity

_SHOULD = re.compile(r"^[A-Z][a-z]* should ")
_INPUT_REPR_LIMIT = 60


def _model_at(model: type[BaseModel] | None, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The descriptor class that holds the field at ``loc`` (best effort; None when it cannot be told)."""
    for key in loc[:-1]:
        if model is None:
            return None
        if isinstance(key, int) or key not in model.model_fields:
            continue
        model = _first_model(model.model_fields[key].annotation)
    return model


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is not None:  # Union, X | None, Annotated, tuple[...], dict[...]
        for arg in typing.get_args(annotation):
            found = _first_model(arg)
            if found is not None:
                return found
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _INPUT_REPR_LIMIT else text[:_INPUT_REPR_LIMIT - 3] + "..."


def _user_message(error: Mapping[str, Any], model: type[BaseModel] | None, tags: Sequence[str]) -> str:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing; add it"
    if kind == "extra_forbidden":
        holder = _model_at(model, loc)
        known = f" (the fields are {', '.join(holder.model_fields)})" if holder is not None else ""
        return f"unknown field; remove it or check its spelling{known}"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags', ', '.join(map(repr, tags)))}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return f"required field is missing; add it with one of {', '.join(map(repr, tags))}" if tags else \
            "required field is missing; add it"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = _SHOULD.sub("must ", message)
    message = re.sub(r" after validation, not \d+$", "", message)
    value = error.get("input")
    if not loc or isinstance(value, (Mapping, BaseModel)):  # a whole object failed a check across its fields
        return message
    shown = _shown(value)
    if " got " not in message and shown not in message:
        message = f"{message}, got {shown}"
    return message


def validation_entries(exc: ValidationError, model: type[BaseModel] | None = None,
                       tagged: Mapping[str, type[BaseModel]] | None = None) -> tuple[dict[str, Any], ...]:
    """The failures of ``exc`` in the user's terms, one dict per failed field.

    Parameters
    ----------
    exc
        pydantic's error.
    model
        The descriptor class that was validated (names the allowed fields of an unknown field's holder).
    tagged
        For a discriminated union (``NetworkSpec``): its classes by tag. The tag pydantic puts first in each
        location is dropped (``aggregate.params`` -> ``params``).

    Returns
    -------
    tuple of dict
        ``loc`` (tuple), ``field`` (``loc`` dotted, ``""`` for the whole object), ``message``, ``type`` (pydantic's
        error type) and ``input`` (the rejected value). A ``too_short`` error on a list whose items failed is left
        out: the items' errors say why.
    """
    raw = exc.errors(include_url=False, include_context=True)
    locs = [tuple(e["loc"]) for e in raw]
    entries = []
    for error, loc in zip(raw, locs):
        if error["type"] == "too_short" and any(len(o) > len(loc) and o[:len(loc)] == loc for o in locs):
            continue
        holder = model
        if tagged and loc and error["type"] not in ("union_tag_invalid", "union_tag_not_found") and loc[0] in tagged:
            holder, loc = tagged[str(loc[0])], loc[1:]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "kind")
        message = _user_message({**error, "loc": loc}, holder, tuple(tagged or ()))
        entries.append({"loc": loc, "field": ".".join(str(part) for part in loc), "message": message,
                        "type": error["type"], "input": error.get("input")})
    return tuple(entries)


def spec_message(prefix: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """``prefix: field: message`` for one failure; ``prefix: N invalid fields`` and one line per field otherwise."""
    lines = [f"{e['field']}: {e['message']}" if e["field"] else str(e["message"]) for e in entries]
    if len(lines) == 1:
        return f"{prefix}: {lines[0]}"
    return f"{prefix}: {len(lines)} invalid fields\n" + "\n".join(lines)


def spec_error(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None,
               tagged: Mapping[str, type[BaseModel]] | None = None) -> SpecError:
    """The :class:`SpecError` for pydantic's ``exc``: message from :func:`spec_message`, ``field`` the first failed
    field, ``errors`` the :func:`validation_entries`. Raise it ``from None`` to drop pydantic's traceback."""
    entries = validation_entries(exc, model, tagged)
    return SpecError(spec_message(prefix, entries), field=entries[0]["field"] or None if entries else None,
                     errors=entries)


def _prefix(model: type[BaseModel], data: Any) -> str:
    name = data.get("name") if isinstance(data, Mapping) else getattr(data, "name", None)
    return f"{model.__name__} {name!r}" if isinstance(name, str) and name else model.__name__


class Frozen(BaseModel):
    """Immutable descriptor that rejects unknown fields.

    Building one with bad input (``HardwareSpec(...)``, ``HardwareSpec.model_validate(...)``) raises
    :class:`~rooflinekit.errors.SpecError`, one line per failed field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    if not TYPE_CHECKING:  # type checkers keep pydantic's per-field signature
        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise spec_error(exc, _prefix(type(self), data), type(self)) from None

        # tells pydantic this is its own __init__: nested descriptors keep the fast path, and their failures are
        # reported once, by the outermost descriptor, with the full field location
        __init__.__pydantic_base_init__ = True

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """pydantic's ``model_validate``, raising :class:`~rooflinekit.errors.SpecError` on bad input."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise spec_error(exc, _prefix(cls, obj), cls) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """pydantic's ``model_validate_json``, raising :class:`~rooflinekit.errors.SpecError` on bad input."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise spec_error(exc, cls.__name__, cls) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, **kwargs: Any) -> Self:
        """pydantic's ``model_validate_strings``, raising :class:`~rooflinekit.errors.SpecError` on bad input."""
        try:
            return super().model_validate_strings(obj, **kwargs)
        except ValidationError as exc:
            raise spec_error(exc, _prefix(cls, obj), cls) from None


def _positive_finite(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive finite number")  # the message adds ', got <the value as given>'
    return value


def _non_negative_finite(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite number >= 0")  # the message adds ', got <the value as given>'
    return value


def _not_bool(value: Any) -> Any:
    """Refuse a boolean where a number is expected (pydantic's lax mode would read ``true`` as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


UNIT_STRING_SCHEMA: dict[str, Any] = {"type": "string",
                                      "description": "a number with a unit, e.g. '19.2 GB/s', '26 TOPS', '512 KiB'"}
"""JSON Schema of a quantity written as a string with a unit (what :func:`~rooflinekit.units.parse_quantity` reads)."""


class _Quantity(BeforeValidator):
    """A number in SI base units, or a string with a unit parsed into one; booleans refused. Its JSON Schema is
    ``anyOf: [<the number's schema>, <a string with a unit>]``, so the schema says what validation accepts."""

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [handler(schema), UNIT_STRING_SCHEMA]}


def _quantity(dimension: Dimension) -> BeforeValidator:
    def parse(value: Any) -> Any:
        return parse_quantity(value, dimension) if isinstance(value, str) else _not_bool(value)

    return _Quantity(parse)


PositiveFinite = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_positive_finite)]
Bytes = Annotated[float, _quantity("bytes"), AfterValidator(_positive_finite)]
BytesPerS = Annotated[float, _quantity("bytes_per_s"), AfterValidator(_positive_finite)]
OpsPerS = Annotated[float, _quantity("ops_per_s"), AfterValidator(_positive_finite)]
Ops = Annotated[float, _quantity("ops"), AfterValidator(_positive_finite)]
Hertz = Annotated[float, _quantity("hz"), AfterValidator(_positive_finite)]
Watts = Annotated[float, _quantity("w"), AfterValidator(_positive_finite)]
Seconds = Annotated[float, _quantity("s"), AfterValidator(_non_negative_finite)]
"""A duration in seconds, 0 allowed (a fixed overhead or latency): a number or a string with a unit (``5 us``)."""


def _dtype_keys(value: Any) -> Any:
    """Parse the keys of a per-data-type mapping (``{"INT8": ...}`` -> ``{DType.INT8: ...}``); two keys naming
    one type (``int8`` and ``INT8``, ``fp16`` and ``half``) are refused rather than one silently dropped."""
    if not isinstance(value, dict):
        return value
    parsed: dict[DType, Any] = {}
    spelled: dict[DType, Any] = {}
    for key, item in value.items():
        dtype = DType.parse(key)
        if dtype in parsed:
            raise ValueError(f"{spelled[dtype]!r} and {key!r} both name {dtype.value}; keep one")
        parsed[dtype], spelled[dtype] = item, key
    return parsed


PeakTable = Annotated[dict[DType, OpsPerS], BeforeValidator(_dtype_keys), AfterValidator(deep_freeze)]
"""Peak ops/s per data type, read-only (a :class:`~rooflinekit.descriptors._frozen.FrozenDict`)."""
AccuracyTable = Annotated[dict[DType, Annotated[float, BeforeValidator(_not_bool)]], BeforeValidator(_dtype_keys),
                          AfterValidator(deep_freeze)]
"""Accuracy in % per data type, read-only."""
