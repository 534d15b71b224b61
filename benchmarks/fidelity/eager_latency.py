"""The shipped eager-latency calibration (``rooflinekit/calibrations/eager_latency.json``): leave one device out over
its own records.

    python benchmarks/fidelity/eager_latency.py

The calibration a CPU, or a GPU under PyTorch, gets from ``rk.predict(..., calibrated=True)`` is one fit over the
NAS-Bench-201 and NeuSight records together (``tools/build_latency_calibration.py``: every 100th NAS-Bench-201
architecture, the NeuSight rows it can build). The NAS-Bench-201 and NeuSight schemes of this folder fit each data
set apart; this one cross-validates what ships: its featurized records (``eager_latency_features.csv``, read with
:func:`~rooflinekit.compare.calibrate.default_features`, so no data folder is needed), each of its 11 devices held
out in turn and predicted by the shipped configuration refitted on the other ten (:func:`lodo.leave_one_device_out`:
op-class factors from the held-out device's hardware class, overheads from its stack on every class). The
device-offset and network-offset priors come from the data sets other than the two it holds
(``offset_prior(exclude=("nb201", "neusight"))``), as every scheme's prior never sees its own data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lodo  # noqa: E402

from rooflinekit.compare.calibrate import default_calibration, default_features  # noqa: E402
from rooflinekit.compare.calibrate.intervals import NETWORK_OFFSETS, offset_prior  # noqa: E402

DATASETS = ("nb201", "neusight")
"""The data sets of :data:`~rooflinekit.compare.calibrate.intervals.DEVICE_OFFSETS` whose records it holds."""


def results(progress: Callable[[str], None] = lambda _: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(table, per_device)``: the metrics of each predictor under leave one device out over the shipped
    records, and the calibrated metrics per held-out device and batch (:func:`lodo.breakdown`)."""
    features = default_features("CPU")
    shipped = default_calibration("CPU").get_params()
    prior = offset_prior(exclude=DATASETS)
    network_prior = offset_prior(exclude=DATASETS, offsets=NETWORK_OFFSETS)
    progress(f"eager latency: {len(features)} shipped records of {features['catalog_hardware'].nunique()} devices")
    predicted = lodo.leave_one_device_out(
        features, make=lambda: lodo.calibrated_predictor(**{**shipped, "device_offset_prior": prior,
                                                           "network_offset_prior": network_prior}),
        progress=progress)
    table = pd.DataFrame(lodo.metrics(features, predicted, "LODO", rank_groups=("catalog_hardware", "batch")))
    return table, lodo.breakdown(features, predicted, ("catalog_hardware", "batch"))


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0]).parse_args(argv)
    table, per_device = results(lambda text: print(text, file=sys.stderr, flush=True))
    lodo.print_tables(table, per_device)
    calibrated = table.set_index("predictor").loc["calibrated"]
    print(f"eager_latency_LODO_median_ape_pct={calibrated.median_ape_pct:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
