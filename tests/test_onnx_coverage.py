"""ONNX importer coverage: the conformance corpus, and one in-memory graph per shape-resolution and control-flow
case of issue 12. Every expected count is derived by hand in a comment (conventions: matmul and fully_connected
``macs = prod(output) * K``; conv ``macs = N * C_out * prod(S_out) * C_in / groups * prod(k)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ModelFileError, ShapeError  # noqa: E402
from rooflinekit.importers.onnx import load_onnx  # noqa: E402
from rooflinekit.importers.onnx._control import ControlFlowWarning  # noqa: E402
from rooflinekit.importers.onnx._coverage import run_corpus  # noqa: E402

F32, I64 = TensorProto.FLOAT, TensorProto.INT64

KNOWN_GAPS: frozenset[str] = frozenset()
"""Corpus cases that still raise an unexpected error (open work, listed in the README coverage table)."""
UNCOUNTED: frozenset[str] = frozenset({"ImageDecoder", "Loop", "SequenceMap", "TfIdfVectorizer"})
"""Ops that import without a counter (listed in the README coverage table): Loop's trip count depends on run-time
values in these cases, SequenceMap runs a body graph per element, and image decoding and n-gram matching are not
modelled. Every other op that imports has a counter, or costs 0 ops on purpose."""


def save(tmp_path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
         initializers: Sequence[onnx.TensorProto] = (), opset: int = 17, name: str = "net",
         filename: str = "m.onnx") -> Path:
    """A one-output graph (its last node's first output) saved to ``tmp_path / filename``."""
    graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info(nodes[-1].output[0], F32, None)],
                              list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / filename
    onnx.save(model, str(path))
    return path


def macs(path: Path, **kwargs: object) -> int:
    return int(count_network(load_onnx(path, **kwargs)).totals["macs"] or 0)


def weight(name: str, dims: Sequence[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(dims, dtype=np.float32), name)


def ints(name: str, values: Sequence[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


# ------------------------------------------------------------------------------------------ the corpus


def test_conformance_corpus_imports() -> None:
    """Every conformance case imports, or raises an expected named error (a data-dependent shape, an fp4 type)."""
    result = run_corpus()
    total = len(result.imported) + len(result.expected) + len(result.unexpected)
    assert total > 1800
    assert len(result.imported) > 1600
    unexpected = set(result.unexpected)
    assert unexpected <= KNOWN_GAPS, {name: result.unexpected[name][:300] for name in unexpected - KNOWN_GAPS}
    for name, message in result.expected.items():
        assert "data-dependent" in message or "FLOAT4E2M1" in message, name
    # every Scan case is unrolled and counted, the opset-8 one (test_scan_sum, batch axis 0) included
    assert "test_scan_sum" in result.imported
    assert "Scan" not in result.uncounted
    # default-domain ops only (by_op's keys): the ai.onnx.ml and training ops are out of scope
    uncounted = set(result.uncounted) & set(result.by_op)
    assert uncounted <= UNCOUNTED, uncounted - UNCOUNTED


# --------------------------------------------------------------------------------- shape resolution


def _opset11_reshape(tmp_path: Path) -> Path:
    """x [?, 3, 4] -> Reshape to [Shape(x)[0], -1] (Unsqueeze-11 with an axes attribute, whose shape data ONNX does
    not propagate before opset 13) -> MatMul with w [12, 4]."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i0"], ["b"], axis=0),
             helper.make_node("Unsqueeze", ["b"], ["bu"], axes=[0]),
             helper.make_node("Concat", ["bu", "m1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"]), helper.make_node("MatMul", ["y", "w"], ["z"])]
    return save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, ["n", 3, 4])],
                [ints("i0", 0), ints("m1", [-1]), weight("w", [12, 4])], opset=11)


def test_opset11_shape_chain_resolves(tmp_path: Path) -> None:
    # y = [2, 12]; MatMul [2, 12] x [12, 4] -> [2, 4]: macs = 2 * 4 * 12 = 96
    assert macs(_opset11_reshape(tmp_path), batch=2) == 96


def test_opset11_resolves_by_version_conversion_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the small-subgraph evaluation switched off, the opset conversion fallback resolves it."""
    from rooflinekit.importers.onnx import _shapes

    monkeypatch.setattr(_shapes, "_evaluate_small", lambda model, infos, values: {})
    assert macs(_opset11_reshape(tmp_path), batch=2) == 96  # as above


def _pad_model(tmp_path: Path) -> Path:
    """STFT-style Pad whose pads come from a small computation (Shape -> Slice -> Sub -> Concat, Sub is not
    propagated by ONNX's data propagation), then a Conv: x [1, 1, 10], length = 10, missing = 16 - 10 = 6, pads
    [0, 0, 0, 0, 0, 6], p [1, 1, 16]."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "two", "three"], ["length"]),
             helper.make_node("Sub", ["sixteen", "length"], ["missing"]),
             helper.make_node("Concat", ["zeros5", "missing"], ["pads"], axis=0),
             helper.make_node("Pad", ["x", "pads"], ["p"]),
             helper.make_node("Conv", ["p", "w"], ["y"])]
    return save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 1, 10])],
                [ints("two", [2]), ints("three", [3]), ints("sixteen", [16]), ints("zeros5", [0, 0, 0, 0, 0]),
                 weight("w", [4, 1, 3])])


def test_pad_from_small_computation(tmp_path: Path) -> None:
    # p = [1, 1, 16]; conv k=3 -> [1, 4, 14]: macs = 1 * 4 * 14 * 1 * 3 = 168
    assert macs(_pad_model(tmp_path)) == 168


def test_small_computation_edits_a_copy_of_the_graph(tmp_path: Path) -> None:
    """Without large initializers, shape inference runs on the model itself; the small-computation fallback
    replaces computed nodes by initializers in a copy, never in the model the layers are built from."""
    from rooflinekit.importers.onnx._reading import read_model
    from rooflinekit.importers.onnx._shapes import infer

    path = _pad_model(tmp_path)
    model, nodes = read_model(path)
    infos, values = infer(model, nodes, path)
    assert infos["p"].dims == (1, 1, 16)  # resolved by the fallback (see _pad_model)
    assert values["missing"].tolist() == [6]
    assert [node.op_type for node in model.graph.node] == ["Shape", "Slice", "Sub", "Concat", "Pad", "Conv"]
    assert [tensor.name for tensor in model.graph.initializer] == ["two", "three", "sixteen", "zeros5", "w"]


def test_anchor_range_chain(tmp_path: Path) -> None:
    """Range over a computed size (Shape -> Gather -> Div), made a constant by evaluation, added to activations."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i2"], ["w0"], axis=0),
             helper.make_node("Div", ["w0", "two"], ["half"]),
             helper.make_node("Range", ["zero", "half", "one"], ["anchors"]),
             helper.make_node("Cast", ["anchors"], ["anchors_f"], to=F32),
             helper.make_node("Slice", ["x", "zero1", "half1", "two1"], ["xs"]),
             helper.make_node("Add", ["xs", "anchors_f"], ["y"])]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 8])],
                [ints("i2", 1), ints("two", 2), ints("zero", 0), ints("one", 1), ints("zero1", [0]),
                 ints("half1", [4]), ints("two1", [1])])
    layers = {layer.source_op: layer for layer in load_onnx(path).layers}
    assert layers["Add"].outputs == ((1, 4),)  # x[:, 0:4] + range(0, 8 / 2)


def test_anonymous_question_mark_dims_bound(tmp_path: Path) -> None:
    """``?`` is no dim name: x=1,3,48,192 binds each ``?`` to its own size."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"])]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 3, "?", "?"])], [weight("w", [8, 3, 1, 1])])
    # 1x1 conv 3 -> 8 on 48 x 192: macs = 1 * 8 * 48 * 192 * 3 = 221184
    assert macs(path, input_shapes={"x": [1, 3, 48, 192]}) == 221184


def test_data_dependent_shape_is_a_named_error(tmp_path: Path) -> None:
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"]), helper.make_node("MatMul", ["y", "w"], ["z"])]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [2, 3, 4]),
                                  helper.make_tensor_value_info("shape", I64, [2])], [weight("w", [12, 4])])
    with pytest.raises(ShapeError, match=r"node '' \(Reshape\).*dim 0.*data-dependent.*graph input 'shape'"):
        load_onnx(path)


def test_name_from_file_stem_when_graph_name_is_generic(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", F32, [1, 4])]
    assert load_onnx(save(tmp_path, nodes, inputs, name="torch_jit", filename="yolo_tiny.onnx")).name == "yolo_tiny"
    assert load_onnx(save(tmp_path, nodes, inputs, name="resnet-50", filename="a.onnx")).name == "resnet-50"
    # the names Paddle2ONNX and spox give every graph (RapidOCR's and silero-vad's published files), Keras's
    # numbered model names (MTCNN's onet.onnx: "model_2") and skl2onnx's uuid hex
    for generic in ("Model from PaddlePaddle.", "PaddlePaddle Graph in PIR mode", "spox_graph", "model_2",
                    "sequential_1", "3c59201b940f410fa29dc71ea9d5767d"):
        assert load_onnx(save(tmp_path, nodes, inputs, name=generic, filename="ocr_det.onnx")).name == "ocr_det"
    assert load_onnx(save(tmp_path, nodes, inputs, name="model_zoo_resnet", filename="a.onnx")).name == \
        "model_zoo_resnet"


def test_a_negative_declared_size_is_a_dynamic_dim(tmp_path: Path) -> None:
    """Older Paddle2ONNX exports declare dynamic dims as size -1 (RapidOCR's PP-OCRv3 files: x [-1, 3, -1, -1]):
    the leading one is the batch, the others are bound by input_shapes like any anonymous dim."""
    x = helper.make_tensor_value_info("x", F32, [1, 3, 1, 1])
    for dim in x.type.tensor_type.shape.dim:
        dim.dim_value = -1 if dim.dim_value == 1 else dim.dim_value
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], [x], [weight("w", [8, 3, 1, 1])])
    with pytest.raises(ShapeError, match=r"input 'x' dim 2 \(no name, size missing\) is symbolic and unbound"):
        load_onnx(path)
    # 1x1 conv 3 -> 8 on 4 x 6, batch 2: macs = 2 * 8 * 4 * 6 * 3 = 1152
    network = load_onnx(path, batch=2, input_shapes={"x": [2, 3, 4, 6]})
    assert network.batch == 2 and int(count_network(network).totals["macs"] or 0) == 1152
    assert load_onnx(path, input_shapes={"x": [3, 3, 4, 6]}).batch == 3  # the batch is the given leading dim


# -------------------------------------------------------------------------------------------- control flow


def _if_model(tmp_path: Path) -> Path:
    """If(c): then x [1, 4] @ w [4, 8] (32 MACs), else Relu(x) sliced to 8 wide (no MACs)."""
    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", F32, [1, 8])])
    else_graph = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=1)], "else", [],
                                   [helper.make_tensor_value_info("e", F32, [1, 8])])
    nodes = [helper.make_node("If", ["c"], ["y"], name="gate", then_branch=then_graph, else_branch=else_graph)]
    return save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 4]),
                                  helper.make_tensor_value_info("c", TensorProto.BOOL, [])], [weight("w", [4, 8])])


def test_if_counts_the_more_expensive_branch_with_a_warning(tmp_path: Path) -> None:
    path = _if_model(tmp_path)
    with pytest.warns(ControlFlowWarning, match=r"If node 'gate'.*more expensive 'then' branch.*'else'"):
        # then: MatMul [1, 4] x [4, 8] -> [1, 8]: macs = 8 * 4 = 32
        assert macs(path) == 32


def test_if_counts_the_selected_branch(tmp_path: Path) -> None:
    # else: a Concat, no MACs
    assert macs(_if_model(tmp_path), branches={"gate": "else"}) == 0


def test_if_branch_name_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"branches\['gate'\] = 'both'; choose 'then' or 'else'"):
        load_onnx(_if_model(tmp_path), branches={"gate": "both"})


def _rank_check(prefix: str, tensor: str, rank: int) -> tuple[list[onnx.NodeProto], str]:
    """Nodes computing ``rank(tensor) == rank`` as a scripted PyTorch module exports ``if x.dim() == rank``
    (Shape -> Size -> Equal), and the name of the boolean."""
    return [helper.make_node("Shape", [tensor], [f"{prefix}shape"]),
            helper.make_node("Size", [f"{prefix}shape"], [f"{prefix}rank"]),
            helper.make_node("Constant", [], [f"{prefix}want"], value=ints(f"{prefix}want_t", [rank])),
            helper.make_node("Squeeze", [f"{prefix}want"], [f"{prefix}want0"]),
            helper.make_node("Equal", [f"{prefix}rank", f"{prefix}want0"], [f"{prefix}cond"])], f"{prefix}cond"


def test_a_nested_if_reads_what_its_enclosing_branch_computed(tmp_path: Path) -> None:
    """If(c) then: h = x @ w1, and a nested If(c2) whose branches read h (a value of the enclosing branch, not of
    the graph): then h @ w2, else Concat(h, h). c and c2 are run-time inputs: the more expensive branches count."""
    inner_then = helper.make_graph([helper.make_node("MatMul", ["h", "w2"], ["t2"])], "inner_then", [],
                                   [helper.make_tensor_value_info("t2", F32, [1, 16])])
    inner_else = helper.make_graph([helper.make_node("Concat", ["h", "h"], ["e2"], axis=1)], "inner_else", [],
                                   [helper.make_tensor_value_info("e2", F32, [1, 16])])
    outer_then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]),
         helper.make_node("If", ["c2"], ["t"], name="inner", then_branch=inner_then, else_branch=inner_else)],
        "outer_then", [], [helper.make_tensor_value_info("t", F32, [1, 16])])
    outer_else = helper.make_graph([helper.make_node("Concat", ["x", "x", "x", "x"], ["e"], axis=1)], "outer_else",
                                   [], [helper.make_tensor_value_info("e", F32, [1, 16])])
    nodes = [helper.make_node("If", ["c"], ["y"], name="outer", then_branch=outer_then, else_branch=outer_else)]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 4]),
                                  helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                  helper.make_tensor_value_info("c2", TensorProto.BOOL, [])],
                [weight("w1", [4, 8]), weight("w2", [8, 16])])
    with pytest.warns(ControlFlowWarning):
        # x [1, 4] @ w1 [4, 8]: 32 MACs; h [1, 8] @ w2 [8, 16]: 128 MACs
        assert macs(path) == 32 + 128
    # the nested If is named by its enclosing branch's prefix; its else branch reads h too
    assert macs(path, branches={"outer": "then", "outer/then/inner": "else"}) == 32


def test_an_if_on_the_rank_of_an_intermediate_tensor_takes_the_branch_its_shape_decides(
        tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    """PyTorch's scripted LSTM wrapper: ``if h.dim() != 3: h = h.unsqueeze(0)`` on h = x @ w, rank 3 here. The
    then branch (Unsqueeze, then a MatMul that would cost more) does not apply; the condition is decided from h's
    inferred rank, without a warning, and the else branch (h as it is) counts."""
    check, cond = _rank_check("r/", "h", 3)
    then_graph = helper.make_graph([helper.make_node("Unsqueeze", ["h", "axis0"], ["u"]),
                                    helper.make_node("MatMul", ["u", "w3"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", F32, None)])
    else_graph = helper.make_graph([helper.make_node("Identity", ["h"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", F32, None)])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), *check, helper.make_node("Not", [cond], ["c"]),
             helper.make_node("If", ["c"], ["g"], name="batched", then_branch=then_graph, else_branch=else_graph),
             helper.make_node("Relu", ["g"], ["y"])]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [2, 5, 4])],
                [weight("w", [4, 8]), weight("w3", [8, 8]), ints("axis0", [0])])
    # h = x [2, 5, 4] @ w [4, 8]: 2 * 5 * 8 * 4 = 320 MACs; rank 3, so not unsqueezed
    assert macs(path) == 320
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]


def test_an_if_whose_condition_another_if_computes_waits_for_it(tmp_path: Path,
                                                                recwarn: pytest.WarningsRecorder) -> None:
    """If "first" (run-time condition, both branches give a rank-2 [1, 8]) feeds If "second", which branches on the
    rank of first's output: first is inlined (more expensive branch, warned), then second's condition is known
    (rank 2 == 2: its then branch, a MatMul) and it is not warned about."""
    first_then = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["a"])], "first_then", [],
                                   [helper.make_tensor_value_info("a", F32, None)])
    first_else = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["b"], axis=1)], "first_else", [],
                                   [helper.make_tensor_value_info("b", F32, None)])
    check, cond = _rank_check("r/", "f", 2)
    second_then = helper.make_graph([helper.make_node("MatMul", ["f", "w2"], ["s"])], "second_then", [],
                                    [helper.make_tensor_value_info("s", F32, None)])
    second_else = helper.make_graph([helper.make_node("Identity", ["f"], ["s2"])], "second_else", [],
                                    [helper.make_tensor_value_info("s2", F32, None)])
    nodes = [helper.make_node("If", ["c"], ["f"], name="first", then_branch=first_then, else_branch=first_else),
             *check,
             helper.make_node("If", [cond], ["y"], name="second", then_branch=second_then, else_branch=second_else)]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 4]),
                                  helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                [weight("w1", [4, 8]), weight("w2", [8, 3])])
    # first: x [1, 4] @ w1 [4, 8] = 32 MACs; second: f [1, 8] @ w2 [8, 3] = 24 MACs
    assert macs(path) == 32 + 24
    warned = [str(w.message) for w in recwarn if issubclass(w.category, ControlFlowWarning)]
    assert len(warned) == 1 and warned[0].startswith("If node 'first'")


def test_an_error_after_a_branch_chosen_by_cost_says_how_to_choose_the_other(tmp_path: Path) -> None:
    """A run-time If whose more expensive branch unsqueezes x [1, 1, 4] to rank 4 before an LSTM (rank 3 only):
    the malformed LSTM's error adds that the branch was chosen by cost and how to choose the other; the else branch
    (x as it is) counts as the LSTM alone does."""
    then_graph = helper.make_graph([helper.make_node("Unsqueeze", ["x", "axis0"], ["u"]),
                                    helper.make_node("MatMul", ["u", "m"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", F32, None)])
    else_graph = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", F32, None)])
    lstm = helper.make_node("LSTM", ["g", "W", "R"], ["y"], hidden_size=3)
    weights = [weight("W", [1, 12, 4]), weight("R", [1, 12, 3])]
    inputs = [helper.make_tensor_value_info("x", F32, [1, 1, 4]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])]
    path = save(tmp_path, [helper.make_node("If", ["c"], ["g"], name="gate", then_branch=then_graph,
                                            else_branch=else_graph), lstm],
                inputs, [*weights, weight("m", [4, 4]), ints("axis0", [0])])
    with pytest.warns(ControlFlowWarning):
        with pytest.raises((ModelFileError, ShapeError), match=r"LSTM.*expected rank 3.*; the graph was costed with the more expensive "
                                              r"branch of If 'gate', whose condition is known only at run time "
                                              r"\(warned\): .*choose the other, e\.g\. branches=\{'gate': 'else'\}$"):
            load_onnx(path)
    alone = save(tmp_path, [helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=3)], inputs[:1], weights,
                 filename="lstm.onnx")
    assert macs(path, branches={"gate": "else"}) == macs(alone) > 0


def _loop_model(tmp_path: Path, trip: onnx.TensorProto | None) -> Path:
    """Loop M times: h = h @ w (h [1, 4], w [4, 4]); also stacks each h as a scan output."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("MatMul", ["h_in", "w"], ["h_out"]),
         helper.make_node("Identity", ["h_out"], ["h_scan"])], "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", F32, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", F32, [1, 4]), helper.make_tensor_value_info("h_scan", F32, [1, 4])])
    nodes = [helper.make_node("Relu", ["x"], ["h0"]),
             helper.make_node("Loop", ["M", "", "h0"], ["h", "hs"], name="steps", body=body),
             helper.make_node("Relu", ["h"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", F32, [1, 4])]
    if trip is None:
        inputs.append(helper.make_tensor_value_info("M", I64, []))
    return save(tmp_path, nodes, inputs, [weight("w", [4, 4]), *([trip] if trip is not None else [])])


def test_loop_with_static_trip_count(tmp_path: Path) -> None:
    path = _loop_model(tmp_path, numpy_helper.from_array(np.asarray(3, dtype=np.int64), "M"))
    network = load_onnx(path)
    # 3 iterations of MatMul [1, 4] x [4, 4] -> [1, 4]: macs = 3 * (4 * 4) = 48
    assert int(count_network(network).totals["macs"] or 0) == 48
    concat = [layer for layer in network.layers if layer.source_op == "Concat"]
    assert concat[0].outputs == ((3, 1, 4),)  # the scan output stacks the 3 iterations


def test_loop_count_bound_by_the_user(tmp_path: Path) -> None:
    path = _loop_model(tmp_path, None)
    # 5 iterations: macs = 5 * 16 = 80
    assert macs(path, loop_counts={"steps": 5}) == 80


def test_loop_of_run_time_count_is_warned_about(tmp_path: Path) -> None:
    path = _loop_model(tmp_path, None)
    with pytest.warns(ControlFlowWarning, match=r"Loop node 'steps': its trip count is known only at run time"):
        with pytest.raises(ShapeError, match="data-dependent"):
            load_onnx(path)


# ---------------------------------------------------------------------------------------- names and labels


def test_recurrent_initial_states_are_inputs_not_parameters(tmp_path: Path) -> None:
    """LSTM, input 4, hidden 3, 2 steps, initial_h and initial_c stored as constant zeros (1, 1, 3)."""
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["y"], hidden_size=3)
    path = save(tmp_path, [node], [helper.make_tensor_value_info("x", F32, [2, 1, 4])],
                [weight("W", [1, 12, 4]), weight("R", [1, 12, 3]), weight("B", [1, 24]), weight("h0", [1, 1, 3]),
                 weight("c0", [1, 1, 3])])
    (layer,) = load_onnx(path).layers
    # params = W 12 * 4 + R 12 * 3 + B 24 = 48 + 36 + 24 = 108; the states are no parameters
    assert sum(spec.elements for spec in layer.weights) == 108
    assert (1, 1, 3) in layer.inputs


def test_int32_input_with_float_layers_is_fp32(tmp_path: Path) -> None:
    nodes = [helper.make_node("Cast", ["ids"], ["x"], to=F32), helper.make_node("MatMul", ["x", "w"], ["y"])]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("ids", TensorProto.INT32, [1, 4])],
                [weight("w", [4, 2])])
    precision = load_onnx(path).precision
    assert (precision.weights.value, precision.activations.value) == ("fp32", "fp32")


def test_contrib_dynamic_quantize_lstm_has_a_shape_rule(tmp_path: Path) -> None:
    """com.microsoft DynamicQuantizeLSTM (no ONNX shape rule), X (2, 1, 4), hidden 3, int8 W (1, 4, 12) and
    R (1, 3, 12), then a Relu on Y."""
    inits = [numpy_helper.from_array(np.zeros((1, 4, 12), np.int8), "W"),
             numpy_helper.from_array(np.zeros((1, 3, 12), np.int8), "R"), weight("B", [1, 24]),
             weight("ws", [1]), numpy_helper.from_array(np.zeros((1,), np.int8), "wz"), weight("rs", [1]),
             numpy_helper.from_array(np.zeros((1,), np.int8), "rz")]
    nodes = [helper.make_node("DynamicQuantizeLSTM", ["x", "W", "R", "B", "", "", "", "", "ws", "wz", "rs", "rz"],
                              ["y"], domain="com.microsoft", hidden_size=3),
             helper.make_node("Relu", ["y"], ["out"])]
    graph = helper.make_graph(nodes, "lstm", [helper.make_tensor_value_info("x", F32, [2, 1, 4])],
                              [helper.make_tensor_value_info("out", F32, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = tmp_path / "dq_lstm.onnx"
    onnx.save(model, str(path))
    network = load_onnx(path)
    assert network.layers[1].outputs == ((2, 1, 1, 3),)  # Y (seq, directions, batch, hidden)
    assert network.layers[0].op == "lstm"
    # T * N * dirs * 4 * H * (I + H) = 2 * 1 * 1 * 4 * 3 * (4 + 3) = 168
    assert int(count_network(network).totals["macs"] or 0) == 168


def _scan_model(tmp_path: Path, steps: int | str, reverse: int = 0) -> Path:
    """Scan over x [steps, 1, 4] (axis 0) with state h [1, 4]: h = h @ w + x_t (w [4, 4]); scan output each h."""
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "w"], ["m"]), helper.make_node("Add", ["m", "x_t"], ["h_out"]),
         helper.make_node("Identity", ["h_out"], ["y_t"])], "body",
        [helper.make_tensor_value_info("h_in", F32, [1, 4]), helper.make_tensor_value_info("x_t", F32, [1, 4])],
        [helper.make_tensor_value_info("h_out", F32, [1, 4]), helper.make_tensor_value_info("y_t", F32, [1, 4])])
    nodes = [helper.make_node("Scan", ["h0", "x"], ["h", "ys"], name="rnn", body=body, num_scan_inputs=1,
                              scan_input_directions=[reverse]),
             helper.make_node("Relu", ["ys"], ["y"])]
    inputs = [helper.make_tensor_value_info("h0", F32, [1, 4]), helper.make_tensor_value_info("x", F32, [steps, 1, 4])]
    return save(tmp_path, nodes, inputs, [weight("w", [4, 4])])


def test_scan_with_static_sequence_length(tmp_path: Path) -> None:
    network = load_onnx(_scan_model(tmp_path, 3))
    # 3 steps of MatMul [1, 4] x [4, 4] -> [1, 4]: macs = 3 * (4 * 4) = 48
    assert int(count_network(network).totals["macs"] or 0) == 48
    stack = [layer for layer in network.layers if layer.source_op == "Concat"]
    assert stack[0].outputs == ((3, 1, 4),)  # the scan output stacks the 3 steps
    slices = [layer for layer in network.layers if layer.source_op == "Gather"]
    assert [layer.outputs for layer in slices] == [((1, 4),)] * 3  # each step reads its [1, 4] slice of x


def test_reverse_scan_reads_its_slices_from_the_end(tmp_path: Path) -> None:
    network = load_onnx(_scan_model(tmp_path, 2, reverse=1))
    # 2 steps: macs = 2 * 16 = 32
    assert int(count_network(network).totals["macs"] or 0) == 32


def test_scan_length_bound_by_the_user(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path = _scan_model(tmp_path, "seq")
    # inputs are bound before control flow is inlined: x [5, 1, 4] makes 5 steps: macs = 5 * 16 = 80
    assert macs(path, input_shapes={"x": [5, 1, 4]}) == 80
    # a symbolic leading dim is the batch (1 unless given), as for every input: 1 step, 16 MACs
    assert macs(path) == 16
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]
    # a length computed at run time (a Scan over a tensor whose leading dim is data-dependent) is warned about
    with pytest.warns(ControlFlowWarning, match=r"Scan node 'rnn': its sequence length is known only at run time"):
        with pytest.raises(ShapeError, match="data-dependent"):
            load_onnx(_scan_of_run_time_length(tmp_path))


def _scan_of_run_time_length(tmp_path: Path) -> Path:
    """The Scan of :func:`_scan_model` over x = Tile(x0, repeats), repeats a graph input: its length is data."""
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "w"], ["m"]), helper.make_node("Add", ["m", "x_t"], ["h_out"]),
         helper.make_node("Identity", ["h_out"], ["y_t"])], "body",
        [helper.make_tensor_value_info("h_in", F32, [1, 4]), helper.make_tensor_value_info("x_t", F32, [1, 4])],
        [helper.make_tensor_value_info("h_out", F32, [1, 4]), helper.make_tensor_value_info("y_t", F32, [1, 4])])
    nodes = [helper.make_node("Tile", ["x0", "repeats"], ["x"]),
             helper.make_node("Scan", ["h0", "x"], ["h", "ys"], name="rnn", body=body, num_scan_inputs=1),
             helper.make_node("Relu", ["h"], ["y"])]
    inputs = [helper.make_tensor_value_info("h0", F32, [1, 4]), helper.make_tensor_value_info("x0", F32, [1, 1, 4]),
              helper.make_tensor_value_info("repeats", I64, [3])]
    return save(tmp_path, nodes, inputs, [weight("w", [4, 4])], filename="tiled.onnx")


def _scan8_model(tmp_path: Path, batch: int | str, steps: int | str, sequence_lens: bool = False) -> Path:
    """Opset-8 Scan over x [batch, steps, 1, 4] (batch axis 0, scan axis 1) with state h [batch, 1, 4]: per batch
    element, h = h @ w + x_t (w [4, 4]); scan output each h. ``sequence_lens`` feeds the optional lengths input."""
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "w"], ["m"]), helper.make_node("Add", ["m", "x_t"], ["h_out"]),
         helper.make_node("Identity", ["h_out"], ["y_t"])], "body",
        [helper.make_tensor_value_info("h_in", F32, [1, 4]), helper.make_tensor_value_info("x_t", F32, [1, 4])],
        [helper.make_tensor_value_info("h_out", F32, [1, 4]), helper.make_tensor_value_info("y_t", F32, [1, 4])])
    nodes = [helper.make_node("Scan", ["lens" if sequence_lens else "", "h0", "x"], ["h", "ys"], name="rnn",
                              body=body, num_scan_inputs=1),
             helper.make_node("Relu", ["ys"], ["y"])]
    inputs = [helper.make_tensor_value_info("h0", F32, [batch, 1, 4]),
              helper.make_tensor_value_info("x", F32, [batch, steps, 1, 4])]
    if sequence_lens:
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [batch]))
    return save(tmp_path, nodes, inputs, [weight("w", [4, 4])], opset=8)


def test_opset8_scan_runs_its_body_per_batch_element_and_step(tmp_path: Path, recwarn: pytest.WarningsRecorder
                                                               ) -> None:
    network = load_onnx(_scan8_model(tmp_path, 2, 3))
    # batch 2 x 3 steps of MatMul [1, 4] x [4, 4] -> [1, 4] (16 MACs): macs = 2 * 3 * 16 = 96
    assert int(count_network(network).totals["macs"] or 0) == 96
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]
    stacks = {layer.name: layer.outputs for layer in network.layers if layer.name.startswith("rnn/stack/")}
    # final state h [batch, 1, 4]; scan output ys [batch, steps, 1, 4]
    assert stacks == {"rnn/stack/h": ((2, 1, 4),), "rnn/stack/ys": ((2, 3, 1, 4),)}
    slices = [layer.outputs for layer in network.layers if layer.source_op == "Gather" and "/slice" in layer.name]
    assert slices == [((1, 4),)] * 6  # each of the 2 x 3 body runs reads its [1, 4] slice of x


def test_opset8_scan_length_bound_by_the_user(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path, shapes = _scan8_model(tmp_path, 2, "seq"), {"x": [2, 5, 1, 4]}
    # bound before control flow is inlined, x's 5 steps unroll: macs = batch 2 * 5 steps * 16 = 160
    assert macs(path, input_shapes=shapes) == 160
    assert macs(path, loop_counts={"rnn": 5}, input_shapes=shapes) == 160  # the same length named twice
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]


def test_opset8_scan_of_symbolic_batch_unrolls_at_the_bound_batch(tmp_path: Path) -> None:
    path = _scan8_model(tmp_path, "n", 3)
    # the symbolic batch n is bound (1 by default, 2 given) before the Scan unrolls: macs = n * 3 steps * 16
    assert macs(path) == 48
    assert macs(path, batch=2) == 96


def test_opset8_scan_with_sequence_lens_counts_the_maximum_length(tmp_path: Path) -> None:
    with pytest.warns(ControlFlowWarning, match=r"counted at the maximum sequence length 3 \(an upper bound\)"):
        # every batch element at the full 3 steps: macs = 2 * 3 * 16 = 96
        assert macs(_scan8_model(tmp_path, 2, 3, sequence_lens=True)) == 96


def test_node_on_empty_tensors_only_is_no_layer(tmp_path: Path) -> None:
    """A streaming model's empty initial state s [1, 0] cast and concatenated to x [1, 4]: the Cast moves no data."""
    nodes = [helper.make_node("Cast", ["s"], ["s32"], to=F32), helper.make_node("Concat", ["s32", "x"], ["y"], axis=1)]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 4]),
                                  helper.make_tensor_value_info("s", TensorProto.FLOAT16, [1, 0])])
    network = load_onnx(path)
    assert [layer.source_op for layer in network.layers] == ["Concat"]
    assert network.layers[0].inputs == ((1, 4),)  # the empty state holds no bytes


def test_if_condition_computed_from_a_static_shape_picks_its_branch(tmp_path: Path, recwarn: pytest.WarningsRecorder
                                                                    ) -> None:
    """If(Size(s) == 4), s declared [4] (as an expanded AffineGrid branches on its size operand's length): the
    condition is true before anything runs, so the then branch counts, without a warning."""
    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", F32, [1, 8])])
    else_graph = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=1)], "else", [],
                                   [helper.make_tensor_value_info("e", F32, [1, 8])])
    nodes = [helper.make_node("Constant", [], ["four"], value_int=4), helper.make_node("Size", ["s"], ["n"]),
             helper.make_node("Equal", ["n", "four"], ["c"]),
             helper.make_node("If", ["c"], ["y"], name="gate", then_branch=then_graph, else_branch=else_graph)]
    path = save(tmp_path, nodes, [helper.make_tensor_value_info("x", F32, [1, 4]),
                                  helper.make_tensor_value_info("s", I64, [4])], [weight("w", [4, 8])])
    # then: MatMul [1, 4] x [4, 8]: macs = 8 * 4 = 32
    assert macs(path) == 32
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]
    # s given by the user: its given length decides (Size = 3 != 4: the else branch, a Concat, no MACs)
    assert macs(path, input_shapes={"s": [3]}) == 0
    assert not [w for w in recwarn if issubclass(w.category, ControlFlowWarning)]
