"""What a sweep works out before any batch size is remembered per (networks, devices): the same stack, layouts
and placement errors serve every later sweep, read-only; misfit notes are made when read, those of devices run
together under each device's level names; the engines' batches and the table's columns as they were."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit import HardwareSpec
from rooflinekit.descriptors import AggregateNetwork, Layer, LayerNetwork
from rooflinekit.roofline import CountedNetwork, stacked
from rooflinekit.roofline.columnar import Categories, TableBuilder
from rooflinekit.roofline.notes import FixedNotes, JoinedNotes, MisfitNotes, NoteRows
from rooflinekit.roofline.stacked import Device, Stack, evaluate_devices
from rooflinekit.roofline.traffic import traffic_model

pytestmark = pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")


def toy(name, weights_level, activations_level, activations_capacity):
    """Two on-chip levels: weights (1 MB at 100 MB/s) and activations (``activations_capacity`` at 400 MB/s)."""
    return HardwareSpec(
        name=name, kind="MCU", source="test", peak_ops_per_s={"int8": 1e9},
        memories=[
            {"name": weights_level, "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e8, "on_chip": True,
             "stores": ["weights"], "source": "test"},
            {"name": activations_level, "capacity_bytes": activations_capacity, "bandwidth_bytes_per_s": 4e8,
             "on_chip": True, "stores": ["activations"], "source": "test"},
        ],
    )


TOY = toy("toy", "flash", "SRAM", 1e5)
TOY2 = toy("toy2", "ROM", "TCM", 5e4)


def mlp(name, widths):
    layers = tuple(Layer(name=f"l{i}", op="fully_connected", inputs=((1, a),), outputs=((1, b),), weights=[(b, a)])
                   for i, (a, b) in enumerate(zip(widths, widths[1:])))
    return LayerNetwork(name=name, source="test", precision="int8", layers=layers)


def test_stack_of_gives_the_same_stack_for_the_same_networks():
    a, b = CountedNetwork.of(mlp("a", [100, 1000, 10])), CountedNetwork.of(mlp("b", [64, 64]))
    stack = Stack.of([a, b])
    assert Stack.of((a, b)) is stack  # any sequence of the same objects
    assert Stack.of([b, a]) is not stack and Stack.of([b, a]).networks == (b, a)
    again = CountedNetwork.of(mlp("b", [64, 64]))  # the same spec counted again: another object, another stack
    assert Stack.of([a, again]) is not stack
    # rows end to end: a's two layers (100 x 1000 and 1000 x 10 MACs, 2 ops each), then b's one (64 x 64)
    np.testing.assert_array_equal(stack.ops, [200_000.0, 20_000.0, 8_192.0])
    np.testing.assert_array_equal(stack.bounds, [0, 2, 3])


def test_layouts_are_remembered_read_only_and_keep_run_errors_out():
    """A network with no ops and no bytes fails in the run ("nothing to predict"), not in placement: each call
    reports it, and the remembered placement errors stay None for it."""
    good = CountedNetwork.of(mlp("a", [100, 1000, 10]))
    empty = dataclasses.replace(good, ops=np.zeros(2), weight_bytes=np.zeros(2), activation_bytes=np.zeros(2),
                                link_bytes=np.zeros(2))
    stack = Stack.of([good, empty])
    devices = [Device.of(TOY), Device.of(TOY2)]
    model = traffic_model("weights_and_activations")
    for _ in range(2):
        results = evaluate_devices(stack, devices, np.array([1, 4]), "layer", model)
        for result in results:
            assert result.errors[0] is None and "nothing to predict" in str(result.errors[1])
    combined = stacked._combined(stack, tuple(devices), model, True, False)
    assert combined is stacked._combined(stack, tuple(devices), model, True, False)
    assert combined.errors == ((None, None), (None, None))
    layout = combined.layout
    assert layout is not None and layout.devices == tuple(devices)
    for array in (layout.ops, layout.starts, layout.levels["weights"], layout.per_frame, stack.ops):
        with pytest.raises(ValueError):
            array[0] = 1


def test_placement_errors_are_remembered_per_traffic_model():
    """An aggregate spec without an activation count fails under activation traffic only, in either order."""
    spec = AggregateNetwork(name="agg", ops_per_frame=1e6, params=1e4, source="test", precision="int8")
    counted = [CountedNetwork.of(spec), CountedNetwork.of(mlp("a", [100, 1000, 10]))]
    for traffic in ("weights_and_activations", "weights_only", "weights_and_activations"):
        table = rk.sweep(counted, [TOY, TOY2], [None], [1, 2], traffic=traffic)
        unpredicted = (table["status"] != "ok").to_numpy()
        expected = [traffic != "weights_only"] * 4 + [False] * 4  # the aggregate's rows (2 devices x 2 batches)
        assert unpredicted.tolist() == expected, traffic


def test_devices_run_together_name_their_own_levels_in_notes():
    """Activations of a [100, 1000, 10] int8 MLP: 100 + 1000 = 1,100 bytes per frame at most (layer l0), so at
    batch 64 the level holds 70,400 bytes and at batch 128 140,800; toy's SRAM has 100 kB, toy2's TCM 50 kB."""
    counted = [CountedNetwork.of(mlp("a", [100, 1000, 10]))]
    table = rk.sweep(counted, [TOY, TOY2], [None], [64, 128], mode="layer", traffic="weights_and_activations")
    assert table["notes"].tolist() == [
        (),
        ("does not fit: SRAM must hold 141 kB (activations 141 kB at batch 128) but has 100 kB",),
        ("does not fit: TCM must hold 70.4 kB (activations 70.4 kB at batch 64) but has 50 kB",),
        ("does not fit: TCM must hold 141 kB (activations 141 kB at batch 128) but has 50 kB",),
    ]
    assert table["fits"].tolist() == [True, False, False, False]


def test_engine_batches_per_number_of_engines():
    b = np.array([1, 4])
    mixed = stacked._engine_batches(b, [("a",), ("a", "b"), ("a",)])
    assert mixed.tolist() == [[(1,), (4,)], [(1, 1), (4, 4)], [(1,), (4,)]]
    same = stacked._engine_batches(b, [("a", "b"), ("b", "a")])
    assert same.shape == (2, 2) and same.tolist() == [[(1, 1), (4, 4)], [(1, 1), (4, 4)]]


def objects(values):
    """A 1-D object array of ``values`` (tuples kept as elements)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def test_table_builder_frame_holds_the_rows_added():
    """Numeric and object columns of one type share one 2-D array: the frame still has each column, in order, of
    its type, with the values added."""
    columns = ["network", "fps", "batch", "engines", "latency_s", "fits", "notes", "engine_batches", "kernels"]
    builder = TableBuilder(5, columns, Categories())
    engines = np.empty(3, dtype=object)
    engines[:] = [("e",), ("e",), ("f", "g")]
    builder.add(3, {"network": "n1", "engine_batches": (1,)},
                {"fps": np.array([1.0, 2.0, 3.0]), "batch": np.array([1, 2, 3]), "engines": engines,
                 "latency_s": np.array([0.5, 0.25, 0.125]), "fits": np.array([True, False, True]),
                 "notes": NoteRows.from_values([(), ("x",), ()]), "kernels": np.array([4.0, 4.0, 4.0])})
    builder.add(1, {"network": "n2", "engines": ("e",), "engine_batches": (2,), "fits": None, "notes": None},
                {"fps": np.array([9.0]), "batch": np.array([7]), "latency_s": np.array([1.0]),
                 "kernels": np.array([2.0])})
    frame = builder.frame(first_row=10)
    expected = pd.DataFrame({
        "network": pd.Categorical(["n1", "n1", "n1", "n2"], categories=["n1", "n2"]),
        "fps": [1.0, 2.0, 3.0, 9.0], "batch": np.array([1, 2, 3, 7], dtype=np.int64),
        "engines": objects([("e",), ("e",), ("f", "g"), ("e",)]),
        "latency_s": [0.5, 0.25, 0.125, 1.0], "fits": pd.array([True, False, True, None], dtype="boolean"),
        "notes": objects([(), ("x",), (), None]), "engine_batches": objects([(1,), (1,), (1,), (2,)]),
        "kernels": [4.0, 4.0, 4.0, 2.0],
    }, index=pd.RangeIndex(10, 14))
    pd.testing.assert_frame_equal(frame.astype({"notes": object}), expected)
    assert list(frame.columns) == columns


def test_misfit_notes_are_made_for_the_columns_read():
    """One network, two levels (named by ``level``: b0 and a1), batch sizes 1 and 2 (columns 0 and 1); a1 is over
    at both, b0 at batch 2 only. Sizes: b0 holds 500 B of weights + 1 kB of activations per frame (1.5 kB, 2.5 kB),
    a1 1.2 kB of activations per frame (1.2 kB, 2.4 kB); capacities 2 kB and 1 kB."""
    over = np.array([[[False, True], [True, True]]])
    notes = MisfitNotes(("a0", "a1", "b0"), over, np.array([[2000.0, 1000.0]]),
                        np.broadcast_to(np.array([[500.0, 0.0]])[:, :, None], (1, 2, 2)), np.array([[1000.0, 1200.0]]),
                        np.zeros((1, 2)), np.array([[1000.0, 1200.0]]), np.array([[2, 1]]), np.array([1.0, 2.0]))
    first = "does not fit: a1 must hold 1.2 kB (activations 1.2 kB at batch 1) but has 1 kB"
    second = ("does not fit: b0 must hold 2.5 kB (weights 500 B + activations 2 kB at batch 2) but has 2 kB",
              "does not fit: a1 must hold 2.4 kB (activations 2.4 kB at batch 2) but has 1 kB")
    assert notes.any()
    assert notes.lines(np.array([1, 0, 1])) == [second, (first,), second]
    joined = JoinedNotes((FixedNotes((("spill",), ())), notes))
    assert joined.lines(np.array([0, 1])) == [("spill", first), second]
    assert not dataclasses.replace(notes, over=np.zeros_like(over)).any()
