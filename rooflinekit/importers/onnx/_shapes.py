"""Shape inference on the bound model, and gap rules for outputs it leaves unknown.

Stale ``value_info`` and output types are dropped and ONNX shape inference (``data_prop=True``, non-strict)
re-run; outputs it leaves unknown (custom-domain ops such as ``com.microsoft`` QLinearAdd) are filled by
:data:`_GAP_RULES`, then inference runs again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, shape_inference

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._reading import MALFORMED, attr, malformed_node

Dim = int | str | None
"""A tensor dim: a size, a symbolic name (``batch_size``), or None when unknown."""
Shape = tuple[int, ...]


def declared_dims(value_info: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    """Dims of a tensor value: sizes, dim names, None for a dim with neither; None when the rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple([d.dim_value or (0 if d.HasField("dim_value") else d.dim_param or None) for d in tensor.shape.dim])


class Info(NamedTuple):
    """What shape inference knows of one tensor (a NamedTuple: built for every tensor, it must be cheap)."""

    elem_type: int
    dims: tuple[Dim, ...] | None

    @property
    def known(self) -> bool:
        return self.dims is not None and all(isinstance(d, int) for d in self.dims)


UNKNOWN = Info(TensorProto.UNDEFINED, None)
_ABSENT = Info(TensorProto.UNDEFINED, ())
"""An omitted optional input ('' in node.input): nothing to know."""


def infer(model: onnx.ModelProto, nodes: list[NodeProto], path: Path) -> dict[str, Info]:
    """ONNX shape inference on the bound model, with :data:`_GAP_RULES` filling what it cannot infer."""
    model.graph.ClearField("value_info")
    for output in model.graph.output:
        output.ClearField("type")
    done: set[str] = set()
    while True:
        infos = _run_inference(model, path)
        filled = _fill_gaps(nodes, infos, done, path)
        if not filled:
            return infos
        model.graph.value_info.extend(filled)


def _check_einsum_equations(model: onnx.ModelProto, path: Path) -> None:
    """onnx's shape inference never returns on an Einsum equation with a non-ASCII byte: refuse it first."""
    for node in model.graph.node:
        if node.op_type != "Einsum":
            continue
        for attribute in node.attribute:
            if attribute.name == "equation" and not attribute.s.isascii():
                raise ModelFileError(f"{path}: Einsum node {node.name!r} has a non-ASCII equation "
                                     f"{attribute.s!r}; write it with letters a-z, A-Z, ',', '->' and '...'")


def _run_inference(model: onnx.ModelProto, path: Path) -> dict[str, Info]:
    _check_einsum_equations(model, path)
    try:
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx's C++ errors have no common Python base class
        raise ModelFileError(f"{path}: ONNX shape inference rejected the model: {exc}") from exc
    graph = inferred.graph
    # non-tensors get type 0 and no dims; value_info last, so that a gap filled there beats an untyped output
    infos = {vi.name: Info(vi.type.tensor_type.elem_type, declared_dims(vi))
             for vi in (*graph.output, *graph.input, *graph.value_info)}
    infos.update({t.name: Info(t.data_type, tuple(t.dims)) for t in graph.initializer})
    return infos


# ------------------------------------------------------------------------- gap rules (custom-domain shapes)

_Rule = Callable[[NodeProto, list[Info]], tuple[Dim, ...]]


def _same_as(index: int) -> _Rule:
    """Output shape = shape of input ``index`` (unary ops)."""
    return lambda node, ins: ins[index].dims


def _broadcast_of(a: int, b: int) -> _Rule:
    """Output shape = numpy broadcast of inputs ``a`` and ``b`` (QLinearAdd: A at 0, B at 3)."""
    return lambda node, ins: tuple(np.broadcast_shapes(tuple(ins[a].dims), tuple(ins[b].dims)))


def _global_pool_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """(N, C, *S) -> (N, C, 1, ...); channels_last=1: (N, *S, C) -> (N, 1, ..., C)."""
    dims = ins[0].dims
    if attr(node, "channels_last", 0):
        return (dims[0], *([1] * (len(dims) - 2)), dims[-1])
    return (dims[0], dims[1], *([1] * (len(dims) - 2)))


def _qgemm_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """QGemm (A at 0, B at 3): (M, N) after transA/transB."""
    a, b = ins[0].dims, ins[3].dims
    return (a[1] if attr(node, "transA", 0) else a[0], b[0] if attr(node, "transB", 0) else b[1])


def _qlinear_concat_shape(node: NodeProto, ins: list[Info]) -> tuple[Dim, ...]:
    """QLinearConcat (y_scale, y_zero_point, then (X, scale, zero_point) triples): concat along ``axis``."""
    tensors = [ins[i].dims for i in range(2, len(ins), 3)]
    axis = attr(node, "axis", 0) % len(tensors[0])
    return (*tensors[0][:axis], sum(t[axis] for t in tensors), *tensors[0][axis + 1:])


_GAP_RULES: dict[str, _Rule] = {
    **{op: _same_as(0) for op in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "Gelu", "FastGelu",
                                  "BiasGelu", "QuickGelu", "GroupNormalization")},
    "QLinearAdd": _broadcast_of(0, 3), "QLinearMul": _broadcast_of(0, 3),
    "QLinearGlobalAveragePool": _global_pool_shape, "QGemm": _qgemm_shape, "QLinearConcat": _qlinear_concat_shape,
}
"""Shape rules for ops ONNX shape inference does not know (``com.microsoft``) or leaves open (GroupNormalization,
a function op); output 0 only, of input 0's type."""


def _fill_gaps(nodes: list[NodeProto], infos: dict[str, Info], done: set[str],
               path: Path) -> list[onnx.ValueInfoProto]:
    """value_info for outputs of :data:`_GAP_RULES` ops that inference left unknown while their inputs are known;
    each output is filled once (``done``), so the inference loop ends. A rule that fails on the node's operands or
    attributes (too few inputs, shapes that do not broadcast) reports the node as malformed."""
    filled = []
    for node in nodes:
        rule = _GAP_RULES.get(node.op_type)
        if rule is None or not node.output or node.output[0] in done or infos.get(node.output[0], UNKNOWN).known:
            continue
        ins = [infos.get(name, UNKNOWN) if name else _ABSENT for name in node.input]
        if ins and all(info.known for info in ins):
            done.add(node.output[0])
            try:
                filled.append(helper.make_tensor_value_info(node.output[0], ins[0].elem_type, rule(node, ins)))
            except MALFORMED as exc:
                raise malformed_node(path, node, exc) from exc
    return filled
