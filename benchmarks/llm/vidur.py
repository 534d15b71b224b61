"""Vidur per-operator times, leave one GPU out: fit on the A100 and predict the A40 from its spec, and the reverse.

    python benchmarks/llm/vidur.py [--data ../shared/data/vidur]

Rows: every Vidur record (:func:`rooflinekit.compare.loaders.vidur.load_vidur`: Llama-2-7B, Llama-2-70B and
CodeLlama-34B layers, 1-4,096 tokens, tensor parallel 1-8, fp16), one kernel per operator
(:func:`~rooflinekit.compare.loaders.vidur.vidur_kernels`). The held-out GPU is known only by its spec (fp16 tensor
and fp32 peaks, DRAM bandwidth, SM count, clock).

Predictors:

- ``roofline``: ``max(ops / peak, bytes / bandwidth)``, a bound, nothing fitted;
- ``naive``: the roofline time divided by the median efficiency (roofline / measured) of the same operator on the
  training GPU;
- ``calibrated``: :class:`~rooflinekit.compare.calibrate.operators.OperatorPredictor` fitted on the training GPU
  (the embedding gather's two kernels in the overlapped form,
  :data:`~rooflinekit.compare.loaders.vidur.OVERLAPPED_KINDS`; rows are reported by operator, ``emb`` holding
  both), with its 80 % interval: held-out residuals of folds of model x tensor-parallel groups on the training
  GPU, around the range of transfer rules one GPU cannot tell apart (``OperatorPredictor.transfer_range``).

The per-operator table adds ``resolution_floor_pct``: the median of ``100 x 0.25 us / measured``, the median APE a
perfect predictor would show against times rounded to whole microseconds (Vidur's profiler traces; every time in
the table is a multiple of 0.5 us, a median of whole-microsecond samples).

``results(progress)`` returns the pooled table (both directions) in the fidelity columns; ``section(progress)`` the
markdown section of ``benchmarks/llm/RESULTS.md``. The last printed line is ``vidur_worst_operator_mdape_pct=<x>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from rooflinekit.catalog import hardware_catalog
from rooflinekit.compare.calibrate.operators import OperatorPredictor, roofline_bound, with_hardware
from rooflinekit.compare.evaluate import error_metrics
from rooflinekit.compare.loaders.vidur import OPERATORS, OVERLAPPED_KINDS, load_vidur, vidur_kernels

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "vidur"
COLUMNS = ["scheme", "predictor", "n", "median_ape_pct", "within_10_pct", "within_25_pct", "spearman",
           "coverage_80_pct"]
PREDICTORS = ("roofline", "naive", "calibrated")
GEMM_OPERATORS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
SMALL_TOKENS = 64
"""Token counts <= this are reported apart (memory- and overhead-bound regime)."""
TARGET_MDAPE_PCT = 15.0
COVERAGE_RANGE_PCT = (70.0, 90.0)
SHORT = {"A100-SXM4-80GB": "A100", "NVIDIA A40": "A40"}
RESOLUTION_S = 1e-6
"""Time resolution of the Vidur profiles: whole microseconds per sample (see the module docstring)."""
Progress = Callable[[str], None]


def kernels(data: Path = DATA, progress: Progress = lambda _: None) -> pd.DataFrame:
    """The Vidur kernel table with the hardware columns of each GPU's catalog spec."""
    progress(f"loading {data}")
    loaded = load_vidur(data)
    progress(f"{len(loaded.records)} records, {len(loaded.rejected)} rejected with reasons")
    table = vidur_kernels(loaded.records)
    catalog = hardware_catalog()
    return with_hardware(table, {name: catalog.get(name) for name in table["hardware"].unique()})


def predict_held_out(table: pd.DataFrame, progress: Progress = lambda _: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each GPU's rows predicted from the other GPU's rows: columns ``direction``, the three predictors (s),
    ``low_s`` / ``high_s`` (calibrated interval) and the measured ``latency_s``; and the fitted parameters per
    direction and kind."""
    parts, fitted = [], []
    gpus = sorted(table["hardware"].unique())
    for held in gpus:
        train, test = table[table["hardware"] != held], table[table["hardware"] == held]
        direction = " + ".join(SHORT.get(g, g) for g in sorted(train["hardware"].unique())) + \
            f" -> {SHORT.get(held, held)}"
        progress(f"{direction}: fitting on {len(train)} kernels")
        model = OperatorPredictor(overlapped=OVERLAPPED_KINDS).fit(train)
        low, high = model.predict_interval(test)
        efficiency = (roofline_bound(train) / train["latency_s"].to_numpy(float))
        median_efficiency = pd.Series(efficiency, index=train.index).groupby(train["kind"]).median()
        bound = roofline_bound(test)
        parts.append(pd.DataFrame({
            "direction": direction, "kind": test["operator"], "num_tokens": test["num_tokens"],
            "model": test["model"], "tp": test["tp"],
            "latency_s": test["latency_s"], "roofline": bound,
            "naive": bound / test["kind"].map(median_efficiency).to_numpy(float),
            "calibrated": model.predict(test), "low_s": low, "high_s": high}, index=test.index))
        progress(f"{direction}: tile {model.tile_}, interval from {model.interval_basis_}")
        params = model.params_.reset_index()
        clock = float(train["clock_hz"].iloc[0])
        fitted.append(params.assign(direction=direction, overhead_us=params["overhead_cycles"] / clock * 1e6,
                                    tile=np.where(params["family"] == "gemm", str(model.tile_), "")))
    return pd.concat(parts), pd.concat(fitted, ignore_index=True)


def _metrics(rows: pd.DataFrame, predictor: str) -> dict[str, float]:
    measured = rows["latency_s"].to_numpy(float)
    out: dict[str, float] = error_metrics(measured, rows[predictor].to_numpy(float))
    inside = (measured >= rows["low_s"].to_numpy(float)) & (measured <= rows["high_s"].to_numpy(float))
    has_interval = predictor == "calibrated" and bool(np.isfinite(rows["low_s"].to_numpy(float)).all())
    out["coverage_80_pct"] = float(100 * inside.mean()) if has_interval else float("nan")
    return out


def layer_sums(predicted: pd.DataFrame) -> pd.DataFrame:
    """Measured and predicted time of one layer: the sum of its operators per (direction, model, tp, tokens),
    over the layers whose ten operators all have a record. No interval (a sum of per-operator intervals is not an
    80 % interval): ``low_s`` / ``high_s`` are NaN."""
    keys = ["direction", "model", "tp", "num_tokens"]
    columns = ["latency_s", *PREDICTORS]
    grouped = predicted.groupby(keys)
    sums = grouped[columns].sum()[grouped.size() == len(OPERATORS)].reset_index()
    return sums.assign(low_s=np.nan, high_s=np.nan, kind="layer")


def results_from(predicted: pd.DataFrame) -> pd.DataFrame:
    """The fidelity table (:data:`COLUMNS`): scheme ``vidur LOGO`` (every operator record, both directions pooled),
    one scheme per direction, ``vidur LOGO GEMMs`` (the four projections) and ``vidur LOGO layer`` (sum of the ten
    operators of a layer, :func:`layer_sums`; no interval)."""
    rows = []
    gemms = predicted[predicted["kind"].isin(GEMM_OPERATORS)]
    schemes = ([("vidur LOGO", predicted)] + [(f"vidur LOGO {d}", g) for d, g in predicted.groupby("direction")]
               + [("vidur LOGO GEMMs", gemms), ("vidur LOGO layer", layer_sums(predicted))])
    for scheme, part in schemes:
        for predictor in PREDICTORS:
            rows.append({"scheme": scheme, "predictor": predictor, **_metrics(part, predictor)})
    return pd.DataFrame(rows)[COLUMNS]


def operator_table(predicted: pd.DataFrame) -> pd.DataFrame:
    """Per direction, operator and token regime: n, the resolution floor (module docstring), MdAPE of each
    predictor, and the calibrated predictor's within-10/25 %, Spearman and interval coverage."""
    regime = np.where(predicted["num_tokens"] <= SMALL_TOKENS, f"<= {SMALL_TOKENS}", f"> {SMALL_TOKENS}")
    rows = []
    for (direction, kind, tokens), part in predicted.groupby(["direction", "kind", regime], sort=True):
        calibrated = _metrics(part, "calibrated")
        floor = 100 * 0.25 * RESOLUTION_S / part["latency_s"].to_numpy(float)
        rows.append({"direction": direction, "operator": kind, "tokens": tokens, "n": len(part),
                     "resolution_floor_pct": float(np.median(floor)),
                     **{f"{p}_mdape_pct": _metrics(part, p)["median_ape_pct"] for p in ("roofline", "naive")},
                     "calibrated_mdape_pct": calibrated["median_ape_pct"],
                     "within_10_pct": calibrated["within_10_pct"], "within_25_pct": calibrated["within_25_pct"],
                     "spearman": calibrated["spearman"], "coverage_80_pct": calibrated["coverage_80_pct"]})
    return pd.DataFrame(rows)


def results(progress: Progress = lambda _: None, data: Path = DATA) -> pd.DataFrame:
    """Pooled and per-direction metrics in the fidelity columns (:data:`COLUMNS`)."""
    return results_from(predict_held_out(kernels(data, progress), progress)[0])


def _cell(value: object, name: str) -> str:
    if isinstance(value, float):
        if value != value:
            return ""
        if name in ("spearman", "u_compute", "u_memory"):
            return f"{value:.3f}"
        if name in ("p", "beta_bytes_per_cycle_per_sm", "overhead_us", "overhead_cycles"):
            return f"{value:.3g}"
        return f"{value:.1f}"
    return str(value)


def markdown(table: pd.DataFrame) -> str:
    """A GitHub table of ``table``, numbers rounded for reading."""
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v, c) for c, v in zip(columns, row)) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def scheme_verdicts(pooled: pd.DataFrame) -> list[str]:
    """Per scheme: calibrated MdAPE against the target, interval coverage against 70-90 %, and whether the
    calibrated predictor beats both baselines."""
    lines = []
    low, high = COVERAGE_RANGE_PCT
    for scheme, rows in pooled.groupby("scheme", sort=False):
        by = rows.set_index("predictor")
        mdape, coverage = by.median_ape_pct["calibrated"], by.coverage_80_pct["calibrated"]
        best = min(by.median_ape_pct["roofline"], by.median_ape_pct["naive"])
        line = (f"- {scheme}: calibrated MdAPE {mdape:.1f} % (target <= {TARGET_MDAPE_PCT:.0f} %: "
                + ("met" if mdape <= TARGET_MDAPE_PCT else f"missed by {mdape - TARGET_MDAPE_PCT:.1f} points")
                + f"); best baseline {best:.1f} %: " + ("better" if mdape < best else "not better"))
        if coverage == coverage:
            line += (f"; 80 % interval coverage {coverage:.1f} % ("
                     + ("met" if low <= coverage <= high else f"outside {low:.0f}-{high:.0f} %") + ")")
        lines.append(line + ".")
    return lines


def verdicts(operators: pd.DataFrame) -> list[str]:
    """One line per missed target (MdAPE per operator and regime, coverage), and a count of the met ones."""
    lines, met = [], 0
    for row in operators.itertuples(index=False):
        where = f"{row.direction}, {row.operator}, tokens {row.tokens}"
        if row.calibrated_mdape_pct > TARGET_MDAPE_PCT:
            lines.append(f"- {where}: MdAPE {row.calibrated_mdape_pct:.1f} % misses the <= {TARGET_MDAPE_PCT:.0f} % "
                         f"target by {row.calibrated_mdape_pct - TARGET_MDAPE_PCT:.1f} points.")
        else:
            met += 1
    low, high = COVERAGE_RANGE_PCT
    covered = operators[(operators.coverage_80_pct >= low) & (operators.coverage_80_pct <= high)]
    return ([f"- MdAPE target met in {met} of {len(operators)} operator x regime x direction cells."] + lines
            + [f"- 80 % interval coverage inside {low:.0f}-{high:.0f} % in {len(covered)} of {len(operators)} "
               "cells (table column coverage_80_pct)."])


SECTION_TEXT = Path(__file__).resolve().parent / "vidur_notes.md"


def section(progress: Progress = lambda _: None, data: Path = DATA) -> str:
    """The Vidur section of ``benchmarks/llm/RESULTS.md``: pooled table, per-operator table, verdicts, notes."""
    predicted, fitted = predict_held_out(kernels(data, progress), progress)
    pooled = results_from(predicted)
    operators = operator_table(predicted)
    fitted = fitted[["direction", "kind", "family", "overlapped", "tile", "overhead_cycles", "overhead_us",
                     "u_compute", "p", "u_memory", "beta_bytes_per_cycle_per_sm"]]
    text = "## Vidur operators, leave one GPU out (A100 <-> A40)\n\n"
    text += markdown(pooled) + "\n### Per operator and token regime (calibrated unless named)\n\n"
    text += markdown(operators) + "\n### Targets\n\n" + "\n".join(scheme_verdicts(pooled) + verdicts(operators))
    text += "\n"
    text += ("\n### Fitted parameters (training GPU of each direction; overhead_us = overhead_cycles / its clock)\n\n"
             + markdown(fitted))
    if SECTION_TEXT.is_file():
        text += "\n" + SECTION_TEXT.read_text(encoding="utf-8")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    predicted, _ = predict_held_out(kernels(args.data, _stderr), _stderr)
    print(markdown(results_from(predicted)))
    operators = operator_table(predicted)
    print(markdown(operators))
    print(f"vidur_worst_operator_mdape_pct={operators.calibrated_mdape_pct.max():.2f}")
    return 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
