"""The vectorized roofline core against the scalar reference, and its invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rooflinekit.roofline import _compiled
from rooflinekit.roofline import (
    TRAFFIC_MODELS,
    RooflineTimes,
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


@st.composite
def wide_problems(draw):
    """As :func:`problems`, with up to 6 levels and a bandwidth of each level shared by every row half the time."""
    n, levels = draw(st.integers(1, 40)), draw(st.integers(1, 6))
    shared = draw(st.booleans())
    return (draw(hnp.arrays(np.float64, n, elements=amounts)),
            draw(hnp.arrays(np.float64, (n, levels), elements=amounts)),
            draw(hnp.arrays(np.float64, n, elements=rates)),
            draw(hnp.arrays(np.float64, levels if shared else (n, levels), elements=rates)))


@given(wide_problems())
def test_fused_kernel_equals_plain_formulas_bit_for_bit(problem):
    """The level-by-level kernel equals the formulas with numpy's reductions over the level axis, exactly."""
    ops, moved, peak, bandwidth = problem
    compute_s, memory_s = ops / peak, moved / bandwidth
    memory_max = memory_s.max(axis=1)
    result = roofline_times(ops, moved, peak, bandwidth)
    np.testing.assert_array_equal(result.compute_s, compute_s)
    np.testing.assert_array_equal(result.memory_s, memory_s)
    np.testing.assert_array_equal(result.time_s, np.maximum(compute_s, memory_max))
    np.testing.assert_array_equal(result.pessimistic_s, memory_s.sum(axis=1) + compute_s)
    np.testing.assert_array_equal(result.bound, np.where(compute_s >= memory_max, -1, memory_s.argmax(axis=1)))


@given(wide_problems(), st.integers(0, 5))
def test_reused_outputs_equal_fresh_ones(problem, spare):
    """Writing into outputs allocated once (larger than needed, holding an earlier result) changes nothing."""
    ops, moved, peak, bandwidth = problem
    fresh = roofline_times(ops, moved, peak, bandwidth)
    out = RooflineTimes.empty(len(ops) + spare, moved.shape[1])
    roofline_times(ops[::-1], moved[::-1], peak[::-1], bandwidth if bandwidth.ndim == 1 else bandwidth[::-1], out=out)
    reused = roofline_times(ops, moved, peak, bandwidth, out=out)
    for a, b in zip(fresh, reused):
        np.testing.assert_array_equal(a, b)
    assert np.shares_memory(reused.time_s, out.time_s)


@pytest.mark.skipif(_compiled._compiled() is None, reason="no compiled kernels: numba absent or ROOFLINEKIT_NO_COMPILE=1")
@given(wide_problems())
def test_compiled_kernel_equals_numpy_bit_for_bit(problem):
    """The optional compiled kernel gives the numpy kernel's bits (the problems are below the size from which
    roofline_times switches to it, so roofline_times here is the numpy path)."""
    ops, moved, peak, bandwidth = problem
    expected = roofline_times(ops, moved, peak, bandwidth)
    out = RooflineTimes.empty(len(ops), moved.shape[1])
    _compiled.roofline_times_compiled(ops, moved, peak, bandwidth, *out)
    for a, b in zip(expected, out):
        np.testing.assert_array_equal(a, b)


def test_large_calls_use_the_compiled_kernel_only_when_it_is_there(monkeypatch):
    """Above the size threshold roofline_times takes the compiled pass when numba is installed, and the same
    result comes from numpy when it is not (ROOFLINEKIT_NO_COMPILE=1 stands in for a missing numba)."""
    rng = np.random.default_rng(1)
    n = _compiled.MIN_ELEMENTS
    ops, peak = rng.uniform(0, 1e9, n), rng.uniform(1e9, 1e12, n)
    moved, bandwidth = rng.uniform(0, 1e7, (n, 3)), rng.uniform(1e9, 1e11, 3)
    with_compiler = roofline_times(ops, moved, peak, bandwidth)
    monkeypatch.setenv("ROOFLINEKIT_NO_COMPILE", "1")
    _compiled._compiled.cache_clear()
    try:
        assert not _compiled.available(n * 3)
        numpy_only = roofline_times(ops, moved, peak, bandwidth)
    finally:
        monkeypatch.delenv("ROOFLINEKIT_NO_COMPILE")
        _compiled._compiled.cache_clear()
    for a, b in zip(with_compiler, numpy_only):
        np.testing.assert_array_equal(a, b)


@st.composite
def grid_kernel_problems(draw):
    """Inputs of predictor._grid_kernels: D data types, K kernels, U distinct columns, N columns, L levels; values
    drawn from a few levels half the time, so that ties between terms and between bound codes happen."""
    d, k, u, n, levels = (draw(st.integers(1, 2)), draw(st.integers(1, 12)), draw(st.integers(1, 3)),
                          draw(st.integers(2, 12)), draw(st.integers(1, 4)))
    few = draw(st.booleans())
    work = st.sampled_from([0.0, 1e6, 2e6, 4e6]) if few else amounts
    speed = st.sampled_from([1e9, 2e9]) if few else rates
    return (draw(hnp.arrays(np.float64, (d, k, u), elements=work)), draw(hnp.arrays(np.float64, (n, d), elements=speed)),
            draw(hnp.arrays(np.float64, (levels, k, u), elements=work)),
            draw(hnp.arrays(np.float64, (n, levels), elements=speed)),
            draw(hnp.arrays(np.int64, n, elements=st.integers(0, u - 1))),
            draw(hnp.arrays(np.float64, k, elements=st.sampled_from([0.0, 1e-6]))))


@pytest.mark.skipif(_compiled._compiled() is None, reason="no compiled kernels: numba absent or ROOFLINEKIT_NO_COMPILE=1")
@given(grid_kernel_problems())
def test_compiled_grid_kernels_equal_numpy_bit_for_bit(problem):
    from rooflinekit.roofline.predictor import _grid_kernels

    for a, b in zip(_grid_kernels(*problem), _compiled.grid_kernels(*problem)):
        np.testing.assert_array_equal(a, b)


@given(grid_kernel_problems())
def test_grid_kernels_equal_the_row_roofline_summed(problem):
    """Per column, the grid kernels' time is the sum over kernels of roofline_times of each kernel's row (with its
    overhead), and the pessimistic time the sum of the rows' pessimistic times."""
    from rooflinekit.roofline.predictor import _grid_kernels

    ops_kd, peak, moved_k, bandwidth, inverse, overhead = problem
    time_s, _, pessimistic_s, _ = _grid_kernels(*problem)
    for j, u in enumerate(inverse):
        compute_s = sum(ops_kd[d, :, u] / peak[j, d] for d in range(len(ops_kd)))
        rows = roofline_times(compute_s, moved_k[:, :, u].T, np.ones(len(compute_s)), bandwidth[j])
        assert time_s[j] == pytest.approx((rows.time_s + overhead).sum(), rel=1e-12)
        assert pessimistic_s[j] == pytest.approx(rows.pessimistic_s.sum(), rel=1e-12)
