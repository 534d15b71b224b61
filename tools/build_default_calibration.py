"""Rebuild the calibration shipped in ``rooflinekit/calibrations/`` from the public data in ``../shared/data``.

    python tools/build_default_calibration.py [--data ../shared/data/mlperf_tiny]

Records: MLPerf Tiny v0.5-v1.1, closed division, CPU-only Cortex-M systems, int8 reference models (the rows of
``benchmarks/mlperf_tiny/crossval.py``). Writes ``mlperf_tiny_cortex_m.json`` (the fitted
:class:`~rooflinekit.compare.calibrate.CalibratedPredictor`, default parameters) and
``mlperf_tiny_cortex_m_features.csv`` (its featurized records, for extending it with your own).
"""

from __future__ import annotations

import os

# one BLAS thread, set before numpy loads: threads split sums in an order that varies with the thread count, and
# only one order gives the same data the same bytes (with two threads the fitted factors moved in the last digits)
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "mlperf_tiny"))
from crossval import DATA, load_features  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor  # noqa: E402
from rooflinekit.compare.calibrate.defaults import DEFAULT_NAME  # noqa: E402

OUT = REPO / "rooflinekit" / "calibrations"
KEEP = ("hardware", "network", "precision", "batch", "framework", "framework_version", "latency_s", "round",
        "submitter", "system", "benchmark", "source")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Tiny data folder (default {DATA})")
    args = parser.parse_args()
    features, _ = load_features(args.data)
    predictor = CalibratedPredictor().fit(features)
    OUT.mkdir(exist_ok=True)
    (OUT / f"{DEFAULT_NAME}.json").write_text(predictor.to_json() + "\n", encoding="utf-8")
    columns = [c for c in features.columns if c in KEEP or c.startswith("roofline_s:")
               or c in ("catalog_hardware", "hardware_class", "core_family", "spec_clock_hz", "macs",
                        "roofline_latency_s", "kernels")]
    features[columns].to_csv(OUT / f"{DEFAULT_NAME}_features.csv", index=False)
    print(f"fitted on {predictor.n_records_} records; wrote {OUT / DEFAULT_NAME}.json and _features.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
