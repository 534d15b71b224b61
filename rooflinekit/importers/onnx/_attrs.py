"""Typed attributes of an ONNX node (:func:`~rooflinekit.descriptors.attrs.frozen_attrs`, its errors as
:func:`~rooflinekit.importers._typed.typed_attrs` reports them)."""

from __future__ import annotations

from typing import Any

from rooflinekit.descriptors.attrs import frozen_attrs
from rooflinekit.errors import SpecError
from rooflinekit.importers._typed import typed_attrs
from rooflinekit.importers.onnx._node import Node


def typed(node: Node, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` of ``node`` validated by the model of ``kind``, read-only (the layer of that kind stores them
    without validating them again); a bad value is a ModelFileError naming the node."""
    try:
        return frozen_attrs(kind, attrs)
    except SpecError:  # a bad value, or a kind without a model: what typed_attrs raises or returns for it
        return typed_attrs(kind, attrs, node.malformed)
