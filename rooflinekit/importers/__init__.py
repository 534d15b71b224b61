"""Model-file importers: framework graphs -> :class:`~rooflinekit.descriptors.LayerNetwork`.

Importers map framework ops to canonical op kinds and normalize attributes; they never compute costs. An op
they cannot map keeps its source name as its kind, so the counters report it in ``unsupported_ops``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from rooflinekit.descriptors import LayerNetwork
from rooflinekit.errors import ModelFileError

MODEL_SUFFIXES = (".onnx", ".tflite")


def load_model(path: str | Path, batch: int = 1,
               input_shapes: Mapping[str, Sequence[int | str]] | None = None) -> LayerNetwork:
    """Import ``path`` by its suffix (``.onnx`` or ``.tflite``).

    ``batch`` binds a symbolic batch dimension; ``input_shapes`` overrides input shapes by input name.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from rooflinekit.importers.onnx import load_onnx

        return load_onnx(path, batch=batch, input_shapes=input_shapes)
    if suffix == ".tflite":
        from rooflinekit.importers.tflite import load_tflite

        return load_tflite(path, batch=batch)
    raise ModelFileError(f"{path}: unknown model format {suffix!r}; rooflinekit reads {', '.join(MODEL_SUFFIXES)}")
