"""Typed attributes of an operator: its values checked against the kind's model before they reach the Layer."""

from __future__ import annotations

from typing import Any

from rooflinekit.descriptors.attrs import validate_attrs
from rooflinekit.errors import ModelFileError, SpecError
from rooflinekit.importers.tflite._nodes import Node


def typed(node: Node, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` validated and normalized by the model of ``kind`` (:mod:`rooflinekit.descriptors.attrs`).

    Parameters
    ----------
    node : Node
        The operator the attributes were read from, named in the error.
    kind : str
        The canonical kind of the layer the operator becomes.
    attrs : dict
        The normalized attributes the handler built.

    Returns
    -------
    dict
        As :func:`~rooflinekit.descriptors.attrs.validate_attrs` (defaults filled, unknown values left out, so the
        fused activation that :mod:`._layers` adds is kept).

    Raises
    ------
    ModelFileError
        When a value is out of the model's range (a non-finite softmax beta, a negative LRN radius): the file is
        malformed.
    """
    try:
        return validate_attrs(kind, attrs)
    except SpecError as exc:
        raise ModelFileError(f"{node.where}: {str(exc).removesuffix('; fix these values')}; the file is malformed"
                             ) from None
