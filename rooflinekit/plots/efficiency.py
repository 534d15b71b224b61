"""Efficiency chart (QuTiBench's efficiency plot): predicted, peak-compute and measured throughput per configuration.

One group of horizontal bars per row of the input, on a log throughput axis: the roofline prediction (red), the
peak-compute bound (blue, when given) and the measurement (orange), the measured bar annotated with the efficiency
= measured / predicted in percent (> 100 % means the prediction was pessimistic).

For many rows, :func:`plot_measured_vs_predicted` draws one point per row instead (measured against predicted,
log axes, the line y = x, each prediction's interval), with each group's median error and interval coverage.
"""

from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rooflinekit.errors import RooflineWarning
from rooflinekit.plots._common import PlotError, decade_limits, figure_and_axes, import_matplotlib, log_axis, \
    numeric_column, require_columns, shorten, text_column

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REQUIRED = ["hardware", "network", "precision", "predicted_fps", "measured_fps"]
SERIES = [("peak_fps", "peak compute", "tab:blue"), ("predicted_fps", "predicted (roofline)", "tab:red"),
          ("measured_fps", "measured", "tab:orange")]
ESTIMATE_COLUMNS = ("predicted_estimate", "estimate")
"""Columns saying how each row's prediction was made (``bound``: the roofline; ``calibrated``), the first present
naming the predicted series (:func:`_predicted_label`)."""
LABEL_CHARS = 60  # a longer row label is cut in the middle: it would squeeze the bars to a sliver
MAX_ROWS = 40  # rows drawn by default: the figure is 1.2 + 0.36 inch per row (three series) tall, 15.6 inches here


def _efficiency_label(percent: float) -> str:
    return f"{percent:.0f} %" if percent >= 10 else f"{percent:.2g} %"


def _extra(column: str, value: object) -> str:
    """The text ``column``'s ``value`` adds to a label that other rows share (``""`` for a missing cell)."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    number = f"{value:g}" if isinstance(value, numbers.Real) else str(value)  # a batch of 8.0 (CSV with gaps): 8
    if column == "pruning_pct":  # QuTiBench's pruned variants: CNV 50%, CNV 25%
        return f" {number}%"
    return f" batch {number}" if column == "batch" else f" {value}"


def _predicted_label(data: pd.DataFrame) -> str:
    """The legend entry of ``predicted_fps``: ``predicted (roofline)`` unless the first :data:`ESTIMATE_COLUMNS`
    column present says otherwise: ``predicted (calibrated)`` when every row's value is ``calibrated``, ``predicted
    (roofline or calibrated)`` when its rows mix the two (any other values: ``predicted (<values>)``)."""
    column = next((c for c in ESTIMATE_COLUMNS if c in data.columns), None)
    if column is None:
        return "predicted (roofline)"
    kinds = sorted({str(v) for v in data[column] if not (pd.api.types.is_scalar(v) and pd.isna(v))})
    names = {"bound": "roofline"}
    return f"predicted ({' or '.join(names.get(kind, kind) for kind in kinds) or 'roofline'})"


def _labels(data: pd.DataFrame) -> pd.Series:
    """``hardware  network precision``, plus the pruning (``50%``), ``batch N`` and the stack where rows would
    otherwise share a label; a missing cell (a record without a stated precision) is left out of its label."""
    labels = (text_column(data["hardware"]) + "  " + text_column(data["network"]) + " "
              + text_column(data["precision"])).str.rstrip()
    for column in ("pruning_pct", "batch", "framework"):
        if column in data.columns and labels.duplicated(keep=False).any():
            shared = labels.duplicated(keep=False)
            extra = pd.Series([_extra(column, value) for value in data[column]], index=data.index)
            labels = labels.where(~shared, labels + extra)
    return labels


def plot_efficiency(df: pd.DataFrame, *, label: str | None = None,
                    title: str | None = "Measured vs predicted throughput", max_rows: int | None = MAX_ROWS,
                    ax: "Axes | None" = None) -> "Figure":
    """Bars of ``predicted_fps``, ``peak_fps`` (optional) and ``measured_fps`` [frames/s] per row of ``df``.

    ``df`` needs columns ``hardware``, ``network``, ``precision``, ``predicted_fps``, ``measured_fps``; optional
    ``efficiency_pct`` (computed as 100 x measured / predicted when absent), ``peak_fps`` (throughput at the
    peak compute of the data type, ignoring memory) and ``predicted_estimate`` or ``estimate`` (how each prediction
    was made, as ``Prediction.estimate``: ``bound`` or ``calibrated``; the legend names the predicted bars after
    it, ``predicted (calibrated)``, and ``predicted (roofline)`` without it). Rows are drawn top to bottom in the
    order given, labelled ``hardware  network precision`` (plus the pruning ``50%``, ``batch N`` and the framework
    where rows would otherwise share a label) or by the column ``label`` (e.g. one naming the software stack too),
    a label longer than 60 characters cut in the middle (``resnet50_v1_5_…_per_channel int8``); a missing (NaN)
    value draws no bar, nor does a zero, negative or infinite one (with a warning); a cell that is not a
    number is a :class:`PlotError`. The figure is 1.2 + 0.12 x rows x series inches tall, so only the first
    ``max_rows`` rows (default 40) are drawn; the rest are left out with a
    :class:`~rooflinekit.errors.RooflineWarning`, and the axis label says how many (``max_rows=None`` draws every
    row; a ``max_rows`` below 1 is a :class:`PlotError`). Returns the matplotlib Figure.
    """
    import_matplotlib()
    require_columns(df, REQUIRED + ([label] if label else []), "plot_efficiency")
    if df.empty:
        raise PlotError("plot_efficiency got an empty DataFrame; nothing to draw")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, numbers.Integral)
                                 or max_rows < 1):
        raise PlotError(f"plot_efficiency: max_rows={max_rows!r}; give a whole number of rows, 1 or more, or None "
                        "for every row")
    total = len(df)
    data = df.reset_index(drop=True)
    if max_rows is not None and total > max_rows:
        first_out = text_column(data[label]).iloc[max_rows] if label else _labels(data).iloc[max_rows]
        warnings.warn(f"plot_efficiency: {total} rows, more than max_rows={max_rows}; the first {max_rows} are "
                      f"drawn and {total - max_rows} left out, from row {max_rows} ({first_out!r}) on; filter or "
                      "sort the table to the rows to show, or pass a larger max_rows (CLI --max-rows N), or None "
                      "for every row", RooflineWarning, stacklevel=2)
        data = data.iloc[:max_rows]
    for column in ("peak_fps", "predicted_fps", "measured_fps", "efficiency_pct"):
        if column in data.columns:
            data[column] = numeric_column(data, column, "plot_efficiency")
    if "efficiency_pct" not in data.columns:
        data["efficiency_pct"] = 100 * data["measured_fps"] / data["predicted_fps"]
    series = [s for s in SERIES if s[0] in data.columns and data[s[0]].notna().any()]
    values = data[[column for column, _, _ in series]].to_numpy(dtype=float)
    drawable = np.isfinite(values) & (values > 0)
    finite = values[drawable]
    if finite.size == 0:
        raise PlotError("plot_efficiency: no positive, finite throughput in predicted_fps/measured_fps/peak_fps")
    undrawn = ~drawable & ~np.isnan(values)  # zero, negative or infinite: no bar on the log axis
    if undrawn.any():
        rows, cols = undrawn.nonzero()
        warnings.warn(f"plot_efficiency: {len(rows)} throughput(s) not positive and finite draw no bar, e.g. "
                      f"{series[cols[0]][0]} = {values[rows[0], cols[0]]:g} in row {rows[0]}; fix or drop them",
                      RooflineWarning, stacklevel=2)
    rows = len(data)
    fig, ax = figure_and_axes(ax, (9, 1.2 + 0.12 * rows * len(series)))
    height = 0.8 / len(series)
    base = np.arange(rows, dtype=float)
    for k, (column, series_label, color) in enumerate(series):
        series_label = _predicted_label(data) if column == "predicted_fps" else series_label
        ax.barh(base + (k - (len(series) - 1) / 2) * height, data[column].to_numpy(dtype=float), height=height,
                color=color, label=series_label, gid=f"bars|{column}")
    offset = (len(series) - 1) / 2 * height
    for i, (measured, percent) in enumerate(zip(data["measured_fps"], data["efficiency_pct"])):
        if pd.notna(measured) and pd.notna(percent):
            ax.annotate(_efficiency_label(percent), (measured, i + offset), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize="x-small")
    labels = text_column(data[label]) if label else _labels(data)
    ax.set_yticks(base, [shorten(text, LABEL_CHARS) for text in labels], fontsize="small")
    ax.set_ylim(rows - 0.5, -0.5)
    log_axis(ax, "x", "")
    # a decade below the smallest bar: the shortest bar is at least a factor 1.5 long
    low, high = decade_limits(finite.min() / 1.5, finite.max())
    ax.set_xlim(low, high * 3)  # room for the percent labels
    left_out = total - rows
    ax.set_xlabel("Throughput [frames/s]" + (f"\nfirst {rows} of {total} rows shown; {left_out} left out "
                                             f"(max_rows={max_rows})" if left_out else ""))
    ax.grid(True, axis="x", which="major", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    return fig


def plot_measured_vs_predicted(df: pd.DataFrame, measured: str = "measured_s", predicted: str = "predicted_s", *,
                               low: str | None = None, high: str | None = None, by: str | None = "hardware",
                               unit: str = "s", title: str | None = "Measured vs predicted latency",
                               ax: "Axes | None" = None) -> "Figure":
    """Measured against predicted values, one point per row of ``df``, on log axes with the line y = x.

    For thousands of rows (a calibration's predictions of a search space), where :func:`plot_efficiency`'s bars
    per row do not scale. ``measured`` and ``predicted`` name the columns (in ``unit``, default seconds); ``low``
    and ``high`` (optional, both or neither) the prediction interval's ends, drawn as a vertical segment at each
    point's predicted value, so a point inside its segment is a measurement its interval covers. One colour per
    value of ``by`` (None: one group), each labelled with its count n, its median absolute percentage error
    ``APE = 100 x |predicted / measured - 1|`` and, with an interval, the share of measurements inside it
    (``low <= measured <= high``). A row whose measured or predicted value is missing, zero, negative or infinite
    is not drawn and not counted, with a :class:`~rooflinekit.errors.RooflineWarning` giving how many and the first;
    a cell that is not a number is a :class:`PlotError`, and so is a table with no drawable row. Returns the
    matplotlib Figure.
    """
    import_matplotlib()
    if (low is None) != (high is None):
        raise PlotError(f"plot_measured_vs_predicted: give both ends of the interval (low= and high=) or neither; "
                        f"got low={low!r}, high={high!r}")
    bounds = [c for c in (low, high) if c is not None]
    require_columns(df, [measured, predicted, *bounds, *([by] if by else [])], "plot_measured_vs_predicted")
    data = df.reset_index(drop=True)
    values = {c: numeric_column(data, c, "plot_measured_vs_predicted") for c in (measured, predicted, *bounds)}
    x, y = values[predicted].to_numpy(), values[measured].to_numpy()
    drawable = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if not drawable.any():
        raise PlotError(f"plot_measured_vs_predicted: no row has a positive, finite {measured} and {predicted}")
    if not drawable.all():
        first = int((~drawable).nonzero()[0][0])
        warnings.warn(f"plot_measured_vs_predicted: {(~drawable).sum()} of {len(data)} rows not drawn nor counted: "
                      f"{measured} or {predicted} is missing, zero, negative or infinite (first: row {first}, "
                      f"{measured} = {y[first]:g}, {predicted} = {x[first]:g})", RooflineWarning, stacklevel=2)
    groups = text_column(data[by]) if by else pd.Series("all", index=data.index)
    fig, ax = figure_and_axes(ax, (7, 6))
    for name in dict.fromkeys(groups[drawable]):
        rows = drawable & (groups == name).to_numpy()
        ape = 100 * np.abs(x[rows] / y[rows] - 1)
        label = f"{shorten(str(name), LABEL_CHARS)}: n {rows.sum()}, median APE {np.median(ape):.1f} %"
        if bounds:
            lo, hi = values[bounds[0]].to_numpy()[rows], values[bounds[1]].to_numpy()[rows]
            label += f", {100 * np.mean((lo <= y[rows]) & (y[rows] <= hi)):.0f} % inside the interval"
        points = ax.scatter(x[rows], y[rows], s=9, alpha=0.7, label=label, gid=f"points|{name}")
        color = points.get_facecolor()[0]
        if bounds:
            ax.vlines(x[rows], lo, hi, colors=[color], alpha=0.2, linewidth=0.8, gid=f"intervals|{name}")
    shown_values = np.concatenate([x[drawable], y[drawable]])
    low_limit, high_limit = decade_limits(shown_values.min() / 1.5, shown_values.max() * 1.5)
    ax.plot([low_limit, high_limit], [low_limit, high_limit], color="0.4", linestyle="--", linewidth=0.8,
            label="measured = predicted", gid="diagonal")
    ax.set_xlim(low_limit, high_limit)
    ax.set_ylim(low_limit, high_limit)
    log_axis(ax, "x", unit)
    log_axis(ax, "y", unit)
    ax.set_xlabel(f"predicted ({predicted})")
    ax.set_ylabel(f"measured ({measured})")
    ax.grid(True, which="major", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    return fig
