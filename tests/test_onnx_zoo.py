"""The ONNX importer on the models shipped in the installed onnx package.

- ``light/*.onnx``: model-zoo architectures with ``ConstantOfShape`` weights; their Conv, Gemm and MatMul MACs must
  equal an independent derivation (:func:`reference_macs`, from ONNX's own shape inference and the weight dims,
  without rooflinekit's counters).
- ``pytorch-converted/*/model.onnx`` and ``pytorch-operator/*/model.onnx``: each imports and counts or fails with a
  :class:`RooflineError`; the coverage is printed (``pytest -s``) and must not regress.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import shape_inference  # noqa: E402

from rooflinekit.counters import UnsupportedOpWarning, count_network  # noqa: E402
from rooflinekit.counters.cost import NetworkCost  # noqa: E402
from rooflinekit.errors import RooflineError  # noqa: E402
from rooflinekit.importers.onnx import load_onnx  # noqa: E402

DATA = Path(onnx.__file__).parent / "backend/test/data"
LIGHT = sorted((DATA / "light").glob("*.onnx"))
PYTORCH = sorted((DATA / "pytorch-converted").glob("*/model.onnx")) + sorted(
    (DATA / "pytorch-operator").glob("*/model.onnx"))
PRODUCT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
ZERO_COST_OPS = {"Shape", "Size", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout"}
"""op types that may stay unmapped without losing arithmetic (all are mapped today)."""


def reference_macs(path: Path) -> int:
    """MACs of Conv, ConvTranspose, Gemm and MatMul, from ONNX shape inference alone.

    - Conv: each output element is a dot product over one weight filter ``W[o]`` of ``C_in/g * prod(k)`` =
      ``prod(W.shape[1:])`` elements: ``prod(Y) * prod(W[1:])``.
    - ConvTranspose: each input element is scattered through ``W[c]`` (``C_out/g * prod(k)`` elements):
      ``prod(X) * prod(W[1:])``.
    - Gemm: ``prod(Y) * K`` with ``K = A.shape[0 if transA else 1]``; MatMul: ``prod(Y) * A.shape[-1]``.
    """
    model = shape_inference.infer_shapes(onnx.load(path), data_prop=True)
    graph = model.graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in (*graph.input, *graph.value_info, *graph.output)}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    total = 0
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            total += math.prod(shapes[node.output[0]]) * math.prod(shapes[node.input[1]][1:])
        elif node.op_type == "ConvTranspose":
            total += math.prod(shapes[node.input[0]]) * math.prod(shapes[node.input[1]][1:])
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            total += math.prod(shapes[node.output[0]]) * (a[0] if attrs.get("transA") else a[1])
        elif node.op_type == "MatMul":
            total += math.prod(shapes[node.output[0]]) * shapes[node.input[0]][-1]
    return total


def import_and_count(path: Path) -> NetworkCost:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        return count_network(load_onnx(path))


def product_macs(cost: NetworkCost) -> int:
    rows = cost.layers
    return int(rows[rows.source_op.isin(PRODUCT_OPS)].macs.sum())


def test_light_models_are_present() -> None:
    assert len(LIGHT) >= 9, f"expected the onnx package's light model zoo under {DATA / 'light'}"


@pytest.mark.parametrize("path", LIGHT, ids=[p.stem for p in LIGHT])
def test_light_model_matches_independent_macs(path: Path) -> None:
    cost = import_and_count(path)
    assert not set(cost.unsupported_ops) - ZERO_COST_OPS, cost.unsupported_ops
    assert product_macs(cost) == reference_macs(path)
    assert cost.layers.source_op.notna().all()
    assert set(cost.layers.source_op) >= {"Conv", "Relu"}


def test_light_resnet50_pinned() -> None:
    cost = import_and_count(DATA / "light/light_resnet50.onnx")
    rows = cost.layers
    conv_gemm = rows[rows.op.isin(["conv", "fully_connected"])]
    assert int(conv_gemm.macs.sum()) == 4_089_184_256
    assert (conv_gemm.source_op == "Conv").sum() == 53 and (conv_gemm.source_op == "Gemm").sum() == 1
    assert int(conv_gemm.params.sum()) == 25_503_912  # 23,454,912 conv + 2,048,000 + 1,000 fc weights


def test_pytorch_models_import_or_fail_with_typed_errors() -> None:
    """Every PyTorch-exported model imports and counts, or raises a RooflineError (never a foreign exception);
    Conv/Gemm/MatMul MACs match the independent derivation where it imports."""
    imported, typed = [], []
    for path in PYTORCH:
        try:
            cost = import_and_count(path)
        except RooflineError as error:
            typed.append(f"{path.parent.name}: {type(error).__name__}: {error}")
            continue
        assert product_macs(cost) == reference_macs(path), path.parent.name
        imported.append(path.parent.name)
    total = len(PYTORCH)
    print(f"\nonnx pytorch models: imported={len(imported)} failed_with_typed_error={len(typed)} total={total}")
    print("\n".join(typed))
    assert total >= 100
    assert len(imported) >= 0.95 * total, typed
