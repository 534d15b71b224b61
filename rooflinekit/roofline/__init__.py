"""Roofline model: counted networks, engines and memories, traffic models, the vectorized core, the predictor.

Everything here takes specs (no catalog lookups); :mod:`rooflinekit.api` resolves names. :class:`NotesArray`, a
pandas extension array, is imported on first use (PEP 562), so that a prediction does not import pandas.
Every public name is loaded that way (from the module :data:`_LAZY` names), so that the plain-Python
:mod:`~rooflinekit.roofline.reference` imports without numpy (the command line's quick path uses it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_LAZY = {
    **dict.fromkeys(("Residency", "residency"), "capacity"),
    **dict.fromkeys(("COMPUTE_BOUND", "RooflineTimes", "roofline_times"), "core"),
    **dict.fromkeys(("MemoryLayout", "Placement", "place"), "engines"),
    **dict.fromkeys(("HardwareGrid", "axis_values"), "grid"),
    **dict.fromkeys(("MODES", "RESULT_COLUMNS", "SWEEP_COLUMNS", "Evaluation", "Mode", "Prediction", "evaluate",
                     "evaluate_grid", "predict", "sweep"), "predictor"),
    **dict.fromkeys(("Best", "Histogram", "Pareto", "Reduction"), "reductions"),
    **dict.fromkeys(("roofline_time_scalar", "traffic_bytes_scalar"), "reference"),
    **dict.fromkeys(("TRAFFIC_MODELS", "OnChipIfFits", "RowTraffic", "TrafficModel", "WeightsAndActivations",
                     "WeightsOnly", "traffic_model"), "traffic"),
    **dict.fromkeys(("CountedNetwork", "network_label"), "workload"),
    "NotesArray": "_notes_array",
}

if TYPE_CHECKING:
    from rooflinekit.roofline._notes_array import NotesArray
    from rooflinekit.roofline.capacity import Residency, residency
    from rooflinekit.roofline.core import COMPUTE_BOUND, RooflineTimes, roofline_times
    from rooflinekit.roofline.engines import MemoryLayout, Placement, place
    from rooflinekit.roofline.grid import HardwareGrid, axis_values
    from rooflinekit.roofline.predictor import (
        MODES, RESULT_COLUMNS, SWEEP_COLUMNS, Evaluation, Mode, Prediction, evaluate, evaluate_grid, predict, sweep,
    )
    from rooflinekit.roofline.reductions import Best, Histogram, Pareto, Reduction
    from rooflinekit.roofline.reference import roofline_time_scalar, traffic_bytes_scalar
    from rooflinekit.roofline.traffic import (
        TRAFFIC_MODELS, OnChipIfFits, RowTraffic, TrafficModel, WeightsAndActivations, WeightsOnly, traffic_model,
    )
    from rooflinekit.roofline.workload import CountedNetwork, network_label

__all__ = [
    "Best", "COMPUTE_BOUND", "CountedNetwork", "HardwareGrid", "Histogram", "Pareto", "Reduction", "axis_values",
    "evaluate_grid", "Evaluation", "MODES", "MemoryLayout", "Mode", "NotesArray", "OnChipIfFits", "Placement",
    "Prediction", "RESULT_COLUMNS", "Residency", "RooflineTimes", "RowTraffic", "SWEEP_COLUMNS", "TRAFFIC_MODELS",
    "TrafficModel", "WeightsAndActivations", "WeightsOnly", "evaluate", "network_label", "place", "predict",
    "residency", "roofline_time_scalar", "roofline_times", "sweep", "traffic_bytes_scalar", "traffic_model",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (numpy with most of them; pandas with
    :class:`NotesArray`), then kept in this module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
