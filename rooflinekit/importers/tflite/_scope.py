"""What is costed as stored: subgraph 0 only, with its batch bound; :class:`TFLiteImportWarning` otherwise."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

from rooflinekit.importers.tflite._records import Subgraph, SubgraphSummary, Tensor


class TFLiteImportWarning(UserWarning):
    """Part of a TFLite graph is not costed as stored: other subgraphs, a fixed batch, dynamic dims."""


def bind_batch(graph: Subgraph, batch: int, path: Path) -> tuple[Subgraph, int]:
    """Bind dynamic leading dims to ``batch``; return the graph and the batch its shapes describe."""
    def dynamic_batch(t: Tensor) -> bool:
        return len(t.signature) == len(t.shape) > 0 and t.signature[0] == -1

    dynamic_other = sum(1 for t in graph.tensors if -1 in t.signature[1:])
    if dynamic_other:
        warnings.warn(f"{path}: {dynamic_other} tensors have dynamic dims besides the batch; they are costed at "
                      "their stored size (usually 1); re-export the model with static shapes",
                      TFLiteImportWarning, stacklevel=3)
    if any(dynamic_batch(t) for t in graph.tensors):
        tensors = tuple(replace(t, shape=(batch, *t.shape[1:])) if dynamic_batch(t) else t for t in graph.tensors)
        return replace(graph, tensors=tensors), batch
    first = graph.tensors[graph.inputs[0]].shape if graph.inputs else ()
    fixed = first[0] if first else 1
    if batch != fixed:
        warnings.warn(f"{path}: the graph has a fixed batch of {fixed}, so its shapes are kept (LayerNetwork.batch = "
                      f"{fixed}); count batch {batch} with count_network(..., batch={batch}) or predict(..., "
                      f"batch={batch})", TFLiteImportWarning, stacklevel=3)
    return graph, fixed


def warn_other_subgraphs(subgraphs: tuple[SubgraphSummary, ...], path: Path) -> None:
    """Warn, naming them, about the subgraphs besides 0 (control-flow bodies), which are not costed."""
    others = [s for s in subgraphs if not s.counted]
    if others:
        listed = ", ".join(f"{s.index} '{s.name}' ({s.operators} ops)" for s in others)
        warnings.warn(f"{path}: only subgraph 0 is counted; subgraphs {listed} are control-flow bodies whose cost "
                      "depends on run-time iterations (see rooflinekit.importers.tflite.subgraph_summary)",
                      TFLiteImportWarning, stacklevel=3)
