"""The FPGA / TPU / VPU calibration (rooflinekit/calibrations/qutibench_accelerators.json): the QuTiBench records it
is fitted on (every row accounted for), its selection by hardware class, a calibrated prediction of a QuTiBench
catalog network held as totals only (costed as the layer network the records ran), and its rebuild byte for byte
by tools/build_qutibench_calibration.py.

Expected values are derived next to each assertion: row counts from the loader's own output, the selection rule
from the classes the calibration's records are of, the layer networks from what QuTiBench names them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import rooflinekit as rk
from conftest import assert_build_gives_shipped_files, benchmark_module, shared_data
from rooflinekit.compare.calibrate import (
    CalibrationWarning, calibration_features, default_calibration, default_features, extend_default_calibration,
)
from rooflinekit.compare.calibrate.defaults import QUTIBENCH_NAME, shipped_name
from rooflinekit.compare.calibrate.regime import records_layer_network, regime_of
from rooflinekit.compare.loaders import load_qutibench
from rooflinekit.descriptors import HardwareSpec, LayerNetwork
from rooflinekit.errors import CalibrationError


def _quiet_predict(*args, **kwargs) -> rk.Prediction:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # levels that fall back: asserted through the levels
        return rk.predict(*args, **kwargs)


def _dsp() -> HardwareSpec:
    """A DSP board (a class no calibration ships for): the Ultra96-DPU's spec with kind DSP."""
    return HardwareSpec.model_validate({**rk.get_hardware("Ultra96-DPU").model_dump(exclude_none=True),
                                        "name": "DSP board", "kind": "DSP"})


# ------------------------------------------------------------------------------------------- the records

def test_every_loaded_row_is_costed_or_left_out_with_a_reason():
    folder = shared_data("qutibench")
    fidelity = benchmark_module("fidelity/qutibench.py", "qutibench_fidelity")
    loaded = load_qutibench(folder)
    features, left_out = fidelity.load_features(folder)
    costed = features["weights_only"]
    # each traffic costs the same rows
    assert costed.index.equals(features["weights_and_activations"].index)
    # conservation: every record the loader read and every row it rejected, once
    assert len(costed) + len(left_out) == len(loaded.records) + len(loaded.rejected)
    assert left_out["reason"].str.len().gt(0).all()
    records = loaded.records
    # the TX2 (GPU) and the A53 (CPU) rows are left out whole: their classes have calibrations of their own
    gpu_cpu = records.hardware.str.startswith("TX2") | (records.hardware == "U96-Quadcore-A53")
    assert left_out.reason.str.startswith("hardware class GPU").sum() == records.hardware.str.startswith("TX2").sum()
    assert left_out.reason.str.startswith("hardware class CPU").sum() == (records.hardware == "U96-Quadcore-A53").sum()
    # the pruned ResNet-50 variants: totals only, left out, none costed
    pruned = (records.network == "ResNet-50") & (records.pruning_pct < 100)
    assert left_out.reason.str.contains("known by totals only").sum() == pruned.sum() > 0
    # what is costed: every other record, each the time of one batch at its own batch
    assert len(costed) == len(records) - gpu_cpu.sum() - pruned.sum()
    assert set(costed.hardware_class) == {"FPGA", "TPU", "VPU"}
    assert (costed.latency_s * costed.throughput_fps).to_numpy() == pytest.approx(costed.batch.to_numpy(), rel=1e-12)


def test_pruned_cnv_rows_are_the_catalog_layer_network_of_their_pruning():
    folder = shared_data("qutibench")
    fidelity = benchmark_module("fidelity/qutibench.py", "qutibench_fidelity")
    costed = fidelity.load_features(folder)[0]["weights_only"]
    rows = costed[(costed.base_network == "CNV") & (costed.pruning_pct == 50)]
    assert set(rows.network) == {"FINN-CNV 50%"}
    # CNV at 50 % keeps half the channels of every hidden layer: about a quarter of the MACs of CNV 100 %
    full = costed[(costed.base_network == "CNV") & (costed.pruning_pct == 100)].macs.iloc[0] / \
        costed[(costed.base_network == "CNV") & (costed.pruning_pct == 100)].batch.iloc[0]
    half = rows.macs.iloc[0] / rows.batch.iloc[0]
    assert 0.2 < half / full < 0.3


# ------------------------------------------------------------------------------------------- selection

@pytest.mark.parametrize("hardware", ["ZCU104-DPU", "ZCU104-FINN", "EdgeTPU-fast", "EdgeTPU-slow", "NCS"])
def test_fpga_tpu_and_vpu_get_the_qutibench_calibration(hardware):
    spec = rk.get_hardware(hardware)
    assert shipped_name(spec) == QUTIBENCH_NAME
    calibration = default_calibration(spec)
    # its records are of these three classes, each device of them once in its devices
    assert calibration.hardware_classes_ == ["FPGA", "TPU", "VPU"] and spec.name in calibration.devices_
    assert regime_of(calibration) is None  # each record at its own batch: nothing to scale


def test_a_dsp_is_still_refused_naming_the_shipped_classes():
    with pytest.raises(CalibrationError, match=r"no calibration for hardware class DSP \(DSP board\).*shipped: .*"
                                               r"FPGA \(QuTiBench.*TPU \(QuTiBench, Edge TPU\), VPU \(QuTiBench"):
        rk.predict("LeNet-MNIST", _dsp(), "int8", calibrated=True)
    with pytest.raises(CalibrationError, match="no calibration for hardware class DSP"):
        default_calibration("DSP")


# ------------------------------------------------------------------------------------------- predictions

def test_a_catalog_aggregate_is_costed_as_the_layer_network_the_records_ran():
    result = _quiet_predict("GoogLeNetv1", hardware="EdgeTPU-fast", calibrated=True)
    assert result.estimate == "calibrated" and result.network == "GoogLeNet-v1"
    low, high = result.latency_interval_s
    assert low < result.latency_s < high
    assert result.calibration_levels and "system: EdgeTPU-fast" in result.calibration_levels
    assert any(note.startswith("GoogLeNetv1: the catalog entry holds totals only; costed per layer as GoogLeNet-v1")
               for note in result.notes)
    # the Edge TPU records all ran slower than their roofline (QuTiBench: 2-25x), so does the estimate
    records = default_features("TPU")
    tpu = records[records.hardware_class == "TPU"]
    assert len(tpu) == 10 and (tpu.latency_s > tpu.roofline_latency_s).all()
    assert result.latency_s > result.bound_latency_s


def test_a_query_naming_no_stack_takes_the_one_stack_its_device_ran():
    # every Edge TPU record ran TFLite (the calibration's device_stacks_): a query naming none is keyed as TFLite, a
    # device it knows under a stack it knows, so every level is calibrated and its interval is that of a
    # known device, the same as when TFLite is named
    given = _quiet_predict("GoogLeNetv1", hardware="EdgeTPU-fast", calibrated=True, framework="TFLite")
    default = _quiet_predict("GoogLeNetv1", hardware="EdgeTPU-fast", calibrated=True)
    assert default_calibration("TPU").device_stacks_["EdgeTPU-fast"] == "TFLite"
    assert not [level for level in default.calibration_levels if "not calibrated" in level]
    assert default.latency_s == pytest.approx(given.latency_s, rel=1e-12)
    assert default.latency_interval_s == pytest.approx(given.latency_interval_s, rel=1e-12)
    assert "framework: TFLite (no stack given: the one stack every record of the device ran: EdgeTPU-fast)" \
        in default.calibration_levels
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # no level fell back: nothing to warn of
        rk.predict("GoogLeNetv1", hardware="EdgeTPU-fast", calibrated=True)


def test_a_pruned_network_known_by_totals_only_is_refused_in_one_line():
    with pytest.raises(CalibrationError, match=r"^ResNet-50 80% is an aggregate network \(totals only\); "
                                               r"calibration needs per-layer costs"):
        rk.predict("ResNet-50 80%", hardware="ZCU104-DPU", calibrated=True)


def test_resnet50_is_v1_for_the_qutibench_calibration_and_v1_5_for_mlperf():
    dpu = _quiet_predict("ResNet-50", hardware="ZCU104-DPU", calibrated=True, framework="DNNDK")
    assert dpu.network == "ResNet-50-v1" and "framework: Vitis AI" in dpu.calibration_levels  # DNNDK's family
    gpu = _quiet_predict("ResNet-50", hardware="NVIDIA L4", batch=64, calibrated=True, framework="TensorRT")
    assert gpu.network == "ResNet-50-v1.5"


def test_the_cli_predicts_a_qutibench_network_on_an_fpga(capsys):
    from rooflinekit.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        assert main(["predict", "CNV 50%", "--hardware", "ZCU104-FINN", "--precision", "int2", "--calibrated",
                     "--framework", "FINN"]) in (0, None)
    out = capsys.readouterr().out
    assert "costed per layer as FINN-CNV 50%" in out and "calibration level: system: ZCU104-FINN" in out


def test_aggregates_without_a_layer_network_or_records_stay_as_they_are():
    calibration = default_calibration("FPGA")
    pruned = rk.get_network("ResNet-50 80%")  # no layer structure of it is published: stays an aggregate
    assert records_layer_network(pruned, calibration) == (pruned, None)
    cnv = rk.get_network("CNV")  # the MCU calibration's records never ran FINN-CNV
    assert records_layer_network(cnv, default_calibration("MCU")) == (cnv, None)
    layered, note = records_layer_network(cnv, calibration)
    assert isinstance(layered, LayerNetwork) and layered.name == "FINN-CNV" and "CNV" in note


def test_fpga_records_extend_the_shipped_calibration():
    records = pd.DataFrame([{"hardware": "Ultra96-DPU", "network": "LeNet-MNIST", "precision": "int8", "batch": 1,
                             "framework": "Vitis AI", "latency_s": 1e-3}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        features, skipped = calibration_features(records, {}, traffic=default_calibration("FPGA").traffic)
        extended = extend_default_calibration(features)
    assert skipped.empty
    assert extended.n_records_ == len(default_features("FPGA")) + 1


# ------------------------------------------------------------------------------------------- the build

def test_the_build_gives_the_shipped_files_byte_for_byte(tmp_path: Path):
    """One build from ../shared/data equals the committed files: the build is deterministic and the shipped files
    are what it makes."""
    assert_build_gives_shipped_files("build_qutibench_calibration.py", QUTIBENCH_NAME, tmp_path,
                                     "--data", shared_data("qutibench"))


def test_the_transfer_benchmark_predicts_or_accounts_for_every_record():
    folder = shared_data("qutibench")
    transfer = benchmark_module("fidelity/transfer.py", "transfer_fidelity")
    loaded = load_qutibench(folder)
    rows, left_out = transfer.predictions(folder, devices=["U96-Quadcore-A53"])
    assert len(rows) + len(left_out) == len(loaded.records) + len(loaded.rejected)
    assert len(rows) == (loaded.records.hardware == "U96-Quadcore-A53").sum() > 0
    assert ((rows.low <= rows.calibrated) & (rows.calibrated <= rows.high)).all()
    assert (rows.calibrated > rows.roofline).all()  # a calibrated CPU estimate is slower than its bound here
