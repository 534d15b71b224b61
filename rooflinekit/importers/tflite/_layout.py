"""TFLite's NHWC feature maps -> rooflinekit's channels-first ``(N, C, H, W)`` shapes and axes."""

from __future__ import annotations

from rooflinekit.errors import ModelFileError
from rooflinekit.importers.tflite._records import Shape

_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # NHWC axis a is NCHW axis _NHWC_TO_NCHW_AXIS[a]


def nchw(shape: Shape) -> Shape:
    """A rank-4 NHWC shape as NCHW; other ranks as they are."""
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def nchw_axis(axis: int, rank: int, where: str) -> int:
    """An axis of a rank-``rank`` tensor, made non-negative and renumbered to NCHW for rank 4."""
    if not -rank <= axis < max(rank, 1):
        raise ModelFileError(f"{where}: axis {axis} is out of range for rank {rank}; the file is malformed")
    axis %= max(rank, 1)
    return _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis


def swap_last(shape: Shape) -> Shape:
    """``(..., a, b)`` -> ``(..., b, a)``: a matrix operand's adjoint."""
    return (*shape[:-2], shape[-1], shape[-2])
