"""Typed attributes of an ONNX node (:func:`~rooflinekit.importers._typed.typed_attrs`)."""

from __future__ import annotations

from typing import Any

from rooflinekit.importers._typed import typed_attrs
from rooflinekit.importers.onnx._node import Node


def typed(node: Node, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` of ``node`` validated by the model of ``kind``; a bad value is a ModelFileError naming the node."""
    return typed_attrs(kind, attrs, node.malformed)
