"""What a precision override does to biases (:mod:`rooflinekit.counters.cost`, "bias type").

An override to the network's own precision changes nothing; an integer override keeps each layer's bias at int32
(int64 with 16-bit activations), a float one re-types it to that float, a hybrid one (integer weights, float
activations) keeps it at the activation float. Every expected value is derived by hand beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rooflinekit as rk
from rooflinekit.counters import bias_dtype, bias_position, count_layer, count_network
from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision, TensorSpec


def conv_layer(bias: bool = True) -> Layer:
    """Conv 3 -> 16 channels, 3x3, 5x5 -> 3x3: weight 16*3*3*3 = 432 elements, bias 16."""
    weights = [(16, 3, 3, 3), (16,)] if bias else [(16, 3, 3, 3)]
    return Layer(name="conv", op="conv", inputs=((1, 3, 5, 5),), outputs=((1, 16, 3, 3),), weights=weights,
                 attrs={"kernel_shape": (3, 3)})


def fc_layer() -> Layer:
    """Fully connected 128 -> 10: weight 10*128 = 1280 elements, bias 10."""
    return Layer(name="fc", op="fully_connected", inputs=((1, 128),), outputs=((1, 10),),
                 weights=[(10, 128), (10,)])


def network(*layers: Layer, precision: str = "fp32") -> LayerNetwork:
    return LayerNetwork(name="n", source="test", precision=precision, layers=layers)


def weight_bytes(net: LayerNetwork, precision: str | None) -> list[int]:
    return count_network(net, precision).layer_columns["weight_bytes"].tolist()


# ------------------------------------------------------------------------------------- re-typing an fp32 model


@pytest.mark.parametrize("precision, conv_bytes, fc_bytes", [
    # int8: 1 byte per weight, 4 per (int32) bias: conv 432 + 16*4 = 496, fc 1280 + 10*4 = 1320
    ("int8", 432 + 64, 1280 + 40),
    # int4: half a byte per weight, the bias still int32: conv 216 + 64 = 280, fc 640 + 40 = 680
    ("int4", 216 + 64, 640 + 40),
    # W-int4_A-int8: as int4 (8-bit integer activations: int32 bias)
    ("W-int4_A-int8", 216 + 64, 640 + 40),
    # W-int8_A-int16 (TFLite 16x8): int64 bias, 8 bytes: conv 432 + 128 = 560, fc 1280 + 80 = 1360
    ("W-int8_A-int16", 432 + 128, 1280 + 80),
    # fp16: 2 bytes per weight and per (fp16) bias: conv 864 + 32 = 896, fc 2560 + 20 = 2580
    ("fp16", 864 + 32, 2560 + 20),
    # bf16: as fp16
    ("bf16", 864 + 32, 2560 + 20),
    # W-int8_A-fp32 (dynamic range): int8 weights, fp32 bias: conv 432 + 64, fc 1280 + 40
    ("W-int8_A-fp32", 432 + 64, 1280 + 40),
    # W-int4_A-fp16 (weight-only): 4-bit weights, fp16 bias: conv 216 + 32 = 248, fc 640 + 20 = 660
    ("W-int4_A-fp16", 216 + 32, 640 + 20),
])
def test_an_override_types_weights_and_biases_apart(precision: str, conv_bytes: int, fc_bytes: int) -> None:
    assert weight_bytes(network(conv_layer(), fc_layer()), precision) == [conv_bytes, fc_bytes]


def test_params_and_other_columns_do_not_depend_on_the_bias_type() -> None:
    """params: 432 + 16 and 1280 + 10 elements; int8 activations: conv reads 3*5*5 = 75 bytes and writes
    16*3*3 = 144, fc reads 128 and writes 10."""
    columns = count_network(network(conv_layer(), fc_layer()), "int8").layer_columns
    assert columns["params"].tolist() == [448, 1290]
    assert columns["input_bytes"].tolist() == [75, 128] and columns["output_bytes"].tolist() == [144, 10]


def test_a_layer_without_a_bias_has_only_kernel_bytes() -> None:
    # int8: 432 weights, 1 byte each
    assert weight_bytes(network(conv_layer(bias=False)), "int8") == [432]


def test_the_bias_of_a_layer_at_its_own_integer_precision_is_int32() -> None:
    """A bias without its own dtype takes the bias type of the layer's precision, whether an override or the
    network gives it: a network built at int8 costs what an fp32 one re-typed to int8 does (496 and 1320)."""
    assert weight_bytes(network(conv_layer(), fc_layer(), precision="int8"), None) == [496, 1320]


def test_stored_dtypes_and_sizes_win_without_an_override() -> None:
    """A bias stored as int16 (2 bytes each: 16 * 2 = 32) and a kernel with its real size (500 bytes) are kept."""
    layer = Layer(name="conv", op="conv", inputs=((1, 3, 5, 5),), outputs=((1, 16, 3, 3),),
                  weights=[TensorSpec(shape=(16, 3, 3, 3), nbytes=500), TensorSpec(shape=(16,), dtype="int16")],
                  attrs={"kernel_shape": (3, 3)})
    assert weight_bytes(network(layer, precision="int8"), None) == [500 + 32]
    # a different precision re-types both: int4 kernel 216 bytes, int32 bias 64
    assert weight_bytes(network(layer, precision="int8"), "int4") == [216 + 64]


def test_count_layer_follows_the_same_convention() -> None:
    # int8 override: conv 432 + 64 = 496
    row = count_layer(conv_layer(), Precision.parse("int8"), precision_overridden=True)
    assert row["weight_bytes"] == 496


# ---------------------------------------------------------------------- an override to the network's own precision


def test_an_override_to_the_own_precision_changes_nothing() -> None:
    """An int8 network whose bias is stored int32 with 64 bytes, a kernel stored int16 (432 * 2 = 864 bytes) and a
    float layer (own precision fp32): ``int8`` keeps every one of them, as no override does."""
    quantized = Layer(name="conv", op="conv", inputs=((1, 3, 5, 5),), outputs=((1, 16, 3, 3),),
                      weights=[TensorSpec(shape=(16, 3, 3, 3), dtype="int16"),
                               TensorSpec(shape=(16,), dtype="int32", nbytes=64)],
                      attrs={"kernel_shape": (3, 3)}, output_dtypes=("int32",))
    head = Layer(name="fc", op="fully_connected", inputs=((1, 128),), outputs=((1, 10),), weights=[(10, 128), (10,)],
                 precision="fp32")
    net = network(quantized, head, precision="int8")
    own, same = count_network(net), count_network(net, "int8")
    assert same.precision == own.precision
    for column, values in own.layer_columns.items():
        assert same.layer_columns[column].tolist() == values.tolist(), column
    # conv 864 + 64; fc at fp32: (1280 + 10) * 4 = 5160; the conv writes int32: 144 * 4 = 576 bytes
    assert own.layer_columns["weight_bytes"].tolist() == [928, 5160]
    assert own.layer_columns["output_bytes"].tolist() == [576, 40]
    # spelled otherwise, still the network's precision
    assert count_network(net, Precision(weights=DType.INT8, activations=DType.INT8)).totals == own.totals


# ------------------------------------------------------------------------------------- which tensor is the bias


@pytest.mark.parametrize("layer, position", [
    (conv_layer(), 1),
    (conv_layer(bias=False), None),
    (fc_layer(), 1),
    # a transposed conv: weight (C_in, C_out, KH, KW) then bias (C_out,)
    (Layer(name="t", op="conv_transpose", inputs=((1, 4, 3, 3),), outputs=((1, 2, 5, 5),),
           weights=[(4, 2, 3, 3), (2,)], attrs={"kernel_shape": (3, 3)}), 1),
    # Gemm of two activations with a constant C: a matmul whose only weight is its bias
    (Layer(name="m", op="matmul", inputs=((2, 3), (3, 4)), outputs=((2, 4),), weights=[(4,)],
           attrs={"bias": True}), 0),
    # a bias that is an activation (bias true, one weight): no bias tensor
    (Layer(name="f", op="fully_connected", inputs=((1, 8), (4,)), outputs=((1, 4),), weights=[(4, 8)],
           attrs={"bias": True}), None),
    # two weights, but bias false: the second is not a bias
    (Layer(name="f", op="fully_connected", inputs=((1, 8),), outputs=((1, 4),), weights=[(4, 8), (4,)],
           attrs={"bias": False}), None),
    # a normalization's shift is not a layer bias
    (Layer(name="bn", op="batch_norm", inputs=((1, 4, 2, 2),), outputs=((1, 4, 2, 2),), weights=[(4,), (4,)]), None),
])
def test_bias_position(layer: Layer, position: int | None) -> None:
    assert bias_position(layer) == position


def test_a_normalization_shift_takes_the_weight_type() -> None:
    # batch_norm scale and shift, 4 + 4 elements at int8: 8 bytes
    bn = Layer(name="bn", op="batch_norm", inputs=((1, 4, 2, 2),), outputs=((1, 4, 2, 2),), weights=[(4,), (4,)])
    assert weight_bytes(network(bn), "int8") == [8]


@pytest.mark.parametrize("precision, expected", [
    ("int8", DType.INT32), ("int4", DType.INT32), ("int2", DType.INT32), ("W-int4_A-int8", DType.INT32),
    ("W-int8_A-int16", DType.INT64), ("int16", DType.INT64),
    ("fp32", DType.FP32), ("fp16", DType.FP16), ("bf16", DType.BF16), ("W-fp16_A-fp32", DType.FP16),
    ("W-int8_A-fp32", DType.FP32), ("W-int4_A-fp16", DType.FP16), ("W-int4_A-bf16", DType.BF16),
])
def test_bias_dtype(precision: str, expected: DType) -> None:
    assert bias_dtype(Precision.parse(precision)) is expected


# --------------------------------------------------------------------------------- both importers, one layer


onnx = pytest.importorskip("onnx")
pytest.importorskip("tflite")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.importers import load_model  # noqa: E402
from tflite_builder import I8, I32, VALID, Graph, Op, T, build_tflite, const  # noqa: E402


def _onnx_file(folder: Path, node: object, x: tuple[int, ...], y: tuple[int, ...],
               constants: dict[str, np.ndarray]) -> Path:
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
                              [numpy_helper.from_array(v, n) for n, v in constants.items()])
    path = folder / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _tflite_file(folder: Path, tensors: list[T], code: str, options: tuple[str, dict] | None = None) -> Path:
    ins, outs = list(range(len(tensors) - 1)), [len(tensors) - 1]
    path = folder / "model.tflite"
    path.write_bytes(build_tflite(Graph(tensors, [Op(code, ins, outs, options)], [0], outs)))
    return path


def test_both_importers_give_a_conv_the_same_int8_bytes(tmp_path: Path) -> None:
    """An fp32 conv with bias (3 -> 16, 3x3, 5x5 -> 3x3, VALID) from ONNX and from TFLite, re-typed to int8:
    432 weight bytes + 16 * 4 bias bytes = 496 from both."""
    (tmp_path / "onnx").mkdir()
    (tmp_path / "tflite").mkdir()
    from_onnx = load_model(_onnx_file(
        tmp_path / "onnx", helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3]), (1, 3, 5, 5),
        (1, 16, 3, 3), {"w": np.zeros((16, 3, 3, 3), np.float32), "b": np.zeros(16, np.float32)}))
    options = ("Conv2DOptions", {"Padding": VALID, "StrideH": 1, "StrideW": 1, "DilationHFactor": 1,
                                 "DilationWFactor": 1})
    from_tflite = load_model(_tflite_file(tmp_path / "tflite", [T((1, 5, 5, 3)), const((16, 3, 3, 3)), const((16,)),
                                                                 T((1, 3, 3, 16))], "CONV_2D", options))
    assert weight_bytes(from_onnx, "int8") == weight_bytes(from_tflite, "int8") == [496]
    # fp16: (432 + 16) * 2 = 896 from both
    assert weight_bytes(from_onnx, "fp16") == weight_bytes(from_tflite, "fp16") == [896]


def test_both_importers_give_a_fully_connected_layer_the_same_int8_bytes(tmp_path: Path) -> None:
    """Gemm and FULLY_CONNECTED 128 -> 10 with bias, re-typed to int8: 1280 + 10 * 4 = 1320; int4: 640 + 40."""
    (tmp_path / "onnx").mkdir()
    (tmp_path / "tflite").mkdir()
    from_onnx = load_model(_onnx_file(
        tmp_path / "onnx", helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1), (1, 128), (1, 10),
        {"w": np.zeros((10, 128), np.float32), "b": np.zeros(10, np.float32)}))
    from_tflite = load_model(_tflite_file(tmp_path / "tflite", [T((1, 128)), const((10, 128)), const((10,)),
                                                                 T((1, 10))], "FULLY_CONNECTED"))
    assert weight_bytes(from_onnx, "int8") == weight_bytes(from_tflite, "int8") == [1320]
    assert weight_bytes(from_onnx, "int4") == weight_bytes(from_tflite, "int4") == [680]


def test_both_importers_give_an_int8_conv_the_same_bytes(tmp_path: Path) -> None:
    """An int8 conv with its int32 bias, as ONNX QLinearConv and as a TFLite int8 CONV_2D: 432 + 16 * 4 = 496
    stored bytes, kept by ``int8`` (its own precision); ``int4``: 216 + 64 = 280; ``fp16``: (432 + 16) * 2 = 896."""
    (tmp_path / "onnx").mkdir()
    (tmp_path / "tflite").mkdir()
    scale, zero = np.array(0.5, np.float32), np.array(0, np.int8)
    constants = {"xs": scale, "xz": zero, "w": np.zeros((16, 3, 3, 3), np.int8), "ws": scale, "wz": zero,
                 "ys": scale, "yz": zero, "b": np.zeros(16, np.int32)}
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            kernel_shape=[3, 3])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT8, (1, 3, 5, 5))],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, (1, 16, 3, 3))],
                              [numpy_helper.from_array(v, n) for n, v in constants.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "onnx" / "q.onnx")
    from_onnx = load_model(tmp_path / "onnx" / "q.onnx")
    options = ("Conv2DOptions", {"Padding": VALID, "StrideH": 1, "StrideW": 1, "DilationHFactor": 1,
                                 "DilationWFactor": 1})
    from_tflite = load_model(_tflite_file(tmp_path / "tflite", [T((1, 5, 5, 3), I8), const((16, 3, 3, 3), I8),
                                                                 const((16,), I32), T((1, 3, 3, 16), I8)],
                                          "CONV_2D", options))
    assert from_onnx.precision == from_tflite.precision == Precision.parse("int8")
    for precision, expected in ((None, 496), ("int8", 496), ("int4", 280), ("fp16", 896)):
        assert weight_bytes(from_onnx, precision) == weight_bytes(from_tflite, precision) == [expected], precision


# ------------------------------------------------------------------------------- the MLPerf Tiny anomaly detector


def test_ad01_int8_predicts_the_same_with_its_own_precision(mlperf_dir: Path) -> None:
    """ad01 (ten fully connected layers 640-128-128-128-128-8-128-128-128-128-640) has
    640*128*2 + 128*128*6 + 128*8*2 = 264,192 int8 weights and 128*8 + 8 + 640 = 1,672 int32 biases:
    264,192 + 4 * 1,672 = 270,880 weight bytes, with or without ``int8``; the fp32 model re-typed to int8 too."""
    models = mlperf_dir / "models"
    int8, fp32 = load_model(models / "ad01_int8.tflite"), load_model(models / "ad01_fp32.tflite")
    assert count_network(int8).totals["weight_bytes"] == 270_880
    assert count_network(int8, "int8").totals == count_network(int8).totals
    assert count_network(fp32, "int8").totals["weight_bytes"] == 270_880
    hardware = rk.get_hardware("NUCLEO-L4R5ZI")
    assert rk.predict(int8, hardware, precision="int8").fps == rk.predict(int8, hardware).fps
