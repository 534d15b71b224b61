"""Reading a large ONNX file without the bytes of its large weights (rooflinekit.importers.onnx._lean): the model
read that way is the model parsed whole, less the data of initializers over SMALL_VALUE elements; the import gives
the same layers; a file the scan does not understand is parsed whole, with the whole parse's errors. The C heap
that shape inference frees is given back on large graphs (rooflinekit.importers.onnx._heap)."""

from __future__ import annotations

import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ModelFileError  # noqa: E402
from rooflinekit.importers.onnx import _heap, _lean, load_onnx  # noqa: E402
from onnx_builder import relu_chain  # noqa: E402

_ROWS, _K, _N = 2, 600, 500
"""x (2, 600) @ w (600, 500) + b (500,): w holds 300,000 float32 (1.2 MB, over MIN_FILE_BYTES with the file)."""


def _matmul_model(tmp_path: Path) -> Path:
    weight = numpy_helper.from_array(np.arange(_K * _N, dtype=np.float32).reshape(_K, _N), "w")
    bias = numpy_helper.from_array(np.arange(_N, dtype=np.float32), "b")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
                               helper.make_node("Add", ["m", "b"], ["y"], name="add")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [_ROWS, _K])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [_ROWS, _N])], [weight, bias])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert path.stat().st_size >= _lean.MIN_FILE_BYTES
    return path


def test_lean_bytes_drop_only_the_data_of_large_initializers(tmp_path: Path) -> None:
    path = _matmul_model(tmp_path)
    whole = onnx.load(str(path))
    lean_bytes = _lean.lean_model_bytes(path)
    assert lean_bytes is not None and len(lean_bytes) < 10_000  # 1.2 MB of weight bytes left out
    lean = onnx.ModelProto.FromString(lean_bytes)
    weight, bias = lean.graph.initializer
    # w: 300,000 elements > SMALL_VALUE: name, type and dims kept, no data
    assert (weight.name, weight.data_type, list(weight.dims)) == ("w", TensorProto.FLOAT, [_K, _N])
    assert not weight.HasField("raw_data") and not weight.float_data
    # b: 500 elements <= SMALL_VALUE: kept with its data
    assert bias == whole.graph.initializer[1]
    # everything else as the whole parse reads it
    lean.graph.initializer[0].CopyFrom(whole.graph.initializer[0])
    assert lean == whole


def test_lean_read_imports_the_same_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _matmul_model(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lean = load_onnx(path)
        monkeypatch.setattr(_lean, "MIN_FILE_BYTES", 1 << 62)  # every file parsed whole
        whole = load_onnx(path)
    assert lean == whole
    assert lean.layers[0].weights[0].shape == (_N, _K)  # a constant MatMul operand, stored (out, in)
    # matmul macs = prod(output) * K = 2 * 500 * 600
    assert count_network(lean).totals["macs"] == _ROWS * _N * _K


def test_small_files_are_parsed_whole(tmp_path: Path) -> None:
    path = tmp_path / "small.onnx"
    path.write_bytes(b"\x08\x07")  # ir_version 7, two bytes
    assert _lean.lean_model_bytes(path) is None


def test_a_truncated_file_is_parsed_whole_and_refused(tmp_path: Path) -> None:
    path = _matmul_model(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # cut inside w's raw_data: a length past the end
    assert _lean.lean_model_bytes(path) is None
    with pytest.raises(ModelFileError, match=r"big\.onnx: not a readable ONNX protobuf"):
        load_onnx(path)


def test_packed_dims_are_read(tmp_path: Path) -> None:
    """Protobuf writers may pack a repeated int64 (``dims``): the scan reads that encoding too."""
    model = onnx.load(str(_matmul_model(tmp_path)))
    weight, bias = (onnx.TensorProto.FromString(t.SerializeToString()) for t in model.graph.initializer)
    weight.ClearField("dims")
    values = _varint(_K) + _varint(_N)
    packed_weight = b"\x0a" + _varint(len(values)) + values + weight.SerializeToString()  # dims: field 1, packed
    model.graph.ClearField("initializer")
    graph = model.graph.SerializeToString() + b"".join(  # GraphProto.initializer: field 5
        b"\x2a" + _varint(len(t)) + t for t in (packed_weight, bias.SerializeToString()))
    model.ClearField("graph")
    path = tmp_path / "packed.onnx"
    path.write_bytes(model.SerializeToString() + b"\x3a" + _varint(len(graph)) + graph)  # ModelProto.graph: 7
    assert list(onnx.load(str(path)).graph.initializer[0].dims) == [_K, _N]  # protobuf reads it so
    lean = onnx.ModelProto.FromString(_lean.lean_model_bytes(path) or b"")
    assert list(lean.graph.initializer[0].dims) == [_K, _N] and not lean.graph.initializer[0].raw_data


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# ------------------------------------------------------------------ the C heap shape inference frees (_heap)


def test_a_large_graph_gives_the_freed_heap_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(_heap, "_malloc_trim", lambda: trims.append)
    network = load_onnx(relu_chain(tmp_path, _heap.MIN_NODES))
    assert len(network.layers) == _heap.MIN_NODES  # one layer per Relu
    assert trims == [0, 0]  # pad 0, once after shape inference and once before the layers are built


def test_a_small_graph_is_not_trimmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(_heap, "_malloc_trim", lambda: trims.append)
    assert len(load_onnx(relu_chain(tmp_path, 3)).layers) == 3
    assert trims == []


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_glibc_malloc_trim_is_found_and_runs() -> None:
    trim = _heap._malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # 1 when pages were returned, 0 when there were none
