"""A calibrated LLM phase time: each kernel priced by the operator model fitted on Vidur's measured kernels.

``predict_llm(..., calibrated=True)`` prices one device's prefill and decode step kernel by kernel with the
:class:`~rooflinekit.compare.calibrate.operators.OperatorPredictor` shipped in
``rooflinekit/calibrations/llm_operators.json`` (built by ``tools/build_llm_calibration.py`` from
``../shared/data/vidur``: A100-SXM4-80GB and NVIDIA A40, fp16, 1-4,096 tokens, TP 1-8, fitted on both GPUs).

Kernels (per block; T tokens in the pass: ``B x P`` in the prefill, ``B`` in a decode step; E hidden, Q = heads x
head_dim, KV = kv_heads x head_dim, F the FFN width of the TP shard; b the base type's bytes)::

    layers of the network               Vidur kind                ops (1 MAC = 2)      DRAM bytes
    q_proj + k_proj + v_proj            attn_pre_proj   (GEMM)    counted              W + b T (E + Q + 2 KV)
    o_proj                              attn_post_proj  (GEMM)    counted              W + b T (Q + E)
    gate_proj + up_proj (or up_proj)    mlp_up_proj     (GEMM)    counted              W + b T (E + n)
    down_proj                           mlp_down_proj   (GEMM)    counted              W + b T (F + E)
    lm_head (not in Vidur)              mlp_up_proj as proxy      counted              W + b T_lm (E + V/tp)
    embed                               emb             (stream)  0                    b 2 T E + 8 T
                                        (emb_small_index at T <= 16: PyTorch's small-index gather kernel)
    attn_norm, final_norm / mlp_norm    input_ / post_attention_layernorm     4 T E    b (2 T E + E)
    attn_post_norm, mlp_post_norm       input_layernorm (Gemma-2's norms      4 T E    b (2 T E + E)
                                        of the attention and MLP outputs)
    rope                                attn_rope       (stream)  3 T (Q + KV)         2 b T (Q + KV)
    act (+ gate_mul)                    mlp_act         (stream)  5 T F (4 ungated)    b T F (2 or 1 + 1)
    *_residual                          add             (stream)  T E                  3 b T E

W is the layer's weight bytes as stored (the weight format's bytes, scales included), n its output width; each
Vidur kind is one kernel, as in the profiled vLLM-style stack (unfused, unlike the bound's fused chains).
**Attention** score/softmax/value kernels are not in Vidur: each is its roofline time (the bound's, growing with
the context) plus the median fitted fixed cost (``attention_overhead_cycles``, in cycles of the device's clock
like every fitted fixed cost). Any other layer (e.g. a learned position table) is priced the same way. Then per kernel ``k`` of the bound (:mod:`rooflinekit.llm.phases`)::

    t_cal,k(t) = max( t_bound,k(t),  sum_{rows r of k in a Vidur kind} t_op,r
                                     + [k has no row in a Vidur kind] (t_roof,k(t) + o_attention) )

so the calibrated time is **never below the bound** (the ``max`` binds only where the priced kernels would
undercut the bound's kernel: a bound kernel overhead above the fitted one, or a traffic model counting bytes the
Vidur-style kernels do not) and, with ``t_bound,k`` and ``t_roof,k`` affine
and non-decreasing in the context ``t``, a decode step never gets faster as the context grows. A row not in
Vidur that the bound fuses into a Vidur kernel (Gemma-2's final logit soft-capping after the LM head) runs inside
that kernel and is priced with it: adding the kernel's roofline would price its GEMM twice, once fitted and once
at the bound.

**Interval** (80 %): the phase time times ``[exp(q_lo), exp(q_hi)]``, with ``q`` the split-conformal quantiles of
Vidur's **leave-one-GPU-out** residuals ``log(measured / predicted)`` of whole-layer sums (one GPU fitted, the
other predicted from its spec; both directions pooled), in the stratum of the pass's token count (``<= 64``:
decode-like; ``> 64``: prefill-like). Whole-layer sums because a phase is a sum of layers, whose per-kernel errors
partly cancel (per-kernel intervals would not add up to an 80 % interval of the sum); GPU-to-GPU because every
GPU priced here other than the two fitted ones is one the model has not seen. The low end is clipped at the
bound. Not covered by those residuals: the attention kernels' error, the LM head, the interconnect (added as its
bound, not calibrated) and precisions other than fp16 -- the notes say which apply.

**Scope.** Fitted on fp16 (bf16 runs on the same tensor cores at the same peak: in scope). Other weight formats
(fp8, int8, int4) are priced by the same dimensionless shares at their own peak and bytes, with a
:class:`~rooflinekit.compare.calibrate.model.CalibrationWarning`: an extrapolation. A GPU whose spec lacks the SM
count (``compute_units``) or the clock cannot be priced (the model's wave quantization and per-SM term need them):
:class:`~rooflinekit.errors.CalibrationError`. Mixture-of-experts models (routed experts, not in Vidur) are
refused the same way.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.errors import CalibrationWarning
from rooflinekit.compare.calibrate.operators import GEMM, STREAM, OperatorPredictor, hardware_columns
from rooflinekit.descriptors import DType, HardwareSpec, LayerNetwork
from rooflinekit.display import grouped
from rooflinekit.errors import CalibrationError
from rooflinekit.llm.phases import KernelCosts, series_points
from rooflinekit.llm.precision import LLMPrecision
from rooflinekit.llm.result import CalibratedEstimate
from rooflinekit.networks.transformer import TransformerConfig, block_of
from rooflinekit.roofline import CountedNetwork, place

CALIBRATION_FILE = "llm_operators.json"
SCHEMA = "rooflinekit.llm_operators/2"
CALIBRATED_ESTIMATE = "calibrated"
FITTED_TYPES = (DType.FP16, DType.BF16)
"""Weight and base types the operator model was fitted at (bf16: same tensor-core peak as fp16)."""
ROOFLINE_KIND = "roofline+overhead"
"""Kind label of rows not in Vidur (attention score/softmax/value and the like)."""
LM_HEAD_PROXY = "mlp_up_proj"
"""Fitted GEMM kind the LM head is priced as (a wide weight-streaming GEMM like the fused gate/up projection)."""

_GEMM_PARTS = {"q_proj": "attn_pre_proj", "k_proj": "attn_pre_proj", "v_proj": "attn_pre_proj",
               "o_proj": "attn_post_proj", "gate_proj": "mlp_up_proj", "up_proj": "mlp_up_proj",
               "down_proj": "mlp_down_proj"}
_STREAM_PARTS = {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm", "rope": "attn_rope",
                 "attn_post_norm": "input_layernorm", "mlp_post_norm": "input_layernorm",
                 "act": "mlp_act", "gate_mul": "mlp_act", "attn_residual": "add", "mlp_residual": "add",
                 "residual": "add"}
_TOP_LEVEL = {"embed": "emb", "final_norm": "input_layernorm"}
ADD_BLOCK_ELEMENTS = 512
"""Elements per thread block of the elementwise add (as in the Vidur kernel table)."""
GATHER_THREADS = 128
"""Threads (one element each) per block of the embedding gather, PyTorch's ``index_select`` (as in the Vidur
kernel table)."""
GATHER_SMALL_INDEX = 16
"""Up to this many ids the gather runs ``ceil(E / 128)`` blocks looping over the ids (its own fitted kind,
:data:`GATHER_SMALL_KIND`), above it ``ceil(T E / 128)``."""
GATHER_SMALL_KIND = "emb_small_index"
"""Fitted kind of the small-index gather kernel (as in the Vidur kernel table)."""


@dataclass(frozen=True)
class LLMOperatorCalibration:
    """The shipped operator calibration (module docstring).

    Attributes
    ----------
    model : OperatorPredictor
        Fitted on both Vidur GPUs.
    attention_overhead_cycles : float
        Fixed cost charged per kernel not in Vidur (cycles; seconds on a device: :meth:`attention_overhead_s`).
    strata : dict
        ``{"tokens<=64" | "tokens>64": (q_lo, q_hi, n)}``: log-residual quantiles of whole-layer sums and their
        count.
    split_tokens : int
        Token count separating the two strata.
    coverage : float
        Nominal coverage of the interval (0.8).
    hardware : tuple of str
        GPUs fitted.
    source : str
        Where the records come from.
    basis : str
        What the interval's residuals are.
    """

    model: OperatorPredictor
    attention_overhead_cycles: float
    strata: dict[str, tuple[float, float, int]]
    split_tokens: int
    coverage: float
    hardware: tuple[str, ...]
    source: str
    basis: str

    def attention_overhead_s(self, clock_hz: float) -> float:
        """The fixed cost (s) of a kernel not in Vidur on a device clocked at ``clock_hz`` (Hz)."""
        return self.attention_overhead_cycles / clock_hz

    def stratum(self, tokens: int) -> str:
        """The interval stratum of a pass over ``tokens`` tokens (all sequences)."""
        return f"tokens<={self.split_tokens}" if tokens <= self.split_tokens else f"tokens>{self.split_tokens}"

    def interval_factors(self, tokens: int) -> tuple[float, float]:
        """``(exp(q_lo), exp(q_hi))`` of the stratum of ``tokens``."""
        q_lo, q_hi, _ = self.strata[self.stratum(tokens)]
        return math.exp(q_lo), math.exp(q_hi)


def calibration_from_dict(data: dict[str, Any]) -> LLMOperatorCalibration:
    """An :class:`LLMOperatorCalibration` from the JSON written by ``tools/build_llm_calibration.py``.

    Raises
    ------
    CalibrationError
        When the schema or a key is wrong.
    """
    if data.get("schema") != SCHEMA:
        raise CalibrationError(f"LLM operator calibration: schema {data.get('schema')!r}, expected {SCHEMA!r}; "
                               "rebuild it with tools/build_llm_calibration.py")
    try:
        interval = data["layer_interval"]
        strata = {str(k): (float(v["q_lo"]), float(v["q_hi"]), int(v["n"])) for k, v in interval["strata"].items()}
        return LLMOperatorCalibration(
            model=OperatorPredictor.from_json(data["operator_model"]),
            attention_overhead_cycles=float(data["attention_overhead_cycles"]), strata=strata,
            split_tokens=int(interval["split_tokens"]), coverage=float(interval["coverage"]),
            hardware=tuple(str(h) for h in data["hardware"]), source=str(data["source"]),
            basis=str(interval["basis"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"LLM operator calibration lacks or mistypes {exc!r}; rebuild it with "
                               "tools/build_llm_calibration.py") from exc


@lru_cache(maxsize=4)
def load_llm_calibration(path: str | None = None) -> LLMOperatorCalibration:
    """The shipped calibration (``rooflinekit/calibrations/llm_operators.json``) or the one at ``path``."""
    if path is None:
        text = (resources.files("rooflinekit") / "calibrations" / CALIBRATION_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return calibration_from_dict(json.loads(text))


def check_scope(cfg: TransformerConfig, device: HardwareSpec, precision: LLMPrecision,
                calibration: LLMOperatorCalibration) -> list[str]:
    """Refuse what cannot be priced; warn (and return notes) for what is priced outside the fitted range.

    Raises
    ------
    CalibrationError
        A GPU spec without ``compute_units`` or ``clock_hz``, or a mixture-of-experts model.

    Warns
    -----
    CalibrationWarning
        Weights or base type other than fp16 / bf16.
    """
    if cfg.experts:
        raise CalibrationError(f"{cfg.name}: routed experts are not in the Vidur kernels the LLM calibration was "
                               "fitted on; use the bound: drop --calibrated (calibrated=False in Python)")
    notes = device_notes(device, calibration)
    types = {precision.weights.weights, precision.base}
    if not types <= set(FITTED_TYPES) or (precision.weights.activations is not None
                                          and precision.weights.activations not in FITTED_TYPES):
        notes.insert(0, extrapolation_note(precision.label, calibration))
    return notes


def device_notes(device: HardwareSpec, calibration: LLMOperatorCalibration) -> list[str]:
    """Refuse a device the operator model cannot price; note one it was not fitted on.

    Raises
    ------
    CalibrationError
        A GPU spec without ``compute_units`` or ``clock_hz``.
    """
    hardware_columns(device, STREAM)  # raises CalibrationError without the SM count or clock
    if device.name in calibration.hardware:
        return []
    return [f"calibrated estimate: {device.name} was not fitted; the operator model transfers from its spec (peaks, "
            f"bandwidth, {device.compute_units} SMs, clock), interval from leave-one-GPU-out residuals"]


def extrapolation_note(label: str, calibration: LLMOperatorCalibration) -> str:
    """Warn (:class:`CalibrationWarning`) that kernels at ``label`` (not fp16 / bf16) are priced by extrapolation,
    and return the warning's text as a note."""
    text = (f"calibrated estimate extrapolated: fitted on fp16 kernels ({', '.join(calibration.hardware)}), priced "
            f"here at {label} with the same shares of peak and bandwidth; its interval was not measured at this "
            "precision")
    warnings.warn(text, CalibrationWarning, stacklevel=caller_stacklevel())
    return text


@dataclass(frozen=True, eq=False)
class RowPricing:
    """Operator-model times of a pass's rows.

    Attributes
    ----------
    time_s : (R,) ndarray
        Calibrated time of each Vidur-kind kernel on the first row of its group (s), 0 elsewhere.
    kind : (R,) ndarray of str
        The Vidur kind of each row (``"<kind> (LM head proxy)"`` for the LM head), or :data:`ROOFLINE_KIND`.
    absorbed : (R,) ndarray of bool
        Rows priced inside an earlier row's kernel (``k_proj`` and ``v_proj`` in the fused QKV GEMM, ``up_proj``
        after ``gate_proj``, ``gate_mul`` in SiLU-and-mul).
    """

    time_s: np.ndarray
    kind: np.ndarray
    absorbed: np.ndarray

    @property
    def roofline_rows(self) -> np.ndarray:
        """Rows priced by roofline plus overhead."""
        return np.asarray(self.kind == ROOFLINE_KIND, dtype=bool)


def price_rows(network: LayerNetwork, counted: CountedNetwork, shard: TransformerConfig, precision: LLMPrecision,
               device: HardwareSpec, batch: int, tokens: int, lm_tokens: int,
               calibration: LLMOperatorCalibration) -> RowPricing:
    """Price the Vidur-kind kernels of one pass (module docstring table).

    Parameters
    ----------
    network, counted : LayerNetwork, CountedNetwork
        The per-device pass and its counts (ops per sequence, weight bytes).
    shard : TransformerConfig
        The TP shard the network was built from.
    precision : LLMPrecision
        Weight format and base type.
    device : HardwareSpec
        One device (needs ``compute_units`` and ``clock_hz``).
    batch : int
        Sequences B (counted ops are per sequence).
    tokens : int
        Tokens in the pass, all sequences (``B x P`` or ``B``).
    lm_tokens : int
        Tokens the LM head runs on (``B``: the last position).
    calibration : LLMOperatorCalibration

    Returns
    -------
    RowPricing
    """
    b = precision.base.bits / 8
    e = float(shard.hidden)
    q = float(shard.heads * shard.head_dim)
    kv = float(shard.kv_heads * shard.head_dim)
    f = float(shard.ffn)
    t = float(tokens)
    stream_hw = hardware_columns(device, STREAM)
    peaks = place(counted, device).peak_ops_per_s
    ops = counted.ops * batch
    n_rows = len(network.layers)
    kinds = np.full(n_rows, ROOFLINE_KIND, dtype=object)
    absorbed = np.zeros(n_rows, dtype=bool)
    kernels: list[dict[str, float | str]] = []
    first_row: list[int] = []
    groups: dict[tuple[int | None, str], int] = {}
    for i, layer in enumerate(network.layers):
        part = layer.name.rsplit(".", 1)[-1]
        block = block_of(layer.name)
        if part in _GEMM_PARTS or layer.name == "lm_head":
            kind = LM_HEAD_PROXY if layer.name == "lm_head" else _GEMM_PARTS[part]
            m = float(lm_tokens if layer.name == "lm_head" else tokens)
            out_width, in_width = (float(x) for x in layer.weights[0].shape)
            key = (block, kind)
            kinds[i] = kind if layer.name != "lm_head" else f"{kind} (LM head proxy)"
            if key in groups and layer.name != "lm_head":
                absorbed[i] = True
                row = kernels[groups[key]]
                row["ops"] = float(row["ops"]) + float(ops[i])
                row["n"] = float(row["n"]) + out_width
                row["bytes"] = float(row["bytes"]) + float(counted.weight_bytes[i]) + b * m * out_width
                continue
            groups[key] = len(kernels)
            first_row.append(i)
            kernels.append({"kind": kind, "family": GEMM, "ops": float(ops[i]), "m": m, "n": out_width,
                            "k": in_width, "parallel_units": 0.0,
                            "bytes": float(counted.weight_bytes[i]) + b * m * (in_width + out_width),
                            "peak_ops_per_s": float(peaks[i])})
            continue
        kind_or_none = _STREAM_PARTS.get(part) if block is not None else _TOP_LEVEL.get(layer.name)
        if kind_or_none is None:
            continue
        kind = kind_or_none
        kinds[i] = kind
        if kind == "mlp_act" and (block, kind) in groups:
            absorbed[i] = True  # gate_mul is part of the SiLU-and-mul kernel
            continue
        groups[(block, kind)] = len(kernels)
        first_row.append(i)
        gate = 2.0 if shard.gated else 1.0
        small_index = t <= GATHER_SMALL_INDEX
        stream_cost = {
            "emb": (0.0, b * 2 * t * e + 8 * t, math.ceil((e if small_index else t * e) / GATHER_THREADS)),
            "input_layernorm": (4 * t * e, b * (2 * t * e + e), t),
            "post_attention_layernorm": (4 * t * e, b * (2 * t * e + e), t),
            "attn_rope": (3 * t * (q + kv), b * 2 * t * (q + kv), t),
            "mlp_act": ((5.0 if shard.gated else 4.0) * t * f, b * (gate * t * f + t * f), t),
            "add": (t * e, b * 3 * t * e, math.ceil(t * e / ADD_BLOCK_ELEMENTS)),
        }
        kernel_ops, moved, units = stream_cost[kind]
        priced = GATHER_SMALL_KIND if kind == "emb" and small_index else kind
        kernels.append({"kind": priced, "family": STREAM, "ops": kernel_ops, "bytes": moved, "m": t, "n": 0.0,
                        "k": 0.0, "parallel_units": float(units),
                        "peak_ops_per_s": stream_hw["peak_ops_per_s"]})
    time_s = np.zeros(n_rows)
    if kernels:
        table = pd.DataFrame(kernels)
        for column in ("bandwidth_bytes_per_s", "compute_units", "clock_hz"):
            table[column] = stream_hw[column]
        time_s[np.array(first_row)] = calibration.model.predict(table)
    return RowPricing(time_s=time_s, kind=kinds.astype(str), absorbed=absorbed)


@dataclass(frozen=True, eq=False)
class CalibratedPhase:
    """A phase's calibrated kernel times, affine pieces kept apart so that any KV length can be evaluated.

    Calibrated kernels are the bound's kernels, except that a bound kernel opening with a row absorbed into the
    kernel before it (``k_proj``, ``v_proj`` into the QKV GEMM; ``up_proj``, with the activation fused after it,
    into the gate/up GEMM) is merged into that one: its work is priced there, and its bound joins that kernel's
    bound.

    Attributes
    ----------
    costs : KernelCosts
        The bound's K kernels.
    group_starts : (N,) ndarray
        First bound kernel of each of the N calibrated kernels.
    fixed_s : (N,) ndarray
        Sum of the Vidur-kind rows' operator-model times per calibrated kernel (s; does not depend on the context).
    roofline : (N,) ndarray of bool
        Calibrated kernels priced as roofline plus overhead: those with no row in a Vidur kind (a row not in
        Vidur fused into a Vidur kernel is priced inside that kernel's fitted time).
    overhead_s : float
        Overhead charged on those kernels (s).
    pricing : RowPricing
        The per-row pricing.
    """

    costs: KernelCosts
    group_starts: np.ndarray
    fixed_s: np.ndarray
    roofline: np.ndarray
    overhead_s: float
    pricing: RowPricing

    def kernel_times(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated and bound time (s) of each calibrated kernel, both (N, C), at KV lengths ``t`` (C,)."""
        bound_k, _ = self.costs.kernel_times(t)
        bound = np.add.reduceat(bound_k, self.group_starts, axis=0)
        roof = bound - np.add.reduceat(self.costs.overhead_s, self.group_starts)[:, None]
        priced = self.fixed_s[:, None] + np.where(self.roofline[:, None], roof + self.overhead_s, 0.0)
        return np.maximum(bound, priced), bound

    def times(self, t: np.ndarray | list[float]) -> np.ndarray:
        """The phase's calibrated time (s) at each KV length in ``t``, in column chunks."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(len(t))
        step = max(1, (1 << 21) // max(1, len(self.costs.starts) * len(self.costs.bandwidth_bytes_per_s)))
        for start in range(0, len(t), step):
            part = slice(start, start + step)
            out[part] = self.kernel_times(t[part])[0].sum(axis=0)
        return out

    def step_sum(self, steps: range) -> float:
        """The phase's calibrated time summed over the KV lengths in ``steps`` (consecutive tokens), in closed
        form as :meth:`~rooflinekit.llm.phases.KernelCosts.step_sums`: a calibrated kernel's time
        ``max(bound, priced)`` is affine between the bound's breakpoints and the lengths where a kernel's bound
        crosses its fixed fitted time (found on each run between two breakpoints, where both are affine)."""
        base = self.costs.breakpoints()
        grid = np.sort(series_points(steps, base)[0])  # the bound is affine between neighbours holding whole steps
        if len(grid) > 1:
            _, bound = self.kernel_times(grid)
            gap = bound - self.fixed_s[:, None]  # a fitted kernel switches between bound and fitted time at 0
            before, after = gap[:, :-1], gap[:, 1:]
            switch = (before * after < 0) & ~self.roofline[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                where = grid[:-1] + before / (before - after) * np.diff(grid)
            base = np.concatenate((base, where[switch]))
        points, weights = series_points(steps, base)
        return float(self.times(points) @ weights)

    def layer_columns(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Per row at KV length ``t``: the calibrated kernel time on the calibrated kernel's first row (0 on the
        others, as the bound's ``time_s``) and the row's kind."""
        times = self.kernel_times(np.array([t]))[0][:, 0]
        out = np.zeros(len(self.pricing.kind))
        out[self.costs.starts[self.group_starts]] = times
        return out, self.pricing.kind


def calibrate_phase(costs: KernelCosts, pricing: RowPricing, calibration: LLMOperatorCalibration,
                    clock_hz: float) -> CalibratedPhase:
    """Group the rows' operator-model times by calibrated kernel (:class:`CalibratedPhase`); ``clock_hz`` (Hz) is
    the device's clock, which turns the attention kernels' fixed cost into seconds."""
    n = len(pricing.kind)
    kernel_of = np.repeat(np.arange(len(costs.starts)), np.diff(np.append(costs.starts, n)))
    merged = pricing.absorbed[costs.starts].copy()  # the kernel opens with a row priced in the kernel before it
    merged[0] = False
    group_starts = np.flatnonzero(~merged)
    group_of_kernel = np.cumsum(~merged) - 1
    group_of_row = group_of_kernel[kernel_of]
    fixed = np.bincount(group_of_row, weights=pricing.time_s, minlength=len(group_starts))
    others = np.bincount(group_of_row, weights=pricing.roofline_rows.astype(float), minlength=len(group_starts))
    fitted = np.bincount(group_of_row, weights=(pricing.time_s > 0).astype(float), minlength=len(group_starts))
    roofline = (others > 0) & (fitted == 0)
    return CalibratedPhase(costs, group_starts, fixed, roofline, calibration.attention_overhead_s(clock_hz), pricing)


@dataclass(frozen=True, eq=False)
class PhaseInputs:
    """One pass to price: its network, counts, bound kernels and token counts (see :func:`price_rows`)."""

    network: LayerNetwork
    counted: CountedNetwork
    costs: KernelCosts
    tokens: int
    lm_tokens: int


def calibrated_estimate(cfg: TransformerConfig, shard: TransformerConfig, device: HardwareSpec,
                        precision: LLMPrecision, batch: int, generate: int, devices: int, prefill: PhaseInputs,
                        decode: PhaseInputs, prefill_t: float, decode_t: range, context_t: float,
                        comm_prefill_s: float, comm_step_s: float, bound_ttft_s: float,
                        bound_tpot_s: float | None, calibration: LLMOperatorCalibration | None = None,
                        ) -> tuple[CalibratedEstimate, CalibratedPhase, CalibratedPhase]:
    """The calibrated estimate of a run (module docstring) and the two calibrated phases (for the layer table).

    Parameters
    ----------
    cfg, shard : TransformerConfig
        The model and one device's TP shard of it.
    device : HardwareSpec
        One device.
    precision : LLMPrecision
    batch, generate, devices : int
        B, G and ``tp x pp``.
    prefill, decode : PhaseInputs
        The prefill and a decode step.
    prefill_t : float
        KV length of the prefill (tokens).
    decode_t : range
        KV lengths of the G - 1 decode steps (consecutive tokens).
    context_t : float
        KV length of the step reported as ``tpot_at_context_s``.
    comm_prefill_s, comm_step_s : float
        Interconnect time of the prefill and of one step (s), added at their bound.
    bound_ttft_s, bound_tpot_s : float, float or None
        The bound's figures, the floor of the intervals.
    calibration : LLMOperatorCalibration, optional
        Default: the shipped one.

    Raises
    ------
    CalibrationError
        Out of scope (:func:`check_scope`).
    """
    cal = calibration if calibration is not None else load_llm_calibration()
    notes = check_scope(cfg, device, precision, cal)
    phases = []
    for inputs in (prefill, decode):
        pricing = price_rows(inputs.network, inputs.counted, shard, precision, device, batch, inputs.tokens,
                             inputs.lm_tokens, cal)
        phases.append(calibrate_phase(inputs.costs, pricing, cal, float(device.clock_hz or 0)))
    prefill_phase, decode_phase = phases
    kernels = (f"attention score/softmax/value kernels: roofline + {grouped(cal.attention_overhead_cycles, 3)} cycles "
               f"({cal.attention_overhead_s(float(device.clock_hz or 0)) * 1e6:.2g} us) fitted fixed cost each (not "
               "in Vidur); LM head priced as mlp_up_proj")
    estimate = phase_estimate(cal, device, batch, generate, devices, (prefill_phase, prefill.tokens, prefill_t),
                              (decode_phase, decode.tokens, decode_t), context_t, comm_prefill_s, comm_step_s,
                              bound_ttft_s, bound_tpot_s, kernels, notes)
    return estimate, prefill_phase, decode_phase


def phase_estimate(cal: LLMOperatorCalibration, device: HardwareSpec, batch: int, generate: int, devices: int,
                   prefill: tuple[CalibratedPhase, int, float], decode: tuple[CalibratedPhase, int, range],
                   context_t: float, comm_prefill_s: float, comm_step_s: float, bound_ttft_s: float,
                   bound_tpot_s: float | None, kernels: str, notes: list[str]) -> CalibratedEstimate:
    """The calibrated estimate of a run from its two calibrated phases (module docstring: times and interval).

    Parameters
    ----------
    cal : LLMOperatorCalibration
    device : HardwareSpec
        One device.
    batch, generate, devices : int
        B, G and ``tp x pp``.
    prefill : (CalibratedPhase, int, float)
        The prefill, its tokens (all sequences: ``B x P``) and its KV length.
    decode : (CalibratedPhase, int, range)
        A decode step, its tokens (``B``) and the KV lengths of the G - 1 steps (consecutive tokens).
    context_t : float
        KV length of the step reported as ``tpot_at_context_s``.
    comm_prefill_s, comm_step_s : float
        Interconnect time of the prefill and of one step (s), added at their bound.
    bound_ttft_s, bound_tpot_s : float, float or None
        The bound's figures, the floor of the intervals.
    kernels : str
        How the kernels outside the fitted kinds were priced (a line of ``calibration_levels``).
    notes : list of str
        Scope notes.

    Returns
    -------
    CalibratedEstimate
        ``ttft = t_prefill(P) + comm``, ``tpot`` the mean step ``+ comm``, each with the interval ``(max(bound,
        t x exp(q_lo) + comm), t x exp(q_hi) + comm)`` in its stratum (``ttft_interval_s``, ``tpot_interval_s``).
    """
    prefill_phase, prefill_tokens, prefill_t = prefill
    decode_phase, decode_tokens, decode_t = decode
    lo_p, hi_p = cal.interval_factors(prefill_tokens)
    lo_d, hi_d = cal.interval_factors(decode_tokens)
    ttft_core = float(prefill_phase.times([prefill_t])[0])
    ttft = ttft_core + comm_prefill_s
    ttft_low, ttft_high = max(bound_ttft_s, ttft_core * lo_p + comm_prefill_s), ttft_core * hi_p + comm_prefill_s
    at_context = float(decode_phase.times([context_t])[0]) + comm_step_s
    tpot: float | None = None
    tpot_interval: tuple[float, float] | None = None
    decode_total = decode_low = decode_high = 0.0
    n = len(decode_t)
    if n:
        core = decode_phase.step_sum(decode_t) / n
        tpot = core + comm_step_s
        tpot_interval = (max(bound_tpot_s or 0.0, core * lo_d + comm_step_s), core * hi_d + comm_step_s)
        decode_total, decode_low, decode_high = n * tpot, n * tpot_interval[0], n * tpot_interval[1]
    e2e, e2e_low, e2e_high = ttft + decode_total, ttft_low + decode_low, ttft_high + decode_high
    tokens = batch * generate
    fitted = device.name in cal.hardware
    levels = (
        f"operator model (OperatorPredictor) fitted on {', '.join(cal.hardware)} fp16 kernels ({cal.source})",
        f"hardware: {device.name} " + ("was fitted" if fitted else "not fitted: transferred from its spec"),
        kernels,
        f"interval: {cal.basis}; prefill stratum {cal.stratum(prefill_tokens)}, decode stratum "
        f"{cal.stratum(decode_tokens)}; low end clipped at the bound",
    )
    notes = [*notes, "calibrated interval does not measure the attention kernels' or the LM head's error; the "
                     "interconnect is added at its bound"]
    return CalibratedEstimate(
        ttft_s=ttft, ttft_interval_s=(ttft_low, ttft_high), tpot_s=tpot, tpot_interval_s=tpot_interval,
        tpot_at_context_s=at_context, e2e_latency_s=e2e, e2e_latency_interval_s=(e2e_low, e2e_high),
        output_tokens_per_s=tokens / e2e, output_tokens_per_s_interval=(tokens / e2e_high, tokens / e2e_low),
        output_tokens_per_s_per_device=tokens / e2e / devices,
        decode_tokens_per_s=None if tpot is None else batch / tpot, coverage=cal.coverage,
        calibration_levels=levels, notes=tuple(notes))
