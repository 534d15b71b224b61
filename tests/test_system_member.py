"""Multi-device systems name the catalog device they are made of (``interconnect.member``), and loading refuses a
system whose per-device fields differ from that device's.

Expected values come from the datasheets the catalog entries cite, not from the code under test:

- NVIDIA A100 Tensor Core GPU datasheet / architecture whitepaper: INT4 Tensor Core 1,248 TOPS dense (2,496 with
  sparsity), twice the INT8 624 TOPS; the DGX A100 (8 x A100 SXM4 80 GB) therefore has int4 = 1248e12 ops/s per GPU.
- NVIDIA H100 Tensor Core GPU datasheet, PCIe column: TF32 Tensor Core 756 TFLOPS with sparsity, 378 dense; the
  4x H100 PCIe system has tf32 = 378e12 ops/s per GPU.
- DGX H100 = 8 x H100 SXM5 80 GB, DGX A100 80GB = 8 x A100 SXM4 80 GB, 4x H100 PCIe = 4 x H100 PCIe 80 GB (the
  systems' datasheets and user guides).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from rooflinekit.catalog import HARDWARE_DIR, HardwareCatalog, check_member, get_hardware, load_hardware_file
from rooflinekit.compare.calibrate.inference_offline import member_device
from rooflinekit.descriptors import HardwareSpec
from rooflinekit.descriptors.hardware import device_differences
from rooflinekit.errors import SpecError

SYSTEMS = {"DGX H100": "H100-SXM5-80GB", "DGX A100 80GB": "A100-SXM4-80GB", "4x H100 PCIe": "H100-PCIe-80GB"}


def _dumped(name: str) -> dict:
    """The catalog spec ``name`` as a YAML file would hold it."""
    return get_hardware(name).model_dump(mode="json", exclude_none=True)


def _write(path: Path, *specs: dict) -> Path:
    path.write_text(yaml.safe_dump({"hardware": list(specs)}, sort_keys=False), encoding="utf-8")
    return path


# -- the catalog's systems ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("system, device", SYSTEMS.items())
def test_every_catalog_system_names_its_device_and_agrees_with_it(system, device):
    spec = get_hardware(system)
    assert spec.interconnect is not None and spec.interconnect.member == device
    assert device_differences(spec, get_hardware(device)) == []
    assert member_device(spec).name == device


def test_every_system_of_the_catalog_names_a_member():
    from rooflinekit.catalog import hardware_catalog

    systems = {s.name: s.interconnect.member for s in hardware_catalog().specs if s.interconnect is not None}
    assert systems == SYSTEMS


def test_dgx_a100_has_the_a100_int4_peak():
    assert get_hardware("DGX A100 80GB").peak("int4") == 1248e12  # A100 datasheet: INT4 1,248 TOPS dense


def test_4x_h100_pcie_has_the_h100_pcie_tf32_peak():
    assert get_hardware("4x H100 PCIe").peak("tf32") == 378e12  # H100 PCIe datasheet: TF32 756 sparse / 2


# -- a system that differs from its member is refused ---------------------------------------------------------------

def test_a_peak_that_differs_from_the_members_is_refused_naming_it(tmp_path):
    spec = _dumped("DGX A100 80GB")
    spec["peak_ops_per_s"]["int8"] = "600 TOPS"  # the A100's is 624 TOPS
    path = _write(tmp_path / "system.yaml", spec)
    with pytest.raises(SpecError, match=r"^system\.yaml: DGX A100 80GB: peak_ops_per_s\.int8 is 6e\+14 but its "
                                        r"member A100-SXM4-80GB's is 6\.24e\+14; .*copy A100-SXM4-80GB's value") as e:
        load_hardware_file(path)
    assert e.value.field == "peak_ops_per_s.int8"


def test_a_peak_the_member_has_and_the_system_lacks_is_refused(tmp_path):
    spec = _dumped("DGX A100 80GB")
    del spec["peak_ops_per_s"]["int4"]  # the drift this check was made for
    with pytest.raises(SpecError, match=r"peak_ops_per_s\.int4 is not given but its member A100-SXM4-80GB's is "
                                        r"1\.248e\+15") as e:
        load_hardware_file(_write(tmp_path / "system.yaml", spec))
    assert e.value.field == "peak_ops_per_s.int4"


def test_a_peak_the_member_lacks_is_refused(tmp_path):
    spec = _dumped("DGX A100 80GB")
    spec["peak_ops_per_s"]["fp8"] = "1248 TOPS"  # the A100 has no fp8
    with pytest.raises(SpecError, match=r"peak_ops_per_s\.fp8 is 1\.248e\+15 but its member A100-SXM4-80GB's is "
                                        r"not given"):
        load_hardware_file(_write(tmp_path / "system.yaml", spec))


@pytest.mark.parametrize("field, value, message", [
    ("clock_hz", "1.5 GHz", r"clock_hz is 1\.5e\+09 but its member H100-SXM5-80GB's is 1\.98e\+09"),
    ("tdp_w", "650 W", r"tdp_w is 650 but its member H100-SXM5-80GB's is 700"),
    ("family", "Hopper", r"family is 'Hopper' but its member H100-SXM5-80GB's is 'H100'"),
    ("kind", "NPU", r"kind is 'NPU' but its member H100-SXM5-80GB's is 'GPU'"),
])
def test_other_device_fields_that_differ_are_refused(tmp_path, field, value, message):
    spec = _dumped("DGX H100")
    spec[field] = value
    with pytest.raises(SpecError, match=message) as e:
        load_hardware_file(_write(tmp_path / "system.yaml", spec))
    assert e.value.field == field


def test_a_memory_that_differs_is_refused_and_every_difference_is_listed(tmp_path):
    spec = _dumped("DGX H100")
    spec["memories"][0]["bandwidth_bytes_per_s"] = "3 TB/s"  # H100 SXM: 3.35 TB/s
    spec["compute_units"] = 114
    with pytest.raises(SpecError, match=r"memories\.0\.bandwidth_bytes_per_s is 3e\+12 but its member "
                                        r"H100-SXM5-80GB's is 3\.35e\+12 \(also differ: compute_units\)"):
        load_hardware_file(_write(tmp_path / "system.yaml", spec))


def test_a_quantity_written_in_another_unit_agrees(tmp_path):
    spec = _dumped("DGX A100 80GB")
    spec["peak_ops_per_s"]["int4"] = "1.248 POPS"
    spec["memories"][0]["capacity_bytes"] = "80000 MB"
    (loaded,) = load_hardware_file(_write(tmp_path / "system.yaml", spec))
    assert loaded.peak("int4") == pytest.approx(1248e12, rel=1e-12)


def test_source_notes_and_names_may_differ(tmp_path):
    spec = _dumped("DGX H100")
    spec["memories"][0]["source"] = "another source"
    spec.update(name="My DGX", aliases=[], notes="mine", source="mine")
    (loaded,) = load_hardware_file(_write(tmp_path / "system.yaml", spec))
    assert loaded.interconnect.member == "H100-SXM5-80GB"


def test_an_unknown_member_is_refused(tmp_path):
    spec = _dumped("DGX H100")
    spec["interconnect"]["member"] = "H100-SXM9"
    with pytest.raises(SpecError, match=r"DGX H100: interconnect\.member 'H100-SXM9' is not a catalog device") as e:
        load_hardware_file(_write(tmp_path / "system.yaml", spec))
    assert e.value.field == "interconnect.member"


def test_a_member_that_is_itself_a_system_is_refused(tmp_path):
    spec = _dumped("DGX H100")
    spec.update(name="Two DGX", aliases=[])
    spec["interconnect"]["member"] = "DGX H100"
    with pytest.raises(SpecError, match=r"interconnect\.member 'DGX H100' is itself a system of 8 devices; name a "
                                        r"single device"):
        load_hardware_file(_write(tmp_path / "system.yaml", spec))


def test_a_catalog_folder_with_a_drifted_system_fails_to_load(tmp_path):
    folder = tmp_path / "hardware"
    shutil.copytree(HARDWARE_DIR, folder)
    path = folder / "nvidia_multi_gpu.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("      int4: 1248 TOPS\n") == 1
    path.write_text(text.replace("      int4: 1248 TOPS\n", ""), encoding="utf-8")
    with pytest.raises(SpecError, match=r"^nvidia_multi_gpu\.yaml: DGX A100 80GB: peak_ops_per_s\.int4 is not given"):
        HardwareCatalog.from_dir(folder)


def test_a_catalog_folder_finds_the_member_in_itself_first(tmp_path):
    folder = tmp_path / "hardware"
    folder.mkdir()
    device = _dumped("A100-SXM4-80GB") | {"name": "My A100", "aliases": [], "tdp_w": 300.0}
    system = _dumped("DGX A100 80GB") | {"name": "My DGX", "aliases": [], "tdp_w": 300.0}
    system["interconnect"]["member"] = "My A100"
    _write(folder / "mine.yaml", device, system)
    assert HardwareCatalog.from_dir(folder).get("My DGX").interconnect.member == "My A100"


# -- round trips ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("system", SYSTEMS)
def test_a_system_with_a_member_round_trips_through_yaml_and_json(tmp_path, system):
    spec = get_hardware(system)
    assert HardwareSpec.model_validate_json(spec.model_dump_json()) == spec
    (loaded,) = load_hardware_file(_write(tmp_path / "system.yaml", spec.model_dump(mode="json")))
    assert loaded == spec and loaded.interconnect.member == SYSTEMS[system]


# -- member_device --------------------------------------------------------------------------------------------------

def test_member_device_keeps_the_matching_rule_for_a_spec_without_the_field():
    data = _dumped("DGX A100 80GB")
    del data["interconnect"]["member"]
    del data["peak_ops_per_s"]["int4"]  # peaks compared on the types both list
    assert member_device(HardwareSpec.model_validate(data)).name == "A100-SXM4-80GB"


def test_member_device_of_a_copy_that_no_longer_agrees_is_none():
    scaled = get_hardware("DGX H100").model_copy(update={"clock_hz": 2 * 1.98e9})  # a hardware-grid point
    assert scaled.interconnect.member == "H100-SXM5-80GB"
    assert member_device(scaled) is None


def test_member_device_of_an_unknown_member_is_a_spec_error():
    spec = get_hardware("DGX H100")
    link = spec.interconnect.model_copy(update={"member": "H100-SXM9"})
    with pytest.raises(SpecError, match=r"interconnect\.member 'H100-SXM9' is not a catalog device"):
        member_device(spec.model_copy(update={"interconnect": link}))


def test_check_member_returns_the_member_and_refuses_a_spec_without_one():
    assert check_member(get_hardware("4x H100 PCIe")).name == "H100-PCIe-80GB"
    with pytest.raises(SpecError, match=r"H100-PCIe-80GB: names no member device; give interconnect\.member"):
        check_member(get_hardware("H100-PCIe-80GB"))
