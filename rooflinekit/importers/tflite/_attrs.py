"""Typed attributes of a TFLite operator (:func:`~rooflinekit.importers._typed.typed_attrs`)."""

from __future__ import annotations

from typing import Any

from rooflinekit.errors import ModelFileError
from rooflinekit.importers._typed import typed_attrs
from rooflinekit.importers.tflite._nodes import Node


def typed(node: Node, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` of ``node`` validated by the model of ``kind`` (defaults filled, unknown values left out, so the
    fused activation that :mod:`._layers` adds is kept); a bad value is a ModelFileError naming the operator."""
    return typed_attrs(kind, attrs, lambda message: ModelFileError(f"{node.where}: {message}"))
