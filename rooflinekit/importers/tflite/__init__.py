"""TFLite importer: a ``.tflite`` flatbuffer -> :class:`~rooflinekit.descriptors.LayerNetwork`.

The file is validated defensively while it is read (:mod:`._reading`): any malformation becomes a
:class:`~rooflinekit.errors.ModelFileError` naming the file. Conventions (the canonical forms of
:mod:`rooflinekit.counters`):

- Graph (:mod:`._scope`): only subgraph 0 (the entry point, usually ``main``) is imported. Further subgraphs are
  bodies of control flow (WHILE, IF) whose cost depends on run-time decisions: loading warns with
  :class:`TFLiteImportWarning` naming them and :func:`subgraph_summary` lists all subgraphs. The init subgraph of
  a ``CALL_ONCE`` (a streaming model's resource-variable setup, run once before the first inference) is no
  per-inference work: it is listed (``initializer``) and not warned about. The control-flow op
  keeps its TFLite name as kind, so the counters report it in ``unsupported_ops``, as they do custom ops (kind =
  the custom code, ``source_op`` = ``CUSTOM``) and builtins missing from :data:`KINDS`.
- Layout (:mod:`._layout`): TFLite feature maps are NHWC. Every rank-4 activation shape is given channels-first
  ``(N, C, H, W)`` and axis attributes (``axis``, ``axes``) are renumbered to match; BATCH_MATMUL operands keep
  TFLite's order with adjoints undone, ``(..., M, K) x (..., K, N)``.
- Batch (:mod:`._scope`): the leading input dim. A leading input dim marked dynamic (-1 in ``shape_signature``) is
  bound to ``batch`` (or the leading dim of ``input_shapes``; 1 when neither is given) and propagated through the
  graph by the shape rules of :mod:`._resize`, the signatures of the other tensors serving where no rule applies (an
  operator whose output follows neither is a :class:`~rooflinekit.errors.ShapeError` naming it). A graph with a
  fixed batch keeps it (``LayerNetwork.batch`` says which); asking for another is a ShapeError. Other
  dynamic dims keep their stored size, with a warning, unless ``input_shapes`` resizes the inputs
  (:mod:`._resize`: shapes propagated operator by operator, as TFLite's ``ResizeInputTensor`` + prepare).
- Weights (:mod:`._nodes`, :mod:`._conv`, :mod:`._ops`): the constant operands (non-empty buffer) of a layer,
  except parameter operands that other formats hold as attributes (RESHAPE's shape, MEAN's axes, PAD's
  paddings, ...: :data:`PARAMETER_OPERANDS`), which are dropped. Conv weights are channels-first; fully connected
  ``(out, in)`` as stored; a BATCH_MATMUL with a constant operand is a fully_connected whose weight ends in K.
  ``TensorSpec.nbytes`` is the buffer's byte length and ``dtype`` the tensor type (int8 weights, int32 biases,
  fp32 tensors of a hybrid model each at their stored size); a buffer shared by tensors counts once per tensor.
  A DEQUANTIZE of a constant (fp16 or int8 weight storage) is folded into its consumer, whose weight then has the
  dequantized shape and the stored dtype and bytes.
- Precision (:mod:`._layers`): per layer from its first weight and first activation, for the network the
  dominant types of its MAC-carrying layers (``int8``, ``fp32`` or hybrid ``W-int8_A-fp32``); activation tensors
  of another type carry it in ``input_dtypes`` / ``output_dtypes``.
- Tensor names: ``Layer.input_names`` / ``output_names`` are the tensors' names (``tensor_<index>`` when unnamed).
- Fused activations are kept as the attribute ``fused_activation``, not as separate layers; layers with a
  quantized first weight carry ``weight_quantization`` = ``per_tensor`` or ``per_channel``. TFLite operators have
  no names: a layer is named ``<builtin or custom code, lower case>_<operator index>`` (``conv_2d_0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from rooflinekit.descriptors import LayerNetwork
from rooflinekit.errors import ModelFileError, ShapeError
from rooflinekit.importers._semantic import check_layers
from rooflinekit.importers.tflite._validate import check_operators
from rooflinekit.importers.tflite._layers import layer, network_precision
from rooflinekit.importers.tflite._nodes import PARAMETER_OPERANDS, nodes
from rooflinekit.importers.tflite._ops import KINDS, map_node
from rooflinekit.importers.tflite._reading import read
from rooflinekit.importers.tflite._records import SubgraphSummary
from rooflinekit.importers.tflite._resize import resize_inputs
from rooflinekit.importers.tflite._scope import (TFLiteImportWarning, batch_of_input_shapes, bind_batch, sizes,
                                                 warn_other_subgraphs)

__all__ = ["KINDS", "PARAMETER_OPERANDS", "SubgraphSummary", "TFLiteImportWarning", "load_tflite",
           "subgraph_summary"]


def load_tflite(path: str | Path, batch: int | None = None,
                input_shapes: Mapping[str, Sequence[int | str]] | None = None) -> LayerNetwork:
    """Import subgraph 0 of the TFLite model at ``path`` (see module doc).

    Parameters
    ----------
    path : str or Path
        The ``.tflite`` file.
    batch : int or None, optional
        The batch, bound to a dynamic leading dim; None (default): the leading dim of ``input_shapes``, else the
        model's own (1 when dynamic). A batch that contradicts a fixed one is a :class:`ShapeError`.
    input_shapes : Mapping of str to sequence of int or str, optional
        Full dims by graph input name, in the file's order (NHWC); the leading dim sets the batch, and other dims
        resize the input, with shapes propagated as TFLite's ``ResizeInputTensor`` and prepare do
        (:mod:`._resize`).

    Returns
    -------
    LayerNetwork
        Its ``batch`` is the batch the layer shapes describe.

    Raises
    ------
    ModelFileError
        A missing, empty, truncated or malformed file.
    ShapeError
        A batch that contradicts ``input_shapes`` or the model's fixed batch, an operator whose output cannot follow
        the batch (no shape rule and no dynamic batch in its output's ``shape_signature``), and shapes rooflinekit
        cannot cost (zero dims, inconsistent conv operands).
    """
    path = Path(path)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ShapeError(f"{path}: batch must be a positive integer or None (the model's own), got {batch!r}")
    model = read(path)
    warn_other_subgraphs(model.subgraphs, path)
    batch = batch_of_input_shapes(model.main, batch, input_shapes or {}, path)
    graph, network_batch = bind_batch(model.main, batch, path)
    if input_shapes:
        graph = resize_inputs(graph, {name: sizes(name, dims, path) for name, dims in input_shapes.items()}, path)
    operators = nodes(graph, path)
    check_operators(operators, path)
    if not operators:
        raise ModelFileError(f"{path}: subgraph 0 has no operators; there is nothing to count")
    mapped = [map_node(node) for node in operators]
    precision = network_precision(operators, mapped)
    layers = tuple(layer(node, made, precision) for node, made in zip(operators, mapped))
    check_layers(layers, path)
    # from_layers: the network's fields checked, not each layer again (validated or exact when built, see layer)
    return LayerNetwork.from_layers(name=path.stem, precision=precision, batch=network_batch, layers=layers,
                                    source=f"{path.name} (TFLite, subgraph 0 '{graph.name}')")


def subgraph_summary(path: str | Path) -> list[SubgraphSummary]:
    """Every subgraph of the model at ``path``: index, name, operator and tensor counts, whether it is counted."""
    return list(read(Path(path)).subgraphs)
