"""Time the vectorized roofline core against the scalar reference on one large sweep.

    python benchmarks/bench_core.py

Sweep: every layer of ResNet-20-CIFAR-10 x every catalog hardware with a native int8 peak x batch sizes 1..B,
weights-and-activations traffic: at least 1e6 layer x configuration predictions. The vectorized core
(:func:`rooflinekit.roofline.batch_sweep_times`) and the scalar reference (:func:`traffic_bytes_scalar` then
:func:`roofline_time_scalar`, one prediction at a time) get the same inputs in the same process; the results are
checked equal and the last line prints the speed-up. Each side is timed as the best of several runs, as
``timeit`` does.
"""

from __future__ import annotations

import time

import numpy as np

from rooflinekit import count_network, get_network, hardware_catalog
from rooflinekit.descriptors import DType
from rooflinekit.roofline import MemoryLayout, batch_sweep_times, roofline_time_scalar, traffic_bytes_scalar

TARGET_PREDICTIONS = 1_000_000
VECTORIZED_RUNS, SCALAR_RUNS = 7, 2


def sweep_inputs() -> dict:
    """Per-layer and per-hardware arrays of the sweep."""
    layers = count_network(get_network("ResNet-20-CIFAR-10"), "int8").layers
    hardware = [h for h in hardware_catalog().specs if DType.INT8 in h.peak_ops_per_s]
    layouts = [MemoryLayout.of(h) for h in hardware]
    n_batches = -(-TARGET_PREDICTIONS // (len(layers) * len(hardware)))
    return {
        "ops": layers.ops.to_numpy(np.float64),
        "weight_bytes": layers.weight_bytes.to_numpy(np.float64),
        "activation_bytes": (layers.input_bytes + layers.output_bytes).to_numpy(np.float64),
        "peak": np.array([[h.peak(DType.INT8)] * len(layers) for h in hardware]),
        "layouts": layouts,
        "weights_bandwidth": np.array([lay.bandwidth_bytes_per_s[lay.weights_level] for lay in layouts]),
        "activations_bandwidth": np.array([lay.bandwidth_bytes_per_s[lay.activations_level] for lay in layouts]),
        "shared_level": np.array([lay.weights_level == lay.activations_level for lay in layouts]),
        "batches": np.arange(1, n_batches + 1),
    }


def run_vectorized(x: dict) -> tuple[np.ndarray, np.ndarray]:
    return batch_sweep_times(x["ops"], x["weight_bytes"], x["activation_bytes"], x["peak"], x["weights_bandwidth"],
                             x["activations_bandwidth"], x["shared_level"], x["batches"])


def run_scalar(x: dict) -> list[float]:
    """The same sweep, one prediction at a time, in hardware x layer x batch order."""
    ops, weights, acts = x["ops"].tolist(), x["weight_bytes"].tolist(), x["activation_bytes"].tolist()
    batches = x["batches"].tolist()
    times = []
    for h, layout in enumerate(x["layouts"]):
        peak, bandwidth, n_levels = float(x["peak"][h, 0]), layout.bandwidth_bytes_per_s, len(layout.names)
        for r in range(len(ops)):
            for b in batches:
                moved = traffic_bytes_scalar(weights[r], acts[r], b, n_levels, layout.weights_level,
                                             layout.activations_level, True)
                times.append(roofline_time_scalar(ops[r] * b, moved, peak, bandwidth)[0])
    return times


def best_of(runs: int, fn, inputs: dict):
    """(result, fastest wall time in s) over ``runs`` calls."""
    best_s, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn(inputs)
        best_s = min(best_s, time.perf_counter() - start)
    return result, best_s


def main() -> None:
    inputs = sweep_inputs()
    (vectorized, _), vectorized_s = best_of(VECTORIZED_RUNS, run_vectorized, inputs)
    scalar, scalar_s = best_of(SCALAR_RUNS, run_scalar, inputs)
    if not np.allclose(vectorized.ravel(), scalar, rtol=1e-12, atol=0):
        raise SystemExit("vectorized and scalar results differ")
    n = vectorized.size
    print(f"predictions={n} vectorized_s={vectorized_s:.4f} scalar_s={scalar_s:.3f}")
    print(f"vectorized_predictions_per_s={n / vectorized_s:.3e} scalar_predictions_per_s={n / scalar_s:.3e}")
    print(f"speedup={scalar_s / vectorized_s:.0f}x")


if __name__ == "__main__":
    main()
