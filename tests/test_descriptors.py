import json
import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from rooflinekit.descriptors import (AggregateNetwork, DType, HardwareSpec, Layer, LayerNetwork, NetworkSpec, Precision,
                                     TensorSpec)
from rooflinekit.descriptors.attrs import frozen_attrs
from rooflinekit.errors import PrecisionError, SpecError
from strategies import aggregate_networks, hardware_specs, layer_networks

MEMORY = {"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "19.2 GB/s", "source": "datasheet"}


def hardware(**overrides) -> HardwareSpec:
    fields = {"name": "board", "kind": "FPGA", "peak_ops_per_s": {"INT8": "4.6 TOPS"}, "memories": [MEMORY],
              "source": "datasheet"} | overrides
    return HardwareSpec.model_validate(fields)


def test_hardware_parses_units_and_dtypes():
    spec = hardware()
    assert spec.peak(DType.INT8) == 4.6e12
    assert spec.memories[0].bandwidth_bytes_per_s == 19.2e9
    assert spec.peak("int8") == spec.peak("INT8")


bad_numbers = st.one_of(st.floats(max_value=0.0), st.just(math.inf), st.just(-math.inf), st.just(math.nan))


@given(bad_numbers)
def test_peak_rejects_non_positive_or_non_finite(value):
    with pytest.raises(SpecError, match="must be a positive finite number"):
        hardware(peak_ops_per_s={"int8": value})


@given(bad_numbers)
def test_memory_rejects_non_positive_or_non_finite(value):
    with pytest.raises(SpecError, match="must be a positive finite number"):
        hardware(memories=[MEMORY | {"bandwidth_bytes_per_s": value}])


@given(bad_numbers)
def test_aggregate_network_rejects_bad_totals(value):
    with pytest.raises(SpecError, match="must be a positive finite number"):
        AggregateNetwork(name="n", ops_per_frame=value, params=1, source="s")


def test_missing_dtype_is_precision_error():
    with pytest.raises(PrecisionError, match="board has no native fp16 peak; it supports int8"):
        hardware().peak("fp16")


def test_memory_must_hold_weights_and_activations():
    with pytest.raises(SpecError, match="no memory level stores activations"):
        hardware(memories=[MEMORY | {"stores": ["weights"]}])


def test_unknown_field_rejected():
    with pytest.raises(SpecError, match=r"^HardwareSpec 'board': flops: unknown field; remove it or check its "
                                        r"spelling \(the fields are name, "):
        hardware(flops=3)


def test_idle_power_above_tdp_rejected():
    with pytest.raises(SpecError, match="idle_power_w 20.0 exceeds tdp_w 15.0"):
        hardware(tdp_w="15 W", idle_power_w=20)


def test_duplicate_layer_names_rejected():
    layer = Layer(name="a", op="relu", inputs=((1, 4),), outputs=((1, 4),))
    with pytest.raises(SpecError, match="duplicate layer name 'a'"):
        LayerNetwork(name="n", layers=(layer, layer), source="s")


def test_shape_dims_positive():
    with pytest.raises(SpecError, match=r"shape dimensions must be positive integers, got \[1, 0\]"):
        Layer(name="a", op="relu", inputs=((1, 0),))


@pytest.mark.parametrize(
    ("text", "weights", "activations", "compute"),
    [("int8", "int8", "int8", "int8"), ("W-int8_A-float32", "int8", "fp32", "fp32"), ("w4a8", "int4", "int8", "int8"),
     ("INT2", "int2", "int2", "int2"), ("w16a16", "int16", "int16", "int16")],
)
def test_precision_parse(text, weights, activations, compute):
    precision = Precision.parse(text)
    assert (precision.weights.value, precision.activations.value, precision.compute.value) == (
        weights, activations, compute)


@pytest.mark.parametrize(("text", "shown"), [("int8", "int8"), ("w4a8", "W-int4_A-int8"), ("W-int8_A-float32", "W-int8_A-fp32"), ("FP16", "fp16")])
def test_a_precision_prints_as_its_label_not_as_enum_members(text, shown):
    # was: 'weights=<DType.INT4: 'int4'> activations=<DType.FP16: 'fp16'>' in f-strings and messages
    assert str(Precision.parse(text)) == f"{Precision.parse(text)}" == shown


def test_precision_tie_prefers_float():
    assert Precision(weights="int16", activations="fp16").compute is DType.FP16


def test_unknown_precision_message():
    with pytest.raises(PrecisionError, match=r"unknown precision 'int3'; write a data type"):
        Precision.parse("int3")


def test_unknown_dtype_message():
    with pytest.raises(PrecisionError, match=r"unknown data type 'int3'; use one of int1, int2"):
        DType.parse("int3")


@given(hardware_specs())
def test_hardware_round_trips_json_and_yaml(spec):
    assert HardwareSpec.model_validate_json(spec.model_dump_json()) == spec
    assert HardwareSpec.model_validate(yaml.safe_load(yaml.safe_dump(spec.model_dump(mode="json")))) == spec


@given(hardware_specs(), st.integers(2, 64), st.none() | st.sampled_from(["A100-SXM4-80GB", "H100-SXM5-80GB"]))
def test_a_system_with_a_member_round_trips_json_and_yaml(spec, devices, member):
    link = {"name": "NVLink", "devices": devices, "bandwidth_bytes_per_s": "450 GB/s", "latency_s": "1 us",
            "source": "test", "member": member}
    system = spec.model_copy(update={"interconnect": link})
    assert system.interconnect.member == member
    assert HardwareSpec.model_validate_json(system.model_dump_json()) == system
    assert HardwareSpec.model_validate(yaml.safe_load(yaml.safe_dump(system.model_dump(mode="json")))) == system
    assert HardwareSpec.model_validate(yaml.safe_load(yaml.safe_dump(system.model_dump(mode="json",
                                                                                       exclude_none=True)))) == system


@given(st.one_of(layer_networks(), aggregate_networks()))
def test_network_round_trips_json_and_yaml(network):
    adapter = TypeAdapter(NetworkSpec)
    assert adapter.validate_json(adapter.dump_json(network)) == network
    as_yaml = yaml.safe_dump(json.loads(adapter.dump_json(network)))
    assert adapter.validate_python(yaml.safe_load(as_yaml)) == network


def _typed_fields(**changes):
    """Layer fields with the exact types an importer builds (every field but ``state``)."""
    fields = {"name": "c", "op": "conv", "source_op": "Conv", "inputs": ((1, 3, 8, 8),), "outputs": ((1, 4, 8, 8),),
              "input_dtypes": (), "output_dtypes": (DType.INT32,), "input_names": ("x",), "output_names": ("y",),
              "attrs": {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)},
              "precision": Precision(weights="int8", activations="int8"),
              "weights": (TensorSpec(shape=(4, 3, 3, 3)), TensorSpec(shape=(4,), dtype="int32"))}
    return {**fields, **changes}


@pytest.mark.parametrize("changes", [{}, {"op": "relu", "attrs": {"alpha": [1, {"b": [2]}]}, "weights": ()},
                                     {"op": "fully_connected", "attrs": {}, "precision": None},
                                     {"op": "max_pool", "attrs": {"kernel_shape": (2, 2)}, "weights": ()}])
def test_from_typed_equals_validation(changes):
    fields = _typed_fields(**changes)
    built, validated = Layer.from_typed(dict(fields)), Layer.model_validate(dict(fields))
    assert built == validated and repr(built) == repr(validated)
    assert built.model_fields_set == validated.model_fields_set
    assert list(built.__dict__) == list(validated.__dict__)
    assert type(built.attrs) is type(validated.attrs) and built.attrs == validated.attrs
    assert built.model_dump_json() == validated.model_dump_json()
    with pytest.raises(TypeError):
        built.attrs["groups"] = 2  # read-only, as a validated layer's
    with pytest.raises(ValidationError):
        built.name = "d"  # frozen
    with pytest.raises(TypeError):
        hash(built)  # a dict field: unhashable, as a validated layer


def test_from_typed_reports_invalid_attrs_as_validation_does():
    fields = _typed_fields(attrs={"kernel_shape": (3, 3), "strides": (0, 1)})
    with pytest.raises(SpecError) as validated:
        Layer.model_validate(dict(fields))
    with pytest.raises(SpecError) as built:
        Layer.from_typed(dict(fields))
    assert str(built.value) == str(validated.value) and built.value.field == validated.value.field == "attrs"


def test_layers_built_from_typed_fields_share_their_fields_set_and_copies_do_not():
    first, second = Layer.from_typed(_typed_fields()), Layer.from_typed(_typed_fields(name="d"))
    assert first.model_fields_set is second.model_fields_set  # one set for many layers: memory
    copied = first.model_copy(update={"state": ()})  # pydantic adds "state" to the copy's set only
    assert "state" in copied.model_fields_set and "state" not in second.model_fields_set
    with pytest.raises(ValidationError):
        first.state = ()  # frozen: nothing adds to the shared set
    assert "state" not in first.model_fields_set


def test_normalized_attrs_are_returned_at_once_for_their_kind():
    normalized = frozen_attrs("conv", {"kernel_shape": [3, 3], "groups": 2, "bias": False})
    assert frozen_attrs("conv", normalized) is normalized
    assert frozen_attrs("conv", dict(normalized)) == normalized  # a copy: validated, same values
    with pytest.raises(SpecError, match="unknown attribute 'groups'"):  # another kind: validated again
        frozen_attrs("max_pool", normalized)
    layer = Layer.from_typed(_typed_fields(attrs=normalized, weights=()))
    assert layer.attrs is normalized and layer == Layer.model_validate(_typed_fields(attrs=normalized, weights=()))


def test_bounding_dtype_takes_the_fp32_peak_for_wide_integers_only():
    from rooflinekit.descriptors.hardware import bounding_dtype

    cpu = {DType.FP64, DType.FP32, DType.INT8}  # the Raspberry Pi 4's peaks
    assert bounding_dtype(DType.INT8, cpu) is DType.INT8  # native: itself
    assert bounding_dtype(DType.INT32, cpu) is DType.FP32
    assert bounding_dtype(DType.INT64, cpu) is DType.FP32  # fp32, not fp64: it bounds int64 as well
    assert bounding_dtype(DType.INT32, {DType.INT32, DType.FP32}) is DType.INT32
    assert bounding_dtype(DType.INT16, cpu) is None  # narrow integers run on other units (SIMD MACs)
    assert bounding_dtype(DType.FP16, cpu) is None
    assert bounding_dtype(DType.INT64, {DType.INT8, DType.FP16}) is None  # no fp32 lanes: no bound
