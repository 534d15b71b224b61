"""The shipped LLM calibration (``predict_llm(..., calibrated=True)``) and a check of its whole-layer interval.

    python benchmarks/llm/calibrated_llm.py [--data ../shared/data/vidur]

The interval of the calibrated LLM estimate (``rooflinekit/calibrations/llm_operators.json``, built by
``tools/build_llm_calibration.py``) is made of Vidur's leave-one-GPU-out residuals of whole-layer sums, both
directions pooled, per token stratum. Those residuals are what it is fitted on, so its coverage on them is not a
test. The check here: the interval made of **one** direction's residuals (A100 -> A40) covers the **other**
direction's layers (A40 -> A100) how often, and the reverse -- the closest to "a third GPU" two GPUs allow.
``section(progress, data)`` gives the RESULTS.md section.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from rooflinekit.llm.calibrated import load_llm_calibration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT.parent / "shared" / "data" / "vidur"
COVERAGE = 0.8
SHORT = {"A100-SXM4-80GB": "A100", "NVIDIA A40": "A40"}
Progress = Callable[[str], None]


def _builder() -> object:
    spec = importlib.util.spec_from_file_location("build_llm_calibration", ROOT / "tools" / "build_llm_calibration.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(ROOT / "tools" / "build_llm_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _interval(residuals: np.ndarray) -> tuple[float, float]:
    n = len(residuals)
    upper = min((1 + COVERAGE) / 2 * (n + 1) / n, 1.0)
    return float(np.quantile(residuals, 1 - upper)), float(np.quantile(residuals, upper))


def cross_direction(residuals: pd.DataFrame, split_tokens: int) -> pd.DataFrame:
    """Per held-out GPU and token stratum: coverage of the interval built from the other GPU's residuals."""
    stratum = np.where(residuals["num_tokens"] <= split_tokens, f"<= {split_tokens}", f"> {split_tokens}")
    rows = []
    for held in sorted(residuals["hardware"].unique()):
        for name in sorted(set(stratum)):
            train = residuals[(residuals["hardware"] != held) & (stratum == name)]["residual"].to_numpy()
            test = residuals[(residuals["hardware"] == held) & (stratum == name)]["residual"].to_numpy()
            lo, hi = _interval(train)
            other = str(residuals.loc[residuals["hardware"] != held, "hardware"].iloc[0])
            rows.append({"interval from": f"{SHORT.get(other, other)} held out", "tested on":
                         f"{SHORT.get(held, held)} held out", "tokens": name,
                         "n": len(test), "q_lo": lo, "q_hi": hi,
                         "layer_mdape_pct": float(100 * np.median(np.abs(np.exp(-test) - 1))),
                         "coverage_80_pct": float(100 * np.mean((test >= lo) & (test <= hi)))})
    return pd.DataFrame(rows)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def markdown(table: pd.DataFrame) -> str:
    """A pipe table."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def section(progress: Progress = lambda _: None, data: Path = DATA) -> str:
    """The RESULTS.md section."""
    calibration = load_llm_calibration()
    builder = _builder()
    progress("calibrated LLM: leave-one-GPU-out layer residuals")
    residuals = builder.layer_residuals(builder._kernels(data))  # type: ignore[attr-defined]
    shipped = pd.DataFrame([{"stratum": k, "n": v[2], "q_lo": v[0], "q_hi": v[1], "low_factor": float(np.exp(v[0])),
                             "high_factor": float(np.exp(v[1]))} for k, v in calibration.strata.items()])
    check = cross_direction(residuals, calibration.split_tokens)
    low, high = 70.0, 90.0
    lines = [f"- {r['tested on']}, tokens {r['tokens']}: coverage {r['coverage_80_pct']:.1f} % ("
             + ("inside" if low <= r["coverage_80_pct"] <= high else "outside") + f" {low:.0f}-{high:.0f} %)"
             for r in check.to_dict("records")]
    return (
        "## Calibrated LLM estimate (`predict_llm(..., calibrated=True)`): the shipped calibration\n\n"
        f"Operator model fitted on {', '.join(calibration.hardware)} ({calibration.source}); interval: "
        f"{calibration.basis}. Attention kernels: roofline + {calibration.attention_overhead_cycles:.0f} cycles "
        "each (median fitted fixed cost; seconds = cycles / the device's clock). Rebuild: "
        "`python tools/build_llm_calibration.py`.\n\n"
        "Shipped interval strata (log-residual quantiles of whole-layer sums; time x [low_factor, high_factor]):\n\n"
        + markdown(shipped)
        + "\nCheck of the interval method across GPUs: interval built from one direction's layer residuals, "
          "coverage on the other direction's layers (the shipped interval pools both, so this is the closest "
          "test of how it carries to a third GPU):\n\n"
        + markdown(check) + "\n" + "\n".join(lines) + "\n\n"
        "The whole-layer MdAPE of leave-one-GPU-out is in the Vidur section (`vidur LOGO layer`); the MLPerf "
        "section scores the whole estimate on H100s (`calibrated_vidur`).\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    print(section(lambda t: print(t, file=sys.stderr), args.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
