"""Shared plumbing of the chart modules: the lazy matplotlib import, errors, axes set-up and tick formatting.

matplotlib is the optional ``plot`` extra. Nothing here imports it at module level: each chart calls
:func:`import_matplotlib` first, which raises :class:`PlotDependencyError` when it is missing. Figures are built
with :class:`matplotlib.figure.Figure` directly, without pyplot, so no GUI backend is ever selected.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from rooflinekit.errors import PlotDependencyError, PlotError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = 'pip install "rooflinekit[plot]"'
OUTPUT_SUFFIXES = (".png", ".svg", ".pdf")


def import_matplotlib() -> Any:
    """Import matplotlib and the submodules the charts use; :class:`PlotDependencyError` when it is missing."""
    try:
        import matplotlib
        import matplotlib.cbook
        import matplotlib.colors
        import matplotlib.figure
        import matplotlib.font_manager
        import matplotlib.lines
        import matplotlib.patches
        import matplotlib.path
        import matplotlib.ticker
        import matplotlib.transforms
    except ImportError as exc:
        raise PlotDependencyError(f"plotting needs matplotlib, which is not installed; run: {INSTALL_HINT}") from exc
    return matplotlib


def figure_and_axes(ax: "Axes | None", figsize: tuple[float, float]) -> tuple["Figure", "Axes"]:
    """``ax`` and its figure, or a new constrained-layout figure of ``figsize`` inches with one axes."""
    mpl = import_matplotlib()
    if ax is not None:
        return ax.figure, ax
    fig = mpl.figure.Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def settle_layout(ax: "Axes") -> None:
    """Lay out the figure holding ``ax`` as drawing it will (its layout engine: constrained layout), so that the
    place and size on screen of its axes, legends and texts can be measured before it is drawn; a figure without
    a layout engine is placed already. Cheaper than a draw: nothing is rendered."""
    root = ax.figure.figure  # the figure itself, or the one holding a subfigure
    engine = root.get_layout_engine()
    if engine is not None:
        engine.execute(root)


def require_columns(df: pd.DataFrame, columns: Iterable[str], chart: str) -> None:
    """:class:`PlotError` naming the missing columns of ``df`` and the ones it has."""
    missing = list(dict.fromkeys(c for c in columns if c not in df.columns))  # each named once
    if missing:
        raise PlotError(f"{chart} needs columns {missing}, which are missing; the DataFrame has {list(df.columns)}")


def text_column(values: pd.Series) -> pd.Series:
    """``values`` as label text: each cell ``str``-ed, a missing one (None, NaN) as ``""`` rather than ``"nan"``;
    a categorical column (sweep and align output) becomes plain objects, so labels can be concatenated."""
    return values.astype(object).map(lambda v: "" if pd.api.types.is_scalar(v) and pd.isna(v) else str(v))


def shorten(label: str, limit: int) -> str:
    """``label`` cut to ``limit`` characters by an ellipsis in the middle (``resnet50_v1…per_channel int8``), so a
    long network name keeps its start and its end (the precision)."""
    if len(label) <= limit:
        return label
    head = (limit - 1) // 2
    return label[:head] + "…" + label[len(label) - (limit - 1 - head):]


def numeric_column(df: pd.DataFrame, column: str, chart: str) -> pd.Series:
    """Column ``column`` of ``df`` as floats: a missing cell (None, NaN, empty) is NaN; a cell that is not a number
    (``'fast'``) is a :class:`PlotError` naming the column, the row and the value."""
    values = pd.to_numeric(df[column], errors="coerce").astype(float)
    bad = values.isna() & df[column].notna() & (df[column].astype(str).str.strip() != "")
    if bad.any():
        row = bad.to_numpy().nonzero()[0][0]
        raise PlotError(f"{chart}: column {column!r} has {df[column].iloc[row]!r} in row {row}, which is not a "
                        "number; write a plain number there or leave the cell empty")
    return values


def decade_limits(low: float, high: float) -> tuple[float, float]:
    """Powers of ten enclosing ``[low, high]`` (both > 0), at least one decade apart."""
    lo = 10.0 ** math.floor(math.log10(low))
    hi = 10.0 ** math.ceil(math.log10(high))
    return (lo, hi * 10) if hi <= lo else (lo, hi)


def log_axis(ax: "Axes", which: str, unit: str | None) -> None:
    """Log scale on ``which`` (``"x"`` or ``"y"``) with one label per decade: SI prefixes plus ``unit``
    (``"1 GOP/s"``; ``unit=""``, a count, gives ``"10 k"`` above 1000 and ``"0.1"`` below 1, never a milli ``m``),
    or plain numbers (``0.1``, ``100``) when ``unit`` is None. When fewer than two powers of ten are in view (a
    batch sweep of 24 to 48 tokens/s), the ticks between them are labelled too: 2x and 5x, or every one when the
    view spans less than a factor 3; else the axis would have one number or none."""
    ticker = import_matplotlib().ticker
    ax.set(**{f"{which}scale": "log"})
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(ticker.LogLocator(base=10, numticks=30))
    if unit == "":  # a count (frames/s): k, M, G above 1000, plain decimals below 1 (a milli 'm' reads as million)
        engineering = ticker.EngFormatter(unit="", sep=" ")
        axis.set_major_formatter(ticker.FuncFormatter(
            lambda value, _: f"{value:g}" if 0 < value < 1000 else engineering.format_eng(value)))
    else:
        axis.set_major_formatter(ticker.EngFormatter(unit=unit, sep=" ") if unit is not None
                                 else ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    major = axis.get_major_formatter()

    def minor(value: float, _: object) -> str:
        low, high = sorted(axis.get_view_interval())
        if value <= 0 or low <= 0 or math.floor(math.log10(high)) - math.ceil(math.log10(low)) >= 1:
            return ""  # two powers of ten in view label the axis
        mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
        return str(major(value)) if high < 3 * low or mantissa in (2, 5) else ""

    axis.set_minor_formatter(ticker.FuncFormatter(minor))


def save_figure(fig: "Figure", path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (``.png``, ``.svg`` or ``.pdf``, by suffix) at ``dpi``; returns the path.
    :class:`PlotError` for another suffix, or when the file system refuses the file (no such folder, no permission,
    disk full)."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise PlotError(f"cannot write {str(path)!r}: use a file name ending in {', '.join(OUTPUT_SUFFIXES)}")
    try:
        fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise PlotError(f"cannot write {str(path)!r}: {exc.strerror or exc}; write it to a folder that exists, "
                        "is writable and has space") from None
    return path
