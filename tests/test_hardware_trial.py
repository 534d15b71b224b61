"""A hardware architect's trial: devices the catalog lacks, described as the README says, and the spec mistakes a
user makes. Expected values are derived by hand in each test (latency = ops / peak, bytes / bandwidth)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import rooflinekit as rk
from rooflinekit.catalog import load_hardware_file
from rooflinekit.descriptors import AggregateNetwork, ComputeEngine, DType, HardwareSpec, MemoryLevel
from rooflinekit.errors import SpecError, UnitError
from rooflinekit.units import _EXAMPLES, parse_quantity


def quiet_predict(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rk.CapacityWarning)
        return rk.predict(*args, **kwargs)


def aggregate(ops: float, params: float) -> AggregateNetwork:
    """An int8 network known by totals: ``ops`` per frame and ``params`` weights of one byte each."""
    return AggregateNetwork(name="agg", task="test", precision="int8", ops_per_frame=ops, params=params, source="t")


def one_engine(**engine: object) -> dict:
    """A one-level device dict whose single engine is ``engine`` (name, peaks and source filled in)."""
    return {"name": "dev", "kind": "NPU", "source": "t",
            "engines": [{"name": "E", "peak_ops_per_s": {"int8": 1e12}, "source": "t", **engine}],
            "memories": [{"name": "DDR", "capacity_bytes": 4e9, "bandwidth_bytes_per_s": 1e12, "source": "t"}]}


# ------------------------------------------------------------------------------------------------ op_classes

def test_an_op_kind_in_op_classes_is_refused_naming_its_class():
    # 'matmul' is an op kind (of class gemm): accepted before, the engine then ran no fully-connected layer at all
    with pytest.raises(SpecError, match=r"engines\.0\.op_classes\.1: 'matmul' is an op kind, of op class 'gemm'; "
                                        r"op_classes lists op classes: conv, depthwise, gemm") as info:
        HardwareSpec.model_validate(one_engine(op_classes=["conv", "matmul"]))
    assert info.value.field == "engines.0.op_classes.1"
    with pytest.raises(SpecError, match=r"unknown op class 'convolution'"):
        HardwareSpec.model_validate(one_engine(op_classes=["convolution"]))


def test_op_classes_in_any_case_are_the_classes():
    engine = ComputeEngine(name="E", peak_ops_per_s={"int8": 1e12}, op_classes=["Conv", " GEMM "], source="t")
    assert engine.op_classes == ("conv", "gemm")
    assert engine.runs("gemm", DType.INT8) and not engine.runs("pool", DType.INT8)


def test_npu_with_gemm_runs_the_fully_connected_layers():
    # Hailo-8-like: an int8 NPU for conv and gemm layers, a host CPU for the rest
    spec = HardwareSpec.model_validate({
        "name": "hailo-like", "kind": "NPU", "source": "t",
        "engines": [{"name": "NPU", "peak_ops_per_s": {"int8": "26 TOPS"}, "op_classes": ["conv", "gemm"],
                     "source": "t"},
                    {"name": "CPU", "peak_ops_per_s": {"int8": "200 GOPS"}, "source": "t"}],
        "memories": [{"name": "DDR", "capacity_bytes": "8 GB", "bandwidth_bytes_per_s": "20 GB/s", "source": "t"}]})
    layers = quiet_predict("LeNet-MNIST", spec, precision="int8", mode="layer").layers.set_index("name")
    # fc1: 576 inputs x 120 outputs = 69,120 MACs = 138,240 ops, + 120 bias adds = 138,360 ops at 26e12 ops/s
    assert layers.loc["fc1", "engine"] == "NPU"
    assert layers.loc["fc1", "compute_s"] == pytest.approx(138_360 / 26e12)
    assert set(layers.loc[["conv1", "conv2", "fc1", "fc2", "fc3"], "engine"]) == {"NPU"}
    assert set(layers.loc[["avg_pool_2", "avg_pool_5"], "engine"]) == {"CPU"}


# ------------------------------------------------------------------------------------------------ kernel overhead

def test_kernel_overhead_takes_a_unit_and_adds_per_kernel():
    spec = HardwareSpec.model_validate(one_engine(kernel_overhead_s="5 us"))
    assert spec.engines[0].kernel_overhead_s == pytest.approx(5e-6)
    # one kernel: max(1.2e9 ops / 1e12, 4e6 B / 1e12 B/s) + 5 us = 1.2 ms + 5 us
    p = quiet_predict(aggregate(1.2e9, 4e6), spec)
    assert p.latency_s == pytest.approx(1.2e9 / 1e12 + 5e-6)


@pytest.mark.parametrize("overhead", [float("inf"), float("nan"), -1.0, "-2 us"])
def test_kernel_overhead_must_be_finite_and_not_negative(overhead):
    with pytest.raises(SpecError, match=r"engines\.0\.kernel_overhead_s: must be a finite number >= 0, got"):
        HardwareSpec.model_validate(one_engine(kernel_overhead_s=overhead))


def test_interconnect_latency_still_takes_a_unit_and_refuses_negatives():
    base = {"name": "NVLink", "devices": 8, "bandwidth_bytes_per_s": "450 GB/s", "source": "t"}
    spec = HardwareSpec.model_validate({**one_engine(), "interconnect": {**base, "latency_s": "1 us"}})
    assert spec.interconnect is not None and spec.interconnect.latency_s == pytest.approx(1e-6)
    with pytest.raises(SpecError, match=r"interconnect\.latency_s: must be a finite number >= 0, got -1"):
        HardwareSpec.model_validate({**one_engine(), "interconnect": {**base, "latency_s": -1}})


# ------------------------------------------------------------------------------------------------ spill_to

def edge_tpu(usb_stores: list[str] | None) -> HardwareSpec:
    """An Edge-TPU-like accelerator: 4 TOPS int8, an 8 MB on-chip cache at 100 GB/s spilling to a 400 MB/s USB
    link; ``usb_stores`` None leaves the link's ``stores`` at its default (weights and activations)."""
    usb = {"name": "USB", "capacity_bytes": "8 GB", "bandwidth_bytes_per_s": "400 MB/s", "source": "t"}
    if usb_stores is not None:
        usb["stores"] = usb_stores
    return HardwareSpec.model_validate({
        "name": "etpu-like", "kind": "TPU", "peak_ops_per_s": {"int8": "4 TOPS"}, "source": "t",
        "memories": [{"name": "cache", "capacity_bytes": "8 MB", "bandwidth_bytes_per_s": "100 GB/s",
                      "on_chip": True, "spill_to": "USB", "source": "t"}, usb]})


@pytest.mark.parametrize("usb_stores", [None, ["weights"], []])
def test_weights_that_fit_stay_in_the_spilling_cache(usb_stores):
    # before, a link that also stores weights (its default) took them all: 4e6 B / 400e6 B/s = 10 ms
    spec = edge_tpu(usb_stores)
    assert spec.memory_for("weights").name == "cache"
    # 4 MB of weights fit in the 8 MB cache: max(1.2e9 / 4e12 = 300 us, 4e6 / 100e9 = 40 us) = 300 us
    p = quiet_predict(aggregate(1.2e9, 4e6), spec)
    assert p.latency_s == pytest.approx(1.2e9 / 4e12)
    assert p.bound == "compute" and p.fits


@pytest.mark.parametrize("usb_stores", [None, ["weights"], []])
def test_weights_beyond_the_cache_stream_from_the_link(usb_stores):
    # 20 MB of weights: 8 MB stay in the cache, 12 MB stream over USB: 12e6 / 400e6 = 30 ms > 5 ms of compute
    p = quiet_predict(aggregate(20e9, 20e6), edge_tpu(usb_stores))
    assert p.latency_s == pytest.approx(12e6 / 400e6)
    assert p.bound == "memory:USB" and p.fits
    assert any("streamed from USB" in note for note in p.notes)


def test_spill_to_from_a_level_without_weights_is_refused():
    spec = edge_tpu([]).model_dump()
    spec["memories"][0]["stores"] = ["activations"]
    spec["memories"][1]["stores"] = ["weights"]
    with pytest.raises(SpecError, match=r"memory level 'cache': spill_to 'USB' streams the weights that do not fit, "
                                        r"but the level does not store weights"):
        HardwareSpec.model_validate(spec)


def test_spill_loop_is_refused():
    spec = edge_tpu([]).model_dump()
    spec["memories"][1]["stores"] = ["weights"]
    spec["memories"][1]["spill_to"] = "cache"
    with pytest.raises(SpecError, match=r"memory levels spill in a loop \(cache -> USB -> cache\)"):
        HardwareSpec.model_validate(spec)


# ------------------------------------------------------------------------------------------------ model_copy

def test_model_copy_validates_the_update():
    spec = edge_tpu([])
    faster = spec.model_copy(update={"peak_ops_per_s": {"int8": "8 TOPS"}})
    assert faster.peak_ops_per_s == {DType.INT8: 8e12}
    # 1.2e9 ops at 8e12 ops/s = 150 us (before, the string was kept and the prediction failed)
    assert quiet_predict(aggregate(1.2e9, 4e6), faster).latency_s == pytest.approx(1.2e9 / 8e12)
    with pytest.raises(SpecError, match=r"tdp_w: must be a positive finite number, got -1"):
        spec.model_copy(update={"tdp_w": -1})
    with pytest.raises(SpecError, match=r"bandwith: unknown field"):
        spec.model_copy(update={"bandwith": 1e9})
    with pytest.raises(SpecError, match=r"capacity_bytes: must be a positive finite number, got 0"):
        spec.memories[0].model_copy(update={"capacity_bytes": 0})
    assert spec.model_copy(update={"name": spec.name}) == spec and spec.model_copy() == spec


def test_model_copy_with_new_engines_sums_their_peaks():
    orin_like = HardwareSpec.model_validate({
        "name": "orin-like", "kind": "GPU", "engine_policy": "batch_split", "source": "t",
        "engines": [{"name": "GPU", "peak_ops_per_s": {"int8": "170 TOPS"}, "source": "t"},
                    {"name": "DLA0", "peak_ops_per_s": {"int8": "52 TOPS"}, "source": "t"},
                    {"name": "DLA1", "peak_ops_per_s": {"int8": "52 TOPS"}, "source": "t"}],
        "memories": [{"name": "LPDDR5", "capacity_bytes": "32 GB", "bandwidth_bytes_per_s": "204.8 GB/s",
                      "source": "t"}]})
    assert orin_like.peak_ops_per_s == {DType.INT8: 274e12}  # 170 + 52 + 52 TOPS
    gpu_only = orin_like.model_copy(update={"engines": orin_like.engines[:1]})
    assert gpu_only.peak_ops_per_s == {DType.INT8: 170e12}
    with pytest.raises(SpecError, match=r"with engines, peak_ops_per_s is the sum of the engines' peaks"):
        orin_like.model_copy(update={"peak_ops_per_s": {"int8": 1e12}})


def test_memory_level_copy_keeps_units_parsed():
    level = MemoryLevel(name="SRAM", capacity_bytes="512 KiB", bandwidth_bytes_per_s="6.4 GB/s", source="t")
    assert level.model_copy(update={"capacity_bytes": "1 MiB"}).capacity_bytes == 2.0**20


# ------------------------------------------------------------------------------------------------ YAML files

SPEC_YAML = """\
hardware:
  - name: My-NPU
    kind: NPU
    peak_ops_per_s:
      int8: 26 TOPS
    memories:
      - name: LPDDR4
        capacity_bytes: 4 GB
        bandwidth_bytes_per_s: 12.8 GB/s
        source: t
    source: t
"""


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path):
    path = tmp_path / "dup.yaml"
    path.write_text(SPEC_YAML.replace("        bandwidth_bytes_per_s: 12.8 GB/s\n",
                                      "        bandwidth_bytes_per_s: 12.8 GB/s\n"
                                      "        bandwidth_bytes_per_s: 1.28 GB/s\n"))
    # before, the second value (1.28 GB/s) silently replaced the first
    with pytest.raises(SpecError, match=r"^dup\.yaml: key 'bandwidth_bytes_per_s' is given twice in one mapping "
                                        r"\(lines 9 and 10\); YAML would keep only the last"):
        load_hardware_file(path)
    path.write_text(SPEC_YAML)
    assert load_hardware_file(path)[0].memories[0].bandwidth_bytes_per_s == 12.8e9


def test_a_tab_indent_is_named(tmp_path: Path):
    path = tmp_path / "tabs.yaml"
    path.write_text(SPEC_YAML.replace("    kind: NPU\n", "\tkind: NPU\n"))
    with pytest.raises(SpecError, match=r"^tabs\.yaml: line 3 is indented with a tab; YAML indents with spaces only"):
        load_hardware_file(path)


def test_a_spec_outside_the_hardware_list_says_how_to_nest_it(tmp_path: Path):
    body = SPEC_YAML.removeprefix("hardware:\n  - ")
    bare = tmp_path / "bare.yaml"
    bare.write_text(body.replace("\n    ", "\n"))
    with pytest.raises(SpecError, match=r"^bare\.yaml: the file is one spec without the top-level 'hardware:' list; "
                                        r"put 'hardware:' on the first line"):
        load_hardware_file(bare)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(SPEC_YAML.replace("  - name: My-NPU", "    name: My-NPU"))
    with pytest.raises(SpecError, match=r"^mapping\.yaml: 'hardware:' holds one mapping, not a list of specs; start "
                                        r"each spec with '- '"):
        load_hardware_file(mapping)


def test_merge_keys_are_not_duplicates(tmp_path: Path):
    path = tmp_path / "anchors.yaml"
    path.write_text("level: &level\n  capacity_bytes: 1 GB\n  bandwidth_bytes_per_s: 1 GB/s\n  source: t\n"
                    "hardware:\n  - name: A\n    kind: NPU\n    peak_ops_per_s: {int8: 1 TOPS}\n    memories:\n"
                    "      - <<: *level\n        name: D\n      - <<: *level\n        name: E\n    source: t\n")
    spec = load_hardware_file(path)[0]
    assert [m.name for m in spec.memories] == ["D", "E"] and spec.memories[1].capacity_bytes == 1e9


# ------------------------------------------------------------------------------------------------ units

@pytest.mark.parametrize("text", ["26 TMACs", "26 Tops", "26 TOP"])
def test_a_count_where_a_rate_is_expected_says_how_to_write_it(text):
    with pytest.raises(UnitError, match=rf"'{text}' is in ops, expected ops_per_s; write e\.g\. '26 TOPS', "
                                        r"'26 TOP/s', '13 TMAC/s'"):
        parse_quantity(text, "ops_per_s")


def test_every_suggested_unit_parses_to_its_dimension():
    for dimension, examples in _EXAMPLES.items():
        for example in examples.split(", "):
            assert parse_quantity(example.strip("'"), dimension) > 0


# ------------------------------------------------------------------------------------------------ peak tables

@pytest.mark.parametrize(("peaks", "first", "second", "dtype"), [
    ({"int8": "26 TOPS", "INT8": "13 TOPS"}, "int8", "INT8", "int8"),
    ({"fp16": 1e12, "half": 2e12}, "fp16", "half", "fp16"),
])
def test_two_spellings_of_one_data_type_are_refused(peaks, first, second, dtype):
    # before, the last spelling silently replaced the first peak
    with pytest.raises(SpecError, match=rf"engines\.0\.peak_ops_per_s: '{first}' and '{second}' both name {dtype}; "
                                        r"keep one"):
        HardwareSpec.model_validate(one_engine(peak_ops_per_s=peaks))


# ------------------------------------------------------------------------------------------------ grids

def test_a_one_engine_template_grid_keeps_its_kernel_overhead():
    from rooflinekit.roofline import HardwareGrid

    # a hypothetical accelerator described with one engine (for its 5 us per kernel), swept over its int8 peak;
    # before, only templates without engines were accepted, so no grid point could carry a kernel overhead
    template = HardwareSpec.model_validate(one_engine(kernel_overhead_s="5 us"))
    grid = HardwareGrid.of(template, peak_ops_per_s={"int8": [1e12, 4e12]}, clock_scale=[0.5, 1.0])
    table = rk.sweep([aggregate(1e9, 1e6)], [grid])
    # points (peak, clock): (1e12, 0.5), (1e12, 1), (4e12, 0.5), (4e12, 1); one kernel: 1e9 / (peak x clock) + 5 us
    # (the weights, 1e6 B at 1e12 B/s = 1 us, never bind)
    expected = [1e9 / 0.5e12 + 5e-6, 1e9 / 1e12 + 5e-6, 1e9 / 2e12 + 5e-6, 1e9 / 4e12 + 5e-6]
    assert table["latency_s"].tolist() == pytest.approx(expected)
    point = grid.spec(2)
    assert point.engines[0].peak_ops_per_s == {DType.INT8: 2e12} == point.peak_ops_per_s
    assert point.engines[0].kernel_overhead_s == pytest.approx(5e-6)
    assert quiet_predict(aggregate(1e9, 1e6), point).latency_s == pytest.approx(expected[2])


def test_a_grid_of_two_engines_is_still_refused():
    from rooflinekit.roofline import HardwareGrid

    two = one_engine()
    two["engines"].append({"name": "F", "peak_ops_per_s": {"int8": 1e11}, "source": "t"})
    with pytest.raises(SpecError, match="a hardware grid needs a single-engine template"):
        HardwareGrid.of(HardwareSpec.model_validate(two), clock_scale=[1.0])


@pytest.mark.parametrize("text", ["5 \u03bcs", "5 \u00b5s", "5 us"])
def test_micro_in_every_spelling(text):
    # the Greek mu (U+03BC) of pasted datasheet text was refused before; the micro sign (U+00B5) was accepted
    assert parse_quantity(text, "s") == pytest.approx(5e-6)
    spec = HardwareSpec.model_validate(one_engine(kernel_overhead_s=text))
    assert spec.engines[0].kernel_overhead_s == pytest.approx(5e-6)


def test_an_unparsable_quantity_shows_an_example_of_its_own_dimension():
    with pytest.raises(UnitError, match=r"cannot parse '2,5 W' as a quantity of w; write e\.g\. '2\.5 W'$"):
        parse_quantity("2,5 W", "w")
