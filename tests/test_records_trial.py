"""Measurement tables as real tools export them (Excel, pandas), read by ``load_table`` and aligned.

Expected values are derived by hand in the comments (unit conversions, line numbers, counts).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.compare import align, records_frame
from rooflinekit.compare.loaders import load_table
from rooflinekit.errors import RecordError

BOM = "\ufeff"
MAPPING = {"board": "hardware", "model": "network", "prec": "precision"}


def write(path, text):
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- Excel's "CSV UTF-8": a byte order mark before the header -----------------------------------------------------

def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    path = write(tmp_path / "runs.csv", BOM + "board,model,prec,ms\nZCU104-DPU,ResNet-50,int8,2.5\n")
    result = load_table(path, columns={**MAPPING, "ms": "latency_s"}, units={"latency_s": "ms"})
    assert result.rejected.empty
    # 2.5 ms = 0.0025 s; the header is line 1, the record line 2
    assert result.records[["hardware", "latency_s", "source"]].values.tolist() == [["ZCU104-DPU", 0.0025, "runs.csv:2"]]
    unmapped = load_table(write(tmp_path / "own.csv", BOM + "hardware,network,latency_s\nA,N,0.5\n"))
    assert unmapped.records.hardware.tolist() == ["A"] and unmapped.rejected.empty


# --- Excel where the decimal separator is a comma: ';' between cells, '2,5' ----------------------------------------

def test_a_semicolon_table_with_decimal_commas(tmp_path):
    path = write(tmp_path / "runs.csv", BOM + "board;model;prec;latency [ms];pruning\n"
                                              "ZCU104-DPU;ResNet-50;int8;2,5;100\n"      # line 2: 2.5 ms
                                              "ZCU104-DPU;ResNet-50;int8;1,25 ms;80,5%\n"  # line 3: 1.25 ms, 80.5 %
                                              "ZCU104-DPU;MobileNetv1;int8;1.234,5;100\n"  # line 4: thousands: refused
                                              "ZCU104-DPU;GoogLeNetv1;int8;,5;100\n")      # line 5: 0.5 ms
    result = load_table(path, columns={**MAPPING, "latency [ms]": "latency_s", "pruning": "pruning_pct"},
                        units={"latency_s": "ms"})
    assert result.records.latency_s.tolist() == pytest.approx([0.0025, 0.00125, 0.0005])
    assert result.records.pruning_pct.tolist() == pytest.approx([100.0, 80.5, 100.0])
    assert result.records.source.tolist() == ["runs.csv:2", "runs.csv:3", "runs.csv:5"]
    assert result.rejected.source.tolist() == ["runs.csv:4"]
    assert result.rejected.reason.iloc[0].startswith("latency_s: cannot read '1.234,5'")
    assert len(result.records) + len(result.rejected) == 4  # every data row is read or rejected
    assert "cells separated by ';'" in result.files.reason.iloc[0]


def test_decimal_commas_are_read_only_in_semicolon_tables(tmp_path):
    # in a ',' table a quoted '2,5' may be a thousands separator (2,500): it is refused, not guessed
    result = load_table(write(tmp_path / "runs.csv", 'hardware,network,latency_s\nA,N,"2,5"\n'))
    assert result.records.empty
    assert result.rejected.reason.tolist()[0].startswith("latency_s: cannot read '2,5'")


def test_a_tab_separated_csv(tmp_path):
    result = load_table(write(tmp_path / "runs.csv", "board\tmodel\tus\nA\tN\t2500\n"),
                        columns={"board": "hardware", "model": "network", "us": "latency_s"}, units={"latency_s": "us"})
    assert result.records.latency_s.tolist() == pytest.approx([0.0025])  # 2500 us = 2.5e-3 s


def test_a_bom_semicolon_table_aligns_with_the_efficiency_by_hand(tmp_path):
    path = write(tmp_path / "runs.csv", BOM + "board;model;prec;latency [ms]\nZCU104-DPU;ResNet50;INT8;2,5\n")
    records = load_table(path, columns={**MAPPING, "latency [ms]": "latency_s"}, units={"latency_s": "ms"}).records
    predictions = rk.sweep(["ResNet-50"], ["ZCU104-DPU"], ["int8"], [1])
    result = align(predictions, records)
    # batch 1 in 2.5 ms: 1 / 0.0025 = 400 fps measured
    assert result.matched.measured_fps.tolist() == pytest.approx([400.0])
    assert result.matched.efficiency_pct.iloc[0] == pytest.approx(100 * 400.0 / predictions.fps.iloc[0])
    assert result.unmatched_records.empty


# --- header names as typed: spaces, units -------------------------------------------------------------------------

def test_spaces_around_header_names_and_mapping_keys_are_ignored(tmp_path):
    path = write(tmp_path / "runs.csv", "hardware , network ,  board ,latency_s \nA,N,X,0.5\n")
    result = load_table(path, columns={" board": "notes"})
    assert result.records[["hardware", "network", "notes", "latency_s"]].values.tolist() == [["A", "N", "X", 0.5]]


@pytest.mark.parametrize("header, column, unit", [("latency [ms]", "latency_s", "ms"), ("time_us", "latency_s", "us"),
                                                  ("ms", "latency_s", "ms"), ("E (mJ)", "energy_j", "mJ"),
                                                  ("kfps", "throughput_fps", "kfps")])
def test_a_header_stating_a_unit_needs_that_unit_given(tmp_path, header, column, unit):
    path = write(tmp_path / "runs.csv", f"hardware,network,{header}\nA,N,2.5\n")
    # read as SI, 2.5 ms would have been a latency of 2.5 s: 1000 times too long
    with pytest.raises(RecordError, match=re.escape(f"column '{header}' is read as {column} (in ") + ".* states the "
                       + re.escape(f"unit '{unit}' ") + ".*" + re.escape(f"give units={{'{column}': '{unit}'}} "
                                                                          f"(--units {column}={unit})")):
        load_table(path, columns={header: column})
    given = load_table(path, columns={header: column}, units={column: unit})
    factor = {"ms": 1e-3, "us": 1e-6, "mJ": 1e-3, "kfps": 1e3}[unit]
    assert given.records[column].tolist() == pytest.approx([2.5 * factor])


@pytest.mark.parametrize("header, column", [("fps (1/s)", "throughput_fps"), ("latency [s]", "latency_s"),
                                            ("latency (avg)", "latency_s"), ("energy_j", "energy_j"),
                                            ("P [W]", "power_w")])
def test_a_header_stating_the_si_unit_or_no_unit_is_read_as_it_is(tmp_path, header, column):
    path = write(tmp_path / "runs.csv", f"hardware,network,accuracy_top1_pct,{header}\nA,N,70,2.5\n")
    if column == "power_w":  # power alone is no measurement
        path = write(path, f"hardware,network,energy_j,{header}\nA,N,0.5,2.5\n")
    assert load_table(path, columns={header: column}).records[column].tolist() == [2.5]


def test_per_second_units_a_cell_takes_are_units_too(tmp_path):
    path = write(tmp_path / "runs.csv", "hardware,network,fps (1/s),rate\nA,N,400,0.4\n")
    result = load_table(path, columns={"fps (1/s)": "throughput_fps"}, units={"throughput_fps": "1/s"})
    assert result.records.throughput_fps.tolist() == [400.0]
    per_s = load_table(path, columns={"rate": "throughput_fps"}, units={"throughput_fps": "/s"})
    assert per_s.records.throughput_fps.tolist() == [0.4]


# --- repeated runs of one configuration -----------------------------------------------------------------------------

RUNS = 2000


def _runs_reason(name):
    # latencies 0.001, 0.002, ... on lines 2, 3, ...: the first five of each listed, then the count
    return ("conflicting duplicates of key (hardware='A', network='N', pruning_pct=100.0, batch=1): latency_s 0.001 "
            "vs 0.002 vs 0.003 vs 0.004 vs 0.005 vs ... (2000 in all) (sources "
            f"{name}:2, {name}:3, {name}:4, {name}:5, {name}:6, ... (2000 in all))")


def test_many_runs_of_one_configuration_are_rejected_with_a_bounded_reason(tmp_path):
    lines = "".join(f"A,N,{(run + 1) / 1000}\n" for run in range(RUNS))
    result = load_table(write(tmp_path / "runs.csv", "hardware,network,latency_s\n" + lines))
    assert result.records.empty and len(result.rejected) == RUNS
    assert set(result.rejected.reason) == {_runs_reason("runs.csv")}


def test_many_runs_given_as_rows_are_rejected_with_a_bounded_reason():
    rows = [{"hardware": "A", "network": "N", "latency_s": (run + 1) / 1000, "source": f"t.csv:{run + 2}"}
            for run in range(RUNS)]
    result = records_frame(rows)
    assert result.records.empty and len(result.rejected) == RUNS
    assert set(result.rejected.reason) == {_runs_reason("t.csv")}


def test_a_few_conflicting_runs_are_all_listed():
    rows = [{"hardware": "A", "network": "N", "latency_s": latency, "source": f"t.csv:{line}"}
            for line, latency in ((2, 0.1), (3, 0.2), (4, 0.3))]
    assert set(records_frame(rows).rejected.reason) == {
        "conflicting duplicates of key (hardware='A', network='N', pruning_pct=100.0, batch=1): latency_s 0.1 vs 0.2 "
        "vs 0.3 (sources t.csv:2, t.csv:3, t.csv:4)"}


def test_duplicates_among_many_rows_keep_missing_numbers_missing(tmp_path):
    # exact duplicates with a missing throughput: the first is kept with NaN, the copy rejected
    result = load_table(write(tmp_path / "runs.csv", "hardware,network,latency_s,throughput_fps\n"
                                                     "A,N,0.5,\nA,N,0.5,\nB,N,0.25,4\n"))
    assert result.records.source.tolist() == ["runs.csv:2", "runs.csv:4"]
    assert pd.isna(result.records.throughput_fps.iloc[0]) and result.records.throughput_fps.iloc[1] == 4.0
    assert result.rejected.reason.tolist() == ["exact duplicate of runs.csv:2 (key hardware='A', network='N', "
                                               "pruning_pct=100.0, batch=1)"]


# --- a spreadsheet's title above the header; record columns written in another case ---------------------------------

def test_title_lines_above_the_header_are_skipped_and_said(tmp_path):
    path = write(tmp_path / "runs.csv", "My measurements 2024,,\n"   # line 1: a merged title cell
                                        "\n"                          # line 2: blank
                                        "board,model,ms\n"            # line 3: the header
                                        "ZCU104-DPU,ResNet-50,2.5\n")  # line 4
    result = load_table(path, columns={**MAPPING, "ms": "latency_s"}, units={"latency_s": "ms"})
    assert result.records[["hardware", "latency_s", "source"]].values.tolist() == [["ZCU104-DPU", 0.0025, "runs.csv:4"]]
    assert result.files.reason.tolist() == ["1 row; title lines skipped: 1 'My measurements 2024'"]


def test_a_one_column_table_keeps_its_header_and_rows(tmp_path):
    # single-cell lines with no wider line after them are a one-column table, not titles: header 'run', 2 rows
    result = load_table(write(tmp_path / "runs.csv", "run\nfirst\nsecond\n"),
                        constants={"hardware": "A", "network": "N", "latency_s": 0.5})
    assert result.records.source.tolist() == ["runs.csv:2"]  # the second row is an exact duplicate of the first
    assert result.rejected.source.tolist() == ["runs.csv:3"]
    assert result.files.reason.tolist() == ["2 rows; columns not read: ['run']"]


def test_record_columns_are_read_in_any_case(tmp_path):
    result = load_table(write(tmp_path / "runs.csv", "Hardware,NETWORK,Batch,Latency_s\nA,N,4,0.5\n"))
    assert result.records[["hardware", "network", "batch", "latency_s"]].values.tolist() == [["A", "N", 4, 0.5]]
    with pytest.raises(RecordError, match=r"record column\(s\) \['hardware'\] given twice"):
        load_table(write(tmp_path / "twice.csv", "Hardware,hardware,network,latency_s\nA,B,N,0.5\n"))


def test_a_parquet_table_reads_names_and_stated_units_as_a_csv_does(tmp_path, monkeypatch):
    # no Parquet engine needed: the table pandas would read is given
    frame = pd.DataFrame({"Hardware": ["A"], "network": ["N"], "latency [ms]": [2.5]})
    monkeypatch.setattr(pd, "read_parquet", lambda path: frame.copy())
    path = write(tmp_path / "runs.parquet", "")
    with pytest.raises(RecordError, match=r"column 'latency \[ms\]' is read as latency_s"):
        load_table(path, columns={"latency [ms]": "latency_s"})
    result = load_table(path, columns={"latency [ms]": "latency_s"}, units={"latency_s": "ms"})
    assert result.records[["hardware", "latency_s", "source"]].values.tolist() == [["A", 0.0025, "runs.parquet row 0"]]


# --- a placeholder where nothing was measured -----------------------------------------------------------------------

def test_a_placeholder_cell_is_rejected_saying_to_leave_it_empty(tmp_path):
    # '-' is no missing value (pandas does not read it as one): the row is rejected, and the reason says what to do
    result = load_table(write(tmp_path / "runs.csv", "hardware,network,latency_s,throughput_fps\n"
                                                     "A,N,-,400\nB,N,0.5,?\nC,N,,400\n"))
    assert result.records.hardware.tolist() == ["C"]  # the empty cell is missing: fps 400 measures it
    assert result.rejected.reason.tolist() == [
        "latency_s: cannot read '-': unknown number or unit; write e.g. '12 ms' or 0.012; leave the cell empty (or "
        "NA) where nothing was measured",
        "throughput_fps: unknown throughput unit in '?'; write e.g. '5.5 fps', '5.5 inf./sec.' or '2 kfps'; leave the "
        "cell empty (or NA) where nothing was measured"]
    assert result.rejected.source.tolist() == ["runs.csv:2", "runs.csv:3"]


# --- the header as the loader reads it, for checks made before loading ------------------------------------------

def test_table_header_gives_the_names_load_table_reads(tmp_path):
    from rooflinekit.compare.loaders.generic import record_name, table_header

    path = write(tmp_path / "runs.csv", BOM + "Runs 2024;;\n\n Board ;Network;latency [ms]\nA;N;2,5\n")
    header = table_header(path, {"Board": "hardware"})
    assert header == ["Board", "Network", "latency [ms]"]  # title line 1 skipped, spaces dropped, ';' split
    assert [record_name(name, {"Board": "hardware"}) for name in header] == ["hardware", "network", "latency [ms]"]
    assert table_header(write(tmp_path / "empty.csv", "")) == []
