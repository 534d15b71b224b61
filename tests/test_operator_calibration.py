"""Operator-level kernel model (rooflinekit.compare.calibrate.operators) and the Vidur kernel table.

Synthetic times are generated here by an independent implementation of the documented formula (tiles, waves,
p-norm knee, per-SM issue term), never by the module under test.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_data

from rooflinekit.catalog import hardware_catalog
from rooflinekit.compare.calibrate.operators import (
    OperatorPredictor, hardware_columns, roofline_bound, with_hardware,
)
from rooflinekit.compare.loaders.vidur import load_vidur, vidur_kernels
from rooflinekit.errors import CalibrationError, RecordError

GPU = {"peak_ops_per_s": 100e12, "bandwidth_bytes_per_s": 1e12, "compute_units": 80.0, "clock_hz": 1.5e9}
STREAM_PEAK = 20e12
TRUE = {"gemm": {"overhead_cycles": 6000.0, "u_compute": 0.7, "p": 4.0, "u_memory": 0.85},
        "stream": {"overhead_cycles": 3000.0, "beta": 8.0, "u_memory": 0.9}}
"""Fixed costs in cycles: 4 us and 2 us at the synthetic GPU's 1.5 GHz."""
TILE = (64, 128)


def _gemm_time(m: float, n: float, k: float) -> float:
    """Hand-written model: o / f + ((t_c/u_c)^p + (t_m/u_m)^p)^(1/p), t_c on 64x128 tiles in waves over 80 SMs."""
    g, s = TRUE["gemm"], GPU["compute_units"]
    tiles = math.ceil(m / TILE[0]) * math.ceil(n / TILE[1])
    waves = math.ceil(tiles / s)
    useful = m * n / (waves * s * TILE[0] * TILE[1])
    compute = 2 * m * n * k / (GPU["peak_ops_per_s"] * useful) / g["u_compute"]
    memory = 2 * (m * k + k * n + m * n) / GPU["bandwidth_bytes_per_s"] / g["u_memory"]
    return g["overhead_cycles"] / GPU["clock_hz"] + (compute ** g["p"] + memory ** g["p"]) ** (1 / g["p"])


def _stream_time(ops: float, moved: float, units: float) -> float:
    """Hand-written model: o / f + max(ops/P, bytes/(W u_m)) + ceil(U/S) (bytes/U) / (f beta)."""
    t = TRUE["stream"]
    issue = math.ceil(units / GPU["compute_units"]) * (moved / units) / (GPU["clock_hz"] * t["beta"])
    return (t["overhead_cycles"] / GPU["clock_hz"]
            + max(ops / STREAM_PEAK, moved / (GPU["bandwidth_bytes_per_s"] * t["u_memory"])) + issue)


def synthetic(seed: int = 0, noise: float = 0.0, groups: int = 12, per_group: int = 40) -> pd.DataFrame:
    """GEMM and stream kernels over many sizes on the synthetic GPU, times from the hand-written model times a
    log-normal noise factor exp(N(0, noise^2))."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in range(groups):
        n, k = int(rng.choice([1024, 2048, 4096, 8192, 11008])), int(rng.choice([1024, 4096, 8192]))
        width = int(rng.choice([2048, 4096, 8192]))
        for m in np.unique(np.round(np.exp(rng.uniform(0, np.log(4096), per_group)))).astype(int):
            rows.append({"kind": "proj", "family": "gemm", "ops": 2.0 * m * n * k,
                         "bytes": 2.0 * (m * k + k * n + m * n), "m": m, "n": n, "k": k, "parallel_units": 0.0,
                         "latency_s": _gemm_time(m, n, k), "group": f"g{group}"})
            moved = 2.0 * 2 * m * width
            rows.append({"kind": "norm", "family": "stream", "ops": 4.0 * m * width, "bytes": moved, "m": m,
                         "n": 0.0, "k": 0.0, "parallel_units": float(m),
                         "latency_s": _stream_time(4.0 * m * width, moved, m), "group": f"g{group}"})
    frame = pd.DataFrame(rows)
    for column, value in GPU.items():
        frame[column] = value
    frame.loc[frame.family == "stream", "peak_ops_per_s"] = STREAM_PEAK
    frame["hardware"] = "synthetic"
    frame["latency_s"] *= np.exp(rng.normal(0, noise, len(frame)))
    return frame


@lru_cache(maxsize=1)
def fitted() -> OperatorPredictor:
    return OperatorPredictor(tiles=(TILE,)).fit(synthetic(noise=0.02))


def test_recovers_known_parameters() -> None:
    params = fitted().params_
    gemm, stream = params.loc["proj"], params.loc["norm"]
    assert gemm.overhead_cycles == pytest.approx(TRUE["gemm"]["overhead_cycles"], rel=0.1)
    assert gemm.u_compute == pytest.approx(TRUE["gemm"]["u_compute"], rel=0.03)
    assert gemm.u_memory == pytest.approx(TRUE["gemm"]["u_memory"], rel=0.03)
    assert gemm.p == pytest.approx(TRUE["gemm"]["p"], rel=0.2)
    assert stream.overhead_cycles == pytest.approx(TRUE["stream"]["overhead_cycles"], rel=0.1)
    assert stream.beta_bytes_per_cycle_per_sm == pytest.approx(TRUE["stream"]["beta"], rel=0.1)
    assert stream.u_memory == pytest.approx(TRUE["stream"]["u_memory"], rel=0.05)


def test_overlapped_stream_kind_recovers_its_issue_rate() -> None:
    # A gather-like kind: t = o / f + max(bytes / (W u_m), ceil(U/S) (bytes/U) / (f beta)), beta = 2 B/cycle/SM,
    # u_m = 0.9, o = 3000 cycles; U = one block per 128 elements of a 4096-wide fp16 row (T x 32 blocks).
    rows = []
    for group in range(6):
        for t in np.unique(np.round(np.exp(np.linspace(0, np.log(4096), 30)))).astype(int):
            moved, units = 2.0 * 2 * t * 4096, 32.0 * t
            issue = math.ceil(units / GPU["compute_units"]) * (moved / units) / (GPU["clock_hz"] * 2.0)
            time = 3000.0 / GPU["clock_hz"] + max(moved / (GPU["bandwidth_bytes_per_s"] * 0.9), issue)
            rows.append({"kind": "gather", "family": "stream", "ops": 0.0, "bytes": moved, "m": t, "n": 0.0,
                         "k": 0.0, "parallel_units": units, "latency_s": time, "group": f"g{group}", **GPU})
    frame = pd.DataFrame(rows).assign(peak_ops_per_s=STREAM_PEAK)
    model = OperatorPredictor(tiles=(TILE,), overlapped=("gather",)).fit(frame)
    params = model.params_.loc["gather"]
    assert bool(params.overlapped)
    assert params.beta_bytes_per_cycle_per_sm == pytest.approx(2.0, rel=0.02)
    assert params.overhead_cycles == pytest.approx(3000.0, rel=0.05)
    np.testing.assert_allclose(model.predict(frame), frame.latency_s, rtol=0.02)
    # the additive form cannot fit the max: its error is larger
    additive = OperatorPredictor(tiles=(TILE,)).fit(frame)
    assert (np.abs(np.log(additive.predict(frame) / frame.latency_s)).mean()
            > np.abs(np.log(model.predict(frame) / frame.latency_s)).mean())


def test_transfer_range_by_hand() -> None:
    # fitted on one GPU (S = 80, f = 1.5 GHz, W = 1 TB/s); the same kernels on a GPU with W / 2, S x 0.75,
    # f x 1.2. A norm row's alternatives: fixed cost o / f (fitted rule) or o / f_ref (seconds), throughput
    # T_ref (its time on the reference GPU without the fixed cost) x t_m / t_m,ref (= 2) or x t_s / t_s,ref.
    model = fitted()
    assert model.reference_ == {"bandwidth_bytes_per_s": 1e12, "compute_units": 80.0, "clock_hz": 1.5e9}
    here = synthetic(seed=6, groups=1, per_group=8)
    there = here.assign(bandwidth_bytes_per_s=0.5e12, compute_units=60.0, clock_hz=1.8e9)
    low, high = model.transfer_range(there)
    predicted = model.predict(there)
    assert (low <= predicted * (1 + 1e-12)).all() and (high >= predicted * (1 - 1e-12)).all()
    norm = (there.family == "stream").to_numpy()
    params = model.params_.loc["norm"]
    fixed_ref = params.overhead_cycles / 1.5e9
    throughput_ref = model.predict(here)[norm] - fixed_ref
    units = here.parallel_units.to_numpy()[norm]
    issue_ratio = (np.ceil(units / 60) / 1.8e9) / (np.ceil(units / 80) / 1.5e9)
    options = np.array([fixed + through for fixed in (params.overhead_cycles / 1.8e9, fixed_ref)
                        for through in (predicted[norm] - params.overhead_cycles / 1.8e9, throughput_ref * 2.0,
                                        throughput_ref * issue_ratio)])
    np.testing.assert_allclose(low[norm], np.maximum(options.min(axis=0), roofline_bound(there)[norm]), rtol=1e-9)
    np.testing.assert_allclose(high[norm], options.max(axis=0), rtol=1e-9)
    # the interval is the range times the held-out residual quantiles of a stratum
    lo_i, hi_i = model.predict_interval(there)
    factors = np.exp(np.array(list(model.quantiles_.values())))
    assert all(np.isclose(factors[:, 0], r).any() for r in lo_i / low)
    assert all(np.isclose(factors[:, 1], r).any() for r in hi_i / high)


def test_transfer_range_is_the_prediction_when_two_gpus_were_fitted() -> None:
    one, two = synthetic(seed=3, groups=4), synthetic(seed=4, groups=4)
    two = two.assign(hardware="other", clock_hz=1.2e9)
    model = OperatorPredictor(tiles=(TILE,)).fit(pd.concat([one, two], ignore_index=True))
    assert model.reference_ is None
    low, high = model.transfer_range(one)
    np.testing.assert_array_equal(low, model.predict(one))
    np.testing.assert_array_equal(high, model.predict(one))


def test_tile_chosen_by_training_loss() -> None:
    model = OperatorPredictor(tiles=((128, 256), TILE)).fit(synthetic(noise=0.02, groups=6))
    assert model.tile_ == TILE


def test_interval_coverage_with_known_noise() -> None:
    sigma = 0.1
    model = OperatorPredictor().fit(synthetic(seed=1, noise=sigma, groups=16))
    fresh = synthetic(seed=2, noise=sigma, groups=16)
    low, high = model.predict_interval(fresh)
    measured = fresh.latency_s.to_numpy()
    coverage = np.mean((measured >= low) & (measured <= high))
    assert 0.74 <= coverage <= 0.86
    # log-width of a central 80 % normal interval: 2 x 1.2816 sigma
    assert np.median(np.log(high / low)) == pytest.approx(2 * 1.2816 * sigma, rel=0.2)
    assert model.interval_basis_ == "within-hardware group folds"


def test_leave_one_hardware_out_basis_with_two_gpus() -> None:
    one, two = synthetic(seed=3, groups=4), synthetic(seed=4, groups=4)
    two["hardware"] = "other"
    model = OperatorPredictor(tiles=(TILE,)).fit(pd.concat([one, two], ignore_index=True))
    assert model.interval_basis_ == "leave-one-hardware-out"


kernel_rows = st.fixed_dictionaries({
    "family": st.sampled_from(["gemm", "stream"]),
    "m": st.integers(1, 8192), "n": st.integers(1, 32768), "k": st.integers(1, 16384),
    "units": st.integers(1, 100_000), "width": st.integers(1, 65536),
    "peak": st.floats(1e12, 2e15), "bandwidth": st.floats(1e10, 1e13), "sms": st.integers(1, 200),
    "clock": st.floats(3e8, 3e9),
})


def _row(draw: dict) -> dict:
    gemm = draw["family"] == "gemm"
    m, n, k = draw["m"], draw["n"], draw["k"]
    ops = 2.0 * m * n * k if gemm else 4.0 * m * draw["width"]
    moved = 2.0 * (m * k + k * n + m * n) if gemm else 4.0 * m * draw["width"]
    return {"kind": "proj" if gemm else "norm", "family": draw["family"], "ops": ops, "bytes": moved, "m": m,
            "n": n, "k": k, "parallel_units": float(draw["units"]), "peak_ops_per_s": draw["peak"],
            "bandwidth_bytes_per_s": draw["bandwidth"], "compute_units": float(draw["sms"]),
            "clock_hz": draw["clock"]}


@settings(max_examples=150)
@given(kernel_rows, st.floats(1.0, 100.0))
def test_more_bandwidth_never_slower(draw: dict, factor: float) -> None:
    base = pd.DataFrame([_row(draw)])
    faster = base.assign(bandwidth_bytes_per_s=base.bandwidth_bytes_per_s * factor)
    assert fitted().predict(faster)[0] <= fitted().predict(base)[0] * (1 + 1e-12)


@settings(max_examples=150)
@given(kernel_rows)
def test_prediction_never_below_roofline_bound(draw: dict) -> None:
    frame = pd.DataFrame([_row(draw)])
    predicted = fitted().predict(frame)
    assert predicted[0] >= roofline_bound(frame)[0]
    low, high = fitted().predict_interval(frame)
    assert low[0] <= predicted[0] <= high[0]


def test_roofline_bound_by_hand() -> None:
    frame = pd.DataFrame([{"kind": "x", "family": "gemm", "ops": 2e12, "bytes": 1e9, "m": 1, "n": 1, "k": 1,
                           "parallel_units": 0, **GPU}, {"kind": "x", "family": "gemm", "ops": 1e6, "bytes": 3e12,
                                                         "m": 1, "n": 1, "k": 1, "parallel_units": 0, **GPU}])
    # 2e12 ops / 1e14 ops/s = 0.02 s > 1e9 B / 1e12 B/s; 3e12 B / 1e12 B/s = 3 s
    assert roofline_bound(frame) == pytest.approx([0.02, 3.0])


def test_predict_frame_labels_bound_and_estimate() -> None:
    frame = synthetic(seed=5, groups=1, per_group=5)
    out = fitted().predict_frame(frame)
    assert set(out.estimate) == {"calibrated"} and set(out.bound_estimate) == {"bound"}
    assert (out.latency_s >= out.bound_latency_s).all() and (out.low_s <= out.high_s).all()


def test_errors_name_the_problem() -> None:
    frame = synthetic(groups=1, per_group=3)
    with pytest.raises(CalibrationError, match="not fitted"):
        OperatorPredictor().predict(frame)
    with pytest.raises(CalibrationError, match="lacks columns"):
        fitted().predict(frame.drop(columns=["clock_hz"]))
    with pytest.raises(CalibrationError, match="were not fitted"):
        fitted().predict(frame.assign(kind="softmax"))
    with pytest.raises(CalibrationError, match="latency_s > 0"):
        OperatorPredictor().fit(frame.assign(latency_s=0.0))
    with pytest.raises(CalibrationError, match="unknown kernel families"):
        fitted().predict(frame.assign(family="conv"))
    with pytest.raises(CalibrationError, match="coverage must lie"):
        OperatorPredictor(coverage=1.5).fit(frame)


def test_hardware_columns_from_specs() -> None:
    catalog = hardware_catalog()
    a100 = hardware_columns(catalog.get("A100-SXM4-80GB"), "gemm")
    assert a100 == {"peak_ops_per_s": 312e12, "bandwidth_bytes_per_s": 2039e9, "compute_units": 108.0,
                    "clock_hz": 1410e6}
    assert hardware_columns(catalog.get("NVIDIA A40"), "stream")["peak_ops_per_s"] == 37.4e12
    no_sms = catalog.get("NVIDIA A10")  # no SM count in its spec
    with pytest.raises(CalibrationError, match="lacks compute_units"):
        hardware_columns(no_sms, "gemm")
    with pytest.raises(CalibrationError, match="no hardware spec"):
        with_hardware(pd.DataFrame({"hardware": ["X"], "family": ["gemm"]}), {})


def _vidur_record(operator: str, tokens: int, tp: int) -> dict:
    return {"hardware": "NVIDIA A40", "operator": operator, "num_tokens": tokens, "tp": tp, "latency_s": 1e-4,
            "model": "meta-llama/Llama-2-7b-hf", "n_head": 32, "n_kv_head": 32, "n_embd": 4096,
            "n_expanded_embd": 11008, "vocab_size": 32000, "use_gated_mlp": True}


def test_vidur_kernels_by_hand() -> None:
    records = pd.DataFrame([_vidur_record("attn_pre_proj", 1, 1), _vidur_record("mlp_up_proj", 8, 2),
                            _vidur_record("input_layernorm", 16, 4), _vidur_record("add", 1000, 1),
                            _vidur_record("emb", 8, 1), _vidur_record("emb", 100, 2)])
    table = vidur_kernels(records)
    pre, up, norm, add, emb_small, emb_large = (table.iloc[i] for i in range(6))
    # QKV: n = (32 + 2 x 32) x 128 = 12288; 2 x 1 x 4096 x 12288 ops; 2 B x (4096 + 4096 x 12288 + 12288)
    assert (pre.family, pre.m, pre.k, pre.n) == ("gemm", 1, 4096, 12288)
    assert pre.ops == 100_663_296 and pre.bytes == 100_696_064
    # gated up projection at tp 2: n = 2 x 11008 / 2 = 11008
    assert (up.k, up.n, up.ops) == (4096, 11008, 2 * 8 * 4096 * 11008)
    # RMSNorm: 2 B x (2 x 16 x 4096 + 4096), one block per token; tp does not split it
    assert (norm.family, norm.bytes, norm.parallel_units) == ("stream", 2 * (2 * 16 * 4096 + 4096), 16)
    # add: 3 tensors of 1000 x 4096 fp16; ceil(4,096,000 / 512) = 8000 blocks
    assert (add.bytes, add.parallel_units) == (2 * 3 * 1000 * 4096, 8000)
    # embedding gather (PyTorch index_select): T rows of the table read and written plus T int64 ids, never the
    # table: 2 B x 2 x 8 x 4096 + 8 x 8; 8 <= 16 ids -> small-index kernel, ceil(4096 / 128) = 32 blocks
    assert (emb_small.family, emb_small.ops, emb_small.bytes, emb_small.parallel_units) == (
        "stream", 0, 2 * 2 * 8 * 4096 + 64, 32)
    assert (emb_small.kind, emb_small.operator, emb_large.kind) == ("emb_small_index", "emb", "emb")
    # 100 ids: one element per thread, ceil(100 x 4096 / 128) = 3200 blocks; tp splits the vocabulary, not E
    assert (emb_large.bytes, emb_large.parallel_units) == (2 * 2 * 100 * 4096 + 800, 3200)
    assert list(table.group) == ["meta-llama/Llama-2-7b-hf tp1", "meta-llama/Llama-2-7b-hf tp2",
                                 "meta-llama/Llama-2-7b-hf tp4", "meta-llama/Llama-2-7b-hf tp1",
                                 "meta-llama/Llama-2-7b-hf tp1", "meta-llama/Llama-2-7b-hf tp2"]


def test_vidur_kernels_refuse_unknown_operator() -> None:
    with pytest.raises(RecordError, match="unknown Vidur operators"):
        vidur_kernels(pd.DataFrame([_vidur_record("softmax", 1, 1)]))
    with pytest.raises(RecordError, match="lack columns"):
        vidur_kernels(pd.DataFrame([_vidur_record("add", 1, 1)]).drop(columns=["tp"]))


def test_vidur_a100_fit_beats_roofline_on_a40() -> None:
    loaded = load_vidur(shared_data("vidur"))
    table = vidur_kernels(loaded.records)
    assert len(table) == len(loaded.records)
    catalog = hardware_catalog()
    table = with_hardware(table, {name: catalog.get(name) for name in table.hardware.unique()})
    gemms = table[(table.family == "gemm") & table.model.str.contains("Llama-2-7b")]
    train, test = gemms[gemms.hardware == "A100-SXM4-80GB"], gemms[gemms.hardware == "NVIDIA A40"]
    assert len(train) and len(test)
    model = OperatorPredictor(tiles=((64, 128),)).fit(train)
    measured = test.latency_s.to_numpy()
    calibrated = np.median(np.abs(model.predict(test) / measured - 1))
    bound = np.median(np.abs(roofline_bound(test) / measured - 1))
    assert calibrated < bound
