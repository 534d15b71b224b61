"""NAS-Bench-201 networks from their architecture string.

A NAS-Bench-201 cell is a DAG of 4 nodes; node 0 is the cell's input and node ``j`` (1-3) is the sum of one
operation per earlier node ``i``. The string lists the edges into nodes 1, 2 and 3:
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (``op~i``: the edge from node i). Operations:

================  ==================================================================================================
op                layers (C channels, H x W, batch B; all keep ``(B, C, H, W)``)
================  ==================================================================================================
none              ``mul`` by 0 (``x.mul(0.)``: one op per element) when ``eager``; nothing when ``pruned``
skip_connect      ``identity`` (a view: no ops, no bytes)
nor_conv_1x1      ``relu`` -> ``conv`` 1x1 (no bias) -> ``batch_norm``: ``B C^2 H W`` MACs
nor_conv_3x3      ``relu`` -> ``conv`` 3x3, pad 1 (no bias) -> ``batch_norm``: ``9 B C^2 H W`` MACs
avg_pool_3x3      ``avg_pool`` 3x3, stride 1, pad 1 (padding not counted): ``9 B C H W`` ops
================  ==================================================================================================

Two executions of the same network (:data:`NB201_EXECUTIONS`), since what runs depends on the software stack:

- ``eager``: as NAS-Bench-201's own PyTorch model runs it (xautodl's ``InferCell``, which HELP's CPU and GPU
  latencies measure): every edge runs, ``none`` included (``Zero.forward`` is ``x.mul(0.)``), and node ``j`` is
  Python's ``sum`` of its ``k`` edge tensors, ``k`` binary ``add`` kernels: ``0 + t_1`` (one input, the scalar
  folded in), then ``+ t_2``, ... (layers ``n{j}.add0`` ... ``n{j}.add{k-1}``).
- ``pruned``: the ``none`` edges removed and a node's other terms summed by one ``add`` of that many inputs
  (``n - 1`` ops per element); an edge out of a node that received nothing still runs (on zeros). This is the
  description that explains HW-NAS-Bench's TFLite latencies (Raspberry Pi 4, Pixel 3) best of those tried
  (``benchmarks/fidelity/RESULTS.md``); architectures whose cell output is a constant
  (:func:`nb201_constant_output`) are the exception, measured as if nothing ran.

The edge ``op`` table above is the same in both; only which edges run and how nodes are summed differ.

The whole CIFAR-10 network (Dong and Yang, ICLR 2020; C = 16, N = 5), input ``(B, 3, 32, 32)``:
stem ``conv`` 3x3 3->16 + ``batch_norm``; stage 1: 5 cells at 16 channels, 32x32; a ResNet basic block to 32
channels (``relu-conv3x3/2-bn``, ``relu-conv3x3-bn``; shortcut ``avg_pool`` 2x2/2 -> ``conv`` 1x1; ``add``);
stage 2: 5 cells at 32 channels, 16x16; a basic block to 64; stage 3: 5 cells at 64 channels, 8x8;
``batch_norm`` + ``relu``, ``global_avg_pool``, ``fully_connected`` 64->10 with bias.

Layer names: ``stem.conv``, ``cells.{k}.n{j}_from{i}.{relu|conv|bn|pool|skip|zero}``, ``cells.{k}.n{j}.add{m}``
(k = 0-14; ``add{m}``, eager: sums in the m-th term; ``add``, pruned: the node's one sum),
``reduce{1,2}.{conv_a|conv_b}.{relu|conv|bn}``, ``reduce{r}.shortcut.{pool|conv}``, ``reduce{r}.add``,
``head.{bn|relu|gap|flatten}``, ``classifier``.

NAS-Bench-201's own FLOPs (its ``get_model_infos``) count convolution and FC MACs, the FC bias and pooling
window elements, and nothing for BN, ReLU and adds; :func:`nb201_published_flops` restates that convention on a
counted network.

Networks are cached by (architecture, batch, precision, execution); their layers come from a cache of every edge's
layers at every cell position (5 ops x 6 edges x 15 cells per batch), since a network depends only on its string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from rooflinekit.descriptors import Layer, LayerNetwork, Precision, TensorSpec
from rooflinekit.errors import SpecError

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five NAS-Bench-201 edge operations."""
NB201_EXECUTIONS = ("eager", "pruned")
"""How a stack runs a network (module notes): every edge as PyTorch does, or without its ``none`` edges as
HW-NAS-Bench's TFLite graphs."""
PRUNING_FRAMEWORKS = ("tflite", "tensorflow lite")
"""Software stacks (lower case) whose NAS-Bench-201 graphs run ``pruned``."""

STAGES = ((16, 32), (32, 16), (64, 8))
"""(channels, feature-map side) of the three stages."""
CELLS_PER_STAGE = 5
NUM_CLASSES = 10

Cell = tuple[tuple[tuple[str, int], ...], ...]
"""Per node 1-3, its incoming edges as ``(op, source node)``."""


def parse_nb201_arch(arch: str) -> Cell:
    """Parse a NAS-Bench-201 architecture string.

    Parameters
    ----------
    arch : str
        ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` with ops from :data:`NB201_OPS`.

    Returns
    -------
    Cell
        For nodes 1, 2, 3: a tuple of ``(op, source)`` pairs, one per earlier node, in source order.

    Raises
    ------
    SpecError
        The string does not have 3 nodes with 1, 2 and 3 edges from nodes 0..j-1, or names an unknown op.
    """
    if not isinstance(arch, str):
        raise SpecError(f"a NAS-Bench-201 architecture is a string, got {type(arch).__name__}")
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise SpecError(f"NAS-Bench-201 architecture {arch!r} has {len(nodes)} nodes; write 3 groups joined by '+' "
                        f"as in '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|'")
    cell = []
    for j, node in enumerate(nodes, start=1):
        edges = [e for e in node.strip().strip("|").split("|") if e]
        parsed = []
        for edge in edges:
            op, sep, src = edge.partition("~")
            if not sep or not src.isdigit():
                raise SpecError(f"NAS-Bench-201 architecture {arch!r}: edge {edge!r} is not 'op~source'")
            if op not in NB201_OPS:
                raise SpecError(f"NAS-Bench-201 architecture {arch!r}: unknown op {op!r}; the ops are "
                                f"{', '.join(NB201_OPS)}")
            parsed.append((op, int(src)))
        if sorted(src for _, src in parsed) != list(range(j)):
            raise SpecError(f"NAS-Bench-201 architecture {arch!r}: node {j} needs one edge from each of nodes "
                            f"0..{j - 1}, got sources {[src for _, src in parsed]}")
        cell.append(tuple(sorted(parsed, key=lambda e: e[1])))
    return tuple(cell)


NAME_PREFIX = "NB201 "
"""The prefix of :func:`nb201_network`'s default name, ``NB201 <arch>``."""


def nb201_arch_of(name: object) -> str | None:
    """The architecture string a network name spells, or None when it spells none.

    Parameters
    ----------
    name : object
        A record's or a network's name: an architecture string (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``,
        surrounding spaces ignored) or :func:`nb201_network`'s default name of one, ``NB201 <arch>``.

    Returns
    -------
    str or None
        The architecture string, stripped, when ``name`` has its form (starts and ends with ``|`` and holds an
        ``op~source`` edge); None for any other name (a catalog name, a model file). Only the form is checked:
        a misspelt op is left to :func:`parse_nb201_arch`, so that it is reported, not taken for another name.
    """
    if not isinstance(name, str):
        return None
    text = name.strip()
    text = text[len(NAME_PREFIX):].strip() if text.startswith(NAME_PREFIX) else text
    return text if len(text) > 1 and text.startswith("|") and text.endswith("|") and "~" in text else None


def nb201_constant_output(arch: str) -> bool:
    """Whether a cell's output (node 3) does not depend on its input (node 0): no path of edges other than
    ``none`` leads from node 0 to node 3.

    Then every cell, and so the whole network past the stem, computes a constant. :func:`nb201_network` costs its
    layers as PyTorch runs them (on zeros), but a graph compiler can fold them away: in HW-NAS-Bench's TFLite
    latencies such networks (266 of the 12,500 in ``../shared/data/nb201``) take a median 0.14 ms on the Raspberry
    Pi 4 and 0.05 ms on the Pixel 3 (80 % of them under 1.2 ms on the Raspberry Pi 4), against 26 and 11 ms for
    the others, often faster than their layers' roofline.

    Parameters
    ----------
    arch : str
        The architecture (see :func:`parse_nb201_arch`).

    Returns
    -------
    bool
        True when node 3 is not reachable from node 0 through non-``none`` edges.

    Raises
    ------
    SpecError
        A malformed architecture.
    """
    reached = {0}
    for node, edges in enumerate(parse_nb201_arch(arch), start=1):
        if any(op != "none" and source in reached for op, source in edges):
            reached.add(node)
    return 3 not in reached


def _layer(name: str, op: str, shape: tuple[int, ...], out: tuple[int, ...] | None = None,
           weights: tuple[tuple[int, ...], ...] = (), n_inputs: int = 1, **attrs: Any) -> Layer:
    return Layer(name=name, op=op, inputs=(shape,) * n_inputs, outputs=(out or shape,),
                 weights=tuple(TensorSpec(shape=w) for w in weights), attrs=attrs)


def _relu_conv_bn(prefix: str, x: tuple[int, ...], channels: int, kernel: int, stride: int = 1) -> list[Layer]:
    b, c, h, w = x
    pad = kernel // 2
    y = (b, channels, (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1)
    return [
        _layer(f"{prefix}.relu", "relu", x),
        _layer(f"{prefix}.conv", "conv", x, y, ((channels, c, kernel, kernel),), kernel_shape=(kernel, kernel),
               strides=(stride, stride), pads=(pad,) * 4, bias=False),
        _layer(f"{prefix}.bn", "batch_norm", y, weights=((channels,), (channels,))),
    ]


@lru_cache(maxsize=None)
def _edge_layers(op: str, node: int, source: int, cell_index: int, batch: int) -> tuple[Layer, ...]:
    """The layers of one edge of cell ``cell_index`` (0-14) as it runs (``none``: the eager ``x.mul(0.)``): there
    are only 5 ops x 6 edges x 15 cells of them per batch, so every network is assembled from this cache."""
    channels, side = STAGES[cell_index // CELLS_PER_STAGE]
    x = (batch, channels, side, side)
    prefix = f"cells.{cell_index}.n{node}_from{source}"
    if op == "none":
        return (_layer(f"{prefix}.zero", "mul", x),)
    if op == "skip_connect":
        return (_layer(f"{prefix}.skip", "identity", x),)
    if op == "avg_pool_3x3":
        return (_layer(f"{prefix}.pool", "avg_pool", x, kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1),
                       count_include_pad=False),)
    return tuple(_relu_conv_bn(prefix, x, channels, 1 if op == "nor_conv_1x1" else 3))


@lru_cache(maxsize=None)
def _node_add(node: int, term: int, cell_index: int, batch: int) -> Layer:
    """The binary add summing term ``term`` (0-2) into ``node``'s running sum; term 0 is the eager ``0 + t``
    (one input, the scalar folded in)."""
    channels, side = STAGES[cell_index // CELLS_PER_STAGE]
    return _layer(f"cells.{cell_index}.n{node}.add{term}", "add", (batch, channels, side, side),
                  n_inputs=1 if term == 0 else 2)


def _eager_cell(cell: Cell, k: int, batch: int) -> list[Layer]:
    """Cell ``k``'s layers as PyTorch runs them: every edge, each node a ``sum`` of all its edges."""
    layers: list[Layer] = []
    for node, edges in enumerate(cell, start=1):
        for op, source in edges:
            layers.extend(_edge_layers(op, node, source, k, batch))
        layers.extend(_node_add(node, term, k, batch) for term in range(len(edges)))
    return layers


@lru_cache(maxsize=None)
def _node_sum(node: int, incoming: int, cell_index: int, batch: int) -> tuple[Layer, ...]:
    """The one add summing ``incoming`` tensors into ``node`` (``pruned``; none for a single tensor)."""
    if incoming < 2:
        return ()
    channels, side = STAGES[cell_index // CELLS_PER_STAGE]
    return (_layer(f"cells.{cell_index}.n{node}.add", "add", (batch, channels, side, side), n_inputs=incoming),)


def _pruned_cell(cell: Cell, k: int, batch: int) -> list[Layer]:
    """Cell ``k``'s layers with its ``none`` edges pruned, each node's other terms summed by one add."""
    layers: list[Layer] = []
    for node, edges in enumerate(cell, start=1):
        for op, source in edges:
            if op != "none":
                layers.extend(_edge_layers(op, node, source, k, batch))
        layers.extend(_node_sum(node, sum(op != "none" for op, _ in edges), k, batch))
    return layers


def _basic_block(prefix: str, x: tuple[int, ...], channels: int) -> list[Layer]:
    """NAS-Bench-201's ResNet basic block with stride 2 (reduction between stages)."""
    b, c, h, w = x
    y = (b, channels, h // 2, w // 2)
    pooled = (b, c, h // 2, w // 2)
    return [
        *_relu_conv_bn(f"{prefix}.conv_a", x, channels, 3, stride=2),
        *_relu_conv_bn(f"{prefix}.conv_b", y, channels, 3),
        _layer(f"{prefix}.shortcut.pool", "avg_pool", x, pooled, kernel_shape=(2, 2), strides=(2, 2)),
        _layer(f"{prefix}.shortcut.conv", "conv", pooled, y, ((channels, c, 1, 1),), kernel_shape=(1, 1),
               strides=(1, 1), pads=(0, 0, 0, 0), bias=False),
        _layer(f"{prefix}.add", "add", y, n_inputs=2),
    ]


def nb201_network(arch: str, batch: int = 1, precision: str = "fp32", name: str | None = None,
                  execution: str = "eager") -> LayerNetwork:
    """The NAS-Bench-201 CIFAR-10 network of an architecture string.

    Parameters
    ----------
    arch : str
        The architecture (see :func:`parse_nb201_arch`).
    batch : int
        Images B; the input is ``(B, 3, 32, 32)``.
    precision : str
        Weight and activation precision (``"fp32"``, ``"int8"``, ``"W-int8_A-fp32"``).
    name : str, optional
        Network name; default ``"NB201 <arch>"``.
    execution : {"eager", "pruned"}
        What runs (module notes): ``eager`` as NAS-Bench-201's PyTorch model runs it (the default), ``pruned``
        without its ``none`` edges, as TFLite runs it (:func:`nb201_execution` of a stack).

    Returns
    -------
    LayerNetwork
        The whole network (see the module notes); the same object for the same arguments (cached).

    Raises
    ------
    SpecError
        A malformed architecture, a batch that is not a positive integer or an unknown execution.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")
    _check_execution(execution)
    return _network(parse_nb201_arch(arch), arch.strip(), batch, str(precision), name, execution)


def nb201_execution(framework: object) -> str:
    """How a software stack runs a NAS-Bench-201 network: ``pruned`` for the stacks of :data:`PRUNING_FRAMEWORKS`
    (TFLite), else ``eager`` (PyTorch, and any other stack: the reference model as it is written).

    Parameters
    ----------
    framework : object
        A record's ``framework`` (any case; missing or not a string: ``eager``).

    Returns
    -------
    str
        One of :data:`NB201_EXECUTIONS`.
    """
    known = isinstance(framework, str) and framework.strip().lower() in PRUNING_FRAMEWORKS
    return "pruned" if known else "eager"


def _check_execution(execution: str) -> None:
    """Raise a :class:`SpecError` for an unknown ``execution``."""
    if execution not in NB201_EXECUTIONS:
        raise SpecError(f"unknown NAS-Bench-201 execution {execution!r}; use one of {', '.join(NB201_EXECUTIONS)}")


@lru_cache(maxsize=None)
def _fixed_layers(batch: int) -> tuple[tuple[Layer, ...], tuple[Layer, ...], tuple[Layer, ...], tuple[Layer, ...]]:
    """Stem, the two reduction blocks and the head: the same in every network of a batch."""
    b = batch
    c0 = STAGES[0][0]
    stem = (
        _layer("stem.conv", "conv", (b, 3, 32, 32), (b, c0, 32, 32), ((c0, 3, 3, 3),), kernel_shape=(3, 3),
               strides=(1, 1), pads=(1, 1, 1, 1), bias=False),
        _layer("stem.bn", "batch_norm", (b, c0, 32, 32), weights=((c0,), (c0,))),
    )
    reductions = tuple(tuple(_basic_block(f"reduce{stage}", (b, STAGES[stage - 1][0], STAGES[stage - 1][1],
                                                               STAGES[stage - 1][1]), STAGES[stage][0]))
                       for stage in (1, 2))
    c, side = STAGES[-1]
    x = (b, c, side, side)
    head = (
        _layer("head.bn", "batch_norm", x, weights=((c,), (c,))),
        _layer("head.relu", "relu", x),
        _layer("head.gap", "global_avg_pool", x, (b, c, 1, 1)),
        _layer("head.flatten", "flatten", (b, c, 1, 1), (b, c)),
        _layer("classifier", "fully_connected", (b, c), (b, NUM_CLASSES), ((NUM_CLASSES, c), (NUM_CLASSES,)),
               bias=True),
    )
    return stem, reductions[0], reductions[1], head


def _cell_layers(cell: Cell, batch: int, execution: str = "eager") -> list[Layer]:
    """The layers of the whole network of ``cell``, in order: shared (cached) Layer objects."""
    stem, reduce1, reduce2, head = _fixed_layers(batch)
    build = _eager_cell if execution == "eager" else _pruned_cell
    layers: list[Layer] = list(stem)
    for k in range(len(STAGES) * CELLS_PER_STAGE):
        if k == CELLS_PER_STAGE:
            layers.extend(reduce1)
        elif k == 2 * CELLS_PER_STAGE:
            layers.extend(reduce2)
        layers.extend(build(cell, k, batch))
    layers.extend(head)
    return layers


SOURCE = ("NAS-Bench-201 CIFAR-10 network (Dong and Yang, ICLR 2020; C=16, N=5) built from its architecture string by "
          "rooflinekit.networks.nb201, as described in ../shared/data/nb201/README.md")


@lru_cache(maxsize=1024)
def _network(cell: Cell, arch: str, batch: int, precision: str, name: str | None, execution: str) -> LayerNetwork:
    return LayerNetwork(
        name=name or f"{NAME_PREFIX}{arch}", task="CIFAR-10 classification", batch=batch,
        precision=Precision.parse(precision), layers=tuple(_cell_layers(cell, batch, execution)), source=SOURCE)


def nb201_layer_union(archs: Sequence[str], batch: int = 1, precision: str = "fp32",
                      execution: str = "eager") -> tuple[LayerNetwork, np.ndarray]:
    """Every distinct layer of many NAS-Bench-201 networks once, and which network holds which.

    A network of this space is assembled from at most 5 ops x 6 edges x 15 cells edge layers, the nodes' adds
    and the fixed stem, reductions and head (925 distinct layers for all 15,625 networks run ``eager``), so a
    per-layer quantity of every network (a layer-mode roofline time: each layer's time depends on that layer
    alone) is one evaluation of this union and one matrix product.

    Parameters
    ----------
    archs : sequence of str
        Architecture strings (:func:`parse_nb201_arch`).
    batch : int
        Images per batch B.
    precision : str
        Weight and activation precision.
    execution : {"eager", "pruned"}
        What runs (:func:`nb201_network`).

    Returns
    -------
    union : LayerNetwork
        The distinct layers, renamed ``u<i>`` (names repeat across networks: ``cells.0.n1_from0.conv`` of a 1x1
        and of a 3x3 edge); not a runnable graph, a list of layers.
    incidence : numpy.ndarray
        Shape (len(archs), len(union.layers)), int16: entry [a, i] = how often network a runs union layer i (0 or
        1), so
        ``incidence @ x`` sums a per-layer column x over each network's layers (``nb201_network(arch).layers``
        are exactly the union layers of its row, in network order).

    Raises
    ------
    SpecError
        A malformed architecture, batch or execution (as :func:`nb201_network`), a single string or no
        architecture.
    """
    if isinstance(archs, str):
        raise SpecError(f"nb201_layer_union takes a list of architecture strings, got the string {archs[:60]!r}; "
                        "wrap it in a list")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}")
    if len(archs) == 0:  # a numpy array or pandas Series of strings has no truth value
        raise SpecError("nb201_layer_union needs at least one architecture string, got none")
    positions: dict[int, int] = {}
    layers: list[Layer] = []
    rows: list[list[int]] = []
    _check_execution(execution)
    for arch in archs:
        row = []
        for layer in _cell_layers(parse_nb201_arch(arch), batch, execution):
            if id(layer) not in positions:
                positions[id(layer)] = len(layers)
                layers.append(layer)
            row.append(positions[id(layer)])
        rows.append(row)
    incidence = np.zeros((len(rows), len(layers)), dtype=np.int16)
    for a, row in enumerate(rows):
        np.add.at(incidence[a], row, 1)
    union = LayerNetwork(name=f"NB201 union of {len(rows)} networks", task="CIFAR-10 classification", batch=batch,
                         precision=Precision.parse(precision), source=SOURCE,
                         layers=tuple(layer.model_copy(update={"name": f"u{i}"}) for i, layer in enumerate(layers)))
    return union, incidence


def nb201_published_flops(layers: Any) -> float:
    """NAS-Bench-201's FLOPs convention on a counted network's layer table, in operations per batch.

    ``flops = sum(macs of conv and fully_connected) + FC bias adds + pooling window elements``; BN, ReLU and adds
    are not counted (xautodl's ``get_model_infos``, which NAS-Bench-201 reports in millions as "FLOPs").

    Parameters
    ----------
    layers : pandas.DataFrame
        ``count_network(nb201_network(arch)).layers``.

    Returns
    -------
    float
        The count (divide by 1e6 for NAS-Bench-201's MFLOPs figure).
    """
    pooling = layers["op"].isin(["avg_pool", "max_pool"])
    fc = layers["op"] == "fully_connected"
    return float(layers["macs"].sum() + layers.loc[pooling, "other_ops"].sum() + layers.loc[fc, "other_ops"].sum())
