"""Many networks evaluated at once on one device: in-order sums, the compiled layer kernel, counts remembered."""

import dataclasses
import functools
import operator
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rooflinekit as rk
from rooflinekit import HardwareSpec, predict, sweep
from rooflinekit.counters import CounterRegistry, UnsupportedOpWarning
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.roofline import CountedNetwork, _compiled, place
from rooflinekit.roofline.core import fold, fold_runs
from rooflinekit.roofline.predictor import evaluate
from rooflinekit.roofline.stacked import Device, Stack, evaluate_devices, evaluate_stacked, layer_totals
from rooflinekit.roofline.traffic import traffic_model
from rooflinekit.roofline.workload import count_once

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")
COMPILED = _compiled._compiled() is not None  # numba installed and not turned off (ROOFLINEKIT_NO_COMPILE)

TOY = HardwareSpec(
    name="toy", kind="MCU", source="test", peak_ops_per_s={"int8": 1e9},
    memories=[
        {"name": "flash", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e8, "on_chip": True,
         "stores": ["weights"], "source": "test"},
        {"name": "SRAM", "capacity_bytes": 1e5, "bandwidth_bytes_per_s": 4e8, "on_chip": True,
         "stores": ["activations"], "source": "test"},
    ],
)


def fc(name, n_in, n_out):
    return Layer(name=name, op="fully_connected", inputs=((1, n_in),), outputs=((1, n_out),),
                 weights=[(n_out, n_in)])


def mlp(name, widths):
    return LayerNetwork(name=name, source="test", precision="int8",
                        layers=tuple(fc(f"l{i}", a, b) for i, (a, b) in enumerate(zip(widths, widths[1:]))))


amounts = st.floats(0, 1e9, allow_nan=False) | st.sampled_from([0.0, 1.0, 3.0])


@st.composite
def runs(draw):
    """Values (N, ...) and the starts of K runs of consecutive rows covering them."""
    lengths = draw(st.lists(st.integers(1, draw(st.sampled_from([2, 4, 20]))), min_size=1, max_size=25))
    tail = draw(st.sampled_from([(), (1,), (2,), (3, 2)]))
    values = draw(hnp.arrays(np.float64, (sum(lengths), *tail), elements=amounts))
    return values, np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths


@given(runs())
def test_fold_runs_adds_each_run_in_row_order(problem):
    """Whichever way it takes, fold_runs gives ((0 + v_first) + v_second) + ... for every run, as fold does."""
    values, starts, lengths = problem
    expected = np.array([functools.reduce(operator.add, list(values[a:a + n]), 0.0 * values[0])
                         for a, n in zip(starts, lengths)])
    np.testing.assert_array_equal(fold_runs(values, starts), expected)
    np.testing.assert_array_equal(fold(values, np.repeat(np.arange(len(lengths)), lengths), len(lengths)), expected)


@st.composite
def layer_problems(draw):
    """Inputs of stacked.layer_totals: S networks of kernels of rows (each with its own bandwidths), B batch sizes,
    L levels; values drawn from a few levels half the time so that ties between terms and between bound codes
    happen."""
    networks = draw(st.lists(st.lists(st.integers(1, 3), min_size=1, max_size=5), min_size=1, max_size=4))
    kernel_rows = [n for network in networks for n in network]
    n_rows, n_b, levels = sum(kernel_rows), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    few = draw(st.booleans())
    work = st.sampled_from([0.0, 1e6, 2e6]) if few else amounts
    speed = st.sampled_from([1e9, 2e9]) if few else st.floats(1e6, 1e13)
    starts = np.concatenate([[0], np.cumsum(kernel_rows)[:-1]]).astype(np.int64)
    kernel_bounds = np.concatenate([[0], np.cumsum([len(n) for n in networks])]).astype(np.int64)
    return (draw(hnp.arrays(np.float64, n_rows, elements=work)), draw(hnp.arrays(np.float64, n_rows, elements=speed)),
            draw(hnp.arrays(np.float64, (n_rows, n_b, levels), elements=work)),
            draw(hnp.arrays(np.float64, n_b, elements=st.sampled_from([1.0, 2.0, 7.0]))),
            starts[kernel_bounds[:-1]], starts, kernel_bounds,
            draw(hnp.arrays(np.float64, len(kernel_rows), elements=st.sampled_from([0.0, 1e-6]))),
            draw(hnp.arrays(np.float64, (len(networks), levels), elements=speed)))


@given(layer_problems())
def test_layer_totals_hand_formulas(problem):
    """Each network's time is the sum over its kernels of max(compute, memory) + overhead, with a kernel's ops and
    bytes the sums over its rows (checked against a plain loop, to rounding)."""
    ops, peak, moved, frames, row_starts, starts, kernel_bounds, overhead, bandwidth = problem
    row_bounds = np.append(row_starts, len(ops))
    totals = layer_totals(ops, peak, moved, frames, row_bounds, starts, kernel_bounds, overhead, bandwidth)
    ends = np.append(starts[1:], len(ops))
    for s in range(len(row_starts)):
        for j, f in enumerate(frames):
            time_s = 0.0
            for k in range(kernel_bounds[s], kernel_bounds[s + 1]):
                rows = slice(starts[k], ends[k])
                compute = sum(ops[rows] * f / peak[rows])
                memory = max(moved[rows, j, :].sum(axis=0) / bandwidth[s])
                time_s += max(compute, memory) + overhead[k]
            assert totals.time_s[s, j] == pytest.approx(time_s, rel=1e-12, abs=1e-300)
            assert totals.ops_total[s, j] == pytest.approx(ops[row_bounds[s]:row_bounds[s + 1]].sum() * f, rel=1e-12)


@pytest.mark.skipif(not COMPILED, reason="no compiled kernels: numba absent or ROOFLINEKIT_NO_COMPILE=1")
@settings(max_examples=60)
@given(layer_problems(), st.booleans())
def test_compiled_layer_totals_equal_numpy_bit_for_bit(problem, add):
    """The compiled layer kernel gives the numpy path's bits; with ``added`` it adds state and activation bytes as
    WeightsAndActivations does before the numpy path runs."""
    ops, peak, moved, frames, row_starts, starts, kernel_bounds, overhead, bandwidth = problem
    row_bounds = np.append(row_starts, len(ops))
    added = None
    if add:
        levels = moved.shape[2]
        rng = np.random.default_rng(len(ops))
        state, activations = rng.uniform(0, 1e4, len(ops)), rng.uniform(0, 1e5, len(ops))
        state_level, activations_level = rng.integers(0, levels, len(ops)), rng.integers(0, levels, len(ops))
        added = (state, state_level, activations, activations_level)
        full = moved.copy()
        rows = np.arange(len(ops))
        full[rows, :, state_level] += state[:, None] * frames[None, :]
        full[rows, :, activations_level] += activations[:, None] * frames[None, :]
    expected = layer_totals(ops, peak, full if add else moved, frames, row_bounds, starts, kernel_bounds, overhead,
                            bandwidth)
    got = _compiled.layer_totals(ops, peak, moved, frames, row_bounds, starts, kernel_bounds, overhead, bandwidth,
                                 added)
    for a, b in zip(expected[:6], got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not COMPILED, reason="no compiled kernels: numba absent or ROOFLINEKIT_NO_COMPILE=1")
@pytest.mark.parametrize("same_weights", [True, False])
def test_compiled_layer_totals_equal_numpy_across_batch_tiles(same_weights):
    """More batch sizes than the compiled kernel carries at a time (several tiles, the last one partial), with the
    weights the same at every batch size (a stride-0 view) or not (spilled weights): the numpy path's bits."""
    rng = np.random.default_rng(7)
    n_b, levels = 2 * _compiled.COLUMN_TILE + 3, 3
    lengths = [3, 1, 4, 2, 5]  # rows of five kernels: two networks, of kernels 0-1 and 2-4
    n_rows = sum(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    row_bounds, kernel_bounds = np.array([0, 4, n_rows]), np.array([0, 2, 5])
    ops, peak = rng.uniform(0, 1e7, n_rows), rng.choice([1e9, 4e9], n_rows)
    frames = rng.integers(1, 1000, n_b).astype(np.float64)
    weights = rng.uniform(0, 1e6, (n_rows, 1 if same_weights else n_b, levels))
    moved = np.broadcast_to(weights, (n_rows, n_b, levels))
    state, activations = rng.uniform(0, 1e4, n_rows), rng.uniform(0, 1e5, n_rows)
    state_level, activations_level = rng.integers(-1, levels, n_rows), rng.integers(0, levels, n_rows)
    overhead, bandwidth = rng.choice([0.0, 1e-6], 5), rng.uniform(1e8, 1e10, (2, levels))
    full = moved.copy()
    rows = np.arange(n_rows)
    has_state = state_level >= 0
    full[rows[has_state], :, state_level[has_state]] += state[has_state, None] * frames[None, :]
    full[rows, :, activations_level] += activations[:, None] * frames[None, :]
    expected = layer_totals(ops, peak, full, frames, row_bounds, starts, kernel_bounds, overhead, bandwidth)
    got = _compiled.layer_totals(ops, peak, moved, frames, row_bounds, starts, kernel_bounds, overhead, bandwidth,
                                 (state, state_level, activations, activations_level))
    for a, b in zip(expected[:6], got):
        np.testing.assert_array_equal(a, b)


def test_device_placement_equals_place():
    """A device's placement from its choices made once per pair is place()'s, errors included."""
    counted = [CountedNetwork.of(rk.get_network(n), p) for n in ("ResNet-20-CIFAR-10", "LeNet-MNIST")
               for p in ("int8", "fp16")]
    for name in HARDWARE:
        hardware = rk.get_hardware(name)
        device = Device.of(hardware)
        for c in counted:
            try:
                expected = place(c, hardware)
            except (rk.errors.PrecisionError, rk.errors.SpecError) as exc:
                with pytest.raises(type(exc), match=re.escape(str(exc))):
                    device.placement(c)
                continue
            got = device.placement(c)
            assert got.engine_names == expected.engine_names
            for field in dataclasses.fields(expected)[1:]:
                a, b = getattr(got, field.name), getattr(expected, field.name)
                np.testing.assert_array_equal(a, b, err_msg=f"{name} {field.name}")
                assert a.dtype == b.dtype, (name, field.name)


NETWORKS = [mlp("a", [100, 1000, 10]), mlp("b", [64, 64]), mlp("c", [300, 200, 100, 50])]


def test_stacked_numbers_hand_computed():
    # network mode, weights only, batch 1 and 4; int8 weights = MACs: a 110,000 (220,000 ops), b 4,096 (8,192 ops)
    # a: flash 110,000 / 1e8 = 1.1 ms at both batches; compute 0.22 ms and 0.88 ms -> 1.1 ms, flash-bound
    # b: flash 4,096 / 1e8 = 40.96 us; compute 8.192 us and 32.768 us -> flash-bound at both
    counted = [CountedNetwork.of(n) for n in NETWORKS[:2]]
    result = evaluate_stacked(Stack.of(counted), Device.of(TOY), np.array([1, 4]), "network",
                              traffic_model("weights_only"))
    np.testing.assert_allclose(result.numbers["latency_s"], [[1.1e-3, 1.1e-3], [40.96e-6, 40.96e-6]], rtol=1e-12)
    np.testing.assert_allclose(result.numbers["fps"], [[1 / 1.1e-3, 4 / 1.1e-3], [1 / 40.96e-6, 4 / 40.96e-6]],
                               rtol=1e-12)
    assert [[result.labels[c] for c in row] for row in result.bound.tolist()] == [["memory:flash"] * 2] * 2
    assert result.errors == (None, None)


HARDWARE = ["ZCU104-DPU", "TX2-maxn", "EdgeTPU-fast", "Jetson AGX Orin 64GB", "STM32N6570-DK", "NUCLEO-F767ZI"]


@pytest.mark.parametrize("mode", ["network", "layer"])
@pytest.mark.parametrize("traffic", ["weights_only", "weights_and_activations", "on_chip_if_fits"])
def test_each_network_of_a_stack_equals_itself_alone(mode, traffic):
    """A network's results do not depend on the networks stacked with it: every segment equals evaluate() of its
    network alone, bit for bit, errors included (a precision the device lacks, a batch-split device, spills)."""
    specs = [*NETWORKS, rk.get_network("ResNet-20-CIFAR-10"), rk.get_network("LeNet-MNIST")]
    counted = [CountedNetwork.of(s, p) for s in specs for p in ("int8", "fp16")]
    batches = np.array([1, 3, 16])
    model = traffic_model(traffic)
    for name in HARDWARE:
        hardware = rk.get_hardware(name)
        stacked = evaluate_stacked(Stack.of(counted), Device.of(hardware), batches, mode, model)
        for s, c in enumerate(counted):
            try:
                alone = evaluate(c, hardware, batches, mode, model)
            except (rk.errors.PrecisionError, rk.errors.SpecError) as exc:
                assert str(stacked.errors[s]) == str(exc), (name, s)
                continue
            assert stacked.errors[s] is None
            for key, values in alone.arrays.items():
                if key in stacked.numbers:
                    np.testing.assert_array_equal(stacked.numbers[key][s], values, err_msg=f"{name} {s} {key}")
            assert [stacked.labels[c] for c in stacked.bound[s]] == alone.arrays["bound"].tolist()
            assert stacked.fits[s].tolist() == alone.arrays["fits"].tolist()
            assert stacked.notes[s * 3:(s + 1) * 3].tolist() == alone.arrays["notes"].tolist()
            assert stacked.engines[s].tolist() == alone.arrays["engines"].tolist()


@pytest.mark.parametrize("mode", ["network", "layer"])
@pytest.mark.parametrize("traffic", ["weights_only", "weights_and_activations", "on_chip_if_fits"])
def test_devices_in_one_pass_equal_each_device_alone(mode, traffic):
    """Devices with different numbers of levels evaluated in one pass (levels padded) give each device's results
    bit for bit; devices that spill or split batches are evaluated on their own."""
    specs = [*NETWORKS, rk.get_network("ResNet-20-CIFAR-10"), rk.get_network("FINN-CNV")]
    stack = Stack.of([CountedNetwork.of(s, p) for s in specs for p in ("int8", "fp32")])
    devices = [Device.of(TOY), *(Device.of(rk.get_hardware(name)) for name in HARDWARE)]
    assert len({len(d.layout.names) for d in devices if d.combinable}) > 1
    batches, model = np.array([1, 2, 64]), traffic_model(traffic)
    together = evaluate_devices(stack, devices, batches, mode, model)
    for device, result in zip(devices, together):
        alone = evaluate_stacked(stack, device, batches, mode, model)
        assert [str(e) for e in result.errors] == [str(e) for e in alone.errors]
        for key in alone.numbers:
            np.testing.assert_array_equal(result.numbers[key], alone.numbers[key], err_msg=key)
        for key in ("bound", "fits", "kernels", "engines", "engine_batches"):
            np.testing.assert_array_equal(getattr(result, key), getattr(alone, key), err_msg=key)
        assert result.notes.tolist() == alone.notes.tolist() and result.labels == alone.labels


def test_sweep_rows_equal_predictions_with_each_networks_own_batch():
    """Networks with different own batches (batch None) are stacked by batch sizes; each row equals predict's."""
    specs = [NETWORKS[0], NETWORKS[1].model_copy(update={"batch": 2}), NETWORKS[2]]
    table = sweep(specs, [TOY, rk.get_hardware("ZCU104-DPU")], ["int8", "fp32"], [None, 5], mode="layer")
    for row in table.itertuples():
        spec = specs[row.Index // 8]
        if row.status != "ok":
            with pytest.raises(rk.errors.PrecisionError, match=row.status.split(";")[0]):
                predict(spec, rk.get_hardware(row.hardware) if row.hardware != "toy" else TOY, row.precision,
                        batch=row.batch, mode="layer")
            continue
        p = predict(spec, rk.get_hardware(row.hardware) if row.hardware != "toy" else TOY, row.precision,
                    batch=row.batch, mode="layer")
        assert (row.latency_s, row.bound, row.notes) == (p.latency_s, p.bound, p.notes)
    assert table.batch.tolist()[:4] == [1, 5, 1, 5] and table.batch.tolist()[8:12] == [2, 5, 2, 5]


def test_counts_are_remembered_per_spec_and_precision():
    spec = mlp("remembered", [10, 20])
    first = count_once(spec, "int8")
    assert count_once(spec, "int8") is first
    assert count_once(spec, "fp16") is not first
    assert count_once(mlp("remembered", [10, 20]), "int8") is not first  # another spec object: counted anew
    mutable = CounterRegistry(dict(rk.counters.DEFAULT_COUNTERS._counters))  # not frozen: never remembered
    assert count_once(spec, "int8", counters=mutable) is not count_once(spec, "int8", counters=mutable)


def test_remembered_counts_warn_as_counting_does():
    spec = LayerNetwork(name="odd", source="test", precision="int8",
                        layers=(fc("a", 10, 10), Layer(name="x", op="no_such_op", inputs=((1, 10),), outputs=((1, 10),))))
    for _ in range(2):
        with pytest.warns(UnsupportedOpWarning, match="odd: 1 layer has an op kind without a counter"):
            count_once(spec, "int8")


def test_identity_memo_keys_by_the_object_and_drops_the_least_recently_used_by_weight():
    from rooflinekit.roofline._remembered import IdentityMemo

    memo: IdentityMemo[str] = IdentityMemo(capacity=5, weight=len)
    a, b, c, twin = [1], [2], [3], [1]  # twin equals a but is another object
    memo.put(a, "k", "aa")
    memo.put(b, "k", "bbb")  # total weight 5: both kept
    assert memo.get(a, "k") == "aa" and memo.get(twin, "k") is None and memo.get(a, "other") is None
    memo.put(c, "k", "cc")  # 7 > 5: b, now the least recently used (a was read), is dropped
    assert (memo.get(a, "k"), memo.get(b, "k"), memo.get(c, "k")) == ("aa", None, "cc")
    memo.put(a, "k", "a")  # replacing a value replaces its weight: 1 + 2, nothing dropped
    assert (memo.get(a, "k"), memo.get(c, "k")) == ("a", "cc")
    memo.put(b, "k", "bbbbbbb")  # heavier than the capacity alone: the last one made is still kept
    assert (memo.get(a, "k"), memo.get(c, "k"), memo.get(b, "k")) == (None, None, "bbbbbbb")


def test_identity_memo_keeps_its_weight_account_under_threads():
    """Eight threads read and fill one small table, switching as often as the interpreter allows: no lookup
    fails and the kept weight is the sum of the kept values' weights (before the lock, a thread's move_to_end
    could meet an entry another thread had just dropped, a KeyError, and the total drifted away from the entries,
    so a table of 2 could be told it held 50)."""
    import sys
    import threading

    from rooflinekit.roofline._remembered import IdentityMemo

    interval = sys.getswitchinterval()
    memo: IdentityMemo[int] = IdentityMemo(capacity=2)
    owners, failures = [object() for _ in range(4)], []

    def work() -> None:
        try:
            for step in range(20_000):
                owner, key = owners[step % 4], step % 3
                if memo.get(owner, key) is None:
                    memo.put(owner, key, step)
        except Exception as error:  # noqa: BLE001 - any failure of a lookup is what this test looks for
            failures.append(error)

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert memo._total == len(memo._entries) <= 2  # every value weighs 1


@pytest.mark.parametrize("mode", ["network", "layer"])
def test_a_network_on_one_peak_reports_that_peak_exactly(mode):
    """The effective peak sum(ops) / sum(ops / peak) rounds a single peak (26e12 came out 25999999999999.996);
    where every row runs at one peak, predict and sweep report it as given."""
    npu = HardwareSpec.model_validate({
        "name": "n", "kind": "NPU", "source": "t", "peak_ops_per_s": {"int8": "26 TOPS"},
        "memories": [{"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "12.8 GB/s", "source": "t"}]})
    assert predict("ResNet-20-CIFAR-10", npu, "int8", mode=mode).peak_ops_per_s == 26e12
    assert sweep(["ResNet-20-CIFAR-10", "LeNet-MNIST"], [npu], ["int8"], mode=mode)["peak_ops_per_s"].tolist() == [
        26e12, 26e12]
