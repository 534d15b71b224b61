"""rooflinekit's fuzz suite: seeded, deterministic generators of hostile input and a runner with per-case time limits.

Generators (:mod:`.generators`) build each case from ``(family, seed, index)`` alone, so a case is reproduced by its
id. Families: ``onnx`` (byte edits and structure-aware edits of small in-memory models), ``tflite`` (byte edits and
flatbuffer field edits: options, dims, ranks), ``spec`` (hardware and network YAML: wrong types, booleans, huge
numbers, aliases, nesting, invalid bytes), ``records`` (CSV tables for ``load_table`` and frames for ``align``) and
``cli`` (command lines). The runner (:mod:`.engine`) executes cases in a worker process, kills it when a case
exceeds its time limit (a hang), and classifies every case: ``ok``, ``typed`` (a :class:`~rooflinekit.errors.
RooflineError`), ``foreign`` (any other exception), ``hang``, or ``bad`` (a negative, NaN or non-exact count, a
lost record, a traceback from the CLI).

CI runs a small size (``tests/test_fuzz.py``, about two minutes on two cores). The long run of the acceptance
criteria (10,000 ONNX, 5,000 TFLite, 2,000 spec, 1,000 record and 50 CLI cases) is one command from the project's
root::

    python -m tests.fuzz --long            # or: ROOFLINEKIT_FUZZ=long python -m pytest tests/test_fuzz.py

``python -m tests.fuzz --help`` lists the options (families, counts, seed, time limit, workers).
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:  # tflite_builder lives beside the tests
    sys.path.insert(0, _TESTS)

CI_SIZES = {"onnx": 250, "tflite": 200, "spec": 150, "records": 100, "cli": 30}
"""Cases per family in CI."""
LONG_SIZES = {"onnx": 10_000, "tflite": 5_000, "spec": 2_000, "records": 1_000, "cli": 50}
"""Cases per family in the long run (the issue's acceptance figures)."""
