"""Tensor and pipeline parallelism of an ONNX decoder export, read from its graph.

A graph does not say how it would be split over devices, so the split is derived from its data flow by the rule
the config path builds directly (Megatron-LM, :mod:`rooflinekit.llm.parallel`), tensor by tensor:

- graph inputs are **whole** (every device holds all of them); the KV cache is **split** by heads;
- a weighted MatMul / Gemm reading a whole tensor is **column-parallel**: each device holds ``1/N`` of its output
  columns and writes ``1/N`` of its output (q/k/v, gate/up projections, the LM head); one reading a split tensor
  is **row-parallel**: ``1/N`` of its input rows, its output a partial sum completed by an **all-reduce** of the
  whole output (attention output and down projections);
- the token embedding (a Gather from a weight table by the token ids: a graph input named like
  :data:`TOKEN_IDS`, or a tensor computed from it without weights) is **vocabulary-parallel**: ``1/N`` of the
  table, its whole output completed by an all-reduce; other tables (rotary, learned positions) are replicated;
- any other layer's output is split when one of its inputs or its state (the cache) is, and the layer then does
  ``1/N`` of the work (attention, softmax, the MLP activation, the head reshapes); otherwise it is replicated
  (norms, residual adds, the mask).

Per device, a split row's ops, weight bytes (a row-parallel layer's bias excepted: added after the all-reduce, whole
on every device), split inputs and outputs, and KV cache are ``1/N`` of the graph's; a split graph output other than
the cache (the logits of a vocabulary-parallel LM head) is **all-gathered**. An elementwise layer meeting a split
and a whole tensor of the same shape (a residual add after an unrecognized projection) has no such split: refused.

**Heads** (``N`` must divide both; a graph does not show how KV heads fewer than ``N`` would be replicated):
the KV heads are axis 1 of each ``(batch, heads, past, head_dim)`` cache input, the query heads axis 1 of the 4-D
outputs of the attention MatMuls (MatMuls without weights reading a split tensor); ``heads`` / ``kv_heads``
supply them where the graph does not show them, and must agree with it where it does.

**Blocks and pipeline stages.** The blocks are the distinct block indices in the cache inputs' names (the ``i``
of ``past_key_values.{i}.key``). With ``A`` row-parallel layers over ``L`` blocks, each block has ``A / L`` all-reduces
(2: attention and MLP; 1: a parallel block) and block ``b`` ends at row-parallel layer ``(b + 1) A / L``; the
layers before the first block's end are block 0 (with the embedding), those after the last block's end the last
block's (final norm, LM head). Stages take consecutive blocks (:func:`~rooflinekit.llm.parallel.stage_blocks`) and
hand the last layer's output of a stage to the next one (point-to-point).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rooflinekit.descriptors import HardwareSpec, LayerNetwork, OpClass, layer_op_class
from rooflinekit.errors import SpecError
from rooflinekit.llm.kv_inputs import DecoderInputs
from rooflinekit.llm.parallel import Parallelism, point_to_point_s, ring_allgather_s, ring_allreduce_s, stage_blocks
from rooflinekit.roofline import CountedNetwork

COLUMN, ROW, VOCAB, SPLIT, WHOLE = "column", "row", "vocab", "split", "whole"
"""Row roles: column- or row-parallel weighted GEMM, vocabulary-parallel embedding, split or replicated layer."""

TOKEN_IDS = re.compile(r"(?i)^(input_?ids|token_?ids|tokens|ids)$")
"""Graph input names taken for the token ids the embedding looks up."""

_CACHE_OUTPUT = re.compile(r"(?i)present|past|cache")
_BLOCK_INDEX = re.compile(r"\d+")


@dataclass(frozen=True, eq=False)
class GraphSplit:
    """How the R layers of an imported decoder split under tensor parallelism (module docstring).

    Attributes
    ----------
    role : (R,) ndarray of str
        :data:`COLUMN`, :data:`ROW`, :data:`VOCAB`, :data:`SPLIT` or :data:`WHOLE`.
    input_split : tuple of tuple of bool
        Per layer, which of its inputs are split.
    output_split : (R,) ndarray of bool
        Layers whose outputs are split.
    gathered : (R,) ndarray of bool
        Layers whose split output leaves the graph (not a cache output): all-gathered.
    region : (R,) ndarray of int
        The connected split region of each split layer (a column-parallel layer opens one, the row-parallel layers
        reading it close it); -1 for whole layers other than row-parallel ones.
    attention_regions : frozenset of int
        Regions holding a layer that reads the KV cache.
    heads : int or None
        Query heads read from the attention MatMuls; None when none is 4-D.
    """

    role: np.ndarray
    input_split: tuple[tuple[bool, ...], ...]
    output_split: np.ndarray
    gathered: np.ndarray
    region: np.ndarray
    attention_regions: frozenset[int]
    heads: int | None

    @property
    def all_reduced(self) -> np.ndarray:
        """(R,) bool: layers whose output an all-reduce completes (row-parallel GEMMs, embeddings)."""
        return np.isin(self.role, [ROW, VOCAB])


def graph_split(network: LayerNetwork) -> GraphSplit:
    """Derive the tensor-parallel split of an imported decoder whose cache is layer state (module docstring).

    Parameters
    ----------
    network : LayerNetwork
        From :func:`~rooflinekit.llm.kv_inputs.load_decoder` (layers name their tensors, the cache is ``state``).

    Returns
    -------
    GraphSplit

    Raises
    ------
    SpecError
        A layer meeting a split and a whole tensor of the same shape (the graph has no Megatron split).
    """
    split: dict[str, bool] = {}
    region_of: dict[str, int] = {}
    parent: list[int] = []

    def find(r: int) -> int:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    def new_region() -> int:
        parent.append(len(parent))
        return len(parent) - 1

    n = len(network.layers)
    roles, inputs_split, regions = [], [], np.full(n, -1, dtype=np.int64)
    output_split = np.zeros(n, dtype=bool)
    readers = {name for layer in network.layers for name in layer.input_names}
    produced = {name for layer in network.layers for name in layer.output_names}
    token_ids = {name for name in readers if name not in produced and TOKEN_IDS.search(name)}
    reads_cache = np.zeros(n, dtype=bool)
    heads_seen: set[int] = set()
    for i, layer in enumerate(network.layers):
        flags = tuple(split.get(name, False) for name in layer.input_names)
        inputs_split.append(flags)
        gemm = layer_op_class(layer) == OpClass.GEMM
        if gemm and layer.weights:
            role = ROW if any(flags) else COLUMN
        elif layer.op == "gather" and layer.weights and token_ids.intersection(layer.input_names):
            role = VOCAB
        elif any(flags) or layer.state:
            role = SPLIT
            _refuse_mixed(layer.name, layer.inputs, flags)
            if gemm and len(layer.outputs[0]) == 4:
                heads_seen.add(int(layer.outputs[0][1]))
        else:
            role = WHOLE
        roles.append(role)
        touched = [find(region_of[name]) for name, flag in zip(layer.input_names, flags) if flag]
        if role == COLUMN:
            regions[i] = new_region()
        elif role in (ROW, SPLIT):
            regions[i] = touched[0] if touched else new_region()
            for other in touched[1:]:
                parent[find(other)] = regions[i]
        reads_cache[i] = bool(layer.state)
        if not layer.weights and token_ids.intersection(layer.input_names):
            token_ids.update(layer.output_names)
        output_split[i] = role in (COLUMN, SPLIT)
        for name in layer.output_names:
            split[name] = bool(output_split[i])
            if output_split[i]:
                region_of[name] = int(regions[i])
    region = np.array([find(int(r)) if r >= 0 else -1 for r in regions], dtype=np.int64)
    gathered = np.array([bool(output_split[i]) and any(name not in readers and not _CACHE_OUTPUT.search(name)
                                                       for name in layer.output_names)
                         for i, layer in enumerate(network.layers)], dtype=bool)
    heads = heads_seen.pop() if len(heads_seen) == 1 else None
    return GraphSplit(np.array(roles), tuple(inputs_split), output_split, gathered, region,
                      frozenset(int(r) for r in region[reads_cache]), heads)


def _refuse_mixed(name: str, shapes: tuple[tuple[int, ...], ...], flags: tuple[bool, ...]) -> None:
    """Refuse a layer reading a split and a whole tensor of the same shape (see the module docstring)."""
    split_shapes = {s for s, f in zip(shapes, flags) if f}
    whole_shapes = {s for s, f in zip(shapes, flags) if not f}
    if split_shapes & whole_shapes:
        raise SpecError(f"layer {name!r} combines a head-split tensor with a whole one of the same shape, so the "
                        "graph does not split as tensor parallelism does (a projection without weights, or a "
                        "custom attention op?); use tp=1")


def kv_heads_of(inputs: DecoderInputs) -> int | None:
    """KV heads of the decoder: axis 1 of its ``(batch, heads, past, head_dim)`` cache inputs, when every one of
    them is 4-D with its past on axis 2 and a fixed head count, the same for all; else None."""
    counts = set()
    for name in inputs.cache:
        dims = inputs.dims[name]
        if len(dims) != 4 or inputs.past_axis[name] % 4 != 2 or not isinstance(dims[1], int) or dims[1] < 1:
            return None
        counts.add(dims[1])
    return counts.pop() if len(counts) == 1 else None


def block_count(inputs: DecoderInputs) -> int | None:
    """Blocks of the decoder: the distinct integers in its cache inputs' names (``past_key_values.{i}.key``);
    None when a cache input's name holds none."""
    indices = set()
    for name in inputs.cache:
        found = _BLOCK_INDEX.findall(name)
        if not found:
            return None
        indices.add(int(found[0]))
    return len(indices)


def check_onnx_parallelism(name: str, split: GraphSplit, inputs: DecoderInputs, parallelism: Parallelism,
                           heads: int | None, kv_heads: int | None) -> int:
    """Refuse a split the graph does not show or cannot take; return the decoder's blocks.

    Parameters
    ----------
    name : str
        The file's name, for messages.
    split : GraphSplit
        From :func:`graph_split`.
    inputs : DecoderInputs
        The decoder's graph inputs.
    parallelism : Parallelism
        TP and PP degrees.
    heads, kv_heads : int, optional
        Query and KV heads given by the caller (used where the graph does not show them, checked where it does).

    Returns
    -------
    int
        Blocks L (0 when ``pp == 1`` and the cache names do not give them).

    Raises
    ------
    SpecError
        Under TP: no row-parallel layer, heads unknown (names ``heads`` / ``kv_heads``), given heads
        contradicting the graph, or heads not divisible by ``tp``. Under PP: blocks unknown, all-reduces not
        dividing into the blocks, or more stages than blocks.
    """
    tp, pp = parallelism.tp, parallelism.pp
    all_reduces = int(np.count_nonzero(split.role == ROW))
    if tp > 1:
        if not all_reduces:
            raise SpecError(f"{name}: no weighted MatMul reads a head-split tensor (an attention output or MLP "
                            "down projection), so the graph shows no tensor-parallel split; use tp=1")
        found = {"heads": (split.heads, heads, "query heads", "4-D attention MatMul over the cache"),
                 "kv_heads": (kv_heads_of(inputs), kv_heads, "KV heads",
                              "cache inputs of (batch, heads, past, head_dim) with a fixed head count")}
        for option, (graph, given, label, where) in found.items():
            if graph is None and given is None:
                raise SpecError(f"{name}: the number of {label} cannot be read from the graph (it has no {where}); "
                                f"pass {option}=... (--{option.replace('_', '-')})")
            if graph is not None and given is not None and graph != given:
                raise SpecError(f"{name}: {option}={given} but the graph has {graph} {label}; drop {option} or "
                                "give the graph's count")
            count = graph if graph is not None else given
            assert count is not None
            if count % tp:
                raise SpecError(f"{name}: {count} {label} cannot be split over TP {tp}; use a TP degree dividing "
                                f"{count}")
    blocks = block_count(inputs)
    if pp == 1:
        return blocks or 0
    if blocks is None:
        raise SpecError(f"{name}: the cache inputs {list(inputs.cache)} carry no block index, so the blocks to "
                        "split into pipeline stages are unknown; name them past_key_values.{i}.key / .value or "
                        "use pp=1")
    if not all_reduces or all_reduces % blocks:
        raise SpecError(f"{name}: {all_reduces} attention-output / down projections for {blocks} blocks, so the "
                        "blocks cannot be delimited for pipeline stages; use pp=1")
    if pp > blocks:
        raise SpecError(f"{name}: PP {pp} stages for {blocks} blocks; use at most {blocks}")
    return blocks


def stage_of_rows(split: GraphSplit, blocks: int, pp: int) -> np.ndarray:
    """(R,) pipeline stage of each layer: its block's (module docstring), ``pp`` stages of consecutive blocks."""
    n = len(split.role)
    if pp == 1:
        return np.zeros(n, dtype=np.int64)
    ends = np.flatnonzero(split.role == ROW)
    per_block = len(ends) // blocks
    block_ends = ends[per_block - 1::per_block]
    block = np.minimum(np.searchsorted(block_ends, np.arange(n), side="left"), blocks - 1)
    stage_of_block = np.empty(blocks, dtype=np.int64)
    for stage, members in enumerate(stage_blocks(blocks, pp)):
        stage_of_block[list(members)] = stage
    out: np.ndarray = stage_of_block[block]
    return out


def shard_counted(counted: CountedNetwork, network: LayerNetwork, split: GraphSplit, tp: int) -> CountedNetwork:
    """One device's share of ``counted`` under TP ``tp`` (module docstring): ops, weight bytes, split inputs and
    outputs and state / ``tp`` on split rows. ``tp = 1`` returns ``counted``."""
    if tp == 1:
        return counted
    share = 1.0 / tp
    columns = counted.cost.layer_columns
    frames = float(counted.cost.batch)
    ops_share = np.where(np.isin(split.role, [COLUMN, ROW, SPLIT]), share, 1.0)
    weight_share = np.ones(len(split.role))
    input_share = np.ones(len(split.role))
    for i, layer in enumerate(network.layers):
        sizes = np.array([float(np.prod(s)) for s in layer.inputs])
        if sizes.sum() > 0:
            input_share[i] = float(np.dot(sizes, np.where(split.input_split[i], share, 1.0)) / sizes.sum())
        if split.role[i] == ROW:  # the matrix split by rows, a bias whole
            elements = np.array([float(w.elements) for w in layer.weights])
            weight_share[i] = float((elements[0] * share + elements[1:].sum()) / elements.sum())
        elif split.role[i] != WHOLE:
            weight_share[i] = share
    output_share = np.where(split.output_split, share, 1.0)
    inputs_bytes = columns["input_bytes"].astype(np.float64) / frames * input_share
    outputs_bytes = columns["output_bytes"].astype(np.float64) / frames * output_share
    return replace(counted, ops=counted.ops * ops_share, weight_bytes=counted.weight_bytes * weight_share,
                   activation_bytes=inputs_bytes + outputs_bytes,
                   state_bytes=counted.state_bytes * np.where(split.output_split, share, 1.0),
                   link_bytes=counted.link_bytes * np.roll(output_share, 1))


def communication_s(counted: CountedNetwork, split: GraphSplit, stage_of_row: np.ndarray, device: HardwareSpec,
                    parallelism: Parallelism) -> float:
    """Link time of one pass of the whole (unsharded) ``counted`` network (s): a ring all-reduce over ``tp`` of
    every all-reduced layer's output, a ring all-gather of every gathered output, and a point-to-point transfer of
    the last layer's output of every stage but the last (formulas in :mod:`rooflinekit.llm.parallel`)."""
    link = device.interconnect
    if link is None or parallelism.devices == 1:
        return 0.0
    output_bytes = counted.cost.layer_columns["output_bytes"].astype(np.float64)  # the pass's whole batch
    bandwidth, latency = link.bandwidth_bytes_per_s, link.latency_s
    tp = parallelism.tp
    total = sum(ring_allreduce_s(float(b), tp, bandwidth, latency) for b in output_bytes[split.all_reduced])
    total += sum(ring_allgather_s(float(b), tp, bandwidth, latency) for b in output_bytes[split.gathered])
    last_of_stage = np.flatnonzero(np.diff(stage_of_row) != 0)
    total += sum(point_to_point_s(float(output_bytes[i]), bandwidth, latency) for i in last_of_stage)
    return float(total)
