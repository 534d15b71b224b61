"""Tensor and pipeline parallelism: how a transformer is split over devices and what the links cost.

**Tensor parallel (TP) over N devices** (Megatron-LM): every device holds a shard of every block, a transformer
with ``Hq/N`` query heads, ``Hkv/N`` KV heads (one head, replicated, when ``Hkv < N``), FFN width ``ceil(F/N)``
(per expert for MoE) and a vocabulary-parallel embedding and LM head of ``ceil(V/N)`` rows; hidden size, head dim
and norms are the whole model's (norms are replicated). Each block then needs the partial outputs summed across
the devices: one **all-reduce** of the ``(B, S, H)`` activations after the attention output projection and one
after the MLP (one per block for a parallel block, GPT-J / GPT-NeoX), one after the vocabulary-parallel
embedding, and an **all-gather** of the last position's logits ``(B, V)``.

**Pipeline parallel (PP) over M devices**: the blocks are split into M consecutive stages as evenly as possible
(the first stage also holds the embedding, the last the final norm and LM head; a tied table is held by both, a
copy each). A token passes the stages one after another and hands its ``(B, S, H)`` activations on over one
**point-to-point** transfer between stages; this model keeps one batch in flight (no micro-batch overlap), so PP
cuts memory per device, not latency.

Costs over a link of ``bandwidth`` bytes/s per direction per device and ``latency`` s per step (see
:class:`~rooflinekit.descriptors.hardware.Interconnect`), for a message of ``n`` bytes::

    ring all-reduce:   2 (N-1)/N x n / bandwidth + 2 (N-1) x latency
    ring all-gather:     (N-1)/N x n / bandwidth +   (N-1) x latency      (n: the gathered tensor)
    point-to-point:                n / bandwidth +           latency

Communication is on the critical path: it adds to the compute and memory time (no overlap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import SpecError
from rooflinekit.networks.transformer import TransformerConfig


@dataclass(frozen=True)
class Parallelism:
    """Tensor-parallel degree ``tp`` and pipeline stages ``pp``; ``tp * pp`` devices."""

    tp: int = 1
    pp: int = 1

    def __post_init__(self) -> None:
        for label, value in (("tp", self.tp), ("pp", self.pp)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{label} must be a positive integer (devices), got {value!r}")

    @property
    def devices(self) -> int:
        """Devices used: ``tp * pp``."""
        return self.tp * self.pp


def ring_allreduce_s(nbytes: float, devices: int, bandwidth_bytes_per_s: float, latency_s: float) -> float:
    """Time of a ring all-reduce of ``nbytes`` over ``devices`` devices (s).

    ``t = 2 (N-1)/N x nbytes / bandwidth + 2 (N-1) x latency``: a reduce-scatter and an all-gather, each of N-1
    steps moving ``nbytes / N`` per device per step. 0 for one device.

    Parameters
    ----------
    nbytes : float
        Bytes of the tensor each device holds (and ends with), e.g. ``B x S x H x 2`` for fp16 activations.
    devices : int
        N.
    bandwidth_bytes_per_s : float
        Link bandwidth per device per direction (bytes/s).
    latency_s : float
        Fixed cost of one step (s).
    """
    n = devices
    if n <= 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bandwidth_bytes_per_s + 2 * (n - 1) * latency_s


def ring_allgather_s(nbytes: float, devices: int, bandwidth_bytes_per_s: float, latency_s: float) -> float:
    """Time of a ring all-gather ending with ``nbytes`` on every device (s): ``(N-1)/N x nbytes / bandwidth +
    (N-1) x latency``; 0 for one device."""
    n = devices
    if n <= 1:
        return 0.0
    return (n - 1) / n * nbytes / bandwidth_bytes_per_s + (n - 1) * latency_s


def point_to_point_s(nbytes: float, bandwidth_bytes_per_s: float, latency_s: float) -> float:
    """Time of one transfer of ``nbytes`` to another device (s): ``nbytes / bandwidth + latency``."""
    return nbytes / bandwidth_bytes_per_s + latency_s


def check_devices(hardware: HardwareSpec, parallelism: Parallelism) -> None:
    """Refuse a split the system cannot take.

    Raises
    ------
    SpecError
        Several devices on a spec without an interconnect, or more devices than the system holds.
    """
    tp, pp = parallelism.tp, parallelism.pp
    if parallelism.devices > 1:
        link = hardware.interconnect
        if link is None:
            raise SpecError(f"{hardware.name} has no interconnect, so it cannot run TP {tp} x PP {pp}; use a "
                            "multi-device system (e.g. 'DGX H100', 'rooflinekit hardware list') or add "
                            "'interconnect' to its spec")
        if parallelism.devices > link.devices:
            raise SpecError(f"TP {tp} x PP {pp} needs {parallelism.devices} devices but {hardware.name} has "
                            f"{link.devices}; use at most {link.devices}")


def devices_remedy(hardware: HardwareSpec, parallelism: Parallelism) -> str | None:
    """How a misfit on ``hardware`` split by ``parallelism`` would get more devices: a larger split when the
    system holds devices the split leaves unused (its interconnect's ``devices`` above TP x PP), a multi-device
    system when ``hardware`` is one device (no interconnect: ``--tp/--pp`` would be refused), None when every
    device is in use."""
    link = hardware.interconnect
    if link is None:
        return "a multi-device system (a spec with an 'interconnect', e.g. 'DGX H100') with --tp/--pp"
    return "more devices (--tp/--pp)" if link.devices > parallelism.devices else None


def check_parallelism(config: TransformerConfig, hardware: HardwareSpec, parallelism: Parallelism) -> None:
    """Refuse a split the model or the system cannot take.

    Raises
    ------
    SpecError
        Several devices on a spec without an interconnect, more devices than the system holds
        (:func:`check_devices`), query heads not divisible by ``tp``, KV heads neither divisible by ``tp`` nor
        dividing it, or more stages than blocks.
    """
    tp, pp = parallelism.tp, parallelism.pp
    check_devices(hardware, parallelism)
    if config.heads % tp:
        raise SpecError(f"{config.name}: {config.heads} query heads cannot be split over TP {tp}; use a TP degree "
                        f"dividing {config.heads}")
    if config.kv_heads % tp and tp % config.kv_heads:
        raise SpecError(f"{config.name}: {config.kv_heads} KV heads cannot be split over TP {tp} (neither divides "
                        "the other); use a TP degree that divides or is a multiple of the KV heads")
    if pp > config.layers:
        raise SpecError(f"{config.name}: PP {pp} stages for {config.layers} blocks; use at most {config.layers}")


def shard_config(config: TransformerConfig, tp: int) -> TransformerConfig:
    """One device's shard under TP ``tp`` (see the module notes): heads, KV heads, FFN width and vocabulary
    divided, the rest unchanged. ``tp = 1`` returns ``config``."""
    if tp == 1:
        return config
    kv_heads = config.kv_heads // tp if config.kv_heads % tp == 0 else 1
    return replace(config, name=f"{config.name} TP{tp} shard", heads=config.heads // tp, kv_heads=kv_heads,
                   ffn=math.ceil(config.ffn / tp), vocab=math.ceil(config.vocab / tp))


def stage_blocks(layers: int, pp: int) -> list[range]:
    """The blocks of each of ``pp`` stages: consecutive, sizes differing by at most one (larger first)."""
    base, extra = divmod(layers, pp)
    out, start = [], 0
    for stage in range(pp):
        size = base + (1 if stage < extra else 0)
        out.append(range(start, start + size))
        start += size
    return out


def allreduces_per_block(config: TransformerConfig) -> int:
    """All-reduces per block under TP: 2 (after attention and after the MLP), 1 for a parallel block."""
    return 1 if config.parallel != "none" else 2
