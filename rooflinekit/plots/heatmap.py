"""Heatmap of a sweep (QuTiBench's performance-prediction heatmap): hardware x network variant, log colour scale."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rooflinekit.errors import RooflineWarning
from rooflinekit.plots._common import PlotError, figure_and_axes, import_matplotlib, require_columns, \
    settle_layout, shorten, text_column

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

VALUE_LABELS = {"fps": "Predicted throughput [frames/s]", "latency_s": "Predicted latency [s]",
                "attainable_ops_per_s": "Attainable performance [ops/s]"}
ANNOTATE_MAX_CELLS = 400
LABEL_CHARS = 40  # a longer hardware or variant name is cut in the middle: it would squeeze the grid to nothing
MAX_INCHES = (24.0, 16.0)  # largest figure drawn (width, height)
CHAR_INCHES = 0.07  # width of a tick-label character at the "small" font size, to size the figure for the labels
COLUMN_LABEL_ANGLE = 60  # [degrees] rotation of the variant labels under the grid
LINE_HEIGHT = 1.25  # height of a line of tick-label text per point of font size
MIN_LABEL_POINTS = 4.0  # tick labels are not shrunk below this size [points]
GRID_AXIS_PREFIXES = ("peak_ops_per_s.", "bandwidth_bytes_per_s.", "capacity_bytes.")  # HardwareGrid axis columns


def _grid(sweep_df: pd.DataFrame, value: str) -> pd.DataFrame:
    """hardware x "network precision" table of ``value``; rows and columns in order of first appearance."""
    require_columns(sweep_df, ["hardware", "network", "precision", value], "plot_heatmap")
    keys = ["hardware", "network", "precision"]
    text = {key: text_column(sweep_df[key]) for key in keys}  # a missing precision: "" rather than "nan"
    repeated = pd.DataFrame(text).duplicated(keep=False)
    if repeated.any():
        first = repeated.to_numpy().nonzero()[0][0]
        same = pd.Series(True, index=sweep_df.index)
        for key in keys:
            same &= text[key] == text[key].iloc[first]
        group = sweep_df[same]
        axes = [c for c in group.columns
                if isinstance(c, str) and (c in ("clock_scale", "tdp_w") or c.startswith(GRID_AXIS_PREFIXES))]
        varying = [c for c in ("pruning_pct", "batch", "mode", "traffic", "grid_point", *axes)
                   if c in group.columns and group[c].nunique(dropna=False) > 1]
        grid = (" (a HardwareGrid's points share their template's hardware name: keep one point per cell, e.g. "
                "table[table.grid_point == 0], or rank them with rooflinekit.roofline.Best)"
                if "grid_point" in varying else "")
        raise PlotError(f"plot_heatmap needs one row per (hardware, network, precision); "
                        f"{text['hardware'].iloc[first]} x {text['network'].iloc[first]} "
                        f"{text['precision'].iloc[first]} has {len(group)} rows (varying: "
                        f"{', '.join(varying) or 'nothing: the rows repeat'}); filter the table to one of each{grid}")
    data = sweep_df.assign(variant=(text["network"] + " " + text["precision"]).str.strip(),
                           hardware=text["hardware"])
    values = pd.to_numeric(data[value], errors="coerce")
    blank = ~(values > 0)
    if blank.any():
        first = int(np.flatnonzero(blank.to_numpy())[0])
        status = data["status"].iloc[first] if "status" in data.columns else "ok"
        cell = f"{data['hardware'].iloc[first]} x {data['variant'].iloc[first]}"
        if blank.all():  # a failed sweep says why; a table of zeros needs no example
            because = f", e.g. {cell} (status {status})" if status != "ok" else ""
            raise PlotError(f"plot_heatmap: no positive {value} in any cell{because}; nothing to draw")
        example = f"{cell} (" + (f"status {status})" if status != "ok" else f"{value} = {data[value].iloc[first]})")
        warnings.warn(f"plot_heatmap: {int(blank.sum())} of {len(data)} rows have no positive {value}; their cells "
                      f"are blank, e.g. {example}", RooflineWarning, stacklevel=3)
    data = data.assign(value=values.where(values > 0))
    grid = data.pivot(index="hardware", columns="variant", values="value")
    return grid.loc[list(dict.fromkeys(data["hardware"])), list(dict.fromkeys(data["variant"]))]


def _compact(value: float) -> str:
    """3 significant digits, with k/M/G above 1000: 4035 -> '4.04k', 12.5 -> '12.5', 0.5 -> '0.5' (never a milli
    'm', which reads as million in a table of frame rates)."""
    if abs(value) < 1000:
        return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.1e}"
    return import_matplotlib().ticker.EngFormatter(places=None, sep="").format_eng(float(f"{value:.3g}"))


def _fit_tick_labels(ax: "Axes", n_rows: int, n_cols: int) -> None:
    """Shrink the tick labels (from ``small``, never below ``MIN_LABEL_POINTS``) until neighbours do not overlap:
    a row label must fit its row's height, a column label rotated by ``COLUMN_LABEL_ANGLE`` the distance
    ``column width x sin(angle)`` between neighbouring labels, each ``LINE_HEIGHT`` x font size tall. Measured on
    the finished layout (the figure is laid out once first)."""
    mpl = import_matplotlib()
    settle_layout(ax)  # the axes reach their final size
    box = ax.get_window_extent()
    points = 72 / ax.figure.dpi  # points per pixel
    small = mpl.font_manager.FontProperties(size="small").get_size_in_points()
    gaps = ((ax.get_xticklabels(), box.width * points / n_cols * math.sin(math.radians(COLUMN_LABEL_ANGLE))),
            (ax.get_yticklabels(), box.height * points / n_rows))
    for labels, gap in gaps:
        size = max(min(small, gap / LINE_HEIGHT), MIN_LABEL_POINTS)
        for text in labels:
            text.set_fontsize(size)


def plot_heatmap(sweep_df: pd.DataFrame, value: str = "fps", *, title: str | None = "Performance prediction",
                 annotate: bool | None = None, ax: "Axes | None" = None) -> "Figure":
    """Heatmap of ``value`` (default ``fps``) from a :func:`rooflinekit.sweep` DataFrame.

    Rows are ``hardware``, columns ``network`` + ``precision``, both in order of first appearance; there must be
    one row per (hardware, network, precision), so filter a multi-batch sweep first. Cells without a positive
    value (status not ``ok``, NaN, 0) are left blank, with a :class:`~rooflinekit.errors.RooflineWarning` counting
    them and naming the first. Colours are on a log scale. ``annotate`` writes each value
    in its cell (None: only when the grid has at most 400 cells). The figure grows with the grid up to 24 x 16
    inches; past that the tick labels shrink (to 4 points at least) so that neighbours do not overlap. Returns the
    matplotlib Figure.
    """
    mpl = import_matplotlib()
    grid = _grid(sweep_df, value)
    cells = grid.to_numpy(dtype=float)
    finite = cells[np.isfinite(cells)]
    if finite.size == 0:
        raise PlotError(f"plot_heatmap: no positive {value} in any cell; nothing to draw")
    n_rows, n_cols = cells.shape
    columns = [shorten(str(c), LABEL_CHARS) for c in grid.columns]
    rows = [shorten(str(r), LABEL_CHARS) for r in grid.index]
    # room for the labels beside (hardware) and below (variants, at 60 degrees) the grid
    width = 2.5 + 0.42 * n_cols + CHAR_INCHES * max(len(r) for r in rows)
    height = 1.6 + 0.32 * n_rows + CHAR_INCHES * math.sin(math.radians(60)) * max(len(c) for c in columns)
    sized = ax is None and width <= MAX_INCHES[0] and height <= MAX_INCHES[1]  # cells at their full size
    fig, ax = figure_and_axes(ax, (min(width, MAX_INCHES[0]), min(height, MAX_INCHES[1])))
    cmap = mpl.colormaps["viridis"].with_extremes(bad="white")
    vmin, vmax = finite.min(), finite.max()
    norm = mpl.colors.LogNorm(vmin=vmin, vmax=vmax if vmax > vmin else vmin * 10)
    image = ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    if annotate or (annotate is None and cells.size <= ANNOTATE_MAX_CELLS):
        for (i, j), cell in np.ndenumerate(cells):
            if np.isfinite(cell):
                dark = sum(cmap(norm(cell))[:3]) / 3 < 0.5
                ax.text(j, i, _compact(cell), ha="center", va="center", fontsize=6.5,
                        color="white" if dark else "black", gid="cell-label")
    ax.set_xticks(range(n_cols), columns, rotation=COLUMN_LABEL_ANGLE, ha="right", rotation_mode="anchor",
                  fontsize="small")
    ax.set_yticks(range(n_rows), rows, fontsize="small")
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(True, which="minor", color="0.85", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set(xlabel="Network variant", ylabel="Hardware")
    colorbar = fig.colorbar(image, ax=ax, pad=0.01)
    colorbar.set_label(VALUE_LABELS.get(value, value))
    if title:
        ax.set_title(title)
    if not sized:  # cells narrower or lower than planned: labels may need to shrink
        _fit_tick_labels(ax, n_rows, n_cols)
    return fig
