"""Defects found by a user's trial of the charts (Python and CLI), each checked on the drawn matplotlib artists.

Expected values are written out by hand from the inputs (labels, counts, scales), never read back from the code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from rooflinekit.cli import main  # noqa: E402
from rooflinekit.errors import RooflineWarning  # noqa: E402
from rooflinekit.plots import PlotError, plot_efficiency, plot_heatmap, plot_layers, plot_pareto, \
    plot_roofline  # noqa: E402


def ytick_texts(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def gids(ax, kind):
    return sorted(str(line.get_gid()) for line in ax.get_lines() if str(line.get_gid()).startswith(kind + "|"))


# --- efficiency -------------------------------------------------------------------------------------------------

def efficiency_rows(**columns):
    rows = {"hardware": ["ZCU104-DPU", "NCS"], "network": ["ResNet-50", "MobileNetv1"], "precision": ["int8", "fp16"],
            "predicted_fps": [100.0, 20.0], "measured_fps": [50.0, 30.0]}
    return pd.DataFrame({**rows, **columns})


def test_efficiency_draws_the_categorical_columns_of_sweep_and_align_output():
    # rk.sweep and align() give categorical text columns: concatenating them raised a TypeError
    table = efficiency_rows().astype({"hardware": "category", "network": "category", "precision": "category"})
    fig = plot_efficiency(table)
    assert ytick_texts(fig.axes[0]) == ["ZCU104-DPU  ResNet-50 int8", "NCS  MobileNetv1 fp16"]


def test_efficiency_labels_pruned_variants_apart():
    # QuTiBench records: network CNV, pruning_pct 50 / 100, otherwise alike: two bars had one label
    table = pd.DataFrame({"hardware": ["NCS2"] * 4, "network": ["CNV"] * 4, "precision": ["fp16"] * 4,
                          "pruning_pct": [50.0, 50.0, 100.0, 100.0], "batch": [1, 8, 1, 8],
                          "predicted_fps": [900.0] * 4, "measured_fps": [100.0, 200.0, 300.0, 400.0]})
    fig = plot_efficiency(table)
    assert ytick_texts(fig.axes[0]) == ["NCS2  CNV fp16 50% batch 1", "NCS2  CNV fp16 50% batch 8",
                                        "NCS2  CNV fp16 100% batch 1", "NCS2  CNV fp16 100% batch 8"]


def test_efficiency_writes_a_batch_read_as_float_as_an_integer():
    # a CSV whose batch column has a gap is read as floats: the labels said "batch 8.0"
    table = pd.DataFrame({"hardware": ["X"] * 3, "network": ["N"] * 3, "precision": ["int8"] * 3,
                          "batch": [1.0, 8.0, np.nan], "predicted_fps": [10.0] * 3, "measured_fps": [5.0] * 3})
    assert ytick_texts(plot_efficiency(table).axes[0]) == ["X  N int8 batch 1", "X  N int8 batch 8", "X  N int8"]


def test_efficiency_cuts_a_long_label_in_the_middle():
    name = "resnet50_v1_5_onnx_export_int8_quantized_calibrated_per_channel_symmetric"  # 73 characters
    fig = plot_efficiency(efficiency_rows(network=[name, "MobileNetv1"]))
    long, short = ytick_texts(fig.axes[0])
    # "ZCU104-DPU  " + name + " int8" is 12 + 73 + 5 = 90 characters: cut to 60, keeping both ends
    assert len(long) == 60 and long.startswith("ZCU104-DPU  resnet50") and long.endswith("symmetric int8")
    assert "…" in long
    assert short == "NCS  MobileNetv1 fp16"


# --- roofline ---------------------------------------------------------------------------------------------------

def test_roofline_label_leaves_a_missing_precision_out():
    points = pd.DataFrame({"operational_intensity": [10.0, 100.0], "network": ["LeNet", "KWS"],
                           "precision": [None, "int8"], "hardware": ["NCS", "NCS"],
                           "attainable_ops_per_s": [1e11, 5e11]})
    ax = plot_roofline(["NCS"], points).axes[0]
    texts = legend_texts(ax)
    assert texts[texts.index("Networks") + 1:] == ["LeNet", "KWS int8"]
    assert gids(ax, "predicted") == ["predicted|KWS int8", "predicted|LeNet"]


def test_roofline_points_of_hardware_not_drawn_are_grey_and_named_in_the_legend():
    # 12 devices: the 12th takes the palette's black, which a point of an undrawn device must not share
    devices = ["NCS", "EdgeTPU-fast", "ZCU104-DPU", "ZCU102-DPU", "NUCLEO-F767ZI", "TX2-maxn", "EdgeTPU-slow",
               "Jetson Nano", "Ultra96-DPU", "NUCLEO-L496ZG", "DISCO-F469NI", "STM32N6570-DK"]
    points = pd.DataFrame({"operational_intensity": [10.0, 20.0], "network": ["a", "b"],
                           "hardware": ["NCS", "A100-PCIe-40GB"], "attainable_ops_per_s": [1e11, 2e11]})
    ax = plot_roofline(devices, points).axes[0]
    colors = {str(line.get_gid()): line.get_color() for line in ax.get_lines()
              if str(line.get_gid()).startswith("predicted|")}
    assert colors["predicted|b"] == "0.6" and colors["predicted|a"] == "C0"  # NCS, the first device
    texts = legend_texts(ax)
    assert texts[texts.index("Hardware") + 1:texts.index("Compute ceilings")] == [*devices, "other hardware"]
    only_drawn = plot_roofline(devices[:2], points.iloc[:1]).axes[0]
    assert "other hardware" not in legend_texts(only_drawn)


def test_roofline_axes_hold_a_point_above_every_drawn_roof():
    # 5e13 ops/s on hardware not drawn, above the NCS's 1e12 int8 peak (y limit 2e12 before): the axes reach it
    points = pd.DataFrame({"operational_intensity": [100.0], "network": ["a"], "hardware": ["A100-PCIe-40GB"],
                           "attainable_ops_per_s": [5e13]})
    low, high = plot_roofline(["NCS"], points).axes[0].get_ylim()
    assert low < 5e13 < high


def test_roofline_warns_of_rows_it_cannot_draw_and_leaves_them_out_of_the_legend():
    points = pd.DataFrame({"operational_intensity": [10.0, np.nan, -1.0, 100.0, 50.0],
                           "network": ["a", "b", "c", "d", "e"], "hardware": "NCS",
                           "attainable_ops_per_s": [1e11, 1e11, 1e11, np.nan, 2e11],
                           "measured_ops_per_s": [5e10, 1.0, 1.0, 0.0, 0.0]})
    # b (NaN intensity), c (negative intensity), d (no positive performance) draw nothing; e loses its measured 0
    with pytest.warns(RooflineWarning, match=r"plot_roofline: 4 of 5 network rows .* row 1 \(operational_intensity "
                                             r"= nan\)"):
        ax = plot_roofline(["NCS"], points).axes[0]
    assert gids(ax, "predicted") == ["predicted|a", "predicted|e"]
    assert gids(ax, "measured") == ["measured|a"]
    texts = legend_texts(ax)
    assert texts[texts.index("Networks") + 1:texts.index("Networks") + 3] == ["a", "e"]


def test_roofline_names_the_status_of_a_failed_sweep_row():
    points = pd.DataFrame({"operational_intensity": [10.0, np.nan], "network": ["a", "b"],
                           "attainable_ops_per_s": [1e11, np.nan], "status": ["ok", "NCS has no native fp64 peak"]})
    with pytest.warns(RooflineWarning, match=r"1 of 2 network rows .* row 1 \(status NCS has no native fp64 peak\)"):
        plot_roofline(["NCS"], points)


def test_cli_roofline_warns_once_of_a_failed_prediction(capsys, tmp_path):
    code = main(["plot", "roofline", "--hardware", "ZCU104-FINN,NCS", "--models", "LeNet-MNIST", "--out",
                 str(tmp_path / "r.png")])
    failed = [line for line in capsys.readouterr().err.splitlines() if "not drawn" in line or "left out" in line]
    assert code == 0 and len(failed) == 1 and failed[0].startswith("warning: 1 of 2 predictions failed")


# --- heatmap ----------------------------------------------------------------------------------------------------

def test_heatmap_column_leaves_a_missing_precision_out():
    table = pd.DataFrame({"hardware": ["A", "B"], "network": ["KWS", "KWS"], "precision": [None, "int8"],
                          "fps": [1.0, 3.0]})
    ax = plot_heatmap(table).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["KWS", "KWS int8"]


def test_heatmap_repeat_message_counts_the_repeated_rows_and_names_pruning():
    table = pd.DataFrame({"hardware": ["A", "A", "B", "B", "B"], "network": ["CNV"] * 5,
                          "precision": ["fp32"] * 5, "pruning_pct": [50.0, 100.0, 25.0, 50.0, 100.0],
                          "fps": [1.0, 2.0, 3.0, 4.0, 5.0]})
    with pytest.raises(PlotError, match=r"A x CNV fp32 has 2 rows \(varying: pruning_pct\)"):
        plot_heatmap(table)


def test_heatmap_warns_of_blank_cells_and_says_why():
    table = pd.DataFrame({"hardware": ["NCS", "NCS", "ZCU104-DPU"], "network": ["ResNet-50"] * 3,
                          "precision": ["int8", "fp32", "int8"], "fps": [130.0, np.nan, 596.0],
                          "status": ["ok", "NCS has no native fp32 peak", "ok"]})
    with pytest.warns(RooflineWarning, match=r"plot_heatmap: 1 of 3 rows have no positive fps; their cells are "
                                             r"blank, e.g. NCS x ResNet-50 fp32 \(status NCS has no native fp32"):
        plot_heatmap(table)
    with pytest.raises(PlotError, match=r"no positive fps in any cell, e.g. NCS x ResNet-50 fp32 \(status NCS"):
        plot_heatmap(table.iloc[[1]])


def test_cli_heatmap_warns_once_of_a_failed_prediction(capsys, tmp_path):
    code = main(["plot", "heatmap", "--models", "ResNet-50,LeNet-MNIST", "--hardware", "NCS,ZCU104-FINN",
                 "--out", str(tmp_path / "h.png")])
    err = capsys.readouterr().err.splitlines()
    # ZCU104-FINN runs int2/int4 only: ResNet-50 (int8) and LeNet-MNIST (fp32) both fail there
    assert code == 0 and err == ["warning: plot_heatmap: 2 of 4 rows have no positive fps; their cells are blank, "
                                 "e.g. ZCU104-FINN x ResNet-50 int8 (status ZCU104-FINN has no native int8 peak; it "
                                 "supports int2, int4)"]


def test_heatmap_cuts_long_names_and_keeps_room_for_the_grid():
    suffix = "_exported_from_pytorch_with_a_very_long_descriptive_name_v2"  # 59 characters
    table = pd.DataFrame({"hardware": ["NCS", "NCS", "ZCU104-DPU"], "network": ["ResNet-50" + suffix] * 3,
                          "precision": ["int8", "fp16", "int8"], "fps": [130.0, 64.8, 596.0]})
    fig = plot_heatmap(table)
    ax = fig.axes[0]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    # "ResNet-50" + suffix + " int8" is 73 characters: cut to 40, keeping the start and the precision
    assert [len(c) for c in columns] == [40, 40] and columns[0].startswith("ResNet-50_exp")
    assert columns[0].endswith("name_v2 int8") and columns[1].endswith("name_v2 fp16") and "…" in columns[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.draw_without_rendering()
    assert not [w for w in caught if "collapsed" in str(w.message)]  # constrained layout found room for the grid
    assert ax.get_window_extent().height > 0.3 * fig.bbox.height


# --- pareto -----------------------------------------------------------------------------------------------------

def test_pareto_warns_of_rows_without_numbers():
    table = pd.DataFrame({"latency_s": [0.01, np.nan, 0.03, 0.02], "energy_j": [1e-3, 2e-3, np.inf, 5e-4]})
    with pytest.warns(RooflineWarning, match=r"plot_pareto: 2 of 4 rows .* not drawn, e.g. row 1 \(latency_s = nan"):
        ax = plot_pareto(table, "latency_s", "energy_j").axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2


def test_pareto_chooses_a_log_axis_for_values_spanning_decades():
    table = pd.DataFrame({"latency_s": np.logspace(-6, 4, 11), "energy_j": np.linspace(10.0, 1.0, 11)})
    ax = plot_pareto(table, "latency_s", "energy_j").axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "linear")  # 1 us .. 10 ks; 1 .. 10 J is one decade
    ax = plot_pareto(table, "latency_s", "energy_j", log_x=False).axes[0]
    assert ax.get_xscale() == "linear"
    both_signs = table.assign(latency_s=np.linspace(-1e3, 1e-3, 11))  # a log axis cannot show -1000
    assert plot_pareto(both_signs, "latency_s", "energy_j").axes[0].get_xscale() == "linear"


def test_cli_pareto_chooses_a_log_axis_for_values_spanning_decades(tmp_path, monkeypatch):
    records = tmp_path / "r.csv"
    pd.DataFrame({"latency_s": [1e-5, 1e-3, 1.0], "energy_j": [3.0, 2.0, 1.0]}).to_csv(records, index=False)
    drawn = []
    monkeypatch.setattr("rooflinekit.plots_cli.save_figure", lambda fig, out, dpi: drawn.append(fig) or out)
    assert main(["plot", "pareto", "--records", str(records), "--x", "latency_s", "--y", "energy_j", "--out",
                 str(tmp_path / "p.png")]) == 0
    assert (drawn[0].axes[0].get_xscale(), drawn[0].axes[0].get_yscale()) == ("log", "linear")
    # --linear overrides the choice, --log forces one; naming an axis in both is an error
    argv = ["plot", "pareto", "--records", str(records), "--x", "latency_s", "--y", "energy_j", "--out",
            str(tmp_path / "p.png")]
    assert main([*argv, "--linear", "x", "--log", "y"]) == 0
    assert (drawn[1].axes[0].get_xscale(), drawn[1].axes[0].get_yscale()) == ("linear", "log")
    assert main([*argv, "--linear", "x", "--log", "x"]) == 2 and len(drawn) == 2


# --- layers -----------------------------------------------------------------------------------------------------

def test_layers_refuses_a_predicted_time_that_is_not_a_number():
    layers = pd.DataFrame({"name": ["conv1", "fc"], "time_s": ["fast", 1e-3], "bound": ["compute", "compute"]})
    with pytest.raises(PlotError, match="column 'time_s' has 'fast' in row 0"):
        plot_layers(layers)


def test_layers_refuses_a_table_without_any_predicted_time():
    layers = pd.DataFrame({"name": ["conv1", "fc"], "time_s": [np.nan, np.nan], "bound": ["compute", "compute"]})
    with pytest.raises(PlotError, match="no layer has a predicted time_s"):
        plot_layers(layers)


# --- log axes ---------------------------------------------------------------------------------------------------

def visible_tick_numbers(axis):
    """The numbers written on ``axis`` (major and minor ticks in view), after a draw."""
    axis.figure.draw_without_rendering()
    low, high = axis.get_view_interval()
    return sorted(float(t.get_text()) for t in axis.get_ticklabels(which="both")
                  if t.get_text() and low <= t.get_position()[axis.axis_name == "y"] <= high)


def test_log_axis_within_a_decade_still_has_numbers():
    # accuracy 71..80 % on a log axis: no power of ten in view, so the decade labels alone wrote no number at all
    table = pd.DataFrame({"fps": [10.0, 100.0, 1000.0, 50.0], "accuracy_top1_pct": [71.2, 74.5, 79.8, 73.0]})
    ax = plot_pareto(table, "fps", "accuracy_top1_pct", maximize=True, log_y=True).axes[0]
    numbers = visible_tick_numbers(ax.yaxis)
    assert len(numbers) >= 2 and all(71 <= n <= 80 for n in numbers)


def test_log_axis_spanning_decades_labels_only_the_powers_of_ten():
    table = pd.DataFrame({"latency_s": [1e-6, 1e-3, 1.0], "energy_j": [3.0, 2.0, 1.0]})
    ax = plot_pareto(table, "latency_s", "energy_j", log_x=True).axes[0]
    ax.figure.draw_without_rendering()
    assert [t.get_text() for t in ax.xaxis.get_ticklabels(minor=True) if t.get_text()] == []
    low, high = ax.get_xlim()
    majors = [t.get_text() for t in ax.xaxis.get_ticklabels() if low <= t.get_position()[0] <= high]
    assert majors == ["1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s"]
