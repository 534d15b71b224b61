"""Small ONNX models built in memory for tests (onnx imported when a model is built, so importing this module
needs no onnx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def save_onnx(tmp_path: Path, nodes: list, inputs: dict[str, Any] | list, outputs: list[str], initializers=(),
              opset: int = 17, types: dict[str, int] | None = None, name: str = "m.onnx") -> Path:
    """A one-graph model; ``inputs`` maps names to dims (None: no shape) or is a list of value infos."""
    import onnx
    from onnx import TensorProto, helper

    if isinstance(inputs, dict):
        inputs = [helper.make_tensor_value_info(n, (types or {}).get(n, TensorProto.FLOAT), d)
                  for n, d in inputs.items()]
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
                              initializer=list(initializers))
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def zeros(name: str, *dims: int):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.zeros(dims, np.float32), name)
