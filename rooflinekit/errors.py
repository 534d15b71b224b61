"""Error hierarchy.

Every error raised on purpose by rooflinekit derives from :class:`RooflineError`, and each concrete error also
subclasses the matching builtin (``ValueError``, ``KeyError``, ...) so callers can catch either. Messages say what
failed, show the offending value and say what to do.
"""

from __future__ import annotations


class RooflineError(Exception):
    """Base class of all rooflinekit errors."""


class SpecError(RooflineError, ValueError):
    """A hardware or network description is malformed or inconsistent."""


class UnitError(RooflineError, ValueError):
    """A quantity string cannot be parsed or has the wrong dimension."""


class UnknownNameError(RooflineError, KeyError):
    """A hardware, network or data-type name is not in the catalog."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnsupportedOpError(RooflineError, NotImplementedError):
    """An operator has no counter (raised in strict mode only)."""


class ShapeError(RooflineError, ValueError):
    """A tensor shape is missing, symbolic or inconsistent with the operator."""


class ModelFileError(RooflineError, ValueError):
    """A model file cannot be read: missing, empty, truncated or malformed."""


class PrecisionError(RooflineError, ValueError):
    """A data type is unknown or not supported by the hardware."""


class RecordError(RooflineError, ValueError):
    """A measured record is malformed or conflicts with another record."""


class CalibrationError(RooflineError, ValueError):
    """A calibration cannot be fitted, applied or evaluated."""


class PlotDependencyError(RooflineError, ImportError):
    """matplotlib, the optional ``plot`` extra, is not installed."""


class PlotError(RooflineError, ValueError):
    """A chart's input lacks columns it needs, has nothing to draw, or the output file type is unsupported."""
