"""Cross-validate latency predictors on MLPerf Tiny: closed division, CPU-only Arm Cortex-M systems, v0.5-v1.1.

    python benchmarks/mlperf_tiny/crossval.py [--data ../shared/data/mlperf_tiny]

Rows: performance-mode latency (1 / median throughput) of the closed division on systems whose Cortex-M CPU runs
the network alone (``cpu_only_cortex_m``), benchmarks ad, ic, kws and vww, costed on their int8 reference models
(``models/<int8_file>.tflite`` of :data:`~rooflinekit.compare.loaders.REFERENCE_MODELS`: ``ad01_int8``,
``pretrainedResnet_quant``, ``kws_ref_model``, ``vww_96_int8``) and the catalog spec of the board.

Schemes (:func:`rooflinekit.compare.evaluate.cross_val_predict`):

- LOMO, leave one model out per system: each (system, network) row is predicted by a predictor fitted on every
  other row; a system is a submission's (round, submitter, system folder).
- LOBO, leave one board out: the rows of each board (catalog name) are predicted by a predictor fitted on the rows
  of the other boards, i.e. from the board's spec and software stack only.

Predictors: ``roofline`` (rooflinekit.predict, layer mode, weights_and_activations; nothing fitted, so both schemes
score the same), ``naive`` (median cycles per MAC per core family) and ``calibrated``
(:class:`~rooflinekit.compare.calibrate.CalibratedPredictor` with default shrinkage). The last line reads
``LOMO_median_ape_pct=<x> LOBO_median_ape_pct=<y>`` for the calibrated predictor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from rooflinekit.compare.calibrate import (
    CalibratedPredictor, calibration_features, networks_from_files, select_calibration_records,
)
from rooflinekit.compare.evaluate import MedianCyclesPerMac, ape_pct, cross_val_predict, error_metrics
from rooflinekit.compare.loaders import REFERENCE_MODELS, load_mlperf_tiny

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mlperf_tiny"
BENCHMARKS = tuple(REFERENCE_MODELS)
SYSTEM_COLUMNS = ("round", "submitter", "system")
ORDER = {"roofline": 0, "naive": 1, "calibrated": 2, "LOMO": 0, "LOBO": 1}


def load_features(data: Path = DATA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, left_out)``: the featurized rows described in the module docstring, and the CPU-only
    closed-division rows of these benchmarks that could not be used, with a ``reason``."""
    records = load_mlperf_tiny(data / "results").records
    rows = records[(records.division == "closed") & records.cpu_only_cortex_m & records.benchmark.isin(BENCHMARKS)
                   & (records.precision == "int8")]
    rows, without_latency = select_calibration_records(rows)
    networks = networks_from_files(data / "models" / f"{REFERENCE_MODELS[b].int8_file}.tflite" for b in BENCHMARKS)
    features, unresolved = calibration_features(rows, networks)
    return features, pd.concat([without_latency, unresolved], ignore_index=True)


def scheme_groups(features: pd.DataFrame) -> dict[str, pd.Series]:
    """Group labels per row: LOMO = system + network, LOBO = catalog board."""
    system = features[list(SYSTEM_COLUMNS)].astype(str).agg("/".join, axis=1)
    return {"LOMO": system + " " + features["network"], "LOBO": features["catalog_hardware"]}


def crossval(features: pd.DataFrame, **params: float) -> pd.DataFrame:
    """Predicted latency_s of every row by each predictor under each scheme: columns ``<predictor>_<scheme>``.
    ``params`` go to :class:`CalibratedPredictor` (``shrinkage``, ``system_shrinkage``)."""
    predictors = {"naive": MedianCyclesPerMac,
                  "calibrated": lambda: CalibratedPredictor(system_columns=SYSTEM_COLUMNS, interval_coverage=None,
                                                            **params)}
    predicted = pd.DataFrame(index=features.index)
    for scheme, groups in scheme_groups(features).items():
        predicted[f"roofline_{scheme}"] = features["roofline_latency_s"]
        for name, make in predictors.items():
            predicted[f"{name}_{scheme}"] = cross_val_predict(features, make, groups.to_numpy())
    return predicted


def metrics_table(features: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """One row per (predictor, scheme) with :data:`~rooflinekit.compare.evaluate.METRICS`."""
    rows = []
    for column in predicted.columns:
        name, scheme = column.rsplit("_", 1)
        rows.append({"predictor": name, "scheme": scheme,
                     **error_metrics(features["latency_s"], predicted[column])})
    return pd.DataFrame(rows).sort_values(["scheme", "predictor"], key=lambda c: c.map(ORDER), kind="stable")


def breakdown(features: pd.DataFrame, predicted: pd.DataFrame, column: str, by: str) -> pd.Series:
    """Median APE (%) of one prediction column per value of the feature column ``by``."""
    errors = pd.Series(ape_pct(features["latency_s"], predicted[column]), index=features.index)
    return errors.groupby(features[by]).median().round(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Tiny data folder (default {DATA})")
    parser.add_argument("--shrinkage", type=float, default=0.1, help="CalibratedPredictor shrinkage (default 0.1)")
    parser.add_argument("--system-shrinkage", type=float, default=3.0,
                        help="CalibratedPredictor system_shrinkage (default 3)")
    args = parser.parse_args(argv)
    features, left_out = load_features(args.data)
    systems = features[list(SYSTEM_COLUMNS)].drop_duplicates()
    print(f"rows={len(features)} systems={len(systems)} boards={features.catalog_hardware.nunique()} "
          f"core_families={features.core_family.nunique()} frameworks={features.framework.nunique()} "
          f"left_out={len(left_out)}")
    for _, row in left_out.iterrows():
        print(f"  left out: {row.get('system')} {row.get('benchmark')}: {row['reason']}")
    predicted = crossval(features, shrinkage=args.shrinkage, system_shrinkage=args.system_shrinkage)
    table = metrics_table(features, predicted)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print("calibrated, median APE % per board (LOBO):")
        print(breakdown(features, predicted, "calibrated_LOBO", "catalog_hardware").to_string())
        print("calibrated, median APE % per benchmark (LOMO):")
        print(breakdown(features, predicted, "calibrated_LOMO", "benchmark").to_string())
        print(table.round(3).to_string(index=False))
    calibrated = table[table.predictor == "calibrated"].set_index("scheme").median_ape_pct
    print(f"LOMO_median_ape_pct={calibrated['LOMO']:.2f} LOBO_median_ape_pct={calibrated['LOBO']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
