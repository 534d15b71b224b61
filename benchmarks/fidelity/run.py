"""Regenerate ``benchmarks/fidelity/RESULTS.md``: how far calibrated predictions are from measurements.

    python benchmarks/fidelity/run.py [--out benchmarks/fidelity/RESULTS.md] [--nb201-step 5]

Runs every dataset's cross-validation, one section function per dataset (:data:`SECTIONS`: MLPerf Tiny
(:mod:`mlperf_tiny`), MLPerf Inference Offline (:mod:`mlperf_inference`) and SingleStream
(:mod:`mlperf_singlestream`), NAS-Bench-201 (:mod:`nb201`), NeuSight
(:mod:`neusight`), the shipped eager-latency calibration over both (:mod:`eager_latency`), QuTiBench's FPGAs, Edge
TPU and NCS2 (:mod:`qutibench`), the shipped GPU and CPU calibrations on QuTiBench's TX2 and A53 (:mod:`transfer`),
Vidur (``benchmarks/llm/vidur.py``)), shows progress on stderr, and
writes the tables with the issue's targets beside them. A section is ``section(progress) -> markdown``; adding a
dataset is adding one function to :data:`SECTIONS`. BLAS runs single-threaded: the fits are many small solves,
which threads only slow down on a shared machine.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent / "llm"))
import eager_latency  # noqa: E402
import mlperf_inference  # noqa: E402
import mlperf_singlestream  # noqa: E402
import mlperf_tiny  # noqa: E402
import nb201  # noqa: E402
import neusight  # noqa: E402
import qutibench  # noqa: E402
import transfer  # noqa: E402
import vidur  # noqa: E402

Progress = Callable[[str], None]
TARGETS = {"forward": 20.0, "LOBO": 20.0}
NB201_TARGETS = {"median_ape_pct": 25.0, "spearman": 0.9}
NEUSIGHT_TARGET = 15.0
MLPERF_INFERENCE_TARGET = 20.0
VIDUR_TARGET = 15.0
COVERAGE = (70.0, 90.0)
HEADLINES: dict[str, float] = {}
"""Headline numbers the sections report, printed as ``name=value`` on the last line."""
COLUMNS = ["scheme", "predictor", "n", "median_ape_pct", "within_10_pct", "within_25_pct", "spearman",
           "coverage_80_pct"]


def markdown(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A GitHub table of ``table`` with numbers rounded for reading (Spearman to 3 decimals, others to 1)."""
    columns = columns or COLUMNS
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    lines = []
    for row in table[columns].itertuples(index=False):
        cells = [f"{v:.3f}" if name == "spearman" and isinstance(v, float) and v == v else
                 f"{v:.1f}" if isinstance(v, float) and v == v else "" if isinstance(v, float) else str(v)
                 for name, v in zip(columns, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _coverage_verdict(scheme: str, coverage: float) -> str:
    low, high = COVERAGE
    return (f"- {scheme}: {coverage:.0f} % of measurements inside the 80 % interval (target {low:.0f}-{high:.0f} %): "
            + ("met." if low <= coverage <= high else f"missed by {low - coverage:.0f} points." if coverage < low
               else f"missed by {coverage - high:.0f} points."))


def _baseline_verdict(table: pd.DataFrame, scheme: str) -> str:
    rows = table[table.scheme == scheme].set_index("predictor")
    others = rows.drop(index="calibrated").median_ape_pct
    best = others.idxmin()
    better = rows.median_ape_pct["calibrated"] < others.min()
    return (f"- {scheme}: better than every baseline (best: {best}, {others.min():.1f} %): "
            + ("yes." if better else f"no, {rows.median_ape_pct['calibrated'] - others.min():.1f} points worse."))


def _ape_verdict(scheme: str, value: float, target: float, what: str = "median APE") -> str:
    return (f"- {scheme}: calibrated {what} {value:.1f} % against a target of <= {target:.0f} %: "
            + ("met." if value <= target else f"missed by {value - target:.1f} points."))


def mlperf_tiny_section(progress: Progress) -> str:
    """MLPerf Tiny (Cortex-M): forward in time, leave one board out, leave one model out."""
    tiny = mlperf_tiny.results(progress=progress)
    calibrated = tiny[tiny.predictor == "calibrated"].set_index("scheme")
    HEADLINES.update({f"{scheme}_median_ape_pct": calibrated.median_ape_pct[scheme] for scheme in calibrated.index})
    verdicts = [_ape_verdict(scheme, calibrated.median_ape_pct[scheme], target) for scheme, target in TARGETS.items()]
    verdicts += [_coverage_verdict(scheme, coverage) for scheme, coverage in calibrated.coverage_80_pct.items()]
    verdicts += [_baseline_verdict(tiny, scheme) for scheme in calibrated.index]
    return "\n## MLPerf Tiny (Cortex-M, v0.5-v1.1)\n\n" + markdown(tiny) + "\n" + "\n".join(verdicts) + "\n"


def nb201_section(progress: Progress, step: int = nb201.STEP) -> str:
    """NAS-Bench-201: leave one device out within its hardware class."""
    table, per_device = nb201.results(progress=progress, step=step)
    calibrated = table.set_index("predictor").loc["calibrated"]
    n_archs = int(per_device["n"].max())
    HEADLINES.update(nb201_LODO_median_ape_pct=calibrated.median_ape_pct,
                     nb201_LODO_median_spearman=calibrated.spearman)
    verdicts = [
        _ape_verdict("LODO", calibrated.median_ape_pct, NB201_TARGETS["median_ape_pct"]),
        f"- LODO: median Spearman over (device, batch) {calibrated.spearman:.4f} against a target of >= 0.9: "
        + ("met." if calibrated.spearman >= NB201_TARGETS["spearman"] else
           f"missed by {NB201_TARGETS['spearman'] - calibrated.spearman:.4f}."),
        _coverage_verdict("LODO", calibrated.coverage_80_pct),
        _baseline_verdict(table, "LODO"),
    ]
    columns = ["catalog_hardware", "batch", "n", "measured_over_roofline", "median_ape_pct", "spearman",
               "coverage_80_pct", "depth"]
    return (f"\n## NAS-Bench-201 (CPUs, a phone, GPUs; leave one device out; {n_archs:,} of 12,500 architectures)\n\n"
            + markdown(table) + "\nCalibrated, per held-out device and batch (`measured_over_roofline`: median "
            "measured / roofline latency; `depth`: calibration levels that fell back):\n\n"
            + markdown(per_device, columns) + "\n" + "\n".join(verdicts) + "\n")


def neusight_section(progress: Progress) -> str:
    """NeuSight: leave one GPU out."""
    table, per_gpu, left_out = neusight.results(progress=progress)
    calibrated = table.set_index("predictor").loc["calibrated"]
    HEADLINES["neusight_LOGO_median_ape_pct"] = calibrated.median_ape_pct
    verdicts = [_ape_verdict("LOGO", calibrated.median_ape_pct, NEUSIGHT_TARGET),
                _coverage_verdict("LOGO", calibrated.coverage_80_pct), _baseline_verdict(table, "LOGO")]
    columns = ["catalog_hardware", "n", "measured_over_roofline", "median_ape_pct", "spearman", "coverage_80_pct",
               "depth"]
    note = (f"\n{len(left_out)} rows left out: " + "; ".join(f"{n} x {reason}" for reason, n in
                                                            left_out["reason"].value_counts().items()) + "\n"
            if len(left_out) else "")
    return ("\n## NeuSight (transformer inference on 6 GPUs; leave one GPU out)\n\n" + markdown(table)
            + "\nCalibrated, per held-out GPU:\n\n" + markdown(per_gpu, columns) + note + "\n" + "\n".join(verdicts)
            + "\n")


def mlperf_inference_section(progress: Progress) -> str:
    """MLPerf Inference (GPUs, Jetson, Cloud AI 100): forward in time, per accelerator and network."""
    table = mlperf_inference.results(progress=progress)
    accelerators = mlperf_inference.accelerator_results(progress=progress)
    calibrated = table[table.predictor == "calibrated"].set_index("scheme")
    HEADLINES["mlperf_inference_forward_median_ape_pct"] = calibrated.median_ape_pct["forward"]
    cells = accelerators.sort_values(["accelerator", "network"])
    missed = cells[cells.calibrated_mdape_pct > MLPERF_INFERENCE_TARGET]
    verdicts = [_ape_verdict(scheme, calibrated.median_ape_pct[scheme], MLPERF_INFERENCE_TARGET)
                for scheme in calibrated.index]
    verdicts += [_coverage_verdict(scheme, coverage) for scheme, coverage in calibrated.coverage_80_pct.items()]
    verdicts += [_baseline_verdict(table, scheme) for scheme in calibrated.index]
    verdicts.append(f"- per accelerator and network: median APE <= {MLPERF_INFERENCE_TARGET:.0f} % in "
                    f"{len(cells) - len(missed)} of {len(cells)} cells; missed: "
                    + "; ".join(f"{r.accelerator} {r.network} {r.calibrated_mdape_pct:.1f} % (n={r.n})"
                                for r in missed.itertuples()) + ".")
    columns = ["accelerator", "network", "known", "network_known", "n", "rounds", "calibrated_mdape_pct",
               "roofline_mdape_pct", "naive_mdape_pct", "coverage_80_pct"]
    return ("\n## MLPerf Inference (GPUs and accelerators, Offline, v2.1 -> v3.0 -> v4.1; forward in time)\n\n"
            "Errors on throughput per accelerator; the row selection, batch treatment and the choices made after "
            "seeing held-out numbers are in the docstring of `benchmarks/fidelity/mlperf_inference.py`.\n\n"
            + markdown(table) + "\nCalibrated, per accelerator and network (`known`: the accelerator had earlier "
            "rows; `network_known`: the network had earlier rows on its hardware class):\n\n"
            + markdown(cells, columns) + "\n" + "\n".join(verdicts) + "\n")


def mlperf_singlestream_section(progress: Progress) -> str:
    """MLPerf Inference SingleStream (batch-1 latency, GPUs and the Cloud AI 100): forward in time and leave one
    accelerator out, beside the shipped Offline calibration scaled to one sample."""
    table, accelerators, folds, left_out = mlperf_singlestream.results(progress=progress)
    calibrated = table[table.predictor == "calibrated"].set_index("scheme")
    HEADLINES.update({f"singlestream_{scheme.replace(' ', '_')}_median_ape_pct": value
                      for scheme, value in calibrated.median_ape_pct.items()})
    verdicts = [_ape_verdict(scheme, calibrated.median_ape_pct[scheme], MLPERF_INFERENCE_TARGET)
                for scheme in calibrated.index]
    verdicts += [_coverage_verdict(scheme, coverage) for scheme, coverage in calibrated.coverage_80_pct.items()]
    verdicts += [_baseline_verdict(table, scheme) for scheme in calibrated.index]
    columns = ["scheme", "accelerator", "known", "n", "measured_over_roofline", "calibrated_mdape_pct",
               "offline_scaled_mdape_pct", "naive_mdape_pct", "roofline_mdape_pct", "coverage_80_pct"]
    reasons = "; ".join(f"{n} x {reason}" for reason, n in left_out["reason"].value_counts().items())
    return ("\n## MLPerf Inference SingleStream (batch-1 latency on GPUs and the Cloud AI 100; forward in time, "
            "leave one accelerator out)\n\nErrors on the 90th-percentile latency of one sample; `offline_scaled` "
            "is what `rk.predict(..., batch=1, calibrated=True)` gave before the batch-1 calibration shipped (the "
            "Offline calibration scaled to one sample; still what batches 2 to 63 get); `forward one fit` holds the "
            "GPU and NPU rows of each round in one predictor, as the shipped calibration is fitted. The row "
            "selection, the costing at batch 1, the BERT convention and the traffic chosen by "
            "inner cross-validation are in the docstring of `benchmarks/fidelity/mlperf_singlestream.py`.\n\n"
            + markdown(table) + "\nPer accelerator (`known`: it had training rows):\n\n"
            + markdown(accelerators, columns) + "\nTraffic the inner cross-validation chose per fold:\n\n"
            + markdown(folds, ["scheme", "fold", "traffic"]) + f"\n{len(left_out)} table rows left out: {reasons}"
            + "\n\n" + "\n".join(verdicts) + "\n")


def eager_latency_section(progress: Progress) -> str:
    """The shipped eager-latency calibration (NAS-Bench-201 + NeuSight in one fit): leave one device out."""
    table, per_device = eager_latency.results(progress=progress)
    calibrated = table.set_index("predictor").loc["calibrated"]
    HEADLINES["eager_latency_LODO_median_ape_pct"] = calibrated.median_ape_pct
    verdicts = [_ape_verdict("LODO", calibrated.median_ape_pct, NB201_TARGETS["median_ape_pct"]),
                _coverage_verdict("LODO", calibrated.coverage_80_pct), _baseline_verdict(table, "LODO")]
    columns = ["catalog_hardware", "batch", "n", "measured_over_roofline", "median_ape_pct", "spearman",
               "coverage_80_pct", "depth"]
    return ("\n## Eager-framework latency, as shipped (NAS-Bench-201 + NeuSight in one fit; leave one device out)\n\n"
            "The calibration `rk.predict(..., calibrated=True)` gives a CPU, or a GPU under PyTorch "
            "(`rooflinekit/calibrations/eager_latency.json`), refitted on its own records less one device at a "
            "time; see `benchmarks/fidelity/eager_latency.py`. Target: that of NAS-Bench-201, whose rows are most "
            "of its records.\n\n" + markdown(table) + "\nCalibrated, per held-out device and batch:\n\n"
            + markdown(per_device, columns) + "\n" + "\n".join(verdicts) + "\n")


def vidur_section(progress: Progress) -> str:
    """Vidur per-operator times: leave one GPU out (A100 <-> A40); the details are in benchmarks/llm/RESULTS.md."""
    table = vidur.results(progress=progress)
    calibrated = table[table.predictor == "calibrated"].set_index("scheme")
    HEADLINES.update({"vidur_" + scheme.removeprefix("vidur ").replace(" -> ", "_to_").replace(" ", "_")
                      + "_median_ape_pct": value
                      for scheme, value in calibrated.median_ape_pct.items()})
    verdicts = [_ape_verdict(scheme, calibrated.median_ape_pct[scheme], VIDUR_TARGET) for scheme in calibrated.index]
    verdicts += [_coverage_verdict(scheme, coverage) for scheme, coverage in calibrated.coverage_80_pct.items()
                 if coverage == coverage]
    verdicts += [_baseline_verdict(table, scheme) for scheme in calibrated.index]
    return ("\n## Vidur (Llama operators on A100 and A40; leave one GPU out)\n\n"
            "The operator-level model of `rooflinekit.compare.calibrate.operators`; per operator and token regime, "
            "and the fitted parameters, in `benchmarks/llm/RESULTS.md`.\n\n"
            + markdown(table) + "\n" + "\n".join(verdicts) + "\n")


def qutibench_section(progress: Progress) -> str:
    """QuTiBench's FPGAs, Edge TPU and NCS2: leave one base network out, leave one device out, per class."""
    table, per_device, left_out, offsets, folds = qutibench.results(progress=progress)
    calibrated = table[table.predictor == "calibrated"].set_index("scheme")
    HEADLINES.update({f"qutibench_{scheme.replace(' ', '_')}_median_ape_pct": value
                      for scheme, value in calibrated.median_ape_pct.items()})
    verdicts = [_coverage_verdict(scheme, coverage) for scheme, coverage in calibrated.coverage_80_pct.items()]
    verdicts += [_baseline_verdict(table, scheme) for scheme in calibrated.index]
    columns = ["scheme", "catalog_hardware", "n", "measured_over_roofline", "median_ape_pct", "spearman",
               "coverage_80_pct", "depth"]
    reasons = "; ".join(f"{n} x {reason}" for reason, n in left_out["reason"].value_counts().items())
    measured = "\n".join(f"- {scheme} offsets (log measured / calibrated, median over the held-out rows): "
                         + ", ".join(f"{k} {v:+.3f}" for k, v in values.items()) for scheme, values in offsets.items())
    return ("\n## QuTiBench (FPGA DPUs, FINN, BISMO, Edge TPU, NCS2; leave one base network out, leave one device "
            "out)\n\nThe calibration `rk.predict(..., calibrated=True)` gives an FPGA, TPU or VPU "
            "(`rooflinekit/calibrations/qutibench_accelerators.json`); the row selection, the stacks, how its options "
            "are chosen by inner cross-validation and the choices made after seeing held-out numbers are in the "
            "docstring of `benchmarks/fidelity/qutibench.py`. Errors on the time of one batch at each row's own "
            "batch.\n\n" + markdown(table)
            + "\nCalibrated, per held-out device:\n\n" + markdown(per_device, columns)
            + "\nOptions the inner cross-validation chose per fold:\n\n"
            + markdown(folds, ["scheme", "held_out", "candidate"]) + "\n" + measured + "\n\n"
            + f"{len(left_out)} rows left out: {reasons}\n\n" + "\n".join(verdicts) + "\n")


def transfer_section(progress: Progress) -> str:
    """The shipped GPU and CPU calibrations, as ``rk.predict(..., calibrated=True)`` gives them, on QuTiBench's TX2
    and A53: devices and a data set none of them was fitted on."""
    table, left_out = transfer.results(progress=progress)
    verdicts = [_coverage_verdict(str(row.hardware), row.coverage_80_pct) for row in table.itertuples()]
    verdicts += [f"- {row.hardware}: better than the roofline it scales ({row.roofline_mdape_pct:.1f} %): "
                 + ("yes." if row.calibrated_mdape_pct < row.roofline_mdape_pct else
                    f"no, {row.calibrated_mdape_pct - row.roofline_mdape_pct:.1f} points worse.")
                 for row in table.itertuples()]
    others = left_out["reason"].str.startswith("hardware class not GPU or CPU")
    reasons = "; ".join(f"{n} x {reason}" for reason, n in left_out.loc[~others, "reason"].value_counts().items())
    columns = ["hardware", "class", "n", "measured_over_roofline", "roofline_mdape_pct", "calibrated_mdape_pct",
               "spearman", "coverage_80_pct"]
    return ("\n## Transfer: the shipped GPU and CPU calibrations on QuTiBench's Jetson TX2 and Cortex-A53\n\n"
            "What a user gets from `rk.predict(..., calibrated=True)` (no stack given) on devices and records of a "
            "data set no shipped calibration holds: the TX2 (GPU: at batch 1 the MLPerf Inference SingleStream "
            "calibration, at batches 2 to 128 the Offline one, its large-batch throughput scaled below 64) and the "
            "A53 (CPU: the eager-latency calibration, fitted on fp32 only, for int2 and int4 rows); see "
            "`benchmarks/fidelity/transfer.py`. "
            "Nothing is fitted; `roofline` is the bound the estimate scales.\n\n" + markdown(table, columns)
            + f"\nNot predicted: the {int(others.sum())} records of the other classes; the loader's rejections "
            f"(of every device): {reasons or 'none'}.\n\n" + "\n".join(verdicts) + "\n")


SECTIONS: list[Callable[[Progress], str]] = [mlperf_tiny_section, mlperf_inference_section,
                                             mlperf_singlestream_section, nb201_section, neusight_section,
                                             eager_latency_section, qutibench_section, transfer_section,
                                             vidur_section]
"""One function per dataset, in RESULTS.md order."""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--nb201-step", type=int, default=nb201.STEP,
                        help=f"use every STEP-th NAS-Bench-201 architecture (default {nb201.STEP})")
    args = parser.parse_args()
    start = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {text}", file=sys.stderr, flush=True)

    sections = [section if section is not nb201_section else (lambda p: nb201_section(p, args.nb201_step))
                for section in SECTIONS]
    text = (HERE / "RESULTS_HEADER.md").read_text(encoding="utf-8")
    for section in sections:
        text += section(progress)
    text += (HERE / "RESULTS_FOOTER.md").read_text(encoding="utf-8")
    args.out.write_text(text, encoding="utf-8")
    progress(f"wrote {args.out}")
    print(" ".join(f"{name}={value:.3f}" for name, value in HEADLINES.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
