"""Per-layer view: predicted latency of each layer, coloured by what bounds it, with optional measurements."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rooflinekit.plots._common import PlotError, figure_and_axes, import_matplotlib, log_axis, numeric_column, \
    require_columns, settle_layout
from rooflinekit.roofline import Prediction

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

MEMORY_COLORS = ["tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink"]
MAX_TICK_LABELS = 60
LEGEND_GAP = 0.03  # share of the axes height kept between the legend and the highest bar
MAX_LEGEND_SHARE = 0.7  # in axes too small for the legend, the data keep at least 30 % of the height
LABEL_CHARS = 28


def _layers(prediction: Prediction | pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The layers DataFrame and a default title."""
    if isinstance(prediction, Prediction):
        if prediction.layers is None:
            raise PlotError(f"{prediction.network} is an aggregate spec without layers; plot_layers needs a "
                            "network described layer by layer")
        title = (f"{prediction.network} on {prediction.hardware}: latency per layer\n"
                 f"{prediction.precision}, batch {prediction.batch}, traffic {prediction.traffic}")
        return prediction.layers.reset_index(drop=True), title
    require_columns(prediction, ["name", "time_s", "bound"], "plot_layers")
    return prediction.reset_index(drop=True), None


def _measured(layers: pd.DataFrame, measured: str | pd.DataFrame | None) -> np.ndarray | None:
    """Measured seconds aligned to ``layers`` (NaN where a layer has no measurement); :class:`PlotError` for a
    latency that is not a number, negative or infinite."""
    if measured is None:
        return None
    if isinstance(measured, str):
        require_columns(layers, [measured], "plot_layers(measured=COLUMN)")
        return _positive(layers, numeric_column(layers, measured, "plot_layers").to_numpy())
    require_columns(measured, ["name", "latency_s"], "plot_layers(measured=DataFrame)")
    unknown = sorted(set(measured["name"].astype(str)) - set(layers["name"].astype(str)))
    if unknown:
        raise PlotError(f"plot_layers: measured layers {unknown[:5]}{' ...' if len(unknown) > 5 else ''} are not "
                        f"in the prediction; its layers are named like {list(layers['name'][:3])}")
    if measured["name"].duplicated().any():
        repeated = sorted(measured["name"][measured["name"].duplicated()].astype(str))
        raise PlotError(f"plot_layers: measured layer names repeat: {repeated}; give one latency per layer")
    by_name = pd.Series(numeric_column(measured, "latency_s", "plot_layers").to_numpy(),
                        index=measured["name"].astype(str))
    return _positive(layers, layers["name"].astype(str).map(by_name).to_numpy(dtype=float))


def _positive(layers: pd.DataFrame, seconds: np.ndarray, what: str = "measured latency") -> np.ndarray:
    """``seconds`` (aligned to ``layers``), refused with a :class:`PlotError` naming ``what`` and the layer when one
    is negative or infinite (NaN, no value, passes; 0 is a layer fused into another's kernel)."""
    bad = ~np.isnan(seconds) & ~(np.isfinite(seconds) & (seconds >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise PlotError(f"plot_layers: {what} of layer {layers['name'].iloc[row]!r} is {seconds[row]:g} s; "
                        "a latency is a finite number of seconds, 0 or more: fix it or leave the cell empty")
    return seconds


def short_names(names: pd.Series) -> list[str]:
    """Tick labels from layer names that are paths (``functional_1/conv2d_1/Conv2D``).

    Leading path segments shared by every name that has several are dropped; if the first remaining segment tells
    the layers apart (the Keras layer name: ``conv2d_1``) it is the label, else the remaining path, its tail kept
    within ``LABEL_CHARS``.
    """
    parts = [str(n).strip("/").split("/") for n in names]
    while True:
        heads = {p[0] for p in parts if len(p) > 1}
        if len(heads) != 1:
            break
        parts = [p[1:] if len(p) > 1 else p for p in parts]
    first = [p[0] for p in parts]
    labels = first if len(set(first)) == len(first) else ["/".join(p) for p in parts]
    return [label if len(label) <= LABEL_CHARS else "…" + label[1 - LABEL_CHARS:] for label in labels]


_AUTO_NAME = re.compile(r"^(n|node|layer|op)?_?\d+$", re.I)


def tick_labels(layers: pd.DataFrame) -> list[str]:
    """One tick label per layer: its short name (:func:`short_names`) and its op kind, ``conv1 · conv``; a
    generated name (``n0``, ``node_12``) is replaced by the layer's position, ``#12 conv``."""
    names = short_names(layers["name"])
    if "op" not in layers.columns:
        return names
    ops = layers["op"].astype(str).tolist()
    return [f"#{i} {op}" if _AUTO_NAME.match(str(raw)) else name if op in name else f"{name} · {op}"
            for i, (name, op, raw) in enumerate(zip(names, ops, layers["name"]))]


def labelled_positions(fused: np.ndarray) -> list[int]:
    """Positions of the layers whose bars get a tick label: all when there are at most :data:`MAX_TICK_LABELS`;
    else the kernels (layers not fused into their producer: ``fused`` is False), every one when they are few
    enough, else every ``ceil(kernels / MAX_TICK_LABELS)``-th, so that a thinned axis names bars that have a
    height rather than the zero-time fused layers between them."""
    if len(fused) <= MAX_TICK_LABELS:
        return list(range(len(fused)))
    kernels = np.flatnonzero(~fused)
    return kernels[::math.ceil(len(kernels) / MAX_TICK_LABELS)].tolist()


def _headroom(ax: "Axes", legend: "Legend", highest: float, log: bool) -> None:
    """Set the latency axis so that the highest bar or marker, ``highest`` [s], stays below the legend (in the
    upper right of the axes): the legend takes a share ``s`` of the axes height (measured on the finished layout,
    plus ``LEGEND_GAP``), so ``highest`` may reach ``1 - s`` of it. Linear axis from 0: top = highest / (1 - s);
    log axis from its automatic bottom b: top = b x (highest / b) ** (1 / (1 - s))."""
    settle_layout(ax)  # the axes and the legend reach their final size
    box, drawn = ax.get_window_extent(), legend.get_window_extent()
    share = min((box.y1 - drawn.y0) / box.height + LEGEND_GAP, MAX_LEGEND_SHARE)
    if log:
        low = ax.get_ylim()[0]
        ax.set_ylim(low, low * (highest / low) ** (1 / (1 - share)))
    else:
        ax.set_ylim(0, highest / (1 - share))


def plot_layers(prediction: Prediction | pd.DataFrame, measured: str | pd.DataFrame | None = None, *,
                log: bool = False, title: str | None = None, ax: "Axes | None" = None) -> "Figure":
    """Bar per layer of the predicted latency ``time_s`` [s], coloured by ``bound`` (compute or memory level).

    ``prediction`` is a layer-mode :class:`~rooflinekit.Prediction` or its ``layers`` DataFrame (columns
    ``name``, ``time_s``, ``bound``). ``measured`` adds measured latency per layer as black diamonds: the name of a
    column of the layers DataFrame in seconds, or a DataFrame with ``name`` and ``latency_s`` (a name that is not
    a layer of the prediction, or a latency that is negative or not a number, is a :class:`PlotError`; an empty
    cell draws no marker). ``log`` puts latency on a log axis. ``title`` defaults to
    network, hardware and precision of a Prediction. Returns the matplotlib Figure.
    """
    import_matplotlib()
    layers, default_title = _layers(prediction)
    if layers.empty:
        raise PlotError("plot_layers: the prediction has no layers; nothing to draw")
    seconds = _measured(layers, measured)
    predicted = _positive(layers, numeric_column(layers, "time_s", "plot_layers").to_numpy(), "predicted time_s")
    if not np.isfinite(predicted).any():
        raise PlotError("plot_layers: no layer has a predicted time_s; predict the network with mode='layer'")
    drawn = np.concatenate([predicted, seconds if seconds is not None else []])
    if not (drawn > 0).any():
        raise PlotError("plot_layers: every predicted and measured latency is 0 s; there is no bar to draw")
    n = len(layers)
    fig, ax = figure_and_axes(ax, (min(max(7.0, 2.5 + 0.16 * n), 18), 5.5))
    bounds = list(dict.fromkeys(layers["bound"].astype(str)))
    memory = [b for b in bounds if b != "compute" and not b.startswith("fused:")]
    colors = {"compute": "tab:blue", **{b: MEMORY_COLORS[i % len(MEMORY_COLORS)] for i, b in enumerate(memory)},
              **{b: "0.6" for b in bounds if b.startswith("fused:")}}
    fused = [b for b in bounds if b.startswith("fused:")]
    bounds = [b for b in bounds if b not in fused] + fused[:1]  # one legend entry for every fused layer
    positions = np.arange(n)
    for bound in bounds:
        if bound.startswith("fused:"):
            rows = layers["bound"].astype(str).str.startswith("fused:").to_numpy()
            label = "fused into its producer's kernel"
        else:
            rows = (layers["bound"].astype(str) == bound).to_numpy()
            label = "compute-bound" if bound == "compute" else f"memory-bound ({bound.split(':', 1)[-1]})"
        ax.bar(positions[rows], predicted[rows], width=0.8, color=colors[bound],
               label=f"predicted, {label}", gid=f"bars|{bound}")
    if seconds is not None:
        ax.plot(positions, seconds, ls="none", marker="D", ms=4, color="black", label="measured", gid="measured")
    labelled = labelled_positions(layers["bound"].astype(str).str.startswith("fused:").to_numpy())
    ax.set_xticks(labelled, [tick_labels(layers)[i] for i in labelled], rotation=90, fontsize="x-small")
    ax.set_xlim(-0.6, n - 0.4)
    if log:
        log_axis(ax, "y", "s")
    else:
        ax.yaxis.set_major_formatter(import_matplotlib().ticker.EngFormatter(unit="s", sep=" "))
    ax.set(xlabel="Layer", ylabel="Latency per layer [s]")
    ax.grid(True, axis="y", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    legend = ax.legend(loc="upper right", fontsize="small")
    if title or default_title:
        ax.set_title(title or default_title, fontsize="medium")
    _headroom(ax, legend, float(np.nanmax(drawn)), log)
    return fig
