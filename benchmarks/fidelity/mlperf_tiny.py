"""Fidelity on MLPerf Tiny: the calibrated predictor against the roofline bound and a naive baseline.

    python benchmarks/fidelity/mlperf_tiny.py [--data ../shared/data/mlperf_tiny]

Rows: as ``benchmarks/mlperf_tiny/crossval.py`` (closed division, CPU-only Cortex-M systems, v0.5-v1.1, int8
reference models). Schemes, each predicting every row of a group from a predictor fitted without it:

- ``LOMO``: leave one model out: all rows of one benchmark network, on every system, predicted from the other three
  networks' rows (an unseen network on known boards and stacks);
- ``LOBO``: leave one board out (the board known only by its spec);
- ``forward``: each round predicted from the earlier rounds alone (v1.0 from v0.5-v0.7, v1.1 from v0.5-v1.0): new
  boards, new stacks and new releases, as the future arrives.

Predictors: ``roofline`` (the layer-mode bound, nothing fitted), ``naive`` (median cycles per MAC per core
family), ``calibrated`` (:class:`~rooflinekit.compare.calibrate.CalibratedPredictor`, defaults: system = board,
stack and release; an unseen release falls back to the newest calibrated release of its stack; 80 % intervals from
its own inner cross-validation, on a board it never saw the unseen-device interval with its prior from the other
data sets, :data:`DATASET`). Prints the metrics table; the last line is
``forward_median_ape_pct=<x> LOBO_median_ape_pct=<y> LOMO_median_ape_pct=<z>`` of the calibrated predictor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mlperf_tiny"))
from crossval import DATA, load_features  # noqa: E402
from lodo import fold_predictions  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor  # noqa: E402
from rooflinekit.compare.calibrate.intervals import NETWORK_OFFSETS, fold_labels, offset_prior  # noqa: E402
from rooflinekit.compare.evaluate import MedianCyclesPerMac, error_metrics  # noqa: E402

Split = tuple[np.ndarray, np.ndarray]
PREDICTORS = ("roofline", "naive", "calibrated")
DATASET = "mlperf_tiny"
"""This data set's key in :data:`~rooflinekit.compare.calibrate.intervals.DEVICE_OFFSETS` and ``NETWORK_OFFSETS``:
the priors of the unseen-device and new-network intervals are taken from the other data sets."""


def splits(features: pd.DataFrame, scheme: str) -> Iterator[Split]:
    """(train, test) boolean masks of one scheme (module docstring)."""
    if scheme == "forward":
        rounds = sorted(features["round"].unique())
        for later in rounds[2:]:  # v0.7 from v0.5's 4 rows alone is not a test of anything
            yield (features["round"] < later).to_numpy(), (features["round"] == later).to_numpy()
        return
    groups = features["catalog_hardware"] if scheme == "LOBO" else features["network"]
    labels = fold_labels(groups, folds=groups.nunique())
    for label in np.unique(labels):
        yield labels != label, labels == label


def run_scheme(features: pd.DataFrame, scheme: str,
               progress: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    """Predicted latency_s of each predictor, and the calibrated 80 % interval, for every row tested."""
    out = pd.DataFrame(index=features.index[np.zeros(len(features), dtype=bool)])
    parts = []
    all_splits = list(splits(features, scheme))
    for number, (train, test) in enumerate(all_splits, start=1):
        progress(f"{scheme}: fold {number}/{len(all_splits)}")  # one line per fold: folds take tens of seconds
        parts.append(fold_predictions(features[train], features[test],
                                      CalibratedPredictor(device_offset_prior=offset_prior(exclude=DATASET),
                                                          network_offset_prior=offset_prior(
                                                              exclude=DATASET, offsets=NETWORK_OFFSETS)),
                                      MedianCyclesPerMac()))
    return pd.concat(parts) if parts else out


def metrics(features: pd.DataFrame, predicted: pd.DataFrame, scheme: str) -> list[dict[str, object]]:
    """One row per predictor: error metrics and (calibrated) the share inside the 80 % interval."""
    measured = features.loc[predicted.index, "latency_s"]
    rows = []
    for name in PREDICTORS:
        row: dict[str, object] = {"scheme": scheme, "predictor": name, **error_metrics(measured, predicted[name])}
        inside = (measured >= predicted["low"]) & (measured <= predicted["high"])
        row["coverage_80_pct"] = float(100 * inside.mean()) if name == "calibrated" else float("nan")
        rows.append(row)
    return rows


def results(data: Path = DATA, progress: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    """The metrics table of every scheme and predictor (columns: scheme, predictor, error metrics, coverage)."""
    features, _ = load_features(data)
    rows = []
    for scheme in ("forward", "LOBO", "LOMO"):
        rows += metrics(features, run_scheme(features, scheme, progress), scheme)
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Tiny data folder (default {DATA})")
    args = parser.parse_args(argv)
    progress = (lambda text: print(text, file=sys.stderr, flush=True)) if sys.stderr.isatty() else (lambda _: None)
    table = results(args.data, progress)
    with pd.option_context("display.width", 200):
        print(table.round(2).to_string(index=False))
    calibrated = table[table.predictor == "calibrated"].set_index("scheme").median_ape_pct
    print(" ".join(f"{scheme}_median_ape_pct={calibrated[scheme]:.2f}" for scheme in ("forward", "LOBO", "LOMO")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
