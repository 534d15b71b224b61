"""LLM inference (rooflinekit.llm): counts, bytes and times checked against hand derivations, and properties.

Hand derivations (architecture figures from the bundled configs; never read from the code's output):

- Llama-2-70B (80 blocks, 8 KV heads of dim 128, GQA): KV cache per sequence per token =
  ``80 x 2 x 8 x 128 x 2 bytes`` = 327,680 bytes (fp16); at batch 4 and a context of 4,096 tokens
  ``4 x 4096 x 327,680`` = 5,368,709,120 bytes (5.37 GB). Under TP 8 each device keeps one KV head: / 8.
- Llama-2-70B parameters (H 8192, KV width 1024, F 28672, V 32000): per block ``2 H^2 + 2 H 1024 + 3 H F + 2 H``
  = 855,654,400; total ``80 x 855,654,400 + 2 V H + H`` = 68,976,648,192 (the Llama 2 paper's 70 B): 137.95 GB
  in fp16 -- more than one 80 GB GPU; under TP 2 each device holds half the linear layers, embedding and LM head
  and all 161 norms: ``80 x (855,654,400 - 2 H) / 2 + V H + 161 H`` = 34,488,983,552 parameters =
  68,977,967,104 bytes < 80 GB.
- Llama-2-7B (32 blocks, H 4096, F 11008, V 32000): linear weights per block ``4 H^2 + 3 H F`` = 202,375,168.
  W4A16 (group 128, fp16 scales): ``0.5 + 2/128`` = 0.515625 bytes per weight, so the blocks' linear layers take
  ``32 x 202,375,168 x 33/64`` = 3,339,190,272 bytes; embedding and LM head stay fp16 (``2 x 32000 x 4096 x 2`` =
  524,288,000) and the 65 norms too (``65 x 4096 x 2`` = 532,480): 3,864,010,752 bytes.
- Llama-2-7B prefill MACs over P tokens: attention scores and context ``2 x 32 blocks x 32 heads x P^2 x 128``
  = 262,144 P^2 (the full P x P matrix, as the transformer builder counts it); everything else ``32 x 202,375,168``
  = 6,476,005,376 per token plus the LM head on the last position, ``V H`` = 131,072,000.
- Llama-2-7B decode step at batch 1 on an H100 SXM (3.35 TB/s, every kernel memory-bound at batch 1): bytes =
  weights of the linear layers, LM head and norms ``2 x (6,476,005,376 + 131,072,000 + 266,240)`` + one embedding
  row ``2 x 4096`` + the KV cache read ``T x 32 x 2 x 4096 x 2`` + the new token's K and V written
  ``32 x 2 x 4096 x 2``; at T = 2176: 14,356,070,400 bytes, / 3.35e12 = 4.2854 ms.
- Largest batch of Llama-2-7B fp16 on an 80 GB H100 at prompt 2048 + 128 generated: room beside the weights
  ``80e9 - 2 x 6,738,415,616`` = 66,523,160,576 bytes; per sequence the KV cache ``2176 x 524,288`` =
  1,140,850,688 plus the largest prefill layer's activations (``gate_mul``: two inputs and one output of
  ``2048 x 11008`` fp16) 135,266,304: 66,523,160,576 / 1,276,116,992 = 52.1, so 52.
- Ring all-reduce of 33,554,432 bytes (``2048 x 8192 x 2``) over 8 devices at 450 GB/s per direction and 1 us per
  step: ``2 x 7/8 x 33,554,432 / 450e9 + 14 x 1e-6`` = 144.489 us.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit.api import CapacityWarning
from rooflinekit.cli import main
from rooflinekit.counters import count_network
from rooflinekit.descriptors import HardwareSpec, MemoryLevel
from rooflinekit.descriptors.hardware import Interconnect
from rooflinekit.errors import PrecisionError, SpecError
from rooflinekit.llm import (
    ContextWindowWarning, LLMResult, decode_step_network, llm_batch_sweep, plot_llm_batches, predict_llm,
    prefill_network, ring_allgather_s, ring_allreduce_s, weight_format,
)

H100 = "H100-SXM5-80GB"
DGX = "DGX H100"


def _quiet(**kwargs: object) -> LLMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        return predict_llm(**kwargs)  # type: ignore[arg-type]


# -- counts and bytes by hand ---------------------------------------------------------------------------------------

def test_llama2_70b_kv_cache_bytes_gqa():
    per_token = 80 * 2 * 8 * 128 * 2
    assert per_token == 327_680
    result = _quiet(model="Llama-2-70B", hardware=DGX, batch=4, prompt=4000, generate=96)
    assert result.memory.context_tokens == 4096
    assert result.memory.kv_cache_bytes == 4 * 4096 * per_token == 5_368_709_120
    fp8 = _quiet(model="Llama-2-70B", hardware=DGX, batch=4, prompt=4000, generate=96, kv="fp8")
    assert fp8.memory.kv_cache_bytes == 5_368_709_120 // 2
    tp8 = predict_llm("Llama-2-70B", DGX, batch=4, prompt=4000, generate=96, tp=8)
    assert tp8.memory.kv_cache_bytes == 5_368_709_120 // 8  # one of the 8 KV heads per device


def test_llama2_70b_fits_on_two_gpus_not_one():
    params = 80 * (2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192) + 2 * 32000 * 8192 + 8192
    assert params == 68_976_648_192
    with pytest.warns(CapacityWarning, match="does not fit: HBM3 must hold 139 GB"):
        one = predict_llm("Llama-2-70B", H100, batch=1, prompt=2048, generate=128)
    assert not one.fits and one.memory.weights_bytes == 2 * params
    assert one.memory.max_batch == 0
    assert any("weights alone exceed" in note for note in one.notes)
    two = predict_llm("Llama-2-70B", DGX, batch=1, prompt=2048, generate=128, tp=2)
    per_device = 80 * (855_654_400 - 2 * 8192) // 2 + 32000 * 8192 + (2 * 80 + 1) * 8192
    assert per_device == 34_488_983_552
    assert two.fits and two.memory.weights_bytes == 2 * per_device
    assert two.memory.total_bytes < two.memory.capacity_bytes == 80e9


def test_w4a16_weight_bytes_with_group_scales():
    fmt = weight_format("int4")
    assert fmt.bytes_per_weight == 4 / 8 + 2 / 128 == 0.515625
    assert weight_format("w4a16", group_size=64).bytes_per_weight == 0.5 + 2 / 64
    linear = 32 * (4 * 4096**2 + 3 * 4096 * 11008)
    assert linear == 6_476_005_376
    expected = linear * 33 // 64 + 2 * 32000 * 4096 * 2 + 65 * 4096 * 2
    assert expected == 3_864_010_752
    result = predict_llm("Llama-2-7B", H100, weights="int4", prompt=128, generate=8)
    assert result.memory.weights_bytes == expected
    network = prefill_network("Llama-2-7B", prompt=8, weights="int4")
    assert int(count_network(network).totals["weight_bytes"]) == expected


@pytest.mark.parametrize("prompt", [256, 2048])
def test_prefill_macs_quadratic_in_attention_linear_elsewhere(prompt):
    layers = count_network(prefill_network("Llama-2-7B", prompt=prompt)).layers
    attention = layers["name"].str.endswith((".attn_scores", ".attn_context"))
    assert int(layers.loc[attention, "macs"].sum()) == 2 * 32 * 32 * prompt**2 * 128 == 262_144 * prompt**2
    assert int(layers.loc[~attention, "macs"].sum()) == 6_476_005_376 * prompt + 32000 * 4096


def test_decode_step_is_bytes_over_bandwidth_at_batch_1():
    context = 2048 + 128
    weights = 2 * (6_476_005_376 + 131_072_000 + 65 * 4096) + 2 * 4096
    kv_read, kv_write = context * 32 * 2 * 4096 * 2, 32 * 2 * 4096 * 2
    assert weights + kv_read + kv_write == 14_356_070_400
    result = predict_llm("Llama-2-7B", H100, batch=1, prompt=2048, generate=128)
    assert result.tpot_at_context_s == pytest.approx(14_356_070_400 / 3.35e12, rel=1e-6)
    assert result.decode_bound == "memory:HBM3"
    assert result.estimate == "bound"
    network = decode_step_network("Llama-2-7B", context=context)
    assert int(count_network(network).layers["state_bytes"].sum()) == kv_read


def test_ring_allreduce_by_hand():
    nbytes = 2048 * 8192 * 2
    expected = 2 * 7 / 8 * nbytes / 450e9 + 2 * 7 * 1e-6
    assert expected == pytest.approx(144.489e-6, rel=1e-5)
    assert ring_allreduce_s(nbytes, 8, 450e9, 1e-6) == pytest.approx(expected, rel=1e-12)
    assert ring_allreduce_s(nbytes, 1, 450e9, 1e-6) == 0.0
    assert ring_allgather_s(64_000, 2, 450e9, 1e-6) == pytest.approx(0.5 * 64_000 / 450e9 + 1e-6, rel=1e-12)


def test_tp2_decode_communication_by_hand():
    # Llama-2-70B TP 2, batch 1, one token: 2 all-reduces per block x 80 + 1 after the embedding, of
    # 8192 x 2 bytes, and an all-gather of the 32000 fp16 logits
    allreduce = 2 * 1 / 2 * 8192 * 2 / 450e9 + 2 * 1 * 1e-6
    gather = 1 / 2 * 32000 * 2 / 450e9 + 1e-6
    result = predict_llm("Llama-2-70B", DGX, batch=1, prompt=128, generate=8, tp=2)
    assert result.decode_interconnect_s == pytest.approx(161 * allreduce + gather, rel=1e-12)


def test_phases_and_rates_are_consistent():
    r = predict_llm("Llama-2-7B", H100, batch=4, prompt=256, generate=32)
    assert r.e2e_latency_s == pytest.approx(r.ttft_s + 31 * r.tpot_s, rel=1e-12)
    assert r.output_tokens_per_s == pytest.approx(4 * 32 / r.e2e_latency_s)
    assert r.decode_tokens_per_s == pytest.approx(4 / r.tpot_s)
    assert r.prefill_bound == "compute"
    one = predict_llm("Llama-2-7B", H100, prompt=256, generate=1)
    assert one.tpot_s is None and one.decode_tokens_per_s is None and one.e2e_latency_s == one.ttft_s
    assert "roofline bound" in repr(r) and "fits" in repr(r)
    assert set(r.layers["phase"]) == {"prefill", "decode"}


def test_moe_decode_reads_only_routed_experts():
    small = predict_llm("Mixtral-8x7B", DGX, batch=1, prompt=128, generate=8, tp=2, weights="fp8")
    large = predict_llm("Mixtral-8x7B", DGX, batch=64, prompt=128, generate=8, tp=2, weights="fp8")
    assert any("1 - (1 - 2/8)^1 = 0.25" in note for note in small.notes)
    assert small.tpot_s < large.tpot_s


def test_errors_name_the_problem():
    with pytest.raises(SpecError, match="is an encoder"):
        predict_llm("BERT-Large", H100)
    with pytest.raises(SpecError, match="has no interconnect"):
        predict_llm("Llama-2-7B", H100, tp=2)
    with pytest.raises(SpecError, match="needs 16 devices but DGX H100 has 8"):
        predict_llm("Llama-2-7B", DGX, tp=8, pp=2)
    with pytest.raises(SpecError, match="64 query heads cannot be split over TP 3"):
        predict_llm("Llama-2-70B", "4x H100 PCIe", tp=3)
    with pytest.raises(SpecError, match="3 KV heads cannot be split over TP 2"):
        predict_llm(_tiny(12, 3, 8, 64, 2), DGX, tp=2)
    with pytest.raises(PrecisionError, match="unknown weight format 'int3'"):
        predict_llm("Llama-2-7B", H100, weights="int3")
    with pytest.raises(PrecisionError, match="has no native fp8 peak"):
        predict_llm("Llama-2-7B", "DGX A100 80GB", weights="fp8")
    with pytest.raises(SpecError, match="prompt must be a whole number"):
        predict_llm("Llama-2-7B", H100, prompt=0)
    with pytest.raises(SpecError, match="traffic 'on_chip_if_fits'"):
        predict_llm("Llama-2-7B", H100, traffic="on_chip_if_fits")


# -- properties ------------------------------------------------------------------------------------------------------

def _tiny(heads: int, kv_heads: int, head_dim: int, ffn: int, layers: int) -> dict[str, object]:
    """A Llama config naming every key (the two LlamaConfig would fill at their defaults: no ConfigDefaultWarning,
    which is the subject of tests/test_llm_inputs.py, not of these)."""
    return {"model_type": "llama", "hidden_size": heads * head_dim, "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "intermediate_size": ffn, "num_hidden_layers": layers,
            "vocab_size": 1000, "head_dim": head_dim, "tie_word_embeddings": False, "max_position_embeddings": 2048}


@st.composite
def tiny_configs(draw):
    kv_heads = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv_heads * draw(st.sampled_from([1, 2, 4]))
    return _tiny(heads, kv_heads, draw(st.sampled_from([8, 16, 64])), draw(st.integers(16, 512)),
                 draw(st.integers(1, 4)))


def _device(bandwidth: float = 1e12, capacity: float = 80e9, link: float = 100e9) -> HardwareSpec:
    return HardwareSpec(
        name="test GPU", kind="GPU", peak_ops_per_s={"fp16": 1e14, "int8": 2e14, "fp8": 2e14},
        memories=(MemoryLevel(name="HBM", capacity_bytes=capacity, bandwidth_bytes_per_s=bandwidth, source="test"),),
        interconnect=Interconnect(name="link", devices=8, bandwidth_bytes_per_s=link, latency_s=1e-6, source="test"),
        source="test")


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.filterwarnings("ignore::rooflinekit.llm.ContextWindowWarning")  # contexts drawn past the 2,048 window
@PROPERTY
@given(tiny_configs(), st.integers(1, 8), st.integers(1, 8), st.integers(2, 4000), st.integers(0, 4000),
       st.sampled_from(["fp16", "int4", "int8"]), st.sampled_from(["weights_only", "weights_and_activations"]))
def test_decode_time_never_decreases_with_context_or_batch(config, b1, db, c1, dc, weights, traffic):
    device = _device()
    times = {}
    for batch in (b1, b1 + db):
        for context in (c1, c1 + dc):
            times[batch, context] = _quiet(model=config, hardware=device, batch=batch, prompt=1, generate=1,
                                           context=context, weights=weights, traffic=traffic).tpot_at_context_s
    assert times[b1, c1] <= times[b1, c1 + dc] * (1 + 1e-12)
    assert times[b1, c1] <= times[b1 + db, c1] * (1 + 1e-12)
    assert times[b1 + db, c1] <= times[b1 + db, c1 + dc] * (1 + 1e-12)


@PROPERTY
@given(tiny_configs(), st.integers(1, 16), st.integers(1, 512), st.integers(1, 64),
       st.floats(1.0, 100.0), st.floats(1.0, 100.0), st.sampled_from([1, 2]))
def test_more_bandwidth_never_predicts_slower(config, batch, prompt, generate, memory_factor, link_factor, tp):
    config = {**config, "num_attention_heads": config["num_attention_heads"] * 2,
              "num_key_value_heads": config["num_key_value_heads"] * 2,
              "hidden_size": config["hidden_size"] * 2}
    slow = _quiet(model=config, hardware=_device(), batch=batch, prompt=prompt, generate=generate, tp=tp)
    fast = _quiet(model=config, hardware=_device(1e12 * memory_factor, link=100e9 * link_factor), batch=batch,
                  prompt=prompt, generate=generate, tp=tp)
    for field in ("ttft_s", "tpot_at_context_s", "e2e_latency_s"):
        assert getattr(fast, field) <= getattr(slow, field) * (1 + 1e-12), field


@PROPERTY
@given(tiny_configs(), st.sampled_from([1, 2, 4, 8]), st.integers(1, 8), st.integers(1, 256),
       st.sampled_from(["fp16", "int4", "fp8"]))
def test_tp_never_reduces_memory_per_device_below_weights_over_n(config, tp, batch, prompt, weights):
    heads = config["num_attention_heads"]
    if heads % tp or (config["num_key_value_heads"] % tp and tp % config["num_key_value_heads"]):
        tp = 1
    whole = _quiet(model=config, hardware=_device(), batch=batch, prompt=prompt, generate=4, weights=weights)
    split = _quiet(model=config, hardware=_device(), batch=batch, prompt=prompt, generate=4, weights=weights, tp=tp)
    assert split.memory.weights_bytes >= whole.memory.weights_bytes / tp
    assert split.memory.total_bytes >= whole.memory.weights_bytes / tp


@PROPERTY
@given(tiny_configs(), st.floats(1e3, 1e9), st.integers(1, 64), st.integers(1, 2048), st.integers(1, 256))
def test_memory_misfit_always_reported(config, capacity, batch, prompt, generate):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = predict_llm(config, _device(capacity=capacity), batch=batch, prompt=prompt, generate=generate)
    memory = result.memory
    over = memory.total_bytes > memory.capacity_bytes * (1 + 1e-12)
    assert result.fits == (not over)
    misfit_warnings = [w for w in caught if issubclass(w.category, CapacityWarning)]
    if over:
        assert misfit_warnings and any(note.startswith("does not fit") for note in memory.notes)
        assert memory.max_batch < batch or (memory.max_context_tokens or 0) < prompt + generate
    else:
        assert not misfit_warnings and memory.max_batch >= batch


# -- command line ------------------------------------------------------------------------------------------------------

def _strict_json(text: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"non-strict JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def test_cli_llm_json_is_strict(capsys):
    code = main(["llm", "Llama-2-7B", "--hardware", H100, "--batch", "2", "--prompt", "512", "--generate", "1",
                 "--weights", "int4", "--kv", "fp8", "--format", "json", "--layers"])
    assert code == 0
    payload = _strict_json(capsys.readouterr().out)
    assert payload["estimate"] == "bound" and payload["tpot_s"] is None and payload["fits"] is True
    assert payload["memory"]["level"] == "HBM3" and payload["batch"] == 2
    assert {row["phase"] for row in payload["layers"]} == {"prefill", "decode"}
    assert all(math.isfinite(row["time_s"]) for row in payload["layers"])


def test_cli_llm_table_and_errors(capsys):
    assert main(["llm", "Llama-2-70B", "--hardware", DGX, "--tp", "2"]) == 0
    out = capsys.readouterr().out
    assert ": fits" in out and "time to first token" in out and "note: TP 2 x PP 1 over NVLink 4" in out
    assert main(["llm", "Llama-2-70B", "--hardware", H100, "--tp", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no interconnect" in err
    assert main(["llm", "Llama-2-70B", "--hardware", H100]) == 0
    captured = capsys.readouterr()
    assert "warning: Llama-2-70B on H100-SXM5-80GB: does not fit" in captured.err
    assert "does NOT fit" in captured.out


def test_public_exports():
    assert rk.predict_llm is predict_llm and rk.LLMResult is LLMResult


def test_readme_llm_outputs_are_what_the_cli_prints(capsys):
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## LLM inference")[1].split("\n## ")[0]
    blocks = [block.split("```")[0] for block in section.split("```console\n")[1:]]
    commands = [chunk for block in blocks for chunk in block.split("$ rooflinekit ")[1:]]
    assert len(commands) == 4
    for chunk in commands:
        command, *expected = chunk.rstrip("\n").split("\n")
        assert main(shlex.split(command)) == 0
        captured = capsys.readouterr()
        printed = (captured.out + captured.err).splitlines()
        for line in expected:
            if line != "...":
                assert line in printed, (command, line)


def test_batch_sweep_and_chart_mark_the_memory_limit(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    table = llm_batch_sweep("Llama-2-7B", H100, prompt=2048, generate=128)
    assert table.attrs["max_batch"] == 66_523_160_576 // (1_140_850_688 + 135_266_304) == 52
    assert list(table["batch"]) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert list(table["fits"]) == [b <= 52 for b in table["batch"]]
    assert table["output_tokens_per_s"].is_monotonic_increasing
    figure = plot_llm_batches(table)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "largest batch that fits: 52" in labels and "does not fit in memory" in labels
    out = tmp_path / "batches.png"
    assert main(["llm", "Llama-2-7B", "--hardware", H100, "--prompt", "2048", "--plot", str(out),
                 "--format", "json"]) == 0
    payload = _strict_json(capsys.readouterr().out)
    assert out.stat().st_size > 0 and payload["max_batch"] > 0 and payload["plot"] == str(out)


def _gpt_decode_onnx(path, hidden=64, heads=4, head_dim=16):
    """One attention block of a GPT decode step taking its KV cache as graph inputs (fp32), as exporters write it:
    q/k/v projections, heads split, past K and V concatenated with the new token's, scores, softmax, context."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    cache = ["batch", heads, "past_sequence_length", head_dim]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, hidden]),
              helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, cache),
              helper.make_tensor_value_info("past_key_values.0.value", TensorProto.FLOAT, cache)]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "present.0.key",
                                                                                   "present.0.value")]
    inits = [numpy_helper.from_array(np.zeros((hidden, hidden), np.float32), n) for n in ("wq", "wk", "wv", "wo")]
    inits += [numpy_helper.from_array(np.array([0, 1, heads, head_dim], np.int64), "heads_shape"),
              numpy_helper.from_array(np.array([0, 1, hidden], np.int64), "out_shape")]
    nodes = []
    for n in "qkv":
        nodes += [helper.make_node("MatMul", ["x", f"w{n}"], [f"{n}_lin"], name=f"{n}_proj"),
                  helper.make_node("Reshape", [f"{n}_lin", "heads_shape"], [f"{n}_r"], name=f"{n}_reshape"),
                  helper.make_node("Transpose", [f"{n}_r"], [f"{n}_h"], perm=[0, 2, 1, 3], name=f"{n}_t")]
    nodes += [
        helper.make_node("Concat", ["past_key_values.0.key", "k_h"], ["present.0.key"], axis=2, name="k_cat"),
        helper.make_node("Concat", ["past_key_values.0.value", "v_h"], ["present.0.value"], axis=2, name="v_cat"),
        helper.make_node("Transpose", ["present.0.key"], ["kt"], perm=[0, 1, 3, 2], name="k_tr"),
        helper.make_node("MatMul", ["q_h", "kt"], ["scores"], name="scores"),
        helper.make_node("Softmax", ["scores"], ["probs"], axis=-1, name="softmax"),
        helper.make_node("MatMul", ["probs", "present.0.value"], ["ctx"], name="context"),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="ctx_t"),
        helper.make_node("Reshape", ["ctx_t", "out_shape"], ["ctx_r"], name="ctx_reshape"),
        helper.make_node("MatMul", ["ctx_r", "wo"], ["y"], name="o_proj")]
    graph = helper.make_graph(nodes, "gpt_decode", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("past", [127, 2047])
def test_onnx_decoder_past_key_values_read_as_kv_cache_state(tmp_path, past):
    # batch 32, 4 heads of 16, predicted in fp16: the cache read per step is 2 (K, V) x 32 x 4 x past x 16 x 2
    # bytes and the weights 4 x 64 x 64 x 2 = 32,768 bytes once per batch; with the cache read the step is
    # memory-bound on an H100 (3.35 TB/s; at most ~0.6 M ops per sequence against 989.5 fp16 TOPS)
    from rooflinekit.importers import load_model
    from rooflinekit.llm import kv_cache_inputs, with_kv_cache_state

    path = _gpt_decode_onnx(tmp_path / "gpt_decode.onnx")
    shape = [32, 4, past, 16]
    network = load_model(path, batch=32, input_shapes={"past_key_values.0.key": shape,
                                                       "past_key_values.0.value": shape})
    assert kv_cache_inputs(network) == ("past_key_values.0.key", "past_key_values.0.value")
    as_imported = rk.predict(network, H100, "fp16")
    assert as_imported.bytes * 32 == pytest.approx(32_768)  # as imported the cache moves nothing
    marked = with_kv_cache_state(network)
    cache = 2 * 32 * 4 * past * 16 * 2
    assert int(count_network(marked, "fp16").layers["state_bytes"].sum()) == cache
    prediction = rk.predict(marked, H100, "fp16")
    assert prediction.latency_s == pytest.approx((32_768 + cache) / 3.35e12, rel=1e-6)
    assert prediction.bound == "memory:HBM3"


def test_kv_state_refuses_a_graph_without_cache_inputs(tmp_path):
    from rooflinekit.importers import load_model
    from rooflinekit.llm import with_kv_cache_state

    network = load_model(_gpt_decode_onnx(tmp_path / "g.onnx"), batch=1, input_shapes={
        "past_key_values.0.key": [1, 4, 8, 16], "past_key_values.0.value": [1, 4, 8, 16]})
    with pytest.raises(SpecError, match=r"no layer reads the graph inputs \['cache'\]"):
        with_kv_cache_state(network, names=["cache"])
    with pytest.raises(SpecError, match="no past-key/value input found among the graph inputs"):
        with_kv_cache_state(network, names=[])


# -- ONNX decoder exports with past-key/value inputs through predict_llm -----------------------------------------------
#
# Hand derivations for the tiny decoder below (hidden 8, 2 heads of head_dim 4, L blocks, batch B, fp16 via base):
# - a decode step at context T reads a cache of T - 1 past tokens and attends over T keys (the new one
#   concatenated): scores MatMul (B, 2, 1, 4) x (B, 2, 4, T) = B x 2 x 4 x T MACs, value MatMul (B, 2, 1, T) x
#   (B, 2, T, 4) the same, so 16 x B x T attention MACs per block: slope 16 B MACs per past token per block; the
#   four 8 x 8 projections 4 x 64 x B MACs per block whatever T.
# - the prefill over P tokens (past 0) attends P x P: 2 x B x 2 x P x P x 4 = 16 B P^2 MACs per block.
# - per decode step the cache read is 2 (K, V) x L x 2 heads x 4 x (T - 1) x 2 bytes per sequence and the new
#   token's K and V written 2 x L x 2 x 4 x 1 x 2 bytes: 2 x L x heads x head_dim x T x bytes in all.

def _tiny_decoder_onnx(path, layers=2, with_past=True, hidden=8, heads=2, head_dim=4):
    """A decoder of ``layers`` attention blocks as an Optimum-style export: hidden states of (batch_size,
    sequence_length, hidden) in, per block q/k/v/o MatMuls, past K/V of (batch_size, heads, past_sequence_length,
    head_dim) concatenated with the new tokens', score MatMul, Softmax, value MatMul (fp32)."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    cache = ["batch_size", heads, "past_sequence_length", head_dim]
    inputs = [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT,
                                            ["batch_size", "sequence_length", hidden])]
    outputs = [helper.make_tensor_value_info(f"h{layers}", TensorProto.FLOAT, None)]
    inits = [numpy_helper.from_array(np.array([0, -1, heads, head_dim], np.int64), "heads_shape"),
             numpy_helper.from_array(np.array([0, -1, hidden], np.int64), "out_shape")]
    nodes = []
    for i in range(layers):
        x = "hidden_states" if i == 0 else f"h{i}"
        inits += [numpy_helper.from_array(np.zeros((hidden, hidden), np.float32), f"w{n}{i}") for n in "qkvo"]
        for n in "qkv":
            nodes += [helper.make_node("MatMul", [x, f"w{n}{i}"], [f"{n}_lin{i}"], name=f"{i}.{n}_proj"),
                      helper.make_node("Reshape", [f"{n}_lin{i}", "heads_shape"], [f"{n}_r{i}"],
                                       name=f"{i}.{n}_reshape"),
                      helper.make_node("Transpose", [f"{n}_r{i}"], [f"{n}_h{i}"], perm=[0, 2, 1, 3],
                                       name=f"{i}.{n}_t")]
        k, v = f"k_h{i}", f"v_h{i}"
        if with_past:
            for n, new in (("key", k), ("value", v)):
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{n}", TensorProto.FLOAT, cache))
                outputs.append(helper.make_tensor_value_info(f"present.{i}.{n}", TensorProto.FLOAT, None))
                nodes.append(helper.make_node("Concat", [f"past_key_values.{i}.{n}", new], [f"present.{i}.{n}"],
                                              axis=2, name=f"{i}.{n}_cat"))
            k, v = f"present.{i}.key", f"present.{i}.value"
        nodes += [
            helper.make_node("Transpose", [k], [f"kt{i}"], perm=[0, 1, 3, 2], name=f"{i}.k_tr"),
            helper.make_node("MatMul", [f"q_h{i}", f"kt{i}"], [f"scores{i}"], name=f"{i}.scores"),
            helper.make_node("Softmax", [f"scores{i}"], [f"probs{i}"], axis=-1, name=f"{i}.softmax"),
            helper.make_node("MatMul", [f"probs{i}", v], [f"ctx{i}"], name=f"{i}.context"),
            helper.make_node("Transpose", [f"ctx{i}"], [f"ctx_t{i}"], perm=[0, 2, 1, 3], name=f"{i}.ctx_t"),
            helper.make_node("Reshape", [f"ctx_t{i}", "out_shape"], [f"ctx_r{i}"], name=f"{i}.ctx_reshape"),
            helper.make_node("MatMul", [f"ctx_r{i}", f"wo{i}"], [f"h{i + 1}"], name=f"{i}.o_proj")]
    graph = helper.make_graph(nodes, "tiny_decoder", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _phase_macs(result: LLMResult, phase: str, parts: tuple[str, ...]) -> float:
    rows = result.layers[(result.layers["phase"] == phase) & result.layers["name"].str.endswith(parts)]
    return float(rows["ops"].sum()) / 2  # matmul rows carry no other ops: ops = 2 x MACs


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_decoder_attention_macs_grow_linearly_with_past(tmp_path, batch):
    path = _tiny_decoder_onnx(tmp_path / "decoder.onnx", layers=2)
    at = {t: _quiet(model=path, hardware=H100, batch=batch, prompt=6, generate=4, context=t, base="fp16")
          for t in (10, 50)}
    attention = (".scores", ".context")
    # decode step: 16 B T attention MACs per block, 2 blocks -> 32 B T; slope 32 B per past token
    assert _phase_macs(at[10], "decode", attention) == 32 * batch * 10
    slope = (_phase_macs(at[50], "decode", attention) - _phase_macs(at[10], "decode", attention)) / 40
    assert slope == 2 * 16 * batch
    # projections: 2 blocks x 4 x 64 B MACs, independent of the context
    assert _phase_macs(at[50], "decode", ("_proj",)) == _phase_macs(at[10], "decode", ("_proj",)) == 512 * batch
    # prefill of P = 6 at past 0: 2 blocks x 16 B P^2
    assert _phase_macs(at[10], "prefill", attention) == 2 * 16 * batch * 36
    assert at[10].model == "decoder.onnx" and at[10].tpot_s is not None and at[10].fits


def test_onnx_decoder_kv_bytes_per_decode_step(tmp_path):
    from rooflinekit.llm.kv_inputs import decoder_inputs, load_decoder

    layers, heads, head_dim, fp16 = 3, 2, 4, 2
    path = _tiny_decoder_onnx(tmp_path / "decoder.onnx", layers=layers)
    inputs = decoder_inputs(path)
    assert inputs.cache == tuple(f"past_key_values.{i}.{n}" for i in range(layers) for n in ("key", "value"))
    assert set(inputs.past_axis.values()) == {2}
    # cache read at past 100, batch 2: 2 x 3 x 2 x 4 x 100 x 2 bytes per sequence = 9,600
    network = load_decoder(inputs, batch=2, sequence=1, past=100)
    assert int(count_network(network, "fp16").layers["state_bytes"].sum()) == 2 * 9_600
    result = _quiet(model=path, hardware=H100, batch=2, prompt=64, generate=64, context=101, base="fp16")
    cache_rows = result.layers[(result.layers["phase"] == "decode") & result.layers["name"].str.endswith("_cat")]
    # weights_only: the cache rows move the 100 past tokens read + the new one written, per sequence
    # 2 x layers x heads x head_dim x context x bytes = 2 x 3 x 2 x 4 x 101 x 2 = 9,696; x batch 2
    assert float(cache_rows["bytes"].sum()) == 2 * 2 * layers * heads * head_dim * 101 * fp16 == 19_392
    # memory: the cache at the full context P + G = 128: 2 x 128 x 2 x 3 x 2 x 4 x 2
    assert result.memory.kv_cache_bytes == 2 * 128 * 2 * layers * heads * head_dim * fp16 == 24_576
    # a step is memory-bound at batch 2 on an H100, so the step time grows with the context
    assert result.decode_bound == "memory:HBM3" and result.tpot_at_context_s > result.ttft_s / 64


def test_onnx_file_without_past_inputs_is_refused(tmp_path):
    path = _tiny_decoder_onnx(tmp_path / "no_cache.onnx", layers=1, with_past=False)
    with pytest.raises(SpecError, match=r"no past-key/value input among the graph inputs \['hidden_states'\]; "
                                        r"predict_llm expects a decoder exported with its KV cache"):
        predict_llm(path, H100)
    with pytest.raises(SpecError, match="an ONNX decoder is costed at its file's own types; weights, kv and "
                                        "group_size apply to transformer configs"):
        predict_llm(_tiny_decoder_onnx(tmp_path / "d.onnx", layers=1), H100, weights="int4")


def test_cli_llm_on_an_onnx_decoder_is_strict_json(tmp_path, capsys):
    path = _tiny_decoder_onnx(tmp_path / "decoder.onnx", layers=2)
    assert main(["llm", str(path), "--hardware", H100, "--batch", "2", "--prompt", "16", "--generate", "8",
                 "--base", "fp16", "--format", "json", "--layers"]) == 0
    payload = _strict_json(capsys.readouterr().out)
    assert payload["model"] == "decoder.onnx" and payload["batch"] == 2 and payload["estimate"] == "bound"
    assert payload["precision"] == "fp16" and payload["tp"] == 1 and payload["tpot_s"] > 0
    assert {row["phase"] for row in payload["layers"]} == {"prefill", "decode"}
    assert main(["llm", str(_tiny_decoder_onnx(tmp_path / "plain.onnx", layers=1, with_past=False)),
                 "--hardware", H100]) == 2
    assert "no past-key/value input" in capsys.readouterr().err


def test_onnx_decoder_inputs_bound_per_phase_optimum_style(tmp_path):
    # An Optimum decoder_with_past export of one block (8 KV heads of 64) declares input_ids and position_ids of
    # (batch_size, sequence_length), attention_mask of (batch_size, past_sequence_length + 1) and the cache of
    # (batch_size, 8, past_sequence_length, 64). By the rule: decode step at context 100 -> sequence 1, past 99,
    # mask 99 + 1 = 100; prefill of 16 tokens -> sequence 16, past 0, mask 16.
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from rooflinekit.llm.kv_inputs import decoder_inputs

    cache = ["batch_size", 8, "past_sequence_length", 64]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                            ["batch_size", "past_sequence_length + 1"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, cache),
              helper.make_tensor_value_info("past_key_values.0.value", TensorProto.FLOAT, cache)]
    nodes = [helper.make_node("Identity", [name], [f"{name}_out"]) for name in ("past_key_values.0.key",)]
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("past_key_values.0.key_out", TensorProto.FLOAT, None)])
    path = tmp_path / "optimum_like.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    found = decoder_inputs(path)
    assert found.cache == ("past_key_values.0.key", "past_key_values.0.value")
    decode = found.input_shapes(batch=4, sequence=1, past=99)
    assert decode == {"input_ids": [4, 1], "attention_mask": [4, 100], "position_ids": [4, 1],
                      "past_key_values.0.key": [4, 8, 99, 64], "past_key_values.0.value": [4, 8, 99, 64]}
    prefill = found.input_shapes(batch=4, sequence=16, past=0)
    assert prefill["attention_mask"] == [4, 16] and prefill["input_ids"] == [4, 16]


# -- context window, model dtype, notes and number format ----------------------------------------------------------

TINY = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 100, "tie_word_embeddings": False,
        "max_position_embeddings": 2048}
"""Every key named, at LlamaConfig's defaults where the tests do not set it (no ConfigDefaultWarning). Parameters by
hand: per block ``4 x 64^2`` (attention) + ``3 x 64 x 128`` (gated MLP) + ``2 x 64`` (norms) =
41,088; two blocks, the embedding and the untied LM head ``2 x 100 x 64``, the final norm 64: 95,040."""


def test_context_beyond_the_window_warns_naming_both_numbers():
    # Llama-2-7B's config: max_position_embeddings 4096; 4000 + 200 = 4200 tokens are beyond it
    with pytest.warns(ContextWindowWarning, match=r"4,000 \+ generate 200 = 4,200 tokens exceed its context window "
                                                  r"of 4,096 tokens"):
        predict_llm("Llama-2-7B", H100, prompt=4000, generate=200)
    with pytest.warns(ContextWindowWarning, match=r"context 5,000 tokens exceed its context window of 4,096"):
        predict_llm("Llama-2-7B", H100, prompt=1000, generate=100, context=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ContextWindowWarning)
        predict_llm("Llama-2-7B", H100, prompt=4000, generate=96)  # 4096 tokens: within the window


def test_largest_context_is_capped_at_the_window():
    # Llama-2-7B fp16 on 80 GB at batch 1: memory alone holds ~126 k tokens (66.4 GB of room / 524,288 bytes per
    # token), far beyond the 4,096-token window, so the window is the largest context
    result = predict_llm("Llama-2-7B", H100, prompt=2048, generate=128)
    assert result.memory.context_window == 4096 and result.memory.max_context_tokens == 4096
    assert "largest context 4,096 tokens at batch 1 (the model's context window)" in result.summary()
    assert any(note.startswith("the model's context window of 4,096 tokens caps the largest context; memory alone "
                               "would hold 12") for note in result.notes)
    # a config setting max_position_embeddings to null has no window: memory alone limits the context
    free = predict_llm({**TINY, "max_position_embeddings": None}, H100, prompt=8, generate=2)
    assert free.memory.context_window is None and free.memory.max_context_tokens > 4096
    assert "context window" not in free.summary()


def test_memory_budget_caps_the_context_at_the_window():
    from rooflinekit.llm.memory import memory_budget

    # 100 bytes, weights 10, 1 byte per token, no activations: memory holds 90 tokens at batch 1
    def budget(window):
        return memory_budget(("HBM",), np.array([100.0]), np.array([[10.0]]), np.array([[1.0]]),
                             np.array([[0.0]]), 0, 1, 20, 20, None, window)

    assert budget(None).max_context_tokens == 90 and budget(200).max_context_tokens == 90
    capped = budget(50)
    assert capped.max_context_tokens == 50 and capped.context_window == 50
    assert "memory alone would hold 90 tokens at batch 1" in " ".join(capped.notes)


def test_default_precision_is_the_models_own_type():
    # the bundled Llama-3.1-8B and Mistral-7B are bf16 (their "precision", as `models list` shows); Llama-2-7B fp16
    assert predict_llm("Llama-3.1-8B", H100, prompt=64, generate=2).precision == "weights bf16, base bf16, KV bf16"
    assert predict_llm("Mistral-7B", H100, prompt=64, generate=2).precision == "weights bf16, base bf16, KV bf16"
    assert predict_llm("Llama-2-7B", H100, prompt=64, generate=2).precision == "weights fp16, base fp16, KV fp16"
    bf16 = {**TINY, "torch_dtype": "bfloat16"}
    assert predict_llm(bf16, H100, prompt=8, generate=2).precision == "weights bf16, base bf16, KV bf16"
    # explicit options override it
    assert predict_llm(bf16, H100, prompt=8, generate=2, weights="fp16").precision == \
        "weights fp16, base fp16, KV fp16"
    assert predict_llm(bf16, H100, prompt=8, generate=2, base="fp16").precision == "weights fp16, base fp16, KV fp16"
    assert predict_llm(bf16, H100, prompt=8, generate=2, weights="int4").precision.endswith("base bf16, KV bf16")
    # a T4 has no bf16 peak: fp16
    assert predict_llm(bf16, "T4", prompt=8, generate=2).precision == "weights fp16, base fp16, KV fp16"


def test_fp32_model_holds_four_bytes_per_weight():
    fp32 = predict_llm({**TINY, "torch_dtype": "float32"}, H100, prompt=8, generate=2)
    assert fp32.precision == "weights fp32, base fp32, KV fp32"
    assert fp32.memory.weights_bytes == 95_040 * 4
    assert predict_llm(TINY, H100, prompt=8, generate=2).memory.weights_bytes == 95_040 * 2


def test_llm_precision_defaults():
    from rooflinekit.descriptors import DType
    from rooflinekit.llm import llm_precision

    assert llm_precision(default=DType.BF16).label == "weights bf16, base bf16, KV bf16"
    assert llm_precision("int4", default=DType.BF16).base == DType.BF16
    assert llm_precision("int4", default=DType.FP32).base == DType.FP16  # W4A16: 16-bit activations
    assert llm_precision(base="fp16", default=DType.BF16).label == "weights fp16, base fp16, KV fp16"
    assert llm_precision("bf16").base == DType.BF16


def test_pipeline_only_note_has_no_all_reduce_and_moe_note_grammar():
    pipeline = predict_llm("Llama-2-7B", DGX, prompt=64, generate=2, pp=2)
    link = next(note for note in pipeline.notes if note.startswith("TP 1 x PP 2"))
    assert "all-reduce" not in link and "stage-to-stage hand-over bytes / bandwidth + latency" in link
    both = predict_llm("Llama-2-7B", DGX, prompt=64, generate=2, tp=2, pp=2)
    link = next(note for note in both.notes if note.startswith("TP 2 x PP 2"))
    assert "ring all-reduce" in link and "hand-over" in link
    one = _quiet(model="Mixtral-8x7B", hardware=DGX, batch=1, prompt=8, generate=2, tp=2)
    two = _quiet(model="Mixtral-8x7B", hardware=DGX, batch=2, prompt=8, generate=2, tp=2)
    assert any("the experts its 1 token routes to" in note for note in one.notes)
    assert any("the experts its 2 tokens route to" in note for note in two.notes)


def test_llm_text_numbers_are_grouped_never_exponents():
    import re

    from rooflinekit.display import grouped

    # four significant digits, thousands separators, no exponent
    assert [grouped(v) for v in (19868.4, 126624, 1476.3, 223.7, 45.40, 0.012345, 1e-7, None)] == \
        ["19,870", "126,624", "1,476", "223.7", "45.4", "0.01235", "0.0000001", "n/a"]
    result = predict_llm("Llama-2-7B", DGX, tp=8, batch=64, prompt=2048, generate=128)
    text = result.summary() + repr(result)
    assert not re.search(r"\de[+-]\d", text)
    assert f"{grouped(result.decode_tokens_per_s)} tokens/s in all" in text and "batch 64, prompt 2,048" in text


def test_batch_sweep_warns_once_beyond_the_window():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        llm_batch_sweep("Llama-2-7B", H100, batches=[1, 2], prompt=4000, generate=200)
    beyond = [w for w in caught if issubclass(w.category, ContextWindowWarning)]
    assert len(beyond) == 1 and "4,200 tokens exceed its context window of 4,096" in str(beyond[0].message)
