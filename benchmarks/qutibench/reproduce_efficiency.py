"""Regenerate the efficiency table behind QuTiBench's efficiency plots from its measurements and our predictions.

    python benchmarks/qutibench/reproduce_efficiency.py --out efficiency.csv [--data FOLDER]

Measured: QuTiBench's fps-comp, best over batch sizes per (hardware, data type, network, pruning), from
``cleaned_csv/experimental_data_*.csv`` (:func:`rooflinekit.compare.load_qutibench`). Predicted:
:func:`rooflinekit.predict` on the catalog specs, for the cells of ``reproduce_predictions.py`` (level 0,
weights-only traffic, batch 1). ``efficiency_pct = 100 * measured_fps / predicted_fps``.

``status`` of each row:

- ``matched``: paired by QuTiBench's own rule (the web site's key ``<HW>_<net datatype>_<net>_<pruning>`` compared
  after lower-casing: ``align(normalize=False)``), over the cells QuTiBench's published table predicts;
- ``matched_by_alias``: paired only through the catalog aliases (NCS2 measurements with NCS predictions, which
  QuTiBench's key never pairs since the measurements were renamed NCS2);
- ``measured_unmatched`` / ``predicted_unmatched``: no partner, with the reason;
- ``rejected``: a measured row the loader refused, with its reason.

``published_fps`` is QuTiBench's predicted cell, ``published_efficiency_pct`` = measured / published x 100 (their
efficiency) and ``efficiency_diff_pp`` = ours - theirs in percentage points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import rooflinekit
from rooflinekit.catalog import MODEL_DIR, load_network_file
from rooflinekit.compare import align, load_qutibench
from rooflinekit.compare.loaders.qutibench import TASK_OF_NETWORK

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce_predictions import ROWS, row_dtypes  # noqa: E402  (sibling script: the same prediction cells)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "qutibench"
PUBLISHED = "performance_predictions_imagenet_mnist_cifar.csv"
TOLERANCE_PP = 0.5
COLUMNS = ["task", "hardware", "network", "precision", "pruning_pct", "batch", "measured_fps", "predicted_fps",
           "efficiency_pct", "published_fps", "published_efficiency_pct", "efficiency_diff_pp", "bound", "status",
           "reason", "source"]


def predictions(published: pd.DataFrame | None) -> pd.DataFrame:
    """One row per predicted cell (hardware row x network variant x data type), with QuTiBench's cell if any."""
    rows = []
    for net in load_network_file(MODEL_DIR / "qutibench.yaml"):
        for dtype in net.accuracy_top1_pct:
            for hardware, row_dtype in ROWS:
                if dtype.value.upper() not in row_dtypes(hardware, row_dtype):
                    continue
                row, column = f"{hardware}_{row_dtype}", f"{net.name}_{net.pruning_pct:g}_{dtype.value.upper()}"
                cell = published.at[row, column] if published is not None else np.nan
                rows.append({**rooflinekit.predict(net, hardware, dtype.value).to_dict(), "network": net.name,
                             "pruning_pct": net.pruning_pct, "task": TASK_OF_NETWORK.get(net.name, "imagenet"),
                             "published_fps": cell if cell > 0 else np.nan})
    return pd.DataFrame(rows)


def efficiency_table(data: Path) -> pd.DataFrame:
    """The efficiency table: matched pairs of both matchings, unmatched and rejected rows (see the docstring)."""
    published_path = data / PUBLISHED
    published = pd.read_csv(published_path, index_col=0) if published_path.is_file() else None
    loaded = load_qutibench(data)
    predicted = predictions(published)
    theirs = predicted[predicted.published_fps.notna()] if published is not None else predicted
    exact = align(theirs, loaded.records, normalize=False, best_over_batch=True)
    aliased = align(predicted, loaded.records, normalize=True, best_over_batch=True)
    paired_exact = set(exact.matched.loc[exact.matched.best_over_batch, "record_index"])

    matched = aliased.matched[aliased.matched.best_over_batch].copy()
    in_exact = matched.record_index.isin(paired_exact)
    matched["status"] = np.where(in_exact, "matched", "matched_by_alias")
    matched["reason"] = np.where(
        in_exact, "", "paired only through catalog aliases: measured " + matched.hardware + " ~ predicted "
        + matched.predicted_hardware + " (QuTiBench's lower-cased key does not pair them)")
    matched = matched.rename(columns={"predicted_bound": "bound",
                                      "predicted_published_fps": "published_fps"})

    unmatched = aliased.unmatched_records.assign(measured_fps=lambda f: f.throughput_fps)
    configuration = ["hardware", "network", "precision", "pruning_pct"]
    unmatched = unmatched.loc[unmatched.groupby(configuration).measured_fps.idxmax().values]
    unmatched = unmatched.assign(status="measured_unmatched")
    lonely = aliased.unmatched_predictions.rename(columns={"fps": "predicted_fps"}).assign(
        status="predicted_unmatched", source="rooflinekit.predict")
    rejected = loaded.rejected.assign(status="rejected", measured_fps=loaded.rejected.throughput_fps)

    table = pd.concat([matched, unmatched, lonely, rejected], ignore_index=True)
    table["efficiency_pct"] = 100 * table.measured_fps / table.predicted_fps
    table["published_efficiency_pct"] = 100 * table.measured_fps / table.published_fps
    table["efficiency_diff_pp"] = table.efficiency_pct - table.published_efficiency_pct
    order = {"matched": 0, "matched_by_alias": 1, "measured_unmatched": 2, "predicted_unmatched": 3, "rejected": 4}
    table = table.sort_values(["status", "task", "hardware", "network", "precision", "pruning_pct"],
                              key=lambda c: c.map(order) if c.name == "status" else c)
    return table[COLUMNS].reset_index(drop=True)


def qutibench_pairs(data: Path) -> pd.DataFrame:
    """QuTiBench's own matching outcome (history/no_match_3_*.csv, 2020-09-22): key, type, fps-comp, pairs."""
    frames = [pd.read_csv(path, index_col=0).assign(task=path.stem.rsplit("_", 1)[1])
              for path in sorted((data / "history").glob("no_match_3_*.csv"))]
    return pd.concat(frames, ignore_index=True)


def key(row: pd.Series) -> str:
    """QuTiBench's matching key ``<hw>_<datatype>_<net>_<pruning>`` (lower case) of a table row."""
    return f"{row.hardware}_{row.precision}_{row.network}_{row.pruning_pct:g}".casefold()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    parser.add_argument("--data", type=Path, default=DATA, help="QuTiBench's _notebooks/data folder")
    args = parser.parse_args(argv)
    table = efficiency_table(args.data)
    table.to_csv(args.out, index=False)
    counts = table.status.value_counts()
    matched = table[table.status == "matched"]
    close = (matched.efficiency_diff_pp.abs() <= TOLERANCE_PP).sum()
    print(f"wrote {args.out} ({len(table)} rows)")
    print(f"QuTiBench matching: {counts.get('matched', 0)} matched pairs; {close} within {TOLERANCE_PP} pp of "
          "QuTiBench's own efficiency (measured / published prediction)")
    for row in matched[matched.efficiency_diff_pp.abs() > TOLERANCE_PP].itertuples():
        print(f"  differs: {row.hardware} {row.precision} {row.network} {row.pruning_pct:g}%: ours "
              f"{row.efficiency_pct:.1f} %, theirs {row.published_efficiency_pct:.1f} % (published prediction "
              f"{row.published_fps:.6g} fps, ours {row.predicted_fps:.6g} fps)")
    print(f"matched only through aliases (not by QuTiBench): {counts.get('matched_by_alias', 0)} pairs")
    print(f"unmatched: {counts.get('measured_unmatched', 0)} measured configurations, "
          f"{counts.get('predicted_unmatched', 0)} predictions; rejected measured rows: {counts.get('rejected', 0)}")
    history = args.data / "history"
    if history.is_dir():
        theirs = qutibench_pairs(args.data)
        their_pairs = set(theirs[(theirs.type == "measured") & theirs.pairs].hardw_datatype_net_prun)
        ours = {key(row) for row in matched.itertuples()}
        print(f"QuTiBench's history/no_match_3_*.csv pairs {len(their_pairs)}; ours agree on {len(ours & their_pairs)}"
              f"; theirs not ours: {sorted(their_pairs - ours)}; ours not theirs: {sorted(ours - their_pairs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
