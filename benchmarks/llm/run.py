"""Regenerate ``benchmarks/llm/RESULTS.md``: LLM predictions against measurements they were not fitted on.

    python benchmarks/llm/run.py [--out benchmarks/llm/RESULTS.md] [--data-root ../shared/data]

Each dataset is a module of this folder with ``section(progress, data) -> str`` (markdown starting at a ``##``
heading); :data:`SECTIONS` lists them in order, so a new dataset (e.g. the MLPerf LLM rows) is one module and one
entry here. Progress goes to stderr with elapsed seconds.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECTIONS: tuple[tuple[str, str], ...] = (("vidur", "vidur"), ("calibrated_llm", "vidur"),
                                         ("mlperf_llm", "mlperf_inference"))
"""(module of this folder, data folder under the data root) per section, in RESULTS.md order."""
HEADER = """# LLM fidelity: predictions against measurements they were not fitted on

Regenerate (needs `../shared/data`; progress on stderr):

    python benchmarks/llm/run.py

APE = 100 x |predicted / measured - 1|; MdAPE its median; within_10/25_pct the share of rows with APE <= 10 / 25 %;
Spearman the rank correlation of predicted and measured times; coverage_80_pct the share of measurements inside
the calibrated predictor's 80 % interval (target 70-90 %). `roofline` is a bound (`estimate: bound`), not an
estimate.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--data-root", type=Path, default=HERE.parents[2] / "shared" / "data")
    args = parser.parse_args()
    start = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {text}", file=sys.stderr, flush=True)

    text = HEADER
    for module_name, folder in SECTIONS:
        progress(f"section {module_name}")
        text += "\n" + importlib.import_module(module_name).section(progress, args.data_root / folder)
    args.out.write_text(text, encoding="utf-8")
    progress(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
