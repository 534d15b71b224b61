"""Follow-ups of the importer trial: onnxruntime's skip normalizations and BiasAdd counted, FusedMatMul with
transBatchA/transBatchB, and a TFLite batch bound through a partial ``shape_signature``.

Every expected count is derived by hand in a comment, and each fused onnxruntime op is also compared with the plain
ONNX graph it fuses, imported and counted by rooflinekit along another path (Add, LayerNormalization,
RMSNormalization, Transpose and MatMul layers). Conventions (:mod:`rooflinekit.counters`): an Add costs one op per
output element per add, LayerNormalization 7 ops per element, RMS normalization 4; matmul ``macs = prod(output) *
K``; conv ``macs = prod(output) * C_in * kh * kw``; fully connected ``macs = rows * K * N``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402

F32 = TensorProto.FLOAT
MS = "com.microsoft"
MLPERF_TINY = Path("/work/shared/data/mlperf_tiny/models")
ROWS = 2 * 16
"""x and the skip are (2, 16, 64): 2 * 16 rows of 64, 2048 elements."""
ELEMENTS = ROWS * 64


def _model(path: Path, nodes: list[onnx.NodeProto], inputs: dict[str, list[int]], outputs: list[str],
           weights: dict[str, tuple[int, ...]], opset: int = 17) -> Path:
    """A graph of ``nodes`` reading float ``inputs``, with zero float ``weights``, importing the default and the
    com.microsoft domains as onnxruntime's saved optimized models do."""
    graph = helper.make_graph(nodes, "followups", [helper.make_tensor_value_info(n, F32, d) for n, d in inputs.items()],
                              [helper.make_tensor_value_info(n, F32, None) for n in outputs],
                              [numpy_helper.from_array(np.zeros(shape, np.float32), name)
                               for name, shape in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    model.ir_version = 10
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _totals(path: Path) -> dict[str, int]:
    """Ops, MACs, params and weight bytes of the model at ``path``, none of its ops unsupported."""
    cost = count_network(load_model(path))
    assert not cost.unsupported_ops
    return {key: int(cost.totals[key]) for key in ("ops", "macs", "params", "weight_bytes")}


XS = {"x": [2, 16, 64], "s": [2, 16, 64]}


# ------------------------------------------------------------------------- skip normalizations and BiasAdd


@pytest.mark.parametrize("bias", [True, False])
def test_skip_layer_normalization_costs_its_adds_and_its_layer_norm(tmp_path: Path, bias: bool) -> None:
    """SkipLayerNormalization(x, s, gamma, beta[, bias]) over 2048 elements: (7 + 2) * 2048 = 18432 ops with a bias,
    (7 + 1) * 2048 = 16384 without; params gamma, beta (and bias) of 64: 192 or 128, 4 bytes each. Bytes: x and s read
    (2 * 2048 * 4 = 16384), the output and the sum (output 3) written (16384). The plain graph Add(x, s) [+ Add(bias)]
    + LayerNormalization costs the same ops and weights."""
    operands = ["x", "s", "g", "b", "c"] if bias else ["x", "s", "g", "b"]
    weights = {name: (64,) for name in operands[2:]}
    fused = _model(tmp_path / "fused.onnx",
                   [helper.make_node("SkipLayerNormalization", operands, ["n", "", "", "sum"], domain=MS,
                                     epsilon=1e-5, name="skipln")], XS, ["n", "sum"], weights)
    network = load_model(fused)
    cost = count_network(network)
    row = cost.layers.set_index("name").loc["skipln"]
    assert not cost.unsupported_ops and network.layers[0].op == "layer_norm"
    assert int(row["ops"]) == (9 if bias else 8) * ELEMENTS == (18432 if bias else 16384)
    assert int(row["params"]) == (192 if bias else 128) and int(row["weight_bytes"]) == 4 * int(row["params"])
    assert int(row["input_bytes"]) == 16384 and int(row["output_bytes"]) == 16384

    nodes = [helper.make_node("Add", ["x", "s"], ["t"], name="add")]
    if bias:
        nodes.append(helper.make_node("Add", ["t", "c"], ["u"], name="add_bias"))
    nodes.append(helper.make_node("LayerNormalization", ["u" if bias else "t", "g", "b"], ["n"], axis=-1,
                                  name="norm"))
    plain = _model(tmp_path / "plain.onnx", nodes, XS, ["n"], weights)
    assert _totals(fused) == _totals(plain)


@pytest.mark.parametrize("bias", [True, False])
def test_skip_simplified_layer_normalization_costs_its_adds_and_an_rms_norm(tmp_path: Path, bias: bool) -> None:
    """SkipSimplifiedLayerNormalization(x, s, gamma[, bias]) (bias at input 3 in its schema): (4 + 2) * 2048 = 12288
    ops with a bias, (4 + 1) * 2048 = 10240 without; params 128 or 64. The plain graph Add(x, s) [+ Add(bias)] +
    RMSNormalization (opset 23) costs the same."""
    operands = ["x", "s", "g", "c"] if bias else ["x", "s", "g"]
    weights = {name: (64,) for name in operands[2:]}
    fused = _model(tmp_path / "fused.onnx",
                   [helper.make_node("SkipSimplifiedLayerNormalization", operands, ["n", "", "", "sum"], domain=MS,
                                     name="skipln")], XS, ["n", "sum"], weights)
    network = load_model(fused)
    assert network.layers[0].op == "rms_norm"
    got = _totals(fused)
    assert got["ops"] == (6 if bias else 5) * ELEMENTS == (12288 if bias else 10240)
    assert got["params"] == (128 if bias else 64)

    nodes = [helper.make_node("Add", ["x", "s"], ["t"], name="add")]
    if bias:
        nodes.append(helper.make_node("Add", ["t", "c"], ["u"], name="add_bias"))
    nodes.append(helper.make_node("RMSNormalization", ["u" if bias else "t", "g"], ["n"], axis=-1, name="norm"))
    assert got == _totals(_model(tmp_path / "plain.onnx", nodes, XS, ["n"], weights, opset=23))


def test_skip_layer_normalization_statistics_outputs_are_written_without_ops(tmp_path: Path) -> None:
    """Outputs mean and inv_std_var requested: one float per row, (2, 16, 1) each (32 * 4 = 128 bytes), written
    beside the output and the sum (2 * 2048 * 4 = 16384 bytes): 16640 bytes written, the ops still (7 + 1) * 2048 =
    16384."""
    path = _model(tmp_path / "stats.onnx",
                  [helper.make_node("SkipLayerNormalization", ["x", "s", "g", "b"], ["n", "mean", "inv", "sum"],
                                    domain=MS, name="skipln")], XS, ["n", "mean", "inv", "sum"],
                  {"g": (64,), "b": (64,)})
    network = load_model(path)
    assert network.layers[0].outputs == ((2, 16, 64), (2, 16, 1), (2, 16, 1), (2, 16, 64))
    row = count_network(network).layers.iloc[0]
    assert int(row["ops"]) == 16384 and int(row["output_bytes"]) == 16640


def test_skip_layer_normalization_sum_read_downstream(tmp_path: Path) -> None:
    """The residual path reads the sum (output 3): x + x (the input given as the skip too, as the trial's graph)
    normalized, 8 * 2048 = 16384 ops; Relu of the sum 2048; Add of the output and the Relu 2048: 20480 in all."""
    nodes = [helper.make_node("SkipLayerNormalization", ["x", "x", "g", "g"], ["n", "", "", "sum"], domain=MS,
                              name="skipln"),
             helper.make_node("Relu", ["sum"], ["r"], name="relu_sum"),
             helper.make_node("Add", ["n", "r"], ["y"], name="add")]
    path = _model(tmp_path / "residual.onnx", nodes, {"x": [2, 16, 64]}, ["y"], {"g": (64,)})
    rows = count_network(load_model(path)).layers.set_index("name")["ops"].astype(int).to_dict()
    assert rows == {"skipln": 16384, "relu_sum": 2048, "add": 2048}


def test_bias_add_is_two_adds(tmp_path: Path) -> None:
    """BiasAdd(X, bias, skip) = X + bias + skip over 2048 elements: 2 * 2048 = 4096 ops, bias params 64; the same
    as Add(X, bias) then Add(., skip)."""
    fused = _model(tmp_path / "fused.onnx", [helper.make_node("BiasAdd", ["x", "c", "s"], ["y"], domain=MS,
                                                              name="bias_add")], XS, ["y"], {"c": (64,)})
    got = _totals(fused)
    assert got["ops"] == 4096 and got["params"] == 64
    plain = _model(tmp_path / "plain.onnx", [helper.make_node("Add", ["x", "c"], ["t"], name="add_bias"),
                                             helper.make_node("Add", ["t", "s"], ["y"], name="add_skip")],
                   XS, ["y"], {"c": (64,)})
    assert got == _totals(plain)


# --------------------------------------------------------------------------- FusedMatMul transBatchA / B
# onnxruntime's FusedMatMulShapeInference (onnxruntime/core/graph/contrib_ops/contrib_defs.cc): with transBatchA an
# operand (d0, d1, ..., d_{r-1}) enters the product as (d1, ..., d_{r-2}, d0, d_{r-1}), then transA swaps its last
# two dims; the plain equivalent is a Transpose of perm (1, ..., r-2, 0, r-1) before the MatMul.


def test_fused_matmul_trans_batch_a_with_a_weight(tmp_path: Path) -> None:
    """x (16, 2, 64) with transBatchA enters as (2, 16, 64); @ W (64, 32) -> (2, 16, 32):
    2 * 16 * 32 * 64 = 65536 MACs, as Transpose(perm 1, 0, 2) then MatMul."""
    fused = _model(tmp_path / "fused.onnx", [helper.make_node("FusedMatMul", ["x", "W"], ["y"], domain=MS,
                                                              transBatchA=1, name="fmm")],
                   {"x": [16, 2, 64]}, ["y"], {"W": (64, 32)})
    network = load_model(fused)
    assert network.layers[0].outputs == ((2, 16, 32),)
    assert _totals(fused)["macs"] == 65536
    plain = _model(tmp_path / "plain.onnx", [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
                                             helper.make_node("MatMul", ["t", "W"], ["y"], name="fmm")],
                   {"x": [16, 2, 64]}, ["y"], {"W": (64, 32)})
    assert _totals(plain)["macs"] == 65536


def test_fused_matmul_trans_batch_of_two_activations(tmp_path: Path) -> None:
    """x (16, 2, 64) as A with transBatchA: (2, 16, 64); as B with transBatchB and transB: (2, 16, 64) then
    (2, 64, 16); product (2, 16, 16): 2 * 16 * 16 * 64 = 32768 MACs. Plain: B' is x transposed by perm (1, 2, 0)."""
    fused = _model(tmp_path / "fused.onnx", [helper.make_node("FusedMatMul", ["x", "x"], ["y"], domain=MS,
                                                              transBatchA=1, transBatchB=1, transB=1, name="fmm")],
                   {"x": [16, 2, 64]}, ["y"], {})
    network = load_model(fused)
    assert network.layers[0].inputs == ((2, 16, 64), (2, 64, 16)) and network.layers[0].outputs == ((2, 16, 16),)
    assert _totals(fused)["macs"] == 32768
    plain = _model(tmp_path / "plain.onnx", [helper.make_node("Transpose", ["x"], ["a"], perm=[1, 0, 2]),
                                             helper.make_node("Transpose", ["x"], ["b"], perm=[1, 2, 0]),
                                             helper.make_node("MatMul", ["a", "b"], ["y"])],
                   {"x": [16, 2, 64]}, ["y"], {})
    assert _totals(plain)["macs"] == 32768


def test_fused_matmul_trans_batch_a_of_rank_four(tmp_path: Path) -> None:
    """x (4, 2, 3, 8) with transBatchA enters as (2, 3, 4, 8); @ W (8, 5) -> (2, 3, 4, 5): 2 * 3 * 4 * 5 * 8 =
    960 MACs, as Transpose(perm 1, 2, 0, 3) then MatMul."""
    fused = _model(tmp_path / "fused.onnx", [helper.make_node("FusedMatMul", ["x", "W"], ["y"], domain=MS,
                                                              transBatchA=1, name="fmm")],
                   {"x": [4, 2, 3, 8]}, ["y"], {"W": (8, 5)})
    assert load_model(fused).layers[0].outputs == ((2, 3, 4, 5),)
    assert _totals(fused)["macs"] == 960
    plain = _model(tmp_path / "plain.onnx", [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 2, 0, 3]),
                                             helper.make_node("MatMul", ["t", "W"], ["y"])],
                   {"x": [4, 2, 3, 8]}, ["y"], {"W": (8, 5)})
    assert _totals(plain)["macs"] == 960


def test_fused_matmul_trans_batch_b_of_a_constant(tmp_path: Path) -> None:
    """x (2, 16, 64) @ W stored (64, 2, 32) with transBatchB: W enters as (2, 64, 32); product (2, 16, 32):
    2 * 16 * 32 * 64 = 65536 MACs, 4096 params. Plain: the Transpose of W (perm 1, 0, 2) folds into a constant."""
    fused = _model(tmp_path / "fused.onnx", [helper.make_node("FusedMatMul", ["x", "W"], ["y"], domain=MS,
                                                              transBatchB=1, name="fmm")],
                   {"x": [2, 16, 64]}, ["y"], {"W": (64, 2, 32)})
    got = _totals(fused)
    assert load_model(fused).layers[0].outputs == ((2, 16, 32),)
    assert got["macs"] == 65536 and got["params"] == 4096
    plain = _model(tmp_path / "plain.onnx", [helper.make_node("Transpose", ["W"], ["t"], perm=[1, 0, 2]),
                                             helper.make_node("MatMul", ["x", "t"], ["y"])],
                   {"x": [2, 16, 64]}, ["y"], {"W": (64, 2, 32)})
    assert _totals(plain)["macs"] == 65536


# ----------------------------------------------------------------- TFLite batch through a partial signature


def _tflite_cnn(tmp_path: Path, conv_signature: tuple[int, ...] | None, custom: tuple[int, ...] | None = None,
                input_signature: tuple[int, ...] = (-1, 8, 8, 3)) -> Path:
    """x (1, 8, 8, 3) NHWC whose signature (``input_signature``) marks the batch dynamic; CONV_2D 3x3 VALID, 4
    filters -> (1, 6, 6, 4) with ``conv_signature`` (fixed (1, 6, 6, 4): the batch marked on the input only) ->
    AVERAGE_POOL_2D 3x3 VALID -> (1, 4, 4, 4), no signature -> FULLY_CONNECTED (10, 64) -> (1, 10). With ``custom``
    (the signature of its output), a custom op ``Mystery`` after the conv writes the (1, 6, 6, 4) the pool reads."""
    pytest.importorskip("tflite", reason="the TFLite importer needs the optional tflite package")
    from tflite_builder import VALID, Graph, Op, T, build_tflite, const

    conv = ("Conv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                              "DilationHFactor": 1})
    pool = ("Pool2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "FilterWidth": 3, "FilterHeight": 3})
    tensors = [T((1, 8, 8, 3), name="x", signature=input_signature), const((4, 3, 3, 3)),
               T((1, 6, 6, 4), name="conv_out", signature=conv_signature), T((1, 4, 4, 4)), const((10, 64)),
               T((1, 10))]
    ops = [Op("CONV_2D", [0, 1], [2], conv), Op("AVERAGE_POOL_2D", [2], [3], pool),
           Op("FULLY_CONNECTED", [3, 4], [5], ("FullyConnectedOptions", {}))]
    if custom is not None:
        tensors.append(T((1, 6, 6, 4), name="mystery_out", signature=custom or None))
        ops.insert(1, Op("CUSTOM:Mystery", [2], [6]))
        ops[2] = Op("AVERAGE_POOL_2D", [6], [3], pool)
    path = tmp_path / "cnn.tflite"
    path.write_bytes(build_tflite(Graph(tensors, ops, [0], [5])))
    return path


@pytest.mark.parametrize("conv_signature", [(1, 6, 6, 4), None, (-1, 6, 6, 4)])
def test_tflite_batch_follows_the_graph_when_only_the_input_signature_is_dynamic(
        tmp_path: Path, conv_signature: tuple[int, ...] | None) -> None:
    """Per frame: conv 6 * 6 * 4 * 3 * 3 * 3 = 3888 MACs, FC 64 * 10 = 640: 4528. At batch 2 every layer holds 2
    frames: 9056 (before, with the conv output's signature fixed or absent, the conv read batch 2 and wrote batch
    1, and the count stayed 4528), by ``batch`` and by ``input_shapes`` alike."""
    path = _tflite_cnn(tmp_path, conv_signature)
    assert int(count_network(load_model(path)).totals["macs"]) == 4528
    network = load_model(path, batch=2)
    assert network.batch == 2
    assert [layer.outputs for layer in network.layers] == [((2, 4, 6, 6),), ((2, 4, 4, 4),), ((2, 10),)]
    assert int(count_network(network).totals["macs"]) == 9056
    assert int(count_network(load_model(path, input_shapes={"x": [2, 8, 8, 3]})).totals["macs"]) == 9056


def test_tflite_batch_through_an_op_without_rule_takes_its_signature(tmp_path: Path) -> None:
    """The custom op has no shape rule; its output signature (-1, 6, 6, 4) says the batch follows: batch 3 counts
    3 * 4528 = 13584 MACs."""
    path = _tflite_cnn(tmp_path, (1, 6, 6, 4), custom=(-1, 6, 6, 4))
    with pytest.warns(UserWarning, match="Mystery"):  # its own arithmetic has no counter
        assert int(count_network(load_model(path, batch=3)).totals["macs"]) == 13584


def test_tflite_batch_through_an_op_without_rule_nor_signature_is_named(tmp_path: Path) -> None:
    """The custom op's output signature is fixed (1, 6, 6, 4) and rooflinekit has no rule for it: at batch 2 its
    output is unknown, which is a ShapeError naming the operator, not a silent undercount."""
    path = _tflite_cnn(tmp_path, (1, 6, 6, 4), custom=(1, 6, 6, 4))
    with pytest.warns(UserWarning, match="Mystery"):
        assert int(count_network(load_model(path)).totals["macs"]) == 4528
    with pytest.raises(ShapeError, match=r"cnn\.tflite: operator 1 \(Mystery\): its inputs took batch 2 .*no shape "
                                         r"rule for Mystery and its output 'mystery_out' \[1, 6, 6, 4\] has "
                                         r"shape_signature \[1, 6, 6, 4\], which marks no dynamic batch.*leave batch "
                                         r"unset"):
        load_model(path, batch=2)


@pytest.mark.skipif(not MLPERF_TINY.is_dir(), reason="MLPerf Tiny models not present")
@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "str_ww_ref_model",
                                  "vww_96_int8"])
def test_mlperf_tiny_batch_is_propagated_as_their_signatures_say(name: str) -> None:
    """Their signatures mark the batch dynamic on every activation: propagating it from the input gives batch 3
    MACs = 3 * the batch-1 MACs."""
    path = MLPERF_TINY / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    one = int(count_network(load_model(path)).totals["macs"])
    assert one > 0 and int(count_network(load_model(path, batch=3)).totals["macs"]) == 3 * one


def test_tflite_batch_of_a_graph_whose_input_is_fixed_is_refused(tmp_path: Path) -> None:
    """The input's signature is fixed (1, 8, 8, 3) and only the conv output marks a dynamic batch: the graph's batch
    is its input's, 1; batch 2 contradicts it (before, the conv output alone took batch 2)."""
    path = _tflite_cnn(tmp_path, (-1, 6, 6, 4), input_signature=(1, 8, 8, 3))
    assert load_model(path).batch == 1
    with pytest.raises(ShapeError, match="batch 2 contradicts the graph's fixed batch of 1"):
        load_model(path, batch=2)


def _tflite_reshape(tmp_path: Path, reshape_signature: tuple[int, ...] | None) -> Path:
    """x (1, 4, 4, 4), signature (-1, 4, 4, 4) -> RESHAPE to the constant [1, 64] (the batch baked in) -> (1, 64)
    with ``reshape_signature`` -> FULLY_CONNECTED (10, 64) -> (1, 10), signature (-1, 10): 64 * 10 = 640 MACs a
    frame."""
    pytest.importorskip("tflite", reason="the TFLite importer needs the optional tflite package")
    from tflite_builder import Graph, Op, T, build_tflite, const, ints

    tensors = [T((1, 4, 4, 4), name="x", signature=(-1, 4, 4, 4)), ints([1, 64]),
               T((1, 64), name="flat", signature=reshape_signature), const((10, 64)), T((1, 10), signature=(-1, 10))]
    ops = [Op("RESHAPE", [0, 1], [2]), Op("FULLY_CONNECTED", [2, 3], [4], ("FullyConnectedOptions", {}))]
    path = tmp_path / "flat.tflite"
    path.write_bytes(build_tflite(Graph(tensors, ops, [0], [4])))
    return path


def test_tflite_batch_through_a_rule_that_cannot_take_it(tmp_path: Path) -> None:
    """At batch 2 the Reshape's constant target [1, 64] cannot hold 2 * 64 elements: its output's signature
    (-1, 64) gives (2, 64), and the FC counts 2 * 640 = 1280 MACs; without that signature the Reshape is named."""
    assert int(count_network(load_model(_tflite_reshape(tmp_path, (-1, 64)), batch=2)).totals["macs"]) == 1280
    with pytest.raises(ShapeError, match=r"operator 0 \(RESHAPE\): its inputs took batch 2 .*its rule cannot take "
                                         r"them \(the constant target \[1, 64\] does not hold 128 elements\)"):
        load_model(_tflite_reshape(tmp_path, (1, 64)), batch=2)
