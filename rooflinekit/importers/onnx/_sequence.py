"""Handlers of sequence ops: recurrent layers (LSTM, GRU, RNN) and fused attention."""

from __future__ import annotations

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.onnx._node import Draft, Handler, Node


def rnn(has_cell: bool) -> Handler:
    """LSTM (4 gates), GRU (3), RNN (1): X (0), W (1), R (2), B (3), sequence_lens (4, control), initial_h (5),
    initial_c (6, LSTM), P (7, LSTM peepholes). The initial states are inputs (activations read once), never
    weights, even when the exporter stores them as constant zeros: they are no parameters.

    attrs: seq_len and batch from X (``layout`` 0: (seq, batch, input); 1: (batch, seq, input)), input_size
    (X's last dim), hidden_size (attribute, else R's last dim), directions (2 for ``bidirectional``), bias.
    """

    def handle(node: Node) -> Draft:
        attrs = node.attrs
        x = node.dims(0, rank=3)
        layout = node.int_attr("layout", 0)
        seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
        hidden = node.int_attr("hidden_size", 0) or node.dims(2, rank=3)[-1]
        directions = 2 if attrs.get("direction") == "bidirectional" else 1
        attrs.update(seq_len=seq, batch=batch, input_size=x[-1], hidden_size=hidden, directions=directions,
                     bias=bool(node.input(3)))
        draft = node.split([0, 1, 2, 3] + ([7] if has_cell else []), attrs)
        for index in (5, 6) if has_cell else (5,):  # initial states are inputs even when stored as constants
            if node.input(index) and node.input(index) not in draft.inputs:
                draft.inputs.append(node.input(index))
        return draft

    return handle


def _split_heads(node: Node, index: int, heads_attr: str) -> tuple[int, int, int, int]:
    """``(batch, heads, seq, head_dim)`` of Attention operand ``index``: 4-D as is, 3-D
    ``(batch, seq, heads * head_dim)`` with the head count from attribute ``heads_attr``."""
    dims = node.dims(index)
    if len(dims) == 4:
        return dims
    heads = node.int_attr(heads_attr, 0)
    if len(dims) != 3 or heads < 1:
        raise ModelFileError(f"{node.graph.path}: Attention node {node.proto.name!r} operand {index} has shape "
                             f"{list(dims)}; ONNX wants 4-D (batch, heads, seq, head_dim), or 3-D with the "
                             f"{heads_attr} attribute")
    return dims[0], heads, dims[1], dims[2] // heads


def attention(node: Node) -> Draft:
    """ONNX Attention (opset 23+): Q (0), K (1), V (2), attn_mask (3), past_key (4) and past_value (5) are data,
    nonpad_kv_seqlen (6) is control; every output is kept (Y and the present key and value caches).

    attrs: batch, heads (query heads; grouped-query K and V have fewer), q_len, kv_len (past_key's length plus
    K's), head_dim (of Q and K) and v_head_dim, for the ``attention`` counter.
    """
    batch, heads, q_len, head_dim = _split_heads(node, 0, "q_num_heads")
    kv_len = _split_heads(node, 1, "kv_num_heads")[2] + (node.dims(4, rank=4)[2] if node.input(4) else 0)
    v_head_dim = _split_heads(node, 2, "kv_num_heads")[3]
    attrs = node.attrs
    attrs.update(batch=batch, heads=heads, q_len=q_len, kv_len=kv_len, head_dim=head_dim, v_head_dim=v_head_dim)
    return node.split(range(6), attrs)
