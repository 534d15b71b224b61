"""The fuzz runner: cases executed in worker processes, each with a time limit; a worker that overruns is killed
and its case counted as a hang (ONNX shape inference and YAML expansion cannot be interrupted in-process)."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

STATUSES = ("ok", "typed", "foreign", "hang", "bad")


@dataclass
class Report:
    """Outcome counts per family and the cases that failed (foreign, hang, bad) with their detail."""

    counts: dict[str, Counter] = field(default_factory=dict)
    failures: list[tuple[str, int, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, family: str, index: int, status: str, detail: str) -> None:
        self.counts.setdefault(family, Counter())[status] += 1
        if status in ("foreign", "hang", "bad"):
            self.failures.append((family, index, status, detail))

    def summary(self) -> str:
        lines = []
        for family, counts in self.counts.items():
            total = sum(counts.values())
            lines.append(f"{family:8s} {total:6d} cases: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in STATUSES))
        lines.append(f"{len(self.failures)} failures in {self.seconds:.0f} s")
        lines += [f"  {f} #{i} {s}: {d[:300]}" for f, i, s, d in self.failures[:30]]
        return "\n".join(lines)


def _worker(conn: Connection, seed: int, scratch: str) -> None:
    """Run the cases the parent sends (``(family, index)``), answering ``(status, detail)`` for each; case files
    go to a folder of its own inside ``scratch`` (the run's folder, removed by the parent)."""
    import warnings

    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.simplefilter("ignore")
    from .generators import execute

    folder = tempfile.mkdtemp(prefix="worker-", dir=scratch)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        family, index = job
        try:
            status, detail = execute(family, seed, index, folder)
        except BaseException as exc:  # noqa: BLE001 - the runner's own failure is a foreign exception too
            status, detail = "foreign", f"runner: {type(exc).__name__}: {exc}"
        conn.send((status, detail))


def _bootstrap(conn: Connection, seed: int, scratch: str) -> None:
    _worker(conn, seed, scratch)


class _Slot:
    def __init__(self, context: Any, seed: int, scratch: str) -> None:
        self.parent, child = context.Pipe()
        self.process = context.Process(target=_bootstrap, args=(child, seed, scratch), daemon=True)
        self.process.start()
        child.close()
        self.job: tuple[str, int] | None = None
        self.started = 0.0

    def send(self, job: tuple[str, int]) -> None:
        self.job, self.started = job, time.monotonic()
        self.parent.send(job)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.parent.close()


def run(sizes: dict[str, int], seed: int = 0, time_limit: float = 20.0, workers: int = 2,
        progress: bool = False) -> Report:
    """Run ``sizes[family]`` cases of each family with ``workers`` processes; a case longer than ``time_limit``
    seconds is a hang.

    Parameters
    ----------
    sizes : dict of str to int
        Cases per family.
    seed : int, optional
        Base seed of every generator.
    time_limit : float, optional
        Seconds a case may take.
    workers : int, optional
        Worker processes.
    progress : bool, optional
        Print a line every 500 cases.

    Returns
    -------
    Report
        Counts per family and status, and the failures.
    """
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    jobs = [(family, index) for family, size in sizes.items() for index in range(size)]
    jobs.reverse()
    report = Report()
    start = time.monotonic()
    scratch = tempfile.TemporaryDirectory(prefix="rk-fuzz-")
    slots = [_Slot(context, seed, scratch.name) for _ in range(max(1, min(workers, len(jobs))))]
    for slot in slots:
        if jobs:
            slot.send(jobs.pop())
    done = 0
    try:
        while any(slot.job is not None for slot in slots):
            busy = [slot for slot in slots if slot.job is not None]
            ready = wait([slot.parent for slot in busy], timeout=0.5)
            for slot in busy:
                assert slot.job is not None
                family, index = slot.job
                if slot.parent in ready:
                    try:
                        status, detail = slot.parent.recv()
                    except (EOFError, OSError):  # the worker died (a crash in C code)
                        status, detail = "foreign", "worker process died"
                        slots[slots.index(slot)] = slot = _replace(slot, context, seed, scratch.name)
                elif time.monotonic() - slot.started > time_limit:
                    status, detail = "hang", f"no answer within {time_limit:g} s"
                    slots[slots.index(slot)] = slot = _replace(slot, context, seed, scratch.name)
                else:
                    continue
                report.add(family, index, status, detail)
                done += 1
                if progress and done % 500 == 0:
                    print(f"{done} cases, {time.monotonic() - start:.0f} s", flush=True)
                slot.job = None
                if jobs:
                    slot.send(jobs.pop())
    finally:
        for slot in slots:
            try:
                slot.parent.send(None)
            except (OSError, ValueError):
                pass
            slot.process.join(5)
            if slot.process.is_alive():
                slot.kill()
        scratch.cleanup()
    report.seconds = time.monotonic() - start
    return report


def _replace(slot: _Slot, context: Any, seed: int, scratch: str) -> _Slot:
    slot.kill()
    return _Slot(context, seed, scratch)
