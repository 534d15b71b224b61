"""Cost of layers and networks at a precision: ops, parameters and bytes.

Per layer (shapes as given, i.e. for the network's ``batch``):

- ``ops = 2 * macs + other_ops`` where ``other_ops`` includes bias adds unless ``include_bias_ops`` is False
  and every non-MAC op unless ``include_other_ops`` is False (the MAC-only convention of many FLOP counters).
  A fused activation (attribute ``fused_activation``, as TFLite stores it) adds one op per output element,
  as the separate activation layer of an ONNX graph does.
- ``params``: elements of the layer's constant tensors (weights and biases).
- ``weight_bytes``: per constant tensor ``ceil(elements * bits / 8)`` at its own dtype (or its real stored size
  when known), else at the layer precision's type for it: the weight type, or for the layer's bias its *bias type*
  (below). A precision override re-types every tensor the same way (per-tensor dtypes and sizes ignored), except
  an override equal to the network's own precision, which changes nothing (each layer's precision and every
  per-tensor dtype kept).
- The *bias type* of a precision (:func:`bias_dtype`), the counting convention of deployed kernels:

  - float weights (fp32, fp16, bf16, ...): the weight type, as every weight;
  - integer weights and integer activations: int32, the accumulator the integer kernel adds the bias into, for
    any weight width (TFLite's 8-bit quantization spec: the bias of CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED is int32, scale ``input_scale * weight_scale``, zero point 0; ONNX QLinearConv's ``B`` is int32,
    quantized so; CMSIS-NN's ``arm_convolve_s8``, ``arm_convolve_s4`` and ``arm_fully_connected_s8`` take
    ``int32_t`` biases); int64 with activations wider than 8 bits (TFLite's 16x8 mode, int16 activations and int8
    weights, has int64 biases by default; CMSIS-NN's ``arm_convolve_s16`` takes them, its newer releases int32
    too). Runtimes that store narrower biases exist (ESP-DL's power-of-two quantization: int8/int16 biases): give
    such biases their dtype and count without an override;
  - integer weights and float activations (dynamic-range or weight-only quantization: ``W-int8_A-fp32``,
    ``w4a16``): the activation type, as the float bias the kernel adds after dequantizing (a TFLite dynamic-range
    model, e.g. MLPerf Tiny's ``kws_ref_model_float32.tflite``, stores int8 weights and fp32 biases).

  A layer's *bias* (:func:`bias_position`) is the weight tensor its ``bias`` attribute marks: in a ``conv``,
  ``conv_transpose`` or ``fully_connected`` layer (one kernel weight tensor) or a ``matmul`` layer (operands both
  activations, no kernel tensor) whose ``bias`` is true, its last weight tensor when it has more than its kernel
  tensors (importers append it from the bias operand: ONNX Conv/QLinearConv ``B``, Gemm/QGemm ``C``, TFLite's bias
  operand; the builders after the kernel). Other constants (normalization scale and shift, RNN gate biases, a
  ``deform_conv`` bias) and aggregate networks' weights take the weight type.
- ``state_bytes``: state tensors (KV cache, RNN state), read once per step: ``ceil(elements * bits / 8)`` per
  tensor at its own dtype, else the activation precision.
- ``input_bytes`` / ``output_bytes``: activations read and written, ``ceil(elements * bits / 8)`` per tensor at
  the tensor's own dtype where the layer gives one (``input_dtypes``, ``output_dtypes``: the int32 output of an
  integer conv, the float side of a (de)quantize), else at the activation precision; 0 for views. A precision
  override re-types every tensor, these included.

An op kind without a counter is kept as a row with ``supported`` False and 0 ops, tallied in
``unsupported_ops`` and warned about once per network; ``strict=True`` raises :class:`UnsupportedOpError`.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter as Tally
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, cast

import numpy as np

from rooflinekit.counters._registry import DEFAULT_COUNTERS, Counter, CounterRegistry, OpCount, total_ops
from rooflinekit.counters._shapes import elements
from rooflinekit.descriptors import AggregateNetwork, DType, Layer, LayerNetwork, NetworkSpec, Precision, tensor_bytes
from rooflinekit._limits import INT64_MAX, MAX_BATCH, shown
from rooflinekit.display import counted
from rooflinekit.errors import CountOverflowError, RooflineWarning, SpecError, UnsupportedOpError

if TYPE_CHECKING:  # imported when the layer table is first read
    import pandas as pd


class UnsupportedOpWarning(RooflineWarning):
    """Some layers have no counter; their arithmetic is missing from the totals."""


@dataclass(frozen=True)
class CountingConventions:
    """Which non-MAC operations enter ``ops``."""

    include_bias_ops: bool = True
    include_other_ops: bool = True


LAYER_COLUMNS = ["name", "op", "source_op", "supported", "weight_dtype", "activation_dtype", "compute_dtype",
                 "macs", "other_ops", "ops", "params", "weight_bytes", "input_bytes", "output_bytes",
                 "state_bytes"]


@dataclass(frozen=True)
class NetworkCost:
    """Counted network: one row per layer (``layers``) and the ops the counters could not cost.

    ``layer_columns`` holds the rows as one numpy array per column of :data:`LAYER_COLUMNS` (the count columns
    int64, ``supported`` bool, the text columns object arrays of ``str``), and nothing for an aggregate network;
    :attr:`layers` is the same table as a DataFrame, built when first read (counting does not import pandas).
    """

    network: str
    precision: Precision
    batch: int
    layer_columns: dict[str, np.ndarray] = field(repr=False)
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    ops_total: float | None = None  # set for aggregate networks, which have no layers
    params_total: float | None = None
    weight_bytes_total: float | None = None
    activation_bytes_total: float | None = None

    @cached_property
    def layers(self) -> pd.DataFrame:
        """One row per layer, columns :data:`LAYER_COLUMNS` (empty, every column of objects, for an aggregate
        network); built from :attr:`layer_columns` on first read, then kept."""
        import pandas as pd

        return pd.DataFrame(self.layer_columns, columns=LAYER_COLUMNS)

    @property
    def totals(self) -> dict[str, float | int | None]:
        """macs, ops, params, weight_bytes and activation_bytes (inputs read + outputs written)."""
        if not self.layer_columns:
            return {"macs": None, "ops": self.ops_total, "params": self.params_total,
                    "weight_bytes": self.weight_bytes_total, "activation_bytes": self.activation_bytes_total}
        # Python ints: exact whatever the sum (an int64 column sum could wrap)
        sums = {column: sum(self.layer_columns[column].tolist())
                for column in ("macs", "ops", "params", "weight_bytes", "input_bytes", "output_bytes")}
        return {"macs": sums["macs"], "ops": sums["ops"], "params": sums["params"],
                "weight_bytes": sums["weight_bytes"],
                "activation_bytes": sums["input_bytes"] + sums["output_bytes"]}


def layer_precision(layer: Layer, network_precision: Precision, override: Precision | None) -> Precision:
    """Override if given, else the layer's own precision, else the network's."""
    return override or layer.precision or network_precision


def bias_dtype(precision: Precision) -> DType:
    """The type a bias is counted at when ``precision`` types it (rule and sources in the module docstring).

    Parameters
    ----------
    precision : Precision
        The layer's precision (or the override's).

    Returns
    -------
    DType
        The weight type when it is a float; int32 for integer weights and integer activations of at most 8 bits
        (the integer kernel's accumulator), int64 with wider integer activations (TFLite's 16x8 mode); the
        activation type for integer weights with float activations (dynamic-range, weight-only quantization).
    """
    weights, activations = precision.weights, precision.activations
    if weights.is_float:
        return weights
    if activations.is_float:
        return activations
    return DType.INT64 if activations.bits > 8 else DType.INT32


_KERNEL_TENSORS = {"conv": 1, "conv_transpose": 1, "fully_connected": 1, "matmul": 0}
"""Weight tensors before the bias, per op kind whose bias is a weight tensor (see :func:`bias_position`)."""


def bias_position(layer: Layer) -> int | None:
    """Index in ``layer.weights`` of the layer's bias tensor (definition in the module docstring), None when it
    has none.

    Parameters
    ----------
    layer : Layer
        Any layer.

    Returns
    -------
    int or None
        ``len(layer.weights) - 1`` for a conv, conv_transpose or fully_connected layer (one kernel tensor) or a
        matmul layer (none) whose attrs say ``bias`` and that has more weight tensors than kernel tensors; else
        None.
    """
    kernels = _KERNEL_TENSORS.get(layer.op)
    if kernels is None or len(layer.weights) <= kernels or not layer.attrs.get("bias"):
        return None
    return len(layer.weights) - 1


def _params_and_weight_bytes(layer: Layer, bits: int, bias_bits: int, override: bool) -> tuple[int, int]:
    """The layer's ``params`` (elements of its weights) and ``weight_bytes`` (each weight at its own stored size,
    else its dtype, else the default width: ``bias_bits`` for the bias (:func:`bias_position`), ``bits`` for the
    others; every weight at its default width when ``override``), in one pass
    (:func:`~rooflinekit.descriptors.tensor_bytes` inlined: ``ceil(elements * bits / 8)``). ``layer`` has at least
    one weight tensor."""
    params = total = 0
    for tensor in layer.weights:
        count = math.prod(tensor.shape)  # elements(), without a call per tensor
        params += count
        if override:
            total += -(-count * bits // 8)
        elif tensor.nbytes is not None:
            total += tensor.nbytes
        else:
            dtype = tensor.dtype
            total += -(-count * (bits if dtype is None else dtype.bits) // 8)
    # ``tensor`` and ``count`` are the last weight's: the bias, when the layer has one (bias_position), counted at
    # ``bits`` above when it took the default width; it takes ``bias_bits`` instead
    if bias_bits != bits and (override or tensor.nbytes is None and tensor.dtype is None) and (
            bias_position(layer) is not None):
        total += -(-count * bias_bits // 8) + (-count * bits // 8)
    return params, total


def count_layer(layer: Layer, precision: Precision, conventions: CountingConventions = CountingConventions(),
                precision_overridden: bool = False, counters: CounterRegistry = DEFAULT_COUNTERS) -> dict[str, object]:
    """One layer's cost row at ``precision`` (``supported`` False when ``counters`` has no counter for its op).

    With ``precision_overridden`` every tensor takes ``precision``'s type for it (its bias the bias type,
    :func:`bias_dtype`): per-tensor dtypes are ignored.
    """
    return _cost_row(layer, counters.get(layer.op), precision, conventions, precision_overridden)


_NO_COUNT = OpCount()
"""The arithmetic of a layer without a counter."""


def _cost_row(layer: Layer, counter: Counter | None, precision: Precision, conventions: CountingConventions,
              precision_overridden: bool) -> dict[str, object]:
    """:func:`count_layer` with the layer's ``counter`` already looked up (None: the op has none)."""
    return dict(zip(LAYER_COLUMNS, _cost_values(layer, counter, precision, conventions, precision_overridden)))


_Widths = tuple[int, int, int, tuple[str, str, str]]
"""A precision's weight, bias (:func:`bias_dtype`) and activation widths in bits, and its weight, activation and
compute type names."""


def _widths(precision: Precision) -> _Widths:
    """The :data:`_Widths` of ``precision`` (each a look-up keyed by a DType, whose hash is a Python call: read once
    per precision by :func:`count_network`)."""
    return (precision.weights.bits, bias_dtype(precision).bits, precision.activations.bits,
            _labels(precision.weights, precision.activations))


def _cost_values(layer: Layer, counter: Counter | None, precision: Precision, conventions: CountingConventions,
                 precision_overridden: bool, widths: _Widths | None = None) -> list[object]:
    """The values of :func:`_cost_row`, in :data:`LAYER_COLUMNS` order (:func:`count_network` keeps its rows as
    such lists: no dict per layer). ``widths``: :func:`_widths` of ``precision``, when the caller has it."""
    weight_bits, bias_bits, bits, labels = widths or _widths(precision)
    count = counter(layer) if counter else _NO_COUNT
    fused = sum(elements(s) for s in layer.outputs) if layer.attrs.get("fused_activation") else 0
    other = (count.bias_ops if conventions.include_bias_ops else 0) + (
        count.other_ops + fused if conventions.include_other_ops else 0)
    act = precision.activations
    params, weight_bytes = _params_and_weight_bytes(layer, weight_bits, bias_bits, precision_overridden) if (
        layer.weights) else (0, 0)
    if not count.moves_data:
        input_bytes = output_bytes = 0
    elif precision_overridden or not (layer.input_dtypes or layer.output_dtypes):
        # the common case, every tensor at ``act`` (of ``bits``): _activation_bytes inlined
        input_bytes = output_bytes = 0
        for shape in layer.inputs:  # plain loops: layers have a tensor or two
            input_bytes += -(-math.prod(shape) * bits // 8)
        for shape in layer.outputs:
            output_bytes += -(-math.prod(shape) * bits // 8)
    else:
        input_bytes = _activation_bytes(layer.inputs, layer.input_dtypes, act)
        output_bytes = _activation_bytes(layer.outputs, layer.output_dtypes, act)
    state = layer.state
    state_bytes = _activation_bytes(tuple(t.shape for t in state),
                                    () if precision_overridden else tuple(t.dtype for t in state),
                                    act) if state else 0
    macs = count.macs
    return [layer.name, layer.op, layer.source_op or layer.op, counter is not None, *labels,
            macs, other, total_ops(macs, other), params, weight_bytes, input_bytes, output_bytes, state_bytes]


@lru_cache(maxsize=None)
def _labels(weights: DType, activations: DType) -> tuple[str, str, str]:
    """The weight, activation and compute type names of a precision (a few pairs per process: remembered)."""
    return weights.value, activations.value, Precision(weights=weights, activations=activations).compute.value


def _activation_bytes(shapes: tuple[tuple[int, ...], ...], dtypes: tuple[DType | None, ...], default: DType) -> int:
    """Sum of ``ceil(elements * bits / 8)`` over tensors, each at its own dtype when given, else ``default``."""
    if not dtypes:  # the common case: every tensor at ``default``, whose width is read once (tensor_bytes inlined)
        bits = default.bits
        total = 0
        for shape in shapes:  # a plain loop: layers have a tensor or two, too few for a list to pay off
            total += -(-int(math.prod(shape)) * bits // 8)
        return total
    return sum([tensor_bytes(elements(shape), dtype or default) for shape, dtype in zip(shapes, dtypes)])


def count_network(network: NetworkSpec | str | Path, precision: Precision | str | None = None,
                  batch: int | None = None, strict: bool = False,
                  conventions: CountingConventions = CountingConventions(),
                  counters: CounterRegistry = DEFAULT_COUNTERS) -> NetworkCost:
    """Count every layer of ``network``.

    ``network`` is a spec, or what :func:`rooflinekit.predict` takes for one: a catalog name (``ResNet-50 80%``)
    or a model file (``.onnx``, ``.tflite``), see :func:`rooflinekit.api.resolve_network`.
    ``precision`` (e.g. ``"int8"`` or ``"W-int8_A-fp32"``) re-types all tensors, biases to its bias type
    (:func:`bias_dtype`); None, or the network's own precision, keeps each layer's own and every tensor's dtype.
    ``batch`` scales arithmetic and activation bytes from the network's batch to ``batch`` frames; weights are
    read once per batch and do not scale. ``counters`` holds the formulas per op kind (a study changes some with
    ``DEFAULT_COUNTERS.with_overrides({...})``); ops it has no counter for are the unsupported ones.
    """
    if isinstance(network, (str, Path)):
        from rooflinekit.api import resolve_network  # the API layer imports this module

        network = cast(NetworkSpec, resolve_network(network))  # a name or a file is a spec, never counted
    if not isinstance(network, (LayerNetwork, AggregateNetwork)):
        raise SpecError(f"cannot count a {type(network).__name__}; pass a network spec, a catalog network name "
                        "or a model file path")
    override = Precision.parse(precision) if precision is not None else None
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer))
                              or not 1 <= batch <= MAX_BATCH):
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool) and batch > MAX_BATCH:
            raise SpecError(f"batch {shown(batch, 30)} is larger than the largest batch, {MAX_BATCH}; use a "
                            "smaller one")
        raise SpecError(f"batch must be a positive integer, got {shown(batch)}")
    batch = None if batch is None else int(batch)
    if isinstance(network, AggregateNetwork):
        return _count_aggregate(network, override, batch or 1)
    if override == network.precision:  # the precision the network has: nothing re-typed (module docstring)
        override = None
    frames = batch or network.batch
    rows: list[list[object]] = []  # each row's values in LAYER_COLUMNS order
    unsupported: Tally[str] = Tally()
    found: dict[str, Counter | None] = {}  # each op kind's counter, looked up once per network
    widths: dict[int, _Widths] = {}  # _widths by precision, read once per network (ids of live precisions)
    try:
        for layer in network.layers:
            op = layer.op
            counter = found[op] if op in found else found.setdefault(op, counters.get(op))
            precision = override or layer.precision or network.precision  # layer_precision, without a call
            known = widths.get(id(precision))
            if known is None:
                known = widths[id(precision)] = _widths(precision)
            rows.append(_cost_values(layer, counter, precision, conventions, override is not None, known))
            if counter is None:
                unsupported[op] += 1
    except Exception:  # a counter failed: a count of an earlier layer that is not exact is reported first
        _check_rows(rows, network.layers, network.batch)
        raise
    _check_rows(rows, network.layers, network.batch)
    if unsupported and strict:
        raise UnsupportedOpError(
            f"{network.name}: no counter for op kinds {dict(unsupported)}; supported kinds are: "
            f"{', '.join(kind.value for kind in counters.supported_kinds())}"
        )
    if unsupported:
        warn_unsupported(network.name, dict(unsupported), stacklevel=2)
    if frames != network.batch:  # exact: Python ints, rounded half up, never through float64
        for row in rows:
            for index in _PER_FRAME_INDICES:
                value = int(cast(int, row[index]))  # an integer, checked by _check_rows above
                row[index] = (2 * value * frames + network.batch) // (2 * network.batch)
        _check_rows(rows, network.layers, frames)
    return NetworkCost(network=network.name, precision=override or network.precision, batch=frames,
                       layer_columns=_layer_columns(rows), unsupported_ops=dict(unsupported))


def warn_unsupported(network: str, unsupported: dict[str, int], stacklevel: int = 2) -> None:
    """Warn that ``network`` has layers of the op kinds ``unsupported`` (kind -> layers), which have no counter;
    ``stacklevel`` as :func:`warnings.warn` would take it in the caller."""
    layers = sum(unsupported.values())
    warnings.warn(f"{network}: {counted(layers, 'layer')} {'has an op kind' if layers == 1 else 'have op kinds'} "
                  f"without a counter ({unsupported}); {'its' if layers == 1 else 'their'} arithmetic is not in the "
                  "totals", UnsupportedOpWarning, stacklevel=stacklevel + 1)


_COUNT_COLUMNS = ("macs", "other_ops", "ops", "params", "weight_bytes", "input_bytes", "output_bytes", "state_bytes")
_FIRST_COUNT = LAYER_COLUMNS.index("macs")
"""Position of the first count column in a row: the count columns are the last ones (:data:`_COUNT_COLUMNS`)."""
_PER_FRAME_INDICES = tuple(LAYER_COLUMNS.index(column) for column in
                           ("macs", "other_ops", "ops", "input_bytes", "output_bytes", "state_bytes"))
"""Positions of the columns that scale with the batch (weights are read once per batch)."""
_INT_TYPE = frozenset({int})


def _layer_columns(rows: list[list[object]]) -> dict[str, np.ndarray]:
    """The per-layer columns of ``rows`` (values in :data:`LAYER_COLUMNS` order), one array per column (no
    per-row objects): the count columns as int64 (exact: :func:`_check_rows` bounded every value), ``supported``
    as bool, the text columns as objects (pandas infers the same column type from them as from a list, in half the
    time)."""
    columns: dict[str, np.ndarray] = {}
    for column, values in zip(LAYER_COLUMNS, zip(*rows)):
        if column in _COUNT_COLUMNS:
            columns[column] = np.array(values, dtype=np.int64)
        elif column == "supported":
            columns[column] = np.array(values, dtype=bool)
        else:
            columns[column] = np.array(values, dtype=object)
    return columns


def _check_rows(rows: list[list[object]], layers: Sequence[Layer], batch: int) -> None:
    """Refuse a count of ``rows`` (values in :data:`LAYER_COLUMNS` order, one row per layer of ``layers``, at
    ``batch``) that is negative or beyond int64 (the cost columns' exact range): the first such row's error
    (:func:`_check_exact`), as if each row had been checked as it was counted (raised ``from None``: a caller that
    is handling another exception, a later layer's, would not have reached it). All counts at once first: Python
    ints in range, the common case, are passed in one look."""
    counts = list(itertools.chain.from_iterable([row[_FIRST_COUNT:] for row in rows]))
    if set(map(type, counts)) <= _INT_TYPE and min(cast(list[int], counts), default=0) >= 0 and max(
            cast(list[int], counts), default=0) <= INT64_MAX:
        return
    try:
        for row, layer in zip(rows, layers):
            _check_exact(row, layer, batch)
    except (SpecError, CountOverflowError) as error:
        raise error from None


def _check_exact(row: list[object], layer: Layer, batch: int) -> None:
    """Refuse a count of ``row`` (values in :data:`LAYER_COLUMNS` order) that is negative or beyond int64 (the cost
    columns' exact range).

    Raises
    ------
    SpecError
        A negative count: the layer's shapes or attributes are inconsistent (a negative kernel size).
    CountOverflowError
        A count above ``2**63 - 1``, naming the layer and the batch.
    """
    values = row[_FIRST_COUNT:]
    for column, value in zip(_COUNT_COLUMNS, values):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise SpecError(f"layer {layer.name!r} ({layer.op}): {column} is {shown(value)}, not an integer count; "
                            "a custom counter must return ints")
        if value < 0:
            raise SpecError(f"layer {layer.name!r} ({layer.op}): {column} = {value} is negative; its shapes or "
                            f"attributes are inconsistent ({shown(dict(layer.attrs))}), check the model")
        if value > INT64_MAX:
            raise CountOverflowError(
                f"layer {layer.name!r} ({layer.op}): {column} = {shown(value, 30)} at batch {batch} exceeds the "
                f"int64 range of exact counts (2**63 - 1); use a smaller batch or smaller shapes",
                layer=layer.name, batch=batch)


def aggregate_weight_bytes(network: AggregateNetwork, precision: Precision) -> float:
    """Weight bytes of an aggregate network: params * bits / 8, or from its published int8 OI (see its doc)."""
    bits = precision.weights.bits
    if network.operational_intensity_int8_ops_per_byte is not None:
        return network.ops_per_frame / network.operational_intensity_int8_ops_per_byte * bits / 8
    return network.params * bits / 8


def _count_aggregate(network: AggregateNetwork, override: Precision | None, frames: int) -> NetworkCost:
    precision = override or network.precision
    activations = network.activation_elements_per_frame
    return NetworkCost(
        network=network.name, precision=precision, batch=frames, layer_columns={},
        ops_total=network.ops_per_frame * frames, params_total=network.params,
        weight_bytes_total=aggregate_weight_bytes(network, precision),
        activation_bytes_total=(activations * precision.activations.bits / 8 * frames
                                if activations is not None else None),
    )
