"""The chart fixes of issue 13, each checked on the drawn artists (the example images were also looked at)."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import rooflinekit as rk  # noqa: E402
from rooflinekit.plots import plot_efficiency, plot_heatmap, plot_layers, plot_pareto, plot_roofline  # noqa: E402
from rooflinekit.plots.heatmap import _compact  # noqa: E402
from rooflinekit.plots.layers import tick_labels  # noqa: E402


def test_heatmap_cells_never_use_milli():
    assert _compact(0.5) == "0.5" and _compact(12.5) == "12.5" and _compact(4035) == "4.04k"
    table = pd.DataFrame({"hardware": ["A", "B"], "network": ["N", "N"], "precision": ["int8", "int8"],
                          "fps": [0.25, 2500.0]})
    fig = plot_heatmap(table)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.25", "2.5k"]


def test_efficiency_labels_batch_variants_and_keeps_small_bars_visible():
    table = pd.DataFrame({"hardware": ["X", "X"], "network": ["N", "N"], "precision": ["int8", "int8"],
                          "batch": [1, 8], "predicted_fps": [1000.0, 1000.0], "measured_fps": [10.0, 800.0]})
    fig = plot_efficiency(table)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["X  N int8 batch 1", "X  N int8 batch 8"]
    assert ax.get_xlim()[0] <= 10.0 / 1.5  # the 10 fps bar spans at least a factor 1.5 on the log axis


def test_roofline_styles_distinct_for_every_dtype_of_an_a100():
    spec = rk.get_hardware("A100-SXM4-40GB")
    fig = plot_roofline([spec])
    ceilings = [line for line in fig.axes[0].lines if str(line.get_gid()).startswith("ceiling")] or \
        [line for line in fig.axes[0].get_legend().get_lines() if line.get_label().endswith(" peak")]
    styles = [str(line.get_linestyle()) + str(line.get_dashes() if hasattr(line, "get_dashes") else "")
              for line in ceilings]
    dashes = [tuple(line._dash_pattern[1] or ()) for line in ceilings]  # (offset, pattern): the drawn pattern
    # 7 data types with 5 distinct peaks: fp32 = fp64 (19.5 T) and fp16 = bf16 (312 T) share a line each
    assert len(spec.peak_ops_per_s) == 7 and len(ceilings) == 5
    assert len(set(dashes)) == len(dashes), styles
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts() if text.get_text().endswith(" peak")]
    assert labels == ["int4 peak", "int8 peak", "fp16 = bf16 peak", "tf32 peak", "fp32 = fp64 peak"]


def test_layer_ticks_name_the_op_kind():
    layers = pd.DataFrame({"name": ["n0", "n1", "conv1", "fc"], "op": ["conv", "relu", "conv", "fully_connected"],
                           "time_s": [1e-3, 1e-4, 1e-3, 1e-4], "bound": ["compute"] * 4})
    assert tick_labels(layers) == ["#0 conv", "#1 relu", "conv1", "fc · fully_connected"]
    fig = plot_layers(layers)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][:2] == ["#0 conv", "#1 relu"]


def test_one_point_pareto_front_is_drawn():
    fig = plot_pareto(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}), "x", "y")  # (1, 1) dominates (2, 2)
    [front] = [line for line in fig.axes[0].lines if line.get_gid() == "front|all"]
    assert len(front.get_xdata()) == 1 and front.get_marker() == "o" and front.get_markersize() > 0
