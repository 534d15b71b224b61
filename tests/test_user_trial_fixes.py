"""Fixes from a TinyML user trial with a board the catalog lacks: hardware YAML files in the Python roofline plot,
ceilings of equal peaks drawn as one line, descriptions in the hardware schema, time units in unit errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rooflinekit.catalog import load_hardware_file
from rooflinekit.cli import hardware_schema, main
from rooflinekit.compare.loaders.generic import load_table, stated_unit, unit_factor
from rooflinekit.descriptors import HardwareSpec
from rooflinekit.errors import SpecError, UnitError, UnknownNameError
from rooflinekit.units import parse_quantity

# A Cortex-M7 board at 216 MHz: 2 int8 or int16 MACs per cycle = 4 ops x 216e6 = 864 MOP/s; one fp32 or fp64 MAC
# per cycle (a double-precision FPU) = 2 ops x 216e6 = 432 MOP/s. So int8 = int16 and fp32 = fp64.
BOARD_YAML = textwrap.dedent("""\
    hardware:
      - name: MyBoard-M7
        kind: MCU
        peak_ops_per_s: {int8: 864 MOPS, int16: 864 MOPS, fp32: 432 MOPS, fp64: 432 MOPS}
        memories:
          - {name: flash, capacity_bytes: 2 MiB, bandwidth_bytes_per_s: 864 MB/s, on_chip: true, stores: [weights],
             source: trial}
          - {name: SRAM, capacity_bytes: 512 KiB, bandwidth_bytes_per_s: 1.728 GB/s, on_chip: true,
             stores: [activations], source: trial}
        clock_hz: 216 MHz
        core_type: Cortex-M7
        source: user trial
    """)
INT8, FP32 = 864e6, 432e6  # [ops/s], as derived above
FLASH_BW, SRAM_BW = 864e6, 1.728e9  # [bytes/s]


@pytest.fixture
def board(tmp_path: Path) -> Path:
    path = tmp_path / "my_board.yaml"
    path.write_text(BOARD_YAML, encoding="utf-8")
    return path


def board_spec(**peaks: float) -> HardwareSpec:
    """A one-memory MCU spec with ``peaks`` [ops/s] per data type."""
    return HardwareSpec.model_validate({
        "name": "B", "kind": "MCU", "peak_ops_per_s": peaks, "source": "test",
        "memories": [{"name": "SRAM", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e9, "source": "test"}]})


def gids(fig, kind: str) -> list[str]:
    return [str(line.get_gid()) for line in fig.axes[0].get_lines() if str(line.get_gid()).startswith(kind + "|")]


def ceiling_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts() if t.get_text().endswith(" peak")]


# --- 1. hardware YAML files in plot_roofline ------------------------------------------------------------------------

def test_plot_roofline_reads_a_hardware_yaml_file_given_as_str_or_path(board, monkeypatch):
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    monkeypatch.chdir(board.parent)
    for hardware in (["my_board.yaml"], "my_board.yaml", [board], board, [str(board), "NUCLEO-L4R5ZI"]):
        fig = plot_roofline(hardware)
        assert "ceiling|MyBoard-M7|int8=int16" in gids(fig, "ceiling"), hardware
        heights = sorted(line.get_ydata()[0] for line in fig.axes[0].get_lines()
                         if str(line.get_gid()).startswith("ceiling|MyBoard-M7|"))
        assert heights == pytest.approx([FP32, INT8])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "MyBoard-M7" in legend and "NUCLEO-L4R5ZI" in legend


def test_plot_roofline_reads_a_yml_file_as_the_command_line_does(board, tmp_path):
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    yml = board.rename(tmp_path / "board.YML")
    assert gids(plot_roofline([str(yml)]), "ceiling") == ["ceiling|MyBoard-M7|int8=int16",
                                                          "ceiling|MyBoard-M7|fp32=fp64"]
    out = tmp_path / "cli.svg"
    assert main(["plot", "roofline", "--hardware", str(yml), "--out", str(out)]) == 0
    assert b"ceiling|MyBoard-M7|int8=int16" in out.read_bytes()


def test_plot_roofline_file_errors_name_the_file(tmp_path):
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    with pytest.raises(SpecError, match=r"missing\.yaml: no such file"):
        plot_roofline([str(tmp_path / "missing.yaml")])
    two = tmp_path / "two.yaml"
    two.write_text(BOARD_YAML + BOARD_YAML.split("hardware:\n", 1)[1].replace("MyBoard-M7", "Other"), encoding="utf-8")
    assert len(load_hardware_file(two)) == 2
    with pytest.raises(SpecError, match=r"holds 2 hardware specs"):
        plot_roofline(two)
    with pytest.raises(UnknownNameError):
        plot_roofline(["no-such-board"])  # a name is still a catalog name
    with pytest.raises(SpecError, match=r"hardware must be a HardwareSpec, got int"):
        plot_roofline([3])


# --- 2. equal ceilings --------------------------------------------------------------------------------------------

def test_equal_peaks_share_one_ceiling_line_named_after_both(board):
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    spec = load_hardware_file(board)[0]
    fig = plot_roofline(spec)
    ceilings = [line for line in fig.axes[0].get_lines() if str(line.get_gid()).startswith("ceiling|")]
    # four data types, two distinct peaks: two lines, not four
    assert [line.get_gid() for line in ceilings] == ["ceiling|MyBoard-M7|int8=int16", "ceiling|MyBoard-M7|fp32=fp64"]
    assert [line.get_ydata()[0] for line in ceilings] == pytest.approx([INT8, FP32])
    assert ceilings[0].get_linestyle() != ceilings[1].get_linestyle()
    assert ceiling_labels(fig) == ["int8 = int16 peak", "fp32 = fp64 peak"]
    # ridge points: one per (distinct peak, memory level), at peak / bandwidth [ops/byte]
    ridges = {gid: line.get_xdata()[0] for gid in gids(fig, "ridge")
              for line in fig.axes[0].get_lines() if line.get_gid() == gid}
    assert ridges == pytest.approx({"ridge|MyBoard-M7|int8=int16|flash": 1.0, "ridge|MyBoard-M7|fp32=fp64|flash": 0.5,
                                    "ridge|MyBoard-M7|int8=int16|SRAM": 0.5, "ridge|MyBoard-M7|fp32=fp64|SRAM": 0.25})


def test_a_ceiling_shared_on_one_device_and_apart_on_another_gets_its_own_style():
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    same = board_spec(fp32=2e9, fp64=2e9)
    apart = board_spec(fp32=2e9, fp64=1e9).model_copy(update={"name": "C"})
    fig = plot_roofline([same, apart])
    assert gids(fig, "ceiling") == ["ceiling|B|fp32=fp64", "ceiling|C|fp32", "ceiling|C|fp64"]
    assert ceiling_labels(fig) == ["fp32 peak", "fp32 = fp64 peak", "fp64 peak"]
    legend = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_legend().get_lines()}
    assert len({legend[label] for label in ceiling_labels(fig)}) == 3
    drawn = {line.get_gid(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert drawn["ceiling|B|fp32=fp64"] == legend["fp32 = fp64 peak"]
    assert drawn["ceiling|C|fp32"] == legend["fp32 peak"] and drawn["ceiling|C|fp64"] == legend["fp64 peak"]


def test_only_equal_peaks_are_merged_and_dtypes_filter_first():
    plot_roofline = pytest.importorskip("rooflinekit.plots").plot_roofline
    # the same number reached by other arithmetic (0.1 + 0.2 != 0.3 in binary) is equal; 0.1 % apart is not
    assert (0.1 + 0.2) * 1e9 != 0.3e9
    assert gids(plot_roofline(board_spec(int8=(0.1 + 0.2) * 1e9, int16=0.3e9)), "ceiling") == ["ceiling|B|int8=int16"]
    assert gids(plot_roofline(board_spec(int8=1.001e9, int16=1e9)), "ceiling") == ["ceiling|B|int8",
                                                                                   "ceiling|B|int16"]
    three = board_spec(int2=1e9, int4=1e9, int8=1e9)
    assert ceiling_labels(plot_roofline(three)) == ["int2 = int4 = int8 peak"]
    fig = plot_roofline(three, dtypes=["int8"])
    assert gids(fig, "ceiling") == ["ceiling|B|int8"] and ceiling_labels(fig) == ["int8 peak"]


# --- 3. descriptions in the hardware schema -----------------------------------------------------------------------

def test_every_hardware_field_has_a_description(capsys):
    assert main(["hardware", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == hardware_schema()
    for model in ("HardwareSpec", "MemoryLevel", "ComputeEngine", "Interconnect"):
        for field, entry in schema["$defs"][model]["properties"].items():
            assert len(entry.get("description", "")) > 10, f"{model}.{field}"
    spec = schema["$defs"]["HardwareSpec"]["properties"]
    for field, unit in (("clock_hz", "[Hz]"), ("tdp_w", "[W]"), ("idle_power_w", "[W]"), ("peak_ops_per_s", "ops/s")):
        assert unit in spec[field]["description"], field
    memory = schema["$defs"]["MemoryLevel"]["properties"]
    assert "[bytes]" in memory["capacity_bytes"]["description"]
    assert "[bytes/s]" in memory["bandwidth_bytes_per_s"]["description"]
    assert "on the die" in memory["on_chip"]["description"]
    assert "free text" in spec["family"]["description"]


def test_core_type_description_points_at_where_the_calibrated_cores_are_listed():
    import rooflinekit

    text = hardware_schema()["$defs"]["HardwareSpec"]["properties"]["core_type"]["description"]
    assert "Cortex-M7" in text and "rooflinekit hardware list" in text
    relative = "rooflinekit/calibrations/mlperf_tiny_cortex_m.json"
    assert relative in text
    calibration = json.loads((Path(rooflinekit.__file__).parent.parent / relative).read_text(encoding="utf-8"))
    assert "coefficients.core_family" in text and calibration["coefficients"]["core_family"]


def test_field_descriptions_change_no_validation():
    # the required fields are those the model documents: name, kind, memories and source of a spec; name,
    # capacity, bandwidth and source of a memory level
    schema = hardware_schema()["$defs"]
    assert sorted(schema["HardwareSpec"]["required"]) == ["kind", "memories", "name", "source"]
    assert sorted(schema["MemoryLevel"]["required"]) == ["bandwidth_bytes_per_s", "capacity_bytes", "name", "source"]
    spec = board_spec(int8=1e9)
    level = spec.memories[0]
    assert (level.on_chip, level.stores, level.spill_to) == (False, ("weights", "activations"), None)
    assert (spec.engines, spec.engine_policy, spec.aliases, spec.core_type) == ((), "op_class", (), None)
    with pytest.raises(SpecError, match=r"compute_units: must be greater than or equal to 1"):
        spec.model_copy(update={"compute_units": 0})


# --- 4. time units -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [("250 msec", 0.25), ("19 usec", 19e-6), ("2 sec", 2.0),
                                               ("7 nsec", 7e-9), ("3 \u00b5sec", 3e-6), ("1.5 Sec", 1.5)])
def test_sec_spellings_are_seconds(text, seconds):
    assert parse_quantity(text, "s") == seconds


def test_an_unknown_unit_gives_examples_of_the_dimension_asked_for():
    with pytest.raises(UnitError, match=r"unknown unit 'fortnights'; write e\.g\. '2 s', '1 ms', '5 us'$"):
        parse_quantity("3 fortnights", "s")
    with pytest.raises(UnitError, match=r"unknown unit 'furlongs'; write e\.g\. '512 KiB', '4 GB'$"):
        parse_quantity("3 furlongs", "bytes")
    with pytest.raises(UnitError, match=r"unknown unit 'kcal'; write e\.g\. '3 mJ'$"):
        parse_quantity("3 kcal", "j")
    with pytest.raises(UnitError, match=r"'2 MHz' is in hz, expected s; write e\.g\. '2 s', '1 ms', '5 us'"):
        parse_quantity("2 MHz", "s")  # a known unit of another dimension: unchanged wording


def test_units_option_takes_usec_and_names_time_units_for_latency(tmp_path, capsys):
    assert unit_factor("latency_s", "usec") == 1e-6 and unit_factor("latency_s", "msec") == 1e-3
    with pytest.raises(UnitError, match=r"unit 'parsecs' for latency_s: unknown unit 'parsecs'; write e\.g\. '2 s', "
                                        r"'1 ms', '5 us'$"):
        unit_factor("latency_s", "parsecs")
    runs = tmp_path / "runs.csv"
    runs.write_text("hardware,network,latency\nNUCLEO-L4R5ZI,kws,250\n", encoding="utf-8")
    result = load_table(runs, columns={"latency": "latency_s"}, units={"latency_s": "msec"})
    assert result.records.latency_s.iloc[0] == pytest.approx(0.25)
    assert main(["align", str(runs), "--columns", "latency=latency_s", "--units", "latency_s=furlongs"]) != 0
    err = capsys.readouterr().err
    assert "unknown unit 'furlongs'; write e.g. '2 s', '1 ms', '5 us'" in err and "TOPS" not in err


def test_a_header_stating_msec_is_a_stated_unit():
    # before 'msec' was a unit, a column 'latency_msec' was read as seconds without a word
    assert stated_unit("latency_msec", "latency_s") == ("msec", 1e-3)
    assert stated_unit("latency [usec]", "latency_s") == ("usec", 1e-6)
