"""MLPerf Inference LLM rows (GPT-J 6B, Llama-2-70B, Offline): roofline bound, naive and calibrated tokens/s.

    python benchmarks/llm/mlperf_llm.py [--data ../shared/data/mlperf_inference]

**Rows.** The LLM rows of ``../shared/data/mlperf_inference/results.csv`` through the project loader
(:func:`~rooflinekit.compare.loaders.mlperf_inference.load_mlperf_inference`): Offline output tokens/s of the whole
system, divided by its accelerators (``throughput_fps``). Every LLM row of the table is kept or listed in
``left_out`` with its reason (:func:`select`): CPU-only systems (the loader rejects them), and the ``-99.9``
twin of a ``-99`` row of the same system (same model and workload at a stricter accuracy target; all but one pair
report the identical throughput, i.e. one run submitted twice), so each (submitter, system, model) counts once
(:data:`SYSTEM_KEY`). The copy holds
no Server rows and no LLM rows before v4.1 (GPT-J entered MLPerf in v3.1, Llama-2-70B in v4.0; neither round is in
the copy), so **forward in time cannot be scored**: it is reported with n = 0 rather than replaced silently.
Where this differs from ``benchmarks/fidelity/mlperf_inference.py``: the same Offline-only choice and the same
"per accelerator" target, but the accuracy twins are merged (that module keeps ``bert-99`` and ``bert-99.9``
apart because they ran at different precisions) and the batch is the largest that fits rather than a fixed 64.

**Workload per row** (:data:`WORKLOADS`). MLPerf's LLM throughput counts generated tokens only. The task
definitions are those of the MLPerf reference implementations (``mlcommons/inference``, ``language/gpt-j`` and
``language/llama2-70b``): GPT-J summarizes CNN/DailyMail articles (13,368 samples, prompt at most 1,919 tokens,
output 30-128 tokens by **beam search of width 4**), Llama-2-70B answers OpenOrca questions (24,576 samples, prompt
and output at most 1,024 tokens, greedy). The **mean** lengths used (GPT-J prompt 800 / output 64, Llama-2-70B
294 / 294) are approximations recalled from MLCommons' dataset summaries, **not verified** against the dataset
files in this run (the files are not in ../shared/data): treat them as +-15 %. A length error moves every row of a
model by one factor, which the calibration absorbs in LOAO but the bound does not.

**Batch.** Offline hands the whole data set to the harness at once and the TensorRT-LLM harnesses keep as many
sequences in flight as the KV cache holds (in-flight batching), so each replica is costed at the **largest batch
that fits** at context P + G (``memory.max_batch`` of :func:`~rooflinekit.llm.predict_llm`). The roofline tokens/s
grows with the batch (weights read once per step), so this is the highest bound of any batch that fits: the bound
stays an upper bound whatever batch the harness used. GPT-J: B sequences = B/4 samples of 4 beams; the prefill is
costed for the B/4 prompts, the decode for all B beams, each beam with its own KV cache (no sharing of the
prompt's pages, which lowers the batch that fits and so the bound); output tokens = samples x G.

**Parallelism** (:func:`tensor_parallel`): the smallest power-of-two tensor parallelism whose weight shard fills
at most half of one device's memory (the rest for KV cache): TP 1 for GPT-J, TP 2 for Llama-2-70B in fp8 on
80 GB; the system runs ``n_accelerators / TP`` data-parallel replicas (a multi-node system the same way), so the
bound per accelerator is the replica's tokens/s / TP. TP > 1 runs on the catalog's multi-GPU entry of the same GPU
(``DGX H100`` NVLink 4 for H100 SXM, ``4x H100 PCIe`` PCIe Gen5 for H100 PCIe; whether the 8x H100 PCIe system
pairs its GPUs with NVLink bridges is not in the table).

**Precision** (:data:`WEIGHTS`, :data:`KV`): fp8 weights, activations and KV cache. The table states
``weights=fp16`` (the reference model's type) for every row, but all these rows are NVIDIA TensorRT-LLM
submissions, which quantize GPT-J and Llama-2-70B to FP8 on Hopper; and at fp16 the bound is below the measured
tokens/s of every row (``roofline@fp16`` in the table), which no fp16 run can do. This choice was made
**after seeing** that the fp16 bound is exceeded (see RESULTS.md).

**Schemes.** ``forward`` (earlier rounds predict v4.1): no rows. ``LOAO`` (leave one accelerator out: H100 SXM
<-> H100 PCIe; the held-out accelerator is known only by its spec): predictors fitted on the other accelerator's
rows of both models. ``LOMO`` (leave one model out: GPT-J <-> Llama-2-70B): fitted on the other model's rows of both
accelerators. Predictors: ``roofline`` (the bound, nothing fitted), ``naive`` (median measured tokens/s per
accelerator of the training rows of the same model, else of all training rows), ``calibrated_cm`` and
``calibrated_pd`` (:func:`~rooflinekit.llm.calibration.fit_llm_calibration` with the compute/memory and the
prefill/decode split: architecture factors shrunk to the global ones, 80 % interval), and ``calibrated_vidur``:
``predict_llm(..., calibrated=True)``, the operator model fitted on Vidur's A100 / A40 kernels and nothing else
(:func:`vidur_per_accelerator`; same workload, TP, batch and fp8 costing as the bound), so it is the same in every
fold and every MLPerf row is held out from it. Metrics on tokens/s per accelerator. :data:`VERDICT` lists the
choices made after seeing held-out numbers and the conclusion.

The last line printed is ``mlperf_llm LOAO calibrated_pd median_ape_pct=<x> coverage_80_pct=<y>``.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from rooflinekit.catalog import get_hardware
from rooflinekit.compare.loaders.mlperf_inference import load_mlperf_inference
from rooflinekit.errors import SpecError
from rooflinekit.llm import predict_llm
from rooflinekit.llm.result import LLMResult
from rooflinekit.llm.calibration import LLMCalibration, architecture_of, fit_llm_calibration, split_times_s

Progress = Callable[[str], None]
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mlperf_inference"


@dataclass(frozen=True)
class Workload:
    """One MLPerf LLM benchmark's work per sample: bundled config, mean prompt and output tokens, beams."""

    model: str
    prompt_tokens: int
    output_tokens: int
    beams: int
    source: str


WORKLOADS: dict[str, Workload] = {
    "gptj-6b": Workload("GPT-J-6B", 800, 64, 4,
                        "CNN/DailyMail, 13,368 samples; prompt <= 1,919, output 30-128 tokens, beam 4 "
                        "(mlcommons/inference language/gpt-j); means approximate"),
    "llama2-70b": Workload("Llama-2-70B", 294, 294, 1,
                           "OpenOrca, 24,576 samples; prompt and output <= 1,024 tokens, greedy "
                           "(mlcommons/inference language/llama2-70b); means approximate"),
}
"""Record ``network`` -> workload (module docstring)."""

WEIGHTS = "fp8"
KV = "fp8"
STATED_WEIGHTS = "fp16"
"""The precision the table states, costed only for the ``roofline@fp16`` check."""

MULTI_GPU = {"H100-SXM5-80GB": "DGX H100", "H100-PCIe-80GB": "4x H100 PCIe", "A100-SXM4-80GB": "DGX A100 80GB"}
"""Single GPU -> the catalog's multi-GPU system of it, for TP > 1."""

WEIGHT_SHARE = 0.5
"""Largest share of a device's memory the weight shard may take when choosing TP."""

CALIBRATED = {"calibrated_cm": ("compute/memory", "compute_share"),
              "calibrated_pd": ("prefill/decode", "prefill_share")}
"""Calibrated predictor -> (split, column of the share of its part a)."""
VIDUR = "calibrated_vidur"
"""The operator model fitted on Vidur's A100 / A40 kernels (``predict_llm(..., calibrated=True)``): nothing fitted
on MLPerf, so every fold gets the same prediction."""
INTERVAL_PREDICTORS = (*CALIBRATED, VIDUR)
PREDICTORS = ("roofline", "naive", *INTERVAL_PREDICTORS)
SYSTEM_KEY = ("round", "submitter", "system_id", "network", "scenario")
"""One run per key: the same system name is submitted by several submitters (``NVIDIA DGX H100``: NVIDIA and
Google), so the submitter and the system folder are part of it."""
COLUMNS = ["scheme", "predictor", "n", "median_ape_pct", "within_10_pct", "within_25_pct", "spearman",
           "coverage_80_pct"]


def select(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, left_out)`` among the LLM records: Offline, one per (system, model); the rest with a reason."""
    llm = records[records.network.isin(list(WORKLOADS))].copy()
    reasons = pd.Series("", index=llm.index)
    reasons[llm.scenario != "Offline"] = "not Offline: the scheme scores Offline throughput only"
    reasons[(reasons == "") & ~llm.throughput_unit.eq("tokens/s")] = "throughput not in tokens/s"
    ordered = llm.assign(_strict=llm.benchmark.str.endswith(".9")).sort_values(["_strict", "source"])
    first = ~ordered.duplicated(list(SYSTEM_KEY), keep="first")
    twin = ~first.reindex(llm.index)
    reasons[(reasons == "") & twin] = ("accuracy twin (-99.9) of a kept -99 row of the same system and model: "
                                       "same workload, counted once")
    kept = llm[reasons == ""]
    return kept, llm[reasons != ""].assign(reason=reasons[reasons != ""])


def tensor_parallel(model: str, device: str) -> int:
    """Smallest power of two TP (up to the multi-GPU system's size) whose weight shard is at most
    :data:`WEIGHT_SHARE` of one device's memory."""
    for tp in (1, 2, 4, 8):
        hardware = device if tp == 1 else MULTI_GPU[device]
        memory = _predict(model, hardware, 1, 128, 2, tp, WEIGHTS).memory
        if memory.weights_bytes <= WEIGHT_SHARE * memory.capacity_bytes:
            return tp
    raise SpecError(f"{model} does not fit {device} at TP 8 with its weights in half of each device's memory")


@lru_cache(maxsize=None)
def _predict(model: str, hardware: str, batch: int, prompt: int, generate: int, tp: int, weights: str,
             calibrated: bool = False) -> LLMResult:
    """:func:`predict_llm` with weights and KV cache at ``weights``, warnings silenced (misfits are expected while
    probing; the calibrated estimate's fp8 extrapolation warning is stated in RESULTS.md), cached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return predict_llm(model, hardware, batch=batch, prompt=prompt, generate=generate, weights=weights,
                           kv=weights, tp=tp, calibrated=calibrated)


def vidur_per_accelerator(network: str, device: str) -> dict[str, float]:
    """The Vidur-calibrated tokens/s per accelerator and its 80 % interval, for the same workload, TP and batch as
    :func:`bound_per_accelerator` (at :data:`WEIGHTS`): ``samples x G / (ttft + (G - 1) tpot) / TP`` with the
    calibrated times, the interval from the lows and highs of both phases."""
    w = WORKLOADS[network]
    tp = tensor_parallel(w.model, device)
    hardware = device if tp == 1 else MULTI_GPU[device]
    probe = _predict(w.model, hardware, 1, w.prompt_tokens, w.output_tokens, tp, WEIGHTS)
    samples = max(max(probe.memory.max_batch, 1) // w.beams, 1)
    prefill = _predict(w.model, hardware, samples, w.prompt_tokens, w.output_tokens, tp, WEIGHTS, True).calibrated
    decode = prefill if w.beams == 1 else _predict(w.model, hardware, samples * w.beams, w.prompt_tokens,
                                                    w.output_tokens, tp, WEIGHTS, True).calibrated
    if prefill is None or decode is None:
        raise SpecError(f"{w.model} on {hardware}: predict_llm returned no calibrated estimate")
    steps = w.output_tokens - 1
    (ttft_low, ttft_high), (tpot_low, tpot_high) = prefill.ttft_interval_s, decode.tpot_interval_s or (0.0, 0.0)
    times = [prefill.ttft_s + steps * (decode.tpot_s or 0.0), ttft_low + steps * tpot_low,
             ttft_high + steps * tpot_high]
    rate = [samples * w.output_tokens / time_s / tp for time_s in times]
    return {f"{VIDUR}_tokens_per_s": rate[0], f"{VIDUR}_high_tokens_per_s": rate[1],
            f"{VIDUR}_low_tokens_per_s": rate[2]}


def bound_per_accelerator(network: str, device: str, weights: str = WEIGHTS) -> dict[str, float]:
    """Roofline output tokens/s per accelerator of one replica at the largest batch that fits (module docstring):
    ``samples x G / (ttft(samples) + (G - 1) tpot(samples x beams)) / TP``."""
    w = WORKLOADS[network]
    tp = tensor_parallel(w.model, device)
    hardware = device if tp == 1 else MULTI_GPU[device]
    probe = _predict(w.model, hardware, 1, w.prompt_tokens, w.output_tokens, tp, weights)
    sequences = max(probe.memory.max_batch, 1)
    samples = max(sequences // w.beams, 1)
    prefill = _predict(w.model, hardware, samples, w.prompt_tokens, w.output_tokens, tp, weights)
    decode = prefill if w.beams == 1 else _predict(w.model, hardware, samples * w.beams, w.prompt_tokens,
                                                    w.output_tokens, tp, weights)
    tpot = decode.tpot_s or 0.0
    time_s = prefill.ttft_s + (w.output_tokens - 1) * tpot
    compute_s = (split_times_s(prefill, "compute/memory")[0]
                 + (w.output_tokens - 1) * split_times_s(decode, "compute/memory")[1])
    return {"tp": tp, "batch_sequences": samples * w.beams, "ttft_s": prefill.ttft_s, "tpot_s": tpot,
            "bound_tokens_per_s": samples * w.output_tokens / time_s / tp,
            "prefill_share": prefill.ttft_s / time_s, "compute_share": compute_s / time_s}


def load_rows(data: Path = DATA, progress: Progress = lambda _: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, left_out)``: the kept rows with their bound, and every other LLM row of the table with a reason
    (loader rejections included). Together they hold each LLM row of results.csv once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_mlperf_inference(data)
    rejected = loaded.rejected
    rejected = rejected[rejected.benchmark.astype(str).str.startswith(("gptj", "llama2"))]
    kept, left_out = select(loaded.records)
    rows = kept.copy()
    bounds: dict[tuple[str, str], dict[str, float]] = {}
    for key in sorted(set(zip(rows.network, rows.hardware))):
        progress(f"bound {key[0]} on {key[1]}")
        bounds[key] = bound_per_accelerator(*key)
        bounds[key]["bound_fp16_tokens_per_s"] = bound_per_accelerator(*key, weights=STATED_WEIGHTS)[
            "bound_tokens_per_s"]
        bounds[key].update(vidur_per_accelerator(*key))
    for column in ("tp", "batch_sequences", "ttft_s", "tpot_s", "bound_tokens_per_s", "prefill_share",
                   "compute_share", "bound_fp16_tokens_per_s", f"{VIDUR}_tokens_per_s", f"{VIDUR}_low_tokens_per_s",
                   f"{VIDUR}_high_tokens_per_s"):
        rows[column] = [bounds[(n, h)][column] for n, h in zip(rows.network, rows.hardware)]
    rows["measured_tokens_per_s"] = rows["throughput_fps"].astype(float)
    rows["family"] = [get_hardware(h).family for h in rows.hardware]
    rows["architecture"] = [architecture_of(f) for f in rows.family]
    rows["group"] = rows.hardware + " / " + rows.network
    rows["time_ratio"] = rows.bound_tokens_per_s / rows.measured_tokens_per_s
    bad = ~np.isfinite(rows.time_ratio) | (rows.n_accelerators % rows.tp != 0)
    left_out = pd.concat([rejected, left_out, rows[bad].assign(
        reason="no finite bound or accelerators not a multiple of the TP degree")], ignore_index=True)
    return rows[~bad].reset_index(drop=True), left_out


def _fit(train: pd.DataFrame, split: str, share: str) -> LLMCalibration:
    return fit_llm_calibration(train.time_ratio.tolist(), train[share].tolist(), train.family.tolist(),
                               train.group.tolist(), split=split,
                               source="MLPerf Inference v4.1 Offline LLM rows")


def predict_fold(train: pd.DataFrame, test: pd.DataFrame, scheme: str, fold: str) -> pd.DataFrame:
    """Predictions for ``test`` from predictors fitted on ``train`` (tokens/s per accelerator)."""
    out = test.copy()
    out["scheme"], out["fold"] = scheme, fold
    out["roofline"] = test.bound_tokens_per_s
    medians = train.groupby("network").measured_tokens_per_s.median()
    overall = float(train.measured_tokens_per_s.median())
    out["naive"] = [float(medians.get(n, overall)) for n in test.network]
    bound = test.bound_tokens_per_s.to_numpy()
    for name, (split, share) in CALIBRATED.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calibration = _fit(train, split, share)
            factors = [calibration.time_factor(f, s) for f, s in zip(test.family, test[share])]
        out[f"{name}_level"] = [f[0] for f in factors]
        out[name] = bound / np.array([f[1] for f in factors])
        out[f"{name}_low"] = bound / np.array([f[3] for f in factors])
        out[f"{name}_high"] = bound / np.array([f[2] for f in factors])
    out[VIDUR], out[f"{VIDUR}_level"] = test[f"{VIDUR}_tokens_per_s"], "Vidur operator model (not fitted on MLPerf)"
    out[f"{VIDUR}_low"], out[f"{VIDUR}_high"] = test[f"{VIDUR}_low_tokens_per_s"], test[f"{VIDUR}_high_tokens_per_s"]
    return out


def predict_held_out(rows: pd.DataFrame) -> pd.DataFrame:
    """All held-out predictions of the LOAO and LOMO schemes (module docstring)."""
    parts = []
    for column, scheme in (("hardware", "LOAO"), ("network", "LOMO")):
        for held in sorted(rows[column].unique()):
            test = rows[rows[column] == held]
            train = rows[rows[column] != held]
            if len(train):
                parts.append(predict_fold(train, test, scheme, f"-> {held}"))
    return pd.concat(parts, ignore_index=True)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def _metrics(part: pd.DataFrame, predictor: str) -> dict[str, float]:
    measured = part.measured_tokens_per_s.to_numpy()
    predicted = part[predictor].to_numpy()
    ape = 100 * np.abs(predicted / measured - 1)
    coverage = float("nan")
    if predictor in INTERVAL_PREDICTORS:
        inside = (part[f"{predictor}_low"] <= part.measured_tokens_per_s) & (
            part.measured_tokens_per_s <= part[f"{predictor}_high"])
        coverage = 100 * float(inside.mean())
    return {"n": len(part), "median_ape_pct": float(np.median(ape)), "within_10_pct": 100 * float((ape <= 10).mean()),
            "within_25_pct": 100 * float((ape <= 25).mean()), "spearman": _spearman(predicted, measured),
            "coverage_80_pct": coverage}


def results_from(rows: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """The summary table (:data:`COLUMNS`): per scheme and predictor, plus ``forward`` (n = 0) and the
    ``roofline@fp16`` check on all rows."""
    table = [{"scheme": "forward (earlier rounds -> v4.1)", "predictor": p, "n": 0, "median_ape_pct": math.nan,
              "within_10_pct": math.nan, "within_25_pct": math.nan, "spearman": math.nan,
              "coverage_80_pct": math.nan} for p in PREDICTORS]
    for scheme, part in predicted.groupby("scheme", sort=False):
        for predictor in PREDICTORS:
            table.append({"scheme": scheme, "predictor": predictor, **_metrics(part, predictor)})
    check = rows.assign(roofline=rows.bound_fp16_tokens_per_s)
    table.append({"scheme": "all rows, stated fp16", "predictor": "roofline@fp16", **_metrics(check, "roofline")})
    table.append({"scheme": "all rows, fp8", "predictor": "roofline",
                  **_metrics(rows.assign(roofline=rows.bound_tokens_per_s), "roofline")})
    return pd.DataFrame(table, columns=COLUMNS)


def accelerator_table(predicted: pd.DataFrame) -> pd.DataFrame:
    """Per scheme, held-out fold, accelerator and model: n, MdAPE of each predictor, coverage, measured/bound."""
    out = []
    for (scheme, fold, hardware, network), part in predicted.groupby(["scheme", "fold", "hardware", "network"],
                                                                      sort=False):
        row: dict[str, object] = {"scheme": scheme, "fold": fold, "accelerator": hardware, "model": network,
                                  "n": len(part), "tp": int(part.tp.iloc[0]),
                                  "batch": int(part.batch_sequences.iloc[0]),
                                  "measured_tokens_per_s": float(part.measured_tokens_per_s.median()),
                                  "bound_tokens_per_s": float(part.bound_tokens_per_s.iloc[0]),
                                  "efficiency": float((part.measured_tokens_per_s / part.bound_tokens_per_s).median()),
                                  "compute_share": float(part.compute_share.iloc[0]),
                                  "prefill_share": float(part.prefill_share.iloc[0])}
        for predictor in PREDICTORS:
            row[f"{predictor}_mdape_pct"] = _metrics(part, predictor)["median_ape_pct"]
        for name in INTERVAL_PREDICTORS:
            row[f"{name}_coverage_80_pct"] = _metrics(part, name)["coverage_80_pct"]
        row["level"] = str(part.calibrated_pd_level.iloc[0])
        out.append(row)
    return pd.DataFrame(out)


def accelerator_summary(predicted: pd.DataFrame) -> pd.DataFrame:
    """Per scheme and held-out accelerator (both models pooled): n and MdAPE of each predictor, coverages."""
    out = []
    for (scheme, hardware), part in predicted.groupby(["scheme", "hardware"], sort=False):
        row: dict[str, object] = {"scheme": scheme, "accelerator": hardware, "n": len(part)}
        for predictor in PREDICTORS:
            row[f"{predictor}_mdape_pct"] = _metrics(part, predictor)["median_ape_pct"]
        for name in INTERVAL_PREDICTORS:
            row[f"{name}_coverage_80_pct"] = _metrics(part, name)["coverage_80_pct"]
        out.append(row)
    return pd.DataFrame(out)


def in_sample_factors(rows: pd.DataFrame) -> pd.DataFrame:
    """Both splits fitted on every row: level, part, factor and the efficiency 1/factor (not a test)."""
    out = []
    for name, (split, share) in CALIBRATED.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calibration = _fit(rows, split, share)
        parts = split.split("/")
        levels = {"global": calibration.global_factors, **{f"architecture {a}": f for a, f in
                                                           calibration.architecture_factors.items()}}
        for level, factors in levels.items():
            for part, factor in zip(parts, factors):
                out.append({"predictor": name, "level": level, "part": part, "time_factor": factor,
                            "efficiency": 1 / factor, "sigma_log": calibration.sigma_log,
                            "groups": calibration.groups})
    return pd.DataFrame(out)


def _run(data: Path, progress: Progress
         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows, left_out = load_rows(data, progress)
    predicted = predict_held_out(rows)
    return (results_from(rows, predicted), accelerator_summary(predicted), accelerator_table(predicted), rows,
            left_out)


def results(progress: Progress = lambda _: None, data: Path = DATA) -> pd.DataFrame:
    """The summary table (:data:`COLUMNS`)."""
    return _run(data, progress)[0]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown(table: pd.DataFrame) -> str:
    """A pipe table."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


VERDICT = """Predictors: `roofline` is the bound (nothing fitted); `naive` the training rows' median tokens/s per
accelerator of the same model; `calibrated_cm` time factors on the compute-bound and the other (memory, interconnect)
parts of the bound time; `calibrated_pd` time factors on the prefill and the decode time (both fitted by
`rooflinekit.llm.calibration`, Hopper level shrunk to global, 80 % interval from the between-group spread or a prior
of 0.15 in logs when two groups leave none).

Choices made after seeing held-out numbers, in order:

1. Precision fp8 instead of the stated fp16: at fp16 the bound is below the measured tokens/s of every row
   (`roofline@fp16`; count above the table), so fp16 is not what ran.
2. The first calibrated predictor was one time factor per architecture on the whole run (LOAO MdAPE 22.9 %,
   coverage 100 %; LOMO 45.1 %, coverage 0 %). `calibrated_cm` replaced it and was scored next (LOAO 24.0 %,
   coverage 46 %); `calibrated_pd`, the per-phase split the issue suggested, was scored after that. Both are kept.
3. A fix, not a tuning: runs were first keyed by system name, which merged Google's and NVIDIA's `NVIDIA DGX H100`
   Llama-2-70B rows (28 rows then, 29 now).
4. The equal-factor ridge was tried at 1e-4 instead of the pre-set 0.01 (a synthetic test showed a 4 % pull); LOMO
   `calibrated_pd` then extrapolated to 230-390 % APE on GPT-J (training shares 0.44 and 0.45), so it was put back.
   The other constants (shrinkage 1 group, prior spread 0.15, batch, TP and length rules) were set before the first
   run and not changed.

Verdict on the factor calibrations fitted on these rows: neither ships. Across accelerators (LOAO)
`calibrated_pd` meets the 20 % target per accelerator, but it was picked after two other forms were seen, its
80 % interval covers every row (too wide to be informative here), and with one architecture, two accelerators and
two models all its folds rest on two training groups (an exact fit). Its factors are not physical either: fitted
on all rows (table above) the decode factor is below 1, i.e. decode faster than its bound, with the prefill at
about 3x its bound; the split absorbs errors of the workload model (mean lengths, beams that share the prompt's KV
pages, the harness batch) rather than measuring efficiencies, and nothing says those errors carry to other models. Across models (LOMO) every calibrated form
misses by 40-80 % with 0 % coverage: the efficiency of one model does not carry to another, and the split between
the two factors is not identifiable from one model. (The naive LOMO figure is low only because GPT-J at beam 4 and
Llama-2-70B happen to give similar tokens/s per H100.) No forward-in-time test is possible on this copy.
Sensitivity (run once, 2026-11-29, not used to choose anything): every mean length x 0.85 / x 1.15 gives LOAO
`calibrated_pd` 9.9 / 8.8 % (coverage 100 / 97 %) and LOMO 31.0 / 55.6 % (coverage 0 / 0 %): the conclusions do not
hinge on the approximate lengths.
"""


VIDUR_TARGET_PCT = 20.0
COVERAGE_RANGE_PCT = (70.0, 90.0)
VIDUR_NOTES = """What `calibrated_vidur` is and what its score rests on:

- It is the calibrated estimate `predict_llm(..., calibrated=True)` ships (`rooflinekit.llm.calibrated`): each GEMM,
  norm, activation, RoPE, add and embedding kernel priced by the operator model fitted on Vidur's A100 and A40
  kernels, attention at its roofline plus the fitted fixed cost (cycles at the device's clock), interconnect at its
  bound; 80 % interval from Vidur leave-one-GPU-out residuals of whole-layer sums. Nothing in it was fitted on
  MLPerf; the H100s are GPUs it has not seen (priced from their spec: peaks, bandwidth, SM count, clock).
- Choices made before this table was first computed, not changed after: unfused per-operator pricing (Vidur's
  vLLM-style kernels), the LM head priced as `mlp_up_proj`, the median fitted overhead per attention kernel, the
  two interval strata (<= 64 / > 64 tokens) and the low end clipped at the bound; the H100 SM counts (132 SXM5,
  114 PCIe, whitepaper) were added to the catalog for it. Inherited from the bound's costing (set earlier, see
  above): fp8 weights and KV cache (chosen after seeing the fp16 bound exceeded), mean lengths, largest batch that
  fits, TP rule.
- One fix after this table was first computed, found by reading a small model's per-layer table, not by these
  numbers: `up_proj`'s weights were counted twice (once inside the fused gate/up GEMM, once at the bound of the
  bound's separate `up_proj` kernel). The first run scored MdAPE 4.9 % (PCIe) / 4.6 % (SXM5), coverage 75 / 80 %;
  the fixed model is what the table shows (worse on Llama-2-70B, unchanged on GPT-J, which has no gate).
- Extrapolations the interval does not cover: fp8 (fitted on fp16 kernels; priced at the fp8 peak and bytes with the
  fitted shares), token counts beyond Vidur's 4,096 in the prefill, the attention kernels, TensorRT-LLM's fused
  kernels (the fit is on vLLM-style unfused ones), and the workload model itself.
- The interval is too narrow for a new GPU: it misses all 15 Llama-2-70B rows on the H100 SXM5 (prediction 14 %
  high, interval about -9 / +7 %), as the cross-GPU check of the interval method in the section above foretells
  (31-70 % coverage when one GPU's residuals are used for the other): each GPU's error is a systematic offset, and
  two GPUs give too few offsets to size it. Not widened here: any widening now would be chosen after seeing these
  rows.
- Few independent points: the 29 rows are 4 (accelerator, model) predictions, each compared with several
  submitters' systems; a coverage over 29 rows is really over 4 intervals and the spread of submissions around them.
  The Llama-2-70B row on H100 PCIe (one submission, at 45 % of its bound; the SXM5 Llama-2-70B rows reach 47-57 %,
  the GPT-J rows 79-86 %) is over-predicted by 60 %; the cause is not identified (TP 2 over PCIe is costed
  at the link's bound, and the submission's setup is not in the table).
"""


def vidur_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per accelerator and model: measured (median), bound and ``calibrated_vidur`` tokens/s with its interval,
    MdAPE and coverage (nothing fitted on these rows, so all rows are held out)."""
    out = []
    for (hardware, network), part in rows.groupby(["hardware", "network"], sort=True):
        view = part.assign(**{VIDUR: part[f"{VIDUR}_tokens_per_s"], f"{VIDUR}_low": part[f"{VIDUR}_low_tokens_per_s"],
                              f"{VIDUR}_high": part[f"{VIDUR}_high_tokens_per_s"]})
        metrics = _metrics(view, VIDUR)
        out.append({"accelerator": hardware, "model": network, "n": len(part),
                    "measured_tokens_per_s": float(part.measured_tokens_per_s.median()),
                    "bound_tokens_per_s": float(part.bound_tokens_per_s.iloc[0]),
                    f"{VIDUR}_tokens_per_s": float(view[VIDUR].iloc[0]),
                    "low_80": float(view[f"{VIDUR}_low"].iloc[0]), "high_80": float(view[f"{VIDUR}_high"].iloc[0]),
                    "mdape_pct": metrics["median_ape_pct"], "coverage_80_pct": metrics["coverage_80_pct"]})
    return pd.DataFrame(out)


def vidur_verdicts(rows: pd.DataFrame) -> list[str]:
    """Per accelerator (both models pooled): ``calibrated_vidur`` MdAPE against the 20 % target and coverage
    against 70-90 %."""
    low, high = COVERAGE_RANGE_PCT
    lines = []
    for hardware, part in rows.groupby("hardware", sort=True):
        view = part.assign(**{VIDUR: part[f"{VIDUR}_tokens_per_s"], f"{VIDUR}_low": part[f"{VIDUR}_low_tokens_per_s"],
                              f"{VIDUR}_high": part[f"{VIDUR}_high_tokens_per_s"]})
        m = _metrics(view, VIDUR)
        mdape, coverage = m["median_ape_pct"], m["coverage_80_pct"]
        lines.append(f"- {hardware} (n = {len(part)}): `calibrated_vidur` MdAPE {mdape:.1f} % (target <= "
                     f"{VIDUR_TARGET_PCT:.0f} %: " + ("met" if mdape <= VIDUR_TARGET_PCT else
                                                       f"missed by {mdape - VIDUR_TARGET_PCT:.1f} points")
                     + f"); 80 % interval coverage {coverage:.1f} % ("
                     + ("inside" if low <= coverage <= high else "outside") + f" {low:.0f}-{high:.0f} %).")
    return lines


def section(progress: Progress = lambda _: None, data: Path = DATA) -> str:
    """The RESULTS.md section (for ``benchmarks/llm/run.py``)."""
    summary, pooled, per_accelerator, rows, left_out = _run(data, progress)
    reasons = left_out.reason.value_counts()
    workloads = "\n".join(f"- `{k}`: {w.model}, prompt {w.prompt_tokens}, output {w.output_tokens}, beams {w.beams}"
                          f" ({w.source})" for k, w in WORKLOADS.items())
    return (
        "## MLPerf Inference LLM rows (GPT-J 6B, Llama-2-70B; Offline, tokens/s per accelerator)\n\n"
        "Regenerate: `python benchmarks/llm/mlperf_llm.py`. Workload, batch, TP and precision choices are in the "
        "module docstring. No LLM rows exist before v4.1 in the data, so forward in time has n = 0; the schemes "
        "scored are leave one accelerator out (LOAO) and leave one model out (LOMO). Fp8 costing was chosen after "
        "seeing the fp16 bound exceeded by measurements (`roofline@fp16`).\n\n"
        f"Rows used: {len(rows)}; measured above the fp16 bound: "
        f"{int((rows.measured_tokens_per_s > rows.bound_fp16_tokens_per_s).sum())} of them, above the fp8 bound: "
        f"{int((rows.measured_tokens_per_s > rows.bound_tokens_per_s).sum())}. Left out: {len(left_out)} ("
        + "; ".join(f"{n} x {r}" for r, n in reasons.items()) + ").\n\n" + workloads + "\n\n"
        + "\n" + markdown(summary) + "\n### Per held-out accelerator (both models pooled)\n\n" + markdown(pooled)
        + "\n### Per held-out accelerator and model\n\n" + markdown(per_accelerator)
        + "\n### Factors fitted on all rows (in-sample, for reading only)\n\n" + markdown(in_sample_factors(rows))
        + "\n" + VERDICT
        + "\n### `calibrated_vidur`: the shipped calibrated estimate, never fitted on these rows\n\n"
        + markdown(vidur_table(rows)) + "\n" + "\n".join(vidur_verdicts(rows)) + "\n\n" + VIDUR_NOTES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    summary, pooled, per_accelerator, rows, left_out = _run(args.data, lambda t: print(t, file=sys.stderr))
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary.to_string(index=False))
        print(pooled.to_string(index=False))
        print(per_accelerator.to_string(index=False))
        print(f"left out {len(left_out)}:", left_out.reason.value_counts().to_dict())
        print(VERDICT)
    print("\n".join(vidur_verdicts(rows)))
    loao = summary[(summary.scheme == "LOAO") & (summary.predictor == "calibrated_pd")].iloc[0]
    print(f"mlperf_llm LOAO calibrated_pd median_ape_pct={loao.median_ape_pct:.1f} "
          f"coverage_80_pct={loao.coverage_80_pct:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
