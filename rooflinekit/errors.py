"""Error hierarchy.

Every error raised on purpose by rooflinekit derives from :class:`RooflineError`, and each concrete error also
subclasses the matching builtin (``ValueError``, ``KeyError``, ...) so callers can catch either. Messages say what
failed, show the offending value and say what to do.
"""

from __future__ import annotations

from os import PathLike
from typing import Any, Iterable, Mapping


class RooflineError(Exception):
    """Base class of all rooflinekit errors."""


class RooflineWarning(UserWarning):
    """Base class of every warning rooflinekit emits; filter them all with
    ``warnings.simplefilter("ignore", RooflineWarning)``."""


class ControlFlowWarning(RooflineWarning):
    """An ONNX ``If`` counted on one branch chosen by cost, or a ``Loop`` or ``Scan`` left uncounted."""


class CalibrationWarning(RooflineWarning):
    """A calibrated prediction leans on a fallback the user should know about."""


class SpecError(RooflineError, ValueError):
    """A hardware or network description is malformed or inconsistent.

    Parameters
    ----------
    message
        What failed, with the offending value and what to do.
    field
        Dotted location of the first offending field (``memories.0.bandwidth_bytes_per_s``), when known.
    errors
        One entry per failed field, when the error comes from validation: dicts with ``loc`` (tuple of keys and
        indices), ``field`` (``loc`` dotted), ``message`` (in the user's terms), ``type`` (pydantic's error type)
        and ``input`` (the rejected value).
    """

    def __init__(self, message: str = "", *, field: str | None = None,
                 errors: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.errors: tuple[dict[str, Any], ...] = tuple(dict(e) for e in errors)


class UnitError(RooflineError, ValueError):
    """A quantity string cannot be parsed or has the wrong dimension."""


class AmbiguousUnitError(UnitError):
    """A unit that reads two ways (``MS``: milli- or megaseconds; ``mhz``; ``gb/s``: bits or bytes)."""


class UnknownNameError(RooflineError, KeyError):
    """A hardware, network or data-type name is not in the catalog.

    Parameters
    ----------
    message
        What failed, with the close matches and where to list the names.
    name
        The name that was looked up.
    kind
        What was looked up: ``"hardware"``, ``"model"``, ...
    suggestions
        Close catalog names, best first (empty when none is close).
    """

    def __init__(self, message: str = "", *, name: str | None = None, kind: str | None = None,
                 suggestions: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.kind = kind
        self.suggestions: tuple[str, ...] = tuple(suggestions)

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnsupportedOpError(RooflineError, NotImplementedError):
    """An operator has no counter (raised in strict mode only)."""


class ShapeError(RooflineError, ValueError):
    """A tensor shape is missing, symbolic or inconsistent with the operator.

    Parameters
    ----------
    message
        What failed, with the offending shape and what to do.
    layer
        Name of the layer (or node) whose shape is at fault, when known.
    shape
        The offending shape, when known.
    """

    def __init__(self, message: str = "", *, layer: str | None = None,
                 shape: Iterable[int | str] | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.shape: tuple[int | str, ...] | None = None if shape is None else tuple(shape)


class ModelFileError(RooflineError, ValueError):
    """A model file cannot be read: missing, empty, truncated or malformed.

    Parameters
    ----------
    message
        What failed and what to do, starting with the file's path.
    path
        The model file, when known (as given: ``str`` or :class:`os.PathLike`).
    """

    def __init__(self, message: str = "", *, path: str | PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = path


class CountOverflowError(RooflineError, OverflowError):
    """A count (MACs, ops, bytes) does not fit the exact int64 range of the cost columns.

    Parameters
    ----------
    message
        What overflowed, the layer and the batch, and what to do.
    layer
        Name of the layer whose count overflowed, when known.
    batch
        The batch the network was counted at.
    """

    def __init__(self, message: str = "", *, layer: str | None = None, batch: int | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.batch = batch


class PrecisionError(RooflineError, ValueError):
    """A data type is unknown or not supported by the hardware.

    Parameters
    ----------
    message
        What failed and what to do: a type to pass instead, when there is one.
    precision
        The data type the hardware has no peak for (``fp32``), when known.
    hardware
        The hardware's name, when known.
    supported
        The data types the hardware has a peak for, in its spec's order (empty when not known).
    """

    def __init__(self, message: str = "", *, precision: str | None = None, hardware: str | None = None,
                 supported: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.precision = precision
        self.hardware = hardware
        self.supported: tuple[str, ...] = tuple(supported)


class RecordError(RooflineError, ValueError):
    """A measured record is malformed or conflicts with another record."""


class CalibrationError(RooflineError, ValueError):
    """A calibration cannot be fitted, applied or evaluated."""


class PlotDependencyError(RooflineError, ImportError):
    """matplotlib, the optional ``plot`` extra, is not installed."""


class PlotError(RooflineError, ValueError):
    """A chart's input lacks columns it needs, has nothing to draw, or the output file type is unsupported."""
