"""Fidelity on NeuSight's GPU transformer latencies: leave one GPU out (scheme (d) of issue 10).

    python benchmarks/fidelity/neusight.py [--data ../shared/data/neusight]

Rows: :func:`rooflinekit.compare.loaders.load_neusight` records (fp32 PyTorch eager inference, one forward pass over
``batch`` sequences of ``seq_len`` tokens) on the Tesla P4, P100, T4, V100, A100 PCIe and AMD MI100, each costed on
:func:`rooflinekit.networks.neusight_network` of its model, batch and sequence length; ``switchxl4`` rows are left
out (no layer figures for it). ``framework_version`` is ``fusion`` on the A100 rows run with the artifact's fused
kernels (a different build of the stack), missing otherwise.

Scheme ``LOGO``: each GPU predicted from the five others (:mod:`lodo`). Predictors: roofline, naive (median
measured / roofline of the training GPUs), calibrated (per-kernel and per-call overhead + class factors; the
unseen-device interval with its prior from the other data sets, :data:`DATASET`), and,
on the NVIDIA rows without fusion where the artifact publishes it, ``neusight_roofline``: the artifact's own
plain-roofline prediction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lodo  # noqa: E402

from rooflinekit.compare.calibrate import calibration_features  # noqa: E402
from rooflinekit.compare.calibrate.intervals import NETWORK_OFFSETS, offset_prior  # noqa: E402
from rooflinekit.compare.evaluate import error_metrics  # noqa: E402
from rooflinekit.compare.loaders import load_neusight  # noqa: E402
from rooflinekit.errors import RooflineError  # noqa: E402
from rooflinekit.networks import neusight_network  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "neusight"
DATASET = "neusight"
"""This data set's key in :data:`~rooflinekit.compare.calibrate.intervals.DEVICE_OFFSETS` and ``NETWORK_OFFSETS``:
the priors of the unseen-device and new-network intervals are taken from the other data sets."""


def load_features(data: Path = DATA, progress: Callable[[str], None] = lambda _: None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, left_out)``: featurized records (``network`` = ``"<model_name> b<batch> s<seq_len>"``,
    ``model_name`` kept) and the rows that could not be costed or were rejected by the loader, with a ``reason``."""
    loaded = load_neusight(data)
    records = loaded.records.rename(columns={"network": "model_name"})
    records["network"] = [f"{m} b{b} s{s}" for m, b, s in zip(records.model_name, records.batch, records.seq_len)]
    records["framework_version"] = records["option"].where(records["option"].notna(), None)
    networks, left_out = {}, [loaded.rejected]
    for row in records.drop_duplicates("network").itertuples():
        try:
            networks[(row.network, str(row.precision))] = neusight_network(row.model_name, int(row.batch),
                                                                           int(row.seq_len), str(row.precision))
        except RooflineError as exc:
            left_out.append(records[records.network == row.network].assign(reason=" ".join(str(exc).split())))
    built = records[records.network.isin([name for name, _ in networks])]
    features, unresolved = calibration_features(built, networks, op_classes=lodo.OP_CLASSES)
    left = pd.concat([*left_out, unresolved], ignore_index=True)
    progress(f"NeuSight: {len(features)} rows costed, {len(left)} left out")
    return features, left


def results(data: Path = DATA, progress: Callable[[str], None] = lambda _: None
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(table, per_gpu, left_out)``: the metrics of each predictor under LOGO (plus the artifact's roofline on the
    rows where it has one), the calibrated metrics per GPU, and the rows left out with their reason."""
    features, left_out = load_features(data, progress)
    prior, network_prior = offset_prior(exclude=DATASET), offset_prior(exclude=DATASET, offsets=NETWORK_OFFSETS)
    predicted = lodo.leave_one_device_out(
        features, make=lambda: lodo.calibrated_predictor(device_offset_prior=prior,
                                                         network_offset_prior=network_prior),
        progress=progress)
    rows = lodo.metrics(features, predicted, "LOGO")
    published = features.loc[predicted.index, "roofline_pred_s"].dropna()
    if len(published):
        rows.insert(2, {"scheme": "LOGO", "predictor": "neusight_roofline",
                        **error_metrics(features.loc[published.index, "latency_s"], published),
                        "coverage_80_pct": float("nan")})
    return pd.DataFrame(rows), lodo.breakdown(features, predicted, ("catalog_hardware",)), left_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"NeuSight data folder (default {DATA})")
    args = parser.parse_args(argv)
    table, per_gpu, left_out = results(args.data, lambda text: print(text, file=sys.stderr, flush=True))
    lodo.print_tables(table, per_gpu)
    if len(left_out):
        print(left_out["reason"].value_counts().to_string())
    calibrated = table.set_index("predictor").loc["calibrated"]
    print(f"LOGO_median_ape_pct={calibrated.median_ape_pct:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
