"""Import + count time of an ONNX model: rooflinekit against the peer onnx-tool, in one process.

onnx-tool is a peer used for comparison only, never a rooflinekit dependency. Install it into the same
environment for this benchmark:

    pip install onnx-tool

Usage::

    python benchmarks/bench_onnx_import.py [--repeat 20] [MODEL.onnx]

MODEL defaults to ``light_resnet50.onnx`` from the installed onnx package. Each tool runs once to warm up, then
the two take turns ``--repeat`` times; the median wall time of one run (read the file, infer shapes, count
every layer) is reported. The last line reads ``rooflinekit_s=... onnx_tool_s=... ratio=...`` with ratio = rooflinekit / onnx-tool
(below 1: rooflinekit is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import onnx

from rooflinekit.counters import UnsupportedOpWarning, count_network
from rooflinekit.importers.onnx import load_onnx

DEFAULT_MODEL = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def rooflinekit_macs(path: Path) -> float:
    """rooflinekit: import the model and count every layer; total MACs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        return float(count_network(load_onnx(path)).totals["macs"])


def onnx_tool_macs(path: Path) -> float:
    """onnx-tool: load, order the nodes, infer shapes and profile every node; total MACs (its own convention,
    which also counts normalization and elementwise arithmetic as MACs)."""
    import onnx_tool

    with contextlib.redirect_stdout(io.StringIO()):
        graph = onnx_tool.Model(str(path), {"verbose": False}).graph
        graph.graph_reorder_nodes()
        graph.shape_infer()
        graph.profile()
    return float(graph.macs[0])


def median_seconds(runs: list[Callable[[Path], float]], path: Path, repeat: int) -> list[tuple[float, float]]:
    """Per run function: (median seconds of one call, its result). Each function is called once to warm up,
    then the functions take turns ``repeat`` times, so that a change in machine load hits them alike."""
    results = [run(path) for run in runs]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, samples in zip(runs, times):
            start = time.perf_counter()
            run(path)
            samples.append(time.perf_counter() - start)
    return [(statistics.median(samples), result) for samples, result in zip(times, results)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per tool (default 20)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("onnx_tool") is None:
        print("onnx-tool is not installed; it is the peer this benchmark compares against.\n"
              "Install it for the benchmark only (it is not a rooflinekit dependency):  pip install onnx-tool")
        return 0
    (ours_s, ours_macs), (peer_s, peer_macs) = median_seconds([rooflinekit_macs, onnx_tool_macs], args.model,
                                                              args.repeat)
    print(f"model: {args.model.name}  runs: {args.repeat} each, interleaved (median after one warm-up)")
    print(f"rooflinekit: {ours_s * 1e3:8.2f} ms  total MACs {ours_macs:,.0f}")
    print(f"onnx-tool:   {peer_s * 1e3:8.2f} ms  total MACs {peer_macs:,.0f} (its MACs include norm/elementwise ops)")
    print(f"rooflinekit_s={ours_s:.6f} onnx_tool_s={peer_s:.6f} ratio={ours_s / peer_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
