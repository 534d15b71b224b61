"""Hardware descriptors: peak throughput per data type, memory levels, clock, power.

Peaks are dense ops/s with 1 MAC = 2 ops, as in datasheets. A data type missing from ``peak_ops_per_s`` is not
native on the device ('na'), which is different from zero.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field, model_validator

from rooflinekit.descriptors._base import Bytes, BytesPerS, Frozen, Hertz, PeakTable, Watts
from rooflinekit.descriptors.dtypes import DType
from rooflinekit.errors import PrecisionError

TensorRole = Literal["weights", "activations"]


class HardwareKind(str, Enum):
    FPGA = "FPGA"
    GPU = "GPU"
    TPU = "TPU"
    VPU = "VPU"
    NPU = "NPU"
    CPU = "CPU"
    MCU = "MCU"
    DSP = "DSP"


class MemoryLevel(Frozen):
    """One memory level, e.g. DRAM, on-chip SRAM or MCU flash.

    ``stores`` names the tensors that live there by default (MCUs: weights in flash, activations in SRAM).
    """

    name: str = Field(min_length=1)
    capacity_bytes: Bytes
    bandwidth_bytes_per_s: BytesPerS
    on_chip: bool = False
    stores: tuple[TensorRole, ...] = ("weights", "activations")
    source: str = Field(min_length=1)


class HardwareSpec(Frozen):
    """A device, or one operating mode of a device (TX2 maxn, EdgeTPU fast, ...)."""

    name: str = Field(min_length=1)
    kind: HardwareKind
    peak_ops_per_s: PeakTable = Field(min_length=1)
    memories: tuple[MemoryLevel, ...] = Field(min_length=1)
    clock_hz: Hertz | None = None
    tdp_w: Watts | None = None
    idle_power_w: Watts | None = None
    core_type: str | None = None
    family: str | None = None
    operating_mode: str | None = None
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=1)
    notes: str | None = None


    @model_validator(mode="after")
    def _check_consistency(self) -> "HardwareSpec":
        names = [m.name for m in self.memories]
        if len(set(names)) != len(names):
            raise ValueError(f"memory level names must be unique, got {names}")
        for role in ("weights", "activations"):
            if not any(role in m.stores for m in self.memories):
                raise ValueError(f"no memory level stores {role}; add {role!r} to one level's 'stores'")
        if self.idle_power_w is not None and self.tdp_w is not None and self.idle_power_w > self.tdp_w:
            raise ValueError(f"idle_power_w {self.idle_power_w} exceeds tdp_w {self.tdp_w}")
        return self

    def peak(self, dtype: DType | str) -> float:
        """Peak ops/s for ``dtype``; :class:`PrecisionError` when the type is not native."""
        dt = DType.parse(dtype)
        if dt not in self.peak_ops_per_s:
            native = ", ".join(d.value for d in self.peak_ops_per_s)
            raise PrecisionError(f"{self.name} has no native {dt.value} peak; it supports {native}")
        return self.peak_ops_per_s[dt]

    def memory_for(self, role: TensorRole) -> MemoryLevel:
        """The level holding ``role`` tensors: the first off-chip one that stores them, else the first one."""
        holders = [m for m in self.memories if role in m.stores]
        off_chip = [m for m in holders if not m.on_chip]
        return (off_chip or holders)[0]

    @property
    def largest_on_chip(self) -> MemoryLevel | None:
        """The on-chip level with the largest capacity, or None when every level is off chip."""
        on_chip = [m for m in self.memories if m.on_chip]
        return max(on_chip, key=lambda m: m.capacity_bytes) if on_chip else None
