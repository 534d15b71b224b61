"""The command line's quick ``predict`` (:mod:`rooflinekit.quick`): what it answers is what the full path prints, it
imports nothing heavy, it declines everything else, and its cached data follows the catalog files.

The expected outputs are the full path's own: :func:`rooflinekit.cli.main` with the quick path switched off, and
:func:`rooflinekit.api.predict` (what ``cmd_predict`` prints the fields of).
"""

from __future__ import annotations

import shutil
import warnings
from itertools import cycle
from pathlib import Path

import pytest

import rooflinekit.quick as quick
from conftest import full_cli, loaded_after
from rooflinekit import api, cli
from rooflinekit.catalog import hardware_catalog, load_hardware_file, network_catalog
from rooflinekit.cli_common import FORMATS

PREDICT = ["predict", "ResNet-50", "--hardware", "ZCU104-DPU"]
"""The README's quick start."""
HEAVY = ("numpy", "pandas", "pydantic", "yaml")
BATCHES = (None, 1, 7, 256)
"""None: the network's own batch (no ``--batch``)."""


def words(network: str, hardware: str, precision: str | None = None, batch: int | None = None,
          output: str = "table") -> list[str]:
    """``predict``'s command line (without the program name) for one case."""
    return ["predict", network, "--hardware", hardware, *(["--precision", precision] if precision else []),
            *(["--batch", str(batch)] if batch else []), *(["--format", output] if output != "table" else [])]


@pytest.fixture(scope="module")
def table() -> dict:
    """The quick table of the bundled catalog (built from the files now, or read from the user cache)."""
    made = quick.quick_table()
    assert made is not None
    return made


@pytest.fixture(scope="module")
def cases(table) -> tuple[list[tuple], int]:
    """Every catalog network x catalog hardware x precision (the network's own and each data type the hardware has
    a peak for) x batch (:data:`BATCHES`): the cases the quick path accepts, as ``(network, hardware spec,
    precision, batch, answer)``, and how many it declines."""
    accepted, declined = [], 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quick, "quick_table", lambda: table)  # read once, not once per case
        for network in network_catalog().names():
            for hardware in hardware_catalog().specs:
                for precision in (None, *(d.value for d in hardware.peak_ops_per_s)):
                    for batch in BATCHES:
                        answer = quick.quick_prediction(words(network, hardware.name, precision, batch))
                        if answer is None:
                            declined += 1
                        else:
                            accepted.append((network, hardware, precision, batch, answer))
    return accepted, declined


def quick_path(capsys, argv: list[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of the command line, which must take the quick path for ``argv``."""
    assert quick.quick_prediction(argv) is not None, argv
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_case_the_quick_path_accepts_is_the_full_paths_prediction(cases, capsys):
    """Each accepted case's fields (with ``fps_per_w``, as ``cmd_predict`` adds it) are the full path's, in its
    order, of the same types and bit for bit (``repr`` of a float round-trips), and the full path warns nothing."""
    accepted, declined = cases
    specs = {}
    for network, hardware, precision, batch, answer in accepted:
        spec = specs.get(network) or specs.setdefault(network, network_catalog().get(network))
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            full = api.predict(spec, hardware, precision, batch)
        expected = {**full.to_dict(), "fps_per_w": cli._fps_per_w(full.fps, hardware.tdp_w)}
        got = {**answer.prediction, "fps_per_w": cli._fps_per_w(answer.prediction["fps"], answer.tdp_w)}
        assert (repr(list(got.items())), said) == (repr(list(expected.items())), []), (network, hardware.name,
                                                                                       precision, batch)
    with capsys.disabled():
        print(f"\nquick path: accepts {len(accepted)} and declines {declined} of {len(accepted) + declined} "
              "network x hardware x precision x batch cases")
    # every aggregate network on every hardware of one engine that holds it: thousands of cases
    assert len(accepted) > 10_000 and declined > 0


def test_the_quick_paths_output_is_the_full_paths_in_every_format(cases, table, capsys, monkeypatch):
    """stdout, stderr and exit status equal the full path's: one case of every third accepted (network, hardware)
    pair (the fields themselves are compared on every case above), the pairs taking the formats, batches,
    precisions and output flags in turn."""
    monkeypatch.setattr(quick, "quick_table", lambda: table)
    accepted, _ = cases
    by_pair = {}
    for case in accepted:
        by_pair.setdefault((case[0], case[1].name), []).append(case)
    flags = cycle([[], ["--quiet"], [], ["--wide"], ["-q", "--wide"]])
    seen = set()
    for i, ((network, hardware), options) in enumerate(sorted(by_pair.items())[::3]):
        _, _, precision, batch, _ = options[i % len(options)]
        output = FORMATS[i % len(FORMATS)]
        argv = [*words(network, hardware, precision, batch, output), *next(flags)]
        assert quick_path(capsys, argv) == full_cli(capsys, argv), argv
        seen.add((output, batch, precision is None))
    assert {(f, b, own) for f in FORMATS for b in BATCHES for own in (True, False)} <= seen


@pytest.mark.parametrize("argv", [
    PREDICT,
    [*PREDICT, "--format", "json"],
    [*PREDICT, "--format=csv", "--batch=7"],
    ["predict", "--hardware", "ZCU104-DPU", "ResNet-50 80%", "--precision", "int8"],
    ["predict", "resnet50", "--hardware", "zcu104 dpu", "--batch", "256", "--wide", "--quiet"],
])
def test_the_readme_command_and_its_spellings_take_the_quick_path(capsys, argv):
    """The README's command (what ``benchmarks/bench_cli_startup.py`` times) and other spellings argparse reads
    alike are answered here, as the full path answers them."""
    assert quick_path(capsys, argv) == full_cli(capsys, argv)


def test_the_readme_command_imports_no_heavy_library_once_its_data_is_cached(tmp_path):
    """The first run builds the quick table (with the full path's libraries); the next imports none of numpy,
    pandas, pydantic, PyYAML, and prints the same."""
    code = f"from rooflinekit.cli import main\nassert main({PREDICT!r}) == 0"
    _, first = loaded_after(code, tmp_path)
    modules, second = loaded_after(code, tmp_path)
    assert second == first and "fps                    595.9" in second
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()
    assert list(tmp_path.glob("rooflinekit/quick-predict-*.json"))


@pytest.mark.parametrize("argv", [
    ["predict", "model.onnx", "--hardware", "ZCU104-DPU"],  # a model file (by its suffix)
    [*PREDICT, "--mode", "layer"],
    [*PREDICT, "--mode", "network"],  # any option it does not take, even one that changes nothing
    [*PREDICT, "--traffic", "weights_only"],
    [*PREDICT, "--calibrated"],
    [*PREDICT, "--calibration", "calibration.json"],
    [*PREDICT, "--no-fusion"],
    ["predict", "ResNet-5O", "--hardware", "ZCU104-DPU"],  # an unknown network
    ["predict", "ResNet-50", "--hardware", "ZCU1O4-DPU"],  # an unknown hardware
    ["predict", "ResNet-50 33%", "--hardware", "ZCU104-DPU"],  # a pruning the network does not have
    ["predict", "ResNet-50", "--hardware", "my_npu.yaml"],  # a hardware file
    ["predict", "LeNet-MNIST", "--hardware", "ZCU104-DPU"],  # a layer-level network
    ["predict", "Llama-2-7B", "--hardware", "H100-SXM5-80GB"],  # a transformer network
    ["predict", "ResNet-50", "--hardware", "Jetson AGX Orin 64GB"],  # several engines
    ["predict", "ResNet-50", "--hardware", "DGX H100"],  # several devices
    ["predict", "ResNet-50", "--hardware", "Coral Dev Board"],  # weights spilled from a cache
    ["predict", "CNV", "--hardware", "Cloud AI 100 Pro"],  # the hardware's default precision, with its note
    ["predict", "CNV", "--hardware", "B-U585I-IOT02A"],  # does not fit its memories: a warning
    [*PREDICT, "--precision", "fp16"],  # no fp16 peak: an error naming a type to pass
    [*PREDICT, "--precision", "INT8"],  # another spelling of a data type
    [*PREDICT, "--precision", "W-int8_A-fp32"],
    [*PREDICT, "--batch", "0"], [*PREDICT, "--batch", "+7"], [*PREDICT, "--batch", "07"],
    [*PREDICT, "--batch", str(2**31)], [*PREDICT, "--format", "xml"],
    [*PREDICT, "--hardware", "ZCU104-DPU"],  # an option twice
    ["predict", "ResNet-50", "--hard", "ZCU104-DPU"],  # an abbreviation
    ["predict", "ResNet-50", "--hardware"], ["predict", "ResNet-50"], ["predict", "--hardware", "ZCU104-DPU"],
    [*PREDICT, "extra"], [*PREDICT, "--"], [*PREDICT, "--help"], ["predict", "-x", "--hardware", "ZCU104-DPU"],
    ["count", "ResNet-50"], [],
])
def test_the_quick_path_declines_what_it_does_not_answer_exactly(argv):
    assert quick.quick_prediction(argv) is None


def test_a_declined_unknown_name_gets_the_full_paths_suggestion(capsys):
    code, out, err = cli.main(["predict", "ResNet-5O", "--hardware", "ZCU104-DPU"]), *capsys.readouterr()
    assert (code, out) == (2, "") and "did you mean ResNet-50" in err


def test_a_file_named_like_a_catalog_network_is_a_model_file(tmp_path, monkeypatch):
    """MODEL naming an existing file is the file (as ``is_model_file`` reads it), not the catalog network."""
    monkeypatch.chdir(tmp_path)
    assert quick.quick_prediction(PREDICT) is not None
    (tmp_path / "ResNet-50").write_text("not a model")
    assert quick.quick_prediction(PREDICT) is None


@pytest.fixture
def copied_catalog(tmp_path, monkeypatch) -> Path:
    """The bundled catalogs copied to ``tmp_path`` and read from there by the quick path, with its cache in
    ``tmp_path/cache``."""
    for name, folder in (("HARDWARE_DIR", "hardware_specs"), ("MODEL_DIR", "model_specs")):
        copy = tmp_path / folder
        shutil.copytree(getattr(quick, name), copy)
        monkeypatch.setattr(quick, name, copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_a_changed_catalog_file_is_never_served_from_the_cache(copied_catalog):
    """Editing a catalog file (here the README hardware's peak: 4.6 -> 9.25 TOPS) rebuilds the table on the next
    command, which then predicts what the full path predicts for the edited spec."""
    before = quick.quick_prediction(PREDICT)
    cached = list((copied_catalog / "cache").glob("rooflinekit/quick-predict-*.json"))
    assert before is not None and len(cached) == 1
    assert quick.quick_prediction(PREDICT) == before  # unchanged files: served from the cache
    path = copied_catalog / "hardware_specs" / "qutibench_fpga.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("int8: 4.6 TOPS") == 1
    path.write_text(text.replace("int8: 4.6 TOPS", "int8: 9.25 TOPS"), encoding="utf-8")
    after = quick.quick_prediction(PREDICT)
    hardware = next(s for s in load_hardware_file(path) if s.name == "ZCU104-DPU")
    expected = api.predict("ResNet-50", hardware)
    assert after is not None and after.prediction["peak_ops_per_s"] == 9.25e12
    assert repr(list(after.prediction.items())) == repr(list(expected.to_dict().items()))


def test_a_catalog_that_fails_to_load_is_declined_and_not_cached(copied_catalog):
    """A broken catalog file leaves the command to the full path (which reports it), and no table is kept."""
    path = copied_catalog / "hardware_specs" / "qutibench_fpga.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("int8: 4.6 TOPS", "int8: many"), encoding="utf-8")
    assert quick.quick_prediction(PREDICT) is None
    assert not list((copied_catalog / "cache").glob("rooflinekit/quick-predict-*.json"))


def test_a_changed_module_of_the_package_rebuilds_the_table(copied_catalog, monkeypatch):
    """The table is keyed on the package's modules that compute it as well: editing one rebuilds it."""
    module = copied_catalog / "module.py"
    module.write_text("A = 1\n")
    monkeypatch.setattr(quick, "_code_files", lambda: [module])
    builds = []
    build = quick._build_table
    monkeypatch.setattr(quick, "_build_table", lambda: builds.append(1) or build())
    assert quick.quick_table() == quick.quick_table() and len(builds) == 1
    module.write_text("A = 22\n")
    assert quick.quick_table() is not None and len(builds) == 2
