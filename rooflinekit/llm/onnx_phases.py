"""Prefill and decode of an ONNX decoder export with past-key/value inputs, through the phase machinery.

``predict_llm("decoder.onnx", ...)`` lands here. The file's cache inputs are recognized and bound per phase
(:mod:`rooflinekit.llm.kv_inputs`: the recognition rule), imported as KV-cache state, and costed by
:func:`~rooflinekit.llm.phases.kernel_costs`, with the past length ``p`` (cached tokens read) as the KV length:

- every cost is affine in ``p``, so each phase is imported at ``p = 1`` and ``p = 2`` (the importer takes no
  empty input) and evaluated anywhere: the **prefill** (``sequence = P``) at ``p = 0``, the **decode step** at
  context ``T`` (``sequence = 1``, the new token included in ``T``) at ``p = T - 1``;
- the new tokens' K and V are written into the cache by the layers reading it: ``S x`` the per-token bytes of
  each cache tensor (the slope of its state bytes);
- tensor and pipeline parallelism as read from the graph's data flow (:mod:`rooflinekit.llm.onnx_parallel`): one
  device's share of every row, and the all-reduces, all-gathers and stage hand-overs of each pass added at the
  link's bound (:mod:`rooflinekit.llm.parallel`), the stages one after another::

      t_prefill = sum_k max(ops_k / peak_k, bytes_k / bandwidth)  (one device's share, P new tokens, past 0)
                  + sum_{all-reduced rows} allreduce(out bytes) + sum_{gathered} allgather(out bytes)
                  + sum_{stage ends} p2p(out bytes)

- the file's own types unless ``base`` re-types the graph; memory per device (the most loaded stage) is the
  weights, the cache at the full context and the largest prefill layer's activations per sequence;
- with ``calibrated``, the calibrated estimate and its interval (:mod:`rooflinekit.llm.onnx_calibrated`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rooflinekit.descriptors import DType, HardwareSpec, LayerNetwork
from rooflinekit.display import grouped
from rooflinekit.llm.kv_inputs import DecoderInputs, decoder_inputs, load_decoder
from rooflinekit.llm.memory import MemoryBudget, memory_budget
from rooflinekit.llm.onnx_parallel import (
    COLUMN, ROW, GraphSplit, check_onnx_parallelism, communication_s, graph_split, shard_counted, stage_of_rows,
)
from rooflinekit.llm.parallel import Parallelism, check_devices, devices_remedy
from rooflinekit.llm.phases import KernelCosts, kernel_costs
from rooflinekit.llm.result import CalibratedEstimate, LLMResult
from rooflinekit.roofline import CountedNetwork, MemoryLayout, TrafficModel, place

PASTS = (1, 2)
"""The two past lengths each phase is imported at (tokens)."""


@dataclass(frozen=True)
class OnnxOptions:
    """What :func:`predict_onnx_decoder` is asked beyond the run's sizes.

    Attributes
    ----------
    base : str or DType, optional
        A type every tensor is counted at; None: the file's own.
    parallelism : Parallelism
        TP and PP degrees.
    heads, kv_heads : int, optional
        Query and KV heads where the graph does not show them (:mod:`rooflinekit.llm.onnx_parallel`).
    calibrated : bool
        Also give the calibrated estimate.
    """

    base: str | DType | None = None
    parallelism: Parallelism = Parallelism()
    heads: int | None = None
    kv_heads: int | None = None
    calibrated: bool = False


@dataclass(frozen=True, eq=False)
class OnnxPhase:
    """One phase of the decoder, imported at the two past lengths of :data:`PASTS`.

    Attributes
    ----------
    network : LayerNetwork
        The whole pass at past ``PASTS[0]`` (the file's shapes).
    whole : CountedNetwork
        Its counts (all devices' work together).
    device_a, device_b : CountedNetwork
        One device's share at past ``PASTS[0]`` and ``PASTS[1]``.
    split : GraphSplit
        The pass's tensor-parallel split.
    stage : (R,) ndarray
        Pipeline stage of each row.
    blocks : int
        Blocks of the decoder (0 when unknown and not needed).
    """

    network: LayerNetwork
    whole: CountedNetwork
    device_a: CountedNetwork
    device_b: CountedNetwork
    split: GraphSplit
    stage: np.ndarray
    blocks: int


def onnx_phase(inputs: DecoderInputs, batch: int, sequence: int, precision: str | None,
               options: OnnxOptions) -> OnnxPhase:
    """Import, split and count one phase (``sequence`` new tokens per sequence) at both past lengths.

    Raises
    ------
    SpecError
        A split the graph does not show or cannot take (:func:`~rooflinekit.llm.onnx_parallel.
        check_onnx_parallelism`).
    """
    parallelism = options.parallelism
    networks = [load_decoder(inputs, batch, sequence, p) for p in PASTS]
    whole = [CountedNetwork.of(network, precision) for network in networks]
    split = graph_split(networks[0])
    blocks = check_onnx_parallelism(inputs.path.name, split, inputs, parallelism, options.heads, options.kv_heads)
    device_a, device_b = (shard_counted(c, n, split, parallelism.tp) for c, n in zip(whole, networks))
    return OnnxPhase(networks[0], whole[0], device_a, device_b, split, stage_of_rows(split, blocks, parallelism.pp),
                     blocks)


def predict_onnx_decoder(path: Path, device: HardwareSpec, batch: int, prompt: int, generate: int, context: int,
                         traffic: TrafficModel, options: OnnxOptions) -> LLMResult:
    """The :class:`LLMResult` of the decoder at ``path`` (arguments checked by
    :func:`~rooflinekit.llm.predict_llm`).

    Parameters
    ----------
    path : Path
        The ``.onnx`` decoder export.
    device : HardwareSpec
        One device (with an ``interconnect`` for several).
    batch, prompt, generate : int
        B, P and G.
    context : int
        Context of ``tpot_at_context_s``.
    traffic : TrafficModel
        A row-separable traffic model.
    options : OnnxOptions
        Type, parallelism, heads and the calibrated estimate.

    Returns
    -------
    LLMResult

    Raises
    ------
    SpecError
        The file has no past-key/value inputs, the traffic model is not row-separable, or the split asked for is
        not shown by the graph or not possible (:mod:`rooflinekit.llm.onnx_parallel`).
    CalibrationError
        With ``calibrated``: a GPU spec without ``compute_units`` or clock.
    ShapeError, ModelFileError
        From the importer.
    """
    from rooflinekit.llm.predict import _bound, decode_times

    parallelism = options.parallelism
    check_devices(device, parallelism)
    inputs = decoder_inputs(path)
    base = options.base
    precision = None if base is None else (base.value if isinstance(base, DType) else str(base))
    pre = onnx_phase(inputs, batch, prompt, precision, options)
    dec = pre if prompt == 1 else onnx_phase(inputs, batch, 1, precision, options)
    per_token = (dec.device_b.state_bytes - dec.device_a.state_bytes) / (PASTS[1] - PASTS[0])  # (R,) per sequence
    by_name = dict(zip(dec.device_a.layers["name"], per_token))
    writes_prefill = prompt * np.array([by_name.get(name, 0.0) for name in pre.device_a.layers["name"]])
    prefill_costs = kernel_costs(pre.device_a, device, traffic, batch, writes_prefill, pre.stage, t_a=PASTS[0],
                                 counted_b=pre.device_b, kv_write_bytes_b=writes_prefill, t_b=PASTS[1])
    decode_costs = kernel_costs(dec.device_a, device, traffic, batch, per_token, dec.stage, t_a=PASTS[0],
                                counted_b=dec.device_b, kv_write_bytes_b=per_token, t_b=PASTS[1])
    comm_prefill = communication_s(pre.whole, pre.split, pre.stage, device, parallelism)
    comm_step = communication_s(dec.whole, dec.split, dec.stage, device, parallelism)
    full = prompt + generate
    prefill = prefill_costs.times([0.0])
    pasts = range(prompt, full - 1)  # the decode steps at contexts P + 1 .. P + G - 1 read past P .. P + G - 2
    decode = decode_times(decode_costs, pasts, float(context - 1), comm_step)
    ttft = float(prefill.time_s[0]) + comm_prefill
    tpot = decode.tpot_s
    e2e = ttft + decode.total_s
    devices = parallelism.devices

    memory = _memory(pre, dec, per_token, device, batch, full, parallelism.pp, devices_remedy(device, parallelism))
    prefill_table = prefill_costs.layer_table(0.0, "prefill", pre.stage)
    decode_table = decode_costs.layer_table(float(context - 1), "decode", dec.stage)
    estimate = None
    if options.calibrated:
        estimate = _calibrated(pre, dec, (prefill_costs, decode_costs), (prefill_table, decode_table), device,
                               parallelism, batch, prompt, generate, pasts, context, (comm_prefill, comm_step),
                               (ttft, tpot))
    layers = pd.concat([prefill_table, decode_table], ignore_index=True)
    label = precision or "file types"
    return LLMResult(
        model=path.name, hardware=device.name, precision=label, batch=batch, prompt_tokens=prompt,
        generate_tokens=generate, tp=parallelism.tp, pp=parallelism.pp, devices=devices, traffic=traffic.name,
        ttft_s=ttft, prefill_bound=_bound(prefill, comm_prefill, 1), tpot_s=tpot,
        decode_bound=decode.bound, tpot_at_context_s=decode.at_context_s, context_tokens=context, e2e_latency_s=e2e,
        output_tokens_per_s=batch * generate / e2e, output_tokens_per_s_per_sequence=generate / e2e,
        output_tokens_per_s_per_device=batch * generate / e2e / devices,
        decode_tokens_per_s=None if tpot is None else batch / tpot,
        decode_tokens_per_s_per_sequence=None if tpot is None else 1 / tpot,
        prefill_tokens_per_s=batch * prompt / ttft, prefill_interconnect_s=comm_prefill,
        decode_interconnect_s=comm_step, memory=memory, notes=_notes(inputs, memory, pre, device, parallelism),
        layers=layers, calibrated=estimate)


def _memory(pre: OnnxPhase, dec: OnnxPhase, kv_per_token_row: np.ndarray, device: HardwareSpec, batch: int,
            context: int, pp: int, remedy: str | None) -> MemoryBudget:
    """Per-stage weights, KV bytes per token and activations per sequence (at past 0, affine in the past) by
    level, of one device, into the budget (``remedy``: how more devices would be had, for a misfit's note)."""
    layout = MemoryLayout.of(device)
    levels = len(layout.names)
    place_dec, place_pre = place(dec.device_a, device), place(pre.device_a, device)
    weights, kv_per_token, activations = np.zeros((pp, levels)), np.zeros((pp, levels)), np.zeros((pp, levels))
    np.add.at(weights, (dec.stage, place_dec.weights_level), dec.device_a.weight_bytes)
    np.add.at(kv_per_token, (dec.stage, place_dec.state_level), kv_per_token_row)
    at_zero = 2 * np.nan_to_num(pre.device_a.activation_bytes) - np.nan_to_num(pre.device_b.activation_bytes)
    np.maximum.at(activations, (pre.stage, place_pre.activations_level), at_zero)
    weights_level = int(place_dec.weights_level[0]) if len(place_dec.weights_level) else 0
    return memory_budget(layout.names, layout.capacity_bytes, weights, kv_per_token, activations, weights_level,
                         batch, context, context, None, None, devices_remedy=remedy)


def _calibrated(pre: OnnxPhase, dec: OnnxPhase, costs: tuple[KernelCosts, KernelCosts],
                tables: tuple[pd.DataFrame, pd.DataFrame], device: HardwareSpec, parallelism: Parallelism,
                batch: int, prompt: int, generate: int, pasts: range, context: int,
                communication: tuple[float, float], bound: tuple[float, float | None]) -> CalibratedEstimate:
    """The calibrated estimate (:mod:`rooflinekit.llm.onnx_calibrated`); adds ``calibrated_time_s`` and
    ``calibrated_kind`` to the phases' layer ``tables``."""
    from rooflinekit.llm.calibrated import load_llm_calibration, phase_estimate
    from rooflinekit.llm.onnx_calibrated import calibrated_onnx_phase, onnx_scope_notes

    cal = load_llm_calibration()
    notes = onnx_scope_notes(dec.device_a, dec.split, device, cal)
    phases = [calibrated_onnx_phase(c, p.network, p.device_a, p.split, parallelism.tp, device, batch, cal)
              for c, p in zip(costs, (pre, dec))]
    for table, phase, past in zip(tables, phases, (0.0, float(context - 1))):
        table["calibrated_time_s"], table["calibrated_kind"] = phase.layer_columns(past)
    overhead_us = cal.attention_overhead_s(float(device.clock_hz or 0)) * 1e6
    kernels = (f"weighted GEMMs priced as the fitted kind read from the graph's split (QKV, output, gate/up, down "
               f"projection; LM head as mlp_up_proj); every other kernel: roofline + "
               f"{grouped(cal.attention_overhead_cycles, 3)} cycles ({overhead_us:.2g} us) fitted fixed cost")
    return phase_estimate(cal, device, batch, generate, parallelism.devices, (phases[0], batch * prompt, 0.0),
                          (phases[1], batch, pasts), float(context - 1), *communication, *bound, kernels, notes)


def _notes(inputs: DecoderInputs, memory: MemoryBudget, pre: OnnxPhase, device: HardwareSpec,
           parallelism: Parallelism) -> tuple[str, ...]:
    notes = [*memory.notes,
             "roofline bound: datasheet peaks and bandwidths, per-kernel roofline summed; real stacks reach a "
             "fraction of it",
             f"ONNX decoder: cache inputs {', '.join(inputs.cache)} read as KV-cache state; costs affine in the "
             f"past length, imported at past {PASTS[0]} and {PASTS[1]} (prefill at past 0, decode step at "
             "context T at past T - 1)"]
    link = device.interconnect
    if parallelism.devices > 1 and link is not None:
        role = pre.split.role
        notes.append(f"TP {parallelism.tp} x PP {parallelism.pp} over {link.name}, split read from the graph: "
                     f"{np.count_nonzero(role == COLUMN)} column- and {np.count_nonzero(role == ROW)} row-parallel "
                     f"weighted MatMuls; per pass {np.count_nonzero(pre.split.all_reduced)} all-reduce and "
                     f"{np.count_nonzero(pre.split.gathered)} all-gather collectives; ring all-reduce 2(N-1)/N x "
                     "bytes / bandwidth + 2(N-1) x latency, not overlapped")
    if parallelism.pp > 1:
        notes.append(f"pipeline: {pre.blocks} blocks over {parallelism.pp} stages, run one after another for a "
                     "batch (no micro-batch overlap)")
    return tuple(notes)
