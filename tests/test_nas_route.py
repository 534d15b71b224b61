"""The NAS researcher's route end to end: architecture strings wherever a network name is taken, a CPU calibration
fitted on the command line as the docs recommend, how far the fit is to be trusted, and one warning for records
faster than their bound on every route."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from conftest import NoFit, StopFit
from nb201_measured import ARCH, CONSTANT, MEASURED, measured_records, write_table
from rooflinekit.cli import main
from rooflinekit.compare.calibrate import (
    CalibratedPredictor, CalibrationWarning, calibrate_from_paths, calibration_features, defaults,
)
from rooflinekit.compare.calibrate.features import OP_CLASS_SCHEMES
from rooflinekit.errors import SpecError
from rooflinekit.networks import nb201_network
from rooflinekit.quick import quick_prediction

OTHER = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"
MISSPELT = ARCH.replace("nor_conv_1x1", "conv_1x1")
PI = "Raspberry Pi 4 Model B"
PI_PEAK = 48e9  # fp32 ops/s of the catalog's Raspberry Pi 4 (4 cores x 1.5 GHz x 8 fp32 ops per cycle)
MAPPING = ["--columns", "arch=network,device=hardware,latency_ms=latency_s", "--units", "latency_s=ms",
           "--set", "precision=fp32"]
FAST = "measured faster than the roofline bound"


def run(capsys: pytest.CaptureFixture, *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ops_bound(arch: str) -> float:
    """Network-mode bound (s) of ``arch`` on the Raspberry Pi 4 at batch 1: compute-bound, its counted ops over the
    fp32 peak (its 1.4 MB of weights moved at 12.8 GB/s take 0.11 ms, well under the ops' 2 ms)."""
    return rk.count_network(nb201_network(arch)).totals["ops"] / PI_PEAK


# -- 1. architecture strings wherever a network name is taken ---------------------------------------------------

def test_predict_and_sweep_take_architecture_strings() -> None:
    p = rk.predict(ARCH, PI)
    assert p.network == f"NB201 {ARCH}"  # the name nb201_network gives it
    assert p.latency_s == pytest.approx(ops_bound(ARCH), rel=1e-12)
    table = rk.sweep([ARCH, f"NB201 {OTHER}", f" {OTHER} "], [PI])
    assert table["network"].tolist() == [f"NB201 {ARCH}", f"NB201 {OTHER}", f"NB201 {OTHER}"]
    assert table["latency_s"].to_numpy() == pytest.approx([ops_bound(ARCH), ops_bound(OTHER), ops_bound(OTHER)],
                                                          rel=1e-12)


def test_a_misspelt_op_names_the_op_and_the_allowed_ones(capsys: pytest.CaptureFixture) -> None:
    allowed = "none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"
    with pytest.raises(SpecError, match=f"unknown op 'conv_1x1'; the ops are {allowed}"):
        rk.predict(MISSPELT, PI)
    with pytest.raises(SpecError, match="unknown op 'conv_1x1'"):
        rk.sweep([ARCH, MISSPELT], [PI])
    for command in (["count", MISSPELT], ["predict", MISSPELT, "--hardware", PI],
                    ["sweep", "--models", MISSPELT, "--hardware", PI]):
        code, out, err = run(capsys, *command)
        assert code == 2 and out == ""
        assert "unknown op 'conv_1x1'" in err and allowed in err


def test_cli_predict_sweep_and_count_take_architecture_strings(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "predict", ARCH, "--hardware", PI, "--format", "json")
    assert code == 0
    predicted = json.loads(out)
    assert predicted["network"] == f"NB201 {ARCH}"
    assert predicted["latency_s"] == pytest.approx(ops_bound(ARCH), rel=1e-12)
    code, out, _ = run(capsys, "sweep", "--models", f"{ARCH},{OTHER}", "--hardware", PI, "--format", "json")
    assert code == 0
    assert [row["latency_s"] for row in json.loads(out)] == pytest.approx([ops_bound(ARCH), ops_bound(OTHER)],
                                                                          rel=1e-12)
    code, out, _ = run(capsys, "count", ARCH, "--format", "json")
    assert code == 0
    counted = json.loads(out)
    # stem 3x3 conv 3->16 at 32x32: 9 x 3 x 16 x 1024 MACs = 442,368
    assert counted["network"] == f"NB201 {ARCH}" and counted["layers"][0]["macs"] == 9 * 3 * 16 * 32 * 32
    assert counted["totals"]["ops"] == pytest.approx(ops_bound(ARCH) * PI_PEAK, rel=1e-12)


def test_quick_path_leaves_architecture_strings_to_the_full_path() -> None:
    assert quick_prediction(["predict", ARCH, "--hardware", PI]) is None
    assert quick_prediction(["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]) is not None  # still answers


def test_models_help_says_architecture_strings_are_taken(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "--help"]) == 0
    assert "NAS-Bench-201" in " ".join(capsys.readouterr().out.split())


# -- 2. the CPU calibration the docs recommend, on the command line ---------------------------------------------

def test_cli_calibrate_fits_fine_classes_and_both_overheads_as_python_does(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = write_table(tmp_path / "measured.csv")
    out = tmp_path / "calib.json"
    code, _, _ = run(capsys, "calibrate", str(table), *MAPPING, "--out", str(out), "--op-classes", "fine",
                     "--kernel-overhead", "10us", "--call-overhead", "1e-3", "--quiet")
    assert code == 0
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["params"]["op_classes"] == "fine"
    assert saved["params"]["kernel_overhead_ref_s"] == pytest.approx(1e-5, rel=1e-15)
    assert saved["params"]["call_overhead_ref_s"] == pytest.approx(1e-3, rel=1e-15)
    # the classes: fine op classes of these networks (conv, BN and ReLU as elementwise, pools, the classifier)
    # and the two overhead terms
    assert set(saved["classes"]) == {"conv/fp32", "elementwise/fp32", "fully_connected/fp32", "pool/fp32",
                                     "kernel_overhead", "call_overhead"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        python = calibrate_from_paths([table], columns={"arch": "network", "device": "hardware",
                                                        "latency_ms": "latency_s"}, units={"latency_s": "ms"},
                                      constants={"precision": "fp32"}, op_classes="fine",
                                      kernel_overhead_ref_s=1e-5, call_overhead_ref_s=1e-3)
    assert saved["theta0"] == pytest.approx(python.theta0_, rel=1e-12)


def test_cli_calibrate_default_keeps_coarse_classes_and_no_overhead(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "calib.json"
    code, _, _ = run(capsys, "calibrate", str(write_table(tmp_path / "m.csv")), *MAPPING, "--out", str(out),
                     "--quiet")
    assert code == 0
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["params"]["op_classes"] == "coarse"
    assert saved["params"]["kernel_overhead_ref_s"] is None and saved["params"]["call_overhead_ref_s"] is None


@pytest.mark.parametrize("value", ["0", "-1ms", "5 MB", "abc", "inf"])
def test_cli_calibrate_refuses_a_time_that_is_not_one(value: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["calibrate", str(tmp_path / "m.csv"), "--out", str(tmp_path / "c.json"), "--kernel-overhead",
                 value]) == 2
    assert "--kernel-overhead" in capsys.readouterr().err


def test_cli_op_class_choices_are_the_schemes(capsys: pytest.CaptureFixture) -> None:
    assert main(["calibrate", "--help"]) == 0
    assert f"--op-classes {{{','.join(OP_CLASS_SCHEMES)}}}" in capsys.readouterr().out


# -- 3. how far the fit is to be trusted -------------------------------------------------------------------------

def test_cli_calibrate_reports_the_held_out_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The 'a new device' row, derived by hand as tests/test_nas_trial does: each device predicted by a fit on the
    other alone (the CLI's default settings are CalibratedPredictor's)."""
    table = write_table(tmp_path / "measured.csv")
    records = measured_records(("Raspberry Pi 4", "Pixel 3"))
    features, _ = calibration_features(records, {})
    ape = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        for device in features["catalog_hardware"].unique():
            held = features["catalog_hardware"] == device
            alone = CalibratedPredictor(interval_coverage=None).fit(features[~held])
            ape += list(100 * np.abs(alone.predict(features[held]) / features.loc[held, "latency_s"] - 1))
    code, out, _ = run(capsys, "calibrate", str(table), *MAPPING, "--out", str(tmp_path / "c.json"),
                       "--format", "json", "--quiet")
    assert code == 0
    held_out = {row["held_out"]: row for row in json.loads(out)["held_out"]}
    assert held_out["a new device"]["n"] == 16
    assert held_out["a new device"]["median_ape_pct"] == pytest.approx(np.median(ape), rel=1e-9)
    assert held_out["a new device"]["within_25_pct"] == pytest.approx(100 * np.mean(np.array(ape) <= 25))
    assert held_out["a new network on known devices"]["n"] == 16

    code, out, _ = run(capsys, "calibrate", str(table), *MAPPING, "--out", str(tmp_path / "c.json"), "--quiet")
    lines = out.splitlines()
    assert code == 0 and lines[1].startswith("in-sample error: median ") and "the records the fit saw" in lines[1]
    assert lines[-3].startswith("cross-validated error on the records") and lines[-4] == ""  # after the factors
    assert lines[-2] == (f"  a new device: median {np.median(ape):.1f} %, within 25 % "
                         f"{100 * np.mean(np.array(ape) <= 25):.0f} % of 16 held-out predictions")
    assert lines[-1].startswith("  a new network on known devices: median ")


def test_cli_calibrate_says_when_nothing_could_be_held_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = tmp_path / "one.csv"  # one record: no other to predict it from
    table.write_text(f"arch,device,batch,latency_ms\n{ARCH},Raspberry Pi 4,1,30\n", encoding="utf-8")
    code, out, _ = run(capsys, "calibrate", str(table), *MAPPING, "--out", str(tmp_path / "c.json"), "--quiet")
    assert code == 0 and "cross-validated error: none, too few records to hold any out" in out
    code, out, _ = run(capsys, "calibrate", str(table), *MAPPING, "--out", str(tmp_path / "c.json"), "--quiet",
                       "--format", "json")
    assert json.loads(out)["held_out"] == []


# -- 4. records faster than their bound: one warning on every route ---------------------------------------------

def fast_records() -> pd.DataFrame:
    """Eight measured records and one a constant-output cell measured at a quarter of its roofline bound."""
    rows = [{"hardware": "Raspberry Pi 4", "network": arch, "precision": "fp32", "batch": 1, "latency_s": ms / 1e3}
            for arch, ms, _ in MEASURED]
    return pd.DataFrame([*rows, {"hardware": "Raspberry Pi 4", "network": CONSTANT, "precision": "fp32",
                                 "batch": 1, "latency_s": 1e-6}])


def faster_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning) and FAST in str(w.message)]


def test_features_and_a_bare_fit_warn_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features, _ = calibration_features(fast_records(), {})
        CalibratedPredictor().fit(features)
    said = faster_warnings(caught)
    assert len(said) == 1 and said[0].startswith(f"1 record {FAST}")
    assert "NAS-Bench-201 network whose cells' output does not depend on their input" in said[0]


def test_calibrate_from_paths_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    fast_records().to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibrate_from_paths([path])
    said = faster_warnings(caught)
    assert len(said) == 1 and "records.csv:10" in said[0]  # its source: the header, then the 9th row


def test_cli_calibrate_warns_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "records.csv"
    fast_records().to_csv(path, index=False)
    code, _, err = run(capsys, "calibrate", str(path), "--out", str(tmp_path / "c.json"))
    assert code == 0 and err.count(FAST) == 1


def test_features_extended_into_the_shipped_calibration_warn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """calibration_features warned; extend_default_calibration does not again (features built otherwise it still
    checks: tests/test_tinyml_trial.py)."""
    records = pd.DataFrame([{"hardware": "NUCLEO-F767ZI", "network": "LeNet-MNIST", "precision": "int8",
                             "latency_s": 1e-9}])  # far under any bound
    monkeypatch.setattr(defaults, "CalibratedPredictor", NoFit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features, _ = calibration_features(records, {})
        with pytest.raises(StopFit):
            defaults.extend_default_calibration(features[features["latency_s"] > 0].copy())  # a selection, a copy
    assert len(faster_warnings(caught)) == 1


def test_a_query_without_measurements_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        calibration_features(fast_records().drop(columns="latency_s"), {})
