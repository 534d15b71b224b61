"""A counted network as per-frame numpy arrays, ready for the roofline on any hardware.

:class:`CountedNetwork` counts a network once (at one precision, one counting convention and one counter
registry) and keeps, per row (a layer; the whole network for an aggregate spec):

- ``ops``: ops per frame (``2 * macs + other_ops``);
- ``weight_bytes``: bytes of constants, read once per batch (not per frame);
- ``activation_bytes``: inputs read plus outputs written per frame, at each tensor's precision;
- ``state_bytes``: state tensors (KV cache, RNN state) read and written per frame;
- ``compute_dtype`` and ``op_class``: what places the row on an engine and picks its peak.

Batch lives only in the roofline: every array is per frame (weights per batch), whatever batch the network's
shapes describe (costs counted at the network's batch N are divided by N).

**Fusion.** Runtimes fuse elementwise, normalization and activation layers into the kernel of the layer that
produces their input. Row ``i`` *can fuse* into row ``i - 1`` when its kind is fusible
(:attr:`~rooflinekit.descriptors.OpKind.fusible`), row ``i - 1`` is a producer (conv, depthwise, gemm,
attention) or itself fused, row ``i - 1`` writes one tensor and row ``i`` reads it: by tensor name where both
layers name their tensors (and then only when no other layer reads that tensor), else when row ``i``'s first
input has the shape of row ``i - 1``'s output. A fused pair keeps both layers' arithmetic and moves no bytes for
the tensor between them: ``link_bytes[i]`` (row ``i - 1``'s output bytes) is neither written by row ``i - 1`` nor
read by row ``i``.
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Collection

import numpy as np

from rooflinekit._limits import shown
from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions, NetworkCost, count_network
from rooflinekit.counters.cost import warn_unsupported
from rooflinekit.descriptors import AggregateNetwork, Layer, LayerNetwork, NetworkSpec, OpClass, OpKind, Precision
from rooflinekit.descriptors import layer_op_class
from rooflinekit.errors import SpecError
from rooflinekit.roofline._remembered import IdentityMemo

if TYPE_CHECKING:
    import pandas as pd

PRODUCER_CLASSES = frozenset({OpClass.CONV, OpClass.DEPTHWISE, OpClass.GEMM, OpClass.ATTENTION})


def network_label(network: NetworkSpec) -> str:
    """Display name: ``ResNet-50`` or ``ResNet-50 80%`` for a pruned variant."""
    return network.name if network.pruning_pct == 100 else f"{network.name} {network.pruning_pct:g}%"


@dataclass(frozen=True, eq=False)
class CountedNetwork:
    """A network counted once, as per-frame arrays of R rows (see the module docstring).

    Build it with :meth:`of`; :func:`~rooflinekit.roofline.predict` and :func:`~rooflinekit.roofline.sweep`
    take it in place of a network to predict it on many hardware specs without counting again.
    """

    spec: NetworkSpec
    cost: NetworkCost
    ops: np.ndarray  # (R,) ops per frame
    weight_bytes: np.ndarray  # (R,) bytes per batch
    activation_bytes: np.ndarray  # (R,) bytes per frame; NaN for an aggregate spec without activation counts
    state_bytes: np.ndarray  # (R,) bytes per frame
    compute_dtype: np.ndarray  # (R,) data type names
    op_class: np.ndarray  # (R,) op class names, "" where unknown
    fuses_into_previous: np.ndarray  # (R,) bool: row i can fuse into row i - 1
    link_bytes: np.ndarray  # (R,) bytes per frame of the tensor between row i - 1 and row i when they fuse

    @classmethod
    def of(cls, network: NetworkSpec, precision: Precision | str | None = None,
           conventions: CountingConventions = CountingConventions(),
           counters: CounterRegistry = DEFAULT_COUNTERS) -> "CountedNetwork":
        """Count ``network`` at ``precision`` (None: its own per-layer precision) into per-frame arrays; a
        ``network`` that is not a spec (a name: resolve it first) is a :class:`~rooflinekit.errors.SpecError`."""
        if not isinstance(network, (LayerNetwork, AggregateNetwork)):
            raise SpecError(f"CountedNetwork.of counts a network spec, got {type(network).__name__} "
                            f"{shown(network)}; pass rooflinekit.get_network(name) or a loaded model file "
                            "(rooflinekit.importers.load_model(path))")
        cost = count_network(network, precision, conventions=conventions, counters=counters)
        if isinstance(network, AggregateNetwork):
            activations = cost.activation_bytes_total
            return cls(
                spec=network, cost=cost, ops=np.array([float(cost.ops_total or 0.0)]),
                weight_bytes=np.array([float(cost.weight_bytes_total or 0.0)]),
                activation_bytes=np.array([np.nan if activations is None else float(activations)]),
                state_bytes=np.zeros(1), compute_dtype=np.array([cost.precision.compute.value]),
                op_class=np.array([""]), fuses_into_previous=np.zeros(1, dtype=bool), link_bytes=np.zeros(1),
            )
        frames = float(cost.batch)
        rows = cost.layer_columns
        output_bytes = rows["output_bytes"].astype(np.float64) / frames
        fuses = _fusible_links(network, rows["output_bytes"])
        return cls(
            spec=network, cost=cost, ops=rows["ops"].astype(np.float64) / frames,
            weight_bytes=rows["weight_bytes"].astype(np.float64),
            activation_bytes=(rows["input_bytes"] + rows["output_bytes"]).astype(np.float64) / frames,
            state_bytes=rows["state_bytes"].astype(np.float64) / frames,
            compute_dtype=rows["compute_dtype"].astype(str),
            op_class=np.array([_class_name(layer) for layer in network.layers]),
            fuses_into_previous=fuses, link_bytes=np.where(fuses, np.roll(output_bytes, 1), 0.0),
        )

    @cached_property
    def known_activation_bytes(self) -> np.ndarray:
        """(R,) :attr:`activation_bytes` with an unknown (NaN) count as 0, bytes per frame."""
        known: np.ndarray = np.nan_to_num(self.activation_bytes)
        return known

    @cached_property
    def class_dtype_pairs(self) -> tuple[tuple[str, str], ...]:
        """The distinct (op class, compute data type) pairs of the rows, in order of first appearance."""
        return tuple(dict.fromkeys(zip(self.op_class.tolist(), self.compute_dtype.tolist())))

    def layers_computing_in(self, dtypes: Collection[str]) -> list[str]:
        """The names of the layers whose compute data type is one of ``dtypes``, in order (none for an aggregate
        network: it has no layers)."""
        if isinstance(self.spec, AggregateNetwork):
            return []
        return [str(name) for name, dtype in zip(self.cost.layer_columns["name"].tolist(), self.compute_dtype.tolist())
                if dtype in dtypes]

    @cached_property
    def row_pair(self) -> np.ndarray:
        """(R,) int: each row's index into :attr:`class_dtype_pairs`."""
        index = {key: i for i, key in enumerate(self.class_dtype_pairs)}
        if len(index) == 1:
            return np.zeros(len(self.ops), dtype=np.int64)
        return np.array([index[key] for key in zip(self.op_class.tolist(), self.compute_dtype.tolist())],
                        dtype=np.int64)

    @property
    def label(self) -> str:
        """The network's display name."""
        return network_label(self.spec)

    @property
    def precision(self) -> Precision:
        """The precision the network was counted at."""
        return self.cost.precision

    @property
    def is_aggregate(self) -> bool:
        """True for a network known only by totals (one row)."""
        return isinstance(self.spec, AggregateNetwork)

    @property
    def layers(self) -> pd.DataFrame:
        """The counted layer rows (at the network's own batch)."""
        return self.cost.layers


COUNT_CACHE_ROWS = 1 << 18
"""Layer rows of the counted networks :func:`count_once` keeps (least recently used dropped first)."""

_counts: IdentityMemo[CountedNetwork] = IdentityMemo(COUNT_CACHE_ROWS, weight=lambda made: len(made.ops))


def count_once(network: NetworkSpec, precision: Precision | str | None = None,
               conventions: CountingConventions = CountingConventions(),
               counters: CounterRegistry = DEFAULT_COUNTERS) -> CountedNetwork:
    """:meth:`CountedNetwork.of`, remembered per (network, precision, conventions, counters): a spec counted at a
    precision is counted once per process, however many sweeps and predictions use it.

    Specs are immutable, so a spec object is its own key (kept alive with its counts); a counter registry too once
    frozen (:meth:`~rooflinekit.counters.CounterRegistry.freeze`): with one that is not, nothing is remembered.
    At most :data:`COUNT_CACHE_ROWS` layer rows are kept, the least recently used dropped first.
    """
    if not counters.frozen:
        return CountedNetwork.of(network, precision, conventions, counters)
    key = (None if precision is None else Precision.parse(precision).label, conventions, id(counters))
    hit = _counts.get(network, key)
    if hit is not None:
        if hit.cost.unsupported_ops:  # warned as counting warns
            warn_unsupported(network.name, hit.cost.unsupported_ops, stacklevel=2)
        return hit
    return _counts.put(network, key, CountedNetwork.of(network, precision, conventions, counters))


def _class_name(layer: Layer) -> str:
    op_class = layer_op_class(layer)
    return "" if op_class is None else op_class.value


def _fusible_links(network: LayerNetwork, output_bytes: np.ndarray) -> np.ndarray:
    """(R,) bool: row i can fuse into row i - 1 (rules in the module docstring), ``output_bytes`` (R,) the bytes
    each row writes."""
    layers = network.layers
    readers = Tally(name for layer in layers for name in layer.input_names)
    fuses = np.zeros(len(layers), dtype=bool)
    for i in range(1, len(layers)):
        kind, previous, layer = OpKind.parse(layers[i].op), layers[i - 1], layers[i]
        if kind is None or not kind.fusible or len(previous.outputs) != 1 or output_bytes[i - 1] == 0:
            continue
        if not (fuses[i - 1] or layer_op_class(previous) in PRODUCER_CLASSES):
            continue
        if previous.output_names and layer.input_names:
            tensor = previous.output_names[0]
            fuses[i] = tensor in layer.input_names and readers[tensor] == 1
        else:
            fuses[i] = bool(layer.inputs) and layer.inputs[0] == previous.outputs[0]
    return fuses
