"""Transformer networks from configs: counts checked against hand derivations and published figures.

Every expected value below is derived by hand from the architecture figures in the config (layers L, hidden H,
query heads Hq, KV heads Hkv, head dim D, FFN F, vocabulary V, experts E, top-k k), never read from the code:

- Llama-2-7B (L 32, H 4096, F 11008, V 32000, untied): ``2 V H + L (4 H^2 + 3 H F + 2 H) + H`` = 6,738,415,616
  (the Llama 2 paper's 6.74 B / 7 B).
- Mixtral-8x7B (L 32, H 4096, Hkv D 1024, F 14336, E 8, k 2): per block attention ``2 H^2 + 2 H 1024``
  = 41,943,040, experts ``E 3 H F`` = 1,409,286,144, router ``H E`` = 32,768, norms ``2 H`` = 8,192;
  total ``32 * 1,451,270,144 + 2 V H + H`` = 46,702,792,704 (46.7 B); active per token (2 experts of 8)
  ``32 * 394,305,536 + 2 V H + H`` = 12,879,925,248 (12.9 B, the Mixtral paper's "13 B active").
- BERT-Large (L 24, H 1024, F 4096, V 30522, 512 positions, 2 types, pooler): per block ``4 (H^2 + H)
  + (H F + F) + (F H + H) + 4 H`` = 12,596,224; embeddings ``(V + 512 + 2) H + 2 H`` = 31,782,912; pooler
  ``H^2 + H`` = 1,049,600; total 335,141,888 (335 M; the BERT paper rounds to 340 M).
- GPT-J-6B (L 28, H 4096, F 16384, V 50400, biased MLP and LM head): per block ``2 H + 4 H^2 + (H F + F)
  + (F H + H)`` = 201,355,264; total ``28 * that + V H + 2 H + (V H + V)`` = 6,050,882,784.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit.counters import count_network
from rooflinekit.descriptors import LayerNetwork
from rooflinekit.errors import SpecError, UnknownNameError
from rooflinekit.networks.transformer import (
    TRANSFORMER_CONFIG_DIR, block_of, bundled_transformer_configs, decode_network, kv_cache_bytes, load_transformer_config,
    transformer_network,
)

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_attention_heads": 8,
              "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
              "tie_word_embeddings": False, "max_position_embeddings": 2048}  # named: no defaults warning


def _params(network: LayerNetwork) -> int:
    return int(count_network(network).totals["params"])


def _macs(network: LayerNetwork, parts: tuple[str, ...] | None = None, exclude: bool = False) -> int:
    layers = count_network(network).layers
    if parts is None:
        return int(layers["macs"].sum())
    mask = layers["name"].str.rsplit(".", n=1).str[-1].isin(parts)
    return int(layers.loc[~mask if exclude else mask, "macs"].sum())


def test_llama2_7b_parameters():
    h, f, v, n = 4096, 11008, 32000, 32
    expected = 2 * v * h + n * (4 * h * h + 3 * h * f + 2 * h) + h
    assert expected == 6_738_415_616
    assert _params(transformer_network("Llama-2-7B", seq_len=8)) == expected
    assert round(expected / 1e9, 2) == 6.74


def test_mixtral_total_and_active_parameters():
    net = transformer_network("Mixtral-8x7B", seq_len=8)
    assert _params(net) == 46_702_792_704
    # active per token: one decode token runs every fully-connected layer once with 2 of 8 experts, so the
    # fully-connected MACs of that step are the active linear weights (everything but the embedding gather and
    # the 2 L + 1 norm weights)
    step = decode_network("Mixtral-8x7B", batch=1, context_len=1)
    layers = count_network(step).layers
    fc_macs = int(layers.loc[layers.op == "fully_connected", "macs"].sum())
    h, v, n = 4096, 32000, 32
    active = fc_macs + v * h + (2 * n + 1) * h
    assert active == 12_879_925_248
    assert round(active / 1e9, 1) == 12.9


def test_bert_large_parameters():
    assert _params(transformer_network("BERT-Large", seq_len=384)) == 335_141_888
    # the SQuAD head of the MLPerf model replaces the pooler (H^2 + H) by a span head (2 H + 2)
    qa = transformer_network("BERT-Large", seq_len=384, head="qa")
    assert _params(qa) == 335_141_888 - (1024 * 1024 + 1024) + (2 * 1024 + 2)


def test_gptj_parameters():
    assert _params(transformer_network("GPT-J-6B", seq_len=8)) == 6_050_882_784


def test_llama2_70b_kv_cache_bytes_gqa():
    batch, context = 4, 3000
    expected = batch * context * 80 * 2 * 8 * 128 * 2  # B x T x layers x (K, V) x KV heads x head dim x fp16
    assert kv_cache_bytes("Llama-2-70B", batch, context, "fp16") == expected
    step = decode_network("Llama-2-70B", batch=batch, context_len=context)
    assert int(count_network(step).layers["state_bytes"].sum()) == expected
    k_proj = next(layer for layer in step.layers if layer.name == "blocks.0.k_proj")
    assert k_proj.weights[0].shape == (8 * 128, 8192)
    # an fp8 cache halves it
    fp8 = decode_network("Llama-2-70B", batch=batch, context_len=context, kv_dtype="fp8")
    assert int(count_network(fp8).layers["state_bytes"].sum()) == expected // 2


def test_decode_step_attention_reads_the_whole_context():
    step = decode_network("Llama-2-7B", batch=2, context_len=1000)
    # scores and context: 2 x B x Hq x 1 x T x D per block
    assert _macs(step, ("attn_scores", "attn_context")) == 32 * 2 * 2 * 32 * 1000 * 128
    scores = next(layer for layer in step.layers if layer.name == "blocks.3.attn_scores")
    assert scores.state[0].shape == (2, 32, 1000, 128)


def test_sliding_window_caps_the_kv_length():
    cfg = load_transformer_config("Mistral-7B")
    assert cfg.sliding_window == 4096
    assert kv_cache_bytes(cfg, 1, 10_000) == kv_cache_bytes(cfg, 1, 4096) == 4096 * 32 * 2 * 8 * 128 * 2


@settings(max_examples=15, deadline=None)
@given(seq_len=st.integers(min_value=1, max_value=300), batch=st.integers(min_value=1, max_value=4))
def test_prefill_attention_macs_quadratic_rest_linear(seq_len, batch):
    net = transformer_network(TINY_LLAMA, batch=batch, seq_len=seq_len)
    one = transformer_network(TINY_LLAMA, batch=batch, seq_len=1)
    layers, hq, d = 2, 8, 8
    attention = _macs(net, ("attn_scores", "attn_context"))
    assert attention == layers * 2 * batch * hq * d * seq_len ** 2
    assert _macs(net, ("attn_scores", "attn_context"), exclude=True) == seq_len * _macs(
        one, ("attn_scores", "attn_context"), exclude=True)


def test_layer_names_group_by_block():
    net = transformer_network("Llama-2-7B", seq_len=4)
    names = [layer.name for layer in net.layers]
    assert names[0] == "embed" and names[-2:] == ["final_norm", "lm_head"]
    per_block = [n for n in names if block_of(n) == 5]
    assert per_block == [f"blocks.5.{p}" for p in (
        "attn_norm", "q_proj", "k_proj", "v_proj", "rope", "attn_scores", "attn_softmax", "attn_context", "o_proj",
        "attn_residual", "mlp_norm", "gate_proj", "up_proj", "act", "gate_mul", "down_proj", "mlp_residual")]
    assert block_of("lm_head") is None


def test_weights_and_activations_precision_separately():
    net = transformer_network("Llama-2-7B", seq_len=4, weights="int4", activations="fp16")
    cost = count_network(net)
    assert net.precision.label == "W-int4_A-fp16"
    assert cost.totals["weight_bytes"] == 6_738_415_616 // 2  # 4 bits per weight, every tensor even-sized


def test_tied_embedding_counted_once_and_neusight_gpt3_xl_width():
    net = rk.get_network("gpt3_xl")
    embed = next(layer for layer in net.layers if layer.name == "embed")
    head = next(layer for layer in net.layers if layer.name == "lm_head")
    assert embed.weights == () and head.weights[0].shape == (50257, 3072)
    q = next(layer for layer in net.layers if layer.name == "blocks.0.q_proj")
    assert q.weights[0].shape == (3072, 3072)


def test_bundled_configs_resolve_through_the_network_catalog():
    names = bundled_transformer_configs()
    for expected in ("Llama-2-7B", "Llama-2-70B", "Llama-3.1-8B", "Mistral-7B", "Mixtral-8x7B", "GPT-J-6B",
                     "BERT-Large", "NeuSight-gpt2_large", "NeuSight-gpt3_xl", "NeuSight-gpt3_27", "NeuSight-opt_13"):
        assert expected in names
        assert isinstance(rk.get_network(expected), LayerNetwork)
    for path in TRANSFORMER_CONFIG_DIR.glob("*.json"):
        assert json.loads(path.read_text())["rooflinekit"]["source"]
    assert rk.get_network("bert_large").name == "BERT-Large"  # NeuSight's name for the same architecture
    bert = rk.get_network("BERT-Large")
    assert bert.layers[0].outputs[0] == (1, 384, 1024)  # MLPerf's sequence length


def test_config_file_and_mapping_agree(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY_LLAMA))
    from_file = transformer_network(path, seq_len=16)
    from_dict = transformer_network(TINY_LLAMA, seq_len=16)
    assert _params(from_file) == _params(from_dict) == 2 * 100 * 64 + 2 * (
        2 * 64 * 64 + 2 * 64 * 16 + 3 * 64 * 176 + 2 * 64) + 64


def test_missing_key_names_the_key_and_the_file(tmp_path):
    # a key left out takes LlamaConfig's default (tests/test_llm_inputs.py); a null one has no value to take
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY_LLAMA, "intermediate_size": None}))
    with pytest.raises(SpecError, match=r"config\.json: missing key 'intermediate_size' \(a llama config needs it; "
                                        r"it is null"):
        load_transformer_config(path)


def test_config_errors():
    with pytest.raises(SpecError, match="unsupported model_type 't5'"):
        load_transformer_config({"model_type": "t5"})
    with pytest.raises(SpecError, match="missing key 'model_type'"):
        load_transformer_config({"hidden_size": 4})
    with pytest.raises(SpecError, match="not a multiple of num_key_value_heads 3"):
        load_transformer_config({**TINY_LLAMA, "num_key_value_heads": 3})
    with pytest.raises(SpecError, match="'hidden_size' must be a positive integer, got 'big'"):
        load_transformer_config({**TINY_LLAMA, "hidden_size": "big"})
    with pytest.raises(SpecError, match="context_len 4 is shorter than seq_len 8"):
        transformer_network(TINY_LLAMA, seq_len=8, context_len=4)
    with pytest.raises(SpecError, match="exceeds the 512 learned positions"):
        transformer_network("BERT-Large", seq_len=1024)
    with pytest.raises(SpecError, match="no such config file"):
        load_transformer_config("/nonexistent/config.json")
    with pytest.raises(UnknownNameError, match="unknown transformer config 'Llama-9-1B'"):
        load_transformer_config("Llama-9-1B")
    with pytest.raises(SpecError, match="decode_network sets seq_len=1"):
        decode_network(TINY_LLAMA, context_len=4, seq_len=2)


def test_config_values_that_cannot_be_right_are_refused():
    mixtral = load_transformer_config("Mixtral-8x7B")
    assert (mixtral.experts, mixtral.top_k) == (8, 2)
    moe = {**TINY_LLAMA, "model_type": "mixtral", "num_local_experts": 4}
    assert load_transformer_config({**moe, "num_experts_per_tok": 4}).top_k == 4  # every expert: allowed
    with pytest.raises(SpecError, match="num_experts_per_tok 5 exceeds num_local_experts 4"):
        load_transformer_config({**moe, "num_experts_per_tok": 5})
    with pytest.raises(SpecError, match=r"'rooflinekit' precision 'int77': unknown precision 'int77'"):
        load_transformer_config({**TINY_LLAMA, "rooflinekit": {"precision": "int77"}})
    assert load_transformer_config({**TINY_LLAMA, "rooflinekit": {"precision": "bf16"}}).catalog_precision == "bf16"
    with pytest.raises(SpecError, match="'seq_len' must be a positive integer, got -1"):
        load_transformer_config({**TINY_LLAMA, "rooflinekit": {"seq_len": -1}})
    assert load_transformer_config({**TINY_LLAMA, "num_hidden_layers": 10_000}).layers == 10_000
    with pytest.raises(SpecError, match=r"10001 blocks \(num_hidden_layers\) is more than the 10,000"):
        load_transformer_config({**TINY_LLAMA, "num_hidden_layers": 10_001})


# Family coverage: configs of small public models written out here, parameters derived by hand.
# - GPT-NeoX (Pythia-160M: H 768, L 12, F 3072, V 50304, untied, biased): embed + head 2 V H = 77,266,944; per
#   block two layer norms 4 H = 3,072, QKV 3 (H^2 + H) = 1,771,776, dense H^2 + H = 590,592, MLP
#   (H F + F) + (F H + H) = 4,722,432: 7,087,872; total 77,266,944 + 12 x 7,087,872 + 2 H = 162,322,944.
# - GPT-2 small (H 768, L 12, V 50257, 1024 positions, tied): V H + 1024 H = 39,383,808; blocks as above
#   85,054,464; final norm 1,536: 124,439,808.
# - OPT-125M (H 768, L 12, F 3072, V 50272, 2048 + 2 positions, tied): 50,272 x 768 + 2,050 x 768 = 40,183,296
#   + 85,054,464 + 1,536 = 125,239,296.
# - Qwen2-0.5B (H 896, L 24, Hq 14, Hkv 2, D 64, F 4864, V 151936, tied, QKV bias): embed 136,134,656; per block
#   q H^2 + H = 803,712, k and v 2 (128 H + 128) = 229,632, o H^2 = 802,816, MLP 3 H F = 13,074,432, norms
#   2 H = 1,792: 14,912,384; total 136,134,656 + 24 x 14,912,384 + 896 = 494,032,768.
# - Gemma-2B (H 2048, L 18, Hq 8, Hkv 1, D 256, F 16384, V 256000, tied): embed 524,288,000; per block q and o
#   2 x 2048 x 2048 = 8,388,608, k and v 2 x 2048 x 256 = 1,048,576, MLP 3 H F = 100,663,296, norms 4,096:
#   110,104,576; total 524,288,000 + 18 x 110,104,576 + 2,048 = 2,506,172,416.
FAMILIES = {
    "gpt_neox": ({"model_type": "gpt_neox", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "intermediate_size": 3072, "vocab_size": 50304, "rotary_pct": 0.25,
                  "max_position_embeddings": 2048}, 162_322_944),
    "gpt2": ({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257,
              "n_positions": 1024}, 124_439_808),
    "opt": ({"model_type": "opt", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "ffn_dim": 3072, "vocab_size": 50272, "max_position_embeddings": 2048}, 125_239_296),
    "qwen2": ({"model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
               "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936,
               "tie_word_embeddings": True, "sliding_window": 32768, "use_sliding_window": False,
               "max_position_embeddings": 32768}, 494_032_768),
    "gemma": ({"model_type": "gemma", "hidden_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 8,
               "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 16384, "vocab_size": 256000,
               "hidden_act": "gelu_pytorch_tanh", "tie_word_embeddings": True,
               "max_position_embeddings": 8192}, 2_506_172_416),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_parameters(family):
    config, expected = FAMILIES[family]
    assert _params(transformer_network(config, seq_len=4)) == expected


def test_parallel_block_has_one_residual_of_three_inputs():
    net = transformer_network(FAMILIES["gpt_neox"][0], seq_len=4)
    parts = [layer.name.split(".", 2)[2] for layer in net.layers if block_of(layer.name) == 0]
    assert "attn_residual" not in parts and parts.count("residual") == 1
    residual = next(layer for layer in net.layers if layer.name == "blocks.0.residual")
    assert len(residual.inputs) == 3
    # GPT-NeoX rotates a quarter of each 64-dim head: (Hq + Hkv) x 16 dims per token, 2 ops each
    rope = count_network(net).layers.set_index("name").loc["blocks.0.rope"]
    assert int(rope.other_ops) == 2 * 4 * (12 + 12) * 16


def test_gemma_gqa_single_kv_head_and_geglu():
    net = transformer_network(FAMILIES["gemma"][0], seq_len=4)
    by_name = {layer.name: layer for layer in net.layers}
    assert by_name["blocks.0.k_proj"].weights[0].shape == (256, 2048)
    assert by_name["blocks.0.act"].op == "gelu"
    assert by_name["embed"].weights == () and by_name["lm_head"].weights[0].shape == (256000, 2048)


NEUSIGHT_DATA = Path(__file__).resolve().parents[2] / "shared/data/neusight/gpu_e2e.csv"


def test_neusight_gpt3_xl_macs_by_hand():
    from rooflinekit.networks.neusight import neusight_network

    b, s, h, f, v, n = 2, 2048, 3072, 12288, 50257, 24
    # per block: projections S (4 H^2 + 2 H F), attention 2 S^2 H; LM head S H V; all times B
    expected = b * (n * (s * (4 * h * h + 2 * h * f) + 2 * s * s * h) + s * h * v)
    assert count_network(neusight_network("gpt3_xl", b, s)).totals["macs"] == expected


def test_neusight_rows_build():
    from rooflinekit.networks.neusight import neusight_network

    if not NEUSIGHT_DATA.is_file():
        pytest.skip(f"{NEUSIGHT_DATA} is absent (the ../shared data folder is not checked out)")
    import pandas as pd

    rows = pd.read_csv(NEUSIGHT_DATA)[["model_name", "batch", "seqlen"]].drop_duplicates()
    built = 0
    for model, batch, seqlen in rows.itertuples(index=False):
        if model == "switchxl4":
            with pytest.raises(SpecError, match="'switchxl4'.* is not built"):
                neusight_network(model, int(batch), int(seqlen))
            continue
        net = neusight_network(model, int(batch), int(seqlen))
        assert net.batch == batch and net.precision.label == "fp32"
        built += 1
    assert built == len(rows[rows.model_name != "switchxl4"])


@settings(max_examples=15, deadline=None)
@given(context=st.integers(min_value=1, max_value=2000), batch=st.integers(min_value=1, max_value=8))
def test_decode_step_attention_and_cache_linear_in_context(context, batch):
    step = decode_network(TINY_LLAMA, batch=batch, context_len=context)
    layers, hq, hkv, d = 2, 8, 2, 8
    assert _macs(step, ("attn_scores", "attn_context")) == layers * 2 * batch * hq * d * context
    cache = int(count_network(step).layers["state_bytes"].sum())
    assert cache == kv_cache_bytes(TINY_LLAMA, batch, context) == batch * context * layers * 2 * hkv * d * 2


def test_a_binary_file_is_not_a_config(tmp_path):
    model = tmp_path / "ad01_fp32.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3\x00\x00\xff\xfe\x80")  # not UTF-8: a flatbuffer, not JSON text
    with pytest.raises(SpecError, match=r"ad01_fp32\.tflite: not a config\.json .*bundled config name.*config\.json"
                                        r".*\.onnx decoder export"):
        load_transformer_config(model)
    listing = tmp_path / "config.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SpecError, match="expected a JSON object"):
        load_transformer_config(listing)


@pytest.mark.parametrize("key, value, expected", [
    ("torch_dtype", "bfloat16", "bf16"), ("torch_dtype", "float32", "fp32"), ("torch_dtype", "float16", "fp16"),
    ("dtype", "bfloat16", "bf16"), ("torch_dtype", "int8", "fp16"), ("torch_dtype", "auto", "fp16"),
])
def test_the_models_own_type_comes_from_torch_dtype(key, value, expected):
    assert load_transformer_config({**TINY_LLAMA, key: value}).catalog_precision == expected
    # the catalog's own "rooflinekit.precision" wins
    meta = {**TINY_LLAMA, key: value, "rooflinekit": {"precision": "int8"}}
    assert load_transformer_config(meta).catalog_precision == "int8"


def test_context_window_from_the_config():
    # left out: LlamaConfig's default max_position_embeddings (2,048); null: no window
    with pytest.warns(UserWarning, match="max_position_embeddings = 2048 \\(LlamaConfig default\\)"):
        left_out = {k: v for k, v in TINY_LLAMA.items() if k != "max_position_embeddings"}
        assert load_transformer_config(left_out).context_window == 2048
    assert load_transformer_config({**TINY_LLAMA, "max_position_embeddings": None}).context_window is None
    assert load_transformer_config({**TINY_LLAMA, "max_position_embeddings": 4096}).context_window == 4096
    # the bundled files: Llama-2 4,096, Llama-3.1 131,072 (max_position_embeddings); GPT-J 2,048 (n_positions)
    assert load_transformer_config("Llama-2-7B").context_window == 4096
    assert load_transformer_config("Llama-3.1-8B").context_window == 131072
    assert load_transformer_config("GPT-J-6B").context_window == 2048
    with pytest.raises(SpecError, match="'max_position_embeddings' must be a positive integer"):
        load_transformer_config({**TINY_LLAMA, "max_position_embeddings": "long"})
