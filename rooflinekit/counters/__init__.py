"""Per-layer operation and byte counters, keyed by canonical op kind."""

from rooflinekit.counters import (  # noqa: F401 (register counters)
    conv, einsum, elementwise, fused, gemm, losses, movement, norm, pool, sampling, transforms,
)
from rooflinekit.counters._registry import DEFAULT_COUNTERS, Counter, CounterRegistry, OpCount, total_ops, zero_cost
from rooflinekit.counters.cost import (
    CountingConventions,
    NetworkCost,
    UnsupportedOpWarning,
    aggregate_weight_bytes,
    bias_dtype,
    bias_position,
    count_layer,
    count_network,
    layer_precision,
)

DEFAULT_COUNTERS.freeze()  # after every counter module registered: no one changes the process-wide default

__all__ = [
    "DEFAULT_COUNTERS", "Counter", "CounterRegistry", "CountingConventions", "NetworkCost", "OpCount",
    "UnsupportedOpWarning", "aggregate_weight_bytes", "bias_dtype", "bias_position", "count_layer", "count_network",
    "layer_precision", "total_ops", "zero_cost",
]
