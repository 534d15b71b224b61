"""LLM inputs a user meets (issue 11 follow-ups): configs that leave keys out (filled from the Hugging Face config
class of their model_type), a multimodal text_config without sizes, very long generations (closed-form decode
sums) and prompts longer than a sliding window.

Expected values are derived by hand in the comments; the class defaults are those of huggingface/transformers
(src/transformers/models/<family>/configuration_<family>.py), typed here from that source.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.api import CapacityWarning
from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError
from rooflinekit.llm.calibrated import CalibratedPhase, RowPricing
from rooflinekit.llm.phases import KernelCosts, series_points
from rooflinekit.llm.predict import ContextWindowWarning, predict_llm
from rooflinekit.networks.transformer import (
    ConfigDefaultWarning, bundled_transformer_configs, load_transformer_config, transformer_network,
)

sys.path.insert(0, str(Path(__file__).parent))
from llm_configs import GEMMA2_9B  # noqa: E402

H100 = "H100-SXM5-80GB"


def _quiet_load(config: dict[str, object]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigDefaultWarning)
        return load_transformer_config(config)


def _params(config) -> int:
    return int(count_network(transformer_network(config, seq_len=8)).totals["params"])


# ------------------------------------------------------------------ 1. keys left out: the config class's defaults

def test_mistral_without_num_key_value_heads_has_mistralconfigs_8_and_says_so():
    # MistralConfig: num_key_value_heads = 8, sliding_window = 4096 (not the query heads, not no window)
    bare = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
            "num_hidden_layers": 32, "vocab_size": 32000, "max_position_embeddings": 32768,
            "tie_word_embeddings": False}
    with pytest.warns(ConfigDefaultWarning) as caught:
        cfg = load_transformer_config(bare)
    message = str(caught[0].message)
    assert "num_key_value_heads = 8 (MistralConfig default)" in message
    assert "sliding_window = 4096 (MistralConfig default)" in message
    assert cfg.kv_heads == 8 and cfg.sliding_window == 4096 and cfg.windowed_blocks is None
    assert cfg.defaults == ("num_key_value_heads = 8 (MistralConfig default)",
                            "sliding_window = 4096 (MistralConfig default)")
    # KV cache per token: 32 blocks x 2 (K, V) x 8 heads x 128 dims x 2 bytes = 131,072 (not 524,288 of 32 heads)
    with pytest.warns(ConfigDefaultWarning, match="num_key_value_heads = 8"):  # warned again: each read says so
        r = predict_llm(bare, H100, prompt=1000, generate=1, base="fp16")
    assert r.memory.kv_cache_bytes == 1001 * 131_072
    assert any(note.startswith("config keys left out, filled as transformers fills them: num_key_value_heads = 8")
               for note in r.notes)


def test_null_keys_follow_the_class_rules_not_the_defaults():
    # null num_key_value_heads: every class's rule "None -> num_attention_heads"; null sliding_window: no window
    cfg = {"model_type": "mistral", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
           "num_key_value_heads": None, "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 512,
           "sliding_window": None, "tie_word_embeddings": False}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigDefaultWarning)  # rules are noted, not warned
        loaded = load_transformer_config(cfg)
    assert loaded.kv_heads == 4 and loaded.sliding_window is None
    assert loaded.defaults == ("num_key_value_heads = 4 (MistralConfig rule for null: num_attention_heads)",)
    with pytest.raises(SpecError, match=r"missing key 'hidden_size' \(a mistral config needs it; it is null"):
        load_transformer_config({**cfg, "hidden_size": None})


def test_llama_without_num_key_value_heads_uses_the_query_heads_as_llamaconfig_does():
    # LlamaConfig: num_key_value_heads None -> num_attention_heads (a rule: noted, no warning)
    cfg = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 8,
           "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 256, "tie_word_embeddings": False}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigDefaultWarning)
        loaded = load_transformer_config(cfg)
    assert loaded.kv_heads == 8
    assert loaded.defaults == ("num_key_value_heads = 8 (LlamaConfig default: num_attention_heads)",)


# model_type alone -> the class's figures, typed from each configuration_<family>.py
CLASS_DEFAULTS = {
    # (hidden, layers, heads, kv_heads, head_dim, ffn, vocab, context window)
    "llama": (4096, 32, 32, 32, 128, 11008, 32000, 2048),
    "mistral": (4096, 32, 32, 8, 128, 14336, 32000, 131072),
    "mixtral": (4096, 32, 32, 8, 128, 14336, 32000, 131072),
    "qwen2": (4096, 32, 32, 32, 128, 22016, 151936, 32768),
    "qwen3": (4096, 32, 32, 32, 128, 22016, 151936, 32768),
    "phi3": (3072, 32, 32, 32, 96, 8192, 32064, 4096),
    "gemma": (3072, 28, 16, 16, 256, 24576, 256000, 8192),
    "gemma2": (2304, 26, 8, 4, 256, 9216, 256000, 8192),
    "gpt2": (768, 12, 12, 12, 64, 3072, 50257, 1024),
    "gptj": (4096, 28, 16, 16, 256, 16384, 50400, 2048),
    "gpt_neox": (6144, 44, 64, 64, 96, 24576, 50432, 2048),
    "opt": (768, 12, 12, 12, 64, 3072, 50272, 2048),
    "bert": (768, 12, 12, 12, 64, 3072, 30522, 512),
}


@pytest.mark.parametrize("family", sorted(CLASS_DEFAULTS))
def test_a_config_of_only_model_type_takes_its_class_defaults(family):
    with pytest.warns(ConfigDefaultWarning):
        cfg = load_transformer_config({"model_type": family})
    figures = (cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.ffn, cfg.vocab, cfg.context_window)
    assert figures == CLASS_DEFAULTS[family]
    assert any("hidden_size = " in text or "n_embd = " in text for text in cfg.defaults)


def test_class_default_windows_experts_rotary_and_softcaps():
    gemma2 = _quiet_load({"model_type": "gemma2"})  # sliding_window 4096 on the even blocks, soft-caps 50 and 30
    assert gemma2.sliding_window == 4096 and gemma2.windowed_blocks == frozenset(range(0, 26, 2))
    assert (gemma2.attn_softcap, gemma2.final_softcap, gemma2.tied) == (50.0, 30.0, True)
    mixtral = _quiet_load({"model_type": "mixtral"})  # 8 experts, top-2, no window
    assert (mixtral.experts, mixtral.top_k, mixtral.sliding_window) == (8, 2, None)
    assert _quiet_load({"model_type": "gptj"}).rotary_dim == 64  # GPTJConfig.rotary_dim, not the head dim 256
    assert _quiet_load({"model_type": "gpt_neox"}).rotary_dim == 24  # 0.25 x 6144 / 64
    assert _quiet_load({"model_type": "bert"}).type_vocab == 2
    assert _quiet_load({"model_type": "opt"}).positions == 2050  # 2048 + OPT's offset of 2
    # Qwen2 with use_sliding_window but no window or first windowed block: 4096 from block 28 on
    qwen2 = _quiet_load({"model_type": "qwen2", "use_sliding_window": True})
    assert qwen2.sliding_window == 4096 and qwen2.windowed_blocks == frozenset(range(28, 32))
    assert "max_window_layers = 28 (Qwen2Config default)" in qwen2.defaults


def test_class_defaults_give_the_reference_checkpoints_parameters():
    # LlamaConfig() is Llama-2-7B: 2 x 32000 x 4096 + 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 4096
    assert _params(_quiet_load({"model_type": "llama"})) == 6_738_415_616
    # MistralConfig() is Mistral-7B: 2 x 32000 x 4096 + 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336
    # + 2 x 4096) + 4096 = 7,241,732,096
    assert _params(_quiet_load({"model_type": "mistral"})) == 7_241_732_096


def test_the_bundled_configs_fill_no_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigDefaultWarning)
        for name in bundled_transformer_configs():
            cfg = load_transformer_config(name)
            assert all("tie_word_embeddings" in text for text in cfg.defaults), (name, cfg.defaults)


# ------------------------------------------------------------------ 2. a multimodal text_config without sizes

LLAVA_15_7B = {  # llava-hf/llava-1.5-7b-hf config.json (vision_config left out: not counted)
    "architectures": ["LlavaForConditionalGeneration"], "ignore_index": -100, "image_token_index": 32000,
    "model_type": "llava", "pad_token_id": 32001, "projector_hidden_act": "gelu",
    "text_config": {"_name_or_path": "lmsys/vicuna-7b-v1.5", "architectures": ["LlamaForCausalLM"],
                    "max_position_embeddings": 4096, "model_type": "llama", "rms_norm_eps": 1e-05,
                    "torch_dtype": "float16", "vocab_size": 32064},
    "tie_word_embeddings": False, "torch_dtype": "float16", "vision_feature_layer": -2,
    "vision_feature_select_strategy": "default",
}


def test_llava_15_predicts_with_the_llama_defaults_of_its_text_config():
    with pytest.warns(ConfigDefaultWarning, match="hidden_size = 4096 \\(LlamaConfig default\\)"):
        r = predict_llm(LLAVA_15_7B, H100, prompt=900, generate=100)
    # Vicuna-7B: 32 blocks x 2 x 32 KV heads x 128 x 2 bytes = 524,288 bytes per token, 1,000 tokens
    assert r.memory.kv_cache_bytes == 1000 * 524_288
    # weights: Llama-2-7B's parameters with a 32,064-row table and LM head, at 2 bytes
    assert r.memory.weights_bytes == pytest.approx(2 * (6_738_415_616 + 2 * 64 * 4096), rel=1e-9)


# ------------------------------------------------------------------ 3. long generations: closed-form decode sums

def test_series_points_sum_a_piecewise_affine_function_exactly():
    # f(t) = max(t, 10.5) over t = 1..20: 10 x 10.5 + (11 + ... + 20) = 105 + 155 = 260
    points, weights = series_points(range(1, 21), np.array([10.5, -3.0, 99.0]))
    assert float(np.maximum(points, 10.5) @ weights) == pytest.approx(260.0, rel=1e-15)
    assert len(points) < 10  # the ends, both sides of the break, two run middles
    # no break: an arithmetic series from its middle; 1 + ... + 1,000,000 = 500,000,500,000
    points, weights = series_points(range(1, 1_000_001), np.zeros(0))
    assert float(points @ weights) == 500_000_500_000.0 and len(points) == 3
    assert [len(x) for x in series_points(range(5, 5), np.zeros(0))] == [0, 0]
    with pytest.raises(SpecError, match="step 2"):
        series_points(range(1, 9, 2), np.zeros(0))


def _one_kernel(memory_bytes: float, window: float) -> KernelCosts:
    """One kernel: compute time t seconds at KV length t (1 op per token at 1 op/s), ``memory_bytes`` moved at
    1 byte/s whatever t, its costs frozen past ``window``."""
    one, zero = np.ones(1), np.zeros(1)
    return KernelCosts(
        t0=0.0, ops0=zero, ops1=one, compute0=zero, compute1=one, moved0=np.array([[memory_bytes]]),
        moved1=np.zeros((1, 1)), overhead_s=zero, starts=np.zeros(1, dtype=np.int64),
        bandwidth_bytes_per_s=np.ones(1), labels=("compute", "memory:HBM"),
        rows=pd.DataFrame({"name": ["k"], "op": ["matmul"]}), row_ops0=zero, row_ops1=one,
        row_bytes0=np.array([memory_bytes]), row_bytes1=zero, row_window=np.array([window]),
        window=np.array([window]))


def test_step_sums_of_a_kernel_crossing_from_memory_to_compute_bound_and_windowed():
    # time(t) = max(min(t, 150), 100.5) over t = 1..200: memory-bound 100 x 100.5 = 10,050; compute-bound
    # 101 + ... + 150 = 6,275 and 50 x 150 = 7,500 past the window: 13,775; in all 23,825
    costs = _one_kernel(100.5, 150.0)
    sums = costs.step_sums(range(1, 201))
    assert sums.time_s[0] == pytest.approx(23_825.0, rel=1e-14)
    assert sums.time_by_bound_s[:, 0] == pytest.approx([13_775.0, 10_050.0], rel=1e-14)
    brute = costs.times(np.arange(1.0, 201.0))  # the step-by-step evaluation agrees
    assert brute.time_s.sum() == pytest.approx(23_825.0, rel=1e-14)


def test_calibrated_step_sum_follows_the_switch_from_the_fitted_time_to_the_bound():
    # a fitted kernel costs max(bound, 150 s) with the bound max(t, 100.5) of _one_kernel: over t = 1..200 it is
    # 150 up to t = 150, then t: 150 x 150 + (151 + ... + 200) = 22,500 + 8,775 = 31,275
    costs = _one_kernel(100.5, np.inf)
    pricing = RowPricing(time_s=np.array([150.0]), kind=np.array(["mlp_up_proj"]), absorbed=np.zeros(1, bool))
    phase = CalibratedPhase(costs, group_starts=np.zeros(1, dtype=np.int64), fixed_s=np.array([150.0]),
                            roofline=np.zeros(1, bool), overhead_s=0.0, pricing=pricing)
    assert phase.step_sum(range(1, 201)) == pytest.approx(31_275.0, rel=1e-14)
    assert phase.times(np.arange(1.0, 201.0)).sum() == pytest.approx(31_275.0, rel=1e-14)


def test_mean_step_is_the_step_at_the_mean_context_when_the_bound_does_not_change():
    # batch 1 decode is memory-bound at every context, so the step time is affine in the context and the mean
    # over the contexts P + 1 .. P + G - 1 is the time at their mean, P + G / 2
    r = predict_llm("Llama-2-7B", H100, prompt=512, generate=2048)
    mid = predict_llm("Llama-2-7B", H100, prompt=512, generate=2048, context=512 + 1024)
    assert r.tpot_s == pytest.approx(mid.tpot_at_context_s, rel=1e-12)


def test_closed_form_decode_matches_the_steps_across_a_window():
    # Gemma-2's windowed blocks stop growing at 4,096 tokens: the contexts 4,091 .. 4,103 straddle it
    r = predict_llm(GEMMA2_9B, H100, prompt=4090, generate=14, base="bf16")
    steps = [predict_llm(GEMMA2_9B, H100, prompt=4090, generate=14, base="bf16", context=c).tpot_at_context_s
             for c in range(4091, 4104)]
    assert r.tpot_s == pytest.approx(float(np.mean(steps)), rel=1e-12)
    cal = predict_llm("Llama-2-7B", "A100-SXM4-80GB", batch=8, prompt=300, generate=12, calibrated=True)
    cal_steps = [predict_llm("Llama-2-7B", "A100-SXM4-80GB", batch=8, prompt=300, generate=12, calibrated=True,
                             context=c).calibrated.tpot_at_context_s for c in range(301, 312)]
    assert cal.calibrated.tpot_s == pytest.approx(float(np.mean(cal_steps)), rel=1e-12)


def test_a_generation_of_16_million_tokens_is_costed_from_a_few_points(monkeypatch):
    evaluated: list[int] = []
    times = KernelCosts.times

    def counting(self, t):
        evaluated.append(len(np.atleast_1d(t)))
        return times(self, t)

    monkeypatch.setattr(KernelCosts, "times", counting)
    with pytest.warns(ContextWindowWarning, match="exceed its context window of 4,096 tokens"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CapacityWarning)
            r = predict_llm("Llama-2-7B", H100, prompt=512, generate=1 << 24)
    assert max(evaluated) < 1000  # not one evaluation per step (16,777,215 steps)
    assert not r.fits  # a 16.8 M-token cache of 524,288 bytes per token does not fit in 80 GB
    # memory-bound throughout: the mean step is the step at the mean context, 512 + 2^23
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mid = predict_llm("Llama-2-7B", H100, prompt=512, generate=8, context=512 + (1 << 23))
    assert r.tpot_s == pytest.approx(mid.tpot_at_context_s, rel=1e-9)


# ------------------------------------------------------------------ 4. prompts longer than a sliding window

TINY_MISTRAL = {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 64,
                "sliding_window": 4, "tie_word_embeddings": False}
"""Head dim 64 / 4 = 16; a 4-token window on both blocks."""


def test_prefill_past_the_window_counts_w_keys_per_query_and_reads_every_tokens_k_v():
    layers = count_network(transformer_network(TINY_MISTRAL, batch=2, seq_len=10)).layers.set_index("name")
    scores, context = layers.loc["blocks.0.attn_scores"], layers.loc["blocks.0.attn_context"]
    # each of the 10 queries x 4 heads attends to 4 keys: B Hq S W D = 2 x 4 x 10 x 4 x 16 = 5,120 MACs each
    assert scores["macs"] == context["macs"] == 5120
    # inputs: Q (2, 2, 2 x 10, 16) and the K of all 10 tokens (2, 2, 16, 10), fp16: (640 + 640) x 2 bytes
    assert scores["input_bytes"] == (2 * 2 * 20 * 16 + 2 * 2 * 16 * 10) * 2
    # scores (2, 2, 20, 4) and the V of all 10 tokens (2, 2, 10, 16): (320 + 640) x 2 bytes
    assert context["input_bytes"] == (2 * 2 * 20 * 4 + 2 * 2 * 10 * 16) * 2
    assert scores["state_bytes"] == 0


def test_prefill_writes_only_the_window_into_a_rolling_cache():
    # weights_only traffic: an attention row moves only its K or V written into the cache, B x min(P, W) x Hkv
    # x D x 2 bytes: windowed 2 x 4 x 2 x 16 x 2 = 512 (not 2 x 10 x ... = 1,280)
    r = predict_llm(TINY_MISTRAL, H100, batch=2, prompt=10, generate=4)
    prefill = r.layers[r.layers.phase == "prefill"].set_index("name")
    assert prefill.loc["blocks.0.attn_scores", "bytes"] == prefill.loc["blocks.1.attn_context", "bytes"] == 512
    # a global block writes all P tokens: the same model without a window
    full = predict_llm({**TINY_MISTRAL, "sliding_window": None}, H100, batch=2, prompt=10, generate=4)
    assert full.layers.set_index(["phase", "name"]).loc[("prefill", "blocks.0.attn_scores"), "bytes"] == 1280
    # held: each block caches min(14, 4) tokens: 2 x 4 x 2 blocks x 2 (K, V) x 2 x 16 x 2 bytes = 2,048
    assert r.memory.kv_cache_bytes == 2048


def test_gemma2_prefill_writes_the_window_on_local_blocks_and_all_tokens_on_global_ones():
    # Gemma-2-9B, P = 5,000 > W = 4,096: K writes of B x T x 8 heads x 256 x 2 bytes per block
    r = predict_llm(GEMMA2_9B, H100, prompt=5000, generate=2, base="bf16")
    prefill = r.layers[r.layers.phase == "prefill"].set_index("name")
    assert prefill.loc["blocks.0.attn_scores", "bytes"] == 4096 * 8 * 256 * 2
    assert prefill.loc["blocks.1.attn_scores", "bytes"] == 5000 * 8 * 256 * 2
    layers = count_network(transformer_network(GEMMA2_9B, seq_len=5000)).layers.set_index("name")
    # scores: 16 query heads x 5,000 queries x T keys x 256: T = 4,096 local, 5,000 global
    assert layers.loc["blocks.0.attn_scores", "macs"] == 16 * 5000 * 4096 * 256
    assert layers.loc["blocks.1.attn_scores", "macs"] == 16 * 5000 * 5000 * 256


def test_decode_past_the_window_reads_the_window():
    # one decode step at context 40 (> W = 4): scores B Hq W D = 2 x 4 x 4 x 16 = 512 MACs, cache (2, 2, 4, 16)
    step = count_network(rk.llm.decode_step_network(TINY_MISTRAL, batch=2, context=40, base="fp16")).layers
    row = step.set_index("name").loc["blocks.0.attn_scores"]
    assert row["macs"] == 512 and row["state_bytes"] == 2 * 2 * 4 * 16 * 2


def test_a_batch_sweep_says_the_filled_defaults_once():
    bare = {**TINY_MISTRAL}
    del bare["num_key_value_heads"]  # MistralConfig's 8 KV heads need a multiple of 8 query heads
    bare["num_attention_heads"] = 8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rk.llm.llm_batch_sweep(bare, H100, batches=[1, 2, 4], prompt=8, generate=2)
    filled = [w for w in caught if issubclass(w.category, ConfigDefaultWarning)]
    assert len(filled) == 1 and "num_key_value_heads = 8 (MistralConfig default)" in str(filled[0].message)


def test_a_generation_past_the_context_window_is_noted_in_the_result_too():
    # Llama-2-7B: max_position_embeddings 4,096; 4,000 + 200 = 4,200 tokens (4,199 fed) are beyond it
    with pytest.warns(ContextWindowWarning):
        r = predict_llm("Llama-2-7B", H100, prompt=4000, generate=200)
    assert "prompt 4,000 + generate 200 = 4,200 tokens exceed its context window of 4,096 tokens" in r.notes[-1]
    assert not any("context window of 4,096 tokens;" in n for n in predict_llm("Llama-2-7B", H100).notes)
