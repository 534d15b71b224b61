"""A NAS researcher's trial: NAS-Bench-201 latencies measured on their own CPUs (a table naming each network by its
architecture string), calibrated, and used to predict and rank other architectures."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from conftest import shared_data
from nb201_measured import ARCH, CONSTANT, MEASURED, measured_records, write_table
from rooflinekit.cli import main
from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning, calibration_features, network_index
from rooflinekit.compare.calibrate.features import faster_than_bound
from rooflinekit.networks import nb201_network
from rooflinekit.networks.nb201 import nb201_arch_of, nb201_constant_output


def roofline_by_hand(arch: str, peak: float = 48e9, bandwidth: float = 12.8e9,
                     precision: str | None = None) -> tuple[float, int]:
    """Layer-mode roofline (s) and kernel count of ``arch`` (default on the Raspberry Pi 4: fp32 48 GOPS, LPDDR4
    12.8 GB/s; weights and activations moved): sum over layers of max(ops / peak, bytes / bandwidth), from the
    counts at ``precision``."""
    layers = rk.count_network(nb201_network(arch), precision=precision).layers
    moved = layers.weight_bytes + layers.input_bytes + layers.output_bytes
    times = np.maximum(layers.ops / peak, moved / bandwidth)
    return float(times.sum()), int((times > 0).sum())


# -- architecture strings as record networks --------------------------------------------------------------------

def test_arch_of_reads_both_spellings_and_nothing_else() -> None:
    assert nb201_arch_of(ARCH) == ARCH
    assert nb201_arch_of(f"  {ARCH} ") == ARCH
    assert nb201_arch_of(f"NB201 {ARCH}") == ARCH
    assert nb201_arch_of("ResNet-50") is None
    assert nb201_arch_of("vww_96_int8.tflite") is None
    assert nb201_arch_of(3.5) is None


def test_features_of_architecture_strings_equal_the_roofline_by_hand() -> None:
    records = pd.DataFrame([{"hardware": "Raspberry Pi 4", "network": spelled, "precision": "fp32", "batch": 1,
                             "latency_s": 0.03} for spelled in (ARCH, f"NB201 {ARCH}", f" {ARCH} ")])
    features, skipped = calibration_features(records, {}, op_classes="fine")
    assert skipped.empty
    bound, kernels = roofline_by_hand(ARCH)
    assert features["roofline_latency_s"].to_numpy() == pytest.approx([bound] * 3, rel=1e-12)
    assert features["kernels"].tolist() == [kernels] * 3
    assert features["network"].tolist() == [ARCH] * 3  # every spelling is one network, named as the tables do


def test_many_architectures_on_two_devices_and_two_precisions_each_equal_the_roofline_by_hand() -> None:
    """Costed together (one union of layers per hardware, batch and precision), each record still gets its own
    network's sums: Raspberry Pi 4 fp32 (48 GOPS, 12.8 GB/s), Pixel 3 fp32 (179.2 GOPS, 29.9 GB/s) and int8
    (716.8 GOPS)."""
    devices = {("raspi4", "fp32"): (48e9, 12.8e9), ("pixel3", "fp32"): (179.2e9, 29.9e9),
               ("pixel3", "int8"): (716.8e9, 29.9e9)}
    records = pd.DataFrame([{"hardware": device, "network": arch, "precision": precision, "latency_s": 0.01}
                            for arch, _, _ in MEASURED for device, precision in devices])
    features, skipped = calibration_features(records, {}, op_classes="fine")
    assert skipped.empty and features["network"].tolist() == records["network"].tolist()
    expected = [roofline_by_hand(arch, *devices[(device, precision)], precision)
                for arch, device, precision in zip(records["network"], records["hardware"], records["precision"])]
    assert features["roofline_latency_s"].to_numpy() == pytest.approx([bound for bound, _ in expected], rel=1e-12)
    assert features["kernels"].tolist() == [kernels for _, kernels in expected]
    classes = [c for c in features.columns if c.startswith("roofline_s:")]
    assert features[classes].sum(axis=1).to_numpy() == pytest.approx(features["roofline_latency_s"].to_numpy(),
                                                                      rel=1e-12)
    assert {c.split("/")[-1] for c in classes} == {"fp32", "int8"}


def test_misspelt_architecture_is_left_out_naming_the_op() -> None:
    records = pd.DataFrame([{"hardware": "Raspberry Pi 4", "network": network, "precision": "fp32", "latency_s": 0.03}
                            for network in (ARCH.replace("nor_conv_1x1", "conv_1x1"), ARCH)])
    features, skipped = calibration_features(records, {})
    assert features["network"].tolist() == [ARCH]  # its neighbour is costed all the same
    assert features["roofline_latency_s"].iloc[0] == pytest.approx(roofline_by_hand(ARCH)[0], rel=1e-12)
    assert len(skipped) == 1 and "unknown op 'conv_1x1'" in skipped["reason"].iloc[0]


def test_an_index_of_nb201_networks_answers_to_their_architecture_strings() -> None:
    records = pd.DataFrame([{"hardware": "Raspberry Pi 4", "network": ARCH, "precision": "fp32", "latency_s": 0.03}])
    features, skipped = calibration_features(records, network_index([nb201_network(ARCH)]))
    assert skipped.empty and features["network"].tolist() == [ARCH]


def test_cli_calibrates_a_table_of_architecture_strings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = write_table(tmp_path / "measured.csv")
    out = tmp_path / "calib.json"
    code = main(["calibrate", str(table), "--columns", "arch=network,device=hardware,latency_ms=latency_s",
                 "--units", "latency_s=ms", "--set", "precision=fp32", "--out", str(out), "--format", "json",
                 "--quiet"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_records"] == 16 and report["n_left_out"] == 0
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(saved["networks"]) == sorted(f"CPU | {arch}" for arch, _, _ in MEASURED)


def test_a_measured_architecture_predicted_from_its_network_is_a_known_network(tmp_path: Path) -> None:
    """``rk.predict(nb201_network(arch), calibration=...)`` of an architecture the records named takes the interval
    of a known network (the depth quantiles), not the wider one of a network the calibration never saw."""
    records = measured_records()
    features, _ = calibration_features(records, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        calibration = CalibratedPredictor().fit(features)
        assert calibration.novel_network_  # a new network would get an interval of its own
        p = rk.predict(nb201_network(MEASURED[0][0]), "Raspberry Pi 4", calibration=calibration)
    depth = 0  # every level of the Raspberry Pi 4's records is calibrated (no stack named: <unknown> throughout)
    low, high = calibration.residual_quantiles_[depth]
    assert p.latency_interval_s == pytest.approx((p.latency_s * np.exp(low), p.latency_s * np.exp(high)), rel=1e-9)


# -- classes without time -----------------------------------------------------------------------------------------

def synthetic(rows: int, movement: float) -> pd.DataFrame:
    """Features of one CPU: conv time 1..rows ms measured at 3x, and a movement column (s) on every row."""
    conv = np.arange(1, rows + 1) * 1e-3
    return pd.DataFrame({"hardware": "cpu", "network": [f"n{i}" for i in range(rows)], "catalog_hardware": "cpu",
                         "hardware_class": "CPU", "core_family": "A", "latency_s": 3 * conv,
                         "roofline_s:conv/fp32": conv, "roofline_s:movement/fp32": movement})


def test_a_class_with_no_time_is_no_uncalibrated_class() -> None:
    """A class whose roofline time is 0 on every row (a flatten's) is fitted as nothing and scales nothing: predicting
    those rows must not warn that no record had it. Every latency is 3x its conv time, so the prediction is 3x."""
    features = synthetic(12, 0.0)
    calibration = CalibratedPredictor(interval_coverage=None).fit(features)
    assert calibration.classes_ == ["conv/fp32"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        predicted = calibration.predict(features)
    assert predicted == pytest.approx(3 * features["roofline_s:conv/fp32"].to_numpy(), rel=1e-6)
    with pytest.warns(CalibrationWarning, match="no calibration record had movement/fp32"):
        calibration.predict(synthetic(2, 1e-3))  # time in that class: scaled by exp(theta0) = 3, and said


# -- NAS-Bench-201 cells whose output is a constant ---------------------------------------------------------------

@pytest.mark.parametrize(("arch", "constant"), [
    (CONSTANT, True),  # node 1 gets nothing, so nodes 2 and 3 see only what grew from zeros
    ("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|", True),  # node 3: none from every node
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|", False),  # 0 -> 1 -> 3
    ("|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|", False),  # 0 -> 3 directly
    (ARCH, False),
])
def test_constant_output_follows_the_edges(arch: str, constant: bool) -> None:
    assert nb201_constant_output(arch) is constant


def test_constant_output_cells_are_the_fast_tflite_records() -> None:
    """In HW-NAS-Bench's TFLite latencies, the networks of constant cells run in a median under 1 % of the others'
    latency on both devices: a compiler folded most of them."""
    data = pd.read_csv(shared_data("nb201") / "latency.csv.gz", usecols=["arch_str", "raspi4_ms", "pixel3_ms"])
    constant = data["arch_str"].map(nb201_constant_output)
    assert constant.sum() == 266
    for device in ("raspi4_ms", "pixel3_ms"):
        assert data.loc[constant, device].median() < data.loc[~constant, device].median() / 100


def test_faster_than_bound_names_constant_cells_as_the_cause() -> None:
    bound, _ = roofline_by_hand(CONSTANT)
    features = pd.DataFrame([{"hardware": "Raspberry Pi 4", "network": CONSTANT, "latency_s": bound / 4,
                              "roofline_latency_s": bound, "source": "measured.csv:7"}])
    message = faster_than_bound(features)
    assert message is not None and "measured.csv:7" in message
    assert "1 of them is a NAS-Bench-201 network whose cells' output does not depend on their input" in message
    other = features.assign(network=ARCH)
    assert "NAS-Bench-201" not in faster_than_bound(other)  # type: ignore[operator]


# -- plots of calibrated predictions -----------------------------------------------------------------------------

def bars(estimates: list[str] | None) -> list[str]:
    """The legend entries of plot_efficiency on two rows whose predictions were made as ``estimates``."""
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import plot_efficiency

    frame = pd.DataFrame({"hardware": ["Raspberry Pi 4", "Pixel 3"], "network": [ARCH, ARCH],
                          "precision": ["fp32", "fp32"], "predicted_fps": [30.0, 80.0], "measured_fps": [33.0, 70.0]})
    if estimates is not None:
        frame["predicted_estimate"] = estimates
    return [c.get_label() for c in plot_efficiency(frame).axes[0].containers]


def test_efficiency_bars_name_calibrated_predictions_as_such() -> None:
    assert bars(["calibrated", "calibrated"]) == ["predicted (calibrated)", "measured"]
    assert bars(["bound", "calibrated"]) == ["predicted (roofline or calibrated)", "measured"]
    assert bars(["bound", "bound"]) == ["predicted (roofline)", "measured"]
    assert bars(None) == ["predicted (roofline)", "measured"]


def test_measured_vs_predicted_counts_errors_and_coverage_per_group() -> None:
    pytest.importorskip("matplotlib")
    from rooflinekit.errors import RooflineWarning
    from rooflinekit.plots._common import PlotError
    from rooflinekit.plots.efficiency import plot_measured_vs_predicted

    # Pi: APEs |10/8 - 1| = 25 %, |20/25 - 1| = 20 %, |30/30 - 1| = 0 % -> median 20 %; inside: 8 in [9, 11]? no,
    # 25 in [15, 26] yes, 30 in [25, 35] yes -> 67 %. Pixel: one drawable row, |4/5 - 1| = 20 %, inside -> 100 %;
    # its second row has no measurement: not drawn, not counted, warned.
    frame = pd.DataFrame({"hardware": ["Pi", "Pi", "Pi", "Pixel", "Pixel"],
                          "predicted_s": [10.0, 20.0, 30.0, 4.0, 3.0], "measured_s": [8.0, 25.0, 30.0, 5.0, np.nan],
                          "low_s": [9.0, 15.0, 25.0, 3.0, 2.0], "high_s": [11.0, 26.0, 35.0, 6.0, 4.0]})
    with pytest.warns(RooflineWarning, match="1 of 5 rows not drawn nor counted"):
        fig = plot_measured_vs_predicted(frame, low="low_s", high="high_s")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["Pi: n 3, median APE 20.0 %, 67 % inside the interval",
                      "Pixel: n 1, median APE 20.0 %, 100 % inside the interval", "measured = predicted"]
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"
    with pytest.raises(PlotError, match="both ends of the interval"):
        plot_measured_vs_predicted(frame, low="low_s")


# -- how far a new device is off ----------------------------------------------------------------------------------

def test_held_out_errors_of_a_new_device_are_those_of_leaving_each_device_out() -> None:
    """The calibration's own cross-validation says how far a device it never saw is off: each of the two devices
    predicted from the other one alone, as done here by hand, gives the 'a new device' row; every record is held
    out once in a network fold, the 'a new network on known devices' row."""
    records = measured_records()
    features, _ = calibration_features(records, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        calibration = CalibratedPredictor().fit(features)
        ape = []
        for device in features["catalog_hardware"].unique():
            held = features["catalog_hardware"] == device
            alone = CalibratedPredictor(interval_coverage=None).fit(features[~held])
            ape += list(100 * np.abs(alone.predict(features[held]) / features.loc[held, "latency_s"] - 1))
    errors = calibration.held_out_errors_.set_index("held_out")
    assert errors.loc["a new device", "n"] == 16
    assert errors.loc["a new device", "median_ape_pct"] == pytest.approx(np.median(ape), rel=1e-9)
    assert errors.loc["a new device", "within_25_pct"] == pytest.approx(100 * np.mean(np.array(ape) <= 25))
    assert errors.loc["a new network on known devices", "n"] == 16
    assert CalibratedPredictor(interval_coverage=None).fit(features).held_out_errors_.empty
