"""Measure the device offsets behind the prior of the unseen-device interval, and print them as
``DEVICE_OFFSETS`` for ``rooflinekit/compare/calibrate/intervals.py``.

    python tools/device_offsets.py        (needs ../shared/data; about a minute on 2 cores)

For every data set of ``benchmarks/fidelity``, each device predicted with no record of it in the fit, by the
calibrated predictor of that data set's scheme, gives one offset

    d_j = median over the device's rows of log(measured latency / predicted latency)

- ``mlperf_tiny``: leave one board out (``benchmarks/fidelity/mlperf_tiny.py``, scheme LOBO);
- ``mlperf_inference``: the accelerators first seen in a later round, forward in time
  (``benchmarks/fidelity/mlperf_inference.py``; per hardware class and accelerator, over all its rows);
- ``nb201``: leave one device out (``benchmarks/fidelity/nb201.py``, every 5th architecture);
- ``neusight``: leave one GPU out (``benchmarks/fidelity/neusight.py``).

Only point predictions enter (the intervals, whose prior these offsets set, play no part), so the table does not
depend on itself. Paste the printed dict over ``DEVICE_OFFSETS`` and rebuild the shipped calibrations
(``tools/build_default_calibration.py``, ``tools/build_gpu_calibration.py``), whose default prior pools all four.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "fidelity"))
import lodo  # noqa: E402
import mlperf_inference  # noqa: E402
import mlperf_tiny  # noqa: E402
import nb201  # noqa: E402
import neusight  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning  # noqa: E402


def offsets(measured: pd.Series, predicted: pd.Series, device: pd.Series) -> tuple[float, ...]:
    """d_j per device (in order of first appearance), rounded to 3 decimals."""
    residual = np.log(measured / predicted)
    return tuple(round(float(v), 3) for v in residual.groupby(device, sort=False).median())


def leave_one_out(features: pd.DataFrame, make: Callable[[], CalibratedPredictor], held_out: str) -> pd.Series:
    """Point predictions (s) of the rows of each value of column ``held_out`` (a device, a network) whose hardware
    class holds another value, from every row without that value, as the benchmark's ``lodo.leave_one_device_out``
    fits (op-class factors per hardware class, overheads per software stack across classes). Points only: the
    benchmark also fits the naive baseline and the intervals, whose prior these offsets set."""
    parts = []
    for _, test_rows in features.groupby(["hardware_class", held_out], sort=False):
        test = features.index.isin(test_rows.index)
        own = (features["hardware_class"] == test_rows["hardware_class"].iloc[0]).to_numpy() & ~test
        if own.any():
            model = make().fit(features[~test])
            parts.append(pd.Series(model.predict(features[test]), index=features.index[test]))
    return pd.concat(parts)


def mlperf_tiny_offsets(scheme: str, held_out: str) -> tuple[float, ...]:
    """The MLPerf Tiny offsets per value of ``held_out``, each row predicted by its ``scheme`` split
    (``benchmarks/fidelity/mlperf_tiny.py``: ``LOBO``, ``LOMO``)."""
    tiny, _ = mlperf_tiny.load_features()
    parts = [pd.Series(CalibratedPredictor(interval_coverage=None).fit(tiny[train]).predict(tiny[test]),
                       index=tiny.index[test]) for train, test in mlperf_tiny.splits(tiny, scheme)]
    predicted = pd.concat(parts)
    return offsets(tiny.loc[predicted.index, "latency_s"], predicted, tiny.loc[predicted.index, held_out])


def print_table(name: str, table: dict[str, tuple[float, ...]]) -> None:
    """``table`` as the Python literal of ``intervals.py``'s ``name``."""
    print(f"{name}: dict[str, tuple[float, ...]] = {{")
    for key, values in table.items():
        print(f'    "{key}": ({", ".join(f"{v:.3f}" for v in values)}{"," if len(values) == 1 else ""}),')
    print("}")


def main() -> int:
    warnings.simplefilter("ignore", CalibrationWarning)
    table: dict[str, tuple[float, ...]] = {}

    table["mlperf_tiny"] = mlperf_tiny_offsets("LOBO", "catalog_hardware")

    inference, _ = mlperf_inference.load_features()
    forward = mlperf_inference.forward(inference)
    new = forward[(forward["status"] == "calibrated") & ~forward["seen"]]
    table["mlperf_inference"] = offsets(inference.loc[new.index, "latency_s"], new["calibrated"],
                                        inference.loc[new.index, ["hardware_class", "device"]].agg(" ".join, axis=1))

    def point() -> CalibratedPredictor:
        return lodo.calibrated_predictor(interval_coverage=None)

    for name, features in (("nb201", nb201.load_features()), ("neusight", neusight.load_features()[0])):
        predicted = leave_one_out(features, point, "catalog_hardware")
        table[name] = offsets(features.loc[predicted.index, "latency_s"], predicted,
                              features.loc[predicted.index, "catalog_hardware"])

    print_table("DEVICE_OFFSETS", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
