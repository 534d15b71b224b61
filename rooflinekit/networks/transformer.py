"""Transformer networks from a Hugging Face style ``config.json`` (the architecture only, never the weights).

:func:`load_transformer_config` reads a config (a dict or a local JSON file) of one of the supported families
(``model_type``: llama, mistral, mixtral, qwen2, qwen3, phi3, gemma, gemma2, gpt2, gptj, gpt_neox, opt, bert) into a
:class:`TransformerConfig`; :func:`transformer_network` turns it into a :class:`~rooflinekit.descriptors.LayerNetwork`
for ``batch`` sequences of ``seq_len`` new tokens that attend to ``context_len`` keys; :func:`decode_network` is
one decode step (one new token per sequence, a KV cache of ``context_len`` tokens as layer ``state``).

Layers and names
----------------
Tensors are batch first: token activations ``(B, S, H)`` with B = ``batch``, S = ``seq_len``, H = hidden size.
Layers outside the blocks are ``embed`` (gather from the ``(V, H)`` table), ``pos_embed`` / ``type_embed`` and
``embed_add`` where the family has learned positions, ``embed_norm`` (BERT), ``final_norm`` and ``lm_head``
(decoders; Gemma-2's ``logit_softcap_div``, ``_tanh``, ``_mul`` after it), ``pooler`` (BERT) or ``qa_head``.
Block ``i`` holds layers named ``blocks.{i}.{part}``:

=====================  =================  ==========================================================================
part                   kind               shapes (``D`` head dim, ``Hq`` / ``Hkv`` query / KV heads, ``g = Hq/Hkv``,
                                          ``T`` KV length read, ``F`` FFN width, ``E`` experts, ``k`` top-k)
=====================  =================  ==========================================================================
attn_norm, mlp_norm    rms_norm /         ``(B, S, H)``, weight ``(H,)`` (+ bias ``(H,)`` for a layer norm)
                       layer_norm
attn_post_norm,        rms_norm           Gemma-2's norms of the attention and MLP outputs before their residual
mlp_post_norm                             adds: ``(B, S, H)``, weight ``(H,)``
q_proj, k_proj,        fully_connected    ``(B, S, H) -> (B, S, Hq D)`` / ``(B, S, Hkv D)``, weight ``(out, H)``
v_proj                                    (+ bias)
q_norm, k_norm         rms_norm           Qwen3's per-head norms of q and k: ``(B, S, Hq, D)`` / ``(B, S, Hkv, D)``,
                                          weight ``(D,)``
rope                   mul                ``(B, S, (Hq + Hkv) R)`` with the cos and sin tables ``(S, R)``,
                                          R = rotary dims: 2 ops per rotated element
attn_scores            matmul             ``Q (B, Hkv, g S, D) x K^T -> (B, Hkv, g S, T)``
attn_softcap_div,      div, tanh, mul     Gemma-2's soft-capping of the scores: ``(B, Hkv, g S, T)`` (module notes)
attn_softcap_tanh,
attn_softcap_mul
attn_softmax           softmax            ``(B, Hkv, g S, T)``
attn_context           matmul             ``P (B, Hkv, g S, T) x V -> (B, Hkv, g S, D)``
o_proj                 fully_connected    ``(B, S, Hq D) -> (B, S, H)``
attn_residual,         add                ``(B, S, H)``; a parallel block (GPT-J, GPT-NeoX) has one ``residual``
mlp_residual                              of three inputs
gate_proj, up_proj,    fully_connected,   gated MLP (Llama family): ``act(gate) * up``; otherwise ``up_proj``,
act, gate_mul,         activation, mul    ``act``, ``down_proj``
down_proj
router, router_softmax fully_connected,   MoE (Mixtral): router ``(B, S, H) -> (B, S, E)``, top-k; experts
router_topk, experts.  softmax, top_k     ``(B, k S, H)`` rows (each token once per chosen expert) with
gate_proj / up_proj /                     weights ``(E, F, H)`` / ``(E, H, F)`` of **all** experts, so MACs are
down_proj, experts.                       the active experts' ``B S k H F`` per projection and params all
combine                                   experts'; combine is a reduce_sum over the k expert outputs
=====================  =================  ==========================================================================

Conventions
-----------
- **Attention** computes the full ``S x T`` score matrix (a causal mask does not halve the count, as in eager
  PyTorch and most roofline tools): per block ``macs = B Hq S T D`` for the scores and again for the context.
  With a sliding window W (Mistral v0.1, Phi-3) each query attends to at most W keys, so T is
  ``min(context_len, W)`` in the MACs and the score tensors ``(B, Hkv, g S, T)``, for a prefill longer than the
  window too (``B Hq S W D``: the band of W keys per query, counted whole as the causal triangle is); a model that
  alternates windowed and global blocks (Gemma-2; Qwen2 and Qwen3 with ``use_sliding_window``) has T per block
  (:meth:`TransformerConfig.block_kv_length`), and blocks of the same T are copies of the first one.
- **KV cache** (``kv_cache=True``, the default when ``context_len > seq_len``): the score and context matmuls
  carry the K and V caches of ``T`` tokens as ``state``, ``(B, Hkv, T, D)`` each; their second operand is then
  only the new tokens' K or V ``(B, Hkv, D, S)``, ``(B, Hkv, S, D)`` (read as an input, written into the cache),
  while the MACs still cover all T keys. Cache bytes per network:
  ``B * T * layers * 2 * Hkv * D * bytes(kv dtype)``, T summed per block with per-block windows
  (:func:`kv_cache_bytes`).
  The cache holds the last ``min(context_len, W)`` tokens of a windowed block (Mistral's rolling buffer, Hugging
  Face's sliding-window cache layers), so a prefill longer than W writes only the last W tokens' K and V there
  (:func:`rooflinekit.llm.predict_llm` counts ``B min(P, W) Hkv D bytes`` written per windowed block).
  Without a cache (prefill) K and V are ordinary inputs of all ``context_len`` tokens, ``(B, Hkv, D, ctx)`` and
  ``(B, Hkv, ctx, D)`` (a windowed kernel streams every token's K and V, each query multiplying its T of them),
  and no state is carried.
- **Embeddings**: the gather reads ``B S`` rows, but the layer holds the whole ``(V, H)`` table so that
  parameters are right; a weights-only traffic model therefore reads the table once per batch (``V H`` bytes at
  the weight precision), an over-estimate by ``(V - B S) H`` elements for an untied table. A tied table
  (``tie_word_embeddings``: GPT-2, OPT, Gemma) is held by ``lm_head``, which reads all of it; ``embed`` then holds
  no weight.
- **LM head** over all ``S`` positions (``logits="all"``, a plain forward pass as in the NeuSight runs) or the
  last one (``logits="last"``, as a generation step computes).
- **Precision**: ``weights`` and ``activations`` separately (``Precision(weights, activations)`` on the network);
  ``kv_dtype`` types the cache state (default: the activation precision).
- **Fused projections** (Phi-3's ``qkv_proj`` and ``gate_up_proj`` checkpoint tensors) are built as the separate
  q/k/v and gate/up layers they concatenate: the same weights and MACs, so the same roofline cost per GEMM's work
  (one launch fewer per fused pair is not modelled).
- **Soft-capping** (Gemma-2's ``cap * tanh(x / cap)`` on the attention scores and the final logits) is built as
  Hugging Face's eager code runs it: ``attn_softcap_div``, ``attn_softcap_tanh``, ``attn_softcap_mul`` on the
  scores ``(B, Hkv, g S, T)`` after ``attn_scores``, and ``logit_softcap_div`` / ``_tanh`` / ``_mul`` on the
  logits after ``lm_head``: 3 elementwise ops per score (against the ``4 D`` = 1,024 ops of the score and context
  matmuls at D = 256: 0.3 %) and per logit (against the LM head's ``2 H`` = 7,168 at Gemma-2-9B: 0.04 %). The
  roofline fuses them into the kernel of the matmul before them, so they move no bytes of their own.
- MoE routing is assumed balanced: each token runs ``k`` experts, so a batch of ``B S`` tokens gives ``B S k``
  expert rows; all experts' weights are held (and read by a weights-only traffic model).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping

from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision, TensorSpec, tensor_bytes
from rooflinekit._limits import shown
from rooflinekit._warnings import caller_stacklevel
from rooflinekit.errors import PrecisionError, RooflineWarning, ShapeError, SpecError, UnknownNameError

Shape = tuple[int, ...]

_PACKAGE = Path(__file__).resolve().parents[1]


def _bundled_dir() -> Path:
    installed = _PACKAGE / "model_specs" / "transformers"
    return installed if installed.is_dir() else _PACKAGE.parent / "model_specs" / "transformers"


TRANSFORMER_CONFIG_DIR = _bundled_dir()
"""Folder of the bundled configs (``model_specs/transformers/*.json``)."""

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gpt2", "gptj",
                         "gpt_neox", "opt", "bert")

_ACTIVATIONS = {"silu": "swish", "swish": "swish", "gelu": "gelu", "gelu_new": "gelu", "gelu_fast": "gelu",
                "gelu_pytorch_tanh": "gelu", "gelu_python": "gelu", "quick_gelu": "gelu", "relu": "relu",
                "tanh": "tanh"}
_REQUIRED = object()

MAX_BLOCKS = 10_000
"""Most transformer blocks a config may declare (published models have up to a few hundred); a network of more
would be built layer by layer for minutes, so a larger ``num_hidden_layers`` is refused as a likely typo."""

MODEL_DTYPES = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}
"""A config's ``torch_dtype`` -> the precision a model runs at by default (other values are ignored)."""


@dataclass(frozen=True)
class TransformerConfig:
    """The architecture figures of a transformer, normalized across families.

    Attributes
    ----------
    name, source : str
        Display name and where the figures come from (the bundled configs say; a user file is named).
    model_type : str
        The Hugging Face ``model_type`` (one of :data:`SUPPORTED_MODEL_TYPES`).
    hidden, layers, heads, kv_heads, head_dim, ffn, vocab : int
        Hidden size H, blocks, query heads Hq, key/value heads Hkv (GQA when fewer than Hq), head dim D (the
        config's ``head_dim``, else H / Hq; Gemma's and Gemma-2's default to 256, Qwen3's to 128, as in Hugging
        Face), FFN width F (per expert for MoE), vocabulary V.
    positions : int
        Rows of a learned position table (0: none; RoPE families).
    type_vocab : int
        Rows of BERT's token-type table (0: none).
    norm : {"rms_norm", "layer_norm"}
        Normalization kind (a layer norm has a bias).
    activation : str
        MLP activation as a canonical op kind (``swish`` for SiLU, ``gelu``, ``relu``).
    gated : bool
        Gated MLP ``down(act(gate(x)) * up(x))`` (Llama family) rather than ``down(act(up(x)))``.
    qkv_bias, out_bias, mlp_bias, lm_head_bias : bool
        Biases of the QKV projections, the attention output projection, the MLP projections and the LM head.
    tied : bool
        LM head shares the embedding table.
    parallel : {"none", "shared_norm", "two_norms"}
        Parallel attention and MLP on the same input (GPT-J: one norm; GPT-NeoX: one per branch).
    pre_norm : bool
        Norm before each sub-block (False: after the residual add, as BERT and OPT-350m).
    rotary_dim : int
        Dims per head rotated by RoPE (0: no RoPE).
    experts, top_k : int
        MoE experts per block and experts per token (0, 0 for a dense MLP).
    encoder : bool
        Bidirectional encoder (BERT): no LM head, an embedding norm, a pooler.
    sliding_window : int or None
        Keys each query of a windowed block sees at most (Mistral v0.1's and Phi-3's ``sliding_window``; Qwen2's
        and Qwen3's only with ``use_sliding_window: true``; Gemma-2's on its local blocks); None: all.
    windowed_blocks : frozenset of int or None
        The blocks that use ``sliding_window`` (Gemma-2: the even ones; Qwen2 and Qwen3: those from
        ``max_window_layers`` on); None: every block.
    qk_norm : bool
        RMSNorm over each head's q and k before RoPE (Qwen3's ``q_norm``, ``k_norm``).
    post_norms : bool
        Norms of the attention and MLP outputs before their residual adds (Gemma-2's ``post_attention_layernorm``
        and ``post_feedforward_layernorm``), on top of the pre-norms.
    embed_scale : bool
        Embeddings multiplied by sqrt(H) (Gemma).
    attn_softcap, final_softcap : float or None
        Gemma-2's logit soft-capping ``cap * tanh(x / cap)`` of every attention score (``attn_logit_softcapping``,
        default 50) and of every output logit (``final_logit_softcapping``, default 30); None: none (a config
        setting the key to null, and every other family).
    embed_proj : int or None
        Width of OPT's word embedding when it differs from H (projected in and out).
    catalog_seq_len : int
        Tokens of the catalog entry's prefill (from the bundled file's ``rooflinekit.seq_len``; 128 otherwise).
    catalog_precision : str
        The model's own type: ``rooflinekit.precision``, else the config's ``torch_dtype`` (or ``dtype``) when it
        is float16, bfloat16 or float32 (:data:`MODEL_DTYPES`), else fp16.
    context_window : int or None
        Longest context the model was trained for (``max_position_embeddings``, GPT-2's ``n_positions``); None
        when the config does not say.
    aliases : tuple of str
        Other catalog names.
    task : str or None
        What the model is used for, for the catalog listing.
    defaults : tuple of str
        The keys the config leaves out that were filled from the Hugging Face config class of its ``model_type``,
        as ``transformers`` fills them (``"num_key_value_heads = 8 (MistralConfig default)"``; see
        :func:`load_transformer_config`); empty when the config gives every key read.
    """

    name: str
    source: str
    model_type: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    positions: int = 0
    type_vocab: int = 0
    norm: Literal["rms_norm", "layer_norm"] = "rms_norm"
    activation: str = "swish"
    gated: bool = True
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    tied: bool = False
    parallel: Literal["none", "shared_norm", "two_norms"] = "none"
    pre_norm: bool = True
    rotary_dim: int = 0
    experts: int = 0
    top_k: int = 0
    encoder: bool = False
    sliding_window: int | None = None
    windowed_blocks: frozenset[int] | None = None
    qk_norm: bool = False
    post_norms: bool = False
    embed_scale: bool = False
    attn_softcap: float | None = None
    final_softcap: float | None = None
    embed_proj: int | None = None
    catalog_seq_len: int = 128
    catalog_precision: str = "fp16"
    context_window: int | None = None
    aliases: tuple[str, ...] = field(default=())
    task: str | None = None
    defaults: tuple[str, ...] = field(default=())

    def kv_length(self, context_len: int) -> int:
        """Keys a query of a windowed block reads: ``min(context_len, sliding_window)`` (``context_len`` without a
        window)."""
        return context_len if self.sliding_window is None else min(context_len, self.sliding_window)

    def block_window(self, block: int) -> int | None:
        """The sliding window of block ``block`` (tokens), None when it attends to the whole context."""
        if self.windowed_blocks is None or block in self.windowed_blocks:
            return self.sliding_window
        return None

    def block_kv_length(self, block: int, context_len: int) -> int:
        """Keys a query of block ``block`` reads: ``min(context_len, window)``, ``context_len`` for a global
        block."""
        window = self.block_window(block)
        return context_len if window is None else min(context_len, window)


class ConfigDefaultWarning(RooflineWarning):
    """A config leaves out a size the model's figures depend on (hidden size, heads, layers, ...), so it was
    filled with the default of the Hugging Face config class of its ``model_type``, as ``transformers`` does."""


# The defaults of the Hugging Face config classes (huggingface/transformers, src/transformers/models/<family>/
# configuration_<family>.py: LlamaConfig, MistralConfig, MixtralConfig, Qwen2Config, Qwen3Config, Phi3Config,
# GemmaConfig, Gemma2Config, GPT2Config, GPTJConfig, GPTNeoXConfig, OPTConfig, BertConfig) for the sizes the
# builders read: the figures of each class's reference checkpoint, filled when a config leaves the key out. Keys
# whose class default is a rule (Llama's and Phi-3's num_key_value_heads None -> num_attention_heads, head_dim None
# -> hidden_size / num_attention_heads, GPT-2's n_inner None -> 4 x n_embd) or a boolean (tie_word_embeddings,
# biases) are applied by the family readers instead.
_HF_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama": ("LlamaConfig", {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                              "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048}),
    "mistral": ("MistralConfig", {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
                                  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                                  "max_position_embeddings": 4096 * 32, "sliding_window": 4096}),
    "mixtral": ("MixtralConfig", {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
                                  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                                  "max_position_embeddings": 4096 * 32, "num_local_experts": 8,
                                  "num_experts_per_tok": 2}),
    "qwen2": ("Qwen2Config", {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016,
                              "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                              "max_position_embeddings": 32768, "sliding_window": 4096, "max_window_layers": 28}),
    "qwen3": ("Qwen3Config", {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016,
                              "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                              "head_dim": 128, "max_position_embeddings": 32768, "sliding_window": 4096,
                              "max_window_layers": 28}),
    "phi3": ("Phi3Config", {"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
                            "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 4096}),
    "gemma": ("GemmaConfig", {"vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576,
                              "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
                              "head_dim": 256, "max_position_embeddings": 8192}),
    "gemma2": ("Gemma2Config", {"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                                "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
                                "head_dim": 256, "max_position_embeddings": 8192, "sliding_window": 4096,
                                "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0}),
    "gpt2": ("GPT2Config", {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}),
    "gptj": ("GPTJConfig", {"vocab_size": 50400, "n_positions": 2048, "n_embd": 4096, "n_layer": 28, "n_head": 16,
                            "rotary_dim": 64}),
    "gpt_neox": ("GPTNeoXConfig", {"vocab_size": 50432, "hidden_size": 6144, "num_hidden_layers": 44,
                                   "num_attention_heads": 64, "intermediate_size": 24576,
                                   "max_position_embeddings": 2048, "rotary_pct": 0.25}),
    "opt": ("OPTConfig", {"vocab_size": 50272, "hidden_size": 768, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "ffn_dim": 3072, "max_position_embeddings": 2048}),
    "bert": ("BertConfig", {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
                            "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
                            "type_vocab_size": 2}),
}


class _Reader:
    """Typed access to a config mapping; a missing or bad key is a SpecError naming it and the file, unless the
    family's Hugging Face config class has a default for it (``class_defaults``), which is then filled and
    recorded in ``filled`` as (text, figure): figure True for a class-default size (:data:`_HF_DEFAULTS`), False
    for a class rule a family reader applies (``rule``)."""

    def __init__(self, raw: Mapping[str, Any], where: str, family: str,
                 class_defaults: tuple[str, Mapping[str, Any]] = ("", {})) -> None:
        self.raw, self.where, self.family = raw, where, family
        self.class_name, self.class_defaults = class_defaults
        self.filled: list[tuple[str, bool]] = []

    def _record(self, key: str, value: Any, how: str, figure: bool) -> None:
        entry = (f"{key} = {json.dumps(value)} ({self.class_name} {how})", figure)
        if entry not in self.filled:
            self.filled.append(entry)

    def get(self, *keys: str, default: Any = _REQUIRED, rule: str | None = None) -> Any:
        """The first of ``keys`` the config sets (not null); else ``default`` (recorded as a class rule when
        ``rule`` names it); else, when the config has none of the keys at all, the class default of the first
        key the class has; else a SpecError naming the key."""
        for key in keys:
            if key in self.raw and self.raw[key] is not None:
                return self.raw[key]
        if default is not _REQUIRED:
            if rule is not None:
                self._record(keys[0], default, rule, figure=False)
            return default
        known = [key for key in keys if key in self.class_defaults]
        if known and not any(key in self.raw for key in keys):
            value = self.class_defaults[known[0]]
            self._record(known[0], value, "default", figure=True)
            return value
        names = " or ".join(repr(k) for k in keys)
        given = "is null" if any(key in self.raw for key in keys) else "is missing"
        raise SpecError(f"{self.where}: missing key {names} (a {self.family} config needs it; it {given} and "
                        f"{self.class_name or 'the config class'} has no default for it); add it to the config",
                        field=keys[0])

    def key(self, *keys: str) -> str:
        """The first of ``keys`` the config sets (not null), else the first: the key an error about the value
        names (GPT-2's ``n_embd`` or ``hidden_size``, whichever the file has)."""
        return next((key for key in keys if self.raw.get(key) is not None), keys[0])

    def int(self, *keys: str, default: Any = _REQUIRED, least: int = 1, rule: str | None = None) -> int:
        """A whole number of at least ``least`` (1: a count; 0 where none is meaningful)."""
        value = self.get(*keys, default=default, rule=rule)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            key = self.key(*keys)
            kind = "a positive integer" if least == 1 else f"an integer of at least {least}"
            raise SpecError(f"{self.where}: {key!r} must be {kind}, got {value!r}", field=key)
        return value

    def bool(self, *keys: str, default: bool, rule: str | None = None) -> bool:
        value = self.get(*keys, default=default, rule=rule)
        if not isinstance(value, bool):
            key = self.key(*keys)
            raise SpecError(f"{self.where}: {key!r} must be true or false, got {value!r}", field=key)
        return value

    def fraction(self, *keys: str, default: Any = _REQUIRED) -> float:
        """A number from 0 to 1 (a share, such as GPT-NeoX's ``rotary_pct``)."""
        value = self.get(*keys, default=default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            key = self.key(*keys)
            raise SpecError(f"{self.where}: {key!r} must be a number from 0 to 1, got {value!r}", field=key)
        return float(value)

    def activation(self, *keys: str, default: str) -> str:
        value = str(self.get(*keys, default=default))
        if value not in _ACTIVATIONS:
            key = self.key(*keys)
            raise SpecError(f"{self.where}: unknown activation {key!r} = {value!r}; known: "
                            f"{', '.join(sorted(_ACTIVATIONS))}", field=key)
        return _ACTIVATIONS[value]


_CONFIG_KINDS = ("a transformer config is a bundled config name (rooflinekit models list), a Hugging Face "
                 "config.json, or for an LLM an .onnx decoder export")


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a file that is not UTF-8 JSON text (a binary model file) is a SpecError
    saying what a config is."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the config ({exc.strerror or exc}); give the path of a config.json")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a config.json (binary, not JSON text); {_CONFIG_KINDS}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: not valid JSON ({exc}); fix the file if it is a config.json, else note that "
                        f"{_CONFIG_KINDS}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{path}: expected a JSON object (a config.json), got {type(document).__name__}")
    return document


def load_transformer_config(config: Mapping[str, Any] | str | Path, name: str | None = None) -> TransformerConfig:
    """Read a Hugging Face style transformer config.

    Parameters
    ----------
    config : mapping, str or Path
        A ``config.json`` already parsed, the path of one (or of the folder holding it, as a Hugging Face
        download does), or the name of a bundled config
        (:func:`bundled_transformer_configs`: ``"Llama-2-7B"``, ``"Mixtral-8x7B"``, ...). An optional
        ``"rooflinekit"`` object in it gives ``name``, ``aliases``, ``source``, ``task``, ``seq_len`` and
        ``precision`` of a catalog entry; Hugging Face ignores it. A multimodal config (an unsupported
        ``model_type`` whose ``text_config`` has a supported one: LLaVA, Mistral 3, PaliGemma) is read as that
        ``text_config``, taking the wrapper's ``_name_or_path`` and, where the ``text_config`` gives none, its
        ``torch_dtype``; the vision encoder and projector are not counted.

        A key the builder reads that the config leaves out is filled as ``transformers`` fills it: from the
        defaults of the Hugging Face config class of the ``model_type`` (``LlamaConfig``, ``MistralConfig``, ...;
        :data:`_HF_DEFAULTS`), so a Mistral config without ``num_key_value_heads`` has 8 KV heads, one without
        ``sliding_window`` a 4,096-token window, and LLaVA-1.5's ``text_config`` (no ``hidden_size``, ...) the
        Llama-2-7B figures of ``LlamaConfig``; where the class default is a rule, the rule (Llama's and Phi-3's
        KV heads = query heads). Every key filled is listed in ``TransformerConfig.defaults`` (and in an LLM
        prediction's notes); filling a size (not a rule or a ``tie_word_embeddings`` flag) also warns with a
        :class:`ConfigDefaultWarning` naming each key and value. A key set to null is not filled: null is no
        window for ``sliding_window`` and ``max_position_embeddings``, the query heads for
        ``num_key_value_heads`` (the classes' rule), and an error for the other sizes.
    name : str, optional
        Display name; default: the ``rooflinekit.name``, else ``_name_or_path``, else the file's folder or stem.

    Returns
    -------
    TransformerConfig

    Raises
    ------
    SpecError
        An unreadable file or one that is not JSON text (a binary model file), a key the family needs that is
        null or that is missing without a class default (named, with the file), a value of the wrong type, an
        unsupported ``model_type`` or inconsistent heads.
    UnknownNameError
        A string that is neither an existing file nor a bundled config name.

    Warns
    -----
    ConfigDefaultWarning
        When a size the config leaves out was filled from its config class's defaults (each named).
    """
    if isinstance(config, (str, Path)):
        path = Path(config)
        if path.is_dir() and (path / "config.json").is_file():  # a Hugging Face model folder
            path = path / "config.json"
        if path.is_file():
            raw, where = _read_json(path), str(path)
            default_name = path.parent.name if path.name == "config.json" else path.stem
        elif isinstance(config, str) and not str(config).endswith(".json"):
            return bundled_config(config, name)
        else:
            raise SpecError(f"{path}: no such config file; give the path of a config.json or a bundled name "
                            f"({', '.join(bundled_transformer_configs())})")
    elif isinstance(config, Mapping):
        raw, where, default_name = dict(config), "config", None
    else:
        raise SpecError(f"a transformer config must be a mapping or a file path, got {type(config).__name__}")
    meta = raw.get("rooflinekit") or {}
    if not isinstance(meta, Mapping):
        raise SpecError(f"{where}: 'rooflinekit' must be an object (name, aliases, source, seq_len)")
    model_type = raw.get("model_type")
    text = raw.get("text_config")
    wrapper = None
    if (model_type not in SUPPORTED_MODEL_TYPES and isinstance(text, Mapping)
            and text.get("model_type") in SUPPORTED_MODEL_TYPES):
        # a multimodal wrapper (LLaVA, Mistral 3, PaliGemma): its text_config is the decoder that generates; the
        # wrapper's name and float type stand where the text_config does not give its own type
        wrapper, model_type = str(model_type), text["model_type"]
        shared: dict[str, Any] = {key: raw[key] for key in ("_name_or_path", "torch_dtype", "dtype") if key in raw}
        raw = {**shared, **{key: value for key, value in text.items() if key != "_name_or_path"}}
        where = f"{where}: text_config"
    if model_type is None:
        raise SpecError(f"{where}: missing key 'model_type' (it selects the family: "
                        f"{', '.join(SUPPORTED_MODEL_TYPES)})", field="model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise SpecError(f"{where}: unsupported model_type {model_type!r}; supported: "
                        f"{', '.join(SUPPORTED_MODEL_TYPES)} (or a multimodal config whose text_config is one)",
                        field="model_type")
    r = _Reader(raw, where, model_type, _HF_DEFAULTS[model_type])
    figures = _FAMILIES[model_type](r)
    context_window = _context_window(r)
    heads, kv_heads, hidden = figures["heads"], figures["kv_heads"], figures["hidden"]
    if figures["layers"] > MAX_BLOCKS:
        raise SpecError(f"{where}: {figures['layers']} blocks (num_hidden_layers) is more than the {MAX_BLOCKS:,} "
                        "rooflinekit builds; check the value", field="num_hidden_layers")
    if heads % kv_heads:
        filled = "; ".join(text for text, _ in r.filled)
        raise SpecError(f"{where}: num_attention_heads {heads} is not a multiple of num_key_value_heads "
                        f"{kv_heads}; GQA needs whole groups" + (f" (filled: {filled}); give both keys" if filled
                                                                 else ""), field="num_key_value_heads")
    if "head_dim" not in figures:
        if hidden % heads:
            fix = ("give 'head_dim'" if _FAMILIES[model_type] is _llama_like else
                   f"a {model_type} head is hidden size / heads wide (no 'head_dim'): check the two values")
            raise SpecError(f"{where}: hidden size {hidden} is not divisible by {heads} heads; {fix}",
                            field="head_dim")
        figures["head_dim"] = hidden // heads
    display = name or meta.get("name") or raw.get("_name_or_path") or default_name or wrapper or model_type
    source = meta.get("source") or (f"built from the config file {where}" if where != "config"
                                    else f"built from a {model_type} config mapping")
    if wrapper is not None and not meta.get("source"):
        source = (f"built from the {model_type} language model ({where}) of a {wrapper} config; its vision encoder "
                  "and projector are not counted")
    return TransformerConfig(
        name=str(display), source=str(source), model_type=model_type,
        aliases=_aliases(meta, where), task=meta.get("task"),
        catalog_seq_len=_Reader(meta, f"{where}: 'rooflinekit'", model_type).int("seq_len", default=128),
        catalog_precision=_model_precision(raw, meta, where),
        context_window=context_window, defaults=_filled_defaults(r), **figures)


def _filled_defaults(r: _Reader) -> tuple[str, ...]:
    """The defaults filled while reading (``TransformerConfig.defaults``), with a :class:`ConfigDefaultWarning`
    naming them all when one is a size taken from the config class's reference checkpoint (not a rule such as
    ``num_key_value_heads = num_attention_heads``)."""
    texts = tuple(text for text, _ in r.filled)
    if any(figure for _, figure in r.filled):
        warnings.warn(f"{r.where}: keys missing from the config filled with Hugging Face's {r.class_name} "
                      f"defaults, as transformers does: {'; '.join(texts)}; if the model differs, add its own values "
                      "to the config", ConfigDefaultWarning, stacklevel=caller_stacklevel())
    return texts


def _aliases(meta: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``rooflinekit.aliases``: a list of names (a single string would be split into its characters, so it is
    refused with the fix)."""
    aliases = meta.get("aliases") or ()
    if isinstance(aliases, str) or not isinstance(aliases, (list, tuple)) or not all(
            isinstance(alias, str) for alias in aliases):
        raise SpecError(f"{where}: 'rooflinekit.aliases' must be a list of names, got {shown(aliases)}; write "
                        f"[{shown(aliases)}] for one", field="rooflinekit.aliases")
    return tuple(aliases)


def _model_precision(raw: Mapping[str, Any], meta: Mapping[str, Any], where: str) -> str:
    """``rooflinekit.precision`` (a precision :meth:`Precision.parse` reads, else a SpecError naming it), else the
    ``torch_dtype`` (or ``dtype``) of :data:`MODEL_DTYPES`, else fp16."""
    if "precision" in meta:
        try:
            Precision.parse(str(meta["precision"]))
        except (PrecisionError, SpecError) as exc:
            raise SpecError(f"{where}: 'rooflinekit' precision {shown(meta['precision'])}: {exc}",
                            field="precision") from None
        return str(meta["precision"])
    for key in ("torch_dtype", "dtype"):
        value = raw.get(key)
        if isinstance(value, str) and value.removeprefix("torch.") in MODEL_DTYPES:
            return MODEL_DTYPES[value.removeprefix("torch.")]
    return "fp16"


def _context_window(r: _Reader) -> int | None:
    """``max_position_embeddings`` (GPT-2, GPT-J: ``n_positions``; when the config leaves it out, its class
    default, :data:`_HF_DEFAULTS`), None when the config sets it to null; with a RoPE
    scaling that states the length it extends (``rope_scaling`` with ``factor`` and
    ``original_max_position_embeddings``, as YaRN gives it) the longer of the two:

        window = max(max_position_embeddings, floor(factor x original_max_position_embeddings))

    (Qwen2.5 with YaRN factor 4 over 32,768 positions: 131,072). A ``llama3`` scaling (Llama 3.1, 3.2, 3.3) keeps
    ``max_position_embeddings``, already the extended window (131,072, the published 128K): its ``factor`` scales
    the low RoPE frequencies and is not a length ratio (Llama 3.2-1B: 32 x 8,192 = 262,144, twice its window). A
    scaling that does not state the original length (``linear``, ``dynamic`` without it) leaves
    ``max_position_embeddings`` as the window: publishers differ on whether that figure is before or after the
    scaling."""
    keys = ("max_position_embeddings", "n_positions", "n_ctx")
    given = any(r.raw.get(k) is not None for k in keys)
    absent = not any(k in r.raw for k in keys)  # then the config class's default (a null value: no window)
    window = r.int(*keys) if given or absent and any(k in r.class_defaults for k in keys) else None
    scaling = r.raw.get("rope_scaling")
    if (not isinstance(scaling, Mapping) or scaling.get("original_max_position_embeddings") is None
            or scaling.get("rope_type", scaling.get("type")) == "llama3"):
        return window
    scaled = _Reader(scaling, f"{r.where}: rope_scaling", r.family)
    factor = scaled.get("factor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
        raise SpecError(f"{r.where}: 'rope_scaling.factor' must be a number >= 1, got {factor!r}",
                        field="rope_scaling.factor")
    extended = math.floor(factor * scaled.int("original_max_position_embeddings"))
    return extended if window is None else max(window, extended)


def _llama_like(r: _Reader) -> dict[str, Any]:
    """Llama and its relatives (Hugging Face defaults per family where the config may leave a key out):

    - Mistral, Mixtral: ``sliding_window`` on every block whenever given (left out: ``MistralConfig``'s 4,096,
      ``MixtralConfig``'s none; null: none); Mixtral's experts.
    - Qwen2: QKV biases (``attention_bias`` default true); ``sliding_window`` only with ``use_sliding_window``,
      then on the blocks from ``max_window_layers`` (default 28) on, or on those ``layer_types`` marks
      ``sliding_attention`` (Hugging Face's ``Qwen2Config``: the first ``max_window_layers`` blocks attend to all
      keys).
    - Qwen3: no QKV bias, ``head_dim`` default 128, RMSNorm over each head's q and k (``q_norm``, ``k_norm``);
      the sliding window as Qwen2's.
    - Phi-3 (Phi-3.5, Phi-4-mini): ``partial_rotary_factor`` of each head rotated; ``sliding_window`` on every
      block whenever given, as the keys read, the new token's own included (Phi-3-mini-4k: 2,047). That is
      Hugging Face's definition on every attention implementation: query ``i`` sees key ``j`` when
      ``i - sliding_window < j <= i`` (``masking_utils.sliding_window_overlay``, eager, SDPA and flex), and
      flash-attention is called with ``window_size = (sliding_window - 1, ...)`` (transformers issue #39408),
      which covers the same keys. Microsoft's original remote code called flash-attention with
      ``(sliding_window, sliding_window)``, one key more (2,048: 0.05 %). The checkpoint's fused ``qkv_proj``
      and ``gate_up_proj`` are built as separate projections (module notes).
    - Gemma, Gemma-2: tied embeddings scaled by sqrt(H), ``head_dim`` default 256; Gemma-2 also GeGLU
      (``hidden_activation`` default ``gelu_pytorch_tanh``), norms after attention and MLP, and a
      ``sliding_window`` (default 4,096) on the even blocks (or those ``layer_types`` marks ``sliding_attention``),
      the odd ones global, and the soft-caps ``attn_logit_softcapping`` (default 50) and
      ``final_logit_softcapping`` (default 30; null: none).
    """
    family = r.family
    hidden, heads = r.int("hidden_size"), r.int("num_attention_heads")
    layers = r.int("num_hidden_layers")
    gemma = family in ("gemma", "gemma2")
    figures: dict[str, Any] = dict(
        hidden=hidden, layers=layers, heads=heads, kv_heads=_kv_heads(r, heads), ffn=r.int("intermediate_size"),
        vocab=r.int("vocab_size"), norm="rms_norm", gated=True,
        activation=r.activation("hidden_activation", "hidden_act",
                                default="gelu_pytorch_tanh" if family == "gemma2" else "silu"),
        tied=r.bool("tie_word_embeddings", default=gemma, rule="default"),
        qkv_bias=r.bool("attention_bias", default=family == "qwen2"),
        out_bias=r.bool("attention_bias", default=False), mlp_bias=r.bool("mlp_bias", default=False),
        qk_norm=family == "qwen3", post_norms=family == "gemma2", embed_scale=gemma,
    )
    if gemma or family == "qwen3":  # Hugging Face's defaults (256, 128), not hidden / heads
        figures["head_dim"] = r.int("head_dim")
    elif r.raw.get("head_dim") is not None:
        figures["head_dim"] = r.int("head_dim")
    head_dim = figures.get("head_dim", hidden // heads)
    figures["rotary_dim"] = (int(head_dim * r.fraction("partial_rotary_factor", default=1.0)) if family == "phi3"
                             else head_dim)
    # Mistral, Mixtral and Phi-3 use a sliding window whenever they give one; Qwen2 and Qwen3 only with
    # use_sliding_window (its Hugging Face default is false); Gemma-2 always, on its local blocks
    windowed = (family in ("mistral", "mixtral", "phi3", "qwen2", "qwen3")
                and r.bool("use_sliding_window", default=family not in ("qwen2", "qwen3")))
    # a config leaving sliding_window out has its class's default (Mistral, Qwen2, Qwen3, Gemma-2: 4,096; Mixtral,
    # Phi-3: none); a null one has no window
    window_given = r.raw.get("sliding_window") is not None or (
        "sliding_window" not in r.raw and "sliding_window" in r.class_defaults)
    if family == "gemma2":
        if window_given:
            figures.update(_windows(r, layers, r.int("sliding_window"), range(0, layers, 2)))
        figures["attn_softcap"] = _softcap(r, "attn_logit_softcapping")
        figures["final_softcap"] = _softcap(r, "final_logit_softcapping")
    elif windowed and window_given:
        first = r.int("max_window_layers", least=0) if family in ("qwen2", "qwen3") else 0
        figures.update(_windows(r, layers, r.int("sliding_window"), range(first, layers)))
    if family == "mixtral":
        figures["experts"] = r.int("num_local_experts")
        figures["top_k"] = r.int("num_experts_per_tok")
        if figures["top_k"] > figures["experts"]:
            raise SpecError(f"{r.where}: num_experts_per_tok {figures['top_k']} exceeds num_local_experts "
                            f"{figures['experts']}; a token goes to at most all of them",
                            field="num_experts_per_tok")
    return figures


def _kv_heads(r: _Reader, heads: int) -> int:
    """``num_key_value_heads``; left out, the class default (Mistral, Mixtral: 8; Qwen2, Qwen3: 32; Gemma: 16;
    Gemma-2: 4), or ``heads`` where that default is None (Llama, Phi-3); null: ``heads`` (the classes' rule for
    None)."""
    key = "num_key_value_heads"
    if key in r.raw and r.raw[key] is None:
        return r.int(key, default=heads, rule="rule for null: num_attention_heads")
    if key in r.class_defaults:
        return r.int(key)
    return r.int(key, default=heads, rule="default: num_attention_heads")


def _softcap(r: _Reader, key: str) -> float | None:
    """A logit soft-cap (Gemma-2's ``attn_logit_softcapping``, ``final_logit_softcapping``): the
    ``Gemma2Config`` default (50, 30) when the config leaves the key out, None (no capping) when it sets it to
    null, else a positive number."""
    if key not in r.raw:
        return float(r.get(key))
    value = r.raw[key]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise SpecError(f"{r.where}: {key!r} must be a positive number, or null for no capping; got {shown(value)}",
                        field=key)
    return float(value)


_LAYER_TYPES = ("sliding_attention", "full_attention")


def _windows(r: _Reader, layers: int, window: int, default: range) -> dict[str, Any]:
    """``sliding_window`` and ``windowed_blocks`` of a config whose window applies to some blocks: those its
    ``layer_types`` marks ``sliding_attention`` (one entry per block, each ``sliding_attention`` or
    ``full_attention``), else the blocks in ``default``. Normalized: every block windowed gives
    ``windowed_blocks`` None, none windowed no ``sliding_window``."""
    kinds = r.raw.get("layer_types")
    if kinds is None:
        blocks = tuple(default)
    elif not isinstance(kinds, list) or len(kinds) != layers or any(kind not in _LAYER_TYPES for kind in kinds):
        raise SpecError(f"{r.where}: 'layer_types' must list {layers} entries (num_hidden_layers), each "
                        f"'sliding_attention' or 'full_attention'; got {shown(kinds)}", field="layer_types")
    else:
        blocks = tuple(i for i, kind in enumerate(kinds) if kind == "sliding_attention")
    if not blocks:
        return {}
    return {"sliding_window": window, "windowed_blocks": None if len(blocks) == layers else frozenset(blocks)}


def _gpt2(r: _Reader) -> dict[str, Any]:
    hidden = r.int("n_embd", "hidden_size")
    return dict(hidden=hidden, layers=r.int("n_layer", "num_hidden_layers"), heads=r.int("n_head"),
                kv_heads=r.int("n_head"), ffn=r.int("n_inner", default=4 * hidden), vocab=r.int("vocab_size"),
                positions=r.int("n_positions", "n_ctx"), norm="layer_norm", gated=False,
                activation=r.activation("activation_function", default="gelu_new"),
                qkv_bias=True, out_bias=True, mlp_bias=True,
                tied=r.bool("tie_word_embeddings", default=True, rule="default, from PretrainedConfig"))


def _gptj(r: _Reader) -> dict[str, Any]:
    hidden, heads = r.int("n_embd"), r.int("n_head")
    return dict(hidden=hidden, layers=r.int("n_layer"), heads=heads, kv_heads=heads,
                ffn=r.int("n_inner", default=4 * hidden), vocab=r.int("vocab_size"), norm="layer_norm",
                gated=False, activation=r.activation("activation_function", default="gelu_new"),
                mlp_bias=True, lm_head_bias=True, tied=r.bool("tie_word_embeddings", default=False, rule="default"),
                parallel="shared_norm", rotary_dim=r.int("rotary_dim"))


def _gpt_neox(r: _Reader) -> dict[str, Any]:
    hidden, heads = r.int("hidden_size"), r.int("num_attention_heads")
    pct = r.fraction("rotary_pct", "partial_rotary_factor")
    bias = r.bool("attention_bias", default=True)
    return dict(hidden=hidden, layers=r.int("num_hidden_layers"), heads=heads, kv_heads=heads,
                ffn=r.int("intermediate_size"), vocab=r.int("vocab_size"), norm="layer_norm", gated=False,
                activation=r.activation("hidden_act", default="gelu"), qkv_bias=bias, out_bias=bias,
                mlp_bias=True, tied=r.bool("tie_word_embeddings", default=False, rule="default"),
                parallel="two_norms" if r.bool("use_parallel_residual", default=True) else "none",
                rotary_dim=int(hidden // heads * pct))


def _opt(r: _Reader) -> dict[str, Any]:
    hidden = r.int("hidden_size")
    bias = r.bool("enable_bias", default=True)
    proj = r.int("word_embed_proj_dim", default=hidden)
    return dict(hidden=hidden, layers=r.int("num_hidden_layers"), heads=r.int("num_attention_heads"),
                kv_heads=r.int("num_attention_heads"), ffn=r.int("ffn_dim"), vocab=r.int("vocab_size"),
                positions=r.int("max_position_embeddings") + 2,  # OPT's learned positions are offset by 2
                norm="layer_norm", gated=False, activation=r.activation("activation_function", default="relu"),
                qkv_bias=bias, out_bias=bias, mlp_bias=bias,
                tied=r.bool("tie_word_embeddings", default=True, rule="default, from PretrainedConfig"),
                pre_norm=r.bool("do_layer_norm_before", default=True), embed_proj=None if proj == hidden else proj)


def _bert(r: _Reader) -> dict[str, Any]:
    return dict(hidden=r.int("hidden_size"), layers=r.int("num_hidden_layers"), heads=r.int("num_attention_heads"),
                kv_heads=r.int("num_attention_heads"), ffn=r.int("intermediate_size"), vocab=r.int("vocab_size"),
                positions=r.int("max_position_embeddings"), type_vocab=r.int("type_vocab_size"),
                norm="layer_norm", gated=False, activation=r.activation("hidden_act", default="gelu"),
                qkv_bias=True, out_bias=True, mlp_bias=True, pre_norm=False, encoder=True)


_FAMILIES = {"llama": _llama_like, "mistral": _llama_like, "mixtral": _llama_like, "qwen2": _llama_like,
             "qwen3": _llama_like, "phi3": _llama_like, "gemma": _llama_like, "gemma2": _llama_like, "gpt2": _gpt2,
             "gptj": _gptj, "gpt_neox": _gpt_neox, "opt": _opt, "bert": _bert}


@lru_cache(maxsize=1)
def _bundled_index() -> dict[str, Path]:
    from rooflinekit.catalog import normalize_name  # the catalog imports this module: resolve at call time

    index: dict[str, Path] = {}
    for path in sorted(TRANSFORMER_CONFIG_DIR.glob("*.json")):
        meta = _read_json(path).get("rooflinekit") or {}
        for key in (meta.get("name", path.stem), *meta.get("aliases", ()), path.stem):
            index[normalize_name(str(key))] = path
    return index


def bundled_transformer_configs() -> list[str]:
    """Names of the bundled configs (``model_specs/transformers/*.json``), e.g. ``Llama-2-7B``."""
    return sorted({str((_read_json(p).get("rooflinekit") or {}).get("name", p.stem))
                   for p in _bundled_index().values()}, key=str.casefold)


def bundled_config(query: str, name: str | None = None) -> TransformerConfig:
    """The bundled config named ``query`` (:func:`bundled_transformer_configs`, case and punctuation ignored),
    never a local file or folder of that name: what the library's own builders (MLPerf, NeuSight) use, so that a
    Hugging Face download folder named ``GPT-J-6B`` in the working directory cannot change their networks.

    Parameters
    ----------
    query : str
        A bundled config's name or alias.
    name : str, optional
        The network's name instead of the config's.

    Returns
    -------
    TransformerConfig

    Raises
    ------
    UnknownNameError
        No bundled config of that name (the close ones named).
    """
    from rooflinekit.catalog import normalize_name

    path = _bundled_index().get(normalize_name(query))
    if path is None:
        import difflib

        names = bundled_transformer_configs()
        close = difflib.get_close_matches(query, names, n=3, cutoff=0.5)
        raise UnknownNameError(f"unknown transformer config {query!r}: neither a file nor a bundled config"
                               f"{'; did you mean ' + ', '.join(close) + '?' if close else ''} (bundled: "
                               f"{', '.join(names)})", name=query, kind="transformer config", suggestions=close)
    return load_transformer_config(path, name)


class _Layers:
    """Accumulates layers; ``add`` validates through :class:`Layer`."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []

    def add(self, name: str, op: str, inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            weights: tuple[Shape, ...] = (), state: tuple[TensorSpec, ...] = (), **attrs: Any) -> None:
        # token ids (the input of a gather) are int64, as Hugging Face feeds them
        input_dtypes = (DType.INT64,) if op == "gather" else ()
        self.layers.append(Layer(name=name, op=op, inputs=inputs, outputs=outputs, input_dtypes=input_dtypes,
                                 weights=tuple(TensorSpec(shape=w) for w in weights), state=state, attrs=attrs))

    def linear(self, name: str, x: Shape, out: int, bias: bool, experts: int = 0) -> Shape:
        """A fully-connected layer ``x (..., K) -> (..., out)``, weight ``(out, K)`` or ``(E, out, K)``."""
        k = x[-1]
        weight: Shape = (experts, out, k) if experts else (out, k)
        weights: tuple[Shape, ...] = (weight, ((experts, out) if experts else (out,))) if bias else (weight,)
        y = (*x[:-1], out)
        self.add(name, "fully_connected", (x,), (y,), weights, bias=bias)
        return y

    def norm(self, name: str, kind: str, x: Shape) -> None:
        h = x[-1]
        self.add(name, kind, (x,), (x,), ((h,), (h,)) if kind == "layer_norm" else ((h,),))


def transformer_network(config: TransformerConfig | Mapping[str, Any] | str | Path, *, batch: int = 1,
                        seq_len: int | None = None, context_len: int | None = None, kv_cache: bool | None = None,
                        weights: str | DType | None = None, activations: str | DType | None = None,
                        kv_dtype: str | DType | None = None, logits: Literal["all", "last"] = "all",
                        head: Literal["auto", "lm", "pooler", "qa", "none"] = "auto",
                        name: str | None = None) -> LayerNetwork:
    """The layers of a transformer forward pass over ``batch`` sequences.

    Parameters
    ----------
    config : TransformerConfig, mapping, str or Path
        A parsed config, a ``config.json`` mapping or path, or a bundled config name (see
        :func:`load_transformer_config`).
    batch : int
        Sequences B; every shape's leading dim.
    seq_len : int, optional
        Tokens S processed per sequence (the prompt for a prefill, 1 for a decode step); default: the config's
        catalog ``seq_len``.
    context_len : int, optional
        Tokens per sequence the attention reads, the new ones included (KV length before a sliding window);
        default ``seq_len`` (a prefill without earlier context). Must be >= ``seq_len``.
    kv_cache : bool, optional
        Carry the K and V caches of ``context_len`` tokens as layer ``state`` (see the module notes); default:
        True when ``context_len > seq_len`` (decode, chunked prefill), else False. Encoders have none.
    weights, activations : str or DType, optional
        Weight and activation precision (``"fp16"``, ``"int8"``, ``"int4"``, ...); default the config's catalog
        precision (its ``rooflinekit.precision`` or ``torch_dtype``, else fp16) for weights, and the weight precision
        for activations.
    kv_dtype : str or DType, optional
        Data type of the KV-cache state; default: the activation precision.
    logits : {"all", "last"}
        LM head over every position of the sequence or only the last one.
    head : {"auto", "lm", "pooler", "qa", "none"}
        Output head: an LM head (decoders' default), BERT's pooler (encoders' default), a SQuAD span head (two
        logits per token, the MLPerf BERT) or none.
    name : str, optional
        Network name; default ``"{config name} b{B} s{S} ctx{T}"``.

    Returns
    -------
    LayerNetwork
        ``batch`` = B, precision ``Precision(weights, activations)``; layers named as in the module notes.

    Raises
    ------
    SpecError
        Non-positive sizes, ``context_len < seq_len``, a sequence longer than a learned position table, or a
        config error (see :func:`load_transformer_config`).
    """
    cfg = config if isinstance(config, TransformerConfig) else load_transformer_config(config)
    s = cfg.catalog_seq_len if seq_len is None else seq_len
    ctx = s if context_len is None else context_len
    for label, value in (("batch", batch), ("seq_len", s), ("context_len", ctx)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"{cfg.name}: {label} must be a positive integer, got {value!r}")
    if ctx < s:
        raise SpecError(f"{cfg.name}: context_len {ctx} is shorter than seq_len {s}; the context includes the "
                        f"tokens being processed")
    if cfg.positions and ctx > cfg.positions - (2 if cfg.model_type == "opt" else 0):
        raise SpecError(f"{cfg.name}: context of {ctx} tokens exceeds the {cfg.positions} learned positions; "
                        f"use at most that many")
    cache = (ctx > s) if kv_cache is None else kv_cache
    if cfg.encoder:
        cache = False
    weight_type = DType.parse(weights if weights is not None else cfg.catalog_precision)
    precision = Precision(weights=weight_type,
                          activations=DType.parse(activations) if activations is not None else weight_type)
    kv_type = DType.parse(kv_dtype) if kv_dtype is not None else None
    if logits not in ("all", "last"):
        raise SpecError(f"{cfg.name}: logits must be 'all' or 'last', got {logits!r}")
    if head not in ("auto", "lm", "pooler", "qa", "none"):
        raise SpecError(f"{cfg.name}: head must be one of auto, lm, pooler, qa, none; got {head!r}")
    if head == "auto":
        head = "pooler" if cfg.encoder else "lm"
    b, h = batch, cfg.hidden
    tokens: Shape = (b, s, h)
    out = _Layers()

    # embeddings
    width = cfg.embed_proj or h
    emb: Shape = (b, s, width)
    out.add("embed", "gather", ((b, s),), (emb,), () if cfg.tied else ((cfg.vocab, width),))
    if cfg.embed_scale:
        out.add("embed_scale", "mul", (emb,), (emb,))
    if cfg.embed_proj:
        out.linear("embed_proj_in", emb, h, bias=False)
    if cfg.positions:
        out.add("pos_embed", "gather", ((b, s),), (tokens,), ((cfg.positions, h),))
        if cfg.type_vocab:
            out.add("type_embed", "gather", ((b, s),), (tokens,), ((cfg.type_vocab, h),))
        n_sum = 3 if cfg.type_vocab else 2
        out.add("embed_add", "add", (tokens,) * n_sum, (tokens,))
    if cfg.encoder:
        out.norm("embed_norm", cfg.norm, tokens)

    # blocks: the first block of each KV length is built and validated, the others are renamed copies
    templates: dict[int, tuple[int, list[Layer]]] = {}
    for i in range(cfg.layers):
        t, prefix = cfg.block_kv_length(i, ctx), f"blocks.{i}."
        if t in templates:
            cut, template = templates[t]
            out.layers.extend(layer.model_copy(update={"name": prefix + layer.name[cut:]}) for layer in template)
        else:
            first = len(out.layers)
            _block(out, cfg, prefix, tokens, (t, ctx), cache, kv_type)
            templates[t] = (len(prefix), out.layers[first:])

    # heads
    if cfg.pre_norm and not cfg.encoder:
        out.norm("final_norm", cfg.norm, tokens)
    if head == "lm":
        rows = s if logits == "all" else 1
        x: Shape = (b, rows, h)
        if cfg.embed_proj:
            x = out.linear("embed_proj_out", x, cfg.embed_proj, bias=False)
        logits_shape = out.linear("lm_head", x, cfg.vocab, cfg.lm_head_bias)
        if cfg.final_softcap is not None:
            _softcap_layers(out, "logit_softcap", logits_shape, cfg.final_softcap)
    elif head == "pooler":
        pooled = out.linear("pooler", (b, 1, h), h, bias=True)
        out.add("pooler_act", "tanh", (pooled,), (pooled,))
    elif head == "qa":
        out.linear("qa_head", tokens, 2, bias=True)
    label = name or f"{cfg.name} b{b} s{s} ctx{ctx}"
    return LayerNetwork(name=label, aliases=() if name is None else (), task=cfg.task, precision=precision,
                        batch=b, layers=tuple(out.layers),
                        source=f"{cfg.source}; layers built by rooflinekit.networks.transformer "
                               f"(batch {b}, seq_len {s}, context_len {ctx}, kv_cache {cache})")


def _block(out: _Layers, cfg: TransformerConfig, p: str, tokens: Shape, lengths: tuple[int, int], cache: bool,
           kv_type: DType | None) -> None:
    """One block named ``{p}{part}`` at ``tokens`` ``(B, S, H)``, each query of its attention reading ``t`` keys
    of a context of ``ctx`` tokens (``lengths = (t, ctx)``, ``t < ctx`` under a sliding window): a cache of ``t``
    tokens as state when ``cache`` (typed ``kv_type``), else the K and V of all ``ctx`` tokens as inputs."""
    t, ctx = lengths
    b, s, h = tokens
    d, hq, hkv = cfg.head_dim, cfg.heads, cfg.kv_heads
    g, q_out, kv_out = hq // hkv, hq * d, hkv * d
    scores: Shape = (b, hkv, g * s, t)
    if cfg.pre_norm:
        out.norm(p + "attn_norm", cfg.norm, tokens)
    out.linear(p + "q_proj", tokens, q_out, cfg.qkv_bias)
    out.linear(p + "k_proj", tokens, kv_out, cfg.qkv_bias)
    out.linear(p + "v_proj", tokens, kv_out, cfg.qkv_bias)
    if cfg.qk_norm:
        out.norm(p + "q_norm", cfg.norm, (b, s, hq, d))
        out.norm(p + "k_norm", cfg.norm, (b, s, hkv, d))
    if cfg.rotary_dim:
        rotated: Shape = (b, s, (hq + hkv) * cfg.rotary_dim)
        table: Shape = (s, cfg.rotary_dim)
        out.add(p + "rope", "mul", (rotated, table, table), (rotated,))
    k_state: tuple[TensorSpec, ...] = ()
    v_state: tuple[TensorSpec, ...] = ()
    new = s if cache else ctx  # K, V read besides the cache: the new tokens', or (no cache) every token's
    if cache:
        k_state = (TensorSpec(shape=(b, hkv, t, d), dtype=kv_type),)
        v_state = (TensorSpec(shape=(b, hkv, t, d), dtype=kv_type),)
    out.add(p + "attn_scores", "matmul", ((b, hkv, g * s, d), (b, hkv, d, new)), (scores,), state=k_state)
    if cfg.attn_softcap is not None:
        _softcap_layers(out, p + "attn_softcap", scores, cfg.attn_softcap)
    out.add(p + "attn_softmax", "softmax", (scores,), (scores,), axis=-1)
    out.add(p + "attn_context", "matmul", (scores, (b, hkv, new, d)), ((b, hkv, g * s, d),), state=v_state)
    out.linear(p + "o_proj", (b, s, q_out), h, cfg.out_bias)
    _sublayer_end(out, cfg, p, "attn", tokens)
    if cfg.parallel == "two_norms" or cfg.parallel == "none" and cfg.pre_norm:
        out.norm(p + "mlp_norm", cfg.norm, tokens)
    _mlp(out, cfg, p, tokens)
    _sublayer_end(out, cfg, p, "mlp", tokens)
    if cfg.parallel != "none":  # attention and MLP side by side: one add of both to the input
        out.add(p + "residual", "add", (tokens, tokens, tokens), (tokens,))


def _softcap_layers(out: _Layers, prefix: str, x: Shape, cap: float) -> None:
    """Gemma-2's soft-capping ``cap * tanh(x / cap)`` of a tensor of shape ``x``, as Hugging Face's eager code runs
    it: a division, a tanh and a multiplication (layers ``{prefix}_div``, ``{prefix}_tanh``, ``{prefix}_mul``),
    one op per element each."""
    out.add(prefix + "_div", "div", (x,), (x,), cap=cap)
    out.add(prefix + "_tanh", "tanh", (x,), (x,))
    out.add(prefix + "_mul", "mul", (x,), (x,), cap=cap)


def _sublayer_end(out: _Layers, cfg: TransformerConfig, p: str, part: str, tokens: Shape) -> None:
    """What follows the attention or the MLP (``part``: ``attn``, ``mlp``): Gemma-2's norm of its output, then in
    a sequential block its residual add and, in a post-norm model (BERT), the norm after that add."""
    if cfg.post_norms:
        out.norm(p + f"{part}_post_norm", cfg.norm, tokens)
    if cfg.parallel == "none":
        out.add(p + f"{part}_residual", "add", (tokens, tokens), (tokens,))
        if not cfg.pre_norm:
            out.norm(p + f"{part}_norm", cfg.norm, tokens)


def _mlp(out: _Layers, cfg: TransformerConfig, p: str, tokens: Shape) -> None:
    """Dense MLP (gated or not) or a top-k MoE layer at ``tokens`` ``(B, S, H)``."""
    b, s, h = tokens
    if cfg.experts:
        e, k = cfg.experts, cfg.top_k
        out.linear(p + "router", tokens, e, bias=False)
        logits: Shape = (b, s, e)
        out.add(p + "router_softmax", "softmax", (logits,), (logits,), axis=-1)
        out.add(p + "router_topk", "top_k", (logits,), ((b, s, k),), k=k)
        rows: Shape = (b, s * k, h)
        gate = out.linear(p + "experts.gate_proj", rows, cfg.ffn, cfg.mlp_bias, experts=e)
        out.linear(p + "experts.up_proj", rows, cfg.ffn, cfg.mlp_bias, experts=e)
        out.add(p + "experts.act", cfg.activation, (gate,), (gate,))
        out.add(p + "experts.gate_mul", "mul", (gate, gate), (gate,))
        out.linear(p + "experts.down_proj", gate, h, cfg.mlp_bias, experts=e)
        out.add(p + "experts.combine", "reduce_sum", ((b, s, k, h),), (tokens,), axes=(2,), keepdims=False)
        return
    if cfg.gated:
        gate = out.linear(p + "gate_proj", tokens, cfg.ffn, cfg.mlp_bias)
        out.linear(p + "up_proj", tokens, cfg.ffn, cfg.mlp_bias)
        out.add(p + "act", cfg.activation, (gate,), (gate,))
        out.add(p + "gate_mul", "mul", (gate, gate), (gate,))
    else:
        gate = out.linear(p + "up_proj", tokens, cfg.ffn, cfg.mlp_bias)
        out.add(p + "act", cfg.activation, (gate,), (gate,))
    out.linear(p + "down_proj", gate, h, cfg.mlp_bias)


def decode_network(config: TransformerConfig | Mapping[str, Any] | str | Path, *, batch: int = 1,
                   context_len: int, **options: Any) -> LayerNetwork:
    """One decode step: one new token per sequence reading a KV cache of ``context_len`` tokens.

    Parameters
    ----------
    config : TransformerConfig, mapping, str or Path
        As :func:`transformer_network`.
    batch : int
        Sequences decoded together.
    context_len : int
        Tokens in each sequence's KV cache, the new one included (prompt + tokens generated so far).
    **options
        Other keywords of :func:`transformer_network` (``weights``, ``activations``, ``kv_dtype``, ``name``);
        ``logits`` is ``"last"`` (one row per sequence, which is S = 1 anyway).

    Returns
    -------
    LayerNetwork
        ``transformer_network(config, batch=batch, seq_len=1, context_len=context_len, kv_cache=True)``; its
        state bytes are :func:`kv_cache_bytes`.
    """
    if "seq_len" in options or "kv_cache" in options:
        raise SpecError("decode_network sets seq_len=1 and kv_cache=True itself; use transformer_network for "
                        "other shapes")
    return transformer_network(config, batch=batch, seq_len=1, context_len=context_len, kv_cache=True, **options)


def kv_cache_bytes(config: TransformerConfig | Mapping[str, Any] | str | Path, batch: int, context_len: int,
                   dtype: str | DType = "fp16") -> int:
    """Bytes of the KV cache of ``batch`` sequences of ``context_len`` tokens.

    ``bytes = B * T * layers * 2 * Hkv * D * bits / 8`` with ``T = min(context_len, sliding_window)`` (K and V per
    layer, per KV head, per head dim), rounded up per cache tensor as the counters do. With windowed and global
    blocks (Gemma-2) each block holds its own T: ``min(context_len, sliding_window)`` or ``context_len``.

    Parameters
    ----------
    config : TransformerConfig, mapping, str or Path
        As :func:`transformer_network`.
    batch, context_len : int
        Sequences and tokens per sequence.
    dtype : str or DType
        Cache data type (fp16: 2 bytes per element).

    Returns
    -------
    int
        Bytes.
    """
    cfg = config if isinstance(config, TransformerConfig) else load_transformer_config(config)
    if batch < 1 or context_len < 1:
        raise ShapeError(f"batch and context_len must be positive, got {batch} and {context_len}")
    kv_type = DType.parse(dtype)
    per_tensor = (tensor_bytes(batch * cfg.kv_heads * cfg.block_kv_length(i, context_len) * cfg.head_dim, kv_type)
                  for i in range(cfg.layers))
    return 0 if cfg.encoder else 2 * sum(per_tensor)


def block_of(layer_name: str) -> int | None:
    """The block index of a layer named ``blocks.{i}.{part}`` (None for layers outside the blocks)."""
    if layer_name.startswith("blocks."):
        head = layer_name.split(".", 2)[1]
        return int(head) if head.isdigit() else None
    return None


def catalog_networks(folder: str | Path = TRANSFORMER_CONFIG_DIR) -> list[LayerNetwork]:
    """Transformer configs as catalog entries.

    Parameters
    ----------
    folder : str or Path
        A folder of ``*.json`` configs (default: the bundled ``model_specs/transformers``); absent: none.

    Returns
    -------
    list of LayerNetwork
        Per config, a prefill of the file's ``rooflinekit.seq_len`` tokens at batch 1 and its precision, named
        and aliased as the file says.
    """
    networks = []
    for path in sorted(Path(folder).glob("*.json")):
        cfg = load_transformer_config(path)
        net = transformer_network(cfg, name=cfg.name)
        networks.append(net.model_copy(update={"aliases": cfg.aliases}))
    return networks

