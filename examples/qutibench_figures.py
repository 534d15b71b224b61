"""Regenerate QuTiBench's ImageNet figures with rooflinekit: rooflines, prediction heatmap, efficiency bars, Pareto.

    python examples/qutibench_figures.py [--data FOLDER] [--out FOLDER]

Predictions come from the bundled catalogs (QuTiBench level 0: weights-only traffic, batch 1); measurements from
QuTiBench's tables in ``../shared/data/qutibench`` (RCL-lab/QutibenchWeb ``_notebooks/data``), read with
:func:`rooflinekit.compare.load_qutibench` and paired with :func:`rooflinekit.compare.align`, best fps over batch
sizes per configuration (QuTiBench's rule). Writes four PNG files into ``examples/images/``:

- ``qutibench_roofline.png``: rooflines of the platforms, predicted (filled) and measured (hollow) ImageNet points
- ``qutibench_heatmap.png``: predicted fps, platform x ImageNet network variant
- ``qutibench_efficiency.png``: predicted, peak-compute and measured fps with the efficiency in percent
- ``qutibench_pareto.png``: top-1 accuracy vs fps, predicted and measured Pareto fronts
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import rooflinekit as rk
from rooflinekit.compare import align, load_qutibench
from rooflinekit.descriptors import DType
from rooflinekit.plots import plot_efficiency, plot_heatmap, plot_pareto, plot_roofline, save_figure

HERE = Path(__file__).resolve().parent
DATA = Path(__file__).resolve().parents[2] / "shared/data/qutibench"
PLATFORMS = ["Ultra96-DPU", "ZCU104-DPU", "ZCU102-DPU", "ZCU104-FINN", "ZCU104-BISMO", "TX2-maxn", "TX2-maxp",
             "TX2-maxq", "EdgeTPU-fast", "EdgeTPU-slow", "NCS", "U96-Quadcore-A53"]
ROOFLINE_NETWORKS = ["GoogLeNetv1", "MobileNetv1", "ResNet-50"]
IMAGENET = ["GoogLeNetv1", "MobileNetv1", "ResNet-50", "ResNet-50 80%", "ResNet-50 50%", "ResNet-50 30%",
            "EfficientNet-S", "EfficientNet-M", "EfficientNet-L"]


def predictions(networks: list[str]) -> pd.DataFrame:
    """Every network at each data type QuTiBench reports an accuracy for, on every platform, with that accuracy."""
    frames = []
    for name in networks:
        net = rk.get_network(name)
        table = rk.sweep([net], PLATFORMS, [d.value for d in net.accuracy_top1_pct])
        table["accuracy_top1_pct"] = [net.accuracy_top1_pct[DType(p)] for p in table["precision"]]
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def efficiency_rows(predicted: pd.DataFrame, data: Path) -> pd.DataFrame:
    """Best-over-batch measurements paired with their prediction; prints what could not be paired."""
    records = load_qutibench(data).records
    records = records[records["task"] == "imagenet"].reset_index(drop=True)
    result = align(predicted, records, best_over_batch=True)
    unmatched = result.unmatched_records.drop_duplicates(["hardware", "network", "precision", "pruning_pct"])
    for row in unmatched.itertuples():
        print(f"  measured, not predicted: {row.hardware} {row.network} {row.pruning_pct:g}% {row.precision}: "
              f"{row.reason}")
    rows = result.matched[result.matched["best_over_batch"]].copy()
    rows["network"] = rows["predicted_network"]
    rows["hardware"] = rows["predicted_hardware"]
    rows["peak_fps"] = rows["predicted_peak_ops_per_s"] / rows["predicted_ops"]
    return rows.sort_values(["hardware", "network", "precision"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="QuTiBench's _notebooks/data folder")
    parser.add_argument("--out", type=Path, default=HERE / "images", help="folder for the images")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"QuTiBench data not found at {args.data}; pass --data FOLDER", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    predicted = predictions(IMAGENET)
    matched = efficiency_rows(predicted, args.data)

    unpruned = matched[matched["network"].isin(ROOFLINE_NETWORKS)]
    points = pd.DataFrame({  # no precision column: one marker per network, the ceiling tells the data type
        "network": unpruned["network"], "hardware": unpruned["hardware"],
        "operational_intensity": unpruned["predicted_operational_intensity"],
        "attainable_ops_per_s": unpruned["predicted_attainable_ops_per_s"],
        "measured_ops_per_s": unpruned["measured_fps"] * unpruned["predicted_ops"]})
    fig = plot_roofline(PLATFORMS, points, title="QuTiBench platforms: predicted and best measured ImageNet points")
    save_figure(fig, args.out / "qutibench_roofline.png")

    fig = plot_heatmap(predicted, title="QuTiBench ImageNet: predicted throughput (level 0, batch 1)")
    save_figure(fig, args.out / "qutibench_heatmap.png")

    fig = plot_efficiency(matched, title="QuTiBench ImageNet: measured (best over batch) vs predicted throughput")
    save_figure(fig, args.out / "qutibench_efficiency.png")

    measured = matched.assign(fps=matched["measured_fps"], type="measured (best over batch)")
    both = pd.concat([predicted[predicted["status"] == "ok"].assign(type="predicted (roofline)"),
                      measured[["fps", "accuracy_top1_pct", "hardware", "network", "precision", "type"]]])
    both["config"] = (both["hardware"].astype(str) + " " + both["network"].astype(str) + " "
                      + both["precision"].astype(str))
    fig = plot_pareto(both, "fps", "accuracy_top1_pct", maximize=True, hue="type", front="hue", label="config",
                      log_x=True, title="QuTiBench ImageNet design space: accuracy vs throughput")
    save_figure(fig, args.out / "qutibench_pareto.png")
    print(f"wrote 4 images into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
