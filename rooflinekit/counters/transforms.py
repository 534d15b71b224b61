"""Linear algebra and signal processing: determinants, Fourier transforms and generated tables.

A MAC is one real multiply-accumulate, as in :mod:`rooflinekit.counters.gemm`; a complex multiply-accumulate is
4 real ones, a real sample times a complex twiddle 2. Transforms are counted by their defining sums (a dense
DFT matrix product), not by a fast algorithm: ``macs`` is what the op asks for, not how a runtime computes it.
Every input is booked as read and every output as written.

- det (ONNX Det): input ``(*, M, M)``, B = prod(*) matrices. LU elimination without pivoting:
  ``macs = B * (M - 1) * M * (2M - 1) / 6`` (step k updates a (M - k)^2 block, k = 1 .. M - 1) and
  ``other_ops = B * (M * (M - 1) / 2 + M - 1)`` (one division per eliminated entry, then the product of the M
  diagonal entries).
- dft (ONNX DFT): input ``(..., N_in, c_in)`` and output ``(..., K, c_out)`` with c 1 (real) or 2 (complex); attrs
  ``axis`` (the transformed dim, non-negative), ``dft_length`` L (the importer gives N_in when the model gives no
  length) and ``inverse``. Each of the K output bins sums N = min(N_in, L) samples (zero padding adds nothing) for
  every one of the R = prod(input[:-1]) / N_in other positions: ``macs = R * K * N * c_in * c_out``; an inverse
  scales every output value by 1/N: ``other_ops = prod(output)`` when ``inverse``.
- stft (ONNX STFT): signal ``(B, L, c_in)``, attrs ``frame_step`` S and ``frame_length`` F, output ``(B, frames,
  K, 2)`` with ``frames = (L - F) // S + 1`` and K = ``F // 2 + 1`` bins (``onesided``, the default) or F:
  ``macs = B * frames * K * F * c_in * 2``; a window multiplies each frame first (attr ``window`` true):
  ``other_ops = B * frames * F``.
- hann_window, hamming_window (``a0 - a1 cos(2 pi n / N)``): the angle (1), the cosine (1), the multiply (1) and
  the subtraction (1): 4 ops per output element. blackman_window (``a0 - a1 cos(x) + a2 cos(2x)``): the angle and
  its double (2), two cosines (2), two multiplies (2) and two additions (2): 8 ops per output element.
- mel_weight_matrix (ONNX MelWeightMatrix, output ``(dft_length // 2 + 1, num_mel_bins)``): each weight is a
  triangle ``max(0, min((f - lower) / (center - lower), (upper - f) / (upper - center)))``: two subtractions, two
  multiplies by reciprocal widths, a min and a max: 6 ops per output element (the mel-scale conversions, one per
  row and column, are not counted).
"""

from __future__ import annotations

import math

from rooflinekit.counters._registry import DEFAULT_COUNTERS, OpCount
from rooflinekit.counters._shapes import elements, first_input, first_output
from rooflinekit.descriptors import Layer
from rooflinekit.errors import ShapeError

GENERATED_OPS_PER_ELEMENT = {"hann_window": 4, "hamming_window": 4, "blackman_window": 8, "mel_weight_matrix": 6}


@DEFAULT_COUNTERS.register("det")
def count_det(layer: Layer) -> OpCount:
    x = first_input(layer, 2)
    m = x[-1]
    if x[-2] != m:
        raise ShapeError(f"det layer {layer.name!r}: input {list(x)} does not end in a square matrix")
    matrices = math.prod(x[:-2])
    return OpCount(macs=matrices * (m - 1) * m * (2 * m - 1) // 6, other_ops=matrices * (m * (m - 1) // 2 + m - 1))


def _required(layer: Layer, key: str) -> int:
    """Integer attribute ``key``; a ShapeError naming it as data-dependent when absent (the importer leaves it out
    when the model computes it at run time)."""
    if key not in layer.attrs:
        raise ShapeError(f"{layer.op} layer {layer.name!r}: its '{key}' is data-dependent (not a constant of the "
                         "model), so its cost is unknown")
    return int(layer.attrs[key])


@DEFAULT_COUNTERS.register("dft")
def count_dft(layer: Layer) -> OpCount:
    x, y = first_input(layer, 2), first_output(layer, 2)
    axis = _required(layer, "axis")
    if not 0 <= axis < len(x) - 1 or len(y) != len(x):
        raise ShapeError(f"dft layer {layer.name!r}: axis {axis} does not fit input {list(x)} and output {list(y)}")
    samples = min(x[axis], _required(layer, "dft_length"))
    positions = elements(x[:-1]) // x[axis]
    macs = positions * y[axis] * samples * x[-1] * y[-1]
    return OpCount(macs=macs, other_ops=elements(y) if layer.attrs.get("inverse") else 0)


@DEFAULT_COUNTERS.register("stft")
def count_stft(layer: Layer) -> OpCount:
    signal = first_input(layer, 3)
    step, length = _required(layer, "frame_step"), _required(layer, "frame_length")
    if step < 1 or not 0 < length <= signal[1]:
        raise ShapeError(f"stft layer {layer.name!r}: frame_step {step} and frame_length {length} do not fit "
                         f"signal {list(signal)}")
    frames = (signal[1] - length) // step + 1
    bins = length // 2 + 1 if layer.attrs.get("onesided", True) else length
    return OpCount(macs=signal[0] * frames * bins * length * signal[2] * 2,
                   other_ops=signal[0] * frames * length if layer.attrs.get("window") else 0)


@DEFAULT_COUNTERS.register(*GENERATED_OPS_PER_ELEMENT)
def count_generated(layer: Layer) -> OpCount:
    return OpCount(other_ops=elements(first_output(layer)) * GENERATED_OPS_PER_ELEMENT[layer.op])
