"""Operators with their operands resolved (:class:`Node`, what a handler sees) and what a handler decides
(:class:`Mapped`). Operands split into activations (``data``), weights (constants) and parameters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers.tflite._records import Operator, Shape, Subgraph, Tensor

# Input positions that are attributes (shapes, axes, paddings, slice bounds), neither activations nor weights.
PARAMETER_OPERANDS: dict[str, tuple[int, ...]] = {
    "RESHAPE": (1,), "EXPAND_DIMS": (1,), "SQUEEZE": (1,), "PAD": (1,), "PADV2": (1, 2), "MIRROR_PAD": (1,),
    "MEAN": (1,), "SUM": (1,), "REDUCE_MAX": (1,), "REDUCE_MIN": (1,), "REDUCE_PROD": (1,), "ARG_MAX": (1,),
    "ARG_MIN": (1,), "STRIDED_SLICE": (1, 2, 3), "SLICE": (1, 2), "TRANSPOSE": (1,), "TRANSPOSE_CONV": (0,),
    "SPLIT": (0,), "SPLIT_V": (1, 2), "TILE": (1,), "BROADCAST_TO": (1,), "RESIZE_BILINEAR": (1,),
    "RESIZE_NEAREST_NEIGHBOR": (1,), "TOPK_V2": (1,),
}


@dataclass(frozen=True)
class Node:
    """One operator with its operands resolved: ``inputs`` by position (None: omitted optional operand)."""

    where: str  # "<file>: operator <i> (<name>)", the prefix of error messages
    op: Operator
    inputs: tuple[Tensor | None, ...]
    outputs: tuple[Tensor, ...]

    @cached_property
    def _operands(self) -> tuple[list[tuple[int, Tensor]], list[tuple[int, Tensor]]]:
        """(activation operands, weight operands), split once (the layer builder asks for them several times)."""
        params = PARAMETER_OPERANDS.get(self.op.name, ()) if not self.op.custom else ()
        data: list[tuple[int, Tensor]] = []
        weights: list[tuple[int, Tensor]] = []
        for p, t in enumerate(self.inputs):
            if t is not None and p not in params:
                (weights if t.constant else data).append((p, t))
        return data, weights

    def data(self) -> list[tuple[int, Tensor]]:
        """Activation operands (position, tensor); the list is shared, do not change it."""
        return self._operands[0]

    def weights(self) -> list[tuple[int, Tensor]]:
        """Constant operands that are weights (position, tensor); the list is shared, do not change it."""
        return self._operands[1]

    def operand(self, position: int, rank: int | None = None, activation: bool = False) -> Tensor:
        """The operand at ``position``, checked to have ``rank`` dims and, if ``activation``, not be a constant."""
        tensor = self.inputs[position] if position < len(self.inputs) else None
        if tensor is None:
            raise ModelFileError(f"{self.where}: operand {position} is missing; the file is malformed")
        if activation and tensor.constant:
            raise ShapeError(f"{self.where}: operand {position} '{tensor.name}' is a constant; rooflinekit costs "
                             f"{self.op.name} on activations only, fold the constant before importing")
        if rank is not None and len(tensor.shape) != rank:
            raise ModelFileError(f"{self.where}: operand {position} '{tensor.name}' has shape {list(tensor.shape)}, "
                                 f"expected rank {rank}; the file is malformed")
        return tensor

    def output(self, rank: int | None = None) -> Tensor:
        """The first output, checked to have ``rank`` dims."""
        if not self.outputs:
            raise ModelFileError(f"{self.where}: has no output; the file is malformed")
        if rank is not None and len(self.outputs[0].shape) != rank:
            raise ModelFileError(f"{self.where}: output '{self.outputs[0].name}' has shape "
                                 f"{list(self.outputs[0].shape)}, expected rank {rank}; the file is malformed")
        return self.outputs[0]

    def options(self, name: str, required: bool = True) -> dict[str, Any]:
        """The scalar fields of the options called ``name``; {} when absent and not ``required``."""
        if self.op.options_type == name:
            return self.op.options
        if self.op.options_type is None and not required:
            return {}
        raise ModelFileError(f"{self.where}: carries {self.op.options_type or 'no options'}, expected {name}; "
                             "the file is malformed")


@dataclass(frozen=True)
class Mapped:
    """What a handler decides: kind, attributes, canonical weight shapes and input shapes by operand position."""

    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    weight_shapes: dict[int, Shape] = field(default_factory=dict)
    input_shapes: dict[int, Shape] = field(default_factory=dict)
    nhwc: bool = True  # False: keep every shape in TFLite order (matmul operands)
    state: tuple[tuple[Shape, Any], ...] = ()  # (shape, DType) of state the op reads or writes (resource variables)


def nodes(graph: Subgraph, path: Path) -> list[Node]:
    """Operators of ``graph`` with operands resolved; DEQUANTIZE and DENSIFY of a constant are folded into its
    consumers: the weight keeps the dense (output) shape and the stored, sparse bytes (``TensorSpec.nbytes``), so
    both sizes are reported (a DENSIFY then DEQUANTIZE chain folds too)."""
    folded: dict[int, Tensor] = {}
    for op in graph.operators:
        if op.name in ("DEQUANTIZE", "DENSIFY") and len(op.inputs) == len(op.outputs) == 1 and op.inputs[0] >= 0:
            stored = folded.get(op.inputs[0], graph.tensors[op.inputs[0]])
            if stored.constant:
                out = graph.tensors[op.outputs[0]]
                folded[out.index] = replace(out, dtype=stored.dtype, nbytes=stored.nbytes, data=stored.data,
                                            quantization=stored.quantization)

    def tensor(index: int) -> Tensor | None:
        return None if index < 0 else folded.get(index, graph.tensors[index])

    return [Node(where=f"{path}: operator {op.index} ({op.name})", op=op,
                 inputs=tuple(tensor(i) for i in op.inputs), outputs=tuple(graph.tensors[i] for i in op.outputs))
            for op in graph.operators if not (op.outputs and op.outputs[0] in folded)]
