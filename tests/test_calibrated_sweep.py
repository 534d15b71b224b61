"""``rk.sweep(..., calibrated=True)``: each calibrated row is ``rk.predict(..., calibrated=True)`` under its names."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare.calibrate import CalibrationWarning, default_calibration
from rooflinekit.compare.calibrate.sweep import CALIBRATED_COLUMNS, COSTING_COLUMNS
from rooflinekit.errors import CalibrationError, RooflineError, RooflineWarning, SpecError
from rooflinekit.roofline import Best, HardwareGrid

NETWORKS = ["ResNet-20-CIFAR-10", "ResNet-50", "LeNet-MNIST"]
HARDWARE = ["NUCLEO-F767ZI", "NVIDIA L4", "Cloud AI 100 Pro", "Xeon Gold 6226"]  # MCU, GPU, NPU, CPU
BATCHES = [1, 2, 64, 128]
RTOL = 1e-12  # the sweep sums the op classes of many rows at once: equal to predict's to rounding


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rk.sweep(NETWORKS, HARDWARE, [None], BATCHES, calibrated=True)
    return table, list(caught)


def _predicted(row: pd.Series, **options: object) -> rk.Prediction:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rk.predict(row["network"], row["hardware"], batch=int(row["batch"]), calibrated=True, **options)


def _assert_row_is_prediction(row: pd.Series, p: rk.Prediction) -> None:
    """The row says each quantity of the prediction under its name; the interval in two columns."""
    assert p.estimate == "calibrated" and row.estimate == "calibrated"
    low, high = p.latency_interval_s
    np.testing.assert_allclose([row.latency_s, row.fps, row.latency_interval_low_s, row.latency_interval_high_s,
                                row.bound_latency_s, row.attainable_ops_per_s],
                               [p.latency_s, p.fps, low, high, p.bound_latency_s, p.attainable_ops_per_s], rtol=RTOL)
    assert row.calibration_levels == p.calibration_levels
    assert row.precision == p.precision
    for column in COSTING_COLUMNS:  # the layer-mode roofline the estimate scales, as predict costs it
        expected = getattr(p, column)
        if column == "engines":  # a grid sweep names a point's engines as its template's (so does a plain one)
            expected = tuple(name.split("[")[0] for name in expected)
        if isinstance(expected, (int, float)) and not isinstance(expected, bool):
            assert row[column] == pytest.approx(expected, rel=RTOL), column
        else:  # text, flags and tuples compare exactly
            assert row[column] == expected, column


def test_every_row_is_predicts_calibrated_estimate_or_keeps_the_bound(mixed):
    table, _ = mixed
    assert len(table) == len(NETWORKS) * len(HARDWARE) * len(BATCHES)
    calibrated = table[table.estimate == "calibrated"]
    # MCU: 2 layer networks (ResNet-50 is totals only, which the MCU calibration's traffic cannot cost); GPU and
    # NPU: all 3 (ResNet-50 costed as MLPerf's layer network); CPU: the 2 layer networks (the eager-latency
    # calibration, no regime: ResNet-50 stays totals only)
    assert len(calibrated) == (2 + 3 + 3 + 2) * len(BATCHES)
    for _, row in table.iterrows():
        if row.estimate == "calibrated":
            _assert_row_is_prediction(row, _predicted(row))
            continue
        assert row.estimate == "bound"
        assert row[list(CALIBRATED_COLUMNS)].isna().all()
        assert any(note.startswith("not calibrated: ") for note in row.notes)
        with pytest.raises(RooflineError):  # predict refuses what the sweep keeps at the bound
            _predicted(row)


def test_rows_kept_at_the_bound_are_the_plain_sweeps(mixed):
    """A row that is not calibrated is the plain sweep's row; a calibrated one differs from it only in the columns
    of the prediction (the estimate and the layer-mode roofline it scales)."""
    table, _ = mixed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = rk.sweep(NETWORKS, HARDWARE, [None], BATCHES)
    bound = (table.estimate == "bound").to_numpy()
    same = [c for c in plain.columns if c not in ("estimate", "notes")]
    pd.testing.assert_frame_equal(table.loc[bound, same].astype(object), plain.loc[bound, same].astype(object))
    changed = {"latency_s", "fps", "attainable_ops_per_s", *COSTING_COLUMNS}
    kept = [c for c in same if c not in changed]
    pd.testing.assert_frame_equal(table[kept], plain[kept])
    assert (table.loc[~bound, "mode"] == "layer").all() and (plain["mode"] == "network").all()
    assert list(table.columns[:list(table.columns).index("latency_s") + 1 + len(CALIBRATED_COLUMNS)]) == [
        *plain.columns[:list(plain.columns).index("latency_s") + 1], *CALIBRATED_COLUMNS]
    for new, old, estimate in zip(table.notes, plain.notes, table.estimate):  # a calibrated row's: test below
        if estimate == "bound":  # the bound's notes, then why it is not calibrated
            assert new[:len(old)] == old and new[len(old):] == tuple(n for n in new if n.startswith("not calib"))
    assert set(CALIBRATED_COLUMNS).isdisjoint(plain.columns) and set(plain.estimate) == {"bound"}


def test_every_calibrated_rows_notes_are_predicts(mixed):
    """All of them, in predict's order: the framework keyed, the regime, the release used, the bound's notes of
    the calibration's roofline (not the plain sweep's: no overhead note), ..."""
    table, _ = mixed
    calibrated = table[table.estimate == "calibrated"]
    for _, row in calibrated.iterrows():
        assert row.notes == _predicted(row).notes
    framework = [n for notes in calibrated.notes for n in notes if n.startswith("framework: none given; keyed as")]
    assert len(framework) == (3 + 3) * len(BATCHES)  # every GPU and NPU row


def test_a_systems_notes_are_predicts():
    """A system of 8 H100s (an interconnect): its throughput note carries the row's own numbers (8 x fps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(["ResNet-50", "LeNet-MNIST"], ["DGX H100"], [None], [1, 64, 256], calibrated=True,
                         framework="TensorRT")
    assert (table.estimate == "calibrated").all()
    for _, row in table.iterrows():
        expected = _predicted(row, framework="TensorRT").notes
        assert row.notes == expected
        assert any(f"8 x fps = {8 * row.fps:,.0f} samples/s" in n for n in row.notes)


def test_regime_batches_below_64_are_the_batch_64_throughput_scaled(mixed):
    """MLPerf Inference Offline regime: latency_s(B) = B / fps(64) for 1 < B < 64 (regime module docstring), so
    batch 2 is 2/64 of batch 64's latency and interval, at the same fps."""
    table, _ = mixed
    gpu = table[(table.hardware.isin(["NVIDIA L4", "Cloud AI 100 Pro"]))].set_index(["network", "hardware", "batch"])
    for network in NETWORKS:
        for hardware in ("NVIDIA L4", "Cloud AI 100 Pro"):
            two, full = gpu.loc[(network, hardware, 2)], gpu.loc[(network, hardware, 64)]
            for column in ("latency_s", "latency_interval_low_s", "latency_interval_high_s"):
                assert two[column] == pytest.approx(full[column] * 2 / 64, rel=RTOL)
            assert two.fps == pytest.approx(full.fps, rel=RTOL)
            assert any(note.startswith("outside the calibration regime (batch 2 < 64)") for note in two.notes)
            assert any(note.startswith("within the calibration regime: MLPerf Inference Offline")
                       for note in full.notes)


def test_one_sample_on_a_gpu_or_npu_rows_is_the_singlestream_calibration(mixed):
    """Batch 1 on a GPU or NPU: the MLPerf Inference SingleStream calibration (a lone sample's latency), whose
    regime it is in; the estimate is predict's (test above), slower than the Offline throughput scaled to one
    sample, which is 2-5x optimistic there (benchmarks/fidelity/RESULTS.md)."""
    table, _ = mixed
    gpu = table[(table.hardware.isin(["NVIDIA L4", "Cloud AI 100 Pro"]))].set_index(["network", "hardware", "batch"])
    for network in NETWORKS:
        for hardware in ("NVIDIA L4", "Cloud AI 100 Pro"):
            one, two = gpu.loc[(network, hardware, 1)], gpu.loc[(network, hardware, 2)]
            assert any(note.startswith("within the calibration regime: MLPerf Inference SingleStream")
                       for note in one.notes)
            assert not any(note.startswith("outside the calibration regime") for note in one.notes)
            assert one.latency_s > two.latency_s / 2  # per sample slower than the scaled sustained throughput


def test_one_warning_counts_the_rows_left_at_the_bound(mixed):
    table, caught = mixed
    left = [w for w in caught if issubclass(w.category, CalibrationWarning) and "keep the roofline bound" in
            str(w.message)]
    assert len(left) == 1
    # CPU and MCU: ResNet-50 (totals only) at every batch
    assert str(left[0].message).startswith(f"{2 * len(BATCHES)} of {len(table)} predicted rows keep the roofline "
                                           "bound")
    assert "aggregate" in str(left[0].message)


def test_a_grid_of_hypothetical_gpus_is_calibrated_as_unseen_devices():
    l4 = rk.get_hardware("NVIDIA L4")
    grid = HardwareGrid.of(l4, clock_scale=[1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(["ResNet-50"], [l4, grid], [None], [64], calibrated=True)
        model = default_calibration("GPU")
    known, points = table.iloc[0], table.iloc[1:]
    assert list(points.grid_point) == [0, 1] and (table.estimate == "calibrated").all()
    for _, row in points.iterrows():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _assert_row_is_prediction(row, rk.predict("ResNet-50", grid.spec(int(row.grid_point)), batch=64,
                                                      calibrated=True))
        # a network the records ran on a device they did not: the unseen-device interval, exp(low)..exp(high)
        assert row.latency_interval_low_s / row.latency_s == pytest.approx(
            math.exp(model.novel_device_["low"]), rel=RTOL)
        assert row.latency_interval_high_s / row.latency_s == pytest.approx(
            math.exp(model.novel_device_["high"]), rel=RTOL)
        assert any(f"NVIDIA L4[{row.grid_point}] is a device no calibration record had" in n for n in row.notes)
    # the catalog L4 is a device the records had: a narrower interval
    assert known.latency_interval_high_s / known.latency_interval_low_s < \
        points.iloc[0].latency_interval_high_s / points.iloc[0].latency_interval_low_s


def test_each_point_of_50_point_grids_is_predict_on_its_spec():
    """25 GPUs (L4 x clock 0.5..2 x GDDR6 bandwidth 150..600 GB/s) and 25 MCUs (F767ZI x clock x Flash
    bandwidth): every row's numbers and notes are predict's on the point's explicit spec, grid.spec(i)."""
    l4, mcu = rk.get_hardware("NVIDIA L4"), rk.get_hardware("NUCLEO-F767ZI")
    scales = [0.5, 0.8, 1.0, 1.5, 2.0]
    gpus = HardwareGrid.of(l4, bandwidth_bytes_per_s={"GDDR6": [150e9, 250e9, 300e9, 450e9, 600e9]},
                           clock_scale=scales)
    mcus = HardwareGrid.of(mcu, bandwidth_bytes_per_s={"Flash": [50e6, 100e6, 200e6, 400e6, 800e6]},
                           clock_scale=scales)
    assert gpus.size + mcus.size == 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep(["ResNet-20-CIFAR-10"], [gpus, mcus], [None], [1, 64], calibrated=True)
    assert len(table) == 100 and (table.estimate == "calibrated").all()
    grids = {"NVIDIA L4": gpus, "NUCLEO-F767ZI": mcus}
    for _, row in table.iterrows():
        spec = grids[row.hardware.split("[")[0]].spec(int(row.grid_point))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = rk.predict("ResNet-20-CIFAR-10", spec, batch=int(row.batch), calibrated=True)
        _assert_row_is_prediction(row, expected)
        assert row.notes == expected.notes


@pytest.mark.parametrize("traffic, op_classes", [("weights_only", "grouped"), ("weights_and_activations", "coarse")])
def test_class_times_at_are_calibration_features_of_each_record(traffic, op_classes):
    """One network on several hardware (a multi-engine Jetson among them) at several batches each: the values
    calibration_features gives a record of each (hardware, batch), one record at a time."""
    from rooflinekit.compare.calibrate.features import calibration_features, class_times_at, network_index

    network = rk.get_network("ResNet-20-CIFAR-10")
    hardware = [(rk.get_hardware("NVIDIA L4"), [1, 64, 64]), (rk.get_hardware("Jetson AGX Orin 64GB"), [8]),
                (rk.get_hardware("STM32N6570-DK"), [1, 4])]
    found = class_times_at(network, hardware, "int8", traffic, op_classes=op_classes)
    assert [list(values) for values in found] == [[1, 64], [8], [1, 4]]
    for (spec, _), values in zip(hardware, found):
        for batch, row in values.items():
            record = pd.DataFrame([{"hardware": spec.name, "network": network.name, "batch": batch,
                                    "precision": "int8"}])
            expected = calibration_features(record, network_index([network]), {spec.name: spec}, traffic,
                                            op_classes).features.iloc[0]
            assert set(row) == set(expected.index) - set(record.columns)
            for column, value in row.items():
                if isinstance(value, str):
                    assert value == expected[column]
                else:
                    np.testing.assert_allclose(value, expected[column], rtol=1e-13)


def test_class_times_at_refuses_a_network_without_layers():
    from rooflinekit.compare.calibrate.features import class_times_at

    with pytest.raises(CalibrationError, match="aggregate network"):
        class_times_at(rk.get_network("ResNet-50"), [(rk.get_hardware("NVIDIA L4"), [1])], None, "weights_only")


def test_framework_and_a_given_calibration_are_predicts():
    gpu = default_calibration("GPU")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rk.sweep(["ResNet-20-CIFAR-10"], ["NVIDIA L4", "NUCLEO-F767ZI"], [None], [8, 256], calibration=gpu,
                         framework="TensorRT 8.6")
    on_gpu, on_mcu = table[table.hardware == "NVIDIA L4"], table[table.hardware == "NUCLEO-F767ZI"]
    for _, row in on_gpu.iterrows():
        _assert_row_is_prediction(row, _predicted(row, calibration=gpu, framework="TensorRT 8.6"))
    assert (on_mcu.estimate == "bound").all()  # a GPU calibration refuses an MCU: factors never cross classes
    for _, row in on_mcu.iterrows():
        with pytest.raises(CalibrationError) as refused:
            _predicted(row, calibration=gpu)
        assert f"not calibrated: {' '.join(str(refused.value).split())}" in row.notes
    assert sum("keep the roofline bound" in str(w.message) for w in caught) == 1


def test_a_counted_network_and_a_calibration_file_are_predicts(tmp_path):
    from rooflinekit.compare.calibrate.regime import calibration_json

    path = tmp_path / "gpu.json"
    path.write_text(calibration_json(default_calibration("GPU")), encoding="utf-8")
    counted = rk.CountedNetwork.of(rk.get_network("ResNet-20-CIFAR-10"), "fp16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rk.sweep([counted], ["Tesla T4"], [None], [32, 96], calibration=str(path))
        for _, row in table.iterrows():
            _assert_row_is_prediction(row, rk.predict(counted, "Tesla T4", batch=int(row.batch), calibration=path))


@pytest.mark.parametrize("options", [{"reduce": Best("latency_s")}, {"engine": "dask"}])
def test_reduce_and_dask_are_refused_with_what_to_do(options):
    with pytest.raises(SpecError, match=f"sweep without {next(iter(options))} .* then reduce the table"):
        rk.sweep(["LeNet-MNIST"], ["NVIDIA L4"], calibrated=True, **options)


def test_the_calibrated_table_reduces_afterwards(mixed):
    table, _ = mixed
    calibrated = table[table.estimate == "calibrated"]  # estimates only: the other rows' latency_s are bounds
    best = Best("latency_s", by="network")(calibrated)
    assert set(best.network) == set(calibrated.network)
    for network, row in best.set_index("network").iterrows():  # the fastest calibrated row that fits, per network
        rows = calibrated[(calibrated.network == network) & calibrated.fits]
        assert row.estimate == "calibrated" and row.latency_s == rows.latency_s.min()


def test_framework_without_a_calibration_warns_that_it_is_ignored():
    with pytest.warns(RooflineWarning, match="framework 'TensorRT' is ignored"):
        table = rk.sweep(["LeNet-MNIST"], ["NVIDIA L4"], framework="TensorRT")
    assert set(CALIBRATED_COLUMNS).isdisjoint(table.columns) and set(table.estimate) == {"bound"}


def test_cli_sweep_calibrated_prints_the_calibrated_columns(capsys, tmp_path):
    from rooflinekit.cli import main

    dsp = tmp_path / "dsp.yaml"  # a DSP: no calibration ships for its class
    dsp.write_text("hardware:\n- name: DSP board\n  kind: DSP\n  peak_ops_per_s: {int8: 1 TOPS, fp32: 0.1 TOPS}\n"
                   "  source: test\n  memories:\n  - {name: DRAM, capacity_bytes: 2 GB, bandwidth_bytes_per_s: 4 GB/s,"
                   " on_chip: false, stores: [weights, activations], source: test}\n", encoding="utf-8")
    args = ["sweep", "--models", "LeNet-MNIST", "--hardware", f"NVIDIA L4,{dsp}", "--batches", "64",
            "--calibrated", "--framework", "TensorRT"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*args, "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        expected = rk.predict("LeNet-MNIST", "NVIDIA L4", batch=64, calibrated=True, framework="TensorRT")
        assert main([*args, "--format", "csv"]) == 0
        csv = capsys.readouterr().out
        assert main([*args, "--format", "table"]) == 0
        text = capsys.readouterr().out
    gpu, fpga = rows  # the DSP: no calibration ships for its class
    assert gpu["estimate"] == "calibrated" and fpga["estimate"] == "bound" and fpga["latency_interval_s"] is None
    assert fpga["bound_latency_s"] is None and fpga["calibration_levels"] is None
    # JSON: an interval is one key, [low, high], as Prediction.to_dict() gives it; the table splits it in two
    assert "latency_interval_low_s" not in gpu and len(gpu["latency_interval_s"]) == 2
    np.testing.assert_allclose([gpu["latency_s"], gpu["fps"], *gpu["latency_interval_s"], gpu["bound_latency_s"]],
                               [expected.latency_s, expected.fps, *expected.latency_interval_s,
                                expected.bound_latency_s], rtol=RTOL)
    assert gpu["calibration_levels"] == list(expected.calibration_levels)
    assert gpu["fps_per_w"] == pytest.approx(expected.fps / rk.get_hardware("NVIDIA L4").tdp_w, rel=RTOL)
    header = csv.splitlines()[0].split(",")
    assert set(CALIBRATED_COLUMNS) <= set(header) and "estimate" in header and "latency_interval_s" not in header
    first = text.splitlines()[0].split()  # which estimate, then the latency with its interval, after the keys
    assert first[:8] == ["network", "hardware", "precision", "batch", "estimate", "latency_s", "latency_interval_low_s",
                         "latency_interval_high_s"]


def test_batches_above_the_singlestream_regime_are_predicts_costed_as_asked_with_one_warning():
    """A sweep given the batch-1 calibration by name: batch 1 is in its regime; batches 2 and 8 lie above it (its
    records held one sample per query), costed as asked (not scaled), with predict's notes and one warning."""
    singlestream = default_calibration("GPU", batch=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rk.sweep(["ResNet-50"], ["NVIDIA L4"], [None], [1, 2, 8], calibration=singlestream,
                         framework="TensorRT")
    for _, row in table.iterrows():
        _assert_row_is_prediction(row, _predicted(row, calibration=singlestream, framework="TensorRT"))
        assert row.notes == _predicted(row, calibration=singlestream, framework="TensorRT").notes
        above = f"outside the calibration regime (batch {row.batch} > 1)"
        assert any(note.startswith(above) for note in row.notes) == (row.batch > 1)
    assert sum("above the calibration regime's largest" in str(w.message) and str(w.message).startswith("2 ")
               for w in caught) == 1
    one, eight = (table[table.batch == b].iloc[0] for b in (1, 8))
    assert one.latency_s < eight.latency_s < 8 * one.latency_s  # one call of 8: per-call costs paid once
