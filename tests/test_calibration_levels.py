"""Calibration levels, the release fallback rule, intervals, the shipped calibration and calibrated predictions."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare.calibrate import (
    FALLBACK_RULE, CalibratedPredictor, CalibrationWarning, default_calibration, default_features,
    extend_default_calibration,
)
from rooflinekit.compare.calibrate.features import class_layers
from rooflinekit.compare.calibrate.releases import STACK_RULE, device_stacks, newest_releases, release_versions
from rooflinekit.errors import CalibrationError


def synthetic(n_boards: int = 6, releases: tuple[tuple[str, str, float], ...] = (("1.0", "v1", 4.0),
              ("2.0", "v2", 2.0)), noise: float = 0.0, seed: int = 0, repeats: int = 3) -> pd.DataFrame:
    """Records of one stack ``S`` whose release r runs ``factor_r`` x slower than the roofline on every board:
    latency = factor x (conv time + other time) x lognormal noise of sigma ``noise``."""
    rng = np.random.default_rng(seed)
    rows = []
    for board in range(n_boards):
        for version, round_, factor in releases:
            for _ in range(repeats):
                conv, other = rng.uniform(1e-3, 1e-2), rng.uniform(1e-4, 1e-3)
                rows.append({"hardware": f"B{board}", "catalog_hardware": f"B{board}", "hardware_class": "MCU",
                             "core_family": "Cortex-M4" if board % 2 else "Cortex-M7", "framework": "S",
                             "framework_version": version, "round": round_, "roofline_s:conv/int8": conv,
                             "roofline_s:other/int8": other,
                             "latency_s": factor * (conv + other) * float(np.exp(rng.normal(0, noise)))})
    return pd.DataFrame(rows)


def test_release_keys_and_newest():
    records = pd.DataFrame({"framework": ["S", "S", "T"], "framework_version": ["1.0", None, None],
                            "round": ["v1.0", "v1.1", "v0.7"]})
    # a record without a version is keyed by its round; the newest release is the one of the latest round
    assert release_versions(records).tolist() == ["1.0", "round v1.1", "round v0.7"]
    assert newest_releases(records.assign(framework_version=release_versions(records))) == {
        "S": "round v1.1", "T": "round v0.7"}


def test_unseen_release_falls_back_to_the_newest_release_of_its_stack():
    # release 1.0 is 4x slower than the roofline, release 2.0 (newer round) 2x: a release 3.0 never calibrated
    # takes 2.0's factor, not the stack's mean over both (about 2.8x)
    fit = CalibratedPredictor(interval_coverage=None).fit(synthetic())
    query = synthetic(n_boards=1, releases=(("3.0", "v3", 2.0),), repeats=1)
    assert fit.predict(query)[0] == pytest.approx(query.latency_s[0], rel=0.02)
    explained = fit.explain(query)
    assert explained.depth[0] == 1
    assert f"framework_version: S | 3.0 not calibrated -> S | 2.0 ({FALLBACK_RULE})" in explained.levels[0]


def test_an_unseen_stack_rests_on_coarser_levels_and_says_so():
    fit = CalibratedPredictor(interval_coverage=None).fit(synthetic())
    query = synthetic(n_boards=1, repeats=1).assign(framework="New", catalog_hardware="B9", hardware="B9")
    levels = fit.explain(query).levels[0]
    assert "framework: New not calibrated (coarser levels used)" in levels
    assert any(level.startswith("system: B9 | New") and "not calibrated" in level for level in levels)


def test_device_stacks_name_the_one_stack_of_each_device():
    records = pd.DataFrame({"framework": ["S", "S", None, "S", "T", "U", None, "V"]})
    devices = pd.Series(["A", "A", "B", "C", "C", "D", "E", "E"])
    # A ran S only; B named none; C ran two stacks; D ran U only; E named one stack on one record, none on the other
    assert device_stacks(records, devices) == {"A": "S", "D": "U"}


def test_a_query_naming_no_stack_on_a_one_stack_device_is_keyed_as_that_stack():
    # boards B0-B5 ran stack S only (release 1.0 at 4x the roofline, the newer 2.0 at 2x); board B7 ran S and T
    two_stacks = synthetic(n_boards=1, repeats=2).assign(hardware="B7", catalog_hardware="B7")
    two_stacks.loc[two_stacks.framework_version == "2.0", "framework"] = "T"
    fit = CalibratedPredictor(interval_coverage=None).fit(pd.concat([synthetic(), two_stacks], ignore_index=True))
    assert fit.device_stacks_ == {f"B{board}": "S" for board in range(6)}
    query = synthetic(n_boards=1, releases=(("2.0", "v2", 2.0),), repeats=1).assign(framework=None,
                                                                                     framework_version=None)
    # keyed as S, whose release not given (keyed by the query's round, v2) falls back to its newest, 2.0: 2x the
    # roofline, the record's own latency
    assert fit.predict(query)[0] == pytest.approx(query.latency_s[0], rel=0.02)
    assert fit.predict(query)[0] == pytest.approx(fit.predict(query.assign(framework="S"))[0], rel=1e-12)
    levels = fit.explain(query).levels[0]
    assert f"framework: S ({STACK_RULE}: B0)" in levels
    assert any(level.startswith("framework_version: S | round v2 not calibrated -> S | 2.0") for level in levels)
    on_b7 = fit.explain(query.assign(hardware="B7", catalog_hardware="B7")).levels[0]
    assert "framework: <unknown> not calibrated (coarser levels used)" in on_b7  # two stacks: none chosen
    again = CalibratedPredictor.from_json(fit.to_json())
    assert again.device_stacks_ == fit.device_stacks_
    assert again.predict(query)[0] == pytest.approx(fit.predict(query)[0], rel=1e-12)
    data = json.loads(fit.to_json())
    del data["device_stacks"]  # a calibration written before the member: no stack is chosen for the query
    older = CalibratedPredictor.from_json(json.dumps(data)).explain(query).levels[0]
    assert "framework: <unknown> not calibrated (coarser levels used)" in older


def test_hardware_classes_never_mix():
    fit = CalibratedPredictor(interval_coverage=None).fit(synthetic())
    with pytest.raises(CalibrationError, match="no calibration for hardware class GPU: this calibration was fitted "
                                               "on MCU only"):
        fit.predict(synthetic(n_boards=1, repeats=1).assign(hardware_class="GPU"))


def test_intervals_cover_what_they_claim_on_synthetic_noise():
    # sigma 0.2 lognormal noise around a model the predictor can represent: an 80 % interval of new records from
    # the same boards and releases should hold about 80 % of them
    fit = CalibratedPredictor(interval_coverage=0.8).fit(synthetic(n_boards=8, noise=0.2, repeats=10, seed=10))
    fresh = synthetic(n_boards=8, noise=0.2, repeats=20, seed=100)
    low, high = fit.predict_interval(fresh)
    inside = ((fresh.latency_s >= low) & (fresh.latency_s <= high)).mean()
    assert 0.7 <= inside <= 0.9
    # the noise-free 90 % range of a lognormal(0, 0.2) is exp(+-1.645 * 0.2) = [0.72, 1.39]; the fitted interval
    # of a well-known record is of that order, not ten times wider
    assert 1.5 < float(np.median(high / low)) < 3.0


def test_json_keeps_releases_classes_and_intervals():
    fit = CalibratedPredictor().fit(synthetic(noise=0.1))
    again = CalibratedPredictor.from_json(fit.to_json())
    query = synthetic(n_boards=1, releases=(("3.0", "v3", 2.0),), repeats=2)
    assert again.predict(query) == pytest.approx(fit.predict(query))
    for bounds_again, bounds in zip(again.predict_interval(query), fit.predict_interval(query)):
        assert bounds_again == pytest.approx(bounds)
    assert again.hardware_classes_ == ["MCU"] and again.newest_releases_ == {"S": "2.0"}


def test_no_intervals_when_not_asked():
    fit = CalibratedPredictor(interval_coverage=None).fit(synthetic())
    with pytest.raises(CalibrationError, match="this calibration has no intervals"):
        fit.predict_interval(synthetic(n_boards=1, repeats=1))
    with pytest.raises(CalibrationError, match="interval_coverage must lie between 0 and 1"):
        CalibratedPredictor(interval_coverage=80).fit(synthetic())


# ------------------------------------------------------------------------------ shipped calibration and the API

def test_shipped_calibration_covers_mlperf_tiny_cortex_m():
    shipped = default_calibration()
    assert shipped.hardware_classes_ == ["MCU"]
    assert shipped.n_records_ == len(default_features()) == 168
    assert shipped.residual_quantiles_  # it carries intervals


def test_calibrated_prediction_explains_itself_and_its_layers_sum_up():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # every level of this stack is calibrated
        # but LeNet-MNIST does less work per kernel than the MLPerf Tiny records (tests/test_network_extrapolation.py)
        warnings.filterwarnings("ignore", ".*beyond the networks the calibration was fitted on", CalibrationWarning)
        p = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", "int8", calibrated=True, framework="X-CUBE-AI 7.3.0")
    assert p.estimate == "calibrated"
    assert p.layers.calibrated_time_s.sum() == pytest.approx(p.latency_s)
    assert p.bound_latency_s == pytest.approx(p.layers.time_s.sum())
    assert p.latency_s > p.bound_latency_s  # real stacks are slower than the roofline bound
    low, high = p.latency_interval_s
    assert low < p.latency_s < high
    assert "framework_version: X-CUBE-AI | 7.3.0" in p.calibration_levels
    assert p.fps == pytest.approx(1 / p.latency_s)


def test_calibrated_prediction_warns_about_fallbacks():
    with pytest.warns(CalibrationWarning, match="framework_version: X-CUBE-AI \\| 9.0.0 not calibrated -> "
                                                "X-CUBE-AI \\| 8.1.0"):
        p = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", "int8", calibrated=True, framework="X-CUBE-AI 9.0.0")
    assert p.estimate == "calibrated"


def test_plain_predictions_stay_bounds():
    p = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", "int8")
    assert p.estimate == "bound" and p.latency_interval_s is None and p.bound_latency_s is None


def test_user_records_extend_the_shipped_calibration():
    # a user measured LeNet-MNIST on a board the shipped records lack, under a stack they know: 3x its roofline
    shipped = default_calibration()
    layers = class_layers(rk.get_network("LeNet-MNIST"), rk.get_hardware("NUCLEO-F767ZI"), "int8", 1,
                          shipped.traffic)
    user = pd.DataFrame([{
        "hardware": "NUCLEO-F767ZI", "catalog_hardware": "NUCLEO-F767ZI", "hardware_class": "MCU",
        "core_family": "Cortex-M7", "network": "LeNet-MNIST", "precision": "int8", "batch": 1,
        "framework": "MyStack", "framework_version": "1.0", "latency_s": 3 * layers.time_s.sum(),
        **{f"roofline_s:{c}": t for c, t in layers.groupby("calibration_class").time_s.sum().items()}}] * 4)
    extended = extend_default_calibration(user)
    assert extended.n_records_ == 168 + 4
    assert "MyStack" in extended.coef_["framework"]
    assert extended.predict(user.iloc[:1])[0] == pytest.approx(user.latency_s[0], rel=0.25)


def test_cli_calibrated_gives_estimate_interval_and_levels(capsys, tmp_path):
    from rooflinekit.cli import main

    assert main(["predict", "LeNet-MNIST", "--hardware", "NUCLEO-L4R5ZI", "--precision", "int8", "--calibrated",
                 "--framework", "X-CUBE-AI 8.1.0", "--format", "json"]) in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["estimate"] == "calibrated"
    low, high = data["latency_interval_s"]
    assert low < data["latency_s"] < high
    assert data["latency_s"] > data["bound_latency_s"]
    assert "framework_version: X-CUBE-AI | 8.1.0" in data["calibration_levels"]
    dsp = tmp_path / "dsp.yaml"  # a DSP: no calibration ships for its class (GPUs and FPGAs have one now)
    dsp.write_text("hardware:\n- name: DSP board\n  kind: DSP\n  peak_ops_per_s: {int8: 1 TOPS}\n  source: test\n"
                   "  memories:\n  - {name: DRAM, capacity_bytes: 2 GB, bandwidth_bytes_per_s: 4 GB/s, on_chip: false,"
                   " stores: [weights, activations], source: test}\n", encoding="utf-8")
    assert main(["predict", "LeNet-MNIST", "--hardware", str(dsp), "--precision", "int8", "--calibrated"]) == 2
    assert "no calibration for hardware class DSP" in capsys.readouterr().err


def test_reprs_say_bound_or_calibrated_estimate():
    bound = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", "int8")
    assert "roofline bound" in repr(bound)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        estimate = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", "int8", calibrated=True, framework="X-CUBE-AI 8.1.0")
    text = repr(estimate)
    assert "calibrated estimate, roofline " in text and " in [" in text
