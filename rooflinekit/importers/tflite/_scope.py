"""What is costed as stored: subgraph 0 only, with its batch bound; :class:`TFLiteImportWarning` otherwise."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from rooflinekit.errors import ShapeError

from rooflinekit.errors import RooflineWarning
from rooflinekit.importers.tflite._records import Subgraph, SubgraphSummary, Tensor
from rooflinekit.importers.tflite._resize import rebind_batch


class TFLiteImportWarning(RooflineWarning):
    """Part of a TFLite graph is not costed as stored: other subgraphs, dynamic dims besides the batch."""


def batch_of_input_shapes(graph: Subgraph, batch: int | None, input_shapes: Mapping[str, Sequence[int | str]],
                          path: Path) -> int | None:
    """The batch that ``input_shapes`` sets (None when it sets none), checked against ``batch``.

    Parameters
    ----------
    graph : Subgraph
        Subgraph 0.
    batch : int or None
        The batch asked for, None for the model's own.
    input_shapes : Mapping of str to sequence of int or str
        Dims by graph input name, in the file's order (NHWC); the other dims are resized by
        :func:`._resize.resize_inputs`.
    path : Path
        The model file, named in errors.

    Returns
    -------
    int or None
        ``batch``, else the leading dim the shapes give.

    Raises
    ------
    ShapeError
        A name that is no graph input, dims that are not positive integers or not of the stored rank, or a
        leading dim that disagrees with ``batch`` or another input's.
    """
    inputs = {graph.tensors[i].name: graph.tensors[i] for i in graph.inputs}
    unknown = sorted(set(input_shapes) - set(inputs))
    if unknown:
        raise ShapeError(f"{path}: input_shapes names {unknown}, which are not graph inputs; inputs are "
                         f"{list(inputs)}")
    for name, given in input_shapes.items():
        stored = inputs[name].shape
        dims = sizes(name, given, path)
        if len(dims) != len(stored) or not dims:
            raise ShapeError(f"{path}: input_shapes[{name!r}] = {list(given)}, but the input is stored as "
                             f"{list(stored)} (NHWC): give {len(stored)} dims in that order")
        if batch is not None and dims[0] != batch:
            raise ShapeError(f"{path}: batch {batch} and input_shapes[{name!r}] = {list(dims)} disagree: the leading "
                             f"dim of input {name!r} is the batch ({dims[0]}); give the same batch in both, or only "
                             "one of them")
        batch = dims[0]
    return batch


def sizes(name: str, given: Iterable[int | str], path: Path) -> list[int]:
    """``given`` as positive ints (decimal strings accepted); :class:`ShapeError` otherwise."""
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ShapeError(f"{path}: input_shapes[{name!r}] must be a list of dims, got {given!r}")
    sizes = []
    for dim in given:
        if isinstance(dim, str) and dim.strip().isdigit():
            dim = int(dim)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ShapeError(f"{path}: input_shapes[{name!r}] has dim {dim!r}; TFLite shapes are static, give "
                             "positive integers")
        sizes.append(int(dim))
    return sizes


def bind_batch(graph: Subgraph, batch: int | None, path: Path) -> tuple[Subgraph, int]:
    """Bind dynamic leading dims to ``batch`` (None: 1); return the graph and the batch its shapes describe.

    The batch enters at the graph inputs whose ``shape_signature`` marks their leading dim dynamic and is propagated
    operator by operator (:func:`._resize.rebind_batch`: the signature of every tensor need not mark it). A graph
    without such an input has a fixed batch and keeps it; a ``batch`` that contradicts it is a :class:`ShapeError`,
    as is an operator whose output cannot follow the batch.
    """
    def dynamic_batch(t: Tensor) -> bool:
        return len(t.signature) == len(t.shape) > 0 and t.signature[0] == -1

    dynamic_other = sum(1 for t in graph.tensors if -1 in t.signature[1:])
    if dynamic_other:
        warnings.warn(f"{path}: {dynamic_other} tensors have dynamic dims besides the batch; they are costed at "
                      "their stored size (usually 1); re-export the model with static shapes",
                      TFLiteImportWarning, stacklevel=3)
    if any(dynamic_batch(graph.tensors[i]) for i in graph.inputs):
        batch = batch or 1
        bound = {t.index: (batch, *t.shape[1:]) for t in graph.tensors if dynamic_batch(t) and t.shape[0] != batch}
        return (rebind_batch(graph, bound, batch, path) if bound else graph), batch
    first = graph.tensors[graph.inputs[0]] if graph.inputs else None
    fixed = first.shape[0] if first is not None and first.shape else 1
    if batch is not None and batch != fixed:
        stored = f" (input '{first.name or f'tensor_{first.index}'}' is stored as {list(first.shape)}, with no " \
                 "dynamic leading dim in its shape_signature)" if first is not None else ""
        raise ShapeError(f"{path}: batch {batch} contradicts the graph's fixed batch of {fixed}{stored}; import it "
                         f"at its own batch {fixed} (leave batch unset) or export the model with a dynamic batch dim")
    return graph, fixed


def warn_other_subgraphs(subgraphs: tuple[SubgraphSummary, ...], path: Path) -> None:
    """Warn, naming them, about the subgraphs besides 0 (control-flow bodies), which are not costed; a
    ``CALL_ONCE`` initializer is no per-inference work and is not warned about."""
    others = [s for s in subgraphs if not s.counted and not s.initializer]
    if others:
        listed = ", ".join(f"{s.index} '{s.name}' ({s.operators} ops)" for s in others)
        warnings.warn(f"{path}: only subgraph 0 is counted; subgraphs {listed} are control-flow bodies whose cost "
                      "depends on run-time iterations (see rooflinekit.importers.tflite.subgraph_summary)",
                      TFLiteImportWarning, stacklevel=3)
