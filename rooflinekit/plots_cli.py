"""The ``plot`` command: draw a chart into a file (needs the ``plot`` extra, ``pip install "rooflinekit[plot]"``).

    rooflinekit plot roofline --hardware A,B [--models X,Y] [--precisions P,Q] [--dtypes int8,fp16] --out F
    rooflinekit plot heatmap [--models X,Y] [--hardware A,B] [--precisions P,Q] [--batch N] --out F
    rooflinekit plot layers MODEL --hardware NAME [--precision P] [--batch N] [--measured CSV] --out F
    rooflinekit plot efficiency --records CSV [--max-rows N] --out F
    rooflinekit plot pareto --records CSV --x COL --y COL [--maximize x,y] [--hue COL] [--label COL] --out F

``F`` ends in ``.png``, ``.svg`` or ``.pdf``. The chart commands that predict take ``--mode`` and ``--traffic`` as
``predict`` does. ``--records`` CSV columns: efficiency needs ``hardware, network, precision, predicted_fps,
measured_fps`` (optional ``efficiency_pct``, ``peak_fps``); pareto needs the ``--x``/``--y`` columns.
:func:`add_plot_commands` adds the command to the main parser of :mod:`rooflinekit.cli`.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rooflinekit.catalog import hardware_catalog, network_catalog
from rooflinekit.cli_common import (
    Parser, model_options, resolve_model, roofline_options, split_list, traffic_options,
)
from rooflinekit.cli_common import MAX_BATCH, bounded_int, output_file, resolve_hardware, warn_failed
from rooflinekit.display import absent
from rooflinekit.errors import SpecError
from rooflinekit.output import dumps_json
from rooflinekit.plots import PlotError, plot_efficiency, plot_heatmap, plot_layers, plot_pareto, plot_roofline, \
    save_figure
from rooflinekit.plots.efficiency import MAX_ROWS as EFFICIENCY_ROWS
from rooflinekit.api import CapacityWarning, misfits, predict, sweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_EFFICIENCY_ROWS = 500  # --max-rows: 181 inches tall at 0.36 inch a row; more is past any page or screen


def _axes_option(value: str | None, option: str) -> set[str]:
    axes = set(split_list(value))
    if not axes <= {"x", "y"}:
        raise SpecError(f"{option} {value!r}: write x, y or x,y")
    return axes


def _chart_sweep(chart: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`rooflinekit.api.sweep` for a chart: a prediction that does not fit its memories is still drawn, and
    said so once in the chart's terms (the sweep's own warning points to table columns a chart does not have)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        table = sweep(*args, **kwargs)
    count = misfits(table)
    if count:
        warnings.warn(f"{count} of {len(table)} predictions in the {chart} do not fit their memories (drawn as "
                      "predicted); 'rooflinekit sweep' with the same options lists them with why (the 'fits' and "
                      "'notes' columns)", CapacityWarning)
    return table


def _models(value: str | None) -> list[Any]:
    return [resolve_model(m) for m in split_list(value)]


def _read_records(path: Path, option: str = "--records") -> pd.DataFrame:
    """The CSV file ``path`` given with ``option``; :class:`PlotError` naming the option when it cannot be read."""
    if not path.is_file():
        raise PlotError(f"{option} {str(path)!r}: {absent(path)}; give a CSV file with the documented columns")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlotError(f"{option} {str(path)!r} is not a readable CSV: {exc}") from None


def _finish(args: argparse.Namespace, fig: "Figure") -> None:
    out = save_figure(fig, args.out, dpi=args.dpi)
    if args.format == "json":
        print(dumps_json({"chart": args.chart, "out": str(out)}, indent=None))
    else:
        print(f"wrote {out}")


def _title(args: argparse.Namespace, default: str | None) -> str | None:
    return default if args.title is None else (args.title or None)


def cmd_roofline(args: argparse.Namespace) -> None:
    hardware = [resolve_hardware(h) for h in split_list(args.hardware)]
    if not hardware:
        raise SpecError("plot roofline needs --hardware NAME[,NAME...]; list them with 'rooflinekit hardware list'")
    models = _models(args.models)
    points = _chart_sweep("roofline", models, hardware, split_list(args.precisions) or [None], [args.batch],
                          args.mode, args.traffic, fuse=args.fuse) if models else None
    if points is not None:
        warn_failed(points, "not drawn")
        points = points[points["status"] == "ok"]  # warned of here: plot_roofline need not warn again
    _finish(args, plot_roofline(hardware, points, split_list(args.dtypes) or None, title=_title(args, "Roofline")))


def cmd_heatmap(args: argparse.Namespace) -> None:
    networks = _models(args.models) or network_catalog().specs
    hardware = [resolve_hardware(h) for h in split_list(args.hardware)] or hardware_catalog().specs
    table = _chart_sweep("heatmap", networks, hardware, split_list(args.precisions) or [None], [args.batch],
                         args.mode, args.traffic, fuse=args.fuse)
    _finish(args, plot_heatmap(table, title=_title(args, f"Performance prediction (batch {args.batch})")))


def cmd_layers(args: argparse.Namespace) -> None:
    network = resolve_model(args.model, args.batch, args.input_shape,  # None: the model's own batch
                            branches=args.branch, loop_counts=args.loop_count)
    prediction = predict(network, resolve_hardware(args.hardware), args.precision, args.batch, "layer",
                         args.traffic)
    measured = _read_records(args.measured, "--measured") if args.measured else None
    _finish(args, plot_layers(prediction, measured, log=args.log, title=_title(args, None)))


def cmd_efficiency(args: argparse.Namespace) -> None:
    fig = plot_efficiency(_read_records(args.records), title=_title(args, "Measured vs predicted throughput"),
                          max_rows=args.max_rows)
    _finish(args, fig)


def cmd_pareto(args: argparse.Namespace) -> None:
    maximize = _axes_option(args.maximize, "--maximize")
    log, linear = _axes_option(args.log, "--log"), _axes_option(args.linear, "--linear")
    if log & linear:
        raise SpecError(f"--log and --linear both name {','.join(sorted(log & linear))}; give each axis to one")
    scale = {axis: True if axis in log else False if axis in linear else None for axis in ("x", "y")}
    if args.front_per_hue and args.hue is None:
        raise SpecError("--front-per-hue draws one front per --hue group; give --hue COLUMN too")
    fig = plot_pareto(_read_records(args.records), args.x, args.y, ("x" in maximize, "y" in maximize),
                      hue=args.hue, label=args.label, front="hue" if args.front_per_hue else "all",
                      log_x=scale["x"], log_y=scale["y"], title=_title(args, None))
    _finish(args, fig)


def _output_options() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--out", required=True, type=output_file, metavar="FILE",
                        help="image file to write: .png, .svg or .pdf")
    parent.add_argument("--title", help="chart title ('' for none)")
    parent.add_argument("--dpi", type=bounded_int("--dpi", 1, 2400), default=100, help="resolution of .png output (default 100)")
    return parent


def _batch_option() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--batch", type=bounded_int("--batch", 1, MAX_BATCH), default=1,
                        help="frames per batch (default 1)")
    return parent


def add_plot_commands(subparsers: Any, common_parent: argparse.ArgumentParser) -> None:
    """Add ``plot roofline|efficiency|heatmap|pareto|layers`` to ``subparsers`` (the main parser's sub-commands).

    ``common_parent`` supplies the options every command shares (``--format``: ``json`` prints
    ``{"chart": ..., "out": ...}``, the others print ``wrote FILE``).
    """
    plot = subparsers.add_parser("plot", help="draw a chart into a .png/.svg/.pdf file (needs rooflinekit[plot])",
                                 description="Draw a chart into an image file; see 'rooflinekit plot CHART -h'.")
    charts = plot.add_subparsers(dest="chart", required=True, metavar="CHART", parser_class=Parser)
    output, prediction = _output_options(), [roofline_options(), _batch_option()]

    roofline = charts.add_parser("roofline", parents=[*prediction, output, common_parent],
                                 help="ceilings and bandwidth slopes, networks placed on them")
    roofline.add_argument("--hardware", required=True, help="comma-separated hardware names or YAML files")
    roofline.add_argument("--models", help="comma-separated models to place on the roofs (names or files)")
    roofline.add_argument("--precisions", help="comma-separated precisions of the models (default: their own)")
    roofline.add_argument("--dtypes", help="comma-separated data types to draw ceilings for (default: all native)")
    roofline.set_defaults(run=cmd_roofline)

    heatmap = charts.add_parser("heatmap", parents=[*prediction, output, common_parent],
                                help="predicted fps, hardware x network variant")
    heatmap.add_argument("--models", help="comma-separated model names or files (default: whole catalog)")
    heatmap.add_argument("--hardware", help="comma-separated hardware names (default: whole catalog)")
    heatmap.add_argument("--precisions", help="comma-separated precisions (default: each network's own)")
    heatmap.set_defaults(run=cmd_heatmap)

    layers = charts.add_parser("layers", parents=[model_options(), traffic_options(), output, common_parent],
                               help="predicted latency per layer, coloured by bound")
    layers.add_argument("--hardware", required=True, help="catalog hardware name or hardware YAML file")
    layers.add_argument("--measured", type=Path, metavar="CSV",
                        help="measured latency per layer: CSV with columns name, latency_s")
    layers.add_argument("--log", action="store_true", help="latency on a log axis")
    layers.set_defaults(run=cmd_layers)

    efficiency = charts.add_parser("efficiency", parents=[output, common_parent],
                                   help="predicted, peak and measured fps with efficiency in percent")
    efficiency.add_argument("--records", required=True, type=Path, metavar="CSV",
                            help="columns hardware, network, precision, predicted_fps, measured_fps "
                                 "[, efficiency_pct, peak_fps]")
    efficiency.add_argument("--max-rows", type=bounded_int("--max-rows", 1, MAX_EFFICIENCY_ROWS),
                            default=EFFICIENCY_ROWS, metavar="N",
                            help=f"draw the first N rows (default {EFFICIENCY_ROWS}); the others are left out, "
                                 "with a warning")
    efficiency.set_defaults(run=cmd_efficiency)

    pareto = charts.add_parser("pareto", parents=[output, common_parent],
                               help="two objectives with their Pareto front")
    pareto.add_argument("--records", required=True, type=Path, metavar="CSV", help="CSV file with the columns")
    pareto.add_argument("--x", required=True, help="column on the x axis, e.g. throughput_fps, latency_s")
    pareto.add_argument("--y", required=True, help="column on the y axis, e.g. accuracy_top1_pct, energy_j")
    pareto.add_argument("--maximize", help="axes where larger is better: x, y or x,y (default: smaller is better)")
    pareto.add_argument("--hue", help="column to colour points by")
    pareto.add_argument("--label", help="column whose values annotate the front points")
    pareto.add_argument("--front-per-hue", action="store_true", help="one front per --hue group")
    pareto.add_argument("--log", help="log axes: x, y or x,y (default: an axis whose values are positive and "
                                      "span 2 decades or more)")
    pareto.add_argument("--linear", help="linear axes: x, y or x,y (overrides the default above)")
    pareto.set_defaults(run=cmd_pareto)
