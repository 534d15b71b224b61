"""Tensor and pipeline parallelism and the calibrated estimate of ONNX decoder exports (rooflinekit.llm.onnx_*).

Hand derivations, for the Llama-like decoder of :func:`_llama_onnx` (L blocks, hidden H = heads x D, FFN F,
vocabulary V; every weighted MatMul y = x W):

- MACs per token of one block's projections: q, k, v, o ``4 H^2`` and gate, up, down ``3 H F``; attention over T
  cached tokens (the new ones included) ``2 H T`` (scores and context, ``heads x D x T`` each). Under TP N every
  device holds ``1/N`` of the heads and FFN columns, so each of those is ``/ N`` per device.
- All-reduces under TP N: one after the attention output and one after the MLP down projection of every block, one
  after the embedding: ``2 L + 1`` of the ``(B, S, H)`` hidden states, ``2 B S H`` bytes at fp16; a ring all-reduce
  of n bytes over N = 2 devices takes ``2 (N-1)/N x n / bw + 2 (N-1) x lat = n / bw + 2 lat``. The LM head's
  ``(B, S, V)`` logits are all-gathered: ``(N-1)/N x n / bw + (N-1) x lat = n / (2 bw) + lat`` at N = 2.
- Weights per device at fp16: blocks ``L (4 H^2 + 3 H F) x 2 / N``, embedding and LM head ``2 V H x 2 / N``.
- KV cache at context C, batch B: ``B x C x L x 2 x H x 2`` bytes (fp16, K and V, heads x D = H), ``/ N`` per
  device.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from rooflinekit.cli import main
from rooflinekit.descriptors import HardwareSpec, MemoryLevel
from rooflinekit.descriptors.hardware import Interconnect
from rooflinekit.errors import SpecError
from rooflinekit.llm import LLMResult, predict_llm

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

BANDWIDTH, LINK, LATENCY = 1e12, 100e9, 1e-6
HEADS, HEAD_DIM, FFN, VOCAB = 2, 4, 16, 1000
HIDDEN = HEADS * HEAD_DIM
FP16 = 2


def _device() -> HardwareSpec:
    return HardwareSpec(
        name="test GPU", kind="GPU", peak_ops_per_s={"fp16": 1e14, "fp32": 5e13},
        memories=(MemoryLevel(name="HBM", capacity_bytes=80e9, bandwidth_bytes_per_s=BANDWIDTH, source="test"),),
        interconnect=Interconnect(name="link", devices=8, bandwidth_bytes_per_s=LINK, latency_s=LATENCY,
                                  source="test"),
        source="test")


def _llama_onnx(path, layers=2, lm=False, extras=False):
    """A Llama-like decoder export: hidden states (or, with ``lm``, input ids through an embedding) in; per block
    q/k/v MatMuls, heads reshaped, the past K/V of (batch_size, heads, past_sequence_length, head_dim)
    concatenated, score MatMul, Softmax, value MatMul, output MatMul, residual Add, then gate/up MatMuls, SiLU
    (Sigmoid x gate), x up, down MatMul, residual Add; with ``lm`` an LM head MatMul to the logits (fp32). With
    ``extras`` what an exporter adds around them: RMSNorms decomposed into primitive ops (x / sqrt(mean(x^2)) x
    gamma) before the attention, the MLP and (with ``lm``) the LM head, a rotary table gathered by position_ids
    multiplying q and k, and the attention_mask added to the scores."""
    cache = ["batch_size", HEADS, "past_sequence_length", HEAD_DIM]
    inits = [numpy_helper.from_array(np.array([0, -1, HEADS, HEAD_DIM], np.int64), "heads_shape"),
             numpy_helper.from_array(np.array([0, -1, HIDDEN], np.int64), "out_shape"),
             numpy_helper.from_array(np.array([1], np.int64), "axis_1"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "axes_1_2")]

    def weight(name, *dims):
        inits.append(numpy_helper.from_array(np.zeros(dims, np.float32), name))
        return name

    nodes, outputs = [], []

    def norm(x, name):
        if not extras:
            return x
        nodes.extend([
            helper.make_node("Mul", [x, x], [f"{name}_sq"], name=f"{name}.square"),
            helper.make_node("ReduceMean", [f"{name}_sq"], [f"{name}_ms"], axes=[-1], keepdims=1,
                             name=f"{name}.mean"),
            helper.make_node("Sqrt", [f"{name}_ms"], [f"{name}_rt"], name=f"{name}.sqrt"),
            helper.make_node("Reciprocal", [f"{name}_rt"], [f"{name}_inv"], name=f"{name}.reciprocal"),
            helper.make_node("Mul", [x, f"{name}_inv"], [f"{name}_xn"], name=f"{name}.scale"),
            helper.make_node("Mul", [f"{name}_xn", weight(f"{name}.gamma", HIDDEN)], [f"{name}_out"],
                             name=f"{name}.gamma")])
        return f"{name}_out"

    if lm:
        inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
        nodes.append(helper.make_node("Gather", [weight("embed_tokens", VOCAB, HIDDEN), "input_ids"], ["x0"],
                                      name="embed_tokens"))
        x = "x0"
    else:
        inputs = [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT,
                                                ["batch_size", "sequence_length", HIDDEN])]
        x = "hidden_states"
    if extras:
        inputs += [helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
                   helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT,
                                                 ["batch_size", "past_sequence_length + 1"])]
        nodes += [helper.make_node("Gather", [weight("rotary_cos", 64, HEAD_DIM), "position_ids"], ["cos"],
                                   name="rotary_gather"),
                  helper.make_node("Unsqueeze", ["cos", "axis_1"], ["cos_h"], name="rotary_unsqueeze"),
                  helper.make_node("Unsqueeze", ["attention_mask", "axes_1_2"], ["mask_h"], name="mask_unsqueeze")]
    for i in range(layers):
        p = f"layers.{i}."
        h = norm(x, p + "input_layernorm")
        for n in "qkv":
            nodes += [helper.make_node("MatMul", [h, weight(f"w{n}{i}", HIDDEN, HIDDEN)], [f"{n}{i}"],
                                       name=p + f"{n}_proj"),
                      helper.make_node("Reshape", [f"{n}{i}", "heads_shape"], [f"{n}r{i}"], name=p + f"{n}_reshape"),
                      helper.make_node("Transpose", [f"{n}r{i}"], [f"{n}h{i}"], perm=[0, 2, 1, 3], name=p + f"{n}_t")]
        q, k, v = f"qh{i}", f"kh{i}", f"vh{i}"
        if extras:
            nodes += [helper.make_node("Mul", [q, "cos_h"], [f"qrot{i}"], name=p + "q_rotary"),
                      helper.make_node("Mul", [k, "cos_h"], [f"krot{i}"], name=p + "k_rotary")]
            q, k = f"qrot{i}", f"krot{i}"
        for n, new in (("key", k), ("value", v)):
            name = f"past_key_values.{i}.{n}"
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, cache))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{n}", TensorProto.FLOAT, None))
            nodes.append(helper.make_node("Concat", [name, new], [f"present.{i}.{n}"], axis=2, name=p + f"{n}_cat"))
        nodes += [
            helper.make_node("Transpose", [f"present.{i}.key"], [f"kt{i}"], perm=[0, 1, 3, 2], name=p + "k_tr"),
            helper.make_node("MatMul", [q, f"kt{i}"], [f"s{i}"], name=p + "scores")]
        scores = f"s{i}"
        if extras:
            nodes.append(helper.make_node("Add", [scores, "mask_h"], [f"sm{i}"], name=p + "mask_add"))
            scores = f"sm{i}"
        mlp_in = f"a{i}"
        nodes += [
            helper.make_node("Softmax", [scores], [f"pr{i}"], axis=-1, name=p + "softmax"),
            helper.make_node("MatMul", [f"pr{i}", f"present.{i}.value"], [f"c{i}"], name=p + "context"),
            helper.make_node("Transpose", [f"c{i}"], [f"ct{i}"], perm=[0, 2, 1, 3], name=p + "ctx_t"),
            helper.make_node("Reshape", [f"ct{i}", "out_shape"], [f"cr{i}"], name=p + "ctx_reshape"),
            helper.make_node("MatMul", [f"cr{i}", weight(f"wo{i}", HIDDEN, HIDDEN)], [f"o{i}"], name=p + "o_proj"),
            helper.make_node("Add", [x, f"o{i}"], [mlp_in], name=p + "attn_residual")]
        h = norm(mlp_in, p + "post_attention_layernorm")
        nodes += [
            helper.make_node("MatMul", [h, weight(f"wg{i}", HIDDEN, FFN)], [f"g{i}"], name=p + "gate_proj"),
            helper.make_node("MatMul", [h, weight(f"wu{i}", HIDDEN, FFN)], [f"u{i}"], name=p + "up_proj"),
            helper.make_node("Sigmoid", [f"g{i}"], [f"sg{i}"], name=p + "sigmoid"),
            helper.make_node("Mul", [f"g{i}", f"sg{i}"], [f"act{i}"], name=p + "act"),
            helper.make_node("Mul", [f"act{i}", f"u{i}"], [f"m{i}"], name=p + "gate_mul"),
            helper.make_node("MatMul", [f"m{i}", weight(f"wd{i}", FFN, HIDDEN)], [f"d{i}"], name=p + "down_proj"),
            helper.make_node("Add", [mlp_in, f"d{i}"], [f"x{i + 1}"], name=p + "mlp_residual")]
        x = f"x{i + 1}"
    if lm:
        nodes.append(helper.make_node("MatMul", [norm(x, "norm"), weight("lm_head", HIDDEN, VOCAB)], ["logits"],
                                      name="lm_head"))
        x = "logits"
    outputs.insert(0, helper.make_tensor_value_info(x, TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "llama_like", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _config(layers: int) -> dict[str, object]:
    """The same decoder as a Hugging Face config (its norms and rotary embedding are not in the ONNX graph), every
    key named (LlamaConfig's defaults for the two it would fill, so no ConfigDefaultWarning)."""
    return {"model_type": "llama", "hidden_size": HIDDEN, "num_attention_heads": HEADS,
            "num_key_value_heads": HEADS, "intermediate_size": FFN, "num_hidden_layers": layers,
            "vocab_size": VOCAB, "head_dim": HEAD_DIM, "tie_word_embeddings": False, "max_position_embeddings": 2048}


def _run(model, **kwargs) -> LLMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return predict_llm(model, kwargs.pop("hardware", _device()), base="fp16", **kwargs)


def _macs(result: LLMResult, phase: str, parts: tuple[str, ...]) -> float:
    rows = result.layers[(result.layers["phase"] == phase) & result.layers["name"].str.endswith(parts)]
    return float(rows["ops"].sum()) / 2  # matmul rows carry no other ops: ops = 2 x MACs


PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ONNX_ATTENTION = (".scores", ".context")
CONFIG_ATTENTION = (".attn_scores", ".attn_context")


def _allreduce_2(nbytes: float) -> float:
    """Ring all-reduce over 2 devices, by hand: n / bw + 2 lat."""
    return nbytes / LINK + 2 * LATENCY


def _allgather_2(nbytes: float) -> float:
    """Ring all-gather over 2 devices, by hand: n / (2 bw) + lat."""
    return nbytes / (2 * LINK) + LATENCY


def test_tp2_halves_matmul_macs_per_device_and_adds_the_ring_allreduces(tmp_path):
    layers, batch, prompt, context = 2, 2, 4, 50
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=layers)
    one, two = (_run(path, batch=batch, prompt=prompt, generate=8, context=context, tp=tp) for tp in (1, 2))
    # decode step at context 50: projections 2 blocks x (4 x 64 + 3 x 8 x 16) x B = 1,280 B; attention
    # 2 blocks x 2 x 8 x 50 x B = 1,600 B; per device under TP 2 half of each
    assert _macs(one, "decode", PROJECTIONS) == layers * (4 * HIDDEN**2 + 3 * HIDDEN * FFN) * batch == 2_560
    assert _macs(one, "decode", ONNX_ATTENTION) == layers * 2 * HIDDEN * context * batch == 3_200
    for phase in ("prefill", "decode"):
        for parts in (PROJECTIONS, ONNX_ATTENTION):
            assert _macs(two, phase, parts) == _macs(one, phase, parts) / 2
    # 2 all-reduces per block of (B, S, H) fp16: prefill 2 x 4 x 8 x 2 = 128 bytes, a step 32 bytes
    assert two.prefill_interconnect_s == pytest.approx(2 * layers * _allreduce_2(batch * prompt * HIDDEN * FP16))
    assert two.decode_interconnect_s == pytest.approx(2 * layers * _allreduce_2(batch * 1 * HIDDEN * FP16))
    assert one.prefill_interconnect_s == one.decode_interconnect_s == 0.0
    assert (two.tp, two.pp, two.devices) == (2, 1, 2)
    # the KV cache per device halves (each device holds one of the two heads): B x C x L x 2 x H x 2 / 2
    assert two.memory.kv_cache_bytes == one.memory.kv_cache_bytes / 2 == batch * 12 * layers * 2 * HIDDEN * FP16 / 2
    assert two.memory.weights_bytes == one.memory.weights_bytes / 2 == layers * (4 * 64 + 3 * 128) * FP16 / 2
    # the decode step at context 50 is the per-device roofline plus the link time
    assert two.tpot_at_context_s > two.decode_interconnect_s > 0


@pytest.mark.parametrize("tp", [1, 2])
def test_onnx_and_config_of_one_decoder_agree_per_device(tmp_path, tp):
    layers, batch, prompt, generate = 2, 2, 6, 10
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=layers, lm=True)
    graph = _run(path, batch=batch, prompt=prompt, generate=generate, tp=tp)
    config = _run(_config(layers), batch=batch, prompt=prompt, generate=generate, tp=tp)
    for phase in ("prefill", "decode"):
        assert _macs(graph, phase, PROJECTIONS) == _macs(config, phase, PROJECTIONS)
        assert _macs(graph, phase, ONNX_ATTENTION) == _macs(config, phase, CONFIG_ATTENTION)
    assert graph.memory.kv_cache_bytes == config.memory.kv_cache_bytes == (
        batch * (prompt + generate) * layers * 2 * HIDDEN * FP16 / tp)
    # weights: the config's minus its 2 L + 1 norms (whole on every device), which the graph does not have
    norms = (2 * layers + 1) * HIDDEN * FP16
    assert graph.memory.weights_bytes == config.memory.weights_bytes - norms == (
        (layers * (4 * HIDDEN**2 + 3 * HIDDEN * FFN) + 2 * VOCAB * HIDDEN) * FP16 / tp)
    # links: 2 L + 1 all-reduces and the logits all-gather on both paths; the graph's LM head runs on all P
    # prompt positions, the config's on the last one
    assert graph.decode_interconnect_s == pytest.approx(config.decode_interconnect_s)
    if tp == 2:
        hidden = batch * prompt * HIDDEN * FP16
        assert graph.prefill_interconnect_s == pytest.approx(
            (2 * layers + 1) * _allreduce_2(hidden) + _allgather_2(batch * prompt * VOCAB * FP16))
        assert config.prefill_interconnect_s == pytest.approx(
            (2 * layers + 1) * _allreduce_2(hidden) + _allgather_2(batch * VOCAB * FP16))
        assert graph.decode_interconnect_s == pytest.approx(
            (2 * layers + 1) * _allreduce_2(batch * HIDDEN * FP16) + _allgather_2(batch * VOCAB * FP16))


def test_exported_norms_rotary_and_mask_are_replicated_and_agree_with_the_config(tmp_path):
    # with the RMSNorms, rotary table and mask an exporter adds: still 2 L + 1 all-reduces, the norms whole on every
    # device (as the config's), the rotary table (64 x 4, gathered by position ids, not vocabulary-parallel) too
    layers, batch, prompt, generate = 2, 2, 6, 10
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=layers, lm=True, extras=True)
    config = _run(_config(layers), batch=batch, prompt=prompt, generate=generate, tp=2)
    graph = _run(path, batch=batch, prompt=prompt, generate=generate, tp=2)
    assert graph.memory.weights_bytes == config.memory.weights_bytes + 64 * HEAD_DIM * FP16
    assert graph.decode_interconnect_s == pytest.approx(config.decode_interconnect_s)
    for phase in ("prefill", "decode"):
        assert _macs(graph, phase, PROJECTIONS) == _macs(config, phase, PROJECTIONS)
        assert _macs(graph, phase, ONNX_ATTENTION) == _macs(config, phase, CONFIG_ATTENTION)
    # a norm's ops are the same per device at TP 1 and 2 (replicated); the rotary multiply halves (heads split)
    one = _run(path, batch=batch, prompt=prompt, generate=generate)
    for name, ratio in (("layers.1.input_layernorm.square", 1.0), ("layers.1.q_rotary", 0.5),
                        ("layers.1.mask_add", 0.5)):
        ops = [float(r.layers.set_index(["phase", "name"]).loc[("decode", name), "ops"]) for r in (one, graph)]
        assert ops[1] == ops[0] * ratio and ops[0] > 0


def test_pp2_puts_half_the_blocks_on_each_stage(tmp_path):
    layers, batch, prompt = 4, 2, 4
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=layers)
    one, two = (_run(path, batch=batch, prompt=prompt, generate=4, pp=pp) for pp in (1, 2))
    table = two.layers
    block = table["name"].str.extract(r"^layers\.(\d+)\.", expand=False).astype(int)
    for phase in ("prefill", "decode"):
        rows = table["phase"] == phase
        weighted = rows & table["name"].str.endswith(PROJECTIONS)
        assert set(table.loc[weighted & (block < 2), "stage"]) == {0}
        assert set(table.loc[weighted & (block >= 2), "stage"]) == {1}
    # each stage holds 2 of the 4 blocks: half the weights and half the cache per device
    assert two.memory.weights_bytes == one.memory.weights_bytes / 2 == 2 * (4 * 64 + 3 * 128) * FP16
    assert two.memory.kv_cache_bytes == one.memory.kv_cache_bytes / 2
    # one hand-over of the (B, S, H) hidden states between the stages: n / bw + lat
    assert two.prefill_interconnect_s == pytest.approx(batch * prompt * HIDDEN * FP16 / LINK + LATENCY)
    assert two.decode_interconnect_s == pytest.approx(batch * HIDDEN * FP16 / LINK + LATENCY)
    assert (two.devices, two.pp) == (2, 2)
    both = _run(path, batch=batch, prompt=prompt, generate=4, pp=2, tp=2)
    assert both.devices == 4 and both.memory.weights_bytes == one.memory.weights_bytes / 4


def test_calibrated_on_onnx_gives_an_estimate_with_an_interval(tmp_path):
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=2, lm=True)
    result = _run(path, hardware="DGX H100", batch=4, prompt=128, generate=16, tp=2, calibrated=True)
    cal = result.calibrated
    assert cal is not None and cal.estimate == "calibrated" and result.estimate == "bound"
    for (low, high), mid, bound in ((cal.ttft_interval_s, cal.ttft_s, result.ttft_s),
                                    (cal.tpot_interval_s, cal.tpot_s, result.tpot_s)):
        assert bound <= low <= mid <= high
    # the GEMM kinds read from the split: q, k, v one fused attention-input GEMM, o the attention output, gate and
    # up one fused MLP-up GEMM, down the MLP down projection, the LM head priced as mlp_up_proj
    decode = result.layers[result.layers["phase"] == "decode"].set_index("name")["calibrated_kind"]
    assert [decode[f"layers.1.{n}"] for n in PROJECTIONS] == [
        "attn_pre_proj", "attn_pre_proj", "attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_up_proj",
        "mlp_down_proj"]
    assert decode["lm_head"] == "mlp_up_proj (LM head proxy)" and decode["layers.1.softmax"] == "roofline+overhead"
    # a reshape computes and moves nothing: no kernel, no fixed cost
    times = result.layers[result.layers["phase"] == "decode"].set_index("name")["calibrated_time_s"]
    assert decode["layers.1.q_reshape"] == "view" and times["layers.1.q_reshape"] == 0.0
    rate_low, rate_high = cal.output_tokens_per_s_interval
    assert rate_low <= cal.output_tokens_per_s <= rate_high
    # one device's calibrated kernels plus the link at its bound make the calibrated times
    layers = result.layers
    prefill = layers.loc[layers.phase == "prefill", "calibrated_time_s"].sum()
    decode_at_context = layers.loc[layers.phase == "decode", "calibrated_time_s"].sum()
    assert prefill + result.prefill_interconnect_s == pytest.approx(cal.ttft_s, rel=1e-12)
    assert decode_at_context + result.decode_interconnect_s == pytest.approx(cal.tpot_at_context_s, rel=1e-12)


def test_calibrated_gemms_match_the_config_path(tmp_path):
    # the same GEMMs of the same shapes priced by the same fitted model on the two paths (before the max with the
    # bound kernel, which differs: the config fuses its norms and rotary embedding into other kernels)
    from rooflinekit.llm.calibrated import load_llm_calibration, price_rows
    from rooflinekit.llm.kv_inputs import decoder_inputs
    from rooflinekit.llm.onnx_calibrated import price_onnx_rows
    from rooflinekit.llm.onnx_phases import OnnxOptions, onnx_phase
    from rooflinekit.llm.parallel import Parallelism, shard_config
    from rooflinekit.llm.precision import llm_precision
    from rooflinekit.llm.predict import decode_step_network
    from rooflinekit.networks.transformer import load_transformer_config
    from rooflinekit.roofline import CountedNetwork
    from rooflinekit.api import resolve_hardware

    device = resolve_hardware("H100-SXM5-80GB")
    cal = load_llm_calibration()
    batch = 8
    path = _llama_onnx(tmp_path / "decoder.onnx", layers=2)
    phase = onnx_phase(decoder_inputs(path), batch, 1, "fp16", OnnxOptions(parallelism=Parallelism(2, 1)))
    graph = price_onnx_rows(phase.network, phase.device_a, phase.split, 2, device, batch, cal)
    cfg = load_transformer_config(_config(2))
    network = decode_step_network(cfg, batch=batch, context=10, tp=2)
    config = price_rows(network, CountedNetwork.of(network), shard_config(cfg, 2), llm_precision("fp16"), device,
                        batch, batch, batch, cal)
    graph_times = dict(zip((layer.name for layer in phase.network.layers), graph.time_s))
    config_times = dict(zip((layer.name for layer in network.layers), config.time_s))
    for part in ("q_proj", "o_proj", "gate_proj", "down_proj"):  # the first row of each GEMM kernel
        assert graph_times[f"layers.1.{part}"] == pytest.approx(config_times[f"blocks.1.{part}"], rel=1e-12)
        assert graph_times[f"layers.1.{part}"] > 0


def _single_head_onnx(path, cache_names=("past_key", "past_value")):
    """One attention block on 3-D tensors (batch, tokens, hidden): the cache (batch_size, past_sequence_length,
    8) shows no head axis and the attention MatMuls no head count."""
    inits = [numpy_helper.from_array(np.zeros((HIDDEN, HIDDEN), np.float32), f"w{n}") for n in "qkvo"]
    cache = ["batch_size", "past_sequence_length", HIDDEN]
    inputs = [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT,
                                            ["batch_size", "sequence_length", HIDDEN])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, cache) for name in cache_names]
    nodes = [helper.make_node("MatMul", ["hidden_states", f"w{n}"], [n], name=f"{n}_proj") for n in "qkv"]
    nodes += [helper.make_node("Concat", [cache_names[0], "k"], ["kc"], axis=1, name="key_cat"),
              helper.make_node("Concat", [cache_names[1], "v"], ["vc"], axis=1, name="value_cat"),
              helper.make_node("Transpose", ["kc"], ["kt"], perm=[0, 2, 1], name="k_tr"),
              helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
              helper.make_node("Softmax", ["s"], ["p"], axis=-1, name="softmax"),
              helper.make_node("MatMul", ["p", "vc"], ["c"], name="context"),
              helper.make_node("MatMul", ["c", "wo"], ["out"], name="o_proj")]
    graph = helper.make_graph(nodes, "single", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_missing_heads_blocks_or_devices_raise_typed_errors(tmp_path):
    path = _single_head_onnx(tmp_path / "single.onnx")
    with pytest.raises(SpecError, match=r"single.onnx: the number of query heads cannot be read from the graph "
                                        r"\(it has no 4-D attention MatMul over the cache\); pass heads=\.\.\. "
                                        r"\(--heads\)"):
        _run(path, tp=2)
    with pytest.raises(SpecError, match=r"the number of KV heads cannot be read .* pass kv_heads=\.\.\. "
                                        r"\(--kv-heads\)"):
        _run(path, tp=2, heads=2)
    with pytest.raises(SpecError, match="1 KV heads cannot be split over TP 2; use a TP degree dividing 1"):
        _run(path, tp=2, heads=2, kv_heads=1)
    supplied = _run(path, tp=2, heads=2, kv_heads=2, batch=2, prompt=4, generate=4)
    alone = _run(path, batch=2, prompt=4, generate=4)
    assert _macs(supplied, "decode", ("_proj",)) == _macs(alone, "decode", ("_proj",)) / 2 == 4 * 64 * 2 / 2
    with pytest.raises(SpecError, match=r"the cache inputs \['past_key', 'past_value'\] carry no block index"):
        _run(path, pp=2)
    llama = _llama_onnx(tmp_path / "decoder.onnx", layers=2)
    with pytest.raises(SpecError, match="heads=3 but the graph has 2 query heads"):
        _run(llama, tp=2, heads=3)
    with pytest.raises(SpecError, match="2 query heads cannot be split over TP 4"):
        _run(llama, tp=4)
    with pytest.raises(SpecError, match="PP 3 stages for 2 blocks; use at most 2"):
        _run(llama, pp=3)
    with pytest.raises(SpecError, match="H100-SXM5-80GB has no interconnect, so it cannot run TP 2"):
        _run(llama, hardware="H100-SXM5-80GB", tp=2)
    with pytest.raises(SpecError, match="heads and kv_heads apply to ONNX decoder exports"):
        _run(_config(2), heads=2)


def test_a_residual_add_beside_an_unrecognized_projection_is_refused(tmp_path):
    # hidden states plus their own head-split copy: the Add meets a split and a whole (B, S, H) tensor
    inits = [numpy_helper.from_array(np.zeros((HIDDEN, HIDDEN), np.float32), "wq")]
    cache = ["batch_size", HEADS, "past_sequence_length", HEAD_DIM]
    inputs = [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN]),
              helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, cache)]
    nodes = [helper.make_node("MatMul", ["h", "wq"], ["q"], name="q_proj"),
             helper.make_node("Add", ["h", "q"], ["y"], name="residual"),
             helper.make_node("Identity", ["past_key_values.0.key"], ["k"], name="cache_read")]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                                                   helper.make_tensor_value_info("k", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(SpecError, match="layer 'residual' combines a head-split tensor with a whole one"):
        _run(path, tp=2)


def test_cli_tp_and_calibrated_on_an_onnx_decoder(tmp_path, capsys):
    import json

    path = _llama_onnx(tmp_path / "decoder.onnx", layers=2, lm=True)
    assert main(["llm", str(path), "--hardware", "DGX H100", "--tp", "2", "--pp", "2", "--base", "fp16",
                 "--prompt", "64", "--generate", "8", "--calibrated", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["tp"], payload["pp"], payload["devices"]) == (2, 2, 4)
    assert payload["calibrated"]["estimate"] == "calibrated" and payload["prefill_interconnect_s"] > 0
    assert all(math.isfinite(end) for end in payload["calibrated"]["ttft_interval_s"])
    assert main(["llm", str(_single_head_onnx(tmp_path / "single.onnx")), "--hardware", "DGX H100",
                 "--tp", "2"]) == 2
    assert "pass heads=... (--heads)" in capsys.readouterr().err
