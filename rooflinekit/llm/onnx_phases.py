"""Prefill and decode of an ONNX decoder export with past-key/value inputs, through the phase machinery.

``predict_llm("decoder.onnx", ...)`` lands here. The file's cache inputs are recognized and bound per phase
(:mod:`rooflinekit.llm.kv_inputs`: the recognition rule), imported as KV-cache state, and costed by
:func:`~rooflinekit.llm.phases.kernel_costs`, with the past length ``p`` (cached tokens read) as the KV length:

- every cost is affine in ``p``, so each phase is imported at ``p = 1`` and ``p = 2`` (the importer takes no
  empty input) and evaluated anywhere: the **prefill** (``sequence = P``) at ``p = 0``, the **decode step** at
  context ``T`` (``sequence = 1``, the new token included in ``T``) at ``p = T - 1``;
- the new tokens' K and V are written into the cache by the layers reading it: ``S x`` the per-token bytes of
  each cache tensor (the slope of its state bytes);
- one device (no TP / PP), the file's own types unless ``base`` re-types the graph; memory is the weights, the
  cache at the full context and the largest prefill layer's activations per sequence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rooflinekit.descriptors import DType, HardwareSpec
from rooflinekit.llm.kv_inputs import decoder_inputs, load_decoder
from rooflinekit.llm.memory import memory_budget
from rooflinekit.llm.phases import kernel_costs
from rooflinekit.llm.result import LLMResult
from rooflinekit.roofline import CountedNetwork, MemoryLayout, TrafficModel, place

PASTS = (1, 2)
"""The two past lengths each phase is imported at (tokens)."""


def predict_onnx_decoder(path: Path, device: HardwareSpec, batch: int, prompt: int, generate: int, context: int,
                         base: str | DType | None, traffic: TrafficModel) -> LLMResult:
    """The :class:`LLMResult` of the decoder at ``path`` (arguments checked by
    :func:`~rooflinekit.llm.predict_llm`).

    Parameters
    ----------
    path : Path
        The ``.onnx`` decoder export.
    device : HardwareSpec
        One device.
    batch, prompt, generate : int
        B, P and G.
    context : int
        Context of ``tpot_at_context_s``.
    base : str or DType, optional
        A type every tensor is counted at; None: the file's own.
    traffic : TrafficModel
        A row-separable traffic model.

    Returns
    -------
    LLMResult

    Raises
    ------
    SpecError
        The file has no past-key/value inputs, or the traffic model is not row-separable.
    ShapeError, ModelFileError
        From the importer.
    """
    from rooflinekit.llm.predict import _bound

    inputs = decoder_inputs(path)
    precision = None if base is None else (base.value if isinstance(base, DType) else str(base))
    counted = {(s, p): CountedNetwork.of(load_decoder(inputs, batch, s, p), precision)
               for s in (prompt, 1) for p in PASTS}
    pre_a, pre_b = counted[(prompt, PASTS[0])], counted[(prompt, PASTS[1])]
    dec_a, dec_b = counted[(1, PASTS[0])], counted[(1, PASTS[1])]
    per_token = (dec_b.state_bytes - dec_a.state_bytes) / (PASTS[1] - PASTS[0])  # (R,) per sequence
    by_name = dict(zip(dec_a.layers["name"], per_token))
    writes_prefill = prompt * np.array([by_name.get(name, 0.0) for name in pre_a.layers["name"]])
    stage_pre, stage_dec = np.zeros(len(pre_a.ops), np.int64), np.zeros(len(dec_a.ops), np.int64)
    prefill_costs = kernel_costs(pre_a, device, traffic, batch, writes_prefill, stage_pre, t_a=PASTS[0],
                                 counted_b=pre_b, kv_write_bytes_b=writes_prefill, t_b=PASTS[1])
    decode_costs = kernel_costs(dec_a, device, traffic, batch, per_token, stage_dec, t_a=PASTS[0],
                                counted_b=dec_b, kv_write_bytes_b=per_token, t_b=PASTS[1])
    full = prompt + generate
    prefill = prefill_costs.times([0.0])
    steps = list(range(prompt + 1, full))
    decode = decode_costs.times(np.array([*steps, context], dtype=np.float64) - 1.0)
    ttft = float(prefill.time_s[0])
    step_s = decode.time_s[:-1]
    decode_total = float(step_s.sum())
    tpot = decode_total / len(step_s) if len(step_s) else None
    e2e = ttft + decode_total

    layout = MemoryLayout.of(device)
    levels = len(layout.names)
    place_dec, place_pre = place(dec_a, device), place(pre_a, device)
    weights, kv_per_token, activations = np.zeros(levels), np.zeros(levels), np.zeros(levels)
    np.add.at(weights, place_dec.weights_level, dec_a.weight_bytes)
    np.add.at(kv_per_token, place_dec.state_level, per_token)
    at_zero = 2 * np.nan_to_num(pre_a.activation_bytes) - np.nan_to_num(pre_b.activation_bytes)  # affine in p
    np.maximum.at(activations, place_pre.activations_level, at_zero)
    weights_level = int(place_dec.weights_level[0]) if len(place_dec.weights_level) else 0
    memory = memory_budget(layout.names, layout.capacity_bytes, weights[None, :], kv_per_token[None, :],
                           activations[None, :], weights_level, batch, full, full, None, None)
    layers = pd.concat([prefill_costs.layer_table(0.0, "prefill", stage_pre),
                        decode_costs.layer_table(float(context - 1), "decode", stage_dec)], ignore_index=True)
    label = precision or "file types"
    notes = (*memory.notes,
             "roofline bound: datasheet peaks and bandwidths, per-kernel roofline summed; real stacks reach a "
             "fraction of it",
             f"ONNX decoder: cache inputs {', '.join(inputs.cache)} read as KV-cache state; costs affine in the "
             f"past length, imported at past {PASTS[0]} and {PASTS[1]} (prefill at past 0, decode step at "
             "context T at past T - 1)")
    return LLMResult(
        model=path.name, hardware=device.name, precision=label, batch=batch, prompt_tokens=prompt,
        generate_tokens=generate, tp=1, pp=1, devices=1, traffic=traffic.name,
        ttft_s=ttft, prefill_bound=_bound(prefill, 0.0, slice(0, 1)), tpot_s=tpot,
        decode_bound=_bound(decode, 0.0, slice(0, len(steps)) if steps else slice(len(steps), None)),
        tpot_at_context_s=float(decode.time_s[-1]), context_tokens=context, e2e_latency_s=e2e,
        output_tokens_per_s=batch * generate / e2e, output_tokens_per_s_per_sequence=generate / e2e,
        output_tokens_per_s_per_device=batch * generate / e2e,
        decode_tokens_per_s=None if tpot is None else batch / tpot,
        decode_tokens_per_s_per_sequence=None if tpot is None else 1 / tpot,
        prefill_tokens_per_s=batch * prompt / ttft, prefill_interconnect_s=0.0, decode_interconnect_s=0.0,
        memory=memory, notes=notes, layers=layers)
