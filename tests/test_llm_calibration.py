"""LLM time factors (rooflinekit.llm.calibration) and the MLPerf LLM row selection (benchmarks/llm/mlperf_llm.py).

Expected values are derived by hand in the comments (two-part linear systems, products of factors and times) or
come from an independent reading of results.csv with the csv module.
"""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import benchmark_module, shared_data
from rooflinekit.compare.calibrate.model import CalibrationWarning
from rooflinekit.errors import CalibrationError
from rooflinekit.llm.calibration import (
    PRIOR_SIGMA_LOG, Z80, CalibratedLLM, LLMCalibration, architecture_of, fit_llm_calibration,
)


def _bench():
    return benchmark_module("llm/mlperf_llm.py", "mlperf_llm_bench")


def _two_groups(family_a: str = "H100", family_b: str = "H100") -> LLMCalibration:
    # group g1: s = 0.2, r = 1.2; group g2: s = 0.6, r = 1.6 (two rows each, identical)
    # 0.2 a + 0.8 b = 1.2 and 0.6 a + 0.4 b = 1.6  ->  a = 6 - 4 b, 3.6 - 2 b = 1.6  ->  b = 1, a = 2
    return fit_llm_calibration([1.2, 1.2, 1.6, 1.6], [0.2, 0.2, 0.6, 0.6], [family_a, family_a, family_b, family_b],
                               ["g1", "g1", "g2", "g2"], split="compute/memory")


def test_exact_two_group_fit_recovers_the_hand_solved_factors():
    cal = _two_groups()
    # the equal-factor ridge (0.01 pseudo-groups) pulls the exact solution (a, b) = (2, 1) toward a = b by a few
    # per cent; the architecture fit has no equal-factor ridge but one pseudo-group at the global fit, so it lies
    # between the exact solution and the global one
    a, b = cal.global_factors
    assert 1.9 < a < 2.0 and 1.0 < b < 1.1
    arch_a, arch_b = cal.architecture_factors["Hopper"]
    assert a <= arch_a <= 2.0 and 1.0 <= arch_b <= b
    assert cal.groups == 2 and cal.rows == 4
    # two groups leave no residual group to estimate the spread: the prior is used
    assert cal.sigma_log == pytest.approx(PRIOR_SIGMA_LOG, rel=1e-3)


def test_one_share_cannot_tell_the_factors_apart_and_keeps_them_equal():
    # every row s = 0.5, r = 1.5: any a + b = 3 fits; the ridge picks a = b = 1.5
    cal = fit_llm_calibration([1.5] * 4, [0.5] * 4, ["A100"] * 4, ["x", "x", "y", "y"])
    assert cal.global_factors == pytest.approx((1.5, 1.5), rel=1e-3)


def test_fallback_rule_unseen_architecture_uses_global_with_a_warning():
    # Hopper groups only: (a, b) = (2, 1) as above
    cal = _two_groups()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        name, factors = cal.level("H100")  # seen: no warning
    assert name == "architecture Hopper"
    with pytest.warns(CalibrationWarning, match="Ampere"):
        name, factors = cal.level("A100")
    assert name == "global" and factors == cal.global_factors
    with pytest.warns(CalibrationWarning):
        assert cal.level(None)[0] == "global"
    assert architecture_of("Ada Lovelace") == "Ada Lovelace" and architecture_of("H100") == "Hopper"
    assert architecture_of("SomethingNew") == "SomethingNew"


def test_architecture_factors_are_shrunk_toward_global():
    # Hopper groups r = 1.2 (s = 0.5, two groups), Ampere groups r = 2.0 (s = 0.5, two groups): equal shares give
    # equal factors; global = the group-weighted fit of all four: f with sum over groups of (f/r - 1)^2 minimal
    # -> f = sum(1/r) / sum(1/r^2) = (2/1.2 + 2/2) / (2/1.44 + 2/4) = 2.6667 / 1.8889 = 1.4118
    ratios = [1.2, 1.2, 2.0, 2.0]
    cal = fit_llm_calibration(ratios, [0.5] * 4, ["H100", "H100", "A100", "A100"], ["h1", "h2", "a1", "a2"])
    assert cal.global_factors[0] == pytest.approx(1.4118, rel=2e-3)
    hopper = cal.architecture_factors["Hopper"][0]
    ampere = cal.architecture_factors["Ampere"][0]
    assert 1.2 < hopper < 1.4118 < ampere < 2.0  # between its own mean and the global value


def test_calibrated_is_never_faster_than_the_bound_when_factors_are_at_least_one():
    cal = LLMCalibration(split="prefill/decode", global_factors=(2.0, 1.5), architecture_factors={"Hopper": (2.0, 1.5)},
                         architecture_groups={"Hopper": 3}, sigma_log=0.1, groups=3, rows=9)
    # bound: TTFT 1 s, TPOT 10 ms, B = 8, G = 101 -> e2e bound 1 + 100 x 0.01 = 2 s, 8 x 101 / 2 = 404 tokens/s
    # calibrated: TTFT 2 x 1 = 2 s, TPOT 1.5 x 0.01 = 15 ms, e2e 2 + 100 x 0.015 = 3.5 s, 808 / 3.5 = 230.857 tok/s
    est = CalibratedLLM.of(cal, "H100", batch=8, generate=101, ttft_s=1.0, tpot_s=0.01, ttft_a_s=1.0, tpot_a_s=0.0)
    assert est.ttft_s == pytest.approx(2.0)
    assert est.tpot_s == pytest.approx(0.015)
    assert est.e2e_latency_s == pytest.approx(3.5)
    assert est.output_tokens_per_s == pytest.approx(230.857, rel=1e-5)
    assert est.output_tokens_per_s < 404.0
    # interval: ln e2e +- Z80 x 0.1 x sqrt(1 + 1/3)
    half = Z80 * 0.1 * math.sqrt(4 / 3)
    assert est.e2e_latency_interval_s == pytest.approx((3.5 * math.exp(-half), 3.5 * math.exp(half)))
    assert est.output_tokens_per_s_interval == pytest.approx((808 / (3.5 * math.exp(half)),
                                                              808 / (3.5 * math.exp(-half))))
    rate_low, rate_high = est.output_tokens_per_s_interval
    assert rate_low < est.output_tokens_per_s < rate_high
    assert est.level == "architecture Hopper"


def test_factors_below_one_only_when_training_ran_faster_than_the_bound():
    # a measured time below the bound (r < 1) is the only way to a factor < 1, i.e. a calibrated estimate faster
    # than the bound: it says the bound was violated in training (wrong precision or workload), not a speed-up
    cal = fit_llm_calibration([0.8, 0.8], [0.5, 0.5], ["H100", "H100"], ["g", "g"])
    assert cal.global_factors[0] < 1 and cal.global_factors[1] < 1
    cal = fit_llm_calibration([1.0, 1.3], [0.5, 0.5], ["H100", "H100"], ["g", "h"])
    assert min(cal.global_factors) >= 1.0


def test_intervals_cover_about_80_percent_of_new_groups_with_known_noise():
    # truth: f_a = 1.3, f_b = 1.8; each group draws ln-noise N(0, 0.10), each row adds N(0, 0.02); the interval of a
    # new group should hold ~80 % of its rows. 40 training groups, 200 new groups, 5 rows each, 5 seeds.
    coverages = []
    for seed in range(5):
        rng = np.random.default_rng(seed)

        def draw(groups: int, tag: str) -> tuple[list[float], list[float], list[str]]:
            ratios, shares, keys = [], [], []
            for g in range(groups):
                s = rng.uniform(0.1, 0.9)
                group_noise = rng.normal(0, 0.10)
                for _ in range(5):
                    ratios.append((s * 1.3 + (1 - s) * 1.8) * math.exp(group_noise + rng.normal(0, 0.02)))
                    shares.append(s)
                    keys.append(f"{tag}{g}")
            return ratios, shares, keys

        ratios, shares, keys = draw(40, "train")
        cal = fit_llm_calibration(ratios, shares, ["H100"] * len(ratios), keys, split="compute/memory")
        # standard error of each factor ~ 0.10 x 1.6 / sqrt(40 x var(U(0.1, 0.9)) = 2.1) / ... ~ 5 %: allow 3 SE
        assert cal.global_factors == pytest.approx((1.3, 1.8), rel=0.15)
        assert cal.sigma_log == pytest.approx(math.hypot(0.10, 0.02), rel=0.35)
        test_ratios, test_shares, _ = draw(200, "test")
        inside = [cal.time_factor("H100", s)[2] <= r <= cal.time_factor("H100", s)[3]
                  for r, s in zip(test_ratios, test_shares)]
        coverages.append(float(np.mean(inside)))
    assert 0.72 <= float(np.mean(coverages)) <= 0.88


def test_json_round_trip_and_malformed_files(tmp_path):
    cal = fit_llm_calibration([1.2, 1.6, 1.4], [0.2, 0.6, 0.4], ["H100", "H100", "A100"], ["a", "b", "c"],
                              split="compute/memory", source="synthetic", notes=("n1",))
    path = tmp_path / "llm.json"
    cal.save(path)
    back = LLMCalibration.load(path)
    assert back == cal
    data = cal.to_dict()
    assert set(data["global_factors"]) == {"compute", "memory"}
    with pytest.raises(CalibrationError):
        LLMCalibration.from_dict({**data, "split": "tokens/other"})
    with pytest.raises(CalibrationError):
        LLMCalibration.from_dict({**data, "global_factors": {"compute": -1.0, "memory": 1.0}})
    with pytest.raises(CalibrationError):
        LLMCalibration.from_dict({k: v for k, v in data.items() if k != "sigma_log"})
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(CalibrationError):
        LLMCalibration.load(tmp_path / "bad.json")


def test_fit_rejects_bad_input():
    with pytest.raises(CalibrationError):
        fit_llm_calibration([], [], [], [])
    with pytest.raises(CalibrationError):
        fit_llm_calibration([0.0], [0.5], ["H100"], ["g"])
    with pytest.raises(CalibrationError):
        fit_llm_calibration([1.2], [1.5], ["H100"], ["g"])
    with pytest.raises(CalibrationError):
        fit_llm_calibration([1.2], [0.5], ["H100"], ["g"], split="nonsense")
    with pytest.raises(CalibrationError):
        _two_groups().time_factor("H100", 1.5)


def _llm_rows_of_csv(folder) -> list[dict[str, str]]:
    with open(folder / "results.csv", newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["benchmark"].startswith(("gptj", "llama2"))]


def test_mlperf_llm_selection_conserves_every_row():
    folder = shared_data("mlperf_inference")
    bench = _bench()
    from rooflinekit.compare.loaders.mlperf_inference import load_mlperf_inference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_mlperf_inference(folder)
    kept, left_out = bench.select(loaded.records)
    rejected = loaded.rejected[loaded.rejected.benchmark.astype(str).str.startswith(("gptj", "llama2"))]
    raw = _llm_rows_of_csv(folder)
    assert len(kept) + len(left_out) + len(rejected) == len(raw)
    # kept: Offline tokens/s, one per (system, model); no -99.9 row whose -99 twin is kept
    assert set(kept.scenario) == {"Offline"}
    assert not kept.duplicated(["round", "submitter", "system_id", "network"]).any()
    assert left_out.reason.str.len().gt(0).all() and rejected.reason.str.len().gt(0).all()
    # every CPU-only row (no accelerator in the csv) is a loader rejection
    cpu = sum(1 for row in raw if row["n_accelerators"].strip() in ("", "0"))
    assert cpu == len(rejected) and cpu > 0


def test_mlperf_llm_throughput_is_per_accelerator():
    folder = shared_data("mlperf_inference")
    bench = _bench()
    from rooflinekit.compare.loaders.mlperf_inference import load_mlperf_inference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept, _ = bench.select(load_mlperf_inference(folder).records)
    raw = {(r["submitter"], r["system_id"], r["benchmark"]): r for r in _llm_rows_of_csv(folder)}
    for _, row in kept.iterrows():
        source = raw[(row["submitter"], row["system_id"], row["benchmark"])]
        expected = float(source["throughput_per_s"]) / int(source["n_accelerators"])
        assert row["throughput_fps"] == pytest.approx(expected, rel=1e-9)


def test_bound_stays_above_every_kept_row_at_fp8():
    # the roofline at the largest batch that fits is an upper bound: no measured tokens/s above it
    folder = shared_data("mlperf_inference")
    bench = _bench()
    rows, left_out = bench.load_rows(folder)
    assert len(rows) > 0
    assert (rows.measured_tokens_per_s < rows.bound_tokens_per_s).all()
    assert ((rows.prefill_share > 0) & (rows.prefill_share < 1)).all()
    assert isinstance(left_out, pd.DataFrame)
