"""The docs' examples run: doctests of the docs pages (docs/**/*.md) and of the public entry points' docstrings.

The docs site itself is built in CI by ``mkdocs build --strict`` (warnings are errors); this file checks that what
the pages and docstrings show is what the library returns.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in (ROOT / "docs").rglob("*.md") if ">>>" in p.read_text(encoding="utf-8"))
MODULES = ["rooflinekit.display", "rooflinekit.progress", "rooflinekit.cli"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_pages_with_examples_exist():
    assert {p.name for p in PAGES} >= {"index.md", "hardware.md", "model-file.md", "measurements.md", "sweeps.md",
                                       "llm.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_page_examples(page):
    if page.name == "model-file.md":
        pytest.importorskip("onnx")
    result = doctest.testfile(str(page), module_relative=False, optionflags=FLAGS, verbose=False, report=True)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, verbose=False, report=True)
    assert result.attempted > 0 and result.failed == 0
