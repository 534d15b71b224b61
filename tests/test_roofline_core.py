"""The vectorized roofline core against the scalar reference, and its invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rooflinekit.roofline import (
    batch_sweep_times,
    roofline_time_scalar,
    roofline_times,
    traffic_bytes,
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


@given(st.integers(1, 20), st.integers(1, 64), st.booleans(), st.booleans(), st.data())
def test_traffic_vectorized_equals_scalar(n, batch, activations, on_chip, data):
    weights = data.draw(hnp.arrays(np.float64, n, elements=st.just(0.0) | st.floats(1e-6, 1e9)))
    acts = data.draw(hnp.arrays(np.float64, n, elements=st.just(0.0) | st.floats(1e-6, 1e9)))
    capacity = data.draw(st.floats(1, 1e10))
    moved = traffic_bytes(weights, acts, batch, 3, 0, 1, activations, np.int64(2) if on_chip else None, capacity)
    for i in range(n):
        expected = traffic_bytes_scalar(weights[i], acts[i], batch, 3, 0, 1, activations, 2 if on_chip else -1,
                                        capacity)
        assert moved[i].tolist() == pytest.approx(expected)


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


@given(st.integers(1, 5), st.integers(1, 6), st.lists(st.integers(1, 512), min_size=1, max_size=5), st.data())
def test_batch_sweep_kernel_equals_scalar_reference(n_hw, n_rows, batches, data):
    ops = data.draw(hnp.arrays(np.float64, n_rows, elements=st.just(0.0) | st.floats(1e-6, 1e12)))
    weights = data.draw(hnp.arrays(np.float64, n_rows, elements=st.just(0.0) | st.floats(1e-6, 1e9)))
    acts = data.draw(hnp.arrays(np.float64, n_rows, elements=st.just(0.0) | st.floats(1e-6, 1e9)))
    peak = data.draw(hnp.arrays(np.float64, (n_hw, n_rows), elements=rates))
    bw_w = data.draw(hnp.arrays(np.float64, n_hw, elements=rates))
    bw_a = data.draw(hnp.arrays(np.float64, n_hw, elements=rates))
    shared = data.draw(hnp.arrays(bool, n_hw))
    bw_a = np.where(shared, bw_w, bw_a)  # a shared level has one bandwidth
    time_s, bound = batch_sweep_times(ops, weights, acts, peak, bw_w, bw_a, shared, np.array(batches))
    for h in range(n_hw):
        # level 0 holds weights; activations go to level 1 unless the hardware has one shared level
        levels, act_level = ((bw_w[h],), 0) if shared[h] else ((bw_w[h], bw_a[h]), 1)
        for r in range(n_rows):
            for i, b in enumerate(batches):
                moved = traffic_bytes_scalar(weights[r], acts[r], b, len(levels), 0, act_level, True)
                expected_s, expected_bound = roofline_time_scalar(ops[r] * b, moved, peak[h, r], levels)
                assert time_s[h, r, i] == pytest.approx(expected_s, rel=1e-12, abs=0)
                terms = sorted([ops[r] * b / peak[h, r]] + [m / bw for m, bw in zip(moved, levels)])
                if terms[-1] != pytest.approx(terms[-2], rel=1e-9):  # bounds agree wherever there is no tie
                    assert bound[h, r, i] == expected_bound
