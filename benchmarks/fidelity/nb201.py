"""Fidelity on NAS-Bench-201: leave one device out within its hardware class (scheme (e) of issue 10).

    python benchmarks/fidelity/nb201.py [--data ../shared/data/nb201] [--step 5]

Rows: :func:`rooflinekit.compare.loaders.load_nb201` records (fp32; TFLite on the Raspberry Pi 4 and Pixel 3,
PyTorch on the Xeon Gold 6226, GTX 1080 Ti and TITAN RTX at batch 1, 32 and 256), every ``step``-th architecture in
NAS-Bench-201 index order (deterministic; ``step`` = :data:`STEP` by default, to keep the whole fidelity run under
15 minutes on 2 cores). Each network is costed as its record's stack runs it
(:func:`~rooflinekit.networks.nb201.nb201_execution`): ``eager`` under PyTorch (every edge, ``none`` as
``x.mul(0.)``, each node a Python ``sum``), ``pruned`` of its ``none`` edges under TFLite. Features: the
layer-mode roofline times per op class and the kernel count of each network (:func:`nb201_features`, equal to
:func:`~rooflinekit.compare.calibrate.calibration_features` on the same records, computed once per distinct layer
through :func:`~rooflinekit.networks.nb201_layer_union`).

Scheme ``LODO``: each device predicted from the other devices (:mod:`lodo`): its op-class factors from those of its
hardware class (a CPU from the two other CPUs, a GPU from the other GPU, all three batches of it), its per-call and
per-kernel overheads from its software stack on every other device. Predictors: roofline, naive (median
measured / roofline of the class), calibrated (per-kernel overhead + class factors; the unseen-device interval
with its prior from the other data sets, :data:`DATASET`). ``spearman`` is the median over (device, batch) of the
rank correlation across architectures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lodo  # noqa: E402

from rooflinekit.catalog import get_hardware  # noqa: E402
from rooflinekit.compare.calibrate import FEATURE_COLUMNS, ROOFLINE_PREFIX  # noqa: E402
from rooflinekit.compare.calibrate.features import class_layers, hardware_features  # noqa: E402
from rooflinekit.compare.calibrate.intervals import NETWORK_OFFSETS, offset_prior  # noqa: E402
from rooflinekit.compare.loaders import load_nb201  # noqa: E402
from rooflinekit.networks import nb201_layer_union  # noqa: E402
from rooflinekit.networks.nb201 import nb201_execution  # noqa: E402
from rooflinekit.progress import progress as progress_bar  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201"
STEP = 5
"""Default subsample: every 5th architecture in index order (2,500 of the 12,500)."""
TRAFFIC = "weights_and_activations"
DATASET = "nb201"
"""This data set's key in :data:`~rooflinekit.compare.calibrate.intervals.DEVICE_OFFSETS` and ``NETWORK_OFFSETS``:
the priors of the unseen-device and new-network intervals are taken from the other data sets."""


def subsample(records: pd.DataFrame, step: int) -> pd.DataFrame:
    """The records of every ``step``-th distinct ``nb201_index`` in ascending order (all for step 1)."""
    keep = sorted(records["nb201_index"].unique())[::step]
    return records[records["nb201_index"].isin(keep)]


def nb201_features(records: pd.DataFrame, op_classes: str = "fine") -> pd.DataFrame:
    """The records (``network`` = architecture string) with :data:`FEATURE_COLUMNS` and ``roofline_s:<class>``.

    Per (hardware, batch, precision, execution: how the record's framework runs the network,
    :func:`~rooflinekit.networks.nb201.nb201_execution`): one layer-mode roofline evaluation of the union of the
    distinct layers of the records' networks; each network's class times, MACs, latency bound and kernel count are
    the sums over its layers (``incidence @ per-layer column``), which is what ``calibration_features`` computes
    network by network (with the same ``op_classes`` scheme).
    """
    executions = records["framework"].map(nb201_execution)
    parts, unions = [], {}
    groups = records.groupby(["hardware", "batch", "precision", executions.rename("execution")], sort=False)
    for (hardware, batch, precision, execution), rows in progress_bar(groups, "NB201 features", total=groups.ngroups,
                                                                       unit="device x batch"):
        spec = get_hardware(hardware)
        if (batch, precision, execution) not in unions:
            archs = list(dict.fromkeys(records.loc[executions == execution, "network"]))
            unions[(batch, precision, execution)] = (pd.Series(np.arange(len(archs)), index=archs),
                                                     *nb201_layer_union(archs, int(batch), precision, execution))
        position, union, incidence = unions[(batch, precision, execution)]
        layers = class_layers(union, spec, None, int(batch), TRAFFIC, op_classes=op_classes)
        at = incidence[position[rows["network"]].to_numpy()].astype(float)
        values = {**hardware_features(spec), "macs": at @ layers["macs"].to_numpy(dtype=float),
                  "roofline_latency_s": at @ layers["time_s"].to_numpy(dtype=float),
                  "kernels": at @ layers["kernel"].to_numpy(dtype=float)}
        for name in sorted(layers["calibration_class"].unique()):
            values[ROOFLINE_PREFIX + name] = at @ (layers["time_s"] * (layers["calibration_class"] == name)).to_numpy()
        parts.append(rows.assign(**values))
    features = pd.concat(parts)
    times = [c for c in features.columns if c.startswith(ROOFLINE_PREFIX)]
    features[times] = features[times].fillna(0.0)
    ordered = [c for c in features.columns if c not in FEATURE_COLUMNS and c not in times]
    return features[[*ordered, *FEATURE_COLUMNS, *sorted(times)]].loc[records.index]


def load_features(data: Path = DATA, step: int = STEP,
                  progress: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    """Featurized records of the subsample (module docstring); the loader's rejections are reported by progress."""
    loaded = load_nb201(data)
    if len(loaded.rejected):
        progress(f"NB201: {len(loaded.rejected)} cells rejected by the loader: "
                 + "; ".join(loaded.rejected["reason"].value_counts().index[:3]))
    records = subsample(loaded.records, step)
    progress(f"NB201: {records['nb201_index'].nunique()} of {loaded.records['nb201_index'].nunique()} architectures "
             f"(every {step}th), {len(records)} records")
    return nb201_features(records)


def results(data: Path = DATA, progress: Callable[[str], None] = lambda _: None, step: int = STEP,
            features: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(table, per_device)``: the metrics of each predictor under LODO, and the calibrated metrics per device and
    batch (:func:`lodo.breakdown`)."""
    features = load_features(data, step, progress) if features is None else features
    prior, network_prior = offset_prior(exclude=DATASET), offset_prior(exclude=DATASET, offsets=NETWORK_OFFSETS)
    predicted = lodo.leave_one_device_out(
        features, make=lambda: lodo.calibrated_predictor(device_offset_prior=prior,
                                                         network_offset_prior=network_prior),
        progress=progress)
    table = pd.DataFrame(lodo.metrics(features, predicted, "LODO", rank_groups=("catalog_hardware", "batch")))
    return table, lodo.breakdown(features, predicted, ("catalog_hardware", "batch"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"NAS-Bench-201 data folder (default {DATA})")
    parser.add_argument("--step", type=int, default=STEP, help="use every STEP-th architecture")
    args = parser.parse_args(argv)
    table, per_device = results(args.data, lambda text: print(text, file=sys.stderr, flush=True), args.step)
    lodo.print_tables(table, per_device)
    calibrated = table.set_index("predictor").loc["calibrated"]
    print(f"LODO_median_ape_pct={calibrated.median_ape_pct:.2f} LODO_median_spearman={calibrated.spearman:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
