"""Counters of the ONNX ops issue 12 found imported without one: each op as a one-node in-memory model, its cost
derived by hand in a comment from the formula in its counter module's docstring (never copied from the code).

Every tensor is fp32 (4 bytes per element) unless typed otherwise; ``ops = 2 * macs + other_ops``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the optional onnx package")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.errors import ShapeError  # noqa: E402
from rooflinekit.importers.onnx import load_onnx  # noqa: E402

F32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def model(tmp_path: Path, node: Any, inputs: dict[str, Sequence[int]], constants: dict[str, np.ndarray] | None = None,
          opset: int = 28, types: dict[str, int] | None = None) -> Path:
    """A one-node graph: ``inputs`` are graph inputs (fp32 unless ``types`` says), ``constants`` initializers; every
    output of the node is a graph output of unknown shape (the importer infers it)."""
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, (types or {}).get(n, F32), dims) for n, dims in inputs.items()],
        [helper.make_tensor_value_info(n, F32, None) for n in node.output if n],
        [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def row(path: Path) -> dict[str, Any]:
    """The cost row of the model's only layer, which must have a counter."""
    cost = count_network(load_onnx(path))
    assert cost.unsupported_ops == {}
    assert len(cost.layers) == 1
    return dict(cost.layers.iloc[0])


def cost(path: Path) -> tuple[str, int, int]:
    """(kind, macs, other_ops) of the model's only layer."""
    layer = row(path)
    return layer["op"], int(layer["macs"]), int(layer["other_ops"])


def i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def scalar(value: int) -> np.ndarray:
    return np.array(value, np.int64)


# --------------------------------------------------------------------------- reductions and normalizations


def test_reduce_log_sum(tmp_path: Path) -> None:
    # x (2, 3, 4) reduced over axis 1: one op per input element, 2 * 3 * 4 = 24; bytes 24 * 4 = 96 read,
    # (2, 1, 4) = 8 * 4 = 32 written
    node = helper.make_node("ReduceLogSum", ["x", "axes"], ["y"])
    layer = row(model(tmp_path, node, {"x": [2, 3, 4]}, {"axes": i64(1)}))
    assert (layer["op"], layer["other_ops"], layer["input_bytes"], layer["output_bytes"]) == (
        "reduce_log_sum", 24, 96, 32)


def test_lp_normalization(tmp_path: Path) -> None:
    # square and accumulate (2) + divide (1) = 3 ops per element of x (2, 3, 4): 3 * 24 = 72
    node = helper.make_node("LpNormalization", ["x"], ["y"], axis=-1, p=2)
    assert cost(model(tmp_path, node, {"x": [2, 3, 4]})) == ("lp_norm", 0, 72)


def test_mean_variance_normalization(tmp_path: Path) -> None:
    # mean (1) + subtract (1) + square and accumulate (2) + normalize (1) = 5 ops per element of (2, 3, 4, 5):
    # 5 * 120 = 600
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"])
    assert cost(model(tmp_path, node, {"x": [2, 3, 4, 5]})) == ("mean_variance_norm", 0, 600)


# ---------------------------------------------------------------------------------------- elementwise


def test_cumprod(tmp_path: Path) -> None:
    # one multiply per element of x (2, 3): 6
    node = helper.make_node("CumProd", ["x", "axis"], ["y"], exclusive=1)
    assert cost(model(tmp_path, node, {"x": [2, 3]}, {"axis": i64(1)})) == ("cumprod", 0, 6)


def test_swiglu(tmp_path: Path) -> None:
    # swish (1) + multiply by B (1) per output element of (2, 4): 2 * 8 = 16; reads A and B (2 * 8 * 4 = 64 bytes),
    # writes 8 * 4 = 32
    node = helper.make_node("SwiGLU", ["a", "b"], ["y"])
    layer = row(model(tmp_path, node, {"a": [2, 4], "b": [2, 4]}))
    assert (layer["op"], layer["other_ops"], layer["input_bytes"], layer["output_bytes"]) == ("swiglu", 16, 64, 32)


def test_bernoulli(tmp_path: Path) -> None:
    # one draw-and-compare per element of (10,): 10
    node = helper.make_node("Bernoulli", ["p"], ["y"])
    assert cost(model(tmp_path, node, {"p": [10]})) == ("bernoulli", 0, 10)


@pytest.mark.parametrize("dims, attrs, caches, expected", [
    # 4-D (B=1, H=2, S=3, D=8), whole head rotated (R = 8): 3 ops per rotated element, 3 * 48 = 144
    ([1, 2, 3, 8], {}, [16, 4], 144),
    # R = 4 of the 8 dims: 48 / 8 * 4 = 24 rotated elements, 3 * 24 = 72
    ([1, 2, 3, 8], {"rotary_embedding_dim": 4}, [16, 2], 72),
    # 3-D (B=1, S=3, 2 heads * 8): head size 16 / 2 = 8, all rotated: 3 * 48 = 144
    ([1, 3, 16], {"num_heads": 2}, [16, 4], 144),
])
def test_rotary_embedding(tmp_path: Path, dims: list[int], attrs: dict[str, int], caches: list[int],
                          expected: int) -> None:
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], **attrs)
    path = model(tmp_path, node, {"x": dims, "cos": caches, "sin": caches, "pos": [1, 3]}, types={"pos": I64})
    assert cost(path) == ("rotary_embedding", 0, expected)


# ------------------------------------------------------------------------------- linear algebra, signals


def test_det(tmp_path: Path) -> None:
    # 5 matrices 3 x 3: LU updates 2 * 2 + 1 * 1 = 5 MACs each -> 25 MACs; 2 + 1 = 3 divisions and 2 multiplies
    # of the diagonal -> 5 other ops each -> 25; ops = 2 * 25 + 25 = 75
    layer = row(model(tmp_path, helper.make_node("Det", ["x"], ["y"]), {"x": [5, 3, 3]}))
    assert (layer["op"], layer["macs"], layer["other_ops"], layer["ops"]) == ("det", 25, 25, 75)


@pytest.mark.parametrize("dims, attrs, expected", [
    # real x (2, 8, 3, 1) along axis 1: 2 * 3 = 6 positions, K = 8 bins of N = 8 samples, 1 * 2 real MACs each:
    # 6 * 8 * 8 * 2 = 768
    ([2, 8, 3, 1], {"axis": 1}, (768, 0)),
    # one-sided: K = 8 // 2 + 1 = 5 bins: 6 * 5 * 8 * 2 = 480
    ([2, 8, 3, 1], {"axis": 1, "onesided": 1}, (480, 0)),
    # complex inverse: 2 * 2 = 4 real MACs per term, 6 * 8 * 8 * 4 = 1536; the 1/N scaling of the (2, 8, 3, 2)
    # output is 96 ops
    ([2, 8, 3, 2], {"axis": 1, "inverse": 1}, (1536, 96)),
])
def test_dft_opset19(tmp_path: Path, dims: list[int], attrs: dict[str, int], expected: tuple[int, int]) -> None:
    node = helper.make_node("DFT", ["x"], ["y"], **attrs)
    assert cost(model(tmp_path, node, {"x": dims}, opset=19)) == ("dft", *expected)


def test_dft_opset20_constant_axis_and_length(tmp_path: Path) -> None:
    # axis 1 and dft_length 4 as constants: x (2, 8, 3, 1) truncated to N = 4 samples, K = 4 bins, 6 positions,
    # 2 real MACs each: 6 * 4 * 4 * 2 = 192
    node = helper.make_node("DFT", ["x", "n", "axis"], ["y"])
    assert cost(model(tmp_path, node, {"x": [2, 8, 3, 1]}, {"n": scalar(4), "axis": scalar(1)}, opset=20)) == (
        "dft", 192, 0)


def test_dft_with_a_runtime_axis_is_data_dependent(tmp_path: Path) -> None:
    node = helper.make_node("DFT", ["x", "", "axis"], ["y"])
    path = model(tmp_path, node, {"x": [2, 8, 3, 1], "axis": []}, types={"axis": I64}, opset=20)
    with pytest.raises(ShapeError, match="data-dependent"):
        count_network(load_onnx(path))


def test_stft_with_window(tmp_path: Path) -> None:
    # signal (1, 64, 1), step 16, window of 16: frames = (64 - 16) // 16 + 1 = 4, one-sided K = 16 // 2 + 1 = 9:
    # macs = 1 * 4 * 9 * 16 * 1 * 2 = 1152; the window multiplies 4 frames * 16 samples = 64
    node = helper.make_node("STFT", ["signal", "step", "window"], ["y"])
    path = model(tmp_path, node, {"signal": [1, 64, 1], "window": [16]}, {"step": scalar(16)}, opset=17)
    assert cost(path) == ("stft", 1152, 64)


@pytest.mark.parametrize("op, kind, per_element", [
    ("HannWindow", "hann_window", 4), ("HammingWindow", "hamming_window", 4), ("BlackmanWindow", "blackman_window", 8),
])
def test_windows(tmp_path: Path, op: str, kind: str, per_element: int) -> None:
    # a window of 10 values: 10 * (4 or 8 ops per value)
    node = helper.make_node(op, ["size"], ["y"])
    assert cost(model(tmp_path, node, {}, {"size": scalar(10)}, opset=17)) == (kind, 0, 10 * per_element)


def test_mel_weight_matrix(tmp_path: Path) -> None:
    # (16 // 2 + 1, 8) = (9, 8) weights, 6 ops each: 432
    node = helper.make_node("MelWeightMatrix", ["bins", "n", "rate", "low", "high"], ["y"])
    constants = {"bins": scalar(8), "n": scalar(16), "rate": scalar(16000), "low": np.array(0.0, np.float32),
                 "high": np.array(8000.0, np.float32)}
    assert cost(model(tmp_path, node, {}, constants, opset=17)) == ("mel_weight_matrix", 0, 432)


# ------------------------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("mode, expected", [
    # Y (1, 3, 4, 6) = 72 values, grid 1 * 4 * 6 * 2 = 48 coordinates at 2 ops: 96
    ("linear", 72 * 4 * 2 + 96),  # 2 dims at 4 ops: 576 + 96 = 672
    ("cubic", 72 * 8 * 2 + 96),  # 2 dims at 8 ops: 1152 + 96 = 1248
    ("nearest", 96),
])
def test_grid_sample(tmp_path: Path, mode: str, expected: int) -> None:
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], mode=mode)
    assert cost(model(tmp_path, node, {"x": [1, 3, 5, 5], "grid": [1, 4, 6, 2]})) == ("grid_sample", 0, expected)


def test_affine_grid(tmp_path: Path) -> None:
    # theta (2, 2, 3), size (2, 3, 4, 5): grid (2, 4, 5, 2) = 80 values, each 2 MACs plus the translation:
    # macs = 160, other_ops = 80
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"])
    assert cost(model(tmp_path, node, {"theta": [2, 2, 3]}, {"size": i64(2, 3, 4, 5)})) == ("affine_grid", 160, 80)


@pytest.mark.parametrize("ratio, expected", [
    (2, 24 * 4 * 9),  # Y (3, 2, 2, 2) = 24 values, 2 * 2 samples of 9 ops: 864
    (0, 24 * 1 * 9),  # adaptive: counted as one sample per bin: 216
])
def test_roi_align(tmp_path: Path, ratio: int, expected: int) -> None:
    node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], output_height=2, output_width=2,
                            sampling_ratio=ratio)
    path = model(tmp_path, node, {"x": [1, 2, 8, 8], "rois": [3, 4], "idx": [3]}, types={"idx": I64})
    assert cost(path) == ("roi_align", 0, expected)


def test_deform_conv(tmp_path: Path) -> None:
    # X (1, 2, 5, 5), W (4, 2, 3, 3): Y (1, 4, 3, 3) = 36 outputs; conv macs = 36 * 2 * 9 = 648.
    # samples = 1 * 2 * 9 * 9 = 162 at 4 * 2 = 8 ops: 1296; offsets = 1 * 1 * 9 * 2 * 9 = 162 adds;
    # other_ops = 1296 + 162 = 1458
    node = helper.make_node("DeformConv", ["x", "w", "offset"], ["y"])
    path = model(tmp_path, node, {"x": [1, 2, 5, 5], "offset": [1, 18, 3, 3]},
                 {"w": np.zeros((4, 2, 3, 3), np.float32)})
    assert cost(path) == ("deform_conv", 648, 1458)


def test_deform_conv_with_bias_and_mask(tmp_path: Path) -> None:
    # as above, with a mask (1 multiply per sample: 162 * 9 = 1458, + 162 offsets = 1620) and a bias
    # (36 adds): other_ops = 1620 + 36 = 1656
    node = helper.make_node("DeformConv", ["x", "w", "offset", "b", "mask"], ["y"])
    path = model(tmp_path, node, {"x": [1, 2, 5, 5], "offset": [1, 18, 3, 3], "mask": [1, 9, 3, 3]},
                 {"w": np.zeros((4, 2, 3, 3), np.float32), "b": np.zeros(4, np.float32)})
    assert cost(path) == ("deform_conv", 648, 1656)


def test_col2im(tmp_path: Path) -> None:
    # columns (1, 2 * 2 * 2, 9) folded into (1, 2, 4, 4): one add per column element, 8 * 9 = 72
    node = helper.make_node("Col2Im", ["cols", "image", "block"], ["y"])
    path = model(tmp_path, node, {"cols": [1, 8, 9]}, {"image": i64(4, 4), "block": i64(2, 2)})
    assert cost(path) == ("col2im", 0, 72)


# ---------------------------------------------------------------------------------- losses, attention


@pytest.mark.parametrize("reduction, weighted, per_sample", [
    ("mean", False, 2),  # negate + accumulate
    ("mean", True, 4),  # negate + weight + accumulate + accumulate the weight
    ("sum", True, 3),  # negate + weight + accumulate
    ("none", False, 1),  # negate
])
def test_nll_loss(tmp_path: Path, reduction: str, weighted: bool, per_sample: int) -> None:
    # input (2, 5, 3): 2 * 3 = 6 samples
    node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t", "w"] if weighted else ["x", "t"], ["y"],
                            reduction=reduction)
    inputs = {"x": [2, 5, 3], "t": [2, 3], **({"w": [5]} if weighted else {})}
    assert cost(model(tmp_path, node, inputs, types={"t": I64})) == ("nll_loss", 0, 6 * per_sample)


def test_softmax_cross_entropy_loss(tmp_path: Path) -> None:
    # log_softmax: 3 ops per score of (2, 5, 3) = 90; then the mean nll of 6 samples at 2 ops = 12: 102
    node = helper.make_node("SoftmaxCrossEntropyLoss", ["x", "t"], ["y"])
    assert cost(model(tmp_path, node, {"x": [2, 5, 3], "t": [2, 3]}, types={"t": I64}, opset=13)) == (
        "softmax_cross_entropy_loss", 0, 102)


@pytest.mark.parametrize("rule, extra, expected", [
    # B=1, T=3, Hq=2, Hkv=1, Dk=4, Dv=6: state 4 * 6 = 24. linear: per token 1 * 24 (update) + 2 * 24 (outputs)
    # = 72 MACs -> 216; other: 2 heads * 6 (scale) = 12 per token -> 36
    ("linear", {}, (216, 36)),
    # gated_delta: per token 1 * 24 * 2 + 48 = 96 MACs -> 288; other: 1 * (24 decay + 2 * 6 delta) + 12 = 48
    # per token -> 144
    ("gated_delta", {"decay": [1, 3, 1], "beta": [1, 3, 1]}, (288, 144)),
])
def test_linear_attention(tmp_path: Path, rule: str, extra: dict[str, list[int]], expected: tuple[int, int]) -> None:
    names = ["q", "k", "v", "", *extra]
    node = helper.make_node("LinearAttention", names, ["y", "state"], q_num_heads=2, kv_num_heads=1,
                            update_rule=rule)
    inputs = {"q": [1, 3, 8], "k": [1, 3, 4], "v": [1, 3, 6], **extra}
    assert cost(model(tmp_path, node, inputs)) == ("linear_attention", *expected)


def test_causal_conv_with_state(tmp_path: Path) -> None:
    # input (2, 4, 8), kernel 3: 64 outputs * 3 = 192 MACs; bias 64 adds and the fused SiLU 64 ops: 128;
    # ops = 2 * 192 + 128 = 512
    node = helper.make_node("CausalConvWithState", ["x", "w", "b"], ["y", "state"], activation="silu")
    path = model(tmp_path, node, {"x": [2, 4, 8]}, {"w": np.zeros((4, 1, 3), np.float32),
                                                    "b": np.zeros(4, np.float32)})
    layer = row(path)
    assert (layer["op"], layer["macs"], layer["other_ops"], layer["ops"]) == ("causal_conv_with_state", 192, 128, 512)


def test_non_max_suppression(tmp_path: Path) -> None:
    # boxes (1, 4, 4), scores (1, 2, 4): areas 3 * 4 = 12, thresholds 2 * 4 = 8, IoUs 13 * 2 * (4 * 3 / 2) = 156:
    # 176; the selected indices are sized by the data: left out
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["selected"])
    layer = row(model(tmp_path, node, {"boxes": [1, 4, 4], "scores": [1, 2, 4]}, opset=11))
    assert (layer["op"], layer["other_ops"], layer["output_bytes"]) == ("non_max_suppression", 176, 0)


# --------------------------------------------------------------------------------- data movement only


def test_copies_cost_no_ops_and_move_their_bytes(tmp_path: Path) -> None:
    # TensorScatter: reads the cache (1, 2, 6, 4) = 48 * 4 = 192 bytes, the update (1, 2, 2, 4) = 16 * 4 = 64 and
    # the int64 write index 8: 264; writes the whole cache, 192
    node = helper.make_node("TensorScatter", ["past", "update", "index"], ["present"])
    layer = row(model(tmp_path, node, {"past": [1, 2, 6, 4], "update": [1, 2, 2, 4], "index": [1]},
                      types={"index": I64}))
    assert (layer["op"], layer["ops"], layer["input_bytes"], layer["output_bytes"]) == ("tensor_scatter", 0, 264, 192)
    # MaxUnpool: writes its whole zero-filled (1, 1, 4, 4) output, 16 * 4 = 64 bytes
    node = helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    layer = row(model(tmp_path, node, {"x": [1, 1, 2, 2], "i": [1, 1, 2, 2]}, types={"i": I64}))
    assert (layer["op"], layer["ops"], layer["output_bytes"]) == ("max_unpool", 0, 64)
    # CenterCropPad (3, 8, 8) -> (3, 4, 4): 48 * 4 = 192 bytes written
    node = helper.make_node("CenterCropPad", ["x", "shape"], ["y"])
    layer = row(model(tmp_path, node, {"x": [3, 8, 8]}, {"shape": i64(3, 4, 4)}))
    assert (layer["op"], layer["ops"], layer["output_bytes"]) == ("center_crop_pad", 0, 192)
    # Compress: its output is sized by the condition's values, left out; reads 6 * 4 + 3 bools = 27 bytes
    node = helper.make_node("Compress", ["x", "c"], ["y"], axis=0)
    layer = row(model(tmp_path, node, {"x": [3, 2], "c": [3]}, types={"c": BOOL}))
    assert (layer["op"], layer["ops"], layer["input_bytes"], layer["output_bytes"]) == ("compress", 0, 27, 0)


def test_views_and_generated_constants(tmp_path: Path) -> None:
    # BitCast reinterprets bits: a view, no ops and no bytes
    node = helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT32)
    layer = row(model(tmp_path, node, {"x": [3]}))
    assert (layer["op"], layer["ops"], layer["input_bytes"], layer["output_bytes"]) == ("bitcast", 0, 0, 0)
    # EyeLike writes a generated (4, 5) matrix, as ConstantOfShape does: 0 ops, 20 * 4 = 80 bytes
    layer = row(model(tmp_path, helper.make_node("EyeLike", ["x"], ["y"]), {"x": [4, 5]}))
    assert (layer["op"], layer["ops"], layer["input_bytes"], layer["output_bytes"]) == ("constant", 0, 0, 80)
