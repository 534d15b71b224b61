"""Time one command-line prediction against the interpreter's own start-up, in one process.

    python benchmarks/bench_cli_startup.py [--runs 15] [--breakdown 20] [--bytecode]

Runs ``rooflinekit predict ResNet-50 --hardware ZCU104-DPU`` (the installed console script beside this Python,
else ``python -c 'from rooflinekit.cli import main; ...'``) and ``python -c pass`` alternately, ``--runs`` times
each, and takes the median wall time of each (interleaving spreads the machine's load over both alike). The
catalog index cache is warmed by one untimed run first, as any second use of the command finds it. The last line
prints the ratio (acceptance: ``cli_over_python <= 5``).

``--breakdown N`` also runs the command once under ``python -X importtime`` and prints the N packages whose
modules took longest to import (their own time, summed; ``rooflinekit`` by subpackage). That time is inflated by
the measuring, so read it as shares, not as wall time.

``bytecode_cache=off`` in the summary line means ``PYTHONDONTWRITEBYTECODE`` is set: an editable checkout's
modules are then compiled from source on every run, which a pip-installed package (compiled at install) does not
pay. ``--bytecode`` lets both commands cache compiled modules (in a temporary folder, ``PYTHONPYCACHEPREFIX``,
filled by the untimed first run) to measure what such an installation starts in.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]


def cli_command() -> list[str]:
    """The installed ``rooflinekit`` script of this interpreter, else the same entry point through ``-c``."""
    script = Path(sys.executable).with_name("rooflinekit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), *COMMAND]
    return [sys.executable, "-c", "import sys; from rooflinekit.cli import main; sys.exit(main())", *COMMAND]


def wall_s(command: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of ``command`` in environment ``env``, s (its output discarded; a failure stops the
    benchmark)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def import_breakdown(cli: list[str], top: int, env: dict[str, str]) -> list[tuple[str, float]]:
    """The ``top`` packages whose modules took longest to import in one run of the timed command ``cli`` in
    environment ``env`` (``-X importtime`` self times summed per top-level package, per subpackage inside
    ``rooflinekit``), ms, longest first.

    The installed script is run by this interpreter as a file, never as ``-c`` code: ``-c`` puts the working
    folder first on ``sys.path``, so from the top of a source checkout it would measure the checkout's modules (and
    their first, uncached run) instead of the installed ones the timings are of."""
    command = [sys.executable, "-X", "importtime", *(cli[1:] if cli[0] == sys.executable else cli)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    totals: dict[str, float] = {}
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)$", result.stderr, re.M):
        parts = match.group(2).split(".")
        package = ".".join(parts[:2]) if parts[0] == "rooflinekit" else parts[0]
        totals[package] = totals.get(package, 0.0) + int(match.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="also print the N packages that take longest to import (default: none)")
    parser.add_argument("--bytecode", action="store_true",
                        help="let both commands cache compiled modules, in a temporary folder (default: as the "
                             "environment says)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rooflinekit-pycache-") as pycache:
        env = dict(os.environ)
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        cli, python = cli_command(), [sys.executable, "-c", "pass"]
        for command in (cli, python):  # warm: the catalog index cache, the OS file cache (--bytecode: compiled modules)
            wall_s(command, env)
        cli_s, python_s = [], []
        for _ in range(args.runs):
            cli_s.append(wall_s(cli, env))
            python_s.append(wall_s(python, env))
        breakdown = import_breakdown(cli, args.breakdown, env) if args.breakdown else []
    cli_median, python_median = statistics.median(cli_s), statistics.median(python_s)
    if breakdown:
        print("import time by package, ms (own time of its modules under -X importtime):")
        for package, ms in breakdown:
            print(f"{ms:9.1f}  {package}")
    bytecode = "off" if env.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"command={' '.join(cli)}")
    print(f"cli_median_s={cli_median:.3f} python_pass_median_s={python_median:.3f} runs={args.runs} "
          f"load={os.getloadavg()[0]:.2f} bytecode_cache={bytecode}")
    print(f"cli_over_python={cli_median / python_median:.1f}x")


if __name__ == "__main__":
    main()
