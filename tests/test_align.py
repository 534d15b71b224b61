"""Comparator: alignment of predictions with records, efficiency, invariants and the QuTiBench reproduction."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflinekit
from conftest import REPO, SHARED
from rooflinekit.compare import align, load_mlperf_tiny, records_frame, summarize_efficiency
from rooflinekit.compare.loaders import MODEL_FILE_NETWORKS
from rooflinekit.errors import RecordError, UnknownNameError
from rooflinekit.importers import load_model


@pytest.fixture(scope="module")
def predictions() -> pd.DataFrame:
    return rooflinekit.sweep(["ResNet-50", "ResNet-50 80%"], ["NCS", "ZCU104-DPU"], precisions=["int8", "fp16"])


def records(*rows: dict) -> pd.DataFrame:
    result = records_frame([{"source": f"r:{i}", **row} for i, row in enumerate(rows)])
    assert result.rejected.empty, result.rejected.reason.tolist()
    return result.records


def predicted_fps(predictions, hardware, network, precision):
    row = predictions[(predictions.hardware == hardware) & (predictions.network == network)
                      & (predictions.precision == precision)]
    return float(row.fps.iloc[0])


def check_partition(result, predictions, recs):
    matched_records = list(result.matched.record_index)
    assert len(set(matched_records)) == len(matched_records)
    assert not set(matched_records) & set(result.unmatched_records.index)
    assert set(matched_records) | set(result.unmatched_records.index) == set(recs.index)
    matched_predictions = set(result.matched.prediction_index)
    assert not matched_predictions & set(result.unmatched_predictions.index)
    assert matched_predictions | set(result.unmatched_predictions.index) == set(predictions.index)


def test_alias_normalization_matches_other_spellings(predictions):
    recs = records({"hardware": "NCS2", "network": "ResNet50", "pruning_pct": 80, "precision": "FP16",
                    "throughput_fps": 20.0},
                   {"hardware": "ZCU104 DPU", "network": "RN50", "precision": "INT8", "throughput_fps": 300.0})
    result = align(predictions, recs)
    check_partition(result, predictions, recs)
    assert len(result.matched) == 2 and result.unmatched_records.empty
    first = result.matched.iloc[0]
    assert (first.predicted_hardware, first.predicted_network, first.predicted_precision) == (
        "NCS", "ResNet-50 80%", "fp16")
    expected = 100 * 20.0 / predicted_fps(predictions, "NCS", "ResNet-50 80%", "fp16")
    assert first.efficiency_pct == pytest.approx(expected)
    assert first.record_index == 0 and first.source == "r:0"


def test_qutibench_rule_compares_lower_cased_names_only(predictions):
    recs = records({"hardware": "NCS2", "network": "ResNet-50", "precision": "fp16", "throughput_fps": 20.0},
                   {"hardware": "zcu104-dpu", "network": "resnet-50", "precision": "INT8", "throughput_fps": 300.0})
    result = align(predictions, recs, normalize=False)
    check_partition(result, predictions, recs)
    assert list(result.matched.hardware) == ["zcu104-dpu"]
    assert result.unmatched_records.reason.iloc[0] == (
        "no prediction with this hardware (hardware 'ncs2', network 'resnet-50' 100%, precision 'fp16', batch 1)")


def test_user_aliases(predictions):
    recs = records({"hardware": "my stick", "network": "the resnet", "precision": "fp16", "throughput_fps": 20.0})
    result = align(predictions, recs, hardware_aliases={"My Stick": "NCS"}, network_aliases={"The ResNet": "RN50"})
    assert len(result.matched) == 1


def test_efficiency_from_latency_when_throughput_is_missing(predictions):
    recs = records({"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "batch": 1, "latency_s": 0.05})
    batch_predictions = predictions.assign(batch=1)
    matched = align(batch_predictions, recs).matched.iloc[0]
    assert matched.measured_fps == pytest.approx(20.0)
    assert matched.efficiency_pct == pytest.approx(2000.0 / predicted_fps(predictions, "NCS", "ResNet-50", "fp16"))


def test_failed_and_missing_predictions_are_explained(predictions):
    recs = records({"hardware": "ZCU104-DPU", "network": "ResNet-50", "precision": "fp16", "throughput_fps": 9.0},
                   {"hardware": "NCS", "network": "ResNet-50", "pruning_pct": 50, "precision": "fp16",
                    "throughput_fps": 9.0},
                   {"hardware": "NCS", "network": "ResNet-50", "precision": "fp32", "throughput_fps": 9.0},
                   {"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "batch": 4, "throughput_fps": 9.0},
                   {"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "energy_j": 0.1})
    result = align(predictions, recs)
    check_partition(result, predictions, recs)
    reasons = list(result.unmatched_records.reason)
    assert reasons[0].startswith("prediction for this key failed: ZCU104-DPU has no native fp16 peak")
    assert reasons[1] == ("no prediction with this network and pruning on this hardware (hardware 'ncs', network "
                          "'resnet50' 50%, precision 'fp16', batch 1)")
    assert reasons[2].startswith("no prediction with this precision")
    assert reasons[3].startswith("no prediction with this batch size")
    assert reasons[4] == "no throughput_fps or latency_s: nothing to compare"
    failed = result.unmatched_predictions[result.unmatched_predictions.status != "ok"]
    assert failed.reason.str.startswith("not predicted: ZCU104-DPU has no native fp16 peak").all()
    assert (result.unmatched_predictions[result.unmatched_predictions.status == "ok"].reason
            .str.startswith("no measured record for (")).all()


def test_ambiguous_predictions_are_reported(predictions):
    doubled = pd.concat([predictions, predictions.iloc[[0]]], ignore_index=True)
    recs = records({"hardware": "NCS", "network": "ResNet-50", "precision": "int8", "throughput_fps": 9.0})
    result = align(doubled, recs)
    check_partition(result, doubled, recs)
    assert result.unmatched_records.reason.iloc[0].startswith("ambiguous: several predictions share the key")
    assert result.unmatched_predictions.loc[[0, len(predictions)], "reason"].str.startswith("ambiguous").all()


def test_best_over_batch(predictions):
    rows = [{"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "batch": b, "throughput_fps": fps}
            for b, fps in ((1, 10.0), (2, 14.0), (4, 12.0))]
    recs = records(*rows)
    result = align(predictions, recs, best_over_batch=True)
    check_partition(result, predictions, recs)
    assert list(result.matched.best_over_batch) == [False, True, False]
    assert result.matched.prediction_index.nunique() == 1
    plain = align(predictions, recs)
    assert len(plain.matched) == 1 and "best_over_batch" not in plain.matched


def test_summarize_efficiency(predictions):
    recs = records({"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "throughput_fps": 10.0},
                   {"hardware": "NCS", "network": "ResNet-50", "precision": "int8", "throughput_fps": 30.0})
    summary = summarize_efficiency(align(predictions, recs).matched, by=["hardware"])
    assert list(summary.columns) == ["hardware", "n", "efficiency_median_pct", "efficiency_mean_pct",
                                     "efficiency_min_pct", "efficiency_max_pct"]
    assert summary.n.iloc[0] == 2


def test_errors(predictions):
    recs = records({"hardware": "NCS", "network": "ResNet-50", "precision": "fp16", "throughput_fps": 10.0})
    with pytest.raises(RecordError, match=r"predictions lack columns \['fps'\]; they have"):
        align(predictions.drop(columns=["fps"]), recs)
    with pytest.raises(RecordError, match=r"records lack columns \['batch'\]; they have"):
        align(predictions, recs.drop(columns=["batch"]))
    with pytest.raises(RecordError, match=r"records need a throughput_fps or a latency_s column"):
        align(predictions, recs.drop(columns=["throughput_fps", "latency_s"]))
    with pytest.raises(RecordError, match=r"records have a repeated index label; call \.reset_index\(drop=True\)"):
        align(predictions, pd.concat([recs, recs]))
    with pytest.raises(RecordError, match=r"matched rows lack columns \['efficiency_pct'\]"):
        summarize_efficiency(recs)


names = st.sampled_from(["A", "a", "B", "NCS", "NCS2"])
nets = st.sampled_from(["N", "n", "ResNet-50", "RN50"])
precisions = st.sampled_from(["int8", "INT8", "fp16", None])


@settings(max_examples=40, deadline=None)
@given(prediction_rows=st.lists(st.fixed_dictionaries({
    "hardware": names, "network": st.sampled_from(["N", "N 50%", "ResNet-50", "ResNet-50 80%"]),
    "precision": precisions, "batch": st.sampled_from([1, 2]),
    "fps": st.one_of(st.floats(1e-3, 1e6), st.just(np.nan)), "status": st.sampled_from(["ok", "ok", "failed"]),
}), max_size=10), record_rows=st.lists(st.fixed_dictionaries({
    "hardware": names, "network": nets, "pruning_pct": st.sampled_from([100.0, 50.0, 80.0]),
    "precision": precisions, "batch": st.sampled_from([1, 2]),
    "throughput_fps": st.one_of(st.floats(1e-3, 1e6), st.just(np.nan)), "latency_s": st.just(np.nan),
}), max_size=10), normalize=st.booleans(), best=st.booleans())
def test_matched_plus_unmatched_is_the_input(prediction_rows, record_rows, normalize, best):
    predictions = pd.DataFrame(prediction_rows, columns=["hardware", "network", "precision", "batch", "fps", "status"])
    recs = pd.DataFrame(record_rows, columns=["hardware", "network", "pruning_pct", "precision", "batch",
                                              "throughput_fps", "latency_s"])
    result = align(predictions, recs, normalize=normalize, best_over_batch=best)
    check_partition(result, predictions, recs)
    assert (result.unmatched_records.reason != "").all() and (result.unmatched_predictions.reason != "").all()
    m = result.matched
    assert np.allclose(m.efficiency_pct, 100 * m.measured_fps / m.predicted_fps)


# --- QuTiBench's efficiency table (needs ../shared) ------------------------------------------------------------------

def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "qutibench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduces_qutibench_matching_and_efficiency(qutibench_dir, tmp_path, capsys):
    script = load_script("reproduce_efficiency")
    table = script.efficiency_table(qutibench_dir)
    theirs = script.qutibench_pairs(qutibench_dir)
    measured = theirs[(theirs.type == "measured") & theirs.pairs].set_index("hardw_datatype_net_prun")["fps-comp"]
    ncs = {key for key in measured.index if key.startswith("ncs_")}
    assert (len(measured), len(ncs)) == (129, 9)  # 2020-09-22: before the measurements were renamed NCS2

    matched = table[table.status == "matched"].assign(key=lambda t: [script.key(r) for r in t.itertuples()])
    matched = matched.set_index("key")
    assert len(matched) == 120 and set(matched.index) == set(measured.index) - ncs
    assert np.allclose(matched.measured_fps, measured[matched.index], rtol=1e-9)
    off = matched[matched.efficiency_diff_pp.abs() > script.TOLERANCE_PP]
    # the one published cell QuTiBench got wrong (README section 3): 38400 instead of 76800
    assert list(off.index) == ["zcu104-finn_int2_mlp_25"]
    assert (off.published_fps.iloc[0], off.predicted_fps.iloc[0]) == (38400, pytest.approx(76800))
    assert off.published_efficiency_pct.iloc[0] == pytest.approx(2 * off.efficiency_pct.iloc[0])

    alias = table[table.status == "matched_by_alias"]
    assert {script.key(r).replace("ncs2_", "ncs_", 1) for r in alias.itertuples()} == ncs
    their_unmatched = set(theirs[(theirs.type == "predicted") & ~theirs.pairs].hardw_datatype_net_prun)
    ours_unmatched = {script.key(r) for r in table[table.status == "predicted_unmatched"].itertuples()}
    assert len(their_unmatched) == 36 and their_unmatched <= ours_unmatched
    assert set(table.status) == {"matched", "matched_by_alias", "predicted_unmatched", "rejected"}

    out = tmp_path / "efficiency.csv"
    assert script.main(["--out", str(out), "--data", str(qutibench_dir)]) == 0
    printed = capsys.readouterr().out
    assert "QuTiBench matching: 120 matched pairs; 119 within 0.5 pp of QuTiBench's own efficiency" in printed
    assert "matched only through aliases (not by QuTiBench): 9 pairs" in printed
    assert "ours agree on 120" in printed
    assert list(pd.read_csv(out).columns) == script.COLUMNS


def test_mlperf_closed_cortex_m_records_meet_tflite_predictions():
    """End to end on MLPerf Tiny: reference .tflite files -> sweep on the catalog boards -> align with records."""
    folder = SHARED / "data" / "mlperf_tiny"
    if not folder.is_dir():
        pytest.skip("../shared/data/mlperf_tiny is absent")
    recs = load_mlperf_tiny(folder).records
    recs = recs[recs.cpu_only_cortex_m & (recs.division == "closed")].reset_index(drop=True)
    boards = {}
    for board in set(recs.hardware):
        try:
            boards[board] = rooflinekit.get_hardware(board).name
        except UnknownNameError:
            continue
    if not boards:
        pytest.skip("the hardware catalog has no MLPerf Tiny boards")
    recs = recs[recs.hardware.isin(boards)].reset_index(drop=True)
    models = [load_model(folder / "models" / f"{stem}.tflite")
              for stem in ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")]
    predictions = rooflinekit.sweep(models, sorted(set(boards.values())), mode="layer")
    result = align(predictions, recs, network_aliases=MODEL_FILE_NETWORKS)
    check_partition(result, predictions, recs)
    assert result.unmatched_records.empty, result.unmatched_records.reason.value_counts()
    # a roofline on datasheet peaks is an upper bound: every stack reaches less than 100 %
    assert (result.matched.efficiency_pct > 0).all() and (result.matched.efficiency_pct < 100).all()
