"""Checks of the bundled hardware catalog (hardware_specs/*.yaml).

The QuTiBench and MLPerf Tiny checks read the raw data under ``<workspace>/shared/data`` (two levels above this
file's repository) and are skipped when that folder is absent.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from rooflinekit.catalog import HardwareCatalog, normalize_name
from rooflinekit.descriptors.dtypes import DType
from rooflinekit.descriptors.hardware import HardwareKind
from rooflinekit.errors import UnknownNameError

REPO = Path(__file__).resolve().parents[1]
HARDWARE_DIR = REPO / "hardware_specs"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
QUTIBENCH_DIR = SHARED_DATA / "qutibench"
MLPERF_TINY_DIR = SHARED_DATA / "mlperf_tiny" / "results"

QUTIBENCH_NAMES = (
    "Ultra96-DPU", "ZCU104-DPU", "ZCU102-DPU", "ZCU104-FINN", "ZCU104-BISMO", "TX2-maxn", "TX2-maxp", "TX2-maxq",
    "EdgeTPU-fast", "EdgeTPU-slow", "NCS", "U96-Quadcore-A53",
)
# hardware_platforms.csv spelling -> canonical catalog name (written out independently of the YAML files)
CSV_TO_CANONICAL = {
    "Ultra96-DPU": "Ultra96-DPU", "ZCU104-DPU": "ZCU104-DPU", "ZCU102-DPU": "ZCU102-DPU",
    "ZCU104-FINN": "ZCU104-FINN", "ZCU104-BISMO": "ZCU104-BISMO", "TX2 - maxn": "TX2-maxn",
    "TX2 - maxp": "TX2-maxp", "TX2 - maxq": "TX2-maxq", "EdgeTPU-fast": "EdgeTPU-fast",
    "EdgeTPU-slow": "EdgeTPU-slow", "NCS (MyriadX)": "NCS", "U96-Quadcore A53-INT8": "U96-Quadcore-A53",
}
# other spellings of QuTiBench README section 6 and of the other QuTiBench files
OTHER_QUTIBENCH_SPELLINGS = {
    "NCS2": "NCS", "MYRIAD": "NCS", "NCS": "NCS",
    "ZCU104-Bismo": "ZCU104-BISMO", "ZCU104 BISMO": "ZCU104-BISMO",
    "U96-Quadcore-A53": "U96-Quadcore-A53", "U96-Quadcore A53": "U96-Quadcore-A53",
    "EdgeTPU fast": "EdgeTPU-fast", "EdgeTPU fast INT8": "EdgeTPU-fast", "TPU-fast": "EdgeTPU-fast",
    "TPU-fast clk": "EdgeTPU-fast", "TPU-fast-INT8": "EdgeTPU-fast", "TPU-slow clk": "EdgeTPU-slow",
    "EdgeTPU slow": "EdgeTPU-slow", "TPU-slow": "EdgeTPU-slow",
    "TX2-maxn": "TX2-maxn", "TX2 maxn": "TX2-maxn", "TX2 maxn FP16": "TX2-maxn", "TX2 maxq FP32": "TX2-maxq",
    "ZCU104 INT8": "ZCU104-DPU", "Ultra96 DPU": "Ultra96-DPU", "Ultra96 DPU INT8": "Ultra96-DPU",
    "Ultra96-INT8": "Ultra96-DPU", "ZCU102 INT8": "ZCU102-DPU",
}
AMBIGUOUS = ("EdgeTPU", "TX2", "TPU", "A100", "H100", "Jetson Orin Nano", "L4")
SEED_MCUS = {"NUCLEO-L496ZG": 80e6, "DISCO-F469NI": 180e6, "NUCLEO-F767ZI": 216e6}
SEED_ALIASES = {
    "F4": "DISCO-F469NI", "F7": "NUCLEO-F767ZI", "NUCLEO_L496ZG": "NUCLEO-L496ZG",
    "DISCO_F469NI": "DISCO-F469NI", "NUCLEO_F767ZI": "NUCLEO-F767ZI",
}
# MLPerf Tiny closed-division 'Board Name' values that this catalog covers -> expected catalog entry
MLPERF_BOARDS = {
    "Nucleo-L4R5ZI": "NUCLEO-L4R5ZI", "NUCLEO-L4R5ZI": "NUCLEO-L4R5ZI",
    "NUCLEO-H7A3ZI-Q": "NUCLEO-H7A3ZI-Q", "NUCLEO-H7A3ZI": "NUCLEO-H7A3ZI-Q",
    "NUCLEO-U575ZI-Q": "NUCLEO-U575ZI-Q", "B_U585I_IOT02A": "B-U585I-IOT02A",
    "DISCO-F746NG": "DISCO-F746NG", "NUCLEO-G0B1RE": "NUCLEO-G0B1RE",
    "nRF5340 DK": "nRF5340 DK", "EK-RA6M4": "EK-RA6M4", "CY8CPROTO-062-4343W": "CY8CPROTO-062-4343W",
    "NUMAKER_M467HJ": "NuMaker-M467HJ", "Raspberry Pi 4B": "Raspberry Pi 4 Model B",
}
# int8 MACs per cycle of the CPU-only Cortex-M rules (SMLAD: 2; M0+: 1); fp32 FMAs per cycle (no FPU: absent)
CORTEX_M_RULES = {
    "Cortex-M4F": (2, 1), "Cortex-M33": (2, 1), "Cortex-M7": (2, 1), "Cortex-M0+": (1, None),
}


@pytest.fixture(scope="module")
def catalog() -> HardwareCatalog:
    return HardwareCatalog.from_dir(HARDWARE_DIR)


def _needs(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def _read_hardware_csv() -> list[dict[str, str]]:
    path = _needs(QUTIBENCH_DIR) / "hardware_platforms.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row for row in rows if row["Hardware Platforms"].strip()]  # row 2 holds the units


def _csv_number(cell: str) -> float | None:
    cell = cell.strip()
    return None if cell.lower() == "na" or not cell else float(cell)


def test_catalog_loads_and_names_are_unique(catalog):
    names = [normalize_name(s.name) for s in catalog.specs]
    assert len(names) == len(set(names))
    assert len(catalog.specs) >= 12 + 3 + 10 + 10


@pytest.mark.parametrize("name", QUTIBENCH_NAMES)
def test_qutibench_names_exist(catalog, name):
    assert catalog.get(name).name == name


def test_qutibench_prediction_row_prefixes_resolve(catalog):
    path = _needs(QUTIBENCH_DIR) / "performance_predictions_imagenet_mnist_cifar.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        prefixes = {row[0].rsplit("_", 1)[0] for row in list(csv.reader(handle))[1:] if row and row[0]}
    assert prefixes == set(QUTIBENCH_NAMES)
    for prefix in prefixes:
        assert catalog.get(prefix).name == prefix


def test_qutibench_numbers_equal_hardware_platforms_csv(catalog):
    rows = _read_hardware_csv()
    assert len(rows) == 12
    columns = {"INT2": DType.INT2, "INT4": DType.INT4, "INT8": DType.INT8, "FP16": DType.FP16, "FP32": DType.FP32}
    for row in rows:
        csv_name = row["Hardware Platforms"]
        spec = catalog.get(csv_name)
        assert spec.name == CSV_TO_CANONICAL[csv_name]
        assert csv_name in spec.aliases or csv_name == spec.name
        for column, dtype in columns.items():
            value = _csv_number(row[column])
            if value is None:
                assert dtype not in spec.peak_ops_per_s, f"{spec.name}: {dtype.value} is 'na' in the CSV"
            else:
                assert spec.peak(dtype) == pytest.approx(value * 1e12, rel=1e-12), (spec.name, dtype)
        dram = spec.memory_for("weights")
        assert dram is spec.memory_for("activations")
        assert not dram.on_chip
        assert dram.bandwidth_bytes_per_s == pytest.approx(float(row["Memory Bandwidth"]) * 1e9, rel=1e-12)
        assert dram.capacity_bytes == pytest.approx(float(row["Memory Capacity"]) * 1e9, rel=1e-12)
        power = _csv_number(row["Power"])
        if power is None:
            assert spec.tdp_w is None
        else:
            assert spec.tdp_w == pytest.approx(power)
        assert "hardware_platforms.csv" in spec.source


def test_qutibench_roofline_file_agrees(catalog):
    """peakPerfBandHardPlatf.csv: '<platform> <DTYPE>', peak TOP/s, bandwidth TB/s (blank for the A53)."""
    path = _needs(QUTIBENCH_DIR) / "peakPerfBandHardPlatf.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    for row in rows:
        spec = catalog.get(row["Name"])
        dtype = DType.parse(row["Name"].split()[-1])
        assert spec.peak(dtype) == pytest.approx(float(row["Peak_Performance"]) * 1e12, rel=1e-12)
        if row["Bandwidth"].strip():
            bandwidth = spec.memory_for("weights").bandwidth_bytes_per_s
            assert bandwidth == pytest.approx(float(row["Bandwidth"]) * 1e12, rel=1e-9)


def test_every_qutibench_spelling_resolves(catalog):
    for row in _read_hardware_csv():
        assert catalog.get(row["Hardware Platforms"]).name == CSV_TO_CANONICAL[row["Hardware Platforms"]]
    for spelling, canonical in OTHER_QUTIBENCH_SPELLINGS.items():
        assert catalog.get(spelling).name == canonical, spelling
    overview = _needs(QUTIBENCH_DIR) / "overview_experiments_imagenet.csv"
    with overview.open(newline="", encoding="utf-8") as handle:
        platforms = [row["Platform"] for row in csv.DictReader(handle) if row.get("Platform")]
    assert len(platforms) == 12
    assert {catalog.get(p).name for p in platforms} == set(QUTIBENCH_NAMES)


@pytest.mark.parametrize("name", AMBIGUOUS)
def test_ambiguous_names_do_not_resolve(catalog, name):
    with pytest.raises(UnknownNameError):
        catalog.get(name)


def test_qutibench_kinds(catalog):
    expected = {"Ultra96-DPU": "FPGA", "ZCU104-DPU": "FPGA", "ZCU102-DPU": "FPGA", "ZCU104-FINN": "FPGA",
                "ZCU104-BISMO": "FPGA", "TX2-maxn": "GPU", "TX2-maxp": "GPU", "TX2-maxq": "GPU",
                "EdgeTPU-fast": "TPU", "EdgeTPU-slow": "TPU", "NCS": "VPU", "U96-Quadcore-A53": "CPU"}
    for name, kind in expected.items():
        assert catalog.get(name).kind == HardwareKind(kind)


def test_seed_mcu_boards(catalog):
    for name, clock in SEED_MCUS.items():
        spec = catalog.get(name)
        assert spec.kind is HardwareKind.MCU
        assert spec.clock_hz == pytest.approx(clock)
    for alias, name in SEED_ALIASES.items():
        assert catalog.get(alias).name == name
    assert catalog.get("NUCLEO-L496ZG").core_type == "Cortex-M4F"
    assert catalog.get("DISCO-F469NI").core_type == "Cortex-M4F"
    assert catalog.get("NUCLEO-F767ZI").core_type == "Cortex-M7"


def test_counts(catalog):
    qutibench = set(QUTIBENCH_NAMES)
    mcus = [s for s in catalog.specs if s.kind is HardwareKind.MCU]
    assert set(SEED_MCUS) <= {s.name for s in mcus}
    assert len([s for s in mcus if s.name not in SEED_MCUS]) >= 10
    others = [s for s in catalog.specs if s.kind is not HardwareKind.MCU and s.name not in qutibench]
    assert len(others) >= 10


def test_every_spec_and_memory_level_has_a_source(catalog):
    for spec in catalog.specs:
        assert spec.source.strip(), spec.name
        for level in spec.memories:
            assert level.source.strip(), (spec.name, level.name)


def test_peaks_are_positive_and_dense(catalog):
    for spec in catalog.specs:
        assert spec.peak_ops_per_s, spec.name
        assert all(value > 0 for value in spec.peak_ops_per_s.values()), spec.name


def test_mcu_memory_placement_and_peaks(catalog):
    for spec in (s for s in catalog.specs if s.kind is HardwareKind.MCU and not s.engines):
        weights, activations = spec.memory_for("weights"), spec.memory_for("activations")
        assert weights.on_chip and activations.on_chip, spec.name
        assert weights.stores == ("weights",) and activations.stores == ("activations",), spec.name
        assert weights.capacity_bytes > activations.capacity_bytes, spec.name
        assert spec.core_type in CORTEX_M_RULES, spec.name
        macs, fmas = CORTEX_M_RULES[spec.core_type]
        assert spec.peak("int8") == pytest.approx(2 * macs * spec.clock_hz), spec.name
        if fmas is None:
            assert DType.FP32 not in spec.peak_ops_per_s, spec.name
        else:
            assert spec.peak("fp32") == pytest.approx(2 * fmas * spec.clock_hz), spec.name
        sram_bytes_per_cycle = 8 if spec.core_type == "Cortex-M7" else 4
        assert activations.bandwidth_bytes_per_s == pytest.approx(sram_bytes_per_cycle * spec.clock_hz), spec.name
        assert spec.notes, spec.name


def test_mcu_with_npu_engines():
    # STM32N6: Cortex-M55 Helium (dual-beat: 8 int8, 2 fp32 MACs per cycle) at 800 MHz beside a 600 GOPS NPU;
    # weights in external xSPI flash, activations in the 4.2 MB on-chip SRAM; the device peak is the sum
    spec = HardwareCatalog.from_dir().get("STM32N6570-DK")
    npu, cpu = spec.engines
    assert cpu.peak_ops_per_s[DType.INT8] == pytest.approx(2 * 8 * 800e6)
    assert cpu.peak_ops_per_s[DType.FP32] == pytest.approx(2 * 2 * 800e6)
    assert spec.peak("int8") == pytest.approx(600e9 + 2 * 8 * 800e6)
    assert not spec.memory_for("weights").on_chip and spec.memory_for("activations").on_chip
    assert "norm" not in npu.op_classes and not cpu.op_classes


def test_non_mcu_devices_keep_tensors_off_chip(catalog):
    for spec in (s for s in catalog.specs if s.kind is not HardwareKind.MCU):
        assert not spec.memory_for("weights").on_chip, spec.name
        assert not spec.memory_for("activations").on_chip, spec.name


def test_dense_datasheet_peaks(catalog):
    a100 = catalog.get("A100 80GB")
    assert a100.peak("int8") == pytest.approx(624e12)
    assert a100.peak("fp16") == pytest.approx(312e12)
    assert a100.peak("fp32") == pytest.approx(19.5e12)
    assert catalog.get("H100 SXM").peak("int8") == pytest.approx(1979e12)
    assert catalog.get("T4").peak("int8") == pytest.approx(130e12)
    pi5 = catalog.get("RPi5")
    assert pi5.core_type == "Cortex-A76" and pi5.clock_hz == pytest.approx(2.4e9)


# --- MLPerf Tiny ------------------------------------------------------------------------------------------------

def _field(text: str, key: str) -> str | None:
    """One string field of a system JSON; read with a regex because several files are not valid JSON."""
    match = re.search(r'"' + re.escape(key) + r'"\s*:\s*"([^"]*)"', text)
    return match.group(1).strip() if match else None


def _hertz(text: str) -> float | None:
    match = re.search(r"([\d.]+)\s*([kmg])?hz", text, re.IGNORECASE)
    if not match:
        return None
    factor = {"k": 1e3, "m": 1e6, "g": 1e9, None: 1.0}[match.group(2).lower() if match.group(2) else None]
    return float(match.group(1)) * factor


def _closed_system_files() -> list[Path]:
    files = sorted(_needs(MLPERF_TINY_DIR).glob("v*/closed/*/systems/**/*.json"))
    assert files, "no closed-division system descriptions found"
    return files


def test_mlperf_tiny_closed_systems_resolve(catalog):
    matched: dict[str, set[str]] = {}
    for path in _closed_system_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        board = _field(text, "Board Name")
        assert board, f"{path}: no 'Board Name'"
        try:
            spec = catalog.get(board)
        except UnknownNameError:
            assert board not in MLPERF_BOARDS, f"{path}: board {board!r} should resolve"
            continue
        assert board in MLPERF_BOARDS, f"{path}: {board!r} resolved to {spec.name!r} unexpectedly"
        assert spec.name == MLPERF_BOARDS[board], path
        assert board == spec.name or board in spec.aliases, f"exact spelling {board!r} missing from aliases"
        clock = _hertz(_field(text, "Processor(s) Frequencies") or "")
        assert clock == pytest.approx(spec.clock_hz, rel=1e-3), f"{path}: clock {clock} vs {spec.clock_hz}"
        matched.setdefault(spec.name, set()).add(str(path))
    assert set(matched) == set(MLPERF_BOARDS.values())
    mcu_boards = [name for name in matched if catalog.get(name).kind is HardwareKind.MCU]
    assert len(mcu_boards) >= 10


def test_mlperf_tiny_system_json_fields_are_aliases(catalog):
    """For covered boards, the exact board spelling of every JSON is listed (SoC names where they are correct)."""
    for path in _closed_system_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        board = _field(text, "Board Name")
        if board not in MLPERF_BOARDS:
            continue
        spec = catalog.get(board)
        soc = _field(text, "SoC Name")
        if soc and soc not in ("N/A", ""):
            try:
                owner = catalog.get(soc)
            except UnknownNameError:
                owner = None
            # Plumerai's v1.1 NUCLEO-H7A3ZI-Q description names the U575 SoC by mistake
            if owner is not None and owner is not spec:
                assert spec.name == "NUCLEO-H7A3ZI-Q" and owner.name == "NUCLEO-U575ZI-Q", (path, soc)
            else:
                assert owner is spec, (path, soc)


def test_mlperf_json_files_parse_or_are_known_broken():
    broken = []
    for path in _closed_system_files():
        try:
            json.loads(path.read_text(encoding="utf-8", errors="replace"), strict=False)
        except json.JSONDecodeError:
            broken.append(path.name)
    # the regex reader above is needed for these; make sure it still finds their board names
    for name in broken:
        path = next(p for p in _closed_system_files() if p.name == name)
        assert _field(path.read_text(encoding="utf-8", errors="replace"), "Board Name")


def _small_catalog(tmp_path, monkeypatch):
    """Two of the bundled hardware files in a folder of their own, and a user cache folder under tmp_path."""
    import shutil

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "hardware"
    folder.mkdir()
    for name in ("qutibench_fpga.yaml", "jetson_tx2.yaml"):
        shutil.copy(HARDWARE_DIR / name, folder / name)
    return folder


def test_catalog_index_validates_only_the_spec_asked_for(tmp_path, monkeypatch):
    from rooflinekit import catalog
    from rooflinekit.descriptors import HardwareSpec

    folder = _small_catalog(tmp_path, monkeypatch)
    index = catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate)
    validated = []
    monkeypatch.setattr(catalog, "_validate", lambda path, entries, make, first=0: validated.append(first) or
                        [make(e) for e in entries])
    full = HardwareCatalog.from_dir(folder)
    validated.clear()
    for name in ("ZCU104-DPU", "tx2 - maxn", "TX2 maxn"):  # names and aliases, any spelling
        assert index.find(normalize_name(name)) == full.get(name)
    assert len(validated) == 2  # ZCU104-DPU once, TX2-maxn once (then kept)
    assert index.find(normalize_name("no such board")) is None
    assert list((tmp_path / "cache" / "rooflinekit").glob("hardware-index-*.json"))


def test_catalog_index_cache_is_reused_and_refreshed_when_a_file_changes(tmp_path, monkeypatch):
    from rooflinekit import catalog
    from rooflinekit.descriptors import HardwareSpec

    folder = _small_catalog(tmp_path, monkeypatch)
    catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate).find("zcu104dpu")
    scans = []
    original = catalog.CatalogIndex._scan
    monkeypatch.setattr(catalog.CatalogIndex, "_scan", lambda self, files: scans.append(1) or original(self, files))
    assert catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate).find("zcu104dpu") is not None
    assert scans == []  # read from the cache
    text = (folder / "jetson_tx2.yaml").read_text(encoding="utf-8")
    (folder / "jetson_tx2.yaml").write_text(text.replace("name: TX2-maxn", "name: TX2-renamed", 1), encoding="utf-8")
    fresh = catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate)
    assert fresh.find("tx2renamed").name == "TX2-renamed"
    assert scans == [1]


def test_catalog_index_needs_no_cache(tmp_path, monkeypatch):
    """An unwritable cache folder (here a file) only means the index is rebuilt in memory."""
    from rooflinekit import catalog
    from rooflinekit.descriptors import HardwareSpec

    folder = _small_catalog(tmp_path, monkeypatch)
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    assert catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate).find("zcu104dpu").name == "ZCU104-DPU"


def test_a_lookup_through_a_cached_index_reads_no_yaml(tmp_path, monkeypatch):
    """The index cache keeps each entry as its file gave it: a later process validates it without reading YAML."""
    from rooflinekit import catalog
    from rooflinekit.descriptors import HardwareSpec

    folder = _small_catalog(tmp_path, monkeypatch)
    expected = catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate).find("zcu104dpu")  # the cache

    def no_yaml(path: Path, key: str) -> list[dict]:
        raise AssertionError(f"{path.name} was read")

    monkeypatch.setattr(catalog, "_read_entries", no_yaml)
    assert catalog.CatalogIndex(folder, "hardware", HardwareSpec.model_validate).find("zcu104dpu") == expected


def test_an_entry_json_cannot_hold_exactly_is_not_cached():
    """Such an entry (a YAML date, a number as a key, a NaN) is read from its file at lookup."""
    import datetime as dt

    from rooflinekit import catalog

    plain = {"name": "X", "aliases": ["Y"], "tdp_w": 2.5, "peak_ops_per_s": {"int8": 1e12}, "on_chip": True,
             "notes": None, "count": 3}
    assert catalog._json_exact(plain) == plain
    for entry in ({"name": "X", "source": dt.date(2024, 1, 1)}, {"name": "X", "peaks": {8: 1e12}},
                  {"name": "X", "tdp_w": float("nan")}):
        assert catalog._json_exact(entry) is None


def test_lookups_and_catalog_agree():
    """A lookup through the index returns the very spec the full catalog holds; the catalog's specs are a tuple."""
    from rooflinekit.catalog import get_hardware, get_network, hardware_catalog, network_catalog

    assert get_hardware("ZCU104-DPU") is hardware_catalog().get("ZCU104-DPU")
    assert get_network("ResNet-50 80%") is network_catalog().get("ResNet-50 80%")
    assert isinstance(hardware_catalog().specs, tuple) and isinstance(network_catalog().specs, tuple)


# --- datacenter GPUs for hardware not yet owned: H200, L40S, MI300X ----------------------------------------------


def test_h200_is_an_h100_sxm_with_more_and_faster_memory():
    import rooflinekit as rk

    h100, h200 = rk.get_hardware("H100-SXM5-80GB"), rk.get_hardware("H200")
    assert h200.peak_ops_per_s == h100.peak_ops_per_s  # the same GH100 compute (datasheets: identical Tensor peaks)
    (memory,) = h200.memories
    assert (memory.capacity_bytes, memory.bandwidth_bytes_per_s) == (141e9, 4.8e12)
    # a memory-bound decode step of Llama-2-7B (fp16 weights 13.5 GB) speeds up by the bandwidth ratio 4.8 / 3.35
    steps = [rk.predict_llm("Llama-2-7B", h, batch=1, prompt=128, generate=2).tpot_s for h in (h100, h200)]
    assert steps[0] / steps[1] == pytest.approx(4.8 / 3.35, rel=0.01)


@pytest.mark.parametrize("name,fp16,fp8,bandwidth,capacity", [
    # dense = the datasheets' sparse Tensor figures halved: L40S FP16 733 / 2, FP8 1,466 / 2; MI300X FP16 2,614.9 / 2
    ("L40S", 362.05e12, 733e12, 864e9, 48e9),
    ("MI300X", 1307.4e12, 2614.9e12, 5.3e12, 192e9),
])
def test_new_datacenter_gpus_give_dense_peaks(name, fp16, fp8, bandwidth, capacity):
    import rooflinekit as rk

    spec = rk.get_hardware(name)
    assert spec.peak_ops_per_s[DType.FP16] == fp16 and spec.peak_ops_per_s[DType.FP8] == fp8
    (memory,) = spec.memories
    assert (memory.bandwidth_bytes_per_s, memory.capacity_bytes) == (bandwidth, capacity)
    assert spec.default_precision is DType.FP16


@pytest.mark.filterwarnings("ignore::rooflinekit.CapacityWarning")
def test_llama2_70b_in_fp16_fits_on_one_mi300x_but_not_on_one_h100():
    import rooflinekit as rk

    # 68.98 B parameters x 2 bytes = 138 GB of weights: under 192 GB, over 80 GB
    fits = {name: rk.predict_llm("Llama-2-70B", name, batch=1, prompt=128, generate=1).memory.fits
            for name in ("MI300X", "H100-SXM5-80GB")}
    assert fits == {"MI300X": True, "H100-SXM5-80GB": False}
