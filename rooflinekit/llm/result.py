"""The result of an LLM inference prediction: phases, tokens per second, memory.

A calibrated estimate (:class:`CalibratedEstimate`) uses the names of a calibrated ``Prediction``: ``estimate``
(``calibrated``), each figure under the bound's name (``ttft_s``, ...), ``calibration_levels``, and each interval
one ``<quantity>_interval`` field holding ``(low, high)`` with the quantity's unit suffix after it
(``ttft_interval_s``; ``output_tokens_per_s_interval``, whose unit is in its quantity). A table row splits an
interval into the two columns of :func:`rooflinekit.output.interval_columns` (:func:`split_intervals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import pandas as pd

from rooflinekit.display import grouped
from rooflinekit.llm.memory import MemoryBudget, size_text
from rooflinekit.output import split_interval
from rooflinekit.output import to_json_value

BOUND_ESTIMATE = "bound"
INTERVALS = ("ttft_interval_s", "tpot_interval_s", "e2e_latency_interval_s", "output_tokens_per_s_interval")
"""The intervals of a :class:`CalibratedEstimate`, each ``(low, high)`` (s; tokens/s for the rate)."""


def _time_text(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def split_intervals(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``record`` (one table row) with each interval of :data:`INTERVALS`, keyed ``prefix + name``, as its two
    :func:`rooflinekit.output.interval_columns` in its place: ``[low, high]`` as the two ends, None as None in both.

    Parameters
    ----------
    record : Mapping
        A flat row (``calibrated.ttft_interval_s`` when flattened from an :class:`LLMResult`'s dict).
    prefix : str
        Put before every interval's name (``calibrated.``).

    Returns
    -------
    dict
        The row, other keys unchanged and in order.
    """
    out = dict(record)
    for name in INTERVALS:
        out = split_interval(out, prefix + name)
    return out


@dataclass(frozen=True)
class CalibratedEstimate:
    """The calibrated counterpart of an :class:`LLMResult`'s bound figures (:mod:`rooflinekit.llm.calibrated`).

    Each ``*_interval*`` field is ``(low, high)``, the 80 % interval (``coverage``) of the figure before it; times
    in s, rates in tokens/s. The interconnect time is added at its bound (not calibrated).

    Attributes
    ----------
    ttft_s : float
        Time to first token (the prefill).
    ttft_interval_s : (float, float)
        Its interval.
    tpot_s : float or None
        Mean time per output token after the first; None when G = 1.
    tpot_interval_s : (float, float) or None
        Its interval; None when G = 1.
    tpot_at_context_s : float
        The decode step at the result's ``context_tokens``.
    e2e_latency_s : float
        ``ttft + (G - 1) tpot``.
    e2e_latency_interval_s : (float, float)
        ``(ttft_low + (G - 1) tpot_low, ttft_high + (G - 1) tpot_high)``: the phases' errors are taken as fully
        correlated (a GPU's error is systematic, so both phases move together).
    output_tokens_per_s : float
        ``B G / e2e``.
    output_tokens_per_s_interval : (float, float)
        ``(B G / e2e_high, B G / e2e_low)``.
    output_tokens_per_s_per_device : float
        ``B G / e2e / devices``.
    decode_tokens_per_s : float or None
        ``B / tpot_s``.
    coverage : float
        Nominal coverage of the intervals (0.8).
    calibration_levels : tuple of str
        What was used: the operator model and the GPUs it was fitted on, whether this GPU was fitted or transferred
        from its spec, the attention pricing, the interval's basis and strata.
    notes : tuple of str
        Extrapolations and what the interval does not cover.
    estimate : str
        ``calibrated``.
    """

    ttft_s: float
    ttft_interval_s: tuple[float, float]
    tpot_s: float | None
    tpot_interval_s: tuple[float, float] | None
    tpot_at_context_s: float
    e2e_latency_s: float
    e2e_latency_interval_s: tuple[float, float]
    output_tokens_per_s: float
    output_tokens_per_s_interval: tuple[float, float]
    output_tokens_per_s_per_device: float
    decode_tokens_per_s: float | None
    coverage: float
    calibration_levels: tuple[str, ...]
    notes: tuple[str, ...] = ()
    estimate: str = "calibrated"

    def to_dict(self) -> dict[str, object]:
        """Every field as strict JSON data: tuples (intervals, levels, notes) as lists, a missing interval and a
        non-finite number as None."""
        return {f.name: to_json_value(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class LLMResult:
    """Prefill and decode of ``batch`` sequences of ``prompt_tokens`` + ``generate_tokens`` on ``devices`` devices.

    Phases (vLLM's metric definitions): the prefill of the prompt gives the first output token, so
    ``ttft_s`` = prefill time; the other ``G - 1`` tokens come from decode steps at contexts ``P + 1 .. P + G - 1``
    (the cache holds the prompt and the tokens generated so far, the new one included).

    Attributes
    ----------
    model, hardware : str
        Names.
    precision : str
        Weight format, base type and KV type.
    batch, prompt_tokens, generate_tokens : int
        B, P and G.
    tp, pp, devices : int
        Tensor-parallel degree, pipeline stages, ``tp * pp``.
    traffic : str
        Memory-traffic model.
    estimate : str
        ``bound``: the top-level figures are a datasheet roofline, which real stacks reach only in part; the
        calibrated figures, when asked for, are in ``calibrated``.
    ttft_s : float
        Time to first token: the prefill (s).
    prefill_bound : str
        What limits the prefill: ``compute``, ``memory:<level>`` or ``interconnect`` (the largest share of its
        time).
    tpot_s : float or None
        Time per output token after the first, the mean of the decode steps (s); None when G = 1.
    decode_bound : str
        What limits the decode steps (all of them, or the step at ``context_tokens`` when G = 1).
    tpot_at_context_s : float
        Time of the decode step whose cache holds ``context_tokens`` tokens (s).
    context_tokens : int
        That context (default P + G).
    e2e_latency_s : float
        ``ttft_s + (G - 1) tpot_s`` (s).
    output_tokens_per_s : float
        ``B G / e2e_latency_s``, all sequences together.
    output_tokens_per_s_per_sequence : float
        ``G / e2e_latency_s``.
    output_tokens_per_s_per_device : float
        ``B G / e2e_latency_s / devices``.
    decode_tokens_per_s : float or None
        ``B / tpot_s``: the generation rate once the prompt is processed, all sequences.
    decode_tokens_per_s_per_sequence : float or None
        ``1 / tpot_s``.
    prefill_tokens_per_s : float
        ``B P / ttft_s``.
    prefill_interconnect_s, decode_interconnect_s : float
        Communication in the prefill and in one decode step (s; 0 on one device).
    memory : MemoryBudget
        Memory per device, fit, largest batch and context.
    notes : tuple of str
        Assumptions taken and misfits.
    layers : pandas.DataFrame or None
        One device's layers in the prefill and in the decode step at ``context_tokens``: phase, name, op, stage,
        ops and bytes per batch, time_s, bound; with ``calibrated``, also ``calibrated_time_s`` (on a kernel's
        first row, as ``time_s``) and ``calibrated_kind`` (the Vidur kind priced, or ``roofline+overhead``).
    calibrated : CalibratedEstimate or None
        The calibrated estimate with its 80 % interval (``predict_llm(..., calibrated=True)``), None otherwise;
        the top-level times stay the bound.
    """

    model: str
    hardware: str
    precision: str
    batch: int
    prompt_tokens: int
    generate_tokens: int
    tp: int
    pp: int
    devices: int
    traffic: str
    ttft_s: float
    prefill_bound: str
    tpot_s: float | None
    decode_bound: str
    tpot_at_context_s: float
    context_tokens: int
    e2e_latency_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_sequence: float
    output_tokens_per_s_per_device: float
    decode_tokens_per_s: float | None
    decode_tokens_per_s_per_sequence: float | None
    prefill_tokens_per_s: float
    prefill_interconnect_s: float
    decode_interconnect_s: float
    memory: MemoryBudget
    estimate: str = BOUND_ESTIMATE
    notes: tuple[str, ...] = ()
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    calibrated: CalibratedEstimate | None = None

    @property
    def fits(self) -> bool:
        """Whether every device's memory holds its weights, KV cache and activations."""
        return self.memory.fits

    def to_dict(self) -> dict[str, object]:
        """Every field but ``layers``; ``memory`` as a nested dict, ``notes`` as a list (strict-JSON safe: no
        NaN or infinity, None where a figure does not exist)."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "layers":
                continue
            value = getattr(self, f.name)
            if isinstance(value, (MemoryBudget, CalibratedEstimate)):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            out[f.name] = value
        out["fits"] = self.fits
        return out

    def summary(self) -> str:
        """A few readable lines: the setting, the phases with their bounds, the rates and the memory."""
        m = self.memory
        par = f" on {self.devices} devices (TP {self.tp} x PP {self.pp})" if self.devices > 1 else ""
        tpot = ("n/a (one output token: no decode step)" if self.tpot_s is None else
                f"{_time_text(self.tpot_s)}  {self.decode_bound}-bound, mean of "
                f"{grouped(self.generate_tokens - 1)} steps")
        rates = f"{grouped(self.output_tokens_per_s)} output tokens/s in all " \
                f"({grouped(self.output_tokens_per_s_per_sequence)} per sequence, " \
                f"{grouped(self.output_tokens_per_s_per_device)} per device)"
        decode = "n/a" if self.decode_tokens_per_s is None or self.decode_tokens_per_s_per_sequence is None else (
            f"{grouped(self.decode_tokens_per_s)} tokens/s in all, "
            f"{grouped(self.decode_tokens_per_s_per_sequence)} per sequence")
        context = "unlimited" if m.max_context_tokens is None else f"{grouped(m.max_context_tokens)} tokens"
        window = " (the model's context window)" if m.max_context_tokens and \
            m.max_context_tokens == m.context_window else ""
        if m.max_context_tokens is None:
            window = " (the KV cache stops growing at the sliding window; the config gives no context window)"
        lines = [
            f"{self.model} on {self.hardware}{par}: batch {grouped(self.batch)}, prompt "
            f"{grouped(self.prompt_tokens)}, generate {grouped(self.generate_tokens)}; {self.precision}",
            "roofline bound (datasheet peaks and bandwidths; real stacks reach a fraction of it)",
            f"  time to first token  {_time_text(self.ttft_s)}  {self.prefill_bound}-bound",
            f"  time per token       {tpot}",
            f"  at context {grouped(self.context_tokens):<9} {_time_text(self.tpot_at_context_s)} per step",
            f"  end-to-end           {_time_text(self.e2e_latency_s)}",
            f"  tokens/s             {rates}",
            f"  decode rate          {decode}",
            f"  memory per device    {m}",
            f"  largest batch        {grouped(m.max_batch)} at context {grouped(m.context_tokens)}; largest "
            f"context {context} at batch {grouped(self.batch)}{window}",
        ]
        return "\n".join(lines + self._calibrated_lines())

    def _calibrated_lines(self) -> list[str]:
        """The bound and calibrated figures side by side (empty without a calibrated estimate)."""
        c = self.calibrated
        if c is None:
            return []
        pct = f"{c.coverage:.0%}"

        def row(label: str, bound: float | None, value: float | None, interval: tuple[float, float] | None,
                rate: bool = False) -> str:
            text = grouped if rate else _time_text
            low, high = (None, None) if interval is None else interval
            return f"  {label:<20} {text(bound):>12}  {text(value):>12}  [{text(low)}, {text(high)}]"

        return [
            f"calibrated estimate (operator model fitted on Vidur kernels; {pct} interval):",
            f"  {'':<20} {'bound':>12}  {'calibrated':>12}  {pct} interval",
            row("time to first token", self.ttft_s, c.ttft_s, c.ttft_interval_s),
            row("time per token", self.tpot_s, c.tpot_s, c.tpot_interval_s),
            row("end-to-end", self.e2e_latency_s, c.e2e_latency_s, c.e2e_latency_interval_s),
            row("output tokens/s", self.output_tokens_per_s, c.output_tokens_per_s, c.output_tokens_per_s_interval,
                rate=True),
            *(f"  level: {level}" for level in c.calibration_levels),
        ]

    def __repr__(self) -> str:
        """Two short lines: the setting and the headline figures."""
        par = f"TP {self.tp} x PP {self.pp}, " if self.devices > 1 else ""
        tpot = "" if self.tpot_s is None else f", TPOT {_time_text(self.tpot_s)} ({self.decode_bound})"
        rate = ("" if self.decode_tokens_per_s_per_sequence is None else
                f", {grouped(self.decode_tokens_per_s_per_sequence)} tokens/s per sequence in decode")
        return (f"LLMResult({self.model} on {self.hardware}, {par}batch {grouped(self.batch)}, prompt "
                f"{grouped(self.prompt_tokens)}, generate {grouped(self.generate_tokens)}, {self.precision}:\n"
                f"  roofline bound: TTFT {_time_text(self.ttft_s)} ({self.prefill_bound}){tpot}{rate}, "
                f"end-to-end {_time_text(self.e2e_latency_s)}, {grouped(self.output_tokens_per_s)} output tokens/s; "
                f"memory {size_text(self.memory.total_bytes)} of {size_text(self.memory.capacity_bytes)} per "
                f"device, {'fits' if self.fits else 'does NOT fit'}{self._calibrated_repr()})")

    def _calibrated_repr(self) -> str:
        c = self.calibrated
        if c is None:
            return ""
        tpot = "" if c.tpot_s is None or c.tpot_interval_s is None else (
            f", TPOT {_time_text(c.tpot_s)} [{_time_text(c.tpot_interval_s[0])}, "
            f"{_time_text(c.tpot_interval_s[1])}]")
        (ttft_low, ttft_high), (rate_low, rate_high) = c.ttft_interval_s, c.output_tokens_per_s_interval
        return (f";\n  calibrated ({c.coverage:.0%} interval): TTFT {_time_text(c.ttft_s)} "
                f"[{_time_text(ttft_low)}, {_time_text(ttft_high)}]{tpot}, "
                f"{grouped(c.output_tokens_per_s)} output tokens/s [{grouped(rate_low)}, {grouped(rate_high)}]")
