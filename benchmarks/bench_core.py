"""Time the vectorized roofline core against the scalar reference on one large sweep.

    python benchmarks/bench_core.py

Sweep: every layer of ResNet-20-CIFAR-10 x every catalog hardware with a native int8 peak x batch sizes 1..B,
weights-and-activations traffic: at least 1e6 layer x configuration predictions. The vectorized core (the
traffic model's :meth:`~rooflinekit.roofline.TrafficModel.moved_bytes` then
:func:`~rooflinekit.roofline.roofline_times`, one call each per hardware) and the scalar reference
(:func:`traffic_bytes_scalar` then :func:`roofline_time_scalar`, one prediction at a time) get the same inputs in
the same process; the results are checked equal and the last line prints the speed-up. Each side is timed as
the best of several runs, as ``timeit`` does. The last line also prints the rate of
:func:`~rooflinekit.roofline.roofline_times` alone, in bytes it must touch per second, as a fraction of this
process's memory bandwidth measured with numpy's STREAM triad (acceptance: >= 0.5), and whether the optional
compiled kernel (numba, ``pip install "rooflinekit[fast]"``) ran; ``ROOFLINEKIT_NO_COMPILE=1`` measures the numpy
kernel alone.

Like with like: both run on one thread, both count the bytes their arrays hold as read or written (not the
cache lines a write also reads first: that costs the kernel, 6 of whose 10 streams are writes, more than the triad,
2 of 5), and the two are timed in alternating rounds, the best round of each kept, so that other processes on the
machine weigh on both alike.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from rooflinekit import get_network, hardware_catalog
from rooflinekit.descriptors import DType
from rooflinekit.roofline import _compiled
from rooflinekit.roofline import (
    CountedNetwork, MemoryLayout, RooflineTimes, RowTraffic, WeightsAndActivations, place, residency,
    roofline_time_scalar, roofline_times, traffic_bytes_scalar,
)

TARGET_PREDICTIONS = 1_000_000
LEVELS = 2
"""Memory levels of the kernel-alone measurement."""
VECTORIZED_RUNS, SCALAR_RUNS = 7, 2


def sweep_inputs() -> list[dict[str, Any]]:
    """Per hardware: the rows' traffic inputs, peaks and bandwidths."""
    counted = CountedNetwork.of(get_network("ResNet-20-CIFAR-10"), "int8")
    hardware = [h for h in hardware_catalog().specs if DType.INT8 in h.peak_ops_per_s and len(h.compute_engines) == 1]
    batches = np.arange(1, -(-TARGET_PREDICTIONS // (len(counted.ops) * len(hardware))) + 1, dtype=np.float64)
    inputs = []
    for spec in hardware:
        placement, layout = place(counted, spec), MemoryLayout.of(spec)
        rows = RowTraffic(residency(counted, placement, layout, batches).weights_by_level, counted.activation_bytes,
                          placement.activations_level, counted.state_bytes, placement.state_level,
                          placement.on_chip_level, placement.on_chip_capacity_bytes, batches)
        inputs.append({"rows": rows, "ops": counted.ops, "peak": placement.peak_ops_per_s,
                       "bandwidth": layout.bandwidth_bytes_per_s})
    return inputs


def run_vectorized(inputs: list[dict[str, Any]]) -> np.ndarray:
    model, times = WeightsAndActivations(), []
    for x in inputs:
        rows = x["rows"]
        moved = model.moved_bytes(rows)
        r, b = len(x["ops"]), len(rows.batches)
        ops = (x["ops"][:, None] * rows.batches[None, :]).ravel()
        times.append(roofline_times(ops, moved.reshape(r * b, -1), np.repeat(x["peak"], b), x["bandwidth"]).time_s)
    return np.concatenate(times)


def run_scalar(inputs: list[dict[str, Any]]) -> list[float]:
    """The same sweep, one prediction at a time, in hardware x layer x batch order."""
    times = []
    for x in inputs:
        rows, bandwidth = x["rows"], x["bandwidth"].tolist()
        for r in range(len(x["ops"])):
            for i, b in enumerate(rows.batches.tolist()):
                moved = traffic_bytes_scalar(rows.weights_by_level[r, i].tolist(), float(rows.activation_bytes[r]),
                                             float(rows.state_bytes[r]), b, int(rows.activations_level[r]),
                                             int(rows.state_level[r]), True)
                times.append(roofline_time_scalar(float(x["ops"][r]) * b, moved, float(x["peak"][r]), bandwidth)[0])
    return times


def best_of(runs: int, fn: Callable[[list[dict[str, Any]]], Any], inputs: list[dict[str, Any]]) -> tuple[Any, float]:
    """(result, fastest wall time in s) over ``runs`` calls."""
    best_s, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn(inputs)
        best_s = min(best_s, time.perf_counter() - start)
    return result, best_s


def triad(n: int = 20_000_000) -> Callable[[], float]:
    """One round of numpy's STREAM triad ``a = b + s * c`` (in place, preallocated), as a function returning its
    rate in bytes/s. numpy runs it as two passes, ``a = s * c`` (reads c, writes a) then ``a = a + b`` (reads a and
    b, writes a): 5 x 8 bytes per element."""
    b, c, a = np.random.rand(n), np.random.rand(n), np.empty(n)

    def run() -> float:
        start = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)
        return 5 * 8 * n / (time.perf_counter() - start)

    return run


def kernel(n: int = 5_000_000, levels: int = LEVELS) -> Callable[[], float]:
    """One call of :func:`roofline_times` alone on n rows, writing into outputs allocated once (``out=``, as a
    streaming sweep reuses them), as a function returning its rate in bytes/s: the bytes it must touch are its
    inputs (ops, peak, L bytes) and outputs (compute, time, pessimistic, bound and L memory times), 8 each."""
    rng = np.random.default_rng(0)
    ops, peak = rng.uniform(1e3, 1e7, n), np.full(n, 1e9)
    moved, bandwidth = rng.uniform(1e2, 1e6, (n, levels)), np.linspace(1e8, 4e8, levels)
    out = RooflineTimes.empty(n, levels)
    touched = 8 * n * (2 + levels + 4 + levels)

    def run() -> float:
        start = time.perf_counter()
        roofline_times(ops, moved, peak, bandwidth, out=out)
        return touched / (time.perf_counter() - start)

    return run


def bandwidths(rounds: int = 9) -> tuple[float, float]:
    """(triad bytes/s, kernel bytes/s): the best of ``rounds`` alternating rounds of each (the kernel's first call,
    which may compile it, untimed)."""
    measure_triad, measure_kernel = triad(), kernel()
    measure_kernel()
    best_triad = best_kernel = 0.0
    for _ in range(rounds):
        best_triad = max(best_triad, measure_triad())
        best_kernel = max(best_kernel, measure_kernel())
    return best_triad, best_kernel


def main() -> None:
    triad_rate, kernel_rate = bandwidths()
    inputs = sweep_inputs()
    vectorized, vectorized_s = best_of(VECTORIZED_RUNS, run_vectorized, inputs)
    scalar, scalar_s = best_of(SCALAR_RUNS, run_scalar, inputs)
    if not np.allclose(vectorized, scalar, rtol=1e-12, atol=0):
        raise SystemExit("vectorized and scalar results differ")
    n = vectorized.size
    print(f"predictions={n} vectorized_s={vectorized_s:.4f} scalar_s={scalar_s:.3f}")
    print(f"vectorized_predictions_per_s={n / vectorized_s:.3e} scalar_predictions_per_s={n / scalar_s:.3e}")
    print(f"kernel_predictions_per_s={kernel_rate / (8 * (6 + 2 * LEVELS)):.3e} "
          f"kernel_bytes_per_s={kernel_rate:.3e} triad_bytes_per_s={triad_rate:.3e} "
          f"compiled_kernel={_compiled.available(_compiled.MIN_ELEMENTS)}")
    print(f"speedup={scalar_s / vectorized_s:.0f}x kernel_fraction_of_memory_bandwidth={kernel_rate / triad_rate:.2f}")


if __name__ == "__main__":
    main()
