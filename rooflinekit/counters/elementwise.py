"""Elementwise arithmetic, activations and reductions.

- binary elementwise (add, sub, mul, div, max, min, pow, ...): ``other_ops = prod(output) * max(operands - 1, 1)``
  where operands counts activation inputs and constant tensors (a 3-operand Sum does two adds per element; an
  operand folded into an attribute still costs one op per element).
- activations and other unary functions (relu, sigmoid, tanh, gelu, trigonometry, is_nan, ...): one op per
  output element, whatever the function's cost in instructions; ``clip``, ``relu6``, ``cumsum`` (one add per
  element), ``cumprod`` (one multiply per element; the exclusive and reverse variants alike) and ``bernoulli``
  (one random draw compared with the probability) likewise.
- reduce (reduce_mean, reduce_sum, reduce_max, reduce_log_sum, ...): one op per input element (the final log, mean
  division or root per output element is not counted).
- cast, quantize, dequantize, requantize: one op per output element (the scale-and-round counts as one).
"""

from __future__ import annotations

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, output_elements
from rooflinekit.descriptors import Layer

BINARY_KINDS = ("add", "sub", "mul", "div", "max", "min", "pow", "mod", "sum", "mean", "squared_difference",
                "where", "equal", "less", "greater", "and", "or", "xor", "bitwise_and", "bitwise_or", "bitwise_xor",
                "bit_shift")
ACTIVATION_KINDS = ("relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh",
                    "gelu", "erf", "swish", "hard_swish", "softplus", "softsign", "clip", "exp", "log", "sqrt",
                    "reciprocal", "neg", "abs", "floor", "ceil", "round", "sin", "cos", "not", "sign",
                    "mish", "celu", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                    "is_nan", "is_inf", "bitwise_not", "thresholded_relu", "shrink", "cumsum", "cumprod",
                    "bernoulli")
REDUCE_KINDS = ("reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_l2",
                "reduce_l1", "reduce_log_sum", "reduce_log_sum_exp", "reduce_sum_square", "arg_max", "arg_min")
CONVERT_KINDS = ("cast", "quantize", "dequantize", "requantize")


@DEFAULT_COUNTERS.register(*BINARY_KINDS)
def count_binary(layer: Layer) -> OpCount:
    return OpCount(other_ops=output_elements(layer) * max(len(layer.inputs) + len(layer.weights) - 1, 1))


@DEFAULT_COUNTERS.register(*ACTIVATION_KINDS, *CONVERT_KINDS)
def count_unary(layer: Layer) -> OpCount:
    return OpCount(other_ops=output_elements(layer))


@DEFAULT_COUNTERS.register(*REDUCE_KINDS)
def count_reduce(layer: Layer) -> OpCount:
    return OpCount(other_ops=elements(first_input(layer)))
