"""Fused transformer and state-space building blocks: gated activations, rotary position embeddings, linear
attention and causal convolutions with state.

Ops follow :mod:`rooflinekit.counters.elementwise`: an activation is one op per element whatever its cost in
instructions, a multiply or an add one op. Every input (the caches and position ids of a rotary embedding
included) is booked as read in full and every output as written.

- swiglu (ONNX SwiGLU, ``Y = Swish_alpha(A) * B``, A and B of one shape): the swish (1) and the multiply by B (1):
  ``other_ops = 2 * prod(Y)``.
- rotary_embedding (ONNX RotaryEmbedding): input X ``(batch, heads, seq, head_size)``, or ``(batch, seq,
  heads * head_size)`` with attr ``num_heads``; attr ``rotary_embedding_dim`` (R; 0 or absent: ``head_size``)
  rotated dims per head. Each rotated pair ``(x1, x2)`` becomes ``(x1 cos - x2 sin, x2 cos + x1 sin)``: 4
  multiplies and 2 adds, 3 ops per rotated element; the other ``head_size - R`` dims are copied:
  ``other_ops = 3 * prod(X) / head_size * R``.
- linear_attention (ONNX LinearAttention): query ``(B, T, Hq * Dk)``, key ``(B, T, Hkv * Dk)``, value ``(B, T,
  Hkv * Dv)``; attrs ``q_num_heads`` Hq, ``kv_num_heads`` Hkv and ``update_rule`` (linear, gated, delta,
  gated_delta: the default). Per token and kv head the state ``S (Dk, Dv)`` takes the outer product ``k v^T``
  (``Dk * Dv`` MACs); a gated rule first scales S by ``exp(g)`` (``Dk * Dv`` ops); a delta rule also reads
  ``S^T k`` (``Dk * Dv`` MACs), subtracts it from v and scales the difference by beta (``2 * Dv`` ops). Per token and
  query head the output ``scale * q^T S`` is ``Dk * Dv`` MACs and ``Dv`` ops:
  ``macs = B * T * (Hkv * Dk * Dv * (1 + delta) + Hq * Dk * Dv)``,
  ``other_ops = B * T * (Hkv * (gated * Dk * Dv + delta * 2 * Dv) + Hq * Dv)``. The chunked prefill algorithms
  runtimes use are not counted: this is the recurrence the op defines.
- causal_conv_with_state (ONNX CausalConvWithState): a depthwise 1-D conv of input ``(B, C, L)`` with kernel
  length k (attr ``kernel_size``) over the past state and the input: ``macs = B * C * L * k``; ``bias_ops = B * C *
  L`` with a bias; a fused SiLU (attr ``activation`` silu or swish) adds 1 op per output element, as the activation
  convention does.
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output, has_bias, output_elements
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


@DEFAULT_COUNTERS.register("swiglu")
def count_swiglu(layer: Layer) -> OpCount:
    return OpCount(other_ops=2 * output_elements(layer))


@DEFAULT_COUNTERS.register("rotary_embedding")
def count_rotary_embedding(layer: Layer) -> OpCount:
    x = first_input(layer, 3)
    if len(x) == 4:
        head_size = x[-1]
    else:
        heads = int(layer.attrs.get("num_heads", 0))
        if heads < 1 or x[-1] % heads:
            raise ShapeError(f"rotary_embedding layer {layer.name!r}: a 3-D input {list(x)} needs a 'num_heads' "
                             f"attribute dividing its last dim, got {layer.attrs.get('num_heads')!r}")
        head_size = x[-1] // heads
    rotated = int(layer.attrs.get("rotary_embedding_dim", 0)) or head_size
    if not 0 < rotated <= head_size:
        raise ShapeError(f"rotary_embedding layer {layer.name!r}: rotary_embedding_dim {rotated} must be within "
                         f"the head size {head_size}")
    return OpCount(other_ops=3 * elements(x) // head_size * rotated)


_UPDATE_RULES = {"linear": (False, False), "gated": (True, False), "delta": (False, True),
                 "gated_delta": (True, True)}
"""update_rule -> (gated, delta) of a linear_attention layer."""


@DEFAULT_COUNTERS.register("linear_attention")
def count_linear_attention(layer: Layer) -> OpCount:
    if len(layer.inputs) < 3 or any(len(shape) != 3 for shape in layer.inputs[:3]):
        raise ShapeError(f"linear_attention layer {layer.name!r} needs 3-D query, key and value inputs, got "
                         f"{[list(s) for s in layer.inputs]}")
    query, _, value = layer.inputs[:3]
    q_heads, kv_heads = int(layer.attrs.get("q_num_heads", 0)), int(layer.attrs.get("kv_num_heads", 0))
    rule = str(layer.attrs.get("update_rule", "gated_delta"))
    if q_heads < 1 or kv_heads < 1 or query[-1] % q_heads or value[-1] % kv_heads or rule not in _UPDATE_RULES:
        raise ShapeError(f"linear_attention layer {layer.name!r}: q_num_heads {q_heads} and kv_num_heads {kv_heads} "
                         f"must divide the query {list(query)} and value {list(value)} widths, and update_rule "
                         f"{rule!r} be one of {sorted(_UPDATE_RULES)}")
    gated, delta = _UPDATE_RULES[rule]
    tokens, dk, dv = query[0] * query[1], query[-1] // q_heads, value[-1] // kv_heads
    state = dk * dv
    return OpCount(macs=tokens * (kv_heads * state * (1 + delta) + q_heads * state),
                   other_ops=tokens * (kv_heads * (gated * state + delta * 2 * dv) + q_heads * dv))


@DEFAULT_COUNTERS.register("causal_conv_with_state")
def count_causal_conv_with_state(layer: Layer) -> OpCount:
    if "kernel_size" not in layer.attrs:
        raise ShapeError(f"causal_conv_with_state layer {layer.name!r} has no 'kernel_size' attribute")
    outputs = elements(first_output(layer, 3))
    activation = str(layer.attrs.get("activation", "none")).lower()
    return OpCount(macs=outputs * int(layer.attrs["kernel_size"]), bias_ops=outputs if has_bias(layer) else 0,
                   other_ops=outputs if activation in ("silu", "swish") else 0)
