"""Regenerate QuTiBench's theoretical fps table (level 0) from hardware_specs/ and model_specs/.

    python benchmarks/qutibench/reproduce_predictions.py --out predictions.csv [--published FILE]

Rows are ``<hardware>_<hardware data type>`` and columns ``<network>_<pruning>_<network data type>``, as in
QuTiBench's ``performance_predictions_imagenet_mnist_cifar.csv``; 0 means "no prediction". A row predicts its own
data type, and also every native type of its hardware that has no row of its own (the A53 row is labelled INT8
but covers INT2 and INT4). fps = min(peak, bandwidth x OI) / ops per frame, weights-only traffic, batch 1.
When the published table is found, prints how many of its non-zero cells are matched within 0.5 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import rooflinekit
from rooflinekit.catalog import MODEL_DIR, load_network_file

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO.parent / "shared" / "data" / "qutibench" / "performance_predictions_imagenet_mnist_cifar.csv"
ROWS = [("Ultra96-DPU", "INT8"), ("ZCU104-DPU", "INT8"), ("ZCU102-DPU", "INT8"), ("ZCU104-FINN", "INT2"),
        ("ZCU104-FINN", "INT4"), ("ZCU104-BISMO", "INT2"), ("ZCU104-BISMO", "INT4"), ("TX2-maxn", "FP16"),
        ("TX2-maxn", "FP32"), ("TX2-maxp", "FP16"), ("TX2-maxp", "FP32"), ("TX2-maxq", "FP16"),
        ("TX2-maxq", "FP32"), ("EdgeTPU-fast", "INT8"), ("EdgeTPU-slow", "INT8"), ("NCS", "INT8"),
        ("NCS", "FP16"), ("U96-Quadcore-A53", "INT8")]
TOLERANCE = 0.005


def row_dtypes(hardware: str, dtype: str) -> set[str]:
    """The network data types predicted in the row ``(hardware, dtype)``."""
    native = {d.value.upper() for d in rooflinekit.get_hardware(hardware).peak_ops_per_s}
    own_rows = {d for h, d in ROWS if h == hardware}
    first_row = next(d for h, d in ROWS if h == hardware)
    return {dtype} | (native - own_rows if dtype == first_row else set())


def prediction_table() -> pd.DataFrame:
    """fps for every published row x (network variant, measured data type) column."""
    networks = load_network_file(MODEL_DIR / "qutibench.yaml")
    columns = [(net, dtype.value.upper()) for net in networks for dtype in net.accuracy_top1_pct]
    labels = [f"{net.name}_{net.pruning_pct:g}_{dtype}" for net, dtype in columns]
    table = pd.DataFrame(0.0, index=[f"{h}_{d}" for h, d in ROWS], columns=labels)
    table.index.name = "HWType"
    for hardware, row_dtype in ROWS:
        wanted = row_dtypes(hardware, row_dtype)
        for (net, dtype), label in zip(columns, labels):
            if dtype in wanted:
                table.loc[f"{hardware}_{row_dtype}", label] = rooflinekit.predict(net, hardware, dtype).fps
    return table


def compare(ours: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """One row per non-zero published cell: ours, theirs and the relative difference."""
    cells = []
    for row in published.index:
        for column in published.columns:
            theirs = float(published.loc[row, column])
            if theirs == 0:
                continue
            mine = float(ours.loc[row, column]) if row in ours.index and column in ours.columns else 0.0
            cells.append({"row": row, "column": column, "published_fps": theirs, "ours_fps": mine,
                          "rel_diff": abs(mine - theirs) / theirs})
    return pd.DataFrame(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    parser.add_argument("--published", type=Path, default=PUBLISHED, help="QuTiBench's table, for comparison")
    args = parser.parse_args(argv)
    ours = prediction_table()
    ours.to_csv(args.out)
    print(f"wrote {args.out} ({ours.shape[0]} rows x {ours.shape[1]} columns, {int((ours > 0).sum().sum())} "
          "non-zero cells)")
    if not args.published.is_file():
        print(f"published table {args.published} not found; no comparison")
        return 0
    cells = compare(ours, pd.read_csv(args.published, index_col=0))
    misses = cells[cells.rel_diff > TOLERANCE]
    for miss in misses.itertuples():
        print(f"  differs: {miss.row} x {miss.column}: published {miss.published_fps:.6g}, "
              f"ours {miss.ours_fps:.6g} ({miss.rel_diff:.1%})")
    print(f"matched {len(cells) - len(misses)} of {len(cells)} non-zero published cells within 0.5 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
