"""Error metrics on hand-computed cases, folds, the naive baseline and the MLPerf Tiny cross-validation."""

from __future__ import annotations

import importlib.util
import math
import re

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from rooflinekit.compare.evaluate import (
    MedianCyclesPerMac, ape_pct, cross_val_predict, error_metrics, leave_one_group_out, spearman,
)
from rooflinekit.errors import CalibrationError


def test_ape_pct_by_hand():
    # |1.1/1 - 1| = 10 %, |1.5/2 - 1| = 25 %, |4/4 - 1| = 0 %
    np.testing.assert_allclose(ape_pct([1, 2, 4], [1.1, 1.5, 4]), [10, 25, 0])


def test_error_metrics_by_hand():
    # APE 5, 10, 20, 30, 50: median 20; <= 10: 2 of 5; <= 25: 3 of 5; the predictions rank as the measurements do
    metrics = error_metrics([1, 2, 3, 4, 5], [1.05, 1.8, 3.6, 5.2, 7.5])
    assert metrics == pytest.approx({"n": 5, "median_ape_pct": 20, "within_10_pct": 40, "within_25_pct": 60,
                                     "spearman": 1.0})


def test_spearman_against_hand_ranking():
    # ranks of b: 1 3 2 5 4; sum d^2 = 0 + 1 + 1 + 1 + 1 = 4; rho = 1 - 6 * 4 / (5 * (25 - 1)) = 0.8
    assert spearman([10, 20, 30, 40, 50], [1, 3, 2, 5, 4]) == pytest.approx(0.8)
    # ties share their average rank: ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4) -> 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9))
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_ignores_pandas_index_labels():
    assert spearman(pd.Series([1.0, 2.0, 3.0], index=[7, 8, 9]), np.array([1.0, 2.0, 3.0])) == pytest.approx(1)


@pytest.mark.parametrize(("measured", "predicted", "message"), [
    ([1, 2], [1], r"1-D of equal length, got shapes \(2,\) and \(1,\)"),
    ([], [], "no rows to score"),
    ([1, 0], [1, 1], "row 1: measured must be positive and both finite, got measured 0.0"),
    ([1, 2], [1, np.nan], "row 1: .* predicted nan"),
])
def test_metrics_reject_bad_input(measured, predicted, message):
    with pytest.raises(CalibrationError, match=message):
        error_metrics(measured, predicted)


def test_leave_one_group_out_in_order_of_first_appearance():
    folds = [(train.tolist(), test.tolist()) for train, test in leave_one_group_out(["a", "b", "a", "c"])]
    assert folds == [([1, 3], [0, 2]), ([0, 2, 3], [1]), ([0, 1, 2], [3])]
    with pytest.raises(CalibrationError, match="group labels must not be missing"):
        list(leave_one_group_out(["a", None]))


def baseline_rows() -> pd.DataFrame:
    # cycles per MAC = latency * clock / macs: 2, 4, 6 on family X, 10 on family Y
    return pd.DataFrame({"core_family": ["X", "X", "X", "Y"], "macs": [1e6] * 4, "spec_clock_hz": [1e8] * 4,
                         "latency_s": [0.02, 0.04, 0.06, 0.10]})


def test_median_cycles_per_mac_baseline():
    rows = baseline_rows()
    baseline = MedianCyclesPerMac().fit(rows)
    assert baseline.cycles_per_mac_ == pytest.approx({"X": 4, "Y": 10})
    assert baseline.global_cycles_per_mac_ == pytest.approx(5)  # median of 2, 4, 6, 10
    unseen = rows.head(1).assign(core_family="Z", macs=2e6)
    assert baseline.predict(unseen) == pytest.approx([5 * 2e6 / 1e8])
    with pytest.raises(CalibrationError, match="not fitted yet"):
        MedianCyclesPerMac().predict(rows)
    with pytest.raises(CalibrationError, match="no records to fit the cycles-per-MAC baseline"):
        MedianCyclesPerMac().fit(rows.iloc[:0])
    with pytest.raises(CalibrationError, match="needs a positive latency_s, spec_clock_hz and macs on every row"):
        MedianCyclesPerMac().fit(rows.assign(spec_clock_hz=[1e8, np.nan, 1e8, 1e8]))


def test_cross_val_predict_by_hand():
    rows = baseline_rows()
    # leave one row out: X rows get the median of the other two X rows; Y (alone) gets the global median of X rows
    predicted = cross_val_predict(rows, MedianCyclesPerMac, ["r0", "r1", "r2", "r3"])
    np.testing.assert_allclose(predicted * 1e8 / 1e6, [5, 4, 3, 4])
    with pytest.raises(CalibrationError, match="a single group holds every row"):
        cross_val_predict(rows, MedianCyclesPerMac, ["g"] * 4)
    with pytest.raises(CalibrationError, match="3 group labels for 4 rows"):
        cross_val_predict(rows, MedianCyclesPerMac, ["a", "b", "c"])


def test_mlperf_tiny_crossval_meets_the_acceptance_thresholds(mlperf_dir, capsys):
    spec = importlib.util.spec_from_file_location("crossval", REPO / "benchmarks" / "mlperf_tiny" / "crossval.py")
    crossval = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crossval)
    assert crossval.main(["--data", str(mlperf_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    last = re.fullmatch(r"LOMO_median_ape_pct=(\d+\.\d+) LOBO_median_ape_pct=(\d+\.\d+)", lines[-1])
    assert last, lines[-1]
    lomo, lobo = map(float, last.groups())
    naive = {cells[1]: float(cells[3]) for cells in map(str.split, lines) if cells[:1] == ["naive"]}
    assert lomo <= 12 and lobo <= 20
    assert lomo < naive["LOMO"] and lobo < naive["LOBO"]
    assert lines[0].startswith("rows=168 systems=43 boards=10")
