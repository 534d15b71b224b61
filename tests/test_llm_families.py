"""Qwen3, Phi-3 and Gemma-2 configs: layers, parameter counts against the published sizes, KV-cache bytes by hand
(Gemma-2's alternating windowed and global blocks included), decode-step sanity and the command line.

The configs are the Hugging Face hub ``config.json`` files of Qwen/Qwen3-8B, Qwen/Qwen3-0.6B,
microsoft/Phi-3-mini-4k-instruct, microsoft/Phi-3-mini-128k-instruct (its 48 long and short RoPE factors shortened
to 2: they do not change any cost), microsoft/Phi-4-mini-instruct (factors left out likewise) and google/gemma-2-9b.
Published sizes: Qwen3 technical report / model cards (Qwen3-8B 8.2 B, "8.19B" on the hub; Qwen3-0.6B 0.6 B, 0.44 B
non-embedding), Phi-3 technical report and hub ("3.82B" Phi-3-mini), Gemma 2 report and hub ("9.24B" Gemma-2-9B).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import rooflinekit as rk
from rooflinekit.api import resolve_hardware
from rooflinekit.cli import main
from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError
from rooflinekit.llm import decode_step_network
from rooflinekit.llm.memory import memory_budget
from rooflinekit.networks.transformer import (
    decode_network, kv_cache_bytes, load_transformer_config, transformer_network,
)

from llm_configs import GEMMA2_9B, PHI3_MINI_4K

H100 = "H100-SXM5-80GB"
H100_BANDWIDTH = 3.35e12  # HBM3, bytes/s, the bundled spec's datasheet figure (checked below)

QWEN3_8B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 12288, "max_position_embeddings": 40960,
    "max_window_layers": 36, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
    "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_06B = {
    **QWEN3_8B, "hidden_size": 1024, "intermediate_size": 3072, "max_window_layers": 28,
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "tie_word_embeddings": True,
}
PHI3_MINI_128K = {
    **PHI3_MINI_4K, "_name_or_path": "Phi-3-mini-128k-instruct", "max_position_embeddings": 131072,
    "rope_scaling": {"long_factor": [1.0800000429153442, 1.1100000143051147],
                     "short_factor": [1.0, 1.0199999809265137], "type": "longrope"},
    "sliding_window": 262144,
}
PHI4_MINI = {
    "_name_or_path": "Phi-4-mini-instruct", "architectures": ["Phi3ForCausalLM"], "attention_bias": False,
    "hidden_act": "silu", "hidden_size": 3072, "intermediate_size": 8192, "max_position_embeddings": 131072,
    "model_type": "phi3", "num_attention_heads": 24, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "original_max_position_embeddings": 4096, "partial_rotary_factor": 0.75, "rms_norm_eps": 1e-05,
    "rope_scaling": {"type": "longrope"}, "rope_theta": 10000.0, "sliding_window": 262144,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "vocab_size": 200064,
}


def _params(network: rk.LayerNetwork) -> int:
    return int(count_network(network).totals["params"])


def _layer(network: rk.LayerNetwork, name: str) -> rk.Layer:
    return next(layer for layer in network.layers if layer.name == name)


def _strict_json(text: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------- Qwen3

def test_qwen3_8b_parameters_match_the_published_size():
    h, layers, hq, hkv, d, f, v = 4096, 36, 32, 8, 128, 12288, 151936
    per_block = (h * hq * d            # q_proj, no bias
                 + 2 * h * hkv * d     # k_proj, v_proj
                 + hq * d * h          # o_proj
                 + 3 * h * f           # gate, up, down
                 + 2 * h               # attn_norm, mlp_norm
                 + 2 * d)              # q_norm, k_norm (per head dim)
    expected = v * h + layers * per_block + h + v * h  # embed + blocks + final_norm + untied lm_head
    assert expected == 8_190_735_360
    net = transformer_network(QWEN3_8B, seq_len=8)
    assert _params(net) == expected
    assert expected == pytest.approx(8.19e9, rel=0.005)


def test_qwen3_06b_has_head_dim_128_tied_embeddings_and_qk_norms():
    h, layers, hq, hkv, d, f, v = 1024, 28, 16, 8, 128, 3072, 151936
    per_block = h * hq * d + 2 * h * hkv * d + hq * d * h + 3 * h * f + 2 * h + 2 * d
    non_embedding = layers * per_block + h
    assert non_embedding == pytest.approx(0.44e9, rel=0.005)
    cfg = load_transformer_config(QWEN3_06B)
    assert (cfg.head_dim, cfg.tied, cfg.qkv_bias, cfg.qk_norm) == (128, True, False, True)
    assert cfg.head_dim != h // hq  # 64: the explicit head_dim wins
    net = transformer_network(cfg, seq_len=8)
    assert _params(net) == non_embedding + v * h == pytest.approx(0.6e9, rel=0.01)
    q = _layer(net, "blocks.0.q_proj")
    assert q.weights[0].shape == (hq * d, h) and len(q.weights) == 1  # (2048, 1024), no bias
    q_norm, k_norm = _layer(net, "blocks.0.q_norm"), _layer(net, "blocks.0.k_norm")
    assert q_norm.op == k_norm.op == "rms_norm"
    assert q_norm.inputs[0] == (1, 8, hq, d) and k_norm.inputs[0] == (1, 8, hkv, d)
    assert q_norm.weights[0].shape == k_norm.weights[0].shape == (d,)


def test_qwen3_sliding_window_only_with_use_sliding_window_and_from_max_window_layers():
    assert load_transformer_config(QWEN3_8B).sliding_window is None
    windowed = load_transformer_config({**QWEN3_8B, "use_sliding_window": True, "sliding_window": 4096,
                                        "max_window_layers": 28})
    assert windowed.sliding_window == 4096 and windowed.windowed_blocks == frozenset(range(28, 36))
    assert [windowed.block_kv_length(i, 10_000) for i in (0, 27, 28, 35)] == [10_000, 10_000, 4096, 4096]
    # max_window_layers = all blocks (the published configs): no block is windowed
    none = load_transformer_config({**QWEN3_8B, "use_sliding_window": True, "sliding_window": 4096})
    assert none.sliding_window is None and none.windowed_blocks is None


def test_qwen3_8b_kv_cache_and_decode_bound():
    # 36 blocks x 2 (K, V) x 8 KV heads x 128 x 2 bytes x 8192 tokens
    assert kv_cache_bytes(QWEN3_8B, 1, 8192, "fp16") == 36 * 2 * 8 * 128 * 2 * 8192 == 1_207_959_552
    r = rk.predict_llm(QWEN3_8B, H100, batch=1, prompt=512, generate=64)
    assert r.precision == "weights bf16, base bf16, KV bf16"  # the config's torch_dtype
    weights_read = (8_190_735_360 - 151936 * 4096) * 2  # all but the untied embedding table, bf16
    assert r.tpot_s >= weights_read / H100_BANDWIDTH
    assert r.decode_bound == "memory:HBM3"


# ---------------------------------------------------------------- Phi-3

def test_phi3_mini_parameters_match_the_published_size():
    h, layers, f, v = 3072, 32, 8192, 32064
    per_block = (3 * h * h             # fused qkv_proj (32 heads x 96 each for q, k, v) = q, k, v projections
                 + h * h               # o_proj
                 + 2 * h * f + f * h   # fused gate_up_proj (2F x H) + down_proj
                 + 2 * h)              # input_layernorm, post_attention_layernorm
    expected = v * h + layers * per_block + h + v * h  # embed + blocks + final norm + untied lm_head
    assert expected == 3_821_079_552
    net = transformer_network(PHI3_MINI_4K, seq_len=8)
    assert _params(net) == expected == pytest.approx(3.82e9, rel=0.005)
    # the fused projections are costed as the separate ones: same weights, same MACs
    qkv = sum(_layer(net, f"blocks.0.{p}").weights[0].elements for p in ("q_proj", "k_proj", "v_proj"))
    gate_up = sum(_layer(net, f"blocks.0.{p}").weights[0].elements for p in ("gate_proj", "up_proj"))
    assert qkv == 3 * h * h and gate_up == 2 * f * h


def test_phi3_sliding_window_caps_the_keys_read_and_the_cache():
    cfg = load_transformer_config(PHI3_MINI_4K)
    assert cfg.sliding_window == 2047 and cfg.windowed_blocks is None and cfg.context_window == 4096
    step = decode_network(cfg, context_len=4000)
    assert _layer(step, "blocks.31.attn_scores").state[0].shape == (1, 32, 2047, 96)
    # 32 blocks x 2 x 32 KV heads x 96 x 2 bytes x min(4000, 2047) tokens
    assert kv_cache_bytes(cfg, 1, 4000, "fp16") == 32 * 2 * 32 * 96 * 2 * 2047 == 804_913_152
    at = {c: rk.predict_llm(PHI3_MINI_4K, H100, prompt=256, generate=8, context=c).tpot_at_context_s
          for c in (1000, 2047, 3000, 4000)}
    assert at[2047] == at[3000] == at[4000] > at[1000]  # the window stops the growth
    r = rk.predict_llm(PHI3_MINI_4K, H100, batch=1, prompt=512, generate=64)
    weights_read = (3_821_079_552 - 32064 * 3072) * 2
    assert r.tpot_s >= weights_read / H100_BANDWIDTH and r.decode_bound == "memory:HBM3"


def test_phi3_longrope_window_and_partial_rotary():
    assert load_transformer_config(PHI3_MINI_128K).context_window == 131072  # max_position_embeddings
    cfg = load_transformer_config(PHI4_MINI)
    assert (cfg.head_dim, cfg.rotary_dim, cfg.tied, cfg.kv_heads) == (128, 96, True, 8)  # 0.75 x 128
    rope = _layer(transformer_network(cfg, seq_len=4), "blocks.0.rope")
    assert rope.inputs[0] == (1, 4, (24 + 8) * 96) and rope.inputs[1] == (4, 96)
    with pytest.raises(SpecError, match="partial_rotary_factor"):
        load_transformer_config({**PHI4_MINI, "partial_rotary_factor": 1.5})


# ---------------------------------------------------------------- Gemma-2

def test_gemma2_9b_parameters_match_the_published_size():
    h, layers, hq, hkv, d, f, v = 3584, 42, 16, 8, 256, 14336, 256000
    per_block = (h * hq * d + 2 * h * hkv * d + hq * d * h   # q, k, v, o (head_dim 256: q is 4096 wide)
                 + 3 * h * f                                 # GeGLU gate, up, down
                 + 4 * h)                                    # input, post-attention, pre- and post-feedforward
    expected = v * h + layers * per_block + h  # tied table (held by lm_head) + blocks + final norm
    assert expected == 9_241_705_984
    cfg = load_transformer_config(GEMMA2_9B)
    assert (cfg.tied, cfg.embed_scale, cfg.post_norms, cfg.activation) == (True, True, True, "gelu")
    net = transformer_network(cfg, seq_len=8)
    assert _params(net) == expected == pytest.approx(9.24e9, rel=0.005)
    norms = [layer.name for layer in net.layers if layer.name.startswith("blocks.0.") and layer.op == "rms_norm"]
    assert norms == ["blocks.0.attn_norm", "blocks.0.attn_post_norm", "blocks.0.mlp_norm", "blocks.0.mlp_post_norm"]


def test_gemma2_alternates_windowed_and_global_blocks():
    cfg = load_transformer_config(GEMMA2_9B)
    assert cfg.sliding_window == 4096 and cfg.windowed_blocks == frozenset(range(0, 42, 2))
    step = decode_network(cfg, context_len=8192, weights="fp16")
    assert _layer(step, "blocks.0.attn_scores").state[0].shape == (1, 8, 4096, 256)   # even: local
    assert _layer(step, "blocks.1.attn_context").state[0].shape == (1, 8, 8192, 256)  # odd: global
    assert _layer(step, "blocks.40.attn_scores").outputs[0] == (1, 8, 2, 4096)
    assert _layer(step, "blocks.41.attn_scores").outputs[0] == (1, 8, 2, 8192)
    # layer_types, when the config gives it, decides
    kinds = ["full_attention", "sliding_attention"] * 21
    swapped = load_transformer_config({**GEMMA2_9B, "layer_types": kinds})
    assert swapped.windowed_blocks == frozenset(range(1, 42, 2))
    with pytest.raises(SpecError, match="layer_types"):
        load_transformer_config({**GEMMA2_9B, "layer_types": kinds[:-1]})


def test_gemma2_9b_kv_cache_by_hand():
    # 21 windowed blocks x 4096 tokens + 21 global blocks x 8192, x 2 (K, V) x 8 KV heads x 256 x 2 bytes
    expected = (21 * 4096 + 21 * 8192) * 2 * 8 * 256 * 2
    assert expected == 2_113_929_216
    assert kv_cache_bytes(GEMMA2_9B, 1, 8192, "fp16") == expected
    step = decode_network(GEMMA2_9B, context_len=8192, weights="fp16", kv_dtype="fp16")
    assert int(count_network(step).layers["state_bytes"].sum()) == expected
    r = rk.predict_llm(GEMMA2_9B, H100, batch=1, prompt=8064, generate=128, base="fp16")
    assert r.memory.kv_cache_bytes == expected
    # below the window every block caches all tokens: 42 x 2048 x 8192 bytes
    assert kv_cache_bytes(GEMMA2_9B, 1, 2048, "fp16") == 42 * 2048 * 2 * 8 * 256 * 2


def test_gemma2_kv_cache_per_pipeline_stage_under_tensor_parallelism():
    # TP 2 halves the 8 KV heads; PP 2 gives blocks 21-41 (10 windowed even blocks 22..40, 11 global odd ones) to
    # the last stage, which also holds the tied table in its LM head and so is the most loaded one
    r = rk.predict_llm(GEMMA2_9B, "DGX H100", prompt=8064, generate=128, base="fp16", tp=2, pp=2)
    assert r.memory.kv_cache_bytes == (10 * 4096 + 11 * 8192) * 2 * 4 * 256 * 2 == 536_870_912


def test_gemma2_decode_cost_grows_half_as_fast_past_the_window():
    # each step reads K and V of min(T, 4096) tokens in 21 blocks and of T tokens in the other 21: per extra
    # context token 42 (below the window) or 21 (past it) blocks x 2 x 8 x 256 x 2 bytes, memory-bound at batch 1
    at = {c: rk.predict_llm(GEMMA2_9B, H100, prompt=256, generate=8, base="fp16", context=c).tpot_at_context_s
          for c in (1000, 2000, 5000, 6000)}
    per_token_block = 2 * 8 * 256 * 2
    assert at[2000] - at[1000] == pytest.approx(42 * 1000 * per_token_block / H100_BANDWIDTH, rel=1e-6)
    assert at[6000] - at[5000] == pytest.approx(21 * 1000 * per_token_block / H100_BANDWIDTH, rel=1e-6)
    # the affine evaluation agrees with the decode network counted at that context
    r = rk.predict_llm(GEMMA2_9B, H100, prompt=256, generate=8, base="fp16", context=6000)
    decode = r.layers[r.layers.phase == "decode"]
    direct = count_network(decode_step_network(GEMMA2_9B, context=6000, base="fp16")).layers
    assert np.allclose(decode["ops"].to_numpy(), direct["ops"].to_numpy(), rtol=1e-9)


def test_gemma2_9b_decode_bound_and_memory():
    r = rk.predict_llm(GEMMA2_9B, H100, batch=1, prompt=512, generate=64, base="bf16")
    weights_read = 9_241_705_984 * 2  # the tied table is read in full by the LM head
    assert r.tpot_s >= weights_read / H100_BANDWIDTH and r.decode_bound == "memory:HBM3"
    assert r.memory.context_window == 8192 and r.memory.max_context_tokens == 8192


def test_memory_budget_with_windowed_and_global_blocks_by_hand():
    def budget(capacity: float) -> int | None:
        # 1 byte per token in windowed blocks (window 10), 1 in global ones, 10 bytes of weights, batch 1
        return memory_budget(("HBM",), np.array([capacity]), np.array([[10.0]]), np.array([[1.0]]),
                             np.array([[0.0]]), 0, 1, 5, 5, 10, None,
                             full_kv_bytes_per_token=np.array([[1.0]])).max_context_tokens

    assert budget(100.0) == 80  # room 90 >= 2 x 10: 10 windowed + T global bytes, T = 90 - 10
    assert budget(25.0) == 7    # room 15 < 20: 2 T <= 15
    mem = memory_budget(("HBM",), np.array([100.0]), np.array([[10.0]]), np.array([[1.0]]), np.array([[0.0]]), 0,
                        2, 30, 10, 10, None, full_kv_bytes_per_token=np.array([[1.0]]))
    assert mem.kv_cache_bytes == 2 * (10 + 30) and mem.max_batch == 2  # 90 // 40


# ---------------------------------------------------------------- command line

@pytest.mark.parametrize("config", [QWEN3_8B, PHI3_MINI_4K, GEMMA2_9B], ids=["qwen3", "phi3", "gemma2"])
def test_cli_llm_runs_each_family_as_strict_json(config, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["llm", str(path), "--hardware", H100, "--format", "json"]) == 0
    payload = _strict_json(capsys.readouterr().out)
    assert payload["fits"] is True and payload["estimate"] == "bound"
    assert math.isfinite(payload["tpot_s"]) and payload["tpot_s"] > 0


def test_h100_bandwidth_is_the_figure_the_bounds_use():
    assert resolve_hardware(H100).memories[0].bandwidth_bytes_per_s == H100_BANDWIDTH


def test_bundled_qwen3_8b_is_the_hub_config():
    bundled = load_transformer_config("Qwen3-8B")
    hub = load_transformer_config(QWEN3_8B)
    figures = ("model_type", "hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab", "tied",
               "qk_norm", "qkv_bias", "sliding_window", "context_window", "catalog_precision")
    assert [getattr(bundled, k) for k in figures] == [getattr(hub, k) for k in figures]
    assert bundled.catalog_seq_len == 2048 and bundled.aliases == ("Qwen3-8B-Base",)
    assert _params(rk.get_network("Qwen3-8B")) == 8_190_735_360
