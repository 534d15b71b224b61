"""The op table (ONNX op_type -> canonical kind and handler) and its small handlers.

Constant data operands become ``weights``, the others ``inputs``; control operands (target shapes, axes, pads,
scales and zero points, sequence lengths) are neither. An op without an entry keeps its op_type as kind, so the
counters report it in ``unsupported_ops``.
"""

from __future__ import annotations

from rooflinekit.importers.onnx._attrs import typed
from rooflinekit.importers.onnx._conv import conv, deform_conv, pool
from rooflinekit.importers.onnx._einsum import einsum
from rooflinekit.importers.onnx._matmul import product
from rooflinekit.importers.onnx._node import Draft, Handler, Node
from rooflinekit.importers.onnx._quant import dequantize, integer_binary, integer_unary, qlinear_concat, quantize
from rooflinekit.importers.onnx._reading import OnnxNode
from rooflinekit.importers.onnx._sequence import attention, rnn


def _all_data(node: Node) -> Draft:
    """Every operand is data (elementwise ops, Concat, PRelu, Where...)."""
    return node.split(range(len(node.proto.input)))


def _first(node: Node) -> Draft:
    """Operand 0 is data; the rest are control (shapes, axes, repeats, k, scales...)."""
    return node.split([0])


def _no_data(node: Node) -> Draft:
    """Every operand is control (ConstantOfShape of a computed shape writes its output only)."""
    return node.split([])


def _view(node: Node) -> Draft:
    """Operand 0 is data, relabeled without arithmetic (Reshape, Flatten, Squeeze, Identity, Shape...); the rest
    are control."""
    return node.split([0], view=True)


def _dropout(node: Node) -> Draft:
    """Dropout at inference: a view of operand 0; output 0 only (not the mask)."""
    return node.split([0], outputs=(0,), view=True)


def _only_first_output(node: Node) -> Draft:
    """Operand 0 and output 0 (DynamicQuantizeLinear's scale and zero point are left out)."""
    return node.split([0], outputs=(0,))


def _norm(node: Node) -> Draft:
    """BatchNormalization (its mean and var fold into scale and bias at inference), LayerNormalization,
    InstanceNormalization, GroupNormalization, RMSNormalization: data 0, weights scale (1) and bias (2, absent
    for RMS); output 0 only (not the training statistics)."""
    return node.split([0, 1, 2], outputs=(0,))


_SKIP_NORM_BIAS = {"SkipLayerNormalization": 4, "SkipSimplifiedLayerNormalization": 3}
"""Operand index of the optional bias of onnxruntime's skip normalizations (their com.microsoft schemas)."""


def _skip_norm(node: Node) -> Draft:
    """com.microsoft SkipLayerNormalization (input 0, skip 1, gamma 2, beta 3, bias 4) and
    SkipSimplifiedLayerNormalization (input 0, skip 1, gamma 2, bias 3): the residual sum ``input + skip (+ bias)``
    normalized as LayerNormalization (``layer_norm``) or RMS normalization (``rms_norm``). Every operand is data
    (gamma, beta and bias weights when constant); ``residual_adds`` (1, or 2 with a bias) is the number of adds of
    the sum, which the norm counter costs as the elementwise counter costs an Add. Every output is written: the
    normalized output, the optional mean and inv_std_var, the optional sum (output 3)."""
    attrs = node.attrs
    attrs["residual_adds"] = 2 if node.input(_SKIP_NORM_BIAS[node.proto.op_type]) else 1
    return node.split(range(len(node.proto.input)), attrs)


def _rank(node: Node, name: str) -> int | None:
    """Rank of tensor ``name``, None when unknown."""
    dims = node.graph.dims(name) if name else None
    return None if dims is None else len(dims)


def _kind(node: Node) -> str:
    """The canonical kind the op table gives ``node``."""
    return _OPS[node.proto.op_type][0]


def _axis(axis: int, rank: int | None) -> int:
    """``axis`` made non-negative when the rank is known and the axis in range (else as written)."""
    return axis % rank if rank and -rank <= axis < rank else axis


def _softmax(node: Node) -> Draft:
    """Softmax, LogSoftmax, Hardmax (:class:`~rooflinekit.descriptors.attrs.SoftmaxAttrs`): ``axis`` defaults to 1
    before opset 13 (2-D coercion), -1 from 13 on; made non-negative."""
    axis = node.int_attr("axis", 1 if node.graph.opset < 13 else -1)
    return node.split([0], typed(node, _kind(node), {"axis": _axis(axis, _rank(node, node.input(0)))}))


def _integer_softmax(node: Node) -> Draft:
    """com.microsoft QLinearSoftmax: as :func:`integer_unary`, with ``axis`` (default -1) made non-negative; its
    ``opset`` attribute is not kept."""
    draft = integer_unary(node)
    draft.attrs = typed(node, _kind(node), {"axis": _axis(node.int_attr("axis", -1), _rank(node, node.input(0)))})
    return draft


def _concat(node: Node) -> Draft:
    """Concat: every operand is data; ``axis`` made non-negative."""
    draft = _all_data(node)
    draft.attrs = typed(node, "concat", {"axis": _axis(node.int_attr("axis", 0), _rank(node, node.proto.output[0]))})
    return draft


def _integer_concat(node: Node) -> Draft:
    """com.microsoft QLinearConcat: as :func:`qlinear_concat`, with ``axis`` made non-negative."""
    draft = qlinear_concat(node)
    draft.attrs = typed(node, "concat", {"axis": _axis(node.int_attr("axis", 0), _rank(node, node.proto.output[0]))})
    return draft


def _lrn(node: Node) -> Draft:
    """LRN: ``size`` (the channel window); alpha, beta and bias are not kept (they do not change the count)."""
    size = node.int_attr("size", 0)
    return node.split([0], typed(node, "lrn", {"size": size} if size else {}))


def _reduce(node: Node) -> Draft:
    """Reduce* (:class:`~rooflinekit.descriptors.attrs.ReduceAttrs`): ``axes`` from the attribute (old opsets) or
    the constant second input (ReduceSum 13+, others 18+), sorted and non-negative; no axes means every dim (none
    with ``noop_with_empty_axes``); left out when computed at run time. ``keepdims`` a bool, True by default."""
    rank = _rank(node, node.input(0))
    attrs: dict[str, object] = {"keepdims": bool(node.int_attr("keepdims", 1))}
    axes = node.ints_attr("axes")
    if axes is None and node.input(1):
        axes = node.graph.constants.ints(node.input(1))
        if axes is None:  # computed at run time
            return node.split([0], typed(node, _kind(node), attrs))
    if not axes:
        axes = () if node.int_attr("noop_with_empty_axes", 0) else (None if rank is None else tuple(range(rank)))
    if axes is not None:
        attrs["axes"] = tuple(sorted({_axis(a, rank) for a in axes}))
    return node.split([0], typed(node, _kind(node), attrs))


def _pad(node: Node) -> Draft:
    """Pad (:class:`~rooflinekit.descriptors.attrs.PadAttrs`): ``pads`` from the attribute (``paddings`` in opset 1,
    ``pads`` to 10) or input 1 (11+), spread over every dim when input 3 (``axes``, opset 18+) names some, left out
    when computed at run time; ``mode``. The pad value is not kept."""
    pads = node.ints_attr("paddings") or node.ints_attr("pads") or node.graph.constants.ints(node.input(1))
    if pads is not None and node.input(3):
        pads = _over_every_dim(pads, node.graph.constants.ints(node.input(3)), _rank(node, node.input(0)))
    attrs: dict[str, object] = {"mode": str(node.attr("mode", "constant"))}
    if pads is not None:
        attrs["pads"] = pads
    return node.split([0], typed(node, "pad", attrs))


def _over_every_dim(pads: tuple[int, ...], axes: tuple[int, ...] | None, rank: int | None) -> tuple[int, ...] | None:
    """Pad-18's pads for ``axes`` (begins, then ends) as pads of every dim; None when axes or rank are unknown."""
    if axes is None or rank is None or len(pads) != 2 * len(axes):
        return None
    full = [0] * (2 * rank)
    for position, axis in enumerate(axes):
        full[axis % rank], full[rank + axis % rank] = pads[position], pads[len(axes) + position]
    return tuple(full)


def _slice(node: Node) -> Draft:
    """Slice: ``starts``, ``ends``, ``axes``, ``steps`` from attributes (before opset 10) or inputs 1-4."""
    attrs = node.attrs
    for index, key in enumerate(("starts", "ends", "axes", "steps"), start=1):
        value = node.ints_attr(key) or node.graph.constants.ints(node.input(index))
        if value is not None:
            attrs[key] = value
    return node.split([0], attrs)


def _clip(node: Node) -> Draft:
    """Clip: ``min``/``max`` attributes (before opset 11) or scalar inputs 1 and 2 (control, not weights)."""
    attrs = node.attrs
    for index, key in ((1, "min"), (2, "max")):
        value = node.graph.constants.scalar(node.input(index))
        if value is not None:
            attrs[key] = value
    return node.split([0], attrs)


def _resize(node: Node) -> Draft:
    """Resize, Upsample: ``mode`` nearest (default), linear (Upsample-1's ``bilinear`` is linear) or cubic; the
    coordinate and rounding modes are not kept (:class:`~rooflinekit.descriptors.attrs.ResizeAttrs`)."""
    mode = str(node.attr("mode", "nearest")).lower()
    return node.split([0], typed(node, "resize", {"mode": "linear" if mode in ("bilinear", "trilinear") else mode}))


def _gather(node: Node) -> Draft:
    """Gather*: the table (operand 0) is a weight when constant (an embedding); constant indices are control."""
    draft = node.split([0])
    if node.input(1) not in node.graph.constants:
        draft.inputs.append(node.input(1))
    return draft


def _dft(node: Node) -> Draft:
    """DFT: operand 0 is data. ``axis`` from the attribute (opset 17-19, default 1) or the constant input 2 (opset
    20+, default -2), made non-negative; ``dft_length`` from the constant input 1, else the input's length along
    ``axis``. Either is left out when computed at run time (the counter then calls the cost data-dependent).
    ``inverse`` and ``onesided`` as ints."""
    constants = node.graph.constants
    attrs: dict[str, object] = {"inverse": node.int_attr("inverse", 0), "onesided": node.int_attr("onesided", 0)}
    dims = node.graph.dims(node.input(0))
    if node.graph.opset < 20:
        axis: int | None = node.int_attr("axis", 1)
    else:
        given = constants.ints(node.input(2)) if node.input(2) else (-2,)
        axis = given[0] if given else None
    if axis is not None:
        attrs["axis"] = axis = _axis(axis, None if dims is None else len(dims))
    length = constants.ints(node.input(1)) if node.input(1) else None
    if length:
        attrs["dft_length"] = length[0]
    elif not node.input(1) and axis is not None and dims and 0 <= axis < len(dims) and isinstance(dims[axis], int):
        attrs["dft_length"] = dims[axis]
    return node.split([0], attrs)


def _stft(node: Node) -> Draft:
    """STFT: the signal (0) and the window (2) are data. ``frame_step`` from the constant input 1; ``frame_length``
    from the constant input 3, else the window's length; ``window`` whether one is given; ``onesided`` (default 1).
    A step or length computed at run time is left out (the counter then calls the cost data-dependent)."""
    constants = node.graph.constants
    attrs: dict[str, object] = {"onesided": node.int_attr("onesided", 1), "window": bool(node.input(2))}
    step = constants.ints(node.input(1))
    length = constants.ints(node.input(3)) if node.input(3) else None
    window = node.graph.dims(node.input(2)) if node.input(2) else None
    if step:
        attrs["frame_step"] = step[0]
    if length:
        attrs["frame_length"] = length[0]
    elif window and isinstance(window[0], int):  # ONNX requires the two to agree
        attrs["frame_length"] = window[0]
    return node.split([0, 2], attrs)


def _first_two(node: Node) -> Draft:
    """Operands 0 and 1 are data (MaxUnpool's values and their indices); the rest are control."""
    return node.split([0, 1])


def _selection(node: Node) -> Draft:
    """NonMaxSuppression (boxes 0, scores 1; the limits and thresholds are control), Compress (input and
    condition): the output's size depends on the input values, so tensors of unknown shape are left out."""
    return node.split([0, 1], lenient=True)


def _lenient_first(node: Node) -> Draft:
    """Operand 0 is data, the rest control; tensors of unknown shape are left out (Unique, SplitToSequence and
    the string ops, whose outputs are sized by the data or are sequences)."""
    return node.split([0], lenient=True)


def _lenient_all(node: Node) -> Draft:
    """Every operand is data; tensors of unknown shape (sequences, value-sized strings) are left out
    (SequenceInsert, StringConcat)."""
    return node.split(range(len(node.proto.input)), lenient=True)


def _loss(node: Node) -> Draft:
    """NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss: scores (0), labels (1) and class weights (2) are data;
    ``reduction`` (default mean), ``weighted`` (whether class weights are given), ``ignore_index`` when set."""
    attrs = node.attrs
    attrs["reduction"] = str(attrs.get("reduction", "mean"))
    attrs["weighted"] = bool(node.input(2))
    return node.split([0, 1, 2], attrs)


def _causal_conv(node: Node) -> Draft:
    """CausalConvWithState: input (0), weight (1), bias (2) and past state (3) are data; ``kernel_size`` (the
    weight's last dim) and ``groups`` (the channels: the conv is depthwise) when known, ``bias`` whether one is
    given, ``activation`` (default none)."""
    attrs: dict[str, object] = {"bias": bool(node.input(2)), "activation": str(node.attr("activation", "none"))}
    weight, x = node.graph.dims(node.input(1)), node.graph.dims(node.input(0))
    if weight and isinstance(weight[-1], int):
        attrs["kernel_size"] = weight[-1]
    if x and len(x) > 1 and isinstance(x[1], int):
        attrs["groups"] = x[1]
    return node.split([0, 1, 2, 3], attrs)


def _fused(handler: Handler) -> Handler:
    """com.microsoft FusedConv and FusedGemm (onnxruntime's optimized graphs): ``handler``'s layer, with the
    ``activation`` it fuses (``Relu``, ``Sigmoid``, ...) kept as ``fused_activation`` (lower case), one op per
    output element as TFLite's fused activations."""

    def handle(node: Node) -> Draft:
        draft = handler(node)
        activation = node.attr("activation", "")
        if activation:
            draft.attrs = typed(node, draft.kind or _kind(node),
                                {**draft.attrs, "fused_activation": str(activation).lower()})
        return draft

    return handle


# ---------------------------------------------------------------------------------------------- op table

_ELEMENTWISE = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min", "Pow": "pow", "Mod": "mod",
    "Sum": "sum", "Mean": "mean", "Where": "where", "Equal": "equal", "Less": "less", "LessOrEqual": "less",
    "Greater": "greater", "GreaterOrEqual": "greater", "And": "and", "Or": "or", "Xor": "xor", "PRelu": "prelu",
    "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor", "BitShift": "bit_shift",
    "Relu": "relu", "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu", "Celu": "celu", "Sigmoid": "sigmoid",
    "HardSigmoid": "hard_sigmoid", "Tanh": "tanh", "Gelu": "gelu", "FastGelu": "gelu", "BiasGelu": "gelu",
    "QuickGelu": "gelu", "Erf": "erf", "HardSwish": "hard_swish", "Swish": "swish", "Mish": "mish",
    "Softplus": "softplus", "Softsign": "softsign", "ThresholdedRelu": "thresholded_relu", "Shrink": "shrink",
    "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Neg": "neg", "Abs": "abs",
    "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign", "Not": "not", "BitwiseNot": "bitwise_not",
    "IsNaN": "is_nan", "IsInf": "is_inf", "Sin": "sin", "Cos": "cos", "Tan": "tan", "Asin": "asin", "Acos": "acos",
    "Atan": "atan", "Sinh": "sinh", "Cosh": "cosh", "Asinh": "asinh", "Acosh": "acosh", "Atanh": "atanh",
    "Transpose": "transpose", "GatherND": "gather_nd", "ScatterND": "scatter",
    "ScatterElements": "scatter", "Scatter": "scatter", "Cast": "cast", "SwiGLU": "swiglu",
    "RotaryEmbedding": "rotary_embedding",
}
_VIEWS = {"Reshape": "reshape", "Flatten": "flatten", "Squeeze": "squeeze", "Unsqueeze": "unsqueeze",
          "Identity": "identity", "Shape": "shape", "Size": "size"}
_FIRST_ONLY = {
    "Expand": "expand", "Tile": "tile", "Split": "split", "DepthToSpace": "depth_to_space",
    "SpaceToDepth": "space_to_depth", "TopK": "top_k", "ArgMax": "arg_max", "ArgMin": "arg_min", "OneHot": "one_hot",
    "NonZero": "non_zero", "ReverseSequence": "reverse", "GlobalAveragePool": "global_avg_pool",
    "GlobalMaxPool": "global_max_pool", "Range": "range", "CastLike": "cast", "CumSum": "cumsum",
    "Trilu": "trilu", "CumProd": "cumprod", "LpNormalization": "lp_norm",
    "MeanVarianceNormalization": "mean_variance_norm", "Det": "det",
}
_REDUCE = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1", "ReduceL2": "reduce_l2",
           "ReduceLogSum": "reduce_log_sum", "ReduceLogSumExp": "reduce_log_sum_exp",
           "ReduceSumSquare": "reduce_sum_square"}

_OPS: dict[str, tuple[str, Handler]] = {
    **{op: (kind, _all_data) for op, kind in _ELEMENTWISE.items()},
    **{op: (kind, _first) for op, kind in _FIRST_ONLY.items()},
    **{op: (kind, _view) for op, kind in _VIEWS.items()},
    **{op: (kind, _reduce) for op, kind in _REDUCE.items()},
    "Conv": ("conv", conv(0, 1, 2)), "ConvInteger": ("conv", conv(0, 1, None, integer=True)),
    "QLinearConv": ("conv", conv(0, 3, 8, integer=True)), "ConvTranspose": ("conv_transpose", conv(0, 1, 2)),
    "Gemm": ("fully_connected", product(0, 1, 2)), "MatMul": ("matmul", product(0, 1)),
    "FusedConv": ("conv", _fused(conv(0, 1, 2))), "FusedGemm": ("fully_connected", _fused(product(0, 1, 2))),
    "FusedMatMul": ("matmul", product(0, 1, batch_moves=True)),
    "MatMulInteger": ("matmul", product(0, 1, integer=True)),
    "QLinearMatMul": ("matmul", product(0, 3, integer=True)), "QGemm": ("fully_connected", product(0, 3, 6, True)),
    "Einsum": ("einsum", einsum), "Attention": ("attention", attention),
    "LSTM": ("lstm", rnn(True)), "GRU": ("gru", rnn(False)), "RNN": ("rnn", rnn(False)),
    "DynamicQuantizeLSTM": ("lstm", rnn(True)),
    "MaxPool": ("max_pool", pool), "AveragePool": ("avg_pool", pool), "LpPool": ("lp_pool", pool),
    "BatchNormalization": ("batch_norm", _norm), "LayerNormalization": ("layer_norm", _norm),
    "InstanceNormalization": ("instance_norm", _norm), "GroupNormalization": ("group_norm", _norm),
    "RMSNormalization": ("rms_norm", _norm), "SimplifiedLayerNormalization": ("rms_norm", _norm),
    "SkipLayerNormalization": ("layer_norm", _skip_norm), "SkipSimplifiedLayerNormalization": ("rms_norm", _skip_norm),
    "BiasAdd": ("add", _all_data),  # com.microsoft X + bias + skip: a 3-operand add, two adds per element
    "Concat": ("concat", _concat), "LRN": ("lrn", _lrn),
    "Softmax": ("softmax", _softmax), "LogSoftmax": ("log_softmax", _softmax), "Hardmax": ("hardmax", _softmax),
    "Dropout": ("dropout", _dropout), "ConstantOfShape": ("constant", _no_data), "Constant": ("constant", _no_data),
    "Pad": ("pad", _pad), "Slice": ("slice", _slice),
    "Clip": ("clip", _clip), "Resize": ("resize", _resize), "Upsample": ("resize", _resize),
    "Gather": ("gather", _gather), "GatherElements": ("gather", _gather),
    "QuantizeLinear": ("quantize", quantize), "DequantizeLinear": ("dequantize", dequantize),
    "DynamicQuantizeLinear": ("quantize", _only_first_output),
    "QLinearSigmoid": ("sigmoid", integer_unary), "QLinearLeakyRelu": ("leaky_relu", integer_unary),
    "QLinearSoftmax": ("softmax", _integer_softmax), "QLinearGlobalAveragePool": ("global_avg_pool", integer_unary),
    "QLinearAdd": ("add", integer_binary), "QLinearMul": ("mul", integer_binary),
    "QLinearConcat": ("concat", _integer_concat),
    "DFT": ("dft", _dft), "STFT": ("stft", _stft), "HannWindow": ("hann_window", _no_data),
    "HammingWindow": ("hamming_window", _no_data), "BlackmanWindow": ("blackman_window", _no_data),
    "MelWeightMatrix": ("mel_weight_matrix", _no_data),
    "GridSample": ("grid_sample", _all_data), "AffineGrid": ("affine_grid", _first),
    "RoiAlign": ("roi_align", _all_data), "DeformConv": ("deform_conv", deform_conv), "Col2Im": ("col2im", _first),
    "NegativeLogLikelihoodLoss": ("nll_loss", _loss), "SoftmaxCrossEntropyLoss": ("softmax_cross_entropy_loss", _loss),
    "LinearAttention": ("linear_attention", _all_data), "CausalConvWithState": ("causal_conv_with_state", _causal_conv),
    "TensorScatter": ("tensor_scatter", _all_data), "MaxUnpool": ("max_unpool", _first_two),
    "CenterCropPad": ("center_crop_pad", _first), "Compress": ("compress", _selection),
    "NonMaxSuppression": ("non_max_suppression", _selection),
    "Bernoulli": ("bernoulli", _first), "EyeLike": ("constant", _no_data), "BitCast": ("bitcast", _view),
    "OptionalGetElement": ("optional_get_element", _view), "OptionalHasElement": ("optional_has_element", _view),
    "SequenceLength": ("sequence_length", _view), "SequenceInsert": ("sequence_insert", _lenient_all),
    "SplitToSequence": ("split_to_sequence", _lenient_first), "Unique": ("unique", _lenient_first),
    "StringConcat": ("string_concat", _lenient_all), "StringNormalizer": ("string_normalizer", _lenient_first),
    "StringSplit": ("string_split", _lenient_first), "RegexFullMatch": ("regex_full_match", _lenient_first),
}
"""ONNX op_type -> (canonical kind, handler). Keyed by op_type in any domain (com.microsoft ops included),
except :data:`_DEFAULT_DOMAIN_ONLY`."""

_DEFAULT_DOMAIN_ONLY = frozenset({"Attention"})
"""op types whose namesake in another domain has another signature (com.microsoft Attention takes the input and
packed QKV weights): there they stay unmapped."""


def lookup(node: OnnxNode) -> tuple[str, Handler, bool]:
    """``(kind, handler, mapped)`` of ``node``; an op without an entry keeps its op_type, every operand data."""
    entry = _OPS.get(node.op_type)
    if entry is None or node.op_type in _DEFAULT_DOMAIN_ONLY and node.domain not in ("", "ai.onnx"):
        return node.op_type, _all_data, False
    kind, handler = entry
    return kind, handler, True
