"""The ONNX conformance corpus as a coverage check (``onnx.backend.test.case.node.collect_testcases``).

:func:`run_corpus` imports every single-op model the ``onnx`` package ships for its conformance tests (~1,900,
built in memory, written to a temporary directory) and classifies each: imported, an *expected* error (a shape
that genuinely depends on input values, or an element type rooflinekit cannot represent), or an *unexpected* one.
:func:`coverage_table` renders the per-op result as the Markdown table in the README
(``python -m rooflinekit.importers.onnx._coverage``).
"""

from __future__ import annotations

import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from rooflinekit.errors import PrecisionError, RooflineError, ShapeError


@dataclass
class CorpusResult:
    """What importing the corpus gave: case names by outcome, and per default-domain op type the outcome counts
    and the counters' verdict (``uncounted``: the op imports but has no counter)."""

    imported: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)
    unexpected: dict[str, str] = field(default_factory=dict)
    by_op: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    uncounted: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def is_expected(exc: BaseException) -> bool:
    """An error a valid corpus model may rightly raise: a data-dependent shape (named as such), or a 4-bit float
    element type (FLOAT4E2M1) that :class:`~rooflinekit.descriptors.DType` has no member for."""
    if isinstance(exc, ShapeError):
        return "data-dependent" in str(exc)
    return isinstance(exc, PrecisionError) and "FLOAT4E2M1" in str(exc)


def run_corpus() -> CorpusResult:
    """Import and count every conformance case (about 30-90 s)."""
    from onnx.backend.test.case.node import collect_testcases

    from rooflinekit.counters import count_network
    from rooflinekit.importers.onnx import load_onnx

    result = CorpusResult()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
        with tempfile.TemporaryDirectory() as folder:
            for case in cases:
                path = Path(folder) / f"{case.name}.onnx"
                onnx.save(case.model, str(path))
                ops = {node.op_type for node in case.model.graph.node if node.domain in ("", "ai.onnx")}
                try:
                    network = load_onnx(path)
                    cost = count_network(network)
                except RooflineError as exc:
                    outcome = "expected" if is_expected(exc) else "unexpected"
                    (result.expected if outcome == "expected" else result.unexpected)[case.name] = str(exc)
                else:
                    outcome = "imported"
                    result.imported.append(case.name)
                    for kind in cost.unsupported_ops:
                        result.uncounted[kind] += 1
                tested = case.name.removeprefix("test_").split("_")[0]
                for op in ops:
                    if op.lower().startswith(tested) or len(ops) == 1:
                        result.by_op[op][outcome] += 1
    return result


def coverage_table(result: CorpusResult) -> str:
    """The Markdown table of ops that are not fully covered: cases per outcome and whether a counter exists."""
    lines = ["| ONNX op | imported | expected error (data-dependent) | unexpected error | counter |",
             "|---|---|---|---|---|"]
    for op in sorted(result.by_op):
        counts = result.by_op[op]
        uncounted = op in result.uncounted
        if not counts.get("unexpected") and not counts.get("expected") and not uncounted:
            continue
        lines.append(f"| {op} | {counts.get('imported', 0)} | {counts.get('expected', 0)} | "
                     f"{counts.get('unexpected', 0)} | {'none (reported unsupported)' if uncounted else 'yes'} |")
    total = len(result.imported) + len(result.expected) + len(result.unexpected)
    summary = (f"{total} conformance cases: {len(result.imported)} imported, {len(result.expected)} expected errors, "
               f"{len(result.unexpected)} unexpected; ops not listed import and are counted in every case.")
    return summary + "\n\n" + "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates the README table
    print(coverage_table(run_corpus()))
