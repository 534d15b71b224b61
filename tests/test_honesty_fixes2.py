"""Calibrated predictions on multi-GPU systems, the overhead note of small GPU/CPU bounds, and CLI help and messages.

Expected values are derived by hand or from an independent path (the member device predicted on its own), never
read from the code under test:

- The shipped GPU calibration's records are MLPerf Offline throughput **per accelerator** (system throughput /
  accelerators), so a DGX H100 (8 x H100 SXM5, the spec's peaks and memories being one GPU's) is keyed as
  H100-SXM5-80GB: its calibrated fps and interval are that device's, and its system throughput is 8 x that fps.
- ResNet-50 (QuTiBench totals: 7.72 GOP per frame, weights-only operational intensity 302.71 ops/byte at int8) on an
  NVIDIA L4 (int8 242.5 TOPS, GDDR6 300 GB/s) at batch 1: weights 7.72e9 / 302.71 = 25,503,617 bytes, read in
  25,503,617 / 300e9 = 85.01 us; compute 7.72e9 / 242.5e12 = 31.8 us: the bound is 85 us, below 100 launches of
  5 us (0.5 ms; 85 us is 17 of them). At batch 64 the compute is 64 x 31.8 us = 2.04 ms, above 0.5 ms.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import yaml

import rooflinekit as rk
import rooflinekit.api as api
import rooflinekit.quick as quick
from conftest import full_cli
from rooflinekit import cli
from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate import CalibrationWarning, default_calibration
from rooflinekit.compare.calibrate.inference_offline import member_device

SYSTEMS = {"DGX H100": "H100-SXM5-80GB", "DGX A100 80GB": "A100-SXM4-80GB", "4x H100 PCIe": "H100-PCIe-80GB"}
"""The catalog's multi-GPU systems and the GPU each is made of (their YAML comments: per-GPU figures copied from
these single-GPU entries)."""


def _calibrated(network: str, hardware, **kwargs) -> rk.Prediction:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return rk.predict(network, hardware, calibrated=True, **kwargs)


# -- 1. calibrated predictions on a system of several GPUs --------------------------------------------------------

@pytest.mark.parametrize("system, device", SYSTEMS.items())
def test_member_device_of_each_catalog_system(system, device):
    assert member_device(get_hardware(system)).name == device
    assert member_device(get_hardware(device)) is None  # one device: no member


def test_dgx_h100_calibrated_is_its_gpus_estimate_and_says_how_eight_combine():
    system = _calibrated("ResNet-50", "DGX H100", batch=64)
    gpu = _calibrated("ResNet-50", "H100-SXM5-80GB", batch=64)
    assert system.hardware == "DGX H100"
    assert system.fps == gpu.fps and system.latency_interval_s == gpu.latency_interval_s
    assert "system: H100-SXM5-80GB" in system.calibration_levels
    assert not any("not calibrated" in level and level.startswith("system") for level in system.calibration_levels)
    assert not any("a device no calibration record had" in note for note in system.notes)  # the device's interval
    low, high = gpu.latency_interval_s
    combined = [note for note in system.notes if "holds 8 devices" in note]
    assert len(combined) == 1  # the system note, not also the plain "costs ONE of them" one
    assert "keyed as its device H100-SXM5-80GB" in combined[0]
    assert f"8 x fps = {8 * gpu.fps:,.0f} samples/s" in combined[0]
    assert f"(interval {8 * 64 / high:,.0f} to {8 * 64 / low:,.0f})" in combined[0]


def test_system_keying_warns_no_system_fallback():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rk.predict("ResNet-50", "DGX H100", batch=64, calibrated=True)
    assert not any("DGX H100 not calibrated" in str(w.message) for w in caught)


def test_cli_calibrated_system_prints_the_combination(capsys):
    code, out, _ = full_cli(capsys, ["predict", "ResNet-50", "--hardware", "DGX H100", "--batch", "64", "--calibrated",
                                 "--format", "json"])
    assert code == 0
    system = json.loads(out)
    gpu = _calibrated("ResNet-50", "H100-SXM5-80GB", batch=64)
    assert system["fps"] == pytest.approx(gpu.fps, rel=1e-12)
    assert any(f"8 x fps = {8 * gpu.fps:,.0f} samples/s" in note for note in system["notes"])


def test_a_system_of_an_unknown_device_is_keyed_as_unseen_and_still_says_how_devices_combine(tmp_path):
    spec = get_hardware("DGX H100").model_dump(mode="json", exclude_none=True)
    spec.update(name="8x My GPU", aliases=[], clock_hz=1.5e9)  # no catalog device has this clock
    spec["interconnect"].pop("member")  # a user's system naming no member: the matching rule decides
    path = tmp_path / "my_system.yaml"
    path.write_text(yaml.safe_dump({"hardware": [spec]}), encoding="utf-8")
    assert member_device(api.resolve_hardware(path)) is None
    result = _calibrated("ResNet-50", path, batch=64)
    assert any(level.startswith("system: 8x My GPU not calibrated") for level in result.calibration_levels)
    assert any("8x My GPU is a device no calibration record had" in note for note in result.notes)
    assert any("keyed as a device no record had" in note and f"8 x fps = {8 * result.fps:,.0f}" in note
               for note in result.notes)


def test_a_calibration_without_a_regime_keeps_the_one_device_note_in_python_and_on_the_cli(tmp_path, capsys):
    path = tmp_path / "calibration.json"
    path.write_text(default_calibration("GPU").to_json(), encoding="utf-8")  # the predictor alone: no regime
    one = "this prediction costs ONE of them"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        assert any(one in note for note in rk.predict("ResNet-20-CIFAR-10", "DGX H100", precision="int8", batch=64,
                                                      calibration=path).notes)
    code, out, _ = full_cli(capsys, ["predict", "ResNet-20-CIFAR-10", "--hardware", "DGX H100", "--precision", "int8",
                                 "--batch", "64", "--calibration", str(path), "--format", "json"])
    assert code == 0 and any(one in note for note in json.loads(out)["notes"])


def test_llm_on_a_system_is_not_keyed_by_the_offline_calibration():
    result = rk.llm.predict_llm("Llama-2-7B", "DGX H100", tp=2, prompt=64, generate=2)
    assert result.devices == 2
    assert not any("keyed as its device" in note for note in result.notes)


# -- 2. the overhead note of a small GPU / CPU bound ------------------------------------------------------------------

def test_resnet50_on_l4_at_batch_1_says_overhead_sets_the_latency(capsys):
    p = rk.predict("ResNet-50", "NVIDIA L4")
    assert p.latency_s == pytest.approx(7.72e9 / 302.71 / 300e9, rel=1e-9)  # 85.01 us, weights from GDDR6
    [note] = [n for n in p.notes if n.startswith("overhead: ")]
    assert "the bound is below 500 µs, what 100 kernels take to launch at 5 µs each" in note
    assert "known by totals only (its kernel count unknown)" in note
    code, out, _ = full_cli(capsys, ["predict", "ResNet-50", "--hardware", "NVIDIA L4"])
    assert code == 0 and f"note: {note}" in out.splitlines()


def test_no_note_at_a_batch_whose_bound_is_above_100_launches():
    p = rk.predict("ResNet-50", "NVIDIA L4", batch=64)
    assert p.latency_s == pytest.approx(64 * 7.72e9 / 242.5e12, rel=1e-9)  # 2.04 ms > 0.5 ms
    assert not any(note.startswith("overhead: ") for note in p.notes)


@pytest.mark.parametrize("hardware", ["NVIDIA L4", "Xeon Gold 6226", "Raspberry Pi 4 Model B"])
@pytest.mark.parametrize("batch", [1, 256])
def test_layer_network_note_iff_bound_per_kernel_below_5_us(hardware, batch):
    p = rk.predict("ResNet-20-CIFAR-10", hardware, batch=batch, mode="layer")
    noted = [n for n in p.notes if n.startswith("overhead: ")]
    assert len(noted) == (p.latency_s / p.kernels < 5e-6)
    if noted:
        kind = get_hardware(hardware).kind.value
        assert f"below the 5 µs a {kind} takes to {'launch' if kind == 'GPU' else 'dispatch'} one" in noted[0]


def test_gpu_batch_1_small_cnn_is_noted():
    p = rk.predict("ResNet-20-CIFAR-10", "NVIDIA L4")  # network mode: the same kernels
    assert p.latency_s / p.kernels < 5e-6 and any(n.startswith("overhead: the bound per kernel") for n in p.notes)


@pytest.mark.parametrize("hardware", ["ZCU104-DPU", "NUCLEO-F767ZI"])  # an FPGA and an MCU: no host launches
def test_no_overhead_note_off_gpus_and_cpus(hardware):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = rk.predict("LeNet-MNIST", hardware, precision="int8")
    assert not any(n.startswith("overhead: ") for n in p.notes)


def test_calibrated_predictions_carry_no_overhead_note():
    p = _calibrated("ResNet-50", "NVIDIA L4", batch=64)
    assert not any(n.startswith("overhead: ") for n in p.notes)


def _overhead(notes) -> list[str]:
    return [note for note in notes if note.startswith("overhead: ")]


def test_sweep_rows_carry_the_note_as_predict_does():
    from rooflinekit.roofline import HardwareGrid

    networks, hardware = ["ResNet-50", "ResNet-20-CIFAR-10", "LeNet-MNIST"], ["NVIDIA L4", "Xeon Gold 6226",
                                                                              "ZCU104-DPU"]
    for mode in ("network", "layer"):
        table = rk.sweep(networks, hardware, [None], [1, 64], mode=mode)
        rows = table[table.status == "ok"]
        assert len(rows) >= 12 and any(any(n.startswith("overhead: ") for n in notes) for notes in rows.notes)
        for row in rows.itertuples():  # (layer mode on an aggregate: predict alone says it is network mode)
            expected = rk.predict(row.network, row.hardware, batch=row.batch, mode=mode).notes
            assert tuple(row.notes) == expected or mode == "layer" and _overhead(row.notes) == _overhead(expected)
    # a grid over the L4's bandwidth: 30 GB/s to 3 TB/s puts ResNet-50's batch-1 bound on both sides of 0.5 ms
    grid = HardwareGrid.of(get_hardware("NVIDIA L4"), bandwidth_bytes_per_s={"GDDR6": [30e9, 300e9, 3e12]})
    table = rk.sweep(["ResNet-50"], [grid], [None], [1])
    for point, notes in zip(table.grid_point, table.notes):
        assert tuple(notes) == rk.predict("ResNet-50", grid.spec(int(point))).notes
    assert [any(n.startswith("overhead: ") for n in notes) for notes in table.notes] == [False, True, True]


@pytest.mark.filterwarnings("ignore::rooflinekit.api.CapacityWarning")  # the misfits are the notes of their own
def test_sweep_rows_with_notes_of_their_own_get_the_note_after_them():
    from rooflinekit import HardwareSpec

    spill = HardwareSpec(  # a GPU whose 50 kB cache streams the weights from DRAM: a spill note on every row
        name="spill-gpu", kind="GPU", source="test", peak_ops_per_s={"fp32": 1e13},
        memories=[{"name": "cache", "capacity_bytes": 5e4, "bandwidth_bytes_per_s": 1e12, "on_chip": True,
                   "stores": ["weights", "activations"], "spill_to": "DRAM", "source": "test"},
                  {"name": "DRAM", "capacity_bytes": 4e9, "bandwidth_bytes_per_s": 1e11, "stores": [],
                   "source": "test"}])
    table = rk.sweep(["ResNet-20-CIFAR-10", "LeNet-MNIST"], [spill], [None], [1, 4096])
    for row in table.itertuples():
        expected = rk.predict(row.network, spill, batch=row.batch).notes
        assert tuple(row.notes) == expected
    noted = [len(notes) > 1 and notes[-1].startswith("overhead: ") for notes in table.notes]
    assert noted[0] and noted[2] and not noted[1]  # batch 1 noted after the spill note; ResNet-20 at 4096 not


@pytest.mark.parametrize("output", ["table", "json", "csv"])
def test_quick_path_gives_the_note_as_the_full_path_does(capsys, output):
    argv = ["predict", "ResNet-50", "--hardware", "NVIDIA L4", "--format", output]
    answer = quick.quick_prediction(argv)
    assert answer is not None and len(answer.prediction["notes"]) == 1
    assert answer.prediction["notes"] == rk.predict("ResNet-50", "NVIDIA L4").notes
    assert cli.main(argv) == 0
    assert capsys.readouterr() == full_cli(capsys, argv)[1:]
    at_64 = quick.quick_prediction(["predict", "ResNet-50", "--hardware", "NVIDIA L4", "--batch", "64"])
    assert at_64 is not None and at_64.prediction["notes"] == ()


def test_overhead_rule_by_hand():
    # per kernel: 4.99 us < 5 us noted, 5 us not; aggregate: below 100 x 5 us = 500 us noted
    assert quick.overhead_note("GPU", 24 * 4.99e-6, 24) is not None
    assert quick.overhead_note("GPU", 24 * 5e-6, 24) is None
    assert quick.overhead_note("CPU", 499e-6, None) is not None
    assert quick.overhead_note("CPU", 500e-6, None) is None
    assert quick.overhead_note("NPU", 1e-9, 1) is None
    assert quick.overhead_note("GPU", math.nan, None) is None
    assert quick.overhead_note("GPU", 1e-6, 0) is None  # no kernel: nothing launched


# -- 3. CLI help and messages ----------------------------------------------------------------------------------------

def test_calibrate_help_says_records_and_models_name_model_files_by_path(capsys):
    assert cli.main(["calibrate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "A record's network may be a model file (ad01_int8.tflite), read relative to the working folder" in text
    assert "a record names one by path, by its stem" in text


def _my_l4(folder: Path) -> Path:
    spec = get_hardware("NVIDIA L4").model_dump(mode="json", exclude_none=True)
    spec.update(name="My L4", aliases=[])
    path = folder / "my_l4.yaml"
    path.write_text(yaml.safe_dump({"hardware": [spec]}), encoding="utf-8")
    return path


def test_align_reads_a_hardware_file_once_and_keeps_its_path(tmp_path, monkeypatch, capsys):
    _my_l4(tmp_path)
    (tmp_path / "records.csv").write_text("hardware,network,precision,batch,latency_s\n"
                                          "my_l4.yaml,ResNet-50,int8,1,0.001\n"
                                          "my_l4.yaml,MobileNetv1,int8,1,0.0005\n"
                                          "missing.yaml,ResNet-50,int8,1,0.001\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    reads: list[str] = []
    real = api.load_hardware_file

    def counting(path, *args, **kwargs):
        reads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(api, "load_hardware_file", counting)
    code, out, _ = full_cli(capsys, ["align", "records.csv", "--format", "json"])
    assert code == 0
    assert reads.count("my_l4.yaml") == 1  # read once (was twice: the predictions, then align); a missing file
    # is no spec to keep, so each step that resolves it tries it
    result = json.loads(out)
    assert [(m["hardware"], m["predicted_hardware"]) for m in result["matched"]] == [("my_l4.yaml", "my_l4.yaml")] * 2
    # ResNet-50 on the L4's copy: 1,000 fps measured against the 11,763 fps bound of 85.01 us
    assert result["matched"][0]["efficiency_pct"] == pytest.approx(100 * 1000 * 7.72e9 / 302.71 / 300e9, rel=1e-9)
    [unmatched] = result["unmatched_records"]
    assert unmatched["hardware"] == "missing.yaml" and "hardware file 'missing.yaml'" in unmatched["reason"]


def test_align_warns_of_a_record_faster_than_its_bound_by_the_records_own_hardware_name(tmp_path, monkeypatch,
                                                                                       capsys):
    _my_l4(tmp_path)
    # 10 us measured against the 85.01 us bound of ResNet-50 on the L4's copy: 8.5x faster
    (tmp_path / "fast.csv").write_text("hardware,network,precision,batch,latency_s\n"
                                       "my_l4.yaml,ResNet-50,int8,1,0.00001\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = full_cli(capsys, ["align", "fast.csv"])
    said = [line for line in err.splitlines() if "measured faster than the roofline bound" in line]
    assert code == 0 and len(said) == 1
    assert "(first: fast.csv:2: my_l4.yaml / ResNet-50: measured 10 µs < bound 85 µs, 8.5x faster)" in said[0]


@pytest.mark.parametrize("row, advice, not_advised", [
    ("NVIDIA L4,,0.001", "--set COLUMN=VALUE", "--units"),                   # a required cell missing
    ("NVIDIA L4,ResNet-50,3 parsec", "--units COLUMN=UNIT", "--set"),        # no readable unit
    ("NVIDIA L4,ResNet-50,-1", "fix those rows", "--units"),                 # a negative latency: no option helps
])
def test_no_usable_record_advises_what_fits_the_reasons(tmp_path, capsys, row, advice, not_advised):
    table = tmp_path / "records.csv"
    table.write_text(f"hardware,network,latency_s\n{row}\n", encoding="utf-8")
    code, _, err = full_cli(capsys, ["align", str(table)])
    message = " ".join(err.split())
    assert code == 2 and "no usable record, the one row was rejected" in message
    assert advice in message and not_advised not in message.split("rejected (reasons in the warning);")[1]
