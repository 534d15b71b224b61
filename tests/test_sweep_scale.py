"""Sweeps at scale: columnar tables, parametric hardware grids, streaming reductions."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit import HardwareSpec
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.errors import RooflineWarning, SpecError
from rooflinekit.roofline import TRAFFIC_MODELS, CountedNetwork, HardwareGrid, _compiled, axis_values, predict, sweep
from rooflinekit.roofline.inert_axes import inert_axes
from rooflinekit.roofline.predictor import evaluate_grid
from rooflinekit.roofline.reductions import Best, Histogram, Pareto

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")
compiled_kernels = _compiled.grid_kernels

# an Edge-TPU-like accelerator: weights cached on chip, spilled to DRAM when they do not fit
SPILL = HardwareSpec(
    name="cache-npu", kind="NPU", source="test", peak_ops_per_s={"int8": 4e12, "fp32": 1e11},
    memories=[
        {"name": "cache", "capacity_bytes": 8e6, "bandwidth_bytes_per_s": 1e11, "on_chip": True,
         "stores": ["weights", "activations"], "spill_to": "DRAM", "source": "test"},
        {"name": "DRAM", "capacity_bytes": 4e9, "bandwidth_bytes_per_s": 4e9, "stores": [], "source": "test"},
    ],
)
NUMBERS = ("fps", "latency_s", "ops", "bytes", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s",
           "latency_optimistic_s", "latency_pessimistic_s")


@pytest.fixture(scope="module")
def networks():
    return [CountedNetwork.of(rk.get_network(name), "int8") for name in ("ResNet-20-CIFAR-10", "LeNet-MNIST")]


def test_axis_values_hand_derived():
    assert axis_values("x", (1e12, 1e14, "log", 3)) == pytest.approx([1e12, 1e13, 1e14], rel=1e-12)
    assert axis_values("x", (1.0, 2.0, "lin", 5)).tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert axis_values("x", [3, 1]).tolist() == [3.0, 1.0]


def test_grid_order_and_spec():
    grid = HardwareGrid.of(SPILL, peak_ops_per_s={"int8": [1e12, 2e12]}, bandwidth_bytes_per_s={"DRAM": [1e9, 2e9, 3e9]},
                           clock_scale=[1.0, 0.5])
    assert grid.shape == (2, 3, 2) and grid.size == 12
    # point 7 = (1, 0, 1): int8 peak 2e12 at half clock, DRAM 1e9
    spec = grid.spec(7)
    assert spec.name == "cache-npu[7]"
    assert spec.peak_ops_per_s[rk.descriptors.DType.INT8] == 1e12
    assert spec.peak_ops_per_s[rk.descriptors.DType.FP32] == 0.5e11
    assert spec.memories[1].bandwidth_bytes_per_s == 1e9 and spec.memories[0].capacity_bytes == 8e6


@pytest.mark.parametrize("mode", ["network", "layer"])
@pytest.mark.parametrize("traffic", ["weights_only", "weights_and_activations", "on_chip_if_fits"])
def test_grid_equals_explicit_specs(networks, mode, traffic):
    grid = HardwareGrid.of(SPILL, peak_ops_per_s={"int8": (1e11, 1e13, "log", 3)},
                           bandwidth_bytes_per_s={"DRAM": [1e9, 1e10], "cache": [1e10, 1e12]},
                           capacity_bytes={"cache": [1e4, 1e5, 1e7]}, clock_scale=[1.0, 0.7])
    table = sweep(networks, [grid], batches=[1, 8], mode=mode, traffic=traffic, chunk_rows=10)
    assert len(table) == 2 * grid.size * 2
    assert (table.status == "ok").all()
    for row in table.itertuples():
        p = predict(networks[row.Index // (grid.size * 2)], grid.spec(row.grid_point), batch=row.batch, mode=mode,
                    traffic=traffic)
        for field in NUMBERS:
            assert getattr(row, field) == pytest.approx(getattr(p, field), rel=1e-12, abs=0), field
        assert (row.bound, bool(row.fits), row.notes, row.kernels) == (p.bound, p.fits, p.notes, p.kernels)
        assert row.engines == ("cache-npu",) and p.engines == (f"cache-npu[{row.grid_point}]",)  # spec names
    assert table["capacity_bytes.cache"].iloc[0] == 1e4
    # spilling happens at the smallest caches: ResNet-20's ~0.27 MB of int8 weights exceed 1e5 bytes
    assert table.notes.map(lambda n: any("streamed from DRAM" in x for x in n)).any()


@pytest.mark.skipif(_compiled._compiled() is None, reason="no compiled kernels: numba absent or ROOFLINEKIT_NO_COMPILE=1")
def test_grid_chunk_with_a_large_sweeps_work_takes_the_compiled_kernel_with_the_same_bits(networks, monkeypatch):
    """A chunk too small for the compiled grid kernel on its own takes it when the sweep's work is large, and its
    results are the numpy kernel's, bit for bit; the grid's chunk (columns, device, distinct columns) is built once
    for every network."""
    grid = HardwareGrid.of(SPILL, peak_ops_per_s={"int8": (1e11, 1e13, "log", 3)},
                           capacity_bytes={"cache": [1e4, 1e5, 1e7]})
    model = rk.roofline.traffic_model("weights_and_activations")
    calls = []
    monkeypatch.setattr(_compiled, "_compiled_kernels", set())  # as in a process that has not compiled it yet
    monkeypatch.setattr(_compiled, "grid_kernels", lambda *args: calls.append(1) or compiled_kernels(*args))
    numpy_path = [evaluate_grid(n, grid, 0, grid.size, [1, 8], "layer", model) for n in networks]
    assert not calls  # 9 points x 2 batches x a few dozen kernels: under MIN_ELEMENTS
    compiled_path = [evaluate_grid(n, grid, 0, grid.size, [1, 8], "layer", model, work=_compiled.MIN_ELEMENTS)
                     for n in networks]
    assert len(calls) == len(networks)
    for a, b in zip(numpy_path, compiled_path):
        for key in NUMBERS:
            np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
        np.testing.assert_array_equal(a.bound_codes, b.bound_codes)
    assert len([key for key in grid._recent if key[0] == "evaluation"]) == 1


def test_grid_on_mcu_sram_sizes(networks):
    # flash (2 MB) stays the largest on-chip level while SRAM grows to 1 MB
    board = rk.get_hardware("NUCLEO-F767ZI")
    grid = HardwareGrid.of(board, capacity_bytes={"SRAM": [1e4, 1e6]})
    table = sweep(networks, [grid], batches=[1, 4], traffic="on_chip_if_fits", mode="layer")
    for row in table.itertuples():
        p = predict(networks[row.Index // 4], grid.spec(row.grid_point), batch=row.batch, mode="layer",
                    traffic="on_chip_if_fits")
        assert row.latency_s == pytest.approx(p.latency_s, rel=1e-12, abs=0)
        assert (row.bound, bool(row.fits), row.notes) == (p.bound, p.fits, p.notes)
    assert not table.fits.iloc[0] and table.fits.iloc[2]  # ResNet-20's activations need more than 10 kB


def test_grid_beside_plain_specs(networks):
    grid = HardwareGrid.of(SPILL, clock_scale=[1.0, 2.0])
    table = sweep(networks[:1], [SPILL, grid], batches=[1])
    assert table.grid_point.tolist() == [-1, 0, 1]
    assert np.isnan(table["clock_scale"].iloc[0]) and table["clock_scale"].iloc[1:].tolist() == [1.0, 2.0]
    assert table.fps.iloc[1] == predict(networks[0], SPILL).fps
    assert table.hardware.astype(str).tolist() == ["cache-npu"] * 3


def test_columnar_types():
    table = sweep([rk.get_network("LeNet-MNIST"), rk.get_network("CNV")], [rk.get_hardware("ZCU104-DPU")],
                  ["int8", "fp32"], [1, 2])
    for column in ("network", "hardware", "precision", "mode", "traffic", "bound", "estimate", "status"):
        assert isinstance(table[column].dtype, pd.CategoricalDtype), column
    assert str(table.fits.dtype) == "boolean"
    failed = table[table.status != "ok"]
    assert len(failed) == 4 and failed.fits.isna().all() and failed.fps.isna().all() and failed.bound.isna().all()
    assert table.engines[table.status == "ok"].map(type).eq(tuple).all()
    # predict is a sweep of one
    p = predict(rk.get_network("LeNet-MNIST"), rk.get_hardware("ZCU104-DPU"), "int8", 2)
    row = table.iloc[1]
    assert [row[f] for f in NUMBERS] == [getattr(p, f) for f in NUMBERS]
    assert (row.bound, row.engine_batches, row.notes) == (p.bound, p.engine_batches, p.notes)


def _normal(table):
    return table.reset_index().astype({c: object for c in table.columns
                                       if isinstance(table[c].dtype, pd.CategoricalDtype)})


REDUCTIONS = {
    "best_per_network": lambda: Best("latency_s", by="network"),
    "best_per_hardware": lambda: Best("fps", "max", by=["hardware", "precision"]),
    "top3": lambda: Best("latency_s", k=3),
    "top2_per_batch": lambda: Best("latency_s", by="batch", k=2),
    "pareto": lambda: Pareto({"latency_s": "min", "peak_ops_per_s": "min"}),
    "pareto3": lambda: Pareto({"latency_s": "min", "bytes": "min", "fps": "max"}),
    "histogram": lambda: Histogram("latency_s", np.logspace(-6, 0, 7), by="network"),
    "best_fitting_or_not": lambda: Best("latency_s", by="network", fitting_only=False),
    "pareto_fitting_or_not": lambda: Pareto({"latency_s": "min", "peak_ops_per_s": "min"}, fitting_only=False),
}
NET_NAMES = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "CNV", "ResNet-50", "MobileNetv1"]
HW_NAMES = ["ZCU104-DPU", "NUCLEO-F767ZI", "TX2-maxn", "EdgeTPU-fast", "NCS"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nets=st.lists(st.sampled_from(NET_NAMES), min_size=1, max_size=3, unique=True),
       hws=st.lists(st.sampled_from(HW_NAMES), min_size=1, max_size=3, unique=True),
       batches=st.lists(st.integers(1, 64), min_size=1, max_size=3),
       clocks=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=3),
       chunk=st.integers(1, 40), name=st.sampled_from(sorted(REDUCTIONS)))
def test_streaming_reduction_equals_reduction_of_materialized(nets, hws, batches, clocks, chunk, name):
    networks = [rk.get_network(n) for n in nets]
    hardware = [rk.get_hardware(h) for h in hws] + [HardwareGrid.of(SPILL, clock_scale=clocks)]
    args = (networks, hardware, ["int8", None], batches)
    full = sweep(*args)
    expected = REDUCTIONS[name]()(full)
    streamed = sweep(*args, reduce=REDUCTIONS[name](), chunk_rows=chunk)
    pd.testing.assert_frame_equal(_normal(streamed), _normal(expected), check_dtype=False)


def test_best_per_network_hand_checked():
    table = sweep([rk.get_network("LeNet-MNIST"), rk.get_network("CNV")],
                  [rk.get_hardware(h) for h in ("ZCU104-DPU", "ZCU102-DPU", "TX2-maxn")], ["int8"], [1, 4])
    best = sweep([rk.get_network("LeNet-MNIST"), rk.get_network("CNV")],
                 [rk.get_hardware(h) for h in ("ZCU104-DPU", "ZCU102-DPU", "TX2-maxn")], ["int8"], [1, 4],
                 reduce=Best("latency_s", by="network"), chunk_rows=3)
    ok = table[table.status == "ok"]
    for network, row in zip(best.network, best.itertuples()):
        mine = ok[ok.network == network]
        assert row.latency_s == mine.latency_s.min()
        assert row.Index == mine.latency_s.idxmin()
    assert sorted(best.network) == ["CNV", "LeNet-MNIST"]


def test_histogram_counts_equal_numpy():
    table = sweep([rk.get_network(n) for n in NET_NAMES], [rk.get_hardware(h) for h in HW_NAMES], ["int8"], [1, 3])
    edges = np.logspace(-5, 0, 11)
    result = sweep([rk.get_network(n) for n in NET_NAMES], [rk.get_hardware(h) for h in HW_NAMES], ["int8"], [1, 3],
                   reduce=Histogram("latency_s", edges), chunk_rows=4)
    values = table.latency_s[table.status == "ok"].to_numpy()
    inside = result[np.isfinite(result.bin_low) & np.isfinite(result.bin_high)]
    counts = dict(zip(inside.bin_low, inside["count"]))
    expected, _ = np.histogram(values, edges)
    assert [counts.get(low, 0) for low in edges[:-1]] == expected.tolist()
    assert result["count"].sum() == len(values)


def test_pareto_hand_checked():
    frame = pd.DataFrame({"a": [1.0, 2.0, 2.0, 3.0, 1.0], "b": [3.0, 2.0, 2.0, 1.0, 4.0], "status": "ok",
                          "fits": True})
    front = Pareto({"a": "min", "b": "min"})(frame)
    assert front.index.tolist() == [0, 1, 2, 3]  # (1, 4) is dominated by (1, 3); the tie (2, 2) stays twice


def test_best_and_pareto_leave_out_rows_that_do_not_fit():
    # row 0 is best in a but its network does not fit; row 1's fit is unknown (counts as fitting)
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 0.5], "status": "ok",
                          "fits": pd.array([False, None, True], dtype="boolean")})
    assert Best("a")(frame).index.tolist() == [1]
    assert Best("a", fitting_only=False)(frame).index.tolist() == [0]
    assert Pareto({"a": "min", "b": "min"})(frame).index.tolist() == [1, 2]
    assert Pareto({"a": "min", "b": "min"}, fitting_only=False)(frame).index.tolist() == [0, 1, 2]


@pytest.mark.parametrize("make, message", [
    (lambda: HardwareGrid.of(rk.get_hardware("Jetson AGX Orin 64GB"), clock_scale=[1.0]),
     "a hardware grid needs a single-engine template"),
    (lambda: HardwareGrid.of(SPILL, peak_ops_per_s={"fp16": [1e12]}), r"peak_ops_per_s.fp16 is not a peak"),
    (lambda: HardwareGrid.of(SPILL, bandwidth_bytes_per_s={"HBM": [1e9]}), "bandwidth_bytes_per_s.HBM names no"),
    (lambda: HardwareGrid.of(rk.get_hardware("NUCLEO-F767ZI"), capacity_bytes={"SRAM": [5e5, 4e6]}),
     "could change which on-chip level is the largest"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=[]), "grid axis clock_scale has no values"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=[1.0, -2.0]), "values must be finite and positive"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=[1.0, float("inf")]), "values must be finite, got"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=["fast"]), "values must be numbers"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=(1.0, 2.0, "cubic", 3)), r"must be \[start, stop, 'log' or 'lin'"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=(0.0, 2.0, "log", 3)), "a log range needs positive ends"),
    (lambda: HardwareGrid.of(SPILL, clock_scale=[1.0]).spec(1), "grid point 1 is outside the grid of 1 points"),
    (lambda: Best(k=0), "Best: k must be a positive integer"),
    (lambda: Best(direction="up"), "direction 'up' must be 'min' or 'max'"),
    (lambda: Pareto({"latency_s": "min"}), "Pareto needs at least two objectives"),
    (lambda: Histogram("fps", [2.0, 1.0]), "Histogram: edges must be at least two increasing numbers"),
    (lambda: sweep([rk.get_network("CNV")], [SPILL], reduce=Best("energy_j")), "Best reads column"),
    (lambda: sweep([rk.get_network("CNV")], [SPILL], chunk_rows=0), "chunk_rows must be a positive integer"),
    (lambda: rk.sweep(["CNV"], [SPILL], engine="spark"), "unknown sweep engine 'spark'; use 'local' or 'dask'"),
])
def test_errors(make, message):
    with pytest.raises(SpecError, match=message):
        make()


@pytest.fixture(scope="module")
def noted_table():
    """A layer-mode sweep of MCU boards where most rows have a capacity note, plus unpredicted rows."""
    boards = [h for h in rk.hardware_catalog().specs if h.kind.value == "MCU" and not h.engines][:3]
    nets = [rk.get_network(n) for n in ("ResNet-20-CIFAR-10", "LeNet-MNIST")]
    return sweep(nets, [*boards, SPILL], ["int8", "fp32"], [1, 7, 300], mode="layer",
                 traffic="weights_and_activations")


def test_notes_made_when_read_equal_predictions(noted_table):
    """The notes column keeps numbers, not text, until read; read, it holds what predict says, row by row."""
    from rooflinekit.roofline.notes import NotesArray

    notes = noted_table["notes"].array
    assert isinstance(notes, NotesArray) and notes.nbytes == 8 * len(noted_table)
    assert sum(1 for n in notes if n) > len(noted_table) // 3  # most predicted rows do not fit
    for row in noted_table.itertuples():
        if row.status != "ok":
            assert row.notes is None
            continue
        p = predict(rk.get_network(row.network.split(" ")[0]), rk.get_hardware(row.hardware)
                    if row.hardware != SPILL.name else SPILL, row.precision, row.batch, "layer",
                    "weights_and_activations")
        assert row.notes == p.notes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_notes_array_operations_equal_those_of_its_values(noted_table, data):
    """Selecting, taking (with fills), concatenating and converting a notes column equal the same operations on
    its values as plain tuples."""
    from rooflinekit.roofline.notes import NotesArray

    notes = noted_table["notes"].array
    plain = notes.astype(object)
    assert isinstance(plain, np.ndarray) and plain.dtype == object
    n = len(notes)
    indices = data.draw(st.lists(st.integers(-1, n - 1), max_size=40))
    taken = notes.take(indices, allow_fill=True)
    assert list(taken) == [None if i < 0 else plain[i] for i in indices]
    start, stop = data.draw(st.integers(0, n)), data.draw(st.integers(0, n))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    joined = NotesArray._concat_same_type([notes[start:stop], notes[mask], taken])
    assert joined.tolist() == [*plain[start:stop], *plain[mask], *taken]
    assert joined.isna().tolist() == [v is None for v in joined]
    frame = pd.concat([noted_table.iloc[start:stop], noted_table[mask]])
    assert frame["notes"].tolist() == [*plain[start:stop], *plain[mask]]
    assert NotesArray._from_sequence(list(plain)).tolist() == list(plain)


def test_notes_mapped_to_text_stay_text(noted_table):
    """``Series.map`` over the notes gives the mapped values, not notes rows read from them (a str is no row)."""
    from rooflinekit.roofline.notes import NotesArray

    joined = noted_table["notes"].map(lambda lines: "; ".join(lines) if lines is not None else None)
    expected = ["; ".join(lines) if lines is not None else None for lines in noted_table["notes"].astype(object)]
    assert joined.tolist() == expected and any(expected)
    with pytest.raises(TypeError, match="a notes row is a tuple of str or None, got 'does not fit'"):
        NotesArray._from_sequence(["does not fit"])


def test_grid_axes_are_sparse_columns(networks):
    """Each grid axis is NaN outside its grid's rows; an axis NaN on most rows is stored sparse (only its grid's
    values kept), the others dense; either way the values are those of the grid points."""
    zcu, tx2 = rk.get_hardware("ZCU104-DPU"), rk.get_hardware("TX2-maxn")
    by_bandwidth = HardwareGrid.of(zcu, bandwidth_bytes_per_s={"DRAM": (1e9, 1e11, "log", 3)})
    by_clock = HardwareGrid.of(zcu, clock_scale=[0.5, 1.0])
    table = sweep(networks[:1], [tx2, by_bandwidth, by_clock, tx2], [None], [1, 2])
    dense = sweep(networks[:1], [by_bandwidth], [None], [1, 2])
    assert dense["bandwidth_bytes_per_s.DRAM"].dtype == np.float64
    for grid in (by_bandwidth, by_clock):
        (axis, values), = grid.axes.items()
        column = table[axis]
        assert isinstance(column.dtype, pd.SparseDtype) and column.array.sp_values.size == grid.size * 2
        mine = (table["grid_point"] >= 0).to_numpy() & ~np.isnan(column.to_numpy(dtype=float))
        assert mine.sum() == grid.size * 2
        np.testing.assert_array_equal(column.to_numpy(dtype=float)[mine], np.repeat(values, 2))


def test_notes_can_be_set(noted_table):
    """Rows of a notes column can be overwritten, one value for all or one per row, without touching the sweep."""
    table = noted_table.copy()
    before = noted_table["notes"].tolist()
    table.loc[table.index[-1], "notes"] = None
    notes = table["notes"].array
    notes[:2] = ("checked",)
    notes[[2, 3]] = [("a",), ()]
    assert table["notes"].tolist() == [("checked",), ("checked",), ("a",), (), *before[4:-1], None]
    assert noted_table["notes"].tolist() == before


# --- grid axes that cannot change a predicted time under the sweep's traffic assumption ---

# weights off chip; activations on chip (and the state: no level stores it); a third level stores nothing
ON_CHIP = HardwareSpec(
    name="sram-npu", kind="NPU", source="test", peak_ops_per_s={"int8": 1e12},
    memories=[
        {"name": "DRAM", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": 1e9, "stores": ["weights"], "source": "test"},
        {"name": "SRAM", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e11, "on_chip": True,
         "stores": ["activations"], "source": "test"},
        {"name": "spare", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": 1e9, "stores": [], "source": "test"},
    ],
)
TIMES = ("fps", "latency_s", "bytes", "bound", "latency_optimistic_s", "latency_pessimistic_s")


def fully_connected(state: bool = False) -> LayerNetwork:
    """One 1000 -> 1000 fully connected layer at int8: 2e6 ops, 1e6 weight bytes, 2e3 activation bytes per frame
    (and 1e3 state bytes per frame with ``state``)."""
    return LayerNetwork(name="fc-state" if state else "fc", source="test", precision="int8", layers=(
        Layer(name="fc", op="fully_connected", inputs=((1, 1000),), outputs=((1, 1000),), weights=[(1000, 1000)],
              state=[(1, 1000)] if state else ()),))


def inert_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught
            if issubclass(w.category, RooflineWarning) and "cannot change any predicted time" in str(w.message)]


@pytest.mark.parametrize("mode", ["network", "layer"])
def test_a_capacity_axis_under_weights_only_is_said_once_and_its_rows_are_equal(mode):
    # weights_only: the 1e6 weight bytes come from DRAM whatever SRAM's size: t = max(2e6 / 1e12, 1e6 / 1e9) = 1e-3 s;
    # SRAM holds the 2e3 activation bytes at 5e5 and at 2e6 bytes
    grid = HardwareGrid.of(ON_CHIP, capacity_bytes={"SRAM": [5e5, 2e6]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = rk.sweep([fully_connected(), fully_connected()], [grid], batches=[1], mode=mode,
                         traffic="weights_only", chunk_rows=1)
    said = inert_warnings(caught)
    assert len(said) == 1  # once for the sweep, not per network or chunk
    assert said[0].startswith("under traffic 'weights_only', hardware grid axes that cannot change any predicted "
                              "time (rows along them are equal, but for fits): grid on sram-npu: capacity_bytes.SRAM: "
                              "SRAM's capacity changes no byte moved under traffic 'weights_only', only fits (whether "
                              "the activations fit); under traffic 'on_chip_if_fits' it decides which rows keep their "
                              "bytes on chip")
    assert table.latency_s.tolist() == pytest.approx([1e-3] * 4, rel=1e-12)
    for network in (0, 1):
        first, second = table.iloc[2 * network], table.iloc[2 * network + 1]
        assert (first["capacity_bytes.SRAM"], second["capacity_bytes.SRAM"]) == (5e5, 2e6)
        for column in (*TIMES, "fits", "notes", "status"):
            assert first[column] == second[column], column


@pytest.mark.parametrize("mode", ["network", "layer"])
def test_the_same_capacity_axis_under_on_chip_if_fits_is_silent_and_decides_the_rows(mode):
    # the working set, 1e6 weight + 2e3 activation bytes = 1.002e6 bytes:
    #   SRAM 5e5 bytes: does not fit; the weights come from DRAM: 1e6 / 1e9 = 1e-3 s
    #   SRAM 2e6 bytes: fits; all of it from SRAM: 1.002e6 / 1e11 = 1.002e-5 s (compute: 2e6 / 1e12 = 2e-6 s)
    grid = HardwareGrid.of(ON_CHIP, capacity_bytes={"SRAM": [5e5, 2e6]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)
        table = rk.sweep([fully_connected()], [grid], batches=[1], mode=mode, traffic="on_chip_if_fits")
    assert table.latency_s.tolist() == pytest.approx([1e-3, 1.002e-5], rel=1e-12)
    assert table.bound.astype(str).tolist() == ["memory:DRAM", "memory:SRAM"]


def test_a_bandwidth_no_byte_moves_through_is_said_until_state_or_activations_move_there():
    # SRAM at 1e5 or 1e11 B/s; DRAM gives the weights in 1e6 / 1e9 = 1e-3 s
    #   weights_only, no state: nothing moves through SRAM: 1e-3 s at both
    #   weights_only, 1e3 state bytes per frame (kept with the activations): 1e3 / 1e5 = 1e-2 s, then 1e-3 s
    #   weights_and_activations: 2e3 activation bytes / 1e5 = 2e-2 s, then 1e-3 s
    grid = HardwareGrid.of(ON_CHIP, bandwidth_bytes_per_s={"SRAM": [1e5, 1e11]})
    messages = []
    for network, traffic, latency, inert in [(fully_connected(), "weights_only", [1e-3, 1e-3], True),
                                             (fully_connected(True), "weights_only", [1e-2, 1e-3], False),
                                             (fully_connected(), "weights_and_activations", [2e-2, 1e-3], False)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = rk.sweep([network], [grid], batches=[1], traffic=traffic)
        assert table.latency_s.tolist() == pytest.approx(latency, rel=1e-12), (network.name, traffic)
        said = inert_warnings(caught)
        assert len(said) == int(inert), (network.name, traffic)
        messages += said
    assert ("bandwidth_bytes_per_s.SRAM: no byte moves through SRAM under traffic 'weights_only' (it holds the "
            "activations); traffic 'weights_and_activations' or 'on_chip_if_fits' moves bytes through it") in messages[0]


def test_the_capacity_of_a_level_that_spills_weights_counts_under_weights_only():
    # SPILL's cache keeps what fits of the 1e6 weight bytes beside the 2e3 activation bytes, DRAM (4e9 B/s) streams
    # the rest; compute 2e6 / 4e12 = 5e-7 s
    #   cache 5e5 bytes: 5e5 - 2e3 = 4.98e5 kept, 5.02e5 streamed: 5.02e5 / 4e9 = 1.255e-4 s
    #   cache 2e6 bytes: all kept: 1e6 / 1e11 = 1e-5 s
    grid = HardwareGrid.of(SPILL, capacity_bytes={"cache": [5e5, 2e6]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)
        table = rk.sweep([fully_connected()], [grid], batches=[1], traffic="weights_only")
    assert table.latency_s.tolist() == pytest.approx([1.255e-4, 1e-5], rel=1e-12)


def test_a_level_storing_nothing_is_inert_under_every_traffic():
    grid = HardwareGrid.of(ON_CHIP, bandwidth_bytes_per_s={"spare": [1e5, 1e11]}, capacity_bytes={"spare": [1e3, 1e12]})
    for traffic in TRAFFIC_MODELS:
        found = inert_axes(grid, traffic)
        assert list(found) == ["bandwidth_bytes_per_s.spare", "capacity_bytes.spare"], traffic
        assert found["bandwidth_bytes_per_s.spare"].endswith(
            "no traffic assumption moves bytes through it, as none of the engine's tensors lives there: give it a "
            "role (stores) or drop the axis")
        assert (", nor fits: nothing is stored there; a capacity moves bytes only at a weights level that spills "
                "(spill_to) and, under traffic 'on_chip_if_fits', at the largest on-chip level the engine reaches "
                "(SRAM)") in found["capacity_bytes.spare"]


@pytest.mark.parametrize("traffic", list(TRAFFIC_MODELS))
@pytest.mark.parametrize("mode", ["network", "layer"])
@pytest.mark.parametrize("state", [False, True])
def test_an_axis_is_said_inert_exactly_when_the_roofline_gives_equal_times_at_its_ends(traffic, mode, state):
    """The rule against the roofline itself: each axis alone at two far-apart values, a network with weights,
    activations and (or not) state, every traffic model and mode."""
    network = [fully_connected(state)]
    ends = {"bandwidth_bytes_per_s": [1e3, 1e15], "capacity_bytes": [1e3, 1e12]}
    for kind, values in ends.items():
        for level in ("DRAM", "SRAM", "spare"):
            grid = HardwareGrid.of(ON_CHIP, **{kind: {level: values}})
            table = sweep(network, [grid], batches=[1], mode=mode, traffic=traffic)
            equal = all(table[column].iloc[0] == table[column].iloc[1] for column in TIMES)
            assert (f"{kind}.{level}" in inert_axes(grid, traffic, state)) == equal, (kind, level)
