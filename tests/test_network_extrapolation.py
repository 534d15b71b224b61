"""A calibrated prediction says when its network's work per kernel (MACs / kernels) lies outside the range of the
calibration's records of its hardware class (as it says when its device lies outside the calibration's devices).

Expected values are derived independently of :mod:`rooflinekit.compare.calibrate.extrapolation` and of the fit:
ranges by hand from synthetic features, or as min / max of macs / kernels over the rows of the shipped
``<name>_features.csv`` the calibration was fitted on; a network's work per kernel by hand (the tiny network) or
from the layer table of its plain layer-mode roofline, unfused (MACs summed over the layers, kernels counted as the
layers with time > 0), which is the roofline, not the code under test.
"""

from __future__ import annotations

import json
import warnings
from importlib import resources
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest

import rooflinekit as rk
from conftest import run
from rooflinekit.api import named_network
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import CalibratedPredictor, default_calibration
from rooflinekit.compare.calibrate.defaults import SHIPPED
from rooflinekit.compare.calibrate.extrapolation import network_out_of_range
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.display import si
from rooflinekit.errors import CalibrationError, CalibrationWarning

XEON, PI4 = "Xeon Gold 6226", "Raspberry Pi 4 Model B"
A100 = "A100-SXM4-80GB"
NETWORK_WARNING = "beyond the networks the calibration was fitted on"
# the NAS-Bench-201 cell of least work per kernel among the shipped eager calibration's Xeon records (at batch 1)
SMALLEST_CELL = "|avg_pool_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|none~2|"


def _light_resnet50() -> Path:
    onnx = pytest.importorskip("onnx", reason="the light ResNet-50 ships in the optional onnx package")
    return Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def _shipped_features(name: str) -> pd.DataFrame:
    text = (resources.files("rooflinekit") / "calibrations" / f"{name}_features.csv").read_text(encoding="utf-8")
    return pd.read_csv(StringIO(text))


def _csv_range(name: str, hardware_class: str) -> tuple[float, float]:
    """min / max of macs / kernels over the shipped records of ``hardware_class`` with both positive."""
    rows = _shipped_features(name)
    rows = rows[(rows.hardware_class == hardware_class) & (rows.macs > 0) & (rows.kernels > 0)]
    work = rows.macs / rows.kernels
    return float(work.min()), float(work.max())


def _work_per_kernel(network: object, hardware: str, calibration: CalibratedPredictor, batch: int = 1) -> float:
    """MACs / kernels of the plain layer-mode roofline, unfused, at ``calibration``'s traffic (a kernel: a layer
    with time > 0)."""
    layers = rk.predict(network, hardware, mode="layer", traffic=calibration.traffic, batch=batch, fuse=False).layers
    return float(layers.macs.sum() / (layers.time_s > 0).sum())


def _predict(network: object, hardware: object, **kwargs: object) -> tuple[rk.Prediction, list[str], list[str]]:
    """The calibrated prediction, its ``extrapolated:`` notes and its network-extrapolation warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prediction = rk.predict(network, hardware, calibrated=True, **kwargs)
    notes = [note for note in prediction.notes if note.startswith("extrapolated: ")]
    warned = [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)
              and NETWORK_WARNING in str(w.message)]
    return prediction, notes, warned


def tiny_network() -> LayerNetwork:
    """conv 3->8 on 8x8 (3x3 kernel): 8 x 8 x 8 x 27 = 13,824 MAC; a flatten (a view: no kernel); a fully
    connected 512->10: 5,120 MAC. 18,944 MAC in 2 kernels: 9,472 MAC per kernel at batch 1."""
    return LayerNetwork(name="tiny", precision="fp32", source="test", layers=(
        Layer(name="conv", op="conv", inputs=((1, 3, 8, 8),), outputs=((1, 8, 8, 8),),
              weights=((8, 3, 3, 3), (8,)), attrs={"kernel_shape": [3, 3], "groups": 1}),
        Layer(name="flatten", op="flatten", inputs=((1, 8, 8, 8),), outputs=((1, 512),)),
        Layer(name="fc", op="fully_connected", inputs=((1, 512),), outputs=((1, 10),), weights=((10, 512), (10,)))))


TINY_WORK = 18_944 / 2  # MAC per kernel at batch 1 (tiny_network's docstring)


def _eager_with_range(low: float, high: float) -> CalibratedPredictor:
    """The shipped eager calibration with its CPU work-per-kernel range set to [low, high] (MAC per kernel)."""
    calibration = default_calibration("CPU")
    calibration.macs_per_kernel_range_ = {**calibration.macs_per_kernel_range_, "CPU": (low, high)}
    return calibration


# ------------------------------------------------------------------------------------------- the fit

def synthetic_features() -> pd.DataFrame:
    """Records of two classes; by hand, work per kernel (MAC) of the rows with macs and kernels both positive:
    CPU 1e6/10 = 1e5, 6e6/20 = 3e5, 8e6/4 = 2e6 (and 0/5 left out); GPU 5e9/50 = 1e8, 2e9/10 = 2e8 (and 3e9/0
    left out); a row without a class left out."""
    rows = [("CPU", 1e6, 10), ("CPU", 6e6, 20), ("CPU", 8e6, 4), ("CPU", 0.0, 5),
            ("GPU", 5e9, 50), ("GPU", 2e9, 10), ("GPU", 3e9, 0), (None, 1e3, 1)]
    return pd.DataFrame([{"hardware_class": kind, "hardware": f"board-{i}", "network": f"net-{i}", "framework": "X",
                          "macs": macs, "kernels": kernels, "latency_s": 1e-3 * (i + 1),
                          "roofline_s:conv/fp32": 1e-4 * (i + 1)}
                         for i, (kind, macs, kernels) in enumerate(rows)])


def test_the_fit_records_the_range_of_each_class():
    fitted = CalibratedPredictor(interval_coverage=None).fit(synthetic_features())
    assert fitted.macs_per_kernel_range_ == {"CPU": (1e5, 2e6), "GPU": (1e8, 2e8)}


def test_records_without_the_columns_record_no_range_and_check_nothing():
    fitted = CalibratedPredictor(interval_coverage=None).fit(synthetic_features().drop(columns=["macs"]))
    assert fitted.macs_per_kernel_range_ == {}
    assert network_out_of_range(fitted, "CPU", "any", 1, 1e12, 1) is None


def test_the_range_is_closed_and_a_network_without_kernels_is_not_checked():
    fitted = CalibratedPredictor(interval_coverage=None).fit(synthetic_features())
    assert network_out_of_range(fitted, "CPU", "n", 1, 1e5, 1) is None  # w = low
    assert network_out_of_range(fitted, "CPU", "n", 1, 2e6, 1) is None  # w = high
    below = network_out_of_range(fitted, "CPU", "n", 1, 99_999, 1)
    assert below is not None and (below.value, below.low, below.high) == (99_999, 1e5, 2e6)
    assert network_out_of_range(fitted, "CPU", "n", 1, 1e9, 0) is None
    assert network_out_of_range(fitted, "MCU", "n", 1, 1e12, 1) is None  # no records of the class: no range


# ------------------------------------------------------------------------------------------- JSON

def test_the_json_round_trip_keeps_the_range_at_the_same_format():
    fitted = CalibratedPredictor(interval_coverage=None).fit(synthetic_features())
    text = fitted.to_json()
    data = json.loads(text)
    assert data["macs_per_kernel_range"] == {"CPU": [1e5, 2e6], "GPU": [1e8, 2e8]}
    assert data["format"] == "rooflinekit.calibration/6"  # an optional member: no new format
    assert CalibratedPredictor.from_json(text).macs_per_kernel_range_ == {"CPU": (1e5, 2e6), "GPU": (1e8, 2e8)}


def test_a_json_without_the_member_reads_and_skips_the_check():
    data = json.loads(_eager_with_range(1e4, 2e4).to_json())
    del data["macs_per_kernel_range"]
    older = CalibratedPredictor.from_json(json.dumps(data))
    assert older.macs_per_kernel_range_ == {}
    prediction, notes, warned = _predict(tiny_network(), PI4, calibration=older, framework="TFLite")
    assert prediction.estimate == "calibrated" and not notes and not warned


def test_a_reader_ignores_a_member_it_does_not_know():
    """What lets a reader without the range read a file with it: members are read by name, others ignored."""
    fitted = CalibratedPredictor(interval_coverage=None).fit(synthetic_features())
    data = json.loads(fitted.to_json())
    data["a_member_of_a_later_version"] = {"anything": [1, 2]}
    assert CalibratedPredictor.from_json(json.dumps(data)).to_json() == fitted.to_json()


@pytest.mark.parametrize("span", [[2e6, 1e5], [0, 1e5], [1e5], "1e5", [1e5, float("inf")]])
def test_a_malformed_range_is_refused(span):
    data = json.loads(CalibratedPredictor(interval_coverage=None).fit(synthetic_features()).to_json())
    data["macs_per_kernel_range"] = {"CPU": span}
    with pytest.raises(CalibrationError, match="malformed"):
        CalibratedPredictor.from_json(json.dumps(data))


# ------------------------------------------------------------------------------------------- predictions

def test_a_network_inside_gets_no_note_and_one_outside_gets_it_with_the_numbers():
    inside, notes, warned = _predict(tiny_network(), PI4, framework="TFLite",
                                     calibration=_eager_with_range(9_000, 10_000))
    assert inside.estimate == "calibrated" and not notes and not warned
    outside, notes, warned = _predict(tiny_network(), PI4, framework="TFLite",
                                      calibration=_eager_with_range(10_000, 20_000))
    assert notes == [f"extrapolated: tiny does {si(TINY_WORK, 'MAC')} per kernel at batch 1, outside the 10 kMAC to "
                     "20 kMAC per kernel of the calibration's CPU records; its factors and interval come from "
                     "networks unlike it"]
    assert si(TINY_WORK, "MAC") == "9.47 kMAC"
    assert len(warned) == 1 and "tiny on Raspberry Pi 4 Model B" in warned[0] and "9.47 kMAC" in warned[0]


def test_the_work_is_taken_at_the_batch_costed():
    """At batch 4 the MACs are 4 x and the kernels the same: 37,888 MAC per kernel, inside [30k, 40k]."""
    calibration = _eager_with_range(30_000, 40_000)
    _, notes, _ = _predict(tiny_network(), PI4, framework="TFLite", batch=4, calibration=calibration)
    assert not notes
    _, notes, _ = _predict(tiny_network(), PI4, framework="TFLite", batch=1, calibration=calibration)
    assert len(notes) == 1 and "9.47 kMAC per kernel at batch 1" in notes[0]


def test_a_device_and_a_network_both_outside_get_both_notes():
    xeon = get_hardware(XEON)
    spec = xeon.model_copy(update={"name": "Hypo-CPU", "peak_ops_per_s": {
        dtype: 1000 * peak for dtype, peak in xeon.peak_ops_per_s.items()}})
    _, notes, warned = _predict(tiny_network(), spec, framework="PyTorch",
                                calibration=_eager_with_range(10_000, 20_000))
    assert len(notes) == 2 and "peak" in notes[0] and "tiny does 9.47 kMAC per kernel" in notes[1]
    assert len(warned) == 1


# ------------------------------------------------------------------------------------------- shipped calibrations

@pytest.mark.parametrize(("name", "hardware_class"), [(SHIPPED["CPU"], "CPU"), (SHIPPED["CPU"], "GPU"),
                                                      (SHIPPED["GPU"], "GPU"), (SHIPPED["NPU"], "NPU"),
                                                      (SHIPPED["MCU"], "MCU")])
def test_each_shipped_calibration_carries_its_records_range(name, hardware_class):
    calibration = default_calibration(hardware_class, "PyTorch" if name == SHIPPED["CPU"] else None)
    assert calibration.macs_per_kernel_range_[hardware_class] == _csv_range(name, hardware_class)


def test_a_nas_bench_201_cell_on_the_xeon_is_inside_the_eager_calibration():
    # the cell of least work per kernel among the records: on the boundary, inside
    cell = named_network(SMALLEST_CELL, "PyTorch")  # every edge, as the records' PyTorch ran it
    assert _work_per_kernel(cell, XEON, default_calibration("CPU")) == _csv_range(SHIPPED["CPU"], "CPU")[0]
    for cell in (SMALLEST_CELL, "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                                "skip_connect~2|"):
        prediction, notes, warned = _predict(cell, XEON, framework="PyTorch")
        assert prediction.estimate == "calibrated" and not notes and not warned


@pytest.mark.parametrize(("hardware", "framework"), [(XEON, "PyTorch"), (PI4, "TFLite")])
def test_resnet50_on_a_cpu_is_outside_the_eager_calibration(hardware, framework):
    path = _light_resnet50()
    work = _work_per_kernel(path, hardware, default_calibration("CPU"))
    low, high = _csv_range(SHIPPED["CPU"], "CPU")
    assert work > 10 * high  # tens of MMAC per kernel against NAS-Bench-201's < 1 MMAC
    prediction, notes, warned = _predict(path, hardware, framework=framework)
    assert notes == [f"extrapolated: {prediction.network} does {si(work, 'MAC')} per kernel at batch 1, outside the "
                     f"{si(low, 'MAC')} to {si(high, 'MAC')} per kernel of the calibration's CPU records; its "
                     "factors and interval come from networks unlike it"]
    assert len(warned) == 1 and hardware in warned[0]


def test_the_mlperf_gpu_records_networks_at_batch_64_are_inside():
    from rooflinekit.compare.calibrate.inference_offline import networks

    low, high = _csv_range(SHIPPED["GPU"], "GPU")
    calibration = default_calibration("GPU")
    for record in ("resnet50", "retinanet", "bert-large"):
        network = networks()[(record, "int8")]
        assert low <= _work_per_kernel(network, A100, calibration, batch=64) <= high
        prediction, notes, warned = _predict(network, A100, batch=64)
        assert prediction.estimate == "calibrated" and not notes and not warned


def test_a_calibrated_sweep_gives_the_rows_the_note_and_warns_once():
    path = _light_resnet50()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rk.sweep([path, SMALLEST_CELL], [XEON, PI4], [None], [1], calibrated=True, framework="PyTorch")
    warned = [str(w.message) for w in caught if NETWORK_WARNING in str(w.message)]
    assert len(warned) == 1 and warned[0].startswith("2 calibrated rows extrapolate beyond the networks")
    for row in table.itertuples():
        expected = _predict(row.network if row.network != "resnet50" else path, row.hardware,
                            framework="PyTorch")[1]
        assert row.estimate == "calibrated"
        assert [n for n in row.notes if n.startswith("extrapolated: ")] == expected
        assert bool(expected) == (row.network == "resnet50")


def test_the_cli_prints_the_note(capsys):
    path = _light_resnet50()
    code, out, _ = run(capsys, "predict", path, "--hardware", XEON, "--calibrated", "--framework", "PyTorch")
    assert code in (0, None)
    assert "MAC per kernel at batch 1, outside the" in " ".join(out.split())
