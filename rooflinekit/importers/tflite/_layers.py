"""Layers and precision: one :class:`Layer` per operator, and the network's dominant precision.

A layer's weight type is that of its first weight, its activation type that of its first activation input (else
its first output). The network's precision is the compute precision of its MAC-carrying layers
(:mod:`rooflinekit.importers._precision`; of all layers when none carries MACs): the dominant weight type (by
elements of the layers' first weights) and the dominant activation type (by elements of activation inputs):
``int8``, ``fp32``, or hybrid ``W-int8_A-fp32`` when int8 weights feed float activations. ``Layer.precision``
is set only where a layer differs; a layer without weights takes the network's weight type. An input or output
tensor of another type than the layer's activations carries it in ``input_dtypes`` / ``output_dtypes`` (the float
side of a QUANTIZE or DEQUANTIZE, int32 indices), so its bytes are exact. ``input_names`` / ``output_names`` are the tensors' names
(``tensor_<index>`` for an unnamed one).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from rooflinekit.descriptors import DType, Layer, Precision, TensorSpec
from rooflinekit.importers._precision import MAC_KINDS, PrecisionVotes
from rooflinekit.importers.tflite._layout import nchw
from rooflinekit.importers.tflite._nodes import Node
from rooflinekit.importers.tflite._nodes import Mapped
from rooflinekit.importers.tflite._reading import tflite
from rooflinekit.importers.tflite._records import Tensor

# ActivationFunctionType -> lower-case name (relu6, ...)
_ACTIVATIONS: dict[int, str] = (
    {v: k.lower() for k, v in vars(tflite.ActivationFunctionType).items() if isinstance(v, int)} if tflite else {}
)


def layer(node: Node, mapped: Mapped, network: Precision) -> Layer:
    """The layer of one operator, named ``<op>_<operator index>`` (``conv_2d_0``; TFLite operators are unnamed),
    from what :func:`~rooflinekit.importers.tflite._ops.map_node` made of it."""
    layout = nchw if mapped.nhwc else (lambda shape: shape)
    own = _own_precision(node, network)
    differs = own.weights != network.weights or own.activations != network.activations
    data = [(p, t) for p, t in node.data() if all(t.shape) or not t.shape]  # empty tensors hold no bytes
    outputs = [t for t in node.outputs if all(t.shape) or not t.shape]
    fields = {
        "name": f"{node.op.name.lower()}_{node.op.index}", "op": mapped.kind,
        "source_op": "CUSTOM" if node.op.custom else node.op.name,
        "inputs": tuple(mapped.input_shapes.get(p, layout(t.shape)) for p, t in data),
        "outputs": tuple(layout(t.shape) for t in outputs),
        "input_dtypes": _differing((t.dtype for _, t in data), own.activations),
        "output_dtypes": _differing((t.dtype for t in outputs), own.activations),
        "input_names": tuple(_name(t) for _, t in data), "output_names": tuple(_name(t) for t in outputs),
        # TensorSpec.from_typed validates a spec whose values are not of the exact types it stores
        "weights": tuple(TensorSpec.from_typed({"shape": mapped.weight_shapes.get(p, t.shape), "dtype": t.dtype,
                                                "nbytes": t.nbytes})
                         for p, t in node.weights() if all(t.shape)),
        "state": tuple(TensorSpec.from_typed({"shape": shape, "dtype": dtype}) for shape, dtype in mapped.state),
        "attrs": {**_extra_attrs(node), **mapped.attrs},
        "precision": own if differs else None,
    }
    # Layer.from_typed stores the fields without validating them: only when each already has the exact type and
    # range validation gives it. By construction here: str names (the file's text decoded), DType or None types
    # (one per kept tensor, or ()), TensorSpec weights and state, a shared Precision or None, a dict of attrs with
    # str keys (which from_typed validates for a typed kind, as validation does). What comes from the file or a
    # handler's arithmetic, the kind and the shapes, is checked by _exact; anything else is validated as before
    # (the same layer, or the same error).
    return Layer.from_typed(fields) if _exact(fields) else Layer.model_validate(fields)


def _exact(fields: dict[str, Any]) -> bool:
    """Whether the layer's kind is a non-empty ``str`` and each of its input and output shapes a tuple of positive
    ``int`` (not bool), as :class:`Layer` validation stores them."""
    kind = fields["op"]
    return type(kind) is str and kind != "" and all(
        type(shape) is tuple and all(type(d) is int and d > 0 for d in shape)
        for shape in (*fields["inputs"], *fields["outputs"]))


def _name(tensor: Tensor) -> str:
    """The tensor's name, ``tensor_<index>`` when it has none."""
    return tensor.name or f"tensor_{tensor.index}"


def _differing(dtypes: Iterable[DType | None], activations: DType) -> tuple[DType | None, ...]:
    """Each tensor's type where it differs from the layer's activations (None where not); () when none does."""
    kept = tuple([None if dtype is None or dtype == activations else dtype for dtype in dtypes])
    return kept if kept.count(None) < len(kept) else ()


def _extra_attrs(node: Node) -> dict[str, Any]:
    """``fused_activation`` and ``weight_quantization`` where they apply."""
    attrs: dict[str, Any] = {}
    fused = node.op.options.get("FusedActivationFunction", 0)
    if fused:
        attrs["fused_activation"] = _ACTIVATIONS.get(fused, f"activation_{fused}")
    weights = node.weights()
    if weights and weights[0][1].quantization:
        attrs["weight_quantization"] = weights[0][1].quantization
    return attrs


def _first_weight(node: Node) -> Tensor | None:
    weights = node.weights()
    return weights[0][1] if weights else None


def network_precision(nodes: list[Node], mapped: list[Mapped]) -> Precision:
    """The compute precision of the MAC-carrying operators (of all operators when none carries MACs).

    Parameters
    ----------
    nodes : list of Node
        The operators of subgraph 0.
    mapped : list of Mapped
        What :func:`~rooflinekit.importers.tflite._ops.map_node` made of each.

    Returns
    -------
    Precision
        The dominant weight type (by elements of first weights) and activation type (by elements of activation
        inputs); fp32 when no tensor has a type.
    """
    macs = [node for node, made in zip(nodes, mapped) if made.kind in MAC_KINDS]
    votes = _votes(macs or nodes)
    return votes.winner() or _votes(nodes).winner() or Precision(weights=DType.FP32, activations=DType.FP32)


def _votes(nodes: list[Node]) -> PrecisionVotes:
    votes = PrecisionVotes()
    for node in nodes:
        first = _first_weight(node)
        if first is not None and first.dtype is not None:
            votes.add(first.dtype, first.elements, None, 0)
        for _, tensor in node.data():
            if tensor.dtype is not None:
                votes.add(None, 0, tensor.dtype, tensor.elements)
    return votes


def _own_precision(node: Node, network: Precision) -> Precision:
    """The layer's precision: its first weight's and first activation's types, the network's where unknown."""
    first = _first_weight(node)
    data = node.data()
    activation = data[0][1] if data else (node.outputs[0] if node.outputs else None)
    return _precision(first.dtype if first is not None and first.dtype else network.weights,
                      activation.dtype if activation is not None and activation.dtype else network.activations)


@lru_cache(maxsize=None)
def _precision(weights: DType, activations: DType) -> Precision:
    """One shared (immutable) Precision per pair of types."""
    return Precision(weights=weights, activations=activations)
