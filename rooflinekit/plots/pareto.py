"""Pareto chart of two objectives (accuracy vs throughput, latency vs energy), the front drawn as a step line.

The front is :func:`rooflinekit.compare.pareto_front`: the points no other point is at least as good as on both
objectives and better on one. The step line is the boundary of the region the front dominates, so it runs through
every front point.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from rooflinekit.compare.pareto import pareto_front
from rooflinekit.errors import RooflineWarning
from rooflinekit.plots._common import PlotError, figure_and_axes, import_matplotlib, log_axis, numeric_column, \
    require_columns, settle_layout, shorten, text_column

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# column -> (axis label, unit for SI-prefixed tick labels; None: plain numbers)
AXES: dict[str, tuple[str, str | None]] = {
    "throughput_fps": ("Throughput [frames/s]", ""), "fps": ("Throughput [frames/s]", ""),
    "peak_ops_per_s": ("Peak [ops/s]", "OPS"), "tdp_w": ("TDP [W]", "W"),
    "predicted_fps": ("Predicted throughput [frames/s]", ""), "measured_fps": ("Measured throughput [frames/s]", ""),
    "latency_s": ("Latency [s]", "s"), "energy_j": ("Energy per inference [J]", "J"), "power_w": ("Power [W]", "W"),
    "accuracy_top1_pct": ("Top-1 accuracy [%]", None),
}
GRID_AXES: dict[str, tuple[str, str]] = {"peak_ops_per_s.": ("{} peak [ops/s]", "OPS"),
                                        "bandwidth_bytes_per_s.": ("{} bandwidth [B/s]", "B/s"),
                                        "capacity_bytes.": ("{} capacity [B]", "B")}
"""A HardwareGrid's axis columns (``peak_ops_per_s.int8``, ...) by prefix: label (the data type or level filled
in) and unit."""
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
AUTO_LOG_DECADES = 2  # log_x/log_y None: log axis when the drawn values are positive and span this many decades
LABEL_CHARS = 40  # a longer hue group or front label is cut in the middle
LABEL_RADII = (5.0, 14.0, 26.0, 42.0, 64.0, 90.0, 120.0)  # [points] from its point, a front label is tried at...
LABEL_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0))  # ...in these directions
ALIGN_X = {1: "left", -1: "right", 0: "center"}  # label alignment for an offset to the right, left, neither
ALIGN_Y = {1: "bottom", -1: "top", 0: "center"}  # ... above, below, neither
LABEL_PAD = 1.5  # [points] clearance kept around a front label
LABEL_FAR_COST = 0.75  # cost of placing a label one radius farther: less than covering one point
RING_POINTS = 9.0  # [points] diameter of the ring marking a front point (``ms``)
LEGEND_BELOW_MAX = 12  # up to this many legend entries go below the axes, more to the right in columns
LEGEND_ROWS = 26  # entries per legend column on the right
LEGEND_DROP = 40.0  # [points] from the axes' bottom to the legend below it: room for tick labels and axis label


def group_style(k: int) -> tuple[str, str]:
    """Colour and marker of hue group ``k``: colour ``C{k % 10}``, marker shifted by one per cycle of 10 colours,
    so that the (colour, marker) pair of each of the first 100 groups differs."""
    return f"C{k % 10}", MARKERS[(k + k // 10) % len(MARKERS)]


def _draw_front(ax: "Axes", points: pd.DataFrame, maximize: tuple[bool, bool], color: str, label: str,
                gid: str) -> pd.Index:
    """Step line through the front of ``points`` (columns ``_x``, ``_y``); returns the index of the front rows."""
    front = pareto_front(points, "_x", "_y", maximize).sort_values("_x", kind="stable")
    where = "pre" if maximize[0] else "post"
    # rings on the front points: a front of one point has no step to draw, and is still seen (and in the legend)
    ax.step(front["_x"], front["_y"], where=where, color=color, lw=1.8, label=label, gid=gid, zorder=1,
            marker="o", ms=9, mfc="none", mew=1.4)
    return front.index


def _misfits(df: pd.DataFrame) -> np.ndarray:
    """(N,) bool: the rows of ``df`` whose network does not fit the memories (a sweep's ``fits`` False, or
    ``False``/``false`` text read from a CSV); all False without a ``fits`` column (measured records)."""
    if "fits" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return (text_column(df["fits"]).str.strip().str.lower() == "false").to_numpy()


def _legend(ax: "Axes", hue: str | None, front: str, own_figure: bool) -> None:
    """The legend: up to ``LEGEND_BELOW_MAX`` entries below the axes, ``LEGEND_DROP`` points under them (clear of
    the tick labels and axis label whatever the axes height); more to the right, ``LEGEND_ROWS`` per column, the
    figure (when the chart made it) widened by 2 inches per column."""
    mpl = import_matplotlib()
    handles, _ = ax.get_legend_handles_labels()
    if len(handles) <= LEGEND_BELOW_MAX:
        fig = ax.figure
        below = ax.transAxes + mpl.transforms.ScaledTranslation(0, -LEGEND_DROP / 72, fig.dpi_scale_trans)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, fontsize="small",
                  frameon=False, title=hue, ncols=min(len(handles), 2 if front == "hue" else 4))
        return
    columns = math.ceil(len(handles) / LEGEND_ROWS)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False, title=hue, ncols=columns)
    if own_figure:
        ax.figure.set_figwidth(ax.figure.get_figwidth() + 2 * columns)


def _front_segments(ax: "Axes") -> np.ndarray:
    """The straight pieces of the front step lines drawn on ``ax``, in display units: rows ``(x0, y0, x1, y1)``,
    each horizontal or vertical, with ``x0 <= x1`` and ``y0 <= y1``."""
    steps = import_matplotlib().cbook.STEP_LOOKUP_MAP
    pieces = []
    for line in ax.get_lines():
        if str(line.get_gid()).startswith("front|"):
            corners = steps[line.get_drawstyle()](np.asarray(line.get_xdata(), dtype=float),
                                                  np.asarray(line.get_ydata(), dtype=float))
            xy = ax.transData.transform(np.column_stack(corners))
            pieces += [(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
                       for (xa, ya), (xb, yb) in zip(xy[:-1], xy[1:])]
    return np.array(pieces, dtype=float).reshape(-1, 4)


def _inside(box: Any, rects: np.ndarray) -> int:
    """How many of ``rects`` (rows ``x0, y0, x1, y1``; a point or a line is a rectangle without area) reach into
    ``box``."""
    return int(((rects[:, 0] < box.x1) & (rects[:, 2] > box.x0) & (rects[:, 1] < box.y1)
                & (rects[:, 3] > box.y0)).sum())


def _label_front(ax: "Axes", chosen: pd.DataFrame, drawn: pd.DataFrame) -> list[str]:
    """Write each front point's ``_text`` (columns ``_x``, ``_y``) beside it; returns the texts left out.

    Positions are tried at ``LABEL_RADII`` points from the point, in each of ``LABEL_DIRECTIONS``. A position must
    keep the label inside the axes and clear of the labels placed before and of every front point's ring; of
    those, the one with the lowest cost wins: 1 per drawn point the label covers, 2 per piece of a front line it
    crosses, 2 per leader line it crosses, 2 per label its own leader line would cross,
    ``LABEL_FAR_COST`` per radius step away from the point (ties: the earlier tried). A label farther than the
    first radius gets a thin leader line; one without any such position is left out. Positions are measured
    on the finished layout (the figure is laid out once first), in display units, so they hold at any dpi the
    figure is saved with.
    """
    mpl = import_matplotlib()
    fig = ax.figure
    settle_layout(ax)  # the axes reach their final place and size
    scale = fig.dpi / 72  # pixels per point
    pad = LABEL_PAD * scale
    area = ax.get_window_extent()
    rings = ax.transData.transform(chosen[["_x", "_y"]].to_numpy(dtype=float))
    half = RING_POINTS / 2 * scale + pad
    taken = [mpl.transforms.Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in rings]
    dots = np.tile(ax.transData.transform(drawn[["_x", "_y"]].to_numpy(dtype=float)), 2)  # as rectangles
    lines = _front_segments(ax)
    leaders: list[Any] = []  # the leader lines drawn, as paths from point to label
    labels: list[Any] = []  # boxes of the labels placed
    left_out = []
    for text, px, py, ring in zip(chosen["_text"], chosen["_x"], chosen["_y"], rings):
        if not text:
            continue
        text = shorten(text, LABEL_CHARS)
        probe = ax.annotate(text, (px, py), xytext=(0, 0), textcoords="offset points", fontsize="x-small")
        best: tuple[float, tuple[float, int, int], Any, Any] | None = None  # cost, (radius, dx, dy), box, leader
        for step, radius in enumerate(LABEL_RADII):
            for dx, dy in LABEL_DIRECTIONS:  # the label's side facing the point is aligned to the offset
                probe.set_position((dx * radius, dy * radius))
                probe.set(ha=ALIGN_X[dx], va=ALIGN_Y[dy])
                box = probe.get_window_extent().padded(pad)
                if not (area.contains(box.x0, box.y0) and area.contains(box.x1, box.y1)) \
                        or any(box.overlaps(other) for other in taken):
                    continue
                path = mpl.path.Path([ring, ring + np.array([dx, dy]) * radius * scale])
                crossed = sum(path.intersects_bbox(other) for other in labels) if step else 0  # by its leader
                cost = (_inside(box, dots) + 2 * _inside(box, lines) + LABEL_FAR_COST * step
                        + 2 * (crossed + sum(line.intersects_bbox(box) for line in leaders)))
                if best is None or cost < best[0]:
                    best = (cost, (radius, dx, dy), box, path)
            if best is not None and best[0] <= LABEL_FAR_COST * (step + 1):  # no farther position costs less
                break
        probe.remove()
        if best is None:
            left_out.append(text)
            continue
        _, (radius, dx, dy), box, path = best
        far = radius > LABEL_RADII[0]
        ax.annotate(text, (px, py), xytext=(dx * radius, dy * radius), textcoords="offset points",
                    ha=ALIGN_X[dx], va=ALIGN_Y[dy], fontsize="x-small", gid="front-label",
                    arrowprops=dict(arrowstyle="-", color="0.45", lw=0.6, shrinkA=0, shrinkB=RING_POINTS / 2)
                    if far else None)
        taken.append(box)
        labels.append(box)
        if far:
            leaders.append(path)
    return left_out


def _auto_log(values: pd.Series) -> bool:
    """Whether ``values`` need a log axis: all positive, the largest at least ``10 ** AUTO_LOG_DECADES`` times the
    smallest (on a linear axis all but the largest few would sit in one corner)."""
    low, high = float(values.min()), float(values.max())
    return low > 0 and high >= low * 10 ** AUTO_LOG_DECADES


ESTIMATE_LABELS: dict[str, dict[str, str]] = {
    "bound": {"fps": "Throughput bound (roofline) [frames/s]", "latency_s": "Latency bound (roofline) [s]"},
    "calibrated": {"fps": "Calibrated throughput [frames/s]", "latency_s": "Calibrated latency [s]"},
}
"""The labels of ``fps`` and ``latency_s`` when every row drawn has one ``estimate`` (a sweep's column: ``bound``
for the roofline, ``calibrated`` for a calibrated sweep's estimates)."""


def _axis(ax: "Axes", which: str, column: str, log: bool, text: str | None, estimate: str | None) -> None:
    """Scale, tick format and label of one axis; the units of known columns come from ``AXES``. ``estimate``: what
    every row drawn is (``bound``, ``calibrated``; None: measured or mixed rows, plain throughput and latency)."""
    label, unit = AXES.get(column, (column, None))
    label = ESTIMATE_LABELS.get(str(estimate), {}).get(column, label)
    for prefix, (template, axis_unit) in GRID_AXES.items():
        if column.startswith(prefix):
            label, unit = template.format(column[len(prefix):]), axis_unit
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
    ``(True, True)``, latency vs energy ``False``. ``hue`` colours points by a column (10 colours, one marker
    shape per group; past 10 groups the colours repeat with other shapes, so no two of the first 100 groups look
    alike); ``front="hue"`` draws one front per group (e.g. predicted vs measured) instead of one over all points.
    The legend goes below the axes, or to the right in columns when it has more than 12 entries.
    ``label`` names a column whose values annotate the front points, each label placed beside its point where it
    overlaps no other label, no front point and, where it can, no drawn point (a distant one with a leader line);
    a label with no such place inside the axes is left out, with a :class:`~rooflinekit.errors.RooflineWarning`
    counting those. Group names and labels longer than 40 characters are cut in the middle. Rows with a missing
    or infinite ``x`` or ``y`` (failed sweep rows) are not drawn, with a :class:`~rooflinekit.errors.RooflineWarning` counting them; a
    cell that is not a number is a :class:`PlotError`. ``log_x``/``log_y`` True put an axis on a log scale (a
    :class:`PlotError` when a drawn value on it is not positive), False on a linear one; None (default) chooses log
    when the drawn values are positive and the largest is at least 100 times the smallest. Axis labels default to
    the column name; the record and sweep columns (``throughput_fps``, ``latency_s``, ``energy_j``,
    ``accuracy_top1_pct``, ...) get a label with units and SI-prefixed ticks (``200 ms``): a sweep's ``fps`` is
    labelled the roofline bound it is where every row's ``estimate`` is ``bound``, the calibrated estimate where
    every row's is ``calibrated`` (``latency_s`` likewise; rows without it, measured ones among them, or of both
    kinds are plain throughput and latency), and a hardware grid's axes
    (``peak_ops_per_s.int8``, ``bandwidth_bytes_per_s.HBM``, ``capacity_bytes.SRAM``) get ``TOPS``, ``TB/s`` and
    ``MB`` ticks. A sweep's rows whose
    network does not fit the memories (``fits`` False) are drawn hollow and left off the front, as
    :class:`~rooflinekit.roofline.Pareto` leaves them out (a design that cannot hold its network is no
    candidate), with a :class:`~rooflinekit.errors.RooflineWarning` counting them. Returns the matplotlib Figure.
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
    misfit = _misfits(data)
    if misfit.all():
        raise PlotError(f"plot_pareto: none of the {len(data)} drawable rows fits its memories (fits False), so "
                        "there is no front; give the designs more capacity or plot a batch that fits")
    if misfit.any():
        first = int(np.flatnonzero(misfit)[0])
        warnings.warn(f"plot_pareto: {int(misfit.sum())} of {len(data)} rows do not fit their memories (fits False) "
                      f"and are drawn hollow, off the front, e.g. row {first} ({x} = {data['_x'].iloc[first]:g}, "
                      f"{y} = {data['_y'].iloc[first]:g})", RooflineWarning, stacklevel=2)
    log_x = _auto_log(data["_x"]) if log_x is None else log_x
    log_y = _auto_log(data["_y"]) if log_y is None else log_y
    for which, column, log in (("x", x, log_x), ("y", y, log_y)):
        below = data[f"_{which}"] <= 0
        if log and below.any():
            raise PlotError(f"plot_pareto: a log {which} axis (log_{which}=True, --log {which}) needs positive values, "
                            f"but {column!r} has {data.loc[below, f'_{which}'].iloc[0]:g}; use a linear axis or drop "
                            "those rows")
    own_figure = ax is None
    fig, ax = figure_and_axes(ax, (9, 6))
    groups = list(dict.fromkeys(data[hue].astype(str))) if hue else [None]
    on_front = pd.Index([])
    for k, group in enumerate(groups):
        rows = data[hue].astype(str) == group if hue else np.ones(len(data), dtype=bool)
        part, out = data[rows & ~misfit], data[rows & misfit]
        color, marker = group_style(k)
        name = None if group is None else shorten(group, LABEL_CHARS)
        ax.scatter(part["_x"], part["_y"], s=28, color=color, marker=marker, edgecolors="black", linewidths=0.4,
                   label=name, gid=f"points|{group}", zorder=2)
        if len(out):
            ax.scatter(out["_x"], out["_y"], s=28, marker=marker, facecolors="none", edgecolors=color,
                       linewidths=0.8, gid=f"misfits|{group}", zorder=2)
        if front == "hue" and len(part):
            on_front = on_front.append(_draw_front(ax, part, best, color, f"Pareto front {name}", f"front|{group}"))
    if front == "all":
        on_front = _draw_front(ax, data[~misfit], best, "black", "Pareto front", "front|all")
    kinds = set(data["estimate"].astype(str)) if "estimate" in data.columns else set()
    estimate = kinds.pop() if len(kinds) == 1 else None
    for which, column, log, text in (("x", x, log_x, xlabel), ("y", y, log_y, ylabel)):
        _axis(ax, which, column, log, text, estimate)
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    _legend(ax, hue, front, own_figure)
    if title:
        ax.set_title(title)
    if label is not None:  # last: the labels are placed where the finished layout leaves room
        chosen = data.loc[on_front].sort_values("_x", kind="stable")
        left_out = _label_front(ax, chosen.assign(_text=text_column(chosen[label])), data)
        if left_out:
            warnings.warn(f"plot_pareto: {len(left_out)} of {len(chosen)} front labels left out for lack of room, "
                          f"e.g. {left_out[0]!r}; draw a larger figure or label fewer points", RooflineWarning,
                          stacklevel=2)
    return fig
