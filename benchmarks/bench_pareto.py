"""Pareto fronts over three and four objectives of a NAS-Bench-201 x hardware-grid sweep: block search vs the
previous front-point-by-front-point filter.

    python benchmarks/bench_pareto.py [--points 30] [--repeats 3]

**Points.** Four NAS-Bench-201 networks (int8) swept over a grid around a NUCLEO-F767ZI (int8 peak, flash
bandwidth and SRAM capacity, ``--points`` values each, so 4 x points^3 rows); the objectives are the columns a
design-space search trades off: latency, int8 peak and flash bandwidth (three, all to minimize; the peak and
bandwidth stand for the hardware's cost), plus the network's operations per frame to maximize (four; a stand-in
for accuracy: larger NAS-Bench-201 cells tend to score higher). The rows that fit come from one materialized
sweep; the benchmark times only the front search,
:func:`rooflinekit.roofline.reductions.nondominated`, on those points.

**Baseline.** The previous algorithm for three or more objectives (:func:`previous_nondominated`, kept here):
in lexicographic order, the first point left is on the front and one vectorized pass removes the points it
dominates, O(N x front). Both run in this process, alternating, best of ``--repeats`` CPU times
(``time.process_time``), and must give the same front. The last line prints the speed-ups (previous / new).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np

import rooflinekit as rk
from rooflinekit.networks.nb201 import NB201_OPS, nb201_network
from rooflinekit.roofline import HardwareGrid
from rooflinekit.roofline.reductions import nondominated


def previous_nondominated(points: np.ndarray) -> np.ndarray:
    """(N,) bool: the front of ``points`` (N, M >= 3, to minimize) by the previous O(N x front) filter."""
    n = len(points)
    keep = np.zeros(n, dtype=bool)
    left = np.lexsort(points.T[::-1])
    values = points[left]
    while len(left):
        keep[left[0]] = True
        best, left, values = values[0], left[1:], values[1:]
        dominated = (values >= best).all(axis=1) & (values > best).any(axis=1)
        if dominated.any():
            left, values = left[~dominated], values[~dominated]
    return keep


def sweep_points(points: int) -> np.ndarray:
    """(rows, 4), all to minimize: latency_s, int8 peak, flash bandwidth and minus the operations per frame of
    every fitting row of the sweep."""
    archs = [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"
             for a, b, c, d, e, f in itertools.islice(itertools.product(NB201_OPS, repeat=6), 0, 15625, 1500)][:4]
    networks = [nb201_network(arch, precision="int8") for arch in archs]
    grid = HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": (1e8, 1e10, "log", points)},
                           bandwidth_bytes_per_s={"Flash": (1e7, 1e9, "log", points)},
                           capacity_bytes={"SRAM": (1.28e5, 1e6, "lin", points)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(networks, [grid], ["int8"])
    table = table[table["fits"].fillna(True).astype(bool) & (table["status"] == "ok")]
    columns = ["latency_s", "peak_ops_per_s.int8", "bandwidth_bytes_per_s.Flash", "ops"]
    return table[columns].to_numpy(dtype=np.float64) * np.array([1.0, 1.0, 1.0, -1.0])


def best_cpu_s(function: object, points: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.process_time()
    front = function(points)  # type: ignore[operator]
    return time.process_time() - start, front


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=30, help="values per grid axis (rows: 4 x points^3)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = sweep_points(args.points)
    ratios = []
    for width in (3, 4):
        points = data[:, :width]
        new_s, old_s = np.inf, np.inf
        for _ in range(args.repeats):  # alternating, best of N
            seconds, new = best_cpu_s(nondominated, points)
            new_s = min(new_s, seconds)
            seconds, old = best_cpu_s(previous_nondominated, points)
            old_s = min(old_s, seconds)
            if not (new == old).all():
                raise SystemExit(f"{width} objectives: the fronts differ")
        ratios.append(old_s / new_s)
        print(f"objectives={width} rows={len(points)} front={int(new.sum())} new_cpu_s={new_s:.3f} "
              f"previous_cpu_s={old_s:.3f}")
    print(f"speedup_3_objectives={ratios[0]:.1f}x speedup_4_objectives={ratios[1]:.1f}x")


if __name__ == "__main__":
    main()
