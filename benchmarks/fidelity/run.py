"""Regenerate ``benchmarks/fidelity/RESULTS.md``: how far calibrated predictions are from measurements.

    python benchmarks/fidelity/run.py [--out benchmarks/fidelity/RESULTS.md]

Runs every dataset's cross-validation (today: MLPerf Tiny, :mod:`mlperf_tiny`), shows progress on stderr, and
writes the tables with the issue's targets beside them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mlperf_tiny  # noqa: E402

TARGETS = {"forward": 20.0, "LOBO": 20.0}
COLUMNS = ["scheme", "predictor", "n", "median_ape_pct", "within_10_pct", "within_25_pct", "spearman",
           "coverage_80_pct"]


def markdown(table: pd.DataFrame) -> str:
    """A GitHub table of ``table`` with numbers rounded for reading."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    lines = []
    for row in table[COLUMNS].itertuples(index=False):
        cells = [f"{v:.1f}" if isinstance(v, float) and v == v and name != "spearman" else
                 f"{v:.3f}" if name == "spearman" else "" if isinstance(v, float) else str(v)
                 for name, v in zip(COLUMNS, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    start = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {text}", file=sys.stderr, flush=True)

    tiny = mlperf_tiny.results(progress=progress)
    calibrated = tiny[tiny.predictor == "calibrated"].set_index("scheme")
    verdicts = []
    for scheme, target in TARGETS.items():
        value = calibrated.median_ape_pct[scheme]
        verdicts.append(f"- {scheme}: calibrated median APE {value:.1f} % against a target of <= {target:.0f} %: "
                        + ("met." if value <= target else f"missed by {value - target:.1f} points."))
    for scheme, coverage in calibrated.coverage_80_pct.items():
        verdicts.append(f"- {scheme}: {coverage:.0f} % of measurements inside the 80 % interval (target 70-90 %): "
                        + ("met." if 70 <= coverage <= 90 else "missed."))
    for scheme in calibrated.index:
        others = tiny[(tiny.scheme == scheme) & (tiny.predictor != "calibrated")].median_ape_pct.min()
        verdicts.append(f"- {scheme}: better than both baselines (best baseline {others:.1f} %): "
                        + ("yes." if calibrated.median_ape_pct[scheme] < others else "no."))
    text = (HERE / "RESULTS_HEADER.md").read_text(encoding="utf-8")
    text += "\n## MLPerf Tiny (Cortex-M, v0.5-v1.1)\n\n" + markdown(tiny) + "\n" + "\n".join(verdicts) + "\n"
    text += (HERE / "RESULTS_FOOTER.md").read_text(encoding="utf-8")
    args.out.write_text(text, encoding="utf-8")
    progress(f"wrote {args.out}")
    print(f"forward_median_ape_pct={calibrated.median_ape_pct['forward']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
