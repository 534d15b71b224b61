"""Command-line interface: parse, call the public API, print.

    rooflinekit count MODEL [--precision P] [--batch N]
    rooflinekit predict MODEL --hardware NAME [--precision P] [--batch N] [--mode network|layer]
                        [--calibration CALIB_JSON [--framework F] [--framework-version V]]
    rooflinekit calibrate RECORDS... --out CALIB_JSON [--models PATH]... [--shrinkage L] [--system-shrinkage L]
    rooflinekit sweep --models A,B --hardware X,Y [--precisions P,Q] [--batches 1,8]
    rooflinekit hardware list|show NAME
    rooflinekit models list|show NAME
    rooflinekit plot roofline|efficiency|heatmap|pareto|layers ... --out FILE.png|svg|pdf

MODEL is a catalog name (``ResNet-50 80%``) or a model file (``.onnx``, ``.tflite``). Every command takes
``--format table|csv|json``. Errors print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from rooflinekit.catalog import hardware_catalog, network_catalog
from rooflinekit.cli_common import (
    Parser, format_options, is_model_file, model_options, resolve_model, roofline_options, split_list,
)
from rooflinekit.compare.calibrate import calibrate_from_paths, predict_with_calibration
from rooflinekit.counters import NetworkCost, count_network
from rooflinekit.errors import RooflineError, SpecError
from rooflinekit.output import LIST_SEPARATOR, dumps_json, flatten, tabular, to_json_value
from rooflinekit.plots_cli import add_plot_commands
from rooflinekit.api import predict, sweep

def _jsonable(value: Any) -> Any:
    """Strict-JSON data of ``value``: NaN, infinities, ``pd.NA`` -> None (:func:`rooflinekit.output.to_json_value`)."""
    return to_json_value(value)


def _emit(fmt: str, payload: dict | list, table: pd.DataFrame) -> None:
    """Print ``payload`` as strict JSON (``--format json``), or ``table`` as CSV or a text table.

    Lists in ``table`` cells are joined with ``;`` (CSV) or ``, `` (table); dicts become their JSON.
    """
    if fmt == "json":
        print(dumps_json(payload))
    elif fmt == "csv":
        print(tabular(table, LIST_SEPARATOR).to_csv(index=False), end="")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(tabular(table, ", ").to_string(index=False))


def _count_payload(cost: NetworkCost) -> dict:
    columns = ["name", "op", "source_op", "macs", "ops", "params", "weight_bytes", "input_bytes", "output_bytes"]
    return {
        "network": cost.network, "precision": cost.precision.label, "batch": cost.batch,
        "totals": {k: _jsonable(v) for k, v in cost.totals.items()},
        "layers": [{k: _jsonable(v) for k, v in row.items()} for row in cost.layers[columns].to_dict("records")],
        "unsupported_ops": cost.unsupported_ops,
    }


def cmd_count(args: argparse.Namespace) -> None:
    network = resolve_model(args.model, args.batch, args.input_shape)
    # a model file is imported at its batch and counted as imported; a catalog network is counted at --batch
    batch = None if is_model_file(args.model) else args.batch
    cost = count_network(network, args.precision, batch=batch, strict=args.strict)
    payload = _count_payload(cost)
    if args.format == "table" and not cost.layers.empty:
        table = cost.layers[["name", "op", "source_op", "macs", "ops", "params", "weight_bytes", "input_bytes",
                             "output_bytes"]]
        print(f"{cost.network} at {cost.precision.label}, batch {cost.batch}: {cost.totals}")
        if cost.unsupported_ops:
            print(f"unsupported ops: {cost.unsupported_ops}")
    else:
        table = pd.DataFrame([{"network": cost.network, "precision": cost.precision.label, "batch": cost.batch,
                               **cost.totals}])
        if args.format == "csv" and not cost.layers.empty:
            table = cost.layers
    _emit(args.format, payload, table)


def cmd_predict(args: argparse.Namespace) -> None:
    network = resolve_model(args.model, args.batch, args.input_shape)  # None: the model's own batch
    if args.calibration:
        result = predict_with_calibration(network, hardware_catalog().get(args.hardware), args.calibration,
                                          args.framework, args.framework_version, args.precision,
                                          args.batch or getattr(network, "batch", 1))
        _emit(args.format, {**result.to_dict(), "classes": result.classes.to_dict("records")},
              pd.DataFrame([result.to_dict()]))
        if args.format == "table":
            print()
            print(result.classes.to_string(index=False))
        return
    prediction = predict(network, hardware_catalog().get(args.hardware), args.precision, args.batch, args.mode,
                         args.traffic, fuse=args.fuse)
    payload = prediction.to_dict()
    if args.mode == "layer" and args.format == "json":  # null for an aggregate network: it has no layers
        payload["layers"] = (None if prediction.layers is None else
                             prediction.layers[["name", "op", "ops", "time_s", "bound"]].to_dict("records"))
    _emit(args.format, payload, pd.DataFrame([prediction.to_dict()]))
    if args.mode == "layer" and args.format == "table" and prediction.layers is not None:
        print()
        print(prediction.layers[["name", "op", "ops", "weight_bytes", "time_s", "bound"]].to_string(index=False))


def cmd_calibrate(args: argparse.Namespace) -> None:
    predictor = calibrate_from_paths(args.records, models=args.models, shrinkage=args.shrinkage,
                                     system_shrinkage=args.system_shrinkage)
    Path(args.out).write_text(predictor.to_json(), encoding="utf-8")
    table = predictor.factor_table()
    if args.format == "table":
        print(f"calibrated on {predictor.n_records_} records, classes {', '.join(predictor.classes_)}; "
              f"wrote {args.out}")
    _emit(args.format, {"out": str(args.out), "n_records": predictor.n_records_, "classes": predictor.classes_,
                        "theta0": predictor.theta0_, "factors": table.to_dict("records")}, table)


def cmd_sweep(args: argparse.Namespace) -> None:
    networks = [resolve_model(m) for m in split_list(args.models)] or network_catalog().specs
    hardware = [hardware_catalog().get(h) for h in split_list(args.hardware)] or hardware_catalog().specs
    precisions = split_list(args.precisions) or [None]
    try:
        batches: list[int | None] = [int(b) for b in split_list(args.batches)] or [None]
    except ValueError:
        raise SpecError(f"--batches {args.batches!r}: write whole numbers separated by commas, e.g. 1,8,64") from None
    table = sweep(networks, hardware, precisions, batches, args.mode, args.traffic, fuse=args.fuse)
    _emit(args.format, table.to_dict("records"), table)


def cmd_hardware(args: argparse.Namespace) -> None:
    catalog = hardware_catalog()
    if args.action == "list":
        rows = [{"name": s.name, "kind": s.kind.value, "core_type": s.core_type,
                 "peak_ops_per_s": {d.value: p for d, p in s.peak_ops_per_s.items()},
                 "aliases": list(s.aliases)} for s in catalog.specs]
        _emit(args.format, rows, pd.DataFrame([flatten(row) for row in rows]))
        return
    spec = catalog.get(_require_name(args))
    data = spec.model_dump(mode="json")
    _emit(args.format, data, pd.DataFrame([flatten(data)]))


def cmd_models(args: argparse.Namespace) -> None:
    catalog = network_catalog()
    if args.action == "list":
        rows = [{"name": catalog.label(s), "kind": s.kind, "task": s.task, "precision": s.precision.label,
                 "pruning_pct": s.pruning_pct, "aliases": list(s.aliases)} for s in catalog.specs]
        _emit(args.format, rows, pd.DataFrame(rows))
        return
    spec = catalog.get(_require_name(args))
    data = spec.model_dump(mode="json")
    cost = count_network(spec)
    _emit(args.format, data, pd.DataFrame([{"name": catalog.label(spec), "kind": spec.kind, **cost.totals}]))


def _require_name(args: argparse.Namespace) -> str:
    if not args.name:
        raise SpecError(f"'{args.command} show' needs a NAME; list them with 'rooflinekit {args.command} list'")
    return args.name


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rooflinekit", description="Roofline predictions of neural networks on hardware.")
    common, model, roofline = format_options(), model_options(), roofline_options()
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    count = commands.add_parser("count", parents=[model, common], help="ops, params and bytes per layer")
    count.add_argument("--strict", action="store_true", help="fail on ops without a counter")
    count.set_defaults(run=cmd_count)
    pred = commands.add_parser("predict", parents=[model, roofline, common], help="fps and latency on hardware")
    pred.add_argument("--hardware", required=True, help="catalog hardware name")
    pred.add_argument("--calibration", metavar="CALIB_JSON",
                      help="scale the layer roofline by efficiency factors from 'rooflinekit calibrate' "
                           "(then --mode and --traffic are the calibration's: layer mode, its traffic)")
    pred.add_argument("--framework", help="software stack for --calibration, e.g. 'X-CUBE-AI 7.3.0', 'Plumerai'")
    pred.add_argument("--framework-version", help="stack version for --calibration, when not in --framework")
    pred.set_defaults(run=cmd_predict)
    cal = commands.add_parser("calibrate", parents=[common], help="fit efficiency factors on measured records")
    cal.add_argument("records", nargs="+", help="MLPerf Tiny results folders or record tables (.csv, .parquet)")
    cal.add_argument("--models", action="append", default=[], metavar="PATH",
                     help="model file or folder of the records' networks (repeatable; default: models/ inside or "
                          "beside each records folder, then the network catalog)")
    cal.add_argument("--out", required=True, help="calibration JSON to write")
    cal.add_argument("--shrinkage", type=float, default=0.1,
                     help="pseudo-records pulling each factor towards its coarser level (default 0.1)")
    cal.add_argument("--system-shrinkage", type=float, default=3.0,
                     help="pseudo-records pulling each system towards its stack and core (default 3)")
    cal.set_defaults(run=cmd_calibrate)
    swp = commands.add_parser("sweep", parents=[roofline, common], help="networks x hardware x precisions x batches")
    swp.add_argument("--models", help="comma-separated model names or files (default: whole catalog)")
    swp.add_argument("--hardware", help="comma-separated hardware names (default: whole catalog)")
    swp.add_argument("--precisions", help="comma-separated precisions (default: each network's own)")
    swp.add_argument("--batches", help="comma-separated batch sizes (default: each model's own batch)")
    swp.set_defaults(run=cmd_sweep)
    for name, run in (("hardware", cmd_hardware), ("models", cmd_models)):
        sub = commands.add_parser(name, parents=[common], help=f"list or show {name}")
        sub.add_argument("action", choices=("list", "show"))
        sub.add_argument("name", nargs="?", help="name to show")
        sub.set_defaults(run=run)
    add_plot_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except RooflineError as exc:
        print(f"rooflinekit: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
