"""Handler of matrix products: MatMul, MatMulInteger, QLinearMatMul, Gemm, QGemm, FusedMatMul."""

from __future__ import annotations

from rooflinekit.errors import ShapeError
from rooflinekit.importers.onnx._attrs import typed
from rooflinekit.importers.onnx._node import Draft, Handler, Node
from rooflinekit.importers.onnx._shapes import Shape, fused_operand


def _operand(node: Node, name: str, batch_moved: bool) -> Shape:
    """The shape of operand ``name``, with FusedMatMul's ``transBatch`` applied when ``batch_moved``
    (:func:`~rooflinekit.importers.onnx._shapes.fused_operand`; never transposed here)."""
    dims = node.graph.shape(name, node.proto)
    return fused_operand(dims, False, True) if batch_moved else dims


def _weight_matrix(node: Node, name: str, transposed: bool, batch_moved: bool) -> tuple[str, Shape]:
    """A constant operand as a fully-connected weight ``(out, in)``: ``(..., K, N)`` -> ``(..., N, K)`` unless
    ``transposed`` says it is stored ``(N, K)`` already; a vector ``(K,)`` -> ``(1, K)``."""
    dims = _operand(node, name, batch_moved)
    if len(dims) == 1:
        return name, (1, dims[0])
    return name, dims if transposed else _transposed(node, name, dims)


def _transposed(node: Node, name: str, dims: Shape) -> Shape:
    """``(..., a, b)`` -> ``(..., b, a)``: the shape of the transposed matrix operand ``name`` of shape ``dims``."""
    if len(dims) < 2:
        raise ShapeError(f"{node.graph.path}: node {node.proto.name!r} ({node.proto.op_type}) transposes "
                         f"{name!r} of shape {list(dims)}, which is not a matrix")
    return (*dims[:-2], dims[-1], dims[-2])


def product(a: int, b: int, c: int | None = None, integer: bool = False, batch_moves: bool = False) -> Handler:
    """MatMul-like products (MatMul, MatMulInteger, QLinearMatMul, Gemm, QGemm, FusedMatMul); A at ``a``, B at
    ``b``, C at ``c``.

    A constant operand makes a ``fully_connected`` layer with the weight normalized to ``(out, in)``: B
    ``(K, N)`` -> ``(N, K)`` (Gemm's transB: stored ``(N, K)``), a constant A ``(M, K)`` as is (A^T with transA).
    Otherwise ``matmul``: inputs ``A'`` and ``B'`` (transposes applied) so the contraction dim is ``A'[-1]``.
    Activation operands are given transposed shapes too (``A'`` of Gemm's transA). With ``batch_moves``
    (FusedMatMul), ``transBatchA``/``transBatchB`` move an operand's leading dim to its row position first
    (:func:`~rooflinekit.importers.onnx._shapes.fused_operand`), for weights and activations alike.

    attrs (:class:`~rooflinekit.descriptors.attrs.MatMulAttrs`): ``transpose_a``/``transpose_b`` (Gemm's
    transA/transB as stored), ``bias`` (Gemm's C present with ``beta`` != 0), ``keep_num_dims`` (the output has rank
    > 2); alpha, beta, Gemm's opset < 7 ``broadcast`` and FusedMatMul's ``transBatchA``/``transBatchB`` (the
    shapes carry them) are not kept.
    """

    def handle(node: Node) -> Draft:
        trans_a, trans_b = bool(node.int_attr("transA", 0)), bool(node.int_attr("transB", 0))
        moved_a = batch_moves and bool(node.int_attr("transBatchA", 0))
        moved_b = batch_moves and bool(node.int_attr("transBatchB", 0))
        name_a, name_b = node.input(a), node.input(b)
        const_a, const_b = name_a in node.graph.constants, name_b in node.graph.constants
        integer_input = name_a if integer and not const_a else (name_b if integer else None)
        bias = [c] if c is not None and node.input(c) and node.attr("beta", 1.0) != 0 else []
        output = node.graph.dims(node.proto.output[0]) if node.proto.output else None
        attrs = {"transpose_a": trans_a, "transpose_b": trans_b, "bias": bool(bias),
                 "keep_num_dims": output is not None and len(output) > 2}
        if const_b or const_a:
            weight = (_weight_matrix(node, name_b, trans_b, moved_b) if const_b
                      else _weight_matrix(node, name_a, not trans_a, moved_a))
            draft = node.split([a if const_b else b, *bias], typed(node, "fully_connected", attrs),
                               kind="fully_connected", integer_input=integer_input)
            draft.weights.insert(0, weight)
            transposed, moved = (trans_a, moved_a) if const_b else (trans_b, moved_b)
            if transposed or moved:
                draft.input_shapes[0] = _applied(node, draft.inputs[0], transposed, moved)
            return draft
        draft = node.split(bias, typed(node, "matmul", attrs), kind="matmul", integer_input=integer_input)
        draft.inputs[:0] = [name_a, name_b]
        for position, (name, transposed, moved) in enumerate(((name_a, trans_a, moved_a),
                                                              (name_b, trans_b, moved_b))):
            if transposed or moved:
                draft.input_shapes[position] = _applied(node, name, transposed, moved)
        return draft

    return handle


def _applied(node: Node, name: str, transposed: bool, batch_moved: bool) -> Shape:
    """The shape of operand ``name`` as it enters the product: its batch moved (``batch_moved``), then its last two
    dims swapped (``transposed``)."""
    dims = _operand(node, name, batch_moved)
    return _transposed(node, name, dims) if transposed else dims
