"""Per-layer operation and byte counters, keyed by canonical op kind."""

from rooflinekit.counters import conv, einsum, elementwise, gemm, movement, norm, pool  # noqa: F401 (register counters)
from rooflinekit.counters._registry import OpCount, get_counter, register, supported_kinds, total_ops
from rooflinekit.counters.cost import (
    CountingConventions,
    NetworkCost,
    UnsupportedOpWarning,
    aggregate_weight_bytes,
    count_layer,
    count_network,
    layer_precision,
)

__all__ = [
    "CountingConventions", "NetworkCost", "OpCount", "UnsupportedOpWarning", "aggregate_weight_bytes",
    "count_layer", "count_network", "get_counter", "layer_precision", "register", "supported_kinds", "total_ops",
]
