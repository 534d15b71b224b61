"""Heatmap of a sweep (QuTiBench's performance-prediction heatmap): hardware x network variant, log colour scale."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rooflinekit.plots._common import PlotError, figure_and_axes, import_matplotlib, require_columns

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

VALUE_LABELS = {"fps": "Predicted throughput [frames/s]", "latency_s": "Predicted latency [s]",
                "attainable_ops_per_s": "Attainable performance [ops/s]"}
ANNOTATE_MAX_CELLS = 400


def _grid(sweep_df: pd.DataFrame, value: str) -> pd.DataFrame:
    """hardware x "network precision" table of ``value``; rows and columns in order of first appearance."""
    require_columns(sweep_df, ["hardware", "network", "precision", value], "plot_heatmap")
    keys = ["hardware", "network", "precision"]
    repeated = sweep_df[sweep_df.duplicated(keys, keep=False)]
    if not repeated.empty:
        varying = [c for c in ("batch", "mode", "traffic") if c in repeated.columns and repeated[c].nunique() > 1]
        first = repeated.iloc[0]
        raise PlotError(f"plot_heatmap needs one row per (hardware, network, precision); "
                        f"{first.hardware} x {first.network} {first.precision} has {len(repeated)} rows "
                        f"(varying: {', '.join(varying) or 'unknown'}); filter the sweep to one value of each")
    data = sweep_df.assign(variant=sweep_df["network"].astype(str) + " " + sweep_df["precision"].astype(str))
    values = pd.to_numeric(data[value], errors="coerce")
    data = data.assign(value=values.where(values > 0))
    grid = data.pivot(index="hardware", columns="variant", values="value")
    return grid.loc[list(dict.fromkeys(data["hardware"])), list(dict.fromkeys(data["variant"]))]


def _compact(value: float) -> str:
    """3 significant digits, with k/M/G above 1000: 4035 -> '4.04k', 12.5 -> '12.5', 0.5 -> '0.5' (never a milli
    'm', which reads as million in a table of frame rates)."""
    if abs(value) < 1000:
        return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.1e}"
    return import_matplotlib().ticker.EngFormatter(places=None, sep="").format_eng(float(f"{value:.3g}"))


def plot_heatmap(sweep_df: pd.DataFrame, value: str = "fps", *, title: str | None = "Performance prediction",
                 annotate: bool | None = None, ax: "Axes | None" = None) -> "Figure":
    """Heatmap of ``value`` (default ``fps``) from a :func:`rooflinekit.sweep` DataFrame.

    Rows are ``hardware``, columns ``network`` + ``precision``, both in order of first appearance; there must be
    one row per (hardware, network, precision), so filter a multi-batch sweep first. Cells without a positive
    value (status not ``ok``, NaN, 0) are left blank. Colours are on a log scale. ``annotate`` writes each value
    in its cell (None: only when the grid has at most 400 cells). Returns the matplotlib Figure.
    """
    mpl = import_matplotlib()
    grid = _grid(sweep_df, value)
    cells = grid.to_numpy(dtype=float)
    finite = cells[np.isfinite(cells)]
    if finite.size == 0:
        raise PlotError(f"plot_heatmap: no positive {value} in any cell; nothing to draw")
    n_rows, n_cols = cells.shape
    fig, ax = figure_and_axes(ax, (min(3.5 + 0.42 * n_cols, 24), min(2.2 + 0.32 * n_rows, 16)))
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
    ax.set_xticks(range(n_cols), grid.columns, rotation=60, ha="right", rotation_mode="anchor", fontsize="small")
    ax.set_yticks(range(n_rows), grid.index, fontsize="small")
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(True, which="minor", color="0.85", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set(xlabel="Network variant", ylabel="Hardware")
    colorbar = fig.colorbar(image, ax=ax, pad=0.01)
    colorbar.set_label(VALUE_LABELS.get(value, value))
    if title:
        ax.set_title(title)
    return fig
