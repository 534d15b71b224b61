"""A capacity planner's second trial of ``rooflinekit llm`` / ``predict_llm``: the defects it found, each pinned by
a test that failed before its fix, with expected values from hand derivations and the models' published
definitions (never read from the code's output).

Gemma-2-9B (google/gemma-2-9b ``config.json``): H 3584, 42 blocks, 16 query heads and 8 KV heads of dim 256, F
14336, V 256000, tied table; ``attn_logit_softcapping`` 50.0, ``final_logit_softcapping`` 30.0. Hugging Face's
``Gemma2Attention`` (eager) computes ``scores = scores / cap; scores = tanh(scores); scores = scores * cap`` on
every attention score, and ``Gemma2ForCausalLM`` does the same on every logit with the final cap: three
elementwise ops per score and per logit, one op each by the counters' convention (an activation is one op per
element).

Also: the calibrated estimate of a GEMM kernel with a layer fused after it (Gemma-2's post-norms, an ONNX residual
add), multimodal configs (Mistral-Small-3.1's ``text_config``), Llama 3.2's context window (``llama3`` RoPE
scaling) and the first pipeline stage of a tied-embedding model; Phi-3's sliding window is checked against Hugging
Face's mask definition (not a defect).
"""

from __future__ import annotations

import dataclasses
import warnings

import pytest

import rooflinekit as rk
from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError
from rooflinekit.networks.transformer import (
    ConfigDefaultWarning, decode_network, load_transformer_config, transformer_network,
)

from llm_configs import GEMMA2_9B, PHI3_MINI_4K

A100 = "A100-SXM4-80GB"


def _decode_rows(result: rk.LLMResult, names: list[str]) -> dict[str, float]:
    rows = result.layers[(result.layers.phase == "decode") & result.layers.name.isin(names)]
    return dict(zip(rows.name, rows.calibrated_time_s))


# ---------------------------------------------------------------- calibrated: a norm fused into a fitted GEMM

def test_calibrated_gemm_is_not_priced_twice_when_a_norm_fuses_into_it():
    # Gemma-2's post-norms follow the output and down projections, so the bound fuses each into its GEMM's kernel.
    # A vLLM-style stack runs each as an RMSNorm kernel of its own: the calibrated time of those kernels is the
    # same model's without the post-norms plus one fitted RMSNorm over (1 token, 3584) -- the price of block 0's
    # attn_norm, an RMSNorm of that shape in a kernel of its own. Before the fix the whole kernel's roofline (the
    # GEMM's own weight read: 3584 x 4096 x 2 bytes / 2.04 TB/s = 14.4 us for o_proj) was added on top instead.
    cfg = load_transformer_config(GEMMA2_9B)
    names = ["blocks.0.attn_norm", "blocks.0.o_proj", "blocks.0.down_proj", "blocks.1.o_proj",
             "blocks.1.down_proj"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [rk.predict_llm(c, A100, batch=1, prompt=512, generate=16, base="fp16", calibrated=True)
                for c in (cfg, dataclasses.replace(cfg, post_norms=False))]
    with_norms, without = (_decode_rows(r, names) for r in runs)
    norm = with_norms["blocks.0.attn_norm"]
    assert norm == without["blocks.0.attn_norm"] > 0
    for name in names[1:]:
        assert with_norms[name] == pytest.approx(without[name] + norm, rel=1e-9), name
    kinds = runs[0].layers.set_index(["phase", "name"])["calibrated_kind"]
    assert kinds[("decode", "blocks.0.attn_post_norm")] == kinds[("decode", "blocks.0.mlp_post_norm")] == (
        "input_layernorm")


def test_calibrated_gemm_with_an_elementwise_layer_fused_after_it_is_priced_once(tmp_path):
    # An ONNX decoder's residual Add after the output and down projections fuses into the GEMM's bound kernel. The
    # calibrated kernel is the GEMM's operator-model price (the fitted kernel, well above its bound at these sizes),
    # computed here on its own from the same pass; before the fix the kernel's roofline and the fitted fixed cost
    # of an unfitted kernel (about 1.9 us on an A100) were added on top
    pytest.importorskip("onnx")
    from rooflinekit.api import resolve_hardware
    from rooflinekit.llm.calibrated import load_llm_calibration
    from rooflinekit.llm.kv_inputs import decoder_inputs
    from rooflinekit.llm.onnx_calibrated import price_onnx_rows
    from rooflinekit.llm.onnx_phases import OnnxOptions, onnx_phase
    from rooflinekit.llm.parallel import Parallelism
    from test_llm_onnx_parallel import _llama_onnx

    path = _llama_onnx(tmp_path / "decoder.onnx", layers=2, lm=True)
    phase = onnx_phase(decoder_inputs(path), 1, 1, "fp16", OnnxOptions(parallelism=Parallelism(1, 1)))
    pricing = price_onnx_rows(phase.network, phase.device_a, phase.split, 1, resolve_hardware(A100), 1,
                              load_llm_calibration())
    fitted = dict(zip((layer.name for layer in phase.network.layers), pricing.time_s))
    names = [layer.name for layer in phase.network.layers]
    for gemm, add in (("layers.0.o_proj", "layers.0.attn_residual"), ("layers.1.down_proj", "layers.1.mlp_residual")):
        assert names[names.index(gemm) + 1] == add and fitted[gemm] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rk.predict_llm(str(path), A100, batch=1, prompt=64, generate=8, base="fp16", calibrated=True)
    calibrated = _decode_rows(r, ["layers.0.o_proj", "layers.1.down_proj"])
    for gemm in calibrated:
        assert calibrated[gemm] == pytest.approx(fitted[gemm], rel=1e-9), gemm


# ---------------------------------------------------------------- Gemma-2 logit soft-capping

def _ops(network: rk.LayerNetwork) -> int:
    return int(count_network(network).totals["ops"])


NO_CAPS = {**GEMMA2_9B, "attn_logit_softcapping": None, "final_logit_softcapping": None}


def test_gemma2_soft_capping_is_three_ops_per_score_and_per_logit_in_a_decode_step():
    # one token (S = 1) at context 8,192: 21 windowed blocks read 4,096 keys, 21 global ones 8,192; per block
    # B Hq S T scores = 16 T, each divided, tanh'd and multiplied; then 3 ops on each of the V = 256,000 logits
    per_block = 3 * 16 * (21 * 4096 + 21 * 8192)
    assert per_block == 12_386_304
    expected = per_block + 3 * 256_000
    capped = decode_network(GEMMA2_9B, context_len=8192, weights="fp16")
    uncapped = decode_network(NO_CAPS, context_len=8192, weights="fp16")
    assert _ops(capped) - _ops(uncapped) == expected == 13_154_304
    names = [layer.name for layer in capped.layers]
    i = names.index("blocks.0.attn_scores")
    assert names[i + 1:i + 5] == ["blocks.0.attn_softcap_div", "blocks.0.attn_softcap_tanh",
                                  "blocks.0.attn_softcap_mul", "blocks.0.attn_softmax"]
    assert names[-4:] == ["lm_head", "logit_softcap_div", "logit_softcap_tanh", "logit_softcap_mul"]


def test_gemma2_soft_capping_in_a_prefill_by_hand():
    # batch 2, prompt 64 (within the 4,096 window: every block reads 64 keys), logits of every position:
    # 42 blocks x 3 x B Hq S T + 3 x B S V
    expected = 42 * 3 * 2 * 16 * 64 * 64 + 3 * 2 * 64 * 256_000
    assert expected == 16_515_072 + 98_304_000 == 114_819_072
    capped = transformer_network(GEMMA2_9B, batch=2, seq_len=64, weights="fp16")
    uncapped = transformer_network(NO_CAPS, batch=2, seq_len=64, weights="fp16")
    assert _ops(capped) - _ops(uncapped) == expected


def test_gemma2_soft_caps_read_from_the_config():
    # Hugging Face's Gemma2Config defaults: attn_logit_softcapping 50.0, final_logit_softcapping 30.0
    cfg = load_transformer_config(GEMMA2_9B)
    assert (cfg.attn_softcap, cfg.final_softcap) == (50.0, 30.0)
    left_out = {k: v for k, v in GEMMA2_9B.items() if not k.endswith("softcapping")}
    with pytest.warns(ConfigDefaultWarning, match=r"attn_logit_softcapping = 50.0 \(Gemma2Config default\); "
                                                  r"final_logit_softcapping = 30.0 \(Gemma2Config default\)"):
        filled = load_transformer_config(left_out)
    assert (filled.attn_softcap, filled.final_softcap) == (50.0, 30.0)
    off = load_transformer_config(NO_CAPS)
    assert (off.attn_softcap, off.final_softcap) == (None, None)
    assert load_transformer_config("Llama-2-7B").attn_softcap is None  # other families have none
    for bad in (-1.0, 0, "50", True, float("nan")):
        with pytest.raises(SpecError, match="attn_logit_softcapping"):
            load_transformer_config({**GEMMA2_9B, "attn_logit_softcapping": bad})


def test_gemma2_soft_capping_fuses_and_keeps_the_scores_off_memory():
    # the caps fuse into the score product's kernel (FlashAttention's softcap): the activation memory and the bytes
    # moved are those of the uncapped model; the decode step, memory-bound at batch 1, is unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped, uncapped = (rk.predict_llm(c, "H100-SXM5-80GB", batch=4, prompt=4096, generate=16, base="bf16")
                            for c in (GEMMA2_9B, NO_CAPS))
    assert capped.memory.activation_bytes == uncapped.memory.activation_bytes
    assert capped.layers["bytes"].sum() == pytest.approx(uncapped.layers["bytes"].sum(), rel=1e-12)
    assert capped.tpot_s == pytest.approx(uncapped.tpot_s, rel=1e-9)
    caps = capped.layers[capped.layers.name.str.contains("softcap")]
    assert len(caps) == 2 * (42 * 3 + 3) and (caps["time_s"] == 0).all()  # fused: no kernel of their own


# ---------------------------------------------------------------- Phi-3's sliding window (not a defect)

def test_phi3_window_covers_sliding_window_keys_as_hugging_face_defines_it():
    # transformers' masking_utils: query i sees key j when j <= i (causal) and j > i - sliding_window; count the
    # keys the last query of a 4,000-token context sees with Phi-3-mini-4k's sliding_window 2,047
    window, i = 2047, 3999
    seen = sum(1 for j in range(i + 1) if j > i - window)
    assert seen == 2047
    cfg = load_transformer_config({**PHI3_MINI_4K})
    step = decode_network(cfg, context_len=i + 1, weights="fp16")
    scores = next(layer for layer in step.layers if layer.name == "blocks.0.attn_scores")
    assert scores.outputs[0][-1] == seen


# ---------------------------------------------------------------- multimodal wrappers: the text_config is the LLM

# mistralai/Mistral-Small-3.1-24B-Instruct-2503 config.json (architecture figures; vision_config shortened)
MISTRAL_SMALL_31 = {
    "architectures": ["Mistral3ForConditionalGeneration"], "image_token_index": 10, "model_type": "mistral3",
    "multimodal_projector_bias": False, "projector_hidden_act": "gelu", "spatial_merge_size": 2,
    "text_config": {
        "attention_dropout": 0.0, "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120,
        "initializer_range": 0.02, "intermediate_size": 32768, "max_position_embeddings": 131072,
        "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8,
        "rms_norm_eps": 1e-05, "rope_theta": 1000000000.0, "sliding_window": None, "use_cache": True,
        "vocab_size": 131072,
    },
    "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0",
    "vision_config": {"head_dim": 64, "hidden_size": 1024, "model_type": "pixtral", "num_hidden_layers": 24},
    "vision_feature_layer": -1,
}


def test_a_multimodal_config_is_read_as_its_language_model():
    # per block: q 5120 x 4096, k and v 5120 x 1024 each, o 4096 x 5120, gate/up/down 3 x 5120 x 32768, 2 norms;
    # 40 blocks + untied embedding and LM head 2 x 131072 x 5120 + final norm: the 23.6 B of the "24B" model's
    # language part (its Pixtral vision encoder is not counted)
    per_block = 5120 * 4096 + 2 * 5120 * 1024 + 4096 * 5120 + 3 * 5120 * 32768 + 2 * 5120
    expected = 40 * per_block + 2 * 131072 * 5120 + 5120
    assert expected == 23_572_403_200
    cfg = load_transformer_config(MISTRAL_SMALL_31)
    assert cfg.model_type == "mistral" and cfg.catalog_precision == "bf16"  # the wrapper's torch_dtype
    assert cfg.context_window == 131072 and cfg.sliding_window is None
    assert "mistral3" in cfg.source and "vision encoder" in cfg.source
    assert int(count_network(transformer_network(cfg, seq_len=8)).totals["params"]) == expected
    # KV cache: 40 blocks x 2 x 8 KV heads x 128 x 2 bytes = 163,840 bytes per token; 1,000 tokens at batch 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rk.predict_llm(MISTRAL_SMALL_31, "H100-SXM5-80GB", batch=2, prompt=900, generate=100)
    assert r.memory.kv_cache_bytes == 2 * 1000 * 40 * 2 * 8 * 128 * 2 == 327_680_000
    assert r.memory.weights_bytes == pytest.approx(2 * expected, rel=1e-9)


def test_a_multimodal_config_whose_text_config_lacks_a_figure_takes_the_class_defaults():
    # llava-hf/llava-1.5-7b-hf's text_config leaves the LlamaConfig defaults out (no hidden_size, ...); Hugging Face
    # builds it as LlamaConfig(**text_config), so the Llama-2-7B figures of that class fill them (and say so)
    llava = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "torch_dtype": "float16",
             "text_config": {"_name_or_path": "lmsys/vicuna-7b-v1.5", "architectures": ["LlamaForCausalLM"],
                             "max_position_embeddings": 4096, "model_type": "llama", "rms_norm_eps": 1e-05,
                             "torch_dtype": "float16", "vocab_size": 32064}}
    with pytest.warns(UserWarning, match=r"config: text_config: keys missing .* LlamaConfig defaults.*hidden_size = "
                                         r"4096"):
        cfg = load_transformer_config(llava)
    assert (cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, cfg.ffn, cfg.vocab) == (4096, 32, 32, 32, 11008, 32064)
    # Llama-2-7B's 6,738,415,616 parameters with 64 more rows in the embedding and the untied LM head
    assert int(count_network(transformer_network(cfg, seq_len=8)).totals["params"]) == (
        6_738_415_616 + 2 * 64 * 4096)
    with pytest.raises(SpecError, match=r"unsupported model_type 'idefics2'.*text_config"):
        load_transformer_config({"model_type": "idefics2", "text_config": {"model_type": "falcon"}})


# ---------------------------------------------------------------- Llama 3.2's context window

# meta-llama/Llama-3.2-1B config.json
LLAMA32_1B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256,
}


def test_llama32_context_window_is_the_published_128k():
    # Meta's model card: context length 128k = 131,072 = max_position_embeddings; the llama3 rope factor 32 scales
    # low frequencies (32 x 8,192 = 262,144 is not a window the model was trained for)
    cfg = load_transformer_config(LLAMA32_1B)
    assert cfg.context_window == 131072
    # parameters, by hand: per block q, o 2048 x 2048, k, v 2048 x 512, MLP 3 x 2048 x 8192, 2 norms; tied table
    per_block = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048
    assert 16 * per_block + 128256 * 2048 + 2048 == 1_235_814_400  # the published 1.24 B
    assert int(count_network(transformer_network(cfg, seq_len=8)).totals["params"]) == 1_235_814_400
    # a 200,000-token context is past the window: warned about
    with pytest.warns(rk.llm.ContextWindowWarning, match="131,072"):
        rk.predict_llm(LLAMA32_1B, "H100-SXM5-80GB", prompt=199_900, generate=100)
    # YaRN states the extended length through the factor: Qwen2.5's 4 x 32,768 stays 131,072
    qwen = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
            "num_hidden_layers": 24, "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
            "rope_scaling": {"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"}}
    assert load_transformer_config(qwen).context_window == 131072


# ---------------------------------------------------------------- pipeline stages of a tied-embedding model

def test_the_first_pipeline_stage_holds_its_own_copy_of_a_tied_table():
    # Gemma-2-9B at bf16 over PP 4: stages of 11, 11, 10, 10 blocks. The first stage runs the embedding and so holds
    # the (256000, 3584) table; the last holds it again in the tied LM head. Per block: q and o 3584 x 4096 each,
    # k and v 3584 x 2048 each, GeGLU 3 x 3584 x 14336, four norms of 3584
    per_block = 2 * 3584 * 4096 + 2 * 3584 * 2048 + 3 * 3584 * 14336 + 4 * 3584
    assert per_block == 198_195_200
    table = 256_000 * 3584 * 2
    first = 11 * per_block * 2 + table
    last = 10 * per_block * 2 + table + 3584 * 2  # + final norm
    assert first == 6_195_302_400 > last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rk.predict_llm(GEMMA2_9B, "DGX H100", prompt=1000, generate=24, pp=4, base="bf16")
    assert r.memory.weights_bytes == first  # the most loaded stage
    # KV cache of that stage at context 1,024 (below the 4,096 window): 11 blocks x 2 x 8 x 256 x 2 bytes per token
    assert r.memory.kv_cache_bytes == 11 * 1024 * 2 * 8 * 256 * 2


@pytest.mark.parametrize("hardware", ["A100-SXM4-40GB", "A100-PCIe-80GB", "A100-PCIe-40GB", "DGX A100 80GB"])
def test_every_a100_in_the_catalog_gets_a_calibrated_llm_estimate(hardware):
    """The operator model needs the SM count; every A100 entry carries the whitepaper's 108 (it was refused with
    a CalibrationError on all but the A100-SXM4-80GB)."""
    assert rk.get_hardware(hardware).compute_units == 108
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rk.predict_llm("Llama-2-7B", hardware, batch=1, prompt=128, generate=4, calibrated=True)
    calibrated = result.to_dict()["calibrated"]
    assert calibrated is not None
    tpot_low, tpot_high = calibrated["tpot_interval_s"]
    assert tpot_low <= calibrated["tpot_s"] <= tpot_high
