"""Network descriptors: layer-level specs and aggregate (totals-only) specs.

Shapes are channels-first, batch dimension first: ``(N, C, *spatial)`` for feature maps. ``batch`` on a layer
network is the N those shapes describe; per-frame costs divide by it. Convolution weights are
``(C_out, C_in / groups, *kernel)``; fully-connected weights ``(out_features, in_features)``.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Any, Callable, Iterable, Literal, Union, cast

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic import ValidationInfo

from rooflinekit._limits import shown
from rooflinekit.descriptors._base import AccuracyTable, Frozen, Ops, PositiveFinite
from rooflinekit.descriptors._frozen import FrozenDict, deep_freeze
from rooflinekit.descriptors.attrs import OpAttrs, attrs_model, frozen_attrs
from rooflinekit.descriptors.dtypes import DType
from rooflinekit.errors import PrecisionError, SpecError

Shape = tuple[int, ...]


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One ``__pydantic_fields_set__`` per distinct set of field names, shared by the descriptors built from trusted
fields (:meth:`TensorSpec.from_typed`, :meth:`Layer.from_typed`)."""


def _shared_fields_set(names: Iterable[str]) -> set[str]:
    """The shared set of ``names``, the value pydantic keeps as a model's explicitly set fields.

    A set costs about 200-400 bytes, as much as a layer's field dict; an imported graph holds a few distinct ones
    for its thousands of layers and tensor specs. Sharing is safe for these frozen models: pydantic adds to the
    set only in ``__setattr__`` (refused, the models are frozen) and in ``model_copy(update=...)``, after copying it.
    """
    key = frozenset(names)
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        shared = _FIELDS_SETS[key] = set(key)
    return shared


def _check_shape(shape: Shape) -> Shape:
    if any(d <= 0 for d in shape):
        raise ValueError(f"shape dimensions must be positive integers, got {list(shape)}")
    return shape


class TensorSpec(Frozen):
    """A constant tensor (weight or bias). ``dtype`` None means the layer's weight precision; for a layer's bias,
    its bias type (:func:`~rooflinekit.counters.cost.bias_dtype`: int32 under integer weights and activations)."""

    shape: Shape
    dtype: DType | None = None
    nbytes: int | None = Field(default=None, ge=0, description="exact stored size when known (e.g. a real buffer)")

    @field_validator("shape")
    @classmethod
    def _positive(cls, shape: Shape) -> Shape:
        return _check_shape(shape)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def from_typed(cls, fields: dict[str, Any]) -> "TensorSpec":
        """A spec of ``fields`` built without validation when their values already have the exact types and ranges
        validation gives them (what an importer builds), else validated: ``shape`` a tuple of positive ``int``
        (not bool), ``dtype`` a ``DType`` or None, ``nbytes`` a non-negative ``int`` or None, no other key.
        Besides the time per spec, an import that builds its specs this way never builds pydantic's validator of
        the class (built on the first validation: measured alone, tens of milliseconds and about 0.2 MB).

        Parameters
        ----------
        fields : dict
            Spec fields by name, ``shape`` among them.

        Returns
        -------
        TensorSpec
            Equal to ``TensorSpec.model_validate(fields)``, with the same fields set.

        Raises
        ------
        SpecError
            What :meth:`model_validate` raises for fields that are not of these types or out of range.
        """
        shape, dtype, nbytes = fields.get("shape"), fields.get("dtype"), fields.get("nbytes")
        if not (type(shape) is tuple and all(type(d) is int and d > 0 for d in shape)
                and (dtype is None or type(dtype) is DType) and (nbytes is None or type(nbytes) is int and nbytes >= 0)
                and fields.keys() <= _SPEC_FIELDS):
            return cls.model_validate(fields)
        spec = cls.__new__(cls)
        object.__setattr__(spec, "__dict__", {"shape": shape, "dtype": dtype, "nbytes": nbytes})  # field order
        object.__setattr__(spec, "__pydantic_fields_set__", _shared_fields_set(fields))
        object.__setattr__(spec, "__pydantic_extra__", None)
        object.__setattr__(spec, "__pydantic_private__", None)
        return spec


_SPEC_FIELDS = frozenset({"shape", "dtype", "nbytes"})
"""The fields of :class:`TensorSpec`."""


def _tensor_shorthand(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [{"shape": v} if isinstance(v, (list, tuple)) else v for v in value]
    return value


class Precision(Frozen):
    """Weight and activation precision. Parses ``int8``, ``W-int8_A-float32``, ``w4a8``, ``INT8``."""

    weights: DType
    activations: DType

    @classmethod
    def parse(cls, value: "str | DType | Precision") -> "Precision":
        if isinstance(value, Precision):
            return value
        if isinstance(value, DType):
            return cls(weights=value, activations=value)
        text = str(value).strip()
        hybrid = re.fullmatch(r"(?i)w[-_]?([a-z0-9]+?)[-_ ]?a[-_]?([a-z0-9]+)", text)
        if hybrid:
            return cls(weights=DType.parse(hybrid.group(1)), activations=DType.parse(hybrid.group(2)))
        try:
            dtype = DType.parse(text)
        except PrecisionError:
            raise PrecisionError(
                f"unknown precision {shown(value)}; write a data type (int8, fp16, ...) or weights/activations "
                "as 'W-int8_A-fp32'"
            ) from None
        return cls(weights=dtype, activations=dtype)

    @property
    def compute(self) -> DType:
        """Data type of the arithmetic: the wider of the two; a float wins a tie of widths."""
        w, a = self.weights, self.activations
        if w.bits != a.bits:
            return w if w.bits > a.bits else a
        return a if a.is_float else w

    @property
    def label(self) -> str:
        """``int8`` when both agree, else ``W-int8_A-fp32``."""
        if self.weights == self.activations:
            return self.weights.value
        return f"W-{self.weights.value}_A-{self.activations.value}"

    def __str__(self) -> str:
        return self.label


def _precision_input(value: Any) -> Any:
    if isinstance(value, (str, DType)):
        return Precision.parse(value)
    return value


PrecisionField = Annotated[Precision, BeforeValidator(_precision_input)]


class Layer(Frozen):
    """One operator instance with its canonical kind, shapes and attributes."""

    name: str = Field(min_length=1)
    op: str = Field(min_length=1, description="canonical op kind, a key of the counter registry")
    source_op: str | None = Field(default=None, description="the op's name in its source format (Conv, CONV_2D)")
    inputs: tuple[Shape, ...] = ()
    outputs: tuple[Shape, ...] = ()
    weights: Annotated[tuple[TensorSpec, ...], BeforeValidator(_tensor_shorthand)] = ()
    state: Annotated[tuple[TensorSpec, ...], BeforeValidator(_tensor_shorthand)] = Field(
        default=(), description="tensors kept across steps, read and written every step (KV cache, RNN state, "
                                "TFLite resource variables), at the network's batch like the activations; dtype "
                                "None means the activation precision")
    attrs: dict[str, Any] = Field(default_factory=dict, validate_default=True, description=(
        "op attributes; a kind with a typed model (rooflinekit.descriptors.attrs) stores them validated, normalized"))
    precision: PrecisionField | None = Field(default=None, description="None: the network's precision")
    input_dtypes: tuple[DType | None, ...] = Field(
        default=(), description="per input tensor, where it differs from the activation precision (None: same)")
    output_dtypes: tuple[DType | None, ...] = Field(
        default=(), description="per output tensor, e.g. int32 from ConvInteger or fp32 from a DEQUANTIZE")
    input_names: tuple[str, ...] = Field(
        default=(), description="the graph's tensor name of each input, when imported (() when unknown)")
    output_names: tuple[str, ...] = Field(
        default=(), description="the graph's tensor name of each output, when imported (() when unknown)")

    @field_validator("inputs", "outputs")
    @classmethod
    def _positive(cls, shapes: tuple[Shape, ...]) -> tuple[Shape, ...]:
        return tuple(_check_shape(s) for s in shapes)

    @field_validator("input_dtypes", "output_dtypes", mode="before")
    @classmethod
    def _parse_dtypes(cls, dtypes: Any) -> Any:
        if type(dtypes) is tuple and not dtypes:  # the common case: every tensor at the activation precision
            return dtypes
        if isinstance(dtypes, (list, tuple)):
            return tuple(None if d is None else DType.parse(d) for d in dtypes)
        return dtypes

    @field_validator("attrs")
    @classmethod
    def _typed_attrs(cls, attrs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The stored attrs (:func:`_stored_attrs`)."""
        return _stored_attrs(info.data.get("op"), attrs, len(info.data.get("weights", ())))

    @model_validator(mode="after")
    def _dtypes_match_tensors(self) -> "Layer":
        for role, dtypes, shapes in (("input", self.input_dtypes, self.inputs),
                                     ("output", self.output_dtypes, self.outputs)):
            if dtypes and len(dtypes) != len(shapes):
                raise ValueError(f"layer {self.name!r}: {len(dtypes)} {role}_dtypes for {len(shapes)} {role}s; "
                                 f"give one per {role} (None keeps the activation precision)")
        for role, names, shapes in (("input", self.input_names, self.inputs),
                                    ("output", self.output_names, self.outputs)):
            if names and len(names) != len(shapes):
                raise ValueError(f"layer {self.name!r}: {len(names)} {role}_names for {len(shapes)} {role}s; "
                                 f"give one name per {role}")
        return self

    @property
    def params(self) -> int:
        return sum(t.elements for t in self.weights)

    @classmethod
    def from_typed(cls, fields: dict[str, Any]) -> "Layer":
        """A layer of ``fields`` whose values already have the exact types and ranges validation gives them,
        built without validating them again (what an importer builds): as pydantic's ``model_construct``, without
        its per-field alias lookups (a layer's fields have no aliases, no private attributes and no extra values).

        The caller guarantees ``str`` names and ops (not empty), tuples of tuples of positive ``int`` shapes,
        tuples of ``str`` names and of ``DType`` or None types (``()`` or one per tensor), tuples of
        ``TensorSpec`` weights and state, a ``Precision`` or None, and a ``dict`` of attrs with ``str`` keys (a
        ``FrozenDict`` holds read-only values already); the attrs are stored as validation stores them
        (:func:`_stored_attrs`: a typed kind's attrs validated, at once when they are its normalized attrs).
        The layer equals ``Layer.model_validate(fields)``, with the same fields set.

        Parameters
        ----------
        fields : dict
            Layer fields by name (no other keys), ``name``, ``op`` and ``attrs`` among them.

        Returns
        -------
        Layer
            The layer.

        Raises
        ------
        SpecError
            When the attrs of a kind with an attribute model are invalid: the error of :meth:`model_validate`.
        """
        try:
            stored = _stored_attrs(fields["op"], fields["attrs"], len(fields.get("weights", ())))
        except SpecError:  # the error validation reports, naming the layer and the field
            return cls.model_validate(fields)
        layer = cls.__new__(cls)
        values = {**_DEFAULTS, **fields, "attrs": stored}  # in field order: the defaults' keys come first
        object.__setattr__(layer, "__dict__", values)
        object.__setattr__(layer, "__pydantic_fields_set__", _shared_fields_set(fields))
        object.__setattr__(layer, "__pydantic_extra__", None)
        object.__setattr__(layer, "__pydantic_private__", None)
        return layer


_DEFAULTS: dict[str, Any] = {name: None if field.is_required() or field.default_factory else field.default
                             for name, field in Layer.model_fields.items()}
"""Each :class:`Layer` field's default, in field order (None for the required ones and ``attrs``, which
:meth:`Layer.from_typed` always sets)."""


def _stored_attrs(op: Any, attrs: dict[str, Any], weights: int) -> dict[str, Any]:
    """What a layer of kind ``op`` with ``weights`` weight tensors stores of ``attrs``: for a kind with an attribute
    model (:mod:`rooflinekit.descriptors.attrs`) the attrs validated and normalized, an absent ``bias`` filled from
    the weights (a second weight tensor is the bias); for another kind the attrs read-only (no attrs: one shared
    empty mapping)."""
    if not isinstance(op, str) or (model := attrs_model(op)) is None:
        return _NO_ATTRS if type(attrs) is dict and not attrs else deep_freeze(attrs)
    if _takes_bias(model) and attrs.get("bias") is None:
        attrs = {**attrs, "bias": weights >= 2}
    return frozen_attrs(op, attrs)


_NO_ATTRS: FrozenDict[str, Any] = FrozenDict()
"""The attrs of every layer that has none (read-only, so one mapping serves them all)."""


@functools.lru_cache(maxsize=None)
def _takes_bias(model: type[OpAttrs]) -> bool:
    """Whether the attribute model has a ``bias`` field (one answer per model class)."""
    return "bias" in model.model_fields


class _NetworkBase(Frozen):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    task: str | None = None
    precision: PrecisionField = Field(default_factory=lambda: Precision(weights=DType.FP32, activations=DType.FP32))
    pruning_pct: float = Field(default=100.0, gt=0, le=100, description="share of channels kept, percent")
    accuracy_top1_pct: AccuracyTable = Field(default_factory=FrozenDict)
    source: str = Field(min_length=1)



class LayerNetwork(_NetworkBase):
    """A network described layer by layer."""

    kind: Literal["layers"] = "layers"
    batch: int = Field(default=1, ge=1, description="the batch size N that the layer shapes describe")
    layers: tuple[Layer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "LayerNetwork":
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise ValueError(f"duplicate layer name {layer.name!r}; layer names must be unique")
            seen.add(layer.name)
        return self

    @classmethod
    def from_layers(cls, name: str, precision: Precision, source: str, batch: int,
                    layers: tuple[Layer, ...]) -> "LayerNetwork":
        """The network of ``layers``, built without validating each layer again (what an importer builds).

        Validation of a network runs every layer's own after-validator again, though a :class:`Layer` is valid
        once built and frozen; here only the network's fields are checked (a non-empty ``name`` and ``source``,
        a positive ``batch``, at least one layer, unique layer names). Arguments that fail a check, or are not of
        these exact types, are validated as ``LayerNetwork(...)`` would, and raise its error. The network equals
        ``LayerNetwork(name=name, precision=precision, source=source, batch=batch, layers=layers)``, with the same
        fields set.

        Parameters
        ----------
        name, source : str
            The network's name and where it comes from (the model file).
        precision : Precision
            The network's precision.
        batch : int
            The batch N the layer shapes describe.
        layers : tuple of Layer
            The layers, in order.

        Returns
        -------
        LayerNetwork
            The network.

        Raises
        ------
        SpecError
            What ``LayerNetwork(...)`` raises for arguments that fail a check.
        """
        given = {"name": name, "precision": precision, "source": source, "batch": batch, "layers": layers}
        if not (type(name) is str and name and type(source) is str and source and type(batch) is int and batch >= 1
                and type(precision) is Precision and type(layers) is tuple and layers
                and all(type(layer) is Layer for layer in layers)
                and len({layer.name for layer in layers}) == len(layers)):
            return cls(**given)
        network = cls.__new__(cls)
        values = {field: given[field] if field in given else factory() if factory else default
                  for field, default, factory in _NETWORK_DEFAULTS}  # in field order, as validation stores them
        object.__setattr__(network, "__dict__", values)
        object.__setattr__(network, "__pydantic_fields_set__", set(given))
        object.__setattr__(network, "__pydantic_extra__", None)
        object.__setattr__(network, "__pydantic_private__", None)
        return network


_NETWORK_DEFAULTS: tuple[tuple[str, Any, Callable[[], Any] | None], ...] = tuple(
    (name, field.default, cast(Callable[[], Any] | None, field.default_factory))
    for name, field in LayerNetwork.model_fields.items())
"""Each :class:`LayerNetwork` field's default, or the factory that makes it, in field order (the required fields
are always given to :meth:`LayerNetwork.from_layers`)."""


class AggregateNetwork(_NetworkBase):
    """A network known only by totals, as in QuTiBench's tables (its "level 0").

    Weight bytes at precision P are ``params * bits(P) / 8``, unless the published weights-only operational
    intensity at 8-bit weights is given: then ``ops_per_frame / operational_intensity_int8_ops_per_byte * bits/8``,
    which is how QuTiBench's own predictions were made.
    """

    kind: Literal["aggregate"] = "aggregate"
    ops_per_frame: Ops = Field(description="ops per frame, 1 MAC = 2 ops")
    params: PositiveFinite = Field(description="number of weights")
    activation_elements_per_frame: PositiveFinite | None = None
    operational_intensity_int8_ops_per_byte: PositiveFinite | None = None


NetworkSpec = Annotated[Union[LayerNetwork, AggregateNetwork], Field(discriminator="kind")]
