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


def relu_chain(folder: Path, count: int) -> Path:
    """``count`` Relu nodes in a chain on a (1, 4) input, saved as ``chain<count>.onnx`` in ``folder``."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu{i}") for i in range(count)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(f"t{count}", TensorProto.FLOAT, [1, 4])])
    path = folder / f"chain{count}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path
