"""Follow-ups of the library user's trial (tests/test_api_trial.py): the efficiency summary groups one device once
however the records spell it, a columns= mapping onto a column the table lacks is named, a record's bad latency is
said, the calibrated 'no calibration record had' warning comes once, a counted aggregate's calibrated bound is of
the network the estimate used, and a huge latency prints in scientific notation."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare import align, records_frame, summarize_efficiency
from rooflinekit.compare.calibrate import CalibrationWarning
from rooflinekit.compare.loaders import load_table
from rooflinekit.display import si
from rooflinekit.errors import RecordError


def hand_predictions() -> pd.DataFrame:
    """Predictions written by hand: ZCU104-DPU / ResNet-50 / int8 at 600 fps (batch 1) and 500 fps (batch 2)."""
    return pd.DataFrame([
        {"hardware": "ZCU104-DPU", "network": "ResNet-50", "pruning_pct": 100.0, "precision": "int8", "batch": b,
         "fps": fps} for b, fps in ((1, 600.0), (2, 500.0))])


def loaded(*rows: dict) -> pd.DataFrame:
    result = records_frame([{"source": f"r:{i}", **row} for i, row in enumerate(rows)])
    assert result.rejected.empty, result.rejected.reason.tolist()
    return result.records


# --- 1. the summary groups on the names align matched -------------------------------------------------------------

def test_summary_groups_the_spellings_of_one_device_and_network_once():
    """'zcu104 dpu' and 'ZCU104-DPU', 'resnet50' and 'ResNet-50' were separate groups."""
    recs = loaded({"hardware": "zcu104 dpu", "network": "resnet50", "precision": "int8", "batch": 1,
                   "latency_s": 0.01},  # 100 fps / 600 fps = 16.67 %
                  {"hardware": "ZCU104-DPU", "network": "ResNet-50", "precision": "int8", "batch": 2,
                   "latency_s": 0.01})  # 2 / 0.01 = 200 fps / 500 fps = 40 %
    matched = align(hand_predictions(), recs).matched
    assert len(matched) == 2
    summary = summarize_efficiency(matched)
    assert list(summary.columns) == ["hardware", "n", "efficiency_median_pct", "efficiency_mean_pct",
                                     "efficiency_min_pct", "efficiency_max_pct"]
    assert summary["hardware"].tolist() == ["ZCU104-DPU"] and summary["n"].tolist() == [2]
    low, high = 100 * 100 / 600, 100 * 200 / 500
    assert summary["efficiency_min_pct"].iloc[0] == pytest.approx(low)
    assert summary["efficiency_max_pct"].iloc[0] == pytest.approx(high)
    assert summary["efficiency_median_pct"].iloc[0] == pytest.approx((low + high) / 2)
    by_network = summarize_efficiency(matched, by=["hardware", "network"])
    assert by_network[["hardware", "network", "n"]].values.tolist() == [["ZCU104-DPU", "ResNet-50", 2]]
    # a column align does not match by name is grouped as the records give it
    by_batch = summarize_efficiency(matched, by=["hardware", "batch"])
    assert by_batch[["hardware", "batch", "n"]].values.tolist() == [["ZCU104-DPU", 1, 1], ["ZCU104-DPU", 2, 1]]


def test_summary_of_rows_without_prediction_columns_groups_the_records_values():
    rows = pd.DataFrame({"hardware": ["A", "a", "A"], "efficiency_pct": [10.0, 20.0, 30.0]})
    summary = summarize_efficiency(rows)
    assert summary[["hardware", "n", "efficiency_mean_pct"]].values.tolist() == [["A", 2, 20.0], ["a", 1, 20.0]]


# --- 2. a columns= entry onto a column the table lacks --------------------------------------------------------------

def test_load_table_names_a_mapped_column_the_table_lacks(tmp_path):
    """Was: every row rejected with 'hardware: Field required'."""
    path = tmp_path / "runs.csv"
    path.write_text("board,network,latency_s\nZCU104-DPU,ResNet-50,0.01\nZCU104-DPU,MobileNetv1,0.02\n")
    with pytest.raises(RecordError, match=r"^runs\.csv: columns= / --columns maps 'typo' onto 'hardware', but the "
                                          r"table has no column 'typo', so every row lacks hardware \(2 rejected\); "
                                          r"its columns are \['board', 'network', 'latency_s'\]; map the one that "
                                          r"holds hardware"):
        load_table(path, columns={"typo": "hardware"})
    with pytest.raises(RecordError, match=r"maps 'ms' onto 'latency_s'.* every row lacks latency_s"):
        load_table(tmp_path / "runs.csv", columns={"board": "hardware", "ms": "latency_s", "latency_s": "notes"})


def test_load_table_keeps_a_table_that_does_without_a_mapped_column(tmp_path):
    """One mapping serves several tables (calibrate_from_paths): a mapped column a table lacks is no error when
    its rows do without it (an optional column, or the record column given by the table or a constant)."""
    path = tmp_path / "runs.csv"
    path.write_text("board,network,latency_s\nZCU104-DPU,ResNet-50,0.01\nZCU104-DPU,MobileNetv1,0.02\n")
    optional = load_table(path, columns={"board": "hardware", "stack": "framework"})
    assert len(optional.records) == 2 and optional.rejected.empty
    other = tmp_path / "other.csv"
    other.write_text("hardware,network,latency_s\nZCU104-DPU,ResNet-50,0.01\n")
    assert len(load_table(other, columns={"board": "hardware"}).records) == 1
    assert len(load_table(path, columns={"typo": "hardware"}, constants={"hardware": "NCS"}).records) == 2
    # rows rejected for another reason are not blamed on the mapping
    bad = tmp_path / "bad.csv"
    bad.write_text("hardware,network,energy_j\nZCU104-DPU,ResNet-50,-1\n")
    result = load_table(bad, columns={"ms": "latency_s"})
    assert result.rejected.reason.tolist() == ["energy_j: must be a positive finite number, got -1.0"]


# --- 3. a bad latency is said -------------------------------------------------------------------------------------

def test_align_says_what_is_wrong_with_a_records_latency():
    """Was: 'no throughput_fps or latency_s: nothing to compare' for a latency that is there; a zero latency or an
    infinite throughput was matched with an infinite efficiency."""
    base = {"hardware": "ZCU104-DPU", "network": "ResNet-50", "pruning_pct": 100.0, "precision": "int8", "batch": 1}
    recs = pd.DataFrame([{**base, "latency_s": latency, "throughput_fps": fps} for latency, fps in (
        (-0.01, None), (float("inf"), None), (0.0, None), (None, None), (0.01, float("inf")), (0.01, None))])
    result = align(hand_predictions(), recs)
    assert result.matched["record_index"].tolist() == [5]
    assert result.matched["efficiency_pct"].iloc[0] == pytest.approx(100 * 100 / 600)
    end = ": it must be a positive finite number; nothing to compare"
    assert result.unmatched_records["reason"].tolist() == [
        f"latency_s is -0.01 (negative){end}", f"latency_s is inf (not finite){end}", f"latency_s is 0.0 (zero){end}",
        "no throughput_fps or latency_s: nothing to compare", f"throughput_fps is inf (not finite){end}"]


# --- 4. the calibrated warning comes once ---------------------------------------------------------------------------

def test_no_calibration_record_warning_is_given_once_per_prediction():
    """LeNet-MNIST at fp32 on an MCU: the Cortex-M calibration has int8 records only. The estimate and its
    interval each warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = rk.predict("LeNet-MNIST", "NUCLEO-H7A3ZI-Q", calibrated=True, precision="fp32")
    assert p.latency_interval_s is not None
    said = [w for w in caught if str(w.message).startswith("no calibration record had")]
    assert len(said) == 1 and said[0].category is CalibrationWarning
    assert "scaled by the median factor" in str(said[0].message)


# --- 5. a counted aggregate's calibrated bound --------------------------------------------------------------------

def test_calibrated_counted_aggregate_bound_is_of_the_network_the_estimate_used():
    """The bound fields came from the ResNet-50 aggregate (7.72 GOPs, 1 kernel) while the estimate and its 176
    layers came from the MLPerf ResNet-50-v1.5 layer network."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        by_name = rk.predict("ResNet-50", "A100-SXM4-80GB", calibrated=True, batch=64)
        counted = rk.predict(rk.CountedNetwork.of(rk.get_network("ResNet-50")), "A100-SXM4-80GB", calibrated=True,
                             batch=64)
    for p in (by_name, counted):
        assert p.network == "ResNet-50-v1.5" and len(p.layers) == 176 and p.kernels == 176
        # at the regime's batch (64) nothing is scaled: the bound is the sum of the layers' roofline times
        assert p.bound_latency_s == pytest.approx(p.layers["time_s"].sum(), rel=1e-12)
        assert p.ops != 7.72e9  # the aggregate's total
    assert (counted.ops, counted.bytes, counted.bound, counted.bound_latency_s, counted.latency_s) == (
        by_name.ops, by_name.bytes, by_name.bound, by_name.bound_latency_s, by_name.latency_s)
    assert counted.notes[0].startswith("ResNet-50: the catalog entry holds totals only")


# --- 6. huge and tiny numbers ---------------------------------------------------------------------------------------

def test_a_huge_latency_prints_in_scientific_notation():
    """Was a 280-digit number of petaseconds."""
    hw = rk.HardwareSpec.model_validate({
        "name": "Trial-NPU", "kind": "NPU", "peak_ops_per_s": {"int8": "26 TOPS"}, "source": "test",
        "memories": [{"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "12.8 GB/s",
                      "stores": ["weights", "activations"], "source": "test"}]})
    huge = rk.AggregateNetwork(name="Huge", precision="int8", ops_per_frame=2.6e293, params=1, source="test")
    p = rk.predict(huge, hw)  # 2.6e293 ops / 26e12 ops/s = 1e280 s, 1e-280 fps
    assert repr(p) == ("Prediction(Huge on Trial-NPU, int8, batch 1: 1e-280 fps, 1e+280 s, roofline bound, "
                       "compute-bound, network mode)")


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1e280, "s", "1e+280 s"), (-2e18, "OPS", "-2e+18 OPS"), (999.7e15, "B", "1e+18 B"), (999.4e15, "B", "999 PB"),
    (2.5e-14, "s", "2.5e-14 s"),  # was '0 ns'
    (1e-13, "s", "0.0001 ns"), (5e-10, "s", "0.5 ns"), (999.7e-9, "s", "1 µs"),
])
def test_si_beyond_the_prefixes_is_scientific(value, unit, text):
    assert si(value, unit) == text
