"""A calibrated prediction says when its device lies outside the range of the devices its calibration was fitted on
(issue 10: a sweep of a hypothetical accelerator was labelled calibrated with no word of extrapolation).

Expected ranges are computed here from the calibration's ``devices_`` and the catalog specs, independently of
:mod:`rooflinekit.compare.calibrate.extrapolation`: a ``<name> [GPU only]`` device's peak is read off its catalog
device's engine named GPU, its weight memory as the spec's off-chip level storing weights.
"""

from __future__ import annotations

import warnings

import rooflinekit as rk
from rooflinekit.catalog import get_hardware
from rooflinekit.cli import main
from rooflinekit.compare.calibrate import default_calibration
from rooflinekit.compare.calibrate.extrapolation import device_range_notes
from rooflinekit.descriptors import DType, HardwareSpec
from rooflinekit.display import si
from rooflinekit.errors import CalibrationWarning

SUFFIX = " [GPU only]"


def _peak(name: str, dtype: DType) -> float | None:
    """The peak at ``dtype`` of a calibration device, from the catalog (a GPU-only Jetson: its GPU engine's)."""
    spec = get_hardware(name.removesuffix(SUFFIX))
    peaks = ({e.name: e for e in spec.engines}["GPU"].peak_ops_per_s if name.endswith(SUFFIX)
             else spec.peak_ops_per_s)
    return peaks.get(dtype)


def _bandwidth(name: str, role: str) -> float:
    """Bandwidth (B/s) of the level holding ``role`` tensors: the off-chip one storing them, else the first."""
    levels = [m for m in get_hardware(name.removesuffix(SUFFIX)).memories if role in m.stores]
    return ([m for m in levels if not m.on_chip] or levels)[0].bandwidth_bytes_per_s


def _range(values: list[float]) -> tuple[float, float]:
    return min(values), max(values)


def _predict(network: str, spec: HardwareSpec | str, **kwargs) -> tuple[rk.Prediction, list[str]]:
    """The calibrated prediction and its extrapolation warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prediction = rk.predict(network, spec, calibrated=True, **kwargs)
    return prediction, [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)
                        and "extrapolates beyond the devices" in str(w.message)]


def _extrapolated(prediction: rk.Prediction) -> list[str]:
    """The device's ``extrapolated:`` notes (a network's says ``does ... per kernel``: test_network_extrapolation)."""
    return [note for note in prediction.notes if note.startswith("extrapolated: ") and " lies outside " in note]


def test_a_catalog_gpu_the_calibration_had_gets_no_note():
    prediction, warned = _predict("ResNet-50", "NVIDIA L4", batch=64)
    assert prediction.estimate == "calibrated" and not _extrapolated(prediction) and not warned


def test_ten_times_the_largest_peak_is_named_with_the_range():
    devices = default_calibration("GPU").devices_
    low, high = _range([p for p in (_peak(n, DType.INT8) for n in devices) if p is not None])
    spec = get_hardware("NVIDIA L4").model_copy(update={"name": "Hypo-X", "peak_ops_per_s": {
        "int8": 10 * high, "fp16": 5 * high, "fp32": 1e14}})
    prediction, warned = _predict("ResNet-50", spec, batch=64)
    [note] = _extrapolated(prediction)
    assert (f"int8 peak {si(10 * high, 'OPS')} lies outside the {si(low, 'OPS')} to {si(high, 'OPS')} of the "
            f"{len(devices)} GPUs the calibration was fitted on") in note
    assert "bandwidth" not in note  # the L4's GDDR6 lies within the range
    assert len(warned) == 1 and f"int8 peak {si(10 * high, 'OPS')}" in warned[0] and "Hypo-X" in warned[0]
    # the regime note (batch and traffic) stays: the device is the other axis, which the extrapolation note names
    assert any(n.startswith("within the calibration regime") for n in prediction.notes)


def test_a_bandwidth_below_the_smallest_is_named():
    devices = default_calibration("GPU").devices_
    low, high = _range([_bandwidth(n, "weights") for n in devices])
    l4 = get_hardware("NVIDIA L4")
    memory = l4.memories[0].model_copy(update={"bandwidth_bytes_per_s": low / 2})
    spec = l4.model_copy(update={"name": "Hypo-Slow", "memories": (memory, *l4.memories[1:])})
    prediction, warned = _predict("ResNet-50", spec, batch=64)
    [note] = _extrapolated(prediction)
    assert (f"weight-memory ({memory.name}) bandwidth {si(low / 2, 'B/s')} lies outside the {si(low, 'B/s')} to "
            f"{si(high, 'B/s')} of the {len(devices)} GPUs") in note
    assert "peak" not in note and len(warned) == 1


def test_the_boundary_device_is_inside():
    """[min, max] is closed: the device with the largest int8 peak of the calibration is not extrapolated."""
    calibration = default_calibration("GPU")
    top = max((n for n in calibration.devices_ if not n.endswith(SUFFIX)), key=lambda n: _peak(n, DType.INT8) or 0)
    assert device_range_notes(calibration, get_hardware(top), "int8") == []


def test_an_mcu_beyond_the_cortex_m_boards_is_named():
    """MCU records: Cortex-M boards, int8 peak and the flash the weights are read from (and, as the calibration's
    traffic moves activations, the SRAM)."""
    devices = default_calibration("MCU").devices_
    peak_low, peak_high = _range([p for p in (_peak(n, DType.INT8) for n in devices) if p is not None])
    flash_low, flash_high = _range([_bandwidth(n, "weights") for n in devices])
    board = get_hardware("NUCLEO-L4R5ZI")
    memories = tuple(m.model_copy(update={"bandwidth_bytes_per_s": flash_low / 4}) if "weights" in m.stores else m
                     for m in board.memories)
    spec = board.model_copy(update={"name": "Hypo-MCU", "memories": memories, "peak_ops_per_s": {
        dtype: 10 * peak_high for dtype in board.peak_ops_per_s}})
    prediction, warned = _predict("LeNet-MNIST", spec, precision="int8")
    [note] = _extrapolated(prediction)
    flash = next(m.name for m in memories if "weights" in m.stores)
    assert (f"int8 peak {si(10 * peak_high, 'OPS')} lies outside the {si(peak_low, 'OPS')} to "
            f"{si(peak_high, 'OPS')} of the {len(devices)} MCUs the calibration was fitted on") in note
    assert (f"weight-memory ({flash}) bandwidth {si(flash_low / 4, 'B/s')} lies outside the {si(flash_low, 'B/s')} "
            f"to {si(flash_high, 'B/s')}") in note
    assert "activation-memory" not in note  # the board's SRAM is left as it is, within the boards' range
    assert len(warned) == 1
    inside, warned = _predict("LeNet-MNIST", "NUCLEO-L4R5ZI", precision="int8")
    assert not _extrapolated(inside) and not warned


def test_a_calibration_whose_devices_resolve_nowhere_checks_nothing():
    calibration = default_calibration("GPU")
    calibration.devices_ = ["my-board-from-a-yaml-file", "another one"]
    spec = get_hardware("NVIDIA L4").model_copy(update={"name": "Hypo-X", "peak_ops_per_s": {
        "int8": 1e18, "fp16": 5e17, "fp32": 1e14}})
    assert device_range_notes(calibration, spec, "int8") == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prediction = rk.predict("ResNet-50", spec, batch=64, calibration=calibration)
    assert not _extrapolated(prediction)
    assert not any("extrapolates" in str(w.message) for w in caught)


def test_the_cli_prints_the_note(tmp_path, capsys):
    devices = default_calibration("GPU").devices_
    low, high = _range([p for p in (_peak(n, DType.INT8) for n in devices) if p is not None])
    path = tmp_path / "hypo.yaml"
    path.write_text("hardware:\n  - name: Hypo-Y\n    kind: GPU\n    peak_ops_per_s:\n      int8: 100000 TOPS\n"
                    "      fp16: 50000 TOPS\n    memories:\n      - name: HBM\n        capacity_bytes: 80 GB\n"
                    "        bandwidth_bytes_per_s: 2 TB/s\n        source: t\n    source: t\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["predict", "ResNet-50", "--hardware", str(path), "--calibrated", "--batch", "64"])
    out = capsys.readouterr().out
    assert code in (0, None)
    assert (f"note: extrapolated: int8 peak {si(1e17, 'OPS')} lies outside the {si(low, 'OPS')} to "
            f"{si(high, 'OPS')} of the {len(devices)} GPUs") in out
