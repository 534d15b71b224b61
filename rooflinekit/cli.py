"""Command-line interface: parse, call the public API, print.

    rooflinekit count MODEL [--precision P] [--batch N]
    rooflinekit predict MODEL --hardware NAME [--precision P] [--batch N] [--mode network|layer]
                        [--calibration CALIB_JSON [--framework F] [--framework-version V]]
    rooflinekit calibrate RECORDS... --out CALIB_JSON [--columns THEIRS=OURS,...] [--units COL=UNIT,...]
                          [--set COL=VALUE,...] [--models PATH]... [--shrinkage L] [--system-shrinkage L]
                          [--extend-shipped]
    rooflinekit align|efficiency RECORDS.csv [--columns ...] [--units ...] [--set ...] [--by COLS]
    rooflinekit sweep --models A,B --hardware X,Y [--precisions P,Q] [--batches 1,8]
    rooflinekit hardware list|show NAME|schema
    rooflinekit models list|show NAME
    rooflinekit plot roofline|efficiency|heatmap|pareto|layers ... --out FILE.png|svg|pdf

MODEL is a catalog name (``ResNet-50 80%``) or a model file (``.onnx``, ``.tflite``); a hardware NAME may be a
hardware YAML file (``my_npu.yaml``). Every command takes ``--format table|csv|json`` (tables: SI prefixes, at
most 120 characters wide unless ``--wide``) and ``--quiet``. Errors print one line on stderr (one per failed
field of a spec) and exit with status 2; warnings print ``warning: ...``; a closed output pipe ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rooflinekit import __version__
from rooflinekit.cli_common import (
    Parser, format_options, is_model_file, model_options, resolve_model, roofline_options, split_list,
)
from rooflinekit.cli_common import (
    DEFAULT_TRAFFIC, MAX_BATCH, output_file, positive_float, resolve_hardware, traffic_options, warn_failed,
)
from rooflinekit.display import counted, format_value, one_line, peaks_text, render_fields, render_table, si
from rooflinekit.errors import RecordError, RooflineError, RooflineWarning, SpecError
from rooflinekit.output import joined_interval, split_interval
from rooflinekit.progress import progress, set_progress

if TYPE_CHECKING:
    import pandas as pd

    from rooflinekit.counters import NetworkCost
    from rooflinekit.descriptors import HardwareSpec

COUNT_COLUMNS = ["name", "op", "source_op", "macs", "ops", "params", "weight_bytes", "input_bytes", "output_bytes"]
"""Columns of ``count``'s per-layer table, in order."""
PREDICT_FIELDS = ["network", "hardware", "precision", "batch", "mode", "traffic", "fps", "fps_per_w", "latency_s",
                  "bound", "operational_intensity", "attainable_ops_per_s", "peak_ops_per_s", "ops", "bytes",
                  "latency_optimistic_s", "latency_pessimistic_s", "engines", "kernels", "fits", "estimate"]
"""Fields of ``predict``'s text output, in order (JSON and CSV have every field)."""
LAYER_COLUMNS = ["name", "op", "ops", "weight_bytes", "time_s", "bound"]
"""``predict --mode layer`` columns (with ``engine`` after ``op`` when the layers ran on several engines)."""
CALIBRATED_LAYER_COLUMNS = ["name", "op", "calibration_class", "ops", "time_s", "calibrated_time_s", "bound"]
"""``predict --calibrated --layers`` columns: ``time_s`` the layer's roofline time, ``calibrated_time_s`` the estimate."""
SWEEP_TABLE_COLUMNS = ["network", "hardware", "precision", "batch", "fps", "latency_s", "bound", "fps_per_w",
                       "operational_intensity", "status", "attainable_ops_per_s", "peak_ops_per_s", "mode", "traffic",
                       "pruning_pct", "ops", "bytes", "fits", "notes"]
"""Columns of ``sweep``'s text table, key columns first; the table keeps those that fit in 120 characters."""
CALIBRATED_SWEEP_TABLE_COLUMNS = ["network", "hardware", "precision", "batch", "estimate", "latency_s",
                                  "latency_interval_low_s", "latency_interval_high_s", "fps", "bound_latency_s",
                                  "bound", "fps_per_w", "calibration_levels",
                                  *(c for c in SWEEP_TABLE_COLUMNS if c not in ("network", "hardware", "precision",
                                    "batch", "fps", "latency_s", "bound", "fps_per_w", "status"))]
"""``sweep --calibrated``'s text table: after the keys ``estimate``, then the latency with its interval (the
estimate where ``estimate`` is ``calibrated``; the bound, without an interval, where a row keeps it), then the
roofline the estimate scales (``status`` only where a row failed, after the keys)."""
MATCHED_COLUMNS = ["hardware", "network", "precision", "batch", "measured_fps", "predicted_fps", "efficiency_pct",
                   "predicted_bound", "source"]
PLOT_HELP = "draw a chart into a .png/.svg/.pdf file (needs rooflinekit[plot])"
"""Help line of ``plot`` in the command list (as :func:`rooflinekit.plots_cli.add_plot_commands` gives it)."""


def _jsonable(value: Any) -> Any:
    """Strict-JSON data of ``value``: NaN, infinities, ``pd.NA`` -> None (:func:`rooflinekit.output.to_json_value`)."""
    from rooflinekit.output import to_json_value

    return to_json_value(value)


def _emit(args: argparse.Namespace, payload: dict | list, table: pd.DataFrame | list[dict[str, Any]], *,
          columns: Sequence[str] | None = None, fields: bool = False) -> None:
    """Print ``payload`` as strict JSON (``--format json``), ``table`` as CSV (every column, full precision), or
    ``table`` as a human table: SI-prefixed cells, at most 120 characters wide unless ``--wide``
    (:mod:`rooflinekit.display`). ``table`` is a DataFrame or its rows (made a DataFrame only for CSV or a
    table). ``columns`` orders the human table (key columns first); ``fields`` prints its one row as
    ``field  value`` lines.
    """
    from rooflinekit.output import LIST_SEPARATOR, dumps_json, tabular

    if args.format == "json":
        print(dumps_json(payload))
        return
    if fields and args.format == "table" and isinstance(table, list) and len(table) == 1:
        record = table[0]
        print(render_fields({c: record[c] for c in (columns or record) if c in record}, wide=args.wide))
        return
    import pandas as pd

    frame = pd.DataFrame(table) if isinstance(table, list) else table
    if args.format == "csv":
        print(tabular(frame, LIST_SEPARATOR).to_csv(index=False), end="")
    elif fields and len(frame) == 1:
        row = frame.iloc[0].to_dict()
        print(render_fields({c: row[c] for c in (columns or frame.columns) if c in row}, wide=args.wide))
    else:
        print(render_table(frame, wide=args.wide, columns=columns))


def _count_payload(cost: NetworkCost) -> dict:
    columns = ["name", "op", "source_op", "macs", "ops", "params", "weight_bytes", "input_bytes", "output_bytes"]
    return {
        "network": cost.network, "precision": cost.precision.label, "batch": cost.batch,
        "totals": {k: _jsonable(v) for k, v in cost.totals.items()},
        "layers": [{k: _jsonable(v) for k, v in row.items()} for row in cost.layers[columns].to_dict("records")],
        "unsupported_ops": cost.unsupported_ops,
    }


def cmd_count(args: argparse.Namespace) -> None:
    from rooflinekit.counters import count_network

    network = resolve_model(args.model, args.batch, args.input_shape, branches=args.branch,
                            loop_counts=args.loop_count)
    # a model file is imported at its batch and counted as imported; a catalog network is counted at --batch
    batch = None if is_model_file(args.model) else args.batch
    cost = count_network(network, args.precision, batch=batch, strict=args.strict)
    payload = _count_payload(cost)
    if args.format == "table":
        totals = ", ".join(f"{key} {format_value(key, value)}" for key, value in cost.totals.items())
        print(f"{cost.network} at {cost.precision.label}, batch {cost.batch}")
        print(f"totals: {totals}")
        if cost.unsupported_ops:
            print("unsupported ops (no counter, counted as 0): "
                  + ", ".join(f"{op} x{n}" for op, n in cost.unsupported_ops.items()))
        if not cost.layers.empty:
            print()
            _emit(args, payload, cost.layers, columns=COUNT_COLUMNS)
        return
    import pandas as pd

    table = pd.DataFrame([{"network": cost.network, "precision": cost.precision.label, "batch": cost.batch,
                           **cost.totals}])
    if args.format == "csv" and not cost.layers.empty:
        table = cost.layers
    _emit(args, payload, table)


def _fps_per_w(fps: Any, tdp_w: float | None) -> float | None:
    """Frames per second per watt of TDP, None where the spec gives no power or there is no fps."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        return None
    return value / tdp_w if tdp_w and value == value else None


def cmd_predict(args: argparse.Namespace) -> None:
    from rooflinekit.api import predict

    network = resolve_model(args.model, args.batch, args.input_shape,  # None: the model's own batch
                            args.framework if args.calibration or args.calibrated else None,
                            branches=args.branch, loop_counts=args.loop_count)
    hardware = resolve_hardware(args.hardware)
    if args.calibration and args.calibrated:
        raise SpecError("--calibration FILE and --calibrated both given; pick one: --calibrated for the "
                        "calibration shipped with rooflinekit, --calibration FILE for your own")
    if args.calibration or args.calibrated:
        from rooflinekit.api import _multi_device_notes, _samples, resolve_precision
        from rooflinekit.compare.calibrate import default_calibration
        from rooflinekit.compare.calibrate.regime import load_regime_calibration, predict_in_regime, regime_of

        calibration = (load_regime_calibration(args.calibration) if args.calibration  # shipped for the class,
                       else default_calibration(hardware, args.framework, _samples(network, args.batch)))  # stack, batch
        if args.traffic is not None and args.traffic != calibration.traffic:
            warnings.warn(f"--traffic {args.traffic} ignored: a calibrated estimate costs the layers with the "
                          f"traffic its factors were fitted on ({calibration.traffic}); drop --traffic, or drop "
                          f"--{'calibration' if args.calibration else 'calibrated'} for the roofline bound with it",
                          RooflineWarning)
        precision, note = resolve_precision(network, hardware, args.precision, args.batch)
        result, notes = predict_in_regime(network, hardware, calibration, args.framework, args.framework_version,
                                          precision, args.batch or getattr(network, "batch", 1))
        devices = _multi_device_notes(hardware) if regime_of(calibration) is None else []  # a regime says its own
        notes = (*notes, *result.notes, *([] if note is None else [note]), *devices)  # as rooflinekit.predict's notes
        summary = _calibrated_summary(result.to_dict(), list(notes), hardware.tdp_w)
        layers = result.layers[CALIBRATED_LAYER_COLUMNS] if args.layers else None
        payload = {**summary, "classes": result.classes.to_dict("records")}
        if layers is not None:
            payload["layers"] = layers.to_dict("records")
        # the table: the summary, then the classes and the layers; CSV: the summary row (its interval in two
        # columns), or the layer rows
        row = split_interval(summary) if args.format == "csv" else summary
        _emit(args, payload, [row] if layers is None or args.format == "table" else layers, fields=True)
        if args.format == "table":
            for level in result.calibration_levels:
                print(f"calibration level: {level}")
            for note in notes:
                print(f"note: {note}")
            print()
            print(render_table(result.classes, wide=args.wide))
            if layers is not None:
                print()
                print(render_table(layers, wide=args.wide))
        return
    if args.layers and args.mode != "layer":
        raise SpecError("--layers prints per-layer times, which --mode network has none of; add --mode layer "
                        "(the roofline's layers) or --calibrated (the calibrated layers)")
    traffic = DEFAULT_TRAFFIC if args.traffic is None else args.traffic
    prediction = predict(network, hardware, args.precision, args.batch, args.mode, traffic, fuse=args.fuse,
                         framework=args.framework, framework_version=args.framework_version)
    if args.layers and prediction.layers is None:
        raise SpecError(f"--layers: {prediction.network} is an aggregate catalog network (totals only) and has no "
                        "layers to print; give a model file or a layer-level catalog network")
    payload = {**prediction.to_dict(), "fps_per_w": _fps_per_w(prediction.fps, hardware.tdp_w)}
    # which engine ran each layer, where the prediction used several (an NPU and its host CPU)
    engine = ["engine"] if len(prediction.engines or ()) > 1 else []
    layer_columns = [*LAYER_COLUMNS[:2], *engine, *LAYER_COLUMNS[2:]]
    if args.mode == "layer" and args.format == "json":  # null for an aggregate network: it has no layers
        payload["layers"] = (None if prediction.layers is None else prediction.layers[
            ["name", "op", *engine, "ops", "time_s", "bound"]].to_dict("records"))
    if args.layers and args.format == "csv":
        _emit(args, payload, prediction.layers[layer_columns])
        return
    row = {k: v for k, v in payload.items() if k != "layers"}
    _emit(args, payload, [split_interval(row) if args.format == "csv" else row], columns=PREDICT_FIELDS, fields=True)
    if args.format == "table":
        for note in prediction.notes:
            print(f"note: {note}")
    if args.mode == "layer" and args.format == "table" and prediction.layers is not None:
        print()
        print(render_table(prediction.layers, wide=args.wide, columns=layer_columns))


def _calibrated_summary(fields: dict[str, Any], notes: list[str], tdp_w: float | None) -> dict[str, Any]:
    """``predict --calibrated``'s summary object: ``estimate`` (``calibrated``), then the fields of a
    ``CalibratedPrediction`` (``fields``: its ``to_dict()``, named as a ``Prediction``'s),
    ``fps_per_w`` (the estimate's fps per W of ``tdp_w``, None without one) after ``fps``, and ``notes``."""
    summary: dict[str, Any] = {"estimate": "calibrated"}
    for key, value in fields.items():
        summary[key] = value
        if key == "fps":
            summary["fps_per_w"] = _fps_per_w(value, tdp_w)
    summary["notes"] = notes
    return summary


def cmd_calibrate(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from rooflinekit.compare.calibrate import calibrate_from_paths
    from rooflinekit.compare.calibrate.regime import calibration_json
    from rooflinekit.output import LIST_SEPARATOR, tabular

    mapping = _table_mapping(args)
    for path in args.records:
        _check_columns(Path(path), mapping, ["hardware", "network", "latency_s"])
        if not args.models:
            _refuse_aggregates(Path(path), mapping, args.extend_shipped)
    options = {"--shrinkage": ("shrinkage", args.shrinkage), "--system-shrinkage": ("system_shrinkage",
               args.system_shrinkage), "--op-classes": ("op_classes", args.op_classes),
               "--kernel-overhead": ("kernel_overhead_ref_s", args.kernel_overhead),
               "--call-overhead": ("call_overhead_ref_s", args.call_overhead)}
    params = {name: value for name, value in options.values() if value is not None}  # None: not given
    if args.extend_shipped and params:
        given = [option for option, (_, value) in options.items() if value is not None]
        raise SpecError(f"{', '.join(given)} given with --extend-shipped: the shipped calibration is refitted with "
                        f"the settings its records were fitted with; drop {'it' if len(given) == 1 else 'them'}, or "
                        "drop --extend-shipped to fit your records alone with them")
    predictor = calibrate_from_paths(args.records, models=args.models, extend_shipped=args.extend_shipped,
                                     repeats=args.repeats, **params, **mapping)
    Path(args.out).write_text(calibration_json(predictor), encoding="utf-8")
    # every record left out, one row each: where it was read, what it names, why (the warning has the top reasons)
    left_out = predictor.left_out_[[c for c in ("source", "hardware", "network", "precision", "batch", "framework",
                                                "framework_version", "latency_s", "reason")
                                    if c in predictor.left_out_.columns]]
    if args.left_out is not None:
        tabular(left_out, LIST_SEPARATOR).to_csv(args.left_out, index=False)
    factors = predictor.factor_table()
    base = pd.DataFrame([{"level": "base", "key": "all records", "op_class": "all", "log_factor": predictor.theta0_,
                          "multiplier": float(np.exp(predictor.theta0_))}])
    table = pd.concat([base, factors], ignore_index=True)
    fit = _in_sample_error(predictor)
    held_out = predictor.held_out_errors_
    shipped = getattr(predictor, "shipped_name_", None)  # set when --extend-shipped
    if args.format == "table":
        if shipped is not None:
            print(f"extended the shipped calibration {shipped} with {predictor.n_records_ - predictor.n_shipped_} "
                  f"of your records ({predictor.n_shipped_} shipped)")
        print(f"calibrated on {counted(predictor.n_records_, 'record')}, classes {', '.join(predictor.classes_)}; "
              f"wrote {args.out}")
        if fit:
            print(f"in-sample error: median {fit['median_ape_pct']:.1f} %, within 10 % {fit['within_10_pct']:.0f} %, "
                  f"within 25 % {fit['within_25_pct']:.0f} % of {counted(fit['n'], 'record')} "
                  "(the records the fit saw: optimistic; the cross-validated error below the factors is what to "
                  "expect of new networks or boards)")
        if len(left_out):
            reasons = left_out["reason"].nunique()
            where = f"wrote each one's source and reason to {args.left_out}" if args.left_out is not None else \
                "list each one's source and reason with --left-out FILE (CSV) or --format json"
            print(f"{counted(len(left_out), 'record')} left out of the calibration for "
                  f"{counted(reasons, 'reason')}; {where}")
        print("latency = roofline time per op class x exp(base + sum of the levels' log-factors); multiplier = "
              "exp(log_factor)")
        print()
    extended = {} if shipped is None else {"extended": shipped, "n_shipped": predictor.n_shipped_}
    _emit(args, {"out": str(args.out), **extended, "n_records": predictor.n_records_, "classes": predictor.classes_,
                 "theta0": predictor.theta0_, "factors": factors.to_dict("records"), "in_sample": fit,
                 "held_out": held_out.to_dict("records"), "n_left_out": len(left_out), "left_out": left_out},
          table, columns=["level", "key", "op_class", "multiplier", "log_factor"])
    if args.format == "table":  # after the factors: the lines above them keep their places
        print()
        if held_out.empty:
            print("cross-validated error: none, too few records to hold any out (add records of other networks or "
                  "boards)")
        else:
            print("cross-validated error on the records (each predicted by the inner cross-validation's fit "
                  "without it), by what was new to that fit; expect it of a prediction of that kind:")
        for row in held_out.to_dict("records"):
            print(f"  {row['held_out']}: median {row['median_ape_pct']:.1f} %, within 25 % "
                  f"{row['within_25_pct']:.0f} % of {counted(row['n'], 'held-out prediction')}")


def _refuse_aggregates(path: Path, mapping: dict[str, Any], extend_shipped: bool) -> None:
    """Say before fitting that records of an aggregate (totals-only) catalog network cannot be calibrated: the
    factors are per op class, which needs the network's layers. With ``extend_shipped``, the catalog networks the
    shipped calibrations' records ran per layer are not said: MLPerf Inference's ``ResNet-50`` (a calibration with
    a regime resolves it as its records, :func:`~rooflinekit.compare.calibrate.inference_offline.featurize_records`)
    and QuTiBench's networks held as totals (``MobileNetv1``: its layer network,
    :func:`~rooflinekit.compare.calibrate.regime.records_layer_network`)."""
    if path.is_dir() or path.suffix.lower() not in (".csv", ".parquet", ".pq") or not path.is_file():
        return
    import pandas as pd

    from rooflinekit.catalog import network_catalog
    from rooflinekit.compare.calibrate.inference_offline import LAYER_NETWORKS
    from rooflinekit.compare.calibrate.regime import QUTIBENCH_LAYER_NETWORKS
    from rooflinekit.compare.loaders import load_table
    from rooflinekit.networks.imagenet import QUTIBENCH_NETWORKS

    records = load_table(path, **mapping).records
    aggregates = []
    ran = {*LAYER_NETWORKS, *QUTIBENCH_LAYER_NETWORKS, *QUTIBENCH_NETWORKS} if extend_shipped else set()
    for name in sorted({str(n) for n in records.get("network", pd.Series(dtype=object)).dropna()}):
        try:
            spec = network_catalog().get(name)
        except RooflineError:
            continue
        if spec.kind == "aggregate" and spec.name not in ran:
            aggregates.append(name)
    if aggregates:
        warnings.warn(f"{path.name}: {', '.join(aggregates)} {'is' if len(aggregates) == 1 else 'are'} known only by "
                      "totals in the catalog (no layers), so "
                      + ("its records cannot be calibrated; give its model file" if len(aggregates) == 1 else
                         "their records cannot be calibrated; give their model files")
                      + " with --models PATH", RooflineWarning)


def _in_sample_error(predictor: Any) -> dict[str, float] | None:
    """Median absolute percentage error and shares within 10 / 25 % of the fitted records (None when unknown)."""
    features = getattr(predictor, "features_", None)
    if features is None or "latency_s" not in features or not len(features):
        return None
    import numpy as np

    from rooflinekit.compare.evaluate import ape_pct

    errors = ape_pct(features["latency_s"].to_numpy(dtype=float), predictor.predict(features))
    return {"n": int(len(errors)), "median_ape_pct": float(np.median(errors)),
            "within_10_pct": float(100 * np.mean(errors <= 10)), "within_25_pct": float(100 * np.mean(errors <= 25))}


def _mapping_option(value: str | None, option: str) -> dict[str, str]:
    """``theirs=ours,...`` as a dict; a malformed entry is a SpecError in the option's own syntax."""
    mapping: dict[str, str] = {}
    for item in split_list(value):
        key, sep, target = item.partition("=")
        if not sep or not key.strip() or not target.strip():
            raise SpecError(f"{option} {value!r}: write NAME=VALUE pairs separated by commas, e.g. "
                            + ("board=hardware,model=network" if option == "--columns" else
                               "latency_s=ms" if option == "--units" else "framework=TFLite Micro,batch=1"))
        if key.strip() in mapping:
            raise SpecError(f"{option} {value!r}: {key.strip()!r} is given twice; give each NAME once")
        mapping[key.strip()] = target.strip()
    return mapping


def _check_columns(path: Path, mapping: dict[str, Any], needed: Sequence[str], one_of: Sequence[str] = ()) -> None:
    """Refuse a records table that lacks ``needed`` columns (or all of ``one_of``) after ``--columns`` and
    ``--set``, naming its own columns and the options that map them (before any work is done); warn of a ``--set``
    column the table has itself (its own column is read, the constant ignored)."""
    if path.is_dir() or path.suffix.lower() != ".csv" or not path.is_file():
        return  # folders are MLPerf Tiny trees; other tables are checked by their loader
    import csv

    from rooflinekit.compare.loaders.generic import record_name, table_header

    try:  # the header as the loader reads it: byte order mark, ';' or tab, spaced names, title lines
        header = table_header(path, mapping["columns"])
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        return  # the loader reports an unreadable table (and a column given twice)
    own = {record_name(c, mapping["columns"]) for c in header}
    ignored = sorted(own & set(mapping["constants"]))
    if ignored:
        warnings.warn(f"{path.name}: --set {', '.join(ignored)} ignored: the table's own column is read (--set "
                      "fills only the columns a table lacks; drop it from --set or the column from the table)",
                      RooflineWarning)
    present = own | set(mapping["constants"])
    missing = [c for c in needed if c not in present]
    if one_of and not present & set(one_of):
        missing.append(" or ".join(one_of))
    if missing:
        absent = [f"{source}={target}" for source, target in mapping["columns"].items()
                  if source not in header and target in " ".join(missing)]
        wrong = (f" (--columns {', '.join(absent)} names a column the table does not have)" if absent else "")
        raise RecordError(f"{path.name}: no {', '.join(missing)} column after --columns/--set{wrong}; its columns are "
                          f"{', '.join(header)}; map them, e.g. --columns {header[0] if header else 'board'}=hardware"
                          f",...{' --units latency_s=ms' if 'latency_s' in str(missing) else ''}")


def _table_mapping(args: argparse.Namespace) -> dict[str, Any]:
    """``--columns``, ``--units`` and ``--set`` as :func:`~rooflinekit.compare.load_table` keyword arguments."""
    from rooflinekit.compare.records import TEXT_COLUMNS

    constants: dict[str, Any] = {}
    for key, value in _mapping_option(args.set, "--set").items():  # text as written: framework_version=2.10
        constants[key] = value if key in TEXT_COLUMNS else int(value) if value.isdigit() else \
            float(value) if _is_float(value) else value
    return {"columns": _mapping_option(args.columns, "--columns"), "units": _mapping_option(args.units, "--units"),
            "constants": constants}


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cmd_sweep(args: argparse.Namespace) -> None:
    import pandas as pd

    from rooflinekit.api import CapacityWarning, check_model_batches, misfits, sweep
    from rooflinekit.catalog import hardware_catalog, network_catalog

    if args.scheduler is not None and args.engine != "dask":
        raise SpecError(f"--scheduler {args.scheduler!r} applies to --engine dask; add --engine dask, or drop it")
    if args.calibrated and args.engine == "dask":
        raise SpecError("--calibrated sweeps run in this process; drop --engine dask (and sweep fewer models or "
                        "hardware if it is too large)")
    try:  # checked before any model is read
        batches: list[int | None] = [int(b) for b in split_list(args.batches)] or [None]
    except ValueError:
        raise SpecError(f"--batches {args.batches!r}: write whole numbers separated by commas, e.g. 1,8,64") from None
    for batch in batches:
        if batch is not None and not 1 <= batch <= MAX_BATCH:
            raise SpecError(f"--batches {args.batches!r}: batch {batch} is out of range; give whole numbers from 1 to "
                            f"{MAX_BATCH}, e.g. 1,8,64")
    models = split_list(args.models)
    framework = args.framework if args.calibrated else None  # a NAS-Bench-201 network as the stack runs it
    networks = [resolve_model(m, framework=framework) for m in progress(models, "models", unit="model")] \
        or network_catalog().specs
    for model, network in zip(models, networks):  # a model file at each batch: as predict imports it, or refused
        if is_model_file(model):
            check_model_batches(Path(model), network, batches)
    hardware = [resolve_hardware(h) for h in split_list(args.hardware)] or hardware_catalog().specs
    named: dict[str, tuple[str, HardwareSpec]] = {}
    for given, spec in zip(split_list(args.hardware), hardware):  # rows and TDPs are found by name
        first, seen = named.setdefault(spec.name, (given, spec))
        if seen != spec:
            raise SpecError(f"--hardware {first!r} and {given!r} are two different specs both named {spec.name!r}: "
                            "their rows could not be told apart (nor their fps_per_w); give each spec its own name")
    precisions = split_list(args.precisions) or [None]
    with warnings.catch_warnings():  # one capacity warning for the whole sweep, not one per network
        warnings.simplefilter("ignore", CapacityWarning)
        if getattr(args, "engine", "local") == "dask":
            table = sweep(networks, hardware, precisions, batches, args.mode, args.traffic, fuse=args.fuse,
                          engine="dask", scheduler=args.scheduler)
        elif args.calibrated:  # one call: the calibration's warnings once for the whole sweep
            table = sweep(networks, hardware, precisions, batches, args.mode, args.traffic, fuse=args.fuse,
                          calibrated=True, framework=args.framework, framework_version=args.framework_version)
        else:
            chunks = [sweep([network], hardware, precisions, batches, args.mode, args.traffic, fuse=args.fuse)
                      for network in progress(networks, "sweep", unit="network")]
            table = pd.concat(chunks, ignore_index=True)
    count = misfits(table)
    if count:
        warnings.warn(f"{count} of {len(table)} predictions do not fit their memories; see the 'fits' and "
                      "'notes' columns", CapacityWarning)
    warn_failed(table)
    table["kernels"] = table["kernels"].astype("Int64")  # a count (the table holds it as float: NaN where failed)
    tdp = {spec.name: spec.tdp_w for spec in hardware}
    # of each row's fps: the estimate's on a calibrated row, the bound's elsewhere
    table["fps_per_w"] = [_fps_per_w(fps, tdp.get(name)) for fps, name in zip(table["fps"], table["hardware"])]
    columns = CALIBRATED_SWEEP_TABLE_COLUMNS if args.calibrated else SWEEP_TABLE_COLUMNS
    if (table["status"] != "ok").any():  # the failure warning points to it: right after the keys, never cut off
        columns = [*columns[:4], "status", *(c for c in columns[4:] if c != "status")]
    records = table.to_dict("records")  # JSON: an interval is one key, [low, high] (rooflinekit.output)
    _emit(args, [joined_interval(record) for record in records] if args.format == "json" else records, table,
          columns=columns)


def _hardware_row(spec: HardwareSpec) -> dict[str, Any]:
    weights = spec.memory_for("weights")
    return {"name": spec.name, "kind": spec.kind.value, "core_type": spec.core_type,
            "peak_ops_per_s": {d.value: p for d, p in spec.peak_ops_per_s.items()},
            "memory": weights.name, "memory_bytes": weights.capacity_bytes,
            "bandwidth_bytes_per_s": weights.bandwidth_bytes_per_s, "tdp_w": spec.tdp_w,
            "default_precision": spec.default_precision.value if spec.default_precision else None,
            "aliases": list(spec.aliases)}


def _hardware_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per spec: name, kind, the weights' memory and its bandwidth, TDP, then one column per data type
    (peak ops/s, compact: ``624T``), most common types first."""
    import pandas as pd

    from rooflinekit.descriptors import DType

    order = [DType.INT8, DType.FP16, DType.BF16, DType.TF32, DType.FP32, DType.INT4, DType.FP8, DType.INT2,
             DType.INT1, DType.INT16, DType.FP64]
    dtypes = [d.value for d in order if any(d.value in row["peak_ops_per_s"] for row in rows)]
    table = pd.DataFrame([{"name": row["name"], "kind": row["kind"], "bandwidth_bytes_per_s":
                           row["bandwidth_bytes_per_s"], "memory_bytes": row["memory_bytes"], "tdp_w": row["tdp_w"],
                           **{d: si(row["peak_ops_per_s"][d]).replace(" ", "") if d in row["peak_ops_per_s"]
                              else "-" for d in dtypes}} for row in rows])
    return table


def cmd_hardware(args: argparse.Namespace) -> None:
    import pandas as pd

    from rooflinekit.catalog import hardware_catalog
    from rooflinekit.output import flatten

    _refuse_name(args)
    catalog = hardware_catalog()
    if args.action == "schema":
        if args.format == "csv":
            raise SpecError("the hardware schema is a JSON Schema document, not a table; use --format json")
        print(json.dumps(hardware_schema(), indent=2))
        return
    if args.action == "list":
        rows = [_hardware_row(s) for s in catalog.specs]
        if args.format == "table":
            print("peaks in ops/s per data type (1 MAC = 2 ops, dense); memory and bandwidth of the level that "
                  "holds the weights")
        _emit(args, rows, _hardware_table(rows) if args.format == "table" else
              pd.DataFrame([flatten(row) for row in rows]))
        return
    spec = resolve_hardware(_require_name(args), "hardware show")
    data = spec.model_dump(mode="json")
    if args.format == "table":
        fields = {k: v for k, v in data.items() if k not in ("peak_ops_per_s", "memories", "engines", "source",
                                                               "notes") and v not in (None, [], ())}
        print(render_fields({**fields, "peak_ops_per_s": peaks_text(spec.peak_ops_per_s)}, wide=args.wide))
        print()
        print(render_table(pd.DataFrame([m.model_dump(mode="json") for m in spec.memories]), wide=args.wide,
                           columns=["name", "capacity_bytes", "bandwidth_bytes_per_s", "on_chip", "stores",
                                    "spill_to", "source"]))
        if spec.engines:
            print()
            print(render_table(pd.DataFrame([{**e.model_dump(mode="json"), "peak_ops_per_s":
                                              peaks_text(e.peak_ops_per_s)} for e in spec.engines]),
                               wide=args.wide, columns=["name", "peak_ops_per_s", "op_classes", "memories",
                                                        "kernel_overhead_s"]))
        print()
        print(render_fields({"source": spec.source, "notes": spec.notes}, wide=args.wide, wrap=True))
        return
    _emit(args, data, pd.DataFrame([flatten(data)]))


def hardware_schema() -> dict[str, Any]:
    """The JSON Schema of a hardware YAML file (a top-level ``hardware:`` list of :class:`HardwareSpec`).

    Quantities may be numbers in SI base units or strings with a unit (``"19.2 GB/s"``, ``"26 TOPS"``,
    ``"512 KiB"``, ``"216 MHz"``, ``"2 W"``; units in any case where unambiguous).

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12) document.
    """
    from rooflinekit.descriptors import DType, HardwareKind, HardwareSpec

    spec = HardwareSpec.model_json_schema(mode="validation")  # quantities: number or string with a unit
    defs = spec.pop("$defs", {})
    defs["HardwareSpec"] = spec
    kinds = [k.value for k in HardwareKind]
    defs["HardwareKind"] = {"title": "HardwareKind", "type": "string", "enum": [*kinds, *(k.lower() for k in kinds)],
                            "description": "device kind, upper or lower case"}
    defs["DType"] = {"title": "DType", "type": "string", "examples": [d.value for d in DType],
                     "description": "data type in any common spelling: " + ", ".join(d.value for d in DType)
                                    + " (also INT8, float32, half, bfloat16, ...)"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "rooflinekit hardware file",
            "description": "A YAML file with a top-level 'hardware:' list of specs. Peaks are dense ops/s (1 MAC = "
                           "2 ops); quantities are SI numbers or strings with a unit ('19.2 GB/s', '26 TOPS').",
            "type": "object", "required": ["hardware"], "additionalProperties": False,
            "properties": {"hardware": {"type": "array", "minItems": 1,
                                        "items": {"$ref": "#/$defs/HardwareSpec"}}},
            "$defs": defs}


def cmd_models(args: argparse.Namespace) -> None:
    import pandas as pd

    from rooflinekit.catalog import network_catalog
    from rooflinekit.counters import count_network

    _refuse_name(args)
    catalog = network_catalog()
    if args.action == "list":
        rows = [{"name": catalog.label(s), "kind": s.kind, "task": s.task, "precision": s.precision.label,
                 "pruning_pct": s.pruning_pct, "aliases": list(s.aliases)} for s in catalog.specs]
        _emit(args, rows, pd.DataFrame(rows))
        return
    name = _require_name(args)
    spec = resolve_model(name) if is_model_file(name) else catalog.get(name)
    label = spec.name if is_model_file(name) else catalog.label(spec)  # the catalog's own, 'CNV 50%'
    cost = count_network(spec)
    _emit(args, {**spec.model_dump(mode="json"), "label": label},
          pd.DataFrame([{"name": label, "kind": spec.kind, "task": spec.task, "precision": spec.precision.label,
                         "aliases": list(spec.aliases), **cost.totals, "source": spec.source}]),
          fields=args.format == "table")


def _align(args: argparse.Namespace) -> tuple[Any, pd.DataFrame]:
    """Records of ``args.records`` (mapped), predicted one configuration at a time, aligned with them.

    A record's hardware may be a hardware YAML file and its network a model file (by path, relative to the
    working folder, or by its stem or record name among ``--models`` files), resolved as ``calibrate`` resolves
    them (:mod:`rooflinekit.compare.calibrate.features`), each file read once."""
    import pandas as pd

    from rooflinekit.api import HARDWARE_SUFFIXES, is_model_path, predict
    from rooflinekit.catalog import network_catalog
    from rooflinekit.compare import align
    from rooflinekit.compare.calibrate.features import (
        file_stem, indexed_network, networks_from_files, record_hardware, record_model_files,
    )
    from rooflinekit.compare.loaders import load_table
    from rooflinekit.compare.loaders.generic import check_targets
    from rooflinekit.compare.records import combine_repeats

    mapping = _table_mapping(args)
    check_targets(mapping["columns"], mapping["constants"])
    _check_columns(args.records, mapping, ["hardware", "network"], ["latency_s", "throughput_fps"])
    loaded = load_table(args.records, **mapping)
    if args.repeats == "median":
        loaded = combine_repeats(loaded)
    records = loaded.records.reset_index(drop=True)
    for row in loaded.files.to_dict("records"):
        if "columns not read" in str(row.get("reason", "")):
            warnings.warn(f"{row['path']}: {row['reason']} (map them with --columns theirs=ours)", RooflineWarning)
    rejected = loaded.rejected
    if len(rejected):
        reasons = rejected["reason"].astype(str).value_counts()
        warnings.warn(f"{len(rejected)} record{'s' if len(rejected) > 1 else ''} rejected: "
                      + "; ".join(f"{n} x {reason}" for reason, n in reasons.head(3).items())
                      + ("; ..." if len(reasons) > 3 else ""), RooflineWarning)
    if records.empty:
        raise RecordError(_no_usable_record(args.records, loaded))
    models = networks_from_files([*args.models, *record_model_files(records["network"])])
    files: dict[str, HardwareSpec] = {}  # hardware YAML files the records name, read once each
    keys = records[["hardware", "network", "pruning_pct", "precision", "batch"]].drop_duplicates()
    rows, failures = [], {}
    predicted: set[tuple] = set()  # (spec names, pruning, precision, batch): one prediction however records spell it
    failed: dict[tuple, str] = {}  # those of them whose prediction failed -> why, for every spelling of them
    for key in progress(list(keys.itertuples(index=False, name=None)), "predict", unit="config"):
        hardware_name, network_name, pruning, precision, batch = key
        precision = None if precision is None or precision != precision else str(precision)
        resolved = None
        try:
            found = indexed_network(str(network_name), precision, models)
            if found is not None:  # a model file (predicted at the record's precision, or its own)
                network = found[1]
            elif is_model_path(str(network_name)):
                raise RecordError(f"model file {str(network_name)!r}: not in the working folder, and no --models "
                                  f"file has its stem {file_stem(str(network_name))!r}; give its path relative to "
                                  "the working folder, or the file (or its folder) with --models PATH")
            else:  # 100 % is also a record's default without a pruning column: then a label's 'P%' says more
                network = network_catalog().get(str(network_name), None if float(pruning) == 100 else float(pruning))
            hardware = record_hardware(str(hardware_name), files)
            resolved = (hardware.name, network.name, network.pruning_pct, precision, int(batch))
            if resolved in predicted:  # another spelling of a configuration already predicted: align matches both
                if resolved in failed:
                    failures[key] = failed[resolved]
                continue
            predicted.add(resolved)
            result = predict(network, hardware, precision, int(batch), args.mode, args.traffic)
        except RooflineError as exc:
            failures[key] = one_line(str(exc))
            if resolved is not None:
                failed[resolved] = failures[key]
            continue
        # the catalog's names (a hardware YAML file keeps its path, the name its records give it)
        file_spec = Path(str(hardware_name)).suffix.lower() in HARDWARE_SUFFIXES
        rows.append({**result.to_dict(), "hardware": str(hardware_name) if file_spec else hardware.name,
                     "network": network.name, "pruning_pct": network.pruning_pct, "precision": precision,
                     "batch": int(batch), "status": "ok", "fps_per_w": _fps_per_w(result.fps, hardware.tdp_w)})
    predictions = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["hardware", "network", "pruning_pct",
                                                                         "precision", "batch", "fps", "status"])
    result = align(predictions, records, models=models, hardware_files=files)  # each file read once
    unmatched = result.unmatched_records.copy()
    if len(unmatched):
        unmatched["reason"] = [failures.get(k, r) for k, r in zip(
            unmatched[["hardware", "network", "pruning_pct", "precision", "batch"]].itertuples(index=False,
                                                                                              name=None),
            unmatched["reason"])]
    if len(rejected):  # rows the loader could not read are unmatched records too, each with why
        not_read = rejected.assign(reason=["not read: " + str(reason) for reason in rejected["reason"]])
        unmatched = pd.concat([unmatched, not_read[[c for c in not_read.columns if c in unmatched.columns]]],
                              ignore_index=True)
    return result, unmatched


_REJECTION_ADVICE = (
    ("unknown number or unit", "write each value as a number or with its unit ('12 ms'), or give a column's unit "
                               "with --units COLUMN=UNIT"),
    ("is required", "fill the missing cells, map the table's own column with --columns THEIRS=OURS, or give one "
                    "value for every row with --set COLUMN=VALUE"),
    ("duplicate", "give one row per configuration (the median of repeated runs)"),
    ("cells than the header", "quote cells that hold commas"),
)
"""(text in a rejected row's ``reason``, what fixes it) for :func:`_no_usable_record`: the loaders' messages for a
value without a readable unit, a missing required field, repeated configurations and a row of extra cells."""


def _no_usable_record(path: Path, loaded: Any) -> str:
    """Why the table ``path`` (read into ``loaded``, a :class:`~rooflinekit.compare.records.LoadResult`) gave no
    record, and what to do: it cannot be read, every row was rejected (the advice of :data:`_REJECTION_ADVICE` for
    the reasons the rows have, else to fix them), or it has no rows."""
    for row in loaded.unreadable_files.to_dict("records"):
        return f"{path}: {row['reason']}; give a UTF-8 CSV table with a header line, or a .parquet table"
    if len(loaded.rejected):
        rows = "the one row was" if len(loaded.rejected) == 1 else f"all {len(loaded.rejected)} rows were"
        reasons = [str(reason) for reason in loaded.rejected["reason"]]
        advice = [fix for text, fix in _REJECTION_ADVICE if any(text in reason for reason in reasons)]
        return (f"{path}: no usable record, {rows} rejected (reasons in the warning); "
                + ("; ".join(advice) if advice else "fix those rows"))
    return f"{path}: the table has a header but no rows; give one measured record per row"


def cmd_align(args: argparse.Namespace) -> None:
    from rooflinekit.output import LIST_SEPARATOR, dumps_json, tabular

    result, unmatched = _align(args)
    matched = result.matched
    summary = None
    if args.command == "efficiency":  # its columns even when no record matched (then no row)
        from rooflinekit.compare import summarize_efficiency

        summary = summarize_efficiency(matched, by=split_list(args.by) or ["hardware"])
    payload: dict[str, Any] = {"matched": matched, "unmatched_records": unmatched}
    if summary is not None:
        payload["summary"] = summary
    if args.format == "json":
        print(dumps_json(payload))
        return
    if args.format == "csv" and summary is not None:  # efficiency's result; the records are 'align --format csv'
        if len(unmatched):  # not in the summary, and the CSV has no room to say so
            first = unmatched.iloc[0]
            warnings.warn(f"{len(unmatched)} of {len(matched) + len(unmatched)} records matched no prediction and "
                          f"are not in the summary, e.g. {first.get('source', 'a record')}: "
                          f"{one_line(first['reason'])}; 'rooflinekit align' lists them with their reasons",
                          RooflineWarning)
        print(tabular(summary, LIST_SEPARATOR).to_csv(index=False), end="")
        return
    if args.format == "csv":
        import pandas as pd
        from pandas.api.types import is_integer_dtype

        rows = pd.concat([matched.assign(status="matched"), unmatched.assign(status="unmatched")], ignore_index=True)
        for column in matched.columns:  # whole numbers stay whole where the unmatched rows have none: 1, not 1.0
            if is_integer_dtype(matched[column]) and column in rows:
                rows[column] = rows[column].astype("Int64")
        print(tabular(rows, LIST_SEPARATOR).to_csv(index=False), end="")
        return
    print(f"{len(matched)} of {len(matched) + len(unmatched)} records matched a prediction "
          f"(efficiency = measured / predicted fps, in %)")
    if len(matched):
        print(render_table(matched, wide=args.wide, columns=MATCHED_COLUMNS))
    if summary is not None and len(summary):
        print()
        print(render_table(summary, wide=args.wide))
    if len(unmatched):
        print()
        print(f"{len(unmatched)} unmatched record{'s' if len(unmatched) > 1 else ''}:")
        for row in unmatched.to_dict("records"):
            precision = row.get("precision") if isinstance(row.get("precision"), str) else "precision not stated"
            batch = row.get("batch")
            batch_text = "batch not stated" if batch is None or batch != batch else f"batch {batch}"  # None, NaN
            print(f"  {row.get('source', '')}: {row['hardware']} / {row['network']} / {precision} / {batch_text}: "
                  f"{one_line(row['reason'])}")


def _refuse_name(args: argparse.Namespace) -> None:
    """Refuse a NAME after ``list`` or ``schema``, which take none (it would be ignored)."""
    if args.action != "show" and args.name is not None:
        raise SpecError(f"'{args.command} {args.action}' takes no NAME, got {args.name!r}; to see one, use "
                        f"'rooflinekit {args.command} show {args.name}'")


def _require_name(args: argparse.Namespace) -> str:
    if not args.name:
        raise SpecError(f"'{args.command} show' needs a NAME; list them with 'rooflinekit {args.command} list'")
    return args.name


RECORDS_HELP = ("Record columns: hardware, network, precision, pruning_pct, batch, latency_s, throughput_fps, "
                "energy_j, power_w, framework, ...; map yours with --columns theirs=ours,... and give units with "
                "--units latency_s=ms,...")


def _records_mapping() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument("--columns", metavar="THEIRS=OURS,...",
                        help="rename the table's columns to record columns, e.g. board=hardware,model=network,ms=latency_s")
    parent.add_argument("--units", metavar="COLUMN=UNIT,...",
                        help="units of numeric record columns, e.g. latency_s=ms,energy_j=uJ (default: SI)")
    parent.add_argument("--set", metavar="COLUMN=VALUE,...",
                        help="fill record columns the table lacks, e.g. precision=int8,batch=1")
    parent.add_argument("--repeats", choices=("reject", "median"), default="reject",
                        help="rows of one configuration (hardware, network, precision, pruning, batch, stack) with "
                             "different measurements: reject them all (default) or read them as repeated runs and "
                             "use their median")
    return parent


def _mode_option() -> Parser:
    from rooflinekit.roofline import MODES

    parent = Parser(add_help=False)
    parent.add_argument("--mode", choices=MODES, default="network", help="whole network or per layer")
    return parent


def build_parser(plots: bool = True, only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser.

    Parameters
    ----------
    plots : bool, optional
        False registers ``plot`` by name only (its charts, and the plotting modules they import, are loaded only
        for a ``plot`` command line, see :func:`main`).
    only : str, optional
        The one command whose arguments are declared; every other command is registered by its name and help line
        only, which is all a command line of ``only`` (and the command list of ``--help``) needs. None declares
        every command.

    Returns
    -------
    argparse.ArgumentParser
        The parser of ``rooflinekit``.
    """
    parser = Parser(prog="rooflinekit", description="Roofline predictions of neural networks on hardware.")
    parser.add_argument("--version", action="version", version=f"rooflinekit {__version__}")
    common = format_options()
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (text, add) in COMMANDS.items():
        if only not in (None, name) or name == "plot" and not plots:
            commands.add_parser(name, help=text)
        else:
            add(commands, common, name, text)
    return parser


def _add_count(commands: Any, common: Parser, name: str, text: str) -> None:
    """``count MODEL ...``: the arguments of a :data:`COMMANDS` entry (``commands``: the main parser's
    sub-commands; ``common``: the options every command takes; ``name`` and ``text``: its name and help line)."""
    count = commands.add_parser(name, parents=[model_options(), common], help=text)
    count.add_argument("--strict", action="store_true", help="fail on ops without a counter")
    count.set_defaults(run=cmd_count)


def _add_predict(commands: Any, common: Parser, name: str, text: str) -> None:
    """``predict MODEL --hardware NAME ...`` (arguments as :func:`_add_count`)."""
    pred = commands.add_parser(name, parents=[model_options(), roofline_options(), common], help=text)
    pred.add_argument("--hardware", required=True,
                      help="catalog hardware name or a hardware YAML file (see 'rooflinekit hardware schema')")
    pred.add_argument("--calibration", metavar="CALIB_JSON",
                      help="scale the layer roofline by efficiency factors from 'rooflinekit calibrate' "
                           "(then --mode and --traffic are the calibration's: layer mode, its traffic)")
    pred.add_argument("--calibrated", action="store_true",
                      help="a calibrated estimate with its interval from the calibration shipped with rooflinekit "
                           "for the hardware's class (MCU: MLPerf Tiny; CPU, and GPU with --framework PyTorch: "
                           "eager-framework latency, NAS-Bench-201 + NeuSight; other GPU, NPU: MLPerf Inference "
                           "Offline, large-batch throughput); other hardware classes are refused")
    pred.add_argument("--framework", help="software stack for --calibrated or --calibration, e.g. 'X-CUBE-AI "
                                          "7.3.0', 'Plumerai'")
    pred.add_argument("--framework-version", help="stack version for --calibrated or --calibration, when not in "
                                                  "--framework")
    pred.add_argument("--layers", action="store_true",
                      help="per-layer times: the roofline's (--mode layer) or the calibrated ones (--calibrated, "
                           "--calibration); with --format csv the layer rows instead of the summary row")
    pred.set_defaults(run=cmd_predict, traffic=None)  # None: not given (DEFAULT_TRAFFIC, or the calibration's)


def _add_calibrate(commands: Any, common: Parser, name: str, text: str) -> None:
    """``calibrate RECORDS... --out CALIB_JSON ...`` (arguments as :func:`_add_count`)."""
    from rooflinekit.cli_common import positive_time

    cal = commands.add_parser(name, parents=[_records_mapping(), common], help=text,
                              description="Fit efficiency factors on measured records. " + RECORDS_HELP + ". A "
                              "record's network may be a model file (ad01_int8.tflite), read relative to the working "
                              "folder, or named by its stem among --models files, and its hardware a hardware YAML "
                              "file (my_board.yaml)")
    cal.add_argument("records", nargs="+", help="MLPerf Tiny results folders or record tables (.csv, .parquet)")
    cal.add_argument("--models", action="append", default=[], metavar="PATH",
                     help="model file or folder of the records' networks (repeatable; searched with its sub-folders; "
                          "a record names one by path, by its stem, ad01_int8, or by its MLPerf Tiny name, ad01; "
                          "default: models/ inside or beside each records folder, then the network catalog)")
    cal.add_argument("--out", required=True, type=output_file, help="calibration JSON to write")

    def left_out_file(text: str) -> Path:
        try:
            return output_file(text)
        except argparse.ArgumentTypeError as exc:  # its message names --out
            raise argparse.ArgumentTypeError(str(exc).replace("--out", "--left-out", 1)) from None

    cal.add_argument("--left-out", type=left_out_file, metavar="FILE",
                     help="CSV to write every record left out of the calibration to, one row each with its source "
                          "(file:line) and reason (--format json lists them too)")
    cal.add_argument("--extend-shipped", action="store_true",
                     help="refit the calibration shipped for the records' hardware class and stack (the one "
                          "'predict --calibrated' uses) on its records plus yours, with its settings (so without "
                          "the five options below), instead of fitting yours alone; pass the file written to "
                          "'predict --calibration'. On a GPU / NPU under its vendor stack, records of one sample "
                          "each extend MLPerf Inference SingleStream and records of 64 samples or more Offline "
                          "(each record's latency is that of its batch on one accelerator); other batches are "
                          "left out, saying why")
    # the five options below default to None (not given): the CalibratedPredictor defaults they name then apply
    cal.add_argument("--shrinkage", type=positive_float("--shrinkage"),
                     help="pseudo-records pulling each factor towards its coarser level (default 0.1)")
    cal.add_argument("--system-shrinkage", type=positive_float("--system-shrinkage"),
                     help="pseudo-records pulling each system towards its stack and core (default 3)")
    # three options, not a preset: each is the CalibratedPredictor setting of the same name, so a fit on the command
    # line is the Python fit written with them (choices: features.OP_CLASS_SCHEMES, not imported to keep --help fast)
    cal.add_argument("--op-classes", choices=("coarse", "grouped", "fine"),
                     help="op classes with a factor each: coarse (conv, depthwise_conv, fully_connected, other; the "
                          "MCU calibration's, default), grouped (coarse with grouped_conv apart) or fine (other split "
                          "into elementwise, norm, pool, ...: for a CPU or GPU, whose ReLUs, layer norms and pools "
                          "reach different fractions of their roofs; for those benchmarks/fidelity/RESULTS.md "
                          "recommends --op-classes fine --kernel-overhead 10us --call-overhead 1ms). Separate "
                          "options rather than one preset: each is the Python setting of its name (op_classes=)")
    cal.add_argument("--kernel-overhead", type=positive_time("--kernel-overhead"), metavar="TIME",
                     help="fit a per-kernel launch overhead, this reference time (s, or with a unit: 10us) per "
                          "kernel scaled by a fitted factor (Python: kernel_overhead_ref_s; default: none)")
    cal.add_argument("--call-overhead", type=positive_time("--call-overhead"), metavar="TIME",
                     help="fit a per-inference call overhead, this reference time (s, or with a unit: 1ms) scaled "
                          "by a fitted factor (Python: call_overhead_ref_s; default: none)")
    cal.set_defaults(run=cmd_calibrate)


def _add_sweep(commands: Any, common: Parser, name: str, text: str) -> None:
    """``sweep --models A,B --hardware X,Y ...`` (arguments as :func:`_add_count`)."""
    swp = commands.add_parser(name, parents=[roofline_options(), common], help=text)
    swp.add_argument("--models", help="comma-separated model names or files (default: whole catalog)")
    swp.add_argument("--hardware", help="comma-separated hardware names or YAML files (default: whole catalog)")
    swp.add_argument("--precisions", help="comma-separated precisions (default: each network's own)")
    swp.add_argument("--batches", help="comma-separated batch sizes (default: each model's own batch)")
    swp.add_argument("--engine", choices=("local", "dask"), default="local",
                     help="run in this process (default) or on a Dask cluster (needs rooflinekit[dask])")
    swp.add_argument("--scheduler", help="with --engine dask: the scheduler address, e.g. tcp://host:8786 "
                                         "(default: a local cluster of processes)")
    swp.add_argument("--calibrated", action="store_true",
                     help="make each row its calibrated estimate with its interval, as 'predict --calibrated' "
                          "gives it (latency_s, fps, latency_interval_low_s/_high_s, bound_latency_s; the "
                          "calibration shipped for its hardware class and --framework); a class without one keeps "
                          "the bound (estimate 'bound', the reason in notes); not with --engine dask")
    swp.add_argument("--framework", help="software stack for --calibrated, e.g. 'TensorRT', 'X-CUBE-AI 7.3.0'")
    swp.add_argument("--framework-version", help="stack version for --calibrated, when not in --framework")
    swp.set_defaults(run=cmd_sweep)


def _add_catalog_command(commands: Any, common: Parser, name: str, text: str) -> None:
    """``hardware list|show|schema`` or ``models list|show`` (arguments as :func:`_add_count`)."""
    actions = ("list", "show", "schema") if name == "hardware" else ("list", "show")
    description = None if name == "hardware" else (
        text + ". Beyond these, MODEL (count, predict, sweep --models) takes a model file (.onnx, .tflite) or a "
        "NAS-Bench-201 CIFAR-10 network by its architecture string, quoted: "
        "'|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|' (ops: none, "
        "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)")
    sub = commands.add_parser(name, parents=[common], help=text, description=description)
    sub.add_argument("action", choices=actions)
    sub.add_argument("name", nargs="?", help="name to show" + (" (or a hardware YAML file)"
                                                                if name == "hardware" else ""))
    sub.set_defaults(run=cmd_hardware if name == "hardware" else cmd_models)


def _add_align(commands: Any, common: Parser, name: str, text: str) -> None:
    """``align`` or ``efficiency`` (arguments as :func:`_add_count`)."""
    sub = commands.add_parser(name, parents=[traffic_options(), _mode_option(), _records_mapping(), common],
                              help=text, description=text + ". " + RECORDS_HELP + ". A record's hardware may be a "
                              "hardware YAML file (my_board.yaml) and its network a model file (ad01_int8.tflite), "
                              "read relative to the working folder, or named by its stem among --models files. An "
                              "efficiency above 100 % (a record faster than its roofline bound) warns: check the "
                              "spec and the latency unit")
    sub.add_argument("records", type=Path, help="CSV or Parquet table of measurements")
    sub.add_argument("--models", action="append", default=[], metavar="PATH",
                     help="model file or folder of the records' networks (repeatable; a record names one by path, "
                          "by its stem, ad01_int8, or by its MLPerf Tiny name, ad01), as in 'rooflinekit calibrate'")
    if name == "efficiency":
        sub.add_argument("--by", help="comma-separated columns to summarize by (default: hardware)")
    sub.set_defaults(run=cmd_align)


def _add_plot(commands: Any, common: Parser, name: str, text: str) -> None:
    """``plot CHART ...``, declared by :func:`rooflinekit.plots_cli.add_plot_commands` (which names it and gives
    its help line itself)."""
    from rooflinekit.plots_cli import add_plot_commands

    add_plot_commands(commands, common)


def _cmd_llm(args: argparse.Namespace) -> None:
    from rooflinekit.cli_llm import cmd_llm  # imported when the command runs

    cmd_llm(args)


def _add_llm_command(commands: Any, common: Parser, name: str, text: str) -> None:
    """``rooflinekit llm MODEL --hardware H ...`` (handled by :mod:`rooflinekit.cli_llm`)."""
    from rooflinekit.cli_common import bounded_int, output_file as output_file_type
    from rooflinekit.roofline import TRAFFIC_MODELS  # the llm phases take the row-separable models only

    llm = commands.add_parser(name, parents=[common], help=text, description=text + ".")
    llm.add_argument("--traffic", choices=[n for n, m in TRAFFIC_MODELS.items() if m.row_separable],
                     default="weights_only", help="memory-traffic assumption (default weights_only)")
    llm.add_argument("model", help="bundled transformer config (e.g. Llama-2-7B), a config.json file, or an .onnx "
                                   "decoder export with past-key/value inputs")
    llm.add_argument("--hardware", required=True,
                     help="catalog hardware or YAML file; several devices need an interconnect (e.g. 'DGX H100')")
    llm.add_argument("--batch", type=bounded_int("--batch", 1, 1 << 24),
                     help="sequences (default 1; --plot sweeps it)")
    llm.add_argument("--prompt", type=bounded_int("--prompt", 1, 1 << 24), default=512,
                     help="prompt tokens per sequence (default 512)")
    llm.add_argument("--generate", type=bounded_int("--generate", 1, 1 << 24), default=128,
                     help="output tokens per sequence (default 128)")
    llm.add_argument("--weights", help="weight format of the linear layers: fp16, bf16, fp32, fp8, int8 (W8A8), "
                                       "w8a16, int4 (W4A16) (default: the model's own type)")
    llm.add_argument("--kv", help="KV-cache type: fp16, bf16, fp32, fp8, int8 (default: the base type)")
    llm.add_argument("--base", help="type of everything else: fp16, bf16 or fp32 (default: the float weights' "
                                    "type, else the model's own 16-bit type, else fp16)")
    llm.add_argument("--group-size", type=bounded_int("--group-size", 1, 1 << 20),
                     help="weights per scale for int4 (default 128)")
    llm.add_argument("--tp", type=bounded_int("--tp", 1, 1024), default=1, help="tensor-parallel devices (default 1)")
    llm.add_argument("--pp", type=bounded_int("--pp", 1, 1024), default=1, help="pipeline stages (default 1)")
    llm.add_argument("--heads", type=bounded_int("--heads", 1, 1 << 20),
                     help="query heads of an .onnx decoder whose graph does not show them (for --tp)")
    llm.add_argument("--kv-heads", type=bounded_int("--kv-heads", 1, 1 << 20),
                     help="KV heads of an .onnx decoder whose graph does not show them (for --tp)")
    llm.add_argument("--context", type=bounded_int("--context", 1, 1 << 25),
                     help="context at which to report one decode step (default prompt + generate)")
    llm.add_argument("--layers", action="store_true", help="also print one device's layers in both phases")
    llm.add_argument("--calibrated", action="store_true",
                     help="also give the calibrated estimate (operator model fitted on Vidur kernels) with its 80 %% "
                          "interval, next to the bound")
    llm.add_argument("--plot", type=output_file_type, metavar="FILE",
                     help="sweep the batch (powers of two past the largest that fits) and chart tokens/s against it "
                          "with the memory limit marked (.png, .svg, .pdf)")
    llm.set_defaults(run=_cmd_llm)


COMMANDS: dict[str, tuple[str, Callable[[Any, Parser, str, str], None]]] = {
    "count": ("ops, params and bytes per layer", _add_count),
    "predict": ("fps and latency on hardware", _add_predict),
    "calibrate": ("fit efficiency factors on measured records", _add_calibrate),
    "sweep": ("networks x hardware x precisions x batches", _add_sweep),
    "hardware": ("hardware: list, show, schema", _add_catalog_command),
    "models": ("models: list, show", _add_catalog_command),
    "align": ("match measured records to predictions: efficiency per record, unmatched with why", _add_align),
    "efficiency": ("align, then summarize efficiency per hardware (or --by)", _add_align),
    "llm": ("LLM inference: time to first token, tokens/s and memory per device (roofline bound)",
            _add_llm_command),
    "plot": (PLOT_HELP, _add_plot),
}
"""The commands in the order ``--help`` lists them: name -> (help line, the function that declares its
arguments on the main parser's sub-commands)."""

# missing module -> (what needs it, the pip command)
EXTRAS = {
    "onnx": ("reading .onnx files", 'pip install "rooflinekit[onnx]"'),
    "tflite": ("reading .tflite files", 'pip install "rooflinekit[tflite]"'),
    "flatbuffers": ("reading .tflite files", 'pip install "rooflinekit[tflite]"'),
    "matplotlib": ("plotting", 'pip install "rooflinekit[plot]"'),
    "pyarrow": ("reading .parquet tables", "pip install pyarrow"),
}
# Python-syntax hints of the library, as the command line spells them
_CLI_HINTS = [
    (re.compile(r"input_shapes=\{'([^']+)': \[?([^\]}]*)\]?\}"),
     lambda match: f"--input-shape {match[1]}={match[2].replace(' ', '')}"),  # one shell word: no spaces
    (re.compile(r" ?\(--input-shape ([^)]*)\)"), ""),
    (re.compile(r"\bbranches=\{'([^']+)': '(then|else)'\}"), r"--branch \1=\2"),
    (re.compile(r"\bloop_counts=\{'([^']+)': n\}"), r"--loop-count \1=N"),
    (re.compile(r"\brepeats='(reject|median)'"), r"--repeats \1"),
    (re.compile(r"\bbatch=(\d+) in Python, "), ""),
    # not in a quoted option value (--set 'batch=1') nor in a list of a record's fields (..., batch=1, ...)
    (re.compile(r"(?<!['\",])(?<!, )\bbatch=(\d+)\b"), r"--batch \1"),
]


def cli_message(text: str) -> str:
    """A library message with its Python-syntax hints in command-line syntax (``input_shapes={'x': [...]}`` ->
    ``--input-shape x=...``, ``batch=8`` -> ``--batch 8``).

    Examples
    --------
    >>> cli_message("dim 'N' is unbound; pass input_shapes={'input': [...]}")
    "dim 'N' is unbound; pass --input-shape input=..."
    """
    for pattern, replacement in _CLI_HINTS:
        text = pattern.sub(replacement, text)
    return text


def _missing_extra(exc: ImportError) -> str | None:
    """The one-line message for an optional dependency that is not installed, None for another ImportError."""
    cause: BaseException | None = exc
    while cause is not None:
        name = getattr(cause, "name", None) or ""
        root = name.split(".")[0]
        if root in EXTRAS:
            what, command = EXTRAS[root]
            return f"{what} needs the optional package {root!r}, which is not installed; install it with: {command}"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    for root, (what, command) in EXTRAS.items():
        if f"rooflinekit[{root}]" in text or f"'{root}'" in text or f" {root} package" in text:
            return f"{what} needs the optional package {root!r}, which is not installed; install it with: {command}"
    return None


def _print_error(exc: BaseException) -> None:
    """``rooflinekit: error: ...`` on stderr: one line, or one line per failed field of a spec."""
    lines = [cli_message(one_line(line)) for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    head, fields = lines[0], lines[1:]
    if isinstance(exc, SpecError) and fields:
        where = head.rsplit(":", 1)[0]
        for line in fields:
            print(f"rooflinekit: error: {where}: {line}", file=sys.stderr)
    else:
        print(f"rooflinekit: error: {' '.join(lines)}", file=sys.stderr)


def _warning_printer() -> Callable[..., None]:
    """A ``warnings.showwarning`` for one command: ``warning: ...``, one line each, without Python's source line,
    and each distinct text once (a fallback met by both the estimate and its interval is said once)."""
    said: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        text = cli_message(one_line(str(message)))
        if text not in said:
            said.add(text)
            print(f"warning: {text}", file=sys.stderr)

    return show


def _quick_predict(words: Sequence[str]) -> argparse.Namespace | None:
    """The parsed command line of a ``predict`` that :mod:`rooflinekit.quick` answers (its ``run`` prints the answer
    as :func:`cmd_predict` prints the same prediction), or None for a command it declines."""
    from rooflinekit.quick import csv_text, quick_prediction

    quick = quick_prediction(words)
    if quick is None:
        return None
    payload = {**quick.prediction, "fps_per_w": _fps_per_w(quick.prediction["fps"], quick.tdp_w)}

    def run(args: argparse.Namespace) -> None:
        if quick.format == "json":
            from rooflinekit.output import dumps_json

            print(dumps_json(payload))
        elif quick.format == "csv":  # the interval in two columns, as cmd_predict writes it
            print(csv_text(split_interval(payload)), end="")
        else:
            print(render_fields({c: payload[c] for c in PREDICT_FIELDS if c in payload}, wide=quick.wide))
            for note in payload["notes"]:  # as cmd_predict prints them
                print(f"note: {note}")

    return argparse.Namespace(quiet=quick.quiet, run=run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 error, including a usage error).

    Errors print ``rooflinekit: error: ...`` on one line; warnings ``warning: ...``; a closed output pipe
    (``rooflinekit hardware list | head``) ends quietly with status 0. A plain ``predict`` of an aggregate catalog
    network (the README's) is answered by :mod:`rooflinekit.quick` before numpy, pandas or pydantic is imported,
    with the output the full path prints.
    """
    words = sys.argv[1:] if argv is None else list(argv)
    quick = _quick_predict(words)  # the common simple predict, before any heavy import; None: the parser's way
    try:
        only = words[0] if words and words[0] in COMMANDS else None  # the command line's command, when it has one
        args = quick or build_parser(plots="plot" in words, only=only).parse_args(words)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    set_progress(not args.quiet)
    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore", RooflineWarning)
            warnings.showwarning = _warning_printer()
            args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except RooflineError as exc:
        _print_error(exc)
        return 2
    except ImportError as exc:
        message = _missing_extra(exc)
        if message is None:
            raise
        print(f"rooflinekit: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused a file or the output (no such folder, permission, disk full)
        where = f"{exc.filename}: " if exc.filename is not None else "writing the output: "
        print(f"rooflinekit: error: {where}{exc.strerror or exc}; check the path, its permissions and the free "
              "space", file=sys.stderr)
        if exc.filename is None:
            _silence_stdout()  # the interpreter's last flush would fail the same way
        return 2
    return 0


def run() -> int:
    """The ``rooflinekit`` console script: :func:`main` in a process of its own.

    A command is one short process whose matrix work is small, so OpenBLAS's thread pool (one thread per core,
    started when numpy loads) costs more start-up than it saves: the script asks for one thread
    (``OPENBLAS_NUM_THREADS=1``) unless the user has set it. :func:`main` called from Python changes nothing.

    A process started with stderr closed (``2>&-``; Python's ``sys.stderr`` is then None) writes its warnings and
    errors to /dev/null, not into stdout (``print(file=None)`` would); one started with stdout closed (``>&-``)
    has nowhere to put its output and exits with status 2, saying so on stderr.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # open for the life of the process
    if sys.stdout is None:
        print("rooflinekit: error: standard output is closed; redirect it (> FILE or > /dev/null) instead of "
              "closing it", file=sys.stderr)
        return 2
    return main()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush into a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (captured output)
        pass


if __name__ == "__main__":
    sys.exit(run())
