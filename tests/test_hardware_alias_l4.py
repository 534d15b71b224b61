"""'L4' names two catalog devices: the NVIDIA L4 GPU (catalog name "NVIDIA L4") and the STM32L4 board NUCLEO-L496ZG,
which the TinyML study's tables call 'L4' (its notebooks map {"NUCLEO-L496ZG": "L4", "DISCO-F469NI": "F4",
"NUCLEO-F767ZI": "F7"}). A lookup of 'L4' is refused, naming both, instead of silently giving the board to a user of
the LLM or GPU features; the study's own tables map their label explicitly (``align(..., hardware_aliases=...)``).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import rooflinekit as rk
from conftest import full_cli, one_error, run
from rooflinekit.catalog import AMBIGUOUS_HARDWARE, get_hardware, hardware_catalog, normalize_name
from rooflinekit.compare.align import align
from rooflinekit.descriptors.hardware import HardwareKind
from rooflinekit.errors import UnknownNameError

BOTH = ("NVIDIA L4", "NUCLEO-L496ZG")


@pytest.mark.parametrize("name", ["L4", "l4", " L-4 "])
def test_l4_is_refused_as_ambiguous_naming_both_devices(name):
    with pytest.raises(UnknownNameError, match=r"hardware .* is ambiguous: it may mean NVIDIA L4 \(.*GPU\) or "
                                               r"NUCLEO-L496ZG \(.*TinyML study calls 'L4'\); give the full name") as e:
        get_hardware(name)
    assert e.value.suggestions == BOTH and e.value.kind == "hardware" and e.value.name == name


def test_the_full_catalog_refuses_it_too():
    with pytest.raises(UnknownNameError, match="is ambiguous") as e:
        hardware_catalog().get("L4")
    assert e.value.suggestions == BOTH


def test_both_meanings_are_catalog_devices_by_their_full_names():
    gpu, board = (get_hardware(name) for name in BOTH)
    assert (gpu.kind, board.kind) == (HardwareKind.GPU, HardwareKind.MCU)
    assert board.clock_hz == 80e6  # STM32L496: Cortex-M4F at 80 MHz
    for alias in ("L496", "STM32L496", "NUCLEO_L496ZG"):
        assert get_hardware(alias) is board


def test_no_spec_claims_an_ambiguous_short_name():
    keys = {normalize_name(n) for s in hardware_catalog().specs for n in (s.name, *s.aliases)}
    assert not keys & set(AMBIGUOUS_HARDWARE)
    for meanings in AMBIGUOUS_HARDWARE.values():
        assert all(normalize_name(name) in keys for name in meanings)


@pytest.mark.parametrize("command", [["predict", "ResNet-50", "--hardware", "L4"],
                                     ["llm", "Llama-2-7B", "--hardware", "L4"]])
def test_the_cli_gives_one_error_line_naming_both(capsys, command):
    code, out, err = run(capsys, *command)
    line = one_error(err)
    assert code == 2 and out == ""
    assert "'L4' is ambiguous" in line and "NVIDIA L4" in line and "NUCLEO-L496ZG" in line


def test_the_cli_full_path_says_the_same(capsys):
    code, _, err = full_cli(capsys, ["predict", "ResNet-50", "--hardware", "L4"])
    assert code == 2 and "'L4' is ambiguous" in err and len(err.strip().splitlines()) == 1


def test_the_studys_l4_label_is_mapped_to_the_board_explicitly():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictions = rk.sweep(["LeNet-MNIST"], ["NUCLEO-L496ZG"], ["int8"], [1])
    records = pd.DataFrame({"hardware": ["L4"], "network": ["LeNet-MNIST"], "pruning_pct": [100.0],
                            "precision": ["int8"], "batch": [1], "latency_s": [0.01], "source": ["study"]})
    unmapped = align(predictions, records)
    assert unmapped.matched.empty
    assert unmapped.unmatched_records.reason.iloc[0].startswith("no prediction with this hardware (hardware 'l4'")
    mapped = align(predictions, records, hardware_aliases={"L4": "NUCLEO-L496ZG"})
    assert list(mapped.matched.predicted_hardware) == ["NUCLEO-L496ZG"]
