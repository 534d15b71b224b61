"""Time the public ``sweep`` at scale against a same-run columnar numpy baseline.

    python benchmarks/bench_sweep.py [--rows 1e7] [--quick]

Three measurements, each in this process, printed as ``name=value`` lines:

1. **1e7 configurations** through :func:`rooflinekit.sweep`: the catalog's convolutional and MLP networks
   (counted once at int8, as :class:`~rooflinekit.roofline.CountedNetwork`) x parametric grids
   (:class:`~rooflinekit.roofline.HardwareGrid`: int8 peak x bandwidth x DRAM capacity, log/lin ranges) around
   eight single-memory catalog devices x batch sizes 1, 4, 16, 64, network mode, weights-only traffic. The
   baseline computes the same columns (same names, categorical keys, the same NaN-free numbers) with numpy from
   each network's totals in one broadcast over (network x device, grid point, batch) and wraps them in a
   DataFrame: the cheapest columnar computation of the same table. The two tables are checked equal (numbers to
   rtol 1e-12, bounds and fits exactly). Peak memory is the process's maximum resident set after the sweep
   (before the baseline runs), imports and catalogs included.
2. **The QuTiBench space**: its 17 networks x 12 platforms x int2, int4, int8, fp16, fp32 x batches 1..512
   (powers of two): 10,200 rows from network specs (counting included), best of 5. The library remembers each
   spec's counts per precision (:func:`~rooflinekit.roofline.workload.count_once`), so the first run counts
   and the next four reuse its counts: ``qutibench_first_s`` is that first run.
3. **Layer mode**: ``sweep(mode="layer")`` over the catalog's per-layer CNNs x MCU and edge boards x 256 batch
   sizes with weights-and-activations traffic, in layer-configurations per second (rows x layers), against the
   kernel's rate: :func:`~rooflinekit.roofline.roofline_times` alone on inputs of the same number of
   layer-configurations (as in ``bench_core.py``; the compiled kernel when numba is installed).

The last line prints the ratios: ``sweep_over_baseline`` (acceptance: <= 3), ``peak_rss_gb`` (<= 2),
``qutibench_ms`` (< 50) and ``layer_mode_fraction_of_kernel`` (>= 0.25).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from typing import Any

import numpy as np
import pandas as pd

import rooflinekit as rk
from rooflinekit.descriptors import AggregateNetwork, DType
from rooflinekit.networks.transformer import bundled_transformer_configs
from rooflinekit.quick import AGGREGATE_KERNELS, LAUNCH_OVERHEAD_S, OVERHEAD_KINDS, overhead_text
from rooflinekit.roofline import CountedNetwork, HardwareGrid, roofline_times

TEMPLATES = ["A100-PCIe-80GB", "H100-SXM5-80GB", "NVIDIA L4", "Tesla T4", "ZCU104-DPU", "Xeon Gold 6226",
             "Raspberry Pi 5", "Jetson Orin Nano 8GB"]
BATCHES = [1, 4, 16, 64]
QUTIBENCH_PLATFORMS = ["Ultra96-DPU", "ZCU104-DPU", "ZCU102-DPU", "ZCU104-FINN", "ZCU104-BISMO", "TX2-maxn",
                       "TX2-maxp", "TX2-maxq", "EdgeTPU-fast", "EdgeTPU-slow", "NCS", "U96-Quadcore-A53"]


def peak_rss_gb() -> float:
    """Maximum resident set of this process so far, GB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1e3 / 1e9


def grids(rows: float, networks: int) -> list[HardwareGrid]:
    """One grid per template, n^3 points so that networks x templates x points x batches ~ rows."""
    n = max(2, round((rows / (networks * len(TEMPLATES) * len(BATCHES))) ** (1 / 3)))
    out = []
    for name in TEMPLATES:
        spec = rk.get_hardware(name)
        level = spec.memories[0]
        peak = spec.peak_ops_per_s[DType.INT8]
        out.append(HardwareGrid.of(
            spec, peak_ops_per_s={"int8": (peak / 10, peak * 10, "log", n)},
            bandwidth_bytes_per_s={level.name: (level.bandwidth_bytes_per_s / 10, level.bandwidth_bytes_per_s * 10,
                                                "log", n)},
            capacity_bytes={level.name: (level.capacity_bytes, level.capacity_bytes * 4, "lin", n)}))
    return out


def baseline(networks: list[CountedNetwork], hardware: list[HardwareGrid]) -> pd.DataFrame:
    """The same table as the sweep, computed from totals with numpy broadcasting (P pairs, G points, B batches)."""
    b = np.array(BATCHES, dtype=np.int64)
    frames = b.astype(np.float64)
    n_b, n_g = len(b), hardware[0].size
    ops_f = np.array([n.ops.sum() for n in networks])
    weights = np.array([n.weight_bytes.sum() for n in networks])
    state = np.array([n.state_bytes.sum() for n in networks])
    act_peak = np.array([np.nan_to_num(n.activation_bytes).max() for n in networks])
    kernels = np.array([len(n.ops) - int(n.fuses_into_previous[1:].sum()) for n in networks], dtype=np.float64)
    peak = np.stack([g.columns(0, n_g).peak_ops_per_s[:, g.columns(0, 1).dtypes.index("int8")] for g in hardware])
    bandwidth = np.stack([g.columns(0, n_g).bandwidth_bytes_per_s[:, 0] for g in hardware])  # (T, G)
    capacity = np.stack([g.columns(0, n_g).capacity_bytes[:, 0] for g in hardware])
    # (N, T, G, B) broadcast, raveled in sweep order: network, hardware, grid point, batch
    shape = (len(networks), len(hardware), n_g, n_b)
    ops = (ops_f[:, None, None, None] * frames)
    moved = weights[:, None, None, None] + state[:, None, None, None] * frames
    compute = ops / peak[None, :, :, None]
    memory = moved / bandwidth[None, :, :, None]
    time_s = np.maximum(compute, memory)
    fits = (weights[:, None, None, None] + frames * (act_peak + state)[:, None, None, None]
            <= capacity[None, :, :, None] * (1 + 1e-12))
    n = int(np.prod(shape))
    level_code, level_labels = pd.factorize(np.array([f"memory:{g.template.memories[0].name}" for g in hardware],
                                                     dtype=object))
    labels = ["compute", *level_labels]
    bound = np.where(compute >= memory, 0, (level_code + 1)[None, :, None, None]).astype(np.int32)
    label_code, labels_unique = pd.factorize(np.array([n.label for n in networks], dtype=object))
    net_code = np.broadcast_to(label_code.astype(np.int32)[:, None, None, None], shape)
    hw_code = np.broadcast_to(np.arange(len(hardware), dtype=np.int32)[None, :, None, None], shape)

    def categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.ravel(), categories=pd.Index(categories))

    def constant(value: str) -> pd.Categorical:
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int32), categories=pd.Index([value]))

    def objects(value: Any) -> np.ndarray:
        out = np.empty(n, dtype=object)
        out.fill(value)
        return out

    notes = objects(())  # the overhead note of a GPU or CPU bound below the launch cost per kernel (quick's rule)
    kinds = np.array([g.template.kind.value for g in hardware])[None, :, None, None]
    aggregate = np.array([isinstance(n.spec, AggregateNetwork) for n in networks])[:, None, None, None]
    for kind in OVERHEAD_KINDS:
        for whole in (True, False):
            rule = (time_s < AGGREGATE_KERNELS * LAUNCH_OVERHEAD_S) if whole else (time_s / kernels[:, None, None, None]
                                                                                   < LAUNCH_OVERHEAD_S)
            rows = np.flatnonzero(((kinds == kind) & (aggregate == whole) & rule).ravel())
            if len(rows):
                notes[rows] = [(overhead_text(kind, whole),)] * len(rows)
    engine_batches = np.empty(n_b, dtype=object)
    for i, size in enumerate(BATCHES):
        engine_batches[i] = (size,)
    engines = np.empty(len(hardware), dtype=object)
    for i, g in enumerate(hardware):
        engines[i] = (g.template.name,)
    axes: dict[str, np.ndarray] = {}
    for i, g in enumerate(hardware):
        for name, values in g.values(0, n_g).items():
            axes.setdefault(name, np.full((len(hardware), n_g), np.nan))[i] = values
    axis_columns = {name: np.broadcast_to(v[None, :, :, None], shape).ravel() for name, v in axes.items()}
    columns: dict[str, Any] = {
        "network": categorical(net_code, list(labels_unique)),
        "hardware": categorical(hw_code, [g.template.name for g in hardware]),
        "precision": constant("int8"), "pruning_pct": np.broadcast_to(
            np.array([n.spec.pruning_pct for n in networks], dtype=np.float64)[:, None, None, None], shape).ravel(),
        "batch": np.broadcast_to(b, shape).ravel(), "mode": constant("network"), "traffic": constant("weights_only"),
        "fps": (frames / time_s).ravel(), "latency_s": time_s.ravel(),
        "bound": pd.Categorical.from_codes(bound.ravel(), categories=pd.Index(labels)),
        "ops": np.broadcast_to(ops / frames, shape).ravel(), "bytes": np.broadcast_to(moved / frames, shape).ravel(),
        "operational_intensity": np.broadcast_to(ops / moved, shape).ravel(),
        "attainable_ops_per_s": (ops / time_s).ravel(), "peak_ops_per_s": np.broadcast_to(
            peak[None, :, :, None], shape).ravel(),
        "latency_optimistic_s": time_s.ravel(), "latency_pessimistic_s": (compute + memory).ravel(),
        "estimate": constant("bound"), "engines": np.broadcast_to(engines[None, :, None, None], shape).ravel(),
        "engine_batches": np.broadcast_to(engine_batches, shape).ravel(),
        "kernels": np.broadcast_to(kernels[:, None, None, None], shape).ravel(),
        "fits": pd.arrays.BooleanArray(fits.ravel(), np.zeros(n, dtype=bool)), "notes": notes,
        "status": constant("ok"),
        "grid_point": np.broadcast_to(np.arange(n_g)[None, None, :, None], shape).ravel(), **axis_columns,
    }
    return pd.DataFrame(columns, copy=False)


def check_equal(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """The sweep and the baseline hold the same table."""
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        raise SystemExit(f"tables differ in shape: {list(ours.columns)} x {len(ours)} vs "
                         f"{list(theirs.columns)} x {len(theirs)}")
    for column in ours.columns:
        a, b = ours[column], theirs[column]
        if a.dtype == np.float64 or isinstance(a.dtype, pd.SparseDtype):  # grid axes are sparse (NaN off-grid)
            if not np.allclose(a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64), rtol=1e-12, atol=0,
                               equal_nan=True):
                raise SystemExit(f"column {column} differs")
        elif column not in ("engines", "engine_batches", "notes"):
            if not (a.astype(object).to_numpy() == b.astype(object).to_numpy()).all():
                raise SystemExit(f"column {column} differs")
    for column in ("engines", "notes"):  # object columns: compare a sample (full compare is Python per row)
        step = max(1, len(ours) // 10_000)
        if ours[column].iloc[::step].tolist() != theirs[column].iloc[::step].tolist():
            raise SystemExit(f"column {column} differs")


def best_of(runs: int, fn: Any) -> tuple[Any, float]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def layer_mode(quick: bool) -> tuple[float, float]:
    """(sweep layer-configurations/s, kernel layer-configurations/s)."""
    names = ["ResNet-20-CIFAR-10", "LeNet-MNIST", "FINN-CNV", "FINN-MLP"]
    networks = [CountedNetwork.of(rk.get_network(n), "int8") for n in names]
    boards = [h for h in rk.hardware_catalog().specs if not h.engines and DType.INT8 in h.peak_ops_per_s
              and h.kind.value in ("MCU",)][:6]
    batches = list(range(1, (64 if quick else 256) + 1))
    table, sweep_s = best_of(3, lambda: rk.sweep(networks, boards, [None], batches, mode="layer",
                                                 traffic="weights_and_activations"))
    layer_configs = sum(len(n.ops) for n in networks) * len(boards) * len(batches)
    ok = (table["status"] == "ok").all()
    if not ok:
        raise SystemExit("layer-mode sweep has unpredicted rows")
    # the kernel alone on as many layer-configurations (2 memory levels, as the MCU boards have)
    rng = np.random.default_rng(0)
    ops = rng.uniform(1e3, 1e7, layer_configs)
    moved = rng.uniform(1e2, 1e6, (layer_configs, 2))
    peak = np.full(layer_configs, 1e9)
    bandwidth = np.array([1e8, 4e8])
    _, kernel_s = best_of(5, lambda: roofline_times(ops, moved, peak, bandwidth))
    return layer_configs / sweep_s, layer_configs / kernel_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--quick", action="store_true", help="smaller layer-mode and QuTiBench runs")
    args = parser.parse_args()
    import warnings
    warnings.simplefilter("ignore", rk.CapacityWarning)

    transformers = set(bundled_transformer_configs())  # the LLM configs: the CNN/MLP catalog is the workload
    specs = [n for n in rk.network_catalog().specs if n.name not in transformers]
    networks = [CountedNetwork.of(n, "int8") for n in specs]
    hardware = grids(args.rows, len(networks))
    gc.collect()
    start = time.perf_counter()
    table = rk.sweep(networks, hardware, [None], BATCHES)
    sweep_s = time.perf_counter() - start
    rss_gb = peak_rss_gb()
    rows = len(table)
    start = time.perf_counter()
    theirs = baseline(networks, hardware)
    baseline_s = time.perf_counter() - start
    check_equal(table, theirs)
    del table, theirs
    gc.collect()
    print(f"rows={rows} sweep_s={sweep_s:.2f} baseline_s={baseline_s:.2f} sweep_rows_per_s={rows / sweep_s:.3e}")

    qnets = [n for n in rk.network_catalog().specs if n.source.startswith("QuTiBench")]
    platforms = [rk.get_hardware(h) for h in QUTIBENCH_PLATFORMS]
    precisions = ["int2", "int4", "int8", "fp16", "fp32"]
    batches = [2 ** i for i in range(10)]
    start = time.perf_counter()
    rk.sweep(qnets, platforms, precisions, batches)
    first_s = time.perf_counter() - start
    qtable, qutibench_s = best_of(4, lambda: rk.sweep(qnets, platforms, precisions, batches))
    qutibench_s = min(first_s, qutibench_s)
    print(f"qutibench_rows={len(qtable)} qutibench_s={qutibench_s:.4f} qutibench_first_s={first_s:.4f}")

    sweep_rate, kernel_rate = layer_mode(args.quick)
    print(f"layer_mode_layer_configs_per_s={sweep_rate:.3e} kernel_layer_configs_per_s={kernel_rate:.3e}")
    print(f"sweep_over_baseline={sweep_s / baseline_s:.2f}x peak_rss_gb={rss_gb:.2f} "
          f"qutibench_ms={qutibench_s * 1e3:.1f} layer_mode_fraction_of_kernel={sweep_rate / kernel_rate:.2f}")


if __name__ == "__main__":
    main()
