"""Defects found by importing model files as users bring them (ONNX variants, MLPerf Tiny TFLite models resized).

Every expected count is derived by hand in a comment (conv ``macs = N * C_out * H_out * W_out * C_in / groups *
kh * kw``; matmul and fully_connected ``macs = rows * K * N``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ModelFileError, ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402

F32 = TensorProto.FLOAT
MLPERF_TINY = Path("/work/shared/data/mlperf_tiny/models")


def macs(path: Path, **kwargs: object) -> int:
    return int(count_network(load_model(path, **kwargs)).totals["macs"])


def _conv_reshape_matmul(tmp_path: Path) -> onnx.ModelProto:
    """x (N, 8, 4, 4) -> Conv w (16, 8, 3, 3) -> (N, 16, 2, 2) -> Reshape to the constant [-1, 64] -> MatMul
    (64, 10) -> (N, 10). MACs per frame: conv 16 * 2 * 2 * 8 * 3 * 3 = 4608, matmul 64 * 10 = 640; 5248."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="flatten"),
             helper.make_node("MatMul", ["r", "fc"], ["y"], name="fc")]
    weights = [numpy_helper.from_array(np.ones((16, 8, 3, 3), np.float32), "w"),
               numpy_helper.from_array(np.asarray([-1, 64], np.int64), "shape"),
               numpy_helper.from_array(np.ones((64, 10), np.float32), "fc")]
    graph = helper.make_graph(nodes, "trial", [helper.make_tensor_value_info("x", F32, ["N", 8, 4, 4])],
                              [helper.make_tensor_value_info("y", F32, ["N", 10])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


# ------------------------------------------------------------------------------------------ ONNX external data


@pytest.mark.parametrize("one_file", [True, False])
def test_external_data_of_every_tensor_keeps_the_shape_constants(tmp_path: Path, one_file: bool) -> None:
    """``save_as_external_data`` with ``size_threshold=0`` (as large exports store every initializer, the Reshape
    target included): the target is read from the data file, so the shapes resolve as with inline data."""
    path = tmp_path / "m.onnx"
    onnx.save_model(_conv_reshape_matmul(tmp_path), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=one_file, location="m.data", size_threshold=0)
    model = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
    assert macs(path) == 5248
    assert macs(path, batch=3) == 3 * 5248


def test_external_shape_constant_shorter_than_its_dims_is_a_file_error(tmp_path: Path) -> None:
    """The Reshape target (2 int64 = 16 bytes) whose external entry declares 8 bytes: a malformed file."""
    path = tmp_path / "m.onnx"
    onnx.save_model(_conv_reshape_matmul(tmp_path), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="m.data", size_threshold=0)
    model = onnx.load(str(path), load_external_data=False)
    shape = next(t for t in model.graph.initializer if t.name == "shape")
    next(e for e in shape.external_data if e.key == "length").value = "8"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFileError, match=r"m\.onnx: external data of tensor 'shape' holds 8 bytes, but its "
                                             r"type and dims \[2\] need 16"):
        load_model(path)


# ------------------------------------------------------------------------------ ONNX input shapes that do not fit


def _conv_pool(tmp_path: Path) -> Path:
    """x (N, 3, H, W) -> Conv w (4, 3, 3, 3), no pads -> (N, 4, H-2, W-2) -> AveragePool 5x5, no pads -> (N, 4,
    H-6, W-6)."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("AveragePool", ["c"], ["y"], name="pool", kernel_shape=[5, 5])]
    graph = helper.make_graph(nodes, "trial", [helper.make_tensor_value_info("x", F32, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", F32, None)],
                              [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "convpool.onnx"
    onnx.save(model, str(path))
    return path


def test_input_shape_that_fits_counts(tmp_path: Path) -> None:
    # (1, 3, 8, 8): conv -> (1, 4, 6, 6): 4 * 36 * 3 * 9 = 3888 MACs; the pool has none
    assert macs(_conv_pool(tmp_path), input_shapes={"x": [1, 3, 8, 8]}) == 3888


@pytest.mark.parametrize("size", [5, 4])
def test_input_too_small_for_a_window_names_the_node(tmp_path: Path, size: int) -> None:
    """(1, 3, 5, 5): conv -> 3x3, the 5x5 pool gives 3 - 5 + 1 = -1 (4x4: -2), a negative size: a ShapeError
    naming the pool and what to do, not a malformed-file error."""
    with pytest.raises(ShapeError, match=r"convpool\.onnx: node 'pool' \(AveragePool\) computes tensor 'y' of shape "
                                         rf"\[1, 4, {size - 6}, {size - 6}\], a negative size, .*import the model at "
                                         r"a larger input size"):
        load_model(_conv_pool(tmp_path), input_shapes={"x": [1, 3, size, size]})


def test_input_that_leaves_a_window_output_empty_names_the_layer(tmp_path: Path) -> None:
    """(1, 3, 6, 6): conv -> 4x4, the 5x5 pool gives 4 - 5 + 1 = 0: an empty output from a non-empty input, refused
    at import with the path (the counter said only 'has no output shape')."""
    with pytest.raises(ShapeError, match=r"convpool\.onnx: layer 'pool' \(AveragePool\): input \[1, 4, 4, 4\] is "
                                         r"smaller than its window: .* give spatial dims \[0, 0\]; import the model "
                                         r"at a larger input size"):
        load_model(_conv_pool(tmp_path), input_shapes={"x": [1, 3, 6, 6]})


def test_channels_last_input_shape_says_input_shapes_may_be_at_fault(tmp_path: Path) -> None:
    """An NCHW model given NHWC dims (1, 4, 4, 8): the conv weight (16, 8, 3, 3) contradicts 4 input channels."""
    path = tmp_path / "m.onnx"
    onnx.save(_conv_reshape_matmul(tmp_path), str(path))
    with pytest.raises(ShapeError, match=r"layer 'conv' \(Conv\): weight \[16, 8, 3, 3\] contradicts input "
                                         r"\[1, 4, 4, 8\].*or the input shapes given do not fit it"):
        load_model(path, input_shapes={"x": [1, 4, 4, 8]})


# ----------------------------------------------------------------------- TFLite input resizing that does not fit


def _tflite_cnn(tmp_path: Path) -> Path:
    """x (1, 8, 8, 3) NHWC, dynamic batch (-1 leading in every activation's signature, as the converter writes)
    -> CONV_2D 3x3 VALID, 4 filters (OHWI (4, 3, 3, 3)) -> (1, 6, 6, 4) -> AVERAGE_POOL_2D
    3x3 VALID stride 1 -> (1, 4, 4, 4) -> FULLY_CONNECTED (10, 64) -> (1, 10)."""
    pytest.importorskip("tflite", reason="the TFLite importer needs the optional tflite package")
    from tflite_builder import VALID, Graph, Op, T, build_tflite, const

    conv = ("Conv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                              "DilationHFactor": 1})
    pool = ("Pool2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "FilterWidth": 3, "FilterHeight": 3})
    tensors = [T((1, 8, 8, 3), name="x", signature=(-1, 8, 8, 3)), const((4, 3, 3, 3)),
               T((1, 6, 6, 4), signature=(-1, 6, 6, 4)), T((1, 4, 4, 4), signature=(-1, 4, 4, 4)), const((10, 64)),
               T((1, 10), signature=(-1, 10))]
    ops = [Op("CONV_2D", [0, 1], [2], conv), Op("AVERAGE_POOL_2D", [2], [3], pool),
           Op("FULLY_CONNECTED", [3, 4], [5], ("FullyConnectedOptions", {}))]
    path = tmp_path / "cnn.tflite"
    path.write_bytes(build_tflite(Graph(tensors, ops, [0], [5])))
    return path


def test_tflite_stored_and_batch_resize_count(tmp_path: Path) -> None:
    path = _tflite_cnn(tmp_path)
    # conv 4 * 6 * 6 * 3 * 3 * 3 = 3888, FC 10 * 64 = 640: 4528 per frame
    assert macs(path) == 4528
    # (2, 8, 8, 3): the FC reads 2 rows of 64: twice as many
    assert macs(path, input_shapes={"x": [2, 8, 8, 3]}) == 2 * 4528


def test_tflite_channels_first_input_shape_is_named_at_the_conv(tmp_path: Path) -> None:
    """(1, 3, 8, 8) given for an NHWC input: 8 channels for a weight of 3 (8 is not a multiple of 3): before, a
    ModelFileError called the file malformed."""
    with pytest.raises(ShapeError, match=r"cnn\.tflite: operator 0 \(CONV_2D\): cannot propagate the resized input "
                                         r"shapes .*\(the input has 8 channels, the weight \[4, 3, 3, 3\] \(OHWI\) "
                                         r"takes 3 .*give input_shapes as full dims in the file's NHWC order"):
        load_model(_tflite_cnn(tmp_path), input_shapes={"x": [1, 3, 8, 8]})


def test_tflite_input_too_small_for_the_pool_is_named(tmp_path: Path) -> None:
    """(1, 4, 4, 3): conv -> (1, 2, 2, 4), the 3x3 VALID pool gives 2 - 3 + 1 = 0 rows."""
    with pytest.raises(ShapeError, match=r"operator 1 \(AVERAGE_POOL_2D\): cannot propagate the resized input shapes "
                                         r"\[\[1, 2, 2, 4\]\] \(it would output \[1, 0, 0, 4\], a dim below 1"):
        load_model(_tflite_cnn(tmp_path), input_shapes={"x": [1, 4, 4, 3]})


def test_tflite_fully_connected_input_of_partial_rows_is_named(tmp_path: Path) -> None:
    """(1, 9, 9, 3): conv -> (1, 7, 7, 4), pool -> (1, 5, 5, 4) = 100 elements, not whole rows of 64: before, the
    FC got 100 // 64 = 1 row silently (and 0 rows a ModelFileError)."""
    with pytest.raises(ShapeError, match=r"operator 2 \(FULLY_CONNECTED\): .*\(the input \[1, 5, 5, 4\] does not "
                                         r"hold whole rows of the weight's 64 features\)"):
        load_model(_tflite_cnn(tmp_path), input_shapes={"x": [1, 9, 9, 3]})


@pytest.mark.skipif(not (MLPERF_TINY / "str_ww_ref_model.tflite").is_file(), reason="MLPerf Tiny models not present")
def test_mlperf_tiny_streaming_model_resized_in_time() -> None:
    """str_ww_ref_model (1, 30, 1, 40) resized to 60 frames: DW 3 -> 58, 1x1 128 -> 58, DW 5 -> 54, 1x1 -> 54,
    DW 10 -> 45, 1x1 -> 45, DW 15 -> 31, 1x1 32 -> 31, Reshape [-1, 32] -> 31 rows, FC 3.
    MACs: 58*40*3 + 58*128*40 + 54*128*5 + 54*128*128 + 45*128*10 + 45*128*128 + 31*128*15 + 31*32*128 + 31*3*32
    = 6960 + 296960 + 34560 + 884736 + 57600 + 737280 + 59520 + 126976 + 2976 = 2207568."""
    path = MLPERF_TINY / "str_ww_ref_model.tflite"
    assert macs(path) == 826368  # the README's count at the stored 30 frames
    assert macs(path, input_shapes={"serving_default_input_1:0": [1, 60, 1, 40]}) == 2207568
    with pytest.raises(ShapeError, match=r"operator 4 \(DEPTHWISE_CONV_2D\): .*a dim below 1"):
        load_model(path, input_shapes={"serving_default_input_1:0": [1, 10, 1, 40]})


# ------------------------------------------------------------ onnxruntime-optimized graphs (com.microsoft ops)

MS = "com.microsoft"


def _ms_model(tmp_path: Path, nodes: list[onnx.NodeProto], x: list[int], weights: dict[str, tuple[int, ...]],
              opset: int = 17) -> Path:
    """A graph reading x, with the given zero weights, whose output is its last node's first output, importing the
    default and com.microsoft domains as onnxruntime's saved optimized models do."""
    graph = helper.make_graph(nodes, "ort_optimized", [helper.make_tensor_value_info("x", F32, x)],
                              [helper.make_tensor_value_info(nodes[-1].output[0], F32, None)],
                              [numpy_helper.from_array(np.zeros(shape, np.float32), name)
                               for name, shape in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    model.ir_version = 10
    path = tmp_path / "ort.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("trans_b, w", [(0, (64, 32)), (1, (32, 64))])
def test_fused_matmul_is_a_counted_product(tmp_path: Path, trans_b: int, w: tuple[int, int]) -> None:
    """FusedMatMul x (2, 16, 64) @ W' (64, 32), then Relu: a matmul of 2 * 16 * 32 * 64 = 65536 MACs, the Relu
    2 * 16 * 32 = 1024 ops on its (2, 16, 32) output (before: its output shape unknown, a ShapeError)."""
    path = _ms_model(tmp_path, [helper.make_node("FusedMatMul", ["x", "W"], ["m"], domain=MS, alpha=1.0,
                                                 transB=trans_b, name="fmm"),
                                helper.make_node("Relu", ["m"], ["y"], name="relu")], [2, 16, 64], {"W": w})
    cost = count_network(load_model(path))
    rows = cost.layers.set_index("name")
    assert not cost.unsupported_ops
    assert int(rows.loc["fmm", "macs"]) == 65536 and int(rows.loc["relu", "ops"]) == 1024


def test_fused_matmul_of_two_activations(tmp_path: Path) -> None:
    """FusedMatMul x (2, 16, 64) @ x^T (transB): (2, 16, 16), 2 * 16 * 16 * 64 = 32768 MACs; Relu 512 ops."""
    path = _ms_model(tmp_path, [helper.make_node("FusedMatMul", ["x", "x"], ["m"], domain=MS, transB=1, name="fmm"),
                                helper.make_node("Relu", ["m"], ["y"], name="relu")], [2, 16, 64], {})
    rows = count_network(load_model(path)).layers.set_index("name")
    assert int(rows.loc["fmm", "macs"]) == 32768 and int(rows.loc["relu", "ops"]) == 512


def test_fused_conv_counts_as_conv_with_its_activation(tmp_path: Path) -> None:
    """FusedConv (Relu) x (1, 8, 16, 16), W (4, 8, 3, 3), pads 1, stride 2: out (1, 4, 8, 8) =
    floor((16 + 2 - 3) / 2) + 1 = 8; MACs 4 * 8 * 8 * 8 * 3 * 3 = 18432. The same Conv followed by a Relu costs the
    same MACs, and its Relu's 256 ops are the fused activation's."""
    conv = {"pads": [1, 1, 1, 1], "strides": [2, 2], "kernel_shape": [3, 3]}
    fused = _ms_model(tmp_path, [helper.make_node("FusedConv", ["x", "W"], ["c"], domain=MS, activation="Relu",
                                                  name="conv", **conv),
                                 helper.make_node("Sigmoid", ["c"], ["y"], name="sig")], [1, 8, 16, 16],
                      {"W": (4, 8, 3, 3)})
    network = load_model(fused)
    cost = count_network(network)
    rows = cost.layers.set_index("name")
    assert network.layers[0].outputs == ((1, 4, 8, 8),) and not cost.unsupported_ops
    assert int(rows.loc["conv", "macs"]) == 18432 and int(rows.loc["sig", "ops"]) == 256
    plain_path = tmp_path / "plain"
    plain_path.mkdir()
    plain = _ms_model(plain_path, [helper.make_node("Conv", ["x", "W"], ["c0"], name="conv", **conv),
                                   helper.make_node("Relu", ["c0"], ["c"], name="relu"),
                                   helper.make_node("Sigmoid", ["c"], ["y"], name="sig")], [1, 8, 16, 16],
                      {"W": (4, 8, 3, 3)})
    reference = count_network(load_model(plain)).layers.set_index("name")
    assert int(rows.loc["conv", "ops"]) == int(reference.loc["conv", "ops"]) + int(reference.loc["relu", "ops"])


def test_fused_gemm_counts_as_fully_connected(tmp_path: Path) -> None:
    """FusedGemm x (2, 64) @ W^T, W (32, 64) (transB): 2 * 32 * 64 = 4096 MACs, then Relu on (2, 32): 64 ops."""
    path = _ms_model(tmp_path, [helper.make_node("FusedGemm", ["x", "W"], ["g"], domain=MS, transB=1,
                                                 activation="Relu", name="gemm"),
                                helper.make_node("Relu", ["g"], ["y"], name="relu")], [2, 64], {"W": (32, 64)})
    rows = count_network(load_model(path)).layers.set_index("name")
    assert int(rows.loc["gemm", "macs"]) == 4096 and int(rows.loc["relu", "ops"]) == 64


def test_skip_layer_normalization_shapes_resolve_and_it_is_counted(tmp_path: Path) -> None:
    """SkipLayerNormalization x + x over (2, 16, 64), its output 0 and its sum output 3 read by Relus of 2048 ops
    each: the import goes on, and the op is counted as its residual add (1 op per element) plus a layer norm (7 ops
    per element, as LayerNormalization): (1 + 7) x 2048 = 16,384 ops, nothing unsupported."""
    nodes = [helper.make_node("SkipLayerNormalization", ["x", "x", "g", "g"], ["n", "", "", "sum"], domain=MS,
                              name="skipln"),
             helper.make_node("Relu", ["sum"], ["r"], name="relu_sum"),
             helper.make_node("Add", ["n", "r"], ["y"], name="add")]
    path = _ms_model(tmp_path, nodes, [2, 16, 64], {"g": (64,)})
    cost = count_network(load_model(path))
    rows = cost.layers.set_index("name")
    assert not cost.unsupported_ops and int(rows.loc["skipln", "ops"]) == (1 + 7) * 2048
    assert int(rows.loc["relu_sum", "ops"]) == 2048 and int(rows.loc["add", "ops"]) == 2048


def test_simplified_layer_normalization_costs_as_rms_normalization(tmp_path: Path) -> None:
    """onnxruntime's SimplifiedLayerNormalization (default domain) is RMSNormalization: the same layer, the same
    cost as ONNX's own RMSNormalization (opset 23) on x (2, 16, 64) with scale (64,)."""
    simplified = _ms_model(tmp_path, [helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["n"], axis=-1,
                                                       name="norm"),
                                      helper.make_node("Relu", ["n"], ["y"], name="relu")], [2, 16, 64], {"g": (64,)})
    standard_dir = tmp_path / "standard"
    standard_dir.mkdir()
    standard = _ms_model(standard_dir, [helper.make_node("RMSNormalization", ["x", "g"], ["n"], axis=-1, name="norm"),
                                        helper.make_node("Relu", ["n"], ["y"], name="relu")], [2, 16, 64],
                         {"g": (64,)}, opset=23)
    got, want = count_network(load_model(simplified)), count_network(load_model(standard))
    assert not got.unsupported_ops and want.layers.loc[0, "ops"] > 0
    columns = ["op", "macs", "ops", "params", "weight_bytes", "input_bytes", "output_bytes"]
    assert got.layers[columns].to_dict("records") == want.layers[columns].to_dict("records")


def test_unknown_custom_op_is_not_called_data_dependent(tmp_path: Path) -> None:
    """An op of a custom domain reading the graph input as its second operand: its output is unknown because ONNX
    has no schema for it, not because of the input's values."""
    graph = helper.make_graph([helper.make_node("Mystery", ["x", "x"], ["m"], domain="com.example", name="mystery"),
                               helper.make_node("Relu", ["m"], ["y"], name="relu")], "custom",
                              [helper.make_tensor_value_info("x", F32, [2, 8])],
                              [helper.make_tensor_value_info("y", F32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ShapeError, match=r"produced by node 'mystery' \(Mystery\), whose shape is unknown \(unknown "
                                         r"rank; an op ONNX shape inference does not know\)") as info:
        load_model(path)
    assert "data-dependent" not in str(info.value)


def test_tflite_depthwise_channels_that_do_not_fit_are_named(tmp_path: Path) -> None:
    """DEPTHWISE_CONV_2D stored on (1, 8, 8, 3) with weight (1, 3, 3, 6) (multiplier 2); resized to 4 channels, 6
    is not a multiple of 4 (TFLite's Prepare refuses it); 6 channels -> multiplier 1: (1, 6, 6, 6), MACs
    6 * 6 * 6 * 3 * 3 = 1944."""
    pytest.importorskip("tflite", reason="the TFLite importer needs the optional tflite package")
    from tflite_builder import VALID, Graph, Op, T, build_tflite, const

    options = ("DepthwiseConv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "DepthMultiplier": 2,
                                          "DilationWFactor": 1, "DilationHFactor": 1})
    graph = Graph([T((1, 8, 8, 3), name="x"), const((1, 3, 3, 6)), T((1, 6, 6, 6))],
                  [Op("DEPTHWISE_CONV_2D", [0, 1], [2], options)], [0], [2])
    path = tmp_path / "dw.tflite"
    path.write_bytes(build_tflite(graph))
    assert macs(path, input_shapes={"x": [1, 8, 8, 6]}) == 1944
    with pytest.raises(ShapeError, match=r"operator 0 \(DEPTHWISE_CONV_2D\): .*\(the depthwise weight \[1, 3, 3, 6\] "
                                         r"has 6 channels, not a multiple of the input's 4\)"):
        load_model(path, input_shapes={"x": [1, 8, 8, 4]})
