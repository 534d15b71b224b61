"""``predict_llm``: time to first token, time per output token, tokens/s and memory of a decoder LLM.

For ``batch`` sequences of ``prompt`` tokens generating ``generate`` tokens each, on ``tp x pp`` devices:

1. the transformer is built from its config (:mod:`rooflinekit.networks.transformer`) as one device's **TP shard**
   (:func:`~rooflinekit.llm.parallel.shard_config`), its linear layers typed by the **weight format** and the rest
   at the base float type, the KV cache at its own type (:mod:`rooflinekit.llm.precision`), all by default the
   model's own float type (its config's ``torch_dtype``, when the device has a peak for it; else fp16);
2. the **prefill** is that network over ``(B, P)`` tokens without a cache, the LM head on the last position; each
   **decode step** is one token per sequence reading a KV cache of its context (``decode_network``), costed at every
   context ``P + 1 .. P + G - 1`` through the affine form of :mod:`rooflinekit.llm.phases`, summed in closed form
   (arithmetic series between the contexts where a kernel's bound or window changes);
3. each phase's time is the per-kernel roofline of one device summed over the pipeline stages (which run one
   after another) plus the **communication** of :mod:`rooflinekit.llm.parallel`::

       t_prefill = sum_k max(ops_k / peak_k, bytes_k / bandwidth) + n_ar x allreduce(B P H) + allgather(B V)
                   + (PP - 1) x p2p(B P H)
       t_step(T) = the same for one token per sequence at context T, KV bytes growing with T

   with ``n_ar = (2 or 1) x blocks + 1`` all-reduces (two per block, one for a parallel block, one after the
   vocabulary-parallel embedding), all at the base type's bytes;
4. **memory** per device (:mod:`rooflinekit.llm.memory`) at the full context ``P + G``; the largest context is
   capped at the model's context window (``max_position_embeddings``), and a context beyond it is predicted with
   a :class:`ContextWindowWarning`: a RoPE model runs past its window (its output degrades, and transformers'
   ``generate`` only warns), while a learned position table (GPT-2, OPT) has no row for it, a SpecError. A sliding
   window does not lift that limit: it caps the keys read and the cache held, not the positions trained.

The result is a roofline **bound** (``estimate == "bound"``): datasheet peaks and bandwidths, no software
efficiency; real stacks reach a fraction of it (commonly 50-80 % of the bandwidth bound in decode). With
``calibrated=True`` the same kernels are also priced by the operator model fitted on measured kernels, with an
80 % interval (``result.calibrated``, :mod:`rooflinekit.llm.calibrated`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from rooflinekit.descriptors import DType, HardwareSpec, LayerNetwork, TensorSpec
from rooflinekit.errors import PrecisionError, RooflineWarning, SpecError
from rooflinekit.llm.memory import MemoryBudget, memory_budget
from rooflinekit.llm.parallel import (
    Parallelism, allreduces_per_block, check_parallelism, devices_remedy, point_to_point_s, ring_allgather_s,
    ring_allreduce_s, shard_config, stage_blocks,
)
from rooflinekit.llm.phases import KernelCosts, PhaseTimes, kernel_costs
from rooflinekit.llm.precision import BASE_TYPES, LINEAR_PARTS, LLMPrecision, WeightFormat, llm_precision
from rooflinekit.llm.result import LLMResult
from rooflinekit.networks.transformer import (
    TransformerConfig, block_of, decode_network, load_transformer_config, transformer_network,
)
from rooflinekit.roofline import CountedNetwork, MemoryLayout, TrafficModel, place, traffic_model

ATTENTION_CHAIN = frozenset({"attn_scores", "attn_softcap_div", "attn_softcap_tanh", "attn_softcap_mul",
                             "attn_softmax", "attn_context"})
"""Layers a fused attention kernel runs without writing the S x T scores to memory (Gemma-2's soft-capping of the
scores included, as FlashAttention's ``softcap`` fuses it)."""

MAX_TOKENS = 1 << 24
"""Largest prompt, generation or context accepted (tokens)."""


class ContextWindowWarning(RooflineWarning):
    """The context asked for is longer than the model's context window (its ``max_position_embeddings``)."""


def predict_llm(model: TransformerConfig | Mapping[str, Any] | str | Path, hardware: HardwareSpec | str | Path, *,
                batch: int = 1, prompt: int = 512, generate: int = 128, weights: str | WeightFormat | None = None,
                kv: str | DType | None = None, base: str | DType | None = None, group_size: int | None = None,
                tp: int = 1, pp: int = 1, context: int | None = None,
                traffic: TrafficModel | str = "weights_only", calibrated: bool = False, heads: int | None = None,
                kv_heads: int | None = None) -> LLMResult:
    """Predict LLM inference: time to first token, time per output token, tokens/s, memory per device.

    Parameters
    ----------
    model : TransformerConfig, mapping, str or Path
        A bundled config name (``"Llama-2-7B"``), a ``config.json`` path (or its Hugging Face model folder) or
        mapping, or a parsed config; a decoder (an encoder such as BERT has no generation). Or the path of an
        **ONNX decoder export** (``*.onnx``) whose KV cache is taken as graph inputs: its past-key/value inputs
        are the graph inputs named like
        ``past_key_values.{i}.key`` / ``.value``, ``past.{i}``, ``key_cache``, ... (:data:`~rooflinekit.llm.
        kv_inputs.KV_INPUT_PATTERN`), their past axis the symbolic dim naming ``past`` / ``seq`` / ``len`` (else
        the only symbolic one, else axis -2 of ``(batch, heads, past, head_dim)``); each phase binds batch = B,
        sequence = P with past = 0 (prefill) or sequence = 1 with past = T - 1 (decode step at context T), an
        attention mask to past + sequence (:mod:`rooflinekit.llm.kv_inputs` has the full rule), imports the file
        with the cache as KV-cache state and costs it by the same phase machinery
        (:mod:`rooflinekit.llm.onnx_phases`) at the file's own types (``base`` re-types the graph), split over
        ``tp`` x ``pp`` devices as its data flow shows (:mod:`rooflinekit.llm.onnx_parallel`).
    hardware : HardwareSpec, str or Path
        A catalog name or alias, a hardware YAML file or a spec; several devices need its ``interconnect``
        (``"DGX H100"``).
    batch : int
        Sequences B decoded together. This and the other counts (``prompt``, ``generate``, ``context``, ``tp``,
        ``pp``, ``heads``, ``kv_heads``) take any integer type (NumPy's too, as ``np.arange`` gives).
    prompt, generate : int
        Prompt tokens P and output tokens G per sequence (G >= 1; the first comes from the prefill).
    weights : str or WeightFormat, optional
        Format of the linear layers: fp16, bf16, fp32, fp8, int8 (W8A8), w8a16, int4 (W4A16); see
        :mod:`rooflinekit.llm.precision`. Default ``base`` when given, else the model's own type: the config's
        ``torch_dtype`` (``rooflinekit.precision`` of a bundled config) when it is fp16, bf16 or fp32 and the
        device has a peak for it, else fp16.
    kv : str or DType, optional
        KV-cache type (fp16, bf16, fp32, fp8, int8); default the base type.
    base : str or DType, optional
        fp16, bf16 or fp32 for everything but the linear weights; default the weights' type for an unquantized
        format, else the model's own 16-bit type, else fp16.
    group_size : int, optional
        Weights per scale of int4 (default 128).
    tp, pp : int
        Tensor-parallel degree and pipeline stages.
    context : int, optional
        Context (tokens per sequence in the cache) at which ``tpot_at_context_s`` is given; default P + G.
    traffic : TrafficModel or str
        Memory-traffic model; ``weights_only`` (default: weights once per batch and the KV cache per sequence,
        activations on chip) or ``weights_and_activations``.
    calibrated : bool
        Also price every kernel with the operator model fitted on Vidur's measured kernels and give the
        calibrated figures with an 80 % interval (``result.calibrated``, :mod:`rooflinekit.llm.calibrated`);
        the top-level figures stay the bound.
    heads, kv_heads : int, optional
        Query and KV heads of an ONNX decoder whose graph does not show them (needed for ``tp > 1``; checked
        against the graph where it does); a config gives its own.

    Returns
    -------
    LLMResult
        Times in s, rates in tokens/s, memory in bytes; ``estimate == "bound"``; ``calibrated`` set when asked.

    Raises
    ------
    SpecError
        An ONNX file without past-key/value inputs (what was expected is named), with ``weights``, ``kv`` or
        ``group_size`` set, or whose graph does not show the split asked for (what is missing and the option
        supplying it are named); ``heads`` or ``kv_heads`` with a config; an encoder, non-positive or too large
        sizes, a context beyond a learned position table, a split the model or system cannot take, or a traffic
        model with a per-layer threshold.
    CalibrationError
        With ``calibrated``: a GPU spec without ``compute_units`` (SM count) or clock, or a mixture-of-experts
        model (not in the fitted kernels).
    PrecisionError
        An unknown format or type, or one the device has no peak for.
    UnknownNameError
        A model or hardware name not in the catalogs.

    Warns
    -----
    CapacityWarning
        When the memory per device cannot hold the weights, KV cache and activations (the prediction is made
        anyway; ``result.fits`` is False and ``result.memory.notes`` gives both sizes).
    CalibrationWarning
        With ``calibrated`` and a weight format or base type other than fp16 / bf16 (priced by extrapolation).
    ContextWindowWarning
        When ``prompt + generate`` (or ``context``) exceeds the model's context window, its
        ``max_position_embeddings`` (the prediction is made anyway; a learned position table is a SpecError).
    """
    from rooflinekit.api import CapacityWarning, resolve_hardware  # the api imports the catalogs: resolve late

    onnx_file = isinstance(model, (str, Path)) and str(model).lower().endswith(".onnx")
    cfg = model if isinstance(model, TransformerConfig) or onnx_file else load_transformer_config(model)
    device = resolve_hardware(hardware)
    batch, prompt, generate, tp, pp, context, heads, kv_heads = (
        _plain_int(v) for v in (batch, prompt, generate, tp, pp, context, heads, kv_heads))
    for label, value in (("batch", batch), ("prompt", prompt), ("generate", generate)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS:
            raise SpecError(f"{label} must be a whole number from 1 to {MAX_TOKENS}, got {value!r}")
    full = prompt + generate
    ctx = full if context is None else context
    if isinstance(ctx, bool) or not isinstance(ctx, int) or not 1 <= ctx <= 2 * MAX_TOKENS:
        raise SpecError(f"context must be a positive whole number of tokens, got {ctx!r}")
    if onnx_file or not isinstance(cfg, TransformerConfig):
        from rooflinekit.llm.onnx_phases import OnnxOptions, predict_onnx_decoder

        if weights is not None or kv is not None or group_size is not None:
            raise SpecError(f"{model}: an ONNX decoder is costed at its file's own types; weights, kv and "
                            "group_size apply to transformer configs (base='fp16' or 'bf16' re-types the whole "
                            "graph)")
        for label, count in (("heads", heads), ("kv_heads", kv_heads)):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
                raise SpecError(f"{label} must be a positive whole number of heads, got {count!r}")
        options = OnnxOptions(base, Parallelism(tp, pp), heads, kv_heads, calibrated)
        result = predict_onnx_decoder(Path(str(model)), device, batch, prompt, generate, ctx, traffic_model(traffic),
                                      options)
        if not result.memory.fits:
            warnings.warn(f"{result.model} on {device.name}: {'; '.join(result.memory.notes)}", CapacityWarning,
                          stacklevel=2)
        return result
    if heads is not None or kv_heads is not None:
        raise SpecError(f"{cfg.name}: heads and kv_heads apply to ONNX decoder exports; a config gives its own "
                        "(num_attention_heads, num_key_value_heads)")
    if cfg.encoder:
        raise SpecError(f"{cfg.name} is an encoder ({cfg.model_type}): it generates no tokens; use rk.predict for "
                        "a forward pass")
    limit = _position_limit(cfg)
    # positions fed: the P prompt tokens and the G - 1 generated tokens fed back (the last is never fed), P + G - 1
    # in all; an explicit context is fed whole
    fed = full - 1 if context is None else ctx
    if limit is not None and fed > limit:
        raise SpecError(f"{cfg.name}: {fed} positions (prompt + generate - 1, or the context) exceed its {limit} "
                        "learned positions; use a shorter prompt or generation")
    window = cfg.context_window
    beyond_window = None
    if window is not None and fed > window:
        asked = f"prompt {prompt:,} + generate {generate:,} = {full:,}" if full > window else f"context {ctx:,}"
        beyond_window = (f"{asked} tokens exceed its context window of {window:,} tokens; predicted anyway, but "
                         "the model was not trained for contexts that long")
        warnings.warn(f"{cfg.name}: {beyond_window}", ContextWindowWarning, stacklevel=2)
    precision = llm_precision(weights, kv, base, group_size, default=model_dtype(cfg, device))
    parallelism = Parallelism(tp, pp)
    check_parallelism(cfg, device, parallelism)
    model_traffic = traffic_model(traffic)
    shard = shard_config(cfg, tp)
    stages = stage_blocks(cfg.layers, pp)

    prefill_net = _device_network(shard, precision, batch, prompt, prompt)
    decode_a, decode_b = (_device_network(shard, precision, batch, 1, t, decode=True) for t in (1, 2))
    counted_prefill = CountedNetwork.of(prefill_net)
    counted_a, counted_b = CountedNetwork.of(decode_a), CountedNetwork.of(decode_b)
    stage_prefill = _stage_of_rows(prefill_net, stages)
    stage_decode = _stage_of_rows(decode_a, stages)
    kv_bytes = precision.kv.bits / 8
    try:
        prefill_costs = kernel_costs(counted_prefill, device, model_traffic, batch,
                                     _kv_writes(prefill_net, shard, prompt, kv_bytes), stage_prefill, t_a=prompt,
                                     weight_read_fraction=_read_fraction(prefill_net, cfg, batch * prompt))
    except PrecisionError as exc:  # say which of the LLM's own options picks a type the device has
        floats = [d.value for d in BASE_TYPES if d in device.peak_ops_per_s]
        hint = (f"run it at a type {device.name} has, e.g. --base {floats[0]} (base='{floats[0]}' in Python), and "
                "--weights to match" if floats else f"{device.name} has no float peak (fp16, bf16, fp32) to run "
                "an LLM's base type on; pick another device")
        raise PrecisionError(f"{exc}; {hint}") from None
    write_decode = _kv_writes(decode_a, shard, 1, kv_bytes)
    windows = _kv_windows(decode_a, shard)
    decode_costs = kernel_costs(counted_a, device, model_traffic, batch, write_decode, stage_decode, t_a=1,
                                counted_b=counted_b, kv_write_bytes_b=write_decode, t_b=2,
                                weight_read_fraction=_read_fraction(decode_a, cfg, batch), kv_window=windows)

    comm_prefill = _communication_s(cfg, device, parallelism, batch, prompt, precision.base)
    comm_step = _communication_s(cfg, device, parallelism, batch, 1, precision.base)
    prefill = prefill_costs.times([float(prompt)])
    steps = range(prompt + 1, full)  # contexts; each block's kernels read min(context, its window) keys
    decode = decode_times(decode_costs, steps, float(ctx), comm_step)
    ttft = float(prefill.time_s[0]) + comm_prefill
    tpot = decode.tpot_s
    e2e = ttft + decode.total_s
    devices = parallelism.devices

    memory = _memory(counted_prefill, counted_a, counted_b, stage_prefill, stage_decode, device, batch, full, cfg,
                     pp, windows, devices_remedy(device, parallelism))
    notes = _notes(precision, parallelism, device, memory, model_traffic, cfg, batch)
    if beyond_window is not None:  # said in the result too, for those who read its JSON rather than the warnings
        notes = (*notes, beyond_window)
    if not memory.fits:
        warnings.warn(f"{cfg.name} on {device.name}: {'; '.join(memory.notes)}", CapacityWarning, stacklevel=2)
    prefill_table = prefill_costs.layer_table(float(prompt), "prefill", stage_prefill)
    decode_table = decode_costs.layer_table(float(ctx), "decode", stage_decode)
    estimate = None
    if calibrated:
        from rooflinekit.llm.calibrated import PhaseInputs, calibrated_estimate

        estimate, cal_prefill, cal_decode = calibrated_estimate(
            cfg, shard, device, precision, batch, generate, devices,
            PhaseInputs(prefill_net, counted_prefill, prefill_costs, batch * prompt, batch),
            PhaseInputs(decode_a, counted_a, decode_costs, batch, batch),
            float(prompt), steps, float(ctx),
            comm_prefill, comm_step, ttft, tpot)
        for table, phase, t in ((prefill_table, cal_prefill, prompt), (decode_table, cal_decode, ctx)):
            table["calibrated_time_s"], table["calibrated_kind"] = phase.layer_columns(float(t))
    layers = pd.concat([prefill_table, decode_table], ignore_index=True)
    return LLMResult(
        model=cfg.name, hardware=device.name, precision=precision.label, batch=batch, prompt_tokens=prompt,
        generate_tokens=generate, tp=tp, pp=pp, devices=devices, traffic=model_traffic.name,
        ttft_s=ttft, prefill_bound=_bound(prefill, comm_prefill, 1),
        tpot_s=tpot,
        decode_bound=decode.bound, tpot_at_context_s=decode.at_context_s, context_tokens=ctx, e2e_latency_s=e2e,
        output_tokens_per_s=batch * generate / e2e, output_tokens_per_s_per_sequence=generate / e2e,
        output_tokens_per_s_per_device=batch * generate / e2e / devices,
        decode_tokens_per_s=None if tpot is None else batch / tpot,
        decode_tokens_per_s_per_sequence=None if tpot is None else 1 / tpot,
        prefill_tokens_per_s=batch * prompt / ttft, prefill_interconnect_s=comm_prefill,
        decode_interconnect_s=comm_step, memory=memory, notes=notes, layers=layers, calibrated=estimate)


def _plain_int(value: Any) -> Any:
    """``value`` as a Python int when it is a whole number of another integer type (NumPy's ``int64`` from
    ``np.arange`` or a DataFrame), else unchanged for the checks to accept or refuse."""
    if isinstance(value, Integral) and not isinstance(value, (bool, int)):
        return int(value)
    return value


def prefill_network(model: TransformerConfig | Mapping[str, Any] | str | Path, *, batch: int = 1, prompt: int = 512,
                    weights: str | WeightFormat | None = None, kv: str | DType | None = None,
                    base: str | DType | None = None, group_size: int | None = None, tp: int = 1) -> LayerNetwork:
    """The prefill :func:`predict_llm` costs on one device: ``batch`` sequences of ``prompt`` tokens through one TP
    shard, no KV cache read, the LM head on the last position, linear layers at the weight format.

    Parameters are those of :func:`predict_llm`. Returns a LayerNetwork of batch ``batch`` (layers as in
    :mod:`rooflinekit.networks.transformer`).
    """
    cfg = model if isinstance(model, TransformerConfig) else load_transformer_config(model)
    precision = llm_precision(weights, kv, base, group_size, default=model_dtype(cfg))
    return _device_network(shard_config(cfg, tp), precision, batch, prompt, prompt)


def decode_step_network(model: TransformerConfig | Mapping[str, Any] | str | Path, *, batch: int = 1,
                        context: int = 512, weights: str | WeightFormat | None = None, kv: str | DType | None = None,
                        base: str | DType | None = None, group_size: int | None = None,
                        tp: int = 1) -> LayerNetwork:
    """One decode step :func:`predict_llm` costs on one device: one token per sequence reading a KV cache of
    ``context`` tokens (the new one included) as layer state, through one TP shard.

    Parameters are those of :func:`predict_llm`. Returns a LayerNetwork of batch ``batch``.
    """
    cfg = model if isinstance(model, TransformerConfig) else load_transformer_config(model)
    precision = llm_precision(weights, kv, base, group_size, default=model_dtype(cfg))
    return _device_network(shard_config(cfg, tp), precision, batch, 1, context, decode=True)


def _device_network(shard: TransformerConfig, precision: LLMPrecision, batch: int, seq_len: int,
                    context: int, decode: bool = False) -> LayerNetwork:
    """A prefill of ``seq_len`` tokens (no cache) or, with ``decode``, a decode step (one token per sequence, a
    cache of ``context`` tokens) of ``shard`` at ``precision``."""
    if not decode:
        network = transformer_network(shard, batch=batch, seq_len=seq_len, context_len=context, kv_cache=False,
                                      logits="last", weights=precision.base, activations=precision.base,
                                      kv_dtype=precision.kv)
    else:
        network = decode_network(shard, batch=batch, context_len=context, weights=precision.base,
                                 activations=precision.base, kv_dtype=precision.kv)
    return _retyped(network, precision)


def _position_limit(cfg: TransformerConfig) -> int | None:
    """Longest context a learned position table allows (OPT's table is offset by 2), None without one."""
    if not cfg.positions:
        return None
    return cfg.positions - (2 if cfg.model_type == "opt" else 0)


def _context_limit(cfg: TransformerConfig) -> int | None:
    """Longest context the model takes: its context window or learned position table, the shorter; None when the
    config gives neither."""
    limits = [n for n in (_position_limit(cfg), cfg.context_window) if n is not None]
    return min(limits) if limits else None


def model_dtype(cfg: TransformerConfig, device: HardwareSpec | None = None) -> DType:
    """The float type the model runs at unless told otherwise: its own (``catalog_precision``: the config's
    ``torch_dtype``) when it is fp16, bf16 or fp32 and ``device`` (when given) has a peak for it; else fp16."""
    try:
        own = DType.parse(cfg.catalog_precision)
    except PrecisionError:
        return DType.FP16
    if own not in BASE_TYPES or device is not None and own not in device.peak_ops_per_s:
        return DType.FP16
    return own


def _retyped(network: LayerNetwork, precision: LLMPrecision) -> LayerNetwork:
    """``network`` (built at the base type) with the blocks' linear layers at the weight format: the layer's
    precision, and its weight matrix stored at ``bytes_per_weight`` (scales included); biases stay at the base."""
    fmt = precision.weights
    linear = precision.linear
    if linear == precision.other and not fmt.group_size:
        return network
    layers = []
    for layer in network.layers:
        if layer.name.rsplit(".", 1)[-1] not in LINEAR_PARTS:
            layers.append(layer)
            continue
        matrix, *biases = layer.weights
        stored = TensorSpec(shape=matrix.shape, dtype=fmt.weights,
                            nbytes=math.ceil(matrix.elements * fmt.bytes_per_weight) if fmt.group_size else None)
        kept = tuple(TensorSpec(shape=b.shape, dtype=precision.base) for b in biases)
        layers.append(layer.model_copy(update={"precision": linear, "weights": (stored, *kept)}))
    return network.model_copy(update={"layers": tuple(layers)})


def _stage_of_rows(network: LayerNetwork, stages: list[range]) -> np.ndarray:
    """(R,) pipeline stage of each layer: its block's stage; layers before the blocks on the first stage, after
    them on the last."""
    stage_of_block = {b: s for s, blocks in enumerate(stages) for b in blocks}
    out = np.zeros(len(network.layers), dtype=np.int64)
    seen_block = False
    for i, layer in enumerate(network.layers):
        block = block_of(layer.name)
        if block is not None:
            seen_block = True
            out[i] = stage_of_block[block]
        else:
            out[i] = len(stages) - 1 if seen_block else 0
    return out


def _kv_writes(network: LayerNetwork, shard: TransformerConfig, new_tokens: int, kv_bytes: float) -> np.ndarray:
    """(R,) bytes per sequence written into the KV cache: ``min(S, W) x Hkv x D x bytes`` on each attention
    scores row (K) and context row (V) of a block with a sliding window W (its cache keeps the last W tokens, a
    rolling buffer: a prefill of S > W tokens stores only the last W), ``S x Hkv x D x bytes`` on those of a
    global block, 0 elsewhere."""
    per_token = shard.kv_heads * shard.head_dim * kv_bytes
    writes = np.zeros(len(network.layers))
    for i, layer in enumerate(network.layers):
        block = block_of(layer.name)
        if block is not None and layer.name.endswith((".attn_scores", ".attn_context")):
            writes[i] = shard.block_kv_length(block, new_tokens) * per_token
    return writes


def _kv_windows(network: LayerNetwork, cfg: TransformerConfig) -> np.ndarray:
    """(R,) sliding window of each layer's block (tokens; ``inf`` for a global block and outside the blocks)."""
    windows = np.full(len(network.layers), np.inf)
    for i, layer in enumerate(network.layers):
        block = block_of(layer.name)
        window = None if block is None else cfg.block_window(block)
        if window is not None:
            windows[i] = window
    return windows


def experts_read_fraction(experts: int, top_k: int, tokens: int) -> float:
    """Expected share of ``experts`` experts that ``tokens`` tokens route to, each to ``top_k`` of them uniformly
    and independently: ``1 - (1 - k/E)^tokens`` (balanced routing; 1 without experts)."""
    if not experts:
        return 1.0
    return 1.0 - (1.0 - top_k / experts) ** tokens


def _read_fraction(network: LayerNetwork, cfg: TransformerConfig, tokens: int) -> np.ndarray:
    """(R,) share of each layer's weights a pass over ``tokens`` tokens (all sequences) reads: an embedding
    gather the ``min(1, tokens / V)`` of its table's rows it looks up, the experts' projections
    :func:`experts_read_fraction` of them, every other layer all of its weights."""
    experts = experts_read_fraction(cfg.experts, cfg.top_k, tokens)
    rows = min(1.0, tokens / cfg.vocab)
    return np.array([experts if ".experts." in layer.name and layer.weights else
                     rows if layer.op == "gather" and layer.weights else 1.0 for layer in network.layers])


def _communication_s(cfg: TransformerConfig, device: HardwareSpec, parallelism: Parallelism, batch: int,
                     tokens: int, base: DType) -> float:
    """Link time of one pass over ``tokens`` tokens per sequence (s): TP all-reduces and the logits all-gather,
    PP point-to-point hand-overs (formulas in :mod:`rooflinekit.llm.parallel`)."""
    link = device.interconnect
    if link is None or parallelism.devices == 1:
        return 0.0
    activations = batch * tokens * cfg.hidden * base.bits / 8
    bandwidth, latency = link.bandwidth_bytes_per_s, link.latency_s
    total = 0.0
    if parallelism.tp > 1:
        count = allreduces_per_block(cfg) * cfg.layers + 1
        total += count * ring_allreduce_s(activations, parallelism.tp, bandwidth, latency)
        total += ring_allgather_s(batch * cfg.vocab * base.bits / 8, parallelism.tp, bandwidth, latency)
    total += (parallelism.pp - 1) * point_to_point_s(activations, bandwidth, latency)
    return total


class DecodeTimes(NamedTuple):
    """The decode phase of a generation (s): ``total_s`` over its steps, ``tpot_s`` their mean (None without
    steps), ``at_context_s`` one step at the context asked for, and its ``bound`` label (:func:`_bound`)."""

    total_s: float
    tpot_s: float | None
    at_context_s: float
    bound: str


def decode_times(costs: KernelCosts, steps: range, context_t: float, communication_s: float) -> DecodeTimes:
    """The decode phase over the KV lengths ``steps`` (consecutive tokens), each step paying ``communication_s``.

    ``total_s = sum_t t_step(t) + n x communication_s`` with the sum in closed form
    (:meth:`~rooflinekit.llm.phases.KernelCosts.step_sums`), ``tpot_s = total_s / n``, ``at_context_s`` the step at
    KV length ``context_t`` plus ``communication_s``; the bound is that of the sum, or of the step at ``context_t``
    when there is no step (a generation of one token).
    """
    summed = costs.step_sums(steps)
    at = costs.times([context_t])
    total = float(summed.time_s[0]) + len(steps) * communication_s
    bound = _bound(summed, communication_s, len(steps)) if steps else _bound(at, communication_s, 1)
    return DecodeTimes(total, total / len(steps) if steps else None, float(at.time_s[0]) + communication_s, bound)


def _bound(phase: PhaseTimes, communication_s: float, passes: int) -> str:
    """The label with the largest share of the phase's time summed over its columns (one pass each, or one
    column of sums over ``passes`` passes: :meth:`~rooflinekit.llm.phases.KernelCosts.step_sums`): a memory
    level, compute, or ``interconnect`` (communication per pass times the passes)."""
    shares = phase.time_by_bound_s.sum(axis=1)
    labels = [*phase.labels, "interconnect"]
    totals = [*shares.tolist(), communication_s * passes]
    return labels[int(np.argmax(totals))]


def _memory(prefill: CountedNetwork, decode_a: CountedNetwork, decode_b: CountedNetwork, stage_prefill: np.ndarray,
            stage_decode: np.ndarray, device: HardwareSpec, batch: int, context: int, cfg: TransformerConfig,
            pp: int, windows: np.ndarray, remedy: str | None) -> MemoryBudget:
    """Per-stage weights, KV bytes per token (windowed and global blocks apart when only some blocks have the
    window, ``windows`` per decode row) and activations per sequence by level, into the budget (``remedy``:
    how more devices would be had, for a misfit's note)."""
    layout = MemoryLayout.of(device)
    levels = len(layout.names)
    place_decode, place_prefill = place(decode_a, device), place(prefill, device)
    weights = np.zeros((pp, levels))
    kv_per_token = np.zeros((pp, levels))
    activations = np.zeros((pp, levels))
    np.add.at(weights, (stage_decode, place_decode.weights_level), decode_a.weight_bytes)
    if cfg.tied and pp > 1:  # the first stage's embedding holds its own copy of the last stage's LM head table
        head = np.flatnonzero(decode_a.layers["name"].to_numpy() == "lm_head")
        np.add.at(weights, (np.zeros_like(head), place_decode.weights_level[head]), decode_a.weight_bytes[head])
    per_token = decode_b.state_bytes - decode_a.state_bytes
    some_windowed = cfg.sliding_window is not None and cfg.windowed_blocks is not None
    global_rows = np.isinf(windows) if some_windowed else np.zeros(len(windows), dtype=bool)
    full_per_token = np.zeros((pp, levels))
    np.add.at(kv_per_token, (stage_decode, place_decode.state_level), np.where(global_rows, 0.0, per_token))
    np.add.at(full_per_token, (stage_decode, place_decode.state_level), np.where(global_rows, per_token, 0.0))
    parts = np.array([name.rsplit(".", 1)[-1] for name in prefill.layers["name"]])
    working = np.where(np.isin(parts, list(ATTENTION_CHAIN)), 0.0, np.nan_to_num(prefill.activation_bytes))
    np.maximum.at(activations, (stage_prefill, place_prefill.activations_level), working)
    weights_level = int(place_decode.weights_level[0]) if len(place_decode.weights_level) else 0
    return memory_budget(layout.names, layout.capacity_bytes, weights, kv_per_token, activations, weights_level,
                         batch, context, cfg.kv_length(context), cfg.sliding_window, _context_limit(cfg),
                         full_per_token, devices_remedy=remedy)


def _notes(precision: LLMPrecision, parallelism: Parallelism, device: HardwareSpec, memory: MemoryBudget,
           traffic: TrafficModel, cfg: TransformerConfig, batch: int) -> tuple[str, ...]:
    notes = list(memory.notes)
    notes.append("roofline bound: datasheet peaks and bandwidths, per-kernel roofline summed; real stacks reach "
                 "a fraction of it")
    if cfg.defaults:
        notes.append(f"config keys left out, filled as transformers fills them: {'; '.join(cfg.defaults)}")
    fmt = precision.weights
    if fmt.group_size:
        notes.append(f"{fmt.name} weights: {fmt.weights.bits}/8 + {fmt.scale_bytes:g}/{fmt.group_size} = "
                     f"{fmt.bytes_per_weight:g} bytes per weight (one {fmt.scale_bytes:g}-byte scale per "
                     f"{fmt.group_size} weights)")
    if parallelism.devices > 1 and device.interconnect is not None:
        link = device.interconnect
        transfers = []
        if parallelism.tp > 1:
            transfers.append("ring all-reduce 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency")
        if parallelism.pp > 1:
            transfers.append("stage-to-stage hand-over bytes / bandwidth + latency")
        notes.append(f"TP {parallelism.tp} x PP {parallelism.pp} over {link.name}: "
                     f"{link.bandwidth_bytes_per_s / 1e9:g} GB/s per direction, {link.latency_s * 1e6:g} us per "
                     f"step; {'; '.join(transfers)}, not overlapped")
    if parallelism.pp > 1:
        notes.append("pipeline stages run one after another for a batch (no micro-batch overlap)")
    if cfg.experts:
        tokens = "its 1 token routes" if batch == 1 else f"its {batch} tokens route"
        notes.append(f"MoE: a decode step reads the weights of the experts {tokens} to, "
                     f"1 - (1 - {cfg.top_k}/{cfg.experts})^{batch} = "
                     f"{experts_read_fraction(cfg.experts, cfg.top_k, batch):.3g} of them on average (balanced "
                     "routing); memory holds all of them")
    if traffic.name == "weights_only":
        notes.append("traffic weights_only: weights once per batch and the KV cache per sequence; activations "
                     "stay on chip")
    return tuple(notes)
