"""Model-file importers: framework graphs -> :class:`~rooflinekit.descriptors.LayerNetwork`.

Importers map framework ops to canonical op kinds and normalize attributes; they never compute costs. An op
they cannot map keeps its source name as its kind, so the counters report it in ``unsupported_ops``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from rooflinekit.descriptors import LayerNetwork
from rooflinekit.display import absent
from rooflinekit.errors import ModelFileError

MODEL_SUFFIXES = (".onnx", ".tflite")


def load_model(path: str | Path, batch: int | None = None,
               input_shapes: Mapping[str, Sequence[int | str]] | None = None,
               branches: Mapping[str, str] | None = None,
               loop_counts: Mapping[str, int] | None = None) -> LayerNetwork:
    """Import ``path`` by its suffix (``.onnx`` or ``.tflite``).

    Parameters
    ----------
    path : str or Path
        The model file.
    batch : int or None, optional
        The batch, i.e. the leading dim of the model's inputs. None (default): the leading dim ``input_shapes``
        gives, else the model's own (1 when symbolic). A batch that disagrees with ``input_shapes`` or with a
        fixed leading dim of the model is a :class:`~rooflinekit.errors.ShapeError`.
    input_shapes : Mapping of str to sequence of int or str, optional
        Input shapes by input name, overriding the model's (a TFLite model's inputs are resized and its shapes
        propagated).
    branches : Mapping of str to str, optional
        ONNX only: the ``If`` branch (``"then"``/``"else"``) to count by node name (default: a constant
        condition's, else the more expensive one, with a warning).
    loop_counts : Mapping of str to int, optional
        ONNX only: trip counts by ``Loop`` node name, for loops whose count is computed at run time, and sequence
        lengths by ``Scan`` node name, for scans whose length is not static.

    Returns
    -------
    LayerNetwork
        The network at that batch (``LayerNetwork.batch``); costs are counted as imported.

    Raises
    ------
    ModelFileError
        A missing file, an unknown suffix, or what the importer raises for an unreadable file.
    ShapeError
        A batch that contradicts ``input_shapes`` or the model, or shapes that cannot be costed.
    """
    path = path if isinstance(path, Path) else Path(path)  # a Path is used as it is (no second parse)
    if not path.is_file():
        raise ModelFileError(f"{path}: {absent(path, 'model file')}", path=path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from rooflinekit.importers.onnx import load_onnx

        return load_onnx(path, batch=batch, input_shapes=input_shapes, branches=branches, loop_counts=loop_counts)
    if suffix == ".tflite":
        from rooflinekit.importers.tflite import load_tflite

        return load_tflite(path, batch=batch, input_shapes=input_shapes)
    transformer = ("; a transformer's config.json is read by 'rooflinekit llm' (rooflinekit.llm.predict_llm, "
                   "rooflinekit.networks.transformer_network in Python)" if suffix == ".json" else "")
    raise ModelFileError(f"{path}: unknown model format {suffix!r}; rooflinekit reads {', '.join(MODEL_SUFFIXES)}"
                         + transformer, path=path)
