"""The op vocabulary (rooflinekit.descriptors.ops) and the counter registry (rooflinekit.counters._registry).

Expected counts are derived by hand in the comments beside them.
"""

from __future__ import annotations

import warnings

import pytest

from rooflinekit.compare.calibrate.features import op_class
from rooflinekit.counters import (DEFAULT_COUNTERS, CounterRegistry, OpCount, UnsupportedOpWarning, count_network,
                                  zero_cost)
from rooflinekit.descriptors import Layer, LayerNetwork, OpClass, OpKind, layer_op_class
from rooflinekit.descriptors.ops import _KINDS_BY_CLASS
from rooflinekit.errors import SpecError, UnsupportedOpError
from rooflinekit.importers.onnx._ops import _OPS
from rooflinekit.importers.tflite._ops import KINDS

ONNX_KINDS = sorted({kind for kind, _ in _OPS.values()})
TFLITE_KINDS = sorted(set(KINDS.values()))


# --- the vocabulary ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ONNX_KINDS)
def test_every_onnx_kind_is_an_op_kind_with_a_counter(kind: str) -> None:
    assert OpKind.parse(kind) is not None
    assert kind in DEFAULT_COUNTERS
    assert DEFAULT_COUNTERS.get(kind) is not None


@pytest.mark.parametrize("kind", TFLITE_KINDS)
def test_every_tflite_kind_is_an_op_kind_with_a_counter(kind: str) -> None:
    assert OpKind.parse(kind) is not None
    assert kind in DEFAULT_COUNTERS
    assert DEFAULT_COUNTERS.get(kind) is not None


def test_the_vocabulary_is_exactly_the_kinds_with_a_counter() -> None:
    # every kind with a counter is an OpKind, and every OpKind has a counter: no kind the importers could emit
    # falls through, and no vocabulary entry is uncountable
    assert all(isinstance(kind, OpKind) for kind in DEFAULT_COUNTERS.supported_kinds())
    assert set(DEFAULT_COUNTERS.supported_kinds()) == set(OpKind)
    assert len(DEFAULT_COUNTERS) == len(OpKind)


@pytest.mark.parametrize("kind", list(OpKind))
def test_every_kind_has_one_op_class(kind: OpKind) -> None:
    assert isinstance(kind.op_class, OpClass)
    # the table lists it exactly once
    assert sum(kind in kinds for kinds in _KINDS_BY_CLASS.values()) == 1


def test_op_classes_of_a_few_kinds() -> None:
    # the rules of the module docstring: einsum is gemm, softmax and lrn are norm, global pools are pool,
    # converts are elementwise, views and copies are movement, shape-likes are control
    assert OpKind.EINSUM.op_class is OpClass.GEMM
    assert OpKind.SOFTMAX.op_class is OpClass.NORM
    assert OpKind.LRN.op_class is OpClass.NORM
    assert OpKind.GLOBAL_AVG_POOL.op_class is OpClass.POOL
    assert OpKind.QUANTIZE.op_class is OpClass.ELEMENTWISE
    assert OpKind.RESHAPE.op_class is OpClass.MOVEMENT
    assert OpKind.CONCAT.op_class is OpClass.MOVEMENT
    assert OpKind.SHAPE.op_class is OpClass.CONTROL
    assert OpKind.LSTM.op_class is OpClass.RECURRENT
    assert OpKind.ARG_MAX.op_class is OpClass.REDUCE
    assert _KINDS_BY_CLASS[OpClass.DEPTHWISE] == ()  # depthwise comes from layer_op_class only


def test_values_are_todays_strings() -> None:
    assert OpKind.CONV == "conv" and OpKind.FULLY_CONNECTED == "fully_connected"
    assert f"{OpKind.BATCH_NORM}" == "batch_norm" and str(OpClass.DEPTHWISE) == "depthwise"
    # hashed as their strings, so plain-string sets and dict keys find them and vice versa
    assert "conv" in {OpKind.CONV} and OpKind.CONV in {"conv"}
    # Layer.op stays a plain string
    layer = Layer(name="r", op=OpKind.RELU, inputs=((1, 4),), outputs=((1, 4),))
    assert type(layer.op) is str and layer.op == "relu"


@pytest.mark.parametrize("text, expected", [
    ("conv", OpKind.CONV), ("reduce_mean", OpKind.REDUCE_MEAN), (OpKind.ADD, OpKind.ADD),
    ("TfIdfVectorizer", None),  # an unmapped ONNX op keeps its op_type
    ("CUMSUM", None),  # an unmapped TFLite builtin keeps its name: matching is exact, not case-folded
    ("Conv", None), ("", None),
])
def test_parse(text: str, expected: OpKind | None) -> None:
    assert OpKind.parse(text) is expected


def test_fusible_kinds() -> None:
    for kind in (OpKind.RELU, OpKind.ADD, OpKind.CAST, OpKind.QUANTIZE, OpKind.BATCH_NORM, OpKind.SOFTMAX):
        assert kind.fusible, kind
    for kind in (OpKind.CONV, OpKind.MATMUL, OpKind.MAX_POOL, OpKind.RESHAPE, OpKind.REDUCE_MEAN, OpKind.CONSTANT):
        assert not kind.fusible, kind
    assert {kind for kind in OpKind if kind.fusible} == {
        kind for kind in OpKind if kind.op_class in (OpClass.ELEMENTWISE, OpClass.NORM)}


# --- layer_op_class and the calibration classes --------------------------------------------------------------------

def conv(c_in: int, c_out: int, groups: int, op: str = "conv") -> Layer:
    return Layer(name="c", op=op, inputs=((1, c_in, 8, 8),), outputs=((1, c_out, 8, 8),),
                 weights=[(c_out, c_in // groups, 3, 3)], attrs={"kernel_shape": [3, 3], "groups": groups})


def test_layer_op_class_depthwise_conv() -> None:
    # groups = C_in = 8 > 1: depthwise (with or without a channel multiplier)
    assert layer_op_class(conv(8, 8, groups=8)) is OpClass.DEPTHWISE
    assert layer_op_class(conv(8, 16, groups=8)) is OpClass.DEPTHWISE
    assert layer_op_class(conv(8, 8, groups=8, op="conv_transpose")) is OpClass.DEPTHWISE
    # groups 1 (dense) or 2 < C_in (grouped): conv; a single channel with groups 1 is not depthwise (needs > 1)
    assert layer_op_class(conv(8, 8, groups=1)) is OpClass.CONV
    assert layer_op_class(conv(8, 8, groups=2)) is OpClass.CONV
    assert layer_op_class(conv(1, 4, groups=1)) is OpClass.CONV


def test_layer_op_class_of_other_and_unknown_ops() -> None:
    assert layer_op_class(Layer(name="r", op="relu", inputs=((1, 4),), outputs=((1, 4),))) is OpClass.ELEMENTWISE
    assert layer_op_class(Layer(name="n", op="TfIdfVectorizer", inputs=((1, 4),), outputs=((1, 4),))) is None


def test_calibration_classes_unchanged() -> None:
    # the four calibration classes of compare/calibrate/features.py: einsum is gemm but stays "other"
    matmul = Layer(name="m", op="matmul", inputs=((2, 3), (3, 4)), outputs=((2, 4),))
    fc = Layer(name="f", op="fully_connected", inputs=((1, 3),), outputs=((1, 4),), weights=[(4, 3)])
    einsum = Layer(name="e", op="einsum", inputs=((2, 3), (3, 4)), outputs=((2, 4),), attrs={"equation": "ij,jk->ik"})
    unknown = Layer(name="n", op="TfIdfVectorizer", inputs=((1, 4),), outputs=((1, 4),))
    pool = Layer(name="p", op="global_avg_pool", inputs=((1, 8, 4, 4),), outputs=((1, 8, 1, 1),))
    assert [op_class(layer) for layer in (conv(8, 8, 8), conv(8, 8, 2), conv(8, 8, 8, "conv_transpose"), matmul, fc,
                                          einsum, unknown, pool)] == [
        "depthwise_conv", "conv", "depthwise_conv", "fully_connected", "fully_connected", "other", "other", "other"]


# --- the registry --------------------------------------------------------------------------------------------------

def test_duplicate_registration_refused() -> None:
    registry = CounterRegistry()
    registry.register("relu")(zero_cost)
    with pytest.raises(SpecError, match=r"^op kind 'relu' already has a counter \(zero_cost\); register each kind "
                                        r"once, or use \.with_overrides"):
        registry.register(OpKind.RELU)(lambda layer: OpCount(other_ops=1))
    assert registry.get("relu") is zero_cost  # the first registration stands


def test_registering_an_unknown_kind_refused() -> None:
    with pytest.raises(SpecError, match=r"^register: 'TfIdfVectorizer' is not a canonical op kind; use one of the "
                                        r"OpKind values"):
        CounterRegistry().register("TfIdfVectorizer")
    with pytest.raises(SpecError, match=r"^with_overrides: 'Relu' is not a canonical op kind"):
        DEFAULT_COUNTERS.with_overrides({"Relu": None})
    with pytest.raises(SpecError, match=r"^a counter registry entry: 'bogus' is not a canonical op kind"):
        CounterRegistry({"bogus": None})


def test_default_registry_is_frozen() -> None:
    assert DEFAULT_COUNTERS.frozen
    with pytest.raises(SpecError, match=r"^cannot register counters for \['relu'\]: the counter registry is frozen "
                                        r"\(DEFAULT_COUNTERS always is\); use \.copy\(\) or \.with_overrides"):
        DEFAULT_COUNTERS.register("relu")
    registry = CounterRegistry().freeze()
    with pytest.raises(SpecError, match=r"cannot register counters for \['add'\]: the counter registry is frozen"):
        registry.register(OpKind.ADD)


def test_copy_is_independent_and_not_frozen() -> None:
    copy = DEFAULT_COUNTERS.copy()
    assert not copy.frozen and len(copy) == len(DEFAULT_COUNTERS) and copy.get("conv") is DEFAULT_COUNTERS.get("conv")
    smaller = CounterRegistry({"relu": None})
    bigger = smaller.copy()
    bigger.register("add")(zero_cost)
    assert "add" in bigger and "add" not in smaller and len(smaller) == 1


def test_no_counter_and_zero_on_purpose_are_distinct() -> None:
    registry = CounterRegistry({"relu": None})
    # zero on purpose: supported, counted by zero_cost
    counter = registry.get("relu")
    assert "relu" in registry and counter is zero_cost
    assert counter(Layer(name="r", op="relu", inputs=((1, 4),), outputs=((1, 4),))) == OpCount()
    # no counter: neither a known kind without an entry nor an unknown op
    assert "add" not in registry and registry.get("add") is None
    assert "TfIdfVectorizer" not in registry and registry.get("TfIdfVectorizer") is None
    assert registry.supported_kinds() == [OpKind.RELU]


def study_network() -> LayerNetwork:
    # conv 3 -> 4 channels, 3x3, 10x10 -> 8x8, with bias; then relu on (1, 4, 8, 8); fp32
    return LayerNetwork(name="study", source="test", layers=(
        Layer(name="conv", op="conv", inputs=((1, 3, 10, 10),), outputs=((1, 4, 8, 8),),
              weights=[(4, 3, 3, 3), (4,)], attrs={"kernel_shape": [3, 3], "groups": 1}),
        Layer(name="relu", op="relu", inputs=((1, 4, 8, 8),), outputs=((1, 4, 8, 8),)),
    ))


# conv: macs = 4 * 64 outputs per channel * 3 * 9 = 6,912; bias adds 4 * 64 = 256; ops = 2 * 6,912 + 256 = 14,080
CONV_OPS = 14_080
# relu: 4 * 8 * 8 = 256 elements, one op each by default
RELU_ELEMENTS = 256


def test_study_overrides_one_formula_without_touching_the_default() -> None:
    net = study_network()
    five_per_element = DEFAULT_COUNTERS.with_overrides(
        {OpKind.RELU: lambda layer: OpCount(other_ops=5 * layer.outputs[0][1] * 8 * 8)})
    # relu at 5 ops per element: 5 * 256 = 1,280; total 14,080 + 1,280 = 15,360
    assert count_network(net, counters=five_per_element).totals["ops"] == 15_360
    # a later plain call uses the default formula again: 14,080 + 256 = 14,336
    assert count_network(net).totals["ops"] == CONV_OPS + RELU_ELEMENTS == 14_336
    assert DEFAULT_COUNTERS.get("relu") is not five_per_element.get("relu")


def test_override_with_none_costs_zero_and_is_not_unsupported() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnsupportedOpWarning)
        cost = count_network(study_network(), counters=DEFAULT_COUNTERS.with_overrides({"relu": None}))
    relu = cost.layers.set_index("name").loc["relu"]
    assert cost.unsupported_ops == {}
    assert bool(relu.supported) and relu.ops == 0
    assert cost.totals["ops"] == CONV_OPS  # 14,080: the conv only
    # zero ops, but the tensors still move: 256 fp32 elements = 1,024 bytes read and 1,024 written
    assert (relu.input_bytes, relu.output_bytes) == (1_024, 1_024)


def test_unsupported_reporting_uses_the_registry_passed() -> None:
    only_relu = CounterRegistry({"relu": None})
    with pytest.warns(UnsupportedOpWarning, match=r"1 layer has an op kind without a counter \(\{'conv': 1\}\)"):
        cost = count_network(study_network(), counters=only_relu)
    assert cost.unsupported_ops == {"conv": 1}
    with pytest.raises(UnsupportedOpError, match=r"no counter for op kinds \{'conv': 1\}; supported kinds are: relu$"):
        count_network(study_network(), strict=True, counters=only_relu)
