"""Time one command-line prediction against the interpreter's own start-up, in one process.

    python benchmarks/bench_cli_startup.py [--runs 15]

Runs ``rooflinekit predict ResNet-50 --hardware ZCU104-DPU`` (the installed console script beside this Python,
else ``python -c 'from rooflinekit.cli import main; ...'``) and ``python -c pass`` alternately, ``--runs`` times
each, and takes the median wall time of each (interleaving spreads the machine's load over both alike). The
catalog index cache is warmed by one untimed run first, as any second use of the command finds it. The last line
prints the ratio (acceptance: ``cli_over_python <= 5``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMAND = ["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]


def cli_command() -> list[str]:
    """The installed ``rooflinekit`` script of this interpreter, else the same entry point through ``-c``."""
    script = Path(sys.executable).with_name("rooflinekit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), *COMMAND]
    return [sys.executable, "-c", "import sys; from rooflinekit.cli import main; sys.exit(main())", *COMMAND]


def wall_s(command: list[str]) -> float:
    """Wall time of one run of ``command``, s (its output discarded; a failure stops the benchmark)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cli, python = cli_command(), [sys.executable, "-c", "pass"]
    wall_s(cli)  # warm: the catalog index cache and the OS file cache
    cli_s, python_s = [], []
    for _ in range(args.runs):
        cli_s.append(wall_s(cli))
        python_s.append(wall_s(python))
    cli_median, python_median = statistics.median(cli_s), statistics.median(python_s)
    print(f"command={' '.join(cli)}")
    print(f"cli_median_s={cli_median:.3f} python_pass_median_s={python_median:.3f} runs={args.runs} "
          f"load={os.getloadavg()[0]:.2f}")
    print(f"cli_over_python={cli_median / python_median:.1f}x")


if __name__ == "__main__":
    main()
