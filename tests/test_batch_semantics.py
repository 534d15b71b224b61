"""Batch is the leading input dimension everywhere; shapes fixed by constants must agree with it; the network's
precision label is its compute precision; layers carry the graph's tensor names.

Every expected value is derived by hand in a comment. Conventions (rooflinekit.counters): conv
``macs = N * C_out * prod(S_out) * C_in / groups * prod(k)``; fully_connected and matmul ``macs = prod(output) * K``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.cli import main  # noqa: E402
from rooflinekit.counters import UnsupportedOpWarning, count_network  # noqa: E402
from rooflinekit.descriptors import DType, Layer, LayerNetwork  # noqa: E402
from rooflinekit.errors import ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402
from rooflinekit.importers.onnx import load_onnx  # noqa: E402

F32, F16, I64 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64


# ------------------------------------------------------------------------------------------------ helpers


def tensor(name: str, dims: Sequence[int], dtype: int = F32) -> onnx.TensorProto:
    """An initializer of zeros (values never matter to the counts)."""
    return numpy_helper.from_array(np.zeros(dims, dtype=helper.tensor_dtype_to_np_dtype(dtype)), name)


def ints(name: str, values: Sequence[int]) -> onnx.TensorProto:
    """An int64 constant (a shape target)."""
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def save(tmp_path: Path, nodes: list[onnx.NodeProto], inputs: dict[str, Sequence[int | str]],
         initializers: Sequence[onnx.TensorProto] = (), input_types: dict[str, int] | None = None,
         name: str = "model.onnx") -> Path:
    """A one-graph model built in memory with ``onnx.helper``, written to ``tmp_path``; output ``y``."""
    types = input_types or {}
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, types.get(n, F32), dims) for n, dims in inputs.items()],
        [helper.make_tensor_value_info("y", F32, None)], initializer=list(initializers))
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def macs(net: LayerNetwork) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        return int(count_network(net).totals["macs"])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    """``rooflinekit ARGV --format json``, parsed; fails on a non-zero exit."""
    code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def conv_model(tmp_path: Path) -> Path:
    """x (N, 3, 4, 4) with symbolic N, Conv 3x3 valid with W (4, 3, 3, 3) -> (N, 4, 2, 2).

    macs = N * 4 * 2 * 2 * 3 * 9 = N * 432; weights 4 * 27 = 108 floats = 432 bytes.
    """
    return save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], {"x": ["N", 3, 4, 4]},
                [tensor("w", [4, 3, 3, 3])])


# ------------------------------------------------------------------ batch = the leading input dimension


def test_input_shape_leading_dim_sets_the_batch(conv_model: Path) -> None:
    net = load_onnx(conv_model, input_shapes={"x": [8, 3, 4, 4]})
    assert net.batch == 8
    assert macs(net) == 8 * 432  # counted as imported: no rescaling to another batch
    assert load_model(conv_model, input_shapes={"x": [8, 3, 4, 4]}) == net
    assert load_onnx(conv_model, batch=8) == net


def test_batch_none_is_the_models_own_or_one(tmp_path: Path, conv_model: Path) -> None:
    symbolic = load_onnx(conv_model)
    assert (symbolic.batch, macs(symbolic)) == (1, 432)
    fixed = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [2, 3, 4, 4]},
                 [tensor("w", [4, 3, 3, 3])], name="fixed.onnx")
    own = load_onnx(fixed)
    assert (own.batch, macs(own)) == (2, 2 * 432)
    assert load_onnx(fixed, batch=2) == own


def test_dim_name_bound_by_another_inputs_shape_sets_the_batch(tmp_path: Path) -> None:
    # ids (batch, seq) and mask (batch, seq): mask=8,16 binds 'batch', so the main input ids is (8, 16) too
    path = save(tmp_path, [helper.make_node("Add", ["ids", "mask"], ["y"])],
                {"ids": ["batch", "seq"], "mask": ["batch", "seq"]})
    net = load_onnx(path, input_shapes={"mask": [8, 16]})
    assert net.batch == 8 and net.layers[0].inputs == ((8, 16), (8, 16))


def test_batch_and_input_shape_that_disagree_are_refused(conv_model: Path) -> None:
    with pytest.raises(ShapeError, match=r"model\.onnx: batch 4 and input_shapes\['x'\] = \[8, 3, 4, 4\] disagree: "
                                         r"the leading dim of input 'x' is the batch \(8\); give the same batch in "
                                         r"both, or only one of them"):
        load_onnx(conv_model, batch=4, input_shapes={"x": [8, 3, 4, 4]})


def test_batch_and_a_dim_name_bound_by_input_shapes_that_disagree(tmp_path: Path) -> None:
    # ids (batch, seq), mask (batch, seq): mask=8,16 binds 'batch' to 8, which is the leading dim of ids as well
    path = save(tmp_path, [helper.make_node("Add", ["ids", "mask"], ["y"])],
                {"ids": ["batch", "seq"], "mask": ["batch", "seq"]})
    with pytest.raises(ShapeError, match=r"model\.onnx: batch 2 and input_shapes, which binds dim 'batch' \(the "
                                         r"leading dim of input 'ids'\) to 8, disagree: the leading dim of input "
                                         r"'ids' is the batch \(8\); give the same batch in both, or only one of them"):
        load_onnx(path, batch=2, input_shapes={"mask": [8, 16]})


def test_fixed_leading_dim_contradicting_the_batch_is_refused(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": [2, 3]})
    with pytest.raises(ShapeError, match=r"model\.onnx: batch 8 contradicts input 'x', whose leading dim is fixed to "
                                         r"2 in the model \(shape \[2, 3\]\); import it at its own batch 2 \(leave "
                                         r"batch unset\), override the model's shape with input_shapes=\{'x': \[8, "
                                         r"3\]\} \(--input-shape x=8,3\), or export the model with a dynamic batch "
                                         r"dim$"):
        load_onnx(path, batch=8)


def fixed_conv(tmp_path: Path) -> Path:
    """x fixed at (2, 3, 4, 4), the conv of ``conv_model``: 2 x 432 = 864 MACs."""
    return save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], {"x": [2, 3, 4, 4]},
                [tensor("w", [4, 3, 3, 3])], name="fixed.onnx")


def test_python_predict_and_sweep_import_a_model_file_at_the_batch_asked_for(tmp_path: Path,
                                                                               conv_model: Path) -> None:
    """As the command line does: a file's fixed batch is refused at another batch, by predict and by sweep (which
    costed the file's batch-2 network at batch 4 without a word), and a dynamic file gives the network imported
    at that batch."""
    import rooflinekit as rk

    fixed = fixed_conv(tmp_path)
    assert rk.predict(fixed, "NCS", precision="fp16").ops == 2 * 2 * 432 / 2  # ops per frame: 2 x 432 MACs / 2
    for call in (lambda: rk.predict(fixed, "NCS", batch=4, precision="fp16"),
                 lambda: rk.sweep([str(fixed)], ["NCS"], ["fp16"], [2, 4])):
        with pytest.raises(ShapeError, match=r"fixed\.onnx: batch 4 contradicts input 'x', whose leading dim is "
                                             r"fixed to 2"):
            call()
    assert rk.sweep([str(fixed)], ["NCS"], ["fp16"], [2, None])["batch"].tolist() == [2, 2]
    # a symbolic batch: the file at batch 4 is the network imported at 4 (4 x 432 MACs)
    at_4 = rk.predict(conv_model, "NCS", batch=4, precision="fp16")
    assert at_4.ops * at_4.batch == 2 * 4 * 432
    assert at_4.latency_s == rk.predict(load_model(conv_model, batch=4), "NCS", precision="fp16").latency_s
    table = rk.sweep([conv_model], ["NCS"], ["fp16"], [1, 4])
    assert table["latency_s"].tolist() == [rk.predict(conv_model, "NCS", batch=b, precision="fp16").latency_s
                                           for b in (1, 4)]
    assert rk.predict(conv_model, "NCS", batch=np.int64(4), precision="fp16").latency_s == at_4.latency_s


def test_cli_sweep_refuses_a_batch_a_model_file_fixes_otherwise(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fixed = fixed_conv(tmp_path)
    assert main(["sweep", "--models", str(fixed), "--hardware", "NCS", "--batches", "2,4"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("rooflinekit: error: ") and "batch 4 contradicts input 'x'" in err[0]


def test_input_shape_may_override_a_fixed_leading_dim(tmp_path: Path) -> None:
    # the model declares x (2, 3); input_shapes x=(8, 3) overrides it (nothing in the graph pins the 2)
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": [2, 3]})
    net = load_onnx(path, input_shapes={"x": [8, 3]})
    assert net.batch == 8 and net.layers[0].inputs == ((8, 3),)
    assert load_onnx(path, batch=8, input_shapes={"x": [8, 3]}) == net


@pytest.mark.parametrize("batch", [0, -1, 2.0, True])
def test_batch_must_be_a_positive_integer_or_none(conv_model: Path, batch: object) -> None:
    with pytest.raises(ShapeError, match=rf"model\.onnx: batch must be a positive integer or None \(the model's "
                                         rf"own\), got {batch!r}$"):
        load_onnx(conv_model, batch=batch)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- CLI: one meaning of batch


def test_cli_count_input_shape_equals_batch_equals_python(capsys: pytest.CaptureFixture[str],
                                                          conv_model: Path) -> None:
    by_shape = run(capsys, "count", str(conv_model), "--input-shape", "x=8,3,4,4")
    by_batch = run(capsys, "count", str(conv_model), "--batch", "8")
    assert by_shape == by_batch
    assert by_shape["batch"] == 8 and by_shape["totals"]["macs"] == 8 * 432
    python = count_network(load_onnx(conv_model, input_shapes={"x": [8, 3, 4, 4]}))
    assert by_shape["totals"]["macs"] == python.totals["macs"] and by_shape["batch"] == python.batch


def test_cli_count_without_batch_counts_the_model_as_imported(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    # x fixed at (2, 3, 4, 4): no --batch means the model's own batch 2 (before: --batch defaulted to 1 and
    # count_network rescaled the network to one frame)
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [2, 3, 4, 4]},
                [tensor("w", [4, 3, 3, 3])])
    data = run(capsys, "count", str(path))
    assert data["batch"] == 2 and data["totals"]["macs"] == 2 * 432 == count_network(load_onnx(path)).totals["macs"]


def test_cli_predict_input_shape_equals_batch(capsys: pytest.CaptureFixture[str], conv_model: Path) -> None:
    by_shape = run(capsys, "predict", str(conv_model), "--hardware", "NUCLEO-F767ZI", "--input-shape", "x=8,3,4,4")
    by_batch = run(capsys, "predict", str(conv_model), "--hardware", "NUCLEO-F767ZI", "--batch", "8")
    assert by_shape == by_batch
    assert by_shape["batch"] == 8
    assert by_shape["ops"] == 2 * 432  # ops per frame: 2 * macs, no bias


def test_cli_batch_and_input_shape_that_disagree(capsys: pytest.CaptureFixture[str], conv_model: Path) -> None:
    assert main(["count", str(conv_model), "--batch", "4", "--input-shape", "x=8,3,4,4"]) == 2
    assert "batch 4 and input_shapes['x'] = [8, 3, 4, 4] disagree" in capsys.readouterr().err


# --------------------------------------------------------------------- shapes fixed by constants


def _reshape_to_constant(tmp_path: Path) -> Path:
    """data (N, 3, 4, 4) -> Conv 1x1 W (3, 3, 1, 1) -> (N, 3, 4, 4) -> Reshape to the constant [1, 48] -> Gemm
    with B (48, 10) -> (1, 10). At N = 1: conv macs = 3 * 16 * 3 = 144, gemm macs = 10 * 48 = 480."""
    nodes = [helper.make_node("Conv", ["data", "w"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "target"], ["r"], name="flatten"),
             helper.make_node("Gemm", ["r", "b"], ["y"], name="fc")]
    return save(tmp_path, nodes, {"data": ["N", 3, 4, 4]},
                [tensor("w", [3, 3, 1, 1]), ints("target", [1, 48]), tensor("b", [48, 10])])


def test_reshape_to_a_constant_imports_at_its_own_batch(tmp_path: Path) -> None:
    net = load_onnx(_reshape_to_constant(tmp_path), batch=1)
    assert macs(net) == 144 + 480


@pytest.mark.parametrize("how", [{"batch": 8}, {"input_shapes": {"data": [8, 3, 4, 4]}}])
def test_reshape_to_a_constant_contradicting_the_batch_is_refused(tmp_path: Path, how: dict) -> None:
    # (8, 3, 4, 4) holds 384 elements, the target [1, 48] holds 48: the constant pins the batch to 384 / 48 = 8
    # times less, i.e. to 1
    with pytest.raises(ShapeError, match=r"model\.onnx: node 'flatten' \(Reshape\) reshapes 'c' of shape "
                                         r"\[8, 3, 4, 4\] \(384 elements\) to the constant \[1, 48\] \(48 elements\) "
                                         r"at batch 8; the model fixes its batch in this constant: export it with a "
                                         r"dynamic shape \(e\.g\. -1 for the leading dim\) or import it at its own "
                                         r"batch 1 \(batch=1 in Python, --batch 1 on the command line\)$"):
        load_onnx(_reshape_to_constant(tmp_path), **how)


def test_reshape_to_a_constant_contradicting_other_input_dims_does_not_blame_the_batch(tmp_path: Path) -> None:
    # data bound to (1, 3, 5, 5): 75 elements into the constant [1, 48] (exported at 4x4 pixels); no batch b gives
    # b * 48 = 75, so the message names the exported input shapes, not the batch
    with pytest.raises(ShapeError, match=r"reshapes 'c' of shape \[1, 3, 5, 5\] \(75 elements\) to the constant "
                                         r"\[1, 48\] \(48 elements\) at batch 1; no batch makes them agree: the model "
                                         r"fixes this shape for the input shapes it was exported with"):
        load_onnx(_reshape_to_constant(tmp_path), input_shapes={"data": [1, 3, 5, 5]})


def test_reshape_with_a_dynamic_target_follows_the_batch(tmp_path: Path) -> None:
    # target [-1, 48]: (8, 3, 4, 4) -> (8, 48); gemm macs = 8 * 10 * 48 = 3840, conv 8 * 144 = 1152
    nodes = [helper.make_node("Conv", ["data", "w"], ["c"]), helper.make_node("Reshape", ["c", "target"], ["r"]),
             helper.make_node("Gemm", ["r", "b"], ["y"])]
    path = save(tmp_path, nodes, {"data": ["N", 3, 4, 4]},
                [tensor("w", [3, 3, 1, 1]), ints("target", [-1, 48]), tensor("b", [48, 10])])
    assert macs(load_onnx(path, batch=8)) == 1152 + 3840


def test_reshape_whose_dynamic_dim_does_not_divide_is_refused(tmp_path: Path) -> None:
    # (8, 48) = 384 elements into [5, -1]: 384 is no multiple of 5
    nodes = [helper.make_node("Reshape", ["x", "target"], ["r"], name="r"), helper.make_node("Relu", ["r"], ["y"])]
    path = save(tmp_path, nodes, {"x": ["N", 48]}, [ints("target", [5, -1])])
    with pytest.raises(ShapeError, match=r"node 'r' \(Reshape\) reshapes 'x' of shape \[8, 48\] \(384 elements\) to "
                                         r"the constant \[5, -1\] \(a multiple of 5 elements\) at batch 8"):
        load_onnx(path, batch=8)
    nodes = [helper.make_node("Reshape", ["x", "target"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    unnamed = save(tmp_path, nodes, {"x": ["N", 48]}, [ints("target", [5, -1])], name="unnamed.onnx")
    with pytest.raises(ShapeError, match=r"unnamed\.onnx: the Reshape node writing 'r' reshapes 'x' of shape "
                                         r"\[8, 48\]"):
        load_onnx(unnamed, batch=8)


def test_expand_to_a_constant_contradicting_the_batch_is_refused(tmp_path: Path) -> None:
    # x (N, 4) expanded to the constant [2, 4]: fine at N = 1 (broadcast) and N = 2, not at N = 8
    nodes = [helper.make_node("Expand", ["x", "target"], ["e"], name="expand"), helper.make_node("Relu", ["e"], ["y"])]
    path = save(tmp_path, nodes, {"x": ["N", 4]}, [ints("target", [2, 4])])
    assert load_onnx(path).layers[-1].inputs == ((2, 4),)
    assert load_onnx(path, batch=2).layers[-1].inputs == ((2, 4),)
    with pytest.raises(ShapeError, match=r"model\.onnx: node 'expand' \(Expand\) expands 'x' of shape \[8, 4\] to the "
                                         r"constant \[2, 4\], which do not broadcast, at batch 8; the model fixes its "
                                         r"batch in this constant: export it with a dynamic shape \(e\.g\. -1 for the "
                                         r"leading dim\) or import it at its own batch"):
        load_onnx(path, batch=8)


def test_constant_of_shape_contradicting_the_batch_is_refused(tmp_path: Path) -> None:
    # ConstantOfShape [2, 4] added to x (N, 4): broadcasts at N = 1 and 2, not at N = 8
    nodes = [helper.make_node("ConstantOfShape", ["target"], ["zeros"], name="zeros"),
             helper.make_node("Add", ["x", "zeros"], ["y"], name="add")]
    path = save(tmp_path, nodes, {"x": ["N", 4]}, [ints("target", [2, 4])])
    assert load_onnx(path, batch=2).layers[0].outputs == ((2, 4),)
    with pytest.raises(ShapeError, match=r"model\.onnx: node 'add' \(Add\) combines 'x' of shape \[8, 4\] with "
                                         r"'zeros' of the constant shape \[2, 4\] made by node 'zeros' "
                                         r"\(ConstantOfShape\), which do not broadcast, at batch 8; the model fixes "
                                         r"its batch in this constant"):
        load_onnx(path, batch=8)


# ------------------------------------------------------------------------------------- precision label


def _embedding_model(tmp_path: Path, dtype: int) -> Path:
    """input_ids int64 (1, 16) -> Gather on an embedding (100, 32) -> MatMul with W (32, 32) -> y (1, 16, 32)."""
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["h"], name="embed"),
             helper.make_node("MatMul", ["h", "w"], ["y"], name="proj")]
    return save(tmp_path, nodes, {"input_ids": [1, 16]},
                [tensor("emb", [100, 32], dtype), tensor("w", [32, 32], dtype)], input_types={"input_ids": I64})


@pytest.mark.parametrize(("dtype", "label"), [(F32, "fp32"), (F16, "fp16")])
def test_precision_is_that_of_the_mac_layers_not_of_token_ids(tmp_path: Path, dtype: int, label: str) -> None:
    net = load_onnx(_embedding_model(tmp_path, dtype))
    assert net.precision.label == label
    embed, proj = net.layers
    # the Gather still reads its int64 indices at their own type; both layers compute at the network's precision
    assert embed.precision is None and embed.input_dtypes == (DType.INT64,)
    assert proj.precision is None and proj.input_dtypes == ()


def test_mac_layers_outweigh_a_larger_float_boundary_in_a_qdq_graph(tmp_path: Path) -> None:
    # float x (1, 3, 8, 8) -> Q -> DQ -> Conv with DQ(int8 W (4, 3, 3, 3)) -> Q -> DQ -> float y: the only MAC layer
    # runs int8 x int8, so the network is int8 although its input and output are float
    def qparams(name: str, zero: int = TensorProto.INT8) -> list[onnx.TensorProto]:
        return [numpy_helper.from_array(np.array(0.1, np.float32), f"{name}_s"),
                numpy_helper.from_array(np.array(0, helper.tensor_dtype_to_np_dtype(zero)), f"{name}_z")]

    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "w_s", "w_z"], ["wd"]),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "x_s", "x_z"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "x_s", "x_z"], ["y"])]
    path = save(tmp_path, nodes, {"x": [1, 3, 8, 8]},
                [*qparams("x"), *qparams("w"), tensor("wq", [4, 3, 3, 3], TensorProto.INT8)])
    net = load_onnx(path)
    assert net.precision.label == "int8"
    conv = next(layer for layer in net.layers if layer.name == "conv")
    assert conv.precision is None and [w.dtype for w in conv.weights] == [None]


# ---------------------------------------------------------------------------------- tensor names


def test_onnx_layers_carry_their_activation_tensor_names(tmp_path: Path) -> None:
    # Gemm with transA normalizes its input shape (4, 2) -> (2, 4) and keeps the name; weights get no names
    nodes = [helper.make_node("Gemm", ["x", "b"], ["g"], name="fc", transA=1),
             helper.make_node("Relu", ["g"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "g"], ["y"], name="add")]
    net = load_onnx(save(tmp_path, nodes, {"x": [4, 2]}, [tensor("b", [4, 3])]))
    assert [(layer.name, layer.input_names, layer.output_names) for layer in net.layers] == [
        ("fc", ("x",), ("g",)), ("relu", ("g",), ("r",)), ("add", ("r", "g"), ("y",))]
    assert net.layers[0].inputs == ((2, 4),)


def test_layer_tensor_names_must_match_the_tensors() -> None:
    assert Layer(name="a", op="relu", inputs=((1, 4),), outputs=((1, 4),)).input_names == ()
    # ValueError: pydantic's ValidationError, or the SpecError descriptors translate it into
    with pytest.raises(ValueError, match=r"layer 'a': 2 input_names for 1 inputs; give one name per input"):
        Layer(name="a", op="relu", inputs=((1, 4),), outputs=((1, 4),), input_names=("x", "z"))
    with pytest.raises(ValueError, match=r"layer 'a': 1 output_names for 2 outputs; give one name per output"):
        Layer(name="a", op="split", inputs=((1, 4),), outputs=((1, 2), (1, 2)), output_names=("y",))


# ------------------------------------------------------------------------------------------------ TFLite

try:
    import tflite  # noqa: F401

    from tflite_builder import I8, I32, SAME, Graph, Op, T, build_tflite, const
except ImportError:  # the TFLite importer's optional dependency
    tflite = None

needs_tflite = pytest.mark.skipif(tflite is None, reason="the TFLite importer needs the optional tflite package")


def _tflite_conv(tmp_path: Path, dynamic: bool) -> Path:
    """x (N, 8, 8, 3) NHWC, CONV_2D 3x3 same with W (4, 3, 3, 3) and a bias -> y (N, 8, 8, 4); stored at N = 1,
    marked dynamic (-1 in shape_signature) when ``dynamic``. macs = N * 8 * 8 * 4 * 27 = N * 6912."""
    tensors = [T((1, 8, 8, 3), name="x", signature=(-1, 8, 8, 3) if dynamic else None), const((4, 3, 3, 3)),
               const((4,)), T((1, 8, 8, 4), signature=(-1, 8, 8, 4) if dynamic else None)]
    options = ("Conv2DOptions", {"Padding": SAME, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                                 "DilationHFactor": 1})
    path = tmp_path / ("dynamic.tflite" if dynamic else "fixed.tflite")
    path.write_bytes(build_tflite(Graph(tensors, [Op("CONV_2D", [0, 1, 2], [3], options)], [0], [3])))
    return path


@needs_tflite
def test_tflite_input_shape_leading_dim_sets_the_batch(tmp_path: Path) -> None:
    path = _tflite_conv(tmp_path, dynamic=True)
    assert load_model(path).batch == 1
    net = load_model(path, input_shapes={"x": [8, 8, 8, 3]})
    assert net.batch == 8 and net.layers[0].inputs == ((8, 3, 8, 8),)
    assert macs(net) == 8 * 6912
    assert load_model(path, batch=8) == net


@needs_tflite
def test_tflite_batch_and_input_shape_that_disagree(tmp_path: Path) -> None:
    path = _tflite_conv(tmp_path, dynamic=True)
    with pytest.raises(ShapeError, match=r"dynamic\.tflite: batch 4 and input_shapes\['x'\] = \[8, 8, 8, 3\] "
                                         r"disagree: the leading dim of input 'x' is the batch \(8\); give the same "
                                         r"batch in both, or only one of them"):
        load_model(path, batch=4, input_shapes={"x": [8, 8, 8, 3]})
    with pytest.raises(ShapeError, match=r"dynamic\.tflite: input_shapes\['x'\] = \[8, 4, 4\], but the input is "
                                         r"stored as \[1, 8, 8, 3\] \(NHWC\): give 4 dims in that order"):
        load_model(path, input_shapes={"x": [8, 4, 4]})
    resized = load_model(path, input_shapes={"x": [8, 4, 4, 3]})  # other dims resize the input (issue 12)
    assert resized.batch == 8 and resized.layers[0].inputs[0] == (8, 3, 4, 4)
    with pytest.raises(ShapeError, match=r"input_shapes names \['nope'\], which are not graph inputs; inputs are "
                                         r"\['x'\]"):
        load_model(path, input_shapes={"nope": [1]})


@needs_tflite
def test_tflite_batch_and_input_shapes_must_be_positive_integers(tmp_path: Path) -> None:
    path = _tflite_conv(tmp_path, dynamic=True)
    with pytest.raises(ShapeError, match=r"dynamic\.tflite: batch must be a positive integer or None \(the model's "
                                         r"own\), got 0$"):
        load_model(path, batch=0)
    with pytest.raises(ShapeError, match=r"dynamic\.tflite: input_shapes\['x'\] must be a list of dims, got '8'"):
        load_model(path, input_shapes={"x": "8"})
    with pytest.raises(ShapeError, match=r"dynamic\.tflite: input_shapes\['x'\] has dim 'N'; TFLite shapes are "
                                         r"static, give positive integers"):
        load_model(path, input_shapes={"x": ["N", 8, 8, 3]})


@needs_tflite
def test_tflite_fixed_batch_contradicting_the_batch_is_refused(tmp_path: Path) -> None:
    path = _tflite_conv(tmp_path, dynamic=False)
    assert load_model(path).batch == 1 and load_model(path, batch=1) == load_model(path)
    with pytest.raises(ShapeError, match=r"fixed\.tflite: batch 4 contradicts the graph's fixed batch of 1 \(input "
                                         r"'x' is stored as \[1, 8, 8, 3\], with no dynamic leading dim in its "
                                         r"shape_signature\); import it at its own batch 1 \(leave batch unset\) or "
                                         r"export the model with a dynamic batch dim"):
        load_model(path, batch=4)


@needs_tflite
def test_tflite_cli_input_shape_equals_batch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _tflite_conv(tmp_path, dynamic=True)
    by_shape = run(capsys, "count", str(path), "--input-shape", "x=8,8,8,3")
    assert by_shape == run(capsys, "count", str(path), "--batch", "8")
    assert by_shape["batch"] == 8 and by_shape["totals"]["macs"] == 8 * 6912


@needs_tflite
def test_tflite_precision_is_that_of_the_mac_layers(tmp_path: Path) -> None:
    # float x (1, 8, 8, 3) -> QUANTIZE -> int8 CONV_2D -> DEQUANTIZE -> fp32 ADD(c, c). Activation elements by type:
    # fp32 192 (QUANTIZE) + 2 * 256 (ADD) = 704, int8 192 (CONV_2D) + 256 (DEQUANTIZE) = 448, so a vote over every
    # layer says W-int8_A-fp32; the only MAC layer computes int8 x int8: int8
    tensors = [T((1, 8, 8, 3), name="x"), T((1, 8, 8, 3), I8, scales=1), const((4, 3, 3, 3), I8, scales=4),
               const((4,), I32, scales=4), T((1, 8, 8, 4), I8, scales=1, name="c"), T((1, 8, 8, 4)), T((1, 8, 8, 4))]
    options = ("Conv2DOptions", {"Padding": SAME, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                                 "DilationHFactor": 1})
    ops = [Op("QUANTIZE", [0], [1]), Op("CONV_2D", [1, 2, 3], [4], options), Op("DEQUANTIZE", [4], [5]),
           Op("ADD", [5, 5], [6])]
    path = tmp_path / "qdq.tflite"
    path.write_bytes(build_tflite(Graph(tensors, ops, [0], [6])))
    net = load_model(path)
    assert net.precision.label == "int8"
    quantize, conv, dequantize, add = net.layers
    assert conv.precision is None
    assert quantize.output_dtypes == (DType.INT8,) and add.precision.activations == DType.FP32
    # tensor names: the graph's, tensor_<index> for an unnamed tensor
    assert (conv.input_names, conv.output_names) == (("tensor_1",), ("c",))
    assert (add.input_names, add.output_names) == (("tensor_5", "tensor_5"), ("tensor_6",))
