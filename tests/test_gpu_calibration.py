"""The MLPerf Inference calibrations shipped for GPUs and NPUs (rooflinekit/calibrations/mlperf_inference_*.json):
chosen by hardware class, costed in their regime (Offline: 64 samples per accelerator, weights-only traffic), warning
outside it, extended by user records, refusing classes without one, and round-tripping through JSON.

Expected values are derived next to each assertion; measured throughputs are read from the shipped records (the
MLPerf table's values), never from a prediction.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import rooflinekit as rk
from conftest import assert_build_gives_shipped_files, shared_data
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import (
    CalibrationWarning, default_calibration, default_features, extend_default_calibration, op_class,
)
from rooflinekit.compare.calibrate import inference_offline
from rooflinekit.compare.calibrate.features import class_layers
from rooflinekit.compare.calibrate.regime import (
    CalibrationRegime, calibration_json, predict_in_regime, read_calibration, regime_of,
)
from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import CalibrationError
from rooflinekit.networks.mlperf import mlperf_network, retinanet

A100 = "A100-SXM4-80GB"
H100 = "H100-SXM5-80GB"


def _quiet_predict(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return rk.predict(*args, **kwargs)


# ------------------------------------------------------------------------------------------- chosen by class

def test_shipped_calibration_is_chosen_by_hardware_class():
    gpu = default_calibration(get_hardware(A100))
    npu = default_calibration(get_hardware("Cloud AI 100 Pro"))
    assert gpu.hardware_classes_ == ["GPU"] and npu.hardware_classes_ == ["NPU"]
    assert default_calibration().hardware_classes_ == ["MCU"]  # no argument: the MCU one, as before
    assert regime_of(default_calibration()) is None
    for predictor, name in ((gpu, "GPU"), (npu, "NPU")):
        features = default_features(name)
        assert predictor.n_records_ == len(features)
        assert set(features.hardware_class) == {name}
        assert predictor.traffic == "weights_only" and predictor.op_classes == "grouped"
        assert predictor.residual_quantiles_  # it carries intervals
        regime = regime_of(predictor)
        assert regime.batch == 64 and regime.traffic == "weights_only" and "Offline" in regime.name
    # the NPU calibration is the Qualcomm Cloud AI 100 alone
    assert set(default_features("NPU").core_family) == {"Cloud AI 100"}


def test_shipped_records_are_the_offline_rows_of_the_shared_table():
    folder = shared_data("mlperf_inference")
    features, left_out = inference_offline.load_features(folder)
    shipped = pd.concat([default_features("GPU"), default_features("NPU")], ignore_index=True)
    assert len(shipped) == len(features)
    # each record's measured time is 64 samples over its throughput per accelerator (s)
    assert (shipped.latency_s * shipped.throughput_fps).to_numpy() == pytest.approx(64.0, rel=1e-12)
    assert set(shipped["round"]) == {"v2.1", "v3.0", "v4.1"}


def test_the_build_gives_the_shipped_files_byte_for_byte(tmp_path):
    """One build from ../shared/data equals the committed files of both classes: the build is deterministic and
    the shipped files are what it makes (and what the featurizing shared with user records, key_records, keys)."""
    shipped = assert_build_gives_shipped_files("build_gpu_calibration.py", "mlperf_inference_gpu", tmp_path,
                                               "--data", shared_data("mlperf_inference"))
    for file in ("mlperf_inference_npu.json", "mlperf_inference_npu_features.csv"):
        assert (tmp_path / file).read_bytes() == (shipped / file).read_bytes(), file


def test_refusal_names_the_classes_that_have_a_calibration():
    dsp = HardwareSpec.model_validate({**get_hardware("Ultra96-DPU").model_dump(exclude_none=True),
                                       "name": "DSP board", "kind": "DSP"})  # a DSP: no calibration ships for it
    with pytest.raises(CalibrationError, match=r"no calibration for hardware class DSP \(DSP board\).*shipped: "
                                               r"MCU .*CPU .*GPU .*NPU "):
        rk.predict("LeNet-MNIST", dsp, "int8", calibrated=True)
    with pytest.raises(CalibrationError, match="no calibration for hardware class DSP"):
        default_calibration("DSP")


# ------------------------------------------------------------------------------------------- the regime

def test_in_regime_prediction_is_keyed_as_the_records_and_close_to_a_known_accelerator():
    # ResNet-50 int8 on an H100-SXM5 in v4.1: the median of the shipped records' measured samples/s per accelerator
    features = default_features("GPU")
    rows = features[(features.catalog_hardware == H100) & (features.network == "resnet50")
                    & (features["round"] == "v4.1")]
    measured = rows.throughput_fps.median()
    p = _quiet_predict("ResNet-50", H100, batch=64, calibrated=True)
    assert p.estimate == "calibrated" and p.batch == 64 and p.precision == "int8"
    assert "core_family: Hopper" in p.calibration_levels and f"system: {H100}" in p.calibration_levels
    assert "framework: TensorRT" in p.calibration_levels  # the default stack of GPU records, said in notes
    assert any("framework: none given; keyed as TensorRT" in note for note in p.notes)
    assert any("the catalog entry holds totals only" in note for note in p.notes)
    assert p.fps == pytest.approx(measured, rel=0.10)  # a known accelerator: within 10 %
    low, high = p.latency_interval_s
    assert low < p.latency_s < high
    assert p.latency_s > p.bound_latency_s  # the estimate is slower than the roofline bound
    assert p.layers.calibrated_time_s.sum() == pytest.approx(p.latency_s, rel=1e-9)


def test_batch_below_the_regime_warns_once_and_scales_the_sustained_throughput():
    at_64 = _quiet_predict("ResNet-50", A100, batch=64, calibrated=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        at_2 = rk.predict("ResNet-50", A100, batch=2, calibrated=True)
    regime_warnings = [w for w in caught if "outside the calibration's regime" in str(w.message)]
    assert len(regime_warnings) == 1 and regime_warnings[0].category is CalibrationWarning
    message = str(regime_warnings[0].message)
    assert "MLPerf Inference Offline" in message and "64 samples per accelerator" in message
    assert "optimistic" in message and "batch 1 gets the MLPerf Inference SingleStream" in message
    # 2 samples at the sustained rate of batch 64: latency 2/64 of the batch-64 latency, the same samples/s
    assert at_2.latency_s == pytest.approx(at_64.latency_s * 2 / 64, rel=1e-9)
    assert at_2.fps == pytest.approx(at_64.fps, rel=1e-9)
    assert at_2.latency_interval_s[0] == pytest.approx(at_64.latency_interval_s[0] * 2 / 64, rel=1e-9)
    assert at_2.layers.calibrated_time_s.sum() == pytest.approx(at_2.latency_s, rel=1e-9)
    assert any("outside the calibration regime (batch 2 < 64)" in note for note in at_2.notes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rk.predict("ResNet-50", A100, batch=128, calibrated=True)
    assert not [w for w in caught if "outside the calibration's regime" in str(w.message)]


def test_layers_below_the_regime_count_the_samples_asked_for():
    """The layer rows of a scaled estimate are of the batch asked for, times and counts alike (the counts were
    those of the 64 samples costed)."""
    at_64 = _quiet_predict("ResNet-50", A100, batch=64, calibrated=True).layers
    at_2 = _quiet_predict("ResNet-50", A100, batch=2, calibrated=True).layers
    # ResNet-50's first conv: 7 x 7 x 3 x 64 x 112 x 112 = 118,013,952 MACs per sample; input 3 x 224 x 224 int8
    first = at_2.iloc[0]
    assert (first["macs"], first["ops"], first["input_bytes"]) == (2 * 118_013_952, 4 * 118_013_952,
                                                                   2 * 3 * 224 * 224)
    for column in ("macs", "ops", "input_bytes", "output_bytes", "compute_s", "memory_s", "time_s",
                   "calibrated_time_s"):
        assert at_2[column].to_numpy() * 32 == pytest.approx(at_64[column].to_numpy(), rel=1e-12), column
    assert at_2["weight_bytes"].tolist() == at_64["weight_bytes"].tolist()  # the weights: once per batch either way


def test_grouped_scheme_gives_resnext_convs_their_own_class():
    # the same hand count as tests/test_mlperf_inference_fidelity.py: RetinaNet's 16 grouped 3x3 convs do
    # 2 x 2,949,120,000 MACs + 35,200,000 bias adds per image; at batch 64 on an A100 (624e12 int8 ops/s,
    # compute bound with weights-only traffic) they take (2 x MACs + adds) x 64 / 624e12 s
    net = retinanet()
    grouped = {layer.name for layer in net.layers if op_class(layer, "grouped") == "grouped_conv"}
    assert len(grouped) == 16
    layers = class_layers(net, get_hardware(A100), "int8", 64, "weights_only", op_classes="grouped")
    expected = (2 * 16 * 184_320_000 + 35_200_000) * 64 / get_hardware(A100).peak("int8")
    assert layers[layers.calibration_class == "grouped_conv/int8"].time_s.sum() == pytest.approx(expected, rel=1e-9)
    # per layer the calibrated times of a network with the grouped class still sum to the estimate
    p = _quiet_predict(mlperf_network("retinanet", precision="int8"), A100, batch=64, calibrated=True)
    assert "grouped_conv/int8" in set(p.layers.calibration_class)
    assert p.layers.calibrated_time_s.sum() == pytest.approx(p.latency_s, rel=1e-9)


# ------------------------------------------------------------------------------------------- user records

def test_user_records_extend_the_shipped_gpu_calibration():
    # a user measured ResNet-50 and BERT on an RTX 4090 (absent from the records) under their own stack, at 40 %
    # of the weights-only roofline of a batch of 64: measured throughput = 0.4 x 64 / roofline latency
    records = pd.DataFrame({"hardware": ["GeForce RTX 4090"] * 4, "network": ["resnet50", "bert-large"] * 2,
                            "precision": ["int8"] * 4, "framework": ["MyStack"] * 4, "round": ["2026"] * 4,
                            "throughput_fps": [1.0] * 4})
    features, skipped = inference_offline.featurize(records)
    assert skipped.empty
    features["latency_s"] = features["roofline_latency_s"] / 0.4
    features["throughput_fps"] = 64 / features["latency_s"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        extended = extend_default_calibration(features)
    assert extended.n_records_ == len(default_features("GPU")) + 4
    assert "MyStack" in extended.coef_["framework"] and extended.hardware_classes_ == ["GPU"]
    assert regime_of(extended) == regime_of(default_calibration("GPU"))
    p = _quiet_predict("ResNet-50", "GeForce RTX 4090", batch=64, calibration=extended, framework="MyStack")
    assert p.latency_s == pytest.approx(features.latency_s.iloc[0], rel=0.25)
    assert "core_family: Ada Lovelace" in p.calibration_levels
    with pytest.raises(CalibrationError, match="extend one class at a time"):
        extend_default_calibration(pd.concat([features, features.assign(hardware_class="NPU")]))


# ------------------------------------------------------------------------------------------- JSON

def test_json_round_trip_keeps_factors_and_regime():
    shipped = default_calibration("GPU")
    text = calibration_json(shipped)
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["format"] == "rooflinekit.calibration/6" and data["regime"]["batch"] == 64
    back = read_calibration(text)
    features = default_features("GPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        assert back.predict(features) == pytest.approx(shipped.predict(features), rel=1e-12)
    assert regime_of(back) == regime_of(shipped)
    assert CalibrationRegime.from_dict(regime_of(back).to_dict()) == regime_of(shipped)
    with pytest.raises(CalibrationError, match="conventions 'elsewhere' unknown"):
        CalibrationRegime.from_dict({**data["regime"], "conventions": "elsewhere"})


def test_a_regime_ends_above_only_when_its_file_says_so():
    offline, single = regime_of(default_calibration("GPU")), regime_of(default_calibration("GPU", batch=1))
    assert "batch_max" not in offline.to_dict() and offline.batch_max is None  # Offline: any batch >= 64
    assert [offline.contains(b) for b in (1, 63, 64, 4096)] == [False, False, True, True]
    assert single.to_dict()["batch_max"] == 1 and [single.contains(b) for b in (1, 2)] == [True, False]
    assert CalibrationRegime.from_dict(single.to_dict()) == single
    with pytest.raises(CalibrationError, match=r"batch_max \(1\) is below its batch \(64\)"):
        CalibrationRegime.from_dict({**offline.to_dict(), "batch_max": 1})


def test_refitting_the_shipped_records_reproduces_the_shipped_factors():
    shipped = default_calibration("NPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        features = default_features("NPU")
        refit = type(shipped)(**shipped.get_params()).fit(features)
        assert refit.predict(features) == pytest.approx(shipped.predict(features), rel=1e-6)
    assert refit.theta0_ == pytest.approx(shipped.theta0_, rel=1e-9)


def test_cli_calibrated_on_a_gpu(capsys):
    from rooflinekit.cli import main

    assert main(["predict", "ResNet-50", "--hardware", A100, "--batch", "64", "--calibrated", "--format",
                 "json"]) in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["estimate"] == "calibrated" and data["framework"] == "TensorRT" and data["batch"] == 64
    low, high = data["latency_interval_s"]
    assert low < data["latency_s"] < high and data["latency_s"] > data["bound_latency_s"]
    assert "core_family: Ampere" in data["calibration_levels"]
    assert any("within the calibration regime" in note for note in data["notes"])


def test_predict_in_regime_without_a_regime_is_the_plain_calibrated_prediction():
    mcu = default_calibration()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        estimate, notes = predict_in_regime(rk.get_network("LeNet-MNIST"), get_hardware("NUCLEO-L4R5ZI"), mcu,
                                            "X-CUBE-AI 7.3.0", precision="int8")
    # no regime note; LeNet-MNIST's notes say that no MCU record ran it (MLPerf Tiny's four reference networks did),
    # so its interval adds the spread between networks, and that it does less work per kernel than they do
    # (tests/test_network_extrapolation.py)
    assert [note.split(" (")[0].split(" does ")[0] for note in notes] == [
        "interval: no MCU record of the calibration ran LeNet-MNIST", "extrapolated: LeNet-MNIST"]
    assert "(they ran ad01, kws_ref_model, pretrainedResnet, vww_96)" in notes[0]
    assert estimate.batch == 1 and estimate.framework == "X-CUBE-AI"
