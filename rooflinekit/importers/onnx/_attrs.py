"""Typed attributes of a node: its values checked against the kind's model before they reach the Layer."""

from __future__ import annotations

from typing import Any

from rooflinekit.descriptors.attrs import validate_attrs
from rooflinekit.errors import SpecError
from rooflinekit.importers.onnx._node import Node


def typed(node: Node, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` validated and normalized by the model of ``kind`` (:mod:`rooflinekit.descriptors.attrs`).

    Parameters
    ----------
    node : Node
        The node the attributes were read from, named in the error.
    kind : str
        The canonical kind of the layer the node becomes.
    attrs : dict
        The normalized attributes the handler built.

    Returns
    -------
    dict
        As :func:`~rooflinekit.descriptors.attrs.validate_attrs`.

    Raises
    ------
    ModelFileError
        When a value is out of the model's range (a stride of 0, an unknown resize mode): the file is malformed.
    """
    try:
        return validate_attrs(kind, attrs)
    except SpecError as exc:
        raise node.malformed(f"{str(exc).removesuffix('; fix these values')}; the file is malformed") from None
