"""Rebuild the eager-framework latency calibration shipped in ``rooflinekit/calibrations/`` from ``../shared/data``.

    python tools/build_latency_calibration.py [--nb201 ../shared/data/nb201] [--neusight ../shared/data/neusight]
                                              [--step 100] [--out rooflinekit/calibrations]

Why: a CPU, or a GPU behind an eager framework at a small batch, is governed by per-call and per-kernel overheads
that the MLPerf Inference Offline records (large-batch throughput) never contained. Two public data sets measured
exactly that, the latency of one inference call at the batch given:

- NAS-Bench-201 (:func:`rooflinekit.compare.loaders.load_nb201`, fp32 CIFAR-10 cells): PyTorch on a Xeon Gold
  6226 (batch 1) and on a GTX 1080 Ti and a TITAN RTX (batch 1, 32, 256), TFLite on a Raspberry Pi 4 and a Pixel 3
  (batch 1); every ``step``-th architecture in NAS-Bench-201 index order (deterministic; :data:`STEP` = 100, 125
  of the 12,500, to keep the features CSV well under 1 MB: every 50th wrote 824 kB; the fidelity benchmark found
  every 5th and all 12,500 give the same leave-one-device-out numbers, ``benchmarks/fidelity/RESULTS.md``). Each
  network is costed as its record's framework runs it (:func:`~rooflinekit.networks.nb201.nb201_execution`: eager
  under PyTorch, pruned of its ``none`` edges under TFLite), which
  :func:`~rooflinekit.compare.calibrate.calibration_features` does. The records of an architecture whose cells'
  output is a constant (:func:`~rooflinekit.networks.nb201.nb201_constant_output`) under a stack that prunes
  (TFLite) are left out: its graph compiler folds the network away, so they ran faster than the layers costed.
- NeuSight (:func:`~rooflinekit.compare.loaders.load_neusight`, fp32 PyTorch eager transformer inference on six
  GPUs), each row costed on :func:`rooflinekit.networks.neusight_network` of its model, batch and sequence length
  (``network`` = ``"<model> b<batch> s<seq_len>"``; the A100 rows run with the artifact's fused kernels have
  ``framework_version`` ``fusion``); rows it cannot build are left out and counted.

One :class:`~rooflinekit.compare.calibrate.CalibratedPredictor` is fitted on both (op-class factors are scoped by
hardware class, the per-call and per-kernel overheads are the software stack's and cross classes), with the
configuration of the fidelity benchmark's leave-one-device-out runs: per-kernel and per-call overhead terms
(t_ref :data:`KERNEL_OVERHEAD_REF_S` and :data:`CALL_OVERHEAD_REF_S`), ``fine`` op classes, the traffic the
features were built with (:data:`TRAFFIC`), default shrinkage and 80 % intervals, and the default device- and
network-offset priors (this calibration is fitted outside the fidelity benchmarks). It carries no regime: each
record is the latency of one call at its own batch, as the MCU calibration's are. Writes ``eager_latency.json``
and ``eager_latency_features.csv`` (its records, for
:func:`~rooflinekit.compare.calibrate.extend_default_calibration`). Deterministic: the same data gives the same
files (BLAS runs on one thread for that, below).
"""

from __future__ import annotations

import os

# one BLAS thread, set before numpy loads: threads split sums in an order that varies with the thread count, and
# only one order gives the same data the same bytes
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning, calibration_features
from rooflinekit.compare.calibrate.defaults import LATENCY_NAME
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX
from rooflinekit.compare.calibrate.regime import calibration_json
from rooflinekit.compare.loaders import load_nb201, load_neusight
from rooflinekit.descriptors import NetworkSpec
from rooflinekit.errors import RooflineError
from rooflinekit.networks import neusight_network
from rooflinekit.networks.nb201 import nb201_constant_output, nb201_execution

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "rooflinekit" / "calibrations"
STEP = 100
"""Every 100th NAS-Bench-201 architecture in index order (module docstring)."""
KERNEL_OVERHEAD_REF_S = 1e-5
"""t_ref of the per-kernel overhead term (s): the scale of an eager framework's per-op dispatch."""
CALL_OVERHEAD_REF_S = 1e-3
"""t_ref of the per-call overhead term (s): the scale of one eager inference call's fixed cost."""
OP_CLASSES = "fine"
TRAFFIC = "weights_and_activations"
KEEP = ("hardware", "network", "precision", "batch", "framework", "framework_version", "latency_s", "source",
        "nb201_index", "catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs",
        "roofline_latency_s", "kernels")
"""Feature columns written to the CSV (with every ``roofline_s:<class>`` column the records use)."""


def nb201_features(data: Path, step: int) -> pd.DataFrame:
    """Featurized NAS-Bench-201 records of every ``step``-th architecture in index order (module docstring)."""
    loaded = load_nb201(data)
    keep = sorted(loaded.records["nb201_index"].unique())[::step]
    records = loaded.records[loaded.records["nb201_index"].isin(keep)]
    folded = [nb201_execution(f) == "pruned" and nb201_constant_output(a) for f, a in zip(records.framework,
                                                                                          records.network)]
    records = records[~pd.Series(folded, index=records.index)].reset_index(drop=True)
    features, skipped = calibration_features(records, {}, traffic=TRAFFIC, op_classes=OP_CLASSES)
    print(f"NAS-Bench-201: {len(keep)} architectures (every {step}th), {len(features)} records featurized, "
          f"{sum(folded)} left out as folded to a constant, {len(skipped)} not costed; {len(loaded.rejected)} "
          "cells rejected by the loader", file=sys.stderr)
    return features


def neusight_features(data: Path) -> pd.DataFrame:
    """Featurized NeuSight records (module docstring); the rows that cannot be built are counted on stderr."""
    loaded = load_neusight(data)
    records = loaded.records.rename(columns={"network": "model_name"})
    records["network"] = [f"{m} b{b} s{s}" for m, b, s in zip(records.model_name, records.batch, records.seq_len)]
    records["framework_version"] = records["option"].where(records["option"].notna(), None)
    networks: dict[tuple[str, str], NetworkSpec] = {}
    left_out = 0
    unique = records.drop_duplicates("network")
    for name, model, batch, seq_len, precision in zip(*(unique[c].tolist() for c in (
            "network", "model_name", "batch", "seq_len", "precision"))):
        try:
            networks[(name, str(precision))] = neusight_network(model, int(batch), int(seq_len), str(precision))
        except RooflineError:
            left_out += int((records.network == name).sum())
    built = records[records.network.isin([name for name, _ in networks])].reset_index(drop=True)
    features, skipped = calibration_features(built, networks, traffic=TRAFFIC, op_classes=OP_CLASSES)
    print(f"NeuSight: {len(features)} records featurized, {left_out + len(skipped)} left out (network not built "
          f"or not costed); {len(loaded.rejected)} rejected by the loader", file=sys.stderr)
    return features


def combined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The featurized records of every data set in one table, :data:`KEEP` and the ``roofline_s:<class>`` columns
    (0 where a record has no layer of the class)."""
    features = pd.concat(parts, ignore_index=True)
    times = sorted(c for c in features.columns if c.startswith(ROOFLINE_PREFIX) and (features[c].fillna(0) != 0).any())
    features[times] = features[times].fillna(0.0)
    return features[[c for c in KEEP if c in features.columns] + times]


def fit(features: pd.DataFrame) -> CalibratedPredictor:
    """The calibration of the module docstring, fitted on ``features``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # inner cross-validation fallbacks
        return CalibratedPredictor(kernel_overhead_ref_s=KERNEL_OVERHEAD_REF_S, call_overhead_ref_s=CALL_OVERHEAD_REF_S,
                                   op_classes=OP_CLASSES, traffic=TRAFFIC).fit(features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nb201", type=Path, default=DATA / "nb201",
                        help=f"NAS-Bench-201 data folder (default {DATA / 'nb201'})")
    parser.add_argument("--neusight", type=Path, default=DATA / "neusight",
                        help=f"NeuSight data folder (default {DATA / 'neusight'})")
    parser.add_argument("--step", type=int, default=STEP, help=f"use every STEP-th architecture (default {STEP})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write the two files to (default {OUT})")
    args = parser.parse_args(argv)
    if args.step < 1:
        parser.error(f"--step must be a whole number >= 1, got {args.step}")
    features = combined([nb201_features(args.nb201, args.step), neusight_features(args.neusight)])
    predictor = fit(features)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{LATENCY_NAME}.json").write_text(calibration_json(predictor) + "\n", encoding="utf-8")
    features.to_csv(args.out / f"{LATENCY_NAME}_features.csv", index=False)
    print(f"fitted on {predictor.n_records_} records of {features['catalog_hardware'].nunique()} devices, classes "
          f"{', '.join(predictor.classes_)}; wrote {LATENCY_NAME}.json and {LATENCY_NAME}_features.csv to "
          f"{args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
