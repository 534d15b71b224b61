"""``rooflinekit llm MODEL --hardware H``: time to first token, tokens/s and memory of a decoder LLM.

    rooflinekit llm Llama-2-7B --hardware H100-SXM5-80GB --batch 32 --prompt 2048 --generate 128
    rooflinekit llm Llama-2-70B --hardware "DGX H100" --tp 2 --weights int4 --kv fp8 --format json

MODEL is a bundled transformer config name (``rooflinekit models list``), a ``config.json`` file (or a Hugging
Face model folder holding one), or an ONNX
decoder export with past-key/value inputs (``rooflinekit llm decoder.onnx --hardware H``: recognized and costed
per phase, ``--tp`` / ``--pp`` split as its graph shows, :mod:`rooflinekit.llm.onnx_parallel`; ``--heads`` /
``--kv-heads`` where the graph does not show them). The output is
a roofline bound (:func:`rooflinekit.llm.predict_llm`); with ``--calibrated`` also the calibrated estimate and its
80 % interval next to it (:mod:`rooflinekit.llm.calibrated`; JSON key ``calibrated``, whose intervals are
``[low, high]`` keys such as ``ttft_interval_s``; CSV columns ``calibrated.*``, each interval split in two,
``calibrated.ttft_interval_low_s`` and ``calibrated.ttft_interval_high_s``). The parser is declared in
:mod:`rooflinekit.cli`; this module is imported only when the command runs.
"""

from __future__ import annotations

import argparse

import pandas as pd

from rooflinekit.display import render_table
from rooflinekit.errors import SpecError
from rooflinekit.llm import predict_llm
from rooflinekit.llm.result import split_intervals
from rooflinekit.output import LIST_SEPARATOR, dumps_json, flatten, tabular, to_json_value

LAYER_COLUMNS = ["phase", "stage", "name", "op", "ops", "bytes", "time_s", "bound"]
CALIBRATED_LAYER_COLUMNS = ["calibrated_time_s", "calibrated_kind"]


def cmd_llm(args: argparse.Namespace) -> None:
    """Run ``rooflinekit llm`` (arguments declared in :func:`rooflinekit.cli.build_parser`)."""
    from rooflinekit.cli_common import resolve_hardware

    model = args.model
    if args.plot:
        _plot(args)
        return
    result = predict_llm(model, resolve_hardware(args.hardware), batch=args.batch or 1, prompt=args.prompt,
                         generate=args.generate, weights=args.weights, kv=args.kv, base=args.base,
                         group_size=args.group_size, tp=args.tp, pp=args.pp, context=args.context,
                         traffic=args.traffic, calibrated=args.calibrated, heads=args.heads,
                         kv_heads=args.kv_heads)
    payload = result.to_dict()
    columns = LAYER_COLUMNS + (CALIBRATED_LAYER_COLUMNS if result.calibrated is not None else [])
    if args.format == "json":
        if args.layers and result.layers is not None:
            payload["layers"] = [{k: to_json_value(v) for k, v in row.items()}
                                 for row in result.layers[columns].to_dict("records")]
        print(dumps_json(payload))
        return
    if args.format == "csv":
        # the JSON object flat, as every command writes CSV: dotted columns (memory.weights_bytes), lists joined by
        # ';', an interval as its _low and _high columns
        table = (result.layers[columns] if args.layers and result.layers is not None
                 else tabular(pd.DataFrame([split_intervals(flatten(payload), "calibrated.")]), LIST_SEPARATOR))
        print(table.to_csv(index=False), end="")
        return
    print(result.summary())
    for note in result.notes:
        if not note.startswith(("roofline bound:", "does not fit:")):  # both said above
            print(f"note: {note}")
    for note in result.calibrated.notes if result.calibrated is not None else ():
        print(f"note: {note}")
    if args.layers and result.layers is not None:
        print()
        print(render_table(result.layers, wide=args.wide, columns=columns))


def _plot(args: argparse.Namespace) -> None:
    """``--plot FILE``: the batch sweep as a chart, and its table; the options of one prediction are refused."""
    from rooflinekit.cli_common import resolve_hardware

    given = [option for option, value in (("--batch", args.batch is not None), ("--context", args.context is not None),
                                          ("--layers", args.layers), ("--calibrated", args.calibrated)) if value]
    if given:
        one = len(given) == 1
        raise SpecError(f"--plot sweeps the batch and charts the roofline bound; {', '.join(given)} "
                        f"{'does' if one else 'do'} not apply to it: drop {'it' if one else 'them'}, or leave out "
                        "--plot")
    from rooflinekit.llm.sweep import llm_batch_sweep, plot_llm_batches
    from rooflinekit.plots import save_figure

    table = llm_batch_sweep(args.model, resolve_hardware(args.hardware), prompt=args.prompt,
                            generate=args.generate, weights=args.weights, kv=args.kv, base=args.base,
                            group_size=args.group_size, tp=args.tp, pp=args.pp, traffic=args.traffic,
                            heads=args.heads, kv_heads=args.kv_heads)
    path = save_figure(plot_llm_batches(table), args.plot)
    if args.format == "json":
        print(dumps_json({**table.attrs, "plot": str(path), "rows": table.to_dict("records")}))
    elif args.format == "csv":
        print(table.to_csv(index=False), end="")
    else:
        print(render_table(table, wide=args.wide))
        print(f"largest batch that fits: {table.attrs['max_batch']}; wrote {path}")
