"""Pareto chart of two objectives (accuracy vs throughput, latency vs energy), the front drawn as a step line.

The front is :func:`rooflinekit.compare.pareto_front`: the points no other point is at least as good as on both
objectives and better on one. The step line is the boundary of the region the front dominates, so it runs through
every front point.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from rooflinekit.compare.pareto import pareto_front
from rooflinekit.errors import RooflineWarning
from rooflinekit.plots._common import PlotError, figure_and_axes, import_matplotlib, log_axis, numeric_column, \
    require_columns

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# column -> (axis label, unit for SI-prefixed tick labels; None: plain numbers)
AXES: dict[str, tuple[str, str | None]] = {
    "throughput_fps": ("Throughput [frames/s]", ""), "fps": ("Throughput [frames/s]", ""),
    "predicted_fps": ("Predicted throughput [frames/s]", ""), "measured_fps": ("Measured throughput [frames/s]", ""),
    "latency_s": ("Latency [s]", "s"), "energy_j": ("Energy per inference [J]", "J"), "power_w": ("Power [W]", "W"),
    "accuracy_top1_pct": ("Top-1 accuracy [%]", None),
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
AUTO_LOG_DECADES = 2  # log_x/log_y None: log axis when the drawn values are positive and span this many decades


def _draw_front(ax: "Axes", points: pd.DataFrame, maximize: tuple[bool, bool], color: str, label: str,
                gid: str) -> pd.Index:
    """Step line through the front of ``points`` (columns ``_x``, ``_y``); returns the index of the front rows."""
    front = pareto_front(points, "_x", "_y", maximize).sort_values("_x", kind="stable")
    where = "pre" if maximize[0] else "post"
    # rings on the front points: a front of one point has no step to draw, and is still seen (and in the legend)
    ax.step(front["_x"], front["_y"], where=where, color=color, lw=1.8, label=label, gid=gid, zorder=1,
            marker="o", ms=9, mfc="none", mew=1.4)
    return front.index


def _auto_log(values: pd.Series) -> bool:
    """Whether ``values`` need a log axis: all positive, the largest at least ``10 ** AUTO_LOG_DECADES`` times the
    smallest (on a linear axis all but the largest few would sit in one corner)."""
    low, high = float(values.min()), float(values.max())
    return low > 0 and high >= low * 10 ** AUTO_LOG_DECADES


def _axis(ax: "Axes", which: str, column: str, log: bool, text: str | None) -> None:
    """Scale, tick format and label of one axis; the units of known columns come from ``AXES``."""
    label, unit = AXES.get(column, (column, None))
    if log:
        log_axis(ax, which, unit)
    elif unit is not None:
        axis = ax.xaxis if which == "x" else ax.yaxis
        axis.set_major_formatter(import_matplotlib().ticker.EngFormatter(unit=unit, sep=" "))
    ax.set(**{f"{which}label": text or label})


def plot_pareto(df: pd.DataFrame, x: str, y: str, maximize: bool | tuple[bool, bool] = False, *,
                hue: str | None = None, label: str | None = None, front: Literal["all", "hue"] = "all",
                log_x: bool | None = None, log_y: bool | None = None, xlabel: str | None = None,
                ylabel: str | None = None, title: str | None = None, ax: "Axes | None" = None) -> "Figure":
    """Scatter of columns ``x`` vs ``y`` of ``df`` with the Pareto front as a step line.

    ``maximize`` says whether larger is better, for both axes (bool) or per axis ``(x, y)``: accuracy vs fps is
    ``(True, True)``, latency vs energy ``False``. ``hue`` colours points by a column (one marker shape per
    group); ``front="hue"`` draws one front per group (e.g. predicted vs measured) instead of one over all points.
    ``label`` names a column whose values annotate the front points. Rows with a missing or infinite ``x`` or
    ``y`` (failed sweep rows) are not drawn, with a :class:`~rooflinekit.errors.RooflineWarning` counting them; a
    cell that is not a number is a :class:`PlotError`. ``log_x``/``log_y`` True put an axis on a log scale (a
    :class:`PlotError` when a drawn value on it is not positive), False on a linear one; None (default) chooses log
    when the drawn values are positive and the largest is at least 100 times the smallest. Axis labels default to
    the column name; the record and sweep columns (``throughput_fps``, ``latency_s``, ``energy_j``,
    ``accuracy_top1_pct``, ...) get a label with units and SI-prefixed ticks (``200 ms``). Returns the matplotlib
    Figure.
    """
    import_matplotlib()
    columns = [x, y] + [c for c in (hue, label) if c is not None]
    require_columns(df, columns, "plot_pareto")
    if front not in ("all", "hue") or (front == "hue" and hue is None):
        raise PlotError(f"plot_pareto: front={front!r}; use 'all', or 'hue' together with hue=COLUMN")
    best = (maximize, maximize) if isinstance(maximize, bool) else tuple(maximize)
    data = df.assign(_x=numeric_column(df, x, "plot_pareto"), _y=numeric_column(df, y, "plot_pareto"))
    kept = np.isfinite(data["_x"]) & np.isfinite(data["_y"])
    if not kept.any():
        raise PlotError(f"plot_pareto: no row has numbers in both {x!r} and {y!r}; nothing to draw")
    if not kept.all():
        first = int(np.flatnonzero(~kept.to_numpy())[0])
        warnings.warn(f"plot_pareto: {int((~kept).sum())} of {len(data)} rows have no finite number in {x!r} or "
                      f"{y!r} and are not drawn, e.g. row {first} ({x} = {data['_x'].iloc[first]:g}, "
                      f"{y} = {data['_y'].iloc[first]:g})", RooflineWarning, stacklevel=2)
    data = data[kept].reset_index(drop=True)
    log_x = _auto_log(data["_x"]) if log_x is None else log_x
    log_y = _auto_log(data["_y"]) if log_y is None else log_y
    for which, column, log in (("x", x, log_x), ("y", y, log_y)):
        below = data[f"_{which}"] <= 0
        if log and below.any():
            raise PlotError(f"plot_pareto: a log {which} axis (log_{which}=True, --log {which}) needs positive values, "
                            f"but {column!r} has {data.loc[below, f'_{which}'].iloc[0]:g}; use a linear axis or drop "
                            "those rows")
    fig, ax = figure_and_axes(ax, (9, 6))
    groups = list(dict.fromkeys(data[hue].astype(str))) if hue else [None]
    on_front = pd.Index([])
    for k, group in enumerate(groups):
        rows = data[hue].astype(str) == group if hue else np.ones(len(data), dtype=bool)
        part = data[rows]
        ax.scatter(part["_x"], part["_y"], s=28, color=f"C{k % 10}", marker=MARKERS[k % len(MARKERS)],
                   edgecolors="black", linewidths=0.4, label=group, gid=f"points|{group}", zorder=2)
        if front == "hue":
            on_front = on_front.append(_draw_front(ax, part, best, f"C{k % 10}", f"Pareto front {group}",
                                                   f"front|{group}"))
    if front == "all":
        on_front = _draw_front(ax, data, best, "black", "Pareto front", "front|all")
    if label is not None:
        chosen = data.loc[on_front].sort_values("_x", kind="stable")
        for k, (text, px, py) in enumerate(zip(chosen[label].astype(str), chosen["_x"], chosen["_y"])):
            ax.annotate(text, (px, py), xytext=(4, 4 if k % 2 == 0 else -11), textcoords="offset points",
                        fontsize="x-small", gid="front-label")  # alternate above/below: neighbours overlap less
    for which, column, log, text in (("x", x, log_x, xlabel), ("y", y, log_y, ylabel)):
        _axis(ax, which, column, log, text)
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="small", frameon=False, title=hue,
              ncols=min(len(handles), 2 if front == "hue" else 4))
    if title:
        ax.set_title(title)
    return fig
