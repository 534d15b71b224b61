"""Charts: each one rendered headlessly to PNG, and what it drew checked through the returned Figure."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import rooflinekit as rk
from rooflinekit.cli_common import FORMATS, Parser
from rooflinekit.errors import RooflineError, RooflineWarning
from rooflinekit.plots import (PlotDependencyError, PlotError, plot_efficiency, plot_heatmap, plot_layers,
                               plot_pareto, plot_roofline, save_figure)
from rooflinekit.plots.layers import labelled_positions, short_names
from rooflinekit.plots_cli import add_plot_commands

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def render(fig, tmp_path, name="chart.png"):
    path = save_figure(fig, tmp_path / name)
    assert path.read_bytes()[:8] == PNG_MAGIC
    return path


def lines(ax, kind):
    return [line for line in ax.get_lines() if (line.get_gid() or "").startswith(kind + "|")]


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --- roofline ---------------------------------------------------------------------------------------------------

def test_roofline_draws_one_ceiling_per_dtype_and_one_slope_per_memory_level(tmp_path):
    fig = plot_roofline(["ZCU104-DPU", "TX2-maxn", "NCS"])
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlabel() == "Operational intensity [ops/byte]"
    assert ax.get_ylabel() == "Performance [ops/s]"
    assert ax.get_title() == "Roofline"
    # ZCU104-DPU: int8; TX2-maxn: fp16, fp32; NCS: int8, fp16 -> 5 ceilings
    assert sorted(line.get_gid() for line in lines(ax, "ceiling")) == [
        "ceiling|NCS|fp16", "ceiling|NCS|int8", "ceiling|TX2-maxn|fp16", "ceiling|TX2-maxn|fp32",
        "ceiling|ZCU104-DPU|int8"]
    # NCS has LPDDR4 and an on-chip CMX level -> 4 slopes; ridges: 1 + 2 + 2 x 2 = 7
    assert len(lines(ax, "bandwidth")) == 4
    assert len(lines(ax, "ridge")) == 7
    ceiling = next(line for line in lines(ax, "ceiling") if line.get_gid() == "ceiling|ZCU104-DPU|int8")
    assert set(ceiling.get_ydata()) == {4.6e12}
    ridge = next(line for line in lines(ax, "ridge") if line.get_gid() == "ridge|ZCU104-DPU|int8|DRAM")
    assert ridge.get_xdata()[0] == pytest.approx(4.6e12 / 19.2e9)
    assert {"Hardware", "ZCU104-DPU", "int8 peak", "fp32 peak", "ridge point", "other memory level"} <= set(
        legend_texts(ax))
    assert "GOP/s" in " ".join(label.get_text() for label in ax.get_yticklabels())


def test_roofline_legend_names_the_slope_of_a_single_memory_device(tmp_path):
    fig = plot_roofline("ZCU104-DPU")  # one memory level (DRAM): its slope, then the ridge point
    render(fig, tmp_path)
    texts = legend_texts(fig.axes[0])
    assert texts[texts.index("Memory slopes") + 1:texts.index("Memory slopes") + 3] == ["memory bandwidth",
                                                                                         "ridge point"]
    assert "other memory level" not in texts


def test_roofline_places_sweep_points_on_the_roof_and_measured_points_hollow(tmp_path):
    table = rk.sweep(["ResNet-50", "MobileNetv1"], ["ZCU104-DPU", "TX2-maxn"], ["int8"])
    table["measured_ops_per_s"] = table["attainable_ops_per_s"] / 3
    with pytest.warns(RooflineWarning, match="2 of 4 network rows"):  # TX2-maxn has no int8 peak
        fig = plot_roofline(["ZCU104-DPU", "TX2-maxn"], table)
    render(fig, tmp_path)
    ax = fig.axes[0]
    predicted, measured = lines(ax, "predicted"), lines(ax, "measured")
    assert len(predicted) == len(measured) == 2  # TX2 has no int8: those rows are not drawn
    assert {line.get_gid() for line in predicted} == {"predicted|ResNet-50 int8", "predicted|MobileNetv1 int8"}
    point = next(line for line in predicted if "ResNet" in line.get_gid())
    oi = table.loc[(table.network == "ResNet-50") & (table.hardware == "ZCU104-DPU"), "operational_intensity"]
    assert point.get_xdata()[0] == pytest.approx(oi.item())
    assert all(line.get_markerfacecolor() == "none" for line in measured)
    assert {"Networks", "ResNet-50 int8", "measured (hollow)"} <= set(legend_texts(ax))


def test_roofline_without_performance_draws_vertical_lines_and_filters_dtypes(tmp_path):
    networks = pd.DataFrame({"network": ["ResNet-50", "CNV", "ResNet-50 80%"],
                             "operational_intensity": [302.71, 60.0, 271.65]})
    fig = plot_roofline("ZCU104-FINN", networks, dtypes=["int2"], title=None)
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert [line.get_gid() for line in lines(ax, "ceiling")] == ["ceiling|ZCU104-FINN|int2"]
    assert sorted(line.get_gid() for line in lines(ax, "network")) == [
        "network|CNV", "network|ResNet-50", "network|ResNet-50 80%"]
    heights = {text.get_text(): text.xy[1] for text in ax.texts}
    assert heights["CNV"] == heights["ResNet-50 80%"] == 1  # top of the axes
    assert heights["ResNet-50"] < 1  # too close to ResNet-50 80%: its label is staggered down
    assert ax.get_title() == ""


def test_roofline_errors_name_the_problem():
    with pytest.raises(PlotError, match=r"TX2-maxn has none of the data types int8; it supports fp16, fp32"):
        plot_roofline(["TX2-maxn"], dtypes=["int8"])
    with pytest.raises(PlotError, match=r"needs columns \['operational_intensity'\]"):
        plot_roofline(["TX2-maxn"], pd.DataFrame({"oi": [1.0]}))
    with pytest.raises(PlotError, match="at least one hardware"):
        plot_roofline([])


# --- efficiency -------------------------------------------------------------------------------------------------

def efficiency_frame():
    return pd.DataFrame({
        "hardware": ["ZCU104-DPU", "EdgeTPU-fast", "NCS"], "network": ["ResNet-50", "MobileNetv1", "GoogLeNetv1"],
        "precision": ["int8", "int8", "fp16"], "predicted_fps": [595.9, 3508.8, 159.7],
        "measured_fps": [210.0, 389.0, np.nan], "peak_fps": [595.9, 3508.8, 159.7]})


def test_efficiency_bars_per_series_on_a_log_axis_with_percent_labels(tmp_path):
    fig = plot_efficiency(efficiency_frame())
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "Throughput [frames/s]"
    assert [c.get_label() for c in ax.containers] == ["peak compute", "predicted (roofline)", "measured"]
    assert all(len(c.patches) == 3 for c in ax.containers)
    assert [c.patches[0].get_width() for c in ax.containers] == [595.9, 595.9, 210.0]
    # efficiency = measured / predicted; the NaN measurement gets no label
    assert [t.get_text() for t in ax.texts] == ["35 %", "11 %"]
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "ZCU104-DPU  ResNet-50 int8"


def test_efficiency_uses_given_percent_and_skips_absent_peak(tmp_path):
    frame = efficiency_frame().drop(columns="peak_fps").assign(efficiency_pct=[50.0, 5.0, np.nan],
                                                               stack=["Vitis AI", "EdgeTPU compiler", "OpenVINO"])
    fig = plot_efficiency(frame, label="stack", title="Eff")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert [c.get_label() for c in ax.containers] == ["predicted (roofline)", "measured"]
    assert [t.get_text() for t in ax.texts] == ["50 %", "5 %"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Vitis AI", "EdgeTPU compiler", "OpenVINO"]
    assert ax.get_title() == "Eff"


def test_efficiency_labels_leave_out_a_missing_precision(tmp_path):
    # an align table read back from CSV: records without a stated precision hold NaN there
    fig = plot_efficiency(efficiency_frame().assign(precision=[np.nan, "int8", np.nan]))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[:2] == ["ZCU104-DPU  ResNet-50", "EdgeTPU-fast  MobileNetv1 int8"]
    fig = plot_efficiency(efficiency_frame().assign(precision=np.nan))  # a float column of NaN
    render(fig, tmp_path)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["ZCU104-DPU  ResNet-50", "EdgeTPU-fast  MobileNetv1", "NCS  GoogLeNetv1"]


def test_efficiency_errors():
    with pytest.raises(PlotError, match=r"needs columns \['measured_fps'\]"):
        plot_efficiency(efficiency_frame().drop(columns="measured_fps"))
    with pytest.raises(PlotError, match="empty"):
        plot_efficiency(efficiency_frame().iloc[:0])


# --- heatmap ----------------------------------------------------------------------------------------------------

def test_heatmap_log_colours_and_blank_cells(tmp_path):
    from matplotlib.colors import LogNorm

    table = rk.sweep(["ResNet-50", "CNV"], ["ZCU104-DPU", "TX2-maxn", "NCS"], ["int8", "fp16"])
    with pytest.warns(RooflineWarning, match="4 of 12 rows have no positive fps"):  # the blank cells
        fig = plot_heatmap(table)
    render(fig, tmp_path)
    ax, colorbar_ax = fig.axes
    image = ax.get_images()[0]
    assert isinstance(image.norm, LogNorm)
    cells = image.get_array()
    assert cells.shape == (3, 4)
    # ZCU104-DPU lacks fp16 and TX2 lacks int8: 2 + 2 blank cells, the other 8 drawn and labelled
    assert int(np.ma.count_masked(cells)) == 4
    assert len([t for t in ax.texts if t.get_gid() == "cell-label"]) == 8
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ZCU104-DPU", "TX2-maxn", "NCS"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ResNet-50 int8", "ResNet-50 fp16", "CNV int8",
                                                            "CNV fp16"]
    assert colorbar_ax.get_ylabel() == "Predicted throughput [frames/s]"
    resnet_zcu = table.query("network == 'ResNet-50' and hardware == 'ZCU104-DPU' and precision == 'int8'").fps
    assert cells[0, 0] == pytest.approx(resnet_zcu.item())


def test_heatmap_refuses_several_batches():
    table = rk.sweep(["ResNet-50"], ["ZCU104-DPU"], ["int8"], [1, 8])
    with pytest.raises(PlotError, match=r"one row per \(hardware, network, precision\).*varying: batch"):
        plot_heatmap(table)


# --- pareto -----------------------------------------------------------------------------------------------------

def test_pareto_latency_vs_energy_draws_the_minimizing_front(tmp_path):
    df = pd.DataFrame({"latency_s": [0.01, 0.02, 0.03, 0.025, np.nan], "energy_j": [3e-4, 2e-4, 1e-4, 4e-4, 1e-5],
                       "board": ["L4", "F4", "F7", "F4", "F7"], "model": ["a", "b", "c", "d", "e"]})
    with pytest.warns(RooflineWarning, match="1 of 5 rows"):  # the NaN latency
        fig = plot_pareto(df, "latency_s", "energy_j", hue="board", label="model")
    render(fig, tmp_path)
    ax = fig.axes[0]
    front = lines(ax, "front")[0]
    assert front.get_drawstyle() == "steps-post"
    assert list(front.get_xdata()) == [0.01, 0.02, 0.03]
    assert sorted(t.get_text() for t in ax.texts) == ["a", "b", "c"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 4  # the NaN row is not drawn
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Latency [s]", "Energy per inference [J]")
    assert {"L4", "F4", "F7", "Pareto front"} == set(legend_texts(ax))


def test_pareto_accuracy_vs_fps_one_front_per_group_on_log_axis(tmp_path):
    df = pd.DataFrame({"throughput_fps": [100, 1000, 5000, 300, 3000, 9000, 250],
                       "accuracy_top1_pct": [76, 73, 69, 75, 70, 60, 74],
                       "type": ["predicted"] * 3 + ["measured"] * 4})
    fig = plot_pareto(df, "throughput_fps", "accuracy_top1_pct", maximize=True, hue="type", front="hue",
                      log_x=True, title="Accuracy vs throughput")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    fronts = lines(ax, "front")
    assert [f.get_gid() for f in fronts] == ["front|predicted", "front|measured"]
    assert all(f.get_drawstyle() == "steps-pre" for f in fronts)
    assert list(fronts[1].get_xdata()) == [300, 3000, 9000]  # (250 fps, 74 %) is dominated by (300, 75)
    assert ax.get_title() == "Accuracy vs throughput"


def test_pareto_errors():
    df = pd.DataFrame({"a": [1.0], "b": [np.nan]})
    with pytest.raises(PlotError, match=r"needs columns \['c'\]"):
        plot_pareto(df, "a", "c")
    with pytest.raises(PlotError, match="no row has numbers in both 'a' and 'b'"):
        plot_pareto(df, "a", "b")
    with pytest.raises(PlotError, match="front='hue'"):
        plot_pareto(df, "a", "b", front="hue")


# --- layers -----------------------------------------------------------------------------------------------------

def lenet_on_f7():
    return rk.predict("LeNet-MNIST", "NUCLEO-F767ZI", mode="layer", traffic="weights_and_activations")


def test_layers_bars_coloured_by_bound_with_measured_markers(tmp_path):
    prediction = lenet_on_f7()
    layers = prediction.layers
    measured = pd.DataFrame({"name": layers.name[:3], "latency_s": layers.time_s[:3] * 2})
    fig = plot_layers(prediction, measured)
    render(fig, tmp_path)
    ax = fig.axes[0]
    bars = {c.get_label(): len(c.patches) for c in ax.containers}
    assert sum(bars.values()) == len(layers)
    counts = layers.bound.value_counts()
    assert bars["predicted, compute-bound"] == counts["compute"]
    assert bars["predicted, memory-bound (SRAM)"] == counts["memory:SRAM"]
    marker = next(line for line in ax.get_lines() if line.get_gid() == "measured")
    assert np.count_nonzero(np.isfinite(marker.get_ydata())) == 3
    assert ax.get_ylabel() == "Latency per layer [s]"
    assert ax.get_title().startswith("LeNet-MNIST on NUCLEO-F767ZI: latency per layer")
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == list(layers.name[:2])


def test_layers_from_a_dataframe_with_a_measured_column_on_log_axis(tmp_path):
    layers = lenet_on_f7().layers.assign(measured_s=lambda d: d.time_s * 1.5)
    fig = plot_layers(layers, "measured_s", log=True, title="LeNet")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "LeNet"


def test_a_thinned_layer_axis_labels_the_kernels_not_the_fused_layers(tmp_path):
    # ResNet-20 on the F767ZI: 74 layers (above the 60 labels an axis holds), 24 of them kernels; the 50 batch
    # norms and activations folded into their producers have no bar height and no label
    layers = rk.predict("ResNet-20-CIFAR-10", "NUCLEO-F767ZI", mode="layer").layers
    fig = plot_layers(layers)
    render(fig, tmp_path)
    kernels = [i for i, bound in enumerate(layers.bound.astype(str)) if not bound.startswith("fused:")]
    assert len(layers) == 74 and len(kernels) == 24
    assert list(fig.axes[0].get_xticks()) == kernels


def test_labelled_positions_thin_the_kernels_evenly():
    fused = np.arange(200) % 2 == 1  # 100 kernels at the even positions: every 2nd kernel, 50 labels
    assert labelled_positions(fused) == list(range(0, 200, 4))
    assert labelled_positions(np.ones(60, dtype=bool)) == list(range(60))  # few enough: every layer


def test_layer_tick_labels_drop_shared_path_prefixes():
    keras = pd.Series(["functional_1/conv2d/Conv2D", "functional_1/depthwise_conv2d/BiasAdd/ReadVariableOp",
                       "functional_1/dense/BiasAdd", "Identity"])
    assert short_names(keras) == ["conv2d", "depthwise_conv2d", "dense", "Identity"]
    torch = pd.Series(["/layer1/layer1.0/conv1/Conv", "/layer1/layer1.0/conv2/Conv", "/layer1/layer1.1/conv1/Conv"])
    assert short_names(torch) == ["layer1.0/conv1/Conv", "layer1.0/conv2/Conv", "layer1.1/conv1/Conv"]
    assert short_names(pd.Series(["x" * 40, "y"])) == ["…" + "x" * 27, "y"]


def test_layers_errors():
    with pytest.raises(PlotError, match="aggregate spec without layers"):
        plot_layers(rk.predict("ResNet-50", "ZCU104-DPU"))
    with pytest.raises(PlotError, match=r"measured layers \['nope'\] are not in the prediction"):
        plot_layers(lenet_on_f7(), pd.DataFrame({"name": ["nope"], "latency_s": [1.0]}))


# --- shared behaviour -------------------------------------------------------------------------------------------

def test_draws_into_a_given_axes(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    assert plot_roofline("EdgeTPU-fast", ax=left) is fig
    assert plot_efficiency(efficiency_frame(), ax=right) is fig
    render(fig, tmp_path)
    assert lines(left, "ceiling") and right.containers


def test_save_figure_writes_svg_and_pdf_and_refuses_other_suffixes(tmp_path):
    fig = plot_roofline("EdgeTPU-fast")
    assert b"ceiling|EdgeTPU-fast|int8" in save_figure(fig, tmp_path / "r.svg").read_bytes()
    assert save_figure(fig, tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(PlotError, match=r"cannot write '.*r\.jpg': use a file name ending in \.png, \.svg, \.pdf"):
        save_figure(fig, tmp_path / "r.jpg")


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PlotDependencyError, match=r'pip install "rooflinekit\[plot\]"') as info:
        plot_roofline("EdgeTPU-fast")
    assert isinstance(info.value, ImportError) and isinstance(info.value, RooflineError)


# --- command line -----------------------------------------------------------------------------------------------

def run_plot(capsys, *argv):
    """Parse with a parser wired like rooflinekit.cli's, run the chart, return (stdout, error or None)."""
    parser = Parser(prog="rooflinekit")
    common = Parser(add_help=False)
    common.add_argument("--format", choices=FORMATS, default="table")
    add_plot_commands(parser.add_subparsers(dest="command", required=True, parser_class=Parser), common)
    args = parser.parse_args(["plot", *argv])
    try:
        args.run(args)
    except RooflineError as exc:
        return capsys.readouterr().out, exc
    return capsys.readouterr().out, None


def test_cli_roofline_heatmap_and_layers_write_files(tmp_path, capsys):
    out, error = run_plot(capsys, "roofline", "--hardware", "ZCU104-DPU,EdgeTPU-fast", "--models",
                          "ResNet-50,MobileNetv1", "--out", str(tmp_path / "r.png"))
    assert error is None and out == f"wrote {tmp_path / 'r.png'}\n"
    with pytest.warns(RooflineWarning, match="2 of 8 rows have no positive fps"):  # ZCU104-DPU has no fp16
        out, error = run_plot(capsys, "heatmap", "--models", "ResNet-50,CNV", "--hardware", "NCS,ZCU104-DPU",
                              "--precisions", "int8,fp16", "--out", str(tmp_path / "h.svg"), "--format", "json")
    assert error is None and json.loads(out) == {"chart": "heatmap", "out": str(tmp_path / "h.svg")}
    out, error = run_plot(capsys, "layers", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--traffic",
                          "weights_and_activations", "--out", str(tmp_path / "l.pdf"))
    assert error is None
    assert {p.name for p in tmp_path.iterdir()} == {"r.png", "h.svg", "l.pdf"}


def test_cli_efficiency_and_pareto_from_records(tmp_path, capsys):
    records = tmp_path / "records.csv"
    efficiency_frame().assign(top1=[73.3, 69.6, 69.2]).to_csv(records, index=False)
    _, error = run_plot(capsys, "efficiency", "--records", str(records), "--out", str(tmp_path / "e.png"))
    assert error is None
    _, error = run_plot(capsys, "pareto", "--records", str(records), "--x", "predicted_fps", "--y", "top1",
                        "--maximize", "x,y", "--hue", "hardware", "--log", "x", "--out", str(tmp_path / "p.png"))
    assert error is None
    assert (tmp_path / "e.png").is_file() and (tmp_path / "p.png").is_file()


def test_cli_errors_are_rooflinekit_errors(tmp_path, capsys):
    _, error = run_plot(capsys, "efficiency", "--records", str(tmp_path / "none.csv"), "--out", "e.png")
    assert isinstance(error, PlotError) and "no such file" in str(error)
    records = tmp_path / "r.csv"
    efficiency_frame().to_csv(records, index=False)
    _, error = run_plot(capsys, "pareto", "--records", str(records), "--x", "predicted_fps", "--y",
                        "measured_fps", "--maximize", "z", "--out", str(tmp_path / "p.png"))
    assert "--maximize 'z': write x, y or x,y" in str(error)
    _, error = run_plot(capsys, "layers", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--out",
                        str(tmp_path / "l.jpg"))
    assert "use a file name ending in .png, .svg, .pdf" in str(error)
