"""Errors carry their values as fields and survive pickling; descriptors raise SpecError, never pydantic's
ValidationError; every warning derives from RooflineWarning; the package ships py.typed."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

import rooflinekit
from rooflinekit.catalog import get_hardware, get_network, load_hardware_file, load_network_file
from rooflinekit.descriptors import (AggregateNetwork, HardwareSpec, Layer, LayerNetwork, MemoryLevel, Precision,
                                     TensorSpec)
from rooflinekit.errors import (ModelFileError, RooflineError, RooflineWarning, ShapeError, SpecError,
                                UnknownNameError)
from rooflinekit.importers import load_model

MEMORY = {"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "19.2 GB/s", "source": "datasheet"}
HARDWARE = {"name": "board", "kind": "FPGA", "peak_ops_per_s": {"int8": "4.6 TOPS"}, "memories": [MEMORY],
            "source": "datasheet"}
RELU = {"name": "r", "op": "relu", "inputs": ((1, 4),), "outputs": ((1, 4),)}


# --- fields and pickling ---------------------------------------------------------------------------------------------

def test_unknown_hardware_carries_name_kind_and_suggestions():
    with pytest.raises(UnknownNameError, match=r"^unknown hardware 'ZCU104-DPX'; did you mean ZCU104-DPU") as caught:
        get_hardware("ZCU104-DPX")
    error = caught.value
    assert (error.name, error.kind) == ("ZCU104-DPX", "hardware")
    assert isinstance(error.suggestions, tuple) and error.suggestions[0] == "ZCU104-DPU"


def test_unknown_model_carries_name_kind_and_no_suggestions():
    with pytest.raises(UnknownNameError, match=r"^unknown model 'qqqqqqqq' \(list them with 'rooflinekit models "
                                              r"list'\)$") as caught:
        get_network("qqqqqqqq")
    assert (caught.value.name, caught.value.kind, caught.value.suggestions) == ("qqqqqqqq", "model", ())


def test_missing_model_file_carries_its_path(tmp_path):
    path = tmp_path / "missing.onnx"
    with pytest.raises(ModelFileError, match=r"missing\.onnx: no such model file$") as caught:
        load_model(path)
    assert caught.value.path == path


@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
def test_empty_model_file_carries_its_path(tmp_path, suffix):
    if suffix == ".onnx":
        pytest.importorskip("onnx")
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=rf"empty\{suffix}: the file is empty") as caught:
        load_model(path)
    assert caught.value.path == path


def test_fields_default_so_plain_raises_keep_working():
    assert UnknownNameError("x").suggestions == () and UnknownNameError("x").name is None
    assert ModelFileError("x").path is None
    assert SpecError("x").field is None and SpecError("x").errors == ()
    assert ShapeError("x", layer="conv1", shape=[1, 0]).shape == (1, 0)


@pytest.mark.parametrize("error", [
    UnknownNameError("unknown hardware 'X'", name="X", kind="hardware", suggestions=["Y", "Z"]),
    ModelFileError("m.onnx: no such model file", path=Path("m.onnx")),
    SpecError("bad", field="memories.0.name", errors=[{"loc": ("memories", 0, "name"), "message": "m"}]),
    ShapeError("bad shape", layer="conv1", shape=(1, 0)),
])
def test_errors_pickle_with_their_fields(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert vars(copy) == vars(error)


def test_a_validation_error_pickles_with_its_entries():
    with pytest.raises(SpecError, match="bandwidth_bytes_per_s") as caught:
        HardwareSpec(**HARDWARE | {"memories": [MEMORY | {"bandwidth_bytes_per_s": -1}]})
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), copy.field, copy.errors) == (str(caught.value), caught.value.field, caught.value.errors)


# --- descriptors raise SpecError ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("build", "message", "field"), [
    (lambda: HardwareSpec(**HARDWARE | {"memories": [MEMORY | {"bandwidth_bytes_per_s": -1}]}),
     r"^HardwareSpec 'board': memories\.0\.bandwidth_bytes_per_s: must be a positive finite number, got -1$",
     "memories.0.bandwidth_bytes_per_s"),
    (lambda: HardwareSpec.model_validate(HARDWARE | {"kind": "XPU"}),
     r"^HardwareSpec 'board': kind: must be 'FPGA', 'GPU', .* or 'DSP', got 'XPU'$", "kind"),
    (lambda: HardwareSpec(**HARDWARE | {"flops": 3}),
     r"^HardwareSpec 'board': flops: unknown field; remove it or check its spelling \(the fields are name, kind, ",
     "flops"),
    (lambda: MemoryLevel(**MEMORY | {"capacity_bytes": "-4 GB"}),
     r"^MemoryLevel 'DRAM': capacity_bytes: must be a positive finite number, got '-4 GB'$", "capacity_bytes"),
    (lambda: Layer(name="a", op="relu", inputs=((1, 0),)),
     r"^Layer 'a': inputs: shape dimensions must be positive integers, got \[1, 0\]$", "inputs"),
    (lambda: TensorSpec(shape=(2, "x")),
     r"^TensorSpec: shape\.1: must be a valid integer, unable to parse string as an integer, got 'x'$", "shape.1"),
    (lambda: Precision(weights="int3", activations="int8"),
     r"^Precision: weights: must be 'int1', 'int2', .* or 'bool', got 'int3'$", "weights"),
    (lambda: LayerNetwork(name="n", layers=(Layer(**RELU), Layer(**RELU)), source="s"),
     r"^LayerNetwork 'n': duplicate layer name 'r'; layer names must be unique$", ""),
    (lambda: LayerNetwork(name="n", layers=(), source="s"),
     r"^LayerNetwork 'n': layers: must have at least 1 item, got \(\)$", "layers"),
    (lambda: AggregateNetwork(name="n", ops_per_frame=0, params=1, source="s"),
     r"^AggregateNetwork 'n': ops_per_frame: must be a positive finite number, got 0$", "ops_per_frame"),
    (lambda: AggregateNetwork(name="n", params=1),
     r"^AggregateNetwork 'n': 2 invalid fields\nsource: required field is missing; add it\n"
     r"ops_per_frame: required field is missing; add it$", "source"),
    (lambda: HardwareSpec.model_validate_json('{"name": "b", "kind": "FPGA", "peak_ops_per_s": {"int8": 1e9}, '
                                              '"memories": [], "source": "s"}'),
     r"^HardwareSpec: memories: must have at least 1 item, got \[\]$", "memories"),
])
def test_descriptors_raise_spec_error(build, message, field):
    with pytest.raises(SpecError, match=message) as caught:
        build()
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, RooflineError)
    assert not isinstance(error, ValidationError)
    assert "errors.pydantic.dev" not in str(error) and "Value error," not in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # pydantic's traceback is not chained
    assert error.field == (field or None) and error.errors and error.errors[0]["field"] == field
    assert {"loc", "field", "message", "type", "input"} <= set(error.errors[0])


def test_nested_descriptor_failure_is_reported_once_by_the_outer_one():
    with pytest.raises(SpecError, match=r"^LayerNetwork 'n': layers\.0\.weights\.0\.shape: shape dimensions must be "
                                        r"positive integers, got \[0\]$") as caught:
        LayerNetwork(name="n", layers=[RELU | {"weights": [[0]]}], source="s")
    assert caught.value.errors[0]["loc"] == ("layers", 0, "weights", 0, "shape")


def test_catalog_file_errors_name_file_entry_and_field(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text("hardware:\n  - name: board-x\n    kind: FPGA\n    peak_ops_per_s: {int8: 1 TOPS}\n"
                    "    memories: [{name: DRAM, capacity_bytes: 1 GB, bandwidth_bytes_per_s: -1, source: s}]\n"
                    "    source: s\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"^hw\.yaml: board-x: memories\.0\.bandwidth_bytes_per_s: must be a "
                                        r"positive finite number, got -1$") as caught:
        load_hardware_file(path)
    assert caught.value.field == "memories.0.bandwidth_bytes_per_s"


@pytest.mark.parametrize(("entry", "message", "field"), [
    ("{name: agg, kind: aggregate, ops_per_frame: -1, params: 3, source: s}",
     r"^nets\.yaml: agg: ops_per_frame: must be a positive finite number, got -1$", "ops_per_frame"),
    ("{name: agg, kind: nope}", r"^nets\.yaml: agg: kind: must be one of 'layers', 'aggregate', got 'nope'$", "kind"),
    ("{name: agg, source: s}",
     r"^nets\.yaml: agg: kind: required field is missing; add it with one of 'layers', 'aggregate'$", "kind"),
    ("{kind: layers, source: s, layers: [{name: a, op: relu, extra: 1}]}",
     r"^nets\.yaml: entry 0: 2 invalid fields\nname: required field is missing; add it\nlayers\.0\.extra: unknown "
     r"field; remove it or check its spelling \(the fields are name, op, ", "name"),
])
def test_network_catalog_entries_validated_through_the_union(tmp_path, entry, message, field):
    path = tmp_path / "nets.yaml"
    path.write_text(f"networks:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=message) as caught:
        load_network_file(path)
    assert caught.value.field == field and "aggregate." not in str(caught.value)


# --- warnings --------------------------------------------------------------------------------------------------------

def _package_modules() -> list[object]:
    modules = [rooflinekit]
    for info in pkgutil.walk_packages(rooflinekit.__path__, "rooflinekit."):
        try:
            modules.append(importlib.import_module(info.name))
        except ImportError:  # an optional extra (onnx, tflite, matplotlib) is not installed
            continue
    return modules


def test_every_warning_class_derives_from_rooflinewarning():
    found = {obj for module in _package_modules() for _, obj in inspect.getmembers(module, inspect.isclass)
             if issubclass(obj, Warning) and obj.__module__.startswith("rooflinekit")}
    assert {"UnsupportedOpWarning", "CalibrationWarning"} <= {cls.__name__ for cls in found}
    offenders = sorted(cls.__qualname__ for cls in found if not issubclass(cls, RooflineWarning))
    assert offenders == [], f"warning classes not derived from RooflineWarning: {offenders}"
    assert issubclass(RooflineWarning, UserWarning)


def test_an_emitted_warning_is_a_rooflinewarning():
    from rooflinekit.counters import count_network

    network = LayerNetwork(name="n", layers=[RELU | {"op": "no_such_op"}], source="s")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        count_network(network)
    assert caught and all(issubclass(w.category, RooflineWarning) for w in caught)


# --- packaging ---------------------------------------------------------------------------------------------------------

def test_package_is_marked_typed():
    assert (Path(rooflinekit.__file__).parent / "py.typed").is_file()
