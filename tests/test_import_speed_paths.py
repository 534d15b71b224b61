"""The shortcuts of issue 12's import-speed pass give what the long ways give: weight specs built without
validation, the counter's result record, the op-kind lookup, the attribute cache key, the inlined byte counts, the
dim-name check and the concrete-shape table. Expected counts are derived by hand in comments; speed itself is not
asserted here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rooflinekit.counters import count_network
from rooflinekit.counters._registry import OpCount
from rooflinekit.descriptors import DType, Layer, LayerNetwork, OpKind, Precision, TensorSpec
from rooflinekit.descriptors.attrs import _attrs_key, frozen_attrs
from rooflinekit.errors import ModelFileError, SpecError

# ------------------------------------------------------------------------------------ TensorSpec.from_typed


@pytest.mark.parametrize("fields", [
    {"shape": (4, 3, 3, 3), "dtype": None},
    {"shape": (8,), "dtype": DType.INT8},
    {"shape": (), "dtype": None},
    {"shape": (2, 5), "dtype": DType.FP32, "nbytes": 7},
    {"shape": (2, 5), "nbytes": None},
    {"shape": (6,)},
])
def test_tensor_spec_from_typed_equals_validation(fields: dict[str, object]) -> None:
    built, validated = TensorSpec.from_typed(dict(fields)), TensorSpec.model_validate(dict(fields))
    assert built == validated and hash(built) == hash(validated) and repr(built) == repr(validated)
    assert list(built.__dict__.items()) == list(validated.__dict__.items())  # same values, in field order
    assert built.model_fields_set == validated.model_fields_set == set(fields)
    assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)


@pytest.mark.parametrize("fields", [
    {"shape": (True, 3)},  # a bool is no size: validated, as model_validate would
    {"shape": [3, 4]},  # a list: validated into a tuple
    {"shape": (3,), "dtype": "int8"},  # a type name: validated into DType.INT8
])
def test_tensor_spec_from_typed_validates_other_values(fields: dict[str, object]) -> None:
    built = TensorSpec.from_typed(dict(fields))
    assert built == TensorSpec.model_validate(dict(fields))
    assert built.model_fields_set == set(fields)


@pytest.mark.parametrize("fields", [{"shape": (0, 3)}, {"shape": (3, -1)}, {"shape": (3,), "nbytes": -1},
                                    {"shape": (3,), "size": 3}])
def test_tensor_spec_from_typed_refuses_what_validation_refuses(fields: dict[str, object]) -> None:
    with pytest.raises(SpecError) as validated:
        TensorSpec.model_validate(dict(fields))
    with pytest.raises(SpecError) as built:
        TensorSpec.from_typed(dict(fields))
    assert str(built.value) == str(validated.value)


# ------------------------------------------------------------------------------------------------ OpCount


def test_op_count_keeps_its_dataclass_behaviour() -> None:
    count = OpCount(6, 2)  # positional order: macs, bias_ops, other_ops, moves_data
    assert (count.macs, count.bias_ops, count.other_ops, count.moves_data) == (6, 2, 0, True)
    assert count == OpCount(macs=6, bias_ops=2) and hash(count) == hash(OpCount(macs=6, bias_ops=2))
    assert count != OpCount(macs=6, bias_ops=2, moves_data=False)
    assert repr(OpCount(other_ops=3)) == "OpCount(macs=0, bias_ops=0, other_ops=3, moves_data=True)"
    assert dataclasses.replace(count, other_ops=5) == OpCount(6, 2, 5, True)
    assert [f.name for f in dataclasses.fields(OpCount)] == ["macs", "bias_ops", "other_ops", "moves_data"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        count.macs = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------- OpKind.parse


@pytest.mark.parametrize(("text", "expected"), [
    ("conv", OpKind.CONV), (OpKind.MATMUL, OpKind.MATMUL), ("fully_connected", OpKind.FULLY_CONNECTED),
    ("Conv", None),  # exact spelling only: an ONNX op_type is no canonical kind
    ("TfIdfVectorizer", None), ("", None), (3, None), (["conv"], None), (None, None),
])
def test_op_kind_parse(text: object, expected: OpKind | None) -> None:
    assert OpKind.parse(text) is expected  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------- attribute cache key


def test_attrs_key_tells_values_of_other_types_apart() -> None:
    ints = _attrs_key("conv", {"strides": (1, 1), "groups": 1, "bias": True})
    assert ints == _attrs_key("conv", {"strides": (1, 1), "groups": 1, "bias": True})
    for other in ({"strides": (1.0, 1.0), "groups": 1, "bias": True},  # equal by ==, other types
                  {"strides": (True, True), "groups": 1, "bias": True},
                  {"strides": [1, 1], "groups": 1, "bias": True},
                  {"strides": (1, 1), "groups": True, "bias": True},
                  {"strides": (1, 1), "groups": 1.0, "bias": True},
                  {"strides": (1, 1), "groups": 1, "bias": 1}):
        assert _attrs_key("conv", other) != ints, other
    assert _attrs_key("max_pool", {"strides": (1, 1), "groups": 1, "bias": True}) != ints  # another kind
    assert _attrs_key("conv", {"x": -0.0}) != _attrs_key("conv", {"x": 0.0})  # floats by repr
    assert _attrs_key("conv", {"x": [[1], [2]]}) != _attrs_key("conv", {"x": ((1,), (2,))})  # lists keyed as such
    with pytest.raises(TypeError):
        _attrs_key("conv", {"x": {"a": 1}})  # not hashable: frozen_attrs then validates every time


def test_frozen_attrs_validates_each_typed_set() -> None:
    first = frozen_attrs("conv", {"kernel_shape": (3, 3), "strides": (2, 2)})
    assert first["strides"] == (2, 2) and first["kernel_shape"] == (3, 3)
    # equal by == but of other types: validated on their own, with the same normalized values
    assert frozen_attrs("conv", {"kernel_shape": (3, 3), "strides": (2.0, 2.0)}) == first
    assert frozen_attrs("conv", {"kernel_shape": [3, 3], "strides": [2, 2]}) == first
    with pytest.raises(SpecError):
        frozen_attrs("conv", {"kernel_shape": (3, 3), "strides": (0, 2)})


# ---------------------------------------------------------------------------- bytes counted on the short paths


def _cost(layer: Layer, precision: str | None = None) -> dict[str, int]:
    network = LayerNetwork(name="n", source="test", layers=(layer,))
    cost = count_network(network, precision=precision)
    return {column: int(cost.layer_columns[column][0]) for column in
            ("params", "weight_bytes", "input_bytes", "output_bytes")}


def test_activation_bytes_at_the_activation_type_and_per_tensor() -> None:
    relu = Layer(name="r", op="relu", inputs=((1, 4, 8, 8),), outputs=((1, 4, 8, 8),))
    # 256 elements each side at fp32: 256 * 4 = 1024 bytes
    assert _cost(relu) == {"params": 0, "weight_bytes": 0, "input_bytes": 1024, "output_bytes": 1024}
    half = relu.model_copy(update={"output_dtypes": (DType.FP16,)})
    # the output at its own fp16: 256 * 2 = 512; the input at fp32
    assert _cost(half) == {"params": 0, "weight_bytes": 0, "input_bytes": 1024, "output_bytes": 512}
    # a precision override re-types every tensor: int8 both sides, 256 bytes each
    assert _cost(half, "int8") == {"params": 0, "weight_bytes": 0, "input_bytes": 256, "output_bytes": 256}
    # int4, an odd count: ceil(3 * 4 / 8) = 2 bytes per side
    odd = Layer(name="o", op="relu", inputs=((1, 3),), outputs=((1, 3),))
    assert _cost(odd, "int4")["input_bytes"] == _cost(odd, "int4")["output_bytes"] == 2
    view = Layer(name="v", op="reshape", inputs=((1, 4, 8, 8),), outputs=((1, 256),))
    assert _cost(view)["input_bytes"] == _cost(view)["output_bytes"] == 0  # a view moves no bytes


def test_weight_bytes_by_stored_size_own_type_or_precision() -> None:
    def conv(*weights: TensorSpec) -> Layer:
        return Layer(name="c", op="conv", inputs=((1, 3, 8, 8),), outputs=((1, 4, 6, 6),), weights=weights,
                     attrs={"kernel_shape": (3, 3)})

    weight = TensorSpec(shape=(4, 3, 3, 3))  # 4 * 3 * 3 * 3 = 108 elements
    assert _cost(conv(weight))["weight_bytes"] == 108 * 4  # the network's fp32
    assert _cost(conv(TensorSpec(shape=(4, 3, 3, 3), dtype=DType.INT8)))["weight_bytes"] == 108  # its own int8
    assert _cost(conv(TensorSpec(shape=(4, 3, 3, 3), nbytes=50)))["weight_bytes"] == 50  # its stored size
    # with a bias of 4 elements; int4 override: ceil(108 * 4 / 8) = 54, the bias at int32 (the bias type of integer
    # weights and activations, counters.cost): 4 * 4 = 16
    both = conv(TensorSpec(shape=(4, 3, 3, 3), nbytes=50), TensorSpec(shape=(4,), dtype=DType.FP16))
    assert _cost(both, "int4") == {"params": 112, "weight_bytes": 54 + 16, "input_bytes": 96, "output_bytes": 72}
    # without the override: 50 stored bytes + 4 * 2 fp16 bytes; activations at fp32: 192 * 4 and 144 * 4
    assert _cost(both) == {"params": 112, "weight_bytes": 58, "input_bytes": 768, "output_bytes": 576}


def test_a_precision_of_its_own_types_the_layer() -> None:
    layer = Layer(name="r", op="relu", inputs=((2, 5),), outputs=((2, 5),),
                  precision=Precision(weights=DType.INT8, activations=DType.FP16))
    assert _cost(layer)["input_bytes"] == 10 * 2  # 10 elements at its fp16


# ----------------------------------------------------------------------------------- ONNX: dims and shapes


onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper  # noqa: E402

from rooflinekit.importers.onnx import _heap, load_onnx  # noqa: E402
from onnx_builder import relu_chain  # noqa: E402
from rooflinekit.importers.onnx._graph import Graph  # noqa: E402
from rooflinekit.importers.onnx._shapes import Info  # noqa: E402


def test_an_invalid_dim_name_after_valid_ones_is_named(tmp_path: Path) -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", 3])])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    data = path.read_bytes().replace(b"\x12\x01M", b"\x12\x01\xfe")  # the output's dim_param 'M' -> invalid UTF-8
    assert data != path.read_bytes()
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=r"model\.onnx: tensor 'y' has a dim name that is not valid UTF-8 "
                                             r"\(b'\\xfe'\)"):
        load_onnx(path)


def test_concrete_shapes_are_the_sized_non_negative_ones(tmp_path: Path) -> None:
    shared = Info(TensorProto.FLOAT, (1, 3))  # one Info object for two tensors, as inference shares types
    infos = {"a": shared, "b": shared, "c": Info(TensorProto.FLOAT, (1, "N")), "d": Info(TensorProto.FLOAT, None),
             "e": Info(TensorProto.FLOAT, (2, -1)), "f": Info(TensorProto.FLOAT, ()), "g": Info(TensorProto.FLOAT, (0,)),
             "h": Info(TensorProto.FLOAT, (1, None))}
    graph = Graph(tmp_path / "m.onnx", 17, [], onnx.GraphProto(), {}, [], infos)
    assert graph.concrete == {"a": (1, 3), "b": (1, 3), "f": (), "g": (0,)}
    assert [graph.known(name) for name in "abcdefgh"] == [True, True, False, False, True, True, True, False]


def test_a_graph_just_below_the_trim_size_is_not_trimmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(_heap, "_malloc_trim", lambda: trims.append)
    assert len(load_onnx(relu_chain(tmp_path, _heap.MIN_NODES - 1)).layers) == _heap.MIN_NODES - 1
    assert trims == []


def test_read_tensors_and_consumers_of_a_graph(tmp_path: Path) -> None:
    from rooflinekit.importers.onnx._reading import OnnxNode

    first = OnnxNode(helper.make_node("Relu", ["x"], ["a"], name="first"))
    second = OnnxNode(helper.make_node("Add", ["a", "a"], ["b"], name="second"))
    third = OnnxNode(helper.make_node("Clip", ["b", "", "m"], ["c"], name="third"))  # min omitted
    outputs = onnx.GraphProto()
    outputs.output.add().name = "c"
    graph = Graph(tmp_path / "m.onnx", 17, [first, second, third], outputs, {}, ["x"], {})
    assert graph.read == {"x", "a", "b", "", "m"}
    assert [graph.needed(name) for name in ("x", "a", "b", "c", "m", "z")] == [True, True, True, True, True, False]
    consumers = graph.consumers  # built when first read: each reading node once per operand, in graph order
    assert consumers["a"] == [second, second] and consumers["b"] == [third] and consumers.get("c") is None
    assert graph.consumers is consumers
