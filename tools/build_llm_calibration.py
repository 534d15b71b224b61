"""Build ``rooflinekit/calibrations/llm_operators.json``: the operator model behind ``predict_llm(calibrated=True)``.

    python tools/build_llm_calibration.py [--data ../shared/data/vidur]
                                          [--out rooflinekit/calibrations/llm_operators.json]

Steps (deterministic: the same data give the same file):

1. Vidur's per-operator records (:func:`rooflinekit.compare.loaders.vidur.load_vidur`; A100-SXM4-80GB and NVIDIA A40,
   fp16, Llama-2-7B / Llama-2-70B / CodeLlama-34B layers, 1-4,096 tokens, TP 1-8) as the kernel table of
   :func:`~rooflinekit.compare.loaders.vidur.vidur_kernels`, with each GPU's catalog spec columns.
2. :class:`~rooflinekit.compare.calibrate.operators.OperatorPredictor` fitted on **both** GPUs: the shipped
   parameters.
3. The **whole-layer interval**: the same model fitted on one GPU predicts the other (both directions); each
   layer's time (the sum of its ten operators, per model, TP and token count) gives a residual
   ``r = log(measured / predicted)``. Per token regime (``tokens <= 64``: decode-like, ``> 64``: prefill-like) the
   80 % interval is ``[exp(q_lo), exp(q_hi)]`` with q the 10 % / 90 % quantiles moved out by the split-conformal
   factor ``(n + 1) / n``. These are GPU-to-GPU residuals, the situation of a GPU that was not fitted.
4. The attention overhead: the median fitted fixed cost over the kinds (cycles), charged per attention kernel
   (the attention score/value kernels are not in Vidur; :mod:`rooflinekit.llm.calibrated`).

The stream kinds of :data:`~rooflinekit.compare.loaders.vidur.OVERLAPPED_KINDS` (the embedding gather's two
kernels) are fitted in the overlapped form (:mod:`rooflinekit.compare.calibrate.operators`).

The file is strict JSON (finite numbers only).
"""

from __future__ import annotations

import os

# one BLAS thread, set before numpy loads: threads split sums in an order that varies with the thread count, and
# only one order gives the same data the same bytes (with two threads the fitted factors moved in the last digits)
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_threads] = "1"

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "vidur"
OUT = ROOT / "rooflinekit" / "calibrations" / "llm_operators.json"
SMALL_TOKENS = 64
COVERAGE = 0.8
SCHEMA = "rooflinekit.llm_operators/2"


def _kernels(data: Path) -> pd.DataFrame:
    from rooflinekit.catalog import hardware_catalog
    from rooflinekit.compare.calibrate.operators import with_hardware
    from rooflinekit.compare.loaders.vidur import load_vidur, vidur_kernels

    loaded = load_vidur(data)
    table = vidur_kernels(loaded.records)
    catalog = hardware_catalog()
    return with_hardware(table, {name: catalog.get(name) for name in sorted(table["hardware"].unique())})


def _quantiles(residuals: np.ndarray) -> dict[str, float]:
    n = len(residuals)
    upper = min((1 + COVERAGE) / 2 * (n + 1) / n, 1.0)
    return {"q_lo": float(np.quantile(residuals, 1 - upper)), "q_hi": float(np.quantile(residuals, upper)),
            "n": n, "median_ape_pct": float(100 * np.median(np.abs(np.exp(-residuals) - 1)))}


def layer_residuals(table: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-GPU-out whole-layer residuals: per held-out GPU, model, TP and token count (all ten operators
    present), ``log(measured / predicted)`` of the layer sum."""
    from rooflinekit.compare.calibrate.operators import OperatorPredictor
    from rooflinekit.compare.loaders.vidur import OPERATORS, OVERLAPPED_KINDS

    parts = []
    for held in sorted(table["hardware"].unique()):
        train, test = table[table["hardware"] != held], table[table["hardware"] == held]
        model = OperatorPredictor(coverage=COVERAGE, overlapped=OVERLAPPED_KINDS).fit(train)
        parts.append(test.assign(predicted=model.predict(test))[
            ["hardware", "model", "tp", "num_tokens", "latency_s", "predicted"]])
    rows = pd.concat(parts)
    grouped = rows.groupby(["hardware", "model", "tp", "num_tokens"])
    sums = grouped[["latency_s", "predicted"]].sum()[grouped.size() == len(OPERATORS)].reset_index()
    return sums.assign(residual=np.log(sums["latency_s"] / sums["predicted"]))


def build(data: Path = DATA) -> dict[str, Any]:
    """The calibration file's content (module docstring)."""
    from rooflinekit.compare.calibrate.operators import OperatorPredictor
    from rooflinekit.compare.loaders.vidur import OVERLAPPED_KINDS

    table = _kernels(data)
    model = OperatorPredictor(coverage=COVERAGE, overlapped=OVERLAPPED_KINDS).fit(table)
    residuals = layer_residuals(table)
    small = residuals["num_tokens"] <= SMALL_TOKENS
    strata = {f"tokens<={SMALL_TOKENS}": _quantiles(residuals.loc[small, "residual"].to_numpy()),
              f"tokens>{SMALL_TOKENS}": _quantiles(residuals.loc[~small, "residual"].to_numpy()),
              "all": _quantiles(residuals["residual"].to_numpy())}
    overheads = model.params_["overhead_cycles"].to_numpy(float)
    return {
        "schema": SCHEMA,
        "built_by": "tools/build_llm_calibration.py",
        "source": "Vidur per-operator profiles (llm_op_profiles.csv.gz): Llama-2-7B, Llama-2-70B, CodeLlama-34B "
                  "layers, 1-4,096 tokens, tensor parallel 1-8",
        "hardware": sorted(table["hardware"].unique()),
        "precision": "fp16",
        "kernels": int(len(table)),
        "tokens": [int(table["num_tokens"].min()), int(table["num_tokens"].max())],
        "operator_model": model.to_json(),
        "attention_overhead_cycles": float(np.median(overheads)),
        "layer_interval": {"coverage": COVERAGE, "split_tokens": SMALL_TOKENS,
                           "basis": "leave-one-GPU-out residuals of whole-layer sums (A100 <-> A40, both "
                                    "directions pooled)",
                           "strata": strata},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    content = build(args.data)
    args.out.write_text(json.dumps(content, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {content['kernels']} kernels, layer interval "
          + ", ".join(f"{k} [{v['q_lo']:.3f}, {v['q_hi']:.3f}] n={v['n']}"
                      for k, v in content["layer_interval"]["strata"].items()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
