"""The fuzz suite at CI size (about two minutes on two cores): no foreign exception, no hang, no wrong count.

``ROOFLINEKIT_FUZZ=long`` runs the long run of issue 15 instead (10,000 ONNX, 5,000 TFLite, 2,000 spec, 1,000
record and 50 CLI cases), as ``python -m tests.fuzz --long`` does; ``ROOFLINEKIT_FUZZ_SEED`` changes the seed.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("onnx")
pytest.importorskip("tflite")

from fuzz import CI_SIZES, LONG_SIZES  # noqa: E402
from fuzz.engine import run  # noqa: E402


def test_fuzz_suite_has_no_foreign_exception_hang_or_wrong_count() -> None:
    sizes = LONG_SIZES if os.environ.get("ROOFLINEKIT_FUZZ") == "long" else CI_SIZES
    report = run(sizes, seed=int(os.environ.get("ROOFLINEKIT_FUZZ_SEED", "0")), time_limit=60.0, workers=2)
    print(report.summary())
    assert not report.failures, report.summary()
    assert all(sum(report.counts[family].values()) == size for family, size in sizes.items())
    # the generators reach past the first checks: some cases of each family are accepted and counted
    assert all(report.counts[family]["ok"] > 0 for family in sizes), report.summary()
