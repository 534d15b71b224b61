"""Time ``rooflinekit.sweep(..., calibrated=True)`` against looping ``rooflinekit.predict(..., calibrated=True)``.

    python benchmarks/bench_calibrated_sweep.py [--repeat 2] [--grid 2000]

One mixed sweep of 504 rows: 7 catalog networks (layer networks and totals-only ones) x 12 devices (3 MCUs, 5 GPUs
incl. a multi-engine Jetson, 1 NPU, 2 CPUs, 1 FPGA) x batches 1, 4, 16, 64, 256, 1024. Three ways, each timed in
this process as CPU time (``time.process_time``), alternating, best of ``--repeat`` after one untimed warm-up of
each (the first layer-mode sweep of a process compiles the numba kernels when numba is installed, a few seconds
once):

- ``plain``: ``sweep(...)``, the roofline bound only;
- ``calibrated``: ``sweep(..., calibrated=True)``;
- ``loop``: the plain sweep, then ``predict(..., calibrated=True)`` for each of its rows (what a user would write
  without ``calibrated=``; a row ``predict`` refuses is skipped, as the sweep keeps it at the bound).

The calibrated sweep's rows are checked against the loop's (calibrated latency to rtol 1e-12). Printed as
``name=value`` lines, rows per second first; then ``loop_over_calibrated``, the speed-up of the calibrated sweep
over the loop. ``--grid N`` also times, once, a calibrated sweep of ResNet-50 at batch 64 on a
:class:`~rooflinekit.roofline.HardwareGrid` of N hypothetical NVIDIA L4s (N clock scales from 0.5 to 2), one row
per point, and prints its CPU time and rows per second (``grid_s``, ``grid_rows_per_s``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable

import numpy as np
import pandas as pd

import rooflinekit as rk
from rooflinekit.errors import RooflineError
from rooflinekit.roofline import HardwareGrid

NETWORKS = ["ResNet-20-CIFAR-10", "LeNet-MNIST", "ResNet-50", "MobileNetv1", "FINN-CNV", "BERT-Large",
            "GoogLeNetv1"]
HARDWARE = ["NUCLEO-F767ZI", "STM32N6570-DK", "NUCLEO-L4R5ZI", "NVIDIA L4", "A100-SXM4-80GB", "H100-SXM5-80GB",
            "Jetson AGX Orin 64GB", "Tesla T4", "Cloud AI 100 Pro", "Xeon Gold 6226", "Raspberry Pi 5", "ZCU104-DPU"]
BATCHES = [1, 4, 16, 64, 256, 1024]


def plain() -> pd.DataFrame:
    return rk.sweep(NETWORKS, HARDWARE, [None], BATCHES)


def calibrated() -> pd.DataFrame:
    return rk.sweep(NETWORKS, HARDWARE, [None], BATCHES, calibrated=True)


def loop() -> pd.DataFrame:
    table = plain()
    latency = []
    for network, hardware, batch, status in zip(table.network, table.hardware, table.batch, table.status):
        try:
            value = rk.predict(network, hardware, batch=int(batch), calibrated=True).latency_s if status == "ok" \
                else np.nan
        except RooflineError:
            value = np.nan
        latency.append(value)
    return table.assign(latency_s=latency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each way (best kept)")
    parser.add_argument("--grid", type=int, default=0, help="points of the grid sweep timed once (0: none)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    ways: dict[str, Callable[[], pd.DataFrame]] = {"plain": plain, "calibrated": calibrated, "loop": loop}
    tables = {name: way() for name, way in ways.items()}  # warm-up, untimed
    np.testing.assert_allclose(tables["calibrated"].latency_s.where(tables["calibrated"].estimate == "calibrated"),
                               tables["loop"].latency_s, rtol=1e-12)
    best = {name: float("inf") for name in ways}
    for _ in range(args.repeat):
        for name, way in ways.items():
            start = time.process_time()
            way()
            best[name] = min(best[name], time.process_time() - start)
    rows = len(tables["plain"])
    print(f"rows={rows}")
    print(f"calibrated_rows={int((tables['calibrated'].estimate == 'calibrated').sum())}")
    for name in ways:
        print(f"{name}_s={best[name]:.3f}")
        print(f"{name}_rows_per_s={rows / best[name]:.0f}")
    print(f"calibrated_over_plain={best['calibrated'] / best['plain']:.1f}")
    print(f"loop_over_calibrated={best['loop'] / best['calibrated']:.1f}")
    if args.grid:
        grid = HardwareGrid.of(rk.get_hardware("NVIDIA L4"), clock_scale=list(np.linspace(0.5, 2.0, args.grid)))
        start = time.process_time()
        table = rk.sweep(["ResNet-50"], [grid], [None], [64], calibrated=True)
        seconds = time.process_time() - start
        print(f"grid_rows={len(table)}")
        print(f"grid_s={seconds:.3f}")
        print(f"grid_rows_per_s={len(table) / seconds:.0f}")


if __name__ == "__main__":
    main()
