"""TFLite layers built without pydantic validation (issue 12, import speed): the same layers and errors as validated.

The TFLite importer stores a layer with :meth:`Layer.from_typed` when its kind is a non-empty ``str`` and its input and
output shapes are tuples of positive ``int`` (``_exact``), and validates it as before otherwise. Expected values are
hand-derived (shapes, names) or what pydantic validation of the same fields gives, an independent computation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tflite = pytest.importorskip("tflite")

from rooflinekit.descriptors import DType, Layer, LayerNetwork, Precision  # noqa: E402
from rooflinekit.errors import ModelFileError, SpecError  # noqa: E402
from rooflinekit.importers.tflite import load_tflite  # noqa: E402
from rooflinekit.importers.tflite._layers import _exact, layer  # noqa: E402
from rooflinekit.importers.tflite._nodes import Mapped, nodes  # noqa: E402
from rooflinekit.importers.tflite._reading import read  # noqa: E402
from tflite_builder import I8, SAME, Graph, Op, T, build_tflite, const  # noqa: E402

_CONV = ("Conv2DOptions", {"Padding": SAME, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1, "DilationHFactor": 1})


def _conv_relu(tmp_path: Path) -> Path:
    """CONV_2D (NHWC input (1, 8, 8, 3), OHWI weight (4, 3, 3, 3), bias (4,), SAME) then RELU, both (1, 8, 8, 4)."""
    tensors = [T((1, 8, 8, 3), name="x"), const((4, 3, 3, 3)), const((4,)), T((1, 8, 8, 4), name="c"),
               T((1, 8, 8, 4))]
    graph = Graph(tensors, [Op("CONV_2D", [0, 1, 2], [3], _CONV), Op("RELU", [3], [4])], [0], [4])
    path = tmp_path / "conv_relu.tflite"
    path.write_bytes(build_tflite(graph))
    return path


def test_exact_accepts_only_what_validation_stores() -> None:
    exact = {"op": "conv", "inputs": ((1, 3, 8, 8),), "outputs": ((1, 4, 8, 8),)}
    assert _exact(exact)
    assert _exact({**exact, "inputs": ((),)})  # a scalar operand: no dim to check
    for inexact in ({**exact, "op": ""}, {**exact, "op": None}, {**exact, "inputs": ([1, 3, 8, 8],)},
                    {**exact, "outputs": ((1, 0, 8, 8),)}, {**exact, "outputs": ((1, -4, 8, 8),)},
                    {**exact, "inputs": ((1, np.int64(3), 8, 8),)}, {**exact, "inputs": ((True, 3),)}):
        assert not _exact(inexact)


def test_layers_equal_the_validated_ones(tmp_path: Path) -> None:
    network = load_tflite(_conv_relu(tmp_path))
    conv, relu = network.layers
    # hand-derived: channels-first shapes, the OHWI weight as (O, I, H, W), names from the operator code and index
    assert (conv.name, conv.op, conv.inputs, conv.outputs) == ("conv_2d_0", "conv", ((1, 3, 8, 8),), ((1, 4, 8, 8),))
    assert [w.shape for w in conv.weights] == [(4, 3, 3, 3), (4,)]
    assert (relu.name, relu.input_names, relu.output_names) == ("relu_1", ("c",), ("tensor_4",))
    for built in network.layers:  # pydantic's validation of the same fields gives the same layer, fields set alike
        validated = Layer.model_validate({name: getattr(built, name) for name in built.model_fields_set})
        assert validated == built
        assert validated.model_fields_set == built.model_fields_set
        assert [w.model_fields_set for w in validated.weights] == [w.model_fields_set for w in built.weights]
    again = LayerNetwork(**{name: getattr(network, name) for name in network.model_fields_set})
    assert again == network and again.model_fields_set == network.model_fields_set


def test_inexact_fields_are_validated_as_before(tmp_path: Path) -> None:
    path = _conv_relu(tmp_path)
    relu = nodes(read(path).main, path)[1]
    fp32 = Precision(weights=DType.FP32, activations=DType.FP32)
    # a list shape is what validation turns into a tuple; a zero dim is what it refuses
    listed = layer(relu, Mapped("relu", input_shapes={0: [1, 4, 8, 8]}), fp32)  # type: ignore[dict-item]
    assert listed.inputs == ((1, 4, 8, 8),) and type(listed.inputs[0]) is tuple
    with pytest.raises(SpecError, match="positive"):
        layer(relu, Mapped("relu", input_shapes={0: (1, 0, 8, 8)}), fp32)


def test_quantized_weights_keep_their_stored_bytes(tmp_path: Path) -> None:
    """An int8 per-channel weight: its TensorSpec (built without validation) has the stored dtype and byte count."""
    tensors = [T((1, 4, 4, 2), I8), const((3, 1, 1, 2), I8, scales=3), T((1, 4, 4, 3), I8)]
    graph = Graph(tensors, [Op("CONV_2D", [0, 1], [2], _CONV)], [0], [2])
    path = tmp_path / "int8.tflite"
    path.write_bytes(build_tflite(graph))
    (conv,) = load_tflite(path).layers
    (weight,) = conv.weights
    # OHWI (3, 1, 1, 2) as (O, I, H, W); one byte per int8 element; the stored type is kept on a TFLite weight
    assert (weight.shape, weight.dtype, weight.nbytes) == ((3, 2, 1, 1), DType.INT8, 3 * 1 * 1 * 2)
    assert conv.attrs["weight_quantization"] == "per_channel"
    assert weight.model_fields_set == {"shape", "dtype", "nbytes"}


@pytest.mark.parametrize("inputs, outputs, message", [
    ([5], [1], r"operator 0 \(RELU\) inputs refer to tensors \[5\], but the subgraph has 2 tensors"),
    ([-2], [1], r"operator 0 \(RELU\) inputs refer to tensors \[-2\], but the subgraph has 2 tensors"),
    ([0], [7], r"operator 0 \(RELU\) outputs refer to tensors \[7\], but the subgraph has 2 tensors"),
    ([0], [-1], r"operator 0 \(RELU\) outputs refer to tensors \[-1\], but the subgraph has 2 tensors"),
    ([9], [9], r"operator 0 \(RELU\) inputs refer to tensors \[9\]"),  # the inputs are checked first
])
def test_operator_indices_out_of_range_are_named(tmp_path: Path, inputs: list[int], outputs: list[int],
                                                 message: str) -> None:
    """The operator's tensor indices are checked before its message is written: a bad one still names the operator,
    the side (inputs first) and the indices; -1 is an omitted optional input, never an output."""
    path = tmp_path / "bad_index.tflite"
    path.write_bytes(build_tflite(Graph([T((1, 4)), T((1, 4))], [Op("RELU", inputs, outputs)], [0], [1])))
    with pytest.raises(ModelFileError, match=message):
        load_tflite(path)


def test_omitted_optional_input_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "optional.tflite"
    path.write_bytes(build_tflite(Graph([T((1, 4)), T((1, 4))], [Op("RELU", [-1], [1])], [0], [1])))
    (relu,) = load_tflite(path).layers
    assert (relu.inputs, relu.outputs) == ((), ((1, 4),))
