"""load_table on a generated CSV: rows conserved, provenance exact, time and peak memory against the file's size.

    python benchmarks/bench_load_table.py [--rows 1000000]

Issue 15's target: for 1e6 rows, every row a record or a rejected row with its exact ``file:line``, and peak memory
at most 5x the file. Each measurement runs in a fresh interpreter on the same file: once untraced, for the time and
the peak resident memory the load adds (the process's high-water mark ``VmHWM`` after the load minus its resident
size ``VmRSS`` before it; ``ru_maxrss`` would not do, as it keeps the parent's peak across ``fork`` and ``exec``),
once under ``tracemalloc``, for the peak of traced Python and numpy allocations. The last line printed is the
ratio (Linux: the resident sizes are read from ``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

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


def _status_bytes(field: str) -> int:
    """A size from ``/proc/self/status`` (Linux): ``VmRSS`` (resident now) or ``VmHWM`` (resident at most)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}; this benchmark measures memory on Linux only")


def measure(path: Path, traced: bool) -> dict[str, float]:
    """Load ``path`` once in this interpreter; the seconds, the peak bytes the load added and the result's checks."""
    from rooflinekit.compare.loaders.generic import load_table

    before = _status_bytes("VmRSS")
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    result = load_table(path)
    seconds = time.perf_counter() - start
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        peak = _status_bytes("VmHWM") - before
    sources = [int(s.rsplit(":", 1)[1]) for s in result.records.source]
    return {"seconds": seconds, "peak": peak, "records": len(result.records), "rejected": len(result.rejected),
            "lines": sources, "batches": result.records.batch.tolist()}


def _in_subprocess(path: Path, traced: bool) -> dict:
    command = [sys.executable, __file__, "--measure", str(path)] + (["--traced"] if traced else [])
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.traced)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        expected = write_csv(path, args.rows)
        size = path.stat().st_size
        untraced, traced = _in_subprocess(path, False), _in_subprocess(path, True)
    conserved = untraced["records"] + untraced["rejected"] == args.rows
    exact = dict(zip(untraced["lines"], untraced["batches"])) == expected and untraced["rejected"] == 0
    print(f"rows {args.rows:,}, file {size / 1e6:.1f} MB; {untraced['records']:,} records, "
          f"{untraced['rejected']:,} rejected; rows conserved: {conserved}; provenance exact: {exact}")
    print(f"load {untraced['seconds']:.1f} s untraced ({traced['seconds']:.1f} s under tracemalloc); peak RSS added "
          f"{untraced['peak'] / 1e6:.1f} MB, peak traced {traced['peak'] / 1e6:.1f} MB")
    print(f"peak memory / file size: {max(untraced['peak'], traced['peak']) / size:.2f} "
          f"(RSS {untraced['peak'] / size:.2f}, traced {traced['peak'] / size:.2f})")


if __name__ == "__main__":
    main()
