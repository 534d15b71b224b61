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
from rooflinekit.errors import CalibrationError, CalibrationWarning

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


@pytest.mark.parametrize("rows, options, expected", [
    # TensorRT on a GPU at 8 samples: neither SingleStream (1) nor Offline (64 or more per accelerator) holds it
    ([("A100-PCIe-40GB", "resnet50", "TensorRT", 1.0)], ["--set", "precision=int8,batch=8"],
     r"no record lies in the regime of the calibration shipped for GPU records under TensorRT, mlperf_inference_gpu: "
     r"MLPerf Inference Offline .* records of batch 64 or more per accelerator \(given: 8\); .*latencies measured "
     r"under PyTorch extend the eager-latency calibration at any batch: give their framework \(PyTorch: --set "
     r"framework=PyTorch"),
    # no stack named: a GPU at batch 1 gets SingleStream, a CPU eager latency (under PyTorch both would get it)
    ([("A100-PCIe-40GB", "ResNet-20-CIFAR-10", "", 3.0), (PI, "LeNet-MNIST", "", 1.0)], [],
     r"hardware classes \['CPU', 'GPU'\], whose shipped calibrations differ"),
])
def test_records_without_a_shipped_calibration_to_extend_are_one_line(capsys, tmp_path, rows, options, expected):
    out_file = tmp_path / "c.json"
    code, _, err = run(capsys, "calibrate", table(tmp_path / "r.csv", rows), *MAPPING, *options, "--extend-shipped",
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


L4 = "NVIDIA L4"


def test_gpu_latencies_of_one_sample_extend_the_singlestream_calibration(capsys, tmp_path):
    # a user's own batch-1 TensorRT latency of ResNet-50 on an L4, 3x the shipped estimate: records of one sample
    # join the SingleStream records, keyed as they are, and the refit predicts that GPU slower than before; the
    # catalog's ResNet-50 (totals only) is the records' resnet50, as the prediction costs it
    predict = ["predict", "ResNet-50", "--hardware", L4, "--precision", "int8", "--framework", "TensorRT",
               "--format", "json"]
    code, out, err = run(capsys, *predict, "--calibrated")
    assert code == 0, err
    shipped_ms = 1e3 * json.loads(out)["latency_s"]
    records = table(tmp_path / "l4.csv", [(L4, "ResNet-50", "TensorRT", 3 * shipped_ms)])
    out_file = tmp_path / "l4.json"
    code, out, err = run(capsys, "calibrate", records, *MAPPING, "--set", "precision=int8", "--extend-shipped",
                         "--out", out_file)
    assert code == 0, err
    assert not [line for line in err if "known only by totals" in line]
    n_shipped = shipped_rows("mlperf_singlestream")
    assert out.splitlines()[0] == (f"extended the shipped calibration mlperf_singlestream with 1 of your records "
                                   f"({n_shipped} shipped)")
    written = json.loads(out_file.read_text(encoding="utf-8"))
    shipped = json.loads((resources.files("rooflinekit") / "calibrations" / "mlperf_singlestream.json")
                         .read_text(encoding="utf-8"))
    assert written["regime"] == shipped["regime"] and written["n_records"] == n_shipped + 1
    code, out, err = run(capsys, *predict, "--calibration", out_file)
    assert code == 0, err
    assert 1e3 * json.loads(out)["latency_s"] > shipped_ms


def test_records_are_costed_at_the_regimes_batch_and_the_others_left_out_with_why(tmp_path):
    # one record per batch: 128 samples in 90 ms lie in the Offline regime and are costed as its records, 64 samples
    # in 45 ms (90 x 64 / 128); batch 1 belongs to SingleStream and batch 8 to neither: left out, saying so
    records = tmp_path / "gpu.csv"
    records.write_text("hardware,network,precision,batch,framework,latency_s\n"
                       f"{L4},bert-large,int8,128,TensorRT,0.09\n"
                       f"{L4},resnet50,int8,1,TensorRT,0.0012\n"
                       f"{L4},resnet50,int8,8,TensorRT,0.005\n", encoding="utf-8")
    with pytest.warns(CalibrationWarning, match="2 records left out of the calibration"):
        fitted = calibrate_from_paths([records], extend_shipped=True)
    assert fitted.shipped_name_ == "mlperf_inference_gpu"
    mine = fitted.features_.iloc[fitted.n_shipped_:]
    assert len(mine) + len(fitted.left_out_) == 3  # every row read: fitted or left out
    assert (mine.batch.tolist(), mine.latency_s.tolist()) == ([64], [pytest.approx(0.045)])
    assert mine.core_family.tolist() == ["Ada Lovelace"] and mine.device.tolist() == [L4]
    reasons = dict(zip(fitted.left_out_.batch, fitted.left_out_.reason))
    assert reasons[1] == ("batch 1 lies outside the regime of the shipped calibration mlperf_inference_gpu (MLPerf "
                          "Inference Offline: batch 64 or more per accelerator); records of one sample extend "
                          "mlperf_singlestream: calibrate them apart")
    assert reasons[8].startswith("batch 8 lies outside the regime of the shipped calibration mlperf_inference_gpu")


def test_a_qutibench_catalog_network_held_as_totals_joins_its_layer_networks_records(capsys, tmp_path):
    # MobileNetv1 is totals only in the catalog; the QuTiBench calibration's Edge TPU records ran its layer network,
    # MobileNet-v1-1.0-224, and its predictions cost the catalog name as that: a record naming it (in any case) is
    # that network too, not a record left out for want of layers, and a record 2x the estimate moves it up
    predict = ["predict", "MobileNetv1", "--hardware", "EdgeTPU-fast", "--format", "json"]
    code, out, err = run(capsys, *predict, "--calibrated")
    assert code == 0, err
    shipped_ms = 1e3 * json.loads(out)["latency_s"]
    records = table(tmp_path / "tpu.csv", [("EdgeTPU-fast", "MobileNetV1", "TFLite", 2 * shipped_ms)])
    out_file = tmp_path / "tpu.json"
    code, out, err = run(capsys, "calibrate", records, *MAPPING, "--set", "precision=int8", "--extend-shipped",
                         "--out", out_file)
    assert code == 0, err
    assert not [line for line in err if "known only by totals" in line]
    assert out.splitlines()[0] == (f"extended the shipped calibration qutibench_accelerators with 1 of your records "
                                   f"({shipped_rows('qutibench_accelerators')} shipped)")
    fitted = calibrate_from_paths([records], columns={"board": "hardware", "model": "network", "fw": "framework",
                                                      "ms": "latency_s"}, units={"latency_s": "ms"},
                                  constants={"precision": "int8"}, extend_shipped=True)
    assert fitted.features_.network.iloc[-1] == "MobileNet-v1-1.0-224"
    code, out, err = run(capsys, *predict, "--calibration", out_file)
    assert code == 0, err
    assert 1e3 * json.loads(out)["latency_s"] > shipped_ms
