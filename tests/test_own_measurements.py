"""Comparing one's own measurements: a TinyML engineer's board described in a hardware YAML file, the MLPerf Tiny
reference models as .tflite files, and records of both put through align/efficiency and calibrate; efficiencies
above 100 %; plain reasons for unparsable numbers; and what a calibrated prediction says about the release it
used. Each test failed on the code before it; expected values are derived by hand in the comments, or computed by
a function other than the one under test (rk.predict for a bound, the calibration's own newest_releases_)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

import rooflinekit as rk
from conftest import one_error, run, shared_data
from rooflinekit.compare import align, calibrate_from_paths, load_table
from rooflinekit.compare.calibrate import default_calibration
from rooflinekit.errors import CalibrationError, CalibrationWarning, RecordError

BOARD = ("hardware:\n  - name: My-Board\n    kind: MCU\n    core_type: Cortex-M7\n    source: test\n"
         "    peak_ops_per_s: {int8: 1 GOPS}\n    memories:\n"
         "      - {name: Flash, capacity_bytes: 2 MiB, bandwidth_bytes_per_s: 1e18, stores: [weights], source: test}\n"
         "      - {name: SRAM, capacity_bytes: 1 MiB, bandwidth_bytes_per_s: 1e18, on_chip: true, "
         "stores: [activations], source: test}\n")
"""A board the catalog lacks: 1 GOPS int8 and memories too fast to bound anything (every layer compute-bound)."""


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding my_board.yaml and ad01_int8.tflite, as the trial's."""
    monkeypatch.chdir(tmp_path)
    Path("my_board.yaml").write_text(BOARD, encoding="utf-8")
    shutil.copy(shared_data("mlperf_tiny") / "models" / "ad01_int8.tflite", "ad01_int8.tflite")
    return tmp_path


def _records(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {"hardware": "my_board.yaml", "network": "ad01_int8.tflite", "pruning_pct": 100.0,
                               "precision": "int8", "batch": 1}
    rows = max((len(v) for v in columns.values() if isinstance(v, list)), default=1)
    return pd.DataFrame({**base, **columns}, index=range(rows))


def _bound_fps() -> float:
    """ad01_int8 on My-Board, predicted by rk.predict (not by align): fps = 1 GOPS / ops per frame."""
    return rk.predict("ad01_int8.tflite", "my_board.yaml").fps


# -- 1. a record names a hardware YAML file and a model file ---------------------------------------------------------

def test_a_record_naming_a_hardware_file_matches_the_prediction_for_its_spec(trial: Path) -> None:
    # was: 'no prediction with this hardware (hardware 'myboard.yaml', ...)': the file was compared as a name.
    # A latency 2x the bound's 1/fps is an efficiency of 50 %.
    predictions = pd.DataFrame([rk.predict("ad01_int8.tflite", "my_board.yaml").to_dict()])
    latency = 2 / _bound_fps()
    result = align(predictions, _records(hardware=["my_board.yaml", "./my_board.yaml"], latency_s=latency))
    assert result.unmatched_records.empty
    assert result.matched["efficiency_pct"].tolist() == pytest.approx([50.0, 50.0], rel=1e-12)


def test_a_hardware_file_that_cannot_be_read_is_the_records_reason(trial: Path) -> None:
    predictions = pd.DataFrame([rk.predict("ad01_int8.tflite", "my_board.yaml").to_dict()])
    result = align(predictions, _records(hardware="my_bord.yaml", latency_s=1.0))
    assert result.unmatched_records["reason"].iloc[0].startswith("hardware file 'my_bord.yaml': my_bord.yaml: no "
                                                                 "such file")


def test_each_hardware_file_is_read_once(trial: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rooflinekit.api as api

    predictions = pd.DataFrame([rk.predict("ad01_int8.tflite", "my_board.yaml").to_dict()])
    reads: list[object] = []
    original = api.resolve_hardware

    def counting(hardware: object) -> rk.HardwareSpec:
        reads.append(hardware)
        return original(hardware)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "resolve_hardware", counting)
    records = _records(batch=[1, 2, 4], latency_s=[1.0, 2.0, 4.0])
    predictions = pd.concat([predictions.assign(batch=b) for b in (1, 2, 4)], ignore_index=True)
    # three records and three predictions name the file or its spec: the file is read once
    assert len(align(predictions, records).matched) == 3
    assert reads == ["my_board.yaml"]


def test_a_model_file_record_matches_by_stem_and_by_its_record_name_through_models(trial: Path) -> None:
    # was: the record's 'ad01_int8.tflite' was compared as a name ('ad01int8.tflite'), and 'ad01' met nothing.
    # A latency equal to the bound's 1/fps is 100 %.
    predictions = pd.DataFrame([rk.predict("ad01_int8.tflite", "my_board.yaml").to_dict()])
    latency = 1 / _bound_fps()
    by_stem = align(predictions, _records(network=["ad01_int8.tflite", "models/ad01_int8.tflite"], latency_s=latency))
    assert by_stem.matched["efficiency_pct"].tolist() == pytest.approx([100.0, 100.0], rel=1e-12)
    by_name = _records(network="ad01", latency_s=latency)
    assert len(align(predictions, by_name).matched) == 0  # 'ad01' is no catalog network and no file
    with_models = align(predictions, by_name, models=["ad01_int8.tflite"])
    assert with_models.matched["efficiency_pct"].tolist() == pytest.approx([100.0], rel=1e-12)
    with pytest.raises(RecordError, match=r"models must be a list of model files or folders, got the single path "
                                          r"'ad01_int8\.tflite'; wrap it in a list"):
        align(predictions, by_name, models="ad01_int8.tflite")


def test_cli_align_reads_the_model_file_and_hardware_file_a_record_names(trial: Path, capsys) -> None:
    # was: "unknown model 'ad01_int8.tflite'" for the trial's command, and no --models option.
    # 2x the bound's latency, written in us: 50 %.
    latency_us = 2e6 / _bound_fps()
    Path("my_runs.csv").write_text("model_file,device,latency_us\n"
                                   f"ad01_int8.tflite,my_board.yaml,{latency_us!r}\n"
                                   "kws_ref_model.tflite,my_board.yaml,1000\n", encoding="utf-8")
    mapping = ["--columns", "model_file=network,device=hardware,latency_us=latency_s", "--units", "latency_s=us"]
    code, out, _ = run(capsys, "align", "my_runs.csv", *mapping, "--format", "json")
    payload = json.loads(out)
    assert code == 0 and [row["efficiency_pct"] for row in payload["matched"]] == pytest.approx([50.0], rel=1e-9)
    assert [row["reason"] for row in payload["unmatched_records"]] == [
        "model file 'kws_ref_model.tflite': not in the working folder, and no --models file has its stem "
        "'kws_ref_model'; give its path relative to the working folder, or the file (or its folder) with --models "
        "PATH"]
    # a record naming the network by its MLPerf Tiny name: found through --models only; 4x the latency is 25 %
    Path("by_name.csv").write_text(f"model_file,device,latency_us\nad01,my_board.yaml,{2 * latency_us!r}\n",
                                   encoding="utf-8")
    code, out, _ = run(capsys, "align", "by_name.csv", *mapping, "--format", "json")
    assert json.loads(out)["unmatched_records"][0]["reason"].startswith("unknown model 'ad01'")
    code, out, _ = run(capsys, "align", "by_name.csv", *mapping, "--models", "ad01_int8.tflite", "--format", "json")
    assert [row["efficiency_pct"] for row in json.loads(out)["matched"]] == pytest.approx([25.0], rel=1e-9)


def test_calibrate_reads_the_model_file_a_record_names_by_path(trial: Path) -> None:
    # was: 'no model file matches (model files given: none)' unless --models repeated the file
    Path("runs.csv").write_text("hardware,network,precision,latency_s\nmy_board.yaml,ad01_int8.tflite,int8,0.01\n",
                                encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # one record: too few for an interval
        predictor = calibrate_from_paths(["runs.csv"])
    assert predictor.n_records_ == 1 and predictor.features_["network"].tolist() == ["ad01"]


# -- 2. an efficiency above 100 % ------------------------------------------------------------------------------------

def test_an_efficiency_above_100_percent_warns_with_the_first_row_and_what_to_check() -> None:
    # predicted 100 fps (a 10 ms bound); record 0 measured 4 ms (250 %), record 1 50 ms (20 %), record 2 2 ms
    predictions = pd.DataFrame({"hardware": ["NUCLEO-L4R5ZI"], "network": ["LeNet-MNIST"], "precision": ["int8"],
                                "batch": [1], "fps": [100.0]})
    records = pd.DataFrame({"hardware": "NUCLEO-L4R5ZI", "network": "LeNet-MNIST", "pruning_pct": 100.0,
                            "precision": "int8", "batch": 1, "latency_s": [4e-3, 50e-3, 2e-3],
                            "source": ["runs.csv:2", "runs.csv:3", "runs.csv:4"]})
    with pytest.warns(CalibrationWarning) as caught:
        result = align(predictions, records)
    assert result.matched["efficiency_pct"].tolist() == pytest.approx([250.0, 20.0, 500.0])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("2 records measured faster than the roofline bound of its hardware spec, which no "
                              "board can beat (first: runs.csv:2: NUCLEO-L4R5ZI / LeNet-MNIST: measured 4 ms < bound "
                              "10 ms, 2.5x faster); check the spec's peaks and the bandwidth of the memory its "
                              "weights are read from")
    assert "latency unit" in message and "efficiency_pct is above 100 % (the first's: 250 %)" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        align(predictions, records.iloc[[1]])  # 20 %: possible, no warning
        align(predictions.assign(estimate="calibrated"), records)  # an estimate is no bound: not checked


def test_a_record_at_a_larger_batch_than_its_prediction_is_counted_apart_and_notes_are_quoted() -> None:
    # one batch-1 prediction of 100 fps (10 ms per frame); best_over_batch matches every batch to it. Record 0, batch
    # 1, 4 ms: 250 %, beats its own bound, with a note. Record 1, batch 8, 40 ms: 200 fps, 200 %, but a batch-1
    # bound does not bound batch 8. Record 2, batch 1, 50 ms: 20 %.
    predictions = pd.DataFrame({"hardware": ["NUCLEO-L4R5ZI"], "network": ["LeNet-MNIST"], "precision": ["int8"],
                                "batch": [1], "fps": [100.0]})
    records = pd.DataFrame({"hardware": "NUCLEO-L4R5ZI", "network": "LeNet-MNIST", "pruning_pct": 100.0,
                            "precision": "int8", "batch": [1, 8, 1], "latency_s": [4e-3, 40e-3, 50e-3],
                            "source": ["runs.csv:2", "runs.csv:3", "runs.csv:4"],
                            "notes": ["weights held on chip", None, None]})
    with pytest.warns(CalibrationWarning) as caught:
        result = align(predictions, records, best_over_batch=True)
    assert sorted(result.matched["efficiency_pct"].tolist()) == pytest.approx([20.0, 200.0, 250.0])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("1 record measured faster than the roofline bound of its hardware spec")
    assert "(first: runs.csv:2: NUCLEO-L4R5ZI / LeNet-MNIST: measured 4 ms < bound 10 ms, 2.5x faster)" in message
    assert "with notes on why: 1 of 1 (the first's: 'weights held on chip')" in message
    assert message.endswith("1 record beat a prediction made at a smaller batch, which bounds only its own batch "
                            "(weights are read once per batch, so a memory-bound network's bound grows with the "
                            "batch): predict at each record's batch (sweep batches=...) and align without "
                            "best_over_batch to check them")
    with pytest.warns(CalibrationWarning) as caught:  # only the batch-8 record beats the batch-1 prediction
        align(predictions, records.iloc[[1, 2]], best_over_batch=True)
    assert str(caught[0].message).startswith("1 record beat a prediction made at a smaller batch")


def test_cli_efficiency_warns_of_the_trials_297_percent(trial: Path, capsys) -> None:
    # measured at a third of the bound's latency: 300 %
    latency = 1 / (3 * _bound_fps())
    Path("runs.csv").write_text(f"hardware,network,latency_s\nmy_board.yaml,ad01_int8.tflite,{latency!r}\n",
                                encoding="utf-8")
    code, out, err = run(capsys, "efficiency", "runs.csv", "--format", "csv")
    assert code == 0 and pd.read_csv(pd.io.common.StringIO(out))["efficiency_median_pct"].iloc[0] == \
        pytest.approx(300.0, rel=1e-9)
    assert len(err) == 1 and err[0].startswith("warning: 1 record measured faster than the roofline bound")
    assert "(first: runs.csv:2: my_board.yaml / ad01_int8.tflite: " in err[0] and "3x faster" in err[0]


# -- 3. left-out rows: plain reasons, --models only for a network ---------------------------------------------------

def test_calibrate_with_an_unparsable_batch_gives_a_plain_reason_and_no_models_advice(tmp_path: Path,
                                                                                     capsys) -> None:
    # was: "batch: Input should be a valid integer, unable to parse string as an integer (got 'one')" and an error
    # ending "or give the networks' model files (--models PATH ...)", which cannot help
    records = tmp_path / "r.csv"
    records.write_text("hardware,network,latency_s\nNUCLEO-L4R5ZI,LeNet-MNIST,0.01\n", encoding="utf-8")
    code, _, err = run(capsys, "calibrate", records, "--set", "batch=one", "--out", tmp_path / "c.json")
    assert code == 2
    assert err[0] == ("warning: 1 record left out of the calibration (0 used): 1 x batch: cannot read 'one' as a "
                      "number; give the frames per inference call, a whole number such as 1 or 8")
    assert one_error(err) == ("rooflinekit: error: r.csv: no record to fit, all 1 were left out (reasons in the "
                              "warning); fix those rows")


def test_a_record_of_an_unknown_network_still_offers_model_files(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("hardware,network,precision,latency_s\nNUCLEO-L4R5ZI,NoSuchNet,int8,0.01\n", encoding="utf-8")
    with pytest.warns(CalibrationWarning), pytest.raises(CalibrationError) as caught:
        calibrate_from_paths([records])
    assert str(caught.value).endswith("fix those rows, or give the networks' model files (--models PATH on the "
                                      "command line, models= in Python)")


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("batch", "one", "batch: cannot read 'one' as a number; give the frames per inference call, a whole number "
                     "such as 1 or 8"),
    ("batch", "1.5", "batch: must be a whole number of frames per inference call (such as 1 or 8), got 1.5"),
    ("accuracy_top1_pct", "abc", "accuracy_top1_pct: cannot read 'abc' as a percentage such as 71.2 or '71.2%'"),
])
def test_an_unparsable_number_is_one_plain_line(tmp_path: Path, column: str, value: str, reason: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"hardware,network,latency_s,{column}\nNUCLEO-L4R5ZI,LeNet-MNIST,0.01,{value}\n", encoding="utf-8")
    assert load_table(path).rejected["reason"].tolist() == [reason]


def test_numbers_written_as_text_are_still_read(tmp_path: Path) -> None:
    # '8.0' is batch 8 (as pydantic read it), '71.2%' a percentage like pruning_pct's '80%'
    path = tmp_path / "r.csv"
    path.write_text("hardware,network,latency_s,batch,accuracy_top1_pct\nNUCLEO-L4R5ZI,LeNet-MNIST,0.01,8.0,71.2%\n",
                    encoding="utf-8")
    records = load_table(path).records
    assert records["batch"].tolist() == [8] and records["accuracy_top1_pct"].tolist() == [71.2]


# -- 4. a calibrated prediction says which release it used -----------------------------------------------------------

def _newest_tflm_release() -> str:
    """The release the shipped MCU calibration falls back to for TFLite Micro: its newest, as fitted."""
    return default_calibration(rk.get_hardware("NUCLEO-L4R5ZI")).newest_releases_["TFLite Micro"]


def test_python_and_cli_say_which_release_a_calibrated_prediction_used(capsys) -> None:
    # was: Prediction.notes == () and the CLI's framework_version '-', the release only inside a levels line
    release = _newest_tflm_release()
    with pytest.warns(CalibrationWarning):
        prediction = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", precision="int8", calibrated=True,
                                framework="TFLite Micro")
    note = (f"framework_version: none given; the factors of TFLite Micro release {release} were used, the newest it "
            "was calibrated on (framework_version= / --framework-version picks another)")
    # after the notes that no MCU record ran LeNet-MNIST (a wider interval) and that it does less work per kernel
    # than the MLPerf Tiny records (tests/test_network_extrapolation.py)
    assert prediction.notes[2:] == (note,)
    assert prediction.notes[0].startswith("interval: no MCU record of the calibration ran LeNet-MNIST ")
    assert prediction.notes[1].startswith("extrapolated: LeNet-MNIST does ")
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-L4R5ZI", "--precision", "int8",
                       "--calibrated", "--framework", "TFLite Micro", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["framework_version"] is None and payload["release_used"] == release
    assert payload["notes"] == list(prediction.notes)
    assert payload["calibration_levels"] == list(prediction.calibration_levels)
    code, out, _ = run(capsys, "predict", "LeNet-MNIST", "--hardware", "NUCLEO-L4R5ZI", "--precision", "int8",
                       "--calibrated", "--framework", "TFLite Micro")
    assert f"release_used        {release}" in out and f"note: {note}" in out


def test_a_calibrated_release_given_needs_no_note() -> None:
    release = _newest_tflm_release()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # the system level may fall back
        prediction = rk.predict("LeNet-MNIST", "NUCLEO-L4R5ZI", precision="int8", calibrated=True,
                                framework="TFLite Micro", framework_version=release)
    assert not any(note.startswith("framework_version:") for note in prediction.notes)
