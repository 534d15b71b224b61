"""A library user's trial of the public Python API: wrong types, single values where lists go, empty lists,
missing files, pruned-network labels in records and counts beyond float64 get typed errors or the right rows,
never a bare TypeError / AttributeError / IndexError from inside the library or a silent wrong match or NaN."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.catalog import load_hardware_file
from rooflinekit.compare import align, calibrate_from_paths, records_frame
from rooflinekit.errors import CalibrationError, RecordError, SpecError, UnknownNameError
from rooflinekit.roofline import HardwareGrid
from rooflinekit.roofline.predictor import SWEEP_COLUMNS


def own_npu() -> rk.HardwareSpec:
    """A one-level device: 26 TOPS int8, 12.8 GB/s DRAM (the README's example spec)."""
    return rk.HardwareSpec.model_validate({
        "name": "Trial-NPU", "kind": "NPU", "peak_ops_per_s": {"int8": "26 TOPS"}, "source": "test",
        "memories": [{"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "12.8 GB/s",
                      "stores": ["weights", "activations"], "source": "test"}]})


# --- sweep arguments given as one value instead of a list --------------------------------------------------------

@pytest.mark.parametrize("arguments", [
    {"networks": "ResNet-50"},  # was: unknown model 'R'
    {"hardware": "ZCU104-DPU"},  # was: unknown hardware 'Z'
    {"precisions": "int8"},  # was: unknown precision 'i'
    {"batches": 8},  # was: TypeError: 'int' object is not iterable
    {"hardware": rk.get_hardware("ZCU104-DPU")},  # a spec, not a list of specs
])
def test_sweep_refuses_a_single_value_where_a_list_goes(arguments):
    given = {"networks": ["ResNet-50"], "hardware": ["ZCU104-DPU"], **arguments}
    name = next(iter(arguments))
    with pytest.raises(SpecError, match=rf"^{name} must be a list .*wrap it in a list"):
        rk.sweep(**given)


def test_sweep_still_takes_arrays_and_series():
    table = rk.sweep(pd.Series(["ResNet-50"]), ("ZCU104-DPU",), np.array(["int8"]), np.array([1, 8]))
    assert table["batch"].tolist() == [1, 8] and table["status"].tolist() == ["ok", "ok"]


def test_sweep_without_precisions_is_an_empty_table():
    """No precision means no combination, as no network or no batch does (was: IndexError)."""
    table = rk.sweep(["ResNet-50"], ["ZCU104-DPU"], precisions=[])
    assert len(table) == 0 and list(table.columns) == SWEEP_COLUMNS


def test_calibrate_from_paths_refuses_one_path_string(tmp_path):
    """A str was taken character by character: '/' first, read as an MLPerf Tiny tree (the whole disk)."""
    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,latency_s\nNUCLEO-F767ZI,LeNet-MNIST,0.02\n")
    with pytest.raises(CalibrationError, match=r"^paths must be a list of paths.*wrap it in a list"):
        calibrate_from_paths(str(table))
    with pytest.raises(CalibrationError, match=r"^models must be a list of paths"):
        calibrate_from_paths([table], models=str(tmp_path / "model.onnx"))


# --- wrong types ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hardware", [None, 5, {"name": "x"}])
def test_predict_and_sweep_refuse_hardware_that_is_no_spec(hardware):
    """Was: AttributeError: ... has no attribute 'engine_policy' / 'compute_engines'."""
    with pytest.raises(SpecError, match=r"^hardware must be a HardwareSpec, got "):
        rk.predict("ResNet-50", hardware)
    with pytest.raises(SpecError, match=r"^hardware must be a HardwareSpec, got "):
        rk.sweep(["ResNet-50"], [hardware])


def test_fuse_must_be_a_bool():
    """Was: TypeError from numpy's bitwise_and."""
    with pytest.raises(SpecError, match=r"^fuse must be True or False, got str 'no'"):
        rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", mode="layer", fuse="no")
    with pytest.raises(SpecError, match=r"^fuse must be True or False"):
        rk.sweep(["LeNet-MNIST"], ["NUCLEO-F767ZI"], mode="layer", fuse="no")
    assert rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", mode="layer", fuse=np.bool_(False)).kernels == 13


@pytest.mark.parametrize("calibration", [5, {"format": "rooflinekit.calibration/5"}])
def test_calibration_must_be_a_predictor_or_a_file(calibration):
    """Was: TypeError: expected str, bytes or os.PathLike object, not int."""
    with pytest.raises(CalibrationError, match=r"^calibration must be a fitted CalibratedPredictor or the path of "
                                               r"its JSON file, got "):
        rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", calibration=calibration)


@pytest.mark.parametrize("lookup", [lambda: rk.get_hardware(5), lambda: rk.get_hardware(None),
                                    lambda: rk.get_network(5)])
def test_catalog_lookups_refuse_names_that_are_no_strings(lookup):
    """Was: AttributeError: 'int' object has no attribute 'casefold'."""
    with pytest.raises(SpecError, match=r"name must be a string, got "):
        lookup()


@pytest.mark.parametrize("pruning", ["abc", 0, -10, 150, float("nan"), True])
def test_get_network_refuses_a_pruning_outside_0_100(pruning):
    """Was: ValueError from float('abc'), or 'unknown model ResNet-50; did you mean ResNet-50'."""
    with pytest.raises(SpecError, match=r"^pruning_pct must be the percentage of channels kept"):
        rk.get_network("ResNet-50", pruning_pct=pruning)


@pytest.mark.parametrize("name, pruning", [("ResNet-50", 0.8), ("ResNet-50 55", None), ("RN50", 55)])
def test_a_pruning_the_model_lacks_names_the_model_and_its_variants(name, pruning):
    """Was: 'unknown model 'ResNet-50'; did you mean ResNet-50, ...?' for a model that is in the catalog."""
    pct = 0.8 if pruning == 0.8 else 55
    with pytest.raises(UnknownNameError, match=rf"^model '{name}' has no {pct:g}% pruned variant \(pruning is "
                                                 r"the share of channels kept in percent, 100 = unpruned\); its "
                                                 r"variants: ResNet-50, ResNet-50 80%, ResNet-50 50%, ResNet-50 30%$"):
        rk.get_network(name, pruning_pct=pruning)


def test_get_network_takes_a_numpy_pruning():
    assert rk.get_network("ResNet-50", pruning_pct=np.int64(80)).pruning_pct == 80.0


def test_counted_network_and_grid_refuse_names():
    """Names are resolved by predict and sweep, not by these constructors (was: AttributeError)."""
    with pytest.raises(SpecError, match=r"^CountedNetwork.of counts a network spec, got str 'LeNet-MNIST'"):
        rk.CountedNetwork.of("LeNet-MNIST", "int8")
    with pytest.raises(SpecError, match=r"^a hardware grid's template must be a HardwareSpec, got str"):
        HardwareGrid.of("NUCLEO-F767ZI", clock_scale=[1, 2])


@pytest.mark.parametrize(("axis", "message"), [
    (["1 TOPS", "10 TOPS", "log", 4], r"range ends must be plain numbers in SI units .* got '1 TOPS' and '10 TOPS'"),
    ([None, 1e9, "lin", 2], r"range ends must be plain numbers"),  # was: TypeError from float(None)
    ([1e8, float("inf"), "lin", 4], r"range ends must be finite, got 100000000.0 and inf"),  # was: 'got nan'
])
def test_grid_range_ends_must_be_finite_numbers(axis, message):
    """'1 TOPS' was a ValueError from float(); an infinite end was reported as the NaN linspace made of it."""
    with pytest.raises(SpecError, match=rf"^grid axis peak_ops_per_s.int8: {message}"):
        HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), peak_ops_per_s={"int8": axis})


# --- files ---------------------------------------------------------------------------------------------------------

def test_missing_hardware_file_is_a_spec_error(tmp_path):
    """Was: FileNotFoundError from pathlib (the command line already said 'no such file')."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=r"nope.yaml: no such file; give the path of a YAML file with a top-level "
                                        r"'hardware:' list"):
        rk.predict("ResNet-50", str(missing))
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"folder.yaml: cannot read the file"):
        load_hardware_file(folder)


# --- the comparator ------------------------------------------------------------------------------------------------

def hand_predictions() -> pd.DataFrame:
    """Predictions written by hand (as a user's own tool would), not computed by rooflinekit."""
    return pd.DataFrame([
        {"hardware": "ZCU104-DPU", "network": "ResNet-50", "pruning_pct": 100.0, "precision": "int8", "batch": 1,
         "fps": 600.0},
        {"hardware": "ZCU104-DPU", "network": "ResNet-50 80%", "pruning_pct": 80.0, "precision": "int8", "batch": 1,
         "fps": 700.0},
        {"hardware": "ZCU104-DPU", "network": "MyNet 50%", "pruning_pct": 50.0, "precision": "int8", "batch": 1,
         "fps": 400.0},
    ])


def test_align_refuses_inputs_that_are_no_frames():
    """Was: AttributeError: 'list' object has no attribute 'columns'."""
    recs = records_frame([{"hardware": "ZCU104-DPU", "network": "ResNet-50", "latency_s": 0.002,
                           "source": "r:0"}]).records
    p = rk.predict("ResNet-50", "ZCU104-DPU")
    with pytest.raises(RecordError, match=r"^predictions must be a pandas DataFrame, got list .*p.to_dict\(\)"):
        align([p], recs)
    with pytest.raises(RecordError, match=r"^records must be a pandas DataFrame, got list"):
        align(hand_predictions(), [{"hardware": "ZCU104-DPU"}])


def test_a_record_labelled_with_its_pruning_matches_the_pruned_prediction():
    """A record 'ResNet-50 80%' from a table without a pruning column (pruning_pct 100) was matched with the
    unpruned ResNet-50: efficiency 100 * 500 / 600 instead of 100 * 500 / 700."""
    loaded = records_frame([
        {"hardware": "ZCU104-DPU", "network": "ResNet-50 80%", "precision": "int8", "latency_s": 0.002,
         "source": "r:0"},
        {"hardware": "ZCU104-DPU", "network": "ResNet-50", "precision": "int8", "latency_s": 0.004, "source": "r:1"},
        {"hardware": "ZCU104-DPU", "network": "MyNet", "pruning_pct": 50, "precision": "int8", "latency_s": 0.005,
         "source": "r:2"},
    ])
    assert loaded.rejected.empty and loaded.records["pruning_pct"].tolist() == [100.0, 100.0, 50.0]
    result = align(hand_predictions(), loaded.records)
    matched = result.matched.set_index("record_index")
    assert len(matched) == 3 and result.unmatched_records.empty and result.unmatched_predictions.empty
    assert matched.at[0, "prediction_index"] == 1  # the 80 % row
    assert matched.at[0, "efficiency_pct"] == pytest.approx(100 * 500 / 700)
    assert matched.at[1, "prediction_index"] == 0
    assert matched.at[1, "efficiency_pct"] == pytest.approx(100 * 250 / 600)
    # a network the catalog lacks: 'MyNet' at 50 % is the prediction labelled 'MyNet 50%' at 50 %
    assert matched.at[2, "prediction_index"] == 2
    assert matched.at[2, "efficiency_pct"] == pytest.approx(100 * 200 / 400)


# --- counts beyond float64 -----------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_counts_beyond_float64_are_an_error_not_nan():
    """1e300 ops per frame x 2**31 - 1 frames = 2.1e309 > 1.8e308 (float64's largest): was fps and latency NaN."""
    huge = rk.AggregateNetwork(name="Huge", precision="int8", ops_per_frame=1e300, params=1, source="test")
    hw = own_npu()
    for mode in ("network", "layer"):
        with pytest.raises(SpecError, match=r"^Huge at int8, batch up to 2147483647: .* float64 range"):
            rk.predict(huge, hw, batch=2**31 - 1, mode=mode)
    table = rk.sweep([huge], [hw], batches=[2**31 - 1])
    assert len(table) == 1 and table["fps"].isna().all()
    assert table["status"].iloc[0].startswith("Huge at int8, batch up to 2147483647")
    grid = rk.sweep([huge], [HardwareGrid.of(hw, clock_scale=[1.0, 2.0])], batches=[2**31 - 1])
    assert len(grid) == 2 and all(s.startswith("Huge at int8") for s in grid["status"])
    # at batch 1 it is a number: compute-bound, 1e300 ops / 26e12 ops/s (1 weight byte / 12.8 GB/s is nothing)
    p = rk.predict(huge, hw, batch=1)
    assert p.bound == "compute" and math.isclose(p.latency_s, 1e300 / 26e12, rel_tol=1e-12)


def test_the_warnings_a_user_filters_are_exported_where_the_errors_are():
    """Was: ControlFlowWarning only from the private rooflinekit.importers.onnx._control, CalibrationWarning only
    from rooflinekit.compare.calibrate."""
    from rooflinekit.compare.calibrate import CalibrationWarning
    from rooflinekit.counters import UnsupportedOpWarning

    assert rk.CalibrationWarning is CalibrationWarning and rk.UnsupportedOpWarning is UnsupportedOpWarning
    assert rk.SpecError is SpecError and rk.UnknownNameError is UnknownNameError
    assert all(issubclass(w, rk.RooflineWarning) for w in (rk.CalibrationWarning, rk.ControlFlowWarning,
                                                          rk.UnsupportedOpWarning, rk.CapacityWarning))
