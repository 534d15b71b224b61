"""Roofline chart: compute ceilings and bandwidth slopes of one or more devices, with networks placed on them.

Attainable performance is ``min(peak(dtype), bandwidth x operational intensity)``. Per device the chart draws
one horizontal ceiling per data type (line style = data type; data types with equal peaks share one line, whose
style and legend entry name them all: ``fp32 = fp64 peak``), one slope per memory level (the level that holds
the weights drawn full, the others faint), and marks each ridge point where a ceiling meets a slope. Devices are
told apart by colour and, past 14 devices (when the colours repeat), by the marker shape of their ridge points.

Every line carries a ``gid``: ``ceiling|<hardware>|<dtypes>``, ``bandwidth|<hardware>|<level>``,
``ridge|<hardware>|<dtypes>|<level>``, ``network|<label>`` (vertical line at a network's operational intensity),
``predicted|<label>`` and ``measured|<label>`` (points), and the label of a vertical line ``network-label|<label>``,
where ``<dtypes>`` is the data type of the ceiling, or those sharing it joined by ``=`` (``fp32=fp64``). SVG
output keeps them as element ids.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from rooflinekit.api import resolve_hardware
from rooflinekit.descriptors import DType, HardwareSpec
from rooflinekit.errors import RooflineWarning
from rooflinekit.plots._common import PlotError, decade_limits, figure_and_axes, import_matplotlib, log_axis, \
    numeric_column, require_columns, settle_layout, text_column

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DTYPE_STYLES: list[object] = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 1, 2)),
                              (0, (3, 1, 1, 1)), (0, (10, 3)), (0, (1, 1)), (0, (6, 2, 1, 2, 1, 2)), (0, (2, 4)),
                              (0, (6, 2, 2, 2)), (0, (10, 2, 2, 2, 2, 2)), (0, (4, 4, 1, 4)),
                              (0, (12, 2, 1, 2, 1, 2, 1, 2)), (0, (3, 2, 3, 2, 8, 2)), (0, (1, 1, 1, 1, 1, 5))]
"""One line style per kind of ceiling drawn (a data type, or data types sharing a peak: ``Ceiling``), all
distinct; a chart with more than these 18 kinds repeats them."""
Ceiling = tuple[DType, ...]
"""The data types one ceiling line stands for, in :class:`DType` order: one, or several with the same peak."""
PEAK_REL_TOL = 1e-9
"""Peaks this close (relative) are equal: the same datasheet number reached by other arithmetic may differ in
the last bits."""
PERFORMANCE = ["attainable_ops_per_s", "measured_ops_per_s"]  # network columns [ops/s]: predicted, measured
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
DEVICE_COLORS = [f"C{i}" for i in range(10)] + ["#b8860b", "#000000", "#1a1a6e", "#8dd3c7"]
"""Line colours of the devices; past these 14 the colours repeat with the next of ``DEVICE_MARKERS``."""
DEVICE_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h"]
"""Ridge-point marker of a device: the first 14 devices ``o``, the next 14 ``s``, ...: every (colour, marker) pair
differs for up to 14 x 9 = 126 devices."""
OTHER_LEVEL_ALPHA = 0.45  # slopes of memory levels that do not hold the weights are drawn faint
UNDRAWN_HARDWARE_COLOR = "0.6"  # points of hardware whose roofline is not drawn: grey (black is a device colour)
LEGEND_ROWS = 26  # entries per legend column
LEGEND_KEEP = 6  # a legend section of up to this many entries is not split across columns...
LEGEND_KEEP_HEAD = 2  # ...a longer one keeps at least this many under its heading
LINE_LABEL_PAD = 2.0  # [points] kept between the labels of vertical network lines


def _hardware_list(hardware: Sequence[HardwareSpec | str | Path] | HardwareSpec | str | Path) -> list[HardwareSpec]:
    """``hardware`` as specs, each item read as ``--hardware`` reads it (:func:`rooflinekit.api.resolve_hardware`):
    a ``Path`` or a str ending ``.yaml``/``.yml`` is a hardware YAML file holding one spec, another str a catalog
    name or alias."""
    items = [hardware] if isinstance(hardware, (HardwareSpec, str, Path)) else list(hardware)
    if not items:
        raise PlotError("plot_roofline needs at least one hardware spec, catalog name or hardware YAML file")
    return [resolve_hardware(h) for h in items]


def _ceilings(hw: HardwareSpec, dtypes: set[DType] | None) -> dict[Ceiling, float]:
    """The ceilings of ``hw`` to draw (those of ``dtypes``; None: all) and their peaks [ops/s]. Data types with
    equal peaks (``PEAK_REL_TOL``) form one ceiling: drawn one per type, the lines would lie on each other, only
    the last drawn visible, and the legend would list a line style nobody can see; one line named after all of
    them (``fp32 = fp64 peak``) says that they coincide."""
    peaks = {d: p for d, p in hw.peak_ops_per_s.items() if dtypes is None or d in dtypes}
    if not peaks:
        native = ", ".join(d.value for d in hw.peak_ops_per_s)
        wanted = ", ".join(sorted(d.value for d in dtypes or ()))
        raise PlotError(f"{hw.name} has none of the data types {wanted}; it supports {native}")
    groups: dict[float, list[DType]] = {}  # peak of the group's first data type -> the group
    for dtype in sorted(peaks, key=list(DType).index):
        peak = next((p for p in groups if math.isclose(p, peaks[dtype], rel_tol=PEAK_REL_TOL)), peaks[dtype])
        groups.setdefault(peak, []).append(dtype)
    return {tuple(group): peak for peak, group in groups.items()}


def _ceiling_name(ceiling: Ceiling, sep: str) -> str:
    """The data types of ``ceiling`` joined by ``sep``: ``fp32=fp64`` (gids), ``fp32 = fp64`` (legend)."""
    return sep.join(dtype.value for dtype in ceiling)


def _points(networks: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of ``networks`` that draw something, with a ``label`` column and the performance columns as floats.

    A row draws when its operational intensity is finite and positive and, when ``networks`` has performance
    columns, one of them is too. A :class:`RooflineWarning` counts the rows that draw nothing or lose a value
    (a failed sweep row, a zero measurement), naming the first one and why.
    """
    if networks is None:
        return pd.DataFrame(columns=["operational_intensity", "label"])
    require_columns(networks, ["operational_intensity"], "plot_roofline(networks=...)")
    oi = pd.to_numeric(networks["operational_intensity"], errors="coerce").astype(float)
    points = networks.assign(operational_intensity=oi)
    perf = [c for c in PERFORMANCE if c in networks.columns]
    for column in perf:
        points[column] = numeric_column(networks, column, "plot_roofline(networks=...)")
    values = points[perf].to_numpy(dtype=float)
    positive = np.isfinite(values) & (values > 0)
    lost = ~positive & ~np.isnan(values)  # zero, negative or infinite: not on a log axis
    drawn = np.isfinite(oi) & (oi > 0) & (positive.any(axis=1) if perf else True)
    skipped = ~drawn | lost.any(axis=1)
    if skipped.any():
        first = int(np.flatnonzero(skipped.to_numpy())[0])
        status = networks["status"].iloc[first] if "status" in networks.columns else "ok"
        bad_oi = not (math.isfinite(oi.iloc[first]) and oi.iloc[first] > 0)
        why = (f"status {status}" if status != "ok" else f"operational_intensity = {oi.iloc[first]:g}" if bad_oi
               else ", ".join(f"{c} = {v:g}" for c, v in zip(perf, values[first])))
        warnings.warn(f"plot_roofline: {int(skipped.sum())} of {len(networks)} network rows are left out or lose a "
                      f"point, e.g. row {first} ({why}); a point needs a positive, finite operational intensity and "
                      "performance", RooflineWarning, stacklevel=3)
    points = points[drawn].copy()
    if "network" in points.columns:
        label = text_column(points["network"])
        if "precision" in points.columns:
            label = (label + " " + text_column(points["precision"])).str.strip()
    else:
        label = pd.Series([f"point {i}" for i in range(len(points))], index=points.index)
    points["label"] = label
    return points


def _limits(specs: dict[str, dict[Ceiling, float]], hardware: list[HardwareSpec],
            points: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    ridges = [p / m.bandwidth_bytes_per_s for hw in hardware for p in specs[hw.name].values() for m in hw.memories]
    x_low, x_high = min(ridges) / 4, max(ridges) * 4
    if len(points):
        x_low = min(x_low, points["operational_intensity"].min() / 2)
        x_high = max(x_high, points["operational_intensity"].max() * 2)
    xlim = decade_limits(x_low, x_high)
    y_high = max(p for peaks in specs.values() for p in peaks.values()) * 2
    y_low = min(m.bandwidth_bytes_per_s for hw in hardware for m in hw.memories) * xlim[0]
    for column in ("attainable_ops_per_s", "measured_ops_per_s"):
        if column in points.columns:
            values = pd.to_numeric(points[column], errors="coerce")
            drawn = values[(values > 0) & np.isfinite(values)]
            if len(drawn):  # every point inside the axes (one of hardware not drawn may be above every roof)
                y_low, y_high = min(y_low, drawn.min() / 2), max(y_high, drawn.max() * 2)
    return xlim, decade_limits(y_low, y_high)


def _device_styles(devices: list[HardwareSpec]) -> tuple[dict[str, str], dict[str, str]]:
    """Colour and ridge-point marker per device name: the colours cycle through ``DEVICE_COLORS``, and each cycle
    takes the next of ``DEVICE_MARKERS``, so that no two devices share both."""
    cycle = len(DEVICE_COLORS)
    colors = {hw.name: DEVICE_COLORS[i % cycle] for i, hw in enumerate(devices)}
    markers = {hw.name: DEVICE_MARKERS[(i // cycle) % len(DEVICE_MARKERS)] for i, hw in enumerate(devices)}
    return colors, markers


def _draw_device(ax: "Axes", hw: HardwareSpec, peaks: dict[Ceiling, float], color: str, marker: str,
                 styles: dict[Ceiling, object], xlim: tuple[float, float]) -> None:
    weights_level = hw.memory_for("weights")
    top = max(peaks.values())
    fastest = max(m.bandwidth_bytes_per_s for m in hw.memories)
    for level in hw.memories:
        bw = level.bandwidth_bytes_per_s
        alpha = 1.0 if level is weights_level else OTHER_LEVEL_ALPHA
        ax.plot([xlim[0], top / bw], [bw * xlim[0], top], color=color, alpha=alpha, lw=1.6,
                gid=f"bandwidth|{hw.name}|{level.name}")
        for ceiling, peak in peaks.items():
            ax.plot([peak / bw], [peak], marker=marker, ms=4 if marker == "o" else 5, color=color, ls="none",
                    gid=f"ridge|{hw.name}|{_ceiling_name(ceiling, '=')}|{level.name}")
    for ceiling, peak in peaks.items():
        ax.plot([peak / fastest, xlim[1]], [peak, peak], color=color, ls=styles[ceiling], lw=1.6,
                gid=f"ceiling|{hw.name}|{_ceiling_name(ceiling, '=')}")


def _stack_line_labels(ax: "Axes") -> None:
    """Move the labels of the vertical network lines (written down from the top of the axes) so that none
    overlaps another: left to right, a label that would overlap one placed before goes down below it (with
    ``LINE_LABEL_PAD`` between them), as often as needed. A label pushed past the bottom of the axes is left out,
    with a :class:`~rooflinekit.errors.RooflineWarning` counting those (the lines themselves are all drawn).
    Measured on the finished layout, in display units."""
    labels = sorted((text for text in ax.texts if str(text.get_gid()).startswith("network-label|")),
                    key=lambda text: text.xy[0])
    if not labels:
        return
    settle_layout(ax)
    area = ax.get_window_extent()
    pad = LINE_LABEL_PAD * ax.figure.dpi / 72
    placed: list[Any] = []
    left_out = []
    for label in labels:
        box = label.get_window_extent().padded(pad)
        while box.y0 >= area.y0 and any(box.overlaps(other) for other in placed):
            lowest = min(other.y0 for other in placed if box.overlaps(other))
            # its top just under that one (half a pixel more: boxes that touch count as overlapping)
            label.xy = (label.xy[0], label.xy[1] - (box.y1 - lowest + 0.5) / area.height)
            box = label.get_window_extent().padded(pad)
        if box.y0 < area.y0:
            left_out.append(label.get_text())
            label.remove()
        else:
            placed.append(box)
    if left_out:
        warnings.warn(f"plot_roofline: {len(left_out)} of {len(labels)} network line labels left out for lack of "
                      f"room, e.g. {left_out[0]!r} (their lines are drawn); draw a taller figure or fewer networks",
                      RooflineWarning, stacklevel=3)


def _draw_points(ax: "Axes", points: pd.DataFrame, colors: dict[str, str]) -> dict[str, str]:
    """Networks as points (predicted filled, measured hollow) or, without performance, as vertical lines, each
    labelled at the top of the axes (:func:`_stack_line_labels` moves the labels apart once the layout is
    done)."""
    markers = {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(dict.fromkeys(points["label"]))}
    has_perf = any(c in points.columns for c in PERFORMANCE)
    if not has_perf:
        for oi, label in zip(points["operational_intensity"], points["label"]):
            ax.axvline(oi, color="0.4", ls=":", lw=1, gid=f"network|{label}")
            ax.annotate(label, (oi, 1), xycoords=("data", "axes fraction"), xytext=(2, -4),
                        textcoords="offset points", rotation=90, va="top", fontsize="x-small",
                        gid=f"network-label|{label}")
        return {}
    for row in points.itertuples(index=False):
        oi, label = row.operational_intensity, row.label
        color = colors.get(str(getattr(row, "hardware", "")), UNDRAWN_HARDWARE_COLOR)
        predicted = getattr(row, "attainable_ops_per_s", np.nan)
        measured = getattr(row, "measured_ops_per_s", np.nan)
        if predicted > 0 and np.isfinite(predicted):
            ax.plot([oi], [predicted], marker=markers[label], ms=7, color=color, mec="black", mew=0.6,
                    ls="none", gid=f"predicted|{label}")
        if measured > 0 and np.isfinite(measured):
            ax.plot([oi], [measured], marker=markers[label], ms=7, mfc="none", mec=color, mew=1.4,
                    ls="none", gid=f"measured|{label}")
    return markers


def _undrawn_hardware(points: pd.DataFrame, colors: dict[str, str]) -> bool:
    """Whether a point drawn (a finite positive performance) belongs to hardware whose roofline is not drawn, or
    names none."""
    columns = [c for c in PERFORMANCE if c in points.columns]
    if not columns:
        return False
    values = points[columns].to_numpy(dtype=float)
    drawn = ((values > 0) & np.isfinite(values)).any(axis=1)
    named = points["hardware"].astype(str) if "hardware" in points.columns else pd.Series("", index=points.index)
    return bool((drawn & ~named.isin(list(colors)).to_numpy()).any())


def _legend_columns(handles: list[Any], headings: dict[int, int], limit: int) -> list[list[Any]]:
    """``handles`` in legend columns of at most ``limit`` entries, as few columns as that allows and as even as
    they can be, where a section heading (``headings``: its position -> the number of entries under it) starts a
    new column unless the column has room for it and its whole section, or, for a section longer than
    ``LEGEND_KEEP``, for it and ``LEGEND_KEEP_HEAD`` entries: a short section is not split, a heading never ends a
    column. Should that need another column, the columns are made longer (up to ``limit``) instead."""
    count = math.ceil(len(handles) / limit)
    depth = math.ceil(len(handles) / count)
    while True:
        columns: list[list[Any]] = [[]]
        for position, handle in enumerate(handles):
            size = headings.get(position)
            room = 1 + (size if size <= LEGEND_KEEP else LEGEND_KEEP_HEAD) if size is not None else 1
            if len(columns[-1]) + room > depth and columns[-1]:
                columns.append([])
            columns[-1].append(handle)
        if len(columns) <= count or depth >= limit:
            return columns
        depth += 1


def _legend(ax: "Axes", hardware: list[HardwareSpec], colors: dict[str, str], ridge_markers: dict[str, str],
            styles: dict[Ceiling, object], markers: dict[str, str], points: pd.DataFrame) -> int:
    """One legend outside the axes, in sections with bold headings: hardware (line colour and ridge marker),
    ceilings, slopes, networks. Returns its number of columns."""
    Line2D = import_matplotlib().lines.Line2D
    sections = {"Hardware": [Line2D([], [], color=colors[hw.name], lw=2, marker=ridge_markers[hw.name], ms=5,
                                    label=hw.name) for hw in hardware]
                + ([Line2D([], [], color=UNDRAWN_HARDWARE_COLOR, marker="o", ls="none", label="other hardware")]
                   if _undrawn_hardware(points, colors) else []),
                "Compute ceilings": [Line2D([], [], color="black", ls=style, lw=1.4,
                                            label=f"{_ceiling_name(ceiling, ' = ')} peak")
                                     for ceiling, style in styles.items()]}
    if any(len(hw.memories) > 1 for hw in hardware):
        slopes = [Line2D([], [], color="0.2", label="weights memory"),
                  Line2D([], [], color="0.2", alpha=OTHER_LEVEL_ALPHA, label="other memory level")]
    else:
        slopes = [Line2D([], [], color="0.2", label="memory bandwidth")]
    shaped = len(set(ridge_markers.values())) > 1  # past 14 devices: the shape is the device's, as in Hardware
    slopes.append(Line2D([], [], color="black", marker="o", ms=4, ls="none",
                         label="ridge point (shape: hardware)" if shaped else "ridge point"))
    sections["Memory slopes"] = slopes
    if markers:
        sections["Networks"] = [Line2D([], [], color="0.6", mec="black", marker=m, ls="none", label=label)
                                for label, m in markers.items()]
        if "measured_ops_per_s" in points.columns and points["measured_ops_per_s"].notna().any():
            sections["Networks"] += [
                Line2D([], [], color="0.6", mec="black", marker="o", ls="none", label="predicted (filled)"),
                Line2D([], [], mfc="none", mec="black", marker="o", ls="none", label="measured (hollow)")]
    handles: list[Any] = []
    headings = {}
    for heading, entries in sections.items():
        headings[len(handles)] = len(entries)
        handles += [Line2D([], [], ls="none", label=heading), *entries]
    columns = _legend_columns(handles, headings, LEGEND_ROWS)
    depth = max(len(column) for column in columns)
    padded = [entry for column in columns  # blank entries even the columns: matplotlib fills them in order
              for entry in column + [Line2D([], [], ls="none", label="")] * (depth - len(column))]
    legend = ax.legend(handles=padded, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
                       frameon=False, ncols=len(columns))
    for text in legend.get_texts():
        if text.get_text() in sections:
            text.set_fontweight("bold")
    return len(columns)


def plot_roofline(hardware: Sequence[HardwareSpec | str | Path] | HardwareSpec | str | Path,
                  networks: pd.DataFrame | None = None, dtypes: Sequence[DType | str] | None = None, *,
                  title: str | None = "Roofline", ax: "Axes | None" = None) -> "Figure":
    """Log-log roofline of ``hardware`` with optional network points.

    ``hardware`` items are specs, catalog names or aliases, or hardware YAML files of one spec each (a ``Path``,
    or a str ending ``.yaml``/``.yml``), read as the command line's ``--hardware`` reads them; a file that is
    missing or not one valid spec is a :class:`~rooflinekit.errors.SpecError`, an unknown name an
    :class:`~rooflinekit.errors.UnknownNameError`. ``dtypes`` limits the ceilings to these data types (None:
    every native type of each device; a device with none of them is a :class:`PlotError`); data types of a
    device with equal peaks share one ceiling line, named after all of them (``fp32 = fp64 peak``).

    ``networks`` is a DataFrame with ``operational_intensity`` [ops/byte] and optionally ``attainable_ops_per_s``
    (predicted, drawn filled on the roof), ``measured_ops_per_s`` (drawn hollow), ``network``/``precision``
    (label, one marker shape per label) and ``hardware`` (point colour);
    :func:`rooflinekit.sweep` output fits as is; a missing precision is left out of the label. Rows without a
    finite positive operational intensity (sweep rows whose status is not ``ok``) or performance are not drawn,
    nor is a zero, negative or infinite performance: a :class:`~rooflinekit.errors.RooflineWarning` counts those
    rows and names the first. With neither performance column each row is a vertical line, labelled from the
    top of the axes down, a label that would overlap a neighbour's moved below it (one that no longer fits is
    left out, with a warning counting those). Each device has its
    own colour, 14 of them; past 14 devices the colours repeat and the ridge points take another marker shape
    (``s``, then ``^``, ...), so that the (colour, shape) pair of every device differs; the legend shows both.
    Returns the matplotlib Figure (the one holding ``ax`` when given).
    """
    import_matplotlib()
    own_figure = ax is None
    devices = _hardware_list(hardware)
    wanted = None if dtypes is None else {DType.parse(d) for d in dtypes}
    specs = {hw.name: _ceilings(hw, wanted) for hw in devices}
    order = list(DType)
    used = sorted({c for peaks in specs.values() for c in peaks}, key=lambda c: [order.index(d) for d in c])
    styles = {d: DTYPE_STYLES[i % len(DTYPE_STYLES)] for i, d in enumerate(used)}
    points = _points(networks)
    colors, ridge_markers = _device_styles(devices)
    fig, ax = figure_and_axes(ax, (10, 6))
    xlim, ylim = _limits(specs, devices, points)
    for hw in devices:
        _draw_device(ax, hw, specs[hw.name], colors[hw.name], ridge_markers[hw.name], styles, xlim)
    markers = _draw_points(ax, points, colors)
    log_axis(ax, "x", None)
    log_axis(ax, "y", "OP/s")
    ax.set(xlim=xlim, ylim=ylim, xlabel="Operational intensity [ops/byte]", ylabel="Performance [ops/s]")
    ax.grid(True, which="major", color="0.9", lw=0.6)
    if title:
        ax.set_title(title)
    if _legend(ax, devices, colors, ridge_markers, styles, markers, points) > 1 and own_figure:
        fig.set_figwidth(fig.get_figwidth() + 2)
    _stack_line_labels(ax)
    return fig
