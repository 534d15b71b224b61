"""The shortcuts taken to import and count small ONNX graphs faster give what the long ways give: networks built
without revalidating their layers, remembered tensor types, weight specs and precisions, counts checked column by
column, dims checked over all layers at once, small files read whole. Speed itself is not asserted here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper  # noqa: E402

from rooflinekit._limits import MAX_DIM  # noqa: E402
from rooflinekit.counters import DEFAULT_COUNTERS, count_network  # noqa: E402
from rooflinekit.counters._registry import OpCount  # noqa: E402
from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision, TensorSpec  # noqa: E402
from rooflinekit.errors import CountOverflowError, ModelFileError, ShapeError, SpecError  # noqa: E402
from rooflinekit.importers._precision import precision_of  # noqa: E402
from rooflinekit.importers._semantic import check_layers  # noqa: E402
from rooflinekit.importers.onnx import _layers, _shapes, load_onnx  # noqa: E402
from rooflinekit.importers.onnx._reading import read_model  # noqa: E402
from rooflinekit.importers.onnx._shapes import Info  # noqa: E402

FP32 = Precision(weights=DType.FP32, activations=DType.FP32)


def _layers_pair() -> tuple[Layer, ...]:
    return (Layer(name="c", op="conv", inputs=((1, 3, 8, 8),), outputs=((1, 4, 8, 8),), weights=[(4, 3, 3, 3)],
                  attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
            Layer(name="r", op="relu", inputs=((1, 4, 8, 8),), outputs=((1, 4, 8, 8),), output_dtypes=("fp16",)))


# ------------------------------------------------------------------------------- LayerNetwork.from_layers


def test_from_layers_equals_validation() -> None:
    layers = _layers_pair()
    fast = LayerNetwork.from_layers(name="n", precision=FP32, source="m.onnx", batch=2, layers=layers)
    slow = LayerNetwork(name="n", precision=FP32, source="m.onnx", batch=2, layers=layers)
    assert fast == slow
    assert list(fast.__dict__.items()) == list(slow.__dict__.items())  # same fields, in the same order
    assert fast.__pydantic_fields_set__ == slow.__pydantic_fields_set__ == {"name", "precision", "source", "batch",
                                                                           "layers"}
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.accuracy_top1_pct == {} and fast.accuracy_top1_pct is not slow.accuracy_top1_pct  # one each


@pytest.mark.parametrize(("changes", "match"), [
    ({"name": ""}, "name"),
    ({"source": ""}, "source"),
    ({"batch": 0}, "batch"),
    ({"layers": ()}, "layers"),
    ({"layers": (Layer(name="x", op="relu"), Layer(name="x", op="relu"))}, "duplicate layer name 'x'"),
])
def test_from_layers_reports_what_validation_reports(changes: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {"name": "n", "precision": FP32, "source": "m.onnx", "batch": 1,
                                 "layers": _layers_pair(), **changes}
    with pytest.raises(SpecError, match=match) as slow:
        LayerNetwork(**fields)  # type: ignore[arg-type]
    with pytest.raises(SpecError) as fast:
        LayerNetwork.from_layers(**fields)  # type: ignore[arg-type]
    assert str(fast.value) == str(slow.value)


# -------------------------------------------------------------------------- remembered values


def test_precision_of_is_one_validated_instance_per_pair() -> None:
    first = precision_of(DType.INT8, DType.FP32)
    assert first == Precision(weights=DType.INT8, activations=DType.FP32)
    assert precision_of(DType.INT8, DType.FP32) is first
    assert precision_of(DType.FP32, DType.INT8) == Precision(weights=DType.FP32, activations=DType.INT8)


@pytest.mark.parametrize(("value_type", "expected"), [
    # sizes, a dim name and an anonymous dim ('?': no letter, so no name); FLOAT is type 1
    (helper.make_tensor_type_proto(TensorProto.FLOAT, [1, "batch", "?"]), Info(1, (1, "batch", None))),
    (helper.make_tensor_type_proto(TensorProto.INT64, [0, 3]), Info(7, (0, 3))),  # an explicit 0 stays 0
    (helper.make_tensor_type_proto(TensorProto.FLOAT, None), Info(1, None)),  # no shape: rank unknown
    (helper.make_tensor_type_proto(TensorProto.FLOAT, []), Info(1, ())),  # a scalar
    (helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2])), Info(0, None)),
])
def test_type_info_reads_the_type(value_type: onnx.TypeProto, expected: Info) -> None:
    _shapes._TYPE_INFOS.clear()
    assert _shapes._type_info(value_type) == expected  # read from the fields
    assert _shapes._type_info(onnx.TypeProto.FromString(value_type.SerializeToString())) == expected  # remembered


def test_type_infos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shapes, "_TYPE_INFOS", {})
    monkeypatch.setattr(_shapes, "_TYPE_INFOS_LIMIT", 2)
    for size in (1, 2, 3):
        assert _shapes._type_info(helper.make_tensor_type_proto(TensorProto.FLOAT, [size])) == Info(1, (size,))
    assert len(_shapes._TYPE_INFOS) == 1  # cleared when full, then the third type remembered


def test_weight_specs_are_shared_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_layers, "_SPECS", {})
    spec = _layers._spec((4, 3, 3, 3), DType.INT8)
    assert spec == TensorSpec.model_validate({"shape": (4, 3, 3, 3), "dtype": "int8"})
    assert _layers._spec((4, 3, 3, 3), DType.INT8) is spec
    assert _layers._spec((4, 3, 3, 3), None) == TensorSpec(shape=(4, 3, 3, 3))
    monkeypatch.setattr(_layers, "_SPECS_LIMIT", 2)
    _layers._spec((5,), None)
    assert len(_layers._SPECS) == 1  # cleared when full


def test_a_layer_without_attrs_stores_a_read_only_empty_mapping() -> None:
    built = Layer.from_typed({"name": "r", "op": "relu", "attrs": {}})
    validated = Layer(name="r", op="relu")
    assert built == validated and built.attrs == {} and validated.attrs == {}
    with pytest.raises(TypeError):
        validated.attrs["x"] = 1  # type: ignore[index]


# ------------------------------------------------------------------------------------- counting


def _net(*layers: Layer) -> LayerNetwork:
    return LayerNetwork(name="n", source="test", layers=layers)


def _registry(**counters: object):
    return DEFAULT_COUNTERS.with_overrides(counters)  # type: ignore[arg-type]


def test_an_earlier_inexact_count_is_reported_before_a_later_counter_error() -> None:
    def negative(layer: Layer) -> OpCount:
        return OpCount(macs=-5)

    def failing(layer: Layer) -> OpCount:
        raise ShapeError(f"layer {layer.name!r} cannot be counted")

    net = _net(Layer(name="a", op="relu", outputs=((1, 4),)), Layer(name="b", op="sigmoid", outputs=((1, 4),)))
    with pytest.raises(SpecError, match=r"layer 'a' \(relu\): macs = -5 is negative") as info:
        count_network(net, counters=_registry(relu=negative, sigmoid=failing))
    assert info.value.__suppress_context__  # reported as if layer 'b' had never been reached
    # the same counter error alone propagates as it is
    with pytest.raises(ShapeError, match="layer 'b' cannot be counted"):
        count_network(net, counters=_registry(sigmoid=failing))


def test_counts_checked_by_column_accept_numpy_ints_and_refuse_others() -> None:
    net = _net(Layer(name="a", op="relu", outputs=((1, 4),)), Layer(name="b", op="relu", outputs=((1, 4),)))
    # numpy integers are exact counts: layer b's macs 3 and other_ops 4 (one op per element of its (1, 4) output)
    cost = count_network(net, counters=_registry(relu=lambda layer: OpCount(macs=np.int64(3), other_ops=4)))
    assert cost.totals["macs"] == 6 and cost.totals["ops"] == 2 * 6 + 8
    with pytest.raises(SpecError, match=r"layer 'a' \(relu\): other_ops is 1.5, not an integer count"):
        count_network(net, counters=_registry(relu=lambda layer: OpCount(other_ops=1.5)))  # type: ignore[arg-type]
    with pytest.raises(CountOverflowError, match=r"layer 'a' \(relu\): macs = .* at batch 1 exceeds"):
        count_network(net, counters=_registry(relu=lambda layer: OpCount(macs=2 ** 63)))


def test_rescaled_counts_are_checked_at_the_new_batch() -> None:
    net = _net(Layer(name="a", op="relu", outputs=((1, 4),)))
    huge = 2 ** 62  # in range at batch 1, 4 * 2**62 = 2**64 over int64 at batch 4
    counters = _registry(relu=lambda layer: OpCount(other_ops=huge))
    assert count_network(net, counters=counters).totals["ops"] == huge
    with pytest.raises(CountOverflowError, match=r"layer 'a' \(relu\): other_ops = .* at batch 4 exceeds"):
        count_network(net, batch=4, counters=counters)


# --------------------------------------------------------------------------------- semantic checks


def test_dims_over_the_limit_name_the_first_such_layer() -> None:
    big = MAX_DIM + 1
    layers = [Layer(name="ok", op="relu", inputs=((1, 4),), outputs=((1, 4),)),
              Layer(name="wide", op="relu", inputs=((1, big),), outputs=((1, big),)),
              Layer(name="heavy", op="add", inputs=((1, 4),), outputs=((1, 4),), weights=[(big,)])]
    with pytest.raises(ShapeError, match=rf"layer 'wide' \(relu\): shape \[1, {big}\] has a dim above {MAX_DIM}"):
        check_layers(layers, "m.onnx")
    with pytest.raises(ShapeError, match=r"layer 'heavy'"):
        check_layers(iter([layers[0], layers[2]]), "m.onnx")  # any iterable, a weight's dims too
    check_layers(iter(layers[:1]), "m.onnx")


def test_an_earlier_window_error_comes_before_a_later_dim_error() -> None:
    # 3x3 kernel, pads 1, stride 1 on 8x8 gives 8x8, not the 5x5 written: layer 'c' fails before 'wide' is read
    bad = Layer(name="c", op="conv", inputs=((1, 3, 8, 8),), outputs=((1, 4, 5, 5),), weights=[(4, 3, 3, 3)],
                attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    wide = Layer(name="wide", op="relu", inputs=((1, MAX_DIM + 1),), outputs=((1, MAX_DIM + 1),))
    with pytest.raises(ShapeError, match=r"layer 'c' \(conv\): output \[1, 4, 5, 5\] contradicts"):
        check_layers([bad, wide], "m.onnx")


# ------------------------------------------------------------------------------------------ reading


def _relu_model() -> onnx.ModelProto:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "relu_net",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("suffix", [".onnx", ".txtpb", ".model"])
def test_a_small_file_is_read_as_onnx_load_reads_it(tmp_path: Path, suffix: str) -> None:
    """A file is parsed in the format its suffix names (text for .txtpb), protobuf otherwise, as onnx.load does."""
    path = tmp_path / f"m{suffix}"
    onnx.save(_relu_model(), str(path), format="textproto" if suffix == ".txtpb" else "protobuf")
    model, nodes = read_model(path)
    assert model == onnx.load(str(path), load_external_data=False)
    assert [node.op_type for node in nodes] == ["Relu"]
    network = load_onnx(path)
    # Relu on (2, 4): one layer, batch 2, 8 ops (one per output element)
    assert [layer.name for layer in network.layers] == ["r"] and network.batch == 2
    assert count_network(network).totals["ops"] == 8


def test_an_unreadable_small_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff")  # ir_version 7, then a truncated string field
    with pytest.raises(ModelFileError, match=r"broken.onnx: not a readable ONNX protobuf"):
        read_model(path)
