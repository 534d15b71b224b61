"""Hardware descriptors: compute engines, memory levels, clock, power.

Peaks are dense ops/s with 1 MAC = 2 ops, as in datasheets. A data type missing from ``peak_ops_per_s`` is not
native on the device ('na'), which is different from zero.

A device is one or more **compute engines** (:class:`ComputeEngine`: peaks per data type, the op classes it
runs, the memory levels it reaches, a fixed overhead per kernel) and **memory levels** (:class:`MemoryLevel`:
capacity, bandwidth, the tensor roles it stores). A spec with a top-level ``peak_ops_per_s`` and no ``engines``
is one engine that runs everything and reaches every level. With ``engines``, the device's
``peak_ops_per_s`` is the sum of its engines' peaks per data type (the datasheet total), and
``engine_policy`` states how work is split:

- ``op_class``: each layer runs on the first listed engine that runs its op class and has a peak for its data
  type (an NPU first, its host CPU for the rest); the layers run one after another.
- ``batch_split``: the frames of a batch are divided among the engines that can run the whole network so that
  the batch finishes first (Jetson AGX Orin: GPU + 2 DLAs; see :mod:`rooflinekit.roofline.predictor`).

Tensor roles: ``weights`` (constants), ``activations`` (layer inputs and outputs) and ``state`` (tensors kept
across steps: KV cache, RNN state). Each role lives in the level that stores it; with no level storing ``state``
it lives with the activations. A level with ``spill_to`` holds what fits of its weights and streams the rest from
the named level (an Edge TPU's parameter cache backed by its host link).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Any, Collection, Literal, Mapping, Self

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from rooflinekit.descriptors._base import Bytes, BytesPerS, Frozen, Hertz, PeakTable, Seconds, Watts
from rooflinekit.descriptors._frozen import FrozenDict
from rooflinekit.descriptors.dtypes import DType
from rooflinekit.descriptors.ops import OpClass, OpKind
from rooflinekit.errors import PrecisionError

TensorRole = Literal["weights", "activations", "state"]
TENSOR_ROLES: tuple[TensorRole, ...] = ("weights", "activations", "state")
EnginePolicy = Literal["op_class", "batch_split"]


def _parse_dtype(value: object) -> object:
    """A data-type name in any spelling (``FP16``, ``half``) as its :class:`DType`."""
    return DType.parse(value) if isinstance(value, str) else value


def _roles_list(value: object) -> object:
    """``stores`` as given; a bare string (``stores: weights`` or ``stores: weights, activations`` in YAML, a scalar
    rather than a list) is refused with the bracketed list to write instead."""
    if not isinstance(value, str):
        return value
    words = [word.strip() for word in value.split(",")]
    example = ", ".join(words) if all(word in TENSOR_ROLES for word in words) else "weights, activations"
    raise ValueError(f"must be a list of tensor roles ({', '.join(TENSOR_ROLES)}) in brackets, e.g. [{example}]; "
                     f"got {value!r}")


_OP_CLASS_NAMES = tuple(c.value for c in OpClass)


def _parse_op_class(value: object) -> object:
    """An op-class name in any case (``Conv``, ``GEMM``) as its :class:`~rooflinekit.descriptors.ops.OpClass`
    value; an op kind (``matmul``, the class of which is ``gemm``) or an unknown name is refused, naming the
    classes, so that a misspelt class does not silently keep the engine from running those layers."""
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    if name in _OP_CLASS_NAMES:
        return name
    kind = OpKind.parse(name)
    problem = (f"{value!r} is an op kind, of op class {kind.op_class.value!r}" if kind is not None
               else f"unknown op class {value!r}")
    raise ValueError(f"{problem}; op_classes lists op classes: {', '.join(_OP_CLASS_NAMES)}")


OpClassName = Annotated[str, BeforeValidator(_parse_op_class),
                        WithJsonSchema({"type": "string", "enum": list(_OP_CLASS_NAMES)})]
"""An :class:`~rooflinekit.descriptors.ops.OpClass` value, written in any case."""


class HardwareKind(str, Enum):
    FPGA = "FPGA"
    GPU = "GPU"
    TPU = "TPU"
    VPU = "VPU"
    NPU = "NPU"
    CPU = "CPU"
    MCU = "MCU"
    DSP = "DSP"

    @classmethod
    def _missing_(cls, value: object) -> "HardwareKind | None":
        """Any case: ``npu`` and ``Npu`` are ``NPU``."""
        if isinstance(value, str):
            return cls.__members__.get(value.strip().upper())
        return None


class _HardwareDescriptor(Frozen):
    """A hardware descriptor whose :meth:`model_copy` validates what it changes."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with the fields of ``update`` replaced, validated as the constructor validates them (pydantic's
        own ``model_copy`` stores them unchecked, so a unit string, a negative bandwidth or an unknown field would
        reach the roofline): :class:`~rooflinekit.errors.SpecError` on bad input. With ``update`` the copy is built
        anew and ``deep`` changes nothing (descriptors are immutable); without it, pydantic's copy."""
        if not update:
            return super().model_copy(deep=deep)
        return self.model_validate({**self._kept_fields(update), **update})

    def _kept_fields(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """The fields given to this descriptor that a copy with ``update`` keeps (all of them here)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class MemoryLevel(_HardwareDescriptor):
    """One memory level, e.g. DRAM, on-chip SRAM or MCU flash.

    ``stores`` names the tensor roles that live there by default (MCUs: weights in flash, activations in SRAM).
    ``spill_to`` names the level that holds the weights beyond this level's capacity; they are streamed from
    there at its bandwidth (an Edge TPU's 8 MB parameter cache backed by its USB or PCIe link).
    """

    name: str = Field(min_length=1, description="name of the level, unique in the spec (DRAM, SRAM, flash); "
                                                "engines' memories and spill_to refer to it")
    capacity_bytes: Bytes = Field(description="capacity [bytes]: a number, or a string with a unit ('512 KiB', "
                                              "'8 GB')")
    bandwidth_bytes_per_s: BytesPerS = Field(description="bandwidth of reads and writes [bytes/s]: a number, or a "
                                                         "string with a unit ('19.2 GB/s')")
    on_chip: bool = Field(default=False, description="whether the level is on the die (SRAM, on-chip flash); where "
                                                     "several levels store the weights the off-chip one holds them, "
                                                     "and traffic 'on_chip_if_fits' keeps a layer that fits the "
                                                     "largest on-chip level off the others")
    stores: Annotated[tuple[TensorRole, ...], BeforeValidator(_roles_list)] = Field(
        default=("weights", "activations"),
        description="the tensor roles that live in this level, a list of weights, activations, state (an MCU: "
                    "[weights] in flash, [activations] in SRAM)")
    spill_to: str | None = Field(default=None, description="name of another level that holds the weights beyond "
                                                           "this level's capacity, streamed from there at its "
                                                           "bandwidth (an Edge TPU's parameter cache backed by its "
                                                           "host link); none: no spill")
    source: str = Field(min_length=1, description="where the level's numbers come from (datasheet, manual, "
                                                  "measurement)")


class ComputeEngine(_HardwareDescriptor):
    """One compute engine of a device: a GPU, a DLA, an NPU, a CPU cluster, an Edge TPU.

    ``op_classes`` lists the op classes (:class:`~rooflinekit.descriptors.ops.OpClass` values: ``conv``,
    ``gemm``, ...; not op kinds such as ``matmul``) it runs; empty means every class. ``memories`` names the
    levels it reaches; empty means every level. ``kernel_overhead_s`` is a fixed time per kernel (a layer, or a
    fused chain of layers) in seconds, a finite number >= 0 or a string with a unit (``5 us``).
    """

    name: str = Field(min_length=1, description="name of the engine, unique in the spec (GPU, DLA0, NPU, CPU)")
    peak_ops_per_s: PeakTable = Field(min_length=1, description="the engine's peak per data type [ops/s, dense, "
                                                                "1 MAC = 2 ops]: a number, or a string with a unit "
                                                                "('26 TOPS', '13 TMAC/s'); a type not listed is not "
                                                                "native")
    op_classes: tuple[OpClassName, ...] = Field(default=(), description="the op classes the engine runs (conv, "
                                                                        "gemm, ...; not op kinds such as matmul); "
                                                                        "empty: every class")
    memories: tuple[str, ...] = Field(default=(), description="names of the memory levels the engine reaches; "
                                                              "empty: every level")
    kernel_overhead_s: Seconds = Field(default=0.0, description="fixed time per kernel (a layer, or a fused chain "
                                                                "of layers) [s]: a number >= 0, or a string with a "
                                                                "unit ('5 us')")
    source: str = Field(min_length=1, description="where the engine's numbers come from (datasheet, manual, "
                                                  "measurement)")

    def runs(self, op_class: str | None, dtype: DType) -> bool:
        """Whether this engine runs a layer of ``op_class`` (None: unknown class) computing in ``dtype`` (natively,
        or bounded by another type's peak, :func:`bounding_dtype`)."""
        if bounding_dtype(dtype, self.peak_ops_per_s) is None:
            return False
        return not self.op_classes or op_class is None or op_class in self.op_classes

    def peak_for(self, dtype: DType) -> float:
        """Peak ops/s of layers computing in ``dtype``: that of :func:`bounding_dtype` (``KeyError`` where the
        engine has none; :meth:`runs` says whether it has)."""
        bound = bounding_dtype(dtype, self.peak_ops_per_s)
        if bound is None:
            raise KeyError(dtype)
        return self.peak_ops_per_s[bound]


WIDE_INTEGERS = frozenset({DType.INT32, DType.INT64})
"""Integer types whose layers a device without a native peak for them runs at most at its fp32 rate
(:func:`bounding_dtype`)."""


def bounding_dtype(dtype: DType, native: Collection[DType]) -> DType | None:
    """The data type whose peak bounds layers computing in ``dtype`` on an engine with peaks for ``native``.

    ``dtype`` itself where it is native. A 32- or 64-bit integer (:data:`WIDE_INTEGERS`) without a peak of its own
    is bounded by the fp32 peak where that is native: the live index and shape arithmetic of a float graph (an
    int64 ``Equal``, ``Add`` or ``Range``) runs on the lanes that run fp32, and no faster. On NVIDIA GPUs the 32-bit
    integer add, compare and multiply-add rates per SM are at most the fp32 FMA rate (CUDA C++ Programming Guide,
    arithmetic instruction throughput), and 64-bit integer arithmetic is made of several 32-bit instructions; on
    CPUs a SIMD register holds as many 32-bit integers as fp32 values and half as many 64-bit ones, and the fp32
    peak counts an FMA as two ops. Costed at the fp32 peak, such layers keep the roofline a bound (the prediction
    says so, :func:`rooflinekit.api.predict`), where refusing them re-typed the whole network. None otherwise
    (the type has no peak there).
    """
    if dtype in native:
        return dtype
    if dtype in WIDE_INTEGERS and DType.FP32 in native:
        return DType.FP32
    return None


class Interconnect(_HardwareDescriptor):
    """The links between the identical devices of a multi-device system (NVLink, PCIe), for tensor and pipeline
    parallelism (:mod:`rooflinekit.llm`).

    ``bandwidth_bytes_per_s`` is what **one device sends in one direction** at the same time as it receives as
    much (bytes/s): NVLink 4 on an H100 SXM is 18 links x 25 GB/s = 450 GB/s per direction, the datasheet's
    "900 GB/s" being both directions added. ``latency_s`` is the fixed cost of one transfer step (s). A ring
    all-reduce of ``n`` bytes over N devices then takes ``2 (N-1)/N x n / bandwidth + 2 (N-1) x latency``.
    ``devices`` is how many devices the system holds; the spec's peaks and memories are **one device's**.

    ``member`` (optional) is the catalog name of that device (``A100-SXM4-80GB`` in a DGX A100). The system's
    per-device fields (:data:`SYSTEM_FIELDS` aside: peaks, memories, clock, TDP, kind, family, ...) must then equal
    the member's: loading a spec from a file or the catalog checks it (:func:`rooflinekit.catalog.check_member`)
    and a calibrated prediction is keyed as that device. The spec still gives those fields itself: a spec is
    whole without the catalog.
    """

    name: str = Field(min_length=1, description="name of the link (NVLink 4, PCIe 5 x16)")
    devices: int = Field(ge=2, description="number of identical devices in the system, >= 2; the spec's peaks and "
                                           "memories are one device's")
    bandwidth_bytes_per_s: BytesPerS = Field(description="what one device sends in one direction while receiving "
                                                         "as much [bytes/s]: a number, or a string with a unit (an "
                                                         "H100 SXM's NVLink 4: '450 GB/s', half the datasheet's "
                                                         "900 GB/s of both directions)")
    latency_s: Seconds = Field(description="fixed cost of one transfer step [s]: a number, or a string with a unit "
                                           "('5 us')")
    source: str = Field(min_length=1, description="where the link's numbers come from (datasheet, manual, "
                                                  "measurement)")
    member: str | None = Field(default=None, min_length=1,
                               description="catalog name of the device the system is made of ('A100-SXM4-80GB'); "
                                           "the spec's per-device fields (peaks, memories, clock, TDP, kind, "
                                           "family, ...) must equal that device's, which loading checks, and a "
                                           "calibrated prediction is keyed as it; none: the device whose fields "
                                           "match, if exactly one does")


class HardwareSpec(_HardwareDescriptor):
    """A device, or one operating mode of a device (TX2 maxn, EdgeTPU fast, ...).

    ``default_precision`` (optional, one of the device's peak data types) is the type a prediction uses when
    the caller gives no precision and the network's own type has no peak on the device; the prediction's
    ``notes`` say so. ``compute_units`` (optional) is the number of identical parallel units the peak is spread
    over (a GPU's streaming multiprocessors); size-dependent utilization models (tile waves, work per unit) use it.
    """

    name: str = Field(min_length=1, description="the device's name (with its operating mode: 'TX2-maxn'), as "
                                                "tables and catalog lookups show it")
    kind: HardwareKind = Field(description="device kind; a calibrated prediction takes the shipped calibration of "
                                           "its kind (MCU: MLPerf Tiny; GPU, NPU: MLPerf Inference)")
    peak_ops_per_s: PeakTable = Field(default_factory=FrozenDict,
                                      description="peak per data type [ops/s, dense, 1 MAC = 2 ops]: a number, or a "
                                                  "string with a unit ('4.6 TOPS'); a type not listed is not native "
                                                  "(which differs from 0). With engines, leave it out: it is the "
                                                  "sum of theirs")
    memories: tuple[MemoryLevel, ...] = Field(min_length=1, description="the memory levels, at least one; some "
                                                                        "level must store weights and some "
                                                                        "activations")
    engines: tuple[ComputeEngine, ...] = Field(default=(), description="the compute engines; empty: one engine "
                                                                       "with peak_ops_per_s that runs every op "
                                                                       "class and reaches every level")
    engine_policy: EnginePolicy = Field(default="op_class",
                                        description="how work is split among the engines: op_class (each layer on "
                                                    "the first listed engine that runs its op class and data type) "
                                                    "or batch_split (a batch's frames divided among the engines)")
    clock_hz: Hertz | None = Field(default=None, description="core clock [Hz]: a number, or a string with a unit "
                                                             "('216 MHz'); the peaks are given, not derived from "
                                                             "it, but calibrated GPU LLM predictions and a "
                                                             "hardware grid's clock_scale use it")
    tdp_w: Watts | None = Field(default=None, description="thermal design power [W]: a number, or a string with a "
                                                          "unit ('15 W'); tables give fps per watt from it")
    idle_power_w: Watts | None = Field(default=None, description="power drawn when idle [W], at most tdp_w: a "
                                                                 "number, or a string with a unit ('0.5 W'); "
                                                                 "recorded, no prediction uses it")
    core_type: str | None = Field(default=None, description="the processor core ('Cortex-M7'; an FPU suffix, "
                                                            "'Cortex-M4F', is dropped): the core family of a "
                                                            "calibrated MCU prediction, none meaning the spec's "
                                                            "kind, which no calibration record has. The core "
                                                            "families the shipped Cortex-M calibration knows are "
                                                            "the keys of coefficients.core_family in "
                                                            "rooflinekit/calibrations/mlperf_tiny_cortex_m.json "
                                                            "(a calibrated prediction for another core warns, "
                                                            "listing them); the catalog's boards show theirs in "
                                                            "'rooflinekit hardware list --format json'")
    compute_units: int | None = Field(default=None, ge=1,
                                      description="number of identical parallel units the peak is spread over (a "
                                                  "GPU's streaming multiprocessors), >= 1; size-dependent "
                                                  "utilization models use it")
    default_precision: Annotated[DType | None, BeforeValidator(_parse_dtype)] = Field(
        default=None, description="the data type a prediction uses when none is given and the network's own type "
                                  "has no peak on the device; one of the types of peak_ops_per_s")
    family: str | None = Field(default=None, description="product family or architecture (free text: 'STM32F7', "
                                                         "'Ampere', 'Jetson'); a calibrated GPU or NPU prediction "
                                                         "keys its core family on it (none: on the spec's kind)")
    operating_mode: str | None = Field(default=None, description="the operating mode this spec describes (free "
                                                                 "text: 'maxn', 'fast')")
    aliases: tuple[str, ...] = Field(default=(), description="other names the catalog finds the device by "
                                                             "(compared in any case, on their letters, digits and "
                                                             "dots only)")
    source: str = Field(min_length=1, description="where the spec's numbers come from (datasheets, manuals, "
                                                  "measurements)")
    notes: str | None = Field(default=None, description="free text: derivations, what is not modelled")
    interconnect: Interconnect | None = Field(default=None, description="the links between the identical devices "
                                                                        "of a multi-device system; none: one "
                                                                        "device")

    @model_validator(mode="before")
    @classmethod
    def _total_peak(cls, data: object) -> object:
        """With ``engines`` and no top-level peak, the device peak is the sum of the engines' peaks."""
        if not isinstance(data, dict) or not data.get("engines") or data.get("peak_ops_per_s"):
            return data
        try:
            engines = [e if isinstance(e, ComputeEngine) else ComputeEngine.model_validate(e) for e in data["engines"]]
        except ValueError:  # the field validation reports the bad engine
            return data
        total: dict[DType, float] = {}
        for engine in engines:
            for dtype, peak in engine.peak_ops_per_s.items():
                total[dtype] = total.get(dtype, 0.0) + peak
        return {**data, "engines": engines, "peak_ops_per_s": total}

    @model_validator(mode="after")
    def _check_consistency(self) -> "HardwareSpec":
        names = [m.name for m in self.memories]
        if len(set(names)) != len(names):
            raise ValueError(f"memory level names must be unique, got {names}")
        if not self.peak_ops_per_s:
            raise ValueError("peak_ops_per_s is empty; give the peak per data type, or 'engines' with theirs")
        for role in ("weights", "activations"):
            if not any(role in m.stores for m in self.memories):
                raise ValueError(f"no memory level stores {role}; add {role!r} to one level's 'stores'")
        for level in self.memories:
            if level.spill_to is not None and level.spill_to not in names or level.spill_to == level.name:
                raise ValueError(f"memory level {level.name!r}: spill_to {level.spill_to!r} must name another level "
                                 f"of {names}")
            if level.spill_to is not None and "weights" not in level.stores:
                raise ValueError(f"memory level {level.name!r}: spill_to {level.spill_to!r} streams the weights that "
                                 "do not fit, but the level does not store weights; add 'weights' to its stores or "
                                 "remove spill_to")
        spills = {m.name: m.spill_to for m in self.memories if m.spill_to is not None}
        for start in spills:
            chain = [start]
            while chain[-1] in spills and spills[chain[-1]] not in chain:
                chain.append(spills[chain[-1]])
            if chain[-1] in spills:
                raise ValueError(f"memory levels spill in a loop ({' -> '.join([*chain, spills[chain[-1]]])}); the "
                                 "last level of a spill_to chain must not spill")
        engine_names = [e.name for e in self.engines]
        if len(set(engine_names)) != len(engine_names):
            raise ValueError(f"engine names must be unique, got {engine_names}")
        for engine in self.engines:
            unknown = sorted(set(engine.memories) - set(names))
            if unknown:
                raise ValueError(f"engine {engine.name!r} reaches unknown memory levels {unknown}; levels are {names}")
        if self.engines:
            total = {d: sum(e.peak_ops_per_s.get(d, 0.0) for e in self.engines)
                     for e in self.engines for d in e.peak_ops_per_s}
            if total != dict(self.peak_ops_per_s):
                raise ValueError("with engines, peak_ops_per_s is the sum of the engines' peaks; omit it or make "
                                 f"it {{{', '.join(f'{d.value}: {p:g}' for d, p in total.items())}}}")
        if self.default_precision is not None and self.default_precision not in self.peak_ops_per_s:
            raise ValueError(f"default_precision {self.default_precision.value!r} has no peak; use one of "
                             f"{', '.join(d.value for d in self.peak_ops_per_s)}")
        if self.idle_power_w is not None and self.tdp_w is not None and self.idle_power_w > self.tdp_w:
            raise ValueError(f"idle_power_w {self.idle_power_w} exceeds tdp_w {self.tdp_w}")
        return self

    def _kept_fields(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """The fields a copy with ``update`` keeps; new ``engines`` without a new ``peak_ops_per_s`` drop the old
        total, so that the copy's device peak is the sum of its new engines' peaks."""
        kept = super()._kept_fields(update)
        if "engines" in update and "peak_ops_per_s" not in update:
            kept.pop("peak_ops_per_s", None)
        return kept

    @property
    def compute_engines(self) -> tuple[ComputeEngine, ...]:
        """The engines; a spec without ``engines`` is one engine named after the device that runs everything."""
        if self.engines:
            return self.engines
        return (ComputeEngine(name=self.name, peak_ops_per_s=self.peak_ops_per_s, source=self.source),)

    def peak(self, dtype: DType | str) -> float:
        """Peak ops/s for ``dtype``; :class:`PrecisionError` when the type is not native."""
        dt = DType.parse(dtype)
        if dt not in self.peak_ops_per_s:
            native = [d.value for d in self.peak_ops_per_s]
            raise PrecisionError(f"{self.name} has no native {dt.value} peak; it supports {', '.join(native)}",
                                 precision=dt.value, hardware=self.name, supported=native)
        return self.peak_ops_per_s[dt]

    def memory_for(self, role: TensorRole, engine: ComputeEngine | None = None) -> MemoryLevel:
        """The level holding ``role`` tensors for ``engine`` (None: the whole device).

        Among the levels the engine reaches that store the role: the first off-chip one, else the first one.
        For weights, a level that another such level spills to (``spill_to``) is passed over: the spilling level
        holds them and only what does not fit is streamed from it (an on-chip parameter cache before the DRAM or
        host link behind it). ``state`` without a level of its own lives with the activations; a role no reachable
        level stores lives in the engine's first reachable level.
        """
        reachable = self.reachable_memories(engine)
        holders = [m for m in reachable if role in m.stores]
        if role == "weights":
            targets = {m.spill_to for m in holders}
            holders = [m for m in holders if m.name not in targets]
        if not holders and role == "state":
            return self.memory_for("activations", engine)
        off_chip = [m for m in holders if not m.on_chip]
        return (off_chip or holders or list(reachable))[0]

    def reachable_memories(self, engine: ComputeEngine | None = None) -> tuple[MemoryLevel, ...]:
        """The memory levels ``engine`` reaches (every level for None or an engine that lists none)."""
        if engine is None or not engine.memories:
            return self.memories
        return tuple(m for m in self.memories if m.name in engine.memories)

    def largest_on_chip(self, engine: ComputeEngine | None = None) -> MemoryLevel | None:
        """The on-chip level with the largest capacity that ``engine`` reaches, or None when there is none."""
        on_chip = [m for m in self.reachable_memories(engine) if m.on_chip]
        return max(on_chip, key=lambda m: m.capacity_bytes) if on_chip else None


SYSTEM_FIELDS = frozenset({"name", "aliases", "source", "notes", "interconnect"})
"""The :class:`HardwareSpec` fields that describe a multi-device system rather than its device: every other field
(and a memory level's or engine's every field but ``source``) is the member device's."""


def device_differences(system: HardwareSpec, member: HardwareSpec) -> list[tuple[str, Any, Any]]:
    """Where ``system`` (a spec of several identical devices) says of one device something other than ``member``.

    Every field but :data:`SYSTEM_FIELDS` is compared, memory levels and engines by position and without their
    ``source``, peaks per data type (a type one of them lists and the other does not differs). Numbers are equal
    within a relative 1e-9, so that one quantity written in two units (``1248 TOPS``, ``1.248 POPS``) agrees.

    Parameters
    ----------
    system, member : HardwareSpec
        The system and the device it names as its ``interconnect.member``.

    Returns
    -------
    list of (str, object, object)
        ``(field, system's value, member's value)`` per difference, the field dotted (``peak_ops_per_s.int4``,
        ``memories.0.bandwidth_bytes_per_s``), values in SI units as JSON gives them, None where a field is not
        given; empty when the two agree.
    """
    found: list[tuple[str, Any, Any]] = []
    _differences("", _device_view(system), _device_view(member), found)
    return found


def _device_view(spec: HardwareSpec) -> dict[str, Any]:
    """``spec``'s device fields as JSON values, its memories' and engines' sources left out."""
    view = spec.model_dump(mode="json", exclude=set(SYSTEM_FIELDS))
    for part in ("memories", "engines"):
        view[part] = [{key: value for key, value in item.items() if key != "source"} for item in view[part]]
    return view


def _differences(field: str, mine: Any, theirs: Any, found: list[tuple[str, Any, Any]]) -> None:
    """Append to ``found`` each leaf where ``mine`` and ``theirs`` differ (mappings by key, equally long lists of
    mappings by position)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in dict.fromkeys([*mine, *theirs]):
            _differences(f"{field}.{key}" if field else key, mine.get(key), theirs.get(key), found)
    elif (isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs)
          and all(isinstance(item, dict) for item in [*mine, *theirs])):
        for position, (a, b) in enumerate(zip(mine, theirs)):
            _differences(f"{field}.{position}", a, b, found)
    elif not _same(mine, theirs):
        found.append((field, mine, theirs))


def _same(a: Any, b: Any) -> bool:
    """Equal, numbers within a relative 1e-9 (booleans exactly)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b)
