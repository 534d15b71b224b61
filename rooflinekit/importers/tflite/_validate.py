"""Checks of TFLite operators before the op handlers read them.

A flatbuffer edited by hand or by a fuzzer can give the operand of a MAC-carrying op a dim of zero or below (a
filter ``(4, 0, 3, 3)``): the handlers divide channels by such dims. :func:`check_operators` refuses them first as a
:class:`~rooflinekit.errors.ModelFileError` naming the file, the operator, the operand and its shape. (Shapes that
contradict the op's options are refused after import, by :mod:`rooflinekit.importers._semantic`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from rooflinekit._limits import shown
from rooflinekit.errors import ModelFileError
from rooflinekit.importers.tflite._nodes import Node

_CHANNEL_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE",
                          "FULLY_CONNECTED", "BATCH_MATMUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"})


def check_operators(operators: Iterable[Node], path: Path) -> None:
    """Refuse an operand of a conv, pool, fully-connected or matmul operator with a dim below 1.

    Parameters
    ----------
    operators : iterable of Node
        The operators of the main subgraph.
    path : Path
        The model file, for messages.

    Raises
    ------
    ModelFileError
        The first offending operand.
    """
    for node in operators:
        if node.op.custom or node.op.name not in _CHANNEL_OPS:
            continue
        for position, tensor in enumerate(node.inputs):
            if tensor is None or node.op.name == "TRANSPOSE_CONV" and position == 0:  # output shape, a vector
                continue
            if any(d < 1 for d in tensor.shape):
                raise ModelFileError(f"{node.where}: operand {position} {shown(tensor.name)} has shape "
                                     f"{shown(list(tensor.shape))}, with a dim below 1; the file is malformed, "
                                     "export it again", path=path)
