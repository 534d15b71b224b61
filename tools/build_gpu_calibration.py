"""Rebuild the GPU and NPU calibrations shipped in ``rooflinekit/calibrations/`` from ``../shared/data``.

    python tools/build_gpu_calibration.py [--data ../shared/data/mlperf_inference] [--out rooflinekit/calibrations]

Records: the MLPerf Inference Offline rows of ``benchmarks/fidelity/mlperf_inference.py`` (ResNet-50, RetinaNet,
BERT-Large; rounds v2.1, v3.0 and v4.1, all of them), featurized by
:func:`rooflinekit.compare.calibrate.inference_offline.load_features` (64 samples per accelerator, weights-only
traffic, op classes conv / grouped conv / fully connected / other, core family = micro-architecture, releases
keyed by round, system = the device). One :class:`~rooflinekit.compare.calibrate.CalibratedPredictor` per
hardware class (factors never cross classes), with the cross-validated configuration (``system_columns`` =
the device, default shrinkage, 80 % intervals from its inner cross-validation) and that traffic and op-class
scheme recorded for prediction. Writes, per class, ``mlperf_inference_<class>.json`` (the predictor and its
regime, :class:`~rooflinekit.compare.calibrate.regime.CalibrationRegime`) and ``mlperf_inference_<class>_features.csv``
(its records, for :func:`~rooflinekit.compare.calibrate.extend_default_calibration`). Deterministic: the same data
gives the same files (BLAS runs on one thread for that, below).
"""

from __future__ import annotations

import os

# one BLAS thread, set before numpy loads: threads split sums in an order that varies with the thread count, and
# only one order gives the same data the same bytes (with two threads the fitted factors moved in the last digits)
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"

import argparse
import sys
import warnings
from pathlib import Path

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.calibrate.defaults import SHIPPED
from rooflinekit.compare.calibrate.inference_offline import (
    OFFLINE_BATCH, OP_CLASSES, SYSTEM_COLUMNS, TRAFFIC, load_features,
)
from rooflinekit.compare.calibrate.regime import CalibrationRegime, calibration_json, with_regime

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "mlperf_inference"
OUT = REPO / "rooflinekit" / "calibrations"
CLASSES = ("GPU", "NPU")
KEEP = ("hardware", "network", "precision", "batch", "framework", "framework_version", "latency_s", "round",
        "submitter", "system", "benchmark", "scenario", "throughput_fps", "n_accelerators", "engines_used", "source",
        "catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs", "roofline_latency_s",
        "kernels", "device", "stack_release")
"""Feature columns written to the CSV (with every ``roofline_s:<class>`` column the class's records use)."""


def regime(n_records: int, hardware_class: str, rounds: list[str]) -> CalibrationRegime:
    """The regime of the calibration of ``hardware_class`` fitted on ``n_records`` rows of ``rounds``."""
    return CalibrationRegime(
        name="MLPerf Inference Offline",
        description="large-batch sustained throughput per accelerator, harness batching and pipelining as it likes",
        batch=OFFLINE_BATCH, traffic=TRAFFIC, conventions="mlperf_inference_offline",
        records=(f"{n_records} closed-division Offline results ({hardware_class}) of ResNet-50, RetinaNet and "
                 f"BERT-Large, rounds {', '.join(rounds)}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Inference data folder (default {DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write the four files to (default {OUT})")
    args = parser.parse_args(argv)
    features, left_out = load_features(args.data)
    print(f"{len(features)} Offline rows featurized; {len(left_out)} table rows left out", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for hardware_class in CLASSES:
        rows = features[features["hardware_class"] == hardware_class]
        if rows.empty:
            print(f"{hardware_class}: no rows, nothing written", file=sys.stderr)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)  # inner cross-validation fallbacks
            predictor = CalibratedPredictor(system_columns=SYSTEM_COLUMNS, traffic=TRAFFIC,
                                            op_classes=OP_CLASSES).fit(rows)
        rounds = sorted(rows["round"].unique(), key=lambda r: tuple(int(p) for p in r.lstrip("v").split(".")))
        with_regime(predictor, regime(len(rows), hardware_class, rounds))
        name = SHIPPED[hardware_class]
        (args.out / f"{name}.json").write_text(calibration_json(predictor) + "\n", encoding="utf-8")
        columns = [c for c in rows.columns if c in KEEP or c.startswith("roofline_s:") and (rows[c] != 0).any()]
        rows[columns].to_csv(args.out / f"{name}_features.csv", index=False)
        print(f"{hardware_class}: fitted on {predictor.n_records_} records, classes {', '.join(predictor.classes_)}; "
              f"wrote {name}.json and {name}_features.csv", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
