"""Measure the network offsets behind the prior of the new-network interval, and print them as
``NETWORK_OFFSETS`` for ``rooflinekit/compare/calibrate/intervals.py``.

    python tools/network_offsets.py        (needs ../shared/data; about a minute on 2 cores)

For every data set of ``benchmarks/fidelity`` that measures several networks on the same devices, each network
predicted with no record of it on its hardware class (leave one network out, the devices all known), by the
calibrated predictor of that data set's scheme, gives one offset

    d_k = median over the network's rows of log(measured latency / predicted latency)

- ``mlperf_tiny``: leave one model out (``benchmarks/fidelity/mlperf_tiny.py``, scheme LOMO);
- ``mlperf_inference``: leave one network out per hardware class, over all rounds
  (``benchmarks/fidelity/mlperf_inference.py``'s predictor; one offset per class and network);
- ``neusight``: leave one network out (``benchmarks/fidelity/neusight.py``'s predictor).

NAS-Bench-201 gives none: its networks are thousands of cells of one search space, every one measured on every
device, so no scheme of it predicts a network new to its class, and thousands of near-identical cousins would
outweigh the few networks of the other data sets in a pooled prior.

Only point predictions enter (the intervals, whose prior these offsets set, play no part), so the table does not
depend on itself. Paste the printed dict over ``NETWORK_OFFSETS`` and rebuild the shipped calibrations
(``tools/build_default_calibration.py``, ``tools/build_gpu_calibration.py``), whose default prior pools them all.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "fidelity"))
sys.path.insert(0, str(ROOT / "tools"))
import lodo  # noqa: E402
import mlperf_inference  # noqa: E402
import neusight  # noqa: E402
from device_offsets import leave_one_out, mlperf_tiny_offsets, offsets, print_table  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning  # noqa: E402
from rooflinekit.compare.calibrate.inference_offline import SYSTEM_COLUMNS  # noqa: E402


def class_network(features: pd.DataFrame) -> pd.Series:
    """``<hardware class> <network>`` per row: the unit one offset is measured on."""
    return features["hardware_class"].astype(str) + " " + features["network"].astype(str)


def main() -> int:
    warnings.simplefilter("ignore", CalibrationWarning)
    table: dict[str, tuple[float, ...]] = {}

    table["mlperf_tiny"] = mlperf_tiny_offsets("LOMO", "network")

    inference, _ = mlperf_inference.load_features()
    predicted = leave_one_out(
        inference, lambda: CalibratedPredictor(system_columns=SYSTEM_COLUMNS, interval_coverage=None), "network")
    table["mlperf_inference"] = offsets(inference.loc[predicted.index, "latency_s"], predicted,
                                        class_network(inference.loc[predicted.index]))

    features = neusight.load_features()[0]
    predicted = leave_one_out(features, lambda: lodo.calibrated_predictor(interval_coverage=None), "network")
    table["neusight"] = offsets(features.loc[predicted.index, "latency_s"], predicted,
                                class_network(features.loc[predicted.index]))

    print_table("NETWORK_OFFSETS", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
