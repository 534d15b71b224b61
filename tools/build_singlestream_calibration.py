"""Build the batch-1 latency calibration of GPUs and NPUs under their vendor stacks from MLPerf Inference SingleStream.

    python tools/build_singlestream_calibration.py [--data ../shared/data/mlperf_inference]
                                                   [--out rooflinekit/calibrations]

Records: the SingleStream rows of ``benchmarks/fidelity/mlperf_singlestream.py`` (ResNet-50, RetinaNet, BERT-Large
at 177 real tokens; rounds v2.1, v3.0 and v4.1, all of them; GPUs under TensorRT, the Cloud AI 100 under the
Qualcomm SDK), each the 90th-percentile latency of one sample, costed at batch 1 with the accelerator mapping,
networks and keys of :mod:`rooflinekit.compare.calibrate.inference_offline` (core family = micro-architecture,
Jetson's TensorRT apart, releases keyed by round, system = the device). One
:class:`~rooflinekit.compare.calibrate.CalibratedPredictor` over both classes (op-class factors scoped by class,
the per-call and per-kernel overheads the stack's), with the configuration the benchmark cross-validated: per-call
and per-kernel overhead terms, ``fine`` op classes, the traffic its inner leave-one-accelerator-out
cross-validation chooses on all rows (:func:`mlperf_singlestream.choose`), default shrinkage, 80 % intervals and
the default device- and network-offset priors (this calibration is fitted outside the fidelity benchmarks). It
carries its regime (:class:`~rooflinekit.compare.calibrate.regime.CalibrationRegime`: batch 1, the chosen
traffic, the MLPerf Inference conventions by which a query is keyed and costed). Writes ``mlperf_singlestream.json``
and ``mlperf_singlestream_features.csv`` (its records). Deterministic: the same data gives the same files (BLAS
runs on one thread for that, below).
"""

from __future__ import annotations

import os

# one BLAS thread, set before numpy loads: threads split sums in an order that varies with the thread count, and
# only one order gives the same data the same bytes
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "fidelity"))
import mlperf_singlestream as singlestream  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning  # noqa: E402
from rooflinekit.compare.calibrate.defaults import SINGLESTREAM_NAME as NAME  # noqa: E402
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX  # noqa: E402
from rooflinekit.compare.calibrate.regime import CalibrationRegime, calibration_json, with_regime  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "mlperf_inference"
OUT = REPO / "rooflinekit" / "calibrations"
KEEP = ("hardware", "network", "precision", "batch", "framework", "framework_version", "latency_s", "round",
        "submitter", "system", "benchmark", "scenario", "n_accelerators", "engines_used", "source",
        "catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs", "roofline_latency_s",
        "kernels", "device", "stack_release")
"""Feature columns written to the CSV (with every ``roofline_s:<class>`` column the records use)."""


def regime(features: pd.DataFrame, traffic: str) -> CalibrationRegime:
    """The regime of the calibration fitted on ``features`` with ``traffic``."""
    rounds = sorted(features["round"].unique(), key=lambda r: tuple(int(p) for p in r.lstrip("v").split(".")))
    classes = ", ".join(f"{n} {k}" for k, n in features["hardware_class"].value_counts().sort_index().items())
    return CalibrationRegime(
        name="MLPerf Inference SingleStream",
        description="90th-percentile latency of one sample, queries issued one at a time",
        batch=singlestream.BATCH, batch_max=singlestream.BATCH, traffic=traffic,
        conventions="mlperf_inference_offline",
        records=(f"{len(features)} closed-division SingleStream results ({classes}) of ResNet-50, RetinaNet and "
                 f"BERT-Large, rounds {', '.join(rounds)}"))


def fit(features: pd.DataFrame, traffic: str) -> CalibratedPredictor:
    """The calibration of the module docstring, fitted on ``features`` costed with ``traffic``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # inner cross-validation fallbacks
        return singlestream.calibrated_predictor(traffic).fit(features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Inference data folder (default {DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write the two files to (default {OUT})")
    args = parser.parse_args(argv)
    features, left_out = singlestream.load_features(args.data)
    rows = features[singlestream.BASELINE_TRAFFIC]
    traffic, scores = singlestream.choose(features, np.ones(len(rows), dtype=bool))
    print(f"{len(rows)} SingleStream rows featurized, {len(left_out)} table rows left out; inner cross-validation: "
          + ", ".join(f"{t} {s:.1f} %" for t, s in scores.items()) + f" -> {traffic}", file=sys.stderr)
    records = features[traffic]
    predictor = with_regime(fit(records, traffic), regime(records, traffic))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.json").write_text(calibration_json(predictor) + "\n", encoding="utf-8")
    columns = [c for c in records.columns
               if c in KEEP or c.startswith(ROOFLINE_PREFIX) and (records[c].fillna(0) != 0).any()]
    records[columns].to_csv(args.out / f"{NAME}_features.csv", index=False)
    print(f"fitted on {predictor.n_records_} records, classes {', '.join(predictor.classes_)}; wrote {NAME}.json "
          f"and {NAME}_features.csv to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
