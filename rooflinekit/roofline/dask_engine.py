"""The same sweep partitioned over a Dask cluster (optional extra: ``pip install "rooflinekit[dask]"``).

:func:`sweep_dask` splits the networks of a sweep into ``partitions`` contiguous parts; each part runs on a
worker exactly as :func:`~rooflinekit.roofline.sweep` runs in-process (same blocks, same chunks, rows numbered by
their position in the whole sweep), so

- with a ``reduce``, each worker returns the reduction's partial state of its part; the client combines the
  states in sweep order and finalizes: the result equals the in-process one;
- without, the rows of the in-process table in order: a lazy ``dask.dataframe.DataFrame`` (one partition per
  part) when you pass your own ``distributed.Client`` and ``dask.dataframe`` is installed (it needs ``pyarrow``),
  a Parquet dataset written by the workers with ``output`` (needs ``pyarrow``), else gathered into one pandas
  DataFrame.

On a real cluster, start a scheduler and workers (``dask scheduler`` on one machine, ``dask worker
tcp://HOST:8786 --nworkers N --nthreads 1`` on each machine, with rooflinekit installed in the same version
everywhere) and pass ``scheduler="tcp://HOST:8786"``; from the command line, ``rooflinekit sweep ... --engine
dask --scheduler tcp://HOST:8786``. With no scheduler a ``LocalCluster`` of processes is started for the call
(one worker per core, one thread each) and closed after it. Workers receive only the networks of their part
(specs or counted networks) and the hardware list; nothing is read from the network at run time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from rooflinekit.counters import DEFAULT_COUNTERS, CounterRegistry, CountingConventions
from rooflinekit.descriptors import HardwareSpec, NetworkSpec, Precision
from rooflinekit.errors import SpecError
from rooflinekit.roofline.columnar import Categories
from rooflinekit.roofline.grid import HardwareGrid
from rooflinekit.roofline.predictor import DEFAULT_CHUNK_ROWS, SweepPlan, reduced, stream
from rooflinekit.roofline.reductions import Reduction, _plain, checked
from rooflinekit.roofline.traffic import TrafficModel
from rooflinekit.roofline.workload import CountedNetwork


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise SpecError("engine 'dask' needs the dask extra: pip install \"rooflinekit[dask]\"") from None
    return distributed


def partition_bounds(n_networks: int, partitions: int) -> list[tuple[int, int]]:
    """``[start, stop)`` network ranges of ``partitions`` near-equal contiguous parts (empty parts dropped)."""
    edges = np.linspace(0, n_networks, partitions + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _part_plan(plan: SweepPlan, start: int, stop: int) -> SweepPlan:
    return SweepPlan(plan.networks[start:stop], plan.hardware, plan.precisions, plan.batches, plan.mode,
                     plan.traffic, plan.conventions, plan.counters, plan.fuse)


class _Part:
    """One part of a sweep as sent to a worker: the default counter registry travels as a flag, so that the
    worker uses its own ``DEFAULT_COUNTERS`` (counted networks are checked against it by identity)."""

    def __init__(self, plan: SweepPlan) -> None:
        self.default = plan.counters is DEFAULT_COUNTERS
        self.plan = replace(plan, counters=CounterRegistry()) if self.default else plan

    def local(self) -> SweepPlan:
        return replace(self.plan, counters=DEFAULT_COUNTERS) if self.default else self.plan


def _partial_state(part: _Part, reduce: Reduction, chunk_rows: int, first_row: int) -> tuple[pd.DataFrame, int]:
    """Worker side: the reduction state of one part (its plan holds only its networks) and its rows that do not
    fit their memories (:func:`~rooflinekit.roofline.predictor.stream`)."""
    plan = part.local()
    return stream(plan, range(len(plan.networks)), reduce, chunk_rows, first_row=first_row)


def _part_table(part: _Part, chunk_rows: int, first_row: int) -> pd.DataFrame:
    """Worker side: every row of one part, indexed by position in the whole sweep."""
    plan = part.local()
    builder = plan.builder(plan.rows, Categories())
    for n, constants, arrays, coded in plan.blocks(range(len(plan.networks)), chunk_rows):
        builder.add(n, constants, arrays, coded)
    frame = builder.frame(first_row)
    return _plain(frame)  # parts order categories apart


def _has_dask_dataframe() -> bool:
    try:
        import dask.dataframe  # noqa: F401  (needs pyarrow)
    except ImportError:
        return False
    return True


def _write_part(plan: _Part, chunk_rows: int, first_row: int, path: str) -> str:
    """Worker side: one part's rows written to ``path`` as Parquet."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _part_table(plan, chunk_rows, first_row).to_parquet(path)
    return path


def _local_cluster(distributed: Any) -> Any:
    """A ``LocalCluster`` of worker processes, one thread each; a :class:`SpecError` saying what to do when its
    workers cannot start. The usual cause: a script that calls the sweep at its top level. Worker processes are
    started by importing the script again, so that import calls the sweep again, and Python refuses to start
    processes from a process that is still starting."""
    try:
        return distributed.LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
    except RuntimeError as exc:
        raise SpecError(f"engine='dask' could not start a local cluster of worker processes ({exc}); in a script, "
                        "make the call under 'if __name__ == \"__main__\":' (each worker imports the script again), "
                        "or pass scheduler=ADDRESS of a running cluster") from exc


def sweep_dask(networks: Sequence[NetworkSpec | CountedNetwork], hardware: Sequence[HardwareSpec | HardwareGrid],
               precisions: Sequence[Precision | str | None] = (None,), batches: Sequence[int | None] = (None,),
               mode: str = "network", traffic: TrafficModel | str = "weights_only",
               conventions: CountingConventions = CountingConventions(), counters: CounterRegistry = DEFAULT_COUNTERS,
               fuse: bool = True, reduce: Reduction | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
               scheduler: str | Any | None = None, partitions: int | None = None, output: str | None = None) -> Any:
    """:func:`~rooflinekit.roofline.sweep` on a Dask cluster (see the module docstring).

    Parameters
    ----------
    networks, hardware, precisions, batches, mode, traffic, conventions, counters, fuse, reduce, chunk_rows :
        as in :func:`~rooflinekit.roofline.sweep`.
    scheduler : a scheduler address (``tcp://host:8786``), a ``distributed.Client``, or None for a local
        cluster of processes started for this call.
    partitions : parts the networks are split into; None: four per worker.
    output : without ``reduce``, a directory to write the rows to as a Parquet dataset (one file per part,
        written by the workers; needs ``pyarrow``).

    Returns
    -------
    DataFrame, dask.dataframe.DataFrame or str
        With ``reduce``: the reduction (a pandas DataFrame equal to the in-process one, ``attrs`` included).
        Without: with
        ``output``, the directory written; with a ``Client`` as ``scheduler`` and ``dask.dataframe`` importable
        (it needs ``pyarrow``), a lazy Dask DataFrame of the rows (one partition per part) on that client; else
        the rows gathered into a pandas DataFrame. Text columns are plain objects (parts order categories apart).

    Raises :class:`~rooflinekit.errors.SpecError` without the dask extra, for bad ``partitions``, a ``reduce``
    that is not a :class:`~rooflinekit.roofline.reductions.Reduction` and for the arguments
    :func:`~rooflinekit.roofline.sweep` refuses.
    """
    distributed = _import_distributed()
    plan = SweepPlan.of(networks, hardware, precisions, batches, mode, traffic, conventions, counters, fuse)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise SpecError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1):
        raise SpecError(f"partitions must be a positive integer, got {partitions!r}")
    if reduce is not None:
        checked(reduce, plan.columns)
    own = scheduler is None
    if isinstance(scheduler, distributed.Client):
        client = scheduler
    elif own:
        cluster = _local_cluster(distributed)
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(scheduler)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        bounds = partition_bounds(len(plan.networks), partitions or 4 * workers)
        parts = [(_Part(_part_plan(plan, a, b)), plan.first_row(a)) for a, b in bounds]
        if reduce is not None:
            futures = [client.submit(_partial_state, part, reduce, int(chunk_rows), first, pure=False)
                       for part, first in parts]
            gathered = (client.gather(futures) if futures  # no networks: the state of no rows, with the columns
                        else [stream(plan, [], reduce, int(chunk_rows))])
            states, misfits = zip(*gathered)
            return reduced(reduce, reduce.combine(list(states)), plan.rows, sum(misfits))
        if output is not None:
            try:
                import pyarrow  # type: ignore[import-not-found]  # noqa: F401
            except ImportError:
                raise SpecError("writing a Parquet dataset needs pyarrow: pip install pyarrow") from None
            futures = [client.submit(_write_part, part, int(chunk_rows), first, f"{output}/part-{i:05d}.parquet",
                                     pure=False) for i, (part, first) in enumerate(parts)]
            client.gather(futures)
            return output
        if isinstance(scheduler, distributed.Client) and _has_dask_dataframe():
            import dask
            import dask.dataframe as dd

            delayed = [dask.delayed(_part_table)(part, int(chunk_rows), first)  # type: ignore[attr-defined]
                       for part, first in parts]
            meta = _part_table(_Part(_part_plan(plan, 0, 0)), 1, 0)
            return dd.from_delayed(delayed, meta=meta, verify_meta=False)  # lazy, on the caller's client
        futures = [client.submit(_part_table, part, int(chunk_rows), first, pure=False) for part, first in parts]
        tables = client.gather(futures)
        return _plain(pd.concat(tables)) if tables else _part_table(_Part(_part_plan(plan, 0, 0)), 1, 0)
    finally:
        if own:
            client.close()
            cluster.close()
        elif not isinstance(scheduler, distributed.Client):
            client.close()
