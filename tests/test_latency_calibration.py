"""The eager-framework latency calibration (rooflinekit/calibrations/eager_latency.json): chosen for a CPU and for a
GPU under PyTorch, predicting a user's network with its per-call and per-kernel overheads, extended by user
records, and rebuilt byte for byte by tools/build_latency_calibration.py.

Expected values are derived next to each assertion: the selection rule from what the calibration's records ran,
the overhead bound from the fitted parameters read from the JSON file by the model's documented formula, kernel
counts by hand.
"""

from __future__ import annotations

import json
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from conftest import assert_build_gives_shipped_files, run, shared_data
from rooflinekit.compare.calibrate import (
    CalibrationWarning, calibration_features, default_calibration, default_features, extend_default_calibration,
)
from rooflinekit.compare.calibrate.defaults import LATENCY_FRAMEWORKS, LATENCY_NAME, SHIPPED, shipped_name
from rooflinekit.compare.calibrate.regime import regime_of
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.errors import CalibrationError

PI4 = "Raspberry Pi 4 Model B"
GPU = "TITAN RTX"  # a GPU the NAS-Bench-201 records ran under PyTorch


def _shipped_json() -> dict:
    """The shipped file read as plain JSON (not through the predictor's reader)."""
    text = (resources.files("rooflinekit") / "calibrations" / f"{LATENCY_NAME}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _quiet_predict(*args, **kwargs) -> rk.Prediction:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return rk.predict(*args, **kwargs)


def tiny_network() -> LayerNetwork:
    """conv 3->8 on 8x8, a flatten (a view: no kernel), a fully connected 512->10, fp32: 2 kernels by hand."""
    return LayerNetwork(name="tiny", precision="fp32", source="test", layers=(
        Layer(name="conv", op="conv", inputs=((1, 3, 8, 8),), outputs=((1, 8, 8, 8),),
              weights=((8, 3, 3, 3), (8,)), attrs={"kernel_shape": [3, 3], "groups": 1}),
        Layer(name="flatten", op="flatten", inputs=((1, 8, 8, 8),), outputs=((1, 512),)),
        Layer(name="fc", op="fully_connected", inputs=((1, 512),), outputs=((1, 10),), weights=((10, 512), (10,)))))


# ------------------------------------------------------------------------------------------- selection

@pytest.mark.parametrize(("hardware", "framework", "expected"), [
    ("CPU", None, LATENCY_NAME), ("CPU", "TFLite", LATENCY_NAME), ("CPU", "PyTorch", LATENCY_NAME),
    ("GPU", "PyTorch", LATENCY_NAME), ("GPU", "PyTorch 2.1", LATENCY_NAME), ("GPU", "PYTORCH", LATENCY_NAME),
    ("GPU", None, "mlperf_inference_gpu"), ("GPU", "TensorRT", "mlperf_inference_gpu"),
    ("GPU", "N/A", "mlperf_inference_gpu"),
    ("NPU", None, "mlperf_inference_npu"), ("NPU", "PyTorch", "mlperf_inference_npu"),
    ("MCU", None, "mlperf_tiny_cortex_m"), ("MCU", "PyTorch", "mlperf_tiny_cortex_m"),
])
def test_the_eager_calibration_is_chosen_for_a_cpu_and_a_gpu_under_pytorch(hardware, framework, expected):
    assert shipped_name(hardware, framework) == expected


def test_a_spec_selects_as_its_class_and_callers_without_a_framework_are_unchanged():
    assert shipped_name(rk.get_hardware(PI4)) == LATENCY_NAME
    assert shipped_name(rk.get_hardware(GPU), "PyTorch") == LATENCY_NAME
    assert regime_of(default_calibration(rk.get_hardware(GPU))) is not None  # MLPerf Offline, as before
    assert default_calibration().hardware_classes_ == ["MCU"]


def test_a_class_without_a_calibration_is_refused_naming_the_shipped_ones():
    with pytest.raises(CalibrationError, match=r"no calibration for hardware class DSP .*shipped: MCU .*CPU "
                                               r"\(eager latency, NAS-Bench-201 \+ NeuSight\), GPU "
                                               r".*PyTorch.*NPU ") as error:
        default_calibration("DSP", "PyTorch")
    assert "--calibration" in str(error.value)


def test_the_stacks_that_select_it_are_those_its_gpu_records_ran():
    features = default_features("CPU")
    assert sorted(set(features.loc[features.hardware_class == "GPU", "framework"])) == list(LATENCY_FRAMEWORKS["GPU"])
    assert SHIPPED["CPU"] == LATENCY_NAME and "CPU" not in LATENCY_FRAMEWORKS  # any stack on a CPU


# ------------------------------------------------------------------------------------------- the shipped file

def test_shipped_file_is_the_configuration_of_the_fidelity_benchmark_without_a_regime():
    data = _shipped_json()
    params = data["params"]
    assert params["kernel_overhead_ref_s"] == 1e-5 and params["call_overhead_ref_s"] == 1e-3
    assert params["op_classes"] == "fine" and params["traffic"] == "weights_and_activations"
    assert "regime" not in data
    calibration = default_calibration("CPU")
    assert regime_of(calibration) is None and calibration.hardware_classes_ == ["CPU", "GPU"]
    features = default_features("GPU", "PyTorch")
    assert calibration.n_records_ == len(features) == data["n_records"]
    # NAS-Bench-201's 5 devices and NeuSight's 6 GPUs
    assert features.catalog_hardware.nunique() == 11


def test_refitting_the_shipped_records_reproduces_the_shipped_predictions():
    shipped = default_calibration("CPU")
    features = default_features("CPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        refit = type(shipped)(**shipped.get_params()).fit(features)
    assert refit.predict(features) == pytest.approx(shipped.predict(features), rel=1e-9)


def test_it_predicts_a_user_network_on_a_catalog_cpu_and_a_gpu_under_pytorch():
    for hardware, framework in ((PI4, "TFLite"), (PI4, None), (GPU, "PyTorch")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            p = rk.predict("LeNet-MNIST", hardware, "fp32", calibrated=True, framework=framework)
        assert p.estimate == "calibrated" and p.batch == 1
        low, high = p.latency_interval_s
        assert 0 < low < p.latency_s < high
        # no regime: nothing is scaled from a sustained throughput, and no regime warning
        assert not any("regime" in note for note in p.notes)
        assert not any("regime" in str(w.message) for w in caught)


def test_the_estimate_includes_the_fitted_overheads_of_a_gpu_at_batch_1():
    """estimate = t_call + kernels x t0 + sum_c F_c T_c >= t_call + kernels x t0 (model.py), with each overhead
    log F_o = theta0 + b[global][o] + b[framework][o] + b[framework_version][o] + b[system][o] read from the JSON at
    the query's keys (overall theta0 and global key '*': the overheads cross classes; no version given: <unknown>)."""
    data = _shipped_json()
    coefficients = data["coefficients"]
    keys = {"global": "*", "framework": "PyTorch", "framework_version": "PyTorch | <unknown>",
            "system": f"{GPU} | PyTorch | <unknown>"}

    def overhead(term: str) -> float:
        log_factor = data["theta0"] + sum(coefficients[level][key][term] for level, key in keys.items())
        return float(np.exp(log_factor)) * data["params"][f"{term}_ref_s"]

    t0_s, call_s = overhead("kernel_overhead"), overhead("call_overhead")
    kernels = 2  # conv and fully connected; the flatten is a view
    p = _quiet_predict(tiny_network(), GPU, calibrated=True, framework="PyTorch", batch=1)
    assert p.latency_s >= (call_s + kernels * t0_s) * (1 - 1e-9)
    # which is far above the roofline bound of so tiny a network (a few µs of eager dispatch per kernel)
    assert call_s + kernels * t0_s > 10 * p.bound_latency_s


def test_a_gpu_request_below_the_offline_regime_says_how_to_get_the_latency_calibration():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rk.predict("LeNet-MNIST", GPU, "fp32", calibrated=True, framework="TensorRT", batch=2)
    outside = [str(w.message) for w in caught if "outside the calibration's regime" in str(w.message)]
    assert len(outside) == 1 and "--framework PyTorch" in outside[0] and 'framework="PyTorch"' in outside[0]
    assert "\n" not in outside[0]


def test_a_sweep_reads_the_calibration_chosen_for_each_class_and_stack():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(["LeNet-MNIST"], [PI4, GPU], ["fp32"], [1], calibrated=True, framework="PyTorch")
    rows = table.set_index("hardware")
    for hardware in (PI4, GPU):  # both eager latency: the GPU too, under PyTorch
        expected = _quiet_predict("LeNet-MNIST", hardware, "fp32", calibrated=True, framework="PyTorch")
        assert rows.loc[hardware, "estimate"] == "calibrated"
        assert rows.loc[hardware, "latency_s"] == pytest.approx(expected.latency_s, rel=1e-9)


def test_cli_predict_on_a_cpu(capsys):
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", PI4, "--calibrated", "--framework", "TFLite",
                       "--format", "json")
    data = json.loads(out)
    assert code in (0, None) and data["estimate"] == "calibrated" and data["framework"] == "TFLite"
    assert "framework: TFLite" in data["calibration_levels"]


def test_user_records_extend_the_shipped_calibration():
    records = pd.DataFrame([{"hardware": PI4, "network": "LeNet-MNIST", "precision": "fp32", "batch": 1,
                             "framework": "TFLite", "latency_s": 2e-3}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        features, skipped = calibration_features(records, {}, op_classes="fine")
        extended = extend_default_calibration(features)  # a CPU: the eager one, without naming it
    assert skipped.empty
    assert extended.n_records_ == len(default_features("CPU")) + 1 and regime_of(extended) is None
    assert "CPU | TFLite | <unknown>" in extended.coef_["framework_version"]


def test_gpu_records_under_pytorch_extend_the_eager_calibration_without_naming_it():
    """Every record names PyTorch (spelled 'pytorch'): the stack chooses the eager calibration, as a request would;
    the MLPerf Offline one would have taken them otherwise."""
    records = pd.DataFrame([{"hardware": GPU, "network": "LeNet-MNIST", "precision": "fp32", "batch": 1,
                             "framework": "pytorch", "latency_s": 1e-3}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        features, skipped = calibration_features(records, {}, op_classes="fine")
        extended = extend_default_calibration(features)
    assert skipped.empty
    assert extended.n_records_ == len(default_features("GPU", "PyTorch")) + 1 and regime_of(extended) is None


# ------------------------------------------------------------------------------------------- the build

def test_the_build_gives_the_shipped_files_byte_for_byte(tmp_path: Path):
    """One build from ../shared/data equals the committed files: the build is deterministic and the shipped files
    are what it makes."""
    shipped = assert_build_gives_shipped_files("build_latency_calibration.py", LATENCY_NAME, tmp_path,
                                               "--nb201", shared_data("nb201"), "--neusight", shared_data("neusight"))
    assert (shipped / f"{LATENCY_NAME}_features.csv").stat().st_size < 500_000
