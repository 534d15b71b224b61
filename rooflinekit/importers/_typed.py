"""Typed attributes of a node: its values checked against the kind's model before they reach the Layer."""

from __future__ import annotations

from typing import Any, Callable

from rooflinekit.descriptors.attrs import validate_attrs
from rooflinekit.errors import ModelFileError, SpecError


def typed_attrs(kind: str, attrs: dict[str, Any], malformed: Callable[[str], ModelFileError]) -> dict[str, Any]:
    """``attrs`` validated and normalized by the model of ``kind`` (:mod:`rooflinekit.descriptors.attrs`).

    Parameters
    ----------
    kind : str
        The canonical kind of the layer the node becomes.
    attrs : dict
        The normalized attributes the importer's handler built.
    malformed : callable
        Builds the error naming the file and the node from a description.

    Returns
    -------
    dict
        As :func:`~rooflinekit.descriptors.attrs.validate_attrs` (defaults filled, unknown values left out).

    Raises
    ------
    ModelFileError
        When a value is out of the model's range (a stride of 0, an unknown resize mode): the file is malformed.
    """
    try:
        return validate_attrs(kind, attrs)
    except SpecError as exc:
        raise malformed(f"{str(exc).removesuffix('; fix these values')}; the file is malformed") from None
