"""Record schema: validation, units, framework names, duplicates and the rejected-rows report."""

import math
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooflinekit.compare.records import (
    RECORD_COLUMNS, LoadResult, Record, combine_repeats, files_frame, normalize_framework, records_frame,
)
from rooflinekit.errors import RecordError

GOOD = {"hardware": "TX2-maxn", "network": "ResNet-50", "precision": "FP16", "batch": 2, "latency_s": 0.012,
        "throughput_fps": 166.0, "source": "t.csv:2"}


def reason_of(row: dict) -> str:
    result = records_frame([row])
    assert result.records.empty and len(result.rejected) == 1
    return result.rejected.reason.iloc[0]


def test_valid_record_has_the_documented_columns_and_dtypes():
    result = records_frame([GOOD])
    assert list(result.records.columns) == RECORD_COLUMNS
    row = result.records.iloc[0]
    assert row.precision == "fp16" and row.pruning_pct == 100.0 and row.batch == 2
    assert result.records.dtypes["batch"] == "int64"
    assert result.records.dtypes["latency_s"] == "float64"
    assert result.rejected.empty and list(result.rejected.columns) == RECORD_COLUMNS + ["reason"]


def test_missing_text_stays_missing():
    # pandas 2's astype(str) wrote the string 'None' here; a missing value must stay missing on pandas 2 and 3
    rows = [{**GOOD, "precision": None, "framework": None, "notes": math.nan},
            {**GOOD, "hardware": "EdgeTPU", "framework": "tflite 2.3"}]
    records = records_frame(rows).records
    assert records.precision.isna().tolist() == [True, False] and records.precision.iloc[1] == "fp16"
    assert records.precision.iloc[0] is None and "None" not in records.precision.tolist()
    assert records.framework.isna().tolist() == [True, False] and records.notes.isna().all()
    assert records.framework_version.tolist() == [None, "2.3"]
    assert records.dtypes["precision"] == object and (records.precision == "fp16").tolist() == [False, True]
    files = files_frame([("a.csv", "read", None)])
    assert files.reason.isna().all() and files.reason.iloc[0] is None


@pytest.mark.parametrize("field, value, expected", [
    ("latency_s", "12 ms", 0.012), ("latency_s", "250 us", 250e-6), ("energy_j", "7.4 mJ", 7.4e-3),
    ("energy_j", "5 uJ", 5e-6), ("power_w", "40 mW", 0.04), ("throughput_fps", "5.5 inf./sec.", 5.5),
    ("throughput_fps", "2 kfps", 2000.0), ("throughput_fps", "30 fps", 30.0), ("pruning_pct", "12.50%", 12.5),
])
def test_quantities_with_units_are_stored_in_si(field, value, expected):
    record = Record.model_validate({**GOOD, field: value})
    assert getattr(record, field) == pytest.approx(expected)


def test_hybrid_precision_is_canonical():
    assert Record.model_validate({**GOOD, "precision": "W-int8_A-float32"}).precision == "W-int8_A-fp32"


@pytest.mark.parametrize("raw, family, version", [
    ("TensorFlow Lite for Microcontrollers v2.3.1", "TFLite Micro", "2.3.1"),
    ("Tensorflow Lite Micro 2.3.1", "TFLite Micro", "2.3.1"),
    ("tflite-micro, https://github.com/tensorflow/tflite-micro.git, commit_id:a30942eb03efc379e9e80279a44e39078344e5fa",
     "TFLite Micro", "commit a30942eb03ef"),
    ("X-CUBE-AI v7.3.0", "X-CUBE-AI", "7.3.0"),
    ("Plumerai Inference Engine 2023.05", "Plumerai", "2023.05"),
    ("microTVM", "microTVM", None),
    ("ONNC", "ONNC", None),
    ("Bosch Hardware-Aware Lowering Engine (HALE) version 1.0", "Bosch HALE", "1.0"),
    ("LEIP v1.9.3", "Latent AI LEIP", "1.9.3"),
    ("self-developed", "self-developed", None),
    ("N/A", None, None),
    ("", None, None),
])
def test_normalize_framework(raw, family, version):
    assert normalize_framework(raw) == (family, version)


def test_record_normalizes_its_framework_and_keeps_a_given_version():
    record = Record.model_validate({**GOOD, "framework": "X-CUBE-AI v7.1.0"})
    assert (record.framework, record.framework_version) == ("X-CUBE-AI", "7.1.0")
    record = Record.model_validate({**GOOD, "framework": "tflite-micro", "framework_version": "2.4"})
    assert (record.framework, record.framework_version) == ("TFLite Micro", "2.4")


@pytest.mark.parametrize("change, message", [
    ({"latency_s": -1.0}, r"latency_s: must be a positive finite number, got -1\.0"),
    ({"latency_s": "3 parsec"}, r"latency_s: cannot read '3 parsec': unknown number or unit; write e\.g\. '12 ms'"),
    ({"throughput_fps": "3 furlongs"}, r"throughput_fps: unknown throughput unit in '3 furlongs'"),
    ({"hardware": float("nan")}, r"hardware: is required, got nan"),
    ({"network": ""}, r"network: is required, got ''"),
    ({"source": None}, r"source: is required, got None"),
    ({"batch": 0}, r"batch: must be a positive integer, got 0"),
    ({"batch": float("nan")}, r"batch: is required \(frames per inference call, 1 if unbatched\), got nan"),
    ({"pruning_pct": 150}, r"pruning_pct: must be in \(0, 100\] percent of channels kept, got 150"),
    ({"pruning_pct": "lots"}, r"pruning_pct: cannot read 'lots' as a percentage"),
    ({"accuracy_top1_pct": 101}, r"accuracy_top1_pct: must be a percentage in \[0, 100\], got 101"),
    ({"precision": "int3"}, r"precision: unknown precision 'int3'"),
    ({"energy_j": True}, r"energy_j: expected a number, got True"),
    ({"colour": "red"}, r"colour: unknown column; map it to a record column or leave it out"),
    ({"latency_s": None, "throughput_fps": None}, r"no measurement: give at least one of latency_s, throughput_fps"),
])
def test_invalid_rows_are_rejected_with_a_reason(change, message):
    assert re.search(message, reason_of({**GOOD, **change}))


def test_rejected_rows_keep_what_was_given():
    result = records_frame([{**GOOD, "latency_s": -1.0, "colour": "red"}])
    row = result.rejected.iloc[0]
    assert row.latency_s == -1.0 and row.colour == "red" and row.source == "t.csv:2"


def test_exact_duplicates_keep_the_first():
    result = records_frame([GOOD, {**GOOD, "source": "t.csv:3"}])
    assert list(result.records.source) == ["t.csv:2"]
    assert result.rejected.reason.iloc[0].startswith("exact duplicate of t.csv:2 (key hardware='TX2-maxn'")


def test_conflicting_duplicates_are_all_rejected():
    result = records_frame([GOOD, {**GOOD, "throughput_fps": 170.0, "source": "t.csv:3"}, {**GOOD, "batch": 4}])
    assert list(result.records.batch) == [4]
    assert len(result.rejected) == 2
    assert set(result.rejected.reason) == {
        "conflicting duplicates of key (hardware='TX2-maxn', network='ResNet-50', precision='fp16', pruning_pct=100.0,"
        " batch=2): throughput_fps 166.0 vs 170.0 (sources t.csv:2, t.csv:3)"}


def test_repeated_runs_combine_into_their_median_and_every_row_is_accounted_for():
    runs = [{**GOOD, "latency_s": latency, "throughput_fps": None, "source": f"t.csv:{line}"}
            for line, latency in ((2, 0.012), (3, 0.016), (4, 0.013))]
    other = {**GOOD, "batch": 4, "source": "t.csv:5"}
    loaded = records_frame([*runs, other, {**other, "source": "t.csv:6"}, {**GOOD, "batch": 0, "source": "t.csv:7"}])
    assert len(loaded.records) == 1 and len(loaded.rejected) == 5  # the runs conflict; t.csv:6 repeats 5 exactly
    combined = combine_repeats(loaded)
    assert len(combined.records) + len(combined.rejected) == 6  # every input row, once
    run = combined.records[combined.records.batch == 2].iloc[0]
    # median of 0.012, 0.016, 0.013 = 0.013; the group's first row carries it
    assert run.latency_s == pytest.approx(0.013) and run.source == "t.csv:2"
    assert run.notes == "median of 3 repeated runs"
    reasons = dict(zip(combined.rejected.source, combined.rejected.reason))
    assert reasons["t.csv:3"] == reasons["t.csv:4"] == "repeated run: combined into the median of 3 runs of t.csv:2"
    assert reasons["t.csv:6"].startswith("exact duplicate of t.csv:5")  # untouched, as the invalid row
    assert reasons["t.csv:7"].startswith("batch:")
    assert combine_repeats(records_frame([GOOD])).records.equals(records_frame([GOOD]).records)  # nothing to combine


def test_different_frameworks_are_different_keys():
    result = records_frame([{**GOOD, "framework": "X-CUBE-AI 7.3"}, {**GOOD, "framework": "X-CUBE-AI 8.0"}])
    assert len(result.records) == 2


def test_loader_refusals_join_the_report():
    result = records_frame([GOOD], rejected=[{"hardware": "X", "source": "t.csv:9", "reason": "placeholder"}])
    assert list(result.rejected.reason) == ["placeholder"]


def test_empty_input_gives_empty_typed_frames():
    result = records_frame([])
    assert result.records.empty and list(result.records.columns) == RECORD_COLUMNS
    assert result.summary() == "0 records, 0 rejected; files: 0 read, 0 unreadable, 0 skipped"


def test_files_inventory_and_unreadable_files():
    files = files_frame([("a.csv", "read", ""), ("b.json", "unreadable", "invalid JSON"), ("c.md", "skipped", "doc")])
    result = LoadResult(records_frame([]).records, records_frame([]).rejected, files)
    assert list(result.unreadable_files.path) == ["b.json"]
    assert result.summary().endswith("1 read, 1 unreadable, 1 skipped")


def test_files_frame_rejects_an_unknown_status():
    with pytest.raises(RecordError, match=r"file status must be one of \('read', 'unreadable', 'skipped'\), "
                                          r"got \['lost'\]"):
        files_frame([("a.csv", "lost", "")])


values = st.one_of(st.none(), st.just(float("nan")), st.floats(-10, 1e4, allow_nan=False),
                   st.sampled_from(["12 ms", "abc", "3 fps"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "hardware": st.sampled_from(["A", "B", "", None]), "network": st.sampled_from(["N", "M"]),
    "batch": st.sampled_from([1, 2, 0]), "latency_s": values, "throughput_fps": values,
    "source": st.sampled_from(["s:1", "s:2"]),
}), max_size=12))
def test_every_row_is_a_record_or_rejected(rows):
    result = records_frame(rows)
    assert len(result.records) + len(result.rejected) == len(rows)
    assert result.rejected.reason.map(lambda r: isinstance(r, str) and r != "").all()
    assert not result.records.duplicated(list(Record.KEY_FIELDS)).any()
    assert all(math.isfinite(v) and v > 0 for v in result.records.latency_s.dropna())
    assert isinstance(result.records, pd.DataFrame)


@pytest.mark.parametrize("value, missing", [
    (None, True), ("", True), ("  ", True), (math.nan, True), (pd.NA, True), (float("nan"), True), (0, False),
    (0.0, False), ("0", False), (True, False), ([1], False), (pd.Timestamp("NaT"), True),
])
def test_is_missing(value, missing):
    from rooflinekit.compare.records import is_missing

    assert is_missing(value) is missing


def test_repeated_names_give_the_same_results():
    # the framework and precision readers remember what they read; a second row must not see a different answer
    rows = [{**GOOD, "framework": "X-CUBE-AI v7.3.0", "precision": "int3", "source": f"t.csv:{i}"} for i in (2, 3)]
    result = records_frame(rows)
    assert list(result.rejected.reason) == [reason_of(rows[0])] * 2
    assert normalize_framework("X-CUBE-AI v7.3.0") == normalize_framework("X-CUBE-AI v7.3.0") == ("X-CUBE-AI", "7.3.0")
    assert normalize_framework(None) == (None, None) and normalize_framework(" N/A ") == (None, None)


def test_long_names_are_read_but_not_remembered():
    from rooflinekit.compare import records

    before = records._normalize_remembered.cache_info().currsize, records._precision_remembered.cache_info().currsize
    assert normalize_framework("TFLite Micro " + "x" * 1000) == ("TFLite Micro", None)
    assert re.search(r"precision: unknown precision 'int3x", reason_of({**GOOD, "precision": "int3" + "x" * 1000}))
    after = records._normalize_remembered.cache_info().currsize, records._precision_remembered.cache_info().currsize
    assert after == before


def test_rejection_reasons_truncate_what_they_echo():
    reason = reason_of({**GOOD, "latency_s": "x" * 1000, "throughput_fps": "y" * 1000, "pruning_pct": "z" * 1000})
    assert reason.startswith("pruning_pct: cannot read 'zzz") and "x" * 100 not in reason and "y" * 100 not in reason
    assert len(reason) < 500


@pytest.mark.parametrize("raw, expected", [
    ("FooStack 1.0", ("FooStack", "1.0")), ("FooStack v1.1", ("FooStack", "1.1")),
    ("FooStack version 2.3.1", ("FooStack", "2.3.1")), ("FooStack-1.0", ("FooStack", "1.0")),
    ("FooStack 1.0 (beta)", ("FooStack 1.0 (beta)", "1.0")), ("My-RT 3", ("My-RT 3", None)),
])
def test_an_unrecognized_stack_is_one_family_across_its_versions(raw, expected):
    """Was ('FooStack 1.0', '1.0'): each version its own stack, so an unseen release never fell back to a known one
    of the same stack. Only a trailing version is taken off; a name that ends otherwise stays whole."""
    assert normalize_framework(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("PyTorch", ("PyTorch", None)), ("pytorch", ("PyTorch", None)), ("torch 2.1", ("PyTorch", "2.1")),
    ("PyTorch eager 1.13.1", ("PyTorch", "1.13.1")), ("torchvision", ("torchvision", None)),
])
def test_pytorch_spellings_are_one_stack(raw, expected):
    """Records and requests spell it 'PyTorch', 'pytorch' or 'torch'; each was its own stack, so a calibration keyed
    'PyTorch' fell back for 'pytorch'. A name that merely starts with 'torch' is not the stack."""
    assert normalize_framework(raw) == expected
