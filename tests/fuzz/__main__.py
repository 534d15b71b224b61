"""``python -m tests.fuzz [--long] [--seed N] [--families onnx,tflite] [--cases N] [--time-limit S] [--workers N]``:
run the fuzz suite and print its report; exit status 1 when any case raised a foreign exception, hung or gave a
wrong result."""

from __future__ import annotations

import argparse
import sys

from . import CI_SIZES, LONG_SIZES
from .engine import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--long", action="store_true", help="the long run: " + ", ".join(
        f"{n:,} {f}" for f, n in LONG_SIZES.items()))
    parser.add_argument("--families", help="comma-separated subset of " + ", ".join(CI_SIZES))
    parser.add_argument("--cases", type=int, help="cases per family (overrides --long)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per case before it is a hang")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    sizes = dict(LONG_SIZES if args.long else CI_SIZES)
    if args.families:
        sizes = {f: sizes[f] for f in args.families.split(",")}
    if args.cases is not None:
        sizes = {f: args.cases for f in sizes}
    report = run(sizes, seed=args.seed, time_limit=args.time_limit, workers=args.workers, progress=True)
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
