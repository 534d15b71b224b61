"""MLPerf Tiny figures with rooflinekit: latency vs energy, measured vs roofline, MCU rooflines, per-layer latency.

    python examples/mlperf_tiny_figures.py [--data FOLDER] [--out FOLDER]

Measurements: the closed division of MLPerf Tiny v0.5-v1.1 in ``../shared/data/mlperf_tiny/results``, read with
:func:`rooflinekit.compare.load_mlperf_tiny` (``Median throughput is X inf./sec.``, ``Median energy cost is Y
uJ/inf.``). Predictions: the int8 reference models in ``../shared/data/mlperf_tiny/models`` on the catalog's MCU
specs, layer by layer, weights read from flash and activations from SRAM (``weights_and_activations``). Writes four
PNG files into ``examples/images/``:

- ``mlperf_tiny_latency_energy.png``: energy vs latency per inference on Cortex-M boards, a Pareto front per benchmark
- ``mlperf_tiny_efficiency.png``: KWS on Arm Cortex-M boards, best measurement per board and software stack
- ``mlperf_tiny_roofline.png``: rooflines of four STM32 boards, the four reference models predicted and measured
- ``mlperf_tiny_layers.png``: predicted latency per layer of the KWS model on the reference board NUCLEO-L4R5ZI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import rooflinekit as rk
from rooflinekit.compare import align, load_mlperf_tiny
from rooflinekit.compare.loaders import REFERENCE_MODELS
from rooflinekit.errors import UnknownNameError
from rooflinekit.importers import load_model
from rooflinekit.plots import plot_efficiency, plot_layers, plot_pareto, plot_roofline, save_figure

HERE = Path(__file__).resolve().parent
DATA = Path(__file__).resolve().parents[2] / "shared/data/mlperf_tiny"
MODELS = {benchmark: f"{model.int8_file}.tflite" for benchmark, model in REFERENCE_MODELS.items()}
BENCHMARK_NAMES = {benchmark: model.task for benchmark, model in REFERENCE_MODELS.items()}
ROOFLINE_BOARDS = ["NUCLEO-L4R5ZI", "NUCLEO-U575ZI-Q", "DISCO-F746NG", "NUCLEO-H7A3ZI-Q"]
TRAFFIC = "weights_and_activations"


def catalog_boards(records: pd.DataFrame) -> dict[str, str]:
    """Record hardware name -> catalog name, for the boards the catalog has; prints the others."""
    found, missing = {}, []
    for name in records["hardware"].unique():
        try:
            found[name] = rk.get_hardware(name).name
        except UnknownNameError:
            missing.append(name)
    print(f"  boards without a catalog spec (not predicted): {', '.join(sorted(missing))}")
    return found


def predictions(models: Path, boards: list[str]) -> pd.DataFrame:
    """Layer-mode prediction of every reference model on every board, one row each."""
    rows = []
    for benchmark, file in MODELS.items():
        network = load_model(models / file)
        for board in boards:
            rows.append({**rk.predict(network, board, mode="layer", traffic=TRAFFIC).to_dict(),
                         "network": REFERENCE_MODELS[benchmark].network})  # the records' name of the model
    return pd.DataFrame(rows)


def latency_energy(records: pd.DataFrame, out: Path) -> None:
    rows = records[records["cpu_only_cortex_m"]].dropna(subset=["latency_s", "energy_j"])
    rows = rows.assign(benchmark=rows["benchmark"].map(BENCHMARK_NAMES),
                       system=rows["hardware"] + " / " + rows["framework"].fillna("?"))
    fig = plot_pareto(rows, "latency_s", "energy_j", hue="benchmark", front="hue", label="system", log_x=True,
                      log_y=True, title="MLPerf Tiny closed division, Arm Cortex-M boards: energy vs latency")
    save_figure(fig, out / "mlperf_tiny_latency_energy.png")


def efficiency(matched: pd.DataFrame, out: Path) -> None:
    kws = matched[(matched["benchmark"] == "kws") & matched["cpu_only_cortex_m"]]
    best = kws.loc[kws.groupby(["predicted_hardware", "framework"])["measured_fps"].idxmax()]
    best = best.assign(
        hardware=best["predicted_hardware"], peak_fps=best["predicted_peak_ops_per_s"] / best["predicted_ops"],
        row=best["predicted_hardware"] + "  " + best["framework"] + " (" + best["round"] + ")",
    ).sort_values(["hardware", "framework"])
    fig = plot_efficiency(best, label="row", title="MLPerf Tiny KWS (int8) on Cortex-M: measured vs roofline")
    save_figure(fig, out / "mlperf_tiny_efficiency.png")


def roofline(matched: pd.DataFrame, out: Path) -> None:
    rows = matched[matched["predicted_hardware"].isin(ROOFLINE_BOARDS) & matched["cpu_only_cortex_m"]]
    best = rows.loc[rows.groupby(["predicted_hardware", "benchmark"])["measured_fps"].idxmax()]
    points = pd.DataFrame({
        "network": best["benchmark"].map(BENCHMARK_NAMES), "hardware": best["predicted_hardware"],
        "operational_intensity": best["predicted_operational_intensity"],
        "attainable_ops_per_s": best["predicted_attainable_ops_per_s"],
        "measured_ops_per_s": best["measured_fps"] * best["predicted_ops"]})
    fig = plot_roofline(ROOFLINE_BOARDS, points, dtypes=["int8"],
                        title="STM32 boards: MLPerf Tiny int8 models, predicted and best measured")
    save_figure(fig, out / "mlperf_tiny_roofline.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with models/ and results/")
    parser.add_argument("--out", type=Path, default=HERE / "images", help="folder for the images")
    args = parser.parse_args(argv)
    if not (args.data / "results").is_dir():
        print(f"MLPerf Tiny data not found at {args.data}; pass --data FOLDER", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    loaded = load_mlperf_tiny(args.data / "results")
    closed = loaded.records[loaded.records["division"] == "closed"].reset_index(drop=True)
    boards = catalog_boards(closed)
    predicted = predictions(args.data / "models", sorted(set(boards.values())))
    result = align(predicted, closed)
    reasons = result.unmatched_records["reason"].str.split(" [(]").str[0].value_counts()
    print(f"  {len(result.matched)} of {len(closed)} closed-division records paired with a prediction; unpaired: "
          + "; ".join(f"{count} {reason}" for reason, count in reasons.items()))

    latency_energy(closed, args.out)
    efficiency(result.matched, args.out)
    roofline(result.matched, args.out)
    kws = rk.predict(load_model(args.data / "models" / MODELS["kws"]), "NUCLEO-L4R5ZI", mode="layer",
                     traffic=TRAFFIC)
    save_figure(plot_layers(kws), args.out / "mlperf_tiny_layers.png")
    print(f"wrote 4 images into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
