"""Typed attributes of the main op kinds: what ``Layer.attrs`` holds, the same for every importer.

``Layer.attrs`` stays a plain dict (catalog YAML files write it as a mapping), but for a kind listed in the table
below :class:`~rooflinekit.descriptors.Layer` validates it against the kind's model on construction and stores the
normalized dict: integers as ``int``, lists as tuples, defaults filled, keys whose value is unknown (None) left
out. A key the model does not know is an error. Kinds without a model keep their attrs as given.

Conventions, whatever the source format:

- Spatial lists (``kernel_shape``, ``strides``, ``dilations``, ``output_padding``) have one entry per spatial dim
  in channels-first order: ``(H, W)`` for 2-D, ``(D, H, W)`` for 3-D.
- ``pads`` are ONNX-ordered: every begin, then every end. A window op's ``pads`` cover its spatial dims
  ``(H_begin, W_begin, H_end, W_end)``; a ``pad`` op's cover every dim of its input, channels-first
  ``(N_begin, C_begin, H_begin, W_begin, N_end, C_end, H_end, W_end)``. SAME padding (TFLite, ONNX
  ``auto_pad``) is given as the explicit pads it implies (:func:`same_pads`).
- Axes (``axis``, ``axes``) refer to channels-first dims; importers give them non-negative (a hand-written
  negative axis counts from the end, as in ONNX).
- Every model takes ``fused_activation`` and ``weight_quantization`` (:class:`OpAttrs`), which TFLite stores on
  many operators.

==========================================  ============================
kinds                                       model
==========================================  ============================
conv                                        :class:`ConvAttrs`
conv_transpose                              :class:`ConvTransposeAttrs`
fully_connected, matmul                     :class:`MatMulAttrs`
max_pool, avg_pool                          :class:`PoolAttrs`
lp_pool                                     :class:`LpPoolAttrs`
resize                                      :class:`ResizeAttrs`
reduce_mean, reduce_sum, ... (reduce_*)     :class:`ReduceAttrs`
softmax, log_softmax, hardmax               :class:`SoftmaxAttrs`
concat                                      :class:`ConcatAttrs`
lrn                                         :class:`LrnAttrs`
pad                                         :class:`PadAttrs`
==========================================  ============================

The attributes counters need (``kernel_shape`` of a conv or pool, ``size`` of an lrn) are optional here so that
the counter, not the descriptor, refuses a layer that lacks them: a layer can be described before it is costed.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Mapping, Sequence

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from rooflinekit.descriptors._base import Frozen
from rooflinekit.descriptors._frozen import FrozenDict, deep_freeze
from rooflinekit.errors import SpecError


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, got the boolean {value!r}")
    return value


Int = Annotated[int, BeforeValidator(_no_bool)]
PositiveInt = Annotated[int, BeforeValidator(_no_bool), Field(ge=1)]
NonNegativeInt = Annotated[int, BeforeValidator(_no_bool), Field(ge=0)]
SpatialInts = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]


class OpAttrs(Frozen):
    """Attributes every typed kind accepts.

    Attributes
    ----------
    fused_activation : str or None
        Activation applied to the output inside the same operator (TFLite's fused activation, lower case:
        ``relu``, ``relu6``, ``tanh``, ...); None when there is none. The cost model adds one op per output
        element for it.
    weight_quantization : {"per_tensor", "per_channel"} or None
        How the first weight is quantized (one scale, or one per output channel); None for float weights or when
        the source does not say.
    """

    fused_activation: str | None = None
    weight_quantization: Literal["per_tensor", "per_channel"] | None = None


class _WindowAttrs(OpAttrs):
    """A sliding-window op (convolution, pooling); ``kernel_shape`` gives the number of spatial dims."""

    kernel_shape: SpatialInts | None = None
    strides: tuple[PositiveInt, ...] | None = None
    pads: tuple[NonNegativeInt, ...] | None = None
    dilations: tuple[PositiveInt, ...] | None = None

    _PER_DIM_DEFAULTS: ClassVar[dict[str, int]] = {"strides": 1, "dilations": 1}
    _ENTRIES_PER_DIM: ClassVar[dict[str, int]] = {"strides": 1, "dilations": 1, "pads": 2}

    @model_validator(mode="before")
    @classmethod
    def _fill_per_dim_defaults(cls, data: Any) -> Any:
        """With ``kernel_shape`` known, absent ``strides`` and ``dilations`` are 1 (and ``output_padding`` 0) per
        spatial dim."""
        if isinstance(data, Mapping) and isinstance(data.get("kernel_shape"), (list, tuple)):
            rank = len(data["kernel_shape"])
            data = dict(data)
            for key, default in cls._PER_DIM_DEFAULTS.items():
                if data.get(key) is None:
                    data[key] = (default,) * rank
        return data

    @model_validator(mode="after")
    def _lengths_match_kernel(self) -> "_WindowAttrs":
        if self.kernel_shape is None:
            return self
        rank = len(self.kernel_shape)
        for key, per_dim in self._ENTRIES_PER_DIM.items():
            value = getattr(self, key)
            if value is not None and len(value) != per_dim * rank:
                what = "a begin and an end" if per_dim == 2 else "one entry"
                raise ValueError(f"{key}: kernel_shape {list(self.kernel_shape)} needs {what} per spatial dim "
                                 f"({per_dim * rank} in all), got {len(value)}: {list(value)}")
        return self


class ConvAttrs(_WindowAttrs):
    """Attributes of ``conv`` (ONNX Conv, ConvInteger, QLinearConv; TFLite CONV_2D, DEPTHWISE_CONV_2D).

    Attributes
    ----------
    kernel_shape : tuple of int or None
        Kernel size per spatial dim (``(KH, KW)``), in elements; None when not given (the counter then refuses the
        layer).
    strides : tuple of int
        Step of the window per spatial dim, in input elements; 1 per dim by default.
    pads : tuple of int or None
        Implicit zero padding, ``(begin..., end...)`` per spatial dim, in input elements; SAME padding is given as
        the pads it implies. None when not given (hand-written specs whose output shape already reflects it).
    dilations : tuple of int
        Spacing between kernel taps per spatial dim (1: dense kernel); 1 per dim by default.
    groups : int
        Channel groups: each output channel sees ``C_in / groups`` inputs. A depthwise conv has
        ``groups = C_in`` (and ``C_out = multiplier * C_in``). 1 by default.
    bias : bool or None
        Whether a bias is added to each output element. :class:`~rooflinekit.descriptors.Layer` fills an absent
        one from its weights: a second weight tensor is the bias.
    """

    groups: PositiveInt = 1
    bias: bool | None = None


class ConvTransposeAttrs(ConvAttrs):
    """Attributes of ``conv_transpose`` (ONNX ConvTranspose, TFLite TRANSPOSE_CONV).

    As :class:`ConvAttrs`, with ONNX ConvTranspose's meaning of the window: output size per spatial dim
    ``s * (in - 1) + output_padding + (k - 1) * d + 1 - pad_begin - pad_end``. A TFLite TRANSPOSE_CONV is given
    the pads and output padding that give its output shape.

    Attributes
    ----------
    output_padding : tuple of int
        Elements added at the end of each spatial dim of the output (after the pads are removed); 0 per dim by
        default.
    """

    output_padding: tuple[NonNegativeInt, ...] | None = None

    _PER_DIM_DEFAULTS: ClassVar[dict[str, int]] = {"strides": 1, "dilations": 1, "output_padding": 0}
    _ENTRIES_PER_DIM: ClassVar[dict[str, int]] = {"strides": 1, "dilations": 1, "pads": 2, "output_padding": 1}


class PoolAttrs(_WindowAttrs):
    """Attributes of ``max_pool`` and ``avg_pool`` (ONNX MaxPool, AveragePool; TFLite MAX_POOL_2D,
    AVERAGE_POOL_2D).

    Attributes
    ----------
    kernel_shape, strides, pads, dilations
        As in :class:`ConvAttrs` (pads are implicit padding the window never takes a maximum or average of).
    ceil_mode : bool
        Whether the output size rounds up (``ceil``) rather than down; False by default (TFLite never rounds up).
    count_include_pad : bool
        Whether an average divides by the full window, padding included, rather than by the elements it covers;
        False by default (TFLite's AVERAGE_POOL_2D covers only real elements). Meaningless for a maximum.
    """

    ceil_mode: bool = False
    count_include_pad: bool = False


class LpPoolAttrs(PoolAttrs):
    """Attributes of ``lp_pool`` (ONNX LpPool, TFLite L2_POOL_2D): those of :class:`PoolAttrs` and the norm.

    Attributes
    ----------
    p : int
        The order of the norm taken over each window; 2 by default (TFLite's L2_POOL_2D).
    """

    p: PositiveInt = 2


class MatMulAttrs(OpAttrs):
    """Attributes of ``fully_connected`` and ``matmul`` (ONNX Gemm, MatMul, QGemm, ...; TFLite FULLY_CONNECTED,
    BATCH_MATMUL).

    The layer's shapes are normalized whatever these flags say: a matmul's inputs are ``A (..., M, K)`` and
    ``B (..., K, N)``, a fully-connected weight is ``(out, in) = (N, K)``. The flags keep how the source stores
    its operands; counters do not read them.

    Attributes
    ----------
    transpose_a : bool
        Whether the source stores operand A as ``(..., K, M)`` and multiplies its transpose (ONNX Gemm's
        ``transA``, TFLite BATCH_MATMUL's ``adj_x``).
    transpose_b : bool
        Whether the source stores operand B as ``(..., N, K)`` and multiplies its transpose (ONNX Gemm's
        ``transB``, TFLite BATCH_MATMUL's ``adj_y``; True for every TFLite FULLY_CONNECTED, whose weights are
        stored ``(out, in)``).
    bias : bool or None
        Whether a bias is added to each output element (ONNX Gemm's C with ``beta`` != 0, TFLite's bias operand).
        :class:`~rooflinekit.descriptors.Layer` fills an absent one from its weights: a second weight tensor is the
        bias.
    keep_num_dims : bool
        Whether the output keeps the leading dims of an input of rank > 2, ``(..., N)``, rather than flattening
        them into one (TFLite FULLY_CONNECTED's ``keep_num_dims``); importers set it when the output has rank > 2
        (ONNX MatMul and TFLite BATCH_MATMUL always keep them). False by default.
    """

    transpose_a: bool = False
    transpose_b: bool = False
    bias: bool | None = None
    keep_num_dims: bool = False


class ResizeAttrs(OpAttrs):
    """Attributes of ``resize`` (ONNX Resize, Upsample; TFLite RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR).

    Attributes
    ----------
    mode : {"nearest", "linear", "cubic"}
        Interpolation: nearest neighbour (0 ops), linear in each spatial dim (bilinear in 2-D) or cubic; any case
        is accepted. "nearest" by default. Coordinate transformation and rounding modes are not kept: they choose
        which input elements are read, not how many ops are done.
    """

    mode: Literal["nearest", "linear", "cubic"] = "nearest"

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, mode: Any) -> Any:
        return mode.lower() if isinstance(mode, str) else mode


class ReduceAttrs(OpAttrs):
    """Attributes of the ``reduce_*`` kinds (ONNX Reduce*; TFLite MEAN, SUM, REDUCE_MAX, ...).

    Attributes
    ----------
    axes : tuple of int or None
        The reduced dims, channels-first; importers give them sorted and non-negative, and every dim when the op
        reduces them all. None when they are computed at run time.
    keepdims : bool
        Whether reduced dims stay as size 1; True by default (ONNX's default; importers always set it).
    """

    axes: tuple[Int, ...] | None = None
    keepdims: bool = True

    @field_validator("axes")
    @classmethod
    def _distinct(cls, axes: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if axes is not None and len(set(axes)) != len(axes):
            raise ValueError(f"must be distinct, got {list(axes)}; list each reduced dim once")
        return axes


class SoftmaxAttrs(OpAttrs):
    """Attributes of ``softmax``, ``log_softmax`` and ``hardmax`` (ONNX Softmax, LogSoftmax, Hardmax,
    QLinearSoftmax; TFLite SOFTMAX, LOG_SOFTMAX).

    Attributes
    ----------
    axis : int
        The dim normalized over, channels-first (TFLite's last NHWC dim is the channel dim 1 of a 4-D tensor);
        -1 (the last) by default. Before ONNX opset 13 an ONNX softmax flattens the dims from ``axis`` on
        and normalizes over them together; the axis is kept as written.
    beta : float
        Scale of the input before the exponential (TFLite SOFTMAX's ``beta``); 1.0 by default and for ONNX.
    """

    axis: Int = -1
    beta: float = Field(default=1.0, allow_inf_nan=False)


class ConcatAttrs(OpAttrs):
    """Attributes of ``concat`` (ONNX Concat, QLinearConcat; TFLite CONCATENATION).

    Attributes
    ----------
    axis : int or None
        The dim the inputs are joined along, channels-first; None when not given.
    """

    axis: Int | None = None


class LrnAttrs(OpAttrs):
    """Attributes of ``lrn`` (ONNX LRN, TFLite LOCAL_RESPONSE_NORMALIZATION).

    Attributes
    ----------
    size : int or None
        Number of channels in the normalization window (TFLite: ``2 * radius + 1``); None when not given (the
        counter then refuses the layer). The scaling constants (alpha, beta, bias) are not kept: they do not
        change the op count.
    """

    size: PositiveInt | None = None


class PadAttrs(OpAttrs):
    """Attributes of ``pad`` (ONNX Pad; TFLite PAD, PADV2, MIRROR_PAD).

    Attributes
    ----------
    pads : tuple of int or None
        Elements added (removed, when negative, as ONNX allows) at the begin and end of every dim of the input,
        ``(begin..., end...)`` in channels-first order; None when computed at run time.
    mode : {"constant", "reflect", "edge", "wrap", "symmetric"}
        What fills the padding: a constant (the pad value is not kept), a reflection without the edge element
        (ONNX and TFLite MIRROR_PAD ``reflect``), the edge element repeated, the tensor wrapped around, or a
        reflection with the edge element (TFLite MIRROR_PAD ``symmetric``). "constant" by default.
    """

    pads: tuple[Int, ...] | None = None
    mode: Literal["constant", "reflect", "edge", "wrap", "symmetric"] = "constant"

    @field_validator("pads")
    @classmethod
    def _begin_and_end(cls, pads: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if pads is not None and len(pads) % 2:
            raise ValueError(f"must hold a begin and an end per dim (an even count), got {len(pads)} values "
                             f"{list(pads)}")
        return pads


REDUCE_KINDS = ("reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_l1", "reduce_l2",
                "reduce_log_sum", "reduce_log_sum_exp", "reduce_sum_square")

_MODELS: dict[str, type[OpAttrs]] = {
    "conv": ConvAttrs, "conv_transpose": ConvTransposeAttrs,
    "fully_connected": MatMulAttrs, "matmul": MatMulAttrs,
    "max_pool": PoolAttrs, "avg_pool": PoolAttrs, "lp_pool": LpPoolAttrs,
    "resize": ResizeAttrs,
    **{kind: ReduceAttrs for kind in REDUCE_KINDS},
    "softmax": SoftmaxAttrs, "log_softmax": SoftmaxAttrs, "hardmax": SoftmaxAttrs,
    "concat": ConcatAttrs, "lrn": LrnAttrs, "pad": PadAttrs,
}


def _kind_key(kind: Any) -> str:
    if type(kind) is str:  # the common case (an importer's kind), without an isinstance check
        return kind
    return kind.value if isinstance(kind, Enum) else str(kind)


def attrs_model(kind: str) -> type[OpAttrs] | None:
    """The attribute model of an op kind.

    Parameters
    ----------
    kind : str
        A canonical op kind (``"conv"``) or an ``OpKind`` member.

    Returns
    -------
    type[OpAttrs] or None
        The model class (see the table in :mod:`rooflinekit.descriptors.attrs`); None for a kind whose
        attributes are free-form.
    """
    return _MODELS.get(_kind_key(kind))


def _problem(error: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown attribute {field!r} = {error['input']!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    shown = "" if " got " in message else f", got {error['input']!r}"
    return f"{field}: {message}{shown}" if field else f"{message}{shown}"


def parse_attrs(kind: str, attrs: Mapping[str, Any]) -> OpAttrs | None:
    """The typed attributes of a layer of ``kind``.

    Parameters
    ----------
    kind : str
        A canonical op kind.
    attrs : mapping
        The layer's attributes, as written in a catalog or by an importer.

    Returns
    -------
    OpAttrs or None
        An instance of :func:`attrs_model` of ``kind``; None when the kind has no model.

    Raises
    ------
    SpecError
        When ``attrs`` is not a mapping, holds a key the model does not know, or a value of the wrong type or
        range; the message lists each problem with its value and the known keys.
    """
    model = attrs_model(kind)
    if model is None:
        return None
    key = _kind_key(kind)
    if not isinstance(attrs, Mapping):
        raise SpecError(f"{key} attrs must be a mapping of attribute names to values, got {attrs!r}")
    try:
        parsed: OpAttrs = model.__pydantic_validator__.validate_python(dict(attrs))
        return parsed
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        locs = [tuple(e["loc"]) for e in errors]
        # a too-short tuple whose items failed: the items' errors say why
        problems = [_problem(e) for e, loc in zip(errors, locs) if not (
            e["type"] == "too_short" and any(len(o) > len(loc) and o[:len(loc)] == loc for o in locs))]
        unknown = any(e["type"] == "extra_forbidden" for e in errors)
        hint = (f"; the {key} attributes are {', '.join(model.model_fields)}: rename or remove the others"
                if unknown else "; fix these values")
        raise SpecError(f"{key} attrs: {'; '.join(problems)}{hint}") from None


def validate_attrs(kind: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalize the attributes of a layer of ``kind`` (what ``Layer`` stores).

    Parameters
    ----------
    kind : str
        A canonical op kind.
    attrs : mapping
        The layer's attributes.

    Returns
    -------
    dict
        For a kind with a model: its fields as plain values (ints, bools, strings, tuples), defaults filled and
        fields whose value is None (unknown) left out. For another kind: a copy of ``attrs``.

    Raises
    ------
    SpecError
        As :func:`parse_attrs`.
    """
    if attrs_model(kind) is None:
        return dict(attrs)
    return dict(frozen_attrs(kind, attrs))


def frozen_attrs(kind: str, attrs: Mapping[str, Any]) -> FrozenDict[str, Any]:
    """:func:`validate_attrs` of a kind with a model, read-only and remembered.

    Layers of one network share few distinct attribute sets (every 3x3 conv of stride 1): each distinct set is
    validated once and its normalized, read-only result shared. Sets are told apart by value and type at every
    depth (``1``, ``True`` and ``1.0`` differ; floats by ``repr``), so a value that validation would refuse is
    never answered from the cache; sets that are not hashable are validated every time. A result of this function
    given again for its kind (an importer's validated attrs, stored by the layer it builds) is returned at once:
    validation gives normalized attrs back unchanged.

    Parameters
    ----------
    kind : str
        A canonical op kind with an attribute model.
    attrs : mapping
        The layer's attributes.

    Returns
    -------
    FrozenDict
        As :func:`validate_attrs`, read-only.

    Raises
    ------
    SpecError
        As :func:`parse_attrs`.
    """
    name = _kind_key(kind)
    known = _NORMALIZED.get(id(attrs))
    if known is not None and known[1] is attrs and known[0] == name:
        return known[1]
    try:
        key: tuple[Any, ...] | None = _attrs_key(name, attrs)
        cached = _VALIDATED.get(key)  # type: ignore[arg-type]
    except (TypeError, AttributeError):  # an unhashable value, or attrs that are not a mapping
        key, cached = None, None
    if cached is not None:
        return cached
    typed = parse_attrs(kind, attrs)
    if typed is None:
        raise SpecError(f"{name!r} has no attribute model")
    frozen: FrozenDict[str, Any] = deep_freeze(typed.model_dump(exclude_none=True))
    if key is not None:
        if len(_VALIDATED) >= _VALIDATED_LIMIT:
            _VALIDATED.clear()
            _NORMALIZED.clear()
        _VALIDATED[key] = frozen
        _NORMALIZED[id(frozen)] = (name, frozen)
    return frozen


_VALIDATED: dict[tuple[Any, ...], FrozenDict[str, Any]] = {}
_VALIDATED_LIMIT = 4096
"""Normalized attribute sets by :func:`_attrs_key` (cleared when full)."""
_NORMALIZED: dict[int, tuple[str, FrozenDict[str, Any]]] = {}
"""The kind and the result of each set in :data:`_VALIDATED`, by the result's ``id`` (held here, so the ``id`` is
never reused while listed)."""


def _attrs_key(kind: str, attrs: Mapping[str, Any]) -> tuple[Any, ...]:
    """The cache key of ``attrs`` of ``kind``: each name with its value keyed by :func:`_typed_key`, the common
    values (an int, bool or str; a tuple of ints) keyed in place, without a call each (an entry's length tells
    the three forms apart); TypeError when a value is not hashable, AttributeError when ``attrs`` is no mapping."""
    parts: list[Any] = [kind]
    for name, value in attrs.items():
        value_type = type(value)
        if value_type in _SCALARS:
            parts.append((name, value_type, value))
        elif value_type is tuple and _INTS.issuperset(map(type, value)):  # no set built (a quarter faster)
            parts.append((name, tuple, int, value))
        else:
            parts.append((name, _typed_key(value)))
    return tuple(parts)


def _typed_key(value: Any) -> Any:
    """``value`` with the type of every item beside it (``True`` and ``1`` differ), floats by ``repr`` (``-0.0``
    and ``0.0`` differ, NaN equals itself); TypeError when it is not hashable."""
    kind = type(value)
    if kind in _SCALARS:  # the common case (groups, bias, mode), keyed at once
        return kind, value
    if kind is tuple or kind is list:
        if set(map(type, value)) <= _INTS:  # the common case (strides, pads), keyed at once
            return kind, int, tuple(value)
        return kind, tuple(map(_typed_key, value))
    if isinstance(value, (tuple, list)):
        return kind, tuple(map(_typed_key, value))
    if isinstance(value, float):
        return kind, repr(value)
    hash(value)
    return kind, value


_SCALARS = frozenset({int, bool, str})
_INTS = frozenset({int})


def same_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
              upper: bool = True) -> tuple[int, ...]:
    """The explicit pads of SAME padding (TFLite ``SAME``, ONNX ``auto_pad`` SAME_UPPER / SAME_LOWER).

    Parameters
    ----------
    spatial, kernel, strides, dilations : sequence of int
        Input size, kernel size, stride and dilation per spatial dim.
    upper : bool
        Whether an odd total puts the extra element at the end (TFLite, ONNX SAME_UPPER) rather than the
        beginning (ONNX SAME_LOWER).

    Returns
    -------
    tuple of int
        ``(begin..., end...)``. Per dim the output is ``ceil(in / s)`` and the total padding
        ``max(0, (ceil(in / s) - 1) * s + (k - 1) * d + 1 - in)``.
    """
    totals = [max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
              for i, k, s, d in zip(spatial, kernel, strides, dilations)]
    small = [t // 2 for t in totals]
    large = [t - t // 2 for t in totals]
    return tuple(small + large) if upper else tuple(large + small)
