"""The shipped GPU and CPU calibrations on devices of another data set: QuTiBench's Jetson TX2 and Cortex-A53.

    python benchmarks/fidelity/transfer.py [--data ../shared/data/qutibench]

Every other scheme of this folder refits a calibration on part of its own data set. This one asks what a user
gets: ``rk.predict(network, hardware, precision, batch, calibrated=True)``, the calibration shipped for the
device's class, on records no shipped calibration was fitted on, from a data set none of them holds:

- QuTiBench's Jetson TX2 at its three power modes (GPU; fp16 and fp32; CNV and MLP at four prunings each,
  GoogLeNet and ResNet-50, at batch 1 to 128), which gets the GPU class's calibrations, no stack given: at batch 1
  the MLPerf Inference SingleStream one (a lone sample's latency), at any other batch the Offline one (large-batch
  throughput; a batch of 2 to 63 is scaled from 64 samples and warns);
- its Cortex-A53 (CPU; CNV and MLP at int2 and int4), which gets the eager-latency calibration, fitted on fp32
  records only, so its int2 and int4 layers take the median factor exp(theta0) (warned).

The TX2 and the A53 are devices neither calibration had (the unseen-device interval). Networks as the QuTiBench
scheme costs them (:func:`qutibench.record_network`, :func:`rooflinekit.networks.imagenet.qutibench_network`);
the pruned ResNet-50 variants (totals only) are left out, counted. Each row's measured time of one batch is
``batch / throughput_fps`` (s). Predictors side by side: ``roofline``, the bound the calibrated estimate scales
(``bound_latency_s``: the layer-mode roofline with the calibration's traffic), and ``calibrated``, with its 80 %
interval. Nothing is fitted here.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qutibench  # noqa: E402

from rooflinekit import predict  # noqa: E402
from rooflinekit.catalog import get_hardware, get_network  # noqa: E402
from rooflinekit.compare.evaluate import error_metrics  # noqa: E402
from rooflinekit.compare.loaders import load_qutibench  # noqa: E402
from rooflinekit.errors import CalibrationWarning, RooflineError, RooflineWarning  # noqa: E402
from rooflinekit.networks.imagenet import qutibench_network  # noqa: E402

CLASSES = ("GPU", "CPU")
"""The hardware classes of QuTiBench's devices whose shipped calibrations come from other data sets."""


def _network(network: str, pruning_pct: float, precision: str):  # type: ignore[no-untyped-def]
    """The layer network a QuTiBench record ran (CNV / MLP from the layer catalog, the ImageNet ones built)."""
    layered = qutibench.record_network(network, pruning_pct)
    if layered is not None:
        return get_network(layered)
    if pruning_pct != 100:
        raise RooflineError(f"{network} {pruning_pct:g}%: known by totals only (no layer structure of the pruned "
                            "network is published), not costed per layer")
    return qutibench_network(network, precision=precision)


def predictions(data: Path = qutibench.DATA, progress: Callable[[str], None] = lambda _: None,
                devices: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, left_out)``: per TX2 / A53 record (of ``devices`` only, when given) its ``latency_s`` (s), the
    ``roofline`` and ``calibrated`` latency (s) of ``rk.predict(..., calibrated=True)`` and the interval ``low``,
    ``high``; the records it could not predict, and every other record of the loader, with a ``reason`` (rows +
    left out = records + rejected)."""
    loaded = load_qutibench(data)
    records = loaded.records
    kinds = records["hardware"].map(lambda name: get_hardware(name).kind.value)
    chosen = kinds.isin(CLASSES) & (records["hardware"].isin(devices) if devices else True)
    mine = records[chosen]
    left = [loaded.rejected, records[~kinds.isin(CLASSES)].assign(
        reason="hardware class not GPU or CPU: the QuTiBench calibration's own records"),
        records[kinds.isin(CLASSES) & ~chosen].assign(reason="device not asked for")]
    rows, failed = [], []
    networks: dict[tuple[str, float, str], object] = {}
    with warnings.catch_warnings():  # below-regime batches, fp32-only factors on int2: warned once per call
        warnings.simplefilter("ignore", CalibrationWarning)
        warnings.simplefilter("ignore", RooflineWarning)
        for index, row in mine.iterrows():
            key = (row.network, float(row.pruning_pct), str(row.precision))
            try:
                if key not in networks:
                    networks[key] = _network(*key)
                result = predict(networks[key], row.hardware, str(row.precision), int(row.batch), calibrated=True)
            except RooflineError as exc:
                failed.append(mine.loc[[index]].assign(reason=" ".join(str(exc).split())))
                continue
            low, high = result.latency_interval_s or (float("nan"), float("nan"))
            rows.append({"index": index, "hardware": row.hardware, "network": row.network,
                         "latency_s": row.batch / row.throughput_fps, "roofline": result.bound_latency_s,
                         "calibrated": result.latency_s, "low": low, "high": high})
    progress(f"transfer: {len(rows)} QuTiBench TX2 / A53 records predicted, {len(failed)} not")
    return pd.DataFrame(rows).set_index("index"), pd.concat([*left, *failed], ignore_index=True)


def results(data: Path = qutibench.DATA, progress: Callable[[str], None] = lambda _: None
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(table, left_out)``: per device, n, the median measured / roofline, the median APE (%) of the roofline and
    of the calibrated estimate, the calibrated estimate's Spearman rank correlation and its 80 % interval's
    coverage (%); the records not predicted with their reason."""
    rows, left_out = predictions(data, progress)
    table = []
    for hardware, group in rows.groupby("hardware", sort=True):
        bound = error_metrics(group["latency_s"], group["roofline"])
        calibrated = error_metrics(group["latency_s"], group["calibrated"])
        inside = (group["latency_s"] >= group["low"]) & (group["latency_s"] <= group["high"])
        table.append({"hardware": hardware, "class": get_hardware(hardware).kind.value, "n": calibrated["n"],
                      "measured_over_roofline": float((group["latency_s"] / group["roofline"]).median()),
                      "roofline_mdape_pct": bound["median_ape_pct"], "calibrated_mdape_pct":
                      calibrated["median_ape_pct"], "spearman": calibrated["spearman"],
                      "coverage_80_pct": float(100 * inside.mean())})
    return pd.DataFrame(table), left_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=qutibench.DATA, help="QuTiBench data folder")
    args = parser.parse_args(argv)
    table, left_out = results(args.data, lambda text: print(text, file=sys.stderr, flush=True))
    print(table.to_string(index=False))
    print(left_out["reason"].value_counts().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
