"""Matrix products.

- fully_connected (Gemm, Dense, FULLY_CONNECTED, MatMul with a constant operand): weight ``(M, K)``
  (out, in), output ``(..., M)``: ``macs = prod(output) * K``, ``bias_ops = prod(output)`` when there is a bias.
  K comes from the weight (the input may be unflattened, as in TFLite), else from the input's last dim.
- matmul (both operands are activations, e.g. attention ``Q K^T`` and ``A V``): inputs ``(..., M, K)`` and
  ``(..., K, N)`` with numpy broadcasting of the leading dims, output ``(..., M, N)``:
  ``macs = prod(output) * K``. A 1-D operand is promoted as in numpy.
- attention (a fused multi-head attention op, e.g. ONNX Attention): attrs ``batch``, ``heads``, ``q_len``,
  ``kv_len``, ``head_dim`` and ``v_head_dim`` (default head_dim): ``Q K^T`` and ``A V`` give
  ``macs = batch * heads * q_len * kv_len * (head_dim + v_head_dim)``; the softmax adds 3 ops per score,
  ``other_ops = 3 * batch * heads * q_len * kv_len``.
- rnn kinds (lstm, gru, rnn): attrs ``seq_len``, ``batch``, ``input_size``, ``hidden_size``, ``directions``;
  per step and direction ``gates * hidden * (input + hidden)`` MACs with 4 gates (LSTM), 3 (GRU), 1 (RNN);
  elementwise gate math ``other_ops = seq * batch * dirs * hidden * e`` with e = 8 (LSTM), 6 (GRU), 1 (RNN).
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output, has_bias
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError


@DEFAULT_COUNTERS.register("fully_connected")
def count_fully_connected(layer: Layer) -> OpCount:
    y = first_output(layer)
    k = layer.weights[0].shape[-1] if layer.weights and layer.weights[0].shape else first_input(layer, 1)[-1]
    outputs = elements(y)
    return OpCount(macs=outputs * k, bias_ops=outputs if has_bias(layer) else 0)


@DEFAULT_COUNTERS.register("matmul")
def count_matmul(layer: Layer) -> OpCount:
    if len(layer.inputs) < 2:
        raise ShapeError(f"matmul layer {layer.name!r} needs two input shapes, got {len(layer.inputs)}")
    a = first_input(layer, 1)
    y = first_output(layer)
    return OpCount(macs=elements(y) * a[-1])


@DEFAULT_COUNTERS.register("attention")
def count_attention(layer: Layer) -> OpCount:
    a = layer.attrs
    try:
        scores = int(a["batch"]) * int(a["heads"]) * int(a["q_len"]) * int(a["kv_len"])
        head_dim = int(a["head_dim"])
    except KeyError as missing:
        raise ShapeError(f"attention layer {layer.name!r} lacks attribute {missing}") from None
    return OpCount(macs=scores * (head_dim + int(a.get("v_head_dim", head_dim))), other_ops=3 * scores)


_RNN = {"lstm": (4, 8), "gru": (3, 6), "rnn": (1, 1)}


def _count_rnn(layer: Layer) -> OpCount:
    gates, elementwise = _RNN[layer.op]
    a = layer.attrs
    try:
        seq, batch, dirs = int(a["seq_len"]), int(a["batch"]), int(a.get("directions", 1))
        inp, hid = int(a["input_size"]), int(a["hidden_size"])
    except KeyError as missing:
        raise ShapeError(f"{layer.op} layer {layer.name!r} lacks attribute {missing}") from None
    steps = seq * batch * dirs
    return OpCount(
        macs=steps * gates * hid * (inp + hid),
        bias_ops=steps * gates * hid if has_bias(layer) else 0,
        other_ops=steps * hid * elementwise,
    )


DEFAULT_COUNTERS.register(*_RNN)(_count_rnn)
