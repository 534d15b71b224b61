"""Design-space exploration at 1e9 layer-configurations: a NAS-Bench-201-sized network set x a hardware grid.

    python benchmarks/bench_dse.py [--networks 15625] [--points 0] [--dask] [--quick]

**Networks.** All 5^6 = 15,625 NAS-Bench-201 cell choices (six edges, each none / skip / ReLU-conv1x1-BN /
ReLU-conv3x3-BN / avg-pool 3x3), each a CIFAR-10 network: stem conv3x3-BN (16 channels, 32x32), three stages
of five cells (16, 32, 64 channels at 32, 16, 8 pixels) joined by residual reduction blocks, then BN-ReLU,
global average pool and a 64 -> 10 classifier; a node with k incoming edges adds them with k - 1 ``add``
layers. The layers of every distinct piece (an edge op in a stage, a reduction block, stem and head) are
counted once with the library's counters (int8), and each network's
:class:`~rooflinekit.roofline.CountedNetwork` is the concatenation of its pieces' rows (fusion within a piece, as
counted; none across pieces): no per-network pydantic objects, so building the set takes seconds (printed
separately, not in the timed sweep).

**Hardware.** A :class:`~rooflinekit.roofline.HardwareGrid` over an MCU-like accelerator with on-chip SRAM
(activations) and flash (weights): int8 peak (log 1e9 .. 1e12) x flash bandwidth (log 1e8 .. 1e10) x SRAM
bandwidth (log 1e9 .. 1e11) x SRAM capacity (lin 256 kB .. 2 MB), sized so that layers x points >= 1e9.

**Run.** ``sweep(mode="layer", traffic="weights_and_activations", reduce=Best("latency_s", by="network"))``: the
fastest grid point of every network whose memories hold it, streamed in chunks (the rows are never materialized). With ``--dask`` the
same run on a 2-worker ``LocalCluster`` (processes), checked identical to the in-process result. The last
line prints the time, the peak resident memory of the process and the layer-configurations per second
(acceptance: < 60 s, < 1 GB).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

import rooflinekit as rk
from rooflinekit import HardwareSpec
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.roofline import Best, CountedNetwork, HardwareGrid

STAGES = [(16, 32), (32, 16), (64, 8)]  # (channels, pixels)
OPS = ["none", "skip", "conv1x1", "conv3x3", "avgpool"]
EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]  # (to node, from node)
ARRAYS = ("ops", "weight_bytes", "activation_bytes", "state_bytes", "compute_dtype", "op_class",
          "fuses_into_previous", "link_bytes")

ACCELERATOR = HardwareSpec(
    name="nas-accelerator", kind="NPU", source="benchmark", peak_ops_per_s={"int8": 1e11},
    memories=[
        {"name": "flash", "capacity_bytes": 8e6, "bandwidth_bytes_per_s": 1e9, "on_chip": False,
         "stores": ["weights"], "source": "benchmark"},
        {"name": "SRAM", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e10, "on_chip": True,
         "stores": ["activations"], "source": "benchmark"},
    ],
)


def conv(name: str, c_in: int, c_out: int, k: int, s_in: int, s_out: int) -> Layer:
    return Layer(name=name, op="conv", inputs=((1, c_in, s_in, s_in),), outputs=((1, c_out, s_out, s_out),),
                 weights=[(c_out, c_in, k, k)], attrs={"kernel_shape": [k, k]})


def unary(name: str, op: str, c: int, s: int, c_out: int | None = None, s_out: int | None = None) -> Layer:
    out = (1, c if c_out is None else c_out, s if s_out is None else s_out, s if s_out is None else s_out)
    attrs = {"kernel_shape": [3, 3]} if op == "avg_pool" else {}
    return Layer(name=name, op=op, inputs=((1, c, s, s),), outputs=(out,), attrs=attrs)


def bn(name: str, c: int, s: int) -> Layer:
    return Layer(name=name, op="batch_norm", inputs=((1, c, s, s),), outputs=((1, c, s, s),), weights=[(c,)] * 4)


def pieces() -> dict[str, CountedNetwork]:
    """Every distinct piece, counted once at int8."""
    layers: dict[str, list[Layer]] = {
        "stem": [conv("stem", 3, 16, 3, 32, 32), bn("stem_bn", 16, 32)],
        "head": [bn("head_bn", 64, 8), unary("head_relu", "relu", 64, 8),
                 unary("gap", "global_avg_pool", 64, 8, s_out=1),
                 Layer(name="fc", op="fully_connected", inputs=((1, 64),), outputs=((1, 10),), weights=[(10, 64)])],
    }
    for i, (c, s) in enumerate(STAGES):
        layers[f"conv1x1/{i}"] = [unary("r", "relu", c, s), conv("c1", c, c, 1, s, s), bn("b", c, s)]
        layers[f"conv3x3/{i}"] = [unary("r", "relu", c, s), conv("c3", c, c, 3, s, s), bn("b", c, s)]
        layers[f"avgpool/{i}"] = [unary("p", "avg_pool", c, s)]
        layers[f"add/{i}"] = [Layer(name="add", op="add", inputs=((1, c, s, s), (1, c, s, s)),
                                    outputs=((1, c, s, s),))]
        if i:
            c0, s0 = STAGES[i - 1]
            layers[f"reduce/{i}"] = [
                unary("r1", "relu", c0, s0), conv("a", c0, c, 3, s0, s), bn("ab", c, s), unary("r2", "relu", c, s),
                conv("b", c, c, 3, s, s), bn("bb", c, s), unary("sp", "avg_pool", c0, s0, s_out=s),
                conv("sc", c0, c, 1, s, s),
                Layer(name="add", op="add", inputs=((1, c, s, s), (1, c, s, s)), outputs=((1, c, s, s),))]
    return {key: CountedNetwork.of(LayerNetwork(name=key, source="benchmark", precision="int8", layers=tuple(rows)),
                                   "int8")
            for key, rows in layers.items()}


def network_set(count: int) -> list[CountedNetwork]:
    """The first ``count`` NAS-Bench-201 architectures as counted networks (see the module docstring)."""
    parts = pieces()
    template = parts["stem"]
    out = []
    for choice in itertools.islice(itertools.product(range(len(OPS)), repeat=len(EDGES)), count):
        incoming = [sum(1 for (to, _), op in zip(EDGES, choice) if to == node and OPS[op] != "none")
                    for node in (1, 2, 3)]
        order = ["stem"]
        for stage in range(len(STAGES)):
            if stage:
                order.append(f"reduce/{stage}")
            for _ in range(5):
                order += [f"{OPS[op]}/{stage}" for op in choice if OPS[op] in ("conv1x1", "conv3x3", "avgpool")]
                order += [f"add/{stage}"] * sum(max(0, k - 1) for k in incoming)
        order.append("head")
        arrays = {a: np.concatenate([getattr(parts[p], a) for p in order]) for a in ARRAYS}
        for start in np.cumsum([0] + [len(parts[p].ops) for p in order[:-1]]):
            arrays["fuses_into_previous"][start] = False  # no fusion across pieces
        name = "|".join(OPS[op] for op in choice)
        out.append(replace(template, spec=template.spec.model_copy(update={"name": name}), **arrays))
    return out


def grid_for(layer_configs: float, rows_per_network: float, networks: int) -> HardwareGrid:
    """A 4-axis grid of about n^4 points: the fewest (each axis n or n - 1) with rows x points >= layer_configs."""
    need = layer_configs / (rows_per_network * networks)
    n = int(np.ceil(need ** 0.25))
    sizes = [n] * 4
    for axis in range(4):
        if np.prod(sizes) / n * (n - 1) >= need and n > 1:
            sizes[axis] = n - 1
    return HardwareGrid.of(ACCELERATOR, peak_ops_per_s={"int8": (1e9, 1e12, "log", sizes[0])},
                           bandwidth_bytes_per_s={"flash": (1e8, 1e10, "log", sizes[1]),
                                                  "SRAM": (1e9, 1e11, "log", sizes[2])},
                           capacity_bytes={"SRAM": (2.56e5, 2e6, "lin", sizes[3])})


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1e3 / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=15_625)
    parser.add_argument("--layer-configs", type=float, default=1e9)
    parser.add_argument("--chunk-rows", type=int, default=1 << 18)
    parser.add_argument("--dask", action="store_true", help="also run on a 2-worker LocalCluster and compare")
    args = parser.parse_args()
    warnings.simplefilter("ignore", rk.CapacityWarning)

    start = time.perf_counter()
    networks = network_set(args.networks)
    build_s = time.perf_counter() - start
    rows = sum(len(n.ops) for n in networks)
    grid = grid_for(args.layer_configs, rows / len(networks), len(networks))
    layer_configs = rows * grid.size
    print(f"networks={len(networks)} layers={rows} grid_points={grid.size} layer_configs={layer_configs:.3e} "
          f"build_s={build_s:.1f}")

    reduce = Best("latency_s", by="network")
    start = time.perf_counter()
    best = rk.sweep(networks, [grid], mode="layer", traffic="weights_and_activations", reduce=reduce,
                    chunk_rows=args.chunk_rows)
    sweep_s = time.perf_counter() - start
    rss_gb = peak_rss_gb()
    print(f"best rows={len(best)}; fastest: {best.nsmallest(1, 'latency_s')[['network', 'latency_s']].to_dict('records')}")
    print(f"in_process_sweep_s={sweep_s:.1f}", flush=True)
    if args.dask:
        import distributed

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            start = time.perf_counter()
            warnings.simplefilter("ignore", UserWarning)  # distributed: "Sending large graph" (the networks)
            remote = rk.sweep(networks, [grid], mode="layer", traffic="weights_and_activations",
                              reduce=Best("latency_s", by="network"), chunk_rows=args.chunk_rows, engine="dask",
                              scheduler=client, partitions=8)
            dask_s = time.perf_counter() - start
        pd.testing.assert_frame_equal(remote, best)
        print(f"dask_s={dask_s:.1f} dask_identical=True")
    print(f"sweep_s={sweep_s:.1f} peak_rss_gb={rss_gb:.2f} layer_configs_per_s={layer_configs / sweep_s:.3e}")


if __name__ == "__main__":
    main()
