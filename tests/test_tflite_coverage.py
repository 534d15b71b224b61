"""TFLite builtins added for issue 12 (RSQRT, SQUARE, SHAPE), built with the project's flatbuffer builder; the
expected costs are derived by hand (unary convention: one op per output element)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite", reason="the TFLite importer needs the optional tflite package")

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ShapeError  # noqa: E402
from rooflinekit.importers import load_model  # noqa: E402
from rooflinekit.importers.tflite import TFLiteImportWarning, load_tflite, subgraph_summary  # noqa: E402
from tflite_builder import Graph, Op, T, build_tflite  # noqa: E402


def single_op(inputs: list[T], outputs: list[T], code: str) -> Graph:
    """A graph of one operator whose graph inputs are its operands."""
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(inputs) + len(outputs)))
    return Graph(inputs + outputs, [Op(code, ins, outs, None)], ins, outs)


def _one(tmp_path: Path, code: str, out: tuple[int, ...] = (1, 10)) -> tuple[str, int]:
    path = tmp_path / f"{code}.tflite"
    path.write_bytes(build_tflite(single_op([T((1, 10))], [T(out)], code)))
    network = load_tflite(path)
    cost = count_network(network)
    return network.layers[0].op, int(cost.totals["ops"] or 0)


@pytest.mark.parametrize(("code", "kind", "ops"), [
    ("RSQRT", "sqrt", 10),    # 1 / sqrt(x) on 10 elements: one op each = 10
    ("SQUARE", "mul", 10),    # x * x on 10 elements: one mul each = 10
])
def test_unary_builtins_are_counted(tmp_path: Path, code: str, kind: str, ops: int) -> None:
    assert _one(tmp_path, code) == (kind, ops)


def test_shape_is_free(tmp_path: Path) -> None:
    # SHAPE reads no data: zero ops
    assert _one(tmp_path, "SHAPE", (2,)) == ("shape", 0)


# ------------------------------------------------------------------- issue 12: files as exporters write them

from tflite_builder import I32, VALID, const  # noqa: E402

RESOURCE = 20  # tflite.TensorType.RESOURCE


def _conv_options() -> tuple[str, dict]:
    return ("Conv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                              "DilationHFactor": 1})


def _write(tmp_path: Path, graph: Graph, name: str = "model.tflite") -> Path:
    path = tmp_path / name
    path.write_bytes(build_tflite(graph))
    return path


def test_zero_size_tensor_is_accepted_and_holds_no_bytes(tmp_path: Path) -> None:
    """A streaming model's empty initial state [0, 4] concatenated with the frame [1, 4]."""
    graph = Graph([T((1, 4)), T((0, 4)), T((1, 4))],
                  [Op("CONCATENATION", [0, 1], [2], ("ConcatenationOptions", {"Axis": 0}))], [0, 1], [2])
    (layer,) = load_tflite(_write(tmp_path, graph)).layers
    assert layer.inputs == ((1, 4),)  # the empty operand is left out: it holds no bytes
    assert layer.outputs == ((1, 4),)


def test_densify_is_folded_into_the_conv(tmp_path: Path) -> None:
    """DENSIFY of a sparse (8, 3, 3, 3) fp32 filter stored in 40 bytes, then CONV_2D VALID on (1, 8, 8, 3)."""
    sparse = T((8, 3, 3, 3), data=bytes(40))
    graph = Graph([T((1, 8, 8, 3)), sparse, T((8, 3, 3, 3)), const((8,)), T((1, 6, 6, 8))],
                  [Op("DENSIFY", [1], [2]), Op("CONV_2D", [0, 2, 3], [4], _conv_options())], [0], [4])
    network = load_tflite(_write(tmp_path, graph))
    (conv,) = network.layers  # the DENSIFY row is gone
    assert conv.op == "conv"
    weight, bias = conv.weights
    assert weight.shape == (8, 3, 3, 3)  # dense (C_out, C_in, KH, KW): 216 elements, 864 bytes dense
    assert weight.nbytes == 40  # as stored, sparse
    assert bias.nbytes == 32
    # output (1, 8, 6, 6), 3 input channels, 3 x 3 kernel: macs = 1 * 8 * 6 * 6 * 3 * 3 * 3 = 7776
    assert int(count_network(network).totals["macs"] or 0) == 7776


def test_resource_variables_are_state(tmp_path: Path) -> None:
    """A streaming step: h = FC(concat(x, READ(var))); ASSIGN(var, h). The variable (1, 4) fp32 is state."""
    tensors = [T((1, 4), name="x"), T((), RESOURCE, name="handle"), T((1, 4), name="h_prev"),
               T((1, 8), name="xh"), const((4, 8)), T((1, 4), name="h")]
    ops = [Op("VAR_HANDLE", [], [1]), Op("READ_VARIABLE", [1], [2]),
           Op("CONCATENATION", [0, 2], [3], ("ConcatenationOptions", {"Axis": 1})),
           Op("FULLY_CONNECTED", [3, 4], [5]), Op("ASSIGN_VARIABLE", [1, 5], [])]
    network = load_tflite(_write(tmp_path, Graph(tensors, ops, [0], [5])))
    layers = {layer.source_op: layer for layer in network.layers}
    assert layers["READ_VARIABLE"].state[0].shape == (1, 4)
    assert layers["ASSIGN_VARIABLE"].state[0].shape == (1, 4)
    cost = count_network(network)
    assert not cost.unsupported_ops
    # FC (1, 8) x (8 -> 4): macs = 4 * 8 = 32
    assert int(cost.totals["macs"] or 0) == 32


def test_a_call_once_init_subgraph_is_listed_as_the_initializer_and_not_warned_about(tmp_path: Path) -> None:
    """A streaming step as microWakeWord exports it: CALL_ONCE runs subgraph 1 (it assigns the variable its zeros)
    once before the first inference, so it is no per-inference work; only subgraph 0's FC is counted."""
    tensors = [T((1, 4), name="x"), T((), RESOURCE, name="handle"), T((1, 4), name="h_prev"),
               T((1, 8), name="xh"), const((4, 8)), T((1, 4), name="h")]
    ops = [Op("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": 1})), Op("VAR_HANDLE", [], [1]),
           Op("READ_VARIABLE", [1], [2]), Op("CONCATENATION", [0, 2], [3], ("ConcatenationOptions", {"Axis": 1})),
           Op("FULLY_CONNECTED", [3, 4], [5]), Op("ASSIGN_VARIABLE", [1, 5], [])]
    init = Graph([T((), RESOURCE, name="handle"), const((1, 4))],
                 [Op("VAR_HANDLE", [], [0]), Op("ASSIGN_VARIABLE", [0, 1], [])], [], [], name="NoOp")
    path = tmp_path / "stream.tflite"
    path.write_bytes(build_tflite(Graph(tensors, ops, [0], [5]), init))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TFLiteImportWarning)  # nothing to warn about
        network = load_tflite(path)
    assert [(s.name, s.counted, s.initializer) for s in subgraph_summary(path)] == [
        ("main", True, False), ("NoOp", False, True)]
    # FC (1, 8) x (8 -> 4): macs = 4 * 8 = 32
    assert int(count_network(network).totals["macs"] or 0) == 32


def test_custom_transposed_conv_with_bias(tmp_path: Path) -> None:
    """MediaPipe Convolution2DTransposeBias: (1, 4, 4, 8) -> (1, 8, 8, 16), weights (16, 3, 3, 8), bias (16,)."""
    graph = Graph([T((1, 4, 4, 8)), const((16, 3, 3, 8)), const((16,)), T((1, 8, 8, 16))],
                  [Op("CUSTOM:Convolution2DTransposeBias", [0, 1, 2], [3])], [0], [3])
    network = load_tflite(_write(tmp_path, graph))
    (layer,) = network.layers
    assert (layer.op, layer.attrs["strides"]) == ("conv_transpose", (2, 2))
    # N * C_in * H_in * W_in * C_out * KH * KW = 1 * 8 * 4 * 4 * 16 * 3 * 3 = 18432
    assert int(count_network(network).totals["macs"] or 0) == 18432


def test_custom_max_pool_with_argmax(tmp_path: Path) -> None:
    """MaxPoolingWithArgmax2D: (1, 8, 8, 4) -> values and int32 indices (1, 4, 4, 4): a 2 x 2 max pool."""
    graph = Graph([T((1, 8, 8, 4)), T((1, 4, 4, 4)), T((1, 4, 4, 4), I32)],
                  [Op("CUSTOM:MaxPoolingWithArgmax2D", [0], [1, 2])], [0], [1, 2])
    network = load_tflite(_write(tmp_path, graph))
    assert network.layers[0].op == "max_pool"
    # other_ops = prod(output) * prod(kernel) = (4 * 4 * 4) * (2 * 2) = 256
    assert int(count_network(network).totals["ops"] or 0) == 256


def test_custom_max_unpooling(tmp_path: Path) -> None:
    """MaxUnpooling2D: values and indices (1, 4, 4, 4) -> (1, 8, 8, 4), a scatter: no arithmetic."""
    graph = Graph([T((1, 4, 4, 4)), T((1, 4, 4, 4), I32), T((1, 8, 8, 4))],
                  [Op("CUSTOM:MaxUnpooling2D", [0, 1], [2])], [0, 1], [2])
    network = load_tflite(_write(tmp_path, graph))
    cost = count_network(network)
    assert network.layers[0].op == "scatter" and not cost.unsupported_ops
    assert int(cost.totals["ops"] or 0) == 0


def _front_end(tmp_path: Path) -> Path:
    """A streaming front-end stored for one 40-sample frame: x (1, 1, 40, 1) -> CONV_2D 1x3 VALID, 8 filters ->
    (1, 1, 38, 8) -> MEAN over time -> (1, 1, 8)."""
    options = ("Conv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1,
                                 "DilationHFactor": 1})
    axes = T((1,), I32, data=np.asarray([2], np.int32).tobytes())
    tensors = [T((1, 1, 40, 1), name="x"), const((8, 1, 3, 1)), T((1, 1, 38, 8)), axes, T((1, 1, 8))]
    ops = [Op("CONV_2D", [0, 1], [2], options), Op("MEAN", [2, 3], [4], ("ReducerOptions", {"KeepDims": False}))]
    return _write(tmp_path, Graph(tensors, ops, [0], [4]))


def test_input_resized_through_input_shapes(tmp_path: Path) -> None:
    stored = load_tflite(_front_end(tmp_path))
    # stored: conv out (1, 8, 1, 38): macs = 8 * 1 * 38 * 1 * 3 = 912
    assert int(count_network(stored).totals["macs"] or 0) == 912
    resized = load_model(_front_end(tmp_path), input_shapes={"x": [1, 1, 400, 1]})
    conv = resized.layers[0]
    assert conv.inputs == ((1, 1, 1, 400),) and conv.outputs == ((1, 8, 1, 398),)  # channels-first
    # 400 samples: conv out width 398: macs = 8 * 398 * 3 = 9552
    assert int(count_network(resized).totals["macs"] or 0) == 9552
    assert resized.layers[1].outputs == ((1, 1, 8),)


def test_resize_refused_where_a_fixed_reshape_cannot_hold_it(tmp_path: Path) -> None:
    tensors = [T((1, 4), name="x"), T((2,), I32, data=np.asarray([2, 2], np.int32).tobytes()), T((2, 2))]
    path = _write(tmp_path, Graph(tensors, [Op("RESHAPE", [0, 1], [2])], [0], [2]))
    with pytest.raises(ShapeError, match=r"operator 0 \(RESHAPE\): cannot propagate the resized input shapes "
                                         r"\[\[1, 8\], \[2\]\] \(the constant target \[2, 2\] does not hold 8"):
        load_tflite(path, input_shapes={"x": [1, 8]})


# -------------------------------------------------------------------- every builtin of the TFLite schema

from tflite.utils import BUILTIN_OPCODE2NAME  # noqa: E402

from rooflinekit.importers.tflite import KINDS  # noqa: E402
from rooflinekit.importers.tflite._ops import UNCOUNTED_BUILTINS  # noqa: E402

_WITH_OPTIONS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D",
                 "LOCAL_RESPONSE_NORMALIZATION", "FULLY_CONNECTED", "BATCH_MATMUL", "READ_VARIABLE",
                 "ASSIGN_VARIABLE"}
"""Builtins whose handlers need real operands or options: tested in tests/test_tflite_importer.py and above."""


def test_every_builtin_is_mapped_or_listed_as_uncounted() -> None:
    builtins = set(BUILTIN_OPCODE2NAME.values())
    listed = set(KINDS) | set(UNCOUNTED_BUILTINS) | {name for name in builtins if name.startswith("STABLEHLO_")}
    assert builtins <= listed, sorted(builtins - listed)
    assert not set(KINDS) & set(UNCOUNTED_BUILTINS)


@pytest.mark.parametrize("code", sorted(set(KINDS) - _WITH_OPTIONS - {"DEQUANTIZE", "DENSIFY"}))
def test_mapped_builtin_imports_and_counts(tmp_path: Path, code: str) -> None:
    """Each mapped builtin on two (1, 10) operands: imported as its kind and costed by a counter."""
    path = tmp_path / "op.tflite"
    path.write_bytes(build_tflite(single_op([T((1, 10)), T((1, 10))], [T((1, 10))], code)))
    network = load_tflite(path)
    assert network.layers[0].op == KINDS[code]
    assert not count_network(network).unsupported_ops
