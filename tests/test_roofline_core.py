"""The vectorized roofline core against the scalar reference, and its invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rooflinekit.roofline import (
    TRAFFIC_MODELS,
    RowTraffic,
    roofline_time_scalar,
    roofline_times,
    traffic_bytes_scalar,
)

amounts = st.just(0.0) | st.floats(min_value=1e-6, max_value=1e15)  # no subnormal quotients
rates = st.floats(min_value=1e-3, max_value=1e16, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw):
    n, levels = draw(st.integers(1, 30)), draw(st.integers(1, 3))
    return (draw(hnp.arrays(np.float64, n, elements=amounts)), draw(hnp.arrays(np.float64, (n, levels), elements=amounts)),
            draw(hnp.arrays(np.float64, n, elements=rates)), draw(hnp.arrays(np.float64, (n, levels), elements=rates)))


@given(problems())
def test_vectorized_equals_scalar_reference(problem):
    ops, moved, peak, bandwidth = problem
    result = roofline_times(ops, moved, peak, bandwidth)
    for i in range(len(ops)):
        time_s, bound = roofline_time_scalar(ops[i], moved[i], peak[i], bandwidth[i])
        assert result.time_s[i] == time_s
        assert result.bound[i] == bound


@given(problems())
def test_attainable_never_exceeds_peak(problem):
    ops, moved, peak, bandwidth = problem
    result = roofline_times(ops, moved, peak, bandwidth)
    busy = result.time_s > 0
    assert np.all(ops[busy] / result.time_s[busy] <= peak[busy] * (1 + 1e-12))
    assert np.all(result.pessimistic_s >= result.time_s)


@given(problems(), st.floats(min_value=1.0, max_value=1e3))
def test_more_bandwidth_or_peak_never_slower(problem, factor):
    ops, moved, peak, bandwidth = problem
    base = roofline_times(ops, moved, peak, bandwidth).time_s
    assert np.all(roofline_times(ops, moved, peak, bandwidth * factor).time_s <= base)
    assert np.all(roofline_times(ops, moved, peak * factor, bandwidth).time_s <= base)


@given(st.integers(1, 12), st.lists(st.integers(1, 64), min_size=1, max_size=4), st.integers(1, 3),
       st.sampled_from(sorted(TRAFFIC_MODELS)), st.data())
def test_traffic_models_equal_scalar_reference(n, batches, n_levels, name, data):
    sizes = st.just(0.0) | st.floats(1e-6, 1e9)
    weights = data.draw(hnp.arrays(np.float64, (n, len(batches), n_levels), elements=sizes))
    acts = data.draw(hnp.arrays(np.float64, n, elements=sizes))
    state = data.draw(hnp.arrays(np.float64, n, elements=sizes))
    level = st.integers(0, n_levels - 1)
    act_level, state_level = (data.draw(hnp.arrays(np.int64, n, elements=level)) for _ in range(2))
    on_chip = data.draw(hnp.arrays(np.int64, n, elements=st.integers(-1, n_levels - 1)))
    capacity = data.draw(hnp.arrays(np.float64, n, elements=st.floats(1, 1e10)))
    rows = RowTraffic(weights, acts, act_level, state, state_level, on_chip, capacity, np.array(batches, float))
    moved = TRAFFIC_MODELS[name].moved_bytes(rows)
    for r in range(n):
        for i, b in enumerate(batches):
            expected = traffic_bytes_scalar(weights[r, i], acts[r], state[r], b, act_level[r], state_level[r],
                                            name != "weights_only", on_chip[r] if name == "on_chip_if_fits" else -1,
                                            capacity[r])
            assert moved[r, i].tolist() == pytest.approx(expected)


def test_qutibench_memory_bound_cell():
    # ZCU102 DPU, ResNet-50 INT8: OI 302.71 ops/B, 7.72 GOP/frame, 19.2 GB/s, 6.71 TOP/s.
    # Memory time 7.72e9 / 302.71 / 19.2e9 = 1.3283 ms > compute 7.72e9 / 6.71e12 = 1.1505 ms -> 752.85 fps
    ops = np.array([7.72e9])
    result = roofline_times(ops, np.array([[7.72e9 / 302.71]]), np.array([6.71e12]), np.array([19.2e9]))
    assert 1 / result.time_s[0] == pytest.approx(752.853886, rel=1e-6)
    assert result.bound[0] == 0


def test_compute_bound_ties_go_to_compute():
    result = roofline_times(np.array([10.0]), np.array([[5.0]]), np.array([10.0]), np.array([5.0]))
    assert result.bound[0] == -1
