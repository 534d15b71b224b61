"""LLM predictions over batch sizes, as a table, and the chart of tokens/s against batch with the memory limit."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import PlotError, SpecError
from rooflinekit.llm.predict import ContextWindowWarning, predict_llm
from rooflinekit.networks.transformer import ConfigDefaultWarning
from rooflinekit.networks.transformer import TransformerConfig

SWEEP_COLUMNS = ["batch", "output_tokens_per_s", "output_tokens_per_s_per_sequence", "decode_tokens_per_s",
                 "ttft_s", "tpot_s", "e2e_latency_s", "memory_total_bytes", "memory_capacity_bytes", "fits",
                 "prefill_bound", "decode_bound"]


def default_batches(max_batch: int, at_least: int = 1, points: int = 16) -> list[int]:
    """Powers of two from 1 up to the first one at or past ``2 x max_batch`` and ``at_least`` (at most
    ``points`` of them), so that a chart shows both sides of the memory limit."""
    top = max(2 * max_batch, at_least, 2)
    out: list[int] = []
    b = 1
    while len(out) < points:
        out.append(b)
        if b >= top:
            break
        b *= 2
    return out


def llm_batch_sweep(model: TransformerConfig | Mapping[str, Any] | str | Path, hardware: HardwareSpec | str | Path,
                    batches: Sequence[int] | None = None, **options: Any) -> pd.DataFrame:
    """:func:`~rooflinekit.llm.predict_llm` at each batch size.

    Parameters
    ----------
    model, hardware
        As :func:`~rooflinekit.llm.predict_llm`.
    batches : sequence of int, optional
        Batch sizes; default :func:`default_batches` around the largest batch that fits.
    **options
        Other keywords of :func:`~rooflinekit.llm.predict_llm` (``prompt``, ``generate``, ``weights``, ``kv``,
        ``tp``, ...), except ``batch``.

    Returns
    -------
    pandas.DataFrame
        One row per batch, columns :data:`SWEEP_COLUMNS` (rates in tokens/s, times in s, bytes); ``attrs`` holds
        ``max_batch`` (the largest batch that fits), ``model``, ``hardware``, ``precision``, ``devices``,
        ``prompt`` and ``generate`` (tokens per sequence). Batches that do
        not fit are predicted anyway (``fits`` False) and not warned about one by one; a context beyond the
        model's window is warned about once (:class:`~rooflinekit.llm.predict.ContextWindowWarning`), and so are
        sizes the config leaves out (:class:`~rooflinekit.networks.transformer.ConfigDefaultWarning`).
    """
    if "batch" in options:
        raise SpecError("llm_batch_sweep takes 'batches', not 'batch'")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = predict_llm(model, hardware, batch=1, **options)
        sizes = list(batches) if batches is not None else default_batches(first.memory.max_batch)
        results = [first if b == 1 else predict_llm(model, hardware, batch=b, **options) for b in sizes]
    for category in (ConfigDefaultWarning, ContextWindowWarning):
        said = [w for w in caught if issubclass(w.category, category)]
        if said:  # the same for every batch: said once
            warnings.warn(said[0].message, category, stacklevel=2)
    rows = [{**{c: getattr(r, c) for c in SWEEP_COLUMNS if hasattr(r, c)},
             "memory_total_bytes": r.memory.total_bytes, "memory_capacity_bytes": r.memory.capacity_bytes}
            for r in results]
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    table.attrs.update(max_batch=first.memory.max_batch, model=first.model, hardware=first.hardware,
                       precision=first.precision, devices=first.devices, prompt=first.prompt_tokens,
                       generate=first.generate_tokens)
    return table


def plot_llm_batches(table: pd.DataFrame, ax: Any = None) -> Any:
    """Output tokens/s (all sequences, and per sequence) against batch, the batches that do not fit shaded and the
    largest batch that fits marked.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`llm_batch_sweep`'s table.
    ax : matplotlib Axes, optional
        Draw there; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PlotError
        A table without the sweep's columns or rows.
    PlotDependencyError
        matplotlib is not installed.
    """
    from rooflinekit.plots._common import figure_and_axes, log_axis, require_columns

    require_columns(table, ["batch", "output_tokens_per_s", "output_tokens_per_s_per_sequence", "fits"],
                    "plot_llm_batches")
    if table.empty:
        raise PlotError("plot_llm_batches: the table has no rows; sweep at least one batch size")
    fig, axes = figure_and_axes(ax, (7.0, 4.2))
    batch = table["batch"].to_numpy()
    axes.plot(batch, table["output_tokens_per_s"], marker="o", label="output tokens/s, all sequences")
    axes.plot(batch, table["output_tokens_per_s_per_sequence"], marker="s", linestyle="--",
              label="output tokens/s per sequence")
    log_axis(axes, "x", None)
    log_axis(axes, "y", "")
    limit = table.attrs.get("max_batch")
    misfit = batch[~table["fits"].to_numpy(dtype=bool)]
    if len(misfit):
        start = limit if limit and limit < misfit.min() else misfit.min()
        axes.axvspan(max(start, batch.min()), batch.max(), color="0.85", zorder=0,
                     label="does not fit in memory" if limit else "does not fit in memory: not even batch 1")
    if limit:
        axes.axvline(limit, color="C3", linestyle=":", label=f"largest batch that fits: {limit}")
    title = " on ".join(str(table.attrs[k]) for k in ("model", "hardware") if k in table.attrs)
    devices = table.attrs.get("devices", 1)
    workload = "; ".join(part for part in (
        f"prompt {table.attrs['prompt']:,} + generate {table.attrs['generate']:,}" if "prompt" in table.attrs else "",
        str(table.attrs.get("precision") or "")) if part)
    axes.set(xlabel="batch (sequences)", ylabel="output tokens/s")
    axes.set_title(f"{title}{f' ({devices} devices)' if devices and devices > 1 else ''}, roofline bound"
                   + (f"\n{workload}" if workload else ""), fontsize="medium")
    axes.legend(loc="best", fontsize="small")
    return fig
