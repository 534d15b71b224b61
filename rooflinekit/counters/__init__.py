"""Per-layer operation and byte counters, keyed by canonical op kind."""

from rooflinekit.counters import conv, einsum, elementwise, gemm, movement, norm, pool  # noqa: F401 (register counters)
from rooflinekit.counters._registry import DEFAULT_COUNTERS, Counter, CounterRegistry, OpCount, total_ops, zero_cost
from rooflinekit.counters.cost import (
    CountingConventions,
    NetworkCost,
    UnsupportedOpWarning,
    aggregate_weight_bytes,
    count_layer,
    count_network,
    layer_precision,
)

DEFAULT_COUNTERS.freeze()  # after every counter module registered: no one changes the process-wide default

__all__ = [
    "DEFAULT_COUNTERS", "Counter", "CounterRegistry", "CountingConventions", "NetworkCost", "OpCount",
    "UnsupportedOpWarning", "aggregate_weight_bytes", "count_layer", "count_network", "layer_precision", "total_ops",
    "zero_cost",
]
