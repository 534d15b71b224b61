"""Tables built only when read: counting keeps its layer rows as numpy columns and a prediction its notes as
:class:`~rooflinekit.roofline.notes.NoteRows`, so neither imports pandas; a table read later is the one an eager
build gave."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.counters import count_layer, count_network, layer_precision
from rooflinekit.counters.cost import LAYER_COLUMNS
from rooflinekit.roofline.notes import NoteRows

TEXT_COLUMNS = ("name", "op", "source_op", "weight_dtype", "activation_dtype", "compute_dtype")


def run_fresh(code: str) -> list[str]:
    """What ``code`` prints in a fresh interpreter, split into words."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_counting_a_layer_network_imports_no_pandas_until_its_table_is_read():
    """Counting and its totals use the numpy columns; reading ``layers`` imports pandas and builds the table."""
    printed = run_fresh(
        "import sys\nimport rooflinekit as rk\nfrom rooflinekit.counters import count_network\n"
        "cost = count_network(rk.get_network('LeNet-MNIST'), 'int8', batch=4)\n"
        "ops = cost.totals['ops']\nbefore = 'pandas' in sys.modules\ntable = cost.layers\n"
        "print(before, 'pandas' in sys.modules, type(table).__name__, ops == sum(table['ops'].tolist()))")
    assert printed == ["False", "True", "DataFrame", "True"]


def test_predicting_with_capacity_notes_imports_no_pandas():
    """A prediction that does not fit says so in its notes, formatted without pandas."""
    printed = run_fresh(
        "import sys, warnings\nimport rooflinekit as rk\nwarnings.simplefilter('ignore')\n"
        "p = rk.predict(rk.get_network('ResNet-50'), rk.get_hardware('B-U585I-IOT02A'))\n"
        "print(p.fits, len(p.notes), p.notes[0].startswith('does not fit'), 'pandas' in sys.modules)")
    assert printed == ["False", "1", "True", "False"]


@pytest.mark.parametrize("precision, batch", [(None, None), ("int8", 3)])
def test_layer_table_read_late_equals_an_eager_table_of_the_layer_rows(precision, batch):
    """``layers`` equals a DataFrame of :func:`count_layer`'s rows (types inferred by pandas), is built once, and
    its columns hold the values of ``layer_columns``."""
    network = rk.get_network("LeNet-MNIST")
    cost = count_network(network, precision, batch=batch)
    override = None if precision is None else cost.precision
    frames = batch or network.batch
    rows = []
    for layer in network.layers:
        row = count_layer(layer, layer_precision(layer, network.precision, override),
                          precision_overridden=override is not None)
        for column in ("macs", "other_ops", "ops", "input_bytes", "output_bytes", "state_bytes"):
            row[column] = (2 * int(row[column]) * frames + network.batch) // (2 * network.batch)
        rows.append(row)
    table = cost.layers
    pd.testing.assert_frame_equal(table, pd.DataFrame(rows, columns=LAYER_COLUMNS))
    assert table is cost.layers
    assert all(table[c].tolist() == cost.layer_columns[c].tolist() for c in LAYER_COLUMNS)
    assert all(table[c].dtype == np.int64 for c in LAYER_COLUMNS if c not in (*TEXT_COLUMNS, "supported"))


def test_an_aggregate_network_has_an_empty_layer_table_and_its_own_totals():
    cost = count_network(rk.get_network("ResNet-50"))
    assert cost.layer_columns == {} and cost.layers.empty and list(cost.layers.columns) == LAYER_COLUMNS
    assert cost.totals["ops"] == cost.ops_total and cost.totals["macs"] is None


def test_note_rows_select_take_and_concatenate_as_their_values():
    """Reading, slicing, masking, taking and concatenating rows of notes equal the same operations on a list of
    their values (tuples of str, None where missing)."""
    values = [("a",), (), None, ("b", "c"), (), ("d",)]
    rows = NoteRows.from_values(values)
    assert rows.tolist() == values and list(rows) == values and len(rows) == len(values)
    assert [rows[i] for i in range(len(values))] == values
    mask = np.array([True, False, True, True, False, False])
    assert rows[1:4].tolist() == values[1:4] and rows[mask].tolist() == [v for v, m in zip(values, mask) if m]
    assert rows.take([5, 0, -1, 0]).tolist() == [values[5], values[0], values[-1], values[0]]
    filled = NoteRows.filled(2, ("x",))
    joined = NoteRows.concat([rows[3:], filled, NoteRows.filled(1, None), NoteRows.filled(1, ())])
    assert joined.tolist() == [*values[3:], ("x",), ("x",), None, ()]
