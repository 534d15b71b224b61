"""Quantized graphs: QDQ fusion and the handlers of QuantizeLinear, DequantizeLinear and QLinear ops.

An op whose activation inputs all come from ``DequantizeLinear`` of activations runs at the integer type behind
that DequantizeLinear (the integer kernel a QDQ runtime fuses) and reads its inputs at that type; it writes that
type where a QuantizeLinear follows, else the output's own type. Its DequantizeLinear weights keep their integer
type. Chosen convention: a Q/DQ node absorbed by such a fusion is kept as a zero-cost ``identity`` layer (a
QuantizeLinear whose producer is quantized, a DequantizeLinear whose consumers all are), so it stays visible in
per-layer rows; a Q/DQ at a float/integer boundary (a float graph input, a float consumer) is a real
``quantize``/``dequantize`` that reads one type and writes the other. Scales and zero points are not weights.
"""

from __future__ import annotations

from rooflinekit.descriptors import DType
from rooflinekit.importers.onnx._graph import Graph
from rooflinekit.importers.onnx._node import Draft, Node
from rooflinekit.importers.onnx._reading import OnnxNode


def dq_source(graph: Graph, name: str) -> DType | None:
    """Integer type behind a DequantizeLinear of an activation, None if ``name`` is not such an output."""
    node = graph.producer.get(name)
    if node is None or node.op_type != "DequantizeLinear" or node.input[0] in graph.constants:
        return None
    return graph.dtype(node.input[0])


def quantized(graph: Graph, node: OnnxNode) -> DType | None:
    """Integer type of a QDQ-fused op: every activation input comes through DequantizeLinear."""
    if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        return None
    first = None
    for name in node.input:
        if name and name not in graph.constants:
            source = dq_source(graph, name)
            if source is None:  # one float activation input: not fused (stop at the first, as most are)
                return None
            first = first or source
    return first


def fused_output_dtype(graph: Graph, name: str, fused: DType) -> DType | None:
    """Type a QDQ-fused op writes ``name`` at: ``fused`` when a QuantizeLinear reads it (the one the kernel
    absorbs), else the tensor's own type (a float output, as a kernel like MatMulIntegerToFloat writes)."""
    if any(user.op_type == "QuantizeLinear" for user in graph.consumers.get(name, ())):
        return fused
    return graph.dtype(name)


def quantize(node: Node) -> Draft:
    """QuantizeLinear: ``identity`` when its producer runs quantized (QDQ fusion), else a real ``quantize``."""
    source = node.graph.producer.get(node.input(0))
    fused = source is not None and quantized(node.graph, source) is not None
    return node.split([0], kind="identity" if fused else "quantize", view=fused)


def dequantize(node: Node) -> Draft:
    """DequantizeLinear of an activation: ``identity`` when all its consumers run quantized (and it is no graph
    output), else a real ``dequantize``. (Of a constant it is folded into the weight.)"""
    graph, name = node.graph, node.proto.output[0]
    users = graph.consumers.get(name, [])
    fused = bool(users) and name not in graph.graph_outputs and all(quantized(graph, u) for u in users)
    return node.split([0], kind="identity" if fused else "dequantize", integer_input=node.input(0), view=fused)


def integer_unary(node: Node) -> Draft:
    """com.microsoft QLinear unary ops (X, X_scale, X_zp, Y_scale, Y_zp): data 0, integer."""
    return node.split([0], integer_input=node.input(0))


def integer_binary(node: Node) -> Draft:
    """com.microsoft QLinearAdd / QLinearMul (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp): data 0 and 3."""
    return node.split([0, 3], integer_input=node.input(0))


def qlinear_concat(node: Node) -> Draft:
    """com.microsoft QLinearConcat (Y_scale, Y_zp, then X, X_scale, X_zp triples): data 2, 5, 8, ..."""
    return node.split(range(2, len(node.proto.input), 3), integer_input=node.input(2))
