"""load_table on a generated CSV: rows conserved, provenance exact, time and peak memory against the file's size.

    python benchmarks/bench_load_table.py [--rows 1000000]

Issue 15's target: for 1e6 rows, every row a record or a rejected row with its exact ``file:line``, and peak memory
(traced Python and numpy allocations) at most 5x the file. The last line printed is the ratio.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from rooflinekit.compare.loaders.generic import load_table

HARDWARE = ["ZCU104-DPU", "EdgeTPU-fast", "NCS", "NUCLEO-F767ZI"]
NETWORKS = ["ResNet-50", "MobileNetv1", "GoogLeNetv1", "LeNet-MNIST"]


def write_csv(path: Path, rows: int, seed: int = 0) -> dict[int, int]:
    """A records CSV of ``rows`` data rows with blank lines and quoted newlines; returns line -> batch."""
    rng = random.Random(seed)
    lines, expected, line = ["hardware,network,precision,batch,latency_s,framework"], {}, 1
    for i in range(rows):
        if i % 1000 == 999:
            lines.append("")
            line += 1
        framework = '"TFLite\nMicro"' if i % 5000 == 0 else "TFLite Micro 2.3"
        batch = i + 1  # unique keys: no row is a duplicate of another
        lines.append(f"{rng.choice(HARDWARE)},{rng.choice(NETWORKS)},int8,{batch},{rng.uniform(1e-4, 1):.6g},"
                     f"{framework}")
        expected[line + 1] = batch
        line += 1 + framework.count("\n")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        expected = write_csv(path, args.rows)
        size = path.stat().st_size
        tracemalloc.start()
        start = time.perf_counter()
        result = load_table(path)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sources = {int(s.rsplit(":", 1)[1]): b for s, b in zip(result.records.source, result.records.batch)}
        conserved = len(result.records) + len(result.rejected) == args.rows
        exact = sources == {line: b for line, b in expected.items() if line in sources} and \
            len(result.rejected) == 0 and len(sources) == args.rows
        print(f"rows {args.rows:,}, file {size / 1e6:.1f} MB, {seconds:.1f} s, peak traced memory "
              f"{peak / 1e6:.1f} MB; rows conserved: {conserved}; provenance exact: {exact}")
        print(f"peak memory / file size: {peak / size:.2f}")


if __name__ == "__main__":
    main()
