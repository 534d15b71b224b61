"""Memory needed per device by an LLM: weights, KV cache and activations; whether it fits; the largest batch and
context that do.

Per device (the most loaded pipeline stage), in each memory level, bytes::

    weights      = the stage's weights at their formats (TP shards: heads, FFN and vocabulary divided by TP)
    kv_cache     = B x T x blocks x 2 x Hkv x D x bytes(kv)        (Hkv: the device's KV heads, T: min(context,
                                                                     sliding window); per block when only some
                                                                     blocks have the window, as Gemma-2's)
    activations  = B x the largest single layer's inputs + outputs per sequence during the prefill, the attention
                   score chain excepted (a fused attention kernel keeps the S x T scores on chip)
    total        = weights + kv_cache + activations     <= capacity ?

Weights sit in the level that stores ``weights``, the cache in the one that stores ``state`` (else with the
activations), as :meth:`~rooflinekit.descriptors.HardwareSpec.memory_for` says. The activation figure is a lower
bound on a runtime's workspace; runtimes also reserve memory of their own (CUDA context, allocator slack), which is
not counted. Everything but the weights grows linearly with the batch B, so the largest batch is
``floor((capacity - weights) / (kv + activations per sequence))`` (the smallest over the levels), and the largest
context at batch B is ``floor((capacity - weights - B x activations) / (B x kv bytes per token))``, capped at the
model's context window (``max_position_embeddings``; a note then gives what memory alone would hold). With
windowed blocks of ``w`` bytes per token next to global ones of ``f`` (Gemma-2), the cache of a sequence is
``w min(T, W) + f T``, so the largest context is ``(room - B w W) / (B f)`` when that is at least W, else
``room / (B (w + f))``, with ``room = capacity - weights - B x activations``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rooflinekit.display import grouped

__all__ = ["MemoryBudget", "memory_budget", "size_text"]


def size_text(nbytes: float) -> str:
    """Bytes with a decimal prefix and three digits: ``13.5 GB`` (GB = 1e9 bytes)."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {prefix}B"
    return f"{nbytes:.3g} B"


@dataclass(frozen=True)
class MemoryBudget:
    """Memory of one device (the most loaded stage) in the level that holds the weights.

    Attributes
    ----------
    level : str
        The memory level (``HBM3``).
    capacity_bytes : float
        Its capacity, bytes.
    weights_bytes, kv_cache_bytes, activation_bytes, total_bytes : float
        Bytes needed at the prediction's batch and full context (prompt + generated tokens).
    fits : bool
        Every level holds what it must (on every device).
    max_batch : int
        Largest batch that fits at the full context; 0 when the weights alone do not fit.
    max_context_tokens : int or None
        Largest context (tokens per sequence) that fits at the prediction's batch, activations at its prompt, and
        that the model takes (at most ``context_window``); None when neither memory (a sliding window caps the
        cache first) nor the model limits it; 0 when not even one token fits.
    context_tokens : int
        The full context the sizes are for.
    context_window : int or None
        The model's context window (``max_position_embeddings`` or its learned positions); None when unknown.
    notes : tuple of str
        Misfits with both sizes and what to do (the largest batch that fits, or a shorter context), and what
        limits the largest batch and context.
    """

    level: str
    capacity_bytes: float
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    total_bytes: float
    fits: bool
    max_batch: int
    max_context_tokens: int | None
    context_tokens: int
    context_window: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Every field, the notes as a list."""
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out

    def __str__(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"{size_text(self.total_bytes)} of {size_text(self.capacity_bytes)} {self.level} "
                f"(weights {size_text(self.weights_bytes)} + KV cache {size_text(self.kv_cache_bytes)} + "
                f"activations {size_text(self.activation_bytes)}): {verdict}")


def memory_budget(level_names: tuple[str, ...], capacity_bytes: np.ndarray, weights_bytes: np.ndarray,
                  kv_bytes_per_token: np.ndarray, activation_bytes_per_sequence: np.ndarray, weights_level: int,
                  batch: int, context_tokens: int, kv_tokens: int, window: int | None,
                  context_window: int | None, full_kv_bytes_per_token: np.ndarray | None = None, *,
                  devices_remedy: str | None = "more devices (--tp/--pp)") -> MemoryBudget:
    """Memory per device of S pipeline stages over L levels.

    Parameters
    ----------
    level_names : tuple of str
        The L levels.
    capacity_bytes : (L,) ndarray
        Capacity of each level, bytes.
    weights_bytes : (S, L) ndarray
        Weight bytes of each stage in each level.
    kv_bytes_per_token : (S, L) ndarray
        KV-cache bytes per sequence per cached token of each stage in each level (of the windowed blocks when
        ``full_kv_bytes_per_token`` is given).
    activation_bytes_per_sequence : (S, L) ndarray
        The largest layer's activations per sequence of each stage in each level, bytes.
    weights_level : int
        The level holding the weights (the headline figures are its).
    batch : int
        Sequences B.
    context_tokens : int
        Tokens per sequence at the end (prompt + generated).
    kv_tokens : int
        Tokens cached per sequence at that context (``min(context, sliding window)``).
    window : int or None
        Sliding window (tokens) capping the cache; None: none.
    context_window : int or None
        Longest context the model takes (its ``max_position_embeddings`` or learned position table); None: no
        such limit.
    full_kv_bytes_per_token : (S, L) ndarray, optional
        KV-cache bytes per sequence per token of the blocks without the window, which cache all
        ``context_tokens`` while the others cache ``kv_tokens`` (Gemma-2's global blocks); default none.
    devices_remedy : str or None
        How more devices would be had, for a misfit's remedy (:func:`rooflinekit.llm.parallel.devices_remedy`);
        None: the split already uses every device the system holds.

    Returns
    -------
    MemoryBudget
    """
    capacity = np.asarray(capacity_bytes, dtype=np.float64)
    mixed = full_kv_bytes_per_token is not None and bool(np.any(full_kv_bytes_per_token))
    full = np.zeros_like(kv_bytes_per_token) if full_kv_bytes_per_token is None else full_kv_bytes_per_token
    kv = batch * kv_tokens * kv_bytes_per_token
    if mixed:
        kv = kv + batch * context_tokens * full
    act = batch * activation_bytes_per_sequence
    resident = weights_bytes + kv + act  # (S, L)
    over = resident > capacity[None, :] * (1 + 1e-12)
    stage = int(np.argmax(resident[:, weights_level]))
    notes: list[str] = []
    for s, level in zip(*np.nonzero(over)):
        where = f"stage {s} " if resident.shape[0] > 1 else ""
        notes.append(f"does not fit: {where}{level_names[level]} must hold {size_text(resident[s, level])} "
                     f"(weights {size_text(weights_bytes[s, level])} + KV cache {size_text(kv[s, level])} + "
                     f"activations {size_text(act[s, level])} at batch {grouped(batch)}, context "
                     f"{grouped(context_tokens)}) but has {size_text(capacity[level])}")
    per_sequence = kv_tokens * kv_bytes_per_token + activation_bytes_per_sequence
    if mixed:
        per_sequence = per_sequence + context_tokens * full
    room = capacity[None, :] - weights_bytes
    with np.errstate(divide="ignore", invalid="ignore"):
        batches = np.where(per_sequence > 0, np.floor(np.maximum(room, -1.0) / per_sequence), np.inf)
    max_batch_f = float(np.min(batches))
    if np.any(room < 0):
        max_batch = 0
        notes.append("the weights alone exceed the memory: no batch fits; " +
                     (f"use {devices_remedy} or a smaller weight format (int4, fp8)" if devices_remedy else
                      "use a smaller weight format (int4, fp8) or hardware with more memory"))
    else:
        max_batch = int(max_batch_f) if math.isfinite(max_batch_f) else batch
        if over.any():
            remedy = (f"{devices_remedy}, " if devices_remedy else "") + (
                "or smaller weight or KV-cache types (int4 weights, an fp8 cache)")
            at = f"at context {grouped(context_tokens)}"
            notes.append(f"the largest batch that fits {at} is {grouped(max_batch)}: use at most that, {remedy}"
                         if max_batch else
                         f"not even one sequence fits {at}: use a shorter prompt or generation, {remedy}")
    context_room = capacity[None, :] - weights_bytes - act
    with np.errstate(divide="ignore", invalid="ignore"):
        tokens = np.where(kv_bytes_per_token > 0,
                          np.floor(np.maximum(context_room, -1.0) / (batch * kv_bytes_per_token)), np.inf)
        if mixed and window is not None:
            both = batch * (kv_bytes_per_token + full)
            past_window = np.floor((context_room - batch * kv_bytes_per_token * window) / (batch * full))
            tokens = np.where(context_room >= both * window, np.where(full > 0, past_window, np.inf),
                              np.where(both > 0, np.floor(np.maximum(context_room, -1.0) / both), np.inf))
    kv_limit = float(np.min(tokens))
    max_context: int | None
    if kv_limit < 1:
        max_context = 0
    elif window is not None and kv_limit >= window and not mixed or math.isinf(kv_limit):
        max_context = context_window  # the cache stops growing (a sliding window) before memory runs out
    else:
        max_context = int(kv_limit)
        if context_window is not None and max_context > context_window:
            notes.append(f"the model's context window of {grouped(context_window)} tokens caps the largest context; "
                         f"memory alone would hold {grouped(max_context)} tokens at batch {grouped(batch)}")
            max_context = context_window
    return MemoryBudget(
        level=level_names[weights_level], capacity_bytes=float(capacity[weights_level]),
        weights_bytes=float(weights_bytes[stage, weights_level]), kv_cache_bytes=float(kv[stage, weights_level]),
        activation_bytes=float(act[stage, weights_level]), total_bytes=float(resident[stage, weights_level]),
        fits=not bool(over.any()), max_batch=max_batch, max_context_tokens=max_context,
        context_tokens=context_tokens, context_window=context_window, notes=tuple(notes))
