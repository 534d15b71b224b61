"""Energy per inference, energy-versus-latency fits and Pareto frontiers."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooflinekit.compare import energy_from_power, energy_latency_fit, pareto_front
from rooflinekit.compare.pareto import pareto_front as pareto_front_of_module
from rooflinekit.errors import RecordError


def test_energy_from_power():
    records = pd.DataFrame({
        "batch": [1, 4, 1, 1, 1], "power_w": [2.0, 2.0, 2.0, np.nan, 3.0],
        "latency_s": [0.5, 0.5, np.nan, 0.1, 0.2], "throughput_fps": [2.0, 8.0, 4.0, 10.0, 5.0],
        "energy_j": [np.nan, np.nan, np.nan, np.nan, 7.0],
    })
    out = energy_from_power(records)
    assert out.energy_j.tolist()[:3] == [1.0, 0.25, 0.5]  # 2 W x 0.5 s; per frame of 4; 2 W / 4 fps
    assert np.isnan(out.energy_j.iloc[3]) and out.energy_j.iloc[4] == 7.0
    assert out.energy_source.tolist()[:3] == ["power x latency", "power x latency", "power / throughput"]
    assert out.energy_source.iloc[3] is None and out.energy_source.iloc[4] == "measured"  # None on pandas 2 and 3
    assert records.energy_j.isna().sum() == 4  # the input is not modified


def test_energy_latency_fit():
    records = pd.DataFrame({
        "hardware": ["A"] * 4 + ["B"], "batch": [1, 1, 2, 1, 1],
        "latency_s": [0.1, 0.2, 0.6, np.nan, 0.1], "energy_j": [0.35, 0.65, 0.95, 1.0, 0.5],
    })
    fit = energy_latency_fit(records).set_index("hardware")
    assert list(fit.columns) == ["n", "slope_w", "intercept_j", "r2", "status"]
    a = fit.loc["A"]  # energy = 3 W x latency per frame + 0.05 J
    assert (a.n, a.status) == (3, "ok")
    assert (a.slope_w, a.intercept_j, a.r2) == (pytest.approx(3.0), pytest.approx(0.05), pytest.approx(1.0))
    assert fit.loc["B"].status == "not fitted: 1 distinct latencies, need 2" and np.isnan(fit.loc["B"].slope_w)


def test_energy_errors():
    with pytest.raises(RecordError, match=r"^records lack columns \['power_w'\]; they have \['batch'\]$"):
        energy_from_power(pd.DataFrame({"batch": [1]}))
    with pytest.raises(RecordError, match=r"^records lack columns \['energy_j'\]; they have"):
        energy_latency_fit(pd.DataFrame({"hardware": ["A"], "latency_s": [1.0], "batch": [1]}))


def test_pareto_front_lives_in_its_own_module():
    assert pareto_front is pareto_front_of_module


def test_pareto_front_small_example():
    frame = pd.DataFrame({"latency_s": [1.0, 2.0, 2.0, 3.0, 1.0, np.nan],
                          "accuracy_top1_pct": [70.0, 80.0, 75.0, 80.0, 70.0, 99.0]}, index=list("abcdef"))
    front = pareto_front(frame, "latency_s", "accuracy_top1_pct")
    assert list(front.index) == ["a", "b", "e"]  # c and d are dominated by b; a and e tie; f has no latency
    both_small = pareto_front(frame, "latency_s", "accuracy_top1_pct", maximize=(False, False))
    assert list(both_small.index) == ["a", "e"]


def test_pareto_errors():
    frame = pd.DataFrame({"x": [1.0], "y": [2.0]})
    with pytest.raises(RecordError, match=r"^rows lack columns \['z'\]; they have \['x', 'y'\]$"):
        pareto_front(frame, "x", "z")
    with pytest.raises(RecordError, match=r"maximize needs one flag per objective \(x, y\), got \(True,\)"):
        pareto_front(frame, "x", "y", maximize=(True,))


def dominates(p, q, maximize) -> bool:
    better_or_equal = all((a >= b) if m else (a <= b) for a, b, m in zip(p, q, maximize))
    return better_or_equal and tuple(p) != tuple(q)


coordinates = st.one_of(st.integers(0, 5).map(float), st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(points=st.lists(st.tuples(coordinates, coordinates), max_size=40),
       maximize=st.tuples(st.booleans(), st.booleans()))
def test_pareto_front_properties(points, maximize):
    frame = pd.DataFrame(points, columns=["x", "y"], dtype="float64")
    front = pareto_front(frame, "x", "y", maximize=maximize)
    front_points = list(front.itertuples(index=False, name=None))
    # no frontier point is dominated by any point
    assert not any(dominates(p, q, maximize) for q in front_points for p in points)
    # every point off the frontier is dominated by some frontier point
    for position, q in enumerate(points):
        if position not in set(frame.index.get_indexer(front.index)):
            assert any(dominates(p, q, maximize) for p in front_points)
    assert list(front.index) == sorted(front.index)
