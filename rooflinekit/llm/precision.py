"""LLM precisions: the weight format of the linear layers, the base float type and the KV-cache type, chosen apart.

A :class:`WeightFormat` types the **linear layers of the blocks** (``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``,
``gate_proj``, ``up_proj``, ``down_proj`` and the MoE experts' projections). Everything else -- embeddings, LM head,
norms, the attention score and context matmuls, the activations between layers -- stays at the **base** float
type (fp16, bf16 or fp32), as W4A16 (AWQ, GPTQ), W8A8 (SmoothQuant) and FP8 checkpoints of TensorRT-LLM and vLLM keep
them. The **KV cache** has its own type (fp16, bf16, fp32, fp8 or int8).

Unset, the weights and the base type are the model's own float type (``default`` of :func:`llm_precision`: a
config's ``torch_dtype``, fp16 when it has none), as its checkpoint stores them.

Bytes per quantized weight::

    bytes_per_weight = bits / 8 + scale_bytes / group_size

one ``scale_bytes`` scale (fp16: 2 bytes) per ``group_size`` weights; W4A16 with groups of 128 stores
0.5 + 2/128 = 0.515625 bytes per weight. Formats with per-tensor or per-channel scales (fp8, int8 W8A8, int8
weight-only) count no scale bytes: one scale per output channel of a 4096-wide layer is 2/4096 = 0.05 % more.

The arithmetic runs in the wider of the weight and activation types (:attr:`~rooflinekit.descriptors.Precision.
compute`): W8A8 int8 and fp8 at the device's int8 / fp8 peak, weight-only formats at the base float peak (the
weights are dequantized in the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rooflinekit.descriptors import DType, Precision
from rooflinekit.errors import PrecisionError

LINEAR_PARTS = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
"""Last part of the names of the layers a weight format applies to (``blocks.3.experts.up_proj`` included)."""

BASE_TYPES = (DType.FP16, DType.BF16, DType.FP32)
"""Float types a model runs at: the base type, and the unquantized weight formats."""
KV_TYPES = (DType.FP16, DType.BF16, DType.FP32, DType.FP8, DType.INT8)


@dataclass(frozen=True)
class WeightFormat:
    """How the blocks' linear layers store their weights and what their inputs are.

    Attributes
    ----------
    name : str
        Catalog name (``"int4"``, ``"w8a16"``, ...).
    weights : DType
        Storage type of a weight.
    activations : DType or None
        Type of the layer's input activations; None: the base float type (weight-only quantization).
    group_size : int or None
        Weights sharing one scale; None: per-tensor or per-channel scales, not counted.
    scale_bytes : float
        Bytes of one scale (fp16: 2).
    description : str
        One line for listings.
    """

    name: str
    weights: DType
    activations: DType | None
    group_size: int | None
    scale_bytes: float
    description: str

    @property
    def bytes_per_weight(self) -> float:
        """``bits / 8 + scale_bytes / group_size`` (bytes), the second term only with groups."""
        scales = self.scale_bytes / self.group_size if self.group_size else 0.0
        return self.weights.bits / 8 + scales

    @property
    def scheme(self) -> str:
        """``W4A16`` style: bits of the weights and of the linear layers' inputs (A16: the base float type)."""
        return f"W{self.weights.bits}A{self.activations.bits if self.activations else 16}"

    @property
    def label(self) -> str:
        """``int4 (W4A16, group 128)``; an unquantized float format is its name alone."""
        if self.weights in BASE_TYPES:
            return self.name
        groups = f", group {self.group_size}" if self.group_size else ""
        return f"{self.name} ({self.scheme}{groups})"


WEIGHT_FORMATS: dict[str, WeightFormat] = {f.name: f for f in (
    WeightFormat("fp16", DType.FP16, None, None, 0.0, "16-bit float weights and activations"),
    WeightFormat("bf16", DType.BF16, None, None, 0.0, "bfloat16 weights and activations"),
    WeightFormat("fp32", DType.FP32, None, None, 0.0, "32-bit float weights and activations"),
    WeightFormat("fp8", DType.FP8, DType.FP8, None, 0.0, "W8A8 fp8, per-tensor scales"),
    WeightFormat("int8", DType.INT8, DType.INT8, None, 0.0, "W8A8 int8 (SmoothQuant), per-channel scales"),
    WeightFormat("w8a16", DType.INT8, None, None, 0.0, "weight-only int8, per-channel scales"),
    WeightFormat("int4", DType.INT4, None, 128, 2.0, "W4A16 weight-only int4 (AWQ/GPTQ), fp16 scales"),
)}
"""The weight formats by name; ``w4a16`` is another name of ``int4``, ``w8a8`` of ``int8``."""

_FORMAT_ALIASES = {"w4a16": "int4", "w8a8": "int8", "int8wo": "w8a16", "int8weightonly": "w8a16",
                   "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "w16a16": "fp16",
                   "float32": "fp32", "float": "fp32"}


def weight_format(value: str | WeightFormat, group_size: int | None = None) -> WeightFormat:
    """The weight format called ``value`` (``fp16``, ``bf16``, ``fp8``, ``int8``, ``w8a16``, ``int4``/``w4a16``).

    Parameters
    ----------
    value : str or WeightFormat
        A name, or a format used as it is.
    group_size : int, optional
        Weights per scale, for a grouped format (int4); default its own (128).

    Raises
    ------
    PrecisionError
        An unknown name (the known ones are listed), or a group size for a format without groups or below 1.
    """
    if isinstance(value, WeightFormat):
        fmt = value
    else:
        key = str(value).strip().lower().replace("-", "").replace("_", "")
        key = _FORMAT_ALIASES.get(key, key)
        if key not in WEIGHT_FORMATS:
            raise PrecisionError(f"unknown weight format {value!r}; use one of {', '.join(WEIGHT_FORMATS)} "
                                 "(w4a16 = int4, w8a8 = int8)")
        fmt = WEIGHT_FORMATS[key]
    if group_size is None:
        return fmt
    if fmt.group_size is None:
        raise PrecisionError(f"weight format {fmt.name!r} has no scale groups; a group size applies to int4 (W4A16): "
                             "add --weights int4 (weights='int4' in Python) or drop the group size")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise PrecisionError(f"group size must be a positive integer, got {group_size!r}; 128 is the usual one")
    return replace(fmt, group_size=group_size)


@dataclass(frozen=True)
class LLMPrecision:
    """Weight format, base float type and KV-cache type of one LLM prediction.

    Attributes
    ----------
    weights : WeightFormat
        Format of the blocks' linear layers.
    base : DType
        fp16, bf16 or fp32: every other tensor.
    kv : DType
        Type of the KV cache (fp16, bf16, fp32, fp8, int8).
    """

    weights: WeightFormat
    base: DType
    kv: DType

    @property
    def linear(self) -> Precision:
        """Precision of the linear layers: the format's weights, its activations or the base type."""
        return Precision(weights=self.weights.weights, activations=self.weights.activations or self.base)

    @property
    def other(self) -> Precision:
        """Precision of every other layer: the base type."""
        return Precision(weights=self.base, activations=self.base)

    @property
    def label(self) -> str:
        """``weights int4 (...), base fp16, KV fp8``."""
        return f"weights {self.weights.label}, base {self.base.value}, KV {self.kv.value}"


def llm_precision(weights: str | WeightFormat | None = None, kv: str | DType | None = None,
                  base: str | DType | None = None, group_size: int | None = None,
                  default: DType = DType.FP16) -> LLMPrecision:
    """Resolve the three precisions of an LLM prediction.

    Parameters
    ----------
    weights : str or WeightFormat, optional
        Weight format (see :func:`weight_format`); default the base type when given, else ``default``.
    kv : str or DType, optional
        KV-cache type: fp16, bf16, fp32, fp8 or int8; default the base type.
    base : str or DType, optional
        fp16, bf16 or fp32; default the weights' type for an unquantized float format (fp16, bf16, fp32), else
        ``default`` when it is a 16-bit type, else fp16 (the A16 of a quantized format).
    group_size : int, optional
        Weights per scale of a grouped format.
    default : DType
        The model's own float type (fp16, bf16 or fp32), used where ``weights`` and ``base`` are unset.

    Raises
    ------
    PrecisionError
        An unknown name, a base type other than fp16/bf16/fp32 or a KV type other than fp16/bf16/fp32/fp8/int8.
    """
    if default not in BASE_TYPES:
        raise PrecisionError(f"model type {default.value!r} is not a float type; use one of "
                             f"{', '.join(d.value for d in BASE_TYPES)}")
    base_given = DType.parse(base) if base is not None else None
    if base_given is not None and base_given not in BASE_TYPES:  # before it is read as a weight format
        raise PrecisionError(f"base precision {base_given.value!r} is not a float type of a model; use one of "
                             f"{', '.join(d.value for d in BASE_TYPES)}")
    fmt = weight_format(weights if weights is not None else (base_given or default).value, group_size)
    if base_given is not None:
        base_type = base_given
    elif fmt.weights in BASE_TYPES:
        base_type = fmt.weights
    else:  # default is one of BASE_TYPES (checked above), so the base is too
        base_type = default if default.bits == 16 else DType.FP16
    kv_type = DType.parse(kv) if kv is not None else base_type
    if kv_type not in KV_TYPES:
        raise PrecisionError(f"KV-cache type {kv_type.value!r} is not supported; use one of "
                             f"{', '.join(d.value for d in KV_TYPES)}")
    return LLMPrecision(weights=fmt, base=base_type, kv=kv_type)
