"""Defects found by a figure-maker's second trial of the charts, each checked on the drawn matplotlib artists.

The properties are geometric (distinct colour and marker pairs, text boxes that do not overlap, a bounded figure
size) or counts written out by hand from the inputs; none is read back from the code under test.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from rooflinekit.catalog import hardware_catalog  # noqa: E402
from rooflinekit.cli import main  # noqa: E402
from rooflinekit.errors import RooflineWarning  # noqa: E402
from rooflinekit.plots import PlotError, plot_efficiency, plot_heatmap, plot_layers, plot_pareto, \
    plot_roofline  # noqa: E402


def text_box(text):
    """Display box of the text alone (an annotation's own extent would include its leader line)."""
    return Text.get_window_extent(text, renderer=text.figure._get_renderer())


def overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def front_labels(ax):
    return [t for t in ax.texts if t.get_gid() == "front-label"]


# --- roofline: every device told apart -----------------------------------------------------------------------------

def test_roofline_gives_each_of_30_devices_its_own_colour_and_marker_pair():
    names = [hw.name for hw in hardware_catalog().specs[:30]]
    ax = plot_roofline(names).axes[0]
    styles = {}
    for line in ax.get_lines():
        kind, _, rest = str(line.get_gid()).partition("|")
        if kind == "ridge":
            styles.setdefault(rest.split("|")[0], set()).add((to_hex(line.get_color()), line.get_marker()))
    assert sorted(styles) == sorted(names)
    assert all(len(pairs) == 1 for pairs in styles.values())  # one look per device
    assert len({pairs.pop() for pairs in styles.values()}) == 30
    legend = {(to_hex(h.get_color()), h.get_marker()) for h, t in
              zip(ax.get_legend().legend_handles, ax.get_legend().get_texts()) if t.get_text() in names}
    assert len(legend) == 30


QUTIBENCH_PLATFORMS = ["Ultra96-DPU", "ZCU104-DPU", "ZCU102-DPU", "ZCU104-FINN", "ZCU104-BISMO", "TX2-maxn",
                       "TX2-maxp", "TX2-maxq", "EdgeTPU-fast", "EdgeTPU-slow", "NCS", "U96-Quadcore-A53"]


def legend_columns(fig):
    """The legend's non-blank entries per column, left to right, each column top to bottom."""
    fig.draw_without_rendering()
    columns = {}
    for text in fig.axes[0].get_legend().get_texts():
        if text.get_text():
            box = text.get_window_extent()
            columns.setdefault(round(box.x0), []).append((-box.y0, text.get_text()))
    return [[name for _, name in sorted(column)] for _, column in sorted(columns.items())]


def test_roofline_legend_keeps_a_short_section_in_one_column_under_its_heading():
    points = pd.DataFrame({"network": ["GoogLeNetv1", "ResNet-50", "MobileNetv1"], "hardware": "ZCU104-DPU",
                           "operational_intensity": [100.0, 200.0, 300.0], "attainable_ops_per_s": 1e12,
                           "measured_ops_per_s": 5e11})
    columns = legend_columns(plot_roofline(QUTIBENCH_PLATFORMS, points))
    assert len(columns) == 2
    # the six ceilings (int2, int4, int8, fp16, fp32 across these devices, and the one line of U96-Quadcore-A53,
    # whose int2, int4 and int8 peaks are all 192 GOP/s) stand under their heading
    ceilings = next(column for column in columns if "Compute ceilings" in column)
    start = ceilings.index("Compute ceilings")
    assert ceilings[start + 1:start + 7] == ["int2 peak", "int2 = int4 = int8 peak", "int4 peak", "int8 peak",
                                             "fp16 peak", "fp32 peak"]
    headings = {"Hardware", "Compute ceilings", "Memory slopes", "Networks"}
    assert all(column[-1] not in headings for column in columns)


def close_lines(n):
    """``n`` networks without performance: vertical lines from 10 to about 30 ops/byte, too close to label side by
    side."""
    return pd.DataFrame({"network": [f"net{k}" for k in range(n)], "precision": "int8",
                         "operational_intensity": 10.0 + np.arange(n)})


def test_roofline_labels_of_20_close_network_lines_do_not_overlap():
    fig = plot_roofline("ZCU104-DPU", close_lines(20))
    ax = fig.axes[0]
    fig.draw_without_rendering()
    boxes = [text_box(t) for t in ax.texts]
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"net{k} int8" for k in range(20))
    assert not any(overlap(a, b) for a, b in combinations(boxes, 2))
    area = ax.get_window_extent()
    assert all(area.y0 <= b.y0 and b.y1 <= area.y1 for b in boxes)


def test_roofline_says_how_many_line_labels_it_had_no_room_for():
    from matplotlib.figure import Figure
    ax = Figure(figsize=(4, 2.5), layout="constrained").add_subplot()
    with pytest.warns(RooflineWarning, match=r"plot_roofline: \d+ of 60 network line labels left out for lack of "
                                             r"room, e\.g\. 'net\d+ int8' \(their lines are drawn\)"):
        plot_roofline("ZCU104-DPU", close_lines(60), ax=ax)
    assert len([line for line in ax.get_lines() if str(line.get_gid()).startswith("network|")]) == 60
    ax.figure.draw_without_rendering()
    boxes = [text_box(t) for t in ax.texts]
    assert 0 < len(boxes) < 60 and not any(overlap(a, b) for a, b in combinations(boxes, 2))


def test_roofline_of_few_devices_keeps_round_ridge_points():
    ax = plot_roofline(["ZCU104-DPU", "NCS"]).axes[0]
    assert {line.get_marker() for line in ax.get_lines() if str(line.get_gid()).startswith("ridge|")} == {"o"}


# --- pareto: groups told apart, labels that do not overlap, a legend clear of the axis label ----------------------

def test_pareto_gives_each_of_25_hue_groups_its_own_colour_and_marker_pair():
    table = pd.DataFrame({"x": np.arange(1.0, 26.0), "y": np.arange(25.0, 0.0, -1.0),
                          "group": [f"g{k}" for k in range(25)]})
    ax = plot_pareto(table, "x", "y", hue="group").axes[0]
    looks = set()
    for collection in ax.collections:
        if str(collection.get_gid()).startswith("points|"):
            shape = tuple(np.round(collection.get_paths()[0].vertices, 3).ravel())
            looks.add((to_hex(collection.get_facecolor()[0]), shape))
    assert len(looks) == 25


def dense_front(n):
    """``n`` points all on one front (smaller is better), close together, with long labels; plus a far one."""
    x = np.linspace(1.0, 1.2, n)
    return pd.DataFrame({"x": [*x, 3.0], "y": [*(2.2 - x), 3.0],
                         "name": [f"configuration number {k} of the sweep" for k in range(n)] + ["far"]})


def test_pareto_front_labels_do_not_overlap_and_stay_in_the_axes():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot_pareto(dense_front(8), "x", "y", label="name")
    ax = fig.axes[0]
    fig.draw_without_rendering()
    boxes = [text_box(t) for t in front_labels(ax)]
    left_out = [w for w in caught if "front labels left out" in str(w.message)]
    assert len(boxes) == 8 and not left_out  # the default figure has room for all eight
    assert not any(overlap(a, b) for a, b in combinations(boxes, 2))
    area = ax.get_window_extent()
    assert all(area.x0 <= b.x0 and b.x1 <= area.x1 and area.y0 <= b.y0 and b.y1 <= area.y1 for b in boxes)


def test_pareto_says_how_many_front_labels_it_had_no_room_for():
    from matplotlib.figure import Figure
    ax = Figure(figsize=(3, 2), layout="constrained").add_subplot()
    with pytest.warns(RooflineWarning, match=r"plot_pareto: \d+ of 30 front labels left out for lack of room"):
        plot_pareto(dense_front(30), "x", "y", label="name", ax=ax)
    ax.figure.draw_without_rendering()
    boxes = [text_box(t) for t in front_labels(ax)]
    assert len(boxes) < 30
    assert not any(overlap(a, b) for a, b in combinations(boxes, 2))


def test_pareto_cuts_long_labels_and_group_names_to_40_characters():
    table = pd.DataFrame({"x": [1.0, 2.0], "y": [2.0, 1.0], "name": ["a" * 100, "b"], "group": ["g" * 100, "h"]})
    ax = plot_pareto(table, "x", "y", hue="group", label="name").axes[0]
    assert sorted(len(t.get_text()) for t in front_labels(ax)) == [1, 40]
    assert sorted(len(t.get_text()) for t in ax.get_legend().get_texts()) == [1, 12, 40]  # "Pareto front"


@pytest.mark.parametrize("groups", [3, 64])
def test_pareto_legend_stays_clear_of_the_axis_label_and_the_axes(groups):
    table = pd.DataFrame({"x": np.arange(1.0, groups + 1.0), "y": np.arange(groups, 0.0, -1.0),
                          "group": [f"device {k}" for k in range(groups)]})
    fig = plot_pareto(table, "x", "y", hue="group")
    ax = fig.axes[0]
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert not overlap(legend, ax.xaxis.label.get_window_extent(renderer))
    assert not overlap(legend, ax.get_window_extent(renderer))
    assert all(not overlap(legend, t.get_window_extent(renderer)) for t in ax.get_xticklabels() if t.get_text())


# --- efficiency: bounded height, the rows left out said -----------------------------------------------------------

def many_rows(n):
    return pd.DataFrame({"hardware": [f"board {k}" for k in range(n)], "network": "KWS", "precision": "int8",
                         "predicted_fps": 100.0, "measured_fps": 40.0})


def test_efficiency_draws_the_first_40_rows_of_300_and_says_what_it_left_out():
    with pytest.warns(RooflineWarning, match=r"300 rows, more than max_rows=40; the first 40 are drawn and 260 "
                                             r"left out, from row 40 \('board 40  KWS int8'\) on"):
        fig = plot_efficiency(many_rows(300))
    ax = fig.axes[0]
    assert fig.get_figheight() == pytest.approx(1.2 + 0.12 * 40 * 2)  # two series (no peak_fps): 10.8 inches
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "board 39  KWS int8"
    assert len(ax.get_yticklabels()) == 40
    assert "first 40 of 300 rows shown; 260 left out" in ax.get_xlabel()


def test_efficiency_draws_every_row_with_max_rows_none_and_refuses_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)
        ax = plot_efficiency(many_rows(45), max_rows=None).axes[0]
        assert len(ax.get_yticklabels()) == 45 and "left out" not in ax.get_xlabel()
        assert len(plot_efficiency(many_rows(40)).axes[0].get_yticklabels()) == 40  # at the cap: no warning
    with pytest.raises(PlotError, match=r"max_rows=0; give a whole number of rows, 1 or more, or None"):
        plot_efficiency(many_rows(3), max_rows=0)


def test_cli_efficiency_takes_max_rows(tmp_path, capsys):
    records = tmp_path / "records.csv"
    many_rows(12).to_csv(records, index=False)
    code = main(["plot", "efficiency", "--records", str(records), "--max-rows", "5", "--out", str(tmp_path / "e.png")])
    err = capsys.readouterr().err
    assert code == 0 and (tmp_path / "e.png").is_file()
    assert "12 rows, more than max_rows=5; the first 5 are drawn and 7 left out" in err


# --- heatmap: column labels that do not overlap on a wide grid ---------------------------------------------------

def test_heatmap_column_labels_of_a_200_column_grid_do_not_overlap():
    columns = 200
    table = pd.DataFrame({"hardware": "board", "network": [f"network {k:03d}" for k in range(columns)],
                          "precision": "int8", "fps": np.arange(1.0, columns + 1.0)})
    fig = plot_heatmap(table)
    ax = fig.axes[0]
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    # neighbouring labels, rotated by 60 degrees, lie (column width) x sin 60 apart across their lines of text
    apart = ax.get_window_extent(renderer).width / columns * math.sin(math.radians(60))
    for label in ax.get_xticklabels()[:3]:
        upright = Text(0, 0, label.get_text(), fontproperties=label.get_fontproperties(), figure=fig)
        assert upright.get_window_extent(renderer).height <= apart


# --- layers: a legend clear of the bars, bad predicted times refused -------------------------------------------

def test_layers_legend_covers_no_bar_or_measured_marker():
    n = 40
    bounds = ["compute"] + [f"memory:L{k}" for k in range(5)] + ["fused:conv0"]
    layers = pd.DataFrame({"name": [f"conv{k}" for k in range(n)], "time_s": np.linspace(1e-4, 1e-3, n),
                           "bound": [bounds[k % len(bounds)] for k in range(n)]})
    layers["measured"] = layers["time_s"] * 1.2  # the highest marker is the last one, under the legend's corner
    for log in (False, True):
        fig = plot_layers(layers, measured="measured", log=log)
        ax = fig.axes[0]
        fig.draw_without_rendering()
        legend = ax.get_legend().get_window_extent(fig._get_renderer())
        bars = [patch.get_window_extent() for patch in ax.patches]
        assert not any(overlap(legend, bar) for bar in bars)
        markers = ax.transData.transform(np.column_stack([np.arange(n), layers["measured"]]))
        half = 4 * fig.dpi / 72 / 2  # the diamonds are 4 points wide
        assert not any(legend.x0 < x + half and x - half < legend.x1 and legend.y0 < y + half and y - half < legend.y1
                       for x, y in markers)


@pytest.mark.parametrize("time, message", [
    (np.inf, r"predicted time_s of layer 'b' is inf s; a latency is a finite number of seconds, 0 or more"),
    (-1.0, r"predicted time_s of layer 'b' is -1 s; a latency is a finite number of seconds, 0 or more"),
])
def test_layers_refuses_an_infinite_or_negative_predicted_time(time, message):
    layers = pd.DataFrame({"name": ["a", "b"], "time_s": [1e-3, time], "bound": "compute"})
    with pytest.raises(PlotError, match=message):
        plot_layers(layers)


def test_layers_refuses_a_network_whose_every_latency_is_zero():
    layers = pd.DataFrame({"name": ["a", "b"], "time_s": [0.0, 0.0], "bound": "compute"})
    with pytest.raises(PlotError, match=r"every predicted and measured latency is 0 s; there is no bar to draw"):
        plot_layers(layers, log=True)
