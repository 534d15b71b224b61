"""A user's trial of ``rooflinekit llm`` / ``predict_llm`` with Hugging Face hub configs: the defects it found.

Configs are written as the hub has them (the figures of the published ``config.json`` files). Hand derivations
(never read from the code's output):

- Mistral-7B-v0.1 (H 4096, 32 blocks, 8 KV heads of dim 128 -> KV width 1024, F 14336, V 32000, untied): per block
  ``2 H^2 + 2 H 1024 + 3 H F + 2 H`` = 33,554,432 + 8,388,608 + 176,160,768 + 8,192 = 218,112,000; total
  ``32 x 218,112,000 + 2 V H + H`` = 6,979,584,000 + 262,144,000 + 4,096 = 7,241,732,096 (the published 7.24 B).
- Gemma-7B (H 3072, 28 blocks, 16 heads of dim 256 -> width 4096, F 24576, V 256000, tied): per block
  ``4 x 3072 x 4096 + 3 x 3072 x 24576 + 2 x 3072`` = 50,331,648 + 226,492,416 + 6,144 = 276,830,208; total
  ``28 x 276,830,208 + V H + H`` = 7,751,245,824 + 786,432,000 + 3,072 = 8,537,680,896 (the published 8.54 B,
  embeddings included). Hugging Face's GemmaConfig defaults ``head_dim`` to 256; H / heads would be 192.
- Qwen2-7B KV cache (28 blocks, 4 KV heads of dim 128, bf16): ``28 x 2 x 4 x 128 x 2`` = 57,344 bytes per token;
  8,192 tokens at batch 1: 469,762,048 bytes; with a 4,096-token sliding window it would stop at 234,881,024.
- Llama-2-7B fp16 on an 80 GB H100 at prompt 2048 + 128 (tests/test_llm.py): the largest batch that fits is 52.
  At batch 1 and a context of 200,010 tokens the KV cache alone is ``200,010 x 32 x 2 x 4096 x 2`` =
  104,862,842,880 bytes > 80 GB: not even one sequence fits.
- GPT-NeoX (Pythia-6.9B: H 4096, 32 heads -> head dim 128): ``partial_rotary_factor`` 0.5 rotates 64 dims.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import rooflinekit as rk
from rooflinekit.api import CapacityWarning
from rooflinekit.cli import main
from rooflinekit.errors import SpecError
from rooflinekit.llm import llm_batch_sweep, predict_llm
from rooflinekit.networks.transformer import ConfigDefaultWarning, load_transformer_config, transformer_network

H100 = "H100-SXM5-80GB"

MISTRAL_7B = {"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
              "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
              "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
              "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
              "sliding_window": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
              "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 32000}
GEMMA_7B = {"architectures": ["GemmaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
            "bos_token_id": 2, "eos_token_id": 1, "head_dim": 256, "hidden_act": "gelu", "hidden_size": 3072,
            "initializer_range": 0.02, "intermediate_size": 24576, "max_position_embeddings": 8192,
            "model_type": "gemma", "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 16,
            "pad_token_id": 0, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000.0,
            "torch_dtype": "bfloat16", "transformers_version": "4.38.0.dev0", "use_cache": True,
            "vocab_size": 256000}
QWEN2_7B = {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
            "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
            "intermediate_size": 18944, "max_position_embeddings": 131072, "max_window_layers": 28,
            "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
            "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.37.2",
            "use_cache": True, "use_sliding_window": False, "vocab_size": 152064}
PYTHIA_6_9B = {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
               "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 16384,
               "layer_norm_eps": 1e-05, "max_position_embeddings": 2048, "model_type": "gpt_neox",
               "num_attention_heads": 32, "num_hidden_layers": 32, "rotary_emb_base": 10000, "rotary_pct": 0.25,
               "tie_word_embeddings": False, "torch_dtype": "float16", "transformers_version": "4.24.0",
               "use_cache": True, "use_parallel_residual": True, "vocab_size": 50432}
GPT2 = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_ctx": 1024,
        "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257}


def _params(config: dict[str, object]) -> int:
    net = transformer_network(config, seq_len=8)
    return sum(w.elements for layer in net.layers for w in layer.weights)


def _without(config: dict[str, object], *keys: str) -> dict[str, object]:
    return {k: v for k, v in config.items() if k not in keys}


def test_hub_configs_give_the_published_parameter_counts():
    assert _params(MISTRAL_7B) == 7_241_732_096
    assert _params(GEMMA_7B) == 8_537_680_896


def test_a_hugging_face_model_folder_is_read_through_its_config_json(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "Mistral-7B-v0.1"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(MISTRAL_7B))
    cfg = load_transformer_config(f"{folder}/")
    assert cfg.name == "Mistral-7B-v0.1" and cfg.sliding_window == 4096
    assert _params(str(folder)) == 7_241_732_096
    assert main(["llm", str(folder), "--hardware", H100, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "Mistral-7B-v0.1"


def test_gemma_head_dim_defaults_to_256_as_hugging_face_does():
    bare = _without(GEMMA_7B, "head_dim")
    with pytest.warns(ConfigDefaultWarning, match=r"head_dim = 256 \(GemmaConfig default\)"):
        assert load_transformer_config(bare).head_dim == 256
        assert _params(bare) == 8_537_680_896


def test_bad_value_errors_name_the_key_the_file_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SpecError, match="'hidden_act'") as caught:
        load_transformer_config({**MISTRAL_7B, "hidden_act": "gelu_10"})
    assert "hidden_activation" not in str(caught.value)
    gpt2 = {**_without(GPT2, "n_embd"), "hidden_size": "768"}
    with pytest.raises(SpecError, match="'hidden_size' must be a positive integer"):
        load_transformer_config(gpt2)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**MISTRAL_7B, "hidden_act": "gelu_10"}))
    assert main(["llm", str(path), "--hardware", H100]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'hidden_act' = 'gelu_10'" in err


def test_indivisible_heads_advice_fits_the_family():
    with pytest.raises(SpecError, match="give 'head_dim'"):
        load_transformer_config({**MISTRAL_7B, "hidden_size": 4100})
    # GPT-2 has no head_dim key (its head is n_embd / n_head): adding one would not help
    with pytest.raises(SpecError, match="not divisible by 12 heads; a gpt2 head is hidden size / heads wide") as bad:
        load_transformer_config({**GPT2, "n_embd": 770, "head_dim": 64})
    assert "give 'head_dim'" not in str(bad.value)


@pytest.mark.parametrize("value", ["abc", 1.5, -0.25, True])
def test_gpt_neox_rotary_share_must_be_a_number_from_0_to_1(value: object):
    with pytest.raises(SpecError, match="'rotary_pct' must be a number from 0 to 1"):
        load_transformer_config({**PYTHIA_6_9B, "rotary_pct": value})


def test_gpt_neox_partial_rotary_factor_is_read():
    renamed = {**_without(PYTHIA_6_9B, "rotary_pct"), "partial_rotary_factor": 0.5}
    assert load_transformer_config(renamed).rotary_dim == 64


def test_qwen2_sliding_window_only_with_use_sliding_window_and_from_max_window_layers():
    unset = {**_without(QWEN2_7B, "use_sliding_window"), "sliding_window": 4096}
    assert load_transformer_config(unset).sliding_window is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = predict_llm(unset, H100, prompt=8191, generate=1)
    assert full.memory.kv_cache_bytes == 469_762_048
    # Hugging Face's Qwen2Config windows only the blocks from max_window_layers on: Qwen2-7B sets it to all 28
    assert load_transformer_config({**unset, "use_sliding_window": True}).sliding_window is None
    upper = load_transformer_config({**unset, "use_sliding_window": True, "max_window_layers": 20})
    assert upper.sliding_window == 4096 and upper.windowed_blocks == frozenset(range(20, 28))
    assert [upper.block_kv_length(i, 10_000) for i in (0, 19, 20, 27)] == [10_000, 10_000, 4096, 4096]
    every = load_transformer_config({**unset, "use_sliding_window": True, "max_window_layers": 0})
    assert every.sliding_window == 4096 and every.windowed_blocks is None  # None: every block
    with pytest.raises(SpecError, match="'use_sliding_window' must be true or false"):
        load_transformer_config({**unset, "use_sliding_window": "false"})


def test_numpy_integer_counts_are_taken():
    plain = predict_llm("Llama-2-7B", "DGX H100", batch=2, prompt=64, generate=4, tp=2, context=80)
    numpy = predict_llm("Llama-2-7B", "DGX H100", batch=np.int64(2), prompt=np.int64(64), generate=np.int32(4),
                        tp=np.int64(2), pp=np.int64(1), context=np.int64(80))
    assert numpy.to_dict() == plain.to_dict()
    table = llm_batch_sweep("Llama-2-7B", H100, batches=np.arange(1, 3), prompt=64, generate=4)
    assert table["batch"].tolist() == [1, 2]
    with pytest.raises(SpecError, match="batch must be a whole number"):
        predict_llm("Llama-2-7B", H100, batch=np.float64(2.0))


def test_a_misfit_says_what_to_do():
    with pytest.warns(CapacityWarning, match="the largest batch that fits at context 2,176 is 52: use at most"):
        predict_llm("Llama-2-7B", H100, batch=64, prompt=2048, generate=128)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        long = predict_llm("Llama-2-7B", H100, prompt=200_000, generate=10)
    assert long.memory.kv_cache_bytes == 104_862_842_880
    message = " ".join(str(w.message) for w in caught if issubclass(w.category, CapacityWarning))
    assert "not even one sequence fits at context 200,010: use a shorter prompt or generation" in message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big = predict_llm("Llama-2-70B", H100, prompt=2048, generate=128)
    assert not any("largest batch that fits" in note or "not even one" in note for note in big.notes)
    fits = predict_llm("Llama-2-7B", H100, batch=52, prompt=2048, generate=128)
    assert fits.fits and not any("use at most" in note for note in fits.notes)


def _misfit_notes(*args: object, **kwargs: object) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return " ".join(predict_llm(*args, **kwargs).notes)


def test_a_misfit_names_more_devices_only_where_the_system_has_them():
    # one device (no interconnect; --tp 2 on it is refused): a multi-device system, not --tp/--pp on this one
    alone = _misfit_notes("Llama-2-70B", "Pixel 3", prompt=128, generate=8)
    assert "use a multi-device system (a spec with an 'interconnect', e.g. 'DGX H100') with --tp/--pp" in alone
    with pytest.raises(SpecError, match="Pixel 3 has no interconnect"):
        predict_llm("Llama-2-70B", "Pixel 3", prompt=128, generate=8, tp=2)
    # 2 of the DGX's 8 GPUs in use: a larger split is the remedy
    part = _misfit_notes("Llama-2-70B", "DGX H100", batch=512, prompt=2048, generate=8, tp=2)
    assert "use at most that, more devices (--tp/--pp), or smaller weight or KV-cache types" in part
    # all 8 in use: no more devices to name
    full = _misfit_notes("Llama-2-70B", "DGX H100", batch=512, prompt=2048, generate=8, tp=8)
    assert "use at most that, or smaller weight or KV-cache types" in full and "--tp" not in full


def test_unlimited_context_says_why():
    # a sliding window of 4,096 tokens caps the cache at 4096 x 32 x 2 x 8 x 128 x 2 = 536,870,912 bytes, which
    # fits beside 14.5 GB of weights: no context is too long for the memory, and the config names no window
    result = predict_llm({**MISTRAL_7B, "max_position_embeddings": None}, H100, prompt=8000, generate=8)
    assert result.memory.max_context_tokens is None and result.memory.kv_cache_bytes == 536_870_912
    assert ("largest context unlimited at batch 1 (the KV cache stops growing at the sliding window; the config "
            "gives no context window)") in result.summary()


def test_group_size_without_int4_says_to_add_it(capsys: pytest.CaptureFixture[str]):
    assert main(["llm", "Llama-2-7B", "--hardware", H100, "--group-size", "64"]) == 2
    assert "add --weights int4" in capsys.readouterr().err


def test_llm_package_docstring_promises_only_what_exists():
    assert "rooflinekit.llm(" not in (rk.llm.__doc__ or "") or callable(rk.llm)


def test_moe_calibrated_refusal_names_the_cli_option(capsys: pytest.CaptureFixture[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["llm", "Mixtral-8x7B", "--hardware", "A100-SXM4-80GB", "--calibrated"]) == 2
    assert "drop --calibrated" in capsys.readouterr().err


# --- RoPE scaling that states the length it extends --------------------------------------------------------------

_QWEN25_7B = {"model_type": "qwen2", "hidden_size": 3584, "num_attention_heads": 28, "num_key_value_heads": 4,
              "intermediate_size": 18944, "num_hidden_layers": 28, "vocab_size": 152064,
              "max_position_embeddings": 32768}


def test_yarn_scaling_extends_the_context_window():
    from rooflinekit.networks.transformer import load_transformer_config

    # Qwen2.5's model card: add YaRN factor 4 over the original 32,768 positions for 4 x 32,768 = 131,072 tokens
    yarn = {**_QWEN25_7B, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}
    assert load_transformer_config(yarn).context_window == 131_072
    # Llama 3.1 already states the extended window (131,072 > 8 x 8,192 = 65,536): unchanged
    llama31 = {**_QWEN25_7B, "model_type": "llama", "max_position_embeddings": 131072,
               "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}}
    assert load_transformer_config(llama31).context_window == 131_072
    # a scaling without the original length leaves max_position_embeddings as the window
    linear = {**_QWEN25_7B, "rope_scaling": {"type": "linear", "factor": 2.0}}
    assert load_transformer_config(linear).context_window == 32_768


@pytest.mark.parametrize("scaling,key", [({"factor": "4", "original_max_position_embeddings": 32768}, "factor"),
                                         ({"factor": 0.5, "original_max_position_embeddings": 32768}, "factor"),
                                         ({"factor": 4.0, "original_max_position_embeddings": 0},
                                          "original_max_position_embeddings")])
def test_bad_rope_scaling_names_the_key(scaling, key):
    from rooflinekit.networks.transformer import load_transformer_config

    with pytest.raises(SpecError, match=key):
        load_transformer_config({**_QWEN25_7B, "rope_scaling": scaling})


@pytest.mark.parametrize("aliases", ["Qwen2.5-7B", 5, ["ok", 7]])
def test_rooflinekit_aliases_must_be_a_list_of_names(aliases):
    from rooflinekit.networks.transformer import load_transformer_config

    # a single string used to become one alias per character ('Q', 'w', 'e', ...)
    with pytest.raises(SpecError, match="rooflinekit.aliases"):
        load_transformer_config({**_QWEN25_7B, "rooflinekit": {"aliases": aliases}})
    assert load_transformer_config({**_QWEN25_7B, "rooflinekit": {"aliases": ["Qwen2.5-7B"]}}).aliases == (
        "Qwen2.5-7B",)


@pytest.mark.filterwarnings("error::rooflinekit.llm.ContextWindowWarning")
def test_learned_positions_count_the_tokens_fed_not_the_last_one_generated():
    # GPT-2 has 1,024 learned positions. Prompt 1,024 + generate 1: the one output token comes from the prefill and
    # is never fed back, so positions 0..1,023 suffice; prompt 1,023 + generate 2 feeds 1,023 + 1 = 1,024 tokens.
    for prompt, generate in ((1024, 1), (1023, 2)):
        rk.predict_llm(GPT2, "H100-SXM5-80GB", batch=1, prompt=prompt, generate=generate)
    # prompt 1,024 + generate 2 feeds the first generated token at position 1,024: past the table
    with pytest.raises(SpecError, match="1025 positions"):
        rk.predict_llm(GPT2, "H100-SXM5-80GB", batch=1, prompt=1024, generate=2)


@pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")
def test_llm_plot_title_names_the_workload_and_a_model_that_never_fits_says_so():
    pytest.importorskip("matplotlib")
    from rooflinekit.llm import llm_batch_sweep, plot_llm_batches

    # Llama-2-70B in fp16 holds 138 GB of weights: not even batch 1 fits in 80 GB
    table = llm_batch_sweep("Llama-2-70B", "H100-SXM5-80GB", batches=[1, 2], prompt=512, generate=64)
    axes = plot_llm_batches(table).axes[0]
    assert "prompt 512 + generate 64" in axes.get_title() and "weights fp16" in axes.get_title()
    assert "does not fit in memory: not even batch 1" in [t.get_text() for t in axes.get_legend().get_texts()]


def test_library_builders_use_the_bundled_config_whatever_the_working_directory_holds(tmp_path, monkeypatch):
    from rooflinekit.networks.mlperf import mlperf_network
    from rooflinekit.networks.neusight import neusight_network

    before = (mlperf_network("gptj-99", seq_len=16), neusight_network("bert_large", batch=1, seqlen=16))
    # a Hugging Face download folder named like the bundled config, holding another model's config
    folder = tmp_path / "GPT-J-6B"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(GPT2), encoding="utf-8")
    (tmp_path / "BERT-Large").mkdir()
    (tmp_path / "BERT-Large" / "config.json").write_text(json.dumps(GPT2), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    after = (mlperf_network("gptj-99", seq_len=16), neusight_network("bert_large", batch=1, seqlen=16))
    assert [n.layers for n in after] == [n.layers for n in before]
    # a user naming the folder gets the folder: GPT-2's 12 blocks, not GPT-J's 28
    assert rk.predict_llm("GPT-J-6B", "H100-SXM5-80GB", batch=1, prompt=8, generate=1).model == "GPT-J-6B"
    from rooflinekit.networks.transformer import load_transformer_config

    assert load_transformer_config("GPT-J-6B").layers == 12
