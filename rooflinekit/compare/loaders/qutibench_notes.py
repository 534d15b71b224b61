"""What a QuTiBench record's ``notes`` say: properties of the measurements that a roofline comparison must know.

A roofline bound is never beaten by a correct measurement of a correctly described device and network. Compared
with rooflinekit's predictions for the catalog's QuTiBench specs, some QuTiBench records are faster than their
bound; each note below names a cause that lies in the data or in QuTiBench's level-0 assumptions, not in the
spec's peaks or the record's units:

- :data:`FINN_NOTE`: FINN holds every weight on chip, so the level-0 bound (weights read from DRAM) does not bound it;
- :data:`TX2_MLP_NOTE`: the TX2 MLP runs at batch 64 and 128 imply more than the GPU's dense peak for the MLP the
  tables name, so the network (or op count) behind them is not the one described;
- :func:`throughput_note`: ``fps-comp`` and ``batch / lat-comp`` of one row disagree.

A record faster than a prediction made for a *smaller* batch (QuTiBench's predictions are batch-1 bounds, and its
efficiency compares the best fps over batch sizes with them) needs no note: with weights-only traffic the bound at
batch b is up to b times the batch-1 bound of a memory-bound network. Compare it with a prediction at its own batch.
"""

from __future__ import annotations

import math
from fnmatch import fnmatch
from numbers import Real
from typing import Any

FINN_NOTE = ("FINN is a dataflow accelerator that holds every weight in on-chip memory (BRAM, UltraRAM, LUTRAM), "
             "none in DRAM: QuTiBench's level-0 bound (weights read from DRAM at 19.2 GB/s) does not bound it, and a "
             "memory-bound network (the MLP) runs faster than that bound")
"""Note of every ZCU104-FINN record."""

TX2_MLP_NOTE = ("TX2 MLP: at batch 64 and 128 fps-comp x the MLP's 2 ops per weight (20,029,440 ops at 100 %, "
                "5,820,416 at 50 %) exceeds the GPU's dense peak at the mode's clock (FP32 100 %: 1.37-1.40x, FP32 "
                "50 %: up to 1.06x, FP16 100 %: up to 1.12x), which no GPU can; QuTiBench does not document the "
                "network it ran (backup.csv's tp-comp implies 8.43 MOP per frame at 100 %), so these rows can beat "
                "any bound of the 784-2048-2048-2048-10 MLP")
"""Note of every TX2 MLP record (all three power modes)."""

KNOWN: tuple[tuple[str, str, str], ...] = (
    ("zcu104-finn", "*", FINN_NOTE),
    ("tx2-*", "mlp", TX2_MLP_NOTE),
)
"""``(hardware pattern, network pattern, note)``: fnmatch patterns on the lower-cased names the loader gives."""

DISAGREEMENT = 0.05
"""Relative difference between ``fps-comp`` and ``batch / lat-comp`` above which a record notes both."""


def throughput_note(fps: Any, batch: Any, latency_ms: Any) -> str | None:
    """A note when a row's two measures of throughput disagree by more than :data:`DISAGREEMENT`.

    The latency implies ``fps_latency = 1000 * batch / latency_ms`` [frames/s]; the row notes both values when
    ``|fps / fps_latency - 1| > DISAGREEMENT``.

    Parameters
    ----------
    fps : Any
        ``fps-comp`` [frames/s], what the loader reads as ``throughput_fps``.
    batch : Any
        ``batch/thread/stream`` [frames per batch].
    latency_ms : Any
        ``lat-comp`` [ms per batch].

    Returns
    -------
    str or None
        The note, or None when they agree or a value is missing or not a positive finite number (the record's
        validation deals with such a value).
    """
    values = (fps, batch, latency_ms)
    if not all(isinstance(v, Real) and math.isfinite(v) and v > 0 for v in values):
        return None
    from_latency = 1000 * batch / latency_ms
    if abs(fps / from_latency - 1) <= DISAGREEMENT:
        return None
    return (f"fps-comp {fps:.6g} and batch / lat-comp {from_latency:.6g} fps disagree by "
            f"{100 * abs(fps / from_latency - 1):.0f} %; throughput_fps is fps-comp")


def record_notes(hardware: Any, network: Any, fps: Any, batch: Any, latency_ms: Any) -> str | None:
    """The ``notes`` of a QuTiBench record: the :data:`KNOWN` notes of its hardware and network, then its
    :func:`throughput_note`, joined by ``'; '``.

    Parameters
    ----------
    hardware, network : Any
        The record's names as the loader gives them (``TX2-maxn``: the op mode appended).
    fps, batch, latency_ms : Any
        ``fps-comp`` [frames/s], ``batch/thread/stream`` [frames] and ``lat-comp`` [ms per batch].

    Returns
    -------
    str or None
        The notes, or None when none applies.
    """
    names = (str(hardware).casefold(), str(network).casefold())
    notes = [note for hw, net, note in KNOWN if fnmatch(names[0], hw) and fnmatch(names[1], net)]
    disagreement = throughput_note(fps, batch, latency_ms)
    return "; ".join(notes + ([disagreement] if disagreement else [])) or None
