"""The canonical op vocabulary: every op kind the counters and importers use, and its op class.

A :class:`~rooflinekit.descriptors.Layer` names its operator by canonical kind (``Layer.op``, a plain string so
that an op outside the vocabulary, e.g. a custom op that keeps its source name, stays representable and is
reported as unsupported). :class:`OpKind` lists the known kinds; its values are the strings that catalogs, layer
dicts and importers use (``OpKind.CONV == "conv"``). Each kind belongs to one :class:`OpClass`, read from the
table below through :attr:`OpKind.op_class`; :func:`layer_op_class` refines a depthwise convolution.

Notes
-----
Op classes and their kinds:

============  =====================================================================================================
op class      kinds
============  =====================================================================================================
conv          conv, conv_transpose, deform_conv, causal_conv_with_state
depthwise     (no kind of its own: a conv or conv_transpose whose ``groups`` equal its input channels, > 1, see
              :func:`layer_op_class`)
gemm          fully_connected, matmul, einsum, det, dft, stft, affine_grid
attention     attention, linear_attention
recurrent     lstm, gru, rnn
elementwise   binary: add, sub, mul, div, max, min, pow, mod, sum, mean, squared_difference, where, equal, less,
              greater, and, or, xor, bitwise_and, bitwise_or, bitwise_xor, bit_shift;
              unary: relu, relu6, leaky_relu, prelu, elu, selu, sigmoid, hard_sigmoid, tanh, gelu, erf, swish,
              hard_swish, softplus, softsign, clip, exp, log, sqrt, reciprocal, neg, abs, floor, ceil, round, sin,
              cos, not, sign, mish, celu, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, is_nan, is_inf,
              bitwise_not, thresholded_relu, shrink, cumsum, cumprod, bernoulli;
              fused: swiglu, rotary_embedding;
              converts: cast, quantize, dequantize, requantize
norm          batch_norm, layer_norm, instance_norm, group_norm, rms_norm, lp_norm, mean_variance_norm, softmax,
              log_softmax, hardmax, lrn
pool          max_pool, avg_pool, lp_pool, global_max_pool, global_avg_pool
reduce        reduce_mean, reduce_sum, reduce_max, reduce_min, reduce_prod, reduce_l1, reduce_l2,
              reduce_log_sum, reduce_log_sum_exp, reduce_sum_square, arg_max, arg_min; losses: nll_loss,
              softmax_cross_entropy_loss
movement      copies: concat, transpose, pad, mirror_pad, slice, split, gather, gather_nd, scatter, tile, expand,
              depth_to_space, space_to_depth, pack, unpack, one_hot, reverse, non_zero, top_k, trilu, resize,
              center_crop_pad, compress, max_unpool, tensor_scatter;
              sampling: grid_sample, roi_align, col2im; selection: non_max_suppression, unique;
              sequences and strings: sequence_insert, split_to_sequence, string_concat, string_normalizer,
              string_split, regex_full_match;
              views: reshape, flatten, squeeze, unsqueeze, identity, dropout, bitcast, optional_get_element
control       constant, range, shape, size, sequence_length, optional_has_element; generated tables:
              hann_window, hamming_window, blackman_window, mel_weight_matrix
============  =====================================================================================================

A kind is *fusible* (:attr:`OpKind.fusible`) when its class is elementwise (converts included) or norm: a kernel
can apply it to its producer's output before writing it. ``cumsum`` is elementwise here, as its counter costs it
(one add per element), and so is ``cumprod`` (one multiply).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from rooflinekit.descriptors.network import Layer


class _TextEnum(str, Enum):
    """A string enum that prints and hashes as its value, so ``"conv" in {OpKind.CONV}`` and ``f"{kind}"`` work."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __hash__(self) -> int:  # as its string (Enum hashes the member name), so "conv" in {OpKind.CONV}
        return str.__hash__(self)


class OpClass(_TextEnum):
    """The class of an operator: what kind of work it does (see the table in :mod:`rooflinekit.descriptors.ops`)."""

    CONV = "conv"
    DEPTHWISE = "depthwise"
    GEMM = "gemm"
    ATTENTION = "attention"
    RECURRENT = "recurrent"
    ELEMENTWISE = "elementwise"
    NORM = "norm"
    POOL = "pool"
    REDUCE = "reduce"
    MOVEMENT = "movement"
    CONTROL = "control"


class OpKind(_TextEnum):
    """A canonical op kind; the value is the string stored in ``Layer.op`` (see the table in
    :mod:`rooflinekit.descriptors.ops`)."""

    # conv
    CONV = "conv"
    CONV_TRANSPOSE = "conv_transpose"
    DEFORM_CONV = "deform_conv"
    CAUSAL_CONV_WITH_STATE = "causal_conv_with_state"
    # gemm
    FULLY_CONNECTED = "fully_connected"
    MATMUL = "matmul"
    EINSUM = "einsum"
    DET = "det"
    DFT = "dft"
    STFT = "stft"
    AFFINE_GRID = "affine_grid"
    # attention, recurrent
    ATTENTION = "attention"
    LINEAR_ATTENTION = "linear_attention"
    LSTM = "lstm"
    GRU = "gru"
    RNN = "rnn"
    # elementwise: binary
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MAX = "max"
    MIN = "min"
    POW = "pow"
    MOD = "mod"
    SUM = "sum"
    MEAN = "mean"
    SQUARED_DIFFERENCE = "squared_difference"
    WHERE = "where"
    EQUAL = "equal"
    LESS = "less"
    GREATER = "greater"
    AND = "and"
    OR = "or"
    XOR = "xor"
    BITWISE_AND = "bitwise_and"
    BITWISE_OR = "bitwise_or"
    BITWISE_XOR = "bitwise_xor"
    BIT_SHIFT = "bit_shift"
    # elementwise: unary
    RELU = "relu"
    RELU6 = "relu6"
    LEAKY_RELU = "leaky_relu"
    PRELU = "prelu"
    ELU = "elu"
    SELU = "selu"
    SIGMOID = "sigmoid"
    HARD_SIGMOID = "hard_sigmoid"
    TANH = "tanh"
    GELU = "gelu"
    ERF = "erf"
    SWISH = "swish"
    HARD_SWISH = "hard_swish"
    SOFTPLUS = "softplus"
    SOFTSIGN = "softsign"
    CLIP = "clip"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    RECIPROCAL = "reciprocal"
    NEG = "neg"
    ABS = "abs"
    FLOOR = "floor"
    CEIL = "ceil"
    ROUND = "round"
    SIN = "sin"
    COS = "cos"
    NOT = "not"
    SIGN = "sign"
    MISH = "mish"
    CELU = "celu"
    TAN = "tan"
    ASIN = "asin"
    ACOS = "acos"
    ATAN = "atan"
    SINH = "sinh"
    COSH = "cosh"
    ASINH = "asinh"
    ACOSH = "acosh"
    ATANH = "atanh"
    IS_NAN = "is_nan"
    IS_INF = "is_inf"
    BITWISE_NOT = "bitwise_not"
    THRESHOLDED_RELU = "thresholded_relu"
    SHRINK = "shrink"
    CUMSUM = "cumsum"
    CUMPROD = "cumprod"
    BERNOULLI = "bernoulli"
    # elementwise: fused
    SWIGLU = "swiglu"
    ROTARY_EMBEDDING = "rotary_embedding"
    # elementwise: converts
    CAST = "cast"
    QUANTIZE = "quantize"
    DEQUANTIZE = "dequantize"
    REQUANTIZE = "requantize"
    # norm
    BATCH_NORM = "batch_norm"
    LAYER_NORM = "layer_norm"
    INSTANCE_NORM = "instance_norm"
    GROUP_NORM = "group_norm"
    RMS_NORM = "rms_norm"
    LP_NORM = "lp_norm"
    MEAN_VARIANCE_NORM = "mean_variance_norm"
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    HARDMAX = "hardmax"
    LRN = "lrn"
    # pool
    MAX_POOL = "max_pool"
    AVG_POOL = "avg_pool"
    LP_POOL = "lp_pool"
    GLOBAL_MAX_POOL = "global_max_pool"
    GLOBAL_AVG_POOL = "global_avg_pool"
    # reduce
    REDUCE_MEAN = "reduce_mean"
    REDUCE_SUM = "reduce_sum"
    REDUCE_MAX = "reduce_max"
    REDUCE_MIN = "reduce_min"
    REDUCE_PROD = "reduce_prod"
    REDUCE_L1 = "reduce_l1"
    REDUCE_L2 = "reduce_l2"
    REDUCE_LOG_SUM = "reduce_log_sum"
    REDUCE_LOG_SUM_EXP = "reduce_log_sum_exp"
    REDUCE_SUM_SQUARE = "reduce_sum_square"
    ARG_MAX = "arg_max"
    ARG_MIN = "arg_min"
    NLL_LOSS = "nll_loss"
    SOFTMAX_CROSS_ENTROPY_LOSS = "softmax_cross_entropy_loss"
    # movement: copies
    CONCAT = "concat"
    TRANSPOSE = "transpose"
    PAD = "pad"
    MIRROR_PAD = "mirror_pad"
    SLICE = "slice"
    SPLIT = "split"
    GATHER = "gather"
    GATHER_ND = "gather_nd"
    SCATTER = "scatter"
    TILE = "tile"
    EXPAND = "expand"
    DEPTH_TO_SPACE = "depth_to_space"
    SPACE_TO_DEPTH = "space_to_depth"
    PACK = "pack"
    UNPACK = "unpack"
    ONE_HOT = "one_hot"
    REVERSE = "reverse"
    NON_ZERO = "non_zero"
    TOP_K = "top_k"
    TRILU = "trilu"
    RESIZE = "resize"
    CENTER_CROP_PAD = "center_crop_pad"
    COMPRESS = "compress"
    MAX_UNPOOL = "max_unpool"
    TENSOR_SCATTER = "tensor_scatter"
    GRID_SAMPLE = "grid_sample"
    ROI_ALIGN = "roi_align"
    COL2IM = "col2im"
    NON_MAX_SUPPRESSION = "non_max_suppression"
    UNIQUE = "unique"
    SEQUENCE_INSERT = "sequence_insert"
    SPLIT_TO_SEQUENCE = "split_to_sequence"
    STRING_CONCAT = "string_concat"
    STRING_NORMALIZER = "string_normalizer"
    STRING_SPLIT = "string_split"
    REGEX_FULL_MATCH = "regex_full_match"
    # movement: views
    RESHAPE = "reshape"
    FLATTEN = "flatten"
    SQUEEZE = "squeeze"
    UNSQUEEZE = "unsqueeze"
    IDENTITY = "identity"
    DROPOUT = "dropout"
    BITCAST = "bitcast"
    OPTIONAL_GET_ELEMENT = "optional_get_element"
    # control
    CONSTANT = "constant"
    RANGE = "range"
    SHAPE = "shape"
    SIZE = "size"
    SEQUENCE_LENGTH = "sequence_length"
    OPTIONAL_HAS_ELEMENT = "optional_has_element"
    HANN_WINDOW = "hann_window"
    HAMMING_WINDOW = "hamming_window"
    BLACKMAN_WINDOW = "blackman_window"
    MEL_WEIGHT_MATRIX = "mel_weight_matrix"

    @property
    def op_class(self) -> OpClass:
        """The op class of this kind, from the table in :mod:`rooflinekit.descriptors.ops`."""
        return _CLASS_OF[self]

    @property
    def fusible(self) -> bool:
        """True for kinds a kernel can fuse into the op that produces their input: elementwise (activations,
        binary ops, converts) and norm classes."""
        return self.op_class in _FUSIBLE_CLASSES

    @classmethod
    def parse(cls, text: str) -> OpKind | None:
        """The kind spelled exactly ``text``, or None for a kind outside the vocabulary.

        Parameters
        ----------
        text : str
            A canonical kind (``"conv"``) or an :class:`OpKind`. Matching is exact: an op kept under its source
            name (``"TfIdfVectorizer"``, ``"CUMSUM"``) is not a canonical kind.

        Returns
        -------
        OpKind or None
            None for an unknown or custom op, which the counters report as unsupported.
        """
        try:  # the first look of cls(text), without its call: counting reads each layer's kind
            member = cls._value2member_map_.get(text)
        except TypeError:  # not hashable: cls(text) decides
            member = None
        if member is not None:
            return cast(OpKind, member)
        try:
            return cls(text)
        except ValueError:
            return None


_KINDS_BY_CLASS: dict[OpClass, tuple[OpKind, ...]] = {
    OpClass.CONV: (OpKind.CONV, OpKind.CONV_TRANSPOSE, OpKind.DEFORM_CONV, OpKind.CAUSAL_CONV_WITH_STATE),
    OpClass.DEPTHWISE: (),
    OpClass.GEMM: (OpKind.FULLY_CONNECTED, OpKind.MATMUL, OpKind.EINSUM, OpKind.DET, OpKind.DFT, OpKind.STFT,
                   OpKind.AFFINE_GRID),
    OpClass.ATTENTION: (OpKind.ATTENTION, OpKind.LINEAR_ATTENTION),
    OpClass.RECURRENT: (OpKind.LSTM, OpKind.GRU, OpKind.RNN),
    OpClass.ELEMENTWISE: (
        OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV, OpKind.MAX, OpKind.MIN, OpKind.POW, OpKind.MOD, OpKind.SUM,
        OpKind.MEAN, OpKind.SQUARED_DIFFERENCE, OpKind.WHERE, OpKind.EQUAL, OpKind.LESS, OpKind.GREATER, OpKind.AND,
        OpKind.OR, OpKind.XOR, OpKind.BITWISE_AND, OpKind.BITWISE_OR, OpKind.BITWISE_XOR, OpKind.BIT_SHIFT,
        OpKind.RELU, OpKind.RELU6, OpKind.LEAKY_RELU, OpKind.PRELU, OpKind.ELU, OpKind.SELU, OpKind.SIGMOID,
        OpKind.HARD_SIGMOID, OpKind.TANH, OpKind.GELU, OpKind.ERF, OpKind.SWISH, OpKind.HARD_SWISH, OpKind.SOFTPLUS,
        OpKind.SOFTSIGN, OpKind.CLIP, OpKind.EXP, OpKind.LOG, OpKind.SQRT, OpKind.RECIPROCAL, OpKind.NEG, OpKind.ABS,
        OpKind.FLOOR, OpKind.CEIL, OpKind.ROUND, OpKind.SIN, OpKind.COS, OpKind.NOT, OpKind.SIGN, OpKind.MISH,
        OpKind.CELU, OpKind.TAN, OpKind.ASIN, OpKind.ACOS, OpKind.ATAN, OpKind.SINH, OpKind.COSH, OpKind.ASINH,
        OpKind.ACOSH, OpKind.ATANH, OpKind.IS_NAN, OpKind.IS_INF, OpKind.BITWISE_NOT, OpKind.THRESHOLDED_RELU,
        OpKind.SHRINK, OpKind.CUMSUM, OpKind.CUMPROD, OpKind.BERNOULLI, OpKind.SWIGLU, OpKind.ROTARY_EMBEDDING,
        OpKind.CAST, OpKind.QUANTIZE, OpKind.DEQUANTIZE, OpKind.REQUANTIZE,
    ),
    OpClass.NORM: (OpKind.BATCH_NORM, OpKind.LAYER_NORM, OpKind.INSTANCE_NORM, OpKind.GROUP_NORM, OpKind.RMS_NORM,
                   OpKind.LP_NORM, OpKind.MEAN_VARIANCE_NORM, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.HARDMAX,
                   OpKind.LRN),
    OpClass.POOL: (OpKind.MAX_POOL, OpKind.AVG_POOL, OpKind.LP_POOL, OpKind.GLOBAL_MAX_POOL, OpKind.GLOBAL_AVG_POOL),
    OpClass.REDUCE: (OpKind.REDUCE_MEAN, OpKind.REDUCE_SUM, OpKind.REDUCE_MAX, OpKind.REDUCE_MIN, OpKind.REDUCE_PROD,
                     OpKind.REDUCE_L1, OpKind.REDUCE_L2, OpKind.REDUCE_LOG_SUM, OpKind.REDUCE_LOG_SUM_EXP,
                     OpKind.REDUCE_SUM_SQUARE, OpKind.ARG_MAX, OpKind.ARG_MIN, OpKind.NLL_LOSS,
                     OpKind.SOFTMAX_CROSS_ENTROPY_LOSS),
    OpClass.MOVEMENT: (
        OpKind.CONCAT, OpKind.TRANSPOSE, OpKind.PAD, OpKind.MIRROR_PAD, OpKind.SLICE, OpKind.SPLIT, OpKind.GATHER,
        OpKind.GATHER_ND, OpKind.SCATTER, OpKind.TILE, OpKind.EXPAND, OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH,
        OpKind.PACK, OpKind.UNPACK, OpKind.ONE_HOT, OpKind.REVERSE, OpKind.NON_ZERO, OpKind.TOP_K, OpKind.TRILU,
        OpKind.RESIZE, OpKind.CENTER_CROP_PAD, OpKind.COMPRESS, OpKind.MAX_UNPOOL, OpKind.TENSOR_SCATTER,
        OpKind.GRID_SAMPLE, OpKind.ROI_ALIGN, OpKind.COL2IM, OpKind.NON_MAX_SUPPRESSION, OpKind.UNIQUE,
        OpKind.SEQUENCE_INSERT, OpKind.SPLIT_TO_SEQUENCE, OpKind.STRING_CONCAT, OpKind.STRING_NORMALIZER,
        OpKind.STRING_SPLIT, OpKind.REGEX_FULL_MATCH,
        OpKind.RESHAPE, OpKind.FLATTEN, OpKind.SQUEEZE, OpKind.UNSQUEEZE, OpKind.IDENTITY, OpKind.DROPOUT,
        OpKind.BITCAST, OpKind.OPTIONAL_GET_ELEMENT,
    ),
    OpClass.CONTROL: (OpKind.CONSTANT, OpKind.RANGE, OpKind.SHAPE, OpKind.SIZE, OpKind.SEQUENCE_LENGTH,
                      OpKind.OPTIONAL_HAS_ELEMENT, OpKind.HANN_WINDOW,
                      OpKind.HAMMING_WINDOW, OpKind.BLACKMAN_WINDOW, OpKind.MEL_WEIGHT_MATRIX),
}
"""The op-class table of the module docstring: op class -> its kinds. Every kind appears exactly once."""

_CLASS_OF: dict[OpKind, OpClass] = {kind: op_class for op_class, kinds in _KINDS_BY_CLASS.items() for kind in kinds}
_FUSIBLE_CLASSES = frozenset({OpClass.ELEMENTWISE, OpClass.NORM})


def layer_op_class(layer: Layer) -> OpClass | None:
    """The op class of ``layer``, with depthwise convolutions told apart.

    Parameters
    ----------
    layer : Layer
        Any layer; its ``op`` need not be a canonical kind.

    Returns
    -------
    OpClass or None
        ``OpClass.DEPTHWISE`` for a conv-class layer (conv, conv_transpose) whose ``groups`` attribute equals its
        input channels (dim 1 of its first input) and exceeds 1; otherwise the class of its kind
        (:attr:`OpKind.op_class`); None when ``layer.op`` is not an :class:`OpKind` (an unsupported op).
    """
    kind = OpKind.parse(layer.op)
    if kind is None:
        return None
    if kind.op_class is OpClass.CONV:
        groups = int(layer.attrs.get("groups", 1))
        channels = layer.inputs[0][1] if layer.inputs and len(layer.inputs[0]) > 1 else None
        if groups > 1 and groups == channels:
            return OpClass.DEPTHWISE
    return kind.op_class
