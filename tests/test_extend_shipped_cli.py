"""``rooflinekit calibrate RECORDS --extend-shipped``: your records added to the calibration shipped for their
hardware class and stack, refitted and written for ``predict --calibration``; and its refusals."""

from __future__ import annotations

import csv
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from conftest import one_error, run
from rooflinekit.compare.calibrate import calibrate_from_paths
from rooflinekit.compare.calibrate.regime import calibration_json
from rooflinekit.errors import CalibrationError

PI = "Raspberry Pi 4 Model B"
MAPPING = ["--columns", "board=hardware,model=network,fw=framework,ms=latency_s", "--units", "latency_s=ms"]
"""The test tables' own column names and latency unit (ms), as a user's CSV has them."""


def shipped_rows(name: str) -> int:
    """Records of the packaged ``<name>_features.csv``, counted with the csv module (one per data row)."""
    text = (resources.files("rooflinekit") / "calibrations" / f"{name}_features.csv").read_text(encoding="utf-8")
    return sum(1 for _ in csv.DictReader(text.splitlines()))


def table(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    """A user's CSV of (board, model, fw, ms) rows."""
    path.write_text("board,model,fw,ms\n" + "".join(f"{b},{m},{f},{ms}\n" for b, m, f, ms in rows),
                    encoding="utf-8")
    return path


def calibrated_ms(capsys, network: str, *options: object) -> float:
    """``predict``'s latency (ms) of ``network`` on the board under TFLite with ``options``."""
    code, out, err = run(capsys, "predict", network, "--hardware", PI, "--framework", "TFLite", *options,
                         "--format", "json")
    assert code == 0, err
    return 1e3 * json.loads(out)["latency_s"]


def test_cpu_records_extend_the_eager_latency_calibration(capsys, tmp_path):
    # records 5x slower than the shipped estimate on this board: the refit must say so for the board, so the
    # calibration written predicts its networks slower than the shipped one (the direction, not a value of the fit)
    shipped = {network: calibrated_ms(capsys, network, "--calibrated")
               for network in ("LeNet-MNIST", "ResNet-20-CIFAR-10")}
    records = table(tmp_path / "mine.csv", [(PI, network, "TFLite", 5 * ms) for network, ms in shipped.items()])
    out_file = tmp_path / "mine.json"
    code, out, err = run(capsys, "calibrate", records, *MAPPING, "--extend-shipped", "--out", out_file)
    n_shipped = shipped_rows("eager_latency")
    assert code == 0, err
    assert out.splitlines()[0] == (f"extended the shipped calibration eager_latency with 2 of your records "
                                   f"({n_shipped} shipped)")
    written = json.loads(out_file.read_text(encoding="utf-8"))
    assert written["n_records"] == n_shipped + 2
    assert "regime" not in written  # the eager-latency calibration has none
    # featurized with the shipped settings (module docstring of defaults: fine op classes, 10 us / 1 ms overheads)
    assert written["params"]["op_classes"] == "fine" and "elementwise/fp32" in written["classes"]
    assert written["params"]["kernel_overhead_ref_s"] == 1e-5 and written["params"]["call_overhead_ref_s"] == 1e-3
    for network, ms in shipped.items():
        assert calibrated_ms(capsys, network, "--calibration", out_file) > ms
    # the Python path writes the same calibration
    fitted = calibrate_from_paths([records], columns={"board": "hardware", "model": "network", "fw": "framework",
                                                      "ms": "latency_s"}, units={"latency_s": "ms"},
                                  extend_shipped=True)
    assert calibration_json(fitted) == out_file.read_text(encoding="utf-8")
    assert (fitted.shipped_name_, fitted.n_shipped_, len(fitted.features_)) == ("eager_latency", n_shipped,
                                                                                n_shipped + 2)


def test_gpu_records_under_pytorch_extend_the_eager_latency_calibration(capsys, tmp_path):
    # the stack is taken from the records: PyTorch on a GPU is eager latency, not MLPerf Inference Offline
    records = table(tmp_path / "gpu.csv", [("A100-PCIe-40GB", "ResNet-20-CIFAR-10", "PyTorch", 3.0)])
    code, out, err = run(capsys, "calibrate", records, *MAPPING, "--extend-shipped", "--out", tmp_path / "g.json",
                         "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["extended"], result["n_shipped"]) == ("eager_latency", shipped_rows("eager_latency"))
    assert result["n_records"] == shipped_rows("eager_latency") + 1


@pytest.mark.parametrize("rows, expected", [
    # TensorRT on a GPU: the MLPerf Inference Offline calibration, fitted at 64 samples per accelerator
    ([("A100-PCIe-40GB", "ResNet-20-CIFAR-10", "TensorRT", 1.0)],
     r"mlperf_inference_gpu\).*regime MLPerf Inference Offline.*inference_offline\.featurize.*"
     r"--set framework=PyTorch"),
    # no stack named: a GPU gets MLPerf Inference Offline, a CPU eager latency (under PyTorch both would get it)
    ([("A100-PCIe-40GB", "ResNet-20-CIFAR-10", "", 3.0), (PI, "LeNet-MNIST", "", 1.0)],
     r"hardware classes \['CPU', 'GPU'\], whose shipped calibrations differ"),
])
def test_records_without_a_shipped_calibration_to_extend_are_one_line(capsys, tmp_path, rows, expected):
    out_file = tmp_path / "c.json"
    code, _, err = run(capsys, "calibrate", table(tmp_path / "r.csv", rows), *MAPPING, "--extend-shipped",
                       "--out", out_file)
    assert code == 2
    assert re.search(expected, one_error(err))
    assert not out_file.exists()


@pytest.mark.parametrize("option, value", [("--shrinkage", "1"), ("--system-shrinkage", "5"),
                                           ("--op-classes", "coarse"), ("--kernel-overhead", "10us"),
                                           ("--call-overhead", "1ms")])
def test_settings_of_the_shipped_calibration_are_refused(capsys, tmp_path, option, value):
    out_file = tmp_path / "c.json"
    records = table(tmp_path / "r.csv", [(PI, "LeNet-MNIST", "TFLite", 1.0)])
    code, _, err = run(capsys, "calibrate", records, *MAPPING, "--extend-shipped", option, value, "--out", out_file)
    assert code == 2
    assert one_error(err).startswith(f"rooflinekit: error: {option} given with --extend-shipped: ")
    assert not out_file.exists()
    with pytest.raises(CalibrationError, match=r"^shrinkage given with extend_shipped"):
        calibrate_from_paths([records], extend_shipped=True, shrinkage=1.0)
