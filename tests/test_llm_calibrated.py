"""The calibrated LLM estimate (rooflinekit.llm.calibrated): kernel sums, the bound as a floor, monotone decode,
scope checks, the shipped calibration file and the CLI.

Expected values come from hand derivation in the comments (the operator model's formula evaluated by hand from the
shipped parameters, the interval factors from the shipped quantiles), never from the function under test.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, shared_data
from rooflinekit.catalog import get_hardware
from rooflinekit.cli import main
from rooflinekit.compare.calibrate.model import CalibrationWarning
from rooflinekit.errors import CalibrationError
from rooflinekit.llm import predict_llm
from rooflinekit.llm.calibrated import load_llm_calibration

H100 = "H100-SXM5-80GB"
TINY = {"model_type": "llama", "_name_or_path": "tiny-llama", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 688, "vocab_size": 1000,
        "max_position_embeddings": 1 << 16, "hidden_act": "silu"}
"""A two-block GQA Llama: fast to price, every Vidur kind present."""


def _strict(text: str) -> object:
    def refuse(token: str) -> None:
        raise ValueError(f"non-strict JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def _calibrated(model=TINY, hardware=H100, **kwargs):
    result = predict_llm(model, hardware, calibrated=True, **kwargs)
    assert result.calibrated is not None
    return result, result.calibrated


def test_kernel_times_sum_to_the_phase_totals():
    result, cal = _calibrated(batch=3, prompt=50, generate=5)
    layers = result.layers
    prefill = layers.loc[layers.phase == "prefill", "calibrated_time_s"].sum()
    decode = layers.loc[layers.phase == "decode", "calibrated_time_s"].sum()
    # the layer table holds the prefill and the decode step at context_tokens; interconnect is 0 on one device
    assert result.prefill_interconnect_s == 0.0
    assert prefill == pytest.approx(cal.ttft_s, rel=1e-12)
    assert decode == pytest.approx(cal.tpot_at_context_s, rel=1e-12)
    # every Vidur kind of the block is priced, attention as roofline + overhead
    kinds = set(layers["calibrated_kind"])
    assert {"emb", "input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj", "post_attention_layernorm",
            "mlp_up_proj", "mlp_act", "mlp_down_proj", "add", "roofline+overhead"} <= kinds


def test_kernel_sums_with_tensor_parallel_add_the_interconnect():
    result, cal = _calibrated("Llama-2-7B", "DGX H100", batch=4, prompt=256, generate=3, tp=2)
    layers = result.layers
    prefill = layers.loc[layers.phase == "prefill", "calibrated_time_s"].sum()
    assert result.prefill_interconnect_s > 0
    assert prefill + result.prefill_interconnect_s == pytest.approx(cal.ttft_s, rel=1e-12)


def test_one_gemm_matches_the_operator_formula_by_hand():
    # Llama-2-7B decode, batch 1 on the H100 SXM5: o_proj is m x k x n = 1 x 4096 x 4096, fp16.
    # ops = 2 m k n; bytes = weights 2 k n + activations 2 m (k + n); wave quantization with the fitted tile
    # (tm, tn): tiles = ceil(1/tm) ceil(4096/tn), waves = ceil(tiles / 132), q = m n / (waves 132 tm tn);
    # the fixed cost is fitted in cycles: seconds = cycles / 1.98 GHz (the H100 SXM5 clock).
    calibration = load_llm_calibration()
    params = calibration.model.params_.loc["attn_post_proj"]
    tm, tn = calibration.model.tile_
    m, k, n = 1.0, 4096.0, 4096.0
    ops, moved = 2 * m * k * n, 2 * k * n + 2 * m * (k + n)
    tiles = math.ceil(m / tm) * math.ceil(n / tn)
    waves = math.ceil(tiles / 132)
    q = m * n / (waves * 132 * tm * tn)
    t_c = ops / (989.5e12 * q) / params["u_compute"]
    t_m = moved / 3.35e12 / params["u_memory"]
    p = params["p"]
    expected = params["overhead_cycles"] / 1.98e9 + (t_c ** p + t_m ** p) ** (1 / p)
    result, _ = _calibrated("Llama-2-7B", batch=1, prompt=8, generate=2)
    layers = result.layers
    row = layers[(layers.phase == "decode") & (layers.name == "blocks.0.o_proj")].iloc[0]
    # the o_proj kernel of the bound is fused with the residual add and the next norm: those are priced apart
    norm_add = layers[(layers.phase == "decode") & layers.name.isin(["blocks.0.attn_residual", "blocks.0.mlp_norm"])]
    assert set(norm_add.calibrated_kind) == {"add", "post_attention_layernorm"}
    assert row.calibrated_time_s > expected  # o_proj + add + norm
    from rooflinekit.llm.calibrated import price_rows  # the o_proj row alone
    from rooflinekit.llm.precision import llm_precision
    from rooflinekit.llm.predict import decode_step_network
    from rooflinekit.networks.transformer import load_transformer_config
    from rooflinekit.roofline import CountedNetwork
    network = decode_step_network("Llama-2-7B", batch=1, context=9)
    pricing = price_rows(network, CountedNetwork.of(network), load_transformer_config("Llama-2-7B"),
                         llm_precision("fp16", None, None, None), get_hardware(H100), 1, 1, 1, calibration)
    index = [layer.name for layer in network.layers].index("blocks.0.o_proj")
    assert pricing.time_s[index] == pytest.approx(expected, rel=1e-9)


def test_calibrated_is_never_below_the_bound_and_inside_its_interval():
    for kwargs in ({"batch": 1, "prompt": 16, "generate": 4}, {"batch": 64, "prompt": 512, "generate": 8},
                   {"batch": 7, "prompt": 3000, "generate": 2}):
        result, cal = _calibrated("Llama-2-7B", **kwargs)
        assert cal.ttft_s >= result.ttft_s
        assert cal.tpot_s >= result.tpot_s
        assert cal.tpot_at_context_s >= result.tpot_at_context_s
        assert cal.e2e_latency_s >= result.e2e_latency_s
        assert cal.output_tokens_per_s <= result.output_tokens_per_s
        ttft_low, ttft_high = cal.ttft_interval_s
        tpot_low, tpot_high = cal.tpot_interval_s
        rate_low, rate_high = cal.output_tokens_per_s_interval
        assert result.ttft_s <= ttft_low <= cal.ttft_s <= ttft_high
        assert result.tpot_s <= tpot_low <= cal.tpot_s <= tpot_high
        assert rate_low <= cal.output_tokens_per_s <= rate_high
        layers = result.layers
        for phase in ("prefill", "decode"):
            part = layers[layers.phase == phase]
            assert part.calibrated_time_s.sum() >= part.time_s.sum() * (1 - 1e-12)


def test_interval_factors_are_the_shipped_quantiles():
    # prefill of 3 x 50 = 150 tokens: stratum tokens>64; the high end is t exp(q_hi) (one device, no interconnect)
    calibration = load_llm_calibration()
    q_lo, q_hi, _ = calibration.strata["tokens>64"]
    result, cal = _calibrated(batch=3, prompt=50, generate=5)
    ttft_low, ttft_high = cal.ttft_interval_s
    assert ttft_high == pytest.approx(cal.ttft_s * math.exp(q_hi), rel=1e-12)
    assert ttft_low == pytest.approx(max(result.ttft_s, cal.ttft_s * math.exp(q_lo)), rel=1e-12)
    # decode of 3 sequences: stratum tokens<=64
    d_lo, d_hi, _ = calibration.strata["tokens<=64"]
    tpot_low, tpot_high = cal.tpot_interval_s
    assert tpot_high == pytest.approx(cal.tpot_s * math.exp(d_hi), rel=1e-12)
    assert tpot_low == pytest.approx(max(result.tpot_s, cal.tpot_s * math.exp(d_lo)), rel=1e-12)
    # e2e = ttft + 4 steps, its ends the sums of the phases' ends; tokens/s = 3 x 5 = 15 over the e2e ends, swapped
    e2e_low, e2e_high = cal.e2e_latency_interval_s
    assert e2e_low == pytest.approx(ttft_low + 4 * tpot_low, rel=1e-12)
    assert e2e_high == pytest.approx(ttft_high + 4 * tpot_high, rel=1e-12)
    assert cal.output_tokens_per_s_interval == pytest.approx((15 / e2e_high, 15 / e2e_low), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 128), context=st.integers(2, 30_000), extra=st.integers(1, 30_000))
def test_calibrated_decode_step_never_faster_with_more_context(batch, context, extra):
    shorter = predict_llm(TINY, H100, batch=batch, prompt=8, generate=2, context=context, calibrated=True)
    longer = predict_llm(TINY, H100, batch=batch, prompt=8, generate=2, context=context + extra, calibrated=True)
    assert longer.calibrated.tpot_at_context_s >= shorter.calibrated.tpot_at_context_s * (1 - 1e-12)


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 200), prompt=st.integers(1, 5000))
def test_calibrated_prefill_never_below_the_bound(batch, prompt):
    result = predict_llm(TINY, H100, batch=batch, prompt=prompt, generate=1, calibrated=True)
    assert result.calibrated.ttft_s >= result.ttft_s * (1 - 1e-12)
    assert result.calibrated.tpot_s is None and result.tpot_s is None
    assert result.calibrated.tpot_interval_s is None


def test_out_of_scope_precision_warns_and_says_so():
    with pytest.warns(CalibrationWarning, match="extrapolated"):
        _, cal = _calibrated(weights="fp8", batch=2, prompt=16, generate=2)
    assert any("extrapolated" in note for note in cal.notes)
    with pytest.warns(CalibrationWarning, match="int4"):
        _calibrated(weights="int4", batch=2, prompt=16, generate=2)


def test_fitted_precisions_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        _calibrated(weights="bf16", batch=2, prompt=16, generate=2)
        _, cal = _calibrated(hardware="A100-SXM4-80GB", batch=2, prompt=16, generate=2)
    assert any("A100-SXM4-80GB was fitted" in level for level in cal.calibration_levels)


def test_gpu_without_sm_count_is_refused_and_the_bound_still_works(tmp_path):
    spec = get_hardware(H100).model_copy(update={"compute_units": None, "name": "H100 without SMs"})
    with pytest.raises(CalibrationError, match="compute_units"):
        predict_llm(TINY, spec, batch=1, prompt=8, generate=2, calibrated=True)
    assert predict_llm(TINY, spec, batch=1, prompt=8, generate=2).calibrated is None


def test_mixture_of_experts_is_refused():
    with pytest.raises(CalibrationError, match="experts"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predict_llm("Mixtral-8x7B", "DGX H100", batch=1, prompt=8, generate=2, tp=2, calibrated=True)


def test_result_repr_and_dict_show_bound_and_calibrated():
    result, cal = _calibrated(batch=2, prompt=32, generate=4)
    text = repr(result)
    assert "roofline bound" in text and "calibrated (80% interval)" in text
    assert "bound" in result.summary() and "calibrated" in result.summary()
    data = _strict(json.dumps(result.to_dict(), allow_nan=False))
    assert data["estimate"] == "bound" and data["calibrated"]["estimate"] == "calibrated"
    assert data["calibrated"]["ttft_s"] == pytest.approx(cal.ttft_s)
    assert predict_llm(TINY, H100, batch=2, prompt=32, generate=4).to_dict()["calibrated"] is None


def test_shipped_calibration_loads_as_strict_json():
    path = REPO / "rooflinekit" / "calibrations" / "llm_operators.json"
    data = _strict(path.read_text(encoding="utf-8"))
    assert data["schema"] == "rooflinekit.llm_operators/2"
    assert set(data["hardware"]) == {"A100-SXM4-80GB", "NVIDIA A40"}
    calibration = load_llm_calibration()
    assert set(calibration.strata) >= {"tokens<=64", "tokens>64"}
    for q_lo, q_hi, n in calibration.strata.values():
        assert q_lo < q_hi and n > 100
    assert 0 < calibration.attention_overhead_s(1.41e9) < 1e-4
    assert calibration.model.interval_basis_ == "leave-one-hardware-out"


def test_rebuild_on_shared_data_reproduces_the_shipped_file():
    data = shared_data("vidur")
    spec = importlib.util.spec_from_file_location("build_llm_calibration",
                                                  REPO / "tools" / "build_llm_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = _strict(json.dumps(module.build(data), allow_nan=False))
    shipped = _strict((REPO / "rooflinekit" / "calibrations" / "llm_operators.json").read_text(encoding="utf-8"))

    def same(a, b):
        if isinstance(a, dict):
            assert set(a) == set(b)
            for key in a:
                same(a[key], b[key])
        elif isinstance(a, list):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                same(x, y)
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-6, abs=1e-12)
        else:
            assert a == b

    same(rebuilt, shipped)


def test_operator_predictor_round_trips_through_json():
    from rooflinekit.compare.calibrate.operators import OperatorPredictor
    calibration = load_llm_calibration()
    again = OperatorPredictor.from_json(_strict(json.dumps(calibration.model.to_json(), allow_nan=False)))
    assert again.tile_ == calibration.model.tile_
    for kind, raw in calibration.model._raw.items():
        np.testing.assert_array_equal(again._raw[kind], raw)
    with pytest.raises(CalibrationError):
        OperatorPredictor.from_json({"raw": {}})


def test_cli_calibrated_json_is_strict_and_text_side_by_side(capsys):
    code = main(["llm", "Llama-2-7B", "--hardware", H100, "--batch", "2", "--prompt", "128", "--generate", "4",
                 "--calibrated", "--format", "json", "--layers"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = _strict(out)
    assert data["estimate"] == "bound"
    cal = data["calibrated"]
    assert cal["estimate"] == "calibrated" and cal["coverage"] == 0.8
    assert cal["ttft_interval_s"][0] <= cal["ttft_s"] <= cal["ttft_interval_s"][1] and cal["ttft_s"] >= data["ttft_s"]
    for name in ("ttft_interval_s", "tpot_interval_s", "e2e_latency_interval_s", "output_tokens_per_s_interval"):
        assert len(cal[name]) == 2 and cal[name][0] <= cal[name][1], name
    assert cal["calibration_levels"] and not {"levels", "ttft_low_s", "ttft_high_s", "e2e_low_s",
                                              "output_tokens_per_s_low"} & set(cal)
    assert {"calibrated_time_s", "calibrated_kind"} <= set(data["layers"][0])
    code = main(["llm", "Llama-2-7B", "--hardware", H100, "--calibrated"])
    out, _ = capsys.readouterr()
    assert code == 0 and "calibrated" in out and "80% interval" in out
    code = main(["llm", "Llama-2-7B", "--hardware", H100, "--calibrated", "--format", "csv"])
    out, _ = capsys.readouterr()
    assert code == 0 and "calibrated.ttft_s" in out.splitlines()[0]


def test_cli_calibrated_csv_splits_each_interval_and_json_has_null_without_one(capsys):
    # CSV: each [low, high] as <quantity>_interval_low/_high before the unit suffix, at the end for the rate (whose
    # unit is in its quantity's name); the cells are the JSON interval's ends
    args = ["llm", "Llama-2-7B", "--hardware", H100, "--batch", "2", "--prompt", "128", "--generate", "4",
            "--calibrated", "--format"]
    assert main([*args, "json"]) == 0
    cal = _strict(capsys.readouterr().out)["calibrated"]
    assert main([*args, "csv"]) == 0
    (cells,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    for name, (low, high) in {"ttft_interval_s": ("ttft_interval_low_s", "ttft_interval_high_s"),
                              "tpot_interval_s": ("tpot_interval_low_s", "tpot_interval_high_s"),
                              "e2e_latency_interval_s": ("e2e_latency_interval_low_s", "e2e_latency_interval_high_s"),
                              "output_tokens_per_s_interval": ("output_tokens_per_s_interval_low",
                                                               "output_tokens_per_s_interval_high")}.items():
        assert f"calibrated.{name}" not in cells
        assert float(cells[f"calibrated.{low}"]) == pytest.approx(cal[name][0], rel=1e-12)
        assert float(cells[f"calibrated.{high}"]) == pytest.approx(cal[name][1], rel=1e-12)
    # one output token: no decode step, so no TPOT and no TPOT interval (null in JSON, empty cells in CSV)
    one = ["llm", "Llama-2-7B", "--hardware", H100, "--generate", "1", "--calibrated", "--format"]
    assert main([*one, "json"]) == 0
    cal = _strict(capsys.readouterr().out)["calibrated"]
    assert cal["tpot_s"] is None and cal["tpot_interval_s"] is None and len(cal["ttft_interval_s"]) == 2
    assert main([*one, "csv"]) == 0
    (cells,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert cells["calibrated.tpot_interval_low_s"] == "" and cells["calibrated.tpot_interval_high_s"] == ""


def test_calibrated_text_has_no_exponent_numbers():
    import re

    result = predict_llm("Llama-2-7B", "H100-SXM5-80GB", batch=32, prompt=2048, generate=8, calibrated=True)
    text = result.summary() + repr(result)
    assert "calibrated estimate" in text and not re.search(r"\de[+-]\d", text)
    assert re.search(r"roofline \+ \d{1,3}(,\d{3})* cycles", text)
