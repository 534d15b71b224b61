"""Start-up of the command line: what a command imports and reads, checked as properties (never as timings).

Each check runs a fresh interpreter (``sys.modules`` of the test process already holds everything) with its own
user cache folder, so that the catalog index cache is built by a first run and found by the next, as on a
user's machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import loaded_after
from rooflinekit.cli import COMMANDS, build_parser

PREDICT = ["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]
FULL_PREDICT = [*PREDICT, "--traffic", "weights_only"]
"""The same prediction through the full path (the quick path, :mod:`rooflinekit.quick`, takes no ``--traffic``;
``tests/test_cli_quick.py`` checks what it imports)."""
HEAVY = ("numpy", "pandas", "pydantic", "yaml")
"""Libraries whose import costs a multiple of the interpreter's own start-up."""
OTHER_COMMANDS = ("matplotlib", "rooflinekit.cli_llm", "rooflinekit.plots_cli", "rooflinekit.plots",
                  "rooflinekit.compare", "rooflinekit.llm", "rooflinekit.networks", "rooflinekit.importers.onnx",
                  "rooflinekit.importers.tflite")
"""Modules of the other commands (and of model files), which ``predict`` of a catalog network does not use."""


def run_cli(argv: list[str]) -> str:
    """Python code that runs the command line on ``argv`` as the ``rooflinekit`` script does."""
    return f"from rooflinekit.cli import main\nassert main({argv!r}) == 0"


def within(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    """The modules of ``modules`` that are one of ``packages`` or inside one."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_importing_the_cli_imports_no_heavy_library(tmp_path):
    """Each command imports the library parts it uses when it runs: importing the command line imports none."""
    modules, _ = loaded_after("import rooflinekit.cli", tmp_path)
    assert within(modules, HEAVY) == set()
    assert within(modules, ("rooflinekit.catalog", "rooflinekit.descriptors", "rooflinekit.roofline")) == set()


def test_predict_of_a_catalog_network_reads_no_yaml_once_the_index_is_cached(tmp_path):
    """The catalog index cache holds the entries: a later lookup validates its entry without PyYAML, and predict
    loads nothing of the other commands."""
    _, first = loaded_after(run_cli(FULL_PREDICT), tmp_path)  # builds the index cache
    modules, second = loaded_after(run_cli(FULL_PREDICT), tmp_path)
    assert second == first and "fps                    595.9" in second
    assert within(modules, ("yaml",)) == set()
    assert within(modules, OTHER_COMMANDS) == set()


def test_predict_of_a_catalog_network_imports_no_pandas(tmp_path):
    """A prediction carries its notes without pandas and counting builds no layer table until one is read: pandas
    is imported only by what builds a table (a sweep, a layer table, a command that prints one)."""
    loaded_after(run_cli(FULL_PREDICT), tmp_path)
    modules, _ = loaded_after(run_cli(FULL_PREDICT), tmp_path)
    assert within(modules, ("pandas",)) == set()


def test_predict_of_a_catalog_network_imports_no_masked_arrays(tmp_path):
    """numpy.ma (imported by ``np.unique``) is not needed to print one prediction."""
    loaded_after(run_cli(FULL_PREDICT), tmp_path)
    modules, _ = loaded_after(run_cli(FULL_PREDICT), tmp_path)
    assert "numpy" in modules and within(modules, ("numpy.ma",)) == set()


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("3", "3")])
def test_the_console_script_asks_openblas_for_one_thread_unless_the_user_chose(tmp_path, preset, expected):
    """``rooflinekit`` (:func:`rooflinekit.cli.run`) sets ``OPENBLAS_NUM_THREADS=1`` before numpy loads, and keeps
    a value the user set; :func:`rooflinekit.cli.main` leaves the environment alone."""
    code = ("import os, sys\nfrom rooflinekit.cli import main, run\nsys.argv = ['rooflinekit', 'hardware', 'list']\n"
            "main(sys.argv[1:])\nprint('after main', os.environ.get('OPENBLAS_NUM_THREADS'))\nrun()\n"
            "print('after run', os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**env, "XDG_CACHE_HOME": str(tmp_path)})
    lines = result.stdout.splitlines()
    assert lines.count(f"after main {preset}") == 1 and lines[-1] == f"after run {expected}"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_parser_of_one_command_reads_its_command_lines_as_the_full_parser(command, capsys):
    """``build_parser(only=...)`` (what :func:`main` builds) gives the same help, command list and usage errors."""
    texts = []
    for parser in (build_parser(), build_parser(only=command)):
        for argv in ([command, "--help"], ["--help"], [command, "--no-such-option"]):
            with pytest.raises(SystemExit) as exit_info:
                parser.parse_args(argv)
            texts.append((exit_info.value.code, *capsys.readouterr()))
    assert texts[:3] == texts[3:]
