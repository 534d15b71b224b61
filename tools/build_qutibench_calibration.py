"""Rebuild the FPGA / TPU / VPU calibration shipped in ``rooflinekit/calibrations/`` from ``../shared/data``.

    python tools/build_qutibench_calibration.py [--data ../shared/data/qutibench] [--out rooflinekit/calibrations]

Why: before it, a calibrated prediction on an FPGA DPU, an Edge TPU or an NCS2 was refused, and their users had
only the datasheet bound, 2-25x optimistic on these devices. The only public measurements of these classes we hold
are QuTiBench's (:func:`rooflinekit.compare.loaders.load_qutibench`): per (device, precision, network, pruning,
batch) a measured throughput, on the Xilinx DPU (Ultra96, ZCU102, ZCU104; DNNDK, int8), FINN and BISMO (ZCU104;
int2, int4), the Edge TPU at its fast and slow clock (TFLite, int8, batch 1) and the NCS2 (OpenVINO, fp16).

What: the records, networks, stacks and costing of ``benchmarks/fidelity/qutibench.py`` (imported from there, so
the shipped calibration is the one its cross-validation measured): the FPGA, TPU and VPU rows whose network is
built (CNV and MLP as the catalog's ``FINN-*`` layer networks, the ImageNet ones from
:mod:`rooflinekit.networks.imagenet`; the pruned ResNet-50 variants are known by totals only and left out), each
the time of one batch at its own batch (``latency_s = batch / throughput_fps``), ``coarse`` op classes, the traffic
and per-call overhead term that the benchmark's inner cross-validation (leave one base network out) chooses on all
rows (``qutibench.choose``; printed on stderr), default shrinkage and 80 % intervals, and the default device- and
network-offset priors (this calibration is fitted outside the fidelity benchmarks). It carries no regime. Writes
``qutibench_accelerators.json`` and ``qutibench_accelerators_features.csv`` (its records, for
:func:`~rooflinekit.compare.calibrate.extend_default_calibration`). Deterministic: the same data gives the same
files (BLAS runs on one thread for that, below).
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

import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "fidelity"))
import qutibench  # noqa: E402

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning  # noqa: E402
from rooflinekit.compare.calibrate.defaults import QUTIBENCH_NAME  # noqa: E402
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX  # noqa: E402
from rooflinekit.compare.calibrate.regime import calibration_json  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "qutibench"
OUT = REPO / "rooflinekit" / "calibrations"
KEEP = ("hardware", "network", "base_network", "precision", "pruning_pct", "batch", "framework", "framework_version",
        "latency_s", "throughput_fps", "source", "family", "catalog_hardware", "hardware_class", "core_family",
        "spec_clock_hz", "macs", "roofline_latency_s", "kernels")
"""Feature columns written to the CSV (with every ``roofline_s:<class>`` column the records use)."""


def build(data: Path) -> tuple[CalibratedPredictor, pd.DataFrame]:
    """``(calibration, records)``: the calibration of the module docstring and the featurized records it was
    fitted on (:data:`KEEP` and the ``roofline_s:<class>`` columns, costed with the chosen traffic)."""
    features, left_out = qutibench.load_features(data, lambda text: print(text, file=sys.stderr))
    print(f"left out: {len(left_out)} rows; " + "; ".join(f"{n} x {reason}" for reason, n in
                                                       left_out["reason"].value_counts().items()), file=sys.stderr)
    everything = features[qutibench.BASELINE_TRAFFIC].index
    candidate, scores = qutibench.choose(features, everything)
    print("inner cross-validation (median APE %, leave one base network out): "
          + ", ".join(f"{name} {score:.1f}" for name, score in scores.items()) + f"; chose {candidate}",
          file=sys.stderr)
    costed = features[qutibench.CANDIDATES[candidate][0]]
    times = sorted(c for c in costed.columns if c.startswith(ROOFLINE_PREFIX) and (costed[c] != 0).any())
    records = costed[[*KEEP, *times]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # inner cross-validation fallbacks, FINN beyond its bound
        return qutibench.calibrated_predictor(candidate).fit(records), records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"QuTiBench data folder (default {DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write the two files to (default {OUT})")
    args = parser.parse_args(argv)
    predictor, records = build(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{QUTIBENCH_NAME}.json").write_text(calibration_json(predictor) + "\n", encoding="utf-8")
    records.to_csv(args.out / f"{QUTIBENCH_NAME}_features.csv", index=False)
    print(f"fitted on {predictor.n_records_} records of {records['catalog_hardware'].nunique()} devices, classes "
          f"{', '.join(predictor.classes_)}; wrote {QUTIBENCH_NAME}.json and {QUTIBENCH_NAME}_features.csv to "
          f"{args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
