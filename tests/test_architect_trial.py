"""Fixes from a hardware architect's trial: sizing a hypothetical inference accelerator with grid sweeps over
ResNet-50 and BERT, ranking the designs per network and charting the front.

Expected values come from hand derivation (small tables whose fronts are read off by eye) or from an independent
brute-force front (every pair of rows compared), never from the code under test.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import rooflinekit as rk
from rooflinekit.catalog import load_hardware_file
from rooflinekit.errors import RooflineWarning, SpecError
from rooflinekit.roofline import HardwareGrid, Pareto

ACCEL_YAML = """\
hardware:
  - name: Acme-X1
    kind: GPU
    peak_ops_per_s:
      int8: 250 TOPS
      fp16: 125 TOPS
    memories:
      - name: GDDR6
        capacity_bytes: 24 GB
        bandwidth_bytes_per_s: 300 GB/s
        stores: [weights, activations]
        source: baseline
      - name: SRAM
        capacity_bytes: 48 MB
        bandwidth_bytes_per_s: 4 TB/s
        on_chip: true
        stores: [activations]
        source: design target
    tdp_w: 75 W
    default_precision: int8
    source: trial
"""


def brute_front(frame: pd.DataFrame, objectives: dict[str, str]) -> set[int]:
    """Index labels of the rows of ``frame`` no other row dominates (at least as good everywhere, better once),
    by comparing every pair."""
    signs = np.array([1.0 if d == "min" else -1.0 for d in objectives.values()])
    values = frame[list(objectives)].to_numpy(dtype=float) * signs
    kept = set()
    for i, row in enumerate(values):
        dominated = ((values <= row).all(axis=1) & (values < row).any(axis=1)).any()
        if not dominated:
            kept.add(frame.index[i])
    return kept


# --- Pareto per network (was: no ``by``; one front over several networks silently kept one network's rows) ---

def test_pareto_by_network_keeps_a_front_per_network():
    # network A: (peak 1, fps 10), (peak 2, fps 20); network B: (1, 1), (2, 2), (3, 1.5).
    # One front over all rows: A's rows dominate every B row (more fps at no more peak) -> rows 0, 1 only.
    # Per network: A keeps both; B keeps (1, 1) and (2, 2), (3, 1.5) is dominated by (2, 2).
    frame = pd.DataFrame({"network": ["A", "A", "B", "B", "B"], "peak": [1.0, 2.0, 1.0, 2.0, 3.0],
                          "fps": [10.0, 20.0, 1.0, 2.0, 1.5], "status": "ok", "fits": True})
    objectives = {"fps": "max", "peak": "min"}
    assert Pareto(objectives)(frame).index.tolist() == [1, 0]
    front = Pareto(objectives, by="network")(frame)
    # sorted by network, then by the first objective (most fps first)
    assert front.index.tolist() == [1, 0, 3, 2]


def test_pareto_by_missing_group_value_is_its_own_group():
    frame = pd.DataFrame({"g": ["x", None, None], "a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 1.0], "status": "ok",
                          "fits": True})
    # x: row 0 alone; the missing group: row 2 (a 3, b 1) and row 1 (a 2, b 2) do not dominate each other
    assert Pareto({"a": "min", "b": "min"}, by="g")(frame).index.tolist() == [0, 1, 2]


def test_pareto_by_network_over_a_grid_streams_like_the_brute_force_front(tmp_path):
    from rooflinekit.networks import mlperf_network

    path = tmp_path / "accel.yaml"
    path.write_text(ACCEL_YAML)
    grid = HardwareGrid.of(load_hardware_file(path)[0], peak_ops_per_s={"int8": [50e12, 2000e12, "log", 5]},
                           bandwidth_bytes_per_s={"GDDR6": [100e9, 4000e9, "log", 4]})
    networks = [mlperf_network("resnet50", precision="int8"),
                mlperf_network("bert-99", seq_len=177, precision="int8")]
    objectives = {"fps": "max", "peak_ops_per_s.int8": "min", "bandwidth_bytes_per_s.GDDR6": "min"}
    table = rk.sweep(networks, [grid], ["int8"], [64])
    expected = set().union(*(brute_front(part, objectives) for _, part in table.groupby("network", observed=True)))
    front = Pareto(objectives, by="network")(table)
    assert set(front.index) == expected
    assert set(front["network"].astype(str)) == {"ResNet-50-v1.5", "BERT-Large-SQuAD s177"}
    streamed = rk.sweep(networks, [grid], ["int8"], [64], reduce=Pareto(objectives, by="network"), chunk_rows=7)
    assert streamed.index.tolist() == front.index.tolist()
    # without by, the lighter network's rows dominate: no BERT row survives (the trial's silent loss)
    assert set(Pareto(objectives)(table)["network"].astype(str)) == {"ResNet-50-v1.5"}


# --- plot_pareto leaves designs that do not fit off the front, as Pareto does (was: drawn on it) ---

def _front_points(fig) -> list[tuple[float, float]]:
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "front|all"]
    return sorted(zip(line.get_xdata().tolist(), line.get_ydata().tolist()))


@pytest.mark.parametrize("fits", [[False, True, True], ["False", "True", "True"]])  # a sweep or its CSV
def test_plot_pareto_leaves_misfits_off_the_front(fits):
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import plot_pareto

    # row 0 (peak 1, 100 fps) does not fit; of the others, row 1 (peak 2, 50 fps) dominates row 2 (peak 3, 40 fps).
    frame = pd.DataFrame({"peak": [1.0, 2.0, 3.0], "fps": [100.0, 50.0, 40.0], "fits": fits, "status": "ok"})
    assert Pareto({"peak": "min", "fps": "max"})(frame.assign(fits=[False, True, True])).index.tolist() == [1]
    with pytest.warns(RooflineWarning, match=r"1 of 3 rows do not fit their memories .* off the front"):
        fig = plot_pareto(frame, "peak", "fps", (False, True))
    assert _front_points(fig) == [(2.0, 50.0)]


def test_plot_pareto_without_fits_column_is_unchanged():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import plot_pareto

    frame = pd.DataFrame({"peak": [1.0, 2.0, 3.0], "fps": [100.0, 50.0, 40.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)
        fig = plot_pareto(frame, "peak", "fps", (False, True))
    assert _front_points(fig) == [(1.0, 100.0)]


# --- messages ---

def test_heatmap_of_a_grid_names_what_varies(tmp_path):
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import PlotError, plot_heatmap

    path = tmp_path / "accel.yaml"
    path.write_text(ACCEL_YAML)
    grid = HardwareGrid.of(load_hardware_file(path)[0], peak_ops_per_s={"int8": [1e14, 2e14]})
    table = rk.sweep(["LeNet-MNIST"], [grid], ["int8"])
    # was: "(varying: nothing: the rows repeat)" although the grid point and its peak differ
    with pytest.raises(PlotError, match=r"has 2 rows \(varying: grid_point, peak_ops_per_s\.int8\); .*"
                                        r"table\[table\.grid_point == 0\]"):
        plot_heatmap(table)
    power = rk.sweep(["LeNet-MNIST"], [HardwareGrid.of(load_hardware_file(path)[0], tdp_w=[50, 75])], ["int8"])
    with pytest.raises(PlotError, match=r"has 2 rows \(varying: grid_point, tdp_w\)"):
        plot_heatmap(power)


def test_grid_of_a_yaml_path_says_how_to_load_it(tmp_path):
    path = tmp_path / "accel.yaml"
    path.write_text(ACCEL_YAML)
    with pytest.raises(SpecError, match=r"rooflinekit\.catalog\.load_hardware_file\(path\)\[0\] for a hardware YAML"):
        HardwareGrid.of(str(path), clock_scale=[1, 2])
    assert HardwareGrid.of(load_hardware_file(path)[0], clock_scale=[1, 2]).size == 2


def test_plot_pareto_labels_bound_calibrated_and_grid_axes():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import plot_pareto

    frame = pd.DataFrame({"peak_ops_per_s.int8": [1e14, 1e15, 1e16], "bandwidth_bytes_per_s.GDDR6": [1e11, 1e12, 1e13],
                          "fps": [1e3, 1e4, 1e5], "latency_s": [1e-3, 1e-4, 1e-5], "estimate": ["bound"] * 3})
    ax = plot_pareto(frame.assign(estimate="calibrated"), "peak_ops_per_s.int8", "fps", (False, True)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("int8 peak [ops/s]", "Calibrated throughput [frames/s]")
    ax = plot_pareto(frame, "latency_s", "fps", (False, True)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Latency bound (roofline) [s]",
                                                  "Throughput bound (roofline) [frames/s]")
    # was: the bare column names; the sweep's fps read "Throughput", not the bound it is
    ax = plot_pareto(frame, "bandwidth_bytes_per_s.GDDR6", "fps", (False, True)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("GDDR6 bandwidth [B/s]", "Throughput bound (roofline) [frames/s]")
    ax.figure.canvas.draw()
    assert "1 TB/s" in [t.get_text() for t in ax.get_xticklabels()]  # 1e12 B/s with an SI prefix
    # measured fps beside predicted (no estimate column, or estimates that are not all bounds) is no bound
    for mixed in (frame.drop(columns="estimate"), frame.assign(estimate=["bound", "calibrated", "bound"])):
        ax = plot_pareto(mixed, "bandwidth_bytes_per_s.GDDR6", "fps", (False, True)).axes[0]
        assert ax.get_ylabel() == "Throughput [frames/s]"


# --- grid axes end exactly where asked (was: 10 ** log10(x), 4.9999999999999992e13 for 5e13) ---

def test_log_axis_ends_are_the_values_given_so_filters_find_them(tmp_path):
    from rooflinekit.roofline.grid import axis_values

    values = axis_values("peak_ops_per_s.int8", [50e12, 2000e12, "log", 6])
    assert values[0] == 50e12 and values[-1] == 2000e12  # was 49999999999999.992 and 2000000000000000.5
    # inner points evenly spaced in log10: ratio (2000 / 50) ** (1 / 5) = 40 ** 0.2 = 2.0913
    assert values[1] == pytest.approx(50e12 * 40 ** 0.2, rel=1e-12)
    path = tmp_path / "accel.yaml"
    path.write_text(ACCEL_YAML)
    grid = HardwareGrid.of(load_hardware_file(path)[0], capacity_bytes={"SRAM": [8e6, 256e6, "log", 6]})
    table = rk.sweep(["LeNet-MNIST"], [grid], ["int8"])
    assert len(table[table["capacity_bytes.SRAM"] == 8e6]) == 1  # was 0 rows: the end was 7999999.999999999


# --- CLI sweep: fps per watt per spec, and of the estimate ---

def _run(capsys, *argv):
    from rooflinekit.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sweep_refuses_two_specs_of_one_name(tmp_path, capsys):
    # was: both rows named Acme-X1, and the 75 W design's fps_per_w divided by the other file's 150 W
    small, big = tmp_path / "accel.yaml", tmp_path / "accel_big.yaml"
    small.write_text(ACCEL_YAML)
    big.write_text(ACCEL_YAML.replace("tdp_w: 75 W", "tdp_w: 150 W").replace("int8: 250 TOPS", "int8: 500 TOPS"))
    code, _, err = _run(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", f"{small},{big}", "--quiet")
    assert code == 2
    assert "are two different specs both named 'Acme-X1'" in err and "give each spec its own name" in err


def test_cli_sweep_same_device_by_two_names_is_kept(capsys):
    code, out, _ = _run(capsys, "sweep", "--models", "LeNet-MNIST", "--hardware", "NVIDIA L4,L4 GPU", "--quiet",
                        "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["hardware"] for r in rows] == ["NVIDIA L4", "NVIDIA L4"]


def test_cli_calibrated_sweep_gives_the_estimates_fps_per_w(capsys):
    code, out, _ = _run(capsys, "sweep", "--models", "ResNet-50", "--hardware", "NVIDIA L4", "--batches", "64",
                        "--calibrated", "--quiet", "--format", "json")
    (row,) = json.loads(out)
    _, out, _ = _run(capsys, "sweep", "--models", "ResNet-50", "--hardware", "NVIDIA L4", "--batches", "64",
                     "--quiet", "--format", "json")
    (bound,) = json.loads(out)
    assert code == 0 and row["estimate"] == "calibrated" and bound["estimate"] == "bound"
    # the L4's datasheet power is 72 W; a calibrated row's fps_per_w is its fps's, the estimate's
    assert row["fps_per_w"] == pytest.approx(row["fps"] / 72.0, rel=1e-12)
    assert bound["fps_per_w"] == pytest.approx(bound["fps"] / 72.0, rel=1e-12)
    assert row["fps_per_w"] < bound["fps_per_w"]
